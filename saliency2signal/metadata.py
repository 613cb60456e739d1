"""What a model file says about its network, and the length policy it sets.

:class:`ModelMetadata` is the JSON block stored next to the weights in every model file
(:mod:`saliency2signal.io` writes and reads the files; :mod:`saliency2signal.models`
fills the architecture in). :func:`check_compatible` says whether data fits a model and
:func:`fit_length` crops or pads signals by the model's :data:`LENGTH_POLICIES`.

Kept apart from :mod:`~saliency2signal.io` so that ``models`` and ``io`` both depend on
it and not on each other. May import: ``limits``, ``_validation``, ``_version``,
``transform``, ``imaging``, ``pipeline``, ``_imagings``; never ``io``, ``models`` or a later stage.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import limits
from ._imagings import image_shape, imaging_from_record, imaging_record
from ._validation import as_tensor, check_choice, check_instance, check_int, check_strings
from ._version import __version__
from .imaging import ImagingConfig
from .pipeline import ImagingSteps, Pipeline
from .transform import MIN_LENGTH, SSQConfig

__all__ = [
    "LENGTH_POLICIES",
    "ModelMetadata",
    "check_compatible",
    "check_sizes",
    "class_means",
    "fit_length",
    "with_class_means",
]

#: What a model answers: class logits, or output values.
TASKS = ("classification", "regression")
#: What a model does with signals of another length than it was trained on.
LENGTH_POLICIES = ("exact", "crop", "pad")

_FORMAT_TAG = "saliency2signal.model"
_FORMAT_VERSION = 2  # 2: the imaging may be ordered steps ({"steps": [...]})


def _package_version() -> str:
    return __version__


def check_sizes(transform: SSQConfig, imaging, n: int) -> None:
    """Check the signal length, grid and image a model asks for against the limits."""
    limits.check("max_signal_length", n, what="the signal length (n_times)")
    f = transform.n_freqs(n)
    limits.check("max_grid_cells", f * n, what=f"a transform grid of {f} x {n} cells")
    _, h, w = image_shape(imaging, (f, n))
    limits.check("max_image_pixels", h * w, what=f"an image of {h} x {w} pixels")


@dataclass(frozen=True, eq=True)
class ModelMetadata:
    """Everything a model file says about its network, JSON-serialisable and validated.

    Parameters
    ----------
    transform : SSQConfig
        The transform that made the training coefficients.
    imaging : ImagingConfig or ImagingSteps
        How images were made from them: the bundled models' config, or ordered steps
        (:class:`~saliency2signal.pipeline.ImagingSteps`, from a researcher's pipeline
        file). Its channels and image size are the network's input.
    class_names : sequence of str
        Distinct output names, in logit order: at least two classes of a classifier;
        a regression's outputs (at least one).
    n_times : int
        Signal length the network was trained on.
    length_policy : {'exact', 'crop', 'pad'}
        Other lengths: refused; longer signals cropped to their first ``n_times``
        samples; shorter signals zero-padded at the end.
    axis_name, axis_units : str
        Name and units of the signal axis (``'time'``/``'s'``, ``'wavenumber'``/
        ``'cm^-1'``); samples are spaced ``1 / transform.fs`` units apart.
    architecture : str, optional
        Key of :data:`saliency2signal.models.ARCHITECTURES` (needed for the
        ``'state_dict'`` format and for ``load_model(..., rebuild=True)``).
    architecture_kwargs : mapping
        Constructor arguments of the architecture.
    package_version : str
        Version of saliency2signal that wrote the file (filled in automatically).
    extra : mapping
        Free-form JSON-compatible information (e.g. the training history).
    task : {'classification', 'regression'}
        A classifier's logits (explained through their softmax probabilities) or a
        regression's output values (explained as they are, in ``output_units``).
    output_units : tuple of str
        A regression's units, one per output (optional).

    Examples
    --------
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> meta = ModelMetadata(transform=SSQConfig(nv=8), imaging=ImagingConfig(size=(32, 32)),
    ...                      class_names=["a", "b"], n_times=256)
    >>> meta.input_shape, meta.n_classes
    ((1, 32, 32), 2)
    >>> ModelMetadata.from_json(meta.to_json()) == meta
    True
    """

    transform: SSQConfig
    imaging: ImagingConfig | ImagingSteps
    class_names: tuple[str, ...]
    n_times: int
    length_policy: str = "exact"
    axis_name: str = "time"
    axis_units: str = "s"
    architecture: str | None = None
    architecture_kwargs: Mapping = field(default_factory=dict)
    package_version: str = field(default_factory=_package_version)
    extra: Mapping = field(default_factory=dict)
    task: str = "classification"
    output_units: tuple[str, ...] = ()

    def __post_init__(self):  # noqa: D105 - validation
        set_ = object.__setattr__
        check_instance(self.transform, SSQConfig, "transform")
        check_instance(
            self.imaging,
            (ImagingConfig, ImagingSteps),
            "imaging",
            what="an ImagingConfig or ImagingSteps",
        )
        check_choice(self.task, TASKS, "task")
        names = check_strings(self.class_names, "class_names")
        least = 2 if self.task == "classification" else 1
        if len(names) < least or len(set(names)) != len(names):
            raise ValueError(
                f"class_names={names!r} must hold at least {('one', 'two')[least - 1]} "
                f"distinct names for task={self.task!r}"
            )
        set_(self, "class_names", tuple(names))
        units = check_strings(self.output_units, "output_units")
        if units and (self.task != "regression" or len(units) != len(names)):
            raise ValueError(
                f"output_units={units!r} needs task='regression' and one unit per output "
                f"({len(names)})"
            )
        set_(self, "output_units", tuple(units))
        set_(self, "n_times", check_int(self.n_times, "n_times", minimum=MIN_LENGTH))
        check_choice(self.length_policy, LENGTH_POLICIES, "length_policy")
        for name in ("axis_name", "axis_units", "package_version"):
            check_instance(getattr(self, name), str, name)
        if self.architecture is not None:
            check_instance(self.architecture, str, "architecture", what="a string or None")
        if isinstance(self.imaging, ImagingSteps):  # the steps fit the grid (a crop in it)
            limits.check("max_signal_length", self.n_times, what="the signal length (n_times)")
            self.input_shape  # noqa: B018
        for name in ("architecture_kwargs", "extra"):
            value = check_instance(getattr(self, name), Mapping, name, what="a mapping")
            try:  # a JSON round trip: validates and detaches from the caller's dict
                set_(self, name, json.loads(json.dumps(dict(value), sort_keys=True)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}={value!r} is not JSON-serialisable: {exc}") from None

    # ----------------------------------------------------------------- derived values
    @property
    def n_classes(self) -> int:
        """Number of classes (logits)."""
        return len(self.class_names)

    @property
    def n_channels(self) -> int:
        """Image channels the network expects."""
        return self.input_shape[0]

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the network's input images."""
        return self.input_shape[1:]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one input image."""
        if isinstance(self.imaging, ImagingConfig) and self.imaging.size is not None:
            return (self.imaging.n_channels, *self.imaging.size)  # no grid needed
        grid = (self.transform.n_freqs(self.n_times), self.n_times)
        return tuple(image_shape(self.imaging, grid))

    @classmethod
    def from_pipeline(
        cls, pipeline: Pipeline, *, n_times: int | None = None, length_policy: str = "exact"
    ) -> ModelMetadata:
        """Describe a researcher's own model by its pipeline file.

        Parameters
        ----------
        pipeline : Pipeline
            From :func:`~saliency2signal.pipeline.load_pipeline`: the transform, the
            imaging steps (after the row flip its ``row_order`` asks for), the class
            names and the x axis (its name and units; the axis itself goes to
            ``extra["axis"]``).
        n_times : int, optional
            The signal length, when the pipeline does not say (``pipeline.n_times``);
            both given must agree.
        length_policy : {'exact', 'crop', 'pad'}

        Raises
        ------
        ValueError
            No length anywhere, disagreeing lengths, or steps that do not fit the grid
            of that length. A regression pipeline without ``output_names`` has one
            output, named ``'output'``.

        Examples
        --------
        >>> from saliency2signal.pipeline import Pipeline, Log1p, Resize
        >>> p = Pipeline.from_ssqueezepy_kwargs(wavelet="gmw", nv=8,
        ...     steps=[Log1p(), Resize(size=(32, 32))], class_names=["a", "b"])
        >>> meta = ModelMetadata.from_pipeline(p, n_times=256)
        >>> meta.input_shape, meta.imaging.steps[0].kind
        ((1, 32, 32), 'flip_rows')
        """
        check_instance(pipeline, Pipeline, "pipeline")
        if n_times is None:
            n_times = pipeline.n_times
        elif pipeline.n_times is not None and n_times != pipeline.n_times:
            raise ValueError(f"{n_times=} differs from the pipeline's n_times={pipeline.n_times}")
        if n_times is None:
            raise ValueError("the pipeline has no n_times; give the signal length (n_times=)")
        axis = pipeline.axis
        return cls(
            transform=pipeline.transform,
            imaging=pipeline.imaging,
            class_names=(
                pipeline.class_names
                if pipeline.task == "classification"
                else (pipeline.output_names or ("output",))
            ),
            task=pipeline.task,
            output_units=pipeline.output_units if pipeline.task == "regression" else (),
            n_times=n_times,
            length_policy=length_policy,
            axis_name=(axis.name if axis is not None and axis.name else "x"),
            axis_units=(axis.units if axis is not None and axis.units else "samples"),
            extra={} if axis is None else {"axis": axis.to_dict()},
        )

    def replace(self, **changes) -> ModelMetadata:
        """Copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """Plain-Python dictionary (JSON-compatible), tagged with the format version."""
        steps = isinstance(self.imaging, ImagingSteps)
        return {
            "format": _FORMAT_TAG,
            "format_version": _FORMAT_VERSION if steps else 1,  # readable by older versions
            "package_version": self.package_version,
            "architecture": self.architecture,
            "architecture_kwargs": dict(self.architecture_kwargs),
            "transform": self.transform.to_dict(),
            "imaging": imaging_record(self.imaging),
            "class_names": list(self.class_names),
            "n_times": self.n_times,
            "length_policy": self.length_policy,
            "axis_name": self.axis_name,
            "axis_units": self.axis_units,
            "extra": dict(self.extra),
            **(
                {"task": self.task, "output_units": list(self.output_units)}
                if self.task != "classification"
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelMetadata:
        """Inverse of :meth:`to_dict`; wrong tags and unknown keys raise ``ValueError``."""
        check_instance(d, Mapping, "metadata", what="a mapping")
        d = dict(d)
        tag, version = d.pop("format", None), d.pop("format_version", None)
        if tag != _FORMAT_TAG:
            raise ValueError(f"metadata format={tag!r} is not {_FORMAT_TAG!r}")
        if not isinstance(version, int) or version > _FORMAT_VERSION:
            raise ValueError(
                f"metadata format_version={version!r} is not supported (this "
                f"is saliency2signal {_package_version()}, which reads "
                f"version <= {_FORMAT_VERSION}); upgrade saliency2signal"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown ModelMetadata field(s): {sorted(unknown)}")
        if "transform" in d:
            d["transform"] = SSQConfig.from_dict(d["transform"])
        if "imaging" in d:
            d["imaging"] = imaging_from_record(d["imaging"])
        return cls(**d)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


# =========================================================================== compatibility
def check_compatible(
    metadata: ModelMetadata,
    x,
    *,
    images: bool = False,
    target=None,
    class_names: Sequence[str] | None = None,
) -> None:
    """Raise ``ValueError`` if data does not fit a model; return ``None`` if it does.

    Parameters
    ----------
    metadata : ModelMetadata
        The model's description.
    x : array_like
        Signals ``(..., n_times)``, or with ``images=True`` images ``(B, C, H, W)``.
    images : bool
        Check ``x`` as network input images (channels and size) instead of signals.
    target : int or array_like of int, optional
        Class indices that will be asked of the model (must be ``< n_classes``).
    class_names : sequence of str, optional
        The data's class names; must equal the model's, in order.

    Raises
    ------
    ValueError
        Naming what the model expects and what the data has.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> meta = ModelMetadata(transform=SSQConfig(), imaging=ImagingConfig(),
    ...                      class_names=["a", "b"], n_times=286)
    >>> check_compatible(meta, np.zeros((4, 286)))
    >>> check_compatible(meta, np.zeros((4, 300)))
    Traceback (most recent call last):
        ...
    ValueError: model expects n_times=286 (crop/pad: exact) but data has 300
    """
    check_instance(metadata, ModelMetadata, "metadata")
    xt = as_tensor(x, name="x")
    if images:
        if xt.ndim != 4:
            raise ValueError(
                f"images have shape {tuple(xt.shape)}; the model expects "
                f"(batch, {', '.join(map(str, metadata.input_shape))})"
            )
        c, hw = xt.shape[1], tuple(xt.shape[-2:])
        if c != metadata.n_channels:
            raise ValueError(
                f"model expects {metadata.n_channels} image channel(s) but data has {c}"
            )
        if hw != metadata.image_shape:
            raise ValueError(
                f"model expects images of (H, W)={metadata.image_shape} but data has {hw}"
            )
    else:
        if xt.ndim == 0:
            raise ValueError("x is 0-d (a scalar); expected signals (..., n_times)")
        n, m, policy = xt.shape[-1], metadata.n_times, metadata.length_policy
        bad = (
            (policy == "exact" and n != m)
            or (policy == "crop" and n < m)
            or (policy == "pad" and n > m)
        )
        if bad:
            raise ValueError(f"model expects n_times={m} (crop/pad: {policy}) but data has {n}")
    if target is not None:
        t = as_tensor(target, name="target")
        if t.is_complex() or t.dtype.is_floating_point or t.dtype == torch.bool:
            raise TypeError(f"target has dtype {t.dtype}; expected integer class indices")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= metadata.n_classes):
            bad_t = int(t.min()) if int(t.min()) < 0 else int(t.max())
            raise ValueError(
                f"model has n_classes={metadata.n_classes} "
                f"{metadata.class_names} but target asks for class {bad_t}"
            )
    if class_names is not None and tuple(class_names) != metadata.class_names:
        raise ValueError(
            f"model classes {metadata.class_names} differ from data classes {tuple(class_names)}"
        )


def fit_length(x, metadata: ModelMetadata) -> torch.Tensor:
    """Crop or zero-pad signals ``(..., n)`` to the model's ``n_times`` per its policy.

    Parameters
    ----------
    x : array_like, shape (..., n)
        Signals.
    metadata : ModelMetadata

    Returns
    -------
    torch.Tensor, shape (..., metadata.n_times)
        The first ``n_times`` samples (``'crop'``), or ``x`` followed by zeros
        (``'pad'``); ``x`` itself when the length already matches.

    Raises
    ------
    ValueError
        As :func:`check_compatible`.

    Examples
    --------
    >>> import torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> meta = ModelMetadata(transform=SSQConfig(), imaging=ImagingConfig(),
    ...                      class_names=["a", "b"], n_times=32, length_policy="pad")
    >>> fit_length(torch.ones(2, 20), meta).shape
    torch.Size([2, 32])
    """
    check_compatible(metadata, x)
    xt = as_tensor(x, name="x")
    n, m = xt.shape[-1], metadata.n_times
    if n > m:
        return xt[..., :m]
    if n < m:
        return nn.functional.pad(xt, (0, m - n))
    return xt


#: Class means are recorded while ``n_classes * n_times`` is at most this (about 1 MB of
#: JSON in the model file).
MAX_CLASS_MEANS = 65536


def with_class_means(metadata: ModelMetadata, x, y) -> ModelMetadata:
    """Return ``metadata`` with each class's mean training signal recorded.

    :func:`~saliency2signal.explain` explains each signal against the mean of its foil
    class when the model file records them (``reference='auto'``);
    ``saliency2signal train`` records them. For a model trained elsewhere, pass its
    training signals and labels here and save the model with the result.

    Parameters
    ----------
    metadata : ModelMetadata
    x : array_like, shape (n_signals, n_times)
        Training signals, ``n_times == metadata.n_times``.
    y : array_like of int, shape (n_signals,)
        Their class indices, in ``range(metadata.n_classes)``.

    Returns
    -------
    ModelMetadata
        With ``extra['class_means'] = {'values': [...], 'counts': [...]}`` (seven
        significant digits; ``None`` for a class without signals). Unchanged when
        ``n_classes * n_times`` exceeds :data:`MAX_CLASS_MEANS`.

    Raises
    ------
    ValueError
        Shapes that do not match the metadata, labels out of range, NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> meta = ModelMetadata(transform=SSQConfig(nv=8), imaging=ImagingConfig(size=(32, 32)),
    ...                      class_names=["a", "b"], n_times=16)
    >>> x = np.stack([np.zeros(16), np.ones(16), 3 * np.ones(16)])
    >>> m = with_class_means(meta, x, [0, 1, 1])
    >>> class_means(m)[:, :3]
    array([[0., 0., 0.],
           [2., 2., 2.]])
    >>> m.extra["class_means"]["counts"]
    [1, 2]
    """
    xs = np.asarray(as_tensor(x, name="x").detach().cpu(), dtype=np.float64)
    ys = np.asarray(y)
    if xs.ndim != 2 or xs.shape[1] != metadata.n_times:
        raise ValueError(
            f"x has shape {xs.shape}; expected (n_signals, {metadata.n_times}) for this model"
        )
    if ys.shape != (xs.shape[0],) or not np.issubdtype(ys.dtype, np.integer):
        raise ValueError(f"y must be {xs.shape[0]} integer class indices; got {ys.shape}")
    if ys.size and (ys.min() < 0 or ys.max() >= metadata.n_classes):
        raise ValueError(f"y has classes outside range({metadata.n_classes})")
    if not np.isfinite(xs).all():
        raise ValueError("x contains NaN or inf")
    if metadata.n_classes * metadata.n_times > MAX_CLASS_MEANS:
        return metadata
    values, counts = [], []
    for k in range(metadata.n_classes):
        rows = xs[ys == k]
        counts.append(int(rows.shape[0]))
        values.append([float(f"{v:.7g}") for v in rows.mean(0)] if rows.shape[0] else None)
    extra = {**dict(metadata.extra or {}), "class_means": {"values": values, "counts": counts}}
    return metadata.replace(extra=extra)


def class_means(metadata: ModelMetadata | None) -> np.ndarray | None:
    """Return each class's mean training signal as ``metadata`` records it, ``(K, N)``.

    ``None`` when not recorded (see :func:`with_class_means`), when a class lacks one,
    or when the block does not match the metadata or holds NaN/inf.
    """
    if metadata is None:
        return None
    record = dict(metadata.extra or {}).get("class_means")
    values = None if not isinstance(record, dict) else record.get("values")
    if not isinstance(values, list) or len(values) != metadata.n_classes:
        return None
    if any(not isinstance(v, list) or len(v) != metadata.n_times for v in values):
        return None
    means = np.asarray(values, dtype=np.float64)
    return means if bool(np.isfinite(means).all()) else None
