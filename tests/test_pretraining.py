"""run_pretraining.py end to end on generated text: the three arms, resume equality, two-process DDP, bad input."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import random
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_PRETRAINING_MODEL, WORDS
from safetensors.torch import load_file
from transformers import TrainerState

from modeling_jepa_mlm import JepaMlmForPreTraining
from modeling_jepa_mlm.training import pretrain as run_pretraining
from modeling_jepa_mlm.training.trainer import NonFiniteLossError

ROOT = Path(__file__).resolve().parents[1]
ARMS = {
    "mlm": {"objective": "mlm"},
    "hybrid": {"objective": "hybrid", "jepa_context": "blocks"},
    "hybrid_shared": {"objective": "hybrid", "jepa_context": "shared"},
}
TINY_MODEL = TINY_PRETRAINING_MODEL


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A text file of generated sentences with structure to learn (word order from a small grammar)."""
    rng = random.Random(0)
    subjects, verbs, places = WORDS[3:6], WORDS[6:9], WORDS[12:15]
    lines = []
    for _ in range(600):
        adj = rng.choice(WORDS[15:22])
        lines.append(f"the {adj} {rng.choice(subjects)} {rng.choice(verbs)} on the {rng.choice(places)} .")
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]
    path = tmp_path_factory.mktemp("tok")
    BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(path)
    return path


def _argv(corpus: Path, tokenizer_dir: Path, out: Path, model: dict, **overrides) -> list[str]:
    args = {
        "train_file": str(corpus),
        "tokenizer_name": str(tokenizer_dir),
        "model_config": json.dumps({**TINY_MODEL, **model}),
        "output_dir": str(out),
        "max_seq_length": 32,
        "per_device_train_batch_size": 8,
        "max_steps": 40,
        "learning_rate": 3e-3,
        "warmup_steps": 4,
        "weight_decay": 0.01,
        "logging_steps": 10,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "seed": 7,
        "use_cpu": "true",
        "dataloader_num_workers": 0,
        "disable_tqdm": "true",
        **overrides,
    }
    return [item for k, v in args.items() for item in (f"--{k}", str(v))]


@pytest.mark.parametrize("arm", list(ARMS))
def test_tiny_run_learns_logs_and_exports(tmp_path, corpus, tokenizer_dir, arm):
    out = tmp_path / arm
    summary = run_pretraining.main(_argv(corpus, tokenizer_dir, out, ARMS[arm]))
    traj = summary["trajectory"]
    assert summary["steps"] == 40
    assert traj["loss"][-1][1] < traj["loss"][0][1]
    assert traj["mlm_loss"][-1][1] < traj["mlm_loss"][0][1]
    if arm != "mlm":
        assert [s for s, _ in traj["balance_weight"]] == [10, 20, 30, 40]
        assert all(0 < w < 1 for _, w in traj["balance_weight"])
        momenta = [m for _, m in traj["ema_momentum"]]
        assert momenta == sorted(momenta) and momenta[0] >= 0.996 and momenta[-1] == pytest.approx(1.0)
        assert all(v > 0 for _, v in traj["target_std"])
        # every hybrid run logs each objective's gradient at the encoder and the MLM share of it
        assert [s for s, _ in traj["grad_share_mlm"]] == [10, 20, 30, 40]
        assert all(0 < v < 1 for _, v in traj["grad_share_mlm"])
        assert all(v > 0 for key in ("grad_norm_mlm", "grad_norm_jepa") for _, v in traj[key])
    else:
        assert not traj["jepa_loss"] and not traj["balance_weight"] and not traj["grad_share_mlm"]
    for name in (
        "config.json",
        "model.safetensors",
        "modeling_jepa_mlm.py",
        "tokenizer.json",
        "run_config.yaml",
    ):
        assert (out / name).is_file(), name
    assert summary["tokens_seen"] == 40 * 8 * 32


def test_export_loads_in_fresh_process_without_the_package(tmp_path, corpus, tokenizer_dir):
    out = tmp_path / "hybrid"
    run_pretraining.main(_argv(corpus, tokenizer_dir, out, ARMS["hybrid"], max_steps=5))
    script = (
        "import sys, torch\n"
        "sys.modules['modeling_jepa_mlm'] = None\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        f"m = AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True).eval()\n"
        f"t = AutoTokenizer.from_pretrained({str(out)!r})\n"
        "b = t(['the big cat sat on the mat .'], return_tensors='pt')\n"
        "print(m(b['input_ids'], b['attention_mask']).pooler_output.shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "torch.Size([1, 32])" in proc.stdout


SCHEDULES = {
    "linear": {},
    "warmup_stable_decay": {
        "lr_scheduler_type": "warmup_stable_decay",
        "lr_scheduler_kwargs": json.dumps({"num_decay_steps": 3}),
    },
}


# The balance state each mode keeps in model.safetensors: a learned parameter or running estimates (buffers).
BALANCE_STATE = {
    "sigmoid": "balance.logit",
    "gradnorm": "balance.log_grad_norms",
    "loss_scale": "balance.loss_scales",
}


@pytest.mark.parametrize(
    "schedule,balance",
    [(schedule, "sigmoid") for schedule in SCHEDULES] + [("linear", "gradnorm"), ("linear", "loss_scale")],
)
def test_resume_matches_uninterrupted_run(tmp_path, corpus, tokenizer_dir, schedule, balance):
    model = {**ARMS["hybrid"], "hidden_dropout_prob": 0.1, "layer_norm_position": "pre", "balance": balance}
    full = tmp_path / "full"
    common = dict(max_steps=8, save_strategy="steps", save_steps=4, logging_steps=4, **SCHEDULES[schedule])
    run_pretraining.main(_argv(corpus, tokenizer_dir, full, model, **common))
    # A run "stopped" after step 4: only its checkpoint-4 exists; resume it to the end.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(full / "checkpoint-4", resumed / "checkpoint-4")
    summary = run_pretraining.main(_argv(corpus, tokenizer_dir, resumed, model, **common))
    # the summary counts every token from step 0, its throughput only the steps this process trained
    assert summary["steps"] == 8 and summary["resumed_from_step"] == 4
    assert summary["tokens_seen"] == 8 * 8 * 32 and summary["tokens_this_run"] == 4 * 8 * 32
    wall = summary["wall_time_seconds"]  # rounded to 0.1 s
    assert 4 * 8 * 32 / (wall + 0.05) <= summary["tokens_per_second"] <= 4 * 8 * 32 / max(wall - 0.05, 1e-3)
    a = load_file(full / "checkpoint-8" / "model.safetensors")
    b = load_file(resumed / "checkpoint-8" / "model.safetensors")
    assert a.keys() == b.keys()
    state = BALANCE_STATE[balance]
    assert any(k.startswith("target_encoder.") for k in a) and state in a
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6, msg=key)
    start = load_file(full / "checkpoint-4" / "model.safetensors")
    assert not torch.equal(start[state], a[state])  # it did train past the checkpoint
    if balance != "sigmoid":  # one update of the running estimates per optimizer step, resumed included
        assert start["balance.num_updates"].item() == 4 and b["balance.num_updates"].item() == 8
    lrs = [
        json.loads((d / "checkpoint-8" / "trainer_state.json").read_text())["log_history"]
        for d in (full, resumed)
    ]
    assert [h["learning_rate"] for h in lrs[0] if "learning_rate" in h] == [
        h["learning_rate"] for h in lrs[1] if "learning_rate" in h
    ]


def test_evaluation_reports_held_out_mlm_loss_and_accuracy_at_a_fixed_masking_rate(
    tmp_path, corpus, tokenizer_dir
):
    """`eval_mlm_probability` masks the held-out split at its own rate: the same tokens at every evaluation, and
    the MLM baseline's `eval_loss` is its held-out masked-token cross-entropy."""
    common = dict(
        max_steps=4,
        eval_strategy="steps",
        eval_steps=2,
        validation_split_percentage=10,
        eval_mlm_probability=0.15,
        learning_rate=0.0,
        warmup_steps=0,
    )
    keys = ("step", "eval_loss", "eval_mlm_loss", "eval_mlm_accuracy")
    runs = {}
    for name, rate, eval_rate in (("a", 0.15, 0.15), ("b", 0.4, 0.15), ("c", 0.4, None)):
        argv = _argv(corpus, tokenizer_dir, tmp_path / name, ARMS["mlm"], mlm_probability=rate, **common)
        if eval_rate is None:
            i = argv.index("--eval_mlm_probability")
            argv = argv[:i] + argv[i + 2 :]
        evals = run_pretraining.main(argv)["eval"]
        runs[name] = [{k: e[k] for k in keys} for e in evals]
    for evals in runs.values():
        assert [e["step"] for e in evals] == [2, 4]
        for e in evals:
            assert e["eval_mlm_loss"] == pytest.approx(e["eval_loss"], rel=1e-5)
            assert 0.0 <= e["eval_mlm_accuracy"] <= 1.0
    # lr 0: the weights never change, so a fixed evaluation masking gives identical numbers whatever the
    # training rate, and the two evaluations of a run agree.
    assert runs["a"] == runs["b"]
    assert runs["a"][0]["eval_mlm_loss"] == runs["a"][1]["eval_mlm_loss"]
    assert runs["c"][0]["eval_mlm_loss"] != runs["a"][0]["eval_mlm_loss"]  # masked at the training rate, 40 %


def test_two_processes_keep_identical_encoders(tmp_path, corpus, tokenizer_dir):
    # `accelerate launch --cpu` starts a single process (its simple launcher); torchrun starts two CPU ranks that
    # the Trainer's Accelerator joins with the gloo backend, exactly as `accelerate launch --multi_gpu` does on GPUs.
    # The `gradnorm` balance's running estimates are measured on each rank's own batch: the ranks agree on them
    # only because the trainer averages the measurements over processes before every update.
    out = tmp_path / "ddp"
    model = {**ARMS["hybrid"], "balance": "gradnorm"}
    argv = _argv(corpus, tokenizer_dir, out, model, max_steps=6, per_device_train_batch_size=4)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        str(ROOT / "tests" / "scripts" / "ddp_train.py"), *argv,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    assert r0["world_size"] == r1["world_size"] == 2 and r0["steps"] == 6
    # DDP's "find_unused_parameters=True was specified ... but did not find any unused parameters" costs a graph
    # traversal every step: every objective trains every parameter, so the run turns the search off.
    assert "find_unused_parameters" not in proc.stderr
    for key, value in r0["state"].items():
        assert torch.equal(value, r1["state"][key]), key
    online = r0["state"]["jepa_mlm.layers.0.attention.qkv.weight"]
    target = r0["state"]["target_encoder.layers.0.attention.qkv.weight"]
    assert not torch.equal(online, target)  # the EMA target lags the online encoder
    assert r0["state"]["balance.num_updates"].item() == 6
    assert torch.equal(r0["state"]["balance.log_grad_norms"], r1["state"]["balance.log_grad_norms"])


def test_non_finite_loss_stops_with_clear_error_and_keeps_checkpoints(
    tmp_path, corpus, tokenizer_dir, monkeypatch
):
    forward = JepaMlmForPreTraining.forward
    calls = {"n": 0}

    @functools.wraps(forward)
    def poisoned(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 3:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(JepaMlmForPreTraining, "forward", poisoned)
    out = tmp_path / "nan"
    argv = _argv(
        corpus, tokenizer_dir, out, ARMS["hybrid"], max_steps=10, save_strategy="steps", save_steps=2
    )
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss nan at step 3.*checkpoint"):
        run_pretraining.main(argv)
    assert (out / "checkpoint-2" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "overrides,error,match",
    [
        ({"train_file": "/nonexistent/corpus.txt"}, FileNotFoundError, "/nonexistent/corpus.txt"),
        ({"train_file": None, "dataset_name": "/nonexistent/dataset_dir"}, FileNotFoundError, "nonexistent"),
        ({"text_column": "body"}, ValueError, r"body.*text"),
        ({"model_config": json.dumps({**TINY_MODEL, "vocab_size": 20})}, ValueError, r"vocab"),
        (
            {"model_config": json.dumps({**TINY_MODEL, "balance": "gradnrom"})},
            ValueError,
            r"balance='gradnrom'.*sigmoid, uncertainty, fixed, gradnorm, loss_scale",
        ),
    ],
)
def test_bad_input_fails_before_training(tmp_path, corpus, tokenizer_dir, overrides, error, match):
    out = tmp_path / "bad"
    argv = _argv(corpus, tokenizer_dir, out, ARMS["hybrid"])
    for key, value in overrides.items():
        i = argv.index(f"--{key}") if f"--{key}" in argv else None
        if value is None:
            del argv[i : i + 2]
        elif i is None:
            argv += [f"--{key}", value]
        else:
            argv[i + 1] = value
    with pytest.raises(error, match=match):
        run_pretraining.main(argv)
    assert not list(out.glob("checkpoint-*"))


def test_empty_text_column_fails_before_training(tmp_path, tokenizer_dir):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "  "}\n{"text": ""}\n' * 5)
    with pytest.raises(ValueError, match="text"):
        run_pretraining.main(_argv(empty, tokenizer_dir, tmp_path / "out", ARMS["mlm"]))


def test_yaml_config_with_cli_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "model_config:\n  objective: mlm\n  hidden_size: 64\nmax_steps: 7\noutput_dir: x\nseed: 3\n"
    )
    model_args, data_args, training_args = run_pretraining.parse_args([str(cfg), "--max_steps", "9"])
    assert model_args.model_config_dict() == {"objective": "mlm", "hidden_size": 64}
    assert training_args.max_steps == 9 and training_args.seed == 3
    cfg.write_text("max_stepz: 3\n")
    with pytest.raises(ValueError, match="max_stepz"):
        run_pretraining.parse_args([str(cfg)])


def test_shipped_arms_have_identical_budgets():
    """hybrid.yaml, hybrid_shared.yaml and mlm.yaml differ only in the objective, the context mode and output_dir."""
    parsed = {}
    for name in ("hybrid", "hybrid_shared", "mlm"):
        # bf16 needs a GPU to validate; everything else parses as on the GPU.
        model_args, data_args, training_args = run_pretraining.parse_args(
            [str(ROOT / "configs" / f"{name}.yaml"), "--bf16", "false", "--use_cpu", "true"]
        )
        model = model_args.model_config_dict()
        objective = (model.pop("objective"), model.pop("jepa_context"))
        training = {
            k: v for k, v in training_args.to_dict().items() if k not in ("output_dir", "logging_dir")
        }
        parsed[name] = (objective, model, vars(data_args), training)
    assert parsed["hybrid"][0] == ("hybrid", "blocks")
    assert parsed["hybrid_shared"][0] == ("hybrid", "shared")
    assert parsed["mlm"][0][0] == "mlm"
    for name in ("hybrid_shared", "mlm"):
        assert parsed[name][1:] == parsed["hybrid"][1:], name


def test_tiny_cpu_config_parses_and_needs_no_file():
    model_args, data_args, training_args = run_pretraining.parse_args(
        [str(ROOT / "configs" / "tiny_cpu.yaml")]
    )
    assert model_args.model_config_dict()["objective"] == "hybrid" and training_args.use_cpu
    assert data_args.dataset_name == "builtin:synthetic" and data_args.tokenizer_name is None


def test_shipped_configs_do_not_point_at_machine_local_data():
    """Users have no ../shared: every shipped config names Hub ids or the built-in corpus."""
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        for line in path.read_text().splitlines():
            assert not re.match(r"^[^#]*\.\./shared", line), f"{path.name}: {line}"
        _, data_args, _ = run_pretraining.parse_args([str(path), "--bf16", "false", "--use_cpu", "true"])
        for value in (data_args.dataset_name, data_args.tokenizer_name, data_args.train_file):
            assert value is None or not value.startswith((".", "/", "~")), (path.name, value)


def test_load_trainer_state_reads_the_trainers_json_and_names_a_bad_folder(tmp_path):
    ckpt = tmp_path / "checkpoint-250"
    ckpt.mkdir()
    TrainerState(global_step=250, max_steps=1000).save_to_json(str(ckpt / "trainer_state.json"))
    assert run_pretraining.load_trainer_state(str(ckpt)).global_step == 250
    with pytest.raises(FileNotFoundError, match="no trainer_state.json.*checkpoint-<step>"):
        run_pretraining.load_trainer_state(str(tmp_path / "missing"))
    (ckpt / "trainer_state.json").write_text('{"global_step": 25')  # cut short
    with pytest.raises(ValueError, match="not a complete trainer state"):
        run_pretraining.load_trainer_state(str(ckpt))


def test_a_typo_in_model_config_fails_naming_the_key_and_the_valid_ones(tiny_tokenizer):
    model_args = run_pretraining.ModelArguments(model_config={"objective": "mlm", "hiden_size": 64})
    with pytest.raises(ValueError, match=r"unknown keys \['hiden_size'\].*hidden_size.*num_labels") as err:
        run_pretraining.build_model(model_args, tiny_tokenizer, 16)
    assert "predictor_hidden_size" in str(err.value) and "problem_type" in str(err.value)
    # PretrainedConfig's own keys stay accepted, and a checkpoint's config.json still loads with them.
    ok = run_pretraining.ModelArguments(model_config={**TINY_MODEL, "objective": "mlm", "num_labels": 3})
    assert run_pretraining.build_config(ok, tiny_tokenizer, 16).num_labels == 3


def test_cli_model_config_updates_the_files_block_and_config_overrides_apply_last(tiny_tokenizer):
    mlm = str(ROOT / "configs" / "mlm.yaml")
    model_args, _, _ = run_pretraining.parse_args(
        [mlm, "--bf16", "false", "--use_cpu", "true", "--model_config", '{"num_hidden_layers": 2}']
    )
    block = model_args.model_config_dict()
    assert block["objective"] == "mlm" and block["num_hidden_layers"] == 2 and block["hidden_size"] == 512
    model_args, _, _ = run_pretraining.parse_args(
        [mlm, "--bf16", "false", "--use_cpu", "true", "--model_config", '{"num_hidden_layers": 2}',
         "--config_overrides", "num_hidden_layers=3,hidden_size=64,hidden_act=relu"]
    )  # fmt: skip
    config = run_pretraining.build_config(model_args, tiny_tokenizer, 16)
    assert (config.objective, config.num_hidden_layers, config.hidden_size) == ("mlm", 3, 64)
    assert config.hidden_act == "relu" and config.intermediate_size == 2048  # the file's block under both
    for bad, match in (
        ("hiden_size=64", r"unknown keys \['hiden_size'\]"),
        ("hidden_size=60", "multiple of"),
    ):
        model_args.config_overrides = bad
        with pytest.raises(ValueError, match=match):
            run_pretraining.build_config(model_args, tiny_tokenizer, 16)


@pytest.mark.parametrize("steps", ["-5", "0", "-2"])
def test_max_steps_must_be_positive_or_minus_one_with_epochs(steps):
    with pytest.raises(ValueError, match=rf"max_steps={steps} .*accepted: max_steps > 0, or max_steps = -1"):
        run_pretraining.parse_args(["--output_dir", "x", "--use_cpu", "true", "--max_steps", steps])
    with pytest.raises(ValueError, match="num_train_epochs > 0"):
        run_pretraining.parse_args(["--output_dir", "x", "--use_cpu", "true", "--num_train_epochs", "0"])
    # both 0: an explicit request to export the initial weights (the random-initialisation control)
    args = ["--output_dir", "x", "--use_cpu", "true", "--max_steps", "0", "--num_train_epochs", "0"]
    assert run_pretraining.parse_args(args)[2].max_steps == 0


def test_no_argument_prints_usage_and_exits_2_without_a_traceback():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_pretraining.py")], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("usage: run_pretraining.py") and "configs/tiny_cpu.yaml" in proc.stderr


def test_a_finished_run_is_not_trained_again_and_a_longer_one_resumes(
    tmp_path, corpus, tokenizer_dir, caplog
):
    out = tmp_path / "run"
    common = dict(save_strategy="steps", save_steps=2, logging_steps=2)
    first = run_pretraining.main(_argv(corpus, tokenizer_dir, out, ARMS["mlm"], max_steps=4, **common))
    records = {n: (out / n).read_bytes() for n in ("training_summary.json", "model.safetensors", "README.md")}
    stamps = {n: (out / n).stat().st_mtime_ns for n in records}
    with caplog.at_level(logging.WARNING):
        again = run_pretraining.main(_argv(corpus, tokenizer_dir, out, ARMS["mlm"], max_steps=4, **common))
    assert again == first
    assert (
        "already holds the finished run (4 steps" in caplog.text and "--overwrite_output_dir" in caplog.text
    )
    assert {n: (out / n).read_bytes() for n in records} == records
    assert {n: (out / n).stat().st_mtime_ns for n in records} == stamps
    assert not (out / "checkpoint-5").exists()
    longer = run_pretraining.main(_argv(corpus, tokenizer_dir, out, ARMS["mlm"], max_steps=6, **common))
    assert longer["steps"] == 6 and longer["resumed_from_step"] == 4
    fresh = run_pretraining.main(
        _argv(corpus, tokenizer_dir, out, ARMS["mlm"], max_steps=6, overwrite_output_dir="true", **common)
    )
    assert fresh["steps"] == 6 and fresh["resumed_from_step"] == 0


def test_a_checkpoint_cut_short_is_skipped_for_the_previous_complete_one(
    tmp_path, corpus, tokenizer_dir, caplog
):
    full = tmp_path / "full"
    common = dict(max_steps=6, save_strategy="steps", save_steps=2, logging_steps=2)
    run_pretraining.main(_argv(corpus, tokenizer_dir, full, ARMS["hybrid"], **common))
    killed = tmp_path / "killed"
    killed.mkdir()
    for step in (2, 4):
        shutil.copytree(full / f"checkpoint-{step}", killed / f"checkpoint-{step}")
    # killed while writing checkpoint-4: the optimizer state truncated, the trainer state not yet written
    optimizer = killed / "checkpoint-4" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])
    (killed / "checkpoint-4" / "trainer_state.json").unlink()
    with caplog.at_level(logging.WARNING):
        summary = run_pretraining.main(_argv(corpus, tokenizer_dir, killed, ARMS["hybrid"], **common))
    assert re.search(
        r"skipping the incomplete checkpoint .*killed/checkpoint-4 \(left in place\)", caplog.text
    )
    assert summary["resumed_from_step"] == 2 and summary["steps"] == 6
    a, b = load_file(full / "model.safetensors"), load_file(killed / "model.safetensors")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize(
    "model",
    [ARMS["mlm"], ARMS["hybrid"], ARMS["hybrid_shared"], {"objective": "jepa", "jepa_context": "blocks"},
     {"objective": "hybrid", "balance": "uncertainty"}, {"objective": "hybrid", "balance": "fixed"}],
)  # fmt: skip
def test_every_trainable_parameter_gets_a_gradient(tiny_tokenizer, model):
    """Why DDP runs with `find_unused_parameters=False`: every objective trains every trainable parameter."""
    model_args = run_pretraining.ModelArguments(model_config={**TINY_MODEL, **model})
    net = run_pretraining.build_model(model_args, tiny_tokenizer, 16).train()
    collator = run_pretraining.build_collator(net.config, run_pretraining.DataArguments(), tiny_tokenizer, 0)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tiny_tokenizer), (6, 16), generator=g)
    ids[:, 0], ids[:, -1] = tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id
    special = torch.zeros_like(ids)
    special[:, [0, -1]] = 1
    batch = collator(
        [{"input_ids": i.tolist(), "special_tokens_mask": m.tolist()} for i, m in zip(ids, special)]
    )
    net(**batch).loss.backward()
    assert [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None] == []


def test_exported_weights_are_readable_like_the_other_files(tmp_path, corpus, tokenizer_dir):
    old = os.umask(0o022)
    try:
        out = tmp_path / "mode"
        run_pretraining.main(_argv(corpus, tokenizer_dir, out, ARMS["mlm"], max_steps=1))
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.is_file()}
    assert modes["model.safetensors"] == 0o644 and set(modes.values()) == {0o644}, modes


def test_a_missing_logger_package_fails_before_loading_data_naming_the_extra(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("tensorboard") else real(name, *a),
    )
    argv = ["--train_file", str(tmp_path / "never_read.txt"), "--output_dir", str(tmp_path / "o"),
            "--use_cpu", "true", "--max_steps", "1", "--report_to", "tensorboard"]  # fmt: skip
    with pytest.raises(
        ImportError, match=r"--report_to tensorboard needs the tensorboard package.*jepa-mlm\[tensorboard\]"
    ):
        run_pretraining.main(argv)
