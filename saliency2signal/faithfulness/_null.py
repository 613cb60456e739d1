"""The matched random null and the default players of region-level methods.

- :func:`matched_regions`: random translates of an explanation region whose coefficient
  energy matches the region's; they replace the region in the null deletion curves.
- :func:`block_partition`: the ``rows x cols`` block labels that
  ``'feature_ablation'`` and ``'shapley_value_sampling'`` score by default.

May import: numpy, scipy (lazily); never another module of the package.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["block_partition", "matched_regions"]


def _correlate_valid(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[i, j] = sum(a[i:i+h, j:j+w] * kernel)`` for every placement inside ``a``."""
    from scipy.signal import fftconvolve

    return fftconvolve(a, kernel[::-1, ::-1], mode="valid")


def matched_regions(
    region,
    energy,
    *,
    n: int,
    rng: np.random.Generator,
    tolerance: float = 0.25,
    max_overlap: float = 0.5,
):
    """Random translates of a region with matched coefficient energy.

    Parameters
    ----------
    region : numpy.ndarray of bool, shape (F, N)
        The region (any shape; it is translated as a whole, so the area is kept).
    energy : numpy.ndarray, shape (F, N)
        Non-negative cell energy, e.g. ``|Tx|**2``.
    n : int
        Number of draws.
    rng : numpy.random.Generator
    tolerance : float
        Accept placements whose energy ``E`` satisfies
        ``|ln(E / E_region)| <= ln(1 + tolerance)``; when fewer than ``n`` do, the ``n``
        closest in energy are used.
    max_overlap : float
        Placements sharing more than this fraction of the region's cells with the region
        itself are never used.

    Returns
    -------
    masks : numpy.ndarray of bool, shape (n, F, N)
    log_ratio : numpy.ndarray, shape (n,)
        ``|ln(E / E_region)|`` of each draw.

    Raises
    ------
    ValueError
        If ``region`` is empty.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.ones((8, 32)); r = np.zeros((8, 32), bool); r[2:4, 3:7] = True
    >>> m, lr = matched_regions(r, e, n=5, rng=np.random.default_rng(0))
    >>> m.shape, m.sum((1, 2)).tolist(), bool(lr.max() < 1e-9)
    ((5, 8, 32), [8, 8, 8, 8, 8], True)
    """
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        raise ValueError("region is empty")
    r0, c0 = rows.min(), cols.min()
    shape = region[r0 : rows.max() + 1, c0 : cols.max() + 1].astype(np.float64)
    area = shape.sum()
    e_place = np.maximum(_correlate_valid(np.asarray(energy, np.float64), shape), 0.0)
    overlap = _correlate_valid(region.astype(np.float64), shape)
    e0 = max(float(e_place[r0, c0]), 1e-300)
    tiny = 1e-12 * max(float(e_place.max()), 1e-300)
    log_ratio = np.abs(np.log((e_place + tiny) / (e0 + tiny)))
    allowed = overlap <= max_overlap * area + 0.5
    flat_ok = np.flatnonzero(allowed)
    if flat_ok.size == 0:  # the region covers (nearly) the whole plane
        flat_ok = np.flatnonzero(np.ones_like(allowed))
    good = flat_ok[log_ratio.flat[flat_ok] <= math.log1p(tolerance)]
    if good.size >= n:
        pick = rng.choice(good, size=n, replace=False)
    else:
        order = flat_ok[np.argsort(log_ratio.flat[flat_ok], kind="stable")]
        pool = order[: max(n, good.size)]
        pick = rng.choice(pool, size=n, replace=pool.size < n)
    h, w = shape.shape
    out = np.zeros((n, *region.shape), dtype=bool)
    for d, flat in enumerate(pick):
        i, j = np.unravel_index(flat, e_place.shape)
        out[d, i : i + h, j : j + w] = shape > 0
    return out, log_ratio.flat[pick]


def block_partition(n_freqs: int, n_times: int, *, rows: int = 8, cols: int = 16) -> np.ndarray:
    """Label image of ``rows x cols`` near-equal blocks (labels ``0 .. rows*cols - 1``).

    The default feature mask of the region-level methods (``'feature_ablation'``,
    ``'shapley_value_sampling'``) in :func:`~saliency2signal.evaluate`: each block is
    one player.

    Examples
    --------
    >>> block_partition(4, 6, rows=2, cols=3)
    array([[0, 0, 1, 1, 2, 2],
           [0, 0, 1, 1, 2, 2],
           [3, 3, 4, 4, 5, 5],
           [3, 3, 4, 4, 5, 5]])
    """
    r = np.minimum(np.arange(n_freqs) * rows // max(n_freqs, 1), rows - 1)
    c = np.minimum(np.arange(n_times) * cols // max(n_times, 1), cols - 1)
    return (r[:, None] * cols + c[None, :]).astype(np.int64)
