"""Each imaging step against the library it imitates; gradients; serialisation (issue 18).

References: ``skimage.transform.resize``/``resize_local_mean``, ``PIL.Image.resize`` on
'F' images, ``torch.nn.functional.interpolate``, ``matplotlib.colormaps``, an 8-bit PNG
written and read back with Pillow, and NumPy formulas.
"""

from __future__ import annotations

import json
import sys

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from skimage.transform import resize, resize_local_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

from saliency2signal.pipeline import (
    STEP_KINDS,
    ChannelMeanStd,
    Channels,
    Colormap,
    Crop,
    Decibel,
    FixedRange,
    FlipRows,
    Log,
    Log1p,
    Log10,
    MeanStd,
    MinMax,
    Pad,
    Power,
    QuantizeUint8,
    Resize,
    Standardize,
    Step,
    apply_steps,
    steps_from_dicts,
    steps_to_dicts,
)

# (input shape, output shape): shrink, enlarge, both, a 1-pixel axis, one axis kept
SHAPES = [
    ((37, 53), (16, 20)),
    ((10, 12), (23, 31)),
    ((30, 90), (45, 30)),
    ((5, 1), (13, 4)),
    ((64, 200), (64, 50)),
]
ORDER = {"nearest": 0, "bilinear": 1, "bicubic": 3}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def image(rng, shape, dtype=np.float64):
    return rng.random(shape).astype(dtype)


def run(v: np.ndarray, *steps) -> np.ndarray:
    """``apply_steps`` of a 2-D map (or a stack), without the channel axis if it is 1."""
    out = apply_steps(torch.from_numpy(v), steps).numpy()
    return out[..., 0, :, :] if out.shape[-3] == 1 else out


# ------------------------------------------------------------------ resize: scikit-image
@pytest.mark.parametrize(("shape", "size"), SHAPES)
@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge", "wrap"])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("anti_aliasing", [False, True])
def test_resize_equals_skimage(rng, shape, size, mode, method, anti_aliasing):
    img = image(rng, shape)
    ref = resize(img, size, order=ORDER[method], mode=mode, anti_aliasing=anti_aliasing)
    step = Resize(
        size=size, method=method, antialias="skimage" if anti_aliasing else "none", mode=mode
    )
    # the same linear map: agreement to rounding (measured <= 2e-15)
    np.testing.assert_allclose(run(img, step), ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("shape", "size"), [((4, 700), (4, 90)), ((600, 3), (80, 5))])
@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge", "wrap"])
def test_resize_skimage_on_a_long_axis(rng, shape, size, mode):
    # past 512 samples the spline pre-filter is solved (banded / FFT), not formed
    img = image(rng, shape)
    ref = resize(img, size, order=3, mode=mode, anti_aliasing=True)
    out = run(img, Resize(size=size, method="bicubic", antialias="skimage", mode=mode))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("shape", "size"), SHAPES)
@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
def test_resize_skimage_default_mode_is_reflect(rng, shape, size, method):
    img = image(rng, shape)
    ref = resize(img, size, order=ORDER[method], anti_aliasing=True)
    out = run(img, Resize(size=size, method=method, antialias="skimage"))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


def test_resize_skimage_bicubic_clips_to_the_input_range(rng):
    img = np.zeros((12, 12))
    img[4:8, 4:8] = 1.0  # a step: the cubic spline overshoots, skimage clips
    ref = resize(img, (30, 30), order=3)
    out = run(img, Resize(size=(30, 30), method="bicubic", antialias="skimage"))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)
    assert out.max() == 1.0 and out.min() == 0.0


@pytest.mark.parametrize("mode", ["symmetric", "reflect"])
def test_resize_skimage_same_size_is_the_input(rng, mode):
    # scipy.ndimage.zoom returns its input unchanged when no axis changes, while its
    # 'symmetric' spline pre-filter alone is not exact on a short axis
    img = image(rng, (7, 9))
    ref = resize(img, (7, 9), order=3, mode=mode)
    out = run(img, Resize(size=(7, 9), method="bicubic", antialias="skimage", mode=mode))
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize(("shape", "size"), SHAPES)
def test_resize_area_skimage_equals_resize_local_mean(rng, shape, size):
    img = image(rng, shape)
    out = run(img, Resize(size=size, method="area", antialias="skimage"))
    np.testing.assert_allclose(out, resize_local_mean(img, size), rtol=1e-12, atol=1e-13)


def test_resize_skimage_float32(rng):
    img = image(rng, (37, 53), np.float32)
    ref = resize(img, (16, 20), order=1, anti_aliasing=True)
    out = run(img, Resize(size=(16, 20), antialias="skimage"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ resize: Pillow
PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
}


@pytest.mark.parametrize(
    ("shape", "size"), [*SHAPES, ((7, 9), (7, 9)), ((256, 1000), (224, 224)), ((9, 21), (27, 7))]
)
@pytest.mark.parametrize("method", list(PIL_FILTERS))
def test_resize_equals_pillow(rng, shape, size, method):
    img = image(rng, shape, np.float32)  # an 'F' image holds float32
    ref = np.asarray(Image.fromarray(img).resize(size[::-1], PIL_FILTERS[method]))
    out = run(img.astype(np.float64), Resize(size=size, method=method, antialias="pil"))
    # Pillow keeps its intermediate (horizontal) pass in float32: measured <= 7e-8
    np.testing.assert_allclose(out, ref, rtol=0, atol=3e-7)
    if method == "nearest":
        np.testing.assert_array_equal(out, ref)


def test_resize_pillow_in_float32(rng):
    img = image(rng, (256, 1000), np.float32)
    ref = np.asarray(Image.fromarray(img).resize((224, 224), Image.Resampling.BICUBIC))
    out = run(img, Resize(size=(224, 224), method="bicubic", antialias="pil"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-6)


# ------------------------------------------------------------------ resize: torch
@pytest.mark.parametrize(("shape", "size"), SHAPES)
@pytest.mark.parametrize(
    ("method", "antialias"),
    [
        ("bilinear", "torch"),
        ("bicubic", "torch"),
        ("bilinear", "none"),
        ("bicubic", "none"),
        ("nearest", "none"),
        ("area", "none"),
    ],
)
def test_resize_equals_torch_interpolate(rng, shape, size, method, antialias):
    x = torch.from_numpy(image(rng, (2, 3, *shape)))
    extra = {"align_corners": False} if method in ("bilinear", "bicubic") else {}
    ref = torch.nn.functional.interpolate(
        x.reshape(6, 1, *shape), size=size, mode=method, antialias=antialias == "torch", **extra
    ).reshape(2, 3, *size)
    out = apply_steps(x, [Resize(size=size, method=method, antialias=antialias)])
    torch.testing.assert_close(out[:, :, 0], ref, rtol=0, atol=0)


@pytest.mark.parametrize(("shape", "size"), SHAPES)
@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
def test_torch_antialias_is_pillows_algorithm(rng, shape, size, method):
    # two implementations (torch's kernel, our matrices of Pillow's weights) agree
    img = image(rng, shape)
    torch_out = run(img, Resize(size=size, method=method, antialias="torch"))
    pil_out = run(img, Resize(size=size, method=method, antialias="pil"))
    np.testing.assert_allclose(torch_out, pil_out, rtol=1e-12, atol=1e-13)


def test_resize_antialias_changes_a_shrink(rng):
    img = image(rng, (64, 64))
    plain = run(img, Resize(size=(8, 8)))
    assert np.abs(run(img, Resize(size=(8, 8), antialias="torch")) - plain).max() > 0.05
    assert np.abs(run(img, Resize(size=(8, 8), antialias="skimage")) - plain).max() > 0.05


# ------------------------------------------------------------------ colormap
COLORMAPS = ["viridis", "magma", "jet", "gray", "plasma", "cividis", "tab10", "Set1"]


def grey_values(rng) -> np.ndarray:
    edges = [0.0, 1.0, -0.2, 1.3, 1 - 1e-12, 1 / 256, 255 / 256, 0.1, 0.7]
    return np.concatenate([rng.random(3000), np.linspace(0, 1, 1025), edges])


@pytest.mark.parametrize("name", COLORMAPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_colormap_equals_matplotlib(rng, name, dtype):
    v = grey_values(rng).astype(dtype).reshape(1, -1)
    ref = matplotlib.colormaps[name](v)[..., :3].transpose(2, 0, 1)  # (3, 1, n)
    out = run(v, Colormap(name=name))
    # the same table entry: exact in float64; float32 rounds the table (<= 3e-8)
    np.testing.assert_allclose(out, ref, rtol=0, atol=0 if dtype == np.float64 else 1e-7)


@pytest.mark.parametrize("name", ["viridis", "gray"])
def test_colormap_interpolated_is_within_half_a_step(rng, name):
    v = grey_values(rng).reshape(1, -1)
    ref = matplotlib.colormaps[name](v)[..., :3].transpose(2, 0, 1)
    out = run(v, Colormap(name=name, interpolate=True))
    steps = np.abs(np.diff(matplotlib.colormaps[name](np.arange(256))[:, :3], axis=0)).max()
    assert 0 < np.abs(out - ref).max() <= steps / 2 + 1e-12


@pytest.mark.parametrize("name", ["viridis", "jet", "tab10"])
def test_colormap_gradient_is_the_interpolated_one(rng, name):
    v = torch.from_numpy(rng.uniform(0.02, 0.98, (1, 4, 6)))
    g = torch.from_numpy(rng.standard_normal((3, 4, 6)))
    grads = []
    for interpolate in (False, True):
        x = v.clone().requires_grad_(True)
        (apply_steps(x, [Colormap(name=name, interpolate=interpolate)]) * g).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    assert grads[0].abs().max() > 0


def test_colormap_with_floor_quantization_is_matplotlib_bytes_in_a_png(rng, tmp_path):
    v = grey_values(rng)[:4000].clip(0, 1).reshape(40, 100)
    path = tmp_path / "viridis.png"
    Image.fromarray(matplotlib.colormaps["viridis"](v, bytes=True)[..., :3]).save(path)
    with Image.open(path) as im:
        ref = np.asarray(im).transpose(2, 0, 1) / 255
    out = run(v, Colormap(name="viridis"), QuantizeUint8(rounding="floor"))
    np.testing.assert_array_equal(out, ref)


# ------------------------------------------------------------------ quantize
def png_round_trip(v8: np.ndarray, path) -> np.ndarray:
    Image.fromarray(v8).save(path)
    with Image.open(path) as im:
        return np.asarray(im) / 255


@pytest.mark.parametrize("rounding", ["round", "floor"])
def test_quantize_equals_a_png_round_trip(rng, tmp_path, rounding):
    ties = (np.arange(255) + 0.5) / 255  # halfway between two levels
    v = np.concatenate([rng.random(4096 - 255 - 2), ties, [0.0, 1.0]]).reshape(64, 64)
    v8 = ((v * 255).round() if rounding == "round" else v * 255).astype(np.uint8)
    ref = png_round_trip(v8, tmp_path / "q.png")
    np.testing.assert_array_equal(run(v, QuantizeUint8(rounding=rounding)), ref)


def test_quantize_clips_and_passes_gradients_straight_through(rng):
    v = torch.tensor([[-0.3, 0.2, 1.4]], dtype=torch.float64, requires_grad=True)
    out = apply_steps(v, [QuantizeUint8()])
    np.testing.assert_array_equal(out.detach().numpy().ravel(), [0.0, 51 / 255, 1.0])
    g = torch.tensor([[[2.0, -1.0, 0.5]]], dtype=torch.float64)
    (out * g).sum().backward()
    torch.testing.assert_close(v.grad, g[0], rtol=0, atol=0)


# ------------------------------------------------------------------ values, normalisation
@pytest.mark.parametrize(
    ("step", "reference"),
    [
        (Power(), lambda v: v**2),
        (Power(exponent=0.5), np.sqrt),
        (Log1p(gain=7.0), lambda v: np.log1p(7.0 * v)),
        (Log(eps=1e-3), lambda v: np.log(v + 1e-3)),
        (Log10(eps=1e-3), lambda v: np.log10(v + 1e-3)),
        (MinMax(), lambda v: (v - v.min()) / (v.max() - v.min())),
        (Standardize(), lambda v: (v - v.mean()) / v.std()),
        (Standardize(ddof=1), lambda v: (v - v.mean()) / v.std(ddof=1)),
        (FixedRange(lo=0.2, hi=0.6), lambda v: (v - 0.2) / 0.4),
        (FixedRange(lo=0.2, hi=0.6, clip=True), lambda v: np.clip((v - 0.2) / 0.4, 0, 1)),
        (MeanStd(mean=0.3, std=2.0), lambda v: (v - 0.3) / 2.0),
    ],
    ids=lambda p: p.kind if isinstance(p, Step) else "",
)
def test_value_steps_equal_numpy(rng, step, reference):
    v = image(rng, (2, 6, 9))
    ref = np.stack([reference(m) for m in v])  # each image on its own
    np.testing.assert_allclose(run(v, step), ref, rtol=1e-13, atol=1e-14)


def librosa_db(s, *, multiplier, ref, amin, top_db):
    """librosa's ``power_to_db`` (``ref`` a number or ``np.max``), multiplier 10 or 20."""
    ref_value = ref(s) if callable(ref) else ref
    db = multiplier * np.log10(np.maximum(amin, s)) - multiplier * np.log10(
        np.maximum(amin, ref_value)
    )
    return db if top_db is None else np.maximum(db, db.max() - top_db)


@pytest.mark.parametrize("multiplier", [10.0, 20.0])
@pytest.mark.parametrize("reference", ["max", 1.0, 0.25])
@pytest.mark.parametrize("top_db", [None, 30.0])
def test_decibels_equal_the_formula(rng, multiplier, reference, top_db):
    v = 10.0 ** rng.uniform(-4, 1, (2, 8, 10))
    v[1, 0, 0] = 0.0  # floored at amin
    step = Decibel(multiplier=multiplier, reference=reference, amin=1e-6, top_db=top_db)
    ref = np.stack(
        [
            librosa_db(
                m,
                multiplier=multiplier,
                ref=np.max if reference == "max" else reference,
                amin=1e-6,
                top_db=top_db,
            )
            for m in v
        ]
    )
    np.testing.assert_allclose(run(v, step), ref, rtol=1e-12, atol=1e-12)


def test_decibels_known_values():
    v = np.array([[100.0, 10.0, 1.0, 1e-9]])
    out = run(v, Decibel(reference=1.0, top_db=60.0))
    np.testing.assert_allclose(out, [[20.0, 10.0, 0.0, -40.0]], atol=1e-12)
    out = run(v, Decibel(multiplier=20.0))  # re max
    np.testing.assert_allclose(out, [[0.0, -20.0, -40.0, -220.0]], atol=1e-12)


def test_flat_images_normalise_to_zero():
    v = np.full((1, 3, 4), 2.5)
    np.testing.assert_array_equal(run(v, MinMax()), np.zeros((1, 3, 4)))
    np.testing.assert_array_equal(run(v, Standardize()), np.zeros((1, 3, 4)))


IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def test_channel_mean_std_equals_numpy(rng):
    v = image(rng, (2, 10, 12))
    out = run(v, Colormap(name="magma"), ChannelMeanStd(**IMAGENET))
    rgb = matplotlib.colormaps["magma"](v)[..., :3].transpose(0, 3, 1, 2)  # (2, 3, H, W)
    mean, std = (np.array(IMAGENET[k])[:, None, None] for k in ("mean", "std"))
    np.testing.assert_allclose(out, (rgb - mean) / std, rtol=1e-13, atol=1e-14)
    grey = run(v, Channels(n_channels=3), ChannelMeanStd(**IMAGENET))
    np.testing.assert_allclose(grey, (v[:, None] - mean) / std, rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------ geometry
def test_flip_crop_pad_equal_numpy(rng):
    v = image(rng, (2, 6, 9))
    np.testing.assert_array_equal(run(v, FlipRows()), v[:, ::-1])
    np.testing.assert_array_equal(run(v, Crop(top=1, left=2, height=4, width=5)), v[:, 1:5, 2:7])
    pads = ((0, 0), (1, 2), (3, 0))
    for mode in ("constant", "edge", "reflect"):
        out = run(v, Pad(top=1, bottom=2, left=3, mode=mode, value=-1.0))
        extra = {"constant_values": -1.0} if mode == "constant" else {}
        np.testing.assert_array_equal(out, np.pad(v, pads, mode=mode, **extra))


def test_flip_rows_is_ssqueezepy_row_order(rng):
    v = image(rng, (5, 7))  # row 0 the lowest frequency; ssqueezepy's row 0 the highest
    np.testing.assert_array_equal(run(v, FlipRows())[0], v[-1])


def test_channels_repeat_grey():
    v = np.arange(12.0).reshape(3, 4)
    out = run(v, Channels(n_channels=3))
    assert out.shape == (3, 3, 4)
    np.testing.assert_array_equal(out, np.stack([v] * 3))


# ------------------------------------------------------------------ the whole chain
def full_pipeline() -> tuple[Step, ...]:
    """Every kind once, in an order that keeps every value finite."""
    return (
        Power(),
        Log(eps=1.0),  # log(v**2 + 1) >= 0
        Log10(eps=1.0),
        Log1p(gain=5.0),
        Decibel(multiplier=20.0, top_db=80.0),
        Standardize(ddof=1),
        MeanStd(mean=0.1, std=2.0),
        FixedRange(lo=-3.0, hi=3.0, clip=True),
        MinMax(),
        Resize(size=(40, 48), method="bicubic", antialias="skimage", mode="symmetric"),
        Crop(top=2, left=4, height=32, width=40),
        Pad(top=1, bottom=1, mode="edge"),
        FlipRows(),
        Channels(n_channels=1),  # a no-op, so that one chain holds every kind
        Colormap(name="twilight_shifted"),
        QuantizeUint8(rounding="floor"),
        ChannelMeanStd(**IMAGENET),
    )


def test_every_kind_serialises_and_round_trips():
    steps = full_pipeline()
    assert {s.kind for s in steps} == set(STEP_KINDS)
    records = json.loads(json.dumps(steps_to_dicts(steps)))
    assert steps_from_dicts(records) == steps
    assert all(type(s).from_dict(s.to_dict()) == s for s in steps)
    assert len(set(steps)) == len(steps)  # hashable, and equal only to themselves


def test_steps_read_from_toml():
    text = """
[[steps]]
kind = "db"
multiplier = 20.0
top_db = 80.0

[[steps]]
kind = "minmax"

[[steps]]
kind = "resize"
size = [224, 224]
method = "bicubic"
antialias = "pil"

[[steps]]
kind = "colormap"
name = "jet"

[[steps]]
kind = "channel_mean_std"
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
"""
    steps = steps_from_dicts(tomllib.loads(text)["steps"])
    assert steps == (
        Decibel(multiplier=20.0, top_db=80.0),
        MinMax(),
        Resize(size=(224, 224), method="bicubic", antialias="pil"),
        Colormap(name="jet"),
        ChannelMeanStd(**IMAGENET),
    )
    assert steps_to_dicts(steps)[0] == {
        "kind": "db",
        "multiplier": 20.0,
        "reference": "max",
        "amin": 1e-10,
        "top_db": 80.0,
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_equals_one_by_one(rng, device, dtype):
    steps = full_pipeline()
    x = torch.from_numpy(rng.uniform(0.01, 1.0, (2, 3, 30, 60))).to(device, dtype)
    out = apply_steps(x, steps)
    assert out.shape == (2, 3, 3, 34, 40) and out.dtype == dtype and out.device == x.device
    one = torch.stack([torch.stack([apply_steps(m, steps) for m in row]) for row in x])
    torch.testing.assert_close(out, one)


def test_dictionaries_are_steps_too(rng):
    x = torch.from_numpy(image(rng, (12, 20)))
    steps = [Log1p(gain=3.0), Resize(size=(8, 8), antialias="torch")]
    torch.testing.assert_close(apply_steps(x, steps_to_dicts(steps)), apply_steps(x, steps))


# ------------------------------------------------------------------ gradients
DIFFERENTIABLE = [
    [Power()],
    [Power(exponent=1.5)],
    [Log1p(gain=3.0)],
    [Log(eps=1e-3)],
    [Log10(eps=1e-3)],
    [Decibel(multiplier=20.0, reference=1.0)],
    [Decibel(top_db=6.0)],
    [MinMax()],
    [Standardize()],
    [FixedRange(lo=0.0, hi=2.0, clip=True)],
    [MeanStd(mean=0.2, std=3.0)],
    [Channels(n_channels=3), ChannelMeanStd(**IMAGENET)],
    [FlipRows()],
    [Crop(top=1, left=2, height=3, width=4)],
    [Pad(top=1, right=2, mode="constant", value=0.5)],
    [Pad(left=2, bottom=1, mode="edge")],
    [Pad(top=2, left=1, mode="reflect")],
    [Colormap(name="viridis", interpolate=True)],
    [Colormap(name="tab10", interpolate=True)],
    *[
        [Resize(size=size, method=method, antialias=antialias, mode=mode)]
        for size in [(3, 4), (8, 11)]
        for method, antialias, mode in [
            ("bilinear", "none", None),
            ("bicubic", "none", None),
            ("nearest", "none", None),
            ("area", "none", None),
            ("bilinear", "torch", None),
            ("bicubic", "torch", None),
            ("nearest", "pil", None),
            ("bilinear", "pil", None),
            ("bicubic", "pil", None),
            ("area", "pil", None),
            ("nearest", "skimage", None),
            ("bilinear", "skimage", None),
            ("bicubic", "skimage", "edge"),
            ("bicubic", "none", "wrap"),
            ("area", "skimage", None),
        ]
    ],
]


@pytest.mark.parametrize("steps", DIFFERENTIABLE, ids=lambda s: "-".join(f"{x.kind}" for x in s))
def test_gradcheck(rng, steps):
    # values in (0.1, 0.9): no ties for the extrema and away from clipping points
    x = torch.from_numpy(rng.uniform(0.1, 0.9, (1, 5, 7))).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: apply_steps(v, steps), (x,))


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Step.from_dict({"kind": "sharpen"}), r"kind='sharpen' is not"),
        (lambda: Step.from_dict({"gain": 1.0}), r"has no 'kind'"),
        (lambda: Log1p.from_dict({"kind": "log"}), r"kind='log' given to Log1p"),
        (lambda: Step.from_dict({"kind": "log1p", "gian": 2.0}), r"unknown field.*'gian'"),
        (lambda: Step.from_dict({"kind": "resize"}), r"needs field.*'size'"),
        (lambda: Resize(size=(8, 8), method="lanczos"), r"method='lanczos'"),
        (lambda: Resize(size=(8, 8), antialias="opencv"), r"antialias='opencv'"),
        (lambda: Resize(size=(8, 8), mode="mirror"), r"mode='mirror'"),
        (lambda: Resize(size=(8, 0)), r"size=0"),
        (lambda: Resize(size=(8,)), r"size=\(8,\) must be a pair"),
        (lambda: Resize(size=(8, 8), method="nearest", antialias="torch"), r"'nearest'"),
        (lambda: Resize(size=(8, 8), antialias="pil", mode="edge"), r"mode='edge'"),
        (lambda: Resize(size=(8, 8), method="area", mode="edge"), r"method='area'"),
        (lambda: Colormap(name="virdis"), r"name='virdis'.*'viridis'"),
        (lambda: Decibel(multiplier=15.0), r"multiplier=15.0"),
        (lambda: Decibel(reference="min"), r"reference='min'"),
        (lambda: Decibel(top_db=-3.0), r"top_db=-3.0"),
        (lambda: FixedRange(lo=1.0, hi=1.0), r"lo=1.0 must be < hi=1.0"),
        (lambda: MeanStd(mean=0.0, std=0.0), r"std=0.0"),
        (lambda: ChannelMeanStd(mean=(0.5, 0.5), std=(1.0,)), r"differ in length"),
        (lambda: QuantizeUint8(rounding="ceil"), r"rounding='ceil'"),
        (lambda: Pad(top=1, mode="wrap"), r"mode='wrap'"),
        (lambda: Crop(top=0, left=0, height=0, width=2), r"height=0"),
        (lambda: Standardize(ddof=2), r"ddof=2"),
    ],
)
def test_bad_steps_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ([Crop(top=3, left=0, height=4, width=2)], r"rows 3:7 .* beyond the 6 x 9 image"),
        ([ChannelMeanStd(**IMAGENET)], r"got an image of 1 channel"),
        ([Colormap(name="gray"), Colormap(name="gray")], r"colormap needs a single-channel"),
        ([Channels(n_channels=3), Channels(n_channels=2)], r"channels needs a single"),
        ([Pad(top=6, mode="reflect")], r"mode='reflect' pads fewer"),
    ],
)
def test_steps_that_do_not_fit_the_image_are_refused(rng, steps, match):
    with pytest.raises(ValueError, match=match):
        apply_steps(torch.from_numpy(image(rng, (6, 9))), steps)


def test_bad_types_are_refused():
    with pytest.raises(TypeError, match="must be a string"):
        Colormap(name=3)
    with pytest.raises(TypeError, match=r"expected real floating point"):
        apply_steps(torch.ones(4, 5, dtype=torch.complex64), [MinMax()])
    with pytest.raises(TypeError, match=r"steps\[1\] must be a Step or a step dictionary"):
        apply_steps(torch.ones(4, 5), [MinMax(), "log"])
    with pytest.raises(TypeError, match=r"steps\[0\]=Step\(\) is not one of"):
        apply_steps(torch.ones(4, 5), [Step()])
    with pytest.raises(TypeError, match="steps must be a sequence"):
        apply_steps(torch.ones(4, 5), MinMax())
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        apply_steps(torch.ones(5), [MinMax()])
