"""The core of :func:`~saliency2signal.explain`: one prepared batch in, one result out.

:func:`explain_batch` takes a batch of signals that is already checked, fitted to the
model's length, on its device and in its dtype (with, optionally, their transform) and
returns a :class:`BatchResult`: attribution on the transform's grid, regions, one
component per region, the energy book-keeping and, per region, the effect of deleting
its component and the interference flag. No argument parsing, no loop over batches, no
progress: this is what :func:`~saliency2signal.explain`, a streaming runner or a
distributed one calls per batch; :func:`run_batches` runs it over prepared signals, the
transforms of several batches made in one call. :func:`assemble` concatenates the batches' results
into an :class:`~saliency2signal.explanation.Explanation`.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, torch, ``_runtime``, ``_validation``, ``forward``, ``imaging``,
``metadata``, ``inverse``, ``mask``, ``saliency``, ``transform``, ``faithfulness``,
``artefacts`` (inside a function) and its siblings ``_reading`` and ``_result``; never
``_explain`` or ``_map`` (they import this).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from .._runtime import (
    FORWARD_BYTES,
    as_model_input,
    count_within,
    eval_mode,
    group_size,
    image_bytes,
)
from .._validation import check_bool, check_choice, check_int, check_real, readonly, to_numpy
from ..faithfulness import CurveSettings, Verdict, curve_scores, measure_curves, verdicts
from ..forward import output_of, probabilities
from ..imaging import ImagingConfig, to_image
from ..inverse import components, decompose_regions
from ..mask import Region, attribution_mask, label_regions, signed_attribution
from ..metadata import TASKS
from ..saliency import attribute
from ..transform import SSQConfig, SSQResult, decompose, ssq_cwt
from ._reading import read_bands
from ._result import Explanation, RegionEffect

__all__ = [
    "REFERENCES",
    "AxisInfo",
    "BatchResult",
    "ExplainSettings",
    "assemble",
    "explain_batch",
    "run_batches",
    "transform_group",
]

#: What an explanation can be relative to (see :func:`~saliency2signal.explain`).
REFERENCES = ("zero", "mean", "given", "class_means")
#: Methods whose ``baselines`` take one magnitude map per signal: a reference's
#: ``|Tx(r)|`` becomes their starting point (GradientSHAP draws from a distribution).
_PER_SIGNAL_BASELINES = (
    "integrated_gradients",
    "deeplift",
    "occlusion",
    "feature_ablation",
    "shapley_value_sampling",
)
#: Methods that perturb the signal itself (remove masked components by the inverse and
#: re-run the transform): a reference's complex ``Tx(r)`` is what they impute.
_THROUGH_SIGNAL = ("rise",)


@dataclass(frozen=True)
class ExplainSettings:
    """The options of one explanation run, the same for every batch (validated).

    Attributes
    ----------
    method : str
        Attribution method (:func:`~saliency2signal.saliency.attribute`).
    keep_mass : float
        Fraction of the positive attribution mass the mask keeps, in ``(0, 1]``.
    max_regions : int
        Most regions per signal (>= 1).
    min_share : float
        Smallest share of the positive attribution mass a region keeps, in ``[0, 1)``.
    deletion, interference : bool
        Measure the effect of deleting each region; flag synchrosqueezing interference.
    n_steps : int
        Integration steps for ``'integrated_gradients'`` (>= 1).
    batch_size : int
        Signals per transform of the deletion test (>= 1).
    mask_options, attribute_options : mapping or None
        Extra arguments of :func:`~saliency2signal.mask.attribution_mask` and of
        :func:`~saliency2signal.saliency.attribute`.
    n_null : int
        Matched random regions per region of each signal's verdict (>= 0; 0 or
        ``deletion=False``: no verdict).
    seed : int
        Seed of the null draws; signal ``i`` of the run draws from ``[seed, i]``, so a
        verdict does not depend on the batch it was in.
    reference : str
        What the explanation is relative to: ``'zero'`` (nothing: silence as the
        attribution baseline, deletion removes a region's component), else reference
        signals passed to :func:`explain_batch` (``'mean'``: the mean of the explained
        signals; ``'class_means'``: the foil class's mean training signal; ``'given'``).
    task : {'classification', 'regression'}
        What is explained and deleted: the target class's softmax probability, or the
        target output's value.
    """

    method: str = "integrated_gradients"
    keep_mass: float = 0.8
    max_regions: int = 5
    min_share: float = 0.02
    deletion: bool = True
    interference: bool = False
    n_steps: int = 32
    batch_size: int = 16
    mask_options: Mapping | None = None
    attribute_options: Mapping | None = None
    n_null: int = 20
    seed: int = 0
    reference: str = "zero"
    peaks: bool = True
    task: str = "classification"

    def __post_init__(self):
        checked = {
            "keep_mass": check_real(self.keep_mass, "keep_mass", low=0, high=1, low_open=True),
            "min_share": check_real(self.min_share, "min_share", low=0, high=1, high_open=True),
            "max_regions": check_int(self.max_regions, "max_regions", minimum=1),
            "batch_size": check_int(self.batch_size, "batch_size", minimum=1),
            "n_steps": check_int(self.n_steps, "n_steps", minimum=1),
            "deletion": check_bool(self.deletion, "deletion"),
            "interference": check_bool(self.interference, "interference"),
            "n_null": check_int(self.n_null, "n_null", minimum=0),
            "seed": check_int(self.seed, "seed", minimum=0),
            "reference": check_choice(self.reference, REFERENCES, "reference"),
            "peaks": check_bool(self.peaks, "peaks"),
            "task": check_choice(self.task, TASKS, "task"),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def attribute_kwargs(self) -> dict:
        """Extra arguments of ``attribute``: the given ones, plus ``n_steps`` for IG."""
        kwargs = dict(self.attribute_options or {})
        if self.method == "integrated_gradients":
            kwargs.setdefault("n_steps", self.n_steps)
        return kwargs

    def record(self) -> dict:
        """Return the ``settings`` of the report (JSON-compatible)."""
        return {
            "keep_mass": self.keep_mass,
            "max_regions": self.max_regions,
            "min_share": self.min_share,
            "deletion": self.deletion,
            "interference": self.interference,
            "n_steps": self.n_steps,
            "n_null": self.n_null,
            "seed": self.seed,
            "reference": self.reference,
            "peaks": self.peaks,
            "mask_options": json.loads(json.dumps(dict(self.mask_options or {}), default=str)),
        }


@dataclass(frozen=True, eq=False)
class BatchResult:
    """What :func:`explain_batch` found for ``b`` signals (NumPy arrays on the CPU).

    Attributes
    ----------
    regions : tuple of tuple of RegionEffect
        ``regions[i][k]``: region ``k + 1`` of signal ``i``.
    attribution : numpy.ndarray, shape (b, F, N)
    labels : numpy.ndarray of unsigned int (:func:`label_dtype`), shape (b, F, N)
    components : numpy.ndarray, shape (b, max_regions, N)
    Tx : numpy.ndarray of complex, shape (b, F, N)
    lowpass : numpy.ndarray, shape (b, N)
    probabilities : numpy.ndarray or None, shape (b, K)
        ``None`` for a mapped attribution without a model.
    target : numpy.ndarray of int, shape (b,)
    convergence_delta : numpy.ndarray or None, shape (b,)
    energy : dict of str to numpy.ndarray
        ``components`` (b, max_regions) and the other fractions (b,).
    unseen_lowpass, unseen_residual : numpy.ndarray, shape (b,)
    verdicts : tuple of Verdict
        One per signal; empty when not measured.
    contrasts : numpy.ndarray or None, shape (b, max_regions, N)
        With a reference: each region's masked inverse of ``Tx(x) - Tx(r)``.
    references : numpy.ndarray or None, shape (b, N)
        The reference signal of each signal.
    attribution_cost : (int, int) or None
        The attribution's model calls and the images in them (``None`` for a given
        attribution).
    """

    regions: tuple
    attribution: np.ndarray
    labels: np.ndarray
    components: np.ndarray
    Tx: np.ndarray
    lowpass: np.ndarray
    probabilities: np.ndarray | None
    target: np.ndarray
    convergence_delta: np.ndarray | None
    energy: dict
    unseen_lowpass: np.ndarray
    unseen_residual: np.ndarray
    verdicts: tuple = ()
    contrasts: np.ndarray | None = None
    references: np.ndarray | None = None
    attribution_cost: tuple[int, int] | None = None

    @property
    def n_regions(self) -> int:
        """Most regions of any signal of the batch."""
        return max((len(r) for r in self.regions), default=0)


@dataclass(frozen=True, eq=False)
class AxisInfo:
    """The x axis of a run: one value per sample (as the model saw them), name, units."""

    values: np.ndarray
    name: str = "sample"
    units: str = "samples"


def explain_batch(
    model: torch.nn.Module,
    x: torch.Tensor,
    *,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    settings: ExplainSettings,
    ssq: SSQResult | None = None,
    target: torch.Tensor | None = None,
    axis: np.ndarray | None = None,
    forward_model: torch.nn.Module | None = None,
    device: torch.device | str = "cpu",
    indices=None,
    reference: torch.Tensor | None = None,
    axis_units: str = "samples",
    attribution: torch.Tensor | None = None,
    regions: np.ndarray | None = None,
) -> BatchResult:
    """Explain one prepared batch of signals.

    Parameters
    ----------
    model : torch.nn.Module or None
        Image classifier ``(B, C, H, W) -> (B, K)``. ``None`` only with a given
        ``attribution`` and ``settings.deletion`` false: regions and components
        without probabilities.
    x : torch.Tensor, shape (b, N)
        Finite real signals of the model's length, on ``device``, in the run's dtype.
    transform_config : SSQConfig
    imaging_config : ImagingConfig
    settings : ExplainSettings
    ssq : SSQResult, optional
        ``ssq_cwt(x, transform_config)`` when the caller already has it.
    target : torch.Tensor of int, shape (b,), optional
        Class to explain per signal; default the predicted class.
    axis : numpy.ndarray, shape (N,), optional
        x value of each sample, for the regions' ``x_range`` (default: samples).
    forward_model : torch.nn.Module, optional
        The model of the deletion test's forward passes (default ``model``), e.g.
        :func:`saliency2signal._runtime.inference_model`.
    device : str or torch.device
    indices : array_like of int, shape (b,), optional
        Index of each signal in the run (default ``0 .. b-1``): seeds its null draws.
    reference : torch.Tensor, shape (b, N) or (N,), optional
        Reference signals of the verdict's deletion test (``settings.reference`` not
        ``'zero'``).
    axis_units : str
        Units of ``axis``, for the regions' band descriptions.
    attribution : torch.Tensor, shape (b, F, N), optional
        A finished attribution on the transform's grid (heatmaps mapped back, see
        :func:`~saliency2signal.explanation.map_heatmaps`): used instead of running
        ``settings.method``; ``target`` is the class it explains (default: the
        predicted class; 0 without a model).
    regions : numpy.ndarray of int, shape (b, F, N), optional
        Label images of regions drawn elsewhere (:func:`saliency2signal.drawing.load_mask`)
        used instead of thresholding the attribution: each label is one region, in its
        order; the attribution gives their shares.

    Returns
    -------
    BatchResult
    """
    tcfg = transform_config
    if settings.reference != "zero" and reference is None:
        raise ValueError(f"reference={settings.reference!r} needs the reference signals")
    if ssq is None:
        with torch.no_grad():
            ssq = ssq_cwt(x, tcfg)
    ref_tx = None
    kwargs = settings.attribute_kwargs()
    if reference is not None:
        reference = reference.expand_as(x)
        with torch.no_grad():
            ref_tx = ssq_cwt(reference, tcfg).Tx
        if settings.method in _PER_SIGNAL_BASELINES and "baselines" not in kwargs:
            kwargs["baselines"] = ref_tx.abs()
        elif settings.method in _THROUGH_SIGNAL and "reference_coefficients" not in kwargs:
            # perturbation through the signal: a removed part is replaced by r's
            kwargs["reference_coefficients"] = ref_tx
    if attribution is not None:
        res = _given_attribution(
            model,
            x,
            attribution,
            target,
            ssq=ssq,
            imaging_config=imaging_config,
            settings=settings,
        )
    else:
        res = attribute(
            model,
            x,
            transform_config=tcfg,
            imaging_config=imaging_config,
            method=settings.method,
            target=target,
            device=device,
            result=ssq,
            task=settings.task,
            **kwargs,
        )
    if regions is None:
        am = attribution_mask(
            res.attribution,
            tcfg,
            value=settings.keep_mass,
            max_regions=settings.max_regions,
            axis=axis,
            min_share=settings.min_share,
            coefficients=ssq.Tx,
            **dict(settings.mask_options or {}),
        )
    else:
        sign = dict(settings.mask_options or {}).get("sign", "positive")
        am = label_regions(
            np.asarray(regions),
            tcfg,
            attribution=signed_attribution(to_numpy(res.attribution), sign=sign),
            coefficients=ssq.Tx,
            axis=axis,
            max_regions=settings.max_regions,
        )
    labels = torch.from_numpy(np.array(am.labels, dtype=np.int64)).to(device)
    book = decompose_regions(x, tcfg, masks=labels, result=ssq, n_regions=settings.max_regions)
    fractions = book.energy_fractions()
    unseen = decompose(x, tcfg, result=ssq).energy_fractions()
    comps = book.components  # == inverse.components(ssq, masks=labels), computed once
    contrasts = None
    if ref_tx is not None:
        # what each region holds that the reference does not: deleting it imputes r
        with torch.no_grad():
            contrasts = components(
                ssq.Tx - ref_tx, tcfg, masks=labels, n_regions=settings.max_regions
            ).to(x.dtype)
    p_after: list[list[float | None]] = [[None] * len(r) for r in am.regions]
    if settings.deletion:
        p_after = _deletion(
            model if forward_model is None else forward_model,
            x,
            comps if contrasts is None else contrasts,
            am.regions,
            res.target,
            transform_config=tcfg,
            imaging_config=imaging_config,
            batch_size=settings.batch_size,
            task=settings.task,
        )
    found = ()
    if settings.deletion and settings.n_null:
        found = _verdicts(
            model if forward_model is None else forward_model,
            x,
            ssq,
            np.asarray(am.labels),
            np.array([len(r) for r in am.regions]),
            res,
            settings=settings,
            transform_config=tcfg,
            imaging_config=imaging_config,
            indices=np.arange(x.shape[0]) if indices is None else np.asarray(indices),
            reference=reference,
        )
    flags = _interference(x, tcfg, am.labels) if settings.interference else {}
    p_before = (
        torch.full(res.target.shape, float("nan"))
        if res.probabilities is None
        else res.probabilities.gather(1, res.target.reshape(-1, 1))[:, 0]
    )
    bands: list[list[dict | None]] = [[None] * len(r) for r in am.regions]
    if settings.deletion and settings.peaks:
        bands = read_bands(
            model if forward_model is None else forward_model,
            x,
            am.regions,
            to_numpy(comps),
            to_numpy(res.target),
            to_numpy(p_before),
            axis=np.arange(x.shape[-1], dtype=np.float64) if axis is None else axis,
            units="samples" if axis is None else axis_units,
            transform_config=tcfg,
            imaging_config=imaging_config,
            batch_size=settings.batch_size,
            reference=None if reference is None else to_numpy(reference).astype(np.float64),
            task=settings.task,
        )
    regions = tuple(
        tuple(
            _effect(
                reg,
                float(fractions["components"][i, k]),
                float(p_before[i]),
                p_after[i][k],
                flags.get((i, reg.label)),
                bands[i][k],
            )
            for k, reg in enumerate(rs)
        )
        for i, rs in enumerate(am.regions)
    )
    return BatchResult(
        regions=regions,
        attribution=to_numpy(res.attribution),
        labels=np.asarray(am.labels).astype(label_dtype(settings.max_regions), copy=False),
        components=to_numpy(comps),
        contrasts=None if contrasts is None else to_numpy(contrasts),
        references=None if reference is None else to_numpy(reference),
        Tx=to_numpy(ssq.Tx),
        lowpass=to_numpy(ssq.lowpass),
        probabilities=None if res.probabilities is None else to_numpy(res.probabilities),
        target=to_numpy(res.target),
        convergence_delta=None
        if res.convergence_delta is None
        else to_numpy(res.convergence_delta),
        energy={key: to_numpy(v) for key, v in fractions.items()},
        unseen_lowpass=to_numpy(unseen["lowpass"]),
        unseen_residual=to_numpy(unseen["residual"]),
        verdicts=found,
        attribution_cost=_cost_of(res),
    )


def label_dtype(max_regions: int) -> np.dtype:
    """Return the smallest unsigned integer type of label images with ``max_regions`` labels.

    Label images are (B, F, N), as large as the transform: uint8 for up to 255 regions
    is an eighth of int64 (the inverse functions accept any integer labels).
    """
    return np.min_scalar_type(int(max_regions))


def transform_group(xt: torch.Tensor, settings: ExplainSettings, tcfg: SSQConfig) -> int:
    """Signals per transform call of a run: whole batches, as many as fit the budget."""
    n = int(xt.shape[-1])
    return group_size(settings.batch_size, 2 * tcfg.n_freqs(n) * n * 2 * xt.element_size())


def run_batches(
    model,
    xt: torch.Tensor,
    *,
    targets: np.ndarray | None,
    settings: ExplainSettings,
    transform_config: SSQConfig,
    imaging_config,
    axis: np.ndarray | None,
    forward_model: torch.nn.Module | None,
    device: torch.device,
    progress=None,
    reference: torch.Tensor | None = None,
    axis_units: str = "samples",
    first: SSQResult | None = None,
    group: int | None = None,
    attribution: torch.Tensor | None = None,
    first_index: int = 0,
    regions: np.ndarray | None = None,
) -> list[BatchResult]:
    """Explain prepared signals ``xt`` batch by batch with :func:`explain_batch`.

    The transforms of ``group`` signals (default :func:`transform_group`) are made in one
    call ahead of their batches' torch work; ``first`` is the first group's when the
    caller already has it. ``targets`` holds one class per signal (``None``: each
    signal's predicted class); ``attribution`` ``(B, F, N)`` a finished attribution to
    use instead of ``settings.method``; ``regions`` ``(B, F, N)`` label images to use
    instead of the attribution's mask; ``progress(done, total)`` after each batch;
    ``first_index`` the index of ``xt[0]`` in a larger run (a chunk of a streamed one):
    signal ``i`` of ``xt`` seeds its null draws as signal ``first_index + i``.
    """
    n_b, bs = int(xt.shape[0]), settings.batch_size
    group = transform_group(xt, settings, transform_config) if group is None else group
    ssq_group = first
    results = []
    for s in range(0, n_b, bs):
        if ssq_group is None or (s and s % group == 0):
            with torch.no_grad():
                ssq_group = ssq_cwt(xt[s : s + group], transform_config)
        xb = xt[s : s + bs]
        # the batch's slice of the group's transform: the attribution, the regions'
        # energies, the components and the energy book-keeping all read it
        a, b = s % group, s % group + xb.shape[0]
        ssq = dataclasses.replace(
            ssq_group, Tx=ssq_group.Tx[a:b], Wx=ssq_group.Wx[a:b], lowpass=ssq_group.lowpass[a:b]
        )
        results.append(
            explain_batch(
                model,
                xb,
                transform_config=transform_config,
                imaging_config=imaging_config,
                settings=settings,
                ssq=ssq,
                target=None if targets is None else torch.as_tensor(targets[s : s + bs]),
                axis=axis,
                forward_model=forward_model,
                device=device,
                indices=np.arange(first_index + s, first_index + s + xb.shape[0]),
                reference=None if reference is None else reference[s : s + bs],
                axis_units=axis_units,
                attribution=None
                if attribution is None
                else attribution[s : s + bs].to(device=device, dtype=xt.dtype),
                regions=None if regions is None else regions[s : s + bs],
            )
        )
        if progress is not None:
            progress(min(s + bs, n_b), n_b)
    return results


def _cost_of(res) -> tuple[int, int] | None:
    """Return the attribution's model calls and images, when the result counted them."""
    calls, images = getattr(res, "model_calls", None), getattr(res, "model_images", None)
    return None if calls is None or images is None else (int(calls), int(images))


def _given_attribution(
    model,
    x: torch.Tensor,
    attribution: torch.Tensor,
    target: torch.Tensor | None,
    *,
    ssq: SSQResult,
    imaging_config,
    settings: ExplainSettings,
) -> SimpleNamespace:
    """Return what ``attribute`` would, for an attribution made elsewhere.

    With a model: its probabilities (or outputs) for ``x`` and, without a target, the
    predicted class; without one: no probabilities and the given target (default 0).
    """
    if model is None:
        if settings.deletion:
            raise ValueError("deletion checks need a model; pass deletion=False without one")
        probs = None
        tgt = torch.zeros(x.shape[0], dtype=torch.long) if target is None else target
    else:
        # the batch's transform is at hand: one forward pass, no second transform
        with eval_mode(model), torch.no_grad():
            image = as_model_input(to_image(ssq.Tx, imaging_config), model)
            probs = output_of(settings.task)(model(image)).to(x.device)
        if target is not None:
            tgt = target
        elif settings.task == "regression":
            tgt = torch.zeros(x.shape[0], dtype=torch.long)
        else:
            tgt = probs.argmax(-1)
    return SimpleNamespace(
        attribution=attribution,
        target=torch.as_tensor(tgt, dtype=torch.long).reshape(-1).to(x.device),
        probabilities=probs,
        convergence_delta=None,
    )


def _verdicts(
    model,
    x,
    ssq,
    labels: np.ndarray,
    n_regions: np.ndarray,
    res,
    *,
    settings: ExplainSettings,
    transform_config,
    imaging_config,
    indices: np.ndarray,
    reference,
) -> tuple[Verdict, ...]:
    """Each signal's deletion curve against its matched null, as verdicts."""
    batch = SimpleNamespace(
        signals=to_numpy(x),
        Tx=to_numpy(ssq.Tx),
        target=to_numpy(res.target),
        probabilities=to_numpy(res.probabilities),
        transform_config=transform_config,
        imaging_config=imaging_config,
        task=settings.task,
    )
    curves = measure_curves(
        model,
        batch,
        labels,
        n_regions,
        CurveSettings(n_null=settings.n_null, lerf=False),
        rng=[np.random.default_rng([settings.seed, int(i)]) for i in indices],
        batch_size=8 * settings.batch_size,
        device=x.device,
        forward_model=model,
        references=None if reference is None else to_numpy(reference),
    )
    p_target = batch.probabilities[np.arange(len(indices)), batch.target]
    scores = curve_scores(curves, p_target, n_regions)
    return verdicts(scores, n_regions, n_null=settings.n_null, reference=settings.reference)


def _deletion(
    model,
    x,
    comps,
    regions: Sequence[Sequence[Region]],
    target,
    *,
    transform_config,
    imaging_config,
    batch_size,
    task: str = "classification",
) -> list[list[float | None]]:
    """Probability of the target class for each signal minus each of its components.

    One forward pass over all regions of the batch, as long as their images fit in
    ``_runtime.FORWARD_BYTES`` (a batch of large images is passed in several); ``None``
    for no region.
    """
    pairs = [(i, k) for i, rs in enumerate(regions) for k in range(len(rs))]
    out: list[list[float | None]] = [[None] * len(r) for r in regions]
    if not pairs:
        return out
    n = int(x.shape[-1])
    one_image = image_bytes(imaging_config, transform_config.n_freqs(n), n)
    forward_batch = count_within(FORWARD_BYTES, one_image, len(pairs))
    minus = torch.stack([x[i] - comps[i, k].to(x.dtype) for i, k in pairs])
    p = probabilities(
        model,
        minus,
        transform_config=transform_config,
        imaging_config=imaging_config,
        batch_size=batch_size,
        forward_batch=forward_batch,
        task=task,
    )
    for j, (i, k) in enumerate(pairs):
        out[i][k] = float(p[j, int(target[i])])
    return out


def _interference(x, tcfg, labels) -> dict[tuple[int, int], dict]:
    """Interference flags by ``(signal, region label)``."""
    from ..artefacts import detect_interference, flag_regions

    flags = flag_regions(labels, detect_interference(x, tcfg))
    return {
        (f["index"][0], f["label"]): {
            "flagged": f["flagged"],
            "overlap_fraction": f["overlap_fraction"],
            "message": f["message"],
        }
        for f in flags
    }


def _effect(
    region: Region,
    energy: float,
    p_before: float,
    p_after: float | None,
    flag: dict | None,
    peak: dict | None,
) -> RegionEffect:
    return RegionEffect(
        peak=peak,
        region=region,
        component_energy=energy,
        p_before=p_before if p_after is not None else None,
        p_after=p_after,
        drop=None if p_after is None else p_before - p_after,
        interference=flag,
    )


#: The per-signal arrays of a BatchResult that :func:`assemble` concatenates.
_BATCH_ARRAYS = (
    "attribution",
    "labels",
    "components",
    "Tx",
    "lowpass",
    "probabilities",
    "target",
    "unseen_lowpass",
    "unseen_residual",
    "contrasts",
    "references",
)


def assemble(
    batches: Sequence[BatchResult],
    *,
    signals: np.ndarray,
    settings: ExplainSettings,
    axis: AxisInfo,
    class_names: Sequence[str],
    target_mode: str,
    given_labels: np.ndarray | None,
    transform_config: SSQConfig,
    imaging_config: ImagingConfig,
    original_n_times: int,
    length_policy: str | None,
    output_units: Sequence[str] = (),
    foils: np.ndarray | None = None,
) -> Explanation:
    """Concatenate the batches' results (in signal order) into one read-only Explanation.

    A list of batches is emptied (its arrays are released as they are concatenated).
    The region axis of ``components`` and ``energy['components']`` is cut to the most
    regions of any signal.
    """
    r_max = max((b.n_regions for b in batches), default=0)
    energy = {
        key: readonly(np.concatenate([b.energy[key] for b in batches]))
        for key in batches[0].energy
    }
    energy["components"] = readonly(energy["components"][:, :r_max])
    deltas = [b.convergence_delta for b in batches if b.convergence_delta is not None]
    regions = tuple(r for b in batches for r in b.regions)
    verdicts = tuple(v for b in batches for v in b.verdicts) or None
    cost = _cost_record(batches, int(signals.shape[0]))
    # Each field's per-batch arrays are dropped once concatenated, and a given list is
    # emptied: the peak is the result plus one field's parts, not twice every field
    # (Tx, attribution and labels are each (B, F, N)).
    parts = {
        name: [getattr(b, name) for b in batches]
        for name in _BATCH_ARRAYS
        if getattr(batches[0], name) is not None
    }
    if isinstance(batches, list):
        batches.clear()
    del batches

    def cat(name: str) -> np.ndarray | None:
        arrays = parts.pop(name, None)
        if arrays is None:
            return None
        out = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        arrays.clear()
        return out

    probs = cat("probabilities")
    target = cat("target")
    contrasts = cat("contrasts")
    references = cat("references")
    return Explanation(
        signals=readonly(signals),
        components=readonly(cat("components")[:, :r_max]),
        regions=regions,
        attribution=readonly(cat("attribution")),
        labels=readonly(cat("labels")),
        Tx=readonly(cat("Tx")),
        lowpass=readonly(cat("lowpass")),
        probabilities=None if probs is None else readonly(probs),
        predictions=_predictions(probs, target, settings.task),
        target=readonly(target.astype(np.int64)),
        given_labels=None if given_labels is None else readonly(given_labels),
        energy=energy,
        unseen_lowpass=readonly(cat("unseen_lowpass")),
        unseen_residual=readonly(cat("unseen_residual")),
        convergence_delta=readonly(np.concatenate(deltas)) if deltas else None,
        axis=readonly(np.asarray(axis.values, dtype=np.float64)),
        axis_name=axis.name,
        axis_units=axis.units,
        class_names=tuple(class_names),
        method=settings.method,
        target_mode=target_mode,
        transform_config=transform_config,
        imaging_config=imaging_config,
        original_n_times=original_n_times,
        length_policy=length_policy,
        settings={**settings.record(), **cost},
        verdicts=verdicts,
        contrasts=None if contrasts is None else readonly(contrasts[:, :r_max]),
        references=None if references is None else readonly(references),
        foils=None if foils is None else readonly(np.asarray(foils, dtype=np.int64)),
        task=settings.task,
        output_units=tuple(output_units),
    )


def _predictions(probs: np.ndarray | None, target: np.ndarray, task: str) -> np.ndarray | None:
    """Arg-max classes; a regression's explained outputs; ``None`` without a model."""
    if probs is None:
        return None
    # a regression has no predicted class: its "prediction" is the explained output
    return readonly((probs.argmax(-1) if task == "classification" else target).astype(np.int64))


def _cost_record(batches: Sequence[BatchResult], n_signals: int) -> dict:
    """``{'cost': ...}``: the attribution's model calls and images, in total and per signal."""
    costs = [b.attribution_cost for b in batches]
    if not costs or any(c is None for c in costs):
        return {}
    calls, images = sum(c[0] for c in costs), sum(c[1] for c in costs)
    return {
        "cost": {
            "attribution_model_calls": calls,
            "attribution_model_images": images,
            "attribution_images_per_signal": images / max(n_signals, 1),
        }
    }
