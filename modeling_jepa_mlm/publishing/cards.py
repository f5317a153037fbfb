"""Model cards: fill the card template from an export folder's run records and, optionally, the probe's JSON.

The template ships inside the package (`modeling_jepa_mlm/publishing/model_card_template.md`, package data, so a plain
`pip install .` has it); `model_cards/TEMPLATE.md` in the source tree is a link to it.

Sources, all optional but `config.json`:

- `config.json`: architecture and objective fields (`JepaMlmConfig`);
- `run_config.yaml` (written by `run_pretraining.py`): data, masking, EMA schedule, optimisation;
- `training_summary.json`: steps, tokens seen, estimated FLOPs, wall time and the logged `trajectory`
  (loss, mlm_loss, jepa_loss, balance_weight, ema_momentum, target_std, prediction_std and, for a hybrid, the
  gradient norms and MLM gradient share at the encoder);
- `trainer_state.json`: the trajectory's fallback (its `log_history`);
- the probe's `results.json` (`modeling_jepa_mlm.analysis.results.ProbeRun`): tables with 95 % intervals, the
  paired comparisons with the other probed models, the verdicts on the paper's claims, and the model-index.

Missing pieces leave their section saying so, never a wrong number.
"""

from __future__ import annotations

import json
import logging
import os
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..analysis import results as probe_results_io
from ..analysis.glue import GLUE_HUB_ID
from ..analysis.paper import PAPER
from ..analysis.report import _fmt_cell, _table
from ..analysis.results import Cell, ProbeRun
from ..files import CARD_NAME, RESULTS_NAME, RUN_CONFIG_NAME, SUMMARY_NAME, TRAINER_STATE_NAME, is_local
from ..training.data import BUILTIN_DATASETS
from ..training.trainer import GRADIENT_LOGS, LOGGED_OUTPUTS

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parent / "model_card_template.md"
# What the trainer logs at every logging step, in the order of the card's trajectory table.
TRAJECTORY_KEYS = ("loss", *LOGGED_OUTPUTS, *GRADIENT_LOGS, "ema_momentum")
# Columns of the per-task result tables, after the task's own GLUE metrics.
CARD_METRICS = ("uniformity", "alignment", "effective_rank", "token_probe_acc", "probe_gap", "balance")
# Rows of the comparison table, after the task's headline GLUE metric.
COMPARED_METRICS = ("uniformity", "effective_rank", "token_probe_acc", "probe_gap")
MAX_TRAJECTORY_ROWS = 11
# Trajectory columns that only objectives with a JEPA term (target encoder, EMA) or a balance (hybrid) have; the
# trainer logs `ema_momentum` for every objective, so the MLM baseline's card must leave these out.
JEPA_ONLY_KEYS = ("jepa_loss", "ema_momentum", "target_std", "prediction_std")
HYBRID_ONLY_KEYS = ("balance_weight", *GRADIENT_LOGS)
# How many trailing components of a local path a card shows (never the machine's absolute path).
SHOWN_PATH_PARTS = 2
REQUIRED_METADATA = ("license", "language", "library_name", "pipeline_tag", "tags")
LIMITATIONS = """\
- An encoder for representations and fine-tuning, not a generator. The MLM head (when exported) is for
  fill-mask and continued pre-training only.
- The numbers above come from linear probes on *frozen* embeddings of sub-sampled GLUE splits; they measure
  what the embeddings hold, not what fine-tuning reaches. Intervals are 95 % (paired bootstrap for per-example
  metrics, subsampling for set metrics); comparisons are Holm-corrected over task x pooling cells.
- English only, uncased; the vocabulary and the corpus set what it knows. Biases of the training text
  (Wikipedia or whatever was used, see above) carry over into the representations.
- The balance weight of the `sigmoid` mode is pushed by its gradient toward the smaller of the two losses;
  its trajectory (above) is a property of the run to read, not a tuned hyperparameter. For a genuinely joint
  objective use `balance: gradnorm`, which holds the two objectives' gradients at the encoder in a set ratio
  (`grad_share_mlm` above shows what each run got).
- Small models and short runs (such as the quickstart's) demonstrate the pipeline only; their numbers say
  nothing about the paper's claims."""


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def load_run(export_dir: str | os.PathLike) -> dict[str, Any]:
    """The records of one export folder: `config`, and when present `run_config`, `summary`, `trainer_state`.

    Raises:
        FileNotFoundError: the folder or its `config.json` is missing.
    """
    folder = Path(export_dir)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{str(folder)!r} is not an exported model folder: no config.json (run run_pretraining.py first, "
            "or give the folder that holds config.json and model.safetensors)"
        )
    run_config_path = folder / RUN_CONFIG_NAME
    return {
        "export_dir": folder,
        "config": json.loads((folder / "config.json").read_text()),
        "run_config": yaml.safe_load(run_config_path.read_text()) if run_config_path.is_file() else None,
        "summary": _read_json(folder / SUMMARY_NAME),
        "trainer_state": _read_json(folder / TRAINER_STATE_NAME),
    }


def load_probe_results(probe_results: str | os.PathLike | ProbeRun | Mapping | None) -> ProbeRun | None:
    """The probe's results: a `ProbeRun` as is, a dict in the JSON form, or a `results.json` path (or the
    folder holding one), read by `analysis.results.load`.

    Raises:
        FileNotFoundError: the path does not exist or the folder has no results.json.
    """
    if probe_results is None or isinstance(probe_results, ProbeRun):
        return probe_results
    if isinstance(probe_results, Mapping):
        return ProbeRun.from_dict(probe_results)
    return probe_results_io.load(probe_results)


def find_probe_model(
    results: ProbeRun, export_dir: str | os.PathLike, model_name: str | None = None
) -> str | None:
    """The name under which `results` holds this export: `model_name` if given, else the model whose `path` is
    the export folder, else the one named after the folder; None (with a warning) when absent.

    Raises:
        ValueError: `model_name` is given but not among the probed models (lists them).
    """
    models = results.models
    if model_name is not None:
        if model_name not in models:
            raise ValueError(
                f"model_name={model_name!r} is not in the probe results; probed models: {list(models)}"
            )
        return model_name
    target = Path(export_dir).resolve()
    for name, info in models.items():
        path = Path(info.path)
        if path.exists() and path.resolve() == target:
            return name
    if target.name in models:
        return target.name
    logger.warning("the probe results hold no model for %s (probed: %s)", export_dir, list(models))
    return None


def public_name(value: str | os.PathLike | Sequence[str] | None) -> str | None:
    """A data or tokenizer source as a card may show it: a Hub id as is, a local path by its last
    `SHOWN_PATH_PARTS` components (`.../data/wikipedia`), never the machine's absolute path."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        return ", ".join(public_name(v) or "" for v in value)
    text = str(value)
    if not is_local(text):
        return text
    parts = Path(text).expanduser().parts
    shown = "/".join(p for p in parts[-SHOWN_PATH_PARTS:] if p not in ("/", "~"))
    return shown if len(parts) <= SHOWN_PATH_PARTS and not Path(text).is_absolute() else f".../{shown}"


def trajectory_keys(config: Mapping) -> tuple[str, ...]:
    """The logged keys that belong to the objective of `config` (the MLM baseline has no EMA nor balance)."""
    objective = config.get("objective")
    dropped = (() if objective in ("hybrid", "jepa") else JEPA_ONLY_KEYS) + (
        () if objective == "hybrid" else HYBRID_ONLY_KEYS
    )
    return tuple(k for k in TRAJECTORY_KEYS if k not in dropped)


def _num(x: Any) -> str:
    """Four significant figures for trajectory values (keeps a balance of 0.5005 distinct from 0.5)."""
    return "–" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def _evenly(rows: Sequence, k: int) -> list:
    """At most `k` rows, evenly spaced, the first and the last always kept."""
    if len(rows) <= k:
        return list(rows)
    idx = sorted({round(i * (len(rows) - 1) / (k - 1)) for i in range(k)})
    return [rows[i] for i in idx]


def trajectory(run: Mapping) -> dict[str, list[list[float]]]:
    """`key -> [[step, value], ...]` from the summary, or rebuilt from the trainer state's log history."""
    summary = run.get("summary") or {}
    if summary.get("trajectory"):
        return summary["trajectory"]
    history = (run.get("trainer_state") or {}).get("log_history", [])
    logs = [h for h in history if "loss" in h and "step" in h]
    return {k: [[h["step"], h[k]] for h in logs if k in h] for k in TRAJECTORY_KEYS}


def training_steps(run: Mapping) -> int | None:
    """The optimiser steps the export's records state: the summary's `steps` (0 also when it says no token
    was seen), else the trainer state's `global_step`, else the last logged step; None when nothing says."""
    summary = run.get("summary") or {}
    if summary.get("steps") is not None:
        return int(summary["steps"])
    if summary.get("tokens_seen") == 0:
        return 0
    state = run.get("trainer_state") or {}
    if state.get("global_step") is not None:
        return int(state["global_step"])
    logged = [step for series in trajectory(run).values() for step, _ in series]
    return int(max(logged)) if logged else None


# The description's first sentences: per objective for a trained export, one for an untrained one.
DESCRIPTIONS = {
    "hybrid": (
        "A text encoder pre-trained with the **hybrid objective** of jepa-mlm: a JEPA-style latent-prediction "
        "loss (a predictor regresses the representations that an EMA target encoder gives masked target "
        "blocks) plus masked language modelling, over one shared encoder, balanced by a learnable scalar."
    ),
    "mlm": (
        "A text encoder pre-trained with **masked language modelling only**: the baseline of jepa-mlm, with "
        "the same encoder, tokenizer, data order and budget as its hybrid counterpart."
    ),
    "jepa": (
        "A text encoder pre-trained with the **JEPA latent-prediction loss only** (no MLM): a predictor "
        "regresses the representations that an EMA target encoder gives masked target blocks."
    ),
}
UNTRAINED = (
    "A text encoder at its **random initialisation**: it is **not pre-trained** (no training step, no token "
    "seen). It has the architecture of a jepa-mlm encoder configured for the `{objective}` objective and "
    "serves as a control: what its embeddings show comes from the architecture and the initialisation, not "
    "from any pre-training."
)


def _description(config: Mapping, notes: str | None, steps: int | None = None) -> str:
    objective = config.get("objective", "unknown")
    if steps == 0:
        text = UNTRAINED.format(objective=objective)
    else:
        text = DESCRIPTIONS.get(objective, f"A jepa-mlm text encoder (objective `{objective}`).")
    if steps is None:
        text += (
            " The export folder holds no training record (`training_summary.json` or `trainer_state.json`), "
            "so how long it was pre-trained is not recorded."
        )
    text += (
        f" It accompanies the study of the paper *{PAPER.title}* (arXiv {PAPER.arxiv}), which compares what "
        "the two objectives do to the geometry of the representations."
    )
    return f"{text}\n\n{notes}" if notes else text


def _architecture(config: Mapping, run: Mapping, probe_params: int | None) -> str:
    summary = run.get("summary") or {}
    params = summary.get("num_parameters_encoder") or probe_params
    rows = [
        ["exported class", ", ".join(config.get("architectures") or ["–"])],
        ["layers x hidden size", f"{config.get('num_hidden_layers')} x {config.get('hidden_size')}"],
        ["attention heads", str(config.get("num_attention_heads"))],
        ["intermediate size", str(config.get("intermediate_size"))],
        ["vocabulary", str(config.get("vocab_size"))],
        ["blocks", f"{config.get('layer_norm_position', 'post')}-LN"],
        ["positions", _positions(config)],
        ["pooler_output", f"`{config.get('pooling', 'mean')}` pooling"],
        ["encoder parameters", f"{params:,}" if params else "–"],
    ]
    return "\n".join(_table(["", ""], rows))


def _positions(config: Mapping) -> str:
    if config.get("position_embedding_type", "absolute") == "alibi":
        return "symmetric ALiBi attention biases (no position embeddings)"
    return f"learned absolute, up to {config.get('max_position_embeddings')}"


def _objective(config: Mapping, run_config: Mapping) -> str:
    objective = config.get("objective", "–")
    has_jepa, has_mlm = objective in ("hybrid", "jepa"), objective in ("hybrid", "mlm")
    rows = [["objective", f"`{objective}`"]]
    if has_mlm:
        rows.append(
            [
                "MLM masking",
                f"{run_config.get('mlm_probability', 0.15):.0%} of tokens, "
                f"{run_config.get('mask_replace_prob', 0.8):.0%} [MASK] / "
                f"{run_config.get('random_replace_prob', 0.1):.0%} random / rest kept",
            ]
        )
    if has_jepa:
        context = config.get("jepa_context", "–")
        rows += [
            ["JEPA context", f"`{context}`"],
            ["JEPA loss", f"`{config.get('jepa_loss', '–')}`"],
            ["JEPA targets", f"top {config.get('jepa_target_layers', 1)} target layer(s), layer-normalised"],
            [
                "predictor",
                f"depth {config.get('predictor_num_hidden_layers')}, width {config.get('predictor_hidden_size')}",
            ],
        ]
        if context == "blocks" and run_config:
            rows.append(
                [
                    "blocks",
                    f"context {run_config.get('context_ratio_min')}-{run_config.get('context_ratio_max')}, "
                    f"{run_config.get('num_target_blocks')} targets of "
                    f"{run_config.get('target_ratio_min')}-{run_config.get('target_ratio_max')} of the tokens",
                ]
            )
        if run_config:
            rows.append(
                [
                    "EMA momentum",
                    f"{run_config.get('ema_momentum_start')} -> {run_config.get('ema_momentum_end')}, "
                    f"`{run_config.get('ema_schedule')}` schedule",
                ]
            )
    if objective == "hybrid":
        balance = config.get("balance", "–")
        detail = {
            "sigmoid": "`L = s L_jepa + (1 - s) L_mlm`, `s = sigmoid(w)`, `w` learned from 0",
            "uncertainty": "Kendall et al. (2018) log-variances, one per loss",
            "fixed": f"constant `s = {config.get('balance_fixed_weight')}`",
            "gradnorm": "each head on its own loss; the JEPA gradient entering the encoder scaled so that the MLM : "
            f"JEPA gradient norms there stand in the ratio {config.get('balance_target_ratio')} (running estimates; "
            "GradNorm's fixed point, Chen et al. 2018)",
            "loss_scale": "each loss over its running mean, weighted "
            f"`{config.get('balance_fixed_weight')}` (JEPA) against the rest",
        }.get(balance, "")
        rows.append(["balance", f"`{balance}`: {detail}"])
    return "\n".join(_table(["setting", "value"], rows))


def _trajectory_section(traj: Mapping[str, list], config: Mapping, steps: int | None = None) -> str:
    keys = [k for k in trajectory_keys(config) if traj.get(k)]
    if not keys and steps == 0:
        return "Nothing was logged: the encoder is not pre-trained (no training step)."
    if not keys:
        return "No training log was found (no `training_summary.json` or `trainer_state.json` trajectory)."
    by_step: dict[int, dict[str, float]] = {}
    for key in keys:
        for step, value in traj[key]:
            by_step.setdefault(int(step), {})[key] = value
    steps = _evenly(sorted(by_step), MAX_TRAJECTORY_ROWS)
    rows = [[str(s), *(_num(by_step[s].get(k)) for k in keys)] for s in steps]
    lines = []
    weight = traj.get("balance_weight") or []
    if weight:
        (s0, w0), (s1, w1) = weight[0], weight[-1]
        lines.append(
            f"The balance weight `s` (on the JEPA loss) went from {_num(w0)} at step {s0} to {_num(w1)} at step "
            f"{s1}."
        )
        if config.get("balance") == "sigmoid":
            lines.append(
                "Under the `sigmoid` balance the gradient on `w` is `s (1 - s) (L_jepa - L_mlm)`, so `s` drifts "
                "toward the smaller loss; with an Adam-family optimizer `w` moves by about one learning rate per "
                "step while that sign holds, whatever the losses' sizes, so `s` follows the learning-rate schedule "
                "rather than balancing the losses."
            )
        lines.append("")
    share = traj.get("grad_share_mlm") or []
    if share:
        (s0, g0), (s1, g1) = share[0], share[-1]
        lines += [
            f"The MLM objective's share of the gradient at the encoder's output states (`grad_share_mlm`, "
            f"weighted norms `g_mlm / (g_mlm + g_jepa)`) went from {_num(g0)} at step {s0} to {_num(g1)} at step "
            f"{s1}: near 0 or 1 the encoder was trained by one objective alone, whatever `s` says.",
            "",
        ]
    lines.append(
        f"Logged values (window averages; {len(steps)} of {len(by_step)} logging steps, evenly spaced, first and "
        "last kept):"
    )
    return "\n".join([*lines, "", *_table(["step", *keys], rows)])


def _data(run_config: Mapping | None, config: Mapping) -> str:
    if not run_config:
        return "Not recorded (no `run_config.yaml` in the export folder)."
    if run_config.get("dataset_name"):
        name = run_config["dataset_name"]
        where = (
            "the package's built-in synthetic corpus (`modeling_jepa_mlm.quickstart.synthetic`)"
            if name in BUILTIN_DATASETS
            else "local folder"
            if is_local(name)
            else "Hub dataset"
        )
        source = f"{where} `{public_name(name)}`" + (
            f", config `{run_config['dataset_config_name']}`" if run_config.get("dataset_config_name") else ""
        )
    else:
        source = f"local files `{public_name(run_config.get('train_file'))}`"
    tokenizer = (
        f"`{public_name(run_config['tokenizer_name'])}`"
        if run_config.get("tokenizer_name")
        else f"WordPiece trained on the corpus ({config.get('vocab_size')} tokens)"
    )
    cut = run_config.get("max_chars_per_document")
    rows = [
        ["text", source + (" (streamed)" if run_config.get("streaming") else "")],
        ["documents cut to", f"{cut} characters" if cut else "not cut"],
        ["sequences", f"packed to {run_config.get('max_seq_length')} tokens ([CLS] chunk [SEP])"],
        ["tokenizer", tokenizer],
        ["seed", str(run_config.get("seed"))],
    ]
    return "\n".join(_table(["", ""], rows))


def _resumed_rows(summary: Mapping) -> list[list[str]]:
    """A run resumed from a checkpoint timed only the steps its last process trained: say which."""
    start = summary.get("resumed_from_step") or 0
    if not start:
        return []
    return [
        [
            "resumed",
            f"from the step-{start:,} checkpoint; wall time and throughput are those of steps "
            f"{start:,}-{summary.get('steps', 0):,}",
        ]
    ]


def _duration(seconds: float) -> str:
    h, rem = divmod(int(round(seconds)), 3600)
    return f"{seconds:.1f} s ({h}:{rem // 60:02d}:{rem % 60:02d})"


NOT_RECORDED = "not recorded"


def _recorded(value: Any, fmt: str = "{}") -> str:
    """`fmt` filled with `value`, or "not recorded" when the record lacks it (never "None")."""
    return NOT_RECORDED if value is None else fmt.format(value)


def _batch(summary: Mapping) -> str:
    batch, length = summary.get("global_batch_size"), summary.get("sequence_length")
    if batch is None and length is None:
        return NOT_RECORDED
    if length is None:
        return f"{batch} sequences (length not recorded)"
    if batch is None:
        return f"sequences of {length} tokens (batch size not recorded)"
    return f"{batch} sequences of {length} tokens"


def _compute(summary: Mapping | None, run_config: Mapping | None) -> str:
    if not summary:
        return "Not recorded (no `training_summary.json` in the export folder)."
    if run_config:
        rc = run_config
        precision = "bf16" if rc.get("bf16") else "fp16" if rc.get("fp16") else "fp32"
        optimizer = (
            f"{rc.get('optim', '–')}, lr {rc.get('learning_rate', '–')} ({rc.get('lr_scheduler_type', '–')}, "
            f"{_num(rc.get('warmup_steps', 0))} warmup steps), weight decay {rc.get('weight_decay', '–')}"
        )
    else:
        precision = optimizer = f"{NOT_RECORDED} (no `{RUN_CONFIG_NAME}`)"
    flops = summary.get("estimated_train_flops")
    rows = [
        ["optimizer steps", _recorded(summary.get("steps"), "{:,}")],
        ["global batch", _batch(summary)],
        ["tokens seen", _recorded(summary.get("tokens_seen"), "{:,}")],
        ["estimated training FLOPs", f"{flops:.3e}" if flops is not None else "–"],
        ["wall time", _duration(summary["wall_time_seconds"]) if "wall_time_seconds" in summary else "–"],
        ["throughput", _recorded(summary.get("tokens_per_second"), "{} tokens/s")],
        *_resumed_rows(summary),
        ["processes", _recorded(summary.get("world_size"))],
        ["precision", precision],
        ["optimizer", optimizer],
    ]
    note = f"FLOPs: {summary['flops_formula']}." if summary.get("flops_formula") else ""
    return "\n".join([*_table(["", ""], rows), "", note]).rstrip()


def _glue_dataset(results: ProbeRun) -> tuple[str, str]:
    """(dataset type, name suffix) of the probe's GLUE data: the Hub's, a local copy, or synthetic."""
    glue_dir = results.settings.get("glue_dir")
    if not glue_dir:
        return results.settings.get("glue_hub_id") or GLUE_HUB_ID, ""
    if (Path(glue_dir) / "synthetic.json").is_file() or "synthetic" in Path(glue_dir).name:
        return "synthetic-glue", " (synthetic GLUE-format data of modeling_jepa_mlm.quickstart.synthetic)"
    return GLUE_HUB_ID, f" (local copy `{public_name(glue_dir)}`)"


def _task_dataset(results: ProbeRun, task: str) -> tuple[str, str, str | None]:
    """(dataset type, dataset name, config) of one probed task for the model-index: GLUE's for a built-in
    task, the spec's Hub id (or its name, for local files) for a user's task."""
    spec = results.task_spec(task)
    if spec is None or spec.glue_folder is not None:
        dataset_type, suffix = _glue_dataset(results)
        return dataset_type, f"GLUE {spec.title if spec else task}{suffix}", task
    if spec.dataset is not None and not is_local(spec.dataset):
        return spec.dataset, spec.title, spec.dataset_config
    return spec.name, f"{spec.title} (local files)", None


def _task_title(results: ProbeRun, task: str) -> str:
    spec = results.task_spec(task)
    return spec.title if spec is not None else task


def _task_metrics(results: ProbeRun, task: str) -> tuple[str, ...]:
    spec = results.task_spec(task)
    return spec.metrics if spec is not None else ()


def eval_results(results: ProbeRun, model: str) -> list[EvalResult]:
    """The model-index entries: every task metric of every task and pooling of `model` in the probe results."""
    out = []
    for task, by_pool in results.results.get(model, {}).items():
        spec = results.task_spec(task)
        split = (
            results.n_examples[task].eval_split
            if task in results.n_examples
            else (spec.eval_split if spec else "validation")
        )
        dataset_type, dataset_name, dataset_config = _task_dataset(results, task)
        for pooling, cells in by_pool.items():
            for metric in _task_metrics(results, task):
                value = (cells.get(metric) or Cell(None)).value
                if value is None:
                    continue
                out.append(
                    EvalResult(
                        task_type="text-classification",
                        task_name="Linear probe on frozen embeddings",
                        dataset_type=dataset_type,
                        dataset_name=dataset_name,
                        dataset_config=dataset_config,
                        dataset_split=split,
                        metric_type=metric,
                        metric_value=round(float(value), 4),
                        metric_name=f"{metric} ({pooling} pooling, linear probe)",
                        metric_config=pooling,
                    )
                )
    return out


def _comparison_lines(results: ProbeRun, model: str) -> list[str]:
    """Per other model: rows (task, metric), columns poolings, cells `this - other [CI]` (* if Holm-significant)."""
    lines = []
    poolings = list(results.poolings)
    for other in [m for m in results.models if m != model]:
        cells: dict[tuple[str, str], dict[str, str]] = {}
        for c in results.comparisons:
            if {c.model_a, c.model_b} != {model, other} or c.diff is None:
                continue
            sign = 1.0 if c.model_a == model else -1.0
            lo, hi = c.ci_low, c.ci_high
            if sign < 0:
                lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
            text = _fmt_cell(Cell(sign * c.diff, lo, hi))
            cells.setdefault((c.task, c.metric), {})[c.pooling] = text + (" *" if c.significant else "")
        rows = []
        for task in results.tasks:
            for metric in (*_task_metrics(results, task)[:1], *COMPARED_METRICS):
                if (task, metric) in cells:
                    rows.append([task, metric, *(cells[task, metric].get(p, "–") for p in poolings)])
        if rows:
            lines += [
                f"**{model} - {other}** (difference `[95 % CI]`, `*`: significant after Holm correction):",
                "",
                *_table(["task", "metric", *poolings], rows),
                "",
            ]
    return lines


def _results_section(results: ProbeRun | None, model: str | None) -> str:
    if results is None:
        return (
            "No probe results yet. Run `python run_glue_probe.py --model_name_or_path <this folder> ... "
            f"--output_dir probe/` and regenerate this card with `--probe_results probe/{RESULTS_NAME}`."
        )
    if model is None:
        return "The probe results given hold no entry for this model."
    by_task = results.results.get(model, {})
    dataset_type, suffix = _glue_dataset(results)
    lines = [
        f"Protocol `{results.protocol}` of `run_glue_probe.py`: frozen embeddings, one linear "
        f"probe per task and pooling; data `{dataset_type}`{suffix}. Values are `estimate [95 % CI]`.",
        "",
    ]
    if results.n_examples:
        lines += [
            *_table(
                ["task", "train examples", "eval split", "eval examples"],
                [[t, str(d.train), d.eval_split, str(d.eval)] for t, d in results.n_examples.items()],
            ),
            "",
        ]
    for task, by_pool in by_task.items():
        columns = [
            c
            for c in (*_task_metrics(results, task), *CARD_METRICS)
            if any((cells.get(c) or Cell(None)).value is not None for cells in by_pool.values())
        ]
        rows = [[pooling, *(_fmt_cell(cells.get(c)) for c in columns)] for pooling, cells in by_pool.items()]
        lines += [f"### {_task_title(results, task)}", "", *_table(["pooling", *columns], rows), ""]
    comparisons = _comparison_lines(results, model)
    if comparisons:
        lines += ["### Compared with the other probed models", "", *comparisons]
    claims = [c for c in results.claims if model in (c.model_a, c.model_b)]
    if claims:
        lines += [
            "### The paper's claims",
            "",
            *_table(
                ["claim", "paper", "models", "verdict", "evidence"],
                [
                    [c.claim, c.paper, f"{c.model_a} vs {c.model_b}", f"**{c.verdict}**", c.evidence]
                    for c in claims
                ],
            ),
            "",
        ]
    return "\n".join(lines).rstrip()


def _datasets(run_config: Mapping | None, results: ProbeRun | None) -> list[str]:
    """Hub dataset ids the model was trained or evaluated on (local folders and files are not Hub ids)."""
    out = []
    name = (run_config or {}).get("dataset_name")
    if name and name not in BUILTIN_DATASETS and not is_local(name):
        out.append(name)
    if (
        results is not None
        and _glue_dataset(results)[0] == GLUE_HUB_ID
        and not results.settings.get("glue_dir")
    ):
        out.append(GLUE_HUB_ID)
    return out


def card_data(
    run: Mapping,
    results: ProbeRun | None,
    probe_model: str | None,
    model_name: str,
    *,
    license: str = "apache-2.0",
    extra_tags: Sequence[str] = (),
) -> ModelCardData:
    """The card's metadata: license, language, library, pipeline tag, tags, datasets and the model-index."""
    config = run["config"]
    objective = config.get("objective", "unknown")
    masked_lm = any("MaskedLM" in a for a in config.get("architectures") or [])
    tags = ["jepa-mlm", "custom_code", "text-encoder", f"objective-{objective}"]
    tags += ["jepa"] if objective in ("hybrid", "jepa") else []
    tags += ["masked-language-modeling"] if objective in ("hybrid", "mlm") else []
    tags += [t for t in extra_tags if t not in tags]
    evals = eval_results(results, probe_model) if results is not None and probe_model is not None else []
    return ModelCardData(
        license=license,
        language=["en"],
        library_name="transformers",
        pipeline_tag="fill-mask" if masked_lm else "feature-extraction",
        tags=tags,
        datasets=_datasets(run.get("run_config"), results) or None,
        model_name=model_name if evals else None,
        eval_results=evals or None,
    )


def render_card(
    export_dir: str | os.PathLike,
    probe_results: str | os.PathLike | ProbeRun | Mapping | None = None,
    *,
    hub_model_id: str | None = None,
    model_name: str | None = None,
    notes: str | None = None,
    license: str = "apache-2.0",
    extra_tags: Sequence[str] = (),
    template: str | os.PathLike | None = None,
) -> str:
    """The Markdown of the card of `export_dir` (YAML metadata front matter, then the body).

    Args:
        probe_results: the probe's `results.json` (path, folder or dict); None leaves the results section empty.
        hub_model_id: the repository the card is for (title, model-index name, usage snippet); default: the
            folder's name.
        model_name: the model's name in the probe results; default: matched by path, then folder name.
        notes: a paragraph added to the description (e.g. "a quickstart demonstration").
        template: a `string.Template` Markdown file; default the packaged `TEMPLATE_PATH`.

    Raises:
        FileNotFoundError: no `config.json` in `export_dir`, a missing template or probe results file.
    """
    run = load_run(export_dir)
    results = load_probe_results(probe_results)
    probe_model = find_probe_model(results, export_dir, model_name) if results is not None else None
    config, run_config = run["config"], run.get("run_config") or {}
    # The repository id names the model (title, model-index) when there is one; else the folder's own name.
    name = hub_model_id or Path(export_dir).resolve().name
    template_path = Path(template) if template is not None else TEMPLATE_PATH
    if not template_path.is_file():
        raise FileNotFoundError(
            f"model card template {str(template_path)!r} not found; give template= a `string.Template` "
            f"Markdown file (the default ships in the package: {TEMPLATE_PATH.name})"
        )
    data = card_data(run, results, probe_model, name, license=license, extra_tags=extra_tags)
    probe_params = results.models[probe_model].num_parameters if results and probe_model else None
    heads = (
        'The export also holds the MLM head: `AutoModelForMaskedLM` (and `pipeline("fill-mask", model=model_id, '
        "trust_remote_code=True)`) work on it."
        if data.pipeline_tag == "fill-mask"
        else "The export holds the encoder only (no MLM head)."
    )
    steps = training_steps(run)
    title = f"{name}: jepa-mlm {config.get('objective', '')} encoder".strip()
    fields = {
        "metadata": data.to_yaml(),
        "title": f"{title} (random initialisation, not pre-trained)" if steps == 0 else title,
        "description": _description(config, notes, steps),
        "architecture": _architecture(config, run, probe_params),
        "objective": _objective(config, run_config),
        "trajectory_heading": "Balance weight and losses during training"
        if config.get("objective") == "hybrid"
        else "Losses during training",
        "trajectory": _trajectory_section(trajectory(run), config, steps),
        "data": _data(run.get("run_config"), config),
        "compute": _compute(run.get("summary"), run.get("run_config")),
        "results": _results_section(results, probe_model),
        "model_id": name,
        "hidden_size": str(config.get("hidden_size")),
        "pooling": config.get("pooling", "mean"),
        "usage_heads": heads,
        "limitations": LIMITATIONS,
        "probe_source": " and the probe's `results.json`" if probe_model is not None else "",
    }
    return string.Template(template_path.read_text()).substitute(fields)


def validate_card(text: str) -> ModelCard:
    """Parse a card the way `huggingface_hub` does and check the metadata this project promises.

    Offline: `ModelCard` parses the YAML front matter and `ModelCardData` checks the model-index (the Hub's
    server-side `ModelCard.validate` needs the network; `hub.push_to_hub` runs it before uploading).

    Raises:
        ValueError: malformed front matter or model-index, or a required metadata key missing.
    """
    card = ModelCard(text, ignore_metadata_errors=False)
    metadata = card.data.to_dict()
    missing = [k for k in REQUIRED_METADATA if not metadata.get(k)]
    if missing:
        raise ValueError(f"the model card lacks metadata {missing}; required: {list(REQUIRED_METADATA)}")
    return card


def write_model_card(
    export_dir: str | os.PathLike,
    probe_results: str | os.PathLike | ProbeRun | Mapping | None = None,
    **kwargs: Any,
) -> Path:
    """Render, validate and write `<export_dir>/README.md`; returns its path. Arguments as `render_card`."""
    text = render_card(export_dir, probe_results, **kwargs)
    validate_card(text)
    path = Path(export_dir) / CARD_NAME
    path.write_text(text)
    logger.info("wrote the model card %s", path)
    return path


__all__ = [
    "CARD_NAME",
    "TEMPLATE_PATH",
    "card_data",
    "eval_results",
    "find_probe_model",
    "load_probe_results",
    "load_run",
    "render_card",
    "training_steps",
    "trajectory",
    "validate_card",
    "write_model_card",
]
