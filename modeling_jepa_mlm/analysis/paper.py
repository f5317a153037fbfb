"""The paper under test as data: its title and arXiv id, its reference numbers and its claims (`paper.yaml`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

PAPER_PATH = Path(__file__).resolve().parent / "paper.yaml"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, tested on the comparisons of the first model (the hybrid) with another.

    Attributes:
        name: short name, used in the report.
        paper: the claim as the paper states it.
        metrics: the metrics whose task x pooling cells carry the evidence.
        direction: +1 if the hybrid should be higher, -1 lower, 0 if the two should be equivalent.
        poolings: restrict to these poolings; None uses every pooling.
        margin: for direction 0, the largest difference that still counts as equivalent.
        probes: the evidence comes from linear probes, so a cell where either model's probes sit at the
            majority class (`probes_at_majority`) cannot count as support.
    """

    name: str
    paper: str
    metrics: tuple[str, ...]
    direction: int
    poolings: tuple[str, ...] | None = None
    margin: float = 0.0
    probes: bool = False

    def covers(self, metric: str, pooling: str) -> bool:
        """Whether a task x pooling cell of `metric` is evidence for this claim."""
        return metric in self.metrics and (self.poolings is None or pooling in self.poolings)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Claim:
        """A claim from its `paper.yaml` entry (lists become tuples).

        Raises:
            ValueError: unknown keys (naming them and the known ones) or a direction outside {-1, 0, 1}.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"claim {data.get('name')!r}: unknown keys {unknown}; known keys: {known}")
        if data.get("direction") not in (-1, 0, 1):
            raise ValueError(
                f"claim {data.get('name')!r}: direction must be -1, 0 or 1, got {data.get('direction')!r}"
            )
        poolings = data.get("poolings")
        return cls(
            **{
                **data,
                "metrics": tuple(data["metrics"]),
                "poolings": tuple(poolings) if poolings is not None else None,
            }
        )


# (task, pooling) -> metric -> (hybrid, MLM)
Reference = dict[tuple[str, str], dict[str, tuple[float, float]]]


@dataclass(frozen=True)
class Paper:
    """The paper: `title`, `arxiv` id, `reference` numbers and `claims`."""

    title: str
    arxiv: str
    reference: Reference
    claims: tuple[Claim, ...]


def load_paper(path: str | os.PathLike = PAPER_PATH) -> Paper:
    """Read a paper file (the packaged `paper.yaml` by default).

    Raises:
        FileNotFoundError: no such file; ValueError: a malformed claim.
    """
    data = yaml.safe_load(Path(path).read_text())
    reference = {
        (task, pooling): {metric: (float(h), float(m)) for metric, (h, m) in metrics.items()}
        for task, by_pool in data.get("reference", {}).items()
        for pooling, metrics in by_pool.items()
    }
    claims = tuple(Claim.from_dict(c) for c in data.get("claims", []))
    return Paper(str(data["title"]), str(data["arxiv"]), reference, claims)


PAPER = load_paper()
