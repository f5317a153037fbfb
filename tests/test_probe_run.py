"""End-to-end runs of run_glue_probe.main() on generated GLUE-format data with tiny random encoders."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TINY

from modeling_jepa_mlm.analysis import probe as run_glue_probe
from modeling_jepa_mlm.analysis import probing
from modeling_jepa_mlm.analysis import results as results_io
from modeling_jepa_mlm.analysis.results import ProbeRun, TaskExamples
from modeling_jepa_mlm.analysis.significance import VERDICTS
from modeling_jepa_mlm.quickstart.synthetic import write_glue

SHARED_TOKENIZER = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "tokenizers" / "bert-base-uncased"
)
FAST = [
    "--n_bootstrap",
    "40",
    "--n_subsamples",
    "8",
    "--max_geometry_samples",
    "60",
    "--no-plots",
    "--blas_threads",
    "1",
]
METRIC_KEYS = {"value", "ci_low", "ci_high"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    """Synthetic GLUE (all five tasks), a word-level tokenizer over its words, a tiny BERT and a tiny jepa_mlm."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from modeling_jepa_mlm import JepaMlmConfig, JepaMlmModel

    root = tmp_path_factory.mktemp("probe")
    glue = write_glue(root / "glue", sizes={"train": 48, "validation": 30, "test": 4}, seed=0)
    words = set()
    for path in glue.glob("*/*.parquet"):
        frame = pd.read_parquet(path)
        for column in ("sentence", "sentence1", "sentence2", "premise", "hypothesis"):
            if column in frame:
                words.update(w for text in frame[column] for w in re.findall(r"\w+", text.lower()))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})  # transformers 5: `vocab=`

    torch.manual_seed(0)
    bert = BertModel(
        BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            max_position_embeddings=64,
        )
    )
    ours = JepaMlmModel(JepaMlmConfig(**{**TINY, "vocab_size": len(vocab)}))
    paths = {"glue": glue}
    for name, model in (("tiny-bert", bert), ("tiny-jepa", ours)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        paths[name] = root / name
    return paths


def run(workspace, tmp_path, *extra: str, models=("tiny-jepa", "tiny-bert")) -> ProbeRun:
    argv = [
        "--model_name_or_path",
        *(str(workspace[m]) for m in models),
        "--glue_dir",
        str(workspace["glue"]),
        "--output_dir",
        str(tmp_path / "out"),
        "--max_length",
        "48",
        *FAST,
        *extra,
    ]
    return run_glue_probe.main(argv)


def test_two_models_all_tasks_standard_protocol(workspace, tmp_path):
    probe_run = run(workspace, tmp_path)
    out = probe_run.to_dict()
    assert set(out) >= {
        "protocol",
        "models",
        "tasks",
        "poolings",
        "results",
        "comparisons",
        "claims",
        "timing",
    }
    assert out["tasks"] == ["sst2", "mrpc", "mnli", "cola", "stsb"]
    assert out["poolings"] == ["mean", "max", "cls", "first_last_mean"]
    assert set(out["models"]) == {"tiny-jepa", "tiny-bert"}
    assert out["models"]["tiny-bert"]["num_parameters"] > 0
    for model in out["models"]:
        for task in out["tasks"]:
            for pooling in out["poolings"]:
                cell = out["results"][model][task][pooling]
                assert all(set(v) == METRIC_KEYS for v in cell.values())
                u = cell["uniformity"]
                assert -4.0 <= u["value"] <= 0.0 and u["ci_low"] <= u["ci_high"]
                assert cell["uniformity"]["value"] >= -4 * (1 - cell["anisotropy"]["value"]) - 1e-9
                assert 1.0 <= cell["effective_rank"]["value"] <= 32
                token = cell["token_probe_acc"]["value"]  # None when one word-piece tops every text
                assert token is None or 0.0 <= token <= 1.0
                assert 0.0 <= cell["bow_probe_f1"]["value"] <= 1.0
        assert {"pearson", "spearmanr", "cosine_spearmanr", "balance", "alignment"} <= set(
            out["results"][model]["stsb"]["mean"]
        )
        assert {"f1", "accuracy", "alignment"} <= set(out["results"][model]["mrpc"]["max"])
        assert "matthews_correlation" in out["results"][model]["cola"]["cls"]
        assert "alignment" not in out["results"][model]["sst2"]["mean"]
        assert out["results"][model]["sst2"]["mean"]["token_probe_acc"]["value"] is not None
    # Paired comparisons: one per task x pooling x shared metric, with Holm-adjusted p >= raw p.
    comps = out["comparisons"]
    assert {c["model_a"] for c in comps} == {"tiny-jepa"} and {c["model_b"] for c in comps} == {"tiny-bert"}
    assert len({(c["task"], c["pooling"]) for c in comps}) == 20
    assert all(c["p_holm"] is None or c["p_holm"] >= c["p_value"] - 1e-12 for c in comps)
    assert [c["claim"] for c in out["claims"]] == [
        "uniformity",
        "spectral richness (max pooling)",
        "lexical information",
        "balance",
        "probe accuracy",
    ]
    assert all(c["verdict"] in set(VERDICTS) - {"not measured"} for c in out["claims"])
    assert all(isinstance(c["probes_at_majority"], bool) for c in comps)
    assert set(out["timing"]["encode_seconds"]["tiny-bert"]) == set(out["tasks"])
    # Files: strict JSON equal to the returned dict, a report with every task.
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written == out and results_io.load(tmp_path / "out") == probe_run
    report = (tmp_path / "out" / "report.md").read_text()
    assert all(f"### {t}" in report for t in out["tasks"]) and "## Claims of the paper" in report


def test_second_run_reads_the_cache_and_paper_protocol(workspace, tmp_path, monkeypatch):
    tasks = ["--tasks", "sst2", "stsb"]
    first = run(
        workspace, tmp_path, *tasks, "--protocol", "paper", "--plots", models=("tiny-bert",)
    ).to_dict()
    for name in ("spectra.png", "uniformity_alignment.png", "probes.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded although every embedding is cached")

    monkeypatch.setattr(probing, "encode_texts", no_encoding)
    second = run(
        workspace, tmp_path, *tasks, "--protocol", "paper", "--n_bootstrap", "30", models=("tiny-bert",)
    ).to_dict()
    assert first["poolings"] == ["mean", "max", "weighted", "attention"]
    for pooling in first["poolings"]:
        for metric in ("uniformity", "effective_rank", "accuracy"):
            a = first["results"]["tiny-bert"]["sst2"][pooling][metric]["value"]
            assert second["results"]["tiny-bert"]["sst2"][pooling][metric]["value"] == pytest.approx(
                a, abs=1e-9
            )
    res = first["results"]["tiny-bert"]
    # The paper's weighted pooling is the masked mean, so every number agrees.
    assert res["sst2"]["weighted"]["uniformity"]["value"] == pytest.approx(
        res["sst2"]["mean"]["uniformity"]["value"]
    )
    assert res["stsb"]["weighted"]["spearmanr"]["value"] == pytest.approx(
        res["stsb"]["mean"]["spearmanr"]["value"]
    )
    # Pairs are one sequence under the paper protocol: no siamese cosine, alignment or STS-B balance.
    assert "balance" not in res["stsb"]["mean"] and "alignment" not in res["stsb"]["mean"]
    assert "probe_gap" in res["stsb"]["mean"]
    assert first["comparisons"] == [] and first["claims"] == []


def test_cache_key_changes_with_the_examples(workspace, tmp_path):
    run(workspace, tmp_path, "--tasks", "cola", "--poolings", "mean", models=("tiny-bert",))
    run(
        workspace,
        tmp_path,
        "--tasks",
        "cola",
        "--poolings",
        "mean",
        "--max_eval_samples",
        "20",
        models=("tiny-bert",),
    )
    entries = sorted(p.name for p in (tmp_path / "out" / "cache").glob("*.npz"))
    assert len(entries) == 3  # one train entry shared, two eval entries for the two eval sizes
    with np.load((tmp_path / "out" / "cache") / entries[0]) as data:
        assert data.files == ["mean"]


@pytest.mark.skipif(not SHARED_TOKENIZER.is_dir(), reason="bert-base-uncased tokenizer not in ../shared/data")
def test_stock_bert_with_the_bert_base_uncased_tokenizer(workspace, tmp_path):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(1)
    folder = tmp_path / "stock-bert"
    config = BertConfig(hidden_size=24, num_hidden_layers=1, num_attention_heads=2, intermediate_size=31)
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(SHARED_TOKENIZER).save_pretrained(folder)
    workspace = {**workspace, "stock-bert": folder}
    out = run(workspace, tmp_path, "--tasks", "mrpc", "--poolings", "mean", "cls", models=("stock-bert",))
    assert out.models["stock-bert"].hidden_size == 24
    assert out.cell("stock-bert", "mrpc", "cls", "f1").value is not None


@pytest.mark.parametrize(
    ("flags", "error", "message"),
    [
        (
            ["--tasks", "qnli"],
            ValueError,
            r"unknown task 'qnli'; valid tasks: sst2, mrpc, mnli, cola, stsb",
        ),
        (
            ["--poolings", "median"],
            ValueError,
            r"unknown pooling\(s\) \['median'\]; valid poolings: mean, max",
        ),
        (["--protocol", "fancy"], ValueError, r"unknown protocol 'fancy'; valid protocols: standard, paper"),
    ],
)
def test_bad_arguments_fail_early(flags, error, message):
    with pytest.raises(error, match=message):
        run_glue_probe.parse_args(["--model_name_or_path", "x", "--output_dir", "o", *flags])


def test_missing_model_folder(workspace, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match=f"model folder '{re.escape(str(missing))}' does not exist"):
        run_glue_probe.main(
            ["--model_name_or_path", str(missing), "--glue_dir", str(workspace["glue"]), "--tasks", "sst2"]
            + ["--output_dir", str(tmp_path / "out"), *FAST]
        )


def test_name_that_is_neither_folder_nor_hub_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="'out/no-such-model' is not an existing folder"):
        probing.load_encoder("out/no-such-model")


def test_glue_folder_with_a_missing_split(workspace, tmp_path):
    glue = tmp_path / "glue"
    (glue / "stsb").mkdir(parents=True)
    shutil.copy(workspace["glue"] / "stsb" / "train-00000-of-00001.parquet", glue / "stsb")
    with pytest.raises(
        FileNotFoundError, match=r"no 'validation' split for task 'stsb'.*splits present: \['train'\]"
    ):
        run_glue_probe.main(
            ["--model_name_or_path", str(workspace["tiny-bert"]), "--glue_dir", str(glue), "--tasks", "stsb"]
            + ["--output_dir", str(tmp_path / "out"), *FAST]
        )


def test_display_names_are_deduplicated():
    paths = ["x/hybrid", "org/other", "./a/hybrid", "./b/hybrid/", "/z/mlm"]
    assert run_glue_probe.display_names(paths) == ["x/hybrid", "org/other", "hybrid", "hybrid-2", "mlm"]


def test_models_are_named_by_hub_id_or_a_telling_path(tmp_path):
    snapshot = (
        tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / ("ab" * 20)
    )
    no_org = tmp_path / "hub" / "models--bert-base-uncased" / "snapshots" / "main"
    exported = tmp_path / "runs" / "hybrid" / "model"
    checkpoint = tmp_path / "runs" / "mlm" / "checkpoint-500"
    for folder in (snapshot, no_org, exported, checkpoint):
        folder.mkdir(parents=True)
    name = run_glue_probe.model_display_name
    assert name(str(snapshot)) == "sentence-transformers/all-MiniLM-L6-v2"
    assert name(str(no_org) + "/") == "bert-base-uncased"
    assert name(str(exported)) == "hybrid/model"  # "model" alone says nothing
    assert name(str(checkpoint)) == "mlm/checkpoint-500"
    assert name("google-bert/bert-base-uncased") == "google-bert/bert-base-uncased"  # a Hub id as given
    assert name(str(tmp_path / "runs" / "hybrid")) == "hybrid"


def test_arguments_from_a_yaml_file_with_flags_overriding(tmp_path):
    config = tmp_path / "probe.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": ["a/b", "c/d"],
                "output_dir": "o",
                "tasks": ["sst2"],
                "seed": 1,
                "plots": False,
            }
        )
    )
    args = run_glue_probe.parse_args([str(config), "--seed", "3"])
    assert args.model_name_or_path == ["a/b", "c/d"] and args.tasks == ["sst2"]
    assert args.seed == 3 and args.plots is False and args.trust_remote_code is False
    assert args.poolings == ["mean", "max", "cls", "first_last_mean"]
    assert args.disable_tqdm is False and not run_glue_probe.show_progress(args.disable_tqdm)  # no TTY here
    config.write_text(yaml.safe_dump({"model_name_or_path": ["a/b"], "output_dir": "o", "sed": 1}))
    with pytest.raises(ValueError, match=r"unknown keys \['sed'\]"):
        run_glue_probe.parse_args([str(config)])
    with pytest.raises(ValueError, match="--output_dir required"):
        run_glue_probe.parse_args(["--model_name_or_path", "a/b"])


def stsb_as_user_csv(glue: Path, folder: Path) -> dict:
    """The synthetic STS-B written as plain CSV files with the user's own column and split names."""
    folder.mkdir(parents=True)
    renamed = {"sentence1": "first", "sentence2": "second", "label": "similarity"}
    for split, name in (("train", "fit"), ("validation", "dev")):
        frame = pd.read_parquet(glue / "stsb" / f"{split}-00000-of-00001.parquet")
        frame = frame.rename(columns=renamed).drop(columns=["idx"])
        frame["similarity"] = frame["similarity"].astype("float64")  # the exact float32 values, in full
        frame.to_csv(folder / f"{name}.csv", index=False)
    return {
        "name": "my-sts",
        "display_name": "My STS",
        "kind": "pair_regression",
        "data_files": {"fit": "fit.csv", "dev": ["dev.csv"]},
        "text_columns": ["first", "second"],
        "label_column": "similarity",
        "train_split": "fit",
        "eval_split": "dev",
        "positive_above": 4.0,
    }


def test_a_task_spec_on_local_csv_gives_the_numbers_of_the_builtin_task(workspace, tmp_path):
    spec = stsb_as_user_csv(workspace["glue"], tmp_path / "mine")
    spec_file = tmp_path / "mine" / "my-sts.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    common = ["--poolings", "mean", "cls", "--no-plots"]
    mine = run(workspace, tmp_path / "a", "--task_spec", str(spec_file), *common, models=("tiny-bert",))
    builtin = run(workspace, tmp_path / "b", "--tasks", "stsb", *common, models=("tiny-bert",))
    assert mine.tasks == ["my-sts"] and builtin.tasks == ["stsb"]
    assert mine.n_examples["my-sts"] == TaskExamples(48, 30, "dev")
    assert builtin.n_examples["stsb"] == TaskExamples(48, 30, "validation")
    assert mine.task_specs["my-sts"]["display_name"] == "My STS"
    assert mine.headline_metric("my-sts") == "pearson"
    ours, theirs = mine.results["tiny-bert"]["my-sts"], builtin.results["tiny-bert"]["stsb"]
    assert set(ours) == set(theirs) == {"mean", "cls"}
    for pooling in ours:
        assert set(ours[pooling]) == set(theirs[pooling]) >= {"pearson", "spearmanr", "balance", "alignment"}
        for metric, cell in theirs[pooling].items():
            if metric in (
                "probe_headline",
                "probe_lift",
            ):  # a user's task heads with its first metric, pearson
                continue
            assert ours[pooling][metric].value == pytest.approx(cell.value, rel=1e-9, abs=1e-12), metric
        assert ours[pooling]["probe_headline"].value == pytest.approx(
            theirs[pooling]["pearson"].value, rel=1e-9
        )
    report = (tmp_path / "a" / "out" / "report.md").read_text()
    assert "### my-sts" in report and "stsb" not in report
    # The same spec inline, on the command line.
    inline = json.dumps({**spec, "data_files": {k: str(tmp_path / "mine" / "fit.csv") for k in ("fit",)}})
    with pytest.raises(ValueError, match=r"data_files has no split \['dev'\]"):
        run_glue_probe.parse_args(["--model_name_or_path", "x", "--output_dir", "o", "--task_spec", inline])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "pair_ranking"}, r"unknown kind 'pair_ranking'; valid kinds: single_classification"),
        ({"text_columns": ["first"]}, r"needs 2 text column\(s\), got \['first'\]"),
        ({"metrics": ["accuracy"]}, r"metric\(s\) \['accuracy'\] do not fit kind 'pair_regression'"),
        ({"label": "similarity"}, r"unknown keys \['label'\]"),
    ],
)
def test_bad_task_specs_name_what_is_accepted(workspace, tmp_path, change, message):
    spec = {**stsb_as_user_csv(workspace["glue"], tmp_path / "mine"), **change}
    with pytest.raises(ValueError, match=message):
        run_glue_probe.parse_args(
            ["--model_name_or_path", "x", "--output_dir", "o", "--task_spec", json.dumps(spec)]
        )


def test_missing_column_of_a_task_spec_is_named(workspace, tmp_path):
    spec = {**stsb_as_user_csv(workspace["glue"], tmp_path / "mine"), "label_column": "score"}
    spec["data_files"] = {k: str(tmp_path / "mine" / f"{k}.csv") for k in ("fit", "dev")}
    with pytest.raises(
        ValueError, match=r"lacks columns \['score'\]; it has \['first', 'second', 'similarity'\]"
    ):
        run(workspace, tmp_path, "--task_spec", json.dumps(spec), models=("tiny-bert",))


def tiny_folder(workspace, tmp_path, name: str, model, pad: bool = True) -> Path:
    """A model folder with the workspace's word-level tokenizer (without a padding token unless `pad`)."""
    from transformers import AutoTokenizer

    folder = tmp_path / name
    model.save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(workspace["tiny-bert"], eos_token="[SEP]")
    if not pad:
        tokenizer.pad_token = None  # as GPT-2's own tokenizer
    tokenizer.save_pretrained(folder)
    return folder


def test_jepa_folders_load_without_trust_remote_code(workspace):
    config = json.loads((workspace["tiny-jepa"] / "config.json").read_text())
    assert "auto_map" in config  # its own code would be needed without this package
    encoder = probing.load_encoder(str(workspace["tiny-jepa"]))
    assert type(encoder.model).__name__ == "JepaMlmModel"


def test_a_model_that_needs_its_own_code_asks_for_trust_remote_code(workspace, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(workspace["tiny-bert"], folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="probe_test_custom",
        auto_map={
            "AutoConfig": "configuration_custom.CustomConfig",
            "AutoModel": "modeling_custom.CustomModel",
        },
    )
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="ships its own modelling code.*pass --trust_remote_code"):
        probing.load_encoder(str(folder))


def test_encoder_decoder_is_probed_through_its_encoder_and_causal_models_warn(workspace, tmp_path, caplog):
    import torch
    from transformers import GPT2Config, GPT2Model, T5Config, T5Model

    vocab = len(json.loads((workspace["tiny-bert"] / "tokenizer.json").read_text())["model"]["vocab"])
    torch.manual_seed(0)
    t5 = T5Model(T5Config(vocab_size=vocab, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4))
    gpt2 = GPT2Model(GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=64))
    workspace = {
        **workspace,
        "tiny-t5": tiny_folder(workspace, tmp_path, "tiny-t5", t5),
        "tiny-gpt2": tiny_folder(workspace, tmp_path, "tiny-gpt2", gpt2, pad=False),
    }
    caplog.set_level(logging.INFO)
    out = run(
        workspace,
        tmp_path,
        "--tasks",
        "stsb",
        "--poolings",
        "mean",
        "cls",
        "first_last_mean",
        models=("tiny-t5", "tiny-gpt2"),
    )
    assert {m.hidden_size for m in out.models.values()} == {32}
    assert out.models["tiny-t5"].num_parameters == sum(p.numel() for p in t5.get_encoder().parameters())
    for model in out.models:
        assert out.cell(model, "stsb", "first_last_mean", "spearmanr").value is not None
    messages = [r.getMessage() for r in caplog.records]
    assert any("encoder-decoder model (T5Model): probing its encoder" in m for m in messages)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "decoder-only" in r.getMessage()]
    assert len(warned) == 1 and "tiny-gpt2" in warned[0].getMessage()
    assert any("tiny-gpt2: the tokenizer has no padding token; padding with '[SEP]'" in m for m in messages)
    # The fitting stage says what it fits, pooling by pooling.
    assert any("stsb: fitting probes on cls pooling (2/3)" in m for m in messages)


def test_claims_count_informative_cells_once_per_pooling_and_over_seeds(workspace, tmp_path):
    """Paper protocol: `weighted` repeats `mean`, so its cells are dropped; a copy of a model as a second seed of
    its arm routes the claims through the seed x sentence bootstrap."""
    second_seed = tmp_path / "tiny-jepa-seed1"
    shutil.copytree(workspace["tiny-jepa"], second_seed)
    workspace = {**workspace, "tiny-jepa-seed1": second_seed}
    tasks = ["--tasks", "sst2", "stsb", "--protocol", "paper"]
    out = run(workspace, tmp_path, *tasks)
    assert [c.seeds for c in out.claims] == [[1, 1]] * 5
    uniformity = next(c for c in out.claims if c.claim == "uniformity")
    # 2 tasks x 4 poolings, the 2 weighted cells counted once under mean
    assert (uniformity.cells, uniformity.duplicates) == (6, 2)
    assert 0 <= uniformity.informative <= uniformity.cells
    assert uniformity.evidence.startswith(f"{uniformity.informative} of 6 cells informative")
    assert "one pre-training seed per arm" in uniformity.evidence
    probe = next(c for c in out.claims if c.claim == "probe accuracy")
    assert probe.cells == 6 and "TOST, 90 % CI" in probe.evidence
    comps = out.comparisons
    assert all(c.ci90_low is None or c.ci_low <= c.ci90_low + 1e-12 for c in comps)
    cell = out.results["tiny-bert"]["sst2"]["mean"]
    assert cell["probe_lift"].value == pytest.approx(cell["accuracy"].value - cell["probe_chance"].value)
    # 30 eval sentences in 32 dimensions: the rank's maximum is min(30, 32)
    assert cell["effective_rank_fraction"].value == pytest.approx(cell["effective_rank"].value / 30)

    two_seeds = {"models": ("tiny-jepa", "tiny-jepa-seed1", "tiny-bert")}
    seeded = (*tasks, "--arms", "jepa", "jepa", "bert")
    seeds = run(workspace, tmp_path, *seeded, "--random_control", "tiny-bert", **two_seeds)
    verdicts = list(seeds.claims)
    assert {(c.model_a, c.model_b) for c in verdicts} == {("jepa", "bert")}
    assert all(c.seeds == [2, 1] and "seeds 2 vs 1: the one-seed arm" in c.evidence for c in verdicts)
    assert next(c for c in verdicts if c.claim == "uniformity").duplicates == 2
    with pytest.raises(ValueError, match="--arms has 1 names for 2 models"):
        run(workspace, tmp_path, "--arms", "x")
    with pytest.raises(ValueError, match="--random_control 'nobody' is not a model name"):
        run(workspace, tmp_path, "--tasks", "sst2", "--random_control", "nobody")
    # --claim_pairs chooses the comparisons: here both directions between the two arms
    pairs = run(workspace, tmp_path, *seeded, "--claim_pairs", "bert:jepa", "jepa:bert", **two_seeds)
    assert [(c.model_a, c.model_b) for c in pairs.claims] == [("bert", "jepa")] * 5 + [("jepa", "bert")] * 5
    assert [c.seeds for c in pairs.claims] == [[1, 2]] * 5 + [[2, 1]] * 5
    # one seed each, listed the other way round: the same cells, the differences negated
    forward = run(workspace, tmp_path, *tasks, models=("tiny-jepa", "tiny-bert"))
    backward = run(
        workspace, tmp_path, *tasks, "--claim_pairs", "tiny-bert:tiny-jepa", models=("tiny-jepa", "tiny-bert")
    )
    for f, b in zip(forward.claims, backward.claims, strict=True):
        assert (b.model_a, b.model_b) == ("tiny-bert", "tiny-jepa")
        assert (b.cells, b.informative, b.duplicates) == (
            f.cells,
            f.informative,
            f.duplicates,
        ) and f.cells > 0
    with pytest.raises(
        ValueError, match=r"--claim_pairs name unknown arms \['nobody'\]; arms: \['tiny-bert'\]"
    ):
        run(
            workspace, tmp_path, "--tasks", "sst2", "--claim_pairs", "tiny-bert:nobody", models=("tiny-bert",)
        )
    with pytest.raises(ValueError, match=r"--claim_pairs \['jepa'\] are not valid; accepted: `A:B`"):
        run(workspace, tmp_path, "--tasks", "sst2", "--claim_pairs", "jepa")


def test_paper_padding_changes_the_encoding(workspace, tmp_path):
    """Padding to --max_length without a mask: the encoder sees [PAD] positions, so the embeddings move; the
    cache keeps the two encodings apart."""
    args = ("--tasks", "sst2", "--protocol", "paper", "--poolings", "mean", "attention")
    plain = run(workspace, tmp_path, *args, models=("tiny-bert",))
    padded = run(workspace, tmp_path, *args, "--paper_padding", models=("tiny-bert",))
    for pooling in ("mean", "attention"):
        u_plain = plain.cell("tiny-bert", "sst2", pooling, "uniformity").value
        u_padded = padded.cell("tiny-bert", "sst2", pooling, "uniformity").value
        assert abs(u_plain - u_padded) > 1e-3
    assert len(list((tmp_path / "out" / "cache").glob("*.npz"))) == 4  # train and eval, twice


def test_records_of_models_probed_apart_compare_exactly_as_one_run_without_weights(workspace, tmp_path):
    """Each model measured in its own run (--records_only) and the comparison assembled later from the records
    alone, the weights gone, gives the numbers, comparisons and claims of one run over both models."""
    tasks = ["--tasks", "sst2", "stsb", "--arms", "jepa", "bert", "--claim_pairs", "jepa:bert"]
    together = run(workspace, tmp_path / "together", *tasks).to_dict()

    models = {m: tmp_path / "models" / m for m in ("tiny-jepa", "tiny-bert")}
    for name, folder in models.items():
        shutil.copytree(workspace[name], folder)
    moved = {**workspace, **models}
    records = tmp_path / "records"
    for name in models:  # two separate sittings, one model each
        assert (
            run(
                moved,
                tmp_path / name,
                "--tasks",
                "sst2",
                "stsb",
                "--records_dir",
                str(records),
                "--records_only",
                models=(name,),
            )
            is None
        )
        assert not (tmp_path / name / "out" / "results.json").exists()
    assert sorted(p.name for p in records.iterdir()) == ["tiny-bert.npz", "tiny-jepa.npz"]
    for folder in models.values():
        shutil.rmtree(folder)  # the comparison needs only the records
    apart = run(moved, tmp_path / "apart", *tasks, "--records_dir", str(records)).to_dict()
    for key in ("results", "comparisons", "claims", "spectra", "n_examples"):
        assert apart[key] == together[key], key
    assert apart["models"]["tiny-bert"]["num_parameters"] == together["models"]["tiny-bert"]["num_parameters"]

    # A record measured under other settings is refused, naming the setting, not mixed into the comparison.
    with pytest.raises(
        ValueError, match=r"tiny-jepa\.npz was measured on other settings: n_bootstrap 40 \(now 30\)"
    ):
        run(moved, tmp_path / "other", *tasks, "--records_dir", str(records), "--n_bootstrap", "30")


def test_records_only_needs_a_records_dir():
    with pytest.raises(ValueError, match="--records_only saves records: give --records_dir too"):
        run_glue_probe.parse_args(["--model_name_or_path", "x", "--output_dir", "o", "--records_only"])


def test_a_file_that_is_not_a_record_is_refused_by_name(tmp_path):
    from modeling_jepa_mlm.analysis.records import load_record

    np.savez(tmp_path / "embeddings.npz", mean=np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"embeddings\.npz is not an analysis record \(no '__meta__' entry\)"
    ):
        load_record(tmp_path / "embeddings.npz")
    np.savez(tmp_path / "future.npz", __meta__=np.array('{"format": 99}'))
    with pytest.raises(ValueError, match=r"future\.npz: record format 99; this version reads 1"):
        load_record(tmp_path / "future.npz")
