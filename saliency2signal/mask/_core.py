"""Steps 3 and the pipeline of a mask: cleaning in physical units and ``attribution_mask``.

:func:`clean_mask` cleans a boolean mask (closing, holes, minimum area, duration and
bandwidth); :func:`attribution_mask` runs sign, threshold, cleaning and labelling.

Internal: plain names; ``clean_mask`` and ``attribution_mask`` are public through
:mod:`saliency2signal.mask`. May import: numpy, scipy.ndimage and scikit-image
(lazily), ``saliency2signal._validation``, ``saliency2signal.transform`` and the other
modules of this package.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_choice, check_int, check_positive
from ..transform import ORDERS, SSQConfig, coefficients_in_order
from ._checks import (
    check_attribution,
    check_connectivity,
    check_plane,
    check_x_axis,
    validate_mask,
)
from ._morphology import binary_closing, remove_small
from ._regions import AttributionMask, Grid, describe_regions
from ._threshold import SIGNS, check_threshold, cutoff_and_mask, signed_attribution

__all__ = ["REL_TOL", "attribution_mask", "clean_mask"]

#: Relative tolerance of physical-unit comparisons: 3 cells of 0.1 last 0.3.
REL_TOL = 1e-9


def _check_closing(closing) -> tuple[int, int]:
    """Return the ``(n_rows, n_cols)`` rectangle of the closing; ``(1, 1)`` skips it."""
    if closing is None:
        return (1, 1)
    if isinstance(closing, numbers.Integral) and not isinstance(closing, bool):
        closing = (closing, closing)
    if not isinstance(closing, (tuple, list)) or len(closing) != 2:
        raise TypeError(f"closing={closing!r} must be None, an int or (n_rows, n_cols)")
    return tuple(check_int(c, "closing", minimum=1) for c in closing)


def _check_fill_holes(fill_holes) -> bool | int:
    """Return ``True``/``False`` or the largest hole size to fill (cells)."""
    if isinstance(fill_holes, bool):
        return fill_holes
    return check_int(fill_holes, "fill_holes", minimum=0)


def _at_least(x: float, minimum: float) -> bool:
    """``x >= minimum`` up to :data:`REL_TOL` (physical units add up inexactly)."""
    return x >= minimum * (1 - REL_TOL)


def _clean(
    m: np.ndarray,
    grid: Grid,
    *,
    closing,
    fill_holes,
    min_area,
    min_duration,
    min_bandwidth,
    connectivity,
) -> np.ndarray:
    """Clean one 2-D mask: closing, holes, area, then duration and bandwidth per region."""
    from scipy import ndimage
    from skimage import measure

    m = np.asarray(m, dtype=bool)
    if closing != (1, 1) and m.any():
        m = binary_closing(m, closing)
    if fill_holes is True:
        m = ndimage.binary_fill_holes(m)
    elif fill_holes:
        m = remove_small(m, fill_holes, holes=True, connectivity=connectivity)
    m = remove_small(m, min_area - 1, connectivity=connectivity)
    if (min_duration > 0 or min_bandwidth > 0) and m.any():
        lab = measure.label(m, connectivity=connectivity)
        for reg in measure.regionprops(lab):
            r0, c0, r1, c1 = reg.bbox
            ok = _at_least(grid.duration(c0, c1 - 1), min_duration) and _at_least(
                grid.bandwidth(r0, r1 - 1), min_bandwidth
            )
            if not ok:
                m[lab == reg.label] = False
    return m


def _check_cleaning(
    min_duration, min_bandwidth, min_area, closing, fill_holes, connectivity
) -> dict:
    return {
        "min_duration": check_positive(min_duration, "min_duration", allow_zero=True),
        "min_bandwidth": check_positive(min_bandwidth, "min_bandwidth", allow_zero=True),
        "min_area": check_int(min_area, "min_area", minimum=0),
        "closing": _check_closing(closing),
        "fill_holes": _check_fill_holes(fill_holes),
        "connectivity": check_connectivity(connectivity),
    }


def clean_mask(
    mask,
    config: SSQConfig | None = None,
    *,
    min_duration: float = 0.0,
    min_bandwidth: float = 0.0,
    min_area: int = 0,
    closing=None,
    fill_holes: bool | int = False,
    connectivity: int = 2,
    axis=None,
    plane: str = "ssq",
) -> np.ndarray:
    """Clean a boolean mask with morphology whose sizes are in physical units.

    Steps, per 2-D map and in this order: closing with an ``(n_rows, n_cols)`` rectangle,
    hole filling, removal of regions below ``min_area`` cells, then removal of regions
    shorter than ``min_duration`` or narrower than ``min_bandwidth``.

    Parameters
    ----------
    mask : array_like of bool, shape (..., n_freqs, n_times)
        Mask on the grid of ``config``.
    config : SSQConfig, optional
        Grid of the mask (default ``SSQConfig()``).
    min_duration : float
        Shortest kept region, measured between cell edges along x: samples, or x-axis
        units when ``axis`` is given. A region of exactly ``min_duration`` is kept.
    min_bandwidth : float
        Narrowest kept region in octaves between its outer row edges (``k`` rows of a
        log grid with ``nv`` voices span ``k / nv`` octaves). A region containing the
        low-pass row (frequency 0) reaches down to 0 Hz and always passes.
    min_area : int
        Smallest kept region in cells (a region of exactly ``min_area`` cells is kept).
    closing : int or (int, int), optional
        Morphological closing with a ``rows x cols`` rectangle of ``True``: it bridges
        gaps of up to ``cols - 1`` columns (``rows - 1`` rows). ``None`` skips it.
    fill_holes : bool or int
        ``True`` fills every hole enclosed by the mask; an integer ``k`` fills background
        components of at most ``k`` cells (scikit-image ``remove_small_holes``; pockets
        at the edge of the plane count). ``False``/0 fills nothing.
    connectivity : {1, 2}
        Neighbourhood of regions: 1 = edges only, 2 = edges and corners (default; SSQ
        ridges often step diagonally).
    axis : array_like, shape (n_times,), optional
        Strictly monotonic x values of the columns (e.g. wavenumbers, may descend).
    plane : {'ssq', 'cwt'}
        Row frequencies from ``config.freqs`` (synchrosqueezed) or ``config.cwt_freqs``.

    Returns
    -------
    numpy.ndarray of bool, same shape

    Raises
    ------
    ValueError
        For a mask off the grid or negative sizes.
    TypeError
        For non-numeric sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.mask import clean_mask
    >>> cfg = SSQConfig(nv=8)
    >>> m = np.zeros((cfg.n_freqs(64), 64), dtype=bool)
    >>> m[10:20, 5:8] = True   # 3 samples long
    >>> m[10:20, 30:40] = True  # 10 samples long
    >>> out = clean_mask(m, cfg, min_duration=5)
    >>> int(out[:, :20].sum()), int(out[:, 20:].sum())
    (0, 100)
    """
    config = config or SSQConfig()
    opts = _check_cleaning(
        min_duration, min_bandwidth, min_area, closing, fill_holes, connectivity
    )
    check_plane(plane)
    m = validate_mask(mask, config)
    if m.dtype != bool:
        raise TypeError(f"mask has dtype {m.dtype}; clean_mask needs a boolean mask")
    n = m.shape[-1]
    grid = Grid.make(config, n, check_x_axis(axis, n), plane)
    m2 = m.reshape(-1, *m.shape[-2:])
    return np.stack([_clean(mi, grid, **opts) for mi in m2]).reshape(m.shape)


def attribution_mask(
    attribution,
    config: SSQConfig | None = None,
    *,
    sign: str = "positive",
    threshold: str = "mass",
    value: float | None = None,
    min_duration: float = 0.0,
    min_bandwidth: float = 0.0,
    min_area: int = 0,
    closing=None,
    fill_holes: bool | int = False,
    max_regions: int | None = None,
    min_share: float = 0.02,
    connectivity: int = 2,
    axis=None,
    coefficients=None,
    plane: str = "ssq",
    order: str = "ours",
) -> AttributionMask:
    """Threshold, clean and label an attribution map on the time-frequency grid.

    Parameters
    ----------
    attribution : array_like, shape (..., n_freqs, n_times)
        Real attribution map (NumPy or torch; gradients are detached), lowest frequency in
        row 0, ``n_freqs == config.n_freqs(n_times)``.
    config : SSQConfig, optional
        The transform that made the plane (default ``SSQConfig()``).
    sign : {'positive', 'negative', 'absolute'}
        Which evidence is kept, see :func:`signed_attribution`. The sign-processed map
        ``P >= 0`` is what is thresholded, and its sum is the *total mass*.
    threshold : {'mass', 'quantile', 'otsu', 'absolute'}
        See :func:`threshold_map`; the default keeps the smallest set of cells holding
        ``value=0.8`` of the mass.
    value : float, optional
        Parameter of ``threshold`` (fraction, quantile or absolute level of ``P``).
    min_duration, min_bandwidth, min_area, closing, fill_holes, connectivity
        Cleaning, see :func:`clean_mask`.
    max_regions : int, optional
        Keep only the ``max_regions`` regions of largest mass (labels ``1..K``).
    min_share : float
        Drop regions holding less than this fraction of the total mass (``0 <= min_share
        < 1``; default 0.02, as in :func:`~saliency2signal.explain`, where it was 0;
        0 keeps all). A mass threshold keeps many specks of a few cells
        each; their coefficients can still carry much signal energy (a speck on the
        low-pass row is a whole baseline), so an explanation made of them says more
        than the attribution does. Applied before ``max_regions``.
    axis : array_like, shape (n_times,), optional
        x value of each column (e.g. wavenumbers; ascending or descending). Durations,
        ``x_range`` and ``width_x`` are then in its units; otherwise in samples.
    coefficients : array_like of complex, shape like ``attribution``, optional
        ``Tx`` (or ``Wx``) of the same plane; adds ``energy`` and ``energy_share`` to each
        region.
    plane : {'ssq', 'cwt'}
        Whether rows are at ``config.freqs`` (synchrosqueezed plane) or
        ``config.cwt_freqs`` (CWT plane).
    order : {'ours', 'ssqueezepy'}
        Row order of ``coefficients`` (``'ssqueezepy'``: as ``ssqueezepy.ssq_cwt``
        returns them, highest frequency first; flipped here). ``attribution`` is always
        in our order (lowest frequency in row 0), as
        :func:`~saliency2signal.imaging.pull_back` returns a heatmap.

    Returns
    -------
    AttributionMask
        ``mask`` and ``labels`` with the shape of ``attribution``; ``regions`` ordered by
        decreasing mass; :meth:`AttributionMask.region_masks` stacks them as
        ``(..., R, n_freqs, n_times)`` for :func:`~saliency2signal.issq_cwt`.

    Raises
    ------
    ValueError
        If the map does not match the grid (``n_freqs(n_times)`` rows), contains NaN or
        inf; for unknown ``sign``/``threshold``, a mass fraction outside (0, 1], a
        quantile outside [0, 1], negative sizes, a bad ``axis`` or ``coefficients``
        shape.
    TypeError
        For a complex attribution, real coefficients or non-integer counts.

    Notes
    -----
    *All-zero evidence.* A map whose sign-processed evidence is all zero (including a
    purely negative map with ``sign='positive'``) is not an error: it gives an empty
    mask, no regions and ``cutoff = nan``. In a batch, one uninformative map should not
    abort the others, and "no evidence of this sign" is a valid answer.

    *Peak width.* For spectra, the band of a region is translated into the width of the
    features it responds to: a feature of width ``w`` samples (a peak's full width, or
    one lobe of an oscillation, i.e. half a period) has its energy near the frequency
    ``f = 1 / (2 w)`` cycles per sample, so ``w = fs / (2 f)`` samples and
    ``w * |dx|`` axis units, ``|dx|`` being the mean axis step. ``width_samples`` and
    ``width_x`` give ``(w(f_hi), w(f_lo))``: narrowest to broadest. It is a rule of
    thumb (the wavelet's main lobe at that frequency is half a period wide), not a fit.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.mask import attribution_mask
    >>> cfg = SSQConfig(nv=8)
    >>> a = np.zeros((cfg.n_freqs(64), 64))
    >>> a[30:34, 10:20] = 2.0   # strong blob
    >>> a[5:8, 40:60] = 1.0     # weaker, longer blob
    >>> a[20, 30] = -5.0        # negative evidence is ignored by default
    >>> res = attribution_mask(a, cfg, value=1.0)
    >>> [(r.label, r.rows, r.cols, r.mass, round(r.mass_share, 3)) for r in res.regions]
    [(1, (30, 33), (10, 19), 80.0, 0.571), (2, (5, 7), (40, 59), 60.0, 0.429)]
    >>> res.region_masks().shape
    (2, 41, 64)
    >>> int(attribution_mask(a, cfg, value=0.5).mask.sum())  # 35 cells of 2.0 = 70 of 140
    35
    """
    config = config or SSQConfig()
    check_choice(sign, SIGNS, "sign")
    value = check_threshold(threshold, value)
    opts = _check_cleaning(
        min_duration, min_bandwidth, min_area, closing, fill_holes, connectivity
    )
    check_plane(plane)
    check_choice(order, ORDERS, "order")
    a = check_attribution(attribution, config)
    p = signed_attribution(a, sign=sign)
    n = a.shape[-1]
    grid = Grid.make(config, n, check_x_axis(axis, n), plane)
    p2 = p.reshape(-1, *p.shape[-2:])
    cut, masks = [], []
    for pi in p2:
        c, mi = cutoff_and_mask(pi, threshold, value)
        cut.append(c)
        masks.append(_clean(mi, grid, **opts))
    m = np.stack(masks).reshape(p.shape)
    return describe_regions(
        m,
        p,
        np.array(cut),
        config,
        coefficients=None if coefficients is None else coefficients_in_order(coefficients, order),
        axis=axis,
        max_regions=max_regions,
        min_share=min_share,
        connectivity=opts["connectivity"],
        plane=plane,
    )
