"""The 8-bit and colour steps: a matplotlib colormap and the PNG round trip.

Both are step functions in their forward pass (a table lookup, a rounding), so both
pass gradients *straight through*: the forward value is the library's, the backward is
that of a smooth stand-in — the colormap's piecewise-linear interpolation, the
identity for the rounding.

Internal to :mod:`saliency2signal.pipeline`: plain names, not public API. May import:
numpy, torch, matplotlib (lazily, inside functions: importing the package never
imports it).
"""

from __future__ import annotations

import difflib
import functools

import numpy as np
import torch

__all__ = ["check_colormap", "colormap_lut", "colormap", "quantize_uint8"]


def check_colormap(name) -> str:
    """Return ``name`` if matplotlib has a colormap of that name, else raise."""
    if not isinstance(name, str):
        raise TypeError(f"colormap name={name!r} must be a string")
    import matplotlib  # the registry of colormaps

    if name not in matplotlib.colormaps:
        close = difflib.get_close_matches(name, list(matplotlib.colormaps), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"name={name!r} is not a matplotlib colormap{hint}")
    return name


class _Replace(torch.autograd.Function):
    """Forward ``value`` exactly; backward the gradient to ``surrogate`` unchanged."""

    @staticmethod
    def forward(ctx, surrogate: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return value.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


@functools.lru_cache(maxsize=32)
def colormap_lut(name: str) -> torch.Tensor:
    """Return the colormap's own table ``(N, 3)`` (``N``: 256 for most, 10 for ``tab10``)."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    return torch.from_numpy(np.asarray(cmap(np.arange(cmap.N)))[:, :3].copy())


def colormap(v: torch.Tensor, name: str, *, interpolate: bool) -> torch.Tensor:
    """RGB ``(..., 3, H, W)`` of a grey ``(..., 1, H, W)`` image through a colormap.

    Forward, unless ``interpolate``: ``lut[min(int(v * N), N - 1)]`` on ``v`` clipped
    to [0, 1], which is what ``matplotlib.colormaps[name](v)`` returns for floats (its
    under/over colours are the end colours of every registered map). Backward: the
    derivative of the piecewise-linear curve through the table's entries placed at the
    centres ``(i + 0.5) / N`` of their bins (zero outside [0, 1]). With ``interpolate``
    that curve is also the forward value: smooth, but up to half a table step away
    from matplotlib's colour.
    """
    lut = colormap_lut(name).to(dtype=v.dtype, device=v.device)
    n = lut.shape[0]
    u = v[..., 0, :, :].clamp(0.0, 1.0) * n
    pos = u - 0.5
    low = pos.detach().floor().clamp(0, n - 2)
    frac = (pos - low).clamp(0.0, 1.0).unsqueeze(-1)
    low = low.long()
    smooth = lut[low] * (1 - frac) + lut[low + 1] * frac
    if interpolate:
        return smooth.movedim(-1, -3)
    exact = lut[u.detach().floor().clamp(max=n - 1).long()]
    return _Replace.apply(smooth, exact).movedim(-1, -3)


def quantize_uint8(v: torch.Tensor, *, rounding: str) -> torch.Tensor:
    """``round(v * 255) / 255`` (or ``floor``) of ``v`` clipped to [0, 1]; identity gradient.

    The values an 8-bit PNG written from ``v`` holds when read back and divided by 255:
    ``round`` as ``(v * 255).round().astype(np.uint8)``, ``floor`` as
    ``(v * 255).astype(np.uint8)`` (matplotlib's ``bytes=True``).
    """
    scaled = v.detach().clamp(0.0, 1.0) * 255
    levels = scaled.round() if rounding == "round" else scaled.floor()
    return _Replace.apply(v, levels / 255)
