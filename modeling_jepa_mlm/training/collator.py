"""`DataCollatorForJepaMlm`: pads a list of tokenized examples and samples the MLM and JEPA masks of a batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from .masking import (
    bert_mask_tokens,
    check_positive_int,
    check_probability,
    check_ratio_range,
    sample_block_masks,
    seeded_generator,
)

logger = logging.getLogger(__name__)

JEPA_CONTEXT_MODES = ("blocks", "shared", "none")


def _as_list(values: Any) -> list[int]:
    """A list of python ints from a list, tuple, numpy array or tensor."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


@dataclass
class DataCollatorForJepaMlm:
    """Batch maker for `JepaMlmForPreTraining`: padding, BERT masking and I-JEPA block masks.

    Returns (all (B, L) unless said):
        `input_ids` int64, the BERT-masked sequence (the clean one when `mlm=False`);
        `labels` int64, the original id at MLM-selected positions, -100 elsewhere;
        `attention_mask` int64, 1 for real tokens, 0 for padding;
        `clean_input_ids` int64, the uncorrupted sequence;
        and in `blocks` mode only, `context_mask` bool (B, L) and `target_masks` bool (B, K, L).

    MLM selection and block targets never fall on special tokens or padding. In `blocks` mode the
    context is the context block minus every target block, plus the real special tokens (`[CLS]`,
    `[SEP]`, and any `[UNK]`): they carry no content to predict, and keeping them gives the context pass
    the same sequence frame as the full passes. In `shared` mode the JEPA targets are the MLM-selected
    positions (`labels != -100`); `none` is the MLM baseline. Both return only the first four keys.

    Reproducibility and exact resume: the masks of a batch are a pure function of
    `(seed, epoch, the padded clean input_ids of the batch)`: each call seeds its own generators with
    a hash of those (`seeded_generator`), one stream for the BERT masks and one for the blocks, so the
    BERT masks are identical across `jepa_context` modes and between the hybrid and the MLM baseline.
    The collator keeps no state between calls, so the masks do not depend on how many batches were
    collated before, on dataloader workers, on `accelerate.skip_first_batches` skipping fetched or
    unfetched batches, or on the process: a resumed run that replays the Trainer's data order (seeded
    sampler, restored epoch and step) gets identical masks. Different epochs reshuffle the data, so a
    sequence meets new batch-mates and new masks (dynamic masking, Liu et al. 2019); when the order
    repeats across epochs (no shuffling), call `set_epoch(epoch)` from a callback to renew them.

    Args:
        tokenizer: gives `pad_token_id`, `mask_token_id`, the special ids, `len` (random replacements are
            drawn from its non-special ids) and `padding_side`.
        jepa_context: `blocks`, `shared` or `none`.
        mlm: whether to BERT-mask `input_ids`; `False` (objective `jepa` with blocks) returns the clean
            ids and all-(-100) labels.
        mlm_probability, mask_replace_prob, random_replace_prob: BERT masking (15 %, 80 % / 10 % / 10 %).
        context_ratio_min, context_ratio_max: share of the real non-special tokens in the context block.
        target_ratio_min, target_ratio_max: share of the real non-special tokens in each target block.
        num_target_blocks: K.
        min_context_tokens: the fewest context-block tokens left once the targets are removed.
        seed: the masking seed.
        pad_to_multiple_of: round the padded length up to a multiple of this.
    """

    tokenizer: PreTrainedTokenizerBase
    jepa_context: str = "blocks"
    mlm: bool = True
    mlm_probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    context_ratio_min: float = 0.65
    context_ratio_max: float = 0.85
    target_ratio_min: float = 0.10
    target_ratio_max: float = 0.25
    num_target_blocks: int = 2
    min_context_tokens: int = 4
    seed: int = 42
    pad_to_multiple_of: int | None = None
    epoch: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.jepa_context not in JEPA_CONTEXT_MODES:
            raise ValueError(
                f"jepa_context={self.jepa_context!r} is not valid; accepted values: {', '.join(JEPA_CONTEXT_MODES)}"
            )
        if not self.mlm and self.jepa_context != "blocks":
            raise ValueError(
                f"mlm=False needs jepa_context='blocks' (got {self.jepa_context!r}): 'shared' takes its JEPA targets "
                "from the MLM-selected positions and 'none' has no other objective"
            )
        for name in ("mask_token", "pad_token"):
            if getattr(self.tokenizer, f"{name}_id") is None:
                raise ValueError(f"the tokenizer has no {name}; accepted: a tokenizer with {name} set")
        check_probability("mlm_probability", self.mlm_probability, allow_zero=False)
        check_probability("mask_replace_prob", self.mask_replace_prob)
        check_probability("random_replace_prob", self.random_replace_prob)
        if self.mask_replace_prob + self.random_replace_prob > 1.0 + 1e-9:
            raise ValueError(
                f"mask_replace_prob + random_replace_prob = {self.mask_replace_prob + self.random_replace_prob} is "
                "not valid; accepted values: a sum <= 1"
            )
        check_ratio_range("context_ratio_min/context_ratio_max", self.context_ratio)
        check_ratio_range("target_ratio_min/target_ratio_max", self.target_ratio)
        check_positive_int("num_target_blocks", self.num_target_blocks)
        check_positive_int("min_context_tokens", self.min_context_tokens)
        if self.pad_to_multiple_of is not None:
            check_positive_int("pad_to_multiple_of", self.pad_to_multiple_of)
        self._special_ids = sorted(set(self.tokenizer.all_special_ids))

    @property
    def context_ratio(self) -> tuple[float, float]:
        return (self.context_ratio_min, self.context_ratio_max)

    @property
    def target_ratio(self) -> tuple[float, float]:
        return (self.target_ratio_min, self.target_ratio_max)

    def set_epoch(self, epoch: int) -> None:
        """Mix `epoch` into the mask seeds (only needed when the data order repeats across epochs)."""
        self.epoch = int(epoch)

    def _pad(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """Pad `input_ids`, `attention_mask`, `special_tokens_mask` to the longest example (rounded up)."""
        if len(examples) == 0:
            raise ValueError("cannot collate an empty list of examples")
        missing = [i for i, ex in enumerate(examples) if "input_ids" not in ex]
        if missing:
            raise ValueError(f"examples {missing[:5]} have no 'input_ids'; keys found: {sorted(examples[0])}")
        ids = [_as_list(ex["input_ids"]) for ex in examples]
        length = max(len(x) for x in ids)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        left = self.tokenizer.padding_side == "left"

        def column(key: str, default: Callable[[list[int]], list[int]]) -> list[list[int]]:
            rows = []
            for i, (ex, x) in enumerate(zip(examples, ids, strict=True)):
                rows.append(default(x) if ex.get(key) is None else _as_list(ex[key]))
                if len(rows[-1]) != len(x):
                    raise ValueError(
                        f"example {i}: {key} has {len(rows[-1])} entries but input_ids has {len(x)}"
                    )
            return rows

        def pad(rows: list[list[int]], value: int) -> torch.Tensor:
            """(B, length) int64; one `torch.tensor` call on padded lists is far faster than a tensor per row."""
            fills = [[value] * (length - len(row)) for row in rows]
            return torch.tensor(
                [f + r if left else r + f for r, f in zip(rows, fills, strict=True)], dtype=torch.long
            )

        special_ids = set(self._special_ids)
        attention_mask = pad(column("attention_mask", lambda x: [1] * len(x)), 0)
        special = pad(column("special_tokens_mask", lambda x: [int(t in special_ids) for t in x]), 1)
        return {
            "input_ids": pad(ids, self.tokenizer.pad_token_id),
            "attention_mask": attention_mask,
            # Padding, added here or already inside an example (attention 0), is never selectable.
            "special_tokens_mask": special.bool() | (attention_mask == 0),
        }

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """Collate `examples` (each with `input_ids`, optionally `attention_mask`, `special_tokens_mask`)."""
        padded = self._pad(examples)
        clean_ids, attention_mask = padded["input_ids"], padded["attention_mask"]
        never_masked = padded["special_tokens_mask"]  # (B, L) special tokens and padding
        batch_key = str(tuple(clean_ids.shape)).encode() + clean_ids.numpy().tobytes()
        if self.mlm:
            input_ids, labels = bert_mask_tokens(
                clean_ids,
                never_masked,
                vocab_size=len(self.tokenizer),
                mask_token_id=self.tokenizer.mask_token_id,
                generator=seeded_generator(self.seed, "mlm", self.epoch, batch_key),
                mlm_probability=self.mlm_probability,
                mask_replace_prob=self.mask_replace_prob,
                random_replace_prob=self.random_replace_prob,
                special_token_ids=self._special_ids,
            )
        else:
            input_ids, labels = clean_ids.clone(), torch.full_like(clean_ids, -100)
        batch = {
            "input_ids": input_ids,
            "labels": labels,
            "attention_mask": attention_mask,
            "clean_input_ids": clean_ids,
        }
        if self.jepa_context == "blocks":
            context_mask, target_masks = sample_block_masks(
                ~never_masked,
                context_ratio=self.context_ratio,
                target_ratio=self.target_ratio,
                num_target_blocks=self.num_target_blocks,
                min_context_tokens=self.min_context_tokens,
                generator=seeded_generator(self.seed, "blocks", self.epoch, batch_key),
            )
            real_special = never_masked & attention_mask.bool()
            batch["context_mask"] = context_mask | real_special  # (B, L)
            batch["target_masks"] = target_masks  # (B, K, L)
        return batch
