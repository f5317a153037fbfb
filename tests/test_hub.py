"""Hub upload: the exact file list, a dry run that writes and sends nothing, clear errors offline / without a token /
without a network that leave the export intact, and the upload calls a real push makes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import yaml
from huggingface_hub import constants

from modeling_jepa_mlm import JepaMlmForMaskedLM
from modeling_jepa_mlm.publishing.hub import HubUploadError, plan_upload, push_to_hub, upload_files

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "config": ["config.json"],
    "weights": ["model.safetensors"],
    "tokenizer": ["tokenizer.json", "tokenizer_config.json"],
    "code": ["configuration_jepa_mlm.py", "ema.py", "losses.py", "modeling_jepa_mlm.py", "pooling.py"],
    "card": ["README.md"],
    "logs": [],
}


@pytest.fixture
def export(tmp_path, tiny_config, tiny_tokenizer):
    """An export folder with everything run_pretraining.py leaves beside the publishable files."""
    folder = tmp_path / "out"
    config = tiny_config(vocab_size=len(tiny_tokenizer), mask_token_id=tiny_tokenizer.mask_token_id)
    JepaMlmForMaskedLM(config).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    (folder / "run_config.yaml").write_text(yaml.safe_dump({"seed": 1, "max_seq_length": 16}))
    (folder / "training_summary.json").write_text(json.dumps({"steps": 3, "trajectory": {}}))
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    for extra in ("checkpoint-5/model.safetensors", "tokenizer/vocab.txt", "runs/events.out", "notes.txt"):
        (folder / extra).parent.mkdir(parents=True, exist_ok=True)
        (folder / extra).write_text("not for the Hub")
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def online(monkeypatch):
    """Pretend to be online with a token (the tests' conftest sets HF_HUB_OFFLINE=1)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test_token")


class RecordingApi:
    """Stands in for `HfApi`: records the calls a push makes."""

    calls: list = []

    def __init__(self, token=None):
        RecordingApi.calls = [("init", token)]

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self, repo_id, **kwargs):
        self.calls.append(("create_branch", repo_id, kwargs))

    def create_commit(self, **kwargs):
        self.calls.append(("create_commit", kwargs))
        return "commit"


class FailingApi(RecordingApi):
    """Stands in for `HfApi` whose commit fails (the connection dropped during the upload)."""

    def create_commit(self, **kwargs):
        raise ConnectionError("upload interrupted")


def uploaded(call) -> dict[str, bytes]:
    """`path_in_repo -> bytes` of a recorded `create_commit` call."""
    out = {}
    for op in call[1]["operations"]:
        source = op.path_or_fileobj
        out[op.path_in_repo] = source if isinstance(source, bytes) else Path(source).read_bytes()
    return out


def test_dry_run_lists_exactly_config_weights_tokenizer_code_and_card_and_touches_nothing(export):
    before = snapshot(export)
    plan = push_to_hub(export, "org/tiny", dry_run=True, private=True, revision="v1")
    assert plan.files == EXPECTED
    assert plan.all_files == [f for kind in EXPECTED.values() for f in kind]
    assert snapshot(export) == before  # not even the card is written
    listing = plan.describe()
    assert "org/tiny (private, revision v1)" in listing
    listed = [line.split()[1] for line in listing.splitlines()[1:]]
    assert listed == plan.all_files
    assert plan.sizes["README.md"] > 1000  # the rendered card's size


def test_cli_dry_run_prints_the_listing(export):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "modeling_jepa_mlm.publishing.hub",
            "push",
            str(export),
            "--hub_model_id",
            "org/tiny",
            "--dry_run",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = [line.split()[1] for line in proc.stdout.strip().splitlines()[1:]]
    assert listed == [f for kind in EXPECTED.values() for f in kind]
    assert not (export / "README.md").exists()


def test_keep_card_uploads_the_existing_readme_or_none(export):
    assert plan_upload(export, "org/tiny", regenerate_card=False).files["card"] == []
    (export / "README.md").write_text("---\nlicense: mit\n---\n")
    assert plan_upload(export, "org/tiny", regenerate_card=False).files["card"] == ["README.md"]


def test_offline_mode_gives_a_clear_error_and_keeps_the_export(export, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = snapshot(export)
    with pytest.raises(HubUploadError, match="offline mode is enabled") as err:
        push_to_hub(export, "org/tiny")
    assert str(export.resolve()) in str(err.value) and "intact" in str(err.value)
    assert snapshot(export) == before


def test_no_token_gives_a_clear_error(export, online, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(HubUploadError, match=r"no Hugging Face token.*hf auth login.*HF_TOKEN") as err:
        push_to_hub(export, "org/tiny")
    assert str(export.resolve()) in str(err.value)


def test_unreachable_hub_gives_a_clear_error_and_keeps_the_export(export, online, monkeypatch):
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    before = {k: v for k, v in snapshot(export).items() if k != "README.md"}
    with pytest.raises(HubUploadError, match="could not push") as err:
        push_to_hub(export, "org/tiny", revision="v2")
    message = str(err.value)
    assert f"the export in {export.resolve()} is intact" in message
    assert (
        f"python -m modeling_jepa_mlm.publishing.hub push {export.resolve()} --hub_model_id org/tiny --revision v2"
        in message
    )
    after = snapshot(export)
    assert {k: v for k, v in after.items() if k != "README.md"} == before
    assert "README.md" not in after  # the card is written only once pushed


def test_push_creates_the_repo_and_branch_and_uploads_only_the_plan(export, online, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    validated = []
    monkeypatch.setattr(
        huggingface_hub.ModelCard, "validate", lambda self, repo_type=None: validated.append(self)
    )
    plan = push_to_hub(export, "org/tiny", private=True, revision="probe-v1", commit_message="msg")
    calls = RecordingApi.calls
    assert calls[0] == ("init", "hf_test_token")
    assert calls[1] == ("create_repo", "org/tiny", {"private": True, "exist_ok": True, "repo_type": "model"})
    assert calls[2] == (
        "create_branch",
        "org/tiny",
        {"branch": "probe-v1", "exist_ok": True, "repo_type": "model"},
    )
    upload = calls[3][1]
    sent = uploaded(calls[3])
    assert list(sent) == plan.all_files == [f for kind in EXPECTED.values() for f in kind]
    assert upload["revision"] == "probe-v1" and upload["commit_message"] == "msg"
    assert sent["model.safetensors"] == (export / "model.safetensors").read_bytes()
    assert len(validated) == 1 and validated[0].data.license == "apache-2.0"
    assert 'model_id = "org/tiny"' in (export / "README.md").read_text()
    assert sent["README.md"] == (export / "README.md").read_bytes()  # the card pushed is the card written


def test_public_push_leaves_visibility_to_the_account_default(export, online, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    monkeypatch.setattr(huggingface_hub.ModelCard, "validate", lambda self, repo_type=None: None)
    push_to_hub(export, "org/tiny")
    assert RecordingApi.calls[1][2]["private"] is None
    assert [c[0] for c in RecordingApi.calls] == ["init", "create_repo", "create_commit"]  # no branch


def test_bad_repo_ids_and_incomplete_exports_fail_before_anything(export, tmp_path):
    with pytest.raises(ValueError, match=r"hub_model_id='bad id!' is not a valid repository id; accepted"):
        push_to_hub(export, "bad id!", dry_run=True)
    with pytest.raises(ValueError, match="no hub_model_id"):
        push_to_hub(export, "", dry_run=True)
    (export / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights files"):
        upload_files(export)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        upload_files(tmp_path / "missing")


def test_code_named_by_auto_map_must_be_present(export):
    (export / "modeling_jepa_mlm.py").unlink()
    with pytest.raises(FileNotFoundError, match=r"auto_map needs \['modeling_jepa_mlm.py'\]"):
        upload_files(export)


def test_run_pretraining_push_fails_before_training(tmp_path, monkeypatch):
    from modeling_jepa_mlm.training import pretrain as run_pretraining

    argv = [
        "--train_file",
        str(tmp_path / "none.txt"),
        "--output_dir",
        str(tmp_path / "o"),
        "--push_to_hub",
        "true",
    ]
    with pytest.raises(ValueError, match="no hub_model_id"):
        run_pretraining.main(argv)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUploadError, match="offline mode"):
        run_pretraining.main([*argv, "--hub_model_id", "org/tiny"])
    assert not (tmp_path / "o").exists()  # failed before anything was written


def test_run_pretraining_push_failure_after_training_keeps_the_export(tmp_path, online, monkeypatch):
    from modeling_jepa_mlm.quickstart import TINY_MODEL_CONFIG
    from modeling_jepa_mlm.quickstart.synthetic import write_corpus
    from modeling_jepa_mlm.training import pretrain as run_pretraining

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    corpus = write_corpus(tmp_path / "corpus.jsonl", 150)
    out = tmp_path / "run"
    argv = [
        "--model_config",
        json.dumps({**TINY_MODEL_CONFIG, "objective": "hybrid"}),
        "--train_file",
        str(corpus),
    ]
    argv += ["--tokenizer_vocab_size", "400", "--max_seq_length", "32", "--per_device_train_batch_size", "4"]
    argv += [
        "--max_steps",
        "2",
        "--output_dir",
        str(out),
        "--cache_dir",
        str(tmp_path / "cache"),
        "--use_cpu",
        "true",
    ]
    argv += ["--report_to", "none", "--save_strategy", "no", "--disable_tqdm", "true"]
    with pytest.raises(HubUploadError, match=f"the export in {out.resolve()} is intact"):
        run_pretraining.main([*argv, "--push_to_hub", "true", "--hub_model_id", "org/tiny"])
    assert upload_files(out) == EXPECTED
    assert yaml.safe_load((out / "run_config.yaml").read_text())["push_to_hub"] is True
    assert 'model_id = "org/tiny"' in (out / "README.md").read_text()
    assert json.loads((out / "training_summary.json").read_text())["steps"] == 2


def test_a_failed_upload_leaves_the_card_with_probe_results_untouched(export, online, monkeypatch, caplog):
    """A card written earlier with probe results (model-index) survives a push whose upload fails."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    data = ModelCardData(
        license="apache-2.0",
        model_name="tiny",
        eval_results=[EvalResult("text-classification", "nyu-mll/glue", "GLUE SST-2", "accuracy", 0.91)],
    )
    card = ModelCard(
        f"---\n{data.to_yaml()}\n---\n\n# tiny\n\n| task | accuracy |\n|---|---|\n| sst2 | 0.91 |\n"
    )
    (export / "README.md").write_text(str(card))
    before = snapshot(export)
    monkeypatch.setattr(huggingface_hub, "HfApi", FailingApi)
    monkeypatch.setattr(huggingface_hub.ModelCard, "validate", lambda self, repo_type=None: None)
    with caplog.at_level("WARNING"), pytest.raises(HubUploadError, match="upload interrupted") as err:
        push_to_hub(export, "org/tiny")
    assert snapshot(export) == before
    assert f"the export in {export.resolve()} is intact (its README.md unchanged)" in str(err.value)
    assert "probe results (model-index) that the regenerated card lacks" in caplog.text
    assert ModelCard((export / "README.md").read_text()).data.eval_results[0].metric_value == 0.91


def test_push_sends_only_the_code_auto_map_needs_and_the_tensorboard_logs(export, online, monkeypatch):
    (export / "notes.py").write_text("print('a stray notes file')\n")
    (export / "setup_helpers.py").write_text("import os\n")
    events = export / "runs" / "Nov28_10-00-00_host" / "events.out.tfevents.1764324000.host.123.0"
    events.parent.mkdir(parents=True)
    events.write_bytes(b"tensorboard events")
    plan = plan_upload(export, "org/tiny")
    assert plan.files["code"] == EXPECTED["code"]  # the auto_map modules and what they import relatively
    assert plan.files["logs"] == [str(events.relative_to(export))]
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    monkeypatch.setattr(huggingface_hub.ModelCard, "validate", lambda self, repo_type=None: None)
    push_to_hub(export, "org/tiny")
    sent = uploaded(RecordingApi.calls[-1])
    assert "notes.py" not in sent and "setup_helpers.py" not in sent
    assert sent[str(events.relative_to(export))] == b"tensorboard events"


def test_code_imported_relatively_by_the_auto_map_modules_must_be_present(export):
    (export / "losses.py").unlink()  # modeling_jepa_mlm.py imports it with `from .losses import ...`
    with pytest.raises(FileNotFoundError, match=r"modeling_jepa_mlm.py imports \['losses.py'\]"):
        upload_files(export)
