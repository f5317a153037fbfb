"""Model cards: Hub-valid metadata and model-index, tables holding the run's and the probe's numbers, tolerance of
missing records, and a carded export that loads with trust_remote_code where the package is not importable."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from modeling_jepa_mlm import JepaMlmForMaskedLM, JepaMlmModel
from modeling_jepa_mlm.analysis.report import _fmt_cell
from modeling_jepa_mlm.analysis.results import Cell, ProbeRun
from modeling_jepa_mlm.publishing.cards import (
    CARD_NAME,
    TEMPLATE_PATH,
    find_probe_model,
    render_card,
    trajectory,
    validate_card,
    write_model_card,
)

REPO = Path(__file__).resolve().parents[1]

TRAJ = {
    "loss": [[10, 5.51542], [20, 5.14766], [30, 4.9]],
    "mlm_loss": [[10, 10.2366], [20, 9.87319], [30, 9.5]],
    "jepa_loss": [[10, 0.803315], [20, 0.462411], [30, 0.31]],
    "balance_weight": [[10, 0.500478], [20, 0.502142], [30, 0.50731]],
    "ema_momentum": [[10, 0.998], [20, 0.999], [30, 1.0]],
    "target_std": [[10, 0.8257], [20, 0.8279], [30, 0.83]],
    "prediction_std": [[10, 0.07059], [20, 0.04858], [30, 0.0612]],
}
SUMMARY = {
    "objective": "hybrid",
    "num_parameters_encoder": 123457,
    "steps": 30,
    "sequence_length": 64,
    "global_batch_size": 16,
    "tokens_seen": 30720,
    "estimated_train_flops": 6.7048e10,
    "wall_time_seconds": 3725.4,
    "tokens_per_second": 502.1,
    "world_size": 1,
    "trajectory": TRAJ,
}
RUN_CONFIG = {
    "dataset_name": "wikimedia/wikipedia",
    "dataset_config_name": "20231101.en",
    "max_seq_length": 64,
    "max_chars_per_document": 512,
    "tokenizer_name": None,
    "mlm_probability": 0.15,
    "mask_replace_prob": 0.8,
    "random_replace_prob": 0.1,
    "context_ratio_min": 0.65,
    "context_ratio_max": 0.85,
    "target_ratio_min": 0.1,
    "target_ratio_max": 0.25,
    "num_target_blocks": 2,
    "ema_momentum_start": 0.996,
    "ema_momentum_end": 1.0,
    "ema_schedule": "cosine",
    "seed": 42,
    "bf16": True,
}


def _cell(value, lo=None, hi=None):
    return {"value": value, "ci_low": lo, "ci_high": hi}


def probe_results(export: Path, glue_dir: str | None = None) -> dict:
    """A results.json in the probe's schema: two models, two tasks, two poolings, comparisons and claims."""
    results = {}
    for m, shift in (("hybrid", 0.0), ("mlm", 0.05)):
        results[m] = {
            "sst2": {
                p: {
                    "accuracy": _cell(0.8125 - shift - i / 100, 0.78, 0.84),
                    "uniformity": _cell(-0.1634 + shift, -0.17, -0.15),
                    "effective_rank": _cell(41.27 + i, 40.1, 42.5),
                    "token_probe_acc": _cell(0.3321, 0.30, 0.36),
                    "rankme": _cell(1.0),
                }
                for i, p in enumerate(("mean", "max"))
            },
            "stsb": {
                p: {
                    "pearson": _cell(0.6012 - shift, 0.55, 0.65),
                    "spearmanr": _cell(0.5898 - shift, 0.54, 0.64),
                    "balance": _cell(None),
                    "alignment": _cell(0.4411, 0.41, 0.47),
                }
                for p in ("mean", "max")
            },
        }
    comparisons = [
        {
            "model_a": "hybrid",
            "model_b": "mlm",
            "task": "sst2",
            "pooling": p,
            "metric": "uniformity",
            "diff": -0.05,
            "ci_low": -0.07,
            "ci_high": -0.03,
            "p_value": 0.001,
            "p_holm": 0.002,
            "significant": True,
        }
        for p in ("mean", "max")
    ]
    return {
        "protocol": "standard",
        "models": {
            "hybrid": {"path": str(export), "num_parameters": 123457, "hidden_size": 32},
            "mlm": {"path": "/elsewhere/mlm", "num_parameters": 123457, "hidden_size": 32},
        },
        "tasks": ["sst2", "stsb"],
        "poolings": ["mean", "max"],
        "results": results,
        "comparisons": comparisons,
        "claims": [
            {
                "claim": "uniformity",
                "paper": "hybrid embeddings are far more uniform",
                "verdict": "supported",
                "evidence": "2/2 cells significant, all lower",
                "model_a": "hybrid",
                "model_b": "mlm",
            }
        ],
        "timing": {"encode_seconds": {}, "total_seconds": 1.0},
        "n_examples": {
            "sst2": {"train": 600, "eval": 240, "eval_split": "validation"},
            "stsb": {"train": 600, "eval": 240, "eval_split": "validation"},
        },
        "settings": {"glue_dir": glue_dir, "glue_hub_id": "nyu-mll/glue"},
    }


@pytest.fixture
def export(tmp_path, tiny_config, tiny_tokenizer):
    """An export folder as run_pretraining.py writes it (hand-made run records)."""
    folder = tmp_path / "hybrid"
    config = tiny_config(vocab_size=len(tiny_tokenizer), mask_token_id=tiny_tokenizer.mask_token_id)
    model = JepaMlmForMaskedLM(config)
    model.config.architectures = ["JepaMlmForMaskedLM"]
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    (folder / "run_config.yaml").write_text(yaml.safe_dump(RUN_CONFIG))
    (folder / "training_summary.json").write_text(json.dumps(SUMMARY))
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    return folder


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows of the first Markdown table whose header starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def section(text: str, title: str) -> str:
    """The text of a `## title` / `### title` section, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, flags=re.S | re.M)
    assert match, title
    return match.group(1)


def test_metadata_passes_validation_and_model_index_holds_the_probe_numbers(export):
    text = render_card(export, probe_results(export), hub_model_id="org/jepa-mlm-hybrid")
    card = validate_card(text)
    assert card.data.license == "apache-2.0"
    assert card.data.language == ["en"]
    assert card.data.library_name == "transformers"
    assert card.data.pipeline_tag == "fill-mask"
    assert {"jepa-mlm", "custom_code", "jepa", "masked-language-modeling"} <= set(card.data.tags)
    assert card.data.datasets == ["wikimedia/wikipedia", "nyu-mll/glue"]
    assert card.data.model_name == "org/jepa-mlm-hybrid"  # the repository id, not the folder's name
    got = {(r.dataset_config, r.metric_config, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert got == {
        ("sst2", "mean", "accuracy"): 0.8125,
        ("sst2", "max", "accuracy"): 0.8025,
        ("stsb", "mean", "pearson"): 0.6012,
        ("stsb", "max", "pearson"): 0.6012,
        ("stsb", "mean", "spearmanr"): 0.5898,
        ("stsb", "max", "spearmanr"): 0.5898,
    }
    assert {r.dataset_type for r in card.data.eval_results} == {"nyu-mll/glue"}
    assert {r.dataset_split for r in card.data.eval_results} == {"validation"}
    # The YAML front matter parses on its own too, with a model-index the Hub understands.
    front = yaml.safe_load(text.split("---")[1])
    assert front["model-index"][0]["name"] == "org/jepa-mlm-hybrid"
    assert text.split("\n# ")[1].startswith("org/jepa-mlm-hybrid: jepa-mlm hybrid encoder")


def test_tables_hold_the_numbers_of_the_run_and_the_probe(export):
    results = probe_results(export)
    text = render_card(export, results)
    rows = table_rows(section(text, "Balance weight and losses during training"), "| step")
    assert [int(r[0]) for r in rows] == [10, 20, 30]
    header = [c.strip() for c in text.split("| step |")[1].splitlines()[0].strip(" |").split("|")]
    for row in rows:
        step = int(row[0])
        for key, cell in zip(header, row[1:], strict=True):
            expected = dict(TRAJ[key])[step]
            assert float(cell) == pytest.approx(expected, rel=5e-4), (key, step)
    assert "went from 0.5005 at step 10 to 0.5073 at step 30" in text
    compute = dict(r[:2] for r in table_rows(section(text, "Compute"), "|  |"))
    assert compute["tokens seen"] == "30,720"
    assert compute["optimizer steps"] == "30"
    assert float(compute["estimated training FLOPs"]) == pytest.approx(6.7048e10, rel=1e-3)
    assert compute["wall time"].startswith("3725.4 s (1:02:05)")
    assert compute["precision"] == "bf16"
    assert "cosine` schedule" in section(text, "Objective") and "0.996 -> 1.0" in text
    model = dict(r[:2] for r in table_rows(section(text, "Model"), "|  |"))
    assert model["encoder parameters"] == "123,457"
    # Per-task tables: every cell is the probe's value and interval, formatted as the probe's report.
    sst2 = table_rows(section(text, "SST-2"), "| pooling")
    assert [r[0] for r in sst2] == ["mean", "max"]
    cols = ["accuracy", "uniformity", "effective_rank", "token_probe_acc"]
    assert text.split("### SST-2")[1].split("\n")[2] == "| pooling | " + " | ".join(cols) + " |"
    for row in sst2:
        cells = results["results"]["hybrid"]["sst2"][row[0]]
        assert row[1:] == [_fmt_cell(Cell.from_dict(cells[c])) for c in cols]
    stsb_header = text.split("### STS-B")[1].split("\n")[2]
    assert "balance" not in stsb_header  # no value anywhere: no column
    comparison = table_rows(section(text, "Compared with the other probed models"), "| task")
    assert comparison == [["sst2", "uniformity", "-0.050 [-0.070, -0.030] *", "-0.050 [-0.070, -0.030] *"]]
    claims = table_rows(section(text, "The paper's claims"), "| claim")
    assert claims[0][3] == "**supported**"


def test_comparisons_read_from_the_other_side_flip_sign(export, tmp_path):
    results = probe_results(export)
    results["models"]["hybrid"]["path"] = "/elsewhere/hybrid"
    results["models"]["mlm"]["path"] = str(export)
    text = render_card(export, results)
    assert "**mlm - hybrid**" in text
    rows = table_rows(section(text, "Compared with the other probed models"), "| task")
    assert rows[0][2] == "0.050 [0.030, 0.070] *"


def test_card_without_probe_or_run_records_still_validates(tmp_path, tiny_config):
    folder = tmp_path / "bare"
    JepaMlmModel(tiny_config()).save_pretrained(folder)
    text = render_card(folder)
    card = validate_card(text)
    assert card.data.pipeline_tag == "feature-extraction"
    assert card.data.eval_results is None and card.data.datasets is None
    assert "No probe results yet" in text
    assert "Not recorded (no `training_summary.json`" in text
    assert "No training log was found" in text
    assert "how long it was pre-trained is not recorded" in text  # no record: neither trained nor untrained
    assert "arXiv:2606.05173" in text and "trust_remote_code=True" in text


def test_untrained_export_is_not_called_pre_trained(tmp_path, tiny_config):
    # The random-initialisation control of a study (`control: true`): an MLM-configured export with a
    # summary of 0 steps and none of the batch, throughput or process fields, and no run_config.yaml.
    folder = tmp_path / "random_init"
    model = JepaMlmForMaskedLM(tiny_config(objective="mlm"))
    model.config.architectures = ["JepaMlmForMaskedLM"]
    model.save_pretrained(folder)
    summary = {
        "what": "random initialisation control",
        "steps": 0,
        "tokens_seen": 0,
        "wall_time_seconds": 3.4,
    }
    (folder / "training_summary.json").write_text(json.dumps(summary))
    text = render_card(folder, hub_model_id="org/random-init")
    validate_card(text)
    description = text.split("## Model")[0]
    assert "pre-trained with" not in text
    assert "**not pre-trained** (no training step" in description and "random initialisation" in description
    assert "# org/random-init: jepa-mlm mlm encoder (random initialisation, not pre-trained)" in text
    assert "not pre-trained (no training step)" in section(text, "Losses during training")  # MLM: no balance
    compute = dict(r[:2] for r in table_rows(section(text, "Compute"), "|  |"))
    assert compute["optimizer steps"] == "0" and compute["tokens seen"] == "0"
    assert compute["global batch"] == "not recorded"
    assert compute["throughput"] == "not recorded"
    assert compute["processes"] == "not recorded"
    assert compute["precision"].startswith("not recorded")
    assert "None" not in section(text, "Compute")


def test_missing_summary_fields_say_not_recorded(export):
    summary = {
        k: v for k, v in SUMMARY.items() if k not in ("global_batch_size", "tokens_per_second", "steps")
    }
    (export / "training_summary.json").write_text(json.dumps(summary))
    text = render_card(export)
    compute = dict(r[:2] for r in table_rows(section(text, "Compute"), "|  |"))
    assert compute["global batch"] == "sequences of 64 tokens (batch size not recorded)"
    assert compute["throughput"] == "not recorded" and compute["optimizer steps"] == "not recorded"
    assert "None" not in section(text, "Compute")
    # A trained export (steps from the trajectory) keeps its description.
    assert "pre-trained with the **hybrid objective**" in text and "not pre-trained" not in text


def test_resumed_run_says_which_steps_its_wall_time_covers(export):
    compute = lambda: dict(r[:2] for r in table_rows(section(render_card(export), "Compute"), "|  |"))  # noqa: E731
    assert "resumed" not in compute()
    (export / "training_summary.json").write_text(
        json.dumps({**SUMMARY, "steps": 6000, "resumed_from_step": 3000})
    )
    assert compute()["resumed"] == (
        "from the step-3,000 checkpoint; wall time and throughput are those of steps 3,000-6,000"
    )


def test_probe_reader_tolerates_missing_pieces(export):
    results = probe_results(export)
    for key in ("comparisons", "claims", "n_examples", "settings", "timing"):
        del results[key]
    results["results"]["hybrid"]["sst2"]["mean"]["accuracy"] = _cell(None)
    card = validate_card(render_card(export, results))
    assert ("sst2", "mean") not in {(r.dataset_config, r.metric_config) for r in card.data.eval_results}
    assert "### Compared with" not in str(card) and "### The paper's claims" not in str(card)


def test_probe_model_is_found_by_path_then_name_and_unknown_names_fail(export, tmp_path):
    results = probe_results(export)
    assert find_probe_model(ProbeRun.from_dict(results), export) == "hybrid"
    results["models"]["hybrid"]["path"] = "org/some-hub-id"
    assert find_probe_model(ProbeRun.from_dict(results), export) == "hybrid"  # the folder's name
    assert find_probe_model(ProbeRun.from_dict(results), tmp_path / "other") is None
    assert find_probe_model(ProbeRun.from_dict(results), tmp_path / "other", model_name="mlm") == "mlm"
    with pytest.raises(ValueError, match=r"probed models: \['hybrid', 'mlm'\]"):
        find_probe_model(ProbeRun.from_dict(results), export, model_name="bert")
    text = render_card(tmp_path / "hybrid", results)  # matched, card built
    assert "### SST-2" in text


def test_synthetic_glue_is_not_called_nyu_glue(export, tmp_path):
    glue = tmp_path / "glue"
    glue.mkdir()
    (glue / "synthetic.json").write_text("{}")
    card = validate_card(render_card(export, probe_results(export, glue_dir=str(glue))))
    assert {r.dataset_type for r in card.data.eval_results} == {"synthetic-glue"}
    assert "nyu-mll/glue" not in card.data.datasets


def test_trajectory_falls_back_to_the_trainer_state(export):
    (export / "training_summary.json").unlink()
    history = [{"step": 5, "loss": 2.0, "balance_weight": 0.6}, {"step": 5, "train_runtime": 1.0}]
    (export / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    from modeling_jepa_mlm.publishing.cards import load_run

    traj = trajectory(load_run(export))
    assert traj["loss"] == [[5, 2.0]] and traj["balance_weight"] == [[5, 0.6]] and traj["mlm_loss"] == []
    assert "went from 0.6 at step 5 to 0.6 at step 5" in render_card(export)


def test_bad_inputs_name_what_is_accepted(tmp_path, export):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        render_card(tmp_path)
    with pytest.raises(FileNotFoundError, match="results.json"):
        render_card(export, tmp_path / "nowhere.json")
    with pytest.raises(FileNotFoundError, match="template"):
        render_card(export, template=tmp_path / "missing.md")
    with pytest.raises(ValueError, match="lacks metadata"):
        validate_card("---\nlicense: mit\n---\n# x\n")


def test_carded_export_loads_with_trust_remote_code_without_the_package(export, tmp_path):
    from modeling_jepa_mlm.quickstart import reload_without_package

    path = write_model_card(export, probe_results(export))
    assert path == export / CARD_NAME
    assert ModelCard.load(path).data.eval_results
    cache = tmp_path / "run" / "hf_modules"
    cache.parent.mkdir()
    loaded = reload_without_package([export], cache)[str(export)]
    assert loaded["class"].startswith("transformers_modules.") and loaded["shape"] == [2, 32]


def test_template_is_package_data_and_the_source_tree_template_is_the_same_file():
    import modeling_jepa_mlm

    assert TEMPLATE_PATH.is_file()
    assert TEMPLATE_PATH.parent == Path(modeling_jepa_mlm.__file__).resolve().parent / "publishing"
    assert (REPO / "model_cards" / "TEMPLATE.md").read_bytes() == TEMPLATE_PATH.read_bytes()
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert TEMPLATE_PATH.name in setuptools["package-data"]["modeling_jepa_mlm.publishing"]


RENDER_OUTSIDE = """
import sys
from pathlib import Path
import modeling_jepa_mlm
from modeling_jepa_mlm import JepaMlmConfig, JepaMlmModel
from modeling_jepa_mlm.publishing.cards import TEMPLATE_PATH, render_card, validate_card
assert Path(modeling_jepa_mlm.__file__).resolve().parent == Path(sys.argv[1]).resolve() / "modeling_jepa_mlm"
JepaMlmModel(JepaMlmConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
    intermediate_size=37, max_position_embeddings=64, mask_token_id=4)).save_pretrained("export")
validate_card(render_card("export"))
print(TEMPLATE_PATH)
"""


@pytest.mark.slow
def test_card_renders_from_a_non_editable_install(tmp_path):
    """Build the wheel from a copy of the source, install it into a folder and render a card there."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "modeling_jepa_mlm", src / "modeling_jepa_mlm", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "run_pretraining.py", "run_glue_probe.py"):
        shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist")]
    subprocess.run([*build, str(src)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        assert z.read("modeling_jepa_mlm/publishing/model_card_template.md") == TEMPLATE_PATH.read_bytes()
    site = tmp_path / "site"
    install = [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", RENDER_OUTSIDE, str(site)],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(
        site.resolve() / "modeling_jepa_mlm" / "publishing" / "model_card_template.md"
    )


def test_cards_show_no_absolute_machine_path(export, tmp_path):
    """Hub ids as they are; local data, tokenizer and GLUE folders by their last path components only."""
    run_config = {
        **RUN_CONFIG,
        "dataset_name": str(tmp_path / "shared" / "data" / "wikipedia"),
        "tokenizer_name": str(tmp_path / "shared" / "tokenizers" / "bert-base-uncased"),
    }
    (tmp_path / "shared" / "data" / "wikipedia").mkdir(parents=True)
    (export / "run_config.yaml").write_text(yaml.safe_dump(run_config))
    glue = tmp_path / "shared" / "data" / "glue"
    glue.mkdir()
    text = render_card(export, probe_results(export, glue_dir=str(glue)))
    assert str(tmp_path) not in text and "/tmp/" not in text
    data = dict(r[:2] for r in table_rows(section(text, "Training data"), "|  |"))
    assert data["text"].startswith("local folder `.../data/wikipedia`")
    assert data["tokenizer"] == "`.../tokenizers/bert-base-uncased`"
    card = validate_card(text)
    assert {r.dataset_name for r in card.data.eval_results} == {
        "GLUE SST-2 (local copy `.../data/glue`)",
        "GLUE STS-B (local copy `.../data/glue`)",
    }
    assert card.data.model_name == "hybrid"  # no repository id: the folder's name
    assert 'model_id = "hybrid"' in text
    (export / "run_config.yaml").write_text(
        yaml.safe_dump({**RUN_CONFIG, "train_file": "corpus/part.txt", "dataset_name": None})
    )
    assert "local files `corpus/part.txt`" in render_card(export)
    (export / "run_config.yaml").write_text(
        yaml.safe_dump({**RUN_CONFIG, "dataset_name": "builtin:synthetic"})
    )
    text = render_card(export)
    assert "built-in synthetic corpus" in text and "Hub dataset" not in text
    assert validate_card(text).data.datasets is None  # not a Hub id


def test_mlm_baseline_card_has_no_balance_heading_nor_ema_column(export):
    config = json.loads((export / "config.json").read_text())
    (export / "config.json").write_text(json.dumps({**config, "objective": "mlm"}))
    mlm_traj = {
        k: TRAJ[k] for k in ("loss", "mlm_loss", "ema_momentum")
    }  # the trainer logs ema_momentum always
    (export / "training_summary.json").write_text(
        json.dumps({**SUMMARY, "objective": "mlm", "trajectory": mlm_traj})
    )
    text = render_card(export)
    assert "Balance weight" not in text and "ema_momentum" not in text
    header = text.split("| step |")[1].splitlines()[0]
    assert [c.strip() for c in header.strip(" |").split("|")] == ["loss", "mlm_loss"]
    assert "### Losses during training" in text


def test_usage_comes_before_the_large_tables_and_the_citation_has_authors(export):
    text = render_card(export, probe_results(export), hub_model_id="org/jepa-mlm-hybrid")
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    assert (
        headings.index("Usage")
        < headings.index("Model")
        < headings.index("Evaluation: frozen-encoder probe on GLUE")
    )
    assert text.index("## Usage") < text.index("| step |")
    bibtex = text.split("```bibtex")[1].split("```")[0]
    assert "author  = {{jepa-mlm developers}}" in bibtex and "@software{jepa_mlm" in bibtex


def test_a_user_task_is_named_as_its_spec_names_it(export):
    results = probe_results(export)
    for model in results["results"]:
        results["results"][model]["my-sts"] = results["results"][model].pop("stsb")
    results["tasks"] = ["sst2", "my-sts"]
    results["n_examples"]["my-sts"] = {"train": 600, "eval": 240, "eval_split": "dev"}
    del results["n_examples"]["stsb"]
    results["task_specs"] = {
        "my-sts": {
            "name": "my-sts",
            "display_name": "My STS",
            "kind": "pair_regression",
            "text_columns": ["first", "second"],
            "label_column": "similarity",
            "data_files": {"fit": ["/data/fit.csv"], "dev": ["/data/dev.csv"]},
            "train_split": "fit",
            "eval_split": "dev",
            "metrics": ["spearmanr"],
        }
    }
    card = validate_card(render_card(export, results))
    assert "### My STS" in str(card) and "STS-B" not in str(card)
    mine = [r for r in card.data.eval_results if r.dataset_name == "My STS (local files)"]
    assert {(r.metric_type, r.dataset_split) for r in mine} == {("spearmanr", "dev")}
    assert {r.dataset_name for r in card.data.eval_results} - {"My STS (local files)"} == {"GLUE SST-2"}


def test_card_reports_the_gradient_share_and_the_gradnorm_balance(tmp_path, export):
    summary = json.loads((export / "training_summary.json").read_text())
    summary["trajectory"] = {**TRAJ, "grad_share_mlm": [[10, 0.9812], [20, 0.5123], [30, 0.4871]]}
    (export / "training_summary.json").write_text(json.dumps(summary))
    config = json.loads((export / "config.json").read_text())
    (export / "config.json").write_text(
        json.dumps({**config, "balance": "gradnorm", "balance_target_ratio": 1.0})
    )
    card = render_card(export)
    assert "went from 0.9812 at step 10 to 0.4871 at step 30" in card
    header = next(line for line in card.splitlines() if line.startswith("| step |"))
    assert "grad_share_mlm" in header.split("|")[-3]  # its column, before ema_momentum
    assert (
        "the JEPA gradient entering the encoder scaled so that the MLM : JEPA gradient norms there stand in the "
        "ratio 1.0" in card
    )
