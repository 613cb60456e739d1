"""The forward transforms: :func:`cwt`, :func:`ssq_cwt`, the Tx-only :func:`ssq_tx`.

Signals ``(..., n_times)`` are packed to ``(B, n)``, padded, transformed by one of the
two interchangeable paths of :mod:`saliency2signal._kernels` (torch: differentiable,
any device; CPU fast path: compiled kernels, no autograd) and unpacked to
``(..., n_freqs, n_times)`` with the lowest frequency in row 0. :class:`SSQCWT` is the
thin ``nn.Module`` around :func:`ssq_cwt`.

Internal to :mod:`saliency2signal.transform`; :func:`ssq_tx` is shared with the
deletion checks (``forward``). May import: numpy, scipy (lazily), torch,
``_kernels``, ``_validation``, ``transform._plan``, ``transform._config``,
``transform._results``; never the inverse or another stage.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import _kernels
from .._validation import check_instance, check_signal, torch_dtype
from ._config import SSQConfig
from ._plan import MIN_LENGTH, Bank, filter_bank
from ._results import CWTResult, SSQResult

__all__ = ["SSQCWT", "cwt", "ssq_cwt", "ssq_tx"]


def _prepare(x, config: SSQConfig):
    check_instance(config, SSQConfig, "config")
    t = check_signal(x, min_length=MIN_LENGTH, dtype=torch_dtype(config.dtype))
    batch_shape, n = t.shape[:-1], t.shape[-1]
    return t.reshape(-1, n), batch_shape, filter_bank(config, n, t.dtype, str(t.device))


def _lowpass_term(xh: torch.Tensor, bank: Bank) -> torch.Tensor:
    lp = torch.fft.ifft(xh * bank.phi).real
    return lp[..., bank.n_left : bank.n_left + bank.n]


def _forward(
    x2: torch.Tensor,
    bank: Bank,
    *,
    derivative: bool,
    squeeze: str | None,
    chunk: int | None,
    lowpass_scale: float | None = None,
    keep_wx: bool = True,
):
    """Core: x2 (B, n) -> Wx, dWx or None, Tx or None, lowpass (rows ascending).

    With ``lowpass_scale``, Wx and Tx get the low-pass row ``lowpass * lowpass_scale``
    as row 0 (and dWx a zero row): written in place on the fast path, concatenated
    (differentiably) otherwise. With ``keep_wx=False`` the fast path skips Wx (None)
    when squeezing; the torch path computes it anyway.
    """
    if _kernels.fast_path_ok(x2, squeeze):
        return _forward_fast(
            x2,
            bank,
            derivative=derivative,
            squeeze=squeeze,
            chunk=chunk,
            lowpass_scale=lowpass_scale,
            keep_wx=keep_wx or not squeeze,
        )
    wx, dwx, tx, lp = _forward_torch(x2, bank, derivative=derivative, squeeze=squeeze, chunk=chunk)
    if lowpass_scale is not None:
        wx = _with_lowpass_row(wx, lp, lowpass_scale)
        if dwx is not None:
            dwx = _with_lowpass_row(dwx, torch.zeros_like(lp), 0.0)
        if tx is not None:
            tx = _with_lowpass_row(tx, lp, lowpass_scale)
    return wx, dwx, tx, lp


def _forward_torch(
    x2: torch.Tensor, bank: Bank, *, derivative: bool, squeeze: str | None, chunk: int | None
):
    """Torch path (autograd, CUDA): x2 (B, n) -> Wx, dWx or None, Tx or None, lowpass."""
    B, n = x2.shape
    F = bank.psih.shape[0]
    if chunk is None:
        per_signal = 2 * F * bank.n_padded * 2 * x2.element_size()
        chunk = max(1, int(_kernels.WORKSPACE_BYTES // per_signal))
    outs = []
    for s in range(0, B, chunk):
        xh = torch.fft.fft(_pad(x2[s : s + chunk], bank))
        wx, dwx, tx = _kernels.analyze_torch(xh, bank, derivative=derivative, squeeze=squeeze)
        outs.append((wx, dwx, tx, _lowpass_term(xh, bank)))
    if len(outs) == 1:
        return outs[0]
    return tuple(None if o[0] is None else torch.cat(o) for o in zip(*outs, strict=True))


def _forward_fast(x2, bank, *, derivative, squeeze, chunk, lowpass_scale=None, keep_wx=True):
    """CPU path without autograd: NumPy/SciPy around the compiled kernels.

    No torch operator runs here, so torch's OpenMP pool does not compete with the worker
    threads; outputs are allocated by NumPy (``zeros`` maps fresh zero pages, so Tx is
    not cleared twice) and returned as tensors sharing that memory. With
    ``lowpass_scale`` the planes are allocated one row taller and the kernels write rows
    ``1..F`` of each signal (a signal's rows stay contiguous), so the low-pass row costs
    one row, not a copy of the plane. Without ``keep_wx`` Wx is neither allocated nor
    filled (None).
    """
    import scipy.fft

    B, n = x2.shape
    F = bank.psih.shape[0]
    cdt = np.complex128 if x2.dtype == torch.float64 else np.complex64
    xn = x2.detach().numpy()
    extra = 0 if lowpass_scale is None else 1
    wx_all = np.empty((B, F + extra, n), dtype=cdt) if keep_wx else None
    dwx_all = np.empty((B, F + extra, n), dtype=cdt) if derivative else None
    tx_all = np.zeros((B, F + extra, n), dtype=cdt) if squeeze else None
    wx, dwx, tx = (None if a is None else a[:, extra:] for a in (wx_all, dwx_all, tx_all))
    lp = np.empty((B, n), dtype=xn.dtype)
    sl = slice(bank.n_left, bank.n_left + n)
    phi = bank.phi.numpy()
    cs = chunk or 64
    threads = _kernels.fast_threads()
    for s in range(0, B, cs):
        e = min(B, s + cs)
        xh = scipy.fft.fft(_pad_numpy(xn[s:e], bank), axis=-1, workers=threads)
        lp[s:e] = scipy.fft.ifft(xh * phi, axis=-1, workers=threads).real[:, sl]
        _kernels.analyze_fast(
            torch.from_numpy(xh),
            bank,
            derivative=derivative,
            squeeze=squeeze,
            out_wx=None if wx is None else torch.from_numpy(wx[s:e]),
            out_dwx=None if dwx is None else torch.from_numpy(dwx[s:e]),
            out_tx=None if tx is None else torch.from_numpy(tx[s:e]),
        )
    if extra:
        # as _with_lowpass_row: scale in the real dtype, then cast to complex
        row = lp * lowpass_scale
        if wx_all is not None:
            wx_all[:, 0] = row
        if tx_all is not None:
            tx_all[:, 0] = row
        if dwx_all is not None:
            dwx_all[:, 0] = 0
    as_t = lambda a: None if a is None else torch.from_numpy(a)  # noqa: E731
    return as_t(wx_all), as_t(dwx_all), as_t(tx_all), as_t(lp)


def _lowpass_scale(bank: Bank, config: SSQConfig) -> float | None:
    """Scale of the low-pass row (``_forward``'s ``lowpass_scale``), None without one."""
    return bank.css / 2.0 if config.lowpass_row else None


def _pad_numpy(xn: np.ndarray, bank: Bank) -> np.ndarray:
    if bank.pad_index is not None:
        return xn[:, bank.pad_index.numpy()]
    right = bank.n_padded - bank.n - bank.n_left
    return np.pad(xn, ((0, 0), (bank.n_left, right)))


def _pad(x2: torch.Tensor, bank: Bank) -> torch.Tensor:
    if bank.pad_index is not None:
        return x2[:, bank.pad_index]
    if bank.n_padded == bank.n:
        return x2
    right = bank.n_padded - bank.n - bank.n_left
    return torch.nn.functional.pad(x2, (bank.n_left, right))


def _with_lowpass_row(coef: torch.Tensor, lowpass: torch.Tensor, scale: float) -> torch.Tensor:
    row = (lowpass * scale).to(coef.dtype).unsqueeze(-2)
    return torch.cat([row, coef], dim=-2)


def cwt(
    x, config: SSQConfig | None = None, *, derivative: bool = False, chunk_size: int | None = None
) -> CWTResult:
    """Continuous wavelet transform, batched, lowest frequency in row 0.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
        Real signal(s), float32 or float64 (numpy or torch; CPU or CUDA).
    config : SSQConfig, optional
        Transform parameters (default ``SSQConfig()``).
    derivative : bool
        Also return the time derivative ``dWx`` (per unit time, as ssqueezepy).
    chunk_size : int, optional
        Signals processed at once; by default chosen to bound the working memory
        (about 256 MB of padded coefficients).

    Returns
    -------
    CWTResult
        ``Wx`` of shape ``(..., n_freqs, n_times)``, complex64 for float32 input and
        complex128 for float64, on the input's device.

    Raises
    ------
    TypeError
        For complex, integer or non-array input.
    ValueError
        For NaN/inf values, empty or 0-d input, or ``n_times < MIN_LENGTH``.

    Notes
    -----
    Equals ``ssqueezepy.cwt(x, wavelet, scales, nv=nv, l1_norm=True, padtype=...)``
    up to the row order (see :func:`to_ssqueezepy`). Differentiable with respect to
    ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, cwt
    >>> x = np.cos(2 * np.pi * 0.05 * np.arange(512))
    >>> res = cwt(x, SSQConfig(nv=16))
    >>> res.Wx.shape
    torch.Size([114, 512])
    >>> round(float(res.freqs[res.Wx.abs()[:, 256].argmax()]), 3)  # row of the tone
    0.05
    """
    config = config or SSQConfig()
    x2, batch_shape, bank = _prepare(x, config)
    wx, dwx, _, lp = _forward(
        x2,
        bank,
        derivative=derivative,
        squeeze=None,
        chunk=chunk_size,
        lowpass_scale=_lowpass_scale(bank, config),
    )
    n = x2.shape[-1]
    shape = (*batch_shape, wx.shape[-2], n)
    return CWTResult(
        Wx=wx.reshape(shape),
        dWx=None if dwx is None else dwx.reshape(shape),
        scales=config.scales(n),
        freqs=config.cwt_freqs(n),
        lowpass=lp.reshape(*batch_shape, n),
        config=config,
    )


def ssq_cwt(x, config: SSQConfig | None = None, *, chunk_size: int | None = None) -> SSQResult:
    """Synchrosqueezed CWT, batched, lowest frequency in row 0.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
        Real signal(s), float32 or float64.
    config : SSQConfig, optional
        Transform parameters (default ``SSQConfig()``, ssqueezepy's defaults).
    chunk_size : int, optional
        Signals processed at once (default: bounded working memory).

    Returns
    -------
    SSQResult
        ``Tx``, ``Wx``, ``freqs``, ``scales``, ``lowpass``.

    Raises
    ------
    TypeError, ValueError
        As :func:`cwt`.

    Notes
    -----
    Each cell with ``|Wx| > threshold`` is moved to the row whose frequency is nearest
    (in log2 for geometric grids) to its instantaneous frequency
    ``|Im(conj(Wx) dWx)| / (2 pi |Wx|^2)``, out-of-range values clamped to the edge
    rows, weighted by ``d(ln s)`` of its scale. ``Tx`` is differentiable with respect to
    the coefficient values (the bin assignment is piecewise constant).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, ssq_cwt, issq_cwt
    >>> n = np.arange(1024)
    >>> x = np.cos(2 * np.pi * (0.02 * n + 0.1 * n**2 / 1024))
    >>> res = ssq_cwt(x, SSQConfig(nv=32))
    >>> res.Tx.shape, res.Tx.dtype
    (torch.Size([237, 1024]), torch.complex128)
    >>> err = np.linalg.norm(issq_cwt(res.Tx, res.config).numpy() - x) / np.linalg.norm(x)
    >>> bool(err < 0.02)
    True
    """
    config = config or SSQConfig()
    x2, batch_shape, bank = _prepare(x, config)
    wx, _, tx, lp = _forward(
        x2,
        bank,
        derivative=False,
        squeeze=config.squeezing,
        chunk=chunk_size,
        lowpass_scale=_lowpass_scale(bank, config),
    )
    n = x2.shape[-1]
    shape = (*batch_shape, wx.shape[-2], n)
    return SSQResult(
        Tx=tx.reshape(shape),
        Wx=wx.reshape(shape),
        freqs=config.freqs(n),
        scales=config.scales(n),
        lowpass=lp.reshape(*batch_shape, n),
        config=config,
    )


def ssq_tx(x, config: SSQConfig) -> torch.Tensor:
    """``ssq_cwt(x, config).Tx`` without autograd; the CPU fast path skips Wx.

    For callers that read Tx only (the deletion checks): the fast path then neither
    allocates nor fills a plane they would throw away.
    """
    x2, batch_shape, bank = _prepare(x, config)
    with torch.no_grad():
        _, _, tx, _ = _forward(
            x2,
            bank,
            derivative=False,
            squeeze=config.squeezing,
            chunk=None,
            keep_wx=False,
            lowpass_scale=_lowpass_scale(bank, config),
        )
    return tx.reshape(*batch_shape, *tx.shape[-2:])


class SSQCWT(torch.nn.Module):
    """Thin ``nn.Module`` around :func:`ssq_cwt` returning ``Tx``.

    Holds only the configuration; the wavelet bank is cached per device and dtype, so
    the module follows its input. Useful inside ``nn.Sequential`` pipelines.

    Examples
    --------
    >>> import torch
    >>> from saliency2signal import SSQCWT, SSQConfig
    >>> m = SSQCWT(SSQConfig(nv=16))
    >>> m(torch.randn(2, 3, 256)).shape
    torch.Size([2, 3, 114, 256])
    """

    def __init__(self, config: SSQConfig | None = None):
        super().__init__()
        self.config = config or SSQConfig()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the synchrosqueezed coefficients ``Tx`` of ``x``."""
        return ssq_cwt(x, self.config).Tx

    def extra_repr(self) -> str:  # noqa: D102
        return self.config.to_json()
