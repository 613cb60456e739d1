"""The training recipe: what :func:`train_classifier` and ``saliency2signal train`` use.

The settings of the bundled planted-peak model (``models/train_models.py``), which also
train well on the other benchmark designs and on Coffee (``benchmarks/bench_train.py``;
the table is in the README):

* transform :data:`DEFAULT_TRANSFORM`: Morse wavelet with ``beta=5`` (short in time, so a
  peak's coefficients stay near the peak), 16 voices per octave, the low-pass row (the
  baseline, which the wavelets never see, in row 0), float32;
* imaging :data:`DEFAULT_IMAGING`: ``log1p`` magnitude, antialiased resize to 64 x 64,
  then a fixed ``(mean, std)`` measured on the training images (:func:`with_meanstd`),
  not per-image min-max, so that a spectrum's overall level stays visible;
* network :func:`default_architecture`: six blocks of widths :data:`DEFAULT_WIDTHS`
  with CoordConv coordinate channels (the class often depends on *where* a feature is),
  fewer blocks when the image is too small for six.

Internal to ``models``: plain names, re-exported by ``saliency2signal.models``.
May import: torch, ``saliency2signal._validation``, ``imaging``, ``transform``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from .._validation import check_bool, check_instance, check_int
from ..imaging import ImagingConfig
from ..transform import SSQConfig

__all__ = [
    "DEFAULT_IMAGING",
    "DEFAULT_TRANSFORM",
    "DEFAULT_WIDTHS",
    "default_architecture",
    "with_meanstd",
]

#: The recipe's transform: a short Morse wavelet and the low-pass row.
DEFAULT_TRANSFORM = SSQConfig(nv=16, beta=5.0, lowpass_row=True, dtype="float32")

#: The recipe's imaging before its normalisation is fitted (:func:`with_meanstd`).
DEFAULT_IMAGING = ImagingConfig(scale="log1p", normalize="none", size=(64, 64), antialias=True)

#: Output channels of the recipe's six convolution blocks.
DEFAULT_WIDTHS = (16, 32, 32, 64, 64, 64)


def default_architecture(image_shape: Sequence[int], *, coord_channels: bool = True) -> dict:
    """Return the recipe's :class:`ScalogramCNN` arguments for images of this size.

    Every block but the last halves the image, so ``k`` blocks need at least
    ``2 ** (k - 1)`` pixels a side: the first ``min(6, 1 + floor(log2(min(H, W))))`` of
    :data:`DEFAULT_WIDTHS`.

    Parameters
    ----------
    image_shape : (int, int)
        ``(height, width)`` of the network's input images.
    coord_channels : bool
        CoordConv coordinate channels (the recipe: on).

    Returns
    -------
    dict
        ``{"widths": [...], "coord_channels": ...}``.

    Examples
    --------
    >>> default_architecture((64, 64))
    {'widths': [16, 32, 32, 64, 64, 64], 'coord_channels': True}
    >>> default_architecture((16, 16), coord_channels=False)["widths"]
    [16, 32, 32, 64, 64]
    """
    if isinstance(image_shape, (str, bytes)) or len(image_shape) != 2:
        raise ValueError(f"image_shape={image_shape!r} must be (height, width)")
    side = min(check_int(v, "image_shape", minimum=1) for v in image_shape)
    n_blocks = min(len(DEFAULT_WIDTHS), side.bit_length())  # 1 + floor(log2(side))
    return {
        "widths": list(DEFAULT_WIDTHS[:n_blocks]),
        "coord_channels": check_bool(coord_channels, "coord_channels"),
    }


def with_meanstd(imaging_config: ImagingConfig, images: torch.Tensor) -> ImagingConfig:
    """``imaging_config`` with ``normalize='meanstd'`` and the mean and std of ``images``.

    Parameters
    ----------
    imaging_config : ImagingConfig
        With ``normalize='none'``: ``images`` were made with it.
    images : torch.Tensor, shape (n_images, C, H, W)
        The training images, unnormalised.

    Returns
    -------
    ImagingConfig
        The same configuration normalised by the images' overall mean and (population)
        standard deviation.

    Raises
    ------
    ValueError
        ``imaging_config`` already normalises, no images, or images of zero spread.

    Examples
    --------
    >>> import torch
    >>> cfg = with_meanstd(DEFAULT_IMAGING, torch.tensor([[[[1.0, 3.0]]]]))
    >>> cfg.normalize, cfg.mean, cfg.std
    ('meanstd', 2.0, 1.0)
    """
    check_instance(imaging_config, ImagingConfig, "imaging_config")
    if imaging_config.normalize != "none":
        raise ValueError(
            f"imaging_config.normalize={imaging_config.normalize!r}; fitting a mean and std "
            "needs normalize='none' (the images before normalisation)"
        )
    if images.numel() == 0:
        raise ValueError("no training images to measure a mean and std on")
    values = images.detach().to(torch.float64)
    mean, std = float(values.mean()), float(values.std(correction=0))
    if not std > 0:
        raise ValueError(f"the training images are constant (std={std!r}); cannot standardise")
    return dataclasses.replace(imaging_config, normalize="meanstd", mean=mean, std=std)
