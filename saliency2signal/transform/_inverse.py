"""The one-integral inverses :func:`issq_cwt` and :func:`icwt`, and :func:`decompose`.

``x[n] = (2 / C) Re sum_k M[k, n] Tx[k, n]``: the inverse sums coefficients column by
column, so any mask ``M`` selects the part of the signal that lives in the selected
cells, and complementary masks add up exactly. :func:`decompose` adds the low-pass
term the wavelet bank never sees and the exact residual.

Internal to :mod:`saliency2signal.transform`; :func:`check_rows` is shared with
``inverse``. May import: numpy, torch, ``_validation``, ``transform._plan``,
``transform._config``, ``transform._results``, ``transform._forward``; never another
stage.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .._validation import check_coefficients, check_mask, check_signal, torch_dtype
from ._config import SSQConfig
from ._forward import ssq_cwt
from ._plan import MIN_LENGTH, design
from ._results import Decomposition, SSQResult, coefficients_in_order

__all__ = ["check_rows", "decompose", "icwt", "issq_cwt"]


def _masked_real_sum(coef: torch.Tensor, mask, weights: torch.Tensor | None) -> torch.Tensor:
    re = coef.real
    if weights is not None:
        re = re * weights[:, None]
    if mask is None:
        return re.sum(-2)
    m = check_mask(mask, coef.shape, device=coef.device)
    if m.dtype == torch.bool:
        return torch.where(m, re, torch.zeros((), dtype=re.dtype, device=re.device)).sum(-2)
    return (re * m.to(re.dtype)).sum(-2)


def issq_cwt(
    Tx, config: SSQConfig | None = None, *, mask=None, order: str = "ours"
) -> torch.Tensor:
    """One-integral inverse of the synchrosqueezed CWT, optionally masked.

    ``x[n] = (2 / C) Re sum_k mask[k, n] Tx[k, n]``: per column, only the selected
    (or weighted) cells enter the sum, so the result is the part of the signal that
    lives in the masked region. Linear in ``Tx`` and in ``mask``; complementary masks
    add up exactly.

    Parameters
    ----------
    Tx : torch.Tensor or numpy.ndarray, shape (..., n_freqs, n_times)
        Complex synchrosqueezed coefficients (ours: lowest frequency in row 0; rows of
        a mask must match). Never a magnitude or a heatmap.
    config : SSQConfig
        The configuration that produced ``Tx`` (for ``C`` and the row count).
    mask : array_like of bool or float, optional
        Broadcastable to ``Tx.shape``, in our row order; ``None`` inverts everything.
    order : {'ours', 'ssqueezepy'}
        Row order of ``Tx``: ``'ssqueezepy'`` for ``Tx`` as ``ssqueezepy.ssq_cwt``
        returns it (highest frequency first), flipped here (see
        :func:`~saliency2signal.transform.verify_coefficients`).

    Returns
    -------
    torch.Tensor, shape (..., n_times)
        Real signal, float dtype matching ``Tx``. The mean and slow baseline that the
        wavelets do not see are *not* included unless the plane carries the low-pass
        row (``lowpass_row=True``); see :func:`decompose`.

    Raises
    ------
    TypeError
        If ``Tx`` is real (a magnitude) or the mask complex.
    ValueError
        If the row count does not match the configuration or the mask does not broadcast.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig, ssq_cwt, issq_cwt
    >>> x = np.random.default_rng(0).standard_normal(512)
    >>> res = ssq_cwt(x, SSQConfig(nv=16))
    >>> m = torch.rand(res.Tx.shape, generator=torch.Generator().manual_seed(0)) > 0.5
    >>> parts = issq_cwt(res.Tx, res.config, mask=m) + issq_cwt(res.Tx, res.config, mask=~m)
    >>> torch.allclose(parts, issq_cwt(res.Tx, res.config), atol=1e-12)
    True
    """
    config = config or SSQConfig()
    tx = check_coefficients(coefficients_in_order(Tx, order), name="Tx")
    check_rows(tx, config)
    return _masked_real_sum(tx, mask, None) * (2.0 / config.css())


def icwt(Wx, config: SSQConfig | None = None, *, mask=None) -> torch.Tensor:
    """One-integral inverse of the CWT, optionally masked.

    ``x[n] = (2 / C) Re sum_i mask[i, n] Wx[i, n] d(ln s_i)``, with the same weights as
    the synchrosqueezing sum, so ``icwt(Wx) == issq_cwt(Tx)`` up to the cells below the
    threshold. For every scale kind (including log-piecewise and linear) the weights
    are the exact ``d(ln s)`` of the grid; the mean is not added (see
    :func:`decompose`).

    Parameters
    ----------
    Wx : array_like, shape (..., n_freqs, n_times)
        Complex CWT coefficients in our row order.
    config : SSQConfig
    mask : array_like of bool or float, optional
        Broadcastable to ``Wx.shape``.

    Returns
    -------
    torch.Tensor, shape (..., n_times)
    """
    config = config or SSQConfig()
    wx = check_coefficients(Wx, name="Wx")
    n = check_rows(wx, config)
    w = design(config, n).weights[::-1]
    if config.lowpass_row:
        w = np.concatenate([[1.0], w])
    wt = torch.as_tensor(w.copy(), dtype=wx.real.dtype, device=wx.device)
    return _masked_real_sum(wx, mask, wt) * (2.0 / config.css())


def check_rows(coef: torch.Tensor, config: SSQConfig) -> int:
    """Return ``n_times`` of ``coef`` if its row count is the one ``config`` gives."""
    n = coef.shape[-1]
    expected = config.n_freqs(n)
    if coef.shape[-2] != expected:
        raise ValueError(
            f"coefficients have {coef.shape[-2]} rows but config gives {expected} for "
            f"n_times={n}; pass the SSQConfig that produced them"
        )
    return n


def decompose(
    x, config: SSQConfig | None = None, *, result: SSQResult | None = None
) -> Decomposition:
    """Split ``x`` into low-pass, synchrosqueezed and residual parts that add up exactly.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
    config : SSQConfig, optional
    result : SSQResult, optional
        A previous ``ssq_cwt(x, config)`` to reuse.

    Returns
    -------
    Decomposition

    Notes
    -----
    The wavelet bank never sees a spectrum's mean and slow baseline. The one-integral
    inverse acts on the spectrum of the (padded) signal as the filter
    ``G[k] = (1/C) sum_i d(ln s_i) (psi_hat_i[k] + psi_hat_i[-k])``, which is ~1 across
    the band of the bank and falls to 0 below its largest scale. The low-pass term uses
    the scaling filter ``1 - G`` from DC up to the bin where ``G`` reaches its plateau
    (0 above), computed through the same padded FFT as the CWT, so that
    ``lowpass + oscillatory`` reproduces every frequency below the band exactly;
    ``residual`` is the exact remainder ``x - lowpass - oscillatory`` (the deficit near
    Nyquist and boundary effects of the padding).

    On the UCR Coffee spectra ssqueezepy's ``issq_cwt`` alone misses a large part of
    each signal, and the low-pass term closes that gap (the figures are in the README;
    ``tests/test_decompose_coffee.py`` checks them).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import decompose
    >>> t = np.linspace(0, 1, 600)
    >>> x = 3 + 2 * t + np.cos(2 * np.pi * 40 * t)
    >>> d = decompose(x)
    >>> bool(np.allclose((d.lowpass + d.oscillatory + d.residual).numpy(), x))
    True
    >>> bool(d.energy_fractions()["residual"] < 1e-3)
    True
    """
    config = config or SSQConfig()
    plain = dataclasses.replace(config, lowpass_row=False)
    xt = check_signal(x, min_length=MIN_LENGTH, dtype=torch_dtype(config.dtype))
    if result is None:
        result = ssq_cwt(xt, plain)
    tx = result.Tx[..., int(result.config.lowpass_row) :, :]
    osc = issq_cwt(tx, plain)
    lp = result.lowpass
    return Decomposition(lowpass=lp, oscillatory=osc, residual=xt - lp - osc, x=xt)
