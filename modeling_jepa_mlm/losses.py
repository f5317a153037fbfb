"""The JEPA target normalisation, the JEPA losses, the balance formulas and their running estimates, as pure
functions."""

from __future__ import annotations

import math
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
    jepa_loss: torch.Tensor, mlm_loss: torch.Tensor, weight: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """`L = a L_jepa + (1 - a) L_mlm` with a constant `a` (the `fixed` balance, for ablations). Returns (total, `a`)."""
    a = torch.as_tensor(weight, dtype=jepa_loss.dtype, device=jepa_loss.device)
    return a * jepa_loss + (1.0 - a) * mlm_loss, a


def running_mean(
    estimate: torch.Tensor, value: torch.Tensor, decay: float, num_updates: torch.Tensor
) -> torch.Tensor:
    """One step of an exponential moving average, `m <- decay m + (1 - decay) x`, started at the first value
    (`m <- x` when `num_updates == 0`), so no bias correction is needed. A non-finite `x` leaves `m` unchanged
    (a branch without gradient in one step must not poison the estimate), decided without a device sync.

    Args:
        estimate, value: tensors of one shape (here (2,): `[jepa, mlm]`).
        num_updates: 0-d long, how many values `estimate` has absorbed.

    Returns:
        the new estimate, same shape.
    """
    mixed = torch.where(num_updates > 0, decay * estimate + (1.0 - decay) * value, value)
    return torch.where(torch.isfinite(value), mixed, estimate)


def gradient_ratio_scale(
    log_grad_norms: torch.Tensor, target_ratio: float = 1.0, max_scale: float = 1e7
) -> torch.Tensor:
    """The factor `lambda` on the JEPA gradient entering the shared encoder that puts the two objectives' gradient
    norms there in a target ratio.

    With `G_j = ||dL_jepa/dH||` and `G_m = ||dL_mlm/dH||` (unweighted, `H` the encoder's output states as each
    head reads them), the encoder receives `dL_mlm/dH + lambda dL_jepa/dH`; asking `G_m = rho lambda G_j`
    (MLM : JEPA = `rho` : 1) gives

        `lambda = G_m / (rho G_j) = exp(log G_m - log G_j - log rho)`,

    clipped to `[1 / max_scale, max_scale]`. This is the fixed point of GradNorm (Chen et al. 2018, "GradNorm:
    Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks", eq. 2 with asymmetry
    `alpha = 0`: equal weighted norms, here in ratio `rho`) solved in closed form from running estimates of the
    two norms instead of approached by a gradient step on the weights; GradNorm measures at the last shared
    layer's weights, this at the shared encoder's output states.

    Why a factor on the gradient at the encoder, not weights on the losses: with `L = a L_jepa + (1 - a) L_mlm`
    the same ratio needs `1 - a = 1 / (1 + lambda)`, and `lambda` passed 1e5 in the paper's `blocks` hybrid on
    Wikipedia, so the MLM term, and with it everything the encoder receives, is scaled by 1e-5 toward Adam's
    epsilon, while the predictor keeps its full gradient. In that run the weight reached its bound, the MLM share
    left the band and the EMA target collapsed (target std 0.80 to 0.13, JEPA loss 0.005); with this form the
    same run held the share and its target std at 0.67. Scaling only what enters the encoder leaves each head
    trained on its own loss at its own scale, as in the single-objective arms.

    Args:
        log_grad_norms: (2,) `[log G_j, log G_m]`, running estimates (see `running_mean`); any common scale of
            the two norms (gradient accumulation, a loss scaler) cancels.
        target_ratio: `rho`, the wanted MLM : JEPA ratio of the norms at the encoder.
        max_scale: the bound on `lambda` and `1 / lambda`.

    Returns:
        0-d `lambda`, with no gradient.
    """
    log_scale = log_grad_norms[1] - log_grad_norms[0] - math.log(target_ratio)
    return log_scale.detach().clamp(-math.log(max_scale), math.log(max_scale)).exp()


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; the backward multiplies the incoming gradient by `scale` (a 0-d tensor, no sync)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (scale,) = ctx.saved_tensors
        return grad * scale.to(grad.dtype), None


def scale_gradient(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """`x` unchanged, but the gradient that flows back through it is multiplied by `scale`."""
    return _ScaleGradient.apply(x, scale)


def loss_scale_balance(
    jepa_loss: torch.Tensor, mlm_loss: torch.Tensor, scales: torch.Tensor, weight: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each loss divided by a running estimate of its own scale: `L = a L_jepa / m_j + (1 - a) L_mlm / m_m`.

    `m_j`, `m_m` are running means of the detached losses (`running_mean`), so each normalised loss is about 1
    and the constant `a` is the JEPA term's share of the total whatever the losses' units (a cosine in [0, 2]
    against a cross-entropy of several nats). The gradient is `a grad L_j / m_j + ...`, about `a grad log L_j`:
    the weighting Kendall et al.'s `uncertainty` balance reaches at its optimum (`1 / L`), without its learned
    parameters and with a share set by hand. The loss-ratio normalisation is that of CoV-weighting (Groenendijk
    et al. 2021, "Multi-Loss Weighting with Coefficient of Variations", `L_t / mu_{L,t-1}`) with fixed weights.

    Args:
        scales: (2,) `[m_j, m_m]`, positive, no gradient.
        weight: `a`.

    Returns:
        (total loss, the effective JEPA weight `(a / m_j) / (a / m_j + (1 - a) / m_m)`), both scalars.
    """
    multipliers = torch.stack([torch.as_tensor(weight), torch.as_tensor(1.0 - weight)]).to(scales) / scales
    multipliers = multipliers.detach()
    total = multipliers[0] * jepa_loss + multipliers[1] * mlm_loss
    return total, multipliers[0] / multipliers.sum()


def gradient_share(grad_mlm: torch.Tensor, grad_jepa: torch.Tensor) -> torch.Tensor:
    """The MLM objective's share of the gradient at the shared encoder, `g_m / (g_m + g_j)`, from the weighted
    gradient norms of the two branches (0.5 when both are zero)."""
    total = grad_mlm + grad_jepa
    return torch.where(total > 0, grad_mlm / total.clamp_min(torch.finfo(total.dtype).tiny), 0.5)
