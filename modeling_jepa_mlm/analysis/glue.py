"""The five GLUE tasks of the analysis: a task table, split loading (Hub or local folder) and the GLUE metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

GLUE_HUB_ID = "nyu-mll/glue"
LOCAL_SUFFIXES = (".parquet", ".csv", ".tsv", ".jsonl", ".json")


def accuracy(predictions: np.ndarray, references: np.ndarray) -> float:
    """Fraction of exact matches, `mean_i [y_hat_i = y_i]` (GLUE's SST-2, MNLI and MRPC accuracy)."""
    return float(np.mean(np.asarray(predictions) == np.asarray(references)))


def binary_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    """F1 of the positive class 1: `2 TP / (2 TP + FP + FN)`, 0 when there is no positive at all.

    The MRPC metric of GLUE (Wang et al. 2019), as `evaluate`'s `glue` computes it with
    `sklearn.metrics.f1_score(references, predictions)` (binary, `pos_label=1`, zero division -> 0).
    """
    p, r = np.asarray(predictions) == 1, np.asarray(references) == 1
    tp, fp, fn = np.sum(p & r), np.sum(p & ~r), np.sum(~p & r)
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom else 0.0


def matthews_correlation(predictions: np.ndarray, references: np.ndarray) -> float:
    """Matthews correlation coefficient, K-class form (Gorodkin 2004), the CoLA metric of GLUE.

    With confusion matrix `C`, `t_k = sum_j C_kj` (true counts), `p_k = sum_i C_ik` (predicted counts),
    `c = trace C`, `s = sum C`: `MCC = (c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))`,
    0 when the denominator is 0 (as `sklearn.metrics.matthews_corrcoef`). Binary case: Matthews 1975.
    """
    y_hat, y = np.asarray(predictions), np.asarray(references)
    classes, inverse = np.unique(np.concatenate([y, y_hat]), return_inverse=True)
    t = np.bincount(inverse[: len(y)], minlength=len(classes)).astype(np.float64)
    p = np.bincount(inverse[len(y) :], minlength=len(classes)).astype(np.float64)
    c, s = float(np.sum(y == y_hat)), float(len(y))
    denom = np.sqrt((s**2 - p @ p) * (s**2 - t @ t))
    return float((c * s - p @ t) / denom) if denom > 0 else 0.0


def pearson(predictions: np.ndarray, references: np.ndarray) -> float:
    """Pearson's r, `cov(x, y) / (sd(x) sd(y))` (the STS-B metric of GLUE, `scipy.stats.pearsonr`); NaN if constant."""
    x = np.asarray(predictions, dtype=np.float64) - np.mean(predictions)
    y = np.asarray(references, dtype=np.float64) - np.mean(references)
    denom = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denom) if denom > 0 else float("nan")


def rank(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (`scipy.stats.rankdata(method='average')`), 1-based."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(x, dtype=np.float64))


def spearman(predictions: np.ndarray, references: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks (Spearman 1904; `scipy.stats.spearmanr`)."""
    return pearson(rank(predictions), rank(references))


MetricFn = Callable[[np.ndarray, np.ndarray], float]

# The metric of each name, under the names `evaluate.load("glue", task)` returns.
GLUE_METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "f1": binary_f1,
    "matthews_correlation": matthews_correlation,
    "pearson": pearson,
    "spearmanr": spearman,
}


@dataclass(frozen=True)
class GlueTask:
    """One GLUE task as the probe reads it.

    Attributes:
        name: the Hub config name (`sst2`, ...).
        text_columns: one column (single sentence) or two (sentence pair).
        num_labels: number of classes; 1 means regression (STS-B).
        metrics: names from `GLUE_METRICS`; the first is the headline metric of the task in GLUE.
        eval_split: the split the probes are scored on (MNLI: `validation_matched`).
        positive_pair: for pair tasks, which gold labels make a positive pair (alignment).
        label_column, train_split: column and split names of the Hub layout.
    """

    name: str
    text_columns: tuple[str, ...]
    num_labels: int
    metrics: tuple[str, ...]
    eval_split: str = "validation"
    positive_pair: Callable[[float], bool] | None = None
    label_column: str = "label"
    train_split: str = "train"

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2


def _stsb_positive(label: float) -> bool:
    """STS-B pairs scored above 4 of 5 ("mostly equivalent" or better) are positives."""
    return label > 4.0


def _is_label_one(label: float) -> bool:
    """MRPC: label 1 means the two sentences are paraphrases."""
    return label == 1


def _is_label_zero(label: float) -> bool:
    """MNLI: label 0 is entailment."""
    return label == 0


GLUE_TASKS: dict[str, GlueTask] = {
    "sst2": GlueTask("sst2", ("sentence",), 2, ("accuracy",)),
    "mrpc": GlueTask("mrpc", ("sentence1", "sentence2"), 2, ("f1", "accuracy"), positive_pair=_is_label_one),
    "mnli": GlueTask(
        "mnli",
        ("premise", "hypothesis"),
        3,
        ("accuracy",),
        "validation_matched",
        positive_pair=_is_label_zero,
    ),
    "cola": GlueTask("cola", ("sentence",), 2, ("matthews_correlation",)),
    "stsb": GlueTask(
        "stsb", ("sentence1", "sentence2"), 1, ("pearson", "spearmanr"), positive_pair=_stsb_positive
    ),
}


def get_task(name: str) -> GlueTask:
    """Look up a task by its Hub config name.

    Raises:
        ValueError: naming the unknown task and listing the valid ones.
    """
    if name not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {name!r}; valid tasks: {', '.join(GLUE_TASKS)}")
    return GLUE_TASKS[name]


def compute_glue_metrics(task: GlueTask, predictions: np.ndarray, references: np.ndarray) -> dict[str, float]:
    """The task's GLUE metrics (the definitions of `evaluate.load("glue", task)`), computed offline."""
    return {name: GLUE_METRICS[name](predictions, references) for name in task.metrics}


@dataclass
class GlueSplit:
    """The examples of one split after sub-sampling.

    Attributes:
        texts_a: first (or only) sentence of each example.
        texts_b: second sentence of each pair, None for single-sentence tasks.
        labels: (N,) int64 class ids, or float64 scores for regression.
        row_ids: (N,) positions of the examples in the full split, so two runs can be matched.
    """

    task: GlueTask
    split: str
    texts_a: list[str]
    texts_b: list[str] | None
    labels: np.ndarray
    row_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.texts_a)

    def positive_mask(self) -> np.ndarray:
        """(N,) bool: which pairs are positives for alignment; all False for single-sentence tasks."""
        rule = self.task.positive_pair
        if rule is None:
            return np.zeros(len(self), dtype=bool)
        return np.array([rule(float(y)) for y in self.labels], dtype=bool)


def _local_split_files(glue_dir: Path, task: GlueTask, split: str) -> list[Path]:
    """The files of `split` in `glue_dir/<task>/`, Hub naming (`<split>-00000-of-00001.parquet`) or `<split>.<ext>`."""
    folder = glue_dir / task.name
    if not glue_dir.is_dir():
        raise FileNotFoundError(f"GLUE folder {str(glue_dir)!r} does not exist")
    if not folder.is_dir():
        present = sorted(p.name for p in glue_dir.iterdir() if p.is_dir())
        raise FileNotFoundError(
            f"GLUE folder {str(glue_dir)!r} has no sub-folder {task.name!r}; task folders present: {present}"
        )
    data_files = [p for p in sorted(folder.iterdir()) if p.suffix in LOCAL_SUFFIXES]
    files = [p for p in data_files if p.stem == split or p.name.startswith(f"{split}-")]
    if not files:
        present = sorted({p.stem.split("-")[0] for p in data_files})
        raise FileNotFoundError(
            f"no {split!r} split for task {task.name!r} in {str(folder)!r} (expected {split}-*.parquet or "
            f"{split}.csv/.tsv/.jsonl); splits present: {present}"
        )
    return files


def _read_local(files: list[Path]) -> pd.DataFrame:
    """Read parquet / CSV / TSV / JSON-lines files into one DataFrame."""
    frames = []
    for path in files:
        if path.suffix == ".parquet":
            frames.append(pd.read_parquet(path))
        elif path.suffix in (".csv", ".tsv"):
            frames.append(
                pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", keep_default_na=False)
            )
        else:
            frames.append(pd.read_json(path, lines=path.suffix == ".jsonl"))
    return pd.concat(frames, ignore_index=True)


def load_glue_split(
    task: GlueTask,
    split: str,
    *,
    glue_dir: str | Path | None = None,
    hub_id: str = GLUE_HUB_ID,
    max_samples: int | None = None,
    seed: int = 0,
) -> GlueSplit:
    """Load one split of a task, drop unlabelled rows (label -1, GLUE test sets), and sub-sample it.

    Args:
        task: an entry of `GLUE_TASKS`.
        split: split name (`train`, `validation`, `validation_matched`, ...).
        glue_dir: a local folder with the Hub layout (`<dir>/<task>/<split>-*.parquet`; CSV/TSV/JSON-lines
            also read); None reads `hub_id` through `datasets.load_dataset`.
        max_samples: keep a seeded uniform sample of this many rows, in their original order; None keeps all.
        seed: seed of the sample, so every model sees the same examples.

    Raises:
        FileNotFoundError: the folder, the task sub-folder or the split is missing (lists what is present).
        ValueError: a required column is missing.
    """
    if glue_dir is not None:
        frame = _read_local(_local_split_files(Path(glue_dir), task, split))
    else:
        import datasets

        frame = datasets.load_dataset(hub_id, task.name, split=split).to_pandas()
    needed = (*task.text_columns, task.label_column)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"split {split!r} of task {task.name!r} lacks columns {missing}; it has {list(frame.columns)}, "
            f"the task needs {list(needed)}"
        )
    labels = frame[task.label_column].to_numpy(dtype=np.float64 if task.is_regression else np.int64)
    keep = np.flatnonzero(labels != -1)
    if max_samples is not None and max_samples < len(keep):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(keep, size=max_samples, replace=False))
    logger.info("GLUE %s/%s: %d examples", task.name, split, len(keep))

    def texts(column: str) -> list[str]:
        return [str(t) for t in frame[column].to_numpy()[keep]]

    return GlueSplit(
        task=task,
        split=split,
        texts_a=texts(task.text_columns[0]),
        texts_b=texts(task.text_columns[1]) if task.is_pair else None,
        labels=labels[keep],
        row_ids=keep,
    )
