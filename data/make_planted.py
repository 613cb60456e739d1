"""Write ``data/planted.npz``: synthetic spectra with a planted, class-deciding peak.

Run from anywhere (seeded, no download; a few seconds)::

    python data/make_planted.py

Draws 120 training and then 60 test spectra from one generator seeded with ``SEED``
using :func:`saliency2signal.datasets.make_planted_spectra` with its defaults: 400
points on a 400-1800 cm^-1 axis, class ``'absent'`` (no planted peak) or
``'peak@1000'`` (a Gaussian peak at 1000 ± 10 cm^-1, sigma 12-18 cm^-1, height
0.5-1), four decoy peaks shared by both classes, sloped and curved baselines, noise
0.03. Everything is stored as plain arrays (``np.load(..., allow_pickle=False)``), in
float32, per split (``<name>_train``, ``<name>_test``):

``X``, ``y``
    Spectra ``(n, 400)`` and class indices ``(n,)`` (int64).
``centres``, ``widths``, ``amplitudes``
    Planted peak centre, sigma and height ``(n,)``; height 0 for class ``'absent'``
    (its centre is where the peak would have been).
``windows``
    ``centres ± 3 widths``, ``(n, 2)``.
``components``
    The planted peak itself, ``(n, 400)`` (zeros for ``'absent'``).
``decoy_centres``
    Centres of the decoy peaks, ``(n, 4)``.

and, shared, ``axis`` (cm^-1, ``(400,)``) and ``class_names``. Read it with
:func:`saliency2signal.datasets.load_planted`.
"""

from pathlib import Path

import numpy as np

from saliency2signal.datasets import make_planted_spectra

SEED = 20240505
N_TRAIN, N_TEST = 120, 60


def main() -> Path:
    """Draw the splits and write the file next to this script."""
    rng = np.random.default_rng(SEED)
    splits = {
        "train": make_planted_spectra(N_TRAIN, rng=rng),
        "test": make_planted_spectra(N_TEST, rng=rng),
    }
    arrays = {
        "axis": splits["train"].axis.astype(np.float32),
        "class_names": np.array(splits["train"].class_names),
    }
    for split, d in splits.items():
        arrays[f"X_{split}"] = d.x.astype(np.float32)
        arrays[f"y_{split}"] = d.y.astype(np.int64)
        for name in ("centres", "widths", "amplitudes", "windows", "components", "decoy_centres"):
            arrays[f"{name}_{split}"] = getattr(d, name).astype(np.float32)
    out = Path(__file__).with_name("planted.npz")
    np.savez_compressed(out, **arrays)
    print(
        f"wrote {out} ({out.stat().st_size} bytes): train {splits['train'].x.shape}, "
        f"test {splits['test'].x.shape}"
    )
    return out


if __name__ == "__main__":
    main()
