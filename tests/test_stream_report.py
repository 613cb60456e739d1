"""The report and the pixel maps of a streamed run, read back from its run folder (issue 22).

Run folders are built here chunk by chunk (``explain`` on each chunk's valid signals, then
``chunk_records`` and ``RunStore.write_chunk``), in shuffled chunk order, so that the
streamed overview can be held to the in-memory ``summarize`` of the same signals.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

pytest.importorskip("pyarrow")
pytest.importorskip("zarr")

from saliency2signal import SSQConfig, explain  # noqa: E402
from saliency2signal.explanation import summarize  # noqa: E402
from saliency2signal.explanation._readability import problems  # noqa: E402
from saliency2signal.imaging import ImagingConfig  # noqa: E402
from saliency2signal.stream._maps import map_figures, pixel_maps, write_maps  # noqa: E402
from saliency2signal.stream._overview import (  # noqa: E402
    summarize_store,
    write_store_report,
)
from saliency2signal.stream._store import RunStore, array_specs  # noqa: E402
from saliency2signal.stream._tables import chunk_records  # noqa: E402

N_TIMES = 128
AXIS = 400.0 + 2.0 * np.arange(N_TIMES)
FAILED = {2: "non-finite values", 7: "non-finite values", 14: "too short"}
SETTINGS = dict(max_regions=2, n_steps=8, n_null=0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))


def _signals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(N_TIMES)
    centres = rng.uniform(30, 100, n)
    x = np.stack([np.exp(-0.5 * ((t - c) / 3.0) ** 2) for c in centres])
    x += 0.05 * rng.standard_normal(x.shape)
    return x.astype(np.float32), (centres > 64).astype(np.int64)


def _explain(model, x, labels):
    return explain(
        model,
        x,
        transform_config=SSQConfig(nv=8),
        imaging_config=ImagingConfig(normalize="none", size=(16, 16)),
        labels=labels,
        target="label",
        axis=AXIS,
        **SETTINGS,
    )


def _layout(n, chunk, n_freqs, *, id_names=("index",), image_shape=None):
    layout = dict(
        n_signals=n,
        n_times=N_TIMES,
        n_freqs=n_freqs,
        chunk=chunk,
        n_chunks=-(-n // chunk),
        batch_size=16,
        max_regions=2,
        class_names=["class 0", "class 1"],
        id_names=list(id_names),
        image_shape=image_shape,
        attribution=False,
        contrasts=False,
        axis=AXIS.tolist(),
        axis_name="wavenumber",
        axis_units="cm^-1",
        memory_plan="test: 5 signals per chunk",
    )
    return dict(layout, arrays=array_specs(layout))


MATERIAL = {
    "settings": {"method": "integrated_gradients", "keep_mass": 0.8, "min_share": 0.02},
    "target": "label",
    "reference": "zero",
    "pipeline": None,
}


def _build(folder, model, x, labels, failed, layout, ids_of, order):
    """Write a run folder chunk by chunk; return ``{chunk: explanation}``."""
    store, _ = RunStore.open_or_create(folder, material=MATERIAL, layout=layout)
    out = {}
    for c in order:
        start, stop = store.chunk_bounds(c)
        ok = np.array([i not in failed for i in range(start, stop)])
        rows = np.arange(start, stop)[ok]
        e = _explain(model, x[rows], labels[rows]) if ok.any() else None
        reasons = [failed.get(i) for i in range(start, stop)]
        records = chunk_records(
            e, start=start, chunk=c, ok=ok, reasons=reasons, ids=ids_of(start, stop), layout=layout
        )
        store.write_chunk(c, **records)
        out[c] = e
    return store, out


@pytest.fixture(scope="module")
def run(model, tmp_path_factory):
    """A run of 15 signals in 3 chunks (3 failed), and the 12 valid ones explained at once."""
    x, labels = _signals(15, seed=1)
    valid = np.array([i for i in range(15) if i not in FAILED])
    whole = _explain(model, x[valid], labels[valid])
    layout = _layout(15, 5, int(whole.labels.shape[-2]))
    store, _ = _build(
        tmp_path_factory.mktemp("stream") / "run",
        model,
        x,
        labels,
        FAILED,
        layout,
        lambda a, b: {"index": np.arange(a, b)},
        order=(2, 0, 1),
    )
    return store, whole, valid


def test_means_and_spreads_equal_the_in_memory_summary(run):
    store, whole, _ = run
    got, want = summarize_store(store), summarize(whole)
    assert set(want) <= set(got)
    assert [c["index"] for c in got["classes"]] == [c["index"] for c in want["classes"]]
    for g, w in zip(got["classes"], want["classes"], strict=True):
        assert g["n_signals"] == w["n_signals"]
        np.testing.assert_allclose(g["mean_signal"], w["mean_signal"], rtol=1e-6, atol=1e-6)
        for key in ("mean", "spread", "positive_mean", "negative_mean"):
            np.testing.assert_allclose(g["profile"][key], w["profile"][key], atol=1e-6)


def test_accuracy_confusion_and_misclassified_are_exact(run):
    store, whole, valid = run
    got, want = summarize_store(store), summarize(whole)
    for key in ("n", "n_correct", "accuracy", "confusion"):
        assert got["accuracy"][key] == want["accuracy"][key]
    # the stream names signals by their run index, failed ones counted
    assert got["misclassified"] == [
        dict(m, index=int(valid[m["index"]])) for m in want["misclassified"]
    ]
    assert got["accuracy"]["n_misclassified"] == len(want["misclassified"])


def test_bands_contradicting_and_kept_equal_the_in_memory_summary(run):
    store, whole, valid = run
    got, want = summarize_store(store), summarize(whole)
    keys = ("x_range", "extent", "centre", "n_signals", "n_regions", "rank", "n_contradicting")
    for g, w in zip(got["classes"], want["classes"], strict=True):
        assert [[b[k] for k in keys] for b in g["bands"]] == [
            [b[k] for k in keys] for b in w["bands"]
        ]
        np.testing.assert_allclose(
            [b["evidence"] for b in g["bands"]], [b["evidence"] for b in w["bands"]], atol=1e-12
        )
        assert g["band_regions"]["sampled"] is False
    wc, gc = want["contradicting"], got["contradicting"]
    for key in ("n_regions", "n_contradicting", "n_signals", "n_top_contradicting"):
        assert gc[key] == wc[key]
    assert gc["signals"] == valid[wc["signals"]].tolist()
    assert got["attribution_kept"]["median"] == pytest.approx(
        want["attribution_kept"]["median"], abs=1e-12
    )


def test_many_regions_are_clustered_from_an_even_sample(run):
    store, _, _ = run
    full, sampled = summarize_store(store), summarize_store(store, max_clustered=3)
    for f, s in zip(full["classes"], sampled["classes"], strict=True):
        record = s["band_regions"]
        assert record["n_regions"] == f["band_regions"]["n_regions"]
        assert record["n_clustered"] == min(3, record["n_regions"])
        assert record["sampled"] is (record["n_regions"] > 3)
        assert s["profile"] == f["profile"]  # the reductions are never sampled
    with pytest.raises(ValueError, match="max_clustered=0"):
        summarize_store(store, max_clustered=0)


def test_report_counts_failures_and_links_only_what_exists(run):
    store, _, _ = run
    page = write_store_report(store)
    folder = store.folder
    report = json.loads((folder / "report.json").read_text())
    assert report["counts"]["n_failed"] == 3
    assert report["counts"]["failures"] == {"non-finite values": 2, "too short": 1}
    assert report["counts"]["n_explained"] == 12
    assert "samples" not in report
    assert report["axis"]["values"] == AXIS.tolist()
    text = page.read_text()
    assert page == folder / "index.html"
    assert "3 of 15 signal(s) failed" in text
    assert "regions/part-*.parquet" in text and "arrays.zarr" in text
    links = re.findall(r'(?:href|src)="([^"#][^"]*)"', text)
    assert "summary.csv" in links and "overview_class_000.png" in links
    assert [name for name in links if not (folder / name).is_file()] == []
    n_bands = sum(len(c["bands"]) for c in report["summary"]["classes"])
    assert len((folder / "summary.csv").read_text().splitlines()) == 1 + n_bands


def test_report_refuses_unknown_figures(run):
    store, _, _ = run
    with pytest.raises(ValueError, match="figures='all'"):
        write_store_report(store, figures="all")
    with pytest.raises(TypeError, match="figures=True"):
        write_store_report(store, figures=True)


@pytest.fixture(scope="module")
def cube(model, tmp_path_factory):
    """A 4 x 5 cube whose pixels are explained in chunks of 7, out of order."""
    x, labels = _signals(20, seed=2)
    x[5] = 0.0  # explained, with no region
    pixel = np.random.default_rng(3).permutation(20)  # run index -> pixel
    failed = {3: "non-finite values", 15: "non-finite values"}
    layout = _layout(20, 7, 49, id_names=("row", "col"), image_shape=[4, 5])

    def ids(a, b):
        row, col = np.divmod(pixel[a:b], 5)
        return {"row": row, "col": col}

    store, parts = _build(
        tmp_path_factory.mktemp("cube") / "run", model, x, labels, failed, layout, ids, (1, 2, 0)
    )
    return store, parts, pixel, failed


def _expected(store, parts, pixel, failed):
    pred = np.full(20, -1, np.int16)
    centre = np.full(20, np.nan, np.float32)
    for c, e in parts.items():
        start, stop = store.chunk_bounds(c)
        done = [i for i in range(start, stop) if i not in failed]
        for b, i in enumerate(done):
            pred[pixel[i]] = e.predictions[b]
            if e.regions[b]:
                centre[pixel[i]] = np.mean(e.regions[b][0].x_range)
    return pred.reshape(4, 5), centre.reshape(4, 5)


def test_maps_place_each_pixel_by_its_ids(cube):
    store, parts, pixel, failed = cube
    maps = pixel_maps(store)
    pred, centre = _expected(store, parts, pixel, failed)
    assert maps["predicted_class"].dtype == np.int16
    np.testing.assert_array_equal(maps["predicted_class"], pred)
    assert (maps["predicted_class"].ravel()[pixel[list(failed)]] == -1).all()
    np.testing.assert_allclose(maps["top_region_centre"], centre, rtol=1e-6)
    assert np.isnan(maps["top_region_centre"].ravel()[pixel[[3, 5, 15]]]).all()
    assert np.isnan(maps["p_target"].ravel()[pixel[[3, 15]]]).all()


def test_maps_are_written_and_readable(cube):
    store, _, _, _ = cube
    written = write_maps(store)
    names = sorted(p.name for p in written)
    assert "predicted_class.npy" in names and "top_region_centre.png" in names
    assert all(p.is_file() and p.parent == store.folder / "maps" for p in written)
    np.testing.assert_array_equal(
        np.load(store.folder / "maps" / "predicted_class.npy"),
        pixel_maps(store)["predicted_class"],
    )
    figures = map_figures(store)
    assert sorted(figures) == ["p_target", "predicted_class", "top_region_centre"]
    assert {name: problems(fig) for name, fig in figures.items()} == dict.fromkeys(figures, [])
    page = write_store_report(store, figures="none")
    assert 'src="maps/predicted_class.png"' in page.read_text()


def test_maps_need_a_cube(run):
    store, _, _ = run
    with pytest.raises(ValueError, match="image_shape"):
        pixel_maps(store)
