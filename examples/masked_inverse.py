"""Recover one component of a signal from a region of its synchrosqueezed CWT.

A tone plus a chirp; a band mask around the tone's row inverts to the tone, its
complement to the chirp, and the two add up to the whole inverse. Writes a figure:

    python examples/masked_inverse.py [--out masked_inverse.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from saliency2signal import SSQConfig, issq_cwt, ssq_cwt  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="masked_inverse.png")
    args = p.parse_args(argv)

    n = np.arange(2048)
    tone = np.cos(2 * np.pi * 0.05 * n)
    chirp = 0.5 * np.cos(2 * np.pi * (0.12 * n + 0.1 * n**2 / 2048))
    x = tone + chirp

    cfg = SSQConfig(nv=32)
    res = ssq_cwt(x, cfg)
    band = np.abs(np.log2(res.freqs / 0.05))[:, None] < 0.25  # a quarter octave around 0.05
    mask = np.broadcast_to(band, res.Tx.shape)
    part = issq_cwt(res.Tx, cfg, mask=mask).numpy()
    rest = issq_cwt(res.Tx, cfg, mask=~mask).numpy()
    whole = issq_cwt(res.Tx, cfg).numpy()

    err_tone = np.linalg.norm(part - tone) / np.linalg.norm(tone)
    err_chirp = np.linalg.norm(rest - chirp) / np.linalg.norm(chirp)
    print(f"tone recovered from the band: relative L2 error {err_tone:.3f}")
    print(f"chirp from the rest of the plane: relative L2 error {err_chirp:.3f}")
    print(f"band + rest - whole: max |.| = {np.abs(part + rest - whole).max():.1e}")

    fig, axes = plt.subplots(3, 1, figsize=(8, 7), constrained_layout=True)
    t = cfg.times(len(n))
    t_edges = (np.arange(len(n) + 1) - 0.5) / cfg.fs
    img = np.abs(res.Tx.numpy()) ** 0.5  # square root: thin SSQ lines stay visible
    axes[0].pcolormesh(t_edges, cfg.freq_edges(len(n)), img, shading="flat", cmap="magma")
    rows = np.nonzero(band[:, 0])[0]
    edges = cfg.freq_edges(len(n))
    axes[0].axhspan(edges[rows[0]], edges[rows[-1] + 1], color="c", alpha=0.25, lw=0)
    axes[0].set(
        yscale="log", ylabel="frequency (cycles/sample)", title="|Tx|^(1/2) and the mask (shaded)"
    )
    axes[1].plot(t[:300], tone[:300], "k", lw=2, label="tone (truth)")
    axes[1].plot(t[:300], part[:300], "C1--", label="masked inverse")
    axes[1].legend(loc="upper right")
    axes[2].plot(t[:300], chirp[:300], "k", lw=2, label="chirp (truth)")
    axes[2].plot(t[:300], rest[:300], "C2--", label="inverse of the complement")
    axes[2].set(xlabel="sample")
    axes[2].legend(loc="upper right")
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"wrote {args.out}")
    return {"err_tone": err_tone, "err_chirp": err_chirp}


if __name__ == "__main__":
    main()
