"""What the analysis measured on one model, on disk: a probe run can then compare models without their weights.

`probe.analyse_model` depends on nothing but the model, the task data and the analysis settings, and it is the
expensive part of a probe run (every forward pass and probe fit); the comparisons, Holm correction and claims
that `probe.assemble_results` builds from its records take seconds. With `--records_dir`, each model's record is
saved as `<records_dir>/<name>.npz` as soon as it is measured and read back instead of measured again, so that

- a study probes each run once, when it finishes, and assembles the comparison when the last one has its record
  (adding a seed re-probes nothing);
- the records are small enough to keep with the results (about a megabyte a model and protocol), and the
  comparison can be rebuilt after the checkpoints and exports are gone.

A record names the settings and data it was measured on (`record_key`); reading it under other settings or other
examples is refused rather than mixed into a comparison of unlike measurements.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .results import ModelInfo
from .significance import Estimates

if TYPE_CHECKING:
    from .probe import AnalysisSettings, TaskData

RECORD_FORMAT = 1
_META = "__meta__"


@dataclass
class ModelRecord:
    """What `probe.analyse_model` measured on one model; it depends on nothing but the model, the data and the
    settings, so records of models analysed in separate processes combine exactly (`probe.assemble_results`).

    Attributes:
        info: path, parameters, width.
        estimates: task -> pooling -> `Estimates` (values and resampling replicates).
        spectra: task -> pooling -> explained-variance ratios.
        encode_seconds: task -> seconds spent encoding (0 when read from the cache).
    """

    info: ModelInfo
    estimates: dict[str, dict[str, Estimates]]
    spectra: dict[str, dict[str, list[float]]]
    encode_seconds: dict[str, float]


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.tobytes() if isinstance(part, np.ndarray) else json.dumps(part).encode())
    return h.hexdigest()


def record_key(settings: AnalysisSettings, task_data: dict[str, TaskData]) -> dict[str, Any]:
    """What a record was measured on: the analysis settings, and per task the examples (sizes, a sha256 of the
    texts, labels and row ids of both splits). Two records combine only under equal keys."""
    tasks = {}
    for name, data in task_data.items():
        splits = {}
        for split in (data.train, data.eval):
            splits[split.split] = {
                "n": len(split),
                "sha256": _digest(
                    split.texts_a, split.texts_b, np.ascontiguousarray(split.labels), split.row_ids
                ),
            }
        tasks[name] = {"spec": data.task.to_dict(), "splits": splits}
    settings_dict = json.loads(json.dumps(dataclasses.asdict(settings)))  # tuples as lists, as read back
    return {"settings": settings_dict, "tasks": tasks}


def record_path(records_dir: str | Path, name: str) -> Path:
    """`<records_dir>/<name>.npz`; a Hub id's `/` becomes `--`, as in the Hub cache's folder names."""
    return Path(records_dir) / f"{name.replace('/', '--')}.npz"


def save_record(record: ModelRecord, path: str | Path, key: dict[str, Any]) -> Path:
    """Write `record` and its `key` to one `.npz`: the replicates as float64 arrays (exact), everything else as
    JSON. Written to a temporary file and renamed, so a killed process leaves the old record or none."""
    path = Path(path)
    arrays, values, aliases, first = {}, {}, {}, {}
    for task, by_pool in record.estimates.items():
        values[task] = {}
        for pooling, est in by_pool.items():
            values[task][pooling] = {"values": est.values, "kinds": est.kinds, "n": est.n, "m": est.m}
            for metric, reps in est.replicates.items():
                name, reps = f"{task}/{pooling}/{metric}", np.asarray(reps, dtype=np.float64)
                # Equal replicates are stored once (a task's chance level is the same for every pooling, the
                # headline metric repeats a GLUE metric, a pooling may repeat another's embeddings): a third less.
                digest = hashlib.sha256(reps.tobytes()).hexdigest() + str(reps.shape)
                if digest in first:
                    aliases[name] = first[digest]
                else:
                    first[digest], arrays[name] = name, reps
    meta = {
        "format": RECORD_FORMAT,
        "key": key,
        "aliases": aliases,
        "info": dataclasses.asdict(record.info),
        "estimates": values,
        "spectra": record.spectra,
        "encode_seconds": record.encode_seconds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **{_META: np.array(json.dumps(meta))}, **arrays)
    os.replace(tmp, path)
    return path


def load_record(path: str | Path, key: dict[str, Any] | None = None) -> ModelRecord:
    """Read a record of `save_record`; with `key`, refuse one measured under other settings or data.

    Raises:
        ValueError: a file that is not a record of this format, or whose key differs from `key` (the message
            names the settings or tasks that differ).
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        if _META not in npz.files:
            raise ValueError(f"{path} is not an analysis record (no {_META!r} entry)")
        meta = json.loads(str(npz[_META]))
        arrays = {name: npz[name] for name in npz.files if name != _META}
    if meta.get("format") != RECORD_FORMAT:
        raise ValueError(f"{path}: record format {meta.get('format')!r}; this version reads {RECORD_FORMAT}")
    arrays |= {name: arrays[stored] for name, stored in meta.get("aliases", {}).items()}
    if key is not None and meta["key"] != key:
        raise ValueError(
            f"{path} was measured on other {_key_difference(meta['key'], key)}; delete it to measure again"
        )
    estimates = {
        task: {
            pooling: Estimates(
                entry["values"],
                {
                    m: arrays[f"{task}/{pooling}/{m}"]
                    for m in entry["values"]
                    if f"{task}/{pooling}/{m}" in arrays
                },
                entry["kinds"],
                entry["n"],
                entry["m"],
            )
            for pooling, entry in by_pool.items()
        }
        for task, by_pool in meta["estimates"].items()
    }
    return ModelRecord(ModelInfo(**meta["info"]), estimates, meta["spectra"], meta["encode_seconds"])


def _key_difference(saved: dict, wanted: dict) -> str:
    settings = sorted(
        k
        for k in set(saved["settings"]) | set(wanted["settings"])
        if saved["settings"].get(k) != wanted["settings"].get(k)
    )
    if settings:
        shown = ", ".join(
            f"{k} {saved['settings'].get(k)!r} (now {wanted['settings'].get(k)!r})" for k in settings
        )
        return f"settings: {shown}"
    tasks = sorted(
        t
        for t in set(saved["tasks"]) | set(wanted["tasks"])
        if saved["tasks"].get(t) != wanted["tasks"].get(t)
    )
    return f"examples of tasks {tasks} (recorded {sorted(saved['tasks'])}, now {sorted(wanted['tasks'])})"
