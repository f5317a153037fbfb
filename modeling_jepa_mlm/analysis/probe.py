"""Representation analysis of frozen encoders on GLUE: geometry, lexical information, balance, linear probes.

    python run_glue_probe.py --model_name_or_path out/hybrid out/mlm --glue_dir ../shared/data/glue \
        --output_dir probe/

One forward pass per model, task and split gives every pooling (cached under `--cache_dir`); per model,
task and pooling it computes the metrics of DESIGN.md ("Probe and analysis") with 95 % intervals, and with
two or more models the paired differences, Holm-corrected over the task x pooling cells, and a verdict on
each of the paper's claims (the first model plays the hybrid). Writes `results.json`, `report.md` and
PNG plots under `--output_dir` (schema in `modeling_jepa_mlm/report.py`).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .glue import GLUE_HUB_ID, GLUE_TASKS, GlueSplit, GlueTask, get_task, load_glue_split
from .metrics import (
    GEOMETRY_METRICS,
    explained_variance,
    geometry_metrics,
    jaccard,
    singular_values,
    word_set,
)
from .probing import (
    PROBE_POOLERS,
    PROTOCOL_POOLINGS,
    PROTOCOL_PROBES,
    LoadedEncoder,
    cached_encode,
    example_metrics,
    lexical_targets,
    load_encoder,
    probe_record,
)
from .report import jsonable, write_outputs
from .significance import (
    CLAIMS,
    Estimates,
    add_holm,
    bootstrap_indices,
    claim_verdict,
    paired_difference,
    replicate,
    subsample_indices,
)

logger = logging.getLogger(__name__)

PROTOCOLS = tuple(PROTOCOL_POOLINGS)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags; see `--help`."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model_name_or_path", nargs="+", required=True, help="model folders or Hub ids")
    p.add_argument("--model_names", nargs="+", default=None, help="display names (default: folder basenames)")
    p.add_argument(
        "--tasks", nargs="+", default=list(GLUE_TASKS), help=f"GLUE tasks among {list(GLUE_TASKS)}"
    )
    p.add_argument("--poolings", nargs="+", default=None, help="default: the protocol's four")
    p.add_argument("--protocol", default="standard", help=f"one of {list(PROTOCOLS)}")
    p.add_argument("--glue_dir", default=None, help="local folder with the Hub layout of GLUE")
    p.add_argument("--glue_hub_id", default=GLUE_HUB_ID)
    p.add_argument("--max_train_samples", type=int, default=2000, help="seeded sample of each train split")
    p.add_argument(
        "--max_eval_samples", type=int, default=1000, help="seeded sample of each validation split"
    )
    p.add_argument("--max_geometry_samples", type=int, default=1000, help="embeddings for the set metrics")
    p.add_argument("--max_length", type=int, default=128)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--cache_dir", default=None, help="embedding cache (default: <output_dir>/cache)")
    p.add_argument("--n_bootstrap", type=int, default=1000, help="paired bootstrap resamples")
    p.add_argument("--n_subsamples", type=int, default=100, help="subsamples (half the set) for set metrics")
    p.add_argument(
        "--token_probe_classes", type=int, default=20, help="most frequent token-probe labels kept"
    )
    p.add_argument("--max_spectrum", type=int, default=512, help="eigenvalues kept per spectrum in the JSON")
    p.add_argument(
        "--bow_vocab_size", type=int, default=50, help="content word-pieces of the bag-of-words probe"
    )
    p.add_argument(
        "--blas_threads",
        type=int,
        default=None,
        help="cap numpy/scipy BLAS threads (1 helps a lot on busy small CPUs)",
    )
    p.add_argument("--trust_remote_code", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--log_level", default="INFO")
    args = p.parse_args(argv)
    validate_args(args)
    return args


def validate_args(args: argparse.Namespace) -> None:
    """Fail early, naming the bad value and the valid ones.

    Raises:
        ValueError: unknown task, pooling or protocol, or a wrong number of display names.
    """
    if args.protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {args.protocol!r}; valid protocols: {', '.join(PROTOCOLS)}")
    for task in args.tasks:
        get_task(task)
    args.poolings = list(args.poolings or PROTOCOL_POOLINGS[args.protocol])
    unknown = [p for p in args.poolings if p not in PROBE_POOLERS]
    if unknown:
        raise ValueError(f"unknown pooling(s) {unknown}; valid poolings: {', '.join(PROBE_POOLERS)}")
    if args.model_names is not None and len(args.model_names) != len(args.model_name_or_path):
        raise ValueError(
            f"--model_names has {len(args.model_names)} names for {len(args.model_name_or_path)} models"
        )
    if len(set(args.model_name_or_path)) != len(args.model_name_or_path):
        raise ValueError(f"the same model is given twice: {args.model_name_or_path}")


def display_names(paths: Sequence[str]) -> list[str]:
    """Short names for the report: folder basename (or Hub name), with `-2`, `-3` ... on repeats."""
    names, seen = [], {}
    for path in paths:
        base = os.path.basename(os.path.normpath(path)) or path
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


@dataclass
class TaskData:
    """The train and eval examples of one task, identical for every model."""

    task: GlueTask
    train: GlueSplit
    eval: GlueSplit


def load_task_data(task: GlueTask, args: argparse.Namespace) -> TaskData:
    """Seeded sub-samples of the train and eval splits (`--max_train_samples`, `--max_eval_samples`)."""
    kw = dict(glue_dir=args.glue_dir, hub_id=args.glue_hub_id, seed=args.seed)
    return TaskData(
        task,
        load_glue_split(task, task.train_split, max_samples=args.max_train_samples, **kw),
        load_glue_split(task, task.eval_split, max_samples=args.max_eval_samples, **kw),
    )


def split_texts(split: GlueSplit, protocol: str) -> dict[str, list]:
    """What gets encoded, by side: "a" (and "b" for pairs in the standard protocol, siamese encoding).

    The paper protocol encodes a pair as one sequence, `[CLS] a [SEP] b [SEP]`, under side "a".
    """
    if split.texts_b is None:
        return {"a": split.texts_a}
    if protocol == "paper":
        return {"a": list(zip(split.texts_a, split.texts_b, strict=True))}
    return {"a": split.texts_a, "b": split.texts_b}


Embeddings = dict[str, dict[str, dict[str, np.ndarray]]]  # split -> side -> pooling -> (N, D)


def encode_task(
    encoder: LoadedEncoder, data: TaskData, args: argparse.Namespace, cache_dir: str
) -> tuple[Embeddings, float]:
    """Encode every split and side of a task once, all poolings at once; returns embeddings and seconds."""
    start = time.perf_counter()
    out: Embeddings = {}
    for split in (data.train, data.eval):
        out[split.split] = {}
        for side, texts in split_texts(split, args.protocol).items():
            key = dict(
                task=data.task.name,
                split=split.split,
                side=side,
                protocol=args.protocol,
                n=len(texts),
            )
            out[split.split][side], hit = cached_encode(
                encoder,
                texts,
                args.poolings,
                cache_dir=cache_dir,
                key=key,
                batch_size=args.batch_size,
                max_length=args.max_length,
                seed=args.seed,
            )
            logger.info("%s %s/%s: %s", data.task.name, split.split, side, "from cache" if hit else "encoded")
    return out, time.perf_counter() - start


def geometry_rows(n: int, max_samples: int, seed: int, task: str) -> np.ndarray:
    """Seeded rows of the stacked eval embeddings that the set metrics use (the same for every model)."""
    rng = np.random.default_rng((seed, zlib.crc32(task.encode())))
    return np.sort(rng.choice(n, size=min(n, max_samples), replace=False))


def pair_overlap(split: GlueSplit) -> np.ndarray | None:
    """Word-overlap Jaccard of each pair of a split (None for single-sentence tasks)."""
    if split.texts_b is None:
        return None
    return np.array(
        [jaccard(word_set(a), word_set(b)) for a, b in zip(split.texts_a, split.texts_b, strict=True)]
    )


def analyse_task(
    encoder: LoadedEncoder, data: TaskData, emb: Embeddings, args: argparse.Namespace
) -> tuple[dict[str, Estimates], dict[str, list[float]]]:
    """Probes, metrics and resampling replicates of one model and task, for every pooling.

    The resampling indices depend only on the task, the sizes and the seed, so every model is resampled
    on the same examples (the paired design of `significance`).

    Returns:
        (pooling -> Estimates, pooling -> eigen-spectrum of the geometry sample).
    """
    side_a = {s.split: split_texts(s, args.protocol)["a"] for s in (data.train, data.eval)}
    lexical = lexical_targets(
        encoder.tokenizer,
        side_a[data.train.split],
        side_a[data.eval.split],
        args.max_length,
        args.bow_vocab_size,
    )
    overlap = pair_overlap(data.eval)
    train, ev = emb[data.train.split], emb[data.eval.split]
    n_stacked = len(data.eval) * len(ev)
    rows = geometry_rows(n_stacked, args.max_geometry_samples, args.seed, data.task.name)
    rng = np.random.default_rng((args.seed, zlib.crc32(data.task.name.encode()), 1))
    boot_idx = bootstrap_indices(len(data.eval), args.n_bootstrap, rng)
    n, m = len(rows), len(rows) // 2
    sub_idx = subsample_indices(n, m, args.n_subsamples, rng)
    estimates, spectra = {}, {}
    for pooling in args.poolings:
        record = probe_record(
            data.task,
            {side: x[pooling] for side, x in train.items()},
            {side: x[pooling] for side, x in ev.items()},
            data.train.labels,
            data.eval.labels,
            lexical,
            PROTOCOL_PROBES[args.protocol],
            positive_eval=data.eval.positive_mask(),
            overlap_eval=overlap,
            token_probe_classes=args.token_probe_classes,
            seed=args.seed,
        )
        # Set metrics on the eval embeddings of every side stacked (both sentences of siamese pairs).
        geometry = np.concatenate([ev[side][pooling] for side in sorted(ev)])[rows]
        values = {**example_metrics(record, np.arange(len(data.eval))), **geometry_metrics(geometry)}
        replicates = {
            **replicate(lambda idx, r=record: example_metrics(r, idx), boot_idx),
            **replicate(lambda idx, g=geometry: geometry_metrics(g[idx]), sub_idx),
        }
        kinds = {k: "subsampling" if k in GEOMETRY_METRICS else "bootstrap" for k in values}
        estimates[pooling] = Estimates(values, replicates, kinds, n, m)
        spectra[pooling] = explained_variance(singular_values(geometry))[: args.max_spectrum].tolist()
        logger.info("%s %s: %s", data.task.name, pooling, _headline(values))
    return estimates, spectra


def _headline(values: dict[str, float]) -> str:
    keys = ("uniformity", "effective_rank", "accuracy", "spearmanr", "token_probe_acc", "balance")
    return ", ".join(f"{k}={values[k]:.3f}" for k in keys if k in values)


def _cell(value: float, lo: float = float("nan"), hi: float = float("nan")) -> dict[str, float | None]:
    """One metric cell of the results, NaN written as None."""

    def clean(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return {"value": clean(value), "ci_low": clean(lo), "ci_high": clean(hi)}


def compare_models(names: Sequence[str], estimates: dict) -> list[dict]:
    """Paired differences of every pair of models on every task, pooling and metric, Holm-corrected.

    `estimates[model][task][pooling]` are `Estimates`; families for Holm are (model pair, metric).
    """
    comparisons = []
    for a, b in itertools.combinations(names, 2):
        for task, by_pool in estimates[a].items():
            for pooling, est_a in by_pool.items():
                est_b = estimates[b][task][pooling]
                for metric in est_a.values:
                    if metric not in est_b.values:
                        continue
                    diff = paired_difference(est_a, est_b, metric)
                    comparisons.append(
                        {
                            "model_a": a,
                            "model_b": b,
                            "task": task,
                            "pooling": pooling,
                            "metric": metric,
                            **diff,
                        }
                    )
    add_holm(comparisons)
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in c.items()}
        for c in comparisons
    ]


def analyse_model(
    path: str, task_data: dict[str, TaskData], args: argparse.Namespace, cache_dir: str
) -> dict:
    """Encode every task with one model (cached) and estimate all its metrics.

    Returns a record `{"model": {...}, "estimates": task -> pooling -> estimates, "spectra": ...,
    "encode_seconds": task -> s}`; the analysis of a model depends on nothing but the model, the data and
    the arguments, so records of models analysed in separate processes combine exactly (`assemble_results`).
    """
    encoder = load_encoder(path, device=args.device, trust_remote_code=args.trust_remote_code)
    record = {"model": {"path": path, "num_parameters": encoder.num_parameters}}
    estimates, spectra, encode_seconds = {}, {}, {}
    for task, data in task_data.items():
        emb, encode_seconds[task] = encode_task(encoder, data, args, cache_dir)
        estimates[task], spectra[task] = analyse_task(encoder, data, emb, args)
        record["model"]["hidden_size"] = int(next(iter(emb[data.eval.split]["a"].values())).shape[1])
    del encoder
    record.update(estimates=estimates, spectra=spectra, encode_seconds=encode_seconds)
    return record


def assemble_results(
    names: Sequence[str], records: dict[str, dict], task_data: dict[str, TaskData], args: argparse.Namespace
) -> dict:
    """Intervals, paired comparisons with Holm and the claims (the first model plays the paper's hybrid)
    from per-model records of `analyse_model`; the dict that `write_outputs` writes (not yet jsonable)."""
    estimates = {name: records[name]["estimates"] for name in names}
    results = {
        name: {
            task: {
                pooling: {metric: _cell(v, *est.interval(metric)) for metric, v in est.values.items()}
                for pooling, est in by_pool.items()
            }
            for task, by_pool in by_task.items()
        }
        for name, by_task in estimates.items()
    }
    comparisons = compare_models(names, estimates)
    claims = [
        {
            **claim_verdict(
                claim, [c for c in comparisons if c["model_a"] == names[0] and c["model_b"] == other]
            ),
            "model_a": names[0],
            "model_b": other,
        }
        for other in names[1:]
        for claim in CLAIMS
    ]
    return {
        "protocol": args.protocol,
        "models": {name: records[name]["model"] for name in names},
        "tasks": list(args.tasks),
        "poolings": list(args.poolings),
        "results": results,
        "comparisons": comparisons,
        "claims": claims,
        "timing": {
            "encode_seconds": {name: records[name]["encode_seconds"] for name in names},
            "total_seconds": 0.0,
        },
        "n_examples": {
            t: {"train": len(d.train), "eval": len(d.eval), "eval_split": d.eval.split}
            for t, d in task_data.items()
        },
        "spectra": {name: records[name]["spectra"] for name in names},
        "settings": {k: v for k, v in vars(args).items() if k != "log_level"},
    }


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the analysis; returns the results dict that is also written to `<output_dir>/results.json`."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # threadpoolctl limits only libraries already loaded: load scipy's and scikit-learn's BLAS first.
    import scipy.linalg  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        return run(args)


def run(args: argparse.Namespace) -> dict:
    """The analysis behind `main`, on parsed arguments."""
    start = time.perf_counter()
    output_dir = Path(args.output_dir)
    cache_dir = args.cache_dir or str(output_dir / "cache")
    names = args.model_names or display_names(args.model_name_or_path)

    # 1. Data first: a missing folder or split fails before any model is loaded.
    task_data = {t: load_task_data(get_task(t), args) for t in args.tasks}

    # 2. Encode (cached) and analyse, one model in memory at a time.
    records = {
        name: analyse_model(path, task_data, args, cache_dir)
        for name, path in zip(names, args.model_name_or_path, strict=True)
    }

    # 3. Intervals, paired comparisons with Holm, and the claims (first model = the paper's hybrid).
    out = assemble_results(names, records, task_data, args)
    out["timing"]["total_seconds"] = time.perf_counter() - start
    out = jsonable(out)
    write_outputs(out, output_dir, plots=args.plots)
    logger.info("done in %.1f s; wrote %s", out["timing"]["total_seconds"], output_dir)
    return out


if __name__ == "__main__":
    main()
