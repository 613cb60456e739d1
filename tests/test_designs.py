"""Benchmark designs: ground truth that is exactly the class difference, in its window."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from saliency2signal.designs import DESIGNS, make_design_spectra

LENGTHS = [286, 1024, 2048]


@pytest.mark.parametrize("n_points", LENGTHS)
@pytest.mark.parametrize("design", DESIGNS)
def test_truth_is_the_class_feature_inside_its_window(design, n_points):
    d = make_design_spectra(design, 40, n_points=n_points, rng=3)
    pos = d.y == 1
    assert d.x.shape == d.components.shape == (40, n_points)
    assert np.bincount(d.y).tolist() == [20, 20]
    assert np.all(d.components[~pos] == 0) and np.all(d.amplitudes[~pos] == 0)
    assert np.all(np.abs(d.components[pos]).max(axis=1) > 0.1)
    assert np.all(d.amplitudes[pos] > 0)
    energy = (d.components**2).sum(axis=1)
    inside = (d.components**2 * d.window_mask()).sum(axis=1)
    assert np.all(inside[pos] >= 0.99 * energy[pos])
    # the window lies on the axis and holds the feature's centre
    assert np.all(d.windows[:, 0] < d.centres) and np.all(d.centres < d.windows[:, 1])
    assert np.all(d.windows[:, 0] > d.axis[0]) and np.all(d.windows[:, 1] < d.axis[-1])


@pytest.mark.parametrize("design", [d for d in DESIGNS if d != "baseline"])
def test_decoys_stay_clear_of_the_feature(design):
    d = make_design_spectra(design, 30, n_decoys=6, rng=5)
    lo, hi = d.windows[:, :1], d.windows[:, 1:]
    assert np.all((d.decoy_centres < lo) | (d.decoy_centres > hi))


@pytest.mark.parametrize("design", DESIGNS)
def test_counterfactual_of_a_positive_is_drawn_like_a_negative(design):
    # with everything else off, x - feature of class 1 and x of class 0 are one population:
    # the same peak heights, positions and energies (two-sample KS, 300 per class)
    d = make_design_spectra(
        design, 600, n_points=512, n_decoys=0, baseline_scale=0.0, noise=0.0, rng=11
    )
    pos = d.y == 1
    cf, neg = (d.x - d.components)[pos], d.x[~pos]
    assert np.all(np.isfinite(d.x))
    for stat in (
        lambda a: a.max(axis=1),
        lambda a: a.argmax(axis=1),
        lambda a: (a**2).sum(axis=1),
    ):
        assert stats.ks_2samp(stat(cf), stat(neg)).pvalue > 0.01


def test_same_seed_same_spectra_and_designs_differ():
    a = make_design_spectra("ratio", 8, rng=1)
    b = make_design_spectra("ratio", 8, rng=1)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.components, b.components)
    c = make_design_spectra("width", 8, rng=1)
    assert not np.allclose(a.components, c.components)
    assert c.class_names == ("narrow", "wide")


def test_signed_features_have_both_signs():
    # width and shift are differences of two peaks: positive and negative lobes
    for design in ("width", "shift"):
        d = make_design_spectra(design, 10, rng=2)
        comp = d.components[d.y == 1]
        assert np.all(comp.max(axis=1) > 0.1) and np.all(comp.min(axis=1) < -0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(design="peaks"), ValueError, "design='peaks' must be one of"),
        (dict(n_points=32), ValueError, "n_points=32 must be >= 64"),
        (dict(n_points=100.0), TypeError, "n_points=100.0 must be an integer"),
        (dict(axis_range=(1800.0, 600.0)), ValueError, "increasing"),
        (dict(axis_range=600.0), TypeError, "pair of numbers"),
        (dict(noise=-1.0), ValueError, "noise=-1.0 must be in"),
        (dict(rng=-1), ValueError, "must be a non-negative int"),
        (dict(rng="seed"), TypeError, "rng='seed' must be an int"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = dict(design="shoulder", n_samples=4) | kwargs
    design, n = args.pop("design"), args.pop("n_samples")
    with pytest.raises(error, match=match):
        make_design_spectra(design, n, **args)
