"""Models known only by what they answer: ``f(images) -> scores``, as a thin ``nn.Module``.

A model in another framework (an onnxruntime session, a scikit-learn pipeline's
``predict_proba``, a Keras model's ``predict``, a web service) gives outputs but no
gradients. :class:`BlackBox` wraps such a callable so that every forward-only stage of
the package (predictions, deletion checks, verdicts, band readings, the perturbation
attribution through the signal) runs it as it runs a torch model. Its outputs are
returned as logits: probabilities ``p`` become ``log p`` (``softmax(log p) == p``), so
the package's softmax gives the model's own probabilities back.

Gradient methods cannot run on a black box; :func:`is_black_box` lets them refuse with a
message that names the methods that can.

May import: numpy, torch, ``_validation``; nothing else of the package.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ._validation import check_callable, check_choice, check_int

__all__ = ["OUTPUTS", "BlackBox", "is_black_box"]

#: What a black box's callable returns: class probabilities (rows summing to 1),
#: logits (any real scores; the package applies softmax) or regression outputs.
OUTPUTS = ("probabilities", "logits", "values")
#: How far rows of probabilities may stray from summing to 1.
_SUM_TOLERANCE = 1e-3
#: Probabilities are clamped here before the log, so that ``p = 0`` stays finite.
_TINY = 1e-30


class BlackBox(nn.Module):
    """A model given as a callable ``f(images) -> (B, K)``: no parameters, no gradients.

    Parameters
    ----------
    fn : callable
        ``fn(images)`` with ``images`` a NumPy array ``(B, C, H, W)`` (or ``(B, H, W, C)``
        with ``layout='NHWC'``) of ``dtype``, returning an array-like ``(B, K)``.
    outputs : {'probabilities', 'logits', 'values'}
        What ``fn`` returns. ``'probabilities'`` are checked (in ``[0, 1]``, rows
        summing to 1 within 1e-3) and returned as their logs; ``'logits'`` and
        ``'values'`` (a regression's outputs) are returned as they are.
    layout : {'NCHW', 'NHWC'}
        The image layout ``fn`` expects (Keras and TensorFlow models: ``'NHWC'``).
    dtype : str
        NumPy dtype of the images handed to ``fn`` (default ``'float32'``).
    batch_size : int, optional
        Most images per call of ``fn`` (default: all images of a forward pass at once).

    Attributes
    ----------
    n_calls : int
        Calls of ``fn`` so far; ``n_images`` images in them (the cost of an explanation
        of a black box is counted in these).

    Examples
    --------
    >>> import numpy as np, torch
    >>> def predict_proba(images):
    ...     s = images.reshape(len(images), -1).mean(1)
    ...     p1 = 1 / (1 + np.exp(-s))
    ...     return np.stack([1 - p1, p1], axis=1)
    >>> model = BlackBox(predict_proba)
    >>> logits = model(torch.zeros(3, 1, 8, 8))
    >>> torch.softmax(logits, -1)[0].tolist()
    [0.5, 0.5]
    >>> model.n_calls, model.n_images
    (1, 3)
    """

    #: Marks a model that has no gradients (see :func:`is_black_box`).
    black_box = True

    def __init__(
        self,
        fn: Callable,
        *,
        outputs: str = "probabilities",
        layout: str = "NCHW",
        dtype: str = "float32",
        batch_size: int | None = None,
    ):
        super().__init__()
        self.fn = check_callable(fn, "fn", signature=" as fn(images) -> (B, K) scores")
        self.outputs = check_choice(outputs, OUTPUTS, "outputs")
        self.layout = check_choice(layout, ("NCHW", "NHWC"), "layout")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype={dtype!r} must be a floating-point dtype")
        self.batch_size = (
            None if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
        )
        self.n_calls = 0
        self.n_images = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Run ``fn`` on ``images (B, C, H, W)``; return ``(B, K)`` logits (no gradient)."""
        if images.ndim != 4:
            raise ValueError(f"images has shape {tuple(images.shape)}; expected (B, C, H, W)")
        arr = images.detach().cpu().numpy().astype(self.dtype, copy=False)
        if self.layout == "NHWC":
            arr = np.ascontiguousarray(arr.transpose(0, 2, 3, 1))
        step = self.batch_size or max(1, arr.shape[0])
        parts = [self._call(arr[s : s + step]) for s in range(0, arr.shape[0], step)]
        out = np.concatenate(parts) if parts else np.zeros((0, 0))
        t = torch.from_numpy(out).to(device=images.device)
        t = t.to(images.dtype if images.dtype.is_floating_point else torch.float32)
        if self.outputs == "probabilities":
            return torch.log(t.clamp_min(_TINY))
        return t

    def _call(self, arr: np.ndarray) -> np.ndarray:
        """One call of ``fn``, its answer checked: ``(b, K)``, finite, probabilities valid."""
        out = self.fn(arr)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        out = np.asarray(out, dtype=np.float64)
        self.n_calls += 1
        self.n_images += int(arr.shape[0])
        if out.ndim == 1 and self.outputs == "values":
            out = out[:, None]
        if out.ndim != 2 or out.shape[0] != arr.shape[0]:
            raise ValueError(
                f"the model returned shape {out.shape} for {arr.shape[0]} images; "
                f"expected ({arr.shape[0]}, n_outputs)"
            )
        if not np.isfinite(out).all():
            raise ValueError("the model returned NaN or inf")
        if self.outputs == "probabilities":
            sums = out.sum(axis=1)
            if out.min() < -_SUM_TOLERANCE or np.abs(sums - 1).max() > _SUM_TOLERANCE:
                worst = float(sums[np.abs(sums - 1).argmax()])
                raise ValueError(
                    "outputs='probabilities' but the model's rows are not probabilities "
                    f"(a row sums to {worst:.4g}); pass outputs='logits' or 'values'"
                )
        return out

    def extra_repr(self) -> str:
        """Name the callable and what it returns (shown by ``repr``)."""
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return f"fn={name}, outputs={self.outputs!r}"
        return (
            f"fn={getattr(self.fn, '__name__', type(self.fn).__name__)}, outputs={self.outputs!r}"
        )


def is_black_box(model) -> bool:
    """Return whether ``model`` gives no gradients (a :class:`BlackBox`, or marked so).

    Any module with a true ``black_box`` attribute counts, so wrappers made elsewhere
    (an onnxruntime session) can declare themselves.
    """
    return bool(getattr(model, "black_box", False))
