"""The model-file formats: their names, tags and the loaded-model record.

Internal: plain names, not public API. May import: torch, ``saliency2signal.metadata``;
never the other ``io`` modules.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ..metadata import ModelMetadata

__all__ = [
    "ExportedModule",
    "FORMATS",
    "FORMAT_DESCRIPTIONS",
    "FORMAT_VERSION",
    "LoadedModel",
    "METADATA_FILENAME",
    "READ_FORMATS",
    "STATE_DICT_TAG",
    "example",
    "probe",
]


#: File formats written by :func:`save_model`.
FORMATS = ("state_dict", "export")


#: File formats read by :func:`load_model`. ``'pickle'``: a container holding a pickled
#: module, read only with ``trust=True``. ``'user_*'``: a network saved without
#: saliency2signal, described by the caller's metadata (a pipeline file); the
#: ``onnx`` and ``keras`` ones come from other frameworks (optional extras).
READ_FORMATS = (
    "state_dict",
    "export",
    "torchscript",
    "pickle",
    "user_state_dict",
    "user_pickle",
    "user_export",
    "user_torchscript",
    "user_onnx",
    "user_onnx_black_box",
    "user_keras",
)


#: One line per format, for ``saliency2signal info``.
FORMAT_DESCRIPTIONS = {
    "state_dict": "weights-only state dict + JSON metadata (torch.save; rebuilt from "
    "saliency2signal.models)",
    "export": "torch.export program (.pt2) + JSON metadata",
    "torchscript": "TorchScript archive + JSON metadata (legacy, read-only: PyTorch has "
    "deprecated TorchScript; re-save with save_model)",
    "pickle": "pickled module + JSON metadata (loaded with trust=True)",
    "user_state_dict": "your state dict (torch.save(model.state_dict()), read weights-only) "
    "built into your network class (--arch), described by your pipeline file",
    "user_pickle": "your pickled module (torch.save(model), loaded with trust=True), "
    "described by your pipeline file",
    "user_export": "your torch.export program (.pt2), described by your pipeline file",
    "user_torchscript": "your TorchScript archive (PyTorch has deprecated TorchScript), "
    "described by your pipeline file",
    "user_onnx": "your ONNX graph (.onnx), converted to torch by onnx2torch and checked "
    "against onnxruntime, described by your pipeline file",
    "user_onnx_black_box": "your ONNX graph (.onnx) run by onnxruntime as a black box "
    "(--black-box: no gradients, perturbation methods only), described by your pipeline file",
    "user_keras": "your Keras 3 model (.keras) run by Keras's torch backend and checked "
    "against its own predict, described by your pipeline file",
}


#: Name of the JSON block inside TorchScript and export archives.
METADATA_FILENAME = "saliency2signal.json"


STATE_DICT_TAG = "saliency2signal.state_dict"


FORMAT_VERSION = 1  # of the state-dict container


class ExportedModule(nn.Module):
    """Holds ``ExportedProgram.module()``; ``train``/``eval`` only set the flag.

    An exported program is frozen in the mode it was exported in (eval) and its module
    refuses ``.eval()``; this wrapper lets code that toggles modes (saliency wrappers)
    work unchanged.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the exported program."""
        return self.module(x)

    def train(self, mode: bool = True) -> ExportedModule:
        """Set the ``training`` flag only (the program is always in eval mode)."""
        self.training = bool(mode)
        return self


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """Output of :func:`load_model`; unpacks as ``model, metadata = load_model(path)``.

    Attributes
    ----------
    model : torch.nn.Module
        The network ``(B, C, H, W) -> (B, n_classes)`` in eval mode.
    metadata : ModelMetadata
    format : str
        The file's format, one of :data:`READ_FORMATS` (see
        :data:`FORMAT_DESCRIPTIONS`): ``'state_dict'``, ``'export'``, ``'torchscript'``
        (a legacy file, read-only), ``'pickle'`` (a container holding a pickled module,
        loaded with ``trust=True``) for files written by saliency2signal;
        ``'user_state_dict'``, ``'user_pickle'``, ``'user_export'``,
        ``'user_torchscript'`` for a network saved without it, whose metadata the
        caller gave; ``'user_onnx'``, ``'user_onnx_black_box'``, ``'user_keras'`` for
        a network from another framework.
    path : pathlib.Path
    """

    model: nn.Module
    metadata: ModelMetadata
    format: str
    path: pathlib.Path

    def __iter__(self) -> Iterator:
        """Yield ``model`` then ``metadata``."""
        return iter((self.model, self.metadata))


def probe(model: nn.Module, metadata: ModelMetadata, where: str) -> None:
    """Run zeros of the expected input shape; the output must be (1, n_classes)."""
    param = next(iter(model.parameters()), None)
    kw = {} if param is None else {"dtype": param.dtype, "device": param.device}
    x = torch.zeros(1, *metadata.input_shape, **kw)
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # any failure of the network on its documented input
        raise ValueError(
            f"{where}: the network fails on input of shape {tuple(x.shape)} "
            f"(channels, image size from the metadata): {exc}"
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, metadata.n_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"{where}: the metadata gives n_classes={metadata.n_classes} "
            f"{metadata.class_names} but the network outputs {shape} for one "
            "image"
        )


def example(metadata: ModelMetadata, model: nn.Module, batch: int) -> torch.Tensor:
    param = next(iter(model.parameters()), None)
    kw = {} if param is None else {"dtype": param.dtype, "device": param.device}
    return torch.zeros(batch, *metadata.input_shape, **kw)
