"""GLUE task table, split loading from a local Hub-layout folder, and the GLUE metrics (sklearn/scipy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from modeling_jepa_mlm.analysis.glue import (
    accuracy,
    binary_f1,
    compute_metrics,
    matthews_correlation,
    pearson,
    spearman,
)
from modeling_jepa_mlm.analysis.tasks import GLUE_TASKS, get_task
from modeling_jepa_mlm.analysis.tasks import load_split as load_glue_split


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 101)
    y_hat = np.where(rng.random(101) < 0.7, y, 1 - y)
    assert accuracy(y_hat, y) == pytest.approx(accuracy_score(y, y_hat), abs=1e-12)
    assert binary_f1(y_hat, y) == pytest.approx(f1_score(y, y_hat), abs=1e-12)
    assert matthews_correlation(y_hat, y) == pytest.approx(matthews_corrcoef(y, y_hat), abs=1e-12)
    y3, y3_hat = rng.integers(0, 3, 97), rng.integers(0, 3, 97)
    assert matthews_correlation(y3_hat, y3) == pytest.approx(matthews_corrcoef(y3, y3_hat), abs=1e-12)


def test_degenerate_classification_metrics_follow_sklearn():
    y = np.array([0, 0, 1, 1])
    constant = np.zeros(4, dtype=int)
    assert matthews_correlation(constant, y) == matthews_corrcoef(y, constant) == 0.0
    assert binary_f1(constant, np.zeros(4, dtype=int)) == 0.0


def test_regression_metrics_equal_scipy():
    rng = np.random.default_rng(5)
    gold = np.round(rng.uniform(0, 5, 80), 1)  # rounded: ties, as in STS-B
    pred = gold + rng.normal(0, 1, 80)
    assert pearson(pred, gold) == pytest.approx(pearsonr(pred, gold)[0], abs=1e-12)
    assert spearman(np.round(pred), gold) == pytest.approx(spearmanr(np.round(pred), gold)[0], abs=1e-12)
    assert np.isnan(pearson(np.ones(5), np.arange(5.0)))


def test_task_metrics_use_the_glue_names():
    y = np.array([1, 0, 1, 1])
    assert set(compute_metrics(GLUE_TASKS["mrpc"].metrics, y, y)) == {"f1", "accuracy"}
    assert set(compute_metrics(GLUE_TASKS["stsb"].metrics, y * 1.0, y * 1.0)) == {"pearson", "spearmanr"}
    assert GLUE_TASKS["cola"].metrics[0] == "matthews_correlation"
    assert GLUE_TASKS["mnli"].eval_split == "validation_matched"
    assert GLUE_TASKS["stsb"].is_regression and GLUE_TASKS["stsb"].is_pair
    assert not GLUE_TASKS["sst2"].is_pair


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'qnli'; valid tasks: sst2, mrpc, mnli, cola, stsb"):
        get_task("qnli")


def write_split(folder, name: str, frame: pd.DataFrame, fmt: str = "parquet") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(folder / f"{name}-00000-of-00001.parquet", index=False)
    else:
        frame.to_csv(folder / f"{name}.{fmt}", index=False, sep="\t" if fmt == "tsv" else ",")


def test_load_local_split_subsamples_reproducibly_and_drops_unlabelled(tmp_path):
    frame = pd.DataFrame({"sentence": [f"s{i}" for i in range(50)], "label": [i % 2 for i in range(50)]})
    frame.loc[[3, 7], "label"] = -1
    write_split(tmp_path / "sst2", "train", frame)
    full = load_glue_split(GLUE_TASKS["sst2"], "train", glue_dir=tmp_path)
    assert len(full) == 48 and 3 not in full.row_ids and full.texts_b is None
    a = load_glue_split(GLUE_TASKS["sst2"], "train", glue_dir=tmp_path, max_samples=10, seed=1)
    b = load_glue_split(GLUE_TASKS["sst2"], "train", glue_dir=tmp_path, max_samples=10, seed=1)
    c = load_glue_split(GLUE_TASKS["sst2"], "train", glue_dir=tmp_path, max_samples=10, seed=2)
    assert a.texts_a == b.texts_a and a.texts_a != c.texts_a
    assert list(a.row_ids) == sorted(a.row_ids)
    assert all(t == f"s{r}" for t, r in zip(a.texts_a, a.row_ids, strict=True))
    assert all(y == r % 2 for y, r in zip(a.labels, a.row_ids, strict=True))


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_load_pairs_from_csv_and_positive_pairs(tmp_path, fmt):
    frame = pd.DataFrame(
        {"sentence1": ["a b", "c d", "e"], "sentence2": ["a", "d", "f"], "label": [4.5, 4.0, 1.0]}
    )
    write_split(tmp_path / "stsb", "validation", frame, fmt)
    split = load_glue_split(GLUE_TASKS["stsb"], "validation", glue_dir=tmp_path)
    assert split.texts_b == ["a", "d", "f"]
    assert split.labels.dtype == np.float64
    assert split.positive_mask().tolist() == [True, False, False]  # STS-B positives: score > 4


def test_missing_split_names_the_split_and_those_present(tmp_path):
    frame = pd.DataFrame({"premise": ["p"], "hypothesis": ["h"], "label": [0]})
    write_split(tmp_path / "mnli", "train", frame)
    with pytest.raises(
        FileNotFoundError, match=r"no 'validation_matched' split for task 'mnli'.*present: \['train'\]"
    ):
        load_glue_split(GLUE_TASKS["mnli"], "validation_matched", glue_dir=tmp_path)


def test_missing_task_folder_and_missing_glue_dir(tmp_path):
    write_split(tmp_path / "sst2", "train", pd.DataFrame({"sentence": ["x"], "label": [1]}))
    with pytest.raises(FileNotFoundError, match=r"no sub-folder 'cola'.*\['sst2'\]"):
        load_glue_split(GLUE_TASKS["cola"], "train", glue_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_glue_split(GLUE_TASKS["cola"], "train", glue_dir=tmp_path / "nowhere")


def test_missing_column_is_named(tmp_path):
    write_split(tmp_path / "mrpc", "train", pd.DataFrame({"sentence1": ["x"], "label": [1]}))
    with pytest.raises(ValueError, match=r"lacks columns \['sentence2'\]"):
        load_glue_split(GLUE_TASKS["mrpc"], "train", glue_dir=tmp_path)
