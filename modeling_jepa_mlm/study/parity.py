"""Data-order parity: runs that should read the same sequences in the same order with the same masks do.

Each run's training data loader is rebuilt exactly as pre-training builds it (same config, the `datasets`
cache, the Trainer's seeded sampler) and its first batches are hashed: the clean token ids (data and order),
and the BERT-masked inputs and MLM labels (masks). Runs that share the data keys (`DATA_KEYS`) must have
identical clean ids; those that also share the seed and the masking keys must have identical masks. After a
resume at step `s` (recorded in `walltime.jsonl`), the batch the Trainer reads there (`skip_first_batches` into
epoch `s // batches per epoch`, then `set_epoch`, as `Trainer._inner_training_loop` does) must equal the one an
uninterrupted loader reads at that step.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from .spec import Run, StudySpec

DATA_KEYS = (
    "dataset_name",
    "dataset_config_name",
    "train_file",
    "tokenizer_name",
    "max_seq_length",
    "max_chars_per_document",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "data_seed",
)
MASK_KEYS = ("seed", "mlm_probability", "mask_replace_prob", "random_replace_prob")
BATCH_KEYS = ("clean_input_ids", "input_ids", "labels")


def digest(t) -> str:
    """A short content hash of a tensor."""
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()[:16]


def loader_at(loader, epoch: int, offset: int):
    """The loader as the Trainer iterates it in `epoch` after resuming `offset` batches into it."""
    from accelerate import skip_first_batches

    if offset > 0:
        loader = skip_first_batches(loader, offset)
    loader.set_epoch(epoch)
    inner = getattr(getattr(loader, "batch_sampler", None), "batch_sampler", None)
    if hasattr(inner, "set_epoch"):
        inner.set_epoch(epoch)
    return loader


def run_batches(run: Run, num_batches: int = 2, resume_steps: tuple[int, ...] = ()) -> dict[str, Any]:
    """Hashes of the first `num_batches` batches of a run and, per resume step, whether the resumed loader's
    batch equals the uninterrupted one's."""
    from transformers import set_seed

    from ..training import pretrain as pt
    from ..training.trainer import JepaMlmTrainer

    with tempfile.TemporaryDirectory() as tmp:
        config = dict(run.config, output_dir=tmp, report_to="none", eval_strategy="no")
        path = Path(tmp, "config.yaml")
        path.write_text(yaml.safe_dump(config))
        model_args, data_args, training_args = pt.parse_args([str(path)])
        set_seed(training_args.seed)
        raw = pt.load_raw(data_args, training_args)
        tokenizer = pt.build_tokenizer(data_args, raw, tmp)
        model = pt.build_model(model_args, tokenizer, data_args.max_seq_length)
        packed = pt.pack(raw, tokenizer, data_args, training_args)
        trainer = JepaMlmTrainer(
            model=model,
            args=training_args,
            train_dataset=packed["train"],
            data_collator=pt.build_collator(model.config, data_args, tokenizer, training_args.seed),
            processing_class=tokenizer,
        )
        per_epoch = len(trainer.get_train_dataloader())
        batches = [
            {k: digest(b[k]) for k in BATCH_KEYS}
            for b in itertools.islice(loader_at(trainer.get_train_dataloader(), 0, 0), num_batches)
        ]
        resumes = {}
        for step in resume_steps:
            epoch, offset = divmod(step, per_epoch)
            resumed = next(iter(loader_at(trainer.get_train_dataloader(), epoch, offset)))
            straight = next(
                itertools.islice(loader_at(trainer.get_train_dataloader(), epoch, 0), offset, None)
            )
            resumes[str(step)] = all(torch_equal(resumed[k], straight[k]) for k in BATCH_KEYS)
    return {"batches": batches, "batches_per_epoch": per_epoch, "resumes_match": resumes}


def torch_equal(a, b) -> bool:
    import torch

    return a.shape == b.shape and bool(torch.equal(a, b))


def resume_steps(spec: StudySpec) -> dict[str, tuple[int, ...]]:
    """Per run, the steps it was resumed at (from `walltime.jsonl`)."""
    from .runner import walltime_records

    steps: dict[str, set[int]] = defaultdict(set)
    for rec in walltime_records(spec):
        if rec.get("stage") == "pretrain" and rec.get("from_step", 0) > 0:
            steps[rec["run"]].add(int(rec["from_step"]))
    return {k: tuple(sorted(v)) for k, v in steps.items()}


def check_parity(spec: StudySpec, num_batches: int = 2) -> dict[str, Any]:
    """Hash every run's first batches and compare within the groups that must agree (module docstring)."""
    runs = spec.runs()
    resumed = resume_steps(spec)
    hashes = {r.name: run_batches(r, num_batches, resumed.get(r.name, ())) for r in runs}

    def group(keys: tuple[str, ...]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for r in runs:
            groups[json.dumps([r.config.get(k) for k in keys])].append(r.name)
        return dict(groups)

    def same(names: list[str], fields: tuple[str, ...]) -> bool:
        first = [[b[f] for f in fields] for b in hashes[names[0]]["batches"]]
        return all([[b[f] for f in fields] for b in hashes[n]["batches"]] == first for n in names)

    data_groups = [
        {"runs": names, "identical_data_and_order": same(names, ("clean_input_ids",))}
        for names in group(DATA_KEYS).values()
    ]
    mask_groups = [
        {"runs": names, "identical_masks": same(names, BATCH_KEYS)}
        for names in group(DATA_KEYS + MASK_KEYS).values()
    ]
    resumes_ok = all(all(h["resumes_match"].values()) for h in hashes.values())
    passed = (
        all(g["identical_data_and_order"] for g in data_groups)
        and all(g["identical_masks"] for g in mask_groups)
        and resumes_ok
    )
    return {
        "passed": passed,
        "num_batches": num_batches,
        "data_groups": data_groups,
        "mask_groups": mask_groups,
        "runs": hashes,
    }
