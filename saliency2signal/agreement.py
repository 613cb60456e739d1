"""Do our images equal the ones the researcher's model saw? Check before explaining.

An explanation of a model is only about that model's input if the imaging replayed here
(a pipeline file's steps) makes the images the researcher made. :func:`compare_images`
makes ours for the signals that have one of theirs, compares the pixels and, what
matters, the model's predictions on both; :func:`read_image_folder` reads theirs from a
folder of PNG/JPEG/TIFF files.

Which of our images theirs are compared with depends on what they are:

- **8-bit images** (``uint8`` arrays, or PNG/JPEG files): the image as saved, compared
  with ours after the imaging's last :class:`~saliency2signal.pipeline.QuantizeUint8`
  step (as ``value / 255``); the model's input from theirs is made by the steps after
  it (an ImageNet normalisation, say).
- **Floating-point images** (``float`` arrays, float TIFFs): the model's input itself,
  compared with the whole imaging's output.

May import: numpy, torch, Pillow (lazily), ``limits``, ``metadata``, ``imaging``,
``pipeline``, ``transform``, ``_validation``, ``_runtime``, ``_scalogram_png``; never the
explanation stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import limits
from ._runtime import eval_mode
from ._validation import as_tensor, check_instance, check_int
from .imaging import to_image
from .metadata import ModelMetadata, fit_length
from .pipeline import ImagingSteps, QuantizeUint8, continue_steps
from .transform import ssq_cwt

__all__ = [
    "IMAGE_SUFFIXES",
    "MIN_AGREEMENT",
    "ImageAgreement",
    "compare_images",
    "read_image_folder",
]

#: Image files read from a folder (by suffix, case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: The share of compared signals whose predictions must agree before explaining.
MIN_AGREEMENT = 0.99
#: A regression's outputs agree when they differ by at most this share of the spread
#: (standard deviation, or the mean magnitude for a single signal) of the outputs on the
#: researcher's images.
OUTPUT_TOLERANCE = 0.01
_INDEX = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class ImageAgreement:
    """How the images made here compare with the researcher's, and the model on both.

    Attributes
    ----------
    indices : tuple of int
        The signals compared (those that have one of the researcher's images).
    kind : {'uint8', 'float'}
        ``'uint8'``: compared as saved 8-bit images (differences in units of 1/255 of
        full scale); ``'float'``: compared as the model's input.
    max_difference, mean_difference : float
        Largest and mean absolute pixel difference (over all compared pixels).
    share_close : float
        Share of compared pixel values that differ by at most one 8-bit level (1/255;
        for float images, 1/255 of their value range). Synchrosqueezing in float32 (as
        ssqueezepy computes by default) moves some cells to a neighbouring frequency
        bin by rounding, so a few pixels can differ by more while predictions agree.
    agreement : float
        Share of compared signals whose predicted class is the same on both images; for
        a regression, whose outputs differ by at most :data:`OUTPUT_TOLERANCE` of the
        spread of the outputs on their images (every output of the model).
    predictions_ours, predictions_theirs : tuple
        Predicted classes (int), or a regression's output values (tuples of float).
    output_difference : float or None
        A regression's largest absolute output difference (``None`` for a classifier).
    """

    indices: tuple[int, ...]
    kind: str
    max_difference: float
    mean_difference: float
    share_close: float
    agreement: float
    predictions_ours: tuple
    predictions_theirs: tuple
    output_difference: float | None = None

    @property
    def n_compared(self) -> int:
        """Number of signals compared."""
        return len(self.indices)

    def agrees(self, minimum: float = MIN_AGREEMENT) -> bool:
        """Whether predictions agree on at least ``minimum`` of the compared signals."""
        return self.agreement >= minimum

    def summary(self) -> str:
        """One line for people: the agreement and the pixel differences."""
        unit = " (x 1/255)" if self.kind == "uint8" else ""
        scale = 255.0 if self.kind == "uint8" else 1.0
        outputs = (
            ""
            if self.output_difference is None
            else f" (largest output difference {self.output_difference:.3g})"
        )
        return (
            f"predictions agree on {self.agreement:.0%} of {self.n_compared} signal(s)"
            f"{outputs} "
            f"compared with your images; pixel difference max "
            f"{self.max_difference * scale:.3g}, mean {self.mean_difference * scale:.3g}{unit}, "
            f"{self.share_close:.2%} of pixel values within one 8-bit level"
        )

    def to_dict(self) -> dict:
        """JSON-compatible record (for the report)."""
        return {
            "indices": list(self.indices),
            "kind": self.kind,
            "n_compared": self.n_compared,
            "max_difference": self.max_difference,
            "mean_difference": self.mean_difference,
            "share_close": self.share_close,
            "agreement": self.agreement,
            "predictions_ours": [
                list(p) if isinstance(p, tuple) else p for p in self.predictions_ours
            ],
            "predictions_theirs": [
                list(p) if isinstance(p, tuple) else p for p in self.predictions_theirs
            ],
            "output_difference": self.output_difference,
        }


def _split(imaging):
    """Split the steps after the last 8-bit quantisation (``None``: no such step)."""
    if not isinstance(imaging, ImagingSteps):
        return None
    last = [i for i, s in enumerate(imaging.steps) if isinstance(s, QuantizeUint8)]
    if not last:
        return None
    k = last[-1] + 1
    return ImagingSteps(imaging.steps[:k]), imaging.steps[k:]


def _as_images(theirs, shape: tuple[int, int, int], n_signals: int) -> torch.Tensor:
    """Their images as ``(K, C, H, W)``: channels first or last, grey or repeated RGB."""
    t = as_tensor(theirs, name="images")
    c, h, w = shape
    if t.ndim == 3:  # (K, H, W): grey
        t = t[:, None]
    if t.ndim != 4:
        raise ValueError(
            f"images have shape {tuple(t.shape)}; expected (K, [C,] H, W) or (K, H, W, C)"
        )
    if tuple(t.shape[-2:]) != (h, w) and tuple(t.shape[1:3]) == (h, w):
        t = t.permute(0, 3, 1, 2)  # channels last, as image files and PIL have them
    if tuple(t.shape[-2:]) != (h, w):
        raise ValueError(
            f"images have shape {tuple(t.shape)}; the pipeline makes {c} x {h} x {w} images"
        )
    if t.shape[1] == 4 and c != 4:  # RGBA: drop the alpha channel
        t = t[:, :3]
    if t.shape[1] == 3 and c == 1 and bool((t == t[:, :1]).all()):
        t = t[:, :1]  # a grey image saved as RGB
    if t.shape[1] == 1 and c > 1:
        raise ValueError(f"images have 1 channel; the pipeline makes {c} at that point")
    if t.shape[1] != c:
        raise ValueError(f"images have {t.shape[1]} channels; the pipeline makes {c}")
    if len(t) > n_signals:
        raise ValueError(f"{len(t)} images for {n_signals} signals")
    return t


def compare_images(
    model: torch.nn.Module,
    x,
    images,
    *,
    metadata: ModelMetadata,
    indices=None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> ImageAgreement:
    """Compare the images made here with the researcher's, and the model on both.

    Parameters
    ----------
    model : torch.nn.Module
        The researcher's network ``(B, C, H, W) -> (B, K)``.
    x : array_like, shape (B, n)
        The signals.
    images : array_like
        Their images for ``len(images)`` signals: ``(K, H, W)``, ``(K, C, H, W)`` or
        ``(K, H, W, C)``; ``uint8`` for saved 8-bit images, floating point for the
        model's input itself (see the module's notes).
    metadata : ModelMetadata
        What the model sees (e.g. :meth:`ModelMetadata.from_pipeline`).
    indices : sequence of int, optional
        The signal of each image (default: the first ``K`` signals, in order).
    batch_size : int
    device : str or torch.device

    Returns
    -------
    ImageAgreement

    Raises
    ------
    ValueError
        Images that do not fit the imaging (shape, channels, more images than
        signals, indices out of range), or 8-bit images for an imaging without a
        ``QuantizeUint8`` step.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.pipeline import ImagingSteps, Log1p, MinMax, Resize, QuantizeUint8
    >>> meta = ModelMetadata(transform=SSQConfig(nv=8), class_names=["a", "b"], n_times=256,
    ...     imaging=ImagingSteps([Log1p(), Resize(size=(16, 16)), MinMax(), QuantizeUint8()]))
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
    >>> x = np.random.default_rng(0).standard_normal((4, 256))
    >>> theirs = (meta.imaging(ssq_cwt(x, meta.transform).Tx.abs()) * 255).round()
    >>> check = compare_images(net, x, theirs.to(torch.uint8).numpy(), metadata=meta)
    >>> check.agreement, check.max_difference
    (1.0, 0.0)
    """
    check_instance(metadata, ModelMetadata, "metadata")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    signals = fit_length(as_tensor(x, name="x"), metadata)
    if signals.ndim != 2:
        raise ValueError(f"x has shape {tuple(signals.shape)}; expected (B, n_times)")
    raw = images if isinstance(images, torch.Tensor) else np.asarray(images)
    eight_bit = raw.dtype in (np.uint8, torch.uint8)
    split = _split(metadata.imaging)
    if eight_bit and split is None:
        raise ValueError(
            "the images are 8-bit but the imaging has no quantize_uint8 step: add one "
            "where the images were saved (a PNG), or give the model's float inputs"
        )
    grid = (metadata.transform.n_freqs(metadata.n_times), metadata.n_times)
    saved = split[0].image_shape(grid) if eight_bit else metadata.input_shape
    theirs = _as_images(raw, saved, len(signals))
    theirs = theirs.to(torch.float64) / 255.0 if eight_bit else theirs.to(torch.float64)
    idx = list(range(len(theirs))) if indices is None else [int(i) for i in indices]
    if len(idx) != len(theirs) or len(set(idx)) != len(idx):
        raise ValueError(f"indices={idx} must name one distinct signal per image ({len(theirs)})")
    if idx and (min(idx) < 0 or max(idx) >= len(signals)):
        raise ValueError(f"indices={idx} out of range for {len(signals)} signals")
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None else torch.float32
    diffs, total, close, count, ours_pred, their_pred = [], 0.0, 0, 0, [], []
    level = 1.0 / 255.0
    if not eight_bit and theirs.numel():
        level *= float(theirs.max() - theirs.min()) or 1.0
    with torch.no_grad(), eval_mode(model):
        for s in range(0, len(idx), batch_size):
            sel = idx[s : s + batch_size]
            tx = ssq_cwt(signals[sel].to(torch.float64), metadata.transform).Tx
            mine_saved = to_image(tx, split[0] if eight_bit else metadata.imaging)
            theirs_b = theirs[s : s + batch_size].to(mine_saved.dtype)
            d = (mine_saved - theirs_b).abs()
            diffs.append(float(d.max()))
            total, count = total + float(d.sum()), count + d.numel()
            close += int((d <= level * (1 + 1e-9)).sum())
            if eight_bit:
                mine_in = continue_steps(mine_saved, split[1])
                theirs_in = continue_steps(theirs_b, split[1])
            else:
                mine_in, theirs_in = mine_saved, theirs_b
            dev = param.device if param is not None else torch.device(device)
            ours_pred.append(model(mine_in.to(dev, dtype)).double().cpu())
            their_pred.append(model(theirs_in.to(dev, dtype)).double().cpu())
    out_ours = torch.cat(ours_pred).numpy() if idx else np.zeros((0, metadata.n_classes))
    out_theirs = torch.cat(their_pred).numpy() if idx else np.zeros((0, metadata.n_classes))
    output_difference = None
    if metadata.task == "regression":
        diff = np.abs(out_ours - out_theirs)
        spread = out_theirs.std(0) if len(out_theirs) > 1 else np.abs(out_theirs).mean(0)
        tol = OUTPUT_TOLERANCE * np.where(spread > 0, spread, 1.0)
        agrees = (diff <= tol).all(-1)
        output_difference = float(diff.max()) if diff.size else 0.0
        preds_ours = tuple(tuple(map(float, o)) for o in out_ours)
        preds_theirs = tuple(tuple(map(float, o)) for o in out_theirs)
    else:
        preds_ours = tuple(int(v) for v in out_ours.argmax(-1))
        preds_theirs = tuple(int(v) for v in out_theirs.argmax(-1))
        agrees = np.equal(preds_ours, preds_theirs)
    agree = float(np.mean(agrees)) if idx else 1.0
    return ImageAgreement(
        indices=tuple(idx),
        kind="uint8" if eight_bit else "float",
        max_difference=max(diffs, default=0.0),
        mean_difference=total / max(count, 1),
        share_close=close / max(count, 1) if count else 1.0,
        agreement=agree,
        predictions_ours=preds_ours,
        predictions_theirs=preds_theirs,
        output_difference=output_difference,
    )


def read_image_folder(folder, *, n_signals: int | None = None):
    """Read the researcher's images from a folder: ``(images, indices)``.

    Parameters
    ----------
    folder : str or os.PathLike
        PNG/JPEG/TIFF files (:data:`IMAGE_SUFFIXES`); other files are ignored.
    n_signals : int, optional
        The number of signals, to check the indices against.

    Returns
    -------
    images : numpy.ndarray, shape (K, H, W) or (K, H, W, C)
        ``uint8`` for 8-bit files, ``float32`` for floating-point TIFFs.
    indices : list of int
        The signal of each image: the number that ends every file name
        (``spectrum_017.png`` is signal 17) when all names end in distinct numbers,
        else the files' order by name (the first ``K`` signals).

    Raises
    ------
    ValueError
        No images, images of different sizes or kinds, too many pixels (checked from
        each header before decoding), an unreadable file, indices out of range.
    """
    from PIL import Image, UnidentifiedImageError

    from ._scalogram_png import open_image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder of images")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise ValueError(f"{str(folder)!r} holds no {'/'.join(IMAGE_SUFFIXES)} files")
    found = [_INDEX.search(p.stem) for p in files]
    numbers = [int(m.group(1)) for m in found if m]
    if len(numbers) == len(files) and len(set(numbers)) == len(numbers):
        order = np.argsort(numbers, kind="stable")
        files, indices = [files[i] for i in order], sorted(numbers)
    else:
        indices = list(range(len(files)))
    if n_signals is not None and (len(files) > n_signals or max(indices) >= n_signals):
        raise ValueError(
            f"{str(folder)!r}: {len(files)} images (signal indices up to {max(indices)}) "
            f"for {n_signals} signals"
        )
    pixels = []
    for path in files:
        try:
            with open_image(path) as im:
                im.load()
                if im.mode in ("F", "I", "I;16"):
                    a = np.asarray(im, dtype=np.float32)
                elif im.mode in ("L", "RGB", "RGBA"):
                    a = np.asarray(im)
                else:
                    a = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ValueError(f"could not read {str(path)!r} as an image: {exc}") from None
        if pixels and (a.shape != pixels[0].shape or a.dtype != pixels[0].dtype):
            raise ValueError(
                f"{str(path)!r} is {a.shape} {a.dtype}; {str(files[0])!r} is "
                f"{pixels[0].shape} {pixels[0].dtype}: the images must be alike"
            )
        limits.check("max_image_pixels", a.shape[0] * a.shape[1], what=f"{str(path)!r}")
        pixels.append(a)
    return np.stack(pixels), indices


def accuracy_check(predictions, labels, *, alpha: float = 0.05) -> dict:
    """Test the model's accuracy on our images against guessing the commonest class.

    Without the researcher's images, labels are the next best evidence that the
    images made here are what the model saw: a model explained on the wrong images
    usually falls to chance.

    Parameters
    ----------
    predictions, labels : array_like of int, shape (B,)
    alpha : float
        Level of the one-sided binomial test of ``accuracy > chance``.

    Returns
    -------
    dict
        ``accuracy``, ``chance`` (the commonest label's share), ``p_value`` and
        ``near_chance`` (the test does not reject guessing), ``n``.

    Examples
    --------
    >>> accuracy_check([0, 1, 1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1, 0, 0])["near_chance"]
    False
    >>> accuracy_check([0, 0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 1, 1, 0, 0])["near_chance"]
    True
    """
    from scipy.stats import binomtest

    pred, lab = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
    if pred.shape != lab.shape or pred.size == 0:
        raise ValueError(f"{pred.size} predictions for {lab.size} labels")
    hits = int((pred == lab).sum())
    chance = float(np.unique(lab, return_counts=True)[1].max() / lab.size)
    p = (
        1.0
        if chance >= 1.0
        else float(binomtest(hits, lab.size, chance, alternative="greater").pvalue)
    )
    return {
        "n": int(lab.size),
        "accuracy": hits / lab.size,
        "chance": chance,
        "p_value": p,
        "near_chance": p > alpha,
    }
