"""Step 5 (issue 10): model cards of the three arms and the random control, from their run records and the
probe results (`modeling_jepa_mlm.publishing.cards.render_card`), with this experiment's claim verdicts appended.
Writes experiments/results/cards/<name>.md (Markdown only; the weights stay in experiments/runs/).

    ARM_SUFFIX=_continue python experiments/05_cards.py               # the 12.3 M-token exports, experiments/results
    python experiments/05_cards.py experiments/results/stage1_6m      # the first stage's exports
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modeling_jepa_mlm.publishing.cards import render_card, validate_card  # noqa: E402

RUNS = REPO / "experiments" / "runs"
RES = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "experiments" / "results"
SUFFIX = os.environ.get("ARM_SUFFIX", "")


def card_notes() -> str:
    """What every card of this experiment says about it: the scale and the checks, from the records
    (`04_summarize.findings`, the opening paragraph of SUMMARY.md)."""
    spec = importlib.util.spec_from_file_location("summarize", REPO / "experiments" / "04_summarize.py")
    summarize = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summarize)
    first = summarize.findings().replace("**Read the README's Results section first.** ", "")
    return (
        "A small-scale CPU reproduction of the paper's comparison (issue 10) on 2015 English Wikipedia, the same "
        "data, order, steps, batch and schedule for the hybrid, MLM and single-pass hybrid arms; far too little "
        "training for a useful encoder, it exists to test the paper's claims on identical budgets. See the "
        "repository README, section Results. " + first.strip()
    )


def verdicts(name: str) -> str:
    out = ["", "## Claim verdicts of this experiment (paired, Holm-corrected)", ""]
    for protocol in ("standard", "paper"):
        res_path = RES / f"probe_{protocol}" / "results.json"
        if not res_path.exists():
            continue
        res = json.loads(res_path.read_text())
        rows = [c for c in res["claims"] if name in (c["model_a"], c["model_b"])]
        if not rows:
            continue
        out += [f"Protocol `{protocol}`:", "", "| claim | A vs B | verdict | evidence |", "|---|---|---|---|"]
        out += [
            f"| {c['claim']} | {c['model_a']} vs {c['model_b']} | {c['verdict']} | {c.get('evidence', '')} |"
            for c in rows
        ]
        out.append("")
    return "\n".join(out)


def main() -> None:
    (RES / "cards").mkdir(parents=True, exist_ok=True)
    notes_text = card_notes()
    for name in ("hybrid", "mlm", "hybrid_shared", "random_init"):
        export = RUNS / (name if name == "random_init" else name + SUFFIX)
        if not (export / "config.json").exists():
            print(f"skip {name}: no export")
            continue
        notes = (
            notes_text
            if name != "random_init"
            else notes_text + " This card is the random-initialisation control: no training step."
        )
        probe = RES / "probe_standard" / "results.json"
        text = render_card(
            export,
            probe if probe.exists() else None,
            hub_model_id=f"jepa-mlm-cpu-repro-{name.replace('_', '-')}",
            model_name=name,
            notes=notes,
        )
        validate_card(text)
        text += verdicts(name)
        (RES / "cards" / f"{name}.md").write_text(text)
        print(f"wrote {RES / 'cards' / (name + '.md')}")


if __name__ == "__main__":
    main()
