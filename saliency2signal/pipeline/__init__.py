"""Imaging as an ordered list of steps: how a researcher made the CNN's input images.

``ssq_cwt(x)`` gives ``Tx``; a CNN was trained on images made from ``|Tx|`` by some
sequence of operations — a power or a log, a normalisation, a resize as one library
does it, a row flip, a colormap, channels, an 8-bit PNG round trip, a crop.
:func:`apply_steps` replays such a sequence with torch operations, so an attribution can
be computed through it onto the native ``(freq, time)`` grid. Each step is a frozen
dataclass with a ``kind``; a list of step dictionaries (JSON, or ``[[steps]]`` tables
in TOML) and a tuple of steps convert into each other (:func:`steps_to_dicts`,
:func:`steps_from_dicts`).

Each step reproduces the library it imitates (measured in ``tests/test_pipeline_steps.py``):
:class:`Resize` skimage's ``resize``/``resize_local_mean``, Pillow's ``Image.resize`` or
``torch.nn.functional.interpolate``; :class:`Colormap` ``matplotlib.colormaps[name]``;
:class:`QuantizeUint8` an 8-bit PNG written and read back.

The pipeline file (:class:`Pipeline`, :func:`load_pipeline`, :func:`save_pipeline`,
:func:`pipeline_template`) records the whole recipe: the transform in ssqueezepy's
vocabulary and its row order, these steps, the class names (or a regression's outputs)
and the signals' x axis, as a ``pipeline.toml`` file.

May import: ``._steps``, ``._apply``, ``._imaging``, ``._file``, ``._template`` (and through them
``._resize``, ``._colour``, ``._toml``, ``.._validation``, ``.._files``,
``..transform``); never the explanation stages.

Examples
--------
>>> import json, torch
>>> steps = (Decibel(multiplier=20.0, top_db=80.0), MinMax(),
...          Resize(size=(64, 64), antialias="skimage"), FlipRows(),
...          Colormap(name="magma"), QuantizeUint8(),
...          ChannelMeanStd(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)))
>>> steps_from_dicts(json.loads(json.dumps(steps_to_dicts(steps)))) == steps
True
>>> apply_steps(torch.rand(40, 300, dtype=torch.float64), steps).shape
torch.Size([3, 64, 64])
"""

from __future__ import annotations

from ._apply import apply_steps, continue_steps
from ._file import (
    MAX_FILE_BYTES,
    Pipeline,
    SignalAxis,
    load_pipeline,
    save_pipeline,
)
from ._imaging import ImagingSteps
from ._steps import (
    STEP_KINDS,
    ChannelMeanStd,
    Channels,
    Colormap,
    Crop,
    Decibel,
    FixedRange,
    FlipRows,
    Log,
    Log1p,
    Log10,
    MeanStd,
    MinMax,
    Pad,
    Power,
    QuantizeUint8,
    Resize,
    Standardize,
    Step,
    steps_from_dicts,
    steps_to_dicts,
)
from ._template import pipeline_template

__all__ = [
    "MAX_FILE_BYTES",
    "STEP_KINDS",
    "ChannelMeanStd",
    "Channels",
    "Colormap",
    "Crop",
    "Decibel",
    "FixedRange",
    "FlipRows",
    "ImagingSteps",
    "Log",
    "Log10",
    "Log1p",
    "MeanStd",
    "MinMax",
    "Pad",
    "Pipeline",
    "Power",
    "QuantizeUint8",
    "Resize",
    "SignalAxis",
    "Standardize",
    "Step",
    "apply_steps",
    "continue_steps",
    "load_pipeline",
    "pipeline_template",
    "save_pipeline",
    "steps_from_dicts",
    "steps_to_dicts",
]
