"""The rules that turn paired differences into verdicts: informative cells, duplicate poolings, equivalence by
TOST, the collapse guard on the embeddings, and seed-level (hierarchical) uncertainty.

A "cell" is one task x pooling x metric comparison of two encoders. The functions here are pure: they read
estimates, intervals and resampling replicates that `significance` computes, and decide which cells may
count towards a claim and how.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from .metrics import rank_fraction
from .significance import directional_verdict

# The headline metric of each GLUE task, the one its claims and informativeness are judged on (Wang et al.
# 2019, table 1; for STS-B the Spearman correlation, which the paper's text reports).
HEADLINE_METRICS: dict[str, str] = {
    "sst2": "accuracy",
    "mrpc": "f1",
    "mnli": "accuracy",
    "cola": "matthews_correlation",
    "stsb": "spearmanr",
}


def headline_metric(task: str, metrics: Sequence[str] = ()) -> str:
    """The headline metric of `task`: `HEADLINE_METRICS` for the five GLUE tasks, else the first of the task's
    own `metrics` (a user's task spec names its headline first).

    Raises:
        ValueError: a task outside the table without metrics, naming the known tasks.
    """
    if task in HEADLINE_METRICS:
        return HEADLINE_METRICS[task]
    if metrics:
        return metrics[0]
    raise ValueError(f"no headline metric for task {task!r}; known tasks: {', '.join(HEADLINE_METRICS)}")


def majority_accuracy(labels: np.ndarray) -> float:
    """Accuracy of the best constant prediction: the largest class frequency, `max_k mean_i [y_i = k]`."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return float(counts.max() / counts.sum()) if counts.size else float("nan")


def all_positive_f1(labels: np.ndarray) -> float:
    """F1 of predicting class 1 for every example: precision p, recall 1, so `F1 = 2p / (1 + p)`.

    p is the positive rate; this is the best F1 a constant prediction reaches (predicting 0 everywhere gives
    F1 0). On MRPC's validation set (p = 0.684) it is 0.812.
    """
    p = float(np.mean(np.asarray(labels) == 1)) if len(labels) else float("nan")
    return 2 * p / (1 + p) if p > 0 else 0.0


def zero_level(labels: np.ndarray) -> float:
    """0: the Matthews correlation of any constant prediction (Matthews 1975; its 0/0 is defined as 0, as in
    `sklearn.metrics.matthews_corrcoef`) and the expected correlation of predictions independent of the gold
    labels (Pearson, Spearman)."""
    return 0.0


# The chance level of each headline metric: what a probe reaches without reading the embeddings.
CHANCE_LEVELS: dict[str, Callable[[np.ndarray], float]] = {
    "accuracy": majority_accuracy,
    "f1": all_positive_f1,
    "matthews_correlation": zero_level,
    "spearmanr": zero_level,
    "pearson": zero_level,
}


def chance_level(metric: str, labels: np.ndarray) -> float:
    """The chance level of `metric` on gold `labels` (`CHANCE_LEVELS`).

    Raises:
        ValueError: naming the metric and listing those with a chance level.
    """
    if metric not in CHANCE_LEVELS:
        raise ValueError(f"no chance level for metric {metric!r}; known metrics: {', '.join(CHANCE_LEVELS)}")
    return CHANCE_LEVELS[metric](labels)


def beats_floor(ci_low: float | None) -> bool:
    """Whether a lift over a floor (chance level or random control) has an interval that excludes 0 from above:
    `ci_low > 0`. An undefined interval (None or NaN) does not beat the floor."""
    return ci_low is not None and bool(np.isfinite(ci_low)) and ci_low > 0.0


def is_informative(lift_ci_lows: Sequence[float | None]) -> bool:
    """A cell is informative when every model compared in it beats its floor (`beats_floor` of each lift).

    Two probes at chance differ by noise, and their "equal accuracy" or "lower lexical score" says nothing
    about the objectives; such a cell cannot count towards a probe claim.
    """
    return len(lift_ci_lows) > 0 and all(beats_floor(lo) for lo in lift_ci_lows)


@dataclass(frozen=True)
class CollapseThresholds:
    """When a set of embeddings counts as collapsed (every text at about one vector).

    Attributes:
        max_anisotropy: mean pairwise cosine at or above which the set is a single direction (Ethayarajh 2019).
        min_rankme_fraction: RankMe (Garrido et al. 2023) at or below this fraction of its maximum
            `min(samples, width)`; a collapsed set has RankMe near 1.
    """

    max_anisotropy: float = 0.99
    min_rankme_fraction: float = 0.03


def embeddings_collapsed(
    anisotropy: float,
    rankme: float,
    n_samples: int,
    width: int,
    thresholds: CollapseThresholds = CollapseThresholds(),
) -> bool:
    """Whether one model's embeddings in one cell are collapsed: anisotropy >= `max_anisotropy` or
    `rankme / min(n_samples, width) <= min_rankme_fraction`. Undefined values do not count as collapse."""
    high = bool(np.isfinite(anisotropy)) and anisotropy >= thresholds.max_anisotropy
    low = (
        bool(np.isfinite(rankme))
        and rank_fraction(rankme, n_samples, width) <= thresholds.min_rankme_fraction
    )
    return high or low


def duplicate_poolings(fingerprints: Mapping[str, Sequence[float]], rtol: float = 1e-6) -> dict[str, str]:
    """Poolings whose embeddings are numerically the same as an earlier pooling's: pooling -> that pooling.

    `fingerprints[pooling]` is a vector of set metrics of that pooling's embeddings (every model's uniformity,
    anisotropy, ranks ... in one task); two poolings are the same when their fingerprints agree to `rtol`
    (`np.allclose`). The paper's `weighted` pooling normalises the attention mask, so it is the masked mean up
    to rounding; rounding (1e-9 here) still flips a few predictions of an unconverged probe, so the probe
    scores are not the test, the embeddings are. The first pooling in order is kept.
    """
    kept: list[str] = []
    same: dict[str, str] = {}
    for pooling, vector in fingerprints.items():
        x = np.asarray(vector, dtype=np.float64)
        match = next(
            (
                k
                for k in kept
                if np.shape(fingerprints[k]) == x.shape
                and np.allclose(
                    np.asarray(fingerprints[k], dtype=np.float64), x, rtol=rtol, atol=0.0, equal_nan=True
                )
            ),
            None,
        )
        if match is None:
            kept.append(pooling)
        else:
            same[pooling] = match
    return same


def tost_equivalent(ci_low: float | None, ci_high: float | None, margin: float) -> bool:
    """Equivalence within `+-margin` by two one-sided tests at level alpha (Schuirmann 1987).

    Both H0: d <= -margin and H0: d >= margin are rejected at alpha exactly when the `1 - 2 alpha` interval of d
    lies inside `(-margin, margin)`, so for alpha = 0.05 pass the 90 % interval. An undefined interval is not
    equivalence.
    """
    if ci_low is None or ci_high is None or not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return False
    return -margin < ci_low and ci_high < margin


def tost_p_value(replicates: np.ndarray, margin: float) -> float:
    """TOST p-value from bootstrap replicates of the difference: `max(p_lower, p_upper)` with
    `p_lower = (1 + #{d*_b <= -margin}) / (B + 1)` and `p_upper = (1 + #{d*_b >= margin}) / (B + 1)`.

    `p < alpha` exactly when the percentile interval at `1 - 2 alpha` lies inside `(-margin, margin)`, up to the
    +1 of Davison & Hinkley 1997 (eq. 4.11) that keeps p > 0. NaN replicates are dropped.
    """
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    lower = (1 + np.sum(r <= -margin)) / (r.size + 1)
    upper = (1 + np.sum(r >= margin)) / (r.size + 1)
    return float(max(lower, upper))


def rescale_normal_interval(
    estimate: float, ci_low: float, ci_high: float, from_level: float, to_level: float
) -> tuple[float, float]:
    """An interval at `to_level` from one at `from_level`, assuming a normal sampling law:
    each half-width scales by `z_{(1+to)/2} / z_{(1+from)/2}` (95 % -> 90 %: 1.645 / 1.960).

    For results that stored only 95 % intervals; new runs compute the 90 % percentile interval directly.
    """
    scale = norm.ppf((1 + to_level) / 2) / norm.ppf((1 + from_level) / 2)
    return estimate - scale * (estimate - ci_low), estimate + scale * (ci_high - estimate)


def hierarchical_replicates(
    replicates_a: np.ndarray, replicates_b: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Two-stage (hierarchical) bootstrap of the difference of two arms' means over pre-training seeds.

    `replicates_a[s, b]` is seed s's statistic on sentence resample b (the same B index sets for every seed and
    both arms: the paired design). Replicate b draws S_a seeds of arm a and S_b of arm b with replacement and
    returns `mean_{s in draw_a} R_a[s, b] - mean_{t in draw_b} R_b[t, b]`: resample the top level (seeds), then
    the bottom level (sentences) within the drawn seeds (Davison & Hinkley 1997, sec. 3.8, strategy 1; Field &
    Welsh 2007). With one seed per arm it is the paired sentence bootstrap. With S seeds the seed-level variance
    is shrunk by (S - 1) / S, so with 2-3 seeds the interval is a lower bound on the uncertainty.

    Args:
        replicates_a: (S_a, B) float; replicates_b: (S_b, B) float.

    Returns:
        (B,) float64 replicates of the difference of arm means.
    """
    ra, rb = np.atleast_2d(np.asarray(replicates_a, float)), np.atleast_2d(np.asarray(replicates_b, float))
    if ra.shape[1] != rb.shape[1]:
        raise ValueError(
            f"both arms need the same sentence resamples, got B = {ra.shape[1]} and {rb.shape[1]}"
        )
    n_rep = ra.shape[1]
    cols = np.arange(n_rep)
    draw_a = rng.integers(0, ra.shape[0], size=(n_rep, ra.shape[0]))  # (B, S_a) seeds drawn per replicate
    draw_b = rng.integers(0, rb.shape[0], size=(n_rep, rb.shape[0]))
    mean_a = ra[draw_a, cols[:, None]].mean(1)  # (B,)
    mean_b = rb[draw_b, cols[:, None]].mean(1)
    return mean_a - mean_b


def bootstrap_scale_replicates(
    kind: str, estimate: float, replicates: np.ndarray, n: int, m: int
) -> np.ndarray:
    """Replicates on the scale of a sample of size n, so that seeds of either resampling kind can be pooled.

    Bootstrap replicates are returned as they are. Subsampling replicates `t_b` (m of n points) become
    `estimate + s (t_b - t_bar)`, `s = sqrt(m / (n - m))`, whose spread is that of `t_n` (Politis & Romano 1994;
    see `significance.subsampling_interval`).
    """
    from .significance import KINDS, _subsampling_scale

    r = np.asarray(replicates, dtype=np.float64)
    if kind == "bootstrap":
        return r
    if kind == "subsampling":
        finite = r[np.isfinite(r)]
        centre = finite.mean() if finite.size else np.nan
        return estimate + _subsampling_scale(n, m) * (r - centre)
    raise ValueError(f"unknown resampling kind {kind!r}; valid kinds: {', '.join(KINDS)}")


@dataclass(frozen=True)
class SeedDifference:
    """The difference of two arms' means over pre-training seeds, with seed-and-sentence intervals.

    Attributes:
        diff: mean over arm a's seeds minus mean over arm b's seeds.
        ci_low, ci_high: the `level` percentile interval of the hierarchical replicates.
        ci90_low, ci90_high: the 90 % interval (for TOST).
        p_value: two-sided p of H0: diff = 0 (`seed_level_difference`).
        seeds: (S_a, S_b).
    """

    diff: float
    ci_low: float
    ci_high: float
    ci90_low: float
    ci90_high: float
    p_value: float
    seeds: tuple[int, int]


def seed_level_difference(
    values_a: Sequence[float],
    replicates_a: np.ndarray,
    values_b: Sequence[float],
    replicates_b: np.ndarray,
    rng: np.random.Generator,
    level: float = 0.95,
    normal_reference: bool = False,
) -> SeedDifference:
    """`hierarchical_replicates` turned into an estimate, intervals and a p-value.

    The p-value counts the replicates shifted to the null (`significance.bootstrap_p_value`), or, with
    `normal_reference`, is `2 (1 - Phi(|diff| / sd))` over the replicates' standard deviation. A count over B
    replicates cannot go below 1 / (B + 1): with the 100 subsamples a set metric (uniformity, effective rank)
    affords, Holm's correction over 20 cells would need p < 0.0025 and no cell could ever be significant. Set
    metrics therefore take the normal reference, as their one-seed comparisons do
    (`significance.subsampling_p_value`).

    Args:
        values_a: (S_a,) the metric of each seed of arm a on all sentences; replicates_a: (S_a, B) its
            replicates on the shared sentence resamples, on the bootstrap scale (`bootstrap_scale_replicates`).
        normal_reference: the p-value from the normal reference instead of the count.
    """
    from scipy.special import erfc

    from .significance import bootstrap_p_value, percentile_interval

    diff = float(np.mean(values_a) - np.mean(values_b))
    reps = hierarchical_replicates(replicates_a, replicates_b, rng)
    lo, hi = percentile_interval(reps, level)
    lo90, hi90 = percentile_interval(reps, 0.90)
    seeds = (int(np.atleast_2d(replicates_a).shape[0]), int(np.atleast_2d(replicates_b).shape[0]))
    if normal_reference:
        finite = reps[np.isfinite(reps)]
        sd = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
        p = float(erfc(abs(diff) / (sd * np.sqrt(2.0)))) if sd > 0 else float(diff == 0.0)
    else:
        p = bootstrap_p_value(diff, reps)
    return SeedDifference(diff, lo, hi, lo90, hi90, p, seeds)


@dataclass(frozen=True)
class ClaimCell:
    """One task x pooling x metric comparison as the claim logic reads it (diff = first model - second).

    Attributes:
        ci_low, ci_high: 95 % interval; significant: Holm-corrected p < 0.05 within the metric.
        ci90_low, ci90_high: 90 % interval, for TOST (NaN where not computed: no equivalence then).
        informative: both models' downstream probes beat their floor in this task x pooling (`is_informative`).
        collapsed: either model's embeddings are collapsed there (`embeddings_collapsed`).
        probes_at_majority: either model's token probe sits at its majority baseline there.
    """

    task: str
    pooling: str
    metric: str
    diff: float
    ci_low: float
    ci_high: float
    significant: bool
    ci90_low: float = float("nan")
    ci90_high: float = float("nan")
    informative: bool = True
    collapsed: bool = False
    probes_at_majority: bool = False


# Every verdict `decide_claim` gives.
VERDICTS = (
    "supported",
    "contradicted",
    "mixed",
    "inconclusive",
    "degenerate",
    "uninformative",
    "not measured",
)


@dataclass(frozen=True)
class Decision:
    """A claim's verdict and the counts behind it.

    Attributes:
        verdict: one of `VERDICTS`.
        evidence: one sentence with the counts and the median difference.
        cells: cells of the claim after duplicate poolings are dropped.
        informative: of those, the cells that count (`decide_claim`).
        duplicates: cells dropped because their pooling repeats another's embeddings.
        seeds: pre-training seeds per arm behind the intervals.
    """

    verdict: str
    evidence: str
    cells: int
    informative: int
    duplicates: int
    seeds: tuple[int, int] = (1, 1)


def _equivalence(equivalent: int, outside: int, k: int) -> str:
    """An equivalence verdict: every cell equivalent by TOST, or some cell's difference beyond the margin."""
    return "contradicted" if outside else "supported" if k and equivalent == k else "inconclusive"


def decide_claim(
    claim,
    cells: Sequence[ClaimCell],
    duplicates: Mapping[str, Mapping[str, str]] | None = None,
    seeds: tuple[int, int] = (1, 1),
) -> Decision:
    """The verdict on one claim from its cells.

    1. Cells of the claim: its metrics (and poolings), with a finite difference; a cell whose pooling
       `duplicates[task]` names as a copy of another pooling is dropped (counted once, under the other).
    2. Cells that count: embeddings not collapsed in either model and, for probe claims (`claim.probes`), the
       cell informative (both downstream probes beat their floor). Every other cell is set aside.
    3. Directional claims (`claim.direction` +-1): "supported" when more than half of the counted cells are
       significant (Holm, 5 %) in the claimed direction and none against, "contradicted" for the reverse,
       "mixed" when both occur, else "inconclusive". Equivalence (direction 0): two one-sided tests at 5 %,
       i.e. the 90 % interval inside `+-claim.margin` (Schuirmann 1987); "supported" when every counted cell
       is equivalent, "contradicted" when some counted cell's 90 % interval lies wholly beyond the margin
       (the difference exceeds it, one-sided 5 %). The intersection-union rule (every cell must pass) needs
       no multiplicity correction (Berger 1982).
    4. Degeneracy guard (probe claims): a counted cell where a token probe sits at its majority baseline
       cannot support the claim (a collapsed encoder loses lexical information for free), but still counts
       against it.
    5. No counted cell: "uninformative". When the verdict is undecided but the same rule on every cell of
       step 1 (nothing set aside) would support or contradict the claim, the verdict is "degenerate": only
       uninformative or collapsed cells carried that decision.

    Args:
        claim: a claim with name, metrics, direction, poolings, margin, probes.
        duplicates: task -> {duplicate pooling: pooling it repeats} (`duplicate_poolings`).
        seeds: pre-training seeds per arm behind the intervals, for the evidence.
    """
    duplicates = duplicates or {}
    selected = [
        c
        for c in cells
        if c.metric in claim.metrics
        and (claim.poolings is None or c.pooling in claim.poolings)
        and c.diff is not None
        and np.isfinite(c.diff)
    ]
    kept = [c for c in selected if c.pooling not in duplicates.get(c.task, {})]
    n_dup, k = len(selected) - len(kept), len(kept)
    if k == 0:
        return Decision("not measured", "no cell measured", 0, 0, n_dup, seeds)
    counted = [c for c in kept if not c.collapsed and (c.informative or not claim.probes)]
    n = len(counted)

    def tally(group: Sequence[ClaimCell], guard: bool) -> tuple[str, int, int, int]:
        """(verdict, cells for, of them set aside by the guard, cells against) over `group`."""
        if claim.direction == 0:
            ok = [tost_equivalent(c.ci90_low, c.ci90_high, claim.margin) for c in group]
            against = sum(c.ci90_low > claim.margin or c.ci90_high < -claim.margin for c in group)
        else:
            ok = [bool(c.significant) and np.sign(c.diff) == claim.direction for c in group]
            against = sum(bool(c.significant) and np.sign(c.diff) == -claim.direction for c in group)
        guarded = sum(
            o and guard and claim.probes and c.probes_at_majority for o, c in zip(ok, group, strict=True)
        )
        support = sum(ok) - guarded
        rule = _equivalence if claim.direction == 0 else directional_verdict
        return rule(support, against, len(group)), sum(ok), guarded, against

    verdict, agree, guarded, against = tally(counted, guard=True) if n else ("uninformative", 0, 0, 0)
    unguarded = tally(kept, guard=False)[0]
    median = float(np.median([c.diff for c in counted or kept]))
    if claim.direction == 0:
        counts = f"{agree}/{n} equivalent within +-{claim.margin:g} (TOST, 90 % CI), {against} beyond it"
    else:
        want = "higher" if claim.direction > 0 else "lower"
        counts = f"{agree}/{n} significantly {want} for the first model (Holm, 5 %), {against} the other way"
    if guarded:
        counts += (
            f"; {guarded} of the {agree} with a token probe at its majority baseline, not counted as support"
        )
    dup = f", {n_dup} duplicate pooling cells counted once" if n_dup else ""
    evidence = f"{n} of {k} cells informative{dup}; {counts}; median difference {median:+.4f}"
    if max(seeds) == 1:
        evidence += "; one pre-training seed per arm: intervals cover sentences, not training runs"
    elif min(seeds) == 1:
        evidence += (
            f"; seeds {seeds[0]} vs {seeds[1]}: the one-seed arm's training-run variation is not covered"
        )
    if verdict in ("inconclusive", "uninformative") and unguarded in ("supported", "contradicted"):
        verdict, evidence = (
            "degenerate",
            f"{unguarded} only through uninformative or degenerate cells: {evidence}",
        )
    return Decision(verdict, evidence, k, n, n_dup, seeds)


def lift_ci_low(est, level: float = 0.95) -> float:
    """Lower end of the interval of one model's `probe_lift` (headline metric minus its chance level) in one
    task x pooling; NaN when the cell has no downstream probe. `est` is a `significance.Estimates`."""
    if "probe_lift" not in est.values:
        return float("nan")
    return est.interval("probe_lift", level)[0]


def is_collapsed(est, width: int, thresholds: CollapseThresholds = CollapseThresholds()) -> bool:
    """`embeddings_collapsed` of one model's `significance.Estimates` in one task x pooling (its geometry sample
    has `est.n` rows of `width` dimensions)."""
    nan = float("nan")
    return embeddings_collapsed(
        est.values.get("anisotropy", nan), est.values.get("rankme", nan), est.n, width, thresholds
    )


def arm_difference(arm_a: Sequence, arm_b: Sequence, metric: str, rng: np.random.Generator) -> SeedDifference:
    """`seed_level_difference` of one metric between two arms, each a list of per-seed
    `significance.Estimates` of one task x pooling computed on the same resamples; a metric measured by
    subsampling (a set metric) takes the normal-reference p-value."""

    def stack(arm: Sequence) -> tuple[list[float], np.ndarray]:
        values = [e.values[metric] for e in arm]
        reps = [
            bootstrap_scale_replicates(e.kinds[metric], e.values[metric], e.replicates[metric], e.n, e.m)
            for e in arm
        ]
        return values, np.stack(reps)

    (va, ra), (vb, rb) = stack(arm_a), stack(arm_b)
    subsampled = any(e.kinds[metric] == "subsampling" for e in (*arm_a, *arm_b))
    return seed_level_difference(va, ra, vb, rb, rng, normal_reference=subsampled)
