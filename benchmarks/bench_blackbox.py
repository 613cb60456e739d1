"""The bundled planted model as a black box: ``method='rise'`` against IG-32 on its torch self.

Run from the repository root (about two minutes on 2 cores)::

    python benchmarks/bench_blackbox.py [--repeats 3] [--json benchmarks/results_blackbox.json]

``models/planted.pt`` is wrapped in a :class:`~saliency2signal.blackbox.BlackBox` that
sees only its ``predict_proba`` (softmax of the network on NumPy images, no gradients),
and :func:`~saliency2signal.explain` runs ``method='rise'`` (its defaults) on the 30
planted test spectra of ``data/planted.npz``. In the same run, on the same spectra, it
runs Integrated Gradients with 32 steps on the torch model. Both with the explain
defaults (contrastive: each spectrum against its foil class's mean, as the model file
records) except ``n_null=0, peaks=False`` (no verdict, no band fits: the attribution and
its regions, components and deletion checks, as ``bench_explain.py`` times them).
Reported, per method:

* the share of the correctly classified planted spectra with at least 0.8 of the
  recovered component energy (the regions' components summed) inside the planted window
  (centre +- 3 widths) — the goal for rise is >= 90 %;
* for rise, the black box's calls and images per spectrum (``BlackBox.n_calls`` /
  ``n_images``: the first pass, the masked signals and the deletion checks);
* seconds per spectrum, the median over ``--repeats`` interleaved rounds, and the ratio
  rise / IG-32 (goal <= 2).

``--seeds`` also reruns rise with other mask seeds (the share only).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import ROOT, finish  # noqa: E402

from saliency2signal import explain  # noqa: E402
from saliency2signal.blackbox import BlackBox  # noqa: E402
from saliency2signal.datasets import load_planted  # noqa: E402
from saliency2signal.io import load_model  # noqa: E402


def black_box(net: torch.nn.Module) -> BlackBox:
    """``predict_proba`` of the torch network: all the explanation may ask of it."""

    def predict_proba(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(images)), -1).numpy()

    return BlackBox(predict_proba)


def energy_in_window(e, d, idx) -> np.ndarray:
    """Share of each spectrum's recovered energy inside its planted window."""
    out = np.full(len(idx), np.nan)
    for j, b in enumerate(idx):
        c = e.components[j].sum(0)
        lo, hi = np.sort(d.windows[b])
        inside = (d.axis >= lo) & (d.axis <= hi)
        total = float((c**2).sum())
        out[j] = float((c[inside] ** 2).sum()) / total if total > 0 else np.nan
    return out


def run(method: str, net, meta, d, idx, *, seed: int = 0) -> dict:
    """Explain the spectra ``idx`` with ``method``; return its numbers."""
    model = black_box(net) if method == "rise" else net
    opts = {"rng": seed} if method == "rise" else None
    t0 = time.perf_counter()
    e = explain(
        model,
        d.x[idx],
        metadata=meta,
        method=method,
        n_steps=32,
        n_null=0,
        peaks=False,
        attribute_options=opts,
    )
    seconds = time.perf_counter() - t0
    ok = e.predictions == d.y[idx]
    share = energy_in_window(e, d, idx)[ok]
    row = {
        "method": method if method == "rise" else "integrated_gradients_32",
        "n_spectra": len(idx),
        "n_correct": int(ok.sum()),
        "share_energy_in_window_80": float(np.mean(share >= 0.8)),
        "median_energy_in_window": float(np.nanmedian(share)),
        "min_energy_in_window": float(np.nanmin(share)),
        "seconds_per_spectrum": seconds / len(idx),
        "reference": e.settings["reference"],
    }
    if method == "rise":
        row["model_calls_per_spectrum"] = model.n_calls / len(idx)
        row["model_images_per_spectrum"] = model.n_images / len(idx)
    return row


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seeds", type=int, default=0, help="also rerun rise with N other seeds")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, meta = load_model(ROOT / "models" / "planted.pt", rebuild=True)
    net.eval()
    d = load_planted("test")
    idx = np.flatnonzero(d.present)
    runs: dict[str, list[dict]] = {"rise": [], "integrated_gradients": []}
    for _ in range(args.repeats):
        for method in runs:
            runs[method].append(run(method, net, meta, d, idx))
    rows = []
    for rs in runs.values():
        row = dict(rs[0])
        times = [r["seconds_per_spectrum"] for r in rs]
        row["seconds_per_spectrum"] = float(np.median(times))
        row["seconds_per_spectrum_repeats"] = times
        rows.append(row)
    ratio = rows[0]["seconds_per_spectrum"] / rows[1]["seconds_per_spectrum"]
    seeds = [
        run("rise", net, meta, d, idx, seed=s)["share_energy_in_window_80"]
        for s in range(1, args.seeds + 1)
    ]
    print(
        "| method | >= 0.8 in window | median | calls / spectrum | images / spectrum "
        "| s / spectrum |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['method']} | {100 * r['share_energy_in_window_80']:.0f} % of "
            f"{r['n_correct']} | {r['median_energy_in_window']:.2f} | "
            f"{r.get('model_calls_per_spectrum', float('nan')):.2f} | "
            f"{r.get('model_images_per_spectrum', float('nan')):.0f} | "
            f"{r['seconds_per_spectrum']:.3f} |"
        )
    print(f"rise / IG-32 wall time: {ratio:.2f} (median of {args.repeats})")
    if seeds:
        print(f"rise share with seeds 1..{args.seeds}: {seeds}")
    return finish(
        rows,
        args.json,
        ratio_rise_to_ig32=ratio,
        repeats=args.repeats,
        rise_share_other_seeds=seeds,
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
