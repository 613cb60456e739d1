"""The imaging steps: one frozen, validated, serialisable dataclass per kind.

Every step holds only its parameters; :func:`~saliency2signal.pipeline.apply_steps`
does the numerics. A step travels as a plain dictionary ``{"kind": ..., **fields}``
(JSON, or a ``[[steps]]`` table of a TOML file): tuples become lists, and a field that
is ``None`` is left out (TOML has no null; every such field defaults to ``None``).

Internal to :mod:`saliency2signal.pipeline`, which re-exports the public names.
May import: ``.._validation``, ``._resize`` and ``._colour`` (their constants and the
colormap check); never ``._apply``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from .._validation import (
    check_bool,
    check_choice,
    check_instance,
    check_int,
    check_positive,
    check_real,
)
from ._colour import check_colormap
from ._resize import ANTIALIAS, METHODS, MODES

__all__ = [
    "STEP_KINDS",
    "Channels",
    "ChannelMeanStd",
    "Colormap",
    "Crop",
    "Decibel",
    "FixedRange",
    "FlipRows",
    "Log",
    "Log10",
    "Log1p",
    "MeanStd",
    "MinMax",
    "Pad",
    "Power",
    "QuantizeUint8",
    "Resize",
    "Standardize",
    "Step",
    "as_steps",
    "steps_from_dicts",
    "steps_to_dicts",
]

_KINDS: dict[str, type[Step]] = {}


def _set(step, name: str, value) -> None:
    object.__setattr__(step, name, value)


@dataclass(frozen=True)
class Step:
    """Base class of the imaging steps; ``kind`` names the step in its dictionary.

    Examples
    --------
    >>> Step.from_dict({"kind": "log1p", "gain": 10.0})
    Log1p(gain=10.0)
    >>> Log1p(gain=10.0).to_dict()
    {'kind': 'log1p', 'gain': 10.0}
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _KINDS[cls.kind] = cls

    def to_dict(self) -> dict:
        """``{"kind": ..., **fields}`` with lists for tuples and no ``None`` values."""
        record = {"kind": self.kind}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                record[field.name] = list(value) if isinstance(value, tuple) else value
        return record

    @classmethod
    def from_dict(cls, record: dict) -> Step:
        """Make the step a dictionary describes (of the subclass its ``kind`` names).

        Raises
        ------
        ValueError
            If the kind is unknown (or not ``cls``'s when called on a subclass), a key
            is not a field of that step, or a field without a default is missing.
        """
        check_instance(record, dict, "step record")
        if "kind" not in record:
            raise ValueError(f"step record {record!r} has no 'kind'")
        kind = record["kind"]
        target = _KINDS.get(kind) if isinstance(kind, str) else None
        if target is None:
            raise ValueError(f"kind={kind!r} is not an imaging step; known: {STEP_KINDS}")
        if cls is not Step and target is not cls:
            raise ValueError(f"kind={kind!r} given to {cls.__name__}, whose kind is {cls.kind!r}")
        fields = {f.name: f for f in dataclasses.fields(target)}
        unknown = sorted(set(record) - set(fields) - {"kind"})
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} for a {kind!r} step")
        missing = sorted(
            name
            for name, f in fields.items()
            if name not in record
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise ValueError(f"a {kind!r} step needs field(s) {missing}")
        return target(**{k: v for k, v in record.items() if k != "kind"})


def _check_pair(value, name: str, check) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name}={value!r} must be a pair")
    return tuple(check(v, name) for v in value)


# ------------------------------------------------------------------ values
@dataclass(frozen=True, kw_only=True)
class Power(Step):
    """``v ** exponent`` (2: the power ``|Tx|**2``)."""

    kind: ClassVar[str] = "power"
    exponent: float = 2.0

    def __post_init__(self):
        _set(self, "exponent", check_positive(self.exponent, "exponent"))


@dataclass(frozen=True, kw_only=True)
class Log1p(Step):
    """``log(1 + gain * v)``."""

    kind: ClassVar[str] = "log1p"
    gain: float = 1.0

    def __post_init__(self):
        _set(self, "gain", check_positive(self.gain, "gain"))


@dataclass(frozen=True, kw_only=True)
class Log(Step):
    """``log(v + eps)`` (natural logarithm)."""

    kind: ClassVar[str] = "log"
    eps: float = 1e-10

    def __post_init__(self):
        _set(self, "eps", check_positive(self.eps, "eps", allow_zero=True))


@dataclass(frozen=True, kw_only=True)
class Log10(Step):
    """``log10(v + eps)``."""

    kind: ClassVar[str] = "log10"
    eps: float = 1e-10

    def __post_init__(self):
        _set(self, "eps", check_positive(self.eps, "eps", allow_zero=True))


@dataclass(frozen=True, kw_only=True)
class Decibel(Step):
    """Decibels ``multiplier * log10(max(v, amin) / max(ref, amin))``, floored.

    Parameters
    ----------
    multiplier : {10.0, 20.0}
        10 for a power, 20 for a magnitude.
    reference : 'max' or float
        ``ref``: each image's maximum (0 dB at the peak, as librosa's ``ref=np.max``)
        or a fixed positive value (1.0: torchaudio's ``AmplitudeToDB``).
    amin : float
        Floor of ``v`` and ``ref`` before the logarithm (torchaudio's ``amin``; for
        librosa's ``amplitude_to_db(amin=1e-5)`` on a magnitude pass ``amin=1e-5``).
    top_db : float, optional
        Keep this many dB below each image's maximum; lower values are raised to it.
        ``None`` keeps everything.
    """

    kind: ClassVar[str] = "db"
    multiplier: float = 10.0
    reference: str | float = "max"
    amin: float = 1e-10
    top_db: float | None = None

    def __post_init__(self):
        _set(self, "multiplier", float(check_choice(self.multiplier, (10.0, 20.0), "multiplier")))
        if isinstance(self.reference, str):
            check_choice(self.reference, ("max",), "reference")
        else:
            _set(self, "reference", check_positive(self.reference, "reference"))
        _set(self, "amin", check_positive(self.amin, "amin"))
        if self.top_db is not None:
            _set(self, "top_db", check_positive(self.top_db, "top_db"))


# ------------------------------------------------------------------ normalisation
@dataclass(frozen=True, kw_only=True)
class MinMax(Step):
    """Each image to [0, 1] by its own minimum and maximum (a flat image gives 0).

    "Each image" is everything after the batch dimensions: ``(C, H, W)``.
    """

    kind: ClassVar[str] = "minmax"


@dataclass(frozen=True, kw_only=True)
class Standardize(Step):
    """Each image ``(C, H, W)`` to zero mean and unit standard deviation.

    ``ddof`` as numpy's (0: divide by the number of pixels); a flat image gives 0.
    """

    kind: ClassVar[str] = "standardize"
    ddof: int = 0

    def __post_init__(self):
        _set(self, "ddof", check_int(self.ddof, "ddof", minimum=0, maximum=1))


@dataclass(frozen=True, kw_only=True)
class FixedRange(Step):
    """``(v - lo) / (hi - lo)``, clipped to [0, 1] if ``clip``."""

    kind: ClassVar[str] = "fixed_range"
    lo: float
    hi: float
    clip: bool = False

    def __post_init__(self):
        lo, hi = check_real(self.lo, "lo"), check_real(self.hi, "hi")
        if not lo < hi:
            raise ValueError(f"lo={self.lo!r} must be < hi={self.hi!r}")
        _set(self, "lo", lo)
        _set(self, "hi", hi)
        _set(self, "clip", check_bool(self.clip, "clip"))


@dataclass(frozen=True, kw_only=True)
class MeanStd(Step):
    """``(v - mean) / std`` with a dataset's scalar statistics."""

    kind: ClassVar[str] = "mean_std"
    mean: float
    std: float

    def __post_init__(self):
        _set(self, "mean", check_real(self.mean, "mean"))
        _set(self, "std", check_positive(self.std, "std"))


@dataclass(frozen=True, kw_only=True)
class ChannelMeanStd(Step):
    """``(v[c] - mean[c]) / std[c]`` per channel, once the channels exist.

    Examples
    --------
    ImageNet's statistics, as ``torchvision.transforms.Normalize`` uses them:

    >>> ChannelMeanStd(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)).n_channels
    3
    """

    kind: ClassVar[str] = "channel_mean_std"
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self):
        for name in ("mean", "std"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or not value:
                raise ValueError(f"{name}={value!r} must be a non-empty sequence of numbers")
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean={self.mean!r} and std={self.std!r} differ in length")
        _set(self, "mean", tuple(check_real(m, "mean") for m in self.mean))
        _set(self, "std", tuple(check_positive(s, "std") for s in self.std))

    @property
    def n_channels(self) -> int:
        """The number of channels the image must have."""
        return len(self.mean)


# ------------------------------------------------------------------ geometry
@dataclass(frozen=True, kw_only=True)
class Resize(Step):
    """Resize to ``size = (height, width)`` as one of three libraries does.

    Parameters
    ----------
    size : (int, int)
    method : {'bilinear', 'bicubic', 'nearest', 'area'}
    antialias : {'none', 'skimage', 'pil', 'torch'}
        Whose resize to reproduce (the anti-aliasing is what differs most):

        ==========  ===========================================================
        'none'      ``torch.nn.functional.interpolate(antialias=False)``
                    (``align_corners=False``; 'area' is adaptive average
                    pooling). With ``mode``: ``skimage.transform.resize(order=0/
                    1/3, anti_aliasing=False, mode=mode)`` instead.
        'skimage'   ``skimage.transform.resize(order=0/1/3, anti_aliasing=True,
                    mode=mode or 'reflect')``: a Gaussian pre-filter, ``sigma =
                    max(0, (factor - 1) / 2)`` per axis, then spline
                    interpolation ('bicubic' is the cubic B-spline, ``order=3``,
                    and clips to the input's range as ``clip=True`` does);
                    'area' is ``skimage.transform.resize_local_mean``.
        'pil'       ``PIL.Image.resize`` with NEAREST, BILINEAR, BICUBIC or BOX
                    ('area'): filters widened by the shrink factor.
        'torch'     ``torch.nn.functional.interpolate(antialias=True)`` (what
                    torchvision's tensor ``Resize`` does); 'bilinear' and
                    'bicubic' only.
        ==========  ===========================================================

        Images are floats, so skimage's ``preserve_range`` changes nothing: values are
        never rescaled.
    mode : {None, 'reflect', 'symmetric', 'edge', 'wrap'}
        skimage's edge handling (``numpy.pad``'s names); only with 'none' or
        'skimage' and not with 'area'. ``None``: 'reflect' for 'skimage'.

    Examples
    --------
    >>> Resize(size=(224, 224), antialias="torch").to_dict()["size"]
    [224, 224]
    """

    kind: ClassVar[str] = "resize"
    size: tuple[int, int]
    method: str = "bilinear"
    antialias: str = "none"
    mode: str | None = None

    def __post_init__(self):
        _set(self, "size", _check_pair(self.size, "size", _positive_int))
        check_choice(self.method, METHODS, "method")
        check_choice(self.antialias, ANTIALIAS, "antialias")
        if self.mode is not None:
            check_choice(self.mode, MODES, "mode")
        if self.antialias == "torch" and self.method not in ("bilinear", "bicubic"):
            raise ValueError(
                f"method={self.method!r} has no antialias='torch' (torch antialiases "
                "'bilinear' and 'bicubic'); use antialias='none'"
            )
        if self.mode is not None and self.antialias in ("pil", "torch"):
            raise ValueError(
                f"mode={self.mode!r} is skimage's edge handling; antialias="
                f"{self.antialias!r} has its own"
            )
        if self.mode is not None and self.method == "area":
            raise ValueError(f"mode={self.mode!r} does not apply to method='area'")

    @property
    def skimage_mode(self) -> str | None:
        """Edge mode of skimage in use, or ``None`` when torch or Pillow resizes."""
        if self.antialias == "skimage" and self.method != "area":
            return self.mode or "reflect"
        return self.mode if self.antialias == "none" else None


def _positive_int(value, name: str) -> int:
    return check_int(value, name, minimum=1)


def _non_negative_int(value, name: str) -> int:
    return check_int(value, name, minimum=0)


@dataclass(frozen=True, kw_only=True)
class FlipRows(Step):
    """Reverse the rows: the highest frequency in row 0.

    That is ssqueezepy's row order, and an image's with its top row the highest
    frequency (``imshow`` with ``origin='upper'``).
    """

    kind: ClassVar[str] = "flip_rows"


@dataclass(frozen=True, kw_only=True)
class Crop(Step):
    """Keep rows ``top:top + height`` and columns ``left:left + width`` (pixels).

    As ``torchvision.transforms.functional.crop(img, top, left, height, width)``,
    except that a box beyond the image is an error, not padding.
    """

    kind: ClassVar[str] = "crop"
    top: int
    left: int
    height: int
    width: int

    def __post_init__(self):
        for name in ("top", "left"):
            _set(self, name, _non_negative_int(getattr(self, name), name))
        for name in ("height", "width"):
            _set(self, name, _positive_int(getattr(self, name), name))


@dataclass(frozen=True, kw_only=True)
class Pad(Step):
    """Add ``top``/``bottom`` rows and ``left``/``right`` columns of pixels.

    They hold ``value`` ('constant'), repeat the edge ('edge') or mirror the image
    without repeating the edge ('reflect'), as ``numpy.pad``'s modes of those names.
    """

    kind: ClassVar[str] = "pad"
    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0
    mode: str = "constant"
    value: float = 0.0

    def __post_init__(self):
        for name in ("top", "bottom", "left", "right"):
            _set(self, name, _non_negative_int(getattr(self, name), name))
        check_choice(self.mode, ("constant", "edge", "reflect"), "mode")
        _set(self, "value", check_real(self.value, "value"))


# ------------------------------------------------------------------ colour and 8 bits
@dataclass(frozen=True, kw_only=True)
class Colormap(Step):
    """A grey image in [0, 1] to RGB through a matplotlib colormap (any registered name).

    Parameters
    ----------
    name : str
        ``matplotlib.colormaps[name]``, with its own table (256 entries for most, 10 for
        ``'tab10'``); values outside [0, 1] take the end colours.
    interpolate : bool
        ``False``: the colour is matplotlib's (``lut[int(v * N)]``), and the gradient is
        straight-through — that of the piecewise-linear curve through the table, the
        step function having none. ``True``: that curve is the colour too (smooth,
        differentiable, up to half a table step from matplotlib's).
    """

    kind: ClassVar[str] = "colormap"
    name: str
    interpolate: bool = False

    def __post_init__(self):
        check_colormap(self.name)
        _set(self, "interpolate", check_bool(self.interpolate, "interpolate"))


@dataclass(frozen=True, kw_only=True)
class Channels(Step):
    """Repeat a grey channel ``n_channels`` times (a CNN made for RGB input)."""

    kind: ClassVar[str] = "channels"
    n_channels: int = 3

    def __post_init__(self):
        _set(self, "n_channels", _positive_int(self.n_channels, "n_channels"))


@dataclass(frozen=True, kw_only=True)
class QuantizeUint8(Step):
    """The 8-bit round trip of a PNG: ``round(v * 255) / 255`` (or ``floor``) in [0, 1].

    The gradient is straight-through (the identity): rounding has none.
    """

    kind: ClassVar[str] = "quantize_uint8"
    rounding: str = "round"

    def __post_init__(self):
        check_choice(self.rounding, ("round", "floor"), "rounding")


STEP_KINDS = tuple(_KINDS)


# ------------------------------------------------------------------ sequences
def as_steps(steps) -> tuple[Step, ...]:
    """Return a tuple of steps from steps and/or step dictionaries (else ``TypeError``)."""
    if isinstance(steps, (Step, dict, str)) or not isinstance(steps, Iterable):
        raise TypeError(f"steps must be a sequence of steps, got {type(steps).__name__}")
    out = []
    for i, step in enumerate(steps):
        if isinstance(step, dict):
            step = Step.from_dict(step)
        check_instance(step, Step, f"steps[{i}]", what="a Step or a step dictionary")
        if _KINDS.get(step.kind) is not type(step):
            raise TypeError(f"steps[{i}]={step!r} is not one of the imaging steps {STEP_KINDS}")
        out.append(step)
    return tuple(out)


def steps_to_dicts(steps) -> list[dict]:
    """Describe steps as a list of dictionaries (JSON, or TOML ``[[steps]]`` tables).

    Examples
    --------
    >>> steps_to_dicts([Power(), Resize(size=(8, 8))])  # doctest: +NORMALIZE_WHITESPACE
    [{'kind': 'power', 'exponent': 2.0},
     {'kind': 'resize', 'size': [8, 8], 'method': 'bilinear', 'antialias': 'none'}]
    """
    return [step.to_dict() for step in as_steps(steps)]


def steps_from_dicts(records) -> tuple[Step, ...]:
    """Make the steps a list of dictionaries describes (inverse of :func:`steps_to_dicts`).

    Examples
    --------
    >>> steps_from_dicts([{"kind": "log1p"}, {"kind": "minmax"}])
    (Log1p(gain=1.0), MinMax())
    """
    if not isinstance(records, (list, tuple)):
        raise TypeError(f"records must be a list of dictionaries, got {type(records).__name__}")
    for i, record in enumerate(records):
        check_instance(record, dict, f"records[{i}]")
    return as_steps(records)
