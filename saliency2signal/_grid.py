"""Small array helpers on the transform's grid, shared by several stages.

- :func:`magnitude`: ``|c|`` of complex coefficients, fast on the CPU.
- :func:`geometric_edges`: row edges of a geometrically spaced frequency axis (a
  leading 0, the low-pass row, keeps edge 0).
- :func:`linear_edges`: cell edges of a (possibly non-uniform, possibly descending)
  1-D axis such as time or a user's x axis.
- :func:`adjoint`: a linear map of the grid (an imaging's geometry) transposed, applied
  to pixel values.

Internal: plain names, not public API. May import: numpy, torch.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["adjoint", "geometric_edges", "linear_edges", "magnitude"]


def adjoint(geometry, pixels: torch.Tensor, grid_shape) -> torch.Tensor:
    """Apply the transpose of the linear map ``geometry`` to ``pixels``.

    ``geometry`` maps ``(B, 1, F, N)`` grids to ``(B, 1, H, W)`` images linearly (a resize,
    a flip, a crop or pad); ``pixels`` is ``(B, 1, H, W)``. The transpose is autograd's
    vector-Jacobian product, taken at zeros (a linear map's Jacobian is the map): the
    exact chain rule. Returns ``(B, 1, F, N)``.
    """
    probe = torch.zeros(
        (pixels.shape[0], 1, *grid_shape),
        dtype=pixels.dtype,
        device=pixels.device,
        requires_grad=True,
    )
    with torch.enable_grad():
        img = geometry(probe)
        if tuple(img.shape[-2:]) != tuple(pixels.shape[-2:]):
            raise ValueError(
                f"heatmap has shape {tuple(pixels.shape[-2:])}; the imaging makes "
                f"{tuple(img.shape[-2:])} images from a {grid_shape[0]} x {grid_shape[1]} grid"
            )
        (grad,) = torch.autograd.grad(img, probe, grad_outputs=pixels)
    return grad


def magnitude(c: torch.Tensor) -> torch.Tensor:
    """``|c|`` of a complex tensor; on the CPU without gradients through NumPy.

    NumPy's complex ``abs`` is several times faster than torch's on the CPU (both are
    ``hypot(re, im)``; they agree to an ulp or two). Tensors that need gradients or live
    on another device use ``torch.abs``.
    """
    if c.device.type != "cpu" or (c.requires_grad and torch.is_grad_enabled()):
        return c.abs()
    return torch.from_numpy(np.abs(c.detach().resolve_conj().numpy()))


def geometric_edges(freqs: np.ndarray) -> np.ndarray:
    """Row edges of ascending or descending geometric rows: geometric midpoints.

    The outer edges mirror the first and last midpoints geometrically. A leading 0 (the
    low-pass row) keeps 0 as its lower edge. Returns ``len(freqs) + 1`` values.
    """
    f = np.asarray(freqs, dtype=np.float64)
    lowpass = f[0] == 0
    g = f[1:] if lowpass else f
    mids = np.sqrt(g[1:] * g[:-1])
    edges = np.concatenate([[g[0] ** 2 / mids[0]], mids, [g[-1] ** 2 / mids[-1]]])
    return np.concatenate([[0.0], edges]) if lowpass else edges


def linear_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges of a 1-D axis: midpoints between centres, the ends mirrored.

    Works for non-uniform and descending axes; a single centre gets edges ``c +- 0.5``.
    Returns ``len(centres) + 1`` values.
    """
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
