"""Streamed evaluations (issue 22): ``evaluate`` chunk by chunk into a resumable run store.

A small CNN on 128-sample signals and a five-draw null keep every run to seconds. A
one-chunk run scores what :func:`evaluate` scores with the chunk's seed; a multi-chunk
run's report is the summary of its own samples table and, for the scores that use no
random draw, the summary :func:`evaluate` gives at once; a run killed with SIGKILL and
resumed writes the tables of one never interrupted; another setting in the same folder is
refused in one line; failing rows are recorded once with their reason.
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

from saliency2signal import SSQConfig, evaluate  # noqa: E402
from saliency2signal.imaging import ImagingConfig  # noqa: E402
from saliency2signal.io import load_model, save_model  # noqa: E402
from saliency2signal.metadata import ModelMetadata  # noqa: E402
from saliency2signal.models import ScalogramCNN  # noqa: E402
from saliency2signal.stream import RunStore  # noqa: E402
from saliency2signal.stream._evaluate import chunk_seed, evaluate_stream  # noqa: E402
from saliency2signal.stream._evaluation_report import MEAN_SCORES, MEDIAN_SCORES  # noqa: E402

N_TIMES = 128
SETTINGS = dict(n_null=5, n_steps=8, max_regions=3)
CLI = ["--n-null", "5", "--max-regions", "3", "--randomization", "none", "--methods"]
#: Scores that use no random draw: the same whatever the chunks' seeds.
SEED_FREE = ("p_target", "deletion_auc", "deletion_lerf_auc", "insertion_auc", "top_drop")


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
    )
    return save_model(net, tmp_path_factory.mktemp("model") / "net.pt", metadata=meta)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    x, y = _signals(11)
    path = tmp_path_factory.mktemp("data") / "spectra.npz"
    np.savez(path, x=x, y=y)
    return path


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


def _samples(folder: Path) -> list[dict]:
    return RunStore.open(folder).table("samples").to_pylist()


def _nanmean(v) -> float | None:
    v = np.asarray([np.nan if a is None else a for a in v], dtype=float)
    return float(np.nanmean(v)) if np.any(~np.isnan(v)) else None


def _nanmedian(v) -> float | None:
    v = np.asarray([np.nan if a is None else a for a in v], dtype=float)
    return float(np.nanmedian(v)) if np.any(~np.isnan(v)) else None


def _close(a, b) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and a == pytest.approx(b, rel=1e-9, abs=1e-12)
    )


# --------------------------------------------------------------------- same as evaluate
def test_one_chunk_scores_what_evaluate_scores_with_its_seed(tmp_path, model_file, data):
    model, meta = load_model(model_file)
    x, y = np.load(data)["x"][:5], np.load(data)["y"][:5]
    np.save(tmp_path / "x.npy", x)
    methods = ("saliency", "input_x_gradient")
    summary = evaluate_stream(
        model,
        tmp_path / "x.npy",
        tmp_path / "run",
        metadata=meta,
        labels=y,
        methods=methods,
        randomization="none",
        chunk_size=5,
        batch_size=4,
        seed=3,
        **SETTINGS,
    )
    assert (summary.n_chunks, summary.n_explained, summary.n_failed) == (1, 5, 0)
    ev = evaluate(
        model,
        x,
        metadata=meta,
        labels=y,
        methods=methods,
        randomization="none",
        batch_size=4,
        seed=chunk_seed(3, 0),
        **SETTINGS,
    )
    expected = {(r["method"], r["index"]): r for r in ev.samples_table()}
    rows = _samples(tmp_path / "run")
    assert len(rows) == len(expected) == 10
    # signal-major: each signal's methods together
    assert [(r["sample"], r["method"]) for r in rows] == [
        (b, m) for b in range(5) for m in methods
    ]
    for r in rows:
        e = expected[(r["method"], r["sample"])]
        assert (r["target"], r["label"], r["prediction"], r["n_regions"]) == (
            e["target"],
            e["label"],
            e["prediction"],
            e["n_regions"],
        )
        for k in (*MEAN_SCORES, *MEDIAN_SCORES, "top_drop_beaten"):
            assert _close(r[k], e[k]), (k, r[k], e[k])
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    for got, want in zip(report["summary"], ev.table(), strict=True):
        assert got.keys() == want.keys()
        for k in got:
            if k != "seconds":
                assert _close(got[k], want[k]) if isinstance(got[k], float) else got[k] == want[k]


# --------------------------------------------------------------------- the report
def test_report_is_the_summary_of_its_samples(tmp_path, model_file, data):
    model, meta = load_model(model_file)
    x, y = np.load(data)["x"], np.load(data)["y"]
    kw = dict(metadata=meta, methods="saliency", randomization="full", batch_size=4, **SETTINGS)
    summary = evaluate_stream(model, data, tmp_path / "run", labels="source", chunk_size=4, **kw)
    assert (summary.n_chunks, summary.n_explained) == (3, 11)
    folder = tmp_path / "run"
    report = json.loads((folder / "report.json").read_text())
    assert report["schema"] == "saliency2signal.evaluation-run"
    assert report["counts"] == {"n_signals": 11, "n_evaluated": 11, "n_failed": 0, "failures": {}}
    assert report["settings"]["randomization"] == "full"
    [row] = report["summary"]
    rows = _samples(folder)
    by_hand = {"n_samples": len(rows), "mean_regions": _nanmean([r["n_regions"] for r in rows])}
    by_hand.update({k: _nanmean([r[k] for r in rows]) for k in MEAN_SCORES})
    by_hand.update({k: _nanmedian([r[k] for r in rows]) for k in MEDIAN_SCORES})
    beaten = [r["top_drop_beaten"] for r in rows if r["top_drop_beaten"] is not None]
    by_hand["share_top_drop_beats_95"] = float(np.mean(np.asarray(beaten) >= 0.95))
    for k in ("spearman", "ssim", "spearman_tf"):
        by_hand[f"randomized_{k}"] = _nanmean([r[f"randomized_{k}"] for r in rows])
    for k, v in by_hand.items():
        assert _close(row[k], v), (k, row[k], v)
    # the scores without random draws are those of evaluate() at once
    [at_once] = evaluate(model, x, labels=y, **kw).table()
    for k in (*SEED_FREE, "mean_regions", "n_samples"):
        assert row[k] == pytest.approx(at_once[k], rel=1e-6, abs=1e-9), k
    assert set(row) == set(at_once)
    assert "deletion_auc" in (folder / "summary.csv").read_text().splitlines()[0]
    assert "<table>" in (folder / "index.html").read_text()
    assert len(report["curves"]["saliency"]["deletion"]) == SETTINGS["max_regions"] + 1


# --------------------------------------------------------------------- resume
def test_killed_run_resumes_to_the_same_tables(tmp_path, model_file, tmp_path_factory):
    x, y = _signals(16, seed=1)
    data = tmp_path / "spectra.npz"
    np.savez(data, x=x, y=y)
    args = ["evaluate", str(model_file), str(data), "--chunk-size", "2", *CLI, "saliency"]
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
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = RunStore.open(out).done_chunks()
    assert 2 <= len(done) < 8, "the kill did not land midway"
    assert not (out / "report.json").exists()
    resumed = _cli(*args, "--out", str(out))
    assert "resumed" in resumed.stdout
    assert f"({8 - len(done)} run now" in resumed.stdout
    for name in ("samples", "regions"):
        a = RunStore.open(out).table(name).to_pylist()
        b = RunStore.open(tmp_path / "whole").table(name).to_pylist()
        assert a == b, name
    assert RunStore.open(out).key == RunStore.open(tmp_path / "whole").key
    summary = lambda f: [  # noqa: E731
        {k: v for k, v in r.items() if k != "seconds"}
        for r in json.loads((f / "report.json").read_text())["summary"]
    ]
    assert summary(out) == summary(tmp_path / "whole")


def test_another_setting_in_the_same_folder_is_refused(tmp_path, model_file, data):
    out = tmp_path / "run"
    args = ["evaluate", str(model_file), str(data), "--stream", *CLI, "saliency"]
    first = _cli(*args, "--out", str(out))
    assert "11 of 11 signal(s) evaluated" in first.stdout
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    proc = _cli(*args, "--out", str(out), "--keep-mass", "0.6", check=False)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "holds another run" in proc.stderr and "keep_mass" in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


# --------------------------------------------------------------------- failures
def test_failing_rows_are_recorded_once(tmp_path, model_file):
    model, meta = load_model(model_file)
    x, _ = _signals(6, seed=3)
    x[2, 40] = np.nan
    x[5, :] = np.inf
    np.save(tmp_path / "bad.npy", x)
    summary = evaluate_stream(
        model,
        tmp_path / "bad.npy",
        tmp_path / "run",
        metadata=meta,
        methods=("saliency", "input_x_gradient"),
        randomization="none",
        chunk_size=3,
        batch_size=4,
        **SETTINGS,
    )
    assert (summary.n_explained, summary.n_failed) == (4, 2)
    rows = _samples(tmp_path / "run")
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["sample"], r["method"]) for r in failed] == [(2, None), (5, None)]
    assert all("non-finite" in r["reason"] for r in failed)
    assert len(rows) == 2 + 4 * 2
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["counts"]["n_failed"] == 2 and sum(report["counts"]["failures"].values()) == 2
    assert [r["n_samples"] for r in report["summary"]] == [4, 4]


def test_unknown_settings_are_refused_before_a_folder_is_made(tmp_path, model_file, data):
    model, meta = load_model(model_file)
    with pytest.raises(ValueError, match="randomization='sometimes'"):
        evaluate_stream(model, data, tmp_path / "a", metadata=meta, randomization="sometimes")
    with pytest.raises(ValueError, match="repeats"):
        evaluate_stream(model, data, tmp_path / "a", metadata=meta, methods=["saliency"] * 2)
    assert not (tmp_path / "a").exists()
