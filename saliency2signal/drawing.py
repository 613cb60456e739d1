"""Draw your own mask: export a scalogram as a PNG, paint on it, read the cells back.

:func:`export_scalogram_png` writes ``|coef|`` as an RGB image with no axes or margins,
each time-frequency cell drawn as an exact ``row_px x col_px`` block of pixels, the
lowest frequency at the **bottom** (like ``imshow(origin='lower')``), in a grayscale
palette that can never produce the marker colour. The geometry (grid size, upscale
factors, orientation, marker colour, axes, transform configuration) is returned as a
frozen :class:`ScalogramGeometry` and recorded twice: in a JSON sidecar next to the
image and in a compressed text chunk of the PNG itself.

The user paints the cells of interest in the marker colour in any image editor (anti-
aliased brushes, soft edges, a resize of the whole canvas and JPEG re-encoding are all
fine) and :func:`mask_from_png` maps the painted pixels back onto the
``(n_freqs, n_times)`` grid, row 0 = lowest frequency, the layout every other function of
the package uses.

Regions drawn in ``saliency2signal draw`` are saved as a mask file (:func:`save_mask`: a
``uint8`` label image in an ``.npz`` and a JSON record holding the same geometry record);
:func:`load_mask` reads one, or a painted PNG, for ``explain(regions=...)``.

Only JSON is ever read back; nothing is unpickled. The geometry record and the pixel
reading it shares with :func:`saliency2signal.phase.magnitudes_from_png` live in the
internal ``_scalogram_png``.

May import: numpy, torch, Pillow (lazily), ``._mask_file``, ``._scalogram_png``, ``._validation``,
``.transform``; never ``mask``, ``phase`` or the explanation stages.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ._mask_file import DrawnMask, load_mask, save_mask
from ._scalogram_png import (
    CMAPS,
    PNG_TEXT_KEY,
    SCALES,
    ScalogramGeometry,
    area_mean,
    check_marker,
    check_tolerance,
    check_upscale,
    positive_int,
    read_rgb,
    resolve_geometry,
)
from ._validation import check_choice, check_instance, check_positive, check_real
from .transform import SSQConfig

__all__ = [
    "DrawnMask",
    "ScalogramGeometry",
    "export_scalogram_png",
    "load_mask",
    "mask_from_png",
    "marker_fraction",
    "save_mask",
]

#: A pixel at least this much marker proves that something was painted.
_FOUND_FRACTION = 0.25
#: Default upscaled image size aimed at (pixels along each axis, at least).
_TARGET_PX = 600


def _check_marker_vs_gray(marker: tuple[int, int, int], tolerance: float) -> None:
    """Refuse a marker near the gray axis: gray pixels would read as paint."""
    m = np.asarray(marker, dtype=np.float64)
    chroma = float(np.linalg.norm(m - m.mean()))
    if chroma < 2 * tolerance:
        raise ValueError(
            f"marker={marker} lies {chroma:.1f} RGB units from the gray axis; it must be at "
            f"least 2 * tolerance = {2 * tolerance:g} away to be told apart from the "
            "grayscale image (use a saturated colour such as (255, 0, 255))"
        )


# =========================================================================== detection
def marker_fraction(rgb: np.ndarray, marker, *, tolerance: float) -> np.ndarray:
    """Fraction of marker colour in each pixel of a (mostly) grayscale image.

    Every pixel ``p`` (RGB, 0-255) is decomposed exactly as
    ``p = u * (1, 1, 1) + a * marker + r`` with ``r`` orthogonal to both ``(1, 1, 1)``
    and ``marker``: ``a`` is the weight of the marker colour, ``u`` the gray part and
    ``r`` the colour that is neither. Any linear blend ``(1 - a) * gray + a * marker``
    (anti-aliased brush edges, soft brushes, resampling, partial opacity) gives back
    exactly ``a``, whatever the gray level underneath. The fraction is ``clip(a, 0, 1)``,
    set to 0 where ``|r| > tolerance`` (paint of some other colour, e.g. red when the
    marker is magenta). A colour near the marker (``(250, 10, 240)`` for magenta) still
    counts almost fully; nothing is snapped to 1, so fractions stay proportional.

    Parameters
    ----------
    rgb : numpy.ndarray, shape (..., 3)
        Pixel colours in 0-255.
    marker : (r, g, b)
        Marker colour.
    tolerance : float
        RGB distance, see above.

    Returns
    -------
    numpy.ndarray, shape (...)
        Float64 fraction in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.drawing import marker_fraction
    >>> px = np.array([[0, 0, 0], [255, 0, 255], [200, 100, 200], [255, 0, 0]])
    >>> marker_fraction(px, (255, 0, 255), tolerance=40).round(3).tolist()
    [0.0, 1.0, 0.392, 0.0]
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    m = np.asarray(marker, dtype=np.float64)
    chroma = m - m.mean()
    a = (rgb @ chroma) / (chroma @ chroma)
    u = rgb.mean(axis=-1) - a * m.mean()
    resid = rgb - u[..., None] - a[..., None] * m
    frac = np.clip(a, 0.0, 1.0)
    frac[np.linalg.norm(resid, axis=-1) > tolerance] = 0.0
    return frac


# =========================================================================== export
def export_scalogram_png(
    coef_or_image,
    path: str | os.PathLike,
    *,
    config: SSQConfig | None = None,
    n: int | None = None,
    scale: str = "linear",
    dynamic_range: float = 60.0,
    cmap: str = "gray",
    marker: tuple[int, int, int] = (255, 0, 255),
    tolerance: float = 60.0,
    upscale: int | tuple[int, int] | None = None,
) -> ScalogramGeometry:
    """Write a scalogram as a paintable PNG and record its pixel geometry.

    Parameters
    ----------
    coef_or_image : array_like or torch.Tensor, shape (n_freqs, n_times)
        Complex coefficients (``|coef|`` is drawn) or a real image (drawn as is, e.g. an
        attribution map), lowest frequency in row 0. Leading dimensions of size 1 are
        dropped.
    path : str or os.PathLike
        Output file; must end in ``.png``. The geometry is also written to
        ``path.with_suffix('.json')``.
    config : SSQConfig, optional
        Transform configuration; recorded, and used for the frequency and time axes.
    n : int, optional
        Signal length for ``config`` (defaults to ``n_times``).
    scale : {'linear', 'log'}
        ``'linear'`` maps ``[min, max]`` to the palette; ``'log'`` maps
        ``20 log10(|v| / max|v|)`` over ``[-dynamic_range, 0]`` dB.
    dynamic_range : float
        Decibels shown by ``scale='log'``.
    cmap : {'gray', 'gray_r'}
        Grayscale palette, dark (``'gray'``) or light (``'gray_r'``) for small values.
        Only grays are offered: the detection in :func:`mask_from_png` relies on the
        image being achromatic, which is what makes any saturated marker safe.
    marker : (r, g, b)
        Colour the user will paint with (default magenta).
    tolerance : float
        Colour distance recorded for :func:`mask_from_png` (RGB units, 0-255).
    upscale : int or (row_px, col_px), optional
        Pixels per cell along frequency and time. Default: the smallest factors giving at
        least 600 pixels along each axis, so that thin rows can be painted.

    Returns
    -------
    ScalogramGeometry
        The geometry, also stored in the sidecar and in the PNG text chunk
        ``'saliency2signal-geometry'``.

    Raises
    ------
    ValueError
        For a non-2-D or non-finite input, a path not ending in ``.png``, a marker too
        close to gray, a configuration whose row count differs from the input, or an
        image that would contain the marker colour.
    TypeError
        For a non-numeric input.

    Notes
    -----
    The PNG is 8-bit RGB (not grayscale, so that editors open it in a mode where colour
    can be painted) with no axes or margins: cell ``(k, j)`` occupies pixel rows
    ``[(F - 1 - k) * row_px, (F - k) * row_px)`` and columns
    ``[j * col_px, (j + 1) * col_px)``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, ssq_cwt
    >>> from saliency2signal.drawing import export_scalogram_png
    >>> cfg = SSQConfig(nv=8)
    >>> t = np.arange(256)
    >>> Tx = ssq_cwt(np.cos(2 * np.pi * 0.1 * t), cfg).Tx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     geom = export_scalogram_png(Tx, pathlib.Path(tmp) / "scalogram.png", config=cfg)
    ...     sidecar = (pathlib.Path(tmp) / "scalogram.json").is_file()
    >>> (geom.n_freqs, geom.n_times) == tuple(Tx.shape), geom.upscale, sidecar
    (True, (11, 3), True)
    """
    from PIL import Image, PngImagePlugin

    values = _as_image_array(coef_or_image)
    n_freqs, n_times = values.shape
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path={str(path)!r} must end in '.png'")
    check_choice(scale, SCALES, "scale")
    check_choice(cmap, CMAPS, "cmap")
    dynamic_range = check_positive(dynamic_range, "dynamic_range")
    marker = check_marker(marker)
    tolerance = check_tolerance(tolerance)
    _check_marker_vs_gray(marker, tolerance)
    if upscale is None:
        upscale = (-(-_TARGET_PX // n_freqs), -(-_TARGET_PX // n_times))
    row_px, col_px = check_upscale(upscale)
    axes = _grid_axes(config, n, n_freqs, n_times)

    levels = _gray_levels(values, scale=scale, dynamic_range=dynamic_range)
    if cmap == "gray_r":
        levels = 255 - levels
    _check_marker_absent(levels, marker, tolerance)
    pixels = np.repeat(np.repeat(levels[::-1], row_px, axis=0), col_px, axis=1)
    rgb = np.ascontiguousarray(np.repeat(pixels[:, :, None], 3, axis=2))

    geometry = ScalogramGeometry(
        n_freqs=n_freqs,
        n_times=n_times,
        upscale=(row_px, col_px),
        width=n_times * col_px,
        height=n_freqs * row_px,
        marker=marker,
        tolerance=tolerance,
        cmap=cmap,
        scale=scale,
        freqs=axes.freqs,
        time_start=0.0,
        time_step=axes.time_step,
        config=axes.config_json,
    )
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_TEXT_KEY, geometry.to_json(), zip=True)
    Image.fromarray(rgb).save(path, format="PNG", pnginfo=info)
    path.with_suffix(".json").write_text(json.dumps(geometry.to_dict(), indent=1) + "\n")
    return geometry


class _GridAxes(NamedTuple):
    """Frequency and time axes of an exported grid, as recorded in its geometry."""

    freqs: tuple[float, ...] | None
    time_step: float
    config_json: str | None


def _grid_axes(config, n, n_freqs: int, n_times: int) -> _GridAxes:
    """Axes from the transform configuration, or grid indices when there is none."""
    if config is None:
        if n is not None:
            raise ValueError(f"n={n!r} is only meaningful together with config=")
        return _GridAxes(freqs=None, time_step=1.0, config_json=None)
    check_instance(config, SSQConfig, "config")
    n = n_times if n is None else positive_int(n, "n")
    expected = config.n_freqs(n)
    if expected != n_freqs:
        raise ValueError(
            f"the image has {n_freqs} frequency rows but config gives {expected} for n={n}"
        )
    return _GridAxes(
        freqs=tuple(float(f) for f in config.freqs(n)),
        time_step=n / (n_times * config.fs),
        config_json=config.to_json(),
    )


def _check_marker_absent(levels: np.ndarray, marker, tolerance: float) -> None:
    """Refuse gray levels that would read as paint (a second guard behind the gray check)."""
    rendered = np.repeat(np.unique(levels)[:, None], 3, axis=1).astype(np.float64)
    if np.any(marker_fraction(rendered, marker, tolerance=tolerance) > 0) or np.any(
        np.linalg.norm(rendered - np.asarray(marker), axis=1) <= tolerance
    ):  # pragma: no cover - unreachable once the marker passed _check_marker_vs_gray
        raise ValueError(f"the rendered image would contain the marker colour {marker}")


def _as_image_array(data) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().resolve_conj().numpy()
    elif not isinstance(data, (np.ndarray, list, tuple)):
        raise TypeError(f"coef_or_image must be an array or tensor, got {type(data).__name__}")
    arr = np.asarray(data)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"coef_or_image has dtype {arr.dtype}; expected a numeric array")
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"coef_or_image has shape {arr.shape}; expected a non-empty (n_freqs, n_times)"
        )
    arr = np.abs(arr) if np.iscomplexobj(arr) else arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"coef_or_image contains {int((~np.isfinite(arr)).sum())} NaN/inf")
    return arr.astype(np.float64)


def _gray_levels(values: np.ndarray, *, scale: str, dynamic_range: float) -> np.ndarray:
    """Map values to uint8 gray levels (0 = smallest)."""
    if scale == "log":
        mag = np.abs(values)
        peak = mag.max()
        if peak == 0:
            return np.zeros(values.shape, dtype=np.uint8)
        with np.errstate(divide="ignore"):
            db = 20.0 * np.log10(mag / peak)
        t = 1.0 + np.maximum(db, -dynamic_range) / dynamic_range
    else:
        lo, hi = values.min(), values.max()
        t = np.zeros_like(values) if hi == lo else (values - lo) / (hi - lo)
    return np.clip(np.rint(t * 255.0), 0, 255).astype(np.uint8)


# =========================================================================== import
def mask_from_png(
    path: str | os.PathLike,
    *,
    geometry: ScalogramGeometry | str | os.PathLike | None = None,
    marker: tuple[int, int, int] | None = None,
    tolerance: float | None = None,
    min_fraction: float = 0.5,
    soft: bool = False,
    allow_aspect_change: bool = False,
) -> np.ndarray:
    """Read a painted scalogram image back as a mask on the time-frequency grid.

    Parameters
    ----------
    path : str or os.PathLike
        The painted image (PNG, or anything Pillow reads, e.g. a JPEG re-export). An
        alpha channel is composited on white.
    geometry : ScalogramGeometry or path, optional
        The geometry returned by :func:`export_scalogram_png`, or the path of its JSON
        sidecar. By default ``path.with_suffix('.json')`` is read if it exists, else the
        PNG text chunk ``'saliency2signal-geometry'`` (which editors may drop).
    marker : (r, g, b), optional
        Marker colour; defaults to the recorded one.
    tolerance : float, optional
        Colour distance (RGB units); defaults to the recorded one.
    min_fraction : float
        A cell is in the mask when at least this fraction of its pixel footprint is
        painted (``0 < min_fraction <= 1``).
    soft : bool
        Return the painted fraction of each cell (float64 in ``[0, 1]``) instead of the
        thresholded boolean mask.
    allow_aspect_change : bool
        Accept an image whose aspect ratio differs from the recorded one (a non-uniform
        resize); by default this is refused because it usually means a crop.

    Returns
    -------
    numpy.ndarray, shape (n_freqs, n_times)
        Boolean mask (float fractions with ``soft=True``), row 0 = lowest frequency.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable image, no geometry is found, the aspect ratio
        changed (unless ``allow_aspect_change``), or no pixel of the marker colour was
        found.

    Notes
    -----
    Detection: each pixel is decomposed as ``u * (1, 1, 1) + a * marker + residual``
    (see :func:`marker_fraction`); its painted fraction is ``clip(a, 0, 1)``, or 0 when
    the residual colour exceeds ``tolerance``. This counts blends of the marker with the
    gray image (anti-aliased edges, soft or semi-transparent brushes, resampling, JPEG)
    in proportion to their marker content, whatever the gray underneath. The image must
    contain at least one pixel with a fraction of 0.25 or more (far above JPEG noise on
    grays), otherwise nothing was painted and ``ValueError`` is raised.

    Mapping: the image is assumed to cover the whole grid, whatever its pixel size, so a
    resize by the editor is undone exactly: the fraction map is integrated over each
    cell's footprint (area-weighted, with fractional pixels at the cell edges) and
    divided by the footprint area. A crop cannot be told apart from a resize when it
    keeps the aspect ratio, and would silently shift the mask: crop nothing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from saliency2signal.drawing import export_scalogram_png, mask_from_png
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = pathlib.Path(tmp) / "scalogram.png"
    ...     geom = export_scalogram_png(rng.random((20, 50)), png, upscale=(4, 2))
    ...     img = np.array(Image.open(png))
    ...     img[-4 * 5:, 2 * 10 : 2 * 30] = geom.marker  # bottom 5 rows, columns 10..29
    ...     Image.fromarray(img).save(png)
    ...     mask = mask_from_png(png)
    >>> mask.shape, int(mask.sum()), bool(mask[:5, 10:30].all())
    ((20, 50), 100, True)
    """
    path = Path(path)
    rgb, embedded = read_rgb(path)
    geometry = resolve_geometry(geometry, path, embedded)
    marker = geometry.marker if marker is None else check_marker(marker)
    tolerance = geometry.tolerance if tolerance is None else check_tolerance(tolerance)
    _check_marker_vs_gray(marker, tolerance)
    min_fraction = check_real(min_fraction, "min_fraction", low=0, high=1, low_open=True)

    height, width = rgb.shape[:2]
    if (width, height) != (geometry.width, geometry.height) and not allow_aspect_change:
        ratio = (width / height) / (geometry.width / geometry.height)
        # one pixel of rounding on either side is a uniform resize
        slack = 0.01 + 1.0 / min(width, height) + 1.0 / min(geometry.width, geometry.height)
        if abs(ratio - 1.0) > slack:
            raise ValueError(
                f"{str(path)!r} is {width}x{height} pixels but the scalogram was exported at "
                f"{geometry.width}x{geometry.height}: the aspect ratio changed by "
                f"{100 * (ratio - 1):+.1f}%, which usually means the image was cropped. "
                "Pass allow_aspect_change=True if it was only stretched"
            )

    frac = marker_fraction(rgb, marker, tolerance=tolerance)
    if not np.any(frac >= _FOUND_FRACTION):
        raise ValueError(
            f"no pixel of colour {marker} (within tolerance={tolerance:g}) was found in "
            f"{str(path)!r}; paint the cells to select in exactly that colour, or pass "
            "marker=/tolerance="
        )
    cells = area_mean(frac[::-1], geometry.n_freqs, geometry.n_times)
    cells = np.clip(cells, 0.0, 1.0)
    if soft:
        return cells
    return cells >= min_fraction - 1e-9
