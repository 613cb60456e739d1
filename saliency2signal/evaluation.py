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
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ._files import atomic_dir
from ._runtime import default_mask_options, inference_model, resolve_configs
from .explanation import Explanation, explain
from .forward import probabilities
from .imaging import ImagingConfig, to_image
from .inverse import components as _components
from .mask import attribution_mask, threshold_map
from .saliency import METHODS, NT_TYPES, methods, time_gradient
from .transform import SSQConfig, ssq_cwt

__all__ = ["BASELINES", "Evaluation", "MethodEvaluation", "block_partition", "evaluate",
           "matched_regions", "randomizable_blocks"]

#: Methods that are not Captum attributions on the grid.
BASELINES = ("time_gradient",)
_REGION_METHODS = ("feature_ablation", "shapley_value_sampling")
_NT_METHODS = methods("gradient")
_RANDOMIZATION = ("cascade", "full", "none")


# --------------------------------------------------------------------------- results
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
        row = {"method": self.method, "n_samples": int(self.n_regions.size),
               "mean_regions": _f(np.mean(self.n_regions)) if self.n_regions.size else None}
        for key in ("p_target", "deletion_auc", "null_deletion_auc", "deletion_lerf_auc",
                    "insertion_auc", "null_insertion_auc", "top_drop", "null_top_drop"):
            row[key] = _nanmean(s[key])
        for key in ("top_drop_percentile", "deletion_auc_percentile",
                    "insertion_auc_percentile"):
            row[key] = _nanmedian(s[key])
        beaten = s["top_drop_beaten"]
        row["share_top_drop_beats_95"] = _share(beaten >= 0.95, ~np.isnan(beaten))
        if "truth_valid" in s:
            valid = s["truth_valid"] > 0
            row["n_truth"] = int(valid.sum())
            for key in ("relevance_mass", "relevance_rank", "energy_in_window",
                        "energy_in_window_top", "correlation"):
                row[key] = _nanmedian(np.where(valid, s[key], np.nan))
            row["share_energy_in_window_80"] = _share(s["energy_in_window"] >= 0.8, valid)
            row["share_top_drop_beats_95_truth"] = _share(beaten >= 0.95,
                                                          valid & ~np.isnan(beaten))
        if self.randomization is not None:
            r = self.randomization
            row["randomized_spearman"] = _nanmean(r["spearman"][-1])
            row["randomized_ssim"] = _nanmean(r["ssim"][-1])
            row["randomized_spearman_tf"] = _nanmean(r["spearman_tf"][-1])
        row["seconds"] = round(float(self.seconds), 2)
        return row


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Result of :func:`evaluate`: one :class:`MethodEvaluation` per method.

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
        rows = [m.summary() for m in self.methods.values()]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        return [{k: r.get(k) for k in keys} for r in rows]

    def samples_table(self) -> list[dict]:
        """One row per method and signal: index, target, regions and every score."""
        rows = []
        for name, m in self.methods.items():
            for b in range(m.n_regions.size):
                row = {"method": name, "index": b, "target": int(self.target[b]),
                       "label": None if self.given_labels is None
                       else int(self.given_labels[b]),
                       "prediction": int(m.explanation.predictions[b]),
                       "n_regions": int(m.n_regions[b])}
                row.update({k: _f(v[b]) for k, v in m.scores.items()})
                if m.randomization is not None:
                    row["randomized_spearman"] = _f(m.randomization["spearman"][-1, b])
                rows.append(row)
        keys = list(dict.fromkeys(k for r in rows for k in r))
        return [{k: r.get(k) for k in keys} for r in rows]

    def to_json(self) -> dict:
        """JSON-compatible dict: settings, summary table, per-signal rows, curves' means."""
        from . import __version__

        out = {"schema": "saliency2signal.evaluation", "schema_version": 1,
               "package_version": __version__, "class_names": list(self.class_names),
               "settings": self.settings, "summary": self.table(),
               "samples": self.samples_table(), "curves": {}}
        for name, m in self.methods.items():
            out["curves"][name] = {
                key: [_f(v) for v in _nanmean_curve(getattr(m, key))]
                for key in ("deletion", "deletion_lerf", "insertion")}
            for key in ("null_deletion", "null_insertion"):
                band = _null_band(getattr(m, key))
                out["curves"][name][key] = {q: [_f(v) for v in band[q]] for q in band}
            if m.randomization is not None:
                out["curves"][name]["randomization"] = {
                    "steps": list(m.randomization["steps"]),
                    **{k: [_f(v) for v in np.nanmean(m.randomization[k], 1)]
                       for k in ("spearman", "ssim", "spearman_tf")}}
        return out

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
        m = self._method(method)
        ax = _axes(ax, (6, 4))
        k = np.arange(m.deletion.shape[1])
        for key, null_key, color, label in (
                ("deletion", "null_deletion", "C3", "deletion, most relevant first"),
                ("insertion", "null_insertion", "C0", "insertion, most relevant first")):
            band = _null_band(getattr(m, null_key))
            if not np.all(np.isnan(band["median"])):
                ax.fill_between(k, band["q05"], band["q95"], color=color, alpha=0.15, lw=0)
                ax.plot(k, band["median"], color=color, ls=":", lw=1,
                        label=f"{key}: matched random regions (median, 5-95 %)")
            ax.plot(k, _nanmean_curve(getattr(m, key)), color=color, marker="o", label=label)
        ax.plot(k, _nanmean_curve(m.deletion_lerf), color="C3", ls="--", marker=".",
                label="deletion, least relevant first")
        ax.set_xlabel("regions removed / inserted")
        ax.set_ylabel("p(target class), mean over signals")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xticks(k)
        ax.set_title(m.method, fontsize=10, loc="left")
        ax.legend(fontsize=7)
        return ax

    def plot_metrics(self, *, ax=None):
        """One group of bars per method: the main scores in [0, 1] side by side."""
        ax = _axes(ax, (max(5, 1.6 * len(self.methods) + 2), 4))
        rows = self.table()
        keys = [("share_top_drop_beats_95", "top drop beats 95 % of null"),
                ("deletion_auc", "deletion AUC"), ("null_deletion_auc", "null deletion AUC"),
                ("insertion_auc", "insertion AUC")]
        if any("energy_in_window" in r for r in rows):
            keys.append(("energy_in_window", "energy in planted window"))
        if any(r.get("randomized_spearman") is not None for r in rows):
            keys.append(("randomized_spearman", "Spearman after randomisation"))
        width = 0.8 / len(keys)
        for j, (key, label) in enumerate(keys):
            vals = [np.nan if r.get(key) is None else r[key] for r in rows]
            ax.bar(np.arange(len(rows)) + (j - (len(keys) - 1) / 2) * width, vals, width,
                   label=label)
        ax.set_xticks(np.arange(len(rows)), [r["method"] for r in rows], rotation=20,
                      fontsize=8)
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.legend(fontsize=7)
        return ax

    def plot_randomization(self, *, ax=None):
        """Mean Spearman correlation (1D) with the original explanation per cascade step."""
        ax = _axes(ax, (6, 4))
        for name, m in self.methods.items():
            if m.randomization is None:
                continue
            r = m.randomization
            ax.plot(np.arange(1, len(r["steps"]) + 1), np.nanmean(r["spearman"], 1),
                    marker="o", label=name)
            ticks = [s.split(",")[-1].strip() for s in r["steps"]]
        if ax.lines:
            ax.set_xticks(np.arange(1, len(ticks) + 1), ticks, rotation=30, fontsize=7)
        ax.axhline(0.3, color="0.5", ls="--", lw=0.8)
        ax.set_xlabel("blocks randomised (top first; last one named)")
        ax.set_ylabel("Spearman with original (1D)")
        ax.set_ylim(-0.3, 1.05)
        ax.legend(fontsize=7)
        return ax

    def _method(self, method):
        if method is None:
            return next(iter(self.methods.values()))
        if method not in self.methods:
            raise ValueError(f"method={method!r} was not evaluated; have "
                             f"{list(self.methods)}")
        return self.methods[method]

    # ---------------------------------------------------------------- saving
    def save(self, out_dir, *, figures: bool = True, overwrite: bool = False):
        """Write the tables, the JSON, the curves and the figures into a new folder.

        Files: ``summary.csv``, ``samples.csv``, ``evaluation.json``, ``curves.npz`` and
        (with ``figures``) ``curves_<method>.png``, ``metrics.png``, ``randomization.png``,
        written atomically (nothing appears on error).

        Raises
        ------
        ValueError
            If ``out_dir`` exists and ``overwrite`` is false, or its parent does not exist.
        """
        return atomic_dir(out_dir, lambda tmp: self._write(tmp, figures=figures),
                          overwrite=overwrite)

    def _write(self, folder, *, figures: bool) -> None:
        (folder / "summary.csv").write_text(_csv(self.table()), encoding="utf-8")
        (folder / "samples.csv").write_text(_csv(self.samples_table()), encoding="utf-8")
        (folder / "evaluation.json").write_text(json.dumps(self.to_json(), indent=1),
                                                encoding="utf-8")
        arrays = {}
        for name, m in self.methods.items():
            for key in ("deletion", "deletion_lerf", "insertion", "null_deletion",
                        "null_insertion", "n_regions"):
                arrays[f"{name}__{key}"] = getattr(m, key)
        with open(folder / "curves.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)
        if not figures:
            return
        from matplotlib.figure import Figure

        for name in self.methods:
            fig = Figure(figsize=(6.5, 4.5), layout="constrained")
            self.plot_curves(name, ax=fig.subplots())
            fig.savefig(folder / f"curves_{name}.png", dpi=100)
        fig = Figure(figsize=(max(6, 1.6 * len(self.methods) + 2), 4.5), layout="constrained")
        self.plot_metrics(ax=fig.subplots())
        fig.savefig(folder / "metrics.png", dpi=100)
        if any(m.randomization is not None for m in self.methods.values()):
            fig = Figure(figsize=(6.5, 4.5), layout="constrained")
            self.plot_randomization(ax=fig.subplots())
            fig.savefig(folder / "randomization.png", dpi=100)


# --------------------------------------------------------------------------- helpers
def _f(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _nanmean(a) -> float | None:
    a = np.asarray(a, dtype=np.float64)
    return _f(np.mean(a[~np.isnan(a)])) if np.any(~np.isnan(a)) else None


def _nanmedian(a) -> float | None:
    a = np.asarray(a, dtype=np.float64)
    return _f(np.median(a[~np.isnan(a)])) if np.any(~np.isnan(a)) else None


def _share(cond: np.ndarray, valid: np.ndarray) -> float | None:
    valid = np.asarray(valid, dtype=bool)
    return _f(np.mean(np.asarray(cond)[valid])) if valid.any() else None


def _nanmean_curve(c: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(c)
    n = ok.sum(0)
    return np.where(n > 0, np.where(ok, c, 0.0).sum(0) / np.maximum(n, 1), np.nan)


def _null_band(null: np.ndarray) -> dict:
    """5 %, 50 %, 95 % over draws of the draw-wise mean curve (mean over signals)."""
    if null.size == 0:
        return {q: np.full(null.shape[-1], np.nan) for q in ("q05", "median", "q95")}
    per_draw = np.stack([_nanmean_curve(null[:, d]) for d in range(null.shape[1])])
    out = {}
    for q, name in ((5, "q05"), (50, "median"), (95, "q95")):
        col = []
        for v in per_draw.T:
            v = v[~np.isnan(v)]
            col.append(np.percentile(v, q) if v.size else np.nan)
        out[name] = np.asarray(col)
    return out


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def _axes(ax, figsize):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").subplots()


def _auc(curve: np.ndarray, n: int) -> float:
    """Trapezoidal area of ``curve[:n + 1]`` over ``[0, 1]`` (NaN without a step)."""
    if n < 1:
        return np.nan
    c = curve[: n + 1]
    return float(np.sum(c[1:] + c[:-1]) / (2 * n))


def _midrank(value: float, null: np.ndarray, *, higher_is_better: bool) -> float:
    """Percentile (0–100) of ``value`` within ``null``: share worse plus half the ties."""
    null = null[~np.isnan(null)]
    if np.isnan(value) or null.size == 0:
        return np.nan
    worse = null < value if higher_is_better else null > value
    return float(100.0 * (worse.sum() + 0.5 * (null == value).sum()) / null.size)


def _correlate_valid(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[i, j] = sum(a[i:i+h, j:j+w] * kernel)`` for every placement inside ``a``."""
    from scipy.signal import fftconvolve

    return fftconvolve(a, kernel[::-1, ::-1], mode="valid")


def matched_regions(region, energy, *, n: int, rng: np.random.Generator,
                    tolerance: float = 0.25, max_overlap: float = 0.5):
    """Random translates of a region with matched coefficient energy.

    Parameters
    ----------
    region : numpy.ndarray of bool, shape (F, N)
        The region (any shape; it is translated as a whole, so the area is kept).
    energy : numpy.ndarray, shape (F, N)
        Non-negative cell energy, e.g. ``|Tx|**2``.
    n : int
        Number of draws.
    rng : numpy.random.Generator
    tolerance : float
        Accept placements whose energy ``E`` satisfies
        ``|ln(E / E_region)| <= ln(1 + tolerance)``; when fewer than ``n`` do, the ``n``
        closest in energy are used.
    max_overlap : float
        Placements sharing more than this fraction of the region's cells with the region
        itself are never used.

    Returns
    -------
    masks : numpy.ndarray of bool, shape (n, F, N)
    log_ratio : numpy.ndarray, shape (n,)
        ``|ln(E / E_region)|`` of each draw.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.ones((8, 32)); r = np.zeros((8, 32), bool); r[2:4, 3:7] = True
    >>> m, lr = matched_regions(r, e, n=5, rng=np.random.default_rng(0))
    >>> m.shape, m.sum((1, 2)).tolist(), bool(lr.max() < 1e-9)
    ((5, 8, 32), [8, 8, 8, 8, 8], True)
    """
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        raise ValueError("region is empty")
    r0, c0 = rows.min(), cols.min()
    shape = region[r0:rows.max() + 1, c0:cols.max() + 1].astype(np.float64)
    area = shape.sum()
    e_place = np.maximum(_correlate_valid(np.asarray(energy, np.float64), shape), 0.0)
    overlap = _correlate_valid(region.astype(np.float64), shape)
    e0 = max(float(e_place[r0, c0]), 1e-300)
    tiny = 1e-12 * max(float(e_place.max()), 1e-300)
    log_ratio = np.abs(np.log((e_place + tiny) / (e0 + tiny)))
    allowed = overlap <= max_overlap * area + 0.5
    flat_ok = np.flatnonzero(allowed)
    if flat_ok.size == 0:  # the region covers (nearly) the whole plane
        flat_ok = np.flatnonzero(np.ones_like(allowed))
    good = flat_ok[log_ratio.flat[flat_ok] <= math.log1p(tolerance)]
    if good.size >= n:
        pick = rng.choice(good, size=n, replace=False)
    else:
        order = flat_ok[np.argsort(log_ratio.flat[flat_ok], kind="stable")]
        pool = order[: max(n, good.size)]
        pick = rng.choice(pool, size=n, replace=pool.size < n)
    h, w = shape.shape
    out = np.zeros((n, *region.shape), dtype=bool)
    for d, flat in enumerate(pick):
        i, j = np.unravel_index(flat, e_place.shape)
        out[d, i:i + h, j:j + w] = shape > 0
    return out, log_ratio.flat[pick]


def randomizable_blocks(model: torch.nn.Module) -> list[str]:
    """Names of the blocks the cascading randomisation re-draws, input side first.

    The model's children, with ``nn.Sequential`` / ``nn.ModuleList`` children opened one
    level (so a feature extractor's blocks count one by one), keeping those that hold
    parameters. Works on TorchScript modules too.

    Examples
    --------
    >>> from saliency2signal.models import ScalogramCNN
    >>> randomizable_blocks(ScalogramCNN(widths=(8, 8)))
    ['features.0', 'features.1', 'classifier']
    """
    names = []
    for name, child in model.named_children():
        grand = list(child.named_children())
        kind = getattr(child, "original_name", type(child).__name__)
        if kind in ("Sequential", "ModuleList") and grand:
            names += [f"{name}.{g}" for g, gc in grand if any(True for _ in gc.parameters())]
        elif any(True for _ in child.parameters()):
            names.append(name)
    return names


def _randomize_(module: torch.nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for p in module.parameters():
            std = float(p.std()) if p.numel() > 1 else 0.0
            mean = float(p.mean())
            if not std > 0:
                std = max(abs(mean), 1e-2)
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) * std
                    + mean)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(spearmanr(a, b).statistic)


def _ssim_1d(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    def unit(v):
        v = np.asarray(v, np.float64)
        top = v.max()
        return v / top if top > 0 else v

    if a.size < 7:
        return np.nan
    return float(structural_similarity(unit(a), unit(b), data_range=1.0))


def _truth_axis(truth, axis):
    """Return the x axis of the truth's windows: ``axis`` or, when None, the truth's own.

    Windows are in axis units; scoring them against sample indices while the truth was
    made on, say, wavenumbers would silently find no energy in any window.
    """
    if truth is None:
        return axis
    t_axis = truth.get("axis") if isinstance(truth, Mapping) else getattr(truth, "axis", None)
    if t_axis is None:
        return axis
    if axis is None:
        return np.asarray(t_axis)
    a, b = np.asarray(axis, np.float64), np.asarray(t_axis, np.float64)
    if a.shape != b.shape or not np.allclose(a, b):
        raise ValueError(f"axis (from {a.ravel()[:1]} to {a.ravel()[-1:]}, {a.size} points) "
                         f"differs from the ground truth's axis (from {b.ravel()[:1]} to "
                         f"{b.ravel()[-1:]}, {b.size} points); the windows are in the "
                         "truth's units")
    return axis


def _resolve_truth(truth, n_b: int, n: int):
    if truth is None:
        return None
    comps = getattr(truth, "components", None)
    wins = getattr(truth, "windows", None)
    if isinstance(truth, Mapping):
        comps, wins = truth.get("components"), truth.get("windows")
    if comps is None or wins is None:
        raise TypeError("truth must have 'components' (B, N) and 'windows' (B, 2), e.g. "
                        "a PlantedSpectra or a dict")
    comps = np.asarray(comps, dtype=np.float64)
    wins = np.asarray(wins, dtype=np.float64)
    if comps.shape != (n_b, n):
        raise ValueError(f"truth components have shape {comps.shape}; expected {(n_b, n)} "
                         "(one planted component per signal, as the model sees it)")
    if wins.shape != (n_b, 2):
        raise ValueError(f"truth windows have shape {wins.shape}; expected {(n_b, 2)}")
    if not (np.all(np.isfinite(comps)) and np.all(np.isfinite(wins))):
        raise ValueError("truth contains NaN or inf")
    return comps, wins


def _check_windows(windows: np.ndarray, planted: np.ndarray, axis) -> None:
    """Refuse ground-truth windows that lie outside the signals' x axis."""
    ax = np.asarray(axis, np.float64)
    lo, hi = float(ax.min()), float(ax.max())
    has = np.any(planted != 0, axis=1)
    w = np.sort(windows, axis=1)
    out = has & ((w[:, 1] < lo) | (w[:, 0] > hi))
    if out.any():
        b = int(np.flatnonzero(out)[0])
        raise ValueError(f"truth window {tuple(float(v) for v in w[b])} of signal {b} lies "
                         f"outside the x axis [{lo:g}, {hi:g}]; pass the axis the windows "
                         "are measured on (axis=...)")


# --------------------------------------------------------------------------- core
def _regions_of(e: Explanation, attribution: np.ndarray, *, keep_mass, max_regions,
                min_share, mask_options, axis):
    """Mask, labels and components of a replacement attribution (time-gradient)."""
    tcfg = e.transform_config
    tx = torch.from_numpy(np.array(e.Tx))
    am = attribution_mask(attribution, tcfg, value=float(keep_mass),
                          max_regions=int(max_regions), min_share=float(min_share),
                          axis=axis, coefficients=tx,
                          **mask_options)
    labels = np.asarray(am.labels)
    comps = _components(tx, tcfg, masks=torch.from_numpy(labels.astype(np.int64)),
                        n_regions=int(max_regions)).numpy()
    n_reg = np.array([len(r) for r in am.regions], dtype=np.int64)
    return labels, comps, n_reg


def _cumulative(masks: list[np.ndarray], shape) -> np.ndarray:
    out = np.zeros((len(masks) + 1, *shape), dtype=bool)
    for k, m in enumerate(masks):
        out[k + 1] = out[k] | m
    return out


def _curves(model, e: Explanation, labels: np.ndarray, n_regions: np.ndarray, *, n_null,
            rng, tolerance, max_overlap, insertion, null_insertion, batch_size, device):
    """Measure deletion / insertion curves of the explanation and of its matched null."""
    tcfg, icfg = e.transform_config, e.imaging_config
    n_b, n_f, n = labels.shape
    r_max = int(n_regions.max()) if n_b else 0
    dele = np.full((n_b, r_max + 1), np.nan)
    lerf = np.full((n_b, r_max + 1), np.nan)
    ins = np.full((n_b, r_max + 1), np.nan)
    n_dele = np.full((n_b, n_null, r_max + 1), np.nan)
    n_ins = np.full((n_b, n_null, r_max + 1), np.nan)
    match = np.full((n_b, r_max), np.nan)
    dtype = torch.float64 if e.signals.dtype == np.float64 else torch.float32
    jobs = []  # (b, kind, draw, k) for each signal run through the model
    signals = []
    for b in range(n_b):
        x = torch.from_numpy(np.array(e.signals[b], dtype=np.float64))
        tx = torch.from_numpy(np.array(e.Tx[b]))
        r = int(n_regions[b])
        regs = [labels[b] == k + 1 for k in range(r)]
        stacks = {"morf": _cumulative(regs, (n_f, n)),
                  "lerf": _cumulative(regs[::-1], (n_f, n))}
        energy = np.abs(np.asarray(e.Tx[b])) ** 2
        draws = []
        for k in range(r):
            m, lr = matched_regions(regs[k], energy, n=n_null, rng=rng, tolerance=tolerance,
                                    max_overlap=max_overlap)
            draws.append(m)
            match[b, k] = np.median(lr)
        for d in range(n_null if r else 0):
            stacks[("null", d)] = _cumulative([draws[k][d] for k in range(r)], (n_f, n))[1:]
        keys = list(stacks)
        big = np.concatenate([stacks[k] for k in keys])
        comp = _components(tx.to(torch.complex128), tcfg,
                           masks=torch.from_numpy(big)).to(torch.float64)
        pos = 0
        for key in keys:
            cnt = stacks[key].shape[0]
            c = comp[pos:pos + cnt]
            pos += cnt
            if key == "lerf":
                kinds = (("lerf", x - c),)
            elif key == "morf":
                kinds = (("morf", x - c),) + ((("ins", c),) if insertion else ())
            else:
                kinds = (("ndel", x - c),) + ((("nins", c),) if null_insertion else ())
            for kind, sig in kinds:
                first = 0 if key in ("morf", "lerf") else 1
                for j in range(cnt):
                    jobs.append((b, kind, key[1] if isinstance(key, tuple) else 0, first + j))
                    signals.append(sig[j])
    if signals:
        xs = torch.stack(signals).to(device=device, dtype=dtype)
        tgt = np.asarray(e.target)
        with torch.no_grad():
            probe = to_image(torch.from_numpy(np.array(e.Tx[:1])).to(device), icfg)
        fwd = inference_model(model, probe)  # forward passes only: the optimised copy
        probs = probabilities(fwd, xs, transform_config=tcfg, imaging_config=icfg,
                              batch_size=batch_size).cpu().numpy()
        for (b, kind, d, k), p in zip(jobs, probs, strict=True):
            v = float(p[int(tgt[b])])
            if kind == "morf":
                dele[b, k] = v
            elif kind == "lerf":
                lerf[b, k] = v
            elif kind == "ins":
                ins[b, k] = v
            elif kind == "ndel":
                n_dele[b, d, k] = v
            else:
                n_ins[b, d, k] = v
    p0 = e.probabilities[np.arange(n_b), e.target] if n_b else np.zeros(0)
    n_dele[:, :, 0] = p0[:, None]
    if null_insertion:
        for b in range(n_b):
            n_ins[b, :, 0] = ins[b, 0]
    return dele, lerf, ins, n_dele, n_ins, match


def _scores(e: Explanation, dele, lerf, ins, n_dele, n_ins, n_regions) -> dict:
    n_b = dele.shape[0]
    p0 = e.probabilities[np.arange(n_b), e.target]
    s = {k: np.full(n_b, np.nan) for k in (
        "deletion_auc", "deletion_lerf_auc", "insertion_auc", "null_deletion_auc",
        "null_insertion_auc", "top_drop", "null_top_drop", "top_drop_beaten",
        "top_drop_percentile", "deletion_auc_percentile", "insertion_auc_percentile")}
    s["p_target"] = p0.astype(np.float64)
    for b in range(n_b):
        r = int(n_regions[b])
        if r < 1:
            continue
        s["deletion_auc"][b] = _auc(dele[b], r)
        s["deletion_lerf_auc"][b] = _auc(lerf[b], r)
        null_auc = np.array([_auc(c, r) for c in n_dele[b]])
        s["null_deletion_auc"][b] = np.median(null_auc)
        s["deletion_auc_percentile"][b] = _midrank(s["deletion_auc"][b], null_auc,
                                                   higher_is_better=False)
        drop = p0[b] - dele[b, 1]
        null_drop = p0[b] - n_dele[b, :, 1]
        s["top_drop"][b] = drop
        s["null_top_drop"][b] = np.median(null_drop)
        s["top_drop_beaten"][b] = float(np.mean(null_drop < drop))
        s["top_drop_percentile"][b] = _midrank(drop, null_drop, higher_is_better=True)
        if not np.isnan(ins[b, 0]):
            s["insertion_auc"][b] = _auc(ins[b], r)
        if not np.isnan(n_ins[b, 0, 0]):
            null_iauc = np.array([_auc(c, r) for c in n_ins[b]])
            s["null_insertion_auc"][b] = np.median(null_iauc)
            s["insertion_auc_percentile"][b] = _midrank(s["insertion_auc"][b], null_iauc,
                                                        higher_is_better=True)
    return s


def _truth_scores(e: Explanation, comps: np.ndarray, labels: np.ndarray, truth,
                  given_labels, *, truth_mass: float) -> dict:
    planted, windows = truth
    n_b, n = planted.shape
    tcfg = e.transform_config
    out = {k: np.full(n_b, np.nan) for k in (
        "relevance_mass", "relevance_rank", "energy_in_window", "energy_in_window_top",
        "correlation")}
    has = np.any(planted != 0, axis=1)
    ok = has if given_labels is None else has & (e.predictions == given_labels)
    out["truth_valid"] = ok.astype(np.float64)
    if not has.any():
        return out
    txt = ssq_cwt(torch.from_numpy(planted[has]), tcfg).Tx.abs().pow(2).numpy()
    gt = threshold_map(txt, threshold="mass", value=truth_mass)
    axis = np.asarray(e.axis, np.float64)
    for j, b in enumerate(np.flatnonzero(has)):
        pos = np.clip(np.asarray(e.attribution[b], np.float64), 0, None)
        total = pos.sum()
        g = gt[j]
        if total > 0:
            out["relevance_mass"][b] = pos[g].sum() / total
            k = int(g.sum())
            top = np.argsort(pos, axis=None, kind="stable")[::-1][:k]
            out["relevance_rank"][b] = g.flat[top].mean() if k else np.nan
        lo, hi = np.sort(windows[b])
        inw = (axis >= lo) & (axis <= hi)
        union = comps[b].sum(0) if comps.shape[1] else np.zeros(n)
        for key, c in (("energy_in_window", union),
                       ("energy_in_window_top", comps[b, 0] if comps.shape[1] else union)):
            en = float(np.sum(c ** 2))
            out[key][b] = np.sum(c[inw] ** 2) / en if en > 0 else np.nan
        if np.ptp(union) > 0 and np.ptp(planted[b]) > 0:
            out["correlation"][b] = float(np.corrcoef(union, planted[b])[0, 1])
    return out


def _explain_method(model, x, method, *, common, method_options, keep_mass, max_regions,
                    target):
    """Explanation, labels, components and region counts for one method."""
    opts = dict(method_options.get(method, {}))
    if method == "time_gradient":
        e = explain(model, x, method="saliency", deletion=False, target=target, **common)
        grads = []
        bs = common["batch_size"]
        for s in range(0, e.n_samples, bs):
            r = time_gradient(model, torch.from_numpy(np.array(e.signals[s:s + bs])),
                              transform_config=e.transform_config,
                              imaging_config=e.imaging_config,
                              target=torch.from_numpy(np.array(e.target[s:s + bs])),
                              device=common["device"])
            grads.append(r.attribution.abs().cpu().numpy())
        g = np.concatenate(grads).astype(np.float64)
        n_f = e.Tx.shape[-2]
        attr = np.broadcast_to(g[:, None, :] / n_f, e.Tx.shape).copy()
        mopts = common["mask_options"]
        if mopts is None:
            mopts = default_mask_options(e.transform_config, e.imaging_config,
                                          e.signals.shape[-1])
        labels, comps, n_reg = _regions_of(e, attr, keep_mass=keep_mass,
                                           max_regions=max_regions,
                                           min_share=common["min_share"], mask_options=mopts,
                                           axis=e.axis)
        import dataclasses

        e = dataclasses.replace(e, attribution=attr, labels=labels,
                                components=comps[:, : max(int(n_reg.max(initial=0)), 0)],
                                method="time_gradient")
        return e, labels, e.components, n_reg
    base, opts = _method_spec(method, opts, model)
    if base in _REGION_METHODS and "feature_mask" not in opts:
        from .io import fit_length

        tcfg = resolve_configs(common["metadata"], common["transform_config"],
                                common["imaging_config"], None)[0]
        n = int(np.shape(x)[-1])
        if common["metadata"] is not None:
            n = int(fit_length(torch.zeros(1, n), common["metadata"]).shape[-1])
        opts["feature_mask"] = block_partition(tcfg.n_freqs(n), n)
    e = explain(model, x, method=base, deletion=False, target=target,
                attribute_options=opts or None, **common)
    if base != method:
        import dataclasses

        e = dataclasses.replace(e, method=method)
    n_reg = np.array([len(r) for r in e.regions], dtype=np.int64)
    return e, np.asarray(e.labels), np.asarray(e.components), n_reg


def _method_spec(method: str, opts: dict, model) -> tuple[str, dict]:
    """Split ``'saliency+smoothgrad'`` into ``('saliency', {'nt_type': 'smoothgrad'})``.

    Layer methods get ``layer=model.cam_layer`` when the model names one.
    """
    base, _, nt = method.partition("+")
    opts = dict(opts)
    if nt:
        opts.setdefault("nt_type", nt)
    if base in methods("layer") and "layer" not in opts:
        layer = getattr(model, "cam_layer", None)
        if layer is None:
            raise ValueError(f"method={method!r} needs a layer: pass method_options="
                             f"{{{method!r}: {{'layer': NAME}}}} or a model with cam_layer "
                             "(load_model(..., rebuild=True) for the bundled CNN)")
        opts["layer"] = layer
    return base, opts


def _check_method(method) -> None:
    if not isinstance(method, str):
        raise TypeError(f"method={method!r} must be a str")
    base, _, nt = method.partition("+")
    if method in BASELINES:
        return
    if base not in METHODS or (nt and (nt not in NT_TYPES or base not in _NT_METHODS)):
        raise ValueError(f"method={method!r} must be one of {METHODS + BASELINES}, or a "
                         f"gradient method + a noise tunnel ({', '.join(NT_TYPES)}), e.g. "
                         "'saliency+smoothgrad'")


def block_partition(n_freqs: int, n_times: int, *, rows: int = 8, cols: int = 16) -> np.ndarray:
    """Label image of ``rows x cols`` near-equal blocks (labels ``0 .. rows*cols - 1``).

    The default feature mask of the region-level methods (``'feature_ablation'``,
    ``'shapley_value_sampling'``) in :func:`evaluate`: each block is one player.

    Examples
    --------
    >>> block_partition(4, 6, rows=2, cols=3)
    array([[0, 0, 1, 1, 2, 2],
           [0, 0, 1, 1, 2, 2],
           [3, 3, 4, 4, 5, 5],
           [3, 3, 4, 4, 5, 5]])
    """
    r = np.minimum(np.arange(n_freqs) * rows // max(n_freqs, 1), rows - 1)
    c = np.minimum(np.arange(n_times) * cols // max(n_times, 1), cols - 1)
    return (r[:, None] * cols + c[None, :]).astype(np.int64)


def _randomization(model, x, method, e0: Explanation, comps0, *, mode, seed, explain_kw):
    names = randomizable_blocks(model)
    if not names:
        raise ValueError("the model has no parameterised blocks to randomise")
    order = names[::-1]  # top (output side) first
    steps = [order[: i + 1] for i in range(len(order))] if mode == "cascade" else [order]
    saved = {k: v.detach().clone() for k, v in model.named_parameters()}
    mods = dict(model.named_modules())
    gen = torch.Generator().manual_seed(int(seed))
    one_d0 = np.abs(comps0.sum(1)) if comps0.shape[1] else np.zeros(e0.signals.shape)
    sp, ss, st = [], [], []
    try:
        done = set()
        for step in steps:
            for name in step:
                if name not in done:
                    _randomize_(mods[name], gen)
                    done.add(name)
            e, _, comps, _ = _explain_method(model, x, method, target=e0.target, **explain_kw)
            one_d = np.abs(comps.sum(1)) if comps.shape[1] else np.zeros(e0.signals.shape)
            sp.append([_spearman(a, b) for a, b in zip(one_d0, one_d, strict=True)])
            ss.append([_ssim_1d(a, b) for a, b in zip(one_d0, one_d, strict=True)])
            st.append([_spearman(np.ravel(a), np.ravel(b))
                       for a, b in zip(e0.attribution, e.attribution, strict=True)])
    finally:
        with torch.no_grad():
            for k, v in model.named_parameters():
                v.copy_(saved[k])
    return {"steps": [", ".join(s) for s in steps], "spearman": np.asarray(sp, np.float64),
            "ssim": np.asarray(ss, np.float64), "spearman_tf": np.asarray(st, np.float64)}


def evaluate(
    model: torch.nn.Module,
    x,
    *,
    metadata=None,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    class_names: Sequence[str] | None = None,
    methods: Sequence[str] | str = ("integrated_gradients",),
    target="predicted",
    labels=None,
    axis=None,
    truth=None,
    n_null: int = 50,
    energy_tolerance: float = 0.25,
    max_overlap: float = 0.5,
    insertion: bool = True,
    null_insertion: bool = False,
    randomization: str = "cascade",
    truth_mass: float = 0.9,
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    n_steps: int = 32,
    mask_options: Mapping | None = None,
    method_options: Mapping | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
) -> Evaluation:
    """Test explanations: round-trip deletion against a matched null, ground truth, sanity.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier of images (see :func:`~saliency2signal.explain`). Its parameters are
        changed during the randomisation check and restored afterwards.
    x : array_like, shape (n_times,) or (B, n_times)
        Real signals.
    metadata, transform_config, imaging_config, class_names, target, labels, axis
        As for :func:`~saliency2signal.explain`.
    methods : str or sequence of str
        Attribution methods (:data:`~saliency2signal.saliency.METHODS`), a gradient
        method with a noise tunnel (``'saliency+smoothgrad'``: SmoothGrad) and baselines
        (:data:`BASELINES`); each is evaluated on the same signals and targets. Layer
        methods use ``model.cam_layer`` unless ``method_options`` names a ``layer``;
        ``'feature_ablation'`` and ``'shapley_value_sampling'`` score the blocks of
        :func:`block_partition` unless ``method_options`` gives a ``feature_mask``.
    truth : PlantedSpectra or mapping, optional
        Ground truth with ``components`` ``(B, n_times)`` (the planted component of each
        signal, zeros where none was planted) and ``windows`` ``(B, 2)`` (in axis units).
        The signals must be given at the model's length. When ``axis`` is None the
        truth's own ``axis`` (if it has one, as :class:`~saliency2signal.datasets.PlantedSpectra`
        does) is used; a different ``axis`` or a window outside it is an error.
    n_null : int
        Random regions drawn per explanation region (>= 1; the protocol asks for 50).
    energy_tolerance : float
        Relative coefficient-energy tolerance of a matched random region.
    max_overlap : float
        Largest share of a region a random draw may overlap.
    insertion : bool
        Also measure insertion curves.
    null_insertion : bool
        Also run the matched null for the insertion curves (doubles the forward passes
        of the null; the deletion null is always run).
    randomization : {'cascade', 'full', 'none'}
        Cascading randomisation (one step per block, top first), all blocks at once, or
        no sanity check.
    truth_mass : float
        Share of the planted component's coefficient energy that defines the
        ground-truth cells.
    keep_mass, max_regions, min_share, n_steps, mask_options
        As for :func:`~saliency2signal.explain`.
    method_options : mapping of str to mapping, optional
        Extra :func:`~saliency2signal.saliency.attribute` arguments per method, e.g.
        ``{'saliency': {'nt_type': 'smoothgrad'}}``.
    seed : int
        Seeds the null draws and the randomisation.
    batch_size : int
        Signals per attribution call; forward passes use ``8 * batch_size``.
    device : str or torch.device
    progress : callable, optional
        ``progress(stage, done, total)`` after each method and stage.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        Unknown methods or randomisation mode, ``n_null < 1``, tolerances out of range,
        truth of the wrong shape; plus everything :func:`~saliency2signal.explain`
        raises.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> t = np.arange(128)
    >>> x = np.stack([np.exp(-0.5 * ((t - c) / 3.0) ** 2) for c in (40, 80)])
    >>> ev = evaluate(model, x.astype(np.float32), transform_config=SSQConfig(nv=8),
    ...               imaging_config=ImagingConfig(normalize="none", size=(16, 16)),
    ...               n_null=5, max_regions=2, n_steps=8, randomization="full")
    >>> row = ev.table()[0]
    >>> row["method"], row["n_samples"], 0 <= row["deletion_auc"] <= 1
    ('integrated_gradients', 2, True)
    """
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods:
        raise ValueError("methods is empty")
    for m in methods:
        _check_method(m)
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods={methods!r} repeats a method")
    if randomization not in _RANDOMIZATION:
        raise ValueError(f"randomization={randomization!r} must be one of {_RANDOMIZATION}")
    for name, v in (("n_null", n_null), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}={v!r} must be an int")
    if n_null < 1:
        raise ValueError(f"n_null={n_null} must be >= 1")
    for name, v, lo, hi in (("energy_tolerance", energy_tolerance, 0.0, math.inf),
                            ("max_overlap", max_overlap, 0.0, 1.0),
                            ("truth_mass", truth_mass, 0.0, 1.0)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v <= hi:
            raise ValueError(f"{name}={v!r} must be a number in ({lo}, {hi}]")
    method_options = dict(method_options or {})
    for k in method_options:
        if k not in methods:
            raise ValueError(f"method_options names {k!r}, which is not in methods")
    dev = torch.device(device)
    axis = _truth_axis(truth, axis)
    common = dict(metadata=metadata, transform_config=transform_config,
                  imaging_config=imaging_config, class_names=class_names, labels=labels,
                  axis=axis, keep_mass=keep_mass, max_regions=max_regions,
                  min_share=min_share,
                  batch_size=batch_size, device=dev, n_steps=n_steps,
                  mask_options=mask_options)
    rng = np.random.default_rng(seed)
    results = {}
    first = None
    truth_arr = None
    for i, method in enumerate(methods):
        start = time.perf_counter()
        tgt = target if first is None else first.target
        e, labels_b, comps, n_reg = _explain_method(
            model, x, method, common=common, method_options=method_options,
            keep_mass=keep_mass, max_regions=max_regions, target=tgt)
        if first is None:
            first = e
            truth_arr = _resolve_truth(truth, e.n_samples, e.signals.shape[-1])
            if truth_arr is not None:
                _check_windows(truth_arr[1], truth_arr[0], e.axis)
        if progress is not None:
            progress(f"{method}: explained", i + 1, len(methods))
        curves = _curves(model, e, labels_b, n_reg, n_null=int(n_null), rng=rng,
                         tolerance=float(energy_tolerance), max_overlap=float(max_overlap),
                         insertion=insertion, null_insertion=insertion and null_insertion,
                         batch_size=8 * batch_size, device=dev)
        scores = _scores(e, *curves[:5], n_reg)
        if truth_arr is not None:
            scores.update(_truth_scores(e, comps, labels_b, truth_arr, e.given_labels,
                                        truth_mass=float(truth_mass)))
        if progress is not None:
            progress(f"{method}: deletion and null", i + 1, len(methods))
        rand = None
        if randomization != "none":
            rand = _randomization(
                model, x, method, e, comps, mode=randomization, seed=seed,
                explain_kw=dict(common=common, method_options=method_options,
                                keep_mass=keep_mass, max_regions=max_regions))
            if progress is not None:
                progress(f"{method}: randomisation", i + 1, len(methods))
        results[method] = MethodEvaluation(
            method=method, explanation=e, n_regions=n_reg, deletion=curves[0],
            deletion_lerf=curves[1], insertion=curves[2] if insertion else curves[2] * np.nan,
            null_deletion=curves[3], null_insertion=curves[4], energy_match=curves[5],
            scores=scores, randomization=rand, seconds=time.perf_counter() - start)
    settings = {"methods": list(methods), "n_null": int(n_null),
                "energy_tolerance": float(energy_tolerance), "max_overlap": float(max_overlap),
                "insertion": bool(insertion),
                "null_insertion": bool(insertion and null_insertion),
                "randomization": randomization,
                "truth": truth is not None, "truth_mass": float(truth_mass),
                "keep_mass": float(keep_mass), "max_regions": int(max_regions),
                "min_share": float(min_share),
                "n_steps": int(n_steps), "seed": int(seed),
                "target_mode": first.target_mode,
                "transform": first.transform_config.to_dict(),
                "imaging": first.imaging_config.to_dict(),
                "method_options": json.loads(json.dumps(method_options, default=str))}
    return Evaluation(methods=results, class_names=first.class_names, target=first.target,
                      given_labels=first.given_labels, settings=settings)

