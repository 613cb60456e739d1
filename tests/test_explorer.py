"""Drawn regions (issue 21): shapes -> cells, the explorer core, mask files, explain(regions=).

The app's numbers must be the package's: each drawn region's component equals
``inverse.components`` for the same label image, each region's probability with it
deleted equals ``explain(..., regions=...)``'s ``p_after``, and a mask file saved and
loaded back gives the same regions to ``explain`` and ``map``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.path import Path as MplPath

from saliency2signal import SSQConfig, explain, ssq_cwt
from saliency2signal.datasets import load_planted
from saliency2signal.drawing import (
    DrawnMask,
    export_scalogram_png,
    load_mask,
    save_mask,
)
from saliency2signal.explanation import map_heatmaps
from saliency2signal.explorer import RegionExplorer, label_runs, rasterize, shape_cells
from saliency2signal.inverse import components
from saliency2signal.io import load_model
from saliency2signal.mask import label_regions

ROOT = Path(__file__).resolve().parents[1]
CFG = SSQConfig(nv=16)


@pytest.fixture(scope="module")
def planted():
    model, meta = load_model(ROOT / "models" / "planted.pt")
    data = load_planted("test")
    return model, meta, data


def _tones(n=512):
    t = np.arange(n)
    slow, fast = np.sin(2 * np.pi * 0.03 * t), 0.5 * np.sin(2 * np.pi * 0.2 * t)
    return t, slow, fast


# ----------------------------------------------------------------------- shapes
def test_box_covers_the_cells_whose_centres_lie_inside():
    rng = np.random.default_rng(0)
    x = np.linspace(4000.0, 400.0, 300)  # a descending wavenumber axis
    freqs = np.concatenate([[0.0], 0.002 * 2 ** (np.arange(90) / 12)])
    for _ in range(20):
        xa, xb = np.sort(rng.uniform(400, 4000, 2))
        fa, fb = np.sort(np.exp(rng.uniform(np.log(0.002), np.log(0.3), 2)))
        got = shape_cells({"kind": "box", "x": [xb, xa], "y": [fb, fa]}, x, freqs)
        want = ((freqs >= fa) & (freqs <= fb) & (freqs > 0))[:, None] & ((x >= xa) & (x <= xb))[
            None, :
        ]
        np.testing.assert_array_equal(got, want)


def test_polygon_and_freehand_use_log_frequency_like_the_axis():
    x = np.arange(200.0)
    freqs = np.concatenate([[0.0], 0.004 * 2 ** (np.arange(60) / 8)])
    xs = [20.0, 150.0, 90.0, 30.0]
    ys = [0.01, 0.02, 0.15, 0.08]
    want_path = MplPath(np.column_stack([xs, np.log(ys)]))
    xx, ff = np.meshgrid(x, freqs[1:])
    inside = want_path.contains_points(np.column_stack([xx.ravel(), np.log(ff.ravel())]))
    want = np.zeros((len(freqs), len(x)), dtype=bool)
    want[1:] = inside.reshape(ff.shape)
    for kind in ("polygon", "freehand"):
        got = shape_cells({"kind": kind, "x": xs, "y": ys}, x, freqs)
        # cells exactly on an edge may go either way; there are none here
        np.testing.assert_array_equal(got, want)
    assert want.sum() > 300 and not want[0].any()


def test_rasterize_applies_add_and_cut_in_order_and_cells_round_trip():
    x = np.arange(64.0)
    freqs = 0.01 * 2 ** (np.arange(20) / 4)
    shapes = [
        {"region": 1, "kind": "box", "x": [5, 40], "y": [0.012, 0.05]},
        {"region": 3, "kind": "box", "x": [30, 60], "y": [0.02, 0.1]},
        {"region": 1, "kind": "box", "op": "cut", "x": [5, 10], "y": [0.01, 1.0]},
        {"region": 3, "kind": "box", "op": "cut", "x": [0, 64], "y": [0.09, 1.0]},
    ]
    lab = rasterize(shapes, x, freqs)
    a = shape_cells(shapes[0], x, freqs)
    b = shape_cells(shapes[1], x, freqs)
    cut1 = shape_cells(shapes[2], x, freqs)
    cut3 = shape_cells(shapes[3], x, freqs)
    want = np.zeros_like(lab)
    want[a & ~cut1] = 1
    want[b & ~cut3] = 3  # drawn later: wins where it overlaps region 1
    np.testing.assert_array_equal(lab, want)
    cells = [{"region": int(k), "kind": "cells", "runs": label_runs(lab == k)} for k in (1, 3)]
    np.testing.assert_array_equal(rasterize(cells, x, freqs), lab)


@pytest.mark.parametrize(
    "shape, message",
    [
        ({"region": 0, "kind": "box", "x": [0, 1], "y": [0.1, 0.2]}, "region=0"),
        ({"region": 1, "kind": "circle", "x": [0, 1], "y": [0.1, 0.2]}, "kind='circle'"),
        ({"region": 1, "kind": "polygon", "x": [0, 1], "y": [0.1, 0.2]}, "at least 3"),
        ({"region": 1, "kind": "box", "op": "erase", "x": [0, 1], "y": [0.1, 1]}, "op='erase'"),
        ({"region": 1, "kind": "cells", "runs": [[99, 0, 1]]}, "outside"),
        ({"region": 1, "kind": "box", "x": [0, np.nan], "y": [0.1, 1]}, "non-finite"),
    ],
)
def test_bad_shapes_are_refused_naming_them(shape, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("[", r"\[")):
        rasterize([shape], np.arange(16.0), 0.01 * 2 ** np.arange(5.0))


# ----------------------------------------------------------------------- explorer core
def test_components_equal_the_masked_inverse_and_complements_sum_to_the_whole():
    t, slow, fast = _tones()
    ex = RegionExplorer(slow + fast, transform_config=CFG)
    box = {"region": 2, "kind": "box", "x": [0, 511], "y": [0.015, 0.06]}
    state = ex.update([box])
    assert state.regions == (2,) and state.p_before is None and state.p_deleted is None
    res = ssq_cwt(torch.as_tensor(slow + fast, dtype=torch.float32)[None], CFG)
    mask = torch.as_tensor(state.labels == 2)[None, None]
    np.testing.assert_array_equal(state.components, components(res, masks=mask)[0].numpy())
    # the component is the slow tone (away from the edges)
    inner = slice(60, -60)
    assert np.corrcoef(state.components[0, inner], slow[inner])[0, 1] > 0.99
    # complementary regions: the two components sum to the inverse of the whole plane
    rest = ex.update(labels=np.where(state.labels == 2, 0, 1).astype(np.uint8))
    whole = ex.update(labels=np.ones_like(state.labels))
    np.testing.assert_allclose(
        state.components[0] + rest.components[0], whole.components[0], atol=1e-5
    )


def test_explorer_probabilities_are_explains_deletion_check(planted):
    model, meta, data = planted
    i = np.flatnonzero(data.y == 1)[0]
    x = data.x[i]
    ex = RegionExplorer(x, model=model, metadata=meta, axis=data.axis)
    # a box over the planted peak's window (cm^-1): its deletion must lower p(peak)
    lo, hi = data.windows[i]
    f = ex.grid.freqs
    shapes = [
        {"region": 1, "kind": "box", "x": [lo, hi], "y": [f[1], f[-1]]},
        {"region": 2, "kind": "box", "x": [1500, 1600], "y": [f[1], f[-1]]},
    ]
    state = ex.update(shapes)
    assert state.regions == (1, 2)
    e = explain(
        model,
        x,
        metadata=meta,
        regions=state.labels,
        axis=data.axis,
        method="saliency",
        n_null=0,
        peaks=False,
    )
    assert [r.region.label for r in e.regions[0]] == [1, 2]
    assert e.regions[0][0].region.x_range[0] >= lo and e.regions[0][0].region.x_range[1] <= hi
    p_after = [r.p_after for r in e.regions[0]]
    np.testing.assert_allclose(state.p_each, p_after, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.p_before, e.probabilities[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.components, e.components[0], atol=1e-6)
    assert state.p_each[0] < state.p_before[ex.target] - 0.2  # the peak mattered
    # deleting both at once is its own forward pass (not a product of the two)
    assert state.p_deleted.shape == state.p_before.shape
    assert abs(state.p_deleted.sum() - 1) < 1e-5


def test_explorer_refuses_a_stack_of_signals():
    with pytest.raises(ValueError, match="one signal"):
        RegionExplorer(np.zeros((2, 256)), transform_config=CFG)


# ----------------------------------------------------------------------- mask files
def test_mask_file_round_trip_and_explain_accepts_it(planted, tmp_path):
    model, meta, data = planted
    x = data.x[:3]
    ex = RegionExplorer(x[0], model=model, metadata=meta)
    f = ex.grid.freqs
    shapes = [{"region": 1, "kind": "box", "op": "add", "x": [100, 180], "y": [f[3], f[-1]]}]
    labels = ex.labels(shapes)
    path = tmp_path / "regions.npz"
    saved = save_mask(path, labels, config=ex.transform_config, shapes=shapes, signal=0)
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["format"] == "saliency2signal-mask/1"
    assert record["geometry"]["n_freqs"] == labels.shape[0]
    back = load_mask(path)
    np.testing.assert_array_equal(back.labels, labels)
    assert back.shapes == saved.shapes and back.signal == 0
    assert back.config == ex.transform_config
    # the same geometry record type a painted PNG's sidecar holds
    from saliency2signal.drawing import ScalogramGeometry

    assert ScalogramGeometry.from_dict(record["geometry"]) == back.geometry
    # never over an existing file without overwrite=True
    with pytest.raises(ValueError, match="exists"):
        save_mask(path, labels, config=ex.transform_config)
    e = explain(model, x, metadata=meta, regions=back, method="saliency", n_null=0, peaks=False)
    for i in range(3):
        assert [r.region.cols for r in e.regions[i]] == [
            (int(np.flatnonzero(labels.any(0))[0]), int(np.flatnonzero(labels.any(0))[-1]))
        ]
    np.testing.assert_array_equal(e.labels[1], labels)
    # map: the heatmaps give the shares, the drawn regions stay as drawn
    m = map_heatmaps(
        np.abs(e.attribution), x, metadata=meta, model=model, regions=back, n_null=0, peaks=False
    )
    np.testing.assert_array_equal(m.labels[2], labels)
    np.testing.assert_allclose(m.components, e.components, atol=1e-6)


def test_mask_on_another_transform_is_refused(planted, tmp_path):
    model, meta, data = planted
    n = data.x.shape[-1]
    other = SSQConfig(nv=8)
    labels = np.zeros((other.n_freqs(n), n), np.uint8)
    labels[5:9, 10:40] = 1
    save_mask(tmp_path / "m.npz", labels, config=other)
    with pytest.raises(ValueError, match="another transform"):
        explain(model, data.x[:1], metadata=meta, regions=load_mask(tmp_path / "m.npz"))
    with pytest.raises(ValueError, match="expected"):
        explain(model, data.x[:1], metadata=meta, regions=labels)  # wrong grid shape


def test_painted_png_loads_as_regions(tmp_path):
    t, slow, fast = _tones(256)
    res = ssq_cwt(torch.as_tensor(slow + fast)[None], CFG)
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(res.Tx[0], png, config=CFG, upscale=(2, 2))
    from PIL import Image

    img = np.array(Image.open(png))
    img[-2 * 30 : -2 * 20, 2 * 50 : 2 * 90] = geom.marker  # rows 20..29, cols 50..89
    img[-2 * 60 : -2 * 55, 2 * 150 : 2 * 200] = geom.marker
    Image.fromarray(img).save(png)
    m = load_mask(png)
    assert isinstance(m, DrawnMask) and m.n_regions == 2 and m.config == CFG
    assert (m.labels[20:30, 50:90] > 0).all() and (m.labels > 0).sum() == 10 * 40 + 5 * 50


@pytest.mark.parametrize(
    "content, message",
    [
        ({"format": "other"}, "not a mask record"),
        ({"format": "saliency2signal-mask/1"}, "not a mask record"),
    ],
)
def test_bad_mask_records_are_refused(tmp_path, content, message):
    np.savez(tmp_path / "m.npz", labels=np.zeros((3, 4), np.uint8))
    (tmp_path / "m.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        load_mask(tmp_path / "m.npz")


def test_mask_npz_with_a_pickle_or_wrong_dtype_is_refused(tmp_path):
    good = save_mask(tmp_path / "a.npz", np.ones((3, 4), np.uint8))
    np.savez(tmp_path / "a.npz", labels=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a mask file"):
        load_mask(tmp_path / "a.npz")
    np.savez(tmp_path / "a.npz", labels=np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        load_mask(tmp_path / "a.npz")
    assert good.n_regions == 1


def test_label_regions_keeps_a_label_image_in_its_order():
    lab = np.zeros((CFG.n_freqs(128), 128), np.uint8)
    lab[10:20, 0:10] = 4  # small, drawn first
    lab[30:60, 40:120] = 7  # large
    lab[30:32, 0:3] = 4  # label 4 is not connected: still one region
    am = label_regions(lab, CFG)
    assert [(r.label, r.area) for r in am.regions] == [(1, 106), (2, 2400)]
    np.testing.assert_array_equal(am.labels, np.select([lab == 4, lab == 7], [1, 2], 0))


# ----------------------------------------------------------------------- CLI
def test_cli_explain_regions_and_bad_mask(planted, tmp_path):
    model, meta, data = planted
    x = data.x[:2]
    np.save(tmp_path / "x.npy", x)
    ex = RegionExplorer(x[0], model=model, metadata=meta)
    f = ex.grid.freqs
    labels = ex.labels([{"region": 1, "kind": "box", "x": [150, 250], "y": [f[2], f[-1]]}])
    save_mask(tmp_path / "r.npz", labels, config=ex.transform_config)
    cli = [sys.executable, "-m", "saliency2signal.cli", "explain", str(ROOT / "models/planted.pt")]
    common = [str(tmp_path / "x.npy"), "--method", "saliency", "--n-null", "0", "--no-peaks"]
    ok = subprocess.run(
        [*cli, *common, "--regions", str(tmp_path / "r.npz"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["settings"]["regions"]["n_regions"] == 1
    with np.load(tmp_path / "out" / "components.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["labels"][0] > 0, labels > 0)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    (tmp_path / "bad.json").write_text("{}")
    bad = subprocess.run(
        [*cli, *common, "--regions", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o2")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert "--regions" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr and not (tmp_path / "o2").exists()


def test_unchanged_regions_are_reused_with_identical_results(planted):
    model, meta, data = planted
    x = data.x[0]
    ex = RegionExplorer(x, model=model, metadata=meta, axis=data.axis)
    f = ex.grid.freqs
    a = {"region": 1, "kind": "box", "x": [900, 1100], "y": [f[1], f[-1]]}
    b = {"region": 2, "kind": "box", "x": [500, 600], "y": [f[20], f[-1]]}
    b2 = {"region": 2, "kind": "box", "x": [520, 650], "y": [f[20], f[-1]]}
    ex.update([a, b])
    calls = []
    original = ex._probabilities
    ex._probabilities = lambda s: calls.append(s.shape[0]) or original(s)
    edited = ex.update([a, b2])
    assert calls == [2]  # region 2 alone and all deleted, in one call: region 1 was kept
    fresh = RegionExplorer(x, model=model, metadata=meta, axis=data.axis).update([a, b2])
    for name in ("components", "contrasts", "p_each", "p_deleted", "labels"):
        np.testing.assert_allclose(getattr(edited, name), getattr(fresh, name), atol=1e-6)


def test_snap_to_ridge_keeps_the_strongest_ridge_inside_the_shape():
    t = np.arange(1024)
    chirp = np.sin(2 * np.pi * (0.02 * t + 0.00005 * t**2))  # 0.02 -> 0.12 cycles/sample
    tone = np.sin(2 * np.pi * 0.3 * t)  # outside the box: never followed
    noise = 0.3 * np.random.default_rng(0).standard_normal(t.size)
    ex = RegionExplorer(chirp + tone + noise, transform_config=SSQConfig(nv=32))
    box = {"region": 3, "kind": "box", "op": "add", "x": [100, 900], "y": [0.01, 0.2]}
    snapped = ex.snap_to_ridge(box)
    assert snapped["kind"] == "cells" and snapped["region"] == 3 and snapped["drawn"]["x"]
    band = ex.labels([snapped]) == 3
    drawn = ex.labels([box]) == 3
    assert band.sum() < 0.15 * drawn.sum() and not (band & ~drawn).any()
    # the band follows the chirp's instantaneous frequency through the noise
    cols = np.flatnonzero(band.any(0))
    rows = np.array([np.flatnonzero(band[:, c]).mean() for c in cols])
    f_band = np.interp(rows, np.arange(len(ex.grid.freqs)), ex.grid.freqs)
    f_true = 0.02 + 0.0001 * cols
    inner = (cols > 150) & (cols < 850)
    assert np.median(np.abs(np.log2(f_band[inner] / f_true[inner]))) < 0.1  # octaves
    comp = ex.update([snapped]).components[0]
    assert np.corrcoef(comp[150:850], chirp[150:850])[0, 1] > 0.95
    with pytest.raises(ValueError, match="no cell"):
        ex.snap_to_ridge({"region": 1, "kind": "box", "x": [2000, 3000], "y": [0.1, 0.2]})


def test_the_cwt_plane_gives_the_cwt_inverse_and_its_masks_stay_out_of_explain(planted, tmp_path):
    t, slow, fast = _tones()
    ex = RegionExplorer(slow + fast, transform_config=CFG, plane="cwt")
    np.testing.assert_allclose(ex.grid.freqs, CFG.cwt_freqs(512))
    box = {"region": 1, "kind": "box", "x": [0, 511], "y": [0.015, 0.06]}
    state = ex.update([box])
    res = ssq_cwt(torch.as_tensor(slow + fast, dtype=torch.float32)[None], CFG)
    want = components(res, masks=torch.as_tensor(state.labels == 1)[None, None], kind="cwt")
    np.testing.assert_array_equal(state.components, want[0].numpy())
    np.testing.assert_allclose(ex.magnitude, np.abs(res.Wx[0].numpy()))
    inner = slice(60, -60)
    assert np.corrcoef(state.components[0, inner], slow[inner])[0, 1] > 0.99
    saved = save_mask(tmp_path / "cwt.npz", state.labels, config=CFG, plane="cwt")
    back = load_mask(tmp_path / "cwt.npz")
    assert back.plane == "cwt" and back.geometry.freqs == saved.geometry.freqs
    np.testing.assert_allclose(back.geometry.freqs, CFG.cwt_freqs(512))
    model, meta, data = planted
    cfg = meta.transform
    n = data.x.shape[-1]
    lab = np.zeros((cfg.n_freqs(n), n), np.uint8)
    lab[10:20, 50:90] = 1
    save_mask(tmp_path / "c2.npz", lab, config=cfg, plane="cwt")
    with pytest.raises(ValueError, match="'cwt' plane"):
        explain(model, data.x[:1], metadata=meta, regions=load_mask(tmp_path / "c2.npz"))
    with pytest.raises(ValueError, match="plane"):
        RegionExplorer(slow, transform_config=CFG, plane="stft")


def test_components_first_then_the_model_response_from_the_kept_components(planted):
    model, meta, data = planted
    ex = RegionExplorer(data.x[0], model=model, metadata=meta, axis=data.axis)
    f = ex.grid.freqs
    box = {"region": 1, "kind": "box", "x": [900, 1100], "y": [f[1], f[-1]]}
    calls = []
    original = ex._probabilities
    ex._probabilities = lambda s: calls.append(s.shape[0]) or original(s)
    quick = ex.update([box], probabilities=False)
    assert calls == [] and quick.p_each is None and quick.p_deleted is None
    full = ex.update([box])
    assert calls == [1]  # the region's deletion; its component was kept
    np.testing.assert_array_equal(quick.components, full.components)
    fresh = RegionExplorer(data.x[0], model=model, metadata=meta, axis=data.axis).update([box])
    np.testing.assert_allclose(full.p_each, fresh.p_each, atol=1e-7)
