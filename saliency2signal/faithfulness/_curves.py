"""Round-trip deletion and insertion curves of an explanation and of its matched null.

The explanation's regions, ranked by attribution mass, are removed from the signal one
after another (their components by the masked one-integral inverse), most relevant
first (MoRF) and least relevant first (LeRF); the model's probability of the explained
class after each step is the *deletion curve*. The *insertion curve* keeps only the
regions added so far (starting from the zero signal). In the null, draw ``d`` of
:func:`~saliency2signal.faithfulness.matched_regions` for region ``k`` replaces region
``k`` in the MoRF sequence.

With a *reference* signal ``r`` (ROAD-style imputation instead of removal), a region's
cells are not emptied but filled with the reference's: the modified signal is
``x - components(Tx(x) - Tx(r), mask)``, and insertion starts from ``r`` instead of
zero. With ``r = 0`` this is plain removal.

- :class:`CurveSettings`: the null and insertion options of a run.
- :class:`Curves`: the measured curves and how closely the null matched the energy.
- :func:`measure_curves`: all curves of one explanation, in one batched forward pass.

May import: numpy, torch, the public names of ``inverse``, ``imaging``, ``transform``
and ``forward``, ``_runtime``, ``faithfulness._null``; never a stage (``explanation``,
``evaluation``): an explanation is read through its attributes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from .._runtime import WORK_BYTES, as_model_input, count_within, inference_model
from ..forward import probabilities
from ..imaging import to_image
from ..inverse import components
from ..transform import ssq_cwt
from ._null import matched_regions

__all__ = ["CurveSettings", "Curves", "measure_curves"]


@dataclass(frozen=True)
class CurveSettings:
    """How the curves are measured.

    ``n_null`` matched random regions per region, accepted within ``energy_tolerance``
    (relative) and overlapping the region by at most ``max_overlap``; ``insertion``
    and ``null_insertion`` switch on the insertion curves and their null, ``lerf``
    the least-relevant-first deletion curve.
    """

    n_null: int
    energy_tolerance: float = 0.25
    max_overlap: float = 0.5
    insertion: bool = False
    null_insertion: bool = False
    lerf: bool = True


@dataclass(frozen=True, eq=False)
class Curves:
    """Deletion and insertion curves of ``B`` signals with at most ``R`` regions.

    Point ``k`` is the target probability after ``k`` regions are deleted (or
    inserted); points beyond a signal's own number of regions are NaN.

    Attributes
    ----------
    deletion, deletion_lerf, insertion : numpy.ndarray, shape (B, R + 1)
        MoRF deletion, LeRF deletion and MoRF insertion (NaN without insertion).
    null_deletion, null_insertion : numpy.ndarray, shape (B, n_null, R + 1)
        The same with the matched random regions (NaN without the insertion null).
    energy_match : numpy.ndarray, shape (B, R)
        Median ``|ln(E_random / E_region)|`` of each region's draws.
    """

    deletion: np.ndarray
    deletion_lerf: np.ndarray
    insertion: np.ndarray
    null_deletion: np.ndarray
    null_insertion: np.ndarray
    energy_match: np.ndarray


class _Job(NamedTuple):
    """Where one modified signal's probability goes: ``curves[kind][signal, draw, step]``."""

    signal: int
    kind: str
    draw: int
    step: int


def _cumulative(masks: list[np.ndarray], shape) -> np.ndarray:
    """``out[k]``: the union of the first ``k`` masks (``out[0]`` empty)."""
    out = np.zeros((len(masks) + 1, *shape), dtype=bool)
    for k, m in enumerate(masks):
        out[k + 1] = out[k] | m
    return out


def _stacks(
    labels: np.ndarray,
    n_regions: int,
    energy: np.ndarray,
    settings: CurveSettings,
    rng: np.random.Generator,
):
    """Cumulative masks of one signal (MoRF, LeRF, each null draw); energy match per region."""
    shape = labels.shape
    regs = [labels == k + 1 for k in range(n_regions)]
    stacks = {"morf": _cumulative(regs, shape)}
    if settings.lerf:
        stacks["lerf"] = _cumulative(regs[::-1], shape)
    draws, match = [], []
    for region in regs:
        m, lr = matched_regions(
            region,
            energy,
            n=settings.n_null,
            rng=rng,
            tolerance=settings.energy_tolerance,
            max_overlap=settings.max_overlap,
        )
        draws.append(m)
        match.append(np.median(lr))
    for d in range(settings.n_null if n_regions else 0):
        stacks[("null", d)] = _cumulative([dr[d] for dr in draws], shape)[1:]
    return stacks, match


def _kinds(key, x: torch.Tensor, c: torch.Tensor, ref, settings: CurveSettings):
    """Return the curves a stack's components feed: ``(kind, modified signals)``."""
    if key == "lerf":
        return (("lerf", x - c),)
    if key == "morf":
        return (("morf", x - c),) + ((("ins", ref + c),) if settings.insertion else ())
    return (("ndel", x - c),) + ((("nins", ref + c),) if settings.null_insertion else ())


def _signal_jobs(e: Any, b: int, stacks: dict, settings: CurveSettings, ref_tx, ref):
    """Return the modified signals of signal ``b`` (one inverse) and their jobs."""
    x = torch.from_numpy(np.array(e.signals[b], dtype=np.float64))
    tx = torch.from_numpy(np.array(e.Tx[b])).to(torch.complex128)
    if ref_tx is not None:
        tx = tx - ref_tx
    big = torch.from_numpy(np.concatenate(list(stacks.values())))
    # one inverse per mask, a bounded number of masks at a time: the inverse of a stack
    # holds a masked copy of the grid per mask (``n_null`` draws x regions of them)
    step = count_within(WORK_BYTES, tx.real.element_size() * tx.shape[-2] * tx.shape[-1], len(big))
    comp = torch.cat(
        [
            components(tx, e.transform_config, masks=big[s : s + step]).to(torch.float64)
            for s in range(0, len(big), step)
        ]
    )
    jobs, signals = [], []
    pos = 0
    for key, stack in stacks.items():
        cnt = stack.shape[0]
        c = comp[pos : pos + cnt]
        pos += cnt
        first = 0 if key in ("morf", "lerf") else 1  # a null stack starts at one region
        draw = key[1] if isinstance(key, tuple) else 0
        for kind, sig in _kinds(key, x, c, ref, settings):
            for j in range(cnt):
                jobs.append(_Job(b, kind, draw, first + j))
                signals.append(sig[j])
    return jobs, signals


def _target_probabilities(
    model, e: Any, signals: list[torch.Tensor], jobs, *, batch_size: int, device, forward_model
) -> np.ndarray:
    """Probability of each job's signal's target class (forward passes only)."""
    dtype = torch.float64 if e.signals.dtype == np.float64 else torch.float32
    xs = torch.stack(signals).to(device=device, dtype=dtype)
    fwd = forward_model
    if fwd is None:
        with torch.no_grad():
            probe = to_image(torch.from_numpy(np.array(e.Tx[:1])).to(device), e.imaging_config)
            probe = as_model_input(probe, model)
        fwd = inference_model(model, probe)  # forward passes only: the optimised copy
    probs = probabilities(
        fwd,
        xs,
        transform_config=e.transform_config,
        imaging_config=e.imaging_config,
        batch_size=batch_size,
        task=getattr(e, "task", "classification"),
    )
    probs = probs.cpu().numpy()
    tgt = np.asarray(e.target)
    return np.array([float(p[int(tgt[j.signal])]) for j, p in zip(jobs, probs, strict=True)])


def measure_curves(
    model,
    e: Any,
    labels: np.ndarray,
    n_regions: np.ndarray,
    settings: CurveSettings,
    *,
    rng: np.random.Generator | Sequence[np.random.Generator],
    batch_size: int,
    device,
    forward_model=None,
    references: np.ndarray | None = None,
) -> Curves:
    """Measure the deletion and insertion curves of an explanation and of its null.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier (its inference copy runs the forward passes).
    e : Explanation or any object with its attributes
        ``signals`` (B, N), ``Tx`` (B, F, N), ``target`` (B,), ``probabilities``
        (B, K), ``transform_config`` and ``imaging_config`` as NumPy arrays and configs.
    labels : numpy.ndarray of int, shape (B, F, N)
        Region labels (region ``k`` is ``labels == k``, ranked by attribution mass).
    n_regions : numpy.ndarray of int, shape (B,)
    settings : CurveSettings
    rng : numpy.random.Generator or sequence of them
        Draws the null (signal by signal, region by region); one generator per signal
        makes each signal's null independent of the others in the batch.
    batch_size : int
        Signals per forward pass.
    device : torch.device
    forward_model : torch.nn.Module, optional
        The model of the forward passes (default: the inference copy of ``model``,
        built here).
    references : numpy.ndarray, shape (B, N) or (N,), optional
        Reference signals whose coefficients fill the deleted cells (ROAD-style
        imputation; see the module docstring). Default: removal (a zero reference).

    Returns
    -------
    Curves
    """
    n_b = labels.shape[0]
    rngs = [rng] * n_b if isinstance(rng, np.random.Generator) else list(rng)
    if len(rngs) != n_b:
        raise ValueError(f"rng has {len(rngs)} generators for {n_b} signals")
    ref_tx = ref = None
    if references is not None:
        ref = torch.from_numpy(
            np.broadcast_to(np.asarray(references, np.float64), np.shape(e.signals)).copy()
        )
        with torch.no_grad():
            ref_tx = ssq_cwt(ref, e.transform_config).Tx.to(torch.complex128)
    r_max = int(n_regions.max()) if n_b else 0
    curve = {k: np.full((n_b, r_max + 1), np.nan) for k in ("morf", "lerf", "ins")}
    null = {k: np.full((n_b, settings.n_null, r_max + 1), np.nan) for k in ("ndel", "nins")}
    match = np.full((n_b, r_max), np.nan)
    jobs, signals = [], []
    for b in range(n_b):
        r = int(n_regions[b])
        energy = np.abs(np.asarray(e.Tx[b])) ** 2
        stacks, matched = _stacks(labels[b], r, energy, settings, rngs[b])
        match[b, :r] = matched
        more_jobs, more_signals = _signal_jobs(
            e,
            b,
            stacks,
            settings,
            None if ref_tx is None else ref_tx[b],
            0.0 if ref is None else ref[b],
        )
        jobs += more_jobs
        signals += more_signals
    if signals:
        values = _target_probabilities(
            model,
            e,
            signals,
            jobs,
            batch_size=batch_size,
            device=device,
            forward_model=forward_model,
        )
        for j, v in zip(jobs, values, strict=True):
            if j.kind in null:
                null[j.kind][j.signal, j.draw, j.step] = v
            else:
                curve[j.kind][j.signal, j.step] = v
    p0 = e.probabilities[np.arange(n_b), e.target] if n_b else np.zeros(0)
    null["ndel"][:, :, 0] = p0[:, None]
    if settings.null_insertion:
        null["nins"][:, :, 0] = curve["ins"][:, :1]
    return Curves(
        deletion=curve["morf"],
        deletion_lerf=curve["lerf"],
        insertion=curve["ins"],
        null_deletion=null["ndel"],
        null_insertion=null["nins"],
        energy_match=match,
    )
