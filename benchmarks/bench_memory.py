"""Peak resident memory of explaining long spectra, before and after issue 22.

Run from the repository root (a few minutes on 2 cores)::

    git worktree add --detach /tmp/before22 fa133b2   # the code before issue 22
    python benchmarks/bench_memory.py --before /tmp/before22 \
        [--json benchmarks/results_memory.json]

The 18 brewed-coffee test spectra (chemotools' ATR-FTIR set, 1841 points,
:func:`saliency2signal.datasets.load_brewed_coffee`) are explained with Integrated
Gradients and ``explain``'s defaults (verdicts with 20 null draws, band readings, the
class-means reference) by a model trained here with the bundled Coffee recipe
(``models/train_models.py``, ``nv=32``, 64x64 images), as ``bench_real.py`` does.
Each run is a fresh process whose resident memory is sampled every 10 ms by a thread
(``psutil``), peak and ``ru_maxrss`` both recorded (``ru_maxrss`` starts from this
process's own at the fork, about the model's baseline here):

* ``before``: the code of ``--before`` (a source tree put first on ``PYTHONPATH``),
  ``explain(batch_size=16)`` on all 18 spectra in one call, as the CLI did;
* ``after_batch16``: this tree, the same call: what the byte bounds of the internal
  batches (forward passes' transforms, mask stacks, forward batches) alone change;
* ``after_plan``: this tree, chunks and batch size from
  :func:`saliency2signal.stream._budget.plan_memory` for ``--memory`` (default 2 GB),
  one ``explain`` call per chunk (``first_index`` set), as the streamed runner does.

Printed: peak per run, its ratio to ``before``, the plan's estimate, and whether the
results equal ``before``'s (every region's drop and every verdict's top drop).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from _common import ROOT, finish, load_recipe

from saliency2signal.datasets import load_brewed_coffee
from saliency2signal.io import load_model, save_model
from saliency2signal.stream._budget import parse_memory, plan_memory

#: The child: explain the spectra in chunks, sample the resident memory in a thread.
CHILD = """
import json, resource, sys, threading, time
import numpy as np, psutil, torch
import saliency2signal
from saliency2signal import explain
from saliency2signal.io import load_model
model_path, data_path, chunk, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model, meta = load_model(model_path)
x = np.load(data_path)["x"]
proc = psutil.Process()
baseline = proc.memory_info().rss
peak, stop = [baseline], []
def sample():
    while not stop:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.01)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
t0 = time.perf_counter()
drops, tops = [], []
for s in range(0, len(x), chunk):
    e = explain(model, x[s:s + chunk], metadata=meta, batch_size=batch, first_index=s)
    drops += [[r.drop for r in rs] for rs in e.regions]
    tops += [v.top_drop for v in e.verdicts or ()]
    del e
seconds = time.perf_counter() - t0
stop.append(1)
thread.join()
print(json.dumps({
    "source": saliency2signal.__file__, "baseline": baseline, "peak": peak[0],
    "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "seconds": seconds, "drops": drops, "top_drops": tops,
}))
"""


def _train(folder: Path) -> tuple[Path, Path]:
    """Train the Coffee recipe on brewed coffee; write the model and the test spectra."""
    recipe = load_recipe()
    spec = dict(recipe.SETTINGS["coffee"])
    spec["loader"] = load_brewed_coffee
    out = recipe.train_one("brewed_coffee", spec, 0)
    model_path, data_path = folder / "brewed.pt", folder / "brewed_test.npz"
    save_model(out.model, model_path, metadata=out.metadata)
    np.savez(data_path, x=load_brewed_coffee("test").x)
    return model_path, data_path


def _run(source: Path, model_path: Path, data_path: Path, chunk: int, batch: int) -> dict:
    """Explain in a fresh process with ``source`` first on the path; its measurements."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(model_path), str(data_path), str(chunk), str(batch)],
        capture_output=True,
        text=True,
        env=env,
        cwd=source,  # ``-c`` puts the working folder first on the path
        check=True,
    )
    res = json.loads(done.stdout.strip().splitlines()[-1])
    if not res["source"].startswith(str(source)):
        raise RuntimeError(f"the child imported {res['source']}, not the tree {source}")
    return res


def _compare(res: dict, first: dict) -> dict:
    """How the run's results differ from the first run's (regions' drops, verdicts)."""
    out = {}
    for key in ("drops", "top_drops"):
        got = [np.asarray(v, dtype=float).ravel() for v in res[key]]
        ref = [np.asarray(v, dtype=float).ravel() for v in first[key]]
        shapes = [g.shape for g in got] == [r.shape for r in ref]
        a = np.concatenate(got) if got and shapes else np.zeros(0)
        b = np.concatenate(ref) if ref and shapes else np.zeros(0)
        nan_same = shapes and bool(np.array_equal(np.isnan(a), np.isnan(b)))
        finite = ~(np.isnan(a) | np.isnan(b))
        out[f"same_{key}_as_before"] = nan_same and bool(np.array_equal(a[finite], b[finite]))
        out[f"max_abs_{key}_difference"] = (
            float(np.max(np.abs(a[finite] - b[finite]), initial=0.0)) if nan_same else None
        )
    return out


def main(argv=None) -> dict:
    """Measure the three runs; print and return the rows."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", type=Path, required=True, help="source tree before issue 22")
    p.add_argument("--memory", default="2GB", help="budget of the planned run")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    budget = parse_memory(args.memory)
    with tempfile.TemporaryDirectory() as tmp:
        model_path, data_path = _train(Path(tmp))
        model, meta = load_model(model_path)
        n_times, n_signals = np.load(data_path)["x"].shape[1], 18
        plan = plan_memory(
            n_times=n_times,
            transform_config=meta.transform,
            imaging_config=meta.imaging,
            method="integrated_gradients",
            n_steps=32,
            n_null=20,
            max_regions=5,
            budget=budget,
            model_bytes=sum(t.numel() * t.element_size() for t in model.state_dict().values()),
        )
        print(plan.describe())
        runs = [
            ("before", args.before, n_signals, 16),
            ("after_batch16", ROOT, n_signals, 16),
            ("after_plan", ROOT, plan.signals_per_chunk, plan.batch_size),
        ]
        rows, first = [], None
        for name, source, chunk, batch in runs:
            res = _run(source.resolve(), model_path, data_path, chunk, batch)
            first = first or res
            row = {
                "run": name,
                "signals_per_chunk": chunk,
                "batch_size": batch,
                "peak_gb": res["peak"] / 1e9,
                "ru_maxrss_gb": res["ru_maxrss"] / 1e9,
                "baseline_gb": res["baseline"] / 1e9,
                "seconds": res["seconds"],
                "peak_ratio_to_before": res["peak"] / first["peak"],
                **_compare(res, first),
            }
            rows.append(row)
            print(
                f"{name:14s} chunk {chunk:3d} batch {batch:2d}: peak {row['peak_gb']:.2f} GB "
                f"(x{row['peak_ratio_to_before']:.2f} of before), {row['seconds']:.0f} s, "
                f"same results: {row['same_drops_as_before'] and row['same_top_drops_as_before']}"
                f" (largest difference {row['max_abs_drops_difference']})"
            )
    return finish(
        rows,
        args.json,
        budget=budget,
        n_times=int(n_times),
        n_signals=n_signals,
        plan={
            "describe": plan.describe(),
            "estimated_peak_gb": plan.estimated_peak / 1e9,
            "per_signal_held": plan.per_signal_held,
            "per_batch_transient": plan.per_batch_transient,
            "baseline": plan.baseline,
        },
        plan_holds=rows[-1]["peak_gb"] * 1e9 <= plan.estimated_peak <= budget,
        before_source=str(args.before),
        torch_version=torch.__version__,
    )


if __name__ == "__main__":
    main()
