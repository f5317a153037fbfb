"""Outputs of the probe: `results.json` (schema: `results.ProbeRun`), `report.md` and PNG plots under the output
folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..files import REPORT_NAME, RESULTS_NAME
from .metrics import GEOMETRY_METRICS, expected_uniformity_isotropic
from .paper import PAPER
from .protocols import PROTOCOLS
from .results import Cell, ProbeRun, save

logger = logging.getLogger(__name__)

# Alignment is a pair metric, shown next to uniformity (Wang & Isola's pair of measures).
GEOMETRY_COLUMNS = (GEOMETRY_METRICS[0], "alignment", *GEOMETRY_METRICS[1:])
LEXICAL_COLUMNS = ("token_probe_acc", "token_probe_majority", "bow_probe_f1", "probe_gap", "balance")
PROBE_COLUMNS = ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr", "cosine_spearmanr")
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


def _fmt(x: float | None) -> str:
    """Four significant figures, or an en dash for missing values."""
    if x is None:
        return "–"
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.4g}" if abs(x) >= 1 else f"{x:.3f}"


def _fmt_cell(cell: Cell | None) -> str:
    """`value [low, high]`."""
    if cell is None or cell.value is None:
        return "–"
    if cell.ci_low is None:
        return _fmt(cell.value)
    return f"{_fmt(cell.value)} [{_fmt(cell.ci_low)}, {_fmt(cell.ci_high)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _metric_tables(results: ProbeRun, columns: tuple[str, ...]) -> list[str]:
    """Per task: rows model x pooling, the given metric columns that have any value."""
    lines = []
    for task in results.tasks:
        cells = {(m, p): results.results[m][task][p] for m in results.models for p in results.poolings}
        present = [c for c in columns if any(c in v for v in cells.values())]
        if not present:
            continue
        rows = [[m, p, *(_fmt_cell(v.get(c)) for c in present)] for (m, p), v in cells.items()]
        lines += [f"### {task}", "", *_table(["model", "pooling", *present], rows), ""]
    return lines


def _reference_table(results: ProbeRun) -> list[str]:
    """The paper's reference cells next to this run's values, where the run has that task and pooling."""
    rows = []
    for (task, pooling), metrics in PAPER.reference.items():
        if task not in results.tasks or pooling not in results.poolings:
            continue
        for metric, (hybrid, mlm) in metrics.items():
            mine = [_fmt_cell(results.cell(m, task, pooling, metric)) for m in results.models]
            rows.append([f"{task} / {pooling}", metric, _fmt(hybrid), _fmt(mlm), *mine])
    if not rows:
        return []
    header = ["task / pooling", "metric", "paper hybrid", "paper MLM", *results.models]
    return [
        "## The paper's reference numbers",
        "",
        "The paper used a 512-wide encoder, so effective ranks compare only between models of one width.",
        "",
        *_table(header, rows),
        "",
    ]


def markdown_report(results: ProbeRun) -> str:
    """The Markdown report: models, data, claims, geometry, lexical/balance, probes, comparisons, timing."""
    models = results.models
    lines = [
        f"# Representation analysis of {', '.join(models)} (protocol: {results.protocol})",
        "",
        "Values are `estimate [95 % CI]`: percentile paired bootstrap for per-example metrics, subsampling "
        "(half the set, Politis & Romano) for set metrics. Definitions: DESIGN.md, 'Probe and analysis'.",
        "",
        f"Protocol `{results.protocol}`: {PROTOCOLS[results.protocol].note if results.protocol in PROTOCOLS else ''}",
        "",
        "## Models",
        "",
        *_table(
            ["model", "path", "parameters", "hidden size", "isotropic uniformity"],
            [
                [
                    n,
                    f"`{m.path}`",
                    f"{m.num_parameters:,}",
                    str(m.hidden_size or "–"),
                    _fmt(expected_uniformity_isotropic(m.hidden_size)) if m.hidden_size else "–",
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
            [[t, str(d.train), d.eval_split, str(d.eval)] for t, d in results.n_examples.items()],
        ),
        "",
    ]
    if results.claims:
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
                        c.claim,
                        c.paper,
                        f"{c.model_a} vs {c.model_b}",
                        f"**{c.verdict}**",
                        c.evidence,
                    ]
                    for c in results.claims
                ],
            ),
            "",
        ]
    lines += _reference_table(results)
    lines += ["## Geometry", "", *_metric_tables(results, GEOMETRY_COLUMNS)]
    lines += ["## Lexical information and balance", "", *_metric_tables(results, LEXICAL_COLUMNS)]
    lines += ["## Downstream linear probes", "", *_metric_tables(results, PROBE_COLUMNS)]
    shown = [c for c in results.comparisons if c.metric in HEADLINE_METRICS]
    if shown:
        lines += [
            "## Paired comparisons (headline metrics; all metrics in results.json)",
            "",
            *_table(
                ["models", "task", "pooling", "metric", "diff (a - b)", "95 % CI", "p", "p (Holm)", ""],
                [
                    [
                        f"{c.model_a} - {c.model_b}",
                        c.task,
                        c.pooling,
                        c.metric,
                        _fmt(c.diff),
                        f"[{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]",
                        _fmt(c.p_value),
                        _fmt(c.p_holm),
                        "*" if c.significant else "",
                    ]
                    for c in shown
                ],
            ),
            "",
        ]
    timing = results.timing
    lines += [
        "## Timing",
        "",
        *_table(
            ["model", *results.tasks],
            [[m, *(f"{s[t]:.1f} s" for t in results.tasks)] for m, s in timing.encode_seconds.items()],
        ),
        "",
        f"Encoding time per model and task (0 when read from the cache); whole run {timing.total_seconds:.1f} s.",
        "",
    ]
    plots = results.plots
    if plots:
        lines += ["## Plots", "", *(f"![{p}]({p})" for p in plots), ""]
    return "\n".join(lines)


def _styles(results: ProbeRun) -> tuple[dict, dict]:
    """A colour per model and a line style / marker per pooling, shared by every plot."""
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab10")
    colour = {m: colours(i % 10) for i, m in enumerate(results.models)}
    marks = ["-", "--", ":", "-."]
    style = {p: marks[i % len(marks)] for i, p in enumerate(results.poolings)}
    return colour, style


def _errorbar(cell: Cell | None) -> tuple[float, list[float]]:
    """Value and (lower, upper) error bar lengths of a result cell; NaN when missing."""
    if cell is None or cell.value is None:
        return float("nan"), [0.0, 0.0]
    v = cell.value
    lo = v - cell.ci_low if cell.ci_low is not None else 0.0
    hi = cell.ci_high - v if cell.ci_high is not None else 0.0
    return v, [max(lo, 0.0), max(hi, 0.0)]


# Explained-variance ratios below this are rounding noise or exact rank deficits (e.g. LayerNorm outputs of a
# freshly initialised encoder sum to zero, which removes one direction); the spectra plot stops there.
SPECTRUM_FLOOR = 1e-7


def plot_spectra(results: ProbeRun, path: Path) -> None:
    """Eigen-spectra: PCA explained-variance ratio against component rank, log scale, one panel per task."""
    import matplotlib.pyplot as plt

    tasks = results.tasks
    colour, style = _styles(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.6), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for model, by_task in results.spectra.items():
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


def alignment_absent_reason(results: ProbeRun) -> str:
    """Why the results hold no alignment: it needs positive pairs whose two sentences are encoded apart."""
    if not PROTOCOLS.get(results.protocol, PROTOCOLS["standard"]).siamese:
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


def _uniformity_alignment_figure(results: ProbeRun):
    """The figure of `plot_uniformity_alignment` (returned, not saved)."""
    import matplotlib.pyplot as plt

    models, tasks, poolings = list(results.models), results.tasks, results.poolings
    colour, _ = _styles(results)
    markers = dict(zip(poolings, "osD^v<>", strict=False))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    cells = [(t, p) for t in tasks for p in poolings]
    width = 0.8 / len(models)
    bars, extent = [], []
    for i, model in enumerate(models):
        vals, errs = zip(*(_errorbar(results.cell(model, t, p, "uniformity")) for t, p in cells), strict=True)
        x = np.arange(len(cells)) + (i - (len(models) - 1) / 2) * width
        left.bar(x, vals, width, yerr=np.array(errs).T, color=colour[model], label=model, capsize=2)
        bars += [(xi, v, model) for xi, v in zip(x, vals, strict=True)]
        extent += [v - e[0] for v, e in zip(vals, errs, strict=True)]
        extent += [v + e[1] for v, e in zip(vals, errs, strict=True)]
    isotropic = {m: expected_uniformity_isotropic(h) for m in models if (h := results.models[m].hidden_size)}
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
                alignment = results.cell(model, t, p, "alignment")
                uniformity = results.cell(model, t, p, "uniformity")
                if alignment is not None and alignment.value is not None and uniformity is not None:
                    aligned = True
                    right.scatter(alignment.value, uniformity.value, color=colour[model], marker=markers[p])
                    right.annotate(t, (alignment.value, uniformity.value), fontsize=6)
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


def plot_uniformity_alignment(results: ProbeRun, path: Path) -> None:
    """Left: uniformity per task and pooling with 95 % CIs (lower = more uniform), the y-range set by the data
    (an isotropic reference far below it is named in a text), bars too short to see marked with their value.
    Right: alignment against uniformity on pair tasks (Wang & Isola 2020, fig. 5: lower-left is better), or
    why there is none."""
    import matplotlib.pyplot as plt

    fig = _uniformity_alignment_figure(results)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_probes(results: ProbeRun, path: Path) -> None:
    """Top: each task's headline GLUE metric of the downstream probe; bottom: token-probe accuracy with the
    majority baseline; bars per model and pooling with 95 % CIs."""
    import matplotlib.pyplot as plt

    models, tasks, poolings = list(results.models), results.tasks, results.poolings
    colour, _ = _styles(results)
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.6 * len(tasks), 6.5), squeeze=False)
    width = 0.8 / len(models)
    for j, task in enumerate(tasks):
        headline = results.headline_metric(task)
        for row, metric in enumerate((headline, "token_probe_acc")):
            ax = axes[row][j]
            for i, model in enumerate(models):
                cells = [results.cell(model, task, p, metric) for p in poolings]
                vals, errs = zip(*(_errorbar(c) for c in cells), strict=True)
                x = np.arange(len(poolings)) + (i - (len(models) - 1) / 2) * width
                ax.bar(x, vals, width, yerr=np.array(errs).T, color=colour[model], label=model, capsize=2)
                if metric == "token_probe_acc":
                    base = [
                        (results.cell(model, task, p, "token_probe_majority") or Cell(None)).value
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


def write_outputs(results: ProbeRun, output_dir: str | Path, plots: bool = True) -> dict[str, Path]:
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
    results.plots = list(written)
    save(results, out / RESULTS_NAME)
    (out / REPORT_NAME).write_text(markdown_report(results))
    written.update({RESULTS_NAME: out / RESULTS_NAME, REPORT_NAME: out / REPORT_NAME})
    logger.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written
