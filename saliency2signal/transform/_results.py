"""Result records of the transform and the conversions to and from ssqueezepy's layout.

:class:`CWTResult`, :class:`SSQResult` and :class:`Decomposition` are small frozen
dataclasses; :func:`from_ssqueezepy` / :func:`to_ssqueezepy` flip the row order
(ssqueezepy puts the highest frequency first, we the lowest);
:func:`coefficients_in_order` takes an array in either order (:data:`ORDERS`).

Internal to :mod:`saliency2signal.transform` (which re-exports every name here).
May import: numpy, torch, ``_validation``, ``transform._config``; never the forward or
inverse modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_choice
from ._config import SSQConfig

__all__ = [
    "ORDERS",
    "CWTResult",
    "Decomposition",
    "SSQResult",
    "coefficients_in_order",
    "from_ssqueezepy",
    "to_ssqueezepy",
]


@dataclass(frozen=True)
class CWTResult:
    """Output of :func:`cwt`.

    Attributes
    ----------
    Wx : torch.Tensor, shape (..., n_freqs, n_times)
        Complex CWT, lowest frequency in row 0.
    dWx : torch.Tensor or None
        Time derivative of ``Wx`` (per unit time), when requested.
    scales : numpy.ndarray, shape (n_freqs,)
        Scale of each row (descending).
    freqs : numpy.ndarray, shape (n_freqs,)
        Centre frequency of each row (ascending).
    lowpass : torch.Tensor, shape (..., n_times)
        The low-pass complement of the wavelet bank (mean and slow baseline).
    config : SSQConfig
    """

    Wx: torch.Tensor
    dWx: torch.Tensor | None
    scales: np.ndarray
    freqs: np.ndarray
    lowpass: torch.Tensor
    config: SSQConfig = field(repr=False)


@dataclass(frozen=True)
class SSQResult:
    """Output of :func:`ssq_cwt`.

    Attributes
    ----------
    Tx : torch.Tensor, shape (..., n_freqs, n_times)
        Synchrosqueezed CWT, lowest frequency in row 0.
    Wx : torch.Tensor, shape (..., n_freqs, n_times)
        The CWT it was computed from (same row count; rows are scales, descending).
    freqs : numpy.ndarray, shape (n_freqs,)
        Frequency of each row of ``Tx`` (ascending).
    scales : numpy.ndarray, shape (n_freqs,)
        Scale of each row of ``Wx`` (descending).
    lowpass : torch.Tensor, shape (..., n_times)
        The low-pass complement (see :func:`decompose`).
    config : SSQConfig
    """

    Tx: torch.Tensor
    Wx: torch.Tensor
    freqs: np.ndarray
    scales: np.ndarray
    lowpass: torch.Tensor
    config: SSQConfig = field(repr=False)

    def to_ssqueezepy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(Tx, Wx, ssq_freqs, scales)`` as NumPy arrays in ssqueezepy's order.

        Rows are flipped (highest frequency first); ``ssq_freqs`` descending and
        ``scales`` ascending, as ``ssqueezepy.ssq_cwt`` returns them. The low-pass row,
        if any, is dropped (ssqueezepy has none).
        """
        skip = int(self.config.lowpass_row)
        tx = to_ssqueezepy(self.Tx[..., skip:, :]).detach().cpu().numpy()
        wx = to_ssqueezepy(self.Wx[..., skip:, :]).detach().cpu().numpy()
        return tx, wx, self.freqs[skip:][::-1].copy(), self.scales[skip:][::-1].copy()


def from_ssqueezepy(coef):
    """Reorder ssqueezepy coefficients (highest frequency first) to ours.

    Parameters
    ----------
    coef : numpy.ndarray or torch.Tensor, shape (..., n_freqs, n_times)
        ``Tx`` or ``Wx`` as returned by ``ssqueezepy.ssq_cwt`` / ``cwt`` (with the
        default ``flipud=True``), or any array with rows in that order.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The same coefficients, lowest frequency in row 0 (a copy for NumPy input, a new
        tensor for torch input).

    Notes
    -----
    ssqueezepy's ``ssq_freqs`` are descending and ``scales`` ascending; reverse them
    with ``[::-1]`` to index our rows. With ``flipud=False`` ssqueezepy's Tx rows are
    already ascending but its returned ``ssq_freqs`` are not reversed to match (a
    known defect): do not flip Tx in that case.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6.0).reshape(3, 2)
    >>> from_ssqueezepy(a)[0].tolist()
    [4.0, 5.0]
    """
    if isinstance(coef, torch.Tensor):
        if coef.ndim < 2:
            raise ValueError(f"coef has shape {tuple(coef.shape)}; expected (..., freq, time)")
        return coef.flip(-2)
    arr = np.asarray(coef)
    if arr.ndim < 2:
        raise ValueError(f"coef has shape {arr.shape}; expected (..., freq, time)")
    return arr[..., ::-1, :].copy()


def to_ssqueezepy(coef):
    """Reorder our coefficients (lowest frequency first) to ssqueezepy's order.

    The inverse of :func:`from_ssqueezepy` (a flip of axis -2, which is its own
    inverse).
    """
    return from_ssqueezepy(coef)


@dataclass(frozen=True)
class Decomposition:
    """``x = lowpass + oscillatory + residual``, all of shape ``(..., n_times)``.

    Attributes
    ----------
    lowpass : torch.Tensor
        What the wavelet bank never sees: the mean and slow baseline, through the
        scaling filter complementary to the discrete bank below its largest scale.
    oscillatory : torch.Tensor
        The one-integral inverse of the whole synchrosqueezed plane.
    residual : torch.Tensor
        The exact remainder (boundary effects, the band above the smallest scale).
    x : torch.Tensor
        The signal, as the transform saw it (after any dtype cast).
    """

    lowpass: torch.Tensor
    oscillatory: torch.Tensor
    residual: torch.Tensor
    x: torch.Tensor

    def energy_fractions(self) -> dict[str, torch.Tensor]:
        """Squared-norm of each term relative to ``||x||^2`` (per signal)."""
        ex = (self.x**2).sum(-1)
        ex = torch.where(ex > 0, ex, torch.ones_like(ex))
        return {
            k: (getattr(self, k) ** 2).sum(-1) / ex for k in ("lowpass", "oscillatory", "residual")
        }


#: Row orders of coefficients: ``'ours'`` (lowest frequency in row 0) or
#: ``'ssqueezepy'`` (highest first, as ``ssqueezepy.ssq_cwt`` returns them).
ORDERS = ("ours", "ssqueezepy")


def coefficients_in_order(coef, order: str = "ours"):
    """Return ``coef`` with rows in our order (lowest frequency first).

    Parameters
    ----------
    coef : numpy.ndarray or torch.Tensor, shape (..., n_freqs, n_times)
    order : {'ours', 'ssqueezepy'}
        The order ``coef`` is in; ``'ssqueezepy'`` rows are flipped.

    Examples
    --------
    >>> import numpy as np
    >>> coefficients_in_order(np.array([[1.0], [2.0]]), "ssqueezepy").ravel().tolist()
    [2.0, 1.0]
    """
    check_choice(order, ORDERS, "order")
    return from_ssqueezepy(coef) if order == "ssqueezepy" else coef
