"""`DataCollatorForJepaMlm`: the batch contract, padding, special tokens, seeding and exact resume."""

from __future__ import annotations

import math
import random

import pytest
import torch
from accelerate import skip_first_batches
from torch.utils.data import DataLoader

from modeling_jepa_mlm.training.collator import DataCollatorForJepaMlm
from modeling_jepa_mlm.training.data import train_wordpiece_tokenizer

SEQ_LEN = 33


def make_corpus(num_docs: int, seed: int) -> list[str]:
    """Sentences of made-up words, enough for a small WordPiece vocabulary."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 8))) for _ in range(300)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(8, 60))) + "." for _ in range(num_docs)]


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece_tokenizer(make_corpus(300, seed=0), vocab_size=400, min_frequency=1)


@pytest.fixture(scope="module")
def examples(tokenizer) -> list[dict[str, list[int]]]:
    """Packed-style rows `[CLS] ... [SEP]` of SEQ_LEN tokens, with their special_tokens_mask."""
    ids = tokenizer(" ".join(make_corpus(200, seed=1)), add_special_tokens=False)["input_ids"]
    body = SEQ_LEN - 2
    rows = [
        [tokenizer.cls_token_id, *ids[i : i + body], tokenizer.sep_token_id]
        for i in range(0, len(ids) - body, body)
    ]
    return [{"input_ids": r, "special_tokens_mask": [1] + [0] * body + [1]} for r in rows]


def ragged(tokenizer, num: int, seed: int) -> list[dict[str, list[int]]]:
    """Tokenized sentences of different lengths, no special_tokens_mask: the collator derives it."""
    return [{"input_ids": tokenizer(text)["input_ids"]} for text in make_corpus(num, seed)]


def batches_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("mode", "keys"),
    [
        (
            "blocks",
            {"input_ids", "labels", "attention_mask", "clean_input_ids", "context_mask", "target_masks"},
        ),
        ("shared", {"input_ids", "labels", "attention_mask", "clean_input_ids"}),
        ("none", {"input_ids", "labels", "attention_mask", "clean_input_ids"}),
    ],
)
def test_batch_contract(tokenizer, examples, mode: str, keys: set[str]) -> None:
    batch = DataCollatorForJepaMlm(tokenizer, jepa_context=mode, num_target_blocks=3)(examples[:13])
    assert set(batch) == keys
    for key in ("input_ids", "labels", "attention_mask", "clean_input_ids"):
        assert batch[key].shape == (13, SEQ_LEN) and batch[key].dtype == torch.long, key
    clean = torch.tensor([ex["input_ids"] for ex in examples[:13]])
    assert torch.equal(batch["clean_input_ids"], clean)
    selected = batch["labels"] != -100
    assert torch.equal(batch["labels"][selected], clean[selected])
    assert torch.equal(batch["input_ids"][~selected], clean[~selected])
    if mode == "blocks":
        assert batch["context_mask"].shape == (13, SEQ_LEN) and batch["context_mask"].dtype == torch.bool
        assert batch["target_masks"].shape == (13, 3, SEQ_LEN) and batch["target_masks"].dtype == torch.bool


def test_padding_and_special_tokens_are_never_masked_nor_targets(tokenizer) -> None:
    collator = DataCollatorForJepaMlm(tokenizer, pad_to_multiple_of=8, min_context_tokens=1)
    examples = ragged(tokenizer, 64, seed=2)
    batch = collator(examples)
    lengths = torch.tensor([len(ex["input_ids"]) for ex in examples])
    assert batch["input_ids"].shape[1] % 8 == 0 and batch["input_ids"].shape[1] >= lengths.max()
    real = torch.arange(batch["input_ids"].shape[1]) < lengths[:, None]
    assert torch.equal(batch["attention_mask"], real.long())
    assert (batch["clean_input_ids"][~real] == tokenizer.pad_token_id).all()
    special = torch.isin(batch["clean_input_ids"], torch.tensor(tokenizer.all_special_ids)) & real
    never = special | ~real
    assert not (batch["labels"] != -100)[never].any()
    assert not batch["target_masks"].any(1)[never].any()
    assert not batch["context_mask"][~real].any()
    # [CLS] and [SEP] are context, never targets; context and targets are disjoint.
    assert batch["context_mask"][special].all()
    assert not (batch["context_mask"] & batch["target_masks"].any(1)).any()
    assert (batch["target_masks"].sum(-1) >= 1).all()


def test_left_padding(tokenizer) -> None:
    examples = ragged(tokenizer, 4, seed=3)
    tokenizer.padding_side = "left"  # the tokenizer is shared by the module: flip, then restore
    try:
        batch = DataCollatorForJepaMlm(tokenizer, jepa_context="none")(examples)
    finally:
        tokenizer.padding_side = "right"
    shortest = min(range(4), key=lambda i: len(examples[i]["input_ids"]))
    n = len(examples[shortest]["input_ids"])
    assert batch["clean_input_ids"][shortest, -n:].tolist() == examples[shortest]["input_ids"]
    assert batch["attention_mask"][shortest, :-n].sum() == 0


def test_masking_rate_and_replacements_on_tokenizer_vocabulary(tokenizer, examples) -> None:
    collator = DataCollatorForJepaMlm(tokenizer, jepa_context="none")
    batch = collator(examples * 40)
    real = ~torch.isin(batch["clean_input_ids"], torch.tensor(tokenizer.all_special_ids))
    n = int(real.sum())
    selected = batch["labels"] != -100
    assert abs(selected.sum().item() / n - 0.15) <= 5 * math.sqrt(0.15 * 0.85 / n)
    replaced = selected & (batch["input_ids"] != batch["clean_input_ids"])
    replacements = batch["input_ids"][replaced & (batch["input_ids"] != tokenizer.mask_token_id)]
    assert replacements.numel() > 0
    assert not torch.isin(replacements, torch.tensor(tokenizer.all_special_ids)).any()
    assert replacements.max() < len(tokenizer)


def test_jepa_only_keeps_the_clean_sequence(tokenizer, examples) -> None:
    batch = DataCollatorForJepaMlm(tokenizer, mlm=False)(examples[:5])
    assert torch.equal(batch["input_ids"], batch["clean_input_ids"])
    assert (batch["labels"] == -100).all()
    assert batch["target_masks"].any()


def test_tensor_and_numpy_inputs_give_the_same_batch(tokenizer, examples) -> None:
    collator = DataCollatorForJepaMlm(tokenizer)
    as_tensors = [{k: torch.tensor(v) for k, v in ex.items()} for ex in examples[:6]]
    as_numpy = [{k: torch.tensor(v).numpy() for k, v in ex.items()} for ex in examples[:6]]
    assert batches_equal(collator(examples[:6]), collator(as_tensors))
    assert batches_equal(collator(examples[:6]), collator(as_numpy))
    without_mask = [{"input_ids": ex["input_ids"]} for ex in examples[:6]]
    assert batches_equal(collator(examples[:6]), collator(without_mask))


def test_seeded_masks(tokenizer, examples) -> None:
    batch = examples[:16]
    first = DataCollatorForJepaMlm(tokenizer, seed=7)(batch)
    assert batches_equal(first, DataCollatorForJepaMlm(tokenizer, seed=7)(batch))
    other = DataCollatorForJepaMlm(tokenizer, seed=8)(batch)
    assert not torch.equal(first["labels"], other["labels"])
    assert not torch.equal(first["target_masks"], other["target_masks"])
    renewed = DataCollatorForJepaMlm(tokenizer, seed=7)
    renewed.set_epoch(1)
    assert not torch.equal(first["labels"], renewed(batch)["labels"])


def test_bert_masks_are_the_same_in_every_mode(tokenizer, examples) -> None:
    """Baseline parity: the MLM baseline and both hybrid modes see the same corrupted sequences."""
    batches = [
        DataCollatorForJepaMlm(tokenizer, jepa_context=m)(examples[:16]) for m in ("blocks", "shared", "none")
    ]
    for batch in batches[1:]:
        assert torch.equal(batch["input_ids"], batches[0]["input_ids"])
        assert torch.equal(batch["labels"], batches[0]["labels"])


def make_loader(examples, collator: DataCollatorForJepaMlm, num_workers: int = 0) -> DataLoader:
    """A shuffled loader whose order is fixed by its own seed, as the Trainer's seedable sampler is."""
    return DataLoader(
        examples,
        batch_size=8,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=collator,
        num_workers=num_workers,
    )


def test_resume_gives_identical_masks(tokenizer, examples) -> None:
    full = list(make_loader(examples, DataCollatorForJepaMlm(tokenizer, seed=3)))
    assert len(full) >= 6
    # A fresh process: new collator, same seed, same data order, the first 4 batches skipped unfetched.
    resumed = list(skip_first_batches(make_loader(examples, DataCollatorForJepaMlm(tokenizer, seed=3)), 4))
    assert len(resumed) == len(full) - 4
    assert all(batches_equal(a, b) for a, b in zip(full[4:], resumed, strict=True))


def test_dataloader_workers_do_not_change_masks(tokenizer, examples) -> None:
    single = list(make_loader(examples[:48], DataCollatorForJepaMlm(tokenizer, seed=3)))
    workers = list(make_loader(examples[:48], DataCollatorForJepaMlm(tokenizer, seed=3), num_workers=2))
    assert all(batches_equal(a, b) for a, b in zip(single, workers, strict=True))


def test_a_new_epoch_gives_new_masks(tokenizer, examples) -> None:
    """Reshuffled batches renew each sequence's masks (dynamic masking)."""
    loader = make_loader(examples[:64], DataCollatorForJepaMlm(tokenizer, seed=3))

    def labels_by_sequence() -> dict[tuple[int, ...], torch.Tensor]:
        return {
            tuple(ids.tolist()): labels
            for batch in loader
            for ids, labels in zip(batch["clean_input_ids"], batch["labels"], strict=True)
        }

    epoch0, epoch1 = labels_by_sequence(), labels_by_sequence()
    changed = sum(not torch.equal(epoch0[k], epoch1[k]) for k in epoch0)
    assert changed >= 0.9 * len(epoch0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"jepa_context": "both"}, r"jepa_context='both' .* blocks, shared, none"),
        ({"jepa_context": "shared", "mlm": False}, r"mlm=False needs jepa_context='blocks'"),
        ({"mlm_probability": 0.0}, r"mlm_probability=0.0"),
        ({"mask_replace_prob": 0.9, "random_replace_prob": 0.2}, r"mask_replace_prob \+ random_replace_prob"),
        ({"context_ratio_min": 0.9, "context_ratio_max": 0.8}, r"context_ratio_min/context_ratio_max"),
        ({"target_ratio_max": 1.5}, r"target_ratio_min/target_ratio_max\[1\] \(max\)=1.5"),
        ({"num_target_blocks": 0}, r"num_target_blocks=0"),
        ({"pad_to_multiple_of": 0}, r"pad_to_multiple_of=0"),
    ],
)
def test_rejects_bad_arguments(tokenizer, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DataCollatorForJepaMlm(tokenizer, **kwargs)


def test_rejects_tokenizer_without_mask_token(tokenizer) -> None:
    no_mask = tokenizer.__class__(vocab=tokenizer.get_vocab(), mask_token=None)
    with pytest.raises(ValueError, match="no mask_token"):
        DataCollatorForJepaMlm(no_mask)


def test_rejects_bad_examples(tokenizer) -> None:
    collator = DataCollatorForJepaMlm(tokenizer)
    with pytest.raises(ValueError, match="empty list"):
        collator([])
    with pytest.raises(ValueError, match="no 'input_ids'"):
        collator([{"text": "a"}])
    with pytest.raises(ValueError, match="attention_mask has 2 entries but input_ids has 3"):
        collator([{"input_ids": [2, 9, 3], "attention_mask": [1, 1]}])


def test_default_split_of_selected_tokens_is_80_10_10(tokenizer, examples) -> None:
    """BERT's split (Devlin et al. 2019, 3.1) with the collator's own defaults: of the selected tokens 80 % become
    [MASK], 10 % a random non-special token, 10 % stay. A random draw can hit the original token (probability
    1/C over C candidate tokens), which then counts as kept: expected shares 0.8, 0.1 (1 - 1/C), 0.1 (1 + 1/C).
    Each share must lie within 5 binomial standard errors."""
    collator = DataCollatorForJepaMlm(tokenizer, jepa_context="none")
    batch = collator(examples * 80)
    selected = batch["labels"] != -100
    n = int(selected.sum())
    masked = selected & (batch["input_ids"] == tokenizer.mask_token_id)
    kept = selected & (batch["input_ids"] == batch["clean_input_ids"])
    random_ = selected & ~masked & ~kept
    candidates = len(tokenizer) - len(set(tokenizer.all_special_ids))
    expected = {"mask": 0.8, "random": 0.1 * (1 - 1 / candidates), "kept": 0.1 * (1 + 1 / candidates)}
    for name, part in (("mask", masked), ("random", random_), ("kept", kept)):
        share, p = int(part.sum()) / n, expected[name]
        assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / n), (name, share, p, n)
    assert n > 20_000  # so 5 standard errors stay under 0.011 for the 80 % share
