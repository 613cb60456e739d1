"""Map a finished saliency study back to the signal: heatmaps in, an Explanation out.

:func:`map_heatmaps` is :func:`~saliency2signal.explain` for a researcher who already
has the heatmaps (Grad-CAM images, arrays from their own Captum or tf-explain run): the
heatmaps are carried onto the transform's grid (pulled back through the imaging's
geometry when they are on the image grid, flipped when their rows are in ssqueezepy's
order), and the rest is the same core as ``explain``: regions, components, the energy
book-keeping, and, when the model is given, each region's deletion effect, the verdict
against the matched null and the band reading.

Internal: the public name is :func:`saliency2signal.explanation.map_heatmaps`.
May import: numpy, torch, ``_runtime``, ``_validation``, ``_imagings``, ``imaging``,
``metadata``, ``pipeline``, ``transform`` and its siblings ``_arguments``, ``_core`` and
``_result``; never ``_explain``, ``evaluation`` or ``cli``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from .._imagings import image_shape
from .._runtime import (
    as_model_input,
    default_mask_options,
    eval_mode,
    inference_model,
    resolve_configs,
)
from .._validation import as_tensor, check_callable, check_choice, check_instance
from ..imaging import ImagingConfig, pull_back, to_image
from ..metadata import ModelMetadata
from ..pipeline import Pipeline
from ..transform import ORDERS, SSQConfig, coefficients_in_order, ssq_cwt, verify_coefficients
from ._arguments import (
    Targets,
    class_names_for,
    prepare_signals,
    resolve_axis,
    resolve_reference,
    resolve_regions,
    resolve_targets,
    task_of,
)
from ._core import ExplainSettings, assemble, run_batches
from ._result import Explanation

__all__ = ["GRIDS", "map_heatmaps"]

#: Where heatmaps may lie: ``'image'`` (the model's input pixels) or ``'native'``
#: (the transform's ``(n_freqs, n_times)`` grid); ``'auto'`` tells them by shape.
GRIDS = ("auto", "image", "native")


def map_heatmaps(
    heatmaps,
    x,
    *,
    metadata: ModelMetadata | None = None,
    pipeline: Pipeline | None = None,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    grid: str = "auto",
    order: str = "ours",
    coefficients=None,
    model: torch.nn.Module | None = None,
    class_names: Sequence[str] | None = None,
    target=None,
    labels=None,
    axis=None,
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    mask_options: Mapping | None = None,
    n_null: int = 20,
    seed: int = 0,
    reference="zero",
    peaks: bool = True,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    source: Mapping | None = None,
    regions=None,
) -> Explanation:
    """Map heatmaps of a finished saliency study back to regions and signal components.

    Parameters
    ----------
    heatmaps : array_like
        One heatmap per signal: ``(B, H, W)`` or ``(B, C, H, W)`` on the model's image
        grid (channels are summed), or ``(B, n_freqs, n_times)`` on the transform's grid.
        Larger values are more important (the positive part is what the mask keeps, as
        for ``explain``).
    x : array_like, shape (n_times,) or (B, n_times)
        The signals the heatmaps explain.
    metadata, pipeline, transform_config, imaging_config
        How the images were made, as for :func:`~saliency2signal.explain` (a pipeline
        file describes a model of your own).
    grid : {'auto', 'image', 'native'}
        Where the heatmaps lie; ``'auto'`` tells by their shape (and refuses a shape
        both grids share).
    order : {'ours', 'ssqueezepy'}
        Row order of native-grid heatmaps and of ``coefficients``: ``'ssqueezepy'`` for
        arrays made on ``ssqueezepy.ssq_cwt``'s ``Tx`` (highest frequency first). Image
        heatmaps follow the pipeline's imaging, which knows its own row order.
    coefficients : array_like of complex, shape (B, n_freqs, n_times), optional
        Your own ``Tx`` of the signals (in ``order``). It is checked against the
        transform recomputed here (:func:`~saliency2signal.transform.verify_coefficients`):
        coefficients in the other row order or made with another configuration are
        refused with a message. Components are computed from the recomputed transform.
    model : torch.nn.Module, optional
        The classifier: with it the report has the probabilities, each region's
        deletion effect, the verdict against the matched null and the band reading.
        Without, regions and components only.
    class_names : sequence of str, optional
    target : int, str or array_like, optional
        The class the heatmaps explain (index or name, one or one per signal). Default:
        the model's predicted class; without a model, the first class.
    labels : array_like, optional
        True classes, reported.
    axis : array_like, shape (n_times,), optional
    keep_mass, max_regions, min_share, mask_options, n_null, seed, peaks
        As for :func:`~saliency2signal.explain` (the deletion-based ones need a model).
    batch_size, device, progress
        As for :func:`~saliency2signal.explain`.
    reference : {'zero', 'mean'} or array_like
        What deleting a region imputes (a model's deletions only; see ``explain``).
        The heatmaps' own baseline is whatever your study used.
    source : mapping, optional
        Where the heatmaps came from, recorded in ``settings['heatmaps']`` (the CLI
        passes ``source``, ``path``, ``colormap``, ``alphas``).
    regions : array_like of int or DrawnMask, optional
        Your own regions instead of the heatmaps' thresholded mask, as in
        :func:`~saliency2signal.explain`: each heatmap then gives the regions' shares.

    Returns
    -------
    Explanation
        ``method`` is ``'given heatmaps'``; ``settings['heatmaps']`` records the grid,
        order, source and the coefficients check. Without a model ``probabilities``
        and ``predictions`` are ``None``.

    Raises
    ------
    ValueError
        Heatmaps of neither grid's shape (naming both), an ambiguous shape with
        ``grid='auto'``, a heatmap count that differs from the signals', coefficients in
        the other order or of another transform, deletion settings without a model.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> t = np.arange(256)
    >>> x = np.cos(2 * np.pi * 0.05 * t) + np.cos(2 * np.pi * 0.2 * t)
    >>> tcfg, icfg = SSQConfig(nv=8), ImagingConfig(size=(32, 32))
    >>> heat = np.zeros((1, 32, 32)); heat[0, 4:10, :] = 1  # a band near the top row
    >>> e = map_heatmaps(heat, x, transform_config=tcfg, imaging_config=icfg)
    >>> e.method, e.probabilities is None, e.components.shape[-1]
    ('given heatmaps', True, 256)
    """
    if pipeline is not None:
        if metadata is not None:
            raise ValueError("pass metadata= or pipeline=, not both")
        check_instance(pipeline, Pipeline, "pipeline")
        metadata = ModelMetadata.from_pipeline(
            pipeline, n_times=pipeline.n_times or int(np.shape(x)[-1])
        )
    check_choice(grid, GRIDS, "grid")
    check_choice(order, ORDERS, "order")
    if model is not None:
        check_instance(model, torch.nn.Module, "model")
    if isinstance(reference, str) and reference not in ("zero", "mean"):
        raise ValueError(f"reference={reference!r} must be 'zero', 'mean' or an array")
    tcfg, icfg, names = resolve_configs(metadata, transform_config, imaging_config, class_names)
    settings = ExplainSettings(
        method="given heatmaps",
        keep_mass=keep_mass,
        max_regions=max_regions,
        min_share=min_share,
        deletion=model is not None,
        mask_options=mask_options,
        n_null=n_null if model is not None else 0,
        seed=seed,
        reference=reference if isinstance(reference, str) else "given",
        peaks=peaks and model is not None,
        batch_size=batch_size,
        task=task_of(None, metadata),
    )
    if progress is not None:
        check_callable(progress, "progress", signature="(done, total)")
    dev = torch.device(device)
    xt, n_given = prepare_signals(x, model, metadata, tcfg, dev)
    n_b, n = int(xt.shape[0]), int(xt.shape[-1])
    grid_shape = (tcfg.n_freqs(n), n)
    attribution, used_grid = _on_grid(heatmaps, n_b, grid, order, tcfg, icfg, grid_shape)
    check = None
    if coefficients is not None:
        check = verify_coefficients(coefficients, xt, tcfg, order=order)
    axis_info, mask_axis = resolve_axis(axis, metadata, tcfg, n_given, n)
    drawn, settings = resolve_regions(regions, n_b, grid_shape, tcfg, settings)
    probe = None if model is None else _probe_image(model, xt, tcfg, icfg)
    n_classes = _n_classes(model, names, probe)
    names = class_names_for(names, n_classes)
    targets = _targets(target, labels, names, n_classes, n_b, model)
    ref, targets, _ = resolve_reference(
        reference,
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
    forward_model = None if model is None else inference_model(model, probe)
    batches = run_batches(
        model,
        xt,
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
        attribution=attribution,
        regions=drawn,
    )
    e = assemble(
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
        output_units=() if metadata is None else metadata.output_units,
    )
    record = {
        "source": "array",
        "path": None,
        "colormap": None,
        "alphas": None,
        **dict(source or {}),
        "grid": used_grid,
        "order": order,
        "model": model is not None,
        "coefficients_check": None if check is None else {"relative_difference": check},
    }
    return e.with_settings(heatmaps=record)


def _on_grid(heatmaps, n_b: int, grid: str, order: str, tcfg, icfg, grid_shape):
    """Return the heatmaps on the transform's grid ``(B, F, N)``, and which grid they were on."""
    h = as_tensor(heatmaps, name="heatmaps")
    if h.is_complex() or not (
        h.dtype.is_floating_point or h.dtype in (torch.int32, torch.int64, torch.uint8)
    ):
        raise TypeError(f"heatmaps has dtype {h.dtype}; expected real values")
    h = h.to(torch.float64)
    if not bool(torch.isfinite(h).all()):
        raise ValueError("heatmaps contain NaN or inf")
    if n_b == 1 and h.ndim == 2:
        h = h[None]
    c, hh, ww = image_shape(icfg, grid_shape)
    native, image = tuple(grid_shape), (hh, ww)
    tail = tuple(h.shape[-2:])
    if h.ndim not in (3, 4) or h.shape[0] != n_b:
        raise ValueError(
            f"heatmaps has shape {tuple(h.shape)}; expected one heatmap per signal "
            f"({n_b}, H, W) or ({n_b}, C, H, W)"
        )
    if grid == "auto":
        if tail == native and tail == image:
            raise ValueError(
                f"heatmaps of shape {tail} fit both the image and the transform's grid: "
                "pass grid='image' or grid='native'"
            )
        grid = "native" if tail == native else "image" if tail == image else "none"
    expected = {"native": native, "image": image}
    if grid == "none" or tail != expected[grid]:
        raise ValueError(
            f"heatmaps has shape {tuple(h.shape)}; expected images of {image} pixels "
            f"(the pipeline's imaging) or the transform's grid {native} "
            "(n_freqs, n_times)"
        )
    if grid == "native":
        if h.ndim == 4:
            raise ValueError("native-grid heatmaps are (B, n_freqs, n_times), one channel")
        return coefficients_in_order(h, order), "native"
    if order != "ours":
        raise ValueError(
            "order= applies to heatmaps on the transform's grid and to coefficients; "
            "image heatmaps follow the imaging's own row order (leave order out)"
        )
    if h.ndim == 4 and h.shape[1] != c:
        raise ValueError(f"heatmaps has {h.shape[1]} channels; the imaging makes {c}")
    return pull_back(h, icfg, grid_shape), "image"


def _probe_image(model, xt, tcfg, icfg) -> torch.Tensor:
    with torch.no_grad():
        return as_model_input(to_image(ssq_cwt(xt[:1], tcfg).Tx, icfg), model)


def _n_classes(model, names, probe) -> int:
    if model is None:
        return len(names) if names is not None else 1
    with eval_mode(model), torch.no_grad():
        return int(model(probe).shape[-1])


def _targets(target, labels, names, n_classes: int, n_b: int, model) -> Targets:
    if target is None:
        target = "predicted" if model is not None else 0
    if isinstance(target, str) and target in names:
        target = names.index(target)
    return resolve_targets(target, labels, names, n_classes, n_b)
