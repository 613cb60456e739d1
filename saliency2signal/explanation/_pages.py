"""The report's page per signal (``sample_XXXX.html``) and the index's table of signals.

- :func:`sample_page`: one signal's page: links to the overview and to the previous and
  next signal, its prediction and label, the energy the image never showed, where its
  unkept attribution went, its verdict, the table of its regions (bands and peak widths
  in the axis's units when an axis is given), the note on contradicting regions, its
  figures and a short legend of terms.
- :func:`signals_table`: the index's section listing every signal, one row each, linked
  to its page (useful without opening the pages: prediction, label, verdict, top region).
- :func:`page_name`, :data:`STYLE`: the file name of a signal's page and the CSS both
  pages share.

Relative links only, no script and nothing fetched from the network: a report folder
opens offline, wherever it is copied.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: the standard library and the sibling ``_overview`` (typeset units, the
contradicting note, a signal's kept-attribution line); never the result classes.
"""

from __future__ import annotations

import html

from ._overview import CONTRADICTING_NOTE, html_units, kept_line

__all__ = ["STYLE", "TERMS", "page_name", "sample_page", "signals_table"]

STYLE = (
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
    "nav{margin:0.5em 0}nav a{margin-right:1.2em}dl.terms dt{font-weight:bold}"
    "dl.terms dd{margin:0 0 0.3em 1.5em}"
    "</style>"
)

#: The legend of terms at the foot of each signal's page: (term, one line).
TERMS = (
    (
        "region",
        "a connected part of the time–frequency plane that holds the most "
        "attribution (positive evidence for the explained class), numbered by its share.",
    ),
    (
        "component",
        "the part of the signal a region stands for: the inverse transform of "
        "the plane under the region alone (in the signal's units).",
    ),
    (
        "contrast",
        "with a reference: what the signal holds under the region that the "
        "reference does not (the inverse of the difference of their transforms).",
    ),
    ("attribution share", "the region's part of the signal's positive attribution."),
    (
        "drop",
        "the explained class's probability (a regression: its output) before minus "
        "after deleting the region's component from the signal, the image remade.",
    ),
    (
        "contradicting",
        "a region whose deletion raises the probability (drop < 0): the "
        "attribution counted it for the class, the model reads it against.",
    ),
    (
        "verdict",
        "whether deleting the regions lowers the probability more than deleting "
        "equally energetic random regions does (better than chance, mixed, not).",
    ),
    (
        "unseen energy",
        "the share of the signal's energy the model's image never showed "
        "(the residual of the transform, and the low-pass term unless imaged); no region "
        "can hold it.",
    ),
    (
        "peak width",
        "the width of a peak that a frequency row of the plane matches best "
        "(half its period), in the axis's units.",
    ),
)


def page_name(b: int) -> str:
    """Return the file name of signal ``b``'s page, e.g. ``sample_0007.html``."""
    return f"sample_{b:04d}.html"


def _fmt(v, spec: str = ".4g") -> str:
    return "&ndash;" if v is None else format(v, spec)


def _unit(units, k: int) -> str:
    return f" {units[k]}" if units and units[k] else ""


def _has_axis(report: dict) -> bool:
    return not (report["axis"]["name"] == "sample" and report["axis"]["units"] == "samples")


def _nav(b: int, n: int) -> str:
    """Links to the overview, the previous and the next signal's page."""
    links = [
        '<a href="index.html#overview">overview</a>',
        '<a href="index.html#signals">all signals</a>',
    ]
    if b > 0:
        links.append(f'<a href="{page_name(b - 1)}" rel="prev">&larr; signal {b - 1}</a>')
    if b < n - 1:
        links.append(f'<a href="{page_name(b + 1)}" rel="next">signal {b + 1} &rarr;</a>')
    return "<nav>" + "".join(links) + "</nav>"


def _head_line(s: dict, report: dict, wrong: bool) -> str:
    """Return the signal's prediction, explained class and label, as HTML."""
    esc = html.escape
    probs = s["probabilities"]
    label = (
        "" if s["label"] is None else f"; label <b>{esc(report['class_names'][s['label']])}</b>"
    )
    if wrong:
        label += ' <span class="flag">misclassified</span>'
    if s.get("foil_class") is not None:
        label += f"; explained against the mean of <b>{esc(s['foil_class'])}</b>"
    if probs is None:
        return (
            f"Heatmap of <b>{esc(s['target_class'])}</b> mapped back (no model given: "
            f"no probabilities, no deletion checks){label}"
        )
    p_tgt = probs[s["target_class"]]
    if report.get("task") == "regression":
        k = report["class_names"].index(s["target_class"])
        return (
            f"Output <b>{esc(s['target_class'])}</b> = {_fmt(p_tgt, '.4g')}"
            f"{esc(_unit(report.get('output_units'), k))}{label}"
        )
    return (
        f"Predicted <b>{esc(s['predicted_class'])}</b> "
        f"(p = {_fmt(probs[s['predicted_class']], '.3f')}); explained class "
        f"<b>{esc(s['target_class'])}</b> (p = {_fmt(p_tgt, '.3f')}){label}"
    )


def sample_page(s: dict, figs: dict, report: dict, *, wrong: bool, kept: dict, note: str) -> str:
    """Return the HTML page of one ``samples`` entry of the report.

    ``figs``: kind -> PNG file name (empty without figures); ``wrong``: the prediction
    differs from the given label; ``kept``: the signal's ``attribution_kept`` record;
    ``note``: a line for a page without figures (empty otherwise).
    """
    esc = html.escape
    b, n = s["index"], report["n_samples"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>signal {b}: saliency2signal explanation</title>",
        STYLE + "</head><body>",
        _nav(b, n),
        f'<section id="sample-{b}"><h1>Signal {b}'
        + (' <span class="flag">misclassified</span>' if wrong else "")
        + "</h1>",
        f"<p>{_head_line(s, report, wrong)}. Unseen energy (never shown to the model): "
        f"{_fmt(100 * s['unseen']['total'], '.1f')} % ({esc(s['unseen']['note'])}).</p>",
        *kept_line(kept),
    ]
    v = s.get("verdict")
    if v is not None:
        parts.append(f'<p class="verdict {v["level"].replace(" ", "_")}">{esc(v["message"])}</p>')
    parts.extend(_regions_table(s, report))
    for kind in ("spectrum", "scalogram", "components"):
        if kind in figs:
            name = esc(figs[kind])
            parts.append(
                f'<p><a href="{name}"><img src="{name}" alt="{kind} of signal {b}"></a></p>'
            )
    if note:
        parts.append(f"<p>{note}</p>")
    parts.append('<h2>Terms</h2><dl class="terms">')
    parts.extend(f"<dt>{t}</dt><dd>{esc(line)}</dd>" for t, line in TERMS)
    parts += ["</dl></section>", _nav(b, n), "</body></html>"]
    return "\n".join(parts) + "\n"


def _regions_table(s: dict, report: dict) -> list[str]:
    """Return the table of a signal's regions, and the contradicting note if needed."""
    if not s["regions"]:
        return ["<p>No region above the attribution threshold.</p>"]
    units = html_units(report["axis"]["units"])
    axis = _has_axis(report)
    band = (
        f"<th>peak width ({units})</th>"
        if axis
        else "<th>band (cycles/sample)</th><th>peak width (samples)</th>"
    )
    out, after = "p", "p after deletion"
    if report.get("task") == "regression":
        out, after = "output", "output after deletion"
    parts = [
        f"<table><tr><th>region</th><th>x-range ({units})</th>{band}"
        "<th>attribution share</th><th>component energy (% of the signal's)</th>"
        f"<th>{out} before</th><th>{after}</th><th>drop</th><th>contradicting</th>"
        f"<th>interference</th><th>band under the region (deleting it: {out} after)</th></tr>"
    ]
    parts.extend(_row(r, axis) for r in s["regions"])
    parts.append("</table>")
    if any(r["contradicting"] for r in s["regions"]):
        parts.append(f"<p>{CONTRADICTING_NOTE}</p>")
    return parts


def _row(r: dict, axis: bool) -> str:
    """One ``regions`` entry of the report as a table row."""
    d = r["deletion"] or {}
    inter = r["interference"]
    flag = "&ndash;" if inter is None else ("yes" if inter["flagged"] else "no")
    contra = {None: "&ndash;", False: "no", True: '<span class="contra">yes</span>'}[
        r["contradicting"]
    ]
    if axis:
        w = r["width_x"]
        band = f"<td>{_fmt(w[0], '.3g')} &ndash; {_fmt(w[1], '.3g')}</td>"
    else:
        w = r["width_samples"]
        band = (
            f"<td>{_fmt(r['band'][0])} &ndash; {_fmt(r['band'][1])}</td>"
            f"<td>{_fmt(w[0], '.3g')} &ndash; {_fmt(w[1], '.3g')}</td>"
        )
    energy = r["component_energy"]
    return (
        ('<tr class="contra">' if r["contradicting"] else "<tr>") + f"<td>{r['label']}</td>"
        f"<td>{_fmt(r['x_range'][0])} &ndash; {_fmt(r['x_range'][1])}</td>{band}"
        f"<td>{_fmt(r['attribution_share'], '.2f')}</td>"
        f"<td>{_fmt(None if energy is None else 100 * energy, '.3g')}</td>"
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


def _band(region: dict | None) -> str:
    """Return the band read under a region, in words (a dash when none was read)."""
    if region is None or region["peak"] is None:
        return "&ndash;"
    return html.escape(region["peak"]["description"])


def signals_table(report: dict) -> list[str]:
    """Return the index's section of signals: one row each, linked to its page."""
    esc = html.escape
    names = report["class_names"]
    wrong = {m["index"] for m in report["summary"]["misclassified"]}
    units = html_units(report["axis"]["units"])
    model = any(s["probabilities"] is not None for s in report["samples"])
    out = "output" if report.get("task") == "regression" else "p"
    parts = [
        '<section id="signals"><h2>Signals</h2>',
        "<p>One page per signal (its regions, components, figures); the top region is the "
        "one holding the most attribution.</p>",
        "<table><tr><th>signal</th><th>label</th><th>predicted</th><th>explained</th>"
        f"<th>{out}</th><th>verdict</th><th>regions</th><th>top region ({units})</th>"
        "<th>top region's drop</th><th>band under the top region</th><th>flags</th></tr>",
    ]
    for s in report["samples"]:
        b = s["index"]
        probs = s["probabilities"]
        top = s["regions"][0] if s["regions"] else None
        flags = []
        if b in wrong:
            flags.append('<span class="flag">misclassified</span>')
        if top is not None and top["contradicting"]:
            flags.append('<span class="contra">top region contradicts</span>')
        drop = None if top is None or top["deletion"] is None else top["deletion"]["drop"]
        parts.append(
            f'<tr id="sample-{b}"><td><a href="{page_name(b)}">{b}</a></td>'
            f"<td>{'&ndash;' if s['label'] is None else esc(names[s['label']])}</td>"
            f"<td>{esc(s['predicted_class'] or '') if model else '&ndash;'}</td>"
            f"<td>{esc(s['target_class'])}</td>"
            f"<td>{_fmt(None if probs is None else probs[s['target_class']], '.3f')}</td>"
            f"<td>{'&ndash;' if s['verdict'] is None else esc(s['verdict']['level'])}</td>"
            f"<td>{len(s['regions'])}</td>"
            + (
                "<td>&ndash;</td>"
                if top is None
                else f"<td>{_fmt(top['x_range'][0])} &ndash; {_fmt(top['x_range'][1])}</td>"
            )
            + f"<td>{_fmt(drop, '.3f')}</td>"
            f'<td style="text-align:left">{_band(top)}</td>'
            f'<td style="text-align:left">{" ".join(flags)}</td></tr>'
        )
    parts.append("</table></section>")
    return parts
