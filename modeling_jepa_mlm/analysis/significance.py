"""Paired uncertainty for comparing encoders: bootstrap and subsampling intervals, p-values, Holm, claim verdicts.

Two encoders are compared on the same sentences, so every resample draws one set of indices and evaluates
both encoders on it (a paired design): the spread of the difference then excludes the variation of the
sentences themselves.

- Per-example metrics (probe scores, alignment, the balance): the paired bootstrap (Efron & Tibshirani
  1993; Koehn 2004; Berg-Kirkpatrick et al. 2012), percentile intervals.
- Set metrics (uniformity, anisotropy, the spectral ranks), which are not means of per-example terms and
  whose bootstrap is distorted by duplicated rows (a duplicated embedding is a zero distance and a repeated
  singular direction): subsampling without replacement (Politis & Romano 1994) of half the set, with
  intervals rescaled from subsample size m to sample size n by the finite-population factor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .paper import PAPER, Claim
from .results import ClaimVerdict, Comparison

KINDS = ("bootstrap", "subsampling")


def bootstrap_indices(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(B, n) int64: each row n draws with replacement from range(n)."""
    return rng.integers(0, n, size=(n_resamples, n))


def subsample_indices(n: int, m: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(B, m) int64: each row m distinct draws from range(n), sorted (subsampling without replacement)."""
    if not 1 <= m <= n:
        raise ValueError(f"subsample size m must be in [1, n={n}], got {m}")
    return np.sort(np.argsort(rng.random((n_resamples, n)), axis=1)[:, :m], axis=1)


def replicate(
    statistic: Callable[[np.ndarray], dict[str, float]], index_sets: np.ndarray
) -> dict[str, np.ndarray]:
    """Evaluate `statistic(indices) -> {metric: value}` on every row of `index_sets`; metric -> (B,) float64."""
    rows = [statistic(idx) for idx in index_sets]
    return {name: np.array([r[name] for r in rows], dtype=np.float64) for name in (rows[0] if rows else {})}


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval: the (1-level)/2 and (1+level)/2 quantiles of the replicates (NaNs dropped)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_p_value(estimate: float, replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value of H0: difference = 0, from the replicates shifted to the null.

    `p = (1 + #{b: |d*_b - d| >= |d|}) / (B + 1)` (Efron & Tibshirani 1993, sec. 16.4; the +1 keeps p > 0
    as in Davison & Hinkley 1997, eq. 4.11).
    """
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0 or not np.isfinite(estimate):
        return float("nan")
    return float((1 + np.sum(np.abs(r - estimate) >= abs(estimate))) / (r.size + 1))


def _subsampling_scale(n: int, m: int) -> float:
    """`sqrt(m / (n - m))`: maps the spread of `t_m - t_n` to that of `t_n - theta`.

    For a mean, drawing m of n without replacement gives `Var(t_m - t_n) = sigma^2 (1/m - 1/n)` while
    `Var(t_n) = sigma^2 / n`; their ratio is `m / (n - m)` (the delete-d jackknife factor of Shao & Wu 1989,
    with d = n - m). For m << n this is Politis & Romano's `sqrt(m / n)` rate correction.
    """
    if not 1 <= m < n:
        raise ValueError(f"subsample size m must be in [1, n={n}), got {m}")
    return float(np.sqrt(m / (n - m)))


def subsampling_interval(
    estimate: float, replicates: np.ndarray, n: int, m: int, level: float = 0.95
) -> tuple[float, float]:
    """Subsampling interval for the statistic at sample size n (Politis & Romano 1994; Shao & Wu 1989).

    With subsample statistics `t_b` on m of the n points, their mean `t_bar` and `s = sqrt(m / (n - m))`,
    the centred roots `s (t_b - t_bar)` estimate the law of `t_n - E t_n`, so the interval is
    `[t_n - s q_hi, t_n - s q_lo]`, q the quantiles of `t_b - t_bar` (the delete-d jackknife centring).
    Centring on `t_bar` rather than `t_n` leaves out the shift between sizes m and n: set metrics such as the
    effective rank grow with the number of points, and the interval is meant for comparing models at the same
    n, not for extrapolating to infinitely many sentences.
    """
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    scale = _subsampling_scale(n, m)
    q_lo, q_hi = np.quantile(r - r.mean(), [(1 - level) / 2, (1 + level) / 2])
    return float(estimate - scale * q_hi), float(estimate - scale * q_lo)


def subsampling_p_value(estimate: float, replicates: np.ndarray, n: int, m: int) -> float:
    """Two-sided test of H0: E t_n = 0 from the subsampling standard error, with a normal reference.

    `se = s * sd(t_b)`, `s = sqrt(m / (n - m))` (the delete-d jackknife variance of Shao & Wu 1989), and
    `p = 2 (1 - Phi(|t_n| / se))`. A count-based p-value over B subsamples cannot go below 1 / (B + 1), which
    with the few subsamples that set metrics afford (each one is an SVD) would make Holm's correction over
    20 cells unreachable; the normal reference keeps p continuous.
    """
    from scipy.special import erfc

    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 2 or not np.isfinite(estimate):
        return float("nan")
    se = _subsampling_scale(n, m) * float(np.std(r, ddof=1))
    if se == 0.0:
        return 1.0 if estimate == 0.0 else 0.0
    return float(erfc(abs(estimate) / (se * np.sqrt(2.0))))


def interval(
    kind: str, estimate: float, replicates: np.ndarray, n: int, m: int, level: float = 0.95
) -> tuple[float, float]:
    """The interval of `kind` ("bootstrap": percentile; "subsampling": Politis-Romano)."""
    if kind == "bootstrap":
        return percentile_interval(replicates, level)
    if kind == "subsampling":
        return subsampling_interval(estimate, replicates, n, m, level)
    raise ValueError(f"unknown resampling kind {kind!r}; valid kinds: {', '.join(KINDS)}")


def p_value(kind: str, estimate: float, replicates: np.ndarray, n: int, m: int) -> float:
    """The two-sided p-value of H0: estimate = 0 for resampling `kind`."""
    if kind == "bootstrap":
        return bootstrap_p_value(estimate, replicates)
    if kind == "subsampling":
        return subsampling_p_value(estimate, replicates, n, m)
    raise ValueError(f"unknown resampling kind {kind!r}; valid kinds: {', '.join(KINDS)}")


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), controlling the family-wise error rate.

    Sorted ascending `p_(1) <= ... <= p_(k)`: `p~_(i) = max_{j <= i} min(1, (k - j + 1) p_(j))`, returned in the
    input order. NaNs stay NaN and do not count towards k.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    k = finite.size
    if k == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    adjusted = np.minimum(1.0, (k - np.arange(k)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


# The paper's claims (`paper.yaml`), tested by `claim_verdict`.
CLAIMS: tuple[Claim, ...] = PAPER.claims
# Every verdict `claim_verdict` gives.
VERDICTS = ("supported", "contradicted", "mixed", "inconclusive", "degenerate", "not measured")
DEGENERATE_REASON = "probes at the majority class (collapsed representations)"


def _set_aside(n: int) -> str:
    """The evidence's note on the cells that the degeneracy guard does not count as support."""
    return f" ({n} of them with {DEGENERATE_REASON}, not counted as support)" if n else ""


def directional_verdict(agree: int, against: int, k: int) -> str:
    """The verdict of a directional claim from its cells counted for (`agree`) and against it, of `k`."""
    if agree and against:
        return "mixed"
    if agree > k / 2:
        return "supported"
    if against > k / 2 and not agree:
        return "contradicted"
    return "inconclusive"


def claim_verdict(
    claim: Claim, comparisons: Sequence[Comparison], model_a: str = "", model_b: str = ""
) -> ClaimVerdict:
    """Verdict on one claim from the comparisons (one per task x pooling x metric cell) of two models.

    Directional claims count cells whose Holm-corrected difference is significant, per sign:
    "supported" when more than half of the cells are significant in the claimed direction and none against
    it, "contradicted" for the reverse, "mixed" when both occur, "inconclusive" otherwise. The equivalence
    claim (direction 0) is "supported" when every cell's 95 % interval of the difference lies inside
    `[-margin, margin]`, "contradicted" when some interval lies wholly outside it, else "inconclusive".

    Degeneracy guard (claims with `probes`): a cell flagged `probes_at_majority` (either model's probes sit at
    the majority class there, see `probes_at_majority`) cannot count as support, since a collapsed encoder
    gets lower lexical-probe scores, a higher semantic-to-lexical gap and (against another collapsed encoder)
    equal probe accuracy for free. It still counts in the number of cells k and as evidence against. When
    the guard turns a decided verdict into an undecided one, the verdict is "degenerate".

    Args:
        comparisons: the `Comparison`s of `model_a` with `model_b` (diff = a - b).
        model_a, model_b: the models the verdict is about (recorded in it).

    Returns:
        The `ClaimVerdict`; its verdict is one of `VERDICTS`.
    """
    cells = [
        c
        for c in comparisons
        if claim.covers(c.metric, c.pooling) and c.diff is not None and np.isfinite(c.diff)
    ]
    k = len(cells)
    if k == 0:
        return ClaimVerdict(claim.name, claim.paper, "not measured", "no cell measured", model_a, model_b)
    median = float(np.median([c.diff for c in cells]))
    degenerate = [claim.probes and bool(c.probes_at_majority) for c in cells]
    if claim.direction == 0:
        inside = [-claim.margin <= c.ci_low and c.ci_high <= claim.margin for c in cells]
        outside = sum(c.ci_low > claim.margin or c.ci_high < -claim.margin for c in cells)
        support = sum(i and not d for i, d in zip(inside, degenerate, strict=True))

        def decide(n_support: int) -> str:
            return "contradicted" if outside else "supported" if n_support == k else "inconclusive"

        verdict, unguarded = decide(support), decide(sum(inside))
        evidence = (
            f"{sum(inside)}/{k} cells with the 95% CI of the difference inside +-{claim.margin:g}"
            f"{_set_aside(sum(inside) - support)}, {outside} wholly outside; median difference {median:+.4f}"
        )
    else:
        agree = [bool(c.significant) and np.sign(c.diff) == claim.direction for c in cells]
        against = sum(bool(c.significant) and np.sign(c.diff) == -claim.direction for c in cells)
        support = sum(a and not d for a, d in zip(agree, degenerate, strict=True))
        verdict = directional_verdict(support, against, k)
        unguarded = directional_verdict(sum(agree), against, k)
        want = "higher" if claim.direction > 0 else "lower"
        evidence = (
            f"{sum(agree)}/{k} cells significantly {want} for the first model (Holm, 5%)"
            f"{_set_aside(sum(agree) - support)}, {against} significantly the other way; median difference "
            f"{median:+.4f}"
        )
    if verdict == "inconclusive" and unguarded != "inconclusive":
        verdict = "degenerate"
        evidence = f"{unguarded} only through cells with {DEGENERATE_REASON}: {evidence}"
    return ClaimVerdict(claim.name, claim.paper, verdict, evidence, model_a, model_b)


@dataclass
class Estimates:
    """Point estimates and resampling replicates of every metric of one model, task and pooling.

    Attributes:
        values: metric -> estimate on all examples.
        replicates: metric -> (B,) values on the shared resamples (the same index sets for every model).
        kinds: metric -> "bootstrap" or "subsampling".
        n, m: set size and subsample size of the subsampling metrics.
    """

    values: dict[str, float]
    replicates: dict[str, np.ndarray]
    kinds: dict[str, str]
    n: int
    m: int

    def interval(self, metric: str, level: float = 0.95) -> tuple[float, float]:
        """The 95 % (or `level`) interval of one metric."""
        return interval(
            self.kinds[metric], self.values[metric], self.replicates[metric], self.n, self.m, level
        )


def probes_at_majority(est: Estimates, level: float = 0.95) -> bool:
    """Whether the linear probes of one model, task and pooling sit at the majority class.

    True when the token probe is not clearly above its majority-class baseline: the lower end of the `level`
    interval of `token_probe_acc - token_probe_majority` (both on the same resamples) is at most 0, or, without
    replicates, the point difference is. Collapsed representations (every text at about the same vector) give
    exactly this: the probe can only predict the most frequent train label. False when the cell has no token
    probe.
    """
    acc, majority = "token_probe_acc", "token_probe_majority"
    if acc not in est.values or majority not in est.values:
        return False
    lift = est.values[acc] - est.values[majority]
    if not np.isfinite(lift):
        return False
    lo, _ = interval(
        est.kinds[acc], lift, est.replicates[acc] - est.replicates[majority], est.n, est.m, level
    )
    return bool((lo if np.isfinite(lo) else lift) <= 0.0)


def paired_difference(a: Estimates, b: Estimates, metric: str, level: float = 0.95) -> dict:
    """Difference `a - b` of one metric on the same resamples: estimate, interval and two-sided p-value.

    `probes_at_majority` flags the task x pooling cell for `claim_verdict`'s degeneracy guard: either model's
    probes sit at the majority class there (`probes_at_majority`); it is symmetric in a and b.

    `ci90_low`, `ci90_high`: the 90 % interval, for equivalence by two one-sided tests (`claims.tost_equivalent`).

    Returns:
        {"diff", "ci_low", "ci_high", "ci90_low", "ci90_high", "p_value", "probes_at_majority"}.
    """
    kind = a.kinds[metric]
    diff = a.values[metric] - b.values[metric]
    reps = a.replicates[metric] - b.replicates[metric]
    lo, hi = interval(kind, diff, reps, a.n, a.m, level)
    lo90, hi90 = interval(kind, diff, reps, a.n, a.m, 0.90)
    return {
        "diff": diff,
        "ci_low": lo,
        "ci_high": hi,
        "ci90_low": lo90,
        "ci90_high": hi90,
        "p_value": p_value(kind, diff, reps, a.n, a.m),
        "probes_at_majority": probes_at_majority(a, level) or probes_at_majority(b, level),
    }


def add_holm(
    comparisons: Sequence[Comparison],
    family: Sequence[str] = ("model_a", "model_b", "metric"),
    alpha: float = 0.05,
) -> list[Comparison]:
    """Holm-correct the p-values within each family: new comparisons with `p_holm` and `significant` set.

    A family is one pair of models and one metric across the task x pooling cells (the attributes `family`);
    significant = `p_holm < alpha`. The inputs are left as they are.
    """
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(comparisons):
        groups.setdefault(tuple(getattr(c, k) for k in family), []).append(i)
    adjusted = np.full(len(comparisons), np.nan)
    for members in groups.values():
        p = [np.nan if comparisons[i].p_value is None else comparisons[i].p_value for i in members]
        adjusted[members] = holm(p)
    return [
        replace(
            c, p_holm=float(p) if np.isfinite(p) else None, significant=bool(np.isfinite(p) and p < alpha)
        )
        for c, p in zip(comparisons, adjusted, strict=True)
    ]
