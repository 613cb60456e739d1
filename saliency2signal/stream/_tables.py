"""One chunk's explanation as the store's rows: arrays, two tables and per-class sums.

:func:`chunk_records` turns the :class:`~saliency2signal.explanation.Explanation` of a
chunk's valid signals (and the chunk's failed rows) into what
:meth:`~._store.RunStore.write_chunk` writes:

- ``arrays``: every signal's rows of the Zarr arrays (a failed signal's are zeros);
- ``samples``: one row per signal: its ids, ``status`` (``'explained'`` or
  ``'failed'``) and ``reason``, the target, prediction, label, probabilities, energy
  book, verdict, its share of attribution in regions and where the rest went, and the
  x-range of its top region;
- ``regions``: one row per region: ids, rank, x-range, grid extent, band, shares,
  deletion effect, contradiction, fitted peak;
- ``reductions``: per explained class, the count and the sums of the signals, their
  attribution profiles and squared profiles (the overview's means and spreads, added up
  over chunks).

The tables' schemas are fixed (:data:`SAMPLE_COLUMNS`, :data:`REGION_COLUMNS`), so the
parts of all chunks form one Parquet dataset.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, pyarrow (inside functions), ``explanation``; never a sibling module.
"""

from __future__ import annotations

import math

import numpy as np

from ..explanation import summarize

__all__ = ["KEPT_PARTS", "REGION_COLUMNS", "SAMPLE_COLUMNS", "chunk_records"]

#: Where a signal's positive attribution went (shares; ``summary['attribution_kept']``).
KEPT_PARTS = (
    "in_regions",
    "unkept",
    "below_threshold",
    "removed_by_cleaning",
    "added_by_cleaning",
    "below_min_share",
    "beyond_max_regions",
)
_VERDICT_NUMBERS = (
    "top_drop",
    "null_top_drop",
    "top_beaten",
    "deletion_auc",
    "null_deletion_auc",
    "auc_percentile",
)
_ENERGY = ("components", "uncovered", "overlap", "lowpass", "residual", "cross")

#: Columns of ``samples`` after the id columns: (name, Arrow type name).
SAMPLE_COLUMNS = (
    ("sample", "int64"),
    ("chunk", "int32"),
    ("status", "string"),
    ("reason", "string"),
    ("target", "int32"),
    ("target_class", "string"),
    ("prediction", "int32"),
    ("predicted_class", "string"),
    ("label", "int32"),
    ("correct", "bool"),
    ("foil_class", "string"),
    ("p_target", "float64"),
    ("probabilities", "list<float64>"),
    ("convergence_delta", "float64"),
    ("n_regions", "int32"),
    *((f"energy_{k}", "float64") for k in _ENERGY),
    ("unseen_lowpass", "float64"),
    ("unseen_residual", "float64"),
    ("verdict", "string"),
    ("better_than_chance", "bool"),
    ("contradicted", "bool"),
    *((f"verdict_{k}", "float64") for k in _VERDICT_NUMBERS),
    *((f"kept_{k}", "float64") for k in KEPT_PARTS),
    ("top_x_start", "float64"),
    ("top_x_stop", "float64"),
)
#: Columns of ``regions`` after the id columns.
REGION_COLUMNS = (
    ("sample", "int64"),
    ("region", "int32"),
    ("target_class", "string"),
    ("x_start", "float64"),
    ("x_stop", "float64"),
    ("col_start", "int32"),
    ("col_stop", "int32"),
    ("row_start", "int32"),
    ("row_stop", "int32"),
    ("band_low", "float64"),
    ("band_high", "float64"),
    ("duration", "float64"),
    ("area", "int64"),
    ("attribution_share", "float64"),
    ("coefficient_energy_share", "float64"),
    ("component_energy", "float64"),
    ("p_before", "float64"),
    ("p_after", "float64"),
    ("drop", "float64"),
    ("contradicting", "bool"),
    ("interference", "bool"),
    ("peak_centre", "float64"),
    ("peak_fwhm", "float64"),
    ("peak_height", "float64"),
    ("peak_drop", "float64"),
    ("peak_description", "string"),
)


def _finite(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _schema(id_names, columns):
    import pyarrow as pa

    def arrow(t: str):
        return pa.list_(pa.float64()) if t == "list<float64>" else pa.type_for_alias(t)

    fields = [pa.field(n, pa.int64()) for n in id_names]
    fields += [pa.field(n, arrow(t)) for n, t in columns if n not in id_names]
    return pa.schema(fields)


def _table(rows: list[dict], id_names, columns):
    import pyarrow as pa

    schema = _schema(id_names, columns)
    return pa.Table.from_pylist(rows, schema=schema)


def chunk_records(
    e,
    *,
    start: int,
    chunk: int,
    ok: np.ndarray,
    reasons,
    ids: dict[str, np.ndarray],
    layout: dict,
) -> dict:
    """Return ``arrays``, ``samples``, ``regions`` and ``reductions`` of one chunk.

    Parameters
    ----------
    e : Explanation or None
        The explanation of the chunk's valid signals (in order); ``None`` when none was.
    start : int
        Run index of the chunk's first signal.
    chunk : int
        The chunk's number.
    ok : numpy.ndarray of bool, shape (m,)
        Which of the chunk's ``m`` signals were explained (``e`` has ``ok.sum()``).
    reasons : sequence of str or None
        Why each failed signal failed.
    ids : dict of str to numpy.ndarray
        The chunk's id columns (``index``, or a cube's pixel position).
    layout : dict
        The run's layout (:class:`~._store.RunStore`).
    """
    m = len(ok)
    where = np.flatnonzero(ok)
    names = list(layout["class_names"])
    id_names = list(layout["id_names"])
    arrays = _arrays(e, where, m, layout)
    samples, regions = [], []
    kept = _kept(e)
    for j in range(m):
        row = {n: int(ids[n][j]) for n in id_names}
        row.update(sample=start + j, chunk=chunk)
        if not ok[j]:
            row.update(status="failed", reason=str(reasons[j]))
            samples.append(row)
            continue
        b = int(np.searchsorted(where, j))
        row.update(_sample_row(e, b, names, kept[b] if kept else None))
        samples.append(row)
        for k, r in enumerate(e.regions[b], start=1):
            reg = {n: int(ids[n][j]) for n in id_names}
            reg.update(sample=start + j, region=k, target_class=row["target_class"])
            reg.update(_region_row(r))
            regions.append(reg)
    return {
        "arrays": arrays,
        "samples": _table(samples, id_names, SAMPLE_COLUMNS),
        "regions": _table(regions, id_names, REGION_COLUMNS),
        "reductions": _reductions(e, len(names), layout["n_times"]),
    }


def _arrays(e, where: np.ndarray, m: int, layout: dict) -> dict[str, np.ndarray]:
    """Return the chunk's rows of every Zarr array; failed signals' rows stay zero."""
    n_times, n_freqs, r = layout["n_times"], layout["n_freqs"], layout["max_regions"]
    out = {
        "components": np.zeros((m, r, n_times), np.float32),
        "labels": np.zeros((m, n_freqs, n_times), np.uint8),
        "profile": np.zeros((m, n_times), np.float32),
        "probabilities": np.zeros((m, len(layout["class_names"])), np.float32),
    }
    if layout.get("contrasts"):
        out["contrasts"] = np.zeros((m, r, n_times), np.float32)
    if layout.get("attribution"):
        out["attribution"] = np.zeros((m, n_freqs, n_times), np.float16)
    if e is None:
        return out
    rr = e.components.shape[1]
    out["components"][where, :rr] = e.components
    out["labels"][where] = e.labels.astype(np.uint8)
    out["profile"][where] = e.profile
    if e.probabilities is not None:
        out["probabilities"][where] = e.probabilities
    if "contrasts" in out and e.contrasts is not None:
        out["contrasts"][where, :rr] = e.contrasts
    if "attribution" in out:
        out["attribution"][where] = e.attribution.astype(np.float16)
    return out


def _kept(e) -> list[dict] | None:
    """Each signal's attribution in its regions and where the rest went."""
    if e is None:
        return None
    return summarize(e)["attribution_kept"]["signals"]


def _sample_row(e, b: int, names: list[str], kept: dict | None) -> dict:
    """Return the ``samples`` columns of explained signal ``b`` of ``e``."""
    model = e.probabilities is not None
    target = int(e.target[b])
    label = None if e.given_labels is None else int(e.given_labels[b])
    pred = int(e.predictions[b]) if model else None
    row = {
        "status": "explained",
        "reason": None,
        "target": target,
        "target_class": names[target],
        "prediction": pred,
        "predicted_class": None if pred is None else names[pred],
        "label": label,
        "correct": None
        if label is None or pred is None or e.task != "classification"
        else pred == label,
        "foil_class": None if e.foils is None else names[int(e.foils[b])],
        "p_target": _finite(e.probabilities[b, target]) if model else None,
        "probabilities": [_finite(p) for p in e.probabilities[b]] if model else None,
        "convergence_delta": None
        if e.convergence_delta is None
        else _finite(e.convergence_delta[b]),
        "n_regions": len(e.regions[b]),
        "unseen_lowpass": _finite(e.unseen_lowpass[b]),
        "unseen_residual": _finite(e.unseen_residual[b]),
    }
    for k in _ENERGY:
        v = e.energy.get(k)
        row[f"energy_{k}"] = None if v is None else _finite(np.sum(v[b]))
    if e.verdicts is not None:
        v = e.verdicts[b].to_dict(names[target])
        row.update(
            verdict=v["level"],
            better_than_chance=bool(v["better_than_chance"]),
            contradicted=bool(v["contradicted"]),
        )
        row.update({f"verdict_{k}": v[k] for k in _VERDICT_NUMBERS})
    if kept is not None:
        row.update({f"kept_{k}": kept.get(k) for k in KEPT_PARTS})
    if e.regions[b]:
        lo, hi = e.regions[b][0].x_range
        row.update(top_x_start=_finite(min(lo, hi)), top_x_stop=_finite(max(lo, hi)))
    return row


def _region_row(r) -> dict:
    """Return the ``regions`` columns of a region (a ``RegionEffect``)."""
    d = r.to_dict()
    lo, hi = d["x_range"]
    band = d["band"] or (None, None)
    peak = d["peak"] or {}
    flag = d["interference"]
    return {
        "x_start": _finite(lo),
        "x_stop": _finite(hi),
        "col_start": int(d["cols"][0]),
        "col_stop": int(d["cols"][1]),
        "row_start": int(d["rows"][0]),
        "row_stop": int(d["rows"][1]),
        "band_low": _finite(band[0]),
        "band_high": _finite(band[1]),
        "duration": _finite(d["duration"]),
        "area": int(d["area"]),
        "attribution_share": _finite(d["attribution_share"]),
        "coefficient_energy_share": _finite(d["coefficient_energy_share"]),
        "component_energy": _finite(d["component_energy"]),
        "p_before": _finite(r.p_before),
        "p_after": _finite(r.p_after),
        "drop": _finite(r.drop),
        "contradicting": r.contradicting,
        "interference": None if flag is None else bool(flag.get("flagged")),
        "peak_centre": _finite(peak.get("centre")),
        "peak_fwhm": _finite(peak.get("fwhm")),
        "peak_height": _finite(peak.get("height")),
        "peak_drop": _finite(peak.get("drop")),
        "peak_description": peak.get("description"),
    }


def _reductions(e, n_classes: int, n_times: int) -> dict[str, np.ndarray]:
    """Per explained class: count, and sums of signals, profiles and squared profiles."""
    out = {
        "count": np.zeros(n_classes, np.int64),
        "signal_sum": np.zeros((n_classes, n_times)),
        "profile_sum": np.zeros((n_classes, n_times)),
        "profile_sq_sum": np.zeros((n_classes, n_times)),
        "positive_sum": np.zeros((n_classes, n_times)),
        "negative_sum": np.zeros((n_classes, n_times)),
    }
    if e is None:
        return out
    prof = np.asarray(e.profile, dtype=np.float64)
    sig = np.asarray(e.signals, dtype=np.float64)
    for k in np.unique(e.target):
        rows = e.target == k
        out["count"][k] = rows.sum()
        out["signal_sum"][k] = sig[rows].sum(axis=0)
        out["profile_sum"][k] = prof[rows].sum(axis=0)
        out["profile_sq_sum"][k] = (prof[rows] ** 2).sum(axis=0)
        out["positive_sum"][k] = np.clip(prof[rows], 0, None).sum(axis=0)
        out["negative_sum"][k] = np.clip(prof[rows], None, 0).sum(axis=0)
    return out
