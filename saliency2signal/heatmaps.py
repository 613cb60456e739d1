"""Heatmaps made elsewhere, read back as numbers: grey, colour-mapped or blended images.

A finished saliency study often exists only as pictures: Grad-CAM PNGs, a tf-explain
overlay, heatmaps saved with a matplotlib colormap. :func:`read_heatmap_images` reads a
folder of them as a stack of values in ``[0, 1]`` on the model's image grid, ready for
:func:`~saliency2signal.explanation.map_heatmaps`:

- grey images: the grey level (luminance for colour files);
- colour-mapped images (``colormap='jet'``): each pixel inverted to the position of the
  nearest colour of the colormap's 256-entry table (:func:`invert_colormap`);
- a heatmap blended over the scalogram (``plt.imshow(scalogram); plt.imshow(h,
  cmap='jet', alpha=a)``, Grad-CAM's ``show_cam_on_image``) when the plain scalogram
  images are given too: ``blended = a * cmap(h) + (1 - a) * scalogram``, with ``a``
  estimated per image as the value under which the unblended pixels are closest to the
  colormap (:func:`unblend`).

May import: numpy, scipy, matplotlib (lazily, for the colormap tables), ``agreement``
(the image folder reader), ``_validation``; never ``explanation`` or ``cli``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_real

__all__ = ["HeatmapImages", "invert_colormap", "read_heatmap_images", "unblend"]

#: Blend weights tried by :func:`unblend` (the estimate is refined around the best).
_ALPHAS = np.linspace(0.05, 1.0, 20)
#: Pixels used to estimate a blend weight (a fixed, evenly spread subset).
_ALPHA_PIXELS = 4096


def _table(colormap: str) -> np.ndarray:
    import matplotlib

    if colormap not in matplotlib.colormaps:
        raise ValueError(f"colormap={colormap!r} is not a matplotlib colormap")
    return matplotlib.colormaps[colormap].resampled(256)(np.linspace(0, 1, 256))[:, :3]


def _nearest(rgb: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest table colour and the distance to it, per pixel."""
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(table).query(rgb.reshape(-1, 3))
    return idx.reshape(rgb.shape[:-1]), dist.reshape(rgb.shape[:-1])


def invert_colormap(rgb, colormap: str) -> np.ndarray:
    """Return the values a colormap rendered as ``rgb``: each pixel's nearest colour.

    Parameters
    ----------
    rgb : array_like, shape (..., 3)
        Colours in ``[0, 1]`` (divide 8-bit images by 255).
    colormap : str
        The matplotlib colormap the values were rendered with.

    Returns
    -------
    numpy.ndarray, shape (...)
        Values in ``[0, 1]``: the position of the nearest of the colormap's 256 colours.
        Resolution is limited by the 8-bit colours and by flat stretches of the
        colormap (``jet`` saturates near its ends).

    Examples
    --------
    >>> import matplotlib
    >>> v = np.array([0.0, 0.5, 1.0])
    >>> rgb = matplotlib.colormaps["viridis"](v)[:, :3]
    >>> np.round(invert_colormap(rgb, "viridis"), 2).tolist()
    [0.0, 0.5, 1.0]
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb has shape {rgb.shape}; expected (..., 3) colours")
    idx, _ = _nearest(rgb, _table(colormap))
    return idx / 255.0


def _blend_cost(blended: np.ndarray, plain: np.ndarray, table: np.ndarray, alpha: float):
    heat = (blended - (1 - alpha) * plain) / alpha
    _, dist = _nearest(np.clip(heat, -0.5, 1.5), table)
    # colours outside [0, 1] cannot be a colormap's: they count by how far out they are
    outside = np.abs(heat - np.clip(heat, 0, 1)).sum(-1)
    return float(np.mean(dist + outside))


def unblend(blended, plain, *, colormap: str, alpha: float | None = None):
    """Separate a heatmap blended over the scalogram: ``(values, alpha)``.

    Parameters
    ----------
    blended : array_like, shape (H, W, 3)
        ``alpha * cmap(h) + (1 - alpha) * plain``, colours in ``[0, 1]``.
    plain : array_like, shape (H, W, 3) or (H, W)
        The scalogram image alone (grey images are repeated over the colours).
    colormap : str
        The colormap of the heatmap.
    alpha : float, optional
        The blend weight if known; else estimated: the weight in ``(0, 1]`` under which
        the unblended pixels lie closest to the colormap's colours (a grid of 20, then
        refined to 0.005).

    Returns
    -------
    values : numpy.ndarray, shape (H, W)
        The heatmap in ``[0, 1]``.
    alpha : float

    Examples
    --------
    >>> import matplotlib
    >>> h = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    >>> plain = np.random.default_rng(0).uniform(size=(64, 64, 3))
    >>> blended = 0.4 * matplotlib.colormaps["jet"](h)[..., :3] + 0.6 * plain
    >>> values, a = unblend(blended, plain, colormap="jet")
    >>> round(a, 2), bool(np.abs(values - h).max() < 0.02)
    (0.4, True)
    """
    b = np.asarray(blended, dtype=np.float64)
    s = np.asarray(plain, dtype=np.float64)
    if s.ndim == 2:
        s = np.repeat(s[..., None], 3, axis=-1)
    if b.ndim != 3 or b.shape[-1] != 3 or s.shape != b.shape:
        raise ValueError(
            f"blended has shape {b.shape} and the scalogram {np.shape(plain)}; expected "
            "two (H, W, 3) colour images of the same size"
        )
    table = _table(colormap)
    if alpha is None:
        flat_b, flat_s = b.reshape(-1, 3), s.reshape(-1, 3)
        pick = np.linspace(0, flat_b.shape[0] - 1, min(_ALPHA_PIXELS, flat_b.shape[0]))
        sub_b, sub_s = flat_b[pick.astype(int)], flat_s[pick.astype(int)]
        costs = [_blend_cost(sub_b, sub_s, table, a) for a in _ALPHAS]
        best = float(_ALPHAS[int(np.argmin(costs))])
        fine = np.clip(np.arange(best - 0.05, best + 0.0501, 0.005), 0.01, 1.0)
        costs = [_blend_cost(sub_b, sub_s, table, a) for a in fine]
        alpha = float(fine[int(np.argmin(costs))])
    alpha = check_real(alpha, "alpha", low=0, high=1, low_open=True)
    heat = np.clip((b - (1 - alpha) * s) / alpha, 0, 1)
    idx, _ = _nearest(heat, table)
    return idx / 255.0, alpha


@dataclass(frozen=True, eq=False)
class HeatmapImages:
    """A folder of heatmap images read as values.

    Attributes
    ----------
    values : numpy.ndarray, shape (K, H, W)
        Heatmaps in ``[0, 1]`` (float TIFFs: as stored), row 0 the image's top row.
    indices : tuple of int
        The signal each image belongs to (see
        :func:`~saliency2signal.agreement.read_image_folder`).
    colormap : str or None
    alphas : tuple of float or None
        The blend weight of each image when they were blended over the scalogram.
    """

    values: np.ndarray
    indices: tuple
    colormap: str | None = None
    alphas: tuple | None = None


def _as_unit(images: np.ndarray) -> np.ndarray:
    """Images as float values: 8-bit and 16-bit scaled to ``[0, 1]``, floats as they are."""
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0
    if images.dtype == np.uint16:
        return images.astype(np.float64) / 65535.0
    return images.astype(np.float64)


def _rgb(image: np.ndarray) -> np.ndarray:
    """One image ``(H, W)`` or ``(H, W, C)`` as ``(H, W, 3)`` colours."""
    if image.ndim == 2:  # grey
        return np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3]  # drop alpha


def read_heatmap_images(
    folder,
    *,
    colormap: str | None = None,
    scalograms=None,
    n_signals: int | None = None,
) -> HeatmapImages:
    """Read a folder of heatmap images (one per signal) as values in ``[0, 1]``.

    Parameters
    ----------
    folder : str or os.PathLike
        PNG/JPEG/TIFF files named by signal index (``gradcam_017.png`` is signal 17) or
        in order (see :func:`~saliency2signal.agreement.read_image_folder`).
    colormap : str, optional
        The matplotlib colormap the heatmaps were drawn with; without it the images are
        read as grey levels (luminance for colour files).
    scalograms : str or os.PathLike, optional
        A folder with the plain scalogram images (the same names or indices) when the
        heatmaps were blended over them; needs ``colormap``.
    n_signals : int, optional
        The number of signals, to check the indices against.

    Returns
    -------
    HeatmapImages

    Raises
    ------
    ValueError
        For what :func:`~saliency2signal.agreement.read_image_folder` refuses, a
        scalogram folder without a colormap or whose images do not pair with the
        heatmaps (indices, sizes), an unknown colormap.
    """
    from .agreement import read_image_folder

    if scalograms is not None and colormap is None:
        raise ValueError("scalograms= (heatmaps blended over them) needs the heatmaps' colormap=")
    if colormap is not None:
        _table(colormap)  # an unknown name fails before any file is read
    images, indices = read_image_folder(folder, n_signals=n_signals)
    unit = _as_unit(images)
    if colormap is None:
        grey = unit if unit.ndim == 3 else unit[..., :3] @ np.array([0.299, 0.587, 0.114])
        return HeatmapImages(values=grey, indices=tuple(indices))
    if scalograms is None:
        values = np.stack([invert_colormap(_rgb(im), colormap) for im in unit])
        return HeatmapImages(values=values, indices=tuple(indices), colormap=colormap)
    plain, plain_idx = read_image_folder(scalograms, n_signals=n_signals)
    by_index = dict(zip(plain_idx, _as_unit(plain), strict=True))
    missing = [i for i in indices if i not in by_index]
    if missing:
        raise ValueError(f"{str(scalograms)!r} has no scalogram image for signal {missing[0]}")
    pairs = [
        unblend(_rgb(im), _rgb(by_index[i]), colormap=colormap)
        for im, i in zip(unit, indices, strict=True)
    ]
    return HeatmapImages(
        values=np.stack([v for v, _ in pairs]),
        indices=tuple(indices),
        colormap=colormap,
        alphas=tuple(a for _, a in pairs),
    )
