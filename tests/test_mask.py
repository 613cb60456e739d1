"""Tests of saliency2signal.mask: thresholds, cleaning in physical units, regions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.mask import (
    AttributionMask,
    Region,
    attribution_mask,
    clean_mask,
    label_regions,
    signed_attribution,
    threshold_map,
    validate_mask,
)
from saliency2signal.mask._morphology import remove_small, window_reduce
from saliency2signal.mask._regions import Grid, records
from saliency2signal.mask._threshold import cutoff_and_mask

N = 64
CFG = SSQConfig(nv=8)  # 41 rows, exactly 8 rows per octave from fs/64 to fs/2
F = CFG.n_freqs(N)
CFG_LP = SSQConfig(nv=8, lowpass_row=True)  # 42 rows, row 0 at frequency 0


def blobs_map() -> np.ndarray:
    """Three rectangular blobs of known mass plus negative evidence."""
    a = np.zeros((F, N))
    a[30:34, 10:20] = 2.0  # 40 cells, mass 80
    a[5:8, 40:60] = 1.0  # 60 cells, mass 60
    a[15:17, 25:30] = 3.0  # 10 cells, mass 30
    a[22:24, 50:54] = -4.0  # negative blob, mass 32 for sign='negative'
    return a


# =========================================================================== regions
def test_regions_of_known_blobs():
    res = attribution_mask(blobs_map(), CFG, value=1.0)
    assert isinstance(res, AttributionMask)
    got = [(r.label, r.rows, r.cols, r.area, r.mass) for r in res.regions]
    assert got == [
        (1, (30, 33), (10, 19), 40, 80.0),
        (2, (5, 7), (40, 59), 60, 60.0),
        (3, (15, 16), (25, 29), 10, 30.0),
    ]
    assert_allclose(
        [r.mass_share for r in res.regions], [80 / 170, 60 / 170, 30 / 170], rtol=1e-12
    )
    expected = np.zeros((F, N), dtype=np.int64)
    expected[30:34, 10:20], expected[5:8, 40:60], expected[15:17, 25:30] = 1, 2, 3
    assert_array_equal(res.labels, expected)
    assert_array_equal(res.mask, expected > 0)
    assert_array_equal(res.n_regions, 3)
    assert res.cutoff.shape == ()
    assert_allclose(res.cutoff, 1.0, rtol=0)  # the last cell needed to reach 100 %


@pytest.mark.parametrize(("max_regions", "n_kept"), [(1, 1), (2, 2), (3, 3), (10, 3)])
def test_max_regions_keeps_top_k_renumbered(max_regions, n_kept):
    res = attribution_mask(blobs_map(), CFG, value=1.0, max_regions=max_regions)
    masses = [80.0, 60.0, 30.0][:n_kept]
    assert_allclose([r.mass for r in res.regions], masses, rtol=0)
    assert [r.label for r in res.regions] == list(range(1, n_kept + 1))
    assert_array_equal(np.unique(res.labels), np.arange(n_kept + 1))
    assert int(res.mask.sum()) == sum([40, 60, 10][:n_kept])
    stacked = res.region_masks()
    assert stacked.shape == (n_kept, F, N)
    assert_array_equal(stacked.sum(axis=(-2, -1)), [40, 60, 10][:n_kept])
    assert_array_equal(stacked.any(axis=0), res.mask)


@pytest.mark.parametrize(
    ("min_share", "masses"),
    [
        (0.0, [80.0, 60.0, 30.0]),
        (30 / 170, [80.0, 60.0, 30.0]),
        (0.18, [80.0, 60.0]),
        (0.4, [80.0]),
        (0.5, []),
    ],
)
def test_min_share_drops_regions_below_a_share_of_the_mass(min_share, masses):
    # total positive mass 170: shares 0.471, 0.353, 0.176 (a region at the limit is kept)
    res = attribution_mask(blobs_map(), CFG, value=1.0, min_share=min_share)
    assert_allclose([r.mass for r in res.regions], masses, rtol=0)
    assert [r.label for r in res.regions] == list(range(1, len(masses) + 1))
    assert int(res.mask.sum()) == sum({80.0: 40, 60.0: 60, 30.0: 10}[m] for m in masses)
    # applied before max_regions: the top-K of the survivors, not of all regions
    both = attribution_mask(blobs_map(), CFG, value=1.0, min_share=min_share, max_regions=2)
    assert [r.mass for r in both.regions] == masses[:2]
    lab = label_regions(
        res.mask | (blobs_map() > 0),
        CFG,
        attribution=np.clip(blobs_map(), 0, None),
        min_share=min_share,
    )
    assert [r.mass for r in lab.regions] == masses


def test_equal_masses_ordered_in_raster_order():
    a = np.zeros((F, N))
    a[20:22, 40:42] = 1.0  # same mass, later in raster order ...
    a[20:22, 10:12] = 1.0  # ... than this one (same rows, earlier columns)
    res = attribution_mask(a, CFG, value=1.0)
    assert [r.cols for r in res.regions] == [(10, 11), (40, 41)]


def test_region_physical_units():
    cfg = SSQConfig(nv=8, fs=100.0)
    axis = 4000.0 - 2.0 * np.arange(N)  # descending wavenumbers, step -2
    a = np.zeros((F, N))
    a[8:16, 20:30] = 1.0
    (r,) = attribution_mask(a, cfg, value=1.0, axis=axis).regions
    edges = cfg.freq_edges(N)
    f = cfg.freqs(N)
    assert_allclose(r.band, (edges[8], edges[16]), rtol=1e-12)
    assert_allclose(r.row_freqs, (f[8], f[15]), rtol=1e-12)
    assert_allclose(r.bandwidth, 8 / 8, rtol=1e-9)  # 8 rows, 8 voices = 1 octave
    assert_allclose(r.x_range, (4000.0 - 2 * 29, 4000.0 - 2 * 20), rtol=0)
    assert_allclose(r.duration, 10 * 2.0, rtol=1e-12)
    w = 100.0 / (2 * np.array([edges[16], edges[8]]))  # fs / (2 f), narrow to broad
    assert_allclose(r.width_samples, w, rtol=1e-12)
    assert_allclose(r.width_x, 2.0 * w, rtol=1e-12)


def test_lowpass_row_is_its_own_band():
    fl = CFG_LP.n_freqs(N)
    a = np.zeros((fl, N))
    a[0:3, 5:15] = 1.0  # includes the low-pass row
    a[20:21, 30:40] = 2.0  # one row = 1/8 octave
    res = attribution_mask(a, CFG_LP, value=1.0, min_bandwidth=0.5)
    assert len(res.regions) == 1
    (r,) = res.regions
    assert r.rows == (0, 2)
    assert r.band[0] == 0.0
    assert r.bandwidth == math.inf
    assert r.width_samples[1] == math.inf
    d = r.to_dict()
    assert d["bandwidth"] is None
    assert d["width_samples"][1] is None
    assert_allclose(d["width_samples"][0], 1 / (2 * CFG_LP.freq_edges(N)[3]), rtol=1e-12)


def test_energy_and_json(rng):
    a = blobs_map()
    coef = rng.standard_normal((F, N)) + 1j * rng.standard_normal((F, N))
    res = attribution_mask(a, CFG, value=1.0, coefficients=torch.from_numpy(coef))
    e = np.abs(coef) ** 2
    expected = [e[res.labels == k].sum() for k in (1, 2, 3)]
    assert_allclose([r.energy for r in res.regions], expected, rtol=1e-12)
    assert_allclose(
        [r.energy_share for r in res.regions], np.array(expected) / e.sum(), rtol=1e-12
    )
    text = json.dumps(res.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["shape"] == [F, N]
    assert [d["label"] for d in back["regions"]] == [1, 2, 3]
    assert back["regions"][0]["rows"] == [30, 33]
    plain = attribution_mask(a, CFG, value=1.0).regions[0]
    assert plain.energy is None
    assert plain.energy_share is None


def test_label_regions_of_given_mask():
    m = blobs_map() != 0
    res = label_regions(m, CFG)
    assert [r.area for r in res.regions] == [60, 40, 10, 8]  # mass = area by default
    assert np.isnan(res.cutoff)


# =========================================================================== thresholds
@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.8, 0.95, 1.0])
def test_mass_threshold_is_minimal_set(rng, fraction):
    p = rng.exponential(size=(2, 5))
    p[0, 0] = 0.0  # a zero cell is never needed
    keep = threshold_map(p, value=fraction)
    subsets = (np.arange(2**10)[:, None] >> np.arange(10)) & 1  # all 1024 subsets
    sums = subsets @ p.ravel()
    target = fraction * p.sum()
    feasible = sums >= target * (1 - 1e-12)
    minimal = subsets[feasible].sum(axis=1).min()
    assert int(keep.sum()) == int(minimal)
    assert p[keep].sum() >= target * (1 - 1e-12)
    best_of_size = sums[subsets.sum(axis=1) == minimal].max()
    assert_allclose(p[keep].sum(), best_of_size, rtol=1e-12)
    assert not keep[0, 0]


def test_mass_threshold_ties_are_raster_ordered():
    p = np.ones((2, 4))
    assert_array_equal(threshold_map(p, value=0.5), [[1, 1, 1, 1], [0, 0, 0, 0]])
    assert_array_equal(threshold_map(p, value=0.3), [[1, 1, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("levels", [3, 20, None])  # heavy ties ... no ties
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.8, 1.0])
def test_mass_threshold_equals_a_stable_argsort(rng, levels, fraction):
    # the definition: cells by decreasing value, ties in raster order, until the
    # cumulative mass reaches the fraction (the fast path sorts values only)
    p = rng.exponential(size=(31, 47)) * (rng.random((31, 47)) < 0.6)
    if levels is not None:
        p = np.ceil(p * levels / p.max())
    flat = p.ravel()
    order = np.argsort(-flat, kind="stable")
    k = int(np.searchsorted(np.cumsum(flat[order]), fraction * flat.sum())) + 1
    want = np.zeros(flat.size, dtype=bool)
    want[order[:k]] = True
    cut, got = cutoff_and_mask(p, "mass", fraction)
    assert_array_equal(got.ravel(), want)
    assert cut == flat[order[k - 1]]


@pytest.mark.parametrize("density", [0.05, 0.3])
def test_records_boxes_and_labels_match_find_objects(rng, density):
    # regions are described from the labelled cells alone: boxes as
    # ndimage.find_objects, the renumbered image as relabelling every cell
    from scipy import ndimage
    from skimage import measure

    lab = measure.label(rng.random((F, N)) < density, connectivity=2)
    p = rng.exponential(size=(F, N))
    grid = Grid.make(CFG, N, None, "ssq")
    new, regions = records(lab, p, None, grid, 6)
    boxes = ndimage.find_objects(lab)
    assert lab.max() > 6 and len(regions) == 6
    for k, r in enumerate(regions, start=1):
        old = np.unique(lab[new == k])
        assert old.size == 1  # one old label per new one, renumbered whole
        rows, cols = boxes[old[0] - 1]
        assert r.rows == (rows.start, rows.stop - 1) and r.cols == (cols.start, cols.stop - 1)
        assert r.area == int((lab == old[0]).sum())
        assert r.mass == pytest.approx(p[lab == old[0]].sum(), rel=1e-12)
    assert int((new > 0).sum()) == sum(r.area for r in regions)


def test_window_reduce_equals_scipy_min_max_filters(rng):
    # the boolean closing's building block, at every origin and up to windows that
    # reach a whole length past the edge
    from scipy import ndimage

    for n in range(1, 8):
        for size in range(1, n + 2):
            for before in range(size):
                m = rng.random((n, 4)) < 0.4
                for op, ref in (
                    (np.logical_or, ndimage.maximum_filter1d),
                    (np.logical_and, ndimage.minimum_filter1d),
                ):
                    for axis, a in ((0, m), (1, m.T)):
                        want = ref(a, size, axis=axis, origin=before - size // 2, mode="reflect")
                        assert_array_equal(
                            window_reduce(a, size, before, axis, op),
                            want,
                            err_msg=f"{n=} {size=} {before=}",
                        )


@pytest.mark.parametrize(
    ("threshold", "value", "n_kept"),
    [
        ("quantile", 0.75, 5),  # quantile of 1..20 at 0.75 is 15.25 -> 16..20
        ("quantile", 0.0, 20),
        ("quantile", 1.0, 1),
        ("absolute", 3.0, 18),
        ("absolute", 20.5, 0),
        ("mass", 1.0, 20),
    ],
)
def test_quantile_and_absolute(threshold, value, n_kept):
    p = np.arange(1.0, 21.0).reshape(4, 5)
    keep = threshold_map(p, threshold=threshold, value=value)
    assert int(keep.sum()) == n_kept
    assert_array_equal(keep.ravel(), np.arange(20) >= 20 - n_kept)


def test_otsu_separates_two_levels(rng):
    p = np.where(rng.random((F, N)) < 0.1, 10.0, 1.0) + 0.1 * rng.random((F, N))
    p[:5] = 0.0  # zero cells join the lower class and are never selected
    keep = threshold_map(p, threshold="otsu")
    assert_array_equal(keep, p > 5)
    assert 150 < int(keep.sum()) < 350
    flat = threshold_map(np.full((3, 4), 2.0), threshold="otsu")  # one grey level
    assert flat.all()


@pytest.mark.parametrize(
    ("sign", "rows"),
    [
        ("positive", [(30, 33), (5, 7), (15, 16)]),
        ("negative", [(22, 23)]),
        ("absolute", [(30, 33), (5, 7), (22, 23), (15, 16)]),
    ],
)
def test_sign_handling(sign, rows):
    res = attribution_mask(blobs_map(), CFG, sign=sign, value=1.0)
    assert [r.rows for r in res.regions] == rows
    assert_allclose(sum(r.mass_share for r in res.regions), 1.0, rtol=1e-12)


def test_signed_attribution_values():
    a = np.array([[-2.0, 0.0, 3.0]])
    assert_array_equal(signed_attribution(a), [[0, 0, 3]])
    assert_array_equal(signed_attribution(a, sign="negative"), [[2, 0, 0]])
    assert_array_equal(signed_attribution(torch.tensor(a), sign="absolute"), [[2, 0, 3]])


@pytest.mark.parametrize("sign", ["positive", "negative"])
def test_all_zero_evidence_gives_empty_result(sign):
    a = np.zeros((F, N))
    a[3, 3] = -1.0 if sign == "positive" else 1.0  # only evidence of the other sign
    res = attribution_mask(a, CFG, sign=sign)
    assert not res.mask.any()
    assert res.regions == ()
    assert np.isnan(res.cutoff)
    assert res.region_masks().shape == (0, F, N)
    assert json.loads(json.dumps(res.to_dict(), allow_nan=False))["cutoff"] is None


# =========================================================================== cleaning
@pytest.mark.parametrize(
    ("min_duration", "kept"), [(0.0, 2), (1.0, 2), (1.0 + 1e-6, 1), (2.0, 1), (2.1, 0)]
)
def test_min_duration_in_axis_units(min_duration, kept):
    axis = 1.5 - 0.1 * np.arange(N)  # descending, step 0.1
    m = np.zeros((F, N), dtype=bool)
    m[10:14, 5:15] = True  # 10 columns = 1.0 (boundary: kept)
    m[25:29, 30:50] = True  # 20 columns = 2.0
    out = clean_mask(m, CFG, min_duration=min_duration, axis=axis)
    assert len(label_regions(out, CFG).regions) == kept
    assert int(out.sum()) == [0, 80, 120][kept]


@pytest.mark.parametrize(("min_bandwidth", "kept_rows"), [(0.25, [4, 3]), (0.5, [4]), (0.51, [])])
def test_min_bandwidth_in_octaves(min_bandwidth, kept_rows):
    m = np.zeros((F, N), dtype=bool)
    m[10:14, 5:25] = True  # 4 rows = 0.5 octave
    m[25:28, 30:50] = True  # 3 rows = 0.375 octave
    res = label_regions(clean_mask(m, CFG, min_bandwidth=min_bandwidth), CFG)
    assert [r.rows[1] - r.rows[0] + 1 for r in res.regions] == kept_rows
    assert_allclose([r.bandwidth for r in res.regions], np.array(kept_rows) / 8, rtol=1e-9)


@pytest.mark.parametrize(("min_area", "kept"), [(0, 2), (1, 2), (5, 2), (6, 1), (9, 1), (10, 0)])
def test_min_area_boundary(min_area, kept):
    m = np.zeros((F, N), dtype=bool)
    m[3, 3:8] = True  # exactly 5 cells
    m[20:23, 20:23] = True  # 9 cells
    out = clean_mask(m, CFG, min_area=min_area)
    assert len(label_regions(out, CFG).regions) == kept


@pytest.mark.parametrize(("max_size", "n_cells"), [(0, 11), (4, 11), (5, 6), (6, 0)])
def test_remove_small_helper_on_installed_skimage(max_size, n_cells):
    m = np.zeros((8, 8), dtype=bool)
    m[0, 0:5] = True  # 5 cells
    m[4:6, 4:7] = True  # 6 cells
    out = remove_small(m, max_size)
    assert int(out.sum()) == n_cells  # an object of max_size + 1 cells survives
    holes = np.ones((6, 6), dtype=bool)
    holes[2:4, 2:4] = False  # a 4-cell hole
    filled = remove_small(holes, max_size, holes=True)
    assert int(filled.sum()) == (36 if max_size >= 4 else 32)


@pytest.mark.parametrize(("holes", "name"), [(False, "min_size"), (True, "area_threshold")])
def test_remove_small_helper_translates_old_signature(monkeypatch, holes, name):
    import skimage.morphology

    calls = {}

    def old_api(ar, connectivity=1, *, out=None, **size):  # skimage 0.22-0.25: no max_size
        calls.update(size, connectivity=connectivity)
        return ar

    target = "remove_small_holes" if holes else "remove_small_objects"
    monkeypatch.setattr(skimage.morphology, target, old_api)
    remove_small(np.eye(4, dtype=bool), 7, holes=holes, connectivity=2)
    assert calls == {name: 8, "connectivity": 2}  # "< 8 cells" means "<= 7 cells"


@pytest.mark.parametrize(("fill_holes", "n_cells"), [(False, 32), (3, 32), (4, 36), (True, 36)])
def test_fill_holes(fill_holes, n_cells):
    m = np.zeros((F, N), dtype=bool)
    m[10:16, 10:16] = True
    m[12:14, 12:14] = False  # a 2x2 hole
    out = clean_mask(m, CFG, fill_holes=fill_holes)
    assert int(out.sum()) == n_cells
    assert out[12:14, 12:14].all() == (n_cells == 36)


@pytest.mark.parametrize(
    ("closing", "n_regions", "n_cells"),
    [(None, 2, 12), ((1, 2), 1, 15), (3, 1, 15), ((2, 1), 2, 12)],
)
def test_closing_joins_blobs_one_column_apart(closing, n_regions, n_cells):
    m = np.zeros((F, N), dtype=bool)
    m[20:23, 10:12] = True
    m[20:23, 13:15] = True  # one empty column between
    out = clean_mask(m, CFG, closing=closing)
    assert len(label_regions(out, CFG).regions) == n_regions
    assert int(out.sum()) == n_cells


# =========================================================================== batches
@pytest.mark.parametrize("batch", [(3,), (2, 2)])
@pytest.mark.parametrize("threshold", ["mass", "quantile", "otsu"])
def test_batched_equals_one_by_one(rng, batch, threshold):
    a = rng.standard_normal((*batch, F, N))
    a[..., 10:20, 10:30] += 3.0
    kw = {"threshold": threshold, "min_area": 4, "closing": (1, 2), "max_regions": 3}
    res = attribution_mask(torch.from_numpy(a), CFG, **kw)
    flat = a.reshape(-1, F, N)
    singles = [attribution_mask(m, CFG, **kw) for m in flat]
    assert res.labels.shape == a.shape
    assert_array_equal(res.labels.reshape(-1, F, N), np.stack([s.labels for s in singles]))
    regions = res.regions if len(batch) == 1 else res.regions[0] + res.regions[1]
    assert list(regions) == [s.regions for s in singles]
    assert_allclose(res.cutoff.ravel(), [float(s.cutoff) for s in singles], rtol=0)
    stacked = res.region_masks()
    assert stacked.shape == (*batch, int(res.n_regions.max()), F, N)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert np.shape(d["cutoff"]) == batch


# =========================================================================== real transform
def test_two_tones_from_ssq_cwt():
    cfg = SSQConfig(nv=16)
    n = 512
    t = np.arange(n)
    f1, f2 = 0.05, 0.2
    x = np.cos(2 * np.pi * f1 * t) + np.cos(2 * np.pi * f2 * t)
    res = ssq_cwt(x, cfg)
    a = res.Tx.abs()
    out = attribution_mask(a, cfg, value=0.8, closing=(3, 15), coefficients=res.Tx)
    assert len(out.regions) == 2
    hi, lo = out.regions  # the high tone holds more |Tx| mass
    assert hi.band[0] <= f2 <= hi.band[1]
    assert lo.band[0] <= f1 <= lo.band[1]
    assert hi.bandwidth < 0.5
    assert lo.bandwidth < 0.5
    assert sum(r.mass_share for r in out.regions) >= 0.8
    assert hi.cols[1] - hi.cols[0] > n // 2
    assert lo.cols[1] - lo.cols[0] > n // 2


# =========================================================================== other masks
def test_validate_mask_keeps_type():
    b = validate_mask(np.ones((F, N), dtype=bool), CFG)
    assert b.dtype == bool
    f = validate_mask(torch.full((2, F, N), 0.5, dtype=torch.float32), CFG)
    assert f.dtype == np.float64
    assert f.shape == (2, F, N)
    assert_allclose(f, 0.5, rtol=0)


# =========================================================================== errors
GOOD = np.ones((F, N))


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((np.ones((F + 1, N)),), {}, ValueError, "42 frequency rows"),
        ((np.ones(N),), {}, ValueError, r"expected \(\.\.\., n_freqs, n_times\)"),
        ((np.where(np.eye(F, N) > 0, np.nan, 1.0),), {}, ValueError, "NaN or infinite"),
        ((np.full((F, N), np.inf),), {}, ValueError, "NaN or infinite"),
        ((GOOD + 0j,), {}, TypeError, "complex"),
        ((GOOD,), {"sign": "both"}, ValueError, "sign='both'"),
        ((GOOD,), {"threshold": "top"}, ValueError, "threshold='top'"),
        ((GOOD,), {"value": 0.0}, ValueError, r"value=0.0 must be a fraction in \(0, 1\]"),
        ((GOOD,), {"value": 1.5}, ValueError, r"value=1.5 must be a fraction"),
        ((GOOD,), {"threshold": "quantile", "value": 1.2}, ValueError, "value=1.2"),
        ((GOOD,), {"threshold": "otsu", "value": 0.5}, ValueError, "takes no value"),
        ((GOOD,), {"threshold": "absolute"}, ValueError, "needs a value"),
        ((GOOD,), {"threshold": "absolute", "value": -1.0}, ValueError, "value=-1.0"),
        ((GOOD,), {"min_duration": -1.0}, ValueError, "min_duration=-1.0"),
        ((GOOD,), {"min_bandwidth": -0.5}, ValueError, "min_bandwidth=-0.5"),
        ((GOOD,), {"min_area": -2}, ValueError, "min_area=-2"),
        ((GOOD,), {"min_area": 2.5}, TypeError, "min_area=2.5"),
        ((GOOD,), {"closing": (0, 3)}, ValueError, "closing=0"),
        ((GOOD,), {"closing": "big"}, TypeError, "closing='big'"),
        ((GOOD,), {"fill_holes": -1}, ValueError, "fill_holes=-1"),
        ((GOOD,), {"max_regions": 0}, ValueError, "max_regions=0"),
        ((GOOD,), {"min_share": 1.0}, ValueError, "min_share=1.0"),
        ((GOOD,), {"min_share": -0.1}, ValueError, "min_share=-0.1"),
        ((GOOD,), {"min_share": "0.1"}, TypeError, "min_share='0.1'"),
        ((GOOD,), {"connectivity": 3}, ValueError, "connectivity=3"),
        ((GOOD,), {"plane": "stft"}, ValueError, "plane='stft'"),
        ((GOOD,), {"axis": np.arange(N - 1.0)}, ValueError, "axis has shape"),
        ((GOOD,), {"axis": np.r_[np.arange(N - 1.0), 0.0]}, ValueError, "strictly"),
        ((GOOD,), {"coefficients": GOOD}, TypeError, "expected complex"),
        ((GOOD,), {"coefficients": np.ones((2, F, N)) + 0j}, ValueError, "coefficients"),
    ],
)
def test_attribution_mask_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        attribution_mask(*args, CFG, **kwargs)


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "exc", "match"),
    [
        (validate_mask, (np.ones((F - 1, N)), CFG), {}, ValueError, "40 frequency rows"),
        (validate_mask, (np.full((F, N), np.nan), CFG), {}, ValueError, "NaN"),
        (validate_mask, (np.ones((F, N)) + 0j, CFG), {}, TypeError, "complex"),
        (validate_mask, ("mask", CFG), {}, TypeError, "must be a torch.Tensor"),
        (clean_mask, (GOOD, CFG), {}, TypeError, "boolean mask"),
        (label_regions, (GOOD > 0, CFG), {"attribution": -GOOD}, ValueError, "non-negative"),
        (threshold_map, (-GOOD,), {}, ValueError, "negative values"),
    ],
)
def test_other_errors(func, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        func(*args, **kwargs)


def test_region_is_frozen():
    r = attribution_mask(blobs_map(), CFG, value=1.0).regions[0]
    assert isinstance(r, Region)
    with pytest.raises(AttributeError):
        r.label = 5
    res = attribution_mask(blobs_map(), CFG)
    with pytest.raises(ValueError, match="read-only"):
        res.mask[0, 0] = True
