"""Are the explanations right? Deletion against a matched null, ground truth, sanity checks.

:func:`evaluate` explains signals with one or more attribution methods (exactly as
:func:`~saliency2signal.explain` does) and then *tests* every explanation in the signal
domain, the way time–frequency explanations are tested in the literature (FreqRISE,
FLEXtime, L-MAC): mask in the transformed domain, invert to the signal, recompute the
transform and the image, re-run the model.

Round-trip deletion and insertion
    The explanation's regions, ranked by attribution mass, are removed from the signal
    one after another (their components by the masked one-integral inverse), most
    relevant first (MoRF) and least relevant first (LeRF); the model's probability of the
    explained class after each step is the *deletion curve*. The *insertion curve* keeps
    only the regions added so far (starting from the zero signal). Areas under the curves
    (AUC, trapezoidal over the steps, in [0, 1]) summarise them: a faithful explanation
    has a low MoRF deletion AUC, a high insertion AUC and a LeRF curve above the MoRF one.

Matched random null
    For every region, ``n_null`` random time–frequency regions of the *same shape and
    area* (the region translated over the plane) whose coefficient energy
    ``sum |Tx|**2`` matches the region's within ``energy_tolerance`` (relative) are drawn;
    draw ``d`` of region ``k`` replaces region ``k`` in the MoRF sequence, giving
    ``n_null`` null curves per signal. A region can only be *more informative than
    chance* if deleting it hurts more than deleting equally energetic random parts of the
    plane. For each explanation the percentile it reaches against its null is reported
    (mid-rank, in percent; 100 = better than every draw) for the top region's probability
    drop and for the deletion and insertion AUCs, and ``top_drop_beaten`` — the share of
    null draws whose drop is strictly smaller than the top region's.

Ground truth (signals with a planted component, e.g. :func:`~saliency2signal.datasets.
load_planted`)
    In the time–frequency plane: *relevance mass accuracy* (share of the positive
    attribution inside the ground-truth cells) and *relevance rank accuracy* (share of the
    ``K`` highest-attribution cells inside them, ``K`` = number of ground-truth cells;
    Arras et al. 2022). The ground-truth cells are the smallest set holding
    ``truth_mass`` of the planted component's own coefficient energy. In 1D: the share of
    the recovered component's energy inside the planted window, for the union of all
    regions (``energy_in_window``) and for the top region alone, and the Pearson
    correlation of the recovered component with the planted one. Reported for signals
    whose planted component is non-zero and that the model classifies correctly (when
    ``labels`` are given).

Sanity check: cascading model-parameter randomisation (Adebayo et al. 2018)
    The model's parameterised blocks are re-drawn one after another, top (output) block
    first, each parameter tensor from a normal distribution with the tensor's own mean
    and standard deviation; after every step the signals are explained again (same
    target classes) and compared with the original explanation: Spearman rank
    correlation and SSIM of the 1D explanations ``|recovered component|`` (union of the
    regions), and Spearman correlation of the time–frequency attribution maps. A method
    whose explanation survives a random model explains the input, not the model. The
    original parameters are restored afterwards (also on error).

The baseline method ``'time_gradient'`` (:data:`BASELINES`) is the plain gradient of the
target score with respect to the signal, through the differentiable transform
(:func:`~saliency2signal.saliency.time_gradient`); its ``|gradient|`` is spread evenly
over each column, so its regions are time windows over all frequencies.

Outputs: :class:`Evaluation` with :meth:`Evaluation.table` (one row per method, the
summary), :meth:`Evaluation.samples_table` (one row per method and signal),
:meth:`Evaluation.to_json` and :meth:`Evaluation.save` (``summary.csv``,
``samples.csv``, ``evaluation.json``, ``curves.npz`` and figures, written atomically).

The layers, each importing only those above it:

- ``_metrics``: Spearman, SSIM, NaN-aware summaries;
- ``_sanity``: :func:`randomizable_blocks` and the randomisation check;
- ``_methods``: one explanation per method (:data:`BASELINES`, noise tunnels, layers);
- (the deletion and insertion curves, their null and the per-signal scores live in
  :mod:`saliency2signal.faithfulness`, shared with ``explain``'s verdicts);
- ``_truth``: the ground-truth scores;
- ``_report`` and ``_result``: figures, CSV and folder; :class:`MethodEvaluation` and
  :class:`Evaluation`;
- ``_core``: :func:`evaluate` and its per-method core.

May import: numpy, torch, scipy and scikit-image (lazily), matplotlib (lazily, for
figures), ``_validation``, ``_runtime``, ``_files``, ``_version`` and the public names
of ``explanation``, ``faithfulness``, ``forward``, ``saliency``, ``mask``, ``inverse``,
``transform``, ``imaging`` and ``metadata``; never ``cli``, ``io`` or ``plot``.
"""

from __future__ import annotations

from ..faithfulness import block_partition, matched_regions
from ._core import BLACK_BOX_METHODS, DEFAULT_METHODS, evaluate
from ._methods import BASELINES
from ._result import Evaluation, MethodEvaluation
from ._sanity import randomizable_blocks

__all__ = [
    "BLACK_BOX_METHODS",
    "DEFAULT_METHODS",
    "BASELINES",
    "Evaluation",
    "MethodEvaluation",
    "block_partition",
    "evaluate",
    "matched_regions",
    "randomizable_blocks",
]
