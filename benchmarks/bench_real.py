"""Verdicts on real spectra: how many explanations beat their matched null (issue 17).

Run from the repository root (a few minutes on 2 cores)::

    python benchmarks/bench_real.py [--json benchmarks/results_real.json] [--out DIR]

Two real FTIR sets, where no ground truth exists and only the deletion test applies:

* **Coffee** (UCR, bundled: ``data/coffee.npz``), explained with the bundled
  ``models/coffee.pt`` on its 28 test spectra;
* **brewed coffee** (chemotools' 60 ATR-FTIR spectra of 3 origins,
  :func:`saliency2signal.datasets.load_brewed_coffee`, 42 train / 18 test), with a
  model trained here by the bundled Coffee recipe (``models/train_models.py``).

Each test set is explained with Integrated Gradients and a verdict per explanation
(20 matched random regions per region) relative to nothing (``reference='zero'``), to
the mean test spectrum (``'mean'``), and with the defaults (``'class_means'``: each
spectrum against the mean training spectrum of its foil class, which the model files
record; a Coffee model file from before they were recorded gets the means of its bundled
training split here, exactly what ``train`` records); and with ``method='auto'`` without and with
the default reference. Printed per run: the share of explanations
better than chance, mixed, not better than chance, and contradicted (deleting the top
region raises the class's probability), and for ``auto`` the method it chose.
``--out`` also writes each run's report folder (every explanation's verdict on the
page).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import ROOT, finish, load_recipe

from saliency2signal import explain
from saliency2signal.datasets import load_brewed_coffee, load_coffee
from saliency2signal.io import load_model
from saliency2signal.metadata import class_means, with_class_means


def _sets():
    """Yield ``(name, model, metadata, test set, accuracy)``."""
    recipe = load_recipe()
    model, meta = load_model(ROOT / "models" / "coffee.pt")
    test = load_coffee("test")
    if class_means(meta) is None:  # a model file from before they were recorded
        train = load_coffee("train")
        meta = with_class_means(meta, train.x, train.y)
    yield "coffee (UCR, bundled model)", model, meta, test, recipe.accuracy_on(model, meta, test)
    spec = dict(recipe.SETTINGS["coffee"])
    spec["loader"] = lambda split: load_brewed_coffee(split)
    out = recipe.train_one("brewed_coffee", spec, 0)
    test = load_brewed_coffee("test")
    yield (
        "brewed coffee (chemotools, trained here)",
        out.model,
        out.metadata,
        test,
        recipe.accuracy_on(out.model, out.metadata, test),
    )


RUNS = {
    "integrated_gradients, reference=zero": {"reference": "zero"},
    "integrated_gradients, reference=mean": {"reference": "mean"},
    "integrated_gradients (defaults: reference=class_means)": {},
    "auto, reference=zero": {"method": "auto", "reference": "zero"},
    "auto (defaults: reference=class_means)": {"method": "auto"},
}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--out", metavar="DIR", help="also write every run's report folder")
    args = p.parse_args(argv)
    rows = []
    print(
        "| data | accuracy | run | n | better than chance | mixed | not better | "
        "contradicted | chosen | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, model, meta, test, acc in _sets():
        for run, kwargs in RUNS.items():
            t0 = time.perf_counter()
            e = explain(model, test.x, metadata=meta, labels=test.y, **kwargs)
            seconds = time.perf_counter() - t0
            v = e.verdict_summary()
            n = v["n"]
            sel = e.settings.get("method_selection")
            row = {
                "data": name,
                "accuracy": acc,
                "run": run,
                "n": n,
                "better_than_chance": v["better_than_chance"] / n,
                "mixed": v["mixed"] / n,
                "not_better_than_chance": v["not_better_than_chance"] / n,
                "contradicted": v["contradicted"] / n,
                "median_top_beaten": float(np.median([x.top_beaten for x in e.verdicts])),
                "chosen": e.method,
                "method_selection": sel,
                "seconds": round(seconds, 1),
            }
            rows.append(row)
            print(
                f"| {name} | {acc:.2f} | {run} | {n} | {row['better_than_chance']:.2f} | "
                f"{row['mixed']:.2f} | {row['not_better_than_chance']:.2f} | "
                f"{row['contradicted']:.2f} | {e.method} | {seconds:.0f} |",
                flush=True,
            )
            if args.out:
                Path(args.out).mkdir(parents=True, exist_ok=True)
                slug = "_".join(w.strip("(),=") for w in f"{name} {run}".split()[:2])
                slug += "_" + run.replace(", reference=", "_").replace(" ", "")
                e.save(Path(args.out) / slug, figures=True)
    return finish(
        rows,
        args.json,
    )


if __name__ == "__main__":
    main()
