"""What the options of the attribution methods mean on the transform's grid.

Each helper turns one user-facing option of :func:`~saliency2signal.saliency.attribute`
into what Captum is handed, on the ``(B, n_freqs, n_times)`` grid of ``|Tx|``:

- :func:`grid_baselines` and :func:`shap_baselines`: the reference magnitude (a number
  or a map broadcast over the batch; a distribution of maps for GradientShap);
- :func:`has_negative`: whether a baseline holds a negative magnitude (the forward
  function then clamps at 0);
- :func:`feature_labels`: region labels numbered ``0 .. R-1``, one map per signal;
- :func:`window`: an occlusion window or stride given as ``(octaves, samples)`` in grid
  rows and columns;
- :func:`find_layer`: a layer of the model, by name or as the module itself.

Internal to ``saliency``: plain names for its sibling modules, not public API.
May import: numpy, torch, ``saliency2signal._validation``; never another ``saliency``
module (they import this).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import as_tensor, check_real

__all__ = [
    "feature_labels",
    "find_layer",
    "grid_baselines",
    "grid_tensor",
    "has_negative",
    "shap_baselines",
    "window",
]


def grid_tensor(
    value, batch_shape: tuple, grid: tuple, *, ref: torch.Tensor, name: str
) -> torch.Tensor:
    """Broadcast an array of shape ``(..., F, N)`` to ``(B, F, N)`` on ``ref``'s device."""
    t = as_tensor(value, name=name)
    if t.ndim < 2 or tuple(t.shape[-2:]) != tuple(grid):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}; expected (..., {grid[0]}, {grid[1]}) on the "
            "grid of Tx"
        )
    try:
        t = torch.broadcast_to(t, (*batch_shape, *grid))
    except RuntimeError:
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}, which does not broadcast to the batch "
            f"{(*batch_shape, *grid)}"
        ) from None
    return t.reshape(math.prod(batch_shape), *grid).to(device=ref.device)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def grid_baselines(baselines, batch_shape: tuple, ref: torch.Tensor):
    """Return the reference of a path or perturbation method: a float or a ``(B, F, N)`` map.

    ``None`` is silence (0.0); a map broadcasts over the batch and takes ``ref``'s dtype.
    """
    if baselines is None:
        return 0.0
    if _is_number(baselines):
        return float(baselines)
    grid = tuple(ref.shape[-2:])
    return grid_tensor(baselines, batch_shape, grid, ref=ref, name="baselines").to(ref.dtype)


def shap_baselines(baselines, ref: torch.Tensor) -> torch.Tensor:
    """GradientShap draws from a distribution of baselines: ``(n_baselines, F, N)``."""
    grid = tuple(ref.shape[-2:])
    if baselines is None:
        return torch.zeros((1, *grid), dtype=ref.dtype, device=ref.device)
    if _is_number(baselines):
        return torch.full((1, *grid), float(baselines), dtype=ref.dtype, device=ref.device)
    t = as_tensor(baselines, name="baselines").to(device=ref.device, dtype=ref.dtype)
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or tuple(t.shape[-2:]) != grid:
        raise ValueError(
            f"baselines has shape {tuple(t.shape)}; gradient_shap expects a distribution "
            f"of shape (n_baselines, {grid[0]}, {grid[1]})"
        )
    return t


def has_negative(baselines) -> bool:
    """Whether a baseline (number or array) holds a negative value."""
    if baselines is None:
        return False
    if _is_number(baselines):
        return baselines < 0
    return bool((as_tensor(baselines, name="baselines") < 0).any())


def feature_labels(labels, batch_shape: tuple, ref: torch.Tensor) -> torch.Tensor:
    """Integer region labels (or an ``AttributionMask``) as ``(B, F, N)`` features ``0..R-1``."""
    labels = getattr(labels, "labels", labels)  # an AttributionMask works
    t = as_tensor(labels, name="feature_mask")
    if t.dtype.is_floating_point or t.is_complex():
        raise TypeError(f"feature_mask has dtype {t.dtype}; expected integer labels")
    t = grid_tensor(
        t.to(torch.int64), batch_shape, tuple(ref.shape[-2:]), ref=ref, name="feature_mask"
    )
    # Captum wants features numbered 0..R-1 without gaps; the numbering does not change
    # the result (each cell gets its region's score).
    _, inverse = torch.unique(t, return_inverse=True)
    return inverse.reshape(t.shape)


def _rows_per_octave(freqs: np.ndarray) -> float:
    f = np.asarray(freqs, dtype=np.float64)
    f = f[f > 0]
    return (len(f) - 1) / math.log2(f[-1] / f[0])


def window(value, freqs: np.ndarray, n_times: int, *, name: str) -> tuple[int, int]:
    """``(octaves, samples)`` -> ``(rows, columns)`` on the grid, each at least 1."""
    try:
        octaves, samples = value
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be a pair (octaves, samples)") from None
    octaves = check_real(octaves, f"{name}[0]", low=0, low_open=True)
    samples = check_real(samples, f"{name}[1]", low=0, low_open=True)
    rows = int(np.clip(round(octaves * _rows_per_octave(freqs)), 1, len(freqs)))
    cols = int(np.clip(round(samples), 1, n_times))
    return rows, cols


def find_layer(model: torch.nn.Module, layer) -> torch.nn.Module:
    """Return the submodule ``layer`` of ``model``: its name or the module itself."""
    if layer is None:
        raise ValueError("layer=None: layer_gradcam and guided_gradcam need layer= (a name)")
    if isinstance(layer, torch.nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"layer={layer!r} is not a submodule of the model")
        return layer
    if not isinstance(layer, str):
        raise TypeError(f"layer={layer!r} must be a submodule name (str) or a module")
    names = dict(model.named_modules())
    if layer not in names or layer == "":
        shown = [n for n in names if n][:12]
        raise ValueError(f"layer={layer!r} is not a submodule of the model; names: {shown}")
    return names[layer]
