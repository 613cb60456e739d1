"""Perturbation through the signal: remove masked content by the inverse, score the rest.

The two model-agnostic estimators of ``saliency`` (:mod:`._rise` and
:mod:`._shapley`) never touch the model's input directly: a perturbed input is the
signal ``x`` with part of its synchrosqueezed plane removed by the masked one-integral
inverse (:func:`~saliency2signal.inverse.components`),

``x_m = x - (2/C) Re sum_k W[k, n] D[k, n]``,  ``D = Tx - Tx(r)``,

with ``W`` the weight of removal of each cell (``1 - M`` for a keep mask ``M``), and
``Tx(r)`` a reference's coefficients (zero without one: the removed part is simply
gone; with one, the reference's content is put in its place). The transform and the
image of ``x_m`` are then recomputed and the model re-run
(:func:`~saliency2signal.forward.probabilities`), so only forward passes of the model
are needed: a :class:`~saliency2signal.blackbox.BlackBox` serves.

- :func:`contrast`: ``D`` checked (``Tx`` minus the reference's coefficients).
- :func:`outputs` and :func:`scores`: every output, or the target's probability
  (classification) or value (regression), of many signals, ``per_call`` images per
  model call.

Internal to ``saliency``: plain names for its sibling modules, not public API.
May import: torch, ``saliency2signal._validation``, ``forward``, ``imaging``,
``transform``; never another ``saliency`` module.
"""

from __future__ import annotations

import torch

from .._validation import as_tensor
from ..forward import probabilities
from ..imaging import ImagingConfig
from ..transform import SSQConfig

__all__ = ["contrast", "outputs", "scores"]


def contrast(tx: torch.Tensor, reference_coefficients) -> torch.Tensor:
    """Return ``D = Tx - Tx(r)`` (``Tx`` itself without a reference), shape of ``tx``.

    Raises
    ------
    TypeError
        If the reference coefficients are real.
    ValueError
        If they do not broadcast to the shape of ``Tx``.
    """
    if reference_coefficients is None:
        return tx
    ref = as_tensor(reference_coefficients, name="reference_coefficients")
    if not ref.is_complex():
        raise TypeError(
            f"reference_coefficients has dtype {ref.dtype}; expected the complex Tx of "
            "the reference signals"
        )
    try:
        ref = torch.broadcast_to(ref, tx.shape)
    except RuntimeError:
        raise ValueError(
            f"reference_coefficients has shape {tuple(ref.shape)}; expected "
            f"{tuple(tx.shape)} (the shape of Tx)"
        ) from None
    return tx - ref.to(device=tx.device, dtype=tx.dtype)


def outputs(
    model: torch.nn.Module,
    signals: torch.Tensor,
    *,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    task: str,
    per_call: int,
) -> torch.Tensor:
    """Every output of every signal: ``signals (B, K, N)`` -> ``(B, K, n_outputs)``.

    ``softmax(model(to_image(|ssq_cwt(x)|)))`` for a classifier, the outputs themselves
    for a regression; ``per_call`` images per model call (eval mode, no gradients).
    """
    n_b, n_k, n = signals.shape
    out = probabilities(
        model,
        signals.reshape(n_b * n_k, n),
        transform_config=transform_config,
        imaging_config=imaging_config,
        batch_size=per_call,
        forward_batch=per_call,
        task=task,
    )
    return out.reshape(n_b, n_k, -1)


def scores(model: torch.nn.Module, signals: torch.Tensor, target: torch.Tensor, **kwargs):
    """Return the target's output of ``signals (B, K, N)`` for ``target (B,)``: ``(B, K)``.

    ``kwargs`` are those of :func:`outputs`.
    """
    out = outputs(model, signals, **kwargs)
    n_b, n_k = out.shape[:2]
    return out.gather(2, target.to(out.device).reshape(n_b, 1, 1).expand(n_b, n_k, 1))[..., 0]
