"""Self-describing model files: one file holds the network and everything around it.

A model file carries, next to the weights, a JSON block (:class:`ModelMetadata`) with
the transform configuration, the imaging configuration, the class names, the name and
units of the signal axis, the expected signal length and what to do with other lengths
(``'exact'``, ``'crop'`` or ``'pad'``), the package version, and the architecture name
and constructor arguments. :func:`save_model` writes two formats:

``'state_dict'`` (default for the architectures of :mod:`saliency2signal.models`)
    ``torch.save`` of a plain dict ``{'format': 'saliency2signal.state_dict',
    'format_version': 1, 'metadata': <JSON text>, 'state_dict': {name: tensor}}``,
    loadable with ``torch.load(weights_only=True)``; the network is rebuilt from
    :data:`saliency2signal.models.ARCHITECTURES`. Tensors and JSON only: the most
    portable format across torch versions.
``'export'`` (default for any other module)
    ``torch.export.save`` archive (``.pt2``) of the model exported in eval mode with a
    dynamic batch dimension; the JSON is the extra file ``saliency2signal.json``. Runs
    without the Python class that defined the network.

``'torchscript'`` files (``torch.jit`` archives with the JSON as the extra file
``saliency2signal.json``, the default of release 0.1.0) are still read, but no longer
written: PyTorch has deprecated TorchScript. Re-save such a model with
:func:`save_model` to move it to a current format.

:func:`load_model` recognises the format from the archive's content (and
:attr:`LoadedModel.format` says which it was) and never runs pickled Python code unless
``trust=True``:

* ``torch.save`` files are read with ``torch.load(weights_only=True)``, which only
  rebuilds tensors and plain containers; anything else is refused.
* TorchScript archives are read by TorchScript's own unpickler, which only knows tensors
  and TorchScript classes (no Python globals).
* ``torch.export.load`` *can* unpickle Python objects (pickled weights or constants,
  opaque objects, and a ``weights_only=False`` fallback for sample inputs), so an
  export archive is checked first: every weight and constant must be a raw tensor and
  every embedded ``.pt`` file must load with ``weights_only=True``; and the load itself
  runs with torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` switch on, so that no
  ``torch.load`` inside it can unpickle objects, whatever it asks for.
* Every zip archive is checked before any reader opens it: a member name that occurs
  twice (two readers could take different copies), an absolute or ``..`` name, a member
  that would inflate more than ``limits.max_inflation`` times, or a metadata block above
  ``limits.max_metadata_bytes`` is refused.

Networks trained without saliency2signal are read too (formats ``'user_*'``): a state
dict (``torch.save(model.state_dict(), path)``, or a training checkpoint holding one),
read weights-only and built into the caller's class (``architecture='nets.py:MyCNN'``,
resolved by :func:`resolve_architecture`, which imports the caller's module: their code,
run because they named it); a pickled module (``trust=True`` only); a ``torch.export``
or TorchScript archive without the metadata block. The caller says what such a network
sees with ``metadata=`` (a :class:`ModelMetadata`, from a pipeline file). Networks from
other frameworks too, with the optional extras: ONNX files (``'user_onnx'``, converted
by onnx2torch; ``'user_onnx_black_box'``, run by onnxruntime) and Keras 3 files
(``'user_keras'``, run by Keras's torch backend), each accepted only if it agrees with
its own framework on probe images.

Files are written atomically (a temporary file in the same folder, then a rename) and an
existing file is never replaced unless ``overwrite=True``.

Layout: ``_formats`` (format names, tags, :class:`LoadedModel`), ``_archive`` (the
checks on files nobody vouched for), ``_save`` (:func:`save_model`), ``_load``
(:func:`load_model`), ``_user`` (the caller's network class and weights saved without
saliency2signal), ``_onnx`` and ``_keras`` (other frameworks' files) and ``_foreign``
(what those two share: probe images, the parity check); this ``__init__`` only
re-exports.

May import: torch, ``limits``, ``_files``, ``_validation``, ``metadata``, ``models``;
never a later stage (``saliency``, ``explanation``, ``evaluation``, ``cli``).
"""

from ..metadata import LENGTH_POLICIES, ModelMetadata, check_compatible, fit_length
from ._formats import FORMAT_DESCRIPTIONS, FORMATS, METADATA_FILENAME, READ_FORMATS, LoadedModel
from ._load import load_model
from ._save import save_model
from ._user import resolve_architecture

__all__ = [
    "FORMATS",
    "FORMAT_DESCRIPTIONS",
    "READ_FORMATS",
    "LENGTH_POLICIES",
    "METADATA_FILENAME",
    "LoadedModel",
    "ModelMetadata",
    "check_compatible",
    "fit_length",
    "load_model",
    "resolve_architecture",
    "save_model",
]
