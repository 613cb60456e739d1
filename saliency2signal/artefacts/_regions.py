"""Which attribution regions sit on reassignment interference: :func:`flag_regions`.

Regions come as an ``AttributionMask``, ``Region`` records (bounding boxes) or a label
image on the synchrosqueezed grid of an :class:`~saliency2signal.artefacts.Interference`;
each gets a JSON-compatible record saying whether it overlaps a finding, and a sentence.

Internal to :mod:`saliency2signal.artefacts` (which re-exports the public function).
May import: numpy, ``_validation``, ``mask`` (lazily: ``mask`` builds on ``transform``
and is imported only when regions are flagged), ``artefacts._records``; never ``plot``
or matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import check_instance, check_real, to_numpy
from ._records import Interference, batch_index

__all__ = ["flag_regions"]


def flag_regions(
    regions_or_labels, artefacts: Interference, *, index=None, min_overlap: float = 0.0
) -> list[dict]:
    """Tell which attribution regions coincide with reassignment interference.

    Parameters
    ----------
    regions_or_labels : AttributionMask, sequence of Region, or array_like of int
        Attribution regions: an :class:`~saliency2signal.mask.AttributionMask` (its
        ``labels``), a label image of shape ``artefacts.mask.shape`` (0 = background),
        or :class:`~saliency2signal.mask.Region` records (their bounding boxes
        ``rows`` x ``cols``).
    artefacts : Interference
        Output of :func:`detect_interference` on the same grid.
    index : tuple of int, optional
        Batch index of the map that ``Region`` records belong to; required with records
        when ``artefacts`` is batched (ignored for label images, which carry their own
        batch dimensions).
    min_overlap : float
        A region is flagged when more than this fraction of its cells lies on the
        artefact mask (default 0: any overlap). In ``[0, 1)``.

    Returns
    -------
    list of dict
        One JSON-compatible record per region: ``label``, ``index``, ``rows``, ``cols``,
        ``area``, ``overlap`` (cells), ``overlap_fraction``, ``flagged``, ``findings``
        (the overlapped findings as dictionaries) and a one-sentence ``message``.

    Raises
    ------
    TypeError
        For an ``artefacts`` that is not an :class:`Interference` or an unusable region
        input.
    ValueError
        For a label image of the wrong shape, regions outside the grid, a missing or
        invalid ``index``, or ``min_overlap`` outside ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.artefacts import detect_interference, flag_regions
    >>> t = np.arange(2048)
    >>> art = detect_interference(np.cos(2 * np.pi * 0.1 * t) + np.cos(2 * np.pi * 0.11 * t))
    >>> labels = np.zeros(art.mask.shape, dtype=int)
    >>> r0, r1 = art.findings[0].ssq_rows
    >>> labels[r0 : r1 + 1, 900:1000] = 1  # on the wiggling band
    >>> labels[5:10, 900:1000] = 2  # far below it
    >>> [(r["label"], r["flagged"]) for r in flag_regions(labels, art)]
    [(1, True), (2, False)]
    >>> flag_regions(labels, art)[0]["message"][:80]
    'region 1 coincides with reassignment interference between components at ~0.1 and'
    """
    check_instance(artefacts, Interference, "artefacts")
    min_overlap = check_real(min_overlap, "min_overlap", low=0.0, high=1.0, high_open=True)
    items = _region_cells(regions_or_labels, artefacts.mask.shape, index)
    by_label = {f.label: f for f in artefacts.findings}
    return [
        _region_record(b, label, cells, artefacts, by_label, min_overlap)
        for b, label, cells in items
    ]


def _region_cells(regions_or_labels, shape: tuple, index) -> list[tuple]:
    """``(batch index, label, boolean cells on the 2-D grid)`` of every region."""
    from ..mask import AttributionMask, Region

    if isinstance(regions_or_labels, AttributionMask):
        regions_or_labels = regions_or_labels.labels
    if isinstance(regions_or_labels, Region):
        return _record_cells([regions_or_labels], shape, index)
    if (
        isinstance(regions_or_labels, Sequence)
        and not isinstance(regions_or_labels, str)
        and len(regions_or_labels) > 0
        and all(isinstance(r, Region) for r in regions_or_labels)
    ):
        return _record_cells(regions_or_labels, shape, index)
    if isinstance(regions_or_labels, (str, bytes, dict)) or regions_or_labels is None:
        raise TypeError(
            "regions_or_labels must be an AttributionMask, Region records or a label "
            f"image, got {type(regions_or_labels).__name__}"
        )
    if isinstance(regions_or_labels, Sequence) and len(regions_or_labels) == 0:
        return []
    return _label_cells(regions_or_labels, shape)


def _record_cells(records, shape: tuple, index) -> list[tuple]:
    """Cells of ``Region`` records: their bounding boxes, all at batch ``index``."""
    grid = shape[-2:]
    if index is None:
        if len(shape) > 2:
            raise ValueError(
                f"artefacts are batched (shape {shape}); pass index= for Region records"
            )
        index = ()
    index = batch_index(index, tuple(shape[:-2]))
    items = []
    for r in records:
        (r0, r1), (c0, c1) = r.rows, r.cols
        if not (0 <= r0 <= r1 < grid[0] and 0 <= c0 <= c1 < grid[1]):
            raise ValueError(
                f"region {r.label} (rows={r.rows}, cols={r.cols}) lies outside the grid {grid}"
            )
        cells = np.zeros(grid, dtype=bool)
        cells[r0 : r1 + 1, c0 : c1 + 1] = True
        items.append((index, int(r.label), cells))
    return items


def _label_cells(labels, shape: tuple) -> list[tuple]:
    """Cells of each positive label of a label image of the artefacts' shape."""
    lab = to_numpy(labels, name="labels")
    if lab.dtype.kind not in "iub":
        raise TypeError(f"labels have dtype {lab.dtype}; expected integer region labels")
    if lab.shape != shape:
        raise ValueError(f"labels have shape {lab.shape}; expected the artefact grid {shape}")
    lab = lab.astype(np.int64)
    items = []
    for b in np.ndindex(*shape[:-2]):
        for k in np.unique(lab[b]):
            if k > 0:
                items.append((tuple(int(i) for i in b), int(k), lab[b] == k))
    return items


def _region_record(
    b: tuple,
    label: int,
    cells: np.ndarray,
    artefacts: Interference,
    by_label: dict,
    min_overlap: float,
) -> dict:
    """Return the JSON-compatible record of one region (see :func:`flag_regions`)."""
    hits = cells & artefacts.mask[b]
    area, overlap = int(cells.sum()), int(hits.sum())
    frac = overlap / area if area else 0.0
    found = [by_label[int(k)] for k in np.unique(artefacts.labels[b][hits])]
    flagged = overlap > 0 and frac > min_overlap
    rows, cols = np.nonzero(cells)
    if flagged:
        f = max(found, key=lambda g: g.strength)
        message = (
            f"region {label} coincides with reassignment interference between "
            f"components at ~{f.f1:.4g} and ~{f.f2:.4g} ({100 * frac:.0f} % of its cells): "
            f"the synchrosqueezed band wiggles with period ~{f.period:.4g} "
            "= 1/|f2 - f1|, a pattern made by the transform and not present in the "
            "signal"
        )
    else:
        message = f"region {label} does not coincide with detected reassignment interference"
    return {
        "label": label,
        "index": list(b),
        "rows": [int(rows.min()), int(rows.max())] if area else None,
        "cols": [int(cols.min()), int(cols.max())] if area else None,
        "area": area,
        "overlap": overlap,
        "overlap_fraction": float(frac),
        "flagged": bool(flagged),
        "findings": [g.to_dict() for g in found] if flagged else [],
        "message": message,
    }
