"""Saved folders load through the Auto classes with trust_remote_code where the package cannot be imported;
the model works in transformers' fill-mask pipeline and Trainer; the Hub payload imports only torch/transformers."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import make_batch

from modeling_jepa_mlm import (
    JepaMlmForMaskedLM,
    JepaMlmForPreTraining,
    JepaMlmForSequenceClassification,
    JepaMlmModel,
)

PACKAGE = Path(__file__).resolve().parents[1] / "modeling_jepa_mlm"
HUB_PAYLOAD = ("configuration_jepa_mlm.py", "modeling_jepa_mlm.py", "pooling.py", "losses.py", "ema.py")

# Runs in a fresh interpreter: the package is made unimportable, then each folder is loaded through its Auto
# class with trust_remote_code and run on the saved inputs.
LOADER = r"""
import sys, json, torch
sys.modules["modeling_jepa_mlm"] = None  # any `import modeling_jepa_mlm` now raises ImportError
try:
    import modeling_jepa_mlm  # noqa: F401
    raise SystemExit("package still importable")
except ImportError:
    pass
import transformers
folder, auto_name, batch_path, out_path = sys.argv[1:5]
auto = getattr(transformers, auto_name)
model = auto.from_pretrained(folder, trust_remote_code=True).eval()
assert "transformers_modules" in type(model).__module__, type(model).__module__
batch = torch.load(batch_path)
with torch.no_grad():
    out = model(**batch)
torch.save({k: v for k, v in out.items() if isinstance(v, torch.Tensor)}, out_path)
print(type(model).__name__)
"""


def _run_in_fresh_process(tmp_path: Path, folder: Path, auto_name: str, batch: dict) -> dict:
    torch.save(batch, tmp_path / "batch.pt")
    script = tmp_path / "load.py"
    script.write_text(LOADER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "hf_modules")
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            str(folder),
            auto_name,
            str(tmp_path / "batch.pt"),
            str(tmp_path / "out.pt"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(tmp_path / "out.pt")


@pytest.mark.parametrize(
    "cls,auto_name",
    [
        (JepaMlmModel, "AutoModel"),
        (JepaMlmForMaskedLM, "AutoModelForMaskedLM"),
        (JepaMlmForSequenceClassification, "AutoModelForSequenceClassification"),
        (JepaMlmForPreTraining, "AutoModelForPreTraining"),
    ],
)
def test_saved_folder_loads_with_trust_remote_code_without_the_package(tmp_path, tiny_config, cls, auto_name):
    config = tiny_config(num_labels=3)
    torch.manual_seed(0)
    model = cls(config).eval()
    if isinstance(model, JepaMlmForPreTraining):
        with torch.no_grad():  # a target encoder that differs from the online one must round-trip too
            for p in model.target_encoder.parameters():
                p.mul_(0.9)
    folder = tmp_path / "saved"
    model.save_pretrained(folder)
    files = set(os.listdir(folder))
    assert set(HUB_PAYLOAD) <= files and "model.safetensors" in files
    assert json.loads((folder / "config.json").read_text())["auto_map"][auto_name].startswith(
        "modeling_jepa_mlm."
    )
    full = make_batch(config)
    if isinstance(model, JepaMlmForPreTraining):
        batch = full
    else:
        batch = {"input_ids": full["clean_input_ids"], "attention_mask": full["attention_mask"]}
    with torch.no_grad():
        expected = {k: v for k, v in model(**batch).items() if isinstance(v, torch.Tensor)}
    got = _run_in_fresh_process(tmp_path, folder, auto_name, batch)
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


def test_fill_mask_pipeline_runs(tmp_path, tiny_config, tiny_tokenizer):
    from transformers import pipeline

    config = tiny_config(vocab_size=len(tiny_tokenizer), mask_token_id=tiny_tokenizer.mask_token_id)
    JepaMlmForMaskedLM(config).save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    fill = pipeline("fill-mask", model=str(tmp_path), tokenizer=str(tmp_path), trust_remote_code=True)
    preds = fill("the cat sat on the [MASK]", top_k=3)
    assert len(preds) == 3
    assert all(p["token_str"] for p in preds)
    assert abs(sum(p["score"] for p in fill("the [MASK]", top_k=len(tiny_tokenizer)))) == pytest.approx(
        1.0, abs=1e-4
    )


def test_trainer_fine_tunes_sequence_classification(tmp_path, tiny_config, tiny_tokenizer):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    config = tiny_config(
        vocab_size=len(tiny_tokenizer), mask_token_id=tiny_tokenizer.mask_token_id, num_labels=2
    )
    JepaMlmModel(config).save_pretrained(tmp_path / "enc")
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "enc", num_labels=2)
    texts = ["good great movie", "happy film", "really good plot", "great actor"] * 8
    texts += ["bad awful movie", "sad film", "really bad plot", "awful actor"] * 8
    labels = [1] * 32 + [0] * 32
    data = Dataset.from_dict({"text": texts, "label": labels}).map(
        lambda b: tiny_tokenizer(b["text"], padding="max_length", max_length=8), batched=True
    )
    args = TrainingArguments(
        output_dir=str(tmp_path / "ft"),
        per_device_train_batch_size=16,
        num_train_epochs=10,
        learning_rate=3e-3,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data.remove_columns("text"))
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert sum(losses[-4:]) / 4 < 0.6 * sum(losses[:4]) / 4


def test_hub_payload_imports_only_torch_transformers_and_itself():
    allowed_external = {"torch", "transformers"}
    stdlib = set(sys.stdlib_module_names)
    for name in HUB_PAYLOAD:
        tree = ast.parse((PACKAGE / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside the payload
                    assert f"{node.module}.py" in HUB_PAYLOAD, f"{name} imports .{node.module}"
                    continue
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in allowed_external or root in stdlib or root == "__future__", (
                    f"{name} imports {root}"
                )
