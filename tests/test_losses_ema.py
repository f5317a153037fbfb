"""The pure math of the objective: EMA schedule and update, target normalisation, JEPA losses, balances."""

from __future__ import annotations

import math

import pytest
import torch

from modeling_jepa_mlm.ema import ema_momentum, ema_update_
from modeling_jepa_mlm.losses import (
    cosine_loss,
    fixed_balance,
    jepa_loss,
    mse_loss,
    normalize_targets,
    sigmoid_balance,
    smooth_l1_loss,
    uncertainty_balance,
)


def _pair(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    target = [torch.randn(5, 3, generator=g), torch.randn(7, generator=g)]
    online = [torch.randn(5, 3, generator=g), torch.randn(7, generator=g)]
    return target, online


def test_ema_momentum_one_changes_nothing():
    target, online = _pair()
    before = [t.clone() for t in target]
    ema_update_(target, online, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(target, before))


def test_ema_momentum_zero_copies_online():
    target, online = _pair()
    ema_update_(target, online, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(target, online))


def test_ema_intermediate_momentum_matches_formula():
    target, online = _pair()
    expected = [0.9 * t + 0.1 * o for t, o in zip(target, online)]
    ema_update_(target, online, 0.9)
    for got, want in zip(target, expected):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_ema_rejects_bad_momentum_and_mismatched_lists():
    target, online = _pair()
    with pytest.raises(ValueError, match=r"momentum=1.5.*\[0, 1\]"):
        ema_update_(target, online, 1.5)
    with pytest.raises(ValueError, match="matching"):
        ema_update_(target, online[:1], 0.5)


@pytest.mark.parametrize(
    "step,total,schedule,expected",
    [
        (0, 100, "linear", 0.996),
        (50, 100, "linear", 0.998),
        (100, 100, "linear", 1.0),
        (250, 100, "linear", 1.0),
        (0, 100, "cosine", 0.996),
        (50, 100, "cosine", 0.998),
        (25, 100, "cosine", 1.0 - 0.004 * (1 + math.cos(math.pi / 4)) / 2),
        (100, 100, "cosine", 1.0),
    ],
)
def test_ema_momentum_schedule(step, total, schedule, expected):
    assert ema_momentum(step, total, 0.996, 1.0, schedule) == pytest.approx(expected, abs=1e-12)


def test_ema_momentum_unknown_schedule():
    with pytest.raises(ValueError, match="linear, cosine"):
        ema_momentum(0, 10, schedule="step")


def test_normalize_targets_last_layer_is_affine_free_layer_norm():
    h = [torch.randn(2, 3, 8) * 5 + 3 for _ in range(4)]
    y = normalize_targets(h, 1)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 3), atol=1e-3, rtol=0)
    # Top-2 average of each normalised layer (data2vec).
    manual = (torch.nn.functional.layer_norm(h[-1], (8,)) + torch.nn.functional.layer_norm(h[-2], (8,))) / 2
    torch.testing.assert_close(normalize_targets(h, 2), manual)
    with pytest.raises(ValueError, match="1..3"):
        normalize_targets(h, 4)


def test_jepa_losses_known_values():
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    # cos = 0 and 1 -> mean(1 - cos) = 0.5
    assert cosine_loss(p, y).item() == pytest.approx(0.5)
    # squared errors: 1, 1, 0, 1 -> mean 0.75
    assert mse_loss(p, y).item() == pytest.approx(0.75)
    # |d| = 1, 1, 0, 1 with beta 1: 0.5 d^2 -> 0.5, 0.5, 0, 0.5 -> mean 0.375
    assert smooth_l1_loss(p, y).item() == pytest.approx(0.375)
    assert jepa_loss(p, y, "cosine").item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="cosine, smooth_l1, mse"):
        jepa_loss(p, y, "l1")


def test_sigmoid_balance_is_the_papers_formula():
    lj, lm = torch.tensor(0.3), torch.tensor(2.0)
    total, s = sigmoid_balance(lj, lm, torch.tensor(0.0))
    assert s.item() == 0.5
    assert total.item() == pytest.approx(0.5 * 0.3 + 0.5 * 2.0)
    w = torch.tensor(1.2, requires_grad=True)
    total, s = sigmoid_balance(lj, lm, w)
    s_ref = 1 / (1 + math.exp(-1.2))
    assert total.item() == pytest.approx(s_ref * 0.3 + (1 - s_ref) * 2.0, rel=1e-6)
    total.backward()
    # dL/dw = s(1-s)(Lj - Lm) < 0 here: descent raises w, moving weight toward the smaller JEPA loss.
    assert w.grad.item() == pytest.approx(s_ref * (1 - s_ref) * (0.3 - 2.0), rel=1e-5)


def test_uncertainty_balance_hand_computed():
    lj, lm = torch.tensor(0.5), torch.tensor(3.0)
    log_vars = torch.tensor([0.2, -0.1])
    total, weight = uncertainty_balance(lj, lm, log_vars, min_log_var=-4.0)
    expected = math.exp(-0.2) * 0.5 + 0.2 + math.exp(0.1) * 3.0 - 0.1
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert weight.item() == pytest.approx(math.exp(-0.2) / (math.exp(-0.2) + math.exp(0.1)), rel=1e-6)


def test_uncertainty_balance_floor_bounds_a_collapsed_jepa_loss():
    log_vars = torch.tensor([-50.0, 0.0], requires_grad=True)
    total, _ = uncertainty_balance(torch.tensor(0.0), torch.tensor(1.0), log_vars, min_log_var=-4.0)
    assert total.item() == pytest.approx(-4.0 + 1.0)
    total.backward()
    assert log_vars.grad[0].item() == 0.0  # no push toward -inf below the floor


def test_fixed_balance():
    total, a = fixed_balance(torch.tensor(1.0), torch.tensor(3.0), 0.25)
    assert a.item() == 0.25 and total.item() == pytest.approx(0.25 + 0.75 * 3.0)
