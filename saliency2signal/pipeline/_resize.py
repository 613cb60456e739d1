"""Resizing as scikit-image, Pillow or torch resize, each a differentiable linear map.

A resize of an image is separable: one ``(n_out, n_in)`` matrix per axis, the rows
resampled by one and the columns by the other (``R_rows @ image @ R_cols.T``). The
matrices are built here, in float64, from the published algorithms:

- :func:`skimage_matrix`: ``skimage.transform.resize`` — a Gaussian pre-filter with
  ``sigma = max(0, (factor - 1) / 2)`` (truncated at 4 sigma, as
  ``scipy.ndimage.gaussian_filter``) when anti-aliasing, then ``scipy.ndimage.zoom``
  with ``grid_mode=True`` (pixel centres at ``(k + 0.5) * factor - 0.5``): nearest
  (``order=0``, ties rounded up), linear (``order=1``) or the cubic B-spline
  (``order=3``, after scipy's pre-filter) with the boundary extended by ``mode``;
  ``skimage.transform.resize_local_mean`` (pixel areas) for ``'area'``.
- :func:`pil_matrix`: ``PIL.Image.resize``: the filter (triangle, Keys cubic with
  ``a = -0.5``, box) stretched by the shrink factor, cut at the image edge and its
  weights renormalised (``precompute_coeffs`` of Pillow's ``Resample.c``); NEAREST is
  Pillow's affine scaling, ``int((k + 0.5) * factor)`` accumulated as Pillow does.

torch's own resizes (:func:`torch_resize`) are ``torch.nn.functional.interpolate``.

Internal to :mod:`saliency2signal.pipeline`: plain names, not public API.
May import: numpy, scipy (``linalg``, ``sparse``), torch.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.linalg
import scipy.sparse
import torch

__all__ = [
    "ANTIALIAS",
    "METHODS",
    "MODES",
    "matrix_resize",
    "pil_matrix",
    "skimage_matrix",
    "torch_resize",
]

METHODS = ("bilinear", "bicubic", "nearest", "area")
ANTIALIAS = ("none", "skimage", "pil", "torch")
#: scikit-image's edge modes (``numpy.pad``'s names) that the resize reproduces.
MODES = ("reflect", "symmetric", "edge", "wrap")

_ORDER = {"nearest": 0, "bilinear": 1, "bicubic": 3}
_PREPAD = 12  # scipy.ndimage pads this many edge values before a spline pre-filter ('edge')
_DENSE_PREFILTER = 512  # longest axis whose pre-filter is formed as a matrix


# ------------------------------------------------------------------ scikit-image
def _extend(index: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map indices beyond the ends of an axis of length ``n`` inside it, by ``mode``."""
    if n == 1:
        return np.zeros_like(index)
    if mode == "reflect":  # d c b | a b c d | c b a (scipy.ndimage 'mirror')
        period = 2 * n - 2
        i = np.mod(index, period)
        return np.where(i >= n, period - i, i)
    if mode == "symmetric":  # b a | a b c d | d c (scipy.ndimage 'reflect')
        i = np.mod(index, 2 * n)
        return np.where(i >= n, 2 * n - 1 - i, i)
    if mode == "edge":
        return np.clip(index, 0, n - 1)
    return np.mod(index, n)  # 'wrap'


def _map_coordinate(c: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Move sample positions outside ``[0, n - 1]`` inside (ndimage's ``map_coordinate``).

    Interpolating the extended axis at ``c`` gives the same value; the mapping only
    decides which neighbour a nearest-neighbour tie picks, as scipy does.
    """
    if n == 1:
        return np.zeros_like(c)
    if mode == "reflect":
        period = 2 * n - 2
        m = np.mod(c, period)
        return np.where(m > n - 1, period - m, m)
    if mode == "symmetric":
        m = np.mod(c + 0.5, 2 * n) - 0.5
        return np.where(m > n - 1, 2 * n - 1 - m, m)
    if mode == "edge":
        return np.clip(c, 0, n - 1)
    return np.where((c < 0) | (c > n - 1), np.mod(c, n), c)  # 'wrap'


def _scatter(n_rows: int, n_cols: int, rows, cols, weights) -> np.ndarray:
    out = np.zeros((n_rows, n_cols))
    np.add.at(out, (np.ravel(rows), np.ravel(cols)), np.ravel(weights))
    return out


def _blur(m: np.ndarray, sigma: float, mode: str) -> np.ndarray:
    """``m @ G``: ``G`` the ``gaussian_filter1d(truncate=4.0)`` of the axis, as a matrix.

    ``G`` is banded, so it is applied as a sparse matrix (an axis may be long).
    """
    n = m.shape[1]
    if sigma <= 1e-15:  # scipy skips such axes
        return m
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 / (sigma * sigma) * x.astype(np.float64) ** 2)
    w /= w.sum()
    rows = np.repeat(np.arange(n)[:, None], x.size, axis=1)
    cols = _extend(rows + x, n, mode)
    weights = np.broadcast_to(w, rows.shape)
    g = scipy.sparse.csr_array((weights.ravel(), (rows.ravel(), cols.ravel())), shape=(n, n))
    return np.asarray((g.T @ m.T).T)


_POLE = math.sqrt(3.0) - 2.0  # of the cubic B-spline pre-filter


def _causal_init(c: np.ndarray, n: int, z: float, boundary: str) -> None:
    """``c[0]`` before the causal pass (``_init_causal_*`` of scipy's ``ni_splines.c``)."""
    z_i = z
    if boundary == "mirror":
        z_n_1 = z ** (n - 1)
        first = c[0] + z_n_1 * c[n - 1]
        for i in range(1, n - 1):
            first += z_i * (c[i] + z_n_1 * c[n - 1 - i])
            z_i *= z
        c[0] = first / (1 - z_n_1 * z_n_1)
    elif boundary == "reflect":
        z_n = z**n
        c0 = c[0].copy()
        first = c[0] + z_n * c[n - 1]
        for i in range(1, n):
            # scipy accumulates in c[0] itself, so its last term reads the running sum
            first = first + z_i * (c[i] + z_n * (first if i == n - 1 else c[n - 1 - i]))
            z_i *= z
        c[0] = first * (z / (1 - z_n * z_n)) + c0
    else:  # grid-wrap
        first = c[0].copy()
        for i in range(1, n):
            first += z_i * c[n - i]
            z_i *= z
        c[0] = first / (1 - z_i)


def _anticausal_init(c: np.ndarray, n: int, z: float, boundary: str) -> None:
    """``c[n - 1]`` before the anti-causal pass (``_init_anticausal_*``)."""
    if boundary == "mirror":
        c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1)
    elif boundary == "reflect":
        c[n - 1] *= z / (z - 1)
    else:  # grid-wrap
        last, z_i = c[n - 1].copy(), z
        for i in range(n - 1):
            last += z_i * c[i]
            z_i *= z
        c[n - 1] = last * (z / (z_i - 1))


def _spline_prefilter(n: int, mode: str) -> np.ndarray:
    """Cubic B-spline coefficients from samples (``spline_filter1d``), as a matrix.

    scipy's recursive filter (a gain, a causal and an anti-causal pass, each started
    by its boundary rule) run on the columns of the identity, operation for operation:
    for 'symmetric' (and the padded 'edge') scipy's rule reads a value it has already
    overwritten, which makes its pre-filter differ from the exact inverse by up to
    ~1e-4 on axes shorter than ~10 samples; that is reproduced, not corrected.
    """
    c = np.eye(n)
    if n == 1:
        return c
    boundary = {"reflect": "mirror", "symmetric": "reflect", "edge": "reflect"}.get(
        mode, "grid-wrap"
    )
    z = _POLE
    c *= (1.0 - z) * (1.0 - 1.0 / z)
    _causal_init(c, n, z, boundary)
    for i in range(1, n):
        c[i] += z * c[i - 1]
    _anticausal_init(c, n, z, boundary)
    for i in range(n - 2, -1, -1):
        c[i] = z * (c[i + 1] - c[i])
    return c


def _prefiltered(interp: np.ndarray, mode: str) -> np.ndarray:
    """``interp @ P``: ``P`` the spline pre-filter of the axis (``interp.shape[1]`` long).

    Up to :data:`_DENSE_PREFILTER` samples, ``P`` is scipy's filter run on the identity.
    On a longer axis its boundary rules equal the exact inverse of the smoothing
    ``S`` far below rounding (their difference decays as ``0.268 ** (2 n)``), and
    ``interp @ S^-1`` is solved without forming an ``n x n`` matrix: ``S`` is
    tridiagonal, or circulant for 'wrap'.
    """
    n = interp.shape[1]
    if n <= _DENSE_PREFILTER:
        return interp @ _spline_prefilter(n, mode)
    if mode == "wrap":
        kernel = np.zeros(n)
        kernel[[0, 1, -1]] = (4 / 6, 1 / 6, 1 / 6)
        spectrum = np.fft.rfft(interp, axis=1) / np.fft.rfft(kernel)
        return np.fft.irfft(spectrum, n=n, axis=1)
    extension = "reflect" if mode == "reflect" else "symmetric"  # 'edge': padded, symmetric
    rows = np.repeat(np.arange(n)[:, None], 3, axis=1)
    cols = _extend(rows + np.array([-1, 0, 1]), n, extension)
    bands = np.zeros((3, n))  # S.T in solve_banded's layout: bands[1 + r - c, c] = S.T[r, c]
    np.add.at(bands, (1 + cols - rows, rows), np.broadcast_to([1 / 6, 4 / 6, 1 / 6], rows.shape))
    return scipy.linalg.solve_banded((1, 1), bands, interp.T).T


def _bspline_weights(t: np.ndarray, order: int) -> np.ndarray:
    """Weights ``(len(t), order + 1)`` of the samples from ``start`` on."""
    if order == 0:
        return np.ones((t.size, 1))
    if order == 1:
        return np.stack([1 - t, t], axis=1)
    s = 1 - t
    return np.stack(
        [s**3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6, (3 * s**3 - 6 * s**2 + 4) / 6, t**3 / 6],
        axis=1,
    )


def _zoom(n_in: int, n_out: int, order: int, mode: str) -> np.ndarray:
    """``scipy.ndimage.zoom(grid_mode=True)`` of an axis (spline pre-filter included)."""
    prepad = _PREPAD if (order > 1 and mode == "edge") else 0
    n_pad = n_in + 2 * prepad
    zoom = n_in / n_out
    c = (np.arange(n_out) + 0.5) * zoom - 0.5  # as ndimage: ((k + 0.5) * zoom) - 0.5
    c = _map_coordinate(c + prepad, n_pad, mode)
    start = np.floor(c) if order % 2 else np.floor(c + 0.5)
    weights = _bspline_weights(c - start, order)
    start = start.astype(np.int64) - order // 2
    idx = _extend(start[:, None] + np.arange(order + 1), n_pad, mode)
    rows = np.repeat(np.arange(n_out)[:, None], order + 1, axis=1)
    interp = _scatter(n_out, n_pad, rows, idx, weights)
    if order < 2:
        return interp
    m = _prefiltered(interp, mode)
    if not prepad:
        return m
    # scipy pads edge values before filtering: fold the padding onto the edge samples
    out = m[:, prepad : prepad + n_in].copy()
    out[:, 0] += m[:, :prepad].sum(axis=1)
    out[:, -1] += m[:, prepad + n_in :].sum(axis=1)
    return out


def _local_mean(n_in: int, n_out: int) -> np.ndarray:
    """``skimage.transform.resize_local_mean`` (``grid_mode=True``) of an axis."""
    breaks = np.linspace(0.0, n_in, n_out + 1)
    cells = np.arange(n_in)
    overlap = np.minimum(breaks[1:, None], cells + 1.0) - np.maximum(breaks[:-1, None], cells)
    overlap = np.clip(overlap, 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=64)
def skimage_matrix(n_in: int, n_out: int, method: str, mode: str, antialias: bool) -> torch.Tensor:
    """Return the ``(n_out, n_in)`` matrix of ``skimage.transform.resize`` along one axis.

    ``method='area'`` is ``resize_local_mean`` (``mode`` and ``antialias`` unused).
    """
    if method == "area":
        return torch.from_numpy(_local_mean(n_in, n_out))
    m = _zoom(n_in, n_out, _ORDER[method], mode)
    if antialias:
        m = _blur(m, max(0.0, (n_in / n_out - 1) / 2), mode)
    return torch.from_numpy(m)


# ------------------------------------------------------------------ Pillow
def _pil_filter(method: str, x: np.ndarray) -> np.ndarray:
    if method == "area":  # box_filter
        return ((x > -0.5) & (x <= 0.5)).astype(np.float64)
    x = np.abs(x)
    if method == "bilinear":
        return np.where(x < 1.0, 1.0 - x, 0.0)
    a = -0.5  # bicubic_filter
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _pil_nearest(n_in: int, n_out: int) -> np.ndarray:
    """Pillow's NEAREST (``ImagingScaleAffine``): ``int(x)`` of an accumulated position."""
    scale = n_in / n_out
    steps = np.full(n_out, scale)
    steps[0] = scale * 0.5
    src = np.cumsum(steps).astype(np.int64)  # sequential sums, as Pillow's `xo += a[0]`
    return _scatter(n_out, n_in, np.arange(n_out), np.clip(src, 0, n_in - 1), 1.0)


@functools.lru_cache(maxsize=64)
def pil_matrix(n_in: int, n_out: int, method: str) -> torch.Tensor:
    """Return the ``(n_out, n_in)`` matrix of ``PIL.Image.resize`` along one axis."""
    if n_in == n_out:  # Pillow skips the pass
        return torch.eye(n_in, dtype=torch.float64)
    if method == "nearest":
        return torch.from_numpy(_pil_nearest(n_in, n_out))
    support_1 = {"area": 0.5, "bilinear": 1.0, "bicubic": 2.0}[method]
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = support_1 * filterscale
    out = np.zeros((n_out, n_in))
    for k in range(n_out):
        center = (k + 0.5) * scale
        lo = max(math.trunc(center - support + 0.5), 0)  # C's (int) truncates
        hi = min(math.trunc(center + support + 0.5), n_in)
        w = _pil_filter(method, (np.arange(lo, hi) - center + 0.5) / filterscale)
        total = w.sum()
        out[k, lo:hi] = w / total if total != 0.0 else w
    return torch.from_numpy(out)


# ------------------------------------------------------------------ applying
def matrix_resize(v: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``rows @ v @ cols.T`` over the last two axes, in ``v``'s dtype and device.

    The columns first, as Pillow does (its horizontal pass comes first).
    """
    rows = rows.to(dtype=v.dtype, device=v.device)
    cols = cols.to(dtype=v.dtype, device=v.device)
    return rows @ (v @ cols.T)


def torch_resize(
    v: torch.Tensor, size: tuple[int, int], method: str, *, antialias: bool
) -> torch.Tensor:
    """``torch.nn.functional.interpolate`` of the last two axes of ``v``."""
    x = v.reshape(-1, 1, *v.shape[-2:])
    extra = {"align_corners": False} if method in ("bilinear", "bicubic") else {}
    out = torch.nn.functional.interpolate(x, size=size, mode=method, antialias=antialias, **extra)
    return out.reshape(*v.shape[:-2], *size)
