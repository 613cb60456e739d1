"""``explain`` on files larger than memory: streamed, resumable, on a Dask cluster.

:func:`streamed` decides whether an ``explain`` run goes through the store
(:func:`saliency2signal.stream.explain_stream`): a Zarr, HDF5 or ENVI source, more
signals than one chunk of the memory plan, ``--stream``, ``--chunk-size``,
``--scheduler``/``--workers``, or an output folder that already holds a run (to resume
it). :func:`cmd_explain_stream`
runs it and prints the run's summary; :class:`ModelFileLoader` is what each Dask worker
calls once to load the model file itself.

Internal to :mod:`saliency2signal.cli`. May import: the package, ``._inputs``, ``._model``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from ._inputs import CLIError, parse_reference, parse_target, progress_bar

__all__ = [
    "STREAM_SUFFIXES",
    "ModelFileLoader",
    "add_stream_options",
    "cmd_explain_stream",
    "streamed",
]

#: Sources that are always streamed (formats with chunked access only, or cubes).
STREAM_SUFFIXES = (".zarr", ".h5", ".hdf5", ".he5", ".hdr")
_MODEL_OPTIONS = ("model", "pipeline", "arch", "arch_kwargs", "trust", "black_box", "outputs")


def add_stream_options(p) -> None:
    """``--memory``, ``--stream``, ``--scheduler``, ``--workers`` and the store's options."""
    g = p.add_argument_group("large runs (streamed into a resumable store)")
    g.add_argument(
        "--memory",
        default="2GB",
        help="memory budget of a process, e.g. 2GB or 512MB: the signals per chunk and "
        "the batch size are chosen from it (default 2GB)",
    )
    g.add_argument(
        "--stream",
        action="store_true",
        help="write a run store (Zarr arrays, Parquet tables) chunk by chunk, resumable; "
        "automatic for Zarr/HDF5/ENVI sources and for more signals than one chunk",
    )
    g.add_argument(
        "--scheduler", help="address of a Dask scheduler: run the chunks on that cluster"
    )
    g.add_argument(
        "--workers", type=int, help="run the chunks on a local Dask cluster of N processes"
    )
    g.add_argument("--chunk-size", type=int, help="signals per chunk (default: from --memory)")
    g.add_argument(
        "--save-attribution",
        action="store_true",
        help="also store every attribution map (float16; F x N per signal)",
    )
    g.add_argument(
        "--spectral-axis",
        help="the spectral dimension of a cube (a dimension name or index; default: the "
        "one named like wavelength/band, else the last)",
    )


@dataclass(frozen=True)
class ModelFileLoader:
    """Load the run's model file the way the command did (picklable; cached per worker)."""

    options: tuple
    n_times: int
    rebuild: bool
    device: str

    @property
    def token(self) -> str:
        """What identifies this load in a worker's cache."""
        return hashlib.sha256(
            repr((self.options, self.n_times, self.rebuild)).encode()
        ).hexdigest()

    def __call__(self):
        """Return ``(model, metadata)``."""
        from ._model import load_run_model

        loaded = load_run_model(
            SimpleNamespace(**dict(self.options)),
            self.n_times,
            device=self.device,
            rebuild=self.rebuild,
        )
        return loaded.model, loaded.metadata


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rebuild(args) -> bool:
    from ..saliency import methods as saliency_methods

    # layer methods hook a submodule: rebuild the architecture around the weights
    return args.method.partition("+")[0] in saliency_methods("layer")


def streamed(args):
    """Whether this ``explain`` runs through the store, and what was loaded to tell.

    Returns ``(stream, loaded, batch_size)``: ``loaded`` is the model when it had to be
    loaded to plan the memory (else ``None``); ``batch_size`` the in-memory run's batch
    size within the budget (``None``: the option's or the default).
    """
    from ..stream import open_source, parse_memory, plan_memory
    from ._model import load_run_model

    data = Path(args.data)
    out = Path(args.out) if args.out else data.with_name(data.stem + "_explained")
    try:
        budget = parse_memory(args.memory)
    except ValueError as exc:
        raise CLIError(f"--memory {args.memory}: {exc}") from None
    if args.stream or args.scheduler or args.workers or args.chunk_size:
        return True, None, None
    if data.is_dir() or data.suffix.lower() in STREAM_SUFFIXES:
        return True, None, None
    if (out / "run.json").is_file():
        return True, None, None
    try:
        with open_source(data, key=args.key, spectral_axis=args.spectral_axis) as src:
            n, n_times = src.n_signals, src.n_times
    except (ValueError, OSError, ImportError):
        return False, None, None  # the in-memory reader says what is wrong with it
    if not Path(args.model).is_file():
        raise CLIError(f"{args.model}: no such file")
    loaded = load_run_model(args, n_times, device=args.device, rebuild=_rebuild(args))
    meta = loaded.metadata
    plan = plan_memory(
        n_times=meta.n_times or n_times,
        transform_config=meta.transform,
        imaging_config=meta.imaging,
        method=args.method,
        n_steps=32,
        n_null=args.n_null,
        max_regions=args.max_regions,
        budget=budget,
    )
    if n > plan.signals_per_chunk:
        return True, loaded, None
    return False, loaded, min(16, plan.batch_size)


def cmd_explain_stream(args, loaded=None) -> int:
    """Run ``explain`` through the store; print the run's summary."""
    from ..stream import explain_stream, open_source

    data = Path(args.data)
    model_path = Path(args.model)
    if not model_path.is_file():
        raise CLIError(f"{model_path}: no such file")
    if not data.exists():
        raise CLIError(f"{data}: no such file or folder")
    out = Path(args.out) if args.out else data.with_name(data.stem + "_explained")
    if args.scheduler and args.workers:
        raise CLIError("give --scheduler (a running cluster) or --workers (a local one), not both")
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers {args.workers}: must be >= 1")
    if args.method == "auto":
        raise CLIError(
            "--method auto chooses on a subset: explain a few signals with it, then stream "
            "with the method it chose"
        )
    with open_source(data, key=args.key, spectral_axis=args.spectral_axis) as src:
        n_times, n_signals = src.n_times, src.n_signals
        has_labels = src.labels() is not None
    rebuild = _rebuild(args)
    if loaded is None:
        from ._model import load_run_model

        loaded = load_run_model(args, n_times, device=args.device, rebuild=rebuild)
    options = tuple((k, getattr(args, k, None)) for k in _MODEL_OPTIONS)
    loader = ModelFileLoader(options, n_times, rebuild, args.device)
    labels = None
    if args.labels:
        from ._inputs import read_labels

        labels = read_labels(
            Path(args.labels), SimpleNamespace(ndim=2, shape=(n_signals, n_times))
        )
    elif has_labels and loaded.metadata.task == "classification":
        labels = "source"
    client, cluster = _client(args)
    bar = progress_bar("explaining")
    try:
        summary = explain_stream(
            loaded.model,
            data,
            out,
            metadata=loaded.metadata,
            loader=loader,
            model_id=_file_hash(model_path),
            labels=labels,
            target=parse_target(args.target),
            method=args.method,
            keep_mass=args.keep_mass,
            max_regions=args.max_regions,
            min_share=args.min_share,
            n_null=args.n_null,
            seed=args.seed,
            reference=parse_reference(args.reference),
            peaks=not args.no_peaks,
            attribute_options={"layer": args.layer} if args.layer else None,
            key=args.key,
            spectral_axis=args.spectral_axis,
            memory=args.memory,
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            save_attribution=args.save_attribution,
            client=client,
            progress=bar,
            device=args.device,
            overwrite=args.overwrite,
            inputs=[p for p in (args.labels, args.axis) if p],
            figures="none" if args.figures == "none" else "overview",
        )
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    _print_summary(summary, args)
    return 0


def _client(args):
    """Return a Dask client for ``--scheduler``/``--workers`` (and the local cluster to close)."""
    if not (args.scheduler or args.workers):
        return None, None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CLIError(
            "--scheduler/--workers need dask distributed: pip install 'saliency2signal[large]'"
        ) from None
    if args.scheduler:
        try:
            return Client(args.scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise CLIError(f"--scheduler {args.scheduler}: cannot connect ({exc})") from None
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=0,
        host="127.0.0.1",
    )
    return Client(cluster), cluster


def _print_summary(summary, args) -> None:
    what = "resumed" if summary.resumed else "wrote"
    print(
        f"{what} {summary.folder}: {summary.n_explained} of {summary.n_signals} signal(s) "
        f"explained in {summary.n_chunks} chunk(s) ({summary.chunks_run} run now, "
        f"{summary.seconds:.1f} s); {summary.plan}"
    )
    if summary.n_failed:
        reasons = "; ".join(f"{n} {r}" for r, n in sorted(summary.failures.items()))
        print(f"failed: {summary.n_failed} signal(s) skipped ({reasons}); see samples/*.parquet")
    print(
        f"tables: {os.path.join(summary.folder, 'regions')} (one row per region), "
        f"{os.path.join(summary.folder, 'samples')} (one row per signal); arrays: "
        f"{os.path.join(summary.folder, 'arrays.zarr')}"
    )
    report = Path(summary.folder) / "report.json"
    if not report.is_file():
        return
    record = json.loads(report.read_text(encoding="utf-8"))
    units = (record.get("axis") or {}).get("units") or ""
    note = " (no per-signal figures in a streamed run)" if args.figures == "all" else ""
    print(f"report: {os.path.join(summary.folder, 'index.html')}{note}")
    for c in record["summary"]["classes"]:
        if c["bands"] and None not in c["bands"][0]["x_range"]:
            b = c["bands"][0]
            lo, hi = b["x_range"]
            print(
                f"{c['name']}: top band {lo:.4g}-{hi:.4g} {units} in {b['n_signals']} of "
                f"{c['n_signals']} signal(s), {b['evidence'] or 0:.0%} of the attribution each"
            )
    if record.get("image_shape") or (Path(summary.folder) / "maps").is_dir():
        print(f"maps: {os.path.join(summary.folder, 'maps')} (predicted class, top region)")
