"""Model files a researcher made without saliency2signal: their class, their weights.

A network trained in plain PyTorch arrives as ``torch.save(model.state_dict(), path)``
(or a training checkpoint holding one), a pickled module, a ``torch.export`` archive or
a TorchScript archive, none of which say what the network sees. :func:`load_model`
reads them with a description given by the caller (a :class:`ModelMetadata`, from a
pipeline file) and, for weights alone, the network's class named by the caller:
:func:`resolve_architecture` turns ``'package.module:Class'`` or
``'path/to/nets.py:Class'`` into that class. Importing it runs the caller's code,
because the caller named it; nothing in a model file can name code to run.

Internal module of :mod:`saliency2signal.io` (:func:`resolve_architecture` is
re-exported there). May import: the standard library, torch; never the other ``io``
modules.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pathlib
import sys
from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

__all__ = [
    "CHECKPOINT_KEYS",
    "architecture_name",
    "build_network",
    "check_architecture_kwargs",
    "find_weights",
    "load_weights",
    "no_metadata",
    "resolve_architecture",
]

#: Keys under which training checkpoints commonly keep the network's state dict.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")

#: Prefixes that wrappers put before every key: ``nn.DataParallel`` /
#: ``DistributedDataParallel`` and ``torch.compile``.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")

_FORMS = "'package.module:Class' or 'path/to/file.py:Class'"


def resolve_architecture(reference) -> Callable[..., nn.Module]:
    """Return the network class (or factory) that an import reference names.

    Parameters
    ----------
    reference : str or callable
        ``'package.module:Class'`` (imported with :func:`importlib.import_module`; the
        package must be on the Python path) or ``'path/to/file.py:Class'`` (a file,
        relative to the working directory, imported under a private module name).
        After the colon, a dotted attribute path (``'nets:Zoo.small'``). A callable
        (a class, a function returning a module) is returned unchanged.

    Returns
    -------
    callable
        Called with the constructor arguments, it must return a ``torch.nn.Module``.

    Raises
    ------
    ValueError
        A reference without a colon, a module or file that does not exist, a missing
        attribute, an attribute that is not callable, or an exception raised while
        importing the module (its type and message in one line, naming the reference).
    TypeError
        ``reference`` is neither a string nor callable.

    Notes
    -----
    Resolving a reference imports the module it names, which runs that module's code:
    this is the caller's own code, run because the caller named it. A file imported
    by path is registered in :data:`sys.modules` under a private name (so dataclasses
    and pickling inside it work) and is imported again at every call; while it runs,
    its folder is on :data:`sys.path`, so that it can import modules beside it.

    Examples
    --------
    >>> resolve_architecture("saliency2signal.models:ScalogramCNN").__name__
    'ScalogramCNN'
    >>> resolve_architecture("nets")
    Traceback (most recent call last):
    ...
    ValueError: architecture='nets' must be 'package.module:Class' or 'path/to/file.py:Class'
    """
    if not isinstance(reference, str):
        if callable(reference):
            return reference
        raise TypeError(
            f"architecture must be a class, a callable or an import reference ({_FORMS}), "
            f"got {type(reference).__name__}"
        )
    target, colon, attribute = reference.rpartition(":")
    if not colon or not target.strip() or not attribute.strip():
        raise ValueError(f"architecture={reference!r} must be {_FORMS}")
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _import_file(reference, pathlib.Path(target))
    else:
        module = _import_module(reference, target)
    obj = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(
                f"architecture={reference!r}: {target} has no attribute {attribute!r}"
            ) from None
    if not callable(obj):
        raise ValueError(
            f"architecture={reference!r} names a {type(obj).__name__}, not a class or "
            "function that builds the network"
        )
    return obj


def _import_module(reference: str, target: str):
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise ValueError(
                f"architecture={reference!r}: no module named {exc.name!r} (is its folder "
                "on the Python path, e.g. PYTHONPATH? or give the file: "
                "'path/to/file.py:Class')"
            ) from None
        raise _import_failed(reference, exc) from exc
    except (Exception, SystemExit) as exc:  # the user's module raised while imported
        raise _import_failed(reference, exc) from exc


def _import_file(reference: str, file: pathlib.Path):
    file = file.expanduser()
    if not file.is_file():
        raise ValueError(f"architecture={reference!r}: no such file {str(file)!r}")
    resolved = file.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
    name = f"_saliency2signal_user_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ValueError(f"architecture={reference!r}: {str(file)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses and pickle look the module up by name
    folder = str(resolved.parent)
    added = folder not in sys.path
    if added:  # its siblings import as they would when running a script there
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise _import_failed(reference, exc) from exc
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    return module


def _import_failed(reference: str, exc: BaseException) -> ValueError:
    return ValueError(f"architecture={reference!r}: importing it raised {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def architecture_name(architecture, kwargs: Mapping | None = None) -> str:
    """Word an architecture (reference or object) and its arguments for messages."""
    if isinstance(architecture, str):
        name = architecture
    else:
        module = getattr(architecture, "__module__", None)
        qualname = getattr(architecture, "__qualname__", type(architecture).__name__)
        name = f"{module}:{qualname}" if module else qualname
    if kwargs is None:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def check_architecture_kwargs(kwargs) -> dict:
    """Return the constructor arguments as a dict with string keys (``None``: none)."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"architecture_kwargs must be a mapping, got {type(kwargs).__name__}")
    bad = [k for k in kwargs if not isinstance(k, str)]
    if bad:
        raise TypeError(f"architecture_kwargs keys must be strings, got {bad[0]!r}")
    return dict(kwargs)


def build_network(architecture, kwargs: Mapping, *, where: str, name: str) -> nn.Module:
    """Call ``architecture(**kwargs)``; it must return a ``torch.nn.Module``."""
    try:
        model = architecture(**kwargs)
    except Exception as exc:  # the user's constructor: wrong arguments, or its own bug
        raise ValueError(f"{where}: building the network {name} failed: {_one_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"{where}: architecture {name} returned a {type(model).__name__}, not a "
            "torch.nn.Module"
        )
    return model


def _is_state_dict(obj) -> bool:
    return (
        isinstance(obj, dict)
        and len(obj) > 0
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def find_weights(obj, *, where: str) -> tuple[str, object] | None:
    """Find the network in a ``torch.save`` object that saliency2signal did not write.

    Returns ``('state_dict', state)`` for a state dict (``str -> Tensor``), at the top
    level or as the one state dict under :data:`CHECKPOINT_KEYS` of a training
    checkpoint, with a wrapper's uniform key prefix removed; ``('module', module)``
    for a pickled module (top level or under one of those keys; only reachable with
    ``trust=True``); ``None`` when there is neither.
    """
    if isinstance(obj, nn.Module):
        return "module", obj
    if _is_state_dict(obj):
        return "state_dict", _strip_prefixes(obj)
    if not isinstance(obj, dict):
        return None
    found = [
        k
        for k in CHECKPOINT_KEYS
        if k in obj and (_is_state_dict(obj[k]) or isinstance(obj[k], nn.Module))
    ]
    if len(found) > 1:
        raise ValueError(
            f"{where} is a checkpoint with several networks (keys {found}); save the one "
            "to explain alone: torch.save(checkpoint[key], path)"
        )
    if not found:
        return None
    value = obj[found[0]]
    if isinstance(value, nn.Module):
        return "module", value
    return "state_dict", _strip_prefixes(value)


def _strip_prefixes(state: dict) -> dict:
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            consume_prefix_in_state_dict_if_present(state, prefix)  # also its _metadata
    return state


def load_weights(model: nn.Module, state: Mapping, *, where: str, name: str) -> nn.Module:
    """Copy ``state`` into ``model`` (strict), naming a few keys that do not fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} in the file vs {tuple(own[k].shape)} in the network"
        for k in own
        if k in state
        and isinstance(own[k], torch.Tensor)
        and isinstance(state[k], torch.Tensor)
        and state[k].shape != own[k].shape
    ]
    problems = []
    if shapes:
        problems.append(f"shapes differ: {_few(shapes)}")
    if missing:
        problems.append(f"missing from the file: {_few(missing)}")
    if unexpected:
        problems.append(f"not in the network: {_few(unexpected)}")
    if problems:
        raise ValueError(f"{where}: the weights do not fit {name}: {'; '.join(problems)}")
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # dtype or extra-state trouble the checks above miss
        raise ValueError(f"{where}: the weights do not fit {name}: {_one_line(exc)}") from None
    return model


def _few(items: list[str], n: int = 3) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def no_metadata(where: str, block: str | None = None) -> ValueError:
    """Return the error for a file that does not say what its network sees."""
    missing = f" (no {block} block)" if block else ""
    return ValueError(
        f"{where} has no saliency2signal metadata{missing}: describe what the model sees "
        "with a pipeline file (metadata=..., CLI --pipeline pipeline.toml)"
    )
