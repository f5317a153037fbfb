"""Reading a Trainer run's console log (the diagnostics of steps 13, 15 and 20)."""

import ast
import re
from pathlib import Path


def logged_dicts(log: Path, logging_steps: int = 20) -> dict[int, dict]:
    """Every logged training dict of a run that logged every `logging_steps` steps, by step (values as printed)."""
    logs = [ast.literal_eval(m) for m in re.findall(r"\{'loss'[^}]*\}", Path(log).read_text())]
    return {logging_steps * (i + 1): d for i, d in enumerate(logs)}


def logged_losses(log: Path, logging_steps: int = 20, every: int = 100) -> dict[int, float]:
    """The MLM loss at every `every`-th step of a run that logged every `logging_steps` steps, to 3 decimals."""
    return {
        s: round(float(d["mlm_loss"]), 3)
        for s, d in logged_dicts(log, logging_steps).items()
        if s % every == 0
    }
