"""The pipeline file: what a researcher's CNN saw, as one frozen record and a TOML file.

A :class:`Pipeline` holds the transform in ssqueezepy's vocabulary (mapped onto
:class:`~saliency2signal.transform.SSQConfig`) and the row order the images were made
in, the imaging as ordered steps, the task (class names, or regression outputs) and the
x axis of the signals. :func:`load_pipeline` reads a ``pipeline.toml``,
:func:`save_pipeline` writes one atomically (the TOML text comes from ``._toml``; the
commented template to start from, ``pipeline_template``, lives in ``._template``).
Unknown keys are refused everywhere, naming key and section; an ssqueezepy option that
SSQConfig cannot express is refused, naming the option.

Internal to :mod:`saliency2signal.pipeline`, which re-exports the public names.
May import: numpy, torch, ``tomllib`` (``tomli`` on Python 3.10), ``.._files``,
``.._validation``, ``..transform``, ``._steps``, ``._apply``, ``._toml``; never
``._template``, the explanation stages or the CLI.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._files import atomic_write
from .._validation import (
    DTYPES,
    check_choice,
    check_instance,
    check_int,
    check_real,
    check_strings,
)
from ..transform import MIN_LENGTH, SSQConfig, ssq_cwt
from ._imaging import ImagingSteps
from ._steps import FlipRows, Step, as_steps
from ._toml import toml_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "MAX_FILE_BYTES",
    "Pipeline",
    "SignalAxis",
    "load_pipeline",
    "save_pipeline",
]

#: Largest pipeline file :func:`load_pipeline` reads (bytes).
MAX_FILE_BYTES = 1_000_000
ROW_ORDERS = ("ssqueezepy", "low_first")
TASKS = ("classification", "regression")
_VERSION = 1
_TOP_KEYS = ("version", "task", "class_names", "output_names", "output_units", "n_times")
_SECTIONS = ("transform", "axis", "steps")
# ssq_cwt options SSQConfig has one value of: the accepted value, and what it means
_FIXED = {
    "difftype": ("trig", "the phase transform from the frequency-domain derivative"),
    "difforder": (None, "only used by difftype='numeric'"),
    "order": (0, "higher-order GMW transforms are not supported"),
    "ssq_freqs": (None, "Tx rows lie on the grid of the kind of `scales`"),
}
# ssq_cwt options that do not change Tx: refused, so that the file says only what matters
_NEUTRAL = (
    "vectorized",
    "preserve_transform",
    "astensor",
    "patience",
    "cache_wavelet",
    "nan_checks",
    "get_w",
    "get_dWx",
)
_WAVELET_OPTIONS = {
    "gmw": ("gamma", "beta", "norm", "order", "centered_scale", "dtype"),
    "morlet": ("mu", "dtype"),
}
_WAVELET_FIXED = {"norm": "bandpass", "order": 0, "centered_scale": False}


# ------------------------------------------------------------------ the x axis
@dataclass(frozen=True, kw_only=True)
class SignalAxis:
    """The x axis of the signals: explicit ``values``, or ``start`` and ``step``.

    Parameters
    ----------
    values : tuple of float, optional
        One value per sample, strictly ascending or descending.
    start, step : float, optional
        ``start + step * arange(n_times)`` (``step`` may be negative, not 0).
    name, units : str
        What the axis measures (``"wavenumber"``, ``"cm^-1"``); may be empty.

    Examples
    --------
    >>> SignalAxis(start=800.0, step=2.0, name="wavenumber", units="cm^-1").coordinates(3)
    array([800., 802., 804.])
    """

    values: tuple[float, ...] | None = None
    start: float | None = None
    step: float | None = None
    name: str = ""
    units: str = ""

    def __post_init__(self):
        if self.values is not None:
            if self.start is not None or self.step is not None:
                raise ValueError(
                    f"axis: give values or start/step, not both (start={self.start!r}, "
                    f"step={self.step!r})"
                )
            if isinstance(self.values, (str, dict)):
                raise TypeError(f"axis values={self.values!r} must be a sequence of numbers")
            values = tuple(check_real(v, "axis values") for v in self.values)
            d = np.diff(values)
            if len(values) < 2 or not (np.all(d > 0) or np.all(d < 0)):
                raise ValueError(
                    f"axis values (n={len(values)}) must be >= 2 values, strictly ascending "
                    "or strictly descending"
                )
            object.__setattr__(self, "values", values)
        elif self.start is None or self.step is None:
            raise ValueError(
                f"axis needs values, or both start and step (start={self.start!r}, "
                f"step={self.step!r})"
            )
        else:
            object.__setattr__(self, "start", check_real(self.start, "axis start"))
            step = check_real(self.step, "axis step")
            if step == 0:
                raise ValueError(f"axis step={self.step!r} must not be 0")
            object.__setattr__(self, "step", step)
        for name in ("name", "units"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"axis {name}={getattr(self, name)!r} must be a string")

    def coordinates(self, n_times: int) -> np.ndarray:
        """Return the axis value of each of ``n_times`` samples (float64)."""
        n = check_int(n_times, "n_times", minimum=1)
        if self.values is None:
            return self.start + self.step * np.arange(n, dtype=np.float64)
        if len(self.values) != n:
            raise ValueError(f"axis has {len(self.values)} values; signals have {n_times=}")
        return np.array(self.values)

    def to_dict(self) -> dict:
        """Return the ``[axis]`` table: fields that are not ``None``, lists for tuples."""
        out = {k: getattr(self, k) for k in ("values", "start", "step", "name", "units")}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, record: dict) -> SignalAxis:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        check_instance(record, dict, "[axis]", what="a table")
        _refuse_unknown(record, ("values", "start", "step", "name", "units"), "[axis]")
        values = record.get("values")
        values = tuple(values) if isinstance(values, list) else values
        return cls(**{**record, "values": values})


# ------------------------------------------------------------------ the pipeline
@dataclass(frozen=True, kw_only=True)
class Pipeline:
    """How a researcher's CNN inputs were made from signals, and what the CNN answers.

    Parameters
    ----------
    transform : SSQConfig
        The synchrosqueezed CWT (``lowpass_row`` must be false: ssqueezepy has none).
        The other wavelet's parameters (``mu`` of a GMW, ``gamma`` and ``beta`` of a
        Morlet) change nothing and are set to their defaults, so that the file, which
        has no place for them, reads back equal.
    row_order : {'ssqueezepy', 'low_first'}
        The rows of ``|Tx|`` the steps received: ``'ssqueezepy'``, highest frequency
        first, as ``ssqueezepy.ssq_cwt`` returns ``Tx`` (``flipud=True``, its default);
        ``'low_first'``, lowest first (``flipud=False``, or flipped by the user).
    steps : tuple of Step
        The imaging, in order (dictionaries are read with ``Step.from_dict``).
    task : {'classification', 'regression'}
    class_names : tuple of str
        One distinct name per output of a classifier (at least 2); none for regression.
    output_names, output_units : tuple of str
        A regression's outputs and their units (optional; units need names).
    axis : SignalAxis, optional
        The signals' x axis.
    n_times : int, optional
        The signal length the CNN was trained on.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal.pipeline import Log1p, MinMax, Resize
    >>> p = Pipeline.from_ssqueezepy_kwargs(
    ...     wavelet="gmw", nv=16, steps=[Log1p(), Resize(size=(32, 32)), MinMax()],
    ...     class_names=["arabica", "robusta"])
    >>> p.row_order, p.transform.nv
    ('ssqueezepy', 16)
    >>> p.images(np.random.default_rng(0).standard_normal((2, 256))).shape
    torch.Size([2, 1, 32, 32])
    >>> Pipeline.from_toml(p.to_toml()) == p
    True
    """

    transform: SSQConfig = field(default_factory=SSQConfig)
    row_order: str = "ssqueezepy"
    steps: tuple[Step, ...] = ()
    task: str = "classification"
    class_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    output_units: tuple[str, ...] = ()
    axis: SignalAxis | None = None
    n_times: int | None = None

    def __post_init__(self):
        check_instance(self.transform, SSQConfig, "transform")
        object.__setattr__(self, "transform", _canonical(self.transform))
        if self.transform.lowpass_row:
            raise ValueError("transform has lowpass_row=True; ssqueezepy's Tx has no such row")
        check_choice(self.row_order, ROW_ORDERS, "row_order")
        object.__setattr__(self, "steps", as_steps(self.steps))
        check_choice(self.task, TASKS, "task")
        for name in ("class_names", "output_names", "output_units"):
            object.__setattr__(self, name, _names(getattr(self, name), name))
        if self.task == "classification":
            if len(self.class_names) < 2:
                raise ValueError(
                    f"class_names={list(self.class_names)} must name at least 2 classes for "
                    "task='classification' (a one-output model is a task='regression')"
                )
            if self.output_names or self.output_units:
                raise ValueError("output_names/output_units are for task='regression'")
        else:
            if self.class_names:
                raise ValueError(
                    f"task='regression' has no class_names={list(self.class_names)}; name "
                    "the outputs with output_names"
                )
            if self.output_units and len(self.output_units) != len(self.output_names):
                raise ValueError(
                    f"output_units={list(self.output_units)} needs one unit per output name "
                    f"(output_names={list(self.output_names)})"
                )
        if self.axis is not None:
            check_instance(self.axis, SignalAxis, "axis")
        if self.n_times is not None:
            object.__setattr__(
                self, "n_times", check_int(self.n_times, "n_times", minimum=MIN_LENGTH)
            )
            if self.axis is not None and self.axis.values is not None:
                self.axis.coordinates(self.n_times)  # the lengths agree

    # ----------------------------------------------------------------- ssqueezepy
    @classmethod
    def from_ssqueezepy_kwargs(
        cls,
        *,
        steps=(),
        task: str = "classification",
        class_names=(),
        output_names=(),
        output_units=(),
        axis: SignalAxis | None = None,
        n_times: int | None = None,
        row_order: str | None = None,
        **kwargs,
    ) -> Pipeline:
        """Make a pipeline from the keyword arguments given to ``ssqueezepy.ssq_cwt``.

        ``kwargs`` are those of ``ssq_cwt`` (``wavelet``, ``scales``, ``nv``, ``fs``,
        ``padtype``, ``squeezing``, ``maprange``, ``gamma``, ``flipud``, ...); the
        other parameters are the fields of :class:`Pipeline`. ``row_order`` defaults to
        what ``flipud`` says (``'ssqueezepy'`` unless ``flipud=False``).

        Raises
        ------
        ValueError
            An option is not ssqueezepy's, has a value SSQConfig cannot express (named
            in the message), or ``row_order`` contradicts ``flipud``.
        """
        transform, row_order = _transform_from_ssqueezepy(kwargs, row_order, "ssq_cwt kwargs")
        return cls(
            transform=transform,
            row_order=row_order,
            steps=steps,
            task=task,
            class_names=class_names,
            output_names=output_names,
            output_units=output_units,
            axis=axis,
            n_times=n_times,
        )

    def to_ssqueezepy_kwargs(self) -> dict:
        """Keyword arguments of ``ssqueezepy.ssq_cwt`` that make this pipeline's ``Tx``.

        ``ssqueezepy.ssq_cwt(x, **p.to_ssqueezepy_kwargs())[0]`` has its rows in
        ``row_order`` (``flipud``). Without a ``dtype`` ssqueezepy computes in float32.
        """
        kwargs = _transform_record(self.transform)
        kwargs["wavelet"] = tuple(kwargs["wavelet"])
        if not isinstance(kwargs["scales"], str):
            kwargs["scales"] = np.array(kwargs["scales"])  # ssqueezepy wants an ndarray
        kwargs["padtype"] = self.transform.padtype
        kwargs["maprange"] = self.transform.maprange
        kwargs["flipud"] = self.row_order == "ssqueezepy"
        return kwargs

    # ----------------------------------------------------------------- images
    def images(self, x) -> torch.Tensor:
        """Make the images the CNN saw: ``ssq_cwt`` -> ``|Tx|`` in ``row_order`` -> steps.

        Parameters
        ----------
        x : array_like, shape (..., n_times)
            Real signal(s); dtype and device are kept (``transform.dtype`` may cast).

        Returns
        -------
        torch.Tensor, shape (..., C, H, W)
            Differentiable with respect to ``x`` (as :func:`apply_steps` is).

        Raises
        ------
        ValueError
            If ``n_times`` is set and ``x`` has another length, or a step does not fit.
        """
        if self.n_times is not None and np.shape(x)[-1:] != (self.n_times,):
            raise ValueError(
                f"x has shape {tuple(np.shape(x))}; the pipeline's n_times={self.n_times}"
            )
        return self.images_from_magnitude(ssq_cwt(x, self.transform).Tx.abs())

    def images_from_magnitude(self, magnitude) -> torch.Tensor:
        """Images from ``|Tx|`` in this package's row order (lowest frequency in row 0).

        With ``row_order='ssqueezepy'`` the rows are flipped first, as the user's
        ``np.abs(ssqueezepy.ssq_cwt(x)[0])`` had them; then the steps are applied.
        """
        v = torch.as_tensor(magnitude)
        if v.ndim < 2:
            raise ValueError(f"magnitude has shape {tuple(v.shape)}; expected (..., F, N)")
        return self.imaging(v)

    @property
    def imaging(self) -> ImagingSteps:
        """The imaging of this package's ``|Tx|``, whose lowest frequency is in row 0.

        The steps, after a row flip when ``row_order`` is ``'ssqueezepy'``.
        """
        flip = (FlipRows(),) if self.row_order == "ssqueezepy" else ()
        return ImagingSteps(flip + self.steps)

    # ----------------------------------------------------------------- records
    def to_dict(self) -> dict:
        """Return the file's content as plain data (TOML/JSON types; ``None`` left out)."""
        out = {"version": _VERSION, "task": self.task}
        for name in ("class_names", "output_names", "output_units"):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        if self.n_times is not None:
            out["n_times"] = self.n_times
        out["transform"] = {**_transform_record(self.transform), "row_order": self.row_order}
        if self.axis is not None:
            out["axis"] = self.axis.to_dict()
        out["steps"] = [step.to_dict() for step in self.steps]
        return out

    @classmethod
    def from_dict(cls, record: dict) -> Pipeline:
        """Validate a parsed file (inverse of :meth:`to_dict`); unknown keys are refused."""
        check_instance(record, dict, "pipeline record")
        _refuse_unknown(record, _TOP_KEYS + _SECTIONS, "the top level")
        version = record.get("version", _VERSION)
        if version != _VERSION:
            raise ValueError(f"{version=} is not a pipeline file version this package reads")
        if "transform" not in record:
            raise ValueError("a pipeline needs a [transform] section")
        section = record["transform"]
        check_instance(section, dict, "[transform]", what="a table")
        transform, row_order = _transform_from_ssqueezepy(
            section, section.get("row_order"), "[transform]", row_order_key=True
        )
        steps = record.get("steps", [])
        if not isinstance(steps, list):
            raise TypeError(f"steps must be [[steps]] tables, got {type(steps).__name__}")
        axis = record.get("axis")
        return cls(
            transform=transform,
            row_order=row_order,
            steps=tuple(_step(r, i) for i, r in enumerate(steps)),
            task=record.get("task", "classification"),
            class_names=record.get("class_names", ()),
            output_names=record.get("output_names", ()),
            output_units=record.get("output_units", ()),
            axis=None if axis is None else SignalAxis.from_dict(axis),
            n_times=record.get("n_times"),
        )

    def to_toml(self) -> str:
        """Return the pipeline file's text (TOML; :meth:`from_toml` reads it back equal)."""
        record = self.to_dict()
        lines = ["# saliency2signal pipeline file (pipeline_template() explains every option)"]
        lines += [f"{k} = {toml_value(v)}" for k, v in record.items() if k not in _SECTIONS]
        lines += ["", "[transform]  # ssqueezepy.ssq_cwt's keyword arguments"]
        for key, value in record["transform"].items():
            note = _TRANSFORM_NOTES.get(key)
            lines.append(f"{key} = {toml_value(value)}" + (f"  # {note}" if note else ""))
        if "axis" in record:
            lines += ["", "[axis]", *(f"{k} = {toml_value(v)}" for k, v in record["axis"].items())]
        for step in record["steps"]:
            lines += ["", "[[steps]]", *(f"{k} = {toml_value(v)}" for k, v in step.items())]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str) -> Pipeline:
        """Parse and validate a pipeline file's text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        return cls.from_dict(tomllib.loads(text))


_TRANSFORM_NOTES = {
    "row_order": "rows of |Tx| the steps received ('ssqueezepy': highest frequency first)",
    "gamma": "ssqueezepy's name for the threshold: |Wx| below it is not squeezed",
}


def _canonical(cfg: SSQConfig) -> SSQConfig:
    defaults = SSQConfig()
    unused = ("mu",) if cfg.wavelet == "gmw" else ("gamma", "beta")
    changes = {k: getattr(defaults, k) for k in unused if getattr(cfg, k) != getattr(defaults, k)}
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _names(value, name: str) -> tuple[str, ...]:
    names = check_strings(list(value) if isinstance(value, tuple) else value, name)
    if any(not n.strip() for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{name}={list(names)} must be distinct, non-empty strings")
    return names


def _refuse_unknown(record: dict, known, where: str) -> None:
    unknown = sorted(set(record) - set(known))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where}; known: {sorted(known)}")


def _step(record, index: int) -> Step:
    try:
        check_instance(record, dict, f"[[steps]] number {index + 1}", what="a table")
        return Step.from_dict(record)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"[[steps]] number {index + 1}: {exc}") from None


# ------------------------------------------------------------------ ssqueezepy's vocabulary
def _transform_from_ssqueezepy(
    options: dict, row_order, where: str, *, row_order_key: bool = False
) -> tuple[SSQConfig, str]:
    """SSQConfig and row order from ssq_cwt's keyword arguments (refusing what it lacks)."""
    known = {"wavelet", "scales", "nv", "fs", "padtype", "squeezing", "maprange", "gamma"}
    for key in options:
        if key in known or key in _FIXED or key == "flipud":
            continue
        if key == "row_order" and row_order_key:
            continue
        if key in _NEUTRAL:
            raise ValueError(f"{key!r} in {where} does not change Tx; leave it out")
        if key == "t":
            raise ValueError(f"'t' in {where}: give fs = 1 / (t[1] - t[0]) (evenly spaced t)")
        raise ValueError(
            f"unknown key {key!r} in {where}: not an option of ssqueezepy.ssq_cwt that "
            f"SSQConfig expresses; known: {sorted(known | {'flipud', *_FIXED})}"
        )
    for key, (value, meaning) in _FIXED.items():
        if key in options and options[key] != value:
            raise ValueError(
                f"{key}={options[key]!r} in {where} is not supported: only {value!r} ({meaning})"
            )
    fields = _wavelet_fields(options.get("wavelet", "gmw"), where)
    for key in ("nv", "fs", "squeezing"):
        if options.get(key) is not None:
            fields[key] = options[key]
    if "scales" in options:
        scales = options["scales"]
        fields["scaletype"] = scales if isinstance(scales, str) else np.asarray(scales)
    if "padtype" in options:
        fields["padtype"] = options["padtype"]
    if "maprange" in options:
        mr = options["maprange"]
        fields["maprange"] = tuple(mr) if isinstance(mr, (list, tuple)) else mr
    if options.get("gamma") is not None:
        fields["threshold"] = options["gamma"]
    if options.get("squeezing") == "lebesgue":
        raise ValueError(f"squeezing='lebesgue' in {where} is not supported ('sum' or 'abs')")
    try:
        transform = SSQConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return transform, _row_order(options.get("flipud"), row_order, where)


def _row_order(flipud, row_order, where: str) -> str:
    if flipud is None:
        return "ssqueezepy" if row_order is None else row_order
    if not isinstance(flipud, bool):
        raise TypeError(f"flipud={flipud!r} in {where} must be true or false")
    implied = "ssqueezepy" if flipud else "low_first"
    if row_order is not None and row_order != implied:
        raise ValueError(f"{flipud=} in {where} means row_order={implied!r}, not {row_order!r}")
    return implied


def _wavelet_fields(wavelet, where: str) -> dict:
    if isinstance(wavelet, str):
        name, opts = wavelet, {}
    elif (
        isinstance(wavelet, (list, tuple))
        and len(wavelet) == 2
        and isinstance(wavelet[0], str)
        and isinstance(wavelet[1], dict)
    ):
        name, opts = wavelet
    else:
        raise TypeError(
            f"wavelet={wavelet!r} in {where} must be ssqueezepy's name ('gmw', 'morlet') or "
            "[name, {options}] (for a ssqueezepy.Wavelet w: (name, w.config))"
        )
    name = name.lower()
    if name not in _WAVELET_OPTIONS:
        raise ValueError(
            f"wavelet={name!r} in {where} is not supported: SSQConfig has 'gmw' and 'morlet'"
        )
    _refuse_unknown(opts, _WAVELET_OPTIONS[name], f"the {name!r} wavelet options of {where}")
    fields = {"wavelet": name}
    for key, value in opts.items():
        if key in _WAVELET_FIXED:
            fixed = _WAVELET_FIXED[key]
            if value != fixed or isinstance(value, bool) != isinstance(fixed, bool):
                raise ValueError(
                    f"wavelet option {key}={value!r} in {where} is not supported: only {fixed!r}"
                )
        elif key == "dtype":
            fields["dtype"] = _dtype_name(value, where)
        else:
            fields[key] = value
    return fields


def _dtype_name(value, where: str) -> str:
    try:
        name = np.dtype(value).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(
            f"wavelet option dtype={value!r} in {where} must be one of {tuple(DTYPES)}"
        )
    return name


def _transform_record(cfg: SSQConfig) -> dict:
    """ssq_cwt's keyword arguments for ``cfg`` as TOML values (lists, "none")."""
    opts = {"gamma": cfg.gamma, "beta": cfg.beta} if cfg.wavelet == "gmw" else {"mu": cfg.mu}
    if cfg.dtype is not None:
        opts["dtype"] = cfg.dtype
    scales = cfg.scaletype
    out = {
        "wavelet": [cfg.wavelet, opts],
        "nv": cfg.nv,
        "scales": scales if isinstance(scales, str) else list(scales),
        "fs": cfg.fs,
        "padtype": "none" if cfg.padtype is None else cfg.padtype,
        "squeezing": cfg.squeezing,
        "maprange": cfg.maprange if isinstance(cfg.maprange, str) else list(cfg.maprange),
    }
    if cfg.threshold is not None:
        out["gamma"] = cfg.threshold
    return out


# ------------------------------------------------------------------ files
def load_pipeline(path) -> Pipeline:
    """Read and validate a pipeline file (TOML, at most :data:`MAX_FILE_BYTES`).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Pipeline

    Raises
    ------
    ValueError
        The file is larger than 1 MB, is not TOML, or does not describe a valid
        pipeline (an unknown key, an unsupported ssqueezepy option, ...); the message
        starts with the path.
    TypeError
        A value has the wrong type.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from saliency2signal.pipeline import pipeline_template
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "pipeline.toml").write_text(pipeline_template())
    >>> load_pipeline(folder / "pipeline.toml").transform.nv
    64
    """
    path = Path(path)
    size = os.stat(path).st_size
    if size <= MAX_FILE_BYTES:
        with open(path, "rb") as f:  # one byte more at most: the file may have grown
            data = f.read(MAX_FILE_BYTES + 1)
        size = len(data)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{str(path)!r} has {size} bytes; a pipeline file has at most 1 MB")
    try:
        return Pipeline.from_toml(data.decode("utf-8"))
    except (TypeError, ValueError) as exc:  # TOMLDecodeError and UnicodeError are ValueErrors
        raise type(exc)(f"{str(path)!r}: {exc}") from None


def save_pipeline(pipeline: Pipeline, path, *, overwrite: bool = False) -> Path:
    """Write ``pipeline.to_toml()`` to ``path`` atomically (temporary sibling, then rename).

    Raises
    ------
    ValueError
        ``path`` exists and ``overwrite`` is false (or it is a folder).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pipeline.toml"
    >>> p = Pipeline(class_names=("a", "b"))
    >>> load_pipeline(save_pipeline(p, path)) == p
    True
    """
    check_instance(pipeline, Pipeline, "pipeline")
    text = pipeline.to_toml()
    return atomic_write(
        path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite
    )
