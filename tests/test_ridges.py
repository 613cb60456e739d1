"""Tests for saliency2signal.ridges: accuracy on known instantaneous frequencies,
batching, the DP itself, the two ssqueezepy defects, and input checks.

Accuracy is measured as the share of columns whose ridge row is within 1 or 2 rows of
the row nearest (in log-frequency) to the true instantaneous frequency, in the interior
(the first and last 5 % of columns are left out: there the wavelet straddles the
reflected padding and the transform itself, not the tracker, is biased by several rows
at low frequencies). Multi-component signals are compared with ``order='frequency'``
(the components do not cross, so sorting rows per column assigns them).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.ridges import Ridges, extract_ridges, ridge_band

N = 1024
CFG = SSQConfig(nv=16)
T = np.arange(N)


def linear(fa, fb):
    return np.cos(2 * np.pi * (fa * T + (fb - fa) / (2 * N) * T**2)), fa + (fb - fa) * T / N


def exponential(fa, fb):
    k = (fb / fa) ** (1 / N)
    return np.cos(2 * np.pi * fa * (k**T - 1) / np.log(k)), fa * k**T


def tone(f):
    return np.cos(2 * np.pi * f * T), np.full(N, f)


# name -> (components, amplitudes); noise is added per case at the given SNR
SIGNALS = {
    "linear": ([linear(0.04, 0.24)], [1.0]),
    "exponential": ([exponential(0.02, 0.3)], [1.0]),
    "two-chirps": ([exponential(0.02, 0.05), linear(0.12, 0.3)], [1.0, 0.7]),
    "tone-chirp-tone": ([tone(0.03), linear(0.08, 0.12), tone(0.3)], [1.0, 0.7, 0.5]),
}

# (signal, snr_db or None, plane, min share within 1 row, min share within 2 rows);
# the bounds sit ~1-2 % under the measured values (see the comment of each block).
ACCURACY = [
    # measured ssq / cwt: 0.993/1.000, 1.000/1.000
    ("linear", None, "ssq", 0.98, 0.99),
    ("linear", None, "cwt", 0.99, 0.99),
    # 0.955/1.000, 0.987/1.000
    ("exponential", None, "ssq", 0.94, 0.99),
    ("exponential", None, "cwt", 0.97, 0.99),
    # 1.000/1.000 both
    ("two-chirps", None, "ssq", 0.99, 0.99),
    ("two-chirps", None, "cwt", 0.99, 0.99),
    # 0.999/0.999, 1.000/1.000
    ("tone-chirp-tone", None, "ssq", 0.99, 0.99),
    ("tone-chirp-tone", None, "cwt", 0.99, 0.99),
    # noisy (white Gaussian noise, seeded); measured in the same order:
    # 0.972/0.997, 0.980/1.000, 0.980/1.000, 0.996/1.000, 0.958/0.988, 0.977/0.978
    ("linear", 0.0, "ssq", 0.95, 0.97),
    ("linear", 0.0, "cwt", 0.95, 0.98),
    ("linear", 5.0, "ssq", 0.97, 0.98),
    ("linear", 5.0, "cwt", 0.98, 0.98),
    ("exponential", 0.0, "cwt", 0.93, 0.97),
    ("two-chirps", 3.0, "cwt", 0.95, 0.97),
]


def true_rows(freqs, inst):
    """Row nearest to each instantaneous frequency, in log-frequency, (K, N)."""
    lf = np.log2(freqs)
    return np.abs(np.log2(inst)[..., None] - lf).argmin(-1)


def make_signal(name, snr, rng):
    comps, amps = SIGNALS[name]
    clean = sum(a * c[0] for a, c in zip(amps, comps, strict=True))
    x = clean
    if snr is not None:
        power = np.mean(clean**2)
        x = clean + rng.standard_normal(N) * math.sqrt(power / 10 ** (snr / 10))
    return x, np.stack([c[1] for c in comps])


@pytest.mark.parametrize(("name", "snr", "plane", "min1", "min2"), ACCURACY)
def test_accuracy_on_known_instantaneous_frequency(name, snr, plane, min1, min2, rng):
    x, inst = make_signal(name, snr, rng)
    res = ssq_cwt(x, CFG)
    coef = res.Tx if plane == "ssq" else res.Wx
    ridges = extract_ridges(coef, CFG, n_ridges=len(inst), plane=plane, order="frequency")
    freqs = CFG.freqs(N) if plane == "ssq" else CFG.cwt_freqs(N)
    err = np.abs(ridges.rows - true_rows(freqs, inst))[:, N // 20 : -(N // 20)]
    within1, within2 = np.mean(err <= 1), np.mean(err <= 2)
    assert within1 >= min1, (within1, within2)
    assert within2 >= min2, (within1, within2)
    np.testing.assert_array_equal(ridges.freqs, freqs[ridges.rows])


def test_order_energy_puts_strongest_first(rng):
    x, _ = make_signal("two-chirps", None, rng)
    ridges = extract_ridges(ssq_cwt(x, CFG).Wx, CFG, n_ridges=2, plane="cwt")
    # the stronger component (amplitude 1, 0.02-0.05) is found first
    med = np.median(ridges.freqs, axis=-1)
    assert med[0] < 0.06 < 0.1 < med[1]
    assert ridges.energy[0].sum() > ridges.energy[1].sum()


@pytest.mark.parametrize("batch", [(3,), (2, 2)])
@pytest.mark.parametrize("plane", ["ssq", "cwt"])
def test_batched_equals_one_by_one(batch, plane, rng):
    x = rng.standard_normal((*batch, 256)) + np.cos(2 * np.pi * 0.1 * np.arange(256))
    cfg = SSQConfig(nv=8)
    res = ssq_cwt(x, cfg)
    coef = (res.Tx if plane == "ssq" else res.Wx).numpy()
    whole = extract_ridges(coef, cfg, n_ridges=2, plane=plane)
    flat = coef.reshape(-1, *coef.shape[-2:])
    single = [extract_ridges(c, cfg, n_ridges=2, plane=plane) for c in flat]
    for attr in ("rows", "freqs", "energy"):
        stacked = np.stack([getattr(s, attr) for s in single]).reshape(*batch, 2, 256)
        np.testing.assert_array_equal(getattr(whole, attr), stacked)
    assert whole.rows.shape == (*batch, 2, 256)
    assert whole.rows.dtype == np.int64


def test_chunked_batch_equals_whole(rng, monkeypatch):
    import saliency2signal.ridges as ridges_module

    cfg = SSQConfig(nv=8)
    tx = ssq_cwt(rng.standard_normal((4, 128)), cfg).Tx
    whole = extract_ridges(tx, cfg, n_ridges=2)
    monkeypatch.setattr(ridges_module, "_MAX_CELLS", 1)  # one signal per chunk
    chunked = extract_ridges(tx, cfg, n_ridges=2)
    np.testing.assert_array_equal(chunked.rows, whole.rows)


def test_torch_input_equals_numpy_and_energy_dtype_follows(rng):
    x = rng.standard_normal(256).astype(np.float32)
    cfg = SSQConfig(nv=8)
    tx = ssq_cwt(torch.from_numpy(x), cfg).Tx
    a = extract_ridges(tx, cfg, n_ridges=2)
    b = extract_ridges(tx.numpy(), cfg, n_ridges=2)
    np.testing.assert_array_equal(a.rows, b.rows)
    assert a.energy.dtype == np.float32
    np.testing.assert_allclose(
        a.energy, np.abs(tx.numpy()[a.rows, np.arange(256)]) ** 2, rtol=1e-6, atol=0
    )


def path_cost(cost, logf, penalty, path):
    jumps = np.diff(logf[list(path)])
    return cost[list(path), range(len(path))].sum() + penalty * np.sum(jumps**2)


@pytest.mark.parametrize("penalty", [0.0, 0.3, 3.0])
def test_dynamic_programming_finds_the_optimal_path(penalty, rng):
    # 4 rows x 5 columns: all 4**5 paths enumerated
    n_f, n_t = 4, 5
    coef = rng.standard_normal((n_f, n_t)) + 1j * rng.standard_normal((n_f, n_t))
    freqs = np.array([0.05, 0.08, 0.16, 0.2])
    ridge = extract_ridges(coef, freqs=freqs, penalty=penalty).rows[0]
    e = np.abs(coef) ** 2
    cost = -np.log(e / e.max(axis=0) + np.finfo(np.float64).eps)
    logf = np.log2(freqs)
    costs = [path_cost(cost, logf, penalty, p) for p in itertools.product(range(n_f), repeat=n_t)]
    np.testing.assert_allclose(path_cost(cost, logf, penalty, ridge), min(costs), rtol=1e-12)


def test_zero_penalty_is_the_column_maximum(rng):
    coef = rng.standard_normal((40, 64)) + 1j * rng.standard_normal((40, 64))
    ridge = extract_ridges(coef, freqs=np.geomspace(0.01, 0.5, 40), penalty=0.0)
    np.testing.assert_array_equal(ridge.rows[0], np.abs(coef).argmax(axis=0))


@pytest.mark.parametrize("lowpass_row", [False, True])
def test_zeros_in_gives_lowest_searchable_row(lowpass_row):
    cfg = SSQConfig(nv=8, lowpass_row=lowpass_row)
    coef = np.zeros((cfg.n_freqs(64), 64), dtype=np.complex128)
    ridges = extract_ridges(coef, cfg, n_ridges=2)
    np.testing.assert_array_equal(ridges.rows[0], int(lowpass_row))
    np.testing.assert_array_equal(ridges.energy, 0.0)


def test_lowpass_row_is_never_chosen():
    cfg = SSQConfig(nv=8, lowpass_row=True)
    x = 5.0 + np.cos(2 * np.pi * 0.1 * np.arange(256))  # large mean -> large row 0
    tx = ssq_cwt(x, cfg).Tx.numpy()
    assert np.all(np.abs(tx[0]) > np.abs(tx[1:]).max(axis=0))
    ridges = extract_ridges(tx, cfg, n_ridges=2)
    plain = SSQConfig(nv=8)
    ref = extract_ridges(ssq_cwt(x, plain).Tx, plain, n_ridges=2)
    np.testing.assert_array_equal(ridges.rows, ref.rows + 1)
    assert ridges.freqs.min() > 0


def test_windowed_jumps_match_dense_on_smooth_ridge(rng):
    x, _ = make_signal("exponential", 5.0, rng)
    tx = ssq_cwt(x, CFG).Tx
    dense = extract_ridges(tx, CFG, n_ridges=2)
    window = extract_ridges(tx, CFG, n_ridges=2, max_jump=1.0)  # 16 of 114 rows each way
    np.testing.assert_array_equal(window.rows, dense.rows)
    # a tight window forbids the jumps a free ridge takes between two distant tones
    coef = np.zeros((60, 100), dtype=complex)
    coef[10, :50] = 1.0
    coef[50, 50:] = 1.0
    freqs = np.geomspace(0.01, 0.5, 60)
    free = extract_ridges(coef, freqs=freqs, penalty=0.1)
    held = extract_ridges(coef, freqs=freqs, penalty=0.1, max_jump=0.05)
    np.testing.assert_array_equal(free.rows[0], np.r_[np.full(50, 10), np.full(50, 50)])
    assert np.abs(np.diff(np.log2(held.freqs[0]))).max() <= 0.05 + 1e-12


def test_masks_are_ridge_bands(rng):
    x, _ = make_signal("two-chirps", None, rng)
    ridges = extract_ridges(ssq_cwt(x, CFG).Tx, CFG, n_ridges=2, bw=3)
    m = ridges.masks()
    assert m.shape == (2, CFG.n_freqs(N), N)
    np.testing.assert_array_equal(m, ridge_band(ridges.rows, 3, n_freqs=CFG.n_freqs(N)))
    np.testing.assert_array_equal(m.sum(axis=-2)[:, 100:-100], 7)  # away from edges
    assert not np.any(m[0] & m[1])
    np.testing.assert_array_equal(ridges.masks(0).sum(axis=-2), 1)


def test_result_is_frozen():
    r = Ridges(np.zeros((1, 3), dtype=np.int64), np.zeros((1, 3)), np.zeros((1, 3)), 4)
    with pytest.raises(AttributeError):
        r.bw = 3  # type: ignore[misc]
    assert r.n_ridges == 1


# ----------------------------------------------------------------- ssqueezepy
def sq_extract(Tf, scales, **kw):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ssqueezepy import extract_ridges as sq_extract_ridges

        return sq_extract_ridges(Tf, scales, transform="cwt", parallel=False, **kw)


@pytest.fixture
def synthetic_plane(rng):
    """Noise plane in ssqueezepy order (row 0 = highest frequency) and its scales."""

    def make(n_f, n_t):
        tf = 0.05 * (rng.standard_normal((n_f, n_t)) + 1j * rng.standard_normal((n_f, n_t)))
        scales = np.geomspace(1.0, 200.0, n_f)  # ascending scales: descending frequency
        return tf, scales

    return make


def test_more_rows_than_columns_fixed(ssqpy, synthetic_plane):
    # ssqueezepy defect (1): unravel_index(argmin)[1] is row mod n_times
    tf, scales = synthetic_plane(300, 100)
    tf[250] += 1.0
    theirs = sq_extract(tf, scales, n_ridges=1, bw=15)[:, 0]
    assert set(np.unique(theirs)) - {250}  # e.g. {50, 250}: wrong rows
    ours = extract_ridges(tf[::-1], freqs=1 / scales[::-1], penalty=2 * math.log(2) ** 2)
    np.testing.assert_array_equal(ours.rows[0], 300 - 1 - 250)


@pytest.mark.parametrize("edge_row", [3, 296])
def test_edge_ridge_is_cleared(ssqpy, synthetic_plane, edge_row):
    # ssqueezepy defect (2): [r - bw : r + bw] is empty for r < bw -> ridge repeated
    tf, scales = synthetic_plane(300, 100)
    tf[edge_row] += 1.0
    tf[100] += 0.5
    theirs = sq_extract(tf, scales, n_ridges=2, bw=15)
    ours = extract_ridges(tf[::-1], freqs=1 / scales[::-1], n_ridges=2, bw=15).rows
    if edge_row < 15:
        np.testing.assert_array_equal(theirs, edge_row)  # both ridges on the edge row
    np.testing.assert_array_equal(299 - ours[0], edge_row)
    np.testing.assert_array_equal(299 - ours[1], 100)


def test_agrees_with_ssqueezepy_on_simple_case(ssqpy):
    # a linear chirp and a weaker tone, ssqueezepy's own ssq_cwt; same penalty once
    # converted from natural-log to octave units
    t = np.arange(512)
    x = np.cos(2 * np.pi * (0.05 * t + 0.1 / 1024 * t**2)) + 0.5 * np.cos(2 * np.pi * 0.3 * t)
    ref = ssqpy.ssq_cwt(x, nv=16)
    theirs = sq_extract(np.array(ref.Tx), ref.freqs, n_ridges=2, bw=4, penalty=2.0)
    n_f = ref.Tx.shape[0]
    ours = extract_ridges(
        ref.Tx[::-1], freqs=ref.freqs[::-1], n_ridges=2, bw=4, penalty=2.0 * math.log(2) ** 2
    )
    np.testing.assert_array_equal(n_f - 1 - ours.rows[0], theirs[:, 0])
    # the cleared bands differ by one row (theirs: r - bw .. r + bw - 1)
    assert np.mean(np.abs(n_f - 1 - ours.rows[1] - theirs[:, 1]) <= 1) >= 0.99


# ----------------------------------------------------------------- errors
def _plane():
    return np.ones((CFG.n_freqs(64), 64), dtype=complex)


@pytest.mark.parametrize(
    ("coef", "kwargs", "error", "match"),
    [
        (np.ones((CFG.n_freqs(64), 64)), {}, TypeError, "complex"),
        (np.ones(64, dtype=complex), {}, ValueError, "n_freqs, n_times"),
        (np.ones((7, 64), dtype=complex), {}, ValueError, "7 frequency rows"),
        (_plane(), {"n_ridges": 0}, ValueError, "n_ridges=0"),
        (_plane(), {"n_ridges": 1.5}, TypeError, "n_ridges=1.5"),
        (_plane(), {"penalty": -1.0}, ValueError, "penalty=-1.0"),
        (_plane(), {"penalty": "big"}, TypeError, "penalty='big'"),
        (_plane(), {"bw": -2}, ValueError, "bw=-2"),
        (_plane(), {"max_jump": -0.5}, ValueError, "max_jump=-0.5"),
        (_plane(), {"plane": "stft"}, ValueError, "plane='stft'"),
        (_plane(), {"order": "time"}, ValueError, "order='time'"),
        (_plane(), {"freqs": np.arange(1, 65.0)}, ValueError, "either config or freqs"),
    ],
)
def test_bad_input(coef, kwargs, error, match):
    with pytest.raises(error, match=match):
        extract_ridges(coef, CFG, **kwargs)


@pytest.mark.parametrize(
    ("coef", "freqs", "match"),
    [
        (np.ones((3, 8), dtype=complex), [3, 2, 1], "ascending"),
        (np.ones((3, 8), dtype=complex), [[1, 2, 3]], "expected \\(n_freqs,\\)"),
        (np.ones((3, 8), dtype=complex), [1, 2], "2 for n_times=8"),
        (np.ones((1, 8), dtype=complex), [0.0], "positive frequency"),
        (np.full((3, 8), np.nan, dtype=complex), [1, 2, 3], "NaN"),
    ],
)
def test_bad_plane_with_explicit_freqs(coef, freqs, match):
    with pytest.raises(ValueError, match=match):
        extract_ridges(coef, freqs=freqs)


def test_bad_config_type():
    with pytest.raises(TypeError, match="SSQConfig"):
        extract_ridges(_plane(), {"nv": 16})


# ----------------------------------------------------------------- ridge_band
# (moved from test_mask.py with ridge_band itself)
def test_ridge_band_against_direct_construction(rng):
    n_freqs, n = 12, 40
    cc = rng.integers(-1, n_freqs, size=n)
    cw = rng.integers(0, 4, size=n)
    got = ridge_band(cc, cw, n_freqs=n_freqs)
    start = np.clip(cc - cw, 0, n_freqs)
    stop = np.clip(cc + cw + 1, 0, n_freqs)
    cols = np.arange(n)
    d = np.zeros((n_freqs + 1, n), dtype=int)
    np.add.at(d, (start, cols), 1)
    np.add.at(d, (stop, cols), -1)
    expected = (np.cumsum(d, axis=0)[:-1] > 0) & (cc >= 0)
    assert got.shape == (n_freqs, n)
    np.testing.assert_array_equal(got, expected)


def test_ridge_band_edges_and_empty_columns():
    got = ridge_band(np.array([0, 4, -1, 2]), np.array([2, 2, 5, 0]), n_freqs=5)
    expected = np.array(
        [
            [1, 0, 0, 0],
            [1, 0, 0, 0],
            [1, 1, 0, 1],
            [0, 1, 0, 0],
            [0, 1, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(got, expected)


def test_ridge_band_several_ridges(rng):
    cc = rng.integers(-1, 10, size=(2, 3, 20))
    got = ridge_band(torch.from_numpy(cc), 1, n_freqs=10)
    assert got.shape == (2, 3, 10, 20)
    one = ridge_band(cc[1, 2], np.ones(20, dtype=int), n_freqs=10)
    np.testing.assert_array_equal(got[1, 2], one)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        (([0, 1], 1), {"n_freqs": 4.0}, TypeError, "n_freqs=4.0"),
        (([0, 5], 1), {"n_freqs": 4}, ValueError, r"center_rows must be in \[-1"),
        (([0, -2], 1), {"n_freqs": 4}, ValueError, "center_rows"),
        (([0, 1], -1), {"n_freqs": 4}, ValueError, "half_widths must be >= 0"),
        (([0, 1], [1, 1, 1]), {"n_freqs": 4}, ValueError, "does not broadcast"),
        (([0.5, 1], 1), {"n_freqs": 4}, ValueError, "whole numbers"),
        (([True, False], 1), {"n_freqs": 4}, TypeError, "expected integers"),
        ((3, 1), {"n_freqs": 4}, ValueError, "scalar"),
    ],
)
def test_ridge_band_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ridge_band(*args, **kwargs)
