"""What the commands read and write: arrays from files, labels, configs, safe outputs.

Input files are untrusted: ``.npy``/``.npz`` are read with ``allow_pickle=False`` after
their declared sizes and compression ratios are checked against the limits, so that a
crafted file fails with one line before memory is allocated; outputs go through
:mod:`saliency2signal._files` (atomic, never over an input).

Internal: plain names, not public API. May import: numpy, ``saliency2signal.limits``,
``._files``, ``.transform`` and ``.imaging`` (configurations); never the commands or the
parser.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import limits
from .._files import atomic_write, check_output

__all__ = [
    "REFERENCE_NAMES",
    "read_labels",
    "parse_reference",
    "CLIError",
    "load_array",
    "task_labels",
    "atomic_save_npy",
    "atomic_savez",
    "check_out",
    "companion",
    "config_from_args",
    "input_paths",
    "load_labels",
    "load_signals",
    "one_line",
    "open_atomic_errors",
    "parse_target",
    "progress_bar",
    "read_config",
    "region_inputs",
]


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


def load_signals(path: Path, key: str | None = None) -> np.ndarray:
    """Real-valued signals from a file (integers become float64; nothing else converts)."""
    return _real(load_array(path, key), path)


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


def load_array(path: Path, key: str | None = None) -> np.ndarray:
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


def input_paths(args) -> list[Path]:
    """Every file the command reads (model, data, labels, axis, config, reference, ...).

    Also the pipeline file, the researcher's images and the file of ``--arch
    path/to/nets.py:Class``.
    """
    names = (
        "model",
        "data",
        "labels",
        "axis",
        "config",
        "reference",
        "pipeline",
        "images",
        "heatmaps",
        "scalograms",
        "coefficients",
    )
    values = (getattr(args, n, None) for n in names)
    paths = [Path(v) for v in values if v and v not in REFERENCE_NAMES]
    arch = getattr(args, "arch", None)
    if arch and ":" in arch and arch.rsplit(":", 1)[0].endswith(".py"):
        paths.append(Path(arch.rsplit(":", 1)[0]))
    return paths


#: ``--reference`` values that name a rule, not a file.
REFERENCE_NAMES = ("auto", "class_means", "zero", "mean")


def parse_reference(value: str):
    """Read ``--reference``: a rule of :data:`REFERENCE_NAMES` or an array file's signals."""
    return value if value in REFERENCE_NAMES else load_signals(Path(value))


def check_out(out: Path, args, *, folder: bool, overwrite: bool, parents: bool = False) -> None:
    """Refuse, before any computation, an output that cannot or must not be written."""
    exists = (
        f"{out}: output folder exists (pass --overwrite to replace it)"
        if folder
        else f"{out}: already exists; choose another --out"
    )
    with open_atomic_errors():
        check_output(
            out,
            inputs=input_paths(args),
            overwrite=overwrite,
            folder=folder,
            parents=parents,
            exists_message=exists,
        )


def atomic_savez(path: Path, inputs: list[Path], **arrays) -> None:
    with open_atomic_errors():
        atomic_write(path, lambda tmp: _savez_to(tmp, arrays), inputs=inputs, parents=True)


def _savez_to(tmp: str, arrays: dict) -> None:
    with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
        np.savez_compressed(fh, **arrays)


def config_from_args(args):
    from ..transform import SSQConfig

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


def atomic_save_npy(path: Path, inputs: list[Path], array: np.ndarray) -> None:
    with open_atomic_errors():
        atomic_write(path, lambda tmp: _npy_to(tmp, array), inputs=inputs, parents=True)


def _npy_to(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as fh:  # a file object: np.save would append ".npy" to a name
        np.save(fh, array, allow_pickle=False)


def read_config(path: Path):
    from ..transform import SSQConfig

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


def load_labels(data: Path, args) -> tuple[np.ndarray, np.ndarray, list[str]]:
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
        x, y, names = load_signals(data), None, None
    if args.labels is not None:
        y = load_array(Path(args.labels))
    if y is None:
        raise CLIError(f"{data}: no labels; pass --labels FILE")
    y = _as_labels(y, args.labels or data)
    if args.class_names:
        names = [c.strip() for c in args.class_names.split(",")]
    if names is None:
        names = [f"class {k}" for k in range(int(y.max()) + 1)]
    return np.asarray(x, dtype=np.float64), y, names


def progress_bar(label: str):
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


def region_inputs(args, suffix: str) -> _RegionInputs:
    """Check the model path and the output, then read signals, ``--labels`` and axis.

    The data's own ``y`` array is read once the model says it is a classifier
    (:func:`task_labels`).
    """
    model_path, data = Path(args.model), Path(args.data)
    if not model_path.is_file():
        raise CLIError(f"{model_path}: no such file")
    out = Path(args.out) if args.out else data.with_name(data.stem + suffix)
    check_out(out, args, folder=True, overwrite=args.overwrite)
    x = load_signals(data, args.key)
    if x.ndim not in (1, 2):
        raise CLIError(f"{data}: expected signals of shape (N,) or (B, N), got {x.shape}")
    labels = None
    if args.labels:
        labels = read_labels(Path(args.labels), x)
    axis = load_signals(Path(args.axis)) if args.axis else companion(data, args.key, "axis")
    return _RegionInputs(model_path, data, out, x, labels, axis)


def task_labels(args, data: Path, labels, task: str):
    """Class labels for a classifier (given, else the data's ``y``); none for a regression.

    A regression's ``y`` holds target values, not classes: it is not read, and
    ``--labels`` is refused.
    """
    if task == "regression":
        if labels is not None:
            raise CLIError("--labels are class labels; a regression model has none")
        return None
    if labels is None:
        found = companion(data, args.key, "y")
        labels = None if found is None else _as_labels(found, data)
    return labels


def companion(data: Path, key: str | None, name: str) -> np.ndarray | None:
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


def parse_target(target: str):
    if target in ("predicted", "label"):
        return target
    try:
        return int(target)
    except ValueError:
        raise CLIError(f"--target={target!r} must be predicted, label or a class index") from None


def read_labels(path: Path, x: np.ndarray) -> np.ndarray:
    """Read ``--labels``: one class index or name per signal of ``x``."""
    labels = load_array(path)
    n_sig = 1 if x.ndim == 1 else x.shape[0]
    if labels.ndim != 1 or labels.shape[0] != n_sig:
        raise CLIError(
            f"{path}: {labels.shape[0] if labels.ndim else 0} labels for {n_sig} signals"
        )
    return _as_labels(labels, path)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
