"""The arguments of :func:`~saliency2signal.explain` and of its siblings, checked and resolved.

Signals (cast, length policy), the task, the reference, the x axis, class names and
targets: what :func:`~saliency2signal.explain` and
:func:`~saliency2signal.explanation.map_heatmaps` both resolve before the batches run.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, torch, ``_validation``, ``forward``, ``imaging``, ``metadata``,
``transform`` and its sibling ``_core``; never ``_explain`` or ``_map`` (they import this).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from .._validation import as_tensor, check_axis, torch_dtype
from ..forward import probabilities
from ..imaging import ImagingConfig
from ..metadata import ModelMetadata, check_compatible, class_means, fit_length
from ..transform import MIN_LENGTH, SSQConfig
from ._core import AxisInfo

__all__ = [
    "REFERENCE_CHOICES",
    "TARGET_MODES",
    "Targets",
    "class_index",
    "class_names_for",
    "prepare_signals",
    "reference_mode",
    "resolve_axis",
    "resolve_reference",
    "resolve_regions",
    "resolve_targets",
    "task_of",
    "trained_axis",
]

TARGET_MODES = ("predicted", "label")
#: What ``reference=`` may name (else it is an array of reference signals).
REFERENCE_CHOICES = ("auto", "class_means", "zero", "mean")


def prepare_signals(
    x,
    model: torch.nn.Module | None,
    metadata: ModelMetadata | None,
    tcfg: SSQConfig,
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """Signals as ``(B, N)`` of the model's length, dtype and device; and N as given.

    Cast to the transform's dtype, else to the dtype of the model's parameters (float32
    for a model without parameters, or none: heatmaps mapped without a model).
    """
    xt = as_tensor(x, name="x")
    if xt.is_complex() or not (
        xt.dtype.is_floating_point or xt.dtype in (torch.int32, torch.int64)
    ):
        raise TypeError(f"x has dtype {xt.dtype}; expected real signals")
    if xt.ndim not in (1, 2):
        raise ValueError(
            f"x has shape {tuple(xt.shape)}; expected (n_times,) or (n_signals, n_times)"
        )
    xt = xt.reshape(-1, xt.shape[-1])
    n_given = int(xt.shape[-1])
    if metadata is not None:
        check_compatible(metadata, xt)
        xt = fit_length(xt, metadata)
    n = int(xt.shape[-1])
    if n < MIN_LENGTH:
        raise ValueError(f"x has n_times={n}; the transform needs at least {MIN_LENGTH}")
    dtype = torch_dtype(tcfg.dtype)
    if dtype is None:
        param = None if model is None else next(iter(model.parameters()), None)
        dtype = param.dtype if param is not None else torch.float32
    xt = xt.detach().to(device=device, dtype=dtype)
    if not bool(torch.isfinite(xt).all()):
        raise ValueError("x contains NaN or inf")
    return xt, n_given


def task_of(task: str | None, metadata: ModelMetadata | None) -> str:
    """Return the run's task: given, else the metadata's, else classification."""
    own = None if metadata is None else metadata.task
    if task is not None and own is not None and task != own:
        raise ValueError(f"task={task!r} differs from the model's {own!r}; leave it out")
    return task or own or "classification"


def reference_mode(reference, metadata: ModelMetadata | None) -> str:
    """Return the run's reference mode: ``'auto'`` resolved, an array as ``'given'``."""
    if not isinstance(reference, str):
        return "given"
    if reference == "auto":
        return "class_means" if class_means(metadata) is not None else "zero"
    if reference not in REFERENCE_CHOICES:
        raise ValueError(f"reference={reference!r} must be one of {REFERENCE_CHOICES} or an array")
    if reference == "class_means" and class_means(metadata) is None:
        raise ValueError(
            "reference='class_means' needs a model file that records its training class "
            "means (saliency2signal train writes them); pass reference= an array instead"
        )
    return reference


def resolve_reference(
    reference,
    xt: torch.Tensor,
    metadata: ModelMetadata | None,
    n_given: int,
    *,
    model,
    targets: Targets,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    batch_size: int,
) -> tuple[torch.Tensor | None, Targets, np.ndarray | None]:
    """Return the reference signals, the targets and each signal's foil class.

    The signals are ``(B, N)`` (``None`` for ``'zero'``); for ``'class_means'`` the
    targets are pinned to the predictions and the foils are returned.
    """
    if isinstance(reference, str):
        if reference == "zero":
            return None, targets, None
        if reference == "mean":
            return xt.mean(dim=0, keepdim=True).expand_as(xt), targets, None
        means = class_means(metadata)
        with torch.no_grad():
            p = probabilities(
                model,
                xt,
                transform_config=transform_config,
                imaging_config=imaging_config,
                batch_size=batch_size,
            )
        p = p.detach().cpu().numpy().astype(np.float64)
        per_signal = targets.per_signal
        if per_signal is None:
            per_signal = p.argmax(1)
            targets = targets._replace(per_signal=per_signal)
        rest = p.copy()
        rest[np.arange(rest.shape[0]), per_signal] = -np.inf
        foils = rest.argmax(1)
        ref = torch.from_numpy(means[foils]).to(device=xt.device, dtype=xt.dtype)
        return ref, targets, foils
    ref = as_tensor(reference, name="reference")
    if ref.ndim not in (1, 2) or ref.shape[-1] != n_given:
        raise ValueError(
            f"reference has shape {tuple(ref.shape)}; expected ({n_given},) or "
            f"({xt.shape[0]}, {n_given})"
        )
    ref = ref.reshape(-1, n_given)
    if ref.shape[0] not in (1, xt.shape[0]):
        raise ValueError(f"reference has {ref.shape[0]} signals for {xt.shape[0]}")
    if metadata is not None:
        ref = fit_length(ref, metadata)
    ref = ref.to(device=xt.device, dtype=xt.dtype)
    if not bool(torch.isfinite(ref).all()):
        raise ValueError("reference contains NaN or inf")
    return ref.expand_as(xt), targets, None


def trained_axis(metadata: ModelMetadata, n_given: int) -> np.ndarray | None:
    """Return the model's training x values (``extra['axis']``) if they fit.

    ``saliency2signal train`` records them as ``values``; a pipeline file's axis may be
    ``start`` and ``step``. They serve when no axis is given and the signals have the
    training length.
    """
    record = dict(metadata.extra or {}).get("axis")
    if not isinstance(record, dict):
        return None
    values = record.get("values")
    if values is None and record.get("start") is not None and record.get("step"):
        if n_given != metadata.n_times:
            return None
        return record["start"] + record["step"] * np.arange(n_given, dtype=np.float64)
    if values is None or len(values) != n_given:
        return None
    return np.asarray(values, dtype=np.float64)


def resolve_axis(
    axis, metadata: ModelMetadata | None, tcfg: SSQConfig, n_given: int, n: int
) -> tuple[AxisInfo, np.ndarray | None]:
    """Return the run's axis, and the x values the mask reads (``None``: samples).

    A given axis is cropped or extended (at its last step) with the signals; with
    metadata and no axis, the x values the model was trained with (when recorded and
    of the signals' length), else ``tcfg.times(n)`` in the metadata's units.
    """
    values = None
    if axis is None and metadata is not None:
        axis = trained_axis(metadata, n_given)
    if axis is not None:
        values = check_axis(axis, n_given)
        if n <= n_given:
            values = values[:n]
        else:
            step = (values[-1] - values[0]) / (n_given - 1)
            values = np.concatenate([values, values[-1] + step * np.arange(1, n - n_given + 1)])
    if metadata is not None:
        name, units = metadata.axis_name, metadata.axis_units
        if values is None:
            values = tcfg.times(n)
    elif values is not None:
        name, units = "x", "axis units"
    else:
        name, units = "sample", "samples"
    shown = np.arange(n, dtype=np.float64) if values is None else values
    return AxisInfo(values=shown, name=name, units=units), values


def class_names_for(names: Sequence[str] | None, n_classes: int) -> tuple[str, ...]:
    if names is None:
        names = tuple(f"class {i}" for i in range(n_classes))
    if len(names) != n_classes:
        raise ValueError(
            f"class_names has {len(names)} names but the model outputs {n_classes} classes"
        )
    return tuple(names)


class Targets(NamedTuple):
    """How the explained classes were chosen, the given labels, the class per signal."""

    mode: str
    given: np.ndarray | None
    per_signal: np.ndarray | None  # None: each signal's predicted class


def resolve_targets(target, labels, names: Sequence[str], n_classes: int, n_b: int) -> Targets:
    given = None
    if labels is not None:
        given = class_index(labels, names, n_classes, "labels").reshape(-1)
        if given.shape[0] != n_b:
            raise ValueError(f"labels has {given.shape[0]} entries for {n_b} signals")
    if isinstance(target, str):
        if target not in TARGET_MODES:
            raise ValueError(f"target={target!r} must be one of {TARGET_MODES} or class indices")
        if target == "label" and given is None:
            raise ValueError("target='label' needs labels=")
        return Targets(target, given, given if target == "label" else None)
    if isinstance(target, (bool, float)):
        raise TypeError(f"target={target!r} must be an int, class indices or a mode")
    per_signal = class_index(target, names, n_classes, "target")
    if np.ndim(target) == 0:
        per_signal = np.broadcast_to(per_signal, (n_b,)).copy()
    per_signal = per_signal.reshape(-1)
    if per_signal.shape[0] != n_b:
        raise ValueError(f"target has {per_signal.shape[0]} entries for {n_b} signals")
    return Targets("fixed", given, per_signal)


def class_index(v, class_names: Sequence[str], n_classes: int, name: str) -> np.ndarray:
    """Labels or targets as class indices (ints or class names)."""
    arr = np.asarray(v)
    if arr.dtype.kind in "US":
        lookup = {n: i for i, n in enumerate(class_names)}
        bad = [s for s in arr.ravel().tolist() if s not in lookup]
        if bad:
            raise ValueError(
                f"{name} holds {bad[0]!r}, not one of the classes {tuple(class_names)}"
            )
        return np.vectorize(lookup.__getitem__, otypes=[np.int64])(arr)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected class indices or names")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad_v = int(arr.min() if arr.min() < 0 else arr.max())
        raise ValueError(f"{name}={bad_v} is out of range for a model with {n_classes} classes")
    return arr


def resolve_regions(regions, n_b: int, grid_shape: tuple[int, int], config: SSQConfig, settings):
    """Drawn regions as ``(B, F, N)`` label images (or ``None``), and the run's settings.

    With drawn regions every one is kept and described: ``max_regions`` is raised to
    the most regions of any label image and ``min_share`` set to 0.

    ``regions`` is a label image ``(F, N)`` (the same regions for every signal) or
    ``(B, F, N)``, integers with 0 as background, or a mask read by
    :func:`saliency2signal.drawing.load_mask` (whose recorded transform must be
    ``config``).
    """
    if regions is None:
        return None, settings
    if getattr(regions, "plane", "ssq") != "ssq":
        raise ValueError(
            f"the regions were drawn on the {regions.plane!r} plane; explain's regions lie on "
            "the synchrosqueezed plane (draw them there: saliency2signal draw --plane ssq)"
        )
    recorded = getattr(regions, "config", None)
    if recorded is not None and recorded != config:
        raise ValueError(
            f"the regions were drawn on another transform ({recorded}); this run's is {config}"
        )
    labels = np.asarray(getattr(regions, "labels", regions))
    if labels.dtype.kind not in "iub":
        raise TypeError(f"regions have dtype {labels.dtype}; expected integer labels (0 = none)")
    if labels.shape[-2:] != tuple(grid_shape) or labels.ndim not in (2, 3):
        raise ValueError(
            f"regions have shape {labels.shape}; expected {tuple(grid_shape)} or "
            f"({n_b}, {grid_shape[0]}, {grid_shape[1]}) on this transform's grid"
        )
    if labels.ndim == 3 and labels.shape[0] != n_b:
        raise ValueError(f"regions hold {labels.shape[0]} label images for {n_b} signals")
    if labels.dtype.kind == "b":
        labels = labels.astype(np.uint8)
    if labels.size and labels.min() < 0:
        raise ValueError(f"regions have negative labels (min {labels.min()})")
    maps = labels.reshape(-1, *grid_shape)  # one image for all signals is counted once
    n_drawn = max((int(np.count_nonzero(np.unique(m))) for m in maps), default=0)
    settings = dataclasses.replace(
        settings, max_regions=max(settings.max_regions, n_drawn), min_share=0.0
    )
    return np.broadcast_to(labels, (n_b, *grid_shape)), settings
