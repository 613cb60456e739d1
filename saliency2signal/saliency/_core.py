"""The core of saliency: :func:`attribute` on the transform's grid, :func:`time_gradient`.

:func:`attribute` checks its arguments, computes the synchrosqueezed transform once (or
takes it from ``result``), builds the forward function ``|Tx| -> to_image -> model``
(:class:`~saliency2signal.forward.CoefficientClassifier`), the target and the noise
tunnel options, hands the prepared :class:`~._methods.Batch` to the method the registry
names, and wraps what comes back in a :class:`SaliencyResult`. Every Captum method thus
attributes directly to the ``(..., n_freqs, n_times)`` cells of ``|Tx|`` (lowest
frequency in row 0): there is no image-to-grid remapping step, and resizes, flips, logs
and normalisations are differentiated through exactly.

:func:`time_gradient` is the plain time-domain baseline: the gradient of the target's
logit (or, with ``score='probability'``, of its softmax probability) with respect to the
signal itself, through the differentiable transform and the same forward path
(:class:`~saliency2signal.forward.CoefficientClassifier`) as :func:`attribute`.

Internal to ``saliency`` (its public names are re-exported by
``saliency2signal.saliency``). May import: numpy, torch, ``saliency2signal._grid``,
``_runtime``, ``_validation``, ``blackbox``, ``forward``, ``imaging``, ``transform``,
``._options``, ``._methods``, ``._registry``; never ``explanation`` or ``evaluation``
(they import this).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .._grid import magnitude
from .._imagings import check_imaging
from .._runtime import eval_mode
from .._validation import (
    as_tensor,
    check_choice,
    check_instance,
    check_int,
    check_signal,
    complex_dtype,
    torch_dtype,
)
from ..blackbox import is_black_box
from ..forward import CoefficientClassifier, output_of
from ..imaging import ImagingConfig
from ..transform import MIN_LENGTH, SSQConfig, SSQResult, ssq_cwt
from ._methods import Attribution, Batch, NoiseOptions, counted, per_pass
from ._options import has_negative
from ._registry import NT_TYPES, REGISTRY, Method, methods

__all__ = ["SaliencyResult", "attribute", "time_gradient"]


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
    model_calls, model_images : int or None
        Forward calls of the model during the attribution and the images in them (the
        first pass at ``|Tx|`` included; ``None`` where they cannot be counted, e.g.
        a TorchScript model): the cost of a perturbation method is
        ``model_images / B`` evaluations per signal.
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
    model_calls: int | None = None
    model_images: int | None = None


# ------------------------------------------------------------------ checks
def _check_model(model) -> torch.nn.Module:
    return check_instance(model, torch.nn.Module, "model")


def _check_configs(transform_config, imaging_config) -> tuple[SSQConfig, ImagingConfig]:
    """Return the configurations, defaults filled in."""
    transform_config = transform_config or SSQConfig()
    imaging_config = ImagingConfig() if imaging_config is None else imaging_config
    check_instance(transform_config, SSQConfig, "transform_config")
    check_imaging(imaging_config, "imaging_config")
    return transform_config, imaging_config


def _check_black_box(model, what: str) -> None:
    """Refuse a gradient or layer method on a model with no gradients, naming those that run."""
    if is_black_box(model):
        raise ValueError(
            f"{what} needs the model's gradients, but the model is a black box (forward "
            f"passes only); use one of {methods('perturbation')}"
        )


def _check_method(method, nt_type, model) -> Method:
    """Return the registry entry of ``method``; a noise tunnel wraps gradient methods only."""
    spec = REGISTRY[check_choice(method, tuple(REGISTRY), "method")]
    if spec.kind != "perturbation":
        _check_black_box(model, f"method={method!r}")
    if nt_type is not None:
        check_choice(nt_type, (None, *NT_TYPES), "nt_type")
        if spec.kind != "gradient":
            raise ValueError(
                f"nt_type={nt_type!r} wraps gradient methods {methods('gradient')}, not "
                f"method={method!r}"
            )
    return spec


def _resolve_device(device, x, model: torch.nn.Module) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(x, torch.Tensor):
        return x.device
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _prepare_signal(x, transform_config: SSQConfig, device) -> torch.Tensor:
    xt = check_signal(x, min_length=MIN_LENGTH, dtype=torch_dtype(transform_config.dtype))
    return xt.detach().to(device)


def _check_result(result, xt: torch.Tensor, transform_config: SSQConfig) -> None:
    """Check that a precomputed ``ssq_cwt(x, transform_config)`` belongs to ``x``."""
    check_instance(result, SSQResult, "result")
    if result.config != transform_config:
        raise ValueError(
            f"result.config={result.config!r} differs from transform_config={transform_config!r}"
        )
    tx = result.Tx
    if tx.shape[:-2] != xt.shape[:-1] or tx.shape[-1] != xt.shape[-1]:
        raise ValueError(
            f"result.Tx has shape {tuple(tx.shape)}; it does not belong to x "
            f"of shape {tuple(xt.shape)}"
        )
    want = complex_dtype(xt.dtype)
    if tx.dtype != want:
        raise ValueError(f"result.Tx has dtype {tx.dtype}; x of dtype {xt.dtype} gives {want}")


def _coefficients(
    model, x, transform_config: SSQConfig, result, device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the signals and their ``Tx`` on ``device`` (``Tx`` computed or from ``result``)."""
    dev = _resolve_device(device, x, model)
    xt = _prepare_signal(x, transform_config, dev)
    if result is None:
        with torch.no_grad():
            result = ssq_cwt(xt, transform_config)
    else:
        _check_result(result, xt, transform_config)
    return xt, result.Tx.detach().to(dev)


def _check_logits(out, n_batch: int) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n_batch:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the model returned {shape} for a batch of {n_batch} images; expected "
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


def _noise(
    nt_type, nt_samples: int, stdevs, mag: torch.Tensor, internal_batch_size: int | None
) -> NoiseOptions | None:
    """Return the noise tunnel options; default noise: 0.15 times the range of ``|Tx|``."""
    if nt_type is None:
        return None
    sd = 0.15 * float(mag.max() - mag.min()) if stdevs is None else stdevs
    batch_size = per_pass(internal_batch_size, mag.shape[0]) if internal_batch_size else None
    return NoiseOptions(
        nt_type=nt_type, nt_samples=nt_samples, stdevs=float(sd), batch_size=batch_size
    )


def _result(
    attribution: torch.Tensor,
    target: torch.Tensor,
    logits: torch.Tensor,
    batch_shape: tuple,
    final=None,
    **fields,
) -> SaliencyResult:
    """Make a :class:`SaliencyResult`: target, logits and probabilities in batch shape."""
    logits = logits.detach()
    n_classes = logits.shape[-1]
    final = output_of("classification") if final is None else final
    return SaliencyResult(
        attribution=attribution,
        target=target.reshape(batch_shape),
        logits=logits.reshape(*batch_shape, n_classes),
        probabilities=final(logits).reshape(*batch_shape, n_classes),
        **fields,
    )


# ------------------------------------------------------------------ public
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
    task: str = "classification",
    n_masks: int | None = None,
    mask_cell: tuple[float, float] | None = None,
    keep_probability: float | None = None,
    rng=0,
    reference_coefficients=None,
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
    imaging_config : ImagingConfig, ImagingSteps or callable, optional
        Imaging the model's images were made with (default ``ImagingConfig()``; see
        :func:`~saliency2signal.imaging.to_image`).
    method : str
        One of :data:`METHODS`: ``'integrated_gradients'``, ``'saliency'``,
        ``'input_x_gradient'``, ``'gradient_shap'``, ``'deeplift'``, ``'occlusion'``,
        ``'feature_ablation'``, ``'shapley_value_sampling'``, ``'rise'``,
        ``'layer_gradcam'``, ``'guided_gradcam'``. A model with no gradients (a
        :class:`~saliency2signal.blackbox.BlackBox`) takes the perturbation methods
        only (:func:`methods` ``('perturbation')``).
    target : int or array_like of int, optional
        Class to explain, one for all or one per signal (shape ``x.shape[:-1]``);
        default: the predicted class of each signal (a regression's first output).
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
    task : {'classification', 'regression'}
        What the model answers. A regression's outputs are explained as values: the
        result's ``probabilities`` are the outputs themselves, not their softmax.
    n_masks : int, optional
        Random masks of ``'rise'`` (model evaluations per signal; default 64).
    mask_cell : (float, float), optional
        Cell of ``'rise'``'s low-resolution mask grid as ``(octaves, samples)``
        (default ``(1, n_times / 16)``).
    keep_probability : float, optional
        Probability that ``'rise'`` keeps a grid cell (default 0.5).
    rng : int, numpy.random.Generator or None
        Seed of ``'rise'``'s masks (default 0: results repeat); the same masks serve
        every signal of the batch.
    reference_coefficients : torch.Tensor, shape (..., n_freqs, n_times), optional
        Complex ``Tx`` of reference signals: ``'rise'`` puts their content where it
        removes the signal's (what :func:`~saliency2signal.explain` passes for a
        contrastive explanation).

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
    model = _check_model(model)
    transform_config, imaging_config = _check_configs(transform_config, imaging_config)
    spec = _check_method(method, nt_type, model)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    nt_samples = check_int(nt_samples, "nt_samples", minimum=1)
    if internal_batch_size is not None:
        internal_batch_size = check_int(internal_batch_size, "internal_batch_size", minimum=1)
    if captum_kwargs is not None:
        check_instance(captum_kwargs, dict, "captum_kwargs")

    xt, tx = _coefficients(model, x, transform_config, result, device)
    batch_shape = tuple(tx.shape[:-2])
    mag = magnitude(tx).reshape(math.prod(batch_shape), *tx.shape[-2:])
    options = {
        "baselines": baselines,
        "n_steps": n_steps,
        "stdevs": stdevs,
        "n_samples": n_samples,
        "sliding_window_shapes": sliding_window_shapes,
        "strides": strides,
        "feature_mask": feature_mask,
        "layer": layer,
        "interpolate_mode": interpolate_mode,
        "n_masks": n_masks,
        "mask_cell": mask_cell,
        "keep_probability": keep_probability,
        "rng": rng,
        "reference_coefficients": reference_coefficients,
    }
    # noise or a negative baseline could feed a negative magnitude into a log
    noisy = nt_type is not None or bool(spec.noise_option and options[spec.noise_option])
    negative = has_negative(baselines)
    forward = CoefficientClassifier(model, imaging_config=imaging_config, clamp=noisy or negative)
    with eval_mode(model), torch.enable_grad(), counted(model) as calls:
        with torch.no_grad():
            logits = _check_logits(forward(mag), mag.shape[0])
        final = output_of(task)
        if target is None and task == "regression":
            target = 0
        tgt = _check_target(target, logits, batch_shape)
        batch = Batch(
            forward=forward,
            model=model,
            magnitude=mag,
            target=tgt,
            logits=logits,
            batch_shape=batch_shape,
            transform_config=transform_config,
            imaging_config=imaging_config,
            internal_batch_size=internal_batch_size,
            captum_kwargs=dict(captum_kwargs or {}),
            noise=_noise(nt_type, nt_samples, stdevs, mag, internal_batch_size),
            signals=xt.reshape(-1, xt.shape[-1]),
            coefficients=tx.reshape(mag.shape),
            task=task,
        )
        out: Attribution = spec.run(batch, **{name: options[name] for name in spec.options})

    delta = None if out.delta is None else out.delta.detach().reshape(batch_shape)
    # Captum 0.9's ShapleyValueSampling accumulates in float32: return mag's dtype
    attr = out.values.detach().to(mag.dtype).reshape(*batch_shape, *tx.shape[-2:])
    return _result(
        attr,
        tgt,
        logits,
        batch_shape,
        final=final,
        method=method if nt_type is None else f"{method}+{nt_type}",
        Tx=tx,
        convergence_delta=delta,
        transform_config=transform_config,
        imaging_config=imaging_config,
        model_calls=calls.calls,
        model_images=calls.images,
    )


def time_gradient(
    model: torch.nn.Module,
    x,
    *,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    target=None,
    score: str = "logit",
    device: str | torch.device | None = None,
) -> SaliencyResult:
    """Gradient of the target's logit (or probability) with respect to the signal.

    The time-domain baseline against which grid attributions are compared:
    ``d s / dx`` with ``s = model(to_image(ssq_cwt(x).Tx))[target]`` (the logit, the
    model's output before any softmax, the quantity :func:`attribute`'s methods
    explain) or, with ``score='probability'``, ``s = softmax(model(...))[target]``.
    The result is signed and per sample of ``x``; take ``abs`` or the square for a
    sensitivity map. Nothing else is applied: no multiplication by ``x``, no smoothing,
    no normalisation.

    Synchrosqueezing moves each cell of ``Wx`` to a frequency bin that is piecewise
    constant in ``x`` (and drops cells below the transform's threshold), so the score is
    a piecewise smooth function of ``x`` with jumps where a cell changes bin. This is
    its gradient with the bin assignment held fixed, exact between the jumps; a finite
    difference agrees with it only with a step below the scale at which cells start to
    change bin (see the tests).

    It is not a map of where a feature lies: the gradient of a coefficient that the
    model reads reaches every sample under its wavelet, so ``|d s / dx|`` spreads over
    the support of the wavelets at the scales the model uses (at coarse scales, far
    beyond the feature itself), and over neighbouring structure that the decision
    depends on (the anchor peak of a shoulder, say). The logit and the probability give
    maps of the same shape for a confident prediction: ``d p_t / dx`` is
    ``p_t (d z_t / dx - sum_k p_k d z_k / dx)``.

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
    score : {'logit', 'probability'}
        What is differentiated: the target's logit (default, as :func:`attribute`) or its
        softmax probability.
    device : str or torch.device, optional
        Default: the device of ``x`` (a tensor), else the model's.

    Returns
    -------
    SaliencyResult
        ``attribution`` of shape ``(..., n_times)``, in the transform's working dtype
        (that of ``x`` unless ``transform_config.dtype`` says otherwise);
        ``method='time_gradient'``, or
        ``'time_gradient+probability'`` with ``score='probability'``.

    Raises
    ------
    ValueError
        Target out of range, logits not ``(B, n_classes)``, unknown ``score``.

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
    >>> p = time_gradient(model, torch.randn(3, 256), transform_config=SSQConfig(nv=8),
    ...                   imaging_config=ImagingConfig(size=(16, 16)), score="probability")
    >>> p.method
    'time_gradient+probability'
    """
    model = _check_model(model)
    _check_black_box(model, "time_gradient")
    transform_config, imaging_config = _check_configs(transform_config, imaging_config)
    check_choice(score, ("logit", "probability"), "score")
    dev = _resolve_device(device, x, model)
    xt = _prepare_signal(x, transform_config, dev)
    batch_shape = tuple(xt.shape[:-1])
    forward = CoefficientClassifier(model, imaging_config=imaging_config)
    with eval_mode(model), torch.enable_grad():
        xg = xt.clone().requires_grad_(True)
        res = ssq_cwt(xg, transform_config)
        out = _check_logits(forward(res.Tx), math.prod(batch_shape))
        tgt = _check_target(target, out.detach(), batch_shape)
        per_class = out.softmax(-1) if score == "probability" else out
        (grad,) = torch.autograd.grad(per_class.gather(1, tgt[:, None]).sum(), xg)
    return _result(
        grad.detach(),
        tgt,
        out,
        batch_shape,
        method="time_gradient" if score == "logit" else "time_gradient+probability",
        Tx=res.Tx.detach(),
        transform_config=transform_config,
        imaging_config=imaging_config,
    )
