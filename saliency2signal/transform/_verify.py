"""Is this ``Tx`` the transform of these signals? Coefficients made elsewhere, checked.

Coefficients computed by the researcher (``ssqueezepy.ssq_cwt``, another tool, an old
run) enter the package with an explicit row order (``order='ours'`` or
``'ssqueezepy'``). When the signals are at hand :func:`verify_coefficients` recomputes
the transform and refuses coefficients in the other order or made with another
configuration, with a message saying which.

May import: numpy, scipy, torch, ``_validation`` and the modules above it in
``transform`` (``_config``, ``_forward``, ``_results``).
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_choice, check_real
from ._config import SSQConfig
from ._forward import ssq_cwt
from ._results import ORDERS, coefficients_in_order, from_ssqueezepy

__all__ = ["VERIFY_TOLERANCE", "verify_coefficients"]

#: Largest relative difference of the row-smoothed magnitudes accepted by
#: :func:`verify_coefficients`. ssqueezepy's float32 ``ssq_cwt`` reassigns some energy
#: to a neighbouring row by rounding (a raw relative difference near 0.5 on the Coffee
#: spectra, 0.07 after smoothing over 2 rows); reversed rows give about 1.4, another
#: wavelet or ``nv`` at the same grid size 0.4 or more.
VERIFY_TOLERANCE = 0.2
#: Standard deviation (rows) of the Gaussian the magnitudes are smoothed with.
_SMOOTH_ROWS = 2.0


def _smoothed(a: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.abs(a).astype(np.float64), _SMOOTH_ROWS, axis=-2)


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """Relative difference of the row-smoothed magnitudes (``b`` the reference)."""
    sa, sb = _smoothed(a), _smoothed(b)
    return float(np.linalg.norm(sa - sb) / max(np.linalg.norm(sb), np.finfo(float).tiny))


def verify_coefficients(
    coef,
    x,
    config: SSQConfig,
    *,
    order: str = "ours",
    tolerance: float = VERIFY_TOLERANCE,
) -> float:
    """Check that ``coef`` is ``ssq_cwt(x, config).Tx`` in the given row order.

    The transform is recomputed and the magnitudes compared after smoothing over a few
    rows (so that a reassignment into the neighbouring row by float32 rounding does not
    count); phases are not compared.

    Parameters
    ----------
    coef : array_like of complex, shape (..., n_freqs, n_times)
        The researcher's ``Tx``.
    x : array_like, shape (..., n_times)
        The signals it was computed from.
    config : SSQConfig
        The transform it should have been made with.
    order : {'ours', 'ssqueezepy'}
        Row order of ``coef``.
    tolerance : float
        Largest accepted relative difference (default :data:`VERIFY_TOLERANCE`).

    Returns
    -------
    float
        The relative difference of the smoothed magnitudes.

    Raises
    ------
    ValueError
        If the grid differs (naming both shapes), if the rows are in the other order
        (naming the ``order=`` to pass), or if the coefficients differ from the
        recomputed ones by more than ``tolerance`` (another wavelet, ``nv``, ``fs``,
        scale grid or other signals).

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig, ssq_cwt, to_ssqueezepy
    >>> x = np.random.default_rng(0).standard_normal((2, 256))
    >>> cfg = SSQConfig(nv=8)
    >>> tx = ssq_cwt(x, cfg).Tx.numpy()
    >>> verify_coefficients(tx, x, cfg) < 1e-12
    True
    >>> try:
    ...     verify_coefficients(to_ssqueezepy(tx), x, cfg)
    ... except ValueError as err:
    ...     print(str(err).split(": ")[-1])
    pass order='ssqueezepy' (--order ssqueezepy)
    """
    check_choice(order, ORDERS, "order")
    check_real(tolerance, "tolerance", low=0, low_open=True)
    given = coef.detach().cpu().numpy() if isinstance(coef, torch.Tensor) else np.asarray(coef)
    xs = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    xs = np.asarray(xs, dtype=np.float64)
    n = int(xs.shape[-1])
    expected = (*xs.shape[:-1], config.n_freqs(n), n)
    if given.shape != expected:
        raise ValueError(
            f"the coefficients have shape {given.shape}; ssq_cwt of the signals with the "
            f"pipeline's transform gives {expected} (another nv, scale grid or length?)"
        )
    if not np.iscomplexobj(given):
        raise ValueError("the coefficients are real; pass the complex Tx (not |Tx|)")
    ours = ssq_cwt(xs, config).Tx.numpy()
    given = coefficients_in_order(given, order)
    diff = _difference(given, ours)
    if diff <= tolerance:
        return diff
    flipped = _difference(from_ssqueezepy(given), ours)
    if flipped <= tolerance:
        other = "ssqueezepy" if order == "ours" else "ours"
        where = (
            "ssqueezepy's order (highest frequency first)"
            if other == "ssqueezepy"
            else "our order (lowest frequency first)"
        )
        raise ValueError(
            f"the coefficients' rows are in {where}: pass order={other!r} (--order {other})"
        )
    raise ValueError(
        f"the coefficients differ from ssq_cwt of the signals with the pipeline's transform "
        f"(relative difference {diff:.2f} of the smoothed magnitudes, at most {tolerance} "
        "accepted): another wavelet, nv, fs or scale grid, or other signals?"
    )
