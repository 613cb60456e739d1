"""The exact bookkeeping of a region decomposition: :func:`decompose_regions`.

``x = sum(components) + uncovered - overlap + lowpass + residual``, each term a signal,
with energy fractions (:class:`RegionDecomposition`).

Internal to :mod:`saliency2signal.inverse` (which re-exports the public names).
May import: torch, ``_validation``, ``transform``, ``inverse._masks``; never another
stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .._validation import check_instance, check_signal, torch_dtype
from ..transform import MIN_LENGTH, SSQConfig, SSQResult, ssq_cwt
from ._masks import check_config, check_kind, check_masks, coverage, project, weighted_real

__all__ = ["RegionDecomposition", "decompose_regions"]


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
        return (
            self.components.sum(-2) + self.uncovered - self.overlap + self.lowpass + self.residual
        )

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
        total = (
            out["components"].sum(-1)
            + out["uncovered"]
            - out["overlap"]
            + out["lowpass"]
            + out["residual"]
        )
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


def decompose_regions(
    x,
    config: SSQConfig | None = None,
    *,
    masks,
    kind: str = "ssq",
    result: SSQResult | None = None,
    n_regions: int | None = None,
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
        check_instance(result, SSQResult, "result")
        if config is not None and config != result.config:
            raise ValueError("config differs from result.config")
        config = result.config
    config = check_config(config)
    kind = check_kind(kind)
    xt = check_signal(x, min_length=MIN_LENGTH, dtype=torch_dtype(config.dtype))
    if result is None:
        result = ssq_cwt(xt, config)
    coef = result.Tx if kind == "ssq" else result.Wx
    if coef.shape[:-2] != xt.shape[:-1] or coef.shape[-1] != xt.shape[-1]:
        raise ValueError(
            f"result of shape {tuple(coef.shape)} does not belong to x of shape {tuple(xt.shape)}"
        )
    re = weighted_real(coef, config, kind)
    m, r, labels = check_masks(masks, re.shape, n_regions=n_regions)
    comps = project(re, m, r, labels)
    cover = coverage(m, labels, re.dtype).to(re.device)
    uncovered = ((1.0 - cover).clamp_min(0.0) * re).sum(-2)
    overlap = ((cover - 1.0).clamp_min(0.0) * re).sum(-2)
    uncovered = uncovered.expand(re.shape[:-2] + re.shape[-1:])
    overlap = overlap.expand(re.shape[:-2] + re.shape[-1:])
    lowpass = torch.zeros_like(result.lowpass) if config.lowpass_row else result.lowpass
    xt = xt.to(re.device)
    residual = xt - lowpass - (comps.sum(-2) + uncovered - overlap)
    return RegionDecomposition(
        components=comps,
        uncovered=uncovered,
        overlap=overlap,
        lowpass=lowpass,
        residual=residual,
        x=xt,
        kind=kind,
        config=config,
    )
