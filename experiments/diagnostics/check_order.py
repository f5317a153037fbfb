"""Data-order parity at any step: every arm of a study reads the same batches, also after a resume there.

The study runner checks parity itself (`modeling_jepa_mlm.study.parity`: the first batches of every run, and
each resume it recorded, against an uninterrupted loader). This script is the check the published CPU comparison
ran at each step an arm resumed from (`results/cpu_49m/order_check_<step>.json`): it rebuilds each arm's
training loader as `run_pretraining.py` does (the study's resolved config of its first seed, the `datasets`
cache), resumes at `--step` the way the Trainer does (epoch = step // batches per epoch,
`accelerate.skip_first_batches` over the rest, then `set_epoch`) and hashes the batches read from there: the
clean token ids (data and order), the BERT-masked inputs and the MLM labels (masks). For the first arm it also
compares the first of them with the batch an uninterrupted loader reads at that step. On 2015.en at batch 16 an
epoch is 8,850 batches, so resumes from step 8,850 on fall in a later epoch, whose shuffle is seeded by
`data_seed + epoch`. Writes JSON (stdout, or --output). Run from the repository root (the base's data paths
are relative to it).

    python experiments/diagnostics/check_order.py experiments/studies/cpu_49m.yaml --n_batches 3 --step 12000
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import yaml
from transformers import set_seed

from modeling_jepa_mlm.study.parity import BATCH_KEYS, digest, loader_at
from modeling_jepa_mlm.study.spec import load_study
from modeling_jepa_mlm.training import pretrain
from modeling_jepa_mlm.training.trainer import JepaMlmTrainer


def study_arms(study_path: Path) -> dict[str, dict]:
    """Each arm's resolved config (first seed) from a study file, as the study runner resolves it."""
    runs = {}
    for run in load_study(study_path).runs():
        runs.setdefault(run.arm, run.config)
    return runs


def train_loader(config_path: Path, output_dir: str):
    """The Trainer's training loader of one arm, built as `run_pretraining.py` builds it."""
    model_args, data_args, training_args = pretrain.parse_args([str(config_path), "--output_dir", output_dir])
    set_seed(training_args.seed)
    raw = pretrain.load_raw(data_args, training_args)
    tokenizer = pretrain.build_tokenizer(data_args, raw, training_args.output_dir)
    model = pretrain.build_model(model_args, tokenizer, data_args.max_seq_length)
    packed = pretrain.pack(raw, tokenizer, data_args, training_args)
    trainer = JepaMlmTrainer(
        model=model,
        args=training_args,
        train_dataset=packed["train"],
        data_collator=pretrain.build_collator(model.config, data_args, tokenizer, training_args.seed),
        processing_class=tokenizer,
    )
    return trainer, len(packed["train"])


def hashes(batch) -> dict[str, str]:
    return {k: digest(batch[k]) for k in BATCH_KEYS}


def check(arms: dict[str, dict], n_batches: int, step: int, workdir: Path) -> dict:
    """Per arm the hashes of `n_batches` batches read after resuming at `step`; whether all arms agree (per
    hashed field and overall); and, for the first arm, whether the resumed batch equals the uninterrupted one."""
    out: dict = {}
    workdir.mkdir(parents=True, exist_ok=True)
    for i, (name, config) in enumerate(arms.items()):
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        trainer, train_sequences = train_loader(path, str(workdir / name))
        epoch, offset = divmod(step, len(trainer.get_train_dataloader()))
        loader = loader_at(trainer.get_train_dataloader(), epoch, offset)
        out[name] = {
            "train_sequences": train_sequences,
            "resumed_at_step": step,
            "epoch": epoch,
            "skipped_batches_in_epoch": offset,
            "batches": [hashes(batch) for batch in itertools.islice(loader, n_batches)],
        }
        if step and i == 0:
            uninterrupted = loader_at(trainer.get_train_dataloader(), epoch, 0)
            batch = next(itertools.islice(uninterrupted, offset, None))
            out["resume_matches_uninterrupted"] = hashes(batch) == out[name]["batches"][0]
    first = out[next(iter(arms))]["batches"]
    out["identical"] = {
        key: all([b[key] for b in out[a]["batches"]] == [b[key] for b in first] for a in arms)
        for key in BATCH_KEYS
    }
    out["identical"]["all"] = all(out[a]["batches"] == first for a in arms)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", help="study file (experiments/studies/<name>.yaml): its base config and arms")
    p.add_argument("--n_batches", type=int, default=3)
    p.add_argument("--step", type=int, default=0, help="resume at this global step first (0: from the start)")
    p.add_argument(
        "--output", type=argparse.FileType("w"), default=sys.stdout, help="JSON file (default: stdout)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    arms = study_arms(Path(args.study))
    with tempfile.TemporaryDirectory(prefix="order_check_") as workdir:
        out = check(arms, args.n_batches, args.step, Path(workdir))
    args.output.write(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
