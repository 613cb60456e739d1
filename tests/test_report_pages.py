"""The report's page per signal and its figures (issue 20, second part).

One page per signal, linked from the index and to its neighbours; figures a
spectroscopist can read (checked on the Figure objects: colorbars, labelled axes with
units, no legend over data, one colour per region); ``figures='all'|'overview'|'none'``
and the CLI's ``--figures``; figures drawn in worker processes byte for byte as drawn in
one.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_hex

from saliency2signal import explain
from saliency2signal.cli import build_parser, main
from saliency2signal.datasets import load_planted
from saliency2signal.explanation._figures import (
    figure_job,
    planes_figure,
    profile_figure,
    spectrum_figure,
)
from saliency2signal.explanation._readability import problems
from saliency2signal.io import load_model
from saliency2signal.plot import region_color

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
CM = r"$\mathrm{cm}^{-1}$"
MAKERS = (spectrum_figure, planes_figure, profile_figure)


@pytest.fixture(scope="module")
def planted():
    """Explanations of four planted test spectra (two of each class)."""
    d = load_planted("test")
    rows = np.r_[np.flatnonzero(d.y == 0)[:2], np.flatnonzero(d.y == 1)[:2]]
    model, meta = load_model(ROOT / "models" / "planted.pt")
    return explain(
        model, d.x[rows], metadata=meta, labels=d.y[rows], axis=d.axis, n_null=2, peaks=False
    )


@pytest.fixture(scope="module")
def coffee():
    """Explanations of two Coffee test spectra (an axis of points; contrastive)."""
    model, meta = load_model(ROOT / "models" / "coffee.pt")
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        x, axis = z["X_test"][[0, 21]], z["axis"]
    return explain(model, x, metadata=meta, axis=axis, n_null=0, peaks=False)


@pytest.fixture(scope="module")
def saved(planted, tmp_path_factory):
    """The planted report with every figure, drawn here (one process)."""
    return planted.save(tmp_path_factory.mktemp("pages") / "report", workers=1)


def _pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png"))


# ------------------------------------------------------------------ pages
def test_one_page_per_signal_linked_from_the_index_and_to_its_neighbours(saved, planted):
    n = planted.n_samples
    index = (saved / "index.html").read_text(encoding="utf-8")
    for b in range(n):
        page = saved / f"sample_{b:04d}.html"
        text = page.read_text(encoding="utf-8")
        assert f'href="sample_{b:04d}.html"' in index
        assert 'href="index.html#overview"' in text
        assert (f'href="sample_{b - 1:04d}.html"' in text) == (b > 0)
        assert (f'href="sample_{b + 1:04d}.html"' in text) == (b < n - 1)
        links = re.findall(r'(?:href|src)="([^"#]+)', text)
        assert all("://" not in link and (saved / link).is_file() for link in links)
        for kind in ("spectrum", "scalogram", "components"):
            assert f'src="sample_{b:04d}_{kind}.png"' in text
        for term in ("region", "component", "contrast", "drop", "contradicting", "verdict"):
            assert f"<dt>{term}</dt>" in text
        assert "<dt>unseen energy</dt>" in text


def test_the_region_table_gives_widths_in_axis_units(saved, coffee, tmp_path):
    text = (saved / "sample_0002.html").read_text(encoding="utf-8")
    assert "<th>peak width (cm⁻¹)</th>" in text and "cycles/sample" not in text
    assert "x-range (cm⁻¹)" in text
    # without an axis the band is in cycles per sample and widths in samples
    bare = dataclasses.replace(coffee, axis=np.arange(coffee.signals.shape[-1]))
    bare = dataclasses.replace(bare, axis_name="sample", axis_units="samples")
    out = bare.save(tmp_path / "bare", figures="none")
    text = (out / "sample_0000.html").read_text(encoding="utf-8")
    assert "band (cycles/sample)" in text and "peak width (samples)" in text


# ------------------------------------------------------------------ figures modes
def test_figures_overview_writes_only_the_overview_figures(planted, tmp_path):
    out = planted.save(tmp_path / "overview", figures="overview")
    classes = sorted(set(planted.target.tolist()))
    assert _pngs(out) == [f"overview_class_{k:03d}.png" for k in classes]
    assert len(list(out.glob("sample_*.html"))) == planted.n_samples
    page = (out / "sample_0000.html").read_text(encoding="utf-8")
    assert "<img" not in page and "figures='overview'" in page


@pytest.mark.parametrize(("figures", "drawn"), [(True, True), (False, False), ("none", False)])
def test_figures_true_and_false_still_mean_all_and_none(planted, tmp_path, figures, drawn):
    one = _first(planted, 1)  # drawing every figure is the slow case: one signal will do
    out = one.save(tmp_path / "r", figures=figures, workers=1)
    expected = ["overview_class_000.png"] + [
        f"sample_0000_{k}.png" for k in ("components", "scalogram", "spectrum")
    ]
    assert _pngs(out) == (expected if drawn else [])
    assert (out / "index.html").is_file() and (out / "sample_0000.html").is_file()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"figures": "some"}, ValueError, "figures='some' must be one of"),
        ({"figures": 1}, TypeError, "figures=1 must be one of"),
        ({"workers": 0}, ValueError, "workers=0 must be >= 1"),
        ({"workers": 2.0}, TypeError, "workers=2.0 must be an int"),
    ],
)
def test_bad_figures_and_workers_are_refused(planted, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        planted.save(tmp_path / "r", **kwargs)
    assert not list(tmp_path.iterdir())


def test_parallel_figures_are_the_same_bytes_as_serial(planted, saved, tmp_path):
    out = planted.save(tmp_path / "parallel", workers=2)
    assert _pngs(out) == _pngs(saved)
    different = [
        name for name in _pngs(saved) if (out / name).read_bytes() != (saved / name).read_bytes()
    ]
    assert different == []
    assert (out / "sample_0001.html").read_text() == (saved / "sample_0001.html").read_text()


def test_cli_figures_option(tmp_path):
    d = load_planted("test")
    np.savez(tmp_path / "x.npz", X_test=d.x[:3], y_test=d.y[:3], axis=d.axis)
    args = ["explain", str(ROOT / "models" / "planted.pt"), str(tmp_path / "x.npz")]
    args += ["--key", "X_test", "--n-null", "0", "--no-peaks", "--method", "saliency"]
    assert main([*args, "--out", str(tmp_path / "o"), "--figures", "overview"]) == 0
    pngs = _pngs(tmp_path / "o")
    assert pngs and all(p.startswith("overview_class_") for p in pngs)
    assert len(list((tmp_path / "o").glob("sample_*.html"))) == 3
    parse = build_parser().parse_args
    assert parse([*args, "--no-figures"]).figures == "none"
    assert parse(args).figures == "all"
    assert parse(["map", "h.npz", "x.npz", "--no-figures"]).figures == "none"
    assert parse(["map", "h.npz", "x.npz", "--figures", "overview"]).figures == "overview"


# ------------------------------------------------------------------ readability
@pytest.mark.parametrize("b", [1, 3])
@pytest.mark.parametrize("make", MAKERS, ids=lambda f: f.__name__)
def test_planted_figures_are_readable(planted, make, b):
    assert problems(make(figure_job(planted, b)), x_units=CM) == []


@pytest.mark.parametrize("make", MAKERS, ids=lambda f: f.__name__)
def test_coffee_figures_are_readable(coffee, make):
    job = figure_job(coffee, 1)
    assert len(job["regions"]) >= 2
    assert problems(make(job), x_units="(point)") == []


def test_the_planes_have_labelled_colorbars(coffee):
    fig = planes_figure(figure_job(coffee, 0))
    meshes = [c for ax in fig.axes for c in ax.collections if type(c).__name__ == "QuadMesh"]
    bars = [m.colorbar for m in meshes if m.colorbar is not None]
    assert len(bars) == 2
    assert "|Tx|" in bars[0].ax.get_ylabel() and "signal units" in bars[0].ax.get_ylabel()
    assert "attribution" in bars[1].ax.get_ylabel()


def test_the_readability_check_can_fail(coffee):
    fig = planes_figure(figure_job(coffee, 0))
    fig.axes[0].set_ylabel("")
    fig.axes[1].get_children()  # untouched
    found = problems(fig, x_units="cm")
    assert "an Axes without a y label" in found
    assert any("does not give the units 'cm'" in t for t in found)
    from matplotlib.figure import Figure

    bare = Figure()
    bare.subplots().pcolormesh(np.ones((3, 4)))
    assert "an image without a colorbar" in problems(bare)


def test_a_region_has_one_colour_for_contour_shading_and_component(coffee):
    job = figure_job(coffee, 1)
    regions = [r["label"] for r in job["regions"]]
    assert len(regions) >= 2
    planes = planes_figure(job)
    contours = [c for c in planes.axes[0].collections if type(c).__name__ == "QuadContourSet"]
    spectrum = spectrum_figure(job)
    top = spectrum.axes[0]
    for k, label in enumerate(regions):
        colour = region_color(label)
        assert to_hex(contours[k].get_edgecolor()[0]) == colour.lower()
        seg, own = spectrum.axes[1 + 2 * k], spectrum.axes[2 + 2 * k]
        assert to_hex(own.lines[0].get_color()) == colour.lower()  # the component
        assert to_hex(top.patches[k].get_facecolor()) == colour.lower()  # the shading
        assert to_hex(seg.patches[0].get_facecolor()) == colour.lower()
    assert len({region_color(label) for label in regions}) == len(regions)


def test_components_are_on_their_own_scale(coffee):
    job = figure_job(coffee, 1)
    fig = spectrum_figure(job)
    for k in range(len(job["components"])):
        own = fig.axes[2 + 2 * k]
        lo, hi = own.get_ylim()
        shown = own.lines[0].get_ydata()
        # the component fills its panel (on the spectrum's scale it would look flat)
        assert np.ptp(shown) > 0.5 * (hi - lo)
        assert np.ptp(shown) < 0.5 * np.ptp(job["signal"])


# ------------------------------------------------------------------ other kinds of result
def test_heatmap_only_and_regression_reports_draw(planted, tmp_path):
    one = _first(planted, 2)
    regions = tuple(
        tuple(dataclasses.replace(r, p_before=None, p_after=None, drop=None) for r in rs)
        for rs in one.regions
    )
    heatmap = dataclasses.replace(
        one, probabilities=None, predictions=None, verdicts=None, regions=regions
    )
    out = heatmap.save(tmp_path / "heatmap", workers=1)
    assert len(list(out.glob("sample_0000_*.png"))) == 3
    assert "no model given" in (out / "sample_0000.html").read_text(encoding="utf-8")
    regression = dataclasses.replace(one, task="regression", class_names=("a", "b"))
    out = regression.save(tmp_path / "regression", workers=1)
    page = (out / "sample_0000.html").read_text(encoding="utf-8")
    assert "output before" in page and len(list(out.glob("sample_0001_*.png"))) == 3


def _first(e, n: int):
    """Return the explanation of the first ``n`` signals of ``e``."""
    batched = {
        "signals", "components", "attribution", "labels", "Tx", "lowpass", "probabilities",
        "predictions", "target", "given_labels", "unseen_lowpass", "unseen_residual",
        "convergence_delta", "contrasts", "references", "foils",
    }  # fmt: skip
    kwargs = {name: getattr(e, name)[:n] for name in batched if getattr(e, name) is not None}
    kwargs["energy"] = {k: v[:n] for k, v in e.energy.items()}
    kwargs["regions"] = e.regions[:n]
    kwargs["verdicts"] = None if e.verdicts is None else e.verdicts[:n]
    return dataclasses.replace(e, **kwargs)


UNGUARDED = """
import sys
from pathlib import Path

import numpy as np

from saliency2signal import explain
from saliency2signal.datasets import load_planted
from saliency2signal.io import load_model

out = Path(sys.argv[1])
with open(out.parent / "runs.txt", "a") as fh:
    fh.write("run\\n")
d = load_planted("test")
model, meta = load_model(sys.argv[2])
e = explain(model, d.x[:2], metadata=meta, axis=d.axis, n_null=0, peaks=False,
            method="saliency")
e.save(out, workers=2)
"""


def test_a_script_without_a_main_guard_draws_its_figures_itself(tmp_path):
    """Spawned workers would run such a script again; its figures are drawn in-process."""
    import subprocess
    import sys

    script = tmp_path / "study.py"
    script.write_text(UNGUARDED, encoding="utf-8")
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, str(script), str(out), str(ROOT / "models" / "planted.pt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "runs.txt").read_text() == "run\n"  # the script ran once
    assert len(list(out.glob("sample_*_*.png"))) == 6


def test_the_overview_figures_are_readable(planted):
    from saliency2signal.explanation._overview import overview_figure

    report = planted.to_json()
    for record in report["summary"]["classes"]:
        assert problems(overview_figure(record, report), x_units=CM) == []
