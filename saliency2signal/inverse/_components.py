"""One signal component per region: :func:`components`, and the masks it takes.

:func:`components` inverts a plane under each region of a mask stack or label image in
one pass; :func:`masks_from_labels` turns a label image into a stack and
:func:`ssq_mask_to_cwt` carries a mask from the SSQ grid to the CWT grid.

Internal to :mod:`saliency2signal.inverse` (which re-exports the public functions).
May import: numpy, torch, ``_validation``, ``transform``, ``inverse._masks``; never
another stage.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import as_tensor, check_choice
from ..transform import (
    MIN_LENGTH,
    ORDERS,
    CWTResult,
    SSQConfig,
    SSQResult,
    coefficients_in_order,
)
from ._masks import check_config, check_kind, check_masks, is_labels, project, weighted_real

__all__ = ["components", "masks_from_labels", "ssq_mask_to_cwt"]


def _resolve(coef, config, kind, order: str = "ours"):
    """Return (coefficients, config, kind) of a result object or an array in ``order``."""
    check_choice(order, ORDERS, "order")
    if order != "ours" and isinstance(coef, (SSQResult, CWTResult)):
        raise ValueError(f"order={order!r} is for arrays; a result object is in our order")
    if isinstance(coef, SSQResult):
        kind = check_kind("ssq" if kind is None else kind)
        if config is not None and config != coef.config:
            raise ValueError("config differs from the config stored in the result")
        return (coef.Tx if kind == "ssq" else coef.Wx), coef.config, kind
    if isinstance(coef, CWTResult):
        kind = check_kind("cwt" if kind is None else kind)
        if kind != "cwt":
            raise ValueError(f"kind={kind!r} needs Tx, but a CWTResult holds only Wx")
        if config is not None and config != coef.config:
            raise ValueError("config differs from the config stored in the result")
        return coef.Wx, coef.config, kind
    kind = check_kind("ssq" if kind is None else kind)
    if config is None:
        raise TypeError("config is required when coef is an array (it fixes C and the rows)")
    return coefficients_in_order(coef, order), check_config(config), kind


def masks_from_labels(labels, *, n_regions: int | None = None) -> torch.Tensor:
    """One boolean mask per label: ``(..., F, N)`` integers -> ``(..., R, F, N)`` bool.

    Parameters
    ----------
    labels : array_like of int, shape (..., n_freqs, n_times)
        0 = background, ``1..n_regions`` = regions.
    n_regions : int, optional
        Number of regions ``R`` (default: the largest label).

    Returns
    -------
    torch.Tensor of bool, shape (..., n_regions, n_freqs, n_times)
        ``out[..., r, :, :] == (labels == r + 1)``.

    Raises
    ------
    TypeError
        If ``labels`` is not an integer array.
    ValueError
        For negative labels or a label above ``n_regions``.

    Examples
    --------
    >>> import numpy as np
    >>> masks_from_labels(np.array([[0, 1], [2, 2]])).sum((-2, -1)).tolist()
    [1, 2]
    """
    t = as_tensor(labels, name="labels")
    if not is_labels(t):
        raise TypeError(f"labels has dtype {t.dtype}; expected an integer label image")
    m, r, _ = check_masks(t, t.shape, n_regions=n_regions, name="labels")
    ids = torch.arange(1, r + 1, device=m.device).reshape(r, 1, 1)
    return m.unsqueeze(-3) == ids


def components(
    coef,
    config: SSQConfig | None = None,
    *,
    masks,
    kind: str | None = None,
    n_regions: int | None = None,
    order: str = "ours",
) -> torch.Tensor:
    """One signal component per region, by the masked one-integral inverse.

    ``c[..., r, n] = (2 / C) Re sum_k M[..., r, k, n] w_k coef[..., k, n]`` with ``w_k = 1``
    for ``Tx`` (SSQ) and ``w_k = d(ln s_k)`` for ``Wx`` (CWT), i.e. exactly
    :func:`~saliency2signal.issq_cwt` / :func:`~saliency2signal.icwt` with ``mask=M_r``,
    computed for all regions in one pass.

    Parameters
    ----------
    coef : torch.Tensor, numpy.ndarray, SSQResult or CWTResult
        Complex ``Tx`` or ``Wx`` of shape ``(..., n_freqs, n_times)``, lowest frequency in
        row 0, or a result object (then ``config`` and ``kind`` are read from it: an
        ``SSQResult`` gives ``Tx`` unless ``kind='cwt'``).
    config : SSQConfig
        The configuration that produced ``coef`` (required for arrays).
    masks : array_like
        Either a stack ``(..., n_regions, n_freqs, n_times)`` of bool or float (soft)
        masks whose batch dims broadcast to those of ``coef``, or an integer label image
        ``(..., n_freqs, n_times)`` with 0 = background and labels ``1..n_regions``.
    kind : {'ssq', 'cwt'}, optional
        Which plane ``coef`` is (default ``'ssq'`` for arrays and ``SSQResult``).
    n_regions : int, optional
        Number of regions of a label image (default: its largest label); lets a batch of
        label images that miss some labels give a fixed ``R``.
    order : {'ours', 'ssqueezepy'}
        Row order of an array ``coef``: ``'ssqueezepy'`` for ``Tx``/``Wx`` as
        ``ssqueezepy.ssq_cwt``/``cwt`` return them (highest frequency first), flipped
        here. The masks are always in our order (lowest frequency in row 0), as
        :func:`~saliency2signal.mask.attribution_mask` and
        :func:`~saliency2signal.imaging.pull_back` return them. With the signals at
        hand, :func:`~saliency2signal.transform.verify_coefficients` tells which order
        an array is in.

    Returns
    -------
    torch.Tensor, shape (..., n_regions, n_times)
        Real components, on ``coef``'s device and in its real dtype. Differentiable with
        respect to ``coef`` and float masks.

    Raises
    ------
    TypeError
        For real ``coef``, complex masks, a wrong ``kind`` type, or a missing config.
    ValueError
        For mismatched shapes, NaN/inf in masks, negative labels or an unknown ``kind``.

    Notes
    -----
    The inverse is linear in the coefficients and in the mask, so the components of
    masks that add up to one add up to the full-plane inverse; overlapping masks count
    the shared cells once per mask (see :func:`decompose_regions` for the bookkeeping).
    A stack costs one ``einsum`` of ``Re(coef)`` with the masks; a label image one
    ``scatter_add`` (no one-hot masks are built).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig, ssq_cwt, issq_cwt
    >>> n = np.arange(1024)
    >>> x = np.cos(2 * np.pi * 0.03 * n) + np.cos(2 * np.pi * 0.2 * n)
    >>> res = ssq_cwt(x, SSQConfig(nv=16))
    >>> high = torch.as_tensor(res.freqs > 0.08)[:, None].expand(res.Tx.shape)
    >>> c = components(res, masks=torch.stack([~high, high]))
    >>> c.shape
    torch.Size([2, 1024])
    >>> torch.allclose(c.sum(-2), issq_cwt(res.Tx, res.config), atol=1e-12)
    True
    """
    coef, config, kind = _resolve(coef, config, kind, order)
    re = weighted_real(coef, config, kind)
    m, r, labels = check_masks(masks, re.shape, n_regions=n_regions)
    return project(re, m, r, labels)


def ssq_mask_to_cwt(mask, *, config: SSQConfig) -> torch.Tensor:
    """Carry a mask from the SSQ (frequency) grid to the CWT (scale) grid.

    Row ``i`` of the CWT is the scale whose centre frequency is ``config.cwt_freqs(n)[i]``;
    it takes row ``j(i)`` of the SSQ mask, the SSQ row whose frequency
    ``config.freqs(n)[j]`` is nearest in ``log`` frequency (the first of equal ones).
    The low-pass row (frequency 0), if any, maps to itself. Columns (time) are
    unchanged. Works on single masks and stacks alike (it indexes axis ``-2``).

    Parameters
    ----------
    mask : array_like, shape (..., n_freqs, n_times)
        Bool, float or integer (labels) mask on the SSQ grid.
    config : SSQConfig

    Returns
    -------
    torch.Tensor, shape (..., n_freqs, n_times)
        Same dtype as ``mask``.

    Raises
    ------
    ValueError
        If the row count does not match ``config``.

    Notes
    -----
    This is the nearest-frequency reading of a region, not an equivalence: a CWT cell
    at scale ``s`` holds energy from a band of frequencies around its centre, while an
    SSQ cell holds the energy *reassigned* to its frequency, possibly from several scales.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> cfg = SSQConfig(nv=16)
    >>> m = np.zeros((cfg.n_freqs(256), 256), dtype=bool)
    >>> m[cfg.freqs(256) > 0.1] = True
    >>> mc = ssq_mask_to_cwt(m, config=cfg)
    >>> bool(np.all(cfg.cwt_freqs(256)[mc[:, 0].numpy()] > 0.09))
    True
    """
    config = check_config(config)
    m = as_tensor(mask, name="mask")
    if m.ndim < 2:
        raise ValueError(f"mask has shape {tuple(m.shape)}; expected (..., n_freqs, n_times)")
    n = m.shape[-1]
    if n < MIN_LENGTH:
        raise ValueError(f"mask has n_times={n} < {MIN_LENGTH}")
    if m.shape[-2] != config.n_freqs(n):
        raise ValueError(
            f"mask has {m.shape[-2]} rows but config gives {config.n_freqs(n)} for n_times={n}"
        )
    return m.index_select(-2, torch.as_tensor(_ssq_rows_for_cwt(config, n), device=m.device))


def _ssq_rows_for_cwt(config: SSQConfig, n: int) -> np.ndarray:
    fs_, fc = config.freqs(n), config.cwt_freqs(n)
    zero_s, zero_c = fs_ <= 0, fc <= 0
    ls = np.log(np.where(zero_s, 1.0, fs_))
    lc = np.log(np.where(zero_c, 1.0, fc))
    dist = np.abs(lc[:, None] - ls[None, :])
    dist[zero_c[:, None] != zero_s[None, :]] = np.inf
    return np.argmin(dist, axis=1)
