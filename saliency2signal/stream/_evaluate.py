"""Streamed evaluations: chunks of a source through :func:`evaluate` into a run store.

:func:`evaluate_stream` is :func:`~saliency2signal.evaluate` for files larger than memory.
It plans the run like :func:`~._runner.explain_stream` (chunk and batch size from a
memory budget, :func:`~._budget.plan_memory`, the smallest plan of its methods), opens or
creates the run folder under the run's key, and runs every chunk not yet done with the
same engine (:class:`~._runner.ChunkJob`, :func:`~._runner.execute`), in this process or
on a Dask cluster. :func:`evaluation_records` evaluates a chunk's valid signals with
every method, its null draws and randomisation seeded by :func:`chunk_seed` ``(seed,
chunk)``, so a resumed run writes what an uninterrupted one does; the store gets

- ``samples``: one row per (signal, method) with every score (:func:`sample_columns`:
  fixed by the run's settings, float64 scores), and one row per failed signal (``method``
  null, ``status='failed'``, the ``reason``);
- ``regions``: one row per (signal, method, region): x-range, band, attribution share,
  deletion effect (:data:`EVAL_REGION_COLUMNS`);
- ``reductions``: per method the sums and counts of the deletion, LeRF and insertion
  curves (and of the randomisation similarities per step), for the mean curves.

When no chunk is pending, the report is computed from the store part by part and written
(``report.json``, ``summary.csv``, ``index.html``: :mod:`._evaluation_report`).

Ground truth (planted components) is not part of a streamed evaluation.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, torch, pyarrow (inside functions), ``evaluation`` (its public names,
``check_method`` and ``RANDOMIZATION_MODES``), ``blackbox``, ``metadata``, ``_version``,
``_validation`` and the siblings ``_budget``, ``_evaluation_report``, ``_runner``,
``_sources`` and ``_store``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

import numpy as np

from .._validation import check_bool, check_choice, check_int, finite_or_none
from .._version import __version__
from ..blackbox import is_black_box
from ..evaluation import BLACK_BOX_METHODS, DEFAULT_METHODS, evaluate
from ..evaluation._methods import check_method
from ..evaluation._sanity import RANDOMIZATION_MODES
from ..metadata import ModelMetadata
from ._budget import parse_memory, plan_memory
from ._evaluation_report import (
    CURVE_NAMES,
    CURVE_SCORES,
    RANDOMIZED,
    count_signals,
    summarize_evaluation,
    write_evaluation_report,
)
from ._runner import ChunkJob, RunSummary, array_hash, run_job, state_hash
from ._sources import open_source
from ._store import RunStore, need

__all__ = [
    "EVAL_REGION_COLUMNS",
    "chunk_seed",
    "evaluate_stream",
    "evaluation_records",
    "sample_columns",
]

#: Columns of an evaluation run's ``regions`` after the id columns.
EVAL_REGION_COLUMNS = (
    ("sample", "int64"),
    ("method", "string"),
    ("region", "int32"),
    ("x_start", "float64"),
    ("x_stop", "float64"),
    ("band_low", "float64"),
    ("band_high", "float64"),
    ("attribution_share", "float64"),
    ("p_before", "float64"),
    ("p_after", "float64"),
    ("drop", "float64"),
)


def sample_columns(randomization: str) -> tuple[tuple[str, str], ...]:
    """Return the ``samples`` columns after the id columns: ``(name, Arrow type)``.

    They depend only on the run's settings: every curve score, and the randomised
    similarities when ``randomization`` is not ``'none'``.
    """
    check_choice(randomization, RANDOMIZATION_MODES, "randomization")
    cols = [
        ("sample", "int64"),
        ("chunk", "int32"),
        ("status", "string"),
        ("reason", "string"),
        ("method", "string"),
        ("target", "int32"),
        ("label", "int32"),
        ("prediction", "int32"),
        ("n_regions", "int32"),
        *((k, "float64") for k in CURVE_SCORES),
    ]
    if randomization != "none":
        cols += [(f"randomized_{k}", "float64") for k in RANDOMIZED]
    return tuple(cols)


def chunk_seed(seed: int, chunk: int) -> int:
    """Return the seed of chunk ``chunk`` of a run seeded with ``seed`` (``SeedSequence``).

    Examples
    --------
    >>> chunk_seed(0, 3) == chunk_seed(0, 3) != chunk_seed(0, 4)
    True
    """
    seed = check_int(seed, "seed", minimum=0)
    chunk = check_int(chunk, "chunk", minimum=0)
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, np.uint32)[0])


def _table(rows: list[dict], id_names, columns):
    pa = need("pyarrow")

    def arrow(t: str):
        return pa.type_for_alias(t)

    fields = [pa.field(n, pa.int64()) for n in id_names]
    fields += [pa.field(n, arrow(t)) for n, t in columns if n not in id_names]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def _slice(value, start: int, stop: int, ok: np.ndarray):
    """Return a per-signal argument's entries for the chunk's valid signals (else as given)."""
    if value is None or isinstance(value, (str, int)):
        return value
    return np.asarray(value)[start:stop][ok]


def evaluation_records(net, metadata, job: ChunkJob, rows, ids, start: int, c: int) -> dict:
    """Evaluate a chunk's valid signals; return its store records (``write_chunk``'s)."""
    ok = np.asarray(rows.ok, dtype=bool)
    layout = RunStore.open(job.folder).layout
    opts = dict(job.options)
    seed = chunk_seed(opts.pop("seed"), c)
    ev = None
    if ok.any():
        stop = start + len(ok)
        ev = evaluate(
            net,
            rows.x[ok],
            metadata=metadata,
            target=_slice(job.target, start, stop, ok),
            labels=_slice(job.labels, start, stop, ok),
            seed=seed,
            **opts,
        )
    columns = sample_columns(opts["randomization"])
    samples, regions = _rows(ev, ok, rows.reasons, ids, layout["id_names"], start, c)
    return {
        "arrays": {},
        "samples": _table(samples, layout["id_names"], columns),
        "regions": _table(regions, layout["id_names"], EVAL_REGION_COLUMNS),
        "reductions": _reductions(ev, opts["methods"], layout),
    }


def _rows(ev, ok, reasons, ids, id_names, start: int, c: int) -> tuple[list, list]:
    """Return ``samples`` rows (each signal's methods together) and ``regions`` rows."""
    where = np.flatnonzero(ok)
    samples, regions = [], []
    for j in range(len(ok)):
        base = {n: int(ids[n][j]) for n in id_names}
        base.update(sample=start + j, chunk=c)
        if not ok[j]:
            samples.append({**base, "status": "failed", "reason": str(reasons[j])})
            continue
        b = int(np.searchsorted(where, j))
        for name, m in ev.methods.items():
            e = m.explanation
            row = {
                **base,
                "status": "evaluated",
                "reason": None,
                "method": name,
                "target": int(ev.target[b]),
                "label": None if ev.given_labels is None else int(ev.given_labels[b]),
                "prediction": int(e.predictions[b]),
                "n_regions": int(m.n_regions[b]),
            }
            row.update({k: finite_or_none(m.scores[k][b]) for k in CURVE_SCORES})
            if m.randomization is not None:
                row.update(
                    {
                        f"randomized_{k}": finite_or_none(m.randomization[k][-1, b])
                        for k in RANDOMIZED
                    }
                )
            samples.append(row)
            for k, r in enumerate(e.regions[b], start=1):
                d = r.to_dict()
                band = d["band"] or (None, None)
                lo, hi = d["x_range"]
                regions.append(
                    {
                        **{n: base[n] for n in id_names},
                        "sample": start + j,
                        "method": name,
                        "region": k,
                        "x_start": finite_or_none(lo),
                        "x_stop": finite_or_none(hi),
                        "band_low": finite_or_none(band[0]),
                        "band_high": finite_or_none(band[1]),
                        "attribution_share": finite_or_none(d["attribution_share"]),
                        "p_before": finite_or_none(r.p_before),
                        "p_after": finite_or_none(r.p_after),
                        "drop": finite_or_none(r.drop),
                    }
                )
    return samples, regions


def _reductions(ev, methods, layout) -> dict[str, np.ndarray]:
    """Per method: sums and counts of each curve point (and randomisation step), seconds."""
    n_m, n_pts = len(methods), layout["max_regions"] + 1
    out = {"seconds": np.zeros(n_m)}
    for k in CURVE_NAMES:
        out[f"{k}_sum"] = np.zeros((n_m, n_pts))
        out[f"{k}_count"] = np.zeros((n_m, n_pts), np.int64)
    if ev is None:
        return out
    for i, name in enumerate(methods):
        m = ev.methods[name]
        out["seconds"][i] = m.seconds
        for k in CURVE_NAMES:
            curve = np.asarray(getattr(m, k), dtype=np.float64)[:, :n_pts]
            good = ~np.isnan(curve)
            out[f"{k}_sum"][i, : curve.shape[1]] = np.where(good, curve, 0.0).sum(0)
            out[f"{k}_count"][i, : curve.shape[1]] = good.sum(0)
        if m.randomization is not None:
            for k in RANDOMIZED:
                v = np.asarray(m.randomization[k], dtype=np.float64)
                good = ~np.isnan(v)
                out.setdefault(f"randomization_{k}_sum", np.zeros((n_m, v.shape[0])))
                out.setdefault(f"randomization_{k}_count", np.zeros((n_m, v.shape[0]), np.int64))
                out[f"randomization_{k}_sum"][i] = np.where(good, v, 0.0).sum(1)
                out[f"randomization_{k}_count"][i] = good.sum(1)
    return out


def _material(model_id, metadata, source, settings, labels, target) -> dict:
    """Return the record the run's key is the hash of (as ``explain_stream``'s)."""
    return {
        "kind": "evaluation",
        "package_version": __version__,
        "model": model_id,
        "pipeline": json.loads(json.dumps(metadata.to_dict(), default=str, sort_keys=True)),
        "settings": json.loads(json.dumps(settings, default=str, sort_keys=True)),
        "target": target if isinstance(target, (str, int)) else array_hash(np.asarray(target)),
        "labels": array_hash(labels),
        "source": source.describe(),
    }


def _check_methods(methods, black_box: bool) -> list[str]:
    if methods is None:
        methods = BLACK_BOX_METHODS if black_box else DEFAULT_METHODS
    if isinstance(methods, str):
        methods = (methods,)
    methods = [check_method(m) for m in methods]
    if not methods:
        raise ValueError(f"methods={methods!r} is empty")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods={methods!r} repeats a method")
    return methods


def _check_randomization(randomization, black_box: bool) -> str:
    if randomization is None:
        return "none" if black_box else "cascade"
    check_choice(randomization, RANDOMIZATION_MODES, "randomization")
    if black_box and randomization != "none":
        raise ValueError(
            f"randomization={randomization!r} randomises the model's parameters; a black "
            "box has none: pass randomization='none'"
        )
    return randomization


def _labels(labels, src, n: int):
    if labels is not None and isinstance(labels, str):
        if labels != "source":
            raise ValueError(f"labels={labels!r}: an array, 'source' or None")
        labels = src.labels()
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels has shape {labels.shape}; expected ({n},)")
    return labels


def evaluate_stream(
    model,
    source,
    out,
    *,
    metadata: ModelMetadata,
    loader: Callable | None = None,
    model_id: str | None = None,
    labels=None,
    methods: Sequence[str] | str | None = None,
    target="predicted",
    n_null: int = 50,
    randomization: str | None = None,
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    n_steps: int = 32,
    seed: int = 0,
    memory="2GB",
    chunk_size: int | None = None,
    batch_size: int | None = None,
    client=None,
    progress: Callable[[int, int], None] | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    inputs=(),
    threads: int | None = None,
    spectral_axis=None,
    key: str | None = None,
) -> RunSummary:
    """Evaluate every signal of a file chunk by chunk into a resumable run folder.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier (as for :func:`~saliency2signal.evaluate`).
    source : str or path-like
        Signals, as for :func:`~saliency2signal.stream.explain_stream`.
    out : str or path-like
        The run folder: the same run there continues from the chunks not yet done;
        another run there is refused.
    metadata : ModelMetadata
        The model's pipeline (transform, imaging, classes, length policy).
    loader, model_id, labels, target, key, spectral_axis, memory, client, progress, device,
    overwrite, inputs, threads
        As for :func:`~saliency2signal.stream.explain_stream`.
    methods, n_null, randomization, keep_mass, max_regions, min_share, n_steps
        As for :func:`~saliency2signal.evaluate`.
    seed : int
        Chunk ``c``'s null draws and randomisation are seeded by ``chunk_seed(seed, c)``
        (the scores that use them depend on the chunking the run started with).
    chunk_size, batch_size : int, optional
        Fix them instead of the memory plan (a resumed run keeps the ones it started
        with).

    Returns
    -------
    RunSummary
        ``n_explained`` counts the evaluated signals.

    Raises
    ------
    ValueError
        Unknown methods or randomisation mode, labels of the wrong shape, no metadata,
        another run in ``out``; ``TypeError`` for arguments of the wrong type.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> from saliency2signal.metadata import ModelMetadata
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> meta = ModelMetadata(transform=SSQConfig(nv=8),
    ...     imaging=ImagingConfig(normalize="none", size=(16, 16)), class_names=("a", "b"),
    ...     n_times=128)
    >>> t = np.arange(128)
    >>> x = np.stack([np.exp(-0.5 * ((t - c) / 3.0) ** 2) for c in (40, 60, 80)])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "x.npy", x)
    >>> s = evaluate_stream(net, folder / "x.npy", folder / "run", metadata=meta,
    ...     methods="saliency", n_null=3, n_steps=4, max_regions=2, randomization="none",
    ...     chunk_size=2)
    >>> s.n_chunks, s.n_explained, (folder / "run" / "report.json").is_file()
    (2, 3, True)
    """
    if metadata is None:
        raise ValueError("metadata is needed: the model's transform, imaging and classes")
    check_bool(overwrite, "overwrite")
    budget = parse_memory(memory) if isinstance(memory, str) else check_int(memory, "memory")
    settings = _settings(
        model,
        methods=methods,
        n_null=n_null,
        randomization=randomization,
        keep_mass=keep_mass,
        max_regions=max_regions,
        min_share=min_share,
        n_steps=n_steps,
        seed=seed,
    )
    with open_source(source, key=key, spectral_axis=spectral_axis) as src:
        n, n_times = src.n_signals, src.n_times
        labels = _labels(labels, src, n)
        model_n = metadata.n_times or n_times
        material = _material(
            model_id or state_hash(model), metadata, src, settings, labels, target
        )
        layout = _layout(src, metadata, settings, budget, chunk_size, batch_size, model_n)
        axis = src.axis
    options = dict(settings, device=device)
    if axis is not None and len(axis) == n_times:
        options["axis"] = np.asarray(axis, dtype=np.float64)
    store, resumed, chunks_run, seconds = run_job(
        out,
        source,
        material=material,
        layout=layout,
        inputs=inputs,
        overwrite=overwrite,
        key=key,
        spectral_axis=spectral_axis,
        metadata=metadata,
        options=options,
        labels=labels,
        target=target,
        threads=threads,
        records=evaluation_records,
        model=model,
        loader=loader,
        client=client,
        progress=progress,
    )
    return _finish(store, resumed, chunks_run, seconds)


def _settings(model, *, methods, randomization, **kw) -> dict:
    """Return the run's checked settings (``methods`` and ``randomization`` resolved)."""
    black_box = is_black_box(model)
    return {
        "methods": _check_methods(methods, black_box),
        "n_null": check_int(kw["n_null"], "n_null", minimum=1),
        "randomization": _check_randomization(randomization, black_box),
        "keep_mass": kw["keep_mass"],
        "max_regions": check_int(kw["max_regions"], "max_regions", minimum=1, maximum=255),
        "min_share": kw["min_share"],
        "n_steps": check_int(kw["n_steps"], "n_steps", minimum=1),
        "seed": check_int(kw["seed"], "seed", minimum=0),
    }


def _finish(store: RunStore, resumed: bool, chunks_run: int, seconds: float) -> RunSummary:
    """Count the run; when no chunk is pending, write its report and ``summary.json``."""
    done = not store.pending_chunks()
    record = summarize_evaluation(store) if done else None
    first = store.material["settings"]["methods"][0]
    counts = record["counts"] if done else count_signals(store, first)
    summary = RunSummary(
        folder=store.folder,
        key=store.key,
        n_signals=store.layout["n_signals"],
        n_explained=counts["n_evaluated"],
        n_failed=counts["n_failed"],
        n_chunks=store.layout["n_chunks"],
        chunks_run=chunks_run,
        resumed=resumed,
        seconds=seconds,
        failures=counts["failures"],
        plan=store.layout["memory_plan"],
    )
    if done:
        write_evaluation_report(store, record)
        store.finish(summary.to_json())
    return summary


def _layout(src, metadata, settings, budget, chunk_size, batch_size, model_n) -> dict:
    """Return the run's layout, chunked by from the smallest memory plan of its methods."""
    n = src.n_signals
    plans = [
        plan_memory(
            n_times=model_n,
            transform_config=metadata.transform,
            imaging_config=metadata.imaging,
            method=m,
            n_steps=settings["n_steps"],
            n_null=settings["n_null"],
            max_regions=settings["max_regions"],
            budget=budget,
        )
        for m in settings["methods"]
    ]
    plan = min(plans, key=lambda p: (p.signals_per_chunk, p.batch_size))
    chunk = min(
        n, check_int(chunk_size, "chunk_size", minimum=1) if chunk_size else plan.signals_per_chunk
    )
    batch = check_int(batch_size, "batch_size", minimum=1) if batch_size else plan.batch_size
    given = chunk_size or batch_size
    return {
        "kind": "evaluation",
        "n_signals": n,
        "n_times": model_n,
        "chunk": chunk,
        "n_chunks": math.ceil(n / chunk),
        "batch_size": batch,
        "max_regions": settings["max_regions"],
        "class_names": list(metadata.class_names or ()),
        "id_names": list(src.id_names),
        "image_shape": None if src.image_shape is None else list(src.image_shape),
        "axis_name": src.axis_name or metadata.axis_name,
        "axis_units": src.axis_units or metadata.axis_units,
        "arrays": {},
        "memory_plan": plan.describe()
        if not given
        else f"{plan.describe()}; given: chunk {chunk}, batch {batch}",
    }
