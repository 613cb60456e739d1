"""Reading model files: :func:`load_model`, format detection and rebuilding the network.

Internal module of :mod:`saliency2signal.io`. May import: torch, ``saliency2signal.metadata``,
``._validation``, ``.models``, ``._formats``, ``._archive``, ``._user``, ``._onnx``,
``._keras``; never ``._save``.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from .._validation import check_instance
from ..metadata import ModelMetadata, check_sizes
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
from ._keras import is_keras, read_keras
from ._onnx import is_onnx, read_onnx
from ._user import (
    architecture_name,
    build_network,
    check_architecture_kwargs,
    find_weights,
    load_weights,
    no_metadata,
    resolve_architecture,
)

__all__ = ["load_model"]


#: The fields that say what a network sees; two metadata agreeing on these agree.
_DESCRIBING = (
    "transform",
    "imaging",
    "class_names",
    "n_times",
    "length_policy",
    "axis_name",
    "axis_units",
    "task",
    "output_units",
)


@dataclass(frozen=True)
class _Request:
    """What the caller asked :func:`load_model` for, checked."""

    path: pathlib.Path
    device: torch.device
    trust: bool
    architecture: Callable[..., nn.Module] | None
    name: str  # the architecture and its arguments, for messages
    kwargs: dict
    metadata: ModelMetadata | None

    @property
    def where(self) -> str:
        return repr(str(self.path))


def load_model(
    path,
    *,
    trust: bool = False,
    device: str | torch.device = "cpu",
    rebuild: bool = False,
    architecture=None,
    architecture_kwargs: Mapping | None = None,
    metadata: ModelMetadata | None = None,
    black_box: bool = False,
    outputs: str | None = None,
) -> LoadedModel:
    """Load a model file, whatever its format: ours, or a network trained elsewhere.

    The format is recognised from the file's content, never from its name:

    * files written by :func:`save_model` (``'state_dict'``, ``'export'``; legacy
      ``'torchscript'`` and ``'pickle'``) carry their own :class:`ModelMetadata`;
    * a researcher's own files (``'user_*'`` formats) need ``metadata`` to say what the
      network sees: a state dict (``torch.save(model.state_dict(), path)``, or a
      training checkpoint with one state dict under ``'state_dict'``,
      ``'model_state_dict'``, ``'model'``, ``'net'`` or ``'weights'``; a uniform
      ``'module.'`` or ``'_orig_mod.'`` prefix is removed) also needs ``architecture``;
      a pickled module (``torch.save(model, path)``) needs ``trust=True``; a
      ``torch.export`` or TorchScript archive needs nothing more;
    * networks from other frameworks need ``metadata`` too: an ONNX file
      (``'user_onnx'``: converted to torch by onnx2torch; ``'user_onnx_black_box'``
      with ``black_box=True``: run by onnxruntime) or a Keras 3 ``.keras`` file
      (``'user_keras'``: run by Keras's torch backend). Each is checked on probe
      images (a few synthetic signals through the metadata's transform and imaging,
      and two noise images) against the framework's own outputs (onnxruntime,
      ``model.predict``) and refused unless every output agrees within
      ``1e-4 + 1e-3 |output|``. These need the optional extras
      ``saliency2signal[onnx]`` and ``saliency2signal[keras]``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    trust : bool
        Allow unpickling arbitrary Python objects. Only for files from a source you
        trust: unpickling can run any code. Without it, such files raise. State dicts
        are always read weights-only. For a Keras file: load it with Keras's safe mode
        off (``Lambda`` layers' code then runs).
    device : str or torch.device
        Where the weights go.
    rebuild : bool
        Build the network again and copy the file's weights into it: from
        ``architecture`` if given, else the registered architecture
        (``metadata.architecture``) of :mod:`saliency2signal.models`. TorchScript
        modules and exported programs have no hookable submodules; a rebuilt model does,
        so layer attributions (Grad-CAM) work for any format. State dicts are always
        built. Ignored for ONNX and Keras files.
    architecture : str or callable, optional
        The network's class, or any callable returning a ``torch.nn.Module``, or an
        import reference to it, ``'package.module:Class'`` or
        ``'path/to/nets.py:Class'`` (see :func:`resolve_architecture`). Importing it
        runs that module's code: your code, run because you named it.
    architecture_kwargs : mapping, optional
        Constructor arguments: ``architecture(**architecture_kwargs)``.
    metadata : ModelMetadata, optional
        What the network sees (transform, imaging, class names, signal length), for
        files that do not carry saliency2signal metadata (from a pipeline file). For a
        file that carries its own, it must agree with it.
    black_box : bool
        ONNX files only: run the file by onnxruntime as a
        :class:`~saliency2signal.BlackBox` (no gradients: perturbation methods only)
        instead of converting it to torch; for graphs onnx2torch cannot convert.
    outputs : {'probabilities', 'logits', 'values'}, optional
        ONNX and Keras files only: what the network returns. By default read off the
        probe images: rows in ``[0, 1]`` summing to 1 within 1e-5 are probabilities
        (a regression's metadata: values). Probabilities are returned as ``log p``, so
        that the package's softmax gives the network's own probabilities back.

    Returns
    -------
    LoadedModel
        ``model`` (eval mode), ``metadata``, ``format``, ``path``; unpacks as
        ``model, metadata``.

    Raises
    ------
    ValueError
        Missing, unreadable or corrupt file (naming the path); a file that does not
        say what its network sees and no ``metadata``, or that says something else; a
        state dict without ``architecture``, or whose weights do not fit it; a file
        that needs unpickling of Python objects without ``trust=True`` (saying why and
        what to do); an ``architecture`` that cannot be imported or built; a network
        that does not match its metadata; an ONNX or Keras network that disagrees
        with its framework on the probe images, an ONNX graph onnx2torch cannot
        convert (naming ``black_box=True``), ONNX external data outside the model's
        folder, a Keras file safe mode refuses without ``trust=True``, and files
        larger than :mod:`saliency2signal.limits` allow.
    ImportError
        The optional extra an ONNX or Keras file needs is not installed (naming it).
    TypeError
        ``metadata``, ``architecture`` or ``architecture_kwargs`` of the wrong type.

    Notes
    -----
    Exported programs come wrapped in a module whose ``train()``/``eval()`` only set
    the flag: the program itself always runs in eval mode.

    ONNX weights kept in external data files are read only from the model's own folder
    (a reference outside it is refused). A Keras model is loaded with
    ``safe_mode=True`` unless ``trust=True``, and keras is imported with the torch
    backend (a keras already imported with another backend is refused).

    Examples
    --------
    See :func:`save_model`. A network trained in plain PyTorch, whose class
    ``SmallCNN`` lives in ``nets.py``::

        torch.save(model.state_dict(), "model.pt")
        loaded = load_model("model.pt", architecture="nets.py:SmallCNN",
                            architecture_kwargs={"n_classes": 2}, metadata=metadata)
    """
    path = pathlib.Path(os.fspath(path))
    if not path.is_file():
        raise ValueError(f"cannot read model file {str(path)!r}: no such file")
    req = _request(path, trust, device, architecture, architecture_kwargs, metadata)
    try:
        foreign = _foreign_kind(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise corrupt(path, exc) from None
    if foreign is not None:
        return _load_foreign(foreign, req, black_box=black_box, outputs=outputs)
    if black_box or outputs is not None:
        raise ValueError(
            f"black_box={black_box!r}, outputs={outputs!r}: these apply to ONNX and Keras "
            f"files only, and {req.where} is a torch file"
        )
    try:
        kind = detect(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise corrupt(path, exc) from None
    if kind in ("torchscript", "export"):
        model, text = _read_torchscript(req) if kind == "torchscript" else _read_export(req)
        metadata, own, fmt = *_settle(text, req), kind
    else:
        model, metadata, fmt, own = _from_container(_read_torch_save(req), req)
    if rebuild and fmt != "state_dict":
        model = _rebuild(model, metadata, req)
    model.eval()
    probe(model, metadata, req.where)
    return LoadedModel(
        model=model, metadata=metadata, format=fmt if own else f"user_{fmt}", path=path
    )


def _foreign_kind(path: pathlib.Path) -> str | None:
    """``'keras'``, ``'onnx'`` or ``None`` (a torch file), from the file's content."""
    if zipfile.is_zipfile(path):
        return "keras" if is_keras(path) else None
    return "onnx" if is_onnx(path) else None


def _load_foreign(kind: str, req: _Request, *, black_box: bool, outputs) -> LoadedModel:
    """Load an ONNX or Keras network, checked against its own framework."""
    if req.metadata is None:
        raise no_metadata(req.where)
    if req.architecture is not None:
        raise ValueError(
            f"architecture= (CLI --arch) applies to torch files; {req.where} is a "
            f"{kind.upper() if kind == 'onnx' else 'Keras'} file that holds its network"
        )
    common = dict(metadata=req.metadata, device=req.device, outputs=outputs, where=req.where)
    if kind == "onnx":
        model = read_onnx(req.path, black_box=bool(black_box), **common)
        fmt = "user_onnx_black_box" if black_box else "user_onnx"
    else:
        if black_box:
            raise ValueError(
                f"black_box=True applies to ONNX files; {req.where} is a Keras file, run "
                "with gradients through Keras's torch backend"
            )
        model = read_keras(req.path, trust=req.trust, **common)
        fmt = "user_keras"
    model.eval()
    probe(model, req.metadata, req.where)
    return LoadedModel(model=model, metadata=req.metadata, format=fmt, path=req.path)


def _request(path, trust, device, architecture, kwargs, metadata) -> _Request:
    if metadata is not None:
        check_instance(metadata, ModelMetadata, "metadata", what="a ModelMetadata or None")
        check_sizes(metadata.transform, metadata.imaging, metadata.n_times)
    kwargs = check_architecture_kwargs(kwargs)
    if kwargs and architecture is None:
        raise ValueError(
            f"architecture_kwargs={kwargs!r} given without architecture: name the "
            "network's class with architecture='module:Class' (CLI --arch)"
        )
    # resolved before the file is read: importing the module also lets a trusted
    # pickle find the classes it names
    resolved = None if architecture is None else resolve_architecture(architecture)
    return _Request(
        path=path,
        device=torch.device(device),
        trust=bool(trust),
        architecture=resolved,
        name=architecture_name(architecture, kwargs) if architecture is not None else "",
        kwargs=kwargs,
        metadata=metadata,
    )


def _settle(text, req: _Request) -> tuple[ModelMetadata, bool]:
    """Return the metadata to use and whether the file carries it (``text``: its block)."""
    if not text:
        if req.metadata is None:
            raise no_metadata(req.where, METADATA_FILENAME)
        return req.metadata, False
    found = parse_metadata(text, req.path)
    if req.metadata is not None:
        differ = [f for f in _DESCRIBING if getattr(found, f) != getattr(req.metadata, f)]
        if differ:
            raise ValueError(
                f"{req.where} carries its own saliency2signal metadata and the metadata "
                f"given differs in {', '.join(differ)}: leave metadata= (CLI --pipeline) "
                "out to use the file's"
            )
    return found, True


def _read_torchscript(req: _Request) -> tuple[nn.Module, str]:
    extra = {METADATA_FILENAME: ""}
    try:
        with quiet_jit_load():
            model = torch.jit.load(str(req.path), map_location=req.device, _extra_files=extra)
    except Exception as exc:  # the C++ reader raises RuntimeError & co.
        raise corrupt(req.path, exc) from None
    return model, extra[METADATA_FILENAME]


def _read_export(req: _Request) -> tuple[nn.Module, str]:
    path = req.path
    if not req.trust:
        try:
            check_export_archive(path)
        except (OSError, zipfile.BadZipFile, RuntimeError, KeyError, json.JSONDecodeError) as exc:
            raise corrupt(path, exc) from None
    extra = {METADATA_FILENAME: ""}
    try:
        with contextlib.nullcontext() if req.trust else forced_weights_only():
            program = torch.export.load(io.BytesIO(path.read_bytes()), extra_files=extra)
    except Exception as exc:  # corrupt archive, schema mismatch, ...
        raise corrupt(path, exc) from None
    with naming(path):
        check_exported(program)
    return ExportedModule(program.module()).to(req.device), extra[METADATA_FILENAME]


def _read_torch_save(req: _Request):
    """``torch.load`` weights-only; only with ``trust=True``, then in full."""
    path = req.path
    try:
        return torch.load(str(path), map_location=req.device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        if not req.trust:
            why = f"global {found.group(1)}" if found else "see torch.load(weights_only=True)"
            raise ValueError(REFUSAL.format(path=str(path), why=why)) from None
        first = found.group(1) if found else None
    except Exception as exc:  # truncated zip, bad magic number, ...
        raise corrupt(path, exc) from None
    try:
        return torch.load(str(path), map_location=req.device, weights_only=False)
    except (ModuleNotFoundError, AttributeError) as exc:
        name = _missing_class(exc, first)
        if name is None:
            raise corrupt(path, exc) from None
        raise ValueError(
            f"{req.where}: unpickling it needs the class {name} importable: "
            f"{type(exc).__name__}: {exc}; put its module on the Python path (PYTHONPATH) "
            "or save the weights alone (torch.save(model.state_dict(), path)) and give "
            "the class with architecture='module:Class' (CLI --arch)"
        ) from None
    except Exception as exc:  # corrupt, or the pickled objects' own code failed
        raise corrupt(path, exc) from None


def _missing_class(exc: Exception, first: str | None) -> str | None:
    """Name the class a full unpickling could not import, if ``exc`` says which."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        if first and first.startswith(exc.name + "."):
            return first
        return f"{first} (module {exc.name!r})" if first else f"from module {exc.name!r}"
    found = re.search(r"Can't get attribute '([^']+)' on <module '([^']+)'", str(exc))
    return f"{found.group(2)}.{found.group(1)}" if found else None


def _from_container(obj, req: _Request):
    """Model, metadata, format and whether the metadata is the file's, from a load."""
    if isinstance(obj, dict) and obj.get("format") == STATE_DICT_TAG:
        return _from_own_container(obj, req)
    found = find_weights(obj, where=req.where)
    if found is None:
        if isinstance(obj, dict):
            keys = ", ".join(repr(k) for k in list(obj)[:5]) + (", ..." if len(obj) > 5 else "")
            raise ValueError(
                f"{req.where} is a torch.save file but not a saliency2signal model file "
                "(no 'format': 'saliency2signal.state_dict' entry), nor a state dict or a "
                f"checkpoint holding one (keys: {keys or 'none'})"
            )
        raise ValueError(
            f"{req.where} is a torch.save file holding a {type(obj).__name__}: not a "
            "network, a state dict or a saliency2signal model file"
        )
    kind, value = found
    if kind == "module":  # only reachable with trust=True
        if req.metadata is None:
            raise no_metadata(req.where)
        return value.to(req.device), req.metadata, "pickle", False
    return _from_state_dict(value, req), req.metadata, "state_dict", False


def _from_own_container(obj: dict, req: _Request):
    version = obj.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{req.where} has format_version={version!r}; this version of "
            f"saliency2signal reads <= {FORMAT_VERSION}"
        )
    metadata, own = _settle(obj.get("metadata"), req)
    if isinstance(obj.get("module"), nn.Module):  # only reachable with trust=True
        return obj["module"].to(req.device), metadata, "pickle", own
    state = obj.get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{req.where} has no 'state_dict' entry")
    return _build(state, metadata, req), metadata, "state_dict", own


def _from_state_dict(state: dict, req: _Request) -> nn.Module:
    if req.architecture is None and (req.metadata is None or req.metadata.architecture is None):
        n = f"{len(state)} tensor{'s' * (len(state) != 1)}"
        also = (
            ""
            if req.metadata is not None
            else ", and describe what it sees with a pipeline file (metadata=..., "
            "CLI --pipeline pipeline.toml)"
        )
        raise ValueError(
            f"{req.where} is a state dict ({n}), not a saliency2signal model file: give "
            f"the network's class with architecture='module:Class' (CLI --arch){also}"
        )
    if req.metadata is None:
        raise no_metadata(req.where)
    return _build(state, req.metadata, req)


def _build(state: dict, metadata: ModelMetadata, req: _Request) -> nn.Module:
    """Build ``architecture`` if given, else the metadata's registered one; load ``state``."""
    if req.architecture is not None:
        model = build_network(req.architecture, req.kwargs, where=req.where, name=req.name)
        name = req.name
    elif metadata.architecture is None:
        raise ValueError(
            f"{req.where}: the metadata names no architecture to rebuild: give the "
            "network's class with architecture='module:Class' (CLI --arch)"
        )
    else:
        model = build_model(metadata.architecture, **metadata.architecture_kwargs)
        name = f"architecture={metadata.architecture!r}"
    return load_weights(model, state, where=req.where, name=name).to(req.device)


def _rebuild(model: nn.Module, metadata: ModelMetadata, req: _Request) -> nn.Module:
    inner = model.module if isinstance(model, ExportedModule) else model
    state = {k: v.detach() for k, v in inner.state_dict().items()}
    return _build(state, metadata, req)
