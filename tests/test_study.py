"""The study runner: study-file checks, budgets, and a two-arm, two-seed study end to end on generated data,
resumed after an interruption without retraining what was finished."""

from __future__ import annotations

import json
import logging
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY_PRETRAINING_MODEL, WORDS

from modeling_jepa_mlm.study import load_study, run_study
from modeling_jepa_mlm.study.runner import model_pairs, probe
from modeling_jepa_mlm.study.spec import merge_config, steps_for_budget
from modeling_jepa_mlm.study.summary import plot_trajectories

TINY_MODEL = {**TINY_PRETRAINING_MODEL, "objective": "mlm"}


def test_merge_config_updates_model_config_key_by_key():
    base = {"learning_rate": 1e-3, "model_config": {"hidden_size": 64, "objective": "mlm"}}
    merged = merge_config(base, {"learning_rate": 3e-3, "model_config": {"objective": "hybrid"}})
    assert merged == {"learning_rate": 3e-3, "model_config": {"hidden_size": 64, "objective": "hybrid"}}
    assert base["model_config"]["objective"] == "mlm"  # the base is not modified


def test_an_arm_may_run_a_subset_of_the_seeds(tmp_path):
    """`seeds` inside an arm restricts it (in the study's order) and is not passed to pre-training."""
    (tmp_path / "base.yaml").write_text("max_seq_length: 32\n")
    study = {
        "name": "s",
        "base": "base.yaml",
        "seeds": [1, 2, 3],
        "budget": {"max_steps": 4},
        "arms": {"a": {}, "b": {"seeds": [3, 1], "learning_rate": 0.1}},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    spec = load_study(tmp_path / "s.yaml")
    runs = spec.runs()
    assert [r.name for r in runs] == ["a-seed1", "a-seed2", "a-seed3", "b-seed1", "b-seed3"]
    assert all("seeds" not in r.config for r in runs) and runs[-1].config["learning_rate"] == 0.1
    assert spec.seeds_of("a") == [1, 2, 3] and spec.seeds_of("b") == [1, 3]


def test_budget_in_tokens_gives_steps_per_arm():
    config = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 2, "max_seq_length": 128}
    assert steps_for_budget(config, {"tokens": 4096 * 10 + 100}) == 10
    assert steps_for_budget(config, {"tokens": 4096 * 10}, num_processes=2) == 5
    assert steps_for_budget(config, {"max_steps": 7}) == 7
    with pytest.raises(ValueError, match="less than one step"):
        steps_for_budget(config, {"tokens": 100})


@pytest.mark.parametrize(
    "change,match",
    [
        ({"arms": {}}, "arms must be a non-empty mapping"),
        ({"seeds": [1, 1]}, "repeats a seed"),
        ({"seeds": "42"}, "a non-empty list of integers"),
        ({"budget": {"epochs": 2}}, r"accepted: \{tokens: N\} or \{max_steps: N\}"),
        ({"arms": {"a": {"max_steps": 3}}}, "which the study sets for every run"),
        ({"arms": {"random_init": {}}}, "arm name 'random_init' is not valid"),
        ({"colour": "red"}, "unknown keys \\['colour'\\]; accepted keys: name, description"),
        ({"probes": {"p": {"output_dir": "x"}}}, "which the study sets itself"),
        ({"probes": {"p": {"arms": ["a"]}}}, r"sets \['arms'\], which the study sets itself"),
        (
            {"arms": {"a": {"seeds": [2]}}},
            r"arm 'a': seeds=\[2\] is not valid; .* among the study's seeds \[1\]",
        ),
        ({"arms": {"a": {"seeds": []}}}, r"arm 'a': seeds=\[\] is not valid"),
        ({"arms": {"a": {"seeds": 1}}}, r"arm 'a': seeds=1 is not valid"),
    ],
)
def test_bad_study_files_fail_naming_the_key(tmp_path, change, match):
    (tmp_path / "base.yaml").write_text("max_seq_length: 32\n")
    study = {"name": "s", "base": "base.yaml", "seeds": [1], "budget": {"tokens": 1000}, "arms": {"a": {}}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**study, **change}))
    with pytest.raises(ValueError, match=match):
        load_study(tmp_path / "s.yaml")


@pytest.fixture
def tiny_study(tmp_path) -> Path:
    """A two-arm (two learning rates), two-seed MLM study on a generated corpus, probed on synthetic SST-2."""
    from transformers import BertTokenizer

    from modeling_jepa_mlm.quickstart.synthetic import write_glue

    rng = random.Random(0)
    lines = [
        f"the {rng.choice(WORDS[15:22])} {rng.choice(WORDS[3:6])} {rng.choice(WORDS[6:9])} on the "
        f"{rng.choice(WORDS[12:15])} ."
        for _ in range(400)
    ]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]
    BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(tmp_path / "tok")
    write_glue(tmp_path / "glue", tasks=["sst2"], sizes={"train": 120, "validation": 60, "test": 10})
    base = {
        "model_config": TINY_MODEL,
        "train_file": str(tmp_path / "corpus.txt"),
        "tokenizer_name": str(tmp_path / "tok"),
        "max_seq_length": 32,
        "per_device_train_batch_size": 8,
        "learning_rate": 3e-3,
        "warmup_steps": 2,
        "logging_steps": 2,
        "eval_strategy": "steps",
        "eval_steps": 3,
        "validation_split_percentage": 10,
        "save_strategy": "steps",
        "save_steps": 3,
        "report_to": "none",
        "use_cpu": True,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    study = {
        "name": "tiny",
        "description": "two learning rates, two seeds",
        "base": "base.yaml",
        "runs_dir": "runs",
        "results_dir": "results",
        "seeds": [1, 2],
        "budget": {"tokens": 6 * 8 * 32},
        "arms": {"slow": {"learning_rate": 1e-3}, "fast": {"learning_rate": 5e-3}},
        "control": True,
        "probes": {
            "standard": {
                "protocol": "standard",
                "glue_dir": str(tmp_path / "glue"),
                "tasks": ["sst2"],
                "poolings": ["mean"],
                "max_length": 32,
                "n_bootstrap": 50,
                "n_subsamples": 10,
                "max_geometry_samples": 60,
                "device": "cpu",
                "claim_pairs": ["slow:fast", "slow:random_init"],
            }
        },
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.mark.slow
def test_two_arm_two_seed_study_runs_end_to_end_and_resumes(tiny_study):
    spec = load_study(tiny_study)
    runs = spec.runs()
    assert [r.name for r in runs] == ["slow-seed1", "slow-seed2", "fast-seed1", "fast-seed2"]
    assert all(r.max_steps == 6 for r in runs)
    assert {r.config["data_seed"] for r in runs} == {42}  # the seed changes init and masks, not the order

    # An interrupted sitting: only one run was pre-trained, and probed (with the controls) as soon as it finished;
    # the comparison waits for the other runs.
    run_study(spec, stages=("pretrain", "control", "probe"), only=["slow-seed1"])
    first = spec.runs_dir / "slow-seed1" / "training_summary.json"
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    records = spec.results_dir / "probe_standard" / "records"
    assert sorted(p.name for p in records.iterdir()) == [
        "random_init-seed1.npz",
        "random_init-seed2.npz",
        "slow-seed1.npz",
    ]
    assert not (spec.results_dir / "probe_standard" / "results.json").exists()
    measured_first = (records / "slow-seed1.npz").stat().st_mtime_ns

    # The same command again, through the command line: the finished run is skipped, the others trained.
    proc = subprocess.run(
        [sys.executable, "-m", "modeling_jepa_mlm.study", str(tiny_study)],
        capture_output=True,
        text=True,
        cwd=tiny_study.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "slow-seed1: complete (6 steps), skipped" in proc.stderr
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert (records / "slow-seed1.npz").stat().st_mtime_ns == measured_first  # each model measured once
    assert len(list(records.iterdir())) == 6
    walltime = [
        json.loads(x) for x in (spec.results_dir / "training" / "walltime.jsonl").read_text().splitlines()
    ]
    trained = [w["run"] for w in walltime if w["stage"] == "pretrain"]
    assert sorted(trained) == ["fast-seed1", "fast-seed2", "slow-seed1", "slow-seed2"]  # each trained once
    assert all(w["machine"]["cpu_count"] for w in walltime)

    summary = json.loads((spec.results_dir / "summary.json").read_text())
    assert [r["run"] for r in summary["runs"]] == [r.name for r in runs]
    assert all(r["complete"] and r["tokens"] == 6 * 8 * 32 for r in summary["runs"])
    assert all(len(r["eval_curve"]) == 2 for r in summary["runs"])  # evaluations at steps 3 and 6
    assert summary["arms"]["slow"]["final_eval_mlm_loss_sd"] is not None
    # Parity: one data order for all four runs; the same masks within a seed across the two arms.
    parity = json.loads((spec.results_dir / "parity.json").read_text())
    assert parity["passed"] and summary["parity_passed"]
    assert [sorted(g["runs"]) for g in parity["data_groups"]] == [sorted(r.name for r in runs)]
    assert sorted(sorted(g["runs"]) for g in parity["mask_groups"]) == [
        ["fast-seed1", "slow-seed1"],
        ["fast-seed2", "slow-seed2"],
    ]
    hashes = parity["runs"]
    assert hashes["slow-seed1"]["batches"][0]["labels"] != hashes["slow-seed2"]["batches"][0]["labels"]
    # The probe compared every run and both controls, and the summary, plot and cards sit at fixed paths.
    results = json.loads((spec.results_dir / "probe_standard" / "results.json").read_text())
    assert sorted(results["models"]) == sorted(
        [r.name for r in runs] + ["random_init-seed1", "random_init-seed2"]
    )
    # ... grouped into arms: the claims compare arms over their two seeds each
    assert {(c["model_a"], c["model_b"]) for c in results["claims"]} == {
        ("slow", "fast"),
        ("slow", "random_init"),
    }
    assert all(c["seeds"] == [2, 2] for c in results["claims"])
    # ... each claim with its cells (difference and seed-level interval), and the summary quoting the paper's cell
    measured = [c for c in results["claims"] if c["verdict"] != "not measured"]
    assert len(measured) >= 4 and all(
        len(c["by_cell"]) >= c["cells"]
        and {"task", "pooling", "metric", "diff", "ci_low", "ci_high", "informative"} <= set(c["by_cell"][0])
        for c in measured
    )
    uniform = next(c for c in summary["probes"]["standard"]["claims"] if c["claim"] == "uniformity")
    assert "by_cell" not in uniform
    assert (uniform["paper_cell"]["task"], uniform["paper_cell"]["metric"]) == ("sst2", "uniformity")
    # ... and model by model only within a seed: each run with its control, slow with fast (6 pairs, not 15)
    assert sorted({(c["model_a"], c["model_b"]) for c in results["comparisons"]}) == sorted(
        [(r.name, f"random_init-seed{r.seed}") for r in runs]
        + [("slow-seed1", "fast-seed1"), ("slow-seed2", "fast-seed2")]
    )
    # ... and every run against its own seed's control on SST-2, one row per pooling the probe used
    lifts = summary["probes"]["standard"]["control_lifts"]
    assert sorted({(x["run"], x["control"]) for x in lifts}) == sorted(
        (r.name, f"random_init-seed{r.seed}") for r in runs
    )
    assert len(lifts) == len(runs) * len(results["poolings"])
    for name in (
        "summary.md",
        "training_curves.png",
        "trajectories.png",
        "study.yaml",
        "cards/fast-seed2.md",
    ):
        assert (spec.results_dir / name).is_file(), name

    # Every stage's wall time and machine is recorded (the controls, the parity check, the probe) and summarised.
    assert [w["seed"] for w in walltime if w["stage"] == "control"] == [1, 2]
    assert {w["stage"] for w in walltime} == {"pretrain", "control", "parity", "probe_standard"}
    assert summary["stages"]["pretrain"]["processes"] == 4 and summary["stages"]["parity"]["processes"] == 1
    assert "| control | 2 |" in (spec.results_dir / "summary.md").read_text()

    # Everything done: a third call trains nothing, exports nothing and probes nothing; it re-checks parity.
    run_study(spec)
    walltime_after = (spec.results_dir / "training" / "walltime.jsonl").read_text().splitlines()
    assert [json.loads(x)["stage"] for x in walltime_after[len(walltime) :]] == ["parity"]

    # The exports lost (a new machine): a run measured by every probe is not trained again, the probe needs
    # nothing but its records, and the card of a run is written again, the same, from the copies of its records.
    card = spec.results_dir / "cards" / "fast-seed2.md"
    before = card.read_text()
    card.unlink()
    shutil.rmtree(spec.runs_dir)
    run_study(spec, stages=("pretrain", "probe", "summary"))
    assert card.read_text() == before
    assert (spec.results_dir / "training" / "walltime.jsonl").read_text().splitlines() == walltime_after
    assert not spec.runs_dir.exists()


def test_control_holds_the_initial_weights_of_the_arms(tiny_study):
    """The control's weights equal those a run starts from: a run with learning rate 0 ends where it began."""
    import torch
    from safetensors.torch import load_file

    spec = load_study(tiny_study)
    spec.arms = {"frozen": {"learning_rate": 0.0, "warmup_steps": 0, "weight_decay": 0.0}}
    spec.budget = {"max_steps": 1}
    spec.probes = {}
    run_study(spec, stages=("pretrain", "control"))
    for seed in spec.seeds:
        control = load_file(spec.control_dir(seed) / "model.safetensors")
        trained = load_file(spec.runs_dir / f"frozen-seed{seed}" / "model.safetensors")
        assert control.keys() == trained.keys()
        for key in control:
            torch.testing.assert_close(control[key], trained[key], rtol=0, atol=0, msg=key)
    a = load_file(spec.control_dir(1) / "model.safetensors")
    b = load_file(spec.control_dir(2) / "model.safetensors")
    assert not torch.equal(
        a["jepa_mlm.embeddings.word_embeddings.weight"], b["jepa_mlm.embeddings.word_embeddings.weight"]
    )


def test_probe_refuses_to_overwrite_results_it_did_not_make(tiny_study):
    spec = load_study(tiny_study)
    foreign = spec.results_dir / "probe_standard"
    foreign.mkdir(parents=True)
    (foreign / "results.json").write_text(json.dumps({"models": {"hybrid": {}, "mlm": {}}}))
    with pytest.raises(
        FileExistsError, match=r"holds probe results this study did not make \(models \['hybrid', 'mlm'\]\)"
    ):
        probe(spec, "standard")
    assert json.loads((foreign / "results.json").read_text()) == {"models": {"hybrid": {}, "mlm": {}}}


def test_probe_waits_for_unfinished_runs_without_writing_anything(tiny_study, caplog):
    """Probing a study none of whose runs has finished measures nothing and writes nothing: it names the runs it
    waits for and the stage that finishes them, instead of a probe subprocess failing on a folder of checkpoints."""
    spec = load_study(tiny_study)
    with caplog.at_level(logging.WARNING):
        assert probe(spec, "standard") is None
    assert (
        "probe standard: 0 of 6 models measured; waiting for slow-seed1 (0/6 steps), slow-seed2 (0/6 steps), "
        "fast-seed1 (0/6 steps), fast-seed2 (0/6 steps), random_init-seed1 (not exported), random_init-seed2 "
        "(not exported). Run the probe stage again" in caplog.text
    )
    assert "--stages pretrain control probe" in caplog.text
    assert not (spec.results_dir / "probe_standard").exists()


def test_measured_only_assembles_the_claims_over_the_models_measured_so_far(tiny_study, monkeypatch):
    """With one arm unfinished, the probe stage waits; with `--measured_only` it assembles over the measured models,
    keeping only the claim pairs whose two arms were measured and the model pairs among those models, and does not
    assemble the same models twice. The summary then names the models the claims leave out."""
    from modeling_jepa_mlm.analysis.records import record_path
    from modeling_jepa_mlm.study import runner
    from modeling_jepa_mlm.study.__main__ import main
    from modeling_jepa_mlm.study.summary import summary_markdown

    spec = load_study(tiny_study)
    out = spec.results_dir / "probe_standard"
    measured = ["slow-seed1", "slow-seed2", "random_init-seed1", "random_init-seed2"]  # `fast` never trained
    for name in measured:
        path = record_path(out / runner.RECORDS_DIR, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    calls = []

    def fake_analysis(spec, name, out, models, *extra, flags=None):
        calls.append({"models": [m[0] for m in models], "extra": list(extra), "flags": flags})
        (out / "results.json").write_text(json.dumps({"models": {m[0]: {} for m in models}}))

    monkeypatch.setattr(runner, "_analysis", fake_analysis)
    assert probe(spec, "standard") is None and calls == []
    main([str(tiny_study), "--stages", "probe", "--measured_only"])
    assert len(calls) == 1
    assert calls[0]["models"] == measured
    assert calls[0]["flags"]["claim_pairs"] == ["slow:random_init"]  # slow:fast has no measured `fast` run
    untouched = spec.probes["standard"]["claim_pairs"]  # the study file's pairs are not changed
    assert untouched == ["slow:fast", "slow:random_init"]
    assert calls[0]["extra"] == [
        "--model_pairs",
        "slow-seed1:random_init-seed1",
        "slow-seed2:random_init-seed2",
    ]
    assert probe(spec, "standard", measured_only=True) == out and len(calls) == 1  # nothing new: skipped
    # one measured model compares nothing: no assembly at all
    shutil.rmtree(out)
    record = record_path(out / runner.RECORDS_DIR, "slow-seed1")
    record.parent.mkdir(parents=True)
    record.write_bytes(b"")
    assert probe(spec, "standard", measured_only=True) is None and len(calls) == 1

    text = summary_markdown(
        {
            "study": "s", "description": "", "seeds": [1], "budget": {}, "runs": [], "arms": {},
            "parity_passed": None,
            "probes": {"standard": {"report": "r.md", "claims": [], "missing_models": ["fast-seed1", "fast-seed2"]}},
        }
    )  # fmt: skip
    assert "Assembled over the models measured so far (`--measured_only`), not the study's verdict; " in text
    assert "not measured: fast-seed1, fast-seed2." in text


def test_model_pairs_are_the_runs_of_one_seed(tiny_study):
    """The probe compares model by model each run with its own seed's control and, per claim pair, the two arms'
    runs of each seed they share; an arm run at some seeds only pairs at those."""
    spec = load_study(tiny_study)
    spec.arms["solo"], spec.arm_seeds["solo"] = {}, [2]
    assert model_pairs(spec, ["fast:slow", "solo:slow", "slow:random_init"]) == [
        "slow-seed1:random_init-seed1",
        "slow-seed2:random_init-seed2",
        "fast-seed1:random_init-seed1",
        "fast-seed2:random_init-seed2",
        "solo-seed2:random_init-seed2",
        "fast-seed1:slow-seed1",
        "fast-seed2:slow-seed2",
        "solo-seed2:slow-seed2",
    ]
    spec.control = False
    assert model_pairs(spec, ["slow:fast"]) == ["slow-seed1:fast-seed1", "slow-seed2:fast-seed2"]


def test_probes_selects_which_probes_run_and_rejects_unknown_names(tiny_study, monkeypatch):
    """`--probes` runs the named probes only, in the study file's order, so two processes can probe in parallel;
    a name the study file does not define fails before any stage runs, listing the ones it does."""
    from modeling_jepa_mlm.study import runner
    from modeling_jepa_mlm.study.__main__ import main

    spec = load_study(tiny_study)
    spec.probes = {"standard": {}, "paper": {}, "paper_padding": {}}
    probed = []
    monkeypatch.setattr(
        runner, "probe", lambda spec, name, only=None, measured_only=False: probed.append(name)
    )
    run_study(spec, stages=("probe",), probes=["paper_padding", "standard"])
    assert probed == ["standard", "paper_padding"]
    probed.clear()
    run_study(spec, stages=("probe",))
    assert probed == ["standard", "paper", "paper_padding"]
    probed.clear()
    with pytest.raises(
        ValueError, match=r"unknown probes \['papr'\]; probes of this study: standard, paper, "
    ):
        run_study(spec, stages=("pretrain", "probe"), probes=["papr"])
    assert probed == [] and not spec.runs_dir.exists()
    # the command line passes the flag through (the tiny study file defines one probe, "standard")
    main([str(tiny_study), "--stages", "probe", "--probes", "standard"])
    assert probed == ["standard"]


def test_trajectory_plot_shows_losses_balance_weight_and_gradient_share(tiny_study):
    spec = load_study(tiny_study)
    spec.arms = {"mlm": {}, "hybrid": {"model_config": {"objective": "hybrid"}}}
    spec.seeds = [1]
    for run in spec.runs():
        history = [{"step": s, "loss": 7.0 - s / 10, "mlm_loss": 7.0 - s / 10} for s in range(2, 12, 2)]
        if run.arm == "hybrid":
            for h in history:
                h.update(
                    jepa_loss=0.5, balance_weight=0.5 + h["step"] / 40, grad_share_mlm=0.5 - h["step"] / 40
                )
        folder = spec.results_dir / "training" / run.name
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    path = spec.results_dir / "trajectories.png"
    assert plot_trajectories(spec, path)
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(path).shape
    assert width > 2.5 * height  # three panels side by side: losses, the balance weight, the gradient share
    spec.arms = {"mlm": {}}
    assert plot_trajectories(spec, spec.results_dir / "mlm_only.png")
    height, width, _ = matplotlib.image.imread(spec.results_dir / "mlm_only.png").shape
    assert width < 1.5 * height  # the MLM baseline has only its loss


def test_a_stopped_run_keeps_its_newest_checkpoint_curve_in_the_results(tiny_study):
    """A run stopped before its end has no final `trainer_state.json`: the results folder gets the newest complete
    checkpoint's (the curve so far), not an older or a half-written one, so it outlives the runs folder."""
    from transformers import TrainerState

    from modeling_jepa_mlm.study.runner import copy_training_records

    spec = load_study(tiny_study)
    run = spec.runs()[0]
    for step in (2, 4):
        folder = run.output_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        TrainerState(
            global_step=step, log_history=[{"step": step, "eval_mlm_loss": 9.0 - step}]
        ).save_to_json(str(folder / "trainer_state.json"))
    (run.output_dir / "checkpoint-6").mkdir()  # killed while saving: no trainer_state.json
    copy_training_records(spec, run)
    kept = json.loads((spec.results_dir / "training" / run.name / "trainer_state.json").read_text())
    assert kept["global_step"] == 4 and kept["log_history"] == [{"step": 4, "eval_mlm_loss": 5.0}]
    # ... and the summary reports how far it got from it: steps, tokens, the last evaluation
    from modeling_jepa_mlm.study.summary import run_record

    rec = run_record(spec, run, {})
    assert (rec["steps"], rec["tokens"], rec["complete"]) == (4, 4 * rec["tokens_per_step"], False)
    assert rec["final_eval_mlm_loss"] == 5.0


def test_balance_record_tabulates_mlm_weight_and_share_and_counts_the_band():
    """Hand-made logs: s = 0.1 * k at step 10 k, share 0.2, 0.5, 0.7, 0.9, ... The MLM weight is 1 - s; the band
    counts its bounds; warm-up points (step < 20) are left out of the statistics; the table picks the logged steps
    nearest 0, 10, 25, 50, 75 and 100 % of max_steps."""
    from modeling_jepa_mlm.study.summary import balance_record

    shares = [0.2, 0.5, 0.7, 0.9, 0.3, 0.29]
    history = [
        {"step": 10 * (k + 1), "loss": 1.0, "balance_weight": 0.1 * (k + 1), "grad_share_mlm": v}
        for k, v in enumerate(shares)
    ] + [{"step": 60, "eval_mlm_loss": 5.0}]  # an evaluation record, not a training log
    rec = balance_record(history, warmup_steps=20, max_steps=60)
    # 0, 6, 15, 30, 45, 60 -> nearest logged 10, 10, 10 (a tie with 20 goes to the earlier), 30, 40 (tie), 60
    assert [p["step"] for p in rec["table"]] == [10, 30, 40, 60]
    assert rec["table"][0] == {"step": 10, "mlm_weight": 0.9, "grad_share_mlm": 0.2}
    assert rec["table"][-1] == {"step": 60, "mlm_weight": 0.4, "grad_share_mlm": 0.29}
    stats = rec["grad_share_mlm_after_warmup"]
    assert stats["from_step"] == 20 and stats["points"] == 5
    assert (stats["min"], stats["max"]) == (0.29, 0.9)
    assert stats["mean"] == round((0.5 + 0.7 + 0.9 + 0.3 + 0.29) / 5, 4)
    assert stats["fraction_in_band"] == 0.6  # 0.5, 0.7 and 0.3 inside [0.3, 0.7]; 0.9 and 0.29 outside
    assert balance_record([{"step": 10, "loss": 6.0, "mlm_loss": 6.0}], 0, 10) == {}  # the MLM baseline


def test_summary_markdown_shows_the_balance_and_the_claims_seeds(tiny_study):
    from modeling_jepa_mlm.study.summary import summary_markdown

    run = {
        "run": "hybrid-seed1",
        "steps": 4,
        "max_steps": 4,
        "tokens": 100,
        "estimated_train_flops": 1e9,
        "wall_seconds": 3.0,
        "balance": {
            "table": [{"step": 2, "mlm_weight": 0.75, "grad_share_mlm": 0.5}],
            "grad_share_mlm_after_warmup": {"min": 0.4, "max": 0.6, "mean": 0.5, "fraction_in_band": 1.0},
        },
    }
    claim = {
        "claim": "uniformity",
        "paper": "more uniform",
        "verdict": "supported",
        "evidence": "x",
        "model_a": "hybrid",
        "model_b": "mlm",
        "cells": 4,
        "informative": 3,
        "seeds": [3, 3],
        "paper_reference": "sst2 mean uniformity: -0.16 vs -0.052",
        "paper_cell": {
            "task": "sst2", "pooling": "mean", "metric": "uniformity", "diff": -0.4031,
            "ci_low": -0.438, "ci_high": -0.3642, "significant": True,
        },
    }  # fmt: skip
    text = summary_markdown(
        {
            "study": "s",
            "description": "",
            "seeds": [1],
            "budget": {},
            "runs": [run],
            "arms": {},
            "parity_passed": True,
            "probes": {"standard": {"report": "r.md", "claims": [claim]}},
        }
    )
    assert "| hybrid-seed1 | 2: 0.75 / 0.5 | 0.400-0.600 (0.500) | 100% |" in text
    assert (
        "| uniformity | more uniform; sst2 mean uniformity: -0.16 vs -0.052 | hybrid (3) vs mlm (3) | "
        "sst2 mean uniformity: -0.403 [-0.438, -0.364] * | 3/4 | supported | x |"
    ) in text


def test_claims_quote_our_difference_at_the_papers_cell():
    """Beside the paper's number, the summary quotes the seed-level difference at the same task, pooling and
    metric; a claim without a reference number is quoted at SST-2 mean pooling, in its first measured metric."""
    from modeling_jepa_mlm.analysis.results import ClaimVerdict
    from modeling_jepa_mlm.study.summary import claim_summary, paper_cell, paper_reference

    def cell(task, pooling, metric, diff):
        return {
            "task": task,
            "pooling": pooling,
            "metric": metric,
            "diff": diff,
            "ci_low": diff and diff - 0.1,
        }

    cells = [
        cell("mnli", "mean", "uniformity", -0.3),
        cell("sst2", "max", "uniformity", -0.2),
        cell("sst2", "mean", "uniformity", -0.4),
    ]
    assert paper_cell("uniformity", cells) == cells[2]  # the paper's first reference cell: SST-2 mean
    assert paper_reference("uniformity") == "sst2 mean uniformity: -0.16 vs -0.052"
    assert paper_reference("spectral richness (max pooling)") == "sst2 max effective_rank: 384.2 vs 364.1"
    assert paper_reference("balance") == ""
    lexical = [
        cell("sst2", "mean", "bow_probe_f1", -0.05),
        cell("sst2", "mean", "token_probe_acc", None),  # not measured there: the next metric
        cell("cola", "mean", "token_probe_acc", -0.1),
    ]
    assert paper_cell("lexical information", lexical) == lexical[0]
    assert paper_cell("lexical information", lexical[1:]) == lexical[2]
    assert paper_cell("lexical information", []) is None

    verdict = ClaimVerdict(
        "uniformity", "more uniform", "supported", "x", "hybrid", "mlm", 3, 3, 0, [3, 3], cells
    )
    summary = claim_summary(verdict)
    assert "by_cell" not in summary and summary["paper_cell"] == cells[2] and summary["seeds"] == [3, 3]


def test_control_lifts_pair_each_run_with_its_own_seeds_control(tiny_study):
    """Only the control of the run's own seed counts; a pair stored the other way round is negated, interval
    included; other tasks and metrics are left out."""
    from modeling_jepa_mlm.study.summary import control_lifts

    spec = load_study(tiny_study)
    spec.arms, spec.seeds = {"mlm": {}}, [1, 2]
    runs = spec.runs()
    assert [r.name for r in runs] == ["mlm-seed1", "mlm-seed2"]

    from modeling_jepa_mlm.analysis.results import Comparison, ProbeRun

    def comp(a, b, diff, low, high, task="sst2", metric="accuracy", pooling="mean"):
        return Comparison(a, b, task, pooling, metric, diff, low, high, p_value=0.5)

    comparisons = [
        comp("mlm-seed1", "random_init-seed1", 0.05, 0.02, 0.08),
        comp("mlm-seed1", "random_init-seed2", 0.50, 0.40, 0.60),  # another seed's control: not its floor
        comp("random_init-seed2", "mlm-seed2", 0.01, -0.02, 0.04),  # reversed: mlm-seed2 is 0.01 below
        comp("mlm-seed1", "random_init-seed1", 0.30, 0.20, 0.40, task="cola"),
        comp("mlm-seed1", "random_init-seed1", 0.30, 0.20, 0.40, metric="f1"),
    ]
    probe_run = ProbeRun("standard", {}, ["sst2"], ["mean"], {}, comparisons=comparisons)
    lifts = control_lifts(probe_run, runs)
    assert [
        (x["run"], x["control"], x["diff"], x["ci_low"], x["ci_high"], x["excludes_zero"]) for x in lifts
    ] == [
        ("mlm-seed1", "random_init-seed1", 0.05, 0.02, 0.08, True),
        ("mlm-seed2", "random_init-seed2", -0.01, -0.04, 0.02, False),
    ]


def test_a_run_started_again_from_step_zero_counts_only_its_new_processes(tiny_study):
    """A run whose checkpoints were lost trains again from step 0: its wall time is that of the processes that
    made its model (300 + 200 s), while the pre-training stage's total keeps the lost 100 + 400 s as well."""
    from modeling_jepa_mlm.study.summary import stage_walls, wall_seconds

    spec = load_study(tiny_study)
    path = spec.results_dir / "training" / "walltime.jsonl"
    path.parent.mkdir(parents=True)
    rows = [("slow-seed1", 0, 100.0), ("slow-seed1", 3, 400.0), ("fast-seed1", 0, 50.0)]
    rows += [("slow-seed1", 0, 300.0), ("slow-seed1", 4, 200.0)]
    path.write_text(
        "".join(
            json.dumps({"stage": "pretrain", "run": r, "from_step": s, "wall_seconds": w, "machine": {}})
            + "\n"
            for r, s, w in rows
        )
    )
    assert wall_seconds(spec) == {"slow-seed1": 500.0, "fast-seed1": 50.0}
    assert stage_walls(spec)["pretrain"]["wall_seconds"] == 1050.0


def test_a_fresh_start_sets_the_lost_attempts_records_aside_without_deleting_them(tiny_study):
    """A run that starts again from step 0 moves the records of each earlier attempt to lost_attempts/attempt-k,
    byte for byte, in order; with no records there is nothing to move."""
    from modeling_jepa_mlm.study.runner import TRAINING_RECORDS, set_aside_lost_records

    spec = load_study(tiny_study)
    run = spec.runs()[0]
    records = spec.results_dir / "training" / run.name
    assert set_aside_lost_records(spec, run) is None and not records.exists()
    for attempt in (1, 2):
        records.mkdir(parents=True, exist_ok=True)
        (records / "trainer_state.json").write_text(json.dumps({"global_step": 100 * attempt}))
        (records / "training_summary.json").write_text(json.dumps({"steps": 100 * attempt}))
        assert set_aside_lost_records(spec, run) == records / "lost_attempts" / f"attempt-{attempt}"
        assert not any((records / name).exists() for name in TRAINING_RECORDS)
    for attempt in (1, 2):
        kept = records / "lost_attempts" / f"attempt-{attempt}"
        assert json.loads((kept / "trainer_state.json").read_text()) == {"global_step": 100 * attempt}
        assert json.loads((kept / "training_summary.json").read_text()) == {"steps": 100 * attempt}
    # the summary lists them, in order, with their last step and held-out CE, apart from the run's own row
    from transformers import TrainerState

    from modeling_jepa_mlm.study.summary import summary_markdown, write_summary

    TrainerState(global_step=200, log_history=[{"step": 200, "eval_mlm_loss": 6.5}]).save_to_json(
        str(records / "lost_attempts" / "attempt-2" / "trainer_state.json")
    )
    summary = write_summary(spec)
    row = next(r for r in summary["runs"] if r["run"] == run.name)
    assert [(a["attempt"], a["steps"], a["final_eval_mlm_loss"]) for a in row["lost_attempts"]] == [
        (1, 100, None),
        (2, 200, 6.5),
    ]
    assert row["steps"] is None and row["weights"] == "absent"
    assert (
        f"| {run.name} | 2 | 200 | 6.500 | training/{run.name}/lost_attempts/attempt-2 |"
        in summary_markdown(summary)
    )


def test_records_of_a_lost_attempt_are_marked_and_left_out_of_the_arm_mean(tiny_study):
    """A machine lost with a run's checkpoints leaves its records in the results folder: the summary says the
    weights are absent and the arm's mean held-out CE leaves that run out; a run training again reports its newest
    checkpoint (step, curve), not its older records, and joins the arm's mean only once it reaches its end."""
    from transformers import TrainerState

    from modeling_jepa_mlm.study.summary import summary_markdown, write_summary

    spec = load_study(tiny_study)
    first, second = [r for r in spec.runs() if r.arm == spec.runs()[0].arm][:2]
    for run, loss in ((first, 5.0), (second, 7.0)):
        records = spec.results_dir / "training" / run.name
        records.mkdir(parents=True, exist_ok=True)
        TrainerState(global_step=4, log_history=[{"step": 4, "eval_mlm_loss": loss}]).save_to_json(
            str(records / "trainer_state.json")
        )
    checkpoint = first.output_dir / "checkpoint-6"  # the new attempt, still training, is past its records
    checkpoint.mkdir(parents=True)
    TrainerState(global_step=6, log_history=[{"step": 6, "eval_mlm_loss": 4.5}]).save_to_json(
        str(checkpoint / "trainer_state.json")
    )
    summary = write_summary(spec)
    rows = {r["run"]: r for r in summary["runs"]}
    assert rows[first.name]["weights"] == "checkpoint-6" and rows[second.name]["weights"] == "absent"
    assert (rows[first.name]["steps"], rows[first.name]["final_eval_mlm_loss"]) == (6, 4.5)
    assert rows[second.name]["final_eval_mlm_loss"] == 7.0  # kept, but not a result
    assert summary["arms"][first.arm]["final_eval_mlm_loss_mean"] is None  # the new attempt is still training
    (first.output_dir / "training_summary.json").write_text(json.dumps({"steps": first.max_steps}))
    summary = write_summary(spec)  # it reached its end: now the arm's mean is its CE alone
    assert summary["arms"][first.arm]["final_eval_mlm_loss_mean"] == 4.5
    assert f"| {second.name} | 4/" in summary_markdown(summary) and "| absent |" in summary_markdown(summary)
