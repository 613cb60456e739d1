"""Applying a sequence of imaging steps to magnitudes: the numerics of each step.

Internal to :mod:`saliency2signal.pipeline`, which re-exports :func:`apply_steps`.
May import: torch, ``.._validation``, ``._steps``, ``._resize``, ``._colour``.
"""

from __future__ import annotations

import math

import torch

from .._validation import as_tensor
from ._colour import colormap, quantize_uint8
from ._resize import matrix_resize, pil_matrix, skimage_matrix, torch_resize
from ._steps import (
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
    as_steps,
)

__all__ = ["apply_steps", "continue_steps"]

_IMAGE = (-3, -2, -1)  # the axes of one image: (C, H, W)


def apply_steps(magnitude, steps) -> torch.Tensor:
    """Make images ``(..., C, H, W)`` from magnitudes ``(..., F, N)`` by ordered steps.

    Parameters
    ----------
    magnitude : torch.Tensor or numpy.ndarray, shape (..., n_freqs, n_times)
        Real values on the transform's grid (``|Tx|``), lowest frequency in row 0.
    steps : sequence of Step or dict
        Applied in order to the single-channel image ``(..., 1, F, N)``; dictionaries
        are read with :meth:`Step.from_dict`.

    Returns
    -------
    torch.Tensor, shape (..., C, H, W)
        In ``magnitude``'s dtype and on its device, differentiable with respect to it
        (straight-through for :class:`QuantizeUint8` and a non-interpolating
        :class:`Colormap`).

    Raises
    ------
    TypeError
        If ``magnitude`` is not real floating point, or a step is not a step.
    ValueError
        If a step does not fit the image it receives (a crop beyond it, a colormap on
        several channels, per-channel statistics for another number of channels).

    Examples
    --------
    >>> import torch
    >>> steps = [Log1p(gain=10.0), MinMax(), Resize(size=(32, 32), antialias="torch"),
    ...          FlipRows(), Colormap(name="viridis"), QuantizeUint8()]
    >>> apply_steps(torch.rand(2, 60, 500), steps).shape
    torch.Size([2, 3, 32, 32])
    """
    v = as_tensor(magnitude, name="magnitude")
    if v.is_complex() or not v.dtype.is_floating_point:
        raise TypeError(
            f"magnitude has dtype {v.dtype}; expected real floating point (pass |Tx|, "
            "e.g. Tx.abs())"
        )
    if v.ndim < 2:
        raise ValueError(f"magnitude has shape {tuple(v.shape)}; expected (..., n_freqs, n_times)")
    return continue_steps(v.unsqueeze(-3), steps)


def continue_steps(images, steps) -> torch.Tensor:
    """Apply steps to images ``(..., C, H, W)`` that earlier steps (or a file) made.

    :func:`apply_steps` is ``continue_steps(magnitude[..., None, :, :], steps)``; this
    one takes images with their channels, say the user's PNGs read back as ``[0, 1]``
    values, to run the steps that came after them (an ImageNet normalisation).

    Examples
    --------
    >>> import torch
    >>> continue_steps(torch.full((2, 3, 8, 8), 0.5),
    ...                [ChannelMeanStd(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))]).abs().max()
    tensor(0.)
    """
    v = as_tensor(images, name="images")
    if v.ndim < 3 or not v.dtype.is_floating_point:
        raise ValueError(
            f"images have shape {tuple(v.shape)} and dtype {v.dtype}; expected real "
            "floating point (..., C, H, W)"
        )
    for step in as_steps(steps):
        v = _APPLY[type(step)](v, step)
    return v


# ------------------------------------------------------------------ values
def _power(v: torch.Tensor, step: Power) -> torch.Tensor:
    return v * v if step.exponent == 2.0 else v.pow(step.exponent)


def _log1p(v: torch.Tensor, step: Log1p) -> torch.Tensor:
    return torch.log1p(step.gain * v)


def _log(v: torch.Tensor, step: Log) -> torch.Tensor:
    return torch.log(v + step.eps)


def _log10(v: torch.Tensor, step: Log10) -> torch.Tensor:
    return torch.log10(v + step.eps)


def _decibel(v: torch.Tensor, step: Decibel) -> torch.Tensor:
    db = step.multiplier * torch.log10(v.clamp_min(step.amin))
    if step.reference == "max":  # log10 is increasing: the maximum's dB is the dB maximum
        db = db - db.amax(dim=_IMAGE, keepdim=True)
    else:
        db = db - step.multiplier * math.log10(max(step.reference, step.amin))
    if step.top_db is not None:
        db = torch.maximum(db, db.amax(dim=_IMAGE, keepdim=True) - step.top_db)
    return db


# ------------------------------------------------------------------ normalisation
def _minmax(v: torch.Tensor, step: MinMax) -> torch.Tensor:
    lo = v.amin(dim=_IMAGE, keepdim=True)
    hi = v.amax(dim=_IMAGE, keepdim=True)
    return (v - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))


def _standardize(v: torch.Tensor, step: Standardize) -> torch.Tensor:
    mean = v.mean(dim=_IMAGE, keepdim=True)
    std = v.std(dim=_IMAGE, correction=step.ddof, keepdim=True)
    return (v - mean) / torch.where(std > 0, std, torch.ones_like(std))


def _fixed_range(v: torch.Tensor, step: FixedRange) -> torch.Tensor:
    out = (v - step.lo) / (step.hi - step.lo)
    return out.clamp(0.0, 1.0) if step.clip else out


def _mean_std(v: torch.Tensor, step: MeanStd) -> torch.Tensor:
    return (v - step.mean) / step.std


def _channel_mean_std(v: torch.Tensor, step: ChannelMeanStd) -> torch.Tensor:
    if v.shape[-3] != step.n_channels:
        raise ValueError(
            f"channel_mean_std with {step.n_channels} channels (mean={step.mean}) got an "
            f"image of {v.shape[-3]} channel(s); put it after colormap or channels"
        )
    mean = torch.tensor(step.mean, dtype=v.dtype, device=v.device).reshape(-1, 1, 1)
    std = torch.tensor(step.std, dtype=v.dtype, device=v.device).reshape(-1, 1, 1)
    return (v - mean) / std


# ------------------------------------------------------------------ geometry
def _resize(v: torch.Tensor, step: Resize) -> torch.Tensor:
    (h, w), size = v.shape[-2:], step.size
    mode = step.skimage_mode
    if mode is not None:
        if (h, w) == size:  # scipy.ndimage.zoom returns its input when nothing changes
            return v
        aa = step.antialias == "skimage"
        rows = skimage_matrix(h, size[0], step.method, mode, aa)
        out = matrix_resize(v, rows, skimage_matrix(w, size[1], step.method, mode, aa))
        if step.method == "bicubic":  # skimage's clip=True; linear weights cannot overshoot
            lo = v.amin(dim=(-2, -1), keepdim=True)
            out = torch.minimum(torch.maximum(out, lo), v.amax(dim=(-2, -1), keepdim=True))
        return out
    if step.antialias == "skimage":  # 'area': resize_local_mean
        rows = skimage_matrix(h, size[0], "area", "reflect", False)
        return matrix_resize(v, rows, skimage_matrix(w, size[1], "area", "reflect", False))
    if step.antialias == "pil":
        rows = pil_matrix(h, size[0], step.method)
        return matrix_resize(v, rows, pil_matrix(w, size[1], step.method))
    return torch_resize(v, size, step.method, antialias=step.antialias == "torch")


def _flip_rows(v: torch.Tensor, step: FlipRows) -> torch.Tensor:
    return v.flip(-2)


def _crop(v: torch.Tensor, step: Crop) -> torch.Tensor:
    h, w = v.shape[-2:]
    if step.top + step.height > h or step.left + step.width > w:
        raise ValueError(
            f"crop of rows {step.top}:{step.top + step.height} and columns "
            f"{step.left}:{step.left + step.width} is beyond the {h} x {w} image"
        )
    return v[..., step.top : step.top + step.height, step.left : step.left + step.width]


def _pad(v: torch.Tensor, step: Pad) -> torch.Tensor:
    pad = (step.left, step.right, step.top, step.bottom)
    if step.mode == "constant":
        return torch.nn.functional.pad(v, pad, mode="constant", value=step.value)
    h, w = v.shape[-2:]
    if step.mode == "reflect" and (max(step.top, step.bottom) >= h or max(pad[:2]) >= w):
        raise ValueError(
            f"mode='reflect' pads fewer pixels than the image has: {pad=} (left, right, "
            f"top, bottom) on a {h} x {w} image"
        )
    x = v.reshape(-1, 1, h, w)
    mode = "replicate" if step.mode == "edge" else "reflect"
    out = torch.nn.functional.pad(x, pad, mode=mode)
    return out.reshape(*v.shape[:-2], *out.shape[-2:])


# ------------------------------------------------------------------ colour and 8 bits
def _grey(v: torch.Tensor, step) -> None:
    if v.shape[-3] != 1:
        raise ValueError(f"{step.kind} needs a single-channel image, got {v.shape[-3]} channels")


def _colormap(v: torch.Tensor, step: Colormap) -> torch.Tensor:
    _grey(v, step)
    return colormap(v, step.name, interpolate=step.interpolate)


def _channels(v: torch.Tensor, step: Channels) -> torch.Tensor:
    _grey(v, step)
    return v.expand(*v.shape[:-3], step.n_channels, *v.shape[-2:]).contiguous()


def _quantize(v: torch.Tensor, step: QuantizeUint8) -> torch.Tensor:
    return quantize_uint8(v, rounding=step.rounding)


_APPLY = {
    Power: _power,
    Log1p: _log1p,
    Log: _log,
    Log10: _log10,
    Decibel: _decibel,
    MinMax: _minmax,
    Standardize: _standardize,
    FixedRange: _fixed_range,
    MeanStd: _mean_std,
    ChannelMeanStd: _channel_mean_std,
    Resize: _resize,
    FlipRows: _flip_rows,
    Crop: _crop,
    Pad: _pad,
    Colormap: _colormap,
    Channels: _channels,
    QuantizeUint8: _quantize,
}
