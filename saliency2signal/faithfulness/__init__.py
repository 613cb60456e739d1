"""Is an explanation faithful? Deletion against a matched random null, and a verdict.

The machinery that :func:`~saliency2signal.explain` (one verdict per explanation) and
:func:`~saliency2signal.evaluate` (the full comparison of methods) share:

- :func:`matched_regions`: random translates of a time–frequency region whose
  coefficient energy matches the region's — the null an explanation must beat;
- :func:`block_partition`: the default players of region-level attribution methods;
- :class:`CurveSettings`, :class:`Curves`, :func:`measure_curves`: the deletion
  (and insertion) curves of the regions and of their null, measured on the real
  pipeline (masked inverse, transform, image, model), with removal or ROAD-style
  imputation from a reference signal;
- :func:`curve_scores`, :func:`auc`, :func:`midrank`: the per-signal numbers;
- :class:`Verdict`, :func:`verdicts`, :data:`LEVELS`: the plain judgement per signal.

Modules: ``_null``, ``_curves``, ``_scores``, ``_verdict``.

May import: numpy, scipy, torch, the public names of ``inverse``, ``imaging``,
``transform``, ``forward``, ``_runtime``, ``_validation``; never a stage
(``explanation``, ``evaluation``, ``cli``).
"""

from ._curves import Curves, CurveSettings, measure_curves
from ._null import block_partition, matched_regions
from ._scores import auc, curve_scores, midrank
from ._verdict import LEVELS, Verdict, verdicts

__all__ = [
    "LEVELS",
    "CurveSettings",
    "Curves",
    "Verdict",
    "auc",
    "block_partition",
    "curve_scores",
    "matched_regions",
    "measure_curves",
    "midrank",
    "verdicts",
]
