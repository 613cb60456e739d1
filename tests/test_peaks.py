"""Tests for saliency2signal.peaks: peak fitting on a local baseline, and matching.

Truths are planted analytically: peaks of known centre, FWHM, height and Lorentzian
fraction on a known baseline, with white noise of rms 0.01 (1 % of the main peak).
The axis is a wavenumber grid with a spacing of 2 cm⁻¹, so "half a sample" is 1 cm⁻¹.
The tolerances were set from the spread over 30-40 noise draws per case (the worst draw
sits well inside each bound; see the numbers in the comments).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy.integrate import quad

from saliency2signal.peaks import (
    BIC_MARGIN,
    Peak,
    PeakFit,
    PeakMatch,
    fit_peaks,
    match_peak,
)

DX = 2.0
X = 1000.0 + DX * np.arange(200)  # 1000 ... 1398 cm⁻¹
NOISE = 0.01
SIGMA_TO_FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))


def baseline(x=X):
    return 0.1 + 2e-4 * (x - 1200.0)


def gauss(centre, sigma, height, x=X):
    return Peak(centre, SIGMA_TO_FWHM * sigma, height, 0.0).curve(x)


def pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


# ------------------------------------------------------------------ Peak
@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_peak_curve_is_height_at_centre_and_half_at_half_width(eta):
    p = Peak(1168.0, 14.0, 0.31, eta)
    assert_allclose(p.curve([1168.0, 1161.0, 1175.0]), [0.31, 0.155, 0.155], rtol=1e-12)


@pytest.mark.parametrize(
    ("eta", "area"),
    [
        (0.0, 0.8 * 30.0 / SIGMA_TO_FWHM * math.sqrt(2 * math.pi)),  # h sigma sqrt(2 pi)
        (1.0, 0.8 * math.pi * 30.0 / 2),  # h pi gamma, gamma = FWHM / 2
    ],
)
def test_peak_area_is_the_integral(eta, area):
    p = Peak(1200.0, 30.0, 0.8, eta)
    assert p.area == pytest.approx(area, rel=1e-12)
    left = quad(lambda v: float(p.curve(v)), -np.inf, 1200.0)[0]
    right = quad(lambda v: float(p.curve(v)), 1200.0, np.inf)[0]
    assert left + right == pytest.approx(area, rel=1e-6)


@pytest.mark.parametrize(
    ("peak", "units", "text"),
    [
        (Peak(1168.2, 14.3, 0.3123), "cm⁻¹", "peak at 1168 cm⁻¹ (FWHM 14 cm⁻¹, height 0.31)"),
        (Peak(12.345, 2.31, 1234.5), "", "peak at 12.3 (FWHM 2.3, height 1200)"),
        (Peak(500.0, 0.052, 0.0999), "nm", "peak at 500.000 nm (FWHM 0.052 nm, height 0.10)"),
        (Peak(3.0, 10.0, 0.0), "", "peak at 3 (FWHM 10, height 0)"),
    ],
)
def test_describe_rounds_to_the_width(peak, units, text):
    assert peak.describe(units=units) == text


def test_peak_to_dict_is_json():
    d = Peak(1168.0, 14.0, 0.31, 0.2).to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert set(d) == {"centre", "fwhm", "height", "eta", "area"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fwhm": 0.0}, ValueError, "fwhm=0.0"),
        ({"fwhm": -1.0}, ValueError, "fwhm"),
        ({"height": -0.1}, ValueError, "height=-0.1"),
        ({"eta": 1.5}, ValueError, "eta=1.5"),
        ({"centre": float("nan")}, ValueError, "centre"),
        ({"centre": "1168"}, TypeError, "centre"),
    ],
)
def test_peak_rejects_bad_parameters(kwargs, error, match):
    args = {"centre": 1168.0, "fwhm": 14.0, "height": 0.3, "eta": 0.0} | kwargs
    with pytest.raises(error, match=match):
        Peak(**args)


# ------------------------------------------------------------------ single peaks
# worst of 40 draws: centre 0.10 sample off, FWHM 2.3 %, height 1.6 %, eta 0.09 (0.06 for
# the pure shapes)
@pytest.mark.parametrize(("eta", "fwhm"), [(0.0, 30.0), (1.0, 24.0), (0.5, 24.0)])
def test_single_peak_on_a_linear_baseline(rng, eta, fwhm):
    truth = Peak(1203.7, fwhm, 0.8, eta)
    y = baseline() + truth.curve(X) + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X)
    assert fit.n_peaks == 1
    (p,) = fit.peaks
    assert abs(p.centre - truth.centre) <= 0.5 * DX
    assert p.fwhm == pytest.approx(truth.fwhm, rel=0.05)
    assert p.height == pytest.approx(truth.height, rel=0.05)
    assert p.eta == pytest.approx(eta, abs=0.1 if eta in (0.0, 1.0) else 0.15)
    # the baseline: level at the range's midpoint and slope
    assert fit.x_ref == 1199.0
    assert_allclose(fit.baseline, [baseline(1199.0), 2e-4], rtol=0.2, atol=0.01)
    assert fit.rms == pytest.approx(NOISE, rel=0.2)
    assert fit.r2 > 0.99


@pytest.mark.parametrize(("shape", "eta"), [("gaussian", 0.0), ("lorentzian", 1.0)])
def test_a_fixed_shape_fits_its_own_peak(rng, shape, eta):
    truth = Peak(1250.3, 20.0, 1.0, eta)
    y = baseline() + truth.curve(X) + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X, shape=shape)
    (p,) = fit.peaks
    assert p.eta == eta
    assert abs(p.centre - truth.centre) <= 0.5 * DX
    assert p.fwhm == pytest.approx(truth.fwhm, rel=0.05)
    assert p.height == pytest.approx(truth.height, rel=0.05)


def test_quadratic_baseline_is_recovered(rng):
    truth = Peak(1180.0, 25.0, 1.0)
    curved = 0.3 - 5e-4 * (X - 1199.0) + 4e-6 * (X - 1199.0) ** 2
    y = curved + truth.curve(X) + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X, baseline="quadratic", shape="gaussian")
    assert fit.n_peaks == 1
    assert_allclose(fit.baseline, [0.3, -5e-4, 4e-6], rtol=0.1)
    assert fit.peaks[0].height == pytest.approx(1.0, rel=0.05)


def test_model_is_baseline_plus_peaks(rng):
    y = baseline() + gauss(1190.0, 12.0, 1.0) + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X, x_range=(1100.0, 1300.0))
    assert_allclose(fit.model, fit.baseline_curve(fit.x) + fit.curve(fit.x), atol=1e-12)
    assert_allclose(fit.curve(fit.x), sum(p.curve(fit.x) for p in fit.peaks))
    assert_allclose(fit.data, y[fit.start : fit.stop])
    rss = np.sum((fit.data - fit.model) ** 2)
    assert fit.rms == pytest.approx(math.sqrt(rss / fit.x.size))
    assert fit.r2 == pytest.approx(1 - rss / np.sum((fit.data - fit.data.mean()) ** 2))
    assert not fit.model.flags.writeable


# ------------------------------------------------------------------ shoulders and overlaps
def shoulder_case(rng, anchor_sigma, ratio):
    """An anchor peak and a narrower shoulder two anchor sigmas up its flank."""
    ca, sa = 1180.3, anchor_sigma
    cs, ss = ca + 2.0 * sa, 0.6 * sa
    shoulder = gauss(cs, ss, ratio)
    y = baseline() + gauss(ca, sa, 1.0) + shoulder + NOISE * rng.standard_normal(X.size)
    return y, shoulder, cs, ss


# worst of 30 draws per case: shoulder centre 0.32 of sigma_s / 4 off, correlation 0.998,
# the anchor's correlation with the shoulder 0.16 of the shoulder's own
@pytest.mark.parametrize("ratio", [0.25, 0.35, 0.5])
@pytest.mark.parametrize("anchor_sigma", [12.0, 24.0])  # 6 and 12 samples
def test_shoulder_is_found_and_matched(rng, anchor_sigma, ratio):
    y, shoulder, cs, ss = shoulder_case(rng, anchor_sigma, ratio)
    fit = fit_peaks(y, X)
    assert fit.n_peaks == 2
    assert fit.bic[2] < fit.bic[1] - BIC_MARGIN
    found = fit.peaks[1]  # sorted by centre: the shoulder is the upper one
    assert abs(found.centre - cs) <= ss / 4
    assert pearson(found.curve(X), shoulder) >= 0.95
    m = match_peak(fit, shoulder)
    assert isinstance(m, PeakMatch)
    assert (m.index, m.peak) == (1, found)
    assert m.correlation >= 0.95
    assert m.correlations[0] < 0.6 * m.correlation
    # a band-passed fragment: the shoulder less its mean over the range
    fragment = shoulder - shoulder.mean()
    mf = match_peak(fit, fragment)
    assert mf.index == 1
    assert mf.correlation == pytest.approx(m.correlation, abs=1e-12)  # offset-blind
    assert mf.cosine < m.cosine


def test_shoulder_with_a_gaussian_model(rng):
    y, shoulder, cs, ss = shoulder_case(rng, 16.0, 0.3)
    fit = fit_peaks(y, X, shape="gaussian")
    assert fit.n_peaks == 2
    assert abs(fit.peaks[1].centre - cs) <= ss / 4
    assert match_peak(fit, shoulder).index == 1


# worst of 30 draws: centres 0.63 sigma off (the pair is nearly degenerate; a fit started
# from the truth lands on the same optimum), correlation of the buried band 0.93; without
# the start that splits a fitted peak in two, 3 to 6 of 20 draws of the narrower bands
# (sigma 4 to 6 samples) fail
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sb", [10.0, 20.0])  # 5 and 10 samples
def test_overlapping_bands_give_two_peaks(seed, sb):
    cb = 1190.7
    c2, s2 = cb + sb, 0.8 * sb
    buried = gauss(c2, s2, 0.4)
    noise = NOISE * np.random.default_rng(seed).standard_normal(X.size)
    y = baseline() + gauss(cb, sb, 1.0) + buried + noise
    fit = fit_peaks(y, X)
    assert fit.n_peaks == 2
    a, b = fit.peaks
    assert abs(a.centre - cb) <= 0.75 * sb
    assert abs(b.centre - c2) <= 0.75 * s2
    assert pearson(b.curve(X), buried) >= 0.9
    assert match_peak(fit, buried - buried.mean()).index == 1
    # which peak carries the main band's height is not identifiable at this overlap and
    # noise (one draw in six swaps them), but the two together are the two bands
    assert pearson(fit.curve(X), gauss(cb, sb, 1.0) + buried) >= 0.999


@pytest.mark.parametrize(
    "truth",
    [
        [(1060.0, 10.0, 1.0), (1140.0, 16.0, 0.5), (1240.0, 12.0, 0.8), (1320.0, 20.0, 0.6)],
        # widths 2 to 15 samples: no single smoothing window sees them all (with one
        # window of 13 samples, 20 of 20 draws fail)
        [(1050.0, 4.0, 0.6), (1120.0, 20.0, 1.0), (1250.0, 8.0, 0.5), (1330.0, 30.0, 0.7)],
    ],
)
def test_four_separate_peaks(rng, truth):
    y = sum(gauss(*t) for t in truth) + baseline() + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X, max_peaks=4)
    assert fit.n_peaks == 4
    assert_allclose([p.centre for p in fit.peaks], [t[0] for t in truth], atol=0.5 * DX)
    assert_allclose([p.height for p in fit.peaks], [t[2] for t in truth], rtol=0.05)


@pytest.mark.parametrize("seed", range(6))
def test_a_narrow_peak_on_a_broad_band(seed):
    # 1.5 samples wide, 15 % as high, on the broad band's flank: a guess near a wider
    # peak is a new peak unless it is within half of the *narrower* FWHM of it (with the
    # wider FWHM, 6 of 20 draws fail)
    narrow = gauss(1150.0, 3.0, 0.15)
    noise = NOISE * np.random.default_rng(seed).standard_normal(X.size)
    y = baseline() + gauss(1200.0, 60.0, 1.0) + narrow + noise
    fit = fit_peaks(y, X)
    assert fit.n_peaks == 2
    assert abs(fit.peaks[0].centre - 1150.0) <= 0.5 * DX
    assert abs(fit.peaks[1].centre - 1200.0) <= 2 * DX
    assert match_peak(fit, narrow).index == 0


@pytest.mark.parametrize("seed", [4, 11, 23])
def test_a_sharp_band_beside_a_broad_one(seed):
    # with guesses from windows of up to 5 samples only, the first peak fitted here was
    # the sharp band alone, which did not lower the BIC by the margin, and the broad band
    # came with the second try; the broad windows now guess the broad band first, and
    # both bands are found either way
    gen = np.random.default_rng(seed)
    sharp, broad = gauss(1150.0, 3.0, 0.5), gauss(1230.0, 50.0, 1.0)
    y = baseline() + sharp + broad + NOISE * gen.standard_normal(X.size)
    fit = fit_peaks(y, X)
    assert fit.bic[1] < fit.bic[0] - BIC_MARGIN  # one peak pays now: the broad band
    assert fit.n_peaks == 2
    assert_allclose([p.centre for p in fit.peaks], [1150.0, 1230.0], atol=2 * DX)


def test_max_fwhm_bounds_the_widest_band():
    # a broad bump on a curved baseline over a short range: without a bound the bump may
    # take the baseline's curvature too; with it, no band is wider than asked
    gen = np.random.default_rng(0)
    y = baseline() + gauss(1200.0, 120.0, 0.4) + NOISE * gen.standard_normal(X.size)
    free = fit_peaks(y, X, x_range=(1000.0, 1400.0))
    bound = fit_peaks(y, X, x_range=(1000.0, 1400.0), max_fwhm=150.0)
    assert all(p.fwhm <= 150.0 + 1e-9 for p in bound.peaks)
    assert max(p.fwhm for p in free.peaks) <= 400.0 + 1e-9  # the range's width
    with pytest.raises(ValueError, match="max_fwhm"):
        fit_peaks(y, X, max_fwhm=0.0)


# ------------------------------------------------------------------ axes and ranges
def test_decreasing_axis_gives_the_mirrored_fit(rng):
    y, shoulder, _, _ = shoulder_case(rng, 20.0, 0.35)
    up = fit_peaks(y, X, x_range=(1050.0, 1350.0))
    down = fit_peaks(y[::-1], X[::-1], x_range=(1350.0, 1050.0))
    assert up.n_peaks == down.n_peaks == 2
    for p, q in zip(up.peaks, down.peaks, strict=True):
        assert_allclose(
            [q.centre, q.fwhm, q.height, q.eta], [p.centre, p.fwhm, p.height, p.eta], rtol=1e-6
        )
    assert_allclose(down.baseline, up.baseline, rtol=1e-6)
    assert down.x_range == up.x_range == (1050.0, 1350.0)
    assert (down.start, down.stop) == (X.size - up.stop, X.size - up.start)
    assert_allclose(down.model, up.model[::-1], rtol=1e-6)
    m_up = match_peak(up, shoulder)
    m_down = match_peak(down, shoulder[::-1].copy())
    assert m_up.index == m_down.index == 1


def test_default_axis_is_the_sample_index(rng):
    y = gauss(1200.0, 12.0, 1.0) + baseline() + NOISE * rng.standard_normal(X.size)
    in_samples = fit_peaks(y)
    in_axis = fit_peaks(y, X)
    p, q = in_samples.peaks[0], in_axis.peaks[0]
    assert p.centre == pytest.approx((q.centre - 1000.0) / DX, rel=1e-6)
    assert p.fwhm == pytest.approx(q.fwhm / DX, rel=1e-6)
    assert p.height == pytest.approx(q.height, rel=1e-6)


def test_uneven_axis(rng):
    x = 1000.0 + 400.0 * (np.arange(200) / 199) ** 1.3
    truth = Peak(1220.0, 30.0, 1.0)
    y = 0.1 + truth.curve(x) + NOISE * rng.standard_normal(x.size)
    (p,) = fit_peaks(y, x).peaks
    assert abs(p.centre - 1220.0) <= 1.0
    assert p.fwhm == pytest.approx(30.0, rel=0.05)


def test_x_range_and_margin_select_samples(rng):
    y = gauss(1200.0, 12.0, 1.0) + baseline() + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X, x_range=(1150.0, 1250.0))
    assert (fit.start, fit.stop) == (75, 126)
    assert fit.x_range == (1150.0, 1250.0)
    wide = fit_peaks(y, X, x_range=(1250.0, 1150.0), margin=0.5)  # either order
    assert (wide.start, wide.stop) == (50, 151)
    assert wide.x_range == (1100.0, 1300.0)
    clipped = fit_peaks(y, X, x_range=(900.0, 1100.0))  # partly outside: clipped
    assert (clipped.start, clipped.stop) == (0, 51)


def test_centres_stay_inside_the_range(rng):
    # a range cut through a peak's flank: the centre is bounded by the range
    y = gauss(1200.0, 12.0, 1.0) + baseline() + NOISE * rng.standard_normal(X.size)
    fit = fit_peaks(y, X, x_range=(1210.0, 1300.0))
    assert all(1210.0 <= p.centre <= 1300.0 for p in fit.peaks)
    assert all(2 * DX * (1 - 1e-9) <= p.fwhm <= 90.0 * (1 + 1e-9) for p in fit.peaks)


@pytest.mark.parametrize("kind", ["torch", "list"])
def test_torch_and_list_inputs(rng, kind):
    y = gauss(1200.0, 12.0, 1.0) + NOISE * rng.standard_normal(X.size)
    convert = torch.from_numpy if kind == "torch" else np.ndarray.tolist
    fit = fit_peaks(convert(y), convert(X))
    assert fit.peaks == fit_peaks(y, X).peaks
    assert fit.n_peaks == 1


# ------------------------------------------------------------------ nothing to find
@pytest.mark.parametrize("shape", ["pseudo_voigt", "gaussian", "lorentzian"])
@pytest.mark.parametrize("seed", range(8))
def test_noise_only_gives_no_peak(seed, shape):
    # measured: 0 of 200 draws gave a peak, for each shape and 30, 200 and 1000 samples
    gen = np.random.default_rng(seed)
    y = baseline() + NOISE * gen.standard_normal(X.size)
    fit = fit_peaks(y, X, shape=shape)
    assert fit.peaks == ()
    assert fit.n_peaks == 0
    assert fit.n_tried == 2  # one and two peaks were tried; neither paid for itself
    assert min(fit.bic[1:]) > fit.bic[0] - BIC_MARGIN
    assert_allclose(fit.model, fit.baseline_curve(X), atol=1e-12)
    assert fit.rms == pytest.approx(NOISE, rel=0.2)
    assert match_peak(fit, gauss(1200.0, 12.0, 1.0)) is None


@pytest.mark.parametrize("level", [0.0, 3.5])
def test_flat_signal(level):
    fit = fit_peaks(np.full(50, level))
    assert fit.peaks == ()
    assert fit.rms == 0.0
    assert fit.r2 == 1.0
    assert_allclose(fit.baseline, [level, 0.0], atol=1e-15)
    assert json.dumps(fit.to_dict(), allow_nan=False)


def test_a_weak_peak_is_not_claimed_but_a_clear_one_is(rng):
    noise = NOISE * rng.standard_normal(X.size)
    faint = fit_peaks(baseline() + gauss(1200.0, 10.0, 0.01) + noise, X)  # 1 sigma high
    clear = fit_peaks(baseline() + gauss(1200.0, 10.0, 0.08) + noise, X)  # 8 sigma high
    assert faint.n_peaks == 0
    assert clear.n_peaks == 1
    assert abs(clear.peaks[0].centre - 1200.0) <= 2.0


# ------------------------------------------------------------------ match_peak
def test_match_peak_on_another_grid(rng):
    y, shoulder, cs, ss = shoulder_case(rng, 16.0, 0.4)
    fit = fit_peaks(y, X)
    fine = np.linspace(1398.0, 1000.0, 797)  # finer and decreasing
    planted = gauss(cs, ss, 0.4, x=fine)
    m = match_peak(fit, planted, fine)
    assert m.index == 1
    assert m.correlation == pytest.approx(match_peak(fit, shoulder).correlation, abs=0.01)


def test_match_peak_of_a_constant_component_is_none(rng):
    y, _, _, _ = shoulder_case(rng, 16.0, 0.4)
    fit = fit_peaks(y, X)
    assert match_peak(fit, np.full(X.size, 2.0)) is None


def test_match_peak_to_dict_is_json(rng):
    y, shoulder, _, _ = shoulder_case(rng, 16.0, 0.4)
    m = match_peak(fit_peaks(y, X), shoulder)
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert d["index"] == 1
    assert len(d["correlations"]) == 2


def test_peak_fit_to_dict_is_json(rng):
    y, _, _, _ = shoulder_case(rng, 16.0, 0.4)
    fit = fit_peaks(y, X)
    d = json.loads(json.dumps(fit.to_dict(), allow_nan=False))
    assert d["n_peaks"] == 2
    assert d["n_tried"] == len(d["bic"]) - 1 == 3
    assert d["shape"] == "pseudo_voigt"
    assert d["baseline_kind"] == "linear"
    assert [p["centre"] for p in d["peaks"]] == [p.centre for p in fit.peaks]


# ------------------------------------------------------------------ bad inputs
GOOD = baseline() + gauss(1200.0, 12.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"signal": np.where(X == 1200.0, np.nan, GOOD)}, ValueError, "signal contains 1 NaN"),
        ({"signal": np.where(X == 1200.0, np.inf, GOOD)}, ValueError, "signal contains 1 NaN"),
        ({"signal": GOOD[:9], "axis": None}, ValueError, "signal has 9 samples"),
        ({"signal": GOOD.reshape(2, 100), "axis": None}, ValueError, r"shape \(2, 100\)"),
        ({"signal": GOOD.astype(complex)}, TypeError, "signal has dtype complex"),
        ({"axis": X[:-1]}, ValueError, r"axis has shape \(199,\)"),
        ({"axis": np.r_[X[:100], X[:100]]}, ValueError, "axis must be strictly"),
        ({"axis": np.where(X == 1200.0, np.nan, X)}, ValueError, "axis contains NaN"),
        ({"x_range": (1500.0, 1600.0)}, ValueError, r"x_range=\(1500.0, 1600.0\) lies outside"),
        ({"x_range": (1200.0, 1210.0)}, ValueError, r"x_range=\(1200.0, 1210.0\) holds 6"),
        ({"x_range": (1200.0, 1200.0)}, ValueError, "x_range=.* is empty"),
        ({"x_range": (1200.0, 1300.0, 1400.0)}, ValueError, "x_range=.* must be a pair"),
        ({"x_range": 1200.0}, TypeError, "x_range=1200.0 must be a pair"),
        ({"x_range": (1200.0, float("nan"))}, ValueError, "x_range=nan must be finite"),
        ({"shape": "voigt"}, ValueError, "shape='voigt' must be one of"),
        ({"baseline": "cubic"}, ValueError, "baseline='cubic' must be one of"),
        ({"baseline": None}, ValueError, "baseline=None must be one of"),
        ({"max_peaks": 0}, ValueError, "max_peaks=0 must be >= 1"),
        ({"max_peaks": 11}, ValueError, "max_peaks=11 must be <= 10"),
        ({"max_peaks": 2.0}, TypeError, "max_peaks=2.0 must be an integer"),
        ({"margin": -0.1}, ValueError, "margin=-0.1 must be in"),
        ({"margin": "wide"}, TypeError, "margin='wide' must be a number"),
    ],
)
def test_fit_peaks_rejects_bad_input(kwargs, error, match):
    args = {"signal": GOOD, "axis": X} | kwargs
    signal, axis = args.pop("signal"), args.pop("axis")
    with pytest.raises(error, match=match):
        fit_peaks(signal, axis, **args)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        fit_peaks(GOOD, X, (1100.0, 1300.0))


def test_match_peak_rejects_bad_input():
    fit = fit_peaks(GOOD, X)
    with pytest.raises(TypeError, match="fit must be a PeakFit"):
        match_peak(fit.to_dict(), GOOD)
    with pytest.raises(ValueError, match="component has 150 samples; the fitted signal had 200"):
        match_peak(fit, GOOD[:150])
    with pytest.raises(ValueError, match="component contains 1 NaN"):
        match_peak(fit, np.where(X == 1200.0, np.nan, GOOD))
    with pytest.raises(ValueError, match=r"axis has shape \(200,\)"):
        match_peak(fit, GOOD[:150], X)
    with pytest.raises(ValueError, match="axis has 0 samples inside x_range"):
        match_peak(fit, GOOD, X + 1000.0)


def test_peak_fit_is_frozen():
    fit = fit_peaks(GOOD, X)
    assert isinstance(fit, PeakFit)
    with pytest.raises(AttributeError):
        fit.peaks = ()
    with pytest.raises(AttributeError):
        fit.peaks[0].centre = 0.0
