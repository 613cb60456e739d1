"""Tests of saliency2signal.saliency: attribution on the native grid of the transform."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.datasets import make_planted_spectra
from saliency2signal.imaging import ImagingConfig, pull_back, to_image
from saliency2signal.saliency import SaliencyResult, attribute, time_gradient
from saliency2signal.saliency._options import window

N = 256
TCFG = SSQConfig(nv=16)
F = TCFG.n_freqs(N)
LINEAR_IMAGING = ImagingConfig(normalize="none")  # the image is a linear map of |Tx|
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
    ),
]


# ------------------------------------------------------------------------- models
def make_cnn(*, n_classes=3, act=torch.nn.ReLU, dtype=torch.float32, seed=0, extras=()):
    """A small CNN for (B, 1, H, W) images, weights from a fixed seed."""
    torch.manual_seed(seed)
    layers = OrderedDict(
        conv1=torch.nn.Conv2d(1, 4, 3, padding=1),
        act1=act(),
        conv2=torch.nn.Conv2d(4, 8, 3, padding=1),
        act2=act(),
        **dict(extras),
        pool=torch.nn.AdaptiveAvgPool2d(4),
        flat=torch.nn.Flatten(),
        fc=torch.nn.Linear(8 * 16, n_classes),
    )
    return torch.nn.Sequential(layers).to(dtype)


def make_linear(shape, *, n_classes=3, dtype=torch.float64, seed=1):
    """logits = W vec(image) + b: its gradient on the image is W[target]."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(math.prod(shape), n_classes)
    ).to(dtype)


def signals(rng, batch_shape=(2,), dtype=np.float64):
    t = np.arange(N) / N
    chirp = np.cos(2 * np.pi * (10 * t + 30 * t**2))
    x = chirp + 0.3 * rng.standard_normal((*batch_shape, N))
    return torch.from_numpy(x.astype(dtype))


def magnitude(x, cfg=TCFG):
    return ssq_cwt(x, cfg).Tx.abs().reshape(-1, F, N)


# ------------------------------------------------------- grid vs image + pull_back
@pytest.mark.parametrize(
    "icfg",
    [
        ImagingConfig(normalize="none", size=(32, 32)),
        ImagingConfig(normalize="none", size=(32, 32), flip_rows=True),
        ImagingConfig(normalize="none", flip_rows=True),
    ],
    ids=["resize", "resize+flip", "flip"],
)
def test_saliency_equals_pulled_back_image_gradient(rng, icfg):
    from captum.attr import Saliency

    x = signals(rng)
    hw = icfg.size or (F, N)
    model = make_linear(hw)
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        method="saliency",
        target=[0, 2],
        captum_kwargs={"abs": False},
    )
    img = to_image(magnitude(x), icfg).requires_grad_(True)
    grad_img = Saliency(model).attribute(img, target=[0, 2], abs=False)
    expected = pull_back(grad_img[:, 0], icfg, (F, N))
    torch.testing.assert_close(res.attribution, expected, rtol=1e-10, atol=1e-12)
    # and, without Captum: the adjoint of the geometry applied to the weight rows
    w = model[1].weight.detach()[[0, 2]].reshape(2, *hw)
    torch.testing.assert_close(res.attribution, pull_back(w, icfg, (F, N)), rtol=1e-10, atol=1e-12)


def test_input_x_gradient_equals_pulled_back_image_attribution(rng):
    from captum.attr import InputXGradient

    x = signals(rng)
    icfg = ImagingConfig(normalize="none", flip_rows=True)  # a permutation: exact
    model = make_linear((F, N))
    res = attribute(
        model, x, transform_config=TCFG, imaging_config=icfg, method="input_x_gradient", target=1
    )
    img = to_image(magnitude(x), icfg).requires_grad_(True)
    ixg = InputXGradient(model).attribute(img, target=1)
    torch.testing.assert_close(
        res.attribution, pull_back(ixg[:, 0], icfg, (F, N)), rtol=1e-10, atol=1e-12
    )


def test_input_x_gradient_total_with_resize(rng):
    # with a resize, cell-wise IxG differs from pulled-back pixel IxG, but both sum to
    # the linear part of the logit
    x = signals(rng)
    icfg = ImagingConfig(normalize="none", size=(32, 32))
    model = make_linear((32, 32))
    res = attribute(
        model, x, transform_config=TCFG, imaging_config=icfg, method="input_x_gradient", target=1
    )
    linear_part = res.logits[:, 1] - model[1].bias.detach()[1]
    torch.testing.assert_close(res.attribution.sum((-2, -1)), linear_part, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", ["deeplift", "gradient_shap"])
def test_reference_methods_reduce_to_input_x_gradient_on_linear_model(rng, method):
    x = signals(rng)
    icfg = ImagingConfig(normalize="none", size=(32, 32))
    model = make_linear((32, 32))
    common = dict(transform_config=TCFG, imaging_config=icfg, target=0)
    ref = attribute(model, x, method="input_x_gradient", **common)
    res = attribute(model, x, method=method, **common)
    torch.testing.assert_close(res.attribution, ref.attribution, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ completeness
def test_integrated_gradients_completeness(rng):
    x = signals(rng)
    icfg = ImagingConfig(scale="log1p", gain=100.0, normalize="none", size=(32, 32))
    model = make_cnn(act=torch.nn.Softplus, dtype=torch.float64, seed=3)
    res = attribute(
        model, x, transform_config=TCFG, imaging_config=icfg, n_steps=64, internal_batch_size=40
    )
    with torch.no_grad():
        f_base = model(to_image(torch.zeros(2, F, N, dtype=torch.float64), icfg))
    t = res.target
    gap = res.logits[torch.arange(2), t] - f_base[torch.arange(2), t]
    total = res.attribution.sum((-2, -1))
    assert res.convergence_delta.shape == (2,)
    torch.testing.assert_close(res.convergence_delta, total - gap)
    assert float(gap.abs().min()) > 1e-3  # a non-trivial gap to explain
    # 64 Gauss-Legendre steps: ~1e-9 relative (4 steps would give ~1e-3)
    assert float((total - gap).abs().max()) < 1e-6 * float(gap.abs().min())


def test_deeplift_completeness_relu_cnn(rng):
    x = signals(rng)
    model = make_cnn(dtype=torch.float64, seed=4)
    icfg = ImagingConfig(normalize="none", size=(32, 32))
    res = attribute(model, x, transform_config=TCFG, imaging_config=icfg, method="deeplift")
    assert float(res.convergence_delta.abs().max()) < 1e-8


# ------------------------------------------------------------------ shapes, batch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 2)])
def test_shapes_and_batch_equals_one_by_one(rng, batch_shape, device):
    x = signals(rng, batch_shape, dtype=np.float32).to(device)
    model = make_cnn().to(device)
    icfg = ImagingConfig(size=(32, 32))
    res = attribute(model, x, transform_config=TCFG, imaging_config=icfg, method="saliency")
    assert isinstance(res, SaliencyResult)
    assert res.attribution.shape == (*batch_shape, F, N)
    assert res.attribution.device == x.device
    assert res.Tx.shape == (*batch_shape, F, N) and res.Tx.is_complex()
    assert res.target.shape == batch_shape and res.target.dtype == torch.int64
    assert res.logits.shape == (*batch_shape, 3)
    torch.testing.assert_close(res.probabilities.sum(-1), torch.ones(batch_shape, device=device))
    flat = x.reshape(-1, N)
    singles = torch.stack(
        [
            attribute(
                model, s, transform_config=TCFG, imaging_config=icfg, method="saliency"
            ).attribution
            for s in flat
        ]
    )
    torch.testing.assert_close(res.attribution.reshape(-1, F, N), singles, rtol=1e-4, atol=1e-6)


def test_target_defaults_to_argmax(rng):
    x = signals(rng, (4,), dtype=np.float32)
    model = make_cnn(n_classes=5, seed=7)
    icfg = ImagingConfig(size=(32, 32))
    res = attribute(model, x, transform_config=TCFG, imaging_config=icfg, method="saliency")
    with torch.no_grad():
        expected = model(to_image(ssq_cwt(x, TCFG).Tx, icfg))
    torch.testing.assert_close(res.logits, expected)
    assert torch.equal(res.target, expected.argmax(-1))
    explicit = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        method="saliency",
        target=expected.argmax(-1),
    )
    torch.testing.assert_close(res.attribution, explicit.attribution)


# ---------------------------------------------------------------------- eval mode
def test_eval_mode_during_call_and_modes_restored(rng):
    x = signals(rng, dtype=np.float32)
    model = make_cnn(extras={"drop": torch.nn.Dropout(0.5), "bn": torch.nn.BatchNorm2d(8)})
    model.train()
    model.conv1.eval()  # a mixed state must come back as it was
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(m.training))
    before = {name: m.training for name, m in model.named_modules()}
    stats = model.bn.running_mean.clone()
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=ImagingConfig(size=(32, 32)),
        method="saliency",
    )
    assert seen and not any(seen)
    assert {name: m.training for name, m in model.named_modules()} == before
    torch.testing.assert_close(model.bn.running_mean, stats)  # no BN update in eval
    again = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=ImagingConfig(size=(32, 32)),
        method="saliency",
    )
    torch.testing.assert_close(res.attribution, again.attribution)  # dropout was off
    with pytest.raises(ValueError, match="target=7"):
        attribute(
            model,
            x,
            transform_config=TCFG,
            imaging_config=ImagingConfig(size=(32, 32)),
            method="saliency",
            target=7,
        )
    assert {name: m.training for name, m in model.named_modules()} == before


# ------------------------------------------------------- region-level perturbation
def two_regions():
    labels = np.ones((F, N), dtype=np.int64)
    labels[F // 2 :, :] = 2
    return labels


def test_feature_ablation_two_regions(rng):
    x = signals(rng)
    model = make_cnn(dtype=torch.float64, seed=5)
    icfg = ImagingConfig(scale="log1p", normalize="none", size=(32, 32))
    labels = two_regions()
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        method="feature_ablation",
        feature_mask=labels,
        target=1,
    )
    a = res.attribution
    low, high = a[:, : F // 2], a[:, F // 2 :]
    torch.testing.assert_close(low, low[:, :1, :1].expand_as(low), rtol=0, atol=0)
    torch.testing.assert_close(high, high[:, :1, :1].expand_as(high), rtol=0, atol=0)
    mag = magnitude(x)
    with torch.no_grad():
        full = model(to_image(mag, icfg))[:, 1]
        for lab, part in ((1, low), (2, high)):
            ablated = model(to_image(mag * torch.from_numpy(labels != lab), icfg))[:, 1]
            torch.testing.assert_close(part[:, 0, 0], full - ablated, rtol=1e-10, atol=1e-12)
    assert float((low[:, 0, 0] - high[:, 0, 0]).abs().min()) > 0


def test_shapley_value_sampling_two_regions_efficiency(rng):
    x = signals(rng)
    model = make_cnn(dtype=torch.float64, seed=5)
    icfg = ImagingConfig(scale="log1p", normalize="none", size=(32, 32))
    mask = SimpleNamespace(labels=two_regions())  # an AttributionMask-like object
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        method="shapley_value_sampling",
        feature_mask=mask,
        target=0,
        n_samples=4,
    )
    a = res.attribution
    with torch.no_grad():
        empty = model(to_image(torch.zeros(2, F, N, dtype=torch.float64), icfg))[:, 0]
    assert torch.equal(a[:, : F // 2], a[:, :1, :1].expand(2, F // 2, N))
    # two players: every sampled permutation's marginals add up to the total exactly
    # (Captum 0.9 accumulates Shapley values in float32)
    torch.testing.assert_close(
        a[:, 0, 0] + a[:, -1, 0], res.logits[:, 0] - empty, rtol=1e-5, atol=1e-7
    )


def test_occlusion_window_in_octaves_and_samples(rng):
    rows, cols = window((1.0, 32), TCFG.freqs(N), N, name="w")
    assert (rows, cols) == (16, 32)  # nv=16 rows per octave
    x = signals(rng)
    icfg = ImagingConfig(normalize="none", size=(32, 32))
    model = make_linear((32, 32))
    common = dict(transform_config=TCFG, imaging_config=icfg, target=2)
    res = attribute(
        model, x, method="occlusion", sliding_window_shapes=(1.0, 32), strides=(1.0, 32), **common
    )
    ixg = attribute(model, x, method="input_x_gradient", **common).attribution
    assert res.attribution.shape == (2, F, N)
    # linear model, non-overlapping windows: each covered cell gets its window's IxG sum
    block = ixg[:, 16:32, 64:96].sum((-2, -1))
    torch.testing.assert_close(
        res.attribution[:, 16:32, 64:96],
        block[:, None, None].expand(2, 16, 32),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("baselines", [None, 0.05, "map"])
@pytest.mark.parametrize(
    "internal_batch_size,captum_kwargs",
    [
        (None, None),
        (14, None),
        (40, {"method": "riemann_trapezoid"}),
        (1, None),
    ],
    ids=["one-pass", "uneven-passes", "trapezoid", "tiny-batch"],
)
def test_integrated_gradients_equal_captum(
    rng, internal_batch_size, captum_kwargs, baselines, dtype
):
    # attribute() computes IG itself (no grid-sized copies); it must give what Captum's
    # IntegratedGradients gives for the same forward function on the grid
    from captum.attr import IntegratedGradients

    from saliency2signal.forward import CoefficientClassifier

    x = signals(rng, dtype=dtype)
    icfg = ImagingConfig(
        scale="log1p",
        gain=20.0,
        normalize="meanstd",
        mean=0.5,
        std=0.8,
        size=(24, 32),
        antialias=True,
    )
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    model = make_cnn(act=torch.nn.Softplus, dtype=tdtype, seed=4)
    mag = ssq_cwt(x, TCFG).Tx.abs()
    if baselines == "map":
        baselines = 0.5 * mag.mean(0)  # one (F, N) map for both signals
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        n_steps=9,
        target=[1, 2],
        baselines=baselines,
        internal_batch_size=internal_batch_size,
        captum_kwargs=captum_kwargs,
    )
    base = baselines.expand_as(mag) if isinstance(baselines, torch.Tensor) else baselines
    ig = IntegratedGradients(CoefficientClassifier(model, imaging_config=icfg))
    with warnings.catch_warnings():  # Captum warns about internal_batch_size=1 < 2 inputs
        warnings.simplefilter("ignore", UserWarning)
        ref, delta = ig.attribute(
            mag,
            baselines=base,
            target=torch.tensor([1, 2]),
            n_steps=9,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
            **(captum_kwargs or {}),
        )
    tol = (
        {"rtol": 1e-5, "atol": 1e-6 * float(ref.abs().max())}
        if dtype == np.float32
        else {"rtol": 1e-10, "atol": 1e-12 * float(ref.abs().max())}
    )
    torch.testing.assert_close(res.attribution, ref, **tol)
    torch.testing.assert_close(res.convergence_delta, delta, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_falls_back_to_captum(rng, monkeypatch):
    # without Captum's (private) step rule, attribute() hands IG to Captum's class
    import captum.attr

    from saliency2signal.saliency import _methods

    x = signals(rng, dtype=np.float64)
    icfg = ImagingConfig(scale="log1p", size=(24, 32))
    model = make_cnn(act=torch.nn.Softplus, dtype=torch.float64, seed=4)
    kw = dict(transform_config=TCFG, imaging_config=icfg, n_steps=7, target=[0, 1])
    lean = attribute(model, x, **kw)
    calls = []

    class Counting(captum.attr.IntegratedGradients):
        def attribute(self, *args, **kwargs):
            calls.append(1)
            return super().attribute(*args, **kwargs)

    monkeypatch.setattr(captum.attr, "IntegratedGradients", Counting)
    monkeypatch.setattr(_methods, "_approximation_parameters", lambda: None)
    via_captum = attribute(model, x, **kw)
    assert calls  # Captum's class did the work
    torch.testing.assert_close(
        via_captum.attribution,
        lean.attribution,
        rtol=1e-10,
        atol=1e-12 * float(lean.attribution.abs().max()),
    )
    torch.testing.assert_close(
        via_captum.convergence_delta, lean.convergence_delta, rtol=1e-6, atol=1e-9
    )


# ------------------------------------------------------------------- noise tunnel
def test_noise_tunnel(rng):
    x = signals(rng)
    model = make_cnn(dtype=torch.float64, seed=2)
    icfg = ImagingConfig(size=(32, 32))
    common = dict(transform_config=TCFG, imaging_config=icfg, target=0, method="saliency")
    plain = attribute(model, x, **common)
    zero_noise = attribute(
        model, x, nt_type="smoothgrad", nt_samples=3, stdevs=0.0, internal_batch_size=4, **common
    )
    # the noise tunnel clamps |Tx| at 0; synchrosqueezing leaves many cells at exactly 0,
    # where the clamp must still pass the gradient (not torch>=2.14's clamp_min subgradient)
    at_zero = plain.Tx.abs() == 0
    assert float(at_zero.double().mean()) > 0.1
    assert bool((plain.attribution[at_zero] != 0).any())
    torch.testing.assert_close(zero_noise.attribution, plain.attribution)
    sg = attribute(model, x, nt_type="smoothgrad", nt_samples=4, **common)
    assert sg.method == "saliency+smoothgrad"
    assert sg.attribution.shape == (2, F, N) and bool(torch.isfinite(sg.attribution).all())
    assert not torch.allclose(sg.attribution, plain.attribution)
    ig = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        method="integrated_gradients",
        nt_type="vargrad",
        nt_samples=2,
        n_steps=8,
    )
    assert ig.convergence_delta is None and bool((ig.attribution >= 0).all())


def test_grid_model_clamp_is_identity_on_magnitudes():
    # value and gradient of the clamp: 0 below 0, the identity (gradient 1) from 0 on,
    # 0 included, whatever subgradient torch's clamp_min takes at its bound
    from saliency2signal.forward import CoefficientClassifier

    grid_model = CoefficientClassifier(
        torch.nn.Flatten(), imaging_config=ImagingConfig(normalize="none"), clamp=True
    )
    m = torch.tensor(
        [[[-1.0, 0.0, 2.0], [0.0, -0.0, float("nan")]]], dtype=torch.float64, requires_grad=True
    )
    out = grid_model(m)
    expected = torch.tensor([[0.0, 0.0, 2.0, 0.0, 0.0, float("nan")]], dtype=torch.float64)
    torch.testing.assert_close(out, expected, equal_nan=True)
    (grad,) = torch.autograd.grad(out[:, :5].sum(), m)
    assert grad.tolist() == [[[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]]


# --------------------------------------------------------------------- Grad-CAM
@pytest.mark.parametrize("flip", [False, True])
def test_layer_gradcam_on_grid(rng, flip):
    from captum.attr import LayerAttribution, LayerGradCam

    x = signals(rng, dtype=np.float32)
    model = make_cnn(seed=6)
    icfg = ImagingConfig(size=(32, 32), flip_rows=flip)
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=icfg,
        method="layer_gradcam",
        layer="conv2",
        target=1,
    )
    assert res.attribution.shape == (2, F, N)
    img = to_image(magnitude(x), icfg)
    cam = LayerGradCam(model, model.conv2).attribute(img, target=1)
    up = LayerAttribution.interpolate(cam, (32, 32), interpolate_mode="bilinear")
    torch.testing.assert_close(res.attribution, pull_back(up[:, 0], icfg, (F, N)))
    torch.testing.assert_close(res.attribution.sum((-2, -1)), up.sum((-3, -2, -1)))


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning")
def test_guided_gradcam_matches_captum_with_identity_imaging(rng):
    from captum.attr import GuidedGradCam

    x = signals(rng, dtype=np.float32)
    model = make_cnn(seed=6)
    res = attribute(
        model,
        x,
        transform_config=TCFG,
        imaging_config=LINEAR_IMAGING,
        method="guided_gradcam",
        layer="conv2",
        target=0,
    )
    img = to_image(magnitude(x), LINEAR_IMAGING).requires_grad_(True)
    ref = GuidedGradCam(model, model.conv2).attribute(img, target=0, interpolate_mode="bilinear")
    torch.testing.assert_close(res.attribution, ref[:, 0])
    assert float(res.attribution.abs().max()) > 0


# ------------------------------------------------------------------ time gradient
@pytest.mark.parametrize(
    ("score", "method"),
    [("logit", "time_gradient"), ("probability", "time_gradient+probability")],
)
def test_time_gradient_matches_finite_difference(rng, score, method):
    x = signals(rng)
    model = make_cnn(act=torch.nn.Tanh, dtype=torch.float64, seed=8)
    icfg = ImagingConfig(scale="log1p", size=(32, 32))
    g = time_gradient(
        model, x, transform_config=TCFG, imaging_config=icfg, target=[0, 2], score=score
    )
    assert g.attribution.shape == (2, N) and g.method == method
    v = torch.from_numpy(rng.standard_normal((2, N)))
    # bins are piecewise constant in x: at eps=1e-6 a dozen of the ~58k cells already
    # change bin here, so the finite difference must stay below that scale
    eps = 1e-8

    def value(z):
        with torch.no_grad():
            out = model(to_image(ssq_cwt(z, TCFG).Tx, icfg))
        out = out.softmax(-1) if score == "probability" else out
        return out[torch.arange(2), torch.tensor([0, 2])]

    fd = (value(x + eps * v) - value(x - eps * v)) / (2 * eps)
    torch.testing.assert_close((g.attribution * v).sum(-1), fd, rtol=1e-5, atol=1e-9)
    assert float(fd.abs().min()) > 1e-6


def test_time_gradient_of_the_probability_is_the_softmax_chain_rule(rng):
    # d p_t / dx = p_t (d z_t / dx - sum_k p_k d z_k / dx), from the logit gradients
    x = signals(rng)
    model = make_cnn(act=torch.nn.Tanh, dtype=torch.float64, seed=9)
    kw = dict(transform_config=TCFG, imaging_config=ImagingConfig(size=(32, 32)))
    dz = torch.stack([time_gradient(model, x, target=k, **kw).attribution for k in range(3)])
    p = time_gradient(model, x, target=0, **kw).probabilities  # (2, 3)
    expected = p[:, 0, None] * (dz[0] - torch.einsum("bk,kbn->bn", p, dz))
    got = time_gradient(model, x, target=0, score="probability", **kw)
    torch.testing.assert_close(got.attribution, expected, rtol=1e-10, atol=1e-14)
    assert float(got.attribution.abs().max()) > 0


def test_time_gradient_casts_the_image_to_the_model_dtype(rng):
    # a float64 transform on a float32 model runs, as attribute does
    x = signals(rng)
    model32 = make_cnn(seed=10)
    model64 = make_cnn(seed=10, dtype=torch.float64)
    kw = dict(transform_config=TCFG, imaging_config=ImagingConfig(size=(32, 32)), target=1)
    g32 = time_gradient(model32, x, **kw).attribution
    g64 = time_gradient(model64, x, **kw).attribution
    assert g32.dtype == torch.float64
    torch.testing.assert_close(g32, g64, rtol=1e-4, atol=1e-6 * float(g64.abs().max()))


def _reads_columns(cols: np.ndarray) -> torch.nn.Module:
    """Linear model whose class-1 logit sums the upper half of rows of ``|Tx|`` at ``cols``."""
    lin = torch.nn.Linear(F * N, 2, dtype=torch.float64)
    w = torch.zeros(F, N, dtype=torch.float64)
    w[F // 2 :, torch.from_numpy(cols)] = 1.0
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
        lin.weight[1] = w.reshape(-1)
    return torch.nn.Sequential(torch.nn.Flatten(), lin)


def test_time_gradient_lies_where_the_model_reads():
    # a model that reads only the columns of the planted window: the gradient's energy
    # lies there (no shift, no flip of the time axis); moved columns move it
    d = make_planted_spectra(4, n_points=N, class_centres=(None, 700.0), n_decoys=2, rng=0)
    nominal = (d.axis >= 700 - 3 * 18 - 10) & (d.axis <= 700 + 3 * 18 + 10)
    moved = np.roll(nominal, 100)
    kw = dict(transform_config=TCFG, imaging_config=LINEAR_IMAGING, target=1)
    e = time_gradient(_reads_columns(nominal), d.x, **kw).attribution.numpy() ** 2
    e_moved = time_gradient(_reads_columns(moved), d.x, **kw).attribution.numpy() ** 2
    share = (e * nominal).sum(1) / e.sum(1)
    assert np.all(share > 0.75)  # measured 0.79-0.96
    assert np.all(nominal[e.argmax(1)])
    truth = d.window_mask()[d.present]
    assert np.all((e[d.present] * truth).sum(1) / e[d.present].sum(1) > 0.5)  # 0.77, 0.81
    assert np.all((e_moved * moved).sum(1) / e_moved.sum(1) > 0.75)
    assert np.all((e_moved * nominal).sum(1) / e_moved.sum(1) < 0.01)


# -------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(method="gradcam++"), ValueError, "method='gradcam\\+\\+'"),
        (dict(target=3), ValueError, "target=3 is out of range"),
        (dict(target=-1), ValueError, "target=-1 is out of range"),
        (dict(target=[0, 1, 2]), ValueError, "target has shape"),
        (dict(target=1.0), TypeError, "target=1.0"),
        (
            dict(method="feature_ablation", feature_mask=np.ones((F, N - 1), int)),
            ValueError,
            "feature_mask has shape",
        ),
        (
            dict(method="feature_ablation", feature_mask=np.ones((3, F, N), int)),
            ValueError,
            "does not broadcast",
        ),
        (dict(method="feature_ablation"), ValueError, "needs feature_mask"),
        (dict(method="occlusion", nt_type="smoothgrad"), ValueError, "nt_type='smoothgrad'"),
        (dict(nt_type="smooth"), ValueError, "nt_type='smooth'"),
        (dict(method="layer_gradcam", layer="conv9"), ValueError, "layer='conv9'"),
        (dict(method="layer_gradcam"), ValueError, "layer=None"),
        (
            dict(method="occlusion", sliding_window_shapes=(0, 8)),
            ValueError,
            "sliding_window_shapes",
        ),
        (dict(n_steps=0), ValueError, "n_steps=0"),
        (dict(baselines=np.zeros((F, 7))), ValueError, "baselines has shape"),
    ],
)
def test_bad_inputs(rng, kwargs, error, match):
    x = signals(rng, dtype=np.float32)
    model = make_cnn()
    model.train()
    with pytest.raises(error, match=match):
        attribute(
            model, x, transform_config=TCFG, imaging_config=ImagingConfig(size=(32, 32)), **kwargs
        )
    assert model.training and model.conv1.training


def test_bad_model(rng):
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        attribute(lambda z: z, signals(rng), transform_config=TCFG)
    with pytest.raises(ValueError, match="expected logits of shape"):
        attribute(
            torch.nn.Identity(),
            signals(rng),
            transform_config=TCFG,
            imaging_config=ImagingConfig(size=(8, 8)),
        )


@pytest.mark.parametrize("score", ["prob", "softmax", None])
def test_time_gradient_bad_score(rng, score):
    with pytest.raises(ValueError, match=f"score={score!r}"):
        time_gradient(make_cnn(), signals(rng, dtype=np.float32), score=score)


def test_a_registered_method_is_dispatched_with_only_its_own_options(rng, monkeypatch):
    """Adding a method is adding a registry entry: attribute finds it and runs it."""
    from saliency2signal.saliency import _methods, _registry, methods

    seen = {}

    def doubled_magnitude(batch, *, n_steps):
        seen["n_steps"] = n_steps
        return _methods.Attribution(values=2 * batch.magnitude)

    entry = _registry.Method("doubled_magnitude", "gradient", doubled_magnitude, ("n_steps",))
    monkeypatch.setitem(_registry.REGISTRY, entry.name, entry)
    x = signals(rng)
    res = attribute(
        make_linear((F, N)),
        x,
        transform_config=TCFG,
        imaging_config=LINEAR_IMAGING,
        method="doubled_magnitude",
        n_steps=7,
    )
    assert seen == {"n_steps": 7}  # its one option, none of the other methods'
    torch.testing.assert_close(res.attribution, 2 * magnitude(x).reshape(res.attribution.shape))
    assert res.method == "doubled_magnitude"
    assert "doubled_magnitude" in methods("gradient") and "doubled_magnitude" in methods()
    with pytest.raises(ValueError, match="method='no_such_method' must be one of"):
        attribute(
            make_linear((F, N)),
            x,
            transform_config=TCFG,
            imaging_config=LINEAR_IMAGING,
            method="no_such_method",
        )
