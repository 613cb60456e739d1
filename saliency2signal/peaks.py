"""A spectroscopic reading of a signal region: a few fitted peaks on a local baseline.

Explanations find regions of the time-frequency plane and recover the signal component of
each; a spectroscopist asks which band that is ("the shoulder at 1168 cm⁻¹, FWHM
14 cm⁻¹"). :func:`fit_peaks` fits a small sum of peaks (pseudo-Voigt, Gaussian or
Lorentzian) on a polynomial baseline over an x-range of a 1D signal and chooses how many
peaks the data support; :func:`match_peak` tells which fitted peak a component (a
signal-length array: a region's recovered component, an attribution profile) belongs to.
Everything is in the units of the x axis (wavenumbers, say, increasing or decreasing);
without an axis, in samples.

May import: numpy, scipy (``optimize``, ``signal``: inside the functions that use them,
so that importing the package stays light), ``._validation``; nothing else of the package.

Examples
--------
>>> import numpy as np
>>> from saliency2signal.peaks import fit_peaks, match_peak
>>> x = np.linspace(1300.0, 1000.0, 301)  # a decreasing axis, as FTIR often has
>>> band = np.exp(-4 * np.log(2) * ((x - 1150.0) / 20.0) ** 2)  # FWHM 20 cm⁻¹
>>> shoulder = 0.4 * np.exp(-4 * np.log(2) * ((x - 1168.0) / 12.0) ** 2)
>>> y = 0.1 + 1e-4 * (x - 1150.0) + band + shoulder
>>> fit = fit_peaks(y, x, x_range=(1100.0, 1220.0))
>>> [p.describe() for p in fit.peaks]
['peak at 1150 cm⁻¹ (FWHM 20 cm⁻¹, height 1.0)', 'peak at 1168 cm⁻¹ (FWHM 12 cm⁻¹, height 0.40)']
>>> m = match_peak(fit, shoulder, x)
>>> m.index, round(m.correlation, 3)
(1, 1.0)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ._validation import (
    check_axis,
    check_choice,
    check_instance,
    check_int,
    check_real,
    finite_or_none,
    readonly,
    to_numpy,
)

__all__ = ["Peak", "PeakFit", "PeakMatch", "fit_peaks", "match_peak"]

SHAPES = ("pseudo_voigt", "gaussian", "lorentzian")
BASELINES = ("none", "constant", "linear", "quadratic")
#: Fewest samples a fitted window may hold.
MIN_SAMPLES = 10
#: How much one more peak must lower the BIC to be kept ("very strong" evidence on the
#: scale of Kass & Raftery 1995).
BIC_MARGIN = 10.0

_FOUR_LN2 = 4.0 * math.log(2.0)
_GAUSS_AREA = math.sqrt(math.pi / _FOUR_LN2)  # area of a unit-height Gaussian of FWHM 1
_DEGREE = {"none": -1, "constant": 0, "linear": 1, "quadratic": 2}
_ETA = {"gaussian": 0.0, "lorentzian": 1.0}


# ==================================================================== result classes
def _profile(x: np.ndarray, centre: float, fwhm: float, eta: float) -> np.ndarray:
    """Unit-height pseudo-Voigt (shared FWHM) at ``x``."""
    q2 = ((x - centre) / fwhm) ** 2
    return eta / (1.0 + 4.0 * q2) + (1.0 - eta) * np.exp(-_FOUR_LN2 * q2)


def _numpy(x, name: str) -> np.ndarray:
    """Return ``x`` (array, tensor, list) as a NumPy array; reversed views are copied."""
    if isinstance(x, np.ndarray):
        x = np.asarray(x, order="C")  # torch refuses negative strides (x[::-1])
    return to_numpy(x, name=name)


def _round(value: float, decimals: int) -> str:
    return f"{round(value, decimals):.{max(decimals, 0)}f}"


def _decimals(fwhm: float) -> int:
    """Decimals that show a position to about a tenth of ``fwhm`` (none from 10 units up)."""
    return max(0, 1 - math.floor(math.log10(fwhm))) if fwhm < 10.0 else 0


def _significant(value: float) -> str:
    """Two significant figures, without an exponent for values in ``[1e-4, 1e6)``."""
    v = float(f"{value:.2g}")
    if v == 0.0 or not 1e-4 <= abs(v) < 1e6:
        return f"{v:.2g}"
    return f"{v:.{max(0, 1 - math.floor(math.log10(abs(v))))}f}"


@dataclass(frozen=True)
class Peak:
    """One fitted band: a pseudo-Voigt ``height * (eta * L + (1 - eta) * G)``.

    ``G`` and ``L`` are a Gaussian and a Lorentzian of unit height sharing the centre and
    the full width at half maximum (so the peak's maximum is ``height`` at ``centre`` and
    it is ``fwhm`` wide at half of it, whatever ``eta``).

    Attributes
    ----------
    centre : float
        Position of the maximum, in axis units.
    fwhm : float
        Full width at half maximum, in axis units (> 0).
    height : float
        Value at the maximum, above the baseline (>= 0).
    eta : float
        Lorentzian fraction in ``[0, 1]``: 0 is a Gaussian, 1 a Lorentzian.
    """

    centre: float
    fwhm: float
    height: float
    eta: float = 0.0

    def __post_init__(self):
        for name, kw in (
            ("centre", {}),
            ("fwhm", {"low": 0.0, "low_open": True}),
            ("height", {"low": 0.0}),
            ("eta", {"low": 0.0, "high": 1.0}),
        ):
            object.__setattr__(self, name, check_real(getattr(self, name), name, **kw))

    @property
    def area(self) -> float:
        """Integral over the whole real line, in signal units times axis units."""
        shape = self.eta * math.pi / 2.0 + (1.0 - self.eta) * _GAUSS_AREA
        return self.height * self.fwhm * shape

    def curve(self, axis) -> np.ndarray:
        """Evaluate the peak at ``axis`` (array_like of x values); returns float64."""
        x = _numpy(axis, "axis").astype(np.float64)
        return self.height * _profile(x, self.centre, self.fwhm, self.eta)

    def to_dict(self) -> dict:
        """JSON-compatible dictionary: the four parameters and the area."""
        return {
            "centre": self.centre,
            "fwhm": self.fwhm,
            "height": self.height,
            "eta": self.eta,
            "area": self.area,
        }

    def describe(self, units: str = "cm⁻¹") -> str:
        """One line for a report, e.g. ``'peak at 1168 cm⁻¹ (FWHM 14 cm⁻¹, height 0.31)'``.

        Centre and FWHM are rounded to about a tenth of the FWHM (whole units from a FWHM
        of 10 up), the height to two significant figures; ``units=""`` prints bare
        numbers (sample indices).
        """
        d = _decimals(self.fwhm)
        u = f" {units}" if units else ""
        return (
            f"peak at {_round(self.centre, d)}{u} "
            f"(FWHM {_round(self.fwhm, d)}{u}, height {_significant(self.height)})"
        )


@dataclass(frozen=True, eq=False)
class PeakFit:
    """Result of :func:`fit_peaks`: peaks on a polynomial baseline over one x-range.

    Attributes
    ----------
    peaks : tuple of Peak
        The chosen peaks, sorted by centre (ascending axis value); empty when the data
        support none (see :func:`fit_peaks`, Notes).
    baseline : tuple of float
        Baseline coefficients ``b`` lowest order first, in axis units around the range's
        midpoint: ``sum(b[j] * (x - x_ref) ** j)`` (empty for ``baseline="none"``).
    x_ref : float
        The midpoint of `x_range`.
    x_range : tuple of float
        ``(low, high)``: the smallest and largest axis value of the fitted samples.
    start, stop : int
        The fitted samples are ``signal[start:stop]``.
    n_samples : int
        Length of the signal that was fitted.
    x, data, model : numpy.ndarray, shape (stop - start,)
        Axis values, signal and fitted model (baseline plus peaks) of the fitted samples,
        in the signal's order (read-only).
    rms : float
        Root mean square of ``data - model``.
    r2 : float
        Coefficient of determination ``1 - RSS / TSS`` over the fitted samples (NaN for a
        constant signal that the model does not reproduce).
    shape : str
        The peak shape fitted: ``'pseudo_voigt'``, ``'gaussian'`` or ``'lorentzian'``.
    baseline_kind : str
        ``'none'``, ``'constant'``, ``'linear'`` or ``'quadratic'``.
    bic : tuple of float
        Bayesian information criterion of the best fit with ``k`` peaks, for ``k = 0,
        1, ...`` up to the most that was tried (see :func:`fit_peaks`, Notes, for how
        ``len(peaks)`` is chosen from it).
    """

    peaks: tuple[Peak, ...]
    baseline: tuple[float, ...]
    x_ref: float
    x_range: tuple[float, float]
    start: int
    stop: int
    n_samples: int
    x: np.ndarray
    data: np.ndarray
    model: np.ndarray
    rms: float
    r2: float
    shape: str
    baseline_kind: str
    bic: tuple[float, ...]

    @property
    def n_peaks(self) -> int:
        """Number of peaks chosen."""
        return len(self.peaks)

    @property
    def n_tried(self) -> int:
        """Largest number of peaks fitted before the search stopped (``len(bic) - 1``)."""
        return len(self.bic) - 1

    def curve(self, axis) -> np.ndarray:
        """Sum of the peaks (no baseline) at ``axis`` (array_like of x values)."""
        x = _numpy(axis, "axis").astype(np.float64)
        out = np.zeros_like(x)
        for p in self.peaks:
            out += p.curve(x)
        return out

    def baseline_curve(self, axis) -> np.ndarray:
        """Evaluate the fitted baseline at ``axis`` (meaningful over `x_range`)."""
        x = _numpy(axis, "axis").astype(np.float64)
        return np.polynomial.polynomial.polyval(x - self.x_ref, np.array(self.baseline, float))

    def to_dict(self) -> dict:
        """JSON-compatible summary (no arrays); non-finite numbers become ``None``."""
        return {
            "peaks": [p.to_dict() for p in self.peaks],
            "baseline": list(self.baseline),
            "x_ref": self.x_ref,
            "x_range": list(self.x_range),
            "start": self.start,
            "stop": self.stop,
            "n_samples": self.n_samples,
            "rms": finite_or_none(self.rms),
            "r2": finite_or_none(self.r2),
            "shape": self.shape,
            "baseline_kind": self.baseline_kind,
            "bic": [finite_or_none(b) for b in self.bic],
            "n_peaks": self.n_peaks,
            "n_tried": self.n_tried,
        }


@dataclass(frozen=True)
class PeakMatch:
    """Result of :func:`match_peak`: the fitted peak that best explains a component.

    Attributes
    ----------
    index : int
        Index of the peak in ``fit.peaks``.
    peak : Peak
        That peak.
    correlation : float
        Pearson correlation of the peak's curve with the component over the fitted range
        (the rule that chose it).
    cosine : float
        Uncentred cosine similarity of the same two curves: near 1 when the component
        is that peak itself, lower when it is a zero-mean (band-passed) fragment of it.
    correlations : tuple of float
        The Pearson correlation of every peak, in the order of ``fit.peaks``.
    """

    index: int
    peak: Peak
    correlation: float
    cosine: float
    correlations: tuple[float, ...]

    def to_dict(self) -> dict:
        """JSON-compatible dictionary."""
        return {
            "index": self.index,
            "peak": self.peak.to_dict(),
            "correlation": self.correlation,
            "cosine": self.cosine,
            "correlations": list(self.correlations),
        }


# ==================================================================== the fit
@functools.lru_cache(maxsize=16)
def _second_derivative(window: int) -> np.ndarray:
    """Savitzky-Golay (cubic) coefficients of the second derivative, for ``np.convolve``."""
    # scipy is imported on first use, here and below: `import saliency2signal` stays light
    from scipy.signal import savgol_coeffs

    return savgol_coeffs(window, 3, deriv=2, use="conv")


def _candidates(y: np.ndarray, windows: tuple[int, ...]) -> list[tuple[int, float]]:
    """Peak guesses ``(index, fwhm in samples)`` from the smoothed second derivative.

    Peaks and shoulders are local minima of ``d2 = y''`` (Savitzky-Golay, cubic, the
    filter of :func:`scipy.signal.savgol_filter` with cached coefficients), found
    at every window length of ``windows`` with :func:`scipy.signal.find_peaks` on
    ``-d2``. Each minimum scores its prominence over the noise ``d2`` inherits from
    ``y`` at that window (estimated from the median absolute first difference); those
    under 3 are dropped, the rest ranked by score, and a guess closer to a better one
    than half the narrower of their FWHMs is dropped as the same peak seen at another
    scale (a narrow peak on a broad one is kept). The FWHM guess is 1.2
    times the length of the run of ``d2 < 0`` around the minimum (that run is 2 sigma
    long for a Gaussian, 1.15 half-widths for a Lorentzian, before smoothing).
    """
    from scipy.signal import find_peaks

    step = np.diff(y)
    noise = max(1.4826 * np.median(np.abs(step - np.median(step))) / math.sqrt(2.0), 1e-6)
    found = []
    for window in windows:
        coeffs = _second_derivative(window)
        # the filter where it fits in y; its edge values repeated over the half-windows
        # at either end, so no minimum is made up there (a band at the very edge is
        # seen at the shorter windows)
        d2 = np.pad(np.convolve(y, coeffs, mode="valid"), window // 2, mode="edge")
        sd = noise * float(np.linalg.norm(coeffs))
        idx, props = find_peaks(-d2, height=0.0, prominence=3.0 * sd)
        edges = np.concatenate([[0], np.flatnonzero(np.diff(d2 < 0)) + 1, [y.size]])
        run = np.searchsorted(edges, idx, side="right")
        lengths = edges[run] - edges[run - 1]
        for i, prom, length in zip(idx, props["prominences"], lengths, strict=True):
            found.append((prom / sd, int(i), max(1.2 * float(length), 2.0)))
    kept: list[tuple[int, float]] = []
    for _, i, fwhm in sorted(found, key=lambda f: -f[0]):
        if all(abs(i - j) > 0.5 * min(fwhm, f) for j, f in kept):
            kept.append((i, fwhm))
    return kept


#: Savitzky-Golay window lengths of the guesses (those up to a third of the range's
#: samples): from 5 samples, for the narrowest bands, about 1.5 times apart up to the
#: hundreds of samples over which a broad band's curvature stands out of the noise.
_WINDOWS = (5, 7, 11, 17, 25, 37, 55, 81, 121, 181, 271, 405)


@dataclass(frozen=True)
class _Problem:
    """One range to fit, in normalised units: ``u`` in ``[-1, 1]``, ``y`` of range ~1.

    Axis values are ``x_ref + half * u``, signal values ``y0 + scale * y``.
    """

    u: np.ndarray
    y: np.ndarray
    n_pp: int  # parameters per peak
    eta0: float  # the fixed eta of a Gaussian/Lorentzian (unused for pseudo-Voigt)
    degree: int  # baseline degree, -1 for none
    du: float  # median sample spacing in u
    windows: tuple[int, ...]  # Savitzky-Golay window lengths of the guesses
    w_max: float  # the largest FWHM, in u
    x_ref: float
    half: float
    y0: float
    scale: float
    vander: np.ndarray  # (n, degree + 1): the baseline's columns u ** j

    @classmethod
    def of(
        cls, x: np.ndarray, y: np.ndarray, shape: str, baseline: str, max_fwhm=None
    ) -> _Problem:
        """Normalise one range: ``u`` over ``[-1, 1]``, ``y`` of range 1 around its median."""
        x_ref, half = 0.5 * (x.min() + x.max()), 0.5 * (x.max() - x.min())
        degree = _DEGREE[baseline]
        y0 = float(np.median(y)) if degree >= 0 else 0.0
        scale = float(np.ptp(y)) or 1.0
        u = (x - x_ref) / half
        du = float(np.median(np.abs(np.diff(u))))
        return cls(
            u=u,
            y=(y - y0) / scale,
            n_pp=4 if shape == "pseudo_voigt" else 3,
            eta0=_ETA.get(shape, 0.0),
            degree=degree,
            du=du,
            windows=tuple(w for w in _WINDOWS if w == 5 or 3 * w <= y.size),
            w_max=2.0 if max_fwhm is None else float(np.clip(max_fwhm / half, 3.0 * du, 2.0)),
            x_ref=float(x_ref),
            half=float(half),
            y0=y0,
            scale=scale,
            vander=np.vander(u, degree + 1, increasing=True),
        )

    def model(self, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the model and its Jacobian at ``p`` (per peak ``c, w, h[, eta]``, baseline)."""
        n_pp = self.n_pp
        pk = p[: k * n_pp].reshape(k, n_pp)
        c, w, h = pk[:, 0], pk[:, 1], pk[:, 2]
        eta = pk[:, 3] if n_pp == 4 else self.eta0
        q = (self.u[:, None] - c) / w  # (n, k)
        q2 = q * q
        g = np.exp(-_FOUR_LN2 * q2)
        lor = 1.0 / (1.0 + 4.0 * q2)
        prof = eta * lor + (1.0 - eta) * g
        cols = np.empty((self.u.size, k, n_pp))
        cols[:, :, 0] = (eta * 8.0 * lor * lor + (1.0 - eta) * (2.0 * _FOUR_LN2) * g) * (h * q / w)
        cols[:, :, 1] = cols[:, :, 0] * q
        cols[:, :, 2] = prof
        if n_pp == 4:
            cols[:, :, 3] = h * (lor - g)
        jac = np.concatenate([cols.reshape(self.u.size, k * n_pp), self.vander], axis=1)
        return prof @ h + self.vander @ p[k * n_pp :], jac

    def peaks(self, p: np.ndarray, k: int) -> tuple[Peak, ...]:
        """Return the ``k`` peaks of ``p`` in axis and signal units, sorted by centre."""
        rows = p[: k * self.n_pp].reshape(k, self.n_pp)
        peaks = [
            Peak(
                centre=self.x_ref + row[0] * self.half,
                fwhm=row[1] * self.half,
                height=row[2] * self.scale,
                eta=float(np.clip(row[3], 0.0, 1.0)) if self.n_pp == 4 else self.eta0,
            )
            for row in rows
        ]
        return tuple(sorted(peaks, key=lambda q: q.centre))

    def baseline(self, p: np.ndarray, k: int) -> tuple[float, ...]:
        """Baseline coefficients of ``(x - x_ref) ** j`` in axis and signal units."""
        coef = [self.scale * b / self.half**j for j, b in enumerate(p[k * self.n_pp :])]
        if coef:
            coef[0] += self.y0
        return tuple(float(b) for b in coef)

    def n_params(self, k: int) -> int:
        return k * self.n_pp + self.degree + 1

    def bic(self, k: int, rss: float) -> float:
        """``n ln(RSS / n) + p ln(n)``, the RSS floored at an rms of 1e-5 (of ``y``'s range)."""
        n = self.u.size
        return n * math.log(max(rss / n, 1e-10)) + self.n_params(k) * math.log(n)

    def start(self, centres, widths, etas) -> np.ndarray:
        """Parameters with the given nonlinear ones and least-squares heights and baseline."""
        k = len(centres)
        eta = np.asarray(etas, float)[:, None] if self.n_pp == 4 else self.eta0
        c, w = np.asarray(centres, float)[:, None], np.asarray(widths, float)[:, None]
        q2 = ((self.u[None, :] - c) / w) ** 2
        prof = eta / (1.0 + 4.0 * q2) + (1.0 - eta) * np.exp(-_FOUR_LN2 * q2)
        coef = np.linalg.lstsq(np.hstack([prof.T, self.vander]), self.y, rcond=None)[0]
        heights = np.maximum(coef[:k], 0.05)
        cols = [c[:, 0], w[:, 0], heights] + ([eta[:, 0]] if self.n_pp == 4 else [])
        return np.concatenate([np.stack(cols, axis=1).ravel(), coef[k:]])

    def fit(self, p0: np.ndarray, k: int, max_nfev: int = 100) -> tuple[np.ndarray, float]:
        """Bounded least squares from ``p0``; returns the parameters and the RSS."""
        from scipy.optimize import least_squares

        lo = np.tile([-1.0, 2.0 * self.du, 0.0, 0.0][: self.n_pp], k)
        hi = np.tile([1.0, self.w_max, np.inf, 1.0][: self.n_pp], k)
        lo = np.concatenate([lo, np.full(self.degree + 1, -np.inf)])
        hi = np.concatenate([hi, np.full(self.degree + 1, np.inf)])
        p0 = np.clip(p0, lo, hi)
        cache: dict = {}

        def evaluate(p):
            if cache.get("p") is None or not np.array_equal(cache["p"], p):
                cache["p"] = p.copy()
                cache["mj"] = self.model(p, k)
            return cache["mj"]

        res = least_squares(
            lambda p: evaluate(p)[0] - self.y,
            p0,
            jac=lambda p: evaluate(p)[1],
            bounds=(lo, hi),
            method="trf",
            x_scale="jac",
            ftol=1e-6,  # relative changes of the RSS below this cannot move the BIC
            xtol=1e-6,
            max_nfev=max_nfev,
        )
        return res.x, float(2.0 * res.cost)

    def guesses(self, residual: np.ndarray) -> list[tuple[float, float]]:
        """Candidate ``(centre, fwhm)`` in ``u`` units, best first, from ``residual``."""
        found = _candidates(residual, self.windows)
        if not found:  # nothing stands out: the largest excess, a few samples wide
            found = [(int(np.argmax(residual)), 4.0)]
        return [(float(self.u[i]), w * self.du) for i, w in found]


def _search(prob: _Problem, max_peaks: int) -> tuple[list[np.ndarray], list[float], int]:
    """Return the best parameters and their BIC for ``k = 0, 1, ...`` peaks, and the ``k``.

    ``k`` peaks start from up to three points: the ``k`` best second-derivative guesses
    of the data; the best ``k - 1`` peaks plus the best guess in their residual that is
    farther from each of them than half the narrower FWHM; and the best ``k - 1`` peaks
    with the one
    nearest the residual's best guess split in two (for bands buried in a flank). A few
    steps are taken from each, and the lowest goes on to convergence. A ``k`` is chosen
    when its BIC is more than :data:`BIC_MARGIN` below that of the ``k`` chosen before;
    the search stops when two more peaks in a row were not chosen, at ``max_peaks``, or
    when the parameters would leave fewer than two degrees of freedom.
    """
    coef = np.linalg.lstsq(prob.vander, prob.y, rcond=None)[0]
    params, bic = [coef], [prob.bic(0, float(np.sum((prob.vander @ coef - prob.y) ** 2)))]
    if np.ptp(prob.y) == 0:  # a constant: nothing to fit
        return params, bic, 0
    first = prob.guesses(prob.y)
    best = 0
    for k in range(1, max_peaks + 1):
        if prob.n_params(k) >= prob.u.size - 1:
            break
        starts = _starts(prob, first, params[-1], k)
        if len(starts) > 1:  # a few steps from each start, then the best one to the end
            starts = [min((prob.fit(s, k, max_nfev=15) for s in starts), key=lambda r: r[1])[0]]
        p, rss = prob.fit(starts[0], k)
        params.append(p)
        bic.append(prob.bic(k, rss))
        if bic[k] < bic[best] - BIC_MARGIN:
            best = k
        elif best > 0 or k >= 2:  # no peak yet: one more try (the first may be misplaced)
            break
    return params, bic, best


def _starts(prob: _Problem, first: list, prev: np.ndarray, k: int) -> list[np.ndarray]:
    """Return up to three starting points for ``k`` peaks (see :func:`_search`)."""
    n_pp = prob.n_pp
    starts = []
    if len(first) >= k:
        cs, ws = zip(*first[:k], strict=True)
        starts.append(prob.start(cs, ws, [0.5] * k))
    pk = prev[: (k - 1) * n_pp].reshape(k - 1, n_pp)
    c, w = list(pk[:, 0]), list(pk[:, 1])
    eta = list(pk[:, 3]) if n_pp == 4 else [0.0] * (k - 1)
    residual = prob.y - prob.model(prev, k - 1)[0]
    found = prob.guesses(residual)
    # a new peak where no peak sits yet
    away = [
        g
        for g in found
        if all(abs(g[0] - cj) > 0.5 * min(g[1], wj) for cj, wj in zip(c, w, strict=True))
    ]
    c_new, w_new = (away or found)[0]
    starts.append(prob.start([*c, c_new], [*w, w_new], [*eta, 0.5]))
    if k >= 2:  # the peak nearest the strongest residual split in two
        j = int(np.argmin([abs(found[0][0] - cj) / wj for cj, wj in zip(c, w, strict=True)]))
        cs = c[:j] + c[j + 1 :] + [c[j] - 0.25 * w[j], c[j] + 0.25 * w[j]]
        ws = w[:j] + w[j + 1 :] + [0.7 * w[j]] * 2
        starts.append(prob.start(cs, ws, eta[:j] + eta[j + 1 :] + [eta[j]] * 2))
    unique = []
    for s in starts:
        if not any(np.array_equal(s, t) for t in unique):
            unique.append(s)
    return unique


def _check_trace(x, name: str) -> np.ndarray:
    """Return ``x`` as float64 if it is a real, finite 1D array, else raise."""
    a = _numpy(x, name)
    if np.iscomplexobj(a) or a.dtype == bool:
        raise TypeError(f"{name} has dtype {a.dtype}; expected real numbers")
    if a.ndim != 1:
        raise ValueError(f"{name} has shape {a.shape}; expected a 1D signal")
    if not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return a.astype(np.float64)


def _window(x: np.ndarray, x_range, margin: float) -> tuple[int, int]:
    """Return the samples ``[start, stop)`` inside ``x_range`` widened by ``margin``."""
    if x_range is None:
        return 0, x.size
    if isinstance(x_range, (str, bytes)) or np.ndim(x_range) == 0:
        raise TypeError(f"x_range={x_range!r} must be a pair (low, high) of axis values")
    if np.ndim(x_range) != 1 or len(x_range) != 2:
        raise ValueError(f"x_range={x_range!r} must be a pair (low, high) of axis values")
    a, b = (check_real(v, "x_range") for v in x_range)
    lo, hi = min(a, b), max(a, b)
    if lo == hi:
        raise ValueError(f"{x_range=} is empty; give two different axis values")
    lo, hi = lo - margin * (hi - lo), hi + margin * (hi - lo)
    inside = np.flatnonzero((x >= lo) & (x <= hi))
    if inside.size == 0:
        raise ValueError(
            f"{x_range=} lies outside the axis, which spans [{x.min():g}, {x.max():g}]"
        )
    if inside.size < MIN_SAMPLES:
        raise ValueError(
            f"{x_range=} holds {inside.size} samples; fit_peaks needs at least {MIN_SAMPLES}"
        )
    return int(inside[0]), int(inside[-1]) + 1


# ==================================================================== public functions
def fit_peaks(
    signal,
    axis=None,
    *,
    x_range=None,
    max_peaks: int = 4,
    shape: str = "pseudo_voigt",
    baseline: str = "linear",
    margin: float = 0.0,
    max_fwhm: float | None = None,
) -> PeakFit:
    """Fit a few peaks on a polynomial baseline over an x-range of a 1D signal.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        Real, finite values (a spectrum). Peaks point up: fit ``-signal`` for dips
        (transmittance).
    axis : array_like, shape (n_samples,), optional
        Strictly increasing or decreasing x values (wavenumbers, say); default: the
        sample index. Peak centres and widths are in its units.
    x_range : pair of float, optional
        ``(low, high)`` in axis units, in either order; the samples whose axis value lies
        in it are fitted (default: all). It must hold at least :data:`MIN_SAMPLES`.
    max_peaks : int, default 4
        Most peaks tried, 1 to 10.
    shape : {'pseudo_voigt', 'gaussian', 'lorentzian'}, default 'pseudo_voigt'
        Peak shape; a pseudo-Voigt fits each peak's Lorentzian fraction ``eta``.
    baseline : {'linear', 'constant', 'quadratic', 'none'}, default 'linear'
        Degree of the polynomial baseline fitted with the peaks.
    margin : float, default 0.0
        Widen `x_range` by this fraction of its width on each side (clipped to the
        axis), so that a peak cut by the range's edge is fitted on more of its profile.
    max_fwhm : float, optional
        The widest peak allowed, in axis units (default: the fitted range's width). A
        peak as wide as the range is hard to tell from the baseline's curvature; a
        caller that knows the bands it looks for are narrower says so here.

    Returns
    -------
    PeakFit
        The chosen peaks (sorted by centre), the baseline, the model over the fitted
        samples, its residual and the BIC of every number of peaks tried.

    Raises
    ------
    ValueError
        If the signal holds NaN or infinities, is not 1D, or the axis has another
        length or is not monotonic; if `x_range` lies outside the axis or holds fewer
        than :data:`MIN_SAMPLES` samples; if an option is out of range or not one of its
        choices.
    TypeError
        If the signal is complex or an option has the wrong type.

    Notes
    -----
    Initial guesses: peaks and shoulders are local minima of the second derivative
    (Savitzky-Golay, cubic, at window lengths of 5 to 405 samples, about 1.5 times
    apart, those up to a third of the range), found with
    :func:`scipy.signal.find_peaks` on its negative, ranked by prominence over the noise
    the derivative inherits at that window; a guess closer to a better one than half the
    narrower of their FWHMs is dropped. For ``k = 1, 2, ...`` peaks,
    :func:`scipy.optimize.least_squares` (``trf``, analytic Jacobian) fits the peaks and
    the baseline with bounds: centres inside the range, FWHM between 2 sample spacings
    and the range's width (or ``max_fwhm``), heights >= 0, ``eta`` in ``[0, 1]``. Each
    ``k`` starts from
    up to three points (the ``k`` best guesses; the best ``k - 1`` peaks plus the best
    guess in their residual away from them; the best ``k - 1`` peaks with one split in
    two, for a band buried in another's flank), takes a few steps from each and runs
    the best to convergence.

    The number of peaks is chosen by the Bayesian information criterion
    ``BIC = n ln(RSS / n) + p ln(n)`` (``n`` samples, ``p`` free parameters: 3 or 4 per
    peak plus the baseline's; the RSS floored at an rms of 1e-5 of the signal's range,
    so an exact fit is not infinitely good). ``k`` grows from 0 (the baseline alone);
    ``k`` peaks are chosen over fewer only if they lower the BIC by more than
    :data:`BIC_MARGIN` (10, "very strong" evidence) below the ``k`` chosen so far: plain
    BIC lets a peak that may sit anywhere in the range fit a noise bump now and then.
    The search stops when two more peaks in a row were not chosen (one more is tried
    because the first peak may take the sharpest band and leave the largest one for
    the second), or at ``max_peaks``; ``fit.bic`` holds every value seen. A flat or
    noise-only range therefore returns a fit with no peaks (``fit.peaks == ()``), not
    an error. A shape that does not match the data (a Gaussian fitted to Lorentzian
    bands) leaves systematic residuals that BIC may spend extra peaks on.

    The fit works on the axis values themselves, so a decreasing axis gives the same
    peaks as the mirrored increasing one; an uneven axis is accepted (the guesses are
    made per sample, the fit is exact in x).

    Each step solves a small dense least-squares problem (an SVD of a samples x
    parameters Jacobian). To fit many spectra, parallelise over spectra with one BLAS
    thread per process (``OPENBLAS_NUM_THREADS=1``, say): on ranges of about a thousand
    samples and more, a multithreaded BLAS can make each SVD many times slower.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(200.0)
    >>> y = 2.0 / (1.0 + 4.0 * ((x - 80.0) / 12.0) ** 2) + 0.01 * x  # a Lorentzian, slope
    >>> fit = fit_peaks(y, x, x_range=(20, 160))
    >>> fit.peaks[0].describe(units="")
    'peak at 80 (FWHM 12, height 2.0)'
    >>> round(fit.peaks[0].eta, 3), round(fit.r2, 6)
    (1.0, 1.0)
    >>> fit_peaks(np.zeros(50)).n_peaks
    0
    """
    y_all = _check_trace(signal, "signal")
    if y_all.size < MIN_SAMPLES:
        raise ValueError(
            f"signal has {y_all.size} samples; fit_peaks needs at least {MIN_SAMPLES}"
        )
    if axis is None:
        x_all = np.arange(y_all.size, dtype=np.float64)
    else:
        x_all = check_axis(_numpy(axis, "axis"), y_all.size, monotonic=True)
    max_peaks = check_int(max_peaks, "max_peaks", minimum=1, maximum=10)
    check_choice(shape, SHAPES, "shape")
    check_choice(baseline, BASELINES, "baseline")
    margin = check_real(margin, "margin", low=0.0)
    if max_fwhm is not None:
        max_fwhm = check_real(max_fwhm, "max_fwhm", low=0.0, low_open=True)
    start, stop = _window(x_all, x_range, margin)
    x, y = x_all[start:stop], y_all[start:stop]

    prob = _Problem.of(x, y, shape, baseline, max_fwhm)
    params, bic, k = _search(prob, max_peaks)
    model = prob.model(params[k], k)[0]
    model = model * prob.scale + prob.y0
    rss = float(np.sum((y - model) ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    return PeakFit(
        peaks=prob.peaks(params[k], k),
        baseline=prob.baseline(params[k], k),
        x_ref=prob.x_ref,
        x_range=(float(x.min()), float(x.max())),
        start=start,
        stop=stop,
        n_samples=y_all.size,
        x=readonly(x.copy()),
        data=readonly(y.copy()),
        model=readonly(model),
        rms=math.sqrt(rss / y.size),
        r2=1.0 - rss / tss if tss > 0 else (1.0 if rss == 0 else math.nan),
        shape=shape,
        baseline_kind=baseline,
        bic=tuple(bic),
    )


def match_peak(fit: PeakFit, component, axis=None) -> PeakMatch | None:
    """Which fitted peak best explains ``component`` over the fit's range.

    Parameters
    ----------
    fit : PeakFit
        A result of :func:`fit_peaks`.
    component : array_like, shape (n,)
        A signal-length array: a region's recovered component, an attribution
        profile, a planted band.
    axis : array_like, shape (n,), optional
        The component's x values. Default: the component is on the fitted signal's own
        samples (``n == fit.n_samples``) and ``component[fit.start:fit.stop]`` is used;
        with an axis, the samples inside ``fit.x_range`` (at least 3).

    Returns
    -------
    PeakMatch or None
        The peak whose curve has the largest Pearson correlation with the component
        over the range (the lower index on a tie), with that correlation, the
        uncentred cosine and every peak's correlation; ``None`` if the fit has no peaks
        or the component is constant over the range (nothing to correlate).

    Notes
    -----
    Pearson correlation ignores the component's offset and scale, so a band-passed
    fragment of a peak (the peak minus its mean, as a CWT band gives) matches that peak
    as well as the peak itself does; the cosine tells the two apart. The best peak is
    returned however weak its correlation: a low or negative value says that no fitted
    peak explains the component.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(120.0)
    >>> a = np.exp(-0.5 * ((x - 50) / 8) ** 2)
    >>> b = 0.4 * np.exp(-0.5 * ((x - 66) / 5) ** 2)
    >>> fit = fit_peaks(a + b, shape="gaussian", baseline="none")
    >>> m = match_peak(fit, b - b.mean())
    >>> m.index, round(m.correlation, 3), round(m.cosine, 3)
    (1, 1.0, 0.923)
    """
    check_instance(fit, PeakFit, "fit")
    comp = _check_trace(component, "component")
    if axis is None:
        if comp.size != fit.n_samples:
            raise ValueError(
                f"component has {comp.size} samples; the fitted signal had {fit.n_samples}"
                " (give its axis to match on another grid)"
            )
        x, c = fit.x, comp[fit.start : fit.stop]
    else:
        x_all = check_axis(_numpy(axis, "axis"), comp.size, monotonic=True)
        inside = (x_all >= fit.x_range[0]) & (x_all <= fit.x_range[1])
        if inside.sum() < 3:
            raise ValueError(
                f"axis has {int(inside.sum())} samples inside x_range={fit.x_range}; "
                "at least 3 are needed"
            )
        x, c = x_all[inside], comp[inside]
    centred = c - c.mean()
    if not fit.peaks or not np.any(centred):
        return None
    curves = np.stack([p.curve(x) for p in fit.peaks])
    dev = curves - curves.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(dev, axis=1) * np.linalg.norm(centred)
    corr = np.divide(dev @ centred, norms, out=np.zeros(len(curves)), where=norms > 0)
    i = int(np.argmax(corr))
    cos = float(curves[i] @ c / (np.linalg.norm(curves[i]) * np.linalg.norm(c) or 1.0))
    return PeakMatch(
        index=i,
        peak=fit.peaks[i],
        correlation=float(corr[i]),
        cosine=cos,
        correlations=tuple(float(v) for v in corr),
    )
