"""The transform's one configuration: :class:`SSQConfig` and the values derived from it.

A frozen, validated, JSON-serialisable dataclass holds every parameter of the CWT and
the synchrosqueezed CWT and answers the questions that depend on the signal length
only (scales, row frequencies, row edges, times, extent), through the cached design of
:mod:`._plan`.

Internal to :mod:`saliency2signal.transform` (which re-exports :class:`SSQConfig`).
May import: numpy, ``_serialize``, ``_validation``, ``_grid``, ``_wavelets``,
``_scales``, ``transform._plan``; never torch-heavy modules or another stage.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .._grid import geometric_edges
from .._scales import infer_scale_kind, padding
from .._serialize import JSONDataclass
from .._validation import DTYPES, check_bool, check_choice, check_int, check_positive
from .._wavelets import WaveletSpec
from ._plan import check_n, design, wavelet_center, wavelet_css

__all__ = ["SSQConfig"]

WAVELETS = ("gmw", "morlet")
SCALE_KINDS = ("log", "log-piecewise", "linear")
PRESETS = ("maximal", "minimal", "naive")
PADTYPES = ("reflect", "zero", "symmetric", "replicate", "wrap", None)
SQUEEZING = ("sum", "abs")
MAPRANGES = ("peak", "energy", "maximal")
#: Largest number of voices per octave.
MAX_NV = 512


def _check_scaletype(scales) -> str | tuple[float, ...]:
    """Return a scale-kind string (optionally with a preset) or an ascending scale tuple."""
    if isinstance(scales, str):
        kind, _, preset = scales.partition(":")
        if kind not in SCALE_KINDS or (preset and preset not in PRESETS):
            raise ValueError(
                f"scaletype={scales!r} must be one of {SCALE_KINDS}, optionally with "
                f"':{{{'|'.join(PRESETS)}}}', or an array of scales"
            )
        return scales
    try:
        arr = np.asarray(scales, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"scaletype={scales!r} must be a string or 1-D array") from None
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"scales array must be 1-D with >= 2 values, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(np.diff(arr) <= 0):
        shown = np.array2string(arr[:8], precision=4, separator=", ")
        raise ValueError(
            f"scaletype={shown}{'...' if arr.size > 8 else ''} must be finite, "
            "positive and strictly ascending"
        )
    infer_scale_kind(arr)
    return tuple(float(s) for s in arr)


def _check_maprange(mr, scaletype) -> str | tuple[float, float]:
    """Return ``maprange`` checked: a named range or ``(fmin, fmax)``, fit for the scales."""
    if isinstance(mr, (list, tuple)):
        if len(mr) != 2:
            raise ValueError(f"maprange={mr!r} must be (fmin, fmax)")
        lo, hi = (check_positive(v, "maprange") for v in mr)
        if not lo < hi:
            raise ValueError(f"maprange={mr!r} needs fmin < fmax")
        out = (lo, hi)
    elif mr not in MAPRANGES:
        raise ValueError(f"maprange={mr!r} must be one of {MAPRANGES} or (fmin, fmax)")
    else:
        out = mr
    if (
        (out == "maximal" or isinstance(out, tuple))
        and isinstance(scaletype, str)
        and scaletype.startswith("log-piecewise")
    ):
        raise ValueError(
            f"maprange={out!r} cannot build a log-piecewise frequency grid; "
            "use scaletype='log' or 'linear', or maprange='peak'"
        )
    return out


@dataclass(frozen=True)
class SSQConfig(JSONDataclass):
    """Every parameter of the CWT / SSQ-CWT, frozen, validated and JSON-serialisable.

    Parameters
    ----------
    wavelet : {'gmw', 'morlet'}
        Generalised Morse wavelet (``gamma``, ``beta``) or Morlet (``mu``).
    gamma, beta : float
        GMW parameters (ssqueezepy defaults 3 and 60).
    mu : float
        Morlet centre frequency (ssqueezepy default 13.4).
    nv : int
        Voices per octave.
    scales : str or tuple of float
        ``'log'``, ``'log-piecewise'`` or ``'linear'``, optionally with a preset
        ``':maximal'``, ``':minimal'`` or ``':naive'`` (ssqueezepy's rules; bare
        ``'log-piecewise'`` means maximal, bare ``'log'``/``'linear'`` minimal), or an
        explicit ascending tuple of scales.
    fs : float
        Sampling rate; frequencies are in cycles per unit of ``1/fs``.
    padtype : {'reflect', 'zero', 'symmetric', 'replicate', 'wrap', None}
        Padding to ``2**(1 + round(log2 n))`` samples before the FFT; ``None`` pads
        nothing.
    squeezing : {'sum', 'abs'}
        Summand of the reassignment: complex ``Wx`` (invertible) or ``|Wx|`` (a real,
        non-invertible image). The phase transform always comes from ``Wx`` itself.
    maprange : {'peak', 'energy', 'maximal'} or (fmin, fmax)
        Range of the synchrosqueezing frequencies (ssqueezepy's ``maprange``).
    dtype : {None, 'float32', 'float64'}
        ``None`` follows the input; otherwise inputs are cast to this dtype.
    threshold : float or None
        Cells with ``|Wx| <= threshold`` are not reassigned; ``None`` means
        ``10 * eps`` of the working dtype (ssqueezepy's ``gamma``). It is absolute, so
        it depends on the scale of the signal.
    lowpass_row : bool
        Prepend the low-pass complement (what the wavelet bank never sees: the mean and
        the slow baseline) as an extra row 0 at frequency 0, so that the plane is
        complete and ``issq_cwt`` of the whole plane is ``lowpass + sum of all rows``.

    Notes
    -----
    Derived quantities depend on the signal length ``n`` (scales are searched on the
    padded length), so they are methods: :meth:`scales`, :meth:`freqs`,
    :meth:`cwt_freqs`, :meth:`n_freqs`, :meth:`n_padded`, :meth:`times`,
    :meth:`extent`.

    Examples
    --------
    >>> from saliency2signal import SSQConfig
    >>> cfg = SSQConfig(nv=16)
    >>> cfg.n_freqs(1024), cfg.n_padded(1024)
    (118, 2048)
    >>> SSQConfig.from_json(cfg.to_json()) == cfg
    True
    """

    wavelet: str = "gmw"
    gamma: float = 3.0
    beta: float = 60.0
    mu: float = 13.4
    nv: int = 32
    scaletype: str | tuple[float, ...] = "log-piecewise"
    fs: float = 1.0
    padtype: str | None = "reflect"
    squeezing: str = "sum"
    maprange: str | tuple[float, float] = "peak"
    dtype: str | None = None
    threshold: float | None = None
    lowpass_row: bool = False

    _TUPLE_FIELDS = ("scaletype", "maprange")  # travel as JSON lists

    def __post_init__(self):  # noqa: D105 - validation
        set_ = functools.partial(object.__setattr__, self)
        check_choice(self.wavelet, WAVELETS, "wavelet")
        set_("gamma", check_positive(self.gamma, "gamma"))
        set_("beta", check_positive(self.beta, "beta"))
        set_("mu", check_positive(self.mu, "mu"))
        if self.wavelet == "morlet" and self.mu < 3:
            raise ValueError(f"mu={self.mu} must be >= 3 (smaller Morlets are not admissible)")
        # a float number of voices is a wrong value here (nv=1.5), not a wrong type
        nv = check_positive(self.nv, "nv", integer=True)
        set_("nv", check_int(nv, "nv", maximum=MAX_NV))
        set_("scaletype", _check_scaletype(self.scaletype))
        set_("fs", check_positive(self.fs, "fs"))
        if self.padtype == "none":
            set_("padtype", None)
        check_choice(self.padtype, PADTYPES, "padtype")
        check_choice(self.squeezing, SQUEEZING, "squeezing")
        set_("maprange", _check_maprange(self.maprange, self.scaletype))
        check_choice(self.dtype, (None, *DTYPES), "dtype")
        if self.threshold is not None:
            set_("threshold", check_positive(self.threshold, "threshold", allow_zero=True))
        set_("lowpass_row", check_bool(self.lowpass_row, "lowpass_row"))

    # ----------------------------------------------------------------- derived values
    @property
    def wavelet_spec(self) -> WaveletSpec:
        """The wavelet family and its parameters."""
        if self.wavelet == "gmw":
            return WaveletSpec("gmw", gamma=self.gamma, beta=self.beta)
        return WaveletSpec("morlet", mu=self.mu)

    def css(self) -> float:
        """Admissibility constant ``C`` of the one-integral inverse (float64)."""
        return wavelet_css(self.wavelet_spec)

    def n_padded(self, n: int) -> int:
        """FFT length used for a signal of ``n`` samples."""
        return padding(check_n(n), self.padtype)[0]

    def scales(self, n: int) -> np.ndarray:
        """Scale of each row (row 0 = largest scale = lowest frequency).

        With ``lowpass_row`` the first entry is ``inf``.
        """
        s = design(self, check_n(n)).scales[::-1]
        return np.concatenate([[np.inf], s]) if self.lowpass_row else s.copy()

    def freqs(self, n: int) -> np.ndarray:
        """Frequency of each synchrosqueezed row, ascending (0 for the low-pass row)."""
        f = design(self, check_n(n)).grid.freqs
        return np.concatenate([[0.0], f]) if self.lowpass_row else f.copy()

    def cwt_freqs(self, n: int) -> np.ndarray:
        """Centre (peak) frequency of each CWT row, ``w_peak / (2 pi scale) * fs``."""
        wc = wavelet_center(self.wavelet_spec)
        return wc / (2 * math.pi * self.scales(n)) * self.fs

    def n_freqs(self, n: int) -> int:
        """Return the number of rows of Tx/Wx for a signal of ``n`` samples."""
        return len(design(self, check_n(n)).scales) + int(self.lowpass_row)

    def times(self, n: int) -> np.ndarray:
        """Sample times ``arange(n) / fs``."""
        return np.arange(check_n(n)) / self.fs

    def freq_edges(self, n: int) -> np.ndarray:
        """Row boundaries (length ``n_freqs + 1``): geometric midpoints between rows."""
        return geometric_edges(self.freqs(n))

    def extent(self, n: int) -> tuple[float, float, float, float]:
        """``(left, right, bottom, top)`` for ``imshow(..., origin='lower')``.

        Time runs over sample edges; frequency over the outer row edges. Rows are
        geometrically spaced, so ``imshow`` with this extent shows a *linear* frequency
        axis only approximately; use ``pcolormesh(times, freq_edges)`` for exact axes.
        """
        dt = 1.0 / self.fs
        e = self.freq_edges(n)
        return (-0.5 * dt, (n - 0.5) * dt, float(e[0]), float(e[-1]))
