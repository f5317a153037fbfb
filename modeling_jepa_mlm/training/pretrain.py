"""Pre-train a jepa-mlm encoder (hybrid JEPA + MLM, or the MLM baseline) with `JepaMlmTrainer`.

    python run_pretraining.py configs/hybrid.yaml [--max_steps 100 --output_dir out/x ...]
    accelerate launch run_pretraining.py configs/mlm.yaml
    python run_pretraining.py --dataset_name wikimedia/wikipedia --dataset_config_name 20231101.en ...

One YAML/JSON file gives every argument (model, data and training dataclasses share one namespace; the
`model_config` block goes straight into `JepaMlmConfig`); flags after it override the file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from .. import JepaMlmConfig, JepaMlmForMaskedLM, JepaMlmForPreTraining
from ..publishing.cards import trajectory as logged_trajectory
from ..publishing.cards import write_model_card
from ..publishing.hub import check_hub_access, check_repo_id, push_to_hub
from .collator import DataCollatorForJepaMlm
from .data import (
    check_tokenizer_fits,
    iter_texts,
    load_or_train_tokenizer,
    load_raw_datasets,
    tokenize_and_pack,
)
from .trainer import JepaMlmTrainer, JepaMlmTrainingArguments, estimate_flops_per_token

logger = logging.getLogger(__name__)

RUN_CONFIG_NAME = "run_config.yaml"
SUMMARY_NAME = "training_summary.json"


@dataclass
class ModelArguments:
    """What to build: a fresh model from `model_config` (fields of `JepaMlmConfig`) or a checkpoint."""

    model_config: dict | str | None = field(
        default=None,
        metadata={
            "help": "JepaMlmConfig fields: a YAML mapping in the config file, or a JSON string on the CLI."
        },
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Start from this checkpoint (Hub id or folder) instead of a fresh model."},
    )

    def config_overrides(self) -> dict[str, Any]:
        if self.model_config is None:
            return {}
        if isinstance(self.model_config, str):
            try:
                return json.loads(self.model_config)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"--model_config must be a JSON object; got {self.model_config!r}: {err}"
                ) from err
        return dict(self.model_config)


@dataclass
class DataArguments:
    """Pre-training text, tokenizer and masking (the run_mlm.py names where they exist)."""

    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub dataset id or local Hub-layout folder."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "e.g. 20231101.en"})
    train_file: str | None = field(
        default=None, metadata={"help": "text/json/jsonl/parquet/csv file or folder."}
    )
    validation_file: str | None = field(default=None)
    text_column: str = field(default="text")
    streaming: bool = field(default=False)
    validation_split_percentage: float = field(default=1.0)
    max_seq_length: int = field(default=128)
    max_chars_per_document: int | None = field(
        default=None, metadata={"help": "Cut each document to its first N characters (the paper: 512)."}
    )
    preprocessing_num_workers: int | None = field(default=None)
    overwrite_cache: bool = field(default=False)
    max_eval_samples: int | None = field(default=None)
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "Hub id or folder; without it a WordPiece tokenizer is trained on the corpus."},
    )
    tokenizer_vocab_size: int = field(default=30522, metadata={"help": "Vocabulary of a trained tokenizer."})
    tokenizer_training_texts: int | None = field(
        default=None,
        metadata={"help": "Train the tokenizer on at most this many texts (streaming default: 100,000)."},
    )
    mlm_probability: float = field(default=0.15)
    eval_mlm_probability: float | None = field(
        default=None,
        metadata={
            "help": "Masking rate of the held-out evaluation (default: mlm_probability); fix it at 0.15 to compare "
            "runs trained at different rates on the same held-out masked-token cross-entropy."
        },
    )
    mask_replace_prob: float = field(default=0.8)
    random_replace_prob: float = field(default=0.1)
    context_ratio_min: float = field(default=0.65)
    context_ratio_max: float = field(default=0.85)
    target_ratio_min: float = field(default=0.10)
    target_ratio_max: float = field(default=0.25)
    num_target_blocks: int = field(default=2)
    min_context_tokens: int = field(default=4)
    cache_dir: str | None = field(default=None)


PARSER_TYPES = (ModelArguments, DataArguments, JepaMlmTrainingArguments)


def parse_args(
    argv: list[str] | None = None,
) -> tuple[ModelArguments, DataArguments, JepaMlmTrainingArguments]:
    """Arguments from an optional leading YAML/JSON file, overridden by any flags after it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(PARSER_TYPES)
    defaults: dict[str, Any] = {}
    if argv and argv[0].endswith((".yaml", ".yml", ".json")):
        path = Path(argv.pop(0))
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        defaults = (yaml.safe_load if path.suffix != ".json" else json.loads)(path.read_text()) or {}
        known = {f for dc in PARSER_TYPES for f in dc.__dataclass_fields__}
        unknown = sorted(set(defaults) - known)
        if unknown:
            raise ValueError(
                f"{path}: unknown keys {unknown}; keys are the flags of run_pretraining.py --help"
            )
        parser.set_defaults(**{k: v for k, v in defaults.items() if k != "model_config"})
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    if model_args.model_config is None and "model_config" in defaults:
        model_args.model_config = defaults["model_config"]
    return model_args, data_args, training_args


def build_tokenizer(data_args: DataArguments, raw_datasets, output_dir: str):
    """The given tokenizer, or a WordPiece one trained on the train split and saved in `output_dir`."""
    texts = None
    if data_args.tokenizer_name is None:
        limit = data_args.tokenizer_training_texts
        if limit is None and data_args.streaming:
            limit = 100_000
        texts = iter_texts(raw_datasets["train"], data_args.text_column, max_texts=limit)
    return load_or_train_tokenizer(
        data_args.tokenizer_name,
        texts,
        vocab_size=data_args.tokenizer_vocab_size,
        output_dir=os.path.join(output_dir, "tokenizer") if data_args.tokenizer_name is None else None,
        model_max_length=data_args.max_seq_length,
        cache_dir=data_args.cache_dir,
    )


def build_model(model_args: ModelArguments, tokenizer, max_seq_length: int) -> JepaMlmForPreTraining:
    """A fresh `JepaMlmForPreTraining` sized to the tokenizer, or a checkpoint; the tokenizer must fit it."""
    overrides = model_args.config_overrides()
    if model_args.model_name_or_path is not None:
        model = JepaMlmForPreTraining.from_pretrained(model_args.model_name_or_path, **overrides)
    else:
        overrides.setdefault("vocab_size", len(tokenizer))
        overrides.setdefault("pad_token_id", tokenizer.pad_token_id)
        overrides.setdefault("mask_token_id", tokenizer.mask_token_id)
        overrides.setdefault("max_position_embeddings", max(512, max_seq_length))
        model = JepaMlmForPreTraining(JepaMlmConfig(**overrides))
    config = model.config
    check_tokenizer_fits(
        tokenizer, config.vocab_size, pad_token_id=config.pad_token_id, mask_token_id=config.mask_token_id
    )
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(
            f"max_seq_length={max_seq_length} exceeds the model's max_position_embeddings={config.max_position_embeddings}"
        )
    return model


def load_raw(data_args: DataArguments, training_args: TrainingArguments):
    """The raw text splits named by `data_args` (`modeling_jepa_mlm.training.data.load_raw_datasets`).

    A held-out split cut from train is seeded by `data_seed` when it is set (else `seed`), like the Trainer's
    data order: runs that differ only in `seed` (initialisation and masks) then train on the same text."""
    seed = training_args.data_seed if training_args.data_seed is not None else training_args.seed
    return load_raw_datasets(
        data_args.dataset_name,
        data_args.dataset_config_name,
        data_args.train_file,
        data_args.validation_file,
        streaming=data_args.streaming,
        text_column=data_args.text_column,
        validation_split_percentage=data_args.validation_split_percentage,
        seed=seed,
        cache_dir=data_args.cache_dir,
    )


def pack(raw, tokenizer, data_args: DataArguments, training_args: JepaMlmTrainingArguments):
    """Tokenize once (cached) and pack into `[CLS] ... [SEP]` sequences of `max_seq_length`."""
    return tokenize_and_pack(
        raw,
        tokenizer,
        data_args.max_seq_length,
        text_column=data_args.text_column,
        num_proc=data_args.preprocessing_num_workers,
        main_process_first=training_args.main_process_first,
        max_chars_per_document=data_args.max_chars_per_document,
        load_from_cache_file=not data_args.overwrite_cache,
    )


def build_collator(
    config: JepaMlmConfig, data_args: DataArguments, tokenizer, seed: int
) -> DataCollatorForJepaMlm:
    """The masking of the objective: BERT masks always but for pure `jepa` in `blocks`; blocks when asked."""
    context = config.jepa_context if config.has_jepa else "none"
    return DataCollatorForJepaMlm(
        tokenizer=tokenizer,
        jepa_context=context,
        mlm=config.has_mlm or context == "shared",
        mlm_probability=data_args.mlm_probability,
        mask_replace_prob=data_args.mask_replace_prob,
        random_replace_prob=data_args.random_replace_prob,
        context_ratio_min=data_args.context_ratio_min,
        context_ratio_max=data_args.context_ratio_max,
        target_ratio_min=data_args.target_ratio_min,
        target_ratio_max=data_args.target_ratio_max,
        num_target_blocks=data_args.num_target_blocks,
        min_context_tokens=data_args.min_context_tokens,
        seed=seed,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def resolved_run_config(model_args, data_args, training_args, model_config: JepaMlmConfig) -> dict[str, Any]:
    """Everything needed to rerun: the arguments as the run saw them and the model config it built."""
    training = {k: _jsonable(v) for k, v in training_args.to_dict().items() if "token" not in k}
    return {
        "model_name_or_path": model_args.model_name_or_path,
        "model_config": _jsonable(model_config.to_diff_dict()),
        **{k: _jsonable(v) for k, v in asdict(data_args).items()},
        **training,
    }


def checkpoint_step(checkpoint: str) -> int:
    """The global step a checkpoint was saved at (its `trainer_state.json`)."""
    state = Path(checkpoint, "trainer_state.json")
    if not state.is_file():
        raise FileNotFoundError(
            f"cannot resume from {checkpoint}: it has no trainer_state.json (expected a folder written by the "
            "Trainer, such as <output_dir>/checkpoint-<step>)"
        )
    return int(json.loads(state.read_text())["global_step"])


def training_summary(
    trainer: JepaMlmTrainer, config: JepaMlmConfig, seq_len: int, wall_time: float, start_step: int = 0
) -> dict:
    """Tokens, estimated FLOPs, wall time and the logged trajectories of the run.

    `tokens_seen` and the FLOPs count every step from 0; `wall_time_seconds` and `tokens_per_second` are this
    process's, over the steps it trained (`global_step - start_step` when it resumed from a checkpoint)."""
    args = trainer.args
    steps = trainer.state.global_step
    tokens_per_step = (
        args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size * seq_len
    )
    tokens = steps * tokens_per_step
    tokens_this_run = (steps - start_step) * tokens_per_step
    flops_per_token = estimate_flops_per_token(config, seq_len)
    trajectory = logged_trajectory({"trainer_state": {"log_history": trainer.state.log_history}})
    return {
        "objective": config.objective,
        "jepa_context": config.jepa_context if config.has_jepa else None,
        "balance": config.balance if config.objective == "hybrid" else None,
        "num_parameters_encoder": sum(p.numel() for p in trainer.model.jepa_mlm.parameters()),
        "steps": steps,
        "sequence_length": seq_len,
        "global_batch_size": args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size,
        "tokens_seen": tokens,
        "estimated_train_flops": flops_per_token * tokens,
        "flops_formula": "modeling_jepa_mlm.training.trainer.estimate_flops_per_token (matmul FLOPs, 6N trained / 2N forward)",
        "resumed_from_step": start_step,
        "tokens_this_run": tokens_this_run,
        "wall_time_seconds": round(wall_time, 1),
        "tokens_per_second": round(tokens_this_run / wall_time, 1) if wall_time > 0 else None,
        "world_size": args.world_size,
        "trajectory": trajectory,
        "eval": [h for h in trainer.state.log_history if "eval_loss" in h],
    }


def export(trainer: JepaMlmTrainer, tokenizer, output_dir: str, which: str) -> None:
    """Save the encoder to publish (with its MLM head when it has one), the tokenizer, nothing else of training."""
    model: JepaMlmForPreTraining = trainer.accelerator.unwrap_model(trainer.model)
    encoder = model.export_encoder(which)
    if which == "online" and model.lm_head is not None:
        export_model = JepaMlmForMaskedLM(model.config)
        export_model.jepa_mlm.load_state_dict(encoder.state_dict())
        export_model.lm_head.load_state_dict(model.lm_head.state_dict())
    else:
        export_model = encoder
    export_model.config.architectures = [type(export_model).__name__]
    export_model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse, build, train, export. Returns the training summary."""
    model_args, data_args, training_args = parse_args(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if training_args.should_log else logging.WARNING,
    )
    set_seed(training_args.seed)  # before anything is built
    # The export at the end pushes once, with its card; the Trainer itself must not reach the Hub. A push that
    # cannot happen (no repository id, offline, no token) fails now, not after training.
    push = training_args.push_to_hub
    if push:
        check_repo_id(training_args.hub_model_id)
        check_hub_access(training_args.hub_token)
    training_args.push_to_hub = False

    last_checkpoint = None
    if training_args.resume_from_checkpoint is None and os.path.isdir(training_args.output_dir):
        last_checkpoint = get_last_checkpoint(training_args.output_dir)
        if last_checkpoint is not None:
            logger.info("resuming from %s", last_checkpoint)

    # 1. Data and tokenizer: every check that can fail does so before training starts.
    with training_args.main_process_first(desc="loading data"):
        raw = load_raw(data_args, training_args)
        tokenizer = build_tokenizer(data_args, raw, training_args.output_dir)
    model = build_model(model_args, tokenizer, data_args.max_seq_length)
    packed = pack(raw, tokenizer, data_args, training_args)
    eval_dataset = packed.get("validation") if training_args.eval_strategy != "no" else None
    if eval_dataset is not None and data_args.max_eval_samples is not None and not data_args.streaming:
        eval_dataset = eval_dataset.select(range(min(data_args.max_eval_samples, len(eval_dataset))))
    collator = build_collator(model.config, data_args, tokenizer, training_args.seed)
    eval_collator = None
    if data_args.eval_mlm_probability is not None:
        eval_collator = dataclasses.replace(collator, mlm_probability=data_args.eval_mlm_probability)
    logger.info(
        "objective=%s context=%s balance=%s, encoder %.1fM parameters",
        model.config.objective,
        model.config.jepa_context,
        model.config.balance,
        sum(p.numel() for p in model.jepa_mlm.parameters()) / 1e6,
    )

    # 2. Train.
    trainer = JepaMlmTrainer(
        model=model,
        args=training_args,
        train_dataset=packed["train"],
        eval_dataset=eval_dataset,
        data_collator=collator,
        eval_data_collator=eval_collator,
        processing_class=tokenizer,
    )
    resume_from = training_args.resume_from_checkpoint or last_checkpoint
    start_step = checkpoint_step(resume_from) if isinstance(resume_from, str) else 0
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    wall_time = time.perf_counter() - start

    # 3. Export the encoder, tokenizer, resolved configuration and the run's summary.
    summary = training_summary(trainer, model.config, data_args.max_seq_length, wall_time, start_step)
    if trainer.is_world_process_zero():
        out = training_args.output_dir
        export(trainer, tokenizer, out, training_args.export_encoder)
        trainer.save_state()
        training_args.push_to_hub = push  # recorded as asked
        run_config = resolved_run_config(model_args, data_args, training_args, model.config)
        Path(out, RUN_CONFIG_NAME).write_text(yaml.safe_dump(run_config, sort_keys=False))
        Path(out, SUMMARY_NAME).write_text(json.dumps(summary, indent=2))
        write_model_card(out, hub_model_id=training_args.hub_model_id)
        logger.info(
            "exported %s encoder to %s: %d steps, %.0f tokens/s",
            training_args.export_encoder,
            out,
            summary["steps"],
            summary["tokens_per_second"] or math.nan,
        )
        if push:
            push_to_hub(
                out,
                training_args.hub_model_id,
                private=bool(training_args.hub_private_repo),
                revision=training_args.hub_revision,
                token=training_args.hub_token,
                regenerate_card=False,
            )
    return summary


if __name__ == "__main__":
    main()
