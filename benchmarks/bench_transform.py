"""Benchmark of ``saliency2signal.ssq_cwt`` against ``ssqueezepy.ssq_cwt`` on the CPU.

Run from the repository root::

    python benchmarks/bench_transform.py            # full run (about 7-9 min on 2 cores)
    python benchmarks/bench_transform.py --quick    # N=1024, nv=64 only, about 1 min
    python benchmarks/bench_transform.py --json results.json --big-ref

What is measured, all in the same run:

1. **Throughput.** For each N in {286, 1024, 4096} and nv in {32, 64}, a float32 batch of
   ``--batch`` (64) white-noise signals goes through ``ssq_cwt(x, SSQConfig(nv=nv))``
   (ours, torch tensor input) and ``ssqueezepy.ssq_cwt(x, 'gmw', nv=nv)`` (numpy input).
   Both are warmed up on two signals of the same length first (that fills our per-length
   filter-bank cache and loads ssqueezepy's numba code; the batch size does not change
   either), plus one full-size call when that is predicted to take under 5 s. Then the
   two libraries are timed alternately, at least two and at most ``--repeats`` times
   each, stopping early once a library has spent ``--budget`` seconds on the case (the
   4096-sample cases take tens of seconds a call). The table shows the best repeat in
   milliseconds per signal; the JSON also has every repeat and the median.
   Speed-up = ssqueezepy time / our time.
2. **FFT floor.** The inverse FFTs the transform cannot avoid: two (F, Npad) complex64
   transforms per signal, F rows and Npad = 2**(1 + round(log2 N)), done in the chunks
   three ways: ``scipy.fft.ifft(..., overwrite_x=True, workers=cores)`` on whole planes
   of 4 signals at a time (buffer refilled, untimed, before every transform); the scheme
   our code uses (cache-sized blocks of rows, ``workers=1``, one thread per core over the
   signals; the refill is timed there, as in any in-place scheme); and
   ``torch.fft.ifft(..., out=buffer)``. The fastest is the floor and ``ours/floor`` says
   how far above it the whole transform runs.
3. **Start-up.** In fresh ``python -c`` subprocesses: ``import torch`` alone,
   ``import saliency2signal`` and ``import ssqueezepy`` (both import torch), and the
   first ``ssq_cwt`` call on a (1, 1024) float32 signal with nv=64 (median of a few
   runs). For ssqueezepy the numba dispatchers' cache hits/misses show whether numba's
   on-disk cache was warm; in the full run one extra call with an empty
   ``NUMBA_CACHE_DIR`` gives the cold-cache (compiling) first call.
4. **Peak memory.** ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in a fresh subprocess
   per measurement, for one batched call (no warm-up, so the filter bank or numba
   loading is included) at 64 x 1024 nv=64 (both libraries) and 32 x 16384 nv=64 (ours;
   ssqueezepy only with ``--big-ref``, it needs about 14 GB and minutes). The baseline
   is VmRSS after the imports and the input. The high-water mark is then reset (write
   ``5`` to ``/proc/self/clear_refs``) and the peak read back as VmHWM, which is the
   counter ``ru_maxrss`` reports, except that ``ru_maxrss`` also keeps the peak of any
   thread that has exited (torch's import peaks above its resident size) and, through
   ``exec``, the peak of the process that launched the subprocess (this benchmark); both
   are saved, and these measurements run first, while this process is small.
   "call" = peak - baseline. Tx + Wx (both
   complex64, B x F x N) are the outputs both libraries return, so their size is a floor
   on any footprint.

Machine information (CPU model, cores, library versions, torch threads, load average
before and after, the package's git commit and a hash of its sources) is printed and
saved, since another process or a source change between runs moves every number.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.fft
import torch

import saliency2signal
from saliency2signal import SSQConfig, ssq_cwt

try:
    import ssqueezepy
except ImportError:  # the reference is optional; its columns then read "n/a"
    ssqueezepy = None

REPO = Path(__file__).resolve().parents[1]
GB = 1e9
WARMUP_FULL_MAX_S = 5.0  # do a full-size warm-up only when it is predicted to be this cheap
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_CORES = max(1, _CORES or 1)


def log(msg: str) -> None:
    """Progress to stderr, so that stdout holds only the report."""
    print(msg, file=sys.stderr, flush=True)


# =========================================================================== machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _source_hash() -> str:
    pkg = Path(saliency2signal.__file__).parent
    h = hashlib.sha1()
    for p in sorted(pkg.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def machine_info() -> dict:
    """CPU, versions and threading, plus what identifies the code that was timed."""
    import numba

    return {
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": _CORES,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_mkl": torch.backends.mkl.is_available(),
        "numba": numba.__version__,
        "ssqueezepy": getattr(ssqueezepy, "__version__", None),
        "saliency2signal": saliency2signal.__version__,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": _git("status", "--porcelain", "--", "saliency2signal") not in ("", "?"),
        "source_sha1": _source_hash(),
        "loadavg_start": os.getloadavg(),
    }


# =========================================================================== timing
def _chunk(cfg: SSQConfig, n: int, batch: int) -> tuple[int, str]:
    """Signals per batched FFT call for the 'whole planes' floor variant."""
    return min(batch, 4), "4 signals per call"


def _rows_per_block(npad: int) -> int:
    """Rows per FFT call in our blocked scheme (as ``_kernels`` chooses them)."""
    try:
        from saliency2signal import _kernels

        return int(_kernels._rows_per_block(npad, 4))
    except AttributeError:  # private API moved: its documented rule
        return max(8, int(2 * 2**20 // (2 * npad * 2 * 4)))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    del out  # freeing the result is not timed (same for both libraries)
    return dt


def _summary(times: list[float], batch: int) -> dict:
    per = [1e3 * t / batch for t in times]
    return {
        "ms_per_signal_best": min(per),
        "ms_per_signal_median": statistics.median(per),
        "ms_per_signal_all": per,
        "repeats": len(per),
    }


def _keep_going(times: list[float], repeats: int, budget: float) -> bool:
    return len(times) < repeats and (len(times) < min(2, repeats) or sum(times) < budget)


def time_transforms(n: int, nv: int, batch: int, repeats: int, budget: float) -> dict:
    """Best/median per-signal time of ours and of ssqueezepy for one (N, nv)."""
    cfg = SSQConfig(nv=nv)
    x = np.random.default_rng(n * 1000 + nv).standard_normal((batch, n)).astype(np.float32)
    xt = torch.from_numpy(x)
    libs = {"ours": (lambda b: ssq_cwt(xt[:b], cfg))}
    if ssqueezepy is not None:
        libs["ssqueezepy"] = lambda b: ssqueezepy.ssq_cwt(x[:b], "gmw", nv=nv)
    rows = {}
    small = min(2, batch)
    for name, f in libs.items():
        t0 = time.perf_counter()
        out = f(small)
        dt = time.perf_counter() - t0
        rows[name] = int((out.Tx if name == "ours" else out[0]).shape[-2])
        del out
        if dt * batch / small < WARMUP_FULL_MAX_S and batch > small:
            _timed(lambda f=f: f(batch))
    times = {name: [] for name in libs}
    while any(_keep_going(times[k], repeats, budget) for k in libs):
        for name, f in libs.items():  # alternate, so that drifting load hits both
            if _keep_going(times[name], repeats, budget):
                times[name].append(_timed(lambda f=f: f(batch)))
    res = {name: _summary(t, batch) for name, t in times.items()}
    res["rows"] = rows
    return res


def time_fft_floor(n: int, nv: int, batch: int, repeats: int, budget: float) -> dict:
    """Time of the 2 x (F, Npad) complex64 inverse FFTs per signal, scipy vs torch."""
    cfg = SSQConfig(nv=nv)
    f, npad = cfg.n_freqs(n), cfg.n_padded(n)
    cs, cs_src = _chunk(cfg, n, batch)
    sizes = [min(cs, batch - s) for s in range(0, batch, cs)]
    rng = np.random.default_rng(1)
    src = np.empty((cs, f, npad), dtype=np.complex64)
    src.real = rng.standard_normal((cs, f, npad), dtype=np.float32)
    src.imag = rng.standard_normal((cs, f, npad), dtype=np.float32)
    work = np.empty_like(src)
    src_t = torch.from_numpy(src)
    out_t = torch.empty_like(src_t)

    def scipy_pass() -> float:
        total = 0.0
        for m in sizes:
            for _ in range(2):  # Wx and dWx
                np.copyto(work[:m], src[:m])  # refill: overwrite_x destroyed it; not timed
                t0 = time.perf_counter()
                scipy.fft.ifft(work[:m], axis=-1, overwrite_x=True, workers=_CORES)
                total += time.perf_counter() - t0
        return total

    rb = min(f, _rows_per_block(npad))
    blk_src = src[0, :rb].copy()
    blocks = [min(rb, f - r) for r in range(0, f, rb)]

    def blocked_pass() -> float:
        """Our scheme: cache-sized row blocks, one thread per core over the signals."""
        from concurrent.futures import ThreadPoolExecutor

        def work_on(signals):
            buf = np.empty_like(blk_src)
            for _ in signals:
                for m in blocks:
                    for _ in range(2):  # Wx and dWx
                        buf[:m] = blk_src[:m]  # refill (part of any in-place FFT scheme)
                        scipy.fft.ifft(buf[:m], axis=-1, overwrite_x=True, workers=1)

        with ThreadPoolExecutor(_CORES) as ex:
            t0 = time.perf_counter()
            list(ex.map(work_on, [range(t, batch, _CORES) for t in range(_CORES)]))
            return time.perf_counter() - t0

    def torch_pass() -> float:
        total = 0.0
        for m in sizes:
            for _ in range(2):
                t0 = time.perf_counter()
                torch.fft.ifft(src_t[:m], dim=-1, out=out_t[:m])
                total += time.perf_counter() - t0
        return total

    res = {"F": f, "n_padded": npad, "chunk": cs, "chunk_source": cs_src}
    for name, one_pass in (
        ("scipy", scipy_pass),
        ("scipy-blocked", blocked_pass),
        ("torch", torch_pass),
    ):
        scipy.fft.ifft(work[:1], axis=-1, overwrite_x=True, workers=_CORES)  # plan caches
        torch.fft.ifft(src_t[:1], dim=-1, out=out_t[:1])
        times: list[float] = []
        while _keep_going(times, repeats, budget):
            times.append(one_pass())
        res[name] = _summary(times, batch)
    best = min(("scipy", "scipy-blocked", "torch"), key=lambda k: res[k]["ms_per_signal_best"])
    res["floor_backend"] = best
    res["floor_ms_per_signal"] = res[best]["ms_per_signal_best"]
    return res


# =========================================================================== subprocesses
_PRELUDE = """
import json, resource, sys, time
def vmrss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
def vmhwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) * 1024
def maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
def numba_stats():
    from numba.core.dispatcher import Dispatcher
    hits = misses = 0
    seen = set()
    for name, mod in list(sys.modules.items()):
        if not name.startswith('ssqueezepy'):
            continue
        for obj in list(vars(mod).values()):
            if isinstance(obj, Dispatcher) and id(obj) not in seen:
                seen.add(id(obj))
                hits += sum(obj.stats.cache_hits.values())
                misses += sum(obj.stats.cache_misses.values())
    return {'numba_cache_hits': hits, 'numba_cache_misses': misses}
"""

_IMPORT = {
    "ours": "import saliency2signal as lib",
    "ssqueezepy": "import ssqueezepy as lib",
    "torch": "import torch",
}

_CALL = {
    "ours": "out = lib.ssq_cwt(x, lib.SSQConfig(nv=NV)); tx, wx = out.Tx, out.Wx",
    "ssqueezepy": "out = lib.ssq_cwt(x, 'gmw', nv=NV); tx, wx = out[0], out[1]",
}

_STARTUP = """
t0 = time.perf_counter()
{imp}
t1 = time.perf_counter()
res = {{'import_s': t1 - t0, 'torch_loaded': 'torch' in sys.modules}}
if {call!r}:
    import numpy as np
    x = np.random.default_rng(0).standard_normal((1, 1024)).astype(np.float32)
    NV = 64
    t2 = time.perf_counter()
    {call}
    res['first_call_s'] = time.perf_counter() - t2
    if 'ssqueezepy' in sys.modules:
        res.update(numba_stats())
print(json.dumps(res))
"""

_MEMORY = """
import gc
{imp}
import numpy as np
B, N, NV = {batch}, {n}, {nv}
x = np.random.default_rng(0).standard_normal((B, N)).astype(np.float32)
if {torch_input}:
    import torch
    x = torch.from_numpy(x)
gc.collect()
import_peak = maxrss()
try:  # reset the high-water mark: VmHWM afterwards is the peak during the call
    with open('/proc/self/clear_refs', 'w') as fh:
        fh.write('5')
    hwm_reset = vmhwm() <= vmrss() + 2**20
except (OSError, TypeError):
    hwm_reset = False
base = vmrss()
t0 = time.perf_counter()
{call}
dt = time.perf_counter() - t0
ru_peak = maxrss()
peak = vmhwm() if hwm_reset else ru_peak
nbytes = sum(int(a.numel() * a.element_size()) if hasattr(a, 'numel') else int(a.nbytes)
             for a in (tx, wx))
print(json.dumps({{'baseline_rss': base, 'import_peak_rss': import_peak,
                  'hwm_reset': hwm_reset, 'peak_rss': peak, 'ru_maxrss': ru_peak,
                  'call_rss': peak - base, 'after_rss': vmrss(), 'out_bytes': nbytes,
                  'call_s': dt, 'rows': int(tx.shape[-2])}}))
"""


def run_py(code: str, env: dict | None = None, timeout: float = 1800) -> dict:
    """Run ``python -c code`` in a fresh interpreter; parse the JSON on its last line."""
    try:
        p = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=timeout,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {p.returncode}: {tail}"}
    return json.loads(lines[-1])


def startup(runs: int, cold_numba: bool) -> dict:
    """Import and first-call times, each in fresh subprocesses (median over ``runs``)."""
    libs = ["torch", "ours"] + (["ssqueezepy"] if ssqueezepy is not None else [])
    res = {}
    for lib in libs:
        code = _PRELUDE + _STARTUP.format(imp=_IMPORT[lib], call=_CALL.get(lib, ""))
        all_runs = [run_py(code) for _ in range(runs)]
        ok = [r for r in all_runs if "error" not in r]
        if not ok:
            res[lib] = {"error": all_runs[0]["error"]}
            continue
        entry = {
            "runs": ok,
            "import_s": statistics.median(r["import_s"] for r in ok),
            "torch_loaded": ok[0]["torch_loaded"],
        }
        if "first_call_s" in ok[0]:
            entry["first_call_s"] = statistics.median(r["first_call_s"] for r in ok)
        if lib == "ssqueezepy":
            entry["numba_cache_hits"] = [r["numba_cache_hits"] for r in ok]
            entry["numba_cache_misses"] = [r["numba_cache_misses"] for r in ok]
        res[lib] = entry
    if cold_numba and ssqueezepy is not None:
        with tempfile.TemporaryDirectory(prefix="numba_cold_") as d:
            code = _PRELUDE + _STARTUP.format(imp=_IMPORT["ssqueezepy"], call=_CALL["ssqueezepy"])
            res["ssqueezepy_cold_numba"] = run_py(code, env={"NUMBA_CACHE_DIR": d})
    return res


def memory(lib: str, batch: int, n: int, nv: int) -> dict:
    """Peak RSS of one batched call of ``lib`` in a fresh subprocess."""
    code = _PRELUDE + _MEMORY.format(
        imp=_IMPORT[lib], call=_CALL[lib], batch=batch, n=n, nv=nv, torch_input=lib == "ours"
    )
    return run_py(code)


# =========================================================================== report
def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def table(cases: list[dict]) -> str:
    """The throughput table in markdown."""
    head = (
        "| N | nv | rows F | ssqueezepy ms/signal | ours ms/signal | speed-up "
        "| FFT floor ms/signal | ours/floor |"
    )
    lines = [head, "|" + "---:|" * 8]
    for c in cases:
        ours = c["time"]["ours"]["ms_per_signal_best"]
        ref = c["time"].get("ssqueezepy", {}).get("ms_per_signal_best")
        fl = c["floor"]
        speed = f"{ref / ours:.2f}x" if ref else "n/a"
        lines.append(
            f"| {c['n']} | {c['nv']} | {fl['F']} | {_fmt_ms(ref)} | {_fmt_ms(ours)} "
            f"| {speed} | {_fmt_ms(fl['floor_ms_per_signal'])} ({fl['floor_backend']}) "
            f"| {ours / fl['floor_ms_per_signal']:.1f} |"
        )
    return "\n".join(lines)


def _gb(b: float) -> str:
    return f"{b / GB:.2f} GB"


def _mem_line(label: str, m: dict | None, why: str = "pass --big-ref") -> str:
    if m is None:
        return f"{label}: not run ({why if ssqueezepy is not None else 'not installed'})"
    if "error" in m:
        return f"{label}: failed ({m['error']})"
    caveat = "" if m["hwm_reset"] else "; high-water mark not reset, call may be less"
    if m["hwm_reset"] and m["ru_maxrss"] > m["peak_rss"] + 2**20:
        caveat += f"; ru_maxrss {_gb(m['ru_maxrss'])}, inherited peak"
    return (
        f"{label}: peak {_gb(m['peak_rss'])} = baseline {_gb(m['baseline_rss'])} "
        f"+ call {_gb(m['call_rss'])} (Tx+Wx outputs {_gb(m['out_bytes'])}; "
        f"call {m['call_s']:.1f} s{caveat})"
    )


def report(res: dict, args) -> str:
    """Markdown report: machine, table, start-up and memory lines."""
    mi = res["machine"]
    out = [
        f"Machine: {mi['cpu']}, {mi['cores_usable']} usable cores; python {mi['python']}, "
        f"torch {mi['torch']} ({mi['torch_threads']} threads, MKL {mi['torch_mkl']}), "
        f"scipy {mi['scipy']}, numpy {mi['numpy']}, ssqueezepy {mi['ssqueezepy']}, "
        f"numba {mi['numba']}; saliency2signal {mi['git_commit']}"
        f"{' (dirty)' if mi['git_dirty'] else ''} src {mi['source_sha1']}; load avg "
        f"{mi['loadavg_start'][0]:.2f} -> {mi['loadavg_end'][0]:.2f}",
        "",
    ]
    if res["cases"]:
        reps = sorted(
            {c["time"][k]["repeats"] for c in res["cases"] for k in c["time"] if k != "rows"}
        )
        nrep = f"{reps[0]}" if reps[0] == reps[-1] else f"{reps[0]}-{reps[-1]}"
        out += [
            f"CPU, float32, batch {args.batch}, best of {nrep} repeats "
            f"(medians in the JSON); speed-up = ssqueezepy / ours; floor = fastest of "
            f"scipy.fft on whole planes (workers={_CORES}), scipy.fft on cache-sized row "
            f"blocks (one thread per core: 'scipy-blocked') and torch.fft, for the "
            f"2 x (F, Npad) inverse FFTs per signal.",
            "",
            table(res["cases"]),
            "",
        ]
        bad = [c for c in res["cases"] if len(set(c["time"]["rows"].values())) > 1]
        for c in bad:
            out.append(
                f"WARNING: row counts differ at N={c['n']} nv={c['nv']}: {c['time']['rows']}"
            )
    su = res["startup"]

    def s(lib, key):
        v = su.get(lib, {}).get(key)
        return f"{v:.2f} s" if isinstance(v, float) else "n/a"

    torch_share = ""
    if "import_s" in su.get("torch", {}) and "import_s" in su.get("ours", {}):
        torch_share = f" (import torch alone: {s('torch', 'import_s')})"
    also = " (also imports torch)" if su.get("ssqueezepy", {}).get("torch_loaded") else ""
    out.append(
        f"- Import (fresh process, median of {args.startup_runs}): "
        f"saliency2signal {s('ours', 'import_s')}{torch_share}; "
        f"ssqueezepy {s('ssqueezepy', 'import_s')}{also}."
    )
    line = (
        f"- First call, (1, 1024) nv=64: ours {s('ours', 'first_call_s')}; "
        f"ssqueezepy {s('ssqueezepy', 'first_call_s')}"
    )
    sq = su.get("ssqueezepy", {})
    if "numba_cache_misses" in sq:
        warm = all(m == 0 for m in sq["numba_cache_misses"]) and all(sq["numba_cache_hits"])
        line += (
            f" (numba on-disk cache {'warm' if warm else 'COLD'}: hits "
            f"{sq['numba_cache_hits']}, misses {sq['numba_cache_misses']})"
        )
    cold = su.get("ssqueezepy_cold_numba")
    if cold and "first_call_s" in cold:
        line += (
            f"; with an empty numba cache {cold['first_call_s']:.2f} s "
            f"({cold['numba_cache_misses']} compilations)"
        )
    out.append(line + ".")
    mem = res["memory"]
    out.append(_mem_line("- Memory 64 x 1024 nv=64, ours", mem.get("ours_64x1024")))
    out.append(_mem_line("- Memory 64 x 1024 nv=64, ssqueezepy", mem.get("ssqueezepy_64x1024")))
    if args.quick:
        out.append("- Memory 32 x 16384 nv=64: not run (--quick)")
    else:
        out.append(_mem_line("- Memory 32 x 16384 nv=64, ours", mem.get("ours_32x16384")))
        out.append(
            _mem_line("- Memory 32 x 16384 nv=64, ssqueezepy", mem.get("ssqueezepy_32x16384"))
        )
    out.append(f"\nTotal benchmark time: {res['total_s']:.0f} s")
    return "\n".join(out)


# =========================================================================== main
def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="only N=1024, nv=64, fewer repeats, no 32 x 16384 memory case",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="max timed repeats per case and library (default 5, quick 3)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds per case and library after which repeats stop "
        "(at least 2 are done; default 20, quick 10)",
    )
    p.add_argument("--batch", type=int, default=64, help="signals per call (default 64)")
    p.add_argument(
        "--startup-runs",
        type=int,
        default=None,
        help="fresh processes per import/first-call measurement (default 3, quick 1)",
    )
    p.add_argument(
        "--big-ref",
        action="store_true",
        help="also run ssqueezepy at 32 x 16384 nv=64 (~14 GB, minutes)",
    )
    p.add_argument("--json", metavar="PATH", help="also save all results as JSON")
    a = p.parse_args(argv)
    a.repeats = a.repeats or (3 if a.quick else 5)
    a.budget = a.budget if a.budget is not None else (10.0 if a.quick else 20.0)
    a.startup_runs = a.startup_runs or (1 if a.quick else 3)
    if a.repeats < 1 or a.batch < 1 or a.startup_runs < 1:
        p.error("--repeats, --batch and --startup-runs must be >= 1")
    return a


def main(argv=None) -> int:
    """Run everything, print the report, optionally save JSON."""
    args = parse_args(argv)
    t_start = time.perf_counter()
    res = {"args": vars(args), "machine": machine_info(), "cases": [], "memory": {}}
    grid = [(1024, 64)] if args.quick else [(n, nv) for n in (286, 1024, 4096) for nv in (32, 64)]
    log("start-up (fresh processes) ...")
    res["startup"] = startup(args.startup_runs, cold_numba=not args.quick)
    mem_cases = [("ours", 64, 1024)]
    if ssqueezepy is not None:
        mem_cases.append(("ssqueezepy", 64, 1024))
    if not args.quick:
        mem_cases.append(("ours", 32, 16384))
        if args.big_ref and ssqueezepy is not None:
            mem_cases.append(("ssqueezepy", 32, 16384))
    for lib, b, n in mem_cases:
        log(f"memory {lib} {b} x {n} ...")
        res["memory"][f"{lib}_{b}x{n}"] = memory(lib, b, n, 64)
    for n, nv in grid:
        log(f"timing N={n} nv={nv} ...")
        t = time_transforms(n, nv, args.batch, args.repeats, args.budget)
        log(f"  FFT floor N={n} nv={nv} ...")
        fl = time_fft_floor(n, nv, args.batch, args.repeats, args.budget)
        res["cases"].append({"n": n, "nv": nv, "time": t, "floor": fl})
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t_start
    print(report(res, args))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
        log(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
