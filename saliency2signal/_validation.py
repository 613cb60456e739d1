"""Shared input checks: every public function validates its arguments through these.

One error type per kind of mistake, the same in every module:

- ``TypeError``: the argument has the wrong type (a float or a bool where an integer is
  asked for, a string where a number is, complex data where real data is, a non-callable
  callback);
- ``ValueError``: the type is right but the value is not (out of range, NaN or infinite,
  not one of the permitted choices, a wrong shape or length).

Each message names the argument and its value. Nothing here modifies its input. Besides
the checks: :func:`to_numpy`, :func:`readonly` and :func:`finite_or_none`, the
conversions every result class needs, and :data:`DTYPES`, the one map from dtype names
to torch dtypes.

May import: numpy, torch. Imported by every other module of the package.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Sequence

import numpy as np
import torch

__all__ = [
    "DTYPES",
    "as_tensor",
    "check_axis",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_coefficients",
    "check_index",
    "check_instance",
    "check_int",
    "check_mask",
    "check_positive",
    "check_real",
    "check_rng",
    "check_signal",
    "check_strings",
    "complex_dtype",
    "finite_or_none",
    "readonly",
    "real_dtype",
    "to_numpy",
    "torch_dtype",
]

#: Names of the real dtypes a configuration may fix, and the torch dtype of each.
DTYPES = {"float32": torch.float32, "float64": torch.float64}

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
            f"{name} of shape {tuple(m.shape)} would enlarge coefficients of shape {tuple(shape)}"
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


def torch_dtype(name: str | None) -> torch.dtype | None:
    """Return the torch dtype named by a configuration (``None`` stays ``None``)."""
    return None if name is None else DTYPES[name]


# ------------------------------------------------------------------ scalars
def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer within ``[minimum, maximum]``.

    ``bool`` and floats (even ``3.0``) are a ``TypeError``; NumPy integers are accepted.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r} must be <= {maximum}")
    return int(value)


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a ``float`` within the interval given by its bounds.

    ``low_open``/``high_open`` exclude the bound itself; ``allow_inf`` accepts infinities
    (still subject to the bounds). Non-numbers and ``bool`` are a ``TypeError``; NaN,
    infinities (unless allowed) and values outside the interval a ``ValueError``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a number")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name}={value!r} must be finite")
    if (low is not None and (v < low or (low_open and v == low))) or (
        high is not None and (v > high or (high_open and v == high))
    ):
        raise ValueError(
            f"{name}={value!r} must be in {_interval(low, high, low_open, high_open)}"
        )
    return v


def check_bool(value, name: str) -> bool:
    """Return ``value`` if it is a ``bool`` (or NumPy bool), else ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be True or False")
    return bool(value)


def check_choice(value, choices: Collection, name: str):
    """Return ``value`` if it is one of ``choices``, else ``ValueError`` listing them.

    ``True`` and ``1`` are different choices (Python's ``True == 1`` does not count).
    """
    try:
        ok = any(c == value and isinstance(c, bool) == isinstance(value, bool) for c in choices)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r} must be one of {tuple(choices)}")
    return value


def check_callable(value, name: str, *, signature: str = "") -> Callable:
    """Return ``value`` if it is callable, else ``TypeError`` (``signature`` as a hint)."""
    if not callable(value):
        raise TypeError(f"{name}={value!r} must be callable{signature}")
    return value


#: How messages name a few types whose ``__name__`` alone says too little.
_TYPE_WORDS = {torch.nn.Module: "a torch.nn.Module", str: "a string"}


def check_instance(value, cls: type | tuple[type, ...], name: str, *, what: str = ""):
    """Return ``value`` if it is an instance of ``cls``, else ``TypeError``.

    ``what`` words the expected type in the message (default: the class names, e.g.
    "an SSQConfig"; "a torch.nn.Module" for modules).
    """
    if not isinstance(value, cls):
        if not what and cls in _TYPE_WORDS:
            what = _TYPE_WORDS[cls]
        if not what:
            names = [c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,))]
            article = "an" if names[0][0].upper() in "AEIOSU" else "a"
            what = f"{article} {' or '.join(names)}"
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def check_rng(rng) -> np.random.Generator:
    """Return a NumPy generator from ``rng``: a seed (int >= 0), a Generator or ``None``.

    A Generator is used as given (its state advances); ``None`` seeds from the OS.
    """
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{rng=} must be a non-negative int")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng={rng!r} must be an int, a numpy.random.Generator or None")


def check_strings(value, name: str) -> tuple[str, ...]:
    """Return a sequence of strings (class names, labels) as a tuple.

    A single string, a non-sequence or a non-string entry is a ``TypeError``.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name}={value!r} must be a sequence of strings")
    if not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name}={value!r} must all be strings")
    return tuple(value)


def check_index(index, n: int, name: str = "index") -> int:
    """Return ``index`` normalised to ``[0, n)`` (negative counts from the end)."""
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"{name}={index!r} must be an int")
    if not -n <= index < n:
        raise ValueError(f"{name}={index} is out of range for {n} entries")
    return int(index) % n


# ------------------------------------------------------------------ arrays
def to_numpy(x, *, name: str = "x") -> np.ndarray:
    """Return ``x`` (tensor, array, list, number) as a detached NumPy array on the CPU."""
    return as_tensor(x, name=name).detach().cpu().numpy()


def readonly(a) -> np.ndarray:
    """Return ``a`` as a C-contiguous, read-only NumPy array (no copy when possible)."""
    a = np.asarray(a, order="C")  # not ascontiguousarray: that makes 0-d arrays 1-d
    a.setflags(write=False)
    return a


def finite_or_none(v) -> float | None:
    """Return ``float(v)`` if it is finite, else ``None`` (JSON has no NaN)."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def check_axis(axis, n: int, *, monotonic: bool = False, name: str = "axis") -> np.ndarray:
    """Validate an x axis: finite float64 values of shape ``(n,)``.

    With ``monotonic``, the values must be strictly ascending or strictly descending.
    """
    a = to_numpy(axis, name=name)
    if np.iscomplexobj(a):
        raise TypeError(f"{name} has complex dtype {a.dtype}; expected real x values")
    a = a.astype(np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} has shape {a.shape}; expected ({n},), one value per sample")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if monotonic:
        d = np.diff(a)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ValueError(f"{name} must be strictly ascending or strictly descending")
    return a
