"""Checks of maps and masks against the time-frequency grid, shared by the mask stages.

:func:`validate_mask` (public) checks a mask made elsewhere; the other functions check
the attribution map, the x axis of the columns, the plane and the connectivity for
:mod:`._core` and :mod:`._regions`.

Internal: plain names. May import: numpy, ``saliency2signal._validation``,
``saliency2signal.transform``; never another module of this package.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_axis, check_choice, check_int, to_numpy
from ..transform import SSQConfig

__all__ = [
    "PLANES",
    "check_attribution",
    "check_connectivity",
    "check_grid",
    "check_plane",
    "check_x_axis",
    "validate_mask",
]

#: Accepted values of ``plane``: rows at ``config.freqs`` or at ``config.cwt_freqs``.
PLANES = ("ssq", "cwt")


def check_plane(plane) -> str:
    """Return ``plane`` if it is one of :data:`PLANES`."""
    return check_choice(plane, PLANES, "plane")


def check_grid(shape: tuple, config: SSQConfig, *, name: str) -> None:
    """Raise unless ``shape`` is ``(..., config.n_freqs(n), n)``."""
    if len(shape) < 2:
        raise ValueError(f"{name} has shape {shape}; expected (..., n_freqs, n_times)")
    n_freqs = config.n_freqs(int(shape[-1]))
    if shape[-2] != n_freqs:
        raise ValueError(
            f"{name} has {shape[-2]} frequency rows (shape {shape}) but the configuration "
            f"gives n_freqs={n_freqs} for n_times={shape[-1]}"
        )


def check_attribution(attribution, config: SSQConfig) -> np.ndarray:
    """Return a real, finite attribution map on the grid of ``config`` as float64."""
    a = to_numpy(attribution, name="attribution")
    if np.iscomplexobj(a):
        raise TypeError(
            f"attribution has complex dtype {a.dtype}; expected a real attribution map"
        )
    check_grid(a.shape, config, name="attribution")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ValueError(f"attribution contains {bad} NaN or infinite value(s)")
    return a


def check_x_axis(axis, n: int) -> np.ndarray | None:
    """Validate the optional x axis of the columns: strictly monotonic, finite, ``(n,)``."""
    return None if axis is None else check_axis(axis, n, monotonic=True, name="axis")


def check_connectivity(connectivity) -> int:
    """Return the neighbourhood of regions: 1 (edges) or 2 (edges and corners)."""
    c = check_int(connectivity, "connectivity", minimum=1)
    if c > 2:
        raise ValueError(f"{connectivity=} must be 1 (edges) or 2 (edges and corners)")
    return c


def validate_mask(mask, config: SSQConfig | None = None) -> np.ndarray:
    """Check a mask made elsewhere against the grid and return it as a NumPy array.

    Parameters
    ----------
    mask : array_like of bool or float, shape (..., n_freqs, n_times)
        Hard (bool) or soft (real) selection of cells, lowest frequency in row 0.
    config : SSQConfig, optional
        Grid the mask must match (default ``SSQConfig()``).

    Returns
    -------
    numpy.ndarray
        ``bool`` masks stay boolean; integer and float masks become float64.

    Raises
    ------
    TypeError
        For complex or non-numeric masks.
    ValueError
        If the row count is not ``config.n_freqs(n_times)`` or values are NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.mask import validate_mask
    >>> validate_mask(np.ones((41, 64), dtype=bool), SSQConfig(nv=8)).shape
    (41, 64)
    """
    config = config or SSQConfig()
    m = to_numpy(mask, name="mask")
    if np.iscomplexobj(m):
        raise TypeError(f"mask has complex dtype {m.dtype}; expected boolean or real")
    check_grid(m.shape, config, name="mask")
    if m.dtype == bool:
        return m.copy()
    m = m.astype(np.float64)
    if not np.all(np.isfinite(m)):
        raise ValueError("mask contains NaN or infinite values")
    return m
