""":func:`evaluate`: explain with each method, then test every explanation.

- :func:`evaluate_method`: the core. One method on one batch of signals: explain, the
  curves and their null, the scores, the ground truth and the sanity check; returns a
  :class:`~saliency2signal.evaluation.MethodEvaluation`. A streaming or distributed
  runner calls this per batch.
- :func:`evaluate`: the orchestrator. Checks the arguments, runs the core for every
  method (the first method's target classes for all of them) and gathers an
  :class:`~saliency2signal.evaluation.Evaluation`.

May import: numpy, torch, ``_validation``, ``blackbox``, the public names of ``transform``,
``imaging`` and ``faithfulness``, and every other module of
``saliency2signal.evaluation``; nothing in the package imports this but the package's ``__init__``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._imagings import imaging_record
from .._validation import check_bool, check_choice, check_int, check_real
from ..blackbox import is_black_box
from ..faithfulness import CurveSettings, curve_scores, measure_curves, verdicts
from ..imaging import ImagingConfig
from ..transform import SSQConfig
from ._methods import ExplainSettings, check_method, explain_method
from ._result import Evaluation, MethodEvaluation
from ._sanity import RANDOMIZATION_MODES, randomisation
from ._truth import resolve_truth, truth_axis, truth_scores

__all__ = ["BLACK_BOX_METHODS", "DEFAULT_METHODS", "RunSettings", "evaluate", "evaluate_method"]


@dataclass(frozen=True)
class RunSettings:
    """The tests run on every explanation: curves and null, ground truth, sanity check."""

    curves: CurveSettings
    randomization: str
    truth_mass: float
    seed: int


#: What :func:`evaluate` compares by default, and for a model without gradients.
DEFAULT_METHODS = ("integrated_gradients",)
BLACK_BOX_METHODS = ("rise",)


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods:
        raise ValueError("methods is empty")
    for m in methods:
        check_method(m)
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods={methods!r} repeats a method")
    return methods


def _run_settings(
    *,
    n_null,
    energy_tolerance,
    max_overlap,
    insertion,
    null_insertion,
    randomization,
    truth_mass,
    seed,
) -> RunSettings:
    check_choice(randomization, RANDOMIZATION_MODES, "randomization")
    n_null = check_int(n_null, "n_null", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    insertion = check_bool(insertion, "insertion")
    null_insertion = check_bool(null_insertion, "null_insertion")
    curves = CurveSettings(
        n_null=n_null,
        # infinity accepts every placement
        energy_tolerance=check_real(
            energy_tolerance, "energy_tolerance", low=0.0, low_open=True, allow_inf=True
        ),
        max_overlap=check_real(max_overlap, "max_overlap", low=0.0, high=1.0, low_open=True),
        insertion=insertion,
        null_insertion=insertion and null_insertion,
    )
    return RunSettings(
        curves=curves,
        randomization=randomization,
        truth_mass=check_real(truth_mass, "truth_mass", low=0.0, high=1.0, low_open=True),
        seed=seed,
    )


def _check_method_options(method_options, methods) -> dict:
    method_options = dict(method_options or {})
    for k in method_options:
        if k not in methods:
            raise ValueError(f"method_options names {k!r}, which is not in methods")
    return method_options


def evaluate_method(
    model: torch.nn.Module,
    x,
    method: str,
    *,
    target,
    truth,
    explain_settings: ExplainSettings,
    run: RunSettings,
    rng: np.random.Generator,
    stage: Callable[[str], None] | None = None,
) -> MethodEvaluation:
    """Explain ``x`` with one method and test the explanation.

    Parameters
    ----------
    model, x, target, truth
        As for :func:`evaluate` (``method`` a checked name).
    explain_settings : ExplainSettings
        The :func:`~saliency2signal.explain` arguments.
    run : RunSettings
        The tests.
    rng : numpy.random.Generator
        Draws the null (shared by the methods of one evaluation, in order).
    stage : callable, optional
        ``stage(name)`` after each stage (``'explained'``, ``'deletion and null'``,
        ``'randomisation'``).

    Returns
    -------
    MethodEvaluation
    """
    start = time.perf_counter()
    done = stage if stage is not None else (lambda name: None)
    ex = explain_method(model, x, method, explain_settings, target=target)
    e = ex.explanation
    planted = resolve_truth(truth, e)
    done("explained")
    curves = measure_curves(
        model,
        e,
        ex.labels,
        ex.n_regions,
        run.curves,
        rng=rng,
        batch_size=8 * explain_settings.batch_size,
        device=explain_settings.device,
    )
    p_target = e.probabilities[np.arange(e.n_samples), e.target]
    scores = curve_scores(curves, p_target, ex.n_regions)
    # every explanation carries its verdict, here from this evaluation's own null
    e = dataclasses.replace(e, verdicts=verdicts(scores, ex.n_regions, n_null=run.curves.n_null))
    if planted is not None:
        scores.update(
            truth_scores(e, ex.components, planted, e.given_labels, truth_mass=run.truth_mass)
        )
    done("deletion and null")
    rand = None
    if run.randomization != "none":

        def reexplain():
            again = explain_method(model, x, method, explain_settings, target=e.target)
            return again.explanation, again.components

        rand = randomisation(
            model, e, ex.components, mode=run.randomization, seed=run.seed, reexplain=reexplain
        )
        done("randomisation")
    return MethodEvaluation(
        method=method,
        explanation=e,
        n_regions=ex.n_regions,
        deletion=curves.deletion,
        deletion_lerf=curves.deletion_lerf,
        insertion=curves.insertion,
        null_deletion=curves.null_deletion,
        null_insertion=curves.null_insertion,
        energy_match=curves.energy_match,
        scores=scores,
        randomization=rand,
        seconds=time.perf_counter() - start,
    )


def _settings_record(
    methods, run: RunSettings, xs: ExplainSettings, first, *, truth: bool
) -> dict:
    """Return the arguments that shaped the run, JSON-compatible (``settings``)."""
    c = run.curves
    return {
        "methods": list(methods),
        "n_null": c.n_null,
        "energy_tolerance": c.energy_tolerance,
        "max_overlap": c.max_overlap,
        "insertion": c.insertion,
        "null_insertion": c.null_insertion,
        "randomization": run.randomization,
        "truth": truth,
        "truth_mass": run.truth_mass,
        "keep_mass": float(xs.keep_mass),
        "max_regions": int(xs.max_regions),
        "min_share": float(xs.min_share),
        "n_steps": int(xs.n_steps),
        "seed": run.seed,
        "target_mode": first.target_mode,
        "transform": first.transform_config.to_dict(),
        "imaging": imaging_record(first.imaging_config),
        "method_options": json.loads(json.dumps(xs.method_options, default=str)),
    }


def evaluate(
    model: torch.nn.Module,
    x,
    *,
    metadata=None,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    class_names: Sequence[str] | None = None,
    methods: Sequence[str] | str | None = None,
    target="predicted",
    labels=None,
    axis=None,
    truth=None,
    n_null: int = 50,
    energy_tolerance: float = 0.25,
    max_overlap: float = 0.5,
    insertion: bool = True,
    null_insertion: bool = False,
    randomization: str | None = None,
    truth_mass: float = 0.9,
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    n_steps: int = 32,
    mask_options: Mapping | None = None,
    method_options: Mapping | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
) -> Evaluation:
    """Test explanations: round-trip deletion against a matched null, ground truth, sanity.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier of images (see :func:`~saliency2signal.explain`). Its parameters are
        changed during the randomisation check and restored afterwards.
    x : array_like, shape (n_times,) or (B, n_times)
        Real signals.
    metadata, transform_config, imaging_config, class_names, target, labels, axis
        As for :func:`~saliency2signal.explain`.
    methods : str or sequence of str, optional
        Default ``('integrated_gradients',)``, for a model without gradients (a
        :class:`~saliency2signal.BlackBox`) ``('rise',)``. Attribution methods
        (:data:`~saliency2signal.saliency.METHODS`), a gradient
        method with a noise tunnel (``'saliency+smoothgrad'``: SmoothGrad) and baselines
        (:data:`BASELINES`); each is evaluated on the same signals and targets. Layer
        methods use ``model.cam_layer`` unless ``method_options`` names a ``layer``;
        ``'feature_ablation'`` and ``'shapley_value_sampling'`` score the blocks of
        :func:`block_partition` unless ``method_options`` gives a ``feature_mask``.
    truth : PlantedSpectra or mapping, optional
        Ground truth with ``components`` ``(B, n_times)`` (the planted component of each
        signal, zeros where none was planted) and ``windows`` ``(B, 2)`` (in axis units).
        The signals must be given at the model's length. When ``axis`` is None the
        truth's own ``axis`` (if it has one, as :class:`~saliency2signal.datasets.PlantedSpectra`
        does) is used; a different ``axis`` or a window outside it is an error.
    n_null : int
        Random regions drawn per explanation region (>= 1; the protocol asks for 50).
    energy_tolerance : float
        Relative coefficient-energy tolerance of a matched random region (> 0; ``inf``
        accepts every placement).
    max_overlap : float
        Largest share of a region a random draw may overlap, in (0, 1].
    insertion : bool
        Also measure insertion curves.
    null_insertion : bool
        Also run the matched null for the insertion curves (doubles the forward passes
        of the null; the deletion null is always run).
    randomization : {'cascade', 'full', 'none'}, optional
        Cascading randomisation (one step per block, top first), all blocks at once, or
        no sanity check. Default ``'cascade'``; ``'none'`` for a black box, which has no
        parameters to randomise (asking for another mode is then an error).
    truth_mass : float
        Share of the planted component's coefficient energy that defines the
        ground-truth cells, in (0, 1].
    keep_mass, max_regions, min_share, n_steps, mask_options
        As for :func:`~saliency2signal.explain`.
    method_options : mapping of str to mapping, optional
        Extra :func:`~saliency2signal.saliency.attribute` arguments per method, e.g.
        ``{'saliency': {'nt_type': 'smoothgrad'}}``.
    seed : int
        Seeds the null draws and the randomisation (>= 0).
    batch_size : int
        Signals per attribution call; forward passes use ``8 * batch_size``.
    device : str or torch.device
    progress : callable, optional
        ``progress(stage, done, total)`` after each method and stage.

    Returns
    -------
    Evaluation

    Raises
    ------
    TypeError
        A method name, ``n_null``, ``seed``, a tolerance or a flag of the wrong type;
        truth without ``components`` or ``windows``.
    ValueError
        Unknown methods or randomisation mode, ``n_null < 1``, tolerances out of range,
        truth of the wrong shape; plus everything :func:`~saliency2signal.explain`
        raises.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> t = np.arange(128)
    >>> x = np.stack([np.exp(-0.5 * ((t - c) / 3.0) ** 2) for c in (40, 80)])
    >>> ev = evaluate(model, x.astype(np.float32), transform_config=SSQConfig(nv=8),
    ...               imaging_config=ImagingConfig(normalize="none", size=(16, 16)),
    ...               n_null=5, max_regions=2, n_steps=8, randomization="full")
    >>> row = ev.table()[0]
    >>> row["method"], row["n_samples"], 0 <= row["deletion_auc"] <= 1
    ('integrated_gradients', 2, True)
    """
    black_box = is_black_box(model)
    if methods is None:
        methods = BLACK_BOX_METHODS if black_box else DEFAULT_METHODS
    if randomization is None:
        randomization = "none" if black_box else "cascade"
    elif black_box and randomization != "none":
        raise ValueError(
            f"randomization={randomization!r} randomises the model's parameters; a black "
            "box has none: pass randomization='none'"
        )
    methods = _check_methods(methods)
    run = _run_settings(
        n_null=n_null,
        energy_tolerance=energy_tolerance,
        max_overlap=max_overlap,
        insertion=insertion,
        null_insertion=null_insertion,
        randomization=randomization,
        truth_mass=truth_mass,
        seed=seed,
    )
    method_options = _check_method_options(method_options, methods)
    device = torch.device(device)
    xs = ExplainSettings(
        metadata=metadata,
        transform_config=transform_config,
        imaging_config=imaging_config,
        class_names=class_names,
        labels=labels,
        axis=truth_axis(truth, axis),
        keep_mass=keep_mass,
        max_regions=max_regions,
        min_share=min_share,
        batch_size=batch_size,
        device=device,
        n_steps=n_steps,
        mask_options=mask_options,
        method_options=method_options,
    )
    rng = np.random.default_rng(run.seed)
    results: dict[str, MethodEvaluation] = {}
    for i, method in enumerate(methods):

        def stage(name, i=i, method=method):
            if progress is not None:
                progress(f"{method}: {name}", i + 1, len(methods))

        first = next(iter(results.values()), None)
        results[method] = evaluate_method(
            model,
            x,
            method,
            target=target if first is None else first.explanation.target,
            truth=truth,
            explain_settings=xs,
            run=run,
            rng=rng,
            stage=stage,
        )
    first = next(iter(results.values())).explanation
    return Evaluation(
        methods=results,
        class_names=first.class_names,
        target=first.target,
        given_labels=first.given_labels,
        settings=_settings_record(methods, run, xs, first, truth=truth is not None),
    )
