"""The GLUE metrics, by the names `evaluate.load("glue", task)` returns, computed with scikit-learn and scipy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

GLUE_HUB_ID = "nyu-mll/glue"


def accuracy(predictions: np.ndarray, references: np.ndarray) -> float:
    """Fraction of exact matches, `mean_i [y_hat_i = y_i]` (GLUE's SST-2, MNLI and MRPC accuracy;
    `sklearn.metrics.accuracy_score`)."""
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(references, predictions))


def binary_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    """F1 of the positive class 1: `2 TP / (2 TP + FP + FN)`, 0 when there is no positive at all.

    The MRPC metric of GLUE (Wang et al. 2019), as `evaluate`'s `glue` computes it:
    `sklearn.metrics.f1_score(references, predictions)` (binary, `pos_label=1`, zero division -> 0).
    """
    from sklearn.metrics import f1_score

    return float(f1_score(references, predictions, pos_label=1, average="binary", zero_division=0.0))


def matthews_correlation(predictions: np.ndarray, references: np.ndarray) -> float:
    """Matthews correlation coefficient, K-class form (Gorodkin 2004), the CoLA metric of GLUE.

    With confusion matrix `C`, `t_k = sum_j C_kj` (true counts), `p_k = sum_i C_ik` (predicted counts),
    `c = trace C`, `s = sum C`: `MCC = (c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))`,
    0 when the denominator is 0 (`sklearn.metrics.matthews_corrcoef`). Binary case: Matthews 1975.
    """
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(references, predictions))


def _is_constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x.flat[0])) if x.size else True


def pearson(predictions: np.ndarray, references: np.ndarray) -> float:
    """Pearson's r, `cov(x, y) / (sd(x) sd(y))` (the STS-B metric of GLUE, `scipy.stats.pearsonr`).

    NaN when either input is constant: r is undefined there. scipy also returns NaN, but with a
    `ConstantInputWarning` per call, and a collapsed encoder's probe gives constant predictions in every
    bootstrap replicate, so the guard answers first.
    """
    from scipy.stats import pearsonr

    x, y = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64)
    if _is_constant(x) or _is_constant(y):
        return float("nan")
    return float(pearsonr(x, y).statistic)


def rank(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (`scipy.stats.rankdata(method='average')`), 1-based."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(x, dtype=np.float64))


def spearman(predictions: np.ndarray, references: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks (Spearman 1904; `scipy.stats.spearmanr`).

    NaN when either input is constant (the guard of `pearson`).
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64)
    if _is_constant(x) or _is_constant(y):
        return float("nan")
    return float(spearmanr(x, y).statistic)


MetricFn = Callable[[np.ndarray, np.ndarray], float]

# The metric of each name, under the names `evaluate.load("glue", task)` returns.
GLUE_METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "f1": binary_f1,
    "matthews_correlation": matthews_correlation,
    "pearson": pearson,
    "spearmanr": spearman,
}


# Which metrics fit which kind of task (a classification probe's C is chosen for its headline metric).
CLASSIFICATION_METRICS = ("accuracy", "f1", "matthews_correlation")
REGRESSION_METRICS = ("pearson", "spearmanr")


def compute_metrics(
    metrics: Sequence[str], predictions: np.ndarray, references: np.ndarray
) -> dict[str, float]:
    """The named metrics of `GLUE_METRICS` (the definitions of `evaluate.load("glue", task)`), offline."""
    return {name: GLUE_METRICS[name](predictions, references) for name in metrics}
