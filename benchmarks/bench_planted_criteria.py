"""Issue #6's criteria for IG on the bundled planted model, at several mask settings.

Run from the repository root (about 4 minutes on 2 cores)::

    python benchmarks/bench_planted_criteria.py [--json benchmarks/results_planted_criteria.json]

For ``models/planted.pt`` on the 60 planted test spectra (``data/planted.npz``; 30 with
the planted peak, 30 without), :func:`saliency2signal.evaluation.evaluate` runs IG with
the explain defaults (at most 5 regions, 50 matched random regions per region, every
block randomised at once) at ``keep_mass`` 0.8 (the default), 0.5 and 0.3, each with
the default ``min_share=0.02`` and with ``min_share=0`` (every region of the mass). It
reports, per setting:

(a) the share of correctly classified planted spectra with at least 0.8 of the
    recovered energy inside the planted window (centre +- 3 widths), for the union of
    the regions and for the top region alone;
(b) the share of spectra whose top region's deletion beats at least 95 % of its matched
    random regions, over the planted spectra and over all 60;
(c) the mean Spearman correlation of the 1D explanations before and after every block
    of the model is re-drawn.

With ``--fresh N`` it also draws ``N`` new spectra
(``make_planted_spectra(N, rng=777)``, float32 as stored in ``data/planted.npz``; used for
no choice) and reports the model's accuracy on them and (a) at ``keep_mass`` 0.8 and
0.5 (default ``min_share``).

``tests/test_evaluation.py`` asserts (a)-(c) at the defaults (slow case: all 60).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from saliency2signal.datasets import load_planted, make_planted_spectra
from saliency2signal.evaluation import evaluate
from saliency2signal.io import load_model

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [(keep, share) for keep in (0.8, 0.5, 0.3) for share in (0.02, 0.0)]


def criteria(keep_mass: float, min_share: float, d=None) -> dict:
    """Evaluate IG at one mask setting and return the three criteria."""
    model, meta = load_model(ROOT / "models" / "planted.pt", rebuild=True)
    d = load_planted("test") if d is None else d
    truth = {"components": d.components, "windows": d.windows, "axis": d.axis}
    t0 = time.perf_counter()
    ev = evaluate(
        model,
        d.x,
        metadata=meta,
        truth=truth,
        labels=d.y,
        n_null=50,
        randomization="full",
        insertion=False,
        seed=0,
        keep_mass=keep_mass,
        min_share=min_share,
    )
    seconds = time.perf_counter() - t0
    m = ev.methods["integrated_gradients"]
    s = m.scores
    planted = s["truth_valid"] > 0
    ok = planted & (ev.target == d.y)
    beaten = s["top_drop_beaten"] >= 0.95
    return {
        "keep_mass": keep_mass,
        "min_share": min_share,
        "a_union": float(np.mean(s["energy_in_window"][ok] >= 0.8)),
        "a_top_region": float(np.mean(s["energy_in_window_top"][ok] >= 0.8)),
        "b_planted": float(np.mean(beaten[planted])),
        "b_all": float(np.mean(beaten)),
        "c_spearman": float(np.nanmean(m.randomization["spearman"][-1])),
        "n_planted": int(planted.sum()),
        "n_correct_planted": int(ok.sum()),
        "accuracy": float(np.mean(m.explanation.predictions == d.y)),
        "seconds": seconds,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument(
        "--fresh",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate on N freshly drawn spectra (rng=777)",
    )
    args = p.parse_args(argv)
    rows = []
    print(
        "| keep_mass | min_share | (a) union | (a) top region | (b) planted | (b) all 60 "
        "| (c) Spearman | s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for keep, share in SETTINGS:
        r = criteria(keep, share)
        rows.append(r)
        print(
            f"| {keep} | {share} | {r['a_union']:.2f} | {r['a_top_region']:.2f} | "
            f"{r['b_planted']:.2f} | {r['b_all']:.2f} | {r['c_spearman']:.2f} | "
            f"{r['seconds']:.0f} |",
            flush=True,
        )
    fresh = []
    if args.fresh:
        d = make_planted_spectra(args.fresh, rng=777)
        d = dataclasses.replace(d, x=d.x.astype(np.float32))
        for keep in (0.8, 0.5):
            r = criteria(keep, 0.02, d)
            fresh.append(r)
            print(
                f"{args.fresh} fresh spectra, keep_mass={keep}: accuracy "
                f"{r['accuracy']:.3f}, (a) union {r['a_union']:.2f}, top region "
                f"{r['a_top_region']:.2f} ({r['n_correct_planted']} correctly classified "
                f"planted spectra)",
                flush=True,
            )
    res = {
        "rows": rows,
        "fresh": fresh,
        "n_fresh": args.fresh,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
