"""Resampling intervals, p-values, Holm's correction and the claim verdicts."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from modeling_jepa_mlm.analysis.results import Comparison
from modeling_jepa_mlm.analysis.significance import (
    CLAIMS,
    DEGENERATE_REASON,
    VERDICTS,
    Estimates,
    add_holm,
    bootstrap_indices,
    bootstrap_p_value,
    claim_verdict,
    holm,
    paired_difference,
    percentile_interval,
    probes_at_majority,
    replicate,
    subsample_indices,
    subsampling_interval,
    subsampling_p_value,
)


def brute_force_holm(p: list[float]) -> list[float]:
    k = len(p)
    order = sorted(range(k), key=lambda i: p[i])
    out, running = [0.0] * k, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p[i]))
        out[i] = running
    return out


def test_holm_known_values_and_brute_force():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = list(rng.random(7) ** 3)
        np.testing.assert_allclose(holm(p), brute_force_holm(p), atol=1e-15)
    out = holm([0.01, float("nan"), 0.02])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])


def test_index_sets():
    rng = np.random.default_rng(0)
    sub = subsample_indices(20, 7, 50, rng)
    assert sub.shape == (50, 7)
    assert all(len(set(row)) == 7 and list(row) == sorted(row) for row in sub)
    assert sub.min() >= 0 and sub.max() < 20
    boot = bootstrap_indices(20, 50, rng)
    assert boot.shape == (50, 20) and any(len(set(row)) < 20 for row in boot)
    with pytest.raises(ValueError, match="subsample size"):
        subsample_indices(5, 6, 1, rng)


def test_bootstrap_interval_covers_the_mean_about_95_percent():
    rng = np.random.default_rng(1)
    n, trials, covered = 60, 300, 0
    for _ in range(trials):
        x = rng.exponential(1.0, n)  # true mean 1
        reps = x[bootstrap_indices(n, 400, rng)].mean(1)
        lo, hi = percentile_interval(reps)
        covered += lo <= 1.0 <= hi
    assert 0.88 <= covered / trials <= 0.99


def test_subsampling_interval_covers_the_mean():
    rng = np.random.default_rng(2)
    n, m, trials, covered = 200, 100, 200, 0
    for _ in range(trials):
        x = rng.normal(0.5, 1.0, n)
        reps = x[subsample_indices(n, m, 200, rng)].mean(1)
        lo, hi = subsampling_interval(x.mean(), reps, n, m)
        covered += lo <= 0.5 <= hi
    assert 0.88 <= covered / trials <= 0.995


def test_subsampling_interval_of_a_size_dependent_statistic_contains_the_estimate():
    # The effective rank of n points in D > n dimensions grows with n: subsamples of n/2 are all lower, yet the
    # interval describes the statistic at size n and must contain it.
    from modeling_jepa_mlm.analysis.metrics import effective_rank, singular_values

    rng = np.random.default_rng(5)
    z = rng.normal(size=(120, 200))
    estimate = effective_rank(singular_values(z))
    sub = subsample_indices(120, 60, 60, rng)
    reps = np.array([effective_rank(singular_values(z[idx])) for idx in sub])
    assert reps.max() < estimate
    lo, hi = subsampling_interval(estimate, reps, 120, 60)
    assert lo < estimate < hi and hi - lo < 0.2 * estimate


def test_p_values_small_for_a_real_difference_and_spread_under_the_null():
    rng = np.random.default_rng(3)
    n = 200
    diff = rng.normal(0.3, 1.0, n)
    assert bootstrap_p_value(diff.mean(), diff[bootstrap_indices(n, 999, rng)].mean(1)) < 0.01
    sub = subsample_indices(n, n // 2, 99, rng)
    # Normal reference: far below the 1 / (B + 1) floor of a count over 99 subsamples.
    assert subsampling_p_value(diff.mean(), diff[sub].mean(1), n, n // 2) < 1e-4
    null_sub = []
    for _ in range(150):
        d = rng.normal(0.0, 1.0, 80)
        null_sub.append(subsampling_p_value(d.mean(), d[subsample_indices(80, 40, 99, rng)].mean(1), 80, 40))
    assert 0.0 <= np.mean(np.array(null_sub) < 0.05) <= 0.12
    null_p = []
    for _ in range(150):
        d = rng.normal(0.0, 1.0, 80)
        null_p.append(bootstrap_p_value(d.mean(), d[bootstrap_indices(80, 199, rng)].mean(1)))
    assert 0.05 <= np.mean(np.array(null_p) < 0.05) + 0.05 <= 0.2  # size near 5 %
    assert 0.4 <= np.mean(null_p) <= 0.6


def make_estimates(
    values: dict[str, float], reps: dict[str, np.ndarray], kind: str = "bootstrap"
) -> Estimates:
    return Estimates(values, reps, dict.fromkeys(values, kind), n=100, m=50)


def test_paired_difference_uses_shared_resamples():
    rng = np.random.default_rng(4)
    base = rng.normal(size=500)
    a = make_estimates({"acc": 0.8}, {"acc": 0.8 + 0.01 * base})
    b = make_estimates({"acc": 0.7}, {"acc": 0.7 + 0.01 * base})  # perfectly correlated resamples
    out = paired_difference(a, b, "acc")
    assert out["diff"] == pytest.approx(0.1)
    assert out["ci_low"] == pytest.approx(0.1) and out["ci_high"] == pytest.approx(0.1)
    assert out["p_value"] == pytest.approx(1 / 501)
    same = paired_difference(a, a, "acc")
    assert same["diff"] == 0.0 and same["p_value"] == 1.0


def test_replicate_collects_every_metric():
    x = np.arange(10.0)
    reps = replicate(lambda idx: {"mean": x[idx].mean(), "max": x[idx].max()}, np.array([[0, 1], [8, 9]]))
    np.testing.assert_allclose(reps["mean"], [0.5, 8.5])
    np.testing.assert_allclose(reps["max"], [1, 9])


def cell(metric: str, diff: float, significant: bool, pooling: str = "mean", lo=None, hi=None) -> Comparison:
    return Comparison(
        "a",
        "b",
        "t",
        pooling,
        metric,
        diff,
        diff - 0.01 if lo is None else lo,
        diff + 0.01 if hi is None else hi,
        p_value=None,
        significant=significant,
    )


def test_claim_verdicts():
    uniformity = next(c for c in CLAIMS if c.name == "uniformity")  # hybrid lower
    assert claim_verdict(uniformity, [cell("uniformity", -0.1, True)] * 3).verdict == "supported"
    assert claim_verdict(uniformity, [cell("uniformity", 0.1, True)] * 3).verdict == "contradicted"
    mixed = [cell("uniformity", -0.1, True), cell("uniformity", 0.1, True), cell("uniformity", -0.1, True)]
    assert claim_verdict(uniformity, mixed).verdict == "mixed"
    minority = [cell("uniformity", -0.1, True)] + [cell("uniformity", -0.1, False)] * 2
    assert claim_verdict(uniformity, minority).verdict == "inconclusive"
    assert claim_verdict(uniformity, [cell("accuracy", 0.1, True)]).verdict == "not measured"

    spectral = next(c for c in CLAIMS if c.poolings == ("max",))
    cells = [cell("effective_rank", 5.0, True, "max"), cell("effective_rank", -5.0, True, "mean")]
    assert claim_verdict(spectral, cells).verdict == "supported"  # the mean-pooling cell is not counted

    probe = next(c for c in CLAIMS if c.direction == 0)
    assert claim_verdict(probe, [cell("probe_headline", 0.005, False)] * 4).verdict == "supported"
    wide = [cell("probe_headline", 0.005, False, lo=-0.05, hi=0.06)]
    assert claim_verdict(probe, wide).verdict == "inconclusive"
    assert claim_verdict(probe, [cell("probe_headline", 0.1, True)]).verdict == "contradicted"
    verdict = claim_verdict(probe, [cell("probe_headline", 0.005, False)], model_a="h", model_b="m")
    assert {f.name for f in fields(verdict)} == {
        "claim",
        "paper",
        "verdict",
        "evidence",
        "model_a",
        "model_b",
        "cells",
        "informative",
        "duplicates",
        "seeds",
        "by_cell",
    }
    assert (verdict.claim, verdict.model_a, verdict.model_b) == (probe.name, "h", "m")


def probe_cell(rng: np.random.Generator, collapsed: bool, n: int = 400, b: int = 300) -> Estimates:
    """The probe metrics of one task x pooling cell from per-example outcomes, on shared bootstrap resamples.

    A collapsed encoder maps every text to about one vector: its token probe predicts the majority class
    (accuracy = majority baseline), its bag-of-words probe predicts no word (F1 0), its semantic probe the
    majority label; a healthy one reads the tokens.
    """
    labels = rng.random(n) < 0.25  # the eval texts whose token label is the majority class
    token = labels.copy() if collapsed else rng.random(n) < 0.7
    semantic = rng.random(n) < (0.5 if collapsed else 0.6)
    bow = np.zeros(n) if collapsed else rng.random(n) * 0.5
    idx = bootstrap_indices(n, b, np.random.default_rng(7))  # the same resamples for every model

    def stats(i: np.ndarray) -> dict[str, float]:
        return {
            "token_probe_acc": token[i].mean(),
            "token_probe_majority": labels[i].mean(),
            "bow_probe_f1": bow[i].mean(),
            "probe_gap": semantic[i].mean() - token[i].mean(),
        }

    values = stats(np.arange(n))
    return Estimates(values, replicate(stats, idx), dict.fromkeys(values, "bootstrap"), n=n, m=n // 2)


def probe_comparisons(a: Estimates, b: Estimates) -> list[Comparison]:
    comps = [
        Comparison("a", "b", "t", p, metric, **paired_difference(a, b, metric))
        for p in ("mean", "max")
        for metric in a.values
    ]
    return add_holm(comps)


def test_collapsed_probes_cannot_support_the_lexical_and_balance_claims():
    rng = np.random.default_rng(3)
    collapsed, healthy, other = probe_cell(rng, True), probe_cell(rng, False), probe_cell(rng, False)
    assert probes_at_majority(collapsed) and not probes_at_majority(healthy)
    lexical = next(c for c in CLAIMS if c.name == "lexical information")
    balance = next(c for c in CLAIMS if c.name == "balance")
    # Collapsed first model: lower lexical scores and a higher probe gap, all significant, all for free.
    comps = probe_comparisons(collapsed, healthy)
    assert all(c.probes_at_majority for c in comps)
    assert all(c.significant for c in comps if c.metric in lexical.metrics + balance.metrics)
    for claim in (lexical, balance):
        out = claim_verdict(claim, comps)
        assert out.verdict == "degenerate", out
        assert DEGENERATE_REASON in out.evidence and out.evidence.startswith("supported only through")
    # The flag is symmetric: a collapsed second model makes the cells unusable too.
    assert all(c.probes_at_majority for c in probe_comparisons(healthy, collapsed))
    # Two healthy models: no flag, the verdict is the unguarded one.
    fine = probe_comparisons(healthy, other)
    assert not any(c.probes_at_majority for c in fine)
    assert DEGENERATE_REASON not in claim_verdict(lexical, fine).evidence


def test_degeneracy_guard_removes_support_only():
    lexical = next(c for c in CLAIMS if c.name == "lexical information")
    flagged = [replace(cell("token_probe_acc", -0.2, True), probes_at_majority=True)] * 3
    assert claim_verdict(lexical, flagged).verdict == "degenerate"
    # Evidence against still counts: a contradiction is not hidden by the guard.
    against = [replace(cell("token_probe_acc", 0.2, True), probes_at_majority=True)] * 3
    assert claim_verdict(lexical, against).verdict == "contradicted"
    # Some support left in clean cells: more than half of all cells still decides.
    part = flagged[:1] + [cell("token_probe_acc", -0.2, True)] * 2
    out = claim_verdict(lexical, part)
    assert out.verdict == "supported"
    assert out.evidence.startswith(
        f"3/3 cells significantly lower for the first model (Holm, 5%) (1 of them with {DEGENERATE_REASON}"
    )
    # Two collapsed models have equal probe accuracy for free: not an equivalence.
    probe = next(c for c in CLAIMS if c.direction == 0)
    equal = [replace(cell("probe_headline", 0.0, False), probes_at_majority=True)] * 4
    assert claim_verdict(probe, equal).verdict == "degenerate"
    # Geometry claims are not probe claims: the flag changes nothing there.
    uniformity = next(c for c in CLAIMS if c.name == "uniformity")
    flat = [replace(cell("uniformity", -0.1, True), probes_at_majority=True)] * 3
    assert claim_verdict(uniformity, flat).verdict == "supported"
    assert {"supported", "contradicted", "mixed", "inconclusive", "degenerate", "not measured"} == set(
        VERDICTS
    )


def test_add_holm_corrects_within_model_pair_and_metric():
    def comparison(metric: str, p: float | None) -> Comparison:
        return Comparison("h", "m", "t", "mean", metric, 0.1, 0.0, 0.2, p)

    comps = [comparison("uniformity", 0.02), comparison("uniformity", 0.01), comparison("accuracy", 0.03)]
    comps.append(comparison("accuracy", None))  # undefined p: no adjustment, not counted in k
    out = add_holm(comps)
    assert [c.p_holm for c in out[:3]] == pytest.approx([0.02, 0.02, 0.03])
    assert [c.significant for c in out] == [True, True, True, False] and out[3].p_holm is None
    # New records; the inputs are left as they were.
    assert all(c.p_holm is None and not c.significant for c in comps)
    assert [replace(c, p_holm=None, significant=False) for c in out] == comps
