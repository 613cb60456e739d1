"""The report of a streamed evaluation, computed from its run store part by part.

:func:`summarize_evaluation` reads the ``samples`` parts of a finished
:func:`~._evaluate.evaluate_stream` run a few columns at a time (a median: one column of
one method) and computes the per-method summary with the definitions of
:meth:`~saliency2signal.evaluation.MethodEvaluation.summary`: NaN-aware means of
:data:`MEAN_SCORES` and of ``n_regions``, NaN-aware medians of :data:`MEDIAN_SCORES`, the
share of signals whose top region beats 95 % of its null, the means of the randomised
similarities; the mean curves come from the chunks' reductions (sums and counts).
:func:`write_evaluation_report` writes ``report.json`` (schema :data:`REPORT_SCHEMA`),
``summary.csv`` and ``index.html``; :func:`count_signals` counts evaluated and failed
signals.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, pyarrow (inside functions), ``_files``, ``_validation``, ``_version``
and the sibling ``_store``.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import numpy as np

from .._files import atomic_write
from .._validation import finite_or_none
from .._version import __version__
from ._store import RunStore, need

__all__ = [
    "CURVE_NAMES",
    "CURVE_SCORES",
    "MEAN_SCORES",
    "MEDIAN_SCORES",
    "RANDOMIZED",
    "REPORT_SCHEMA",
    "count_signals",
    "summarize_evaluation",
    "write_evaluation_report",
]

#: ``report.json``'s schema name.
REPORT_SCHEMA = "saliency2signal.evaluation-run"
#: Scores summarised by their NaN-aware mean (as ``MethodEvaluation.summary``).
MEAN_SCORES = (
    "p_target",
    "deletion_auc",
    "null_deletion_auc",
    "deletion_lerf_auc",
    "insertion_auc",
    "null_insertion_auc",
    "top_drop",
    "null_top_drop",
)
#: Scores summarised by their NaN-aware median.
MEDIAN_SCORES = ("top_drop_percentile", "deletion_auc_percentile", "insertion_auc_percentile")
#: Per-signal scores of every evaluation (``faithfulness.curve_scores``), in this order.
CURVE_SCORES = (*MEAN_SCORES, "top_drop_beaten", *MEDIAN_SCORES)
#: Per-signal similarities after the last randomisation step (with a sanity check).
RANDOMIZED = ("spearman", "ssim", "spearman_tf")
#: Curves whose means the reductions hold.
CURVE_NAMES = ("deletion", "deletion_lerf", "insertion")


def _parts(store: RunStore) -> list[Path]:
    """Return the done chunks' ``samples`` parts, in chunk order."""
    return [
        store.folder / "samples" / f"part-{c:05d}.parquet" for c in sorted(store.done_chunks())
    ]


def _read(part: Path, columns: list[str]):
    return need("pyarrow.parquet").read_table(part, columns=columns)


def _column(table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def count_signals(store: RunStore, first: str) -> dict:
    """Count evaluated and failed signals (by reason) of the done chunks, part by part."""
    n_ok, failures = 0, {}
    for part in _parts(store):
        t = _read(part, ["status", "reason", "method"]).to_pydict()
        for status, reason, method in zip(t["status"], t["reason"], t["method"], strict=True):
            if status == "failed":
                failures[reason] = failures.get(reason, 0) + 1
            elif method == first:
                n_ok += 1
    return {"n_evaluated": n_ok, "n_failed": sum(failures.values()), "failures": failures}


def _nan_stats(store: RunStore, methods: list[str], names: list[str]) -> dict:
    """Return per method and column the non-NaN count and sum, and the share's counts."""
    acc = {m: {k: [0, 0.0] for k in names} for m in methods}
    beats = {m: [0, 0] for m in methods}
    for part in _parts(store):
        t = _read(part, ["method", "top_drop_beaten", *names])
        which = np.asarray(t.column("method").to_pylist(), dtype=object)
        for m in methods:
            rows = which == m
            for k in names:
                v = _column(t, k)[rows]
                v = v[~np.isnan(v)]
                acc[m][k][0] += v.size
                acc[m][k][1] += float(v.sum())
            b = _column(t, "top_drop_beaten")[rows]
            beats[m][0] += int(np.sum(b[~np.isnan(b)] >= 0.95))
            beats[m][1] += int(np.sum(~np.isnan(b)))
    return {"sums": acc, "beats": beats}


def _median(store: RunStore, method: str, name: str) -> float | None:
    """NaN-aware median of one column for one method (that column alone in memory)."""
    values = []
    for part in _parts(store):
        t = _read(part, ["method", name])
        rows = np.asarray(t.column("method").to_pylist(), dtype=object) == method
        v = _column(t, name)[rows]
        values.append(v[~np.isnan(v)])
    v = np.concatenate(values) if values else np.zeros(0)
    return finite_or_none(np.median(v)) if v.size else None


def _curves(store: RunStore, methods: list[str]) -> dict:
    """Return per method the mean curves (and randomisation similarities per step)."""
    total: dict[str, np.ndarray] = {}
    for part in store.reduction_parts():
        for k, v in part.items():
            total[k] = total.get(k, 0.0) + v.astype(np.float64)
    out = {m: {} for m in methods}
    names = [*CURVE_NAMES, *(f"randomization_{k}" for k in RANDOMIZED)]
    for i, m in enumerate(methods):
        for k in names:
            if f"{k}_sum" in total:
                s, c = total[f"{k}_sum"][i], total[f"{k}_count"][i]
                mean = np.where(c > 0, s / np.maximum(c, 1), np.nan)
                out[m][k] = [finite_or_none(v) for v in mean]
    return {"curves": out, "seconds": total.get("seconds", np.zeros(len(methods)))}


def summarize_evaluation(store: RunStore) -> dict:
    """Return the ``report.json`` record of a finished evaluation run (streamed over parts).

    The per-method ``summary`` rows have the columns and definitions of
    :meth:`~saliency2signal.evaluation.MethodEvaluation.summary` (NaN-aware means of
    :data:`MEAN_SCORES` and of ``n_regions``, medians of :data:`MEDIAN_SCORES`, the share
    of signals whose top region beats 95 % of its null, the randomised similarities'
    means); ``seconds`` adds up the chunks' times.
    """
    settings = store.material["settings"]
    methods = list(settings["methods"])
    randomized = (
        [f"randomized_{k}" for k in RANDOMIZED] if settings["randomization"] != "none" else []
    )
    stats = _nan_stats(store, methods, ["n_regions", *MEAN_SCORES, *randomized])
    curves = _curves(store, methods)
    rows = []
    for i, m in enumerate(methods):
        sums = stats["sums"][m]
        n_samples = sums["n_regions"][0]

        def mean(k, sums=sums):
            n, s = sums[k]
            return finite_or_none(s / n) if n else None

        row = {"method": m, "n_samples": int(n_samples), "mean_regions": mean("n_regions")}
        row.update({k: mean(k) for k in MEAN_SCORES})
        row.update({k: _median(store, m, k) for k in MEDIAN_SCORES})
        hit, valid = stats["beats"][m]
        row["share_top_drop_beats_95"] = finite_or_none(hit / valid) if valid else None
        row.update({k: mean(k) for k in randomized})
        row["seconds"] = round(float(curves["seconds"][i]), 2)
        rows.append(row)
    layout = store.layout
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": 1,
        "package_version": __version__,
        "key": store.key,
        "class_names": list(layout["class_names"]),
        "settings": {
            **settings,
            "target": store.material["target"],
            "chunk": layout["chunk"],
            "batch_size": layout["batch_size"],
            "memory_plan": layout["memory_plan"],
        },
        "counts": {"n_signals": layout["n_signals"], **count_signals(store, methods[0])},
        "summary": rows,
        "curves": curves["curves"],
    }


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def _html(record: dict) -> str:
    rows = record["summary"]
    cols = list(rows[0]) if rows else []

    def cell(v):
        if v is None:
            return "&ndash;"
        return f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(r[c])}</td>" for c in cols) + "</tr>" for r in rows
    )
    c = record["counts"]
    failed = "; ".join(f"{n} {html.escape(r)}" for r, n in sorted(c["failures"].items()))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>evaluation</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "</style></head><body>\n<h1>Evaluation</h1>\n"
        f"<p>{c['n_evaluated']} of {c['n_signals']} signal(s) evaluated"
        f"{f'; failed: {failed}' if failed else ''}. Methods: "
        f"{html.escape(', '.join(record['settings']['methods']))}; n_null "
        f"{record['settings']['n_null']}; randomization "
        f"{html.escape(record['settings']['randomization'])}.</p>\n"
        f"<table><tr>{head}</tr>{body}</table>\n"
        "<p>Tables: <code>samples/</code> (one row per signal and method), "
        "<code>regions/</code>; <code>report.json</code>, <code>summary.csv</code>.</p>\n"
        "</body></html>\n"
    )


def write_evaluation_report(store: RunStore, record: dict | None = None) -> Path:
    """Write ``report.json``, ``summary.csv`` and ``index.html`` of a finished run.

    Returns
    -------
    pathlib.Path
        ``report.json``.
    """
    record = summarize_evaluation(store) if record is None else record
    text = json.dumps(record, indent=1)
    folder = store.folder
    atomic_write(folder / "summary.csv", lambda tmp: Path(tmp).write_text(_csv(record["summary"])))
    atomic_write(folder / "index.html", lambda tmp: Path(tmp).write_text(_html(record)))
    return atomic_write(folder / "report.json", lambda tmp: Path(tmp).write_text(text))
