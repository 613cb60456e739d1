"""The spectroscopic reading of each region: the fitted band whose deletion the model feels.

For every region of a signal, :func:`read_bands` fits a few peaks on a local linear
baseline to the *signal* over the region's x-range (widened by half its width on each
side; :func:`saliency2signal.peaks.fit_peaks`), deletes each fitted peak from the signal
in turn and re-runs the model (transform and image recomputed). The region's band is
the fitted peak whose deletion lowers the explained class's probability most: not the
largest peak under the region, but the one the model's decision rests on — on a band
with a shoulder, the shoulder when the class is the shoulder. The record gives the
band's centre, FWHM, height and area in axis units, the probability after deleting it,
its correlation with the region's recovered component and a one-line description
("peak at 1168 cm⁻¹ (FWHM 14 cm⁻¹, height 0.31)").

A region whose range holds no peak the fit supports (a slope, noise) gets no band.

With reference signals (``explain(reference=...)``; by default the mean training spectrum
of the foil class), the same range of the reference is fitted too, and each fitted peak
is paired with *the same band* there when each is the other's nearest fitted peak (by
centre) and their centres lie within the larger FWHM. For a paired peak the signal is
re-run three more times, each with one property of the peak (position, width at
constant area, height) put back to its partner's: a broadened band whose *deletion*
the model does not feel (the class is "no tall, narrow band here") is found by undoing
its broadening. The difference ``x - r`` over the same range is fitted too, and each of
its peaks is deleted from the spectrum: a band buried in the flank of a band both share
is fitted as one peak with it in the spectrum but stands alone in the difference. The
region's band is the candidate with the largest drop over all these edits; drops within
5 % of the largest are ties (probabilities saturate, and several edits can all undo a
decision), which go to the smallest edit of the spectrum — the most specific
counterfactual. Its ``reference`` record says how it differs from its partner and which
``change`` the decision rests on ("broader (FWHM 25 vs 14 cm⁻¹) than in the reference;
restoring it changes p by -0.62"), that it is a band the reference lacks, or a band of
the difference. The band minus its restored self (the band itself for the last two) is
the class feature as a difference spectrum.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, torch, ``forward``, ``peaks``, ``_validation``; never another
module of the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..forward import probabilities
from ..peaks import Peak, fit_peaks

__all__ = ["CHANGES", "MARGIN", "MAX_PEAKS", "read_bands"]

#: The fit's range: the region's x-range widened by this fraction of its width per side.
MARGIN = 0.5
#: Most peaks fitted over one range (the BIC chooses fewer where the data do not need
#: them): a wide region also holds neighbouring bands, and with too few peaks allowed a
#: shoulder is merged into its anchor (on the shoulder design, 4 peaks: 0.77 of the
#: bands hold 0.8 of their energy in the shoulder's window; 8: 0.90).
MAX_PEAKS = 8


def _units(units: str) -> str:
    """Units for a description: ``cm^-1`` typeset, none for samples."""
    if units in ("samples", "sample", ""):
        return ""
    return units.replace("^-1", "⁻¹").replace("^-2", "⁻²")


def read_bands(
    model,
    x: torch.Tensor,
    regions: Sequence[Sequence],
    components: np.ndarray,
    target: np.ndarray,
    p_before: np.ndarray,
    *,
    axis: np.ndarray,
    units: str,
    transform_config,
    imaging_config,
    batch_size: int,
    reference: np.ndarray | None = None,
    task: str = "classification",
) -> list[list[dict | None]]:
    """Return the band of each region of each signal (``None`` where none is fitted).

    Parameters
    ----------
    model : torch.nn.Module
        The model of the forward passes.
    x : torch.Tensor, shape (b, N)
        The signals.
    regions : sequence of sequence of Region
        ``regions[i][k]``: region ``k + 1`` of signal ``i`` (its ``x_range`` in
        ``axis`` units).
    components : numpy.ndarray, shape (b, R, N)
        The regions' recovered components.
    target : numpy.ndarray of int, shape (b,)
    p_before : numpy.ndarray, shape (b,)
        Probability of the explained class of each unmodified signal.
    axis : numpy.ndarray, shape (N,)
        x value of each sample.
    units : str
        The axis units, for the descriptions.
    transform_config, imaging_config
    batch_size : int
        Signals per transform of the forward passes.
    reference : numpy.ndarray, shape (b, N), optional
        Reference signals to compare each band with (see the module docstring).
    task : {'classification', 'regression'}
        Whether ``p_before`` and the effects are probabilities or output values.

    Returns
    -------
    list of list of dict or None
    """
    xs = x.detach().cpu().numpy().astype(np.float64)
    u = _units(units)
    out: list[list[dict | None]] = [[None] * len(rs) for rs in regions]
    # every fitted peak of every region is a candidate: deleted, and with a reference
    # also paired with the same band there and each of its properties put back
    tests = []  # (signal, region, peak, change or None, modified signal)
    candidates = {}  # (signal, region) -> [(peak, fit, comparison, partner)]
    for i, rs in enumerate(regions):
        for k, r in enumerate(rs):
            try:
                fit = _fit(xs[i], axis, r.x_range)
            except ValueError:  # a range too short to fit
                continue
            ref_fit = None if reference is None else _fit_or_none(reference[i], axis, r.x_range)
            for peak in fit.peaks:
                curve = peak.curve(axis)
                tests.append((i, k, peak, None, xs[i] - curve))
                cmp, partner = (None, None)
                if reference is not None:
                    cmp, partner = _compare(peak, fit, ref_fit, u)
                    for c in CHANGES if partner is not None else ():
                        back = _restored(peak, partner, c).curve(axis)
                        tests.append((i, k, peak, c, xs[i] - curve + back))
                candidates.setdefault((i, k), []).append((peak, fit, cmp, partner))
            if reference is None:
                continue
            # the difference from the reference, fitted alone: a band buried under
            # another in the spectrum stands apart in the difference
            diff_fit = _fit_or_none(xs[i] - reference[i], axis, r.x_range)
            for peak in () if diff_fit is None else diff_fit.peaks:
                tests.append((i, k, peak, None, xs[i] - peak.curve(axis)))
                candidates.setdefault((i, k), []).append((peak, diff_fit, EXCESS, None))
    if not tests:
        return out
    p_after = probabilities(
        model,
        torch.from_numpy(np.stack([t[4] for t in tests])).to(dtype=x.dtype, device=x.device),
        transform_config=transform_config,
        imaging_config=imaging_config,
        batch_size=batch_size,
        task=task,
    )
    p_after = p_after.detach().cpu().numpy()
    effects: dict[tuple, tuple[float, float]] = {}  # key -> (p after, size of the edit)
    for j, (i, k, peak, change, modified) in enumerate(tests):
        edit = float(np.linalg.norm(modified - xs[i]))
        effects[(i, k, id(peak), change)] = (float(p_after[j, int(target[i])]), edit)
    for (i, k), cands in candidates.items():
        options = []  # (drop, edit, candidate, change)
        for cand in cands:
            peak, partner = cand[0], cand[3]
            for change in (None, *(CHANGES if partner is not None else ())):
                after, edit = effects[(i, k, id(peak), change)]
                options.append((float(p_before[i]) - after, edit, cand, change))
        _, _, (peak, fit, cmp, partner), change = _decisive(options)
        after = effects[(i, k, id(peak), None)][0]
        out[i][k] = _record(peak, fit, components[i, k], axis, p_before[i], after, u)
        if cmp is EXCESS:
            out[i][k]["description"] += " in the difference from the reference"
            out[i][k]["reference"] = _excess(after, p_before[i])
        elif cmp is not None:
            if partner is not None and change is None:  # deletion decided: which change?
                own = [o for o in options if o[2][0] is peak and o[3] is not None]
                change = _decisive(own)[3]
            cmp["change"] = _change(
                peak, partner, cmp, change, after, p_before[i], effects, (i, k), u
            )
            out[i][k]["reference"] = cmp
    return out


#: Drops within this fraction of the largest are ties (probabilities saturate: several
#: edits can all undo a decision); a tie goes to the smallest edit of the spectrum (L2).
TIE = 0.05


def _decisive(options: list[tuple]) -> tuple:
    """Return the option with the largest drop, ties (:data:`TIE`) to the smallest edit."""
    top = max(o[0] for o in options)
    if top <= 0:
        return max(options, key=lambda o: o[0])
    return min((o for o in options if o[0] >= (1 - TIE) * top), key=lambda o: o[1])


def _fit(signal: np.ndarray, axis: np.ndarray, x_range):
    """Fit the region's range widened by :data:`MARGIN`, no band wider than the region.

    A band as wide as the widened range is the baseline's curvature more often than a
    band (a broad bump then absorbs the baseline and the band both).
    """
    width = abs(float(x_range[1]) - float(x_range[0]))
    return fit_peaks(
        signal,
        axis,
        x_range=x_range,
        margin=MARGIN,
        max_peaks=MAX_PEAKS,
        max_fwhm=width if width > 0 else None,
    )


def _fit_or_none(signal: np.ndarray, axis: np.ndarray, x_range):
    try:
        return _fit(signal, axis, x_range)
    except ValueError:
        return None


def _record(peak, fit, comp: np.ndarray, axis, p_before: float, after: float, units: str):
    """Return the band's record: its parameters, words, deletion effect and fit quality."""
    curve = peak.curve(axis)
    inside = slice(fit.start, fit.stop)
    corr = np.nan
    if np.ptp(curve[inside]) > 0 and np.ptp(comp[inside]) > 0:
        corr = float(np.corrcoef(curve[inside], comp[inside])[0, 1])
    return {
        **peak.to_dict(),
        "description": peak.describe(units),
        "p_after": after,
        "drop": float(p_before) - after,
        "component_correlation": corr,
        "n_fitted": fit.n_peaks,
        "fit_r_squared": float(fit.r2),
        "reference": None,
    }


#: The band's properties that can be put back to the reference's, one at a time.
CHANGES = ("position", "width", "height")
#: Marks a candidate fitted to the difference ``x - r`` rather than to the spectrum.
EXCESS = "excess"


def _unpaired(description: str) -> dict:
    """Return the comparison of a band without a partner in the reference."""
    return {
        "peak": None,
        "new_band": True,
        "shift": None,
        "fwhm_ratio": None,
        "height_ratio": None,
        "description": description,
    }


def _deleted(kind: str, after: float, p_before: float, description: str) -> dict:
    """Return the ``change`` of an unpaired band, measured by deleting it."""
    return {
        "kind": kind,
        "restored": None,
        "p_after": after,
        "drop": float(p_before) - after,
        "description": description,
    }


def _excess(after: float, p_before: float) -> dict:
    """Return the comparison of a band fitted to the difference from the reference."""
    drop = float(p_before) - after
    text = (
        "what the spectrum has there beyond the reference (a band of the difference "
        f"spectrum); deleting it changes p by {-drop:+.2f}"
    )
    return {
        **_unpaired("a band of the difference from the reference"),
        "change": _deleted("excess band", after, p_before, text),
    }


def _restored(peak: Peak, partner: Peak, change: str) -> Peak:
    """Return the band with one property put back to its partner's (width: same area)."""
    if change == "position":
        return Peak(partner.centre, peak.fwhm, peak.height, peak.eta)
    if change == "width":
        return Peak(peak.centre, partner.fwhm, peak.height * peak.fwhm / partner.fwhm, peak.eta)
    return Peak(peak.centre, peak.fwhm, partner.height, peak.eta)


def _change(peak, partner, cmp: dict, kind, after: float, p_before: float, effects, key, units):
    """Return the band's change against the reference: the decisive restoration.

    The signal was re-run with each property of the band (position, width at constant
    area, height) put back to the partner's; ``kind`` is the one whose restoration
    lowers the explained class's probability most (ties to the smallest edit). The band
    minus the restored band is the class feature as a difference spectrum. An unpaired
    band is one the reference lacks: ``'new band'``, measured by deleting it.
    """
    if partner is None:
        return _deleted("new band", after, p_before, "a band the reference lacks")
    i, k = key
    p = effects[(i, k, id(peak), kind)][0]
    drop = float(p_before) - p
    return {
        "kind": kind,
        "restored": _restored(peak, partner, kind).to_dict(),
        "p_after": p,
        "drop": drop,
        "description": _change_text(kind, peak, cmp, drop, units),
    }


def _change_text(change: str, peak: Peak, record: dict, drop: float, units: str) -> str:
    partner = record["peak"]
    u = f" {units}" if units else ""
    if change == "position":
        what = (
            f"shifted by {peak.centre - partner['centre']:+.3g}{u} "
            f"(at {peak.centre:.4g} vs {partner['centre']:.4g}{u})"
        )
    elif change == "width":
        kind = "broader" if peak.fwhm > partner["fwhm"] else "narrower"
        what = f"{kind} (FWHM {peak.fwhm:.3g} vs {partner['fwhm']:.3g}{u})"
    else:
        kind = "stronger" if peak.height > partner["height"] else "weaker"
        what = f"{kind} (height {peak.height:.3g} vs {partner['height']:.3g})"
    return f"{what} than in the reference; restoring it changes p by {-drop:+.2f}"


def _nearest(peaks, centre: float) -> int:
    return int(np.argmin([abs(p.centre - centre) for p in peaks]))


def _compare(peak, fit, ref_fit, units: str) -> tuple[dict, Peak | None]:
    """Compare the band with the same band of the reference's fit (or its absence)."""
    partner = None
    if ref_fit is not None and ref_fit.peaks:
        j = _nearest(ref_fit.peaks, peak.centre)
        cand = ref_fit.peaks[j]
        mutual = fit.peaks[_nearest(fit.peaks, cand.centre)] is peak
        if mutual and abs(cand.centre - peak.centre) <= max(cand.fwhm, peak.fwhm):
            partner = cand
    u = f" {units}" if units else ""
    if partner is None:
        return _unpaired("a band the reference lacks"), None
    shift = peak.centre - partner.centre
    return {
        "peak": partner.to_dict(),
        "new_band": False,
        "shift": shift,
        "fwhm_ratio": peak.fwhm / partner.fwhm,
        "height_ratio": peak.height / partner.height if partner.height > 0 else None,
        "description": (
            f"in the reference: {partner.describe(units)}; shifted by {shift:+.3g}{u}, "
            f"FWHM x{peak.fwhm / partner.fwhm:.2f}, height "
            f"x{peak.height / max(partner.height, 1e-300):.2f}"
        ),
    }, partner
