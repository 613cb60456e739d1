"""What a report's figures cost: ``--figures all|overview|none`` on a large study.

Run from the repository root::

    python benchmarks/bench_report.py [--n 2000] [--n-all 100] [--workers 1,2,4]
        [--repeats 3] [--json benchmarks/results_report.json]

The 28 Coffee test spectra are tiled to ``--n`` spectra (row ``i`` is test spectrum
``i % 28``) and explained once with the bundled model, IG with 32 steps and
``n_null=0, peaks=False, reference='zero'`` (the explanation's core, as
``bench_explain.py`` times it). Then ``Explanation.save`` of that one explanation is
timed, ``--repeats`` times each (medians):

* ``figures='none'`` and ``figures='overview'`` on all ``--n`` spectra: the throughput
  of explain + save, in spectra per second, each; the goal is that with the overview's
  figures it is at least 80 % of the throughput without figures;
* ``figures='all'`` on the first ``--n-all`` spectra, drawn in one process
  (``workers=1``: before issue 20's second part, every figure was drawn so) and in each
  number of worker processes of ``--workers``: seconds per spectrum.

The number of cores the figures can use bounds the speed-up of the workers: the
machine's core count and its load average when the run starts are recorded with the
results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from saliency2signal import explain, load_model

ROOT = Path(__file__).resolve().parents[1]


def _tiled(n: int):
    """Return ``n`` Coffee test spectra (tiled), the axis, the model and its metadata."""
    model, meta = load_model(ROOT / "models" / "coffee.pt")
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        x, axis = z["X_test"], z["axis"]
    return x[np.arange(n) % len(x)], axis, model, meta


def _saves(e, folder: Path, repeats: int, **kwargs) -> list[float]:
    """Return the seconds of ``repeats`` saves of ``e`` with ``kwargs``."""
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        e.save(folder / f"r{len(list(folder.iterdir()))}_{i}", **kwargs)
        out.append(time.perf_counter() - t0)
    return out


def run(n: int, n_all: int, workers: list[int], repeats: int) -> dict:
    x, axis, model, meta = _tiled(n)
    core = {"n_null": 0, "peaks": False, "reference": "zero"}
    explain(model, x[:2], metadata=meta, axis=axis, **core)  # warm-up: banks, Captum
    t0 = time.perf_counter()
    e = explain(model, x, metadata=meta, axis=axis, **core)
    seconds_explain = time.perf_counter() - t0
    small = explain(model, x[:n_all], metadata=meta, axis=axis, **core)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small.save(folder / "warm", figures="all", workers=1)  # font cache, first figure
        modes = {m: _saves(e, folder, repeats, figures=m) for m in ("none", "overview")}
        all_figures = {
            str(w): _saves(small, folder, repeats, figures="all", workers=w) for w in workers
        }
    med = {m: float(np.median(v)) for m, v in modes.items()}
    rate = {m: n / (seconds_explain + med[m]) for m in med}
    per_spectrum = {w: float(np.median(v)) / n_all for w, v in all_figures.items()}
    return {
        "n_spectra": n,
        "seconds_explain": seconds_explain,
        "seconds_save": modes,
        "seconds_save_median": med,
        "spectra_per_s": rate,
        "overview_share_of_no_figures": rate["overview"] / rate["none"],
        "n_spectra_all_figures": n_all,
        "seconds_save_all": all_figures,
        "seconds_per_spectrum_all_figures": per_spectrum,
        "speedup_all_figures": {w: per_spectrum["1"] / s for w, s in per_spectrum.items()},
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="spectra explained (tiled Coffee)")
    p.add_argument("--n-all", type=int, default=100, help="spectra saved with every figure")
    p.add_argument("--workers", default="1,2,4", help="worker counts timed with every figure")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run(args.n, min(args.n_all, args.n), workers, args.repeats)
    res["load_average_at_start"] = load
    med, rate = res["seconds_save_median"], res["spectra_per_s"]
    print(
        f"{res['n_spectra']} spectra (tiled Coffee), explain {res['seconds_explain']:.1f} s "
        f"({res['cpu_count']} cores, load {load}); save, median of {args.repeats}:"
    )
    print("| figures | save | spectra/s (explain + save) |")
    print("|---|---:|---:|")
    for m in ("none", "overview"):
        print(f"| {m} | {med[m]:.2f} s | {rate[m]:.2f} |")
    print(
        f"with the overview's figures: {100 * res['overview_share_of_no_figures']:.1f} % of "
        "the throughput without figures"
    )
    print(f"every figure, {res['n_spectra_all_figures']} spectra, seconds per spectrum:")
    for w, s in res["seconds_per_spectrum_all_figures"].items():
        print(f"  workers={w}: {s:.3f} s ({res['speedup_all_figures'][w]:.2f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
