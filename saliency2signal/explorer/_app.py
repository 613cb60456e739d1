"""The Bokeh view of the region explorer: draw on the scalogram, see the signal.

:func:`build_view` fills a Bokeh document (a server session's, a notebook cell's or a
bare ``bokeh.document.Document`` in a test) with the view of :class:`RegionExplorer`:
the signal selector, the scalogram (log frequency, x in axis units, ``|Tx|`` in dB) with
box, polygon and freehand tools, the signal with each region's component overlaid in
its region colour, and with a model the class probabilities with the drawn regions
deleted. The list of shape dicts held by :class:`ExplorerView` is the single source of
truth: the drawing sources, the label overlay, the components and the saved mask all
follow from it. Models the browser reads by name: ``scalogram``, ``signal``, ``boxes``,
``polygons``, ``freehand``, ``components``, ``probabilities``, ``status``.

Internal: used by :mod:`saliency2signal.explorer._server`. May import: bokeh (this
module is only imported lazily), numpy, ``saliency2signal.plot`` (the region colours),
``saliency2signal.drawing`` (mask files), ``._widgets``; never the CLI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div, Range1d

from ..drawing import load_mask, save_mask
from ..plot import region_color
from ._widgets import (
    DYNAMIC_RANGE_DB,
    EDIT_COLUMNS,
    controls,
    display_columns,
    label_rgba,
    log_rows,
    plane_figure,
    probability_table,
    signal_figure,
)

__all__ = ["ExplorerView", "build_view"]


def _as_list(values) -> list:
    return [v.tolist() if isinstance(v, np.ndarray) else v for v in values]


class ExplorerView:
    """The server-side state of one document: the explorer, the shapes, the widgets.

    Built by :func:`build_view`; tests and the app server read :attr:`shapes`,
    :attr:`state` and :attr:`explorer`.
    """

    def __init__(self, doc, signals, make_explorer, *, index, explanation, data_path, on_update):
        self.doc = doc
        self.signals = signals
        self._make_explorer = make_explorer
        self._explanation = explanation
        self._data_path = None if data_path is None else Path(data_path)
        self._on_update = on_update
        self._cells: list[tuple[int, dict]] = []  # (shape id, 'cells' shape)
        self._next_sid = 1
        self._busy = False
        self._token = 0  # counts edits: a late response to an older edit is dropped
        self.shapes: list[dict] = []
        self.state = None
        self.index = int(index)
        self.explorer = make_explorer(self.index)
        self._build()
        self._show_plane()
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        ex = self.explorer
        w = controls(
            n_signals=self.signals.shape[0],
            index=self.index,
            mask_path=self._default_mask_path(),
            snap=self._explanation is not None,
        )
        self.w_signal, self.w_region, self.w_op = w.signal, w.region, w.op
        self.w_mode = w.shape_mode
        self.w_path, self.w_overwrite, self.status = w.path, w.overwrite, w.status
        fs = ex.transform_config.fs
        plane = plane_figure(
            "frequency " + ("(cycles per sample)" if fs == 1 else f"(units of fs = {fs:g})")
        )
        self.p_plane, self._tools = plane.figure, plane.tools
        self.src_plane, self.src_overlay = plane.plane, plane.overlay
        self.src_boxes, self.src_polys = plane.boxes, plane.polygons
        self.src_free, self.src_vertices = plane.freehand, plane.vertices
        sig = signal_figure(self.p_plane.x_range)
        self.p_signal, self.src_signal, self.src_components = (
            sig.figure,
            sig.signal,
            sig.components,
        )
        table, self.src_probs = probability_table(visible=ex.model is not None)

        for src in (self.src_boxes, self.src_polys, self.src_free):
            src.on_change("data", self._on_shapes)
        self.w_signal.on_change("value", self._on_signal)
        self.w_region.on_change("active", self._on_region)
        for key in ("save", "load", "snap", "clear"):
            w.buttons[key].on_click(getattr(self, key))
        self.buttons = w.buttons
        self._on_region("active", None, 0)
        choices = row(
            self.w_signal,
            column(Div(text="region"), self.w_region),
            column(Div(text="op"), self.w_op),
            column(Div(text="box / freehand"), self.w_mode),
        )
        files = column(
            row(self.w_path, column(Div(text=""), self.w_overwrite)), row(*w.buttons.values())
        )
        self.doc.add_root(
            column(choices, self.p_plane, self.p_signal, row(table), files, self.status)
        )
        self.doc.title = "saliency2signal draw"

    def _default_mask_path(self) -> str:
        if self._data_path is None:
            return "regions.npz"
        return str(self._data_path.with_name(f"{self._data_path.stem}_regions.npz"))

    def _show_plane(self) -> None:
        """Put the current signal's plane, axes and signal on the figures."""
        ex, g = self.explorer, self.explorer.grid
        start = int(np.count_nonzero(g.freqs <= 0))  # the low-pass row has no place on log
        self._rows, f_lo, f_hi = log_rows(g.f_edges, start)
        self._cols = display_columns(len(g.x))
        # the regions' overlay goes out on every edit: coarser (it only tints the plane)
        self._overlay_rows = self._rows[display_columns(len(self._rows), max_columns=200)]
        self._overlay_cols = self._cols[display_columns(len(self._cols), max_columns=600)]
        x_lo, x_hi = float(np.min(g.x_edges)), float(np.max(g.x_edges))
        self._flip = bool(g.x[-1] < g.x[0])
        self._place = {"x": [x_lo], "y": [f_lo], "dw": [x_hi - x_lo], "dh": [f_hi - f_lo]}
        mag = ex.magnitude
        db = 20 * np.log10(np.maximum(mag / max(float(mag.max()), 1e-30), 1e-12))
        img = np.clip(db, -DYNAMIC_RANGE_DB, 0).astype(np.float32)[np.ix_(self._rows, self._cols)]
        self.src_plane.data = {"image": [img[:, ::-1] if self._flip else img], **self._place}
        self.p_plane.x_range = (
            Range1d(x_hi, x_lo) if self._flip else Range1d(x_lo, x_hi)
        )  # a descending axis (wavenumbers) stays descending
        self.p_signal.x_range = self.p_plane.x_range
        self.p_plane.y_range = Range1d(f_lo, f_hi)
        xlab = ex.axis_name or "sample"
        self.p_plane.xaxis.axis_label = self.p_signal.xaxis.axis_label = (
            f"{xlab} ({ex.axis_units})" if ex.axis_units else xlab
        )
        self.src_signal.data = {"x": g.x.tolist(), "y": ex.x[0].cpu().numpy().tolist()}
        self.p_signal.title.text = f"signal {self.index} and the components of the regions"

    # ------------------------------------------------------------------ shapes
    def _new_sid(self) -> int:
        self._next_sid += 1
        return self._next_sid - 1

    def _fix_new_rows(self, src) -> list[int]:
        """Give rows the tools just added their region, op, id and colours; return them."""
        data = src.data
        n = len(data["xs" if "xs" in data else "left"])
        patches: dict[str, list] = {}
        region = self.w_region.active + 1
        op = "cut" if self.w_op.active == 1 else "add"
        missing = [c for c in EDIT_COLUMNS if len(data.get(c, ())) != n]
        for i in range(n):
            sid = data["sid"][i] if not missing else None
            if isinstance(sid, (int, np.integer)) and not isinstance(sid, bool) and sid > 0:
                continue
            fix = {
                "region": region,
                "op": op,
                "sid": self._new_sid(),
                "color": region_color(region),
                "fill": "white" if op == "cut" else region_color(region),
            }
            for c, v in fix.items():
                patches.setdefault(c, []).append((i, v))
        if missing:  # columns absent or of another length: rebuild them whole
            new = {k: _as_list(v) for k, v in data.items() if k not in EDIT_COLUMNS}
            for c in EDIT_COLUMNS:
                new[c] = [v for _, v in patches[c]] if n else []
            src.data = new
        elif patches:
            src.patch(patches)
        return [i for i, _ in patches.get("sid", [])]

    def _snap_new_rows(self, src, rows: list[int], kind: str) -> None:
        """Replace new boxes / freehand outlines by the band of the ridge inside each."""
        if not rows:
            return
        data = src.data
        for i in rows:
            if kind == "box":
                xs, ys = [data["left"][i], data["right"][i]], [data["bottom"][i], data["top"][i]]
            else:
                xs, ys = _as_list([data["xs"][i], data["ys"][i]])
            shape = {
                "region": int(data["region"][i]),
                "kind": kind,
                "op": data["op"][i],
                "x": [float(v) for v in xs],
                "y": [float(v) for v in ys],
            }
            try:
                self._cells.append((int(data["sid"][i]), self.explorer.snap_to_ridge(shape)))
            except ValueError as exc:
                self._say(f"no ridge to snap to: {exc}", error=True)
        drop = set(rows)
        src.data = {
            k: [v for j, v in enumerate(_as_list(col)) if j not in drop] for k, col in data.items()
        }

    def _source_shapes(self) -> list[tuple[int, dict]]:
        out = []
        b = self.src_boxes.data
        for i in range(len(b["left"])):
            xs, ys = [b["left"][i], b["right"][i]], [b["bottom"][i], b["top"][i]]
            out.append((b["sid"][i], "box", b["region"][i], b["op"][i], xs, ys))
        for kind, src in (("polygon", self.src_polys), ("freehand", self.src_free)):
            d = src.data
            for i in range(len(d["xs"])):
                xs, ys = _as_list([d["xs"][i], d["ys"][i]])
                if len(xs) >= 3:  # a polygon still being drawn has fewer
                    out.append((d["sid"][i], kind, d["region"][i], d["op"][i], xs, ys))
        shapes = []
        for sid, kind, k, op, xs, ys in out:
            xs, ys = [float(v) for v in xs], [float(v) for v in ys]  # plain JSON numbers
            if np.isfinite(xs + ys).all():
                shape = {"region": int(k), "kind": kind, "op": op, "x": xs, "y": ys}
                shapes.append((int(sid), shape))
        return shapes

    def _on_shapes(self, attr, old, new) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            new = {
                id(src): self._fix_new_rows(src)
                for src in (self.src_boxes, self.src_polys, self.src_free)
            }
            if self.w_mode.active == 1:  # to ridge: finished shapes only (not polygons)
                self._snap_new_rows(self.src_boxes, new[id(self.src_boxes)], "box")
                self._snap_new_rows(self.src_free, new[id(self.src_free)], "freehand")
        finally:
            self._busy = False
        self.refresh()

    def _on_region(self, attr, old, new) -> None:
        colour = region_color(new + 1)
        for tool in self._tools:  # what a new shape's extra columns start as
            tool.empty_value = colour

    def set_shapes(self, shapes) -> None:
        """Replace every shape: drawn ones go to their tool's source, cells are kept here."""
        boxes = {k: [] for k in self.src_boxes.data}
        polys = {k: [] for k in self.src_polys.data}
        free = {k: [] for k in self.src_free.data}
        self._cells = []
        for s in shapes:
            sid, k, op = self._new_sid(), int(s["region"]), s.get("op", "add")
            extra = {
                "region": k,
                "op": op,
                "sid": sid,
                "color": region_color(k),
                "fill": "white" if op == "cut" else region_color(k),
            }
            if s["kind"] == "cells":
                self._cells.append((sid, dict(s, op=op)))
                continue
            xs, ys = [float(v) for v in s["x"]], [float(v) for v in s["y"]]
            if s["kind"] == "box":
                geo = {"left": min(xs), "right": max(xs), "bottom": min(ys), "top": max(ys)}
                target = boxes
            else:
                geo = {"xs": xs, "ys": ys}
                target = polys if s["kind"] == "polygon" else free
            for c, v in {**geo, **extra}.items():
                target[c].append(v)
        self._busy = True
        try:
            self.src_boxes.data, self.src_polys.data, self.src_free.data = boxes, polys, free
            self.src_vertices.data = {"x": [], "y": []}
        finally:
            self._busy = False
        self.refresh()

    # ------------------------------------------------------------------ update
    def refresh(self) -> None:
        """Recompute the label image, the components and the probabilities."""
        self.shapes = [s for _, s in sorted(self._source_shapes() + self._cells)]
        ex = self.explorer
        try:
            labels = ex.labels(self.shapes)
        except ValueError as exc:
            self._say(f"cannot use these shapes: {exc}", error=True)
            return
        # In a served document the components go out first and the model's response
        # in the next tick (the page shows them while the forward passes run); a bare
        # document (tests, no session) gets both at once.
        served = self.doc.session_context is not None and ex.model is not None
        st = ex.update(labels=labels, probabilities=not served) if labels.any() else None
        self.state = st
        self._token += 1
        regions = () if st is None else st.regions
        x = ex.grid.x.tolist()
        self.src_components.data = {
            "region": list(regions),
            "xs": [x] * len(regions),
            "ys": [] if st is None else [c.tolist() for c in st.components],
            "color": [region_color(k) for k in regions],
        }
        self._show_labels(labels)
        if served and st is not None:
            self._say(f"components {1000 * st.seconds:.0f} ms · probabilities …")
            token = self._token
            self.doc.add_next_tick_callback(lambda: self._respond(labels, st.seconds, token))
            return
        self._show_response(st, None if st is None else st.seconds, 0.0)

    def _respond(self, labels: np.ndarray, first: float, token: int) -> None:
        """Show the model's response to edit ``token``'s regions (unless a newer came)."""
        if token != self._token:
            return
        st = self.explorer.update(labels=labels)  # the components are kept from before
        self.state = st
        self._show_response(st, first, st.seconds)

    def _show_response(self, st, first: float | None, second: float) -> None:
        """Put the probabilities (with a model), the status and the record in place."""
        ex = self.explorer
        regions = () if st is None else st.regions
        if ex.model is not None:
            p_del = ex.p_before if st is None else st.p_deleted
            names = [
                f"{n}{' (explained)' if i == ex.target else ''}"
                for i, n in enumerate(ex.class_names)
            ]
            t = ex.target
            self.src_probs.data = {
                "label": names + [f"region {k}" for k in regions],
                "region": [0] * len(names) + list(regions),
                "before": [float(v) for v in ex.p_before] + [float(ex.p_before[t])] * len(regions),
                "after": [float(v) for v in p_del]
                + ([] if st is None else [float(v) for v in st.p_each]),
            }
        times = "no region" if first is None else f"components {1000 * first:.0f} ms"
        if first is not None and ex.model is not None:
            times += f" · probabilities {1000 * second:.0f} ms"
        self._say(
            f"update: {times} · {len(regions)} region(s) · {len(self.shapes)} shape(s)"
            + ("" if ex.model is None else f" · explained class: {ex.class_names[ex.target]}")
        )
        if self._on_update is not None:
            self._on_update(self)

    def _show_labels(self, labels: np.ndarray) -> None:
        rgba = label_rgba(labels[np.ix_(self._overlay_rows, self._overlay_cols)])
        self.src_overlay.data = {"image": [rgba[:, ::-1] if self._flip else rgba], **self._place}

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#333333"
        self.status.text = f'<span style="color:{colour}">{text}</span>'

    # ------------------------------------------------------------------ actions
    def _on_signal(self, attr, old, new) -> None:
        if new is None or int(new) == self.index:
            return
        try:
            explorer = self._make_explorer(int(new))
        except (ValueError, TypeError) as exc:
            self._say(f"signal {new}: {exc}", error=True)
            return
        self.index, self.explorer = int(new), explorer
        self._cells = []  # an explanation's cells belong to their signal; drawn shapes stay
        self._show_plane()
        self.refresh()

    def save(self) -> None:
        """Write the shapes as a mask file (the path in the text input)."""
        text = self.w_path.value.strip()
        path = Path(text).expanduser()
        if not self.shapes or self.state is None:
            return self._say("nothing to save: draw a region first", error=True)
        if path.suffix.lower() != ".npz":
            return self._say(f"{text!r}: a mask file ends in .npz", error=True)
        data = None if self._data_path is None else self._data_path.resolve()
        if data is not None and data in (path.resolve(), path.with_suffix(".json").resolve()):
            return self._say(f"{text}: that is the data file; choose another name", error=True)
        exists = [p for p in (path, path.with_suffix(".json")) if p.exists()]
        if exists and not self.w_overwrite.active:
            return self._say(
                f"{exists[0]} exists: tick 'replace an existing file' to replace it", error=True
            )
        try:
            save_mask(
                path,
                self.state.labels,
                config=self.explorer.transform_config,
                n=self.explorer.n_times,
                shapes=self.shapes,
                signal=self.index,
                source=None if self._data_path is None else str(self._data_path),
                plane=self.explorer.plane,
                overwrite=bool(self.w_overwrite.active),
            )
        except (OSError, ValueError, TypeError) as exc:
            return self._say(f"not saved: {exc}", error=True)
        self.w_overwrite.active = False
        self._say(f"saved {len(self.state.regions)} region(s) to {path}")

    def load(self) -> None:
        """Read the mask file in the text input: its shapes, else its label image."""
        path = Path(self.w_path.value.strip()).expanduser()
        try:
            mask = load_mask(path)
            if mask.plane != self.explorer.plane:
                raise ValueError(
                    f"it was drawn on the {mask.plane!r} plane, this view shows "
                    f"{self.explorer.plane!r}"
                )
            if mask.shapes:
                shapes = [dict(s) for s in mask.shapes]
            else:
                lab = mask.labels
                if lab.ndim == 3:
                    lab = lab[self.index if lab.shape[0] > self.index else 0]
                shapes = self.explorer.region_shapes(lab)
            self.set_shapes(shapes)
        except (OSError, ValueError, TypeError) as exc:
            return self._say(f"not loaded: {exc}", error=True)
        note = ""
        if mask.signal is not None and mask.signal != self.index:
            note = f" (drawn on signal {mask.signal})"
        self._say(f"loaded {mask.n_regions} region(s) from {path}{note}")

    def snap(self) -> None:
        """Add the explanation's regions of this signal as 'cells' shapes."""
        if self._explanation is None:
            return self._say("no explanation folder given (--explanation DIR)", error=True)
        if self.index >= self._explanation.shape[0]:
            return self._say(f"the explanation has no signal {self.index}", error=True)
        try:
            cells = self.explorer.region_shapes(self._explanation[self.index])
        except ValueError as exc:
            return self._say(f"cannot snap: {exc}", error=True)
        self._cells += [(self._new_sid(), s) for s in cells]
        self.refresh()

    def clear(self) -> None:
        """Remove every shape."""
        self.set_shapes([])


def build_view(
    doc,
    signals,
    make_explorer,
    *,
    index: int = 0,
    explanation=None,
    data_path=None,
    on_update=None,
) -> ExplorerView:
    """Fill ``doc`` with the explorer view of ``signals`` and return its state.

    Parameters
    ----------
    doc : bokeh.document.Document
        A server session's document, a notebook's, or a bare one (tests).
    signals : numpy.ndarray, shape (B, n_times)
        The signals of the file; the selector picks one.
    make_explorer : callable
        ``make_explorer(i)`` returns the :class:`RegionExplorer` of signal ``i``.
    index : int
        The signal shown first.
    explanation : numpy.ndarray of int, shape (B, F, N), optional
        An explanation's label images (``components.npz`` ``labels``), for the
        "Snap to explanation" button.
    data_path : str or os.PathLike, optional
        The data file: the default mask path is beside it, and it is never overwritten.
    on_update : callable, optional
        Called with the view after each recomputation (on the document's thread).

    Returns
    -------
    ExplorerView
        Its :attr:`~ExplorerView.shapes` (the list of shape dicts) and
        :attr:`~ExplorerView.state` (the last :class:`ExplorerState`, ``None`` without
        regions) are the view's server-side state.
    """
    sig = np.asarray(signals)
    if sig.ndim != 2 or sig.shape[0] == 0:
        raise ValueError(f"signals have shape {sig.shape}; expected (B, n_times) with B >= 1")
    if not 0 <= int(index) < sig.shape[0]:
        raise ValueError(f"{index=} is not a signal index in 0..{sig.shape[0] - 1}")
    return ExplorerView(
        doc,
        sig,
        make_explorer,
        index=int(index),
        explanation=explanation,
        data_path=data_path,
        on_update=on_update,
    )
