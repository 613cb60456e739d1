"""Streamed explanation runs: chunks of a source through :func:`explain` into a run store.

:func:`explain_stream` plans the run (chunk size and batch size from the memory budget),
opens or creates the run folder under the run's key, and runs every chunk not yet done,
in this process or as tasks of a Dask distributed cluster. Each chunk is read from the
source on its own (bounded memory), its valid signals explained by
:func:`~saliency2signal.explanation.explain` (``first_index``: the chunk's place in the
run, so the verdicts' null draws do not depend on the chunking), and its results written
by the process that made them (:meth:`~._store.RunStore.write_chunk`). A Dask worker
loads the model once (the model object is sent to each worker once, or a picklable loader
is called once per worker process) and opens the source and the store itself.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, torch, dask.distributed (inside functions), ``explanation``,
``metadata``, ``_version``, ``_validation`` and the siblings ``_budget``, ``_maps``,
``_overview``, ``_sources``, ``_store`` and ``_tables``.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validation import check_bool, check_int
from .._version import __version__
from ..explanation import explain
from ..metadata import ModelMetadata
from ._budget import parse_memory, plan_memory
from ._maps import write_maps
from ._overview import STORE_FIGURES, write_store_report
from ._sources import open_source
from ._store import RunStore, array_specs
from ._tables import chunk_records

__all__ = [
    "DEFAULT_MEMORY",
    "ChunkJob",
    "array_hash",
    "state_hash",
    "RunSummary",
    "execute",
    "explain_stream",
    "explanation_records",
    "run_chunk",
    "run_job",
]

#: Default memory budget of a streamed run (``--memory``).
DEFAULT_MEMORY = "2GB"
_CACHE: dict[str, object] = {}


@dataclass(frozen=True)
class RunSummary:
    """What a streamed run did.

    Attributes
    ----------
    folder : pathlib.Path
    key : str
        The run's key (SHA-256 of what its results depend on).
    n_signals, n_explained, n_failed : int
        Signals in the source; explained and failed ones in the store (all chunks).
    n_chunks, chunks_run : int
        Chunks of the run, and chunks run by this call (the others were done before).
    resumed : bool
        The folder held this run already.
    seconds : float
        Wall time of this call's chunks.
    failures : dict of str to int
        Failed signals by reason.
    plan : str
        The memory plan in words.
    """

    folder: Path
    key: str
    n_signals: int
    n_explained: int
    n_failed: int
    n_chunks: int
    chunks_run: int
    resumed: bool
    seconds: float
    failures: dict
    plan: str

    def to_json(self) -> dict:
        """JSON-compatible record (``summary.json``)."""
        d = dataclasses.asdict(self)
        d["folder"] = str(self.folder)
        return d


@dataclass(frozen=True)
class ChunkJob:
    """Everything a chunk needs besides the model (picklable; sent with each task).

    ``records(model, metadata, job, rows, start, c)`` runs the chunk's valid signals
    (``rows``, a :class:`~._sources.Rows`) and returns the keyword arguments of
    :meth:`~._store.RunStore.write_chunk` (a module-level function: it travels to the
    workers by name); ``options`` are its settings.
    """

    folder: str
    source: str
    key: str | None
    spectral_axis: object
    metadata: ModelMetadata | None
    options: dict
    labels: np.ndarray | None
    target: object
    threads: int | None
    records: Callable


def state_hash(model) -> str:
    """SHA-256 of a module's class and parameters/buffers (a model given as an object)."""
    h = hashlib.sha256(type(model).__qualname__.encode())
    state = model.state_dict() if hasattr(model, "state_dict") else {}
    for name, t in sorted(state.items()):
        h.update(name.encode())
        if isinstance(t, torch.Tensor):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def array_hash(a) -> str | None:
    """SHA-256 of an array's dtype, shape and bytes (``None`` for ``None``)."""
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def _material(model_id, metadata, source, kwargs, labels, target, reference, attribution):
    """Return the record a run's key is the hash of."""
    settings = {k: v for k, v in kwargs.items() if k not in ("batch_size", "device", "reference")}
    return {
        "package_version": __version__,
        "model": model_id,
        "pipeline": None
        if metadata is None
        else json.loads(json.dumps(metadata.to_dict(), default=str, sort_keys=True)),
        "settings": json.loads(json.dumps(settings, default=str, sort_keys=True)),
        "target": target if isinstance(target, (str, int)) else array_hash(np.asarray(target)),
        "reference": reference if isinstance(reference, str) else array_hash(reference),
        "labels": array_hash(labels),
        "source": source.describe(),
        "attribution": bool(attribution),
    }


def _malloc_trim() -> None:
    """Give freed heap memory back to the system (glibc), so RSS follows the chunk."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _resolve_model(model):
    """``(model, metadata)`` from a model tuple, or a loader called once per process."""
    if isinstance(model, tuple):
        return model
    token = getattr(model, "token", None) or repr(model)
    if token not in _CACHE:
        _CACHE[token] = model()
    return _CACHE[token]


def run_chunk(job: ChunkJob, c: int, model) -> dict:
    """Run chunk ``c`` of a job and write it into the store; return its counts.

    The same function runs in this process and as a Dask task (``model`` is then the
    worker's copy of the model pair, or a loader).
    """
    t0 = time.perf_counter()
    if job.threads:
        torch.set_num_threads(job.threads)
    net, metadata = _resolve_model(model)
    store = RunStore.open(job.folder)
    start, stop = store.chunk_bounds(c)
    with open_source(job.source, key=job.key, spectral_axis=job.spectral_axis) as src:
        rows = src.read(start, stop)
        ids = src.ids(start, stop)
    ok = np.asarray(rows.ok, dtype=bool)
    records = job.records(
        net, metadata if metadata is not None else job.metadata, job, rows, ids, start, c
    )
    store.write_chunk(c, **records)
    del records, rows
    _malloc_trim()
    return {
        "chunk": c,
        "n": stop - start,
        "ok": int(ok.sum()),
        "failed": int((~ok).sum()),
        "seconds": time.perf_counter() - t0,
    }


def _chunk_slice(value, start: int, stop: int, ok: np.ndarray):
    """Return a per-signal argument's entries for the chunk's valid signals (else as given)."""
    if value is None or isinstance(value, (str, int)):
        return value
    return np.asarray(value)[start:stop][ok]


def explanation_records(net, metadata, job: ChunkJob, rows, ids, start: int, c: int) -> dict:
    """Explain a chunk's valid signals; return its store records (:func:`chunk_records`)."""
    ok = np.asarray(rows.ok, dtype=bool)
    e = None
    if ok.any():
        stop = start + len(ok)
        e = explain(
            net,
            rows.x[ok],
            metadata=metadata,
            target=_chunk_slice(job.target, start, stop, ok),
            labels=_chunk_slice(job.labels, start, stop, ok),
            first_index=start,
            **job.options,
        )
    store_layout = RunStore.open(job.folder).layout
    return chunk_records(
        e, start=start, chunk=c, ok=ok, reasons=rows.reasons, ids=ids, layout=store_layout
    )


def execute(job: ChunkJob, store: RunStore, model, *, loader=None, client=None, progress=None):
    """Run every chunk of ``store`` not yet done; return ``(chunks run, seconds)``.

    In this process, or as tasks of ``client``'s cluster (``loader`` called once per
    worker, else the model pair sent to each worker once); ``progress(done, total)`` in
    signals after each chunk. ``seconds`` is the time of the chunks: on a cluster the
    workers have loaded the model before (as this process has, for a run here).
    """
    pending = store.pending_chunks()
    total = store.layout["n_signals"]
    done = total - sum(b - a for a, b in map(store.chunk_bounds, pending))
    if client is None:
        t0 = time.perf_counter()
        for c in pending:
            done += run_chunk(job, c, model)["n"]
            if progress is not None:
                progress(done, total)
        return len(pending), time.perf_counter() - t0
    if pending:
        model = _load_on_workers(client, loader or model)
    t0 = time.perf_counter()
    _run_on(client, job, pending, model, done, total, progress)
    return len(pending), time.perf_counter() - t0


def run_job(
    out,
    source,
    *,
    material: dict,
    layout: dict,
    records: Callable,
    options: dict,
    model,
    metadata,
    inputs=(),
    overwrite: bool = False,
    key=None,
    spectral_axis=None,
    labels=None,
    target=None,
    threads=None,
    loader=None,
    client=None,
    progress=None,
):
    """Open or create the run folder, then run its chunks not yet done.

    Returns ``(store, resumed, chunks_run, seconds)``. ``options`` are the ``records``
    function's settings; their ``batch_size`` is the run's (a resumed run keeps its own).
    """
    store, resumed = RunStore.open_or_create(
        out, material=material, layout=layout, inputs=(source, *inputs), overwrite=overwrite
    )
    job = ChunkJob(
        folder=str(Path(out).absolute()),
        source=str(Path(source).absolute()),
        key=key,
        spectral_axis=spectral_axis,
        metadata=metadata,
        options=dict(options, batch_size=store.layout["batch_size"]),
        labels=labels,
        target=target,
        threads=threads,
        records=records,
    )
    chunks_run, seconds = execute(
        job, store, (model, metadata), loader=loader, client=client, progress=progress
    )
    return store, resumed, chunks_run, seconds


def explain_stream(
    model,
    source,
    out,
    *,
    metadata: ModelMetadata | None = None,
    loader: Callable | None = None,
    model_id: str | None = None,
    labels=None,
    target="predicted",
    method: str = "integrated_gradients",
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    n_steps: int = 32,
    n_null: int = 20,
    seed: int = 0,
    reference="auto",
    peaks: bool = True,
    attribute_options: Mapping | None = None,
    key: str | None = None,
    spectral_axis=None,
    memory="2GB",
    chunk_size: int | None = None,
    batch_size: int | None = None,
    save_attribution: bool = False,
    client=None,
    progress: Callable[[int, int], None] | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    inputs=(),
    threads: int | None = None,
    figures: str = "overview",
) -> RunSummary:
    """Explain every signal of a file chunk by chunk into a resumable run folder.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier (as for :func:`~saliency2signal.explain`).
    source : str or path-like
        Signals: ``.npy`` (memory-mapped), ``.npz``, Zarr, HDF5, or a hyperspectral
        cube (ENVI ``.hdr``; HDF5/Zarr with a spectral axis): see
        :func:`~saliency2signal.stream.open_source`.
    out : str or path-like
        The run folder (see :mod:`saliency2signal.stream` for its layout). If it holds
        this run (same key), the run continues from the chunks not yet done; another
        run there is refused.
    metadata : ModelMetadata
        The model's pipeline (transform, imaging, classes, length policy).
    loader : callable, optional
        A picklable ``loader() -> (model, metadata)`` with a ``token`` attribute,
        called once per Dask worker process instead of sending ``model`` to each worker
        (e.g. a model file read on the worker).
    model_id : str, optional
        What identifies the model in the run's key (e.g. the SHA-256 of its file;
        default: a hash of the module's class and parameters).
    labels : array_like of int, ``'source'`` or None
        True classes, one per signal (``'source'``: the source's ``y``/``labels``).
    target, method, keep_mass, max_regions, min_share, n_steps, n_null, seed
        As for :func:`~saliency2signal.explain`.
    reference, peaks, attribute_options
        As for :func:`~saliency2signal.explain`; ``reference='mean'`` is the mean of
        all valid signals of the source (a first pass over it); ``method='auto'`` is
        not available in streamed runs (choose on a subset with ``explain``).
    key, spectral_axis
        Which array of the source, and its spectral axis.
    memory : str or int
        Memory budget of a process (``'2GB'``; bytes): the signals per chunk and the
        batch size are chosen from it (:func:`~saliency2signal.stream.plan_memory`).
    chunk_size, batch_size : int, optional
        Fix them instead (a resumed run keeps the ones it started with).
    save_attribution : bool
        Also store every attribution map (float16).
    client : dask.distributed.Client, optional
        Run the chunks as tasks of this cluster; its workers must see ``source`` and
        ``out`` at the same paths.
    progress : callable, optional
        ``progress(done, total)`` in signals.
    device : str
    overwrite : bool
        Replace an existing folder (another run's) instead of refusing.
    inputs : sequence of path-like
        Files the run reads (never written over); ``source`` is always one.
    threads : int, optional
        torch threads of each chunk's process (default: leave as is).
    figures : {'overview', 'none'}
        When the last chunk is done: the run's report (``report.json``, ``summary.csv``,
        ``index.html``, computed from the store by :func:`~._overview.summarize_store`)
        with one overview figure per class, or without figures; for a cube, its pixel
        maps first (:func:`~._maps.write_maps`).

    Returns
    -------
    RunSummary
    """
    if method == "auto":
        raise ValueError(
            "method='auto' chooses on a subset of the signals: run explain(method='auto') "
            "on a few of them and stream with the method it chose"
        )
    check_bool(save_attribution, "save_attribution")
    if figures not in STORE_FIGURES:
        raise ValueError(f"figures={figures!r}: expected one of {STORE_FIGURES}")
    budget = parse_memory(memory) if isinstance(memory, str) else check_int(memory, "memory")
    src = open_source(source, key=key, spectral_axis=spectral_axis)
    with src:
        n, n_times = src.n_signals, src.n_times
        if labels is not None and isinstance(labels, str):
            if labels != "source":
                raise ValueError(f"labels={labels!r}: an array, 'source' or None")
            labels = src.labels()
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (n,):
                raise ValueError(f"labels has shape {labels.shape}; expected ({n},)")
        axis = src.axis
        id_names, image_shape = src.id_names, src.image_shape
        if isinstance(reference, str) and reference == "mean":
            reference = _stream_mean(src, chunk_size or 1024)
        if metadata is None:
            raise ValueError("metadata is needed: the model's transform, imaging and classes")
        tcfg, icfg = metadata.transform, metadata.imaging
        model_n = metadata.n_times or n_times
        kwargs = dict(
            method=method,
            keep_mass=keep_mass,
            max_regions=check_int(max_regions, "max_regions", minimum=1, maximum=255),
            min_share=min_share,
            n_steps=n_steps,
            n_null=n_null,
            seed=seed,
            reference=reference,
            peaks=peaks,
            attribute_options=None if attribute_options is None else dict(attribute_options),
            device=device,
        )
        if axis is not None and len(axis) == n_times:
            kwargs["axis"] = np.asarray(axis, dtype=np.float64)
        material = _material(
            model_id or state_hash(model),
            metadata,
            src,
            {k: v for k, v in kwargs.items() if k != "axis"},
            labels,
            target,
            reference,
            save_attribution,
        )
        plan = plan_memory(
            n_times=model_n,
            transform_config=tcfg,
            imaging_config=icfg,
            method=method,
            n_steps=n_steps,
            n_null=n_null,
            max_regions=max_regions,
            budget=budget,
        )
        chunk = min(
            n,
            check_int(chunk_size, "chunk_size", minimum=1)
            if chunk_size
            else plan.signals_per_chunk,
        )
        layout = {
            "n_signals": n,
            "n_times": model_n,
            "n_freqs": tcfg.n_freqs(model_n),
            "chunk": chunk,
            "n_chunks": math.ceil(n / chunk),
            "batch_size": check_int(batch_size, "batch_size", minimum=1)
            if batch_size
            else plan.batch_size,
            "max_regions": max_regions,
            "class_names": list(metadata.class_names or ()) or _class_names(model, metadata, src),
            "id_names": list(id_names),
            "image_shape": None if image_shape is None else list(image_shape),
            "attribution": bool(save_attribution),
            "contrasts": _has_reference(reference, metadata),
            "axis_name": src.axis_name or metadata.axis_name,
            "axis_units": src.axis_units or metadata.axis_units,
            "axis": None if axis is None else [float(v) for v in axis],
            "memory_plan": plan.describe()
            if not (chunk_size or batch_size)
            else f"{plan.describe()}; given: chunk {chunk}, batch {batch_size or plan.batch_size}",
        }
        layout["arrays"] = array_specs(layout)
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
        options=kwargs,
        labels=labels,
        target=target,
        threads=threads,
        records=explanation_records,
        model=model,
        loader=loader,
        client=client,
        progress=progress,
    )
    summary = _summarize(store, resumed, chunks_run, seconds)
    if not store.pending_chunks():
        if store.layout.get("image_shape"):
            write_maps(store)
        write_store_report(store, figures=figures)
    return summary


@dataclass(frozen=True, eq=False)
class _Shared:
    """The model and metadata, as one object the cluster keeps on each worker."""

    pair: tuple


def _load_on_workers(client, model):
    """Have every worker hold the model before the chunks start; return what tasks get.

    The model pair is sent to each worker once (the cluster keeps it for all tasks); a
    loader is called once in each worker process (cached there) by one task per worker.
    """
    if isinstance(model, tuple):
        [shared] = client.scatter([_Shared(model)], broadcast=True, hash=False)
        return shared
    workers = list(client.scheduler_info()["workers"])
    futures = [
        client.submit(_warm, model, workers=[w], pure=False, allow_other_workers=False)
        for w in workers
    ]
    client.gather(futures)
    return model


def _warm(loader) -> None:
    """Load the model in this worker process (kept in its cache for the chunks)."""
    _resolve_model(loader)


def _run_on(client, job, pending, model, done, total, progress) -> None:
    """Run the pending chunks as tasks of a Dask cluster, reporting progress here."""
    from dask.distributed import as_completed

    futures = client.map(
        _task, pending, job=job, model=model, pure=False, key=[f"chunk-{c}" for c in pending]
    )
    for fut in as_completed(futures):
        done += fut.result()["n"]
        if progress is not None:
            progress(done, total)


def _task(c: int, *, job: ChunkJob, model) -> dict:
    """Run a chunk as a Dask task (the worker's shared model, or a loader)."""
    return run_chunk(job, c, model.pair if isinstance(model, _Shared) else model)


def _stream_mean(src, chunk: int) -> np.ndarray:
    """Return the mean of the source's valid signals, read chunk by chunk."""
    total, count = np.zeros(src.n_times), 0
    for s in range(0, src.n_signals, chunk):
        rows = src.read(s, min(src.n_signals, s + chunk))
        total += rows.x[rows.ok].sum(axis=0)
        count += int(np.sum(rows.ok))
    if not count:
        raise ValueError("reference='mean': no valid signal in the source")
    return total / count


def _has_reference(reference, metadata) -> bool:
    from ..metadata import class_means

    if not isinstance(reference, str):
        return True
    if reference == "auto":
        return class_means(metadata) is not None
    return reference != "zero"


def _class_names(model, metadata, src) -> list[str]:
    """``'class 0'``, ``'class 1'``, ...: as many as the model's outputs on a first signal."""
    from ..forward import probabilities
    from ..metadata import fit_length

    for s in range(src.n_signals):
        rows = src.read(s, s + 1)
        if rows.ok[0]:
            x = fit_length(rows.x[:1], metadata)
            p = probabilities(
                model, x, transform_config=metadata.transform, imaging_config=metadata.imaging
            )
            return [f"class {k}" for k in range(int(p.shape[-1]))]
    raise ValueError("no valid signal in the source")


def _summarize(store: RunStore, resumed: bool, chunks_run: int, seconds: float) -> RunSummary:
    samples = store.table("samples")
    if samples is None:
        n_ok = n_failed = 0
        failures = {}
    else:
        status = np.asarray(samples.column("status").to_pylist())
        reasons = samples.column("reason").to_pylist()
        n_ok = int((status == "explained").sum())
        n_failed = int((status == "failed").sum())
        failures = {}
        for s, r in zip(status, reasons, strict=True):
            if s == "failed":
                failures[r] = failures.get(r, 0) + 1
    summary = RunSummary(
        folder=store.folder,
        key=store.key,
        n_signals=store.layout["n_signals"],
        n_explained=n_ok,
        n_failed=n_failed,
        n_chunks=store.layout["n_chunks"],
        chunks_run=chunks_run,
        resumed=resumed,
        seconds=seconds,
        failures=failures,
        plan=store.layout["memory_plan"],
    )
    if not store.pending_chunks():
        store.finish(summary.to_json())
    return summary
