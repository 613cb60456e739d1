"""Drawing app: update latency per edit for a 2 000-point signal (issue 21; goal < 200 ms).

Run from the repository root::

    python benchmarks/bench_draw.py [--edits 50] [--n 2000] [--browser] [--json FILE]

Data: planted-peak spectra of ``--n`` points (``make_planted_spectra``, seed 0). Model:
the bundled CNN architecture (``ScalogramCNN``, untrained: the cost of an update does
not depend on the weights) on 64 x 64 dB images, for two transforms: the package's
default ``SSQConfig()`` (nv=32) and the ``nv=64`` that researchers often use.

1. **Core**: ``RegionExplorer.update`` after each of ``--edits`` edits of a session of
   one to five regions (add a box, add a polygon, move a region, cut a part, delete
   one), as the app calls it: first the components (the masked inverse of each changed
   region), then the model's response (the probabilities with all regions deleted and
   with each changed region deleted alone: one transform and forward pass per changed
   region, plus one). Median and 95th percentile of both.
2. **Browser** (``--browser``, needs Debian's Chromium and Playwright's Python package):
   the app served on 127.0.0.1, ``--edits`` boxes drawn by mouse (Shift+drag) in
   headless Chromium; the time from the mouse-up until the page shows the new
   components (the server sends them first), and until it shows the probabilities.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import finish

from saliency2signal import SSQConfig
from saliency2signal.datasets import make_planted_spectra
from saliency2signal.explorer import RegionExplorer
from saliency2signal.imaging import ImagingConfig
from saliency2signal.models import ScalogramCNN

IMAGING = ImagingConfig(scale="db", size=(64, 64))


def _edits(ex: RegionExplorer, n_edits: int, rng) -> list[list[dict]]:
    """A session of ``n_edits`` edits: each entry is the shape list after that edit."""
    x, f = ex.grid.x, ex.grid.freqs[1:]
    shapes: list[dict] = []
    out = []

    def box(region):
        a, b = np.sort(rng.uniform(x.min(), x.max(), 2))
        lo, hi = np.sort(np.exp(rng.uniform(np.log(f[0]), np.log(f[-1]), 2)))
        return {"region": region, "kind": "box", "x": [a, b], "y": [lo, hi]}

    def polygon(region):
        cx, cy = rng.uniform(x.min(), x.max()), np.exp(rng.uniform(np.log(f[0]), np.log(f[-1])))
        ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
        r = rng.uniform(0.3, 1.0, 7)
        span = 0.1 * (x.max() - x.min())
        xs = cx + span * r * np.cos(ang)
        ys = cy * 2.0 ** (1.5 * r * np.sin(ang))
        return {"region": region, "kind": "polygon", "x": list(xs), "y": list(ys)}

    for _ in range(n_edits):
        regions = sorted({s["region"] for s in shapes})
        move = rng.random()
        if not regions or (move < 0.4 and len(regions) < 5):
            new = (max(regions) + 1) if regions else 1
            shapes.append(box(new) if rng.random() < 0.5 else polygon(new))
        elif move < 0.6:
            k = int(rng.choice(regions))
            shapes = [s for s in shapes if s["region"] != k] + [box(k)]
        elif move < 0.8:
            k = int(rng.choice(regions))
            cut = box(k)
            cut["op"] = "cut"
            shapes.append(cut)
        else:
            k = int(rng.choice(regions))
            shapes = [s for s in shapes if s["region"] != k]
        out.append([dict(s) for s in shapes])
    return out


def _core(x, cfg: SSQConfig, n_edits: int, seed: int) -> dict:
    torch.manual_seed(0)
    model = ScalogramCNN(n_classes=2).eval()
    ex = RegionExplorer(x, model=model, transform_config=cfg, imaging_config=IMAGING)
    sessions = _edits(ex, n_edits, np.random.default_rng(seed))
    ex.update(sessions[0])  # warm-up (first-call costs)
    first, total, n_regions = [], [], []
    for shapes in sessions:  # as the app does: the components, then the model's response
        t0 = time.perf_counter()
        ex.update(shapes, probabilities=False)
        first.append(time.perf_counter() - t0)
        state = ex.update(shapes)
        total.append(time.perf_counter() - t0)
        n_regions.append(len(state.regions))
    ms, ms_all = 1000 * np.asarray(first), 1000 * np.asarray(total)
    return {
        "kind": "core",
        "nv": cfg.nv,
        "grid": list(ex.magnitude.shape),
        "edits": n_edits,
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "with_probabilities_median_ms": float(np.median(ms_all)),
        "with_probabilities_p95_ms": float(np.percentile(ms_all, 95)),
        "mean_regions": float(np.mean(n_regions)),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edits", type=int, default=50)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--browser", action="store_true", help="also measure in headless Chromium")
    p.add_argument("--json")
    args = p.parse_args(argv)
    data = make_planted_spectra(2, n_points=args.n, rng=0)
    x = data.x[1]
    rows = []
    for cfg in (SSQConfig(), SSQConfig(nv=64)):
        row = _core(x, cfg, args.edits, seed=1)
        rows.append(row)
        print(
            f"core nv={row['nv']:>2} grid {row['grid'][0]}x{row['grid'][1]}, "
            f"{row['edits']} edits ({row['mean_regions']:.1f} regions on average): components "
            f"median {row['median_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, max "
            f"{row['max_ms']:.1f} ms (goal < 200 ms); with the probabilities median "
            f"{row['with_probabilities_median_ms']:.1f} ms, "
            f"p95 {row['with_probabilities_p95_ms']:.1f} ms",
            flush=True,
        )
    if args.browser:
        from _draw_browser import browser_latency

        row = browser_latency(x, SSQConfig(), IMAGING, args.edits)
        rows.append(row)
        print(
            f"browser nv={row['nv']}: mouse-up to the new components on the page: median "
            f"{row['median_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms; to the probabilities: "
            f"median {row['probabilities_median_ms']:.1f} ms, "
            f"p95 {row['probabilities_p95_ms']:.1f} ms",
            flush=True,
        )
    return finish(rows, args.json, argv=list(argv or []), n=args.n)


if __name__ == "__main__":
    main()
