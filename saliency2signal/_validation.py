"""Shared input checks. Every public function validates through these helpers.

They raise ``TypeError`` for a wrong type and ``ValueError`` for a wrong value or shape,
always naming the offending value, and never modify their input.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["as_tensor", "check_signal", "check_coefficients", "check_mask", "check_positive"]

_REAL_DTYPES = (torch.float32, torch.float64)
_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}
_REAL_OF = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def as_tensor(x, *, name: str = "x") -> torch.Tensor:
    """Return ``x`` as a tensor without copying when it already is one.

    NumPy arrays are wrapped (shared memory when possible); object arrays and other
    non-numeric inputs raise ``TypeError``.
    """
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype == object or not (
            np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)
        ):
            raise TypeError(f"{name} has dtype {x.dtype}; expected a numeric array")
        if not x.dtype.isnative:
            x = x.astype(x.dtype.newbyteorder("="))
        elif not x.flags.writeable:  # torch.from_numpy warns on read-only memory
            x = x.copy()
        return torch.from_numpy(x)
    if isinstance(x, (list, tuple, numbers.Number)):
        try:
            arr = np.asarray(x)
        except ValueError as exc:  # ragged lists
            raise ValueError(f"{name} could not be converted to an array: {exc}") from None
        return as_tensor(arr, name=name)
    raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def check_signal(x, *, min_length: int = 1, dtype=None, name: str = "x") -> torch.Tensor:
    """Validate a real signal batch of shape ``(..., n_times)``.

    Parameters
    ----------
    x : array_like, shape (..., n_times)
        Real floating-point signal(s).
    min_length : int
        Smallest accepted ``n_times``.
    dtype : torch.dtype or None
        If given, the signal is cast to it; otherwise float32/float64 are kept and any
        other dtype is rejected.
    name : str
        Name used in error messages.

    Returns
    -------
    torch.Tensor
        The signal (a view of the input when no cast is needed).
    """
    t = as_tensor(x, name=name)
    if t.is_complex():
        raise TypeError(f"{name} has complex dtype {t.dtype}; expected a real signal")
    if t.ndim == 0:
        raise ValueError(f"{name} is 0-d (a scalar); expected shape (..., n_times)")
    if dtype is None:
        if t.dtype not in _REAL_DTYPES:
            raise TypeError(
                f"{name} has dtype {t.dtype}; expected float32 or float64 "
                "(cast integers explicitly, e.g. x.astype(np.float32))"
            )
    else:
        if not (t.dtype.is_floating_point or t.dtype in _REAL_DTYPES):
            raise TypeError(f"{name} has dtype {t.dtype}; expected a floating-point signal")
        t = t.to(dtype)
    n = t.shape[-1]
    if n == 0 or t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)})")
    if n < min_length:
        raise ValueError(f"{name} has n_times={n} samples; at least {min_length} are required")
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return t


def check_coefficients(c, *, n_freqs: int | None = None, name: str = "Tx") -> torch.Tensor:
    """Validate complex coefficients of shape ``(..., n_freqs, n_times)``."""
    t = as_tensor(c, name=name)
    if not t.is_complex():
        raise TypeError(
            f"{name} has dtype {t.dtype}; expected complex coefficients (complex64 or "
            "complex128). Inverting a magnitude or a heatmap is meaningless: pass the "
            "complex Tx/Wx and select cells with `mask=`"
        )
    if t.ndim < 2:
        raise ValueError(f"{name} has shape {tuple(t.shape)}; expected (..., n_freqs, n_times)")
    if n_freqs is not None and t.shape[-2] != n_freqs:
        raise ValueError(
            f"{name} has {t.shape[-2]} frequency rows but the configuration gives {n_freqs} "
            f"for n_times={t.shape[-1]}"
        )
    return t


def check_mask(mask, shape: torch.Size, *, device, name: str = "mask") -> torch.Tensor:
    """Validate a boolean or real mask broadcastable to ``shape``; return it as a tensor."""
    m = as_tensor(mask, name=name)
    if m.is_complex():
        raise TypeError(f"{name} has complex dtype {m.dtype}; expected boolean or real")
    if m.ndim < 2:
        raise ValueError(
            f"{name} has shape {tuple(m.shape)}; expected (..., n_freqs, n_times) "
            f"broadcastable to {tuple(shape)}"
        )
    try:
        torch.broadcast_shapes(m.shape, shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(m.shape)} does not broadcast to coefficients of shape "
            f"{tuple(shape)}"
        ) from None
    if torch.broadcast_shapes(m.shape, shape) != shape:
        raise ValueError(
            f"{name} of shape {tuple(m.shape)} would enlarge coefficients of shape "
            f"{tuple(shape)}"
        )
    if m.dtype != torch.bool and not bool(torch.isfinite(m).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return m.to(device)


def check_positive(value, name: str, *, integer: bool = False, allow_zero: bool = False):
    """Return ``value`` if it is a positive (finite) number, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a number")
    if integer and not float(value).is_integer():
        raise ValueError(f"{name}={value!r} must be an integer")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}={value!r} must be {'>= 0' if allow_zero else '> 0'}")
    return int(value) if integer else float(value)


def complex_dtype(real_dtype: torch.dtype) -> torch.dtype:
    """Complex dtype matching a real one (float32 -> complex64)."""
    return _COMPLEX_OF[real_dtype]


def real_dtype(complex_dtype_: torch.dtype) -> torch.dtype:
    """Real dtype matching a complex one (complex64 -> float32)."""
    return _REAL_OF[complex_dtype_]
