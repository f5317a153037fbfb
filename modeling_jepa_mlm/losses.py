"""The JEPA target normalisation, the JEPA losses and the three balance formulas, as pure functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F


def normalize_targets(hidden_states: Sequence[torch.Tensor], num_layers: int = 1) -> torch.Tensor:
    """JEPA targets from the target encoder's layers.

    `y = (1/K) sum_{k=N-K+1}^{N} LN(h^k)`, with `LN` the layer norm without affine parameters. `K = 1` is the
    paper's (and I-JEPA's) last layer normalised; `K > 1` is data2vec's average of the top-K normalised layers
    (Baevski et al. 2022, section 3.3).

    Args:
        hidden_states: the encoder's per-layer states, embeddings first, each (..., D).
        num_layers: K, how many of the top layers to average.

    Returns:
        (..., D) float32 targets.
    """
    if not 1 <= num_layers < len(hidden_states):
        raise ValueError(
            f"num_layers={num_layers} is not valid; accepted values: 1..{len(hidden_states) - 1}"
        )
    top = hidden_states[-num_layers:]
    out = sum(F.layer_norm(h.float(), h.shape[-1:]) for h in top)
    return out / num_layers


def cosine_loss(prediction: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """`mean_i (1 - cos(p_i, y_i))`, the paper's JEPA loss. (N, D), (N, D) -> scalar."""
    return (1.0 - F.cosine_similarity(prediction.float(), target.float(), dim=-1)).mean()


def smooth_l1_loss(prediction: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Smooth-L1 (Huber / beta) averaged over tokens and dimensions (data2vec). (N, D), (N, D) -> scalar."""
    return F.smooth_l1_loss(prediction.float(), target.float(), beta=beta)


def mse_loss(prediction: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """`mean_{i,d} (p_id - y_id)^2`. (N, D), (N, D) -> scalar."""
    return F.mse_loss(prediction.float(), target.float())


JEPA_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "cosine": cosine_loss,
    "smooth_l1": smooth_l1_loss,
    "mse": mse_loss,
}


def jepa_loss(
    prediction: torch.Tensor, target: torch.Tensor, kind: str = "cosine", beta: float = 1.0
) -> torch.Tensor:
    """Dispatch to one of `JEPA_LOSSES`; an unknown kind raises `ValueError` with the valid ones."""
    if kind not in JEPA_LOSSES:
        raise ValueError(f"unknown jepa_loss {kind!r}; valid: {', '.join(JEPA_LOSSES)}")
    return JEPA_LOSSES[kind](prediction, target, beta=beta)


def sigmoid_balance(
    jepa_loss: torch.Tensor, mlm_loss: torch.Tensor, logit: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's learnable balance: `L = s L_jepa + (1 - s) L_mlm`, `s = sigmoid(w)`.

    `dL/dw = s (1 - s) (L_jepa - L_mlm)`: gradient descent moves `s` toward the smaller loss, so the trajectory
    of `s` is a result of the run, not a fixed point.

    Returns:
        (total loss, `s`), both scalars.
    """
    s = torch.sigmoid(logit)
    return s * jepa_loss + (1.0 - s) * mlm_loss, s


def uncertainty_balance(
    jepa_loss: torch.Tensor,
    mlm_loss: torch.Tensor,
    log_vars: torch.Tensor,
    min_log_var: float = -4.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Homoscedastic-uncertainty weighting (Kendall, Gal & Cipolla 2018), one log-variance per loss.

    `L = exp(-s_j) L_jepa + s_j + exp(-s_m) L_mlm + s_m`, with `s = max(s, min_log_var)`. At the optimum
    `s = log L`, so each loss is weighted by `1 / L`; the floor keeps a JEPA loss that collapses to 0 from
    taking a weight above `exp(-min_log_var)`.

    Args:
        log_vars: (2,) `[s_j, s_m]`.

    Returns:
        (total loss, the normalised JEPA weight `e^{-s_j} / (e^{-s_j} + e^{-s_m})`).
    """
    s = log_vars.clamp(min=min_log_var)
    precision = torch.exp(-s)
    total = precision[0] * jepa_loss + s[0] + precision[1] * mlm_loss + s[1]
    return total, precision[0] / precision.sum()


def fixed_balance(
    jepa_loss: torch.Tensor, mlm_loss: torch.Tensor, weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """`L = a L_jepa + (1 - a) L_mlm` with a constant `a`, for ablations. Returns (total, `a`)."""
    a = torch.as_tensor(weight, dtype=jepa_loss.dtype, device=jepa_loss.device)
    return a * jepa_loss + (1.0 - a) * mlm_loss, a
