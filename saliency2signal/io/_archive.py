"""Reading files nobody vouched for: archive checks before any reader opens them.

Duplicate or escaping member names, inflation bombs, oversized metadata, pickled weights
or sample inputs in export archives, and sizes beyond :mod:`saliency2signal.limits` are
refused here, before torch's loaders see the file.

Internal: plain names, not public API. May import: torch, ``saliency2signal.limits``,
``.metadata``, ``.models`` (architecture sizes), ``._formats``; never ``._save`` or
``._load``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import pickle
import warnings
import zipfile

import torch

from .. import limits
from ..metadata import ModelMetadata, check_sizes
from ..models import ARCHITECTURES, architecture_sizes
from ._formats import (
    METADATA_FILENAME,
)

__all__ = [
    "REFUSAL",
    "check_export_archive",
    "check_members",
    "check_exported",
    "corrupt",
    "detect",
    "forced_weights_only",
    "naming",
    "parse_metadata",
    "quiet_jit_load",
]


@contextlib.contextmanager
def quiet_jit_load():
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


REFUSAL = (
    "refusing to unpickle {path!r}: it holds Python objects other than tensors and plain "
    "containers ({why}), and unpickling them can run arbitrary code. If you made this "
    "file, save the weights alone (torch.save(model.state_dict(), path), loaded with "
    "architecture='module:Class', CLI --arch) or re-save the model with "
    "saliency2signal.io.save_model; pass trust=True only for files from a source you "
    "trust (CLI --trust)."
)


@contextlib.contextmanager
def forced_weights_only():
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


def check_members(path: pathlib.Path) -> list[str]:
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


def detect(path: pathlib.Path) -> str:
    """Return 'torchscript', 'export', 'torch_save' or 'legacy' (non-zip pickle)."""
    if not zipfile.is_zipfile(path):
        return "legacy"
    names = check_members(path)
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


def check_export_archive(path: pathlib.Path) -> None:
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
                            REFUSAL.format(path=str(path), why=f"pickled tensor {key!r}")
                        )
                    pname = str(entry.get("path_name", ""))
                    if base.startswith(pt2.CONSTANTS_DIR) and not pname.startswith(
                        pt2.TENSOR_CONSTANT_FILENAME_PREFIX
                    ):
                        raise ValueError(
                            REFUSAL.format(
                                path=str(path), why=f"constant {key!r} is an object {pname!r}"
                            )
                        )
            elif name.endswith((".pt", ".pkl")):
                try:
                    torch.load(io.BytesIO(zf.read(name)), weights_only=True, map_location="cpu")
                except pickle.UnpicklingError as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise ValueError(
                        REFUSAL.format(path=str(path), why=f"member {name!r}: {first[:200]}")
                    ) from None


def corrupt(path: pathlib.Path, exc: BaseException) -> ValueError:
    return ValueError(
        f"cannot read model file {str(path)!r}: {type(exc).__name__}: "
        f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
    )


@contextlib.contextmanager
def naming(path: pathlib.Path):
    """Prefix the ``ValueError`` of a limit check with the file it is about."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{str(path)!r}: {exc}") from None


def parse_metadata(text, path: pathlib.Path) -> ModelMetadata:
    if not text:
        raise ValueError(
            f"{str(path)!r} has no {METADATA_FILENAME} block: it was not "
            "written by saliency2signal.io.save_model"
        )
    with naming(path):
        limits.check("max_metadata_bytes", len(text), what="the metadata block")
    try:
        metadata = ModelMetadata.from_json(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{str(path)!r} has invalid saliency2signal metadata: {exc}") from None
    with naming(path):  # what the file asks for, before anything of that size is built
        check_sizes(metadata.transform, metadata.imaging, metadata.n_times)
        _check_architecture(metadata)
    return metadata


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


def check_exported(program) -> None:
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
