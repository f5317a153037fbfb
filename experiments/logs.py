"""Reading a Trainer run's console log (the diagnostics of steps 13 and 15)."""

import ast
import re
from pathlib import Path


def logged_losses(log: Path, logging_steps: int = 20, every: int = 100) -> dict[int, float]:
    """The MLM loss at every `every`-th step of a run that logged every `logging_steps` steps, to 3 decimals."""
    logs = [ast.literal_eval(m) for m in re.findall(r"\{'loss'[^}]*\}", Path(log).read_text())]
    steps = ((logging_steps * (i + 1), d) for i, d in enumerate(logs))
    return {s: round(float(d["mlm_loss"]), 3) for s, d in steps if s % every == 0}
