"""Outputs of the probe: `results.json`, `report.md` and PNG plots under the output folder.

`results.json` schema (other tools, e.g. the model-card generator, read it; keys are stable):

- `protocol`: "standard" or "paper".
- `models`: display name -> {"path": str, "num_parameters": int, "hidden_size": int}. The display name is the
  folder basename (or `--model_names`), de-duplicated; the first model plays the paper's hybrid in `claims`.
- `tasks`: list of GLUE task names; `poolings`: list of pooling names.
- `results[model][task][pooling][metric] = {"value": float|None, "ci_low": float|None, "ci_high": float|None}`
  (None where undefined; 95 % intervals: percentile paired bootstrap for per-example metrics, subsampling
  for set metrics). Metrics: set metrics `uniformity`, `anisotropy`, `effective_rank`, `rankme`,
  `spectral_entropy`, `stable_rank`, `participation_ratio`, `n_components_90`; pair tasks (standard protocol)
  `alignment`; lexical `token_probe_acc`, `token_probe_majority`, `bow_probe_f1`; balance `probe_gap` and, on
  STS-B (standard protocol), `balance`; downstream GLUE metrics `accuracy`, `f1`, `matthews_correlation`,
  `pearson`, `spearmanr`, and on STS-B (standard) `cosine_spearmanr`.
- `comparisons`: list of {"model_a", "model_b", "task", "pooling", "metric", "diff" (a - b), "ci_low",
  "ci_high", "p_value", "p_holm", "significant", "probes_at_majority"} for every pair of models (empty with
  one model); Holm families are (model_a, model_b, metric) over the task x pooling cells; significant =
  p_holm < 0.05; probes_at_majority: either model's token probe is not clearly above its majority-class
  baseline in that task x pooling cell (`significance.probes_at_majority`).
- `claims`: list of {"claim", "paper", "verdict", "evidence", "model_a", "model_b"}; verdict is one of
  "supported", "contradicted", "mixed", "inconclusive", "degenerate" (decided only by cells whose probes sit
  at the majority class, which cannot count as support), "not measured" (`significance.VERDICTS`).
- `timing`: {"encode_seconds": {model: {task: seconds}}, "total_seconds": float}.
- `plots`: names of the PNG files written next to the JSON.
- `n_examples`: task -> {"train", "eval", "eval_split"}; `spectra[model][task][pooling]`: PCA explained-variance
  ratios of the geometry sample (descending); `settings`: the command-line arguments.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from .glue import GLUE_TASKS
from .metrics import GEOMETRY_METRICS, expected_uniformity_isotropic

logger = logging.getLogger(__name__)

# Alignment is a pair metric, shown next to uniformity (Wang & Isola's pair of measures).
GEOMETRY_COLUMNS = (GEOMETRY_METRICS[0], "alignment", *GEOMETRY_METRICS[1:])
LEXICAL_COLUMNS = ("token_probe_acc", "token_probe_majority", "bow_probe_f1", "probe_gap", "balance")
PROBE_COLUMNS = ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr", "cosine_spearmanr")
# The paper's own numbers (DESIGN.md, "Reference numbers"): (task, pooling) -> metric -> (hybrid, MLM).
PAPER_REFERENCE: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("sst2", "mean"): {"uniformity": (-0.160, -0.052), "effective_rank": (241.7, 249.1)},
    ("sst2", "max"): {"uniformity": (-0.294, -0.090), "effective_rank": (384.2, 364.1)},
    ("mnli", "mean"): {"uniformity": (-0.169, -0.063), "effective_rank": (241.6, 245.1)},
    ("cola", "max"): {"uniformity": (-0.365, -0.098), "effective_rank": (365.1, 330.1)},
    ("stsb", "mean"): {"uniformity": (-0.201, -0.067), "effective_rank": (227.7, 235.3)},
}
PROTOCOL_NOTES = {
    "standard": "Siamese pairs (each sentence encoded alone, probe features `[u, v, |u-v|, u*v]`), "
    "standardised features, logistic regression with C chosen by 3-fold CV on the train sample (ridge with "
    "alpha by leave-one-out CV for STS-B), scored once on the validation sample; lexical probes read the first "
    "sentence; the balance is measured on STS-B pairs.",
    "paper": "The paper's definitions: a pair is encoded as one sequence `[CLS] a [SEP] b [SEP]`; poolings "
    "mean, max, weighted (= mean) and attention (a seeded random query); probes on raw features with "
    "scikit-learn's default C = 1 (ridge alpha = 1 for STS-B); the balance is the probe gap. The paper's exact "
    "example subsets are not published with its numbers: this run uses the same seeded train/validation "
    "samples as the standard protocol (`--max_train_samples`, `--max_eval_samples`).",
}
# Comparisons shown in the Markdown report; every metric's comparison is in the JSON.
HEADLINE_METRICS = (
    "uniformity",
    "alignment",
    "effective_rank",
    "token_probe_acc",
    "bow_probe_f1",
    "probe_gap",
    "balance",
    "accuracy",
    "matthews_correlation",
    "spearmanr",
)


def jsonable(x):
    """A copy with NaN and infinities -> None, numpy scalars -> Python, recursively (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(results: dict, path: str | Path) -> None:
    """Write the results as strict JSON (no NaN)."""
    Path(path).write_text(json.dumps(jsonable(results), indent=1, allow_nan=False) + "\n")


def _fmt(x: float | None) -> str:
    """Four significant figures, or an en dash for missing values."""
    if x is None:
        return "–"
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.4g}" if abs(x) >= 1 else f"{x:.3f}"


def _fmt_cell(cell: dict | None) -> str:
    """`value [low, high]`."""
    if not cell or cell["value"] is None:
        return "–"
    if cell["ci_low"] is None:
        return _fmt(cell["value"])
    return f"{_fmt(cell['value'])} [{_fmt(cell['ci_low'])}, {_fmt(cell['ci_high'])}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _metric_tables(results: dict, columns: tuple[str, ...]) -> list[str]:
    """Per task: rows model x pooling, the given metric columns that have any value."""
    lines = []
    for task in results["tasks"]:
        cells = {
            (m, p): results["results"][m][task][p] for m in results["models"] for p in results["poolings"]
        }
        present = [c for c in columns if any(c in v for v in cells.values())]
        if not present:
            continue
        rows = [[m, p, *(_fmt_cell(v.get(c)) for c in present)] for (m, p), v in cells.items()]
        lines += [f"### {task}", "", *_table(["model", "pooling", *present], rows), ""]
    return lines


def _reference_table(results: dict) -> list[str]:
    """The paper's reference cells next to this run's values, where the run has that task and pooling."""
    rows = []
    for (task, pooling), metrics in PAPER_REFERENCE.items():
        if task not in results["tasks"] or pooling not in results["poolings"]:
            continue
        for metric, (hybrid, mlm) in metrics.items():
            mine = [_fmt_cell(results["results"][m][task][pooling].get(metric)) for m in results["models"]]
            rows.append([f"{task} / {pooling}", metric, _fmt(hybrid), _fmt(mlm), *mine])
    if not rows:
        return []
    header = ["task / pooling", "metric", "paper hybrid", "paper MLM", *results["models"]]
    return [
        "## The paper's reference numbers",
        "",
        "The paper used a 512-wide encoder, so effective ranks compare only between models of one width.",
        "",
        *_table(header, rows),
        "",
    ]


def markdown_report(results: dict) -> str:
    """The Markdown report: models, data, claims, geometry, lexical/balance, probes, comparisons, timing."""
    models = results["models"]
    lines = [
        f"# Representation analysis of {', '.join(models)} (protocol: {results['protocol']})",
        "",
        "Values are `estimate [95 % CI]`: percentile paired bootstrap for per-example metrics, subsampling "
        "(half the set, Politis & Romano) for set metrics. Definitions: DESIGN.md, 'Probe and analysis'.",
        "",
        f"Protocol `{results['protocol']}`: {PROTOCOL_NOTES.get(results['protocol'], '')}",
        "",
        "## Models",
        "",
        *_table(
            ["model", "path", "parameters", "hidden size", "isotropic uniformity"],
            [
                [
                    n,
                    f"`{m['path']}`",
                    f"{m['num_parameters']:,}",
                    str(m.get("hidden_size", "–")),
                    _fmt(expected_uniformity_isotropic(m["hidden_size"])) if m.get("hidden_size") else "–",
                ]
                for n, m in models.items()
            ],
        ),
        "",
        "Isotropic uniformity: the value for directions uniform on the sphere of that dimension (the floor "
        "a perfectly spread encoder approaches).",
        "",
        "## Data",
        "",
        *_table(
            ["task", "train examples", "eval split", "eval examples"],
            [[t, str(d["train"]), d["eval_split"], str(d["eval"])] for t, d in results["n_examples"].items()],
        ),
        "",
    ]
    if results["claims"]:
        lines += [
            "## Claims of the paper",
            "",
            "The first model plays the paper's hybrid; each cell is a task x pooling difference, Holm-corrected "
            "within each metric.",
            "",
            *_table(
                ["claim", "paper", "models", "verdict", "evidence"],
                [
                    [
                        c["claim"],
                        c["paper"],
                        f"{c['model_a']} vs {c['model_b']}",
                        f"**{c['verdict']}**",
                        c["evidence"],
                    ]
                    for c in results["claims"]
                ],
            ),
            "",
        ]
    lines += _reference_table(results)
    lines += ["## Geometry", "", *_metric_tables(results, GEOMETRY_COLUMNS)]
    lines += ["## Lexical information and balance", "", *_metric_tables(results, LEXICAL_COLUMNS)]
    lines += ["## Downstream linear probes", "", *_metric_tables(results, PROBE_COLUMNS)]
    shown = [c for c in results["comparisons"] if c["metric"] in HEADLINE_METRICS]
    if shown:
        lines += [
            "## Paired comparisons (headline metrics; all metrics in results.json)",
            "",
            *_table(
                ["models", "task", "pooling", "metric", "diff (a - b)", "95 % CI", "p", "p (Holm)", ""],
                [
                    [
                        f"{c['model_a']} - {c['model_b']}",
                        c["task"],
                        c["pooling"],
                        c["metric"],
                        _fmt(c["diff"]),
                        f"[{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]",
                        _fmt(c["p_value"]),
                        _fmt(c["p_holm"]),
                        "*" if c["significant"] else "",
                    ]
                    for c in shown
                ],
            ),
            "",
        ]
    timing = results["timing"]
    lines += [
        "## Timing",
        "",
        *_table(
            ["model", *results["tasks"]],
            [[m, *(f"{s[t]:.1f} s" for t in results["tasks"])] for m, s in timing["encode_seconds"].items()],
        ),
        "",
        f"Encoding time per model and task (0 when read from the cache); whole run {timing['total_seconds']:.1f} s.",
        "",
    ]
    plots = results.get("plots", [])
    if plots:
        lines += ["## Plots", "", *(f"![{p}]({p})" for p in plots), ""]
    return "\n".join(lines)


def _styles(results: dict) -> tuple[dict, dict]:
    """A colour per model and a line style / marker per pooling, shared by every plot."""
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab10")
    colour = {m: colours(i % 10) for i, m in enumerate(results["models"])}
    marks = ["-", "--", ":", "-."]
    style = {p: marks[i % len(marks)] for i, p in enumerate(results["poolings"])}
    return colour, style


def _errorbar(cell: dict | None) -> tuple[float, list[float]]:
    """Value and (lower, upper) error bar lengths of a result cell; NaN when missing."""
    if not cell or cell["value"] is None:
        return float("nan"), [0.0, 0.0]
    v = cell["value"]
    lo = v - cell["ci_low"] if cell["ci_low"] is not None else 0.0
    hi = cell["ci_high"] - v if cell["ci_high"] is not None else 0.0
    return v, [max(lo, 0.0), max(hi, 0.0)]


# Explained-variance ratios below this are rounding noise or exact rank deficits (e.g. LayerNorm outputs of a
# freshly initialised encoder sum to zero, which removes one direction); the spectra plot stops there.
SPECTRUM_FLOOR = 1e-7


def plot_spectra(results: dict, path: Path) -> None:
    """Eigen-spectra: PCA explained-variance ratio against component rank, log scale, one panel per task."""
    import matplotlib.pyplot as plt

    tasks = results["tasks"]
    colour, style = _styles(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.6), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for model, by_task in results["spectra"].items():
            for pooling, spectrum in by_task[task].items():
                s = np.asarray(spectrum, dtype=float)
                s = s[s > SPECTRUM_FLOOR]
                ax.loglog(
                    np.arange(1, len(s) + 1),
                    s,
                    style[pooling],
                    color=colour[model],
                    label=f"{model} / {pooling}",
                )
        ax.set_title(task)
        ax.set_ylim(bottom=SPECTRUM_FLOOR)
        ax.set_xlabel("component")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("explained variance ratio")
    # outside the panels, so it never hides a curve (one entry per model x pooling can be 16 or more)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.suptitle("Eigen-spectra of the eval embeddings (flatter = richer spectrum)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# A bar shorter than this fraction of the axis range is drawn with a marker and its value printed.
SHORT_BAR_FRACTION = 0.02


def alignment_absent_reason(results: dict) -> str:
    """Why the results hold no alignment: it needs positive pairs whose two sentences are encoded apart."""
    if results.get("protocol") == "paper":
        return (
            "No alignment under protocol `paper`: it encodes each pair as one sequence,\nwhile alignment "
            "needs the two sentences of positive pairs encoded apart\n(pair tasks under the standard protocol)."
        )
    return (
        "No alignment in these results: it needs positive pairs,\nthe two sentences encoded apart "
        "(pair tasks MRPC, MNLI, STS-B\nunder the standard protocol)."
    )


def _uniformity_limits(values: list[float], references: list[float]) -> tuple[float, float]:
    """y-limits of the uniformity bars: the data (values and interval ends) and 0, plus the isotropic
    references that would at most double that range (the others are named in the legend instead of drawn);
    room below the bars, which hang from 0, for the legend."""
    finite = [v for v in values if np.isfinite(v)] or [0.0]
    low, high = min(min(finite), 0.0), max(max(finite), 0.0)
    span = max(high - low, 0.05)
    low = min([low, *(r for r in references if r >= low - span)])
    span = max(high - low, 0.05)
    return low - 0.3 * span, high + 0.06 * span


def _uniformity_alignment_figure(results: dict):
    """The figure of `plot_uniformity_alignment` (returned, not saved)."""
    import matplotlib.pyplot as plt

    models, tasks, poolings = list(results["models"]), results["tasks"], results["poolings"]
    colour, _ = _styles(results)
    markers = dict(zip(poolings, "osD^v<>", strict=False))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    cells = [(t, p) for t in tasks for p in poolings]
    width = 0.8 / len(models)
    bars, extent = [], []
    for i, model in enumerate(models):
        vals, errs = zip(
            *(_errorbar(results["results"][model][t][p].get("uniformity")) for t, p in cells), strict=True
        )
        x = np.arange(len(cells)) + (i - (len(models) - 1) / 2) * width
        left.bar(x, vals, width, yerr=np.array(errs).T, color=colour[model], label=model, capsize=2)
        bars += [(xi, v, model) for xi, v in zip(x, vals, strict=True)]
        extent += [v - e[0] for v, e in zip(vals, errs, strict=True)]
        extent += [v + e[1] for v, e in zip(vals, errs, strict=True)]
    isotropic = {
        m: expected_uniformity_isotropic(h) for m in models if (h := results["models"][m].get("hidden_size"))
    }
    low, high = _uniformity_limits(extent, list(isotropic.values()))
    left.set_ylim(low, high)
    below = {}
    for model, ref in isotropic.items():
        if ref >= low:
            left.axhline(ref, color=colour[model], ls=":", lw=1)
        else:
            below.setdefault(round(ref, 3), []).append(model)
    # Bars too short to see (a collapsed encoder's uniformity is about 0): a marker and the value.
    short = SHORT_BAR_FRACTION * (high - low)
    for xi, v, model in bars:
        if np.isfinite(v) and abs(v) < short:
            left.scatter(xi, v, color=colour[model], edgecolors="black", s=14, zorder=3, linewidths=0.5)
            left.annotate(
                f"{v:.3f}",
                (xi, v),
                xytext=(0, -4),
                textcoords="offset points",
                fontsize=5,
                rotation=90,
                ha="center",
                va="top",
            )
    left.set_xticks(
        np.arange(len(cells)), [f"{t} {p}" for t, p in cells], fontsize=7, rotation=60, ha="right"
    )
    left.set_ylabel("uniformity (lower = more uniform)")
    left.set_title("Uniformity with 95 % CI (dotted: isotropic value for the width; dots: bars near 0)")
    handles, _ = left.get_legend_handles_labels()
    for ref, ms in below.items():
        which = "" if len(ms) == len(models) else f" ({', '.join(ms)})"
        label = f"\u2193 isotropic {ref:.3f}{which}, below the axis"
        handles.append(plt.Line2D([], [], color="grey", ls=":", label=label))
    left.legend(handles=handles, fontsize=7)
    aligned = False
    for model in models:
        for t in tasks:
            for p in poolings:
                cell = results["results"][model][t][p]
                if cell.get("alignment", {}).get("value") is not None:
                    aligned = True
                    right.scatter(
                        cell["alignment"]["value"],
                        cell["uniformity"]["value"],
                        color=colour[model],
                        marker=markers[p],
                    )
                    right.annotate(t, (cell["alignment"]["value"], cell["uniformity"]["value"]), fontsize=6)
    right.set_title("Alignment vs uniformity (pair tasks)")
    if not aligned:
        right.text(
            0.5,
            0.5,
            alignment_absent_reason(results),
            ha="center",
            va="center",
            fontsize=8,
            wrap=True,
            transform=right.transAxes,
        )
        right.set_xticks([])
        right.set_yticks([])
        return fig
    handles = [plt.Line2D([], [], color=colour[m], marker="o", ls="", label=m) for m in models]
    handles += [plt.Line2D([], [], color="grey", marker=markers[p], ls="", label=p) for p in poolings]
    right.legend(handles=handles, fontsize=7)
    right.set_xlabel("alignment of positive pairs (lower = better)")
    right.set_ylabel("uniformity")
    return fig


def plot_uniformity_alignment(results: dict, path: Path) -> None:
    """Left: uniformity per task and pooling with 95 % CIs (lower = more uniform), the y-range set by the data
    (an isotropic reference far below it is named in a text), bars too short to see marked with their value.
    Right: alignment against uniformity on pair tasks (Wang & Isola 2020, fig. 5: lower-left is better), or
    why there is none."""
    import matplotlib.pyplot as plt

    fig = _uniformity_alignment_figure(results)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_probes(results: dict, path: Path) -> None:
    """Top: each task's headline GLUE metric of the downstream probe; bottom: token-probe accuracy with the
    majority baseline; bars per model and pooling with 95 % CIs."""
    import matplotlib.pyplot as plt

    models, tasks, poolings = list(results["models"]), results["tasks"], results["poolings"]
    colour, _ = _styles(results)
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.6 * len(tasks), 6.5), squeeze=False)
    width = 0.8 / len(models)
    for j, task in enumerate(tasks):
        headline = GLUE_TASKS[task].metrics[0]
        for row, metric in enumerate((headline, "token_probe_acc")):
            ax = axes[row][j]
            for i, model in enumerate(models):
                cells = [results["results"][model][task][p].get(metric) for p in poolings]
                vals, errs = zip(*(_errorbar(c) for c in cells), strict=True)
                x = np.arange(len(poolings)) + (i - (len(models) - 1) / 2) * width
                ax.bar(x, vals, width, yerr=np.array(errs).T, color=colour[model], label=model, capsize=2)
                if metric == "token_probe_acc":
                    base = [
                        results["results"][model][task][p].get("token_probe_majority", {}).get("value")
                        for p in poolings
                    ]
                    ax.scatter(
                        x,
                        [np.nan if b is None else b for b in base],
                        color="black",
                        marker="_",
                        s=80,
                        zorder=3,
                    )
            ax.set_xticks(np.arange(len(poolings)), poolings, fontsize=7)
            ax.set_title(f"{task}: {metric}", fontsize=9)
    axes[0][0].legend(fontsize=7)
    axes[1][0].set_ylabel("token probe acc (black: majority)")
    axes[0][0].set_ylabel("downstream probe")
    fig.suptitle("Linear probes on frozen embeddings (95 % CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = {
    "spectra.png": plot_spectra,
    "uniformity_alignment.png": plot_uniformity_alignment,
    "probes.png": plot_probes,
}


def write_outputs(results: dict, output_dir: str | Path, plots: bool = True) -> dict[str, Path]:
    """Write `results.json`, `report.md` and (with `plots`) the PNGs; returns name -> path."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    if plots:
        for name, fn in PLOTS.items():
            fn(results, out / name)
            written[name] = out / name
    results["plots"] = list(written)
    write_json(results, out / "results.json")
    (out / "report.md").write_text(markdown_report(jsonable(results)))
    written.update({"results.json": out / "results.json", "report.md": out / "report.md"})
    logger.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written
