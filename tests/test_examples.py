"""The examples run offline and show what they claim."""

import importlib.util
import itertools
import json
import re
import sys
import textwrap
from pathlib import Path

import jsonschema
import matplotlib.image as mpimg
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from saliency2signal.explanation import load_schema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PER_CLASS = 2  # 4 spectra: the full 28 take ~4 s more per run and test nothing new
FIGURES = ("coffee_overlay.png", "coffee_spectrum0_plane.png")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_masked_inverse_example(tmp_path):
    out = tmp_path / "fig.png"
    res = _load("masked_inverse").main(["--out", str(out)])
    assert out.stat().st_size > 10_000
    assert res["err_tone"] < 0.08  # measured 0.054 (edges of the record)
    assert res["err_chirp"] < 0.15  # measured 0.108


# ------------------------------------------------------------------ explain_coffee
@pytest.fixture(scope="module")
def script_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("script")
    summary = _load("explain_coffee").main(["--out", str(out), "--per-class", str(PER_CLASS)])
    return out, summary


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel spec for *this* interpreter, so the notebook sees the same install."""
    name = "saliency2signal-tests"
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "saliency2signal tests",
                "language": "python",
            }
        )
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root))
        yield name


@pytest.fixture(scope="module")
def notebook_out(tmp_path_factory, kernel_name):
    out = tmp_path_factory.mktemp("notebook")
    nb = nbformat.read(EXAMPLES / "explain_coffee.ipynb", as_version=4)
    assert all(c.get("outputs", []) == [] for c in nb.cells)  # stored without outputs
    # papermill's convention: a cell after the one tagged "parameters" overrides it
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(
        at + 1,
        nbformat.v4.new_code_cell(
            f"OUT = {str(out)!r}\nPER_CLASS = {PER_CLASS}",
            metadata={"tags": ["injected-parameters"]},
        ),
    )
    NotebookClient(
        nb, timeout=300, kernel_name=kernel_name, resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    return out, nb


def _check_outputs(out: Path, summary: dict):
    for name in FIGURES:
        png = out / name
        assert png.stat().st_size > 20_000, name
        img = mpimg.imread(png)
        assert img.shape[0] > 400 and img.shape[1] > 600, name
        assert float(img[..., :3].std()) > 0.05, name  # not a blank canvas
    assert summary == json.loads((out / "summary.json").read_text())
    n = 2 * PER_CLASS
    assert summary["n_spectra"] == n
    assert summary["accuracy"] == 1.0  # the first two of each class are all right
    assert all(1 <= k <= 5 for k in summary["regions_per_spectrum"])
    # segments lie on the spectrum's axis (0..285) and carry a small part of its energy
    for ranges in summary["x_ranges"]:
        assert all(0 <= lo <= hi <= 285 for lo, hi in ranges)
    assert all(0 < v < 0.2 for v in summary["segment_energy"])  # measured 0.004-0.01
    assert all(0 < v <= 1 for v in summary["attribution_share_kept"])
    # deleting the most influential segment lowers p(class) in every spectrum
    assert all(v > 0 for v in summary["largest_drop"])  # measured 0.002-0.09
    report = json.loads((out / "report" / "report.json").read_text())
    jsonschema.validate(report, load_schema(), cls=jsonschema.Draft202012Validator)
    assert len(report["samples"]) == n


def test_explain_coffee_script(script_out):
    _check_outputs(*script_out)


def test_explain_coffee_notebook(notebook_out):
    out, nb = notebook_out
    _check_outputs(out, json.loads((out / "summary.json").read_text()))
    shown = nb.cells[-1].outputs
    assert shown and "image/png" in shown[0]["data"]  # the overlay, shown inline


def test_notebook_and_script_agree(script_out, notebook_out):
    a = json.loads((script_out[0] / "summary.json").read_text())
    b = json.loads((notebook_out[0] / "summary.json").read_text())
    assert a["regions_per_spectrum"] == b["regions_per_spectrum"]
    assert a["x_ranges"] == b["x_ranges"]
    np.testing.assert_allclose(a["largest_drop"], b["largest_drop"], rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_explain_coffee_script_all_28(tmp_path):
    """The example as shipped (every test spectrum); the fast cases cover the same code."""
    summary = _load("explain_coffee").main(["--out", str(tmp_path)])
    assert summary["n_spectra"] == 28
    assert summary["accuracy"] == pytest.approx(27 / 28)  # the model's 96.4 %
    assert np.median(summary["largest_drop"]) > 0.01  # measured 0.042
    assert (tmp_path / "coffee_overlay.png").stat().st_size > 20_000


def _script_cells():
    """The ``# %% title`` blocks of the script's ``main``, dedented."""
    src = (EXAMPLES / "explain_coffee.py").read_text()
    body = src[src.index("    # %% ") : src.index("    return summary")]
    parts = re.split(r"^    # %% (.*)\n", body, flags=re.M)[1:]
    return [(t, textwrap.dedent(c).strip()) for t, c in zip(parts[::2], parts[1::2], strict=True)]


def test_notebook_has_the_script_cells():
    nb = nbformat.read(EXAMPLES / "explain_coffee.ipynb", as_version=4)
    nbformat.validate(nb)
    steps = []
    for prev, cell in itertools.pairwise(nb.cells):
        if cell.cell_type == "code" and not cell.metadata.get("tags"):
            assert prev.cell_type == "markdown"
            steps.append((prev.source.removeprefix("## "), cell.source.strip()))
    assert len(steps) == 6
    assert steps == _script_cells()
