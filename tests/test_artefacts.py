"""Reassignment interference: detected where two tones beat, quiet where they do not.

Signals: N = 2048 samples at fs = 1, a tone at 0.1 and one at 0.1 + delta, with a little
white noise. Whether a pair interferes is decided by the wavelet, not by delta alone:
each case states the leakage (:func:`wavelet_leakage`, the response of the row peaking on
one tone to the other) that makes it expected to wiggle or not.
"""

import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from saliency2signal import SSQConfig, attribution_mask, cwt  # noqa: E402
from saliency2signal import plot as s2splot  # noqa: E402
from saliency2signal.artefacts import (  # noqa: E402
    Interference,
    advise_wavelet,
    detect_interference,
    flag_regions,
    wavelet_leakage,
)

N = 2048
F0 = 0.1
GMW = SSQConfig()
MORLET5 = SSQConfig(wavelet="morlet", mu=5.0)
MORLET13 = SSQConfig(wavelet="morlet", mu=13.4)
CONFIGS = {"gmw": GMW, "morlet5": MORLET5, "morlet13.4": MORLET13}


def pair(delta, rng, *, noise=0.01, n=N):
    t = np.arange(n)
    x = np.cos(2 * np.pi * F0 * t)
    if delta:
        x = x + np.cos(2 * np.pi * (F0 + delta) * t + 0.7)
    return x + noise * rng.standard_normal(n)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# (config, delta): every spacing for every wavelet; expected to wiggle iff leakage > 1e-2
GRID = [(name, d) for name in CONFIGS for d in (0.005, 0.01, 0.02, 0.1)]
CLOSE = [(name, d) for name, d in GRID if wavelet_leakage(d / F0, CONFIGS[name]) > 1e-2]
RESOLVED = [(name, d) for name, d in GRID if (name, d) not in CLOSE]


def test_grid_split_is_the_expected_one():
    # the oracle is the wavelet's own resolution: Morlet mu=5 does not resolve an octave
    assert RESOLVED == [("gmw", 0.1), ("morlet13.4", 0.1)]
    assert ("morlet5", 0.1) in CLOSE


@pytest.mark.parametrize(("name", "delta"), CLOSE)
def test_flags_the_wiggling_band_and_measures_its_period(name, delta, rng):
    res = detect_interference(pair(delta, rng), CONFIGS[name])
    assert len(res.findings) == 1
    f = res.findings[0]
    # period of the wiggle = 1 / |f2 - f1| (measured errors are < 0.1 %)
    np.testing.assert_allclose(f.period_samples, 1 / delta, rtol=0.02)
    np.testing.assert_allclose(f.period, f.period_samples)  # fs = 1
    np.testing.assert_allclose(f.delta_f, delta, rtol=0.02)
    np.testing.assert_allclose([f.f1, f.f2], [F0, F0 + delta], atol=0.1 * delta)
    assert f.strength >= 1.0
    assert f.band[0] < F0 < F0 + delta < f.band[1]
    # the mask holds the band: in most columns it sits on the rows around the pair
    freqs = res.freqs
    near = (freqs >= F0 - delta) & (freqs <= F0 + 2 * delta)
    assert res.mask[near].any(axis=0).mean() > 0.85
    assert not res.mask[freqs < 0.5 * F0].any()
    assert not res.mask[freqs > 2.5 * (F0 + delta)].any()
    assert set(np.unique(res.labels)) == {0, 1}


@pytest.mark.parametrize(("name", "delta"), [(n, 0.0) for n in CONFIGS] + RESOLVED)
def test_quiet_on_single_tones_and_resolved_pairs(name, delta, rng):
    res = detect_interference(pair(delta, rng), CONFIGS[name])
    assert res.findings == ()
    assert not res.mask.any()
    # the tones were seen (rows with energy), they just do not wiggle
    active = res.row_energy >= 0.05
    assert active.sum() > 5
    strength = (
        np.sum(res.row_energy[active] * res.row_wiggle[active]) / res.row_energy[active].sum()
    )
    assert strength < 0.1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_equals_one_by_one(dtype, rng):
    xs = np.stack([pair(0.01, rng), pair(0.0, rng), pair(0.02, rng)]).astype(dtype)
    xs = xs.reshape(3, 1, N)
    res = detect_interference(xs)
    assert res.mask.shape == (3, 1, GMW.n_freqs(N), N)
    assert res.batch_shape == (3, 1)
    assert [f.index for f in res.findings] == [(0, 0), (2, 0)]
    assert [f.label for f in res.findings] == [1, 2]
    for i in range(3):
        one = detect_interference(xs[i, 0])
        np.testing.assert_array_equal(res.mask[i, 0], one.mask)
        np.testing.assert_allclose(res.row_wiggle[i, 0], one.row_wiggle, rtol=1e-6)
        assert [f.period_samples for f in res.findings_at((i, 0))] == pytest.approx(
            [f.period_samples for f in one.findings], rel=1e-6
        )
    assert not res.mask[1, 0].any()
    assert res.findings_at((1, 0)) == ()


def test_cwt_result_input_and_lowpass_row(rng):
    x = pair(0.01, rng)
    cfg = SSQConfig(lowpass_row=True)
    direct = detect_interference(x, cfg)
    via = detect_interference(cwt(x, cfg, derivative=True))
    np.testing.assert_array_equal(direct.mask, via.mask)
    assert direct.mask.shape == (cfg.n_freqs(N), N)
    assert not direct.mask[0].any()  # the low-pass row is never analysed
    plain = detect_interference(x)
    np.testing.assert_array_equal(direct.mask[1:], plain.mask)
    assert direct.findings[0].ssq_rows == tuple(r + 1 for r in plain.findings[0].ssq_rows)
    assert direct.findings[0].period_samples == pytest.approx(plain.findings[0].period_samples)


def test_zeros_in_nothing_out():
    res = detect_interference(np.zeros(512))
    assert res.findings == ()
    assert not res.mask.any()
    assert not res.energy.any()


def test_period_in_time_units_follows_fs(rng):
    fs = 250.0
    res = detect_interference(pair(0.01, rng), SSQConfig(fs=fs))
    f = res.findings[0]
    np.testing.assert_allclose(f.period_samples, 100, rtol=0.02)
    np.testing.assert_allclose(f.period, 100 / fs, rtol=0.02)
    np.testing.assert_allclose([f.f1, f.f2], [F0 * fs, (F0 + 0.01) * fs], rtol=0.01)


def test_results_are_json_and_read_only(rng):
    res = detect_interference(pair(0.01, rng))
    assert isinstance(res, Interference)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["findings"][0]["period_samples"] == pytest.approx(100, rel=0.02)
    assert "not present in the signal" in d["findings"][0]["description"]
    with pytest.raises(ValueError, match="read-only"):
        res.mask[0, 0] = True


# =========================================================================== advice
@pytest.mark.parametrize(
    ("delta", "before"),
    [
        (0.005, "gmw"),
        (0.01, "gmw"),
        (0.02, "morlet13.4"),
        (0.1, "morlet5"),
    ],
)
@pytest.mark.parametrize("which", ["morlet", "gmw"])
def test_advised_wavelet_removes_the_wiggle(delta, before, which, rng):
    x = pair(delta, rng)
    assert len(detect_interference(x, CONFIGS[before]).findings) == 1
    advice = advise_wavelet(delta, f=F0)
    cfg = getattr(advice, which)
    assert cfg.nv == GMW.nv and cfg.wavelet == which
    after = detect_interference(x, cfg)
    assert after.findings == ()
    assert not after.mask.any()
    active = after.row_energy >= 0.05
    e, wiggle = after.row_energy[active], after.row_wiggle[active]
    assert e @ wiggle / e.sum() < 0.2  # measured 0.06-0.11 rows; flagging needs 1


def test_a_loose_tolerance_does_not_remove_it(rng):
    x = pair(0.01, rng)
    loose = advise_wavelet(0.01, f=F0, tol=0.2)
    assert len(detect_interference(x, loose.gmw).findings) == 1


@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-5])
@pytest.mark.parametrize("ratio", [0.02, 0.1, 0.5])
def test_advice_meets_the_tolerance_exactly(ratio, tol):
    adv = advise_wavelet(ratio, tol=tol)
    assert adv.gmw_leakage == pytest.approx(tol, rel=1e-6)
    assert adv.gmw_leakage <= tol
    assert wavelet_leakage(ratio, adv.gmw) == pytest.approx(adv.gmw_leakage)
    if adv.mu > 3.0:
        assert adv.morlet_leakage == pytest.approx(tol, rel=1e-6)
    assert adv.morlet_leakage <= tol
    # a slightly narrower wavelet no longer meets it
    assert wavelet_leakage(ratio, SSQConfig(beta=0.97 * adv.beta)) > tol
    if adv.mu > 3.1:
        assert wavelet_leakage(ratio, SSQConfig(wavelet="morlet", mu=0.97 * adv.mu)) > tol


def test_advice_numbers_and_units():
    adv = advise_wavelet(0.01, f=0.1)
    assert adv.spacing == pytest.approx(0.1)
    assert (adv.mu, adv.beta) == pytest.approx((40.886, 556.40), rel=1e-4)
    same = advise_wavelet(10.0, f=100.0, config=SSQConfig(fs=1000.0, nv=16))
    assert (same.mu, same.beta) == pytest.approx((adv.mu, adv.beta))
    assert same.gmw.fs == 1000.0 and same.gmw.nv == 16
    # the time spread is the price: 10x the frequency -> 1/10 of the duration
    assert same.morlet_spread == pytest.approx(adv.morlet_spread / 1000.0)
    assert advise_wavelet(0.1).morlet_spread is None
    # closer components need longer wavelets
    mus = [advise_wavelet(r).mu for r in (0.5, 0.2, 0.1, 0.05)]
    assert np.all(np.diff(mus) > 0)
    assert json.loads(json.dumps(adv.to_dict()))["gmw"]["beta"] == pytest.approx(adv.beta)
    assert advise_wavelet(5.0, tol=0.5).mu == 3.0  # anything admissible resolves this


# =========================================================================== regions
@pytest.fixture
def close_pair(rng):
    return detect_interference(pair(0.01, rng))


def test_flag_regions_label_image(close_pair):
    art = close_pair
    f = art.findings[0]
    labels = np.zeros(art.mask.shape, dtype=np.int32)
    r0, r1 = f.ssq_rows
    labels[r0 : r1 + 1, 800:1000] = 3  # on the artefact
    labels[10:20, 800:1000] = 7  # far below
    out = flag_regions(labels, art)
    assert [(r["label"], r["flagged"]) for r in out] == [(3, True), (7, False)]
    assert "~0.1 and ~0.11" in out[0]["message"]
    assert "not present in the signal" in out[0]["message"]
    assert out[0]["findings"][0]["label"] == f.label
    assert 0 < out[0]["overlap_fraction"] <= 1
    assert out[1]["overlap"] == 0 and out[1]["findings"] == []
    json.dumps(out)
    # a high min_overlap lets a region that barely touches the band pass
    labels[r0 - 30 : r1 + 1, 800:1000] = 3
    frac = flag_regions(labels, art)[0]["overlap_fraction"]
    assert flag_regions(labels, art, min_overlap=min(0.99, frac + 0.01))[0]["flagged"] is False


def test_flag_regions_attribution_mask_and_records(close_pair):
    art = close_pair
    r0, r1 = art.findings[0].ssq_rows
    attr = np.zeros(art.mask.shape)
    attr[r0 : r1 + 1, 600:700] = 2.0  # strongest: on the band
    attr[15:25, 1200:1300] = 1.0  # elsewhere
    am = attribution_mask(attr, GMW, threshold="absolute", value=0.5)
    assert len(am.regions) == 2
    by_mask = flag_regions(am, art)
    by_records = flag_regions(am.regions, art)
    assert [r["flagged"] for r in by_mask] == [True, False]
    assert [r["flagged"] for r in by_records] == [True, False]
    assert flag_regions(am.regions[0], art)[0]["flagged"]


def test_flag_regions_batched(rng):
    art = detect_interference(np.stack([pair(0.0, rng), pair(0.01, rng)]))
    r0, r1 = art.findings[0].ssq_rows
    labels = np.zeros(art.mask.shape, dtype=int)
    labels[:, r0 : r1 + 1, 900:1000] = 1  # same place in both maps
    out = flag_regions(labels, art)
    assert [(r["index"], r["flagged"]) for r in out] == [([0], False), ([1], True)]
    am = attribution_mask(labels[1].astype(float), GMW, threshold="absolute", value=0.5)
    assert flag_regions(am.regions, art, index=(1,))[0]["flagged"]
    assert not flag_regions(am.regions, art, index=0)[0]["flagged"]


# =========================================================================== plot
def test_plot_interference_draws_phase_transform_mask_and_ridges(close_pair):
    art = close_pair
    fig, ax = plt.subplots()
    ridge = np.full((2, N), -1)
    row = int(np.argmin(abs(art.freqs - F0)))
    ridge[0, 100:] = row
    ridge[1] = row + 3
    out = s2splot.interference(art, ax=ax, ridges=ridge)
    img = out["image"].get_array()
    assert img.shape == art.inst_freq.shape
    shown = img.compressed()
    assert shown.size and np.all((shown > 0.05) & (shown < 0.2))  # Hz around the tones
    assert out["artefacts"] is not None
    assert len(out["ridges"]) == 2
    y = out["ridges"][0].get_ydata()
    assert np.isnan(y[:100]).all() and np.allclose(y[100:], art.freqs[row])
    assert ax.get_yscale() == "log"


def test_plot_interference_quiet_has_no_outline(rng):
    art = detect_interference(pair(0.0, rng))
    out = s2splot.interference(art)
    assert out["artefacts"] is None and out["ridges"] == []
    assert out["image"].axes is plt.gca()


# =========================================================================== errors
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"min_energy": 0.0}, ValueError, "min_energy"),
        ({"min_energy": 1.5}, ValueError, "min_energy"),
        ({"min_wiggle": -1.0}, ValueError, "min_wiggle"),
        ({"margin": -1.0}, ValueError, "margin"),
        ({"min_wiggle": "1"}, TypeError, "min_wiggle"),
        ({"config": "gmw"}, TypeError, "SSQConfig"),
    ],
)
def test_detect_bad_arguments(kwargs, exc, match, rng):
    with pytest.raises(exc, match=match):
        detect_interference(pair(0.01, rng, n=256), **kwargs)


def test_detect_bad_inputs(rng):
    x = pair(0.01, rng, n=256)
    with pytest.raises(ValueError, match="dWx"):
        detect_interference(cwt(x))
    with pytest.raises(ValueError, match="differs"):
        detect_interference(cwt(x, derivative=True), SSQConfig(nv=16))
    with pytest.raises(TypeError, match="complex"):
        detect_interference(x.astype(complex))
    with pytest.raises(ValueError, match="NaN"):
        detect_interference(np.full(256, np.nan))


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((0.0,), {}, ValueError, "spacing"),
        ((-0.1,), {}, ValueError, "spacing"),
        (("0.1",), {}, TypeError, "spacing"),
        ((0.1,), {"tol": 1.0}, ValueError, "tol"),
        ((0.1,), {"tol": 0.0}, ValueError, "tol"),
        ((0.01,), {"f": 0.5}, ValueError, "Nyquist"),
        ((0.01,), {"f": -0.1}, ValueError, "f="),
        ((0.1,), {"gamma": 0.0}, ValueError, "gamma"),
        ((0.1,), {"config": {"nv": 16}}, TypeError, "SSQConfig"),
    ],
)
def test_advise_bad_arguments(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        advise_wavelet(*args, **kwargs)


def test_flag_regions_bad_inputs(close_pair, rng):
    art = close_pair
    good = np.zeros(art.mask.shape, dtype=int)
    with pytest.raises(TypeError, match="Interference"):
        flag_regions(good, art.mask)
    with pytest.raises(ValueError, match="shape"):
        flag_regions(good[:-1], art)
    with pytest.raises(TypeError, match="integer"):
        flag_regions(good.astype(float), art)
    with pytest.raises(TypeError, match="labels"):
        flag_regions("regions", art)
    with pytest.raises(ValueError, match="min_overlap"):
        flag_regions(good, art, min_overlap=1.0)
    batched = detect_interference(np.stack([pair(0.0, rng, n=256)] * 2))
    am = attribution_mask(np.ones(batched.mask.shape[1:]), GMW, threshold="absolute", value=0.5)
    with pytest.raises(ValueError, match="index"):
        flag_regions(am.regions, batched)
    with pytest.raises(ValueError, match="index"):
        flag_regions(am.regions, batched, index=(5,))
    wide = np.zeros(art.mask.shape)
    wide[5:10, 1000:1100] = 1.0
    far = attribution_mask(wide, GMW, threshold="absolute", value=0.5).regions
    with pytest.raises(ValueError, match="outside"):
        flag_regions(far, batched, index=(0,))  # columns 1000.. on a 256-sample grid
    assert flag_regions([], art) == []


def test_plot_bad_inputs(close_pair):
    with pytest.raises(TypeError, match="Interference"):
        s2splot.interference(close_pair.mask)
    with pytest.raises(ValueError, match="ridges"):
        s2splot.interference(close_pair, ridges=np.zeros((1, 10), dtype=int))
    with pytest.raises(ValueError, match="index"):
        s2splot.interference(close_pair, index=(0,))


def test_detect_interference_on_real_spectra_never_divides_by_zero():
    # short active windows leave no resolvable oscillation (every bin below 2.5/length is
    # cleared): such rows have no wiggle rather than a period of 1/0 (Coffee spectra,
    # GMW nv=32 with the low-pass row, as the bundled model sees them)
    import pathlib

    from saliency2signal import SSQConfig

    root = pathlib.Path(__file__).resolve().parents[1]
    with np.load(root / "data" / "coffee.npz") as z:
        x = z["X_test"][:6].astype(np.float32)
    cfg = SSQConfig(nv=32, lowpass_row=True, dtype="float32")
    res = detect_interference(x, cfg)
    assert res.labels.shape == (6, cfg.n_freqs(286), 286)
    for f in res.findings:  # whatever is reported is finite
        assert np.isfinite(f.period) and f.period > 0 and np.isfinite(f.delta_f)
