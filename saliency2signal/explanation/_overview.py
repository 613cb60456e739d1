r"""The overview section of a report page, its per-class figures, and axis units as typeset.

- :func:`overview_figure`: one explained class (a ``summary['classes']`` record of
  ``report.json``): its mean signal above the mean ± spread of its attribution profile,
  evidence for the class and against it in two colours, its top bands shaded.
- :func:`write_overview_figures`: one PNG per class into a report folder.
- :func:`overview_html`: the page's first section: contents, the settings in words,
  accuracy and confusion matrix, contradicting regions, where the unkept attribution
  went, and per class its figure and band table; :func:`kept_line`, a signal's share of
  attribution in its regions and where the rest went, for its own section.
- :func:`html_units`, :func:`tex_units`, :func:`axis_label`: ``cm^-1`` written as
  cm⁻¹ in HTML and as ``$\mathrm{cm}^{-1}$`` in matplotlib labels.

Everything is drawn from the report's JSON (``report.json``), not from the arrays, so a
saved report can be redrawn from its own file.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, matplotlib (inside functions), the standard library; never a sibling
module.
"""

from __future__ import annotations

import html
import pathlib
import re

import numpy as np

__all__ = [
    "CONTRADICTING_NOTE",
    "axis_label",
    "html_units",
    "kept_line",
    "overview_figure",
    "overview_html",
    "tex_units",
    "write_overview_figures",
]

#: Bands shaded in a class's overview figure.
N_SHADED = 3
#: Bands listed in a class's table on the page (all are in ``summary.csv``).
N_LISTED = 8

#: What a contradicting region is, in one line (the page shows it where they appear).
CONTRADICTING_NOTE = (
    "A <b>contradicting</b> region is one whose deletion <i>raises</i> the explained "
    "class's probability (drop &lt; 0): the attribution counted it as evidence for the "
    "class, but the model reads what it holds against the decision."
)

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# 'cm^-1', 'cm^{-1}', 'cm-1', '1/cm', 'cm⁻¹' (any case, spaces allowed)
_RECIPROCAL_CM = re.compile(r"^\s*(cm\s*\^?\s*\{?\s*-\s*1\s*\}?|1\s*/\s*cm|cm⁻¹)\s*$", re.I)
_POWER = re.compile(r"\^\{?(-?\d+)\}?")


def html_units(units: str) -> str:
    """Return ``units`` as HTML: powers as superscripts, the rest escaped.

    Examples
    --------
    >>> html_units("cm^-1"), html_units("1/cm"), html_units("m s^-2")
    ('cm⁻¹', 'cm⁻¹', 'm s⁻²')
    """
    if _RECIPROCAL_CM.match(units):
        return "cm⁻¹"
    return html.escape(_POWER.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), units))


def tex_units(units: str) -> str:
    r"""Return ``units`` for a matplotlib label (mathtext for powers).

    Examples
    --------
    >>> tex_units("cm^-1"), tex_units("points")
    ('$\\mathrm{cm}^{-1}$', 'points')
    """
    if _RECIPROCAL_CM.match(units):
        return r"$\mathrm{cm}^{-1}$"
    match = re.fullmatch(r"\s*([A-Za-z]+)\s*\^\{?(-?\d+)\}?\s*", units)
    if match:
        return rf"$\mathrm{{{match.group(1)}}}^{{{match.group(2)}}}$"
    return units.replace("$", r"\$")


def axis_label(name: str, units: str) -> str:
    r"""Return an axis label ``name (units)`` with typeset units.

    Examples
    --------
    >>> axis_label("wavenumber", "cm^-1")
    'wavenumber ($\\mathrm{cm}^{-1}$)'
    """
    return f"{name} ({tex_units(units)})" if units else name


def _array(values) -> np.ndarray:
    """Return a JSON list of floats (``None`` for non-finite) as an array with NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def overview_figure(record: dict, report: dict):
    """Draw one explained class's overview: mean signal, attribution profile, top bands.

    Parameters
    ----------
    record : dict
        One entry of ``report['summary']['classes']``.
    report : dict
        The report (:meth:`Explanation.to_json`), for the axis and the task.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing x: the mean signal, and below it the mean signed attribution
        profile with its ± one standard deviation band and the means of its positive
        (for the class) and negative (against it) parts; the top bands shaded on both.
        Legends are outside the axes, so they cover no data.
    """
    from matplotlib.figure import Figure

    xs = np.asarray(report["axis"]["values"], dtype=float)
    xlabel = axis_label(report["axis"]["name"], report["axis"]["units"])
    prof = record["profile"]
    mean, spread = _array(prof["mean"]), _array(prof["spread"])
    what = "output" if report.get("task") == "regression" else "class"
    fig = Figure(figsize=(9.5, 5.6))
    fig.subplots_adjust(left=0.1, right=0.72, top=0.9, bottom=0.1, hspace=0.12)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(xs, _array(record["mean_signal"]), color="0.2", lw=1.0, label="mean signal")
    ax2.fill_between(xs, mean - spread, mean + spread, color="0.8", lw=0, label="mean ± 1 s.d.")
    ax2.fill_between(
        xs,
        _array(prof["positive_mean"]),
        0,
        color="C3",
        alpha=0.7,
        lw=0,
        label=f"for the {what}: mean of + part",
    )
    ax2.fill_between(
        xs,
        _array(prof["negative_mean"]),
        0,
        color="C0",
        alpha=0.7,
        lw=0,
        label="against it: mean of − part",
    )
    ax2.plot(xs, mean, color="0.25", lw=0.8, label="mean")
    ax2.axhline(0, color="0.5", lw=0.5)
    for k, band in enumerate(record["bands"][:N_SHADED]):
        lo, hi = band["x_range"]
        color = ("C2", "C4", "C8")[k % 3]
        for ax in (ax1, ax2):
            ax.axvspan(lo, hi, color=color, alpha=0.18, lw=0, label=f"band {band['rank']}")
    ax1.set_ylabel("mean signal")
    ax2.set_ylabel("attribution\n(sum over frequency)")
    ax2.set_xlabel(xlabel)
    if len(xs) > 1 and xs[0] > xs[-1]:
        ax2.set_xlim(xs[0], xs[-1])
    for ax in (ax1, ax2):
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8)
    fig.suptitle(
        f"{record['name']}: {record['n_signals']} signal(s) explained", fontsize=11, x=0.41
    )
    return fig


def write_overview_figures(report: dict, folder: pathlib.Path) -> dict[int, str]:
    """Write one overview PNG per explained class; return class index -> file name."""
    out = {}
    for record in report["summary"]["classes"]:
        name = f"overview_class_{record['index']:03d}.png"
        overview_figure(record, report).savefig(folder / name, dpi=100)
        out[record["index"]] = name
    return out


def _fmt(v, spec: str = ".4g") -> str:
    return "&ndash;" if v is None else format(v, spec)


def overview_html(report: dict, figures: dict[int, str]) -> list[str]:
    """Return the page's overview section (contents first), as lines of HTML."""
    s = report["summary"]
    esc = html.escape
    parts = ['<section id="overview"><h2>Overview</h2>']
    parts.extend(_contents(report))
    parts.append("<ul>" + "".join(f"<li>{esc(t)}</li>" for t in s["settings_text"]) + "</ul>")
    parts.extend(_accuracy_html(report))
    parts.extend(_contradicting_html(report))
    parts.extend(_kept_html(s["attribution_kept"]))
    for record in s["classes"]:
        parts.extend(_class_html(record, report, figures.get(record["index"])))
    parts.append("</section>")
    return parts


def _contents(report: dict) -> list[str]:
    """Return the table of contents: each class's overview and each signal's section."""
    s = report["summary"]
    wrong = {m["index"] for m in s["misclassified"]}
    items = [f'<a href="#class-{c["index"]}">{html.escape(c["name"])}</a>' for c in s["classes"]]
    signals = []
    for sample in report["samples"]:
        b = sample["index"]
        text = f"{b}: {html.escape(sample['target_class'])}"
        if b in wrong:
            text += ' <span class="flag">misclassified</span>'
        if sample["regions"] and sample["regions"][0]["contradicting"]:
            text += ' <span class="contra">top region contradicts</span>'
        signals.append(f'<li><a href="sample_{b:04d}.html">{text}</a></li>')
    what = "output" if report.get("task") == "regression" else "class"
    return [
        f"<p>Per {what}: " + " &middot; ".join(items) + "</p>",
        '<p><a href="#signals">Table of the signals</a>; each has its own page:</p>',
        '<details><summary>Signals (explained class; flags)</summary><ol class="toc">',
        *signals,
        "</ol></details>",
    ]


def _accuracy_html(report: dict) -> list[str]:
    """Return the accuracy line and the confusion matrix table (none without labels)."""
    acc = report["summary"]["accuracy"]
    if acc is None:
        return []
    names = [html.escape(n) for n in report["class_names"]]
    wrong = report["summary"]["misclassified"]
    out = [
        f"<p><b>Accuracy</b> against the given labels: {acc['n_correct']} of {acc['n']} "
        f"({_fmt(acc['accuracy'], '.1%')})"
        + (
            "; misclassified: "
            + ", ".join(
                f'<a href="sample_{m["index"]:04d}.html">{m["index"]}</a> '
                f"({html.escape(m['label'])} predicted {html.escape(m['prediction'])})"
                for m in wrong
            )
            if wrong
            else ""
        )
        + ".</p>",
        '<table class="confusion"><tr><th>label \\ predicted</th>'
        + "".join(f"<th>{n}</th>" for n in names)
        + "</tr>",
    ]
    for name, row in zip(names, acc["confusion"], strict=True):
        out.append(f"<tr><th>{name}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>")
    out.append("</table>")
    return out


def _contradicting_html(report: dict) -> list[str]:
    """Return the line counting contradicting regions, with what they mean."""
    c = report["summary"]["contradicting"]
    if c is None:
        return []
    return [
        f"<p>{c['n_contradicting']} of {c['n_regions']} regions are contradicting, the top "
        f"region in {c['n_top_contradicting']} of {c['n_signals']} signals. "
        f"{CONTRADICTING_NOTE}</p>"
    ]


def _kept_html(kept: dict) -> list[str]:
    """Return the line saying how much attribution the regions hold and where the rest is."""
    med = kept["median"]
    if med.get("in_regions") is None:
        return []
    text = (
        f"The shown regions hold a median {_fmt(med['in_regions'], '.0%')} of a signal's "
        "positive attribution"
    )
    if kept["determined"]:
        text += (
            f"; of the rest (medians), {_fmt(med['below_threshold'], '.0%')} lies below the "
            f"threshold, {_fmt(med['below_min_share'], '.0%')} is in specks smaller than the "
            f"smallest share a region keeps (min_share), "
            f"{_fmt(med['beyond_max_regions'], '.0%')} in regions past the most kept "
            f"(max_regions) and {_fmt(med['removed_by_cleaning'], '.0%')} was removed by "
            f"the cleaning, which added {_fmt(med['added_by_cleaning'], '.0%')} from below "
            "the threshold"
        )
    return [f"<p>{text}.</p>"]


def kept_line(kept: dict) -> list[str]:
    """Return a signal's line: the share of its attribution its regions hold, and the rest."""
    if kept["in_regions"] is None:
        return []
    text = f"The regions hold {_fmt(kept['in_regions'], '.0%')} of the positive attribution"
    if kept.get("below_threshold") is not None:
        text += (
            f"; {_fmt(kept['below_threshold'], '.0%')} lies below the threshold, "
            f"{_fmt(kept['below_min_share'], '.0%')} in specks below min_share, "
            f"{_fmt(kept['beyond_max_regions'], '.0%')} in regions past max_regions, "
            f"{_fmt(kept['removed_by_cleaning'], '.0%')} was removed by the cleaning "
            f"(which added {_fmt(kept['added_by_cleaning'], '.0%')})"
        )
    return [f"<p>{text}.</p>"]


_BAND_HEAD = (
    "<table><tr><th>band</th><th>x-range ({units})</th><th>extent ({units})</th>"
    "<th>signals sharing it</th><th>evidence (mean share per signal)</th>"
    "<th>mean attribution share</th><th>mean deletion effect (drop)</th>"
    "<th>contradicting regions</th></tr>"
)


def _class_html(record: dict, report: dict, figure: str | None) -> list[str]:
    """Return one class's overview: its figure and the table of its bands."""
    esc = html.escape
    units = html_units(report["axis"]["units"])
    what = "output" if report.get("task") == "regression" else "class"
    parts = [
        f'<h3 id="class-{record["index"]}">{what.capitalize()} {esc(record["name"])}: '
        f"{record['n_signals']} signal(s)</h3>"
    ]
    if figure is not None:
        parts.append(f'<p><img src="{esc(figure)}" alt="overview of {esc(record["name"])}"></p>')
    bands = record["bands"]
    if not bands:
        return [*parts, "<p>No region in any of its signals.</p>"]
    carry = "the output" if what == "output" else "its evidence"
    parts.append(
        f"<p>Bands that carry {carry} across its signals (regions' x-ranges clustered; "
        'ranked by evidence; all in <a href="summary.csv">summary.csv</a>):</p>'
    )
    parts.append(_BAND_HEAD.format(units=units))
    n = record["n_signals"]
    for b in bands[:N_LISTED]:
        parts.append(
            f"<tr><td>{b['rank']}</td>"
            f"<td>{_fmt(b['x_range'][0])} &ndash; {_fmt(b['x_range'][1])}</td>"
            f"<td>{_fmt(b['extent'][0])} &ndash; {_fmt(b['extent'][1])}</td>"
            f"<td>{b['n_signals']} of {n}</td><td>{_fmt(b['evidence'], '.3f')}</td>"
            f"<td>{_fmt(b['mean_attribution_share'], '.3f')}</td>"
            f"<td>{_fmt(b['mean_drop'], '.3f')}</td>"
            f"<td>{_fmt(b['n_contradicting'], 'd')} of {b['n_regions']}</td></tr>"
        )
    parts.append("</table>")
    if len(bands) > N_LISTED:
        parts.append(f"<p>{len(bands) - N_LISTED} more band(s) in summary.csv.</p>")
    return parts
