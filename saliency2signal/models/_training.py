"""Training: the images of signals, and a reproducible training routine.

:func:`make_images` is ``ssq_cwt`` then ``to_image``, chunk by chunk, without gradients.
:func:`train_classifier` is a pure function: signals and labels in, a trained
:class:`~saliency2signal.models.ScalogramCNN`, its
:class:`~saliency2signal.metadata.ModelMetadata` and the per-epoch history
(:class:`EpochStats`) out, as a :class:`TrainedClassifier`. Its defaults are the recipe of
``._recipe``. It runs in steps: check the arguments, make the images once (no gradient
through the transform), split each class, fit the normalisation on the training images,
then fit the network (``._fitting``: the best-validation weights kept, early stopping).
The data order and the weight initialisation depend only on ``seed``, and the global
random state is left untouched.

Internal to ``models``: plain names, re-exported by ``saliency2signal.models``.
May import: numpy, torch, ``saliency2signal._validation``, ``imaging``, ``metadata``,
``transform``, ``._fitting``, ``._network``, ``._recipe``; never ``io`` (it imports
``models``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._validation import (
    check_axis,
    check_bool,
    check_callable,
    check_choice,
    check_instance,
    check_int,
    check_signal,
    check_strings,
)
from ..imaging import ImagingConfig, to_image
from ..metadata import LENGTH_POLICIES, ModelMetadata, with_class_means
from ..transform import MIN_LENGTH, SSQConfig, ssq_cwt
from ._fitting import EpochStats, FitSettings, fit
from ._network import ScalogramCNN
from ._recipe import DEFAULT_IMAGING, DEFAULT_TRANSFORM, default_architecture, with_meanstd

__all__ = ["TrainedClassifier", "make_images", "train_classifier"]


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
@dataclass(frozen=True, eq=False)
class TrainedClassifier:
    """Output of :func:`train_classifier`.

    Attributes
    ----------
    model : ScalogramCNN
        The network with the weights of epoch ``best_epoch``, in eval mode, on the
        training device.
    metadata : ModelMetadata
        Everything :func:`~saliency2signal.io.save_model` writes next to the weights;
        ``extra["training"]`` holds the settings, the best epoch and the history.
    history : tuple of EpochStats
        One entry per epoch run.
    train_indices, val_indices : numpy.ndarray
        Which signals were used for training and for validation.
    best_epoch : int
        The epoch whose weights ``model`` holds (1-based): the lowest validation loss,
        or the last epoch without validation or with ``restore_best=False``.
    stopped_early : bool
        Whether training stopped before ``epochs`` because the validation loss had not
        improved for ``patience`` epochs.
    """

    model: nn.Module
    metadata: ModelMetadata
    history: tuple[EpochStats, ...]
    train_indices: np.ndarray
    val_indices: np.ndarray
    best_epoch: int
    stopped_early: bool

    @property
    def best(self) -> EpochStats:
        """The history entry of the returned weights (epoch ``best_epoch``)."""
        return self.history[self.best_epoch - 1]

    @property
    def train_accuracy(self) -> float:
        """Training accuracy of the returned weights' epoch."""
        return self.best.train_accuracy

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the returned weights (``nan`` without a validation set)."""
        return self.best.val_accuracy

    @property
    def val_loss(self) -> float:
        """Validation loss of the returned weights (``nan`` without a validation set)."""
        return self.best.val_loss


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


def _axis_labels(
    axis_name: str | None, axis_units: str | None, values, fs: float
) -> tuple[str, str]:
    """Name and units of the signal axis; never "time (s)" unless the caller says so.

    Defaults: ``'sample'`` / ``'samples'`` when the x values are sample indices (no
    ``axis``, ``fs == 1``), else ``'x'`` / ``'axis units'``.
    """
    indices = values is None and fs == 1
    name = ("sample" if indices else "x") if axis_name is None else axis_name
    units = ("samples" if indices else "axis units") if axis_units is None else axis_units
    return check_instance(name, str, "axis_name"), check_instance(units, str, "axis_units")


#: Axes longer than this are recorded by their ends only (the metadata block stays small).
_MAX_AXIS_RECORD = 8192


def _axis_record(values: np.ndarray | None) -> dict:
    """Return the metadata's ``extra["axis"]``: the ends, and every x value if few."""
    if values is None:
        return {}
    record = {"first": float(values[0]), "last": float(values[-1]), "n": int(values.size)}
    if values.size <= _MAX_AXIS_RECORD:
        record["values"] = values.tolist()
    return {"axis": record}


def _architecture(architecture_kwargs, imaging_config, transform_config, n_times) -> dict:
    """Return the network's arguments (the recipe's unless given), checked for the image."""
    h, w = imaging_config.size or (transform_config.n_freqs(n_times), n_times)
    if architecture_kwargs is None:
        architecture_kwargs = default_architecture((h, w))
    check_instance(architecture_kwargs, dict, "architecture_kwargs", what="a dict or None")
    widths = architecture_kwargs.get(
        "widths", inspect.signature(ScalogramCNN).parameters["widths"].default
    )
    with contextlib.suppress(TypeError):  # a bad widths is ScalogramCNN's to report
        if min(h, w) < 2 ** (len(widths) - 1):
            raise ValueError(
                f"images of {h} x {w} pixels are too small for {len(widths)} blocks "
                f"(widths={list(widths)}): each block but the last halves them, so "
                f"at least {2 ** (len(widths) - 1)} pixels a side are needed"
            )
    return dict(architecture_kwargs)


def train_classifier(
    x,
    y,
    *,
    class_names: Sequence[str],
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    fit_meanstd: bool | None = None,
    epochs: int = 100,
    batch_size: int = 8,
    lr: float = 1e-3,
    seed: int = 0,
    val_fraction: float = 0.2,
    patience: int | None = 10,
    min_epochs: int = 30,
    restore_best: bool = True,
    device: str | torch.device = "cpu",
    progress: Callable[[EpochStats], None] | None = None,
    architecture_kwargs: dict | None = None,
    length_policy: str = "exact",
    axis=None,
    axis_name: str | None = None,
    axis_units: str | None = None,
) -> TrainedClassifier:
    """Train a :class:`ScalogramCNN` on the images of signals, reproducibly.

    The defaults are the recipe of the bundled planted-peak model
    (:data:`DEFAULT_TRANSFORM`, :data:`DEFAULT_IMAGING` with a fitted mean and std,
    :func:`default_architecture`), with early stopping on a stratified validation split.

    Parameters
    ----------
    x : array_like, shape (n_signals, n_times)
        Real signals (float32 or float64); all of one length.
    y : array_like of int or str, shape (n_signals,)
        Class index (``0 .. K-1``) or class name of each signal.
    class_names : sequence of str
        ``K >= 2`` distinct names, in class-index order.
    transform_config : SSQConfig, optional
        The synchrosqueezed transform; default :data:`DEFAULT_TRANSFORM`.
    imaging_config : ImagingConfig, optional
        How images are made from ``Tx`` (its ``n_channels`` is the network's input);
        default :data:`DEFAULT_IMAGING`.
    fit_meanstd : bool, optional
        Normalise the images by a fixed ``(mean, std)`` measured on the training images
        (:func:`with_meanstd`; ``imaging_config.normalize`` must be ``'none'``) and
        record it in the metadata's imaging. Default: ``True`` when ``imaging_config``
        is not given, else ``False``.
    epochs : int
        Most passes over the training set.
    batch_size : int
        Signals per optimiser step.
    lr : float
        Adam learning rate.
    seed : int
        Seeds the split, the weight initialisation, the batch order and dropout. The
        global random state is restored afterwards.
    val_fraction : float
        Fraction of each class held out for validation (``0 <= val_fraction < 1``);
        each class with at least two signals keeps at least one for each side.
    patience : int or None
        Stop when the validation loss has not improved for this many epochs; ``None``
        runs all ``epochs``. Without a validation set training never stops early.
    min_epochs : int
        Never stop before this many epochs (the recipe's 30): on a small set the
        validation loss can sit at chance level for a while before the network finds
        the feature.
    restore_best : bool
        Return the weights of the epoch with the lowest validation loss (``False``: of
        the last epoch). Without a validation set the last epoch's are returned.
    device : str or torch.device
        Where the transform and the training run.
    progress : callable, optional
        Called with each epoch's :class:`EpochStats`.
    architecture_kwargs : dict, optional
        :class:`ScalogramCNN` arguments (``widths``, ``dropout``, ``coord_channels``),
        used as given; default :func:`default_architecture` for the image size.
    length_policy : {'exact', 'crop', 'pad'}
        Recorded in the metadata: what to do with signals of another length later.
    axis : array_like, shape (n_times,), optional
        The x value of each sample (e.g. wavenumbers), strictly monotonic; recorded in
        the metadata's ``extra["axis"]`` (all values up to 8192 samples, else the ends).
    axis_name, axis_units : str, optional
        Name and units of the signal axis (``'wavenumber'``, ``'cm^-1'``), recorded in
        the metadata, where explanations read them. Default ``'sample'`` /
        ``'samples'`` when the x values are sample indices (no ``axis`` and
        ``transform_config.fs == 1``), else ``'x'`` / ``'axis units'``.

    Returns
    -------
    TrainedClassifier
        ``model``, ``metadata``, ``history``, ``train_indices``, ``val_indices``,
        ``best_epoch``, ``stopped_early``.

    Raises
    ------
    ValueError, TypeError
        Bad shapes, labels, names, axis or hyper-parameters; images too small for the
        network.

    Notes
    -----
    Images are computed once, without gradients; a fitted mean and std are applied to
    them afterwards (equal to ``to_image`` with the recorded configuration up to float32
    rounding, since the normalisation is affine and the resize averages). Data order
    comes from a NumPy generator seeded with ``seed``; weights from
    ``torch.manual_seed(seed)`` inside a forked random state, with
    ``torch.use_deterministic_algorithms`` switched on for the duration, so the same
    call on the same machine gives identical weights. Loss: cross-entropy; optimiser:
    Adam. After each epoch the batch-norm running statistics are recomputed as exact
    averages over the training images (with few optimiser steps the exponential
    averages lag behind the weights), then the validation loss and accuracy are
    measured in eval mode. ``metadata.extra["training"]`` records the settings, the
    split sizes, ``best_epoch``, ``epochs_run``, ``stopped_early`` and the per-epoch
    ``history``.

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
    >>> out.metadata.axis_name, out.metadata.axis_units
    ('sample', 'samples')
    """
    transform_config = DEFAULT_TRANSFORM if transform_config is None else transform_config
    check_instance(transform_config, SSQConfig, "transform_config")
    fit_meanstd = imaging_config is None if fit_meanstd is None else fit_meanstd
    check_bool(fit_meanstd, "fit_meanstd")
    imaging_config = DEFAULT_IMAGING if imaging_config is None else imaging_config
    check_instance(imaging_config, ImagingConfig, "imaging_config")
    if fit_meanstd and imaging_config.normalize != "none":
        raise ValueError(
            f"fit_meanstd=True needs imaging_config.normalize='none', "
            f"not {imaging_config.normalize!r}"
        )
    class_names = check_strings(class_names, "class_names")
    settings = FitSettings.checked(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        val_fraction=val_fraction,
        patience=patience,
        min_epochs=min_epochs,
        restore_best=restore_best,
    )
    check_choice(length_policy, LENGTH_POLICIES, "length_policy")
    if progress is not None:
        check_callable(progress, "progress", signature=" (called with EpochStats)")
    device = torch.device(device)
    xt = _check_signals(x)
    n_signals, n_times = xt.shape
    values = None if axis is None else check_axis(axis, n_times, monotonic=True)
    axis_name, axis_units = _axis_labels(axis_name, axis_units, values, transform_config.fs)
    kwargs = {
        "in_channels": imaging_config.n_channels,
        "n_classes": len(class_names),
        **_architecture(architecture_kwargs, imaging_config, transform_config, n_times),
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
    if fit_meanstd:
        imaging_config = with_meanstd(imaging_config, images[train_idx])
        images = (images - imaging_config.mean) / imaging_config.std
    model, history, best_epoch = fit(
        kwargs,
        (images[train_idx], labels[train_idx]),
        (images[val_idx], labels[val_idx]),
        settings,
        device,
        progress,
    )
    training = settings.record(
        n_train=int(train_idx.size),
        n_val=int(val_idx.size),
        history=history,
        best_epoch=best_epoch,
    )
    metadata = metadata.replace(
        imaging=imaging_config,
        architecture_kwargs=model.architecture_kwargs,
        extra={"training": training, **_axis_record(values)},
    )
    metadata = with_class_means(metadata, xt[train_idx], labels[train_idx].numpy())
    return TrainedClassifier(
        model=model,
        metadata=metadata,
        history=history,
        train_indices=train_idx,
        val_indices=val_idx,
        best_epoch=best_epoch,
        stopped_early=training["stopped_early"],
    )
