"""One call from a trained model and signals to an explanation a researcher can read.

:func:`explain` runs the whole pipeline for a batch of signals — transform, saliency on
the native ``(freq, time)`` grid (:func:`~saliency2signal.saliency.attribute`),
threshold and label regions (:func:`~saliency2signal.mask.attribution_mask`), one
signal component per region by the masked one-integral inverse
(:func:`~saliency2signal.inverse.components`), the energy book-keeping of
:func:`~saliency2signal.inverse.decompose_regions` — and then *tests* each region: the
region's component is subtracted from the signal, the transform and the image are
recomputed, and the model's probability of the explained class is read again
(``p_before``, ``p_after``, ``drop = p_before - p_after``). The result is a frozen
:class:`Explanation` with arrays, per-region records, :meth:`Explanation.to_json`,
:meth:`Explanation.save` (a report folder written atomically) and
:meth:`Explanation.plot`.

The package's layers, each a private module:

- ``_core``: ``explain_batch``, one prepared batch of signals in, one per-batch result
  (a frozen dataclass) out, and ``assemble``, which concatenates those results into an
  :class:`Explanation`; what a streaming or distributed runner calls.
- ``_auto``: ``method='auto'``, the candidates (:data:`AUTO_CANDIDATES`) compared by
  their verdicts on a subset of the signals.
- ``_arguments``: the argument checks shared by ``_explain`` and ``_map`` (signals and
  length policy, task, reference, axis, class names, targets).
- ``_explain``: :func:`explain`, the configurations and the loop over batches and
  transform groups.
- ``_map``: :func:`map_heatmaps`, heatmaps of a finished study (image or native grid,
  either row order) through the same core, with or without the model.
- ``_result``: :class:`RegionEffect` and :class:`Explanation` (arrays, JSON).
- ``_summary``: :func:`summarize`, the overview over all signals (accuracy, confusion
  matrix, per class the attribution profile and the bands that carry its evidence, where
  the unkept attribution went); :func:`cluster_bands`, the clustering of regions'
  x-ranges into bands.
- ``_overview``: the report page's overview section and its per-class figures.
- ``_figures``: one signal's three figures, drawn from plain data (in worker processes
  for a large report).
- ``_pages``: one signal's page (``sample_XXXX.html``) and the index's table of signals.
- ``_readability``: :func:`~._readability.problems`, what makes a figure hard to read
  (a plane without a colorbar, an axis without a label, a legend over data).
- ``_report``: the files of a saved report folder, its index page, one panel on Axes.
- ``_schema``: :data:`SCHEMA`, :data:`SCHEMA_VERSION`, :data:`SCHEMA_PATH` and
  :func:`load_schema`.

The JSON written by :meth:`Explanation.to_json` (and ``report.json`` in a saved folder)
is specified by one file, the JSON Schema (draft 2020-12) at :data:`SCHEMA_PATH`
(``saliency2signal/schemas/explanation.schema.json``), loaded by :func:`load_schema`;
validate a report with ``jsonschema.validate(report, load_schema())``. The key list
below is generated from that file when this module is imported.

May import: every stage below it (``transform``, ``imaging``, ``saliency``, ``mask``,
``inverse``, ``artefacts``, ``forward``, ``metadata``), ``_runtime``, ``_validation``,
``_files``; never ``evaluation`` or ``cli`` (they import this), nor matplotlib at import
time.

Report keys
-----------
"""

from __future__ import annotations

from . import _schema
from ._auto import AUTO_CANDIDATES
from ._explain import explain
from ._map import GRIDS, map_heatmaps
from ._result import Explanation, RegionEffect
from ._schema import SCHEMA, SCHEMA_PATH, SCHEMA_VERSION, load_schema
from ._summary import cluster_bands, summarize

__all__ = [
    "AUTO_CANDIDATES",
    "GRIDS",
    "SCHEMA",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Explanation",
    "RegionEffect",
    "cluster_bands",
    "explain",
    "load_schema",
    "map_heatmaps",
    "summarize",
]

if __doc__ is not None:  # None under python -OO
    __doc__ += "\n" + _schema.schema_outline(load_schema()) + "\n"
