"""What explain, evaluate and saliency share at run time: modes, fast copies, configs.

- :func:`eval_mode`: every submodule in eval mode for a call, each one's mode restored.
- :func:`inference_model`: the copy of a model used for forward-only passes (batch norm
  folded into the convolutions, channels-last memory order), checked against the model.
- :data:`GROUP_BYTES` and :func:`group_size`: how many signals' transforms explain holds
  at once; :data:`WORK_BYTES`, :data:`FORWARD_BYTES` and :func:`count_within` bound the
  other internal batches in bytes (transforms of the forward passes, mask stacks,
  forward batches of images), so that the working memory of a batch does not grow
  with the length of its signals beyond one signal's.
- :func:`resolve_configs`: the transform, imaging and class names of a run, from model
  metadata or given explicitly.
- :func:`default_mask_options`: the mask closing that matches one image pixel.

Internal: the names here are plain, for use across the package, and not public API.
May import: torch, ``_validation``, ``blackbox``, ``transform``, ``imaging``, ``_imagings``,
``metadata``; never a stage that uses it (``saliency``, ``explanation``, ``evaluation``,
``forward``).
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Sequence

import torch

from ._imagings import check_imaging, image_shape
from ._validation import check_instance
from .blackbox import is_black_box
from .imaging import ImagingConfig
from .metadata import ModelMetadata
from .transform import SSQConfig

__all__ = [
    "FORWARD_BYTES",
    "GROUP_BYTES",
    "WORK_BYTES",
    "count_within",
    "default_mask_options",
    "eval_mode",
    "group_size",
    "image_bytes",
    "inference_model",
    "resolve_configs",
]


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Put every submodule in eval mode; restore each one's own mode afterwards.

    A frozen TorchScript module has no ``training`` flag (it is fixed in eval mode).
    """
    modes = [(m, m.training) for m in model.modules() if hasattr(m, "training")]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


# ------------------------------------------------------------------ inference copy
class _ChannelsLast(torch.nn.Module):
    """Run ``module`` on channels-last input (oneDNN's fast layout on the CPU)."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``module(x)`` with ``x`` in channels-last memory order (same values)."""
        return self.module(x.contiguous(memory_format=torch.channels_last))


def _fx_fuse():
    """Return ``torch.fx.experimental.optimization.fuse``, imported quietly.

    On torch 2.13 that module imports ``torch.utils.mkldnn``, whose classes call the
    deprecated ``torch.jit.script_method`` when they are defined (a DeprecationWarning
    at import); torch 2.14 defines them lazily. Nothing of TorchScript is used here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"`torch\.jit\.script_method` is deprecated",
            category=DeprecationWarning,
        )
        from torch.fx.experimental.optimization import fuse
    return fuse


def _fold_batch_norm(model: torch.nn.Module) -> torch.nn.Module:
    """Eval-mode copy with each batch norm that follows a convolution folded into it.

    ``torch.fx`` traces the module and fuses Conv-BatchNorm pairs; a module that cannot
    be traced (data-dependent control flow) is copied as it is.
    """
    try:
        return _fx_fuse()(model, inplace=False)
    except Exception:  # noqa: BLE001 - not traceable: keep the batch norms
        return copy.deepcopy(model)


def as_model_input(images: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """Cast images to the dtype of the model's parameters (a float64 transform, a float32 net)."""
    param = next(iter(model.parameters()), None)
    if param is not None and param.dtype != images.dtype and param.dtype.is_floating_point:
        return images.to(param.dtype)
    return images


def inference_model(model: torch.nn.Module, probe: torch.Tensor) -> torch.nn.Module:
    """Return the model for forward-only passes: an inference-optimised copy on the CPU.

    The copy folds batch norm into the preceding convolutions (``torch.fx``) and runs in
    channels-last memory order, where oneDNN's max pooling and convolutions are fastest
    (max pooling on NCHW tensors dominates the plain forward pass of the bundled CNN);
    ``benchmarks/bench_explain.py`` times it against the plain model. It is used only
    if it builds and its logits on ``probe`` (a batch of images) agree with the model's
    to float32 rounding; otherwise, and for legacy TorchScript models or other devices,
    the model itself is returned. The model is left as it was. A model with no
    gradients (a :class:`~saliency2signal.blackbox.BlackBox`, or any module with a true
    ``black_box`` attribute) is returned as it is, without probing it: it has no torch
    layers to fold, and a probe would cost a call of the user's model.
    """
    if (
        is_black_box(model)
        or isinstance(model, torch.jit.ScriptModule)
        or probe.device.type != "cpu"
    ):
        return model
    try:
        with eval_mode(model), torch.no_grad():
            # the wrapper in eval mode too: eval_mode restores a wrapper's mode later
            fast = _ChannelsLast(
                _fold_batch_norm(model).to(memory_format=torch.channels_last)
            ).eval()
            ref, got = model(probe), fast(probe)
    except Exception:  # noqa: BLE001 - any failure: the plain model serves
        return model
    if (
        not isinstance(got, torch.Tensor)
        or not isinstance(ref, torch.Tensor)
        or got.shape != ref.shape
        or not torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    ):
        return model
    return fast


# ------------------------------------------------------------------ memory
#: Largest size of the transforms held at once by explain and the probability passes
#: (bytes).
GROUP_BYTES = 128 * 2**20


#: Largest size of a byte-bounded working batch of a forward-only pass (bytes): the
#: transforms of :func:`~saliency2signal.forward.probabilities`' groups, a stack of
#: masked grids of the verdicts' null.
WORK_BYTES = 32 * 2**20
#: Largest size of the images passed to a model in one forward-only call (bytes); a
#: network's activations are some tens of times its input.
FORWARD_BYTES = 4 * 2**20


def group_size(batch_size: int, signal_bytes: int) -> int:
    """Signals per transform call: whole batches, as many as fit in :data:`GROUP_BYTES`.

    At least one batch: the caller holds a batch's transforms whatever their size (a
    memory plan sizes ``batch_size`` for that).
    """
    return batch_size * max(1, int(GROUP_BYTES // max(1, signal_bytes * batch_size)))


def count_within(limit: int, item_bytes: int, most: int) -> int:
    """How many items of ``item_bytes`` each fit in ``limit`` bytes: ``1 .. most``.

    The bound of an internal batch in bytes, where it is made: a batch derived from a
    count (``8 * batch_size`` signals, every region of a batch) can hold far more
    bytes than its count suggests when the signals are long.
    """
    return max(1, min(int(most), int(limit // max(1, item_bytes))))


def image_bytes(imaging_config, n_freqs: int, n_times: int, itemsize: int = 4) -> int:
    """Bytes of one model image made from an ``n_freqs x n_times`` grid."""
    c, h, w = image_shape(imaging_config, (n_freqs, n_times))
    return int(c * h * w * itemsize)


# ------------------------------------------------------------------ configurations
def resolve_configs(
    metadata, transform_config, imaging_config, class_names
) -> tuple[SSQConfig, ImagingConfig, tuple[str, ...] | None]:
    """Return the transform, imaging and class names of a run (metadata's or given).

    With ``metadata``, any config or class names given as well must equal the model's.
    Without, both configs are required.
    """
    if metadata is not None:
        check_instance(
            metadata, ModelMetadata, "metadata", what="a ModelMetadata (from load_model)"
        )
        for name, given, own in (
            ("transform_config", transform_config, metadata.transform),
            ("imaging_config", imaging_config, metadata.imaging),
        ):
            if given is not None and given != own:
                raise ValueError(
                    f"{name}={given!r} differs from the model's {own!r}; "
                    "leave it out when passing metadata"
                )
        if class_names is not None and tuple(class_names) != metadata.class_names:
            raise ValueError(
                f"class_names={tuple(class_names)} differ from the model's {metadata.class_names}"
            )
        return metadata.transform, metadata.imaging, metadata.class_names
    if transform_config is None or imaging_config is None:
        raise ValueError(
            "pass metadata= (from load_model) or both transform_config= and imaging_config="
        )
    check_instance(transform_config, SSQConfig, "transform_config")
    check_imaging(imaging_config, "imaging_config")
    names: Sequence[str] | None = class_names
    return transform_config, imaging_config, None if names is None else tuple(names)


def default_mask_options(tcfg: SSQConfig, icfg, n: int) -> dict:
    """Close the mask over one image pixel's footprint on the grid.

    A resize to a smaller image makes gradient methods put their attribution on the
    grid cells that the bilinear kernel samples (every ``F/H``-th row, ``N/W``-th
    column); closing with that footprint joins them into the regions the model saw.
    """
    check_instance(tcfg, SSQConfig, "transform_config")
    f = tcfg.n_freqs(n)
    _, h, w = image_shape(icfg, (f, n))
    rows = math.ceil(f / h) + 1 if f > h else 1
    cols = math.ceil(n / w) + 1 if n > w else 1
    return {"closing": (rows, cols)} if rows > 1 or cols > 1 else {}
