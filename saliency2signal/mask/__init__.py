"""From an attribution map to cleaned, labelled regions of the time-frequency plane.

An attribution map ``A`` of shape ``(..., n_freqs, n_times)`` (lowest frequency in row
0, the grid of an :class:`~saliency2signal.SSQConfig`) is turned into a selection of
cells in four steps, each a keyword of :func:`attribution_mask`:

1. **sign** -- which evidence counts: ``'positive'`` (for the target, the default),
   ``'negative'`` (against it) or ``'absolute'``. The result is a non-negative map ``P``;
   its sum is the *total mass* of the map.
2. **threshold** -- ``'mass'`` (the smallest set of cells holding a fraction of the total
   mass, the default), ``'quantile'``, ``'otsu'`` or ``'absolute'``, per 2-D map.
3. **cleaning** in physical units -- closing, hole filling, minimum area (cells), minimum
   duration (samples or x-axis units) and minimum bandwidth (octaves).
4. **labelling** -- connected regions, each described by a JSON-serialisable
   :class:`Region` (extent, frequency band, matching peak width, mass, energy), ordered
   by attribution mass.

Masks made elsewhere (hand-drawn with :mod:`saliency2signal.drawing`, ridge bands from
:func:`saliency2signal.ridges.ridge_band`) are checked against the grid with
:func:`validate_mask`.

All functions accept NumPy arrays or torch tensors and return NumPy arrays.

Layout: ``_threshold`` (steps 1-2), ``_morphology`` (scikit-image shim and the binary
closing), ``_core`` (step 3 and the pipeline), ``_regions`` (step 4 and the result
classes), ``_checks`` (grid checks and :func:`validate_mask`). This ``__init__`` only
re-exports.

May import: numpy, scipy.ndimage and scikit-image (lazily), ``saliency2signal._grid``,
``._validation`` and ``.transform``; never ``drawing``, ``ridges``, ``saliency`` or the
explanation stages.
"""

from __future__ import annotations

from ._checks import validate_mask
from ._core import attribution_mask, clean_mask
from ._regions import AttributionMask, Region, label_regions
from ._threshold import SIGNS, THRESHOLDS, signed_attribution, threshold_map

__all__ = [
    "SIGNS",
    "THRESHOLDS",
    "Region",
    "AttributionMask",
    "signed_attribution",
    "threshold_map",
    "clean_mask",
    "label_regions",
    "attribution_mask",
    "validate_mask",
]
