"""How well a wavelet separates two close tones: leakage, time spread and advice.

:func:`wavelet_leakage` measures how strongly the row that peaks on one tone sees a
neighbour; :func:`advise_wavelet` returns the smallest Morlet ``mu`` and GMW ``beta``
that resolve a given spacing. :func:`time_spread` (the wavelet's time-domain standard
deviation) is shared with the detection, which uses it for its edge margins.

Internal to :mod:`saliency2signal.artefacts` (which re-exports the public functions).
May import: numpy, scipy (lazily), ``_validation``, ``_wavelets``, ``transform``,
``artefacts._records``; never ``mask``, ``plot`` or matplotlib.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from .._validation import check_instance, check_positive, check_real
from .._wavelets import WaveletSpec
from ..transform import SSQConfig
from ._records import WaveletAdvice

__all__ = ["advise_wavelet", "time_spread", "wavelet_leakage"]


@functools.lru_cache(maxsize=32)
def time_spread(spec: WaveletSpec) -> float:
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
    config = check_instance(config or SSQConfig(), SSQConfig, "config")
    spacing = check_positive(spacing, "spacing")
    return _leakage(config.wavelet_spec, 1.0 + spacing)


@functools.lru_cache(maxsize=256)
def _center(spec: WaveletSpec) -> float:
    """Peak radian frequency at scale 1 (Morlet: searched within 1 rad of ``mu``)."""
    if spec.name == "gmw":
        return spec.center
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        lambda w: -float(spec.psih(np.array([w]))[0]),
        bounds=(spec.mu - 1.0, spec.mu + 1.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return float(res.x)


def _leakage(spec: WaveletSpec, x: float) -> float:
    wc = _center(spec)
    peak = abs(float(spec.psih(np.array([wc]))[0]))
    if not peak > 0:
        raise ValueError(f"wavelet {spec} has no response at its centre frequency")
    up = abs(float(spec.psih(np.array([wc * x]))[0]))
    down = abs(float(spec.psih(np.array([wc / x]))[0]))
    return max(up, down) / peak


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
    config = check_instance(config or SSQConfig(), SSQConfig, "config")
    spacing = check_positive(spacing, "spacing")
    tol = check_real(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)
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
            spreads[k] = time_spread(spec) * scale / config.fs
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
