"""Probe tasks as specs: the five GLUE tasks built in, any other dataset described by a small spec; split loading.

A task spec says where the data is (a Hub id and config, a local Hub-layout folder, or data files per split),
which columns hold the text(s) and the label, the kind (single sentence or pair x classification or
regression), the metrics (the first is the headline), the train and eval split names, and optionally a display
name and which labels make a positive pair (for alignment). A spec comes from a YAML or JSON file, or inline
JSON on the command line (`--task_spec`):

    name: sick
    data_files: {train: sick/train.csv, dev: sick/dev.csv}
    text_columns: [sentence_A, sentence_B]
    label_column: relatedness
    kind: pair_regression
    eval_split: dev
    positive_above: 4.0
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .glue import CLASSIFICATION_METRICS, GLUE_HUB_ID, REGRESSION_METRICS

logger = logging.getLogger(__name__)

KINDS = ("single_classification", "pair_classification", "single_regression", "pair_regression")
# File suffix -> (`datasets` packaged builder, its options). CSV keeps strings such as "NA" or "null" as text.
DATA_FILE_BUILDERS: dict[str, tuple[str, dict[str, Any]]] = {
    ".parquet": ("parquet", {}),
    ".csv": ("csv", {"keep_default_na": False}),
    ".tsv": ("csv", {"sep": "\t", "keep_default_na": False}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
}


@dataclass(frozen=True)
class TaskSpec:
    """One probe task.

    Attributes:
        name: the name the user gives the task (results and the report use it).
        kind: one of `KINDS`; `pair_*` tasks have two text columns, `single_*` one.
        text_columns: the column of the sentence, or the two columns of a pair.
        label_column: class ids (classification) or scores (regression).
        metrics: names from `glue.GLUE_METRICS` that fit the kind; the first is the headline metric. Default: accuracy for
            classification, pearson and spearmanr for regression.
        dataset: a Hub dataset id or a local folder `datasets.load_dataset` reads; dataset_config its config.
        data_files: split name -> local files (parquet, CSV, TSV, JSON lines); instead of `dataset`.
        train_split, eval_split: the split the probes are fitted on and the one they are scored on.
        display_name: the name shown in reports and cards (default: `name`).
        positive_labels: labels that make a positive pair (alignment), e.g. [1] for paraphrases.
        positive_above: scores above this make a positive pair (regression, e.g. 4.0 for STS-B).
        glue_folder: the sub-folder of a local GLUE copy (`--glue_dir`) that holds this task (built-ins only).
    """

    name: str
    kind: str
    text_columns: tuple[str, ...]
    label_column: str = "label"
    metrics: tuple[str, ...] = ()
    dataset: str | None = None
    dataset_config: str | None = None
    data_files: Mapping[str, tuple[str, ...]] | None = None
    train_split: str = "train"
    eval_split: str = "validation"
    display_name: str | None = None
    positive_labels: tuple[float, ...] | None = None
    positive_above: float | None = None
    glue_folder: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"task {self.name!r}: unknown kind {self.kind!r}; valid kinds: {', '.join(KINDS)}"
            )
        want = 2 if self.is_pair else 1
        if len(self.text_columns) != want:
            raise ValueError(
                f"task {self.name!r} of kind {self.kind!r} needs {want} text column(s), got {list(self.text_columns)}"
            )
        if not self.metrics:
            default = ("pearson", "spearmanr") if self.is_regression else ("accuracy",)
            object.__setattr__(self, "metrics", default)
        valid = REGRESSION_METRICS if self.is_regression else CLASSIFICATION_METRICS
        unknown = [m for m in self.metrics if m not in valid]
        if unknown:
            raise ValueError(
                f"task {self.name!r}: metric(s) {unknown} do not fit kind {self.kind!r}; valid metrics: "
                f"{', '.join(valid)}"
            )
        if (self.dataset is None) == (self.data_files is None):
            raise ValueError(f"task {self.name!r}: give either `dataset` (Hub id or folder) or `data_files`")
        if self.data_files is not None:
            missing = [s for s in (self.train_split, self.eval_split) if s not in self.data_files]
            if missing:
                raise ValueError(
                    f"task {self.name!r}: data_files has no split {missing}; it has {list(self.data_files)} "
                    "(set train_split / eval_split to the names of your splits)"
                )

    @property
    def is_regression(self) -> bool:
        return self.kind.endswith("regression")

    @property
    def is_pair(self) -> bool:
        return self.kind.startswith("pair")

    @property
    def title(self) -> str:
        """The name to show: `display_name`, else `name`."""
        return self.display_name or self.name

    def is_positive(self, label: float) -> bool:
        """Whether a pair with this gold label is a positive pair (for alignment)."""
        if self.positive_above is not None:
            return label > self.positive_above
        return self.positive_labels is not None and label in self.positive_labels

    @property
    def has_positives(self) -> bool:
        return self.positive_above is not None or self.positive_labels is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> TaskSpec:
        """A spec from its YAML/JSON mapping; relative `data_files` are read from `base_dir` (the spec file's
        folder). A split's files may be one string or a list.

        Raises:
            ValueError: unknown keys (naming them and the known ones), a missing key, or a bad value.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"task spec {data.get('name')!r}: unknown keys {unknown}; known keys: {known}")
        missing = [k for k in ("name", "kind", "text_columns") if k not in data]
        if missing:
            raise ValueError(f"task spec {dict(data)!r} lacks {missing}")
        values = dict(data)
        for key in ("text_columns", "metrics", "positive_labels"):
            if values.get(key) is not None:
                items = values[key]
                values[key] = tuple([items] if isinstance(items, str | int | float) else items)
        if values.get("data_files") is not None:
            root = Path(base_dir) if base_dir is not None else None
            values["data_files"] = {
                str(split): tuple(
                    str(root / f) if root is not None and not Path(f).expanduser().is_absolute() else str(f)
                    for f in ([files] if isinstance(files, str) else files)
                )
                for split, files in values["data_files"].items()
            }
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what `results.json` records under `task_specs`); defaults left out."""
        out = asdict(self)
        out["data_files"] = {k: list(v) for k, v in self.data_files.items()} if self.data_files else None
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items() if v is not None}


def _glue(name: str, kind: str, text_columns: tuple[str, ...], **kwargs: Any) -> TaskSpec:
    """A built-in GLUE task: config `name` of the Hub's GLUE, or the sub-folder `name` of a local copy."""
    return TaskSpec(
        name, kind, text_columns, dataset=GLUE_HUB_ID, dataset_config=name, glue_folder=name, **kwargs
    )


GLUE_TASKS: dict[str, TaskSpec] = {
    "sst2": _glue("sst2", "single_classification", ("sentence",), display_name="SST-2"),
    "mrpc": _glue(
        "mrpc",
        "pair_classification",
        ("sentence1", "sentence2"),
        metrics=("f1", "accuracy"),
        display_name="MRPC",
        positive_labels=(1,),  # the two sentences are paraphrases
    ),
    "mnli": _glue(
        "mnli",
        "pair_classification",
        ("premise", "hypothesis"),
        eval_split="validation_matched",
        display_name="MNLI",
        positive_labels=(0,),  # entailment
    ),
    "cola": _glue(
        "cola", "single_classification", ("sentence",), metrics=("matthews_correlation",), display_name="CoLA"
    ),
    "stsb": _glue(
        "stsb",
        "pair_regression",
        ("sentence1", "sentence2"),
        display_name="STS-B",
        positive_above=4.0,  # "mostly equivalent" or better
    ),
}


def get_task(name: str, specs: Mapping[str, TaskSpec] | None = None) -> TaskSpec:
    """Look up a task among the built-in GLUE tasks and the user's `specs` (which win on a clash).

    Raises:
        ValueError: naming the unknown task and listing the valid ones.
    """
    table = {**GLUE_TASKS, **(specs or {})}
    if name not in table:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(table)} (or give a --task_spec)")
    return table[name]


def load_task_spec(source: str | os.PathLike | Mapping[str, Any]) -> TaskSpec:
    """A task spec from a mapping, inline JSON (a string starting with `{`) or a YAML/JSON file.

    Relative data files in a spec file are read from the file's folder; inline ones from the working folder.

    Raises:
        FileNotFoundError: the spec file does not exist. ValueError: not a mapping, or a bad spec.
    """
    import yaml

    base_dir = None
    if isinstance(source, Mapping):
        data = source
    elif str(source).lstrip().startswith("{"):
        data = json.loads(str(source))
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"task spec {str(source)!r} not found; give a YAML/JSON file or inline JSON such as "
                '\'{"name": "sick", "kind": "pair_regression", ...}\''
            )
        data, base_dir = yaml.safe_load(path.read_text()), path.parent
    if not isinstance(data, Mapping):
        raise ValueError(f"task spec {str(source)!r} is not a mapping of spec keys")
    return TaskSpec.from_dict(data, base_dir)


@dataclass
class TaskSplit:
    """The examples of one split after sub-sampling.

    Attributes:
        texts_a: first (or only) sentence of each example.
        texts_b: second sentence of each pair, None for single-sentence tasks.
        labels: (N,) int64 class ids, or float64 scores for regression.
        row_ids: (N,) positions of the examples in the full split, so two runs can be matched.
    """

    task: TaskSpec
    split: str
    texts_a: list[str]
    texts_b: list[str] | None
    labels: np.ndarray
    row_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.texts_a)

    def positive_mask(self) -> np.ndarray:
        """(N,) bool: which pairs are positives for alignment; all False without a positive rule."""
        if not self.task.has_positives:
            return np.zeros(len(self), dtype=bool)
        return np.array([self.task.is_positive(float(y)) for y in self.labels], dtype=bool)


def _glue_split_files(glue_dir: Path, task: TaskSpec, split: str) -> list[Path]:
    """The files of `split` in `glue_dir/<task>/`, Hub naming (`<split>-00000-of-00001.parquet`) or `<split>.<ext>`."""
    folder = glue_dir / (task.glue_folder or task.name)
    if not glue_dir.is_dir():
        raise FileNotFoundError(f"GLUE folder {str(glue_dir)!r} does not exist")
    if not folder.is_dir():
        present = sorted(p.name for p in glue_dir.iterdir() if p.is_dir())
        raise FileNotFoundError(
            f"GLUE folder {str(glue_dir)!r} has no sub-folder {folder.name!r}; task folders present: {present}"
        )
    data_files = [p for p in sorted(folder.iterdir()) if p.suffix in DATA_FILE_BUILDERS]
    files = [p for p in data_files if p.stem == split or p.name.startswith(f"{split}-")]
    if not files:
        present = sorted({p.stem.split("-")[0] for p in data_files})
        raise FileNotFoundError(
            f"no {split!r} split for task {task.name!r} in {str(folder)!r} (expected {split}-*.parquet or "
            f"{split}.csv/.tsv/.jsonl); splits present: {present}"
        )
    return files


def _read_files(files: Sequence[str | os.PathLike], task: TaskSpec, split: str):
    """Read local data files of one split with `datasets.load_dataset(<builder>, data_files=...)`.

    Raises:
        FileNotFoundError: a file does not exist. ValueError: an unsupported suffix or mixed formats.
    """
    import datasets

    paths = [Path(f).expanduser() for f in files]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"task {task.name!r}, split {split!r}: data files not found: {absent}")
    suffixes = {p.suffix for p in paths}
    unknown = sorted(suffixes - set(DATA_FILE_BUILDERS))
    if unknown or len({DATA_FILE_BUILDERS[s][0] for s in suffixes - set(unknown)}) > 1 or len(suffixes) > 1:
        raise ValueError(
            f"task {task.name!r}, split {split!r}: data files must share one format among "
            f"{', '.join(DATA_FILE_BUILDERS)}; got suffixes {sorted(suffixes)}"
        )
    builder, options = DATA_FILE_BUILDERS[paths[0].suffix]
    return datasets.load_dataset(builder, data_files={split: [str(p) for p in paths]}, split=split, **options)


def load_split(
    task: TaskSpec,
    split: str,
    *,
    glue_dir: str | os.PathLike | None = None,
    glue_hub_id: str = GLUE_HUB_ID,
    max_samples: int | None = None,
    seed: int = 0,
) -> TaskSplit:
    """Load one split of a task, drop unlabelled rows (label -1, GLUE test sets), and sub-sample it.

    Args:
        task: a built-in GLUE task or a user's spec.
        split: split name (`train`, `validation`, `validation_matched`, ...).
        glue_dir: a local copy of GLUE in the Hub layout (`<dir>/<task>/<split>-*.parquet`; CSV/TSV/JSON lines
            also read), used for the built-in GLUE tasks instead of the Hub.
        glue_hub_id: the Hub id the built-in GLUE tasks are read from without `glue_dir`.
        max_samples: keep a seeded uniform sample of this many rows, in their original order; None keeps all.
        seed: seed of the sample, so every model sees the same examples.

    Raises:
        FileNotFoundError: the folder, the task sub-folder, the split or a data file is missing (lists what
            is present).
        ValueError: a required column is missing.
    """
    import datasets

    if task.data_files is not None:
        if split not in task.data_files:
            raise FileNotFoundError(
                f"task {task.name!r} has no data files for split {split!r}; splits: {list(task.data_files)}"
            )
        data = _read_files(task.data_files[split], task, split)
    elif task.glue_folder is not None and glue_dir is not None:
        data = _read_files(_glue_split_files(Path(glue_dir), task, split), task, split)
    else:
        source = glue_hub_id if task.glue_folder is not None else task.dataset
        data = datasets.load_dataset(source, task.dataset_config, split=split)
    needed = (*task.text_columns, task.label_column)
    missing = [c for c in needed if c not in data.column_names]
    if missing:
        raise ValueError(
            f"split {split!r} of task {task.name!r} lacks columns {missing}; it has {data.column_names}, "
            f"the task needs {list(needed)}"
        )
    label_column = data.select_columns([task.label_column]).with_format("numpy")[:][task.label_column]
    labels = np.asarray(label_column, dtype=np.float64 if task.is_regression else np.int64)
    keep = np.flatnonzero(labels != -1)
    if max_samples is not None and max_samples < len(keep):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(keep, size=max_samples, replace=False))
    logger.info("task %s/%s: %d examples", task.name, split, len(keep))

    kept = data.select(keep)

    def texts(column: str) -> list[str]:
        return [str(t) for t in kept[column]]

    return TaskSplit(
        task=task,
        split=split,
        texts_a=texts(task.text_columns[0]),
        texts_b=texts(task.text_columns[1]) if task.is_pair else None,
        labels=labels[keep],
        row_ids=keep,
    )
