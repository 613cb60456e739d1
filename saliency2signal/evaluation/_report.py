"""The report of an evaluation: figures, CSV tables and the folder :meth:`save` writes.

- :func:`plot_curves`, :func:`plot_metrics`, :func:`plot_randomization`: the figures
  behind :class:`~saliency2signal.evaluation.Evaluation`'s ``plot_*`` methods
  (``matplotlib.figure.Figure``, never pyplot; matplotlib is imported only here, and
  only when a figure is drawn).
- :func:`csv_text`: rows of dicts as CSV.
- :func:`write_folder`: ``summary.csv``, ``samples.csv``, ``evaluation.json``,
  ``curves.npz`` and the figures, into a (temporary) folder.

May import: numpy, matplotlib (lazily), ``evaluation._metrics``; never
``evaluation._result`` at run time (it imports this) or ``evaluation._core``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

import numpy as np

from ._metrics import nanmean_curve, null_band

if TYPE_CHECKING:
    from ._result import Evaluation, MethodEvaluation

__all__ = ["csv_text", "plot_curves", "plot_metrics", "plot_randomization", "write_folder"]


def _axes(ax, figsize):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").subplots()


def plot_curves(m: MethodEvaluation, *, ax=None):
    """Plot one method's deletion (MoRF, LeRF) and insertion curves, null's 5–95 % band."""
    ax = _axes(ax, (6, 4))
    k = np.arange(m.deletion.shape[1])
    for key, null_key, color, label in (
        ("deletion", "null_deletion", "C3", "deletion, most relevant first"),
        ("insertion", "null_insertion", "C0", "insertion, most relevant first"),
    ):
        band = null_band(getattr(m, null_key))
        if not np.all(np.isnan(band["median"])):
            ax.fill_between(k, band["q05"], band["q95"], color=color, alpha=0.15, lw=0)
            ax.plot(
                k,
                band["median"],
                color=color,
                ls=":",
                lw=1,
                label=f"{key}: matched random regions (median, 5-95 %)",
            )
        ax.plot(k, nanmean_curve(getattr(m, key)), color=color, marker="o", label=label)
    ax.plot(
        k,
        nanmean_curve(m.deletion_lerf),
        color="C3",
        ls="--",
        marker=".",
        label="deletion, least relevant first",
    )
    ax.set_xlabel("regions removed / inserted")
    ax.set_ylabel("p(target class), mean over signals")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(k)
    ax.set_title(m.method, fontsize=10, loc="left")
    ax.legend(fontsize=7)
    return ax


def plot_metrics(rows: list[dict], *, ax=None):
    """One group of bars per summary row (method): the main scores in [0, 1]."""
    ax = _axes(ax, (max(5, 1.6 * len(rows) + 2), 4))
    keys = [
        ("share_top_drop_beats_95", "top drop beats 95 % of null"),
        ("deletion_auc", "deletion AUC"),
        ("null_deletion_auc", "null deletion AUC"),
        ("insertion_auc", "insertion AUC"),
    ]
    if any("energy_in_window" in r for r in rows):
        keys.append(("energy_in_window", "energy in planted window"))
    if any(r.get("randomized_spearman") is not None for r in rows):
        keys.append(("randomized_spearman", "Spearman after randomisation"))
    width = 0.8 / len(keys)
    for j, (key, label) in enumerate(keys):
        vals = [np.nan if r.get(key) is None else r[key] for r in rows]
        ax.bar(np.arange(len(rows)) + (j - (len(keys) - 1) / 2) * width, vals, width, label=label)
    ax.set_xticks(np.arange(len(rows)), [r["method"] for r in rows], rotation=20, fontsize=8)
    ax.set_ylim(-0.05, 1.05)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.legend(fontsize=7)
    return ax


def plot_randomization(methods: dict[str, MethodEvaluation], *, ax=None):
    """Mean Spearman correlation (1D) with the original explanation per cascade step."""
    ax = _axes(ax, (6, 4))
    for name, m in methods.items():
        if m.randomization is None:
            continue
        r = m.randomization
        ax.plot(
            np.arange(1, len(r["steps"]) + 1), np.nanmean(r["spearman"], 1), marker="o", label=name
        )
        ticks = [s.split(",")[-1].strip() for s in r["steps"]]
    if ax.lines:
        ax.set_xticks(np.arange(1, len(ticks) + 1), ticks, rotation=30, fontsize=7)
    ax.axhline(0.3, color="0.5", ls="--", lw=0.8)
    ax.set_xlabel("blocks randomised (top first; last one named)")
    ax.set_ylabel("Spearman with original (1D)")
    ax.set_ylim(-0.3, 1.05)
    ax.legend(fontsize=7)
    return ax


def csv_text(rows: list[dict]) -> str:
    """CSV of rows with the first row's columns (``None`` as an empty cell)."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def _write_figures(ev: Evaluation, folder) -> None:
    from matplotlib.figure import Figure

    for name, m in ev.methods.items():
        fig = Figure(figsize=(6.5, 4.5), layout="constrained")
        plot_curves(m, ax=fig.subplots())
        fig.savefig(folder / f"curves_{name}.png", dpi=100)
    fig = Figure(figsize=(max(6, 1.6 * len(ev.methods) + 2), 4.5), layout="constrained")
    plot_metrics(ev.table(), ax=fig.subplots())
    fig.savefig(folder / "metrics.png", dpi=100)
    if any(m.randomization is not None for m in ev.methods.values()):
        fig = Figure(figsize=(6.5, 4.5), layout="constrained")
        plot_randomization(ev.methods, ax=fig.subplots())
        fig.savefig(folder / "randomization.png", dpi=100)


def write_folder(ev: Evaluation, folder, *, figures: bool) -> None:
    """Write the tables, the JSON, the curves and (with ``figures``) the figures."""
    (folder / "summary.csv").write_text(csv_text(ev.table()), encoding="utf-8")
    (folder / "samples.csv").write_text(csv_text(ev.samples_table()), encoding="utf-8")
    (folder / "evaluation.json").write_text(json.dumps(ev.to_json(), indent=1), encoding="utf-8")
    arrays = {}
    for name, m in ev.methods.items():
        for key in (
            "deletion",
            "deletion_lerf",
            "insertion",
            "null_deletion",
            "null_insertion",
            "n_regions",
        ):
            arrays[f"{name}__{key}"] = getattr(m, key)
    with open(folder / "curves.npz", "wb") as fh:
        np.savez_compressed(fh, **arrays)
    if figures:
        _write_figures(ev, folder)
