"""Study files: arms (overrides of one base pre-training config) x seeds x a token budget, plus the probes.

A study file is YAML::

    name: cpu_49m
    description: one paragraph
    base: ../configs/cpu_base.yaml   # a run_pretraining.py config, relative to the study file
    runs_dir: ../runs/cpu_49m        # checkpoints and exports (default: <study dir>/../runs/<name>)
    results_dir: ../results/cpu_49m  # summaries, probes, cards (default: <study dir>/../results/<name>)
    seeds: [42, 43, 44]              # pre-training seeds: initialisation and masks; data order stays `data_seed`
    budget: {tokens: 49152000}       # or {max_steps: N}; tokens / (batch x accumulation x processes x length)
    arms:                            # each arm overrides keys of the base; `model_config` is merged key by key
      mlm: {model_config: {objective: mlm}}
      hybrid: {model_config: {objective: hybrid, jepa_context: blocks, balance: sigmoid}}
      extra: {seeds: [42], model_config: {objective: hybrid}}  # an arm may run a subset of the seeds
    control: true                    # also export and probe the random-initialisation control of each seed
    num_processes: 1                 # > 1: each run is started with `accelerate launch --num_processes N`
    probes:                          # name -> run_glue_probe.py flags
      standard: {protocol: standard, glue_dir: data/glue, tasks: [sst2]}

The runner gives the probe every run and control with its arm (`--arms`; the controls form the arm
`random_init`), so with several seeds the claims are about arms, with seed-level intervals; a probe's
`claim_pairs` (`[hybrid:mlm, ...]`) chooses which arms its claims compare.

Paths inside `base` and the probe flags (data folders) are read as the scripts read them: relative to the
directory the runner is started from (the repository root).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STUDY_KEYS = (
    "name",
    "description",
    "base",
    "runs_dir",
    "results_dir",
    "seeds",
    "budget",
    "arms",
    "control",
    "num_processes",
    "probes",
)
BUDGET_KEYS = ("tokens", "max_steps")
CONTROL_NAME = "random_init"
# The key of an arm that restricts it to some of the study's seeds (not a pre-training config key).
ARM_SEEDS_KEY = "seeds"
# Keys a study sets for every run itself; an arm may not override them.
RESERVED_RUN_KEYS = ("output_dir", "seed", "max_steps", "num_train_epochs")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Run:
    """One pre-training run of a study: an arm at a seed."""

    arm: str
    seed: int
    config: dict[str, Any]  # the resolved run_pretraining config (base + arm + study keys)
    output_dir: Path

    @property
    def name(self) -> str:
        """`<arm>-seed<k>`: also the export folder's name, so probe tables name it unambiguously."""
        return f"{self.arm}-seed{self.seed}"

    @property
    def max_steps(self) -> int:
        return int(self.config["max_steps"])


@dataclass
class StudySpec:
    """A parsed study file (see the module docstring); paths are absolute."""

    name: str
    path: Path
    base: Path
    runs_dir: Path
    results_dir: Path
    seeds: list[int]
    arms: dict[str, dict[str, Any]]
    budget: dict[str, int]
    control: bool = True
    num_processes: int = 1
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    arm_seeds: dict[str, list[int]] = field(default_factory=dict)  # arms that run only some of `seeds`

    def seeds_of(self, arm: str) -> list[int]:
        """The seeds arm `arm` runs: its own `seeds` when it sets them (a subset, in the study's order), else all."""
        return (
            [s for s in self.seeds if s in self.arm_seeds[arm]] if arm in self.arm_seeds else list(self.seeds)
        )

    def base_config(self) -> dict[str, Any]:
        return _read_yaml(self.base)

    def runs(self) -> list[Run]:
        """Every arm x its seeds, arms in file order, with its resolved config and its `max_steps` from the budget."""
        base = self.base_config()
        out = []
        for arm, overrides in self.arms.items():
            for seed in self.seeds_of(arm):
                config = merge_config(base, overrides)
                out_dir = self.runs_dir / f"{arm}-seed{seed}"
                config.update(seed=seed, output_dir=str(out_dir))
                config.setdefault("data_seed", base.get("data_seed", base.get("seed", 42)))
                config["max_steps"] = steps_for_budget(config, self.budget, self.num_processes)
                config.pop("num_train_epochs", None)
                out.append(Run(arm=arm, seed=seed, config=config, output_dir=out_dir))
        return out

    def control_dir(self, seed: int) -> Path:
        return self.runs_dir / f"{CONTROL_NAME}-seed{seed}"


def merge_config(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` updated by `overrides`; the `model_config` blocks are merged key by key (an arm that sets
    `objective` keeps the base's encoder size)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in overrides.items():
        if key == "model_config":
            out["model_config"] = {**(base.get("model_config") or {}), **value}
        else:
            out[key] = value
    return out


def steps_for_budget(config: dict[str, Any], budget: dict[str, int], num_processes: int = 1) -> int:
    """Optimizer steps of a run: `budget["max_steps"]`, or `floor(tokens / tokens per step)` with
    `tokens per step = per_device_train_batch_size x gradient_accumulation_steps x processes x max_seq_length`."""
    if "max_steps" in budget:
        return int(budget["max_steps"])
    per_step = (
        int(config.get("per_device_train_batch_size", 8))
        * int(config.get("gradient_accumulation_steps", 1))
        * num_processes
        * int(config.get("max_seq_length", 128))
    )
    steps = math.floor(budget["tokens"] / per_step)
    if steps < 1:
        raise ValueError(f"budget of {budget['tokens']} tokens is less than one step of {per_step} tokens")
    return steps


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    return data


def _fail(path: Path, what: str) -> None:
    raise ValueError(f"study file {path}: {what}")


def load_study(path: str | Path) -> StudySpec:
    """Parse and check a study file; every error names the file, the key and what would be accepted."""
    path = Path(path).resolve()
    raw = _read_yaml(path)
    unknown = sorted(set(raw) - set(STUDY_KEYS))
    if unknown:
        _fail(path, f"unknown keys {unknown}; accepted keys: {', '.join(STUDY_KEYS)}")
    for key in ("name", "base", "seeds", "budget", "arms"):
        if key not in raw:
            _fail(path, f"missing key {key!r}")
    name = str(raw["name"])
    if not _NAME.match(name):
        _fail(path, f"name={name!r} is not valid; accepted: letters, digits, '_', '-' and '.'")
    seeds = raw["seeds"]
    if not (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        _fail(path, f"seeds={seeds!r} is not valid; accepted: a non-empty list of integers")
    if len(set(seeds)) != len(seeds):
        _fail(path, f"seeds={seeds!r} repeats a seed")
    budget = raw["budget"]
    if not (isinstance(budget, dict) and len(budget) == 1 and set(budget) <= set(BUDGET_KEYS)):
        _fail(path, f"budget={budget!r} is not valid; accepted: {{tokens: N}} or {{max_steps: N}}")
    (value,) = budget.values()
    if not (isinstance(value, int) and value > 0):
        _fail(path, f"budget={budget!r} is not valid; accepted: a positive integer")
    arms = raw["arms"]
    if not (isinstance(arms, dict) and arms):
        _fail(path, "arms must be a non-empty mapping of arm name -> overrides")
    arm_seeds = {}
    for arm, overrides in arms.items():
        if not _NAME.match(str(arm)) or str(arm) == CONTROL_NAME:
            _fail(
                path,
                f"arm name {arm!r} is not valid; accepted: letters, digits, '_', '-', '.', not {CONTROL_NAME!r}",
            )
        if overrides is None:
            arms[arm] = overrides = {}
        if not isinstance(overrides, dict):
            _fail(path, f"arm {arm!r}: expected a mapping of config keys, got {overrides!r}")
        reserved = sorted(set(overrides) & set(RESERVED_RUN_KEYS))
        if reserved:
            _fail(
                path,
                f"arm {arm!r} sets {reserved}, which the study sets for every run (seeds, budget, folders)",
            )
        if "model_config" in overrides and not isinstance(overrides["model_config"], dict):
            _fail(path, f"arm {arm!r}: model_config must be a mapping")
        if ARM_SEEDS_KEY in overrides:
            own = overrides.pop(ARM_SEEDS_KEY)
            if not (
                isinstance(own, list)
                and own
                and all(isinstance(x, int) and not isinstance(x, bool) for x in own)
                and len(set(own)) == len(own)
                and set(own) <= set(seeds)
            ):
                _fail(
                    path,
                    f"arm {arm!r}: seeds={own!r} is not valid; accepted: a non-empty list of distinct seeds among "
                    f"the study's seeds {seeds}",
                )
            arm_seeds[str(arm)] = own
    probes = raw.get("probes") or {}
    if not isinstance(probes, dict) or not all(isinstance(v, dict) for v in probes.values()):
        _fail(path, "probes must be a mapping of probe name -> run_glue_probe flags")
    for probe, flags in probes.items():
        if not _NAME.match(str(probe)):
            _fail(path, f"probe name {probe!r} is not valid; accepted: letters, digits, '_', '-', '.'")
        clash = sorted(set(flags) & {"model_name_or_path", "model_names", "arms", "output_dir"})
        if clash:
            _fail(path, f"probe {probe!r} sets {clash}, which the study sets itself")
    num_processes = raw.get("num_processes", 1)
    if not (isinstance(num_processes, int) and num_processes >= 1):
        _fail(path, f"num_processes={num_processes!r} is not valid; accepted: an integer >= 1")
    here = path.parent
    spec = StudySpec(
        name=name,
        path=path,
        base=(here / raw["base"]).resolve(),
        runs_dir=(here / raw.get("runs_dir", f"../runs/{name}")).resolve(),
        results_dir=(here / raw.get("results_dir", f"../results/{name}")).resolve(),
        seeds=list(seeds),
        arms={str(k): dict(v) for k, v in arms.items()},
        budget=dict(budget),
        control=bool(raw.get("control", True)),
        num_processes=num_processes,
        probes={str(k): dict(v) for k, v in probes.items()},
        description=str(raw.get("description", "")).strip(),
        arm_seeds=arm_seeds,
    )
    spec.base_config()  # the base must exist and be a mapping
    return spec
