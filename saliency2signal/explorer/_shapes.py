"""Drawn shapes on the time-frequency plane, and the cells they cover.

A shape is a plain dict (it travels as JSON, in the mask file and between the browser
and the app): ``region`` (its label, 1..255), ``kind`` (``'box'``, ``'polygon'``,
``'freehand'`` or ``'cells'``), ``op`` (``'add'`` or ``'cut'``), and ``x``/``y``, its
vertices in data units (x-axis values; frequencies in the units of the transform's
``fs``, plotted on a log axis). A box gives its two corners; ``'cells'`` gives
``runs``: ``[row, first col, last col]`` triples taken as they are (an explanation's
region, a ridge band). :func:`rasterize` applies the shapes in order: ``'add'`` sets
the covered cells to the shape's region, ``'cut'`` clears the covered cells of it.

A cell is covered when its centre lies inside the shape, measured where the shape was
drawn: x linear, frequency logarithmic (a straight edge on the log axis). The low-pass
row (frequency 0) is never covered by a drawn shape.

Internal: used by :mod:`saliency2signal.explorer`. May import: numpy, scikit-image
(lazily), ``saliency2signal._mask_file``; nothing that imports torch.
"""

from __future__ import annotations

import numpy as np

from .._mask_file import SHAPE_KINDS

__all__ = ["label_runs", "rasterize", "shape_cells"]


def _vertices(shape: dict, i: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(shape.get("x", ()), dtype=np.float64)
    ys = np.asarray(shape.get("y", ()), dtype=np.float64)
    need = 2 if shape["kind"] == "box" else 3
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size < need:
        raise ValueError(
            f"shape {i} ({shape['kind']}) needs at least {need} (x, y) vertices of equal "
            f"count, got {xs.size} x and {ys.size} y"
        )
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError(f"shape {i} has non-finite vertices")
    return xs, ys


def shape_cells(
    shape: dict, x_centres: np.ndarray, freqs: np.ndarray, *, index: int = 0
) -> np.ndarray:
    """Boolean ``(F, N)`` map of the cells whose centres lie inside ``shape``.

    Parameters
    ----------
    shape : dict
        See the module notes.
    x_centres : numpy.ndarray, shape (N,)
        x value of each column (ascending or descending).
    freqs : numpy.ndarray, shape (F,)
        Frequency of each row, ascending (a leading 0: the low-pass row).
    index : int
        Position of the shape in its list (for error messages).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.explorer import shape_cells
    >>> freqs = 0.01 * 2.0 ** np.arange(6)  # 0.01 .. 0.32
    >>> box = {"kind": "box", "x": [2, 4], "y": [0.015, 0.1]}
    >>> shape_cells(box, np.arange(8.0), freqs).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0]])
    """
    kind = shape.get("kind")
    if kind not in SHAPE_KINDS:
        raise ValueError(f"shape {index} has kind={kind!r}; expected one of {SHAPE_KINDS}")
    n_f, n_t = len(freqs), len(x_centres)
    out = np.zeros((n_f, n_t), dtype=bool)
    if kind == "cells":
        runs = np.asarray(shape.get("runs", ()), dtype=np.int64).reshape(-1, 3)
        if runs.size and (
            runs[:, 0].min() < 0
            or runs[:, 0].max() >= n_f
            or runs[:, 1].min() < 0
            or runs[:, 2].max() >= n_t
            or (runs[:, 2] < runs[:, 1]).any()
        ):
            raise ValueError(f"shape {index} has cell runs outside the {n_f} x {n_t} grid")
        for r, c0, c1 in runs:
            out[r, c0 : c1 + 1] = True
        return out
    xs, ys = _vertices(shape, index)
    pos = freqs > 0
    logf = np.full(n_f, -np.inf)
    logf[pos] = np.log(freqs[pos])
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.where(ys > 0, np.log(np.where(ys > 0, ys, 1.0)), -np.inf)
    x_lo, x_hi = xs.min(), xs.max()
    y_lo, y_hi = logy.min(), logy.max()
    cols = np.flatnonzero((x_centres >= x_lo) & (x_centres <= x_hi))
    rows = np.flatnonzero(pos & (logf >= y_lo) & (logf <= y_hi))
    if cols.size == 0 or rows.size == 0:
        return out
    if kind == "box":
        out[np.ix_(rows, cols)] = True
        return out
    from skimage.measure import points_in_poly

    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    points = np.column_stack([x_centres[cc.ravel()], logf[rr.ravel()]])
    poly = np.column_stack([xs, np.maximum(logy, logf[pos].min() - 1.0)])
    inside = points_in_poly(points, poly)
    out[rr.ravel()[inside], cc.ravel()[inside]] = True
    return out


def rasterize(shapes, x_centres: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Return the ``uint8`` label image ``(F, N)`` of ``shapes`` applied in order.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.explorer import rasterize
    >>> freqs = 0.01 * 2.0 ** np.arange(4)
    >>> shapes = [{"region": 1, "kind": "box", "x": [0, 5], "y": [0.01, 0.08]},
    ...           {"region": 2, "kind": "box", "x": [4, 7], "y": [0.02, 0.04]},
    ...           {"region": 1, "op": "cut", "kind": "box", "x": [0, 1], "y": [0.01, 0.08]}]
    >>> rasterize(shapes, np.arange(8.0), freqs)
    array([[0, 0, 1, 1, 1, 1, 0, 0],
           [0, 0, 1, 1, 2, 2, 2, 2],
           [0, 0, 1, 1, 2, 2, 2, 2],
           [0, 0, 1, 1, 1, 1, 0, 0]], dtype=uint8)
    """
    x_centres = np.asarray(x_centres, dtype=np.float64)
    freqs = np.asarray(freqs, dtype=np.float64)
    labels = np.zeros((len(freqs), len(x_centres)), dtype=np.uint8)
    for i, shape in enumerate(shapes):
        region = shape.get("region")
        if isinstance(region, bool) or not isinstance(region, (int, np.integer)):
            raise TypeError(f"shape {i} has region={region!r}; expected an int 1..255")
        if not 1 <= region <= 255:
            raise ValueError(f"shape {i} has region={region}; expected 1..255")
        op = shape.get("op", "add")
        if op not in ("add", "cut"):
            raise ValueError(f"shape {i} has op={op!r}; expected 'add' or 'cut'")
        cells = shape_cells(shape, x_centres, freqs, index=i)
        if op == "add":
            labels[cells] = region
        else:
            labels[cells & (labels == region)] = 0
    return labels


def label_runs(mask: np.ndarray) -> list[list[int]]:
    """``[row, first col, last col]`` runs of a boolean ``(F, N)`` map (a ``'cells'`` shape).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.explorer import label_runs
    >>> m = np.array([[0, 1, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=bool)
    >>> label_runs(m)
    [[0, 1, 2], [0, 4, 4]]
    """
    m = np.asarray(mask, dtype=bool)
    padded = np.zeros((m.shape[0], m.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    d = np.diff(padded, axis=1)
    starts = np.argwhere(d == 1)
    stops = np.argwhere(d == -1)
    return [[int(r), int(c0), int(c1 - 1)] for (r, c0), (_, c1) in zip(starts, stops, strict=True)]
