"""Per-pixel maps of a run over a hyperspectral cube: what was predicted where, and why.

A cube's pixels are the run's signals; their ``samples`` rows carry the pixel's position
in id columns (the cube's dimension names, in the order of ``layout['image_shape']``).

- :func:`pixel_maps`: the images, filled from the ``samples`` table read in column
  batches, each row placed at its pixel by its id columns (never by row order):
  ``predicted_class`` (int16, -1 where there is no prediction: a failed pixel, or one
  not yet done), ``top_region_start``, ``top_region_stop`` and ``top_region_centre``
  (float32, the x-range of the pixel's top region in the run's axis units, NaN where
  it has none) and ``p_target`` (float32, the model's probability of the explained
  class, NaN where none).
- :func:`map_figures`: the predicted classes (categorical colours, a colorbar naming
  the classes), the top region's centre and ``p_target``, each with a labelled colorbar
  and labelled axes.
- :func:`write_maps`: ``maps/<name>.npy`` for every image and ``maps/<name>.png`` for
  each figure into the run folder, each file written atomically.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, pyarrow and matplotlib (inside functions), the standard library,
``_files``, ``explanation`` (the public names of its internal ``_overview``: axis labels).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..explanation._overview import axis_label

__all__ = ["MAP_FIGURES", "MAP_NAMES", "map_figures", "pixel_maps", "write_maps"]

#: The images of :func:`pixel_maps` (``maps/<name>.npy``).
MAP_NAMES = (
    "predicted_class",
    "top_region_start",
    "top_region_stop",
    "top_region_centre",
    "p_target",
)
#: The images drawn by :func:`map_figures` (``maps/<name>.png``).
MAP_FIGURES = ("predicted_class", "top_region_centre", "p_target")
_BATCH = 65_536


def _shape(layout: dict) -> tuple[tuple[int, ...], list[str]]:
    """Return the cube's image shape and the id columns that index it."""
    shape = layout.get("image_shape")
    if shape is None:
        raise ValueError(
            "the run has no image_shape (its signals are not a cube's pixels): no maps"
        )
    shape = tuple(int(n) for n in shape)
    ids = list(layout.get("id_names") or ())
    if len(ids) != len(shape):
        raise ValueError(f"id_names={ids!r} must name one id column per axis of {shape=}")
    return shape, ids


def _column(batch, name: str, kind) -> np.ndarray:
    """Return column ``name`` of ``batch`` as ``kind`` (float: NaN, int: -1 for nulls)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind is float:
        col = pc.fill_null(pc.cast(batch.column(name), pa.float64()), np.nan)
    else:
        col = pc.fill_null(pc.cast(batch.column(name), pa.int64()), -1)
    return np.asarray(col.to_numpy(zero_copy_only=False))


def pixel_maps(store) -> dict[str, np.ndarray]:
    """Return the run's per-pixel images (see the module's docstring), shape ``image_shape``.

    Parameters
    ----------
    store : RunStore
        A run over a cube (``layout['image_shape']`` set).

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`MAP_NAMES`: ``predicted_class`` int16 (-1: none), the others float32
        (NaN: none).

    Raises
    ------
    ValueError
        If the run is not over a cube, or a row's ids lie outside the image.

    Examples
    --------
    >>> import tempfile
    >>> from saliency2signal.stream import RunStore
    >>> layout = dict(n_signals=6, n_times=4, n_freqs=3, chunk=6, n_chunks=1,
    ...               max_regions=1, class_names=["a", "b"], id_names=["row", "col"],
    ...               image_shape=[2, 3], axis=None)
    >>> store, _ = RunStore.open_or_create(tempfile.mkdtemp() + "/run",
    ...                                    material={}, layout=layout)
    >>> pixel_maps(store)["predicted_class"]  # nothing done yet
    array([[-1, -1, -1],
           [-1, -1, -1]], dtype=int16)
    """
    import pyarrow.parquet as pq

    shape, ids = _shape(store.layout)
    n = int(np.prod(shape))
    flat = {name: np.full(n, np.nan, np.float32) for name in MAP_NAMES}
    flat["predicted_class"] = np.full(n, -1, np.int16)
    columns = [*ids, "status", "prediction", "p_target", "top_x_start", "top_x_stop"]
    for c in sorted(store.done_chunks()):
        part = pq.ParquetFile(store.folder / "samples" / f"part-{c:05d}.parquet")
        for batch in part.iter_batches(batch_size=_BATCH, columns=columns):
            where = [_column(batch, name, int) for name in ids]
            try:
                pos = np.ravel_multi_index(where, shape)
            except ValueError:
                raise ValueError(
                    f"chunk {c}: a row's ids ({', '.join(ids)}) lie outside the image {shape}"
                ) from None
            ok = batch.column("status").to_numpy(zero_copy_only=False) == "explained"
            pred = _column(batch, "prediction", int)
            flat["predicted_class"][pos] = np.where(ok, pred, -1)
            lo, hi = _column(batch, "top_x_start", float), _column(batch, "top_x_stop", float)
            flat["top_region_start"][pos] = np.where(ok, lo, np.nan)
            flat["top_region_stop"][pos] = np.where(ok, hi, np.nan)
            flat["top_region_centre"][pos] = np.where(ok, (lo + hi) / 2, np.nan)
            flat["p_target"][pos] = np.where(ok, _column(batch, "p_target", float), np.nan)
    return {name: v.reshape(shape) for name, v in flat.items()}


def _image_axes(fig, ids):
    """Return one Axes for a pixel map, its axes labelled by the id columns."""
    ax = fig.subplots()
    ax.set_xlabel(f"{ids[1]} (pixel)")
    ax.set_ylabel(f"{ids[0]} (pixel)")
    return ax


def _class_figure(image: np.ndarray, class_names: list[str], ids: list[str]):
    """Return the predicted-class map: one colour per class, grey where none."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    k = len(class_names)
    base = mpl.colormaps["tab10" if k <= 10 else "tab20" if k <= 20 else "turbo"]
    colours = [base(i) for i in range(k)] if k <= 20 else base(np.linspace(0, 1, k)).tolist()
    cmap = mpl.colors.ListedColormap(["0.8", *colours])
    norm = mpl.colors.BoundaryNorm(np.arange(-1.5, k), cmap.N)
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = _image_axes(fig, ids)
    # a cube's pixel map is drawn as an image is seen: row 0 at the top
    im = ax.imshow(image, cmap=cmap, norm=norm, interpolation="nearest", origin="upper")
    bar = fig.colorbar(im, ax=ax, ticks=np.arange(-1, k))
    bar.ax.set_yticklabels(["none (failed)", *class_names])
    bar.set_label("predicted class")
    ax.set_title("Predicted class per pixel")
    return fig


def _value_figure(image: np.ndarray, label: str, title: str, ids: list[str], **kwargs):
    """Return a map of one number per pixel, grey where it has none."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    cmap = mpl.colormaps[kwargs.pop("cmap", "viridis")].with_extremes(bad="0.8")
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = _image_axes(fig, ids)
    im = ax.imshow(
        np.ma.masked_invalid(image), cmap=cmap, interpolation="nearest", origin="upper", **kwargs
    )
    fig.colorbar(im, ax=ax).set_label(label)
    ax.set_title(f"{title} (grey: none)")
    return fig


def map_figures(store, maps: dict[str, np.ndarray] | None = None) -> dict:
    """Draw the maps of :data:`MAP_FIGURES` (a 2-D cube's; none for other shapes).

    Parameters
    ----------
    store : RunStore
        A run over a cube.
    maps : dict, optional
        :func:`pixel_maps` of the run, if already read.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Empty when the image is not 2-D (its ``.npy`` maps are still written).
    """
    shape, ids = _shape(store.layout)
    if len(shape) != 2:
        return {}
    maps = pixel_maps(store) if maps is None else maps
    layout = store.layout
    x_label = axis_label(layout.get("axis_name") or "x", layout.get("axis_units") or "")
    return {
        "predicted_class": _class_figure(
            maps["predicted_class"], list(layout["class_names"]), ids
        ),
        "top_region_centre": _value_figure(
            maps["top_region_centre"],
            f"top region's centre: {x_label}",
            "Centre of the top region per pixel",
            ids,
        ),
        "p_target": _value_figure(
            maps["p_target"],
            "p(explained class)",
            "Probability of the explained class",
            ids,
            vmin=0.0,
            vmax=1.0,
            cmap="magma",
        ),
    }


def write_maps(store) -> list[Path]:
    """Write a cube run's per-pixel maps into ``maps/`` of its run folder.

    Parameters
    ----------
    store : RunStore
        A run over a cube; its done chunks are mapped (pixels of chunks not yet done
        stay -1 / NaN).

    Returns
    -------
    list of pathlib.Path
        ``maps/<name>.npy`` for each of :data:`MAP_NAMES`, then ``maps/<name>.png`` for
        each of :data:`MAP_FIGURES` (2-D images only).

    Raises
    ------
    ValueError
        If the run is not over a cube.
    """
    maps = pixel_maps(store)
    folder = Path(store.folder) / "maps"
    folder.mkdir(exist_ok=True)
    written = []
    for name, image in maps.items():

        def npy(tmp: str, _image=image) -> None:
            buf = io.BytesIO()
            np.save(buf, _image)
            Path(tmp).write_bytes(buf.getvalue())

        written.append(atomic_write(folder / f"{name}.npy", npy))
    for name, fig in map_figures(store, maps).items():
        written.append(
            atomic_write(
                folder / f"{name}.png",
                lambda tmp, _fig=fig: _fig.savefig(tmp, dpi=100, format="png"),
            )
        )
    return written
