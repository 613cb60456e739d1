"""Reading model files: :func:`load_model`, format detection and rebuilding the network.

Internal module of :mod:`saliency2signal.io`. May import: torch, ``saliency2signal.metadata``,
``.models``, ``._formats``, ``._archive``; never ``._save``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import pickle
import re
import zipfile

import torch
from torch import nn

from ..metadata import ModelMetadata
from ..models import build_model
from ._archive import (
    REFUSAL,
    check_export_archive,
    check_exported,
    corrupt,
    detect,
    forced_weights_only,
    naming,
    parse_metadata,
    quiet_jit_load,
)
from ._formats import (
    FORMAT_VERSION,
    METADATA_FILENAME,
    STATE_DICT_TAG,
    ExportedModule,
    LoadedModel,
    probe,
)

__all__ = ["load_model"]


def load_model(
    path, *, trust: bool = False, device: str | torch.device = "cpu", rebuild: bool = False
) -> LoadedModel:
    """Load a model file written by :func:`save_model`, whatever its format.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    trust : bool
        Allow unpickling arbitrary Python objects. Only for files from a source you
        trust: unpickling can run any code. Without it, such files raise.
    device : str or torch.device
        Where the weights go.
    rebuild : bool
        Rebuild the registered architecture (``metadata.architecture``) from
        :mod:`saliency2signal.models` and copy the file's weights into it. TorchScript
        modules and exported programs have no hookable submodules; a rebuilt model does,
        so layer attributions (Grad-CAM on ``model.cam_layer``) work for any format.
        ``'state_dict'`` files are always rebuilt.

    Returns
    -------
    LoadedModel
        ``model`` (eval mode), ``metadata``, ``format``, ``path``; unpacks as
        ``model, metadata``.

    Raises
    ------
    ValueError
        Missing, unreadable or corrupt file, or no metadata (naming the path); a file
        that needs unpickling of Python objects without ``trust=True`` (saying why and
        what to do); a network that does not match its metadata.

    Notes
    -----
    Exported programs come wrapped in a module whose ``train()``/``eval()`` only set
    the flag: the program itself always runs in eval mode.

    Examples
    --------
    See :func:`save_model`.
    """
    path = pathlib.Path(os.fspath(path))
    if not path.is_file():
        raise ValueError(f"cannot read model file {str(path)!r}: no such file")
    device = torch.device(device)
    try:
        kind = detect(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise corrupt(path, exc) from None
    if kind == "torchscript":
        extra = {METADATA_FILENAME: ""}
        try:
            with quiet_jit_load():
                model = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except Exception as exc:  # the C++ reader raises RuntimeError & co.
            raise corrupt(path, exc) from None
        metadata = parse_metadata(extra[METADATA_FILENAME], path)
        fmt = "torchscript"
    elif kind == "export":
        if not trust:
            try:
                check_export_archive(path)
            except (
                OSError,
                zipfile.BadZipFile,
                RuntimeError,
                KeyError,
                json.JSONDecodeError,
            ) as exc:
                raise corrupt(path, exc) from None
        extra = {METADATA_FILENAME: ""}
        try:
            with contextlib.nullcontext() if trust else forced_weights_only():
                program = torch.export.load(io.BytesIO(path.read_bytes()), extra_files=extra)
        except Exception as exc:  # corrupt archive, schema mismatch, ...
            raise corrupt(path, exc) from None
        metadata = parse_metadata(extra[METADATA_FILENAME], path)
        with naming(path):
            check_exported(program)
        model = ExportedModule(program.module()).to(device)
        fmt = "export"
    else:
        try:
            obj = torch.load(str(path), map_location=device, weights_only=not trust)
        except pickle.UnpicklingError as exc:
            if trust:
                raise corrupt(path, exc) from None
            found = re.search(r"GLOBAL (\S+)", str(exc))
            why = f"global {found.group(1)}" if found else "see torch.load(weights_only=True)"
            raise ValueError(REFUSAL.format(path=str(path), why=why)) from None
        except Exception as exc:  # truncated zip, bad magic number, ...
            raise corrupt(path, exc) from None
        model, metadata, fmt = _from_container(obj, path, device)
    if rebuild and fmt != "state_dict":
        model = _rebuild(model, metadata, path, device)
    model.eval()
    probe(model, metadata, f"{str(path)!r}")
    return LoadedModel(model=model, metadata=metadata, format=fmt, path=path)


def _from_container(obj, path: pathlib.Path, device: torch.device):
    if not isinstance(obj, dict) or obj.get("format") != STATE_DICT_TAG:
        raise ValueError(
            f"{str(path)!r} is a torch.save file but not a saliency2signal "
            "model file (no 'format': 'saliency2signal.state_dict' entry)"
        )
    version = obj.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has format_version={version!r}; this version of "
            f"saliency2signal reads <= {FORMAT_VERSION}"
        )
    metadata = parse_metadata(obj.get("metadata"), path)
    if isinstance(obj.get("module"), nn.Module):  # only reachable with trust=True
        return obj["module"].to(device), metadata, "pickle"
    state = obj.get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} has no 'state_dict' entry")
    return _build_with(state, metadata, path, device), metadata, "state_dict"


def _build_with(
    state: dict, metadata: ModelMetadata, path: pathlib.Path, device: torch.device
) -> nn.Module:

    if metadata.architecture is None:
        raise ValueError(f"{str(path)!r}: the metadata names no architecture to rebuild")
    model = build_model(metadata.architecture, **metadata.architecture_kwargs)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"{str(path)!r}: the weights do not fit architecture={metadata.architecture!r}: {exc}"
        ) from None
    return model.to(device)


def _rebuild(
    model: nn.Module, metadata: ModelMetadata, path: pathlib.Path, device: torch.device
) -> nn.Module:
    inner = model.module if isinstance(model, ExportedModule) else model
    state = {k: v.detach() for k, v in inner.state_dict().items()}
    return _build_with(state, metadata, path, device)
