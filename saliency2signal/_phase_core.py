"""The numerics behind :mod:`saliency2signal.phase`: metrics, dual frame and solvers.

* the metrics: :func:`spectral_convergence`, :func:`snr`, :func:`phase_aligned_snr` and
  the Hilbert rotation :func:`hilbert_rotate` that the magnitudes cannot see;
* the canonical dual frame of the bank (:func:`dual_frame`, :func:`dual_inverse`): the
  least-squares real signal for given coefficients;
* the solvers on a packed batch ``(B, F, n)``: :func:`griffin_lim` (plain and fast
  Griffin-Lim) and :func:`fit_gradient` (L-BFGS, Adam, SGD through the differentiable
  CWT).

Internal: ``phase`` re-exports the public metrics and calls the rest.
May import: numpy, torch, ``_validation``, ``transform`` (and its ``_plan``); never
another stage.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ._validation import as_tensor, check_mask, to_numpy
from .transform import SSQConfig, cwt, icwt
from .transform._plan import filter_bank

__all__ = [
    "DUAL_EPS",
    "DualFrame",
    "check_magnitude",
    "dual_frame",
    "dual_inverse",
    "fit_gradient",
    "griffin_lim",
    "hilbert_rotate",
    "phase_aligned_snr",
    "rms_estimate",
    "sc_db",
    "snr",
    "spectral_convergence",
]


def spectral_convergence(y, magnitude, config: SSQConfig, *, mask=None) -> np.ndarray:
    """Spectral convergence ``20 log10(||M(|W(y)| - S)|| / ||M S||)`` in dB.

    Parameters
    ----------
    y : array_like, shape (..., n_times)
        Candidate signal(s).
    magnitude : array_like, shape (..., n_freqs, n_times)
        Target magnitudes ``S`` (complex input: its modulus).
    config : SSQConfig
    mask : array_like of bool or float, optional
        Cells that count (default all).

    Returns
    -------
    numpy.ndarray, shape (...)
        0-d for a single signal.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, cwt
    >>> from saliency2signal.phase import spectral_convergence
    >>> cfg = SSQConfig(nv=8, padtype=None)
    >>> x = np.cos(0.3 * np.arange(256))
    >>> bool(spectral_convergence(x, cwt(x, cfg).Wx, cfg) < -200)
    True
    """
    S = check_magnitude(magnitude)
    yt = as_tensor(y, name="y").to(S.dtype)
    m = None if mask is None else check_mask(mask, S.shape, device=S.device)
    return sc_db(cwt(yt, config).Wx.abs(), S, m)


def snr(y, x) -> np.ndarray:
    """Plain signal-to-noise ratio ``10 log10(||x||^2 / ||y - x||^2)`` in dB.

    Parameters
    ----------
    y, x : array_like, shape (..., n_times)
        Estimate and reference.

    Returns
    -------
    numpy.ndarray, shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.phase import snr
    >>> round(float(snr(np.array([1.0, 1.1]), np.array([1.0, 1.0]))), 2)
    23.01
    """
    y, x = _np_pair(y, x)
    err = np.sum((y - x) ** 2, axis=-1)
    ref = np.sum(x**2, axis=-1)
    with np.errstate(divide="ignore"):
        return np.asarray(10.0 * np.log10(ref / err))


def hilbert_rotate(x, theta: float):
    """Rotate ``x`` in the plane of its Hilbert transform: ``cos(t) x - sin(t) H{x}``.

    ``H`` is the discrete (periodic) Hilbert transform, the imaginary part of
    ``scipy.signal.hilbert``. For an analytic wavelet bank with periodic boundaries the
    rotated signal has the same ``|W|`` as ``x`` (up to its DC and Nyquist bins, which
    the rotation leaves alone): the phase-retrieval ambiguity.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
    theta : float
        Angle in radians; ``pi`` is the sign flip.

    Returns
    -------
    numpy.ndarray, shape (..., n_times)

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, cwt
    >>> from saliency2signal.phase import hilbert_rotate
    >>> x = np.cos(0.3 * np.arange(512)) * np.hanning(512)
    >>> cfg = SSQConfig(wavelet="morlet", nv=8, padtype=None)
    >>> a, b = cwt(x, cfg).Wx.abs(), cwt(hilbert_rotate(x, 1.0), cfg).Wx.abs()
    >>> bool(((a - b).norm() / a.norm()) < 1e-8)
    True
    """
    x = _real_signals(x, "x")
    theta = float(theta)
    return math.cos(theta) * x - math.sin(theta) * _hilbert(x)


def phase_aligned_snr(y, x) -> np.ndarray:
    """SNR after removing what the magnitudes cannot tell: mean and Hilbert rotation.

    Both signals lose their mean; then ``x`` is replaced by its rotation
    ``cos(t) x - sin(t) H{x}`` (same norm for zero-mean ``x``) closest to ``y``,
    ``t = atan2(-<y, H x>, <y, x>)``, which also covers the global sign.

    Parameters
    ----------
    y, x : array_like, shape (..., n_times)
        Estimate and reference.

    Returns
    -------
    numpy.ndarray, shape (...)
        ``10 log10(||x_t||^2 / ||y - x_t||^2)`` in dB.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.phase import hilbert_rotate, phase_aligned_snr, snr
    >>> x = np.cos(0.2 * np.arange(400)) * np.hanning(400)
    >>> y = hilbert_rotate(x, 2.0) + 5.0
    >>> bool(phase_aligned_snr(y, x) > 100), bool(snr(y, x) < 0)
    (True, True)
    """
    y, x = _np_pair(y, x)
    y = y - y.mean(axis=-1, keepdims=True)
    x = x - x.mean(axis=-1, keepdims=True)
    hx = _hilbert(x)
    theta = np.arctan2(-np.sum(y * hx, axis=-1), np.sum(y * x, axis=-1))[..., None]
    xr = np.cos(theta) * x - np.sin(theta) * hx
    return snr(y, xr)


def _hilbert(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    h = np.zeros(n)
    h[0] = 1.0
    if n % 2 == 0:
        h[n // 2] = 1.0
        h[1 : n // 2] = 2.0
    else:
        h[1 : (n + 1) // 2] = 2.0
    return np.fft.ifft(np.fft.fft(x, axis=-1) * h, axis=-1).imag


def _real_signals(a, name: str) -> np.ndarray:
    """Return ``a`` as float64 NumPy ``(..., n_times)``; complex input is a TypeError."""
    arr = to_numpy(a, name=name)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} has complex dtype {arr.dtype}; expected a real signal")
    arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}; expected (..., n_times)")
    return arr


def _np_pair(y, x):
    y, x = _real_signals(y, "y"), _real_signals(x, "x")
    if y.shape != x.shape:
        raise ValueError(f"y of shape {y.shape} and x of shape {x.shape} differ")
    return y, x


def sc_db(A: torch.Tensor, S: torch.Tensor, m) -> np.ndarray:
    """Spectral convergence in dB of magnitudes ``A`` against ``S`` (inside ``m``)."""
    d, s = A - S, S
    if m is not None:
        d, s = d * m, s * m
    num = d.flatten(-2).norm(dim=-1)
    den = s.flatten(-2).norm(dim=-1)
    ratio = (num / torch.where(den > 0, den, torch.ones_like(den))).detach().cpu().numpy()
    with np.errstate(divide="ignore"):
        return np.asarray(20.0 * np.log10(ratio))


def check_magnitude(magnitude) -> torch.Tensor:
    """Return finite, non-negative magnitudes (the modulus of complex input), float32/64."""
    S = as_tensor(magnitude, name="magnitude")
    if S.is_complex():
        S = S.abs()
    if S.dtype != torch.float32:
        S = S.to(torch.float64)
    if S.ndim < 2:
        raise ValueError(f"magnitude has shape {tuple(S.shape)}; expected (..., n_freqs, n_times)")
    if not bool(torch.isfinite(S).all()):
        raise ValueError("magnitude contains NaN or infinite values")
    if bool((S < 0).any()):
        raise ValueError(f"magnitude has negative values (min {float(S.min()):.3g})")
    return S


# =========================================================================== dual frame
#: Tikhonov floor of the dual frame, relative to its largest frame-operator eigenvalue.
DUAL_EPS = 1e-3


@dataclass(frozen=True)
class DualFrame:
    """The canonical dual frame of a bank for ``n`` samples (and its low-pass row)."""

    filters: torch.Tensor  # (F, n_padded) real frequency responses, rows as Wx
    inv_frame: torch.Tensor  # (n_padded,) 1 / (D(k) + eps), D even
    n: int
    n_padded: int
    n_left: int
    rms_gain: float  # sqrt(mean D): ||W y|| ~ rms_gain * ||y|| for white y
    row0_weight: float  # weight of the low-pass row in the least-squares fits


@functools.lru_cache(maxsize=8)
def dual_frame(cfg: SSQConfig, n: int, dtype: torch.dtype, device: str) -> DualFrame:
    """Return the dual frame of ``cfg``'s bank for ``n`` samples (cached)."""
    b = filter_bank(cfg, n, dtype, device)
    filters = b.psih
    bank_den = (filters.to(torch.float64) ** 2).sum(0)
    w0 = 1.0
    if cfg.lowpass_row:
        # the one real row would weigh as little as one wavelet row against the whole
        # bank: weight it so that the low-pass channel matters as much as the bank does
        peak = float((bank_den + torch.cat([bank_den[:1], bank_den[1:].flip(0)])).max())
        w0 = math.sqrt(peak / 2) / (b.css / 2.0)
        row0 = (w0 * b.css / 2.0) * b.phi[None, :].to(filters.dtype)
        filters = torch.cat([row0, filters])
    den = (filters.to(torch.float64) ** 2).sum(0)
    d = den + torch.cat([den[:1], den[1:].flip(0)])
    inv = 1.0 / (d + DUAL_EPS * d.max())
    dbank = bank_den + torch.cat([bank_den[:1], bank_den[1:].flip(0)])
    return DualFrame(
        filters, inv.to(dtype), n, b.n_padded, b.n_left, float(torch.sqrt(dbank.mean() / 2)), w0
    )


def dual_inverse(W: torch.Tensor, dual: DualFrame) -> torch.Tensor:
    """Least-squares real signal for coefficients ``W`` (B, F, n) -> (B, n)."""
    right = dual.n_padded - dual.n - dual.n_left
    Wp = torch.nn.functional.pad(W, (dual.n_left, right)) if dual.n_padded != dual.n else W
    Wh = torch.fft.fft(Wp, dim=-1)
    if dual.row0_weight != 1.0:
        Wh = torch.cat([Wh[..., :1, :] * dual.row0_weight, Wh[..., 1:, :]], dim=-2)
    num = (dual.filters * Wh).sum(-2)
    num_neg = torch.cat([num[..., :1], num[..., 1:].flip(-1)], dim=-1).conj()
    y = torch.fft.ifft((num + num_neg) * dual.inv_frame, dim=-1).real
    return y[..., dual.n_left : dual.n_left + dual.n]


def rms_estimate(S, dual: DualFrame, m) -> torch.Tensor:
    """Signal RMS implied by the magnitudes, from the mean frame bound (white signal)."""
    if m is None:
        e = S.pow(2).sum((-2, -1)) / S[0].numel()
    else:  # average energy per known cell
        e = (S * m).pow(2).sum((-2, -1)) / m.sum((-2, -1)).clamp(min=1)
    rms = e.sqrt() / dual.rms_gain
    return torch.where(rms > 0, rms, torch.ones_like(rms))


def griffin_lim(S, cfg, y, m, dual, *, alpha, n_iter, projection, known_lp, nonnegative):
    """Run (fast) Griffin-Lim from ``y``; return ``(y, Wy, sc_history, n_iter, n_evals)``."""
    if projection == "dual":

        def inverse(W):
            return dual_inverse(W, dual)
    else:

        def inverse(W):
            return icwt(W, cfg)

    c0 = cfg.css() / 2.0
    hist = []
    c = cwt(y, cfg).Wx
    t_prev = None
    n_evals = 1
    for _ in range(n_iter):
        target = S * torch.exp(1j * c.angle()).to(c.dtype)
        if m is not None:
            target = torch.where(m > 0, target, c)
        if known_lp is not None:
            target[:, 0, :] = c0 * known_lp
        y = inverse(target)
        if nonnegative:
            y = y.clamp(min=0)
        t = cwt(y, cfg).Wx
        n_evals += 1
        hist.append(sc_db(t.abs(), S, m))
        c = t if t_prev is None or alpha == 0 else t + alpha * (t - t_prev)
        t_prev = t
    return y, t_prev, hist, n_iter, n_evals


def fit_gradient(S, cfg, y0, m, dual, *, method, n_iter, lr, known_lp, nonnegative):
    """Fit the magnitudes by L-BFGS, Adam or SGD; return ``(y, sc_history, n_iter, n_evals)``."""
    square = nonnegative and method == "lbfgs"
    if square:  # y = u**2 >= 0, a smooth parametrisation for the quasi-Newton method
        param = y0.clamp(min=0).add(1e-3 * float(y0.abs().max())).sqrt().requires_grad_(True)
    else:
        param = y0.clone().requires_grad_(True)
    w = torch.ones_like(S) if m is None else m
    if cfg.lowpass_row:
        w = torch.cat([w[:, :1] * dual.row0_weight, w[:, 1:]], dim=1)
    norm = (S * w).pow(2).sum().clamp(min=torch.finfo(S.dtype).tiny)
    c0 = cfg.css() / 2.0
    rms = float(rms_estimate(S, dual, m).mean())
    hist: list[np.ndarray] = []
    count = [0]

    def signal():
        return param * param if square else param

    def loss_fn():
        W = cwt(signal(), cfg).Wx
        A = W.abs()
        count[0] += 1
        hist.append(sc_db(A.detach(), S, m))
        if known_lp is not None:  # the real low-pass row is known with its sign
            A = torch.cat([W[:, :1].real + (S[:, :1] - c0 * known_lp[:, None]), A[:, 1:]], 1)
        if method == "sgd":  # the popular recipe: mean squared error of magnitudes
            return ((A - S) * w).pow(2).mean()
        loss = ((A - S) * w).pow(2).sum() / norm
        return loss

    if method == "lbfgs":
        opt = torch.optim.LBFGS(
            [param],
            lr=1.0 if lr is None else lr,
            max_iter=n_iter,
            max_eval=n_iter,
            history_size=20,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
        n_it = int(opt.state[opt._params[0]].get("n_iter", 0))
        return signal().detach(), hist, n_it, count[0]

    if method == "adam":
        opt = torch.optim.Adam([param], lr=(1.0 if lr is None else lr) * rms)
    else:
        # Gauss-Newton Hessian of mean((|Wy| - S)^2) is 2 W^T W / (B F n): bound by D_max
        lmax = 2.0 / float(dual.inv_frame.min()) / S.numel()
        opt = torch.optim.SGD([param], lr=0.5 / lmax if lr is None else lr)
    for _ in range(n_iter):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        if nonnegative:
            with torch.no_grad():
                param.clamp_(min=0)
    return param.detach(), hist, n_iter, count[0]
