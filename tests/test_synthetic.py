"""The synthetic corpus and GLUE folders: seeded, in the Hub layout the probe reads, with learnable signal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeling_jepa_mlm.analysis.tasks import GLUE_TASKS
from modeling_jepa_mlm.analysis.tasks import load_split as load_glue_split
from modeling_jepa_mlm.quickstart.synthetic import (
    NEGATIVE,
    POSITIVE,
    TASK_SPLITS,
    generate_corpus,
    generate_task_split,
    write_corpus,
    write_glue,
)

HUB_COLUMNS = {
    "sst2": ["sentence", "label", "idx"],
    "mrpc": ["sentence1", "sentence2", "label", "idx"],
    "cola": ["sentence", "label", "idx"],
    "stsb": ["sentence1", "sentence2", "label", "idx"],
    "mnli": ["premise", "hypothesis", "label", "idx"],
}


def test_corpus_is_seeded_varied_and_written_as_jsonl(tmp_path):
    a, b, c = generate_corpus(200, seed=1), generate_corpus(200, seed=1), generate_corpus(200, seed=2)
    assert a == b and a != c
    assert len(set(a)) == 200  # no duplicate documents
    words = {w for doc in a for w in doc.lower().replace(".", "").split()}
    assert len(words) > 150
    path = write_corpus(tmp_path / "c" / "corpus.jsonl", 20, seed=1)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["text"] for r in rows] == generate_corpus(20, seed=1)


def test_glue_folder_has_the_hub_layout_columns_and_dtypes(tmp_path):
    write_glue(tmp_path, sizes={"train": 30, "validation": 10, "test": 5}, seed=3)
    for task, splits in TASK_SPLITS.items():
        files = sorted(p.name for p in (tmp_path / task).iterdir())
        assert files == sorted(f"{s}-00000-of-00001.parquet" for s in splits)
        for split in splits:
            frame = pd.read_parquet(tmp_path / task / f"{split}-00000-of-00001.parquet")
            assert list(frame.columns) == HUB_COLUMNS[task]
            assert len(frame) == (5 if split.startswith("test") else 10 if "validation" in split else 30)
            assert frame["idx"].tolist() == list(range(len(frame)))
            assert frame["label"].dtype == (np.float32 if task == "stsb" else np.int64)
            if split.startswith("test"):
                assert (frame["label"] == -1).all()
    assert json.loads((tmp_path / "synthetic.json").read_text())["seed"] == 3


@pytest.mark.parametrize("task", list(TASK_SPLITS))
def test_probe_reads_every_task_with_its_eval_split(tmp_path, task):
    write_glue(tmp_path, tasks=[task], sizes={"train": 40, "validation": 20, "test": 5})
    spec = GLUE_TASKS[task]
    split = load_glue_split(spec, spec.eval_split, glue_dir=tmp_path)
    assert len(split) == 20 and (split.texts_b is not None) == spec.is_pair
    assert (
        load_glue_split(spec, "test" if task != "mnli" else "test_matched", glue_dir=tmp_path).labels.size
        == 0
    )


def test_labels_are_balanced_and_seeded():
    for task in TASK_SPLITS:
        a = generate_task_split(task, "train", 400, seed=5)
        pd.testing.assert_frame_equal(a, generate_task_split(task, "train", 400, seed=5))
        assert not a.equals(generate_task_split(task, "train", 400, seed=6))
        if task == "stsb":
            assert a["label"].between(0, 5).all() and a["label"].std() > 1.0
        else:
            shares = a["label"].value_counts(normalize=True)
            assert len(shares) == (3 if task == "mnli" else 2) and shares.min() > 0.2, (task, shares)


def test_signal_is_learnable_from_the_text():
    """Each label follows from its text by the grammar's rule, so a probe has something to find."""
    sst2 = generate_task_split("sst2", "train", 500, seed=0)
    for sentence, label in zip(sst2["sentence"], sst2["label"], strict=True):
        words = set(sentence.split())
        pos, neg = bool(words & set(POSITIVE)), bool(words & set(NEGATIVE))
        assert pos != neg  # one polarity per review
        assert label == (pos != ("not" in words))
    cola = generate_task_split("cola", "train", 500, seed=0)
    corrupted = cola[cola["label"] == 0]["sentence"]
    assert not set(corrupted) & set(cola[cola["label"] == 1]["sentence"])
    stsb = generate_task_split("stsb", "train", 500, seed=0)
    overlap = [
        len(set(a.split()) & set(b.split())) / len(set(a.split()) | set(b.split()))
        for a, b in zip(stsb["sentence1"], stsb["sentence2"], strict=True)
    ]
    assert np.corrcoef(overlap, stsb["label"])[0, 1] > 0.5
    mrpc = generate_task_split("mrpc", "train", 300, seed=0)
    assert (mrpc["sentence1"] != mrpc["sentence2"]).mean() > 0.5  # paraphrases are reworded, mostly


def test_unknown_task_or_split_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="valid tasks: sst2, mrpc"):
        generate_task_split("qqp", "train", 3)
    with pytest.raises(ValueError, match="valid splits: train, validation_matched"):
        generate_task_split("mnli", "validation", 3)
    with pytest.raises(ValueError, match="unknown tasks"):
        write_glue(tmp_path, tasks=["rte"])
    with pytest.raises(ValueError, match="accepted keys: train, validation, test"):
        write_glue(tmp_path, sizes={"dev": 3})
