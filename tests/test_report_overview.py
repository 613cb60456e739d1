"""The report's overview (issue 20): dataset summary, bands per class, labels, figures.

On the bundled Coffee model and data through the CLI (labels read from the ``.npz``), and
on the bundled planted data through the API (the planted window must be the top band of
class "peak@1000").
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import jsonschema
import matplotlib
import numpy as np
import pytest

from saliency2signal import explain
from saliency2signal.cli import main
from saliency2signal.datasets import load_planted
from saliency2signal.explanation import load_schema
from saliency2signal.explanation._overview import (
    html_units,
    overview_figure,
    tex_units,
)
from saliency2signal.explanation._readability import legend_over_data
from saliency2signal.explanation._summary import cluster_bands, summarize
from saliency2signal.io import load_model

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
#: Coffee test spectra explained: both classes and the one the model gets wrong (21).
COFFEE_ROWS = [0, 1, 2, 15, 16, 21]


@pytest.fixture(scope="module")
def coffee(tmp_path_factory):
    """The CLI's report of six Coffee test spectra (labels in the .npz as y_test)."""
    folder = tmp_path_factory.mktemp("coffee")
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        data = {"X_test": z["X_test"][COFFEE_ROWS], "y_test": z["y_test"][COFFEE_ROWS]}
    np.savez(folder / "coffee.npz", **data)
    out = folder / "report"
    args = ["explain", str(ROOT / "models" / "coffee.pt"), str(folder / "coffee.npz")]
    args += ["--key", "X_test", "--out", str(out), "--no-figures", "--n-null", "2"]
    assert main([*args, "--no-peaks"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return out, report, data["y_test"]


@pytest.fixture(scope="module")
def planted():
    """Explanations of 12 planted test spectra (6 of each class), and the data."""
    d = load_planted("test")
    rows = np.r_[np.flatnonzero(d.y == 0)[:6], np.flatnonzero(d.y == 1)[:6]]
    model, meta = load_model(ROOT / "models" / "planted.pt")
    e = explain(model, d.x[rows], metadata=meta, labels=d.y[rows], axis=d.axis, n_null=2)
    return e, d, rows


# ------------------------------------------------------------------ Coffee, through the CLI
def test_labels_are_read_from_the_npz_and_misclassifications_flagged(coffee):
    out, report, y = coffee
    assert [s["label"] for s in report["samples"]] == y.tolist()
    wrong = [s["index"] for s in report["samples"] if s["label"] != s["prediction"]]
    assert wrong == [COFFEE_ROWS.index(21)]  # the one the bundled model misclassifies
    assert [m["index"] for m in report["summary"]["misclassified"]] == wrong
    section = (out / f"sample_{wrong[0]:04d}.html").read_text(encoding="utf-8")
    assert "misclassified" in section and "label <b>Robusta</b>" in section
    right = (out / "sample_0000.html").read_text(encoding="utf-8")
    assert "misclassified" not in right and "label <b>Arabica</b>" in right
    index = (out / "index.html").read_text(encoding="utf-8")
    row = index.split(f'<tr id="sample-{wrong[0]}">')[1].split("</tr>")[0]
    assert "misclassified" in row and f'href="sample_{wrong[0]:04d}.html"' in row


def test_confusion_matrix_equals_a_direct_count(coffee):
    _, report, y = coffee
    acc = report["summary"]["accuracy"]
    pred = np.array([s["prediction"] for s in report["samples"]])
    direct = [[int(np.sum((y == i) & (pred == j))) for j in range(2)] for i in range(2)]
    assert acc["confusion"] == direct
    assert acc["n_correct"] == int(np.sum(pred == y)) and acc["n"] == len(y)
    assert acc["accuracy"] == pytest.approx(np.mean(pred == y))


def test_overview_names_the_bands_that_carry_each_class(coffee):
    out, report, _ = coffee
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.index('id="overview"') < page.index('id="sample-0"')  # its table row
    classes = report["summary"]["classes"]
    assert {c["name"] for c in classes} == {s["target_class"] for s in report["samples"]}
    axis = np.array(report["axis"]["values"])
    for c in classes:
        top = c["bands"][0]
        lo, hi = top["x_range"]
        assert axis.min() <= lo <= hi <= axis.max()
        assert f"{lo:.4g} &ndash; {hi:.4g}" in page.split(f'id="class-{c["index"]}"')[1]
        # the band's centre lies in a region of as many of the class's signals as it says
        sharing = {
            s["index"]
            for s in report["samples"]
            if s["target"] == c["index"]
            for r in s["regions"]
            if r["x_range"][0] <= top["centre"] <= r["x_range"][1]
        }
        assert len(sharing) == top["n_signals"] >= 1
        evidence = [b["evidence"] for b in c["bands"]]
        assert evidence == sorted(evidence, reverse=True)


def test_summary_csv_matches_report_json(coffee):
    out, report, _ = coffee
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    bands = [(c, b) for c in report["summary"]["classes"] for b in c["bands"]]
    assert len(rows) == len(bands) > 0
    for row, (c, b) in zip(rows, bands, strict=True):
        assert row["class"] == c["name"] and int(row["rank"]) == b["rank"]
        assert float(row["x_lo"]) == pytest.approx(b["x_range"][0])
        assert float(row["x_hi"]) == pytest.approx(b["x_range"][1])
        assert int(row["n_signals"]) == b["n_signals"]
        assert float(row["evidence"]) == pytest.approx(b["evidence"])
        assert float(row["mean_drop"]) == pytest.approx(b["mean_drop"])


def test_contradicting_regions_are_flagged_and_explained(coffee):
    out, report, _ = coffee
    regions = [r for s in report["samples"] for r in s["regions"]]
    assert [r["contradicting"] for r in regions] == [r["deletion"]["drop"] < 0 for r in regions]
    n = sum(r["contradicting"] for r in regions)
    assert report["summary"]["contradicting"]["n_contradicting"] == n
    page = (out / "index.html").read_text(encoding="utf-8")
    assert ("drop &lt; 0" in page) == (n > 0)
    top = [s["index"] for s in report["samples"] if s["regions"][0]["contradicting"]]
    # flagged in the contents and in the table of signals
    assert page.count("top region contradicts") == 2 * len(top)
    for s in report["samples"]:
        one = (out / f"sample_{s['index']:04d}.html").read_text(encoding="utf-8")
        assert ("drop &lt; 0" in one) == any(r["contradicting"] for r in s["regions"])
    assert report["summary"]["contradicting"]["n_top_contradicting"] == len(top)


def test_report_validates_against_the_schema(coffee, planted):
    schema = load_schema()
    jsonschema.validate(coffee[1], schema)
    jsonschema.validate(planted[0].to_json(), schema)


def test_unkept_attribution_is_split_where_it_went(coffee):
    _, report, _ = coffee
    kept = report["summary"]["attribution_kept"]
    assert kept["determined"]
    for s, k in zip(report["samples"], kept["signals"], strict=True):
        assert k["in_regions"] == pytest.approx(sum(r["attribution_share"] for r in s["regions"]))
        total = (
            k["below_threshold"]
            + k["removed_by_cleaning"]
            - k["added_by_cleaning"]
            + k["below_min_share"]
            + k["beyond_max_regions"]
        )
        assert total == pytest.approx(k["unkept"], abs=1e-9)
        assert k["beyond_max_regions"] == 0 or len(s["regions"]) == 5  # max_regions
        # keep_mass = 0.8: the threshold leaves (a little under) 20 % below it
        assert 0.1 < k["below_threshold"] <= 0.2 + 1e-9


# ------------------------------------------------------------------ planted, through the API
def test_planted_window_is_the_top_band_of_its_class(planted):
    e, d, rows = planted
    summary = summarize(e)
    (peak,) = [c for c in summary["classes"] if c["name"] == "peak@1000"]
    windows = d.windows[rows][e.target == peak["index"]]
    lo, hi = peak["bands"][0]["x_range"]
    assert lo <= np.median(windows[:, 0]) and hi >= np.median(windows[:, 1])
    assert hi - lo < 3 * np.median(windows[:, 1] - windows[:, 0])  # a band, not the axis
    assert peak["bands"][0]["n_signals"] == peak["n_signals"]


def test_heatmap_only_and_regression_explanations_summarize(planted, tmp_path):
    e = planted[0]
    regions = tuple(
        tuple(dataclasses.replace(r, p_before=None, p_after=None, drop=None) for r in rs)
        for rs in e.regions
    )
    heatmap = dataclasses.replace(
        e, probabilities=None, predictions=None, verdicts=None, regions=regions
    )
    s = summarize(heatmap)
    assert s["accuracy"] is None and s["contradicting"] is None and s["misclassified"] == []
    assert all(b["mean_drop"] is None for c in s["classes"] for b in c["bands"])
    jsonschema.validate(heatmap.to_json(), load_schema())
    heatmap.save(tmp_path / "heatmap", figures=False)
    regression = dataclasses.replace(e, task="regression", class_names=("a", "b"))
    s = summarize(regression)
    assert s["accuracy"] is None and s["task"] == "regression"
    regression.save(tmp_path / "regression", figures=False)
    page = (tmp_path / "regression" / "index.html").read_text(encoding="utf-8")
    assert "Bands that carry the output" in page


# ------------------------------------------------------------------ figures
def test_the_legend_check_can_fail():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    ax.plot(np.linspace(0, 1, 200), np.full(200, 0.5), label="data")
    ax.legend(loc="center")
    assert legend_over_data(fig)


def test_overview_figure_is_readable(planted):
    e = planted[0]
    report = e.to_json()
    for record in report["summary"]["classes"]:
        fig = overview_figure(record, report)
        top, bottom = fig.axes
        assert top.get_ylabel() and bottom.get_ylabel()
        assert bottom.get_xlabel() == r"wavenumber ($\mathrm{cm}^{-1}$)"
        assert top.get_shared_x_axes().joined(top, bottom)  # its x label is the one below
        assert legend_over_data(fig) == []
        labels = bottom.get_legend_handles_labels()[1]
        assert any(t.startswith("for the class") for t in labels)
        assert any(t.startswith("against it") for t in labels)
        assert "band 1" in labels


# ------------------------------------------------------------------ pieces
def test_bands_do_not_chain_across_the_axis():
    # ten ranges, each overlapping the next: merging overlaps would make one band
    cols = [[10 * k, 10 * k + 15] for k in range(10)]
    bands = cluster_bands(cols, np.ones(10), np.arange(10))
    assert len(bands) > 1
    assert max(len(b["members"]) for b in bands) == 2
    assert sorted(m for b in bands for m in b["members"]) == list(range(10))


@pytest.mark.parametrize(
    ("cols", "weights", "match"),
    [
        ([[5, 3]], [1.0], "first <= last"),
        ([[1, 3]], [-1.0], "must be finite and >= 0"),
        ([[1, 3], [2, 4]], [1.0], "the same regions"),
    ],
)
def test_bad_bands_input_is_refused(cols, weights, match):
    with pytest.raises(ValueError, match=match):
        cluster_bands(cols, weights, np.zeros(len(cols)))


@pytest.mark.parametrize(
    ("units", "html", "tex"),
    [
        ("cm^-1", "cm⁻¹", r"$\mathrm{cm}^{-1}$"),
        ("cm-1", "cm⁻¹", r"$\mathrm{cm}^{-1}$"),
        ("1/cm", "cm⁻¹", r"$\mathrm{cm}^{-1}$"),
        ("nm", "nm", "nm"),
        ("s^-2", "s⁻²", r"$\mathrm{s}^{-2}$"),
    ],
)
def test_units_are_typeset(units, html, tex):
    assert html_units(units) == html and tex_units(units) == tex
