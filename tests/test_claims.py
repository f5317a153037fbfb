"""The claim logic on hand-made inputs whose answers are known: chance levels, informative cells, duplicate
poolings, TOST, the collapse guard, the seed-level bootstrap and the verdicts built from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from modeling_jepa_mlm.analysis.claims import (
    VERDICTS,
    ClaimCell,
    CollapseThresholds,
    bootstrap_scale_replicates,
    chance_level,
    decide_claim,
    duplicate_poolings,
    embeddings_collapsed,
    headline_metric,
    hierarchical_replicates,
    is_informative,
    rescale_normal_interval,
    seed_level_difference,
    tost_equivalent,
    tost_p_value,
)
from modeling_jepa_mlm.analysis.metrics import rank_fraction
from modeling_jepa_mlm.analysis.significance import bootstrap_indices, percentile_interval


@dataclass(frozen=True)
class Claim:
    """The fields of a claim that `decide_claim` reads."""

    name: str
    metrics: tuple[str, ...]
    direction: int
    poolings: tuple[str, ...] | None = None
    margin: float = 0.0
    probes: bool = False


UNIFORMITY = Claim("uniformity", ("uniformity",), -1)
LEXICAL = Claim("lexical information", ("token_probe_acc",), -1, probes=True)
PROBE_ACCURACY = Claim("probe accuracy", ("accuracy",), 0, margin=0.02, probes=True)


def cell(
    metric: str, diff: float, significant: bool, pooling: str = "mean", task: str = "sst2", **kw
) -> ClaimCell:
    half = kw.pop("half", 0.01)
    return ClaimCell(
        task, pooling, metric, diff, diff - half, diff + half, significant, diff - half, diff + half, **kw
    )


def test_headline_metrics_and_chance_levels():
    assert [headline_metric(t) for t in ("sst2", "mrpc", "mnli", "cola", "stsb")] == [
        "accuracy",
        "f1",
        "accuracy",
        "matthews_correlation",
        "spearmanr",
    ]
    with pytest.raises(ValueError, match="'qqp'.*known tasks: sst2"):
        headline_metric("qqp")
    assert headline_metric("sick", ("pearson", "spearmanr")) == "pearson"  # a user's task: its first metric
    assert chance_level("accuracy", np.array([0, 0, 1, 2])) == 0.5
    # MRPC validation: 279 of 408 pairs are paraphrases; predicting "paraphrase" everywhere gives F1 0.812.
    mrpc = np.array([1] * 279 + [0] * 129)
    assert chance_level("f1", mrpc) == pytest.approx(2 * (279 / 408) / (1 + 279 / 408))
    assert chance_level("f1", mrpc) == pytest.approx(0.8122, abs=1e-4)
    assert chance_level("matthews_correlation", mrpc) == 0.0
    assert chance_level("spearmanr", np.linspace(0, 5, 7)) == 0.0
    with pytest.raises(ValueError, match="'bleu'.*known metrics: accuracy"):
        chance_level("bleu", mrpc)


def lift_ci_low(correct: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> float:
    """95 % lower end of accuracy minus the majority rate, on the same bootstrap resamples."""
    idx = bootstrap_indices(len(labels), 1000, rng)
    lifts = [correct[i].mean() - chance_level("accuracy", labels[i]) for i in idx]
    return percentile_interval(np.array(lifts))[0]


def test_a_chance_level_cell_is_excluded():
    rng = np.random.default_rng(0)
    labels = (rng.random(900) < 0.6).astype(int)  # majority class 1 at about 60 %
    at_chance = labels == 1  # a probe that always says 1: accuracy = the majority rate
    good = np.where(rng.random(900) < 0.8, labels, 1 - labels) == labels  # 80 % accurate
    low_chance, low_good = lift_ci_low(at_chance, labels, rng), lift_ci_low(good, labels, rng)
    assert low_chance <= 0 < low_good
    assert is_informative([low_good, low_good]) and not is_informative([low_good, low_chance])
    assert (
        not is_informative([low_good, None]) and not is_informative([float("nan")]) and not is_informative([])
    )

    # Two equivalent cells and one at chance that would contradict: the chance cell is set aside.
    cells = [
        cell("accuracy", 0.0, False, task="sst2"),
        cell("accuracy", 0.001, False, task="mnli"),
        cell("accuracy", 0.08, True, task="cola", informative=False),
    ]
    out = decide_claim(PROBE_ACCURACY, cells)
    assert (out.verdict, out.cells, out.informative) == ("supported", 3, 2)
    assert out.evidence.startswith("2 of 3 cells informative; 2/2 equivalent within +-0.02 (TOST, 90 % CI)")
    # Without informativeness the same cells contradict the claim.
    assert decide_claim(PROBE_ACCURACY, [cell("accuracy", 0.08, True)]).verdict == "contradicted"
    # Geometry claims do not need the probes: the flag changes nothing there.
    flat = [cell("uniformity", -0.1, True, informative=False)] * 3
    assert decide_claim(UNIFORMITY, flat).verdict == "supported"


def test_duplicate_poolings_are_found_and_counted_once():
    base = {"mean": [-1.3, 0.61, 110.0], "max": [-0.9, 0.90, 188.0]}
    prints = {
        **base,
        "weighted": [-1.3 * (1 + 1e-9), 0.61, 110.0 * (1 - 2e-9)],
        "attention": [-1.3, 0.60, 128.0],
    }
    assert duplicate_poolings(prints) == {"weighted": "mean"}
    assert duplicate_poolings(prints, rtol=1e-12) == {}
    assert duplicate_poolings({"a": [1.0], "b": [1.0], "c": [1.0]}) == {"b": "a", "c": "a"}

    # Two tasks: mean significant, weighted (= mean) significant, max not. Counted twice, 4 of 6 cells agree
    # (supported); counted once, 2 of 4 (not more than half: inconclusive).
    cells = [
        cell("uniformity", d, s, pooling=p, task=t)
        for t in ("sst2", "cola")
        for p, d, s in (("mean", -0.1, True), ("weighted", -0.1, True), ("max", -0.01, False))
    ]
    assert decide_claim(UNIFORMITY, cells).verdict == "supported"
    dups = {"sst2": {"weighted": "mean"}, "cola": {"weighted": "mean"}}
    out = decide_claim(UNIFORMITY, cells, dups)
    assert (out.verdict, out.cells, out.duplicates) == ("inconclusive", 4, 2)
    assert "4 of 4 cells informative, 2 duplicate pooling cells counted once" in out.evidence


def test_tost_equivalence_for_identical_models_and_not_for_a_shifted_one():
    rng = np.random.default_rng(1)

    def tost(n: int, p_a: float, p_b: float) -> tuple[bool, float]:
        a, b = rng.random(n) < p_a, rng.random(n) < p_b
        reps = np.array([a[i].mean() - b[i].mean() for i in bootstrap_indices(n, 1000, rng)])
        lo, hi = percentile_interval(reps, 0.90)
        return tost_equivalent(lo, hi, 0.02), tost_p_value(reps, 0.02)

    same, p_same = tost(20_000, 0.8, 0.8)
    assert same and p_same < 0.05
    shifted, p_shifted = tost(20_000, 0.8, 0.75)
    assert not shifted and p_shifted > 0.5
    small, _ = tost(200, 0.8, 0.8)  # the same models on 200 sentences: the interval is too wide to show it
    assert not small
    assert not tost_equivalent(None, 0.01, 0.02) and not tost_equivalent(-0.01, float("nan"), 0.02)
    assert tost_equivalent(-0.019, 0.019, 0.02) and not tost_equivalent(-0.021, 0.0, 0.02)
    # p < 0.05 exactly when the 90 % percentile interval lies inside the margin (up to the +1 in the count).
    reps = np.linspace(-0.03, 0.03, 999)
    assert tost_p_value(reps, 0.02) == pytest.approx((1 + np.sum(reps <= -0.02)) / 1000)


def test_rescaled_normal_interval():
    lo, hi = rescale_normal_interval(0.1, 0.1 - 1.959964, 0.1 + 2 * 1.959964, 0.95, 0.90)
    assert (lo, hi) == pytest.approx((0.1 - 1.644854, 0.1 + 2 * 1.644854), abs=1e-5)


def test_collapse_guard_on_the_embeddings():
    assert rank_fraction(128, 1000, 256) == 0.5 and rank_fraction(50, 100, 768) == 0.5
    with pytest.raises(ValueError, match="got 0 and 256"):
        rank_fraction(1.0, 0, 256)
    # The published standard-protocol cls pooling of the random control: anisotropy 0.999, RankMe 5.7 of 256.
    assert embeddings_collapsed(0.999, 5.7, 1000, 256)
    assert embeddings_collapsed(0.5, 3.0, 1000, 256)  # RankMe alone
    assert not embeddings_collapsed(
        0.95, 92.2, 1000, 256
    )  # the random control's mean pooling: anisotropic, not collapsed
    assert not embeddings_collapsed(float("nan"), float("nan"), 1000, 256)
    assert embeddings_collapsed(0.95, 92.2, 1000, 256, CollapseThresholds(max_anisotropy=0.9))

    # A collapsed cell does not count for any claim; only collapsed cells carry it: degenerate.
    collapsed = [cell("uniformity", -0.1, True, collapsed=True)] * 3
    out = decide_claim(UNIFORMITY, collapsed)
    assert out.verdict == "degenerate" and out.informative == 0
    assert out.evidence.startswith("supported only through uninformative or degenerate cells: 0 of 3")


def test_token_probe_guard_removes_support_only():
    flagged = [cell("token_probe_acc", -0.2, True, probes_at_majority=True)] * 3
    assert decide_claim(LEXICAL, flagged).verdict == "degenerate"
    against = [cell("token_probe_acc", 0.2, True, probes_at_majority=True)] * 3
    assert decide_claim(LEXICAL, against).verdict == "contradicted"
    part = flagged[:1] + [cell("token_probe_acc", -0.2, True)] * 2
    out = decide_claim(LEXICAL, part)
    assert out.verdict == "supported"
    assert (
        "3/3 significantly lower" in out.evidence
        and "1 of the 3 with a token probe at its majority" in out.evidence
    )
    # No informative cell and nothing decided by the others either: uninformative.
    none = [cell("token_probe_acc", -0.01, False, informative=False)] * 2
    assert decide_claim(LEXICAL, none).verdict == "uninformative"
    assert decide_claim(LEXICAL, [cell("accuracy", 0.1, True)]).verdict == "not measured"
    assert set(VERDICTS) >= {
        "supported",
        "contradicted",
        "mixed",
        "inconclusive",
        "degenerate",
        "uninformative",
    }


def test_verdict_says_how_many_seeds():
    cells = [cell("uniformity", -0.1, True)] * 2
    assert "one pre-training seed per arm" in decide_claim(UNIFORMITY, cells).evidence
    out = decide_claim(UNIFORMITY, cells, seeds=(3, 3))
    assert out.seeds == (3, 3) and "seed" not in out.evidence
    assert (
        "seeds 3 vs 1: the one-seed arm's training-run variation"
        in decide_claim(UNIFORMITY, cells, seeds=(3, 1)).evidence
    )


def sentence_replicates(correct: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(S, B) accuracy of each seed on each shared sentence resample; correct is (S, N) bool."""
    return np.stack([[c[i].mean() for i in idx] for c in correct])


def test_hierarchical_bootstrap_widens_when_seeds_disagree():
    rng = np.random.default_rng(2)
    n, b = 2000, 500
    idx = bootstrap_indices(n, b, rng)
    base = rng.random(n)
    arm_b = sentence_replicates((rng.random((1, n)) < 0.7), idx)
    agree = base[None, :] < np.array([[0.75], [0.75], [0.75]])  # three seeds, the same outcomes
    disagree = base[None, :] < np.array([[0.65], [0.75], [0.85]])  # seeds 10 points apart
    width = {}
    for name, seeds in (("agree", agree), ("disagree", disagree)):
        reps = sentence_replicates(seeds, idx)
        out = seed_level_difference(seeds.mean(1), reps, [arm_b.mean()], arm_b, np.random.default_rng(3))
        width[name] = out.ci_high - out.ci_low
        assert out.seeds == (3, 1) and out.ci_low < out.diff < out.ci_high
        assert out.ci90_high - out.ci90_low < width[name]
    assert width["disagree"] > 2 * width["agree"]
    # One seed per arm: exactly the paired sentence bootstrap.
    one = sentence_replicates(agree[:1], idx)
    assert np.array_equal(hierarchical_replicates(one, arm_b, rng), one[0] - arm_b[0])
    with pytest.raises(ValueError, match="same sentence resamples"):
        hierarchical_replicates(one, arm_b[:, :10], rng)


def test_seed_level_p_value_of_a_set_metric_is_not_floored_by_the_replicate_count():
    """With the 100 replicates of a set metric, a count-based p cannot go below 1/101, so Holm over 20 cells
    (p < 0.0025) is unreachable however far apart the arms are; the normal reference gives
    2 (1 - Phi(|d| / sd)). Every seed identical, the hierarchical replicates are the one seed's difference."""
    from scipy.stats import norm

    noise = np.linspace(-1.0, 1.0, 100)
    arm_a = np.stack([-20.0 + noise] * 2)  # (2 seeds, 100 replicates), spread sd(noise)
    arm_b = np.zeros((3, 100))
    counted = seed_level_difference([-20.0] * 2, arm_a, [0.0] * 3, arm_b, np.random.default_rng(0))
    assert counted.p_value == pytest.approx(1 / 101)  # the floor: Holm x 20 gives 0.198, never significant
    normal = seed_level_difference(
        [-20.0] * 2, arm_a, [0.0] * 3, arm_b, np.random.default_rng(0), normal_reference=True
    )
    assert normal.p_value == pytest.approx(2 * norm.sf(20.0 / np.std(noise, ddof=1)))
    assert normal.p_value < 1e-50 and (normal.ci_low, normal.ci_high) == (counted.ci_low, counted.ci_high)
    # an arm difference of zero against spread replicates: p near 1 either way
    level = seed_level_difference(
        [0.0] * 2, arm_a + 20.0, [0.0] * 3, arm_b, np.random.default_rng(0), normal_reference=True
    )
    assert level.p_value == pytest.approx(1.0)
    # `arm_difference` picks the reference from how the metric was measured: subsampled set metrics take the
    # normal one, bootstrapped per-sentence metrics the count
    from modeling_jepa_mlm.analysis.claims import arm_difference
    from modeling_jepa_mlm.analysis.significance import Estimates

    def seed(value: float) -> Estimates:
        values = {"effective_rank": value, "accuracy": value}
        reps = {k: value + noise for k in values}
        return Estimates(
            values, reps, {"effective_rank": "subsampling", "accuracy": "bootstrap"}, n=100, m=50
        )

    a, b = [seed(-20.0), seed(-20.0)], [seed(0.0)] * 3
    rank, acc = (arm_difference(a, b, m, np.random.default_rng(0)) for m in ("effective_rank", "accuracy"))
    assert rank.p_value < 1e-50 and acc.p_value == pytest.approx(1 / 101)


def test_bootstrap_scale_of_subsampling_replicates():
    reps = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(bootstrap_scale_replicates("bootstrap", 5.0, reps, 100, 50), reps)
    # m = n / 2: scale sqrt(m / (n - m)) = 1, so the replicates are re-centred on the estimate.
    assert bootstrap_scale_replicates("subsampling", 5.0, reps, 100, 50) == pytest.approx([4.0, 5.0, 6.0])
    assert bootstrap_scale_replicates("subsampling", 0.0, reps, 100, 20) == pytest.approx([-0.5, 0.0, 0.5])
    with pytest.raises(ValueError, match="'jackknife'; valid kinds: bootstrap, subsampling"):
        bootstrap_scale_replicates("jackknife", 0.0, reps, 100, 50)


def test_degenerate_only_when_set_aside_cells_would_decide():
    # Counted cells: nothing significant; set-aside cells: one each way (mixed). Not a decision: inconclusive.
    cells = [
        cell("token_probe_acc", -0.01, False),
        cell("token_probe_acc", -0.2, True, task="cola", informative=False),
        cell("token_probe_acc", 0.2, True, task="mnli", informative=False),
    ]
    assert decide_claim(LEXICAL, cells).verdict == "inconclusive"
    # Set-aside cells that would support it: degenerate.
    cells[2] = cell("token_probe_acc", -0.2, True, task="mnli", informative=False)
    out = decide_claim(LEXICAL, cells)
    assert out.verdict == "degenerate" and out.evidence.startswith("supported only through")


def probe_estimates(correct: np.ndarray, labels: np.ndarray, idx: np.ndarray):
    """`Estimates` of a downstream probe's accuracy, its chance level and lift, on shared resamples."""
    from modeling_jepa_mlm.analysis.significance import Estimates, replicate

    def stats(i: np.ndarray) -> dict[str, float]:
        acc, chance = correct[i].mean(), chance_level("accuracy", labels[i])
        return {"probe_headline": acc, "probe_chance": chance, "probe_lift": acc - chance}

    values = stats(np.arange(len(labels)))
    return Estimates(
        values, replicate(stats, idx), dict.fromkeys(values, "bootstrap"), n=len(labels), m=len(labels) // 2
    )


def test_random_control_is_a_floor_for_the_models_not_for_itself():
    from modeling_jepa_mlm.analysis.probe import cell_informative

    rng = np.random.default_rng(4)
    labels = (rng.random(1000) < 0.5).astype(int)
    idx = bootstrap_indices(1000, 400, rng)

    def at(p: float) -> np.ndarray:
        return rng.random(1000) < p

    est = {
        "good": probe_estimates(at(0.80), labels, idx),
        "fair": probe_estimates(at(0.62), labels, idx),
        "control": probe_estimates(at(0.60), labels, idx),  # above chance, a low floor
    }
    cells = {m: {"t": {"mean": e}} for m, e in est.items()}
    assert cell_informative(["good", "fair"], "t", "mean", cells, None)  # both beat chance (0.5)
    assert not cell_informative(
        ["good", "fair"], "t", "mean", cells, "control"
    )  # fair does not beat the control
    assert cell_informative(
        ["good", "control"], "t", "mean", cells, "control"
    )  # the control need not beat itself
    # Nor need the control's other seeds (its arm), which cannot beat it: an arm against the control arm
    cells["control_seed2"] = {"t": {"mean": probe_estimates(at(0.60), labels, idx)}}
    models = ["good", "control", "control_seed2"]
    assert not cell_informative(models, "t", "mean", cells, "control")
    assert cell_informative(models, "t", "mean", cells, "control", control_arm=["control", "control_seed2"])


def test_a_reversed_comparison_negates_the_difference_and_both_intervals():
    from modeling_jepa_mlm.analysis.probe import reversed_comparison
    from modeling_jepa_mlm.analysis.results import Comparison

    c = Comparison("a", "b", "t", "mean", "accuracy", 0.1, 0.05, 0.2, 0.01, 0.02, True, False, 0.06, 0.18)
    r = reversed_comparison(c)
    assert (r.model_a, r.model_b, r.diff, r.ci_low, r.ci_high) == ("b", "a", -0.1, -0.2, -0.05)
    assert (r.ci90_low, r.ci90_high, r.p_value, r.p_holm, r.significant) == (-0.18, -0.06, 0.01, 0.02, True)
    assert reversed_comparison(r) == c


def test_model_pairs_restrict_the_comparisons_and_keep_what_the_claims_need():
    """`--model_pairs` limits the model-by-model comparisons to the named pairs (a 13-model study compares 17
    pairs, not 78); a claim between two one-model arms, whose cells are those rows, adds its pair."""
    from modeling_jepa_mlm.analysis.probe import check_claim_arms, compare_models, comparison_pairs

    rng = np.random.default_rng(5)
    labels = (rng.random(400) < 0.5).astype(int)
    idx = bootstrap_indices(400, 200, rng)
    names = ["h1", "h2", "m1", "m2", "solo", "ctrl"]
    est = {n: {"t": {"mean": probe_estimates(rng.random(400) < 0.7, labels, idx)}} for n in names}
    arms = ["h", "h", "m", "m", "solo", "ctrl"]

    assert comparison_pairs(names, arms, ["h:m"]) is None  # default: every pair
    assert len(compare_models(names, est)) == 15 * 3  # 15 pairs x 3 metrics

    pairs = comparison_pairs(names, arms, ["h:m", "solo:ctrl"], ["h1:m1", "h2:m2", "h1:m1", "m1:ctrl"])
    assert pairs == [("h1", "m1"), ("h2", "m2"), ("m1", "ctrl"), ("solo", "ctrl")]
    rows = compare_models(names, est, pairs)
    assert sorted({(c.model_a, c.model_b) for c in rows}) == sorted(pairs)
    m1_ctrl = next(c for c in rows if (c.model_a, c.model_b, c.metric) == ("m1", "ctrl", "probe_headline"))
    every = compare_models(names, est)
    same = next(c for c in every if (c.model_a, c.model_b, c.metric) == ("m1", "ctrl", "probe_headline"))
    assert (m1_ctrl.diff, m1_ctrl.ci_low, m1_ctrl.ci_high) == (same.diff, same.ci_low, same.ci_high)
    # a one-model claim pair already given the other way round is not added twice
    assert comparison_pairs(names, arms, ["solo:ctrl"], ["ctrl:solo"]) == [("ctrl", "solo")]

    with pytest.raises(ValueError, match=r"--model_pairs name unknown models \['m3'\]; model names: \['h1'"):
        check_claim_arms(names, arms, ["h:m"], None, ["h1:m3"])
    with pytest.raises(ValueError, match=r"--model_pairs \['h1:h1'\] compare a model with itself"):
        check_claim_arms(names, arms, ["h:m"], None, ["h1:h1"])


def test_malformed_model_pairs_fail_naming_the_accepted_form(tmp_path):
    from modeling_jepa_mlm.analysis.probe import parse_args

    argv = ["--model_name_or_path", "a", "b", "--output_dir", str(tmp_path), "--tasks", "sst2"]
    with pytest.raises(
        ValueError, match=r"--model_pairs \['a:b:c', 'a:'\] are not valid; accepted: `A:B`, two model"
    ):
        parse_args([*argv, "--model_pairs", "a:b:c", "a:"])
