"""Reassignment interference: patterns the synchrosqueezed transform adds to a signal.

When two components are close relative to the wavelet's bandwidth, one wavelet row sees
both, its phase transform (the reassigned frequency)
``w = |Im(conj(Wx) dWx)| / (2 pi |Wx|**2)`` oscillates at their beat frequency, and the
synchrosqueezed band *wiggles* with period ``1 / |f2 - f1|``. The wiggle is not in the
signal, but a CNN can learn it and a saliency map can highlight it. This module

* detects such bands and measures the beat (:func:`detect_interference`),
* tells which attribution regions sit on one (:func:`flag_regions`), and
* recommends wavelet parameters that resolve a given spacing (:func:`advise_wavelet`).

Detection rule
--------------
For each CWT row ``i`` (a scale) the reassigned frequency of every cell is expressed in
*synchrosqueezed rows* (``u = `` fractional index of ``w`` on the SSQ grid), so a wiggle
is measured in the units in which it shows in the image. Over the interior of the row
(``margin`` wavelet time-spreads away from each edge, Hann-windowed), the displacement
``d(t) = |Wx(t)|**2 / mean|Wx|**2 * (u(t) - mean u)`` is Fourier-analysed (weighting by
energy suppresses the harmless spikes of ``w`` where the two components cancel). Its
strongest oscillation gives the row's peak-to-peak *wiggle* (SSQ rows) and period.
Rows whose mean energy is at least ``min_energy`` of the strongest row form contiguous
*bands*; a band is a finding when its energy-weighted mean wiggle reaches
``min_wiggle`` rows. The period is the peak of the band's pooled (energy-weighted)
displacement spectrum, refined by parabolic interpolation; ``delta_f = fs / period``,
and ``f1, f2 = f_mean -/+ delta_f / 2`` with ``f_mean`` the energy-weighted mean
reassigned frequency of the band (the power-weighted mean frequency of what it holds).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._kernels import _phase_transform, bins
from ._validation import as_tensor, check_positive
from ._wavelets import WaveletSpec
from .transform import CWTResult, SSQConfig, _design, cwt

__all__ = [
    "InterferenceFinding",
    "Interference",
    "WaveletAdvice",
    "detect_interference",
    "flag_regions",
    "advise_wavelet",
    "wavelet_leakage",
]


# =========================================================================== records
@dataclass(frozen=True)
class InterferenceFinding:
    """One band whose synchrosqueezed image wiggles because two components interfere.

    Attributes
    ----------
    index : tuple of int
        Batch index of the signal (``()`` for a single signal).
    label : int
        Value of this finding in :attr:`Interference.labels` (1-based, global).
    band : (float, float)
        Frequency range ``(f_lo, f_hi)`` of the flagged synchrosqueezed cells (outer row
        edges), in the units of ``config.fs``.
    ssq_rows, cols : (int, int)
        First and last synchrosqueezed row / column of the flagged cells (inclusive).
    cwt_rows : (int, int)
        First and last CWT row of the band that was analysed.
    period_samples, period : float
        Period of the wiggle in samples and in time units (``period_samples / fs``).
    delta_f : float
        Implied component spacing ``1 / period`` (units of ``fs``).
    f_mean, f1, f2 : float
        Energy-weighted mean reassigned frequency of the band and the implied
        components ``f_mean -/+ delta_f / 2``.
    strength : float
        Energy-weighted mean peak-to-peak wiggle of the band, in synchrosqueezed rows.
    """

    index: tuple[int, ...]
    label: int
    band: tuple[float, float]
    ssq_rows: tuple[int, int]
    cols: tuple[int, int]
    cwt_rows: tuple[int, int]
    period_samples: float
    period: float
    delta_f: float
    f_mean: float
    f1: float
    f2: float
    strength: float

    def describe(self) -> str:
        """One sentence stating what the finding means."""
        return (
            f"reassignment interference between components at ~{self.f1:.4g} and "
            f"~{self.f2:.4g}: the synchrosqueezed band {self.band[0]:.4g}-{self.band[1]:.4g} "
            f"wiggles with period ~{self.period:.4g} (= 1/|f2 - f1|, strength "
            f"{self.strength:.3g} rows peak-to-peak), a pattern made by the transform, "
            "not present in the signal"
        )

    def to_dict(self) -> dict:
        """JSON-compatible dictionary (tuples become lists) with the sentence."""
        d = {k: (list(v) if isinstance(v, tuple) else v)
             for k, v in dataclasses.asdict(self).items()}
        d["description"] = self.describe()
        return d


@dataclass(frozen=True, eq=False)
class Interference:
    """Result of :func:`detect_interference`.

    Attributes
    ----------
    mask : numpy.ndarray of bool, shape (..., n_freqs, n_times)
        Synchrosqueezed cells where a flagged band lands (read-only): per column, the
        rows between the lowest and highest cell that receives energy from a wiggling
        CWT row of a finding.
    labels : numpy.ndarray of int, shape (..., n_freqs, n_times)
        0 outside the mask, else the :attr:`InterferenceFinding.label` of the finding.
    findings : tuple of InterferenceFinding
        All findings of the batch, strongest first within each signal (each carries its
        batch ``index``).
    inst_freq : numpy.ndarray of float64, shape (..., n_freqs, n_times)
        Phase transform ``w`` on the CWT rows (0 where ``Wx`` vanishes and on the
        low-pass row).
    energy : numpy.ndarray of float64, shape (..., n_freqs, n_times)
        ``|Wx|**2`` relative to the mean energy of the strongest row of each signal.
    row_wiggle, row_period : numpy.ndarray of float64, shape (..., n_freqs)
        Peak-to-peak wiggle (SSQ rows) and its period (samples) of each CWT row (``nan``
        for rows too short to analyse and for the low-pass row).
    row_energy : numpy.ndarray of float64, shape (..., n_freqs)
        Windowed mean energy of each CWT row relative to the strongest.
    cwt_freqs, freqs : numpy.ndarray, shape (n_freqs,)
        Centre frequencies of the CWT rows and frequencies of the SSQ rows (ascending).
    config : SSQConfig
    params : dict
        The detection parameters used.
    """

    mask: np.ndarray
    labels: np.ndarray
    findings: tuple
    inst_freq: np.ndarray
    energy: np.ndarray
    row_wiggle: np.ndarray
    row_period: np.ndarray
    row_energy: np.ndarray
    cwt_freqs: np.ndarray
    freqs: np.ndarray
    config: SSQConfig
    params: dict

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading (batch) dimensions."""
        return tuple(self.mask.shape[:-2])

    def findings_at(self, index=()) -> tuple:
        """Return the findings of the signal at batch ``index``."""
        index = _as_index(index, self.batch_shape)
        return tuple(f for f in self.findings if f.index == index)

    def to_dict(self) -> dict:
        """JSON-compatible summary: shape, parameters, config and findings (no arrays)."""
        return {
            "shape": list(self.mask.shape),
            "params": dict(self.params),
            "config": self.config.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _as_index(index, batch_shape: tuple) -> tuple[int, ...]:
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        index = (int(index),)
    if not isinstance(index, tuple) or not all(
        isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in index
    ):
        raise TypeError(f"index={index!r} must be a tuple of integers")
    if len(index) != len(batch_shape) or any(
        not 0 <= i < s for i, s in zip(index, batch_shape, strict=True)
    ):
        raise ValueError(f"index={index!r} is not a valid index into batch shape {batch_shape}")
    return tuple(int(i) for i in index)


# =========================================================================== wavelet
@functools.lru_cache(maxsize=32)
def _time_spread(spec: WaveletSpec) -> float:
    """Time-domain standard deviation of the wavelet at scale 1 (samples).

    ``sigma_t**2 = int |psi_hat'(w)|**2 dw / int |psi_hat(w)|**2 dw`` (Parseval), on a
    dense grid covering the wavelet's support.
    """
    wc = _center(spec)
    w = np.linspace(0.0, 2.0 * wc + 40.0, 400_001)
    p = spec.psih(w)
    dp = np.gradient(p, w)
    return float(math.sqrt(np.sum(dp**2) / np.sum(p**2)))


def wavelet_leakage(spacing: float, config: SSQConfig | None = None) -> float:
    """Relative response of a wavelet row to a neighbouring tone.

    For two tones at ``f`` and ``f * (1 + spacing)``, the larger of
    ``|psi_hat(s w2)| / |psi_hat(s w1)|`` (the row peaking on tone 1, seeing tone 2)
    and the same with the tones swapped. Below ~1e-2 the tones are resolved.

    Parameters
    ----------
    spacing : float
        Relative spacing ``(f2 - f1) / f1 > 0``.
    config : SSQConfig, optional
        The wavelet (default ``SSQConfig()``).

    Returns
    -------
    float

    Examples
    --------
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.artefacts import wavelet_leakage
    >>> round(wavelet_leakage(0.05), 3)  # GMW(3, 60), tones 5 % apart: unresolved
    0.815
    >>> wavelet_leakage(1.0, SSQConfig(wavelet="morlet", mu=13.4)) < 1e-9  # an octave
    True
    """
    config = config or SSQConfig()
    if not isinstance(config, SSQConfig):
        raise TypeError(f"config must be an SSQConfig, got {type(config).__name__}")
    spacing = check_positive(spacing, "spacing")
    return _leakage(config.wavelet_spec, 1.0 + spacing)


@functools.lru_cache(maxsize=256)
def _center(spec: WaveletSpec) -> float:
    """Peak radian frequency at scale 1 (Morlet: searched within 1 rad of ``mu``)."""
    if spec.name == "gmw":
        return spec.center
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda w: -float(spec.psih(np.array([w]))[0]),
                          bounds=(spec.mu - 1.0, spec.mu + 1.0), method="bounded",
                          options={"xatol": 1e-12})
    return float(res.x)


def _leakage(spec: WaveletSpec, x: float) -> float:
    wc = _center(spec)
    peak = abs(float(spec.psih(np.array([wc]))[0]))
    if not peak > 0:
        raise ValueError(f"wavelet {spec} has no response at its centre frequency")
    up = abs(float(spec.psih(np.array([wc * x]))[0]))
    down = abs(float(spec.psih(np.array([wc / x]))[0]))
    return max(up, down) / peak


# =========================================================================== detection
def detect_interference(
    x,
    config: SSQConfig | None = None,
    *,
    min_energy: float = 0.05,
    min_wiggle: float = 1.0,
    margin: float = 3.0,
) -> Interference:
    """Find synchrosqueezed bands that wiggle because close components interfere.

    Parameters
    ----------
    x : array_like, shape (..., n_times), or CWTResult
        Real signal(s), or a :func:`~saliency2signal.cwt` result computed with
        ``derivative=True`` (its config is used).
    config : SSQConfig, optional
        Transform parameters (default ``SSQConfig()``); must match ``x.config`` when
        ``x`` is a CWTResult.
    min_energy : float
        Rows (and cells) whose mean ``|Wx|**2`` is below this fraction of the strongest
        row are ignored; contiguous rows above it form a band. In ``(0, 1]``.
    min_wiggle : float
        Smallest energy-weighted peak-to-peak wiggle of a band, in synchrosqueezed rows,
        that makes a finding (1 row: the band visibly moves between rows).
    margin : float
        Columns within ``margin`` time-spreads of the row's wavelet from either edge are
        not analysed (boundary effects).

    Returns
    -------
    Interference
        Mask and labels on the synchrosqueezed grid, findings and per-row statistics.

    Raises
    ------
    TypeError
        For a non-SSQConfig ``config`` or a bad signal type.
    ValueError
        For out-of-range parameters, a CWTResult without ``dWx`` or with another
        config, or a signal too short to analyse.

    Notes
    -----
    See the module docstring for the rule. Within one row, two components with
    amplitudes ``A1 > A2`` (as seen by that row) give
    ``w(t) = f1 + (f2 - f1) r (r + cos(2 pi (f2 - f1) t)) / (1 + r**2 + 2 r cos(...))``
    with ``r = A2 / A1``: the mean is ``f1``, the oscillation has period
    ``1 / |f2 - f1|`` and an amplitude of about ``r |f2 - f1|``.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.artefacts import detect_interference
    >>> t = np.arange(2048)
    >>> x = np.cos(2 * np.pi * 0.1 * t) + np.cos(2 * np.pi * 0.11 * t)
    >>> res = detect_interference(x)
    >>> f = res.findings[0]
    >>> round(f.period_samples), round(f.f1, 3), round(f.f2, 3)
    (100, 0.1, 0.11)
    >>> res.mask.shape == res.energy.shape
    True
    >>> detect_interference(np.cos(2 * np.pi * 0.1 * t)).findings
    ()
    """
    min_energy = check_positive(min_energy, "min_energy")
    if min_energy > 1:
        raise ValueError(f"{min_energy=} must be in (0, 1]")
    min_wiggle = check_positive(min_wiggle, "min_wiggle")
    margin = check_positive(margin, "margin", allow_zero=True)
    if isinstance(x, CWTResult):
        if config is not None and config != x.config:
            raise ValueError("config differs from the CWTResult's config; pass one of them")
        if x.dWx is None:
            raise ValueError("the CWTResult has no dWx; compute it with cwt(x, derivative=True)")
        config, res = x.config, x
    else:
        config = config or SSQConfig()
        if not isinstance(config, SSQConfig):
            raise TypeError(f"config must be an SSQConfig, got {type(config).__name__}")
        res = cwt(x, config, derivative=True)
    wx, dwx = res.Wx.detach(), res.dWx.detach()
    batch_shape, (n_rows, n) = tuple(wx.shape[:-2]), tuple(wx.shape[-2:])
    skip = int(config.lowpass_row)
    plain = dataclasses.replace(config, lowpass_row=False)
    design = _design(plain, n)
    ssq_freqs = design.grid.freqs
    scales = design.scales[::-1]  # our row order
    spread = _time_spread(config.wavelet_spec)
    margins = np.minimum(np.ceil(margin * spread * scales), n // 4).astype(int)
    if n - 2 * int(margins.min()) < 16:
        raise ValueError(f"n_times={n} is too short to analyse a wiggle")

    wx2 = wx.reshape(-1, n_rows, n)[:, skip:]
    dwx2 = dwx.reshape(-1, n_rows, n)[:, skip:]
    w_all = _phase_transform(wx2, dwx2)
    e_all = (wx2.real.double() ** 2 + wx2.imag.double() ** 2)
    w_all = torch.where(e_all > 0, w_all, w_all.new_zeros(()))
    w_np, e_np = w_all.cpu().numpy(), e_all.cpu().numpy()
    bins_np = bins(w_all.cpu(), design.grid, len(ssq_freqs)).numpy()

    params = {"min_energy": min_energy, "min_wiggle": min_wiggle, "margin": margin}
    win = _row_windows(margins, n)
    B = w_np.shape[0]
    shape = (B, n_rows, n)
    labels = np.zeros(shape, dtype=np.int64)
    inst = np.zeros(shape)
    energy = np.zeros(shape)
    row_stats = np.full((3, B, n_rows), np.nan)
    findings: list[InterferenceFinding] = []
    batch_index = list(np.ndindex(*batch_shape)) if batch_shape else [()]
    for b in range(B):
        one = _analyse(w_np[b], e_np[b], bins_np[b], win, ssq_freqs, params, config.fs)
        inst[b, skip:] = w_np[b]
        energy[b, skip:] = e_np[b] / one["e_ref"]
        row_stats[:, b, skip:] = one["rows"]
        for f in one["findings"]:
            label = len(findings) + 1
            lab = f.pop("labels")
            labels[b, skip:][lab] = label
            lo, hi = f["ssq_rows"]
            findings.append(InterferenceFinding(
                index=tuple(int(i) for i in batch_index[b]), label=label,
                band=(float(_edges(ssq_freqs)[lo]), float(_edges(ssq_freqs)[hi + 1])),
                ssq_rows=(lo + skip, hi + skip),
                cwt_rows=(f["cwt_rows"][0] + skip, f["cwt_rows"][1] + skip),
                **{k: v for k, v in f.items() if k not in ("ssq_rows", "cwt_rows")}))

    out = lambda a, tail: _readonly(a.reshape(*batch_shape, *tail))  # noqa: E731
    freqs = config.freqs(n)
    return Interference(
        mask=out(labels > 0, (n_rows, n)),
        labels=out(labels, (n_rows, n)),
        findings=tuple(findings),
        inst_freq=out(inst, (n_rows, n)),
        energy=out(energy, (n_rows, n)),
        row_wiggle=out(row_stats[0], (n_rows,)),
        row_period=out(row_stats[1], (n_rows,)),
        row_energy=out(row_stats[2], (n_rows,)),
        cwt_freqs=_readonly(np.asarray(res.freqs, dtype=np.float64).copy()),
        freqs=_readonly(np.asarray(freqs, dtype=np.float64).copy()),
        config=config,
        params=params,
    )


def _edges(f: np.ndarray) -> np.ndarray:
    mids = np.sqrt(f[1:] * f[:-1])
    return np.concatenate([[f[0] ** 2 / mids[0]], mids, [f[-1] ** 2 / mids[-1]]])


def _row_windows(margins: np.ndarray, n: int) -> np.ndarray:
    """Hann window over each row's interior ``[m, n - m)``, zero outside: (F, n)."""
    win = np.zeros((len(margins), n))
    for i, m in enumerate(margins):
        length = n - 2 * int(m)
        if length >= 16:
            win[i, m : n - m] = np.hanning(length + 2)[1:-1]
    return win


def _analyse(w, e, rows_to, win, ssq_freqs, params, fs) -> dict:
    """Per-signal core on the wavelet rows: w, e, rows_to, win all (F, n)."""
    F, n = w.shape
    min_energy, min_wiggle = params["min_energy"], params["min_wiggle"]
    wsum = win.sum(1)
    ok = wsum > 0
    e_row = np.where(ok, (win * e).sum(1) / np.where(ok, wsum, 1.0), 0.0)
    e_ref = float(e_row.max())
    stats = np.full((3, F), np.nan)
    if not e_ref > 0:  # zeros in, nothing out
        stats[2] = 0.0
        return {"findings": [], "rows": stats, "e_ref": 1.0}
    rel = e_row / e_ref
    stats[2] = rel
    # displacement in synchrosqueezed rows, energy-weighted, windowed
    u = np.interp(w, ssq_freqs, np.arange(len(ssq_freqs), dtype=np.float64))
    active = ok & (rel >= min_energy)
    idx = np.nonzero(active)[0]
    n_fft = 4 * (1 << int(math.ceil(math.log2(n))))
    nu = np.fft.rfftfreq(n_fft)
    spec = np.zeros((F, nu.size))
    if idx.size:
        wi = win[idx]
        u_bar = (wi * u[idx]).sum(1, keepdims=True) / wsum[idx, None]
        d = wi * (u[idx] - u_bar)
        # amplitude spectrum scaled so a sinusoid of amplitude a peaks at a
        spec[idx] = np.abs(np.fft.rfft(d, n_fft, axis=-1)) * (2.0 / wsum[idx, None])
        length = (win[idx] > 0).sum(1)
        for j, i in enumerate(idx):
            s = spec[i].copy()
            s[nu < 2.5 / length[j]] = 0.0
            k = int(np.argmax(s))
            if not s[k] > 0:  # window too short for an oscillation, or no displacement
                stats[0, i] = 0.0
                continue
            stats[0, i] = 2.0 * s[k]
            stats[1, i] = 1.0 / _refine(nu, s, k)
    findings = []
    for run in _runs(active):
        ew = rel[run]
        strength = float(np.sum(ew * stats[0, run]) / np.sum(ew))
        if strength < min_wiggle:
            continue
        wig = run[stats[0, run] >= min_wiggle]
        length = int((win[wig] > 0).sum(1).min())
        pooled = (rel[wig, None] * spec[wig]).sum(0)
        pooled[nu < 2.5 / length] = 0.0
        k = int(np.argmax(pooled))
        if not pooled[k] > 0:  # nothing periodic left above the lowest resolvable bin
            continue
        period = 1.0 / _refine(nu, pooled, k)
        wr = win[run] * e[run]
        f_mean = float((wr * w[run]).sum() / wr.sum())
        delta_f = fs / period
        # cells of the wiggling rows with enough energy, where they land on the SSQ grid
        cells = (win[wig] > 0) & (e[wig] >= min_energy * e_ref)
        lab = np.zeros((F, n), dtype=bool)
        cols = np.nonzero(cells.any(0))[0]
        if cols.size == 0:
            continue
        r = np.where(cells, rows_to[wig], -1)
        hi = r.max(0)
        lo = np.where(cells, rows_to[wig], F).min(0)
        for c in cols:
            lab[lo[c] : hi[c] + 1, c] = True
        findings.append({
            "labels": lab,
            "ssq_rows": (int(lo[cols].min()), int(hi[cols].max())),
            "cols": (int(cols[0]), int(cols[-1])),
            "cwt_rows": (int(run[0]), int(run[-1])),
            "period_samples": float(period),
            "period": float(period / fs),
            "delta_f": float(delta_f),
            "f_mean": f_mean,
            "f1": f_mean - delta_f / 2,
            "f2": f_mean + delta_f / 2,
            "strength": strength,
        })
    findings.sort(key=lambda f: -f["strength"])
    return {"findings": findings, "rows": stats, "e_ref": e_ref}


def _refine(nu: np.ndarray, s: np.ndarray, k: int) -> float:
    """Parabolic interpolation of a spectral peak at bin ``k``; returns the frequency."""
    if 0 < k < s.size - 1:
        a, b, c = s[k - 1], s[k], s[k + 1]
        den = a - 2 * b + c
        if den < 0:
            return float(nu[k] + 0.5 * (a - c) / den * (nu[1] - nu[0]))
    return float(nu[k])


def _runs(active: np.ndarray) -> list[np.ndarray]:
    """Contiguous runs of True as index arrays."""
    idx = np.nonzero(active)[0]
    if idx.size == 0:
        return []
    return np.split(idx, np.nonzero(np.diff(idx) > 1)[0] + 1)


# =========================================================================== advice
@dataclass(frozen=True)
class WaveletAdvice:
    """Result of :func:`advise_wavelet`.

    Attributes
    ----------
    spacing : float
        Relative spacing ``(f2 - f1) / f1`` that must be resolved.
    tol : float
        Largest accepted leakage (see :func:`wavelet_leakage`).
    mu : float
        Smallest Morlet ``mu`` (>= 3) whose leakage is at most ``tol``.
    gamma, beta : float
        GMW ``gamma`` (given) and the smallest ``beta`` whose leakage is at most ``tol``.
    morlet, gmw : SSQConfig
        The base configuration with each advised wavelet.
    morlet_leakage, gmw_leakage : float
        Leakage achieved by each.
    morlet_spread, gmw_spread : float or None
        Time-domain standard deviation of each advised wavelet at the row of frequency
        ``f`` (time units), the price paid for the resolution; ``None`` without ``f``.
    """

    spacing: float
    tol: float
    mu: float
    gamma: float
    beta: float
    morlet: SSQConfig
    gmw: SSQConfig
    morlet_leakage: float
    gmw_leakage: float
    morlet_spread: float | None = None
    gmw_spread: float | None = None

    @property
    def configs(self) -> tuple[SSQConfig, SSQConfig]:
        """``(morlet, gmw)``."""
        return (self.morlet, self.gmw)

    def to_dict(self) -> dict:
        """JSON-compatible dictionary (configs as dictionaries)."""
        d = dataclasses.asdict(self)
        d["morlet"], d["gmw"] = self.morlet.to_dict(), self.gmw.to_dict()
        return d


def advise_wavelet(
    spacing: float,
    *,
    f: float | None = None,
    tol: float = 1e-3,
    gamma: float = 3.0,
    config: SSQConfig | None = None,
) -> WaveletAdvice:
    """Wavelet parameters that resolve two components ``spacing`` apart.

    Two tones at ``f1 < f2`` are *resolved* when the wavelet row that peaks on either
    one responds to the other with at most ``tol`` of its peak:
    ``max(psi_hat(s1 w2) / psi_hat(s1 w1), psi_hat(s2 w1) / psi_hat(s2 w2)) <= tol``
    (:func:`wavelet_leakage`). This depends only on ``f2 / f1``; the smallest Morlet
    ``mu`` and GMW ``beta`` (for the given ``gamma``) meeting it are returned, since
    larger values only lengthen the wavelet in time.

    Parameters
    ----------
    spacing : float
        Component spacing: ``delta_f`` in the units of ``config.fs`` when ``f`` is
        given, else the ratio ``delta_f / f``.
    f : float, optional
        Frequency of the lower component (units of ``config.fs``), below Nyquist.
    tol : float
        Largest accepted leakage, in ``(0, 1)``. With the default ``1e-3`` the residual
        wiggle found by :func:`detect_interference` stays below ~0.2 synchrosqueezed
        rows (the transition to a visible 1-row wiggle is near ``1e-2``).
    gamma : float
        GMW ``gamma`` (3: Airy family, ssqueezepy's default).
    config : SSQConfig, optional
        Base configuration (``nv``, ``fs``, scales, ...) for the returned configs.

    Returns
    -------
    WaveletAdvice

    Raises
    ------
    TypeError
        For a non-SSQConfig ``config`` or non-numeric arguments.
    ValueError
        For non-positive ``spacing``/``f``, ``f`` at or above Nyquist, or ``tol``
        outside ``(0, 1)``.

    Notes
    -----
    For the GMW, ``psi_hat(x w_c) / psi_hat(w_c) = exp(beta (ln x + (1 - x**gamma) /
    gamma))`` with ``w_c = (beta / gamma)**(1 / gamma)``, so ``beta = ln(tol) /
    max(c(x), c(1/x))`` with ``c(x) = ln x + (1 - x**gamma) / gamma < 0`` and
    ``x = f2 / f1``. The Morlet (with its admissibility correction) is solved
    numerically (Brent's method) for ``mu``.

    Examples
    --------
    >>> from saliency2signal.artefacts import advise_wavelet
    >>> adv = advise_wavelet(0.01, f=0.1)
    >>> round(adv.mu, 1), round(adv.beta, 1)
    (40.9, 556.4)
    >>> adv.gmw.wavelet, adv.morlet.wavelet
    ('gmw', 'morlet')
    >>> bool(adv.gmw_leakage <= 1e-3 and adv.morlet_leakage <= 1e-3)
    True
    """
    config = config or SSQConfig()
    if not isinstance(config, SSQConfig):
        raise TypeError(f"config must be an SSQConfig, got {type(config).__name__}")
    spacing = check_positive(spacing, "spacing")
    tol = check_positive(tol, "tol")
    if not tol < 1:
        raise ValueError(f"{tol=} must be in (0, 1)")
    gamma = check_positive(gamma, "gamma")
    if f is not None:
        f = check_positive(f, "f")
        if f >= config.fs / 2:
            raise ValueError(f"{f=} must be below the Nyquist frequency {config.fs / 2}")
        ratio = spacing / f
    else:
        ratio = spacing
    x = 1.0 + ratio

    c = lambda v: math.log(v) + (1.0 - v**gamma) / gamma  # noqa: E731
    beta = math.log(tol) / max(c(x), c(1.0 / x)) * (1 + 1e-9)  # resolved side
    gmw_spec = WaveletSpec("gmw", gamma=gamma, beta=beta)

    def excess(mu: float) -> float:
        return math.log(_leakage(WaveletSpec("morlet", mu=mu), x)) - math.log(tol)

    mu = 3.0
    if excess(mu) > 0:
        hi = 6.0
        while excess(hi) > 0:
            hi *= 2.0
            if hi > 1e5:
                raise ValueError(f"no Morlet mu <= 1e5 resolves {spacing=} at {tol=}")
        from scipy.optimize import brentq

        root = brentq(excess, hi / 2 if hi > 6.0 else 3.0, hi, xtol=1e-12, rtol=1e-14)
        mu = float(root) * (1 + 1e-9)  # land on the resolved side of the root
    morlet_spec = WaveletSpec("morlet", mu=mu)
    spreads = [None, None]
    if f is not None:
        for k, spec in enumerate((morlet_spec, gmw_spec)):
            scale = _center(spec) / (2 * math.pi * f / config.fs)  # samples
            spreads[k] = _time_spread(spec) * scale / config.fs
    return WaveletAdvice(
        spacing=ratio,
        tol=tol,
        mu=mu,
        gamma=gamma,
        beta=beta,
        morlet=dataclasses.replace(config, wavelet="morlet", mu=mu),
        gmw=dataclasses.replace(config, wavelet="gmw", gamma=gamma, beta=beta),
        morlet_leakage=_leakage(morlet_spec, x),
        gmw_leakage=_leakage(gmw_spec, x),
        morlet_spread=spreads[0],
        gmw_spread=spreads[1],
    )


# =========================================================================== regions
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
    from .mask import AttributionMask, Region

    if not isinstance(artefacts, Interference):
        raise TypeError(
            f"artefacts must be an Interference (from detect_interference), got "
            f"{type(artefacts).__name__}"
        )
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, numbers.Real):
        raise TypeError(f"min_overlap={min_overlap!r} must be a number")
    if not 0 <= min_overlap < 1:
        raise ValueError(f"{min_overlap=} must be in [0, 1)")
    shape = artefacts.mask.shape
    grid = shape[-2:]
    items = []  # (batch index, label, boolean cells on the 2-D grid)
    if isinstance(regions_or_labels, AttributionMask):
        regions_or_labels = regions_or_labels.labels
    if isinstance(regions_or_labels, Region) or (
        isinstance(regions_or_labels, Sequence)
        and not isinstance(regions_or_labels, str)
        and len(regions_or_labels) > 0
        and all(isinstance(r, Region) for r in regions_or_labels)
    ):
        records = (
            [regions_or_labels] if isinstance(regions_or_labels, Region) else regions_or_labels
        )
        if index is None:
            if len(shape) > 2:
                raise ValueError(
                    f"artefacts are batched (shape {shape}); pass index= for Region records"
                )
            index = ()
        index = _as_index(index, tuple(shape[:-2]))
        for r in records:
            (r0, r1), (c0, c1) = r.rows, r.cols
            if not (0 <= r0 <= r1 < grid[0] and 0 <= c0 <= c1 < grid[1]):
                raise ValueError(
                    f"region {r.label} (rows={r.rows}, cols={r.cols}) lies outside the "
                    f"grid {grid}"
                )
            cells = np.zeros(grid, dtype=bool)
            cells[r0 : r1 + 1, c0 : c1 + 1] = True
            items.append((index, int(r.label), cells))
    else:
        if isinstance(regions_or_labels, (str, bytes, dict)) or regions_or_labels is None:
            raise TypeError(
                "regions_or_labels must be an AttributionMask, Region records or a label "
                f"image, got {type(regions_or_labels).__name__}"
            )
        if isinstance(regions_or_labels, Sequence) and len(regions_or_labels) == 0:
            return []
        t = as_tensor(regions_or_labels, name="labels")
        lab = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        if lab.dtype.kind not in "iub":
            raise TypeError(f"labels have dtype {lab.dtype}; expected integer region labels")
        if lab.shape != shape:
            raise ValueError(
                f"labels have shape {lab.shape}; expected the artefact grid {shape}"
            )
        lab = lab.astype(np.int64)
        for b in np.ndindex(*shape[:-2]):
            for k in np.unique(lab[b]):
                if k > 0:
                    items.append((tuple(int(i) for i in b), int(k), lab[b] == k))
    by_label = {f.label: f for f in artefacts.findings}
    out = []
    for b, label, cells in items:
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
            message = (
                f"region {label} does not coincide with detected reassignment interference"
            )
        out.append({
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
        })
    return out
