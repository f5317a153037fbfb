"""Parameter-free sentence poolings over token states, shared by the model's `pooler_output` and the probe."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

PoolFn = Callable[[torch.Tensor, torch.Tensor, Sequence[torch.Tensor] | None], torch.Tensor]


def _as_weights(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, L) 0/1 mask -> (B, L, 1) float weights."""
    return attention_mask.to(dtype).unsqueeze(-1)


def mean_pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Masked mean over tokens: `z = sum_t m_t h_t / sum_t m_t` (Reimers & Gurevych 2019).

    Args:
        last_hidden_state: (B, L, D) token states.
        attention_mask: (B, L), 1 for real tokens, 0 for padding.
        hidden_states: unused; kept so every pooler has one signature.

    Returns:
        (B, D) pooled states, same dtype as `last_hidden_state`.
    """
    w = _as_weights(attention_mask, last_hidden_state.dtype)  # (B, L, 1)
    return (last_hidden_state * w).sum(1) / w.sum(1).clamp_min(1.0)


def max_pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Masked max over tokens, per dimension: `z_d = max_{t: m_t = 1} h_{t,d}` (Conneau et al. 2017).

    Args:
        last_hidden_state: (B, L, D) token states.
        attention_mask: (B, L), 1 for real tokens, 0 for padding.
        hidden_states: unused.

    Returns:
        (B, D) pooled states; padding never wins the max.
    """
    fill = torch.finfo(last_hidden_state.dtype).min
    masked = last_hidden_state.masked_fill(attention_mask.unsqueeze(-1) == 0, fill)
    return masked.max(dim=1).values


def cls_pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """State of the first token (`[CLS]`): `z = h_0` (Devlin et al. 2019).

    Returns:
        (B, D) the first position's state.
    """
    return last_hidden_state[:, 0]


def first_last_mean_pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Masked mean of the average of the first and last layers: `z = mean_t (h^1_t + h^N_t) / 2`.

    The "first-last-avg" pooling of Su et al. 2021 (BERT-whitening) and SimCSE's evaluation, where `h^1`
    is the output of the first transformer layer (`hidden_states[1]`; `hidden_states[0]` is the embedding).

    Args:
        last_hidden_state: (B, L, D) last-layer token states.
        attention_mask: (B, L).
        hidden_states: the model's `hidden_states` tuple (embeddings, layer 1, ..., layer N); required.

    Returns:
        (B, D) pooled states.
    """
    if hidden_states is None or len(hidden_states) < 2:
        raise ValueError(
            "pooling 'first_last_mean' needs the model's hidden_states (output_hidden_states=True)"
        )
    first = hidden_states[1]
    return mean_pool((first + last_hidden_state) / 2, attention_mask)


POOLERS: dict[str, PoolFn] = {
    "mean": mean_pool,
    "max": max_pool,
    "cls": cls_pool,
    "first_last_mean": first_last_mean_pool,
}

# Poolings that read intermediate layers, so the encoder must return all hidden states.
POOLERS_NEEDING_HIDDEN_STATES = frozenset({"first_last_mean"})


def get_pooler(name: str) -> PoolFn:
    """Look up a pooling by name.

    Raises:
        ValueError: naming the unknown pooling and listing the valid ones.
    """
    if name not in POOLERS:
        raise ValueError(f"unknown pooling {name!r}; valid poolings: {', '.join(sorted(POOLERS))}")
    return POOLERS[name]
