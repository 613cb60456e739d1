"""``explain`` on files larger than memory: streamed, resumable, on a Dask cluster.

:func:`streamed` decides whether an ``explain`` run goes through the store
(:func:`saliency2signal.stream.explain_stream`): a Zarr, HDF5 or ENVI source, more
signals than one chunk of the memory plan, ``--stream``, ``--chunk-size``,
``--scheduler``/``--workers``, or an output folder that already holds a run (to resume
it). :func:`cmd_explain_stream`
runs it and prints the run's summary; ``evaluate`` streams under the same conditions
(``streamed(args, kind='evaluate')``) through
:func:`saliency2signal.stream.evaluate_stream` (:func:`cmd_evaluate_stream`);
:class:`ModelFileLoader` is what each Dask worker calls once to load the model file itself.

Internal to :mod:`saliency2signal.cli`. May import: the package, ``._inputs``, ``._model``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

from ._inputs import CLIError, parse_reference, parse_target, progress_bar

__all__ = [
    "STREAM_SUFFIXES",
    "ModelFileLoader",
    "add_stream_options",
    "cmd_evaluate_stream",
    "cmd_explain_stream",
    "streamed",
]

#: Sources that are always streamed (formats with chunked access only, or cubes).
STREAM_SUFFIXES = (".zarr", ".h5", ".hdf5", ".he5", ".hdr")
_MODEL_OPTIONS = ("model", "pipeline", "arch", "arch_kwargs", "trust", "black_box", "outputs")


def add_stream_options(p, *, attribution: bool = True) -> None:
    """``--memory``, ``--stream``, ``--scheduler``, ``--workers`` and the store's options.

    ``attribution``: offer ``--save-attribution`` (explain; evaluate stores no maps).
    """
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
    if attribution:
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
    return any(m.partition("+")[0] in saliency_methods("layer") for m in _methods(args))


def _methods(args) -> list[str]:
    """Return the run's attribution methods: ``--method`` (explain) or ``--methods`` (evaluate)."""
    if hasattr(args, "method"):
        return [args.method]
    return [m.strip() for m in (args.methods or "").split(",") if m.strip()]


def streamed(args, kind: str = "explain"):
    """Whether this ``explain`` (or ``evaluate``) runs through the store, and what was loaded.

    Returns ``(stream, loaded, batch_size)``: ``loaded`` is the model when it had to be
    loaded to plan the memory (else ``None``); ``batch_size`` the in-memory run's batch
    size within the budget (``None``: the option's or the default).
    """
    from ..stream import open_source, parse_memory, plan_memory
    from ._model import load_run_model

    if kind not in ("explain", "evaluate"):
        raise ValueError(f"kind={kind!r}: expected 'explain' or 'evaluate'")
    data = Path(args.data)
    suffix = "_explained" if kind == "explain" else "_evaluated"
    out = Path(args.out) if args.out else data.with_name(data.stem + suffix)
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
    except (ValueError, TypeError, OSError, ImportError):
        return False, None, None  # the in-memory reader says what is wrong with it
    if not Path(args.model).is_file():
        raise CLIError(f"{args.model}: no such file")
    loaded = load_run_model(args, n_times, device=args.device, rebuild=_rebuild(args))
    meta = loaded.metadata
    plans = [
        plan_memory(
            n_times=meta.n_times or n_times,
            transform_config=meta.transform,
            imaging_config=meta.imaging,
            method=method,
            n_steps=32,
            n_null=args.n_null,
            max_regions=args.max_regions,
            budget=budget,
        )
        for method in _methods(args) or ["integrated_gradients"]
    ]
    plan = min(plans, key=lambda p: (p.signals_per_chunk, p.batch_size))
    if n > plan.signals_per_chunk:
        return True, loaded, None
    return False, loaded, min(16, plan.batch_size)


class _Prepared(NamedTuple):
    """What ``cmd_explain_stream`` and ``cmd_evaluate_stream`` both read first."""

    data: Path
    out: Path
    loaded: object
    loader: ModelFileLoader
    labels: object
    model_id: str


def _prepare(args, loaded, suffix: str) -> _Prepared:
    """Check the paths and options, load the model, read the labels of a streamed run."""
    from ..stream import open_source

    data, model_path = Path(args.data), Path(args.model)
    if not model_path.is_file():
        raise CLIError(f"{model_path}: no such file")
    if not data.exists():
        raise CLIError(f"{data}: no such file or folder")
    out = Path(args.out) if args.out else data.with_name(data.stem + suffix)
    if args.scheduler and args.workers:
        raise CLIError("give --scheduler (a running cluster) or --workers (a local one), not both")
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers {args.workers}: must be >= 1")
    with open_source(data, key=args.key, spectral_axis=args.spectral_axis) as src:
        n_times, n_signals = src.n_times, src.n_signals
        has_labels = src.labels() is not None
    rebuild = _rebuild(args)
    if loaded is None:
        from ._model import load_run_model

        loaded = load_run_model(args, n_times, device=args.device, rebuild=rebuild)
    options = tuple((k, getattr(args, k, None)) for k in _MODEL_OPTIONS)
    labels = None
    if args.labels:
        from ._inputs import read_labels

        labels = read_labels(
            Path(args.labels), SimpleNamespace(ndim=2, shape=(n_signals, n_times))
        )
    elif has_labels and loaded.metadata.task == "classification":
        labels = "source"
    loader = ModelFileLoader(options, n_times, rebuild, args.device)
    return _Prepared(data, out, loaded, loader, labels, _file_hash(model_path))


def cmd_explain_stream(args, loaded=None) -> int:
    """Run ``explain`` through the store; print the run's summary."""
    from ..stream import explain_stream

    if args.method == "auto":
        raise CLIError(
            "--method auto chooses on a subset: explain a few signals with it, then stream "
            "with the method it chose"
        )
    run = _prepare(args, loaded, "_explained")
    bar = progress_bar("explaining")
    with _cluster(args) as client:
        summary = explain_stream(
            run.loaded.model,
            run.data,
            run.out,
            **_common(run, args, client),
            method=args.method,
            n_null=args.n_null,
            reference=parse_reference(args.reference),
            peaks=not args.no_peaks,
            attribute_options={"layer": args.layer} if args.layer else None,
            save_attribution=args.save_attribution,
            progress=bar,
            figures="none" if args.figures == "none" else "overview",
        )
    _print_summary(summary, args)
    return 0


def cmd_evaluate_stream(args, loaded=None) -> int:
    """Run ``evaluate`` through the store; print the per-method summary."""
    from ..blackbox import is_black_box
    from ..evaluation import BLACK_BOX_METHODS, DEFAULT_METHODS
    from ..saliency import methods as saliency_methods
    from ..stream import evaluate_stream

    run = _prepare(args, loaded, "_evaluated")
    black_box = is_black_box(run.loaded.model)
    methods = _methods(args) or list(BLACK_BOX_METHODS if black_box else DEFAULT_METHODS)
    if args.layer and any(m.partition("+")[0] in saliency_methods("layer") for m in methods):
        raise CLIError("--layer is not available in a streamed evaluate")
    with _cluster(args) as client:
        summary = evaluate_stream(
            run.loaded.model,
            run.data,
            run.out,
            **_common(run, args, client),
            methods=methods,
            n_null=args.n_null,
            randomization=args.randomization,
            progress=progress_bar("evaluating"),
        )
    _print_evaluation(summary)
    return 0


def _print_evaluation(summary) -> None:
    what = "resumed" if summary.resumed else "wrote"
    print(
        f"{what} {summary.folder}: {summary.n_explained} of {summary.n_signals} signal(s) "
        f"evaluated in {summary.n_chunks} chunk(s) ({summary.chunks_run} run now, "
        f"{summary.seconds:.1f} s); {summary.plan}"
    )
    if summary.n_failed:
        reasons = "; ".join(f"{n} {r}" for r, n in sorted(summary.failures.items()))
        print(f"failed: {summary.n_failed} signal(s) skipped ({reasons}); see samples/*.parquet")
    report = Path(summary.folder) / "report.json"
    if not report.is_file():
        return
    rows = json.loads(report.read_text(encoding="utf-8"))["summary"]
    cols = ["method", "deletion_auc", "null_deletion_auc", "top_drop_percentile"]
    cols += ["share_top_drop_beats_95", "insertion_auc"]
    cols += ["randomized_spearman"] if rows and "randomized_spearman" in rows[0] else []
    print("  ".join(cols))
    for r in rows:
        print(
            "  ".join(
                r[c] if c == "method" else ("-" if r.get(c) is None else f"{r[c]:.3f}")
                for c in cols
            )
        )
    print(
        f"report: {os.path.join(summary.folder, 'index.html')}; tables: "
        f"{os.path.join(summary.folder, 'samples')} (one row per signal and method)"
    )


@contextlib.contextmanager
def _cluster(args):
    """Yield the Dask client of ``--scheduler``/``--workers`` (``None``: this process).

    The client, and the local cluster it started, are closed on the way out.
    """
    client, cluster = _client(args)
    try:
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _common(run: _Prepared, args, client) -> dict:
    """Return the arguments ``explain_stream`` and ``evaluate_stream`` share."""
    return dict(
        metadata=run.loaded.metadata,
        loader=run.loader,
        model_id=run.model_id,
        labels=run.labels,
        target=parse_target(args.target),
        keep_mass=args.keep_mass,
        max_regions=args.max_regions,
        min_share=args.min_share,
        seed=args.seed,
        key=args.key,
        spectral_axis=args.spectral_axis,
        memory=args.memory,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        client=client,
        device=args.device,
        overwrite=args.overwrite,
        inputs=[p for p in (args.labels, args.axis) if p],
    )


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
    import dask

    # dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers: any explicit trim
    # threshold turns off glibc's dynamic mmap threshold, so every grid-sized temporary
    # is mmapped and zeroed afresh (35 % slower here, benchmarks/bench_scale.py); the
    # runner gives memory back itself after each chunk (malloc_trim)
    untrimmed = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    if args.device == "cuda":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            raise CLIError(
                "--workers with --device cuda starts one worker per GPU with dask-cuda: "
                "pip install dask-cuda (or start `dask cuda worker` and pass --scheduler)"
            ) from None
        # one worker process per visible GPU (each sees its own device as cuda:0)
        with dask.config.set(untrimmed):
            cluster = LocalCUDACluster(
                n_workers=args.workers, threads_per_worker=1, dashboard_address=None
            )
        return Client(cluster), cluster
    with dask.config.set(untrimmed):
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
