"""Mask files: regions drawn on a scalogram, as a label image and a JSON record.

A mask file is a pair written by :func:`save_mask` (``saliency2signal draw`` saves
one): ``NAME.npz`` holds ``labels``, a ``uint8`` label image ``(n_freqs, n_times)``
(or ``(B, n_freqs, n_times)``, one per signal) with row 0 the lowest frequency and 0 as
background, and ``NAME.json`` beside it holds the grid's geometry (the same
:class:`~saliency2signal.drawing.ScalogramGeometry` record the sidecar of an exported
scalogram PNG holds, with one pixel per cell), the drawn shapes in data coordinates,
and the signal the regions were drawn on. :func:`load_mask` reads such a pair, or a
painted PNG (through :func:`~saliency2signal.drawing.mask_from_png`; each connected
painted area is one region). Only JSON and a pickle-free ``.npz`` are ever read.

Internal: public through :mod:`saliency2signal.drawing`. May import: numpy,
scikit-image (lazily), ``._files``, ``._scalogram_png``, ``._validation``, ``.limits``,
``.transform``; never ``mask``, the explanation stages or the CLI.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import limits
from ._files import atomic_write
from ._scalogram_png import ScalogramGeometry
from ._validation import check_instance, readonly
from .transform import SSQConfig

__all__ = ["DrawnMask", "load_mask", "save_mask", "MASK_FORMAT", "SHAPE_KINDS"]

#: The planes regions are drawn on: synchrosqueezed (``Tx``) or CWT (``Wx``).
PLANES = ("ssq", "cwt")
#: Version tag of the JSON record of a mask file.
MASK_FORMAT = "saliency2signal-mask/1"
#: What a drawn shape may be: a box, a polygon, a freehand (lasso) outline, or cells
#: taken as they are (an explanation's region, a ridge band).
SHAPE_KINDS = ("box", "polygon", "freehand", "cells")


@dataclass(frozen=True, eq=False)
class DrawnMask:
    """Regions drawn on one transform's grid, as read by :func:`load_mask`.

    Attributes
    ----------
    labels : numpy.ndarray of uint8, shape (n_freqs, n_times) or (B, n_freqs, n_times)
        Region ``k`` is ``labels == k``; 0 is background; row 0 the lowest frequency.
    geometry : ScalogramGeometry
        The grid: size, row frequencies, the transform's configuration.
    shapes : tuple of dict
        The drawn shapes (JSON): ``region`` (label), ``kind`` (one of
        :data:`SHAPE_KINDS`), ``op`` (``'add'`` or ``'cut'``), ``x`` and ``y`` (vertices
        in data units: x-axis values and frequencies); empty for a painted PNG.
    signal : int or None
        Index of the signal in its data file the regions were drawn on.
    source : str or None
        The data file, as the drawing app was given it.
    plane : {'ssq', 'cwt'}
        The plane the regions were drawn on (rows at ``config.freqs`` or
        ``config.cwt_freqs``).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.drawing import DrawnMask
    >>> from saliency2signal.drawing import ScalogramGeometry
    >>> lab = np.zeros((3, 4), np.uint8); lab[1, 1:3] = 1
    >>> m = DrawnMask(lab, ScalogramGeometry(n_freqs=3, n_times=4, upscale=(1, 1),
    ...                                        width=4, height=3))
    >>> m.n_regions, m.config is None
    (1, True)
    """

    labels: np.ndarray
    geometry: ScalogramGeometry
    shapes: tuple = field(default=())
    signal: int | None = None
    source: str | None = None
    plane: str = "ssq"

    @property
    def n_regions(self) -> int:
        """Number of distinct regions (non-zero labels)."""
        return int(np.count_nonzero(np.unique(self.labels)))

    @property
    def config(self) -> SSQConfig | None:
        """The transform the regions were drawn on, if recorded."""
        text = self.geometry.config
        return None if text is None else SSQConfig.from_json(text)

    def to_dict(self) -> dict:
        """Return the JSON record written beside the labels."""
        return {
            "format": MASK_FORMAT,
            "geometry": self.geometry.to_dict(),
            "shapes": [dict(s) for s in self.shapes],
            "signal": self.signal,
            "source": self.source,
            "plane": self.plane,
            "n_regions": self.n_regions,
        }


def _geometry(
    labels: np.ndarray, config: SSQConfig | None, n: int | None, plane: str
) -> ScalogramGeometry:
    n_freqs, n_times = labels.shape[-2:]
    freqs, step, text = None, 1.0, None
    if config is not None:
        check_instance(config, SSQConfig, "config")
        n = n_times if n is None else int(n)
        if config.n_freqs(n) != n_freqs:
            raise ValueError(
                f"labels have {n_freqs} frequency rows but config gives {config.n_freqs(n)} "
                f"for n={n}"
            )
        rows = config.freqs(n) if plane == "ssq" else config.cwt_freqs(n)
        freqs = tuple(float(f) for f in rows)
        step, text = n / (n_times * config.fs), config.to_json()
    return ScalogramGeometry(
        n_freqs=int(n_freqs),
        n_times=int(n_times),
        upscale=(1, 1),
        width=int(n_times),
        height=int(n_freqs),
        freqs=freqs,
        time_step=step,
        config=text,
    )


def _check_shapes(shapes) -> tuple:
    out = []
    for i, s in enumerate(shapes):
        if not isinstance(s, dict):
            raise TypeError(f"shapes[{i}] is a {type(s).__name__}; expected a dict")
        kind = s.get("kind")
        if kind not in SHAPE_KINDS:
            raise ValueError(f"shapes[{i}] has kind={kind!r}; expected one of {SHAPE_KINDS}")
        if s.get("op", "add") not in ("add", "cut"):
            raise ValueError(f"shapes[{i}] has op={s.get('op')!r}; expected 'add' or 'cut'")
        out.append(json.loads(json.dumps(s)))  # plain JSON, or a TypeError naming it
    return tuple(out)


def save_mask(
    path,
    labels,
    *,
    config: SSQConfig | None = None,
    n: int | None = None,
    shapes=(),
    signal: int | None = None,
    source: str | None = None,
    plane: str = "ssq",
    overwrite: bool = False,
) -> DrawnMask:
    """Write regions as a mask file: ``path`` (``.npz``) and its JSON record beside it.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` to write; the record goes to ``path.with_suffix('.json')``.
    labels : array_like of int, shape (n_freqs, n_times) or (B, n_freqs, n_times)
        Label image(s), 0 as background, at most 255 regions.
    config : SSQConfig, optional
        The transform of the grid (recorded; :func:`saliency2signal.explain` refuses
        the mask on another one).
    n : int, optional
        Signal length of the grid (default ``n_times``).
    shapes : sequence of dict
        The drawn shapes, see :attr:`DrawnMask.shapes`.
    signal : int, optional
        Index of the signal the regions were drawn on.
    source : str, optional
        The data file.
    plane : {'ssq', 'cwt'}
        The plane the regions were drawn on.
    overwrite : bool
        Replace existing files; otherwise an existing one is a ``ValueError``.

    Returns
    -------
    DrawnMask
        What :func:`load_mask` reads back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.drawing import load_mask, save_mask
    >>> cfg = SSQConfig(nv=8)
    >>> lab = np.zeros((cfg.n_freqs(64), 64), np.uint8); lab[20:30, 10:20] = 1
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = pathlib.Path(tmp) / "regions.npz"
    ...     _ = save_mask(p, lab, config=cfg, shapes=[{"region": 1, "kind": "box",
    ...                   "op": "add", "x": [9.5, 19.5], "y": [0.1, 0.2]}])
    ...     back = load_mask(p)
    >>> bool((back.labels == lab).all()), back.config == cfg, back.shapes[0]["kind"]
    (True, True, 'box')
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"path={str(path)!r} must end in '.npz'")
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iub" or lab.ndim not in (2, 3) or lab.size == 0:
        raise ValueError(
            f"labels have dtype {lab.dtype} and shape {lab.shape}; expected integer labels "
            "(n_freqs, n_times) or (B, n_freqs, n_times)"
        )
    if lab.min() < 0 or lab.max() > 255:
        raise ValueError(f"labels must lie in 0..255, got {lab.min()}..{lab.max()}")
    if plane not in PLANES:
        raise ValueError(f"plane={plane!r} must be one of {PLANES}")
    mask = DrawnMask(
        labels=readonly(lab.astype(np.uint8)),
        geometry=_geometry(lab, config, n, plane),
        shapes=_check_shapes(shapes),
        signal=None if signal is None else int(signal),
        source=None if source is None else str(source),
        plane=plane,
    )
    record = path.with_suffix(".json")
    text = json.dumps(mask.to_dict(), indent=1) + "\n"
    # the record first: a mask whose .npz exists is complete
    atomic_write(record, lambda tmp: Path(tmp).write_text(text), overwrite=overwrite)
    atomic_write(path, lambda tmp: _write_labels(tmp, mask.labels), overwrite=overwrite)
    return mask


def _write_labels(tmp: str, labels: np.ndarray) -> None:
    with open(tmp, "wb") as f:
        np.savez_compressed(f, labels=labels)


def load_mask(path, *, min_fraction: float = 0.5) -> DrawnMask:
    """Read a mask file written by :func:`save_mask`, or a painted scalogram PNG.

    Parameters
    ----------
    path : str or os.PathLike
        ``NAME.npz`` (with ``NAME.json`` beside it), ``NAME.json``, or a ``.png``
        painted in the marker colour (geometry sidecar beside it, see
        :func:`~saliency2signal.drawing.mask_from_png`).
    min_fraction : float
        For a PNG: the painted fraction of a cell that puts it in the mask.

    Returns
    -------
    DrawnMask

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        A file that is not a mask file (named), labels that do not fit the geometry.
    """
    path = Path(path)
    if path.suffix.lower() == ".png":
        return _from_png(path, min_fraction)
    if path.suffix.lower() not in (".npz", ".json"):
        raise ValueError(f"{str(path)!r} is not a mask file (.npz with its .json, or .png)")
    npz, record = path.with_suffix(".npz"), path.with_suffix(".json")
    for p in (npz, record):
        if not p.is_file():
            raise FileNotFoundError(f"mask file {str(p)!r} not found")
    limits.check("max_metadata_bytes", record.stat().st_size, what=f"the record {str(record)!r}")
    try:
        meta = json.loads(record.read_text())
        if not isinstance(meta, dict) or meta.get("format") != MASK_FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else meta
            raise ValueError(f"format is {found!r}")
        geometry = ScalogramGeometry.from_dict(meta["geometry"])
        shapes = _check_shapes(meta.get("shapes", ()))
        plane = meta.get("plane", "ssq")
        if plane not in PLANES:
            raise ValueError(f"plane is {plane!r}, not one of {PLANES}")
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{str(record)!r} is not a mask record ({MASK_FORMAT}): {exc}") from None
    labels = _read_labels(npz)
    if labels.shape[-2:] != (geometry.n_freqs, geometry.n_times):
        raise ValueError(
            f"{str(npz)!r} holds labels of shape {labels.shape}; its record gives a "
            f"{geometry.n_freqs} x {geometry.n_times} grid"
        )
    signal = meta.get("signal")
    return DrawnMask(
        labels=readonly(labels),
        geometry=geometry,
        shapes=shapes,
        signal=None if signal is None else int(signal),
        source=meta.get("source"),
        plane=plane,
    )


def _read_labels(npz: Path) -> np.ndarray:
    try:
        with np.load(npz, allow_pickle=False) as z:
            if "labels" not in z.files:
                raise ValueError(f"no array 'labels' (has {z.files})")
            # the size from the header, before the array is inflated (a label image
            # of mostly zeros compresses a thousandfold: no inflation limit here)
            with zipfile.ZipFile(npz) as zf, zf.open("labels.npy") as member:
                fmt = np.lib.format
                read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
                version = fmt.read_magic(member)
                if version not in read:
                    raise ValueError(f"unsupported .npy version {version}")
                shape, _, dtype = read[version](member)
            cells = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            limits.check("max_grid_cells", cells, what=f"the labels in {str(npz)!r}")
            labels = z["labels"]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{str(npz)!r} is not a mask file: {exc}") from None
    if labels.dtype != np.uint8 or labels.ndim not in (2, 3):
        raise ValueError(
            f"{str(npz)!r}: labels have dtype {labels.dtype} and shape {labels.shape}; "
            "expected uint8 (n_freqs, n_times) or (B, n_freqs, n_times)"
        )
    return labels


def _from_png(path: Path, min_fraction: float) -> DrawnMask:
    from skimage import measure

    from ._scalogram_png import read_rgb, resolve_geometry
    from .drawing import mask_from_png

    mask = mask_from_png(path, min_fraction=min_fraction)
    # the geometry mask_from_png used: the sidecar, else (read again) the PNG's text chunk
    embedded = None if path.with_suffix(".json").is_file() else read_rgb(path)[1]
    geometry = resolve_geometry(None, path, embedded)
    labels = measure.label(mask, connectivity=2)
    if labels.max() > 255:
        raise ValueError(f"{str(path)!r} has {labels.max()} painted areas; at most 255")
    return DrawnMask(
        labels=readonly(labels.astype(np.uint8)), geometry=geometry, source=os.fspath(path)
    )
