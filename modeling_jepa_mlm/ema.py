"""The EMA momentum schedule and the in-place EMA update of the target encoder."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

EMA_SCHEDULES = ("linear", "cosine")


def ema_momentum(
    step: int, total_steps: int, start: float = 0.996, end: float = 1.0, schedule: str = "linear"
) -> float:
    """Momentum `m(t)` of the target encoder at optimizer step `t`, a pure function of the step.

    linear (I-JEPA, the paper): `m(t) = m0 + (m1 - m0) t / T`;
    cosine (BYOL, Grill et al. 2020): `m(t) = m1 - (m1 - m0) (1 + cos(pi t / T)) / 2`.
    `t` is clamped to `[0, T]`, so a run that goes past `T` keeps `m1`.

    Args:
        step: the global optimizer step `t` (0 before the first update).
        total_steps: `T`, the length of the schedule.
        start, end: `m0`, `m1` in [0, 1].
        schedule: `linear` or `cosine`.

    Returns:
        the momentum, a float in [min(m0, m1), max(m0, m1)].
    """
    if schedule not in EMA_SCHEDULES:
        raise ValueError(f"unknown EMA schedule {schedule!r}; valid: {', '.join(EMA_SCHEDULES)}")
    if not (0.0 <= start <= 1.0 and 0.0 <= end <= 1.0):
        raise ValueError(f"EMA momenta must lie in [0, 1]; got start={start}, end={end}")
    frac = min(max(step, 0), total_steps) / total_steps if total_steps > 0 else 1.0
    if schedule == "linear":
        return start + (end - start) * frac
    return end - (end - start) * (1.0 + math.cos(math.pi * frac)) / 2.0


@torch.no_grad()
def ema_update_(target: Sequence[torch.Tensor], online: Sequence[torch.Tensor], momentum: float) -> None:
    """In place, for every pair: `theta_target <- m theta_target + (1 - m) theta_online` (I-JEPA, BYOL).

    Written as one multi-tensor `lerp` (`a + w (b - a)` with `w = 1 - m`): `m = 1` leaves the target
    bit-identical and `m = 0` copies the online tensors exactly.

    Args:
        target: the target encoder's tensors, updated in place.
        online: the online encoder's tensors, same order, shapes and dtypes.
        momentum: `m` in [0, 1].
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum={momentum} is not valid; accepted values: a number in [0, 1]")
    if len(target) != len(online):
        raise ValueError(
            f"EMA update needs matching tensor lists; got {len(target)} target and {len(online)} online"
        )
    if momentum == 1.0 or not target:
        return
    torch._foreach_lerp_(list(target), list(online), 1.0 - momentum)
