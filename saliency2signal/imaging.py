"""From coefficients to the image a CNN sees, differentiably, with its geometry.

The model does not see ``Tx``: it sees an image made from it — magnitude or power, maybe
a log, a normalisation, a resize, a row flip, a colormap and channels. :func:`to_image`
does all of it with torch operations, so an attribution can be computed *through* the
imaging step onto the native ``(freq, time)`` grid; :func:`pull_back` carries a heatmap
computed on image pixels (say a Grad-CAM map) back onto the grid by the adjoint of the
resize and flip — the exact chain rule for a linear map.

Every step is recorded in one frozen, JSON-serialisable :class:`ImagingConfig`.

May import: numpy, torch, Pillow, matplotlib and ``._scalogram_png`` (lazily, for
:func:`heatmap_from_png`), ``._grid``, ``._serialize``, ``._validation``; never
``saliency``, ``mask`` or the explanation stages.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ._grid import adjoint, magnitude
from ._serialize import JSONDataclass
from ._validation import as_tensor, check_bool, check_choice, check_positive

__all__ = ["ImagingConfig", "COLORMAPS", "to_image", "pull_back", "heatmap_from_png"]

#: Colormaps available for RGB images (interpolated through matplotlib's tables).
COLORMAPS = ("viridis", "magma", "jet", "gray")
_QUANTITIES = ("magnitude", "power")
_SCALES = ("linear", "log1p", "db")
_NORMALIZE = ("minmax", "standardize", "fixed", "meanstd", "none")


@dataclass(frozen=True)
class ImagingConfig(JSONDataclass):
    """How an image is made from coefficients (applied in this order).

    Parameters
    ----------
    quantity : {'magnitude', 'power'}
        ``|c|`` or ``|c|**2``.
    scale : {'linear', 'log1p', 'db'}
        ``v``, ``log1p(gain * v)``, or decibels ``10 log10`` (power) / ``20 log10``
        (magnitude) relative to the per-image maximum, floored at ``-top_db``.
    gain : float
        Factor inside ``log1p``.
    top_db : float
        Dynamic range kept by ``'db'`` (values below ``max - top_db`` are clipped).
    normalize : {'minmax', 'standardize', 'fixed', 'meanstd', 'none'}
        Per-image min–max to [0, 1]; per-image zero mean / unit std; a fixed range
        ``(lo, hi) -> [0, 1]``; a fixed ``(mean, std)`` (e.g. from training); nothing.
    fixed_range : (float, float), optional
        For ``'fixed'``.
    mean, std : float, optional
        For ``'meanstd'``.
    size : (int, int), optional
        Output ``(height, width)``; bilinear resize (``align_corners=False``), none if
        ``None``.
    antialias : bool
        Low-pass filter when the resize shrinks the grid (torch's ``antialias=True``:
        a triangle filter widened by the shrink factor, the same as Pillow's bilinear
        resize). Without it a shrinking bilinear resize reads only the two grid cells
        nearest each pixel centre, and the cells in between never reach the model —
        attributions then land on a sparse lattice of cells. Ignored without ``size``.
    flip_rows : bool
        Put the highest frequency in image row 0 (as ``imshow`` of an array with
        ``origin='upper'``); by default image row 0 is the lowest frequency, like ``Tx``.
    colormap : {None, 'viridis', 'magma', 'jet', 'gray'}
        Map the (0..1 normalised) image to RGB by linear interpolation in matplotlib's
        256-entry table; values are clipped to [0, 1] first.
    channels : int
        Repeat a single-channel image this many times (ignored with a colormap, which
        gives 3).

    Examples
    --------
    >>> cfg = ImagingConfig(scale="db", size=(64, 64), colormap="viridis")
    >>> ImagingConfig.from_json(cfg.to_json()) == cfg
    True
    """

    quantity: str = "magnitude"
    scale: str = "linear"
    gain: float = 1.0
    top_db: float = 80.0
    normalize: str = "minmax"
    fixed_range: tuple[float, float] | None = None
    mean: float | None = None
    std: float | None = None
    size: tuple[int, int] | None = None
    antialias: bool = False
    flip_rows: bool = False
    colormap: str | None = None
    channels: int = 1

    _TUPLE_FIELDS = ("fixed_range", "size")  # travel as JSON lists

    def __post_init__(self):  # noqa: D105 - validation
        set_ = functools.partial(object.__setattr__, self)
        check_choice(self.quantity, _QUANTITIES, "quantity")
        check_choice(self.scale, _SCALES, "scale")
        check_choice(self.normalize, _NORMALIZE, "normalize")
        set_("gain", check_positive(self.gain, "gain"))
        set_("top_db", check_positive(self.top_db, "top_db"))
        if self.normalize == "fixed":
            if self.fixed_range is None or len(self.fixed_range) != 2:
                raise ValueError(
                    f"normalize='fixed' needs fixed_range=(lo, hi), got {self.fixed_range!r}"
                )
            lo, hi = (float(v) for v in self.fixed_range)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"fixed_range={self.fixed_range!r} needs finite lo < hi")
            set_("fixed_range", (lo, hi))
        elif self.fixed_range is not None:
            set_("fixed_range", tuple(float(v) for v in self.fixed_range))
        if self.normalize == "meanstd":
            if self.mean is None or self.std is None:
                raise ValueError("normalize='meanstd' needs mean= and std=")
            set_("mean", float(self.mean))
            set_("std", check_positive(self.std, "std"))
        if self.size is not None:
            if len(self.size) != 2:
                raise ValueError(f"size={self.size!r} must be (height, width)")
            set_("size", tuple(check_positive(v, "size", integer=True) for v in self.size))
        check_choice(self.colormap, (None, *COLORMAPS), "colormap")
        set_("channels", check_positive(self.channels, "channels", integer=True))
        set_("flip_rows", check_bool(self.flip_rows, "flip_rows"))
        set_("antialias", check_bool(self.antialias, "antialias"))

    @property
    def n_channels(self) -> int:
        """Channels of the output image."""
        return 3 if self.colormap is not None else self.channels


@functools.lru_cache(maxsize=8)
def _lut(name: str) -> np.ndarray:
    import matplotlib  # imaging with a colormap needs matplotlib's tables

    cmap = matplotlib.colormaps[name].resampled(256)
    return cmap(np.linspace(0.0, 1.0, 256))[:, :3]


def _per_image(v: torch.Tensor, fn):
    flat = v.reshape(*v.shape[:-2], -1)
    return fn(flat).reshape(*v.shape[:-2], 1, 1)


def _resize(img: torch.Tensor, config: ImagingConfig) -> torch.Tensor:
    return torch.nn.functional.interpolate(
        img, size=config.size, mode="bilinear", align_corners=False, antialias=config.antialias
    )


def _resizes(shape, config: ImagingConfig) -> bool:
    return config.size is not None and tuple(shape[-2:]) != config.size


def _geometry(img: torch.Tensor, config: ImagingConfig) -> torch.Tensor:
    """Resize and flip (a linear map of the (freq, time) grid); input (B, 1, F, N)."""
    if _resizes(img.shape, config):
        img = _resize(img, config)
    if config.flip_rows:
        img = img.flip(-2)
    return img


def _affine(config: ImagingConfig) -> tuple[float, float] | None:
    """``(shift, divisor)`` of a normalisation with constants, ``None`` otherwise."""
    if config.normalize == "fixed":
        lo, hi = config.fixed_range
        return lo, hi - lo
    if config.normalize == "meanstd":
        return config.mean, config.std
    return None


def _pointwise_only(config: ImagingConfig) -> bool:
    """Whether the steps before the geometry are power, ``log1p`` and constants only."""
    return (
        config.scale != "db" and config.normalize != "minmax" and config.normalize != "standardize"
    )


def _fuses(v: torch.Tensor, config: ImagingConfig) -> bool:
    """Whether :class:`_PointwiseResize` makes this image (same values, cheaper gradient)."""
    pointwise = (
        config.quantity == "power" or config.scale == "log1p" or _affine(config) is not None
    )
    return (
        pointwise
        and _pointwise_only(config)
        and _resizes(v.shape, config)
        and torch.is_grad_enabled()
        and v.requires_grad
    )


def _pointwise(v: torch.Tensor, config: ImagingConfig, *, own: bool) -> torch.Tensor:
    """``affine(log1p(gain * v**p))`` of a :func:`_pointwise_only` config, in one buffer.

    The plain chain's kernels in its order, but each step in place: on ``v`` itself when
    it is ``own`` (made by the caller for this image, no autograd), else on a fresh
    tensor made by the first step. Returns ``v`` when the config has no such step.
    """
    power, log1p, affine = (config.quantity == "power", config.scale == "log1p", _affine(config))
    buf = v if own else None
    if power:
        buf = buf.mul_(v) if buf is not None else torch.mul(v, v)
    if log1p:
        buf = buf.mul_(config.gain) if buf is not None else torch.mul(v, config.gain)
        buf.log1p_()
    if affine is not None:
        buf = buf.sub_(affine[0]) if buf is not None else torch.sub(v, affine[0])
        buf.div_(affine[1])
    return v if buf is None else buf


class _PointwiseResize(torch.autograd.Function):
    """``resize(affine(log1p(gain * v**p)))`` with a backward that touches the grid little.

    The same operations as the plain chain in :func:`to_image` (power, ``log1p``, a
    normalisation with constants, the bilinear resize), in the same order and with the
    same kernels, so the image and the gradient are those autograd gives for the plain
    chain, bit for bit. But the plain chain allocates a grid-sized tensor for every
    step and for every step's gradient (six for ``log1p``); here the forward computes in
    place in one buffer, which then keeps ``gain * p + 1`` (the derivative of ``log1p``)
    for the backward, and the backward applies the chain rule in place on the resize's
    adjoint: two grid-sized tensors, few passes. When the grid is much larger than the
    image, as on the native grid of a long signal, fresh grid-sized memory, not the
    resize, is what the imaging costs.
    """

    @staticmethod
    def forward(ctx, v: torch.Tensor, config: ImagingConfig) -> torch.Tensor:
        power, log1p = config.quantity == "power", config.scale == "log1p"
        buf = _pointwise(v, config, own=False)
        img = _resize(buf, config)
        q1 = None
        if log1p:  # log1p(q)' = 1 / (q + 1): the buffer is free now, keep q + 1 in it
            q1 = (
                torch.mul(v, v, out=buf).mul_(config.gain)
                if power
                else torch.mul(v, config.gain, out=buf)
            )
            q1.add_(1)
        ctx.config, ctx.grid_shape = config, v.shape
        ctx.save_for_backward(v if power else None, q1)
        return img

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        config = ctx.config
        v, q1 = ctx.saved_tensors
        # the adjoint of the resize: the backward autograd records for F.interpolate
        adjoint = (
            torch.ops.aten._upsample_bilinear2d_aa_backward
            if config.antialias
            else torch.ops.aten.upsample_bilinear2d_backward
        )
        out = adjoint(
            grad.contiguous(), list(config.size), list(ctx.grid_shape), False, None, None
        )
        # autograd's formulas for the steps, last step first, in place
        affine = _affine(config)
        if affine is not None:
            out.div_(affine[1])
        if q1 is not None:
            out.div_(q1).mul_(config.gain)
        if v is not None:  # v * v: grad * v from each factor, i.e. twice (exactly)
            out.mul_(v).mul_(2)
        return out, None


def to_image(coef, config=None) -> torch.Tensor:
    """Make the model input ``(B, C, H, W)`` from coefficients ``(..., F, N)``.

    Parameters
    ----------
    coef : torch.Tensor or numpy.ndarray, shape (..., n_freqs, n_times)
        Complex ``Tx``/``Wx``, or a real map used as given (a magnitude, or any
        precomputed real image), lowest frequency in row 0. Leading dims are flattened
        into the batch.
    config : ImagingConfig, ImagingSteps or callable, optional
        The imaging (default ``ImagingConfig()``): a config, ordered steps
        (:class:`saliency2signal.pipeline.ImagingSteps`, as a pipeline file gives), or
        a callable ``magnitude (B, F, N) -> image (B, C, H, W)`` of torch operations.

    Returns
    -------
    torch.Tensor, shape (B, C, H, W)
        Real, in ``coef``'s real dtype and on its device; differentiable with respect to
        ``coef`` (away from ``|c| = 0`` and the clipping points).

    Examples
    --------
    >>> import torch
    >>> img = to_image(torch.ones(2, 30, 40, dtype=torch.complex64),
    ...                ImagingConfig(size=(16, 16), colormap="gray", normalize="none"))
    >>> img.shape
    torch.Size([2, 3, 16, 16])
    """
    config = ImagingConfig() if config is None else config
    c = as_tensor(coef, name="coef")
    if c.ndim < 2:
        raise ValueError(f"coef has shape {tuple(c.shape)}; expected (..., n_freqs, n_times)")
    if not (c.is_complex() or c.dtype.is_floating_point):
        raise TypeError(f"coef has dtype {c.dtype}; expected complex or floating point")
    v = magnitude(c) if c.is_complex() else c  # a real input is used as given (|Tx|)
    if not isinstance(config, ImagingConfig):
        from ._imagings import call_imaging, check_imaging

        return call_imaging(check_imaging(config, "config"), v.reshape(-1, *v.shape[-2:]))
    v = v.reshape(-1, 1, *v.shape[-2:])
    if _fuses(v, config):  # the same image and gradient, less work on the grid
        img = _PointwiseResize.apply(v, config)
        return _colour(img.flip(-2) if config.flip_rows else img, config)
    if _pointwise_only(config) and not (torch.is_grad_enabled() and v.requires_grad):
        # no autograd: the steps in one buffer, |c| itself when it was made here (a real
        # input is the caller's), without a fresh grid-sized tensor per step
        v = _pointwise(v, config, own=c.is_complex())
        return _colour(_geometry(v, config), config)
    if config.quantity == "power":
        v = v * v
    if config.scale == "log1p":
        v = torch.log1p(config.gain * v)
    elif config.scale == "db":
        factor = 10.0 if config.quantity == "power" else 20.0
        tiny = torch.finfo(v.dtype).tiny
        db = factor * torch.log10(v.clamp_min(tiny))
        top = _per_image(db, lambda f: f.amax(-1, keepdim=True))
        v = torch.maximum(db - top, torch.full_like(db, -config.top_db))
    if config.normalize == "minmax":
        lo = _per_image(v, lambda f: f.amin(-1, keepdim=True))
        hi = _per_image(v, lambda f: f.amax(-1, keepdim=True))
        v = (v - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    elif config.normalize == "standardize":
        mu = _per_image(v, lambda f: f.mean(-1, keepdim=True))
        sd = _per_image(v, lambda f: f.std(-1, unbiased=False, keepdim=True))
        v = (v - mu) / torch.where(sd > 0, sd, torch.ones_like(sd))
    elif config.normalize == "fixed":
        lo, hi = config.fixed_range
        v = (v - lo) / (hi - lo)
    elif config.normalize == "meanstd":
        v = (v - config.mean) / config.std
    return _colour(_geometry(v, config), config)


def _colour(v: torch.Tensor, config: ImagingConfig) -> torch.Tensor:
    """Colormap or channels of the (B, 1, H, W) image."""
    if config.colormap is not None:
        lut = torch.as_tensor(_lut(config.colormap), dtype=v.dtype, device=v.device)
        p = v.clamp(0.0, 1.0)[:, 0] * (lut.shape[0] - 1)
        lo_idx = p.detach().floor().clamp(max=lut.shape[0] - 2).long()
        frac = (p - lo_idx.to(p.dtype)).unsqueeze(-1)
        rgb = lut[lo_idx] * (1 - frac) + lut[lo_idx + 1] * frac  # (B, H, W, 3)
        return rgb.permute(0, 3, 1, 2)
    return v.expand(-1, config.channels, -1, -1) if config.channels > 1 else v


def pull_back(heatmap, config, grid_shape: tuple[int, int]) -> torch.Tensor:
    """Carry a pixel heatmap back onto the ``(n_freqs, n_times)`` grid.

    Uses the adjoint (transpose) of the imaging geometry — the resize and row flip, the
    only steps that move values between pixels and cells: a pixel's value is shared
    among the cells it was interpolated from with the interpolation weights. This is the
    chain rule: for a gradient-type attribution ``dF/d image`` it gives ``dF/d grid``
    through the geometry, and it preserves the total attribution.

    Parameters
    ----------
    heatmap : array_like, shape (..., H, W) or (B, C, H, W)
        Pixel attribution. A 4-D heatmap with the imaging's number of channels has them
        summed (the channels of an image are copies of, or colours of, one grid value);
        any other leading axes are batch axes (a 3-D heatmap is a batch, even of 3).
    config : ImagingConfig or ImagingSteps
        The imaging that produced the ``H x W`` images (an imaging callable has no
        known geometry: ``ValueError``).
    grid_shape : (int, int)
        ``(n_freqs, n_times)`` of the coefficients.

    Returns
    -------
    torch.Tensor, shape (..., n_freqs, n_times)

    Examples
    --------
    >>> import torch
    >>> cfg = ImagingConfig(size=(8, 8), flip_rows=True)
    >>> back = pull_back(torch.ones(8, 8), cfg, (4, 16))
    >>> back.shape, float(back.sum())
    (torch.Size([4, 16]), 64.0)
    """
    h = as_tensor(heatmap, name="heatmap")
    if not h.dtype.is_floating_point:
        h = h.to(torch.float64)
    if not isinstance(config, ImagingConfig):
        return _pull_back_steps(h, config, grid_shape)
    out_hw = config.size if config.size is not None else tuple(grid_shape)
    if h.ndim < 2 or tuple(h.shape[-2:]) != tuple(out_hw):
        raise ValueError(
            f"heatmap has shape {tuple(h.shape)}; the imaging config gives images of "
            f"{tuple(out_hw)}"
        )
    if h.ndim == 4 and h.shape[-3] == config.n_channels:
        h = h.sum(-3)
    hb = h.reshape(-1, 1, *h.shape[-2:])
    grad = adjoint(lambda v: _geometry(v, config), hb, tuple(grid_shape))
    return grad.reshape(*h.shape[:-2], *grid_shape)


def _pull_back_steps(h: torch.Tensor, imaging, grid_shape) -> torch.Tensor:
    from .pipeline import ImagingSteps

    if not isinstance(imaging, ImagingSteps):
        raise ValueError(
            "an imaging callable has no known geometry, so a pixel heatmap (Grad-CAM) "
            "cannot be carried back to the grid; describe the imaging with ImagingSteps "
            "(a pipeline file) or use a gradient or perturbation method"
        )
    c = imaging.image_shape(grid_shape)[0]
    if h.ndim == 4 and h.shape[-3] == c:
        h = h.sum(-3)
    return imaging.pull_back(h, grid_shape)


def heatmap_from_png(path, *, colormap: str | None = None) -> np.ndarray:
    """Read a heatmap saved as an image (e.g. the user's own Grad-CAM) as values in [0, 1].

    Parameters
    ----------
    path : str or path-like
        A PNG (or any format Pillow reads) of shape ``(H, W)`` pixels, the size of the
        model's input images; pass the result to :func:`pull_back`.
    colormap : str, optional
        The matplotlib colormap the heatmap was rendered with (e.g. ``'jet'``): each
        pixel is inverted to the position of the nearest colour of its 256-entry table.
        Without it the image is read as gray levels (luminance). Resolution is limited
        by the 8-bit colours and by flat stretches of the colormap (``jet`` saturates
        near its ends): errors up to ~0.02 there, ~1/255 elsewhere.

    Returns
    -------
    numpy.ndarray, shape (H, W), float64
        Row 0 is the image's top row, as in the model input.

    Raises
    ------
    ValueError
        If the file cannot be read as an image, or the colormap is unknown.
    """
    from PIL import UnidentifiedImageError

    from ._scalogram_png import open_image

    try:
        with open_image(path) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"{path}: cannot read the heatmap image ({exc})") from None
    if colormap is None:
        return rgb @ np.array([0.299, 0.587, 0.114])
    from .heatmaps import invert_colormap

    return invert_colormap(rgb, colormap)
