"""Checks and sums every masked inverse shares: kinds, configs, mask stacks, label images.

A plane (``Tx`` or ``Wx``) enters as its real part weighted per row (:func:`weighted_real`:
``1`` for Tx, ``d(ln s)`` for Wx, times ``2 / C``); regions come as a stack of bool/float
masks or an integer label image (:func:`check_masks`); :func:`project` sums the plane
under each region in one pass.

Internal to :mod:`saliency2signal.inverse`: plain names shared by its modules.
May import: numpy, torch, ``_validation``, ``transform`` (and its ``_plan``,
``_inverse``); never another stage.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import as_tensor, check_choice, check_coefficients, check_instance
from ..transform import SSQConfig
from ..transform._inverse import check_rows
from ..transform._plan import design

__all__ = [
    "KINDS",
    "check_config",
    "check_kind",
    "check_masks",
    "coverage",
    "is_labels",
    "project",
    "row_weights",
    "weighted_real",
]


KINDS = ("ssq", "cwt")


def check_kind(kind, allowed=KINDS, name="kind") -> str:
    """Return ``kind`` if it is one of ``allowed`` (a non-string is a ``TypeError``)."""
    check_instance(kind, str, name)
    return check_choice(kind, allowed, name)


def check_config(config) -> SSQConfig:
    """Return ``config``, ``SSQConfig()`` for ``None``."""
    return SSQConfig() if config is None else check_instance(config, SSQConfig, "config")


def row_weights(config: SSQConfig, n: int, kind: str, dtype, device) -> torch.Tensor:
    """``(2 / C) * w_i`` per row: ``w = 1`` for Tx, ``d(ln s)`` for Wx (1 on the low-pass row)."""
    if kind == "ssq":
        w = np.ones(config.n_freqs(n))
    else:
        w = design(config, n).weights[::-1]
        if config.lowpass_row:
            w = np.concatenate([[1.0], w])
    return torch.as_tensor(w * (2.0 / config.css()), dtype=dtype, device=device)


def is_labels(m: torch.Tensor) -> bool:
    return not (m.dtype == torch.bool or m.dtype.is_floating_point or m.is_complex())


def check_masks(masks, coef_shape: torch.Size, *, n_regions=None, name="masks"):
    """Validate a mask stack or a label image against ``coef_shape = (..., F, N)``.

    Returns ``(tensor, n_regions, is_labels)``; stacks are returned as given (bool or
    float), labels as int64.
    """
    m = as_tensor(masks, name=name)
    fn = tuple(coef_shape[-2:])
    if m.is_complex():
        raise TypeError(f"{name} has complex dtype {m.dtype}; expected bool, float or integer")
    if is_labels(m):
        if m.ndim < 2 or tuple(m.shape[-2:]) != fn:
            raise ValueError(
                f"label image of shape {tuple(m.shape)} must end in (n_freqs, n_times) = {fn}"
            )
        try:
            out = torch.broadcast_shapes(m.shape, coef_shape)
        except RuntimeError:
            out = None
        if out != coef_shape:
            raise ValueError(
                f"label image of shape {tuple(m.shape)} does not broadcast to coefficients "
                f"of shape {tuple(coef_shape)}"
            )
        m = m.to(torch.int64)
        if m.numel() and int(m.min()) < 0:
            raise ValueError(
                f"{name} has negative label {int(m.min())}; labels must be 0 (background) "
                "or 1..n_regions"
            )
        top = int(m.max()) if m.numel() else 0
        if n_regions is None:
            n_regions = top
        elif top > n_regions:
            raise ValueError(f"{name} has label {top} > n_regions={n_regions}")
        if n_regions < 1:
            raise ValueError(f"{name} holds no region (all labels are 0); n_regions={n_regions}")
        return m, int(n_regions), True
    if m.ndim < 3 or tuple(m.shape[-2:]) != fn:
        raise ValueError(
            f"{name} of shape {tuple(m.shape)} must be a stack (..., n_regions, n_freqs, "
            f"n_times) ending in {fn}; pass a single mask as mask[None] or use an integer "
            "label image"
        )
    try:
        torch.broadcast_shapes(m.shape[:-3], coef_shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"{name} batch shape {tuple(m.shape[:-3])} does not broadcast to the "
            f"coefficients' batch shape {tuple(coef_shape[:-2])}"
        ) from None
    if m.dtype != torch.bool and not bool(torch.isfinite(m).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    if n_regions is not None and n_regions != m.shape[-3]:
        raise ValueError(f"n_regions={n_regions} but {name} stacks {m.shape[-3]} masks")
    return m, int(m.shape[-3]), False


def weighted_real(coef, config, kind):
    tx = check_coefficients(coef, name="Tx" if kind == "ssq" else "Wx")
    n = check_rows(tx, config)
    re = tx.real
    return re * row_weights(config, n, kind, re.dtype, re.device)[:, None]


def project(re: torch.Tensor, m: torch.Tensor, n_regions: int, labels: bool) -> torch.Tensor:
    """Sum ``re`` (..., F, N) over rows under each region -> (..., R, N), one pass."""
    if labels:
        shape = torch.broadcast_shapes(m.shape, re.shape)
        idx = m.to(re.device).expand(shape)
        src = re.expand(shape)
        out = torch.zeros(
            (*shape[:-2], n_regions + 1, shape[-1]), dtype=re.dtype, device=re.device
        )
        return out.scatter_add(-2, idx, src)[..., 1:, :]
    # an elementwise product summed over rows: torch.einsum turns this contraction
    # into a batched matrix product over the time axis, 7-17 times slower here
    m = m.to(device=re.device)
    re = re.unsqueeze(-3)
    if m.dtype == torch.bool:
        return torch.where(m, re, 0.0).sum(-2)
    return (m.to(re.dtype) * re).sum(-2)


def coverage(m: torch.Tensor, labels: bool, dtype) -> torch.Tensor:
    if labels:
        return (m > 0).to(dtype)
    return m.to(dtype).sum(-3)
