"""The model's forward path, in one place: coefficients -> image -> model.

Every stage that asks the user's model something goes through here:

- :class:`CoefficientClassifier` is the thin ``nn.Module`` ``coefficients (..., F, N)
  -> to_image -> network -> logits (B, K)``; differentiable with respect to the
  coefficients or their magnitude, so Captum attributes through it on the transform's
  own grid (:func:`saliency2signal.saliency.attribute`), and training and evaluation
  see the same images.
- :func:`probabilities` is ``softmax(network(to_image(|ssq_cwt(x)|)))`` for a batch of
  signals, in memory-bounded chunks, eval mode and no gradients: the deletion and
  insertion checks of :func:`~saliency2signal.explain` and
  :func:`~saliency2signal.evaluate`.

May import: torch, ``_runtime``, ``_validation``, ``transform``, ``imaging``; never
``saliency``, ``explanation`` or ``evaluation`` (they import this).
"""

from __future__ import annotations

import functools
import json

import torch
from torch import nn

from ._imagings import check_imaging, imaging_record
from ._runtime import FORWARD_BYTES, WORK_BYTES, as_model_input, count_within, eval_mode
from ._validation import check_instance, check_int
from .imaging import ImagingConfig, to_image
from .transform import SSQConfig
from .transform._forward import ssq_tx

__all__ = ["CoefficientClassifier", "output_of", "probabilities"]


class CoefficientClassifier(nn.Module):
    """Imaging + network: coefficients ``(..., n_freqs, n_times)`` -> logits ``(B, K)``.

    Holds the network and the imaging configuration only; :func:`to_image` does the
    work, so the logits are differentiable with respect to the coefficients (an
    attribution on ``Tx`` or on ``|Tx|`` goes through the imaging step). Images are cast
    to the dtype of the network's parameters.

    Parameters
    ----------
    net : torch.nn.Module
        Image classifier ``(B, C, H, W) -> (B, K)`` (a
        :class:`~saliency2signal.models.ScalogramCNN`, or a model from
        :func:`~saliency2signal.io.load_model`).
    imaging_config : ImagingConfig, ImagingSteps or callable
        How the images were made during training (see :func:`to_image`).
    clamp : bool
        Clamp real inputs (magnitudes) at 0 first, so that added noise or a negative
        baseline never feeds a negative value into a log. The clamp is a ``where`` with
        gradient 1 at 0 itself: ``clamp_min``'s gradient at its bound is 0 from torch
        2.14 on (pytorch/pytorch#184572), which would zero the attribution of every cell
        with ``|Tx| == 0``. Off by default: on the grid it costs as much as the imaging.

    Examples
    --------
    >>> import torch
    >>> from saliency2signal.imaging import ImagingConfig
    >>> from saliency2signal.models import ScalogramCNN
    >>> net = ScalogramCNN(widths=(4, 8))
    >>> clf = CoefficientClassifier(net, imaging_config=ImagingConfig(size=(32, 32)))
    >>> clf(torch.ones(3, 40, 100, dtype=torch.complex64)).shape
    torch.Size([3, 2])
    """

    #: Class default, so that a ``SpectrumClassifier`` pickled before ``clamp`` existed
    #: (release 0.1) loads and runs unclamped, as it did.
    clamp = False

    def __init__(self, net: nn.Module, *, imaging_config, clamp: bool = False):
        super().__init__()
        check_instance(net, nn.Module, "net")
        check_imaging(imaging_config, "imaging_config")
        self.net = net
        self.imaging_config = imaging_config
        self.clamp = bool(clamp)

    def forward(self, coef: torch.Tensor) -> torch.Tensor:
        """Return the logits for coefficients (complex) or magnitudes (real) ``coef``."""
        if self.clamp and not coef.is_complex():
            coef = torch.where(coef < 0, 0.0, coef)
        img = to_image(coef, self.imaging_config)
        param = next(iter(self.net.parameters()), None)
        if param is not None and param.dtype != img.dtype:
            img = img.to(param.dtype)
        return self.net(img)

    def extra_repr(self) -> str:  # noqa: D102
        return json.dumps(imaging_record(self.imaging_config), sort_keys=True)


def output_of(task: str):
    """Return the map from a network's outputs to what is explained: softmax or identity.

    A classifier's logits become class probabilities; a regression's outputs are the
    values themselves.
    """
    if task == "classification":
        return functools.partial(torch.softmax, dim=-1)
    if task == "regression":
        return _identity
    raise ValueError(f"task={task!r} must be 'classification' or 'regression'")


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def probabilities(
    model: nn.Module,
    x: torch.Tensor,
    *,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    batch_size: int = 16,
    forward_batch: int | None = None,
    task: str = "classification",
) -> torch.Tensor:
    """Class probabilities of signals: ``softmax(model(to_image(|ssq_cwt(x)|)))``.

    Eval mode, no gradients. The transforms (``Tx`` only) of as many signals as fit in
    ``_runtime.WORK_BYTES`` (whole batches where a batch fits, fewer signals where it
    does not) run in one call; images are made ``batch_size`` signals at a time (at
    most a group) and passed to the model ``forward_batch`` at a time (default
    ``batch_size``, then at most ``_runtime.FORWARD_BYTES`` of images; a given
    ``forward_batch`` is used as given): larger forward
    batches keep every core busy. The working memory is bounded in bytes, whatever the
    number or the length of the signals; the results do not depend on the bounds.

    Parameters
    ----------
    model : torch.nn.Module
        Image classifier ``(B, C, H, W) -> (B, K)``.
    x : torch.Tensor, shape (B, n_times)
        Real signals, on the model's device and in its dtype.
    transform_config : SSQConfig
    imaging_config : ImagingConfig
    batch_size : int
        Signals per image batch.
    forward_batch : int, optional
        Images per forward pass.
    task : {'classification', 'regression'}
        A regression model's outputs are returned as they are (no softmax).

    Returns
    -------
    torch.Tensor, shape (B, K)

    Examples
    --------
    >>> import torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 3))
    >>> p = probabilities(net, torch.randn(5, 64), transform_config=SSQConfig(nv=8),
    ...                   imaging_config=ImagingConfig(size=(16, 16)), batch_size=2)
    >>> p.shape, bool(torch.allclose(p.sum(-1), torch.ones(5)))
    (torch.Size([5, 3]), True)
    """
    check_instance(transform_config, SSQConfig, "transform_config")
    check_imaging(imaging_config, "imaging_config")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    final = output_of(task)
    fb = (
        batch_size
        if forward_batch is None
        else check_int(forward_batch, "forward_batch", minimum=1)
    )
    out: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []
    n_pending = 0
    n_b, n = x.shape[0], x.shape[-1]
    # One transform call per group, then its images: each call has fixed costs (FFT of
    # the padded signals, low-pass term, dealing the signals to the worker threads), and
    # a torch operator between two transforms leaves torch's OpenMP threads spinning
    # while the transform's own worker threads want the cores.
    # The group is bounded in bytes, not in batches: ``batch_size`` signals of a long
    # spectrum can hold far more than WORK_BYTES of coefficients (measure_curves passes
    # ``8 * batch_size``). Images are made per signal and passed to the model ``fb`` at
    # a time whatever the group, so the numbers do not depend on the bound.
    signal_bytes = transform_config.n_freqs(n) * n * 2 * x.element_size()
    if batch_size * signal_bytes <= WORK_BYTES:
        group = batch_size * (WORK_BYTES // (batch_size * signal_bytes))
    else:
        group = count_within(WORK_BYTES, signal_bytes, batch_size)
    with eval_mode(model), torch.no_grad():
        for g in range(0, n_b, group):
            tx = ssq_tx(x[g : g + group], transform_config)
            for s in range(0, tx.shape[0], batch_size):
                image = to_image(tx[s : s + batch_size], imaging_config)
                pending.append(as_model_input(image, model))
                if forward_batch is None and not out and len(pending) == 1:
                    # the default: at most FORWARD_BYTES of images (a given forward_batch
                    # is kept: a black box's calls are its cost)
                    fb = count_within(FORWARD_BYTES, pending[0][0].nbytes, fb)
                n_pending += pending[-1].shape[0]
                while n_pending >= fb:
                    images = pending[0] if len(pending) == 1 else torch.cat(pending)
                    out.append(final(model(images[:fb])))
                    pending, n_pending = [images[fb:]], n_pending - fb
            del tx
        if n_pending:
            out.append(final(model(torch.cat(pending))))
    return torch.cat(out) if out else torch.zeros(0)
