"""The numbers of an evaluation: areas, ranks against a null, similarities, summaries.

- :func:`auc`: trapezoidal area under a deletion or insertion curve, over ``[0, 1]``.
- :func:`midrank`: the percentile a value reaches within its null draws.
- :func:`spearman` and :func:`ssim_1d`: how much an explanation survives model
  randomisation.
- :func:`nanmean`, :func:`nanmedian`, :func:`share`, :func:`nanmean_curve` and
  :func:`null_band`: NaN-aware summaries over signals and draws (JSON-safe floats).
- :func:`curve_scores`: the per-signal scores of a method's curves and its null.

Internal: plain names, shared by the modules of :mod:`saliency2signal.evaluation`.
May import: numpy, scipy and scikit-image (lazily), ``_validation`` (and
``evaluation._curves`` for type hints only); never another module of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._validation import finite_or_none

if TYPE_CHECKING:
    from ._curves import Curves

__all__ = [
    "auc",
    "curve_scores",
    "midrank",
    "nanmean",
    "nanmean_curve",
    "nanmedian",
    "null_band",
    "share",
    "spearman",
    "ssim_1d",
]


# ------------------------------------------------------------------ statistics
def nanmean(a) -> float | None:
    """Mean of the non-NaN values (``None`` when there is none)."""
    a = np.asarray(a, dtype=np.float64)
    return finite_or_none(np.mean(a[~np.isnan(a)])) if np.any(~np.isnan(a)) else None


def nanmedian(a) -> float | None:
    """Median of the non-NaN values (``None`` when there is none)."""
    a = np.asarray(a, dtype=np.float64)
    return finite_or_none(np.median(a[~np.isnan(a)])) if np.any(~np.isnan(a)) else None


def share(cond: np.ndarray, valid: np.ndarray) -> float | None:
    """Share of ``cond`` among the ``valid`` entries (``None`` when none is valid)."""
    valid = np.asarray(valid, dtype=bool)
    return finite_or_none(np.mean(np.asarray(cond)[valid])) if valid.any() else None


def nanmean_curve(c: np.ndarray) -> np.ndarray:
    """Mean over signals (axis 0) of curves with NaN beyond each signal's regions."""
    ok = ~np.isnan(c)
    n = ok.sum(0)
    return np.where(n > 0, np.where(ok, c, 0.0).sum(0) / np.maximum(n, 1), np.nan)


def null_band(null: np.ndarray) -> dict:
    """5 %, 50 %, 95 % over draws of the draw-wise mean curve (mean over signals)."""
    if null.size == 0:
        return {q: np.full(null.shape[-1], np.nan) for q in ("q05", "median", "q95")}
    per_draw = np.stack([nanmean_curve(null[:, d]) for d in range(null.shape[1])])
    out = {}
    for q, name in ((5, "q05"), (50, "median"), (95, "q95")):
        col = []
        for v in per_draw.T:
            v = v[~np.isnan(v)]
            col.append(np.percentile(v, q) if v.size else np.nan)
        out[name] = np.asarray(col)
    return out


# ------------------------------------------------------------------ curves and ranks
def auc(curve: np.ndarray, n: int) -> float:
    """Trapezoidal area of ``curve[:n + 1]`` over ``[0, 1]`` (NaN without a step).

    Examples
    --------
    >>> auc(np.array([1.0, 0.5, 0.0]), 2)
    0.5
    """
    if n < 1:
        return np.nan
    c = curve[: n + 1]
    return float(np.sum(c[1:] + c[:-1]) / (2 * n))


def midrank(value: float, null: np.ndarray, *, higher_is_better: bool) -> float:
    """Percentile (0–100) of ``value`` within ``null``: share worse plus half the ties.

    Examples
    --------
    >>> midrank(2.0, np.array([0.0, 1.0, 2.0, 3.0]), higher_is_better=True)
    62.5
    """
    null = null[~np.isnan(null)]
    if np.isnan(value) or null.size == 0:
        return np.nan
    worse = null < value if higher_is_better else null > value
    return float(100.0 * (worse.sum() + 0.5 * (null == value).sum()) / null.size)


def _null_aucs(curves: np.ndarray, n: int) -> np.ndarray:
    return np.array([auc(c, n) for c in curves])


def curve_scores(curves: Curves, p_target: np.ndarray, n_regions: np.ndarray) -> dict:
    """Per-signal scores of the deletion and insertion curves against their null.

    Parameters
    ----------
    curves : Curves
        The measured curves (:func:`~saliency2signal.evaluation._curves.measure_curves`).
    p_target : numpy.ndarray, shape (B,)
        Probability of the explained class of each unmodified signal.
    n_regions : numpy.ndarray of int, shape (B,)

    Returns
    -------
    dict of str to numpy.ndarray, shape (B,)
        ``p_target``, the AUCs, the top region's drop and their ranks within the null
        (NaN for signals without a region).
    """
    n_b = curves.deletion.shape[0]
    s = {
        k: np.full(n_b, np.nan)
        for k in (
            "deletion_auc",
            "deletion_lerf_auc",
            "insertion_auc",
            "null_deletion_auc",
            "null_insertion_auc",
            "top_drop",
            "null_top_drop",
            "top_drop_beaten",
            "top_drop_percentile",
            "deletion_auc_percentile",
            "insertion_auc_percentile",
        )
    }
    s["p_target"] = p_target.astype(np.float64)
    dele, ins, n_ins = curves.deletion, curves.insertion, curves.null_insertion
    for b in range(n_b):
        r = int(n_regions[b])
        if r < 1:
            continue
        s["deletion_auc"][b] = auc(dele[b], r)
        s["deletion_lerf_auc"][b] = auc(curves.deletion_lerf[b], r)
        null_auc = _null_aucs(curves.null_deletion[b], r)
        s["null_deletion_auc"][b] = np.median(null_auc)
        s["deletion_auc_percentile"][b] = midrank(
            s["deletion_auc"][b], null_auc, higher_is_better=False
        )
        drop = p_target[b] - dele[b, 1]
        null_drop = p_target[b] - curves.null_deletion[b, :, 1]
        s["top_drop"][b] = drop
        s["null_top_drop"][b] = np.median(null_drop)
        s["top_drop_beaten"][b] = float(np.mean(null_drop < drop))
        s["top_drop_percentile"][b] = midrank(drop, null_drop, higher_is_better=True)
        if not np.isnan(ins[b, 0]):
            s["insertion_auc"][b] = auc(ins[b], r)
        if not np.isnan(n_ins[b, 0, 0]):
            null_iauc = _null_aucs(n_ins[b], r)
            s["null_insertion_auc"][b] = np.median(null_iauc)
            s["insertion_auc_percentile"][b] = midrank(
                s["insertion_auc"][b], null_iauc, higher_is_better=True
            )
    return s


# ------------------------------------------------------------------ similarity
def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (NaN when either input is constant)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(spearmanr(a, b).statistic)


def ssim_1d(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two 1D profiles, each scaled to a maximum of 1 (NaN below 7 samples)."""
    from skimage.metrics import structural_similarity

    def unit(v):
        v = np.asarray(v, np.float64)
        top = v.max()
        return v / top if top > 0 else v

    if a.size < 7:
        return np.nan
    return float(structural_similarity(unit(a), unit(b), data_range=1.0))
