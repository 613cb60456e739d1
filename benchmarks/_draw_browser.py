"""The drawing app's latency as a user sees it: mouse-up to new components on the page.

Used by ``bench_draw.py --browser``: the app is served on 127.0.0.1 for one signal with
an untrained bundled CNN; headless Chromium (Debian's, through Playwright) draws boxes
by Shift+drag over random places of the plane, cycling over regions 1-3 and clearing
every 6 edits; after each mouse-up the clock runs until the page's status line changes
(the new components are on the page: the server sends them first), then until it gives
the probabilities' time (the model's response with the regions deleted is on the page).
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import torch

from saliency2signal.explorer import serve
from saliency2signal.models import ScalogramCNN

_READY = """() => { const B = window.Bokeh;
  if (!B || !B.documents || B.documents.length == 0) return false;
  const p = B.documents[0].get_model_by_name('scalogram'); if (!p) return false;
  const v = B.index.find_one(p); return v != null && v.has_finished(); }"""
_TO_PX = """(pts) => { const p = Bokeh.documents[0].get_model_by_name('scalogram');
  const v = Bokeh.index.find_one(p); const r = v.canvas_view.el.getBoundingClientRect();
  return pts.map(([x, y]) => [r.left + v.frame.x_scale.compute(x),
                              r.top + v.frame.y_scale.compute(y)]); }"""
_STATUS = "() => Bokeh.documents[0].get_model_by_name('status').text"
_CHANGED = "(old) => Bokeh.documents[0].get_model_by_name('status').text !== old"
_ANSWERED = "() => !Bokeh.documents[0].get_model_by_name('status').text.includes('…')"


def browser_latency(x, transform_config, imaging_config, n_edits: int, seed: int = 2) -> dict:
    """Median and 95th percentile (ms) of mouse-up -> page updated, over ``n_edits``."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("no Chromium found (Debian's `chromium` package)")
    torch.manual_seed(0)
    model = ScalogramCNN(n_classes=2).eval()
    app = serve(
        x[None],
        model=model,
        transform_config=transform_config,
        imaging_config=imaging_config,
        show_url=None,
    )
    rng = np.random.default_rng(seed)
    times, answered, server_ms = [], [], []
    try:
        with sync_playwright() as pw:
            flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            browser = pw.chromium.launch(executable_path=chromium, args=flags)
            page = browser.new_page(viewport={"width": 1000, "height": 1150})
            page.goto(app.url)
            page.wait_for_function(_READY, timeout=60_000)
            ex = app.explorer(0)
            xs, f = ex.grid.x, ex.grid.freqs[ex.grid.freqs > 0]
            for i in range(n_edits + 1):  # the first edit warms up
                if i % 6 == 5:
                    old = page.evaluate(_STATUS)
                    page.get_by_role("button", name="Clear").click()
                    page.wait_for_function(_CHANGED, arg=old, polling=5)
                page.get_by_role("button", name=str(i % 3 + 1), exact=True).click()
                a, b = np.sort(rng.uniform(xs.min(), xs.max(), 2))
                lo, hi = np.sort(np.exp(rng.uniform(np.log(f[2]), np.log(f[-3]), 2)))
                (x0, y0), (x1, y1) = page.evaluate(
                    _TO_PX, [[float(a), float(hi)], [float(b), float(lo)]]
                )
                old = page.evaluate(_STATUS)
                page.keyboard.down("Shift")
                page.mouse.move(x0, y0)
                page.mouse.down()
                page.mouse.move(x1, y1, steps=4)
                t0 = time.perf_counter()
                page.mouse.up()
                page.wait_for_function(_CHANGED, arg=old, polling=5, timeout=30_000)
                dt = time.perf_counter() - t0
                page.wait_for_function(_ANSWERED, polling=5, timeout=30_000)
                dt_p = time.perf_counter() - t0
                page.keyboard.up("Shift")
                if i:
                    times.append(dt)
                    answered.append(dt_p)
                    state = list(app.snapshot().values())[0]["state"]
                    if state is not None:
                        server_ms.append(1000 * state.seconds)
            browser.close()
    finally:
        app.stop()
    ms = 1000 * np.asarray(times)
    ms_p = 1000 * np.asarray(answered)
    return {
        "kind": "browser",
        "nv": transform_config.nv,
        "grid": list(ex.magnitude.shape),
        "edits": n_edits,
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "probabilities_median_ms": float(np.median(ms_p)),
        "probabilities_p95_ms": float(np.percentile(ms_p, 95)),
        "server_update_median_ms": float(np.median(server_ms)) if server_ms else None,
    }
