"""Does an export's MLM head use context, or only token frequencies?

On held-out text (the first 60 validation articles, tokenized, cut into 128 sequences of `[CLS]` + 126 word-pieces
+ `[SEP]`): masked-token cross-entropy and top-1 accuracy of each export's MLM head (15 % of the non-special
tokens replaced by `[MASK]`, seeded) against context-free baselines: the unigram model of the training text
(word-piece frequencies of the first 1,000 train articles, add-one smoothed: what a model that ignores context
can reach, `unigram_cross_entropy_train`), the validation text's own frequencies (`unigram_cross_entropy`:
in-sample, so optimistic, a bound no context-free model reaches), the most-frequent-token accuracy and the uniform
distribution. A model below the train unigram uses context. Writes JSON (stdout, or --output), one entry per
export keyed by the path as given.

    python experiments/diagnostics/mlm_sanity.py experiments/runs/cpu_49m/mlm experiments/runs/cpu_49m/random_init
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

import datasets
import numpy as np
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

MASK_RATE = 0.15
NUM_SEQUENCES = 128
SEQUENCE_LENGTH = 128
VALIDATION_ARTICLES = 60
TRAIN_ARTICLES = 1000


def masked_batch(ids: list[int], tokenizer, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, mask, clean) of shape (NUM_SEQUENCES, SEQUENCE_LENGTH): `[CLS]` + 126 ids + `[SEP]` each, with
    MASK_RATE of the positions between them (Bernoulli, seeded) replaced by `[MASK]`."""
    body = SEQUENCE_LENGTH - 2
    clean = torch.tensor(
        [
            [tokenizer.cls_token_id] + ids[i * body : (i + 1) * body] + [tokenizer.sep_token_id]
            for i in range(NUM_SEQUENCES)
        ]
    )
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(clean.shape, generator=generator) < MASK_RATE
    mask[:, 0] = mask[:, -1] = False
    return clean.masked_fill(mask, tokenizer.mask_token_id), mask, clean


def baselines(targets: torch.Tensor, held_out: Counter, train: Counter, vocab_size: int) -> dict[str, float]:
    """Context-free cross-entropies (nats) of the masked `targets`: `-mean log p(t)` under the held-out text's
    own frequencies and under the add-one smoothed train unigram `(c_train(t) + 1) / (N_train + V)`, the
    most-frequent held-out token's accuracy, and `log V` (uniform)."""
    total, train_total = sum(held_out.values()), sum(train.values()) + vocab_size
    t = targets.tolist()
    return {
        "masked_tokens": len(t),
        "unigram_cross_entropy": float(-np.log([held_out[x] / total for x in t]).mean()),
        "unigram_cross_entropy_train": float(-np.log([(train[x] + 1) / train_total for x in t]).mean()),
        "most_frequent_token_accuracy": float((targets == max(held_out, key=held_out.get)).float().mean()),
        "uniform_cross_entropy": float(np.log(vocab_size)),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "exports",
        nargs="*",
        help="export folders with an MLM head (AutoModelForMaskedLM); none: baselines only",
    )
    p.add_argument(
        "--dataset_name", default="../shared/data/wikipedia", help="Hub id or local dataset folder"
    )
    p.add_argument("--dataset_config_name", default="2015.en")
    p.add_argument("--tokenizer_name", default="../shared/data/tokenizers/bert-base-uncased")
    p.add_argument(
        "--output", type=argparse.FileType("w"), default=sys.stdout, help="JSON file (default: stdout)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name)
    val = datasets.load_dataset(args.dataset_name, args.dataset_config_name, split="validation")
    ids = []
    for text in val["text"][:VALIDATION_ARTICLES]:
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
    inputs, mask, clean = masked_batch(ids, tokenizer)
    targets = clean[mask]
    train = datasets.load_dataset(args.dataset_name, args.dataset_config_name, split="train")
    train_counts: Counter = Counter()
    for encoded in tokenizer(train["text"][:TRAIN_ARTICLES], add_special_tokens=False)["input_ids"]:
        train_counts.update(encoded)
    out: dict = baselines(targets, Counter(ids), train_counts, tokenizer.vocab_size)
    for path in args.exports:
        model = AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=True).eval()
        with torch.no_grad():
            logits = torch.cat(
                [model(input_ids=inputs[i : i + 16]).logits for i in range(0, NUM_SEQUENCES, 16)]
            )
        selected = logits[mask]
        out[path] = {
            "cross_entropy": float(torch.nn.functional.cross_entropy(selected, targets)),
            "top1_accuracy": float((selected.argmax(-1) == targets).float().mean()),
        }
    args.output.write(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
