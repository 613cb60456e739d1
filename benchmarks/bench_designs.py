"""Issue 17's criteria on every benchmark design: train a model per design, explain, score.

Run from the repository root (minutes per design on 2 cores)::

    python benchmarks/bench_designs.py [--designs shoulder,width] [--n-points 1024]
                                       [--json benchmarks/results_designs.json]

For each design of :data:`saliency2signal.designs.DESIGNS` it draws a training set and a
test set (:func:`~saliency2signal.designs.make_design_spectra`, seeds fixed here and used
for no choice), trains the package's CNN with the recipe of the bundled planted model
(``models/train_models.py``: short Morse wavelet, low-pass row, 64 x 64 log images with a
fixed mean/std, CoordConv, 30 epochs), and runs
:func:`~saliency2signal.evaluation.evaluate` with the explain defaults and the design's
ground truth. Per design it prints:

* the model's test accuracy;
* over the correctly classified positive spectra: the share with at least 0.8 of the
  recovered energy inside the truth window (criterion >= 0.9), the median correlation of
  the recovered component (all regions summed) with the planted feature (criterion >=
  0.8), the share whose top region's deletion beats 95 % of its matched random regions
  (criterion >= 0.8); and the median share of the positive attribution profile along x
  (``Explanation.profile``) inside the truth window.

Nothing here is tuned to a design: the same recipe and defaults for all of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from saliency2signal.designs import DESIGNS, make_design_spectra
from saliency2signal.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
SEED_TRAIN, SEED_TEST = 1701, 1702


def _recipe():
    spec = importlib.util.spec_from_file_location(
        "train_models", ROOT / "models" / "train_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _float32(d):
    return dataclasses.replace(d, x=d.x.astype(np.float32))


def run_design(
    design: str, *, recipe, n_points: int, n_train: int, n_test: int, epochs: int, n_null: int
) -> dict:
    """Train on one design with ``recipe`` (``models/train_models.py``); return its criteria."""
    spec = dict(recipe.SETTINGS["planted"])
    train = _float32(make_design_spectra(design, n_train, n_points=n_points, rng=SEED_TRAIN))
    test = _float32(make_design_spectra(design, n_test, n_points=n_points, rng=SEED_TEST))
    spec["loader"] = lambda split: train if split == "train" else test
    spec["epochs"] = epochs
    t0 = time.perf_counter()
    out = recipe.train_one(design, spec, 0)
    train_s = time.perf_counter() - t0
    accuracy = recipe.accuracy_on(out.model, out.metadata, test)
    t0 = time.perf_counter()
    ev = evaluate(
        out.model,
        test.x,
        metadata=out.metadata,
        truth={"components": test.components, "windows": test.windows, "axis": test.axis},
        labels=test.y,
        n_null=n_null,
        randomization="none",
        insertion=False,
        seed=0,
    )
    m = ev.methods["integrated_gradients"]
    s = m.scores
    ok = s["truth_valid"] > 0
    evidence = np.clip(m.explanation.profile, 0, None)
    inside = test.window_mask()
    with np.errstate(invalid="ignore", divide="ignore"):
        profile_share = (evidence * inside).sum(axis=1) / evidence.sum(axis=1)
    beaten = s["top_drop_beaten"] >= 0.95
    return {
        "design": design,
        "n_points": n_points,
        "accuracy": accuracy,
        "n_correct_positive": int(ok.sum()),
        "share_energy_in_window_80": float(np.mean(s["energy_in_window"][ok] >= 0.8)),
        "median_energy_in_window": float(np.nanmedian(s["energy_in_window"][ok])),
        "median_correlation": float(np.nanmedian(s["correlation"][ok])),
        "share_top_beats_95": float(np.mean(beaten[ok])),
        "median_profile_in_window": float(np.nanmedian(profile_share[ok])),
        "train_seconds": round(train_s, 1),
        "evaluate_seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated designs")
    p.add_argument("--n-points", type=int, default=1024)
    p.add_argument("--n-train", type=int, default=160)
    p.add_argument("--n-test", type=int, default=60)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--n-null", type=int, default=50)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    rows = []
    recipe = _recipe()
    print(
        "| design | points | accuracy | n | energy >= 0.8 in window | median energy "
        "| median correlation | top beats 95 % | profile evidence in window | train s "
        "| evaluate s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for design in args.designs.split(","):
        r = run_design(
            design.strip(),
            recipe=recipe,
            n_points=args.n_points,
            n_train=args.n_train,
            n_test=args.n_test,
            epochs=args.epochs,
            n_null=args.n_null,
        )
        rows.append(r)
        print(
            f"| {r['design']} | {r['n_points']} | {r['accuracy']:.2f} | "
            f"{r['n_correct_positive']} | {r['share_energy_in_window_80']:.2f} | "
            f"{r['median_energy_in_window']:.2f} | {r['median_correlation']:.2f} | "
            f"{r['share_top_beats_95']:.2f} | {r['median_profile_in_window']:.2f} | "
            f"{r['train_seconds']:.0f} | "
            f"{r['evaluate_seconds']:.0f} |",
            flush=True,
        )
    res = {
        "rows": rows,
        "seeds": {"train": SEED_TRAIN, "test": SEED_TEST},
        "args": vars(args),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
