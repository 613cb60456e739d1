"""How well do one-integral inverses carry *peaks* (not oscillations) back to the signal?

Run from the repository root::

    python benchmarks/bench_peaks.py                 # prints two markdown tables
    python benchmarks/bench_peaks.py --json out.json

A positive peak is a low-pass signal: its footprint spreads over every scale and its
lowest frequencies sit below the wavelet bank. Everything here is float64, GMW
(gamma = 3, beta = 60), nv = 32, log-piecewise scales, reflect padding, N = 1200.

1. **Lone peak.** ``x = exp(-(n - 600)^2 / (2 sigma^2))``, sigma = 4, 20, 45 samples
   (width = standard deviation; FWHM = 2.355 sigma). Correlation and relative L2 error
   with ``x`` of (a) ssqueezepy 0.6.6 ``issq_cwt(ssq_cwt(x))``, (b) our ``issq_cwt`` of
   the plane without the low-pass row, (c) ours with ``lowpass_row=True`` (whole plane,
   row 0 included).
2. **Split.** ``x = baseline + narrow + broad``: baseline ``0.2 + 0.8 n / N``, narrow
   peak sigma = 4 at n = 560, broad peak sigma = 45 at n = 640 (the narrow one sits on the
   broad one's flank), both of height 1. Regions of the SSQ plane, inverted with
   :func:`saliency2signal.inverse.components`:

   * ``frequency``: rows at ``f >= f_split`` -> narrow, ``0 < f < f_split`` -> broad,
     with ``f_split = 1 / (2 pi sqrt(4 * 45))`` (geometric mean of the peaks'
     characteristic frequencies ``1 / (2 pi sigma)``); the low-pass row (f = 0) -> baseline;
   * ``oracle``: each cell goes to the part whose own ``|Tx|`` (transform of that part
     alone) is largest there - the best a hard region split can do;
   * ``soft``: soft masks ``|Tx_k| / sum_j |Tx_j|`` from the parts' own transforms (they
     add up to one, so shared cells - the low-pass row above all - are shared).

   Without the low-pass row the baseline's row does not exist; the "baseline" line then
   compares the separate low-pass term ``result.lowpass`` with the baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import warnings

import numpy as np
import torch

from saliency2signal import SSQConfig, issq_cwt, ssq_cwt
from saliency2signal.inverse import components

N = 1200
NV = 32
SIGMAS = (4, 20, 45)
NARROW, BROAD = (560, 4), (640, 45)


def _corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _gauss(centre, sigma):
    n = np.arange(N)
    return np.exp(-0.5 * ((n - centre) / sigma) ** 2)


def _ssqueezepy_inverse(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ssqueezepy as sq

        wav = sq.Wavelet(("gmw", {"dtype": "float64"}))
        tx = sq.ssq_cwt(x.copy(), wav, nv=NV)[0]
        return np.asarray(sq.issq_cwt(tx, wav))


def lone_peaks(reference: bool = True) -> list[dict]:
    rows = []
    for sigma in SIGMAS:
        x = _gauss(N / 2, sigma)
        row = {"sigma": sigma, "fwhm": round(2 * math.sqrt(2 * math.log(2)) * sigma, 1)}
        if reference:
            y = _ssqueezepy_inverse(x)
            row.update(ssqueezepy_corr=_corr(y, x), ssqueezepy_rel=_rel(y, x))
        for key, lp in (("ours", False), ("lowpass_row", True)):
            cfg = SSQConfig(nv=NV, dtype="float64", lowpass_row=lp)
            res = ssq_cwt(x, cfg)
            y = issq_cwt(res.Tx, cfg).numpy()
            row.update({f"{key}_corr": _corr(y, x), f"{key}_rel": _rel(y, x)})
        rows.append(row)
    return rows


def split_peaks() -> list[dict]:
    n = np.arange(N)
    parts = {
        "narrow": _gauss(*NARROW),
        "broad": _gauss(*BROAD),
        "baseline": 0.2 + 0.8 * n / N,
    }
    x = sum(parts.values())
    f_split = 1 / (2 * math.pi * math.sqrt(NARROW[1] * BROAD[1]))
    rows = []
    for lp in (False, True):
        cfg = SSQConfig(nv=NV, dtype="float64", lowpass_row=lp)
        res = ssq_cwt(x, cfg)
        freqs = cfg.freqs(N)
        shape = res.Tx.shape
        # labels: 1 narrow, 2 broad, 3 baseline (the low-pass row, if any)
        by_freq = np.where(freqs >= f_split, 1, np.where(freqs > 0, 2, 3))
        by_freq = np.broadcast_to(by_freq[:, None], shape).copy()
        alone = np.stack([ssq_cwt(p, cfg).Tx.abs().numpy() for p in parts.values()])
        oracle = alone.argmax(0) + 1
        soft = alone / np.maximum(alone.sum(0), np.finfo(float).tiny)
        for split, labels in (("frequency", by_freq), ("oracle", oracle), ("soft", soft)):
            comps = components(res, masks=labels, n_regions=3).numpy()
            for i, (name, truth) in enumerate(parts.items()):
                got = comps[i] if (lp or name != "baseline") else res.lowpass.numpy()
                source = "region" if (lp or name != "baseline") else "lowpass term"
                rows.append(
                    {
                        "split": split,
                        "lowpass_row": lp,
                        "part": name,
                        "source": source,
                        "corr": _corr(got, truth),
                        "rel": _rel(got, truth),
                    }
                )
    return rows


def run_study(reference: bool = True) -> dict:
    t0 = time.perf_counter()
    lone = lone_peaks(reference)
    t1 = time.perf_counter()
    split = split_peaks()
    t2 = time.perf_counter()
    return {
        "lone_peaks": lone,
        "split": split,
        "seconds": {"lone_peaks": t1 - t0, "split": t2 - t1},
        "setup": {
            "N": N,
            "nv": NV,
            "wavelet": "gmw(3, 60)",
            "sigmas": list(SIGMAS),
            "narrow": NARROW,
            "broad": BROAD,
            "dtype": "float64",
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "processor": platform.processor(),
        },
    }


def markdown(study: dict) -> str:
    lines = [
        "| peak sigma (FWHM) | ssqueezepy corr / rel L2 | ours, plane corr / rel L2 "
        "| ours + low-pass row corr / rel L2 |",
        "|---:|---:|---:|---:|",
    ]
    for r in study["lone_peaks"]:
        ref = (
            f"{r['ssqueezepy_corr']:.3f} / {r['ssqueezepy_rel']:.3f}"
            if "ssqueezepy_corr" in r
            else "n/a"
        )
        lines.append(
            f"| {r['sigma']} ({r['fwhm']}) | {ref} | {r['ours_corr']:.3f} / "
            f"{r['ours_rel']:.3f} | {r['lowpass_row_corr']:.4f} / {r['lowpass_row_rel']:.3f} |"
        )
    lines += [
        "",
        "| split | low-pass row | part | from | corr | rel L2 |",
        "|---|---|---|---|---:|---:|",
    ]
    for r in study["split"]:
        lines.append(
            f"| {r['split']} | {'yes' if r['lowpass_row'] else 'no'} | {r['part']} | "
            f"{r['source']} | {r['corr']:.3f} | {r['rel']:.3f} |"
        )
    s = study["seconds"]
    lines += ["", f"Runtime: lone peaks {s['lone_peaks']:.2f} s, split {s['split']:.2f} s."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip ssqueezepy (column shows n/a)"
    )
    args = parser.parse_args(argv)
    study = run_study(reference=not args.no_reference)
    print(markdown(study))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(study, fh, indent=2)


if __name__ == "__main__":
    main()
