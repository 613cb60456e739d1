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

With reference signals (``explain(reference=...)``: a class mean, the mean spectrum),
the same range of the reference is fitted too, and the band is compared with *the same
band* there: the reference peak and the band are paired when each is the other's
nearest fitted peak (by centre) and their centres lie within the larger FWHM. The record
then says how the band differs — shifted (centre), broadened (FWHM ratio), stronger
(height ratio) — or that it is a band the reference lacks (no partner), and
``difference`` is the band minus its partner: the class feature as a difference
spectrum.

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

    Returns
    -------
    list of list of dict or None
    """
    xs = x.detach().cpu().numpy().astype(np.float64)
    jobs = []  # (signal, region, peak, fit)
    for i, rs in enumerate(regions):
        for k, r in enumerate(rs):
            try:
                fit = fit_peaks(xs[i], axis, x_range=r.x_range, margin=MARGIN, max_peaks=MAX_PEAKS)
            except ValueError:  # a range too short to fit
                continue
            jobs += [(i, k, p, fit) for p in fit.peaks]
    out: list[list[dict | None]] = [[None] * len(rs) for rs in regions]
    if not jobs:
        return out
    minus = torch.from_numpy(np.stack([xs[i] - p.curve(axis) for i, _, p, _ in jobs]))
    p_after = probabilities(
        model,
        minus.to(dtype=x.dtype, device=x.device),
        transform_config=transform_config,
        imaging_config=imaging_config,
        batch_size=batch_size,
    )
    p_after = p_after.detach().cpu().numpy()
    u = _units(units)
    chosen: dict[tuple[int, int], tuple] = {}
    for j, (i, k, peak, fit) in enumerate(jobs):
        after = float(p_after[j, int(target[i])])
        drop = float(p_before[i]) - after
        best = out[i][k]
        if best is not None and best["drop"] >= drop:
            continue
        curve = peak.curve(axis)
        comp = components[i, k]
        inside = slice(fit.start, fit.stop)
        corr = np.nan
        if np.ptp(curve[inside]) > 0 and np.ptp(comp[inside]) > 0:
            corr = float(np.corrcoef(curve[inside], comp[inside])[0, 1])
        out[i][k] = {
            **peak.to_dict(),
            "description": peak.describe(u),
            "p_after": after,
            "drop": drop,
            "component_correlation": corr,
            "n_fitted": fit.n_peaks,
            "fit_r_squared": float(fit.r2),
            "reference": None,
        }
        chosen[(i, k)] = (peak, fit)
    if reference is not None:
        _compare_all(
            out,
            chosen,
            xs,
            reference,
            regions,
            target,
            p_before,
            axis=axis,
            units=u,
            forward=lambda signals: (
                probabilities(
                    model,
                    torch.from_numpy(signals).to(dtype=x.dtype, device=x.device),
                    transform_config=transform_config,
                    imaging_config=imaging_config,
                    batch_size=batch_size,
                )
                .detach()
                .cpu()
                .numpy()
            ),
        )
    return out


#: The band's properties that can be put back to the reference's, one at a time.
CHANGES = ("position", "width", "height")


def _restored(peak: Peak, partner: Peak, change: str) -> Peak:
    """Return the band with one property put back to its partner's (width: same area)."""
    if change == "position":
        return Peak(partner.centre, peak.fwhm, peak.height, peak.eta)
    if change == "width":
        return Peak(peak.centre, partner.fwhm, peak.height * peak.fwhm / partner.fwhm, peak.eta)
    return Peak(peak.centre, peak.fwhm, partner.height, peak.eta)


def _compare_all(out, chosen, xs, reference, regions, target, p_before, *, axis, units, forward):
    """Pair each chosen band with the same band of its reference and test each change.

    For a paired band, the signal is re-run three times, each with one property of the
    band (position, width at constant area, height) put back to the partner's; the
    change whose restoration lowers the explained class's probability most is the
    band's ``change``, and ``difference`` (the band minus the restored band) is the
    class feature as a difference spectrum. An unpaired band is a band the reference
    lacks: its change is ``'new band'`` and its difference the band itself.
    """
    jobs = []  # (signal, region, change, restored peak)
    for (i, k), (peak, fit) in chosen.items():
        record, partner = _compare(peak, fit, reference[i], axis, regions[i][k].x_range, units)
        out[i][k]["reference"] = record
        if partner is None:
            record["change"] = {
                "kind": "new band",
                "restored": None,
                "p_after": out[i][k]["p_after"],
                "drop": out[i][k]["drop"],
                "description": "a band the reference lacks",
            }
            continue
        jobs += [(i, k, c, _restored(peak, partner, c)) for c in CHANGES]
    if not jobs:
        return
    signals = np.stack(
        [
            xs[i] - chosen[(i, k)][0].curve(axis) + restored.curve(axis)
            for i, k, _, restored in jobs
        ]
    )
    p_after = forward(signals)
    for j, (i, k, change, restored) in enumerate(jobs):
        after = float(p_after[j, int(target[i])])
        drop = float(p_before[i]) - after
        record = out[i][k]["reference"]
        best = record.get("change")
        if best is not None and best["drop"] >= drop:
            continue
        record["change"] = {
            "kind": change,
            "restored": restored.to_dict(),
            "p_after": after,
            "drop": drop,
            "description": _change_text(change, chosen[(i, k)][0], record, drop, units),
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


def _compare(
    peak, fit, ref: np.ndarray, axis: np.ndarray, x_range, units: str
) -> tuple[dict, Peak | None]:
    """Compare the band with the same band of the reference signal (or its absence)."""
    try:
        ref_fit = fit_peaks(ref, axis, x_range=x_range, margin=MARGIN, max_peaks=MAX_PEAKS)
    except ValueError:
        ref_fit = None
    partner = None
    if ref_fit is not None and ref_fit.peaks:
        j = _nearest(ref_fit.peaks, peak.centre)
        cand = ref_fit.peaks[j]
        mutual = fit.peaks[_nearest(fit.peaks, cand.centre)] is peak
        if mutual and abs(cand.centre - peak.centre) <= max(cand.fwhm, peak.fwhm):
            partner = cand
    u = f" {units}" if units else ""
    if partner is None:
        return {
            "peak": None,
            "new_band": True,
            "shift": None,
            "fwhm_ratio": None,
            "height_ratio": None,
            "description": "a band the reference lacks",
        }, None
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
