"""Imaging equals a plain NumPy/scikit-image/matplotlib pipeline; it is differentiable;
the pull-back is the exact adjoint of the geometry."""

import matplotlib
import numpy as np
import pytest
import torch
from skimage.transform import resize

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.imaging import ImagingConfig, heatmap_from_png, pull_back, to_image


def reference(coef, cfg: ImagingConfig):
    """The same image, the straightforward way (one 2-D map)."""
    v = np.abs(coef).astype(np.float64)
    if cfg.quantity == "power":
        v = v**2
    if cfg.scale == "log1p":
        v = np.log1p(cfg.gain * v)
    elif cfg.scale == "db":
        factor = 10 if cfg.quantity == "power" else 20
        db = factor * np.log10(np.maximum(v, np.finfo(np.float64).tiny))
        v = np.maximum(db - db.max(), -cfg.top_db)
    if cfg.normalize == "minmax":
        v = (v - v.min()) / (v.max() - v.min())
    elif cfg.normalize == "standardize":
        v = (v - v.mean()) / v.std()
    elif cfg.normalize == "fixed":
        v = (v - cfg.fixed_range[0]) / (cfg.fixed_range[1] - cfg.fixed_range[0])
    elif cfg.normalize == "meanstd":
        v = (v - cfg.mean) / cfg.std
    if cfg.size is not None:
        v = resize(v, cfg.size, order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    if cfg.flip_rows:
        v = v[::-1]
    if cfg.colormap is not None:
        return matplotlib.colormaps[cfg.colormap](np.clip(v, 0, 1))[..., :3].transpose(2, 0, 1)
    return np.repeat(v[None], cfg.channels, axis=0)


@pytest.fixture(scope="module")
def tx():
    n = np.arange(600)
    x = np.cos(2 * np.pi * (0.02 * n + 0.15 * n**2 / 600)) + 0.3 * np.cos(0.9 * n)
    return ssq_cwt(x, SSQConfig(nv=16, dtype="float64")).Tx


CONFIGS = [
    ImagingConfig(),
    ImagingConfig(quantity="power", scale="log1p", gain=50.0, normalize="standardize"),
    ImagingConfig(scale="db", top_db=60.0, size=(64, 128), flip_rows=True),
    ImagingConfig(scale="db", size=(200, 900), colormap="viridis"),
    ImagingConfig(
        scale="log1p", normalize="fixed", fixed_range=(0.0, 0.2), size=(33, 47), colormap="magma"
    ),
    ImagingConfig(normalize="meanstd", mean=0.05, std=0.1, channels=3),
    ImagingConfig(scale="db", colormap="jet", flip_rows=True),
    ImagingConfig(colormap="gray", size=(50, 50)),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_matches_reference_pipeline(tx, cfg):
    img = to_image(tx, cfg)
    ref = reference(tx.numpy(), cfg)
    assert img.shape == (1, cfg.n_channels, *ref.shape[-2:])
    # colormaps: matplotlib picks one of its 256 entries (floor of 256 v), we interpolate
    # between neighbours (differentiable): they differ by at most one step of the table
    tol = 1e-9
    if cfg.colormap:
        lut = matplotlib.colormaps[cfg.colormap].resampled(256)(np.linspace(0, 1, 256))
        tol = 1.01 * np.abs(np.diff(lut[:, :3], axis=0)).max()
    np.testing.assert_allclose(img[0].numpy(), ref, rtol=0, atol=tol)


def test_batch_and_dtype(tx):
    batch = torch.stack([tx, 2 * tx, tx.conj()])
    cfg = ImagingConfig(scale="db", size=(40, 80))
    img = to_image(batch, cfg)
    assert img.shape == (3, 1, 40, 80) and img.dtype == torch.float64
    torch.testing.assert_close(img[0], img[2])
    torch.testing.assert_close(img[0], img[1])  # db + minmax: invariant to scaling
    assert to_image(batch.to(torch.complex64), cfg).dtype == torch.float32


@pytest.mark.parametrize(
    "cfg",
    [
        ImagingConfig(scale="log1p", size=(7, 9), flip_rows=True),
        ImagingConfig(scale="db", normalize="standardize", size=(5, 11)),
        ImagingConfig(size=(6, 6), colormap="viridis", normalize="fixed", fixed_range=(0, 3)),
    ],
    ids=["log1p", "db-std", "cmap"],
)
def test_gradcheck(cfg, rng):
    c = torch.from_numpy(rng.standard_normal((4, 10)) + 1j * rng.standard_normal((4, 10)))
    c.requires_grad_()
    assert torch.autograd.gradcheck(lambda z: to_image(z, cfg), (c,), eps=1e-7, atol=1e-5)


@pytest.mark.parametrize(
    "cfg",
    [
        ImagingConfig(size=(13, 29), flip_rows=True),
        ImagingConfig(size=(40, 100)),
        ImagingConfig(flip_rows=True),
    ],
)
def test_pull_back_is_the_adjoint(cfg, rng):
    grid = (20, 50)
    g = torch.from_numpy(rng.standard_normal(grid))
    hw = cfg.size or grid
    h = torch.from_numpy(rng.standard_normal(hw))
    cfg_lin = ImagingConfig(normalize="none", size=cfg.size, flip_rows=cfg.flip_rows)
    # <image(g), h> == <g, pull_back(h)> for the linear part of imaging
    lhs = (to_image(g, cfg_lin)[0, 0] * h).sum()
    rhs = (g * pull_back(h, cfg, grid)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_native_attribution_equals_pulled_back_pixel_attribution(rng):
    # a linear model on the image: pixel gradient pulled back == gradient on the grid
    cfg = ImagingConfig(normalize="none", size=(16, 24), flip_rows=True)
    w = torch.from_numpy(rng.standard_normal((16, 24)))
    grid = torch.from_numpy(rng.uniform(size=(10, 30))).requires_grad_()
    (native,) = torch.autograd.grad((to_image(grid, cfg)[0, 0] * w).sum(), grid)
    torch.testing.assert_close(pull_back(w, cfg, (10, 30)), native, rtol=1e-12, atol=1e-12)


def test_pull_back_sums_channels_and_keeps_totals(rng):
    cfg = ImagingConfig(size=(8, 8), colormap="viridis")
    h = torch.from_numpy(rng.uniform(size=(2, 3, 8, 8)))
    back = pull_back(h, cfg, (8, 8))
    assert back.shape == (2, 8, 8)
    torch.testing.assert_close(back, h.sum(-3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantity": "phase"}, "quantity"),
        ({"scale": "log"}, "scale"),
        ({"normalize": "fixed"}, "fixed_range"),
        ({"normalize": "fixed", "fixed_range": (1.0, 1.0)}, "lo < hi"),
        ({"normalize": "meanstd", "mean": 0.0}, "mean= and std="),
        ({"size": (0, 4)}, "size"),
        ({"colormap": "rainbow"}, "colormap"),
        ({"channels": 0}, "channels"),
    ],
)
def test_invalid_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImagingConfig(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="expected"):
        to_image(torch.ones(4))
    with pytest.raises(TypeError, match="dtype"):
        to_image(torch.ones(4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="gives images of"):
        pull_back(torch.ones(5, 5), ImagingConfig(size=(4, 4)), (10, 10))


def test_json_round_trip():
    cfg = ImagingConfig(
        scale="db", size=(64, 32), colormap="magma", normalize="fixed", fixed_range=(-80, 0)
    )
    assert ImagingConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        ImagingConfig.from_dict({"sizes": [1, 2]})


@pytest.mark.parametrize("cmap", [None, "jet", "viridis"])
def test_heatmap_png_round_trip_and_pull_back(tmp_path, rng, cmap):
    import matplotlib.image

    heat = rng.uniform(size=(32, 48))
    path = tmp_path / "gradcam.png"
    matplotlib.image.imsave(path, heat, cmap=cmap or "gray", vmin=0, vmax=1)
    back = heatmap_from_png(path, colormap=cmap)
    assert back.shape == heat.shape
    err = np.abs(back - heat)
    # 8-bit colours and flat stretches of a colormap (jet saturates its blue end) limit
    # how finely a colour can be inverted; gray levels are exact to one level
    assert err.mean() < 2 / 255
    assert err.max() < (0.025 if cmap else 2.5 / 255)
    cfg = ImagingConfig(size=(32, 48), flip_rows=True)
    grid = pull_back(back, cfg, (20, 60))
    assert grid.shape == (20, 60)
    np.testing.assert_allclose(float(grid.sum()), back.sum(), rtol=1e-9)


def test_heatmap_png_errors(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="cannot read"):
        heatmap_from_png(bad)
    ok = tmp_path / "ok.png"
    import matplotlib.image

    matplotlib.image.imsave(ok, np.zeros((4, 4)), cmap="gray")
    with pytest.raises(ValueError, match="not a matplotlib colormap"):
        heatmap_from_png(ok, colormap="nope")


def test_antialias_matches_pillow_bilinear(rng):
    # torch's antialiased bilinear resize is Pillow's (triangle filter widened by the
    # shrink factor); Pillow's float ("F") images give an independent reference
    from PIL import Image

    g = rng.uniform(size=(40, 150)).astype(np.float32)
    cfg = ImagingConfig(normalize="none", size=(16, 24), antialias=True)
    ours = to_image(torch.from_numpy(g), cfg)[0, 0].numpy()
    ref = np.asarray(Image.fromarray(g, mode="F").resize((24, 16), Image.BILINEAR))
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_antialias_lets_every_cell_reach_the_image(rng):
    grid = torch.from_numpy(rng.uniform(size=(40, 200))).requires_grad_()
    seen = {}
    for aa in (False, True):
        cfg = ImagingConfig(normalize="none", size=(10, 20), antialias=aa)
        (g,) = torch.autograd.grad(to_image(grid, cfg).sum(), grid)
        seen[aa] = float((g != 0).float().mean())
    assert seen[False] < 0.2  # a shrink by 4 and 10 reads only a lattice of cells
    assert seen[True] == 1.0


def test_antialias_gradcheck_adjoint_and_json(rng):
    cfg = ImagingConfig(scale="log1p", size=(5, 7), antialias=True)
    c = torch.from_numpy(rng.standard_normal((12, 30)) + 1j * rng.standard_normal((12, 30)))
    c.requires_grad_()
    assert torch.autograd.gradcheck(lambda z: to_image(z, cfg), (c,), eps=1e-7, atol=1e-5)
    g = torch.from_numpy(rng.standard_normal((12, 30)))
    h = torch.from_numpy(rng.standard_normal((5, 7)))
    lin = ImagingConfig(normalize="none", size=(5, 7), antialias=True)
    lhs = (to_image(g, lin)[0, 0] * h).sum()
    torch.testing.assert_close(
        lhs, (g * pull_back(h, lin, (12, 30))).sum(), rtol=1e-12, atol=1e-12
    )
    assert ImagingConfig.from_json(cfg.to_json()) == cfg
    assert ImagingConfig.from_dict({"size": [5, 7]}).antialias is False  # old files
    with pytest.raises(TypeError, match="antialias"):
        ImagingConfig(antialias=1)


# ------------------------------------------- fused pointwise + resize (the fast path)
def plain_chain(v, cfg: ImagingConfig):
    """The imaging of a real map spelled out in torch ops, differentiated by autograd."""
    if cfg.quantity == "power":
        v = v * v
    if cfg.scale == "log1p":
        v = torch.log1p(cfg.gain * v)
    if cfg.normalize == "fixed":
        v = (v - cfg.fixed_range[0]) / (cfg.fixed_range[1] - cfg.fixed_range[0])
    elif cfg.normalize == "meanstd":
        v = (v - cfg.mean) / cfg.std
    v = torch.nn.functional.interpolate(
        v, size=cfg.size, mode="bilinear", align_corners=False, antialias=cfg.antialias
    )
    return v.flip(-2) if cfg.flip_rows else v


def graph_nodes(t):
    names, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is not None:
            names.add(type(fn).__name__)
            todo.extend(f for f, _ in fn.next_functions)
    return names


NORMALIZATIONS = {
    "none": {},
    "meanstd": {"mean": 0.1, "std": 0.3},
    "fixed": {"fixed_range": (-0.5, 2.0)},
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size", [(12, 40), (70, 400), (30, 25)], ids=["down", "up", "mixed"])
@pytest.mark.parametrize("antialias", [False, True], ids=["bilinear", "antialias"])
@pytest.mark.parametrize("normalize", list(NORMALIZATIONS))
@pytest.mark.parametrize(
    "quantity,scale",
    [("magnitude", "log1p"), ("power", "log1p"), ("power", "linear"), ("magnitude", "linear")],
)
def test_fast_path_equals_autograd_chain(rng, quantity, scale, normalize, antialias, size, dtype):
    # a map that needs grad goes through _PointwiseResize: the same image and gradient
    # as autograd through the plain chain of torch ops, bit for bit
    cfg = ImagingConfig(
        quantity=quantity,
        scale=scale,
        gain=7.0,
        normalize=normalize,
        size=size,
        antialias=antialias,
        flip_rows=True,
        **NORMALIZATIONS[normalize],
    )
    v = torch.from_numpy(rng.uniform(0, 2, size=(3, 1, 37, 150))).to(dtype)
    grad_out = torch.from_numpy(rng.standard_normal((3, 1, *size))).to(dtype)
    v1 = v.clone().requires_grad_()
    img = to_image(v1, cfg)
    (grad,) = torch.autograd.grad(img, v1, grad_out)
    v2 = v.clone().requires_grad_()
    ref = plain_chain(v2, cfg)
    (ref_grad,) = torch.autograd.grad(ref, v2, grad_out)
    torch.testing.assert_close(img, ref, rtol=0, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=0)
    pointwise = (quantity, scale, normalize) != ("magnitude", "linear", "none")
    assert ("_PointwiseResizeBackward" in graph_nodes(img)) == pointwise
    with torch.no_grad():  # without grad the plain chain runs: the same image
        torch.testing.assert_close(to_image(v, cfg), ref.detach(), rtol=0, atol=0)


@pytest.mark.parametrize(
    "cfg",
    [
        ImagingConfig(
            quantity="power",
            scale="log1p",
            gain=3.0,
            normalize="meanstd",
            mean=0.2,
            std=0.5,
            size=(5, 9),
            antialias=True,
            flip_rows=True,
        ),
        ImagingConfig(scale="log1p", normalize="none", size=(17, 40)),
        ImagingConfig(
            quantity="power",
            normalize="fixed",
            fixed_range=(0, 2),
            size=(6, 7),
            colormap="viridis",
        ),
    ],
    ids=["power-log1p-meanstd-aa", "log1p-up", "power-fixed-cmap"],
)
def test_fast_path_gradcheck(cfg, rng):
    v = torch.from_numpy(rng.uniform(0.1, 2, size=(2, 12, 30))).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: to_image(z, cfg), (v,), eps=1e-7, atol=1e-5)
    c = torch.from_numpy(rng.standard_normal((12, 30)) + 1j * rng.standard_normal((12, 30)))
    c.requires_grad_()  # through |c| as well
    assert torch.autograd.gradcheck(lambda z: to_image(z, cfg), (c,), eps=1e-7, atol=1e-5)


def test_fast_path_backward_twice(rng):
    cfg = ImagingConfig(quantity="power", scale="log1p", normalize="none", size=(8, 8))
    v = torch.from_numpy(rng.uniform(size=(20, 50))).requires_grad_()
    img = to_image(v, cfg)
    first = torch.autograd.grad(img.sum(), v, retain_graph=True)[0]
    second = torch.autograd.grad(img.sum(), v)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_magnitude_equals_torch_abs(dtype):
    from saliency2signal._grid import magnitude as _magnitude

    g = torch.Generator().manual_seed(3)
    scale = torch.logspace(-20, 20, 64, dtype=torch.float64).to(dtype)
    tx = torch.randn(3, 16, 64, dtype=dtype, generator=g) * scale
    got, ref = _magnitude(tx), tx.abs()
    assert got.dtype == ref.dtype and got.shape == ref.shape
    eps = torch.finfo(ref.dtype).eps
    torch.testing.assert_close(got, ref, rtol=4 * eps, atol=0)
    # a lazily conjugated view (conj bit set) has the same magnitude
    torch.testing.assert_close(_magnitude(tx.conj()), ref, rtol=4 * eps, atol=0)
    # to_image of complex input takes this magnitude
    torch.testing.assert_close(
        to_image(tx, ImagingConfig(normalize="none")), got.reshape(3, 1, 16, 64), rtol=0, atol=0
    )
    # with gradients it is torch's own abs, differentiable
    t = tx.clone().requires_grad_()
    out = _magnitude(t)
    assert out.requires_grad
    out.sum().backward()
    assert t.grad is not None


@pytest.mark.parametrize("normalize", list(NORMALIZATIONS))
@pytest.mark.parametrize(
    "quantity,scale",
    [("magnitude", "log1p"), ("power", "log1p"), ("power", "linear"), ("magnitude", "linear")],
)
def test_in_place_imaging_equals_the_plain_chain(rng, quantity, scale, normalize):
    # without autograd, |c| of complex input is a fresh tensor that the steps update in
    # place: the same image, bit for bit; a real input is never written to
    from saliency2signal._grid import magnitude as _magnitude

    cfg = ImagingConfig(
        quantity=quantity,
        scale=scale,
        gain=7.0,
        normalize=normalize,
        size=(12, 40),
        **NORMALIZATIONS[normalize],
    )
    c = torch.from_numpy(
        rng.standard_normal((3, 37, 150)) + 1j * rng.standard_normal((3, 37, 150))
    ).to(torch.complex64)
    ref = plain_chain(_magnitude(c).reshape(3, 1, 37, 150), cfg)
    with torch.no_grad():
        torch.testing.assert_close(to_image(c, cfg), ref, rtol=0, atol=0)
    torch.testing.assert_close(to_image(c, cfg), ref, rtol=0, atol=0)  # grad mode on
    v = _magnitude(c)
    kept = v.clone()
    with torch.no_grad():
        torch.testing.assert_close(to_image(v, cfg), ref, rtol=0, atol=0)
    torch.testing.assert_close(v, kept, rtol=0, atol=0)


def test_pull_back_of_three_heatmaps_is_a_batch_not_channels(rng):
    # a batch of 3 heatmaps of an RGB imaging: 3 grids, not one summed over "channels"
    cfg = ImagingConfig(size=(8, 8), colormap="viridis")
    h = torch.from_numpy(rng.uniform(size=(3, 8, 8)))
    back = pull_back(h, cfg, (8, 8))
    assert back.shape == (3, 8, 8)
    torch.testing.assert_close(back, h)
