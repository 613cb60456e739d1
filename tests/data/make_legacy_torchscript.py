"""Make the legacy TorchScript fixture and its reference explanation.

``legacy_torchscript.pt`` is a model file as release 0.1.0 wrote it by default
(``save_model(..., format='torchscript')``, torch 2.13.0): a small
:class:`~saliency2signal.models.ScalogramCNN` trained for a few epochs on the bundled
planted-peak spectra. ``legacy_torchscript_explained.npz`` holds what 0.1.0's
:func:`explain` computed from that file on four test spectra (IG-16, default mask).
``tests/test_io.py`` loads the file with the current code and checks that it explains
identically.

The script needs the 0.1.0 code (commit 3523612, the last one that could write
TorchScript)::

    git worktree add /tmp/s2s-0.1.0 3523612
    cd /tmp/s2s-0.1.0
    python $REPO/tests/data/make_legacy_torchscript.py --out $REPO/tests/data

It is kept for the record; the current code cannot write TorchScript.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import saliency2signal
from saliency2signal import SSQConfig
from saliency2signal.datasets import load_planted
from saliency2signal.imaging import ImagingConfig
from saliency2signal.io import load_model, save_model
from saliency2signal.models import make_images, train_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train, test = load_planted("train"), load_planted("test")
    tcfg = SSQConfig(nv=8, beta=5.0, lowpass_row=True, dtype="float32")
    raw = make_images(
        train.x,
        transform_config=tcfg,
        imaging_config=ImagingConfig(
            size=(32, 32), scale="log1p", antialias=True, normalize="none"
        ),
    )
    icfg = ImagingConfig(
        size=(32, 32),
        scale="log1p",
        antialias=True,
        normalize="meanstd",
        mean=round(float(raw.mean()), 6),
        std=round(float(raw.std()), 6),
    )
    trained = train_classifier(
        train.x,
        train.y,
        transform_config=tcfg,
        imaging_config=icfg,
        class_names=list(train.class_names),
        epochs=20,
        batch_size=16,
        lr=5e-3,
        seed=0,
        val_fraction=0.0,
        architecture_kwargs={"widths": [8, 16], "coord_channels": True},
        axis_name="wavenumber",
        axis_units="cm^-1",
    )
    net = trained.model
    meta = trained.metadata.replace(extra={"fixture": "legacy TorchScript, 0.1.0"})
    path = save_model(
        net,
        args.out / "legacy_torchscript.pt",
        metadata=meta,
        format="torchscript",
        overwrite=True,
    )
    loaded = load_model(path)
    assert loaded.format == "torchscript"
    x = test.x[:4]
    e = saliency2signal.explain(
        loaded.model, x, metadata=loaded.metadata, n_steps=16, axis=test.axis
    )
    drops = np.array(
        [
            [r.p_before, r.p_after, r.drop, r.component_energy, r.region.mass_share]
            for rs in e.regions
            for r in rs
        ]
    )
    counts = np.array([len(rs) for rs in e.regions])
    np.savez_compressed(
        args.out / "legacy_torchscript_explained.npz",
        signals=e.signals,
        components=e.components,
        attribution=e.attribution,
        labels=e.labels.astype(np.int8),
        probabilities=e.probabilities,
        predictions=e.predictions,
        target=e.target,
        region_counts=counts,
        region_values=drops,
        x_ranges=np.array([r.x_range for rs in e.regions for r in rs]),
        torch_version=np.array(torch.__version__),
        package_version=np.array(saliency2signal.__version__),
        settings=np.array(json.dumps({"n_steps": 16, "samples": "load_planted('test').X[:5]"})),
    )
    print(
        path,
        path.stat().st_size,
        "bytes; predictions",
        e.predictions.tolist(),
        "regions",
        counts.tolist(),
    )


if __name__ == "__main__":
    main()
