"""Issue 17's criteria on every benchmark design: train a model per design, explain, score.

Run from the repository root (minutes per design on 2 cores)::

    python benchmarks/bench_designs.py [--designs shoulder,width] [--n-points 1024]
                                       [--json benchmarks/results_designs.json]

For each design of :data:`saliency2signal.designs.DESIGNS` it draws a training set and a
test set (:func:`~saliency2signal.designs.make_design_spectra`, seeds fixed here and used
for no choice), trains the package's CNN with the recipe of the bundled planted model
(``models/train_models.py``: short Morse wavelet, low-pass row, 64 x 64 log images with a
fixed mean/std, CoordConv, 30 epochs; the model file records each class's mean training
spectrum, as ``saliency2signal train`` does) and runs
:func:`~saliency2signal.explain` with its defaults (``reference='auto'``: contrastive,
each spectrum against the mean training spectrum of its foil class) and the wavenumber
axis, and again with ``reference='zero'`` (no reference: the defaults before). Per run it
prints, over the correctly classified positive spectra:

* the share with at least 0.8 of the recovered energy inside the truth window
  (criterion >= 0.9) and the median correlation of the recovered component with the
  planted feature (criterion >= 0.8); the recovered component is the regions' contrasts
  summed (what they hold that the reference does not), their components without one;
* the same two for the top region's *band* as reported: the fitted peak whose deletion
  lowers the class's probability most (``RegionEffect.peak``) and, with a reference,
  the band minus itself with the property (position, width at constant area, height)
  the model feels most put back to the reference's (``peak['reference']['change']``);
* the share whose top region's deletion beats 95 % of its matched random regions
  (criterion >= 0.8; the verdict's, ``n_null`` draws) and the share of verdicts
  ``'better than chance'``;
* with ``--oracle``, that share for the planted feature's own footprint taken as the
  explanation (its coefficient energy in the truth window, through the same regions and
  verdict: what a perfect explanation would score), with and without the reference, and
  the median drop of the probability when the feature itself is subtracted.

Nothing here is tuned to a design: the same recipe and defaults for all of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from _common import finish, load_recipe

from saliency2signal import explain, ssq_cwt
from saliency2signal.designs import DESIGNS, make_design_spectra
from saliency2signal.explanation import map_heatmaps
from saliency2signal.forward import probabilities
from saliency2signal.peaks import Peak

SEED_TRAIN, SEED_TEST = 1701, 1702


def _float32(d):
    return dataclasses.replace(d, x=d.x.astype(np.float32))


def run_design(
    design: str,
    *,
    recipe,
    n_points: int,
    n_train: int,
    n_test: int,
    epochs: int,
    n_null: int,
    oracle: bool = False,
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
    row = {
        "design": design,
        "n_points": n_points,
        "accuracy": accuracy,
        "reference_default": None,
        "train_seconds": round(train_s, 1),
    }
    for key, reference in (("", "auto"), ("zero_", "zero")):
        t0 = time.perf_counter()
        e = explain(
            out.model,
            test.x,
            metadata=out.metadata,
            axis=test.axis,
            n_null=n_null,
            reference=reference,
        )
        row[f"{key}explain_seconds"] = round(time.perf_counter() - t0, 1)
        if reference == "auto":
            row["reference_default"] = e.settings["reference"]
            if oracle:
                row.update(_oracle(out.model, out.metadata, test, e, n_null=n_null))
        row.update({f"{key}{k}": v for k, v in _scores(e, test).items()})
    return row


def _oracle(model, metadata, test, e, *, n_null: int) -> dict:
    """The top-region criterion's ceiling: the planted feature's own footprint.

    The attribution is the planted feature's own coefficient energy ``|Tx(feature)|**2``
    in the truth window's columns (the low-pass row left out: a peak's mean lies there
    across the whole axis), mapped through the defaults' regions and verdict
    (:func:`~saliency2signal.explanation.map_heatmaps`), with the default run's
    references (the foil class's mean) and without; and the drop of the class's
    probability when the feature itself is subtracted from the spectrum. (The energy
    the feature *adds* to ``Tx(x)`` is no footprint: synchrosqueezing reassigns the
    neighbouring bands' energy too, over most of the axis.)
    """
    ok = np.flatnonzero((test.y == 1) & (e.predictions == 1))
    x, feature = test.x[ok], test.components[ok].astype(test.x.dtype)
    tcfg = metadata.transform
    ft = torch.as_tensor(feature, dtype=torch.float64)
    footprint = (ssq_cwt(ft, tcfg).Tx.abs() ** 2).numpy() * test.window_mask()[ok][:, None, :]
    if tcfg.lowpass_row:
        footprint[:, 0] = 0.0
    refs = (("oracle_", "zero" if e.references is None else e.references[ok]),)
    refs += (("oracle_zero_", "zero"),) if e.references is not None else ()
    row = {}
    for key, ref in refs:
        o = map_heatmaps(
            footprint,
            x,
            metadata=metadata,
            model=model,
            axis=test.axis,
            reference=ref,
            target=np.ones(ok.size, dtype=np.int64),
            peaks=False,
            n_null=n_null,
        )
        beaten = [v.top_beaten is not None and v.top_beaten >= 0.95 for v in o.verdicts]
        row[f"{key}share_top_beats_95"] = float(np.mean(beaten)) if ok.size else None
        row[f"{key}median_top_drop"] = float(np.median([v.top_drop for v in o.verdicts]))
    kw = {"transform_config": tcfg, "imaging_config": metadata.imaging}
    p_x = probabilities(model, torch.as_tensor(x), **kw)[:, 1]
    p_cut = probabilities(model, torch.as_tensor(x - feature), **kw)[:, 1]
    row["median_feature_removal_drop"] = float(torch.median(p_x - p_cut))
    return row


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def _curve(p: dict, axis: np.ndarray) -> np.ndarray:
    return Peak(p["centre"], p["fwhm"], p["height"], p["eta"]).curve(axis)


def _band_feature(peak: dict, axis: np.ndarray) -> np.ndarray:
    """The band as reported: with a reference, the band minus its restored self.

    ``peak['reference']['change']`` names the property (position, width, height) whose
    restoration to the reference's the model feels most; the difference is what the
    change adds to the spectrum. A band the reference lacks is the band itself.
    """
    curve = _curve(peak, axis)
    change = (peak.get("reference") or {}).get("change") or {}
    if change.get("restored") is not None:
        curve = curve - _curve(change["restored"], axis)
    return curve


def _share_in(v: np.ndarray, inside: np.ndarray) -> float:
    return float((v**2 * inside).sum() / max((v**2).sum(), 1e-300))


def _scores(e, test) -> dict:
    """Issue 17's criteria over the correctly classified positive spectra of ``e``.

    The recovered component is the regions' ``contrasts`` summed when the explanation
    has a reference (what the regions hold that the reference does not), else their
    components; the band is the top region's (see :func:`_band_feature`); the top
    region's percentile against its matched null is the verdict's.
    """
    ok = np.flatnonzero((test.y == 1) & (e.predictions == 1))
    inside = test.window_mask()
    recovered = (e.components if e.contrasts is None else e.contrasts).sum(1)
    energy = [_share_in(recovered[i], inside[i]) for i in ok]
    corr = [_corr(recovered[i], test.components[i]) for i in ok]
    band_corr, band_energy = [], []
    for i in ok:
        peak = e.regions[i][0].peak if e.regions[i] else None
        if peak is None:
            band_corr.append(np.nan)
            band_energy.append(0.0)
            continue
        curve = _band_feature(peak, test.axis)
        band_corr.append(_corr(curve, test.components[i]))
        band_energy.append(_share_in(curve, inside[i]))
    verdicts = [e.verdicts[i] for i in ok]
    beaten = [v.top_beaten is not None and v.top_beaten >= 0.95 for v in verdicts]
    evidence = np.clip(np.asarray(e.profile), 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile_share = (evidence * inside).sum(axis=1) / evidence.sum(axis=1)
    med = (lambda v: float(np.nanmedian(v))) if ok.size else (lambda v: None)
    return {
        "n_correct_positive": int(ok.size),
        "share_energy_in_window_80": float(np.mean(np.array(energy) >= 0.8)),
        "median_energy_in_window": med(energy),
        "median_correlation": med(corr),
        "share_band_energy_in_window_80": float(np.mean(np.array(band_energy) >= 0.8)),
        "median_band_correlation": med(band_corr),
        "share_top_beats_95": float(np.mean(beaten)) if ok.size else None,
        "share_better_than_chance": float(np.mean([v.better_than_chance for v in verdicts]))
        if ok.size
        else None,
        "median_profile_in_window": med(profile_share[ok]),
        "changes": {
            kind: int(
                sum(
                    ((e.regions[i][0].peak or {}).get("reference") or {})
                    .get("change", {})
                    .get("kind")
                    == kind
                    for i in ok
                    if e.regions[i]
                )
            )
            for kind in ("position", "width", "height", "new band", "excess band")
        },
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated designs")
    p.add_argument("--n-points", type=int, default=1024)
    p.add_argument("--n-train", type=int, default=160)
    p.add_argument("--n-test", type=int, default=60)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--n-null", type=int, default=50)
    p.add_argument(
        "--oracle",
        action="store_true",
        help="also score the planted feature's own footprint as the explanation (the "
        "top-region criterion's ceiling) and the drop when the feature is subtracted",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    rows = []
    recipe = load_recipe()
    cols = (
        ("share_energy_in_window_80", "energy >= 0.8"),
        ("median_correlation", "correlation"),
        ("share_band_energy_in_window_80", "band energy >= 0.8"),
        ("median_band_correlation", "band correlation"),
        ("share_top_beats_95", "top beats 95 %"),
        ("share_better_than_chance", "better than chance"),
    )
    print(
        "| design | accuracy | n | reference | "
        + " | ".join(c[1] for c in cols)
        + " | zero reference: "
        + " | ".join(c[1] for c in cols)
        + " | train s | explain s |"
    )
    print("|---" * (6 + 2 * len(cols)) + "|")
    for design in args.designs.split(","):
        r = run_design(
            design.strip(),
            recipe=recipe,
            n_points=args.n_points,
            n_train=args.n_train,
            n_test=args.n_test,
            epochs=args.epochs,
            n_null=args.n_null,
            oracle=args.oracle,
        )
        rows.append(r)
        if args.oracle:
            print(
                f"  oracle ({r['design']}): the planted feature's footprint beats 95 % of "
                f"its null on {r['oracle_share_top_beats_95']:.2f} (median drop "
                f"{r['oracle_median_top_drop']:.3f})"
                + (
                    f", {r['oracle_zero_share_top_beats_95']:.2f} without the reference "
                    f"(median drop {r['oracle_zero_median_top_drop']:.3f})"
                    if "oracle_zero_share_top_beats_95" in r
                    else ""
                )
                + f"; subtracting the feature drops p by a median "
                f"{r['median_feature_removal_drop']:.3f}",
                flush=True,
            )

        def f(v):
            return "-" if v is None else f"{v:.2f}"

        print(
            f"| {r['design']} | {r['accuracy']:.2f} | {r['n_correct_positive']} | "
            f"{r['reference_default']} | "
            + " | ".join(f(r[c]) for c, _ in cols)
            + " | "
            + " | ".join(f(r["zero_" + c]) for c, _ in cols)
            + f" | {r['train_seconds']:.0f} | {r['explain_seconds']:.0f} |",
            flush=True,
        )
    return finish(
        rows,
        args.json,
        seeds={"train": SEED_TRAIN, "test": SEED_TEST},
        args=vars(args),
    )


if __name__ == "__main__":
    main()
