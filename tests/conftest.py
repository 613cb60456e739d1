"""Shared fixtures: a seeded random generator and a cached ssqueezepy reference.

Cases marked ``slow`` are deselected unless a marker expression is given on the command
line (``pytest -m slow`` runs only them, ``pytest -m "slow or not slow"`` runs all).
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import sys
import warnings
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pytest

SEED = 20240611


def pytest_collection_modifyitems(config, items):
    if config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]


@pytest.fixture(scope="session")
def console_script() -> str:
    """Path of the ``saliency2signal`` console script that ``pip install -e`` made.

    The one beside the running Python first (a virtual environment need not be
    activated), else the one on ``PATH``.
    """
    beside = pathlib.Path(sys.executable).parent / "saliency2signal"
    exe = str(beside) if beside.is_file() else shutil.which("saliency2signal")
    assert exe is not None, "the console script is installed by pip install -e"
    return exe


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded generator per test: every test sees the same stream."""
    return np.random.default_rng(SEED)


class SsqRef(NamedTuple):
    """ssqueezepy's ``ssq_cwt`` output, in *its* order (highest frequency first)."""

    Tx: np.ndarray  # (..., n_scales, n) ; batch dims restored
    Wx: np.ndarray
    freqs: np.ndarray  # descending
    scales: np.ndarray  # ascending


def _readonly(a) -> np.ndarray:
    a = np.array(a)  # own copy (ssqueezepy returns views of padded buffers)
    a.setflags(write=False)
    return a


class SsqueezepyReference:
    """Thin wrapper around ssqueezepy 0.6.6 that silences its warnings and caches results.

    Every call passes a *copy* of the signal (ssqueezepy replaces NaN/inf in place) and
    the wavelet in the signal's dtype (ssqueezepy works in the wavelet's dtype, float32
    by default). Batched input ``(..., n)`` is flattened to ``(B, n)`` (the only batch
    layout ssqueezepy accepts) and the batch dims are restored on the way out. Results
    are cached by the signal's bytes and the parameters (a small LRU, since large planes
    take tens of MB) and returned read-only so that no test can corrupt another's
    reference.
    """

    def __init__(self, module, maxsize: int = 12):
        self.sq = module
        self._cache: OrderedDict = OrderedDict()
        self._maxsize = maxsize

    def wavelet(self, wavelet: str = "gmw", mu: float = 13.4, dtype="float64"):
        opts = {"dtype": np.dtype(dtype).name}
        if wavelet == "morlet":
            opts["mu"] = float(mu)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.sq.Wavelet((wavelet, opts))

    def ssq_cwt(self, x, *, wavelet="gmw", mu=13.4, nv=32, scaletype="log-piecewise"):
        x = np.ascontiguousarray(x)
        digest = hashlib.sha1(x.tobytes()).hexdigest()
        key = (x.dtype.str, x.shape, digest, wavelet, float(mu), int(nv), scaletype)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        batch, n = x.shape[:-1], x.shape[-1]
        x2 = x.reshape(-1, n).copy() if batch else x.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Tx, Wx, freqs, scales = self.sq.ssq_cwt(
                x2, self.wavelet(wavelet, mu, x.dtype), scales=scaletype, nv=nv
            )
        Tx, Wx = np.asarray(Tx), np.asarray(Wx)
        out = SsqRef(
            _readonly(Tx.reshape(*batch, *Tx.shape[-2:])),
            _readonly(Wx.reshape(*batch, *Wx.shape[-2:])),
            _readonly(freqs),
            _readonly(scales),
        )
        self._cache[key] = out
        if len(self._cache) > self._maxsize:
            self._cache.popitem(last=False)
        return out

    def cwt(self, x, *, wavelet="gmw", mu=13.4, nv=32, scaletype="log-piecewise"):
        """ssqueezepy's ``cwt(..., derivative=True)``: ``(Wx, scales, dWx)`` (not cached)."""
        x = np.ascontiguousarray(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.sq.cwt(
                x.copy(),
                self.wavelet(wavelet, mu, x.dtype),
                scales=scaletype,
                nv=nv,
                derivative=True,
            )
        return tuple(np.asarray(a) for a in out)

    def issq_cwt(self, Tx, *, wavelet="gmw", mu=13.4):
        """ssqueezepy's one-integral inverse of its own (2-D) Tx."""
        Tx = np.asarray(Tx)
        dtype = np.float32 if Tx.dtype == np.complex64 else np.float64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.sq.issq_cwt(Tx, self.wavelet(wavelet, mu, dtype)))

    def icwt(self, Wx, scales, *, wavelet="gmw", mu=13.4, nv=32):
        Wx = np.asarray(Wx)
        dtype = np.float32 if Wx.dtype == np.complex64 else np.float64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(
                self.sq.icwt(Wx, self.wavelet(wavelet, mu, dtype), scales=scales, nv=nv)
            )

    def adm_ssq(self, *, wavelet="gmw", mu=13.4, dtype="float64") -> float:
        from ssqueezepy.utils import adm_ssq

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(adm_ssq(self.wavelet(wavelet, mu, dtype)))


@pytest.fixture(scope="session")
def ssqpy() -> SsqueezepyReference:
    """Session-wide ssqueezepy reference (skips the test if ssqueezepy is missing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = pytest.importorskip("ssqueezepy")
    return SsqueezepyReference(module)
