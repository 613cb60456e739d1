"""``saliency2signal train``: its old defaults against the recipe it has now, by test accuracy.

Run from the repository root (one torch thread; about two minutes per data set and
seed)::

    python benchmarks/bench_train.py [--designs shoulder,width,overlap] [--seeds 0,1,2]
                                     [--threads 1] [--json benchmarks/results_train.json]

Each data set is written to an ``.npz`` and trained through the command line itself
(``saliency2signal.cli.main(["train", ...])``), then the saved model file is loaded and
scored on the test set exactly as a user would (``load_model``, ``make_images``, argmax).
Data: the benchmark designs of :func:`~saliency2signal.designs.make_design_spectra` (160
training and 60 test spectra of 1024 points, seeds fixed here and used for no choice; the
wavenumber axis travels as the ``.npz``'s ``wavenumbers``) and the bundled UCR Coffee
(:func:`~saliency2signal.datasets.load_coffee`, 28 + 28 spectra of 286 points).
Configurations:

* ``old``: the defaults of ``train`` before the recipe, spelled out as options (Morse
  ``beta=60``, ``nv=32``, no low-pass row; per-image min-max, no antialiasing; four
  blocks, no coordinates; 20 epochs of batches of 16, the last epoch's weights, no early
  stopping; the 20 % validation split held out all the same);
* ``new``: the defaults now (the planted model's recipe; at most 100 epochs, early
  stopping with patience 10 on the 20 % validation split, the best-validation weights);
* ``recipe``: the new defaults with ``--val-fraction 0 --epochs 30``, i.e. the recipe of
  ``models/train_models.py`` on every training spectrum (no early stopping).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from saliency2signal.cli import main as cli_main
from saliency2signal.datasets import load_coffee
from saliency2signal.designs import make_design_spectra
from saliency2signal.io import load_model
from saliency2signal.models import make_images

SEED_TRAIN, SEED_TEST = 2701, 2702
N_TRAIN, N_TEST, N_POINTS = 160, 60, 1024

CONFIGS = {
    "old": [
        *("--nv", "32", "--beta", "60", "--no-lowpass-row"),
        *("--normalize", "minmax", "--no-antialias"),
        *("--widths", "16,32,64,64", "--no-coord-channels"),
        *("--epochs", "20", "--batch-size", "16", "--patience", "0", "--keep", "last"),
    ],
    "new": [],
    "recipe": ["--val-fraction", "0", "--epochs", "30"],
}


def data_sets(designs: list[str]) -> dict:
    """``{name: (train, test)}``: the designs, then Coffee."""
    out = {}
    for design in designs:
        out[design] = tuple(
            make_design_spectra(design, n, n_points=N_POINTS, rng=seed)
            for n, seed in ((N_TRAIN, SEED_TRAIN), (N_TEST, SEED_TEST))
        )
    out["coffee"] = (load_coffee("train"), load_coffee("test"))
    return out


def accuracy(model_path: Path, test) -> float:
    """Test accuracy of a saved model file, as a user of the file computes it."""
    loaded = load_model(model_path)
    images = make_images(
        test.x, transform_config=loaded.metadata.transform, imaging_config=loaded.metadata.imaging
    )
    with torch.no_grad():
        pred = loaded.model(images).argmax(1).numpy()
    return float((pred == test.y).mean())


def run_one(name: str, train, test, config: str, seed: int, folder: Path) -> dict:
    """Train ``config`` on ``train`` through the CLI; return its row."""
    data = folder / f"{name}.npz"
    axis_key = "axis" if name == "coffee" else "wavenumbers"
    np.savez(
        data,
        x=train.x,
        y=train.y,
        class_names=np.array(train.class_names),
        **{axis_key: train.axis},
    )
    model = folder / f"{name}_{config}_{seed}.pt"
    argv = ["train", str(data), "--out", str(model), "--seed", str(seed), *CONFIGS[config]]
    log = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        status = cli_main(argv)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{log.getvalue()}")
    meta = load_model(model).metadata
    training = meta.extra["training"]
    return {
        "data": name,
        "config": config,
        "seed": seed,
        "test_accuracy": accuracy(model, test),
        "n_test": int(test.y.size),
        "epochs_run": training["epochs_run"],
        "best_epoch": training["best_epoch"],
        "stopped_early": training["stopped_early"],
        "val_accuracy": training["val_accuracy"],
        "axis": f"{meta.axis_name} ({meta.axis_units})",
        "train_seconds": round(seconds, 1),
    }


def _epochs(sel: list[dict]) -> str:
    """``run (best)`` per seed where training stopped early, else the epochs run."""
    return ", ".join(
        f"{r['epochs_run']} ({r['best_epoch']})" if r["stopped_early"] else str(r["epochs_run"])
        for r in sel
    )


def table(rows: list[dict], configs: list[str]) -> str:
    """Markdown: per data set, each configuration's test accuracy, epochs and seconds."""
    head = ["data", "n test"]
    for c in configs:
        head += [f"{c}: test accuracy", f"{c}: epochs"]
    head.append("train s (" + " / ".join(configs) + ")")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == name]
        cells = [name, str(mine[0]["n_test"])]
        seconds = []
        for c in configs:
            sel = [r for r in mine if r["config"] == c]
            acc = [r["test_accuracy"] for r in sel]
            spread = f" ({min(acc):.2f}–{max(acc):.2f})" if len(acc) > 1 else ""
            cells += [f"{np.mean(acc):.2f}{spread}", _epochs(sel)]
            seconds.append(f"{np.mean([r['train_seconds'] for r in sel]):.0f}")
        cells.append(" / ".join(seconds))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", default="shoulder,width,overlap", help="comma-separated")
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)  # more threads than idle cores slow training down
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    configs = [c.strip() for c in args.configs.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (train, test) in data_sets(designs).items():
            for config in configs:
                for seed in seeds:
                    r = run_one(name, train, test, config, seed, Path(tmp))
                    rows.append(r)
                    print(json.dumps(r), file=sys.stderr, flush=True)
    text = table(rows, configs)
    print(text)
    result = {
        "args": vars(args),
        "seeds": {"train": SEED_TRAIN, "test": SEED_TEST},
        "sizes": {"n_train": N_TRAIN, "n_test": N_TEST, "n_points": N_POINTS},
        "configs": CONFIGS,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
        "table": text,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
