"""Outputs of the probe: `results.json` (schema: `results.ProbeRun`), `report.md` and PNG plots under the output
folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..files import REPORT_NAME, RESULTS_NAME
from .claims import duplicate_poolings
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
        "(half the set, Politis & Romano) for set metrics. Definitions: the docstrings of `modeling_jepa_mlm.analysis.metrics`.",
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
            "The first model (arm) plays the paper's hybrid; each cell is a task x pooling difference, "
            "Holm-corrected within each metric. A cell counts only if it is informative: neither model's "
            "embeddings collapsed (anisotropy >= 0.99 or RankMe <= 3 % of min(samples, width)) and, for probe "
            "claims, both models' downstream probes above chance on the task's headline metric (95 % interval "
            "of the lift above 0; above the random control's too when one is named). Poolings whose embeddings "
            "repeat another's (`weighted` = `mean`) are counted once. Similar probe accuracy is tested by TOST "
            "(90 % interval inside the margin). `seeds`: pre-training runs per arm behind the intervals; with "
            "one, the intervals cover the sentences, not the training run.",
            "",
            *_table(
                ["claim", "paper", "models", "verdict", "informative cells", "seeds", "evidence"],
                [
                    [
                        c.claim,
                        c.paper,
                        f"{c.model_a} vs {c.model_b}",
                        f"**{c.verdict}**",
                        "–" if c.cells is None else f"{c.informative} of {c.cells}",
                        " vs ".join(map(str, c.seeds or (1, 1))),
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


def distinct_poolings(results: ProbeRun) -> dict[str, list[str]]:
    """Pooling shown -> the poolings whose embeddings it stands for (itself first): a pooling that repeats
    another's set metrics in every task and model (`weighted` = `mean`) is drawn once, under the first."""
    res = results.results
    same: dict[str, str] = {}
    for task in results.tasks:
        fingerprints = {
            p: [res[m][task][p][k].value for m in res for k in GEOMETRY_METRICS if k in res[m][task][p]]
            for p in results.poolings
        }
        found = duplicate_poolings(fingerprints)
        same = found if task == results.tasks[0] else {p: q for p, q in same.items() if found.get(p) == q}
    groups: dict[str, list[str]] = {}
    for pooling in results.poolings:
        groups.setdefault(same.get(pooling, pooling), []).append(pooling)
    return groups


# Explained-variance ratios below this are invisible on a page and mostly rounding or rank deficits (LayerNorm
# outputs of a freshly initialised encoder sum to zero, which removes one direction); the spectra stop there.
SPECTRUM_FLOOR = 1e-5


def plot_spectra(results: ProbeRun, path: Path) -> None:
    """Eigen-spectra: PCA explained-variance ratio against component rank, log-log, one panel per task (rows)
    and pooling (columns, duplicates of another pooling drawn once), one curve per model."""
    import matplotlib.pyplot as plt

    tasks, groups = results.tasks, distinct_poolings(results)
    colour, _ = _styles(results)
    fig, axes = plt.subplots(
        len(tasks),
        len(groups),
        figsize=(2.6 * len(groups) + 0.6, 2.0 * len(tasks) + 0.8),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for i, task in enumerate(tasks):
        for j, (pooling, members) in enumerate(groups.items()):
            ax = axes[i][j]
            for model, by_task in results.spectra.items():
                s = np.asarray(by_task[task][pooling], dtype=float)
                s = s[s > SPECTRUM_FLOOR]
                ax.loglog(np.arange(1, len(s) + 1), s, color=colour[model], lw=1.4, label=model)
            ax.set_ylim(bottom=SPECTRUM_FLOOR)
            ax.grid(True, which="major", alpha=0.3)
            ax.tick_params(labelsize=8)
            if i == 0:
                ax.set_title(" = ".join(members), fontsize=10)
            if j == 0:
                ax.set_ylabel(f"{task}\nexplained variance", fontsize=9)
            if i == len(tasks) - 1:
                ax.set_xlabel("component", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("Eigen-spectra of the eval embeddings (flatter = richer)", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=130)
    plt.close(fig)


# A bar shorter than this fraction of the axis range is drawn with a marker and its value printed.
SHORT_BAR_FRACTION = 0.02


def alignment_absent_reason(results: ProbeRun) -> str:
    """Why the results hold no alignment: it needs positive pairs whose two sentences are encoded apart."""
    if not PROTOCOLS.get(results.protocol, PROTOCOLS["standard"]).siamese:
        return (
            "No alignment under protocol `paper`:\nit encodes each pair as one sequence,\nwhile alignment "
            "needs the two sentences\nof positive pairs encoded apart\n(pair tasks, standard protocol)."
        )
    return (
        "No alignment in these results:\nit needs positive pairs, the two\nsentences encoded apart "
        "(pair tasks\nMRPC, MNLI, STS-B under the\nstandard protocol)."
    )


def _uniformity_limits(values: list[float], references: list[float]) -> tuple[float, float]:
    """y-limits of the uniformity bars: the data (values and interval ends) and 0, plus the isotropic
    references that would at most double that range (the others are named in the axis label instead)."""
    finite = [v for v in values if np.isfinite(v)] or [0.0]
    low, high = min(min(finite), 0.0), max(max(finite), 0.0)
    span = max(high - low, 0.05)
    low = min([low, *(r for r in references if r >= low - span)])
    span = max(high - low, 0.05)
    return low - 0.06 * span, high + 0.06 * span


def _uniformity_alignment_figure(results: ProbeRun):
    """The figure of `plot_uniformity_alignment` (returned, not saved)."""
    import matplotlib.pyplot as plt

    models, tasks = list(results.models), results.tasks
    groups = distinct_poolings(results)
    colour, _ = _styles(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    cells = [(t, p) for t in tasks for p in groups]
    width = 0.8 / len(models)
    extent, bars = [], []
    for i, model in enumerate(models):
        vals, errs = zip(*(_errorbar(results.cell(model, t, p, "uniformity")) for t, p in cells), strict=True)
        x = np.arange(len(cells)) + (i - (len(models) - 1) / 2) * width
        left.bar(x, vals, width, yerr=np.array(errs).T, color=colour[model], label=model, capsize=1.5)
        bars += [(xi, v, model) for xi, v in zip(x, vals, strict=True)]
        extent += [v - e[0] for v, e in zip(vals, errs, strict=True)]
        extent += [v + e[1] for v, e in zip(vals, errs, strict=True)]
    isotropic = {m: expected_uniformity_isotropic(h) for m in models if (h := results.models[m].hidden_size)}
    low, high = _uniformity_limits(extent, list(isotropic.values()))
    left.set_ylim(low, high)
    shown = sorted({r for r in isotropic.values() if r >= low})
    hidden = sorted({round(r, 3) for r in isotropic.values() if r < low})
    for ref in shown:
        left.axhline(ref, color="grey", ls=":", lw=1)
    left.axhline(0.0, color="black", lw=0.6)
    # Bars too short to see (a collapsed encoder's uniformity is about 0): a marker and the value.
    short = SHORT_BAR_FRACTION * (high - low)
    for xi, v, model in bars:
        if np.isfinite(v) and abs(v) < short:
            left.scatter(xi, v, color=colour[model], edgecolors="black", s=14, zorder=3, linewidths=0.5)
            left.annotate(
                f"{v:.3f}", (xi, v), xytext=(0, -4), textcoords="offset points", fontsize=6, rotation=90,
                ha="center", va="top",
            )  # fmt: skip
    left.set_xticks(
        np.arange(len(cells)),
        [f"{t} {' = '.join(groups[p])}" for t, p in cells],
        fontsize=8,
        rotation=45,
        ha="right",
    )
    note = f" (isotropic {', '.join(f'{r:.2f}' for r in hidden)}: below the axis)" if hidden else ""
    left.set_ylabel("uniformity (lower = more uniform)" + ("\n" + note.strip() if note else ""), fontsize=9)
    handles, _ = left.get_legend_handles_labels()
    if shown:
        handles.append(plt.Line2D([], [], color="grey", ls=":", label="isotropic value for the width"))
    # above the panel, so it never covers a bar; it stands in for the title
    left.legend(
        handles=handles,
        fontsize=8,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(handles),
        frameon=False,
    )
    pooling = next(iter(groups))
    markers = dict(zip(tasks, "osD^v<>", strict=False))
    aligned = False
    for model in models:
        for t in tasks:
            cell = results.results[model][t][pooling]
            if getattr(cell.get("alignment"), "value", None) is not None:
                aligned = True
                right.scatter(
                    cell["alignment"].value,
                    cell["uniformity"].value,
                    color=colour[model],
                    marker=markers[t],
                    s=40,
                )
    right.set_title(f"Alignment vs uniformity ({' = '.join(groups[pooling])} pooling)", fontsize=10)
    if not aligned:
        right.text(
            0.5,
            0.5,
            alignment_absent_reason(results),
            ha="center",
            va="center",
            fontsize=8,
            transform=right.transAxes,
        )
        right.axis("off")
        return fig
    handles = [plt.Line2D([], [], color=colour[m], marker="o", ls="", label=m) for m in models]
    handles += [
        plt.Line2D([], [], color="grey", marker=markers[t], ls="", label=t)
        for t in tasks
        if getattr(results.results[models[0]][t][pooling].get("alignment"), "value", None) is not None
    ]
    right.legend(handles=handles, fontsize=8, frameon=False, loc="best")
    right.set_xlabel("alignment of positive pairs (lower = better)", fontsize=9)
    right.set_ylabel("uniformity", fontsize=9)
    return fig


def plot_uniformity_alignment(results: ProbeRun, path: Path) -> None:
    """Left: uniformity per task and pooling with 95 % CIs (lower = more uniform), duplicate poolings drawn once,
    the y-range set by the data (an isotropic reference far below it is named in the axis label). Right:
    alignment against uniformity on pair tasks, first pooling, marker = task (Wang & Isola 2020, fig. 5:
    lower-left is better), or why there is none."""
    import matplotlib.pyplot as plt

    fig = _uniformity_alignment_figure(results)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_probes(results: ProbeRun, path: Path) -> None:
    """Each task's headline metric of the downstream probe (`claims.HEADLINE_METRICS`: MCC for CoLA, F1 for
    MRPC, Spearman for STS-B, accuracy otherwise): a point with its 95 % CI per model and pooling (points, not
    bars, so the axis can start near the data), a dashed line at the chance level (`probe_chance`, where the
    results have it) and the random control (`--random_control`) as a black line at its value per pooling."""
    import matplotlib.pyplot as plt

    tasks, groups = results.tasks, distinct_poolings(results)
    control = results.settings.get("random_control")
    models = [m for m in results.models if m != control]
    colour, _ = _styles(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(2.7 * len(tasks) + 0.4, 3.3), squeeze=False)
    step = 0.7 / max(len(models), 1)
    for ax, task in zip(axes[0], tasks, strict=True):
        metric = results.headline_metric(task)
        for i, model in enumerate(models):
            cells = [results.results[model][task][p].get(metric) for p in groups]
            vals, errs = zip(*(_errorbar(c) for c in cells), strict=True)
            x = np.arange(len(groups)) + (i - (len(models) - 1) / 2) * step
            ax.errorbar(
                x, vals, yerr=np.array(errs).T, fmt="o", ms=4, color=colour[model], label=model, capsize=2
            )
        if control is not None:
            for j, p in enumerate(groups):
                v = getattr(results.results[control][task][p].get(metric), "value", None)
                if v is not None:
                    ax.hlines(
                        v,
                        j - 0.42,
                        j + 0.42,
                        color="black",
                        lw=1.6,
                        label="random control" if j == 0 else None,
                    )
        chance = getattr(
            results.results[models[0]][task][next(iter(groups))].get("probe_chance"), "value", None
        )
        if chance is not None:
            ax.axhline(chance, color="crimson", ls="--", lw=1.2, label="chance")
        labels = [" = ".join(m).replace("first_last_mean", "first-last") for m in groups.values()]
        ax.set_xticks(np.arange(len(groups)), labels, fontsize=8, rotation=30, ha="right")
        ax.set_xlim(-0.5, len(groups) - 0.5)
        ax.set_title(f"{task}: {metric.replace('matthews_correlation', 'MCC')}", fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle("Linear probes on frozen embeddings: each task's headline metric (95 % CI)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=130)
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
