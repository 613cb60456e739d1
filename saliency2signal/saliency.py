"""Saliency of a CNN's decision on the native ``(freq, time)`` grid of the transform.

The model sees ``to_image(Tx)``; the question is which *cells* of ``Tx`` made it decide.
:func:`attribute` computes the synchrosqueezed transform once, then hands Captum the
forward function ``magnitude -> to_image -> model`` of the coefficient magnitude
``|Tx|`` on the transform's own grid. Every Captum method then attributes directly to
the ``(..., n_freqs, n_times)`` cells (lowest frequency in row 0) — there is no
image-to-grid remapping step and hence no remapping error: resizes, flips, logs and
normalisations are differentiated through exactly. Methods defined on a layer
(Grad-CAM) are carried back through the imaging geometry with
:func:`saliency2signal.imaging.pull_back`, the adjoint of the resize and flip.

:func:`time_gradient` is the plain time-domain baseline: the gradient of the target
score with respect to the signal itself, through the differentiable transform.

Captum is imported inside the functions: ``import captum.attr`` may import matplotlib
(Captum issue 1653) and importing this package must not.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ._runtime import eval_mode
from ._validation import as_tensor, check_signal
from .forward import CoefficientClassifier
from .imaging import ImagingConfig, _magnitude, pull_back, to_image
from .transform import MIN_LENGTH, SSQConfig, SSQResult, ssq_cwt

__all__ = ["METHODS", "NT_TYPES", "SaliencyResult", "attribute", "methods", "time_gradient"]

#: Gradient methods (NoiseTunnel can wrap these).
_GRADIENT_METHODS = (
    "integrated_gradients",
    "saliency",
    "input_x_gradient",
    "gradient_shap",
    "deeplift",
)
#: Perturbation methods (no gradients; region-level with a feature mask).
_PERTURBATION_METHODS = ("occlusion", "feature_ablation", "shapley_value_sampling")
#: Methods on a hidden layer (need ``layer=``).
_LAYER_METHODS = ("layer_gradcam", "guided_gradcam")
#: Every accepted ``method``.
METHODS = _GRADIENT_METHODS + _PERTURBATION_METHODS + _LAYER_METHODS
_KINDS = {"gradient": _GRADIENT_METHODS, "perturbation": _PERTURBATION_METHODS,
          "layer": _LAYER_METHODS}


def methods(kind: str | None = None) -> tuple[str, ...]:
    """Names of the attribution methods, all or of one ``kind``.

    Parameters
    ----------
    kind : {'gradient', 'perturbation', 'layer'}, optional
        ``'gradient'``: methods a noise tunnel can wrap; ``'perturbation'``: no
        gradients, region-level with a feature mask; ``'layer'``: on a hidden layer
        (need ``layer=``).

    Examples
    --------
    >>> methods("layer")
    ('layer_gradcam', 'guided_gradcam')
    """
    if kind is None:
        return METHODS
    if kind not in _KINDS:
        raise ValueError(f"kind={kind!r} must be one of {tuple(_KINDS)}")
    return _KINDS[kind]


#: Accepted ``nt_type`` values (Captum's NoiseTunnel).
NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")
_DTYPES = {"float32": torch.float32, "float64": torch.float64, None: None}

# Captum announces the hooks it sets on every DeepLift / GuidedBackprop call; that is
# information, not a problem, and pytest runs with filterwarnings=error.
_HOOK_MESSAGES = ("Setting forward, backward hooks", "Setting backward hooks on ReLU")


@dataclass(frozen=True)
class SaliencyResult:
    """What an attribution returns.

    Attributes
    ----------
    attribution : torch.Tensor, shape (..., n_freqs, n_times) or (..., n_times)
        Attribution on the native grid of ``Tx`` (lowest frequency in row 0), or on the
        samples of the signal for :func:`time_gradient`. Detached, real.
    target : torch.Tensor of int64, shape (...)
        Class explained for each signal.
    logits : torch.Tensor, shape (..., n_classes)
        Model output on the unperturbed image.
    probabilities : torch.Tensor, shape (..., n_classes)
        ``softmax(logits)``.
    method : str
        Method name, e.g. ``'integrated_gradients'`` or ``'saliency+smoothgrad'``.
    Tx : torch.Tensor, shape (..., n_freqs, n_times)
        The complex coefficients whose magnitude was attributed.
    convergence_delta : torch.Tensor or None, shape (...)
        Captum's completeness error ``sum(attribution) - (f(x) - f(baseline))`` for
        Integrated Gradients and DeepLift (``None`` otherwise or with a noise tunnel).
    transform_config, imaging_config
        The configurations used.
    """

    attribution: torch.Tensor
    target: torch.Tensor
    logits: torch.Tensor
    probabilities: torch.Tensor
    method: str
    Tx: torch.Tensor = field(repr=False)
    convergence_delta: torch.Tensor | None = None
    transform_config: SSQConfig = field(default_factory=SSQConfig, repr=False)
    imaging_config: ImagingConfig = field(default_factory=ImagingConfig, repr=False)


@contextlib.contextmanager
def _quiet_hooks():
    with warnings.catch_warnings():
        for msg in _HOOK_MESSAGES:
            warnings.filterwarnings("ignore", message=msg, category=UserWarning)
        yield


def _check_model(model) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _resolve_device(device, x, model: torch.nn.Module) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(x, torch.Tensor):
        return x.device
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _prepare_signal(x, transform_config: SSQConfig, device) -> torch.Tensor:
    xt = check_signal(x, min_length=MIN_LENGTH, dtype=_DTYPES[transform_config.dtype])
    return xt.detach().to(device)


def _check_result(result, xt: torch.Tensor, transform_config: SSQConfig) -> None:
    """Check that a precomputed ``ssq_cwt(x, transform_config)`` belongs to ``x``."""
    if not isinstance(result, SSQResult):
        raise TypeError(f"result must be an SSQResult, got {type(result).__name__}")
    if result.config != transform_config:
        raise ValueError(f"result.config={result.config!r} differs from "
                         f"transform_config={transform_config!r}")
    tx = result.Tx
    if tx.shape[:-2] != xt.shape[:-1] or tx.shape[-1] != xt.shape[-1]:
        raise ValueError(f"result.Tx has shape {tuple(tx.shape)}; it does not belong to x "
                         f"of shape {tuple(xt.shape)}")
    want = torch.complex128 if xt.dtype == torch.float64 else torch.complex64
    if tx.dtype != want:
        raise ValueError(f"result.Tx has dtype {tx.dtype}; x of dtype {xt.dtype} gives {want}")


def _logits(forward, inp: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = forward(inp)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != inp.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the model returned {shape} for a batch of {inp.shape[0]} images; expected "
            "logits of shape (batch, n_classes)"
        )
    return out


def _check_target(target, logits: torch.Tensor, batch_shape: tuple) -> torch.Tensor:
    """Return the target as int64 (B,), defaulting to the predicted class."""
    n_batch, n_classes = logits.shape
    if target is None:
        return logits.argmax(-1)
    if isinstance(target, (bool, float)):
        raise TypeError(f"target={target!r} must be an integer class index or an array")
    t = as_tensor(target, name="target")
    if t.dtype.is_floating_point or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"target has dtype {t.dtype}; expected integer class indices")
    t = t.to(device=logits.device, dtype=torch.int64)
    if t.ndim == 0:
        t = t.expand(n_batch)
    elif tuple(t.shape) == tuple(batch_shape) or tuple(t.shape) == (n_batch,):
        t = t.reshape(n_batch)
    else:
        raise ValueError(
            f"target has shape {tuple(t.shape)}; expected a scalar or the batch shape "
            f"{tuple(batch_shape)}"
        )
    bad = (t < 0) | (t >= n_classes)
    if bool(bad.any()):
        raise ValueError(
            f"target={t[bad][0].item()} is out of range for a model with {n_classes} classes"
        )
    return t


def _grid_tensor(value, batch_shape: tuple, grid: tuple, n_batch: int, *, ref: torch.Tensor,
                 name: str) -> torch.Tensor:
    """Broadcast an array of shape (..., F, N) to (B, F, N) like ``ref``."""
    t = as_tensor(value, name=name)
    if t.ndim < 2 or tuple(t.shape[-2:]) != tuple(grid):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}; expected (..., {grid[0]}, {grid[1]}) on the "
            "grid of Tx"
        )
    try:
        t = torch.broadcast_to(t, (*batch_shape, *grid))
    except RuntimeError:
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}, which does not broadcast to the batch "
            f"{(*batch_shape, *grid)}"
        ) from None
    return t.reshape(n_batch, *grid).to(device=ref.device)


def _baselines(baselines, batch_shape, grid, n_batch, ref: torch.Tensor):
    if baselines is None:
        return 0.0
    if isinstance(baselines, (int, float)) and not isinstance(baselines, bool):
        return float(baselines)
    return _grid_tensor(baselines, batch_shape, grid, n_batch, ref=ref,
                        name="baselines").to(ref.dtype)


def _shap_baselines(baselines, grid, ref: torch.Tensor) -> torch.Tensor:
    """GradientShap draws from a distribution of baselines: (n_baselines, F, N)."""
    if baselines is None:
        return torch.zeros((1, *grid), dtype=ref.dtype, device=ref.device)
    if isinstance(baselines, (int, float)) and not isinstance(baselines, bool):
        return torch.full((1, *grid), float(baselines), dtype=ref.dtype, device=ref.device)
    t = as_tensor(baselines, name="baselines").to(device=ref.device, dtype=ref.dtype)
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3 or tuple(t.shape[-2:]) != tuple(grid):
        raise ValueError(
            f"baselines has shape {tuple(t.shape)}; gradient_shap expects a distribution "
            f"of shape (n_baselines, {grid[0]}, {grid[1]})"
        )
    return t


def _feature_mask(feature_mask, batch_shape, grid, n_batch, ref) -> torch.Tensor:
    labels = getattr(feature_mask, "labels", feature_mask)  # an AttributionMask works
    t = as_tensor(labels, name="feature_mask")
    if t.dtype.is_floating_point or t.is_complex():
        raise TypeError(f"feature_mask has dtype {t.dtype}; expected integer labels")
    t = _grid_tensor(t.to(torch.int64), batch_shape, grid, n_batch, ref=ref,
                     name="feature_mask")
    # Captum wants features numbered 0..R-1 without gaps; the numbering does not change
    # the result (each cell gets its region's score).
    _, inverse = torch.unique(t, return_inverse=True)
    return inverse.reshape(t.shape)


def _rows_per_octave(freqs: np.ndarray) -> float:
    f = np.asarray(freqs, dtype=np.float64)
    f = f[f > 0]
    return (len(f) - 1) / math.log2(f[-1] / f[0])


def _window(value, freqs: np.ndarray, n_times: int, *, name: str) -> tuple[int, int]:
    """(octaves, samples) -> (rows, columns) on the grid."""
    try:
        octaves, samples = value
        octaves, samples = float(octaves), float(samples)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be a pair (octaves, samples)") from None
    if not (octaves > 0 and samples > 0 and math.isfinite(octaves) and math.isfinite(samples)):
        raise ValueError(f"{name}={value!r} must hold two positive numbers (octaves, samples)")
    rows = int(np.clip(round(octaves * _rows_per_octave(freqs)), 1, len(freqs)))
    cols = int(np.clip(round(samples), 1, n_times))
    return rows, cols


def _get_layer(model: torch.nn.Module, layer) -> torch.nn.Module:
    if layer is None:
        raise ValueError("layer=None: layer_gradcam and guided_gradcam need layer= (a name)")
    if isinstance(layer, torch.nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"layer={layer!r} is not a submodule of the model")
        return layer
    if not isinstance(layer, str):
        raise TypeError(f"layer={layer!r} must be a submodule name (str) or a module")
    names = dict(model.named_modules())
    if layer not in names or layer == "":
        shown = [n for n in names if n][:12]
        raise ValueError(f"layer={layer!r} is not a submodule of the model; names: {shown}")
    return names[layer]


def _grad_cam_on_grid(grid_model, layer, mag, target, image_hw, grid, imaging_config,
                      interpolate_mode, kwargs):
    """Captum LayerGradCam, upsampled to the image, pulled back onto the grid."""
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(grid_model, layer).attribute(mag, target=target, **kwargs)
    if not isinstance(cam, torch.Tensor) or cam.ndim != 4:
        shape = tuple(cam.shape) if isinstance(cam, torch.Tensor) else type(cam).__name__
        raise ValueError(
            f"Grad-CAM of layer gives shape {shape}; a layer with (batch, channels, "
            "height, width) output is needed"
        )
    cam = LayerAttribution.interpolate(cam, tuple(image_hw), interpolate_mode=interpolate_mode)
    return pull_back(cam.sum(1), imaging_config, grid)


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


def _integrated_gradients(forward, inp: torch.Tensor, baselines, target: torch.Tensor, *,
                          n_steps: int, internal_batch_size: int | None,
                          method: str = "gausslegendre") -> torch.Tensor:
    """Captum's Integrated Gradients of ``forward`` at ``inp`` (B, F, N), lean on the grid.

    The same path points ``baselines + alpha * (inp - baselines)``, step weights and
    internal batching (``internal_batch_size // B`` steps per forward pass) as
    ``captum.attr.IntegratedGradients(forward).attribute(inp, baselines, target,
    n_steps=n_steps, method=method, internal_batch_size=internal_batch_size)``, equal to
    it up to float rounding (tested). Captum builds each batch of path points step by
    step (three temporaries per step, then a concatenation) in fresh memory and weights
    the gradients with a full-size copy before summing them; on a grid ten times
    larger than the image that memory traffic costs as much as the imaging. Here the
    path points of every pass are written into one buffer and the weighted sum over
    the steps is one matrix product.
    """
    step_sizes_fn, alphas_fn = _approximation_parameters()(method)
    step_sizes, alphas = step_sizes_fn(n_steps), alphas_fn(n_steps)
    n_batch = inp.shape[0]
    per_pass = n_steps if internal_batch_size is None else max(1, internal_batch_size // n_batch)
    per_pass = min(per_pass, n_steps)
    diff = inp - baselines
    work = torch.empty((per_pass, *inp.shape), dtype=inp.dtype, device=inp.device)
    total = None
    for start in range(0, n_steps, per_pass):
        alpha = torch.tensor(alphas[start:start + per_pass], dtype=inp.dtype,
                             device=inp.device)
        n = alpha.shape[0]
        points = torch.mul(diff, alpha.view(n, *([1] * inp.ndim)), out=work[:n])
        if isinstance(baselines, torch.Tensor) or baselines != 0:
            points.add_(baselines)
        points = points.reshape(n * n_batch, *inp.shape[1:]).detach().requires_grad_(True)
        out = forward(points)
        score = out.gather(1, target.repeat(n)[:, None]).sum()
        (grad,) = torch.autograd.grad(score, points)
        # Captum rounds the step weights to float32
        weight = torch.tensor(step_sizes[start:start + per_pass]).float().to(grad)
        attr = (weight @ grad.reshape(n, -1)).reshape(inp.shape) * diff
        total = attr if total is None else total + attr
    return total


def attribute(
    model: torch.nn.Module,
    x,
    *,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    method: str = "integrated_gradients",
    target=None,
    baselines=None,
    n_steps: int = 50,
    internal_batch_size: int | None = None,
    nt_type: str | None = None,
    nt_samples: int = 8,
    stdevs: float | None = None,
    n_samples: int | None = None,
    sliding_window_shapes: tuple[float, float] | None = None,
    strides: tuple[float, float] | None = None,
    feature_mask=None,
    layer: str | torch.nn.Module | None = None,
    interpolate_mode: str = "bilinear",
    captum_kwargs: dict | None = None,
    device: str | torch.device | None = None,
    result: SSQResult | None = None,
) -> SaliencyResult:
    """Attribute a CNN's decision to the cells of the synchrosqueezed transform.

    The transform ``Tx = ssq_cwt(x)`` is computed once (or taken from ``result``); Captum
    then explains
    ``f(m) = model(to_image(m))`` at ``m = |Tx|``, the coefficient magnitude on the
    native grid, so attributions have the shape of ``Tx`` and need no remapping.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier taking ``(B, C, H, W)`` images and returning ``(B, n_classes)``
        logits. It is put in eval mode and every submodule's previous mode is restored
        afterwards (also on error). It must already be on ``device``.
    x : array_like, shape (..., n_times)
        Real signal(s).
    transform_config : SSQConfig, optional
        Transform the model's images were made with (default ``SSQConfig()``).
    imaging_config : ImagingConfig, optional
        Imaging the model's images were made with (default ``ImagingConfig()``).
    method : str
        One of :data:`METHODS`: ``'integrated_gradients'``, ``'saliency'``,
        ``'input_x_gradient'``, ``'gradient_shap'``, ``'deeplift'``, ``'occlusion'``,
        ``'feature_ablation'``, ``'shapley_value_sampling'``, ``'layer_gradcam'``,
        ``'guided_gradcam'``.
    target : int or array_like of int, optional
        Class to explain, one for all or one per signal (shape ``x.shape[:-1]``);
        default: the predicted class of each signal.
    baselines : float or array_like, optional
        Reference magnitude, broadcastable to ``(..., n_freqs, n_times)`` (default 0,
        silence). For ``'gradient_shap'`` a distribution ``(n_baselines, n_freqs,
        n_times)``.
    n_steps : int
        Integration steps of Integrated Gradients.
    internal_batch_size : int, optional
        Most images per forward pass: Integrated Gradients' ``internal_batch_size``; for
        the perturbation methods ``perturbations_per_eval = internal_batch_size // B``,
        for a noise tunnel ``nt_samples_batch_size = internal_batch_size // B``.
    nt_type : {None, 'smoothgrad', 'smoothgrad_sq', 'vargrad'}
        Wrap a gradient method in Captum's ``NoiseTunnel``.
    nt_samples : int
        Noisy samples of the noise tunnel.
    stdevs : float, optional
        Noise standard deviation (on the magnitude) for the noise tunnel (default:
        0.15 times the range of ``|Tx|`` over the batch) and for ``'gradient_shap'``
        (default 0, Captum's).
    n_samples : int, optional
        Samples of ``'gradient_shap'`` (default 5) and ``'shapley_value_sampling'``
        (default 25), Captum's defaults.
    sliding_window_shapes, strides : (float, float), optional
        Occlusion window and step as ``(octaves, samples)``; octaves are converted to
        rows with the mean rows per octave of ``transform_config.freqs``. Defaults:
        ``(0.5, n_times / 16)`` and half the window.
    feature_mask : array_like of int or AttributionMask, shape (..., n_freqs, n_times)
        Labelled regions (e.g. ``attribution_mask(...).labels``) for
        ``'feature_ablation'`` / ``'shapley_value_sampling'``: every region (label 0,
        the background, included) is ablated as a whole and all its cells get its score.
    layer : str or torch.nn.Module, optional
        Layer (name in ``model.named_modules()``) for ``'layer_gradcam'`` and
        ``'guided_gradcam'``.
    interpolate_mode : str
        How a Grad-CAM layer map is upsampled to the image size
        (``LayerAttribution.interpolate``).
    captum_kwargs : dict, optional
        Extra keyword arguments for the Captum ``attribute`` call, e.g.
        ``{'abs': False}`` for a signed ``'saliency'`` or ``{'relu_attributions': True}``
        for ``'layer_gradcam'``.
    device : str or torch.device, optional
        Where to compute; default: the device of ``x`` (a tensor), else the model's.
    result : SSQResult, optional
        ``ssq_cwt(x, transform_config)`` already computed (as for
        :func:`~saliency2signal.inverse.decompose_regions`): it is used instead of a
        second transform. Its config, shape and dtype must match ``x`` and
        ``transform_config``.

    Returns
    -------
    SaliencyResult
        ``attribution`` of shape ``(..., n_freqs, n_times)`` (real, detached).

    Raises
    ------
    ValueError
        Unknown ``method`` or ``nt_type``, target out of range, a feature mask or
        baseline of the wrong shape, an unknown layer, logits not ``(B, n_classes)``, a
        ``result`` that does not belong to ``x`` and ``transform_config``.
    TypeError
        ``model`` not a module, non-integer target or feature mask, a ``result`` that is
        not an ``SSQResult``.

    Notes
    -----
    Mapping to Captum (forward function ``f`` above, input ``|Tx|`` as ``(B, F, N)``):
    ``IntegratedGradients(f)`` (with ``return_convergence_delta``; without a noise
    tunnel and with no ``captum_kwargs`` but ``method``, the same integral is computed
    here with Captum's path points, step weights and internal batching, equal to
    Captum's result up to float rounding, without its grid-sized per-step copies),
    ``Saliency(f)``,
    ``InputXGradient(f)``, ``GradientShap(f)``, ``DeepLift(f)`` (``f`` is an
    ``nn.Module`` wrapping the model, so DeepLift's hooks reach its nonlinearities),
    ``NoiseTunnel(<one of these>)``, ``Occlusion(f)``, ``FeatureAblation(f)``,
    ``ShapleyValueSampling(f)``. ``'layer_gradcam'`` is ``LayerGradCam(f, layer)``,
    summed over channels, upsampled to the image with ``LayerAttribution.interpolate``
    and carried to the grid with :func:`~saliency2signal.imaging.pull_back` (the adjoint
    of resize and flip: the total is kept). ``'guided_gradcam'`` follows Captum's
    ``GuidedGradCam`` recipe — ``GuidedBackprop(f)`` times the ReLU'd Grad-CAM map —
    but the map is carried to the grid by the geometry (pulled back and divided by the
    pull-back of ones, i.e. a weighted average), where Captum's class would interpolate
    it to the input shape and ignore a row flip.

    Path and reference methods need a reference the imaging can tell apart from the
    input: a per-image ``'minmax'`` or ``'standardize'`` normalisation makes the image
    of ``a * |Tx|`` the same for every ``a > 0``, so along the straight path from the
    zero baseline the model output is constant and jumps at 0. Integrated Gradients
    then attributes (almost) nothing and reports the jump as ``convergence_delta``. Use
    a baseline the normalisation keeps distinct (e.g. a noise floor map) or imaging
    with ``'fixed'``/``'meanstd'``/``'none'`` normalisation for such methods.

    Examples
    --------
    >>> import torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> from saliency2signal.saliency import attribute
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
    ...                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ...                             torch.nn.Linear(4, 3))
    >>> x = torch.randn(2, 256)
    >>> icfg = ImagingConfig(scale="log1p", normalize="none", size=(32, 32))
    >>> res = attribute(model, x, transform_config=SSQConfig(nv=8), imaging_config=icfg,
    ...                 n_steps=16)
    >>> res.attribution.shape == res.Tx.shape, tuple(res.target.shape)
    (True, (2,))
    >>> bool(res.convergence_delta.abs().max() < 0.05)
    True
    """
    from captum import attr as ca  # lazy: captum.attr may import matplotlib

    model = _check_model(model)
    transform_config = transform_config or SSQConfig()
    imaging_config = imaging_config or ImagingConfig()
    if not isinstance(transform_config, SSQConfig):
        raise TypeError(f"transform_config={transform_config!r} must be an SSQConfig")
    if not isinstance(imaging_config, ImagingConfig):
        raise TypeError(f"imaging_config={imaging_config!r} must be an ImagingConfig")
    if method not in METHODS:
        raise ValueError(f"method={method!r} must be one of {METHODS}")
    if nt_type is not None:
        if nt_type not in NT_TYPES:
            raise ValueError(f"nt_type={nt_type!r} must be None or one of {NT_TYPES}")
        if method not in _GRADIENT_METHODS:
            raise ValueError(
                f"nt_type={nt_type!r} wraps gradient methods {_GRADIENT_METHODS}, not "
                f"method={method!r}"
            )
    for name, value, low in (("n_steps", n_steps, 1), ("nt_samples", nt_samples, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}={value!r} must be an integer >= {low}")
    if internal_batch_size is not None and (
        isinstance(internal_batch_size, bool)
        or not isinstance(internal_batch_size, (int, np.integer))
        or internal_batch_size < 1
    ):
        raise ValueError(f"{internal_batch_size=} must be None or an integer >= 1")
    if captum_kwargs is not None and not isinstance(captum_kwargs, dict):
        raise TypeError(f"captum_kwargs={captum_kwargs!r} must be a dict")
    extra = dict(captum_kwargs or {})

    dev = _resolve_device(device, x, model)
    xt = _prepare_signal(x, transform_config, dev)
    if result is None:
        with torch.no_grad():
            result = ssq_cwt(xt, transform_config)  # the transform, once
    else:
        _check_result(result, xt, transform_config)
    tx = result.Tx.detach().to(dev)
    batch_shape = tuple(tx.shape[:-2])
    grid = tuple(tx.shape[-2:])
    n_batch = math.prod(batch_shape)
    mag = _magnitude(tx).reshape(n_batch, *grid)

    noisy = nt_type is not None or (method == "gradient_shap" and bool(stdevs))
    negative = isinstance(baselines, (int, float)) and baselines < 0
    if baselines is not None and not isinstance(baselines, (int, float)):
        negative = bool((as_tensor(baselines, name="baselines") < 0).any())
    grid_model = CoefficientClassifier(model, imaging_config=imaging_config,
                                       clamp=noisy or negative)
    delta = None
    with eval_mode(model), torch.enable_grad():
        logits = _logits(grid_model, mag)
        tgt = _check_target(target, logits, batch_shape)
        ppe = max(1, internal_batch_size // n_batch) if internal_batch_size else 1
        inp = mag.detach().clone().requires_grad_(method not in _PERTURBATION_METHODS)
        kw: dict = {"target": tgt}
        name = method

        if (method == "integrated_gradients" and nt_type is None
                and set(extra) <= {"method"} and _approximation_parameters() is not None):
            # Captum's IG without its grid-sized copies (see _integrated_gradients)
            base = _baselines(baselines, batch_shape, grid, n_batch, mag)
            attr = _integrated_gradients(grid_model, mag, base, tgt, n_steps=int(n_steps),
                                         internal_batch_size=internal_batch_size, **extra)
            # Captum's convergence delta, with the logits at mag already in hand
            with torch.no_grad():
                start = grid_model(torch.zeros_like(mag) + base)
            picked = torch.arange(n_batch, device=tgt.device), tgt
            gap = logits[picked] - start[picked]
            delta = (attr.reshape(n_batch, -1).sum(1) - gap).detach().reshape(batch_shape)

        elif method in _GRADIENT_METHODS:
            if method == "integrated_gradients":
                algo = ca.IntegratedGradients(grid_model)
                kw.update(baselines=_baselines(baselines, batch_shape, grid, n_batch, mag),
                          n_steps=int(n_steps))
                if nt_type is None:
                    kw.update(internal_batch_size=internal_batch_size,
                              return_convergence_delta=True)
                else:  # the noise tunnel batches the samples instead
                    kw.update(internal_batch_size=None)
            elif method == "saliency":
                algo = ca.Saliency(grid_model)
            elif method == "input_x_gradient":
                algo = ca.InputXGradient(grid_model)
            elif method == "gradient_shap":
                algo = ca.GradientShap(grid_model)
                kw.update(baselines=_shap_baselines(baselines, grid, mag),
                          stdevs=0.0 if stdevs is None else float(stdevs))
                if n_samples is not None:
                    kw.update(n_samples=int(n_samples))
            else:  # deeplift
                algo = ca.DeepLift(grid_model)
                kw.update(baselines=_baselines(baselines, batch_shape, grid, n_batch, mag),
                          return_convergence_delta=nt_type is None)
            if nt_type is not None:
                sd = 0.15 * float(mag.max() - mag.min()) if stdevs is None else stdevs
                nt_kw = {
                    "nt_type": nt_type,
                    "nt_samples": int(nt_samples),
                    "stdevs": float(sd),
                    "nt_samples_batch_size": ppe if internal_batch_size else None,
                }
                algo = ca.NoiseTunnel(algo)
                kw.update(nt_kw)
                name = f"{method}+{nt_type}"
            with _quiet_hooks():
                out = algo.attribute(inp, **kw, **extra)
            if kw.get("return_convergence_delta"):
                out, delta = out
                delta = delta.detach().reshape(batch_shape)
            attr = out

        elif method in _PERTURBATION_METHODS:
            base = _baselines(baselines, batch_shape, grid, n_batch, mag)
            kw.update(baselines=base, perturbations_per_eval=ppe)
            if method == "occlusion":
                freqs = transform_config.freqs(grid[1])
                win = _window(sliding_window_shapes or (0.5, grid[1] / 16), freqs, grid[1],
                              name="sliding_window_shapes")
                if strides is None:
                    step = (max(1, win[0] // 2), max(1, win[1] // 2))
                else:
                    step = _window(strides, freqs, grid[1], name="strides")
                algo = ca.Occlusion(grid_model)
                kw.update(sliding_window_shapes=win, strides=step)
            else:
                if feature_mask is None:
                    raise ValueError(f"method={method!r} needs feature_mask= (region labels)")
                kw.update(feature_mask=_feature_mask(feature_mask, batch_shape, grid,
                                                     n_batch, mag))
                if method == "feature_ablation":
                    algo = ca.FeatureAblation(grid_model)
                else:
                    algo = ca.ShapleyValueSampling(grid_model)
                    if n_samples is not None:
                        kw.update(n_samples=int(n_samples))
            with torch.no_grad():
                attr = algo.attribute(inp, **kw, **extra)

        else:  # layer methods
            mod = _get_layer(model, layer)
            with torch.no_grad():
                image_hw = tuple(to_image(mag[:1], imaging_config).shape[-2:])
            if method == "layer_gradcam":
                attr = _grad_cam_on_grid(grid_model, mod, inp, tgt, image_hw, grid,
                                         imaging_config, interpolate_mode, extra)
            else:  # guided_gradcam
                cam_kw = {"relu_attributions": True, **extra}
                cam = _grad_cam_on_grid(grid_model, mod, inp, tgt, image_hw, grid,
                                        imaging_config, interpolate_mode, cam_kw)
                ones = torch.ones((1, *image_hw), dtype=cam.dtype, device=cam.device)
                weight = pull_back(ones, imaging_config, grid)
                cam = cam / torch.where(weight > 0, weight, torch.ones_like(weight))
                with _quiet_hooks():
                    gb = ca.GuidedBackprop(grid_model).attribute(inp, target=tgt)
                attr = gb * cam

    # Captum 0.9's ShapleyValueSampling accumulates in float32: return mag's dtype
    attr = attr.detach().to(mag.dtype).reshape(*batch_shape, *grid)
    logits = logits.detach()
    n_classes = logits.shape[-1]
    return SaliencyResult(
        attribution=attr,
        target=tgt.reshape(batch_shape),
        logits=logits.reshape(*batch_shape, n_classes),
        probabilities=torch.softmax(logits, -1).reshape(*batch_shape, n_classes),
        method=name,
        Tx=tx,
        convergence_delta=delta,
        transform_config=transform_config,
        imaging_config=imaging_config,
    )


def time_gradient(
    model: torch.nn.Module,
    x,
    *,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    target=None,
    device: str | torch.device | None = None,
) -> SaliencyResult:
    """Gradient of the target score with respect to the signal, through the transform.

    The time-domain baseline against which grid attributions are compared:
    ``d model(to_image(ssq_cwt(x).Tx))[target] / dx``. Synchrosqueezing moves each cell
    to a frequency bin that is piecewise constant in ``x``, so this is the gradient for
    the bin assignment held fixed.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier of ``(B, C, H, W)`` images; eval mode during the call, modes
        restored after.
    x : array_like, shape (..., n_times)
        Real signal(s).
    transform_config : SSQConfig, optional
    imaging_config : ImagingConfig, optional
    target : int or array_like of int, optional
        Default: the predicted class.
    device : str or torch.device, optional
        Default: the device of ``x`` (a tensor), else the model's.

    Returns
    -------
    SaliencyResult
        ``attribution`` of shape ``(..., n_times)``; ``method='time_gradient'``.

    Raises
    ------
    ValueError
        Target out of range, logits not ``(B, n_classes)``.

    Examples
    --------
    >>> import torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> from saliency2signal.saliency import time_gradient
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> g = time_gradient(model, torch.randn(3, 256), transform_config=SSQConfig(nv=8),
    ...                   imaging_config=ImagingConfig(size=(16, 16)))
    >>> tuple(g.attribution.shape), g.method
    ((3, 256), 'time_gradient')
    """
    model = _check_model(model)
    transform_config = transform_config or SSQConfig()
    imaging_config = imaging_config or ImagingConfig()
    dev = _resolve_device(device, x, model)
    xt = _prepare_signal(x, transform_config, dev)
    batch_shape = tuple(xt.shape[:-1])
    with eval_mode(model), torch.enable_grad():
        xg = xt.clone().requires_grad_(True)
        res = ssq_cwt(xg, transform_config)
        out = model(to_image(res.Tx, imaging_config))
        n_batch = math.prod(batch_shape)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n_batch:
            raise ValueError(
                f"the model returned {tuple(getattr(out, 'shape', ()))} for a batch of "
                f"{n_batch} images; expected logits of shape (batch, n_classes)"
            )
        tgt = _check_target(target, out.detach(), batch_shape)
        score = out.gather(1, tgt[:, None]).sum()
        (grad,) = torch.autograd.grad(score, xg)
    logits = out.detach()
    n_classes = logits.shape[-1]
    return SaliencyResult(
        attribution=grad.detach(),
        target=tgt.reshape(batch_shape),
        logits=logits.reshape(*batch_shape, n_classes),
        probabilities=torch.softmax(logits, -1).reshape(*batch_shape, n_classes),
        method="time_gradient",
        Tx=res.Tx.detach(),
        transform_config=transform_config,
        imaging_config=imaging_config,
    )
