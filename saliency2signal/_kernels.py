"""Numerical kernels of the transform: filter bank products, inverse FFTs, squeezing.

Two interchangeable implementations produce the same numbers:

* :func:`analyze_torch` - pure torch, differentiable, any device. Used whenever a
  gradient may be needed, the data is not on the CPU, or the C extension is missing.
* :func:`analyze_fast` - CPU without autograd: each signal's padded CWT is built a
  cache-sized block of rows at a time (compiled product, in-place ``scipy.fft`` and
  compiled synchrosqueezing, see ``_squeeze.c``), the signals spread over
  :func:`fast_threads` threads (torch's thread setting, at most one per core).
  The speed of the two paths is measured by ``benchmarks/bench_transform.py``.

Reassignment (synchrosqueezing) follows ssqueezepy 0.6.6: the phase transform
``w = |Im(conj(Wx) dWx)| / (2 pi |Wx|^2)`` is formed from a numerator and denominator in
the working precision and divided in float64; the bin is the nearest frequency in log2
(or linear) units with half-to-even rounding, clamped to the edge rows.

Internal: plain names used by :mod:`saliency2signal.transform` and ``artefacts``
(:func:`phase_transform`, :func:`bins`). May import: numpy, scipy (lazily), torch, the
compiled ``_squeeze`` extension (optional); never another module of the package (the
filter bank arrives as an argument).
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np
import torch

__all__ = [
    "HAVE_EXTENSION",
    "WORKERS",
    "fast_threads",
    "WORKSPACE_BYTES",
    "analyze_fast",
    "analyze_torch",
    "bins",
    "fast_path_ok",
    "phase_transform",
    "synchrosqueeze",
]

#: Bytes of padded coefficients the torch path processes at once (bounds its memory).
WORKSPACE_BYTES = 256 * 2**20

#: Most threads of the CPU fast path (the cores this process may run on).
WORKERS = max(
    1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
)


def fast_threads() -> int:
    """Threads the CPU fast path uses now: ``torch.get_num_threads()``, at most :data:`WORKERS`.

    The fast path follows torch's setting, so ``torch.set_num_threads(1)``, or
    ``OMP_NUM_THREADS=1`` as Dask sets it in its worker processes, keeps a process on one
    core instead of adding threads of its own beside the other workers'.
    """
    return max(1, min(WORKERS, torch.get_num_threads()))


def can_use_fast_path(x: torch.Tensor) -> bool:
    """Tell whether ``x`` is on the CPU with no gradient able to flow through it."""
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


def phase_transform(wx: torch.Tensor, dwx: torch.Tensor) -> torch.Tensor:
    """Phase transform ``|Im(conj(Wx) dWx)| / (2 pi |Wx|^2)`` in float64.

    Numerator and denominator are formed in the working precision, as ssqueezepy does.
    """
    a, b = wx.real, wx.imag
    num = dwx.imag * a - dwx.real * b
    den = a * a + b * b
    return num.double().abs_().div_(den.double().mul_(2 * math.pi))


def synchrosqueeze(wx: torch.Tensor, dwx: torch.Tensor, bank, mode: str) -> torch.Tensor:
    """Synchrosqueeze ``wx`` (B, F, n) given its derivative; differentiable in ``wx``."""
    with torch.no_grad():
        valid = wx.detach().abs() > bank.threshold
        w = phase_transform(wx.detach(), dwx.detach())
        w = torch.where(valid, w, torch.zeros((), dtype=w.dtype, device=w.device))
        k = bins(w, bank.grid, wx.shape[-2])
    weights = bank.weights[:, None]
    summand = (wx.abs() if mode == "abs" else wx) * weights
    summand = torch.where(
        valid, summand, torch.zeros((), dtype=summand.dtype, device=summand.device)
    )
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
try:  # the compiled kernel is optional: without a C compiler the torch path is used
    from . import _squeeze as _ext
except ImportError:  # pragma: no cover - exercised only on installs without a compiler
    _ext = None

#: Whether the compiled squeezing kernel is available.
HAVE_EXTENSION = _ext is not None

_KIND_CODE = {"log": 0, "log-piecewise": 1, "linear": 2}
_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="s2s")
    return _POOL


def fast_path_ok(x: torch.Tensor, squeeze: str | None) -> bool:
    """Whether :func:`analyze_fast` can serve this call."""
    return HAVE_EXTENSION and can_use_fast_path(x) and squeeze in (None, "sum")


def _rows_per_block(n_pad: int, itemsize: int) -> int:
    # two (rows, n_pad) complex buffers of about 2 MB in all stay in cache between steps
    return max(8, int(2 * 2**20 // (2 * n_pad * 2 * itemsize)))


class _Dealer:
    """Hand out consecutive indices ``0..n-1``, ``k`` at a time, to several threads."""

    def __init__(self, n: int):
        self._next, self._n = 0, n
        self._lock = threading.Lock()

    def take(self, k: int) -> range:
        with self._lock:
            start = self._next
            self._next = min(self._n, start + k)
        return range(start, self._next)


def _nbytes(t: torch.Tensor) -> int:
    """Bytes of a contiguous tensor (what a kernel may touch from its ``data_ptr``)."""
    if not t.is_contiguous():
        raise ValueError(f"fast path: expected a contiguous block, got strides {t.stride()}")
    return t.numel() * t.element_size()


_SCRATCH = threading.local()


#: Largest block buffer a thread keeps between calls (larger ones are allocated per call).
_SCRATCH_KEEP_BYTES = 8 * 2**20


def _scratch(shape: tuple[int, int], dtype, need_d: bool):
    """Block buffers ``a`` and ``d``; this thread keeps small ones between calls."""
    if shape[0] * shape[1] * np.dtype(dtype).itemsize > _SCRATCH_KEEP_BYTES:
        return np.empty(shape, dtype=dtype), (np.empty(shape, dtype=dtype) if need_d else None)
    key = (shape, np.dtype(dtype).str, need_d)
    if getattr(_SCRATCH, "key", None) != key:
        # free the old pair first; the key is set only once the new pair exists
        _SCRATCH.key = _SCRATCH.a = _SCRATCH.d = None
        _SCRATCH.a = np.empty(shape, dtype=dtype)
        _SCRATCH.d = np.empty(shape, dtype=dtype) if need_d else None
        _SCRATCH.key = key
    return _SCRATCH.a, _SCRATCH.d


def _process_signals(xh, bank, dealer, need_d, squeeze, out_wx, out_dwx, out_tx, fft_workers):
    """Transform the signals ``dealer`` hands out (indices into ``xh``), in this thread.

    The work is done block by block: ``rows`` consecutive rows of one signal's plane
    or, when whole planes are small, the planes of several signals, so that each FFT
    call gets a cache-sized job. Every kernel call names the bytes each buffer has, and
    the kernel refuses a call that would go past one.
    """
    import scipy.fft  # imported on first use: keeps `import saliency2signal` light

    F, n_pad = bank.psih.shape
    n, n_left = bank.n, bank.n_left
    is_double = bank.psih.dtype == torch.float64
    budget = _rows_per_block(n_pad, bank.psih.element_size())
    R = min(F, budget)
    per_group = max(1, budget // F)  # signals per block when a plane fits in the budget
    cdt = np.complex128 if is_double else np.complex64
    itemsize = np.dtype(cdt).itemsize
    a, d = _scratch((per_group * R, n_pad), cdt, need_d)
    a_end = a.ctypes.data + a.nbytes
    d_end = 0 if d is None else d.ctypes.data + d.nbytes
    n_deriv = _nbytes(bank.deriv)
    g = bank.grid
    sq_tail = (
        float(bank.threshold),
        _KIND_CODE[g.kind],
        is_double,
        g.lo0,
        g.step0,
        g.lo1,
        g.step1,
        int(g.first_fine),
    )
    while group := dealer.take(per_group):
        for r0 in range(0, F, R):
            rows = min(F, r0 + R) - r0
            stride = rows * n_pad * itemsize  # bytes between the signals of the block
            psih, weights = bank.psih[r0:], bank.weights[r0:]
            n_psih, n_weights = _nbytes(psih), _nbytes(weights)
            for i, b in enumerate(group):
                p_a = a.ctypes.data + i * stride
                p_d = 0 if d is None else d.ctypes.data + i * stride
                x_b = xh[b]
                _ext.modulate(
                    x_b.data_ptr(),
                    _nbytes(x_b),
                    psih.data_ptr(),
                    n_psih,
                    bank.deriv.data_ptr(),
                    n_deriv,
                    p_a,
                    a_end - p_a,
                    p_d,
                    0 if d is None else d_end - p_d,
                    rows,
                    n_pad,
                    bank.n_pos,
                    is_double,
                )
            m = len(group) * rows
            wpad = scipy.fft.ifft(a[:m], axis=-1, overwrite_x=True, workers=fft_workers)
            dpad = None
            if need_d:
                dpad = scipy.fft.ifft(d[:m], axis=-1, overwrite_x=True, workers=fft_workers)
            for i, b in enumerate(group):
                if squeeze:
                    p_w, p_dw = wpad.ctypes.data + i * stride, dpad.ctypes.data + i * stride
                    out = None if out_wx is None else out_wx[b, r0:]
                    tx_b = out_tx[b]
                    _ext.squeeze(
                        p_w,
                        wpad.ctypes.data + wpad.nbytes - p_w,
                        p_dw,
                        dpad.ctypes.data + dpad.nbytes - p_dw,
                        0 if out is None else out.data_ptr(),
                        0 if out is None else _nbytes(out),
                        tx_b.data_ptr(),
                        _nbytes(tx_b),
                        weights.data_ptr(),
                        n_weights,
                        rows,
                        n_pad,
                        n_left,
                        n,
                        F,
                        *sq_tail,
                    )
                else:
                    out_wx[b, r0 : r0 + rows].numpy()[...] = wpad[
                        i * rows : (i + 1) * rows, n_left : n_left + n
                    ]
                if out_dwx is not None:
                    out_dwx[b, r0 : r0 + rows].numpy()[...] = dpad[
                        i * rows : (i + 1) * rows, n_left : n_left + n
                    ]


def analyze_fast(
    xh: torch.Tensor,
    bank,
    *,
    derivative: bool,
    squeeze: str | None,
    out_wx: torch.Tensor | None,
    out_dwx: torch.Tensor | None,
    out_tx: torch.Tensor | None,
) -> None:
    """Run the CPU, no-autograd path into preallocated contiguous outputs.

    ``out_tx`` must be zero on entry. ``out_wx`` may be None when squeezing (Tx alone is
    wanted).

    The padded CWT of each signal is built a block of rows at a time (compiled product,
    in-place ``scipy.fft``, compiled squeezing) so that it never leaves the cache;
    signals are spread over threads (each writes only its own signals' rows of Tx).
    """
    B = xh.shape[0]
    xh = xh.contiguous()
    need_d = derivative or squeeze is not None
    if out_wx is None and squeeze is None:
        raise ValueError("out_wx=None needs squeezing (Tx is then the only output)")
    args = (xh, bank)
    tail = (need_d, squeeze, out_wx, out_dwx, out_tx)
    threads = fast_threads()
    n_threads = min(threads, B)
    if n_threads <= 1:
        _process_signals(*args, _Dealer(B), *tail, threads)
        return
    # signals are dealt a block at a time, not split in advance: a thread that gets less
    # of a core (another process, a spinning OpenMP thread) simply takes fewer
    dealer = _Dealer(B)
    futures = [_pool().submit(_process_signals, *args, dealer, *tail, 1) for _ in range(n_threads)]
    for f in futures:
        f.result()
