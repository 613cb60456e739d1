"""Exact Shapley values of a signal's regions, each region removed through the signal.

:func:`region_shapley` treats the labelled regions of the time–frequency plane (e.g.
the regions of :func:`~saliency2signal.mask.attribution_mask`) as the players of a
cooperative game whose value ``v(S)`` is the model's score of the signal with only the
regions in ``S`` left: the others' components are removed by the linear inverse (with a
reference, the reference's content is put in their place), the transform and the image
recomputed and the model re-run. All ``2**R`` coalitions are scored (``R <= 8``), in
batches of model calls, so the values are exact, not sampled: they sum to
``v(all) - v(none) = f(x) - f(x without every region)`` (efficiency).

Internal to ``saliency`` (re-exported by ``saliency2signal.saliency``).
May import: numpy, torch, ``saliency2signal._validation``, ``imaging``, ``inverse``,
``transform``, ``._through``; never ``._core`` or ``._registry``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import (
    as_tensor,
    check_choice,
    check_instance,
    check_int,
    check_signal,
    torch_dtype,
)
from ..imaging import ImagingConfig
from ..inverse import components
from ..transform import MIN_LENGTH, SSQConfig, ssq_cwt
from ._through import contrast, outputs

__all__ = ["MAX_REGIONS", "RegionShapley", "region_shapley"]

#: Most regions :func:`region_shapley` takes (``2**8 = 256`` coalitions per signal).
MAX_REGIONS = 8


@dataclass(frozen=True)
class RegionShapley:
    """What :func:`region_shapley` returns.

    Attributes
    ----------
    values : torch.Tensor, shape (..., n_regions)
        Shapley value of each region (0 for a label the signal lacks).
    score : torch.Tensor, shape (...)
        ``v(all)``: the target's probability (value, for a regression) of the signal.
    score_without : torch.Tensor, shape (...)
        ``v(none)``: the same with every region removed; ``values.sum(-1) == score -
        score_without``.
    target : torch.Tensor of int64, shape (...)
        The class (output) explained.
    model_images : int
        Images the model scored (``2**R`` per signal).
    """

    values: torch.Tensor
    score: torch.Tensor
    score_without: torch.Tensor
    target: torch.Tensor
    model_images: int


def _labels(labels, shape: tuple) -> torch.Tensor:
    """Integer labels (or an ``AttributionMask``) broadcast to ``shape = (B, F, N)``."""
    t = as_tensor(getattr(labels, "labels", labels), name="labels")
    if t.dtype.is_floating_point or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"labels has dtype {t.dtype}; expected integer region labels")
    try:
        return torch.broadcast_to(t.to(torch.int64), shape)
    except RuntimeError:
        raise ValueError(
            f"labels has shape {tuple(t.shape)}; expected (..., {shape[-2]}, {shape[-1]}) "
            "broadcasting to the signals' transform"
        ) from None


def _weights(n_regions: int) -> np.ndarray:
    """Shapley weight of a coalition of size ``s`` without the player: ``s! (R-s-1)! / R!``."""
    r, f = n_regions, math.factorial
    return np.array([f(s) * f(r - s - 1) / f(r) for s in range(r)])


def _shapley(v: np.ndarray, n_regions: int) -> np.ndarray:
    """Exact Shapley values from ``v (B, 2**R)`` indexed by the bitmask of the coalition."""
    codes = np.arange(2**n_regions)
    sizes = np.array([bin(c).count("1") for c in codes])
    w = _weights(n_regions)
    out = np.zeros((v.shape[0], n_regions))
    for r in range(n_regions):
        without = codes[(codes >> r) & 1 == 0]
        out[:, r] = (v[:, without | (1 << r)] - v[:, without]) @ w[sizes[without]]
    return out


def region_shapley(
    model: torch.nn.Module,
    x,
    labels,
    *,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    target=None,
    reference=None,
    n_regions: int | None = None,
    task: str = "classification",
    batch_size: int = 64,
) -> RegionShapley:
    """Exact Shapley values of a signal's regions, each removed through the signal.

    ``v(S)`` is the target's softmax probability (a regression's value) of
    ``x - sum_{r not in S} c_r``, where ``c_r = (2/C) Re sum_{k in region r} D[k, n]``
    is region ``r``'s component of ``D = Tx`` (or ``Tx - Tx(reference)``: then the
    reference's content fills a removed region); every one of the ``2**R`` coalitions
    is transformed, imaged and scored by the model (forward passes only: a
    :class:`~saliency2signal.blackbox.BlackBox` serves).

    Parameters
    ----------
    model : torch.nn.Module
        Image classifier ``(B, C, H, W) -> (B, K)`` (eval mode during the call).
    x : array_like, shape (..., n_times)
        Real signals.
    labels : array_like of int or AttributionMask, shape (..., n_freqs, n_times)
        Regions ``1 .. R`` on the grid of ``Tx`` (0: background, never removed),
        broadcast over the signals.
    transform_config : SSQConfig
    imaging_config : ImagingConfig
    target : int or array_like of int, optional
        Class (output) to explain per signal; default the predicted class (output 0
        for a regression).
    reference : array_like, shape (..., n_times), optional
        Reference signals whose content replaces a removed region (default: nothing).
    n_regions : int, optional
        ``R`` (default: the largest label); at most :data:`MAX_REGIONS`.
    task : {'classification', 'regression'}
    batch_size : int
        Most images per model call.

    Returns
    -------
    RegionShapley

    Raises
    ------
    ValueError
        More than :data:`MAX_REGIONS` regions, labels or a reference of the wrong
        shape, a target out of range.
    TypeError
        Non-integer labels or target.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> cfg, icfg = SSQConfig(nv=8), ImagingConfig(normalize="none", size=(16, 16))
    >>> x = torch.randn(2, 128)
    >>> labels = np.zeros((cfg.n_freqs(128), 128), dtype=np.int64)
    >>> labels[:, :64], labels[:, 64:] = 1, 2
    >>> res = region_shapley(model, x, labels, transform_config=cfg, imaging_config=icfg)
    >>> res.values.shape, res.model_images
    (torch.Size([2, 2]), 8)
    >>> bool(torch.allclose(res.values.sum(-1), res.score - res.score_without, atol=1e-5))
    True
    """
    check_instance(model, torch.nn.Module, "model")
    check_instance(transform_config, SSQConfig, "transform_config")
    check_choice(task, ("classification", "regression"), "task")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    dtype = torch_dtype(transform_config.dtype)
    xt = check_signal(x, min_length=MIN_LENGTH, dtype=dtype).detach()
    batch_shape, n = tuple(xt.shape[:-1]), xt.shape[-1]
    xt = xt.reshape(-1, n)
    with torch.no_grad():
        tx = ssq_cwt(xt, transform_config).Tx
        ref_tx = None
        if reference is not None:
            r = check_signal(reference, min_length=MIN_LENGTH, dtype=xt.dtype, name="reference")
            if r.shape[-1] != n:
                raise ValueError(f"reference has n_times={r.shape[-1]}; x has {n}")
            ref_tx = ssq_cwt(torch.broadcast_to(r.reshape(-1, n), xt.shape), transform_config).Tx
    lab = _labels(labels, tuple(tx.shape))
    top = int(lab.max()) if lab.numel() else 0
    n_regions = top if n_regions is None else check_int(n_regions, "n_regions", minimum=1)
    if not 1 <= n_regions <= MAX_REGIONS or top > n_regions or int(lab.min()) < 0:
        raise ValueError(
            f"labels hold regions 1..{top} (n_regions={n_regions}); region_shapley "
            f"scores all 2**R coalitions and takes 1 <= R <= {MAX_REGIONS} regions"
        )
    comps = components(contrast(tx, ref_tx), transform_config, masks=lab, n_regions=n_regions)
    codes = torch.arange(2**n_regions)
    present = ((codes[:, None] >> torch.arange(n_regions)) & 1).to(comps.dtype)  # (2**R, R)
    signals = xt[:, None, :] - torch.einsum("kr,brn->bkn", 1 - present, comps)
    with torch.no_grad():
        out = outputs(
            model,
            signals,
            transform_config=transform_config,
            imaging_config=imaging_config,
            task=task,
            per_call=batch_size,
        )
    full = out[:, -1]  # every region present: x itself
    tgt = _target(target, full, task)
    v = out.gather(2, tgt[:, None, None].expand(-1, out.shape[1], 1))[..., 0]
    phi = torch.from_numpy(_shapley(v.double().cpu().numpy(), n_regions)).to(v.dtype)
    return RegionShapley(
        values=phi.reshape(*batch_shape, n_regions),
        score=v[:, -1].reshape(batch_shape),
        score_without=v[:, 0].reshape(batch_shape),
        target=tgt.reshape(batch_shape),
        model_images=int(signals.shape[0] * signals.shape[1]),
    )


def _target(target, full: torch.Tensor, task: str) -> torch.Tensor:
    """Return the explained output per signal: given, else predicted (0 for a regression)."""
    n_b, n_out = full.shape
    if target is None:
        if task == "regression":
            return torch.zeros(n_b, dtype=torch.int64)
        return full.argmax(-1)
    t = as_tensor(target, name="target")
    if t.dtype.is_floating_point or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"target has dtype {t.dtype}; expected integer indices")
    t = torch.broadcast_to(t.to(torch.int64).reshape(-1), (n_b,)).clone()
    if bool(((t < 0) | (t >= n_out)).any()):
        raise ValueError(f"target={t.tolist()} is out of range for {n_out} outputs")
    return t
