"""The Bokeh figures and widgets of the explorer view, built empty.

:func:`plane_figure` (the scalogram with its drawing tools), :func:`signal_figure`,
:func:`probability_table` and :func:`controls` make the models the view fills and
listens to; :func:`log_rows` and :func:`label_rgba` turn a plane and a label image into
the images they show. Names the browser (and browser tests) find:
``scalogram``, ``boxes``, ``polygons``, ``freehand``, ``vertices``, ``overlay``,
``signal``, ``signal_data``, ``components``, ``probabilities``, ``status``,
``signal_index``, ``region``, ``op``, ``mask_path``, ``overwrite``, and the buttons
``save``, ``load``, ``snap``, ``clear``.

Internal: plain names, used by :mod:`saliency2signal.explorer._app` only. May import:
bokeh (this module is only imported lazily), numpy, ``saliency2signal.plot`` (the
region colours).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from bokeh.models import (
    BoxEditTool,
    Button,
    Checkbox,
    ColumnDataSource,
    DataTable,
    Div,
    FreehandDrawTool,
    LinearColorMapper,
    NumberFormatter,
    PolyDrawTool,
    PolyEditTool,
    RadioButtonGroup,
    Spinner,
    TableColumn,
    TextInput,
)
from bokeh.palettes import Greys256
from bokeh.plotting import figure

from ..plot import region_color

__all__ = [
    "DYNAMIC_RANGE_DB",
    "EDIT_COLUMNS",
    "N_REGION_CHOICES",
    "controls",
    "label_rgba",
    "log_rows",
    "plane_figure",
    "probability_table",
    "signal_figure",
]

#: Decibels below the plane's peak shown on the scalogram (darker = larger).
DYNAMIC_RANGE_DB = 60.0
#: Region numbers offered by the region selector.
N_REGION_CHOICES = 9
#: Columns of the drawing sources besides the geometry: the server fills them.
EDIT_COLUMNS = ("region", "op", "sid", "color", "fill")
_IMAGE_COLUMNS = ("image", "x", "y", "dw", "dh")


#: Most raster rows and columns of the images sent to the page: about twice the plot's
#: frame in pixels. The images are for the eye (the cells drawn are computed on the
#: full grid); larger ones cost transfer and drawing time on every edit (a 2000-point
#: signal's plane at full resolution is 5 MB of RGBA per update).
MAX_DISPLAY_ROWS, MAX_DISPLAY_COLUMNS = 400, 900


def log_rows(
    f_edges: np.ndarray, start: int, *, max_rows: int = MAX_DISPLAY_ROWS
) -> tuple[np.ndarray, float, float]:
    """Rows ``start..`` resampled onto a uniform log-frequency raster (nearest row).

    A Bokeh image is stretched linearly in screen space; on a log axis its rows are
    therefore geometric. The transform's rows are only piecewise geometric, so each
    raster row shows the transform row its centre falls in (half the smallest row
    height, at most ``max_rows`` rows). Returns the row index of each raster row and
    the raster's lower and upper frequency.
    """
    edges = np.log(f_edges[start:])
    step = float(np.min(np.diff(edges))) / 2
    n_rows = int(np.clip(np.ceil((edges[-1] - edges[0]) / step), 1, max_rows))
    centres = edges[0] + (np.arange(n_rows) + 0.5) * (edges[-1] - edges[0]) / n_rows
    rows = start + np.clip(np.searchsorted(edges, centres) - 1, 0, len(edges) - 2)
    return rows, float(f_edges[start]), float(f_edges[-1])


def display_columns(n: int, *, max_columns: int = MAX_DISPLAY_COLUMNS) -> np.ndarray:
    """Columns shown of ``n``: all of them, or ``max_columns`` evenly spaced (nearest).

    Examples
    --------
    >>> display_columns(5).tolist(), display_columns(9, max_columns=3).tolist()
    ([0, 1, 2, 3, 4], [0, 4, 8])
    """
    if n <= max_columns:
        return np.arange(n)
    return np.rint(np.linspace(0, n - 1, max_columns)).astype(np.intp)


def label_rgba(lab: np.ndarray, *, alpha: int = 110) -> np.ndarray:
    """``uint32`` RGBA image of a label image: each region in its colour, 0 clear."""
    rgba = np.zeros(lab.shape, dtype=np.uint32)
    view = rgba.view(np.uint8).reshape(*lab.shape, 4)
    for k in np.unique(lab[lab > 0]):
        c = region_color(int(k)).lstrip("#")
        view[lab == k] = [int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), alpha]
    return rgba


def plane_figure(frequency_label: str) -> SimpleNamespace:
    """Make the scalogram figure, its image and drawing sources and its tools (empty)."""
    p = figure(
        name="scalogram",
        width=900,
        height=420,
        y_axis_type="log",
        tools="pan,wheel_zoom,reset",
        title="|Tx| (dB): Shift+drag a box · hold to start a polygon · drag freehand",
    )
    p.yaxis.axis_label = frequency_label
    mapper = LinearColorMapper(palette=tuple(reversed(Greys256)), low=-DYNAMIC_RANGE_DB, high=0)
    plane = ColumnDataSource({k: [] for k in _IMAGE_COLUMNS}, name="plane")
    p.image(source=plane, color_mapper=mapper, level="image", **_image_fields())
    overlay = ColumnDataSource({k: [] for k in _IMAGE_COLUMNS}, name="overlay")
    p.image_rgba(source=overlay, level="image", **_image_fields())
    style = dict(line_color="color", fill_color="fill", fill_alpha=0.12, line_width=2)
    boxes = ColumnDataSource(
        {k: [] for k in ("left", "right", "top", "bottom", *EDIT_COLUMNS)}, name="boxes"
    )
    r_box = p.quad(left="left", right="right", top="top", bottom="bottom", source=boxes, **style)
    polygons = ColumnDataSource({k: [] for k in ("xs", "ys", *EDIT_COLUMNS)}, name="polygons")
    r_poly = p.patches("xs", "ys", source=polygons, **style)
    vertices = ColumnDataSource({"x": [], "y": []}, name="vertices")
    r_vtx = p.scatter("x", "y", source=vertices, size=7, color="white")
    freehand = ColumnDataSource({k: [] for k in ("xs", "ys", *EDIT_COLUMNS)}, name="freehand")
    r_free = p.patches("xs", "ys", source=freehand, **style)
    tools = [
        BoxEditTool(renderers=[r_box]),
        PolyDrawTool(renderers=[r_poly], vertex_renderer=r_vtx),
        PolyEditTool(renderers=[r_poly], vertex_renderer=r_vtx),
        FreehandDrawTool(renderers=[r_free]),
    ]
    p.add_tools(*tools)
    # both: the edit tools are drag + tap tools, and an 'auto' tap tool would take over
    p.toolbar.active_drag = tools[0]
    p.toolbar.active_tap = tools[0]
    return SimpleNamespace(
        figure=p,
        plane=plane,
        overlay=overlay,
        boxes=boxes,
        polygons=polygons,
        vertices=vertices,
        freehand=freehand,
        tools=tools,
    )


def _image_fields() -> dict:
    return {k: k for k in _IMAGE_COLUMNS}


def signal_figure(x_range) -> SimpleNamespace:
    """Make the signal figure: the signal and each region's component (empty sources)."""
    s = figure(
        name="signal", width=900, height=260, tools="pan,wheel_zoom,reset,save", x_range=x_range
    )
    signal = ColumnDataSource({"x": [], "y": []}, name="signal_data")
    s.line("x", "y", source=signal, color="#444444", line_width=1.2)
    comps = ColumnDataSource({"region": [], "xs": [], "ys": [], "color": []}, name="components")
    s.multi_line("xs", "ys", source=comps, color="color", line_width=2)
    return SimpleNamespace(figure=s, signal=signal, components=comps)


def probability_table(*, visible: bool) -> tuple[DataTable, ColumnDataSource]:
    """Make the table of p before / with the regions deleted (classes, then regions)."""
    source = ColumnDataSource(
        {k: [] for k in ("label", "region", "before", "after")}, name="probabilities"
    )
    number = NumberFormatter(format="0.0000")
    table = DataTable(
        source=source,
        columns=[
            TableColumn(field="label", title="class / region deleted alone"),
            TableColumn(field="before", title="p before", formatter=number),
            TableColumn(field="after", title="p with the region(s) deleted", formatter=number),
        ],
        width=520,
        height=200,
        index_position=None,
        reorderable=False,
        name="probability_table",
        visible=visible,
    )
    return table, source


def controls(*, n_signals: int, index: int, mask_path: str, snap: bool) -> SimpleNamespace:
    """Make the signal selector, region and op choices, mask file widgets and status."""
    buttons = {
        key: Button(label=label, name=key, width=140)
        for key, label in (
            ("save", "Save mask"),
            ("load", "Load mask"),
            ("snap", "Snap to explanation"),
            ("clear", "Clear"),
        )
    }
    buttons["snap"].disabled = not snap
    return SimpleNamespace(
        signal=Spinner(
            title=f"signal (0..{n_signals - 1})",
            low=0,
            high=n_signals - 1,
            step=1,
            value=index,
            width=130,
            name="signal_index",
        ),
        region=RadioButtonGroup(
            labels=[str(k) for k in range(1, N_REGION_CHOICES + 1)], active=0, name="region"
        ),
        op=RadioButtonGroup(labels=["add", "cut"], active=0, name="op"),
        shape_mode=RadioButtonGroup(labels=["as drawn", "to ridge"], active=0, name="snap_mode"),
        path=TextInput(title="mask file (.npz)", value=mask_path, width=420, name="mask_path"),
        overwrite=Checkbox(label="replace an existing file", name="overwrite"),
        buttons=buttons,
        status=Div(text="", name="status", width=700),
    )
