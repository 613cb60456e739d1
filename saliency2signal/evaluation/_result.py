"""The result classes of :func:`~saliency2signal.evaluate` and their tables and JSON.

- :class:`MethodEvaluation`: everything measured for one attribution method.
- :class:`Evaluation`: one :class:`MethodEvaluation` per method, the targets and the
  settings; :meth:`Evaluation.table`, :meth:`Evaluation.samples_table`,
  :meth:`Evaluation.to_json`, the figures and :meth:`Evaluation.save` (drawn and
  written by ``evaluation._report``).

May import: numpy, ``_validation``, ``_files``, ``_version``, ``explanation``
(``Explanation``, for type hints), ``evaluation._metrics``, ``evaluation._report``;
never ``evaluation._core``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._files import atomic_dir
from .._validation import finite_or_none
from ._metrics import nanmean, nanmean_curve, nanmedian, null_band, share
from ._report import plot_curves, plot_metrics, plot_randomization, write_folder

if TYPE_CHECKING:
    from ..explanation import Explanation

__all__ = ["Evaluation", "MethodEvaluation"]


@dataclass(frozen=True, eq=False)
class MethodEvaluation:
    """Everything measured for one attribution method on ``B`` signals.

    Curves have ``R + 1`` points (``R`` = most regions of any signal): point ``k`` is the
    target probability after ``k`` regions are deleted (or inserted); points beyond a
    signal's own number of regions are NaN.

    Attributes
    ----------
    method : str
    explanation : Explanation
        The explanation that was tested (attribution, regions, components).
    n_regions : numpy.ndarray of int, shape (B,)
    deletion, deletion_lerf, insertion : numpy.ndarray, shape (B, R + 1)
        MoRF deletion, LeRF deletion and MoRF insertion curves.
    null_deletion, null_insertion : numpy.ndarray, shape (B, n_null, R + 1)
        The same with matched random regions in place of the explanation's.
    energy_match : numpy.ndarray, shape (B, R)
        Median ``|ln(E_random / E_region)|`` of the draws for each region (NaN where
        there is no region): how closely the null matched the coefficient energy.
    scores : dict of str to numpy.ndarray, shape (B,)
        Per-signal metrics (NaN where undefined): ``p_target``, ``deletion_auc``,
        ``deletion_lerf_auc``, ``insertion_auc``, ``null_deletion_auc`` and
        ``null_insertion_auc`` (median over draws), ``top_drop``, ``null_top_drop``
        (median), ``top_drop_beaten``, ``top_drop_percentile``,
        ``deletion_auc_percentile``, ``insertion_auc_percentile``; with ground truth
        also ``truth_valid`` (1/0), ``relevance_mass``, ``relevance_rank``,
        ``energy_in_window``, ``energy_in_window_top``, ``correlation``.
    randomization : dict or None
        ``steps`` (list of str: the blocks randomised so far at each step, top first),
        ``spearman``, ``ssim`` and ``spearman_tf`` (arrays ``(n_steps, B)``).
    seconds : float
        Time spent on this method (explanation, curves, null, randomisation).
    """

    method: str
    explanation: Explanation = field(repr=False)
    n_regions: np.ndarray = field(repr=False)
    deletion: np.ndarray = field(repr=False)
    deletion_lerf: np.ndarray = field(repr=False)
    insertion: np.ndarray = field(repr=False)
    null_deletion: np.ndarray = field(repr=False)
    null_insertion: np.ndarray = field(repr=False)
    energy_match: np.ndarray = field(repr=False)
    scores: dict = field(repr=False)
    randomization: dict | None = field(repr=False, default=None)
    seconds: float = 0.0

    def summary(self) -> dict:
        """One row of :meth:`Evaluation.table` (floats are NaN-free: null when undefined)."""
        s = self.scores
        row = {
            "method": self.method,
            "n_samples": int(self.n_regions.size),
            "mean_regions": (
                finite_or_none(np.mean(self.n_regions)) if self.n_regions.size else None
            ),
        }
        for key in (
            "p_target",
            "deletion_auc",
            "null_deletion_auc",
            "deletion_lerf_auc",
            "insertion_auc",
            "null_insertion_auc",
            "top_drop",
            "null_top_drop",
        ):
            row[key] = nanmean(s[key])
        for key in ("top_drop_percentile", "deletion_auc_percentile", "insertion_auc_percentile"):
            row[key] = nanmedian(s[key])
        beaten = s["top_drop_beaten"]
        row["share_top_drop_beats_95"] = share(beaten >= 0.95, ~np.isnan(beaten))
        if "truth_valid" in s:
            valid = s["truth_valid"] > 0
            row["n_truth"] = int(valid.sum())
            for key in (
                "relevance_mass",
                "relevance_rank",
                "energy_in_window",
                "energy_in_window_top",
                "correlation",
            ):
                row[key] = nanmedian(np.where(valid, s[key], np.nan))
            row["share_energy_in_window_80"] = share(s["energy_in_window"] >= 0.8, valid)
            row["share_top_drop_beats_95_truth"] = share(beaten >= 0.95, valid & ~np.isnan(beaten))
        if self.randomization is not None:
            r = self.randomization
            row["randomized_spearman"] = nanmean(r["spearman"][-1])
            row["randomized_ssim"] = nanmean(r["ssim"][-1])
            row["randomized_spearman_tf"] = nanmean(r["spearman_tf"][-1])
        row["seconds"] = round(float(self.seconds), 2)
        return row

    def curves_json(self) -> dict:
        """Return the mean curves, the null's band and the randomisation means (JSON-safe)."""
        out = {
            key: [finite_or_none(v) for v in nanmean_curve(getattr(self, key))]
            for key in ("deletion", "deletion_lerf", "insertion")
        }
        for key in ("null_deletion", "null_insertion"):
            band = null_band(getattr(self, key))
            out[key] = {q: [finite_or_none(v) for v in band[q]] for q in band}
        if self.randomization is not None:
            out["randomization"] = {
                "steps": list(self.randomization["steps"]),
                **{
                    k: [finite_or_none(v) for v in np.nanmean(self.randomization[k], 1)]
                    for k in ("spearman", "ssim", "spearman_tf")
                },
            }
        return out


def _same_columns(rows: list[dict]) -> list[dict]:
    """Return the rows with every key of any row, in first-seen order (missing: None)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k) for k in keys} for r in rows]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Result of :func:`~saliency2signal.evaluate`: one :class:`MethodEvaluation` per method.

    Attributes
    ----------
    methods : dict of str to MethodEvaluation
    class_names : tuple of str
    target : numpy.ndarray of int, shape (B,)
        The class explained for each signal (the same for every method).
    given_labels : numpy.ndarray of int or None
    settings : dict
        The arguments that shaped the evaluation (JSON-compatible).
    """

    methods: dict
    class_names: tuple
    target: np.ndarray = field(repr=False)
    given_labels: np.ndarray | None = field(repr=False)
    settings: dict = field(repr=False)

    def table(self) -> list[dict]:
        """Summary, one row (dict) per method; the same columns for every row."""
        return _same_columns([m.summary() for m in self.methods.values()])

    def samples_table(self) -> list[dict]:
        """One row per method and signal: index, target, regions and every score."""
        rows = []
        for name, m in self.methods.items():
            for b in range(m.n_regions.size):
                row = {
                    "method": name,
                    "index": b,
                    "target": int(self.target[b]),
                    "label": None if self.given_labels is None else int(self.given_labels[b]),
                    "prediction": int(m.explanation.predictions[b]),
                    "n_regions": int(m.n_regions[b]),
                }
                row.update({k: finite_or_none(v[b]) for k, v in m.scores.items()})
                if m.randomization is not None:
                    row["randomized_spearman"] = finite_or_none(m.randomization["spearman"][-1, b])
                rows.append(row)
        return _same_columns(rows)

    def to_json(self) -> dict:
        """JSON-compatible dict: settings, summary table, per-signal rows, curves' means."""
        from .._version import __version__

        return {
            "schema": "saliency2signal.evaluation",
            "schema_version": 1,
            "package_version": __version__,
            "class_names": list(self.class_names),
            "settings": self.settings,
            "summary": self.table(),
            "samples": self.samples_table(),
            "curves": {name: m.curves_json() for name, m in self.methods.items()},
        }

    # ---------------------------------------------------------------- figures
    def plot_curves(self, method: str | None = None, *, ax=None):
        """Plot deletion (MoRF, LeRF) and insertion curves with the null's 5–95 % band.

        Parameters
        ----------
        method : str, optional
            Default: the first method.
        ax : matplotlib.axes.Axes, optional
            Drawn into a new figure without one (``matplotlib.figure.Figure``, no pyplot).

        Returns
        -------
        matplotlib.axes.Axes
        """
        return plot_curves(self._method(method), ax=ax)

    def plot_metrics(self, *, ax=None):
        """One group of bars per method: the main scores in [0, 1] side by side."""
        return plot_metrics(self.table(), ax=ax)

    def plot_randomization(self, *, ax=None):
        """Mean Spearman correlation (1D) with the original explanation per cascade step."""
        return plot_randomization(self.methods, ax=ax)

    def _method(self, method) -> MethodEvaluation:
        if method is None:
            return next(iter(self.methods.values()))
        if method not in self.methods:
            raise ValueError(f"method={method!r} was not evaluated; have {list(self.methods)}")
        return self.methods[method]

    # ---------------------------------------------------------------- saving
    def save(self, out_dir, *, figures: bool = True, overwrite: bool = False):
        """Write the tables, the JSON, the curves and the figures into a new folder.

        Files: ``summary.csv``, ``samples.csv``, ``evaluation.json``, ``curves.npz`` and
        (with ``figures``) ``curves_<method>.png``, ``metrics.png``, ``randomization.png``,
        written atomically (nothing appears on error).

        Returns
        -------
        pathlib.Path
            The folder.

        Raises
        ------
        ValueError
            If ``out_dir`` exists and ``overwrite`` is false, or its parent does not exist.
        """
        return atomic_dir(
            out_dir, lambda tmp: write_folder(self, tmp, figures=figures), overwrite=overwrite
        )
