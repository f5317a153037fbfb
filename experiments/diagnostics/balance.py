"""Diagnostic: does each balance keep the objective joint? The paper's hybrid on real Wikipedia, one run per balance.

Trains the paper's hybrid (blocks context, cosine JEPA loss, EMA target) with each balance for the same steps,
same data, order and seed, through `modeling_jepa_mlm.training` (one subprocess per run, log in a file; a run
resumes from its last checkpoint when restarted), then writes the logged trajectories (the JEPA weight `s`, both
losses, the weighted gradient norms at the encoder and the MLM gradient share) to one JSON and one plot:

    OMP_NUM_THREADS=1 python experiments/diagnostics/balance.py train --balances sigmoid gradnorm
    python experiments/diagnostics/balance.py report

Runs and logs go to experiments/runs/balance_diagnostic/ (git-ignored); results to
experiments/results/balance_diagnostic/{balance_diagnostic.json,balance_diagnostic.png}. `--variant long` trains
the same runs on a warmup-stable-decay schedule (peak held until the last 300 steps, so the sigmoid's logit keeps
growing by a learning rate a step) into runs/balance_diagnostic/long/ and balance_diagnostic_long.{json,png}:

    OMP_NUM_THREADS=1 python experiments/diagnostics/balance.py train --variant long --max_steps 2500 \
        --balances sigmoid gradnorm
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

from modeling_jepa_mlm.publishing.cards import trajectory
from modeling_jepa_mlm.study.summary import SHARE_BAND, share_statistics

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "experiments" / "runs" / "balance_diagnostic"
RESULTS = ROOT / "experiments" / "results" / "balance_diagnostic"
BALANCES = ("sigmoid", "uncertainty", "gradnorm", "loss_scale")
SERIES = ("balance_weight", "mlm_loss", "jepa_loss", "grad_share_mlm", "grad_norm_mlm", "grad_norm_jepa")

MODEL = dict(
    objective="hybrid",
    jepa_context="blocks",
    jepa_loss="cosine",
    layer_norm_position="pre",
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=1024,
    predictor_hidden_size=128,
    predictor_num_hidden_layers=2,
    predictor_num_attention_heads=4,
    predictor_intermediate_size=512,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    # gradnorm and loss_scale: the running estimates' decay and gradnorm's bound on its factor (the defaults)
    balance_ema_decay=0.9,
    balance_max_scale=1e7,
)
TRAINING = dict(
    dataset_name="/work/shared/data/wikipedia",
    dataset_config_name="2015.en",
    tokenizer_name="/work/shared/data/tokenizers/bert-base-uncased",
    max_seq_length=128,
    preprocessing_num_workers=1,
    validation_split_percentage=0.5,
    per_device_train_batch_size=16,
    learning_rate=3e-3,
    warmup_steps=100,
    lr_scheduler_type="linear",
    weight_decay=0.01,
    adam_beta2=0.98,
    max_grad_norm=1.0,
    bf16=True,
    use_cpu=True,
    logging_steps=20,
    save_strategy="steps",
    save_steps=200,
    save_total_limit=1,
    eval_strategy="no",
    dataloader_num_workers=0,
    report_to="none",
    seed=42,
    data_seed=42,
    disable_tqdm=True,
)


# Schedule variants: the default linear decay over the run, or warmup-stable-decay (`long`).
VARIANTS = {
    "": {},
    "long": {"lr_scheduler_type": "warmup_stable_decay", "lr_scheduler_kwargs": {"num_decay_steps": 300}},
}


def runs_dir(variant: str) -> Path:
    return RUNS / variant if variant else RUNS


def result_stem(variant: str) -> str:
    return f"balance_diagnostic_{variant}" if variant else "balance_diagnostic"


def run_config(balance: str, max_steps: int, variant: str = "") -> dict:
    """The run's whole configuration: everything but `model_config.balance` is shared by the arms."""
    return {
        "model_config": {**MODEL, "balance": balance},
        **TRAINING,
        **VARIANTS[variant],
        "max_steps": max_steps,
        "output_dir": str(runs_dir(variant) / balance),
    }


def train(balance: str, max_steps: int, variant: str = "") -> int:
    """Train (or resume) one arm in a subprocess, its log in <runs>/<balance>.log. Returns the exit code."""
    folder = runs_dir(variant)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / f"{balance}.yaml"
    config_path.write_text(yaml.safe_dump(run_config(balance, max_steps, variant), sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with open(folder / f"{balance}.log", "a") as log:
        cmd = [sys.executable, "-m", "modeling_jepa_mlm.training", str(config_path)]
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def load_trajectory(balance: str, variant: str = "") -> dict[str, list[list[float]]] | None:
    """The run's logged trajectory: its training summary when it finished; for a run stopped before its end, the
    log dicts the Trainer printed (trainer_state.json exists only at checkpoints, every 200 steps), the i-th
    being step `i * logging_steps` (the log of one uninterrupted process)."""
    folder = runs_dir(variant) / balance
    summary = folder / "training_summary.json"
    if summary.is_file():
        return trajectory({"summary": json.loads(summary.read_text())})
    log = runs_dir(variant) / f"{balance}.log"
    if not log.is_file():
        return None
    text = log.read_text()
    if text.count("objective=hybrid") != 1:
        raise RuntimeError(f"{log} holds more than one process's log; step numbers cannot be inferred")
    lines = [ast.literal_eval(line) for line in text.splitlines() if line.startswith("{'loss'")]
    history = [
        {"step": (i + 1) * TRAINING["logging_steps"], **{k: float(v) for k, v in d.items()}}
        for i, d in enumerate(lines)
    ]
    return trajectory({"trainer_state": {"log_history": history}})


def report(balances: tuple[str, ...], variant: str = "") -> dict:
    """Write the JSON and the plot from whatever the runs have logged so far."""
    warmup = TRAINING["warmup_steps"]
    runs = {}
    for balance in balances:
        logger.info("reading balance=%s", balance)
        traj = load_trajectory(balance, variant)
        if traj is None:
            logger.warning("no log for balance %s yet", balance)
            continue
        series = {k: [[int(s), round(float(v), 6)] for s, v in traj.get(k, [])] for k in SERIES}
        last = {k: v[-1][1] for k, v in series.items() if v}
        config = runs_dir(variant) / f"{balance}.yaml"
        runs[balance] = {
            "max_steps": yaml.safe_load(config.read_text())["max_steps"] if config.is_file() else None,
            "finished": (runs_dir(variant) / balance / "training_summary.json").is_file(),
            "steps_logged": series["mlm_loss"][-1][0] if series["mlm_loss"] else 0,
            "final": last,
            "grad_share_mlm_after_warmup": share_statistics(series["grad_share_mlm"], warmup, SHARE_BAND),
            "trajectory": series,
        }
    result = {
        "what": "paper's hybrid (blocks context), one run per balance, same data/order/seed; window averages "
        "every 20 steps. balance_weight: the JEPA weight s (normalised for uncertainty and loss_scale); "
        "grad_norm_*: weighted norm of each objective's gradient at the encoder's last hidden states; "
        "grad_share_mlm: grad_norm_mlm / (grad_norm_mlm + grad_norm_jepa).",
        "model_config": MODEL,
        "training": {**{k: v for k, v in TRAINING.items() if k != "disable_tqdm"}, **VARIANTS[variant]},
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{result_stem(variant)}.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(runs, RESULTS / f"{result_stem(variant)}.png")
    return result


def plot(runs: dict, path: Path) -> None:
    """Four panels against the step: JEPA weight, MLM gradient share (with the 1:1 band), MLM loss, JEPA loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("balance_weight", "JEPA weight s (normalised)", False),
        ("grad_share_mlm", "MLM share of the gradient at the encoder", False),
        ("mlm_loss", "MLM loss (cross-entropy, nats)", False),
        ("jepa_loss", "JEPA loss (1 - cos)", True),
    )
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for ax, (key, label, log_y) in zip(axes.flat, panels):
        for balance, run in runs.items():
            points = run["trajectory"].get(key) or []
            if points:
                ax.plot([s for s, _ in points], [v for _, v in points], label=balance, linewidth=1.5)
        if key == "grad_share_mlm":
            ax.axhspan(*SHARE_BAND, color="grey", alpha=0.15, label="30-70 % band")
            ax.set_ylim(0, 1)
        if key == "balance_weight":
            ax.set_ylim(0, 1)
        if log_y:
            ax.set_yscale("log")
        ax.axvline(TRAINING["warmup_steps"], color="black", linestyle=":", linewidth=1)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("optimizer step (dotted: end of warm-up)")
    axes[0, 1].legend(loc="best", fontsize=9)
    fig.suptitle("Balances of the hybrid JEPA + MLM objective (Wikipedia 2015.en, 4 x 256 encoder)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("train", "report"))
    parser.add_argument("--balances", nargs="+", default=list(BALANCES), choices=BALANCES)
    parser.add_argument("--max_steps", type=int, default=1000)
    parser.add_argument("--variant", default="", choices=tuple(VARIANTS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "train":
        for balance in args.balances:
            logger.info("training balance=%s for %d steps", balance, args.max_steps)
            code = train(balance, args.max_steps, args.variant)
            if code:
                log = runs_dir(args.variant) / f"{balance}.log"
                raise SystemExit(f"balance={balance} failed (exit {code}); see {log}")
    result = report(tuple(args.balances if args.command == "report" else BALANCES), args.variant)
    for balance, run in result["runs"].items():
        logger.info(
            "%s: steps %s, MLM share after warm-up %s",
            balance,
            run["steps_logged"],
            run["grad_share_mlm_after_warmup"],
        )


if __name__ == "__main__":
    main()
