"""From selected regions of a time-frequency plane back to signals.

Three things live here:

* :func:`components` - one 1D component per region, by the masked one-integral inverse of
  ``Tx`` (SSQ) or ``Wx`` (CWT), for a stack of (soft) masks or an integer label image, in
  one pass (batched, any device, differentiable);
* :func:`decompose_regions` - the bookkeeping ``x = sum(components) + rest + lowpass +
  residual``, exact by construction, with energy fractions (:class:`RegionDecomposition`);
* :func:`consistent_inverse` - a signal whose CWT actually *is* (close to) the masked
  coefficients, by L-BFGS through the differentiable :func:`~saliency2signal.cwt`
  (:class:`ConsistentInverse`), with the :func:`inconsistency` it reduces.

Masks are plain arrays in our layout (lowest frequency in row 0): a stack
``(..., n_regions, n_freqs, n_times)`` of bool or float masks, or an integer label image
``(..., n_freqs, n_times)`` with 0 = background and labels ``1..n_regions``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ._validation import as_tensor, check_coefficients, check_signal
from .transform import (
    MIN_LENGTH,
    CWTResult,
    SSQConfig,
    SSQResult,
    _check_rows,
    _design,
    cwt,
    ssq_cwt,
)

__all__ = [
    "components",
    "masks_from_labels",
    "ssq_mask_to_cwt",
    "RegionDecomposition",
    "decompose_regions",
    "inconsistency",
    "ConsistentInverse",
    "consistent_inverse",
]

_KINDS = ("ssq", "cwt")
_LOSSES = ("complex", "magnitude")
_GRIDS = ("cwt", "ssq")


# =========================================================================== helpers
def _check_kind(kind, allowed=_KINDS, name="kind") -> str:
    if not isinstance(kind, str):
        raise TypeError(f"{name}={kind!r} must be a string, one of {allowed}")
    if kind not in allowed:
        raise ValueError(f"{name}={kind!r} must be one of {allowed}")
    return kind


def _check_config(config) -> SSQConfig:
    if config is None:
        return SSQConfig()
    if not isinstance(config, SSQConfig):
        raise TypeError(f"config must be an SSQConfig, got {type(config).__name__}")
    return config


def _resolve(coef, config, kind):
    """(coefficients, config, kind) from a result object or a tensor."""
    if isinstance(coef, SSQResult):
        kind = _check_kind("ssq" if kind is None else kind)
        if config is not None and config != coef.config:
            raise ValueError("config differs from the config stored in the result")
        return (coef.Tx if kind == "ssq" else coef.Wx), coef.config, kind
    if isinstance(coef, CWTResult):
        kind = _check_kind("cwt" if kind is None else kind)
        if kind != "cwt":
            raise ValueError(f"kind={kind!r} needs Tx, but a CWTResult holds only Wx")
        if config is not None and config != coef.config:
            raise ValueError("config differs from the config stored in the result")
        return coef.Wx, coef.config, kind
    kind = _check_kind("ssq" if kind is None else kind)
    if config is None:
        raise TypeError("config is required when coef is an array (it fixes C and the rows)")
    return coef, _check_config(config), kind


def _row_weights(config: SSQConfig, n: int, kind: str, dtype, device) -> torch.Tensor:
    """``(2 / C) * w_i`` per row: ``w = 1`` for Tx, ``d(ln s)`` for Wx (1 on the low-pass row)."""
    if kind == "ssq":
        w = np.ones(config.n_freqs(n))
    else:
        w = _design(config, n).weights[::-1]
        if config.lowpass_row:
            w = np.concatenate([[1.0], w])
    return torch.as_tensor(w * (2.0 / config.css()), dtype=dtype, device=device)


def _is_labels(m: torch.Tensor) -> bool:
    return not (m.dtype == torch.bool or m.dtype.is_floating_point or m.is_complex())


def _check_masks(masks, coef_shape: torch.Size, *, n_regions=None, name="masks"):
    """Validate a mask stack or a label image against ``coef_shape = (..., F, N)``.

    Returns ``(tensor, n_regions, is_labels)``; stacks are returned as given (bool or
    float), labels as int64.
    """
    m = as_tensor(masks, name=name)
    fn = tuple(coef_shape[-2:])
    if m.is_complex():
        raise TypeError(f"{name} has complex dtype {m.dtype}; expected bool, float or integer")
    if _is_labels(m):
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


def _weighted_real(coef, config, kind):
    tx = check_coefficients(coef, name="Tx" if kind == "ssq" else "Wx")
    n = _check_rows(tx, config)
    re = tx.real
    return re * _row_weights(config, n, kind, re.dtype, re.device)[:, None]


def _project(re: torch.Tensor, m: torch.Tensor, n_regions: int, labels: bool) -> torch.Tensor:
    """Sum ``re`` (..., F, N) over rows under each region -> (..., R, N), one pass."""
    if labels:
        shape = torch.broadcast_shapes(m.shape, re.shape)
        idx = m.to(re.device).expand(shape)
        src = re.expand(shape)
        out = torch.zeros((*shape[:-2], n_regions + 1, shape[-1]), dtype=re.dtype,
                          device=re.device)
        return out.scatter_add(-2, idx, src)[..., 1:, :]
    m = m.to(device=re.device, dtype=re.dtype)
    return torch.einsum("...rfn,...fn->...rn", m, re)


def _coverage(m: torch.Tensor, labels: bool, dtype) -> torch.Tensor:
    if labels:
        return (m > 0).to(dtype)
    return m.to(dtype).sum(-3)


# =========================================================================== public
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
    if not _is_labels(t):
        raise TypeError(f"labels has dtype {t.dtype}; expected an integer label image")
    m, r, _ = _check_masks(t, t.shape, n_regions=n_regions, name="labels")
    ids = torch.arange(1, r + 1, device=m.device).reshape(r, 1, 1)
    return m.unsqueeze(-3) == ids


def components(coef, config: SSQConfig | None = None, *, masks, kind: str | None = None,
               n_regions: int | None = None) -> torch.Tensor:
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
    coef, config, kind = _resolve(coef, config, kind)
    re = _weighted_real(coef, config, kind)
    m, r, labels = _check_masks(masks, re.shape, n_regions=n_regions)
    return _project(re, m, r, labels)


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
    config = _check_config(config)
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


# =========================================================================== bookkeeping
@dataclass(frozen=True)
class RegionDecomposition:
    """``x = components.sum(-2) + uncovered - overlap + lowpass + residual``, exactly.

    All terms are signals of shape ``(..., n_times)`` (``components``:
    ``(..., n_regions, n_times)``), on the device and in the real dtype of the plane.

    Attributes
    ----------
    components : torch.Tensor, shape (..., n_regions, n_times)
        Masked one-integral inverse of each region (:func:`components`).
    uncovered : torch.Tensor
        Inverse of the plane weighted by ``max(1 - sum_r M_r, 0)``: what no region (fully)
        selects.
    overlap : torch.Tensor
        Inverse of the plane weighted by ``max(sum_r M_r - 1, 0)``: what the regions
        select more than once (zero for disjoint masks and for labels).
    lowpass : torch.Tensor
        The low-pass complement (mean and slow baseline) when it is *not* part of the
        plane (``lowpass_row=False``); zeros when the plane carries it as row 0 (then the
        regions select it like any other row).
    residual : torch.Tensor
        The exact remainder ``x - lowpass - (full-plane inverse)``.
    x : torch.Tensor
        The signal.
    kind : str
        ``'ssq'`` or ``'cwt'``.
    config : SSQConfig
    """

    components: torch.Tensor
    uncovered: torch.Tensor
    overlap: torch.Tensor
    lowpass: torch.Tensor
    residual: torch.Tensor
    x: torch.Tensor
    kind: str
    config: SSQConfig = field(repr=False)

    @property
    def rest(self) -> torch.Tensor:
        """``uncovered - overlap``: the plane minus the sum of the components."""
        return self.uncovered - self.overlap

    @property
    def lowpass_in_plane(self) -> bool:
        """Whether the low-pass term is row 0 of the plane (and so inside the regions)."""
        return self.config.lowpass_row

    def total(self) -> torch.Tensor:
        """Sum of all terms; equals ``x`` to round-off."""
        return (self.components.sum(-2) + self.uncovered - self.overlap + self.lowpass
                + self.residual)

    def energy_fractions(self) -> dict[str, torch.Tensor]:
        """Squared norm of each term relative to ``||x||^2`` (per signal).

        Keys ``components`` (shape ``(..., n_regions)``), ``uncovered``, ``overlap``,
        ``lowpass``, ``residual`` and ``cross``. The terms are not orthogonal, so their
        energies do not add up to ``||x||^2``; ``cross = 1 - (sum of the others, with
        overlap counted negatively)`` is the inner-product remainder, so the reported
        numbers always sum to 1 (for ``x = 0`` every fraction is 0 and ``cross`` is 1).
        """
        ex = (self.x**2).sum(-1)
        ex = torch.where(ex > 0, ex, torch.ones_like(ex))
        out = {"components": (self.components**2).sum(-1) / ex[..., None]}
        for key in ("uncovered", "overlap", "lowpass", "residual"):
            out[key] = (getattr(self, key) ** 2).sum(-1) / ex
        total = (out["components"].sum(-1) + out["uncovered"] - out["overlap"]
                 + out["lowpass"] + out["residual"])
        out["cross"] = 1.0 - total
        return out

    def to_dict(self) -> dict:
        """JSON-compatible summary: energy fractions, identity error, config.

        Fractions are nested lists with the batch shape (``components`` with one more
        axis for the regions); ``identity_error`` is ``max |x - total()|``.
        """
        frac = {k: v.detach().cpu().tolist() for k, v in self.energy_fractions().items()}
        return {
            "kind": self.kind,
            "n_regions": int(self.components.shape[-2]),
            "n_times": int(self.x.shape[-1]),
            "batch_shape": list(self.x.shape[:-1]),
            "lowpass_in_plane": bool(self.lowpass_in_plane),
            "energy_fractions": frac,
            "identity_error": float((self.x - self.total()).abs().max()),
            "config": self.config.to_dict(),
        }


def decompose_regions(x, config: SSQConfig | None = None, *, masks, kind: str = "ssq",
                      result: SSQResult | None = None, n_regions: int | None = None
                      ) -> RegionDecomposition:
    """Split ``x`` into per-region components and everything else, adding up exactly.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
        The signal(s).
    config : SSQConfig, optional
        Transform parameters (default ``SSQConfig()``; taken from ``result`` if given).
    masks : array_like
        Mask stack ``(..., n_regions, n_freqs, n_times)`` or label image, as in
        :func:`components`, on the grid of ``kind``.
    kind : {'ssq', 'cwt'}
        Invert ``Tx`` or ``Wx``.
    result : SSQResult, optional
        ``ssq_cwt(x, config)`` already computed.
    n_regions : int, optional
        See :func:`components`.

    Returns
    -------
    RegionDecomposition

    Raises
    ------
    TypeError, ValueError
        As :func:`components` and :func:`~saliency2signal.ssq_cwt`.

    Notes
    -----
    With ``S = sum_r M_r`` the coverage of a cell, linearity of the inverse gives

    ``plane = sum_r c_r + inv((1 - S) coef) = sum_r c_r + uncovered - overlap``

    with ``uncovered = inv(max(1 - S, 0) coef)`` and ``overlap = inv(max(S - 1, 0) coef)``:
    cells selected by two masks enter two components, and ``overlap`` takes the surplus
    back out, so soft and overlapping masks leave nothing unaccounted for. Then
    ``residual = x - lowpass - plane`` (computed as the remainder of the reported terms,
    so the identity holds to round-off). Without ``lowpass_row`` the low-pass term is
    ``result.lowpass``; with it, it is row 0 of the plane, selectable by the masks, and
    the separate ``lowpass`` term is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> t = np.arange(1024)
    >>> x = 2 + np.cos(2 * np.pi * 0.03 * t) + np.cos(2 * np.pi * 0.2 * t)
    >>> cfg = SSQConfig(nv=16, lowpass_row=True)
    >>> labels = np.zeros((cfg.n_freqs(1024), 1024), dtype=np.int64)
    >>> labels[(cfg.freqs(1024) > 0) & (cfg.freqs(1024) < 0.08)] = 1
    >>> labels[cfg.freqs(1024) >= 0.08] = 2
    >>> d = decompose_regions(x, cfg, masks=labels)
    >>> bool((d.total() - d.x).abs().max() < 1e-12)
    True
    >>> fr = d.energy_fractions()  # the mean (row 0, frequency 0) is in no region
    >>> [round(float(v), 2) for v in fr["components"]], round(float(fr["uncovered"]), 2)
    ([0.1, 0.1], 0.8)
    """
    if result is not None:
        if not isinstance(result, SSQResult):
            raise TypeError(f"result must be an SSQResult, got {type(result).__name__}")
        if config is not None and config != result.config:
            raise ValueError("config differs from result.config")
        config = result.config
    config = _check_config(config)
    kind = _check_kind(kind)
    xt = check_signal(x, min_length=MIN_LENGTH,
                      dtype={"float32": torch.float32, "float64": torch.float64,
                             None: None}[config.dtype])
    if result is None:
        result = ssq_cwt(xt, config)
    coef = result.Tx if kind == "ssq" else result.Wx
    if coef.shape[:-2] != xt.shape[:-1] or coef.shape[-1] != xt.shape[-1]:
        raise ValueError(
            f"result of shape {tuple(coef.shape)} does not belong to x of shape "
            f"{tuple(xt.shape)}"
        )
    re = _weighted_real(coef, config, kind)
    m, r, labels = _check_masks(masks, re.shape, n_regions=n_regions)
    comps = _project(re, m, r, labels)
    cover = _coverage(m, labels, re.dtype).to(re.device)
    uncovered = ((1.0 - cover).clamp_min(0.0) * re).sum(-2)
    overlap = ((cover - 1.0).clamp_min(0.0) * re).sum(-2)
    uncovered = uncovered.expand(re.shape[:-2] + re.shape[-1:])
    overlap = overlap.expand(re.shape[:-2] + re.shape[-1:])
    lowpass = torch.zeros_like(result.lowpass) if config.lowpass_row else result.lowpass
    xt = xt.to(re.device)
    residual = xt - lowpass - (comps.sum(-2) + uncovered - overlap)
    return RegionDecomposition(components=comps, uncovered=uncovered, overlap=overlap,
                               lowpass=lowpass, residual=residual, x=xt, kind=kind,
                               config=config)


# =========================================================================== consistency
def _as_cwt_mask(mask, config: SSQConfig, shape: torch.Size, grid: str, device, dtype):
    grid = _check_kind(grid, _GRIDS, "grid")
    m = as_tensor(mask, name="mask")
    if m.is_complex():
        raise TypeError(f"mask has complex dtype {m.dtype}; expected bool or float")
    if _is_labels(m):
        raise TypeError(
            f"mask has integer dtype {m.dtype}; pass one region as a bool/float mask "
            "(see masks_from_labels)"
        )
    if m.ndim < 2 or tuple(m.shape[-2:]) != tuple(shape[-2:]):
        raise ValueError(
            f"mask of shape {tuple(m.shape)} must end in (n_freqs, n_times) = "
            f"{tuple(shape[-2:])}"
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


def inconsistency(y, x, config: SSQConfig | None = None, *, mask,
                  grid: str = "cwt") -> torch.Tensor:
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
    config = _check_config(config)
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


def consistent_inverse(x, config: SSQConfig | None = None, *, mask, grid: str = "cwt",
                       loss: str = "complex", lam: float = 1.0, max_iter: int = 100,
                       init=None, history_size: int = 20) -> ConsistentInverse:
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
    config = _check_config(config)
    _check_kind(loss, _LOSSES, "loss")
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) \
            or lam < 0:
        raise ValueError(f"lam={lam!r} must be a finite number >= 0")
    for name, v in (("max_iter", max_iter), ("history_size", history_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be an integer >= 1")
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
        w_rows = _row_weights(cfg, wx.shape[-1], "cwt", torch.float64, wx.device)
        y0 = (target.real * w_rows[:, None]).sum(-2)
    else:
        y0 = check_signal(init, min_length=MIN_LENGTH, dtype=torch.float64).to(wx.device)
    y0 = y0.expand(*batch, x64.shape[-1]).detach().clone()
    with torch.no_grad():
        inc0 = _inc(cwt(y0, cfg).Wx, target, norm)
    best_y, best_inc = y0.clone(), inc0.clone()
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([y], lr=1.0, max_iter=max_iter, max_eval=2 * max_iter + 10,
                            history_size=history_size, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")
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
        signal=best_y.to(x_in.dtype), start=y0.to(x_in.dtype), inconsistency_start=inc0,
        inconsistency=best_inc, n_iter=n_iter, n_evals=n_evals, seconds=seconds,
        loss=loss, lam=float(lam))
