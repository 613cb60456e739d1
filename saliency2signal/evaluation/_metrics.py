"""The numbers of an evaluation: areas, ranks against a null, similarities, summaries.

- :func:`spearman` and :func:`ssim_1d`: how much an explanation survives model
  randomisation.
- :func:`nanmean`, :func:`nanmedian`, :func:`share`, :func:`nanmean_curve` and
  :func:`null_band`: NaN-aware summaries over signals and draws (JSON-safe floats).

Internal: plain names, shared by the modules of :mod:`saliency2signal.evaluation`.
May import: numpy, scipy and scikit-image (lazily), ``_validation``; never another
module of the package.
"""

from __future__ import annotations

import numpy as np

from .._validation import finite_or_none

__all__ = [
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
