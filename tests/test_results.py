"""The typed probe results: exact JSON round trips, the committed results.json files load, bad files fail clearly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from modeling_jepa_mlm.analysis import results as io
from modeling_jepa_mlm.analysis.paper import PAPER, Claim, load_paper
from modeling_jepa_mlm.analysis.report import markdown_report
from modeling_jepa_mlm.analysis.results import (
    Cell,
    ClaimVerdict,
    Comparison,
    ModelInfo,
    ProbeRun,
    TaskExamples,
    Timing,
)
from modeling_jepa_mlm.analysis.significance import CLAIMS
from modeling_jepa_mlm.files import jsonable

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "experiments" / "results"
COMMITTED = PUBLISHED / "cpu_49m" / "probe_standard" / "results.json"


def hand_made_run() -> ProbeRun:
    """Two models, one task, one pooling; NaN-free values, an undefined cell, a comparison and a claim."""
    cells = {
        "hybrid": {"uniformity": Cell(-1.25, -1.3, -1.2), "balance": Cell(None)},
        "mlm": {"uniformity": Cell(-0.875, -0.9, -0.85), "balance": Cell(0.125)},
    }
    return ProbeRun(
        protocol="standard",
        models={
            "hybrid": ModelInfo("out/hybrid", 123, 32),
            "mlm": ModelInfo("org/mlm", 456, None),
        },
        tasks=["stsb"],
        poolings=["mean"],
        results={m: {"stsb": {"mean": c}} for m, c in cells.items()},
        comparisons=[
            Comparison(
                "hybrid", "mlm", "stsb", "mean", "uniformity", -0.375, -0.4, -0.35, 0.001, 0.002, True
            ),
            Comparison("hybrid", "mlm", "stsb", "mean", "balance", None, None, None, None),
        ],
        claims=[ClaimVerdict("uniformity", "more uniform", "supported", "1/1 cells", "hybrid", "mlm")],
        timing=Timing({"hybrid": {"stsb": 1.5}, "mlm": {"stsb": 0.0}}, 3.25),
        n_examples={"stsb": TaskExamples(40, 20, "validation")},
        spectra={"hybrid": {"stsb": {"mean": [0.5, 0.25]}}, "mlm": {"stsb": {"mean": [0.75]}}},
        settings={"glue_dir": None, "seed": 0, "tasks": ["stsb"]},
        plots=["spectra.png"],
    )


def test_save_then_load_is_exact(tmp_path):
    run = hand_made_run()
    path = io.save(run, tmp_path / "results.json")
    loaded = io.load(path)
    assert loaded == run
    # The folder form and the dict form agree, and the JSON is strict (no NaN).
    assert io.load(tmp_path) == run
    assert json.loads(path.read_text()) == run.to_dict()
    assert "NaN" not in path.read_text()


def test_nan_becomes_none_and_the_optional_keys_round_trip(tmp_path):
    assert Cell.of(float("nan"), 1.0, float("inf")) == Cell(None, 1.0, None)
    run = hand_made_run()
    run.timing.analyse_seconds = {"hybrid": {"stsb": 2.0}}
    run.task_specs = {"stsb2": {"name": "stsb2", "kind": "pair_regression", "text_columns": ["a", "b"]}}
    assert io.load(io.save(run, tmp_path / "r.json")) == run
    assert "analyse_seconds" not in hand_made_run().to_dict()["timing"]
    assert "task_specs" not in hand_made_run().to_dict()


def test_committed_results_load_and_round_trip_to_the_same_json():
    raw = json.loads(COMMITTED.read_text())
    run = io.load(COMMITTED)
    assert list(run.models) == ["hybrid", "mlm", "hybrid_shared", "random_init"]
    assert run.tasks == ["sst2", "mrpc", "mnli", "cola", "stsb"]
    first = raw["comparisons"][0]
    assert run.comparisons[0] == Comparison(**first)
    cell = raw["results"]["hybrid"]["sst2"]["mean"]["uniformity"]
    assert run.cell("hybrid", "sst2", "mean", "uniformity") == Cell(**cell)
    assert [c.verdict for c in run.claims] == [c["verdict"] for c in raw["claims"]]
    # Every published results.json loads, and writing it back gives the file's JSON: nothing lost or changed.
    published = sorted(PUBLISHED.rglob("results.json"))
    assert COMMITTED in published
    for path in published:
        loaded = io.load(path)
        assert loaded.to_dict() == jsonable(json.loads(path.read_text())), path
        assert "## Claims of the paper" in markdown_report(loaded) or not loaded.claims


def test_bad_files_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.json"):
        io.load(tmp_path)
    data = hand_made_run().to_dict()
    data["comparisons"][0]["p_valeu"] = 0.1
    with pytest.raises(ValueError, match=r"unknown keys \['p_valeu'\] for Comparison"):
        ProbeRun.from_dict(data)
    with pytest.raises(ValueError, match=r"lacks \['results'\]"):
        ProbeRun.from_dict({k: v for k, v in hand_made_run().to_dict().items() if k != "results"})


def test_the_paper_file_is_the_one_source_of_claims_and_reference_numbers(tmp_path):
    assert PAPER.claims == CLAIMS and [c.name for c in CLAIMS][0] == "uniformity"
    assert PAPER.reference["sst2", "mean"]["uniformity"] == (-0.160, -0.052)
    assert PAPER.arxiv == "2606.05173"
    bad = tmp_path / "paper.yaml"
    bad.write_text("title: t\narxiv: '1'\nclaims:\n  - {name: x, paper: p, metrics: [m], direction: 2}\n")
    with pytest.raises(ValueError, match="direction must be -1, 0 or 1, got 2"):
        load_paper(bad)
    bad.write_text(
        "title: t\narxiv: '1'\nclaims:\n  - {name: x, paper: p, metrics: [m], direction: 1, sign: 1}\n"
    )
    with pytest.raises(ValueError, match=r"unknown keys \['sign'\]"):
        load_paper(bad)
    assert Claim.from_dict({"name": "x", "paper": "p", "metrics": ["m"], "direction": 0}).poolings is None


def test_jsonable_handles_numpy_nan_and_paths():
    import numpy as np

    out = jsonable({1: np.float32(0.5), "a": (np.int64(3), float("nan")), "p": Path("x"), "v": np.arange(2)})
    assert out == {"1": 0.5, "a": [3, None], "p": "x", "v": [0, 1]}
    assert all(not isinstance(v, float) or math.isfinite(v) for v in out["a"] if v is not None)
