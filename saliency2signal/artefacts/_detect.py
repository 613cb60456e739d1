"""Detection of reassignment interference: :func:`detect_interference`.

The rule is stated in the docstring of :mod:`saliency2signal.artefacts`: per CWT row,
the reassigned frequency is expressed in synchrosqueezed rows, its energy-weighted,
windowed displacement is Fourier-analysed, and contiguous bands of energetic rows whose
mean wiggle reaches ``min_wiggle`` become findings, labelled on the synchrosqueezed grid.

Internal to :mod:`saliency2signal.artefacts` (which re-exports the public function).
May import: numpy, torch, ``_grid``, ``_kernels``, ``_validation``, ``transform`` (and
its ``_plan``), ``artefacts._records``, ``artefacts._advice``; never ``mask``, ``plot``
or matplotlib.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import torch

from .._grid import geometric_edges
from .._kernels import bins, phase_transform
from .._validation import check_instance, check_positive, check_real, readonly
from ..transform import CWTResult, SSQConfig, cwt
from ..transform._plan import design
from ._advice import time_spread
from ._records import Interference, InterferenceFinding

__all__ = ["detect_interference"]


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
    params = {
        "min_energy": check_real(min_energy, "min_energy", low=0.0, high=1.0, low_open=True),
        "min_wiggle": check_positive(min_wiggle, "min_wiggle"),
        "margin": check_positive(margin, "margin", allow_zero=True),
    }
    config, res = _cwt_with_derivative(x, config)
    wx, dwx = res.Wx.detach(), res.dWx.detach()
    batch_shape, (n_rows, n) = tuple(wx.shape[:-2]), tuple(wx.shape[-2:])
    skip = int(config.lowpass_row)
    plan = design(dataclasses.replace(config, lowpass_row=False), n)
    ssq_freqs = plan.grid.freqs
    scales = plan.scales[::-1]  # our row order
    spread = time_spread(config.wavelet_spec)
    margins = np.minimum(np.ceil(params["margin"] * spread * scales), n // 4).astype(int)
    if n - 2 * int(margins.min()) < 16:
        raise ValueError(f"n_times={n} is too short to analyse a wiggle")
    w_np, e_np, bins_np = _phase_planes(
        wx.reshape(-1, n_rows, n)[:, skip:], dwx.reshape(-1, n_rows, n)[:, skip:], plan.grid
    )

    win = _row_windows(margins, n)
    B = w_np.shape[0]
    shape = (B, n_rows, n)
    labels = np.zeros(shape, dtype=np.int64)
    inst = np.zeros(shape)
    energy = np.zeros(shape)
    row_stats = np.full((3, B, n_rows), np.nan)
    findings: list[InterferenceFinding] = []
    batch_index = list(np.ndindex(*batch_shape)) if batch_shape else [()]
    edges = geometric_edges(ssq_freqs)
    for b in range(B):
        one = _analyse(_Signal(w_np[b], e_np[b], bins_np[b], win), ssq_freqs, params, config.fs)
        inst[b, skip:] = w_np[b]
        energy[b, skip:] = e_np[b] / one.e_ref
        row_stats[:, b, skip:] = one.rows
        for band in one.bands:
            label = len(findings) + 1
            labels[b, skip:][band.labels] = label
            findings.append(
                _finding(band, tuple(int(i) for i in batch_index[b]), label, edges, skip)
            )

    def out(a, tail):
        return readonly(a.reshape(*batch_shape, *tail))

    return Interference(
        mask=out(labels > 0, (n_rows, n)),
        labels=out(labels, (n_rows, n)),
        findings=tuple(findings),
        inst_freq=out(inst, (n_rows, n)),
        energy=out(energy, (n_rows, n)),
        row_wiggle=out(row_stats[0], (n_rows,)),
        row_period=out(row_stats[1], (n_rows,)),
        row_energy=out(row_stats[2], (n_rows,)),
        cwt_freqs=readonly(np.array(res.freqs, dtype=np.float64)),
        freqs=readonly(np.array(config.freqs(n), dtype=np.float64)),
        config=config,
        params=params,
    )


def _cwt_with_derivative(x, config) -> tuple[SSQConfig, CWTResult]:
    """Return the configuration and a CWT with ``dWx`` (``x`` itself, or computed)."""
    if isinstance(x, CWTResult):
        if config is not None and config != x.config:
            raise ValueError("config differs from the CWTResult's config; pass one of them")
        if x.dWx is None:
            raise ValueError("the CWTResult has no dWx; compute it with cwt(x, derivative=True)")
        return x.config, x
    config = check_instance(config or SSQConfig(), SSQConfig, "config")
    return config, cwt(x, config, derivative=True)


def _phase_planes(wx: torch.Tensor, dwx: torch.Tensor, grid):
    """Return the phase transform, energy ``|Wx|**2`` and SSQ row of every cell (NumPy).

    ``wx``, ``dwx``: (B, F, n) wavelet rows (no low-pass row); ``w`` is 0 where ``Wx``
    vanishes.
    """
    w_all = phase_transform(wx, dwx)
    e_all = wx.real.double() ** 2 + wx.imag.double() ** 2
    w_all = torch.where(e_all > 0, w_all, w_all.new_zeros(()))
    rows_to = bins(w_all.cpu(), grid, len(grid.freqs)).numpy()
    return w_all.cpu().numpy(), e_all.cpu().numpy(), rows_to


def _finding(
    band: _Band, index: tuple[int, ...], label: int, edges: np.ndarray, skip: int
) -> InterferenceFinding:
    """Return the public record of a band, rows shifted by ``skip`` (the low-pass row)."""
    lo, hi = band.ssq_rows
    return InterferenceFinding(
        index=index,
        label=label,
        band=(float(edges[lo]), float(edges[hi + 1])),
        ssq_rows=(lo + skip, hi + skip),
        cwt_rows=(band.cwt_rows[0] + skip, band.cwt_rows[1] + skip),
        **{k: v for k, v in band._asdict().items() if k not in ("labels", "ssq_rows", "cwt_rows")},
    )


def _row_windows(margins: np.ndarray, n: int) -> np.ndarray:
    """Hann window over each row's interior ``[m, n - m)``, zero outside: (F, n)."""
    win = np.zeros((len(margins), n))
    for i, m in enumerate(margins):
        length = n - 2 * int(m)
        if length >= 16:
            win[i, m : n - m] = np.hanning(length + 2)[1:-1]
    return win


class _Signal(NamedTuple):
    """One signal's wavelet rows, all (F, n): phase transform, energy, SSQ row, window."""

    w: np.ndarray
    e: np.ndarray
    rows_to: np.ndarray
    win: np.ndarray


class _Band(NamedTuple):
    """A wiggling band of one signal (rows without the low-pass row)."""

    labels: np.ndarray  # (F, n) bool: the SSQ cells it lands on
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


class _Analysis(NamedTuple):
    """Bands (strongest first), per-row statistics (3, F) and the reference energy."""

    bands: list[_Band]
    rows: np.ndarray  # wiggle (SSQ rows), period (samples), energy relative to e_ref
    e_ref: float


def _analyse(sig: _Signal, ssq_freqs, params, fs) -> _Analysis:
    """Per-signal core on the wavelet rows."""
    F = sig.w.shape[0]
    wsum = sig.win.sum(1)
    ok = wsum > 0
    e_row = np.where(ok, (sig.win * sig.e).sum(1) / np.where(ok, wsum, 1.0), 0.0)
    e_ref = float(e_row.max())
    stats = np.full((3, F), np.nan)
    if not e_ref > 0:  # zeros in, nothing out
        stats[2] = 0.0
        return _Analysis([], stats, 1.0)
    rel = e_row / e_ref
    stats[2] = rel
    active = ok & (rel >= params["min_energy"])
    nu, spec = _row_spectra(sig, ssq_freqs, np.nonzero(active)[0], stats)
    bands = []
    for run in _runs(active):
        band = _band(sig, run, rel, stats[0], nu, spec, e_ref, params, fs)
        if band is not None:
            bands.append(band)
    bands.sort(key=lambda f: -f.strength)
    return _Analysis(bands, stats, e_ref)


def _row_spectra(sig: _Signal, ssq_freqs, idx: np.ndarray, stats: np.ndarray):
    """Displacement spectra of rows ``idx``; fills their wiggle and period in ``stats``.

    Returns ``(nu, spec)``: frequencies (cycles per sample) and the amplitude spectrum
    of each row's windowed displacement (zero for the other rows).
    """
    F, n = sig.w.shape
    win = sig.win
    wsum = win.sum(1)
    # displacement in synchrosqueezed rows, energy-weighted, windowed
    u = np.interp(sig.w, ssq_freqs, np.arange(len(ssq_freqs), dtype=np.float64))
    n_fft = 4 * (1 << int(math.ceil(math.log2(n))))
    nu = np.fft.rfftfreq(n_fft)
    spec = np.zeros((F, nu.size))
    if not idx.size:
        return nu, spec
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
    return nu, spec


def _band(sig: _Signal, run, rel, wiggle, nu, spec, e_ref, params, fs) -> _Band | None:
    """Return the band of one run of energetic rows, or None if it does not wiggle."""
    min_energy, min_wiggle = params["min_energy"], params["min_wiggle"]
    F, n = sig.w.shape
    win, e = sig.win, sig.e
    ew = rel[run]
    strength = float(np.sum(ew * wiggle[run]) / np.sum(ew))
    if strength < min_wiggle:
        return None
    wig = run[wiggle[run] >= min_wiggle]
    length = int((win[wig] > 0).sum(1).min())
    pooled = (rel[wig, None] * spec[wig]).sum(0)
    pooled[nu < 2.5 / length] = 0.0
    k = int(np.argmax(pooled))
    if not pooled[k] > 0:  # nothing periodic left above the lowest resolvable bin
        return None
    period = 1.0 / _refine(nu, pooled, k)
    wr = win[run] * e[run]
    f_mean = float((wr * sig.w[run]).sum() / wr.sum())
    delta_f = fs / period
    # cells of the wiggling rows with enough energy, where they land on the SSQ grid
    cells = (win[wig] > 0) & (e[wig] >= min_energy * e_ref)
    lab = np.zeros((F, n), dtype=bool)
    cols = np.nonzero(cells.any(0))[0]
    if cols.size == 0:
        return None
    hi = np.where(cells, sig.rows_to[wig], -1).max(0)
    lo = np.where(cells, sig.rows_to[wig], F).min(0)
    for c in cols:
        lab[lo[c] : hi[c] + 1, c] = True
    return _Band(
        labels=lab,
        ssq_rows=(int(lo[cols].min()), int(hi[cols].max())),
        cols=(int(cols[0]), int(cols[-1])),
        cwt_rows=(int(run[0]), int(run[-1])),
        period_samples=float(period),
        period=float(period / fs),
        delta_f=float(delta_f),
        f_mean=f_mean,
        f1=f_mean - delta_f / 2,
        f2=f_mean + delta_f / 2,
        strength=strength,
    )


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
