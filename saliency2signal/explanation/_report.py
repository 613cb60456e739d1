"""The report of an explanation: its folder's files, its index page, one panel on Axes.

- :func:`draw`: one signal's explanation on one Axes (:meth:`Explanation.plot`).
- :func:`write_report`: the files of a report folder (:meth:`Explanation.save` writes
  them into a temporary folder and renames it into place): ``report.json``,
  ``summary.csv``, ``components.npz``, ``index.html`` (the overview first, then a table
  of the signals linking their pages), ``sample_XXXX.html`` (one page per signal) and,
  as ``figures`` says, one overview PNG per explained class and three PNG figures per
  signal (``sample_XXXX_spectrum.png``, ``_scalogram.png``, ``_components.png``).
- :func:`check_figures`: ``figures`` as ``'all'``, ``'overview'`` or ``'none'``.

The explanation is passed in; nothing here imports the result classes, so they can
import this. matplotlib is imported inside the functions that draw.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, matplotlib (inside functions), ``_validation`` and its siblings
``_figures`` (a signal's figures, drawn in worker processes), ``_pages`` (a signal's
page, the index's table of signals), ``_overview`` and ``_summary`` (the page's first
section, ``summary.csv``); never the result classes.
"""

from __future__ import annotations

import html
import json
import pathlib
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_choice, check_index
from ._figures import PANELS, draw_panel, figure_job, render_all
from ._overview import overview_html
from ._overview import write_overview_figures as overview_figures
from ._pages import STYLE, page_name, sample_page, signals_table
from ._summary import summary_csv

if TYPE_CHECKING:
    from ._result import Explanation

__all__ = ["FIGURES", "KINDS", "check_figures", "draw", "write_report"]

#: What :func:`draw` can draw.
KINDS = PANELS
#: What a report's ``figures`` can be: every figure, the overview's only, none.
FIGURES = ("all", "overview", "none")


def check_figures(figures) -> str:
    """Return ``figures`` as one of :data:`FIGURES` (``True``: all, ``False``: none)."""
    if isinstance(figures, bool):
        return "all" if figures else "none"
    if not isinstance(figures, str):
        raise TypeError(f"figures={figures!r} must be one of {FIGURES} or a bool")
    return check_choice(figures, FIGURES, "figures")


def draw(e: Explanation, index: int = 0, *, kind: str = "overlay", ax=None):
    """Draw signal ``index`` of ``e`` on ``ax``; see :meth:`Explanation.plot`."""
    check_choice(kind, KINDS, "kind")
    b = check_index(index, e.n_samples, "index")
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return draw_panel(ax, figure_job(e, b), kind)


def write_report(
    e: Explanation, folder: pathlib.Path, *, figures="all", workers: int | None = None
) -> None:
    """Write the report files of ``e`` into the existing, empty ``folder``.

    ``figures``: ``'all'`` (the overview's and three per signal, drawn in ``workers``
    processes, see :func:`~._figures.render_all`), ``'overview'`` (one per explained
    class) or ``'none'``; every signal gets its page either way.
    """
    figures = check_figures(figures)
    report = e.to_json()
    (folder / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (folder / "summary.csv").write_text(
        summary_csv(report["summary"], axis_units=e.axis_units), encoding="utf-8"
    )
    _write_arrays(e, folder)
    n = e.n_samples
    if figures == "all":
        jobs = (figure_job(e, b) for b in range(n))
        pngs = render_all(jobs, folder, n=n, workers=workers)
    else:
        pngs = [{} for _ in range(n)]
    overview = {}
    if figures != "none":
        import matplotlib.style

        with matplotlib.style.context("default"):
            overview = overview_figures(report, folder)
    (folder / "index.html").write_text(_html(report, overview), encoding="utf-8")
    wrong = {m["index"] for m in report["summary"]["misclassified"]}
    kept = report["summary"]["attribution_kept"]["signals"]
    note = (
        ""
        if figures == "all"
        else f"Figures of the signals not drawn (figures={figures!r}): "
        "<code>Explanation.save(..., figures='all')</code> or <code>--figures all</code> "
        "draws them."
    )
    for s, figs in zip(report["samples"], pngs, strict=True):
        b = s["index"]
        page = sample_page(s, figs, report, wrong=b in wrong, kept=kept[b], note=note)
        (folder / page_name(b)).write_text(page, encoding="utf-8")


def _write_arrays(e: Explanation, folder: pathlib.Path) -> None:
    """Write ``components.npz``: the arrays of the explanation."""
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


# ------------------------------------------------------------------ HTML
def _html(report: dict, overview: dict) -> str:
    """Build the report's ``index.html``: the overview, then the table of signals."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>saliency2signal explanation</title>",
        STYLE + "</head><body>",
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
    parts.extend(signals_table(report))
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
