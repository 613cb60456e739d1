"""Throughput of ``saliency2signal.explain`` on the 28 Coffee test spectra (bundled model).

Run from the repository root::

    python benchmarks/bench_explain.py [--repeats 3] [--json results_explain.json]

Measures, in one run, with the bundled ``models/coffee.pt`` and IG with 32 steps:

* spectra per second without figures (the goal is >= 5) and with figures
  (``Explanation.save`` of every PNG and the HTML index, into a temporary folder);
* where the time goes, by wrapping the pipeline's stages: the Captum attribution
  (model and imaging, forward and backward, 32 steps), and everything outside it
  (transform, masks and regions, inverse, deletion checks). The share outside the
  attribution is the overhead the explanation adds to the model's own IG (goal <= 10 %).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from saliency2signal import explain, load_model

# the package re-exports the function `explain`, which hides the module attribute
explain_mod = importlib.import_module("saliency2signal.explain")

ROOT = Path(__file__).resolve().parents[1]


def run(repeats: int) -> dict:
    model, meta = load_model(ROOT / "models" / "coffee.pt")
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        x, axis = z["X_test"], z["axis"]
    spent = {"attribute": 0.0}
    original = explain_mod.attribute

    def timed_attribute(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["attribute"] += time.perf_counter() - t0

    explain(model, x[:2], metadata=meta, axis=axis)  # warm-up: banks, Captum imports
    explain_mod.attribute = timed_attribute
    try:
        plain, attr = [], []
        for _ in range(repeats):
            spent["attribute"] = 0.0
            t0 = time.perf_counter()
            ex = explain(model, x, metadata=meta, axis=axis)
            plain.append(time.perf_counter() - t0)
            attr.append(spent["attribute"])
    finally:
        explain_mod.attribute = original
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ex.save(Path(tmp) / "report", figures=True)
        figures = time.perf_counter() - t0
    best = int(np.argmin(plain))
    n = len(x)
    return {
        "n_spectra": n,
        "seconds_no_figures": plain[best],
        "spectra_per_s_no_figures": n / plain[best],
        "seconds_attribution": attr[best],
        "share_outside_attribution": 1 - attr[best] / plain[best],
        "seconds_figures": figures,
        "spectra_per_s_with_figures": n / (plain[best] + figures),
        "repeats": plain,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run(args.repeats)
    print(f"{res['n_spectra']} Coffee test spectra, bundled model, IG-32, best of "
          f"{args.repeats}:")
    print("| without figures | spectra/s | attribution (model + imaging) | outside it | "
          "figures + HTML | with figures |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {res['seconds_no_figures']:.2f} s | {res['spectra_per_s_no_figures']:.1f} | "
          f"{res['seconds_attribution']:.2f} s | {100 * res['share_outside_attribution']:.0f} % "
          f"| {res['seconds_figures']:.1f} s | {res['spectra_per_s_with_figures']:.2f}/s |")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
