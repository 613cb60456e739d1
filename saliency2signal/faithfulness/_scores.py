"""The per-signal numbers of a deletion test: areas, ranks against the null, the drop.

- :func:`auc`: trapezoidal area under a deletion or insertion curve, over ``[0, 1]``.
- :func:`midrank`: the percentile a value reaches within its null draws.
- :func:`curve_scores`: the per-signal scores of a method's curves and its null.

Internal: plain names, shared by :mod:`saliency2signal.faithfulness` and
:mod:`saliency2signal.evaluation`.
May import: numpy (and ``faithfulness._curves`` for type hints only); never another
module of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._curves import Curves

__all__ = ["auc", "curve_scores", "midrank"]


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
        The measured curves (:func:`~saliency2signal.faithfulness.measure_curves`).
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
