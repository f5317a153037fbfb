"""The probe's plots on hand-made results: the uniformity / alignment figure without alignment and with a
collapsed encoder whose uniformity is about 0."""

from __future__ import annotations

from dataclasses import replace

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from modeling_jepa_mlm.analysis.metrics import expected_uniformity_isotropic  # noqa: E402
from modeling_jepa_mlm.analysis.report import (  # noqa: E402
    _uniformity_alignment_figure,
    alignment_absent_reason,
    plot_uniformity_alignment,
)
from modeling_jepa_mlm.analysis.results import ProbeRun  # noqa: E402

TASKS, POOLINGS = ["sst2", "stsb"], ["mean", "max"]


def _cell(value, lo, hi):
    return {"value": value, "ci_low": lo, "ci_high": hi}


def results(protocol: str = "paper", alignment: bool = False) -> ProbeRun:
    """Two 256-wide models: `collapsed` (uniformity -0.0001, as the collapsed hybrids) and `mlm` (about -0.5)."""
    out = {}
    for model, u0 in (("collapsed", -1e-4), ("mlm", -0.5)):
        out[model] = {
            t: {
                p: {
                    "uniformity": _cell(
                        u, u - 1e-5 if u > -0.01 else u - 0.02, u + 1e-5 if u > -0.01 else u + 0.02
                    ),
                    **({"alignment": _cell(0.4, 0.38, 0.42)} if alignment and t == "stsb" else {}),
                }
                for p, u in zip(POOLINGS, (u0, 1.1 * u0), strict=True)  # distinct poolings
            }
            for t in TASKS
        }
    return ProbeRun.from_dict(
        {
            "protocol": protocol,
            "models": {m: {"path": m, "num_parameters": 1, "hidden_size": 256} for m in out},
            "tasks": TASKS,
            "poolings": POOLINGS,
            "results": out,
        }
    )


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("protocol", ["paper", "standard"])
def test_uniformity_alignment_without_alignment_says_why_and_keeps_bars_near_zero_visible(tmp_path, protocol):
    res = results(protocol)
    fig = _uniformity_alignment_figure(res)
    left, right = fig.axes
    try:
        # The empty alignment panel says why it is empty.
        assert alignment_absent_reason(res) in texts(right)
        assert "encoded apart" in alignment_absent_reason(res)
        assert ("`paper`" in alignment_absent_reason(res)) == (protocol == "paper")
        # The y-range comes from the data, not from the isotropic value -3.97 far below it ...
        low, high = left.get_ylim()
        assert -1.0 < low < -0.52 and 0.0 < high < 0.1
        iso = expected_uniformity_isotropic(256)
        assert f"isotropic {iso:.2f}: below the axis" in left.get_ylabel()
        # ... and the collapsed model's bars (height 1e-4, invisible) carry a marker and their value.
        assert sum(t == "-0.000" for t in texts(left)) == len(TASKS) * len(POOLINGS)
        assert len(left.collections) >= len(TASKS) * len(POOLINGS)
    finally:
        plt.close(fig)
    path = tmp_path / "uniformity_alignment.png"
    plot_uniformity_alignment(res, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_uniformity_alignment_with_alignment_plots_it():
    fig = _uniformity_alignment_figure(results("standard", alignment=True))
    try:
        right = fig.axes[1]
        assert not texts(right) or all("No alignment" not in t for t in texts(right))
        assert len(right.collections) == 2  # one point per model on STS-B, first pooling
    finally:
        plt.close(fig)


def test_isotropic_reference_near_the_data_is_drawn_as_a_line():
    res = results()
    res.models["mlm"] = replace(
        res.models["mlm"], hidden_size=1
    )  # isotropic value -0.69: within twice the data range
    fig = _uniformity_alignment_figure(res)
    try:
        left = fig.axes[0]
        iso = expected_uniformity_isotropic(1)
        assert left.get_ylim()[0] < iso
        assert any(
            line.get_ydata()[0] == pytest.approx(iso) for line in left.lines if line.get_linestyle() == ":"
        )
    finally:
        plt.close(fig)
