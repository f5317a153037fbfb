"""A study's summary: per run its budget, cost and held-out quality, the parity check, the probes' verdicts, the
training curves and a model card per run, at fixed paths under `<results_dir>`:

    summary.json, summary.md, training_curves.png, cards/<run>.md
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..analysis import results as results_io
from ..analysis.paper import PAPER
from ..analysis.significance import CLAIMS
from ..files import CONFIG_NAME, REPORT_NAME, RESULTS_NAME
from .runner import (
    SUMMARY_FILE,
    copy_training_records,
    is_complete,
    latest_step,
    measured,
    probe_models,
    reaches_end,
    read_json,
    walltime_records,
)
from .spec import CONTROL_NAME, Run, StudySpec

logger = logging.getLogger(__name__)

EVAL_KEYS = ("eval_mlm_loss", "eval_mlm_accuracy", "eval_jepa_loss")
# The band a balance at a 1:1 target must hold the MLM objective's share of the encoder's gradient in.
SHARE_BAND = (0.3, 0.7)
# The steps at which the summary tabulates a hybrid's MLM weight and gradient share (the last logged step too).
BALANCE_TABLE_FRACTIONS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def eval_curve(log_history: list[dict]) -> list[dict[str, float]]:
    """The held-out evaluations of a run's `log_history`: step and the `EVAL_KEYS` present."""
    return [
        {"step": h["step"], **{k: h[k] for k in EVAL_KEYS if k in h}}
        for h in log_history
        if any(k in h for k in EVAL_KEYS)
    ]


def share_statistics(
    share: list[tuple[int, float]], from_step: int, band: tuple[float, float] = SHARE_BAND
) -> dict[str, Any]:
    """Min, max, mean and the fraction inside `band` (bounds included) of the MLM gradient share over the logged
    `(step, share)` points at steps >= `from_step`; {} when there are none."""
    values = [v for s, v in share if s >= from_step]
    if not values:
        return {}
    inside = sum(band[0] <= v <= band[1] for v in values)
    return {
        "from_step": from_step,
        "points": len(values),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "mean": round(statistics.fmean(values), 4),
        "fraction_in_band": round(inside / len(values), 4),
        "band": list(band),
    }


def balance_record(log_history: list[dict], warmup_steps: int, max_steps: int) -> dict[str, Any]:
    """A hybrid's balance over training, from its training logs: the MLM weight `1 - s` (`s` the balance's JEPA
    weight, `balance_weight`) and the MLM share of the encoder's gradient (`grad_share_mlm`) at the logged steps
    nearest `BALANCE_TABLE_FRACTIONS` of `max_steps`, and the share's statistics after warm-up. {} for a run that
    logged neither (the MLM baseline)."""
    logs = [h for h in log_history if "loss" in h and "step" in h]
    weight = [(h["step"], 1.0 - h["balance_weight"]) for h in logs if "balance_weight" in h]
    share = [(h["step"], h["grad_share_mlm"]) for h in logs if "grad_share_mlm" in h]
    if not weight and not share:
        return {}
    steps = sorted({s for s, _ in weight} | {s for s, _ in share})
    wanted = sorted({min(steps, key=lambda s: abs(s - f * max_steps)) for f in BALANCE_TABLE_FRACTIONS})
    weights, shares = dict(weight), dict(share)
    return {
        "table": [
            {"step": s, "mlm_weight": _round(weights.get(s)), "grad_share_mlm": _round(shares.get(s))}
            for s in wanted
        ],
        "grad_share_mlm_after_warmup": share_statistics(share, warmup_steps),
    }


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def control_lifts(
    results: results_io.ProbeRun, runs: list[Run], task: str = "sst2", metric: str = "accuracy"
) -> list[dict[str, Any]]:
    """Each run against the random control of its own seed on `task`: per pooling the probe's paired difference
    (run minus control) with its 95 % interval (a pair the probe stored the other way round is reversed).
    Whether every seed of an arm learned something the untrained encoder does not already give."""
    from ..analysis.probe import reversed_comparison

    lifts = []
    for run in runs:
        control = f"{CONTROL_NAME}-seed{run.seed}"
        pair = results.comparisons_of(run.name, control) or [
            reversed_comparison(c) for c in results.comparisons_of(control, run.name)
        ]
        for c in pair:
            if c.task == task and c.metric == metric:
                rec = {"run": run.name, "control": control, "pooling": c.pooling, "diff": c.diff}
                rec |= {"ci_low": c.ci_low, "ci_high": c.ci_high, "task": task, "metric": metric}
                lifts.append({**rec, "excludes_zero": _excludes_zero(rec)})
    return lifts


def paper_cell(claim_name: str, by_cell: list[dict]) -> dict | None:
    """The cell of a claim to quote beside the paper: the first of the paper's reference cells the claim has
    (task, pooling, metric), else SST-2 mean pooling in the claim's first metric measured there, else the first
    measured cell."""
    claim = next(c for c in CLAIMS if c.name == claim_name)
    measured = [c for c in by_cell if c.get("diff") is not None]
    for (task, pooling), metrics in PAPER.reference.items():
        for metric in metrics:
            hit = [c for c in measured if (c["task"], c["pooling"], c["metric"]) == (task, pooling, metric)]
            if hit:
                return hit[0]
    for metric in claim.metrics:
        hit = [c for c in measured if (c["task"], c["pooling"], c["metric"]) == ("sst2", "mean", metric)]
        if hit:
            return hit[0]
    return measured[0] if measured else None


def paper_reference(claim_name: str) -> str:
    """The paper's own number for a claim, at its first reference cell: 'sst2 mean: -0.160 vs -0.052'."""
    claim = next(c for c in CLAIMS if c.name == claim_name)
    for (task, pooling), metrics in PAPER.reference.items():
        for metric, (hybrid, mlm) in metrics.items():
            if claim.covers(metric, pooling):
                return f"{task} {pooling} {metric}: {hybrid:g} vs {mlm:g}"
    return ""


def claim_summary(verdict: results_io.ClaimVerdict) -> dict[str, Any]:
    """A claim's verdict for the summary: its counts, the paper's number and our difference at that cell (the
    full cell list stays in the probe's results.json)."""
    rec = {k: v for k, v in asdict(verdict).items() if k != "by_cell"}
    return {
        **rec,
        "paper_reference": paper_reference(verdict.claim),
        "paper_cell": paper_cell(verdict.claim, verdict.by_cell or []),
    }


def _excludes_zero(rec: dict) -> bool:
    return rec["ci_low"] is not None and (rec["ci_low"] > 0 or rec["ci_high"] < 0)


def stage_walls(spec: StudySpec) -> dict[str, dict[str, Any]]:
    """Every stage's recorded processes from `walltime.jsonl`: total wall seconds, how many, and the machines
    (CPU, core count, torch threads, GPU) they ran on. Pre-training is one stage over all runs and sittings."""
    stages: dict[str, dict[str, Any]] = {}
    for rec in walltime_records(spec):
        st = stages.setdefault(rec["stage"], {"wall_seconds": 0.0, "processes": 0, "machines": []})
        st["wall_seconds"] = round(st["wall_seconds"] + rec["wall_seconds"], 1)
        st["processes"] += 1
        m = rec.get("machine") or {}
        desc = ", ".join(
            str(x)
            for x in (
                m.get("gpu") or m.get("cpu_model") or m.get("processor"),
                m.get("cpu_count") and f"{m['cpu_count']} cores",
                m.get("torch_threads") and f"{m['torch_threads']} torch threads",
            )
            if x
        )
        if desc not in st["machines"]:
            st["machines"].append(desc)
    return stages


def wall_seconds(spec: StudySpec) -> dict[str, float]:
    """Pre-training wall time of each run over all its processes (sittings), from `walltime.jsonl`.

    A process that started a run from step 0 again (its checkpoints were lost, say with the machine) begins the
    run's count anew: the wall time is that of the processes that made the run's model. The stage totals
    (`stage_walls`) keep every process, the lost ones too."""
    total: dict[str, float] = defaultdict(float)
    for rec in walltime_records(spec):
        if rec.get("stage") == "pretrain":
            if rec.get("from_step") == 0:
                total[rec["run"]] = 0.0
            total[rec["run"]] += rec["wall_seconds"]
    return dict(total)


def weights_state(spec: StudySpec, run: Run) -> str:
    """Where the run's weights are: 'export' (its finished export), 'checkpoint-N' (its newest complete
    checkpoint), 'absent, measured' (finished and measured by every probe; the records suffice), or 'absent'
    (records of an attempt whose weights were lost: the runner trains the run again, so its row is not a result)."""
    if is_complete(run):
        return "export"
    step = latest_step(run)
    if step:
        return f"checkpoint-{step}"
    return "absent, measured" if measured(spec, run) else "absent"


def lost_attempts(spec: StudySpec, run: Run) -> list[dict[str, Any]]:
    """The earlier attempts at `run` whose checkpoints were lost (`runner.set_aside_lost_records`), in order: the
    attempt's number, its last recorded step and held-out MLM CE, and where its records are."""
    folder = spec.results_dir / "training" / run.name / "lost_attempts"
    attempts = (
        sorted(folder.glob("attempt-*"), key=lambda d: int(d.name.rsplit("-", 1)[1]))
        if folder.is_dir()
        else []
    )
    out = []
    for d in attempts:
        state = read_json(d / "trainer_state.json") or {}
        curve = eval_curve(state.get("log_history", []))
        out.append(
            {
                "attempt": int(d.name.rsplit("-", 1)[1]),
                "steps": state.get("global_step"),
                "final_eval_mlm_loss": curve[-1].get("eval_mlm_loss") if curve else None,
                "records": str(d.relative_to(spec.results_dir)),
            }
        )
    return out


def run_record(spec: StudySpec, run: Run, walls: dict[str, float]) -> dict[str, Any]:
    records = spec.results_dir / "training" / run.name
    summary = read_json(records / SUMMARY_FILE) or {}
    state = read_json(records / "trainer_state.json") or {}
    curve = eval_curve(state.get("log_history", []))
    tokens_per_step = (
        run.config.get("per_device_train_batch_size", 8)
        * run.config.get("gradient_accumulation_steps", 1)
        * spec.num_processes
        * run.config.get("max_seq_length", 128)
    )
    last = curve[-1] if curve else {}
    # A run stopped before its end has no summary yet: its newest checkpoint's trainer state says how far it got.
    steps = summary.get("steps", state.get("global_step"))
    tokens = summary.get("tokens_seen", None if steps is None else steps * tokens_per_step)
    balance = balance_record(state.get("log_history", []), run.config.get("warmup_steps", 0), run.max_steps)
    return {
        "run": run.name,
        "arm": run.arm,
        "seed": run.seed,
        "complete": reaches_end(summary, run),
        "weights": weights_state(spec, run),
        "steps": steps,
        "max_steps": run.max_steps,
        "tokens": tokens,
        "tokens_per_step": tokens_per_step,
        "estimated_train_flops": summary.get("estimated_train_flops"),
        "wall_seconds": round(walls.get(run.name, 0.0), 1),
        **{f"final_{k}": last.get(k) for k in EVAL_KEYS if k in last},
        "balance": balance,
        "eval_curve": curve,
        "lost_attempts": lost_attempts(spec, run),
    }


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _fmt(x: Any, spec: str = ".3f") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def plot_training_curves(spec: StudySpec, runs: list[dict], path: Path) -> None:
    """Held-out masked-token cross-entropy against tokens and against wall time, one colour per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    arms = list(spec.arms)
    colors = {a: plt.get_cmap("tab10")(i % 10) for i, a in enumerate(arms)}
    labelled = set()
    for rec in runs:
        points = [p for p in rec["eval_curve"] if "eval_mlm_loss" in p]
        if not points:
            continue
        steps = [p["step"] for p in points]
        loss = [p["eval_mlm_loss"] for p in points]
        tokens = [s * rec["tokens_per_step"] / 1e6 for s in steps]
        per_step = rec["wall_seconds"] / rec["steps"] if rec.get("steps") else None
        label = rec["arm"] if rec["arm"] not in labelled else None
        labelled.add(rec["arm"])
        axes[0].plot(tokens, loss, color=colors[rec["arm"]], label=label, lw=1.5)
        if per_step:
            axes[1].plot([s * per_step / 3600 for s in steps], loss, color=colors[rec["arm"]], lw=1.5)
    axes[0].set_xlabel("tokens (millions)")
    axes[1].set_xlabel("wall time (hours, as recorded)")
    axes[0].set_ylabel("held-out masked-token cross-entropy")
    for ax in axes:
        ax.grid(alpha=0.3)
    if labelled:
        axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"study {spec.name}: held-out MLM cross-entropy", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


TRAJECTORY_PANELS = (
    ("losses", ("mlm_loss", "jepa_loss")),
    ("JEPA weight s of the balance", ("balance_weight",)),
    ("MLM share of the encoder's gradient", ("grad_share_mlm",)),
)


def plot_trajectories(spec: StudySpec, path: Path) -> bool:
    """Training trajectories of every run, one column per quantity (both losses; the balance's JEPA weight `s`;
    the MLM objective's share of the gradient at the encoder), one colour per arm, seeds as separate lines.

    Returns False (and writes nothing) when no run logged any of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = spec.runs()
    logs = {}
    for run in runs:
        state = read_json(spec.results_dir / "training" / run.name / "trainer_state.json") or {}
        logs[run.name] = [h for h in state.get("log_history", []) if "loss" in h]
    panels = [
        (t, keys)
        for t, keys in TRAJECTORY_PANELS
        if any(k in h for hs in logs.values() for h in hs for k in keys)
    ]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    colors = {a: plt.get_cmap("tab10")(i % 10) for i, a in enumerate(spec.arms)}
    styles = {"mlm_loss": "-", "jepa_loss": "--"}
    for ax, (title, keys) in zip(axes[0], panels):
        labelled = set()
        for run in runs:
            history = logs[run.name]
            for key in keys:
                points = [(h["step"], h[key]) for h in history if key in h]
                if not points:
                    continue
                label = f"{run.arm} {key}" if len(keys) > 1 else run.arm
                ax.plot(
                    *zip(*points),
                    color=colors[run.arm],
                    ls=styles.get(key, "-"),
                    lw=1.2,
                    label=label if label not in labelled else None,
                )
                labelled.add(label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("optimizer step")
        if keys != ("mlm_loss", "jepa_loss"):
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if labelled:
            ax.legend(frameon=False, fontsize=7)
    fig.suptitle(f"study {spec.name}: training trajectories", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True


def write_cards(spec: StudySpec) -> list[str]:
    """A model card per run (and control) from its records and the first probe's results, copied to cards/.

    The card is written into the export folder (the README the Hub shows) when the export is there; a run whose
    export is gone gets its card from the copies of its records under `<results_dir>/training/<run>/`."""
    from ..publishing.cards import render_card, validate_card, write_model_card

    results = None
    for name in spec.probes:
        path = spec.results_dir / f"probe_{name}" / RESULTS_NAME
        if path.is_file():
            results = path
            break
    written = []
    (spec.results_dir / "cards").mkdir(parents=True, exist_ok=True)
    for name, folder, _ in probe_models(spec):
        records = spec.results_dir / "training" / name
        try:
            if (folder / CONFIG_NAME).is_file():
                text = write_model_card(folder, probe_results=results, model_name=name).read_text()
            elif (records / CONFIG_NAME).is_file():
                text = render_card(records, probe_results=results, model_name=name)
                validate_card(text)
            else:
                continue
        except (TypeError, ValueError) as err:  # an export the probe did not cover, or an older card API
            logger.warning("no card for %s: %s", name, err)
            continue
        target = spec.results_dir / "cards" / f"{name}.md"
        target.write_text(text)
        written.append(str(target.relative_to(spec.results_dir)))
    return written


def write_summary(spec: StudySpec) -> dict[str, Any]:
    """Write `summary.json`, `summary.md`, `training_curves.png` and the cards; return the summary. The records of
    every run with a folder in `runs_dir` are brought up to date first (a run still training reports its newest
    complete checkpoint)."""
    walls = wall_seconds(spec)
    for run in spec.runs():
        if run.output_dir.is_dir():  # a run training now or stopped: the curve of its newest checkpoint
            copy_training_records(spec, run)
    runs = [run_record(spec, r, walls) for r in spec.runs()]
    by_arm: dict[str, list[dict]] = defaultdict(list)
    for rec in runs:
        by_arm[rec["arm"]].append(rec)
    arms = {}
    for arm, recs in by_arm.items():
        # neither a run still training nor the records of a lost attempt are a result: the arm's mean is over
        # the runs that reached their last step and whose model exists (or was measured)
        mean, sd = _mean_sd(
            [r.get("final_eval_mlm_loss") for r in recs if r["complete"] and r["weights"] != "absent"]
        )
        arms[arm] = {
            "seeds": [r["seed"] for r in recs],
            "complete": all(r["complete"] for r in recs),
            "final_eval_mlm_loss_mean": mean,
            "final_eval_mlm_loss_sd": sd,
            "wall_seconds_total": round(sum(r["wall_seconds"] for r in recs), 1),
        }
    parity = read_json(spec.results_dir / "parity.json")
    probes = {}
    for name in spec.probes:
        path = spec.results_dir / f"probe_{name}" / RESULTS_NAME
        if path.is_file():
            results = results_io.load(path)
            probes[name] = {
                "report": f"probe_{name}/{REPORT_NAME}",
                # assembled with `--measured_only` while runs were unfinished: the models it does not cover
                "missing_models": [n for n, _, _ in probe_models(spec) if n not in results.models],
                "claims": [claim_summary(c) for c in results.claims],
                "control_lifts": control_lifts(results, spec.runs()),
            }
    summary = {
        "study": spec.name,
        "description": spec.description,
        "seeds": spec.seeds,
        "budget": spec.budget,
        "arms": arms,
        "runs": runs,
        "parity_passed": None if parity is None else parity["passed"],
        "stages": stage_walls(spec),
        "probes": probes,
    }
    summary["plots"] = []
    if any(r["eval_curve"] for r in runs):
        plot_training_curves(spec, runs, spec.results_dir / "training_curves.png")
        summary["plots"].append("training_curves.png")
    if plot_trajectories(spec, spec.results_dir / "trajectories.png"):
        summary["plots"].append("trajectories.png")
    summary["cards"] = write_cards(spec)
    (spec.results_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (spec.results_dir / "summary.md").write_text(summary_markdown(summary))
    return summary


def summary_markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown tables (what `summary.json` holds, without the curves)."""
    lines = [f"# Study `{summary['study']}`", ""]
    if summary["description"]:
        lines += [summary["description"], ""]
    lines += [f"Seeds: {summary['seeds']}; budget: {summary['budget']}.", ""]
    lines += [
        "Weights: where the run's model is now ('absent, measured': gone, but measured by every probe); 'absent' "
        "marks a run with neither model nor checkpoint here (the runner trains it again from step 0, setting the "
        "lost attempt's records aside), so that row is not a result.",
        "",
        "| run | steps | tokens | est. FLOPs | wall time (s) | held-out MLM CE | held-out top-1 | weights |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in summary["runs"]:
        steps = f"{r['steps']}/{r['max_steps']}" if r["steps"] is not None else f"0/{r['max_steps']}"
        lines.append(
            f"| {r['run']} | {steps} | {_fmt(r['tokens'])} | {_fmt(r['estimated_train_flops'], '.3g')} | "
            f"{_fmt(r['wall_seconds'], '.0f')} | {_fmt(r.get('final_eval_mlm_loss'))} | "
            f"{_fmt(r.get('final_eval_mlm_accuracy'))} | {r.get('weights', '-')} |"
        )
    lost = [(r["run"], a) for r in summary["runs"] for a in r.get("lost_attempts", [])]
    if lost:
        lines += [
            "",
            "Lost attempts: earlier attempts whose checkpoints or weights were lost with a machine, their records "
            "kept under `training/<run>/lost_attempts/`; not results.",
            "",
            "| run | attempt | steps | held-out MLM CE | records |",
            "|---|---:|---:|---:|---|",
        ]
        lines += [
            f"| {run} | {a['attempt']} | {_fmt(a['steps'])} | {_fmt(a['final_eval_mlm_loss'])} | {a['records']} |"
            for run, a in lost
        ]
    lines += ["", "| arm | seeds | complete | held-out MLM CE, mean (sd over seeds) |", "|---|---|---|---|"]
    for arm, a in summary["arms"].items():
        sd = f" ({_fmt(a['final_eval_mlm_loss_sd'])})" if a["final_eval_mlm_loss_sd"] is not None else ""
        lines.append(
            f"| {arm} | {a['seeds']} | {a['complete']} | {_fmt(a['final_eval_mlm_loss_mean'])}{sd} |"
        )
    lines += _balance_markdown(summary["runs"])
    parity = summary["parity_passed"]
    lines += [
        "",
        f"Data-order parity: {'not checked' if parity is None else ('passed' if parity else 'FAILED')} "
        "(parity.json).",
        "",
    ]
    if summary.get("stages"):
        lines += ["| stage | processes | wall time (h) | machines |", "|---|---:|---:|---|"]
        for stage, st in summary["stages"].items():
            lines.append(
                f"| {stage} | {st['processes']} | {st['wall_seconds'] / 3600:.2f} | {'; '.join(st['machines'])} |"
            )
        lines.append("")
    for name, probe in summary["probes"].items():
        lines += [f"## Probe `{name}` ([report]({probe['report']}))", ""]
        if probe.get("missing_models"):
            lines += [
                "Assembled over the models measured so far (`--measured_only`), not the study's verdict; "
                f"not measured: {', '.join(probe['missing_models'])}.",
                "",
            ]
        claims = probe.get("claims") or []
        if claims:
            lines += [
                "| claim | the paper | models (seeds) | ours at the paper's cell: a - b [95 % interval] | "
                "informative cells | verdict | evidence |",
                "|---|---|---|---|---:|---|---|",
            ]
            for c in claims:
                seeds = c.get("seeds") or [None, None]
                cells = "-" if c.get("cells") is None else f"{c.get('informative')}/{c.get('cells')}"
                paper = "; ".join(x for x in (c.get("paper", ""), c.get("paper_reference")) if x)
                lines.append(
                    f"| {c.get('claim')} | {paper} | {c.get('model_a')} ({_fmt(seeds[0])}) vs "
                    f"{c.get('model_b')} ({_fmt(seeds[1])}) | {_cell_text(c.get('paper_cell'))} | {cells} | "
                    f"{c.get('verdict')} | {c.get('evidence', '')} |"
                )
            lines.append("")
    for name, probe in summary["probes"].items():
        lifts = probe.get("control_lifts") or []
        if lifts:
            task, metric = lifts[0]["task"], lifts[0]["metric"]
            lines += [
                f"Probe `{name}`, each run against the random control of its seed ({task} {metric}, run minus "
                "control, 95 % interval):",
                "",
                "| run | control | pooling | difference | 95 % interval |",
                "|---|---|---|---:|---|",
            ]
            for x in lifts:
                lines.append(
                    f"| {x['run']} | {x['control']} | {x['pooling']} | {_fmt(x['diff'], '+.3f')} | "
                    f"[{_fmt(x['ci_low'], '+.3f')}, {_fmt(x['ci_high'], '+.3f')}] |"
                )
            lines.append("")
    for plot in summary.get("plots", []):
        lines += [f"![{Path(plot).stem.replace('_', ' ')}]({plot})", ""]
    if summary.get("cards"):
        lines += ["Model cards: " + ", ".join(f"[{Path(c).stem}]({c})" for c in summary["cards"]), ""]
    return "\n".join(lines)


def _cell_text(cell: dict | None) -> str:
    """'sst2 mean uniformity: -0.403 [-0.438, -0.364] *' (* significant after Holm), or '-'."""
    if not cell:
        return "-"
    star = " *" if cell.get("significant") else ""
    return (
        f"{cell['task']} {cell['pooling']} {cell['metric']}: {_fmt(cell['diff'], '+.3f')} "
        f"[{_fmt(cell.get('ci_low'), '+.3f')}, {_fmt(cell.get('ci_high'), '+.3f')}]{star}"
    )


def _balance_markdown(runs: list[dict]) -> list[str]:
    """Per hybrid run: the MLM weight and gradient share at a few steps, and the share's range after warm-up."""
    hybrids = [r for r in runs if r.get("balance")]
    if not hybrids:
        return []
    lines = [
        "",
        "Balance over training: the MLM weight `1 - s` and the MLM objective's share of the encoder's gradient "
        f"(`grad_share_mlm`) at logged steps; after warm-up, the share's range and the fraction of logging windows "
        f"inside {SHARE_BAND[0]:.0%}-{SHARE_BAND[1]:.0%}.",
        "",
        "| run | MLM weight / gradient share at step ... | share after warm-up: min-max (mean) | in band |",
        "|---|---|---|---:|",
    ]
    for r in hybrids:
        points = "; ".join(
            f"{p['step']}: {_fmt(p['mlm_weight'], '.3g')} / {_fmt(p['grad_share_mlm'], '.3g')}"
            for p in r["balance"]["table"]
        )
        st = r["balance"]["grad_share_mlm_after_warmup"]
        span = f"{st['min']:.3f}-{st['max']:.3f} ({st['mean']:.3f})" if st else "-"
        band = f"{st['fraction_in_band']:.0%}" if st else "-"
        lines.append(f"| {r['run']} | {points} | {span} | {band} |")
    return lines
