"""Training: the images of signals, and a reproducible training routine.

:func:`make_images` is ``ssq_cwt`` then ``to_image``, chunk by chunk, without gradients.
:func:`train_classifier` is a pure function: signals and labels in, a trained
:class:`~saliency2signal.models.ScalogramCNN`, its
:class:`~saliency2signal.metadata.ModelMetadata` and the accuracy history
(:class:`EpochStats`) out, as a :class:`TrainedClassifier`. It runs in steps: check the
arguments, make the images once (no gradient through the transform), split each class,
then fit (one pass per epoch, batch norm recalibrated, validation in eval mode). The
data order and the weight initialisation depend only on ``seed``, and the global random
state is left untouched.

Internal to ``models``: plain names, re-exported by ``saliency2signal.models``.
May import: numpy, torch, ``saliency2signal._validation``, ``imaging``, ``metadata``,
``transform``, ``._network``; never ``io`` (it imports ``models``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._validation import (
    check_callable,
    check_choice,
    check_instance,
    check_int,
    check_real,
    check_signal,
    check_strings,
    finite_or_none,
)
from ..imaging import ImagingConfig, to_image
from ..metadata import LENGTH_POLICIES, ModelMetadata
from ..transform import MIN_LENGTH, SSQConfig, ssq_cwt
from ._network import ScalogramCNN

__all__ = ["EpochStats", "TrainedClassifier", "make_images", "train_classifier"]


# =========================================================================== images
def _check_signals(x) -> torch.Tensor:
    """Check real signals of one length, ``(n_signals, n_times)``."""
    xt = check_signal(x, min_length=MIN_LENGTH)
    if xt.ndim != 2:
        raise ValueError(f"x has shape {tuple(xt.shape)}; expected (n_signals, n_times)")
    return xt


def make_images(
    x,
    *,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    chunk_size: int = 64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Images ``(B, C, H, W)`` of signals ``(B, n_times)``, without gradients.

    ``ssq_cwt`` then ``to_image``, ``chunk_size`` signals at a time, returned as
    float32 on the CPU (the network's input dtype).

    Parameters
    ----------
    x : array_like, shape (n_signals, n_times)
        Real signals.
    transform_config : SSQConfig
    imaging_config : ImagingConfig
    chunk_size : int
        Signals transformed at once (bounds the memory for the complex planes).
    device : str or torch.device
        Where the transform runs.

    Returns
    -------
    torch.Tensor, shape (n_signals, C, H, W)

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> x = np.random.default_rng(0).standard_normal((3, 128)).astype(np.float32)
    >>> make_images(x, transform_config=SSQConfig(nv=8),
    ...             imaging_config=ImagingConfig(size=(16, 16))).shape
    torch.Size([3, 1, 16, 16])
    """
    xt = _check_signals(x)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    out = []
    with torch.no_grad():
        for start in range(0, xt.shape[0], chunk_size):
            part = xt[start : start + chunk_size].to(device)
            tx = ssq_cwt(part, transform_config).Tx
            out.append(to_image(tx, imaging_config).to("cpu", torch.float32))
    return torch.cat(out)


# =========================================================================== training
@dataclass(frozen=True)
class EpochStats:
    """Loss and accuracy after one epoch (``nan`` where there is no validation set).

    Training values are running averages over the epoch's batches (train mode);
    validation values are computed in eval mode after the epoch.
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float


@dataclass(frozen=True, eq=False)
class TrainedClassifier:
    """Output of :func:`train_classifier`.

    Attributes
    ----------
    model : ScalogramCNN
        The network after the last epoch, in eval mode, on the training device.
    metadata : ModelMetadata
        Everything :func:`~saliency2signal.io.save_model` writes next to the weights.
    history : tuple of EpochStats
        One entry per epoch.
    train_indices, val_indices : numpy.ndarray
        Which signals were used for training and for validation.
    """

    model: nn.Module
    metadata: ModelMetadata
    history: tuple[EpochStats, ...]
    train_indices: np.ndarray
    val_indices: np.ndarray

    @property
    def train_accuracy(self) -> float:
        """Training accuracy of the last epoch."""
        return self.history[-1].train_accuracy

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the last epoch (``nan`` without a validation set)."""
        return self.history[-1].val_accuracy


def _labels(y, class_names: tuple[str, ...], n: int) -> torch.Tensor:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y has shape {arr.shape}; expected ({n},), one label per signal")
    if arr.dtype.kind in "US":
        lookup = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({str(v) for v in arr} - set(lookup))
        if unknown:
            raise ValueError(f"y contains label(s) {unknown} not in {class_names=}")
        arr = np.array([lookup[str(v)] for v in arr])
    elif arr.dtype.kind == "b" or arr.dtype.kind not in "iu":
        raise TypeError(f"y has dtype {arr.dtype}; expected integer class indices or names")
    if arr.size and (arr.min() < 0 or arr.max() >= len(class_names)):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise ValueError(
            f"y contains class index {bad}, outside 0..{len(class_names) - 1} for {class_names=}"
        )
    return torch.as_tensor(arr, dtype=torch.long)


def _split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: ``round(val_fraction * n_c)`` signals of each class to validation."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(val_fraction * idx.size))
        if val_fraction > 0 and idx.size >= 2:
            k = min(max(k, 1), idx.size - 1)
        val.append(idx[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(y.size), val_idx)
    return train_idx.astype(np.int64), val_idx.astype(np.int64)


@contextlib.contextmanager
def _deterministic(seed: int, device: torch.device):
    """Seed torch in a forked random state and ask for deterministic kernels."""
    devices = [device.index or 0] if device.type == "cuda" else []
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        # warn_only: a CUDA kernel without a deterministic variant warns instead of failing
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def _recalibrate_batchnorm(
    model: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device
) -> None:
    """Set batch-norm running statistics to the exact averages over ``images``.

    With a few dozen optimiser steps the exponential running averages still remember
    the initial weights, and eval-mode outputs are off; one pass with cumulative
    averaging fixes that (running statistics are not used in train mode).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or images.shape[0] == 0:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            model(images[start : start + batch_size].to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
) -> tuple[float, float]:
    if images.shape[0] == 0:
        return math.nan, math.nan
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            xb = images[start : start + batch_size].to(device)
            yb = labels[start : start + batch_size].to(device)
            logits = model(xb)
            loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
    return loss / images.shape[0], correct / images.shape[0]


@dataclass(frozen=True)
class _TrainingSettings:
    """The optimisation settings of :func:`train_classifier`, validated."""

    epochs: int
    batch_size: int
    lr: float
    seed: int
    val_fraction: float

    @classmethod
    def checked(cls, *, epochs, batch_size, lr, seed, val_fraction) -> _TrainingSettings:
        return cls(
            epochs=check_int(epochs, "epochs", minimum=1),
            batch_size=check_int(batch_size, "batch_size", minimum=1),
            lr=check_real(lr, "lr", low=0, low_open=True),
            seed=check_int(seed, "seed"),
            val_fraction=check_real(val_fraction, "val_fraction", low=0, high=1, high_open=True),
        )

    def record(self, *, n_train: int, n_val: int, last: EpochStats) -> dict:
        """Return the metadata's ``extra`` entry: settings, split sizes, final accuracies."""
        return {
            "training": {
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "seed": self.seed,
                "val_fraction": self.val_fraction,
                "n_train": n_train,
                "n_val": n_val,
                "train_accuracy": last.train_accuracy,
                "val_accuracy": finite_or_none(last.val_accuracy),
            }
        }


def _train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    perm: torch.Tensor,
    batch_size: int,
    device: torch.device,
) -> tuple[float, float]:
    """One pass over the training images in the order ``perm``: mean loss and accuracy.

    A last batch of a single image is skipped (batch norm cannot train on it) unless it
    is the only one.
    """
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for start in range(0, perm.numel(), batch_size):
        sel = perm[start : start + batch_size]
        if sel.numel() == 1 and perm.numel() > 1:
            continue  # batch norm cannot train on a single image
        xb, yb = images[sel].to(device), labels[sel].to(device)
        opt.zero_grad()
        logits = model(xb)
        loss = nn.functional.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        loss_sum += float(loss.detach()) * sel.numel()
        correct += int((logits.detach().argmax(1) == yb).sum())
        seen += sel.numel()
    return loss_sum / seen, correct / seen


def _fit(
    kwargs: dict,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: _TrainingSettings,
    device: torch.device,
    progress: Callable[[EpochStats], None] | None,
) -> tuple[nn.Module, tuple]:
    """Build a :class:`ScalogramCNN` from ``kwargs`` and train it; return it and its history.

    Weights, dropout and the batch order depend only on ``settings.seed``; the global
    random state is left as it was.
    """
    (x_tr, y_tr), (x_va, y_va) = train, val
    order_rng = np.random.default_rng(settings.seed)
    history = []
    with _deterministic(settings.seed, device):
        model = ScalogramCNN(**kwargs).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        for epoch in range(settings.epochs):
            perm = torch.as_tensor(order_rng.permutation(x_tr.shape[0]))
            train_loss, train_acc = _train_epoch(
                model, opt, x_tr, y_tr, perm, settings.batch_size, device
            )
            _recalibrate_batchnorm(model, x_tr, settings.batch_size, device)
            val_loss, val_acc = _evaluate(model, x_va, y_va, settings.batch_size, device)
            stats = EpochStats(
                epoch=epoch + 1,
                train_loss=train_loss,
                train_accuracy=train_acc,
                val_loss=val_loss,
                val_accuracy=val_acc,
            )
            history.append(stats)
            if progress is not None:
                progress(stats)
    model.eval()
    return model, tuple(history)


def train_classifier(
    x,
    y,
    *,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    class_names: Sequence[str],
    epochs: int = 20,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    val_fraction: float = 0.2,
    device: str | torch.device = "cpu",
    progress: Callable[[EpochStats], None] | None = None,
    architecture_kwargs: dict | None = None,
    length_policy: str = "exact",
    axis_name: str = "time",
    axis_units: str = "s",
) -> TrainedClassifier:
    """Train a :class:`ScalogramCNN` on the images of signals, reproducibly.

    Parameters
    ----------
    x : array_like, shape (n_signals, n_times)
        Real signals (float32 or float64); all of one length.
    y : array_like of int or str, shape (n_signals,)
        Class index (``0 .. K-1``) or class name of each signal.
    transform_config : SSQConfig
        The synchrosqueezed transform.
    imaging_config : ImagingConfig
        How images are made from ``Tx`` (its ``n_channels`` is the network's input).
    class_names : sequence of str
        ``K >= 2`` distinct names, in class-index order.
    epochs, batch_size : int
        Passes over the training set; signals per optimiser step.
    lr : float
        Adam learning rate.
    seed : int
        Seeds the split, the weight initialisation, the batch order and dropout. The
        global random state is restored afterwards.
    val_fraction : float
        Fraction of each class held out for validation (``0 <= val_fraction < 1``);
        each class with at least two signals keeps at least one for each side.
    device : str or torch.device
        Where the transform and the training run.
    progress : callable, optional
        Called with each epoch's :class:`EpochStats`.
    architecture_kwargs : dict, optional
        Extra :class:`ScalogramCNN` arguments (``widths``, ``dropout``).
    length_policy : {'exact', 'crop', 'pad'}
        Recorded in the metadata: what to do with signals of another length later.
    axis_name, axis_units : str
        Name and units of the signal axis (``'time'``, ``'s'``; ``'wavenumber'``,
        ``'cm^-1'``), recorded in the metadata.

    Returns
    -------
    TrainedClassifier
        ``model``, ``metadata``, ``history``, ``train_indices``, ``val_indices``.

    Raises
    ------
    ValueError, TypeError
        Bad shapes, labels, names or hyper-parameters.

    Notes
    -----
    Images are computed once, without gradients. Data order comes from a NumPy
    generator seeded with ``seed``; weights from ``torch.manual_seed(seed)`` inside a
    forked random state, with ``torch.use_deterministic_algorithms`` switched on for
    the duration, so the same call on the same machine gives identical weights.
    Loss: cross-entropy; optimiser: Adam. After each epoch the batch-norm running
    statistics are recomputed as exact averages over the training images (with few
    optimiser steps the exponential averages lag behind the weights). The model after
    the last epoch is returned.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((8, 128)).astype(np.float32)
    >>> out = train_classifier(x, [0, 1] * 4, transform_config=SSQConfig(nv=8),
    ...                        imaging_config=ImagingConfig(size=(16, 16)),
    ...                        class_names=["a", "b"], epochs=1, batch_size=4,
    ...                        architecture_kwargs={"widths": [4, 8]})
    >>> len(out.history), out.metadata.class_names, out.metadata.n_times
    (1, ('a', 'b'), 128)
    """
    check_instance(transform_config, SSQConfig, "transform_config")
    check_instance(imaging_config, ImagingConfig, "imaging_config")
    class_names = check_strings(class_names, "class_names")
    settings = _TrainingSettings.checked(
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, val_fraction=val_fraction
    )
    check_choice(length_policy, LENGTH_POLICIES, "length_policy")
    if progress is not None:
        check_callable(progress, "progress", signature=" (called with EpochStats)")
    device = torch.device(device)
    xt = _check_signals(x)
    n_signals, n_times = xt.shape
    kwargs = {
        "in_channels": imaging_config.n_channels,
        "n_classes": len(class_names),
        **(architecture_kwargs or {}),
    }
    # validates class names, lengths and architecture before any expensive work
    metadata = ModelMetadata(
        transform=transform_config,
        imaging=imaging_config,
        class_names=class_names,
        n_times=n_times,
        length_policy=length_policy,
        axis_name=axis_name,
        axis_units=axis_units,
        architecture="ScalogramCNN",
        architecture_kwargs=kwargs,
    )
    labels = _labels(y, class_names, n_signals)
    train_idx, val_idx = _split(labels.numpy(), settings.val_fraction, settings.seed)
    if train_idx.size == 0:
        raise ValueError(
            f"no training signals left with val_fraction={settings.val_fraction!r}"
            f" and {n_signals} signal(s)"
        )
    images = make_images(
        xt, transform_config=transform_config, imaging_config=imaging_config, device=device
    )
    model, history = _fit(
        kwargs,
        (images[train_idx], labels[train_idx]),
        (images[val_idx], labels[val_idx]),
        settings,
        device,
        progress,
    )
    extra = settings.record(n_train=int(train_idx.size), n_val=int(val_idx.size), last=history[-1])
    metadata = metadata.replace(architecture_kwargs=model.architecture_kwargs, extra=extra)
    return TrainedClassifier(
        model=model,
        metadata=metadata,
        history=history,
        train_indices=train_idx,
        val_indices=val_idx,
    )
