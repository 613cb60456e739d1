"""Ground truth: scores of explanations of signals with a planted component.

In the time–frequency plane: *relevance mass accuracy* (share of the positive
attribution inside the ground-truth cells) and *relevance rank accuracy* (share of the
``K`` highest-attribution cells inside them, ``K`` = number of ground-truth cells;
Arras et al. 2022); the ground-truth cells are the smallest set holding ``truth_mass``
of the planted component's own coefficient energy. In 1D: the share of the recovered
component's energy inside the planted window (all regions, and the top region alone)
and its Pearson correlation with the planted component.

- :func:`truth_axis`, :func:`resolve_truth`: the truth given to
  :func:`~saliency2signal.evaluate`, checked, as a :class:`Truth`.
- :func:`truth_scores`: the per-signal scores.

May import: numpy, torch, the public names of ``transform`` and ``mask`` (and
``Explanation`` for type hints); never another module of ``saliency2signal.evaluation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..mask import threshold_map
from ..transform import ssq_cwt

if TYPE_CHECKING:
    from ..explanation import Explanation

__all__ = ["Truth", "resolve_truth", "truth_axis", "truth_scores"]


@dataclass(frozen=True, eq=False)
class Truth:
    """Planted ``components`` ``(B, N)`` (zeros where none) and ``windows`` ``(B, 2)``."""

    components: np.ndarray
    windows: np.ndarray


def truth_axis(truth, axis):
    """Return the x axis of the truth's windows: ``axis`` or, when None, the truth's own.

    Windows are in axis units; scoring them against sample indices while the truth was
    made on, say, wavenumbers would silently find no energy in any window.
    """
    if truth is None:
        return axis
    t_axis = truth.get("axis") if isinstance(truth, Mapping) else getattr(truth, "axis", None)
    if t_axis is None:
        return axis
    if axis is None:
        return np.asarray(t_axis)
    a, b = np.asarray(axis, np.float64), np.asarray(t_axis, np.float64)
    if a.shape != b.shape or not np.allclose(a, b):
        raise ValueError(
            f"axis (from {a.ravel()[:1]} to {a.ravel()[-1:]}, {a.size} points) "
            f"differs from the ground truth's axis (from {b.ravel()[:1]} to "
            f"{b.ravel()[-1:]}, {b.size} points); the windows are in the "
            "truth's units"
        )
    return axis


def _check_windows(truth: Truth, axis) -> None:
    """Refuse ground-truth windows that lie outside the signals' x axis."""
    ax = np.asarray(axis, np.float64)
    lo, hi = float(ax.min()), float(ax.max())
    has = np.any(truth.components != 0, axis=1)
    w = np.sort(truth.windows, axis=1)
    out = has & ((w[:, 1] < lo) | (w[:, 0] > hi))
    if out.any():
        b = int(np.flatnonzero(out)[0])
        raise ValueError(
            f"truth window {tuple(float(v) for v in w[b])} of signal {b} lies "
            f"outside the x axis [{lo:g}, {hi:g}]; pass the axis the windows "
            "are measured on (axis=...)"
        )


def resolve_truth(truth, e: Explanation) -> Truth | None:
    """Return the ground truth for the signals of ``e`` (as the model saw them), checked.

    Raises
    ------
    TypeError
        If ``truth`` has no ``components`` or no ``windows``.
    ValueError
        Shapes that do not match the signals, NaN or inf, a window outside the axis.
    """
    if truth is None:
        return None
    n_b, n = e.n_samples, e.signals.shape[-1]
    comps = getattr(truth, "components", None)
    wins = getattr(truth, "windows", None)
    if isinstance(truth, Mapping):
        comps, wins = truth.get("components"), truth.get("windows")
    if comps is None or wins is None:
        raise TypeError(
            "truth must have 'components' (B, N) and 'windows' (B, 2), e.g. "
            "a PlantedSpectra or a dict"
        )
    comps = np.asarray(comps, dtype=np.float64)
    wins = np.asarray(wins, dtype=np.float64)
    if comps.shape != (n_b, n):
        raise ValueError(
            f"truth components have shape {comps.shape}; expected {(n_b, n)} "
            "(one planted component per signal, as the model sees it)"
        )
    if wins.shape != (n_b, 2):
        raise ValueError(f"truth windows have shape {wins.shape}; expected {(n_b, 2)}")
    if not (np.all(np.isfinite(comps)) and np.all(np.isfinite(wins))):
        raise ValueError("truth contains NaN or inf")
    out = Truth(comps, wins)
    _check_windows(out, e.axis)
    return out


def _plane_scores(out: dict, b: int, attribution: np.ndarray, cells: np.ndarray) -> None:
    """Relevance mass and rank accuracy of signal ``b`` against its truth ``cells``."""
    pos = np.clip(np.asarray(attribution, np.float64), 0, None)
    total = pos.sum()
    if total > 0:
        out["relevance_mass"][b] = pos[cells].sum() / total
        k = int(cells.sum())
        top = np.argsort(pos, axis=None, kind="stable")[::-1][:k]
        out["relevance_rank"][b] = cells.flat[top].mean() if k else np.nan


def _signal_scores(
    out: dict, b: int, comps: np.ndarray, planted: np.ndarray, in_window: np.ndarray
) -> None:
    """Energy in the window (all regions, top region) and correlation of signal ``b``."""
    union = comps.sum(0) if comps.shape[0] else np.zeros(planted.shape[-1])
    for key, c in (
        ("energy_in_window", union),
        ("energy_in_window_top", comps[0] if comps.shape[0] else union),
    ):
        en = float(np.sum(c**2))
        out[key][b] = np.sum(c[in_window] ** 2) / en if en > 0 else np.nan
    if np.ptp(union) > 0 and np.ptp(planted) > 0:
        out["correlation"][b] = float(np.corrcoef(union, planted)[0, 1])


def truth_scores(
    e: Explanation, comps: np.ndarray, truth: Truth, given_labels, *, truth_mass: float
) -> dict:
    """Ground-truth scores of each signal, shape ``(B,)`` (NaN where undefined).

    ``truth_valid`` is 1 for signals with a planted component that the model classifies
    correctly (when ``given_labels`` are known), else 0.
    """
    planted, windows = truth.components, truth.windows
    n_b = planted.shape[0]
    out = {
        k: np.full(n_b, np.nan)
        for k in (
            "relevance_mass",
            "relevance_rank",
            "energy_in_window",
            "energy_in_window_top",
            "correlation",
        )
    }
    has = np.any(planted != 0, axis=1)
    ok = has if given_labels is None else has & (e.predictions == given_labels)
    out["truth_valid"] = ok.astype(np.float64)
    if not has.any():
        return out
    txt = ssq_cwt(torch.from_numpy(planted[has]), e.transform_config).Tx.abs().pow(2).numpy()
    gt = threshold_map(txt, threshold="mass", value=truth_mass)
    axis = np.asarray(e.axis, np.float64)
    for j, b in enumerate(np.flatnonzero(has)):
        _plane_scores(out, b, e.attribution[b], gt[j])
        lo, hi = np.sort(windows[b])
        _signal_scores(out, b, comps[b], planted[b], (axis >= lo) & (axis <= hi))
    return out
