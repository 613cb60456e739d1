"""Result records of the interference analysis and the batch-index check they share.

:class:`InterferenceFinding` (one wiggling band), :class:`Interference` (the result of
``detect_interference``) and :class:`WaveletAdvice` (the result of ``advise_wavelet``)
are frozen dataclasses; :func:`batch_index` checks an index into their batch shape.

Internal to :mod:`saliency2signal.artefacts` (which re-exports the records); ``plot``
uses :func:`batch_index`. May import: numpy, ``_validation``, ``transform``; never
``mask``, ``plot`` or matplotlib.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np

from ..transform import SSQConfig

__all__ = ["Interference", "InterferenceFinding", "WaveletAdvice", "batch_index"]


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
        d = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(self).items()
        }
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
        index = batch_index(index, self.batch_shape)
        return tuple(f for f in self.findings if f.index == index)

    def to_dict(self) -> dict:
        """JSON-compatible summary: shape, parameters, config and findings (no arrays)."""
        return {
            "shape": list(self.mask.shape),
            "params": dict(self.params),
            "config": self.config.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


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


def batch_index(index, batch_shape: tuple) -> tuple[int, ...]:
    """Return ``index`` (an int or a tuple of ints) as a tuple indexing ``batch_shape``.

    A wrong type is a ``TypeError``; a wrong length or an entry out of range a
    ``ValueError``.
    """
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
