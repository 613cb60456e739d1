"""A small CNN for scalogram images and a reproducible training routine.

:class:`ScalogramCNN` classifies the ``(B, C, H, W)`` images that
:func:`~saliency2signal.imaging.to_image` makes from synchrosqueezed coefficients: a few
conv-BN-ReLU(-max-pool) blocks, global average pooling and one linear layer, with
readable layer names so that a layer attribution (Grad-CAM) can target a block by name
(:attr:`ScalogramCNN.cam_layer`, e.g. ``'features.3'``).

:func:`train_classifier` is a pure function: signals and labels in, a trained network,
its :class:`~saliency2signal.io.ModelMetadata` and the accuracy history out. Images are
computed once (no gradient through the transform), the data order and the weight
initialisation depend only on ``seed``, and the global random state is left untouched.

:class:`SpectrumClassifier` is the thin module that applies the recorded imaging step to
coefficients and then the network, so that attributions can be computed with respect to
``Tx`` itself.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._validation import as_tensor, check_positive, check_signal
from .forward import CoefficientClassifier
from .imaging import ImagingConfig, to_image
from .metadata import LENGTH_POLICIES, ModelMetadata
from .transform import MIN_LENGTH, SSQConfig, ssq_cwt

__all__ = [
    "ARCHITECTURES",
    "ConvBlock",
    "EpochStats",
    "ScalogramCNN",
    "SpectrumClassifier",
    "TrainedClassifier",
    "architecture_sizes",
    "build_model",
    "make_images",
    "train_classifier",
]


# =========================================================================== network
class ConvBlock(nn.Module):
    """``conv (3x3, same padding) -> batch norm -> ReLU -> 2x2 max-pool`` (pool optional).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    pool : bool
        Halve the height and width at the end (``nn.Identity`` otherwise).

    Examples
    --------
    >>> import torch
    >>> ConvBlock(1, 4)(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 4, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, *, pool: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.pool(self.relu(self.bn(self.conv(x))))


def _append_coordinates(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C + 2, H, W)``: row, then column coordinate in [-1, 1]."""
    b, _, h, w = x.shape
    rows = torch.linspace(-1.0, 1.0, h, dtype=x.dtype, device=x.device)
    cols = torch.linspace(-1.0, 1.0, w, dtype=x.dtype, device=x.device)
    grid = torch.stack((rows[:, None].expand(h, w), cols[None, :].expand(h, w)))
    return torch.cat((x, grid[None].expand(b, 2, h, w)), dim=1)


class ScalogramCNN(nn.Module):
    """Small CNN for scalogram images ``(B, C, H, W)`` -> logits ``(B, n_classes)``.

    ``features`` is an ``nn.Sequential`` of :class:`ConvBlock` (all but the last one
    max-pool), followed by global average pooling (``pool``), optional dropout and a
    linear ``classifier``. Any ``H, W`` of at least ``2 ** (len(widths) - 1)`` pixels
    works (64x64 or 128x128 are typical).

    Parameters
    ----------
    in_channels : int
        Image channels (``ImagingConfig.n_channels``).
    n_classes : int
        Number of classes (>= 2).
    widths : sequence of int
        Output channels of each block.
    dropout : float
        Dropout probability before the linear head.
    coord_channels : bool
        CoordConv (Liu et al. 2018): append two channels holding each pixel's
        normalised row and column coordinate (``-1`` at the first pixel centre, ``+1``
        at the last) to the input before the first block, so the network knows *where*
        in the image it is. Global average pooling makes a plain CNN blind to absolute
        position except through the image borders, which its receptive field must
        reach, and its evidence spreads towards them; with the coordinates a block can
        respond to "this pattern at this frequency/time" locally. The channels are made
        in ``forward`` for any image size (no parameters, no buffers); attributions of
        the input image do not include them. Off by default (model files without the
        key load unchanged).

    Attributes
    ----------
    cam_layer : str
        Name of the last block (``f"features.{len(widths) - 1}"``): its output — ReLU
        activations at ``1 / 2**(len(widths) - 1)`` of the image resolution — is the
        usual Grad-CAM target, ``model.get_submodule(model.cam_layer)``.
    architecture_kwargs : dict
        The constructor arguments, as recorded in model files.

    Notes
    -----
    The default widths ``(16, 32, 64, 64)`` give 60,530 parameters for one input
    channel and two classes (about 250 kB of float32 weights); ``coord_channels``
    adds ``2 * 9 * widths[0]`` weights to the first convolution.

    References
    ----------
    R. Liu et al., "An intriguing failing of convolutional neural networks and the
    CoordConv solution", NeurIPS 2018.

    Examples
    --------
    >>> import torch
    >>> net = ScalogramCNN(in_channels=3, n_classes=4)
    >>> net(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 4])
    >>> net.cam_layer, type(net.get_submodule(net.cam_layer)).__name__
    ('features.3', 'ConvBlock')
    >>> ScalogramCNN(coord_channels=True).features[0].conv.in_channels  # 1 + row + column
    3
    """

    __constants__ = ["coord_channels"]  # TorchScript compiles the unused branch away

    def __init__(self, in_channels: int = 1, n_classes: int = 2, *,
                 widths: Sequence[int] = (16, 32, 64, 64), dropout: float = 0.0,
                 coord_channels: bool = False):
        super().__init__()
        in_channels = check_positive(in_channels, "in_channels", integer=True)
        n_classes = check_positive(n_classes, "n_classes", integer=True)
        if n_classes < 2:
            raise ValueError(f"{n_classes=} must be >= 2")
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise TypeError(f"widths={widths!r} must be a sequence of ints")
        if len(widths) == 0:
            raise ValueError(f"widths={widths!r} must name at least one block")
        widths = tuple(check_positive(w, "widths", integer=True) for w in widths)
        dropout = check_positive(dropout, "dropout", allow_zero=True)
        if dropout >= 1:
            raise ValueError(f"{dropout=} must be < 1")
        if not isinstance(coord_channels, bool):
            raise TypeError(f"coord_channels={coord_channels!r} must be a bool")
        self.architecture_kwargs = {"in_channels": in_channels, "n_classes": n_classes,
                                    "widths": list(widths), "dropout": dropout,
                                    "coord_channels": coord_channels}
        self.coord_channels = coord_channels
        chans = (in_channels + (2 if coord_channels else 0), *widths)
        self.features = nn.Sequential(*(
            ConvBlock(chans[i], chans[i + 1], pool=i < len(widths) - 1)
            for i in range(len(widths))
        ))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(widths[-1], n_classes)
        self.cam_layer = f"features.{len(widths) - 1}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits of images ``x`` of shape ``(B, C, H, W)``."""
        if self.coord_channels:
            x = _append_coordinates(x)
        h = self.pool(self.features(x)).flatten(1)
        return self.classifier(self.dropout(h))


#: Architectures that model files can name (``ModelMetadata.architecture``).
ARCHITECTURES: dict[str, type[nn.Module]] = {"ScalogramCNN": ScalogramCNN}


def architecture_sizes(architecture: str, input_shape: Sequence[int],
                       **kwargs) -> tuple[int, int]:
    """Parameters and largest activation of a registered architecture, nothing built.

    Parameters
    ----------
    architecture : str
        Key of :data:`ARCHITECTURES`.
    input_shape : sequence of int
        ``(channels, height, width)`` of one input image.
    **kwargs
        Constructor arguments (``architecture_kwargs`` of a model file).

    Returns
    -------
    n_parameters, largest_activation : int
        Number of parameters, and number of values in the largest intermediate tensor
        for one image.

    Raises
    ------
    ValueError
        Unknown architecture or arguments that do not bind to its constructor.

    Examples
    --------
    >>> net = ScalogramCNN(widths=(8, 16))
    >>> n_params, largest = architecture_sizes("ScalogramCNN", (1, 32, 32), widths=[8, 16])
    >>> n_params == sum(p.numel() for p in net.parameters()), largest == 8 * 32 * 32
    (True, True)
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r} is not one of {sorted(ARCHITECTURES)}")
    try:
        bound = inspect.signature(ARCHITECTURES[architecture]).bind(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments {kwargs!r} for {architecture}: {exc}") from None
    bound.apply_defaults()
    args = bound.arguments
    c, h, w = (int(v) for v in input_shape)
    chans = [int(args["in_channels"]) + (2 if args["coord_channels"] is True else 0),
             *(int(v) for v in args["widths"])]
    n_params = sum(9 * a * b + 2 * b for a, b in zip(chans[:-1], chans[1:], strict=False))
    n_params += (chans[-1] + 1) * int(args["n_classes"])
    largest = max(c, chans[0]) * h * w
    for width in chans[1:]:  # block i: convolution at H_i x W_i, then 2 x 2 pooling
        largest = max(largest, width * h * w)
        h, w = h // 2, w // 2
    return n_params, largest


def build_model(architecture: str, **kwargs) -> nn.Module:
    """Build a registered architecture (see :data:`ARCHITECTURES`) by name.

    Parameters
    ----------
    architecture : str
        Key of :data:`ARCHITECTURES`.
    **kwargs
        Constructor arguments (``architecture_kwargs`` of a model file).

    Returns
    -------
    torch.nn.Module
        Freshly initialised (from the global torch random state).

    Raises
    ------
    ValueError
        Unknown architecture or constructor arguments.

    Examples
    --------
    >>> build_model("ScalogramCNN", in_channels=1, n_classes=3, widths=[8, 16]).cam_layer
    'features.1'
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r} is not one of {sorted(ARCHITECTURES)}")
    try:
        return ARCHITECTURES[architecture](**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments {kwargs!r} for {architecture}: {exc}") from None


#: Imaging + network, coefficients -> logits: the same class as
#: :class:`saliency2signal.forward.CoefficientClassifier` (its name before 0.2).
SpectrumClassifier = CoefficientClassifier


# =========================================================================== images
def make_images(x, *, transform_config: SSQConfig, imaging_config: ImagingConfig,
                chunk_size: int = 64, device: str | torch.device = "cpu") -> torch.Tensor:
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
    xt = check_signal(x, min_length=MIN_LENGTH)
    if xt.ndim != 2:
        raise ValueError(f"x has shape {tuple(xt.shape)}; expected (n_signals, n_times)")
    chunk_size = check_positive(chunk_size, "chunk_size", integer=True)
    out = []
    with torch.no_grad():
        for start in range(0, xt.shape[0], chunk_size):
            part = xt[start:start + chunk_size].to(device)
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
        raise ValueError(f"y contains class index {bad}, outside 0..{len(class_names) - 1} "
                         f"for {class_names=}")
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


def _recalibrate_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int,
                           device: torch.device) -> None:
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
            model(images[start:start + batch_size].to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
              batch_size: int, device: torch.device) -> tuple[float, float]:
    if images.shape[0] == 0:
        return math.nan, math.nan
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            xb = images[start:start + batch_size].to(device)
            yb = labels[start:start + batch_size].to(device)
            logits = model(xb)
            loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
    return loss / images.shape[0], correct / images.shape[0]


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
    if not isinstance(transform_config, SSQConfig):
        raise TypeError(f"transform_config must be an SSQConfig, got "
                        f"{type(transform_config).__name__}")
    if not isinstance(imaging_config, ImagingConfig):
        raise TypeError(f"imaging_config must be an ImagingConfig, got "
                        f"{type(imaging_config).__name__}")
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names={class_names!r} must be a sequence of strings")
    class_names = tuple(class_names)
    epochs = check_positive(epochs, "epochs", integer=True)
    batch_size = check_positive(batch_size, "batch_size", integer=True)
    lr = check_positive(lr, "lr")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed={seed!r} must be an int")
    val_fraction = check_positive(val_fraction, "val_fraction", allow_zero=True)
    if val_fraction >= 1:
        raise ValueError(f"{val_fraction=} must be < 1")
    if length_policy not in LENGTH_POLICIES:
        raise ValueError(f"length_policy={length_policy!r} must be one of {LENGTH_POLICIES}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress={progress!r} must be callable")
    device = torch.device(device)
    xt = check_signal(as_tensor(x, name="x"), min_length=MIN_LENGTH)
    if xt.ndim != 2:
        raise ValueError(f"x has shape {tuple(xt.shape)}; expected (n_signals, n_times)")
    n_signals, n_times = xt.shape
    kwargs = {"in_channels": imaging_config.n_channels, "n_classes": len(class_names),
              **(architecture_kwargs or {})}
    # validates class names, lengths and architecture before any expensive work
    metadata = ModelMetadata(
        transform=transform_config, imaging=imaging_config, class_names=class_names,
        n_times=n_times, length_policy=length_policy, axis_name=axis_name,
        axis_units=axis_units, architecture="ScalogramCNN", architecture_kwargs=kwargs,
    )
    labels = _labels(y, class_names, n_signals)
    train_idx, val_idx = _split(labels.numpy(), val_fraction, int(seed))
    if train_idx.size == 0:
        raise ValueError(f"no training signals left with {val_fraction=} and "
                         f"{n_signals} signal(s)")
    images = make_images(xt, transform_config=transform_config,
                         imaging_config=imaging_config, device=device)
    x_tr, y_tr = images[train_idx], labels[train_idx]
    x_va, y_va = images[val_idx], labels[val_idx]
    order_rng = np.random.default_rng(int(seed))
    history = []
    with _deterministic(int(seed), device):
        model = ScalogramCNN(**kwargs).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for epoch in range(epochs):
            model.train()
            perm = torch.as_tensor(order_rng.permutation(train_idx.size))
            loss_sum, correct, seen = 0.0, 0, 0
            for start in range(0, perm.numel(), batch_size):
                sel = perm[start:start + batch_size]
                if sel.numel() == 1 and perm.numel() > 1:
                    continue  # batch norm cannot train on a single image
                xb, yb = x_tr[sel].to(device), y_tr[sel].to(device)
                opt.zero_grad()
                logits = model(xb)
                loss = nn.functional.cross_entropy(logits, yb)
                loss.backward()
                opt.step()
                loss_sum += float(loss.detach()) * sel.numel()
                correct += int((logits.detach().argmax(1) == yb).sum())
                seen += sel.numel()
            _recalibrate_batchnorm(model, x_tr, batch_size, device)
            val_loss, val_acc = _evaluate(model, x_va, y_va, batch_size, device)
            stats = EpochStats(epoch=epoch + 1, train_loss=loss_sum / seen,
                               train_accuracy=correct / seen,
                               val_loss=val_loss, val_accuracy=val_acc)
            history.append(stats)
            if progress is not None:
                progress(stats)
    model.eval()
    last = history[-1]
    extra = {"training": {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": int(seed),
        "val_fraction": val_fraction, "n_train": int(train_idx.size),
        "n_val": int(val_idx.size), "train_accuracy": last.train_accuracy,
        "val_accuracy": None if math.isnan(last.val_accuracy) else last.val_accuracy,
    }}
    metadata = metadata.replace(architecture_kwargs=model.architecture_kwargs, extra=extra)
    return TrainedClassifier(model=model, metadata=metadata, history=tuple(history),
                             train_indices=train_idx, val_indices=val_idx)
