"""The quickstart end to end on a reduced budget: offline, on generated data only; each export ends with a valid
card holding this run's numbers, loads without the package, and a dry-run push lists exactly what it would send."""

from __future__ import annotations

import json
import math

import yaml
from huggingface_hub import ModelCard

from modeling_jepa_mlm.publishing.cards import validate_card
from modeling_jepa_mlm.publishing.hub import plan_upload
from modeling_jepa_mlm.quickstart import pipeline as quickstart


def test_quickstart_runs_offline_and_its_cards_hold_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "qs"
    argv = ["--output_dir", str(out), "--max_steps", "8", "--num_documents", "300", "--train_size", "80"]
    argv += ["--eval_size", "40", "--tasks", "sst2", "stsb", "--n_bootstrap", "20", "--n_subsamples", "5"]
    result = quickstart.main([*argv, "--no_plots"])

    printed = capsys.readouterr().out
    assert "jepa-mlm quickstart: done in" in printed and "the paper's claims" in printed
    results = json.loads((out / "probe" / "results.json").read_text())
    assert list(results["models"]) == ["hybrid", "mlm"] and results["tasks"] == ["sst2", "stsb"]
    assert (out / "probe" / "report.md").is_file()

    for name in quickstart.MODELS:
        folder = out / name
        run_config = yaml.safe_load((folder / "run_config.yaml").read_text())
        summary = json.loads((folder / "training_summary.json").read_text())
        # Generated data only, same budget, the baseline on the hybrid's tokenizer.
        assert run_config["train_file"] == str(out / "data" / "corpus.jsonl")
        assert run_config["tokenizer_name"] == (None if name == "hybrid" else str(out / "hybrid"))
        assert run_config["model_config"]["objective"] == name
        assert summary["steps"] == 8 and summary == result["summaries"][name]

        card = validate_card((folder / "README.md").read_text())
        assert ModelCard.load(folder / "README.md").data.to_dict() == card.data.to_dict()
        assert "quickstart" in card.data.tags
        cells = results["results"][name]
        expected = {
            (task, pooling, metric): round(cell["value"], 4)
            for task, by_pool in cells.items()
            for pooling, metrics in by_pool.items()
            for metric, cell in metrics.items()
            if metric in ("accuracy", "pearson", "spearmanr") and cell["value"] is not None
        }
        got = {
            (r.dataset_config, r.metric_config, r.metric_type): r.metric_value for r in card.data.eval_results
        }
        assert got == expected and {r.dataset_type for r in card.data.eval_results} == {"synthetic-glue"}
        text = str(card)
        last_loss = summary["trajectory"]["loss"][-1]
        assert f"| {last_loss[0]} | {last_loss[1]:.4g} |" in text
        assert f"| tokens seen | {summary['tokens_seen']:,} |" in text

        reloaded = result["reloads"][str(folder)]
        assert reloaded["class"].startswith("transformers_modules.") and reloaded["shape"] == [2, 64]
        assert math.isfinite(reloaded["cosine"])
        assert plan_upload(folder, f"org/{name}").all_files == [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "configuration_jepa_mlm.py",
            "ema.py",
            "losses.py",
            "modeling_jepa_mlm.py",
            "pooling.py",
            "README.md",
        ]
