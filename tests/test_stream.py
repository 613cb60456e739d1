"""Streamed runs (issue 22): chunked, resumable, on a Dask cluster, into a Zarr/Parquet store.

A small CNN on 128-sample signals keeps every run to seconds; the properties are those of
any run: the store of a streamed run holds what ``explain`` finds at once, a run killed
with SIGKILL and resumed writes the same store as one never interrupted, a two-process
``LocalCluster`` writes the same store as this process, another setting in the same folder
is refused, failing rows are recorded with their reason, and a cube's pixels keep their
positions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("zarr")
pytest.importorskip("pyarrow")

from saliency2signal import SSQConfig, explain  # noqa: E402
from saliency2signal.imaging import ImagingConfig  # noqa: E402
from saliency2signal.io import load_model, save_model  # noqa: E402
from saliency2signal.metadata import ModelMetadata  # noqa: E402
from saliency2signal.models import ScalogramCNN  # noqa: E402
from saliency2signal.stream import RunStore, explain_stream  # noqa: E402

N_TIMES = 128
SETTINGS = dict(n_null=5, peaks=False, n_steps=8, max_regions=3)
CLI_SETTINGS = ["--n-null", "5", "--no-peaks", "--max-regions", "3", "--no-figures"]


def _signals(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(N_TIMES)
    centres = rng.uniform(30, 100, n)
    y = (centres > 65).astype(np.int64)
    x = np.exp(-0.5 * ((t - centres[:, None]) / 4.0) ** 2)
    x += 0.02 * rng.standard_normal((n, N_TIMES))
    return x, y


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = ScalogramCNN(in_channels=1, n_classes=2, widths=(4, 8)).eval()
    meta = ModelMetadata(
        transform=SSQConfig(nv=8),
        imaging=ImagingConfig(size=(16, 16), normalize="minmax"),
        class_names=("left", "right"),
        n_times=N_TIMES,
        axis_name="sample",
        axis_units="samples",
    )
    return save_model(net, tmp_path_factory.mktemp("model") / "net.pt", metadata=meta)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    x, y = _signals(23)
    path = tmp_path_factory.mktemp("data") / "spectra.npz"
    np.savez(path, x=x, y=y)
    return path


def _contents(folder: Path) -> dict:
    """A store's arrays and table rows (what must match between two runs)."""
    store = RunStore.open(folder)
    group = store.arrays()
    arrays = {name: group[name][:] for name in sorted(group.array_keys())}
    tables = {name: store.table(name).to_pylist() for name in ("samples", "regions")}
    return {"arrays": arrays, "tables": tables, "key": store.key}


def _assert_same(a: dict, b: dict, *, exact: bool = True) -> None:
    assert a["key"] == b["key"]
    assert a["arrays"].keys() == b["arrays"].keys()
    for name in a["arrays"]:
        if exact:
            assert np.array_equal(a["arrays"][name], b["arrays"][name]), name
        else:
            np.testing.assert_allclose(
                a["arrays"][name].astype(float), b["arrays"][name].astype(float), atol=1e-5
            )
    for name in ("samples", "regions"):
        assert len(a["tables"][name]) == len(b["tables"][name])
        for ra, rb in zip(a["tables"][name], b["tables"][name], strict=True):
            if exact:
                assert ra == rb
            else:
                assert ra.keys() == rb.keys()
                for k in ra:
                    if isinstance(ra[k], float):
                        assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-6), k
                    elif k != "probabilities":
                        assert ra[k] == rb[k], k


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "saliency2signal.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# --------------------------------------------------------------------- same as explain
def test_streamed_store_holds_what_explain_finds_at_once(tmp_path, model_file, data):
    model, meta = load_model(model_file)
    x, y = np.load(data)["x"], np.load(data)["y"]
    summary = explain_stream(
        model,
        data,
        tmp_path / "run",
        metadata=meta,
        labels="source",
        chunk_size=5,
        batch_size=4,
        **SETTINGS,
    )
    assert (summary.n_signals, summary.n_explained, summary.n_failed) == (23, 23, 0)
    assert summary.n_chunks == 5 and summary.chunks_run == 5 and not summary.resumed
    e = explain(model, x, metadata=meta, labels=y, batch_size=4, **SETTINGS)
    store = RunStore.open(tmp_path / "run")
    group = store.arrays()
    r = e.components.shape[1]
    np.testing.assert_allclose(group["components"][:, :r], e.components, atol=1e-6)
    assert np.array_equal(group["labels"][:], e.labels)
    np.testing.assert_allclose(group["profile"][:], e.profile, rtol=1e-5, atol=1e-6)
    samples = store.table("samples").to_pylist()
    assert [s["prediction"] for s in samples] == e.predictions.tolist()
    assert [s["label"] for s in samples] == y.tolist()
    assert [s["verdict"] for s in samples] == [v.level for v in e.verdicts]
    regions = store.table("regions").to_pylist()
    expected = [(b, k + 1, r.drop) for b in range(23) for k, r in enumerate(e.regions[b])]
    assert [(g["sample"], g["region"]) for g in regions] == [(b, k) for b, k, _ in expected]
    np.testing.assert_allclose([g["drop"] for g in regions], [d for *_, d in expected], atol=1e-6)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["n_explained"] == 23


# --------------------------------------------------------------------- resume
def test_killed_run_resumes_to_the_same_store(tmp_path, model_file, data):
    args = ["explain", str(model_file), str(data), "--chunk-size", "3", *CLI_SETTINGS]
    _cli(*args, "--out", str(tmp_path / "whole"))
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "saliency2signal.cli", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        parts = list((out / "samples").glob("part-*.parquet")) if out.is_dir() else []
        if len(parts) >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = RunStore.open(out).done_chunks()
    assert 2 <= len(done) < 8, "the kill did not land midway"
    resumed = _cli(*args, "--out", str(out))
    assert "resumed" in resumed.stdout
    assert f"({8 - len(done)} run now" in resumed.stdout
    _assert_same(_contents(out), _contents(tmp_path / "whole"))


def test_another_setting_in_the_same_folder_is_refused(tmp_path, model_file, data):
    out = tmp_path / "run"
    args = ["explain", str(model_file), str(data), "--chunk-size", "8", *CLI_SETTINGS]
    _cli(*args, "--out", str(out))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    proc = _cli(*args, "--out", str(out), "--keep-mass", "0.6", check=False)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "holds another run" in proc.stderr and "keep_mass" in proc.stderr
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before
    # the same settings again: nothing left to do
    again = _cli(*args, "--out", str(out))
    assert "(0 run now" in again.stdout


# --------------------------------------------------------------------- failures
def test_failing_rows_are_recorded_and_skipped(tmp_path, model_file):
    model, meta = load_model(model_file)
    x, _ = _signals(9, seed=3)
    x[2, 40] = np.nan
    x[7, :] = np.inf
    path = tmp_path / "bad.npy"
    np.save(path, x)
    summary = explain_stream(
        model, path, tmp_path / "run", metadata=meta, chunk_size=4, batch_size=4, **SETTINGS
    )
    assert (summary.n_explained, summary.n_failed) == (7, 2)
    assert sum(summary.failures.values()) == 2
    samples = RunStore.open(tmp_path / "run").table("samples").to_pylist()
    failed = [(s["sample"], s["status"]) for s in samples if s["status"] == "failed"]
    assert failed == [(2, "failed"), (7, "failed")]
    assert all("non-finite" in s["reason"] for s in samples if s["status"] == "failed")
    good = explain(model, x[[0, 1, 3]], metadata=meta, batch_size=4, **SETTINGS)
    comps = RunStore.open(tmp_path / "run").arrays()["components"]
    r = good.components.shape[1]
    np.testing.assert_allclose(comps[[0, 1, 3], :r], good.components, atol=1e-6)
    assert not comps[2].any()


# --------------------------------------------------------------------- cluster
def test_local_cluster_writes_the_same_store(tmp_path, model_file, data):
    distributed = pytest.importorskip("distributed")
    model, meta = load_model(model_file)
    kw = dict(metadata=meta, labels="source", chunk_size=5, batch_size=4, threads=1, **SETTINGS)
    explain_stream(model, data, tmp_path / "here", **kw)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        seen = []
        summary = explain_stream(
            model,
            data,
            tmp_path / "there",
            client=client,
            progress=lambda d, t: seen.append(d),
            **kw,
        )
        workers = client.run(lambda: os.getpid())
    assert summary.n_explained == 23 and summary.chunks_run == 5
    assert seen[-1] == 23 and len(seen) == 5
    assert len(set(workers.values())) == 2
    _assert_same(_contents(tmp_path / "there"), _contents(tmp_path / "here"), exact=False)


# --------------------------------------------------------------------- cubes
def test_envi_cube_pixels_keep_their_positions(tmp_path, model_file):
    envi = pytest.importorskip("spectral.io.envi")
    model, meta = load_model(model_file)
    x, _ = _signals(12, seed=5)
    cube = x.reshape(3, 4, N_TIMES).astype(np.float32)
    envi.save_image(
        str(tmp_path / "cube.hdr"),
        cube,
        interleave="bsq",
        metadata={"wavelength": [float(v) for v in range(N_TIMES)]},
    )
    proc = _cli(
        "explain",
        str(model_file),
        str(tmp_path / "cube.hdr"),
        "--out",
        str(tmp_path / "run"),
        "--chunk-size",
        "5",
        *CLI_SETTINGS,
    )
    assert "12 of 12 signal(s) explained" in proc.stdout
    store = RunStore.open(tmp_path / "run")
    assert store.layout["image_shape"] == [3, 4]
    samples = store.table("samples").to_pylist()
    e = explain(model, x.astype(np.float32), metadata=meta, batch_size=16, **SETTINGS)
    comps = store.arrays()["components"][:]
    for s in samples:
        b = s["row"] * 4 + s["col"]
        assert s["prediction"] == int(e.predictions[b])
        r = e.components.shape[1]
        np.testing.assert_allclose(comps[s["sample"], :r], e.components[b], atol=1e-5)


# --------------------------------------------------------------------- the README
@pytest.mark.slow
def test_readme_large_run_commands_run_as_written(tmp_path, console_script):
    """The three commands of the README's "Large runs" (streamed, resumed, on a cluster)."""
    import re
    import shlex

    pytest.importorskip("distributed")
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    block = text[text.index("## Large runs") :]
    commands = re.search(r"```bash\n(.*?)```", block, re.S).group(1).strip().splitlines()
    assert len(commands) == 3
    for name in ("models", "data"):
        (tmp_path / name).symlink_to(root / name)
    outs = []
    for command in commands:
        args = shlex.split(command)
        done = subprocess.run(
            [console_script, *args[1:]], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout)
    assert "wrote coffee_run: 28 of 28 signal(s) explained in 4 chunk(s) (4 run now" in outs[0]
    assert "resumed coffee_run" in outs[1] and "(0 run now" in outs[1]
    assert "28 of 28" in outs[2]
    _assert_same(
        _contents(tmp_path / "coffee_run_dask"), _contents(tmp_path / "coffee_run"), exact=False
    )
