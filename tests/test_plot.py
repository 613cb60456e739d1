"""Figures draw what they claim, on exact axes, without showing anything."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from saliency2signal import SSQConfig, ssq_cwt  # noqa: E402
from saliency2signal import plot as s2splot  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_import_does_not_pull_matplotlib():
    code = "import sys, saliency2signal; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("lowpass_row", [False, True])
def test_scalogram_axes_and_outlines(lowpass_row, rng):
    n = 400
    cfg = SSQConfig(nv=16, lowpass_row=lowpass_row)
    x = np.cos(2 * np.pi * 0.1 * np.arange(n)) + 0.1 * rng.standard_normal(n)
    res = ssq_cwt(x, cfg)
    labels = np.zeros(res.Tx.shape, dtype=int)
    labels[-20:-10, 100:200] = 1
    labels[5:9, 250:300] = 2
    axis = np.linspace(4000, 400, n)  # a descending wavenumber axis
    fig, ax = plt.subplots()
    mesh = s2splot.scalogram(res.Tx, cfg, ax=ax, axis=axis, labels=labels)
    assert mesh.get_array().size == res.Tx.numel()
    assert ax.get_yscale() == "log"
    assert len(ax.collections) == 3  # image + 2 outlines
    lo, hi = ax.get_ylim()
    assert lo <= cfg.freq_edges(n)[1] and hi >= cfg.freqs(n)[-1]


def test_scalogram_rejects_wrong_grid(rng):
    cfg = SSQConfig(nv=16)
    with pytest.raises(ValueError, match="rows but config gives"):
        s2splot.scalogram(np.ones((10, 300)), cfg)


def test_components_panels_show_the_segment(rng, tmp_path):
    n = 300
    axis = np.linspace(1800, 600, n)
    x = rng.standard_normal(n)
    comps = np.stack([np.sin(np.arange(n) / 5), np.cos(np.arange(n) / 9)])
    axes = s2splot.components(
        x,
        comps,
        x_ranges=[(1500, 1400), (900, 700)],
        axis=axis,
        names=["peak A", "peak B"],
        baseline=np.zeros(n),
    )
    assert len(axes) == 2
    # signal, low-pass, bold segment, component
    assert [len(a.lines) for a in axes] == [4, 4]
    seg = axes[0].lines[2].get_ydata()
    inside = (axis >= 1400) & (axis <= 1500)
    np.testing.assert_array_equal(np.isfinite(seg), inside)
    assert axes[0].get_xlim()[0] > axes[0].get_xlim()[1]  # descending axis kept
    axes[0].figure.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 5000


def test_components_validates_shapes(rng):
    with pytest.raises(ValueError, match="do not match"):
        s2splot.components(np.zeros(10), np.zeros((2, 11)))
    with pytest.raises(ValueError, match="x_ranges"):
        s2splot.components(np.zeros(10), np.zeros((2, 10)), x_ranges=[(0, 1)])
