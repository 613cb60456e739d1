"""Tests of saliency2signal.datasets, the committed data files and the committed models."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from saliency2signal.datasets import (
    DATA_DIR,
    LabelledSpectra,
    PlantedSpectra,
    load_brewed_coffee,
    load_coffee,
    load_planted,
    make_planted_spectra,
)
from saliency2signal.io import load_model
from saliency2signal.models import make_images

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
TRUTH = ("centres", "widths", "amplitudes", "windows", "components", "decoy_centres")


# ----------------------------------------------------------------------- generator
@pytest.mark.parametrize("n_samples", [1, 7, 40])
@pytest.mark.parametrize("n_decoys", [0, 3])
def test_shapes_and_balance(n_samples, n_decoys):
    d = make_planted_spectra(n_samples, n_points=128, n_decoys=n_decoys, rng=3)
    assert isinstance(d, PlantedSpectra)
    assert d.x.shape == d.components.shape == d.window_mask().shape == (n_samples, 128)
    assert d.y.shape == d.centres.shape == d.widths.shape == d.amplitudes.shape == (n_samples,)
    assert d.windows.shape == (n_samples, 2)
    assert d.decoy_centres.shape == (n_samples, n_decoys)
    assert d.axis.shape == (128,)
    assert d.y.dtype == np.int64
    counts = np.bincount(d.y, minlength=2)
    assert counts.max() - counts.min() <= 1


def test_ground_truth_presence(rng):
    d = make_planted_spectra(60, rng=rng)
    assert d.class_names == ("absent", "peak@1000")
    # the class is decided by the planted peak: present exactly for class 1
    assert_array_equal(d.present, d.y == 1)
    assert np.all(d.components[d.y == 0] == 0)
    assert np.all(d.amplitudes[d.y == 1] >= 0.5)
    # the component is a Gaussian of the recorded centre, width and amplitude
    expected = d.amplitudes[:, None] * np.exp(
        -0.5 * ((d.axis - d.centres[:, None]) / d.widths[:, None]) ** 2
    )
    assert_allclose(d.components, expected, rtol=1e-12, atol=0)
    assert_allclose(
        d.windows, np.stack([d.centres - 3 * d.widths, d.centres + 3 * d.widths], axis=1)
    )
    # the planted peak sits in its window: > 99 % of its energy, its maximum inside
    inside = d.window_mask()
    present = d.present
    energy_in = (d.components**2 * inside).sum(1)[present]
    assert np.all(energy_in >= 0.99 * (d.components**2).sum(1)[present])
    peak_at = d.axis[np.argmax(d.components, axis=1)][present]
    assert np.all(np.abs(peak_at - d.centres[present]) <= np.diff(d.axis)[0])
    assert np.all(np.abs(d.centres - 1000) <= 10)


def test_decoys_shared_and_clear_of_window(rng):
    d = make_planted_spectra(200, rng=rng)
    # decoys keep out of every possible window (nominal ± 3 * max width ± jitter)
    assert np.all(np.abs(d.decoy_centres - 1000) > 3 * 18 + 10)
    # drawn the same way for both classes: similar placement statistics
    m0, m1 = d.decoy_centres[d.y == 0].mean(), d.decoy_centres[d.y == 1].mean()
    assert abs(m0 - m1) < 60


def test_residual_has_no_class_information(rng):
    d = make_planted_spectra(200, noise=0.0, rng=rng)
    rest = d.x - d.components
    # without the planted peak, the mean spectrum near 1000 cm^-1 is the same per class
    near = np.abs(d.axis - 1000) < 30
    diff = rest[d.y == 1][:, near].mean() - rest[d.y == 0][:, near].mean()
    with_peak = d.x[d.y == 1][:, near].mean() - d.x[d.y == 0][:, near].mean()
    assert abs(diff) < 0.25 < with_peak


def test_position_classes():
    d = make_planted_spectra(10, class_centres=(800.0, 1300.0), class_names=["lo", "hi"], rng=0)
    assert d.class_names == ("lo", "hi")
    assert np.all(d.present)
    assert_array_equal(np.abs(d.centres - 1300) <= 10, d.y == 1)
    assert np.all(np.abs(d.centres - np.where(d.y == 1, 1300, 800)) <= 10)


@pytest.mark.parametrize("seed", [0, 12345])
def test_seed_reproducible(seed):
    a = make_planted_spectra(9, rng=seed)
    b = make_planted_spectra(9, rng=np.random.default_rng(seed))
    for name in ("x", "y", *TRUTH):
        assert_array_equal(getattr(a, name), getattr(b, name))
    c = make_planted_spectra(9, rng=seed + 1)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples=0"),
        ({"n_points": 8}, "n_points=8"),
        ({"n_decoys": -1}, "n_decoys=-1"),
        ({"noise": -0.1}, "noise=-0.1"),
        ({"width_range": (5.0, 1.0)}, "width_range"),
        ({"class_centres": (None,)}, "at least two"),
        ({"class_centres": (None, None)}, "distinct"),
        ({"class_centres": (None, 300.0)}, "inside axis_range"),
        ({"class_names": ["a"]}, "class_names"),
        ({"rng": -1}, "rng=-1"),
    ],
)
def test_bad_values(kwargs, match):
    args = {"n_samples": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_planted_spectra(args.pop("n_samples"), **args)


@pytest.mark.parametrize("rng", [1.5, "0", True])
def test_bad_rng_type(rng):
    with pytest.raises(TypeError, match="rng="):
        make_planted_spectra(3, rng=rng)


# ----------------------------------------------------------------------- committed data
def test_data_dir_is_the_repository_data_folder():
    assert DATA_DIR == ROOT / "data"


@pytest.mark.parametrize("split", ["train", "test"])
def test_coffee_file(split):
    with np.load(DATA_DIR / "coffee.npz", allow_pickle=False) as npz:
        assert {"X_train", "y_train", "X_test", "y_test", "axis", "class_names"} <= set(npz.files)
    d = load_coffee(split)
    assert isinstance(d, LabelledSpectra)
    assert d.x.shape == (28, 286)
    assert d.y.shape == (28,)
    assert d.class_names == ("Arabica", "Robusta")
    assert_allclose(d.x.mean(1), 0, atol=1e-6)  # z-normalised per spectrum


@pytest.mark.parametrize(("split", "n"), [("train", 120), ("test", 60)])
def test_planted_file(split, n):
    with np.load(DATA_DIR / "planted.npz", allow_pickle=False) as npz:
        expected = {"axis", "class_names"} | {
            f"{k}_{s}" for k in ("X", "y", *TRUTH) for s in ("train", "test")
        }
        assert set(npz.files) == expected
    d = load_planted(split)
    assert d.x.shape == d.components.shape == (n, 400)
    assert d.class_names == ("absent", "peak@1000")
    assert_array_equal(d.present, d.y == 1)
    assert_array_equal(np.bincount(d.y), [n // 2, n // 2])
    assert d.axis[0] == 400 and d.axis[-1] == 1800


def test_planted_file_regenerates():
    """``data/make_planted.py`` draws train then test from one seeded generator."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_planted", DATA_DIR / "make_planted.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)  # defines main() only; nothing is written
    gen = np.random.default_rng(script.SEED)
    fresh = {
        "train": make_planted_spectra(script.N_TRAIN, rng=gen),
        "test": make_planted_spectra(script.N_TEST, rng=gen),
    }
    for split, d in fresh.items():
        stored = load_planted(split)
        assert_array_equal(stored.y, d.y)
        for name in ("x", *TRUTH):
            assert_allclose(getattr(stored, name), getattr(d, name), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("loader", [load_coffee, load_planted])
def test_loaders_bad_split_and_missing_file(loader, tmp_path):
    with pytest.raises(ValueError, match="split='val'"):
        loader("val")
    with pytest.raises(FileNotFoundError, match="data/"):
        loader("train", path=tmp_path / "missing.npz")


# ------------------------------------------------- brewed coffee (the chemotools package)
ORIGINS = ("Brasil", "Ethiopia", "Vietnam")


@pytest.mark.parametrize(("split", "per_origin"), [("train", 14), ("test", 6), ("all", 20)])
def test_brewed_coffee_shapes_and_classes(split, per_origin):
    d = load_brewed_coffee(split)
    assert isinstance(d, LabelledSpectra)
    n = 3 * per_origin
    assert d.x.shape == (n, 1841) and d.x.dtype == np.float64
    assert d.y.shape == (n,) and d.y.dtype == np.int64
    assert d.class_names == ORIGINS
    assert_array_equal(np.bincount(d.y, minlength=3), [per_origin] * 3)  # stratified
    assert_array_equal(d.axis, np.arange(1841.0))  # no wavenumbers in the files
    assert np.all(np.isfinite(d.x))
    assert 0.5 < d.x.max() < 2 and d.x.min() > -0.1  # absorbances, not normalised


def test_brewed_coffee_is_chemotools_files():
    import csv
    import importlib.resources

    files = importlib.resources.files("chemotools.datasets.data")
    with files.joinpath("coffee_spectra.csv").open() as fh:
        rows = list(csv.reader(fh))
    with files.joinpath("coffee_labels.csv").open() as fh:
        labels = [r[0] for r in csv.reader(fh)]
    assert rows[0] == [str(i) for i in range(1841)] and labels[0] == "labels"
    d = load_brewed_coffee("all")  # the files' order
    assert_array_equal(d.x, np.array(rows[1:], dtype=float))
    assert [d.class_names[k] for k in d.y] == labels[1:]
    assert d.class_names[d.y[0]] == "Ethiopia"


def _rows(d: LabelledSpectra) -> set[bytes]:
    return {row.tobytes() for row in d.x}


def test_brewed_coffee_split_is_a_partition_and_seeded():
    train, test, every = (load_brewed_coffee(s) for s in ("train", "test", "all"))
    assert _rows(train).isdisjoint(_rows(test))
    assert _rows(train) | _rows(test) == _rows(every)
    # the same seed gives the same split, a generator seeded alike too; another seed not
    assert_array_equal(load_brewed_coffee("test", rng=0).x, test.x)
    assert_array_equal(load_brewed_coffee("test", rng=np.random.default_rng(0)).x, test.x)
    assert _rows(load_brewed_coffee("test", rng=1)) != _rows(test)
    # the labels travel with their spectra
    label = {row.tobytes(): y for row, y in zip(every.x, every.y, strict=True)}
    assert all(label[row.tobytes()] == y for row, y in zip(test.x, test.y, strict=True))


@pytest.mark.parametrize(("test_fraction", "per_origin"), [(0.01, 1), (0.5, 10), (0.99, 19)])
def test_brewed_coffee_test_fraction(test_fraction, per_origin):
    test = load_brewed_coffee("test", test_fraction=test_fraction)
    train = load_brewed_coffee("train", test_fraction=test_fraction)
    assert_array_equal(np.bincount(test.y, minlength=3), [per_origin] * 3)
    assert_array_equal(np.bincount(train.y, minlength=3), [20 - per_origin] * 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "val"}, ValueError, "split='val'"),
        ({"test_fraction": 0}, ValueError, "test_fraction=0"),
        ({"test_fraction": 1.0}, ValueError, "test_fraction=1.0"),
        ({"test_fraction": "0.3"}, TypeError, "test_fraction="),
        ({"rng": -1}, ValueError, "rng=-1"),
        ({"rng": None}, TypeError, "rng=None"),
    ],
)
def test_brewed_coffee_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_brewed_coffee(**kwargs)


def test_brewed_coffee_without_chemotools(monkeypatch):
    for name in ("chemotools", "chemotools.datasets", "chemotools.datasets.data"):
        monkeypatch.setitem(sys.modules, name, None)  # import of it fails
    with pytest.raises(ModuleNotFoundError, match="pip install chemotools") as info:
        load_brewed_coffee()
    assert info.value.name == "chemotools"


def test_brewed_coffee_runs_none_of_scikit_learn():
    code = (
        "import sys; from saliency2signal.datasets import load_brewed_coffee; "
        "load_brewed_coffee(); print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('sklearn', 'pandas', 'polars', 'ikpls')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------- committed models
@pytest.fixture(scope="module")
def report():
    return json.loads((MODELS / "training_report.json").read_text())


@pytest.mark.parametrize(("name", "loader"), [("coffee", load_coffee), ("planted", load_planted)])
def test_committed_model(name, loader, report):
    path = MODELS / f"{name}.pt"
    assert path.stat().st_size < 2 * 1024**2
    loaded = load_model(path)
    assert loaded.format == "state_dict"
    # tensors and JSON only: readable by torch.load(weights_only=True) on any torch
    raw = torch.load(path, weights_only=True, map_location="cpu")
    assert set(raw) == {"format", "format_version", "metadata", "state_dict"}
    assert all(isinstance(v, torch.Tensor) for v in raw["state_dict"].values())
    meta = loaded.metadata
    test = loader("test")
    assert meta.n_times == test.n_points
    assert meta.class_names == test.class_names
    images = make_images(test.x, transform_config=meta.transform, imaging_config=meta.imaging)
    with torch.no_grad():
        pred = loaded.model(images).argmax(1).numpy()
    accuracy = float((pred == test.y).mean())
    assert accuracy == pytest.approx(report[name]["test_accuracy"], abs=1e-9)
    assert accuracy >= {"coffee": 0.96, "planted": 0.9}[name]
