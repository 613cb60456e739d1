"""The overview of a streamed run, computed from its store: report, CSV, figures, page.

- :func:`summarize_store`: the run folder's ``summary`` — the same structure as
  :func:`~saliency2signal.explanation.summarize` of an in-memory explanation — from
  streaming reductions: the per-chunk per-class sums (means and spreads, exact), the
  ``samples`` table read in column batches (accuracy, confusion matrix, the first
  misclassified signals, medians of the attribution kept) and the ``regions`` table
  (contradicting regions, and the bands per class, clustered from a bounded, evenly
  spread sample of the regions when a class has very many).
- :func:`store_report`: the run-level report as a dict (what ``report.json`` holds).
- :func:`write_store_report`: ``report.json`` (the run-level report: header, counts of
  explained and failed signals by reason, ``summary``; no per-signal list),
  ``summary.csv``, one overview PNG per class and ``index.html`` into the run folder,
  each file written atomically.

Nothing here holds more than one column batch of a table, one class's (bounded) regions
and one column of per-signal numbers (for the exact medians) at a time.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, pyarrow and matplotlib (inside functions), the standard library,
``_files``, ``_version``, ``explanation`` (its public names, and the public names of its
internal modules ``_summary``, ``_overview`` and ``_pages``), the sibling ``_tables``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from .._files import atomic_write
from .._version import __version__
from ..explanation import cluster_bands
from ..explanation._overview import overview_figure, overview_html
from ..explanation._pages import STYLE
from ..explanation._summary import summary_csv
from ._tables import KEPT_PARTS

__all__ = [
    "MAX_CLUSTERED",
    "MAX_LISTED",
    "REPORT_FORMAT",
    "STORE_FIGURES",
    "store_report",
    "summarize_store",
    "write_store_report",
]

#: ``report.json``'s ``format`` in a run folder (a run-level report, no per-signal list).
REPORT_FORMAT = "saliency2signal-run-report"
#: Entries kept in a list that would name every signal (the first ones, in run order).
MAX_LISTED = 100
#: Regions of one class clustered into bands; beyond it an evenly spread sample.
MAX_CLUSTERED = 200_000
#: What :func:`write_store_report` may draw.
STORE_FIGURES = ("overview", "none")
_BATCH = 65_536


# ------------------------------------------------------------------ reading the store
def _parts(store, name: str) -> list[Path]:
    """Return the done chunks' Parquet parts of table ``name``, in chunk order."""
    return [store.folder / name / f"part-{c:05d}.parquet" for c in sorted(store.done_chunks())]


def _batches(store, name: str, columns: list[str]):
    """Yield the record batches of ``columns`` of table ``name``, part by part."""
    import pyarrow.parquet as pq

    for path in _parts(store, name):
        yield from pq.ParquetFile(path).iter_batches(batch_size=_BATCH, columns=columns)


def _floats(batch, name: str) -> np.ndarray:
    """Column ``name`` of ``batch`` as float64, NaN for nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = pc.cast(batch.column(name), pa.float64())
    return np.asarray(pc.fill_null(col, math.nan).to_numpy(zero_copy_only=False), dtype=float)


def _ints(batch, name: str, fill: int = -1) -> np.ndarray:
    """Column ``name`` of ``batch`` as int64, ``fill`` for nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = pc.fill_null(pc.cast(batch.column(name), pa.int64()), fill)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)


def _class_index(batch, name: str, class_names: list[str]) -> np.ndarray:
    """Return string column ``name`` as indices into ``class_names`` (-1: null or unknown)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = pc.index_in(batch.column(name), value_set=pa.array(class_names, pa.string()))
    return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _number(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _list(a) -> list:
    return [_number(v) for v in np.asarray(a, dtype=float).ravel()]


def _axis(layout: dict) -> np.ndarray:
    """Return the x values of the model's grid (the run's axis, or the sample index)."""
    axis = layout.get("axis")
    n = int(layout["n_times"])
    if axis is not None and len(axis) == n:
        return np.asarray(axis, dtype=float)
    return np.arange(n, dtype=float)


def _task(store) -> str:
    pipeline = store.material.get("pipeline") or {}
    return pipeline.get("task", "classification")


# ------------------------------------------------------------------ passes
def _sample_pass(store, max_listed: int) -> dict:
    """Return counts, confusion matrix and first listed signals, from one pass over ``samples``."""
    names = list(store.layout["class_names"])
    k = len(names)
    confusion = np.zeros((k, k), dtype=np.int64)
    out = {
        "n_rows": 0,
        "n_explained": 0,
        "failures": {},
        "misclassified": [],
        "n_misclassified": 0,
        "class_signals": {},
        "labelled": False,
        "predicted": False,
    }
    columns = ["sample", "status", "reason", "target", "label", "prediction"]
    for batch in _batches(store, "samples", columns):
        sample = _ints(batch, "sample")
        status = batch.column("status").to_numpy(zero_copy_only=False)
        explained = status == "explained"
        out["n_rows"] += len(sample)
        out["n_explained"] += int(explained.sum())
        reasons = batch.column("reason").to_numpy(zero_copy_only=False)
        for r in reasons[~explained]:
            key = "unknown" if r is None else str(r)
            out["failures"][key] = out["failures"].get(key, 0) + 1
        target, label = _ints(batch, "target"), _ints(batch, "label")
        pred = _ints(batch, "prediction")
        for c in np.unique(target[explained]):
            listed = out["class_signals"].setdefault(int(c), [])
            room = max_listed - len(listed)
            if room > 0:
                listed.extend(sample[explained & (target == c)][:room].tolist())
        out["predicted"] |= bool((pred[explained] >= 0).any())
        scored = explained & (label >= 0) & (pred >= 0)
        out["labelled"] |= bool(scored.any())
        np.add.at(confusion, (label[scored], pred[scored]), 1)
        wrong = np.flatnonzero(scored & (label != pred))
        out["n_misclassified"] += len(wrong)
        for j in wrong[: max(0, max_listed - len(out["misclassified"]))]:
            out["misclassified"].append(
                {
                    "index": int(sample[j]),
                    "label": names[label[j]],
                    "prediction": names[pred[j]],
                }
            )
    out["confusion"] = confusion
    return out


def _accuracy(counts: dict, task: str) -> dict | None:
    """Accuracy and confusion matrix (rows: label, columns: prediction), or None."""
    if not counts["labelled"] or task == "regression":
        return None
    matrix = counts["confusion"]
    n, correct = int(matrix.sum()), int(np.trace(matrix))
    return {
        "n": n,
        "n_correct": correct,
        "accuracy": _number(correct / n) if n else None,
        "confusion": matrix.tolist(),
    }


def _kept(store, max_listed: int) -> dict:
    """Medians of the attribution kept in regions and where the rest went.

    Exact medians: one column of per-signal shares (float64) is read at a time.
    """
    median, determined, n_with = {}, False, 0
    listed: list[dict] = []
    for part in KEPT_PARTS:
        values = []
        for batch in _batches(store, "samples", ["sample", f"kept_{part}"]):
            v = _floats(batch, f"kept_{part}")
            values.append(v[np.isfinite(v)])
            if part == "in_regions" and len(listed) < max_listed:
                sample = _ints(batch, "sample")
                for j in np.flatnonzero(np.isfinite(v))[: max_listed - len(listed)]:
                    listed.append({"index": int(sample[j]), "in_regions": float(v[j])})
        values = np.concatenate(values) if values else np.zeros(0)
        if part == "in_regions":
            n_with = len(values)
        if part not in ("in_regions", "unkept"):
            if not len(values):
                continue
            determined = True
        median[part] = _number(np.median(values)) if len(values) else None
    return {
        "determined": determined,
        "median": median,
        "n_signals": n_with,
        "signals": listed,
    }


def _region_pass(store, class_names: list[str], max_listed: int) -> tuple[dict | None, dict]:
    """Contradicting regions, and the number of regions per class, from ``regions``.

    A signal's regions are consecutive rows (one chunk writes them in order), so
    signals are counted where the ``sample`` column changes.
    """
    per_class: dict[int, int] = {}
    n_drop = n_contra = n_sig = n_top = n_sig_contra = 0
    listed: list[int] = []
    last, last_contra = -1, -1
    for batch in _batches(store, "regions", ["sample", "region", "target_class", "drop"]):
        cls = _class_index(batch, "target_class", class_names)
        for c, n in zip(*np.unique(cls[cls >= 0], return_counts=True), strict=True):
            per_class[int(c)] = per_class.get(int(c), 0) + int(n)
        drop = _floats(batch, "drop")
        has = np.isfinite(drop)
        sample, region = _ints(batch, "sample")[has], _ints(batch, "region")[has]
        drop = drop[has]
        n_drop += len(drop)
        neg = drop < 0
        n_contra += int(neg.sum())
        n_top += int((neg & (region == 1)).sum())
        if len(sample):
            starts = np.r_[sample[0] != last, sample[1:] != sample[:-1]]
            n_sig += int(starts.sum())
            last = int(sample[-1])
        cs = sample[neg]
        if len(cs):
            starts = np.r_[cs[0] != last_contra, cs[1:] != cs[:-1]]
            n_sig_contra += int(starts.sum())
            room = max_listed - len(listed)
            listed.extend(cs[starts][: max(0, room)].tolist())
            last_contra = int(cs[-1])
    contradicting = None
    if n_drop:
        contradicting = {
            "n_regions": n_drop,
            "n_contradicting": n_contra,
            "n_signals": n_sig,
            "n_top_contradicting": n_top,
            "n_signals_contradicting": n_sig_contra,
            "signals": listed,
        }
    return contradicting, per_class


def _region_sample(store, class_names, per_class: dict, max_clustered: int) -> dict:
    """Per class the regions to cluster: all, or an evenly spread ``max_clustered``."""
    chosen = {
        k: None if n <= max_clustered else np.round(np.linspace(0, n - 1, max_clustered))
        for k, n in per_class.items()
    }
    seen = dict.fromkeys(per_class, 0)
    cols = ["sample", "target_class", "col_start", "col_stop", "attribution_share"]
    cols += ["x_start", "x_stop", "drop"]
    found = {k: {c: [] for c in cols if c != "target_class"} for k in per_class}
    for batch in _batches(store, "regions", cols):
        cls = _class_index(batch, "target_class", class_names)
        data = {c: _floats(batch, c) for c in cols if c != "target_class"}
        for k in np.unique(cls[cls >= 0]):
            rows = np.flatnonzero(cls == k)
            k = int(k)
            if chosen[k] is not None:
                ordinal = seen[k] + np.arange(len(rows))
                rows = rows[np.isin(ordinal, chosen[k])]
            seen[k] += int((cls == k).sum())
            for c, v in data.items():
                found[k][c].append(v[rows])
    return {
        k: {c: np.concatenate(v) if v else np.zeros(0) for c, v in d.items()}
        for k, d in found.items()
    }


def _bands(regions: dict, n_total: int, n_class: int, axis: np.ndarray) -> list[dict]:
    """Return the bands of one class's (sampled) regions, ranked by evidence.

    With a sample of ``m`` of ``n_total`` regions, counts and the evidence are scaled
    by ``n_total / m`` (estimates); with all of them, the same as the in-memory summary.
    """
    m = len(regions["sample"])
    if not m:
        return []
    scale = n_total / m
    shares = regions["attribution_share"]
    weights = np.nan_to_num(np.clip(shares, 0, None))
    cols = np.stack([regions["col_start"], regions["col_stop"]], axis=1).astype(np.int64)
    out = []
    for band in cluster_bands(cols, weights, regions["sample"].astype(np.int64)):
        idx = np.asarray(band["members"], dtype=np.int64)
        lo, hi = regions["x_start"][idx], regions["x_stop"][idx]
        drops = regions["drop"][idx]
        drops = drops[np.isfinite(drops)]
        n_sig = band["n_signals"] if scale == 1 else min(n_class, round(band["n_signals"] * scale))
        out.append(
            {
                "x_range": [_number(np.median(lo)), _number(np.median(hi))],
                "extent": [_number(lo.min()), _number(hi.max())],
                "centre": _number(axis[band["centre"]]),
                "n_signals": int(n_sig),
                "n_regions": int(round(len(idx) * scale)),
                "evidence": _number(band["weight"] * scale / n_class),
                "mean_attribution_share": _number(np.mean(shares[idx])),
                "mean_drop": _number(np.mean(drops)) if len(drops) else None,
                "n_contradicting": int(round((drops < 0).sum() * scale)) if len(drops) else None,
            }
        )
    out.sort(key=lambda b: -(b["evidence"] or 0.0))
    for rank, b in enumerate(out, start=1):
        b["rank"] = rank
    return out


def _reduced(store) -> dict[str, np.ndarray] | None:
    """Return the per-class sums of all done chunks, added up."""
    total = None
    for part in store.reduction_parts():
        if total is None:
            total = {k: np.asarray(v, dtype=np.float64).copy() for k, v in part.items()}
        else:
            for k, v in part.items():
                total[k] += v
    return total


def _class_records(store, sums, counts, per_class, regions, max_clustered) -> list[dict]:
    """One record per explained class: means and spreads from the sums, and its bands."""
    names = list(store.layout["class_names"])
    axis = _axis(store.layout)
    records = []
    for k in np.flatnonzero(sums["count"] > 0) if sums is not None else ():
        k = int(k)
        n = int(sums["count"][k])
        mean = sums["profile_sum"][k] / n
        var = np.clip(sums["profile_sq_sum"][k] / n - mean**2, 0, None)
        n_reg = per_class.get(k, 0)
        m = len(regions[k]["sample"]) if k in regions else 0
        records.append(
            {
                "name": names[k],
                "index": k,
                "n_signals": n,
                "signals": counts["class_signals"].get(k, []),
                "mean_signal": _list(sums["signal_sum"][k] / n),
                "profile": {
                    "mean": _list(mean),
                    "spread": _list(np.sqrt(var)),
                    "positive_mean": _list(sums["positive_sum"][k] / n),
                    "negative_mean": _list(sums["negative_sum"][k] / n),
                },
                "bands": _bands(regions[k], n_reg, n, axis) if k in regions else [],
                "band_regions": {
                    "n_regions": n_reg,
                    "n_clustered": m,
                    "sampled": m < n_reg,
                    "max_clustered": max_clustered,
                },
            }
        )
    return records


def _settings_text(store, n_explained: int) -> list[str]:
    """Return the run's settings as sentences (from its key record and layout)."""
    s = store.material.get("settings") or {}
    layout = store.layout
    target = store.material.get("target", "predicted")
    what = "output" if _task(store) == "regression" else "class"
    target = (
        {
            "predicted": f"each signal's predicted {what}",
            "label": "each signal's given label",
        }.get(target, f"the {what} chosen for each signal")
        if isinstance(target, str)
        else target
    )
    out = [
        f"{n_explained} of {layout['n_signals']} signal(s) of {layout['n_times']} points "
        f"explained, streamed in {layout['n_chunks']} chunk(s) of {layout['chunk']}; "
        f"attribution by {s.get('method', 'an unrecorded method')} on the synchrosqueezed "
        f"transform's plane, explaining {target}."
    ]
    if "keep_mass" in s:
        out.append(
            f"Regions: the smallest set of cells holding {s['keep_mass']:.0%} of the positive "
            f"attribution; connected regions below {s.get('min_share', 0):.0%} of it "
            f"dropped; at most {layout['max_regions']} per signal."
        )
    n_null = s.get("n_null") or 0
    if n_null:
        out.append(
            f"Each explanation judged against {n_null} equally energetic random regions "
            "per region."
        )
    ref = store.material.get("reference", "zero")
    if ref not in (None, "zero"):
        out.append(f"Explanations relative to a reference ({ref}).")
    return out


def summarize_store(
    store, *, max_listed: int = MAX_LISTED, max_clustered: int = MAX_CLUSTERED
) -> dict:
    """Summarize a run folder over all its done signals, by streaming reductions.

    Parameters
    ----------
    store : RunStore
        An open run folder (:class:`~saliency2signal.stream.RunStore`).
    max_listed : int
        Entries kept in each list that would otherwise name every signal.
    max_clustered : int
        Regions of one class clustered into bands at most; a class with more is
        clustered from an evenly spread sample of this many (in run order).

    Returns
    -------
    dict
        JSON-compatible, with the keys of
        :func:`~saliency2signal.explanation.summarize`: ``task``, ``settings_text``,
        ``accuracy``, ``misclassified``, ``contradicting``, ``attribution_kept`` and
        ``classes``.

    Raises
    ------
    TypeError
        If ``max_listed`` or ``max_clustered`` is not an int.
    ValueError
        If ``max_listed`` < 0 or ``max_clustered`` < 1.

    Notes
    -----
    What differs from the in-memory summary, so that a million signals fit:

    - signals are named by their run index (the ``sample`` column), counting failed
      ones, not by their position among the explained signals;
    - ``classes[i]['signals']``, ``misclassified``, ``contradicting['signals']`` and
      ``attribution_kept['signals']`` list only the first ``max_listed`` entries (the
      last with only ``index`` and ``in_regions``); ``n_misclassified`` (in the
      ``accuracy`` record), ``contradicting['n_signals_contradicting']`` and
      ``attribution_kept['n_signals']`` count them all; the medians are exact;
    - ``settings_text`` is written from the run's key record (its ``settings``);
    - each class record has ``band_regions``: how many regions the class has, how many
      were clustered and whether that was a sample. With a sample, a band's
      ``n_signals``, ``n_regions``, ``n_contradicting`` and ``evidence`` are scaled
      up by the sampling ratio (estimates); x-ranges, extent, centre and means come from
      the sampled regions. Without one, the bands are those of the in-memory summary.

    Means are sums over counts; the spread is ``sqrt(sum(p^2) / n - mean^2)``, the
    population standard deviation as in the in-memory summary.

    Examples
    --------
    >>> import tempfile
    >>> from saliency2signal.stream import RunStore
    >>> layout = dict(n_signals=2, n_times=4, n_freqs=3, chunk=2, n_chunks=1,
    ...               max_regions=1, class_names=["a", "b"], id_names=["index"],
    ...               image_shape=None, axis=None)
    >>> store, _ = RunStore.open_or_create(tempfile.mkdtemp() + "/run",
    ...                                    material={}, layout=layout)
    >>> summarize_store(store)["classes"]  # nothing done yet
    []
    """
    return _summarize(store, max_listed, max_clustered)[0]


def _summarize(store, max_listed: int, max_clustered: int) -> tuple[dict, dict]:
    """Return the summary and the sample pass's counts (for the report's ``counts``)."""
    for name, v, low in (("max_listed", max_listed, 0), ("max_clustered", max_clustered, 1)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name}={v!r} must be an int")
        if v < low:
            raise ValueError(f"{name}={v!r} must be >= {low}")
    names = list(store.layout["class_names"])
    task = _task(store)
    counts = _sample_pass(store, max_listed)
    contradicting, per_class = _region_pass(store, names, max_listed)
    regions = _region_sample(store, names, per_class, max_clustered)
    accuracy = _accuracy(counts, task)
    if accuracy is not None:
        accuracy["n_misclassified"] = counts["n_misclassified"]
    summary = {
        "task": task,
        "settings_text": _settings_text(store, counts["n_explained"]),
        "accuracy": accuracy,
        "misclassified": counts["misclassified"] if accuracy is not None else [],
        "contradicting": contradicting,
        "attribution_kept": _kept(store, max_listed),
        "classes": _class_records(
            store, _reduced(store), counts, per_class, regions, max_clustered
        ),
    }
    return summary, counts


# ------------------------------------------------------------------ the report
def _run_counts(store, summary_counts: dict) -> dict:
    done = store.done_chunks()
    return {
        "n_signals": int(store.layout["n_signals"]),
        "n_done": summary_counts["n_rows"],
        "n_explained": summary_counts["n_explained"],
        "n_failed": summary_counts["n_rows"] - summary_counts["n_explained"],
        "failures": dict(sorted(summary_counts["failures"].items())),
        "n_chunks": int(store.layout["n_chunks"]),
        "n_chunks_done": len(done),
    }


def store_report(store, *, max_listed: int = MAX_LISTED) -> dict:
    """Return the run-level report (``report.json`` of a run folder) as a dict.

    Parameters
    ----------
    store : RunStore
    max_listed : int
        See :func:`summarize_store`.

    Returns
    -------
    dict
        JSON-compatible: ``format``, ``package_version``, ``key``, ``method``,
        ``target_mode``, ``class_names``, ``n_samples`` (the run's signals), ``n_times``,
        ``n_freqs``, ``axis`` (``name``, ``units``, ``values``), ``task``,
        ``settings``, ``reference``, ``transform``, ``imaging``, ``counts``
        (``n_explained``, ``n_failed``, ``failures``: reason -> count, chunks), ``files``
        (where the tables and arrays are) and ``summary`` (:func:`summarize_store`).
        No per-signal list: the ``samples`` table holds it.
    """
    layout, material = store.layout, store.material
    pipeline = material.get("pipeline") or {}
    settings = dict(material.get("settings") or {})
    summary, counts = _summarize(store, max_listed, MAX_CLUSTERED)
    target = material.get("target", "predicted")
    return {
        "format": REPORT_FORMAT,
        "package_version": __version__,
        "key": store.key,
        "method": settings.get("method"),
        "target_mode": target if target in ("predicted", "label") else "fixed",
        "class_names": list(layout["class_names"]),
        "n_samples": int(layout["n_signals"]),
        "n_times": int(layout["n_times"]),
        "n_freqs": int(layout["n_freqs"]),
        "axis": {
            "name": layout.get("axis_name") or "x",
            "units": layout.get("axis_units") or "",
            "values": [float(v) for v in _axis(layout)],
        },
        "task": summary["task"],
        "settings": settings,
        "reference": material.get("reference"),
        "transform": pipeline.get("transform"),
        "imaging": pipeline.get("imaging"),
        "memory_plan": layout.get("memory_plan"),
        "counts": _run_counts(store, counts),
        "files": {
            "samples": "samples/part-*.parquet (one row per signal, failed ones with reason)",
            "regions": "regions/part-*.parquet (one row per region)",
            "arrays": f"arrays.zarr ({', '.join(layout.get('arrays') or {}) or 'none'})",
            "run": "run.json (the run's key, settings and layout)",
        },
        "summary": summary,
    }


def _check_figures(figures) -> str:
    if not isinstance(figures, str):
        raise TypeError(f"figures={figures!r} must be one of {STORE_FIGURES}")
    if figures not in STORE_FIGURES:
        raise ValueError(f"figures={figures!r} must be one of {STORE_FIGURES}")
    return figures


def _png(fig):
    return lambda tmp: fig.savefig(tmp, dpi=100, format="png")


def write_store_report(store, *, figures: str = "overview") -> Path:
    """Write a run folder's report: ``report.json``, ``summary.csv``, figures, page.

    Parameters
    ----------
    store : RunStore
        An open run folder; its done chunks are reported (a run still going can be
        reported, and reported again later).
    figures : {'overview', 'none'}
        Draw one overview PNG per explained class (``overview_class_XXX.png``), or none.

    Returns
    -------
    pathlib.Path
        The page, ``index.html`` in the run folder.

    Raises
    ------
    TypeError, ValueError
        If ``figures`` is not one of :data:`STORE_FIGURES`.

    Notes
    -----
    Every file is written whole to a temporary sibling and renamed, so a reader never
    sees half of one. The page links the per-signal maps of a cube
    (``maps/*.png``) if they were written before it
    (:func:`~saliency2signal.stream.write_maps`).
    """
    figures = _check_figures(figures)
    folder = Path(store.folder)
    report = store_report(store)
    text = json.dumps(report, indent=1)
    atomic_write(folder / "report.json", lambda tmp: Path(tmp).write_text(text, "utf-8"))
    csv = summary_csv(report["summary"], axis_units=report["axis"]["units"])
    atomic_write(folder / "summary.csv", lambda tmp: Path(tmp).write_text(csv, "utf-8"))
    drawn = {}
    if figures == "overview":
        for record in report["summary"]["classes"]:
            name = f"overview_class_{record['index']:03d}.png"
            atomic_write(folder / name, _png(overview_figure(record, report)))
            drawn[record["index"]] = name
    page = _page(report, drawn, sorted(p.name for p in (folder / "maps").glob("*.png")))
    return atomic_write(folder / "index.html", lambda tmp: Path(tmp).write_text(page, "utf-8"))


def _page(report: dict, figures: dict[int, str], maps: list[str]) -> str:
    """``index.html``: the run's counts, the overview section, where the results are."""
    esc = html.escape
    counts = report["counts"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>saliency2signal streamed run</title>",
        STYLE + "</head><body>",
        "<h1>saliency2signal streamed run</h1>",
        f"<p>Method: {esc(str(report['method']))}; classes: "
        f"{esc(', '.join(report['class_names']))}; {counts['n_explained']} of "
        f"{report['n_samples']} signal(s) of {report['n_times']} samples explained "
        f"({counts['n_chunks_done']} of {counts['n_chunks']} chunks done); data: "
        '<a href="report.json">report.json</a>, <a href="summary.csv">summary.csv</a>, '
        '<a href="run.json">run.json</a>.</p>',
        _failed_line(counts),
    ]
    parts.extend(_misclassified_lines(report))
    parts.extend(_overview_lines(report, figures))
    parts.extend(_where_lines(maps))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _failed_line(counts: dict) -> str:
    if not counts["n_failed"]:
        return f"<p>No signal failed (of {counts['n_done']} read).</p>"
    why = "; ".join(f"{html.escape(r)}: {n}" for r, n in counts["failures"].items())
    return (
        f"<p><b>{counts['n_failed']} of {counts['n_done']} signal(s) failed</b> and were "
        f"not explained ({why}); the <code>samples</code> table has each one's reason.</p>"
    )


def _misclassified_lines(report: dict) -> list[str]:
    acc = report["summary"]["accuracy"]
    if acc is None or not acc["n_misclassified"]:
        return []
    wrong = report["summary"]["misclassified"]
    listed = ", ".join(
        f"{m['index']} ({html.escape(m['label'])} predicted {html.escape(m['prediction'])})"
        for m in wrong
    )
    return [
        f"<p>{acc['n_misclassified']} signal(s) misclassified; the first {len(wrong)} "
        f"(run index): {listed}.</p>"
    ]


def _overview_lines(report: dict, figures: dict[int, str]) -> list[str]:
    """Return the explanation report's overview section, without its per-signal contents.

    The run has no per-signal pages: the section is drawn with no signals and no
    misclassified list (both are on this page in their own words), its empty list of
    signals is left out and its link to the signals points at where their results are.
    """
    view = dict(report, samples=[])
    view["summary"] = dict(report["summary"], misclassified=[])
    out = []
    for line in overview_html(view, figures):
        if line.startswith("<details>") or line == "</ol></details>":
            continue
        if 'href="#signals"' in line:
            line = (
                "<p>Each signal's results: <a href=\"#signals\">the run's tables and "
                "arrays</a>.</p>"
            )
        out.append(line)
    return out


def _where_lines(maps: list[str]) -> list[str]:
    out = [
        '<section id="signals"><h2>Where the results are</h2><ul>',
        "<li><code>samples/part-*.parquet</code>: one row per signal (ids, status and "
        "reason, target, prediction, probabilities, verdict, top region).</li>",
        "<li><code>regions/part-*.parquet</code>: one row per region (x-range, band, "
        "shares, deletion effect, peak).</li>",
        "<li><code>arrays.zarr</code>: components, region labels, attribution profiles, "
        "probabilities (one row per signal).</li>",
        "<li>Read them with <code>RunStore.open(folder).table('regions')</code> or "
        "<code>pandas.read_parquet(folder / 'regions')</code>.</li>",
        "</ul>",
    ]
    for name in maps:
        out.append(f'<p><img src="maps/{html.escape(name)}" alt="map {html.escape(name)}"></p>')
    out.append("</section>")
    return out
