"""Training throughput of each arm of a study, measured in the real pre-training command on this machine.

Each arm's resolved run configuration (base + overrides, from the study file) trains for `--steps` optimizer
steps from scratch into a temporary folder, one arm after the other, in a subprocess of
`python -m modeling_jepa_mlm.training` (so data, collator, model, Trainer and bf16 autocast are exactly the
run's), with evaluation and checkpoints off. The Trainer logs `tokens_per_second` over each window of
`--log_every` steps; the first window (start-up, first allocations) is dropped and the median of the rest is
reported. Use it to turn tokens into wall time on a machine where the runs themselves shared the cores.

    OMP_NUM_THREADS=2 python benchmarks/recipe_throughput.py experiments/studies/escape.yaml \
        --json benchmarks/results/escape_throughput.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers
import yaml

from modeling_jepa_mlm.study.spec import load_study


def measure(config: dict, steps: int, log_every: int, workdir: Path) -> dict:
    config = {
        **config,
        "max_steps": steps,
        "logging_steps": log_every,
        "eval_strategy": "no",
        "save_strategy": "no",
        "output_dir": str(workdir / "run"),
        "report_to": "none",
    }
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log = workdir / "train.log"
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "modeling_jepa_mlm.training", str(config_path)], stdout=out, stderr=out
        )
    if proc.returncode:
        raise RuntimeError(f"training failed (exit {proc.returncode}); log:\n{log.read_text()[-3000:]}")
    history = json.loads((workdir / "run" / "trainer_state.json").read_text())["log_history"]
    rates = [h["tokens_per_second"] for h in history if "tokens_per_second" in h][1:]
    return {
        "tokens_per_step": config["per_device_train_batch_size"]
        * config.get("gradient_accumulation_steps", 1)
        * config["max_seq_length"],
        "windows": rates,
        "tokens_per_second": round(statistics.median(rates), 1),
    }


def merge(earlier: dict, later: dict) -> dict:
    """`later` with the recipes of `earlier` it did not measure; every recipe keeps its own command, date and
    machine (a measurement is only comparable with the conditions it was taken under)."""
    recipes = {}
    for run in (earlier, later):
        for name, recipe in run["recipes"].items():
            recipes[name] = {
                **recipe,
                "command": recipe.get("command", run["command"]),
                "date": recipe.get("date", run["date"]),
                "machine": recipe.get("machine", run["machine"]),
            }
    return {**later, "recipes": recipes}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study")
    parser.add_argument("--arms", nargs="*", help="default: every arm of the study")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--log_every", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other recipes of an existing --json file (each with its own date and machine)",
    )
    args = parser.parse_args(argv)
    spec = load_study(args.study)
    first_seed = {run.arm: run for run in reversed(spec.runs())}
    recipes = {}
    for arm in args.arms or list(spec.arms):
        with tempfile.TemporaryDirectory() as tmp:
            recipes[arm] = measure(first_seed[arm].config, args.steps, args.log_every, Path(tmp))
        print(arm, recipes[arm]["tokens_per_second"], "tokens/s", flush=True)
    result = {
        "command": "python benchmarks/recipe_throughput.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "load_average_at_end": os.getloadavg(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "steps": args.steps,
        "recipes": recipes,
    }
    if args.update and args.json and args.json.is_file():
        result = merge(json.loads(args.json.read_text()), result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
