"""Each region read as a band: the fitted peak whose deletion the model feels (issue 17).

On the bundled planted-peak data (ground truth: each positive spectrum's peak centre and
sigma), the top region's band is the planted peak, in the axis's units, and deleting it
takes the model's evidence away.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest
from jsonschema import validate

from saliency2signal import explain
from saliency2signal.datasets import load_planted
from saliency2signal.explanation import load_schema
from saliency2signal.io import load_model

MODEL = pathlib.Path(__file__).resolve().parents[1] / "models" / "planted.pt"
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@pytest.fixture(scope="module")
def planted():
    model, meta = load_model(MODEL)
    d = load_planted("test")
    pos = np.flatnonzero(d.y == 1)[:6]
    e = explain(model, d.x[pos], metadata=meta, axis=d.axis, n_null=0, max_regions=3)
    return model, meta, d, pos, e


def test_the_top_region_reads_as_the_planted_peak(planted):
    model, meta, d, pos, e = planted
    assert np.all(e.predictions == 1)
    for j, i in enumerate(pos):
        peak = e.regions[j][0].peak
        fwhm = FWHM_PER_SIGMA * d.widths[i]
        assert abs(peak["centre"] - d.centres[i]) < 0.05 * fwhm
        assert peak["fwhm"] == pytest.approx(fwhm, rel=0.1)
        assert peak["height"] == pytest.approx(d.amplitudes[i], rel=0.25)
        # deleting the band removes the model's evidence for the peak class
        assert peak["drop"] > 0.5 and peak["p_after"] < 0.5
        assert peak["description"].startswith(f"peak at {round(peak['centre'])} cm⁻¹ (FWHM ")
        # the band is what the region's component holds
        assert peak["component_correlation"] > 0.5
        assert peak["n_fitted"] >= 1 and 0.9 < peak["fit_r_squared"] <= 1.0


def test_the_reading_is_in_the_report(planted, tmp_path):
    model, meta, d, pos, e = planted
    report = json.loads(json.dumps(e.to_json(), allow_nan=False))
    validate(report, load_schema())
    assert report["settings"]["peaks"] is True
    first = report["samples"][0]["regions"][0]["peak"]
    assert first["description"] == e.regions[0][0].peak["description"]
    folder = e.save(tmp_path / "r", figures=False)
    page = (folder / "index.html").read_text()
    assert first["description"] in page


@pytest.mark.parametrize("kwargs", [{"peaks": False}, {"deletion": False}])
def test_no_reading_when_switched_off(planted, kwargs):
    model, meta, d, pos, e = planted
    off = explain(model, d.x[pos[:1]], metadata=meta, axis=d.axis, n_null=0, **kwargs)
    assert all(r.peak is None for r in off.regions[0])
    validate(json.loads(json.dumps(off.to_json())), load_schema())


def test_the_band_is_in_the_explanations_axis(planted):
    model, meta, d, pos, e = planted
    # without an axis the explanation's x values are the model's sample times
    plain = explain(model, d.x[pos[:1]], metadata=meta, n_null=0, max_regions=1)
    peak = plain.regions[0][0].peak
    step = d.axis[1] - d.axis[0]
    centre_samples = (d.centres[pos[0]] - d.axis[0]) / step
    assert (
        abs(peak["centre"] - plain.axis[0] - centre_samples * (plain.axis[1] - plain.axis[0])) < 1
    )
    # without metadata or axis: samples, and no units in the description
    bare = explain(
        model,
        d.x[pos[:1]],
        transform_config=meta.transform,
        imaging_config=meta.imaging,
        n_null=0,
        max_regions=1,
    )
    assert bare.axis_units == "samples"
    assert abs(bare.regions[0][0].peak["centre"] - centre_samples) < 1.0
    assert "cm" not in bare.regions[0][0].peak["description"]


def test_the_band_against_a_reference(planted):
    model, meta, d, pos, e = planted
    x = d.x[pos[:2]]
    # against itself there is nothing to explain: attribution from the signal's own
    # |Tx| is zero everywhere (to float rounding)
    same = explain(model, x, metadata=meta, axis=d.axis, n_null=0, max_regions=1, reference=x)
    assert np.abs(same.attribution).max() < 1e-6 * np.abs(e.attribution).max()
    # against the same spectrum with its band moved a little, the band is paired
    nudged = np.stack([np.interp(d.axis - 0.5, d.axis, v) for v in x])
    near = explain(model, x, metadata=meta, axis=d.axis, n_null=0, max_regions=1, reference=nudged)
    for j in range(2):
        ref = near.regions[j][0].peak["reference"]
        assert ref["new_band"] is False and ref["shift"] == pytest.approx(-0.5, abs=0.3)
        assert ref["fwhm_ratio"] == pytest.approx(1.0, abs=0.05)
        assert ref["height_ratio"] == pytest.approx(1.0, abs=0.05)
        assert "shifted by" in ref["description"]
    # against the spectrum without its planted peak, the band is new
    counterfactual = x - d.components[pos[:2]]
    new = explain(
        model, x, metadata=meta, axis=d.axis, n_null=0, max_regions=1, reference=counterfactual
    )
    for j in range(2):
        ref = new.regions[j][0].peak["reference"]
        assert ref["new_band"] is True and ref["peak"] is None
        # fitted to the spectrum, or to the difference (here: the planted peak itself)
        assert ref["change"]["kind"] in ("new band", "excess band")
        assert "the reference" in ref["description"]
    # moved by 4 cm^-1 in the reference: the band is shifted by -4 (+- 1)
    shift = 4.0
    moved = np.stack([np.interp(d.axis - shift, d.axis, v) for v in x])
    rel = explain(model, x, metadata=meta, axis=d.axis, n_null=0, max_regions=1, reference=moved)
    for j in range(2):
        ref = rel.regions[j][0].peak["reference"]
        assert ref["shift"] == pytest.approx(-shift, abs=1.0)
    report = json.loads(json.dumps(rel.to_json(), allow_nan=False))
    validate(report, load_schema())
    assert report["samples"][0]["regions"][0]["peak"]["reference"]["new_band"] is False


def test_the_page_says_when_deleting_the_band_raises_p(planted, tmp_path):
    from saliency2signal.explanation._pages import _peak_cell

    peak = dict(planted[4].regions[0][0].peak)
    assert "raises" not in _peak_cell(peak)
    peak["drop"], peak["p_after"] = -0.2, 0.9
    assert "deleting it <i>raises</i> p" in _peak_cell(peak)
    assert _peak_cell(None) == "&ndash;"
