"""The network: a small CNN for scalogram images, and the architectures files name.

:class:`ScalogramCNN` classifies the ``(B, C, H, W)`` images that
:func:`~saliency2signal.imaging.to_image` makes from synchrosqueezed coefficients: a few
conv-BN-ReLU(-max-pool) blocks (:class:`ConvBlock`), global average pooling and one
linear layer, with readable layer names so that a layer attribution (Grad-CAM) can
target a block by name (:attr:`ScalogramCNN.cam_layer`, e.g. ``'features.3'``).
:data:`ARCHITECTURES`, :func:`build_model` and :func:`architecture_sizes` are what model
files name, rebuild and size up before anything is built.

Internal to ``models``: plain names, re-exported by ``saliency2signal.models``.
May import: torch, ``saliency2signal._validation``; never ``io`` (it imports this).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn

from .._validation import check_bool, check_int, check_real

__all__ = ["ARCHITECTURES", "ConvBlock", "ScalogramCNN", "architecture_sizes", "build_model"]


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

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 2,
        *,
        widths: Sequence[int] = (16, 32, 64, 64),
        dropout: float = 0.0,
        coord_channels: bool = False,
    ):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        n_classes = check_int(n_classes, "n_classes", minimum=2)
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise TypeError(f"widths={widths!r} must be a sequence of ints")
        if len(widths) == 0:
            raise ValueError(f"widths={widths!r} must name at least one block")
        widths = tuple(check_int(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths))
        dropout = check_real(dropout, "dropout", low=0, high=1, high_open=True)
        coord_channels = check_bool(coord_channels, "coord_channels")
        self.architecture_kwargs = {
            "in_channels": in_channels,
            "n_classes": n_classes,
            "widths": list(widths),
            "dropout": dropout,
            "coord_channels": coord_channels,
        }
        self.coord_channels = coord_channels
        chans = (in_channels + (2 if coord_channels else 0), *widths)
        self.features = nn.Sequential(
            *(
                ConvBlock(chans[i], chans[i + 1], pool=i < len(widths) - 1)
                for i in range(len(widths))
            )
        )
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


def architecture_sizes(architecture: str, input_shape: Sequence[int], **kwargs) -> tuple[int, int]:
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
    chans = [
        int(args["in_channels"]) + (2 if args["coord_channels"] is True else 0),
        *(int(v) for v in args["widths"]),
    ]
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
