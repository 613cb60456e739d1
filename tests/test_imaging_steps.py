"""Ordered imaging steps (and imaging callables) wherever the core takes an imaging."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from saliency2signal import SSQConfig
from saliency2signal.imaging import ImagingConfig, pull_back, to_image
from saliency2signal.metadata import ModelMetadata
from saliency2signal.pipeline import (
    ChannelMeanStd,
    Channels,
    Colormap,
    Crop,
    FlipRows,
    ImagingSteps,
    Log1p,
    MinMax,
    Pad,
    QuantizeUint8,
    Resize,
    apply_steps,
)
from saliency2signal.saliency import attribute

RGB = ImagingSteps(
    [
        FlipRows(),
        Log1p(gain=3.0),
        Resize(size=(24, 20), antialias="skimage"),
        MinMax(),
        Colormap(name="viridis"),
        QuantizeUint8(),
        ChannelMeanStd(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    ]
)
GEOMETRIES = [
    [Resize(size=(9, 31), antialias="skimage")],
    [Resize(size=(9, 31), method="bicubic", antialias="pil"), FlipRows()],
    [Pad(top=2, left=3, value=0.0), Resize(size=(16, 16), antialias="torch")],
    [Crop(top=1, left=4, height=12, width=30), FlipRows(), Pad(bottom=2, mode="edge")],
]


class _Net(nn.Module):
    def __init__(self, channels: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


@pytest.mark.parametrize("steps", GEOMETRIES + [RGB.steps, [Channels(n_channels=4)]])
def test_image_shape_is_the_shape_the_steps_make(steps):
    imaging = ImagingSteps(steps)
    img = imaging(torch.rand(2, 20, 40, dtype=torch.float64))
    assert imaging.image_shape((20, 40)) == tuple(img.shape[1:])


def test_image_shape_refuses_steps_that_do_not_fit():
    with pytest.raises(ValueError, match=r"steps\[0\] \(crop\).*beyond the 20 x 40 image"):
        ImagingSteps([Crop(top=0, left=0, height=30, width=10)]).image_shape((20, 40))
    with pytest.raises(ValueError, match="statistics for 3 channels; the image has 1"):
        ImagingSteps([ChannelMeanStd(mean=(0, 0, 0), std=(1, 1, 1))]).image_shape((20, 40))


@pytest.mark.parametrize("steps", GEOMETRIES)
def test_pull_back_is_the_adjoint_of_the_geometry(steps, rng):
    imaging = ImagingSteps(steps)
    g = torch.from_numpy(rng.standard_normal((2, 20, 40)))
    img = imaging(g)[:, 0]
    h = torch.from_numpy(rng.standard_normal(img.shape))
    lhs = (img * h).sum()
    if any(isinstance(s, Pad) and s.mode == "constant" and s.value for s in steps):
        pytest.skip("affine, not linear")
    rhs = (g * pull_back(h, imaging, (20, 40))).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_pull_back_equals_the_configs_for_the_same_geometry(rng):
    h = torch.from_numpy(rng.uniform(size=(3, 16, 20)))
    cfg = ImagingConfig(size=(16, 20), flip_rows=True, antialias=True)
    steps = ImagingSteps([Log1p(), Resize(size=(16, 20), antialias="torch"), FlipRows()])
    torch.testing.assert_close(pull_back(h, steps, (40, 100)), pull_back(h, cfg, (40, 100)))
    # channels of a 4-D heatmap are summed, as for a config
    h4 = torch.from_numpy(rng.uniform(size=(2, 3, 24, 20)))
    torch.testing.assert_close(
        pull_back(h4, RGB, (30, 50)), pull_back(h4.sum(1), RGB, (30, 50)), rtol=0, atol=0
    )


def test_steps_equal_the_config_they_describe(rng):
    cfg = ImagingConfig(scale="log1p", gain=2.0, size=(16, 24), antialias=True, flip_rows=True)
    steps = ImagingSteps(
        [Log1p(gain=2.0), MinMax(), Resize(size=(16, 24), antialias="torch"), FlipRows()]
    )
    tx = torch.from_numpy(rng.standard_normal((3, 40, 90)) + 1j * rng.standard_normal((3, 40, 90)))
    torch.testing.assert_close(to_image(tx, steps), to_image(tx, cfg), rtol=1e-12, atol=1e-12)


def test_to_image_with_steps_and_callables(rng):
    mag = torch.from_numpy(rng.uniform(size=(2, 30, 50)))
    torch.testing.assert_close(to_image(mag, RGB), apply_steps(mag, RGB.steps), rtol=0, atol=0)

    def mine(v):
        return torch.log1p(v)[:, None].expand(-1, 3, -1, -1)

    torch.testing.assert_close(
        to_image(mag, mine), torch.log1p(mag)[:, None].expand(-1, 3, -1, -1)
    )
    with pytest.raises(ValueError, match=r"returned \(2, 30, 50\).*must return images"):
        to_image(mag, torch.log1p)
    with pytest.raises(
        TypeError, match="config must be an ImagingConfig, an ImagingSteps or a callable"
    ):
        to_image(mag, "viridis")
    with pytest.raises(ValueError, match="imaging callable has no known geometry"):
        pull_back(torch.ones(2, 30, 50), mine, (30, 50))


def test_metadata_with_steps_round_trips_and_says_version_2():
    meta = ModelMetadata(
        transform=SSQConfig(nv=8), imaging=RGB, class_names=["a", "b"], n_times=256
    )
    assert meta.input_shape == (3, 24, 20)
    record = meta.to_dict()
    assert record["format_version"] == 2 and record["imaging"]["steps"][0] == {"kind": "flip_rows"}
    assert ModelMetadata.from_json(meta.to_json()) == meta
    plain = ModelMetadata(
        transform=SSQConfig(nv=8), imaging=ImagingConfig(), class_names=["a", "b"], n_times=256
    )
    assert plain.to_dict()["format_version"] == 1  # files older versions can still read
    with pytest.raises(ValueError, match=r"steps\[0\] \(crop\).*beyond"):
        ModelMetadata(
            transform=SSQConfig(nv=8),
            imaging=ImagingSteps([Crop(top=0, left=0, height=999, width=4)]),
            class_names=["a", "b"],
            n_times=256,
        )


def test_gradient_through_steps_is_autograds(rng):
    """Saliency on |Tx| through the steps equals torch.autograd on the same chain."""
    torch.manual_seed(0)
    net = _Net().double().eval()
    tcfg = SSQConfig(nv=8)
    x = rng.standard_normal((2, 256))
    # no quantisation: its straight-through gradient is the identity anyway
    steps = ImagingSteps([s for s in RGB.steps if not isinstance(s, QuantizeUint8)])
    res = attribute(net, x, transform_config=tcfg, imaging_config=steps, method="saliency")
    mag = res.Tx.abs().detach().clone().requires_grad_(True)
    logits = net(apply_steps(mag, steps.steps))
    picked = logits.gather(1, res.target.reshape(-1, 1)).sum()
    (grad,) = torch.autograd.grad(picked, mag)
    torch.testing.assert_close(res.attribution, grad.abs(), rtol=1e-10, atol=1e-12)


def test_explain_a_plain_cnn_through_steps_with_grad_cam(rng):
    from saliency2signal.explanation import explain

    torch.manual_seed(0)
    meta = ModelMetadata(
        transform=SSQConfig(nv=8), imaging=RGB, class_names=["a", "b"], n_times=256
    )
    x = rng.standard_normal((3, 256))
    ex = explain(
        _Net().eval(),
        x,
        metadata=meta,
        method="layer_gradcam",
        attribute_options={"layer": "conv"},
        n_null=0,
        peaks=False,
    )
    assert ex.attribution.shape == (3, meta.transform.n_freqs(256), 256)
    assert np.isfinite(ex.attribution).all() and np.abs(ex.attribution).sum() > 0
    assert ex.to_json()["imaging"] == RGB.to_dict()


def test_explain_with_an_imaging_callable_and_no_metadata(rng):
    from saliency2signal.explanation import explain

    torch.manual_seed(0)

    def imaging(v):
        return torch.nn.functional.interpolate(torch.log1p(v)[:, None], size=(16, 16))

    ex = explain(
        _Net(channels=1).eval(),
        rng.standard_normal((2, 256)),
        transform_config=SSQConfig(nv=8),
        imaging_config=imaging,
        class_names=["a", "b"],
        n_null=0,
        peaks=False,
    )
    assert ex.attribution.shape[0] == 2
    assert ex.to_json()["imaging"]["callable"].endswith("imaging")
