"""The GPU run's driver (benchmarks/gpu_run.py): its rehearsal runs every stage on CPU and brings back a folder the
GPU machine can return; its sizing, output checks and tables hold hand-computed values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import load_script

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"


load_script("throughput")  # gpu_run imports it by name
gpu_run = load_script("gpu_run")

EXPECTED_FILES = {
    "results.json",
    "report.md",
    "training.png",
    "probes.png",
    "training_summaries.json",
    "logs.tar.gz",
    "gpu_run.log",
}


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """One rehearsal run: its output folder, work folder and results."""
    root = tmp_path_factory.mktemp("gpu_run")
    out, work = root / "out", root / "work"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(BENCH / "gpu_run.py"), str(out), "--rehearsal", "--work_dir", str(work)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, work, json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_rehearsal_output_fits_what_a_gpu_run_brings_back(rehearsal):
    out, _, results = rehearsal
    files = {p.name: p.stat().st_size for p in out.rglob("*") if p.is_file()}
    assert set(files) == EXPECTED_FILES
    assert len(files) <= 8 and max(files.values()) <= 16 * 2**20
    assert all(p.parent == out for p in out.rglob("*"))  # flat
    assert results["output_check"]["ok"] and results["output_check"]["problems"] == []
    assert set(results["output_check"]["files"]) == EXPECTED_FILES
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = set(tar.getnames())
    for stage in results["stages"]:
        if stage["status"] == "ok":
            assert f"logs/{stage['log']}" in names
    assert {"configs/hybrid.yaml", "configs/mlm.yaml", "probe/report.md"} <= names


@pytest.mark.slow
def test_rehearsal_runs_every_stage_and_equal_budgets(rehearsal):
    out, work, results = rehearsal
    assert {
        "rehearsal",
        "plan",
        "environment",
        "arms",
        "throughput",
        "pretraining",
        "probe",
        "stages",
        "checks",
        "output_check",
        "wall_time_s",
    } <= set(results)
    statuses = {s["name"]: s["status"] for s in results["stages"]}
    assert statuses == {
        "random_init": "ok",
        "throughput_eager_0": "ok",
        "throughput_compiled_0": "ok",
        "pretrain_hybrid": "ok",
        "pretrain_mlm": "ok",
        f"pretrain_{results['arms'][2]}": "ok",
        "probe": "ok",
    }
    # Throughput: every arm beside BERT, eager, and the compiled row with its backend.
    rows = results["throughput"]["rows"]
    assert {(r["arm"], r["compile"]) for r in rows} == {
        ("bert", None),
        ("mlm", None),
        ("hybrid_shared", None),
        ("hybrid", None),
        ("mlm", "eager"),
    }
    matmul = results["throughput"]["environment"]["matmul_tflops_by_process"]
    assert results["throughput"]["environment"]["matmul_tflops"] == matmul["throughput_eager_0"] > 0
    for (
        r
    ) in rows:  # MFU = FLOPs per token x tokens/s over the rate (the rehearsal's placeholder peak: 1 TFLOP/s)
        achieved = r["flops_per_token"] * r["tokens_per_s"] / 1e12
        assert r["mfu"] == pytest.approx(achieved / 1.0) and r["mfu"] > 0
        process = "throughput_compiled_0" if r["compile"] else "throughput_eager_0"
        assert r["mfu_matmul"] == pytest.approx(achieved / matmul[process])
    # Pre-training: every arm the same steps and tokens, as budgeted; the control none.
    budget = results["pretraining"]["budget"]
    summaries = json.loads((out / "training_summaries.json").read_text())
    assert set(summaries) == {*results["arms"], "random_init"}
    for arm in results["arms"]:
        assert summaries[arm]["steps"] == budget["steps"] >= 1
        assert summaries[arm]["tokens_seen"] == budget["tokens_per_arm"] == budget["steps"] * 8 * 32
    assert summaries["random_init"]["tokens_seen"] == 0 and summaries["random_init"]["objective"] == "mlm"
    assert results["checks"]["identical_budgets"]["met"] is True
    assert results["checks"]["probe_verdicts"]["met"] is True
    # The control is the MLM arm's model: the same exported configuration.
    configs = [json.loads((work / "runs" / m / "config.json").read_text()) for m in ("mlm", "random_init")]
    for config in configs:
        config.pop("transformers_version", None)
    assert configs[0] == configs[1] and configs[0]["layer_norm_position"] == "pre"
    # Probe: the paper's hybrid first (it plays the hybrid in the claims), the control last.
    assert list(results["probe"]["models"]) == [*results["arms"], "random_init"]
    assert "## Probe (standard protocol)" in (out / "report.md").read_text()


def test_token_budget_by_hand():
    # 0.125 s + 0.375 s a step, 30 s: 60 steps; 90 % of it: 54; clamped to the bounds.
    per_step = {"a": 0.125, "b": 0.375}
    assert gpu_run.token_budget(per_step, 30.0, 1, 1000, 1.0) == 60
    assert gpu_run.token_budget(per_step, 30.0, 1, 1000, 0.9) == 54
    assert gpu_run.token_budget(per_step, 30.0, 1, 50, 1.0) == 50
    assert gpu_run.token_budget(per_step, -5.0, 7, 50, 1.0) == 7
    with pytest.raises(ValueError, match="positive and finite"):
        gpu_run.token_budget({"a": 0.0}, 30.0, 1, 10, 1.0)


def test_step_seconds_prices_each_arm_by_its_row():
    rows = [
        {"size": "6x512 L=128", "arm": "mlm", "tokens_per_s": 1000.0, "compile": None},
        {"size": "6x512 L=128", "arm": "hybrid", "tokens_per_s": 500.0, "compile": None},
        {"size": "6x512 L=128", "arm": "hybrid", "tokens_per_s": 5000.0, "compile": "inductor"},
        {"size": "12x768 L=128", "arm": "hybrid_shared", "tokens_per_s": 800.0, "compile": None},
    ]
    got = gpu_run.step_seconds(rows, ["mlm", "hybrid", "gradnorm"], "6x512", 128, 100)
    # gradnorm is priced as the hybrid (blocks) step, 1.5x; compiled rows are ignored.
    assert got == pytest.approx({"mlm": 0.1, "hybrid": 0.2, "gradnorm": 0.3})
    with pytest.raises(ValueError, match=r"hybrid_shared.*6x512 L=128"):
        gpu_run.step_seconds(rows, ["hybrid_shared"], "6x512", 128, 100)


def test_compile_seconds_leaves_the_token_bar_its_time():
    plan = gpu_run.dataclasses.replace(
        gpu_run.PLANS["gpu"], min_tokens=1000, batch_size=10, seq_len=10, min_steps=1, safety=0.5
    )
    per_step = {"mlm": 0.1, "hybrid": 0.3}  # 10 steps x 0.4 s / 0.5 + 2 x 20 s overhead = 48 s set aside
    assert gpu_run.compile_seconds(plan, per_step, 100.0)[0] == pytest.approx(52.0)
    assert gpu_run.compile_seconds(plan, per_step, 400.0)[0] == plan.compile_budget_s
    assert gpu_run.compile_seconds(plan, per_step, 40.0)[0] == 0.0
    assert gpu_run.compile_seconds(plan, None, 40.0)[0] == plan.compile_budget_s


def test_check_output_names_each_problem(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    assert gpu_run.check_output(tmp_path) == {"files": {"a.json": 2}, "problems": [], "ok": True}
    for i in range(8):
        (tmp_path / f"f{i}.txt").write_text("x")
    (tmp_path / "x" / "y" / "z").mkdir(parents=True)
    (tmp_path / "x" / "y" / "z" / "deep.txt").write_text("x")
    (tmp_path / "bad name.txt").write_text("x")
    with (tmp_path / "big.bin").open("wb") as f:
        f.truncate(16 * 2**20 + 1)
    problems = gpu_run.check_output(tmp_path)["problems"]
    assert problems[0] == "12 files > 8"
    assert any(p.startswith("big.bin: 16777217 bytes") for p in problems)
    assert "x/y/z/deep.txt: deeper than 2 folders" in problems
    assert "bad name.txt: a name outside [A-Za-z0-9._-]" in problems


def test_group_ratios_within_size_and_mode():
    rows = [
        {"size": "s", "arm": "bert", "tokens_per_s": 100.0, "step_s": 2.0, "compile": None},
        {"size": "s", "arm": "mlm", "tokens_per_s": 200.0, "step_s": 1.0, "compile": None},
        {"size": "s", "arm": "bert", "tokens_per_s": 150.0, "step_s": 1.0, "compile": "inductor"},
        {"size": "s", "arm": "mlm", "tokens_per_s": 600.0, "step_s": 0.5, "compile": "inductor"},
    ]
    gpu_run.group_ratios(rows)
    assert [r["x_bert_tokens_per_s"] for r in rows] == [1.0, 2.0, 1.0, 4.0]
    assert [r["x_mlm_step_time"] for r in rows] == [2.0, 1.0, 2.0, 1.0]


def test_headline_table_reads_each_tasks_metric():
    cell = {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9}
    probe = {
        "poolings": ["mean", "max"],
        "results": {
            "m": {
                "sst2": {"mean": {"accuracy": cell, "f1": {}}, "max": {"accuracy": {}}},
                "stsb": {"mean": {"spearmanr": {**cell, "value": 0.5}}},
            }
        },
    }
    table = gpu_run.headline_table(probe)
    assert table == {
        "m": {
            "sst2": {"metric": "accuracy", "pooling": "mean", **cell},
            "stsb": {"metric": "spearmanr", "pooling": "mean", **cell, "value": 0.5},
        }
    }


def test_control_config_is_the_mlm_arms_at_zero_steps_on_cpu(tmp_path):
    plan = gpu_run.PLANS["gpu"]
    args = gpu_run.parse_args([str(tmp_path / "out"), "--lr", "3e-4"])
    data = gpu_run.Data({"dataset_name": "w", "dataset_config_name": "2015.en"}, "tok", tmp_path)
    arm = gpu_run.pretraining_config("mlm", 500, plan, data, "tok", args, tmp_path)
    control = gpu_run.pretraining_config("random_init", 0, plan, data, "tok", args, tmp_path)
    assert arm["model_config"] == control["model_config"]
    assert arm["model_config"]["layer_norm_position"] == "pre" and arm["learning_rate"] == 3e-4
    assert (arm["max_steps"], arm["warmup_steps"], arm["bf16"], arm["use_cpu"]) == (500, 30, True, False)
    assert (control["max_steps"], control["num_train_epochs"], control["use_cpu"]) == (0, 0, True)
    same = {"seed", "tokenizer_name", "dataset_name", "max_seq_length", "per_device_train_batch_size"}
    assert all(arm[k] == control[k] for k in same)
    hybrid = gpu_run.pretraining_config("hybrid", 500, plan, data, "tok", args, tmp_path)["model_config"]
    assert {k: v for k, v in hybrid.items() if arm["model_config"].get(k) != v} == {
        "objective": "hybrid",
        "jepa_context": "blocks",
        "balance": "sigmoid",
    }


def test_minimums_flag_an_unmet_requirement(tmp_path):
    pytest.importorskip("tomllib")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["pytest>=1.0", "pyyaml>=999", "no-such-package-xyz>=1"]\n'
    )
    got = gpu_run.meets_minimums(pyproject)
    assert got["ok"] is False
    assert got["packages"]["pytest"]["ok"] is True and got["packages"]["pyyaml"]["ok"] is False
    assert got["packages"]["no-such-package-xyz"]["installed"] is None
    # The real pyproject admits this machine's versions.
    assert gpu_run.meets_minimums(REPO / "pyproject.toml")["ok"] is True


# Versions on the GPU machine's image as a session there listed them (2026-11; `datasets` and `evaluate` are the
# carried wheels). The project's minimums must keep admitting them, or the GPU run cannot start.
GPU_IMAGE = {
    "torch": "2.11.0",
    "transformers": "5.17.0",
    "accelerate": "1.15.0",
    "datasets": "5.2.0",
    "evaluate": "0.4.6",
    "safetensors": "0.8.0",
    "huggingface-hub": "1.33.0",
    "tokenizers": "0.23.2",
}


def test_minimums_admit_the_gpu_image():
    pytest.importorskip("tomllib")
    got = gpu_run.meets_minimums(REPO / "pyproject.toml", GPU_IMAGE)["packages"]
    listed = {name: row for name, row in got.items() if row["installed"] is not None}
    assert {"torch", "transformers", "datasets"} <= set(listed)
    assert all(row["ok"] for row in listed.values()), listed
    # And a minimum above the image is caught.
    strict = gpu_run.meets_minimums(REPO / "pyproject.toml", {**GPU_IMAGE, "torch": "2.3.1"})
    assert strict["packages"]["torch"]["ok"] is False and strict["ok"] is False


def test_bad_flags_fail_naming_the_value(tmp_path):
    with pytest.raises(SystemExit):
        gpu_run.parse_args([str(tmp_path), "--lr", "-1"])
    with pytest.raises(SystemExit):
        gpu_run.parse_args([str(tmp_path), "--balanced_arm", "nope"])


@pytest.mark.parametrize("name", ["gpu", "rehearsal"])
def test_plan_measures_what_it_sizes_from(name):
    plan = gpu_run.PLANS[name]
    layers, width = (int(v) for v in plan.paper.split("x"))
    assert (plan.model["num_hidden_layers"], plan.model["hidden_size"]) == (layers, width)
    eager = {(size, call.seq_len) for call in plan.eager for size in call.sizes}
    assert (plan.paper, plan.seq_len) in eager and (plan.bert_base, plan.eager[0].seq_len) in eager
    pretrain_deadline = plan.budget_s - plan.probe_reserve_s - plan.bundle_reserve_s
    assert pretrain_deadline > 3 * plan.arm_overhead_s


def test_gpu_plan_is_the_issues():
    plan = gpu_run.PLANS["gpu"]
    eager = {(size, call.seq_len, call.arms) for call in plan.eager for size in call.sizes}
    arms = ("bert", "mlm", "hybrid_shared", "hybrid")
    assert {("12x768", 128, arms), ("12x768", 512, arms), ("6x512", 128, arms)} == eager
    assert [call.arms for call in plan.compiled] == [(a,) for a in arms]
    # The rows that price the pre-training steps are measured at its batch.
    assert next(c for c in plan.eager if plan.paper in c.sizes).batch_size == plan.batch_size
    assert plan.model == gpu_run.PAPER_MODEL and plan.min_tokens == 100_000_000
    assert plan.budget_s + 15 <= 540 and plan.device == "cuda" and plan.compile_backend == "inductor"


def test_real_data_names_what_is_missing(tmp_path):
    (tmp_path / "glue").mkdir()
    with pytest.raises(FileNotFoundError, match=r"2015\.en.*bert-base-uncased"):
        gpu_run.real_data(tmp_path)
    (tmp_path / "wikipedia" / "2015.en").mkdir(parents=True)
    (tmp_path / "tokenizers" / "bert-base-uncased").mkdir(parents=True)
    data = gpu_run.real_data(tmp_path)
    assert data.corpus == {"dataset_name": str(tmp_path / "wikipedia"), "dataset_config_name": "2015.en"}
    assert data.tokenizer == str(tmp_path / "tokenizers" / "bert-base-uncased")
    assert data.glue_dir == tmp_path / "glue"


def test_throughput_table_shows_the_mfu_columns_it_has():
    throughput = sys.modules["throughput"]
    row = {
        "size": "s",
        "arm": "mlm",
        "step_s": 0.5,
        "step_s_iqr": 0.0,
        "tokens_per_s": 1000.0,
        "peak_mib": 10.0,
    }
    assert "MFU" not in throughput.format_table([row])
    table = throughput.format_table([{**row, "mfu": 0.25}, {**row, "mfu": 0.5, "mfu_matmul": 0.625}])
    head, _, first, second = table.splitlines()
    assert head.endswith("| MFU (peak) | MFU (matmul) |")
    assert first.endswith("| 25.0% |  |") and second.endswith("| 50.0% | 62.5% |")
