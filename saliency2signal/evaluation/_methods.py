"""The explanations an evaluation tests: one :func:`~saliency2signal.explain` per method.

- :data:`BASELINES` and :func:`check_method`: the method names :func:`evaluate` accepts
  (the saliency registry's methods, a gradient method with a noise tunnel such as
  ``'saliency+smoothgrad'``, and the baselines).
- :class:`ExplainSettings`: the :func:`~saliency2signal.explain` arguments every method
  of one evaluation shares.
- :func:`explain_method`: the explanation of one method, with the labels, components
  and region counts the tests read (:class:`MethodExplanation`). The baseline
  ``'time_gradient'`` spreads ``|d score / d x|`` evenly over each column, so its
  regions are time windows over all frequencies.

May import: numpy, torch, the public names of ``explanation``, ``saliency``, ``mask``,
``inverse`` and ``metadata``, ``_runtime``, ``_validation``, ``faithfulness``;
never ``evaluation._core``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._runtime import default_mask_options, resolve_configs
from .._validation import check_instance
from ..explanation import Explanation, explain
from ..faithfulness import block_partition
from ..imaging import ImagingConfig
from ..inverse import components
from ..mask import attribution_mask
from ..metadata import ModelMetadata, fit_length
from ..saliency import METHODS, NT_TYPES, methods, time_gradient
from ..transform import SSQConfig

__all__ = ["BASELINES", "ExplainSettings", "MethodExplanation", "check_method", "explain_method"]

#: Methods that are not Captum attributions on the grid.
BASELINES = ("time_gradient",)
#: Methods that score the blocks of a feature mask (default: :func:`block_partition`).
REGION_METHODS = ("feature_ablation", "shapley_value_sampling")


def check_method(method) -> str:
    """Return ``method`` if :func:`evaluate` knows it, else ``TypeError``/``ValueError``."""
    check_instance(method, str, "method")
    base, _, nt = method.partition("+")
    if method in BASELINES:
        return method
    if base not in METHODS or (nt and (nt not in NT_TYPES or base not in methods("gradient"))):
        raise ValueError(
            f"method={method!r} must be one of {METHODS + BASELINES}, or a "
            f"gradient method + a noise tunnel ({', '.join(NT_TYPES)}), e.g. "
            "'saliency+smoothgrad'"
        )
    return method


@dataclass(frozen=True, eq=False)
class ExplainSettings:
    """The :func:`~saliency2signal.explain` arguments shared by every method.

    ``method_options`` holds the extra :func:`~saliency2signal.saliency.attribute`
    arguments of each method; the other fields are passed to
    :func:`~saliency2signal.explain` as they are (it validates them).
    """

    metadata: ModelMetadata | None
    transform_config: SSQConfig | None
    imaging_config: ImagingConfig | None
    class_names: Sequence[str] | None
    labels: object
    axis: object
    keep_mass: float
    max_regions: int
    min_share: float
    batch_size: int
    device: torch.device
    n_steps: int
    mask_options: Mapping | None
    method_options: Mapping = field(default_factory=dict)

    def explain_kwargs(self) -> dict:
        """Keyword arguments of :func:`~saliency2signal.explain` (all but the method's)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "method_options"
        }


@dataclass(frozen=True, eq=False)
class MethodExplanation:
    """One method's explanation and what the tests read from it.

    ``labels`` ``(B, F, N)`` and ``components`` ``(B, R, N)`` are the explanation's own
    (for the baseline, those of its replacement attribution); ``n_regions`` ``(B,)``
    counts each signal's regions.
    """

    explanation: Explanation
    labels: np.ndarray
    components: np.ndarray
    n_regions: np.ndarray


def _method_spec(method: str, opts: Mapping, model) -> tuple[str, dict]:
    """Split ``'saliency+smoothgrad'`` into ``('saliency', {'nt_type': 'smoothgrad'})``.

    Layer methods get ``layer=model.cam_layer`` when the model names one.
    """
    base, _, nt = method.partition("+")
    opts = dict(opts)
    if nt:
        opts.setdefault("nt_type", nt)
    if base in methods("layer") and "layer" not in opts:
        layer = getattr(model, "cam_layer", None)
        if layer is None:
            raise ValueError(
                f"method={method!r} needs a layer: pass method_options="
                f"{{{method!r}: {{'layer': NAME}}}} or a model with cam_layer "
                "(load_model(..., rebuild=True) for the bundled CNN)"
            )
        opts["layer"] = layer
    return base, opts


def _default_feature_mask(x, settings: ExplainSettings) -> np.ndarray:
    """:func:`block_partition` of the grid the model sees (after the length policy)."""
    tcfg = resolve_configs(
        settings.metadata, settings.transform_config, settings.imaging_config, None
    )[0]
    n = int(np.shape(x)[-1])
    if settings.metadata is not None:
        n = int(fit_length(torch.zeros(1, n), settings.metadata).shape[-1])
    return block_partition(tcfg.n_freqs(n), n)


def _time_gradient_attribution(model, e: Explanation, settings: ExplainSettings) -> np.ndarray:
    """``|d score / d x|`` of each signal, spread evenly over the rows: ``(B, F, N)``."""
    grads = []
    bs = settings.batch_size
    for s in range(0, e.n_samples, bs):
        r = time_gradient(
            model,
            torch.from_numpy(np.array(e.signals[s : s + bs])),
            transform_config=e.transform_config,
            imaging_config=e.imaging_config,
            target=torch.from_numpy(np.array(e.target[s : s + bs])),
            device=settings.device,
        )
        grads.append(r.attribution.abs().cpu().numpy())
    g = np.concatenate(grads).astype(np.float64)
    n_f = e.Tx.shape[-2]
    return np.broadcast_to(g[:, None, :] / n_f, e.Tx.shape).copy()


def _regions_of(e: Explanation, attribution: np.ndarray, settings: ExplainSettings):
    """Mask labels, components and region counts of a replacement attribution."""
    tcfg = e.transform_config
    mask_options = settings.mask_options
    if mask_options is None:
        mask_options = default_mask_options(tcfg, e.imaging_config, e.signals.shape[-1])
    tx = torch.from_numpy(np.array(e.Tx))
    am = attribution_mask(
        attribution,
        tcfg,
        value=float(settings.keep_mass),
        max_regions=int(settings.max_regions),
        min_share=float(settings.min_share),
        axis=e.axis,
        coefficients=tx,
        **mask_options,
    )
    labels = np.asarray(am.labels)
    comps = components(
        tx,
        tcfg,
        masks=torch.from_numpy(labels.astype(np.int64)),
        n_regions=int(settings.max_regions),
    ).numpy()
    n_reg = np.array([len(r) for r in am.regions], dtype=np.int64)
    return labels, comps, n_reg


def _explain_time_gradient(model, x, settings: ExplainSettings, *, target) -> MethodExplanation:
    """Explain with the baseline: targets from ``'saliency'``, regions from the gradient."""
    e = explain(
        model, x, method="saliency", deletion=False, target=target, **settings.explain_kwargs()
    )
    attr = _time_gradient_attribution(model, e, settings)
    labels, comps, n_reg = _regions_of(e, attr, settings)
    e = dataclasses.replace(
        e,
        attribution=attr,
        labels=labels,
        components=comps[:, : max(int(n_reg.max(initial=0)), 0)],
        method="time_gradient",
    )
    return MethodExplanation(e, labels, e.components, n_reg)


def explain_method(
    model, x, method: str, settings: ExplainSettings, *, target
) -> MethodExplanation:
    """Explain ``x`` with one method (a checked name, see :func:`check_method`).

    ``target`` is as for :func:`~saliency2signal.explain`; :func:`evaluate` passes the
    first method's target classes to the others.
    """
    if method == "time_gradient":
        return _explain_time_gradient(model, x, settings, target=target)
    base, opts = _method_spec(method, settings.method_options.get(method, {}), model)
    if base in REGION_METHODS and "feature_mask" not in opts:
        opts["feature_mask"] = _default_feature_mask(x, settings)
    e = explain(
        model,
        x,
        method=base,
        deletion=False,
        target=target,
        attribute_options=opts or None,
        **settings.explain_kwargs(),
    )
    if base != method:
        e = dataclasses.replace(e, method=method)
    n_reg = np.array([len(r) for r in e.regions], dtype=np.int64)
    return MethodExplanation(e, np.asarray(e.labels), np.asarray(e.components), n_reg)
