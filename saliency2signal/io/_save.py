"""Writing model files: :func:`save_model` (state dict or ``torch.export``), atomically.

Internal module of :mod:`saliency2signal.io`. May import: torch,
``saliency2signal._files``, ``._validation``, ``.metadata``, ``.models``, ``._formats``;
never ``._load``.
"""

from __future__ import annotations

import io
import os
import pathlib

import torch
from torch import nn

from .._files import atomic_write
from .._validation import check_instance
from ..metadata import ModelMetadata
from ..models import ARCHITECTURES, build_model
from ._formats import (
    FORMAT_VERSION,
    FORMATS,
    METADATA_FILENAME,
    STATE_DICT_TAG,
    ExportedModule,
    example,
    probe,
)

__all__ = ["save_model"]


def _atomic_write(path: pathlib.Path, writer, *, overwrite: bool) -> None:
    """Call ``writer(tmp_path)`` then move the result to ``path`` in one step."""
    atomic_write(path, writer, overwrite=overwrite)


def _architecture_of(model: nn.Module, metadata: ModelMetadata) -> ModelMetadata:
    """Fill in the architecture of a registered model if the metadata has none."""
    name = type(model).__name__
    if metadata.architecture is None and ARCHITECTURES.get(name) is type(model):
        return metadata.replace(architecture=name, architecture_kwargs=model.architecture_kwargs)
    return metadata


def save_model(
    model: nn.Module,
    path,
    *,
    metadata: ModelMetadata,
    format: str | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write a network and its metadata to one self-describing file.

    Parameters
    ----------
    model : torch.nn.Module
        Image classifier ``(B, C, H, W) -> (B, n_classes)``. It is saved in eval mode
        (its mode is restored afterwards).
    path : str or os.PathLike
        Output file (suggested suffixes: ``.pt`` for state dicts, ``.pt2`` for export).
    metadata : ModelMetadata
        Written as JSON inside the file. For a registered architecture without
        ``metadata.architecture``, the name and arguments are filled in.
    format : {'state_dict', 'export'}, optional
        See the module docstring. Default: ``'state_dict'`` when the metadata names a
        registered architecture (after filling it in), else ``'export'``.
    overwrite : bool
        Replace an existing file (atomically). Otherwise an existing ``path`` is an
        error and is left untouched.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        Unknown format (``'torchscript'`` is read-only); ``path`` exists; the network's
        output does not match the metadata (tried on zeros of
        ``(1, *metadata.input_shape)``); ``'state_dict'`` for an unregistered
        architecture; the model cannot be exported.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> from saliency2signal.io import load_model
    >>> from saliency2signal.models import ScalogramCNN
    >>> meta = ModelMetadata(transform=SSQConfig(nv=8), imaging=ImagingConfig(size=(32, 32)),
    ...                      class_names=["a", "b"], n_times=256)
    >>> _ = torch.manual_seed(0)
    >>> net = ScalogramCNN(widths=(4, 8))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_model(net, pathlib.Path(tmp) / "net.pt", metadata=meta)
    ...     loaded = load_model(path)
    >>> loaded.format
    'state_dict'
    >>> loaded.metadata == meta.replace(architecture="ScalogramCNN",
    ...                                 architecture_kwargs=net.architecture_kwargs)
    True
    """
    check_instance(model, nn.Module, "model")
    check_instance(metadata, ModelMetadata, "metadata")
    if format == "torchscript":
        raise ValueError(
            "format='torchscript' is read-only: PyTorch has deprecated "
            "TorchScript; write format='state_dict' (registered "
            "architectures) or 'export'"
        )
    if format is not None and format not in FORMATS:
        raise ValueError(
            f"format={format!r} must be one of {FORMATS} (or None: "
            "'state_dict' for a registered architecture, else 'export')"
        )
    path = pathlib.Path(os.fspath(path))
    metadata = _architecture_of(model, metadata)
    if format is None:
        format = "export" if metadata.architecture is None else "state_dict"
    text = metadata.to_json()
    was_training = model.training
    model.eval()
    try:
        probe(model, metadata, f"cannot save to {str(path)!r}")
        if format == "export":
            program = _to_export(model, metadata)

            def writer(tmp):  # via a buffer: torch.export wants files named *.pt2
                buf = io.BytesIO()
                torch.export.save(program, buf, extra_files={METADATA_FILENAME: text})
                pathlib.Path(tmp).write_bytes(buf.getvalue())
        else:
            container = _state_dict_container(model, metadata, text)

            def writer(tmp):  # via a buffer: torch's C++ file writer aborts on a full disk
                buf = io.BytesIO()
                torch.save(container, buf)
                pathlib.Path(tmp).write_bytes(buf.getvalue())

        _atomic_write(path, writer, overwrite=overwrite)
    finally:
        model.train(was_training)
    return path


def _to_export(model: nn.Module, metadata: ModelMetadata):
    if isinstance(model, ExportedModule):
        model = model.module
    if isinstance(model, torch.jit.ScriptModule):
        name = getattr(model, "original_name", type(model).__name__)
        raise ValueError(
            f"cannot torch.export the TorchScript module {name!r}: "
            "TorchScript is read-only here; save the original Python module, "
            "or give metadata.architecture and format='state_dict'"
        )
    try:
        return torch.export.export(
            model, (example(metadata, model, 2),), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},)
        )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"cannot torch.export {type(model).__name__}: {type(exc).__name__}: {first[:300]}"
        ) from None


def _state_dict_container(model: nn.Module, metadata: ModelMetadata, text: str) -> dict:

    if metadata.architecture is None:
        raise ValueError(
            f"format='state_dict' needs a registered architecture, but "
            f"{type(model).__name__} has none in the metadata; use "
            "format='export'"
        )
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    try:  # the file must load back into the named architecture
        build_model(metadata.architecture, **metadata.architecture_kwargs).load_state_dict(state)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"the weights of {type(model).__name__} do not fit architecture="
            f"{metadata.architecture!r} {dict(metadata.architecture_kwargs)}: "
            f"{exc}"
        ) from None
    return {
        "format": STATE_DICT_TAG,
        "format_version": FORMAT_VERSION,
        "metadata": text,
        "state_dict": state,
    }
