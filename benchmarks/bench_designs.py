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
  (``Explanation.profile``) inside the truth window;
* the same two shape criteria for the top region's *band* (``RegionEffect.peak``: the
  fitted peak under the region whose deletion lowers the class's probability most), from
  :func:`~saliency2signal.explain` with its defaults and the wavenumber axis, and the
  share of those explanations whose verdict is ``'better than chance'``;
* the same with the class-0 mean of the training set as ``reference``: each band is
  compared with the same band there, and the band *minus* its partner (the difference
  spectrum; the band itself when the reference lacks it) is scored; the verdict's
  deletions are imputed from the reference;
* two readings tried and kept out of the defaults, for the record: the *contrast*
  component (the regions' cells of ``Tx(x) - Tx(r)``, ``r`` the class-0 mean of the
  training set: what the region holds that a typical negative spectrum does not) and the
  positive attribution profile, each correlated with the planted feature.

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

from saliency2signal import explain, ssq_cwt
from saliency2signal.designs import DESIGNS, make_design_spectra
from saliency2signal.evaluation import evaluate
from saliency2signal.inverse import components
from saliency2signal.peaks import Peak

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
    evaluate_s = time.perf_counter() - t0
    m = ev.methods["integrated_gradients"]
    s = m.scores
    ok = s["truth_valid"] > 0
    evidence = np.clip(m.explanation.profile, 0, None)
    inside = test.window_mask()
    with np.errstate(invalid="ignore", divide="ignore"):
        profile_share = (evidence * inside).sum(axis=1) / evidence.sum(axis=1)
    beaten = s["top_drop_beaten"] >= 0.95
    t0 = time.perf_counter()
    e = explain(out.model, test.x, metadata=out.metadata, axis=test.axis)
    explain_s = time.perf_counter() - t0
    band = _band_scores(e, test)
    # the class-0 mean of the training set as the reference: each band compared with
    # the same band there (a difference spectrum), the verdict's deletions imputed from it
    ref = train.x[train.y == 0].mean(0)
    e_ref = explain(out.model, test.x, metadata=out.metadata, axis=test.axis, reference=ref)
    band_ref = {f"{k}_reference": v for k, v in _band_scores(e_ref, test, difference=True).items()}
    tried = _tried(e, test, train)
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
        **band,
        **band_ref,
        **tried,
        "train_seconds": round(train_s, 1),
        "evaluate_seconds": round(evaluate_s, 1),
        "explain_seconds": round(explain_s, 1),
    }


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def _band_curve(peak: dict, axis: np.ndarray, difference: bool) -> np.ndarray:
    """The band's curve; with ``difference``, minus its partner in the reference."""
    curve = Peak(peak["centre"], peak["fwhm"], peak["height"], peak["eta"]).curve(axis)
    partner = (peak.get("reference") or {}).get("peak")
    if difference and partner is not None:
        p = partner
        curve = curve - Peak(p["centre"], p["fwhm"], p["height"], p["eta"]).curve(axis)
    return curve


def _band_scores(e, test, *, difference: bool = False) -> dict:
    """The top region's band against the planted feature, and the verdicts (defaults)."""
    ok = np.flatnonzero((test.y == 1) & (e.predictions == 1))
    inside = test.window_mask()
    corr, energy = [], []
    for i in ok:
        peak = e.regions[i][0].peak if e.regions[i] else None
        if peak is None:
            corr.append(np.nan)
            energy.append(0.0)
            continue
        curve = _band_curve(peak, test.axis, difference)
        corr.append(_corr(curve, test.components[i]))
        energy.append(float((curve**2 * inside[i]).sum() / max((curve**2).sum(), 1e-300)))
    better = [e.verdicts[i].better_than_chance for i in ok]
    return {
        "n_explained_positive": int(ok.size),
        "median_band_correlation": float(np.nanmedian(corr)) if ok.size else None,
        "share_band_energy_in_window_80": float(np.mean(np.array(energy) >= 0.8)),
        "share_better_than_chance": float(np.mean(better)) if ok.size else None,
    }


def _tried(e, test, train) -> dict:
    """Readings tried and not made defaults: the contrast component, the profile."""
    ok = np.flatnonzero((test.y == 1) & (e.predictions == 1))
    tcfg = e.transform_config
    x = torch.from_numpy(np.asarray(e.signals, np.float64))
    ref = torch.from_numpy(train.x[train.y == 0].mean(0).astype(np.float64))
    with torch.no_grad():
        tx = torch.from_numpy(np.asarray(e.Tx)).to(torch.complex128)
        tr = ssq_cwt(ref[None].expand_as(x).contiguous(), tcfg).Tx.to(torch.complex128)
        contrast = components(tx - tr, tcfg, masks=torch.from_numpy(np.asarray(e.labels)))
    contrast = contrast.sum(1).numpy()
    profile = np.clip(np.asarray(e.profile), 0, None)
    return {
        "median_contrast_correlation": float(
            np.nanmedian([_corr(contrast[i], test.components[i]) for i in ok])
        ),
        "median_profile_correlation": float(
            np.nanmedian([_corr(profile[i], test.components[i]) for i in ok])
        ),
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
        "| median correlation | top beats 95 % | band: energy >= 0.8 | band: correlation "
        "| better than chance | with reference: band energy >= 0.8 | band difference "
        "correlation | better than chance | contrast correlation | profile correlation "
        "| profile evidence in window | train s | evaluate s | explain s |"
    )
    print("|---" * 20 + "|")
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
            f"{r['share_top_beats_95']:.2f} | {r['share_band_energy_in_window_80']:.2f} | "
            f"{r['median_band_correlation']:.2f} | {r['share_better_than_chance']:.2f} | "
            f"{r['share_band_energy_in_window_80_reference']:.2f} | "
            f"{r['median_band_correlation_reference']:.2f} | "
            f"{r['share_better_than_chance_reference']:.2f} | "
            f"{r['median_contrast_correlation']:.2f} | {r['median_profile_correlation']:.2f} | "
            f"{r['median_profile_in_window']:.2f} | {r['train_seconds']:.0f} | "
            f"{r['evaluate_seconds']:.0f} | {r['explain_seconds']:.0f} |",
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
