"""The optimisation loop of :func:`~saliency2signal.models.train_classifier`.

:func:`fit` builds a :class:`ScalogramCNN` and trains it on ready-made images: one pass
per epoch in a seeded order, batch norm recalibrated, validation in eval mode, the
weights of the lowest validation loss kept, early stopping after ``patience`` epochs
without improvement (never before ``min_epochs``). :class:`EpochStats` is one epoch's
record and :class:`FitSettings` the validated settings (with what the metadata records
of them).

Internal to ``models``: plain names for what ``._training`` uses.
May import: numpy, torch, ``saliency2signal._validation``, ``._network``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._validation import check_bool, check_int, check_real, finite_or_none
from ._network import ScalogramCNN

__all__ = ["EpochStats", "FitSettings", "fit"]


@dataclass(frozen=True)
class EpochStats:
    """Loss and accuracy after one epoch (``nan`` where there is no validation set).

    Training values are running averages over the epoch's batches (train mode);
    validation values are computed in eval mode after the epoch. ``best_epoch`` is the
    epoch whose weights training would return if it stopped now (the lowest validation
    loss so far; the current epoch without validation or with ``restore_best=False``).
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    best_epoch: int

    def to_dict(self) -> dict:
        """JSON-compatible values (``None`` for ``nan``)."""
        return {
            "epoch": self.epoch,
            "train_loss": finite_or_none(self.train_loss),
            "train_accuracy": finite_or_none(self.train_accuracy),
            "val_loss": finite_or_none(self.val_loss),
            "val_accuracy": finite_or_none(self.val_accuracy),
        }


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
class FitSettings:
    """The optimisation settings of :func:`train_classifier`, validated."""

    epochs: int
    batch_size: int
    lr: float
    seed: int
    val_fraction: float
    patience: int | None
    min_epochs: int
    restore_best: bool

    @classmethod
    def checked(
        cls, *, epochs, batch_size, lr, seed, val_fraction, patience, min_epochs, restore_best
    ) -> FitSettings:
        return cls(
            epochs=check_int(epochs, "epochs", minimum=1),
            batch_size=check_int(batch_size, "batch_size", minimum=1),
            lr=check_real(lr, "lr", low=0, low_open=True),
            seed=check_int(seed, "seed"),
            val_fraction=check_real(val_fraction, "val_fraction", low=0, high=1, high_open=True),
            patience=None if patience is None else check_int(patience, "patience", minimum=1),
            min_epochs=check_int(min_epochs, "min_epochs", minimum=0),
            restore_best=check_bool(restore_best, "restore_best"),
        )

    def record(self, *, n_train: int, n_val: int, history: tuple, best_epoch: int) -> dict:
        """Return the metadata's ``extra["training"]``: settings, split, best epoch, history."""
        best = history[best_epoch - 1]
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "patience": self.patience,
            "min_epochs": self.min_epochs,
            "restore_best": self.restore_best,
            "n_train": n_train,
            "n_val": n_val,
            "epochs_run": len(history),
            "stopped_early": len(history) < self.epochs,
            "best_epoch": best_epoch,
            "train_accuracy": best.train_accuracy,
            "val_accuracy": finite_or_none(best.val_accuracy),
            "val_loss": finite_or_none(best.val_loss),
            "history": [h.to_dict() for h in history],
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


class _Best:
    """The epoch of the lowest validation loss so far, and a copy of its weights."""

    def __init__(self):
        self.epoch, self.loss, self.state = 0, math.inf, None

    def update(self, model: nn.Module, epoch: int, val_loss: float, *, copy: bool) -> None:
        """Record ``epoch`` if ``val_loss`` is lower (``nan``, no validation, never is)."""
        if val_loss < self.loss:
            self.epoch, self.loss = epoch, val_loss
            if copy:
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}


def _stop(settings: FitSettings, epoch: int, best_epoch: int, n_val: int) -> bool:
    """Whether ``patience`` epochs have passed without improvement, after ``min_epochs``."""
    if n_val == 0 or settings.patience is None or epoch < settings.min_epochs:
        return False
    return epoch - best_epoch >= settings.patience


def fit(
    kwargs: dict,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: FitSettings,
    device: torch.device,
    progress: Callable[[EpochStats], None] | None,
) -> tuple[nn.Module, tuple, int]:
    """Build a :class:`ScalogramCNN` from ``kwargs`` and train it.

    Returns the model (with the best-validation weights under ``restore_best``), the
    history and the epoch of the returned weights. Weights, dropout and the batch order
    depend only on ``settings.seed``; the global random state is left as it was.
    """
    (x_tr, y_tr), (x_va, y_va) = train, val
    order_rng = np.random.default_rng(settings.seed)
    keep = settings.restore_best and x_va.shape[0] > 0
    history, best = [], _Best()
    with _deterministic(settings.seed, device):
        model = ScalogramCNN(**kwargs).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        for epoch in range(1, settings.epochs + 1):
            perm = torch.as_tensor(order_rng.permutation(x_tr.shape[0]))
            train_loss, train_acc = _train_epoch(
                model, opt, x_tr, y_tr, perm, settings.batch_size, device
            )
            _recalibrate_batchnorm(model, x_tr, settings.batch_size, device)
            val_loss, val_acc = _evaluate(model, x_va, y_va, settings.batch_size, device)
            best.update(model, epoch, val_loss, copy=keep)
            returned = best.epoch if keep and best.epoch else epoch  # 0: loss never finite
            stats = EpochStats(epoch, train_loss, train_acc, val_loss, val_acc, returned)
            history.append(stats)
            if progress is not None:
                progress(stats)
            if _stop(settings, epoch, best.epoch, x_va.shape[0]):
                break
    if keep and best.state is not None:
        model.load_state_dict(best.state)
    model.eval()
    return model, tuple(history), history[-1].best_epoch
