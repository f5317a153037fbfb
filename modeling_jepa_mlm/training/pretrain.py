"""Pre-train a jepa-mlm encoder (hybrid JEPA + MLM, or the MLM baseline) with `JepaMlmTrainer`.

    python run_pretraining.py configs/hybrid.yaml [--max_steps 100 --output_dir out/x ...]
    accelerate launch run_pretraining.py configs/mlm.yaml
    python run_pretraining.py --dataset_name wikimedia/wikipedia --dataset_config_name 20231101.en ...

One YAML/JSON file gives every argument (model, data and training dataclasses share one namespace; the
`model_config` block goes straight into `JepaMlmConfig`); flags after it override the file. `--model_config
'{"num_hidden_layers": 2}'` updates the file's block key by key, and run_mlm.py's `--config_overrides
"num_hidden_layers=2,hidden_size=64"` is applied last (`PretrainedConfig.update_from_string`).

Re-running the command of a finished run trains nothing and says so; a larger `--max_steps` resumes it from its
last complete checkpoint; `--overwrite_output_dir` trains again from scratch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
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
from transformers import HfArgumentParser, PretrainedConfig, TrainerState, TrainingArguments, set_seed
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .. import JepaMlmConfig, JepaMlmForMaskedLM, JepaMlmForPreTraining
from ..files import RUN_CONFIG_NAME, SUMMARY_NAME, TRAINER_STATE_NAME
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

USAGE_EXAMPLES = (
    "give a config file and/or flags, e.g.\n"
    "  python run_pretraining.py configs/tiny_cpu.yaml            # a one-minute CPU run, no files needed\n"
    "  python run_pretraining.py configs/mlm.yaml --output_dir out/mlm\n"
    "  python run_pretraining.py --train_file corpus.txt --tokenizer_name bert-base-uncased --output_dir out/x\n"
    "see `python run_pretraining.py --help` for every flag"
)
# `--report_to` integrations whose package is not a dependency: the modules that provide them (any one
# suffices; transformers' TensorBoard callback takes tensorboard or tensorboardX) and how to install them.
REPORTER_PACKAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "tensorboard": (("tensorboard", "tensorboardX"), 'pip install "jepa-mlm[tensorboard]"'),
    "trackio": (("trackio",), 'pip install "jepa-mlm[trackio]"'),
    "wandb": (("wandb",), "pip install wandb"),
    "mlflow": (("mlflow",), "pip install mlflow"),
    "comet_ml": (("comet_ml",), "pip install comet_ml"),
}


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
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "run_mlm.py's convention, applied after model_config: comma-separated key=value pairs, e.g. "
            "'num_hidden_layers=2,hidden_size=64' (PretrainedConfig.update_from_string)."
        },
    )

    def model_config_dict(self) -> dict[str, Any]:
        """`model_config` as a dict (parsed from JSON when given on the command line)."""
        return _as_mapping(self.model_config)


def _as_mapping(value: dict | str | None) -> dict[str, Any]:
    """A `model_config` value as a dict: a mapping as is, a JSON object string parsed."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"--model_config must be a JSON object; got {value!r}: {err}") from err
    if not isinstance(value, dict):
        raise ValueError(f"model_config must be a mapping of JepaMlmConfig fields; got {value!r}")
    return dict(value)


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
    if not argv:  # argparse's convention for a usage error: a short usage and the message on stderr, status 2
        parser.exit(
            2,
            f"usage: {parser.prog} [CONFIG.yaml] [--flag value ...]\n{parser.prog}: error: no arguments; "
            f"{USAGE_EXAMPLES}\n",
        )
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
    # The command line's model_config updates the file's block key by key (as every other flag overrides one key).
    model_args.model_config = {
        **_as_mapping(defaults.get("model_config")),
        **_as_mapping(model_args.model_config),
    }
    return model_args, data_args, training_args


def check_reporters(report_to: list[str] | str | None) -> None:
    """Fail before any data is loaded when a `--report_to` logger's package is missing, naming what to install.

    Raises:
        ImportError: naming the integration and the install command (the package's extra where there is one).
    """
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        modules, install = REPORTER_PACKAGES.get(name, ((), ""))
        if modules and not any(importlib.util.find_spec(m) is not None for m in modules):
            raise ImportError(
                f"--report_to {name} needs the {modules[0]} package, which is not installed; install it with "
                f'`{install}` (or `pip install -e ".[{name}]"` from a clone), or pass --report_to none'
            )


def valid_config_keys() -> set[str]:
    """The keys a `model_config` block may hold: `JepaMlmConfig`'s arguments and `PretrainedConfig`'s own."""
    own = {
        name
        for name, param in inspect.signature(JepaMlmConfig.__init__).parameters.items()
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and name != "self"
    }
    base = {f.name for f in dataclasses.fields(PretrainedConfig)} | set(PretrainedConfig().to_dict())
    # Keyword arguments PretrainedConfig reads though they are not fields (num_labels sets id2label).
    return own | base | {"num_labels", "auto_map", "output_attentions", "torch_dtype"}


def check_config_keys(overrides: dict[str, Any]) -> None:
    """Unknown `model_config` keys fail (a typo would otherwise build the default and be saved in config.json).

    Raises:
        ValueError: naming the unknown keys and listing the valid ones.
    """
    valid = valid_config_keys()
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(
            f"model_config has unknown keys {unknown}; valid keys (JepaMlmConfig's fields and PretrainedConfig's "
            f"own): {', '.join(sorted(valid - {'_name_or_path', 'transformers_version', 'model_type'}))}"
        )


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
    """A fresh `JepaMlmForPreTraining` sized to the tokenizer, or a checkpoint; the tokenizer must fit it.

    The config is `model_config` (checked for unknown keys), then `config_overrides` (run_mlm.py's string form).
    """
    config = build_config(model_args, tokenizer, max_seq_length)
    if model_args.model_name_or_path is not None:
        model = JepaMlmForPreTraining.from_pretrained(model_args.model_name_or_path, config=config)
    else:
        model = JepaMlmForPreTraining(config)
    config = model.config
    check_tokenizer_fits(
        tokenizer, config.vocab_size, pad_token_id=config.pad_token_id, mask_token_id=config.mask_token_id
    )
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(
            f"max_seq_length={max_seq_length} exceeds the model's max_position_embeddings={config.max_position_embeddings}"
        )
    return model


def build_config(model_args: ModelArguments, tokenizer, max_seq_length: int) -> JepaMlmConfig:
    """`JepaMlmConfig` from the checkpoint or the tokenizer's sizes, `model_config` on top, then `config_overrides`.

    Raises:
        ValueError: an unknown key in `model_config` or `config_overrides`, or an invalid value.
    """
    overrides = model_args.model_config_dict()
    check_config_keys(overrides)
    if model_args.model_name_or_path is not None:
        config = JepaMlmConfig.from_pretrained(model_args.model_name_or_path, **overrides)
    else:
        overrides.setdefault("vocab_size", len(tokenizer))
        overrides.setdefault("pad_token_id", tokenizer.pad_token_id)
        overrides.setdefault("mask_token_id", tokenizer.mask_token_id)
        overrides.setdefault("max_position_embeddings", max(512, max_seq_length))
        config = JepaMlmConfig(**overrides)
    if model_args.config_overrides:
        pairs = dict(x.split("=", 1) for x in model_args.config_overrides.split(",") if "=" in x)
        check_config_keys(pairs)
        try:
            config.update_from_string(model_args.config_overrides)
        except ValueError as err:
            raise ValueError(
                f"--config_overrides {model_args.config_overrides!r} is not valid: {err}; accepted: "
                "comma-separated key=value pairs of existing config keys, e.g. 'num_hidden_layers=2,hidden_size=64'"
            ) from err
        config.validate()
    return config


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


def load_trainer_state(checkpoint: str | os.PathLike) -> TrainerState:
    """The `TrainerState` a checkpoint was saved with (its `trainer_state.json`).

    Raises:
        FileNotFoundError: no `trainer_state.json` (not a Trainer checkpoint, or one whose writing was cut short).
        ValueError: a `trainer_state.json` that is not valid JSON (cut short).
    """
    path = Path(checkpoint, TRAINER_STATE_NAME)
    if not path.is_file():
        raise FileNotFoundError(
            f"cannot resume from {checkpoint}: it has no {TRAINER_STATE_NAME} (expected a folder written by the "
            f"Trainer, such as <output_dir>/{PREFIX_CHECKPOINT_DIR}-<step>)"
        )
    try:
        return TrainerState.load_from_json(str(path))
    except (json.JSONDecodeError, TypeError) as err:
        raise ValueError(
            f"cannot resume from {checkpoint}: {path} is not a complete trainer state ({err})"
        ) from err


def _checkpoint_number(path: Path) -> int | None:
    prefix = f"{PREFIX_CHECKPOINT_DIR}-"
    suffix = path.name[len(prefix) :]
    return int(suffix) if path.name.startswith(prefix) and suffix.isdigit() and path.is_dir() else None


def last_complete_checkpoint(output_dir: str | os.PathLike) -> tuple[str, TrainerState] | None:
    """The newest checkpoint of `output_dir` that the Trainer finished writing, with its state; None if none.

    The Trainer writes `trainer_state.json` last (after the weights, optimizer, scheduler and RNG states), so a
    folder without a readable one was cut short (the process was killed while saving): it is skipped with a
    warning naming it, never deleted, and the previous checkpoint is used.
    """
    folders = [p for p in Path(output_dir).iterdir() if _checkpoint_number(p) is not None]
    for folder in sorted(folders, key=_checkpoint_number, reverse=True):
        try:
            return str(folder), load_trainer_state(folder)
        except (FileNotFoundError, ValueError) as err:
            logger.warning("skipping the incomplete checkpoint %s (left in place): %s", folder, err)
    return None


class RunCompleteError(RuntimeError):
    """The output folder already holds the finished run the command asks for."""


def check_not_complete(
    output_dir: str | os.PathLike, max_steps: int, checkpoint: tuple[str, TrainerState] | None
) -> None:
    """Refuse to train again into the export of a finished run.

    The run is complete when its export's `training_summary.json` or its last complete checkpoint reached
    `max_steps` (any export, for an epoch-based run). A larger `max_steps` with a checkpoint resumes instead.

    Raises:
        RunCompleteError: saying so and how to train again.
    """
    summary_path = Path(output_dir, SUMMARY_NAME)
    done_steps = None
    if summary_path.is_file():
        done_steps = int(json.loads(summary_path.read_text()).get("steps") or 0)
    if checkpoint is not None:
        done_steps = max(done_steps or 0, checkpoint[1].global_step)
    retrain = (
        "to train again, give a new --output_dir or pass --overwrite_output_dir (which trains from step 0 and "
        "replaces the export)"
    )
    if done_steps is not None and (max_steps <= 0 or done_steps >= max_steps) and summary_path.is_file():
        raise RunCompleteError(
            f"{output_dir} already holds the finished run ({done_steps} steps, max_steps={max_steps}); nothing "
            f"to train. To extend it, raise --max_steps (it resumes from the last checkpoint); {retrain}."
        )
    if checkpoint is not None and max_steps > 0 and checkpoint[1].global_step >= max_steps:
        raise RunCompleteError(
            f"{checkpoint[0]} is already at step {checkpoint[1].global_step} >= max_steps={max_steps}; nothing to "
            f"train. To extend the run, raise --max_steps; {retrain}."
        )
    if summary_path.is_file() and checkpoint is None:
        raise RunCompleteError(
            f"{output_dir} holds an export of {done_steps} steps and no checkpoint to extend it from to "
            f"max_steps={max_steps}; {retrain}."
        )


def make_readable(folder: str | os.PathLike) -> None:
    """Give the top-level files of `folder` the mode a plain `open()` would (0666 less the umask).

    safetensors writes its files with mode 0600, unlike every other file of an export."""
    umask = os.umask(0)
    os.umask(umask)
    for path in Path(folder).iterdir():
        if path.is_file() and path.suffix == ".safetensors":
            path.chmod(0o666 & ~umask)


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
    make_readable(output_dir)


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

    check_reporters(training_args.report_to)

    last_checkpoint = None
    if (
        training_args.resume_from_checkpoint is None
        and not training_args.overwrite_output_dir
        and os.path.isdir(training_args.output_dir)
    ):
        found = last_complete_checkpoint(training_args.output_dir)
        try:
            check_not_complete(training_args.output_dir, training_args.max_steps, found)
        except RunCompleteError as done:
            summary_path = Path(training_args.output_dir, SUMMARY_NAME)
            if not summary_path.is_file():  # a final checkpoint but no export: say so, train nothing
                raise
            logger.warning("%s", done)
            return json.loads(summary_path.read_text())
        if found is not None:
            last_checkpoint = found[0]
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
    if training_args.ddp_find_unused_parameters is None:
        # Every objective gives every trainable parameter a gradient at every step (tests/test_pretraining.py
        # checks it per objective), so DDP need not search the graph for unused ones.
        training_args.ddp_find_unused_parameters = False
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
    start_step = load_trainer_state(resume_from).global_step if isinstance(resume_from, str) else 0
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
