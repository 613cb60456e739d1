"""The pipeline file (issue 18): TOML round trips, refusals, and images against ssqueezepy.

Reference: the user's own code, ``steps`` applied to ``np.abs(ssqueezepy.ssq_cwt(x,
...)[0])`` (ssqueezepy 0.6.6, rows as it returns them). ssqueezepy computes in its
wavelet's dtype, float32 unless the wavelet says ``dtype="float64"``; the tight
comparisons run ssqueezepy in float64, and one test measures its float32 default.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from saliency2signal.pipeline import (
    MAX_FILE_BYTES,
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
    Pipeline,
    Power,
    QuantizeUint8,
    Resize,
    SignalAxis,
    Standardize,
    apply_steps,
    load_pipeline,
    pipeline_template,
    save_pipeline,
)
from saliency2signal.transform import SSQConfig

CLASSES = ("arabica", "robusta")
# the template's imaging, smaller: log1p -> skimage resize -> min-max -> viridis -> 8 bits
STEPS = (
    Log1p(gain=10.0),
    Resize(size=(48, 64), antialias="skimage"),
    MinMax(),
    Colormap(name="viridis"),
    QuantizeUint8(rounding="floor"),
)
WAVELETS = {"gmw": "gmw", "gmw-3-5": ("gmw", {"gamma": 3, "beta": 5})}
# one example of each step kind, fields away from their defaults where they have any
EVERY_STEP = {
    "power": Power(exponent=0.5),
    "log1p": Log1p(gain=3.0),
    "log": Log(eps=1e-6),
    "log10": Log10(eps=0.0),
    "db": Decibel(multiplier=20.0, reference=2.5, amin=1e-5, top_db=80.0),
    "minmax": MinMax(),
    "standardize": Standardize(ddof=1),
    "fixed_range": FixedRange(lo=-1.5, hi=2.0, clip=True),
    "mean_std": MeanStd(mean=0.25, std=1.5),
    "channel_mean_std": ChannelMeanStd(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    "resize": Resize(size=(31, 17), method="bicubic", antialias="none", mode="symmetric"),
    "flip_rows": FlipRows(),
    "crop": Crop(top=1, left=2, height=3, width=4),
    "pad": Pad(top=1, bottom=0, left=2, right=3, mode="constant", value=-1.0),
    "colormap": Colormap(name="magma", interpolate=True),
    "channels": Channels(n_channels=4),
    "quantize_uint8": QuantizeUint8(rounding="floor"),
}


@pytest.fixture
def sq(monkeypatch):
    """ssqueezepy 0.6.6, single-threaded (SSQ_PARALLEL=0 is read at each call)."""
    monkeypatch.setenv("SSQ_PARALLEL", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("ssqueezepy")


def user_images(sq, x: np.ndarray, steps, **kwargs) -> np.ndarray:
    """The user's own code: ``steps`` on ``np.abs(ssqueezepy.ssq_cwt(x, **kwargs)[0])``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tx = sq.ssq_cwt(x.copy(), **kwargs)[0]
    magnitude = np.abs(np.asarray(tx)).astype(np.float64)
    return apply_steps(torch.from_numpy(magnitude), steps).numpy()


def with_dtype(wavelet, dtype: str):
    """ssqueezepy's wavelet argument with a ``dtype`` option added."""
    name, opts = (wavelet, {}) if isinstance(wavelet, str) else wavelet
    return (name, {**opts, "dtype": dtype})


def signals(rng, n: int) -> np.ndarray:
    """White noise, two peaks (a spectrum-like signal) and a chirp, shape (3, n)."""
    t = np.arange(n)
    peaks = np.exp(-0.5 * ((t - n / 3) / 3) ** 2) + 0.5 * np.exp(-0.5 * ((t - 0.7 * n) / 8) ** 2)
    chirp = np.cos(2 * np.pi * (0.05 * t + 0.1 * t**2 / n))
    return np.stack([rng.standard_normal(n), peaks + 0.01 * rng.standard_normal(n), chirp])


def assert_images_close(ours, ref, rtol):
    ours = ours.detach().double().numpy() if isinstance(ours, torch.Tensor) else ours
    assert ours.shape == ref.shape
    assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


# ------------------------------------------------------------------ the template
def template_pipeline() -> Pipeline:
    """What the template says, built in code."""
    steps = (
        Log1p(),
        Resize(size=(128, 128), method="bilinear", antialias="skimage"),
        MinMax(),
        Colormap(name="viridis"),
        QuantizeUint8(rounding="floor"),
    )
    return Pipeline.from_ssqueezepy_kwargs(
        wavelet="gmw", nv=64, steps=steps, class_names=("class_0", "class_1")
    )


def test_template_parses_to_the_typical_pipeline(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text(pipeline_template())
    p = load_pipeline(path)
    assert p == template_pipeline()
    assert p.transform == SSQConfig(nv=64)
    assert p.row_order == "ssqueezepy"


def test_template_explains_every_option():
    text = pipeline_template()
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for kind in STEP_KINDS:
        assert f"#   {kind} " in comments, kind
    for key in ("wavelet", "nv", "scales", "fs", "padtype", "squeezing", "maprange", "gamma"):
        assert f"# {key}:" in comments, key
    for key in ("row_order", "flipud", "dtype", "task", "class_names", "output_names", "n_times"):
        assert key in comments, key
    assert "[axis]" in comments and "units" in comments


# ------------------------------------------------------------------ round trips
ROUND_TRIPS = {
    "template": template_pipeline(),
    "regression": Pipeline(
        transform=SSQConfig(
            wavelet="morlet", mu=6.0, nv=16, scaletype="log:naive", fs=250.0, padtype=None
        ),
        row_order="low_first",
        steps=(Power(), Decibel(), Standardize()),
        task="regression",
        output_names=("caffeine", "water"),
        output_units=("mg/g", "%"),
        axis=SignalAxis(start=1100.0, step=-2.5, name="wavelength", units="nm"),
        n_times=300,
    ),
    "explicit": Pipeline(
        transform=SSQConfig(
            gamma=3.0,
            beta=5.0,
            scaletype=tuple(2.0 ** (np.arange(40) / 8)),
            maprange=(0.01, 0.4),
            squeezing="abs",
            dtype="float32",
            threshold=1e-6,
        ),
        steps=tuple(EVERY_STEP.values())[:8],
        class_names=('say "hi"', "tab\there", "naïve ✓", "new\nline"),
        axis=SignalAxis(values=tuple(np.linspace(0.0, 1.0, 20) ** 2), units="a.u."),
        n_times=20,
    ),
    "no steps": Pipeline(class_names=("a", "b", "c")),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_save_load_round_trip(tmp_path, name):
    p = ROUND_TRIPS[name]
    path = save_pipeline(p, tmp_path / "pipeline.toml")
    assert load_pipeline(path) == p
    assert Pipeline.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert hash(load_pipeline(path)) == hash(p)


def test_the_other_wavelets_parameters_are_reset():
    p = Pipeline(transform=SSQConfig(wavelet="morlet", mu=6.0, gamma=5.0), class_names=CLASSES)
    assert p.transform == SSQConfig(wavelet="morlet", mu=6.0)
    assert Pipeline.from_toml(p.to_toml()) == p
    p = Pipeline(transform=SSQConfig(beta=20.0, mu=6.0), class_names=CLASSES)
    assert p.transform == SSQConfig(beta=20.0)


def test_every_step_kind_round_trips_through_toml(tmp_path):
    assert set(EVERY_STEP) == set(STEP_KINDS)
    steps = tuple(EVERY_STEP.values())
    p = Pipeline(steps=steps, class_names=CLASSES)
    loaded = load_pipeline(save_pipeline(p, tmp_path / "p.toml"))
    assert loaded.steps == steps
    assert [type(s) for s in loaded.steps] == [type(s) for s in steps]


def test_ssqueezepy_kwargs_round_trip():
    p = Pipeline.from_ssqueezepy_kwargs(
        wavelet=("morlet", {"mu": 6.0, "dtype": "float64"}),
        scales="log:maximal",
        nv=24,
        fs=100.0,
        padtype="zero",
        maprange=(1.0, 40.0),
        gamma=1e-5,
        flipud=False,
        class_names=CLASSES,
    )
    assert p.transform == SSQConfig(
        wavelet="morlet",
        mu=6.0,
        nv=24,
        scaletype="log:maximal",
        fs=100.0,
        padtype="zero",
        maprange=(1.0, 40.0),
        threshold=1e-5,
        dtype="float64",
    )
    assert p.row_order == "low_first"
    again = Pipeline.from_ssqueezepy_kwargs(**p.to_ssqueezepy_kwargs(), class_names=CLASSES)
    assert again == p


# ------------------------------------------------------------------ against ssqueezepy
@pytest.mark.parametrize("n", [256, 384, 512])
@pytest.mark.parametrize("nv", [16, 32])
@pytest.mark.parametrize("wavelet", list(WAVELETS))
def test_images_equal_the_users_ssqueezepy_code(sq, rng, wavelet, nv, n):
    kwargs = {"wavelet": WAVELETS[wavelet], "nv": nv, "scales": "log-piecewise"}
    p = Pipeline.from_ssqueezepy_kwargs(
        **kwargs, padtype="reflect", steps=STEPS, class_names=CLASSES
    )
    x = signals(rng, n)
    # the user's ssqueezepy computed in float64 (its wavelet's dtype option)
    ref = user_images(
        sq, x, STEPS, **{**kwargs, "wavelet": with_dtype(WAVELETS[wavelet], "float64")}
    )
    assert_images_close(p.images(x), ref, rtol=1e-6)
    # before the colour lookup and the 8 bits, the values themselves
    grey = STEPS[:3]
    ref = user_images(
        sq, x, grey, **{**kwargs, "wavelet": with_dtype(kwargs["wavelet"], "float64")}
    )
    ours = Pipeline(transform=p.transform, steps=grey, class_names=CLASSES).images(x)
    assert_images_close(ours, ref, rtol=1e-6)


def test_a_wrong_row_order_gives_different_images(sq, rng):
    kwargs = {"wavelet": ("gmw", {"dtype": "float64"}), "nv": 16}
    x = signals(rng, 256)
    ref = user_images(sq, x, STEPS[:3], **kwargs)
    right = Pipeline.from_ssqueezepy_kwargs(**kwargs, steps=STEPS[:3], class_names=CLASSES)
    wrong = Pipeline.from_ssqueezepy_kwargs(
        **kwargs, row_order="low_first", steps=STEPS[:3], class_names=CLASSES
    )
    assert_images_close(right.images(x), ref, rtol=1e-6)
    diff = np.abs(wrong.images(x).numpy() - ref)
    assert diff.max(axis=(1, 2, 3)).min() > 0.3  # every signal: images in [0, 1]
    assert diff.mean() > 0.05


def test_flipud_false_is_low_first(sq, rng):
    kwargs = {"wavelet": ("gmw", {"gamma": 3, "beta": 5, "dtype": "float64"}), "nv": 32}
    p = Pipeline.from_ssqueezepy_kwargs(**kwargs, flipud=False, steps=STEPS, class_names=CLASSES)
    assert p.row_order == "low_first"
    x = signals(rng, 300)
    assert_images_close(p.images(x), user_images(sq, x, STEPS, **kwargs, flipud=False), 1e-6)


def test_to_ssqueezepy_kwargs_make_the_same_images(sq, rng):
    p = Pipeline(
        transform=SSQConfig(
            wavelet="morlet",
            mu=8.0,
            nv=20,
            scaletype="log",
            fs=50.0,
            maprange="energy",
            padtype="symmetric",
            dtype="float64",
            threshold=1e-9,
        ),
        steps=(Decibel(multiplier=20.0, top_db=60.0), Resize(size=(40, 40), antialias="pil")),
        class_names=CLASSES,
    )
    x = signals(rng, 320)
    ref = user_images(sq, x, p.steps, **p.to_ssqueezepy_kwargs())
    assert_images_close(p.images(x), ref, rtol=1e-6)


def test_ssqueezepys_float32_default_agrees_but_for_squeezing_flips(sq, rng):
    # wavelet="gmw" alone: ssqueezepy computes in float32. Cells whose instantaneous
    # frequency lies at a row boundary may go to the neighbouring row in one precision
    # and not the other; everything else agrees to float32 rounding.
    x = signals(rng, 512)
    p = Pipeline.from_ssqueezepy_kwargs(wavelet="gmw", nv=16, steps=STEPS[:3], class_names=CLASSES)
    ref = user_images(sq, x, STEPS[:3], wavelet="gmw", nv=16)
    for xin in (x, x.astype(np.float32)):
        diff = np.abs(p.images(xin).double().numpy() - ref)
        assert np.median(diff) < 1e-5
        assert np.mean(diff > 1e-3) < 0.01


def test_images_are_differentiable_and_checked(rng):
    p = Pipeline(steps=STEPS[:3], class_names=CLASSES, n_times=256)
    x = torch.tensor(signals(rng, 256), requires_grad=True)
    p.images(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().max() > 0
    with pytest.raises(ValueError, match="n_times=256"):
        p.images(signals(rng, 300))
    m = torch.rand(2, 30, 40, dtype=torch.float64)
    flipped = Pipeline(class_names=CLASSES).images_from_magnitude(m)
    torch.testing.assert_close(flipped[:, 0], m.flip(-2))


# ------------------------------------------------------------------ refusals
def load_text(tmp_path, text: str) -> Pipeline:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return load_pipeline(path)


HEAD = 'class_names = ["a", "b"]\n'


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (HEAD + "colour = 1\n[transform]\n", r"unknown key\(s\) \['colour'\] in the top level"),
        (HEAD + "[transform]\nnvoices = 4\n", r"unknown key 'nvoices' in \[transform\]"),
        (HEAD + "[transform]\n[axis]\nstart = 0\nstep = 1\nunit = 'nm'\n", r"'unit'.*\[axis\]"),
        (HEAD + "[transform]\nwavelet = ['gmw', {alpha = 2}]\n", r"\['alpha'\].*'gmw' wavelet"),
        (
            HEAD
            + "[transform]\n[[steps]]\nkind = 'minmax'\n[[steps]]\nkind = 'log1p'\ngane = 2\n",
            r"\[\[steps\]\] number 2: unknown field\(s\) \['gane'\]",
        ),
        (HEAD + "[transform]\n[[steps]]\nkind = 'blur'\n", r"number 1: kind='blur'"),
        (HEAD, r"needs a \[transform\] section"),
        (HEAD + "version = 2\n[transform]\n", "version=2"),
        (HEAD + "[transform\n", r"p\.toml"),  # not TOML: the message names the file
    ],
)
def test_unknown_keys_and_bad_files_are_refused(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_text(tmp_path, text)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wavelet": "bump"}, "wavelet='bump'.*not supported"),
        ({"wavelet": ("gmw", {"norm": "energy"})}, "norm='energy'.*only 'bandpass'"),
        ({"wavelet": ("gmw", {"order": 1})}, "order=1.*only 0"),
        ({"wavelet": ("gmw", {"centered_scale": True})}, "centered_scale=True"),
        ({"wavelet": ("morlet", {"dtype": "float16"})}, "dtype='float16'"),
        ({"squeezing": "lebesgue"}, "squeezing='lebesgue'"),
        ({"difftype": "numeric"}, "difftype='numeric'.*only 'trig'"),
        ({"order": 2}, "order=2.*higher-order"),
        ({"ssq_freqs": "linear"}, "ssq_freqs='linear'"),
        ({"t": [0.0, 1.0]}, "'t'.*give fs"),
        ({"vectorized": True}, "'vectorized'.*does not change Tx"),
        ({"l1_norm": True}, "unknown key 'l1_norm'.*ssq_cwt"),
        ({"flipud": True, "row_order": "low_first"}, "flipud=True.*'ssqueezepy'"),
        ({"scales": "log-piecewise", "maprange": "maximal"}, r"ssq_cwt kwargs: maprange"),
        ({"nv": 0}, "nv=0"),
    ],
)
def test_unsupported_ssqueezepy_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Pipeline.from_ssqueezepy_kwargs(**kwargs, class_names=CLASSES)


def test_an_unsupported_option_in_the_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"p\.toml.*difftype='phase' in \[transform\]"):
        load_text(tmp_path, HEAD + "[transform]\ndifftype = 'phase'\n")
    with pytest.raises(ValueError, match="lowpass_row=True"):
        Pipeline(transform=SSQConfig(lowpass_row=True), class_names=CLASSES)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({}, "at least 2 classes"),
        ({"class_names": ("only",)}, "at least 2 classes"),
        ({"class_names": ("a", "a")}, "distinct"),
        ({"class_names": ("a", " ")}, "non-empty"),
        ({"class_names": CLASSES, "output_names": ("y",)}, "for task='regression'"),
        ({"task": "regression", "class_names": CLASSES}, "has no class_names"),
        ({"task": "regression", "output_units": ("mg",)}, "one unit per output name"),
        (
            {"task": "regression", "output_names": ("a", "b"), "output_units": ("mg",)},
            "one unit per output name",
        ),
        ({"task": "ranking", "class_names": CLASSES}, "task='ranking'"),
        ({"class_names": CLASSES, "row_order": "high_first"}, "row_order='high_first'"),
        ({"class_names": CLASSES, "n_times": 8}, "n_times=8"),
        (
            {"class_names": CLASSES, "n_times": 30, "axis": SignalAxis(values=(1.0, 2.0, 3.0))},
            "3 values; signals have n_times=30",
        ),
    ],
)
def test_task_and_field_rules(fields, match):
    with pytest.raises(ValueError, match=match):
        Pipeline(**fields)


def test_regression_needs_no_names():
    p = Pipeline(task="regression")
    assert p.class_names == () and Pipeline.from_toml(p.to_toml()) == p
    with pytest.raises(TypeError, match="must be a sequence of strings"):
        Pipeline(class_names="ab")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({}, "needs values, or both start and step"),
        ({"start": 1.0}, "needs values, or both start and step"),
        ({"values": (1.0, 2.0), "start": 0.0}, "not both"),
        ({"start": 0.0, "step": 0.0}, "step=0.0 must not be 0"),
        ({"values": (1.0, 3.0, 2.0)}, "strictly ascending or strictly descending"),
    ],
)
def test_axis_rules(fields, match):
    with pytest.raises(ValueError, match=match):
        SignalAxis(**fields)


def test_axis_coordinates():
    assert_allclose(SignalAxis(start=10.0, step=-0.5).coordinates(4), [10.0, 9.5, 9.0, 8.5])
    assert_allclose(SignalAxis(values=(3.0, 2.0, 1.0)).coordinates(3), [3.0, 2.0, 1.0])


# ------------------------------------------------------------------ files
def test_an_oversize_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * MAX_FILE_BYTES + b"\n\x00 not TOML")
    with pytest.raises(ValueError, match=r"big\.toml.*bytes; a pipeline file has at most 1 MB"):
        load_pipeline(path)


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "pipeline.toml"
    first = Pipeline(class_names=CLASSES)
    save_pipeline(first, path)
    second = Pipeline(class_names=("x", "y", "z"))
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        save_pipeline(second, path)
    assert load_pipeline(path) == first
    save_pipeline(second, path, overwrite=True)
    assert load_pipeline(path) == second
    assert os.listdir(tmp_path) == ["pipeline.toml"]  # no temporary file left behind


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(self, text, **kwargs):
        pathlib.Path.write_bytes(self, text[:10].encode())  # half written, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", fail)
    with pytest.raises(OSError, match="No space left"):
        save_pipeline(Pipeline(class_names=CLASSES), tmp_path / "pipeline.toml")
    assert os.listdir(tmp_path) == []
