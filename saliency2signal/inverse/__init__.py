"""From selected regions of a time-frequency plane back to signals.

Three things live here:

* :func:`components` - one 1D component per region, by the masked one-integral inverse of
  ``Tx`` (SSQ) or ``Wx`` (CWT), for a stack of (soft) masks or an integer label image, in
  one pass (batched, any device, differentiable);
* :func:`decompose_regions` - the bookkeeping ``x = sum(components) + rest + lowpass +
  residual``, exact by construction, with energy fractions (:class:`RegionDecomposition`);
* :func:`consistent_inverse` - a signal whose CWT actually *is* (close to) the masked
  coefficients, by L-BFGS through the differentiable :func:`~saliency2signal.cwt`
  (:class:`ConsistentInverse`), with the :func:`inconsistency` it reduces.

Masks are plain arrays in our layout (lowest frequency in row 0): a stack
``(..., n_regions, n_freqs, n_times)`` of bool or float masks, or an integer label image
``(..., n_freqs, n_times)`` with 0 = background and labels ``1..n_regions``.

Layout: ``_masks`` (the checks and sums they share), ``_components``
(:func:`components` and the mask converters), ``_regions``
(:func:`decompose_regions`), ``_consistent`` (:func:`inconsistency`,
:func:`consistent_inverse`).

May import: numpy, torch, ``_validation``, ``transform`` (and its ``_plan`` and
``_inverse``); never another stage.
"""

from __future__ import annotations

from ._components import components, masks_from_labels, ssq_mask_to_cwt
from ._consistent import ConsistentInverse, consistent_inverse, inconsistency
from ._regions import RegionDecomposition, decompose_regions

__all__ = [
    "components",
    "masks_from_labels",
    "ssq_mask_to_cwt",
    "RegionDecomposition",
    "decompose_regions",
    "inconsistency",
    "ConsistentInverse",
    "consistent_inverse",
]
