"""Representation analysis of frozen encoders on probe tasks: geometry, lexical information, balance, linear probes.

    python run_glue_probe.py --model_name_or_path out/hybrid out/mlm --glue_dir data/glue --output_dir probe/
    python run_glue_probe.py probe.yaml [--flags ...]          # arguments from a YAML/JSON file, flags override
    python run_glue_probe.py --model_name_or_path org/model --task_spec sick.yaml --output_dir probe/

One forward pass per model, task and split gives every pooling (cached under `--cache_dir`); per model,
task and pooling it computes the geometry, lexical and downstream-probe metrics with 95 % intervals, and with
two or more models the paired differences, Holm-corrected over the task x pooling cells, and a verdict on
each of the paper's claims (the first model plays the hybrid). Writes `results.json` (`results.ProbeRun`),
`report.md` and PNG plots under `--output_dir`. With `--records_dir`, each model's measurements are kept and read
back (`records`), so models measured in separate runs, even after their weights are gone, compare exactly as if
probed together.

Tasks are the five built-in GLUE tasks or task specs (`--task_spec`, see `tasks.TaskSpec`).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import os
import re
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..files import is_local
from .claims import (
    ClaimCell,
    arm_difference,
    decide_claim,
    duplicate_poolings,
    is_collapsed,
    is_informative,
    lift_ci_low,
)
from .glue import GLUE_HUB_ID
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
    LoadedEncoder,
    cached_encode,
    example_metrics,
    lexical_targets,
    load_encoder,
    probe_record,
)
from .protocols import PROTOCOLS, get_protocol
from .records import ModelRecord, load_record, record_key, record_path, save_record
from .report import write_outputs
from .results import Cell, ClaimVerdict, Comparison, ModelInfo, ProbeRun, TaskExamples, Timing
from .significance import (
    CLAIMS,
    Estimates,
    add_holm,
    bootstrap_indices,
    paired_difference,
    probes_at_majority,
    replicate,
    subsample_indices,
)
from .tasks import GLUE_TASKS, TaskSpec, TaskSplit, get_task, load_split, load_task_spec

logger = logging.getLogger(__name__)


@dataclass
class ProbeArguments:
    """The flags of `run_glue_probe.py` (also the keys of a YAML/JSON file given as first argument)."""

    model_name_or_path: list[str] | None = field(
        default=None, metadata={"help": "Model folders or Hub ids (required); the first plays the hybrid."}
    )
    model_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "Display names, one per model (default: the Hub id, or the folder name; the last two path "
            "components when the folder name is generic such as 'model')."
        },
    )
    tasks: list[str] | None = field(
        default=None,
        metadata={
            "help": f"Tasks to probe: built-in {list(GLUE_TASKS)} or names of --task_spec specs (default: the "
            "specs given, else the five GLUE tasks)."
        },
    )
    task_spec: list[str] | None = field(
        default=None,
        metadata={
            "help": "Task specs: YAML/JSON files or inline JSON (see modeling_jepa_mlm.analysis.tasks)."
        },
    )
    poolings: list[str] | None = field(
        default=None,
        metadata={"help": f"Poolings among {list(PROBE_POOLERS)} (default: the protocol's four)."},
    )
    protocol: str = field(default="standard", metadata={"help": f"One of {list(PROTOCOLS)}."})
    glue_dir: str | None = field(
        default=None, metadata={"help": "Local folder with the Hub layout of GLUE (for the built-in tasks)."}
    )
    glue_hub_id: str = field(default=GLUE_HUB_ID, metadata={"help": "Hub id of GLUE for the built-in tasks."})
    max_train_samples: int = field(default=2000, metadata={"help": "Seeded sample of each train split."})
    max_eval_samples: int | None = field(
        default=None,
        metadata={
            "help": "Seeded sample of each eval split; default: all of it (SST-2 872, MRPC 408, CoLA 1,043, "
            "STS-B 1,500, MNLI matched 9,815). The probes are fitted on the train sample, so the eval split "
            "costs one forward pass per example, and the full split makes the intervals narrow enough for "
            "equivalence tests; cap it (e.g. 2000) for BERT-base-size encoders on CPU, where MNLI's 9,815 "
            "pairs take minutes."
        },
    )
    max_geometry_samples: int = field(default=1000, metadata={"help": "Embeddings for the set metrics."})
    max_length: int = field(default=128, metadata={"help": "Tokens per text (pairs: per pair)."})
    paper_padding: bool = field(
        default=False,
        metadata={
            "help": "Encode as the paper's released analysis does: every text padded to --max_length (the "
            "paper: 128) and no attention mask, so the encoder and the poolers see the [PAD] positions. Meant "
            "for --protocol paper, to test whether padding explains the paper's uniformity."
        },
    )
    attention_queries: int = field(
        default=5,
        metadata={"help": "Seeded random queries the attention pooling averages over (seed, seed + 1, ...)."},
    )
    arms: list[str] | None = field(
        default=None,
        metadata={
            "help": "The arm (objective) of each model, in --model_name_or_path order; repeat a name for "
            "several pre-training seeds of one arm, and the claims then use a bootstrap over seeds and "
            "sentences. Default: every model its own arm (one seed)."
        },
    )
    claim_pairs: list[str] | None = field(
        default=None,
        metadata={
            "help": "Which arms the claims compare, as `A:B` (A plays the paper's hybrid), e.g. `hybrid:mlm "
            "hybrid_balanced:mlm`; names from --arms (else the model names). Default: the first arm against "
            "each other arm."
        },
    )
    model_pairs: list[str] | None = field(
        default=None,
        metadata={
            "help": "Which models the paired comparisons (report, results.json, cards) cover, as `a:b` display "
            "names, e.g. the runs of one seed: `hybrid-seed1:mlm-seed1`. Default: every pair (n (n - 1) / 2 of "
            "them). The claims do not need them for arms of several seeds; a claim between two one-model arms "
            "adds its pair."
        },
    )
    random_control: str | None = field(
        default=None,
        metadata={
            "help": "Display name of a randomly initialised control: a cell then counts towards a probe claim "
            "only if both models' probes beat the control's (paired interval above 0) as well as chance (the "
            "control itself is the floor and need not beat anything)."
        },
    )
    batch_size: int = field(default=64, metadata={"help": "Texts per forward pass."})
    device: str | None = field(default=None, metadata={"help": "Default: cuda if available, else cpu."})
    seed: int = field(default=0, metadata={"help": "Seed of the samples, resamples and probes."})
    output_dir: str | None = field(
        default=None, metadata={"help": "Where results.json, report.md go (required)."}
    )
    cache_dir: str | None = field(
        default=None, metadata={"help": "Embedding cache (default: <output_dir>/cache)."}
    )
    records_dir: str | None = field(
        default=None,
        metadata={
            "help": "Keep each model's measurements as <records_dir>/<name>.npz (modeling_jepa_mlm.analysis."
            "records) and read them back instead of measuring again: models with a record need no weights, so "
            "models probed in separate runs compare as if probed together. A record made under other settings "
            "or examples is refused."
        },
    )
    records_only: bool = field(
        default=False,
        metadata={
            "help": "Measure and save the records (--records_dir) of the models that have none, and stop: no "
            "comparisons, results.json or report."
        },
    )
    n_bootstrap: int = field(default=1000, metadata={"help": "Paired bootstrap resamples."})
    n_subsamples: int = field(default=100, metadata={"help": "Subsamples (half the set) for set metrics."})
    token_probe_classes: int = field(default=20, metadata={"help": "Most frequent token-probe labels kept."})
    max_spectrum: int = field(default=512, metadata={"help": "Eigenvalues kept per spectrum in the JSON."})
    bow_vocab_size: int = field(
        default=50, metadata={"help": "Content word-pieces of the bag-of-words probe."}
    )
    blas_threads: int | None = field(
        default=None, metadata={"help": "Cap numpy/scipy BLAS threads (1 helps a lot on busy small CPUs)."}
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "Run a Hub repository's own modelling code (transformers' default: off). jepa-mlm folders "
            "load without it when this package is installed."
        },
    )
    plots: bool = field(default=True, metadata={"help": "Write the PNG plots (--no-plots to skip)."})
    disable_tqdm: bool = field(
        default=False,
        metadata={"help": "Hide progress bars (they are always hidden when stderr is not a terminal)."},
    )
    log_level: str = field(default="INFO", metadata={"help": "Logging level."})

    def __post_init__(self) -> None:
        """Fail early, naming the bad value and the valid ones; fill the protocol's default poolings.

        Raises:
            ValueError: a missing required flag, an unknown task, pooling or protocol, a bad task spec, a
                wrong number of display names, or the same model twice.
            FileNotFoundError: a task spec file that does not exist.
        """
        missing = [f"--{k}" for k in ("model_name_or_path", "output_dir") if not getattr(self, k)]
        if missing:
            raise ValueError(f"{' and '.join(missing)} required; see run_glue_probe.py --help")
        protocol = get_protocol(self.protocol)
        self.poolings = list(self.poolings or protocol.poolings)
        unknown = [p for p in self.poolings if p not in PROBE_POOLERS]
        if unknown:
            raise ValueError(f"unknown pooling(s) {unknown}; valid poolings: {', '.join(PROBE_POOLERS)}")
        if self.model_names is not None and len(self.model_names) != len(self.model_name_or_path):
            raise ValueError(
                f"--model_names has {len(self.model_names)} names for {len(self.model_name_or_path)} models"
            )
        if self.arms is not None and len(self.arms) != len(self.model_name_or_path):
            raise ValueError(f"--arms has {len(self.arms)} names for {len(self.model_name_or_path)} models")
        for flag, what in (("claim_pairs", "arm"), ("model_pairs", "model")):
            malformed = [p for p in getattr(self, flag) or [] if len(p.split(":")) != 2 or "" in p.split(":")]
            if malformed:
                raise ValueError(f"--{flag} {malformed} are not valid; accepted: `A:B`, two {what} names")
        if self.records_only and not self.records_dir:
            raise ValueError("--records_only saves records: give --records_dir too")
        if self.attention_queries < 1:
            raise ValueError(f"--attention_queries must be >= 1, got {self.attention_queries}")
        if len(set(self.model_name_or_path)) != len(self.model_name_or_path):
            raise ValueError(f"the same model is given twice: {self.model_name_or_path}")
        resolve_tasks(self.tasks, self.task_spec)  # an unknown task or a bad spec fails here


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the flag help, the module docstring's layout kept."""


def parse_args(argv: Sequence[str] | None = None) -> ProbeArguments:
    """Arguments from an optional leading YAML/JSON file, overridden by any flags after it; see `--help`.

    Raises:
        FileNotFoundError: the config file does not exist. ValueError: unknown keys in it, or bad values.
    """
    import yaml
    from transformers import HfArgumentParser

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(ProbeArguments, description=__doc__, formatter_class=_HelpFormatter)
    if argv and argv[0].endswith((".yaml", ".yml", ".json")):
        path = Path(argv.pop(0))
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} does not exist")
        defaults = (yaml.safe_load if path.suffix != ".json" else json.loads)(path.read_text()) or {}
        unknown = sorted(set(defaults) - set(ProbeArguments.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"{path}: unknown keys {unknown}; keys are the flags of run_glue_probe.py --help"
            )
        parser.set_defaults(**defaults)
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


def show_progress(disable_tqdm: bool = False) -> bool:
    """Whether to draw progress bars: not when asked not to, and not when stderr is not a terminal (bars redraw
    with carriage returns, which pile up as lines in a log file)."""
    return not disable_tqdm and sys.stderr.isatty()


def resolve_tasks(tasks: Sequence[str] | None, task_specs: Sequence[str] | None) -> list[TaskSpec]:
    """The tasks to probe: the named ones among the built-in GLUE tasks and the specs, by default the specs
    given, else the five GLUE tasks.

    Raises:
        ValueError: an unknown task name (lists the valid ones) or two specs with one name.
    """
    specs = [load_task_spec(s) for s in task_specs or ()]
    by_name = {s.name: s for s in specs}
    if len(by_name) != len(specs):
        raise ValueError(f"two task specs share a name: {[s.name for s in specs]}")
    names = list(tasks) if tasks else list(by_name) or list(GLUE_TASKS)
    return [get_task(name, by_name) for name in names]


# Folder names that say nothing about the model (Hub snapshots, checkpoints, export folders).
GENERIC_NAMES = frozenset({"model", "models", "final", "export", "output", "out", "best", "last", "hf"})
_GENERIC = re.compile(r"^(checkpoint-\d+|[0-9a-f]{40})$")
_HUB_CACHE = re.compile(r"(?:^|/)models--([^/]+)/snapshots/[^/]+/?$")


def model_display_name(path: str) -> str:
    """A short name for a model: its Hub id for a Hub id or a Hub-cache snapshot folder
    (`.../models--org--name/snapshots/<rev>` -> `org/name`); else the folder name, or its last two path
    components when the folder name is generic (`model`, `checkpoint-500`, a commit hash)."""
    normalised = os.path.normpath(path).replace(os.sep, "/")
    cached = _HUB_CACHE.search(normalised)
    if cached:
        return cached.group(1).replace("--", "/")
    if not is_local(path):
        return path.strip("/")
    parts = [p for p in normalised.split("/") if p not in ("", ".")]
    base = parts[-1] if parts else path
    if (base.lower() in GENERIC_NAMES or _GENERIC.match(base)) and len(parts) >= 2:
        return "/".join(parts[-2:])
    return base


def display_names(paths: Sequence[str]) -> list[str]:
    """`model_display_name` of each path, with `-2`, `-3` ... on repeats."""
    names, seen = [], {}
    for path in paths:
        base = model_display_name(path)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


@dataclass
class TaskData:
    """The train and eval examples of one task, identical for every model."""

    task: TaskSpec
    train: TaskSplit
    eval: TaskSplit


def load_task_data(
    task: TaskSpec,
    *,
    glue_dir: str | None = None,
    glue_hub_id: str = GLUE_HUB_ID,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    seed: int = 0,
) -> TaskData:
    """Seeded sub-samples of the task's train and eval splits (`load_split`)."""
    kw = dict(glue_dir=glue_dir, glue_hub_id=glue_hub_id, seed=seed)
    return TaskData(
        task,
        load_split(task, task.train_split, max_samples=max_train_samples, **kw),
        load_split(task, task.eval_split, max_samples=max_eval_samples, **kw),
    )


def split_texts(split: TaskSplit, protocol: str) -> dict[str, list]:
    """What gets encoded, by side: "a" (and "b" for pairs under a siamese protocol, encoded apart).

    A non-siamese protocol (the paper's) encodes a pair as one sequence, `[CLS] a [SEP] b [SEP]`, under "a".
    """
    if split.texts_b is None:
        return {"a": split.texts_a}
    if not get_protocol(protocol).siamese:
        return {"a": list(zip(split.texts_a, split.texts_b, strict=True))}
    return {"a": split.texts_a, "b": split.texts_b}


Embeddings = dict[str, dict[str, dict[str, np.ndarray]]]  # split -> side -> pooling -> (N, D)


def encode_task(
    encoder: LoadedEncoder,
    data: TaskData,
    *,
    protocol: str,
    poolings: Sequence[str],
    cache_dir: str | None,
    batch_size: int = 64,
    max_length: int = 128,
    seed: int = 0,
    attention_queries: int = 1,
    paper_padding: bool = False,
    progress: bool = True,
) -> tuple[Embeddings, float]:
    """Encode every split and side of a task once, all poolings at once; returns embeddings and seconds."""
    start = time.perf_counter()
    out: Embeddings = {}
    for split in (data.train, data.eval):
        out[split.split] = {}
        for side, texts in split_texts(split, protocol).items():
            key = dict(task=data.task.name, split=split.split, side=side, protocol=protocol, n=len(texts))
            out[split.split][side], hit = cached_encode(
                encoder,
                texts,
                poolings,
                cache_dir=cache_dir,
                key=key,
                batch_size=batch_size,
                max_length=max_length,
                seed=seed,
                attention_queries=attention_queries,
                paper_padding=paper_padding,
                progress=progress,
            )
            logger.info("%s %s/%s: %s", data.task.name, split.split, side, "from cache" if hit else "encoded")
    return out, time.perf_counter() - start


def geometry_rows(n: int, max_samples: int, seed: int, task: str) -> np.ndarray:
    """Seeded rows of the stacked eval embeddings that the set metrics use (the same for every model)."""
    rng = np.random.default_rng((seed, zlib.crc32(task.encode())))
    return np.sort(rng.choice(n, size=min(n, max_samples), replace=False))


def pair_overlap(split: TaskSplit) -> np.ndarray | None:
    """Word-overlap Jaccard of each pair of a split (None for single-sentence tasks)."""
    if split.texts_b is None:
        return None
    return np.array(
        [jaccard(word_set(a), word_set(b)) for a, b in zip(split.texts_a, split.texts_b, strict=True)]
    )


@dataclass(frozen=True)
class AnalysisSettings:
    """What the analysis of one model does, the same for every model of a run (see the flags' help).

    Attributes:
        protocol: a name of `protocols.PROTOCOLS`; poolings: names of `probing.PROBE_POOLERS`.
        max_length: tokens per text; bow_vocab_size: targets of the bag-of-words probe.
        max_geometry_samples: embeddings the set metrics read; max_spectrum: eigenvalues kept per spectrum.
        n_bootstrap, n_subsamples: resamples of the per-example and the set metrics.
        token_probe_classes: most frequent token-probe labels kept.
        seed: seed of the samples, resamples, probes and the attention pooling's first query.
        attention_queries: seeded queries the attention pooling averages over; paper_padding: encode padded to
            max_length without an attention mask (`probing.encode_texts`).
    """

    protocol: str = "standard"
    poolings: tuple[str, ...] = PROTOCOLS["standard"].poolings
    max_length: int = 128
    bow_vocab_size: int = 50
    max_geometry_samples: int = 1000
    n_bootstrap: int = 1000
    n_subsamples: int = 100
    token_probe_classes: int = 20
    max_spectrum: int = 512
    seed: int = 0
    attention_queries: int = 1
    paper_padding: bool = False

    @classmethod
    def from_args(cls, args: ProbeArguments) -> AnalysisSettings:
        """The analysis settings among the command's arguments."""
        return cls(
            **{f.name: getattr(args, f.name) for f in fields(cls) if f.name != "poolings"},
            poolings=tuple(args.poolings),
        )


def analyse_task(
    encoder: LoadedEncoder, data: TaskData, emb: Embeddings, settings: AnalysisSettings
) -> tuple[dict[str, Estimates], dict[str, list[float]]]:
    """Probes, metrics and resampling replicates of one model and task, for every pooling.

    The resampling indices depend only on the task's name, the sizes and the seed, so every model is
    resampled on the same examples (the paired design of `significance`).

    Returns:
        (pooling -> Estimates, pooling -> eigen-spectrum of the geometry sample).
    """
    protocol, poolings, seed = settings.protocol, settings.poolings, settings.seed
    n_bootstrap, n_subsamples = settings.n_bootstrap, settings.n_subsamples
    side_a = {s.split: split_texts(s, protocol)["a"] for s in (data.train, data.eval)}
    lexical = lexical_targets(
        encoder.tokenizer,
        side_a[data.train.split],
        side_a[data.eval.split],
        settings.max_length,
        settings.bow_vocab_size,
    )
    overlap = pair_overlap(data.eval)
    train, ev = emb[data.train.split], emb[data.eval.split]
    n_stacked = len(data.eval) * len(ev)
    rows = geometry_rows(n_stacked, settings.max_geometry_samples, seed, data.task.name)
    rng = np.random.default_rng((seed, zlib.crc32(data.task.name.encode()), 1))
    boot_idx = bootstrap_indices(len(data.eval), n_bootstrap, rng)
    n, m = len(rows), len(rows) // 2
    sub_idx = subsample_indices(n, m, n_subsamples, rng)
    estimates, spectra = {}, {}
    for i, pooling in enumerate(poolings, 1):
        start = time.perf_counter()
        logger.info(
            "%s %s: fitting probes on %s pooling (%d/%d), %d bootstrap and %d subsampling resamples",
            encoder.path,
            data.task.name,
            pooling,
            i,
            len(poolings),
            n_bootstrap,
            n_subsamples,
        )
        record = probe_record(
            data.task,
            {side: x[pooling] for side, x in train.items()},
            {side: x[pooling] for side, x in ev.items()},
            data.train.labels,
            data.eval.labels,
            lexical,
            get_protocol(protocol).probe,
            positive_eval=data.eval.positive_mask(),
            overlap_eval=overlap,
            token_probe_classes=settings.token_probe_classes,
            seed=seed,
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
        spectra[pooling] = explained_variance(singular_values(geometry))[: settings.max_spectrum].tolist()
        logger.info(
            "%s %s: %s (%.1f s)", data.task.name, pooling, _headline(values), time.perf_counter() - start
        )
    return estimates, spectra


def _headline(values: dict[str, float]) -> str:
    keys = ("uniformity", "effective_rank", "accuracy", "spearmanr", "token_probe_acc", "balance")
    return ", ".join(f"{k}={values[k]:.3f}" for k in keys if k in values)


def compare_models(
    names: Sequence[str],
    estimates: dict[str, dict[str, dict[str, Estimates]]],
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[Comparison]:
    """Paired differences of every pair of models (or of `pairs`) on every task, pooling and metric,
    Holm-corrected.

    `estimates[model][task][pooling]` are `Estimates`; families for Holm are (model pair, metric).
    """
    comparisons = []
    for a, b in pairs if pairs is not None else itertools.combinations(names, 2):
        for task, by_pool in estimates[a].items():
            for pooling, est_a in by_pool.items():
                est_b = estimates[b][task][pooling]
                for metric in est_a.values:
                    if metric not in est_b.values:
                        continue
                    diff = paired_difference(est_a, est_b, metric)
                    cell = Cell.of(diff["diff"], diff["ci_low"], diff["ci_high"])
                    comparisons.append(
                        Comparison(
                            a,
                            b,
                            task,
                            pooling,
                            metric,
                            cell.value,
                            cell.ci_low,
                            cell.ci_high,
                            Cell.of(diff["p_value"]).value,
                            probes_at_majority=bool(diff["probes_at_majority"]),
                            ci90_low=Cell.of(diff["ci90_low"]).value,
                            ci90_high=Cell.of(diff["ci90_high"]).value,
                        )
                    )
    return add_holm(comparisons)


def analyse_model(
    path: str,
    task_data: dict[str, TaskData],
    settings: AnalysisSettings,
    *,
    cache_dir: str | None,
    device: str | None = None,
    trust_remote_code: bool = False,
    batch_size: int = 64,
    progress: bool = True,
) -> ModelRecord:
    """Encode every task with one model (cached) and estimate all its metrics."""
    encoder = load_encoder(path, device=device, trust_remote_code=trust_remote_code)
    estimates, spectra, encode_seconds = {}, {}, {}
    hidden_size = None
    for task, data in task_data.items():
        emb, encode_seconds[task] = encode_task(
            encoder,
            data,
            protocol=settings.protocol,
            poolings=settings.poolings,
            cache_dir=cache_dir,
            batch_size=batch_size,
            max_length=settings.max_length,
            seed=settings.seed,
            attention_queries=settings.attention_queries,
            paper_padding=settings.paper_padding,
            progress=progress,
        )
        estimates[task], spectra[task] = analyse_task(encoder, data, emb, settings)
        hidden_size = int(next(iter(emb[data.eval.split]["a"].values())).shape[1])
    info = ModelInfo(path, encoder.num_parameters, hidden_size)
    del encoder
    return ModelRecord(info, estimates, spectra, encode_seconds)


def arms_of(names: Sequence[str], arms: Sequence[str] | None) -> dict[str, list[str]]:
    """Arm -> the display names of its models (its pre-training seeds), in the order given; the first arm
    plays the paper's hybrid. Without `arms` every model is its own arm."""
    out: dict[str, list[str]] = {}
    for name, arm in zip(names, arms or names, strict=True):
        out.setdefault(arm, []).append(name)
    return out


def cell_informative(
    models: Sequence[str],
    task: str,
    pooling: str,
    estimates: dict,
    control: str | None,
    control_arm: Sequence[str] = (),
) -> bool:
    """Whether every model's downstream probe beats chance in this cell (interval of `probe_lift` above 0) and,
    when a random control is named, the control's probe too (paired interval of `probe_headline` above 0).
    The control is the floor, not a model under test: it need not beat anything itself, nor need the other
    seeds of its arm (`control_arm`)."""
    tested = [m for m in models if m != control and m not in control_arm]
    lows = [lift_ci_low(estimates[m][task][pooling]) for m in tested]
    if control is not None:
        ref = estimates[control][task][pooling]
        lows += [
            paired_difference(estimates[m][task][pooling], ref, "probe_headline")["ci_low"] for m in tested
        ]
    return is_informative(lows)


def _number(x: float | None) -> float:
    """None (undefined in JSON) as NaN."""
    return float("nan") if x is None else float(x)


def reversed_comparison(c: Comparison) -> Comparison:
    """`b - a` from the comparison `a - b`: the difference and both intervals negated, p-values unchanged."""

    def neg(x: float | None) -> float | None:
        return None if x is None else -x

    return dataclasses.replace(
        c,
        model_a=c.model_b,
        model_b=c.model_a,
        diff=neg(c.diff),
        ci_low=neg(c.ci_high),
        ci_high=neg(c.ci_low),
        ci90_low=neg(c.ci90_high),
        ci90_high=neg(c.ci90_low),
    )


def claim_cells(
    arm_a: Sequence[str],
    arm_b: Sequence[str],
    estimates: dict,
    comparisons: Sequence[Comparison],
    widths: dict[str, int | None],
    *,
    random_control: str | None = None,
    control_arm: Sequence[str] = (),
    seed: int = 0,
) -> list[ClaimCell]:
    """The cells of every claim metric for two arms: from the model comparison with one seed per arm, else from
    the seed x sentence bootstrap (`claims.arm_difference`), Holm-corrected within each metric."""
    metrics = {m for claim in CLAIMS for m in claim.metrics}
    models = [*arm_a, *arm_b]
    if len(arm_a) == len(arm_b) == 1:
        pair = (arm_a[0], arm_b[0])
        rows = [c for c in comparisons if (c.model_a, c.model_b) == pair and c.metric in metrics]
        if not rows:  # the models were listed the other way round: the same comparison, negated
            rows = [
                reversed_comparison(c)
                for c in comparisons
                if (c.model_b, c.model_a) == pair and c.metric in metrics
            ]
    else:
        rng = np.random.default_rng(seed)
        rows = []
        for task, by_pool in estimates[arm_a[0]].items():
            for pooling, est in by_pool.items():
                for metric in sorted(metrics & set(est.values)):
                    d = arm_difference(
                        [estimates[m][task][pooling] for m in arm_a],
                        [estimates[m][task][pooling] for m in arm_b],
                        metric,
                        rng,
                    )
                    cell, cell90 = (
                        Cell.of(d.diff, d.ci_low, d.ci_high),
                        Cell.of(d.diff, d.ci90_low, d.ci90_high),
                    )
                    majority = any(probes_at_majority(estimates[m][task][pooling]) for m in models)
                    rows.append(
                        Comparison(
                            "a", "b", task, pooling, metric, cell.value, cell.ci_low, cell.ci_high,
                            Cell.of(d.p_value).value, probes_at_majority=majority,
                            ci90_low=cell90.ci_low, ci90_high=cell90.ci_high,
                        )
                    )  # fmt: skip
        rows = add_holm(rows)
    return [
        ClaimCell(
            c.task,
            c.pooling,
            c.metric,
            _number(c.diff),
            _number(c.ci_low),
            _number(c.ci_high),
            bool(c.significant),
            _number(c.ci90_low),
            _number(c.ci90_high),
            informative=cell_informative(models, c.task, c.pooling, estimates, random_control, control_arm),
            collapsed=any(
                widths[m] is not None and is_collapsed(estimates[m][c.task][c.pooling], widths[m])
                for m in models
            ),
            probes_at_majority=bool(c.probes_at_majority),
        )
        for c in rows
    ]


def pooling_duplicates(estimates: dict) -> dict[str, dict[str, str]]:
    """Task -> {pooling: the earlier pooling whose embeddings it repeats}, from every model's set metrics."""
    first = next(iter(estimates.values()))
    return {
        task: duplicate_poolings(
            {
                pooling: [
                    estimates[m][task][pooling].values.get(k, np.nan)
                    for m in estimates
                    for k in GEOMETRY_METRICS
                ]
                for pooling in by_pool
            }
        )
        for task, by_pool in first.items()
    }


def check_claim_arms(
    names: Sequence[str],
    arms: Sequence[str] | None,
    claim_pairs: Sequence[str] | None,
    control: str | None,
    model_pairs: Sequence[str] | None = None,
) -> None:
    """Before anything is encoded: every arm `claim_pairs` names exists, every model `model_pairs` names is one,
    and the random control is a model.

    Raises:
        ValueError: naming the unknown arm, model or control and the known ones.
    """
    if control is not None and control not in names:
        raise ValueError(f"--random_control {control!r} is not a model name; names: {list(names)}")
    known = arms_of(names, arms)
    unknown = sorted({a for p in claim_pairs or [] for a in p.split(":")} - set(known))
    if unknown:
        raise ValueError(f"--claim_pairs name unknown arms {unknown}; arms: {list(known)}")
    unknown = sorted({m for p in model_pairs or [] for m in p.split(":")} - set(names))
    if unknown:
        raise ValueError(f"--model_pairs name unknown models {unknown}; model names: {list(names)}")
    twice = [p for p in model_pairs or [] if len(set(p.split(":"))) == 1]
    if twice:
        raise ValueError(f"--model_pairs {twice} compare a model with itself; give two different models")


def claim_arm_pairs(by_arm: dict[str, list[str]], claim_pairs: Sequence[str] | None) -> list[tuple[str, str]]:
    """The pairs of arms the claims compare: `claim_pairs` as `A:B`, else the first arm against each other."""
    if claim_pairs:
        return [tuple(p.split(":")) for p in claim_pairs]
    first, *others = by_arm
    return [(first, o) for o in others]


def comparison_pairs(
    names: Sequence[str],
    arms: Sequence[str] | None = None,
    claim_pairs: Sequence[str] | None = None,
    model_pairs: Sequence[str] | None = None,
) -> list[tuple[str, str]] | None:
    """The model pairs `compare_models` compares: None (every pair) without `model_pairs`; else those pairs, in
    order and once each, and the pair of every claim between two one-model arms (its cells are those rows)."""
    if model_pairs is None:
        return None
    pairs = list(dict.fromkeys(tuple(p.split(":")) for p in model_pairs))
    by_arm = arms_of(names, arms)
    for arm_a, arm_b in claim_arm_pairs(by_arm, claim_pairs):
        if len(by_arm[arm_a]) == len(by_arm[arm_b]) == 1:
            pair = (by_arm[arm_a][0], by_arm[arm_b][0])
            if pair not in pairs and pair[::-1] not in pairs:
                pairs.append(pair)
    return pairs


def claim_verdicts(
    names: Sequence[str],
    estimates: dict,
    comparisons: Sequence[Comparison],
    widths: dict[str, int | None],
    *,
    arms: Sequence[str] | None = None,
    claim_pairs: Sequence[str] | None = None,
    random_control: str | None = None,
    seed: int = 0,
) -> list[ClaimVerdict]:
    """Every claim for each pair of arms `A:B` in `claim_pairs` (default: the first arm against each other
    arm; `claims.decide_claim`), with the counts behind it.

    Raises:
        ValueError: a random control that is not one of the models, or a pair naming an unknown arm.
    """
    check_claim_arms(names, arms, claim_pairs, random_control)
    by_arm = arms_of(names, arms)
    duplicates = pooling_duplicates(estimates)
    control_arm = next((ms for ms in by_arm.values() if random_control in ms), [])
    out = []
    for arm_a, arm_b in claim_arm_pairs(by_arm, claim_pairs):
        cells = claim_cells(
            by_arm[arm_a],
            by_arm[arm_b],
            estimates,
            comparisons,
            widths,
            random_control=random_control,
            control_arm=control_arm,
            seed=seed,
        )
        seeds = (len(by_arm[arm_a]), len(by_arm[arm_b]))
        for claim in CLAIMS:
            d = decide_claim(claim, cells, duplicates, seeds)
            out.append(
                ClaimVerdict(
                    claim.name, claim.paper, d.verdict, d.evidence, arm_a, arm_b,
                    d.cells, d.informative, d.duplicates, list(d.seeds), claim_cell_records(claim, cells, duplicates),
                )
            )  # fmt: skip
    return out


def claim_cell_records(claim, cells: Sequence[ClaimCell], duplicates: dict) -> list[dict[str, Any]]:
    """The cells of one claim (its metrics and poolings) as JSON records, undefined numbers as None."""

    def plain(v: Any) -> Any:
        return Cell.of(v).value if isinstance(v, float) else bool(v) if isinstance(v, np.bool_) else v

    return [
        {**{k: plain(v) for k, v in asdict(c).items()}, "duplicate": c.pooling in duplicates.get(c.task, {})}
        for c in cells
        if claim.covers(c.metric, c.pooling)
    ]


def assemble_results(
    names: Sequence[str],
    records: dict[str, ModelRecord],
    task_data: dict[str, TaskData],
    settings: AnalysisSettings,
    arguments: dict[str, Any] | None = None,
    *,
    arms: Sequence[str] | None = None,
    claim_pairs: Sequence[str] | None = None,
    random_control: str | None = None,
    model_pairs: Sequence[str] | None = None,
) -> ProbeRun:
    """Intervals, paired comparisons with Holm and the claims (the first model plays the paper's hybrid)
    from per-model records of `analyse_model`; `arguments` are recorded as the run's `settings`."""
    estimates = {name: records[name].estimates for name in names}
    results = {
        name: {
            task: {
                pooling: {metric: Cell.of(v, *est.interval(metric)) for metric, v in est.values.items()}
                for pooling, est in by_pool.items()
            }
            for task, by_pool in by_task.items()
        }
        for name, by_task in estimates.items()
    }
    comparisons = compare_models(names, estimates, comparison_pairs(names, arms, claim_pairs, model_pairs))
    widths = {name: records[name].info.hidden_size for name in names}
    claims = claim_verdicts(
        names,
        estimates,
        comparisons,
        widths,
        arms=arms,
        claim_pairs=claim_pairs,
        random_control=random_control,
        seed=settings.seed,
    )
    # The user's task specs are recorded; a built-in GLUE task is known by its name.
    specs = {t: d.task.to_dict() for t, d in task_data.items() if GLUE_TASKS.get(t) != d.task}
    return ProbeRun(
        protocol=settings.protocol,
        models={name: records[name].info for name in names},
        tasks=list(task_data),
        poolings=list(settings.poolings),
        results=results,
        comparisons=comparisons,
        claims=claims,
        timing=Timing({name: records[name].encode_seconds for name in names}, 0.0),
        n_examples={t: TaskExamples(len(d.train), len(d.eval), d.eval.split) for t, d in task_data.items()},
        spectra={name: records[name].spectra for name in names},
        settings=dict(arguments or {}),
        task_specs=specs or None,
    )


def main(argv: Sequence[str] | None = None) -> ProbeRun | None:
    """Run the analysis; returns the `ProbeRun` that is also written to `<output_dir>/results.json` (None with
    `--records_only`, which writes only the records)."""
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


def run(args: ProbeArguments) -> ProbeRun | None:
    """The analysis behind `main`, on parsed arguments (None with `--records_only`)."""
    start = time.perf_counter()
    progress = show_progress(args.disable_tqdm)
    if not progress:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    output_dir = Path(args.output_dir)
    cache_dir = args.cache_dir or str(output_dir / "cache")
    names = args.model_names or display_names(args.model_name_or_path)
    if not args.records_only:  # records need no comparison: a subset of a study's models is measured alone
        check_claim_arms(names, args.arms, args.claim_pairs, args.random_control, args.model_pairs)

    # 1. Data first: a missing folder, split or column fails before any model is loaded.
    tasks = resolve_tasks(args.tasks, args.task_spec)
    task_data = {
        t.name: load_task_data(
            t,
            glue_dir=args.glue_dir,
            glue_hub_id=args.glue_hub_id,
            max_train_samples=args.max_train_samples,
            max_eval_samples=args.max_eval_samples,
            seed=args.seed,
        )
        for t in tasks
    }

    # 2. Encode (cached) and analyse, one model in memory at a time; or read the model's record.
    settings = AnalysisSettings.from_args(args)
    key = record_key(settings, task_data) if args.records_dir else None
    records = {}
    for name, path in zip(names, args.model_name_or_path, strict=True):
        saved = record_path(args.records_dir, name) if args.records_dir else None
        if saved is not None and saved.is_file():
            records[name] = load_record(saved, key)
            logger.info("%s: measurements read from %s", name, saved)
            continue
        records[name] = analyse_model(
            path,
            task_data,
            settings,
            cache_dir=cache_dir,
            device=args.device,
            trust_remote_code=args.trust_remote_code,
            batch_size=args.batch_size,
            progress=progress,
        )
        if saved is not None:
            save_record(records[name], saved, key)
            logger.info("%s: measurements saved to %s", name, saved)
    if args.records_only:
        logger.info(
            "records of %d models in %s; done in %.1f s",
            len(records),
            args.records_dir,
            time.perf_counter() - start,
        )
        return None

    # 3. Intervals, paired comparisons with Holm, and the claims (first model = the paper's hybrid).
    arguments = {k: v for k, v in asdict(args).items() if k not in ("log_level", "disable_tqdm")}
    out = assemble_results(
        names,
        records,
        task_data,
        settings,
        arguments,
        arms=args.arms,
        claim_pairs=args.claim_pairs,
        random_control=args.random_control,
        model_pairs=args.model_pairs,
    )
    out.timing.total_seconds = time.perf_counter() - start
    write_outputs(out, output_dir, plots=args.plots)
    logger.info("done in %.1f s; wrote %s", out.timing.total_seconds, output_dir)
    return out


if __name__ == "__main__":
    main()
