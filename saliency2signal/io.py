"""Self-describing model files: one file holds the network and everything around it.

A model file carries, next to the weights, a JSON block (:class:`ModelMetadata`) with
the transform configuration, the imaging configuration, the class names, the name and
units of the signal axis, the expected signal length and what to do with other lengths
(``'exact'``, ``'crop'`` or ``'pad'``), the package version, and the architecture name
and constructor arguments. :func:`save_model` writes two formats:

``'state_dict'`` (default for the architectures of :mod:`saliency2signal.models`)
    ``torch.save`` of a plain dict ``{'format': 'saliency2signal.state_dict',
    'format_version': 1, 'metadata': <JSON text>, 'state_dict': {name: tensor}}``,
    loadable with ``torch.load(weights_only=True)``; the network is rebuilt from
    :data:`saliency2signal.models.ARCHITECTURES`. Tensors and JSON only: the most
    portable format across torch versions.
``'export'`` (default for any other module)
    ``torch.export.save`` archive (``.pt2``) of the model exported in eval mode with a
    dynamic batch dimension; the JSON is the extra file ``saliency2signal.json``. Runs
    without the Python class that defined the network.

``'torchscript'`` files (``torch.jit`` archives with the JSON as the extra file
``saliency2signal.json``, the default of release 0.1.0) are still read, but no longer
written: PyTorch has deprecated TorchScript. Re-save such a model with
:func:`save_model` to move it to a current format.

:func:`load_model` recognises the format from the archive's content (and
:attr:`LoadedModel.format` says which it was) and never runs pickled Python code unless
``trust=True``:

* ``torch.save`` files are read with ``torch.load(weights_only=True)``, which only
  rebuilds tensors and plain containers; anything else is refused.
* TorchScript archives are read by TorchScript's own unpickler, which only knows tensors
  and TorchScript classes (no Python globals).
* ``torch.export.load`` *can* unpickle Python objects (pickled weights or constants,
  opaque objects, and a ``weights_only=False`` fallback for sample inputs), so an
  export archive is checked first: every weight and constant must be a raw tensor and
  every embedded ``.pt`` file must load with ``weights_only=True``; and the load itself
  runs with torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` switch on, so that no
  ``torch.load`` inside it can unpickle objects, whatever it asks for.
* Every zip archive is checked before any reader opens it: a member name that occurs
  twice (two readers could take different copies), an absolute or ``..`` name, a member
  that would inflate more than ``limits.max_inflation`` times, or a metadata block above
  ``limits.max_metadata_bytes`` is refused.

Files are written atomically (a temporary file in the same folder, then a rename) and an
existing file is never replaced unless ``overwrite=True``.

May import: torch, ``limits``, ``_files``, ``_validation``, ``metadata``, ``models``;
never a later stage (``saliency``, ``explanation``, ``evaluation``, ``cli``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import pickle
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from . import limits
from ._files import atomic_write
from ._validation import check_instance
from .metadata import LENGTH_POLICIES, ModelMetadata, check_compatible, check_sizes, fit_length
from .models import ARCHITECTURES, architecture_sizes, build_model

__all__ = [
    "FORMATS",
    "FORMAT_DESCRIPTIONS",
    "READ_FORMATS",
    "LENGTH_POLICIES",
    "METADATA_FILENAME",
    "LoadedModel",
    "ModelMetadata",
    "check_compatible",
    "fit_length",
    "load_model",
    "save_model",
]

#: File formats written by :func:`save_model`.
FORMATS = ("state_dict", "export")
#: File formats read by :func:`load_model` (``'pickle'``: a container holding a pickled
#: module, read only with ``trust=True``).
READ_FORMATS = ("state_dict", "export", "torchscript", "pickle")
#: One line per format, for ``saliency2signal info``.
FORMAT_DESCRIPTIONS = {
    "state_dict": "weights-only state dict + JSON metadata (torch.save; rebuilt from "
    "saliency2signal.models)",
    "export": "torch.export program (.pt2) + JSON metadata",
    "torchscript": "TorchScript archive + JSON metadata (legacy, read-only: PyTorch has "
    "deprecated TorchScript; re-save with save_model)",
    "pickle": "pickled module + JSON metadata (loaded with trust=True)",
}
#: Name of the JSON block inside TorchScript and export archives.
METADATA_FILENAME = "saliency2signal.json"

_STATE_DICT_TAG = "saliency2signal.state_dict"
_FORMAT_VERSION = 1  # of the state-dict container


@contextlib.contextmanager
def _quiet_jit_load():
    """Silence the deprecation warning of ``torch.jit.load``, and only that one.

    PyTorch deprecated TorchScript (``torch.jit.load`` warns with a DeprecationWarning
    in torch 2.13 and a FutureWarning from 2.14 on; on Python 3.14 it says the loader
    "is not supported ... and may break"). Legacy files are still read here, read-only;
    the warning is not the user's to act on beyond the re-save advice in the docs.
    """
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings(
                "ignore",
                message=r"`torch\.jit\.load` is (deprecated|not supported)",
                category=category,
            )
        yield


# =========================================================================== loaded model
class _ExportedModule(nn.Module):
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

    def train(self, mode: bool = True) -> _ExportedModule:
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
    format : {'state_dict', 'export', 'torchscript', 'pickle'}
        The file's format (see :data:`FORMAT_DESCRIPTIONS`; ``'torchscript'``: a legacy
        file, read-only; ``'pickle'``: a container holding a pickled module, loaded
        with ``trust=True``).
    path : pathlib.Path
    """

    model: nn.Module
    metadata: ModelMetadata
    format: str
    path: pathlib.Path

    def __iter__(self) -> Iterator:
        """Yield ``model`` then ``metadata``."""
        return iter((self.model, self.metadata))


# =========================================================================== save
def _probe(model: nn.Module, metadata: ModelMetadata, where: str) -> None:
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
        _probe(model, metadata, f"cannot save to {str(path)!r}")
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


def _example(metadata: ModelMetadata, model: nn.Module, batch: int) -> torch.Tensor:
    param = next(iter(model.parameters()), None)
    kw = {} if param is None else {"dtype": param.dtype, "device": param.device}
    return torch.zeros(batch, *metadata.input_shape, **kw)


def _to_export(model: nn.Module, metadata: ModelMetadata):
    if isinstance(model, _ExportedModule):
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
            model, (_example(metadata, model, 2),), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},)
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
        "format": _STATE_DICT_TAG,
        "format_version": _FORMAT_VERSION,
        "metadata": text,
        "state_dict": state,
    }


# =========================================================================== load
_REFUSAL = (
    "refusing to unpickle {path!r}: it holds Python objects other than tensors and plain "
    "containers ({why}), and unpickling them can run arbitrary code. If you made this "
    "file, re-save the model with saliency2signal.io.save_model (format='state_dict' "
    "or 'export'); pass trust=True only for files from a source you trust."
)


@contextlib.contextmanager
def _forced_weights_only():
    """Make every ``torch.load`` in the block weights-only, whatever its caller asks.

    ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` is torch's own switch (read at every
    ``torch.load`` call); ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``, which would conflict with
    it, is lifted for the block. Both are restored afterwards.
    """
    keys = ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ[keys[0]] = "1"
    os.environ.pop(keys[1], None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_members(path: pathlib.Path) -> list[str]:
    """Refuse a zip archive that could be read two ways or that inflates; return its names.

    Only the archive's directory is read, no member.
    """
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name in seen:
            raise ValueError(
                f"{str(path)!r} holds the member {name!r} twice (a crafted or "
                "corrupt archive: readers differ on which copy they take)"
            )
        seen.add(name)
        if name.startswith("/") or "\\" in name or "\x00" in name or ".." in name.split("/"):
            raise ValueError(f"{str(path)!r} holds a member with a suspicious name {name!r}")
        # torch writes its archives uncompressed: only a crafted file inflates
        limits.check_inflation(
            info.file_size, info.compress_size, what=f"{str(path)!r}: member {name!r}"
        )
        if name.rsplit("/", 1)[-1] == METADATA_FILENAME:
            limits.check(
                "max_metadata_bytes", info.file_size, what=f"{str(path)!r}: the metadata block"
            )
    return [info.filename for info in infos]


def _detect(path: pathlib.Path) -> str:
    """Return 'torchscript', 'export', 'torch_save' or 'legacy' (non-zip pickle)."""
    if not zipfile.is_zipfile(path):
        return "legacy"
    names = _check_members(path)
    parts = [n.split("/") for n in names]
    if any(p[-1] == "archive_format" for p in parts) or any(
        p[-1] == "serialized_exported_program.json" for p in parts
    ):
        return "export"
    if any(len(p) > 2 and p[1] == "code" for p in parts) or any(
        p[-1] == "constants.pkl" for p in parts
    ):
        return "torchscript"
    if any(p[-1] == "data.pkl" for p in parts):
        return "torch_save"
    raise ValueError(
        f"{str(path)!r} is a zip archive but not a TorchScript, torch.export or torch.save file"
    )


def _check_export_archive(path: pathlib.Path) -> None:
    """Refuse export archives that would make ``torch.export.load`` unpickle objects."""
    from torch.export.pt2_archive import constants as pt2

    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            base = name.split("/", 1)[-1]
            if base.endswith("_config.json") and (
                base.startswith(pt2.WEIGHTS_DIR) or base.startswith(pt2.CONSTANTS_DIR)
            ):
                config = json.loads(zf.read(name)).get("config", {})
                for key, entry in config.items():
                    if entry.get("use_pickle"):
                        raise ValueError(
                            _REFUSAL.format(path=str(path), why=f"pickled tensor {key!r}")
                        )
                    pname = str(entry.get("path_name", ""))
                    if base.startswith(pt2.CONSTANTS_DIR) and not pname.startswith(
                        pt2.TENSOR_CONSTANT_FILENAME_PREFIX
                    ):
                        raise ValueError(
                            _REFUSAL.format(
                                path=str(path), why=f"constant {key!r} is an object {pname!r}"
                            )
                        )
            elif name.endswith((".pt", ".pkl")):
                try:
                    torch.load(io.BytesIO(zf.read(name)), weights_only=True, map_location="cpu")
                except pickle.UnpicklingError as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise ValueError(
                        _REFUSAL.format(path=str(path), why=f"member {name!r}: {first[:200]}")
                    ) from None


def _corrupt(path: pathlib.Path, exc: BaseException) -> ValueError:
    return ValueError(
        f"cannot read model file {str(path)!r}: {type(exc).__name__}: "
        f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
    )


@contextlib.contextmanager
def _naming(path: pathlib.Path):
    """Prefix the ``ValueError`` of a limit check with the file it is about."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{str(path)!r}: {exc}") from None


def _parse_metadata(text, path: pathlib.Path) -> ModelMetadata:
    if not text:
        raise ValueError(
            f"{str(path)!r} has no {METADATA_FILENAME} block: it was not "
            "written by saliency2signal.io.save_model"
        )
    with _naming(path):
        limits.check("max_metadata_bytes", len(text), what="the metadata block")
    try:
        metadata = ModelMetadata.from_json(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{str(path)!r} has invalid saliency2signal metadata: {exc}") from None
    with _naming(path):  # what the file asks for, before anything of that size is built
        check_sizes(metadata.transform, metadata.imaging, metadata.n_times)
        _check_architecture(metadata)
    return metadata


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
        kind = _detect(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise _corrupt(path, exc) from None
    if kind == "torchscript":
        extra = {METADATA_FILENAME: ""}
        try:
            with _quiet_jit_load():
                model = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except Exception as exc:  # the C++ reader raises RuntimeError & co.
            raise _corrupt(path, exc) from None
        metadata = _parse_metadata(extra[METADATA_FILENAME], path)
        fmt = "torchscript"
    elif kind == "export":
        if not trust:
            try:
                _check_export_archive(path)
            except (
                OSError,
                zipfile.BadZipFile,
                RuntimeError,
                KeyError,
                json.JSONDecodeError,
            ) as exc:
                raise _corrupt(path, exc) from None
        extra = {METADATA_FILENAME: ""}
        try:
            with contextlib.nullcontext() if trust else _forced_weights_only():
                program = torch.export.load(io.BytesIO(path.read_bytes()), extra_files=extra)
        except Exception as exc:  # corrupt archive, schema mismatch, ...
            raise _corrupt(path, exc) from None
        metadata = _parse_metadata(extra[METADATA_FILENAME], path)
        with _naming(path):
            _check_exported(program)
        model = _ExportedModule(program.module()).to(device)
        fmt = "export"
    else:
        try:
            obj = torch.load(str(path), map_location=device, weights_only=not trust)
        except pickle.UnpicklingError as exc:
            if trust:
                raise _corrupt(path, exc) from None
            found = re.search(r"GLOBAL (\S+)", str(exc))
            why = f"global {found.group(1)}" if found else "see torch.load(weights_only=True)"
            raise ValueError(_REFUSAL.format(path=str(path), why=why)) from None
        except Exception as exc:  # truncated zip, bad magic number, ...
            raise _corrupt(path, exc) from None
        model, metadata, fmt = _from_container(obj, path, device)
    if rebuild and fmt != "state_dict":
        model = _rebuild(model, metadata, path, device)
    model.eval()
    _probe(model, metadata, f"{str(path)!r}")
    return LoadedModel(model=model, metadata=metadata, format=fmt, path=path)


def _from_container(obj, path: pathlib.Path, device: torch.device):
    if not isinstance(obj, dict) or obj.get("format") != _STATE_DICT_TAG:
        raise ValueError(
            f"{str(path)!r} is a torch.save file but not a saliency2signal "
            "model file (no 'format': 'saliency2signal.state_dict' entry)"
        )
    version = obj.get("format_version")
    if not isinstance(version, int) or version > _FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has format_version={version!r}; this version of "
            f"saliency2signal reads <= {_FORMAT_VERSION}"
        )
    metadata = _parse_metadata(obj.get("metadata"), path)
    if isinstance(obj.get("module"), nn.Module):  # only reachable with trust=True
        return obj["module"].to(device), metadata, "pickle"
    state = obj.get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} has no 'state_dict' entry")
    return _build_with(state, metadata, path, device), metadata, "state_dict"


def _check_architecture(metadata: ModelMetadata) -> None:
    """Check the parameters and activations a registered architecture asks for."""
    if metadata.architecture not in ARCHITECTURES:
        return
    try:
        n_params, largest = architecture_sizes(
            metadata.architecture, metadata.input_shape, **metadata.architecture_kwargs
        )
    except (ValueError, TypeError):  # malformed arguments: building them fails anyway
        return
    name = f"{metadata.architecture} {dict(metadata.architecture_kwargs)}"
    limits.check("max_parameters", n_params, what=f"{name} with {n_params} parameters")
    limits.check(
        "max_activations",
        largest,
        what=f"{name} on {metadata.input_shape} images (largest activation)",
    )


def _check_exported(program) -> None:
    """Check the parameters and the largest tensor an exported program records.

    Every node of the graph carries the shape of its output; symbolic dimensions (the
    dynamic batch) count as 1, so the largest activation is that of one image.
    """
    n_params = sum(int(t.numel()) for t in program.state_dict.values())
    largest = 0
    for node in program.graph.nodes:
        vals = node.meta.get("val")
        for v in vals if isinstance(vals, (tuple, list)) else (vals,):
            size = 1
            for d in getattr(v, "shape", ()):
                size *= d if isinstance(d, int) else 1
            largest = max(largest, size)
    limits.check(
        "max_parameters", n_params, what=f"an exported program with {n_params} parameters"
    )
    limits.check(
        "max_activations", largest, what="an exported program's largest activation for one image"
    )


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
    inner = model.module if isinstance(model, _ExportedModule) else model
    state = {k: v.detach() for k, v in inner.state_dict().items()}
    return _build_with(state, metadata, path, device)
