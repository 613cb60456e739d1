"""Explain the bundled Coffee model on the Coffee test spectra, segments overlaid.

The bundled ``models/coffee.pt`` tells Arabica from Robusta FTIR spectra. For each test
spectrum, :func:`saliency2signal.explain` finds the regions of the synchrosqueezed CWT
plane that carried the decision (Integrated Gradients, 32 steps), turns each region into
the segment of the spectrum it stands for (masked one-integral inverse) and measures what
deleting that segment does to the model's probability. The figures overlay the recovered
segments on the original spectra; ``report/`` is the explanation's report folder (its
``report.json`` follows ``saliency2signal/schemas/explanation.schema.json``)::

    python examples/explain_coffee.py [--out explain_coffee_out] [--per-class N]

The notebook ``examples/explain_coffee.ipynb`` runs the same steps, cell by cell (its
``parameters`` cell sets ``OUT`` and ``PER_CLASS``; papermill's ``-p`` works).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from saliency2signal import explain
from saliency2signal.io import load_model


def find_root() -> Path:
    """The repository root: the first folder upwards that holds ``models/coffee.pt``."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents, Path(__file__).resolve().parents[1]):
        if (folder / "models" / "coffee.pt").is_file():
            return folder
    raise FileNotFoundError("models/coffee.pt not found; run from the repository")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="explain_coffee_out", help="output folder")
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="first N test spectra of each class (default: all 15 + 13)",
    )
    args = p.parse_args(argv)
    OUT, PER_CLASS = args.out, args.per_class  # the notebook's parameters cell
    ROOT = find_root()

    # %% Load the bundled model and the Coffee test spectra
    model, meta = load_model(ROOT / "models" / "coffee.pt")
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        x_all, y_all, axis = z["X_test"], z["y_test"], z["axis"]
    pick = np.concatenate(
        [np.flatnonzero(y_all == k)[:PER_CLASS] for k in range(len(meta.class_names))]
    )
    x, y = x_all[pick], y_all[pick]
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(x)} test spectra of {x.shape[1]} points, classes {meta.class_names}")

    # %% Explain: saliency -> regions -> one segment per region -> deletion test
    e = explain(model, x, metadata=meta, axis=axis, labels=y)
    accuracy = float(np.mean(e.predictions == y))
    print(f"accuracy {accuracy:.3f}; regions per spectrum: {[len(r) for r in e.regions]}")

    # %% The regions of the first spectrum of each class
    for b in (0, len(x) - 1):
        print(
            f"spectrum {b} ({meta.class_names[y[b]]}), predicted "
            f"{meta.class_names[e.predictions[b]]} (p = {e.probabilities[b].max():.3f})"
        )
        for r in e.regions[b]:
            lo, hi = r.x_range
            print(
                f"  region {r.label}: {e.axis_name} {lo:5.0f}-{hi:5.0f}, "
                f"{100 * r.region.mass_share:4.1f} % of the attribution, "
                f"deleting it: p {r.p_before:.3f} -> {r.p_after:.3f}"
            )

    # %% Overlay the recovered segments on the original spectra (columns: classes)
    n_rows = min(3, *np.bincount(y))
    n_cols = len(meta.class_names)
    fig = Figure(figsize=(6 * n_cols, 2.4 * n_rows + 0.6), layout="constrained")
    grid = fig.subplots(n_rows, n_cols, sharex=True, squeeze=False)
    for k in range(n_cols):
        for i, b in enumerate(np.flatnonzero(y == k)[:n_rows]):
            ax = e.plot(int(b), kind="overlay", ax=grid[i, k])
            ax.set_title(
                f"spectrum {b}: {meta.class_names[y[b]]}, predicted "
                f"{meta.class_names[e.predictions[b]]}",
                fontsize=9,
                loc="left",
            )
    fig.suptitle("Coffee test spectra with the segments that carried the decision")
    fig.savefig(out / "coffee_overlay.png", dpi=90)

    # %% One spectrum in detail: |Tx| and the attribution, region contours on both
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    e.plot(0, kind="scalogram", ax=ax1)
    e.plot(0, kind="attribution", ax=ax2)
    ax1.set_title("spectrum 0: |Tx| with region contours", fontsize=10, loc="left")
    ax2.set_title("Integrated Gradients attribution (positive part)", fontsize=10, loc="left")
    fig.savefig(out / "coffee_spectrum0_plane.png", dpi=90)

    # %% Numbers: how much of the decision the segments carry; the report folder
    top = [max(r.drop for r in rs) for rs in e.regions if rs]
    summary = {
        "n_spectra": int(len(x)),
        "accuracy": accuracy,
        "regions_per_spectrum": [len(r) for r in e.regions],
        "attribution_share_kept": [
            float(sum(r.region.mass_share for r in rs)) for rs in e.regions
        ],
        "segment_energy": [float(v) for v in e.energy["components"].sum(axis=1)],
        "largest_drop": [float(v) for v in top],
        "x_ranges": [[list(r.x_range) for r in rs] for rs in e.regions],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    e.save(out / "report", figures=False, overwrite=True)
    print(f"median largest drop of p(class) on deleting one segment: {np.median(top):.3f}")
    print(
        f"wrote {out / 'coffee_overlay.png'}, {out / 'coffee_spectrum0_plane.png'}, "
        f"{out / 'summary.json'} and {out / 'report'}"
    )
    return summary


if __name__ == "__main__":
    main()
