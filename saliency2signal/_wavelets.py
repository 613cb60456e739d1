"""Frequency-domain analytic wavelets and the constants derived from them.

Everything here is evaluated in float64 NumPy: these are design-time quantities (scale
bounds, admissibility constants, the low-pass complement), computed once per
configuration and cached by :mod:`saliency2signal.transform`.

Two families are supported, with the same definitions and normalisations as
ssqueezepy 0.6.6:

* ``gmw``: generalised Morse wavelet, L1 ("bandpass") normalised so that its peak value
  is 2, ``psi_hat(w) = 2 (w / w_c)**beta * exp(w_c**gamma - w**gamma)`` for ``w > 0``
  and 0 elsewhere, with ``w_c = (beta / gamma)**(1 / gamma)``.
* ``morlet``: ``C (exp(-(w - mu)**2 / 2) - kappa exp(-w**2 / 2))`` on the whole line
  (it is *not* cut at negative frequencies, matching ssqueezepy), with
  ``kappa = exp(-mu**2 / 2)`` and ``C = sqrt(2) pi**(1/4) c_mu``.

Internal: :class:`WaveletSpec` is used by ``_scales``, ``transform`` and ``artefacts``.
May import: numpy, scipy (lazily); never torch or another module of the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["WaveletSpec"]


@dataclass(frozen=True)
class WaveletSpec:
    """A wavelet family with its parameters (hashable; used as a cache key)."""

    name: str
    gamma: float = 3.0
    beta: float = 60.0
    mu: float = 13.4

    # ------------------------------------------------------------------ evaluation
    @property
    def is_analytic(self) -> bool:
        """True when ``psi_hat`` is exactly zero at negative frequencies."""
        return self.name == "gmw"

    @property
    def center(self) -> float:
        """Peak (modal) radian frequency of ``psi_hat`` at scale 1 (continuous)."""
        if self.name == "gmw":
            return (self.beta / self.gamma) ** (1.0 / self.gamma)
        # Morlet: the peak of the corrected Gaussian, solved once numerically.
        from scipy.optimize import minimize_scalar

        res = minimize_scalar(
            lambda w: -self.psih(np.array([w]))[0],
            bounds=(0.5 * self.mu, 1.5 * self.mu + 1.0),
            method="bounded",
            options={"xatol": 1e-12},
        )
        return float(res.x)

    def psih(self, w: np.ndarray) -> np.ndarray:
        """Frequency response ``psi_hat(w)`` (float64) at radian frequencies ``w``."""
        w = np.asarray(w, dtype=np.float64)
        if self.name == "gmw":
            g, b = self.gamma, self.beta
            wc = (b / g) ** (1.0 / g)
            pos = w > 0
            wp = np.where(pos, w, 1.0)
            with np.errstate(over="ignore", under="ignore"):
                val = 2.0 * np.exp(-b * math.log(wc) + wc**g + b * np.log(wp) - wp**g)
            return np.where(pos, val, 0.0)
        mu = self.mu
        cs = (1.0 + math.exp(-(mu**2)) - 2.0 * math.exp(-0.75 * mu**2)) ** -0.5
        ks = math.exp(-0.5 * mu**2)
        c = math.sqrt(2.0) * cs * math.pi**0.25
        with np.errstate(under="ignore"):
            return c * (np.exp(-0.5 * (w - mu) ** 2) - ks * np.exp(-0.5 * w**2))

    # ------------------------------------------------------------------ constants
    def css(self) -> float:
        """Synchrosqueezing admissibility constant ``C = int_0^inf psi_hat(w) / w dw``.

        Closed form for GMW, ``(2/gamma) e^(beta/gamma) (gamma/beta)^(beta/gamma)
        Gamma(beta/gamma)``; adaptive quadrature for Morlet.
        """
        if self.name == "gmw":
            g, b = self.gamma, self.beta
            r = b / g
            return float((2.0 / g) * math.exp(r + r * math.log(g / b) + math.lgamma(r)))
        from scipy import integrate  # design-time only; keeps the package import light

        f = lambda w: float(self.psih(np.array([w]))[0]) / w  # noqa: E731
        pk = self.mu
        total = 0.0
        for lo, hi in ((0.0, max(pk - 10.0, 1e-3)), (max(pk - 10.0, 1e-3), pk + 12.0)):
            if hi > lo:
                total += integrate.quad(f, lo, hi, limit=400, epsabs=1e-15, epsrel=1e-13)[0]
        return float(total)

    # ------------------------------------------------------------------ searches
    def grid_peak(self) -> tuple[float, float]:
        """Peak of ``|psi_hat|`` on ssqueezepy's search grid (step 1e-3 from 0).

        The grid is scanned in blocks of 10 rad (10_000 points) until a block's maximum
        falls below the best so far; returns ``(w_peak, peak_value)``.
        """
        best_val, best_w, start = -1.0, 0.0, 0.0
        while True:
            w = np.linspace(start, start + 10.0, 10_000, endpoint=False)
            v = np.abs(self.psih(w))
            m = v.max()
            if m > best_val:
                best_val, best_w = m, float(w[np.argmax(v)])
            elif m < best_val:
                return best_w, float(best_val)
            start += 10.0
            if start > 1000.0:
                raise ValueError(f"could not locate the peak of wavelet {self}")

    def grid_crossing(self, value: float, start: float, limit: float) -> float:
        """First point of the 1e-3 grid from ``start`` where ``|psi_hat|`` reaches ``value``.

        Blocks of 10 rad are scanned; within the first block containing a point whose
        distance to ``value`` is at most the block's largest step, the closest point is
        returned (the ssqueezepy rule), with the grid clipped at ``limit``.
        """
        k = 0
        while True:
            lo = start + 10.0 * k
            w = np.linspace(lo, lo + 10.0, 10_000, endpoint=False)
            exceeded = w.max() > limit
            if exceeded:
                w = np.minimum(w, limit)
            v = np.abs(self.psih(w))
            tol = np.abs(np.diff(v)).max()
            dist = np.abs(v - value)
            if np.any(dist <= tol):
                return float(w[np.argmin(dist)])
            if exceeded:
                raise ValueError(f"wavelet {self} never reaches {value} in [{start}, {limit}]")
            k += 1
