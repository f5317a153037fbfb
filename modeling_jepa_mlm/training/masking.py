"""Pure, seeded masking samplers: BERT's 80/10/10 token corruption and I-JEPA's 1-D multi-block masks."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import torch

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100


def check_probability(field: str, value: float, *, allow_zero: bool = True, allow_one: bool = True) -> None:
    """Raise `ValueError` naming `field` unless `value` is a probability in [0, 1] (ends as allowed)."""
    low_ok = value >= 0.0 if allow_zero else value > 0.0
    high_ok = value <= 1.0 if allow_one else value < 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low_ok and high_ok):
        interval = f"{'[' if allow_zero else '('}0, 1{']' if allow_one else ')'}"
        raise ValueError(f"{field}={value!r} is not valid; accepted values: a number in {interval}")


def check_ratio_range(field: str, ratio_range: Sequence[float]) -> tuple[float, float]:
    """Validate a `(min, max)` block ratio with `0 < min <= max <= 1`; return it as a tuple of floats."""
    if len(ratio_range) != 2:
        raise ValueError(f"{field}={ratio_range!r} is not valid; accepted values: a pair (min, max)")
    low, high = ratio_range
    for name, value in ((f"{field}[0] (min)", low), (f"{field}[1] (max)", high)):
        check_probability(name, value, allow_zero=False)
    if low > high:
        raise ValueError(
            f"{field}={tuple(ratio_range)!r} is not valid; accepted values: min <= max, both in (0, 1]"
        )
    return float(low), float(high)


def check_positive_int(field: str, value: int) -> None:
    """Raise `ValueError` naming `field` unless `value` is an integer > 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{field}={value!r} is not valid; accepted values: an integer > 0")


def seeded_generator(seed: int, *parts: int | str | bytes) -> torch.Generator:
    """A CPU `torch.Generator` seeded by a 63-bit BLAKE2b hash of `(seed, *parts)`.

    Hashing (rather than `seed + offset`) keeps streams with different `parts` (a salt, an epoch, the
    bytes of a batch) statistically independent, as splittable RNGs do (Salmon et al. 2011, "Parallel
    random numbers: as easy as 1, 2, 3").
    """
    digest = hashlib.blake2b(str(seed).encode(), digest_size=8)
    for part in parts:
        digest.update(b"\x00")
        digest.update(part if isinstance(part, bytes) else str(part).encode())
    return torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") & (2**63 - 1))


def bert_mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    *,
    vocab_size: int,
    mask_token_id: int,
    generator: torch.Generator | None = None,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    special_token_ids: Sequence[int] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM corruption (Devlin et al. 2019, section 3.1 and appendix A.1).

    Each position `t` with `special_tokens_mask[t] = False` is selected independently with probability
    `p = mlm_probability` (Bernoulli, as transformers' `DataCollatorForLanguageModeling`). A selected token
    is replaced by `[MASK]` with probability `mask_replace_prob` (0.8), by a token drawn uniformly from
    the non-special vocabulary `{0 .. vocab_size - 1} minus special_token_ids` with probability
    `random_replace_prob` (0.1), and kept otherwise (0.1). One uniform `u` per selected position decides:
    `u < 0.8 -> [MASK]`, `0.8 <= u < 0.9 -> random`, else kept.

    Args:
        input_ids: (B, L) int64 clean token ids.
        special_tokens_mask: (B, L) bool, True where a token must never be selected (special tokens and
            padding).
        vocab_size: number of token ids random replacements are drawn from (the tokenizer's `len`).
        mask_token_id: id of `[MASK]`.
        generator: the CPU generator all draws come from (`None`: torch's global RNG).
        mlm_probability: selection probability `p`, in (0, 1].
        mask_replace_prob: share of selected tokens replaced by `[MASK]`, in [0, 1].
        random_replace_prob: share replaced by a random token; `mask_replace_prob + random_replace_prob <= 1`.
        special_token_ids: ids never drawn as random replacements.

    Returns:
        masked_ids: (B, L) int64, the corrupted sequence.
        labels: (B, L) int64, the original id at selected positions and -100 elsewhere.
    """
    check_probability("mlm_probability", mlm_probability, allow_zero=False)
    check_probability("mask_replace_prob", mask_replace_prob)
    check_probability("random_replace_prob", random_replace_prob)
    if mask_replace_prob + random_replace_prob > 1.0 + 1e-9:
        raise ValueError(
            f"mask_replace_prob + random_replace_prob = {mask_replace_prob} + {random_replace_prob} is not valid; "
            "accepted values: a sum <= 1 (the rest of the selected tokens are kept)"
        )
    if input_ids.shape != special_tokens_mask.shape:
        raise ValueError(
            f"input_ids {tuple(input_ids.shape)} and special_tokens_mask {tuple(special_tokens_mask.shape)} "
            "must have the same shape"
        )
    candidates = torch.arange(vocab_size, dtype=torch.long)
    candidates = candidates[
        ~torch.isin(candidates, torch.as_tensor(list(special_token_ids), dtype=torch.long))
    ]
    if candidates.numel() == 0:
        raise ValueError(
            f"vocab_size={vocab_size} leaves no non-special token to draw random replacements from"
        )

    selectable = ~special_tokens_mask.bool()
    selected = (torch.rand(input_ids.shape, generator=generator) < mlm_probability) & selectable  # (B, L)
    action = torch.rand(input_ids.shape, generator=generator)  # (B, L), one uniform per position
    random_ids = candidates[torch.randint(candidates.numel(), input_ids.shape, generator=generator)]

    to_mask = selected & (action < mask_replace_prob)
    to_random = selected & (action >= mask_replace_prob) & (action < mask_replace_prob + random_replace_prob)
    masked_ids = input_ids.clone()
    masked_ids[to_mask] = mask_token_id
    masked_ids[to_random] = random_ids[to_random]
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return masked_ids, labels


def sample_spans(
    valid_mask: torch.Tensor,
    ratio_range: tuple[float, float],
    num_spans: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Contiguous 1-D blocks over the valid tokens of each sequence (I-JEPA's block sampler in 1-D).

    For every sequence `b` with `n_b` valid tokens and every block `k`, a scale `s ~ U[r_min, r_max]`
    gives the block length `len = clamp(round(s * n_b), 1, n_b)` and a start `start ~ U{0 .. n_b - len}`
    (I-JEPA, Assran et al. 2023, `src/masks/multiblock.py`, with a 1-D "aspect ratio" of 1). Positions
    are counted among the valid tokens only (rank `r_t = #valid tokens before t`), so a block never
    covers an invalid token and skips over any inside the sequence. Sequences with no valid token get
    empty blocks.

    Args:
        valid_mask: (B, L) bool, True where a token may belong to a block.
        ratio_range: `(r_min, r_max)`, fractions of `n_b`, `0 < r_min <= r_max <= 1`.
        num_spans: K, blocks per sequence.
        generator: the CPU generator all draws come from.

    Returns:
        (B, K, L) bool, True at the tokens of block k.
    """
    low, high = check_ratio_range("ratio_range", ratio_range)
    check_positive_int("num_spans", num_spans)
    valid_mask = valid_mask.bool()
    batch_size = valid_mask.shape[0]
    n = valid_mask.sum(-1, keepdim=True).to(torch.float64)  # (B, 1)
    scale = low + (high - low) * torch.rand(batch_size, num_spans, generator=generator, dtype=torch.float64)
    length = torch.minimum(torch.round(scale * n).clamp_min(1.0), n)  # (B, K)
    start = torch.floor(
        torch.rand(batch_size, num_spans, generator=generator, dtype=torch.float64) * (n - length + 1)
    )
    rank = (valid_mask.cumsum(-1) - 1).unsqueeze(1)  # (B, 1, L), rank of each valid token
    start, end = start.long().unsqueeze(-1), (start + length).long().unsqueeze(-1)  # (B, K, 1)
    return valid_mask.unsqueeze(1) & (rank >= start) & (rank < end)


def sample_block_masks(
    valid_mask: torch.Tensor,
    *,
    context_ratio: tuple[float, float] = (0.65, 0.85),
    target_ratio: tuple[float, float] = (0.10, 0.25),
    num_target_blocks: int = 2,
    min_context_tokens: int = 4,
    max_tries: int = 20,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """I-JEPA's multi-block masking in 1-D: one context block and K target blocks, disjoint.

    Per sequence (Assran et al. 2023, "Self-Supervised Learning from Images with a Joint-Embedding
    Predictive Architecture", section 3 and `src/masks/multiblock.py`): K target blocks of
    `target_ratio` of the valid tokens each (they may overlap one another), one context block of
    `context_ratio`, and the target tokens removed from the context: `C = B_ctx minus (T_1 or ... or T_K)`.
    A sequence whose `|C| < min_context_tokens` is redrawn (all its blocks) up to `max_tries` times; if it
    still falls short (only possible for very short sequences) the draw with the largest context is kept
    and a warning is logged.

    Args:
        valid_mask: (B, L) bool, True at tokens that may be context or target (real, non-special tokens).
        context_ratio: `(min, max)` share of the valid tokens covered by the context block.
        target_ratio: `(min, max)` share of the valid tokens covered by each target block.
        num_target_blocks: K.
        min_context_tokens: the fewest context tokens left after removing the targets.
        max_tries: redraws of a sequence whose context is too small.
        generator: the CPU generator all draws come from.

    Returns:
        context_mask: (B, L) bool, the context tokens, disjoint from every target block.
        target_masks: (B, K, L) bool, the tokens of target block k.
    """
    check_ratio_range("context_ratio", context_ratio)
    check_ratio_range("target_ratio", target_ratio)
    check_positive_int("num_target_blocks", num_target_blocks)
    check_positive_int("min_context_tokens", min_context_tokens)
    check_positive_int("max_tries", max_tries)
    valid_mask = valid_mask.bool()

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        targets = sample_spans(valid_mask, target_ratio, num_target_blocks, generator)  # (B, K, L)
        context = sample_spans(valid_mask, context_ratio, 1, generator)[:, 0] & ~targets.any(1)  # (B, L)
        return context, targets

    context_mask, target_masks = draw()
    has_valid = valid_mask.any(-1)
    for _ in range(max_tries - 1):
        short = (context_mask.sum(-1) < min_context_tokens) & has_valid  # (B,)
        if not short.any():
            break
        context, targets = draw()
        better = short & (context.sum(-1) > context_mask.sum(-1))
        context_mask = torch.where(better[:, None], context, context_mask)
        target_masks = torch.where(better[:, None, None], targets, target_masks)
    short = (context_mask.sum(-1) < min_context_tokens) & has_valid
    if short.any():
        logger.warning(
            "%d of %d sequences keep fewer than min_context_tokens=%d context tokens after %d draws "
            "(shortest has %d valid tokens); lower min_context_tokens or use longer sequences",
            int(short.sum()),
            len(short),
            min_context_tokens,
            max_tries,
            int(valid_mask.sum(-1)[short].min()),
        )
    return context_mask, target_masks
