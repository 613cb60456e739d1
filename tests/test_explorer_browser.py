"""The drawing app in a real browser (issue 21): draw by mouse, read the numbers back.

Headless Chromium from Debian's ``chromium`` package (``.ci/run`` installs it), driven
by Playwright's Python package with that executable (no browser download). The app is
served on 127.0.0.1 on the bundled planted-peak test spectra with the bundled model;
a box is drawn by mouse (Shift+drag) over the planted peak's window, and:

* the component the page shows equals :func:`saliency2signal.inverse.components` of
  the signal's transform for the drawn cells (to float32 rounding);
* the probability the page shows with the region deleted equals ``explain(...,
  regions=...)``'s ``p_after`` (its deletion check), and is far below the one before;
* the mask saved from the page round-trips (:func:`~saliency2signal.drawing.load_mask`
  gives the drawn cells; ``Load mask`` after ``Clear`` puts them back);
* deleting the box (click, Backspace) removes the region and the probability returns.

Screenshots go to ``tests/artifacts/`` (git-ignored) and ``tmp_path``. Without Chromium
or Playwright the tests skip, saying so.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from saliency2signal import explain, ssq_cwt
from saliency2signal.datasets import load_planted
from saliency2signal.drawing import load_mask
from saliency2signal.inverse import components
from saliency2signal.io import load_model

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not found (install Debian's `chromium` package; .ci/run does)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package")
pytest.importorskip("bokeh", reason="bokeh (the app extra)")

READY = """() => { const B = window.Bokeh;
  if (!B || !B.documents || B.documents.length == 0) return false;
  const p = B.documents[0].get_model_by_name('scalogram'); if (!p) return false;
  const v = B.index.find_one(p); return v != null && v.has_finished(); }"""
TO_PX = """(pts) => { const p = Bokeh.documents[0].get_model_by_name('scalogram');
  const v = Bokeh.index.find_one(p); const r = v.canvas_view.el.getBoundingClientRect();
  return pts.map(([x, y]) => [r.left + v.frame.x_scale.compute(x),
                              r.top + v.frame.y_scale.compute(y)]); }"""
SOURCE = """(name) => { const d = Bokeh.documents[0].get_model_by_name(name).data;
  const out = {}; for (const [k, v] of Object.entries(d))
    out[k] = Array.from(v, (e) => (e && e.length !== undefined && typeof e !== 'string')
                                  ? Array.from(e) : e);
  return out; }"""
STATUS = "() => Bokeh.documents[0].get_model_by_name('status').text"
SIGNAL = 3  # a test spectrum with the planted peak (class 'peak@1000')


@pytest.fixture(scope="module")
def planted():
    model, meta = load_model(ROOT / "models" / "planted.pt")
    return model, meta, load_planted("test")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        flags = ["--disable-gpu", "--disable-background-networking", "--no-first-run"]
        flags += ["--disable-component-update", "--disable-sync", "--no-sandbox"]
        b = pw.chromium.launch(executable_path=CHROMIUM, args=flags)
        yield b
        b.close()


def _shot(page, tmp_path: Path, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(tmp_path / name))
    shutil.copy(tmp_path / name, ARTIFACTS / name)


def _wait(predicate, timeout=30.0, what="the app"):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not update within {timeout} s")


def _session(app) -> dict:
    snaps = list(app.snapshot().values())
    assert len(snaps) == 1, snaps
    return snaps[0]


def _drag_box(page, corner_a, corner_b) -> None:
    pts = [[float(v) for v in corner_a], [float(v) for v in corner_b]]
    (x0, y0), (x1, y1) = page.evaluate(TO_PX, pts)
    page.keyboard.down("Shift")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")


def test_draw_a_box_by_mouse_and_read_the_signal_back(planted, browser, tmp_path):
    from saliency2signal.explorer import serve

    model, meta, data = planted
    assert data.y[SIGNAL] == 1
    lo, hi = data.windows[SIGNAL]
    mask_path = tmp_path / "drawn.npz"
    app = serve(
        data.x,
        model=model,
        metadata=meta,
        axis=data.axis,
        signal=SIGNAL,
        data_path=ROOT / "data" / "planted.npz",
        show_url=None,
    )
    errors = []
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 1150})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(app.url)
        page.wait_for_function(READY, timeout=60_000)
        explorer = app.explorer(SIGNAL)
        f = explorer.grid.freqs
        f_lo, f_hi = f[1] * 1.01, f[-1] * 0.99  # inside the plotted band
        _shot(page, tmp_path, "draw_0_start.png")

        # 1. a box over the planted peak's window, every frequency
        _drag_box(page, (lo, f_hi), (hi, f_lo))
        state = _wait(lambda: _session(app)["state"], what="the drawn box")
        shapes = _session(app)["shapes"]
        assert len(shapes) == 1 and shapes[0]["kind"] == "box" and shapes[0]["region"] == 1
        # the mouse landed where it was sent (within a pixel or two of the data corners)
        xs = sorted(shapes[0]["x"])
        step = abs(data.axis[1] - data.axis[0])
        assert abs(xs[0] - lo) < 3 * step and abs(xs[1] - hi) < 3 * step
        labels = state.labels
        assert set(np.unique(labels)) == {0, 1}
        cols = np.flatnonzero(labels.any(0))
        assert data.axis[cols[0]] >= lo - 3 * step and data.axis[cols[-1]] <= hi + 3 * step

        # the component shown on the page == the masked inverse of the same cells
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('components').data.region.length > 0"
        )
        shown = page.evaluate(SOURCE, "components")
        assert list(shown["region"]) == [1]
        res = ssq_cwt(explorer.x, explorer.transform_config)
        want = components(res, masks=torch.from_numpy(labels == 1)[None, None])[0, 0].numpy()
        np.testing.assert_allclose(np.asarray(shown["ys"][0]), want, rtol=1e-5, atol=1e-6)
        # ... and it is the planted peak, not the decoys or the baseline
        inside = (data.axis >= lo) & (data.axis <= hi)
        truth = data.components[SIGNAL]
        assert np.corrcoef(want[inside], truth[inside])[0, 1] > 0.9

        # the probability with the region deleted == explain's deletion check
        e = explain(
            model,
            data.x[SIGNAL],
            metadata=meta,
            axis=data.axis,
            regions=labels,
            method="saliency",
            n_null=0,
            peaks=False,
        )
        # the components go out first, the model's response in the next message
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('probabilities').data.region.includes(1)"
        )
        assert "probabilities" in page.evaluate(STATUS) and " ms" in page.evaluate(STATUS)
        probs = page.evaluate(SOURCE, "probabilities")
        row = list(probs["region"]).index(1)
        p_after, p_before = e.regions[0][0].p_after, e.regions[0][0].p_before
        np.testing.assert_allclose(probs["after"][row], p_after, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(probs["before"][row], p_before, rtol=1e-4, atol=1e-5)
        assert p_after < p_before - 0.3  # deleting the planted peak changes the decision
        _shot(page, tmp_path, "draw_1_box.png")

        # 2. save the mask from the page; it round-trips
        field = page.locator("input[type=text]").last  # the mask file's field
        assert "regions" in field.input_value()  # the default: beside the data file
        field.fill(str(mask_path))
        field.press("Enter")
        page.get_by_role("button", name="Save mask").click()
        _wait(mask_path.exists, what=f"the saved mask ({page.evaluate(STATUS)})")
        back = load_mask(mask_path)
        np.testing.assert_array_equal(back.labels, labels)
        assert back.config == explorer.transform_config and back.signal == SIGNAL
        assert back.shapes[0]["kind"] == "box"
        page.get_by_role("button", name="Clear").click()
        _wait(lambda: _session(app)["state"] is None and not _session(app)["shapes"], what="Clear")
        page.get_by_role("button", name="Load mask").click()
        reloaded = _wait(lambda: _session(app)["state"], what="Load mask")
        np.testing.assert_array_equal(reloaded.labels, labels)

        # 3. delete the box: click it, Backspace over the plot
        page.evaluate(
            """() => { const p = Bokeh.documents[0].get_model_by_name('scalogram');
              p.toolbar.tools.find((t) => t.constructor.__name__ == 'BoxEditTool')
               .active = true; }"""
        )
        centre = page.evaluate(TO_PX, [[float(lo + hi) / 2, float(np.sqrt(f_lo * f_hi))]])[0]
        page.mouse.click(*centre)
        time.sleep(0.4)
        page.keyboard.press("Backspace")
        _wait(lambda: not _session(app)["shapes"], what="the deleted box")
        page.wait_for_function(
            "() => !Bokeh.documents[0].get_model_by_name('probabilities').data.region.includes(1)"
        )
        probs = page.evaluate(SOURCE, "probabilities")
        assert 1 not in list(probs["region"])
        classes = [i for i, r in enumerate(probs["region"]) if r == 0]  # one row per class
        assert len(classes) == 2, probs
        after = np.asarray(probs["after"], dtype=float)[classes]
        before = np.asarray(probs["before"], dtype=float)[classes]
        np.testing.assert_allclose(after, before, atol=1e-6)  # nothing deleted any more
        _shot(page, tmp_path, "draw_2_deleted.png")
        assert "no region" in page.evaluate(STATUS)
    finally:
        app.stop()
    assert not errors, errors
