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

Layout: ``_records`` (the result records and ``batch_index``), ``_advice`` (leakage
and wavelet advice), ``_detect`` (the detection), ``_regions`` (flagging attribution
regions).

May import: numpy, scipy (lazily), torch, ``_grid``, ``_kernels``, ``_validation``,
``_wavelets``, ``transform``, ``mask`` (lazily, for region records); never ``plot`` or
matplotlib.
"""

from __future__ import annotations

from ._advice import advise_wavelet, wavelet_leakage
from ._detect import detect_interference
from ._records import Interference, InterferenceFinding, WaveletAdvice
from ._regions import flag_regions

__all__ = [
    "InterferenceFinding",
    "Interference",
    "WaveletAdvice",
    "detect_interference",
    "flag_regions",
    "advise_wavelet",
    "wavelet_leakage",
]
