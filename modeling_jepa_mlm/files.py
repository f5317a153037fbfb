"""The names of the files the tools write and read, the local-path-or-Hub-id rule, and the JSON converter.

Plain Python (no torch, no transformers): the training, analysis and publishing layers all import it, so a
file name or a rule is spelled once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, TypeVar

V = TypeVar("V")

# Written by `run_pretraining.py` into the export folder, read by the model cards.
CONFIG_NAME = "config.json"  # the model's configuration (`transformers.utils.CONFIG_NAME`)
RUN_CONFIG_NAME = "run_config.yaml"
SUMMARY_NAME = "training_summary.json"
TRAINER_STATE_NAME = (
    "trainer_state.json"  # the Trainer's own name (`transformers.trainer.TRAINER_STATE_NAME`)
)
CARD_NAME = "README.md"
# Written by `run_glue_probe.py` into its output folder.
RESULTS_NAME = "results.json"
REPORT_NAME = "report.md"


def is_path_like(name: str | os.PathLike) -> bool:
    """Whether `name` can only mean a local path, not a Hub id (`name` or `org/name`).

    A local path is absolute, starts with `.` or `~`, has more than one `/`, or uses the platform's own
    separator; anything else could be a Hub id (`transformers` and `datasets` try a local folder of that
    name first, then the Hub).
    """
    name = os.fspath(name)
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)


def is_local(name: str | os.PathLike) -> bool:
    """Whether `name` refers to the local file system: it exists there, or it can only be a path."""
    return os.path.exists(os.path.expanduser(os.fspath(name))) or is_path_like(name)


def jsonable(value: Any) -> Any:
    """A copy that strict JSON can hold: NaN and infinities -> None (JSON has no NaN), numpy scalars and
    arrays -> Python numbers and lists, tuples -> lists, dict keys -> str, anything else (paths, enums) -> str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":  # numpy scalar or array
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def lookup(table: Mapping[str, V], name: str, what: str) -> V:
    """`table[name]`, or a ValueError naming the unknown `what` and listing the valid names."""
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; valid {what}s: {', '.join(table)}")
    return table[name]
