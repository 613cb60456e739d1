"""The scalogram PNG format: its geometry record and the pixel reading shared by its readers.

:class:`ScalogramGeometry` (re-exported publicly by :mod:`saliency2signal.drawing`) records
how an exported scalogram image maps onto the time-frequency grid. :func:`read_rgb` reads
an image as composited RGB with its embedded geometry text, :func:`resolve_geometry` finds
the geometry of an image (argument, JSON sidecar or PNG text chunk), and :func:`area_mean`
averages a pixel image over the grid cells; :func:`open_image` opens any image with its
size checked against the limits before decoding. Used by :mod:`saliency2signal.drawing`
(masks painted on the image), :mod:`saliency2signal.phase` (magnitudes read from the
image) and :mod:`saliency2signal.imaging` (heatmaps read from images).

Internal: plain names, not public API. May import: numpy, Pillow (lazily),
``saliency2signal.limits``, ``._serialize``, ``._validation``, ``.transform``; never
``drawing``, ``phase``, ``mask`` or anything that imports them.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import limits
from ._serialize import JSONDataclass
from ._validation import check_choice, check_positive, check_real
from .transform import SSQConfig

__all__ = [
    "open_image",
    "CMAPS",
    "FORMAT",
    "ORIENTATION",
    "PNG_TEXT_KEY",
    "SCALES",
    "ScalogramGeometry",
    "area_mean",
    "check_marker",
    "check_tolerance",
    "check_upscale",
    "positive_int",
    "read_rgb",
    "resolve_geometry",
]

#: Key of the PNG text chunk holding the geometry JSON.
PNG_TEXT_KEY = "saliency2signal-geometry"
FORMAT = "saliency2signal.scalogram-geometry/1"
ORIENTATION = "lowest-frequency-at-bottom"
CMAPS = ("gray", "gray_r")
SCALES = ("linear", "log")


# =========================================================================== geometry
@dataclass(frozen=True)
class ScalogramGeometry(JSONDataclass):
    """Pixel geometry of an exported scalogram image, frozen and JSON-serialisable.

    Parameters
    ----------
    n_freqs, n_times : int
        Grid size ``(F, N)`` of the coefficients the image shows.
    upscale : tuple of int
        ``(row_px, col_px)``: each cell is drawn as a block of ``row_px`` pixel rows by
        ``col_px`` pixel columns.
    width, height : int
        Image size in pixels, ``n_times * col_px`` and ``n_freqs * row_px``.
    marker : tuple of int
        RGB colour (0-255) to paint with.
    tolerance : float
        Colour distance (Euclidean, RGB units 0-255) used by :func:`mask_from_png`; see
        its Notes.
    cmap : {'gray', 'gray_r'}
        Palette of the image: black (``'gray'``) or white (``'gray_r'``) for small values.
    scale : {'linear', 'log'}
        How magnitudes were mapped to gray levels.
    orientation : str
        Always ``'lowest-frequency-at-bottom'``: grid row 0 is the bottom block of pixel
        rows, grid column 0 the leftmost block of pixel columns.
    freqs : tuple of float or None
        Frequency of each grid row, ascending (``None`` when no configuration was given).
    time_start, time_step : float
        Time of column ``j`` is ``time_start + j * time_step``.
    config : str or None
        JSON text of the :class:`~saliency2signal.SSQConfig` of the transform, if known.
    format : str
        Version tag of this record.

    Examples
    --------
    >>> from saliency2signal.drawing import ScalogramGeometry
    >>> g = ScalogramGeometry(n_freqs=3, n_times=4, upscale=(2, 1), width=4, height=6)
    >>> ScalogramGeometry.from_json(g.to_json()) == g
    True
    >>> g.to_pixel(0, 0)  # bottom-left corner of the grid, in pixel coordinates
    (0.0, 6.0)
    """

    n_freqs: int
    n_times: int
    upscale: tuple[int, int]
    width: int
    height: int
    marker: tuple[int, int, int] = (255, 0, 255)
    tolerance: float = 60.0
    cmap: str = "gray"
    scale: str = "linear"
    orientation: str = ORIENTATION
    freqs: tuple[float, ...] | None = None
    time_start: float = 0.0
    time_step: float = 1.0
    config: str | None = None
    format: str = FORMAT

    _TUPLE_FIELDS = ("upscale", "marker", "freqs")  # travel as JSON lists

    def __post_init__(self):  # noqa: D105 - validation
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        for name in ("n_freqs", "n_times", "width", "height"):
            set_(name, positive_int(getattr(self, name), name))
        set_("upscale", check_upscale(self.upscale))
        row_px, col_px = self.upscale
        if (self.height, self.width) != (self.n_freqs * row_px, self.n_times * col_px):
            raise ValueError(
                f"image size (width={self.width}, height={self.height}) does not match "
                f"n_times={self.n_times} x col_px={col_px} by n_freqs={self.n_freqs} x "
                f"row_px={row_px}"
            )
        set_("marker", check_marker(self.marker))
        set_("tolerance", check_tolerance(self.tolerance))
        check_choice(self.cmap, CMAPS, "cmap")
        check_choice(self.scale, SCALES, "scale")
        if self.orientation != ORIENTATION:
            raise ValueError(f"orientation={self.orientation!r} must be {ORIENTATION!r}")
        if self.format != FORMAT:
            raise ValueError(f"format={self.format!r} is not a known geometry record")
        if self.freqs is not None:
            freqs = tuple(float(f) for f in self.freqs)
            if len(freqs) != self.n_freqs:
                raise ValueError(f"freqs has {len(freqs)} values but n_freqs={self.n_freqs}")
            set_("freqs", freqs)
        set_("time_start", check_real(self.time_start, "time_start"))
        set_("time_step", check_positive(self.time_step, "time_step"))
        if isinstance(self.config, SSQConfig):
            set_("config", self.config.to_json())
        elif isinstance(self.config, dict):
            set_("config", SSQConfig.from_dict(self.config).to_json())
        elif self.config is not None:
            if not isinstance(self.config, str):
                raise TypeError(f"config={self.config!r} must be SSQConfig JSON text or None")
            set_("config", SSQConfig.from_json(self.config).to_json())

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """Plain-Python dictionary (JSON-compatible); ``config`` as a nested dict."""
        d = super().to_dict()
        d["config"] = None if self.config is None else json.loads(self.config)
        return d

    # ----------------------------------------------------------------- derived values
    @property
    def ssq_config(self) -> SSQConfig | None:
        """The recorded :class:`~saliency2signal.SSQConfig`, or ``None``."""
        return None if self.config is None else SSQConfig.from_json(self.config)

    @property
    def times(self) -> np.ndarray:
        """Time of each grid column, ``time_start + arange(n_times) * time_step``."""
        return self.time_start + np.arange(self.n_times) * self.time_step

    def to_pixel(self, row, col, *, size: tuple[int, int] | None = None):
        """Map continuous grid coordinates to continuous pixel coordinates.

        Parameters
        ----------
        row : float or array_like
            Frequency coordinate: cell ``k`` spans ``[k, k + 1)``, 0 at the bottom edge
            of the lowest-frequency row, ``n_freqs`` at the top edge of the image.
        col : float or array_like
            Time coordinate: cell ``j`` spans ``[j, j + 1)``.
        size : (width, height), optional
            Pixel size of a resized image; defaults to the recorded size.

        Returns
        -------
        x, y : float or numpy.ndarray
            Pixel coordinates with ``(0, 0)`` at the top-left corner of the image (the
            convention of Pillow's ``ImageDraw``).
        """
        width, height = (self.width, self.height) if size is None else size
        x = np.asarray(col, dtype=np.float64) * (width / self.n_times)
        y = (self.n_freqs - np.asarray(row, dtype=np.float64)) * (height / self.n_freqs)
        if x.ndim == 0 and y.ndim == 0:
            return float(x), float(y)
        return x, y


def positive_int(value, name: str) -> int:
    """Return ``value`` as an ``int >= 1``.

    Not ``_validation.check_int``: the drawing tests match "must be an integer" for a
    non-integer pixel count, where ``check_int`` says "must be an int".
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an integer")
    if value < 1:
        raise ValueError(f"{name}={value!r} must be >= 1")
    return int(value)


def check_upscale(upscale) -> tuple[int, int]:
    """Return ``(row_px, col_px)`` from an int or a pair of ints >= 1."""
    if isinstance(upscale, (int, np.integer)) and not isinstance(upscale, bool):
        upscale = (upscale, upscale)
    if not isinstance(upscale, (tuple, list)) or len(upscale) != 2:
        raise ValueError(f"upscale={upscale!r} must be an int or a (row_px, col_px) pair")
    return (positive_int(upscale[0], "row_px"), positive_int(upscale[1], "col_px"))


def check_marker(marker) -> tuple[int, int, int]:
    """Return an ``(r, g, b)`` triple of ints in 0..255."""
    if isinstance(marker, str) or not isinstance(marker, (tuple, list, np.ndarray)):
        raise TypeError(f"marker={marker!r} must be an (r, g, b) triple of ints in 0..255")
    if len(marker) != 3 or not all(
        isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255
        for c in marker
    ):
        raise ValueError(f"marker={tuple(marker)!r} must be an (r, g, b) triple of ints in 0..255")
    return tuple(int(c) for c in marker)


def check_tolerance(tolerance) -> float:
    """Return a colour distance in RGB units, strictly between 0 and 255."""
    return check_real(tolerance, "tolerance", low=0, high=255, low_open=True, high_open=True)


@contextlib.contextmanager
def open_image(path):
    """Open an image with PIL and check its pixel count against the limits before decoding.

    ``Image.open`` reads the header only; the pixels are decoded by the caller, after
    ``max_png_pixels`` has been checked.
    """
    from PIL import Image

    with Image.open(path) as im:
        limits.check(
            "max_png_pixels",
            im.width * im.height,
            what=f"{str(path)!r} ({im.width} x {im.height} pixels)",
        )
        yield im


def read_rgb(path: Path) -> tuple[np.ndarray, str | None]:
    """Pixels as float64 ``(H, W, 3)`` (alpha composited on white) and the text chunk."""
    from PIL import UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {str(path)!r}")
    try:
        with open_image(path) as im:
            im.load()
            embedded = im.info.get(PNG_TEXT_KEY)
            if "A" in im.getbands() or "transparency" in im.info:
                rgba = np.asarray(im.convert("RGBA"), dtype=np.float64)
                alpha = rgba[..., 3:] / 255.0
                rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
            else:
                rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"could not read {str(path)!r} as an image: {exc}") from None
    return rgb, embedded if isinstance(embedded, str) else None


def _checked(geometry: ScalogramGeometry, source: Path) -> ScalogramGeometry:
    """Return a geometry read from ``source`` once its grid is within the limits."""
    cells = geometry.n_freqs * geometry.n_times
    limits.check(
        "max_grid_cells",
        cells,
        what=f"{str(source)!r} names a grid of {geometry.n_freqs} x {geometry.n_times} cells",
    )
    return geometry


def resolve_geometry(geometry, path: Path, embedded: str | None) -> ScalogramGeometry:
    """Return the geometry of the image at ``path``.

    In order: ``geometry`` itself, the JSON file it names, the sidecar
    ``path.with_suffix('.json')``, or the ``embedded`` PNG text chunk.
    """
    if isinstance(geometry, ScalogramGeometry):
        return geometry
    if geometry is not None and not isinstance(geometry, (str, os.PathLike)):
        raise TypeError(
            f"geometry must be a ScalogramGeometry or the path of its JSON file, got "
            f"{type(geometry).__name__}"
        )
    source = Path(geometry) if geometry is not None else path.with_suffix(".json")
    if geometry is not None or source.is_file():
        try:
            limits.check(
                "max_metadata_bytes",
                source.stat().st_size,
                what=f"the geometry record {str(source)!r}",
            )
            return _checked(ScalogramGeometry.from_json(source.read_text()), source)
        except OSError as exc:
            raise ValueError(f"could not read geometry file {str(source)!r}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{str(source)!r} is not a valid geometry record: {exc}") from None
    if embedded is not None:
        try:
            return _checked(ScalogramGeometry.from_json(embedded), path)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"the geometry embedded in {str(path)!r} is invalid: {exc}") from None
    raise ValueError(
        f"no geometry found for {str(path)!r}: neither a sidecar {str(source)!r} nor an "
        f"embedded {PNG_TEXT_KEY!r} text chunk. Pass geometry= the ScalogramGeometry "
        "returned by export_scalogram_png, or the path of the JSON file it wrote"
    )


def area_mean(values: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Mean of a piecewise-constant ``(H, W)`` image over an ``(n_rows, n_cols)`` grid.

    The grid covers the image exactly; cell edges may fall inside pixels, whose area is
    then shared in proportion. Integrals come from cumulative sums interpolated at the
    edges, which is exact for piecewise-constant pixels.
    """
    out = values
    for axis, n_cells in ((0, n_rows), (1, n_cols)):
        n_px = out.shape[axis]
        cum = np.concatenate(
            [np.zeros_like(np.take(out, [0], axis=axis)), np.cumsum(out, axis=axis)],
            axis=axis,
        )
        edges = np.linspace(0.0, n_px, n_cells + 1)
        idx = np.minimum(np.floor(edges).astype(np.intp), n_px - 1)
        w = edges - idx
        shape = [1, 1]
        shape[axis] = n_cells + 1
        w = w.reshape(shape)
        lo, hi = np.take(cum, idx, axis=axis), np.take(cum, idx + 1, axis=axis)
        integral = lo + w * (hi - lo)
        out = np.diff(integral, axis=axis) * (n_cells / n_px)
    return out
