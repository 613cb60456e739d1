"""Benchmark designs: synthetic spectra whose class is decided by one known feature.

Each design plants a different kind of class-deciding feature in spectra that also carry
class-independent peaks (decoys), curved baselines and noise, and returns, for every
spectrum, the feature itself as ground truth: the *difference* between the spectrum and
its counterfactual, the same spectrum drawn as the other class. An explanation of a
positive spectrum should recover that difference (its energy inside the truth window;
its shape correlating with it).

:data:`DESIGNS` (``s`` below is the span of the axis, ``c`` a nominal centre at 45 % of
it, jittered per spectrum):

``'presence'``
    A Gaussian peak (sigma ``0.008-0.012 s``) in class 1 only.
``'shoulder'``
    Every spectrum has an anchor peak; class 1 adds a narrower shoulder (sigma 0.6 of the
    anchor's, a quarter to half its height) two anchor sigmas up its flank. Half the
    decoys carry shoulders of their own, in both classes.
``'ratio'``
    Two peaks ``0.1 s`` apart in every spectrum; the second is 0.5-0.7 times the first in
    class 0 and 1.1-1.4 times in class 1. Truth: the extra height.
``'width'``
    One peak; in class 1 it is broadened 1.8 times at the same area. Truth: the broad
    peak minus the narrow one (a negative centre, positive wings).
``'shift'``
    One peak, moved by one sigma in class 1. Truth: the moved peak minus the unmoved one
    (a derivative-like pair of lobes).
``'overlap'``
    A broad band in every spectrum (sigma ``0.02 s``); class 1 adds a band of 0.8 its
    width, one sigma off its centre, buried in its flank.
``'baseline'``
    Class 1 adds a broad bump (sigma ``0.06 s``) to the baseline: a feature no narrower
    than the baselines themselves.

Widths scale with the axis span, so every design works at any length (286 to 2048 points
and beyond) with features a few samples wide or more.

May import: numpy, ``._validation``, ``.datasets`` (the result class); never a stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._validation import check_choice, check_int, check_real, check_rng
from .datasets import PlantedSpectra

__all__ = ["DESIGNS", "make_design_spectra"]


class _Feature(NamedTuple):
    """One design's draw for ``n`` spectra (every array ``(n, n_points)`` or ``(n,)``)."""

    base: np.ndarray  # what every spectrum has, whatever its class
    feature: np.ndarray  # what a class-1 spectrum adds (its counterfactual lacks)
    centres: np.ndarray  # the feature's centre
    widths: np.ndarray  # the feature's sigma
    amplitudes: np.ndarray  # the feature's height (class 1)
    windows: np.ndarray  # (n, 2): where the feature lives


def _gauss(axis: np.ndarray, centre, width) -> np.ndarray:
    return np.exp(-0.5 * ((axis - centre) / width) ** 2)


def _col(v: np.ndarray) -> np.ndarray:
    return v[:, None]


def _presence(gen, axis, n, c, s) -> _Feature:
    centres = c + gen.uniform(-0.01, 0.01, n) * s
    widths = gen.uniform(0.008, 0.012, n) * s
    amps = gen.uniform(0.5, 1.0, n)
    feature = _col(amps) * _gauss(axis, _col(centres), _col(widths))
    windows = np.stack([centres - 3 * widths, centres + 3 * widths], axis=1)
    return _Feature(np.zeros_like(feature), feature, centres, widths, amps, windows)


def _shoulder(gen, axis, n, c, s) -> _Feature:
    anchor_c = c + gen.uniform(-0.01, 0.01, n) * s
    anchor_w = gen.uniform(0.010, 0.014, n) * s
    anchor_a = gen.uniform(0.8, 1.2, n)
    widths = 0.6 * anchor_w
    centres = anchor_c + 2.0 * anchor_w
    amps = gen.uniform(0.25, 0.5, n) * anchor_a
    base = _col(anchor_a) * _gauss(axis, _col(anchor_c), _col(anchor_w))
    feature = _col(amps) * _gauss(axis, _col(centres), _col(widths))
    windows = np.stack([centres - 3 * widths, centres + 3 * widths], axis=1)
    return _Feature(base, feature, centres, widths, amps, windows)


def _ratio(gen, axis, n, c, s) -> _Feature:
    c1 = c - 0.05 * s + gen.uniform(-0.005, 0.005, n) * s
    c2 = c1 + 0.1 * s
    widths = gen.uniform(0.008, 0.012, n) * s
    a1 = gen.uniform(0.6, 1.0, n)
    r0 = gen.uniform(0.5, 0.7, n)
    r1 = gen.uniform(1.1, 1.4, n)
    base = _col(a1) * (
        _gauss(axis, _col(c1), _col(widths)) + _col(r0) * _gauss(axis, _col(c2), _col(widths))
    )
    amps = (r1 - r0) * a1
    feature = _col(amps) * _gauss(axis, _col(c2), _col(widths))
    windows = np.stack([c2 - 3 * widths, c2 + 3 * widths], axis=1)
    return _Feature(base, feature, c2, widths, amps, windows)


def _width(gen, axis, n, c, s) -> _Feature:
    centres = c + gen.uniform(-0.01, 0.01, n) * s
    narrow = gen.uniform(0.006, 0.008, n) * s
    wide = 1.8 * narrow
    amps = gen.uniform(0.6, 1.0, n)
    base = _col(amps) * _gauss(axis, _col(centres), _col(narrow))
    # the same area, spread 1.8 times wider (a broadened band): lower and wider
    feature = _col(amps / 1.8) * _gauss(axis, _col(centres), _col(wide)) - base
    windows = np.stack([centres - 3 * wide, centres + 3 * wide], axis=1)
    return _Feature(base, feature, centres, wide, amps, windows)


def _shift(gen, axis, n, c, s) -> _Feature:
    widths = gen.uniform(0.008, 0.012, n) * s
    centres = c + gen.uniform(-0.25, 0.25, n) * widths
    moved = centres + widths
    amps = gen.uniform(0.6, 1.0, n)
    base = _col(amps) * _gauss(axis, _col(centres), _col(widths))
    feature = _col(amps) * _gauss(axis, _col(moved), _col(widths)) - base
    windows = np.stack([centres - 3 * widths, moved + 3 * widths], axis=1)
    return _Feature(base, feature, 0.5 * (centres + moved), widths, amps, windows)


def _overlap(gen, axis, n, c, s) -> _Feature:
    band_c = c + gen.uniform(-0.01, 0.01, n) * s
    band_w = gen.uniform(0.018, 0.022, n) * s
    band_a = gen.uniform(0.8, 1.2, n)
    widths = 0.8 * band_w
    centres = band_c + band_w
    amps = gen.uniform(0.3, 0.5, n) * band_a
    base = _col(band_a) * _gauss(axis, _col(band_c), _col(band_w))
    feature = _col(amps) * _gauss(axis, _col(centres), _col(widths))
    windows = np.stack([centres - 3 * widths, centres + 3 * widths], axis=1)
    return _Feature(base, feature, centres, widths, amps, windows)


def _baseline(gen, axis, n, c, s) -> _Feature:
    centres = c + 0.1 * s + gen.uniform(-0.02, 0.02, n) * s
    widths = gen.uniform(0.05, 0.07, n) * s
    amps = gen.uniform(0.3, 0.5, n)
    feature = _col(amps) * _gauss(axis, _col(centres), _col(widths))
    windows = np.stack([centres - 3 * widths, centres + 3 * widths], axis=1)
    return _Feature(np.zeros_like(feature), feature, centres, widths, amps, windows)


_DRAW: dict[str, Callable[..., _Feature]] = {
    "presence": _presence,
    "shoulder": _shoulder,
    "ratio": _ratio,
    "width": _width,
    "shift": _shift,
    "overlap": _overlap,
    "baseline": _baseline,
}

#: The designs :func:`make_design_spectra` draws, and the name of each class-1.
DESIGNS = tuple(_DRAW)
_CLASS_NAMES = {
    "presence": ("absent", "peak"),
    "shoulder": ("no shoulder", "shoulder"),
    "ratio": ("low ratio", "high ratio"),
    "width": ("narrow", "wide"),
    "shift": ("unshifted", "shifted"),
    "overlap": ("one band", "two bands"),
    "baseline": ("flat", "bump"),
}


#: Largest decoy sigma, as a fraction of the axis span.
_DECOY_WIDTH = (0.006, 0.02)


def _decoys(gen, axis, windows, n_decoys, s, *, shoulders: bool) -> tuple:
    """Class-independent peaks whose 3-sigma tails stay out of each spectrum's window.

    Centres are drawn from the axis minus ``window +- 3 * (largest decoy sigma)`` of
    each spectrum (shouldered decoys: plus their shoulder's offset), so a decoy never
    puts its own energy into the truth window. With ``shoulders``, every other decoy
    gets a shoulder on a random side.
    """
    n = windows.shape[0]
    w_max = _DECOY_WIDTH[1] * s
    margin = (3.0 + (3.2 if shoulders else 0.0)) * w_max  # shoulder: 2 sigma off, 0.6 wide
    grid = np.linspace(axis[0] + 0.03 * s, axis[-1] - 0.03 * s, 4 * axis.size)
    centres = np.empty((n, n_decoys))
    for b in range(n):
        allowed = grid[(grid < windows[b, 0] - margin) | (grid > windows[b, 1] + margin)]
        if n_decoys and allowed.size == 0:
            raise ValueError("no room for decoys outside the feature's window on this axis")
        centres[b] = np.sort(gen.choice(allowed, size=n_decoys)) if n_decoys else centres[b]
    widths = gen.uniform(*_DECOY_WIDTH, (n, n_decoys)) * s
    amps = gen.uniform(0.4, 1.0, (n, n_decoys))
    peaks = np.einsum("bd,bdn->bn", amps, _gauss(axis, centres[..., None], widths[..., None]))
    if shoulders and n_decoys:
        sh = np.arange(0, n_decoys, 2)  # every other decoy
        side = gen.choice([-1.0, 1.0], size=(n, sh.size))
        frac = gen.uniform(0.25, 0.5, (n, sh.size))
        c_sh = centres[:, sh] + 2.0 * side * widths[:, sh]
        g = _gauss(axis, c_sh[..., None], 0.6 * widths[:, sh, None])
        peaks = peaks + np.einsum("bd,bdn->bn", amps[:, sh] * frac, g)
    return centres, peaks


def make_design_spectra(
    design: str,
    n_samples: int,
    *,
    n_points: int = 1024,
    axis_range: tuple[float, float] = (600.0, 1800.0),
    n_decoys: int = 4,
    baseline_scale: float = 1.0,
    noise: float = 0.02,
    rng=None,
) -> PlantedSpectra:
    """Draw two-class spectra of one benchmark design, with the feature as ground truth.

    Each spectrum is ``baseline + decoys + base + y * feature + noise``: ``base`` is what
    the design puts in every spectrum (an anchor peak, a band, two peaks at the class-0
    ratio...), ``feature`` what class 1 adds to it (see the module docstring for each
    design), decoys are ``n_decoys`` Gaussian peaks drawn alike for both classes and kept
    clear of the feature, and the baseline is ``b0 + b1 t + b2 t^2`` on ``t`` in
    [-1, 1] with coefficients ``U(-1, 1) * baseline_scale``. Classes are balanced and
    shuffled.

    Parameters
    ----------
    design : str
        One of :data:`DESIGNS`.
    n_samples : int
        Number of spectra (>= 1).
    n_points : int
        Points per spectrum (>= 64).
    axis_range : (float, float)
        First and last wavenumber (cm^-1) of the evenly spaced, increasing axis.
    n_decoys : int
        Decoy peaks per spectrum (>= 0).
    baseline_scale, noise : float
        Size of the baseline coefficients and the noise standard deviation (>= 0).
    rng : int, numpy.random.Generator or None
        Seed or generator; the same seed gives the same spectra.

    Returns
    -------
    PlantedSpectra
        ``components`` is the feature for class-1 spectra (``x`` minus its
        counterfactual) and zeros for class 0; ``amplitudes`` the height of the peak the
        feature adds or changes (0 for class 0); ``centres`` and ``widths`` its centre
        and sigma; ``windows`` where it lives (``(n_samples, 2)``); ``decoy_centres``
        the decoys' centres.

    Examples
    --------
    >>> import numpy as np
    >>> d = make_design_spectra("shoulder", 6, n_points=286, rng=0)
    >>> d.x.shape, d.class_names, np.bincount(d.y).tolist()
    ((6, 286), ('no shoulder', 'shoulder'), [3, 3])
    >>> bool(np.all(d.components[d.y == 0] == 0)), bool(np.all(d.present == (d.y == 1)))
    (True, True)
    """
    design = check_choice(design, DESIGNS, "design")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_points = check_int(n_points, "n_points", minimum=64)
    n_decoys = check_int(n_decoys, "n_decoys", minimum=0)
    try:
        v0, v1 = (float(v) for v in axis_range)
    except (TypeError, ValueError):
        raise TypeError(f"axis_range={axis_range!r} must be a pair of numbers") from None
    if not (np.isfinite(v0) and np.isfinite(v1) and v0 < v1):
        raise ValueError(f"axis_range={axis_range!r} must be finite and increasing")
    baseline_scale = check_real(baseline_scale, "baseline_scale", low=0)
    noise = check_real(noise, "noise", low=0)
    gen = check_rng(rng)

    axis = np.linspace(v0, v1, n_points)
    span, centre = v1 - v0, v0 + 0.45 * (v1 - v0)
    y = gen.permutation(np.arange(n_samples) % 2).astype(np.int64)
    f = _DRAW[design](gen, axis, n_samples, centre, span)
    decoy_centres, decoys = _decoys(
        gen, axis, f.windows, n_decoys, span, shoulders=design == "shoulder"
    )
    t = np.linspace(-1.0, 1.0, n_points)
    coef = gen.uniform(-1.0, 1.0, (n_samples, 3)) * baseline_scale
    baseline = coef[:, :1] + coef[:, 1:2] * t + coef[:, 2:] * t**2
    positive = y == 1
    components = np.where(positive[:, None], f.feature, 0.0)
    x = baseline + decoys + f.base + components + noise * gen.standard_normal(components.shape)
    return PlantedSpectra(
        x=x,
        y=y,
        class_names=_CLASS_NAMES[design],
        axis=axis,
        centres=f.centres,
        widths=f.widths,
        amplitudes=np.where(positive, f.amplitudes, 0.0),
        windows=f.windows,
        components=components,
        decoy_centres=decoy_centres,
    )
