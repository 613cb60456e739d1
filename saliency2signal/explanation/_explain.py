"""The shell of :func:`~saliency2signal.explain`: arguments in, one Explanation out.

:func:`explain` checks the arguments, resolves the configurations (from model metadata
or given), applies the length policy, casts the signals, fits the axis, reads the
classes and the targets, then runs :func:`~._core.explain_batch` batch by batch (the
transforms of as many batches as fit in the runtime's group budget in one call) and
hands the per-batch results to :func:`~._core.assemble`.

Internal: the public name is :func:`saliency2signal.explanation.explain`.
May import: numpy, torch, ``_runtime``, ``_validation``, ``imaging``, ``metadata``, ``pipeline``,
``transform`` and its siblings ``_auto``, ``_core`` and ``_result``; never matplotlib, nor a
stage that imports this (``evaluation``, ``cli``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from .._runtime import (
    as_model_input,
    default_mask_options,
    eval_mode,
    inference_model,
    resolve_configs,
)
from .._validation import (
    check_callable,
    check_instance,
    check_int,
)
from ..imaging import ImagingConfig, to_image
from ..metadata import ModelMetadata
from ..pipeline import Pipeline
from ..transform import SSQConfig, ssq_cwt
from ._arguments import (
    class_names_for,
    prepare_signals,
    reference_mode,
    resolve_axis,
    resolve_reference,
    resolve_regions,
    resolve_targets,
    task_of,
)
from ._auto import AUTO_CANDIDATES, select_method, subset_indices
from ._core import ExplainSettings, assemble, run_batches, transform_group
from ._result import Explanation

__all__ = ["explain"]


def explain(
    model: torch.nn.Module,
    x,
    *,
    metadata: ModelMetadata | None = None,
    pipeline: Pipeline | None = None,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    class_names: Sequence[str] | None = None,
    method: str = "integrated_gradients",
    target="predicted",
    labels=None,
    axis=None,
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    deletion: bool = True,
    interference: bool = False,
    n_steps: int = 32,
    mask_options: Mapping | None = None,
    attribute_options: Mapping | None = None,
    n_null: int = 20,
    seed: int = 0,
    reference="auto",
    peaks: bool = True,
    auto_options: Mapping | None = None,
    task: str | None = None,
    first_index: int = 0,
    regions=None,
) -> Explanation:
    """Explain a model's decisions on signals as regions, components and deletion effects.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier of ``(B, C, H, W)`` images returning ``(B, K)`` logits, on
        ``device``. Eval mode during the call; each submodule's mode is restored.
    x : array_like, shape (n_times,) or (B, n_times)
        Real signals.
    metadata : ModelMetadata, optional
        From :func:`~saliency2signal.io.load_model`: supplies the transform, imaging,
        class names, axis name and units and the length policy (signals are cropped or
        padded by :func:`~saliency2signal.metadata.fit_length`). Otherwise pass
        ``transform_config`` and ``imaging_config`` (and optionally ``class_names``).
    pipeline : Pipeline, optional
        For a model of your own: its :class:`~saliency2signal.pipeline.Pipeline` (from
        :func:`~saliency2signal.pipeline.load_pipeline`), in place of ``metadata``; the
        same as ``metadata=ModelMetadata.from_pipeline(pipeline, n_times=...)`` with the
        signals' length when the pipeline does not give one.
    transform_config : SSQConfig, optional
    imaging_config : ImagingConfig, optional
    class_names : sequence of str, optional
        Default: the metadata's, else ``'class 0'``, ``'class 1'``, ...
    method : str
        Attribution method, see :data:`saliency2signal.saliency.METHODS`, or
        ``'auto'``: explain an evenly spread subset of the signals with each
        candidate method, keep the one whose explanations beat the matched random
        null most often (their verdicts, see ``n_null``), and explain every signal
        with it; ``settings['method_selection']`` records the choice, the reason and
        every candidate's numbers.
    target : {'predicted', 'label'} or int or array_like of int
        Class to explain: each signal's predicted class, its given label (needs
        ``labels``), or fixed class indices (one, or one per signal).
    labels : array_like of int or str, shape (B,), optional
        True classes (indices or class names), reported and used by ``target='label'``.
    axis : array_like, shape (n_times,), optional
        x value of each sample as given (cropped or extended with the signals); default:
        the x values the model was trained with when its metadata records them
        (``saliency2signal train`` does) and the signals have that length, else
        ``arange(n) / fs`` in the metadata's units, else samples.
    keep_mass : float
        Fraction of the positive attribution mass the mask keeps (``0 < keep_mass <= 1``).
    max_regions : int
        Most regions per signal (largest attribution mass first).
    min_share : float
        Regions holding less than this share of the positive attribution mass are
        dropped (``0 <= min_share < 1``, default 0.02). A mass threshold also keeps
        specks of a few cells; inverted, such a speck can carry far more of the signal
        than its attribution says (on the low-pass row it is a whole baseline). See
        :func:`~saliency2signal.mask.attribution_mask`.
    batch_size : int
        Signals per attribution call (and per transform of the deletion test, whose
        forward pass takes all regions of those signals at once).
    device : str or torch.device
        Where to compute.
    progress : callable, optional
        ``progress(done, total)`` after each batch, ``total = B``.
    deletion : bool
        Measure the effect of deleting each region's component (one forward pass per
        region).
    interference : bool
        Flag regions that coincide with synchrosqueezing interference
        (:func:`~saliency2signal.artefacts.detect_interference`).
    n_steps : int
        Integration steps for ``'integrated_gradients'``.
    mask_options : mapping, optional
        Extra arguments of :func:`~saliency2signal.mask.attribution_mask` (``closing``,
        ``min_duration``, ``sign``, ...). Default: a closing over one image pixel's
        footprint on the grid when the imaging resizes.
    attribute_options : mapping, optional
        Extra arguments of :func:`~saliency2signal.saliency.attribute` (``baselines``,
        ``layer``, ...).
    n_null : int
        The verdict on each explanation (needs ``deletion``): its regions are deleted
        cumulatively (most relevant first) and so are ``n_null`` matched random
        regions per region (same shape and area, coefficient energy within 25 %);
        the explanation is ``'better than chance'`` when its top region's drop beats
        95 % of the null's and its deletion curve's area is lower than 95 % of the
        null curves' (:class:`~saliency2signal.faithfulness.Verdict`). 0: no verdict.
        At least 20 are needed for the 95 % level to be reachable.
    seed : int
        Seed of the null draws (signal ``i`` draws from ``[seed, i]``).
    reference : {'auto', 'class_means', 'zero', 'mean'} or array_like
        What the explanation is relative to. With a reference signal ``r``, the
        attribution starts from ``|Tx(r)|`` (the baseline of the path and perturbation
        methods, unless ``attribute_options`` gives ``baselines``), each region's
        ``contrast`` is what the signal holds there that ``r`` does not (the masked
        inverse of ``Tx(x) - Tx(r)``: a difference spectrum), deleting a region puts
        ``r``'s content in its place (``x - contrast``, ROAD-style imputation, also in
        the verdict's curves), and each band is compared with the same band of ``r``.

        ``'class_means'``: contrastive, "why this class rather than the next most
        likely one": ``r`` is the mean training signal of the *foil*, the most
        probable class other than the explained one, as the model file records it
        (``saliency2signal train`` does); ``'auto'`` (default) is ``'class_means'``
        when the metadata records the means, else ``'zero'``. ``'zero'``: no reference
        (silence as the baseline, deletion removes the component). ``'mean'``: the
        mean of ``x``. An array gives the reference signals, shape ``(n_times,)`` or
        ``(B, n_times)`` at the signals' length as given (e.g. a class mean).
    peaks : bool
        Read each region as a band (needs ``deletion``): peaks are fitted to the signal
        over the region's x-range (:func:`~saliency2signal.peaks.fit_peaks`), each is
        deleted in turn, and the one whose deletion lowers the explained class's
        probability most is the region's ``peak`` (centre, FWHM, height in axis units).
    auto_options : mapping, optional
        For ``method='auto'``: ``candidates`` (default
        :data:`~saliency2signal.explanation.AUTO_CANDIDATES`) and ``n_subset``
        (signals compared, default 8).
    task : {'classification', 'regression'}, optional
        What the model answers (default: the metadata's, else classification). A
        regression's target is an output index (default 0, the first output), its
        attribution is that output's value, and deleting a region is measured as the
        change of the output (``p_before``/``p_after`` hold output values).
    first_index : int
        Index of ``x[0]`` in a larger run (default 0): signal ``i`` draws its null
        regions as signal ``first_index + i`` would, so explaining a set in chunks gives
        the verdicts of explaining it at once (:mod:`saliency2signal.stream` does).
    regions : array_like of int or DrawnMask, optional
        Your own regions instead of the attribution's: a label image ``(F, N)`` on the
        transform's grid (the same regions for every signal) or ``(B, F, N)``, 0 as
        background, or a mask file read by :func:`saliency2signal.drawing.load_mask`
        (drawn in ``saliency2signal draw``). Each label is one region, kept in its
        order; the attribution (``method``) still runs and gives each region's share,
        and the regions' components, deletion effects, verdicts and bands follow.

    Returns
    -------
    Explanation

    Raises
    ------
    ValueError
        Signals whose length does not fit the model (naming both), configs that differ
        from the metadata, unknown ``target`` modes, labels out of range or missing for
        ``target='label'``, ``keep_mass`` outside ``(0, 1]``, a bad ``axis``.
    TypeError
        Wrong types for the model, configs, labels or counts.

    Notes
    -----
    Signals are cast to the dtype of the model's parameters (float32 for
    :class:`~saliency2signal.models.ScalogramCNN`) unless the transform fixes a dtype.
    The deletion test subtracts the *linear* masked inverse of the region, which is not
    exactly a signal whose transform lacks those cells (see
    :func:`~saliency2signal.inverse.consistent_inverse`); it asks "does the model still
    decide the same without this part of the signal?", measured on the real pipeline.
    On the CPU these forward passes use an inference-optimised copy of the model (batch
    norm folded into the convolutions, channels-last memory order; the same function to
    float32 rounding, checked on a probe image, else the model itself).
    The low-pass term (mean, slow baseline) is never in the image unless
    ``lowpass_row=True``; its energy fraction is reported as ``unseen``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> t = np.arange(128)
    >>> x = np.exp(-0.5 * ((t - 64) / 3.0) ** 2).astype(np.float32)
    >>> e = explain(model, x, transform_config=SSQConfig(nv=8),
    ...             imaging_config=ImagingConfig(normalize="none", size=(16, 16)),
    ...             max_regions=2, n_steps=8)
    >>> e.components.shape[0], e.attribution.shape
    (1, (1, 49, 128))
    >>> sorted(e.to_json()["samples"][0])[:4]
    ['convergence_delta', 'energy', 'foil_class', 'index']
    >>> e.settings["reference"]  # no class means recorded: explained against nothing
    'zero'
    """
    check_instance(model, torch.nn.Module, "model")
    if pipeline is not None:
        if metadata is not None:
            raise ValueError("pass metadata= or pipeline=, not both")
        check_instance(pipeline, Pipeline, "pipeline")
        metadata = ModelMetadata.from_pipeline(
            pipeline, n_times=pipeline.n_times or int(np.shape(x)[-1])
        )
    if method == "auto":
        return _explain_auto(
            model,
            x,
            dict(
                metadata=metadata,
                transform_config=transform_config,
                imaging_config=imaging_config,
                class_names=class_names,
                target=target,
                labels=labels,
                axis=axis,
                keep_mass=keep_mass,
                max_regions=max_regions,
                min_share=min_share,
                batch_size=batch_size,
                device=device,
                progress=progress,
                deletion=deletion,
                interference=interference,
                n_steps=n_steps,
                mask_options=mask_options,
                attribute_options=attribute_options,
                n_null=n_null,
                seed=seed,
                reference=reference,
                peaks=peaks,
                task=task,
                first_index=first_index,
                regions=regions,
            ),
            auto_options,
        )
    if auto_options is not None:
        raise ValueError(f"auto_options is for method='auto', not method={method!r}")
    tcfg, icfg, names = resolve_configs(metadata, transform_config, imaging_config, class_names)
    settings = ExplainSettings(
        method=method,
        keep_mass=keep_mass,
        max_regions=max_regions,
        min_share=min_share,
        deletion=deletion,
        interference=interference,
        n_steps=n_steps,
        batch_size=batch_size,
        mask_options=mask_options,
        attribute_options=attribute_options,
        n_null=n_null,
        seed=seed,
        reference=reference_mode(reference, metadata),
        peaks=peaks,
        task=task_of(task, metadata),
    )
    if settings.task == "regression" and labels is not None:
        raise ValueError("labels are class labels; a regression model has none (leave labels out)")
    if progress is not None:
        check_callable(progress, "progress", signature="(done, total)")
    dev = torch.device(device)
    xt, n_given = prepare_signals(x, model, metadata, tcfg, dev)
    n_b, n = int(xt.shape[0]), int(xt.shape[-1])
    axis_info, mask_axis = resolve_axis(axis, metadata, tcfg, n_given, n)
    drawn, settings = resolve_regions(regions, n_b, (tcfg.n_freqs(n), n), tcfg, settings)

    # The transforms of as many batches as fit in GROUP_BYTES (Tx and Wx) run in one
    # call, ahead of those batches' torch work: one call's fixed costs, and no torch
    # OpenMP threads left spinning by a forward pass just before. The first group's is
    # made here and also serves the probe image.
    group = transform_group(xt, settings, tcfg)
    with torch.no_grad():
        first = ssq_cwt(xt[:group], tcfg)
        probe_image = as_model_input(to_image(first.Tx[:1], icfg), model)
    with eval_mode(model), torch.no_grad():
        n_classes = int(model(probe_image).shape[-1])
    names = class_names_for(names, n_classes)
    targets = resolve_targets(target, labels, names, n_classes, n_b)
    ref, targets, foils = resolve_reference(
        settings.reference if isinstance(reference, str) else reference,
        xt,
        metadata,
        n_given,
        model=model,
        targets=targets,
        transform_config=tcfg,
        imaging_config=icfg,
        batch_size=settings.batch_size,
    )
    if settings.mask_options is None:
        settings = dataclasses.replace(settings, mask_options=default_mask_options(tcfg, icfg, n))
    # the deletion checks' forward passes run an inference-optimised copy, built once
    forward_model = inference_model(model, probe_image) if settings.deletion else None
    batches = run_batches(
        model,
        xt,
        first=first,
        group=group,
        targets=targets.per_signal,
        settings=settings,
        transform_config=tcfg,
        imaging_config=icfg,
        axis=mask_axis,
        forward_model=forward_model,
        device=dev,
        progress=progress,
        reference=ref,
        axis_units=axis_info.units,
        first_index=check_int(first_index, "first_index", minimum=0),
        regions=drawn,
    )
    return assemble(
        batches,
        signals=xt.cpu().numpy(),
        settings=settings,
        axis=axis_info,
        class_names=names,
        target_mode=targets.mode,
        given_labels=targets.given,
        transform_config=tcfg,
        imaging_config=icfg,
        original_n_times=n_given,
        length_policy=None if metadata is None else metadata.length_policy,
        foils=foils,
        output_units=() if metadata is None else metadata.output_units,
    )


def _explain_auto(model, x, kwargs: dict, auto_options: Mapping | None) -> Explanation:
    """``method='auto'``: compare the candidates on a subset, explain all with the best.

    A model with no gradients (a :class:`~saliency2signal.blackbox.BlackBox`) compares
    only the candidates that need none: by default ``('rise',)``; given candidates are
    narrowed to the perturbation methods among them.
    """
    from ..blackbox import is_black_box
    from ..saliency import methods

    opts = dict(auto_options or {})
    unknown = set(opts) - {"candidates", "n_subset"}
    if unknown:
        raise ValueError(f"auto_options has unknown keys {sorted(unknown)}")
    black_box = is_black_box(model)
    default = ("rise",) if black_box else AUTO_CANDIDATES
    candidates = tuple(opts.get("candidates", default))
    if not candidates or "auto" in candidates:
        raise ValueError(f"auto_options candidates={candidates!r} must name methods")
    if black_box:
        no_gradients = methods("perturbation")
        candidates = tuple(m for m in candidates if m in no_gradients)
        if not candidates:
            raise ValueError(
                f"auto_options candidates={opts['candidates']!r}: the model is a black box "
                f"(no gradients); name some of {no_gradients}"
            )
    n_subset = check_int(opts.get("n_subset", 8), "n_subset", minimum=1)
    xs = x if isinstance(x, torch.Tensor) else np.asarray(x)
    n_b = 1 if xs.ndim == 1 else int(xs.shape[0])
    subset = subset_indices(n_b, n_subset)

    def per_signal(v, ndim: int):
        """Return the subset's rows of a per-signal argument of ``ndim`` dimensions."""
        if v is None or isinstance(v, str) or np.ndim(v) != ndim:
            return v
        arr = v if isinstance(v, torch.Tensor) else np.asarray(v)
        return arr[subset] if arr.shape[0] == n_b else v

    trial = dict(kwargs)
    trial.update(
        target=per_signal(kwargs["target"], 1),
        labels=per_signal(kwargs["labels"], 1),
        reference=per_signal(kwargs["reference"], 2),
        regions=per_signal(getattr(kwargs["regions"], "labels", kwargs["regions"]), 3),
        progress=None,
        peaks=False,
        deletion=True,
        n_null=max(20, kwargs["n_null"]),
    )
    x_sub = xs if xs.ndim == 1 else xs[subset]
    record = select_method(lambda m: explain(model, x_sub, method=m, **trial), candidates, subset)
    e = explain(model, x, method=record["chosen"], **kwargs)
    return dataclasses.replace(e, settings={**e.settings, "method_selection": record})
