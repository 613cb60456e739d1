"""Batched, differentiable continuous wavelet and synchrosqueezed transforms.

The numbers are those of ``ssqueezepy.cwt`` / ``ssqueezepy.ssq_cwt`` 0.6.6 for the same
parameters; the layout is ours: signals ``(..., n_times)`` map to coefficients
``(..., n_freqs, n_times)`` with the **lowest frequency in row 0** (ssqueezepy puts the
highest first; see :func:`from_ssqueezepy` / :func:`to_ssqueezepy`). dtype and device
follow the input (float32 -> complex64, float64 -> complex128, CPU or CUDA).

Everything that does not depend on the data (scales, frequency grid, wavelet bank,
admissibility constant, low-pass complement) is derived from one frozen
:class:`SSQConfig` and the signal length, and cached per (config, n, dtype, device).

The one-integral inverse sums coefficients column by column,
``x[n] = (2 / C) Re sum_k M[k, n] Tx[k, n]``, so any mask ``M`` selects the part of the
signal that lives in the selected cells, and complementary masks add up exactly.

Layout (each module imports only those above it):

- ``_plan``: what does not depend on the data (``check_n``, ``design``,
  ``filter_bank``, the low-pass filter, the padding index);
- ``_config``: :class:`SSQConfig` and its derived values;
- ``_results``: :class:`CWTResult`, :class:`SSQResult`, :class:`Decomposition` and the
  ssqueezepy row-order converters;
- ``_forward``: :func:`cwt`, :func:`ssq_cwt`, the Tx-only ``ssq_tx`` and :class:`SSQCWT`;
- ``_inverse``: :func:`issq_cwt`, :func:`icwt`, :func:`decompose`;
- ``_verify``: coefficients made elsewhere in an explicit row order
  (:func:`coefficients_in_order`), checked against the signals
  (:func:`verify_coefficients`).

May import: numpy, scipy (lazily), torch, ``_kernels``, ``_scales``, ``_wavelets``,
``_serialize``, ``_validation``, ``_grid``; never another stage (``imaging``,
``saliency``, ``mask``, ...), which all build on this one.
"""

from __future__ import annotations

from ._config import SSQConfig
from ._forward import SSQCWT, cwt, ssq_cwt
from ._inverse import decompose, icwt, issq_cwt
from ._plan import MIN_LENGTH
from ._results import (
    ORDERS,
    CWTResult,
    Decomposition,
    SSQResult,
    coefficients_in_order,
    from_ssqueezepy,
    to_ssqueezepy,
)
from ._verify import verify_coefficients

__all__ = [
    "SSQConfig",
    "CWTResult",
    "SSQResult",
    "Decomposition",
    "cwt",
    "ssq_cwt",
    "icwt",
    "issq_cwt",
    "decompose",
    "from_ssqueezepy",
    "to_ssqueezepy",
    "SSQCWT",
    "MIN_LENGTH",
    "ORDERS",
    "coefficients_in_order",
    "verify_coefficients",
]
