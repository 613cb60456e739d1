"""Chunked readers of signals on disk, for runs over more signals than fit in memory.

:func:`open_source` opens a stack of signals or a hyperspectral cube stored as ``.npy``,
``.npz``, Zarr, HDF5 or ENVI and returns a :class:`SignalSource`, which reads any window of
signals (``read(start, stop)``) without reading the others: memory maps where the format
allows, a forward-decompressing stream for compressed ``.npz`` members, chunk reads for
Zarr and HDF5. Each window comes back as :class:`Rows`: float64 signals, with the rows
that cannot be used (non-finite values, a ragged length) marked failed and explained
instead of raised, so that one bad spectrum among a million does not stop a run.
A cube's pixels are signals in C order over its non-spectral dimensions, and
:meth:`SignalSource.ids` says which pixel each one is.

Shapes and limits are checked from the file's header before anything is allocated.

Internal module of :mod:`saliency2signal.stream`. May import: numpy, the standard
library, ``limits``; zarr, h5py and spectral (the ``large`` extra) inside the functions
that need them.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> folder = tempfile.TemporaryDirectory()
>>> path = pathlib.Path(folder.name) / "spectra.npz"
>>> x = np.linspace(0.0, 1.0, 5 * 64).reshape(5, 64)
>>> x[3, 10] = np.nan
>>> np.savez_compressed(path, x=x, wavenumbers=np.arange(64.0), y=np.arange(5))
>>> with open_source(path) as source:
...     rows = source.read(2, 5)
...     (source.n_signals, source.n_times, source.axis[:3], source.labels())
(5, 64, array([0., 1., 2.]), array([0, 1, 2, 3, 4]))
>>> rows.ok, rows.reasons
(array([ True, False,  True]), (None, 'non-finite values at 1 samples', None))
>>> np.array_equal(rows.x[0], x[2])
True
>>> folder.cleanup()
"""

from __future__ import annotations

import collections
import hashlib
import math
import os
import struct
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import limits

__all__ = ["SOURCE_FORMATS", "Rows", "SignalSource", "open_source"]

#: The formats :func:`open_source` reads.
SOURCE_FORMATS = ("npy", "npz", "zarr", "hdf5", "envi")

_LARGE = 'pip install "saliency2signal[large]"'
_DEFAULT_KEYS = ("x", "X", "X_test", "signals")
_AXIS_KEYS = ("axis", "wavenumbers")
_LABEL_KEYS = ("y", "labels")
_SPECTRAL_NAMES = (
    "wavelength",
    "wavenumber",
    "band",
    "spectral",
    "energy",
    "channel",
    "frequency",
    "freq",
    "raman_shift",
    "raman",
    "shift",
    "two_theta",
    "2theta",
    "ppm",
    "mz",
    "m/z",
    "mass",
    "lambda",
    "wl",
)
_ENVI_DATA = (".img", ".dat", ".raw", ".bsq", ".bil", ".bip")
_SKIP_CHUNK = 2**20  # bytes decompressed at a time when skipping forward in a member
_HASH_ROWS = 64


@dataclass(frozen=True, eq=False)
class Rows:
    """One window of signals read from a :class:`SignalSource`.

    Attributes
    ----------
    x : numpy.ndarray, shape (m, n_times)
        The signals as float64; a row that failed is all-NaN.
    ok : numpy.ndarray, shape (m,)
        Whether each row can be used.
    reasons : tuple of (str or None), length m
        Why each row failed (``"non-finite values at 3 samples"``,
        ``"length 1800, expected 1841"``), ``None`` for the rows that did not.
    """

    x: np.ndarray
    ok: np.ndarray
    reasons: tuple


class SignalSource:
    """Signals on disk, read a window at a time (see :func:`open_source`).

    Attributes
    ----------
    path : pathlib.Path
        The file or folder, resolved.
    format : str
        One of :data:`SOURCE_FORMATS`.
    key : str or None
        The array inside the file (npz member, Zarr or HDF5 path), None for a single array.
    n_signals, n_times : int
        How many signals, and samples per signal.
    id_names : tuple of str
        ``("index",)`` for a stack of signals; the non-spectral dimensions of a cube,
        e.g. ``("row", "col")`` or the file's own names.
    image_shape : tuple of int or None
        The sizes of a cube's non-spectral dimensions, None for a stack.
    axis : numpy.ndarray or None, shape (n_times,)
        The x value of each sample when the file records it.
    axis_name, axis_units : str or None
        The axis's name and units when the file records them.
    """

    format = ""

    def __init__(self, path: Path, key, array, dim_names, spectral_axis) -> None:
        self.path = path
        self.key = key
        self._array = array
        self._closed = False
        dims = tuple(dim_names) if dim_names is not None else ()
        self._dims = dims if len(dims) == array.ndim and all(dims) else None
        self._spectral = _resolve_axis(spectral_axis, array.shape, self._dims, path)
        shape = tuple(int(n) for n in array.shape)
        self._others = [d for d in range(len(shape)) if d != self._spectral]
        self.n_times = shape[self._spectral]
        self.n_signals = math.prod(shape[d] for d in self._others)
        if len(shape) == 3:
            names = [self._dims[d] for d in self._others] if self._dims else ["row", "col"]
            self.id_names = tuple(str(n) for n in names)
            self.image_shape = tuple(shape[d] for d in self._others)
        else:
            self.id_names, self.image_shape = ("index",), None
        self.axis = None
        self.axis_name = self.axis_units = None
        _check_size(path, self.n_signals, self.n_times)

    # ---------------------------------------------------------------- public
    def ids(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Return the identity of signals ``start .. stop - 1``: one int64 column per id name.

        Parameters
        ----------
        start, stop : int
            The window, ``0 <= start <= stop <= n_signals``.

        Returns
        -------
        dict of str to numpy.ndarray, shape (stop - start,)
            ``{"index": ...}`` for a stack; a cube's pixel position per non-spectral
            dimension (signal ``k`` is the pixel ``row = k // cols, col = k % cols``).
        """
        start, stop = self._window(start, stop)
        flat = np.arange(start, stop, dtype=np.int64)
        if self.image_shape is None:
            return {self.id_names[0]: flat}
        rows, cols = np.divmod(flat, np.int64(self.image_shape[1]))
        return {self.id_names[0]: rows, self.id_names[1]: cols}

    def read(self, start: int, stop: int) -> Rows:
        """Read signals ``start .. stop - 1`` (only these are read from disk).

        Parameters
        ----------
        start, stop : int
            The window, ``0 <= start <= stop <= n_signals``.

        Returns
        -------
        Rows
            float64 signals; rows with non-finite values (or a ragged length) are all-NaN,
            marked failed, with the reason.

        Raises
        ------
        ValueError
            A window outside ``0 .. n_signals``, or a closed source.
        """
        start, stop = self._window(start, stop)
        x, reasons = self._raw(start, stop)
        reasons = list(reasons) if reasons is not None else [None] * (stop - start)
        bad = np.count_nonzero(~np.isfinite(x), axis=1)
        for i in np.flatnonzero(bad):
            if reasons[i] is None:
                reasons[i] = f"non-finite values at {bad[i]} samples"
        ok = np.array([r is None for r in reasons], dtype=bool)
        x[~ok] = np.nan
        return Rows(x=x, ok=ok, reasons=tuple(reasons))

    def labels(self) -> np.ndarray | None:
        """Return the file's sibling array ``y`` or ``labels`` of length ``n_signals``, or None."""
        self._window(0, 0)
        return None

    def describe(self) -> dict:
        """Return a JSON-compatible identity of the input, for a run's key.

        Returns
        -------
        dict
            ``format``, resolved ``path``, ``key``, stored ``shape`` and ``dtype``, the
            ``spectral_axis`` (index in ``shape``), ``n_signals``, ``n_times``,
            ``size_bytes`` of the file or folder, and ``sha256`` of the first and last 64
            signals as float64 (a cheap content check, not a hash of the whole file).
        """
        self._window(0, 0)
        digest = hashlib.sha256()
        head = min(_HASH_ROWS, self.n_signals)
        tail = max(head, self.n_signals - _HASH_ROWS)
        for lo, hi in ((0, head), (tail, self.n_signals)):
            if hi > lo:
                digest.update(np.ascontiguousarray(self._raw(lo, hi)[0]).tobytes())
        return {
            "format": self.format,
            "path": str(self.path),
            "key": self.key,
            "shape": [int(n) for n in self._shape()],
            "dtype": str(self._dtype()),
            "spectral_axis": self._spectral,
            "dimension_names": list(self._dims) if self._dims else None,
            "n_signals": self.n_signals,
            "n_times": self.n_times,
            "size_bytes": _size_bytes(self.path),
            "sha256": digest.hexdigest(),
        }

    def close(self) -> None:
        """Release the file (later reads raise ``ValueError``)."""
        self._closed = True
        self._array = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.format} {str(self.path)!r} key={self.key!r} "
            f"n_signals={self.n_signals} n_times={self.n_times}>"
        )

    # --------------------------------------------------------------- private
    def _window(self, start, stop) -> tuple[int, int]:
        if self._closed:
            raise ValueError(f"the source {str(self.path)!r} is closed")
        for name, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}={v!r} must be an int")
        if not 0 <= start <= stop <= self.n_signals:
            raise ValueError(
                f"window {start=}, {stop=} must satisfy 0 <= start <= stop <= "
                f"n_signals={self.n_signals}"
            )
        return int(start), int(stop)

    def _dtype(self) -> np.dtype:
        return np.dtype(self._array.dtype)

    def _shape(self) -> tuple:
        return tuple(self._array.shape)

    def __reduce__(self):
        # a pickled source (sent to a Dask worker) opens the file again where it lands
        return (_reopen, (str(self.path), self.key, self._spectral, type(self)))

    def _raw(self, start: int, stop: int):
        """Signals ``start .. stop - 1`` as a new float64 array, and per-row reasons (or None)."""
        a, s, n = self._array, self._spectral, self.n_times
        if stop == start:
            return np.empty((0, n)), None
        if a.ndim == 1:
            return np.array(a[:], dtype=np.float64)[None][start:stop], None
        inner = math.prod(a.shape[d] for d in self._others[1:])
        blocks = []
        for r0, r1, c0, c1 in _pieces(start, stop, inner):
            index = [slice(None)] * a.ndim
            index[self._others[0]] = slice(r0, r1)
            if a.ndim == 3:
                index[self._others[1]] = slice(c0, c1)
            block = np.moveaxis(np.asarray(a[tuple(index)]), s, -1)
            blocks.append(block.reshape(-1, n))
        return np.concatenate(blocks, dtype=np.float64), None


def _reopen(path: str, key, spectral_axis: int, cls) -> SignalSource:
    """Open a pickled source again (see ``SignalSource.__reduce__``)."""
    return cls(Path(path), key, spectral_axis)


def _pieces(start: int, stop: int, inner: int) -> list[tuple[int, int, int, int]]:
    """Split flat signals ``start .. stop - 1`` into at most 3 rectangular reads.

    Each is ``(r0, r1, c0, c1)``: rows ``r0 .. r1 - 1`` of the first non-spectral dimension,
    columns ``c0 .. c1 - 1`` of the second (``inner`` columns a row; 1 for a stack).
    """
    r0, c0 = divmod(start, inner)
    r1, c1 = divmod(stop, inner)
    if r0 == r1:
        return [(r0, r0 + 1, c0, c1)]
    out = []
    if c0:
        out.append((r0, r0 + 1, c0, inner))
        r0 += 1
    if r1 > r0:
        out.append((r0, r1, 0, inner))
    if c1:
        out.append((r1, r1 + 1, 0, c1))
    return out


# ---------------------------------------------------------------- checks
def _check_shape(path, what: str, shape, dtype) -> None:
    """Refuse a dtype or a number of dimensions that cannot hold signals."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise TypeError(
            f"{what} in {str(path)!r} has object dtype; refused (reading it would unpickle)"
        )
    if dtype.kind not in "biuf":
        raise TypeError(f"{what} in {str(path)!r} has dtype {dtype}; expected real numbers")
    if len(shape) not in (1, 2, 3):
        raise ValueError(
            f"{what} in {str(path)!r} has shape {tuple(shape)}; expected (n_times,), "
            "(n_signals, n_times) or a 3-D cube"
        )


def _check_size(path, n_signals: int, n_times: int) -> None:
    if n_signals < 1:
        raise ValueError(f"{str(path)!r} holds no signals ({n_signals=})")
    if n_times < 2:
        raise ValueError(f"{str(path)!r} has signals of {n_times=} samples; need at least 2")
    limits.check("max_signal_length", n_times, what=f"{str(path)!r} with n_times={n_times}")


def _resolve_axis(spectral_axis, shape, dims, path) -> int:
    """Index of the spectral dimension (see :func:`open_source`)."""
    ndim = len(shape)
    if spectral_axis is None:
        if ndim == 3 and dims:
            hits = [i for i, d in enumerate(dims) if _looks_spectral(d)]
            if len(hits) > 1:
                raise ValueError(
                    f"several dimensions of {str(path)!r} look spectral {list(dims)}; "
                    "choose one with spectral_axis="
                )
            if hits:
                return hits[0]
        return ndim - 1
    if isinstance(spectral_axis, str):
        names = [str(d).lower() for d in dims] if dims else []
        if spectral_axis.lower() not in names:
            raise ValueError(
                f"{spectral_axis=} is not a dimension of {str(path)!r}; its dimensions "
                f"are {list(dims) if dims else 'unnamed'}"
            )
        return names.index(spectral_axis.lower())
    if not -ndim <= spectral_axis < ndim:
        raise ValueError(f"{spectral_axis=} is out of range for shape {tuple(shape)}")
    return int(spectral_axis) % ndim


def _looks_spectral(name) -> bool:
    name = str(name).lower().strip()
    return any(name == s or name == s + "s" or name.startswith(s + "_") for s in _SPECTRAL_NAMES)


def _size_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _text(v.item())
    return None if v is None else str(v)


def _pick_key(path, key, names_and_ndims, *, kind: str) -> str:
    """Choose the array: ``key``, else a default name, else the first 2-D (then 3-D) one."""
    names = [n for n, _ in names_and_ndims]
    if key is not None:
        if key not in names:
            raise ValueError(f"{key=} is not an array of {str(path)!r}; it holds {names}")
        return key
    for name in _DEFAULT_KEYS:
        if name in names:
            return name
    for want in (2, 3):
        for name, ndim in names_and_ndims:
            if ndim == want:
                return name
    raise ValueError(f"{str(path)!r} holds no 2-D or 3-D {kind} to read signals from ({names})")


def _set_axis(source: SignalSource, values, name, units) -> None:
    """Attach a 1-D axis when it has one finite value per sample."""
    if values is None:
        return
    values = np.asarray(values)
    if values.shape != (source.n_times,) or values.dtype.kind not in "iuf":
        return
    values = values.astype(np.float64)
    if np.all(np.isfinite(values)):
        source.axis, source.axis_name, source.axis_units = values, _text(name), _text(units)


# ------------------------------------------------------------------ npy
class _NpySource(SignalSource):
    format = "npy"

    def __init__(self, path, key, spectral_axis):
        if key is not None:
            raise ValueError(f"a .npy file holds one array; {key=} must be None")
        with open(path, "rb") as f:  # header only: checks before the memory map
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = _read_header(f, version)
            start = f.tell()
        _check_shape(path, "the array", shape, dtype)
        if fortran and len(shape) > 1:
            raise ValueError(_fortran_message(path, "the array"))
        _check_bytes(path, "the array", shape, dtype, start, path.stat().st_size)
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        super().__init__(path, None, array, None, spectral_axis)


def _read_header(fp, version):
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fp)
    return np.lib.format.read_array_header_2_0(fp)


def _check_bytes(path, what: str, shape, dtype, header: int, size: int) -> None:
    """Refuse an ``.npy`` header whose shape does not match the bytes that follow it."""
    expected = header + math.prod(shape) * np.dtype(dtype).itemsize
    if size != expected:
        raise ValueError(
            f"{what} in {str(path)!r} declares shape {tuple(shape)} ({expected} bytes) but "
            f"holds {size} bytes"
        )


def _fortran_message(path, what) -> str:
    return (
        f"{what} in {str(path)!r} is stored in Fortran order, whose signals cannot be "
        "read a window at a time; save it with numpy.ascontiguousarray(x)"
    )


# ------------------------------------------------------------------ npz
class _ZipMember:
    """A C-order ``.npy`` member of a zip archive, read along its first axis.

    Indexing takes a slice of the first axis (the others are applied in memory); only
    those rows are decompressed, moving forward through the member (backward restarts it).
    """

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, path):
        self._archive, self._info = archive, info
        with archive.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            shape, fortran, dtype = _read_header(fp, version)
            self._start = fp.tell()
        what = f"member {info.filename!r}"
        _check_shape(path, what, shape, dtype)
        if fortran and len(shape) > 1:
            raise ValueError(_fortran_message(path, what))
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)
        self._row_bytes = math.prod(shape[1:]) * self.dtype.itemsize
        _check_bytes(path, what, shape, dtype, self._start, info.file_size)
        limits.check_inflation(info.file_size, info.compress_size, what=f"{what} in {path}")
        self._fp = None
        self._lock = threading.Lock()  # one stream: a Dask worker's threads take turns

    def __getitem__(self, index):
        rows, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
        r0, r1, _ = rows.indices(self.shape[0])
        r1 = max(r0, r1)
        size = (r1 - r0) * self._row_bytes
        data = bytearray(size)
        view, got = memoryview(data), 0
        with self._lock:
            self._skip_to(self._start + r0 * self._row_bytes)
            while got < size:
                chunk = self._fp.read(size - got)
                if not chunk:
                    raise ValueError(f"member {self._info.filename!r} ended early")
                view[got : got + len(chunk)] = chunk
                got += len(chunk)
        block = np.frombuffer(data, dtype=self.dtype).reshape((r1 - r0, *self.shape[1:]))
        return block[(slice(None), *rest)]

    def _skip_to(self, offset: int) -> None:
        if self._fp is None or self._fp.tell() > offset:
            self.close()
            self._fp = self._archive.open(self._info)
        while (left := offset - self._fp.tell()) > 0:
            if not self._fp.read(min(left, _SKIP_CHUNK)):
                raise ValueError(f"member {self._info.filename!r} ended early")

    def close(self) -> None:
        if self._fp is not None:
            self._fp.close()
            self._fp = None


def _stored_memmap(path, archive_file, info: zipfile.ZipInfo, member: _ZipMember):
    """Map an uncompressed member's data (None when it is not one)."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    archive_file.seek(info.header_offset)
    header = archive_file.read(30)
    fields = struct.unpack("<4s2B4HL2L2H", header)
    if fields[0] != b"PK\x03\x04":
        return None
    start = info.header_offset + 30 + fields[10] + fields[11] + member._start
    return np.memmap(path, dtype=member.dtype, mode="r", offset=start, shape=member.shape)


class _NpzSource(SignalSource):
    format = "npz"

    def __init__(self, path, key, spectral_axis):
        self._zip = zipfile.ZipFile(path)
        try:
            self._open(path, key, spectral_axis)
        except BaseException:
            self._zip.close()
            raise

    def _open(self, path, key, spectral_axis):
        infos = {i.filename[:-4]: i for i in self._zip.infolist() if i.filename.endswith(".npy")}
        if key is not None and key.endswith(".npy"):
            key = key[:-4]
        ndims = []
        for name, info in infos.items():
            with self._zip.open(info) as fp:
                try:
                    shape = _read_header(fp, np.lib.format.read_magic(fp))[0]
                except ValueError:
                    shape = ()
            ndims.append((name, len(shape)))
        key = _pick_key(path, key, ndims, kind="array")
        self._member = _ZipMember(self._zip, infos[key], path)
        array = self._member
        with open(path, "rb") as f:
            mapped = _stored_memmap(path, f, infos[key], self._member)
        if mapped is not None:
            array = mapped
        elif (
            self._member.ndim > 1
            and _resolve_axis(spectral_axis, self._member.shape, None, path) == 0
        ):
            raise ValueError(
                f"member {key!r} of {str(path)!r} is compressed and its spectral axis is "
                "the first: signals cannot be read a window at a time; save it with "
                "numpy.savez (uncompressed) or with the spectral axis last"
            )
        super().__init__(path, key, array, None, spectral_axis)
        self._infos = infos
        for name in _AXIS_KEYS:
            if name in infos and name != key:
                _set_axis(self, self._small(name, self.n_times), name, None)
                break

    def _small(self, name, n):
        """Read a 1-D member of length ``n`` whole (None when it is not one)."""
        info = self._infos[name]
        with self._zip.open(info) as fp:
            shape, fortran, dtype = _read_header(fp, np.lib.format.read_magic(fp))
            if tuple(shape) != (n,) or np.dtype(dtype).hasobject:
                return None
        limits.check_inflation(info.file_size, info.compress_size, what=name)
        with self._zip.open(info) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)

    def labels(self):  # noqa: D102 - documented on the base class
        self._window(0, 0)
        for name in _LABEL_KEYS:
            if name in self._infos and name != self.key:
                return self._small(name, self.n_signals)
        return None

    def close(self) -> None:  # noqa: D102 - documented on the base class
        self._member.close()
        self._zip.close()
        super().close()


# ----------------------------------------------------------------- zarr
def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"reading this file needs {module}: {_LARGE}") from exc


class _ZarrSource(SignalSource):
    format = "zarr"

    def __init__(self, path, key, spectral_axis):
        zarr = _require("zarr")
        node = zarr.open(store=str(path), mode="r")
        group = None
        if isinstance(node, zarr.Group):
            group = node
            arrays = dict(node.arrays())
            ndims = [(n, a.ndim) for n, a in arrays.items()]
            if key is not None and "/" in key.strip("/"):
                node = node[key.strip("/")]
            else:
                key = _pick_key(path, key, ndims, kind="array")
                node = arrays[key]
        elif key is not None:
            raise ValueError(f"{str(path)!r} is a single Zarr array; {key=} must be None")
        _check_shape(path, f"array {key!r}", node.shape, node.dtype)
        dims = getattr(node.metadata, "dimension_names", None)
        if not dims or not any(dims):
            dims = node.attrs.get("_ARRAY_DIMENSIONS")
        super().__init__(path, key, node, dims, spectral_axis)
        self._group = group
        if group is not None:
            names = list(_AXIS_KEYS)
            if self._dims:
                names.insert(0, str(self._dims[self._spectral]))
            for name in names:
                if name in group and name != key:
                    axis = group[name]
                    if not isinstance(axis, zarr.Array) or axis.shape != (self.n_times,):
                        continue
                    attrs = axis.attrs
                    label = attrs.get("long_name", name)
                    _set_axis(self, axis[:], label, attrs.get("units"))
                    break

    def labels(self):  # noqa: D102 - documented on the base class
        self._window(0, 0)
        if self._group is None:
            return None
        for name in _LABEL_KEYS:
            if name in self._group and name != self.key:
                a = self._group[name]
                if getattr(a, "shape", None) == (self.n_signals,):
                    return np.asarray(a[:])
        return None


# ----------------------------------------------------------------- hdf5
class _Hdf5Source(SignalSource):
    format = "hdf5"

    def __init__(self, path, key, spectral_axis):
        h5py = _require("h5py")
        self._file = h5py.File(path, "r")
        try:
            self._open(h5py, path, key, spectral_axis)
        except BaseException:
            self._file.close()
            raise

    def _open(self, h5py, path, key, spectral_axis):
        found = []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                ragged = obj.ndim == 1 and h5py.check_vlen_dtype(obj.dtype) is not None
                found.append((name, 2 if ragged else obj.ndim))

        self._file.visititems(visit)
        if key is not None and key.strip("/") in dict(found):
            key = key.strip("/")
        key = _pick_key(path, key, found, kind="dataset")
        ds = self._file[key]
        base = h5py.check_vlen_dtype(ds.dtype)
        self._ragged = ds.ndim == 1 and base is not None
        if self._ragged:
            _check_shape(path, f"dataset {key!r}", (1, 1), base)
            self._array = ds
            self._lengths = _common_length(ds)
            array = _RaggedShape(ds.shape[0], self._lengths, base)
        else:
            _check_shape(path, f"dataset {key!r}", ds.shape, ds.dtype)
            array = ds
        dims = None if self._ragged else _h5_dims(ds)
        super().__init__(path, key, array, dims, spectral_axis)
        self._ds = ds
        scale = None
        if not self._ragged and len(ds.dims[self._spectral]):
            scale = ds.dims[self._spectral][0]
        names = list(_AXIS_KEYS) + ([str(self._dims[self._spectral])] if self._dims else [])
        for candidate in [scale, *(ds.parent.get(n) for n in names)]:
            if isinstance(candidate, h5py.Dataset) and candidate.shape == (self.n_times,):
                name = candidate.attrs.get("long_name", candidate.name.rsplit("/", 1)[-1])
                _set_axis(self, candidate[()], name, candidate.attrs.get("units"))
                if self.axis is not None:
                    break

    def _raw(self, start, stop):
        if not self._ragged:
            return super()._raw(start, stop)
        x = np.full((stop - start, self.n_times), np.nan)
        reasons = [None] * (stop - start)
        for i, v in enumerate(self._ds[start:stop]):
            if len(v) == self.n_times:
                x[i] = v
            else:
                reasons[i] = f"length {len(v)}, expected {self.n_times}"
        return x, reasons

    def _dtype(self):
        return np.dtype(self._ds.dtype if not self._ragged else self._array.dtype)

    def _shape(self):
        return tuple(self._ds.shape)

    def labels(self):  # noqa: D102 - documented on the base class
        self._window(0, 0)
        for name in _LABEL_KEYS:
            a = self._ds.parent.get(name)
            if a is not None and a.name != self._ds.name and a.shape == (self.n_signals,):
                return np.asarray(a[()])
        return None

    def close(self) -> None:  # noqa: D102 - documented on the base class
        self._file.close()
        super().close()


class _RaggedShape:
    """Stands in for a ragged dataset's array: shape ``(n_signals, n_times)``."""

    def __init__(self, n_signals: int, n_times: int, dtype) -> None:
        self.shape, self.ndim, self.dtype = (n_signals, n_times), 2, np.dtype(dtype)


def _common_length(ds, block: int = 4096) -> int:
    """Count the most common length of a variable-length dataset's elements (one pass)."""
    counts = collections.Counter()
    for lo in range(0, ds.shape[0], block):
        counts.update(len(v) for v in ds[lo : lo + block])
    return counts.most_common(1)[0][0] if counts else 0


def _h5_dims(ds):
    """Find a dataset's dimension names, from labels, scales or attributes, or None.

    The labels are read from the ``DIMENSION_LABELS`` attribute directly: HDF5's own
    reader of it (``ds.dims[i].label``) crashes on an attribute written by hand.
    """
    labels = [""] * ds.ndim
    for attr in ("DIMENSION_LABELS", "dimension_names"):
        if attr in ds.attrs:
            found = [_text(n) or "" for n in np.atleast_1d(ds.attrs[attr])]
            if len(found) == ds.ndim:
                labels = found
                break
    for i, dim in enumerate(ds.dims):
        if not labels[i] and len(dim):
            labels[i] = dim[0].name.rsplit("/", 1)[-1]
    if all(labels) and len(set(labels)) == len(labels):
        return labels
    return None


# ----------------------------------------------------------------- envi
class _EnviSource(SignalSource):
    format = "envi"

    def __init__(self, path, key, spectral_axis):
        spectral = _require("spectral")
        try:
            image = spectral.envi.open(str(path))
        except Exception as exc:  # spectral raises its own classes and OSError
            raise ValueError(f"cannot open the ENVI image {str(path)!r}: {exc}") from exc
        if key is not None:
            raise ValueError(f"an ENVI image holds one cube; {key=} must be None")
        if not hasattr(image, "open_memmap"):
            raise ValueError(f"{str(path)!r} is an ENVI spectral library, not an image")
        lines, samples, bands = int(image.nrows), int(image.ncols), int(image.nbands)
        _check_shape(path, "the image", (lines, samples, bands), image.dtype)
        limits.check("max_signal_length", bands, what=f"{str(path)!r} with {bands} bands")
        array = image.open_memmap(interleave="bip")
        super().__init__(path, None, array, ("row", "col", "band"), spectral_axis)
        meta = image.metadata
        if self._spectral == 2 and "wavelength" in meta:
            try:
                values = [float(v) for v in meta["wavelength"]]
            except ValueError:
                values = None
            _set_axis(self, values, "wavelength", meta.get("wavelength units"))


def _envi_header(path: Path) -> Path | None:
    """Find the ``.hdr`` of an ENVI data file (``a.img`` -> ``a.hdr`` or ``a.img.hdr``)."""
    for hdr in (path.with_suffix(".hdr"), path.with_name(path.name + ".hdr")):
        if hdr.is_file():
            return hdr
    return None


# ----------------------------------------------------------------- open
def _detect(path: Path) -> tuple[str, Path]:
    suffix = path.suffix.lower()
    if path.is_dir():
        markers = ("zarr.json", ".zarray", ".zgroup")
        if suffix == ".zarr" or any((path / m).is_file() for m in markers):
            return "zarr", path
    elif suffix == ".npy":
        return "npy", path
    elif suffix == ".npz":
        return "npz", path
    elif suffix in (".h5", ".hdf5", ".he5"):
        return "hdf5", path
    elif suffix == ".hdr":
        return "envi", path
    elif suffix in _ENVI_DATA or suffix == "":
        hdr = _envi_header(path)
        if hdr is not None:
            return "envi", hdr
    raise ValueError(
        f"cannot tell the format of {str(path)!r}; supported formats: {SOURCE_FORMATS} "
        "(.npy, .npz, a Zarr folder, .h5/.hdf5/.he5, an ENVI .hdr with its data file)"
    )


_CLASSES = {
    "npy": _NpySource,
    "npz": _NpzSource,
    "zarr": _ZarrSource,
    "hdf5": _Hdf5Source,
    "envi": _EnviSource,
}


def open_source(path, *, key=None, spectral_axis=None) -> SignalSource:
    """Open signals stored on disk for reading a window at a time.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` or ``.npz`` file, a Zarr folder (``*.zarr`` or one holding
        ``zarr.json``/``.zarray``/``.zgroup``), an HDF5 file (``.h5``, ``.hdf5``, ``.he5``)
        or an ENVI header (``.hdr``, or its data file next to it).
    key : str, optional
        The array inside an ``.npz``, a Zarr group or an HDF5 file. Default: the first of
        ``x``, ``X``, ``X_test``, ``signals`` there, else the first 2-D array (then 3-D).
    spectral_axis : str or int, optional
        The dimension along which each signal runs: a dimension name (case-insensitive)
        or an index. Default: the last axis, or, for a cube with dimension names, the one
        named like a spectral axis (``wavelength``, ``wavenumber``, ``band``, ...).

    Returns
    -------
    SignalSource
        Use it as a context manager, or call :meth:`~SignalSource.close`.

    Raises
    ------
    ValueError
        An unknown format, key or dimension name, no signals, signals of fewer than 2
        samples, more samples than ``limits.max_signal_length``, a header that does not
        match the data, a layout that cannot be read a window at a time.
    TypeError
        Arguments of the wrong type, or data of a dtype that is not real numbers (object
        arrays are refused: no pickle).
    FileNotFoundError
        ``path`` does not exist.
    ImportError
        Zarr, HDF5 and ENVI need the ``large`` extra.

    Notes
    -----
    Signals are float64 in :class:`Rows`, whatever the stored dtype. A cube's pixels are
    signals in C order over its non-spectral dimensions. A ragged HDF5 stack (a 1-D
    variable-length float dataset) is scanned once at open for its most common length,
    ``n_times``; its signals of another length fail with their reason.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path={path!r} must be a str or os.PathLike")
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key={key!r} must be a str or None")
    if spectral_axis is not None and (
        isinstance(spectral_axis, bool) or not isinstance(spectral_axis, (str, int, np.integer))
    ):
        raise TypeError(f"spectral_axis={spectral_axis!r} must be a dimension name or an int")
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {str(path)!r}")
    fmt, path = _detect(path.resolve())
    return _CLASSES[fmt](path, key, spectral_axis)
