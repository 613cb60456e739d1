"""Make the legacy pickled-module fixture: a model file pickled under the 0.1 module paths.

``legacy_pickle.pt`` is a ``trust=True`` container (``{'format':
'saliency2signal.state_dict', ..., 'module': <pickled module>}``) written by the code
before the package was split into subpackages (commit 66b2d91), so its pickle names
``saliency2signal.models.ScalogramCNN`` and ``saliency2signal.models.ConvBlock``, where
those classes were defined then. ``legacy_pickle_logits.npy`` holds that code's logits on
:func:`probe_images`. ``tests/test_io.py`` loads the file with the current code
(``trust=True``) and checks the same logits, to the bit.

The script needs the old code on the path::

    git worktree add /tmp/s2s-66b2d91 66b2d91
    cd /tmp/s2s-66b2d91
    PYTHONPATH=. python $REPO/tests/data/make_legacy_pickle.py --out $REPO/tests/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def probe_images() -> torch.Tensor:
    """Four fixed images ``(4, 1, 32, 32)`` (seeded)."""
    g = torch.Generator().manual_seed(7)
    return torch.rand(4, 1, 32, 32, generator=g)


def main() -> None:
    from saliency2signal import SSQConfig
    from saliency2signal.imaging import ImagingConfig
    from saliency2signal.io import ModelMetadata
    from saliency2signal.models import ScalogramCNN

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(4, 8)).eval()
    meta = ModelMetadata(
        transform=SSQConfig(nv=8),
        imaging=ImagingConfig(size=(32, 32)),
        class_names=["a", "b"],
        n_times=256,
        architecture="ScalogramCNN",
        architecture_kwargs=net.architecture_kwargs,
    )
    assert type(net).__module__ == "saliency2signal.models", "run with the 0.1 layout"
    container = {
        "format": "saliency2signal.state_dict",
        "format_version": 1,
        "metadata": meta.to_json(),
        "module": net,
    }
    torch.save(container, args.out / "legacy_pickle.pt")
    with torch.no_grad():
        logits = net(probe_images()).numpy()
    np.save(args.out / "legacy_pickle_logits.npy", logits, allow_pickle=False)
    print(f"wrote {args.out / 'legacy_pickle.pt'} and the logits {logits.shape}")


if __name__ == "__main__":
    main()
