"""Diagnostic (issue 10): does the MLM arm use context, or only token frequencies?

On 2015.en validation text: masked-token cross-entropy and top-1 accuracy of an export's MLM head
(15 % of non-special tokens replaced by [MASK], seeded), against two context-free baselines: the unigram
model of the training text (word-piece frequencies of the first 1,000 train articles, add-one smoothed: what
a model that ignores context can reach, `unigram_cross_entropy_train`) and the validation text's own
frequencies (`unigram_cross_entropy`: in-sample, so optimistic, a bound no context-free model reaches), and
the most-frequent-token accuracy. A model below the train unigram uses context. Writes JSON to stdout.

    python experiments/06_mlm_sanity.py experiments/runs/mlm experiments/runs/random_init ...
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import datasets
import numpy as np
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer


def main() -> None:
    torch.manual_seed(0)
    val = datasets.load_dataset("/work/shared/data/wikipedia", "2015.en", split="validation")
    tok = AutoTokenizer.from_pretrained("/work/shared/data/tokenizers/bert-base-uncased")
    ids = []
    for text in val["text"][:60]:
        ids.extend(tok(text, add_special_tokens=False)["input_ids"])
    n_seq = 128
    seqs = torch.tensor(
        [[tok.cls_token_id] + ids[i * 126 : (i + 1) * 126] + [tok.sep_token_id] for i in range(n_seq)]
    )
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(seqs.shape, generator=g) < 0.15
    mask[:, 0] = mask[:, -1] = False
    inputs = seqs.masked_fill(mask, tok.mask_token_id)
    targets = seqs[mask]
    counts = Counter(ids)
    total = sum(counts.values())
    train = datasets.load_dataset("/work/shared/data/wikipedia", "2015.en", split="train")
    train_counts = Counter()
    for enc in tok(train["text"][:1000], add_special_tokens=False)["input_ids"]:
        train_counts.update(enc)
    train_total = sum(train_counts.values()) + tok.vocab_size
    q = np.array([(train_counts[t] + 1) / train_total for t in targets.tolist()])
    p = np.array([counts[t] / total for t in targets.tolist()])
    out = {
        "masked_tokens": int(mask.sum()),
        "unigram_cross_entropy": float(-np.log(p).mean()),
        "unigram_cross_entropy_train": float(-np.log(q).mean()),
        "most_frequent_token_accuracy": float((targets == max(counts, key=counts.get)).float().mean()),
        "uniform_cross_entropy": float(np.log(tok.vocab_size)),
    }
    for path in sys.argv[1:]:
        model = AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=True).eval()
        with torch.no_grad():
            logits = torch.cat([model(input_ids=inputs[i : i + 16]).logits for i in range(0, n_seq, 16)])
        sel = logits[mask]
        out[path] = {
            "cross_entropy": float(torch.nn.functional.cross_entropy(sel, targets)),
            "top1_accuracy": float((sel.argmax(-1) == targets).float().mean()),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
