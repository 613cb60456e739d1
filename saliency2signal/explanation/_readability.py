"""What makes a report figure hard to read, checked on the matplotlib Figure object.

- :func:`problems`: a list of sentences, empty for a readable figure: every image
  (a plane: ``|Tx|``, attribution) has a labelled colorbar; every axis is labelled
  (an x axis may instead share the labelled axis of the panel below, its tick labels
  hidden), with the axis's units where they are given; no legend covers a plotted
  point or lies outside the figure.
- :func:`legend_over_data`: that last check alone.

The report's tests hold its figures to this; it is here, beside the figures, so that
the rule is stated once.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, matplotlib (inside functions); never a sibling module.
"""

from __future__ import annotations

import numpy as np

__all__ = ["legend_over_data", "problems"]


def _points(ax) -> np.ndarray:
    """Return the display coordinates of every line and filled area's vertex of ``ax``."""
    data = [line.get_xydata() for line in ax.get_lines()]
    data += [np.asarray(p.vertices) for c in ax.collections for p in c.get_paths()]
    data = [d for d in data if len(d)]
    if not data:
        return np.zeros((0, 2))
    xy = np.concatenate(data)
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    return ax.transData.transform(xy)


def legend_over_data(fig) -> list[str]:
    """Name each legend that covers a plotted point or lies outside the figure.

    A legend of an Axes is checked against that Axes' data; a figure legend against
    every Axes'.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> ax = fig.subplots()
    >>> _ = ax.plot(np.linspace(0, 1, 50), np.full(50, 0.5), label="data")
    >>> _ = ax.legend(loc="center")
    >>> [text.split(" covers")[0] for text in legend_over_data(fig)]
    ["legend of ''"]
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    box_fig = fig.bbox
    legends = [(ax.get_legend(), [ax], repr(ax.get_ylabel())) for ax in fig.axes]
    legends += [(lg, fig.axes, "of the figure") for lg in fig.legends]
    found = []
    for legend, axes, name in legends:
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        if not (
            box_fig.x0 <= box.x0
            and box.x1 <= box_fig.x1 + 1e-6
            and box_fig.y0 <= box.y0
            and box.y1 <= box_fig.y1 + 1e-6
        ):
            found.append(f"legend of {name} is cut off by the figure")
        n = 0
        for ax in axes:
            xy = _points(ax)
            n += int(
                np.sum(
                    (xy[:, 0] > box.x0)
                    & (xy[:, 0] < box.x1)
                    & (xy[:, 1] > box.y0)
                    & (xy[:, 1] < box.y1)
                )
            )
        if n:
            found.append(f"legend of {name} covers {n} points")
    return found


def _x_shared_below(ax, fig) -> bool:
    """Whether ``ax`` hides its x tick labels and shares x with a labelled Axes."""
    hidden = not any(t.get_visible() and t.get_text() for t in ax.get_xticklabels())
    return hidden and any(
        other is not ax and other.get_xlabel() and ax.get_shared_x_axes().joined(ax, other)
        for other in fig.axes
    )


def problems(fig, *, x_units: str | None = None) -> list[str]:
    r"""Return what makes ``fig`` hard to read, one sentence each (empty: readable).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Drawn, not necessarily saved.
    x_units : str, optional
        Text every x label must contain (the typeset axis units, e.g.
        ``$\mathrm{cm}^{-1}$``).

    Returns
    -------
    list of str

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> ax = fig.subplots()
    >>> _ = ax.pcolormesh(np.ones((3, 4)))
    >>> problems(fig)
    ['an image without a colorbar', 'an Axes without an x label', 'an Axes without a y label']
    """
    found = []
    images = [
        image
        for ax in fig.axes
        for image in [*ax.collections, *ax.images]
        if type(image).__name__ in ("QuadMesh", "AxesImage")
    ]
    bars = {image.colorbar.ax: image.colorbar for image in images if image.colorbar}
    for image in images:
        if image.axes in bars:  # a colorbar's own image
            continue
        bar = image.colorbar
        if bar is None:
            found.append("an image without a colorbar")
        elif not bar.ax.get_ylabel() and not bar.ax.get_xlabel():
            found.append("a colorbar without a label")
    colorbar_axes = set(bars)
    for ax in fig.axes:
        if ax in colorbar_axes or not ax.get_visible():
            continue
        xlabel = ax.get_xlabel()
        if not xlabel and not _x_shared_below(ax, fig):
            found.append("an Axes without an x label")
        elif xlabel and x_units and x_units not in xlabel:
            found.append(f"the x label {xlabel!r} does not give the units {x_units!r}")
        if not ax.get_ylabel():
            found.append("an Axes without a y label")
    return found + legend_over_data(fig)
