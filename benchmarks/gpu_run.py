"""The GPU machine's single command (issue 23): throughput beside `BertForMaskedLM` with MFU, then the paper's
6 x 512 comparison sized to the measured throughput and probed on GLUE, inside a fixed wall-clock budget.

    bash benchmarks/gpu_run.sh OUT_DIR [flags]               # on the GPU machine: installs .whl/, then this
    python benchmarks/gpu_run.py OUT_DIR --rehearsal         # every stage at tiny sizes on CPU, synthetic data

Stages (each a subprocess with its own time limit; every limit derives from `--budget_s`, so the whole command
ends in time even when a stage is slow, and a failed or timed-out stage is recorded and the next one runs):

1. environment: GPU, driver, Python and package versions, and whether they meet pyproject.toml's minimums;
   in the background (at `nice 10`) the random-initialisation control, `run_pretraining.py` with the MLM arm's
   config and 0 steps, which tokenizes the corpus into the shared `datasets` cache and exports the weights
   every arm starts from;
2. throughput (`benchmarks/throughput.py`): `BertForMaskedLM`, `mlm`, `hybrid_shared`, `hybrid` at BERT-base
   12 x 768 (sequences 128 and 512) and at the paper's 6 x 512, bf16, SDPA, eager; then `torch.compile`d rows,
   one arm per process, while `--compile_budget_s` lasts; MFU against 989 dense bf16 TFLOP/s (H100/H200 SXM
   datasheet) and against an 8192^3 bf16 matrix product measured on the spot;
3. pre-training of the MLM arm, the paper's hybrid (blocks, sigmoid) and a balanced hybrid (`--balanced_arm`),
   one after the other, on identical token budgets: the most steps whose predicted time (from the 6 x 512
   throughput rows) fits before the probe's reserve, pre-LN, learning rate `--lr`, one seed;
4. `run_glue_probe.py` (standard protocol) on the three arms and the random control;
5. bundling into OUT_DIR, within what a GPU run brings back (at most 8 files of at most 16 MiB, flat):
   results.json, report.md, training.png, probes.png, training_summaries.json, logs.tar.gz, gpu_run.log.

Everything is called through the project's command lines (`run_pretraining.py`, `run_glue_probe.py`,
`benchmarks/throughput.py`); intermediate files go to `--work_dir` (default: a new folder under /tmp).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import throughput  # benchmarks/throughput.py, beside this file
import yaml

logger = logging.getLogger("gpu_run")

REPO = Path(__file__).resolve().parents[1]
OUTPUT_LIMITS = {"max_files": 8, "max_file_bytes": 16 * 2**20, "max_depth": 2}
OUTPUT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
# The pre-training arms: `model_config` fields over the shared encoder; the throughput row that prices a step.
ARMS: dict[str, dict[str, str]] = {
    "mlm": {"objective": "mlm"},
    "hybrid": {"objective": "hybrid", "jepa_context": "blocks", "balance": "sigmoid"},
    "hybrid_shared": {"objective": "hybrid", "jepa_context": "shared", "balance": "sigmoid"},
    "gradnorm": {"objective": "hybrid", "jepa_context": "blocks", "balance": "gradnorm"},
}
PRICED_BY = {"mlm": "mlm", "hybrid": "hybrid", "hybrid_shared": "hybrid_shared", "gradnorm": "hybrid"}
# An arm with no throughput row of its own is assumed this much slower than the row that prices it
# (gradient-based balancing adds backward work that the benchmark does not measure).
UNMEASURED_COST = {"gradnorm": 1.5}
CONTROL = "random_init"
# GLUE headline metric per task (the GLUE paper's; MRPC's F1, STS-B's Spearman).
HEADLINE = {
    "sst2": "accuracy",
    "mrpc": "f1",
    "cola": "matthews_correlation",
    "stsb": "spearmanr",
    "mnli": "accuracy",
}
MIN_MLM_X_BERT = 1.5  # the issue's bar: mlm tokens/s over BertForMaskedLM's at BERT-base, sequence 128


@dataclass(frozen=True)
class ThroughputCall:
    """One `throughput.py` process: these sizes at one sequence length and batch."""

    sizes: tuple[str, ...]
    seq_len: int
    batch_size: int
    arms: tuple[str, ...] = throughput.ARMS
    steps: int = 10
    warmup: int | None = None

    def argv(self, device: str, compile_backend: str | None, matmul_n: int | None) -> list[str]:
        argv = [
            "--device",
            device,
            "--sizes",
            *self.sizes,
            "--seq_lens",
            str(self.seq_len),
            "--batch_size",
            str(self.batch_size),
            "--arms",
            *self.arms,
            "--steps",
            str(self.steps),
        ]
        if self.warmup is not None:
            argv += ["--warmup", str(self.warmup)]
        if compile_backend:
            argv += ["--compile", "--compile_backend", compile_backend]
        if matmul_n:
            argv += ["--matmul_n", str(matmul_n)]
        if device == "cpu":
            argv += [
                "--peak_tflops",
                "1.0",
            ]  # the rehearsal exercises the MFU columns; the number means nothing
        return argv


@dataclass(frozen=True)
class Plan:
    """Sizes and time limits of one kind of run (`PLANS`)."""

    device: str
    eager: tuple[ThroughputCall, ...]
    compiled: tuple[ThroughputCall, ...]
    compile_backend: str
    matmul_n: int
    bert_base: str  # LAYERSxWIDTH of the BERT-base rows
    paper: str  # LAYERSxWIDTH of the pre-trained arms
    model: dict[str, int]  # model_config sizes of the pre-trained arms (layers and width must match `paper`)
    seq_len: int
    batch_size: int
    min_tokens: int  # per arm: the issue's bar; compiled throughput rows get only the time it leaves
    min_steps: int
    max_steps: int
    dataloader_workers: int
    preprocessing_workers: int
    max_eval_samples: int
    probe_flags: tuple[str, ...]
    budget_s: float  # whole driver
    compile_budget_s: float  # all compiled throughput rows
    probe_reserve_s: float  # kept for the probe after pre-training
    bundle_reserve_s: float
    arm_overhead_s: float  # process start, data loading, model build and evaluation of one pre-training run
    safety: float  # fraction of the predicted time a budget may fill


PAPER_MODEL = {
    "hidden_size": 512,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "intermediate_size": 2048,
    "predictor_hidden_size": 256,
    "predictor_num_hidden_layers": 2,
    "predictor_num_attention_heads": 4,
    "predictor_intermediate_size": 1024,
}
PLANS = {
    "gpu": Plan(
        device="cuda",
        eager=(
            ThroughputCall(("12x768", "6x512"), 128, 256),
            ThroughputCall(("12x768",), 512, 64),
        ),
        compiled=tuple(ThroughputCall(("12x768",), 128, 256, arms=(arm,)) for arm in throughput.ARMS),
        compile_backend="inductor",
        matmul_n=8192,
        bert_base="12x768",
        paper="6x512",
        model=PAPER_MODEL,
        seq_len=128,
        batch_size=256,
        min_tokens=100_000_000,
        min_steps=100,
        max_steps=20_000,
        dataloader_workers=6,
        preprocessing_workers=12,
        max_eval_samples=2048,
        probe_flags=(),
        budget_s=525,  # + ~15 s of gpu_run.sh (wheels, imports): the whole command within 9 minutes
        compile_budget_s=100,
        probe_reserve_s=90,
        bundle_reserve_s=10,
        arm_overhead_s=20,
        safety=0.9,
    ),
    "rehearsal": Plan(
        device="cpu",
        eager=(ThroughputCall(("1x64",), 32, 4, steps=1, warmup=1),),
        compiled=(ThroughputCall(("1x64",), 32, 4, arms=("mlm",), steps=1, warmup=1),),
        compile_backend="eager",
        matmul_n=256,
        bert_base="1x64",
        paper="1x64",
        model={
            "hidden_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 128,
            "predictor_hidden_size": 32,
            "predictor_num_hidden_layers": 1,
            "predictor_num_attention_heads": 2,
            "predictor_intermediate_size": 64,
        },
        seq_len=32,
        batch_size=8,
        min_tokens=0,
        min_steps=3,
        max_steps=4,
        dataloader_workers=0,
        preprocessing_workers=1,
        max_eval_samples=16,
        probe_flags=(
            "--tasks",
            "sst2",
            "stsb",
            "--max_train_samples",
            "80",
            "--max_eval_samples",
            "40",
            "--max_geometry_samples",
            "40",
            "--n_bootstrap",
            "20",
            "--n_subsamples",
            "10",
            "--batch_size",
            "40",
            "--poolings",
            "mean",
            "max",
            "--blas_threads",
            "1",
        ),
        budget_s=600,
        compile_budget_s=120,
        probe_reserve_s=60,
        bundle_reserve_s=10,
        arm_overhead_s=5,
        safety=0.9,
    ),
}


# ---------------------------------------------------------------------------------------------- pure helpers


def token_budget(
    seconds_per_step: Mapping[str, float], seconds: float, min_steps: int, max_steps: int, safety: float
) -> int:
    """The one step count every arm trains: `floor(safety * seconds / sum_a t_a)`, `t_a` arm a's seconds per
    step, clamped to `[min_steps, max_steps]` (identical budgets: all arms run the same steps of the same
    batch and sequence length, one after the other, in `seconds`)."""
    total = sum(seconds_per_step.values())
    if total <= 0 or not math.isfinite(total):
        raise ValueError(f"seconds per step must be positive and finite; got {dict(seconds_per_step)}")
    return int(min(max_steps, max(min_steps, math.floor(safety * max(seconds, 0.0) / total))))


def step_seconds(
    rows: Sequence[Mapping[str, Any]], arms: Sequence[str], size: str, seq_len: int, tokens_per_step: int
) -> dict[str, float]:
    """Predicted seconds per pre-training step of each arm: `tokens_per_step / tokens_per_s` of the eager
    throughput row of its priced arm (`PRICED_BY`) at `size` and `seq_len`, times `UNMEASURED_COST`.

    Raises:
        ValueError: no such row (the throughput stage failed or measured another size).
    """
    name = f"{size} L={seq_len}"
    eager = {row["arm"]: row for row in rows if row["size"] == name and not row.get("compile")}
    missing = sorted({PRICED_BY[a] for a in arms} - set(eager))
    if missing:
        raise ValueError(f"no eager throughput row for {missing} at {name}; rows: {sorted(eager)}")
    return {
        arm: tokens_per_step / eager[PRICED_BY[arm]]["tokens_per_s"] * UNMEASURED_COST.get(arm, 1.0)
        for arm in arms
    }


def group_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`throughput.add_ratios` within each (size, compile) group: rows of one group may come from separate
    processes (the compiled rows run one arm per process)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["size"], row.get("compile")), []).append(row)
    for group in groups.values():
        throughput.add_ratios(group)
    return rows


def headline_table(probe: Mapping[str, Any], pooling: str | None = None) -> dict[str, dict[str, dict]]:
    """`model -> task -> {"metric", "value", "ci_low", "ci_high"}`: each task's GLUE headline metric
    (`HEADLINE`) at `pooling` (default: the probe's first pooling), from a probe `results.json`."""
    pooling = pooling or probe["poolings"][0]
    table = {}
    for model, by_task in probe["results"].items():
        table[model] = {}
        for task, by_pool in by_task.items():
            metric = HEADLINE.get(task)
            cell = by_pool.get(pooling, {}).get(metric)
            if cell is not None:
                table[model][task] = {"metric": metric, "pooling": pooling, **cell}
    return table


def check_output(folder: Path) -> dict[str, Any]:
    """Whether `folder` can come back from the GPU machine (`OUTPUT_LIMITS`, names of letters, digits, '.',
    '_', '-'); lists every file with its size and each problem found."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    problems = []
    if len(files) > OUTPUT_LIMITS["max_files"]:
        problems.append(f"{len(files)} files > {OUTPUT_LIMITS['max_files']}")
    for path in files:
        rel = path.relative_to(folder)
        if path.stat().st_size > OUTPUT_LIMITS["max_file_bytes"]:
            problems.append(f"{rel}: {path.stat().st_size} bytes > {OUTPUT_LIMITS['max_file_bytes']}")
        if len(rel.parts) - 1 > OUTPUT_LIMITS["max_depth"]:
            problems.append(f"{rel}: deeper than {OUTPUT_LIMITS['max_depth']} folders")
        if not all(OUTPUT_NAME.match(part) for part in rel.parts):
            problems.append(f"{rel}: a name outside [A-Za-z0-9._-]")
    return {
        "files": {str(p.relative_to(folder)): p.stat().st_size for p in files},
        "problems": problems,
        "ok": not problems,
    }


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def meets_minimums(pyproject: Path, versions: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """Each dependency in pyproject.toml: its requirement, the version installed (or given in `versions`, by
    canonical name: None for one that is absent) and whether it is met; `ok` when all are met."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: report, do not stop the run
        return {"packages": {}, "ok": None, "error": "reading pyproject.toml needs Python >= 3.11 (tomllib)"}
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    given = {canonicalize_name(k): v for k, v in (versions or {}).items()}
    rows = {}
    for dep in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        version = given.get(name) if versions is not None else installed_version(req.name)
        rows[req.name] = {
            "required": str(req.specifier),
            "installed": version,
            "ok": version is not None and req.specifier.contains(version, prereleases=True),
        }
    return {"packages": rows, "ok": all(r["ok"] for r in rows.values())}


# ---------------------------------------------------------------------------------------------- processes


class Clock:
    """Seconds since the driver started, and what is left before a deadline (seconds since start)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start

    def left(self, deadline: float) -> float:
        return deadline - self.now()


@dataclass
class Stage:
    """One subprocess of the run: what it ran, how it ended, its log."""

    name: str
    argv: list[str]
    log: Path
    timeout_s: float
    status: str = "not run"  # ok | failed | timeout | skipped | stopped | not run
    rc: int | None = None
    start_s: float | None = None
    wall_s: float | None = None
    detail: str = ""
    proc: subprocess.Popen | None = dataclasses.field(default=None, repr=False)
    _started: float = 0.0

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "rc": self.rc,
            "start_s": None if self.start_s is None else round(self.start_s, 1),
            "wall_s": None if self.wall_s is None else round(self.wall_s, 1),
            "timeout_s": round(self.timeout_s, 1),
            "log": self.log.name,
            "command": " ".join(self.argv),
            "detail": self.detail,
        }


class Runner:
    """Starts the stages' subprocesses (each in a process group of its own, so a time limit ends it whole)."""

    def __init__(self, clock: Clock, log_dir: Path, env: Mapping[str, str]) -> None:
        self.clock = clock
        self.log_dir = log_dir
        self.env = dict(env)
        self.stages: list[Stage] = []

    def skip(self, name: str, why: str) -> Stage:
        stage = Stage(name, [], self.log_dir / f"{name}.log", 0.0, status="skipped", detail=why)
        self.stages.append(stage)
        logger.info("%s: skipped (%s)", name, why)
        return stage

    def start(self, name: str, argv: list[str], timeout_s: float, nice: int = 0) -> Stage:
        stage = Stage(name, argv, self.log_dir / f"{name}.log", max(timeout_s, 0.0))
        self.stages.append(stage)
        if stage.timeout_s < 1:
            stage.status, stage.detail = "skipped", "no time left"
            logger.warning("%s: skipped, no time left", name)
            return stage
        logger.info("%s: start (limit %.0f s): %s", name, stage.timeout_s, " ".join(argv))
        stage.start_s = self.clock.now()
        stage._started = time.monotonic()
        log = stage.log.open("w")
        stage.proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        log.close()
        return stage

    def wait(self, stage: Stage) -> Stage:
        if stage.proc is None:
            return stage
        left = stage.timeout_s - (time.monotonic() - stage._started)
        try:
            stage.rc = stage.proc.wait(timeout=max(left, 0.01))
            stage.status = "ok" if stage.rc == 0 else "failed"
        except subprocess.TimeoutExpired:
            _end_group(stage.proc)
            stage.rc, stage.status = stage.proc.returncode, "timeout"
        stage.wall_s = time.monotonic() - stage._started
        stage.proc = None
        if stage.status != "ok":
            stage.detail = stage.detail or _tail(stage.log)
        logger.info("%s: %s in %.1f s", stage.name, stage.status, stage.wall_s)
        return stage

    def run(self, name: str, argv: list[str], timeout_s: float) -> Stage:
        return self.wait(self.start(name, argv, timeout_s))

    def stop_all(self) -> None:
        """End every stage still running (after an unexpected error in the driver)."""
        for stage in self.stages:
            if stage.proc is not None:
                _end_group(stage.proc)
                stage.status, stage.detail, stage.proc = "stopped", "the driver stopped early", None


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the stage's own process group, SIGKILL after 10 s."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])[-600:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------- stages


def environment(plan: Plan) -> dict[str, Any]:
    """Machine, GPU and versions (with the minimums of pyproject.toml)."""
    import torch

    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {},
    }
    for name in ("torch", "transformers", "accelerate", "datasets", "evaluate", "tokenizers", "scikit-learn"):
        env["versions"][name] = installed_version(name)
    env["minimums"] = meets_minimums(REPO / "pyproject.toml")
    env["cuda_available"] = torch.cuda.is_available()
    if plan.device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("the GPU plan needs a CUDA GPU and none is visible; use --rehearsal on CPU")
        props = torch.cuda.get_device_properties(0)
        env["gpu"] = {
            "name": props.name,
            "capability": f"{props.major}.{props.minor}",
            "multiprocessors": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
            "bf16": torch.cuda.is_bf16_supported(),
        }
        try:
            env["nvidia_smi"] = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit",
                    "--format=csv",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as err:
            env["nvidia_smi"] = f"not available: {err}"
    return env


def balanced_arm(asked: str) -> tuple[str, str]:
    """The balanced hybrid to train: `asked` if `JepaMlmConfig` accepts its balance, else `hybrid_shared`."""
    from modeling_jepa_mlm.configuration_jepa_mlm import BALANCES

    balance = ARMS[asked].get("balance")
    if asked == "hybrid_shared" or balance in BALANCES:
        return asked, ""
    return (
        "hybrid_shared",
        f"balance {balance!r} is not among {list(BALANCES)}: trained hybrid_shared instead",
    )


@dataclass
class Data:
    """Where the corpus, tokenizer and GLUE folders are (carried real data, or rehearsal synthetic data)."""

    corpus: dict[str, Any]  # run_pretraining data flags
    tokenizer: str | None  # None: the control's run trains one, and the arms read it from its export
    glue_dir: Path


def real_data(data_dir: Path) -> Data:
    """The carried data under `data_dir` (see `../shared/tools/device-prep.sh`); fails naming what is missing."""
    needed = [
        data_dir / "wikipedia" / "2015.en",
        data_dir / "tokenizers" / "bert-base-uncased",
        data_dir / "glue",
    ]
    missing = [str(p) for p in needed if not p.is_dir()]
    if missing:
        raise FileNotFoundError(
            f"carried data missing: {missing}; prepare it with ../shared/tools/device-prep.sh glue tokenizers and "
            "copy ../shared/data/wikipedia/{README.md,2015.en} into .data/wikipedia (benchmarks/README.md)"
        )
    return Data(
        corpus={"dataset_name": str(data_dir / "wikipedia"), "dataset_config_name": "2015.en"},
        tokenizer=str(data_dir / "tokenizers" / "bert-base-uncased"),
        glue_dir=data_dir / "glue",
    )


def synthetic_data(work: Path) -> Data:
    """The project's synthetic corpus and GLUE-format tasks (modeling_jepa_mlm.quickstart.synthetic)."""
    from modeling_jepa_mlm.quickstart.synthetic import write_corpus, write_glue

    corpus = write_corpus(work / "data" / "corpus.jsonl", num_documents=400)
    glue = write_glue(work / "data" / "glue", tasks=("sst2", "stsb"), sizes={"train": 80, "validation": 40})
    return Data(
        corpus={"train_file": str(corpus), "validation_split_percentage": 10, "tokenizer_vocab_size": 400},
        tokenizer=None,
        glue_dir=glue,
    )


def pretraining_config(
    arm: str, steps: int, plan: Plan, data: Data, tokenizer: str | None, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """The YAML given to `run_pretraining.py` for one arm (`CONTROL`: the MLM arm's, 0 steps, on CPU)."""
    cuda = plan.device == "cuda" and arm != CONTROL
    model = {
        **plan.model,
        **ARMS["mlm" if arm == CONTROL else arm],
        "layer_norm_position": "pre",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "jepa_loss": "cosine",
        "jepa_target_layers": 1,
    }
    config = {
        "model_config": model,
        **{k: v for k, v in data.corpus.items() if tokenizer is None or k != "tokenizer_vocab_size"},
        "max_seq_length": plan.seq_len,
        "preprocessing_num_workers": plan.preprocessing_workers,
        "max_eval_samples": plan.max_eval_samples,
        "eval_mlm_probability": 0.15,
        "output_dir": str(work / "runs" / arm),
        "max_steps": steps,
        "per_device_train_batch_size": plan.batch_size,
        "per_device_eval_batch_size": plan.batch_size,
        "learning_rate": args.lr,
        "adam_beta2": 0.98,
        "weight_decay": 0.01,
        "warmup_steps": max(1, round(args.warmup_fraction * steps)),
        "lr_scheduler_type": "linear",
        "max_grad_norm": 1.0,
        "ema_momentum_start": 0.996,
        "ema_momentum_end": 1.0,
        "bf16": cuda,
        "logging_steps": max(1, steps // 50),
        "eval_strategy": "steps" if steps > 0 else "no",
        "eval_steps": max(steps, 1),
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "seed": args.seed,
        "use_cpu": not cuda,
        "dataloader_num_workers": plan.dataloader_workers if cuda else 0,
        "dataloader_persistent_workers": cuda and plan.dataloader_workers > 0,
        "torch_compile": bool(args.compile_training and cuda),
    }
    if tokenizer is not None:
        config["tokenizer_name"] = tokenizer
    if cuda:
        config["tf32"] = True
    if steps == 0:
        config["num_train_epochs"] = 0
    return config


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def throughput_stage(
    runner: Runner,
    plan: Plan,
    work: Path,
    kind: str,
    calls: Sequence[ThroughputCall],
    backend: str | None,
    deadline: float,
) -> dict[str, Any]:
    """Run `throughput.py` once per call (each also measures the matrix-product ceiling for its MFU) until
    `deadline`; returns the rows of the calls that finished and what they measured of the device."""
    rows: list[dict] = []
    env: dict[str, Any] = {}
    for i, call in enumerate(calls):
        name = f"throughput_{kind}_{i}"
        out = work / f"{name}.json"
        argv = [
            sys.executable,
            str(REPO / "benchmarks" / "throughput.py"),
            *call.argv(plan.device, backend, plan.matmul_n),
            "--json",
            str(out),
        ]
        stage = runner.run(name, argv, runner.clock.left(deadline))
        result = load_json(out) if stage.status == "ok" else None
        if result is None:
            continue
        for key in ("matmul_tflops", "matmul_n", "peak_tflops"):  # the first process's, for the report
            env.setdefault(key, result["environment"].get(key))
        env.setdefault("matmul_tflops_by_process", {})[name] = result["environment"].get("matmul_tflops")
        rows += result["rows"]
    return {"rows": rows, "environment": env}


def compile_seconds(
    plan: Plan, seconds_per_step: Mapping[str, float] | None, seconds_left: float
) -> tuple[float, str]:
    """Time for the compiled throughput rows: what is left before the pre-training deadline once the arms'
    `plan.min_tokens` budget (at the predicted step times, `plan.safety` and `plan.arm_overhead_s` each) is set
    aside, at most `plan.compile_budget_s`; all of it when there is nothing to predict from."""
    if not seconds_per_step:
        return plan.compile_budget_s, "no eager rows to size pre-training from"
    steps = max(plan.min_steps, math.ceil(plan.min_tokens / (plan.batch_size * plan.seq_len)))
    needed = (
        steps * sum(seconds_per_step.values()) / plan.safety + len(seconds_per_step) * plan.arm_overhead_s
    )
    spare = seconds_left - needed
    return max(0.0, min(plan.compile_budget_s, spare)), (
        f"{seconds_left:.0f} s left, {needed:.0f} s set aside for {steps} steps per arm"
    )


def pretraining_stage(
    runner: Runner,
    plan: Plan,
    arms: list[str],
    data: Data,
    tokenizer: str | None,
    per_step: Mapping[str, float] | None,
    sized_from: str,
    args: argparse.Namespace,
    work: Path,
    deadline: float,
) -> dict[str, Any]:
    """One step budget for every arm from the predicted step times, then the arms one after another."""
    tokens_per_step = plan.batch_size * plan.seq_len
    seconds = runner.clock.left(deadline) - len(arms) * plan.arm_overhead_s
    if per_step:
        steps = token_budget(per_step, seconds, plan.min_steps, plan.max_steps, plan.safety)
    else:
        steps, per_step = plan.min_steps, {arm: math.nan for arm in arms}
    if args.max_steps:
        steps = min(steps, args.max_steps)
    predicted = {arm: steps * t + plan.arm_overhead_s for arm, t in per_step.items()}
    budget = {
        "steps": steps,
        "batch_size": plan.batch_size,
        "sequence_length": plan.seq_len,
        "tokens_per_arm": steps * tokens_per_step,
        "seconds_available": round(seconds, 1),
        "predicted_seconds_per_step": per_step,
        "predicted_seconds": predicted,
        "sized_from": sized_from,
        "safety": plan.safety,
        "learning_rate": args.lr,
    }
    logger.info("pre-training budget: %s", json.dumps(budget, default=str))
    summaries = {}
    for i, arm in enumerate(arms):
        later = sum(predicted[a] for a in arms[i + 1 :] if math.isfinite(predicted[a]))
        config = write_config(
            pretraining_config(arm, steps, plan, data, tokenizer, args, work),
            work / "configs" / f"{arm}.yaml",
        )
        stage = runner.run(
            f"pretrain_{arm}",
            [sys.executable, str(REPO / "run_pretraining.py"), str(config)],
            runner.clock.left(deadline) - later,
        )
        if stage.status == "ok":
            summaries[arm] = load_json(work / "runs" / arm / "training_summary.json")
    return {"budget": budget, "summaries": summaries}


def probe_stage(
    runner: Runner, plan: Plan, models: list[str], data: Data, work: Path, deadline: float
) -> dict[str, Any] | None:
    """`run_glue_probe.py` on the exports (the paper's hybrid first: it plays the hybrid in the claims)."""
    if len(models) < 2:
        runner.skip("probe", f"fewer than two models to compare: {models}")
        return None
    argv = [
        sys.executable,
        str(REPO / "run_glue_probe.py"),
        "--model_name_or_path",
        *[str(work / "runs" / m) for m in models],
        "--model_names",
        *models,
        "--glue_dir",
        str(data.glue_dir),
        "--protocol",
        "standard",
        "--device",
        plan.device,
        "--output_dir",
        str(work / "probe"),
        *plan.probe_flags,
    ]
    stage = runner.run("probe", argv, runner.clock.left(deadline))
    return load_json(work / "probe" / "results.json") if stage.status == "ok" else None


# ---------------------------------------------------------------------------------------------- results


def checks(results: dict[str, Any], plan: Plan) -> dict[str, dict[str, Any]]:
    """The issue's bars, read off the results: `id -> {"what", "value", "met"}` (`met` None: not measured)."""
    rows = results["throughput"]["rows"]
    short = f"{plan.bert_base} L={plan.eager[0].seq_len}"
    out: dict[str, dict[str, Any]] = {}
    for compiled in (False, True):
        mlm = next(
            (r for r in rows if (r["size"], r["arm"], bool(r.get("compile"))) == (short, "mlm", compiled)),
            None,
        )
        value = mlm.get("x_bert_tokens_per_s") if mlm else None
        out["mlm_x_bert" + ("_compiled" if compiled else "")] = {
            "what": f"mlm tokens/s >= {MIN_MLM_X_BERT}x BertForMaskedLM's at {short}"
            + (" (torch.compile)" if compiled else " (eager)"),
            "value": value,
            "met": None if value is None else value >= MIN_MLM_X_BERT,
        }
    long = f"{plan.bert_base} L=512"
    mfu = {
        f"{r['arm']}{' compiled' if r.get('compile') else ''}": {
            "peak": r.get("mfu"),
            "matmul": r.get("mfu_matmul"),
        }
        for r in rows
        if r["size"] == long
    }
    out["mfu_seq512"] = {"what": f"MFU at {long} stated", "value": mfu, "met": bool(mfu) or None}
    tokens = {
        arm: (results["pretraining"]["summaries"].get(arm) or {}).get("tokens_seen")
        for arm in results["arms"]
    }
    trained = [t for t in tokens.values() if t]
    out["identical_budgets"] = {
        "what": "every arm trained the same number of tokens",
        "value": tokens,
        "met": len(trained) == len(tokens) and len(set(trained)) == 1,
    }
    out["tokens_per_arm"] = {
        "what": f"each arm trained >= {plan.min_tokens:,} tokens",
        "value": min(trained) if trained else None,
        "met": len(trained) == len(tokens) and min(trained) >= plan.min_tokens,
    }
    probe = results.get("probe")
    out["probe_verdicts"] = {
        "what": "the probe's claim verdicts for the arms (intervals in the headline table)",
        "value": len(probe.get("claims", [])) if probe else None,
        "met": bool(probe and probe.get("claims")),
    }
    out["wall_time"] = {
        "what": f"the driver ends within {plan.budget_s:.0f} s",
        "value": results["wall_time_s"],
        "met": results["wall_time_s"] <= plan.budget_s,
    }
    return out


def training_plot(summaries: Mapping[str, Mapping], path: Path) -> bool:
    """MLM and JEPA training losses against tokens seen, one line per arm."""
    series = {arm: s.get("trajectory", {}) for arm, s in summaries.items() if s and s.get("trajectory")}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for color, (arm, traj) in enumerate(series.items()):
        tokens_per_step = summaries[arm]["global_batch_size"] * summaries[arm]["sequence_length"]
        for ax, key in zip(axes, ("mlm_loss", "jepa_loss"), strict=True):
            points = traj.get(key) or []
            if points:
                tokens = [s * tokens_per_step / 1e6 for s, _ in points]
                ax.plot(tokens, [v for _, v in points], label=arm, color=f"C{color}")
    for ax, title in zip(axes, ("MLM loss (train)", "JEPA loss (train)"), strict=True):
        ax.set_xlabel("tokens (M)")
        ax.set_title(title)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def markdown_report(results: dict[str, Any]) -> str:
    """report.md: environment, throughput, budget, training, probe headline, claims, checks, stage times."""
    env = results["environment"]
    tp = results["throughput"]
    lines = [
        f"# GPU run ({'rehearsal on CPU' if results['rehearsal'] else 'GPU'})",
        "",
        f"Date {env['date']}; Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f"; pyproject minimums met: {env['minimums']['ok']}.",
        f"GPU: {env.get('gpu', 'none')}.",
        f"Wall time of the driver: {results['wall_time_s']:.0f} s (budget {results['budget_s']:.0f} s).",
        "",
        "## Throughput",
        "",
        f"MFU (peak): against {_fmt(tp['environment'].get('peak_tflops'), 'g')} TFLOP/s"
        + (
            " (dense bf16 of an H100 SXM by its datasheet; the H200 has the same tensor cores)"
            if tp["environment"].get("peak_tflops") == throughput.H100_BF16_DENSE_TFLOPS
            else " (a placeholder on CPU)"
        )
        + f". MFU (matmul): against {_fmt(tp['environment'].get('matmul_tflops'), '.4g')} TFLOP/s measured here "
        f"for a {tp['environment'].get('matmul_n')}^3 product (bf16 on CUDA, fp32 on CPU). FLOPs per token: "
        "`throughput.flops_per_token` (matmul FLOPs, BertForMaskedLM's head at every position, ours at the masked "
        "ones).",
        "",
    ]
    for compiled in (None, "compiled"):
        rows = [r for r in tp["rows"] if bool(r.get("compile")) == bool(compiled)]
        if rows:
            backend = rows[0].get("compile")
            lines += [f"**{'torch.compile (' + backend + ')' if compiled else 'eager'}**", ""]
            lines += [throughput.format_table(rows), ""]
    budget = results["pretraining"]["budget"]
    lines += [
        "## Pre-training",
        "",
        f"Arms: {', '.join(results['arms'])} (+ control {CONTROL}); {results.get('balanced_note') or ''}",
        f"Budget: {budget.get('steps')} steps x {budget.get('batch_size')} x {budget.get('sequence_length')} = "
        f"{_fmt(budget.get('tokens_per_arm'), ',')} tokens per arm, sized from {budget.get('sized_from')} "
        f"({_fmt(budget.get('seconds_available'), '.0f')} s available, safety {budget.get('safety')}); "
        f"peak learning rate {budget.get('learning_rate')}, pre-LN, dropout 0, linear decay.",
        "",
        "| arm | steps | tokens | wall s | tokens/s | last train MLM loss | held-out MLM loss (15 %) | held-out MLM acc |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm in results["arms"]:
        s = results["pretraining"]["summaries"].get(arm)
        if not s:
            lines.append(f"| {arm} | failed | | | | | | |")
            continue
        mlm = (s.get("trajectory") or {}).get("mlm_loss") or [[None, None]]
        ev = (s.get("eval") or [{}])[-1]
        lines.append(
            f"| {arm} | {s['steps']} | {s['tokens_seen']:,} | {_fmt(s.get('wall_time_seconds'), '.0f')} | "
            f"{_fmt(s.get('tokens_per_second'), ',.0f')} | {_fmt(mlm[-1][1])} | {_fmt(ev.get('eval_mlm_loss'))} | "
            f"{_fmt(ev.get('eval_mlm_accuracy'))} |"
        )
    lines += ["", "## Probe (standard protocol)", ""]
    probe = results.get("probe")
    if probe:
        table = headline_table(probe)
        tasks = probe["tasks"]
        lines += [
            f"Headline metric per task at pooling `{probe['poolings'][0]}`, 95 % bootstrap interval:",
            "",
            "| model | " + " | ".join(f"{t} ({HEADLINE.get(t)})" for t in tasks) + " |",
            "|---|" + "---|" * len(tasks),
        ]
        for model, by_task in table.items():
            cells = [
                f"{_fmt(c['value'])} [{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]"
                if (c := by_task.get(t))
                else "-"
                for t in tasks
            ]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines += ["", "| claim | a | b | verdict |", "|---|---|---|---|"]
        for c in probe.get("claims", []):
            lines.append(f"| {c['claim']} | {c['model_a']} | {c['model_b']} | {c['verdict']} |")
    else:
        lines.append("Not measured (see the stages below).")
    lines += ["", "## The issue's bars", "", "| bar | value | met |", "|---|---|---|"]
    for check in results["checks"].values():
        value = check["value"]
        shown = (
            json.dumps(value)
            if isinstance(value, dict)
            else _fmt(value, ",.3f" if isinstance(value, float) else ",")
        )
        lines.append(f"| {check['what']} | {shown} | {check['met']} |")
    lines += [
        "",
        "## Stages",
        "",
        "| stage | status | start s | wall s | limit s | detail |",
        "|---|---|---|---|---|---|",
    ]
    for st in results["stages"]:
        lines.append(
            f"| {st['name']} | {st['status']} | {_fmt(st['start_s'], '.0f')} | {_fmt(st['wall_s'], '.1f')} | "
            f"{st['timeout_s']:.0f} | {st['detail'][:200].replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def bundle_logs(work: Path, path: Path, limit: int) -> list[str]:
    """logs.tar.gz of the stage logs, configs, throughput JSON, the runs' records and the probe's outputs
    (no weights, no caches); anything that would push it past `limit` bytes is left out and listed."""
    candidates = (
        sorted(work.glob("logs/*.log")) + sorted(work.glob("configs/*.yaml")) + sorted(work.glob("*.json"))
    )
    for run in sorted((work / "runs").glob("*")):
        candidates += [
            run / n for n in ("run_config.yaml", "training_summary.json", "trainer_state.json", "README.md")
        ]
    candidates += sorted((work / "probe").glob("*.md")) + sorted((work / "probe").glob("*.png"))
    candidates += sorted((work / "probe").glob("*.json"))
    left_out, total = [], 0
    with tarfile.open(path, "w:gz") as tar:
        for file in candidates:
            if not file.is_file():
                continue
            total += file.stat().st_size
            if total > limit * 3:  # gzip shrinks logs and JSON about 3-10x; stay clear of the limit
                left_out.append(str(file.relative_to(work)))
                continue
            tar.add(file, arcname=str(file.relative_to(work)))
    return left_out


def measure_and_train(
    runner: Runner,
    plan: Plan,
    args: argparse.Namespace,
    arms: list[str],
    data: Data,
    control: Stage,
    work: Path,
    pretrain_deadline: float,
    state: dict[str, Any],
) -> None:
    """Stages 2-4 (throughput, pre-training, probe); each stage's results go into `state` as soon as it ends,
    so an unexpected error keeps what was measured before it."""
    # 2. Throughput: eager rows, then compiled rows in the time the pre-training budget leaves.
    tp_deadline = pretrain_deadline - len(arms) * plan.arm_overhead_s
    eager = throughput_stage(runner, plan, work, "eager", plan.eager, None, tp_deadline)
    try:
        tokens_per_step = plan.batch_size * plan.seq_len
        per_step = step_seconds(eager["rows"], arms, plan.paper, plan.seq_len, tokens_per_step)
        sized_from = f"the eager {plan.paper} L={plan.seq_len} throughput rows"
    except ValueError as err:
        logger.warning("cannot predict step times (%s): training %d steps", err, plan.min_steps)
        per_step, sized_from = None, f"nothing ({err}): the minimum step count"
    state["throughput"] = {"rows": group_ratios(eager["rows"]), "environment": eager["environment"]}
    compile_s, why = compile_seconds(plan, per_step, runner.clock.left(pretrain_deadline))
    compiled = {"rows": [], "environment": {}}
    if args.skip_compiled or compile_s < 20:
        runner.skip(
            "throughput_compiled", "--skip_compiled" if args.skip_compiled else f"{compile_s:.0f} s: {why}"
        )
    else:
        logger.info("compiled rows get %.0f s (%s)", compile_s, why)
        deadline = runner.clock.now() + compile_s
        compiled = throughput_stage(
            runner, plan, work, "compiled", plan.compiled, plan.compile_backend, deadline
        )
    state["throughput"] = {
        "rows": group_ratios(eager["rows"] + compiled["rows"]),
        "environment": {
            **compiled["environment"],
            **eager["environment"],
            "matmul_tflops_by_process": {
                **eager["environment"].get("matmul_tflops_by_process", {}),
                **compiled["environment"].get("matmul_tflops_by_process", {}),
            },
        },
        "compile_seconds": round(compile_s, 1),
        "compile_seconds_why": why,
    }

    # 3. Pre-training (after the control: the arms read its tokenization cache, and its tokenizer when trained).
    runner.wait(control)
    tokenizer = data.tokenizer or str(work / "runs" / CONTROL)
    pre = state["pretraining"] = pretraining_stage(
        runner, plan, arms, data, tokenizer, per_step, sized_from, args, work, pretrain_deadline
    )

    # 4. Probe: the paper's hybrid first (it plays the hybrid in the claims), the control last.
    trained = [a for a in arms if pre["summaries"].get(a)]
    models = trained + ([CONTROL] if control.status == "ok" else [])
    state["probe"] = probe_stage(runner, plan, models, data, work, plan.budget_s - plan.bundle_reserve_s)


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output_dir", type=Path, help="the folder that comes back (at most 8 files)")
    p.add_argument(
        "--rehearsal", action="store_true", help="tiny sizes on CPU, synthetic data, no GPU needed"
    )
    p.add_argument(
        "--work_dir", type=Path, default=None, help="intermediate files (default: new /tmp folder)"
    )
    p.add_argument("--data_dir", type=Path, default=REPO / ".data", help="carried real data (GPU run)")
    p.add_argument(
        "--balanced_arm",
        default="gradnorm",
        choices=("gradnorm", "hybrid_shared"),
        help="the third arm; gradnorm falls back to hybrid_shared when JepaMlmConfig does not accept it",
    )
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of every arm")
    p.add_argument("--warmup_fraction", type=float, default=0.06, help="warm-up steps as a fraction")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--budget_s", type=float, default=None, help="driver wall-clock budget (GPU: 525)")
    p.add_argument("--compile_budget_s", type=float, default=None, help="for all compiled rows (GPU: 100)")
    p.add_argument("--max_steps", type=int, default=None, help="cap the sized step count")
    p.add_argument(
        "--compile_training", action="store_true", help="torch.compile the pre-training runs (GPU only)"
    )
    p.add_argument("--skip_compiled", action="store_true", help="no compiled throughput rows")
    args = p.parse_args(argv)
    if args.lr <= 0 or not 0 <= args.warmup_fraction < 1:
        p.error(f"--lr must be > 0 and --warmup_fraction in [0, 1); got {args.lr}, {args.warmup_fraction}")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    plan = PLANS["rehearsal" if args.rehearsal else "gpu"]
    overrides = {
        k: v
        for k, v in {"budget_s": args.budget_s, "compile_budget_s": args.compile_budget_s}.items()
        if v is not None
    }
    plan = dataclasses.replace(plan, **overrides)
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"output folder {out} is not empty; give an empty or new folder")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="gpu_run_"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(sys.stdout), logging.FileHandler(out / "gpu_run.log")],
    )
    clock = Clock()
    logger.info("plan %s, work folder %s, output %s", "rehearsal" if args.rehearsal else "gpu", work, out)

    # 1. Environment, data, and (in the background) the control, which also fills the tokenization cache.
    env = environment(plan)
    logger.info("environment: %s", json.dumps(env, indent=1))
    data = synthetic_data(work) if args.rehearsal else real_data(args.data_dir)
    balanced, balanced_note = balanced_arm(args.balanced_arm)
    arms = ["hybrid", "mlm", balanced]
    proc_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(work / "hf_datasets"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    if args.rehearsal:  # a few small CPU processes: one thread each, not all cores each
        proc_env.setdefault("OMP_NUM_THREADS", "1")
    runner = Runner(clock, work / "logs", proc_env)
    control_config = write_config(
        pretraining_config(CONTROL, 0, plan, data, data.tokenizer, args, work),
        work / "configs" / f"{CONTROL}.yaml",
    )
    pretrain_deadline = plan.budget_s - plan.probe_reserve_s - plan.bundle_reserve_s
    control = runner.start(
        CONTROL,
        [sys.executable, str(REPO / "run_pretraining.py"), str(control_config)],
        pretrain_deadline,
        nice=10,
    )

    state: dict[str, Any] = {
        "throughput": {"rows": [], "environment": {}},
        "pretraining": {"budget": {}, "summaries": {}},
        "probe": None,
    }
    try:
        measure_and_train(runner, plan, args, arms, data, control, work, pretrain_deadline, state)
    except Exception as err:  # bundle whatever was measured
        logger.exception("the run stopped early")
        state["driver_error"] = repr(err)
        runner.stop_all()
    tp, pre, probe = state["throughput"], state["pretraining"], state["probe"]

    # 5. Bundle.
    summaries = {**pre["summaries"], CONTROL: load_json(work / "runs" / CONTROL / "training_summary.json")}
    results: dict[str, Any] = {
        "rehearsal": args.rehearsal,
        "plan": dataclasses.asdict(plan),
        "budget_s": plan.budget_s,
        "environment": env,
        "arms": arms,
        "balanced_note": balanced_note,
        "throughput": tp,
        "pretraining": pre,
        "probe": probe,
        "stages": [s.record() for s in runner.stages],
        "driver_error": state.get("driver_error"),
        "work_dir": str(work),
    }
    results["wall_time_s"] = round(clock.now(), 1)

    def write_json() -> None:
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str))

    write_json()  # first, so that whatever fails below, the measurements come back
    errors = results["bundle_errors"] = {}
    steps = {
        "training_summaries.json": lambda: (out / "training_summaries.json").write_text(
            json.dumps(summaries, indent=1)
        ),
        "training.png": lambda: training_plot(pre["summaries"], out / "training.png"),
        "probes.png": lambda: (
            (work / "probe" / "probes.png").is_file()
            and shutil.copy(work / "probe" / "probes.png", out / "probes.png")
        ),
        "logs.tar.gz": lambda: results.update(
            logs_left_out=bundle_logs(work, out / "logs.tar.gz", OUTPUT_LIMITS["max_file_bytes"])
        ),
        "checks": lambda: results.update(checks=checks(results, plan)),
        "report.md": lambda: (out / "report.md").write_text(markdown_report(results)),
    }
    for name, step in steps.items():
        try:
            step()
        except Exception as err:  # one broken output must not cost the others
            logger.exception("bundling %s failed", name)
            errors[name] = repr(err)
    results["output_check"] = check_output(out)
    write_json()
    logger.info("output: %s", json.dumps(results["output_check"]))
    if (out / "report.md").is_file():
        print((out / "report.md").read_text())
    return results


if __name__ == "__main__":
    main()
