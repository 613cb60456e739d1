"""Tests for saliency2signal.models: the CNN, the imaging wrapper and training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig
from saliency2signal.imaging import ImagingConfig, to_image
from saliency2signal.io import FORMATS, ModelMetadata, load_model, save_model
from saliency2signal.models import (
    ARCHITECTURES,
    ScalogramCNN,
    SpectrumClassifier,
    build_model,
    make_images,
    train_classifier,
)

TRANSFORM = SSQConfig(nv=8)
IMAGING = ImagingConfig(size=(32, 32))
SMALL = {"widths": [8, 16, 32]}


def peak_spectra(rng, n_signals=40, n=256):
    """Two classes of spectra: a Gaussian peak near sample 80 or near sample 176."""
    y = np.repeat([0, 1], n_signals // 2)
    centres = np.where(y == 0, 80, 176) + rng.integers(-6, 7, size=y.size)
    t = np.arange(n)
    x = np.exp(-0.5 * ((t - centres[:, None]) / 4.0) ** 2)
    x = x + 0.05 * rng.standard_normal((y.size, n))
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def trained():
    x, y = peak_spectra(np.random.default_rng(20240611))
    seen = []
    out = train_classifier(
        x,
        y,
        transform_config=TRANSFORM,
        imaging_config=IMAGING,
        class_names=["left", "right"],
        epochs=8,
        batch_size=8,
        lr=3e-3,
        seed=0,
        val_fraction=0.25,
        architecture_kwargs=SMALL,
        progress=seen.append,
    )
    return out, seen


# --------------------------------------------------------------------------- network
@pytest.mark.parametrize("size", [(64, 64), (128, 128), (40, 96)])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("batch", [1, 5])
def test_forward_shapes(size, channels, batch):
    torch.manual_seed(0)
    net = ScalogramCNN(in_channels=channels, n_classes=3).eval()
    out = net(torch.randn(batch, channels, *size))
    assert out.shape == (batch, 3)
    assert out.dtype == torch.float32


def test_parameter_count_and_file_size_budget():
    net = ScalogramCNN()
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 60530
    n_bytes = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    assert n_bytes < 2 * 1024**2


def test_cam_layer_is_last_block_with_spatial_output():
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(8, 16, 32, 32)).eval()
    assert net.cam_layer == "features.3"
    acts = {}
    layer = net.get_submodule(net.cam_layer)
    handle = layer.register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    net(torch.randn(2, 1, 64, 64))
    handle.remove()
    assert acts["a"].shape == (2, 32, 8, 8)


def test_architecture_kwargs_rebuild_same_shapes():
    net = ScalogramCNN(in_channels=3, n_classes=4, widths=(4, 8), dropout=0.1)
    again = build_model("ScalogramCNN", **net.architecture_kwargs)
    assert set(ARCHITECTURES) == {"ScalogramCNN"}
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in net.state_dict().items()
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_classes": 1}, ValueError, "n_classes=1"),
        ({"in_channels": 0}, ValueError, "in_channels=0"),
        ({"widths": ()}, ValueError, "widths"),
        ({"widths": "abc"}, TypeError, "widths"),
        ({"dropout": 1.0}, ValueError, "dropout=1.0"),
        ({"coord_channels": 1}, TypeError, "coord_channels=1"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ScalogramCNN(**kwargs)


# --------------------------------------------------------------------------- CoordConv
def first_conv_input(net: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    """What the first convolution of ``net`` receives for ``image``."""
    seen = []
    handle = net.features[0].conv.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    with torch.no_grad():
        net(image)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("size", [(32, 32), (40, 96)])
@pytest.mark.parametrize("channels", [1, 3])
def test_coord_channels_are_appended_to_the_input(rng, size, channels):
    h, w = size
    net = ScalogramCNN(in_channels=channels, widths=(4, 8), coord_channels=True).eval()
    image = torch.as_tensor(rng.standard_normal((2, channels, h, w)), dtype=torch.float32)
    seen = first_conv_input(net, image)
    assert seen.shape == (2, channels + 2, h, w)
    torch.testing.assert_close(seen[:, :channels], image, rtol=0, atol=0)
    rows = torch.linspace(-1, 1, h)[:, None].expand(h, w)
    cols = torch.linspace(-1, 1, w)[None, :].expand(h, w)
    torch.testing.assert_close(seen[:, channels], rows.expand(2, h, w), rtol=0, atol=0)
    torch.testing.assert_close(seen[:, channels + 1], cols.expand(2, h, w), rtol=0, atol=0)
    assert net.features[0].conv.in_channels == channels + 2
    assert net.architecture_kwargs["coord_channels"] is True


def test_coord_channels_make_a_translated_pattern_look_different():
    """Without borders to go by, only the coordinates can tell two positions apart."""
    torch.manual_seed(0)
    image = torch.zeros(2, 1, 32, 32)
    image[0, 0, 10:14, 4:8] = 1.0
    image[1, 0, 10:14, 20:24] = 1.0  # the same blob, far from every border
    plain = ScalogramCNN(widths=(4,)).eval()  # one block: receptive field 3x3
    coord = ScalogramCNN(widths=(4,), coord_channels=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(image)[0], plain(image)[1])
        assert not torch.allclose(coord(image)[0], coord(image)[1])


def test_coord_channels_off_by_default_is_the_old_network():
    old_kwargs = {"in_channels": 1, "n_classes": 2, "widths": [4, 8], "dropout": 0.0}
    torch.manual_seed(0)
    old = build_model("ScalogramCNN", **old_kwargs).eval()  # a model file from before
    torch.manual_seed(0)
    new = ScalogramCNN(widths=(4, 8)).eval()
    assert new.architecture_kwargs == {**old_kwargs, "coord_channels": False}
    assert new.features[0].conv.in_channels == 1
    assert {k: v.shape for k, v in old.state_dict().items()} == {
        k: v.shape for k, v in new.state_dict().items()
    }
    image = torch.randn(3, 1, 32, 32)
    assert first_conv_input(new, image).shape == (3, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(new(image), old(image), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("fmt", "size"),
    # TorchScript and state_dict files take any image size; the coordinates are made
    # in forward for the size given. torch.export specialises to the saved input shape.
    [(fmt, (32, 32)) for fmt in FORMATS] + [(fmt, (40, 96)) for fmt in FORMATS if fmt != "export"],
)
def test_coord_channels_survive_save_and_load(tmp_path, rng, fmt, size):
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(4, 8, 8), coord_channels=True)
    with torch.no_grad():  # non-trivial batch-norm statistics
        net(torch.randn(8, 1, 32, 32) * 2 + 1)
    net.eval()
    meta = ModelMetadata(transform=TRANSFORM, imaging=IMAGING, class_names=["a", "b"], n_times=256)
    path = save_model(net, tmp_path / "m.pt", metadata=meta, format=fmt)
    loaded = load_model(path)
    rebuilt, _ = load_model(path, rebuild=True)
    assert loaded.metadata.architecture_kwargs["coord_channels"] is True
    assert rebuilt.coord_channels
    image = torch.as_tensor(rng.standard_normal((2, 1, *size)), dtype=torch.float32)
    with torch.no_grad():
        expected = net(image)
        torch.testing.assert_close(loaded.model(image), expected, rtol=0, atol=0)
        torch.testing.assert_close(rebuilt(image), expected, rtol=0, atol=0)


def test_coord_channels_are_recorded_by_training(rng):
    x, y = peak_spectra(rng, n_signals=8, n=64)
    out = train_classifier(
        x,
        y,
        transform_config=TRANSFORM,
        imaging_config=ImagingConfig(size=(16, 16)),
        class_names=["a", "b"],
        epochs=1,
        batch_size=4,
        val_fraction=0.0,
        architecture_kwargs={"widths": [4], "coord_channels": True},
    )
    assert out.metadata.architecture_kwargs["coord_channels"] is True
    assert out.model.features[0].conv.in_channels == 3


def test_build_model_unknown_architecture():
    with pytest.raises(ValueError, match="'ResNet'"):
        build_model("ResNet")


def test_spectrum_classifier_equals_imaging_then_net(rng):
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(4, 8)).eval()
    coef = (
        torch.as_tensor(rng.standard_normal((2, 30, 70)) + 1j * rng.standard_normal((2, 30, 70)))
        .to(torch.complex64)
        .requires_grad_(True)
    )
    clf = SpectrumClassifier(net, imaging_config=IMAGING)
    out = clf(coef)
    torch.testing.assert_close(out, net(to_image(coef, IMAGING)))
    out[:, 1].sum().backward()
    assert coef.grad is not None
    assert coef.grad.shape == coef.shape


def test_make_images_matches_transform_and_is_batch_consistent(rng):
    x = rng.standard_normal((5, 128)).astype(np.float32)
    imgs = make_images(x, transform_config=TRANSFORM, imaging_config=IMAGING, chunk_size=2)
    one = make_images(x[3:4], transform_config=TRANSFORM, imaging_config=IMAGING)
    assert imgs.shape == (5, 1, 32, 32)
    assert imgs.dtype == torch.float32
    assert not imgs.requires_grad
    torch.testing.assert_close(imgs[3:4], one, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- training
def test_training_learns_peak_position(trained):
    out, seen = trained
    assert out.val_accuracy >= 0.9
    assert out.train_accuracy >= 0.9
    assert len(out.history) == 8
    assert seen == list(out.history)
    assert out.history[-1].val_loss < out.history[0].val_loss
    assert not out.model.training


def test_training_split_is_stratified_and_disjoint(trained):
    out, _ = trained
    y = np.repeat([0, 1], 20)
    assert np.intersect1d(out.train_indices, out.val_indices).size == 0
    assert out.train_indices.size + out.val_indices.size == 40
    np.testing.assert_array_equal(np.bincount(y[out.val_indices]), [5, 5])


def test_training_metadata(trained):
    out, _ = trained
    meta = out.metadata
    assert meta.class_names == ("left", "right")
    assert meta.n_times == 256
    assert meta.transform == TRANSFORM
    assert meta.imaging == IMAGING
    assert meta.architecture == "ScalogramCNN"
    assert meta.architecture_kwargs == out.model.architecture_kwargs
    assert meta.extra["training"]["val_accuracy"] == out.val_accuracy
    assert meta.extra["training"]["seed"] == 0


def test_training_is_reproducible_and_leaves_global_rng_alone(rng):
    x, y = peak_spectra(rng, n_signals=12, n=128)
    kw = dict(
        transform_config=TRANSFORM,
        imaging_config=ImagingConfig(size=(16, 16)),
        class_names=["a", "b"],
        epochs=2,
        batch_size=4,
        seed=7,
        architecture_kwargs={"widths": [4, 8], "dropout": 0.2},
    )
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = train_classifier(x, y, **kw)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = train_classifier(x, y, **kw)
    c = train_classifier(x, y, **{**kw, "seed": 8})
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.history == b.history
    assert not torch.are_deterministic_algorithms_enabled()


def test_training_accepts_label_names(rng):
    x, y = peak_spectra(rng, n_signals=8, n=64)
    names = np.array(["a", "b"])[y]
    out = train_classifier(
        x,
        names,
        transform_config=TRANSFORM,
        imaging_config=ImagingConfig(size=(16, 16)),
        class_names=["a", "b"],
        epochs=1,
        batch_size=4,
        val_fraction=0.0,
        architecture_kwargs={"widths": [4]},
    )
    assert out.val_indices.size == 0
    assert np.isnan(out.val_accuracy)
    assert out.metadata.extra["training"]["val_accuracy"] is None


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"y": [0, 1, 2, 0]}, ValueError, "class index 2"),
        ({"y": [0, 1, 0]}, ValueError, r"expected \(4,\)"),
        ({"y": ["a", "b", "c", "a"]}, ValueError, r"\['c'\]"),
        ({"y": [0.0, 1.0, 0.0, 1.0]}, TypeError, "float64"),
        ({"class_names": ["a"]}, ValueError, "two distinct"),
        ({"class_names": "ab"}, TypeError, "class_names"),
        ({"epochs": 0}, ValueError, "epochs=0"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction=1.0"),
        ({"length_policy": "stretch"}, ValueError, "stretch"),
        ({"transform_config": "gmw"}, TypeError, "SSQConfig"),
    ],
)
def test_training_rejects_bad_input(rng, change, error, match):
    kw = dict(
        y=[0, 1, 0, 1],
        transform_config=TRANSFORM,
        imaging_config=IMAGING,
        class_names=["a", "b"],
        epochs=1,
    )
    kw.update(change)
    y = kw.pop("y")
    with pytest.raises(error, match=match):
        train_classifier(rng.standard_normal((4, 64)).astype(np.float32), y, **kw)
