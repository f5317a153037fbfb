"""Run a study: pre-train every arm x seed (resuming what is unfinished), export the random-initialisation
controls, check data-order parity, probe, and write the summary, plots and cards under the study's results folder.

Every stage skips what is already done, so a study interrupted at any point (a killed process, the end of a
sitting) continues where it stopped when the same command is run again:
- a run is done when its export's `training_summary.json` reports `max_steps` steps; an unfinished run is
  started again in the same folder and resumes from its newest checkpoint (`run_pretraining`'s own resume);
- a control is done when its export exists;
- a probe measures each finished run and control once, into a record kept with the results
  (`<results_dir>/probe_<name>/records/`), and is done when its `results.json`, assembled from the records of all
  the study's models, lists them. The comparisons need only the records: a sitting that lost its exports and
  checkpoints loses no probe measurements.
Each pre-training process appends its wall time, steps and machine to `<results_dir>/training/walltime.jsonl`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..analysis.records import record_path
from ..files import CONFIG_NAME, RESULTS_NAME, RUN_CONFIG_NAME, SUMMARY_NAME, TRAINER_STATE_NAME
from .spec import CONTROL_NAME, Run, StudySpec

logger = logging.getLogger(__name__)

STAGES = ("pretrain", "control", "parity", "probe", "summary")
RUN_CONFIG_FILE = "study_run.yaml"  # the resolved run_pretraining config of a run, in its output folder
SUMMARY_FILE = SUMMARY_NAME  # the export's training summary (one home: modeling_jepa_mlm.files)
PROBE_MARKER = "study_probe.json"  # written before a probe runs: this folder's results are the study's own
RECORDS_DIR = "records"  # each model's measurements, <probe folder>/records/<model>.npz (analysis.records)
# The small files of an export that the summary and the model cards read: kept under the results folder, so the
# cards can be written again after the export is gone.
TRAINING_RECORDS = (SUMMARY_NAME, RUN_CONFIG_NAME, TRAINER_STATE_NAME, CONFIG_NAME)


def machine() -> dict[str, Any]:
    """The hardware a stage ran on, recorded beside its wall time."""
    import torch

    info = {
        "host": platform.node(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def cpu_model() -> str | None:
    """The CPU's model name as Linux reports it (`/proc/cpuinfo`); None elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def walltime_path(spec: StudySpec) -> Path:
    """The study's record of every process: `<results_dir>/training/walltime.jsonl`, one JSON object a line."""
    return spec.results_dir / "training" / "walltime.jsonl"


def walltime_records(spec: StudySpec) -> list[dict[str, Any]]:
    """The records of `walltime_path`, oldest first; [] before the first process."""
    path = walltime_path(spec)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def record_stage(spec: StudySpec, stage: str, begin: float, **fields: Any) -> None:
    """Append a stage's wall time (since `perf_counter()` = `begin`) and machine to the study's `walltime.jsonl`."""
    _append_jsonl(
        walltime_path(spec),
        {
            "stage": stage,
            **fields,
            "wall_seconds": round(time.perf_counter() - begin, 1),
            "machine": machine(),
        },
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def reaches_end(summary: dict | None, run: Run) -> bool:
    """True when a training summary (`training_summary.json`, or None) reports all of the run's steps."""
    return bool(summary) and int(summary.get("steps", -1)) >= run.max_steps


def is_complete(run: Run) -> bool:
    """True when the run's export reports all of its steps."""
    return reaches_end(read_json(run.output_dir / SUMMARY_FILE), run)


def latest_step(run: Run) -> int:
    """The newest complete checkpoint's step (0 when there is none), as pre-training's resume finds it."""
    from ..training.pretrain import last_complete_checkpoint

    found = last_complete_checkpoint(run.output_dir) if run.output_dir.is_dir() else None
    return 0 if found is None else int(found[1].global_step)


def pretraining_command(spec: StudySpec, config_path: Path) -> list[str]:
    """The process that trains one run: `python -m modeling_jepa_mlm.training <config>`, under
    `accelerate launch --num_processes N` when the study asks for several processes."""
    if spec.num_processes > 1:
        launch = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--num_processes",
            str(spec.num_processes),
        ]
        return [*launch, "-m", "modeling_jepa_mlm.training", str(config_path)]
    return [sys.executable, "-m", "modeling_jepa_mlm.training", str(config_path)]


def _append_jsonl(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def copy_training_records(spec: StudySpec, run: Run) -> None:
    """Keep the run's small records under the results folder (exports and checkpoints stay in `runs_dir`). A run
    stopped before its end has no final records yet: its newest complete checkpoint's `trainer_state.json` (the
    curve so far) is kept instead, so the results folder holds every run's progress even if `runs_dir` is lost."""
    from ..training.pretrain import last_complete_checkpoint

    dest = spec.results_dir / "training" / run.name
    dest.mkdir(parents=True, exist_ok=True)
    for name in TRAINING_RECORDS:
        if (run.output_dir / name).is_file():
            shutil.copy2(run.output_dir / name, dest / name)
    if not (run.output_dir / TRAINER_STATE_NAME).is_file() and run.output_dir.is_dir():
        found = last_complete_checkpoint(run.output_dir)
        if found is not None:
            shutil.copy2(Path(found[0]) / TRAINER_STATE_NAME, dest / TRAINER_STATE_NAME)


def measured(spec: StudySpec, run: Run) -> bool:
    """True when the results folder holds all a finished run contributes: the records of its training to its last
    step and, for every probe of the study, its measurements. Such a run needs no export to be compared or carded,
    so it is not trained again when its export is gone (a new machine)."""
    summary = read_json(spec.results_dir / "training" / run.name / SUMMARY_FILE)
    return (
        bool(spec.probes)
        and reaches_end(summary, run)
        and all(
            record_path(spec.results_dir / f"probe_{p}" / RECORDS_DIR, run.name).is_file()
            for p in spec.probes
        )
    )


def set_aside_lost_records(spec: StudySpec, run: Run) -> Path | None:
    """Move the training records of an earlier attempt at `run` (its checkpoints lost, so it starts again from step
    0) into `<results_dir>/training/<run>/lost_attempts/attempt-<k>/`, k = 1, 2, ... in order, so that they neither
    mix with the new attempt's records nor are lost. Returns that folder, or None when there were no records."""
    records = spec.results_dir / "training" / run.name
    found = [records / name for name in TRAINING_RECORDS if (records / name).is_file()]
    if not found:
        return None
    lost = records / "lost_attempts"
    k = 1 + sum(1 for d in lost.glob("attempt-*") if d.is_dir()) if lost.is_dir() else 1
    target = lost / f"attempt-{k}"
    target.mkdir(parents=True)
    for path in found:
        path.rename(target / path.name)
    logger.warning(
        "%s: starts again from step 0; the records of its lost attempt are kept in %s", run.name, target
    )
    return target


def pretrain(spec: StudySpec, run: Run) -> bool:
    """Train (or finish) one run; returns True if it trained, False if it was already complete."""
    if is_complete(run):
        logger.info("%s: complete (%d steps), skipped", run.name, run.max_steps)
        copy_training_records(spec, run)
        return False
    if measured(spec, run):
        logger.info(
            "%s: complete (%d steps) and measured by every probe; its export is not here, skipped",
            run.name,
            run.max_steps,
        )
        return False
    run.output_dir.mkdir(parents=True, exist_ok=True)
    config_path = run.output_dir / RUN_CONFIG_FILE
    config_path.write_text(yaml.safe_dump(run.config, sort_keys=False))
    start_step = latest_step(run)
    if start_step == 0:  # a fresh start: records of an earlier, lost attempt would mix with this one's
        set_aside_lost_records(spec, run)
    logger.info(
        "%s: training steps %d..%d (log: %s)",
        run.name,
        start_step,
        run.max_steps,
        run.output_dir / "train.log",
    )
    begin, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with (run.output_dir / "train.log").open("a") as log:
        proc = subprocess.run(pretraining_command(spec, config_path), stdout=log, stderr=subprocess.STDOUT)
    record = {
        "run": run.name,
        "arm": run.arm,
        "seed": run.seed,
        "stage": "pretrain",
        "started": started,
        "from_step": start_step,
        "to_step": latest_step(run) if proc.returncode else run.max_steps,
        "wall_seconds": round(time.perf_counter() - begin, 1),
        "returncode": proc.returncode,
        "machine": machine(),
    }
    _append_jsonl(walltime_path(spec), record)
    copy_training_records(spec, run)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{run.name}: pre-training failed (exit {proc.returncode}); see {run.output_dir / 'train.log'}. "
            "Run the study again to resume from the newest checkpoint."
        )
    return True


def control_exported(spec: StudySpec, seed: int) -> bool:
    """True when the random-initialisation control of `seed` has been exported (its summary is written last)."""
    return (spec.control_dir(seed) / SUMMARY_FILE).is_file()


def export_control(spec: StudySpec, seed: int) -> Path:
    """The random-initialisation control of `seed`: the weights the study's first arm starts from, exported as a
    trained run would be (`JepaMlmForMaskedLM` with its tokenizer), without a single step."""
    from transformers import set_seed

    from .. import JepaMlmForMaskedLM
    from ..training import pretrain as pt

    out = spec.control_dir(seed)
    if control_exported(spec, seed):
        return out
    first = next(r for r in spec.runs() if r.seed == seed)
    config = dict(first.config, model_config={**first.config.get("model_config", {}), "objective": "mlm"})
    config_path = out / RUN_CONFIG_FILE
    out.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    model_args, data_args, training_args = pt.parse_args([str(config_path), "--output_dir", str(out)])
    set_seed(training_args.seed)  # as pre-training does, before anything is built
    raw = pt.load_raw(data_args, training_args) if data_args.tokenizer_name is None else None
    tokenizer = pt.build_tokenizer(data_args, raw, str(out))
    model = pt.build_model(model_args, tokenizer, data_args.max_seq_length)
    export = JepaMlmForMaskedLM(model.config)
    export.jepa_mlm.load_state_dict(model.export_encoder("online").state_dict())
    export.lm_head.load_state_dict(model.lm_head.state_dict())
    export.config.architectures = [type(export).__name__]
    export.save_pretrained(out)
    tokenizer.save_pretrained(out)
    summary = {
        "objective": "random_init",
        "what": f"random-initialisation control: the initial weights of arm {first.arm!r} at seed {seed}",
        "seed": seed,
        "steps": 0,
        "tokens_seen": 0,
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return out


def probe_models(spec: StudySpec) -> list[tuple[str, Path, str]]:
    """(name, export folder, arm) of every run and control the probes compare; the controls form the arm
    `random_init`, so that the claims group a study's seeds into arms."""
    models = [(r.name, r.output_dir, r.arm) for r in spec.runs()]
    if spec.control:
        models += [(f"{CONTROL_NAME}-seed{s}", spec.control_dir(s), CONTROL_NAME) for s in spec.seeds]
    return models


def model_pairs(spec: StudySpec, claim_pairs: Sequence[str]) -> list[str]:
    """The model pairs a study's probe compares model by model (`--model_pairs`): every run against the control
    of its seed, and for each claim pair `A:B` the runs of A and B at each seed both have. The claims compare the
    arms over their seeds; these pairs keep the per-seed rows (the control lifts, the cards) without the
    n (n - 1) / 2 pairs of every model with every other."""
    runs = {(r.arm, r.seed): r.name for r in spec.runs()}
    if spec.control:
        runs |= {(CONTROL_NAME, s): f"{CONTROL_NAME}-seed{s}" for s in spec.seeds}
        pairs = [f"{r.name}:{CONTROL_NAME}-seed{r.seed}" for r in spec.runs()]
    else:
        pairs = []
    for claim in claim_pairs:
        arm_a, arm_b = claim.split(":")
        for seed in spec.seeds:
            if (arm_a, seed) in runs and (arm_b, seed) in runs:
                pairs.append(f"{runs[arm_a, seed]}:{runs[arm_b, seed]}")
    return list(dict.fromkeys(pairs))


def probe_flags(flags: dict[str, Any]) -> list[str]:
    """run_glue_probe flags from a mapping: lists as several values, booleans and scalars as one value."""
    argv: list[str] = []
    for key, value in flags.items():
        if isinstance(value, (list, tuple)):
            argv += [f"--{key}", *(str(v) for v in value)]
        elif isinstance(value, bool):
            argv += [f"--{key}", "true" if value else "false"]
        else:
            argv += [f"--{key}", str(value)]
    return argv


def unready(spec: StudySpec) -> dict[str, str | None]:
    """Each run and control of the study by name: None when it can be probed, else why not
    (`slow-seed1 (3/6 steps)`, `random_init-seed1 (not exported)`)."""
    why: dict[str, str | None] = {
        r.name: None if is_complete(r) else f"{r.name} ({latest_step(r)}/{r.max_steps} steps)"
        for r in spec.runs()
    }
    if spec.control:
        for s in spec.seeds:
            name = f"{CONTROL_NAME}-seed{s}"
            why[name] = None if control_exported(spec, s) else f"{name} (not exported)"
    return why


def _analysis(
    spec: StudySpec,
    name: str,
    out: Path,
    models: Sequence[tuple[str, Path, str]],
    *extra: str,
    flags: dict[str, Any] | None = None,
) -> None:
    """One `python -m modeling_jepa_mlm.analysis` process over `models` with probe `name`'s flags (or `flags`),
    logged to `<out>/probe.log` and timed in `walltime.jsonl`."""
    flags = spec.probes[name] if flags is None else flags
    argv = [
        "--model_name_or_path",
        *(str(p) for _, p, _ in models),
        "--model_names",
        *(n for n, _, _ in models),
        "--arms",
        *(a for _, _, a in models),
        "--output_dir",
        str(out),
        "--records_dir",
        str(out / RECORDS_DIR),
        *probe_flags(flags),
        *extra,
    ]
    begin = time.perf_counter()
    with (out / "probe.log").open("a") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "modeling_jepa_mlm.analysis", *argv], stdout=log, stderr=subprocess.STDOUT
        )
    record_stage(
        spec,
        f"probe_{name}",
        begin,
        returncode=proc.returncode,
        models=[n for n, _, _ in models],
        records_only="--records_only" in extra,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe {name} failed (exit {proc.returncode}); see {out / 'probe.log'}")


def probe(
    spec: StudySpec, name: str, only: Sequence[str] | None = None, measured_only: bool = False
) -> Path | None:
    """Probe the study's runs and controls with the flags of probe `name`, incrementally.

    Each model is measured once, as soon as it is finished, into `<results_dir>/probe_<name>/records/<model>.npz`
    (`analysis.records`); when every model has its record, the comparisons and claims are assembled from the
    records alone into `results.json`, so they survive the loss of the exports. `only` limits the measuring to
    these runs (the controls are always measured once exported). Skipped when `results.json` lists the study's
    current models.

    `measured_only`: while some models are unfinished, assemble anyway over the models measured so far, with the
    claim pairs whose two arms both have a measured run (`results.json` then lists only those models; the summary
    names the missing ones, and a later probe stage over every model replaces it).

    Returns the probe's folder once `results.json` is written, None while models are still unfinished.
    """
    out = spec.results_dir / f"probe_{name}"
    models = probe_models(spec)
    # Plain JSON, not the typed loader: a foreign or partial file must be refused below, not fail to load.
    results = read_json(out / RESULTS_NAME)
    assembled = sorted(results.get("models", {})) if results is not None else None
    if assembled == sorted(n for n, _, _ in models):
        logger.info("probe %s: done for these models, skipped", name)
        return out
    if results is not None and not (out / PROBE_MARKER).is_file():
        raise FileExistsError(
            f"{out} holds probe results this study did not make (models {sorted(results.get('models', {}))}); "
            "the probe would overwrite them. Move them elsewhere or give the study another results_dir."
        )
    unmeasured = [m for m in models if not record_path(out / RECORDS_DIR, m[0]).is_file()]
    why = unready(spec)
    waiting = {m[0]: why[m[0]] for m in unmeasured}
    if only:
        waiting |= {
            m[0]: f"{m[0]} (not in --only)" for m in unmeasured if m[2] != CONTROL_NAME and m[0] not in only
        }
    ready = [m for m in unmeasured if waiting[m[0]] is None]
    if ready:
        _mark_probe_folder(spec, out, models)
        logger.info("probe %s: measuring %s", name, ", ".join(n for n, _, _ in ready))
        _analysis(spec, name, out, ready, "--records_only")
    unfinished = [why for why in waiting.values() if why is not None]
    flags = dict(spec.probes[name])
    if unfinished:
        logger.warning(
            "probe %s: %d of %d models measured; waiting for %s. Run the probe stage again once they are "
            "finished (`--stages pretrain control probe` resumes each run from its newest checkpoint).",
            name,
            len(models) - len(unfinished),
            len(models),
            ", ".join(unfinished),
        )
        if not measured_only:
            return None
        models = [m for m in models if record_path(out / RECORDS_DIR, m[0]).is_file()]
        arms = {arm for _, _, arm in models}
        claim_pairs = [p for p in flags.get("claim_pairs", []) if set(p.split(":")) <= arms]
        if len(models) < 2 or not claim_pairs:
            logger.warning(
                "probe %s: too few models measured to compare (%d), nothing assembled", name, len(models)
            )
            return None
        if assembled == sorted(n for n, _, _ in models):
            logger.info("probe %s: already assembled over the %d measured models, skipped", name, len(models))
            return out
        logger.warning(
            "probe %s: --measured_only: assembling over the %d measured models, claim pairs %s",
            name,
            len(models),
            ", ".join(claim_pairs),
        )
        flags["claim_pairs"] = claim_pairs
    extra = []
    if flags.get("claim_pairs") and "model_pairs" not in flags:
        names = {n for n, _, _ in models}
        pairs = [p for p in model_pairs(spec, flags["claim_pairs"]) if set(p.split(":")) <= names]
        extra = ["--model_pairs", *pairs]
    _mark_probe_folder(spec, out, probe_models(spec))
    _analysis(spec, name, out, models, *extra, flags=flags)
    return out


def _mark_probe_folder(spec: StudySpec, out: Path, models: Sequence[tuple[str, Path, str]]) -> None:
    """Write the marker that says `out`'s results are this study's own (before anything is written there)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / PROBE_MARKER).write_text(
        json.dumps({"study": spec.name, "models": [n for n, _, _ in models]}, indent=2)
    )


def run_study(
    spec: StudySpec,
    stages: Sequence[str] = STAGES,
    only: Sequence[str] | None = None,
    probes: Sequence[str] | None = None,
    measured_only: bool = False,
) -> dict:
    """Run the given stages in order; `only` restricts pre-training and the probes' measuring to these run names
    (`<arm>-seed<k>`), `probes` the probe stage to these probes of the study file (two sittings, or two
    processes, can then probe in parallel: each probe writes only its own folder); `measured_only` lets the
    probe stage assemble its claims over the models measured so far (`probe`).

    Returns the summary (also written to `<results_dir>/summary.json`) when the summary stage ran, else {}."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; accepted: {', '.join(STAGES)}")
    runs = spec.runs()
    if only:
        names = {r.name for r in runs}
        missing = sorted(set(only) - names)
        if missing:
            raise ValueError(f"unknown runs {missing}; runs of this study: {', '.join(sorted(names))}")
    if probes:
        missing = sorted(set(probes) - set(spec.probes))
        if missing:
            raise ValueError(
                f"unknown probes {missing}; probes of this study: {', '.join(spec.probes) or 'none'}"
            )
    spec.results_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(spec.path, spec.results_dir / "study.yaml")
    if "pretrain" in stages:
        for run in runs:
            if not only or run.name in only:
                pretrain(spec, run)
    if "control" in stages and spec.control:
        for seed in spec.seeds:
            if not control_exported(spec, seed):
                begin = time.perf_counter()
                export_control(spec, seed)
                record_stage(spec, "control", begin, run=f"{CONTROL_NAME}-seed{seed}", seed=seed)
    if "parity" in stages:
        from .parity import check_parity

        begin = time.perf_counter()
        parity = check_parity(spec)
        record_stage(spec, "parity", begin, passed=parity["passed"])
        (spec.results_dir / "parity.json").write_text(json.dumps(parity, indent=2))
        if not parity["passed"]:
            logger.warning("data-order parity FAILED: see %s", spec.results_dir / "parity.json")
    if "probe" in stages:
        for name in spec.probes:
            if not probes or name in probes:
                probe(spec, name, only, measured_only=measured_only)
    if "summary" in stages:
        from .summary import write_summary

        return write_summary(spec)
    return {}
