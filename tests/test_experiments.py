"""experiments/: the CPU study file against the published run configs, the summarizer against the published
summaries (byte for byte), and the diagnostics' formulas on hand-made inputs."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import test_pretraining
import torch
import yaml
from test_pretraining import ARMS, TINY_MODEL

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
RESULTS = EXPERIMENTS / "results" / "cpu_49m"
STUDY = EXPERIMENTS / "studies" / "cpu_49m.yaml"
# the generated corpus and tokenizer of the pre-training tests, as fixtures of this module too
corpus = test_pretraining.corpus
tokenizer_dir = test_pretraining.tokenizer_dir
DIAGNOSTICS = (
    "attention",
    "balance_clock",
    "bert_reference",
    "check_order",
    "escape",
    "mlm_sanity",
    "plateau",
    "summarize_cpu_49m",
)
COMPARISON = EXPERIMENTS / "studies" / "comparison.yaml"
ESCAPE = EXPERIMENTS / "studies" / "escape.yaml"
ESCAPE_2H = EXPERIMENTS / "studies" / "escape_2h.yaml"


def diagnostic(name: str):
    """Import experiments/diagnostics/<name>.py (a script folder, not a package) under its own name."""
    module_name = f"experiments_diagnostics_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXPERIMENTS / "diagnostics" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.mark.parametrize("name", DIAGNOSTICS)
def test_every_diagnostic_imports_the_package_and_answers_help(name, capsys):
    module = diagnostic(name)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"]) if name != "bert_reference" else module.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("budget", ["", "stage2_12m", "stage3_25m"])
def test_summary_regenerated_from_the_moved_results_is_byte_identical(budget, tmp_path):
    diagnostic("summarize_cpu_49m").main(
        [str(RESULTS / budget), "--published_paths", "--output_dir", str(tmp_path)]
    )
    for name in ("SUMMARY.md", "README_block.md"):
        assert (tmp_path / name).read_bytes() == (RESULTS / budget / name).read_bytes(), name


def test_first_stage_summary_differs_only_by_the_later_claims_at_a_glance_table(tmp_path):
    """stage1_6m's files were last written before the summarizer had that table; nothing else differs."""
    diagnostic("summarize_cpu_49m").main(
        [str(RESULTS / "stage1_6m"), "--published_paths", "--output_dir", str(tmp_path)]
    )
    regenerated = (tmp_path / "SUMMARY.md").read_text()
    start = regenerated.index("## The claims at a glance")
    end = regenerated.index("## Training: budgets")
    assert regenerated[:start] + regenerated[end:] == (RESULTS / "stage1_6m" / "SUMMARY.md").read_text()


def test_summarizer_refuses_a_folder_without_records(tmp_path):
    with pytest.raises(SystemExit, match="no training/mlm_training_summary.json"):
        diagnostic("summarize_cpu_49m").main([str(tmp_path)])


def test_study_arms_resolve_to_the_published_run_configs(tmp_path):
    """Base + each arm's overrides, parsed as run_pretraining.py parses a config, give every setting of the
    published 24,000-step run_config.yaml but the paths (relative to the repository now, absolute then) and the
    output folder; the arm's model settings are the published ones."""
    from modeling_jepa_mlm import JepaMlmConfig
    from modeling_jepa_mlm.training.pretrain import parse_args, resolved_run_config

    arms = diagnostic("check_order").study_arms(STUDY)
    assert list(arms) == ["mlm", "hybrid", "hybrid_shared"]
    for arm, config in arms.items():
        path = tmp_path / f"{arm}.yaml"
        path.write_text(yaml.safe_dump(config))
        model_args, data_args, training_args = parse_args([str(path)])
        model_config = JepaMlmConfig(**model_args.model_config_dict())
        resolved = resolved_run_config(model_args, data_args, training_args, model_config)
        resolved = json.loads(json.dumps(resolved))
        published = yaml.safe_load((RESULTS / "training" / f"{arm}_run_config.yaml").read_text())
        # disable_tqdm's default follows the logging level of the process, not the config
        differ = {
            k
            for k in published
            if k not in ("model_config", "disable_tqdm") and resolved.get(k) != published[k]
        }
        assert differ == {"dataset_name", "tokenizer_name", "output_dir"}, arm
        assert resolved["dataset_name"] == "../shared/data/wikipedia"
        assert published["dataset_name"] == "/work/shared/data/wikipedia"
        for key, value in config["model_config"].items():
            assert published["model_config"][key] == value, (arm, key)


def test_study_budget_is_the_published_step_count():
    study = yaml.safe_load(STUDY.read_text())
    base = yaml.safe_load((STUDY.parent / study["base"]).read_text())
    per_step = (
        base["per_device_train_batch_size"] * base["gradient_accumulation_steps"] * base["max_seq_length"]
    )
    summary = json.loads((RESULTS / "training" / "mlm_training_summary.json").read_text())
    assert study["budget"]["tokens"] == summary["tokens_seen"] == 24_000 * per_step
    assert (STUDY.parent / study["results_dir"]).resolve() == RESULTS


def test_the_study_runner_reads_the_cpu_study_as_the_published_budget():
    from modeling_jepa_mlm.study.spec import load_study

    spec = load_study(STUDY)
    assert spec.results_dir == RESULTS.resolve()
    assert [(r.arm, r.seed, r.max_steps) for r in spec.runs()] == [
        ("mlm", 42, 24_000),
        ("hybrid", 42, 24_000),
        ("hybrid_shared", 42, 24_000),
    ]
    assert set(spec.probes) == {"standard", "paper"}


def test_comparison_arms_differ_only_in_objective_and_balance_and_train_the_escape_recipe():
    """Every run of the seeded comparison has the same data, order, budget, optimizer and schedule; arms differ
    only in the model settings that make them arms, seeds only in `seed`; the MLM arm is the escape study's
    chosen recipe as given the two-hour budget, but for its folder and settings an MLM model does not read
    (EMA, JEPA, predictor, balance)."""
    from modeling_jepa_mlm.study.spec import load_study

    runs = load_study(COMPARISON).runs()
    assert sorted({r.arm for r in runs}) == ["hybrid", "hybrid_balanced", "hybrid_shared", "mlm"]
    seeds = {
        arm: sorted(r.seed for r in runs if r.arm == arm) for arm in ("mlm", "hybrid", "hybrid_balanced")
    }
    assert seeds == dict.fromkeys(seeds, [42, 43, 44])  # the three seeds for the three main arms
    assert [r.seed for r in runs if r.arm == "hybrid_shared"] == [42]
    assert {r.max_steps for r in runs} == {2600}

    def shared(run) -> dict:
        config = {k: v for k, v in run.config.items() if k not in ("output_dir", "seed", "model_config")}
        model = {k: v for k, v in run.config["model_config"].items() if k not in ARM_KEYS}
        return {**config, "model_config": model}

    ARM_KEYS = ("objective", "jepa_context", "balance", "balance_target_ratio")
    assert all(shared(r) == shared(runs[0]) for r in runs)
    assert all(r.config["data_seed"] == 42 for r in runs)
    balanced = next(r for r in runs if r.arm == "hybrid_balanced").config["model_config"]
    assert (balanced["balance"], balanced["balance_target_ratio"]) == ("gradnorm", 1.0)
    paper = next(r for r in runs if r.arm == "hybrid").config["model_config"]
    assert (paper["jepa_context"], paper["balance"]) == ("blocks", "sigmoid")

    (recipe,) = (r.config for r in load_study(ESCAPE_2H).runs())
    mlm = next(r for r in runs if r.arm == "mlm" and r.seed == 42).config
    unread = ("ema_momentum_start", "ema_momentum_end", "ema_schedule", "output_dir")
    differ = {k for k in recipe.keys() | mlm.keys() if k not in unread and recipe.get(k) != mlm.get(k)}
    assert differ == {"model_config"}
    model_differ = {
        k
        for k in recipe["model_config"].keys() | mlm["model_config"].keys()
        if recipe["model_config"].get(k) != mlm["model_config"].get(k)
    }
    assert all(k.startswith(("jepa_", "predictor_", "balance")) for k in model_differ), model_differ


def test_attention_statistics_of_uniform_and_alibi_attention_match_their_formulas(tiny_config):
    """With near-zero weights the scores are 0: absolute-position attention is uniform (entropy fraction 1, mean
    distance (L^2 - 1) / 3L, neighbour mass 2 (L - 1) / L^2); ALiBi attention is then softmax(-m_h |i - j|)."""
    from modeling_jepa_mlm import JepaMlmModel
    from modeling_jepa_mlm.modeling_jepa_mlm import alibi_slopes

    attention = diagnostic("attention")
    ids = torch.randint(8, 99, (3, 16))
    ids[:, ::4] = 7  # a quarter of the tokens: under uniform attention it receives a quarter of the mass
    length = 16
    uniform = attention.attention_statistics(JepaMlmModel(tiny_config(initializer_range=1e-6)), ids)
    assert len(uniform) == 2
    for layer in uniform:
        assert layer["entropy_fraction"] == pytest.approx([1.0] * 4, abs=1e-3)
        assert layer["mean_distance"] == pytest.approx([(length**2 - 1) / (3 * length)] * 4, abs=1e-2)
        assert layer["neighbour_mass"] == pytest.approx([2 * (length - 1) / length**2] * 4, abs=1e-4)
        assert layer["max_mass"] == pytest.approx([1 / length] * 4, abs=1e-3)
        assert layer["top_key_token"] == [7] * 4
        assert layer["top_key_token_mass"] == pytest.approx([0.25] * 4, abs=1e-3)
        assert layer["top_key_token_frequency"] == pytest.approx([0.25] * 4)
    config = tiny_config(initializer_range=1e-6, position_embedding_type="alibi")
    local = attention.attention_statistics(JepaMlmModel(config), ids)
    distance = (torch.arange(length)[:, None] - torch.arange(length)[None]).abs().float()
    probs = (-alibi_slopes(4)[:, None, None] * distance).softmax(-1)  # (H, L, L)
    expected = (probs * (distance == 1)).sum(-1).mean(-1)
    assert local[0]["neighbour_mass"] == pytest.approx(expected.tolist(), abs=1e-4)


def test_attention_table_reads_each_checkpoint_at_its_own_step(tmp_path):
    """A checkpoint's row carries the training and evaluation entries logged at its step, not the last ones; an
    export without a trainer state has dashes."""
    attention = diagnostic("attention")
    checkpoint = tmp_path / "checkpoint-40"
    checkpoint.mkdir()
    history = [
        {"step": 20, "loss": 9.0, "jepa_loss": 0.5, "target_std": 0.7, "balance_weight": 0.9},
        {"step": 40, "loss": 8.0, "jepa_loss": 0.25, "target_std": 0.6, "balance_weight": 0.99991},
        {"step": 40, "eval_mlm_loss": 7.5},
        {"step": 60, "loss": 7.0, "jepa_loss": 0.1, "target_std": 0.3, "balance_weight": 0.5},
    ]
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 40, "log_history": history}))
    record = attention.training_record(checkpoint)
    assert record == {"step": 40, "train": history[1], "eval": history[2]}
    assert attention.training_record(tmp_path) is None
    layer = {"entropy_fraction": [0.2, 0.6], "max_mass": [0.9, 0.3]}
    rows = attention.summary_rows(
        {str(checkpoint): [layer, layer], "export": [layer]}, {str(checkpoint): record, "export": None}
    )
    assert (
        rows[2]
        == "| checkpoint-40 | 40 | 7.500 | 0.250 | 0.600 | 0.9999 | 0.40 (0.20), 0.40 (0.20) | 0.60, 0.60 |"
    )
    assert rows[3] == "| export | - | - | - | - | - | 0.40 (0.20) | 0.60 |"


def test_escape_report_reads_the_published_reference_points():
    """The reference curve is the published MLM arm's two held-out measurements; hours from the throughput."""
    escape = diagnostic("escape")
    reference = escape.published_reference({escape.REFERENCE_ARM: {"tokens_per_second": 2048.0}})
    assert [(p["step"], p["tokens"], p["eval_mlm_loss"]) for p in reference["curve"]] == [
        (12_000, 24_576_000, 7.0198),
        (24_000, 49_152_000, 6.8753),
    ]
    assert reference["curve"][0]["hours"] == round(12_000 / 3600, 4)
    assert reference["reached"] == {"5.0": None, "4.5": None}
    assert escape.first_below([{"step": 1, "tokens": 2, "eval_mlm_loss": 4.9}], 5.0) == {
        "step": 1,
        "tokens": 2,
        "hours": None,
    }


def test_balance_clock_logit_equals_summed_learning_rate_when_s_is_its_sigmoid():
    clock = diagnostic("balance_clock").clock
    lr, history, total = 0.01, [], 0.0
    for step in range(10, 110, 10):
        total += lr * 10
        s = 1.0 / (1.0 + math.exp(-total))
        history.append(
            {"step": step, "learning_rate": lr, "balance_weight": s, "jepa_loss": 0.5, "mlm_loss": 7.0}
        )
    history.append({"step": 100, "train_runtime": 1.0})  # a non-logging entry is skipped
    rows = clock(history)
    # the first trapezoid starts from lr 0 at step 0: half an interval short
    assert rows[0]["lr_sum"] == pytest.approx(0.05)
    assert [r["lr_sum"] for r in rows[1:]] == pytest.approx([0.05 + 0.1 * k for k in range(1, 10)])
    assert [r["logit_s"] for r in rows] == pytest.approx([0.1 * k for k in range(1, 11)])
    with pytest.raises(ValueError, match="is this a hybrid run"):
        clock([{"step": 10, "loss": 7.0, "learning_rate": lr}])


def test_balance_clock_regenerates_the_published_record(tmp_path):
    module = diagnostic("balance_clock")
    out = tmp_path / "clock.json"
    module.main([str(RESULTS / "training"), "--output", str(out), "--source_root", str(RESULTS)])
    regenerated, published = (
        json.loads(out.read_text()),
        json.loads((RESULTS / "training" / "balance_clock.json").read_text()),
    )
    for arm in ("hybrid", "hybrid_shared"):
        assert regenerated[arm].pop("source") == f"training/{arm}_trainer_state.json"
        assert (
            published[arm].pop("source") == f"results/training/{arm}_trainer_state.json"
        )  # the path before the move
    assert regenerated == published


def test_mlm_sanity_baselines_on_hand_made_counts():
    from collections import Counter

    import torch

    baselines = diagnostic("mlm_sanity").baselines
    out = baselines(torch.tensor([1, 1, 2]), Counter({1: 2, 2: 1, 3: 1}), Counter({1: 5, 3: 1}), vocab_size=4)
    assert out["masked_tokens"] == 3
    assert out["unigram_cross_entropy"] == pytest.approx(-(2 * math.log(0.5) + math.log(0.25)) / 3)
    # add-one smoothed: (c + 1) / (6 + 4)
    assert out["unigram_cross_entropy_train"] == pytest.approx(-(2 * math.log(0.6) + math.log(0.1)) / 3)
    assert out["most_frequent_token_accuracy"] == pytest.approx(2 / 3)
    assert out["uniform_cross_entropy"] == pytest.approx(math.log(4))


def test_plateau_variants_and_losses(tmp_path):
    module = diagnostic("plateau")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"model_config": {"objective": "mlm", "hidden_size": 32}}))
    flag, value = module.variant_flags("pre_ln", str(config))
    assert flag == "--model_config"
    assert json.loads(value) == {"objective": "mlm", "hidden_size": 32, "layer_norm_position": "pre"}
    assert module.variant_flags("mask40", str(config)) == [
        "--mlm_probability",
        "0.4",
        "--eval_mlm_probability",
        "0.15",
    ]
    with pytest.raises(ValueError, match=r"\['pre_ln', 'mask40'\]"):
        module.variant_flags("mask30", str(config))
    history = [{"step": 100, "mlm_loss": 7.12345}, {"step": 120, "mlm_loss": 7.0}, {"step": 200, "loss": 6.9}]
    assert module.mlm_losses(history) == {100: 7.123}


def test_check_order_finds_the_arms_identical_across_an_epoch_resume_and_a_seed_change_not(
    tmp_path, corpus, tokenizer_dir
):
    """A three-arm study on generated text: the same clean ids, masked inputs and labels in every arm, also after
    resuming in the second epoch (equal to what an uninterrupted loader reads there); an arm with another
    seed differs."""
    module = diagnostic("check_order")
    base = {
        "model_config": {**TINY_MODEL, "objective": "mlm"},
        "train_file": str(corpus),
        "tokenizer_name": str(tokenizer_dir),
        "max_seq_length": 32,
        "per_device_train_batch_size": 8,
        "seed": 7,
        "data_seed": 7,
        "use_cpu": True,
        "report_to": "none",
        "dataloader_num_workers": 0,
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    study = {
        "name": "tiny",
        "base": "base.yaml",
        "seeds": [7],
        "budget": {"max_steps": 10},
        "arms": {arm: {"model_config": overrides} for arm, overrides in ARMS.items()},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    arms = module.study_arms(tmp_path / "study.yaml")
    assert arms["hybrid_shared"]["model_config"] == {
        **TINY_MODEL,
        "objective": "hybrid",
        "jepa_context": "shared",
    }

    start = module.check(arms, 2, 0, tmp_path / "start")
    batches_per_epoch = -(-start["mlm"]["train_sequences"] // 8)
    step = batches_per_epoch + 3
    resumed = module.check(arms, 2, step, tmp_path / "resumed")
    for out in (start, resumed):
        assert out["identical"] == {"clean_input_ids": True, "input_ids": True, "labels": True, "all": True}
    assert (resumed["mlm"]["epoch"], resumed["mlm"]["skipped_batches_in_epoch"]) == (1, 3)
    assert resumed["resume_matches_uninterrupted"] is True
    assert resumed["mlm"]["batches"] != start["mlm"]["batches"]

    arms["hybrid"]["seed"] = arms["hybrid"]["data_seed"] = 8
    assert module.check(arms, 2, 0, tmp_path / "seed")["identical"]["all"] is False


def test_a_longer_warmup_stable_decay_run_can_start_from_a_shorter_ones_checkpoint_before_its_decay():
    """escape_2h.yaml's premise: the 1,500-step schedule (decay 300) and the 2,600-step one (decay 520) give the
    same learning rate up to step 1,200, and a scheduler restored from the first at step 1,200 continues as the
    second; the arm is the escape study's but for the decay length."""
    from transformers import get_wsd_schedule

    from modeling_jepa_mlm.study.spec import load_study

    def schedule(total: int, decay: int):
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=3e-3)
        return optimizer, get_wsd_schedule(optimizer, 100, decay, num_training_steps=total)

    short_opt, short = schedule(1500, 300)
    long_opt, long = schedule(2600, 520)
    for _ in range(1200):
        assert short.get_last_lr() == long.get_last_lr()
        short_opt.step(), short.step(), long_opt.step(), long.step()
    resumed_opt, resumed = schedule(2600, 520)
    resumed.load_state_dict(short.state_dict())
    for _ in range(1400):
        assert resumed.get_last_lr() == long.get_last_lr()
        resumed_opt.step(), resumed.step(), long_opt.step(), long.step()
    assert long.get_last_lr()[0] < 1e-5  # decayed to the end

    (extended,) = load_study(EXPERIMENTS / "studies" / "escape_2h.yaml").runs()
    recipe = next(r for r in load_study(ESCAPE).runs() if r.arm == extended.arm)
    assert extended.max_steps == 2600 and recipe.max_steps == 1500
    differ = {
        k
        for k in extended.config.keys() | recipe.config.keys()
        if extended.config.get(k) != recipe.config.get(k)
    }
    assert differ == {"max_steps", "lr_scheduler_kwargs", "output_dir"}
