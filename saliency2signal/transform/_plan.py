"""What the transform needs before it sees any data: the design and the filter bank.

Everything here depends only on a configuration, the signal length ``n`` and, for the
bank, the working dtype and device; nothing reads a signal. :func:`design` (scales,
weights, synchrosqueezing grid, padding: float64 NumPy) and :func:`bank` (the device
tensors of the wavelet bank and the low-pass complement) are cached per key, so the
first call for a configuration pays for them and later calls reuse them.

Rows of a :class:`Bank` are in our order (lowest frequency first); a :class:`Design`
keeps ssqueezepy's order (scales ascending).

Internal: plain names shared by the modules of :mod:`saliency2signal.transform` and by
the stages that need the bank itself (``phase``, ``inverse``, ``artefacts``).
May import: numpy, torch, ``_scales``, ``_wavelets``, ``_validation``; never a stage
module (the configuration type is named for annotations only).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._scales import (
    SsqGrid,
    infer_scale_kind,
    make_scales,
    padding,
    squeeze_weights,
    ssq_grid,
    transition_index,
)
from .._validation import check_int, complex_dtype
from .._wavelets import WaveletSpec

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ._config import SSQConfig

__all__ = [
    "MIN_LENGTH",
    "Bank",
    "Design",
    "filter_bank",
    "check_n",
    "design",
    "lowpass_filter",
    "pad_index",
    "wavelet_center",
    "wavelet_css",
]

#: Shortest signal accepted: the scale search needs a few padded bins per octave.
MIN_LENGTH = 16


def check_n(n) -> int:
    """Return the signal length ``n`` as an ``int`` if it is an integer ``>= MIN_LENGTH``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n={n!r} must be an integer number of samples")
    return check_int(n, "n", minimum=MIN_LENGTH)


@functools.lru_cache(maxsize=16)
def wavelet_css(spec: WaveletSpec) -> float:
    """Admissibility constant ``C`` of the one-integral inverse (cached)."""
    return spec.css()


@functools.lru_cache(maxsize=16)
def wavelet_center(spec: WaveletSpec) -> float:
    """Centre radian frequency of the wavelet at scale 1 (cached)."""
    return spec.center


# =========================================================================== design
@dataclass(frozen=True)
class Design:
    """Data-independent quantities for (config, n), in ssqueezepy order (ascending)."""

    scales: np.ndarray
    kind: str
    weights: np.ndarray
    grid: SsqGrid
    n_padded: int
    n_left: int


@functools.lru_cache(maxsize=64)
def design(cfg: SSQConfig, n: int) -> Design:
    """Scales, squeezing weights, frequency grid and padding of ``cfg`` for ``n`` samples."""
    spec = cfg.wavelet_spec
    n_pad, n_left, _ = padding(n, cfg.padtype)
    if isinstance(cfg.scaletype, tuple):
        scales = np.asarray(cfg.scaletype, dtype=np.float64)
        kind = infer_scale_kind(scales)
        transition = transition_index(scales) if kind == "log-piecewise" else None
        nv = int(round(1.0 / np.log2(scales[1] / scales[0]))) if kind == "log" else None
    else:
        kind, _, preset = cfg.scaletype.partition(":")
        if not preset:
            preset = "maximal" if kind == "log-piecewise" else None
        scales, transition = make_scales(spec, n, cfg.nv, kind, preset)
        nv = cfg.nv
        if kind == "log-piecewise" and transition is None:
            kind = "log"
    if len(scales) < 2:
        raise ValueError(f"the configuration yields {len(scales)} scale(s) for n={n}")
    weights = squeeze_weights(scales, kind, nv)
    grid = ssq_grid(spec, scales, transition, kind, n, n_pad, cfg.fs, cfg.maprange)
    return Design(scales, kind, weights, grid, n_pad, n_left)


# =========================================================================== bank
@dataclass(frozen=True)
class Bank:
    """Device tensors for (config, n, dtype, device); rows in our order (ascending f)."""

    n: int
    n_padded: int
    n_left: int
    pad_index: torch.Tensor | None  # gather index for the padded signal, or None
    psih: torch.Tensor  # (F, n_padded) real, Nyquist halved
    n_pos: int  # bins [0, n_pos) hold all nonzero psih (analytic) or n_padded
    deriv: torch.Tensor  # (n_padded,) complex, i * xi * fs
    phi: torch.Tensor  # (n_padded,) real low-pass complement
    weights: torch.Tensor  # (F,) real, d(ln s) per row
    css: float
    threshold: float
    grid: SsqGrid


def lowpass_filter(bank_sum: np.ndarray, css: float) -> np.ndarray:
    """Low-pass complement of the discrete wavelet bank (real, even in frequency).

    The one-integral inverse applies ``G[k] = (1/C) sum_i w_i (psih_i[k] + psih_i[-k])`` to
    the signal's spectrum; ``G`` is ~1 across the bank's band and falls to 0 below the
    largest scale. The scaling filter is ``1 - G`` from DC up to the bin where ``G``
    first reaches its plateau, and 0 beyond, so ``lowpass + oscillatory`` reproduces
    every frequency below the band exactly. ``bank_sum`` is ``sum_i w_i psih_i[k]``.
    """
    n_pad = bank_sum.shape[0]
    g = (bank_sum + np.roll(bank_sum[::-1], 1)) / css
    half = g[: n_pad // 2 + 1]
    top = np.nonzero(half >= 1.0)[0]
    peaks = np.nonzero((half[1:-1] >= half[:-2]) & (half[1:-1] > half[2:]))[0] + 1
    stop = min(top[0] if top.size else half.size, peaks[0] if peaks.size else half.size)
    phi_half = np.zeros_like(half)
    phi_half[: stop + 1] = np.clip(1.0 - half[: stop + 1], 0.0, 1.0)
    k = np.arange(n_pad)
    return phi_half[np.minimum(k, n_pad - k)]


def pad_index(n: int, n_left: int, n_right: int, padtype: str) -> np.ndarray:
    """Gather index into a signal of ``n`` samples that pads it by ``padtype``."""
    idx = np.arange(-n_left, n + n_right)
    if padtype == "reflect":
        period = 2 * (n - 1)
        idx = np.abs(((idx + period) % period) if period else idx * 0)
        idx = np.where(idx >= n, period - idx, idx)
    elif padtype == "symmetric":
        period = 2 * n
        idx = (idx + period) % period
        idx = np.where(idx >= n, period - 1 - idx, idx)
    elif padtype == "replicate":
        idx = np.clip(idx, 0, n - 1)
    elif padtype == "wrap":
        idx = idx % n
    return idx


def _bank_rows(spec: WaveletSpec, d: Design, xi: np.ndarray, dtype: torch.dtype):
    """Rows ``psih`` (working dtype) and their weighted sum (float64), ascending f.

    Evaluated in float64 a block of rows at a time (bounded temporaries); the weighted
    sum over rows feeds the low-pass complement.
    """
    n_pad = d.n_padded
    scales_rows = d.scales[::-1]
    weights_rows = d.weights[::-1].copy()
    psih = np.empty((len(scales_rows), n_pad), dtype=torch.empty((), dtype=dtype).numpy().dtype)
    bank_sum = np.zeros(n_pad)
    step = max(1, 2**22 // n_pad)
    for r in range(0, len(scales_rows), step):
        block = spec.psih(scales_rows[r : r + step, None] * xi[None, :])
        if n_pad % 2 == 0:
            block[:, n_pad // 2] /= 2
        bank_sum += weights_rows[r : r + step] @ block
        psih[r : r + step] = block
    return psih, bank_sum


@functools.lru_cache(maxsize=8)
def filter_bank(cfg: SSQConfig, n: int, dtype: torch.dtype, device: str) -> Bank:
    """Return the filter bank of ``cfg`` for ``n`` samples in ``dtype`` on ``device``."""
    d = design(cfg, n)
    spec = cfg.wavelet_spec
    n_pad, n_left = d.n_padded, d.n_left
    k = np.arange(n_pad)
    xi = np.where(k <= n_pad // 2, k, k - n_pad) * (2.0 * math.pi / n_pad)  # +pi at Nyquist
    psih, bank_sum = _bank_rows(spec, d, xi, dtype)
    css = wavelet_css(spec)
    index = None
    if cfg.padtype not in (None, "zero"):
        index = torch.as_tensor(
            pad_index(n, n_left, n_pad - n - n_left, cfg.padtype), device=device
        )
    thr = cfg.threshold if cfg.threshold is not None else 10 * torch.finfo(dtype).eps
    return Bank(
        n=n,
        n_padded=n_pad,
        n_left=n_left,
        pad_index=index,
        psih=torch.as_tensor(psih, device=device),
        n_pos=n_pad // 2 + 1 if spec.is_analytic else n_pad,
        deriv=torch.as_tensor(1j * xi * cfg.fs, dtype=complex_dtype(dtype), device=device),
        phi=torch.as_tensor(lowpass_filter(bank_sum, css), dtype=dtype, device=device),
        weights=torch.as_tensor(d.weights[::-1].copy(), dtype=dtype, device=device),
        css=css,
        threshold=float(thr),
        grid=d.grid,
    )
