"""The probe's results as typed records, and their one JSON form (`results.json`): `save` and `load`.

JSON layout (keys stable; every file `run_glue_probe.py` has written so far loads):

- `protocol`: a name of `protocols.PROTOCOLS`.
- `models`: display name -> `ModelInfo` {"path", "num_parameters", "hidden_size"}; the first model plays the
  paper's hybrid in `claims`.
- `tasks`: task names as the user named them (built-in GLUE tasks or task specs); `poolings`: pooling names.
- `results[model][task][pooling][metric]`: a `Cell` {"value", "ci_low", "ci_high"}, null where undefined
  (95 % intervals: percentile paired bootstrap for per-example metrics, subsampling for set metrics).
- `comparisons`: `Comparison`s of every pair of models on every task x pooling x metric; Holm families are
  (model_a, model_b, metric) over the task x pooling cells; significant = p_holm < 0.05.
- `claims`: `ClaimVerdict`s of the paper's claims, the first model against each other one.
- `timing`: `Timing` {"encode_seconds": {model: {task: s}}, "total_seconds", "analyse_seconds" (optional)}.
- `plots`: names of the PNG files written next to the JSON.
- `n_examples`: task -> `TaskExamples` {"train", "eval", "eval_split"}.
- `spectra[model][task][pooling]`: PCA explained-variance ratios of the geometry sample, descending.
- `settings`: the probe's arguments as given (free-form).
- `task_specs` (optional): task -> the spec the task was read with (see `tasks.TaskSpec.to_dict`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from ..files import RESULTS_NAME, jsonable
from .tasks import GLUE_TASKS, TaskSpec


def _finite_or_none(x: float | None) -> float | None:
    """JSON has no NaN: an undefined number is None."""
    return None if x is None or not math.isfinite(x) else float(x)


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    """Fail on keys the record does not know (a typo or a newer schema), naming them and the known ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} for {cls.__name__}; known keys: {sorted(known)}")


class _Record:
    """`from_dict` for records whose JSON form is their fields (unknown keys fail); `to_dict` leaves out the
    optional fields named in `OMIT_IF_NONE` while they are None."""

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        _check_keys(cls, data, cls.__name__)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in self.OMIT_IF_NONE:
            if out[key] is None:
                del out[key]
        return out


@dataclass(frozen=True)
class Cell(_Record):
    """One metric of one model, task and pooling: the estimate and its 95 % interval (None where undefined)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, value: float, ci_low: float = float("nan"), ci_high: float = float("nan")) -> Cell:
        """A cell from floats that may be NaN (undefined -> None)."""
        return cls(_finite_or_none(value), _finite_or_none(ci_low), _finite_or_none(ci_high))


@dataclass(frozen=True)
class Comparison(_Record):
    """The paired difference `model_a - model_b` of one metric on one task and pooling.

    Attributes:
        diff, ci_low, ci_high: the difference and its 95 % interval (None where undefined).
        p_value: two-sided p of H0: difference = 0; p_holm: Holm-adjusted within (model_a, model_b, metric).
        significant: p_holm < 0.05.
        probes_at_majority: either model's token probe sits at its majority-class baseline in this cell
            (`significance.probes_at_majority`), so the cell cannot support a probe claim.
        ci90_low, ci90_high: the 90 % interval, for equivalence by two one-sided tests (`claims.tost_equivalent`).
    """

    model_a: str
    model_b: str
    task: str
    pooling: str
    metric: str
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_holm: float | None = None
    significant: bool = False
    probes_at_majority: bool = False
    ci90_low: float | None = None
    ci90_high: float | None = None

    # written only when set, so results of runs before these fields existed load and write back unchanged
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("ci90_low", "ci90_high")


@dataclass(frozen=True)
class ClaimVerdict(_Record):
    """The verdict on one of the paper's claims for `model_a` (the hybrid) against `model_b`.

    Attributes:
        verdict: one of `claims.VERDICTS`; evidence: the counts behind it, in words.
        model_a, model_b: the arms compared (`--arms`; by default each model is its own arm).
        cells: the claim's task x pooling x metric cells, after `duplicates` cells of a pooling that repeats
            another's embeddings were dropped; informative: the cells that count (`claims.decide_claim`).
        seeds: [pre-training seeds of arm a, of arm b] behind the intervals.
        by_cell: every cell of the claim (`task`, `pooling`, `metric`, the difference a - b with its 95 % and
            90 % intervals, over seeds and sentences with several seeds per arm; `significant`, `informative`,
            `collapsed`, `probes_at_majority`, `duplicate` for a pooling that repeats another's embeddings).
    """

    claim: str
    paper: str
    verdict: str
    evidence: str
    model_a: str = ""
    model_b: str = ""
    cells: int | None = None
    informative: int | None = None
    duplicates: int | None = None
    seeds: list[int] | None = None
    by_cell: list[dict[str, Any]] | None = None

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("cells", "informative", "duplicates", "seeds", "by_cell")


@dataclass(frozen=True)
class ModelInfo(_Record):
    """A probed model: where it was loaded from, its parameter count and its embedding width."""

    path: str
    num_parameters: int
    hidden_size: int | None = None


@dataclass(frozen=True)
class TaskExamples(_Record):
    """How many train and eval examples a task was probed on, and the eval split's name."""

    train: int
    eval: int
    eval_split: str


@dataclass
class Timing(_Record):
    """Wall seconds: encoding per model and task (0 when read from the cache) and the whole run.

    `analyse_seconds` (model -> task -> s) is written by runs that time the fitting stage apart.
    """

    encode_seconds: dict[str, dict[str, float]]
    total_seconds: float
    analyse_seconds: dict[str, dict[str, float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.analyse_seconds is None:
            del out["analyse_seconds"]
        return out


# task -> pooling -> metric -> Cell: everything measured on one model.
ModelResults = dict[str, dict[str, dict[str, Cell]]]


def _model_results(data: Mapping[str, Any]) -> ModelResults:
    return {
        task: {
            pooling: {metric: Cell.from_dict(cell) for metric, cell in cells.items()}
            for pooling, cells in by_pool.items()
        }
        for task, by_pool in data.items()
    }


@dataclass
class ProbeRun:
    """Everything one run of `run_glue_probe.py` measured (the content of `results.json`)."""

    protocol: str
    models: dict[str, ModelInfo]
    tasks: list[str]
    poolings: list[str]
    results: dict[str, ModelResults]
    comparisons: list[Comparison] = field(default_factory=list)
    claims: list[ClaimVerdict] = field(default_factory=list)
    timing: Timing = field(default_factory=lambda: Timing({}, 0.0))
    n_examples: dict[str, TaskExamples] = field(default_factory=dict)
    spectra: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    task_specs: dict[str, dict[str, Any]] | None = None

    def cell(self, model: str, task: str, pooling: str, metric: str) -> Cell | None:
        """The cell of one model, task, pooling and metric; None when it was not measured."""
        return self.results.get(model, {}).get(task, {}).get(pooling, {}).get(metric)

    def task_spec(self, task: str) -> TaskSpec | None:
        """The spec `task` was read with: the recorded one of a user's task, else the built-in GLUE task."""
        if self.task_specs and task in self.task_specs:
            return TaskSpec.from_dict(self.task_specs[task])
        return GLUE_TASKS.get(task)

    def headline_metric(self, task: str) -> str | None:
        """The task's headline metric (`claims.headline_metric`: the GLUE table, else the first of its spec's
        metrics); None for an unknown task."""
        from .claims import headline_metric

        spec = self.task_spec(task)
        return headline_metric(task, spec.metrics) if spec is not None else None

    def comparisons_of(self, model_a: str, model_b: str) -> list[Comparison]:
        """The comparisons of one ordered pair of models."""
        return [c for c in self.comparisons if c.model_a == model_a and c.model_b == model_b]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (strict: NaN -> None), in the key order of the schema."""
        out = {
            "protocol": self.protocol,
            "models": {name: asdict(info) for name, info in self.models.items()},
            "tasks": list(self.tasks),
            "poolings": list(self.poolings),
            "results": {
                model: {
                    task: {
                        pooling: {metric: asdict(cell) for metric, cell in cells.items()}
                        for pooling, cells in by_pool.items()
                    }
                    for task, by_pool in by_task.items()
                }
                for model, by_task in self.results.items()
            },
            "comparisons": [c.to_dict() for c in self.comparisons],
            "claims": [c.to_dict() for c in self.claims],
            "timing": self.timing.to_dict(),
            "n_examples": {task: asdict(n) for task, n in self.n_examples.items()},
            "spectra": self.spectra,
            "settings": self.settings,
            "plots": list(self.plots),
        }
        if self.task_specs is not None:
            out["task_specs"] = self.task_specs
        return jsonable(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeRun:
        """Read the JSON form back.

        Raises:
            ValueError: a required key is missing, or a record has keys the schema does not know.
        """
        _check_keys(cls, data, "results.json")
        required = [f.name for f in fields(cls)][:5]
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"results.json lacks {missing}; every probe result has {required}")
        return cls(
            protocol=data["protocol"],
            models={name: ModelInfo.from_dict(info) for name, info in data["models"].items()},
            tasks=list(data["tasks"]),
            poolings=list(data["poolings"]),
            results={model: _model_results(by_task) for model, by_task in data["results"].items()},
            comparisons=[Comparison.from_dict(c) for c in data.get("comparisons", [])],
            claims=[ClaimVerdict.from_dict(c) for c in data.get("claims", [])],
            timing=Timing.from_dict(data.get("timing", {"encode_seconds": {}, "total_seconds": 0.0})),
            n_examples={task: TaskExamples.from_dict(n) for task, n in data.get("n_examples", {}).items()},
            spectra=data.get("spectra", {}),
            settings=dict(data.get("settings", {})),
            plots=list(data.get("plots", [])),
            task_specs=data.get("task_specs"),
        )


def save(run: ProbeRun, path: str | os.PathLike) -> Path:
    """Write `run` as strict JSON (no NaN) to `path`, or to `path/results.json` when `path` is a folder."""
    target = Path(path)
    if target.is_dir():
        target = target / RESULTS_NAME
    target.write_text(json.dumps(run.to_dict(), indent=1, allow_nan=False) + "\n")
    return target


def load(path: str | os.PathLike) -> ProbeRun:
    """Read a `results.json`, or the one in a probe output folder.

    Raises:
        FileNotFoundError: no such file, or a folder without `results.json`.
        ValueError: the file is not a probe result (names the keys that are wrong).
    """
    target = Path(path)
    if target.is_dir():
        target = target / RESULTS_NAME
    if not target.is_file():
        raise FileNotFoundError(
            f"probe results {str(path)!r} not found; give run_glue_probe.py's {RESULTS_NAME} or its --output_dir"
        )
    return ProbeRun.from_dict(json.loads(target.read_text()))
