"""Chunked readers of signals (issue 22): every format reads the same rows as memory."""

from __future__ import annotations

import json
import pickle
import sys
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest
import zarr
from numpy.testing import assert_array_equal
from spectral.io import envi

from saliency2signal.stream._sources import SOURCE_FORMATS, Rows, SignalSource, open_source

N_SIGNALS, N_TIMES = 37, 50
WINDOWS = [(0, 10), (10, 25), (30, 37), (36, 37), (5, 5), (0, 37)]


@pytest.fixture
def rng():
    return np.random.default_rng(22)


@pytest.fixture
def stack(rng):
    return rng.standard_normal((N_SIGNALS, N_TIMES)).astype(np.float32)


def _write_stack(fmt: str, folder, x) -> tuple:
    """Write ``x`` (n_signals, n_times) in ``fmt``; return (path, key)."""
    if fmt == "npy":
        path = folder / "x.npy"
        np.save(path, x)
    elif fmt in ("npz", "npz_compressed"):
        path = folder / "x.npz"
        save = np.savez_compressed if fmt == "npz_compressed" else np.savez
        save(path, signals=x, other=np.zeros(3))
    elif fmt == "zarr":
        path = folder / "x.zarr"
        group = zarr.open_group(path, mode="w")
        group.create_array("x", shape=x.shape, dtype=x.dtype, chunks=(8, N_TIMES))[:] = x
    else:
        path = folder / "x.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("group/x", data=x, chunks=(8, N_TIMES))
        return path, "group/x"
    return path, None


STACK_FORMATS = ["npy", "npz", "npz_compressed", "zarr", "hdf5"]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("fmt", STACK_FORMATS)
def test_a_stack_reads_the_rows_in_memory(fmt, window, stack, tmp_path):
    path, key = _write_stack(fmt, tmp_path, stack)
    start, stop = window
    with open_source(path, key=key) as source:
        rows = source.read(start, stop)
        ids = source.ids(start, stop)
        assert isinstance(source, SignalSource)
        assert source.format == fmt.split("_")[0]
        assert (source.n_signals, source.n_times) == (N_SIGNALS, N_TIMES)
        assert source.id_names == ("index",)
        assert source.image_shape is None
    assert isinstance(rows, Rows)
    assert rows.x.dtype == np.float64
    assert rows.x.shape == (stop - start, N_TIMES)
    assert_array_equal(rows.x, stack[start:stop].astype(np.float64))
    assert rows.ok.all()
    assert rows.reasons == (None,) * (stop - start)
    assert_array_equal(ids["index"], np.arange(start, stop))
    assert ids["index"].dtype == np.int64


def test_the_formats_are_named():
    assert SOURCE_FORMATS == ("npy", "npz", "zarr", "hdf5", "envi")


def test_one_signal_in_a_1d_npy(tmp_path, stack):
    np.save(tmp_path / "one.npy", stack[0])
    with open_source(tmp_path / "one.npy") as source:
        assert (source.n_signals, source.n_times) == (1, N_TIMES)
        assert_array_equal(source.read(0, 1).x[0], stack[0])


def test_a_compressed_npz_member_is_read_without_reading_all_of_it(tmp_path, monkeypatch):
    # ~49 MB of float64 that deflate shrinks about 9 times (well under max_inflation)
    x = np.random.default_rng(0).integers(0, 16, (3000, 2048)).astype(np.float64)
    path = tmp_path / "big.npz"
    np.savez_compressed(path, x=x)
    member = zipfile.ZipFile(path).getinfo("x.npy")
    assert member.compress_type == zipfile.ZIP_DEFLATED
    counted = []
    original = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = original(self, n)
        counted.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    tracemalloc.start()
    try:
        source = open_source(path)
        first = source.read(0, 10)
        first_bytes = sum(counted)
        last = source.read(2990, 3000)  # forward through the whole member, a MiB at a time
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
    assert first_bytes < member.file_size / 100
    assert peak < member.file_size / 10
    assert_array_equal(first.x, x[:10])
    assert_array_equal(last.x, x[2990:])


def test_a_compressed_npz_is_read_backwards_too(tmp_path, stack):
    path, _ = _write_stack("npz_compressed", tmp_path, stack)
    with open_source(path) as source:
        assert_array_equal(source.read(30, 37).x, stack[30:])
        assert_array_equal(source.read(2, 4).x, stack[2:4])
        assert_array_equal(source.read(20, 21).x, stack[20:21])


@pytest.mark.parametrize("interleave", ["bsq", "bip", "bil"])
def test_an_envi_cube_gives_pixels_ids_and_wavelengths(interleave, rng, tmp_path):
    lines, samples, bands = 5, 7, 12
    cube = rng.standard_normal((lines, samples, bands)).astype(np.float32)
    wavelengths = np.linspace(400.0, 950.0, bands)  # exact in the header's text
    hdr = tmp_path / "cube.hdr"
    meta = {"wavelength": [str(w) for w in wavelengths], "wavelength units": "nm"}
    envi.save_image(str(hdr), cube, interleave=interleave, metadata=meta, ext=".img")
    with open_source(hdr) as source:
        assert source.format == "envi"
        assert source.id_names == ("row", "col")
        assert source.image_shape == (lines, samples)
        assert (source.n_signals, source.n_times) == (lines * samples, bands)
        rows = source.read(3, 19)  # a partial first and last image row
        ids = source.ids(3, 19)
        assert_array_equal(source.axis, wavelengths)
        assert (source.axis_name, source.axis_units) == ("wavelength", "nm")
    assert_array_equal(rows.x, cube[ids["row"], ids["col"]])
    assert_array_equal(ids["row"] * samples + ids["col"], np.arange(3, 19))
    with open_source(tmp_path / "cube.img") as by_data_file:
        assert_array_equal(by_data_file.read(0, 35).x, cube.reshape(-1, bands))


def _write_h5_cube(path, cube, wavelengths, *, how: str):
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("cube", data=cube, chunks=(cube.shape[0], 2, 3))
        if how == "scales":
            scale = f.create_dataset("wavelength", data=wavelengths)
            scale.attrs["units"] = "cm-1"
            scale.make_scale("wavelength")
            ds.dims[0].attach_scale(scale)
            ds.dims[1].label = "y"
            ds.dims[2].label = "x"
        else:
            ds.attrs["DIMENSION_LABELS"] = np.array([b"wavelength", b"y", b"x"])
            f.create_dataset("wavenumbers", data=wavelengths).attrs["units"] = "cm-1"
        f.create_dataset("labels", data=np.arange(cube.shape[1] * cube.shape[2]))


def _write_zarr_cube(path, cube, wavelengths, *, how: str):
    fmt = 3 if how == "v3" else 2
    group = zarr.open_group(path, mode="w", zarr_format=fmt)
    names = ("wavelength", "y", "x")
    kwargs = {"dimension_names": names} if fmt == 3 else {}
    a = group.create_array("cube", shape=cube.shape, dtype=cube.dtype, chunks=(12, 2, 3), **kwargs)
    a[:] = cube
    if fmt == 2:
        a.attrs["_ARRAY_DIMENSIONS"] = list(names)
    w = group.create_array("wavelength", shape=wavelengths.shape, dtype=wavelengths.dtype)
    w[:] = wavelengths
    w.attrs.update({"units": "cm-1", "long_name": "Raman shift"})
    n = cube.shape[1] * cube.shape[2]
    group.create_array("y", shape=(n,), dtype="i8")[:] = np.arange(n)


@pytest.mark.parametrize(
    ("writer", "how", "path_name"),
    [
        (_write_h5_cube, "scales", "cube.h5"),
        (_write_h5_cube, "attribute", "cube.hdf5"),
        (_write_zarr_cube, "v3", "cube.zarr"),
        (_write_zarr_cube, "v2", "cube_v2"),
    ],
)
def test_a_cube_with_named_dimensions_gives_the_right_pixels(
    writer, how, path_name, rng, tmp_path
):
    bands, ny, nx = 12, 4, 6
    cube = rng.standard_normal((bands, ny, nx))  # spectral axis first
    wavelengths = np.linspace(100.0, 3000.0, bands)
    path = tmp_path / path_name
    writer(path, cube, wavelengths, how=how)
    pixels = np.moveaxis(cube, 0, -1)  # (y, x, wavelength)
    with open_source(path) as source:
        assert source.id_names == ("y", "x")
        assert source.image_shape == (ny, nx)
        assert (source.n_signals, source.n_times) == (ny * nx, bands)
        rows = source.read(5, 17)
        ids = source.ids(5, 17)
        assert_array_equal(source.axis, wavelengths)
        assert source.axis_units == "cm-1"
        assert_array_equal(source.labels(), np.arange(ny * nx))
        assert_array_equal(source.read(0, ny * nx).x, pixels.reshape(-1, bands))
    assert_array_equal(rows.x, pixels[ids["y"], ids["x"]])


def test_spectral_axis_by_name_or_index(rng, tmp_path):
    cube = rng.standard_normal((12, 4, 6))
    _write_zarr_cube(tmp_path / "c.zarr", cube, np.arange(12.0), how="v3")
    with open_source(tmp_path / "c.zarr", spectral_axis="X") as source:
        assert source.id_names == ("wavelength", "y")
        assert source.n_times == 6
        assert source.axis is None  # no coordinate of x's length
        assert_array_equal(source.read(0, 48).x, cube.reshape(48, 6))
    np.save(tmp_path / "c.npy", cube)
    with open_source(tmp_path / "c.npy", spectral_axis=0) as source:
        assert source.id_names == ("row", "col")
        assert_array_equal(source.read(0, 24).x, np.moveaxis(cube, 0, -1).reshape(24, 12))


def test_rows_with_non_finite_values_fail_with_their_reason(stack, tmp_path):
    x = stack.astype(np.float64)
    x[3, [1, 4, 9]] = np.nan
    x[5, 0] = np.inf
    np.save(tmp_path / "x.npy", x)
    with open_source(tmp_path / "x.npy") as source:
        rows = source.read(2, 7)
    assert_array_equal(rows.ok, [True, False, True, False, True])
    assert rows.reasons == (
        None,
        "non-finite values at 3 samples",
        None,
        "non-finite values at 1 samples",
        None,
    )
    assert np.isnan(rows.x[[1, 3]]).all()
    assert_array_equal(rows.x[[0, 2, 4]], x[[2, 4, 6]])


def test_a_ragged_hdf5_stack_fails_the_rows_of_another_length(rng, tmp_path):
    lengths = [20, 20, 18, 20, 22, 20]
    signals = [rng.standard_normal(n) for n in lengths]
    signals[5][2] = np.nan
    with h5py.File(tmp_path / "r.h5", "w") as f:
        ds = f.create_dataset("spectra", (6,), dtype=h5py.vlen_dtype(np.float64))
        for i, s in enumerate(signals):
            ds[i] = s
    with open_source(tmp_path / "r.h5") as source:
        assert (source.n_signals, source.n_times) == (6, 20)
        rows = source.read(1, 6)
        described = source.describe()
    assert rows.reasons == (
        None,
        "length 18, expected 20",
        None,
        "length 22, expected 20",
        "non-finite values at 1 samples",
    )
    assert_array_equal(rows.ok, [True, False, True, False, False])
    assert_array_equal(rows.x[[0, 2]], np.stack([signals[1], signals[3]]))
    assert np.isnan(rows.x[[1, 3, 4]]).all()
    assert described["dtype"] == "float64"


@pytest.mark.parametrize("fmt", ["npz", "zarr", "hdf5"])
def test_axis_labels_and_describe(fmt, stack, tmp_path):
    path, key = _write_stack(fmt, tmp_path, stack)
    axis = np.linspace(4000.0, 400.0, N_TIMES)
    labels = np.arange(N_SIGNALS) % 3
    if fmt == "npz":
        np.savez(path, x=stack, wavenumbers=axis, y=labels)
    elif fmt == "zarr":
        group = zarr.open_group(path, mode="a")
        group.create_array("axis", shape=axis.shape, dtype=axis.dtype)[:] = axis
        group["axis"].attrs["units"] = "cm-1"
        group.create_array("labels", shape=labels.shape, dtype=labels.dtype)[:] = labels
    else:
        with h5py.File(path, "a") as f:
            f.create_dataset("group/axis", data=axis).attrs["units"] = "cm-1"
            f.create_dataset("group/y", data=labels)
    with open_source(path, key=key) as source:
        assert_array_equal(source.axis, axis)
        assert_array_equal(source.labels(), labels)
        described = source.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["format"] == fmt
    assert described["path"] == str(path.resolve())
    assert described["shape"] == [N_SIGNALS, N_TIMES]
    assert described["dtype"] == "float32"
    assert described["size_bytes"] > stack.nbytes / 2
    assert len(described["sha256"]) == 64


def test_describe_changes_with_the_content(stack, tmp_path):
    np.save(tmp_path / "a.npy", stack)
    changed = stack.copy()
    changed[-1, -1] += 1
    np.save(tmp_path / "b.npy", changed)
    np.save(tmp_path / "c.npy", stack)
    with open_source(tmp_path / "a.npy") as a, open_source(tmp_path / "b.npy") as b:
        with open_source(tmp_path / "c.npy") as c:
            assert a.describe()["sha256"] == c.describe()["sha256"]
            assert a.describe()["sha256"] != b.describe()["sha256"]
        assert a.labels() is None
        assert a.axis is None


def _npy_bytes(shape, payload: bytes) -> bytes:
    """An ``.npy`` file whose header declares ``shape`` whatever the payload."""
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    body = b"\x93NUMPY\x01\x00"
    text = repr(header).encode()
    text += b" " * (-(len(body) + 2 + len(text) + 1) % 64) + b"\n"
    return body + len(text).to_bytes(2, "little") + text + payload


def _npz_with_header(path, shape, payload: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", _npy_bytes(shape, payload))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p: p.with_suffix(".csv").write_text("1,2\n"), ValueError, "supported formats"),
        (
            lambda p: np.savez(p.with_suffix(".npz"), x=np.array([[1, "a"]], dtype=object)),
            TypeError,
            "object dtype",
        ),
        (lambda p: np.save(p.with_suffix(".npy"), np.zeros((10, 1))), ValueError, "at least 2"),
        (lambda p: np.save(p.with_suffix(".npy"), np.zeros((0, 10))), ValueError, "no signals"),
        (
            lambda p: np.save(p.with_suffix(".npy"), np.zeros((3, 4), dtype=complex)),
            TypeError,
            "real numbers",
        ),
        (
            lambda p: np.savez(p.with_suffix(".npz"), x=np.asfortranarray(np.ones((3, 4)))),
            ValueError,
            "Fortran order",
        ),
        (
            lambda p: _npz_with_header(p.with_suffix(".npz"), (10**12, 10), bytes(80)),
            ValueError,
            "declares shape",
        ),
        (
            lambda p: p.with_suffix(".npy").write_bytes(_npy_bytes((10**12, 10), bytes(80))),
            ValueError,
            "declares shape",
        ),
        (
            lambda p: np.save(p.with_suffix(".npy"), np.zeros((1, 2**20 + 1), dtype=np.uint8)),
            ValueError,
            "max_signal_length",
        ),
        (
            lambda p: np.savez_compressed(p.with_suffix(".npz"), x=np.ones((3, 40))),
            ValueError,
            "compressed and its spectral axis is the first",
        ),
    ],
)
def test_bad_inputs_raise_one_clear_error(make, error, match, tmp_path):
    make(tmp_path / "bad")
    (path,) = tmp_path.iterdir()
    spectral_axis = 0 if "spectral axis" in match else None
    with pytest.raises(error, match=match):
        open_source(path, spectral_axis=spectral_axis)


def test_unknown_names_and_windows_are_refused(rng, stack, tmp_path):
    _write_zarr_cube(
        tmp_path / "c.zarr", rng.standard_normal((12, 4, 6)), np.arange(12.0), how="v3"
    )
    with pytest.raises(ValueError, match=r"'energy' is not a dimension.*'wavelength', 'y', 'x'"):
        open_source(tmp_path / "c.zarr", spectral_axis="energy")
    with pytest.raises(ValueError, match="key='nope' is not an array"):
        open_source(tmp_path / "c.zarr", key="nope")
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        open_source(tmp_path / "missing.npy")
    with pytest.raises(TypeError, match="spectral_axis=1.5"):
        open_source(tmp_path / "c.zarr", spectral_axis=1.5)
    np.save(tmp_path / "x.npy", stack)
    with pytest.raises(ValueError, match="key='x' must be None"):
        open_source(tmp_path / "x.npy", key="x")
    source = open_source(tmp_path / "x.npy")
    with pytest.raises(ValueError, match="stop=38"):
        source.read(0, 38)
    source.close()
    with pytest.raises(ValueError, match="closed"):
        source.read(0, 1)


def test_a_missing_extra_is_named(monkeypatch, stack, tmp_path):
    path, key = _write_stack("hdf5", tmp_path, stack)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"saliency2signal\[large\]"):
        open_source(path, key=key)


@pytest.mark.parametrize("fmt", STACK_FORMATS)
def test_a_pickled_source_opens_the_file_again(fmt, stack, tmp_path):
    # what sending a source to a Dask worker does
    path, key = _write_stack(fmt, tmp_path, stack)
    with open_source(path, key=key) as source:
        copy = pickle.loads(pickle.dumps(source))
    with copy:
        assert copy.describe() == open_source(path, key=key).describe()
        assert_array_equal(copy.read(20, 30).x, stack[20:30])
