"""Shared fixtures: tiny odd-sized configs (transformers' test convention) and a tokenizer made on the spot."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One thread: on a shared 2-core box, oversubscribed BLAS threads cost far more than they give.
torch.set_num_threads(1)

TINY = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    mask_token_id=4,
    predictor_hidden_size=16,
    predictor_num_hidden_layers=2,
    predictor_num_attention_heads=2,
    predictor_intermediate_size=24,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)

WORDS = (
    "the a an cat dog bird sat ran flew on under over mat log tree red blue green big small quick lazy "
    "happy sad good bad movie film plot actor great awful not very really"
).split()


@pytest.fixture
def tiny_config():
    from modeling_jepa_mlm import JepaMlmConfig

    def make(**overrides):
        return JepaMlmConfig(**{**TINY, **overrides})

    return make


def make_batch(config, batch: int = 13, seq_len: int = 7, num_blocks: int = 2, seed: int = 0) -> dict:
    """A hand-made pre-training batch following the model's batch contract, with one padded row."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, config.vocab_size, (batch, seq_len), generator=g)
    ids[:, 0] = 2  # [CLS]
    attention_mask = torch.ones(batch, seq_len, dtype=torch.long)
    attention_mask[0, seq_len - 2 :] = 0
    ids[0, seq_len - 2 :] = 0
    labels = torch.full_like(ids, -100)
    labels[:, 2] = ids[:, 2]
    labels[1::2, 4] = ids[1::2, 4]
    masked = ids.clone()
    masked[labels != -100] = config.mask_token_id
    context_mask = torch.zeros(batch, seq_len, dtype=torch.bool)
    context_mask[:, :3] = True
    target_masks = torch.zeros(batch, num_blocks, seq_len, dtype=torch.bool)
    target_masks[:, 0, 3] = True
    target_masks[:, 1, 4] = True
    target_masks[1:, 1, 5] = True
    return dict(
        input_ids=masked,
        attention_mask=attention_mask,
        labels=labels,
        clean_input_ids=ids,
        context_mask=context_mask,
        target_masks=target_masks,
    )


@pytest.fixture
def tiny_tokenizer():
    """A BERT WordPiece tokenizer over a small vocabulary; ids 0-4 are [PAD] [UNK] [CLS] [SEP] [MASK]."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def load_script(name: str):
    """Import benchmarks/<name>.py by its path: benchmarks/ is a folder of scripts, not a package."""
    import importlib.util
    import sys
    from pathlib import Path

    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# A pre-training model small enough for end-to-end runs in seconds (odd sizes, as transformers' tests use).
TINY_PRETRAINING_MODEL = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    predictor_hidden_size=16,
    predictor_num_hidden_layers=1,
    predictor_num_attention_heads=2,
    predictor_intermediate_size=24,
    max_position_embeddings=64,
)
