"""`JepaMlmTrainer`: transformers' `Trainer` plus the EMA target update, the balance's parameter group and the
objective's logging; `JepaMlmTrainingArguments` holds the EMA schedule beside the optimisation schedule."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import Trainer, TrainerCallback, TrainingArguments

from ..ema import EMA_SCHEDULES, ema_momentum

logger = logging.getLogger(__name__)

BALANCE_PREFIX = "balance."
# Per-step diagnostics of `JepaMlmPreTrainingOutput` averaged over each logging window.
LOGGED_OUTPUTS = ("mlm_loss", "mlm_accuracy", "jepa_loss", "balance_weight", "target_std", "prediction_std")
# The balance's gradient measurements of each optimizer step, per micro-batch, averaged likewise (hybrid only):
# the weighted norms of the two objectives' gradients at the encoder's states and the MLM share of their sum.
GRADIENT_LOGS = ("grad_norm_mlm", "grad_norm_jepa", "grad_share_mlm")
# Held-out diagnostics added to `evaluate()`'s metrics (as `eval_<name>`), averaged over the evaluation batches.
EVAL_OUTPUTS = ("mlm_loss", "mlm_accuracy", "jepa_loss")


class NonFiniteLossError(RuntimeError):
    """Raised when a training loss is NaN or infinite; the step's parameters are left untouched."""


@dataclass
class JepaMlmTrainingArguments(TrainingArguments):
    """`TrainingArguments` plus the EMA momentum schedule `m(t)` of the target encoder (see `ema.ema_momentum`)."""

    ema_momentum_start: float = field(
        default=0.996, metadata={"help": "EMA momentum at step 0 (I-JEPA: 0.996)."}
    )
    ema_momentum_end: float = field(default=1.0, metadata={"help": "EMA momentum at the last step."})
    ema_schedule: str = field(default="linear", metadata={"help": f"One of {', '.join(EMA_SCHEDULES)}."})
    # The packed dataset's `special_tokens_mask` is read by the collator, not by the model's forward.
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep columns the collator reads."})
    export_encoder: str = field(
        default="online",
        metadata={"help": "Which encoder the final export holds: 'online' (default) or the EMA 'target'."},
    )
    # transformers 5 dropped this flag of run_mlm.py; run_pretraining.py honours it (see `pretrain.main`).
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train from step 0 even when output_dir holds a finished run or checkpoints (by default a "
            "finished run is not trained again and an unfinished one resumes from its last checkpoint)."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ema_schedule not in EMA_SCHEDULES:
            raise ValueError(
                f"ema_schedule={self.ema_schedule!r} is not valid; accepted values: {', '.join(EMA_SCHEDULES)}"
            )
        for name in ("ema_momentum_start", "ema_momentum_end"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} is not valid; accepted values: a number in [0, 1]")
        # Both 0 is an explicit "no training": the export holds the initial weights (a random-initialisation
        # control); a lone 0 or a negative count is a mistake, not a request for the default epochs.
        no_training = self.max_steps == 0 and self.num_train_epochs == 0
        if not no_training and (
            self.max_steps == 0
            or self.max_steps < -1
            or (self.max_steps == -1 and self.num_train_epochs <= 0)
        ):
            raise ValueError(
                f"max_steps={self.max_steps} (num_train_epochs={self.num_train_epochs}) is not valid; accepted: "
                "max_steps > 0, or max_steps = -1 (the default) with num_train_epochs > 0, or both 0 to export the "
                "initial weights without training"
            )
        if self.export_encoder not in ("online", "target"):
            raise ValueError(
                f"export_encoder={self.export_encoder!r} is not valid; accepted values: online, target"
            )


class _AfterOptimizerStep(TrainerCallback):
    """Right after every optimizer step (before `global_step` is incremented, so before any checkpoint of that
    step): the EMA update of the target encoder, then the balance's measurements and running estimates."""

    def __init__(self, trainer: JepaMlmTrainer) -> None:
        self.trainer = trainer

    def on_optimizer_step(self, args, state, control, **kwargs):
        self.trainer.update_target_encoder(state.global_step)
        self.trainer.update_balance()


class JepaMlmTrainer(Trainer):
    """`Trainer` for `JepaMlmForPreTraining`.

    - After every optimizer step `t` (0-based), the target encoder takes one EMA step with momentum
      `m(t) = ema_momentum(t, max_steps, ...)`, a pure function of the step, so a resumed run continues exactly.
    - The balance parameters are never weight-decayed (`get_decay_parameter_names`).
    - After every optimizer step the balance's gradient measurements are read and, for `gradnorm` and
      `loss_scale`, folded into its running estimates (reduced over processes; see `update_balance`).
    - `mlm_loss`, `jepa_loss`, `balance_weight`, `target_std`, `prediction_std` (the collapse watch), the gradient
      shares (`grad_norm_mlm`, `grad_norm_jepa`, `grad_share_mlm`), `ema_momentum` and `tokens_per_second` are
      logged at every logging step, averaged over the window.
    - A NaN or infinite loss raises `NonFiniteLossError` before the backward pass, so neither the parameters nor
      the checkpoints written so far are touched.
    Everything else (checkpointing the target encoder and the balance, running estimates included, with the
    model, optimizer, scheduler, RNG and data position; resuming) is the Trainer's own.
    """

    def __init__(self, *args, eval_data_collator=None, **kwargs) -> None:
        """As `Trainer`; `eval_data_collator` (optional) batches the evaluation set instead of `data_collator`, so
        held-out masked-token cross-entropy can be measured at one fixed masking rate whatever the training one."""
        super().__init__(*args, **kwargs)
        self.eval_data_collator = eval_data_collator
        self.add_callback(_AfterOptimizerStep(self))
        balance = getattr(self._pretraining_model(), "balance", None)
        if balance is not None:
            balance.start_recording()
        self._window: dict[str, torch.Tensor] = {}
        self._window_steps = 0
        self._window_tokens: torch.Tensor | int = 0
        self._window_start = time.perf_counter()
        self._flops_per_token: dict[int, float] = {}
        self._eval_sums: dict[str, torch.Tensor] = {}
        self._eval_batches = 0

    def _pretraining_model(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def current_ema_momentum(self, step: int | None = None) -> float:
        """`m(t)` for optimizer step `t` (the current one by default)."""
        args: JepaMlmTrainingArguments = self.args
        step = self.state.global_step if step is None else step
        return ema_momentum(
            step, self.state.max_steps, args.ema_momentum_start, args.ema_momentum_end, args.ema_schedule
        )

    def update_target_encoder(self, step: int) -> None:
        """One EMA step of the target encoder with momentum `m(step)`; a no-op for the MLM baseline."""
        model = self._pretraining_model()
        if getattr(model, "target_encoder", None) is not None:
            model.update_target_encoder_(self.current_ema_momentum(step))

    def update_balance(self) -> None:
        """Read the balance's gradient measurements of the step just taken (one per micro-batch): add the weighted
        norms and the MLM share to the logging window, and feed a stateful balance (`gradnorm`, `loss_scale`) the
        step's unweighted norms and losses, averaged over micro-batches and then over processes, so that every
        rank holds the same running estimates."""
        balance = getattr(self._pretraining_model(), "balance", None)
        measured = balance.measurements() if balance is not None else None
        if measured is None:
            return
        for key in GRADIENT_LOGS:
            value = measured[key].sum()
            self._window[key] = self._window[key] + value if key in self._window else value
        if balance.is_stateful:
            keys = ("raw_grad_jepa", "raw_grad_mlm", "jepa_loss", "mlm_loss")
            step = self.accelerator.reduce(torch.stack([measured[k].mean() for k in keys]), reduction="mean")
            balance.update_(step[:2], step[2:])

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        """transformers' rule (no decay on biases and norms), and never on the balance: the Trainer's own
        `create_optimizer` then puts the balance parameters in its weight-decay-0 group."""
        return [n for n in super().get_decay_parameter_names(model) if not _is_balance(n)]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        loss = outputs.loss
        if not torch.isfinite(loss.detach()).item():
            parts = {k: float(outputs[k].detach()) for k in LOGGED_OUTPUTS if outputs.get(k) is not None}
            raise NonFiniteLossError(
                f"non-finite training loss {float(loss.detach())} at step {self.state.global_step} ({parts}); training "
                f"stopped before the backward pass. Checkpoints already in {self.args.output_dir} are intact; "
                "lower the learning rate, raise warmup, or check the data, then resume from the last checkpoint."
            )
        if model.training:
            for key in LOGGED_OUTPUTS:
                value = outputs.get(key)
                if value is not None:
                    value = value.detach().float()
                    self._window[key] = self._window[key] + value if key in self._window else value
            self._window_steps += 1
            # A tensor sum, not `int(...)`: counting tokens must not wait for the device every step. The Trainer's
            # own counter (`include_num_input_tokens_seen`, `state.num_input_tokens_seen`) gathers across processes
            # and calls `.item()` at every micro-batch, a device sync and a collective per step, so it is not used.
            tokens = (
                inputs["attention_mask"].sum() if "attention_mask" in inputs else inputs["input_ids"].numel()
            )
            self._window_tokens = self._window_tokens + tokens
        else:
            for key in EVAL_OUTPUTS:
                value = outputs.get(key)
                if value is not None:
                    value = value.detach().float()
                    self._eval_sums[key] = self._eval_sums[key] + value if key in self._eval_sums else value
            self._eval_batches += 1
        return (loss, outputs) if return_outputs else loss

    def get_eval_dataloader(self, eval_dataset=None):
        if self.eval_data_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        train_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = train_collator

    def evaluation_loop(
        self,
        dataloader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ):
        """The Trainer's loop, plus `<prefix>_mlm_loss`, `<prefix>_mlm_accuracy` and `<prefix>_jepa_loss`: the
        objective's parts on the held-out split (masks are a pure function of the batch, so every evaluation of
        a run sees the same masked tokens), averaged over batches and processes."""
        self._eval_sums, self._eval_batches = {}, 0
        output = super().evaluation_loop(
            dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
        )
        if self._eval_batches:
            keys = sorted(self._eval_sums)
            first = self._eval_sums[keys[0]]
            count = torch.as_tensor(float(self._eval_batches), device=first.device)
            stacked = self.accelerator.reduce(
                torch.stack([self._eval_sums[k] for k in keys] + [count]), reduction="sum"
            )
            for i, key in enumerate(keys):
                output.metrics[f"{metric_key_prefix}_{key}"] = round(float(stacked[i] / stacked[-1]), 6)
        self._eval_sums, self._eval_batches = {}, 0
        return output

    def floating_point_ops(self, inputs: dict[str, torch.Tensor]) -> int:
        """Training FLOPs of one batch for the Trainer's `total_flos`: `estimate_flops_per_token` x tokens.

        The default (`6 x parameters x tokens`, recounting the parameters every step) would count the frozen
        target encoder as trained and the vocabulary projection at every position."""
        ids = inputs["input_ids"]
        seq_len = ids.shape[-1]
        if seq_len not in self._flops_per_token:
            self._flops_per_token[seq_len] = estimate_flops_per_token(
                self._pretraining_model().config, seq_len
            )
        return int(self._flops_per_token[seq_len] * ids.numel())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the objective's window averages, the EMA momentum and the throughput to training logs."""
        if "loss" in logs and self._window_steps:
            keys = sorted(self._window)
            first = self._window[keys[0]]
            tokens = torch.as_tensor(self._window_tokens, device=first.device).to(first.dtype)
            stacked = torch.stack([self._window[k] for k in keys] + [tokens])
            stacked = self.accelerator.reduce(stacked, reduction="sum")
            world = self.accelerator.num_processes
            for i, key in enumerate(keys):
                mean = float(stacked[i]) / (self._window_steps * world)
                # Gradient norms at the encoder's states can be ~1e-6: significant figures, not decimals.
                logs[key] = float(f"{mean:.6g}") if key in GRADIENT_LOGS else round(mean, 6)
            elapsed = time.perf_counter() - self._window_start
            logs["tokens_per_second"] = round(float(stacked[-1]) / max(elapsed, 1e-9), 1)
            logs["ema_momentum"] = self.current_ema_momentum()
            self._window, self._window_steps, self._window_tokens = {}, 0, 0
            self._window_start = time.perf_counter()
        super().log(logs, start_time)


def _is_balance(name: str) -> bool:
    return name.startswith(BALANCE_PREFIX) or f".{BALANCE_PREFIX}" in name


def estimate_flops_per_token(config, seq_len: int) -> float:
    """Training FLOPs per token of one step of the objective, counting matmuls only (Kaplan et al. 2020):
    `6 N` per token for a trained pass (forward + backward), `2 N` for a forward-only pass, plus attention
    `12 L_layers s d` (trained) / `4 L_layers s d` (forward), with `N` the non-embedding matmul parameters.
    The vocabulary projection runs only at MLM positions (15 % of tokens).

    Per step: MLM pass trained; `blocks` adds a trained context pass over about 75 % of tokens and a forward-only
    target pass; `shared` adds a forward-only target pass. The predictor is counted at its size.
    """
    d, layers = config.hidden_size, config.num_hidden_layers
    n_layer = layers * (4 * d * d + 2 * d * config.intermediate_size)
    attn = 4 * layers * seq_len * d  # forward: QK^T and AV, s d MACs each per token, 2 flops per MAC
    fwd = 2 * n_layer + attn
    head = 2 * (d * d + d * config.vocab_size) * 0.15
    total = 0.0
    if config.has_mlm or config.jepa_context == "shared":
        total += 3 * fwd + (3 * head if config.has_mlm else 0)
    if config.has_jepa:
        p, pl = config.predictor_hidden_size, config.predictor_num_hidden_layers
        n_pred = pl * (4 * p * p + 2 * p * config.predictor_intermediate_size) + 2 * d * p
        total += fwd  # target encoder, forward only
        if config.jepa_context == "blocks":
            total += 3 * fwd * 0.75  # context pass over the context block
            # predictor over context (~75 %) + one target block (~17 %) per block, K = 2 blocks
            total += 3 * 2 * n_pred * 2 * 0.92
        else:
            total += 3 * 2 * n_pred
    return total


__all__ = [
    "GRADIENT_LOGS",
    "JepaMlmTrainer",
    "JepaMlmTrainingArguments",
    "NonFiniteLossError",
    "estimate_flops_per_token",
]
