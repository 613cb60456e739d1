"""Numerical kernels of the transform: filter bank products, inverse FFTs, squeezing.

Two interchangeable implementations produce the same numbers:

* :func:`analyze_torch` - pure torch, differentiable, any device. Used whenever a
  gradient may be needed or the data is not on the CPU.
* :func:`analyze_fast` - CPU without autograd: products into reused buffers, in-place
  multi-threaded ``scipy.fft`` (about twice as fast as ``torch.fft`` on small CPUs), and
  the reassignment done by :func:`squeeze`.

Reassignment (synchrosqueezing) follows ssqueezepy 0.6.6: the phase transform
``w = |Im(conj(Wx) dWx)| / (2 pi |Wx|^2)`` is formed from a numerator and denominator in
the working precision and divided in float64; the bin is the nearest frequency in log2
(or linear) units with half-to-even rounding, clamped to the edge rows.
"""

from __future__ import annotations

import math
import os

import numpy as np
import scipy.fft
import torch

__all__ = ["WORKSPACE_BYTES", "can_use_fast_path", "analyze_torch", "analyze_fast", "bins"]

#: Bytes of padded coefficients processed at once (chunking bound on working memory).
WORKSPACE_BYTES = 256 * 2**20

_WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def can_use_fast_path(x: torch.Tensor) -> bool:
    """True when ``x`` is on the CPU and no gradient can flow through it."""
    return x.device.type == "cpu" and not (torch.is_grad_enabled() and x.requires_grad)


# --------------------------------------------------------------------------- binning
def bins(w: torch.Tensor, grid, n_rows: int) -> torch.Tensor:
    """Row of the nearest SSQ frequency for each instantaneous frequency ``w`` (float64).

    Rows are ascending (row 0 = lowest frequency); values below/above the grid clamp to
    the first/last row; ``w = 0`` goes to row 0.
    """
    omax = n_rows - 1
    if grid.kind == "linear":
        k = torch.round(((w - grid.lo0) / grid.step0).clamp_(min=0.0))
        return k.clamp_(max=omax).long()
    lw = torch.log2(w)
    if grid.kind == "log":
        k = torch.round(((lw - grid.lo0) / grid.step0).clamp_(min=0.0))
        return k.clamp_(max=omax).long()
    fine = torch.round((lw - grid.lo1) / grid.step1).add_(grid.first_fine).clamp_(max=omax)
    coarse = torch.round((lw - grid.lo0) / grid.step0).clamp_(min=0.0, max=omax)
    return torch.where(lw > grid.lo1, fine, coarse).long()


def _phase_transform(wx: torch.Tensor, dwx: torch.Tensor) -> torch.Tensor:
    """``|Im(conj(Wx) dWx)| / (2 pi |Wx|^2)`` in float64 (numerator/denominator in the
    working precision, as ssqueezepy does)."""
    a, b = wx.real, wx.imag
    num = dwx.imag * a - dwx.real * b
    den = a * a + b * b
    return num.double().abs_().div_(den.double().mul_(2 * math.pi))


def synchrosqueeze(wx: torch.Tensor, dwx: torch.Tensor, bank, mode: str) -> torch.Tensor:
    """Synchrosqueeze ``wx`` (B, F, n) given its derivative; differentiable in ``wx``."""
    with torch.no_grad():
        valid = wx.detach().abs() > bank.threshold
        w = _phase_transform(wx.detach(), dwx.detach())
        w = torch.where(valid, w, torch.zeros((), dtype=w.dtype, device=w.device))
        k = bins(w, bank.grid, wx.shape[-2])
    weights = bank.weights[:, None]
    summand = (wx.abs() if mode == "abs" else wx) * weights
    summand = torch.where(valid, summand, torch.zeros((), dtype=summand.dtype,
                                                      device=summand.device))
    return torch.zeros_like(summand).scatter_add(-2, k, summand)


# --------------------------------------------------------------------------- torch path
def analyze_torch(xh: torch.Tensor, bank, *, derivative: bool, squeeze: str | None):
    """Differentiable path: ``xh`` (B, n_padded) spectrum -> (Wx, dWx|None, Tx|None)."""
    sl = slice(bank.n_left, bank.n_left + bank.n)
    z = xh[:, None, :] * bank.psih
    wx = torch.fft.ifft(z)[..., sl]
    dwx = tx = None
    if derivative or squeeze:
        dwx = torch.fft.ifft(z * bank.deriv)[..., sl]
    if squeeze:
        tx = synchrosqueeze(wx, dwx, bank, squeeze)
    return wx.contiguous(), (dwx.contiguous() if derivative else None), tx


# --------------------------------------------------------------------------- fast path
def _ifft_inplace(buf: torch.Tensor) -> torch.Tensor:
    out = scipy.fft.ifft(buf.numpy(), axis=-1, overwrite_x=True, workers=_WORKERS)
    return torch.from_numpy(out)


def analyze_fast(xh: torch.Tensor, bank, *, derivative: bool, squeeze: str | None):
    """CPU, no-autograd path with the same results as :func:`analyze_torch`."""
    with torch.no_grad():
        B = xh.shape[0]
        F, n_pad = bank.psih.shape
        p = bank.n_pos
        sl = slice(bank.n_left, bank.n_left + bank.n)
        a = torch.empty((B, F, n_pad), dtype=xh.dtype)
        torch.mul(xh[:, None, :p], bank.psih_c[:, :p], out=a[..., :p])
        if p < n_pad:
            a[..., p:].zero_()
        need_d = derivative or squeeze is not None
        if need_d:
            d = torch.empty_like(a)
            torch.mul(a[..., :p], bank.deriv[:p], out=d[..., :p])
            if p < n_pad:
                d[..., p:].zero_()
            dwx = _ifft_inplace(d)[..., sl]
        wx = _ifft_inplace(a)[..., sl]
        tx = synchrosqueeze(wx, dwx, bank, squeeze) if squeeze else None
        return wx.contiguous(), (dwx.contiguous() if derivative else None), tx
