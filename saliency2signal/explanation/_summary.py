"""The overview of an explanation: what it says about the whole set of signals, as data.

- :func:`summarize`: an :class:`~saliency2signal.explanation.Explanation` in, a
  JSON-compatible dict out (``report.json``'s ``summary``): the run's settings in words,
  accuracy, confusion matrix and misclassified signals when labels were given, and per
  explained class its mean signal, its attribution profile (mean and spread, positive and
  negative evidence apart) and the bands that carry its evidence across the signals; per
  signal, the share of the positive attribution the shown regions hold and where the
  rest went.
- :func:`cluster_bands`: the clustering of regions' x-ranges into bands.
- :func:`summary_csv`: the bands as CSV text (``summary.csv``: one row per class and band).

The explanation is passed in; nothing here imports the result classes, so they can
import this.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, scikit-image (lazily), the standard library, ``mask`` (the mask made
again, to say where unkept attribution went); never a sibling module.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import numpy as np

from ..mask import clean_mask, signed_attribution, threshold_map

if TYPE_CHECKING:
    from ._result import Explanation

__all__ = ["CSV_FIELDS", "cluster_bands", "summarize", "summary_csv"]

#: The options of :func:`~saliency2signal.mask.attribution_mask` that are its cleaning.
_CLEANING = (
    "min_duration",
    "min_bandwidth",
    "min_area",
    "closing",
    "fill_holes",
    "connectivity",
    "plane",
)

#: Columns of ``summary.csv``, one row per explained class and band.
CSV_FIELDS = (
    "class",
    "rank",
    "x_lo",
    "x_hi",
    "extent_lo",
    "extent_hi",
    "centre",
    "axis_units",
    "n_signals",
    "n_class_signals",
    "n_regions",
    "evidence",
    "mean_attribution_share",
    "mean_drop",
    "n_contradicting",
)


def _number(v) -> float | None:
    """Return ``v`` as a float, or ``None`` when it is missing or not finite."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def _floats(a) -> list:
    return [_number(v) for v in np.asarray(a, dtype=float).ravel()]


def cluster_bands(cols, weights, signals) -> list[dict]:
    """Group column intervals (regions' x-ranges) into bands that share a common point.

    Parameters
    ----------
    cols : array_like of int, shape (R, 2)
        First and last column of each region (inclusive).
    weights : array_like, shape (R,)
        Each region's evidence (its share of its signal's positive attribution), >= 0.
    signals : array_like of int, shape (R,)
        The signal each region belongs to.

    Returns
    -------
    list of dict
        One per band, in the order found (decreasing weight at the centre): ``centre``
        (the column), ``members`` (indices into the regions), ``n_signals`` (distinct
        signals among them) and ``weight`` (their summed weight).

    Raises
    ------
    ValueError
        If the shapes disagree, a column pair is reversed or a weight is negative.

    Notes
    -----
    Greedy stabbing of intervals: the column where the summed weight of the intervals
    covering it is largest is the first band's centre (the middle of the first run of
    such columns), and the intervals covering it are that band; they are removed and the
    step repeats until every interval is in a band. Every member of a band overlaps its
    centre, so a band is a set of x-ranges with a point in common (for intervals, the
    same as overlapping pairwise). Unlike merging overlapping intervals, a chain of
    slightly shifted ranges never grows into one band across the whole axis, and there
    is no parameter to tune.

    Examples
    --------
    >>> bands = cluster_bands([[10, 20], [12, 22], [60, 70], [15, 18]],
    ...                       [0.3, 0.2, 0.4, 0.1], [0, 1, 0, 2])
    >>> [(b["centre"], b["members"], b["n_signals"]) for b in bands]
    [(16, [0, 1, 3], 3), (65, [2], 1)]
    """
    cols = np.asarray(cols, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(weights, dtype=float).ravel()
    signals = np.asarray(signals).ravel()
    if not len(cols) == len(weights) == len(signals):
        raise ValueError(
            f"cols {cols.shape}, weights {weights.shape} and signals {signals.shape} "
            "must describe the same regions"
        )
    if (cols[:, 1] < cols[:, 0]).any() or (cols < 0).any():
        raise ValueError(f"cols={cols.tolist()} must be pairs first <= last, >= 0")
    if (weights < 0).any() or not np.isfinite(weights).all():
        raise ValueError(f"weights={weights.tolist()} must be finite and >= 0")
    n_cols = int(cols.max()) + 2 if len(cols) else 0
    left = np.ones(len(cols), dtype=bool)
    bands = []
    while left.any():
        # the summed weight covering each column, by a difference array (O(R + N))
        diff = np.zeros(n_cols)
        w = weights[left] + 1e-300  # a zero-weight region still counts as covering
        np.add.at(diff, cols[left, 0], w)
        np.add.at(diff, cols[left, 1] + 1, -w)
        cover = np.cumsum(diff)
        top = cover >= cover.max() * (1 - 1e-9)
        first = int(np.argmax(top))  # the first plateau of the largest weight: its middle
        last = first + int(np.argmin(top[first:])) - 1 if not top[first:].all() else n_cols - 1
        centre = (first + last) // 2
        hit = left & (cols[:, 0] <= centre) & (cols[:, 1] >= centre)
        members = np.flatnonzero(hit)
        bands.append(
            {
                "centre": centre,
                "members": members.tolist(),
                "n_signals": len(np.unique(signals[members])),
                "weight": float(weights[members].sum()),
            }
        )
        left &= ~hit
    return bands


def summarize(e: Explanation) -> dict:
    """Summarize an explanation over all its signals (``report.json``'s ``summary``).

    Parameters
    ----------
    e : Explanation

    Returns
    -------
    dict
        JSON-compatible: ``settings_text`` (list of str), ``accuracy`` (or ``None``),
        ``misclassified``, ``contradicting``, ``attribution_kept`` and ``classes`` (one
        record per explained class, bands ranked by evidence); the JSON Schema's
        ``summary`` describes every key.

    Notes
    -----
    A band's ``evidence`` is the summed attribution share of its regions divided by the
    number of signals explained for the class: the mean share of a signal's positive
    attribution that lies in the band. Bands are ranked by it. ``x_range`` is the median
    first and last x of the band's regions, ``extent`` their union.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig, explain
    >>> from saliency2signal.imaging import ImagingConfig
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> t = np.arange(128)
    >>> x = np.stack([np.exp(-0.5 * ((t - c) / 3.0) ** 2) for c in (60, 64)])
    >>> e = explain(model, x.astype(np.float32), transform_config=SSQConfig(nv=8),
    ...             imaging_config=ImagingConfig(normalize="none", size=(16, 16)),
    ...             labels=[0, 1], max_regions=2, n_steps=8, n_null=0)
    >>> s = summarize(e)
    >>> s["accuracy"]["confusion"] == [
    ...     [int(np.sum((e.given_labels == i) & (e.predictions == j))) for j in (0, 1)]
    ...     for i in (0, 1)]
    True
    >>> band = s["classes"][0]["bands"][0]
    >>> band["x_range"][0] <= band["centre"] <= band["x_range"][1], band["rank"]
    (True, 1)
    """
    names = list(e.class_names)
    classes = []
    for k in np.unique(e.target):
        rows = np.flatnonzero(e.target == k)
        classes.append(_class_record(e, int(k), rows, names[int(k)]))
    return {
        "task": e.task,
        "settings_text": _settings_text(e),
        "accuracy": _accuracy(e),
        "misclassified": _misclassified(e),
        "contradicting": _contradicting(e),
        "attribution_kept": _kept(e),
        "classes": classes,
    }


def _settings_text(e: Explanation) -> list[str]:
    """Return the run's settings as sentences."""
    s = e.settings
    what = "output" if e.task == "regression" else "class"
    target = {
        "predicted": f"each signal's predicted {what}",
        "label": "each signal's given label",
        "fixed": f"the {what} chosen for each signal",
    }.get(e.target_mode, e.target_mode)
    out = [
        f"{e.n_samples} signal(s) of {e.signals.shape[-1]} points; attribution by "
        f"{e.method} on the synchrosqueezed transform's plane, explaining {target}."
    ]
    if "keep_mass" in s:
        opts = s.get("mask_options") or {}
        kind = opts.get("threshold", "mass")
        rule = (
            f"the smallest set of cells holding {s['keep_mass']:.0%} of the positive attribution"
            if kind == "mass"
            else f"cells above a {kind} threshold ({s['keep_mass']:g})"
        )
        extra = ", ".join(f"{k}={v}" for k, v in opts.items() if k != "threshold")
        out.append(
            f"Regions: {rule}"
            + (f", cleaned ({extra})" if extra else "")
            + f"; connected regions below {s.get('min_share', 0):.0%} of it dropped; "
            f"at most {s.get('max_regions')} per signal."
        )
    if e.probabilities is None:
        out.append("No model was given: no probabilities, no deletion test, no verdicts.")
    elif s.get("deletion"):
        n_null = s.get("n_null") or 0
        out.append(
            "Each region tested by deleting its component and reading the model again"
            + (
                f"; each explanation judged against {n_null} equally energetic random "
                "regions per region."
                if n_null
                else "."
            )
        )
    else:
        out.append("Deletion test off: no deletion effects, no verdicts.")
    ref = s.get("reference", "zero")
    if ref != "zero":
        out.append(f"Explanations relative to a reference ({ref}).")
    return out


def _accuracy(e: Explanation) -> dict | None:
    """Return accuracy and confusion matrix (rows: label, columns: prediction), or None."""
    if e.given_labels is None or e.predictions is None or e.task == "regression":
        return None
    y = np.asarray(e.given_labels, dtype=np.int64)
    p = np.asarray(e.predictions, dtype=np.int64)
    k = len(e.class_names)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, p), 1)
    n = len(y)
    return {
        "n": n,
        "n_correct": int((y == p).sum()),
        "accuracy": _number((y == p).mean()) if n else None,
        "confusion": matrix.tolist(),
    }


def _misclassified(e: Explanation) -> list[dict]:
    """Return the signals whose prediction differs from their given label."""
    if e.given_labels is None or e.predictions is None or e.task == "regression":
        return []
    names = e.class_names
    return [
        {
            "index": int(b),
            "label": names[int(e.given_labels[b])],
            "prediction": names[int(e.predictions[b])],
        }
        for b in np.flatnonzero(np.asarray(e.given_labels) != np.asarray(e.predictions))
    ]


def _contradicting(e: Explanation) -> dict | None:
    """Count the regions (and top regions) whose deletion raises the explained output."""
    if e.probabilities is None or not any(r.drop is not None for rs in e.regions for r in rs):
        return None
    drops = [[r.drop for r in rs if r.drop is not None] for rs in e.regions]
    return {
        "n_regions": sum(len(d) for d in drops),
        "n_contradicting": sum(d < 0 for ds in drops for d in ds),
        "n_signals": sum(bool(d) for d in drops),
        "n_top_contradicting": sum(bool(d) and d[0] < 0 for d in drops),
        "signals": [b for b, ds in enumerate(drops) if any(d < 0 for d in ds)],
    }


def _kept(e: Explanation) -> dict:
    """Return per signal the positive attribution in the shown regions, and the rest."""
    opts = e.settings.get("mask_options") or {}
    p = signed_attribution(e.attribution, sign=opts.get("sign", "positive"))
    total = p.sum(axis=(-2, -1))
    parts = _unkept_parts(e, p, total)
    signals = []
    for b in range(e.n_samples):
        kept = float(sum(r.region.mass_share for r in e.regions[b]))
        evidence = total[b] > 0
        rec = {
            "index": b,
            "in_regions": _number(kept) if evidence else None,
            "unkept": _number(1.0 - kept) if evidence else None,
        }
        for key, v in (parts or {}).items():
            rec[key] = _number(v[b]) if evidence else None
        signals.append(rec)
    median = {}
    for key in ("in_regions", "unkept", *(parts or {})):
        vals = [s[key] for s in signals if s[key] is not None]
        median[key] = _number(np.median(vals)) if vals else None
    return {"determined": parts is not None, "median": median, "signals": signals}


def _unkept_parts(e: Explanation, p: np.ndarray, total: np.ndarray) -> dict | None:
    """Split each signal's unkept attribution by the step of the mask that left it out.

    The threshold and the cleaning are applied again to the stored attribution with the
    run's settings (``keep_mass``, ``mask_options``) and every connected region of the
    cleaned mask is weighed, so each step is seen apart. As shares of the positive mass
    ``p``: ``below_threshold``, not selected by the threshold; ``removed_by_cleaning``,
    selected but removed by the cleaning (small objects); ``added_by_cleaning``, not
    selected but put into regions by the cleaning (closing, hole filling);
    ``below_min_share``, in regions smaller than ``min_share``; ``beyond_max_regions``,
    in regions past the ``max_regions`` largest. So ``unkept = below_threshold +
    removed_by_cleaning - added_by_cleaning + below_min_share + beyond_max_regions``.
    ``None`` when the settings do not say how the regions were made.
    """
    s = e.settings
    if "keep_mass" not in s or "min_share" not in s:
        return None
    from skimage import measure

    opts = dict(s.get("mask_options") or {})
    selected = threshold_map(p, threshold=opts.get("threshold", "mass"), value=s["keep_mass"])
    cleaning = {k: v for k, v in opts.items() if k in _CLEANING}
    cleaned = clean_mask(selected, e.transform_config, axis=e.axis, **cleaning)
    safe = np.where(total > 0, total, 1.0)
    parts = {
        name: (p * m).sum(axis=(-2, -1)) / safe
        for name, m in (
            ("below_threshold", ~selected),
            ("removed_by_cleaning", selected & ~cleaned),
            ("added_by_cleaning", ~selected & cleaned),
        )
    }
    small = np.zeros(e.n_samples)
    beyond = np.zeros(e.n_samples)
    max_regions = s.get("max_regions")
    for b in range(e.n_samples):
        lab = measure.label(cleaned[b], connectivity=cleaning.get("connectivity", 2))
        mass = np.bincount(lab.ravel(), weights=p[b].ravel())[1:]
        shares = np.sort(mass / safe[b])[::-1]  # largest first, as the regions
        big = shares >= s["min_share"]
        small[b] = shares[~big].sum()
        beyond[b] = shares[big][max_regions:].sum() if max_regions else 0.0
    parts["below_min_share"] = small
    parts["beyond_max_regions"] = beyond
    return parts


def _class_record(e: Explanation, k: int, rows: np.ndarray, name: str) -> dict:
    """Return the summary of the signals explained for class (or output) ``k``."""
    prof = e.profile[rows]
    pos, neg = np.clip(prof, 0, None), np.clip(prof, None, 0)
    return {
        "name": name,
        "index": k,
        "n_signals": len(rows),
        "signals": rows.tolist(),
        "mean_signal": _floats(e.signals[rows].mean(axis=0)),
        "profile": {
            "mean": _floats(prof.mean(axis=0)),
            "spread": _floats(prof.std(axis=0)),
            "positive_mean": _floats(pos.mean(axis=0)),
            "negative_mean": _floats(neg.mean(axis=0)),
        },
        "bands": _bands(e, rows),
    }


def _bands(e: Explanation, rows: np.ndarray) -> list[dict]:
    """Return the bands of the regions of signals ``rows``, ranked by evidence."""
    regs = [(b, r) for b in rows for r in e.regions[b]]
    if not regs:
        return []
    cols = [r.region.cols for _, r in regs]
    shares = np.array([r.region.mass_share for _, r in regs], dtype=float)
    found = cluster_bands(cols, np.nan_to_num(np.clip(shares, 0, None)), [b for b, _ in regs])
    axis = np.asarray(e.axis, dtype=float)
    out = []
    for band in found:
        members = [regs[i][1] for i in band["members"]]
        lo = np.array([min(r.x_range) for r in members])
        hi = np.array([max(r.x_range) for r in members])
        drops = [r.drop for r in members if r.drop is not None]
        out.append(
            {
                "x_range": [_number(np.median(lo)), _number(np.median(hi))],
                "extent": [_number(lo.min()), _number(hi.max())],
                "centre": _number(axis[band["centre"]]),
                "n_signals": band["n_signals"],
                "n_regions": len(members),
                "evidence": _number(band["weight"] / len(rows)),
                "mean_attribution_share": _number(np.mean([r.region.mass_share for r in members])),
                "mean_drop": _number(np.mean(drops)) if drops else None,
                "n_contradicting": sum(d < 0 for d in drops) if drops else None,
            }
        )
    out.sort(key=lambda b: -(b["evidence"] or 0.0))
    for rank, b in enumerate(out, start=1):
        b["rank"] = rank
    return out


def summary_csv(summary: dict, *, axis_units: str = "") -> str:
    """Return the bands of a :func:`summarize` result as CSV text.

    One row per explained class and band (columns :data:`CSV_FIELDS`); empty cells for
    ``None``.

    Examples
    --------
    >>> text = summary_csv({"classes": [{"name": "a", "n_signals": 2, "bands": []}]})
    >>> text.splitlines()[0].split(",")[:3]
    ['class', 'rank', 'x_lo']
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in summary["classes"]:
        for b in c["bands"]:
            row = {
                "class": c["name"],
                "rank": b["rank"],
                "x_lo": b["x_range"][0],
                "x_hi": b["x_range"][1],
                "extent_lo": b["extent"][0],
                "extent_hi": b["extent"][1],
                "centre": b["centre"],
                "axis_units": axis_units,
                "n_signals": b["n_signals"],
                "n_class_signals": c["n_signals"],
                "n_regions": b["n_regions"],
                "evidence": b["evidence"],
                "mean_attribution_share": b["mean_attribution_share"],
                "mean_drop": b["mean_drop"],
                "n_contradicting": b["n_contradicting"],
            }
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()
