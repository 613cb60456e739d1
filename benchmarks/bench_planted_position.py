"""Issue #6's criteria on *position* classes: is criterion (b) a property of the data design?

Run from the repository root (about a minute on 2 cores; nothing is written to
``models/`` or ``data/``)::

    python benchmarks/bench_planted_position.py [--json benchmarks/results_planted_position.json]

The bundled planted set has *presence* classes ("absent" vs a peak at 1000 cm^-1). On
the "absent" spectra nothing can be deleted that lowers p(absent), so the deletion
criterion (b) is counted on the spectra that carry a peak (README, evaluation section).
This script draws a set where *every* spectrum carries a planted peak — class 0 at
800 cm^-1, class 1 at 1300 cm^-1, otherwise the generator's defaults and the same seed
scheme as ``data/make_planted.py`` — trains the bundled planted model's architecture and
settings on it (``models/train_models.py``, seed 0, one thread), and evaluates IG with
the defaults (50 null draws, full randomisation), reporting every criterion over all
test spectra.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from saliency2signal.datasets import make_planted_spectra
from saliency2signal.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models"))
import train_models  # noqa: E402

SEED = 20240505
CENTRES = (800.0, 1300.0)
KEYS = (
    "n_samples",
    "n_truth",
    "mean_regions",
    "share_energy_in_window_80",
    "energy_in_window",
    "energy_in_window_top",
    "share_top_drop_beats_95",
    "top_drop_percentile",
    "correlation",
    "randomized_spearman",
)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    rng = np.random.default_rng(SEED)
    train = make_planted_spectra(120, class_centres=CENTRES, rng=rng)
    test = make_planted_spectra(60, class_centres=CENTRES, rng=rng)
    spec = dict(train_models.SETTINGS["planted"])
    spec["loader"] = lambda split: train if split == "train" else test
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as train_models: the thread count changes float sums
    try:
        out = train_models.train_one("position", spec, train_models.SEED)
    finally:
        torch.set_num_threads(threads)
    acc = train_models.accuracy_on(out.model, out.metadata, test)
    start = time.perf_counter()
    ev = evaluate(
        out.model,
        test.x,
        metadata=out.metadata,
        truth=test,
        labels=test.y,
        randomization="full",
        insertion=False,
    )
    row = ev.table()[0]
    res = {
        "class_centres": list(CENTRES),
        "test_accuracy": acc,
        "evaluate_seconds": round(time.perf_counter() - start, 1),
        **{k: row[k] for k in KEYS},
    }
    print(
        f"position classes {CENTRES}: test accuracy {acc:.2f}, IG over all "
        f"{row['n_samples']} test spectra (every one carries a planted peak):"
    )
    print(
        f"  (a) share with >= 0.8 of the recovered energy in the window: "
        f"{row['share_energy_in_window_80']:.2f} (median share "
        f"{row['energy_in_window']:.2f}, top region alone {row['energy_in_window_top']:.2f})"
    )
    print(
        f"  (b) share whose top region beats >= 95 % of its null: "
        f"{row['share_top_drop_beats_95']:.2f}"
    )
    print(f"  (c) Spearman after full randomisation: {row['randomized_spearman']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
