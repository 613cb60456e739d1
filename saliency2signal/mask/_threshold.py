"""Steps 1 and 2 of a mask: sign-processed evidence and the threshold of each 2-D map.

Internal: plain names; :func:`signed_attribution`, :func:`threshold_map`, :data:`SIGNS`
and :data:`THRESHOLDS` are public through :mod:`saliency2signal.mask`. May import:
numpy, scikit-image (lazily), ``saliency2signal._validation``; never another module of
this package.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_choice, check_positive, to_numpy

__all__ = [
    "SIGNS",
    "THRESHOLDS",
    "check_threshold",
    "cutoff_and_mask",
    "signed_attribution",
    "threshold_map",
]

#: Accepted values of ``sign``.
SIGNS = ("positive", "negative", "absolute")
#: Accepted values of ``threshold``, with the default ``value`` of each (``None``: none
#: needed or, for ``'absolute'``, required from the caller).
THRESHOLDS = {"mass": 0.8, "quantile": 0.9, "otsu": None, "absolute": None}


def check_threshold(threshold: str, value):
    """Return the checked ``value`` of ``threshold`` (its default when ``None``)."""
    check_choice(threshold, THRESHOLDS, "threshold")
    if threshold == "otsu":
        if value is not None:
            raise ValueError(f"threshold='otsu' takes no value; got {value=!r}")
        return None
    if value is None:
        value = THRESHOLDS[threshold]
        if value is None:
            raise ValueError(f"threshold={threshold!r} needs a value (got value=None)")
    value = check_positive(value, "value", allow_zero=True)
    if threshold == "mass" and not 0 < value <= 1:
        raise ValueError(f"{value=} must be a fraction in (0, 1] for threshold='mass'")
    if threshold == "quantile" and not 0 <= value <= 1:
        raise ValueError(f"{value=} must be in [0, 1] for threshold='quantile'")
    return value


def signed_attribution(attribution, *, sign: str = "positive") -> np.ndarray:
    """Non-negative evidence map from a signed attribution map.

    Parameters
    ----------
    attribution : array_like, shape (..., n_freqs, n_times)
        Real attribution map (NumPy or torch).
    sign : {'positive', 'negative', 'absolute'}
        ``max(A, 0)``, ``max(-A, 0)`` or ``|A|``.

    Returns
    -------
    numpy.ndarray of float64, same shape
        The map ``P >= 0``.

    Raises
    ------
    ValueError
        For an unknown ``sign``.
    TypeError
        For a complex map.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.mask import signed_attribution
    >>> signed_attribution(np.array([[-2.0, 0.5]]), sign="negative")
    array([[2., 0.]])
    """
    check_choice(sign, SIGNS, "sign")
    a = to_numpy(attribution, name="attribution")
    if np.iscomplexobj(a):
        raise TypeError(f"attribution has complex dtype {a.dtype}; expected a real map")
    a = a.astype(np.float64)
    if sign == "positive":
        return np.maximum(a, 0.0)
    if sign == "negative":
        return np.maximum(-a, 0.0)
    return np.abs(a)


def cutoff_and_mask(p: np.ndarray, threshold: str, value) -> tuple[float, np.ndarray]:
    """Threshold one non-negative 2-D map; zero cells are never selected."""
    positive = p > 0
    if not positive.any():
        return math.nan, np.zeros(p.shape, dtype=bool)
    if threshold == "mass":
        # The cells in stable descending order (ties: lower flat index first) are the
        # positive values sorted, so their cumulative sums, k and the cut-off value come
        # from a plain value sort (no argsort). The k cells are then every cell above
        # the cut plus, of the cells equal to it, the first ones in raster order.
        idx = np.flatnonzero(positive)  # raster order
        vals = p.ravel()[idx]
        desc = np.sort(vals)[::-1]
        cum = np.cumsum(desc)
        k = int(np.searchsorted(cum, value * cum[-1], side="left")) + 1
        cut = desc[k - 1]
        above = vals > cut
        need = k - int(np.count_nonzero(above))
        keep = np.zeros(p.size, dtype=bool)
        keep[idx[above]] = True
        keep[idx[vals == cut][:need]] = True
        return float(cut), keep.reshape(p.shape)
    if threshold == "quantile":
        cut = float(np.quantile(p, value))
        return cut, positive & (p >= cut)
    if threshold == "otsu":
        from skimage.filters import threshold_otsu

        if p.min() == p.max():  # one grey level: Otsu is undefined, keep everything
            return float(p.min()), positive
        # Otsu on an explicit 256-bin histogram (scikit-image's default layout), cut at
        # the upper edge of its threshold bin: scikit-image returns the bin *centre*, so
        # `p > centre` would split the bin that Otsu put wholly in the lower class.
        counts, edges = np.histogram(p, bins=256)
        centres = 0.5 * (edges[:-1] + edges[1:])
        k = int(np.argmin(np.abs(centres - threshold_otsu(hist=(counts, centres)))))
        cut = float(edges[k + 1])
        return cut, positive & (p >= cut)
    return float(value), positive & (p >= value)


def threshold_map(evidence, *, threshold: str = "mass", value: float | None = None) -> np.ndarray:
    """Select cells of a non-negative evidence map, one 2-D map at a time.

    Parameters
    ----------
    evidence : array_like, shape (..., n_freqs, n_times)
        Non-negative map, e.g. from :func:`signed_attribution`.
    threshold : {'mass', 'quantile', 'otsu', 'absolute'}
        ``'mass'``: the smallest set of cells whose sum reaches ``value`` (a fraction in
        (0, 1], default 0.8) of the map's total -- cells are taken by decreasing value,
        ties in row-major order (lower rows, then earlier columns, first).
        ``'quantile'``: cells ``>= numpy.quantile(map, value)`` (default 0.9).
        ``'otsu'``: ``skimage.filters.threshold_otsu`` on a 256-bin histogram of the map,
        cells in the bins above Otsu's split (no ``value``; a map with a single grey
        level keeps all its positive cells). ``'absolute'``: cells
        ``>= value`` (required).
    value : float, optional
        Parameter of the threshold, see above.

    Returns
    -------
    numpy.ndarray of bool, same shape
        Selected cells. Cells equal to zero are never selected, so an all-zero map
        selects nothing.

    Raises
    ------
    ValueError
        For an unknown ``threshold``, a ``value`` out of range, a negative or non-finite
        map.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.mask import threshold_map
    >>> p = np.array([[5.0, 3.0, 1.0, 1.0]])
    >>> threshold_map(p, value=0.8)  # 5 + 3 = 8 of 10
    array([[ True,  True, False, False]])
    >>> threshold_map(p, threshold="absolute", value=1.0)
    array([[ True,  True,  True,  True]])
    """
    value = check_threshold(threshold, value)
    p = to_numpy(evidence, name="evidence").astype(np.float64)
    if p.ndim < 2:
        raise ValueError(f"evidence has shape {p.shape}; expected (..., n_freqs, n_times)")
    if not np.all(np.isfinite(p)):
        raise ValueError("evidence contains NaN or infinite values")
    if np.any(p < 0):
        raise ValueError(
            f"evidence has negative values (min {p.min():.3g}); apply signed_attribution first"
        )
    p2 = p.reshape(-1, *p.shape[-2:])
    out = np.stack([cutoff_and_mask(m, threshold, value)[1] for m in p2])
    return out.reshape(p.shape)
