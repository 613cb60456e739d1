"""The attribution methods: one small function per method, on the grid of ``|Tx|``.

Each function takes the :class:`Batch` that :func:`~saliency2signal.saliency.attribute`
prepared (the forward function ``|Tx| -> image -> model`` on the grid, the magnitudes,
targets and logits) and *only its own options*, and returns an :class:`Attribution`
of shape ``(B, n_freqs, n_times)``. The registry (``_registry``) names them; a new
method is a function here and an entry there.

- gradient methods go through :func:`captum_gradient`, which wraps the Captum
  algorithm in a ``NoiseTunnel`` when the batch asks for one;
  :func:`lean_integrated_gradients` is Captum's Integrated Gradients computed without
  Captum's grid-sized per-step copies;
- perturbation methods run without gradients;
- layer methods (Grad-CAM) are carried from the image back onto the grid with
  :func:`~saliency2signal.imaging.pull_back`.

Captum is imported inside the functions: ``import captum.attr`` may import matplotlib
(Captum issue 1653) and importing this package must not.

Internal to ``saliency``: plain names for its sibling modules, not public API.
May import: torch, captum (lazily), ``saliency2signal.imaging``,
``saliency2signal.transform``, ``._options``; never ``._registry`` or ``._core``
(they import this).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field

import torch

from ..imaging import ImagingConfig, pull_back, to_image
from ..transform import SSQConfig
from ._options import feature_labels, find_layer, grid_baselines, shap_baselines, window

__all__ = [
    "Attribution",
    "Batch",
    "CallCount",
    "NoiseOptions",
    "captum_gradient",
    "counted",
    "deeplift",
    "feature_ablation",
    "gradient_shap",
    "guided_gradcam",
    "input_x_gradient",
    "integrated_gradients",
    "layer_gradcam",
    "lean_integrated_gradients",
    "occlusion",
    "per_pass",
    "saliency_map",
    "shapley_value_sampling",
]

# Captum announces the hooks it sets on every DeepLift / GuidedBackprop call; that is
# information, not a problem, and pytest runs with filterwarnings=error.
_HOOK_MESSAGES = ("Setting forward, backward hooks", "Setting backward hooks on ReLU")


def per_pass(internal_batch_size: int | None, n_batch: int) -> int:
    """Perturbations or noise samples per forward pass: ``internal_batch_size // B``, >= 1."""
    return max(1, internal_batch_size // n_batch) if internal_batch_size else 1


@dataclass(frozen=True)
class NoiseOptions:
    """Captum ``NoiseTunnel`` arguments: type, samples, noise level, samples per pass."""

    nt_type: str
    nt_samples: int
    stdevs: float
    batch_size: int | None = None

    def kwargs(self) -> dict:
        """Return the keyword arguments of ``NoiseTunnel.attribute``."""
        return {
            "nt_type": self.nt_type,
            "nt_samples": self.nt_samples,
            "stdevs": self.stdevs,
            "nt_samples_batch_size": self.batch_size,
        }


@dataclass(frozen=True, eq=False)
class Batch:
    """What every method is handed: the forward function and a batch on the grid.

    Attributes
    ----------
    forward : torch.nn.Module
        ``|Tx| (B, F, N) -> to_image -> model -> logits (B, K)``.
    model : torch.nn.Module
        The user's network (layer methods look their layer up in it).
    magnitude : torch.Tensor, shape (B, F, N)
        ``|Tx|``, detached.
    target : torch.Tensor of int64, shape (B,)
    logits : torch.Tensor, shape (B, K)
        ``forward(magnitude)``.
    batch_shape : tuple of int
        The batch shape of the signals (``B`` is its product).
    transform_config, imaging_config
    internal_batch_size : int or None
        Most images per forward pass.
    captum_kwargs : dict
        Extra arguments for Captum's ``attribute`` call.
    noise : NoiseOptions or None
        Wrap a gradient method in a noise tunnel.
    signals : torch.Tensor, shape (B, N), optional
        The signals themselves, in the transform's dtype (methods that perturb through
        the signal remove content from them).
    coefficients : torch.Tensor, shape (B, F, N), optional
        Their complex ``Tx``, detached.
    task : {'classification', 'regression'}
        What the model answers: a classifier's target is scored by its probability, a
        regression's by its value.
    """

    forward: torch.nn.Module
    model: torch.nn.Module
    magnitude: torch.Tensor
    target: torch.Tensor
    logits: torch.Tensor
    batch_shape: tuple[int, ...]
    transform_config: SSQConfig
    imaging_config: ImagingConfig
    internal_batch_size: int | None = None
    captum_kwargs: dict = field(default_factory=dict)
    noise: NoiseOptions | None = None
    signals: torch.Tensor | None = None
    coefficients: torch.Tensor | None = None
    task: str = "classification"

    @property
    def grid(self) -> tuple[int, int]:
        """``(n_freqs, n_times)``."""
        return tuple(self.magnitude.shape[-2:])

    @property
    def per_eval(self) -> int:
        """Perturbed images per forward pass (see :func:`per_pass`)."""
        return per_pass(self.internal_batch_size, self.magnitude.shape[0])

    def inputs(self, *, grad: bool) -> torch.Tensor:
        """Return a fresh copy of the magnitudes for Captum, requiring gradients or not."""
        return self.magnitude.detach().clone().requires_grad_(grad)


@dataclass(frozen=True, eq=False)
class Attribution:
    """A method's result: ``values (B, F, N)`` and Captum's convergence delta ``(B,)``."""

    values: torch.Tensor
    delta: torch.Tensor | None = None


@dataclass
class CallCount:
    """Forward calls of a model and the images in them (``None``: not countable)."""

    calls: int | None = 0
    images: int | None = 0


@contextlib.contextmanager
def counted(model: torch.nn.Module):
    """Count the forward calls of ``model`` (and their images) while active.

    A forward hook on the model; a model that takes none (a TorchScript module) yields a
    count of ``None``.
    """
    count = CallCount()

    def hook(module, args, out):
        count.calls += 1
        first = args[0] if args else None
        count.images += int(first.shape[0]) if isinstance(first, torch.Tensor) else 0

    try:
        handle = model.register_forward_hook(hook)
    except (RuntimeError, AttributeError, TypeError):
        count.calls = count.images = None
        handle = None
    try:
        yield count
    finally:
        if handle is not None:
            handle.remove()


@contextlib.contextmanager
def _quiet_hooks():
    with warnings.catch_warnings():
        for msg in _HOOK_MESSAGES:
            warnings.filterwarnings("ignore", message=msg, category=UserWarning)
        yield


# ------------------------------------------------------------------ gradient methods
def captum_gradient(algorithm, batch: Batch, kwargs: dict) -> Attribution:
    """Run a Captum gradient algorithm on ``|Tx|``, in a ``NoiseTunnel`` when asked.

    ``kwargs`` are the method's own arguments; with ``return_convergence_delta`` among
    them the delta is returned too.
    """
    kw = {"target": batch.target, **kwargs}
    if batch.noise is not None:
        from captum.attr import NoiseTunnel

        algorithm = NoiseTunnel(algorithm)
        kw.update(batch.noise.kwargs())
    with _quiet_hooks():
        out = algorithm.attribute(batch.inputs(grad=True), **kw, **batch.captum_kwargs)
    if kw.get("return_convergence_delta"):
        out, delta = out
        return Attribution(out, delta)
    return Attribution(out)


def _approximation_parameters():
    """Captum's step rule (``captum.attr._utils``), or None when this Captum lacks it.

    The in-house IG takes Captum's own alphas and step weights so that it stays equal
    to Captum's; the helper is not public API, so without it ``attribute`` falls back to
    ``captum.attr.IntegratedGradients``.
    """
    try:
        from captum.attr._utils.approximation_methods import approximation_parameters
    except ImportError:
        return None
    return approximation_parameters


def lean_integrated_gradients(
    forward,
    inp: torch.Tensor,
    baselines,
    target: torch.Tensor,
    *,
    n_steps: int,
    internal_batch_size: int | None,
    method: str = "gausslegendre",
) -> torch.Tensor:
    """Captum's Integrated Gradients of ``forward`` at ``inp`` (B, F, N), lean on the grid.

    The same path points ``baselines + alpha * (inp - baselines)``, step weights and
    internal batching (``internal_batch_size // B`` steps per forward pass) as
    ``captum.attr.IntegratedGradients(forward).attribute(inp, baselines, target,
    n_steps=n_steps, method=method, internal_batch_size=internal_batch_size)``, equal to
    it up to float rounding (tested). Captum builds each batch of path points step by
    step (three temporaries per step, then a concatenation) in fresh memory and weights
    the gradients with a full-size copy before summing them; on a grid much larger
    than the image that memory traffic costs as much as the imaging. Here the path
    points of every pass are written into one buffer and the weighted sum over the
    steps is one matrix product.
    """
    step_sizes_fn, alphas_fn = _approximation_parameters()(method)
    step_sizes, alphas = step_sizes_fn(n_steps), alphas_fn(n_steps)
    n_batch = inp.shape[0]
    chunk = n_steps if internal_batch_size is None else per_pass(internal_batch_size, n_batch)
    chunk = min(chunk, n_steps)
    diff = inp - baselines
    work = torch.empty((chunk, *inp.shape), dtype=inp.dtype, device=inp.device)
    total = None
    for start in range(0, n_steps, chunk):
        alpha = torch.tensor(alphas[start : start + chunk], dtype=inp.dtype, device=inp.device)
        n = alpha.shape[0]
        points = torch.mul(diff, alpha.view(n, *([1] * inp.ndim)), out=work[:n])
        if isinstance(baselines, torch.Tensor) or baselines != 0:
            points.add_(baselines)
        points = points.reshape(n * n_batch, *inp.shape[1:]).detach().requires_grad_(True)
        out = forward(points)
        score = out.gather(1, target.repeat(n)[:, None]).sum()
        (grad,) = torch.autograd.grad(score, points)
        # Captum rounds the step weights to float32
        weight = torch.tensor(step_sizes[start : start + chunk]).float().to(grad)
        attr = (weight @ grad.reshape(n, -1)).reshape(inp.shape) * diff
        total = attr if total is None else total + attr
    return total


def _lean_ig_with_delta(batch: Batch, base, n_steps: int) -> Attribution:
    """:func:`lean_integrated_gradients` and Captum's convergence delta.

    The delta reuses the logits at ``|Tx|`` already in hand; only the baseline's are
    computed.
    """
    mag, tgt = batch.magnitude, batch.target
    attr = lean_integrated_gradients(
        batch.forward,
        mag,
        base,
        tgt,
        n_steps=n_steps,
        internal_batch_size=batch.internal_batch_size,
        **batch.captum_kwargs,
    )
    with torch.no_grad():
        start = batch.forward(torch.zeros_like(mag) + base)
    n_batch = mag.shape[0]
    picked = torch.arange(n_batch, device=tgt.device), tgt
    gap = batch.logits[picked] - start[picked]
    return Attribution(attr, attr.reshape(n_batch, -1).sum(1) - gap)


def integrated_gradients(batch: Batch, *, baselines, n_steps: int) -> Attribution:
    """``IntegratedGradients``, with its convergence delta.

    Lean (:func:`lean_integrated_gradients`) unless a noise tunnel, or Captum arguments
    other than ``method``, ask for Captum's own class.
    """
    base = grid_baselines(baselines, batch.batch_shape, batch.magnitude)
    if (
        batch.noise is None
        and set(batch.captum_kwargs) <= {"method"}
        and _approximation_parameters() is not None
    ):
        return _lean_ig_with_delta(batch, base, n_steps)
    from captum.attr import IntegratedGradients

    kw = {"baselines": base, "n_steps": n_steps}
    if batch.noise is None:
        kw.update(internal_batch_size=batch.internal_batch_size, return_convergence_delta=True)
    else:  # the noise tunnel batches the samples instead
        kw.update(internal_batch_size=None)
    return captum_gradient(IntegratedGradients(batch.forward), batch, kw)


def saliency_map(batch: Batch) -> Attribution:
    """``Saliency``: the gradient (its absolute value, unless ``abs=False``)."""
    from captum.attr import Saliency

    return captum_gradient(Saliency(batch.forward), batch, {})


def input_x_gradient(batch: Batch) -> Attribution:
    """``InputXGradient``: ``|Tx|`` times the gradient."""
    from captum.attr import InputXGradient

    return captum_gradient(InputXGradient(batch.forward), batch, {})


def gradient_shap(
    batch: Batch, *, baselines, stdevs: float | None, n_samples: int | None
) -> Attribution:
    """``GradientShap`` with a distribution of baselines (default: silence)."""
    from captum.attr import GradientShap

    kw = {
        "baselines": shap_baselines(baselines, batch.magnitude),
        "stdevs": 0.0 if stdevs is None else float(stdevs),
    }
    if n_samples is not None:
        kw["n_samples"] = int(n_samples)
    return captum_gradient(GradientShap(batch.forward), batch, kw)


def deeplift(batch: Batch, *, baselines) -> Attribution:
    """``DeepLift`` (its convergence delta without a noise tunnel)."""
    from captum.attr import DeepLift

    kw = {
        "baselines": grid_baselines(baselines, batch.batch_shape, batch.magnitude),
        "return_convergence_delta": batch.noise is None,
    }
    return captum_gradient(DeepLift(batch.forward), batch, kw)


# ------------------------------------------------------------------ perturbation methods
def _perturb(algorithm, batch: Batch, baselines, **kwargs) -> Attribution:
    kw = {
        "target": batch.target,
        "baselines": baselines,
        "perturbations_per_eval": batch.per_eval,
        **kwargs,
    }
    with torch.no_grad():
        return Attribution(
            algorithm.attribute(batch.inputs(grad=False), **kw, **batch.captum_kwargs)
        )


def occlusion(batch: Batch, *, baselines, sliding_window_shapes, strides) -> Attribution:
    """``Occlusion`` with a window and stride given as ``(octaves, samples)``."""
    from captum.attr import Occlusion

    base = grid_baselines(baselines, batch.batch_shape, batch.magnitude)
    n_times = batch.grid[1]
    freqs = batch.transform_config.freqs(n_times)
    win = window(
        sliding_window_shapes or (0.5, n_times / 16), freqs, n_times, name="sliding_window_shapes"
    )
    if strides is None:
        step = (max(1, win[0] // 2), max(1, win[1] // 2))
    else:
        step = window(strides, freqs, n_times, name="strides")
    return _perturb(Occlusion(batch.forward), batch, base, sliding_window_shapes=win, strides=step)


def _regions(labels, batch: Batch, method: str) -> torch.Tensor:
    if labels is None:
        raise ValueError(f"method={method!r} needs feature_mask= (region labels)")
    return feature_labels(labels, batch.batch_shape, batch.magnitude)


def feature_ablation(batch: Batch, *, baselines, feature_mask) -> Attribution:
    """``FeatureAblation`` of labelled regions, each as a whole."""
    from captum.attr import FeatureAblation

    base = grid_baselines(baselines, batch.batch_shape, batch.magnitude)
    regions = _regions(feature_mask, batch, "feature_ablation")
    return _perturb(FeatureAblation(batch.forward), batch, base, feature_mask=regions)


def shapley_value_sampling(
    batch: Batch, *, baselines, feature_mask, n_samples: int | None
) -> Attribution:
    """``ShapleyValueSampling`` over labelled regions."""
    from captum.attr import ShapleyValueSampling

    base = grid_baselines(baselines, batch.batch_shape, batch.magnitude)
    regions = _regions(feature_mask, batch, "shapley_value_sampling")
    kw = {} if n_samples is None else {"n_samples": int(n_samples)}
    return _perturb(ShapleyValueSampling(batch.forward), batch, base, feature_mask=regions, **kw)


# ------------------------------------------------------------------ layer methods
def _image_size(batch: Batch) -> tuple[int, int]:
    with torch.no_grad():
        return tuple(to_image(batch.magnitude[:1], batch.imaging_config).shape[-2:])


def _grad_cam_on_grid(
    batch: Batch,
    layer: torch.nn.Module,
    inputs: torch.Tensor,
    image_hw: tuple[int, int],
    interpolate_mode: str,
    kwargs: dict,
) -> torch.Tensor:
    """Captum LayerGradCam, upsampled to the image, pulled back onto the grid."""
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(batch.forward, layer).attribute(inputs, target=batch.target, **kwargs)
    if not isinstance(cam, torch.Tensor) or cam.ndim != 4:
        shape = tuple(cam.shape) if isinstance(cam, torch.Tensor) else type(cam).__name__
        raise ValueError(
            f"Grad-CAM of layer gives shape {shape}; a layer with (batch, channels, "
            "height, width) output is needed"
        )
    cam = LayerAttribution.interpolate(cam, tuple(image_hw), interpolate_mode=interpolate_mode)
    return pull_back(cam.sum(1), batch.imaging_config, batch.grid)


def layer_gradcam(batch: Batch, *, layer, interpolate_mode: str) -> Attribution:
    """``LayerGradCam`` summed over channels, carried to the grid (total kept)."""
    module = find_layer(batch.model, layer)
    image_hw = _image_size(batch)
    return Attribution(
        _grad_cam_on_grid(
            batch, module, batch.inputs(grad=True), image_hw, interpolate_mode, batch.captum_kwargs
        )
    )


def guided_gradcam(batch: Batch, *, layer, interpolate_mode: str) -> Attribution:
    """``GuidedBackprop`` times the ReLU'd Grad-CAM map averaged onto the grid."""
    from captum.attr import GuidedBackprop

    module = find_layer(batch.model, layer)
    image_hw = _image_size(batch)
    inputs = batch.inputs(grad=True)
    cam = _grad_cam_on_grid(
        batch,
        module,
        inputs,
        image_hw,
        interpolate_mode,
        {"relu_attributions": True, **batch.captum_kwargs},
    )
    ones = torch.ones((1, *image_hw), dtype=cam.dtype, device=cam.device)
    weight = pull_back(ones, batch.imaging_config, batch.grid)
    cam = cam / torch.where(weight > 0, weight, torch.ones_like(weight))
    with _quiet_hooks():
        gb = GuidedBackprop(batch.forward).attribute(inputs, target=batch.target)
    return Attribution(gb * cam)
