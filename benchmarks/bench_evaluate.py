"""Method comparison: every attribution method x every faithfulness metric x both datasets.

Run from the repository root (CPU; about 20-30 minutes on a 2-core machine)::

    python benchmarks/bench_evaluate.py [--json benchmarks/results_evaluate.json]
                                        [--datasets coffee,planted] [--methods ...]

For each bundled dataset (test split) and its bundled model, runs
:func:`saliency2signal.evaluation.evaluate` with 50 matched random regions per explanation
region, the insertion curves, the ground truth where the data has it (planted peaks),
and the model-randomisation sanity check — the full cascade (one block at a time, top
first) for Integrated Gradients and one step (every block at once) for the other methods
to keep the run short. Methods: Integrated Gradients (32 steps), Saliency, SmoothGrad
(Saliency + noise tunnel, 8 samples), LayerGradCam (on the model's ``cam_layer``),
Occlusion (windows of one octave x N/16 samples, not overlapping), region-level Shapley value
sampling (8 x 16 blocks of the plane, 2 permutations) and the plain time-domain
gradient. Also times the *default* ``saliency2signal evaluate`` run on Coffee (IG,
n_null=50, cascading randomisation), whose goal is under 5 minutes.

Prints one markdown table per dataset and writes every summary row (and the machine) to
the JSON file.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from saliency2signal.datasets import load_coffee, load_planted
from saliency2signal.evaluation import evaluate
from saliency2signal.io import load_model

ROOT = Path(__file__).resolve().parents[1]
METHODS = (
    "integrated_gradients",
    "saliency",
    "saliency+smoothgrad",
    "layer_gradcam",
    "occlusion",
    "shapley_value_sampling",
    "time_gradient",
)
OPTIONS = {"shapley_value_sampling": {"n_samples": 2}, "saliency+smoothgrad": {"nt_samples": 8}}
COLUMNS = [
    ("deletion_auc", "del. AUC"),
    ("null_deletion_auc", "null del. AUC"),
    ("deletion_lerf_auc", "LeRF AUC"),
    ("insertion_auc", "ins. AUC"),
    ("top_drop", "top drop"),
    ("top_drop_percentile", "top-drop pct"),
    ("share_top_drop_beats_95", "beats 95 %"),
    ("energy_in_window", "energy in window"),
    ("share_energy_in_window_80", "share >= 0.8"),
    ("relevance_mass", "rel. mass"),
    ("relevance_rank", "rel. rank"),
    ("correlation", "corr."),
    ("randomized_spearman", "rand. Spearman"),
    ("seconds", "s"),
]


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def table(rows: list[dict]) -> str:
    cols = [c for c in COLUMNS if any(r.get(c[0]) is not None for r in rows)]
    out = ["| method | " + " | ".join(h for _, h in cols) + " |", "|---|" + "---|" * len(cols)]
    for r in rows:
        out.append(f"| {r['method']} | " + " | ".join(_fmt(r.get(k)) for k, _ in cols) + " |")
    return "\n".join(out)


def run_dataset(name: str, methods, n_null: int) -> dict:
    data = load_planted("test") if name == "planted" else load_coffee("test")
    loaded = load_model(ROOT / "models" / f"{name}.pt", rebuild=True)
    rows = []
    for method in methods:
        opts = dict(OPTIONS.get(method, {}))
        if method == "occlusion":  # one octave x N/16 samples, not overlapping
            n = data.x.shape[-1]
            opts.update(sliding_window_shapes=(1.0, n / 16), strides=(1.0, n / 16))
        start = time.perf_counter()
        ev = evaluate(
            loaded.model,
            data.x,
            metadata=loaded.metadata,
            labels=data.y,
            axis=data.axis,
            truth=data if name == "planted" else None,
            methods=(method,),
            n_null=n_null,
            randomization="cascade" if method == "integrated_gradients" else "full",
            method_options={method: opts} if opts else None,
        )
        row = ev.table()[0]
        row["wall_seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(f"  {name}: {method} done in {row['wall_seconds']} s", flush=True)
    return {"n_signals": int(data.x.shape[0]), "rows": rows}


def default_run_seconds() -> float:
    """The default `saliency2signal evaluate models/coffee.pt data/coffee.npz --key X_test`."""
    data = load_coffee("test")
    loaded = load_model(ROOT / "models" / "coffee.pt")
    start = time.perf_counter()
    evaluate(loaded.model, data.x, metadata=loaded.metadata, labels=data.y, axis=data.axis)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results_evaluate.json"))
    p.add_argument("--datasets", default="coffee,planted")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--n-null", type=int, default=50)
    p.add_argument("--skip-default", action="store_true")
    args = p.parse_args()
    torch.manual_seed(0)
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "params": {"n_null": args.n_null, "methods": args.methods.split(","), "options": OPTIONS},
        "datasets": {},
    }
    total = time.perf_counter()
    if not args.skip_default:
        secs = default_run_seconds()
        result["default_coffee_seconds"] = round(secs, 1)
        print(
            f"default evaluate run on Coffee (28 spectra): {secs:.1f} s (goal < 300 s)", flush=True
        )
    for name in args.datasets.split(","):
        result["datasets"][name] = run_dataset(name, args.methods.split(","), args.n_null)
        print(f"\n### {name} ({result['datasets'][name]['n_signals']} test spectra)\n")
        print(table(result["datasets"][name]["rows"]), flush=True)
    result["total_seconds"] = round(time.perf_counter() - total, 1)
    print(f"\ntotal {result['total_seconds']} s")
    path = Path(args.json)
    if path.exists():  # a run on one dataset keeps the other's results
        old = json.loads(path.read_text())
        for key, value in old.get("datasets", {}).items():
            result["datasets"].setdefault(key, value)
        if "default_coffee_seconds" in old:
            result.setdefault("default_coffee_seconds", old["default_coffee_seconds"])
    path.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
