"""Command-line interface: parses arguments, calls the public API, writes files.

No numerics live here. Errors print one line to stderr and exit with status 2 (bad input)
or 1 (the system failed: a full disk, no permission; or an internal error). The output path
is checked before any computation; outputs are written atomically (to a temporary sibling
moved into place) and never replace, hold or lie inside anything the command reads.

May import: any public module of the package, ``limits``, ``_files`` and ``_version``;
nothing imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import limits
from ._files import atomic_write, check_output
from ._version import __version__

__all__ = ["main"]


class CLIError(ValueError):
    """A user-facing error: printed as one line, exit status 2."""


@contextlib.contextmanager
def open_atomic_errors():
    """Turn the writer's ``ValueError`` into a ``CLIError`` (same one-line message)."""
    try:
        yield
    except CLIError:
        raise
    except ValueError as exc:
        raise CLIError(str(exc)) from None


_KINDS = {
    "b": "boolean",
    "c": "complex",
    "O": "object",
    "U": "text",
    "S": "bytes",
    "V": "structured",
    "M": "datetime",
    "m": "timedelta",
}


def _load_signals(path: Path, key: str | None = None) -> np.ndarray:
    """Real-valued signals from a file (integers become float64; nothing else converts)."""
    return _real(_load_array(path, key), path)


def _real(x: np.ndarray, source) -> np.ndarray:
    if x.dtype.kind not in "iuf":
        raise CLIError(
            f"{source}: holds {_KINDS.get(x.dtype.kind, str(x.dtype))} values "
            f"(dtype {x.dtype}); signals and axes must be real numbers"
        )
    return x.astype(np.float64) if x.dtype.kind in "iu" else x


def _as_labels(y, source) -> np.ndarray:
    """Class indices: integers, or floats that are whole numbers (never truncated)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise CLIError(f"{source}: labels must be a 1-D array, got shape {y.shape}")
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    if y.dtype.kind != "f":
        raise CLIError(
            f"{source}: labels must be integers, got "
            f"{_KINDS.get(y.dtype.kind, str(y.dtype))} values (dtype {y.dtype})"
        )
    bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
    if bad.size:
        raise CLIError(
            f"{source}: labels must be integers, but label {int(bad[0])} is {float(y[bad[0]])!r}"
        )
    return y.astype(np.int64)


def _check_declared(path: Path, f, size: int, what: str) -> None:
    """Refuse an ``.npy`` stream whose header declares more bytes than ``size`` holds.

    NumPy allocates the declared array before it reads the data; a crafted header of a
    few bytes could ask for gigabytes.
    """
    fmt = np.lib.format
    read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(
        fmt.read_magic(f)
    )
    if read is None:  # version 3.0 (UTF-8 field names): rare, left to np.load
        return
    shape, _, dtype = read(f)
    declared = math.prod(shape) * dtype.itemsize
    if not dtype.hasobject and declared > size:
        raise CLIError(
            f"{path}: the array declares {declared} bytes but {what} holds "
            f"{size} (a truncated or crafted file)"
        )


def _check_npz_member(path: Path, archive: zipfile.ZipFile, key: str) -> None:
    """Refuse an array that would inflate, or whose header declares more than it holds."""
    info = archive.getinfo(f"{key}.npy")
    try:
        limits.check_inflation(info.file_size, info.compress_size, what=f"{path}: array {key!r}")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    with archive.open(info) as f:
        _check_declared(path, f, info.file_size, f"array {key!r}")


def _load_array(path: Path, key: str | None = None) -> np.ndarray:
    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            with path.open("rb") as f:
                _check_declared(path, f, path.stat().st_size, "the file")
                f.seek(0)
                x = np.load(f, allow_pickle=False)
        elif suffix == ".npz":
            # our own handle: np.load leaks the one it opens when the archive is damaged
            with path.open("rb") as f, np.load(f, allow_pickle=False) as z:
                keys = list(z.keys())
                if not keys:
                    raise CLIError(f"{path}: the .npz archive holds no arrays")
                if key is None:
                    key = "x" if "x" in keys else keys[0]
                elif key not in keys:
                    raise CLIError(f"{path}: no array {key!r} (has {', '.join(keys)})")
                _check_npz_member(path, z.zip, key)
                x = z[key]
        elif suffix in (".csv", ".txt"):
            x = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=1)
        else:
            raise CLIError(f"{path}: unsupported format {suffix!r} (use .npy, .npz or .csv)")
    except CLIError:
        raise
    except (
        ValueError,
        EOFError,
        KeyError,
        NotImplementedError,
        SyntaxError,
        tokenize.TokenError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        # numpy's refusal to unpickle object arrays, empty, truncated and corrupt files
        # (a damaged header, deflate stream or zip directory)
        raise CLIError(f"{path}: cannot read signals ({exc or type(exc).__name__})") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc})") from None
    return x


def _inputs(args) -> list[Path]:
    """Every file the command reads (model, data, labels, axis, config)."""
    names = ("model", "data", "labels", "axis", "config")
    return [Path(v) for v in (getattr(args, n, None) for n in names) if v]


def _check_out(out: Path, args, *, folder: bool, overwrite: bool, parents: bool = False) -> None:
    """Refuse, before any computation, an output that cannot or must not be written."""
    exists = (
        f"{out}: output folder exists (pass --overwrite to replace it)"
        if folder
        else f"{out}: already exists; choose another --out"
    )
    with open_atomic_errors():
        check_output(
            out,
            inputs=_inputs(args),
            overwrite=overwrite,
            folder=folder,
            parents=parents,
            exists_message=exists,
        )


def _atomic_savez(path: Path, inputs: list[Path], **arrays) -> None:
    with open_atomic_errors():
        atomic_write(path, lambda tmp: _savez_to(tmp, arrays), inputs=inputs, parents=True)


def _savez_to(tmp: str, arrays: dict) -> None:
    with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
        np.savez_compressed(fh, **arrays)


def _config_from_args(args):
    from .transform import SSQConfig

    return SSQConfig(
        wavelet=args.wavelet,
        nv=args.nv,
        scaletype=args.scaletype,
        fs=args.fs,
        padtype=None if args.padtype == "none" else args.padtype,
        mu=args.mu,
        gamma=args.gamma,
        beta=args.beta,
        dtype="float64" if args.float64 else "float32",
    )


def _cmd_transform(args) -> int:
    from .transform import ssq_cwt

    data = Path(args.data)
    out = Path(args.out) if args.out else data.with_name(data.stem + "_ssq.npz")
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    _check_out(out, args, folder=False, overwrite=True, parents=True)
    x = _load_signals(data, args.key)
    cfg = _config_from_args(args)
    res = ssq_cwt(x, cfg)
    _atomic_savez(
        out,
        _inputs(args),
        Tx=res.Tx.numpy(),
        Wx=res.Wx.numpy(),
        freqs=res.freqs,
        scales=res.scales,
        lowpass=res.lowpass.numpy(),
        config=np.array(cfg.to_json()),
    )
    print(
        f"wrote {out}: Tx {tuple(res.Tx.shape)} ({res.Tx.dtype}), rows ascending in "
        f"frequency {res.freqs[0]:.4g}..{res.freqs[-1]:.4g}"
    )
    return 0


def _atomic_save_npy(path: Path, inputs: list[Path], array: np.ndarray) -> None:
    with open_atomic_errors():
        atomic_write(path, lambda tmp: _npy_to(tmp, array), inputs=inputs, parents=True)


def _npy_to(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as fh:  # a file object: np.save would append ".npy" to a name
        np.save(fh, array, allow_pickle=False)


def _read_config(path: Path):
    from .transform import SSQConfig

    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    try:
        text = path.read_text()
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path}: not JSON ({exc})") from None
    if isinstance(d, dict) and "config" in d and "n_freqs" in d:  # a geometry sidecar
        d = d["config"]
        if d is None:
            raise CLIError(f"{path}: the geometry records no transform configuration")
    if not isinstance(d, dict):
        raise CLIError(f"{path}: expected an SSQConfig JSON object")
    return SSQConfig.from_dict(d)


def _cmd_reconstruct(args) -> int:
    from . import phase

    data = Path(args.data)
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    out = Path(args.out)
    _check_out(out, args, folder=False, overwrite=True, parents=True)
    config = _read_config(Path(args.config)) if args.config else None
    opts = dict(method=args.method, n_iter=args.iters, rng=args.seed)
    if data.suffix.lower() == ".png":
        res = phase.reconstruct_from_png(
            data, config=config, n=args.n, dynamic_range=args.dynamic_range, **opts
        )
    else:
        if config is None:
            raise CLIError(f"{data}: magnitudes need --config CONFIG.json (an SSQConfig)")
        mags = _load_signals(data)
        if args.n is not None and mags.shape[-1] != args.n:
            raise CLIError(f"{data}: has {mags.shape[-1]} time columns but --n {args.n}")
        res = phase.retrieve_phase(mags, config, **opts)
    _atomic_save_npy(out, _inputs(args), res.x.numpy())
    sc = np.atleast_1d(res.sc_db)
    print(
        f"wrote {out}: x {tuple(res.x.shape)}, {res.method} {res.n_iter} iterations, "
        f"SC {sc.max():.1f} dB (worst), {res.time_s:.2f} s"
    )
    return 0


def _load_labels(data: Path, args) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Signals, integer labels and class names for ``train``."""
    if data.suffix.lower() == ".npz":
        with np.load(data, allow_pickle=False) as z:
            keys = list(z.keys())
            xk = args.key or next((k for k in ("x", "X", "X_train") if k in keys), None)
            yk = args.label_key or next((k for k in ("y", "Y", "y_train") if k in keys), None)
            if xk not in keys or (args.labels is None and yk not in keys):
                raise CLIError(f"{data}: pass --key/--label-key (arrays: {', '.join(keys)})")
            x = _real(z[xk], data)
            y = z[yk] if args.labels is None else None
            names = [str(v) for v in z["class_names"]] if "class_names" in keys else None
    else:
        x, y, names = _load_signals(data), None, None
    if args.labels is not None:
        y = _load_array(Path(args.labels))
    if y is None:
        raise CLIError(f"{data}: no labels; pass --labels FILE")
    y = _as_labels(y, args.labels or data)
    if args.class_names:
        names = [c.strip() for c in args.class_names.split(",")]
    if names is None:
        names = [f"class {k}" for k in range(int(y.max()) + 1)]
    return np.asarray(x, dtype=np.float64), y, names


def _cmd_train(args) -> int:
    from .imaging import ImagingConfig
    from .io import save_model
    from .models import train_classifier

    data, out = Path(args.data), Path(args.out)
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    _check_out(out, args, folder=False, overwrite=False)
    x, y, names = _load_labels(data, args)
    cfg = _config_from_args(args)
    imaging = ImagingConfig(scale=args.scale, size=(args.size, args.size))

    def progress(stats) -> None:  # one line per epoch, redrawn in place on a terminal
        end = "\n" if stats.epoch == args.epochs or not sys.stderr.isatty() else "\r"
        bar = "#" * int(20 * stats.epoch / args.epochs)
        print(
            f"[{bar:<20}] epoch {stats.epoch}/{args.epochs} loss {stats.train_loss:.3f} "
            f"train acc {stats.train_accuracy:.3f} val acc {stats.val_accuracy:.3f}",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    trained = train_classifier(
        x,
        y,
        transform_config=cfg,
        imaging_config=imaging,
        class_names=names,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        val_fraction=args.val_fraction,
        progress=progress,
    )
    save_model(trained.model, out, metadata=trained.metadata, format=args.format)
    last = trained.history[-1]
    print(
        f"wrote {out}: {len(names)} classes, train acc {last.train_accuracy:.3f}, "
        f"val acc {last.val_accuracy:.3f}"
    )
    return 0


def _progress_bar(label: str):
    """Return a one-line progress display on stderr (redrawn in place on a terminal)."""
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if total <= 3:  # a few samples: no bar
            return
        if not tty and done not in (total,) and done % max(1, total // 10):
            return
        bar = "#" * int(20 * done / max(total, 1))
        print(
            f"{label} [{bar:<20}] {done}/{total}",
            end="\r" if tty and done < total else "\n",
            file=sys.stderr,
            flush=True,
        )

    return show


class _RegionInputs(NamedTuple):
    """What ``explain`` and ``evaluate`` read before loading the model."""

    model: Path
    data: Path
    out: Path
    x: np.ndarray
    labels: np.ndarray | None
    axis: np.ndarray | None


def _region_inputs(args, suffix: str, *, companion_labels: bool) -> _RegionInputs:
    """Check the model path and the output, then read signals, labels and axis.

    Labels come from ``--labels``, else (with ``companion_labels``) from the data's
    ``y`` array when there is one.
    """
    model_path, data = Path(args.model), Path(args.data)
    if not model_path.is_file():
        raise CLIError(f"{model_path}: no such file")
    out = Path(args.out) if args.out else data.with_name(data.stem + suffix)
    _check_out(out, args, folder=True, overwrite=args.overwrite)
    x = _load_signals(data, args.key)
    if x.ndim not in (1, 2):
        raise CLIError(f"{data}: expected signals of shape (N,) or (B, N), got {x.shape}")
    labels = None
    if args.labels:
        labels = _read_labels(Path(args.labels), x)
    elif companion_labels:
        labels = _companion(data, args.key, "y")
        labels = None if labels is None else _as_labels(labels, data)
    axis = _load_signals(Path(args.axis)) if args.axis else _companion(data, args.key, "axis")
    return _RegionInputs(model_path, data, out, x, labels, axis)


def _load_for_run(path: Path, device: str, *, rebuild: bool = False):
    from .io import load_model

    try:
        return load_model(path, device=device, rebuild=rebuild)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None


def _cmd_explain(args) -> int:
    from .explanation import explain

    inputs = _region_inputs(args, "_explained", companion_labels=args.target == "label")
    x, labels, axis = inputs.x, inputs.labels, inputs.axis
    loaded = _load_for_run(inputs.model, args.device)
    target = _parse_target(args.target)
    ex = explain(
        loaded.model,
        x,
        metadata=loaded.metadata,
        method=args.method,
        target=target,
        labels=labels,
        axis=axis,
        keep_mass=args.keep_mass,
        max_regions=args.max_regions,
        min_share=args.min_share,
        batch_size=args.batch_size,
        device=args.device,
        progress=_progress_bar("explaining"),
    )
    path = ex.save(inputs.out, figures=not args.no_figures, overwrite=args.overwrite)
    n = len(ex.predictions)
    print(
        f"wrote {path}: {n} signal(s), report.json, components.npz"
        f"{'' if args.no_figures else ', figures, index.html'}"
    )
    return 0


def _companion(data: Path, key: str | None, name: str) -> np.ndarray | None:
    """Read an array stored beside the signals in an ``.npz``, matched to their key.

    ``name`` + the key's suffix: signals ``X_test`` -> ``y_test``, ``components_test``;
    signals ``x`` -> ``y``; ``axis`` is shared by all splits. ``None`` when absent or when
    ``data`` is not an ``.npz``.
    """
    if data.suffix.lower() != ".npz":
        return None
    with np.load(data, allow_pickle=False) as z:
        keys = list(z.keys())
        if key is None:
            key = "x" if "x" in keys else (keys[0] if keys else "")
        suffix = key[1:] if key[:1] in ("x", "X") else ""
        for cand in (name + suffix, name) if name == "axis" else (name + suffix,):
            if cand in keys:
                return z[cand]
    return None


def _parse_target(target: str):
    if target in ("predicted", "label"):
        return target
    try:
        return int(target)
    except ValueError:
        raise CLIError(f"--target={target!r} must be predicted, label or a class index") from None


def _read_labels(path: Path, x: np.ndarray) -> np.ndarray:
    labels = _load_array(path)
    n_sig = 1 if x.ndim == 1 else x.shape[0]
    if labels.ndim != 1 or labels.shape[0] != n_sig:
        raise CLIError(
            f"{path}: {labels.shape[0] if labels.ndim else 0} labels for {n_sig} signals"
        )
    return _as_labels(labels, path)


def _cmd_evaluate(args) -> int:
    from .evaluation import evaluate
    from .saliency import methods as saliency_methods

    inputs = _region_inputs(args, "_evaluated", companion_labels=True)
    x, labels, axis, data = inputs.x, inputs.labels, inputs.axis, inputs.data
    target = _parse_target(args.target)
    truth = None
    if not args.no_truth:
        comps = _companion(data, args.key, "components")
        wins = _companion(data, args.key, "windows")
        if comps is not None and wins is not None:
            truth = {"components": comps, "windows": wins}
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    # layer methods hook a submodule: rebuild the registered architecture around the weights
    rebuild = any(m.partition("+")[0] in saliency_methods("layer") for m in methods)
    loaded = _load_for_run(inputs.model, args.device, rebuild=rebuild)
    bar = _progress_bar("evaluating")
    total = 3 * len(methods) if args.randomization != "none" else 2 * len(methods)
    count = [0]

    def progress(stage: str, done: int, n: int) -> None:
        count[0] += 1
        bar(count[0], total)

    ev = evaluate(
        loaded.model,
        x,
        metadata=loaded.metadata,
        methods=methods,
        target=target,
        labels=labels,
        axis=axis,
        truth=truth,
        n_null=args.n_null,
        randomization=args.randomization,
        keep_mass=args.keep_mass,
        max_regions=args.max_regions,
        min_share=args.min_share,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        progress=progress,
    )
    path = ev.save(inputs.out, figures=not args.no_figures, overwrite=args.overwrite)
    cols = [
        "method",
        "deletion_auc",
        "null_deletion_auc",
        "top_drop_percentile",
        "share_top_drop_beats_95",
        "insertion_auc",
    ]
    if truth is not None:
        cols += ["energy_in_window", "share_energy_in_window_80"]
    if args.randomization != "none":
        cols.append("randomized_spearman")
    rows = ev.table()
    print("  ".join(cols))
    for r in rows:
        print(
            "  ".join(
                r["method"] if c == "method" else ("-" if r.get(c) is None else f"{r[c]:.3f}")
                for c in cols
            )
        )
    print(
        f"wrote {path}: {len(ev.target)} signal(s), {len(rows)} method(s), summary.csv, "
        f"samples.csv, evaluation.json, curves.npz"
        f"{'' if args.no_figures else ', figures'}"
        f"{'' if truth is None else '; ground truth from ' + data.name}"
    )
    return 0


def _cmd_info(args) -> int:
    from .io import FORMAT_DESCRIPTIONS, load_model

    loaded = load_model(args.model, trust=args.trust)
    print(
        json.dumps(
            {
                "file": str(loaded.path),
                "format": loaded.format,
                "format_description": FORMAT_DESCRIPTIONS[loaded.format],
                "metadata": json.loads(loaded.metadata.to_json()),
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is in ``--help``)."""

    def error(self, message: str):
        """Print ``PROG: error: MESSAGE`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="saliency2signal",
        description="Which parts of a 1D signal made a CNN decide: SSQ-CWT saliency "
        "carried back to the signal.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="raise a size limit for input you trust, e.g. "
        "--limit max_image_pixels=4194304 (before the command; repeatable; "
        "names: see saliency2signal.limits.Limits)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (
        _add_transform,
        _add_reconstruct,
        _add_train,
        _add_explain,
        _add_evaluate,
        _add_info,
    ):
        add(sub)
    return p


def _add_transform_options(p, *, helps: bool) -> None:
    """Add the SSQConfig options shared by ``transform`` and ``train``."""

    def h(text):
        return text if helps else None

    p.add_argument("--wavelet", choices=["gmw", "morlet"], default="gmw")
    p.add_argument("--nv", type=int, default=32, help=h("voices per octave (default 32)"))
    p.add_argument(
        "--scaletype",
        default="log-piecewise",
        help=h("log | log-piecewise | linear [:maximal|:minimal|:naive]"),
    )
    p.add_argument("--fs", type=float, default=1.0, help=h("sampling rate (default 1)"))
    if helps:
        p.add_argument(
            "--padtype",
            default="reflect",
            choices=["reflect", "zero", "symmetric", "replicate", "wrap", "none"],
        )
    else:
        p.add_argument("--padtype", default="reflect")
    p.add_argument("--mu", type=float, default=13.4, help=h("Morlet centre frequency"))
    p.add_argument("--gamma", type=float, default=3.0, help=h("GMW gamma"))
    p.add_argument("--beta", type=float, default=60.0, help=h("GMW beta"))


def _add_transform(sub) -> None:
    t = sub.add_parser("transform", help="synchrosqueezed CWT of the signals in a file")
    t.add_argument("data", help=".npy (N,) or (B, N), .npz (array 'x' or the first), or .csv")
    t.add_argument("--key", help="array to read from an .npz (default: 'x' or the first)")
    t.add_argument("--out", help="output .npz (default: DATA_ssq.npz beside the input)")
    _add_transform_options(t, helps=True)
    t.add_argument("--float64", action="store_true", help="compute in float64")
    t.set_defaults(func=_cmd_transform)


def _add_reconstruct(sub) -> None:
    r = sub.add_parser(
        "reconstruct", help="a signal from magnitude-only scalograms (phase retrieval)"
    )
    r.add_argument(
        "data",
        help="|W| as .npy/.npz (F, N) or (B, F, N), or a scalogram .png "
        "from export_scalogram_png (geometry sidecar beside it)",
    )
    r.add_argument(
        "--config",
        help="SSQConfig JSON (or a geometry sidecar); default for a "
        "PNG: the configuration recorded in its geometry",
    )
    r.add_argument("--n", type=int, help="signal length (default: the number of columns)")
    r.add_argument("--out", required=True, help="output .npy of the signal(s)")
    r.add_argument("--method", default="fgla", choices=["fgla", "gla", "lbfgs", "adam", "sgd"])
    r.add_argument("--iters", type=int, default=100, help="iterations (default 100)")
    r.add_argument("--seed", type=int, default=0, help="seed of the random start")
    r.add_argument(
        "--dynamic-range",
        type=float,
        default=60.0,
        help="dB range of a log-scale PNG (default 60)",
    )
    r.set_defaults(func=_cmd_reconstruct)


def _add_train(sub) -> None:
    tr = sub.add_parser("train", help="train the bundled CNN on labelled signals, reproducibly")
    tr.add_argument(
        "data",
        help=".npz with signals and labels (x/y or X_train/y_train; "
        "class_names if present), or .npy/.csv signals with --labels",
    )
    tr.add_argument("--out", required=True, help="output model file (self-describing)")
    tr.add_argument("--key", help="signals array in an .npz")
    tr.add_argument("--label-key", help="labels array in an .npz")
    tr.add_argument("--labels", help="labels file (.npy/.csv), one integer per signal")
    tr.add_argument("--class-names", help="comma-separated names in label order")
    tr.add_argument("--size", type=int, default=64, help="image height = width (default 64)")
    tr.add_argument("--scale", default="log1p", choices=["linear", "log1p", "db"])
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--val-fraction", type=float, default=0.2)
    tr.add_argument(
        "--format",
        default="state_dict",
        choices=["state_dict", "export"],
        help="model file format (default state_dict: weights-only state dict "
        "+ JSON metadata; export: a torch.export .pt2 program)",
    )
    _add_transform_options(tr, helps=False)
    tr.add_argument("--float64", action="store_true", help="transform in float64")
    tr.set_defaults(func=_cmd_train)


def _add_region_options(p, *, out_default: str) -> None:
    """Add the options ``explain`` and ``evaluate`` share: inputs, target, regions, run."""
    p.add_argument("model", help="a model file written by `saliency2signal train` / save_model")
    p.add_argument(
        "data",
        help=".npy (N,) or (B, N), .npz (x / X_test / the first array; "
        "axis and labels are read from it when present), or .csv",
    )
    p.add_argument("--out", help=f"new output folder (default: {out_default})")
    p.add_argument("--key", help="signals array in an .npz")
    p.add_argument("--target", default="predicted", help="predicted | label | INDEX")
    p.add_argument("--labels", help="labels file (.npy/.csv), one integer per signal")
    p.add_argument("--axis", help="x-axis values (.npy/.csv), e.g. wavenumbers")
    p.add_argument(
        "--keep-mass",
        type=float,
        default=0.8,
        help="fraction of the positive attribution mass kept (default 0.8)",
    )
    p.add_argument("--max-regions", type=int, default=5)
    p.add_argument(
        "--min-share",
        type=float,
        default=0.02,
        help="drop regions below this share of the attribution mass (default 0.02)",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-figures", action="store_true", help="report and arrays only")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")


def _add_explain(sub) -> None:
    from .saliency import METHODS

    ex = sub.add_parser("explain", help="which parts of each signal made the model decide")
    _add_region_options(ex, out_default="DATA_explained")
    ex.add_argument(
        "--method",
        default="integrated_gradients",
        help=f"attribution method: {' | '.join(METHODS)}; METHOD+smoothgrad "
        "(smoothgrad_sq, vargrad) for a noise tunnel",
    )
    ex.set_defaults(func=_cmd_explain)


def _add_evaluate(sub) -> None:
    ev = sub.add_parser(
        "evaluate",
        help="are the explanations faithful? round-trip deletion "
        "against matched random regions, ground truth, randomisation",
    )
    _add_region_options(ev, out_default="DATA_evaluated")
    ev.add_argument(
        "--methods",
        default="integrated_gradients",
        help="comma-separated attribution methods (as for explain; "
        "saliency+smoothgrad for a noise tunnel) and time_gradient (default "
        "integrated_gradients); from an .npz, ground truth (components_* and "
        "windows_*, matched to --key) is read too",
    )
    ev.add_argument(
        "--n-null",
        type=int,
        default=50,
        help="matched random regions per explanation region (default 50)",
    )
    ev.add_argument(
        "--randomization",
        default="cascade",
        choices=["cascade", "full", "none"],
        help="model-randomisation sanity check (default cascade)",
    )
    ev.add_argument(
        "--no-truth", action="store_true", help="ignore ground-truth arrays in the .npz"
    )
    ev.add_argument("--seed", type=int, default=0, help="seed of the null draws (default 0)")
    ev.set_defaults(func=_cmd_evaluate)


def _add_info(sub) -> None:
    info = sub.add_parser("info", help="show a model file's format and embedded configuration")
    info.add_argument("model")
    info.add_argument(
        "--trust",
        action="store_true",
        help="allow unpickling (only for files you trust: it can run code)",
    )
    info.set_defaults(func=_cmd_info)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _os_message(exc: OSError) -> str:
    """``FILE: reason`` on one line, without the ``[Errno N]`` prefix."""
    if exc.strerror is None:
        return _one_line(exc)
    text = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    return " ".join(str(text).split())


def _silence_stdout() -> None:
    """Point stdout at the null device so that the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced or without a fd
        pass


def _limit_changes(items: list[str]) -> dict[str, int]:
    """``['max_image_pixels=4194304', ...]`` as keyword arguments of ``limits.raised``."""
    changes = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            changes[name.strip()] = int(value)  # int() takes 4_194_304 too
        except ValueError:
            raise CLIError(
                f"--limit {item!r} must be NAME=INTEGER, e.g. max_image_pixels=4194304"
            ) from None
    return changes


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``saliency2signal`` console script."""
    args = _parser().parse_args(argv)
    try:
        with limits.raised(**_limit_changes(args.limit)):
            status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:  # `... | head`: the reader has all it wanted
        _silence_stdout()
        return 0
    except (ValueError, TypeError) as exc:  # CLIError, and the API's own input errors
        print(f"saliency2signal {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, no permission
        print(f"saliency2signal {args.command}: error: {_os_message(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            f"saliency2signal {args.command}: error: out of memory; process fewer "
            "signals at a time",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # noqa: BLE001 - a user sees one line, never a traceback
        print(
            f"saliency2signal {args.command}: internal error: {type(exc).__name__}: "
            f"{_one_line(exc)}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"saliency2signal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
