"""The whole pipeline offline on CPU in a few minutes, on data this package generates.

    python -m modeling_jepa_mlm.quickstart [--output_dir quickstart_out]

1. writes a synthetic English corpus and GLUE-format task folders (`modeling_jepa_mlm.quickstart.synthetic`);
2. pre-trains a tiny hybrid encoder and a tiny MLM baseline with the same budget through `run_pretraining.main`
   (the hybrid run trains a WordPiece tokenizer on the corpus; the baseline reuses it);
3. probes both on the synthetic GLUE tasks through `modeling_jepa_mlm.analysis.probe.main` (report, plots,
   results.json);
4. writes each export's model card (README.md) with the probe's tables;
5. reloads each finished export through `AutoModel` with `trust_remote_code=True` in a fresh process where
   this package cannot be imported, and prints a summary.

Nothing is downloaded: run it with `HF_HUB_OFFLINE=1` to be sure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..analysis.results import ProbeRun
from ..files import CARD_NAME, REPORT_NAME
from ..publishing.cards import write_model_card
from .synthetic import write_corpus, write_glue

logger = logging.getLogger(__name__)

MODELS = ("hybrid", "mlm")
# A tiny encoder: 2 layers, 64 wide (the paper's is 6 x 512); the predictor of the hybrid is smaller still.
TINY_MODEL_CONFIG: dict[str, Any] = {
    "jepa_context": "blocks",
    "balance": "sigmoid",
    "jepa_loss": "cosine",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 128,
    "predictor_hidden_size": 32,
    "predictor_num_hidden_layers": 1,
    "predictor_num_attention_heads": 2,
    "predictor_intermediate_size": 64,
}
CARD_NOTE = (
    "**A quickstart demonstration**: a tiny encoder trained for a few minutes on CPU on a synthetic corpus by "
    "`python -m modeling_jepa_mlm.quickstart`, and probed on synthetic GLUE-format tasks. It shows the pipeline "
    "working end to end; its numbers say nothing about the method."
)

# Run in a fresh interpreter: `modeling_jepa_mlm` is made unimportable, so the code can only come from the
# export folders (auto_map + the saved modeling files).
RELOAD_SCRIPT = r"""
import json, sys
sys.modules["modeling_jepa_mlm"] = None
import torch
from transformers import AutoModel, AutoTokenizer
out = {}
for folder in sys.argv[1:]:
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    batch = tok(["the film was wonderful", "the farmer carried the basket"], padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = model(**batch).pooler_output
    out[folder] = {"class": f"{type(model).__module__}.{type(model).__name__}", "shape": list(pooled.shape),
                   "cosine": float(torch.nn.functional.cosine_similarity(pooled[0], pooled[1], dim=0))}
print(json.dumps(out))
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags; the defaults are the quickstart the README runs."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_dir", default="quickstart_out")
    p.add_argument("--max_steps", type=int, default=150, help="optimizer steps of each pre-training run")
    p.add_argument("--num_documents", type=int, default=2000, help="documents of the synthetic corpus")
    p.add_argument("--train_size", type=int, default=400, help="train examples per synthetic GLUE task")
    p.add_argument("--eval_size", type=int, default=200, help="validation examples per synthetic GLUE task")
    p.add_argument("--tasks", nargs="+", default=["sst2", "mrpc", "cola", "stsb", "mnli"])
    p.add_argument("--poolings", nargs="+", default=["mean", "max"], help="poolings the probe analyses")
    p.add_argument("--n_bootstrap", type=int, default=400, help="paired bootstrap resamples of the probe")
    p.add_argument(
        "--n_subsamples",
        type=int,
        default=200,
        help="subsamples for the probe's set-metric intervals (p-values floor at 1 / (n + 1), before Holm)",
    )
    p.add_argument("--no_plots", action="store_true", help="skip the probe's PNG plots")
    p.add_argument(
        "--num_threads",
        type=int,
        default=1,
        help="torch threads; 1 is fastest for these tiny models and keeps a busy machine from stalling the run",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log_level", default="INFO", help="of the quickstart's own steps (libraries: WARNING)")
    args = p.parse_args(argv)
    for name in (
        "max_steps",
        "num_documents",
        "train_size",
        "eval_size",
        "n_bootstrap",
        "n_subsamples",
        "num_threads",
    ):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}={getattr(args, name)} is not valid; accepted values: an integer >= 1")
    return args


def pretraining_argv(
    objective: str, corpus: Path, output_dir: Path, args: argparse.Namespace, tokenizer: Path | None
) -> list[str]:
    """The `run_pretraining.py` command line of one tiny run; identical for both objectives but the objective."""
    argv = [
        "--model_config",
        json.dumps({**TINY_MODEL_CONFIG, "objective": objective}),
        "--train_file",
        str(corpus),
        "--validation_split_percentage",
        "2",
        "--tokenizer_vocab_size",
        "2000",
        "--max_seq_length",
        "64",
        "--output_dir",
        str(output_dir),
        "--cache_dir",
        str(output_dir.parent / "cache"),
        "--max_steps",
        str(args.max_steps),
        "--per_device_train_batch_size",
        "16",
        "--learning_rate",
        "1e-3",
        "--warmup_steps",
        str(max(1, args.max_steps // 10)),
        "--weight_decay",
        "0.01",
        "--logging_steps",
        str(max(1, args.max_steps // 10)),
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--report_to",
        "none",
        "--seed",
        str(args.seed),
        "--use_cpu",
        "true",
        "--dataloader_num_workers",
        "0",
        "--disable_tqdm",
        "true",
    ]
    if tokenizer is not None:
        argv += ["--tokenizer_name", str(tokenizer)]
    return argv


def reload_without_package(folders: Sequence[Path], modules_cache: Path) -> dict[str, dict]:
    """Load each export through `AutoModel` with `trust_remote_code` in a process that cannot import this package.

    Raises:
        RuntimeError: the fresh process failed (its stderr is in the message).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        HF_MODULES_CACHE=str(modules_cache),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, *map(str, folders)],
        cwd=str(modules_cache.parent),  # not the repository root, where the package would be importable
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"reloading {list(map(str, folders))} with trust_remote_code failed:\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _last(points: list | None) -> float | None:
    return points[-1][1] if points else None


def summary_text(
    out: Path,
    summaries: dict[str, dict],
    reloads: dict[str, dict],
    results: ProbeRun,
    seconds: dict[str, float],
) -> str:
    """The printed summary: training, reload, probe headline numbers (mean pooling) and the claims."""

    def f(x: Any, spec: str = ".3f") -> str:
        return "-" if x is None else format(x, spec)

    total = seconds.get("total", sum(seconds.values()))
    lines = [f"jepa-mlm quickstart: done in {total:.0f} s, everything under {out}/", ""]
    lines.append("step times: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items() if k != "total"))
    lines += ["", f"{'model':<8}{'steps':>6}{'loss':>8}{'mlm':>8}{'jepa':>8}{'balance s':>11}{'wall s':>8}"]
    for name, s in summaries.items():
        t = s.get("trajectory", {})
        lines.append(
            f"{name:<8}{s['steps']:>6}{f(_last(t.get('loss'))):>8}{f(_last(t.get('mlm_loss'))):>8}"
            f"{f(_last(t.get('jepa_loss'))):>8}{f(_last(t.get('balance_weight')), '.4f'):>11}"
            f"{s['wall_time_seconds']:>8.0f}"
        )
    lines += ["", "reloaded through AutoModel with trust_remote_code (package not importable):"]
    for folder, r in reloads.items():
        lines.append(f"  {folder}: {r['class']}, pooler_output {r['shape']}")
    pooling = results.poolings[0]
    lines += ["", f"probe ({pooling} pooling, value [95 % CI]):"]
    names = list(results.models)
    for task in results.tasks:
        for metric in ("accuracy", "matthews_correlation", "spearmanr", "uniformity", "effective_rank"):
            cells = [results.cell(m, task, pooling, metric) for m in names]
            if any(c and c.value is not None for c in cells):
                shown = "  ".join(
                    f"{m} {f(c.value)} [{f(c.ci_low)}, {f(c.ci_high)}]"
                    for m, c in zip(names, cells, strict=True)
                    if c
                )
                lines.append(f"  {task:<5} {metric:<21} {shown}")
    if results.claims:
        lines += ["", "the paper's claims on this toy run (hybrid vs mlm):"]
        lines += [f"  {c.claim}: {c.verdict}" for c in results.claims]
    lines += [
        "",
        f"report: {out / 'probe' / REPORT_NAME}",
        *(f"model card: {out / name / CARD_NAME}" for name in summaries),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the quickstart; returns {"summaries", "reloads", "results", "seconds", "output_dir"}."""
    begin = time.perf_counter()
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(args.log_level.upper())
    import torch

    # Tiny matrices: more threads only add synchronisation, and on an oversubscribed CPU their spin-waits stall
    # every step (measured: 149 s -> 7 s for 30 hybrid steps on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(args.num_threads)
    try:
        return run(args, begin)
    finally:
        torch.set_num_threads(threads)


def run(args: argparse.Namespace, begin: float) -> dict[str, Any]:
    """The five steps of the quickstart (see the module docstring); `begin` is the start time of the command."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    from ..analysis import probe
    from ..training import pretrain as run_pretraining

    out = Path(args.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    # 1. Data.
    start = time.perf_counter()
    corpus = write_corpus(out / "data" / "corpus.jsonl", args.num_documents, args.seed)
    glue_dir = write_glue(
        out / "data" / "glue",
        tuple(args.tasks),
        {"train": args.train_size, "validation": args.eval_size, "test": 20},
        args.seed,
    )
    seconds["data"] = time.perf_counter() - start
    logger.info(
        "1/5 data: corpus of %d documents, GLUE tasks %s in %s", args.num_documents, args.tasks, out / "data"
    )

    # 2. Pre-training, same budget and data order; the baseline reuses the hybrid's tokenizer.
    summaries: dict[str, dict] = {}
    tokenizer: Path | None = None
    for name in MODELS:
        start = time.perf_counter()
        folder = out / name
        summaries[name] = run_pretraining.main(pretraining_argv(name, corpus, folder, args, tokenizer))
        tokenizer = tokenizer or folder
        seconds[f"pretrain {name}"] = time.perf_counter() - start
        logger.info(
            "2/5 pre-trained %s: %d steps in %.0f s",
            name,
            summaries[name]["steps"],
            seconds[f"pretrain {name}"],
        )

    # 3. Probe.
    start = time.perf_counter()
    results = probe.main(
        [
            "--model_name_or_path",
            *(str(out / n) for n in MODELS),
            "--model_names",
            *MODELS,
            "--glue_dir",
            str(glue_dir),
            "--tasks",
            *args.tasks,
            "--output_dir",
            str(out / "probe"),
            "--max_length",
            "64",
            "--n_bootstrap",
            str(args.n_bootstrap),
            "--poolings",
            *args.poolings,
            "--max_geometry_samples",
            "300",
            "--n_subsamples",
            str(args.n_subsamples),
            "--blas_threads",
            "1",
            "--no-plots" if args.no_plots else "--plots",
            "--device",
            "cpu",
            "--seed",
            str(args.seed),
            "--log_level",
            "WARNING",
        ]
    )
    seconds["probe"] = time.perf_counter() - start
    logger.info("3/5 probed on %s: %s", args.tasks, out / "probe")

    # 4. Model cards with the probe's tables.
    start = time.perf_counter()
    for name in MODELS:
        write_model_card(
            out / name,
            results,
            model_name=name,
            notes=CARD_NOTE,
            extra_tags=["quickstart"],
        )
    seconds["cards"] = time.perf_counter() - start
    logger.info("4/5 wrote model cards %s", [str(out / n / "README.md") for n in MODELS])

    # 5. Reload the finished folders (card included) where only torch and transformers are importable.
    start = time.perf_counter()
    reloads = reload_without_package([out / n for n in MODELS], out / "hf_modules")
    seconds["reload"] = time.perf_counter() - start
    logger.info("5/5 reloaded %s through AutoModel with trust_remote_code", list(MODELS))

    seconds["total"] = time.perf_counter() - begin
    print(summary_text(out, summaries, reloads, results, seconds))  # noqa: T201 - the command's report
    return {
        "summaries": summaries,
        "reloads": reloads,
        "results": results,
        "seconds": seconds,
        "output_dir": out,
    }


if __name__ == "__main__":
    main()
