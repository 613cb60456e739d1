"""Large runs: peak memory and throughput of streamed ``explain`` (issue 22).

Run from the repository root (long: see the options)::

    python benchmarks/bench_scale.py --sizes 18,2000,20000 --full-max 18 \
        --memory-args "--method saliency --n-null 0 --no-peaks" --throughput-n 310 \
        --throughput-args "--method saliency --n-null 0 --no-peaks" --repeats 3 \
        [--json benchmarks/results_scale.json] [--work DIR]

Data: the brewed-coffee ATR-FTIR spectra (chemotools, 60 x 1841 points), tiled with 1 %
noise to the sizes asked and written as ``.npy`` (read memory-mapped); the model: the
bundled Coffee recipe (``models/train_models.py``, nv=32: a 246 x 1841 grid, 64x64
images) trained on the 42 training spectra, as ``bench_real.py`` does (cached in
``--work``).

1. **Peak memory**: ``saliency2signal explain MODEL DATA --stream --no-figures`` in a
   subprocess for each size, its resident memory sampled every 20 ms (psutil, the process
   and its children); the goal is every peak under the 2 GB default budget and the
   largest run's peak within 10 % of the 2 000-spectrum run's. Two settings: the
   defaults (Integrated Gradients, verdicts, band readings: ~4 s per spectrum here, so
   only up to ``--full-max`` spectra) and ``--memory-args`` for every size.
2. **Throughput** on ``--throughput-n`` spectra with ``--throughput-args``, in the same
   invocation and interleaved over ``--repeats`` rounds: today's in-memory run
   (``explain`` + ``save``, batch 16), the streamed in-process run, and the streamed run
   on a local Dask cluster of 1 and of 2 worker processes (one thread each). Each time is
   the run's own (the summary's seconds: the chunks, not the interpreter's or the
   cluster's start; memory sampled every 0.5 s only); printed as spectra/s, medians over
   rounds, and the ratios the issue asks for (streamed / in-memory >= 0.9; 2 workers /
   1 worker >= 1.6).
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import ROOT, finish, load_recipe

CLI = [sys.executable, "-m", "saliency2signal.cli"]
_ALL = ("in_memory", "streamed", "dask_1", "dask_2")


def _model(work: Path) -> Path:
    path = work / "brewed_coffee_recipe.pt"
    if path.is_file():
        return path
    from saliency2signal.datasets import load_brewed_coffee
    from saliency2signal.io import save_model

    recipe = load_recipe()
    spec = dict(recipe.SETTINGS["coffee"])
    spec["loader"] = lambda split: load_brewed_coffee(split)
    out = recipe.train_one("brewed_coffee", spec, 0)
    save_model(out.model, path, metadata=out.metadata)
    return path


def _data(work: Path, n: int) -> Path:
    path = work / f"brewed_{n}.npy"
    if path.is_file():
        return path
    from saliency2signal.datasets import load_brewed_coffee

    base = np.concatenate([load_brewed_coffee("test").x, load_brewed_coffee("train").x])
    rng = np.random.default_rng(n)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, base.shape[1]))
    for s in range(0, n, 1000):
        rows = base[np.arange(s, min(n, s + 1000)) % len(base)]
        scale = 0.01 * rows.std(axis=1, keepdims=True)
        out[s : s + len(rows)] = rows + scale * rng.standard_normal(rows.shape)
    out.flush()
    del out
    return path


def _peak_rss(cmd: list[str], interval: float = 0.02) -> tuple[float, str, float]:
    """Run ``cmd``; return its peak RSS (bytes, with children), stdout and wall time.

    RSS is sampled every ``interval`` seconds (reading ``/proc`` of every child costs CPU:
    the throughput runs sample rarely, so that the sampler does not take a worker's core).
    """
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                rss = ps.memory_info().rss
                rss += sum(c.memory_info().rss for c in ps.children(recursive=True))
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(interval)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    done.set()
    th.join()
    if proc.returncode:
        raise RuntimeError(f"{shlex.join(cmd)} failed: {err.strip()[-2000:]}")
    return float(peak[0]), out, time.perf_counter() - t0


def _run_seconds(stdout: str) -> float:
    m = re.search(r"run now, ([0-9.]+) s\)", stdout)
    if not m:
        raise RuntimeError(f"no run time in: {stdout}")
    return float(m.group(1))


_IN_MEMORY = """
import argparse, sys, time, numpy as np
from saliency2signal import explain
from saliency2signal.io import load_model
p = argparse.ArgumentParser()
p.add_argument("model"); p.add_argument("data"); p.add_argument("out")
p.add_argument("--method", default="integrated_gradients")
p.add_argument("--n-null", type=int, default=20)
p.add_argument("--no-peaks", action="store_true")
a = p.parse_args()
model, meta = load_model(a.model)
x = np.load(a.data)
t = time.perf_counter()
e = explain(model, x, metadata=meta, batch_size=16, method=a.method, n_null=a.n_null,
            peaks=not a.no_peaks)
e.save(a.out, figures="none")
print(f"IN_MEMORY_SECONDS {time.perf_counter() - t:.3f}")
"""


def _memory_rows(model, work, sizes, settings, full_max) -> list[dict]:
    rows = []
    for name, extra in settings:
        for n in sizes:
            if name == "defaults" and n > full_max:
                continue
            data = _data(work, n)
            out = work / f"mem_{name}_{n}"
            shutil.rmtree(out, ignore_errors=True)  # a previous invocation's
            cmd = [*CLI, "explain", str(model), str(data), "--out", str(out), "--stream"]
            cmd += ["--no-figures", *extra]
            peak, stdout, wall = _peak_rss(cmd)
            sec = _run_seconds(stdout)
            plan = re.search(r"; (.*budget.*)$", stdout.splitlines()[0])
            rows.append(
                {
                    "kind": "memory",
                    "settings": name,
                    "n": n,
                    "peak_rss_gb": peak / 1e9,
                    "seconds": sec,
                    "spectra_per_s": n / sec,
                    "wall_s": wall,
                    "plan": plan.group(1) if plan else None,
                }
            )
            print(
                f"memory {name:>8} n={n:>6}: peak RSS {peak / 1e9:5.2f} GB, "
                f"{n / sec:6.2f} spectra/s ({rows[-1]['plan']})",
                flush=True,
            )
    return rows


def _throughput_rows(model, work, n, repeats, extra: list[str], runs_wanted, tag="") -> list:
    data = _data(work, n)
    rows = []
    for r in range(repeats):
        runs = {
            "in_memory": [sys.executable, "-c", _IN_MEMORY, str(model), str(data), *extra],
            "streamed": [*CLI, "explain", str(model), str(data), "--stream", *extra],
            "dask_1": [*CLI, "explain", str(model), str(data), "--workers", "1", *extra],
            "dask_2": [*CLI, "explain", str(model), str(data), "--workers", "2", *extra],
        }
        for name, cmd in runs.items():
            if name not in runs_wanted:
                continue
            out = work / f"tp_{name}_{n}_{r}"
            shutil.rmtree(out, ignore_errors=True)  # a previous invocation's
            if name == "in_memory":  # the output folder is its 4th argument
                cmd = [*cmd[:5], str(out), *cmd[5:]]
            else:
                cmd = [*cmd, "--out", str(out)]
            if name != "in_memory":
                cmd.append("--no-figures")
            peak, stdout, wall = _peak_rss(cmd, interval=0.5)
            if name == "in_memory":
                sec = float(re.search(r"IN_MEMORY_SECONDS ([0-9.]+)", stdout).group(1))
            else:
                sec = _run_seconds(stdout)
            rows.append(
                {
                    "kind": "throughput",
                    "run": name + tag,
                    "round": r,
                    "n": n,
                    "seconds": sec,
                    "spectra_per_s": n / sec,
                    "wall_s": wall,
                    "peak_rss_gb": peak / 1e9,
                }
            )
            print(
                f"round {r} {name + tag:>13} n={n}: {n / sec:6.3f} spectra/s ({sec:.1f} s; "
                f"wall {wall:.1f} s, peak {peak / 1e9:.2f} GB)",
                flush=True,
            )
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="18,2000,20000")
    p.add_argument("--full-max", type=int, default=2000, help="largest size run with defaults")
    p.add_argument(
        "--memory-args",
        default="--method saliency --n-null 0 --no-peaks",
        help="settings of the cheap runs (every size)",
    )
    p.add_argument("--throughput-n", type=int, default=120)
    p.add_argument(
        "--dask-n",
        type=int,
        help="spectra of the streamed, 1- and 2-worker runs (default: --throughput-n); the "
        "in-memory run holds every result, so it is compared on --throughput-n",
    )
    p.add_argument(
        "--throughput-args", default="", help="settings of the throughput runs (default: defaults)"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--work", help="folder for the model, data and runs (default: a temporary one)")
    p.add_argument("--json")
    args = p.parse_args(argv)
    tmp = None if args.work else tempfile.TemporaryDirectory()
    work = Path(args.work or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    model = _model(work)
    rows = []
    if not args.skip_memory:
        sizes = [int(s) for s in args.sizes.split(",")]
        settings = [("defaults", []), ("cheap", shlex.split(args.memory_args))]
        rows += _memory_rows(model, work, sizes, settings, args.full_max)
    if not args.skip_throughput:
        extra = shlex.split(args.throughput_args)
        n, dn = args.throughput_n, args.dask_n or args.throughput_n
        if dn == n:
            rows += _throughput_rows(model, work, n, args.repeats, extra, _ALL)
        else:  # the in-memory run holds every result: compared on fewer spectra
            rows += _throughput_rows(model, work, n, args.repeats, extra, _ALL[:2])
            rows += _throughput_rows(model, work, dn, args.repeats, extra, _ALL[1:], "@dask_n")
    summary = _summary(rows)
    for line in summary["lines"]:
        print(line)
    res = finish(rows, args.json, summary=summary, argv=sys.argv[1:], root=str(ROOT.name))
    if tmp is not None:
        tmp.cleanup()
    return res


def _summary(rows: list[dict]) -> dict:
    lines, out = [], {}
    mem = [r for r in rows if r["kind"] == "memory"]
    if mem:
        out["max_peak_gb"] = max(r["peak_rss_gb"] for r in mem)
        lines.append(f"largest peak RSS {out['max_peak_gb']:.2f} GB (goal < 2 GB)")
        cheap = {r["n"]: r["peak_rss_gb"] for r in mem if r["settings"] == "cheap"}
        if 2000 in cheap and max(cheap) > 2000:
            ratio = cheap[max(cheap)] / cheap[2000]
            out["largest_vs_2000_peak"] = ratio
            lines.append(f"peak of {max(cheap)} vs 2000 spectra: x{ratio:.3f} (goal <= 1.10)")
    tp = [r for r in rows if r["kind"] == "throughput"]
    if tp:
        names = sorted({r["run"] for r in tp})
        med = {
            name: float(np.median([r["spectra_per_s"] for r in tp if r["run"] == name]))
            for name in names
        }
        out["median_spectra_per_s"] = med
        tag = "@dask_n" if "dask_1@dask_n" in med else ""
        if "in_memory" in med:
            out["streamed_vs_in_memory"] = med["streamed"] / med["in_memory"]
        out["dask_2_vs_dask_1"] = med["dask_2" + tag] / med["dask_1" + tag]
        out["dask_2_vs_streamed"] = med["dask_2" + tag] / med["streamed" + tag]
        lines.append("median spectra/s: " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()))
        if "streamed_vs_in_memory" in out:
            lines.append(f"streamed/in-memory x{out['streamed_vs_in_memory']:.3f} (goal >= 0.9)")
        lines.append(f"2 workers/1 worker x{out['dask_2_vs_dask_1']:.3f} (goal >= 1.6)")
    out["lines"] = lines
    return out


if __name__ == "__main__":
    main()
