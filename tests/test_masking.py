"""Statistics and invariants of the pure masking samplers (no tokenizer, no model)."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from modeling_jepa_mlm.training.masking import (
    IGNORE_INDEX,
    bert_mask_tokens,
    sample_block_masks,
    sample_spans,
    seeded_generator,
)

SPECIAL_IDS = (0, 1, 2, 3, 4)  # [PAD] [UNK] [CLS] [SEP] [MASK]
MASK_ID, PAD_ID, CLS_ID, SEP_ID = 4, 0, 2, 3


def make_batch(batch_size: int, length: int, vocab_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`[CLS] tokens [SEP] [PAD]...` rows of random real lengths; returns (ids, never_mask)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(len(SPECIAL_IDS), vocab_size, (batch_size, length), generator=g)
    real = torch.randint(3, length + 1, (batch_size,), generator=g)
    pos = torch.arange(length)
    ids[pos >= real[:, None]] = PAD_ID
    ids[:, 0] = CLS_ID
    ids[torch.arange(batch_size), real - 1] = SEP_ID
    return ids, torch.isin(ids, torch.tensor(SPECIAL_IDS))


def within_sigmas(observed: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    """|observed share - p| within `sigmas` binomial standard deviations of n trials."""
    return abs(observed - p) <= sigmas * math.sqrt(p * (1 - p) / n)


def is_sized_in_range(size: torch.Tensor, n: torch.Tensor, low: float, high: float) -> bool:
    """Block lengths `clamp(round(s n), 1, n)` with `s in [low, high]` lie between the ends' lengths."""
    n = n.to(torch.float64)
    return bool(
        ((size >= torch.round(low * n).clamp(min=1)) & (size <= torch.round(high * n).clamp(min=1))).all()
    )


def test_bert_masking_rate_and_80_10_10_split() -> None:
    vocab_size = 1000
    ids, never = make_batch(1600, 128, vocab_size, seed=0)
    masked, labels = bert_mask_tokens(
        ids,
        never,
        vocab_size=vocab_size,
        mask_token_id=MASK_ID,
        generator=torch.Generator().manual_seed(1),
        special_token_ids=SPECIAL_IDS,
    )
    selected = labels != IGNORE_INDEX
    n_selectable = int((~never).sum())
    assert n_selectable > 100_000
    assert not selected[never].any(), "special or padding token selected"
    assert within_sigmas(selected.sum().item() / n_selectable, 0.15, n_selectable)
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(masked[~selected], ids[~selected]), "an unselected token changed"

    n = int(selected.sum())
    to_mask = masked[selected] == MASK_ID
    unchanged = masked[selected] == ids[selected]
    to_random = ~to_mask & ~unchanged
    # A random draw equals the original token with probability 1 / #candidates.
    collision = 0.1 / (vocab_size - len(SPECIAL_IDS))
    assert within_sigmas(to_mask.sum().item() / n, 0.8, n)
    assert within_sigmas(to_random.sum().item() / n, 0.1 - collision, n)
    assert within_sigmas(unchanged.sum().item() / n, 0.1 + collision, n)
    assert not torch.isin(masked[selected & (masked != MASK_ID)], torch.tensor(SPECIAL_IDS)).any()


def test_random_replacements_are_uniform_over_non_special_vocabulary() -> None:
    vocab_size = 20
    ids, never = make_batch(400, 96, vocab_size, seed=2)
    masked, labels = bert_mask_tokens(
        ids,
        never,
        vocab_size=vocab_size,
        mask_token_id=MASK_ID,
        generator=torch.Generator().manual_seed(3),
        mlm_probability=1.0,
        mask_replace_prob=0.0,
        random_replace_prob=1.0,
        special_token_ids=SPECIAL_IDS,
    )
    draws = masked[labels != IGNORE_INDEX]
    counts = torch.bincount(draws, minlength=vocab_size)
    assert counts[list(SPECIAL_IDS)].sum() == 0
    candidates = vocab_size - len(SPECIAL_IDS)
    for token_id in range(len(SPECIAL_IDS), vocab_size):
        assert within_sigmas(counts[token_id].item() / len(draws), 1 / candidates, len(draws)), token_id


def test_bert_masking_keep_only_changes_nothing_but_labels() -> None:
    ids, never = make_batch(8, 32, 50, seed=4)
    masked, labels = bert_mask_tokens(
        ids, never, vocab_size=50, mask_token_id=MASK_ID, mask_replace_prob=0.0, random_replace_prob=0.0
    )
    assert torch.equal(masked, ids)
    assert (labels != IGNORE_INDEX).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mlm_probability": 0.0}, r"mlm_probability=0.0 .* \(0, 1\]"),
        ({"mlm_probability": 1.5}, r"mlm_probability=1.5 .* \(0, 1\]"),
        ({"mask_replace_prob": -0.1}, r"mask_replace_prob=-0.1 .* \[0, 1\]"),
        ({"mask_replace_prob": 0.8, "random_replace_prob": 0.3}, r"mask_replace_prob \+ random_replace_prob"),
    ],
)
def test_bert_masking_rejects_bad_probabilities(kwargs: dict, message: str) -> None:
    ids, never = make_batch(2, 8, 50, seed=0)
    with pytest.raises(ValueError, match=message):
        bert_mask_tokens(ids, never, vocab_size=50, mask_token_id=MASK_ID, **kwargs)


def test_bert_masking_rejects_shape_mismatch() -> None:
    ids, never = make_batch(2, 8, 50, seed=0)
    with pytest.raises(ValueError, match="same shape"):
        bert_mask_tokens(ids, never[:, :4], vocab_size=50, mask_token_id=MASK_ID)


def test_spans_are_contiguous_among_valid_tokens_and_sized_in_range() -> None:
    ids, never = make_batch(500, 64, 100, seed=5)
    valid = ~never
    valid[:, 10] = False  # a hole inside the text, as an [UNK] would make
    low, high = 0.1, 0.25
    spans = sample_spans(valid, (low, high), 3, torch.Generator().manual_seed(6))  # (B, K, L)
    assert spans.shape == (500, 3, 64)
    assert not (spans & ~valid[:, None]).any()
    n = valid.sum(-1, keepdim=True)  # (B, 1)
    size = spans.sum(-1)  # (B, K)
    assert is_sized_in_range(size, n, low, high)
    # Contiguous in the rank space of the valid tokens: ranks of a span are consecutive.
    rank = valid.cumsum(-1) - 1
    for b in range(0, 500, 7):
        for k in range(3):
            r = rank[b][spans[b, k]]
            assert torch.equal(r, torch.arange(int(r[0]), int(r[0]) + len(r)))


def test_span_starts_reach_both_ends() -> None:
    valid = torch.ones(4000, 20, dtype=torch.bool)
    spans = sample_spans(valid, (0.1, 0.1), 1, torch.Generator().manual_seed(7))[:, 0]  # size 2
    first = spans.float().argmax(-1)
    counts = torch.bincount(first, minlength=20)
    assert counts[19] == 0 and (counts[:19] > 0).all()
    assert within_sigmas(counts[0].item() / 4000, 1 / 19, 4000)


def test_block_masks_disjoint_in_range_and_never_on_special_or_padding() -> None:
    ids, never = make_batch(600, 128, 100, seed=8)
    valid = ~never
    context, targets = sample_block_masks(valid, generator=torch.Generator().manual_seed(9))
    assert context.shape == (600, 128) and targets.shape == (600, 2, 128)
    assert context.dtype == torch.bool and targets.dtype == torch.bool
    assert not (context & targets.any(1)).any(), "context overlaps a target"
    assert not (context & never).any() and not (targets & never[:, None]).any()
    n = valid.sum(-1)
    assert (context.sum(-1)[n >= 16] >= 4).all()
    assert (context.sum(-1)[n >= 2] >= 1).all()  # best of the redraws when 4 is out of reach
    assert (context.sum(-1) <= torch.round(0.85 * n)).all()
    target_size = targets.sum(-1)  # (B, K)
    assert is_sized_in_range(target_size, n[:, None], 0.10, 0.25)
    # Mean target block share: E[s] = (0.10 + 0.25) / 2 for long sequences.
    long = n >= 60
    share = (target_size[long] / n[long, None]).mean().item()
    assert abs(share - 0.175) < 0.01


def test_block_masks_keep_min_context_tokens() -> None:
    valid = torch.ones(2000, 40, dtype=torch.bool)
    context, _ = sample_block_masks(
        valid,
        context_ratio=(0.5, 0.5),
        target_ratio=(0.3, 0.3),
        min_context_tokens=6,
        generator=torch.Generator().manual_seed(10),
    )
    assert (context.sum(-1) >= 6).all()


def test_block_masks_short_and_empty_sequences(caplog: pytest.LogCaptureFixture) -> None:
    valid = torch.zeros(3, 10, dtype=torch.bool)
    valid[1, 1:3] = True  # 2 valid tokens: cannot keep 4 context tokens
    valid[2, 1:9] = True
    with caplog.at_level(logging.WARNING, logger="modeling_jepa_mlm.training.masking"):
        context, targets = sample_block_masks(valid, generator=torch.Generator().manual_seed(11))
    assert not context[0].any() and not targets[0].any()
    assert not (context & targets.any(1)).any()
    assert "min_context_tokens=4" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"context_ratio": (0.9, 0.5)}, r"context_ratio=\(0.9, 0.5\) .* min <= max"),
        ({"context_ratio": (0.0, 0.5)}, r"context_ratio\[0\] \(min\)=0.0 .* \(0, 1\]"),
        ({"target_ratio": (0.1, 1.2)}, r"target_ratio\[1\] \(max\)=1.2 .* \(0, 1\]"),
        ({"target_ratio": (0.1,)}, r"target_ratio=\(0.1,\) .* a pair"),
        ({"num_target_blocks": 0}, r"num_target_blocks=0 .* integer > 0"),
        ({"min_context_tokens": 0}, r"min_context_tokens=0 .* integer > 0"),
    ],
)
def test_block_masks_reject_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample_block_masks(torch.ones(2, 8, dtype=torch.bool), **kwargs)


def test_samplers_are_reproducible_from_the_seed() -> None:
    ids, never = make_batch(16, 64, 100, seed=12)

    def run(seed: int) -> tuple[torch.Tensor, ...]:
        g = seeded_generator(seed, "x")
        masked, labels = bert_mask_tokens(ids, never, vocab_size=100, mask_token_id=MASK_ID, generator=g)
        return masked, labels, *sample_block_masks(~never, generator=g)

    first, again, other = run(0), run(0), run(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[1], other[1]) and not torch.equal(first[3], other[3])


def test_seeded_generator_hashes_every_part() -> None:
    def draw(*parts: int | str | bytes) -> torch.Tensor:
        return torch.rand(4, generator=seeded_generator(*parts))

    assert torch.equal(draw(0, "mlm", 1, b"ab"), draw(0, "mlm", 1, b"ab"))
    variants = [
        draw(1, "mlm", 1, b"ab"),
        draw(0, "blocks", 1, b"ab"),
        draw(0, "mlm", 2, b"ab"),
        draw(0, "mlm", 1, b"ac"),
    ]
    assert all(not torch.equal(draw(0, "mlm", 1, b"ab"), v) for v in variants)
    # Parts are delimited: ("1", "23") and ("12", "3") differ.
    assert not torch.equal(draw(0, "1", "23"), draw(0, "12", "3"))
