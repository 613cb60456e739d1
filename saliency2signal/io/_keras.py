"""Keras 3 model files (``.keras``), run through Keras's torch backend.

Under the torch backend a Keras model's layers are torch modules and its outputs torch
tensors with their autograd graph, so gradient methods (Integrated Gradients, saliency)
run through it as through any torch network. The backend is chosen when keras is first
imported: :func:`import_keras` imports it with ``KERAS_BACKEND=torch`` (the variable is
set for that import only) and refuses a keras already imported with another backend.

A ``.keras`` file is a zip archive (``config.json``, ``metadata.json``, the weights);
its members are checked like every archive (names, inflation) and its size against
``max_parameters`` before Keras opens it. It is read with
``keras.saving.load_model(..., safe_mode=True)``, which refuses the Python code of
``Lambda`` layers and imports only Keras's own classes; ``trust=True`` turns safe mode
off, for a file you trust. Keras's torch backend computes in its own way, so the
loaded model is checked against ``model.predict`` on the probe images (same tolerance
as ONNX: ``1e-4 + 1e-3 |output|``).

Internal module of :mod:`saliency2signal.io`. May import: numpy, torch, ``._foreign``,
``._archive``; keras when called (the ``keras`` extra); never the other ``io`` modules.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import warnings
import zipfile

import numpy as np
import torch
from torch import nn

from ..metadata import ModelMetadata
from ._archive import check_members
from ._foreign import (
    ForeignNetwork,
    check_file_bytes,
    check_parity,
    input_layout,
    outputs_kind,
    probe_images,
    require,
)

__all__ = ["import_keras", "is_keras", "read_keras"]

#: Keras 3 with numpy 2 warns that its variables' ``__array__`` takes no ``copy``
#: argument, on every load and predict: nothing a user can act on.
_KERAS_NUMPY_WARNING = "__array__ implementation doesn't accept a copy keyword"


def is_keras(path: pathlib.Path) -> bool:
    """Whether ``path`` is a Keras 3 archive (a zip with its config and metadata)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    return {"config.json", "metadata.json"} <= names and any(
        n.startswith("model.weights.") for n in names
    )


def import_keras():
    """Import keras with the torch backend (or check the one already imported uses it)."""
    keras = sys.modules.get("keras")
    if keras is not None:
        backend = keras.backend.backend()
        if backend != "torch":
            raise ValueError(
                f"keras is already imported with the {backend!r} backend; saliency2signal "
                "runs Keras models through the torch backend: set KERAS_BACKEND=torch "
                "before keras is first imported (in the shell, or at the top of your script)"
            )
        return keras
    previous = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        keras = require("keras", "keras", "Keras files")
    finally:
        if previous is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = previous
    if keras.backend.backend() != "torch":  # a keras.json the variable did not override
        raise ValueError(
            f"keras chose the {keras.backend.backend()!r} backend; set KERAS_BACKEND=torch"
        )
    return keras


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_KERAS_NUMPY_WARNING, category=DeprecationWarning
        )
        yield


class KerasNetwork(nn.Module):
    """A Keras model called in inference mode on the device of its weights."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``model(images, training=False)`` under Keras's device scope of ``images``."""
        keras = sys.modules["keras"]
        with keras.device(str(images.device)):
            return self.model(images, training=False)


def read_keras(
    path: pathlib.Path,
    *,
    metadata: ModelMetadata,
    device: torch.device,
    trust: bool,
    outputs: str | None,
    where: str,
) -> nn.Module:
    """Return the file's network, wrapped and checked against ``model.predict``."""
    keras = import_keras()
    names = check_members(path)
    with zipfile.ZipFile(path) as zf:
        total = sum(zf.getinfo(n).file_size for n in names)
    check_file_bytes(total, what=where)
    if path.suffix.lower() != ".keras":
        raise ValueError(
            f"{where} is a Keras archive, which Keras reads only under a name ending in "
            "'.keras': rename it"
        )
    with _quiet(), keras.device(str(device)):
        try:
            model = keras.saving.load_model(
                str(path.resolve()), safe_mode=not trust, compile=False
            )
        except Exception as exc:  # noqa: BLE001 - Keras raises many kinds
            raise _refused(where, exc, trust) from None
    layout = input_layout(_input_dims(keras, model), metadata.input_shape, where=where)
    images = probe_images(metadata).to(device)
    nhwc = images.permute(0, 2, 3, 1) if layout == "NHWC" else images
    with _quiet(), keras.device(str(device)):
        theirs = np.asarray(model.predict(nhwc.cpu().numpy(), verbose=0))
    kind = outputs_kind(theirs, outputs, task=metadata.task, where=where)
    network = ForeignNetwork(KerasNetwork(model), layout=layout, outputs=kind).eval()
    with torch.no_grad():
        ours = network.scores(images).cpu().numpy()
    check_parity(ours, theirs, where=where, against="Keras's own model.predict")
    return network


def _input_dims(keras, model) -> tuple:
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ValueError(
            f"the Keras model takes {len(inputs) or 'no declared'} inputs; one image batch "
            "(an Input layer of shape (H, W, C) or (C, H, W)) expected"
        )
    return tuple(d if isinstance(d, int) else None for d in inputs[0].shape)


def _refused(where: str, exc: BaseException, trust: bool) -> ValueError:
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else type(exc).__name__
    if not trust and ("safe_mode" in text or "Lambda" in text):
        return ValueError(
            f"{where}: Keras refuses it in safe mode ({first}); only for a file you "
            "trust, load it with trust=True (CLI --trust): its Lambda layers run Python code"
        )
    return ValueError(f"Keras cannot load {where}: {type(exc).__name__}: {first}")
