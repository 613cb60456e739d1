"""Consistent inverses: a signal whose CWT is (close to) the masked CWT of another.

:func:`inconsistency` measures how far a signal's CWT is from the masked coefficients;
:func:`consistent_inverse` reduces it by L-BFGS through the differentiable
:func:`~saliency2signal.cwt` (:class:`ConsistentInverse`).

Internal to :mod:`saliency2signal.inverse` (which re-exports the public names).
May import: torch, ``_validation``, ``transform``, ``inverse._masks``,
``inverse._components``; never another stage.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch

from .._validation import as_tensor, check_int, check_real, check_signal
from ..transform import MIN_LENGTH, SSQConfig, cwt
from ._components import ssq_mask_to_cwt
from ._masks import check_config, check_kind, is_labels, row_weights

__all__ = ["ConsistentInverse", "consistent_inverse", "inconsistency"]


_LOSSES = ("complex", "magnitude")
_GRIDS = ("cwt", "ssq")


def _as_cwt_mask(mask, config: SSQConfig, shape: torch.Size, grid: str, device, dtype):
    grid = check_kind(grid, _GRIDS, "grid")
    m = as_tensor(mask, name="mask")
    if m.is_complex():
        raise TypeError(f"mask has complex dtype {m.dtype}; expected bool or float")
    if is_labels(m):
        raise TypeError(
            f"mask has integer dtype {m.dtype}; pass one region as a bool/float mask "
            "(see masks_from_labels)"
        )
    if m.ndim < 2 or tuple(m.shape[-2:]) != tuple(shape[-2:]):
        raise ValueError(
            f"mask of shape {tuple(m.shape)} must end in (n_freqs, n_times) = {tuple(shape[-2:])}"
        )
    if m.dtype != torch.bool and not bool(torch.isfinite(m).all()):
        raise ValueError("mask contains NaN or infinite values")
    if grid == "ssq":
        m = ssq_mask_to_cwt(m, config=config)
    return m.to(device=device, dtype=dtype)


def _cwt64(x, config):
    cfg = dataclasses.replace(config, dtype="float64")
    return cfg, check_signal(x, min_length=MIN_LENGTH, dtype=torch.float64)


def _inc(w, target, norm):
    return torch.linalg.vector_norm(w - target, dim=(-2, -1)) / norm


def inconsistency(
    y, x, config: SSQConfig | None = None, *, mask, grid: str = "cwt"
) -> torch.Tensor:
    """How far ``y`` is from having the masked CWT of ``x`` as its CWT.

    ``I(y) = ||W(y) - M W(x)||_F / ||M W(x)||_F`` on the CWT plane (float64).

    Parameters
    ----------
    y : array_like, shape (..., n_times)
        Candidate signal(s), e.g. a masked inverse of ``x``.
    x : array_like, shape (..., n_times)
        The signal whose masked coefficients are the target.
    config : SSQConfig, optional
    mask : array_like, shape (..., n_freqs, n_times)
        Bool or float mask on the CWT grid (``grid='cwt'``) or on the SSQ grid
        (``grid='ssq'``, carried over by :func:`ssq_mask_to_cwt`).
    grid : {'cwt', 'ssq'}

    Returns
    -------
    torch.Tensor, shape (...)
        ``I`` per signal (float64). Where ``M W(x) = 0`` the denominator is taken as 1.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> x = np.random.default_rng(0).standard_normal(256)
    >>> cfg = SSQConfig(nv=16, lowpass_row=True)
    >>> full = np.ones((cfg.n_freqs(256), 256), dtype=bool)
    >>> bool(inconsistency(x, x, cfg, mask=full) == 0)
    True
    """
    config = check_config(config)
    cfg, x64 = _cwt64(x, config)
    _, y64 = _cwt64(y, config)
    wx = cwt(x64, cfg).Wx
    m = _as_cwt_mask(mask, config, wx.shape, grid, wx.device, torch.float64)
    target = m * wx
    norm = torch.linalg.vector_norm(target, dim=(-2, -1))
    norm = torch.where(norm > 0, norm, torch.ones_like(norm))
    with torch.no_grad():
        return _inc(cwt(y64.to(wx.device), cfg).Wx, target, norm)


@dataclass(frozen=True)
class ConsistentInverse:
    """Output of :func:`consistent_inverse`.

    Attributes
    ----------
    signal : torch.Tensor, shape (..., n_times)
        The best iterate (never more inconsistent than ``start``).
    start : torch.Tensor, shape (..., n_times)
        The starting point (the masked linear inverse ``icwt(Wx, mask=M)`` by default).
    inconsistency_start, inconsistency : torch.Tensor, shape (...)
        :func:`inconsistency` of ``start`` and of ``signal``.
    n_iter : int
        L-BFGS iterations done.
    n_evals : int
        Objective (forward + backward CWT) evaluations.
    seconds : float
        Wall time of the solve.
    loss : str
    lam : float
    """

    signal: torch.Tensor
    start: torch.Tensor
    inconsistency_start: torch.Tensor
    inconsistency: torch.Tensor
    n_iter: int
    n_evals: int
    seconds: float
    loss: str
    lam: float

    def to_dict(self) -> dict:
        """JSON-compatible summary (no signals)."""
        return {
            "inconsistency_start": self.inconsistency_start.detach().cpu().tolist(),
            "inconsistency": self.inconsistency.detach().cpu().tolist(),
            "n_iter": int(self.n_iter),
            "n_evals": int(self.n_evals),
            "seconds": float(self.seconds),
            "loss": self.loss,
            "lam": float(self.lam),
        }


def consistent_inverse(
    x,
    config: SSQConfig | None = None,
    *,
    mask,
    grid: str = "cwt",
    loss: str = "complex",
    lam: float = 1.0,
    max_iter: int = 100,
    init=None,
    history_size: int = 20,
) -> ConsistentInverse:
    """Find a signal whose CWT matches the masked CWT of ``x`` (L-BFGS through the CWT).

    The linear masked inverse ``icwt(Wx, mask=M)`` is in general *not* consistent: its
    own CWT differs from ``M Wx`` (a mask cuts the redundant CWT along lines no signal's
    transform follows). This solves, in float64, starting from that linear inverse,

    * ``loss='complex'``:   ``min_y ||M (W(y) - W(x))||^2 + lam ||(1 - M) W(y)||^2``
    * ``loss='magnitude'``: ``min_y ||M (|W(y)| - |W(x)|)||^2 + lam ||(1 - M) W(y)||^2``

    each normalised by ``||M W(x)||^2``, with ``torch.optim.LBFGS``
    (``line_search_fn='strong_wolfe'``) and autograd through :func:`~saliency2signal.cwt`.
    For a binary mask and ``lam = 1`` the complex objective *is* ``I(y)^2``
    (:func:`inconsistency`). Every evaluated point is scored by ``I`` and the best is
    returned, so ``inconsistency <= inconsistency_start`` always.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
        Signal(s); batches are solved jointly (the problems are separable) and the best
        iterate is kept per signal.
    config : SSQConfig, optional
        With ``lowpass_row=True`` the CWT plane includes the low-pass row, so the mask
        can keep or drop the baseline; without it the baseline is invisible to ``W`` and
        the solution carries none.
    mask : array_like, shape (..., n_freqs, n_times)
        One region (bool or float), broadcastable over the batch of ``x``. For several
        regions use ``x[..., None, :]`` with a stack ``(..., R, n_freqs, n_times)``.
    grid : {'cwt', 'ssq'}
        Grid of ``mask``: CWT rows (scales, centre frequencies ``config.cwt_freqs(n)``)
        or SSQ rows (frequencies ``config.freqs(n)``), mapped by :func:`ssq_mask_to_cwt`.
    loss : {'complex', 'magnitude'}
    lam : float
        Weight of the energy outside the mask (>= 0).
    max_iter : int
        L-BFGS iterations.
    init : array_like, shape (..., n_times), optional
        Starting point instead of the linear inverse.
    history_size : int
        L-BFGS memory.

    Returns
    -------
    ConsistentInverse
        ``signal`` in ``x``'s dtype, on its device.

    Raises
    ------
    TypeError, ValueError
        For bad masks, losses, grids or parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> t = np.arange(256)
    >>> x = np.exp(-0.5 * ((t - 128) / 6) ** 2)
    >>> cfg = SSQConfig(nv=16, lowpass_row=True)
    >>> mask = np.zeros((cfg.n_freqs(256), 256), dtype=bool)
    >>> mask[:, 100:156] = True
    >>> res = consistent_inverse(x, cfg, mask=mask, max_iter=30)
    >>> round(float(res.inconsistency_start), 2), round(float(res.inconsistency), 2)
    (1.56, 0.82)
    """
    config = check_config(config)
    check_kind(loss, _LOSSES, "loss")
    lam = check_real(lam, "lam", low=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    history_size = check_int(history_size, "history_size", minimum=1)
    x_in = check_signal(x, min_length=MIN_LENGTH)
    cfg, x64 = _cwt64(x_in, config)
    with torch.no_grad():
        wx = cwt(x64, cfg).Wx
    m = _as_cwt_mask(mask, config, wx.shape, grid, wx.device, torch.float64)
    target = m * wx
    batch = torch.broadcast_shapes(target.shape[:-2], x64.shape[:-1])
    target = target.expand(*batch, *target.shape[-2:])
    norm = torch.linalg.vector_norm(target, dim=(-2, -1))
    norm = torch.where(norm > 0, norm, torch.ones_like(norm))
    m_out = 1.0 - m
    if init is None:  # the masked linear inverse, icwt(Wx, mask=M), for any batch layout
        w_rows = row_weights(cfg, wx.shape[-1], "cwt", torch.float64, wx.device)
        y0 = (target.real * w_rows[:, None]).sum(-2)
    else:
        y0 = check_signal(init, min_length=MIN_LENGTH, dtype=torch.float64).to(wx.device)
    y0 = y0.expand(*batch, x64.shape[-1]).detach().clone()
    with torch.no_grad():
        inc0 = _inc(cwt(y0, cfg).Wx, target, norm)
    best_y, best_inc = y0.clone(), inc0.clone()
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [y],
        lr=1.0,
        max_iter=max_iter,
        max_eval=2 * max_iter + 10,
        history_size=history_size,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )
    n_evals = 0
    mag_x = wx.abs()

    def closure():
        nonlocal n_evals, best_y, best_inc
        opt.zero_grad()
        w = cwt(y, cfg).Wx
        with torch.no_grad():
            inc = _inc(w, target, norm)
            better = inc < best_inc
            if bool(better.any()):
                best_inc = torch.where(better, inc, best_inc)
                best_y = torch.where(better[..., None], y.detach(), best_y)
        fit = (m * (w - wx)) if loss == "complex" else m * (w.abs() - mag_x)
        j = (fit.abs() ** 2).sum((-2, -1)) + lam * ((m_out * w).abs() ** 2).sum((-2, -1))
        total = (j / norm**2).sum()
        total.backward()
        n_evals += 1
        return total

    t0 = time.perf_counter()
    with torch.enable_grad():
        opt.step(closure)
    seconds = time.perf_counter() - t0
    n_iter = int(opt.state[opt._params[0]].get("n_iter", 0))
    return ConsistentInverse(
        signal=best_y.to(x_in.dtype),
        start=y0.to(x_in.dtype),
        inconsistency_start=inc0,
        inconsistency=best_inc,
        n_iter=n_iter,
        n_evals=n_evals,
        seconds=seconds,
        loss=loss,
        lam=float(lam),
    )
