"""Signals from magnitude-only scalograms: phase retrieval for the CWT.

Given ``S = |W(x)|`` (all of it, or only the cells inside a mask), find a real ``y``
with ``|W(y)| ~ S``. Methods of :func:`retrieve_phase`:

``'fgla'`` (default)
    Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013): alternate the magnitude
    projection ``c -> S exp(i angle c)`` and the consistency projection
    ``c -> W(W^+ c)``, with the momentum step ``c_n = t_n + alpha (t_n - t_{n-1})``,
    ``alpha = 0.99``. ``'gla'`` is the same with ``alpha = 0``.
``'lbfgs'``
    L-BFGS with a strong-Wolfe line search on the amplitude loss
    ``|| M (|W(y)| - S) ||^2 / || M S ||^2``, differentiating through :func:`~saliency2signal.cwt`.
    The method for masked magnitudes (masked Griffin-Lim stalls).
``'adam'``
    Adam on the same loss, learning rate ``lr`` times the signal's RMS estimated from
    ``S`` and the frame bounds of the bank.
``'sgd'``
    The popular recipe: plain ``torch.optim.SGD`` on the mean squared error of the
    magnitudes (kept for comparison; see ``benchmarks/bench_phase.py``).

Every result is a frozen :class:`PhaseRetrievalResult` with the spectral convergence
``SC = 20 log10(||M(|W(y)| - S)|| / ||M S||)`` (dB), its history, the iteration and
evaluation counts and the wall time.

**What the magnitudes cannot tell** (so no method can recover it):

* the global sign: ``|W(-x)| = |W(x)|``;
* for analytic wavelets (GMW, Morlet) every rotation in the plane of ``x`` and its
  Hilbert transform, ``cos(t) x - sin(t) H{x}``, has exactly the same ``|W|`` (with
  periodic boundaries, ``padtype=None``; see :func:`hilbert_rotate`) - the sign is the
  case ``t = pi``;
* the mean and the slow baseline below the largest scale, which the wavelet bank never
  sees (use the low-pass channel: ``lowpass_row=True`` or a known ``lowpass=``);
* each disconnected region of the time-frequency plane carries its own phase (and its
  own rotation), so separate components are recovered only up to independent rotations.

:func:`phase_aligned_snr` removes the first three before measuring; :func:`snr` does not.
For non-negative signals (spectra) the low-pass channel together with
``nonnegative=True`` pins the rotation, and the plain SNR is meaningful. The low-pass
row is one real row against a whole bank, so the least-squares fits weight it to carry
as much as the bank does at its peak. A short Morlet (``mu=4``) ties each peak's phase
down; longer wavelets leave each peak (a separate region of the plane) free to rotate,
so a good SC can come with a poor unaligned SNR.

**Long spectra.** For a few thousand points the same transform falls short: its bank
reaches down to about ``1 / n`` cycles per sample, the low-pass row sees a few FFT bins,
and the rotation of everything above them is pinned only by the few long wavelets that
overlap those bins, so it barely shows in the SC. :func:`spectrum_config` keeps the bank
above ``fs / 256`` and lets the low-pass row carry the rest (the baseline); the rotation
then shows; start from ``init='zero-phase'`` (every phase 0, which is right at the centre
of a non-negative peak).

**Which transform.** The consistency projection uses ``W^+``, the canonical dual frame of
the bank (``projection='dual'``): the least-squares real signal for given coefficients,
exact and diagonal in frequency for periodic boundaries (``padtype=None``). The package's
one-integral inverse :func:`~saliency2signal.icwt` (``projection='icwt'``) is a left
inverse but not the least-squares one, so ``W icwt`` is an *oblique* projection and
Griffin-Lim stalls with it. With padding (the default ``padtype='reflect'``) the
transform is not circulant, the dual ignores the padded margins and Griffin-Lim stops
early; the gradient methods are exact for any padding. Use
``SSQConfig(wavelet='morlet', nv=16, padtype=None)`` for Griffin-Lim.

The measured figures (spectral convergence and SNR per method, signal and bank) are in
the README's phase-retrieval section, from ``benchmarks/bench_phase.py``.

The numerics (metrics, dual frame, Griffin-Lim, gradient fits) live in the internal
``_phase_core``; this module holds the public API, its checks and the PNG readers.

May import: numpy, torch, ``_validation``, ``_phase_core``, ``transform`` (and its
``_plan``), ``_scalogram_png`` (inside the PNG readers); never ``plot``, matplotlib or
another stage.

References
----------
.. [1] N. Perraudin, P. Balazs, P. L. Sondergaard, "A fast Griffin-Lim algorithm",
   IEEE WASPAA 2013.
.. [2] D. Griffin, J. Lim, "Signal estimation from modified short-time Fourier
   transform", IEEE Trans. ASSP 32(2), 1984.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from ._phase_core import (
    check_magnitude,
    dual_frame,
    dual_inverse,
    fit_gradient,
    griffin_lim,
    hilbert_rotate,
    phase_aligned_snr,
    rms_estimate,
    sc_db,
    snr,
    spectral_convergence,
)
from ._validation import (
    as_tensor,
    check_bool,
    check_choice,
    check_instance,
    check_mask,
    check_positive,
    check_real,
    complex_dtype,
)
from .transform import MIN_LENGTH, SSQConfig, cwt
from .transform._plan import check_n

__all__ = [
    "PhaseRetrievalResult",
    "retrieve_phase",
    "reconstruct_from_png",
    "magnitudes_from_png",
    "spectral_convergence",
    "snr",
    "phase_aligned_snr",
    "hilbert_rotate",
    "spectrum_config",
]

_METHODS = ("fgla", "gla", "lbfgs", "adam", "sgd")
_PROJECTIONS = ("dual", "icwt")


# =========================================================================== result
@dataclass(frozen=True)
class PhaseRetrievalResult:
    """Output of :func:`retrieve_phase`.

    Attributes
    ----------
    x : torch.Tensor, shape (..., n_times)
        The reconstructed real signal(s).
    Wx : torch.Tensor, shape (..., n_freqs, n_times)
        Its CWT (complex), in the configuration :attr:`config`.
    sc_db : numpy.ndarray, shape (...)
        Final spectral convergence in dB (inside the mask, if one was given); a 0-d
        array for a single signal, so ``float(result.sc_db)`` works.
    sc_history : numpy.ndarray, shape (n_records, ...)
        SC after each iteration (Griffin-Lim, Adam, SGD) or each function evaluation
        (L-BFGS).
    n_iter : int
        Iterations performed (L-BFGS: accepted steps).
    n_evals : int
        Transforms of a candidate signal (forward passes of the loss for the gradient
        methods).
    time_s : float
        Wall time in seconds.
    method : str
    config : SSQConfig
        The configuration of ``Wx`` (with the low-pass row if a ``lowpass`` was given).
    """

    x: torch.Tensor
    Wx: torch.Tensor
    sc_db: np.ndarray
    sc_history: np.ndarray
    n_iter: int
    n_evals: int
    time_s: float
    method: str
    config: SSQConfig = field(repr=False)


# =========================================================================== spectra
#: Lowest wavelet frequency of :func:`spectrum_config`, in cycles per sample.
SPECTRUM_FMIN = 1.0 / 256


def spectrum_config(
    n: int,
    *,
    fmin: float | None = None,
    mu: float = 4.0,
    nv: int = 16,
    fs: float = 1.0,
) -> SSQConfig:
    """Transform for phase retrieval of spectra: short Morlet, low-pass row, bank cut at ``fmin``.

    The bank is the default ``log-piecewise`` bank of ``SSQConfig(wavelet='morlet',
    mu=mu, nv=nv, padtype=None, lowpass_row=True, fs=fs)`` for ``n`` samples with the
    rows whose centre frequency (:meth:`~saliency2signal.SSQConfig.cwt_freqs`) lies
    below ``fmin`` removed; the low-pass row then carries everything below ``fmin``
    (the baseline and the broadest bumps). The rows that remain are identical to the
    full bank's.

    Parameters
    ----------
    n : int
        Signal length the bank is designed for (the scales are chosen for it and then
        kept fixed, as an explicit ``scaletype`` tuple).
    fmin : float, optional
        Lowest centre frequency of the wavelet bank, in the units of ``fs``. Default
        ``fs / 256`` (:data:`SPECTRUM_FMIN` cycles per sample): about the lowest row
        of the default bank at the Coffee length (286 samples).
    mu : float
        Morlet centre frequency (4: short wavelets tie each peak's phase down).
    nv : int
        Voices per octave.
    fs : float
        Sampling rate.

    Returns
    -------
    SSQConfig
        With ``padtype=None`` (periodic, what Griffin-Lim needs) and ``lowpass_row=True``.

    Raises
    ------
    ValueError
        If ``fmin`` is not in ``(0, fs / 2)`` or leaves fewer than two wavelet rows.
    TypeError
        If ``n`` is not an integer.

    Notes
    -----
    Why cut the bank: an analytic bank's magnitudes cannot see a rotation
    ``cos(t) x - sin(t) H{x}`` of the part of ``x`` above the low-pass band; only the
    rows that overlap that band (whose sign non-negativity fixes) pin it, and the
    longest wavelets do so weakly. With the full bank at N = 2048 the low-pass band is
    a few FFT bins wide and a rotation barely moves the SC, so Griffin-Lim stops with
    it unresolved; cut at ``fs / 256`` the band is wider and the rotation shows. Cutting
    higher helps further at the price of fewer wavelet rows and more left to the
    low-pass row; the measured tables are in the README (``benchmarks/bench_phase.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.phase import spectrum_config
    >>> cfg = spectrum_config(2048)
    >>> full = SSQConfig(wavelet="morlet", mu=4.0, nv=16, padtype=None, lowpass_row=True)
    >>> full.n_freqs(2048), cfg.n_freqs(2048)
    (151, 122)
    >>> bool(cfg.cwt_freqs(2048)[1] >= 1 / 256), cfg.lowpass_row, cfg.padtype is None
    (True, True, True)

    Three Lorentzian peaks on a sloped baseline, 1024 points, from the magnitudes alone
    (30 iterations are enough for this one):

    >>> from saliency2signal import cwt
    >>> from saliency2signal.phase import retrieve_phase, snr
    >>> k = np.arange(1024)
    >>> peaks = ((1.0, 205, 4.0), (0.7, 512, 30.0), (1.2, 768, 10.0))  # height, centre, HWHM
    >>> x = 0.3 + 1e-4 * k + sum(a / (1 + ((k - c) / w) ** 2) for a, c, w in peaks)
    >>> cfg = spectrum_config(1024)
    >>> res = retrieve_phase(cwt(x, cfg).Wx.abs(), cfg, n_iter=30, init="zero-phase",
    ...                      nonnegative=True)
    >>> bool(snr(res.x, x) > 30)  # unaligned: no sign, rotation or mean left
    True
    """
    n = check_n(n)
    fs = check_positive(fs, "fs")
    fmin = fs * SPECTRUM_FMIN if fmin is None else check_positive(fmin, "fmin")
    if fmin >= fs / 2:
        raise ValueError(f"{fmin=} must be below the Nyquist frequency {fs / 2}")
    full = SSQConfig(wavelet="morlet", mu=mu, nv=nv, padtype=None, lowpass_row=True, fs=fs)
    scales, freqs = full.scales(n)[1:], full.cwt_freqs(n)[1:]
    keep = np.sort(scales[freqs >= fmin])
    if keep.size < 2:
        raise ValueError(
            f"{fmin=} leaves {keep.size} wavelet row(s) for n={n} (the highest centre "
            f"frequency is {freqs.max():.4g}); choose a lower fmin"
        )
    return dataclasses.replace(full, scaletype=tuple(float(s) for s in keep))


# =========================================================================== main API
def retrieve_phase(
    magnitude,
    config: SSQConfig,
    *,
    method: str = "fgla",
    n_iter: int = 100,
    mask=None,
    init=None,
    rng: int | np.random.Generator | None = None,
    alpha: float = 0.99,
    projection: str = "dual",
    lowpass=None,
    nonnegative: bool = False,
    lr: float | None = None,
) -> PhaseRetrievalResult:
    """Find a real signal whose CWT magnitude matches ``magnitude``.

    Parameters
    ----------
    magnitude : array_like, shape (..., n_freqs, n_times)
        Target ``|W(x)|`` in the row order of ``config`` (lowest frequency in row 0;
        with ``lowpass_row=True`` row 0 is ``|lowpass| * C / 2``). Complex input is
        replaced by its modulus. float32 works in float32, anything else in float64.
    config : SSQConfig
        The transform that produced the magnitudes. Griffin-Lim needs
        ``padtype=None`` to converge well (see the module notes).
    method : {'fgla', 'gla', 'lbfgs', 'adam', 'sgd'}
        See the module docstring. With a ``mask``, ``'lbfgs'`` is the one that works.
    n_iter : int
        Iterations (Griffin-Lim, Adam, SGD) or function evaluations (L-BFGS).
    mask : array_like of bool or float, optional
        Cells where ``magnitude`` is known, broadcastable to its shape. Outside the mask
        the magnitudes are ignored (Griffin-Lim keeps the current coefficients there).
    init : array_like, PhaseRetrievalResult or 'zero-phase', optional
        Starting signal of shape ``(..., n_times)``, e.g. the result of a
        whole-scalogram run; ``'zero-phase'`` starts from the dual-frame inverse of the
        magnitudes themselves (all phases 0: symmetric positive bumps at the maxima of
        ``|W|``, which is right for non-negative peaks, whose coefficients have phase 0
        at their centres; the start to use for spectra, see :func:`spectrum_config`).
        Default: white Gaussian noise with the RMS implied by ``magnitude``, drawn from
        ``rng``.
    rng : int, numpy.random.Generator or None
        Seed or generator of the random start.
    alpha : float
        Momentum of fast Griffin-Lim, ``0 <= alpha < 1`` (ignored by other methods).
    projection : {'dual', 'icwt'}
        Signal estimate inside Griffin-Lim: the least-squares canonical dual frame, or
        the package's one-integral :func:`~saliency2signal.icwt` (stalls; kept to show
        it).
    lowpass : array_like, shape (..., n_times), optional
        A known low-pass term (``cwt(x, cfg).lowpass``, signed). It is added as a real
        row 0 (the configuration gains ``lowpass_row=True`` if it lacks it) and enforced
        with its sign, which fixes the mean, the baseline and the rotation.
    nonnegative : bool
        Prior ``y >= 0`` (spectra): a projection in Griffin-Lim, Adam and SGD, the
        parametrisation ``y = u**2`` in L-BFGS.
    lr : float, optional
        Learning rate. Adam: relative to the estimated signal RMS (default 1). SGD:
        absolute (default ``0.5 / L``, with ``L`` the largest eigenvalue of the
        Gauss-Newton Hessian of the MSE). L-BFGS: step scale (default 1).

    Returns
    -------
    PhaseRetrievalResult

    Raises
    ------
    ValueError
        For an unknown ``method``/``projection``, a row count that does not match
        ``config``, negative or non-finite magnitudes, a mask that does not broadcast,
        or an ``init``/``lowpass`` of the wrong length.
    TypeError
        For a ``config`` that is not an :class:`~saliency2signal.SSQConfig`.

    Notes
    -----
    The ambiguities listed in the module docstring remain: compare with
    :func:`phase_aligned_snr`. Griffin-Lim reports the SC of the signal it returns,
    computed from the transform it needs anyway for the next iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, cwt
    >>> from saliency2signal.phase import phase_aligned_snr, retrieve_phase
    >>> n = np.arange(256)
    >>> x = np.cos(2 * np.pi * (0.03 * n + 0.2 * n**2 / 512))
    >>> cfg = SSQConfig(wavelet="morlet", nv=16, padtype=None)
    >>> res = retrieve_phase(cwt(x, cfg).Wx.abs(), cfg, n_iter=100, rng=0)
    >>> bool(res.sc_db < -25), res.n_iter, res.sc_history.shape
    (True, 100, (100,))
    >>> round(float(phase_aligned_snr(res.x, x)))  # SC is not yet SNR: more iterations
    6
    """
    check_instance(config, SSQConfig, "config")
    check_choice(method, _METHODS, "method")
    check_choice(projection, _PROJECTIONS, "projection")
    n_iter = check_positive(n_iter, "n_iter", integer=True)
    alpha = check_real(alpha, "alpha", low=0.0, high=1.0, high_open=True)
    if lr is not None:
        lr = check_positive(lr, "lr")
    check_bool(nonnegative, "nonnegative")

    S, m, known_lp, config, batch_shape = _problem(magnitude, config, mask, lowpass)
    B, F, n = S.shape
    dual = dual_frame(config, n, S.dtype, str(S.device))
    y0 = _initial(init, rng, B, n, batch_shape, S, dual, m, nonnegative)
    t0 = time.perf_counter()
    if method in ("fgla", "gla"):
        y, Wy, hist, n_it, n_ev = griffin_lim(
            S,
            config,
            y0,
            m,
            dual,
            alpha=alpha if method == "fgla" else 0.0,
            n_iter=n_iter,
            projection=projection,
            known_lp=known_lp,
            nonnegative=nonnegative,
        )
    else:
        y, hist, n_it, n_ev = fit_gradient(
            S,
            config,
            y0,
            m,
            dual,
            method=method,
            n_iter=n_iter,
            lr=lr,
            known_lp=known_lp,
            nonnegative=nonnegative,
        )
        Wy = cwt(y, config).Wx
    elapsed = time.perf_counter() - t0
    return PhaseRetrievalResult(
        x=y.reshape(*batch_shape, n),
        Wx=Wy.reshape(*batch_shape, F, n),
        sc_db=sc_db(Wy.abs(), S, m).reshape(batch_shape),
        sc_history=np.stack(hist).reshape(len(hist), *batch_shape),
        n_iter=n_it,
        n_evals=n_ev,
        time_s=elapsed,
        method=method,
        config=config,
    )


class _Problem(NamedTuple):
    """The checked inputs of :func:`retrieve_phase`, batch packed to ``B``."""

    S: torch.Tensor  # (B, F, n) magnitudes, with the known low-pass row if one was given
    mask: torch.Tensor | None  # (B, F, n) in S's dtype
    known_lp: torch.Tensor | None  # (B, n) signed low-pass term
    config: SSQConfig  # with lowpass_row=True if a low-pass term was given
    batch_shape: torch.Size


def _problem(magnitude, config: SSQConfig, mask, lowpass) -> _Problem:
    """Check magnitudes, mask and low-pass term against each other and ``config``."""
    S = check_magnitude(magnitude)
    batch_shape, (F, n) = S.shape[:-2], S.shape[-2:]
    if n < MIN_LENGTH:
        raise ValueError(f"magnitude has n_times={n}, below the minimum of {MIN_LENGTH}")
    S = S.reshape(-1, F, n)
    B = S.shape[0]
    m = None
    if mask is not None:
        m = check_mask(mask, torch.Size((*batch_shape, F, n)), device=S.device)
        m = m.to(S.dtype).expand(*batch_shape, F, n).reshape(B, F, n)

    known_lp = None
    if lowpass is not None:
        known_lp = as_tensor(lowpass, name="lowpass").to(S.device, S.dtype)
        if known_lp.shape != (*batch_shape, n):
            raise ValueError(
                f"lowpass has shape {tuple(known_lp.shape)}; expected {(*batch_shape, n)}"
            )
        known_lp = known_lp.reshape(B, n)
        if not config.lowpass_row:
            config = dataclasses.replace(config, lowpass_row=True)
            c0 = config.css() / 2.0
            S = torch.cat([(c0 * known_lp.abs())[:, None, :], S], dim=1)
            if m is not None:
                m = torch.cat([torch.ones_like(m[:, :1]), m], dim=1)
            F += 1
    expected = config.n_freqs(n)
    if expected != F:
        raise ValueError(
            f"magnitude has {F} rows but config gives {expected} for n_times={n}; pass "
            "the SSQConfig that produced it"
        )
    return _Problem(S, m, known_lp, config, batch_shape)


def _initial(init, rng, B, n, batch_shape, S, dual, m, nonnegative) -> torch.Tensor:
    if isinstance(init, str):
        if init != "zero-phase":
            raise ValueError(f"init={init!r} must be 'zero-phase', an array or a result")
        y = dual_inverse((S if m is None else S * m).to(complex_dtype(S.dtype)), dual)
        return y.clamp(min=0) if nonnegative else y
    if init is not None:
        if isinstance(init, PhaseRetrievalResult):
            init = init.x
        y = as_tensor(init, name="init").detach()
        if y.is_complex():
            raise TypeError(f"init has complex dtype {y.dtype}; expected a real signal")
        if y.shape != (*batch_shape, n):
            raise ValueError(f"init has shape {tuple(y.shape)}; expected {(*batch_shape, n)}")
        return y.to(S.device, S.dtype).reshape(B, n).clone()
    gen = np.random.default_rng(rng)
    rms = rms_estimate(S, dual, m)
    noise = torch.as_tensor(gen.standard_normal((B, n)), dtype=S.dtype, device=S.device)
    return noise * rms[:, None]


# =========================================================================== images
def magnitudes_from_png(
    path: str | os.PathLike,
    *,
    geometry=None,
    n: int | None = None,
    dynamic_range: float = 60.0,
    peak: float = 1.0,
) -> np.ndarray:
    """Turn a scalogram PNG from ``export_scalogram_png`` back into magnitudes.

    Parameters
    ----------
    path : str or os.PathLike
        The image (any size: the pixels are averaged back over each cell's footprint).
    geometry : ScalogramGeometry or path, optional
        Its geometry; by default the JSON sidecar, else the PNG text chunk.
    n : int, optional
        Number of time samples wanted; the cell columns are linearly interpolated to
        ``n`` when the image grid has a different width (default: the grid's width).
    dynamic_range : float
        Decibels shown by a ``scale='log'`` image (the ``dynamic_range`` passed to the
        export, 60 by default; it is not recorded in the geometry).
    peak : float
        Magnitude of the brightest cell. The absolute level is not recorded, so the
        result (and a reconstruction from it) is known only up to this gain.

    Returns
    -------
    numpy.ndarray, shape (n_freqs, n)
        Non-negative magnitudes, row 0 = lowest frequency. A linear image is read as
        ``level / 255 * peak`` (its minimum is assumed to be 0); a log image as
        ``peak * 10 ** ((level / 255 - 1) * dynamic_range / 20)``, the darkest level
        (below the range) as 0.

    Raises
    ------
    ValueError
        For an unreadable image, a missing geometry or bad ``dynamic_range``/``peak``.

    Notes
    -----
    8-bit gray levels quantise the magnitudes (about -50 dB for a linear image), which
    bounds the spectral convergence any reconstruction can reach.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, cwt
    >>> from saliency2signal.drawing import export_scalogram_png
    >>> from saliency2signal.phase import magnitudes_from_png
    >>> cfg = SSQConfig(nv=8, padtype=None)
    >>> W = cwt(np.cos(0.3 * np.arange(256)), cfg).Wx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = export_scalogram_png(W, pathlib.Path(tmp) / "s.png", config=cfg, scale="log")
    ...     S = magnitudes_from_png(pathlib.Path(tmp) / "s.png", peak=float(W.abs().max()))
    >>> S.shape == tuple(W.shape), bool(np.abs(S - W.abs().numpy()).max() < 0.05)
    (True, True)
    """
    from pathlib import Path

    from ._scalogram_png import area_mean, read_rgb, resolve_geometry

    dynamic_range = check_positive(dynamic_range, "dynamic_range")
    peak = check_positive(peak, "peak")
    path = Path(path)
    rgb, embedded = read_rgb(path)
    geom = resolve_geometry(geometry, path, embedded)
    gray = rgb.mean(axis=-1)
    if geom.cmap == "gray_r":
        gray = 255.0 - gray
    t = np.clip(area_mean(gray[::-1], geom.n_freqs, geom.n_times) / 255.0, 0.0, 1.0)
    if geom.scale == "log":
        mag = np.where(t > 0.5 / 255, 10.0 ** ((t - 1.0) * dynamic_range / 20.0), 0.0)
    else:
        mag = t
    mag = mag * peak
    if n is not None:
        n = check_positive(n, "n", integer=True)
        if n != geom.n_times:
            src = (np.arange(geom.n_times) + 0.5) / geom.n_times
            dst = (np.arange(n) + 0.5) / n
            mag = np.stack([np.interp(dst, src, row) for row in mag])
    return mag


def reconstruct_from_png(
    path: str | os.PathLike,
    *,
    config: SSQConfig | None = None,
    geometry=None,
    n: int | None = None,
    dynamic_range: float = 60.0,
    peak: float = 1.0,
    **kwargs,
) -> PhaseRetrievalResult:
    """Read a scalogram PNG (:func:`magnitudes_from_png`) and run :func:`retrieve_phase`.

    Parameters
    ----------
    path : str or os.PathLike
    config : SSQConfig, optional
        Transform of the image; default: the one recorded in its geometry.
    geometry, n, dynamic_range, peak
        As :func:`magnitudes_from_png`.
    **kwargs
        Passed to :func:`retrieve_phase` (``method``, ``n_iter``, ``rng``, ...).

    Returns
    -------
    PhaseRetrievalResult

    Raises
    ------
    ValueError
        If no configuration is given or recorded, or as :func:`magnitudes_from_png` and
        :func:`retrieve_phase`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, cwt
    >>> from saliency2signal.drawing import export_scalogram_png
    >>> from saliency2signal.phase import reconstruct_from_png
    >>> cfg = SSQConfig(wavelet="morlet", nv=16, padtype=None)
    >>> x = np.cos(2 * np.pi * 0.05 * np.arange(256))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = export_scalogram_png(cwt(x, cfg).Wx, pathlib.Path(tmp) / "s.png", config=cfg)
    ...     res = reconstruct_from_png(pathlib.Path(tmp) / "s.png", n_iter=50, rng=0)
    >>> res.x.shape, bool(res.sc_db < -20)
    (torch.Size([256]), True)
    """
    from pathlib import Path

    from ._scalogram_png import read_rgb, resolve_geometry

    if config is None:
        path = Path(path)
        geom = resolve_geometry(geometry, path, read_rgb(path)[1])
        config = geom.ssq_config
        if config is None:
            raise ValueError(f"{str(path)!r} records no transform configuration; pass config=")
        geometry = geom
    mag = magnitudes_from_png(path, geometry=geometry, n=n, dynamic_range=dynamic_range, peak=peak)
    return retrieve_phase(mag, config, **kwargs)
