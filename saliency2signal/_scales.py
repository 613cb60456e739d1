"""Scale grids, padding, synchrosqueezing frequencies and reassignment bins.

A re-derivation of ssqueezepy 0.6.6's design-time rules (see
``shared/reference/ssqueezepy-numerics.md``); everything is float64 NumPy and depends
only on the configuration and the signal length, never on the data.

Arrays in this module are in ssqueezepy's order (scales ascending, frequencies
ascending); :mod:`saliency2signal.transform` turns them into rows (lowest frequency in
row 0).

Internal: plain names used by ``transform._plan`` and ``transform._config``.
May import: numpy, ``_wavelets``; never torch or another module of the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._wavelets import WaveletSpec

__all__ = [
    "SsqGrid",
    "infer_scale_kind",
    "make_scales",
    "padding",
    "squeeze_weights",
    "ssq_grid",
    "transition_index",
]

_EPS64 = float(np.finfo(np.float64).eps)


def padding(n: int, padtype: str | None) -> tuple[int, int, int]:
    """Return ``(n_padded, n_left, n_right)``.

    ``n_padded = 2**(1 + round(log2 n))`` (not "next power of two": it always lies in
    ``[sqrt(2) n, 2 sqrt(2) n)``); the left side gets the extra sample when the split is
    odd. With ``padtype=None`` nothing is padded.
    """
    if padtype is None:
        return n, 0, 0
    n_pad = int(2 ** (1 + round(math.log2(n))))
    right = (n_pad - n) // 2
    return n_pad, n_pad - n - right, right


# --------------------------------------------------------------------------- bounds
def _max_scale_maximal(spec: WaveletSpec, m: int) -> float:
    """Scale whose frequency response peaks at bin 2 of an ``m``-point grid."""
    w_pk, _ = spec.grid_peak()
    sc = (4.0 / math.pi) * w_pk
    k = np.arange(m // 2 + 1)
    h = 2.0 * math.pi / m
    resp = spec.psih(sc * (k * h))
    midx = int(np.argmax(resp))
    below = np.nonzero(resp[:midx] < resp.max())[0]
    w_bin = sc * (below[-1] * h)
    return sc * (w_bin / (sc * (2 * h)))


def _max_scale_minimal(spec: WaveletSpec, m: int, min_cutoff: float = 0.6) -> float:
    """Largest scale whose response straddles its peak symmetrically with whole bins."""
    w_pk, peak = spec.grid_peak()
    w_cut = spec.grid_crossing(min_cutoff * peak, 0.0, w_pk)
    w_ltp = np.arange(w_cut, w_pk, 1.0 / m)
    div = 2.0 * (w_pk - w_ltp[:-1])
    n_div = w_ltp[:-1] / div
    drops = np.nonzero(np.diff(n_div % 1) < -0.8)[0]
    if drops.size == 0:
        raise ValueError(f"no 'minimal' scale bound found for {spec} at n_padded={m}")
    return div[drops[0] + 1] / (math.pi / (m / 2))


def scale_bounds(spec: WaveletSpec, n: int, preset: str | None) -> tuple[float, float]:
    """``(min_scale, max_scale)`` for a preset ('maximal', 'minimal', 'naive', None)."""
    if preset == "naive":
        return 1.0, float(n)
    m, _, _ = padding(n, "reflect")  # ssqueezepy always searches on the padded length
    w_pk, peak = spec.grid_peak()
    min_scale = spec.grid_crossing(0.5 * peak, 0.0, w_pk) / math.pi
    if preset == "maximal":
        return min_scale, _max_scale_maximal(spec, m)
    return min_scale, _max_scale_minimal(spec, m)


def _downsampling_index(spec: WaveletSpec, scales: np.ndarray) -> int | None:
    """First index past which groups of 5 neighbouring wavelets are too redundant.

    Evaluated on a fixed 2048-point grid (so the result depends on the wavelet and
    ``nv`` only). A group is exempt when its wavelets average more than 4 bins above 2 %
    of their peaks; it is too dense when the summed distance of its members' peak bins
    from the peak of their product is below 3 bins.
    """
    span, n_grid = 5, 2048
    k = np.arange(n_grid // 2)
    psih = spec.psih(scales[:, None] * (k * (2.0 * math.pi / n_grid))[None, :])
    n_groups = len(scales) - span - 1
    if n_groups <= 0:
        return None
    i = 0
    for i in range(n_groups):
        grp = psih[i : i + span]
        gmax = grp.max(axis=1, keepdims=True)
        if (grp > 0.02 * gmax).sum() / span > 4.0:
            continue
        peak_cols = np.nonzero(grp == gmax)[1]
        joint = int(np.argmax(np.prod(grp, axis=0)))
        if np.abs(peak_cols - joint).sum() < 3:
            break
    return i if i < n_groups - 1 else None


def make_scales(
    spec: WaveletSpec, n: int, nv: int, kind: str, preset: str | None
) -> tuple[np.ndarray, int | None]:
    """Ascending scales for ``kind`` in {'log', 'log-piecewise', 'linear'}.

    Returns ``(scales, transition)`` where ``transition`` is the index at which a
    log-piecewise grid switches to 4x coarser steps (``None`` otherwise).
    """
    lo, hi = scale_bounds(spec, n, preset)
    na = int(math.ceil(nv * math.log2(hi / lo)))
    mn_pow = int(math.floor(nv * math.log2(lo)))
    powers = np.arange(mn_pow, mn_pow + na)
    if kind == "linear":
        smin, smax = 2.0 ** (mn_pow / nv), 2.0 ** ((mn_pow + na) / nv)
        return np.linspace(smin, smax, int(math.ceil(smax / smin))), None
    scales = 2.0 ** (powers / nv)
    if kind == "log":
        return scales, None
    idx = _downsampling_index(spec, scales)
    if idx is None:
        return scales, None
    return np.concatenate([scales[:idx], scales[idx + 3 :: 4]]), idx


def transition_index(v: np.ndarray) -> int | None:
    """Index where a piecewise-geometric sequence changes ratio (ssqueezepy's rule)."""
    d2 = np.abs(np.diff(np.log(v), 2))
    if d2.size == 0:
        return None
    j = int(np.argmax(d2))
    dmax = d2[j]
    rest = d2.copy()
    rest[j] = 0.0
    th = 1e-14 if v.dtype == np.float64 else 1e-6
    if not dmax > 100 * np.abs(rest).mean() or not np.all(np.abs(rest) < th):
        return None
    return j + 2


def infer_scale_kind(scales: np.ndarray) -> str:
    """Classify a user scale array as 'log', 'linear' or 'log-piecewise'."""
    s = np.asarray(scales, dtype=np.float64)
    if s.size >= 3:
        if np.mean(np.abs(np.diff(np.log(s), 2))) < 4e-15:
            return "log"
        if np.mean(np.abs(np.diff(s, 2))) < 4e-12:
            return "linear"
        if transition_index(s) is not None:
            return "log-piecewise"
    elif s.size == 2:
        return "log"
    raise ValueError(
        "scales must be geometric, linear, or geometric with a single change of ratio; "
        f"got diff(scales)[:4]={np.diff(s)[:4]}"
    )


# --------------------------------------------------------------------------- frequencies
def _peak_radian(spec: WaveletSpec, scale: float, m: int, how: str) -> float:
    """Radian frequency of a scale's response on the ``m``-point DFT grid."""
    k = np.arange(-((m - 1) // 2), m // 2 + 1)
    w = k * (2.0 * math.pi / m)
    p2 = np.abs(spec.psih(scale * w)) ** 2
    if how == "peak":
        return float(w[np.argmax(p2)])
    from scipy.integrate import trapezoid  # np.trapezoid needs NumPy >= 2

    return float(trapezoid(p2 * w) / trapezoid(p2))  # 'energy'


@dataclass(frozen=True)
class SsqGrid:
    """Ascending SSQ frequencies with the parameters of nearest-bin reassignment."""

    freqs: np.ndarray  # ascending, Hz
    kind: str  # 'log', 'log-piecewise' or 'linear'
    lo0: float  # log2 f0 (log kinds) or f0 (linear)
    step0: float  # bin width in log2 (log kinds) or Hz (linear)
    lo1: float = 0.0  # log2 of the first fine-grid frequency (piecewise only)
    step1: float = 1.0
    first_fine: int = 0


def ssq_grid(
    spec: WaveletSpec,
    scales: np.ndarray,
    transition: int | None,
    kind: str,
    n: int,
    n_padded: int,
    fs: float,
    maprange,
) -> SsqGrid:
    """Frequencies of the synchrosqueezed rows (ascending) and their binning rule."""
    na = len(scales)
    if isinstance(maprange, tuple):
        fm, fM = maprange
    elif maprange == "maximal":
        fm, fM = fs / n, fs / 2.0
    else:
        fm = _peak_radian(spec, scales[-1], n_padded, maprange) / (2 * math.pi) * fs
        fM = _peak_radian(spec, scales[0], n_padded, maprange) / (2 * math.pi) * fs

    if kind == "linear":
        v = np.linspace(fm, fM, na)
        return SsqGrid(v, "linear", float(v[0]), float(v[1] - v[0]))

    if kind == "log-piecewise" and transition is not None:
        f1 = _peak_radian(spec, scales[transition], n_padded, maprange) / (2 * math.pi) * fs
        n_coarse = na - transition - 1  # rows strictly below f1
        t = np.arange(na) / (na - 1)
        t1 = t[n_coarse]
        v = np.empty(na)
        if n_coarse > 0:
            v[:n_coarse] = fm * (f1 / fm) ** (t[:n_coarse] / t1)
        v[n_coarse:] = f1 * (fM / f1) ** ((t[n_coarse:] - t1) / (t[-1] - t1))
        p = na - transition
        lv = np.log2(v)
        return SsqGrid(
            v,
            "log-piecewise",
            lo0=float(lv[0]),
            step0=max(float(lv[1] - lv[0]), _EPS64),
            lo1=float(lv[p - 1]),
            step1=max(float(lv[p] - lv[p - 1]), _EPS64),
            first_fine=p - 1,
        )

    v = fm * (fM / fm) ** (np.arange(na) / (na - 1))
    lv = np.log2(v)
    return SsqGrid(v, "log", float(lv[0]), max(float(lv[1] - lv[0]), _EPS64))


def squeeze_weights(scales: np.ndarray, kind: str, nv: int | None) -> np.ndarray:
    """Per-scale weights ``d(ln s)`` of the one-integral sum (ascending scales).

    Geometric grids: ``ln(s_i / s_(i-1))`` (``ln 2 / nv`` for a pure log grid), the first
    scale repeating the second's; linear grids: ``(s_1 - s_0) / s_i``.
    """
    if kind == "linear":
        return (scales[1] - scales[0]) / scales
    if kind == "log" and nv is not None:
        return np.full(len(scales), math.log(2) / nv)
    lv = np.log2(scales)
    d = np.diff(lv)
    d = np.concatenate([d[:1], d])
    return math.log(2) * d
