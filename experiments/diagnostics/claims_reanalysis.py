"""Issue 21 diagnostic: the published CPU arms' committed probe results re-judged by the new claim logic.

    PYTHONPATH=. python experiments/diagnostics/claims_reanalysis.py --glue_dir /work/shared/data/glue \
        --output_dir experiments/results/claims_reanalysis

The arms' weights are not kept, so nothing is re-encoded: every rule is applied to what `results.json` holds.
- Informative cells: a model's probe beats chance when the lower end of its headline metric's 95 % interval
  is above the chance level of the same seeded validation sample (reloaded from `--glue_dir` with the run's
  seed and size), and beats the random control when the paired difference's interval is above 0.
- Duplicate poolings: from every model's set metrics (`claims.duplicate_poolings`).
- TOST: the committed intervals are 95 %; the 90 % interval is rescaled from them under a normal law
  (`claims.rescale_normal_interval`). New runs compute it from the replicates.
- Collapse: anisotropy and RankMe of each cell, the geometry sample's size from the run's settings.
Old verdicts: the `claims` of the file, and for pairs it did not judge, the old rule
(`significance.claim_verdict`, the probe-accuracy claim on `accuracy` and `spearmanr`) on its comparisons.
Writes `published.json` and `published.md`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from modeling_jepa_mlm.analysis.claims import (
    ClaimCell,
    beats_floor,
    chance_level,
    decide_claim,
    duplicate_poolings,
    embeddings_collapsed,
    headline_metric,
    rescale_normal_interval,
)
from modeling_jepa_mlm.analysis.metrics import GEOMETRY_METRICS
from modeling_jepa_mlm.analysis.results import Comparison
from modeling_jepa_mlm.analysis.significance import CLAIMS, claim_verdict
from modeling_jepa_mlm.analysis.tasks import get_task, load_split
from modeling_jepa_mlm.files import jsonable

RUNS = ("probe_paper", "probe_standard")
PAIRS = (("hybrid", "mlm"), ("hybrid_shared", "mlm"), ("hybrid", "random_init"), ("mlm", "random_init"))
CONTROL = "random_init"
OLD_PROBE_METRICS = ("accuracy", "spearmanr")  # what the probe-accuracy claim read before issue 21


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results_dir", default="experiments/results")
    p.add_argument("--runs", nargs="+", default=list(RUNS), help="folders under --results_dir")
    p.add_argument("--glue_dir", required=True)
    p.add_argument("--output_dir", required=True)
    return p.parse_args(argv)


def oriented(comparisons: list[dict], a: str, b: str) -> list[dict]:
    """The comparisons of a with b as `a - b`, flipping those stored as `b - a`."""
    out = []
    for c in comparisons:
        if (c["model_a"], c["model_b"]) == (a, b):
            out.append(c)
        elif (c["model_a"], c["model_b"]) == (b, a) and c["diff"] is not None:
            out.append(
                c
                | {
                    "model_a": a,
                    "model_b": b,
                    "diff": -c["diff"],
                    "ci_low": -c["ci_high"],
                    "ci_high": -c["ci_low"],
                }
            )
    return out


def chance_levels(results: dict, glue_dir: str) -> dict[str, float]:
    """Task -> chance level of its headline metric on the run's seeded validation sample."""
    settings = results["settings"]
    out = {}
    for task in results["tasks"]:
        spec = get_task(task)
        split = load_split(
            spec,
            spec.eval_split,
            glue_dir=glue_dir,
            max_samples=settings["max_eval_samples"],
            seed=settings["seed"],
        )
        assert len(split) == results["n_examples"][task]["eval"], (task, len(split))
        out[task] = chance_level(headline_metric(task), split.labels)
    return out


def model_floors(results: dict, chance: dict[str, float]) -> dict[tuple[str, str, str], bool]:
    """(model, task, pooling) -> whether its probe beats chance and, unless it is the control, the control."""
    out = {}
    for model, by_task in results["results"].items():
        for task, by_pool in by_task.items():
            metric = headline_metric(task)
            for pooling, cell in by_pool.items():
                if model == CONTROL:
                    out[model, task, pooling] = True
                    continue
                low = cell[metric]["ci_low"]
                ok = beats_floor(None if low is None else low - chance[task])
                vs = oriented(
                    [
                        c
                        for c in results["comparisons"]
                        if c["task"] == task and c["pooling"] == pooling and c["metric"] == metric
                    ],
                    model,
                    CONTROL,
                )
                out[model, task, pooling] = ok and (not vs or beats_floor(vs[0]["ci_low"]))
    return out


def collapsed_cells(results: dict) -> dict[tuple[str, str, str], bool]:
    """(model, task, pooling) -> collapsed embeddings (anisotropy, RankMe of the geometry sample)."""
    out = {}
    for model, by_task in results["results"].items():
        width = results["models"][model]["hidden_size"]
        for task, by_pool in by_task.items():
            sides = 2 if get_task(task).is_pair and results["protocol"] == "standard" else 1
            n = min(results["settings"]["max_geometry_samples"], sides * results["n_examples"][task]["eval"])
            for pooling, cell in by_pool.items():
                out[model, task, pooling] = embeddings_collapsed(
                    cell["anisotropy"]["value"], cell["rankme"]["value"], n, width
                )
    return out


def duplicates_of(results: dict) -> dict[str, dict[str, str]]:
    """Task -> {pooling: pooling it repeats}, from every model's set metrics."""
    res = results["results"]
    return {
        task: duplicate_poolings(
            {
                p: [
                    res[m][task][p][k]["value"] for m in res for k in GEOMETRY_METRICS if k in res[m][task][p]
                ]
                for p in results["poolings"]
            }
        )
        for task in results["tasks"]
    }


def claim_cells(results: dict, a: str, b: str, floors: dict, collapsed: dict) -> list[ClaimCell]:
    """ClaimCells of a vs b; each task's headline comparison also serves as `probe_headline`."""
    cells = []
    for c in oriented(results["comparisons"], a, b):
        if c["diff"] is None or c["ci_low"] is None:
            continue
        key_a, key_b = (a, c["task"], c["pooling"]), (b, c["task"], c["pooling"])
        lo90, hi90 = rescale_normal_interval(c["diff"], c["ci_low"], c["ci_high"], 0.95, 0.90)
        metrics = [c["metric"]] + (["probe_headline"] if c["metric"] == headline_metric(c["task"]) else [])
        for metric in metrics:
            cells.append(
                ClaimCell(
                    c["task"],
                    c["pooling"],
                    metric,
                    c["diff"],
                    c["ci_low"],
                    c["ci_high"],
                    bool(c["significant"]),
                    lo90,
                    hi90,
                    informative=floors[key_a] and floors[key_b],
                    collapsed=collapsed[key_a] or collapsed[key_b],
                    probes_at_majority=bool(c.get("probes_at_majority")),
                )
            )
    return cells


def old_verdict(results: dict, claim, a: str, b: str) -> dict:
    """The verdict the file holds for (a, b), else the old rule on its comparisons."""
    stored = [c for c in results["claims"] if (c["model_a"], c["model_b"], c["claim"]) == (a, b, claim.name)]
    if stored:
        return {"verdict": stored[0]["verdict"], "evidence": stored[0]["evidence"], "source": "results.json"}
    if claim.direction == 0:
        claim = dataclasses.replace(claim, metrics=OLD_PROBE_METRICS)
    out = claim_verdict(claim, [Comparison.from_dict(c) for c in oriented(results["comparisons"], a, b)])
    return {"verdict": out.verdict, "evidence": out.evidence, "source": "old rule recomputed"}


def reanalyse(results: dict, glue_dir: str) -> list[dict]:
    floors = model_floors(results, chance_levels(results, glue_dir))
    collapsed = collapsed_cells(results)
    duplicates = duplicates_of(results)
    rows = []
    for a, b in PAIRS:
        cells = claim_cells(results, a, b, floors, collapsed)
        for claim in CLAIMS:
            new = decide_claim(claim, cells, duplicates)
            rows.append(
                {"claim": claim.name, "model_a": a, "model_b": b, "old": old_verdict(results, claim, a, b)}
                | {"new": dataclasses.asdict(new)}
            )
    return rows


def markdown(report: dict) -> str:
    lines = [
        "# The published CPU arms under the issue-21 claim logic",
        "",
        "Generated by `experiments/diagnostics/claims_reanalysis.py` from the committed `results.json` files "
        "(no re-encoding: the weights are not kept). New verdicts count only informative cells: both probes "
        "above chance on the task's headline metric (MCC for CoLA, F1 for MRPC, Spearman for STS-B, accuracy "
        "otherwise) and above the random control, embeddings not collapsed; `weighted` pooling = `mean` "
        "counted once; probe-accuracy equivalence by TOST on 90 % intervals (rescaled from the stored 95 % "
        "ones). One pre-training seed per arm: the intervals cover sentences, not training runs.",
        "",
    ]
    for run, rows in report["runs"].items():
        lines += [f"## {run} (protocol `{report['protocols'][run]}`)", ""]
        duplicates = report["duplicates"][run]
        same = sorted({f"{p} = {q}" for by in duplicates.values() for p, q in by.items()})
        lines += [f"Duplicate poolings found: {', '.join(same) or 'none'}.", ""]
        lines += [
            "| claim | models | old verdict | new verdict | informative cells | new evidence |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            new = r["new"]
            lines.append(
                f"| {r['claim']} | {r['model_a']} vs {r['model_b']} | {r['old']['verdict']} | **{new['verdict']}** | "
                f"{new['informative']} of {new['cells']} | {new['evidence']} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    report = {"runs": {}, "protocols": {}, "duplicates": {}}
    for run in args.runs:
        results = json.loads((Path(args.results_dir) / run / "results.json").read_text())
        report["runs"][run] = reanalyse(results, args.glue_dir)
        report["protocols"][run] = results["protocol"]
        report["duplicates"][run] = duplicates_of(results)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "published.json").write_text(json.dumps(jsonable(report), indent=1, allow_nan=False) + "\n")
    (out / "published.md").write_text(markdown(report))


if __name__ == "__main__":
    main()
