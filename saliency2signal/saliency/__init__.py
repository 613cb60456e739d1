"""Saliency of a CNN's decision on the native ``(freq, time)`` grid of the transform.

The model sees ``to_image(Tx)``; the question is which *cells* of ``Tx`` made it decide.
:func:`attribute` computes the synchrosqueezed transform once, then hands Captum the
forward function ``magnitude -> to_image -> model`` of the coefficient magnitude
``|Tx|`` on the transform's own grid. Every Captum method then attributes directly to
the ``(..., n_freqs, n_times)`` cells (lowest frequency in row 0) — there is no
image-to-grid remapping step and hence no remapping error: resizes, flips, logs and
normalisations are differentiated through exactly. Methods defined on a layer
(Grad-CAM) are carried back through the imaging geometry with
:func:`saliency2signal.imaging.pull_back`, the adjoint of the resize and flip.

:func:`time_gradient` is the plain time-domain baseline: the gradient of the target's
logit (or probability, ``score='probability'``) with respect to the signal itself,
through the differentiable transform.

Layout (internal modules, plain names inside):

- ``_core``: :func:`attribute` (argument checks, the transform, target, noise tunnel,
  dispatch, result), :func:`time_gradient`, :class:`SaliencyResult`;
- ``_registry``: the methods by name (:data:`METHODS`, :func:`methods`,
  :data:`NT_TYPES`) — adding a method is one entry there;
- ``_methods``: one small function per method, each with only its own options;
- ``_options``: what those options (baselines, feature masks, windows, layers) mean on
  the grid;
- ``_through``, ``_rise``, ``_shapley``: perturbation *through the signal* for models
  with no gradients (:class:`~saliency2signal.blackbox.BlackBox`): masked content is
  removed by the inverse, the transform and image recomputed and the model re-run —
  ``method='rise'`` (random smooth masks on the plane) and :func:`region_shapley`
  (exact Shapley values of labelled regions).

Captum is imported inside the functions: ``import captum.attr`` may import matplotlib
(Captum issue 1653) and importing this package must not.

May import: torch, numpy, captum (lazily), ``_grid``, ``_runtime``, ``_validation``,
``blackbox``, ``forward``, ``imaging``, ``inverse``, ``transform``; never
``explanation`` or ``evaluation`` (they import this).
"""

from __future__ import annotations

from ._core import SaliencyResult, attribute, time_gradient
from ._registry import METHODS, NT_TYPES, methods
from ._shapley import RegionShapley, region_shapley

__all__ = [
    "METHODS",
    "NT_TYPES",
    "RegionShapley",
    "SaliencyResult",
    "attribute",
    "methods",
    "region_shapley",
    "time_gradient",
]
