"""From an attribution map to cleaned, labelled regions of the time-frequency plane.

An attribution map ``A`` of shape ``(..., n_freqs, n_times)`` (lowest frequency in row
0, the grid of an :class:`~saliency2signal.SSQConfig`) is turned into a selection of
cells in four steps, each a keyword of :func:`attribution_mask`:

1. **sign** -- which evidence counts: ``'positive'`` (for the target, the default),
   ``'negative'`` (against it) or ``'absolute'``. The result is a non-negative map ``P``;
   its sum is the *total mass* of the map.
2. **threshold** -- ``'mass'`` (the smallest set of cells holding a fraction of the total
   mass, the default), ``'quantile'``, ``'otsu'`` or ``'absolute'``, per 2-D map.
3. **cleaning** in physical units -- closing, hole filling, minimum area (cells), minimum
   duration (samples or x-axis units) and minimum bandwidth (octaves).
4. **labelling** -- connected regions, each described by a JSON-serialisable
   :class:`Region` (extent, frequency band, matching peak width, mass, energy), ordered
   by attribution mass.

Masks made elsewhere (hand-drawn, from ridges) are checked against the grid with
:func:`validate_mask`; :func:`ridge_band` builds the band around a ridge with
ssqueezepy's ``cc``/``cw`` convention.

All functions accept NumPy arrays or torch tensors and return NumPy arrays.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ._drawing import ScalogramGeometry, export_scalogram_png, mask_from_png
from ._validation import as_tensor, check_positive
from .transform import SSQConfig

__all__ = [
    "SIGNS",
    "THRESHOLDS",
    "Region",
    "AttributionMask",
    "signed_attribution",
    "threshold_map",
    "clean_mask",
    "label_regions",
    "attribution_mask",
    "validate_mask",
    "ridge_band",
    "ScalogramGeometry",
    "export_scalogram_png",
    "mask_from_png",
]

#: Accepted values of ``sign``.
SIGNS = ("positive", "negative", "absolute")
#: Accepted values of ``threshold``, with the default ``value`` of each (``None``: none
#: needed or, for ``'absolute'``, required from the caller).
THRESHOLDS = {"mass": 0.8, "quantile": 0.9, "otsu": None, "absolute": None}
_PLANES = ("ssq", "cwt")
_REL_TOL = 1e-9  # physical-unit comparisons: 3 cells of 0.1 are a duration of 0.3


# =========================================================================== checks
def _to_numpy(x, *, name: str) -> np.ndarray:
    t = as_tensor(x, name=name)
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _check_choice(value, choices, name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {tuple(choices)}")
    return value


def _check_count(value, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer")
    if value < minimum:
        raise ValueError(f"{name}={value!r} must be >= {minimum}")
    return int(value)


def _check_grid(shape: tuple, config: SSQConfig, *, name: str) -> None:
    """Raise unless ``shape`` is ``(..., config.n_freqs(n), n)``."""
    if len(shape) < 2:
        raise ValueError(f"{name} has shape {shape}; expected (..., n_freqs, n_times)")
    n_freqs = config.n_freqs(int(shape[-1]))
    if shape[-2] != n_freqs:
        raise ValueError(
            f"{name} has {shape[-2]} frequency rows (shape {shape}) but the configuration "
            f"gives n_freqs={n_freqs} for n_times={shape[-1]}"
        )


def _check_attribution(attribution, config: SSQConfig) -> np.ndarray:
    a = _to_numpy(attribution, name="attribution")
    if np.iscomplexobj(a):
        raise TypeError(
            f"attribution has complex dtype {a.dtype}; expected a real attribution map"
        )
    _check_grid(a.shape, config, name="attribution")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ValueError(f"attribution contains {bad} NaN or infinite value(s)")
    return a


def _check_axis(axis, n: int) -> np.ndarray | None:
    if axis is None:
        return None
    ax = _to_numpy(axis, name="axis").astype(np.float64)
    if ax.shape != (n,):
        raise ValueError(f"axis has shape {ax.shape}; expected ({n},), one value per column")
    if not np.all(np.isfinite(ax)):
        raise ValueError("axis contains NaN or infinite values")
    d = np.diff(ax)
    if not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError("axis must be strictly ascending or strictly descending")
    return ax


def _check_threshold(threshold: str, value):
    _check_choice(threshold, THRESHOLDS, "threshold")
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


def _check_closing(closing) -> tuple[int, int]:
    if closing is None:
        return (1, 1)
    if isinstance(closing, numbers.Integral) and not isinstance(closing, bool):
        closing = (closing, closing)
    if not isinstance(closing, (tuple, list)) or len(closing) != 2:
        raise TypeError(f"closing={closing!r} must be None, an int or (n_rows, n_cols)")
    return tuple(_check_count(c, "closing", minimum=1) for c in closing)


def _check_fill_holes(fill_holes) -> bool | int:
    if isinstance(fill_holes, bool):
        return fill_holes
    return _check_count(fill_holes, "fill_holes")


# =========================================================================== scikit-image
def _remove_small(
    mask: np.ndarray, max_size: int, *, holes: bool = False, connectivity: int = 1
) -> np.ndarray:
    """Remove objects (or fill holes) of **at most** ``max_size`` cells, any skimage >= 0.22.

    The one place that calls ``skimage.morphology.remove_small_objects`` /
    ``remove_small_holes``. scikit-image 0.26 renamed their size argument to
    ``max_size`` and made it inclusive (components of ``<= max_size`` cells go); 0.22-0.25
    take ``min_size`` / ``area_threshold`` and remove components of ``< min_size`` cells.
    We keep the 0.26 meaning and translate by inspecting the signature, so neither a
    deprecation warning nor an off-by-one reaches the rest of the module.
    """
    from skimage import morphology

    func = morphology.remove_small_holes if holes else morphology.remove_small_objects
    mask = np.asarray(mask, dtype=bool)
    if max_size < 1 or not mask.any():
        return mask.copy()
    if "max_size" in inspect.signature(func).parameters:
        return func(mask, max_size=max_size, connectivity=connectivity)
    old_name = "area_threshold" if holes else "min_size"
    return func(mask, connectivity=connectivity, **{old_name: max_size + 1})


# =========================================================================== records
def _finite_or_none(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True)
class Region:
    """One connected region of a mask, with its extent in cells and in physical units.

    Attributes
    ----------
    label : int
        Label in :attr:`AttributionMask.labels` (1 = largest attribution mass).
    rows, cols : (int, int)
        First and last row / column (inclusive).
    x_range : (float, float)
        Axis values at the first and last column, ascending (samples without ``axis``).
    duration : float
        Extent along x measured between cell edges (midpoints of the axis), so that ``k``
        columns of a uniform axis with step ``d`` last ``k * d``; ``k`` samples without
        ``axis``.
    band : (float, float)
        Frequency band ``(f_lo, f_hi)`` covered by the region: the lower edge of its first
        row and the upper edge of its last row (row edges are geometric midpoints between
        row frequencies), in the units of ``config.fs``; ``f_lo = 0`` when the region
        contains the low-pass row.
    row_freqs : (float, float)
        Frequencies of the first and last row themselves (0 for the low-pass row).
    bandwidth : float
        ``log2(f_hi / f_lo)`` of ``band``: ``k`` rows of a log grid with ``nv`` voices
        span ``k / nv`` octaves. Infinite when the region contains the low-pass row (its
        band reaches frequency 0).
    width_samples, width_x : (float, float)
        Characteristic peak width matched by the band, in samples and in x-axis units:
        ``w = fs / (2 f)`` for ``f_hi`` and ``f_lo`` (infinite for ``f = 0``). See Notes
        of :func:`attribution_mask`.
    area : int
        Number of cells.
    mass, mass_share : float
        Sum of the sign-processed attribution over the region, and its share of the
        map's total mass.
    energy, energy_share : float or None
        ``sum |coef|**2`` over the region and its share of the map's total, when
        ``coefficients`` were given.
    """

    label: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    x_range: tuple[float, float]
    duration: float
    band: tuple[float, float]
    row_freqs: tuple[float, float]
    bandwidth: float
    width_samples: tuple[float, float]
    width_x: tuple[float, float]
    area: int
    mass: float
    mass_share: float
    energy: float | None = None
    energy_share: float | None = None

    def to_dict(self) -> dict:
        """JSON-compatible dictionary; infinite values (unbounded widths) become ``None``."""
        out = {}
        for key, v in dataclasses.asdict(self).items():
            out[key] = (
                [_finite_or_none(e) for e in v] if isinstance(v, tuple) else (_finite_or_none(v))
            )
        return out


def _nest(flat: list, shape: tuple) -> tuple:
    """Nest a flat C-order list into tuples of ``shape``; ``shape == ()`` gives ``flat[0]``."""
    if not shape:
        return flat[0]
    step = len(flat) // shape[0]
    return tuple(_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0]))


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class AttributionMask:
    """Result of :func:`attribution_mask`.

    Attributes
    ----------
    mask : numpy.ndarray of bool, shape (..., n_freqs, n_times)
        Union of the kept regions (read-only).
    labels : numpy.ndarray of int, shape (..., n_freqs, n_times)
        Region labels, 0 = background, ``1..R`` by decreasing attribution mass
        (read-only).
    regions : tuple of Region, or nested tuples of them
        For a single 2-D map a tuple of :class:`Region` (``regions[k].label == k + 1``);
        for a batch, tuples nested like the batch dimensions (``regions[i][j]`` for
        batch shape ``(I, J)``).
    cutoff : numpy.ndarray of float, shape (...)
        The threshold applied to each sign-processed map (``nan`` where the map is all
        zero and nothing was thresholded).
    """

    mask: np.ndarray
    labels: np.ndarray
    regions: tuple
    cutoff: np.ndarray

    @property
    def n_regions(self) -> np.ndarray:
        """Number of regions per map, shape ``(...)``."""
        return self.labels.max(axis=(-2, -1), initial=0)

    def region_masks(self) -> np.ndarray:
        """Stack one boolean mask per region: shape ``(..., R, n_freqs, n_times)``.

        ``R`` is the largest region count in the batch; maps with fewer regions get
        all-``False`` masks at the end. Mask ``k`` is ``labels == k + 1``.
        """
        r = int(self.n_regions.max(initial=0))
        ks = np.arange(1, r + 1).reshape(r, 1, 1)
        return self.labels[..., None, :, :] == ks

    def to_dict(self) -> dict:
        """JSON-compatible summary: shape, cutoffs and region records (no arrays).

        ``regions`` is a list of record lists nested like the batch dimensions (a flat
        list of records for a single map).
        """
        depth = self.labels.ndim - 2

        def records(rs, level):
            if level == depth:
                return [r.to_dict() for r in rs]
            return [records(item, level + 1) for item in rs]

        return {
            "shape": list(self.labels.shape),
            "cutoff": np.where(np.isfinite(self.cutoff), self.cutoff, None).tolist(),
            "regions": records(self.regions, 0),
        }


# =========================================================================== steps
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
    _check_choice(sign, SIGNS, "sign")
    a = _to_numpy(attribution, name="attribution")
    if np.iscomplexobj(a):
        raise TypeError(f"attribution has complex dtype {a.dtype}; expected a real map")
    a = a.astype(np.float64)
    if sign == "positive":
        return np.maximum(a, 0.0)
    if sign == "negative":
        return np.maximum(-a, 0.0)
    return np.abs(a)


def _cutoff_and_mask(p: np.ndarray, threshold: str, value) -> tuple[float, np.ndarray]:
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
    value = _check_threshold(threshold, value)
    p = _to_numpy(evidence, name="evidence").astype(np.float64)
    if p.ndim < 2:
        raise ValueError(f"evidence has shape {p.shape}; expected (..., n_freqs, n_times)")
    if not np.all(np.isfinite(p)):
        raise ValueError("evidence contains NaN or infinite values")
    if np.any(p < 0):
        raise ValueError(
            f"evidence has negative values (min {p.min():.3g}); apply signed_attribution first"
        )
    p2 = p.reshape(-1, *p.shape[-2:])
    out = np.stack([_cutoff_and_mask(m, threshold, value)[1] for m in p2])
    return out.reshape(p.shape)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges of an ascending or descending 1-D grid: midpoints, ends mirrored."""
    mids = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])


def _freq_edges(freqs: np.ndarray) -> np.ndarray:
    """Row edges: geometric midpoints; a leading 0 (low-pass row) keeps edge 0."""
    lp = freqs[0] == 0
    f = freqs[1:] if lp else freqs
    mids = np.sqrt(f[1:] * f[:-1])
    e = np.concatenate([[f[0] ** 2 / mids[0]], mids, [f[-1] ** 2 / mids[-1]]])
    return np.concatenate([[0.0], e]) if lp else e


@dataclass(frozen=True)
class _Grid:
    """Physical coordinates of the cells of one map."""

    freqs: np.ndarray  # (F,) ascending, maybe a leading 0
    f_edges: np.ndarray  # (F + 1,)
    x: np.ndarray  # (N,) axis values or sample indices
    x_edges: np.ndarray  # (N + 1,)
    step: float  # mean |dx| per sample
    fs: float

    @classmethod
    def make(cls, config: SSQConfig, n: int, axis, plane: str) -> _Grid:
        freqs = config.freqs(n) if plane == "ssq" else config.cwt_freqs(n)
        x = np.arange(n, dtype=np.float64) if axis is None else axis
        return cls(freqs, _freq_edges(freqs), x, _edges(x), abs(x[-1] - x[0]) / (n - 1), config.fs)

    def duration(self, c0: int, c1: int) -> float:
        return float(abs(self.x_edges[c1 + 1] - self.x_edges[c0]))

    def bandwidth(self, r0: int, r1: int) -> float:
        lo, hi = self.f_edges[r0], self.f_edges[r1 + 1]
        return math.inf if lo == 0 else float(np.log2(hi / lo))


def _at_least(x: float, minimum: float) -> bool:
    return x >= minimum * (1 - _REL_TOL)


def _closing(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``skimage.morphology.closing(m, np.ones(shape, bool))``, bit for bit, faster.

    scikit-image (since it has ``pad_footprint``) pads an even side of the footprint by
    one zero at its start and mirrors it for the dilation; the padded rectangle is no
    longer all ones, so SciPy runs a full 2-D filter. The same neighbourhoods are a
    rectangular maximum filter whose window is shifted by one cell along each even side
    (``origin=-1``), then a centred minimum filter: two separable passes, the same
    ``'reflect'`` edges, the same result. Older scikit-image treats even footprints
    differently, so it keeps its own call.
    """
    from skimage import morphology

    if not hasattr(morphology, "pad_footprint"):
        return morphology.closing(m, np.ones(shape, dtype=bool))
    if m.dtype == bool and all(s - 1 <= n for s, n in zip(shape, m.shape, strict=True)):
        # on a boolean mask the same filters are ORs/ANDs of shifted slices
        dilated = m
        for axis, s in enumerate(shape):
            dilated = _window_reduce(dilated, s, s // 2 - (s % 2 == 0), axis, np.logical_or)
        closed = dilated
        for axis, s in enumerate(shape):
            closed = _window_reduce(closed, s, s // 2, axis, np.logical_and)
        return closed
    from scipy import ndimage

    origin = tuple(-1 if s % 2 == 0 else 0 for s in shape)
    dilated = ndimage.maximum_filter(m, size=shape, origin=origin, mode="reflect")
    return ndimage.minimum_filter(dilated, size=shape, mode="reflect")


def _window_reduce(m: np.ndarray, size: int, before: int, axis: int, op) -> np.ndarray:
    """``op`` over the window ``[i - before, i - before + size - 1]`` along ``axis``.

    Edges as SciPy's ``mode='reflect'`` (NumPy's ``'symmetric'`` padding); the window
    must not reach more than one length past an edge. This is
    ``ndimage.maximum_filter1d`` (``op=np.logical_or``) or ``minimum_filter1d``
    (``np.logical_and``) of a boolean array with ``origin = before - size // 2``.
    """
    if size == 1:
        return m
    n, after = m.shape[axis], size - 1 - before
    idx = [slice(None)] * m.ndim

    def cut(sl):
        idx[axis] = sl
        return m[tuple(idx)]

    # symmetric padding: the first `before` and last `after` lines, mirrored
    padded = np.concatenate([cut(slice(before - 1, None, -1) if before else slice(0, 0)),
                             m, cut(slice(n - 1, n - 1 - after if after < n else None, -1))],
                            axis=axis)
    idx[axis] = slice(0, n)
    out = padded[tuple(idx)].copy()  # reduced in place below
    for k in range(1, size):
        idx[axis] = slice(k, k + n)
        op(out, padded[tuple(idx)], out=out)
    return out


def _clean(
    m: np.ndarray,
    grid: _Grid,
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
        m = _closing(m, closing)
    if fill_holes is True:
        m = ndimage.binary_fill_holes(m)
    elif fill_holes:
        m = _remove_small(m, fill_holes, holes=True, connectivity=connectivity)
    m = _remove_small(m, min_area - 1, connectivity=connectivity)
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
        "min_area": _check_count(min_area, "min_area"),
        "closing": _check_closing(closing),
        "fill_holes": _check_fill_holes(fill_holes),
        "connectivity": _check_connectivity(connectivity),
    }


def _check_connectivity(connectivity) -> int:
    c = _check_count(connectivity, "connectivity", minimum=1)
    if c > 2:
        raise ValueError(f"{connectivity=} must be 1 (edges) or 2 (edges and corners)")
    return c


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
    _check_choice(plane, _PLANES, "plane")
    m = validate_mask(mask, config)
    if m.dtype != bool:
        raise TypeError(f"mask has dtype {m.dtype}; clean_mask needs a boolean mask")
    n = m.shape[-1]
    grid = _Grid.make(config, n, _check_axis(axis, n), plane)
    m2 = m.reshape(-1, *m.shape[-2:])
    return np.stack([_clean(mi, grid, **opts) for mi in m2]).reshape(m.shape)


def _records(
    lab: np.ndarray,
    p: np.ndarray,
    energy: np.ndarray | None,
    grid: _Grid,
    max_regions: int | None,
    min_share: float = 0.0,
) -> tuple[np.ndarray, list[Region]]:
    """Order the regions of one label image by mass, keep the top K, renumber, describe.

    Regions whose mass is below ``min_share`` of the map's total mass are dropped first.

    ``lab`` holds consecutive labels ``1..n`` (as from ``skimage.measure.label``). Only
    the kept regions are described, so the cost does not grow with the (often hundreds
    of) small regions a thresholded map has. Everything is computed from the labelled
    cells alone (a small part of the map): masses and areas by ``bincount``, bounding
    boxes by ``minimum.at``/``maximum.at`` (what ``ndimage.find_objects`` gives), the
    renumbered label image by scattering into zeros.
    """
    flat = lab.ravel()
    n_lab = int(lab.max())
    # sums over the labelled cells only: each region's cells in raster order, as a pass
    # over the whole map would add them, at a fraction of the cost
    cells = np.flatnonzero(flat > 0)
    lc = flat[cells].astype(np.intp)
    mass = np.bincount(lc, weights=p.ravel()[cells], minlength=n_lab + 1)
    area = np.bincount(lc, minlength=n_lab + 1)
    if not area[1:].all():
        raise ValueError(f"labels must be consecutive 1..{n_lab}")
    # mass descending, then raster order of the first cell; the raster order only
    # decides between equal masses, so it is looked up only when there are some
    if np.unique(mass[1:]).size == n_lab:
        order = np.argsort(-mass[1:], kind="stable")
    else:
        _, at = np.unique(lc, return_index=True)  # first occurrences
        order = np.lexsort((cells[at], -mass[1:]))
    total = float(p.sum())
    if min_share > 0 and total > 0:
        # the same division as ``mass_share``, so a region at the limit is kept
        order = order[mass[1:][order] / total >= min_share]
    if max_regions is not None:
        order = order[:max_regions]
    relabel = np.zeros(n_lab + 1, dtype=lab.dtype)
    relabel[order + 1] = np.arange(1, len(order) + 1)
    new = np.zeros(lab.shape, dtype=lab.dtype)
    new.ravel()[cells] = relabel[lc]
    if energy is not None:
        e_sum = np.bincount(lc, weights=energy.ravel()[cells], minlength=n_lab + 1)
        e_total = float(energy.sum())
    # inclusive bounding boxes of every label (index = label)
    rr, cc = np.divmod(cells, lab.shape[-1])
    lo_r, lo_c = (np.full(n_lab + 1, lab.size, dtype=np.intp) for _ in range(2))
    hi_r, hi_c = (np.full(n_lab + 1, -1, dtype=np.intp) for _ in range(2))
    np.minimum.at(lo_r, lc, rr)
    np.minimum.at(lo_c, lc, cc)
    np.maximum.at(hi_r, lc, rr)
    np.maximum.at(hi_c, lc, cc)
    regions = []
    for k, i in enumerate(order, start=1):
        r0, c0, r1, c1 = lo_r[i + 1], lo_c[i + 1], hi_r[i + 1], hi_c[i + 1]
        f_lo, f_hi = float(grid.f_edges[r0]), float(grid.f_edges[r1 + 1])
        w = tuple(grid.fs / (2 * f) if f > 0 else math.inf for f in (f_hi, f_lo))
        xa, xb = sorted((float(grid.x[c0]), float(grid.x[c1])))
        if energy is not None:
            e = float(e_sum[i + 1])
            e_share = e / e_total if e_total > 0 else 0.0
        regions.append(
            Region(
                label=k,
                rows=(int(r0), int(r1)),
                cols=(int(c0), int(c1)),
                x_range=(xa, xb),
                duration=grid.duration(c0, c1),
                band=(f_lo, f_hi),
                row_freqs=(float(grid.freqs[r0]), float(grid.freqs[r1])),
                bandwidth=grid.bandwidth(r0, r1),
                width_samples=(float(w[0]), float(w[1])),
                width_x=(float(w[0] * grid.step), float(w[1] * grid.step)),
                area=int(area[i + 1]),
                mass=float(mass[i + 1]),
                mass_share=float(mass[i + 1]) / total,
                energy=e if energy is not None else None,
                energy_share=e_share if energy is not None else None,
            )
        )
    return new, regions


def label_regions(
    mask,
    config: SSQConfig | None = None,
    *,
    attribution=None,
    coefficients=None,
    axis=None,
    max_regions: int | None = None,
    min_share: float = 0.0,
    connectivity: int = 2,
    plane: str = "ssq",
) -> AttributionMask:
    """Label the connected regions of a (cleaned) boolean mask and describe them.

    Parameters
    ----------
    mask : array_like of bool, shape (..., n_freqs, n_times)
        Mask on the grid of ``config``.
    config : SSQConfig, optional
        Grid (default ``SSQConfig()``).
    attribution : array_like, shape like ``mask``, optional
        Non-negative evidence that orders the regions and gives their ``mass``; by
        default every cell weighs 1 (mass = area).
    coefficients, axis, max_regions, min_share, connectivity, plane
        As in :func:`attribution_mask`.

    Returns
    -------
    AttributionMask
        ``cutoff`` is ``nan`` (nothing was thresholded).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.mask import label_regions
    >>> cfg = SSQConfig(nv=8)
    >>> m = np.zeros((cfg.n_freqs(64), 64), dtype=bool)
    >>> m[2:4, 0:3] = m[20:30, 40:50] = True
    >>> res = label_regions(m, cfg)
    >>> [(r.label, r.area, r.cols) for r in res.regions]
    [(1, 100, (40, 49)), (2, 6, (0, 2))]
    """
    config = config or SSQConfig()
    m = validate_mask(mask, config)
    if m.dtype != bool:
        raise TypeError(f"mask has dtype {m.dtype}; label_regions needs a boolean mask")
    if attribution is None:
        p = m.astype(np.float64)
    else:
        p = _check_attribution(attribution, config)
        if p.shape != m.shape:
            raise ValueError(f"attribution has shape {p.shape} but mask has {m.shape}")
        if np.any(p < 0):
            raise ValueError("attribution must be non-negative; apply signed_attribution")
    return _finish(
        m,
        p,
        np.full(m.shape[:-2], np.nan),
        config,
        coefficients=coefficients,
        axis=axis,
        max_regions=max_regions,
        min_share=min_share,
        connectivity=connectivity,
        plane=plane,
    )


def _check_share(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"min_share={value!r} must be a number")
    if not 0 <= value < 1:
        raise ValueError(f"min_share={value!r} must be in [0, 1)")
    return float(value)


def _finish(
    m, p, cutoff, config, *, coefficients, axis, max_regions, min_share, connectivity, plane
) -> AttributionMask:
    from skimage import measure

    connectivity = _check_connectivity(connectivity)
    _check_choice(plane, _PLANES, "plane")
    if max_regions is not None:
        max_regions = _check_count(max_regions, "max_regions", minimum=1)
    min_share = _check_share(min_share)
    n = m.shape[-1]
    grid = _Grid.make(config, n, _check_axis(axis, n), plane)
    energy = None
    if coefficients is not None:
        c = _to_numpy(coefficients, name="coefficients")
        if not np.iscomplexobj(c):
            raise TypeError(f"coefficients have dtype {c.dtype}; expected complex Tx/Wx")
        if c.shape != m.shape:
            raise ValueError(f"coefficients have shape {c.shape}; expected {m.shape}")
        energy = c.reshape(-1, *m.shape[-2:])  # |c|**2 per map, below
    m2 = m.reshape(-1, *m.shape[-2:])
    p2 = p.reshape(-1, *m.shape[-2:])
    labels, regions = [], []
    for i in range(m2.shape[0]):
        lab, regs = _records(
            measure.label(m2[i], connectivity=connectivity),
            p2[i],
            None if energy is None else np.abs(energy[i].astype(np.complex128)) ** 2,
            grid,
            max_regions,
            min_share,
        )
        labels.append(lab.astype(np.int64))
        regions.append(tuple(regs))
    lab = np.stack(labels).reshape(m.shape)
    return AttributionMask(
        mask=_readonly(lab > 0),
        labels=_readonly(lab),
        regions=_nest(regions, m.shape[:-2]),
        cutoff=_readonly(np.asarray(cutoff, dtype=np.float64).reshape(m.shape[:-2])),
    )


# =========================================================================== pipeline
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
    min_share: float = 0.0,
    connectivity: int = 2,
    axis=None,
    coefficients=None,
    plane: str = "ssq",
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
        < 1``; default 0 keeps all). A mass threshold keeps many specks of a few cells
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
    _check_choice(sign, SIGNS, "sign")
    value = _check_threshold(threshold, value)
    opts = _check_cleaning(
        min_duration, min_bandwidth, min_area, closing, fill_holes, connectivity
    )
    _check_choice(plane, _PLANES, "plane")
    a = _check_attribution(attribution, config)
    p = signed_attribution(a, sign=sign)
    n = a.shape[-1]
    grid = _Grid.make(config, n, _check_axis(axis, n), plane)
    p2 = p.reshape(-1, *p.shape[-2:])
    cut, masks = [], []
    for pi in p2:
        c, mi = _cutoff_and_mask(pi, threshold, value)
        cut.append(c)
        masks.append(_clean(mi, grid, **opts))
    m = np.stack(masks).reshape(p.shape)
    return _finish(
        m,
        p,
        np.array(cut),
        config,
        coefficients=coefficients,
        axis=axis,
        max_regions=max_regions,
        min_share=min_share,
        connectivity=opts["connectivity"],
        plane=plane,
    )


# =========================================================================== other masks
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
    m = _to_numpy(mask, name="mask")
    if np.iscomplexobj(m):
        raise TypeError(f"mask has complex dtype {m.dtype}; expected boolean or real")
    _check_grid(m.shape, config, name="mask")
    if m.dtype == bool:
        return m.copy()
    m = m.astype(np.float64)
    if not np.all(np.isfinite(m)):
        raise ValueError("mask contains NaN or infinite values")
    return m


def _int_array(x, name: str) -> np.ndarray:
    a = _to_numpy(x, name=name)
    if a.dtype == bool or np.iscomplexobj(a):
        raise TypeError(f"{name} has dtype {a.dtype}; expected integers")
    if not np.issubdtype(a.dtype, np.integer) and (
        not np.all(np.isfinite(a)) or np.any(a != np.round(a))
    ):
        raise ValueError(f"{name} must hold whole numbers (row indices)")
    return a.astype(np.int64)


def ridge_band(center_rows, half_widths, *, n_freqs: int) -> np.ndarray:
    """Boolean band of rows around one or several ridges, ssqueezepy's ``cc``/``cw`` style.

    In column ``j`` the band holds rows ``cc[j] - cw[j] .. cc[j] + cw[j]`` (inclusive),
    clipped to ``[0, n_freqs - 1]``; ``cc[j] == -1`` leaves the column empty.

    Parameters
    ----------
    center_rows : array_like of int, shape (n_times,) or (..., n_ridges, n_times)
        Centre row per column, in **our** row order (row 0 = lowest frequency); convert
        ssqueezepy's row index ``i`` (highest first) with ``n_freqs - 1 - i``.
    half_widths : int or array_like of int
        Half-width per column, broadcast against ``center_rows``; >= 0.
    n_freqs : int
        Number of rows of the plane.

    Returns
    -------
    numpy.ndarray of bool
        ``(n_freqs, n_times)`` for a 1-D ``center_rows``, otherwise
        ``(..., n_ridges, n_freqs, n_times)``.

    Raises
    ------
    ValueError
        For centres outside ``[-1, n_freqs - 1]``, negative half-widths, shapes that do
        not broadcast.
    TypeError
        For non-integer rows or widths.

    Examples
    --------
    >>> from saliency2signal.mask import ridge_band
    >>> ridge_band([0, 2, -1, 4], 1, n_freqs=5).astype(int)
    array([[1, 0, 0, 0],
           [1, 1, 0, 0],
           [0, 1, 0, 0],
           [0, 1, 0, 1],
           [0, 0, 0, 1]])
    """
    n_freqs = _check_count(n_freqs, "n_freqs", minimum=1)
    cc = _int_array(center_rows, "center_rows")
    cw = _int_array(half_widths, "half_widths")
    if cc.ndim == 0:
        raise ValueError("center_rows is a scalar; expected shape (n_times,) or (..., K, n_times)")
    try:
        cw = np.broadcast_to(cw, cc.shape)
    except ValueError:
        raise ValueError(
            f"half_widths of shape {cw.shape} does not broadcast to center_rows of shape "
            f"{cc.shape}"
        ) from None
    if np.any((cc < -1) | (cc >= n_freqs)):
        raise ValueError(
            f"center_rows must be in [-1, {n_freqs - 1}] (-1 = no band); got values in "
            f"[{cc.min()}, {cc.max()}]"
        )
    if np.any(cw < 0):
        raise ValueError(f"half_widths must be >= 0; got minimum {cw.min()}")
    rows = np.arange(n_freqs).reshape(n_freqs, 1)
    c, w = cc[..., None, :], cw[..., None, :]
    return (c >= 0) & (rows >= c - w) & (rows <= c + w)
