"""Geometry, lexical-information and semantic-to-lexical balance metrics of sentence embeddings (pure numpy).

Every function takes arrays and returns numbers; nothing here knows about models or GLUE. Embeddings are
(N, D) float arrays, computed in float64.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.special import hyp0f1, logsumexp

from .glue import pearson, rank

# The set metrics of `geometry_metrics`, in report order.
GEOMETRY_METRICS = (
    "uniformity",
    "anisotropy",
    "effective_rank",
    "effective_rank_fraction",
    "rankme",
    "spectral_entropy",
    "stable_rank",
    "participation_ratio",
    "n_components_90",
)


def l2_normalize(z: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, `z_i / ||z_i||`; all-zero rows stay zero. (N, D) -> (N, D) float64."""
    z = np.asarray(z, dtype=np.float64)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.where(norms > 0, norms, 1.0)


def uniformity(z: np.ndarray, t: float = 2.0) -> float:
    """Uniformity loss of Wang & Isola 2020 (eq. 5): `log mean_{i<j} exp(-t ||z_i - z_j||^2)`, z L2-normalised.

    On unit vectors `||z_i - z_j||^2 = 2 - 2 cos_ij`, so the value lies in [-2t, 0]: 0 for identical
    embeddings, more negative for embeddings spread more evenly over the sphere. Computed with
    log-sum-exp over the N(N-1)/2 distinct pairs.

    Args:
        z: (N, D) embeddings, N >= 2.
        t: temperature, 2 as in the paper.
    """
    zn = l2_normalize(z)
    if len(zn) < 2:
        raise ValueError(f"uniformity needs at least 2 embeddings, got {len(zn)}")
    sq_dist = np.clip(2.0 - 2.0 * (zn @ zn.T), 0.0, 4.0)  # (N, N)
    upper = sq_dist[np.triu_indices(len(zn), k=1)]
    return float(logsumexp(-t * upper) - np.log(upper.size))


def expected_uniformity_isotropic(dim: int, t: float = 2.0) -> float:
    """Population uniformity of vectors drawn uniformly on the sphere S^{D-1} (e.g. normalised Gaussians).

    For independent uniform unit vectors the cosine c has density proportional to `(1 - c^2)^{(D-3)/2}`, and
    its moment generating function is `E exp(k c) = Gamma(D/2) (2/k)^{D/2-1} I_{D/2-1}(k) = 0F1(; D/2; k^2/4)`
    (the von Mises-Fisher normaliser, Mardia & Jupp 2000, sec. 9.3). With `||z_i - z_j||^2 = 2 - 2c`, `k = 2t`:
    `U = -2t + log 0F1(; D/2; t^2)`, which is `-4 + 8/D + O(1/D^2)` at t = 2 (c ~ N(0, 1/D) for large D).
    A sample of N vectors gives this value up to O(1/N) noise. D = 1 gives `-4 + log cosh 4`.
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return float(-2.0 * t + np.log(hyp0f1(dim / 2.0, t**2)))


def alignment(za: np.ndarray, zb: np.ndarray, alpha: float = 2.0) -> float:
    """Alignment loss of Wang & Isola 2020 (eq. 4): `mean_i ||z_a,i - z_b,i||^alpha` over positive pairs.

    Rows of `za` and `zb` are the two sides of each positive pair, L2-normalised first; lies in [0, 2^alpha],
    lower is better aligned.
    """
    if len(za) != len(zb) or len(za) == 0:
        raise ValueError(f"alignment needs two equally long non-empty sets, got {len(za)} and {len(zb)}")
    diff = l2_normalize(za) - l2_normalize(zb)
    return float(np.mean(np.linalg.norm(diff, axis=1) ** alpha))


def anisotropy(z: np.ndarray) -> float:
    """Mean cosine similarity between distinct embeddings (Ethayarajh 2019): `mean_{i != j} cos(z_i, z_j)`.

    Computed without the N x N matrix: `(||sum_i z_i||^2 - sum_i ||z_i||^2) / (N (N - 1))` on unit rows.
    By Jensen's inequality `uniformity >= -4 (1 - anisotropy)` at t = 2.
    """
    zn = l2_normalize(z)
    n = len(zn)
    if n < 2:
        raise ValueError(f"anisotropy needs at least 2 embeddings, got {n}")
    total = zn.sum(0)
    return float((total @ total - np.sum(zn * zn)) / (n * (n - 1)))


def singular_values(z: np.ndarray, center: bool = True) -> np.ndarray:
    """Singular values of the (optionally column-centred) embedding matrix, descending, (min(N, D),) float64.

    Values below `max(N, D) * eps * ||Z||_F` of the *uncentred* matrix are set to 0 (numpy's `matrix_rank`
    tolerance, with the Frobenius norm bounding `||Z||_2`), so that rounding noise left by centring identical
    rows does not count as spread.
    """
    z = np.asarray(z, dtype=np.float64)
    scale = np.linalg.norm(z)
    if center:
        z = z - z.mean(0, keepdims=True)
    sigma = np.linalg.svd(z, compute_uv=False)
    sigma[sigma <= max(z.shape) * np.finfo(np.float64).eps * scale] = 0.0
    return sigma


def _entropy(p: np.ndarray) -> float:
    """Shannon entropy in nats, `-sum p log p` with `0 log 0 = 0`."""
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def effective_rank(sigma: np.ndarray) -> float:
    """Effective rank of Roy & Vetterli 2007: `exp(-sum_k p_k log p_k)`, `p_k = sigma_k / sum_j sigma_j`.

    Takes the singular values of the centred embeddings (`singular_values(z, center=True)`). Lies in
    [1, rank]; points on one line give 1. A set with no spread at all (all sigma 0) gives 0.
    """
    total = float(np.sum(sigma))
    return float(np.exp(_entropy(sigma / total))) if total > 0 else 0.0


def rank_fraction(rank: float, n_samples: int, width: int) -> float:
    """A rank as a fraction of its maximum: `rank / min(n_samples, width)` (N points in D dimensions span at
    most min(N, D) directions), so that encoders of different widths, or runs with different sample sizes,
    compare."""
    if n_samples < 1 or width < 1:
        raise ValueError(f"n_samples and width must be >= 1, got {n_samples} and {width}")
    return float(rank) / min(n_samples, width)


def rankme(sigma: np.ndarray, eps: float = 1e-7) -> float:
    """RankMe of Garrido et al. 2023 (eq. 1): `exp(-sum_k p_k log p_k)`, `p_k = sigma_k / ||sigma||_1 + eps`.

    Takes the singular values of the *uncentred* embeddings (`singular_values(z, center=False)`), as in
    the paper; identical embeddings give 1 (up to the eps term).
    """
    total = float(np.sum(sigma))
    if total <= 0:
        return 0.0
    p = sigma / total + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def spectral_entropy(sigma: np.ndarray) -> float:
    """Normalised entropy of the variance spectrum: `-sum_k q_k log q_k / log K`, `q_k = sigma_k^2 / sum sigma^2`.

    `q` are the PCA explained-variance ratios (eigenvalues of the covariance) and K = min(N, D) the number of
    components, so the value lies in [0, 1]: 1 for isotropic spread, 0 for one direction.
    """
    lam = sigma**2
    total = float(np.sum(lam))
    if total <= 0 or len(sigma) < 2:
        return 0.0
    return _entropy(lam / total) / float(np.log(len(sigma)))


def stable_rank(sigma: np.ndarray) -> float:
    """Stable (numerical) rank, `||Z||_F^2 / ||Z||_2^2 = sum_k sigma_k^2 / sigma_1^2` (Rudelson & Vershynin 2007)."""
    top = float(np.max(sigma)) if len(sigma) else 0.0
    return float(np.sum(sigma**2) / top**2) if top > 0 else 0.0


def participation_ratio(sigma: np.ndarray) -> float:
    """Participation ratio of the covariance eigenvalues `lam = sigma^2`: `(sum lam)^2 / sum lam^2`.

    A linear measure of dimensionality (Gao et al. 2017; Recanatesi et al. 2019), in [1, rank].
    """
    lam = sigma**2
    denom = float(np.sum(lam**2))
    return float(np.sum(lam) ** 2 / denom) if denom > 0 else 0.0


def n_components(sigma: np.ndarray, threshold: float = 0.9) -> int:
    """Fewest principal components whose explained variance `sum_{k<=K} sigma_k^2 / sum sigma^2` reaches `threshold`."""
    lam = sigma**2
    total = float(np.sum(lam))
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(lam) / total, threshold - 1e-12) + 1)


def explained_variance(sigma: np.ndarray) -> np.ndarray:
    """PCA explained-variance ratios `sigma_k^2 / sum sigma^2`, descending: the eigen-spectrum that is plotted."""
    lam = sigma**2
    total = float(np.sum(lam))
    return lam / total if total > 0 else lam


def geometry_metrics(z: np.ndarray) -> dict[str, float]:
    """Every set metric of `GEOMETRY_METRICS` for one set of embeddings (two SVDs: centred and uncentred)."""
    centred = singular_values(z, center=True)
    return {
        "uniformity": uniformity(z),
        "anisotropy": anisotropy(z),
        "effective_rank": effective_rank(centred),
        "effective_rank_fraction": rank_fraction(effective_rank(centred), *np.shape(z)),
        "rankme": rankme(singular_values(z, center=False)),
        "spectral_entropy": spectral_entropy(centred),
        "stable_rank": stable_rank(centred),
        "participation_ratio": participation_ratio(centred),
        "n_components_90": float(n_components(centred, 0.9)),
    }


def most_frequent_token(token_ids: Sequence[int], ignore_ids: Iterable[int] = ()) -> int:
    """The paper's token-probe label: the most frequent token id of a text, special tokens excluded.

    Ties go to the token that occurs first (`collections.Counter.most_common` order). Returns -1 for a text
    with no ordinary token.
    """
    ignore = set(ignore_ids)
    counts = Counter(t for t in token_ids if t not in ignore)
    return counts.most_common(1)[0][0] if counts else -1


_WORD = re.compile(r"\w+")


def word_set(text: str) -> set[str]:
    """Lower-cased word types of a text (`\\w+` runs), the unit of the word-overlap measure."""
    return set(_WORD.findall(text.lower()))


def jaccard(a: set, b: set) -> float:
    """Jaccard overlap `|A & B| / |A | B|` (Jaccard 1912); 0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def cosine_rows(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, D) arrays, (N,) float64."""
    return np.sum(l2_normalize(u) * l2_normalize(v), axis=1)


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Spearman partial correlation of x and y given z: Pearson's partial correlation of the ranks.

    `rho_xy.z = (rho_xy - rho_xz rho_yz) / sqrt((1 - rho_xz^2)(1 - rho_yz^2))` with Spearman rhos
    (Kendall & Stuart 1979, ch. 27; Conover 1999). When the ranks of z determine those of x or y, the
    residual of that variable is identically 0 and has no partial association: the value is 0.
    """
    rx, ry, rz = rank(x), rank(y), rank(z)
    r_xy, r_xz, r_yz = pearson(rx, ry), pearson(rx, rz), pearson(ry, rz)
    denom = np.sqrt(max(0.0, (1.0 - r_xz**2) * (1.0 - r_yz**2)))
    return float((r_xy - r_xz * r_yz) / denom) if denom > 1e-9 else 0.0


def semantic_lexical_balance(similarity: np.ndarray, gold: np.ndarray, overlap: np.ndarray) -> float:
    """Semantic-to-lexical balance on sentence pairs (this project's definition):

    `B = rho(sim, gold | overlap) - rho(sim, overlap | gold)`, with `rho(. , . | .)` the partial Spearman
    correlation, `sim` the cosine of the two sentence embeddings, `gold` the human similarity score (STS-B)
    and `overlap` the word-overlap Jaccard of the pair. +1: the similarity follows meaning and nothing of
    the surface overlap beyond it; -1: it follows surface overlap only; about 0 for noise.
    """
    return partial_spearman(similarity, gold, overlap) - partial_spearman(similarity, overlap, gold)


def probe_gap(semantic_score: float, lexical_score: float) -> float:
    """The paper's balance: semantic probe score minus token probe accuracy, `s_sem - s_tok`."""
    return float(semantic_score - lexical_score)
