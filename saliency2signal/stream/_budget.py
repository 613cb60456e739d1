"""Memory plans of a streamed run: signals per chunk and batch size from a byte budget.

A streamed run calls :func:`~saliency2signal.explain` once per chunk of signals. Its
resident memory is the process's baseline (interpreter, torch, the model), the results
of the chunk held until they are written, and the working memory of one batch. This
module models each in bytes, from the transform's grid and the run's options, and
chooses the largest batch and chunk whose estimated peak stays under a budget.

- :func:`parse_memory`: ``"2GB"``, ``"512 MiB"``, ``"2e9"`` -> bytes.
- :func:`plan_memory`: the :class:`MemoryPlan` of a run for a budget, refused (with the
  smallest workable budget) when one signal per batch does not fit.

Internal: the public names are re-exported by :mod:`saliency2signal.stream`.
May import: ``_runtime``, ``_validation``, ``transform``, ``imaging``; never
``explanation`` (the plan is made before any memory of a run is allocated).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .._runtime import FORWARD_BYTES, GROUP_BYTES, WORK_BYTES, image_bytes
from .._validation import check_int
from ..transform import SSQConfig

__all__ = ["MemoryPlan", "parse_memory", "plan_memory"]

#: Grid-sized float tensors per path point of a gradient attribution: the points, their
#: gradient and what the imaging saves for the backward pass (measured: ~3.4 with a
#: log1p scale and no antialiasing, the Coffee recipe; ~6 with the default imaging's
#: antialiased resize).
_GRADIENT_COPIES = 8
#: Working memory of a transform call per byte of the coefficients it returns
#: (measured: ~1.1-1.3 for ``Tx`` alone, ~2 with ``Wx``, which is counted apart).
_TRANSFORM_FACTOR = 1.5
#: Bytes of a network's activations per byte of its input image: saved for the
#: backward pass of a gradient method (the bundled CNN: ~88), alive at once in a
#: forward-only pass (~32).
_BACKWARD_ACTIVATIONS = 96
_FORWARD_ACTIVATIONS = 48
#: Relative margin on the whole estimate (allocator slack, fragmentation).
_MARGIN = 1.10
#: Default baseline without a measurement: interpreter, numpy, torch, this package
#: (~545 MiB measured on CPU with torch 2.x) plus headroom for the runner's writers.
_BASELINE = 640 * 2**20
#: Methods with one gradient pass per signal; the others are modelled as ``n_steps``.
_ONE_PASS = ("saliency", "input_x_gradient", "guided_backprop", "deconvolution")

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


@dataclass(frozen=True)
class MemoryPlan:
    """How a streamed run fits a memory budget (all sizes in bytes).

    Attributes
    ----------
    budget : int
        Peak resident memory allowed for the whole process.
    signals_per_chunk : int
        Signals per call of :func:`~saliency2signal.explain`.
    batch_size : int
        Its ``batch_size=``.
    estimated_peak : int
        The model's estimate of the peak for a full chunk (margin included).
    per_signal_held : int
        Bytes held per signal of a chunk (its results, and their copy when the
        batches are assembled).
    per_batch_transient : int
        Working memory of one batch.
    baseline : int
        Interpreter, torch and the model.
    """

    budget: int
    signals_per_chunk: int
    batch_size: int
    estimated_peak: int
    per_signal_held: int
    per_batch_transient: int
    baseline: int

    def describe(self) -> str:
        """One line for the command line.

        Examples
        --------
        >>> MemoryPlan(2 * 10**9, 64, 8, 16 * 10**8, 10**7, 3 * 10**8, 6 * 10**8).describe()
        '2.0 GB budget: 64 signals per chunk, batch 8 (estimated peak 1.6 GB)'
        """
        return (
            f"{_gb(self.budget)} budget: {self.signals_per_chunk} signal"
            f"{'' if self.signals_per_chunk == 1 else 's'} per chunk, "
            f"batch {self.batch_size} (estimated peak {_gb(self.estimated_peak)})"
        )


def parse_memory(text: str) -> int:
    """Return the bytes of a memory size written as text.

    Decimal units (``B``, ``KB``, ``MB``, ``GB``, ``TB``, or just ``K``, ``M``, ``G``,
    ``T``) and binary ones (``KiB``, ``MiB``, ``GiB``, ``TiB``), any case, with or
    without a space; a plain number is bytes.

    Parameters
    ----------
    text : str

    Returns
    -------
    int
        Bytes (rounded down), > 0.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        If it is not a positive size with a known unit.

    Examples
    --------
    >>> parse_memory("2GB"), parse_memory("512 MB"), parse_memory("1.5GiB"), parse_memory("2e9")
    (2000000000, 512000000, 1610612736, 2000000000)
    """
    if not isinstance(text, str):
        raise TypeError(f"memory={text!r} must be a string such as '2GB'")
    match = _MEMORY.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"memory={text!r} is not a size; write e.g. '2GB', '512MB', '1.5GiB' or '2e9'"
        )
    value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or int(value) < 1:
        raise ValueError(f"memory={text!r} must be at least one byte")
    return int(value)


def _itemsize(transform_config: SSQConfig) -> int:
    """Bytes of a real value of the run (float64 only when the transform says so)."""
    return 8 if transform_config.dtype == "float64" else 4


def plan_memory(
    *,
    n_times: int,
    transform_config: SSQConfig,
    imaging_config,
    method: str,
    n_steps: int,
    n_null: int,
    max_regions: int,
    budget: int,
    model_bytes: int = 0,
    baseline: int | None = None,
    max_batch: int = 16,
    max_chunk: int = 256,
) -> MemoryPlan:
    """Choose signals per chunk and ``batch_size`` so that a chunk's peak fits a budget.

    Parameters
    ----------
    n_times : int
        Length of the signals as the model sees them (``N``).
    transform_config : SSQConfig
    imaging_config : ImagingConfig or ImagingSteps
    method : str
        Attribution method of the run.
    n_steps : int
        Integration steps (``'integrated_gradients'``; the path points of any other
        multi-pass method).
    n_null : int
        Matched random regions per region of the verdicts (0: no verdicts).
    max_regions : int
    budget : int
        Bytes of resident memory allowed for the whole process.
    model_bytes : int
        Bytes of the model's parameters and buffers.
    baseline : int, optional
        Resident bytes before the run (interpreter, torch, model): measure it with
        ``psutil.Process().memory_info().rss`` where possible. Default: 640 MiB plus
        three times ``model_bytes`` (the model, its inference copy, a spare).
    max_batch, max_chunk : int
        Largest batch and chunk considered.

    Returns
    -------
    MemoryPlan

    Raises
    ------
    ValueError
        If even one signal per batch and per chunk does not fit in ``budget``: the
        message names the budget and the smallest workable one.

    Notes
    -----
    With ``F = transform_config.n_freqs(N)``, the grid ``G = F * N`` cells, ``s`` the
    bytes of a real value (4; 8 for a float64 transform), ``c = 2 s`` of a complex one,
    ``R = max_regions`` and ``P = n_steps`` (1 for single-gradient methods):

    * held per signal, ``h = 2 (G (c + s + 8) + 2 R N 8 + 4 N 8)``: ``Tx``, the
      attribution, the int64 labels, the components (and contrasts), twice while the
      batches are concatenated into the Explanation;
    * a batch of ``b`` signals holds ``max(B, 2 c G b)`` of transforms (``Tx`` and
      ``Wx`` of its group, ``B = _runtime.GROUP_BYTES``) and ``(2 s + 16) G b``
      (magnitude, attribution, labels);
    * on top of that, the larger of its attribution, ``P b (8 G s + 96 I)`` (path
      points, their gradients and the imaging's saved tensors, measured ~3.4 to ~6
      grids per point depending on the imaging; the network's saved activations for
      an image of ``I`` bytes, ~88 I for the bundled CNN), and its forward-only
      passes, ``1.5 W + 48 M`` (the deletion's, the bands' and the verdicts'
      transforms, bounded to ``W = _runtime.WORK_BYTES`` in ``forward``; activations
      of ``M = min(_runtime.FORWARD_BYTES, max(8, R) b I)`` of images) plus, with
      verdicts (``n_null > 0``), ``W`` (a bounded stack of masked grids in
      ``faithfulness``), ``2 (n_null + 2) R G`` of boolean mask stacks and ``48 G``
      of float64 copies;
    * the peak is ``1.1 (baseline + k h + T(b))`` for a chunk of ``k`` signals.

    The batch is the largest ``b <= max_batch`` whose ``T(b)`` takes at most half of
    what the budget leaves after the baseline; the chunk fills what is left once
    ``min(T(max_batch), half)`` (at least ``T(b)``) is reserved, so that both grow
    with the budget. The
    constants were measured by sampling the resident memory of ``explain`` stage by
    stage on 1841-point spectra (``benchmarks/bench_memory.py``).

    Examples
    --------
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> plan = plan_memory(n_times=1841, transform_config=SSQConfig(nv=32),
    ...                    imaging_config=ImagingConfig(size=(64, 64)),
    ...                    method="integrated_gradients", n_steps=32, n_null=20,
    ...                    max_regions=5, budget=parse_memory("2GB"))
    >>> plan.estimated_peak <= plan.budget, plan.batch_size >= 1
    (True, True)
    """
    n = check_int(n_times, "n_times", minimum=1)
    budget = check_int(budget, "budget", minimum=1)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    n_null = check_int(n_null, "n_null", minimum=0)
    r = check_int(max_regions, "max_regions", minimum=1)
    model_bytes = check_int(model_bytes, "model_bytes", minimum=0)
    max_batch = check_int(max_batch, "max_batch", minimum=1)
    max_chunk = check_int(max_chunk, "max_chunk", minimum=1)
    if baseline is None:
        baseline = _BASELINE + 3 * model_bytes
    baseline = check_int(baseline, "baseline", minimum=0)
    if not isinstance(method, str):
        raise TypeError(f"method={method!r} must be a string")
    s = _itemsize(transform_config)
    c, g = 2 * s, transform_config.n_freqs(n) * n
    held = 2 * (g * (c + s + 8) + 2 * r * n * 8 + 4 * n * 8)
    passes = 1 if method in _ONE_PASS else n_steps
    image = image_bytes(imaging_config, transform_config.n_freqs(n), n)
    verdict = WORK_BYTES + 2 * (n_null + 2) * r * g + 48 * g if n_null else 0

    def transient(b: int) -> int:
        own = max(GROUP_BYTES, 2 * c * g * b) + (2 * s + 16) * g * b
        gradient = passes * b * (_GRADIENT_COPIES * g * s + _BACKWARD_ACTIVATIONS * image)
        # forward-only passes: a bounded transform group, a bounded batch of images
        # (8 b for the verdicts, b R for the deletion)
        images = min(FORWARD_BYTES, max(8, r) * b * image)
        forward = _TRANSFORM_FACTOR * WORK_BYTES + _FORWARD_ACTIVATIONS * images
        return int(own + max(gradient, forward + verdict))

    available = budget / _MARGIN - baseline
    smallest = math.ceil(_MARGIN * (baseline + held + transient(1)))
    if available < transient(1) + held:
        raise ValueError(
            f"budget={budget} bytes ({_gb(budget)}) is too small for {n}-point signals "
            f"with {method} ({n_steps} steps, {n_null} null draws); the smallest "
            f"workable budget is {smallest} bytes ({_gb(smallest)})"
        )
    fits = [b for b in range(1, max_batch + 1) if transient(b) <= available / 2]
    batch = max(fits, default=1)
    reserved = max(min(transient(max_batch), available / 2), transient(batch))
    chunk = max(1, min(max_chunk, int((available - reserved) // held)))
    batch = min(batch, chunk)
    peak = math.ceil(_MARGIN * (baseline + chunk * held + transient(batch)))
    return MemoryPlan(
        budget=budget,
        signals_per_chunk=chunk,
        batch_size=batch,
        estimated_peak=peak,
        per_signal_held=held,
        per_batch_transient=transient(batch),
        baseline=baseline,
    )
