"""The attribution methods by name: their kind, the function that runs each, its options.

:data:`REGISTRY` maps a method name to its :class:`Method` record; :data:`METHODS` and
:func:`methods` are derived from it, so the CLI, ``evaluate`` and ``attribute`` all see
the same list. Adding a method is a function in ``_methods`` and one entry here.

Internal to ``saliency``: plain names for its sibling modules; :data:`METHODS`,
:data:`NT_TYPES` and :func:`methods` are public through ``saliency2signal.saliency``.
May import: ``saliency2signal._validation``, ``._methods``, ``._rise``; never ``._core``
(it imports this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._validation import check_choice
from . import _methods as m
from ._rise import rise

__all__ = ["KINDS", "METHODS", "NT_TYPES", "REGISTRY", "Method", "methods"]

#: Kinds of method: ``'gradient'`` (a noise tunnel can wrap them), ``'perturbation'``
#: (forward passes only: they work on a model with no gradients, a
#: :class:`~saliency2signal.blackbox.BlackBox`), ``'layer'`` (need ``layer=``).
KINDS = ("gradient", "perturbation", "layer")

#: Accepted ``nt_type`` values (Captum's NoiseTunnel).
NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


@dataclass(frozen=True)
class Method:
    """One attribution method.

    Attributes
    ----------
    name : str
        The ``method=`` value of :func:`~saliency2signal.saliency.attribute`.
    kind : {'gradient', 'perturbation', 'layer'}
    run : callable
        ``run(batch, **options) -> Attribution`` (see ``_methods``).
    options : tuple of str
        The :func:`~saliency2signal.saliency.attribute` parameters ``run`` takes; the
        others do not concern this method and are not passed.
    noise_option : str or None
        The option that, when set (non-zero), adds noise to ``|Tx|``; the forward
        function then clamps the noisy magnitudes at 0, as with a noise tunnel.
    """

    name: str
    kind: str
    run: Callable[..., m.Attribution]
    options: tuple[str, ...] = ()
    noise_option: str | None = None


#: Every method, in the order of :data:`METHODS`.
REGISTRY: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "integrated_gradients", "gradient", m.integrated_gradients, ("baselines", "n_steps")
        ),
        Method("saliency", "gradient", m.saliency_map),
        Method("input_x_gradient", "gradient", m.input_x_gradient),
        Method(
            "gradient_shap",
            "gradient",
            m.gradient_shap,
            ("baselines", "stdevs", "n_samples"),
            noise_option="stdevs",
        ),
        Method("deeplift", "gradient", m.deeplift, ("baselines",)),
        Method(
            "occlusion",
            "perturbation",
            m.occlusion,
            ("baselines", "sliding_window_shapes", "strides"),
        ),
        Method(
            "feature_ablation", "perturbation", m.feature_ablation, ("baselines", "feature_mask")
        ),
        Method(
            "shapley_value_sampling",
            "perturbation",
            m.shapley_value_sampling,
            ("baselines", "feature_mask", "n_samples"),
        ),
        Method(
            "rise",
            "perturbation",
            rise,
            ("n_masks", "mask_cell", "keep_probability", "rng", "reference_coefficients"),
        ),
        Method("layer_gradcam", "layer", m.layer_gradcam, ("layer", "interpolate_mode")),
        Method("guided_gradcam", "layer", m.guided_gradcam, ("layer", "interpolate_mode")),
    )
}

#: Every accepted ``method``.
METHODS: tuple[str, ...] = tuple(REGISTRY)


def methods(kind: str | None = None) -> tuple[str, ...]:
    """Names of the attribution methods, all or of one ``kind``.

    Parameters
    ----------
    kind : {'gradient', 'perturbation', 'layer'}, optional
        ``'gradient'``: methods a noise tunnel can wrap; ``'perturbation'``: forward
        passes only (they work on a black box); ``'layer'``: on a hidden layer (need
        ``layer=``).

    Examples
    --------
    >>> methods("layer")
    ('layer_gradcam', 'guided_gradcam')
    """
    if kind is None:
        return tuple(REGISTRY)
    check_choice(kind, KINDS, "kind")
    return tuple(name for name, method in REGISTRY.items() if method.kind == kind)
