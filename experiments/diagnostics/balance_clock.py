"""Is the learnable balance a balance? The `sigmoid` balance's logit against the summed learning rate.

The `sigmoid` balance (the paper's) weighs the losses as `L = s L_jepa + (1 - s) L_mlm` with `s = sigmoid(w)`,
so `dL/dw = s (1 - s) (L_jepa - L_mlm)`. While `L_jepa < L_mlm` that gradient has one sign, and Adam divides it
by its own running RMS: `w` then moves by about one learning rate per step, whatever the size of the losses,
and `w(t)` is close to the sum of the learning rates up to `t`. This reads the hybrids' logged `balance_weight`
and `learning_rate` (`<training_dir>/<arm>_trainer_state.json`) and writes `logit(s)` against that sum at every
logging step, with the largest gap over the run.

    python experiments/diagnostics/balance_clock.py experiments/results/cpu_49m/training
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


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


def arm_report(rows: list[dict], source: str) -> dict:
    """The run's clock in brief: the final row, the largest |logit(s) - summed lr| (absolute, and relative
    from step 1,000 on, once warm-up is over) and the rows of every 1,000th step."""
    late = [r for r in rows if r["step"] >= 1000]
    return {
        "source": source,
        "logging_steps": len(rows),
        "steps_with_jepa_loss_below_mlm_loss": sum(r["jepa_loss"] < r["mlm_loss"] for r in rows),
        "final": rows[-1],
        "max_abs_logit_minus_lr_sum": max(abs(r["logit_s"] - r["lr_sum"]) for r in rows),
        "max_rel_logit_minus_lr_sum_from_step_1000": max(
            (abs(r["logit_s"] - r["lr_sum"]) / r["lr_sum"] for r in late), default=None
        ),
        "every_1000_steps": [r for r in rows if r["step"] % 1000 == 0],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("training_dir", help="folder with <arm>_trainer_state.json of each hybrid arm")
    p.add_argument("--arms", nargs="+", default=["hybrid", "hybrid_shared"])
    p.add_argument("--output", default=None, help="JSON file (default: <training_dir>/balance_clock.json)")
    p.add_argument(
        "--source_root",
        default=None,
        help="record each trainer state's path relative to this folder (default: as given)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    training = Path(args.training_dir)
    report = {}
    for arm in args.arms:
        path = training / f"{arm}_trainer_state.json"
        if not path.is_file():
            raise SystemExit(f"{path} does not exist: --arms names arms with a trainer state in {training}")
        rows = clock(json.loads(path.read_text())["log_history"])
        source = path.relative_to(args.source_root) if args.source_root else path
        report[arm] = arm_report(rows, str(source))
        final = rows[-1]
        print(
            f"{arm}: step {final['step']}: logit(s) {final['logit_s']:.3f}, summed lr {final['lr_sum']:.3f}, "
            f"max |difference| {report[arm]['max_abs_logit_minus_lr_sum']:.3f}, "
            f"L_jepa < L_mlm at {report[arm]['steps_with_jepa_loss_below_mlm_loss']}/{len(rows)} logging steps"
        )
    out = Path(args.output) if args.output else training / "balance_clock.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
