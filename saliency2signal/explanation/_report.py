"""The report of an explanation: its figures, its HTML page and its folder's files.

- :func:`draw`: one signal's explanation on one Axes (:meth:`Explanation.plot`).
- :func:`write_report`: the files of a report folder (:meth:`Explanation.save` writes
  them into a temporary folder and renames it into place): ``report.json``,
  ``summary.csv``, ``components.npz``, ``index.html`` (the overview first, then one
  section per signal), one overview PNG per explained class and three PNG figures per
  signal.

The explanation is passed in; nothing here imports the result classes, so they can
import this. matplotlib is imported inside the functions that draw.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, matplotlib (inside functions), ``_validation``, ``plot`` and its
siblings ``_overview`` and ``_summary`` (the page's first section, ``summary.csv``);
never the result classes.
"""

from __future__ import annotations

import html
import json
import pathlib
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_choice, check_index
from ._overview import CONTRADICTING_NOTE, axis_label, html_units, kept_line, overview_html
from ._overview import write_overview_figures as overview_figures
from ._summary import summary_csv

if TYPE_CHECKING:
    from ._result import Explanation, RegionEffect

__all__ = ["KINDS", "draw", "write_report"]

#: What :func:`draw` can draw.
KINDS = ("overlay", "components", "scalogram", "attribution", "profile")


def _axis_label(e: Explanation) -> str:
    return axis_label(e.axis_name, e.axis_units)


def draw(e: Explanation, index: int = 0, *, kind: str = "overlay", ax=None):
    """Draw signal ``index`` of ``e`` on ``ax``; see :meth:`Explanation.plot`."""
    check_choice(kind, KINDS, "kind")
    b = check_index(index, e.n_samples, "index")
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    if kind in ("scalogram", "attribution"):
        from .. import plot

        if kind == "scalogram":
            plot.scalogram(e.Tx[b], e.transform_config, ax=ax, axis=e.axis, labels=e.labels[b])
        else:
            plot.scalogram(
                np.clip(e.attribution[b], 0, None),
                e.transform_config,
                ax=ax,
                axis=e.axis,
                labels=e.labels[b],
                power=1.0,
                cmap="viridis",
            )
        ax.set_xlabel(_axis_label(e))
        return ax
    regs, xs = e.regions[b], e.axis
    if kind == "profile":
        return _draw_profile(e, b, ax)
    if kind == "overlay":
        ax.plot(xs, e.signals[b], color="0.5", lw=0.9, label="signal")
        if e.references is not None:
            ax.plot(xs, e.references[b], color="0.3", lw=0.8, ls="--", label=_ref_name(e, b))
    # with a reference, a region's reading is its contrast: what it holds that r does not
    comps, what = (
        (e.components, "region") if e.contrasts is None else (e.contrasts, "contrast, region")
    )
    for k, r in enumerate(regs):
        color = f"C{(k % 9) + 1}"
        if kind == "overlay":
            lo, hi = sorted(r.x_range)
            ax.axvspan(lo, hi, color=color, alpha=0.12, lw=0)
        ax.plot(xs, comps[b, k], color=color, lw=1.2, label=f"{what} {r.label}")
    if kind == "components" and not regs:
        ax.text(0.5, 0.5, "no regions", transform=ax.transAxes, ha="center")
    ax.set_xlabel(_axis_label(e))
    ax.set_ylabel("signal" if kind == "overlay" else "component")
    if xs[0] > xs[-1]:
        ax.set_xlim(xs[0], xs[-1])
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return ax


def _ref_name(e: Explanation, b: int) -> str:
    """Return the legend entry of signal ``b``'s reference."""
    if e.foils is not None:
        return f"reference: mean of {e.class_names[int(e.foils[b])]}"
    return "reference"


def _draw_profile(e: Explanation, b: int, ax):
    """Draw the signed attribution profile along x, each region's x-range shaded."""
    xs, p = e.axis, e.profile[b]
    for k, r in enumerate(e.regions[b]):
        lo, hi = sorted(r.x_range)
        ax.axvspan(lo, hi, color=f"C{(k % 9) + 1}", alpha=0.12, lw=0)
    ax.fill_between(xs, p, 0, where=p >= 0, color="C3", alpha=0.6, lw=0, label="for the class")
    ax.fill_between(xs, p, 0, where=p < 0, color="C0", alpha=0.6, lw=0, label="against it")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel(_axis_label(e))
    ax.set_ylabel("attribution")
    if xs[0] > xs[-1]:
        ax.set_xlim(xs[0], xs[-1])
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return ax


def write_report(e: Explanation, folder: pathlib.Path, *, figures: bool) -> None:
    """Write the report files of ``e`` into the existing, empty ``folder``."""
    report = e.to_json()
    (folder / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (folder / "summary.csv").write_text(
        summary_csv(report["summary"], axis_units=e.axis_units), encoding="utf-8"
    )
    with open(folder / "components.npz", "wb") as fh:
        np.savez_compressed(
            fh,
            components=e.components,
            labels=e.labels,
            masks=e.masks,
            attribution=e.attribution,
            signals=e.signals,
            lowpass=e.lowpass,
            axis=e.axis,
            target=e.target,
            **(
                {}
                if e.probabilities is None
                else {"probabilities": e.probabilities, "predictions": e.predictions}
            ),
            profile=e.profile,
            freqs=e.transform_config.freqs(e.signals.shape[-1]),
            **(
                {}
                if e.contrasts is None
                else {"contrasts": e.contrasts, "references": e.references}
            ),
            **({} if e.foils is None else {"foils": e.foils}),
        )
    pngs = [_figures(e, b, folder) if figures else {} for b in range(e.n_samples)]
    overview = overview_figures(report, folder) if figures else {}
    (folder / "index.html").write_text(_html(report, pngs, overview), encoding="utf-8")


# ------------------------------------------------------------------ figures
def _figures(e: Explanation, b: int, folder: pathlib.Path) -> dict[str, str]:
    """Write the three PNG figures of signal ``b``; return kind -> file name."""
    from matplotlib.figure import Figure

    stem = f"sample_{b:04d}"
    out = {
        "spectrum": f"{stem}_spectrum.png",
        "scalogram": f"{stem}_scalogram.png",
        "components": f"{stem}_components.png",
    }
    # 1. the spectrum with each component overlaid and its x-range shaded
    _spectrum_figure(e, b).savefig(folder / out["spectrum"], dpi=100)
    # 2. the scalogram and the attribution, with the region contours
    fig = Figure(figsize=(8, 6.5))
    _fixed_layout(fig, 2, left=0.9, top=0.3, gap=0.4)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    draw(e, b, kind="scalogram", ax=ax1)
    ax1.set_title("|Tx| with region contours", fontsize=10, loc="left", y=1.0)
    ax1.set_xlabel("")  # shared with the panel below
    draw(e, b, kind="attribution", ax=ax2)
    ax2.set_title(f"attribution ({e.method}, positive part)", fontsize=10, loc="left", y=1.0)
    fig.savefig(folder / out["scalogram"], dpi=100)
    # 3. the components alone, and the attribution profile along x under them
    fig = Figure(figsize=(8, 5.2))
    _fixed_layout(fig, 2, left=0.65, top=0.3, gap=0.4)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    draw(e, b, kind="components", ax=ax1)
    ax1.set_xlabel("")  # shared with the panel below
    draw(e, b, kind="profile", ax=ax2)
    ax2.set_title(
        "attribution profile along x (sum over frequency, signed)", fontsize=10, loc="left", y=1.0
    )
    fig.savefig(folder / out["components"], dpi=100)
    return out


def _spectrum_figure(e: Explanation, b: int):
    """Draw the signal with each region's component in its own panel below the title."""
    from matplotlib.figure import Figure

    from .. import plot

    regs = e.regions[b]
    n_panels = max(len(regs), 1)
    fig = Figure(figsize=(8, 2.2 * n_panels + 0.8))
    _fixed_layout(fig, n_panels, left=0.65, top=0.6, gap=0.4)
    axes = list(fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0])
    if regs:
        comps = e.components if e.contrasts is None else e.contrasts
        plot.components(
            e.signals[b],
            comps[b, : len(regs)],
            x_ranges=[r.x_range for r in regs],
            axis=e.axis,
            axes=axes,
            names=[_region_title(r, e, b) for r in regs],
            baseline=None if e.lowpass_in_image else e.lowpass[b],
        )
        if e.references is not None:
            for ax in axes:
                ax.plot(
                    e.axis, e.references[b], color="0.3", lw=0.8, ls="--", label=_ref_name(e, b)
                )
                for line in ax.get_lines():
                    if line.get_label() == "component":
                        line.set_label("contrast (region minus reference)")
                ax.legend(loc="upper right", fontsize=8, frameon=False)
    else:
        axes[0].plot(e.axis, e.signals[b], color="0.5", lw=0.9)
        axes[0].set_title("no region above the threshold", fontsize=10, loc="left", y=1.0)
    axes[-1].set_xlabel(_axis_label(e))
    for ax in axes:
        ax.set_ylabel("signal")
    fig.suptitle(_prediction_line(e, b), fontsize=10, y=1 - 0.1 / fig.get_figheight(), va="top")
    return fig


def _fixed_layout(
    fig,
    n_rows: int,
    *,
    left: float,
    top: float,
    bottom: float = 0.55,
    right: float = 0.15,
    gap: float = 0.0,
) -> None:
    """Margins and gaps of a column of ``n_rows`` axes, in inches (no layout engine).

    Constrained layout measures every tick label and title by drawing the figure once
    more before saving; these figures have a fixed structure (titles above the panels,
    y tick labels of a few characters), so margins in inches do the same job for less.
    """
    w, h = fig.get_size_inches()
    axes_h = (h - top - bottom - gap * (n_rows - 1)) / n_rows
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h, hspace=gap / axes_h
    )


def _prediction_line(e: Explanation, b: int) -> str:
    names = e.class_names
    t = int(e.target[b])
    if e.probabilities is None:
        return f"signal {b}: heatmap of {names[t]} (no model given)"
    p = int(e.predictions[b])
    if e.task == "regression":
        return f"signal {b}: {names[t]} = {e.probabilities[b, t]:.4g}{_unit(e.output_units, t)}"
    return (
        f"signal {b}: predicted {names[p]} (p = {e.probabilities[b, p]:.3f}); "
        f"explaining {names[t]} (p = {e.probabilities[b, t]:.3f})"
    )


def _region_title(r: RegionEffect, e: Explanation, b: int) -> str:
    lo, hi = r.x_range
    text = (
        f"region {r.label}: {e.axis_name} {lo:.4g}-{hi:.4g} {e.axis_units}, "
        f"{100 * r.region.mass_share:.0f} % of attribution"
    )
    if r.drop is not None:
        what = "p" if e.task != "regression" else e.class_names[int(e.target[b])]
        text += f", deleting it: {what} {r.p_before:.4g} -> {r.p_after:.4g}"
    return text


def _unit(units, k: int) -> str:
    return f" {units[k]}" if units and units[k] else ""


# ------------------------------------------------------------------ HTML
def _fmt(v, spec: str = ".4g") -> str:
    return "&ndash;" if v is None else format(v, spec)


_STYLE = (
    "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;"
    "text-align:right}img{max-width:100%}section{overflow-x:auto}"
    ".verdict{padding:4px 8px;border-left:6px solid #999}"
    ".better_than_chance{border-color:#2a7d2a;background:#eef7ee}"
    ".mixed{border-color:#c08a00;background:#fdf6e3}"
    ".not_better_than_chance,.no_regions{border-color:#b22222;background:#fbeeee}"
    ".flag{color:#fff;background:#b22222;padding:0 4px;border-radius:3px}"
    ".contra{color:#7a4d00;background:#fdf0d0;padding:0 4px;border-radius:3px}"
    "tr.contra td{background:#fdf0d0}.toc{columns:4 12em}"
    "</style>"
)

_TABLE_HEAD = (
    "<table><tr><th>region</th><th>x-range ({units})</th>"
    "<th>band (cycles/sample)</th><th>peak width (samples)</th>"
    "<th>attribution share</th><th>component energy</th>"
    "<th>p before</th><th>p after deletion</th><th>drop</th><th>contradicting</th>"
    "<th>interference</th><th>band under the region (deleting it: p after)</th></tr>"
)


def _html(report: dict, pngs: list[dict], overview: dict) -> str:
    """Build the report's ``index.html``: the overview, then one section per signal."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>saliency2signal explanation</title>",
        _STYLE + "</head><body>",
        "<h1>saliency2signal explanation</h1>",
        f"<p>Method: {esc(report['method'])}; classes: "
        f"{esc(', '.join(report['class_names']))}; {report['n_samples']} signal(s) of "
        f'{report["n_times"]} samples; data: <a href="report.json">report.json</a>, '
        '<a href="summary.csv">summary.csv</a>, '
        '<a href="components.npz">components.npz</a>.</p>',
    ]
    sel = report["settings"].get("method_selection")
    if sel is not None:
        parts.append(
            f"<p>Method chosen by <code>auto</code> (its candidates' explanations of "
            f"{len(sel['subset'])} spectra tested against the matched null): "
            f"{esc(sel['reason'])}.</p>"
        )
    parts.extend(_html_heatmaps(report))
    parts.extend(_html_input_check(report))
    parts.extend(_html_verdicts(report))
    parts.extend(_html_reference(report))
    parts.extend(overview_html(report, overview))
    wrong = {m["index"] for m in report["summary"]["misclassified"]}
    kept = report["summary"]["attribution_kept"]["signals"]
    for s, figs in zip(report["samples"], pngs, strict=True):
        parts.extend(_html_sample(s, figs, report, s["index"] in wrong, kept[s["index"]]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_heatmaps(report: dict) -> list[str]:
    """Return the line saying where mapped-back heatmaps came from (none for explain)."""
    h = report["settings"].get("heatmaps")
    if h is None:
        return []
    where = {
        "image": "on the model's image grid, carried back to the transform's grid through "
        "the imaging's geometry (the adjoint of its resize and flips)",
        "native": "on the transform's own grid",
    }[h["grid"]]
    text = f"Attribution: your heatmaps ({h['source']}), {where}"
    if h.get("colormap"):
        text += f", read through the colormap {h['colormap']}"
    if h.get("blended"):
        text += ", separated from the scalogram they were blended over"
    if h["order"] == "ssqueezepy":
        text += ", rows given in ssqueezepy's order (highest frequency first) and flipped"
    if not h["model"]:
        text += "; no model was given, so there are no probabilities and no deletion checks"
    return [f"<p>{html.escape(text)}.</p>"]


def _html_input_check(report: dict) -> list[str]:
    """Return the lines saying whether the images made here are what the model saw."""
    check = report["settings"].get("input_check") or {}
    images, acc = check.get("images"), check.get("accuracy")
    out = []
    if images is not None:
        unit = 255.0 if images["kind"] == "uint8" else 1.0
        ok = images["agreement"] >= 0.99
        out.append(
            f'<p class="verdict {"better_than_chance" if ok else "not_better_than_chance"}">'
            f"<b>Images:</b> the model's predictions on the images made here and on yours "
            f"agree for {images['agreement']:.0%} of the {images['n_compared']} signals "
            f"compared; pixel difference max {images['max_difference'] * unit:.3g}, mean "
            f"{images['mean_difference'] * unit:.3g}"
            + (" (in 1/255 of full scale, as saved)" if images["kind"] == "uint8" else "")
            + f"; {images['share_close']:.2%} of pixel values within one 8-bit level"
            + (
                ". <b>Explained anyway (--allow-mismatch): these explanations may be of "
                "other images than the model saw.</b></p>"
                if not ok
                else ".</p>"
            )
        )
    if acc is not None:
        near = acc["near_chance"]
        out.append(
            f'<p class="verdict {"not_better_than_chance" if near else "better_than_chance"}">'
            f"<b>Accuracy</b> on these signals with the images made here: "
            f"{acc['accuracy']:.0%} of {acc['n']} (commonest class {acc['chance']:.0%})"
            + (
                f": <b>not better than chance</b> (binomial p = {acc['p_value']:.2g}); check "
                "that the pipeline and the model are what was trained.</p>"
                if near
                else ".</p>"
            )
        )
    return out


def _explained(report: dict) -> str:
    """Say what a deletion changes: the class probability, or a regression's output."""
    if report.get("task") == "regression":
        return "the explained output"
    return "the explained class's probability"


def _html_verdicts(report: dict) -> list[str]:
    """Return the run's verdict line: how many explanations beat their matched null."""
    v = report.get("verdict_summary")
    if v is None:
        return [
            '<p class="verdict">No faithfulness verdict: the deletion test against '
            "random regions was not run (deletion off or n_null = 0).</p>"
        ]
    n_null = report["settings"].get("n_null")
    level = "better_than_chance" if v["better_than_chance"] == v["n"] else "mixed"
    if v["better_than_chance"] == 0:
        level = "not_better_than_chance"
    return [
        f'<p class="verdict {level}"><b>Faithfulness:</b> {v["better_than_chance"]} of '
        f"{v['n']} explanations are better than chance (deleting their regions lowers "
        f"{_explained(report)} more than deleting 95 % of "
        f"{n_null} equally energetic random regions per region does, for the top region "
        f"and over the whole deletion curve); {v['mixed']} pass one of the two tests; "
        f"{v['not_better_than_chance']} are not better than chance"
        + (f"; {v['no_regions']} have no region" if v["no_regions"] else "")
        + (
            f". In {v['contradicted']}, deleting the top region <i>raises</i> "
            f"{_explained(report)}."
            if v["contradicted"]
            else "."
        )
        + " An explanation that is not better than chance should not be read as the "
        "model's reason.</p>"
    ]


#: What each reference mode means, for the page.
_REFERENCE_TEXT = {
    "zero": "Explanations are absolute: attribution from silence, and deleting a region "
    "removes its component.",
    "mean": "Explanations are relative to the mean of the explained spectra: attribution "
    "starts from its transform, each region's contrast is what the spectrum holds there "
    "that the mean does not, and deleting a region puts the mean's content in its place.",
    "given": "Explanations are relative to the given reference spectra: attribution "
    "starts from their transform, each region's contrast is what the spectrum holds there "
    "that its reference does not, and deleting a region puts the reference's content in "
    "its place.",
    "class_means": "Explanations are contrastive: each spectrum is explained against the "
    'mean training spectrum of its <i>foil</i>, the most probable other class ("why this '
    "class rather than that one\"). Attribution starts from the foil mean's transform, "
    "each region's contrast is what the spectrum holds there that the foil mean does not, "
    "deleting a region puts the foil mean's content in its place, and each band says what "
    "about it (position, width, height) the decision rests on.",
}


def _html_reference(report: dict) -> list[str]:
    """Return the line saying what the explanations are relative to."""
    text = _REFERENCE_TEXT.get(report["settings"].get("reference", "zero"))
    return [] if text is None else [f'<p class="reference">{text}</p>']


def _html_sample(s: dict, figs: dict, report: dict, wrong: bool, kept: dict) -> list[str]:
    """Return the ``<section>`` of one ``samples`` entry of the report, as lines.

    ``wrong``: the prediction differs from the given label; ``kept``: the signal's
    ``summary['attribution_kept']`` record.
    """
    esc = html.escape
    b = s["index"]
    probs = s["probabilities"]
    p_pred = None if probs is None else probs[s["predicted_class"]]
    p_tgt = None if probs is None else probs[s["target_class"]]
    label = (
        "" if s["label"] is None else f"; label <b>{esc(report['class_names'][s['label']])}</b>"
    )
    if wrong:
        label += ' <span class="flag">misclassified</span>'
    if s.get("foil_class") is not None:
        label += f"; explained against the mean of <b>{esc(s['foil_class'])}</b>"
    if probs is None:
        head = (
            f"Heatmap of <b>{esc(s['target_class'])}</b> mapped back (no model given: "
            f"no probabilities, no deletion checks){label}"
        )
    elif report.get("task") == "regression":
        k = report["class_names"].index(s["target_class"])
        head = (
            f"Output <b>{esc(s['target_class'])}</b> = {_fmt(p_tgt, '.4g')}"
            f"{esc(_unit(report.get('output_units'), k))}{label}"
        )
    else:
        head = (
            f"Predicted <b>{esc(s['predicted_class'])}</b> (p = {_fmt(p_pred, '.3f')}); "
            f"explained class <b>{esc(s['target_class'])}</b> (p = {_fmt(p_tgt, '.3f')})"
            f"{label}"
        )
    parts = [
        f'<section id="sample-{b}"><h2>Signal {b}'
        + (' <span class="flag">misclassified</span>' if wrong else "")
        + ' <small><a href="#overview">overview</a></small></h2>',
        f"<p>{head}. Energy never shown to the model: "
        f"{_fmt(100 * s['unseen']['total'], '.1f')} % ({esc(s['unseen']['note'])}).</p>",
        *kept_line(kept),
    ]
    v = s.get("verdict")
    if v is not None:
        parts.append(f'<p class="verdict {v["level"].replace(" ", "_")}">{esc(v["message"])}</p>')
    if s["regions"]:
        table = _TABLE_HEAD.format(units=html_units(report["axis"]["units"]))
        if report.get("task") == "regression":  # the deletion changes an output value
            table = table.replace(
                "<th>p before</th><th>p after deletion</th>",
                ("<th>output before</th><th>output after deletion</th>"),
            ).replace("(deleting it: p after)", "(deleting it: output after)")
        parts.append(table)
        parts.extend(_html_row(r) for r in s["regions"])
        parts.append("</table>")
        if any(r["contradicting"] for r in s["regions"]):
            parts.append(f"<p>{CONTRADICTING_NOTE}</p>")
    else:
        parts.append("<p>No region above the attribution threshold.</p>")
    for kind in ("spectrum", "scalogram", "components"):
        if kind in figs:
            name = esc(figs[kind])
            parts.append(
                f'<p><a href="{name}"><img src="{name}" alt="{kind} of signal {b}"></a></p>'
            )
    parts.append("</section>")
    return parts


def _html_row(r: dict) -> str:
    """One ``regions`` entry of the report as a table row."""
    d = r["deletion"] or {}
    w = r["width_samples"]
    inter = r["interference"]
    flag = "&ndash;" if inter is None else ("yes" if inter["flagged"] else "no")
    contra = {None: "&ndash;", False: "no", True: '<span class="contra">yes</span>'}[
        r["contradicting"]
    ]
    row = '<tr class="contra">' if r["contradicting"] else "<tr>"
    return (
        f"{row}<td>{r['label']}</td>"
        f"<td>{_fmt(r['x_range'][0])} &ndash; {_fmt(r['x_range'][1])}</td>"
        f"<td>{_fmt(r['band'][0])} &ndash; {_fmt(r['band'][1])}</td>"
        f"<td>{_fmt(w[0], '.3g')} &ndash; {_fmt(w[1], '.3g')}</td>"
        f"<td>{_fmt(r['attribution_share'], '.2f')}</td>"
        f"<td>{_fmt(r['component_energy'], '.3f')}</td>"
        f"<td>{_fmt(d.get('p_before'), '.3f')}</td>"
        f"<td>{_fmt(d.get('p_after'), '.3f')}</td>"
        f"<td>{_fmt(d.get('drop'), '.3f')}</td><td>{contra}</td><td>{flag}</td>"
        f'<td style="text-align:left">{_peak_cell(r["peak"])}</td></tr>'
    )


def _peak_cell(peak: dict | None) -> str:
    """Return the region's band in words, and the probability after deleting it."""
    if peak is None:
        return "&ndash;"
    text = f"{html.escape(peak['description'])} ({_fmt(peak['p_after'], '.3f')})"
    if peak["drop"] is not None and peak["drop"] < 0:
        text += " &ndash; deleting it <i>raises</i> p"
    ref = peak.get("reference")
    if ref is not None:
        change = ref.get("change") or {}
        text += f"; {html.escape(change.get('description') or ref['description'])}"
    return text
