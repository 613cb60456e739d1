r"""The figures of one signal's report page, drawn from plain data, in worker processes too.

- :func:`figure_job`: all that signal ``b``'s figures need, as numpy arrays and plain
  Python values (picklable: no result class, no tensor, no open file).
- :func:`spectrum_figure`, :func:`planes_figure`, :func:`profile_figure`: its three
  figures; :func:`draw_panel`, one panel of them on given Axes
  (:meth:`Explanation.plot`).
- :func:`render`: write the three PNGs of one job; :func:`render_all`: every signal's,
  in this process or in worker processes (``spawn``: a fresh interpreter, never a fork of
  a process whose torch may have started threads), the same bytes either way.

Readable by a spectroscopist: colorbars on the planes, saying what the colour means and
in which units; one colour per region (:func:`~saliency2signal.plot.region_color`)
shared by its contour, its shaded x-range and its component, with a key; each component
on its own scale beside the spectrum's segment under the region (on the spectrum's scale
it would look flat); every axis labelled, units typeset (``$\mathrm{cm}^{-1}$``); legends
right of the panels, over no data; with an axis, the planes' frequency axis reads as the
peak width a row matches, in the axis's units.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, matplotlib (inside functions), the standard library, ``plot``,
``transform`` and the sibling ``_overview`` (typeset units); never the result classes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pathlib
import re
import sys
import textwrap
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np

from ..plot import region_color
from ..transform import SSQConfig
from ._overview import axis_label, tex_units

__all__ = [
    "PANELS",
    "PARALLEL_MIN",
    "draw_panel",
    "figure_job",
    "has_axis",
    "n_workers",
    "planes_figure",
    "profile_figure",
    "render",
    "render_all",
    "spectrum_figure",
]

#: What :func:`draw_panel` can draw.
PANELS = ("overlay", "components", "scalogram", "attribution", "profile")
#: Below this many signals, ``workers=None`` draws in this process (starting workers,
#: each importing the package, costs more than it saves).
PARALLEL_MIN = 12
#: The rcParams every report figure is drawn under, here and in the workers alike.
_STYLE = "default"
_DPI = 100
#: Margins in inches: left, right (room for legends and colorbars), top, bottom.
_LEFT, _RIGHT, _TOP, _BOTTOM = 1.05, 2.3, 0.55, 0.55
_WIDTH = 9.5


def has_axis(name: str, units: str) -> bool:
    """Whether a physical x axis was given (not the default sample index)."""
    return not (name == "sample" and units == "samples")


def figure_job(e, b: int) -> dict:
    """Return what the figures of signal ``b`` of the explanation ``e`` need, as plain data."""
    regs = e.regions[b]
    comps = e.components if e.contrasts is None else e.contrasts
    names = e.class_names
    cfg = e.transform_config
    return {
        "index": int(b),
        "stem": f"sample_{b:04d}",
        "axis": np.asarray(e.axis, dtype=np.float64),
        "axis_name": e.axis_name,
        "axis_units": e.axis_units,
        "signal": np.asarray(e.signals[b], dtype=np.float64),
        "reference": None if e.references is None else np.asarray(e.references[b]),
        "reference_name": (
            "reference" if e.foils is None else f"reference: mean of {names[int(e.foils[b])]}"
        ),
        "baseline": None if e.lowpass_in_image else np.asarray(e.lowpass[b]),
        "components": np.asarray(comps[b, : len(regs)], dtype=np.float64),
        "component_name": "component" if e.contrasts is None else "contrast",
        "regions": [_region_record(r, e, b) for r in regs],
        "tx": np.abs(e.Tx[b]).astype(np.float32),
        "attribution": np.asarray(e.attribution[b], dtype=np.float32),
        "labels": np.asarray(e.labels[b], dtype=np.int16),
        "profile": np.asarray(e.profile[b], dtype=np.float64),
        "transform": {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)},
        "method": e.method,
        "title": _prediction_line(e, b),
        "what": "output" if e.task == "regression" else "class",
    }


def _region_record(r, e, b: int) -> dict:
    """Return a region's label, x-range and the two lines of its panel title."""
    lo, hi = r.x_range
    units = f" {tex_units(e.axis_units)}" if e.axis_units else ""
    head = (
        f"region {r.label}: {e.axis_name} {lo:.4g} – {hi:.4g}{units}, "
        f"{100 * r.region.mass_share:.0f} % of the attribution"
    )
    effect = ""
    if r.drop is not None:
        what = "p" if e.task != "regression" else e.class_names[int(e.target[b])]
        effect = f"deleting it: {what} {r.p_before:.4g} → {r.p_after:.4g}"
        if r.contradicting:
            effect += f" (contradicting: deleting it raises {what})"
    return {
        "label": int(r.label),
        "x_range": (float(lo), float(hi)),
        "title": head,
        "effect": effect,
        "contradicting": bool(r.contradicting),
    }


def _prediction_line(e, b: int) -> str:
    names = e.class_names
    t = int(e.target[b])
    if e.probabilities is None:
        return f"signal {b}: heatmap of {names[t]} (no model given)"
    p = int(e.predictions[b])
    if e.task == "regression":
        unit = f" {e.output_units[t]}" if e.output_units and e.output_units[t] else ""
        return f"signal {b}: {names[t]} = {e.probabilities[b, t]:.4g}{unit}"
    return (
        f"signal {b}: predicted {names[p]} (p = {e.probabilities[b, p]:.3f}); "
        f"explaining {names[t]} (p = {e.probabilities[b, t]:.3f})"
    )


# ------------------------------------------------------------------ panels
def _xlabel(job: dict) -> str:
    return axis_label(job["axis_name"], job["axis_units"])


def _keep_direction(ax, xs: np.ndarray, lo=None, hi=None) -> None:
    """Limit x to ``lo``-``hi`` (default all of ``xs``), kept descending if ``xs`` is."""
    lo = float(np.min(xs)) if lo is None else lo
    hi = float(np.max(xs)) if hi is None else hi
    ax.set_xlim((hi, lo) if len(xs) > 1 and xs[0] > xs[-1] else (lo, hi))


def _shade(ax, job: dict, *, numbers: bool = False) -> None:
    """Shade each region's x-range in its colour (numbered at the top with ``numbers``)."""
    for r in job["regions"]:
        lo, hi = sorted(r["x_range"])
        color = region_color(r["label"])
        ax.axvspan(lo, hi, color=color, alpha=0.2, lw=0)
        if numbers:
            ax.text(
                (lo + hi) / 2,
                1.0,
                str(r["label"]),
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color=color,
                fontweight="bold",
            )


def _plane(ax, job: dict, kind: str):
    """Draw |Tx| or the positive attribution with the region contours; return the mesh."""
    from .. import plot

    cfg = SSQConfig(**job["transform"])
    if kind == "scalogram":
        mesh = plot.scalogram(job["tx"], cfg, ax=ax, axis=job["axis"], labels=job["labels"])
    else:
        mesh = plot.scalogram(
            np.clip(job["attribution"], 0, None),
            cfg,
            ax=ax,
            axis=job["axis"],
            labels=job["labels"],
            power=0.5,
            cmap="viridis",
        )
    if has_axis(job["axis_name"], job["axis_units"]):
        _width_ticks(ax, cfg, job)
    ax.set_xlabel(_xlabel(job))
    _keep_direction(ax, job["axis"])
    return mesh


def _width_ticks(ax, cfg: SSQConfig, job: dict) -> None:
    """Label the frequency axis by the peak width each row matches, in axis units.

    A row at ``f`` matches a peak ``fs / (2 f)`` samples wide (the regions' ``width_x``
    rule of thumb): ``|dx| fs / (2 f)`` axis units, ``|dx|`` the mean axis step.
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    xs = job["axis"]
    n = len(xs)
    step = float(np.abs(np.diff(xs)).mean()) if n > 1 else 1.0
    fe = cfg.freq_edges(n)
    f_lo, f_hi = float(fe[1] if cfg.lowpass_row else fe[0]), float(fe[-1])
    if f_lo <= 0:
        f_lo = float(fe[1])
    w_lo, w_hi = step * cfg.fs / (2 * f_hi), step * cfg.fs / (2 * f_lo)
    ticks = [
        m * 10.0**k
        for k in range(int(np.floor(np.log10(w_lo))), int(np.ceil(np.log10(w_hi))) + 1)
        for m in (1, 2, 5)
        if w_lo <= m * 10.0**k <= w_hi
    ]
    ax.yaxis.set_major_locator(FixedLocator([step * cfg.fs / (2 * w) for w in ticks]))
    ax.yaxis.set_major_formatter(FixedFormatter([f"{w:g}" for w in ticks]))
    ax.yaxis.set_minor_locator(NullLocator())
    units = tex_units(job["axis_units"])
    ax.set_ylabel(f"peak width a row\nmatches ({units})" if units else "peak width")


def _draw_profile(ax, job: dict):
    xs, p = job["axis"], job["profile"]
    _shade(ax, job)
    what = job["what"]
    ax.fill_between(xs, p, 0, where=p >= 0, color="C3", alpha=0.6, lw=0, label=f"for the {what}")
    ax.fill_between(xs, p, 0, where=p < 0, color="C0", alpha=0.6, lw=0, label="against it")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel(_xlabel(job))
    ax.set_ylabel("attribution\n(sum over frequency)")
    _keep_direction(ax, xs)
    return ax


def _draw_lines(ax, job: dict, kind: str):
    """Draw the signal with its components overlaid (``overlay``) or the components alone."""
    xs = job["axis"]
    if kind == "overlay":
        ax.plot(xs, job["signal"], color="0.5", lw=0.9, label="signal")
        if job["reference"] is not None:
            ax.plot(
                xs, job["reference"], color="0.3", lw=0.8, ls="--", label=job["reference_name"]
            )
        _shade(ax, job)
    name = job["component_name"]
    for r, c in zip(job["regions"], job["components"], strict=True):
        ax.plot(xs, c, color=region_color(r["label"]), lw=1.2, label=f"{name} {r['label']}")
    if kind == "components" and not job["regions"]:
        ax.text(0.5, 0.5, "no regions", transform=ax.transAxes, ha="center")
    ax.set_xlabel(_xlabel(job))
    ax.set_ylabel("signal" if kind == "overlay" else f"{name}\n(signal units)")
    _keep_direction(ax, xs)
    return ax


def _legend_right(ax, **kwargs):
    """Put a legend right of the axes (over no data), if anything is labelled."""
    handles, labels = kwargs.pop("handles", None), kwargs.pop("labels", None)
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    labels = [textwrap.fill(t, 24, subsequent_indent="  ", break_long_words=False) for t in labels]
    if handles:
        ax.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0,
            fontsize=8,
            frameon=False,
            **kwargs,
        )


def draw_panel(ax, job: dict, kind: str):
    """Draw one panel of a signal's figures on ``ax`` (see :meth:`Explanation.plot`).

    The planes get a colorbar beside ``ax`` (taking room from it); the other kinds a
    legend right of it.
    """
    if kind in ("scalogram", "attribution"):
        mesh = _plane(ax, job, kind)
        ax.figure.colorbar(mesh, ax=ax, label=_colorbar_label(job, kind))
        return ax
    if kind == "profile":
        _draw_profile(ax, job)
    else:
        _draw_lines(ax, job, kind)
    _legend_right(ax)
    return ax


def _colorbar_label(job: dict, kind: str) -> str:
    if kind == "scalogram":
        return "|Tx| (signal units;\ncolour ∝ √|Tx|)"
    return f"attribution per cell\nfor the {job['what']} (colour ∝ √)"


# ------------------------------------------------------------------ figures
def _axes(fig, left: float, bottom: float, width: float, height: float):
    """Add Axes at a rectangle given in inches from the figure's bottom left."""
    w, h = fig.get_size_inches()
    return fig.add_axes((left / w, bottom / h, width / w, height / h))


def _region_handles(job: dict) -> list:
    from matplotlib.patches import Patch

    return [
        Patch(
            color=region_color(r["label"]),
            alpha=0.6,
            label=f"region {r['label']}" + (" (contradicting)" if r["contradicting"] else ""),
        )
        for r in job["regions"]
    ]


def spectrum_figure(job: dict):
    """Draw the spectrum with its regions, then per region its segment and its component.

    Top: the whole signal, each region's x-range shaded in its colour and numbered, a
    key of the regions and of the lines right of it. Below, one row per region: left,
    the signal over the region (x-range padded by half its width on each side), right,
    the region's component (or contrast) over the same x-range on its own scale.
    """
    from matplotlib.figure import Figure

    regs, xs = job["regions"], job["axis"]
    row_h, row_gap, top_h = 1.25, 1.05, 1.9
    height = _TOP + top_h + len(regs) * (row_h + row_gap) + _BOTTOM + 0.25
    fig = Figure(figsize=(_WIDTH, height))
    width = _WIDTH - _LEFT - _RIGHT
    ax = _axes(fig, _LEFT, height - _TOP - top_h, width, top_h)
    ax.plot(xs, job["signal"], color="0.35", lw=0.9, label="signal")
    if job["reference"] is not None:
        ax.plot(xs, job["reference"], color="0.2", lw=0.8, ls="--", label=job["reference_name"])
    if job["baseline"] is not None:
        ax.plot(xs, job["baseline"], color="0.55", lw=0.8, ls=":", label="low-pass (not imaged)")
    _shade(ax, job, numbers=True)
    ax.set_ylabel("signal")
    ax.set_xlabel(_xlabel(job))
    _keep_direction(ax, xs)
    handles, labels = ax.get_legend_handles_labels()
    regions = _region_handles(job)
    _legend_right(ax, handles=handles + regions, labels=labels + [h.get_label() for h in regions])
    if not regs:
        ax.set_title("no region above the threshold", fontsize=10, loc="left")
    left_w = 0.56 * width
    right_x = _LEFT + left_w + 1.05
    for k, (r, comp) in enumerate(zip(regs, job["components"], strict=True)):
        y = height - _TOP - top_h - (k + 1) * (row_h + row_gap)
        seg = _axes(fig, _LEFT, y, left_w, row_h)
        own = _axes(fig, right_x, y, _LEFT + width - right_x, row_h)
        _region_row(seg, own, job, r, comp)
    fig.suptitle(job["title"], fontsize=10, y=1 - 0.12 / height, va="top")
    return fig


def _region_row(seg, own, job: dict, r: dict, comp: np.ndarray) -> None:
    """Draw one region's segment of the signal (``seg``) and its component (``own``)."""
    xs = job["axis"]
    color = region_color(r["label"])
    lo, hi = sorted(r["x_range"])
    step = float(np.abs(np.diff(xs)).mean()) if len(xs) > 1 else 1.0
    pad = max(0.5 * (hi - lo), 3 * step)
    a, b = max(lo - pad, float(xs.min())), min(hi + pad, float(xs.max()))
    inside = (xs >= a) & (xs <= b)
    for ax in (seg, own):
        ax.axvspan(lo, hi, color=color, alpha=0.2, lw=0)
        _keep_direction(ax, xs, a, b)
        ax.set_xlabel(_xlabel(job), fontsize=9)
    seg.plot(xs[inside], job["signal"][inside], color="k", lw=1.2)
    if job["reference"] is not None:
        seg.plot(xs[inside], job["reference"][inside], color="0.3", lw=0.8, ls="--")
    seg.set_ylabel("signal")
    own.plot(xs[inside], comp[inside], color=color, lw=1.5)
    own.axhline(0, color="0.6", lw=0.6)
    own.set_ylabel(f"{job['component_name']}\n(own scale)")
    seg.set_title(
        r["title"] + ("\n" + r["effect"] if r["effect"] else ""),
        fontsize=9,
        loc="left",
        color="#7a4d00" if r["contradicting"] else "k",
    )


def planes_figure(job: dict):
    """|Tx| above the positive attribution, each with a colorbar; contours in region colours."""
    from matplotlib.figure import Figure

    panel_h, gap = 2.6, 0.5
    height = _TOP + 2 * panel_h + gap + _BOTTOM
    # as wide a plane as the other figures' panels, and room for colorbars and the key
    fig_w = _WIDTH + 0.7
    fig = Figure(figsize=(fig_w, height))
    width = _WIDTH - _LEFT - _RIGHT
    top = _axes(fig, _LEFT, height - _TOP - panel_h, width, panel_h)
    bottom = _axes(fig, _LEFT, _BOTTOM, width, panel_h)
    bottom.sharex(top)
    for ax, kind, title in (
        (top, "scalogram", "|Tx| with the region contours"),
        (bottom, "attribution", f"attribution ({job['method']}, positive part)"),
    ):
        mesh = _plane(ax, job, kind)
        pos = ax.get_position()
        cax = fig.add_axes((pos.x1 + 0.12 / fig_w, pos.y0, 0.15 / fig_w, pos.height))
        fig.colorbar(mesh, cax=cax, label=_colorbar_label(job, kind))
        ax.set_title(title, fontsize=10, loc="left")
    _hide_shared_x(top)
    regions = _region_handles(job)
    if regions:
        top.legend(
            handles=regions,
            labels=[
                textwrap.fill(h.get_label(), 10, subsequent_indent="  ", break_long_words=False)
                for h in regions
            ],
            loc="upper left",
            bbox_to_anchor=(1.0 + 1.15 / width, 1.0),
            borderaxespad=0,
            fontsize=8,
            frameon=False,
            title="contours",
            title_fontsize=8,
        )
    fig.suptitle(job["title"], fontsize=10, y=1 - 0.05 / height, va="top")
    return fig


def profile_figure(job: dict):
    """Draw the components (their own scale) above the attribution profile along x."""
    from matplotlib.figure import Figure

    panel_h, gap = 2.0, 0.45
    height = _TOP + 2 * panel_h + gap + _BOTTOM
    fig = Figure(figsize=(_WIDTH, height))
    width = _WIDTH - _LEFT - _RIGHT
    top = _axes(fig, _LEFT, height - _TOP - panel_h, width, panel_h)
    bottom = _axes(fig, _LEFT, _BOTTOM, width, panel_h)
    bottom.sharex(top)
    draw_panel(top, job, "components")
    draw_panel(bottom, job, "profile")
    _hide_shared_x(top)
    top.set_title(f"{job['component_name']}s of the regions", fontsize=10, loc="left")
    bottom.set_title(
        "attribution profile along x (sum over frequency, signed)", fontsize=10, loc="left"
    )
    fig.suptitle(job["title"], fontsize=10, y=1 - 0.05 / height, va="top")
    return fig


def _hide_shared_x(ax) -> None:
    """Drop the x label and tick labels of a panel whose x axis is the one below's."""
    ax.set_xlabel("")
    ax.tick_params(labelbottom=False)


#: Figure kind -> drawing function.
_FIGURES = {
    "spectrum": spectrum_figure,
    "scalogram": planes_figure,
    "components": profile_figure,
}


def render(job: dict, folder) -> dict[str, str]:
    """Write the three PNGs of one job into ``folder``; return kind -> file name."""
    import matplotlib.style

    out = {}
    with matplotlib.style.context(_STYLE):
        for kind, make in _FIGURES.items():
            name = f"{job['stem']}_{kind}.png"
            make(job).savefig(pathlib.Path(folder) / name, dpi=_DPI)
            out[kind] = name
    return out


def _spawnable() -> bool:
    """Whether spawned workers can start without running the caller's script again.

    A spawned process imports ``__main__`` again (as ``__mp_main__``), from its file:
    a script without an ``if __name__ == "__main__":`` guard would run again in every
    worker (its explanation too), and one read from standard input has no file to
    import. Such callers get their figures drawn here. A package's ``__main__``
    (``python -m``) is not imported again, nor is an interactive session or notebook.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if path is None or (spec is not None and spec.name.endswith("__main__")):
        return True
    try:
        source = pathlib.Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"__name__\s*==\s*['\"]__main__['\"]", source) is not None


def n_workers(n: int, workers: int | None) -> int:
    """Return how many processes draw ``n`` signals' figures (1: this one)."""
    if workers is None:
        return 1 if n < PARALLEL_MIN else max(1, min(4, os.cpu_count() or 1, n))
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(f"workers={workers!r} must be an int or None")
    if workers < 1:
        raise ValueError(f"{workers=} must be >= 1")
    return max(1, min(int(workers), n))


def render_all(jobs, folder, *, n: int, workers: int | None = None) -> list[dict[str, str]]:
    """Write every job's PNGs; return, per signal in order, kind -> file name.

    ``jobs`` is an iterable of :func:`figure_job` records (made as they are drawn, so at
    most a few signals' planes are held at once). With more than one worker
    (:func:`n_workers`), the jobs go to a pool of ``spawn`` processes, a few ahead of
    the drawing; each process draws with the same style and the same code, so the files
    are the same bytes as drawn here.
    """
    k = n_workers(n, workers)
    if k == 1 or not _spawnable():
        return [render(job, folder) for job in jobs]
    out: list = [None] * n
    pool = ProcessPoolExecutor(max_workers=k, mp_context=multiprocessing.get_context("spawn"))
    pending: dict = {}
    try:
        for i, job in enumerate(jobs):
            if len(pending) >= 2 * k:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    out[pending.pop(f)] = f.result()
            pending[pool.submit(render, job, str(folder))] = i
        for f in list(pending):
            out[pending.pop(f)] = f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out
