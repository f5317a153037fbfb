"""`python -m modeling_jepa_mlm.study <study.yaml> [--stages ...] [--only RUN ...] [--probes NAME ...] [--measured_only]
[--dry_run]`.

Runs the study's stages in order (pretrain, control, parity, probe, summary), each skipping what is already
done, so the same command resumes an interrupted study."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence

from .runner import STAGES, is_complete, latest_step, measured, run_study
from .spec import load_study


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m modeling_jepa_mlm.study", description=__doc__)
    p.add_argument("study", help="the study file (YAML)")
    p.add_argument(
        "--stages", nargs="+", default=list(STAGES), choices=STAGES, help="stages to run, in order"
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="pre-train and probe only these runs (<arm>-seed<k>); the controls are probed once exported",
    )
    p.add_argument(
        "--probes",
        nargs="+",
        default=None,
        help="run only these probes of the study file (its `probes:` keys)",
    )
    p.add_argument(
        "--measured_only",
        action="store_true",
        help="probe stage: while runs are unfinished, assemble the comparisons and claims over the models "
        "measured so far (the summary names the missing ones; a later probe stage over all replaces them)",
    )
    p.add_argument(
        "--dry_run", action="store_true", help="print the runs, their budgets and state; train nothing"
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    spec = load_study(args.study)
    if args.dry_run:
        plan = [
            {
                "run": r.name,
                "max_steps": r.max_steps,
                "done_steps": latest_step(r),
                "complete": is_complete(r),
                "measured": measured(spec, r),
                "output_dir": str(r.output_dir),
            }
            for r in spec.runs()
        ]
        print(json.dumps({"study": spec.name, "results_dir": str(spec.results_dir), "runs": plan}, indent=2))
        return {"runs": plan}
    return run_study(spec, args.stages, args.only, args.probes, measured_only=args.measured_only)


if __name__ == "__main__":
    main()
