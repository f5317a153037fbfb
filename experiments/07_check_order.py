"""Parity check (issue 10): the three arms read the same sequences in the same order with the same BERT masks.

Rebuilds each arm's training data loader exactly as run_pretraining.py does (same YAML, the `datasets`
cache) and hashes the first batches: the clean token ids (data and order) and the BERT-masked inputs and MLM
labels (masks). Writes JSON to stdout. With a second argument it first resumes at that global step the way
the Trainer does (`Trainer._run_epoch`: epoch = step // batches per epoch, `accelerate.skip_first_batches`
over the rest, then `set_epoch`), which checks the continuations of 10_continue.sh, and compares the first
batch with the one an uninterrupted run reads at that step (the sampler set to that epoch, the loader read
on to that batch). The 2015.en split is 8,850 batches of 16 an epoch, so resumes from step 8,850 on fall in
a later epoch, whose shuffle is seeded by `data_seed + epoch`.

    python experiments/07_check_order.py [n_batches] [step]
    python experiments/07_check_order.py 3 3000      # the first batches after the resume at step 3,000
    python experiments/07_check_order.py 3 12000     # epoch 1, batch 3,150
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from accelerate import skip_first_batches  # noqa: E402
from transformers import set_seed  # noqa: E402

import run_pretraining as rp  # noqa: E402
from modeling_jepa_mlm.training.trainer import JepaMlmTrainer  # noqa: E402


def digest(t) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()[:16]


def resumed_loader(loader, epoch: int, offset: int):
    """The loader the Trainer iterates in `epoch` after resuming `offset` batches into it (transformers
    `Trainer._run_epoch`: skip, then `set_epoch` on the loader and on a wrapped batch sampler)."""
    if offset > 0:
        loader = skip_first_batches(loader, offset)
    loader.set_epoch(epoch)
    inner = getattr(getattr(loader, "batch_sampler", None), "batch_sampler", None)
    if hasattr(inner, "set_epoch"):
        inner.set_epoch(epoch)
    return loader


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    skip = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    out = {}
    for arm in ("hybrid", "hybrid_shared", "mlm"):
        model_args, data_args, training_args = rp.parse_args(
            [f"experiments/configs/cpu_{arm}.yaml", "--output_dir", f"/tmp/order_check/{arm}"]
        )
        set_seed(training_args.seed)
        raw = rp.load_raw(data_args, training_args.seed)
        tokenizer = rp.build_tokenizer(data_args, raw, training_args.output_dir)
        model = rp.build_model(model_args, tokenizer, data_args.max_seq_length)
        packed = rp.pack(raw, tokenizer, data_args, training_args)
        trainer = JepaMlmTrainer(
            model=model,
            args=training_args,
            train_dataset=packed["train"],
            data_collator=rp.build_collator(model.config, data_args, tokenizer, training_args.seed),
            processing_class=tokenizer,
        )
        epoch, offset = divmod(skip, len(trainer.get_train_dataloader()))
        loader = resumed_loader(trainer.get_train_dataloader(), epoch, offset)
        rows = [
            {k: digest(batch[k]) for k in ("clean_input_ids", "input_ids", "labels")}
            for batch in itertools.islice(loader, n)
        ]
        out[arm] = {
            "train_sequences": len(packed["train"]),
            "resumed_at_step": skip,
            "epoch": epoch,
            "skipped_batches_in_epoch": offset,
            "batches": rows,
        }
        if skip and arm == "hybrid":
            # the resumed order against the uninterrupted one: batch `offset` of epoch `epoch` read from its start
            uninterrupted = resumed_loader(trainer.get_train_dataloader(), epoch, 0)
            batch = next(itertools.islice(uninterrupted, offset, None))
            first = {k: digest(batch[k]) for k in ("clean_input_ids", "input_ids", "labels")}
            out["resume_matches_uninterrupted"] = first == rows[0]
    arms = [a for a in out if isinstance(out[a], dict)]
    out["identical"] = {
        key: all(
            out[a]["batches"] == out[arms[0]]["batches"]
            if key == "all"
            else [b[key] for b in out[a]["batches"]] == [b[key] for b in out[arms[0]]["batches"]]
            for a in arms
        )
        for key in ("clean_input_ids", "input_ids", "labels", "all")
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
