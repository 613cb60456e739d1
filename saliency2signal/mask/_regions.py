"""Step 4 of a mask: connected regions, their records and the result class.

:class:`Region` describes one region in cells and physical units, :class:`AttributionMask`
holds the labelled result, :func:`label_regions` labels a mask made elsewhere, and
:func:`describe_regions` is the labelling step shared with ``attribution_mask``.
:class:`Grid` gives the physical coordinates of the cells (also used by the cleaning).

Internal: plain names; ``Region``, ``AttributionMask`` and ``label_regions`` are public
through :mod:`saliency2signal.mask`. May import: numpy, scikit-image (lazily),
``saliency2signal._grid``, ``saliency2signal._validation``, ``saliency2signal.transform``,
``._checks``; never ``._core``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .._grid import geometric_edges, linear_edges
from .._validation import check_int, check_real, finite_or_none, readonly, to_numpy
from ..transform import SSQConfig
from ._checks import (
    check_attribution,
    check_connectivity,
    check_plane,
    check_x_axis,
    validate_mask,
)

__all__ = [
    "AttributionMask",
    "Grid",
    "Region",
    "describe_regions",
    "label_regions",
    "nest",
    "records",
]


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
            out[key] = [_json_number(e) for e in v] if isinstance(v, tuple) else _json_number(v)
        return out


def _json_number(v):
    """Infinite and NaN floats become ``None``; everything else (ints too) is kept."""
    return finite_or_none(v) if isinstance(v, float) else v


def nest(flat: list, shape: tuple) -> tuple:
    """Nest a flat C-order list into tuples of ``shape``; ``shape == ()`` gives ``flat[0]``."""
    if not shape:
        return flat[0]
    step = len(flat) // shape[0]
    return tuple(nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0]))


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

        def listed(rs, level):
            if level == depth:
                return [r.to_dict() for r in rs]
            return [listed(item, level + 1) for item in rs]

        return {
            "shape": list(self.labels.shape),
            "cutoff": np.where(np.isfinite(self.cutoff), self.cutoff, None).tolist(),
            "regions": listed(self.regions, 0),
        }


@dataclass(frozen=True)
class Grid:
    """Physical coordinates of the cells of one map."""

    freqs: np.ndarray  # (F,) ascending, maybe a leading 0
    f_edges: np.ndarray  # (F + 1,)
    x: np.ndarray  # (N,) axis values or sample indices
    x_edges: np.ndarray  # (N + 1,)
    step: float  # mean |dx| per sample
    fs: float

    @classmethod
    def make(cls, config: SSQConfig, n: int, axis, plane: str) -> Grid:
        """Grid of ``n`` columns (x = ``axis``, or sample indices) on ``plane``'s rows."""
        freqs = config.freqs(n) if plane == "ssq" else config.cwt_freqs(n)
        x = np.arange(n, dtype=np.float64) if axis is None else axis
        step = abs(x[-1] - x[0]) / (n - 1)
        return cls(freqs, geometric_edges(freqs), x, linear_edges(x), step, config.fs)

    def duration(self, c0: int, c1: int) -> float:
        """Extent along x of columns ``c0..c1``, between their outer cell edges."""
        return float(abs(self.x_edges[c1 + 1] - self.x_edges[c0]))

    def bandwidth(self, r0: int, r1: int) -> float:
        """Octaves between the outer row edges of rows ``r0..r1`` (inf down to 0 Hz)."""
        lo, hi = self.f_edges[r0], self.f_edges[r1 + 1]
        return math.inf if lo == 0 else float(np.log2(hi / lo))


def records(
    lab: np.ndarray,
    p: np.ndarray,
    energy: np.ndarray | None,
    grid: Grid,
    max_regions: int | None,
    min_share: float = 0.0,
    *,
    by_mass: bool = True,
) -> tuple[np.ndarray, list[Region]]:
    """Order the regions of one label image by mass, keep the top K, renumber, describe.

    Regions whose mass is below ``min_share`` of the map's total mass are dropped first.
    ``by_mass=False`` keeps the labels' own order (regions drawn by hand).

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
    if not by_mass:
        order = np.arange(n_lab)
    elif np.unique(mass[1:]).size == n_lab:
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
    if energy is None:
        e_sum, e_total = None, 0.0
    else:
        e_sum = np.bincount(lc, weights=energy.ravel()[cells], minlength=n_lab + 1)
        e_total = float(energy.sum())
    box = _bounding_boxes(cells, lc, n_lab, lab.shape[-1], lab.size)
    regions = []
    for k, i in enumerate(order, start=1):
        r0, c0, r1, c1 = box[:, i + 1]
        if e_sum is None:
            e = e_share = None
        else:
            e = float(e_sum[i + 1])
            e_share = e / e_total if e_total > 0 else 0.0
        regions.append(
            _region(
                k,
                (r0, c0, r1, c1),
                grid,
                area=int(area[i + 1]),
                mass=float(mass[i + 1]),
                total=total,
                energy=e,
                energy_share=e_share,
            )
        )
    return new, regions


def _bounding_boxes(cells, lc, n_lab: int, n_cols: int, size: int) -> np.ndarray:
    """Inclusive boxes ``(r0, c0, r1, c1)`` of every label, shape ``(4, n_lab + 1)``.

    ``cells`` are the flat indices of the labelled cells, ``lc`` their labels; column
    ``j`` of the result is label ``j`` (what ``ndimage.find_objects`` gives).
    """
    rr, cc = np.divmod(cells, n_cols)
    lo_r, lo_c = (np.full(n_lab + 1, size, dtype=np.intp) for _ in range(2))
    hi_r, hi_c = (np.full(n_lab + 1, -1, dtype=np.intp) for _ in range(2))
    np.minimum.at(lo_r, lc, rr)
    np.minimum.at(lo_c, lc, cc)
    np.maximum.at(hi_r, lc, rr)
    np.maximum.at(hi_c, lc, cc)
    return np.stack([lo_r, lo_c, hi_r, hi_c])


def _region(
    label: int,
    box,
    grid: Grid,
    *,
    area: int,
    mass: float,
    total: float,
    energy: float | None,
    energy_share: float | None,
) -> Region:
    """Describe one region from its inclusive bounding box ``(r0, c0, r1, c1)``."""
    r0, c0, r1, c1 = box
    f_lo, f_hi = float(grid.f_edges[r0]), float(grid.f_edges[r1 + 1])
    w = tuple(grid.fs / (2 * f) if f > 0 else math.inf for f in (f_hi, f_lo))
    xa, xb = sorted((float(grid.x[c0]), float(grid.x[c1])))
    return Region(
        label=label,
        rows=(int(r0), int(r1)),
        cols=(int(c0), int(c1)),
        x_range=(xa, xb),
        duration=grid.duration(c0, c1),
        band=(f_lo, f_hi),
        row_freqs=(float(grid.freqs[r0]), float(grid.freqs[r1])),
        bandwidth=grid.bandwidth(r0, r1),
        width_samples=(float(w[0]), float(w[1])),
        width_x=(float(w[0] * grid.step), float(w[1] * grid.step)),
        area=area,
        mass=mass,
        mass_share=mass / total,
        energy=energy,
        energy_share=energy_share,
    )


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

    A mask of integers is a label image made elsewhere (regions drawn by hand,
    :func:`saliency2signal.drawing.load_mask`): each label is one region, connected or
    not, and the labels keep their order (renumbered ``1..K`` if some are missing).

    Parameters
    ----------
    mask : array_like of bool or int, shape (..., n_freqs, n_times)
        Mask on the grid of ``config``, or a label image (0 = background).
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
    >>> drawn = m.astype(np.uint8)
    >>> drawn[2:4, 0:3] = 3  # label 2 is missing: 3 becomes 2, the order is kept
    >>> [(r.label, r.area) for r in label_regions(drawn, cfg).regions]
    [(1, 100), (2, 6)]
    """
    config = config or SSQConfig()
    given = np.asarray(mask)
    if given.dtype.kind in "iu":
        if given.size and given.min() < 0:
            raise ValueError(f"label image has negative labels (min {given.min()})")
        m = validate_mask(given > 0, config)
        lab = given  # renumbered 1..K per map, in order, by describe_regions
    elif given.dtype == bool or np.issubdtype(given.dtype, np.bool_):
        m = validate_mask(mask, config)
        lab = None
    else:
        raise TypeError(
            f"mask has dtype {given.dtype}; label_regions needs a boolean mask or integer labels"
        )
    if attribution is None:
        p = m.astype(np.float64)
    else:
        p = check_attribution(attribution, config)
        if p.shape != m.shape:
            raise ValueError(f"attribution has shape {p.shape} but mask has {m.shape}")
        if np.any(p < 0):
            raise ValueError("attribution must be non-negative; apply signed_attribution")
    return describe_regions(
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
        labels=lab,
    )


def describe_regions(
    m,
    p,
    cutoff,
    config,
    *,
    coefficients,
    axis,
    max_regions,
    min_share,
    connectivity,
    plane,
    labels=None,
) -> AttributionMask:
    """Label each 2-D map of the cleaned mask ``m``, keep and describe its regions.

    ``p`` is the non-negative evidence (same shape) that orders the regions, ``cutoff``
    the threshold applied to each map; the other arguments as in ``attribution_mask``.
    ``labels`` (consecutive per map) are used as given, in their order, instead of
    labelling ``m``'s connected regions.
    """
    from skimage import measure

    connectivity = check_connectivity(connectivity)
    check_plane(plane)
    if max_regions is not None:
        max_regions = check_int(max_regions, "max_regions", minimum=1)
    min_share = check_real(min_share, "min_share", low=0, high=1, high_open=True)
    n = m.shape[-1]
    grid = Grid.make(config, n, check_x_axis(axis, n), plane)
    energy = None
    if coefficients is not None:
        c = to_numpy(coefficients, name="coefficients")
        if not np.iscomplexobj(c):
            raise TypeError(f"coefficients have dtype {c.dtype}; expected complex Tx/Wx")
        if c.shape != m.shape:
            raise ValueError(f"coefficients have shape {c.shape}; expected {m.shape}")
        energy = c.reshape(-1, *m.shape[-2:])  # |c|**2 per map, below
    m2 = m.reshape(-1, *m.shape[-2:])
    p2 = p.reshape(-1, *m.shape[-2:])
    given = None if labels is None else labels.reshape(m2.shape)
    out, regions = [], []
    for i in range(m2.shape[0]):
        if given is None:
            lab_i = measure.label(m2[i], connectivity=connectivity)
        else:  # consecutive per map: a map may lack some of the stack's labels
            kept, lab_i = np.unique(given[i], return_inverse=True)
            lab_i = lab_i.reshape(m2.shape[1:]) + (0 if kept[0] == 0 else 1)
        lab, regs = records(
            lab_i,
            p2[i],
            None if energy is None else np.abs(energy[i].astype(np.complex128)) ** 2,
            grid,
            max_regions,
            min_share,
            by_mass=given is None,
        )
        out.append(lab.astype(np.int64))
        regions.append(tuple(regs))
    lab = np.stack(out).reshape(m.shape)
    return AttributionMask(
        mask=readonly(lab > 0),
        labels=readonly(lab),
        regions=nest(regions, m.shape[:-2]),
        # reshaped after readonly (a view stays read-only): ascontiguousarray makes 0-d 1-d
        cutoff=readonly(np.asarray(cutoff, dtype=np.float64)).reshape(m.shape[:-2]),
    )
