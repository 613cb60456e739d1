"""The console script as a user runs it: bad input gives one line on stderr, a non-zero
exit, no traceback, no output folder, and leaves every input untouched."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "coffee.pt"
LEGACY = ROOT / "tests" / "data" / "legacy_torchscript.pt"


@pytest.fixture
def run(console_script, tmp_path):
    """Run the console script with arguments, in ``tmp_path``; return the completed run."""

    def _run(*args):
        return subprocess.run(
            [console_script, *map(str, args)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return _run


def _digest(paths):
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def test_help_lists_the_commands(tmp_path, run):
    done = run("--help")
    assert done.returncode == 0
    for cmd in ("transform", "train", "explain", "info", "reconstruct"):
        assert cmd in done.stdout
    done = run("explain", "--help")
    assert done.returncode == 0 and "--keep-mass" in done.stdout


def _spectra(n=3, length=286, seed=0):
    return np.random.default_rng(seed).standard_normal((n, length))


CASES = {
    "missing file": lambda d: d / "nope.npy",
    "wrong extension": lambda d: _write(d / "x.txt.gz", b"abc"),
    "pickled object array": lambda d: _save(d / "obj.npy", np.array([{"a": 1}], dtype=object)),
    "NaN values": lambda d: _save(d / "nan.npy", np.where(_spectra() > 2, np.nan, _spectra())),
    "inf values": lambda d: _save(d / "inf.npy", np.where(_spectra() > 2, np.inf, _spectra())),
    "wrong length": lambda d: _save(d / "short.npy", _spectra(length=200)),
    "3-D data": lambda d: _save(d / "cube.npy", _spectra()[None]),
    "empty file": lambda d: _write(d / "empty.npy", b""),
}


def _save(path, arr):
    np.save(path, arr, allow_pickle=True)
    return path


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data(tmp_path, run, case):
    data = CASES[case](tmp_path)
    inputs = [p for p in (data, MODEL) if Path(p).exists()]
    before = _digest(inputs)
    out = tmp_path / "out"
    done = run("explain", MODEL, data, "--out", out)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert _digest(inputs) == before


def test_labels_of_the_wrong_length(tmp_path, run):
    data = _save(tmp_path / "x.npy", _spectra())
    labels = _save(tmp_path / "y.npy", np.array([0, 1]))
    out = tmp_path / "out"
    done = run("explain", MODEL, data, "--labels", labels, "--out", out)
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert "2 labels for 3 signals" in done.stderr and not out.exists()


def test_existing_output_folder_and_a_model_that_is_not_one(tmp_path, run):
    data = _save(tmp_path / "x.npy", _spectra(n=1))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    done = run("explain", MODEL, data, "--out", out, "--no-figures")
    assert done.returncode != 0 and "--overwrite" in done.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    fake = _write(tmp_path / "fake.pt", b"PK\x03\x04 not really a zip")
    out2 = tmp_path / "out2"
    done = run("explain", fake, data, "--out", out2)
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr and not out2.exists()


@pytest.mark.parametrize(("model", "fmt"), [(MODEL, "state_dict"), (LEGACY, "torchscript")])
def test_info_names_the_format_and_prints_no_warning(tmp_path, run, model, fmt):
    done = run("info", model)
    assert done.returncode == 0 and done.stderr == ""
    info = json.loads(done.stdout)
    assert info["format"] == fmt and info["metadata"]["n_times"] > 0
    if fmt == "torchscript":
        assert "legacy, read-only" in info["format_description"]


def test_info_into_a_closed_pipe_ends_quietly(tmp_path, console_script):
    exe = console_script
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the command writes a byte: every write fails
    try:
        done = subprocess.run(
            [exe, "info", str(MODEL)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")
    # as a user types it
    done = subprocess.run(
        ["bash", "-c", f'set -o pipefail; "{exe}" info "{MODEL}" | head -1'],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "{\n", "")


@pytest.mark.parametrize(
    "args", [("explain",), ("explian", "x"), ("explain", "a", "b", "--keep-mass", "lots")]
)
def test_argument_errors_are_one_line(run, args):
    done = run(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "error:" in done.stderr and "--help" in done.stderr
