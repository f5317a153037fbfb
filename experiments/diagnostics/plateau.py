"""What shortens the MLM loss plateau? The MLM arm from step 0 with one change, against the arm itself.

Variants (each a config change of `run_pretraining.py`, everything else the config's):
  pre_ln   pre-LN encoder blocks (`model_config.layer_norm_position: pre`, with a final LayerNorm) instead of
           BERT's post-LN
  mask40   40 % of the tokens masked instead of 15 % (Wettig et al., 2023); the held-out evaluation stays at 15 %
           (`eval_mlm_probability`), so its cross-entropy compares with the arm's

    # train a variant (stop it when you like, e.g. `timeout 1500`; it saves every `save_steps`)
    python experiments/diagnostics/plateau.py train pre_ln experiments/configs/cpu_base.yaml --max_steps 3000 \\
        --output_dir experiments/runs/plateau/pre_ln
    # the variants' logged MLM losses every 100 steps beside the arm's, and held-out CE (mlm_sanity.py) beside its
    python experiments/diagnostics/plateau.py collect --runs pre_ln=experiments/runs/plateau/pre_ln \\
        mask40=experiments/runs/plateau/mask40 \\
        --baseline_summary experiments/results/cpu_49m/stage1_6m/training/mlm_training_summary.json

The published run (`results/diagnostics/plateau_diagnostic.json`) made pre-LN by patching the layer's forward
(no final LayerNorm: the LM head's own LayerNorm normalised the last layer) before the model had the option,
read the losses from the console logs, and measured mask40's held-out CE on its last checkpoint with
`mlm_sanity.py`. `collect` reads each run's last `trainer_state.json` instead (the losses up to its last save).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from transformers import TrainerState

from modeling_jepa_mlm.training import pretrain

VARIANTS = ("pre_ln", "mask40")


def variant_flags(variant: str, config_path: str) -> list[str]:
    """The `run_pretraining.py` flags that make a variant of the config at `config_path`."""
    if variant == "pre_ln":
        model_config = yaml.safe_load(Path(config_path).read_text()).get("model_config") or {}
        return ["--model_config", json.dumps({**model_config, "layer_norm_position": "pre"})]
    if variant == "mask40":
        return ["--mlm_probability", "0.4", "--eval_mlm_probability", "0.15"]
    raise ValueError(f"unknown variant {variant!r}; expected one of {list(VARIANTS)}")


def last_state(run_dir: Path) -> TrainerState:
    """The run's final trainer_state.json, or its last checkpoint's (a run stopped early)."""
    final = run_dir / "trainer_state.json"
    if final.is_file():
        return TrainerState.load_from_json(str(final))
    checkpoints = sorted(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    if not checkpoints:
        raise FileNotFoundError(f"{run_dir} has neither trainer_state.json nor a checkpoint-* folder")
    return TrainerState.load_from_json(str(checkpoints[-1] / "trainer_state.json"))


def mlm_losses(log_history: list[dict], every: int = 100) -> dict[int, float]:
    """The logged MLM loss at every `every`-th step, to 3 decimals."""
    return {
        int(h["step"]): round(float(h["mlm_loss"]), 3)
        for h in log_history
        if "mlm_loss" in h and int(h["step"]) % every == 0
    }


def collect(runs: dict[str, Path], baseline_summary: Path, sanity: dict[str, Path]) -> dict:
    """Each variant's MLM loss every 100 steps beside the arm's at the same steps, and any held-out masked CE."""
    base = json.loads(baseline_summary.read_text())
    base = {int(s): round(v, 3) for s, v in base["trajectory"]["mlm_loss"]}
    curves = {name: mlm_losses(last_state(path).log_history) for name, path in runs.items()}
    steps = sorted({s for curve in curves.values() for s in curve})
    out = {
        "what": "MLM training loss every 100 steps (BERT 80/10/10 masking of the run's rate; same data, order, "
        "batch, lr, schedule and seed as the MLM arm), and held-out masked CE at 15 % (mlm_sanity.py)",
        "mlm_loss": {"MLM arm": {s: base[s] for s in steps if s in base}, **curves},
    }
    held_out = {}
    for name, path in sanity.items():
        record = json.loads(path.read_text())
        held_out["train unigram"] = round(record["unigram_cross_entropy_train"], 3)
        held_out.update(
            {f"{name}: {k}": round(v["cross_entropy"], 3) for k, v in record.items() if isinstance(v, dict)}
        )
    if held_out:
        out["held_out_masked_ce"] = held_out
    return out


def pairs(items: list[str], flag: str) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes NAME=PATH items; got {item!r}")
        out[name] = Path(path)
    return out


def main(argv: list[str] | None = None) -> dict | None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train", help="pre-train one variant (the rest of the line goes to run_pretraining)"
    )
    train.add_argument("variant", choices=VARIANTS)
    train.add_argument("config", help="the MLM arm's run_pretraining config (YAML)")
    col = sub.add_parser("collect", help="set the variants' losses beside the arm's (JSON)")
    col.add_argument("--runs", nargs="+", required=True, help="NAME=RUN_DIR of each variant")
    col.add_argument("--baseline_summary", required=True, help="the MLM arm's training_summary.json")
    col.add_argument("--sanity", nargs="*", default=[], help="NAME=mlm_sanity.py JSON of held-out CE")
    col.add_argument(
        "--output", type=argparse.FileType("w"), default=sys.stdout, help="JSON file (default: stdout)"
    )
    args, rest = p.parse_known_args(argv)
    if args.command == "train":
        pretrain.main([args.config, *rest, *variant_flags(args.variant, args.config)])
        return None
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    out = collect(pairs(args.runs, "--runs"), Path(args.baseline_summary), pairs(args.sanity, "--sanity"))
    args.output.write(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
