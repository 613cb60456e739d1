"""A small CNN for scalogram images and a reproducible training routine.

- ``_network``: :class:`ScalogramCNN` (conv-BN-ReLU blocks, global average pooling, a
  linear head; Grad-CAM targets a block by name), :class:`ConvBlock`, and what model
  files name and rebuild: :data:`ARCHITECTURES`, :func:`build_model`,
  :func:`architecture_sizes`;
- ``_training``: :func:`make_images` and :func:`train_classifier` (seeded and
  deterministic, the global random state left untouched), with its result
  :class:`TrainedClassifier`;
- ``_fitting``: its optimisation loop (validation, best weights, early stopping) and the
  per-epoch record :class:`EpochStats`;
- ``_recipe``: the training defaults, :data:`DEFAULT_TRANSFORM`,
  :data:`DEFAULT_IMAGING` (normalised by :func:`with_meanstd`) and
  :func:`default_architecture` (the settings of the bundled planted-peak model).

:data:`SpectrumClassifier` is the earlier name of
:class:`saliency2signal.forward.CoefficientClassifier` (imaging, then the network).

May import: numpy, torch, ``_validation``, ``forward``, ``imaging``, ``metadata``,
``transform``; never ``io`` (it imports this), ``saliency``, ``explanation`` or
``evaluation``.
"""

from __future__ import annotations

from ..forward import CoefficientClassifier
from ._fitting import EpochStats
from ._network import ARCHITECTURES, ConvBlock, ScalogramCNN, architecture_sizes, build_model
from ._recipe import (
    DEFAULT_IMAGING,
    DEFAULT_TRANSFORM,
    DEFAULT_WIDTHS,
    default_architecture,
    with_meanstd,
)
from ._training import TrainedClassifier, make_images, train_classifier

#: Imaging + network, coefficients -> logits: the same class as
#: :class:`saliency2signal.forward.CoefficientClassifier` (its name before 0.2).
SpectrumClassifier = CoefficientClassifier

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_IMAGING",
    "DEFAULT_TRANSFORM",
    "DEFAULT_WIDTHS",
    "ConvBlock",
    "EpochStats",
    "ScalogramCNN",
    "SpectrumClassifier",
    "TrainedClassifier",
    "architecture_sizes",
    "build_model",
    "default_architecture",
    "make_images",
    "train_classifier",
    "with_meanstd",
]
