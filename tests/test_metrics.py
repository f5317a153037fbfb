"""Known-answer tests of the geometry, lexical and balance metrics and of the paper's analysis poolings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modeling_jepa_mlm.analysis.metrics import (
    alignment,
    anisotropy,
    effective_rank,
    expected_uniformity_isotropic,
    explained_variance,
    geometry_metrics,
    jaccard,
    most_frequent_token,
    n_components,
    partial_spearman,
    participation_ratio,
    rankme,
    semantic_lexical_balance,
    singular_values,
    spectral_entropy,
    stable_rank,
    uniformity,
    word_set,
)
from modeling_jepa_mlm.analysis.probing import PROBE_POOLERS, attention_pool, get_probe_pooler, weighted_pool
from modeling_jepa_mlm.pooling import mean_pool


def gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def with_spectrum(sigma: list[float], n: int = 40, seed: int = 0) -> np.ndarray:
    """A centred (n, len(sigma)) matrix whose singular values are exactly `sigma`."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(n, len(sigma))))
    u -= u.mean(0)  # centring keeps the columns orthogonal only approximately, so re-orthonormalise
    u, _ = np.linalg.qr(u)
    v, _ = np.linalg.qr(rng.normal(size=(len(sigma), len(sigma))))
    return u @ np.diag(sigma) @ v.T


@pytest.mark.parametrize("dim", [2, 3, 16, 128])
def test_uniformity_of_gaussians_matches_the_isotropic_expectation(dim):
    # Normalised Gaussians are uniform on the sphere: U -> -4 + log 0F1(; D/2; 4), not -4 + 8/D for small D.
    z = gaussian(2000, dim, seed=dim)
    assert uniformity(z) == pytest.approx(expected_uniformity_isotropic(dim), abs=0.01)


def test_isotropic_expectation_closed_forms():
    assert expected_uniformity_isotropic(1) == pytest.approx(-4 + math.log(math.cosh(4)), abs=1e-12)
    # D = 3: the cosine is uniform on [-1, 1], so E exp(4c) = sinh(4) / 4.
    assert expected_uniformity_isotropic(3) == pytest.approx(-4 + math.log(math.sinh(4) / 4), abs=1e-12)
    for dim in (256, 768, 4096):
        assert expected_uniformity_isotropic(dim) == pytest.approx(-4 + 8 / dim, abs=40 / dim**2)


def test_uniformity_matches_brute_force():
    z = gaussian(30, 5) + 0.7
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    terms = [np.exp(-2 * np.sum((zn[i] - zn[j]) ** 2)) for i in range(30) for j in range(i + 1, 30)]
    assert uniformity(z) == pytest.approx(math.log(np.mean(terms)), abs=1e-12)


def test_identical_embeddings_give_uniformity_zero_and_rank_one():
    z = np.tile(np.random.default_rng(1).normal(size=16), (50, 1))
    assert uniformity(z) == pytest.approx(0.0, abs=1e-12)
    assert anisotropy(z) == pytest.approx(1.0, abs=1e-12)
    assert rankme(singular_values(z, center=False)) == pytest.approx(1.0, abs=1e-3)
    assert effective_rank(singular_values(z)) == 0.0  # no spread at all once centred
    line = np.outer(np.linspace(-1, 1, 50), np.arange(1.0, 17.0)) + 3.0  # points on one line
    assert effective_rank(singular_values(line)) == pytest.approx(1.0, abs=1e-9)
    assert n_components(singular_values(line)) == 1


def test_gaussian_embeddings_have_high_rank():
    d = 32
    m = geometry_metrics(gaussian(2000, d))
    assert m["effective_rank"] > 0.95 * d
    assert m["rankme"] > 0.95 * d
    assert m["participation_ratio"] > 0.9 * d
    assert m["spectral_entropy"] > 0.99
    assert m["n_components_90"] >= 0.8 * d
    assert abs(m["anisotropy"]) < 0.01


@pytest.mark.parametrize("offset", [0.0, 0.3, 1.0, 3.0])
def test_jensen_bound_uniformity_at_least_minus_four_times_one_minus_anisotropy(offset):
    z = gaussian(300, 8, seed=int(offset * 10)) + offset
    assert uniformity(z) >= -4 * (1 - anisotropy(z)) - 1e-12


def test_anisotropy_matches_brute_force():
    z = gaussian(25, 6) + 0.5
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    cos = zn @ zn.T
    assert anisotropy(z) == pytest.approx((cos.sum() - np.trace(cos)) / (25 * 24), abs=1e-12)


def test_alignment_extremes():
    u = gaussian(10, 4)
    assert alignment(u, 3 * u) == pytest.approx(0.0, abs=1e-12)
    assert alignment(u, -u) == pytest.approx(4.0, abs=1e-12)
    with pytest.raises(ValueError, match="equally long"):
        alignment(u, u[:5])


def test_spectral_metrics_on_a_known_spectrum():
    sigma = [4.0, 2.0, 1.0, 1.0]
    s = singular_values(with_spectrum(sigma))
    np.testing.assert_allclose(s, sigma, atol=1e-9)
    p = np.array(sigma) / sum(sigma)
    assert effective_rank(s) == pytest.approx(math.exp(-np.sum(p * np.log(p))), rel=1e-9)
    lam = np.array(sigma) ** 2  # 16, 4, 1, 1
    assert stable_rank(s) == pytest.approx(22 / 16, rel=1e-9)
    assert participation_ratio(s) == pytest.approx(22**2 / (256 + 16 + 1 + 1), rel=1e-9)
    q = lam / lam.sum()
    assert spectral_entropy(s) == pytest.approx(-np.sum(q * np.log(q)) / math.log(4), rel=1e-9)
    np.testing.assert_allclose(explained_variance(s), q, atol=1e-12)
    assert n_components(s, 0.9) == 2  # 20/22 = 0.909
    assert n_components(s, 0.95) == 3
    assert spectral_entropy(singular_values(with_spectrum([1.0] * 5))) == pytest.approx(1.0, abs=1e-9)


def test_partial_spearman_matches_residual_correlation_of_ranks():
    rng = np.random.default_rng(3)
    z = rng.normal(size=200)
    x = z + rng.normal(size=200)
    y = z + 0.5 * x + rng.normal(size=200)
    from scipy.stats import rankdata

    rx, ry, rz = (rankdata(a) for a in (x, y, z))
    design = np.stack([np.ones_like(rz), rz], 1)

    def resid(r):
        return r - design @ np.linalg.lstsq(design, r, rcond=None)[0]

    expected = np.corrcoef(resid(rx), resid(ry))[0, 1]
    assert partial_spearman(x, y, z) == pytest.approx(expected, abs=1e-10)


def test_balance_is_plus_one_minus_one_and_zero():
    rng = np.random.default_rng(4)
    gold = rng.uniform(0, 5, 2000)
    overlap = np.clip(0.1 * gold + rng.normal(0, 0.2, 2000), 0, 1)  # correlated with gold, as in STS-B
    assert semantic_lexical_balance(gold, gold, overlap) == pytest.approx(1.0, abs=1e-9)
    assert semantic_lexical_balance(overlap, gold, overlap) == pytest.approx(-1.0, abs=1e-9)
    assert abs(semantic_lexical_balance(rng.normal(size=2000), gold, overlap)) < 0.1
    # Monotone transforms do not matter (rank based).
    assert semantic_lexical_balance(np.exp(gold), gold, overlap) == pytest.approx(1.0, abs=1e-9)


def test_most_frequent_token_and_overlap():
    assert most_frequent_token([101, 7, 8, 8, 7, 102], ignore_ids=[101, 102]) == 7  # tie: first seen
    assert most_frequent_token([101, 9, 8, 8, 102], ignore_ids=[101, 102]) == 8
    assert most_frequent_token([101, 102], ignore_ids=[101, 102]) == -1
    assert word_set("The cat, the CAT sat.") == {"the", "cat", "sat"}
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0


def states(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(13, 7, 32, generator=g)
    mask = torch.ones(13, 7, dtype=torch.long)
    mask[0, 4:] = 0
    mask[5, 2:] = 0
    return hidden, mask


def test_paper_weighted_pooling_equals_mean():
    hidden, mask = states()
    torch.testing.assert_close(weighted_pool(hidden, mask), mean_pool(hidden, mask), rtol=1e-6, atol=1e-6)


def test_attention_pooling_is_seeded_ignores_padding_and_averages():
    hidden, mask = states()
    a = attention_pool(hidden, mask, seed=3)
    torch.testing.assert_close(a, attention_pool(hidden, mask, seed=3))
    assert not torch.allclose(a, attention_pool(hidden, mask, seed=4))
    garbage = hidden.clone()
    garbage[0, 4:] = 1e3  # padding positions must get no weight
    torch.testing.assert_close(attention_pool(garbage, mask, seed=3), a)
    constant = torch.ones(13, 7, 32) * torch.arange(
        32.0
    )  # every token equal: any convex weighting returns it
    torch.testing.assert_close(attention_pool(constant, mask, seed=3), constant[:, 0])
    # Matches the written formula on one row.
    q = torch.randn(32, generator=torch.Generator().manual_seed(3))
    w = torch.softmax(hidden[5, :2] @ q / 32**0.5, dim=0)
    torch.testing.assert_close(a[5], w @ hidden[5, :2])


def test_unknown_pooling_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid poolings: .*weighted.*attention"):
        get_probe_pooler("median")
    assert set(PROBE_POOLERS) >= {"mean", "max", "cls", "first_last_mean", "weighted", "attention"}


def test_spectral_metrics_are_those_of_the_centred_embeddings():
    """A common offset (here +2 on every coordinate) is not spread: the centred spectrum, hence effective rank,
    spectral entropy, stable rank, participation ratio and n_components, must not change (a zero-mean test set
    cannot tell centred from uncentred)."""
    sigma = [4.0, 2.0, 1.0, 1.0]
    z = with_spectrum(sigma) + 2.0
    np.testing.assert_allclose(singular_values(z), sigma, atol=1e-9)
    p = np.array(sigma) / sum(sigma)
    metrics = geometry_metrics(z)
    assert metrics["effective_rank"] == pytest.approx(math.exp(-np.sum(p * np.log(p))), rel=1e-9)
    assert metrics["stable_rank"] == pytest.approx(22 / 16, rel=1e-9)
    assert metrics["participation_ratio"] == pytest.approx(22**2 / (256 + 16 + 1 + 1), rel=1e-9)
    assert metrics["n_components_90"] == 2.0
    g = gaussian(300, 16, seed=4)
    centred, offset = geometry_metrics(g - g.mean(0)), geometry_metrics(g + 2.0)
    for key in (
        "effective_rank",
        "spectral_entropy",
        "stable_rank",
        "participation_ratio",
        "n_components_90",
    ):
        assert offset[key] == pytest.approx(centred[key], rel=1e-9), key
