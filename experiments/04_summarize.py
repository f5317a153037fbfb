"""Step 4 (issue 10): collect the training records and both probe reports into experiments/results/SUMMARY.md
(and a trajectory plot), the tables the README's Results section quotes.

    python experiments/04_summarize.py                                  # experiments/results (the final budget)
    python experiments/04_summarize.py experiments/results/stage1_6m    # an earlier stage's run

The arms were trained in stages, each resumed from the last checkpoint of the one before with the schedule
recomputed for the longer run (10_continue.sh, 11_continue_12k.sh, 16_continue_24k.sh). An earlier stage's
records are in a sibling folder `stage<k>_<tokens>/training/` (`<arm>_training_summary.json`,
`<arm>_walltime.json` or `.jsonl`, one line per process); every such folder with fewer tokens than RES is a
stage of RES, and the training table gives the wall time and throughput of each. Earlier budgets that were
probed (a stage folder, or the MLM arm alone: `mlm_12k/`, `mlm_24k/`) add columns to the budget tables.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modeling_jepa_mlm.analysis.significance import CLAIMS, claim_verdict  # noqa: E402

RUNS = REPO / "experiments" / "runs"
RES = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO / "experiments" / "results"
ARMS = ["hybrid", "mlm", "hybrid_shared"]
MODELS = ARMS + ["random_init"]
HEADLINE = {
    "sst2": "accuracy",
    "mrpc": "f1",
    "mnli": "accuracy",
    "cola": "matthews_correlation",
    "stsb": "spearmanr",
}
# DESIGN.md, "Reference numbers (the paper's own results)": task/pooling -> (unif hybrid, unif mlm, erank hybrid, erank mlm)
PAPER = {
    ("sst2", "mean"): (-0.160, -0.052, 241.7, 249.1),
    ("sst2", "max"): (-0.294, -0.090, 384.2, 364.1),
    ("mnli", "mean"): (-0.169, -0.063, 241.6, 245.1),
    ("cola", "max"): (-0.365, -0.098, 365.1, 330.1),
    ("stsb", "mean"): (-0.201, -0.067, 227.7, 235.3),
}


def f(x, nd=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}"


def cell(c, nd=3):
    if c is None or c.get("value") is None:
        return "n/a"
    if c.get("ci_low") is None:
        return f(c["value"], nd)
    return f"{f(c['value'], nd)} [{f(c['ci_low'], nd)}, {f(c['ci_high'], nd)}]"


def pval(p):
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else "<0.001"


def comp(res, a, b, task, pooling, metric):
    for c in res["comparisons"]:
        if (c["model_a"], c["model_b"], c["task"], c["pooling"], c["metric"]) == (
            a,
            b,
            task,
            pooling,
            metric,
        ):
            return c
    for c in res["comparisons"]:  # reversed pair: flip the sign
        if (c["model_a"], c["model_b"], c["task"], c["pooling"], c["metric"]) == (
            b,
            a,
            task,
            pooling,
            metric,
        ):
            return {
                **c,
                "diff": -c["diff"],
                "ci_low": -c["ci_high"],
                "ci_high": -c["ci_low"],
                "model_a": a,
                "model_b": b,
            }
    return None


def dcell(c, nd=3):
    if c is None or c.get("diff") is None:
        return "n/a"
    star = " *" if c.get("significant") else ""
    return (
        f"{c['diff']:+.{nd}f} [{c['ci_low']:+.{nd}f}, {c['ci_high']:+.{nd}f}] p={pval(c.get('p_holm'))}{star}"
    )


def load_json(p: Path):
    return json.loads(p.read_text()) if p.exists() else None


# resolved settings that only say where and how often a run writes, not what it trains
BOOKKEEPING = ("output_dir", "logging_dir", "run_name", "save_steps", "save_total_limit", "hub_model_id")
TOP = RES.parent if RES.name.startswith(("stage", "mlm_")) else RES


def mlm_tokens(d: Path) -> int | None:
    """Tokens per arm of the run whose records are in d/training (the MLM arm's, present in every run)."""
    s = load_json(d / "training" / "mlm_training_summary.json")
    return s["tokens_seen"] if s else None


def millions(tokens: int | None) -> str:
    return f"{tokens / 1e6:.1f} M" if tokens else "?"


FINAL_TOKENS = mlm_tokens(RES)
# RES's earlier training stages, in order, then RES itself
STAGES = sorted(
    (
        d
        for d in TOP.glob("stage*")
        if d != RES and FINAL_TOKENS and (mlm_tokens(d) or FINAL_TOKENS) < FINAL_TOKENS
    ),
    key=mlm_tokens,
) + [RES]


def records(stage: Path, arm: str) -> tuple[dict | None, list[dict]]:
    """An arm's training summary in one stage and the wall-time record of each process that trained it."""
    root = stage / "training"
    s = load_json(root / f"{arm}_training_summary.json")
    one = load_json(root / f"{arm}_walltime.json")
    many = root / f"{arm}_walltime.jsonl"
    lines = [json.loads(x) for x in many.read_text().splitlines() if x.strip()] if many.exists() else []
    return s, ([one] if one else []) + lines


def stage_row(arm: str, start: int, s: dict, walls: list[dict]) -> str:
    """| stage steps | schedule | threads | processes | wall s | tokens/s over it | Trainer tokens/s |"""
    tokens = (s["steps"] - start) * s["global_batch_size"] * s["sequence_length"]
    wall = sum(w["wall_seconds"] for w in walls)
    threads = "/".join(sorted({str(w.get("threads", 1)) for w in walls})) or "?"
    trainer = f"{s['tokens_per_second']:.0f}"
    if len(walls) > 1:
        trainer += f" (steps {s.get('resumed_from_step') or 0:,}-{s['steps']:,})"
    return (
        f"| {arm} | {start:,}-{s['steps']:,} | {s['steps']:,} | {threads} | {len(walls)} | "
        f"{wall:,} | {tokens / wall:.0f} | {trainer} |"
        if wall
        else f"| {arm} | {start:,}-{s['steps']:,} | {s['steps']:,} | {threads} | 0 | n/a | n/a | {trainer} |"
    )


def training_section(lines: list[str]) -> None:
    lines.append("## Training: budgets, parity, cost\n")
    rows, stage_rows, configs = [], [], {}
    for arm in ARMS:
        s, _ = records(RES, arm)
        cfgp = RES / "training" / f"{arm}_run_config.yaml"
        configs[arm] = yaml.safe_load(cfgp.read_text()) if cfgp.exists() else None
        if s is None:
            rows.append(f"| {arm} | not finished |")
            continue
        total, start = 0, 0
        for stage in STAGES:
            ss, walls = records(stage, arm)
            if ss is None:
                stage_rows.append(f"| {arm} | {stage.name}: no records |")
                continue
            stage_rows.append(stage_row(arm, start, ss, walls))
            total += sum(w["wall_seconds"] for w in walls)
            start = ss["steps"]
        traj = s["trajectory"]
        last = lambda k, traj=traj: traj[k][-1][1] if traj.get(k) else None  # noqa: E731
        rows.append(
            f"| {arm} | {s['steps']:,} | {s['global_batch_size']} x {s['sequence_length']} | {s['tokens_seen']:,} | "
            f"{s['estimated_train_flops']:.3g} | {total:,} | "
            f"{f(last('mlm_loss'))} | {f(last('jepa_loss'))} | {f(last('balance_weight'))} |"
        )
    if len(STAGES) > 1:
        lines.append(
            f"{len(STAGES)} stages per arm, the same for every arm: steps 0-{records(STAGES[0], 'mlm')[0]['steps']:,} "
            "on a linear schedule of that length (`01_pretrain.sh`, the three arms side by side, one thread each), "
            "then each stage resumed from the last checkpoint of the one before with the schedule recomputed for "
            "its own end (`10_continue.sh` and the scripts that call it): optimizer, EMA target and balance scalar "
            "restored, the data read on where it stopped.\n"
        )
    lines += [
        "| arm | steps | batch x seq | tokens | est. train FLOPs | wall s, all processes (incl. load/export) | last mlm_loss | last jepa_loss | last balance s |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Cost of each stage: the wall time of every process that trained it (start-up, the resume's data skip and "
        "the export included; a stage cut short and resumed has several), the stage's tokens over that time, and "
        "the Trainer's own throughput of the last process. Throughputs compare only at the same thread count "
        "(`threads`: one process per arm side by side with one thread each, or an arm alone with two).\n",
        "| arm | steps | schedule (steps) | threads | processes | wall s | tokens/s over the wall time | Trainer tokens/s (last process) |",
        "|---|---|---|---|---|---|---|---|",
        *stage_rows,
        "",
    ]
    # parity check of the resolved configurations
    present = {a: c for a, c in configs.items() if c}
    if len(present) >= 2:

        def flat(d, prefix=""):
            out = {}
            for k, v in d.items():
                if isinstance(v, dict):
                    out.update(flat(v, f"{prefix}{k}."))
                else:
                    out[f"{prefix}{k}"] = v
            return out

        flats = {a: flat(c) for a, c in present.items()}
        keys = sorted(set().union(*flats.values()))
        differ = [
            k
            for k in keys
            if len({json.dumps(fl.get(k), sort_keys=True, default=str) for fl in flats.values()}) > 1
        ]
        if not differ:
            lines.append(
                f"Parity: all {len(keys)} resolved settings of the arms' `run_config.yaml` are identical.\n"
            )
            return
        training = [k for k in differ if k not in BOOKKEEPING]
        books = [k for k in differ if k in BOOKKEEPING]
        lines.append(
            "Parity (from each arm's resolved `run_config.yaml`): the arms differ only in "
            + ", ".join(f"`{k}`" for k in training)
            + (
                " and in where and how often they write (" + ", ".join(f"`{k}`" for k in books) + ")"
                if books
                else ""
            )
            + f"; every other of the {len(keys)} resolved settings (data, tokenizer, seed/data order, steps, batch, "
            "sequence length, optimizer, schedule, precision) is identical.\n"
        )
        lines.append("| arm | " + " | ".join(f"`{k}`" for k in differ) + " |")
        lines.append("|---|" + "---|" * len(differ))
        for a, fl in flats.items():
            lines.append(f"| {a} | " + " | ".join(str(fl.get(k)) for k in differ) + " |")
        lines.append("")


def trajectory_section(lines: list[str]) -> None:
    lines.append("## Balance weight and losses during training\n")
    lines.append(
        "`s = sigmoid(w)` is the weight of the JEPA loss (`L = s L_jepa + (1 - s) L_mlm`), 0.5 at step 0.\n"
    )
    sums = {a: load_json(RES / "training" / f"{a}_training_summary.json") for a in ARMS}
    logged = sorted({int(st) for s in sums.values() if s for st, _ in s["trajectory"].get("mlm_loss", [])})
    steps = [logged[round(i * (len(logged) - 1) / 9)] for i in range(10)] if len(logged) >= 10 else logged
    head = "| arm | quantity | " + " | ".join(f"step {s}" for s in steps) + " |"
    lines += [head, "|---|---|" + "---|" * len(steps)]
    for a, s in sums.items():
        if s is None:
            continue
        for key in ("balance_weight", "jepa_loss", "mlm_loss", "target_std", "prediction_std"):
            tr = dict((int(st), v) for st, v in s["trajectory"].get(key, []))
            if not tr:
                continue
            lines.append(
                f"| {a} | {key} | "
                + " | ".join(f(tr.get(st), 4 if key == "balance_weight" else 3) for st in steps)
                + " |"
            )
    lines.append("\n![trajectories](training/trajectories.png)\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
        for a, s in sums.items():
            if s is None:
                continue
            for ax, key in zip(axes, ("balance_weight", "mlm_loss", "jepa_loss", "target_std")):
                tr = s["trajectory"].get(key, [])
                if tr:
                    color = {"hybrid": "tab:blue", "mlm": "tab:orange", "hybrid_shared": "tab:green"}[a]
                    ax.plot([t[0] for t in tr], [t[1] for t in tr], label=a, color=color)
                    ax.set_title(key)
                    ax.set_xlabel("step")
        for ax in axes:
            ax.legend(fontsize=8)
        fig.tight_layout()
        (RES / "training").mkdir(parents=True, exist_ok=True)
        fig.savefig(RES / "training" / "trajectories.png", dpi=90)
        plt.close(fig)
    except Exception as e:  # noqa: BLE001
        lines.append(f"(plot failed: {e})\n")


def claims_section(lines: list[str], res: dict, protocol: str) -> None:
    lines.append(
        f"### Claims, protocol `{protocol}` (first model vs second; Holm-corrected over task x pooling cells)\n"
    )
    lines += ["| claim | A vs B | verdict | evidence |", "|---|---|---|---|"]
    for c in all_claims(res):
        lines.append(
            f"| {c['claim']} | {c['model_a']} vs {c['model_b']} | **{c['verdict']}** | {c.get('evidence', '')} |"
        )
    lines.append("")


def paper_numbers(lines: list[str], res: dict) -> None:
    lines.append("### The paper's reference cells (protocol `paper`): paper vs ours\n")
    lines += [
        "| task / pooling | metric | paper hybrid | paper MLM | ours hybrid [95% CI] | ours MLM [95% CI] | ours hybrid - MLM [CI] Holm p | direction as paper? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    R = res["results"]
    if "hybrid" not in R or "mlm" not in R:
        lines.append("(needs the hybrid and MLM arms)\n")
        return
    for (task, pooling), (uh, um, eh, em) in PAPER.items():
        if pooling not in res["poolings"] or task not in res["tasks"]:
            continue
        for metric, ph, pm in (("uniformity", uh, um), ("effective_rank", eh, em)):
            c = comp(res, "hybrid", "mlm", task, pooling, metric)
            same = "n/a"
            if c and c.get("diff") is not None:
                sign_paper = math.copysign(1, ph - pm)
                if c.get("significant"):
                    same = (
                        "yes"
                        if math.copysign(1, c["diff"]) == sign_paper
                        else "**no (opposite, significant)**"
                    )
                else:
                    same = "not significant"
            nd = 3 if metric == "uniformity" else 1
            lines.append(
                f"| {task} {pooling} | {metric} | {f(ph, nd)} | {f(pm, nd)} | {cell(R['hybrid'][task][pooling].get(metric), nd)} | "
                f"{cell(R['mlm'][task][pooling].get(metric), nd)} | {dcell(c, nd)} | {same} |"
            )
    lines.append("")


def grid(
    lines: list[str], res: dict, metric: str, title: str, poolings=None, nd=3, pairs=(("hybrid", "mlm"),)
) -> None:
    lines.append(f"#### {title}\n")
    poolings = poolings or res["poolings"]
    models = [m for m in MODELS if m in res["results"]]
    head = (
        "| task | pooling | " + " | ".join(models) + " | " + " | ".join(f"{a} - {b}" for a, b in pairs) + " |"
    )
    lines += [head, "|---|---|" + "---|" * (len(models) + len(pairs))]
    R = res["results"]
    for task in res["tasks"]:
        for pooling in poolings:
            if metric not in R[models[0]][task][pooling]:
                continue
            vals = [cell(R[m][task][pooling].get(metric), nd) for m in models]
            ds = [dcell(comp(res, a, b, task, pooling, metric), nd) for a, b in pairs]
            lines.append(f"| {task} | {pooling} | " + " | ".join(vals) + " | " + " | ".join(ds) + " |")
    lines.append("")


def headline_grid(lines: list[str], res: dict) -> None:
    lines.append(
        "#### Downstream linear probes (headline GLUE metric on the validation sample; * = Holm p < 0.05)\n"
    )
    pairs = (
        ("hybrid", "mlm"),
        ("mlm", "random_init"),
        ("hybrid", "random_init"),
        ("hybrid_shared", "random_init"),
    )
    models = [m for m in MODELS if m in res["results"]]
    head = (
        "| task (metric) | pooling | "
        + " | ".join(models)
        + " | "
        + " | ".join(f"{a} - {b}" for a, b in pairs)
        + " |"
    )
    lines += [head, "|---|---|" + "---|" * (len(models) + len(pairs))]
    R = res["results"]
    for task in res["tasks"]:
        metric = HEADLINE[task]
        for pooling in res["poolings"]:
            vals = [cell(R[m][task][pooling].get(metric)) for m in models]
            ds = [dcell(comp(res, a, b, task, pooling, metric)) for a, b in pairs]
            lines.append(
                f"| {task} ({metric}) | {pooling} | " + " | ".join(vals) + " | " + " | ".join(ds) + " |"
            )
    lines.append("")


def probe_section(lines: list[str], protocol: str) -> None:
    res = load_json(RES / f"probe_{protocol}" / "results.json")
    lines.append(f"## Probe, protocol `{protocol}`\n")
    if res is None:
        lines.append("not run\n")
        return
    n = res["n_examples"]
    lines.append(
        "Samples: "
        + ", ".join(f"{t} {v['train']} train / {v['eval']} {v['eval_split']}" for t, v in n.items())
        + f". Poolings: {', '.join(res['poolings'])}. Full report: [probe_{protocol}/report.md](probe_{protocol}/report.md).\n"
    )
    claims_section(lines, res, protocol)
    if protocol == "paper":
        paper_numbers(lines, res)
    grid(lines, res, "uniformity", "Uniformity (lower = more uniform), every task x pooling")
    grid(
        lines,
        res,
        "effective_rank",
        "Effective rank under max pooling",
        poolings=["max"],
        nd=1,
        pairs=(("hybrid", "mlm"), ("hybrid_shared", "mlm"), ("mlm", "random_init")),
    )
    grid(
        lines,
        res,
        "token_probe_acc",
        "Lexical: token probe accuracy (lower = less lexical information)",
        pairs=(("hybrid", "mlm"), ("mlm", "random_init")),
    )
    grid(
        lines,
        res,
        "bow_probe_f1",
        "Lexical: bag-of-words probe micro-F1",
        pairs=(("hybrid", "mlm"), ("mlm", "random_init")),
    )
    grid(
        lines, res, "probe_gap", "Balance: probe gap (semantic probe - token probe; higher = better balance)"
    )
    grid(
        lines,
        res,
        "balance",
        "Balance on STS-B pairs (partial Spearman with gold | overlap - with overlap | gold)",
    )
    headline_grid(lines, res)


def all_claims(res: dict) -> list[dict]:
    """The report's claims (the first model against each other) and the pairs `claims_section` adds."""
    out = list(res["claims"])
    for a, b in (("hybrid_shared", "mlm"), ("mlm", "random_init"), ("hybrid_shared", "random_init")):
        for claim in CLAIMS:
            cs = [
                c
                for c in (
                    comp(res, a, b, t, p, m)
                    for t in res["tasks"]
                    for p in res["poolings"]
                    for m in claim.metrics
                )
                if c
            ]
            out.append({**claim_verdict(claim, cs), "model_a": a, "model_b": b})
    return out


def budgets() -> list[tuple[str, Path]]:
    """Every probed budget up to RES's, in order: (tokens label, results folder). The stages of RES and the
    MLM arm's own probes at budgets the hybrids were not probed at (`mlm_12k/`, `mlm_24k/`); RES wins a tie."""
    found: dict[int, Path] = {}
    for d in [*sorted(TOP.glob("mlm_*")), *STAGES]:
        t = mlm_tokens(d)
        if t and FINAL_TOKENS and t <= FINAL_TOKENS and (d / "probe_standard" / "results.json").exists():
            found[t] = d
    return [(millions(t), found[t]) for t in sorted(found)]


def budget_section(lines: list[str]) -> None:
    """How the verdicts and the sanity check moved from the first stage to the end."""
    if len(STAGES) < 2:
        return
    probed = budgets()
    full = [(label, d) for label, d in probed if load_json(d / "training" / "hybrid_training_summary.json")]
    lines.append("## The verdicts at each budget\n")
    lines.append(
        "The same arms at the end of each stage that was probed ("
        + ", ".join(f"{label}: `{d.relative_to(TOP) if d != TOP else 'results'}/`" for label, d in full)
        + "). A verdict that changes between budgets is a property of the training budget, not of the "
        "objective.\n"
    )
    cols = [(p, label, d) for p in ("standard", "paper") for label, d in full]
    lines += ["| claim | A vs B | " + " | ".join(f"{p} {label}" for p, label, _ in cols) + " |"]
    lines.append("|---|---|" + "---|" * len(cols))
    verdicts: dict = {}
    for protocol, label, d in cols:
        res = load_json(d / f"probe_{protocol}" / "results.json")
        for c in all_claims(res) if res else []:
            verdicts.setdefault((c["claim"], c["model_a"], c["model_b"]), {})[(protocol, label)] = c[
                "verdict"
            ]
    for (claim, a, b), v in verdicts.items():
        cells = [v.get((p, label), "n/a") for p, label, _ in cols]
        lines.append(f"| {claim} | {a} vs {b} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "SST-2 linear probe (accuracy), MLM minus random control, each pooling, at every budget the MLM arm was "
        "probed ("
        + ", ".join(f"{label}: `{d.relative_to(TOP) if d != TOP else 'results'}/`" for label, d in probed)
        + "):\n"
    )
    lines += ["| protocol | pooling | " + " | ".join(label for label, _ in probed) + " |"]
    lines.append("|---|---|" + "---|" * len(probed))
    for protocol in ("standard", "paper"):
        rs = [load_json(d / f"probe_{protocol}" / "results.json") for _, d in probed]
        for pooling in (rs[-1] or {}).get("poolings", []):
            cs = [comp(r, "mlm", "random_init", "sst2", pooling, "accuracy") if r else None for r in rs]
            lines.append(f"| {protocol} | {pooling} | " + " | ".join(dcell(c) for c in cs) + " |")
    lines.append("")


# The cell each claim is read at first (the paper's own headline cell), with the paper's number there.
REFERENCE = {
    "uniformity": (
        "sst2",
        "mean",
        "uniformity",
        "-0.160 vs -0.052 (SST-2 mean; all 5 reference cells lower)",
    ),
    "spectral richness (max pooling)": ("sst2", "max", "effective_rank", "384.2 vs 364.1 (SST-2 max)"),
    "lexical information": ("sst2", "mean", "token_probe_acc", "less lexical information (no number)"),
    "balance": ("sst2", "mean", "probe_gap", "better balance (no number)"),
    "probe accuracy": ("sst2", "mean", "accuracy", "similar; its probes: SST-2 68 %, MNLI 51 %"),
}


def short(c: dict | None) -> str:
    """A verdict with its cell counts: 'mixed (17/20 for, 1 against)'."""
    if c is None:
        return "n/a"
    ev = c.get("evidence", "")
    m = re.match(r"(\d+)/(\d+) cells", ev)
    other = re.search(r"(\d+) (?:significantly the other way|wholly outside)", ev)
    if not m:
        return c["verdict"]
    for_, against = ("equivalent", "outside") if c["claim"] == "probe accuracy" else ("for", "against")
    return f"{c['verdict']} ({m[1]}/{m[2]} {for_}, {other[1] if other else 0} {against})"


def glance_section(lines: list[str]) -> None:
    """One row per claim: the paper's number, ours at the same cell, the verdicts of every pair that
    matters (hybrid vs MLM, hybrid_shared vs MLM, each arm vs the random control), both protocols."""
    res = {p: load_json(RES / f"probe_{p}" / "results.json") for p in ("paper", "standard")}
    if not all(res.values()) or "hybrid" not in res["paper"]["results"]:
        return
    verdict = {(p, c["claim"], c["model_a"], c["model_b"]): c for p, r in res.items() for c in all_claims(r)}
    lines.append("## The claims at a glance\n")
    lines.append(
        "Ours at the paper's cell: protocol `paper`, hybrid vs MLM, 95 % paired interval of the difference and its "
        "Holm p. Verdicts over every task x pooling cell of the claim, as `paper protocol / standard protocol`; "
        "counts are cells significant after Holm for and against the claim (for probe accuracy: cells shown "
        "equivalent within 0.02, and cells wholly outside it).\n"
    )
    pairs = [("hybrid", "mlm"), ("hybrid_shared", "mlm"), ("hybrid", "random_init"), ("mlm", "random_init")]
    lines.append(
        "| claim | the paper (hybrid vs MLM) | ours at that cell | "
        + " | ".join(f"{a} vs {b}" for a, b in pairs)
        + " |"
    )
    lines.append("|---|---|---|" + "---|" * len(pairs))
    R = res["paper"]["results"]
    for claim in CLAIMS:
        task, pooling, metric, paper = REFERENCE[claim.name]
        nd = 1 if metric == "effective_rank" else 3
        a, b = (R[m][task][pooling].get(metric) or {} for m in ("hybrid", "mlm"))
        c = comp(res["paper"], "hybrid", "mlm", task, pooling, metric)
        ours = f"{task} {pooling}: {f(a.get('value'), nd)} vs {f(b.get('value'), nd)}, {dcell(c, nd)}"
        cells = [
            " / ".join(short(verdict.get((p, claim.name, x, y))) for p in ("paper", "standard"))
            for x, y in pairs
        ]
        lines.append(f"| {claim.name} | {paper} | {ours} | " + " | ".join(cells) + " |")
    lines.append("")


def arm_name(path: str) -> str:
    """experiments/runs/hybrid_24k -> hybrid (the budget suffix of a continued run dropped)."""
    return re.sub(r"_(continue|\d+k)$", "", path.rsplit("/", 1)[-1])


def findings() -> str:
    """The opening paragraph: the scale and the checks that decide how far the verdicts can be read,
    computed from the records (nothing in it is typed by hand)."""
    sums = {a: load_json(RES / "training" / f"{a}_training_summary.json") for a in ARMS}
    tokens = {s.get("tokens_seen") for s in sums.values() if s}
    scale = (
        f"{next(iter(tokens)):,} tokens per arm" if len(tokens) == 1 else f"tokens per arm {sorted(tokens)}"
    )
    parts = [f"**Read the README's Results section first.** Scale: 4 x 256 encoder, {scale}."]
    if len(STAGES) > 1:
        ends = [records(st, "mlm")[0]["steps"] for st in STAGES]
        parts.append(
            f"Each arm trained {ends[0]:,} steps on a {ends[0]:,}-step linear schedule, then resumed from the last "
            "checkpoint with the schedule recomputed for "
            + ", then ".join(f"{e:,}" for e in ends[1:])
            + " steps (identical for the arms; the earlier stages' records: "
            + ", ".join(f"`{st.name}/`" for st in STAGES[:-1])
            + ")."
        )
    for protocol in ("standard", "paper"):
        res = load_json(RES / f"probe_{protocol}" / "results.json")
        cells = {
            p: c
            for p in (res or {}).get("poolings", [])
            if (c := comp(res, "mlm", "random_init", "sst2", p, "accuracy"))
        }
        if cells:
            above = [p for p, c in cells.items() if c["significant"] and c["diff"] > 0]
            parts.append(
                f"Sanity check ({protocol} protocol): MLM minus random control on the SST-2 probe, by pooling: "
                + "; ".join(
                    f"{p} {c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}], Holm p {pval(c['p_holm'])}"
                    for p, c in cells.items()
                )
                + ": "
                + (
                    f"above the control after Holm under {' and '.join(above)} pooling."
                    if above
                    else "**not above the control after Holm under any pooling**."
                )
            )
    collapsed = []
    for a, s in sums.items():
        tr = (s or {}).get("trajectory", {})
        std, jl = tr.get("target_std", []), tr.get("jepa_loss", [])
        if std and jl:
            verdict = "collapsed" if std[-1][1] < 0.25 * std[0][1] or jl[-1][1] < 0.01 else "not collapsed"
            collapsed.append(
                f"{a}: JEPA loss {jl[-1][1]:.3f}, target std {std[0][1]:.2f} -> {std[-1][1]:.2f} ({verdict})"
            )
    if collapsed:
        parts.append("Collapse watch at the last logging step: " + "; ".join(collapsed) + ".")
    sanity = load_json(RES / "mlm_sanity.json")
    if isinstance(sanity, dict) and "unigram_cross_entropy" in sanity:
        rows = [
            f"{arm_name(k)} {v['cross_entropy']:.2f} (top-1 {v['top1_accuracy']:.3f})"
            for k, v in sanity.items()
            if isinstance(v, dict) and "cross_entropy" in v
        ]
        parts.append(
            f"Masked-token cross-entropy on {sanity['masked_tokens']:,} held-out masked tokens (`mlm_sanity.json`; "
            f"context-free baselines: unigram of the training text {sanity.get('unigram_cross_entropy_train', float('nan')):.2f}, "
            f"in-sample unigram {sanity['unigram_cross_entropy']:.2f}, most-frequent-token top-1 "
            f"{sanity['most_frequent_token_accuracy']:.3f}): " + ", ".join(rows) + "."
        )
    checks = sorted(
        {q for d in {TOP, *STAGES} for q in d.glob("order_check*.json")},
        key=lambda q: int(re.sub(r"\D", "", q.stem) or 0),
    )
    final_steps = (records(RES, "mlm")[0] or {}).get("steps", 0)
    checks = [
        q for q in checks if int(re.sub(r"\D", "", q.stem) or 0) < final_steps
    ]  # this run's resumes only
    resumes = [int(m) for q in checks if (m := re.sub(r"\D", "", q.stem))]
    parts.append(
        "The arms' data, order and masks are identical ("
        + ", ".join(f"`{q.relative_to(TOP)}`" for q in checks)
        + (
            ": the first batches, and the first batches after the resume at step "
            + ", ".join(f"{r:,}" for r in resumes)
            + ", which also equal those of an uninterrupted loader)."
            if resumes
            else ")."
        )
    )
    return " ".join(parts) + "\n"


def main() -> None:
    lines = [
        "# Issue 10: CPU reproduction of the paper's comparison — summary\n",
        f"Generated by `experiments/04_summarize.py` from `{RES.relative_to(REPO) if RES.is_relative_to(REPO) else RES}/`. Intervals are 95 %; "
        "differences are paired (same sentences, same resamples), Holm-corrected within each (model pair, metric) "
        "family over the task x pooling cells; `*` marks Holm p < 0.05.\n",
        findings(),
    ]
    glance_section(lines)
    training_section(lines)
    budget_section(lines)
    trajectory_section(lines)
    for protocol in ("standard", "paper"):
        probe_section(lines, protocol)
    (RES / "SUMMARY.md").write_text("\n".join(lines))
    print(f"wrote {RES / 'SUMMARY.md'}")
    # The block the README's Results section carries: budgets, trajectories, both protocols' claims,
    # the paper protocol's tables in full and the standard protocol's linear probes.
    block: list[str] = []
    glance_section(block)
    training_section(block)
    budget_section(block)
    trajectory_section(block)
    std = load_json(RES / "probe_standard" / "results.json")
    if std is not None:
        block.append(
            "## Probe, protocol `standard` (claims and linear probes; all tables in experiments/results/SUMMARY.md)\n"
        )
        claims_section(block, std, "standard")
        headline_grid(block, std)
    probe_section(block, "paper")
    text = (
        "\n".join(block)
        .replace("](training/", "](experiments/results/training/")
        .replace("](probe_", "](experiments/results/probe_")
    )
    text = (
        text.replace("\n## ", "\n### ")
        .replace("\n### Claims", "\n#### Claims")
        .replace("\n### The paper", "\n#### The paper")
    )
    text = text.replace("\n#### Uniformity", "\n##### Uniformity").replace(
        "\n#### Effective", "\n##### Effective"
    )
    text = (
        text.replace("\n#### Lexical", "\n##### Lexical")
        .replace("\n#### Balance", "\n##### Balance")
        .replace("\n#### Downstream", "\n##### Downstream")
    )
    if text.startswith("## "):
        text = "#" + text
    (RES / "README_block.md").write_text(text)
    print(f"wrote {RES / 'README_block.md'}")


if __name__ == "__main__":
    main()
