"""Step 3 (issue 10): `run_glue_probe.py` on the three arms and the random control, one model at a time.

This is `run_glue_probe.main` cut in two so that each model can be analysed as soon as its training ends
(the machine is a shared 2-core CPU; waiting for the slowest arm before analysing anything would not fit
the session). It calls run_glue_probe's own functions in the same order with the same arguments, so the
results are those of

    python run_glue_probe.py --model_name_or_path <hybrid> <mlm> <hybrid_shared> <random_init> \
        --model_names hybrid mlm hybrid_shared random_init --protocol P --glue_dir ... [same flags]

(the resampling indices depend only on task, sizes and seed, never on the model or the order in which
models are analysed).

    # analyse one model (pickles its estimates under <output_dir>/state/<name>.pkl; embeddings cached)
    python experiments/03_probe.py --only mlm  --protocol standard --output_dir D [probe flags]
    # combine (analyses whatever is still missing) and write results.json, report.md, plots
    python experiments/03_probe.py --protocol standard --output_dir D [probe flags]

Models (the first plays the paper's hybrid in the claims): experiments/runs/{hybrid,mlm,hybrid_shared,random_init};
with ARM_SUFFIX=_continue the arms are read from experiments/runs/<arm>_continue (the 6,000-step exports of
10_continue.sh), the random control from experiments/runs/random_init either way.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import run_glue_probe as rgp  # noqa: E402
from modeling_jepa_mlm.analysis.glue import get_task  # noqa: E402
from modeling_jepa_mlm.analysis.report import jsonable, write_outputs  # noqa: E402

logger = logging.getLogger("03_probe")

import os  # noqa: E402

# PROBE_NAMES (comma-separated) restricts the combine step to some models, for a partial report
NAMES = os.environ.get("PROBE_NAMES", "hybrid,mlm,hybrid_shared,random_init").split(",")
SUFFIX = os.environ.get("ARM_SUFFIX", "")
PATHS = [str(REPO / "experiments" / "runs" / (n if n == "random_init" else n + SUFFIX)) for n in NAMES]


def probe_args(rest: list[str]) -> argparse.Namespace:
    return rgp.parse_args(["--model_name_or_path", *PATHS, "--model_names", *NAMES, *rest])


def analyse_one(name: str, path: str, task_data: dict, args: argparse.Namespace, state_dir: Path) -> dict:
    """`run_glue_probe.analyse_model` for one model, its record pickled under `state_dir` (reused if there)."""
    out = state_dir / f"{name}.pkl"
    if out.exists():
        with out.open("rb") as f:
            return pickle.load(f)
    start = time.perf_counter()
    record = rgp.analyse_model(path, task_data, args, args.cache_dir or str(Path(args.output_dir) / "cache"))
    record["analyse_seconds"] = time.perf_counter() - start
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(record, f)
    tmp.replace(out)
    logger.info("%s analysed in %.0f s", name, record["analyse_seconds"])
    return record


def main() -> None:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--only", default=None, choices=NAMES)
    p.add_argument(
        "--combine_dir", default=None, help="write the combined outputs here (default: --output_dir)"
    )
    known, rest = p.parse_known_args()
    args = probe_args(rest)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # as run_glue_probe.main: threadpoolctl limits only the BLAS libraries already loaded
    import scipy.linalg  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        start = time.perf_counter()
        state_dir = Path(args.output_dir) / "state"
        task_data = {t: rgp.load_task_data(get_task(t), args) for t in args.tasks}
        todo = [known.only] if known.only else NAMES
        records = {n: analyse_one(n, PATHS[NAMES.index(n)], task_data, args, state_dir) for n in todo}
        if known.only:
            return
        out = rgp.assemble_results(NAMES, records, task_data, args)
        out["timing"]["analyse_seconds"] = {n: records[n]["analyse_seconds"] for n in NAMES}
        out["timing"]["total_seconds"] = (
            time.perf_counter() - start + sum(out["timing"]["analyse_seconds"].values())
        )
        out = jsonable(out)
        write_outputs(out, known.combine_dir or args.output_dir, plots=args.plots)
        logger.info("wrote %s", known.combine_dir or args.output_dir)


if __name__ == "__main__":
    main()
