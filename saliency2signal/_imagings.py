"""The three kinds of imaging the core accepts, behind one small interface.

An imaging turns the coefficient magnitude ``(B, F, N)`` into the model's input
``(B, C, H, W)``, differentiably. It may be

- an :class:`~saliency2signal.imaging.ImagingConfig` (the bundled models' imaging);
- an :class:`~saliency2signal.pipeline.ImagingSteps` (ordered steps, e.g. from a
  researcher's ``pipeline.toml``);
- any callable ``magnitude (B, F, N) -> image (B, C, H, W)`` made of torch operations
  (the user's own imaging function). Its geometry is unknown, so heatmaps on image
  pixels (Grad-CAM) cannot be carried back to the grid; gradient and perturbation
  methods work.

Internal: plain names. May import: torch, ``.imaging``, ``.pipeline``, ``._validation``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .imaging import ImagingConfig
from .pipeline import ImagingSteps

__all__ = ["KINDS", "check_imaging", "image_shape", "imaging_record", "imaging_from_record"]

KINDS = "an ImagingConfig, an ImagingSteps or a callable magnitude (B, F, N) -> image (B, C, H, W)"


def check_imaging(imaging, name: str = "imaging_config"):
    """Return ``imaging`` if it is one of the accepted kinds, else raise ``TypeError``."""
    if isinstance(imaging, (ImagingConfig, ImagingSteps)) or callable(imaging):
        return imaging
    raise TypeError(f"{name} must be {KINDS}, got {type(imaging).__name__}")


def call_imaging(imaging: Callable, v: torch.Tensor) -> torch.Tensor:
    """Run an imaging callable on ``(B, F, N)`` and check it returns ``(B, C, H, W)``."""
    img = imaging(v)
    if not isinstance(img, torch.Tensor) or img.ndim != 4 or img.shape[0] != v.shape[0]:
        shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
        raise ValueError(
            f"the imaging callable {_name(imaging)} returned {shape} for magnitudes of shape "
            f"{tuple(v.shape)}; it must return images (B, C, H, W) with B = {v.shape[0]}"
        )
    return img


def image_shape(imaging, grid_shape) -> tuple[int, int, int]:
    """``(channels, height, width)`` of the image of one ``(n_freqs, n_times)`` grid."""
    f, n = (int(v) for v in grid_shape)
    if isinstance(imaging, ImagingConfig):
        return (imaging.n_channels, *(imaging.size or (f, n)))
    if isinstance(imaging, ImagingSteps):
        return imaging.image_shape((f, n))
    with torch.no_grad():
        return tuple(call_imaging(imaging, torch.zeros(1, f, n)).shape[1:])


def imaging_record(imaging) -> dict:
    """Describe the imaging as JSON-compatible data (a callable by its name only)."""
    if isinstance(imaging, (ImagingConfig, ImagingSteps)):
        return imaging.to_dict()
    return {"callable": _name(imaging)}


def imaging_from_record(record) -> ImagingConfig | ImagingSteps:
    """Inverse of :func:`imaging_record` for configs and steps (``steps`` key: steps)."""
    if isinstance(record, dict) and "steps" in record:
        return ImagingSteps.from_dict(record)
    if isinstance(record, dict) and "callable" in record:
        raise ValueError(
            f"the imaging was the callable {record['callable']}, which a file cannot hold; "
            "pass it again"
        )
    return ImagingConfig.from_dict(record)


def _name(fn) -> str:
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{name}"
