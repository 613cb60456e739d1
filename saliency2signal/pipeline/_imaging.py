"""Ordered imaging steps as the explanation core's imaging: :class:`ImagingSteps`.

The core (saliency, forward passes, faithfulness, explanations) asks an imaging three
things: the image of a magnitude (differentiably), the image's shape for a grid, and the
adjoint of its geometry (to carry a heatmap on image pixels back onto the grid).
:class:`~saliency2signal.imaging.ImagingConfig` answers them for the bundled models;
:class:`ImagingSteps` answers them for any ordered list of steps, such as a pipeline file
describes.

Internal to :mod:`saliency2signal.pipeline`, which re-exports :class:`ImagingSteps`.
May import: torch, ``._steps``, ``._apply``, ``.._grid``, ``.._validation``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from .._grid import adjoint
from .._validation import as_tensor, check_instance
from ._apply import apply_steps, continue_steps
from ._steps import (
    ChannelMeanStd,
    Channels,
    Colormap,
    Crop,
    FlipRows,
    Pad,
    QuantizeUint8,
    Resize,
    Step,
    as_steps,
)

__all__ = ["ImagingSteps"]

#: Steps that move pixels (linear maps of the grid); the others change values or channels.
GEOMETRIC = (Resize, FlipRows, Crop, Pad)


@dataclass(frozen=True)
class ImagingSteps:
    """Imaging by ordered steps, usable wherever an ``ImagingConfig`` is.

    Parameters
    ----------
    steps : sequence of Step or dict
        Applied in order to ``|Tx|`` with the lowest frequency in row 0 (a pipeline whose
        ``row_order`` is ``'ssqueezepy'`` starts with a :class:`FlipRows`).

    Examples
    --------
    >>> import torch
    >>> from saliency2signal.pipeline import Log1p, MinMax, Resize, FlipRows, Colormap
    >>> imaging = ImagingSteps([FlipRows(), Log1p(), Resize(size=(32, 48)), MinMax(),
    ...                         Colormap(name="viridis")])
    >>> imaging.image_shape((60, 256))
    (3, 32, 48)
    >>> imaging(torch.rand(2, 60, 256)).shape
    torch.Size([2, 3, 32, 48])
    >>> ImagingSteps.from_dict(imaging.to_dict()) == imaging
    True
    """

    steps: tuple[Step, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "steps", as_steps(self.steps))

    # ----------------------------------------------------------------- images
    def __call__(self, magnitude) -> torch.Tensor:
        """Images ``(..., C, H, W)`` of magnitudes ``(..., F, N)`` (see :func:`apply_steps`)."""
        return apply_steps(magnitude, self.steps)

    def image_shape(self, grid_shape) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the image of a ``(n_freqs, n_times)`` grid.

        Raises
        ------
        ValueError
            If a step does not fit the image it would receive (a crop beyond it, a
            colormap of several channels, per-channel statistics for other channels).
        """
        f, n = (int(v) for v in grid_shape)
        c, h, w = 1, f, n
        for i, step in enumerate(self.steps):
            where = f"steps[{i}] ({step.kind})"
            if isinstance(step, Resize):
                h, w = step.size
            elif isinstance(step, Crop):
                if step.top + step.height > h or step.left + step.width > w:
                    raise ValueError(
                        f"{where}: rows {step.top}:{step.top + step.height} and columns "
                        f"{step.left}:{step.left + step.width} are beyond the {h} x {w} image"
                    )
                h, w = step.height, step.width
            elif isinstance(step, Pad):
                h, w = h + step.top + step.bottom, w + step.left + step.right
            elif isinstance(step, (Colormap, Channels)):
                if c != 1:
                    raise ValueError(f"{where} needs a single-channel image, got {c} channels")
                c = 3 if isinstance(step, Colormap) else step.n_channels
            elif isinstance(step, ChannelMeanStd) and step.n_channels != c:
                raise ValueError(
                    f"{where} has statistics for {step.n_channels} channels; the image has {c}"
                )
        return c, h, w

    def pull_back(self, heatmap, grid_shape) -> torch.Tensor:
        """Carry ``(..., H, W)`` pixel values onto the ``(F, N)`` grid by the adjoint geometry.

        The geometric steps (resize, flip, crop, pad) are linear maps of the grid; their
        transpose applied to the heatmap is the exact chain rule, as for
        :func:`~saliency2signal.imaging.pull_back`. Value and channel steps are skipped
        (the heatmap is per pixel, summed over channels).
        """
        h = as_tensor(heatmap, name="heatmap")
        f, n = (int(v) for v in grid_shape)
        geometry = [s for s in self.steps if isinstance(s, GEOMETRIC)]
        dtype = h.dtype if h.dtype.is_floating_point else torch.get_default_dtype()
        flat = h.reshape(-1, 1, *h.shape[-2:]).to(dtype)
        grid = adjoint(lambda v: continue_steps(v, geometry), flat, (f, n))
        return grid.reshape(*h.shape[:-2], f, n)

    @property
    def quantizes(self) -> bool:
        """Whether a step quantises to 8 bits (the image was saved as a PNG, say)."""
        return any(isinstance(s, QuantizeUint8) for s in self.steps)

    # ----------------------------------------------------------------- records
    def to_dict(self) -> dict:
        """Return ``{"steps": [step dictionaries]}`` (JSON-compatible)."""
        return {"steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, record) -> ImagingSteps:
        """Inverse of :meth:`to_dict`; other keys raise ``ValueError``."""
        check_instance(record, dict, "imaging record")
        unknown = sorted(set(record) - {"steps"})
        if unknown:
            raise ValueError(f"unknown ImagingSteps field(s) {unknown}")
        steps = record.get("steps", [])
        if not isinstance(steps, list):
            raise TypeError(
                f"steps must be a list of step dictionaries, got {type(steps).__name__}"
            )
        return cls(tuple(steps))

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True)
