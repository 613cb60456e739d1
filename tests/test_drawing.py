"""Draw-your-own-mask round trips: export a scalogram PNG, paint it, read the mask back."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image, ImageDraw, PngImagePlugin
from skimage.draw import polygon as raster_polygon

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal._scalogram_png import PNG_TEXT_KEY, area_mean
from saliency2signal.drawing import (
    ScalogramGeometry,
    export_scalogram_png,
    marker_fraction,
    mask_from_png,
)

N_TIMES = 512
MAGENTA = (255, 0, 255)
MARKERS = [MAGENTA, (255, 0, 0), (0, 255, 0), (0, 255, 255), (255, 255, 0), (255, 128, 0)]
# an asymmetric quadrilateral in (row, col) fractions of the grid (row 0 = lowest frequency)
POLYGON = np.array([[0.10, 0.08], [0.35, 0.55], [0.80, 0.90], [0.62, 0.20]])


@pytest.fixture(scope="module")
def chirp():
    """(Tx, config) of a linear chirp 0.02 -> 0.38 cycles/sample: F = 229, N = 512."""
    cfg = SSQConfig(nv=32)
    t = np.arange(N_TIMES, dtype=np.float64)
    x = np.cos(2 * np.pi * (0.02 * t + 0.36 / (2 * N_TIMES) * t**2))
    return ssq_cwt(x, cfg).Tx, cfg


def _grid_polygon(geom: ScalogramGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Polygon vertices in continuous grid coordinates (row, col)."""
    return POLYGON[:, 0] * geom.n_freqs, POLYGON[:, 1] * geom.n_times


def _reference_mask(geom: ScalogramGeometry) -> np.ndarray:
    """The polygon rasterised directly on the grid (cells whose centre is inside)."""
    rows, cols = _grid_polygon(geom)
    mask = np.zeros((geom.n_freqs, geom.n_times), dtype=bool)
    rr, cc = raster_polygon(rows - 0.5, cols - 0.5, shape=mask.shape)
    mask[rr, cc] = True
    return mask


def _paint(png, geom: ScalogramGeometry, *, supersample: int = 1, opacity: float = 1.0):
    """Fill the polygon in the marker colour on the saved PNG (anti-aliased if supersampled)."""
    with Image.open(png) as im:
        image = im.convert("RGB")
        text = im.info.get(PNG_TEXT_KEY)
    size = (image.width * supersample, image.height * supersample)
    layer = Image.new("L", size, 0)
    x, y = geom.to_pixel(*_grid_polygon(geom), size=size)
    ImageDraw.Draw(layer).polygon(
        list(zip(x.tolist(), y.tolist(), strict=True)), fill=round(255 * opacity)
    )
    if supersample > 1:
        layer = layer.resize(image.size, Image.Resampling.LANCZOS)
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text(PNG_TEXT_KEY, text, zip=True)
    painted = Image.composite(Image.new("RGB", image.size, geom.marker), image, layer)
    painted.save(png, pnginfo=info)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _resize(png, factor: float, resample) -> None:
    with Image.open(png) as im:
        image = im.convert("RGB")
    size = (round(image.width * factor), round(image.height * factor))
    image.resize(size, resample).save(png)


@pytest.mark.parametrize("supersample", [1, 4], ids=["hard", "antialiased"])
@pytest.mark.parametrize(
    "edit",
    ["none", "resize-0.6-lanczos", "resize-1.7-bilinear", "jpeg-q85"],
)
def test_polygon_round_trip(tmp_path, chirp, supersample, edit):
    Tx, cfg = chirp
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(Tx, png, config=cfg, scale="log")
    _paint(png, geom, supersample=supersample)
    if edit == "resize-0.6-lanczos":
        _resize(png, 0.6, Image.Resampling.LANCZOS)
    elif edit == "resize-1.7-bilinear":
        _resize(png, 1.7, Image.Resampling.BILINEAR)
    elif edit == "jpeg-q85":
        with Image.open(png) as im:
            im.convert("RGB").save(tmp_path / "painted.jpg", quality=85)
        png = tmp_path / "painted.jpg"
    mask = mask_from_png(png, geometry=tmp_path / "scalogram.json")
    reference = _reference_mask(geom)
    assert mask.shape == Tx.shape
    assert mask.dtype == np.bool_
    assert reference.sum() > 0.2 * reference.size  # the polygon is large, IoU is meaningful
    assert _iou(mask, reference) >= 0.98


def test_stretched_image_needs_opt_in(tmp_path, chirp):
    Tx, cfg = chirp
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(Tx, png, config=cfg)
    _paint(png, geom, supersample=4)
    with Image.open(png) as im:
        im.convert("RGB").resize((geom.width, geom.height // 2), Image.Resampling.BILINEAR).save(
            png
        )
    stretched = f"{geom.width}x{geom.height // 2}"
    exported = f"{geom.width}x{geom.height}"
    with pytest.raises(ValueError, match=rf"{stretched} pixels .* exported at {exported}"):
        mask_from_png(png)
    mask = mask_from_png(png, allow_aspect_change=True)
    assert _iou(mask, _reference_mask(geom)) >= 0.98


def test_whole_cells_are_recovered_exactly(tmp_path, rng):
    png = tmp_path / "cells.png"
    export_scalogram_png(rng.random((30, 40)), png, upscale=(3, 2))
    image = np.array(Image.open(png))
    image[3 * (30 - 20) : 3 * (30 - 7), 2 * 5 : 2 * 33] = MAGENTA  # rows 7..19, cols 5..32
    Image.fromarray(image).save(png)
    expected = np.zeros((30, 40), dtype=bool)
    expected[7:20, 5:33] = True
    assert_array_equal(mask_from_png(png), expected)
    assert_array_equal(mask_from_png(png, soft=True), expected.astype(np.float64))


@pytest.mark.parametrize("opacity", [0.3, 0.5, 0.8])
def test_partial_opacity_is_counted_in_proportion(tmp_path, rng, opacity):
    png = tmp_path / "soft.png"
    geom = export_scalogram_png(rng.random((30, 40)), png, upscale=(3, 2))
    image = np.array(Image.open(png)).astype(np.float64)
    block = image[3 * 10 : 3 * 20, 2 * 10 : 2 * 30]
    image[3 * 10 : 3 * 20, 2 * 10 : 2 * 30] = (1 - opacity) * block + opacity * np.array(MAGENTA)
    Image.fromarray(np.rint(image).astype(np.uint8)).save(png)
    soft = mask_from_png(png, geometry=geom, soft=True)
    rows = slice(30 - 20, 30 - 10)  # image rows 10..19 are grid rows 10..19 from the top
    assert_allclose(soft[rows, 10:30], opacity, atol=0.01)
    soft[rows, 10:30] = 0.0
    assert_array_equal(soft, 0.0)
    assert mask_from_png(png, min_fraction=opacity - 0.05).sum() == 200
    assert mask_from_png(png, min_fraction=opacity + 0.05).sum() == 0


def test_bottom_of_the_image_is_the_lowest_frequency(tmp_path, chirp):
    Tx, cfg = chirp
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(Tx, png, config=cfg)
    row_px, col_px = geom.upscale
    image = np.array(Image.open(png))
    image[-10 * row_px :, : 50 * col_px] = MAGENTA  # bottom-left corner of the picture
    Image.fromarray(image).save(png)
    mask = mask_from_png(png)
    expected = np.zeros(Tx.shape, dtype=bool)
    expected[:10, :50] = True
    assert_array_equal(mask, expected)
    assert np.all(np.asarray(geom.freqs)[mask.any(axis=1)] <= cfg.freqs(N_TIMES)[9])


def test_export_draws_row_zero_at_the_bottom(tmp_path):
    values = np.zeros((5, 7))
    values[0, 0] = 1.0  # lowest frequency, first time
    png = tmp_path / "corner.png"
    export_scalogram_png(values, png, upscale=(2, 3))
    image = np.array(Image.open(png))
    assert image.shape == (10, 21, 3)
    expected = np.zeros((10, 21), dtype=np.uint8)
    expected[-2:, :3] = 255
    assert_array_equal(image[..., 0], expected)
    assert_array_equal(image[..., 1], expected)
    assert_array_equal(image[..., 2], expected)


@pytest.mark.parametrize("marker", MARKERS)
@pytest.mark.parametrize("cmap", ["gray", "gray_r"])
@pytest.mark.parametrize("scale", ["linear", "log"])
def test_palette_never_emits_the_marker(tmp_path, rng, marker, cmap, scale):
    data = rng.standard_cauchy((40, 60)) * 10.0 ** rng.uniform(-6, 6, (40, 60))
    png = tmp_path / "any.png"
    geom = export_scalogram_png(data, png, marker=marker, cmap=cmap, scale=scale)
    pixels = np.asarray(Image.open(png)).reshape(-1, 3).astype(np.float64)
    assert pixels.shape == (geom.width * geom.height, 3)
    assert_array_equal(pixels[:, 0], pixels[:, 1])  # every pixel is a gray
    assert_array_equal(pixels[:, 1], pixels[:, 2])
    assert np.ptp(pixels) == 255  # from black to white
    assert np.linalg.norm(pixels - np.array(marker), axis=1).min() > geom.tolerance
    assert_array_equal(marker_fraction(pixels, marker, tolerance=geom.tolerance), 0.0)
    with pytest.raises(ValueError, match=r"no pixel of colour \(.*\) .* was found"):
        mask_from_png(png)


@pytest.mark.parametrize("marker", MARKERS)
def test_marker_fraction_inverts_gray_blends(rng, marker):
    gray = rng.uniform(0, 255, 1000)
    alpha = rng.uniform(0, 1, 1000)
    pixels = (1 - alpha)[:, None] * gray[:, None] + alpha[:, None] * np.array(marker)
    assert_allclose(marker_fraction(pixels, marker, tolerance=30.0), alpha, atol=1e-9)
    other = np.array([0, 0, 255]) if marker != (0, 255, 255) else np.array([255, 0, 0])
    assert_array_equal(marker_fraction(other[None], marker, tolerance=30.0), 0.0)


def test_area_mean_is_exact_for_fractional_footprints(rng):
    grid = rng.random((7, 9))
    assert_allclose(area_mean(np.kron(grid, np.ones((3, 4))), 7, 9), grid, rtol=1e-12)
    image = rng.random((10, 13))  # 10 pixel rows onto 4 cells: 2.5 pixels each
    out = area_mean(image, 4, 13)
    expected_row1 = (0.5 * image[2] + image[3] + image[4]) / 2.5
    assert_allclose(out[1], expected_row1, rtol=1e-12)
    assert_allclose(out.mean(), image.mean(), rtol=1e-12)


def test_geometry_is_recorded_in_sidecar_and_png(tmp_path, chirp):
    Tx, cfg = chirp
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(Tx, png, config=cfg, upscale=(2, 1))
    assert (geom.width, geom.height, geom.upscale) == (N_TIMES, 2 * Tx.shape[0], (2, 1))
    sidecar = json.loads((tmp_path / "scalogram.json").read_text())
    assert ScalogramGeometry.from_dict(sidecar) == geom
    assert sidecar["config"] == cfg.to_dict()
    assert sidecar["orientation"] == "lowest-frequency-at-bottom"
    with Image.open(png) as im:
        assert ScalogramGeometry.from_json(im.info[PNG_TEXT_KEY]) == geom
    assert ScalogramGeometry.from_json(geom.to_json()) == geom
    assert geom.ssq_config == cfg
    assert_allclose(geom.freqs, cfg.freqs(N_TIMES), rtol=1e-15)
    assert_allclose(geom.times, cfg.times(N_TIMES), rtol=1e-15)
    assert hash(geom) == hash(ScalogramGeometry.from_json(geom.to_json()))


def test_embedded_geometry_is_used_without_sidecar(tmp_path, chirp):
    Tx, cfg = chirp
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(Tx, png, config=cfg)
    (tmp_path / "scalogram.json").unlink()
    _paint(png, geom)  # keeps the PNG text chunk, as many editors do
    assert _iou(mask_from_png(png), _reference_mask(geom)) >= 0.98


def test_missing_geometry_says_how_to_pass_it(tmp_path, rng):
    png = tmp_path / "scalogram.png"
    geom = export_scalogram_png(rng.random((20, 30)), png)
    (tmp_path / "scalogram.json").unlink()
    with Image.open(png) as im:
        image = np.array(im)
    image[:20, :20] = MAGENTA
    Image.fromarray(image).save(png)  # no text chunk any more
    with pytest.raises(ValueError, match=r"no geometry found .* Pass geometry="):
        mask_from_png(png)
    assert mask_from_png(png, geometry=geom).any()


def test_unreadable_files(tmp_path):
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"this is not an image at all")
    with pytest.raises(ValueError, match=r"could not read '.*bogus\.png' as an image"):
        mask_from_png(bogus)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        mask_from_png(tmp_path / "missing.png")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    good = tmp_path / "good.png"
    export_scalogram_png(np.ones((4, 4)), good)
    with pytest.raises(ValueError, match=r"broken\.json' is not a valid geometry record"):
        mask_from_png(good, geometry=broken)


def test_alpha_is_composited_on_white(tmp_path, rng):
    png = tmp_path / "alpha.png"
    geom = export_scalogram_png(rng.random((20, 30)), png, upscale=(2, 2))
    rgba = np.zeros((geom.height, geom.width, 4), dtype=np.uint8)
    rgba[..., :3] = np.array(Image.open(png))
    rgba[..., 3] = 255
    rgba[: 2 * 5, :, 3] = 0  # transparent top 5 rows: white, not marker
    rgba[-2 * 4 :, :, :3] = MAGENTA  # bottom 4 rows painted
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    png.write_bytes(buffer.getvalue())
    expected = np.zeros((20, 30), dtype=bool)
    expected[:4] = True
    assert_array_equal(mask_from_png(png), expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"marker": (128, 120, 128)}, ValueError, r"marker=\(128, 120, 128\) lies"),
        ({"marker": (255, 0)}, ValueError, r"marker=\(255, 0\) must be"),
        ({"marker": "magenta"}, TypeError, r"marker='magenta'"),
        ({"tolerance": 300}, ValueError, r"tolerance=300 must be in"),
        ({"upscale": (0, 2)}, ValueError, r"row_px=0 must be >= 1"),
        ({"upscale": (2.5, 2)}, TypeError, r"row_px=2.5 must be an integer"),
        ({"cmap": "viridis"}, ValueError, r"cmap='viridis' must be one of"),
        ({"scale": "db"}, ValueError, r"scale='db' must be one of"),
        ({"n": 64}, ValueError, r"n=64 is only meaningful together with config="),
        ({"config": SSQConfig(nv=8)}, ValueError, r"24 frequency rows but config gives"),
    ],
)
def test_export_rejects_bad_parameters(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        export_scalogram_png(np.ones((24, 64)), tmp_path / "x.png", **kwargs)


@pytest.mark.parametrize(
    ("data", "path", "error", "match"),
    [
        (np.ones(64), "x.png", ValueError, r"shape \(64,\); expected"),
        (np.ones((2, 8, 64)), "x.png", ValueError, r"shape \(2, 8, 64\); expected"),
        (np.full((8, 64), np.nan), "x.png", ValueError, r"contains 512 NaN/inf"),
        ("image", "x.png", TypeError, r"must be an array or tensor, got str"),
        (np.ones((8, 64)), "x.jpg", ValueError, r"x\.jpg' must end in '\.png'"),
    ],
)
def test_export_rejects_bad_inputs(tmp_path, data, path, error, match):
    with pytest.raises(error, match=match):
        export_scalogram_png(data, tmp_path / path)


def test_export_accepts_batched_singleton_tensor(tmp_path, chirp):
    Tx, cfg = chirp
    geom = export_scalogram_png(Tx[None], tmp_path / "b.png", config=cfg, upscale=1)
    assert (geom.n_freqs, geom.n_times, geom.upscale) == (*Tx.shape, (1, 1))


@pytest.mark.parametrize("min_fraction", [0.0, 1.5])
def test_mask_rejects_bad_min_fraction(tmp_path, min_fraction):
    png = tmp_path / "x.png"
    export_scalogram_png(np.ones((4, 4)), png)
    with pytest.raises(ValueError, match=rf"min_fraction={min_fraction} must be in"):
        mask_from_png(png, min_fraction=min_fraction)
