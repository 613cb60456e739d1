"""Benchmark: Integrated Gradients on the native grid vs Captum's IG on the image alone.

Run from the repository root::

    python benchmarks/bench_saliency.py                 # about a minute on 2 cores
    python benchmarks/bench_saliency.py --json results_saliency.json

What is measured (CPU, float32, the same model and target in both):

* **ours** — ``saliency2signal.saliency.attribute(model, x, method='integrated_gradients',
  n_steps=32)`` from the raw signals: the synchrosqueezed transform once, one forward
  pass for the logits, then Captum's ``IntegratedGradients`` of
  ``|Tx| -> to_image (log1p, resize to 128 x 128) -> model`` on the ``(F, N)`` grid.
* **captum-image** — ``captum.attr.IntegratedGradients(model).attribute(image,
  target=..., n_steps=32)`` on the precomputed 128 x 128 images: what the image-only
  approach costs before any remapping to the grid.
* **lean-image** — the Integrated Gradients loop ``attribute`` uses
  (``saliency._methods.lean_integrated_gradients``: Captum's path points, weights and batching,
  without Captum's per-step copies) run on the same images with the model alone. ours /
  lean-image is what the transform and the imaging add to the same loop; ours /
  captum-image (the issue's measure) also counts the loop's own savings.
* the transform alone (``ssq_cwt``) and the imaging alone (``to_image``) for reference.

Both attributions use the same ``internal_batch_size`` (images per forward pass). The two
are timed alternately, ``--repeats`` times each after a warm-up; the table shows the
best and the median repeat in milliseconds per signal. ratio = ours / captum-image (the
goal: <= 1.2, i.e. transform and imaging add at most 20 %); ratio-lean = ours /
lean-image.

The model is a small CNN (three 3x3 conv layers 8/16/32 channels with ReLU and 2x2 max
pooling, global average pooling, a linear layer to 4 classes), built with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import OrderedDict

import numpy as np
import torch

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.imaging import ImagingConfig, to_image
from saliency2signal.saliency import attribute
from saliency2signal.saliency._methods import lean_integrated_gradients


def make_cnn(seed: int = 0, kind: str = "bundled") -> torch.nn.Module:
    """The package's ScalogramCNN (default) or a tiny 3-conv network."""
    torch.manual_seed(seed)
    if kind == "bundled":
        from saliency2signal.models import ScalogramCNN

        return ScalogramCNN(in_channels=1, n_classes=4).eval()
    return torch.nn.Sequential(
        OrderedDict(
            conv1=torch.nn.Conv2d(1, 8, 3, padding=1),
            relu1=torch.nn.ReLU(),
            pool1=torch.nn.MaxPool2d(2),
            conv2=torch.nn.Conv2d(8, 16, 3, padding=1),
            relu2=torch.nn.ReLU(),
            pool2=torch.nn.MaxPool2d(2),
            conv3=torch.nn.Conv2d(16, 32, 3, padding=1),
            relu3=torch.nn.ReLU(),
            gap=torch.nn.AdaptiveAvgPool2d(1),
            flat=torch.nn.Flatten(),
            fc=torch.nn.Linear(32, 4),
        )
    ).eval()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_case(args, n: int, nv: int) -> dict:
    from captum.attr import IntegratedGradients

    rng = np.random.default_rng(0)
    t = np.arange(n) / n
    x = np.cos(2 * np.pi * (20 * t + 80 * t**2)) + 0.3 * rng.standard_normal((args.batch, n))
    x = torch.from_numpy(x.astype(np.float32))
    tcfg = SSQConfig(nv=nv)
    icfg = ImagingConfig(scale="log1p", gain=20.0, normalize="none", size=(args.size, args.size))
    model = make_cnn(kind=args.model)
    n_freqs = tcfg.n_freqs(n)

    with torch.no_grad():
        images = to_image(ssq_cwt(x, tcfg).Tx, icfg)
        target = model(images).argmax(-1)
    ibs = args.internal_batch_size

    def ours():
        return attribute(
            model,
            x,
            transform_config=tcfg,
            imaging_config=icfg,
            method="integrated_gradients",
            n_steps=args.steps,
            internal_batch_size=ibs,
            target=target,
        )

    def captum_image():
        img = images.clone().requires_grad_(True)
        return IntegratedGradients(model).attribute(
            img, target=target, n_steps=args.steps, internal_batch_size=ibs
        )

    def lean_image():
        with torch.enable_grad():
            return lean_integrated_gradients(
                model, images, 0.0, target, n_steps=args.steps, internal_batch_size=ibs
            )

    def transform_only():
        with torch.no_grad():
            return ssq_cwt(x, tcfg)

    mag = ssq_cwt(x, tcfg).Tx.abs()

    def imaging_only():
        with torch.no_grad():
            return to_image(mag, icfg)

    cases = {
        "ours": ours,
        "captum-image": captum_image,
        "lean-image": lean_image,
        "transform": transform_only,
        "imaging": imaging_only,
    }
    for fn in cases.values():  # warm-up: filter bank cache, allocator, Captum import
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.repeats):
        for k, fn in cases.items():
            times[k].append(timed(fn) / args.batch * 1e3)

    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "n": n,
        "nv": nv,
        "n_freqs": n_freqs,
        "ms_per_signal": times,
        "best": best,
        "median": med,
        "ratio_best": best["ours"] / best["captum-image"],
        "ratio_median": med["ours"] / med["captum-image"],
        "ratio_lean_best": best["ours"] / best["lean-image"],
        "ratio_lean_median": med["ours"] / med["lean-image"],
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--grids",
        default="256:16,512:16,1024:32",
        help="comma-separated n:nv cases (signal length : voices per octave)",
    )
    p.add_argument("--batch", type=int, default=8, help="signals per call")
    p.add_argument("--steps", type=int, default=32, help="IG steps")
    p.add_argument("--size", type=int, default=128, help="image height = width")
    p.add_argument("--internal-batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--model",
        default="bundled",
        choices=["bundled", "tiny"],
        help="the package's ScalogramCNN (default) or a tiny 3-conv network",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)

    cases = [tuple(int(v) for v in c.split(":")) for c in args.grids.split(",")]
    results = [run_case(args, n, nv) for n, nv in cases]

    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {sys.version.split()[0]}"
    )
    print(
        f"{args.batch} signals per call, images {args.size} x {args.size}, IG "
        f"n_steps={args.steps}, internal_batch_size={args.internal_batch_size}, "
        f"repeats={args.repeats}; ms per signal, best (median)\n"
    )
    print(
        "| N | nv | grid F x N | grid cells / image pixels | ours | captum-image | "
        "lean-image | transform | imaging | ratio ours / captum-image | "
        "ratio ours / lean-image |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        b, m = r["best"], r["median"]
        cells = r["n_freqs"] * r["n"] / args.size**2
        cols = " | ".join(
            f"{b[k]:.1f} ({m[k]:.1f})"
            for k in ("ours", "captum-image", "lean-image", "transform", "imaging")
        )
        print(
            f"| {r['n']} | {r['nv']} | {r['n_freqs']} x {r['n']} | {cells:.1f} | {cols} | "
            f"**{r['ratio_best']:.2f}** ({r['ratio_median']:.2f}) | "
            f"{r['ratio_lean_best']:.2f} ({r['ratio_lean_median']:.2f}) |"
        )
    met = [f"{r['n']}:{r['nv']}" for r in results if r["ratio_median"] <= 1.2]
    print(f"\ngoal ratio <= 1.2 (median) met for: {', '.join(met) or 'none'}")
    lean = [f"{r['n']}:{r['nv']}" for r in results if r["ratio_lean_median"] <= 1.2]
    print(f"ours / lean-image <= 1.2 (median) for: {', '.join(lean) or 'none'}")

    out = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": sys.version.split()[0],
        },
        "params": vars(args),
        "results": results,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
