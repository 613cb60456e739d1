"""Networks from other frameworks (ONNX, Keras): what their two readers share.

A network that ran elsewhere is accepted only after it has been run here on *probe
images* and its answers compared with the framework's own (:func:`check_parity`). The
probe images are what the network will see: a few synthetic signals (a noisy peak
series, a chirp, noise, a drifting baseline) through the caller's own transform and
imaging, plus two images of uniform noise spanning their range.

Such networks usually end in a softmax. :class:`ForeignNetwork` returns their
probabilities as ``log p`` (``softmax(log p) == p``), so the package's softmax gives the
network's own probabilities back (the convention of :class:`saliency2signal.BlackBox`);
it also turns our ``(B, C, H, W)`` images into a channels-last network's ``(B, H, W, C)``.

Internal module of :mod:`saliency2signal.io`: plain names, not public API. May import:
numpy, torch, ``limits``, ``_validation``, ``blackbox``, ``metadata``, ``transform``,
``imaging``; never the other ``io`` modules.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch
from torch import nn

from .. import limits
from .._validation import check_choice
from ..blackbox import OUTPUTS
from ..imaging import to_image
from ..metadata import ModelMetadata
from ..transform._forward import ssq_tx

__all__ = [
    "ATOL",
    "RTOL",
    "SUM_TOLERANCE",
    "ForeignNetwork",
    "check_file_bytes",
    "check_parity",
    "input_layout",
    "outputs_kind",
    "probe_images",
    "require",
]

#: The parity check: ``|ours - theirs| <= ATOL + RTOL * |theirs|`` for every output
#: of every probe image (float32 networks agree to about 1e-6).
ATOL = 1e-4
RTOL = 1e-3
#: Rows of probabilities sum to 1 within this (what tells probabilities from logits).
SUM_TOLERANCE = 1e-5
#: Probabilities are clamped here before the log, so that ``p = 0`` stays finite.
_TINY = 1e-30
_N_SIGNALS = 4


def require(module: str, extra: str, what: str):
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"reading {what} needs the optional package {module!r} ({exc}): "
            f'pip install "saliency2signal[{extra}]"'
        ) from None
    except Exception as exc:  # noqa: BLE001 - installed but broken, e.g. a torchvision
        # built for another torch release (onnx2torch imports it): say so in one line
        raise ImportError(
            f"reading {what} needs {module!r}, which is installed but cannot be imported "
            f"({type(exc).__name__}: {exc}); its dependencies may be built for another "
            f'torch release: reinstall with pip install "saliency2signal[{extra}]"'
        ) from None


def check_file_bytes(n_bytes: int, *, what: str) -> None:
    """Refuse a file whose bytes, read as float32 weights, exceed ``max_parameters``."""
    limits.check(
        "max_parameters",
        n_bytes // 4,
        what=f"{what} ({n_bytes} bytes, counted as float32 weights)",
    )


def probe_images(metadata: ModelMetadata, *, seed: int = 0) -> torch.Tensor:
    """Images ``(6, C, H, W)`` float32 the network will see, for the parity checks.

    Four synthetic signals of ``metadata.n_times`` samples through the metadata's
    transform and imaging, then two images of uniform noise between their extremes.
    """
    rng = np.random.default_rng(seed)
    n = metadata.n_times
    t = np.linspace(0.0, 1.0, n)
    centres = rng.uniform(0.1, 0.9, 5)
    peaks = sum(
        rng.uniform(0.5, 2) * np.exp(-0.5 * ((t - c) / 0.02) ** 2) for c in centres
    ) + 0.05 * rng.standard_normal(n)
    chirp = np.sin(2 * np.pi * (0.02 * n * t + 0.15 * n * t**2))
    noise = rng.standard_normal(n)
    baseline = np.cumsum(rng.standard_normal(n)) / np.sqrt(n) + np.sin(6 * np.pi * t)
    x = torch.from_numpy(np.stack([peaks, chirp, noise, baseline]))
    with torch.no_grad():
        images = to_image(ssq_tx(x, metadata.transform), metadata.imaging).float()
    lo, hi = float(images.min()), float(images.max())
    gen = torch.Generator().manual_seed(seed)
    uniform = lo + (hi - lo) * torch.rand((2, *images.shape[1:]), generator=gen)
    return torch.cat([images, uniform])


def outputs_kind(scores: np.ndarray, outputs: str | None, *, task: str, where: str) -> str:
    """Say what the network returns: the caller's word, checked, or read off ``scores``."""
    looks = bool(
        scores.ndim == 2
        and scores.min() >= 0
        and scores.max() <= 1
        and np.abs(scores.sum(axis=1) - 1).max() <= SUM_TOLERANCE
    )
    if outputs is None:
        if task == "regression":
            return "values"
        return "probabilities" if looks else "logits"
    check_choice(outputs, OUTPUTS, "outputs")
    if outputs == "probabilities" and not looks:
        raise ValueError(
            f"outputs='probabilities' but {where} returns rows that are not probabilities "
            f"on the probe images (each in [0, 1], summing to 1 within {SUM_TOLERANCE}); "
            "pass outputs='logits' or 'values'"
        )
    return outputs


def input_layout(dims, shape: tuple[int, int, int], *, where: str) -> str:
    """``'NCHW'`` or ``'NHWC'``: which of the two the network's input dims fit.

    ``dims`` are the input's dimensions (ints; ``None`` for a free one) and ``shape``
    is ``(C, H, W)`` of our images. A network that fits both (``C == H == W``, or
    free dims) is taken as channels-first.
    """
    dims = tuple(dims)
    if len(dims) != 4:
        raise ValueError(
            f"{where} takes inputs of rank {len(dims)} ({_shape(dims)}); the pipeline "
            f"makes images (batch, channels, height, width) = (B, {', '.join(map(str, shape))})"
        )
    c, h, w = shape

    def fits(want):
        return all(d is None or d == v for d, v in zip(dims[1:], want, strict=True))

    if fits((c, h, w)):
        return "NCHW"
    if fits((h, w, c)):
        return "NHWC"
    raise ValueError(
        f"{where} takes inputs of shape {_shape(dims)} but the pipeline makes images of "
        f"(channels, height, width) = {shape}: check the imaging steps (size, channels)"
    )


def _shape(dims) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def check_parity(ours: np.ndarray, theirs: np.ndarray, *, where: str, against: str) -> float:
    """Refuse outputs that differ from the framework's own; return the largest difference.

    Every output must satisfy ``|ours - theirs| <= ATOL + RTOL * |theirs|``.
    """
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise ValueError(
            f"{where}: the network gives outputs of shape {ours.shape} here and "
            f"{theirs.shape} in {against} on the same probe images"
        )
    diff = np.abs(ours - theirs)
    worst = float(diff.max()) if diff.size else 0.0
    if not np.isfinite(ours).all() or (diff > ATOL + RTOL * np.abs(theirs)).any():
        raise ValueError(
            f"{where}: the converted network disagrees with {against} on the probe images "
            f"(largest difference {worst:.3g}, tolerance {ATOL:g} + {RTOL:g} x |output|); "
            "refusing to explain a network other than yours"
        )
    return worst


class ForeignNetwork(nn.Module):
    """A network from another framework as a ``(B, C, H, W) -> (B, K)`` module.

    Parameters
    ----------
    net : torch.nn.Module
        The network (an onnx2torch graph, a Keras model under the torch backend).
    layout : {'NCHW', 'NHWC'}
        The input layout ``net`` expects; ``'NHWC'`` images are permuted to it.
    outputs : {'probabilities', 'logits', 'values'}
        What ``net`` returns; probabilities are returned as their logs.
    one_by_one : bool
        Run ``net`` on one image at a time (a network whose batch size is fixed at 1).
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        layout: str,
        outputs: str,
        one_by_one: bool = False,
    ):
        super().__init__()
        self.net = net
        self.layout = check_choice(layout, ("NCHW", "NHWC"), "layout")
        self.outputs = check_choice(outputs, OUTPUTS, "outputs")
        self.one_by_one = bool(one_by_one)

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        """Return the network's own outputs (probabilities stay probabilities)."""
        if self.layout == "NHWC":
            images = images.permute(0, 2, 3, 1)
        if self.one_by_one and images.shape[0] != 1:
            return torch.cat([self._call(images[i : i + 1]) for i in range(images.shape[0])])
        return self._call(images)

    def _call(self, images: torch.Tensor) -> torch.Tensor:
        out = self.net(images)
        if isinstance(out, (list, tuple)):  # several outputs: the first
            out = out[0]
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` images to ``(B, K)`` logits (``log p`` for probabilities)."""
        out = self.scores(images)
        if self.outputs == "probabilities":
            return torch.log(out.clamp_min(_TINY))
        return out

    def extra_repr(self) -> str:
        """Layout and outputs (shown by ``repr``)."""
        return f"layout={self.layout!r}, outputs={self.outputs!r}"
