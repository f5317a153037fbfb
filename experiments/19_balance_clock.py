"""Step 19: is the learnable balance a balance? Compare its logit with the summed learning rate.

The `sigmoid` balance (DESIGN.md, the paper) weighs the losses as `L = s L_jepa + (1 - s) L_mlm` with
`s = sigmoid(w)`, so `dL/dw = s (1 - s) (L_jepa - L_mlm)`. While `L_jepa < L_mlm` that gradient has one sign,
and Adam divides it by its own running RMS: `w` then moves by about one learning rate per step, whatever the
size of the losses, and `w(t)` is close to the sum of the learning rates up to `t`. This script reads the
hybrids' logged `balance_weight` and `learning_rate` (`results/training/<arm>_trainer_state.json`, written by
step 18) and writes `results/training/balance_clock.json`: `logit(s)` against that sum at every logging step.

    python experiments/19_balance_clock.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "training"
ARMS = ("hybrid", "hybrid_shared")


def clock(log_history: list[dict]) -> list[dict]:
    """Per logging step: the logged `s`, its logit, the summed learning rate (trapezoids between logs) and the
    two losses. The learning rate is linear between two logs except across a warm restart, where the trapezoid
    misses at most half a logging interval of the restart's rate."""
    rows, lr_sum, prev_step, prev_lr = [], 0.0, 0, 0.0
    for entry in log_history:
        if "balance_weight" not in entry or "learning_rate" not in entry:
            continue
        step, lr = entry["step"], entry["learning_rate"]
        lr_sum += 0.5 * (lr + prev_lr) * (step - prev_step)
        prev_step, prev_lr = step, lr
        s = entry["balance_weight"]
        rows.append(
            {
                "step": step,
                "s": s,
                "logit_s": math.log(s / (1.0 - s)),
                "lr_sum": lr_sum,
                "jepa_loss": entry["jepa_loss"],
                "mlm_loss": entry["mlm_loss"],
            }
        )
    if not rows:
        raise ValueError(
            "no logging step carries both `balance_weight` and `learning_rate`: is this a hybrid run?"
        )
    return rows


def main() -> None:
    report = {}
    for arm in ARMS:
        path = RESULTS / f"{arm}_trainer_state.json"
        rows = clock(json.loads(path.read_text())["log_history"])
        late = [r for r in rows if r["step"] >= 1000]
        report[arm] = {
            "source": str(path.relative_to(RESULTS.parents[1])),
            "logging_steps": len(rows),
            "steps_with_jepa_loss_below_mlm_loss": sum(r["jepa_loss"] < r["mlm_loss"] for r in rows),
            "final": rows[-1],
            "max_abs_logit_minus_lr_sum": max(abs(r["logit_s"] - r["lr_sum"]) for r in rows),
            "max_rel_logit_minus_lr_sum_from_step_1000": max(
                abs(r["logit_s"] - r["lr_sum"]) / r["lr_sum"] for r in late
            ),
            "every_1000_steps": [r for r in rows if r["step"] % 1000 == 0],
        }
        final = rows[-1]
        print(
            f"{arm}: step {final['step']}: logit(s) {final['logit_s']:.3f}, summed lr {final['lr_sum']:.3f}, "
            f"max |difference| {report[arm]['max_abs_logit_minus_lr_sum']:.3f}, "
            f"L_jepa < L_mlm at {report[arm]['steps_with_jepa_loss_below_mlm_loss']}/{len(rows)} logging steps"
        )
    out = RESULTS / "balance_clock.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
