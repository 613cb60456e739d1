"""``method='rise'``: randomised masks on the time–frequency plane, through the signal.

The RISE estimator (Petsiuk et al. 2018) as FreqRISE applies it to spectral planes
(Brüsch et al. 2024), on the synchrosqueezed plane and *through the signal*: each random
smooth mask ``M`` (values in ``[0, 1]``: 1 keeps a cell, 0 removes it) removes the
masked-out part ``(2/C) Re sum_k (1 - M[k, n]) D[k, n]`` of the signal by the linear
inverse (``D = Tx``, or ``Tx - Tx(r)`` with a reference ``r``, whose content then fills
the removed part), the transform and the image of what is left are recomputed and the
model re-run. Only forward passes are needed, so a model with no gradients
(:class:`~saliency2signal.blackbox.BlackBox`) is explained as a torch model is.

Masks are RISE's: a low-resolution Bernoulli grid of ``keep_probability`` over cells of
``mask_cell = (octaves, samples)`` (rows of the plane are log-spaced in frequency),
upsampled bilinearly and shifted by a random fraction of a cell, so they are smooth at
the scale of a cell. They are drawn once per call from ``rng`` and shared by every
signal of the batch: a signal's attribution depends on that signal and the seed only,
not on the batch it is in.

The estimator is not RISE's weighted sum ``sum_j s_j M_j / sum_j M_j`` (whose every
cell carries the mean score, so that all of it is positive), but the per-cell
regression slope of the target's score on the mask value,

``a[k, n] = Cov_j(s_j, M_j[k, n]) / Var_j(M_j[k, n])``,

the difference of the mean score with the cell kept and with it removed for binary
masks: the mean score drops out (a control variate), leaving each cell's effect with a
sign. Two more variance reductions: the share of the plane a mask keeps is partialled
out of every cell's regression (masks that keep much score differently from masks that
keep little, whichever cells they keep), and each slope is soft-thresholded at
:data:`THRESHOLD_SE` standard errors of its no-effect spread, ``sqrt(Var(s) / (n
Var(M)))``, so that cells whose removal does not change the score get 0 rather than
noise (the mask of an explanation takes a share of the *positive* mass; unshrunk
noise spreads it over the whole plane). At ``keep_probability=0.5`` masks come in
complementary pairs (``M`` and ``1 - M``, antithetic sampling), which balances every
cell's mean exactly.

Internal to ``saliency``: plain names for its sibling modules, not public API.
May import: numpy, torch, ``saliency2signal._validation``, ``inverse``, ``._methods``,
``._options``, ``._through``; never ``._registry`` or ``._core`` (they import this).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as nnf

from .._validation import check_int, check_real, check_rng
from ..inverse import components
from ._methods import Attribution, Batch
from ._options import window
from ._through import contrast, scores

__all__ = [
    "KEEP_PROBABILITY",
    "MASKS_PER_CALL",
    "N_MASKS",
    "THRESHOLD_SE",
    "mask_cell_default",
    "rise",
]

#: Default number of random masks per signal (forward passes of the model per signal).
N_MASKS = 64
#: Default probability that a cell of the low-resolution grid is kept.
KEEP_PROBABILITY = 0.5
#: Default number of masked signals per model call (``internal_batch_size``).
MASKS_PER_CALL = 128
#: A cell's slope is shrunk towards 0 by this many standard errors (soft threshold).
THRESHOLD_SE = 3.0


def mask_cell_default(n_times: int) -> tuple[float, float]:
    """Default mask cell ``(octaves, samples)``: one octave by ``n_times / 16`` samples."""
    return (1.0, n_times / 16)


class _Draws:
    """The masks of one call: a low-resolution grid per mask and its random shift.

    Only the grids ``(n, h + 1, w + 1)`` and shifts are held; :meth:`masks` upsamples a
    slice of them to the plane (memory: one slice of masks at a time). With
    ``antithetic``, mask ``2 i + 1`` is the complement of mask ``2 i``.
    """

    def __init__(self, gen, n_masks: int, grid, cell, keep: float, *, antithetic: bool):
        n_f, n_t = grid
        self.rows, self.cols = cell
        self.grid = grid
        h, w = math.ceil(n_f / self.rows) + 1, math.ceil(n_t / self.cols) + 1
        n_draw = (n_masks + 1) // 2 if antithetic else n_masks
        cells = (gen.random((n_draw, h, w)) < keep).astype(np.float32)
        dy = gen.integers(0, self.rows, n_draw)
        dx = gen.integers(0, self.cols, n_draw)
        if antithetic:
            cells = np.stack([cells, 1 - cells], 1).reshape(2 * n_draw, h, w)
            dy, dx = np.repeat(dy, 2), np.repeat(dx, 2)
        self.cells = torch.from_numpy(cells[:n_masks])
        self.shifts = np.stack([dy, dx], 1)[:n_masks]

    def masks(self, start: int, stop: int, *, dtype, device) -> torch.Tensor:
        """Masks ``start .. stop - 1`` on the plane: ``(stop - start, F, N)``, in [0, 1]."""
        n_f, n_t = self.grid
        c = self.cells[start:stop]
        size = (c.shape[1] * self.rows, c.shape[2] * self.cols)
        up = nnf.interpolate(c[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        shifts = self.shifts[start:stop]
        out = torch.stack([up[i, y : y + n_f, x : x + n_t] for i, (y, x) in enumerate(shifts)])
        return out.to(dtype=dtype, device=device)


class _Moments:
    """Running sums for the per-cell slope of the score on the mask value (float64).

    Besides the slope's own sums (score, mask, their products) it keeps those of the
    share ``a_j`` of the plane each mask keeps, the covariate that
    :meth:`slope` partials out.
    """

    def __init__(self, n_b: int, grid, device):
        self.n = 0
        z = {"dtype": torch.float64, "device": device}
        self.s = torch.zeros(n_b, 1, 1, **z)
        self.ss = torch.zeros(n_b, 1, 1, **z)
        self.m = torch.zeros(grid, **z)
        self.mm = torch.zeros(grid, **z)
        self.sm = torch.zeros((n_b, *grid), **z)
        self.a = torch.zeros((), **z)
        self.aa = torch.zeros((), **z)
        self.sa = torch.zeros(n_b, 1, 1, **z)
        self.am = torch.zeros(grid, **z)

    def add(self, s: torch.Tensor, m: torch.Tensor) -> None:
        """Add the scores ``s (B, K)`` of the masks ``m (K, F, N)``."""
        s, m = s.double(), m.double()
        a = m.mean((1, 2))
        self.n += m.shape[0]
        self.s += s.sum(1)[:, None, None]
        self.ss += (s * s).sum(1)[:, None, None]
        self.m += m.sum(0)
        self.mm += (m * m).sum(0)
        self.sm += torch.einsum("bk,kfn->bfn", s, m)
        self.a += a.sum()
        self.aa += (a * a).sum()
        self.sa += (s @ a)[:, None, None]
        self.am += torch.einsum("k,kfn->fn", a, m)

    def slope(self) -> torch.Tensor:
        """Return the per-cell slope ``(B, F, N)``, soft-thresholded (:data:`THRESHOLD_SE`)."""
        n = self.n
        mean_m, mean_s, mean_a = self.m / n, self.s / n, self.a / n
        var = self.mm / n - mean_m**2
        cov = self.sm / n - mean_s * mean_m
        var_s = (self.ss / n - mean_s**2).clamp_min(0)
        # the share of the plane a mask keeps moves every cell's score together:
        # its partial regression is taken out of each cell's
        var_a = self.aa / n - mean_a**2
        if float(var_a) > 1e-12:
            cov_sa = self.sa / n - mean_s * mean_a
            cov_am = self.am / n - mean_a * mean_m
            cov = cov - cov_sa * cov_am / var_a
            var = var - cov_am**2 / var_a
            var_s = (var_s - cov_sa**2 / var_a).clamp_min(0)
        ok = var > 1e-9
        var = torch.where(ok, var, 1.0)
        b = torch.where(ok, cov / var, 0.0)
        se = torch.sqrt(var_s / (n * var))  # the slope's standard error with no effect
        return torch.sign(b) * (b.abs() - THRESHOLD_SE * se).clamp_min(0)


def rise(
    batch: Batch,
    *,
    n_masks: int | None,
    mask_cell,
    keep_probability: float | None,
    rng,
    reference_coefficients,
) -> Attribution:
    """Per-cell effect of keeping each cell, by random masks removed through the signal.

    ``batch`` holds the signals, their complex ``Tx`` and the model; ``n_masks``,
    ``mask_cell``, ``keep_probability`` default to :data:`N_MASKS`,
    :func:`mask_cell_default` and :data:`KEEP_PROBABILITY`; ``rng`` seeds the masks;
    ``reference_coefficients`` (complex, ``(B, F, N)``) are imputed where content is
    removed. Returns the slope of the module docstring, ``(B, F, N)``.
    """
    n_b = batch.magnitude.shape[0]
    n_f, n_t = batch.grid
    n_masks = N_MASKS if n_masks is None else check_int(n_masks, "n_masks", minimum=2)
    keep = KEEP_PROBABILITY if keep_probability is None else keep_probability
    keep = check_real(keep, "keep_probability", low=0, high=1, low_open=True, high_open=True)
    freqs = batch.transform_config.freqs(n_t)
    cell = window(mask_cell or mask_cell_default(n_t), freqs, n_t, name="mask_cell")
    antithetic = keep == 0.5  # a complement keeps 1 - p: pairs only at p = 0.5
    draws = _Draws(check_rng(rng), n_masks, (n_f, n_t), cell, keep, antithetic=antithetic)
    d = contrast(batch.coefficients, reference_coefficients)
    x = batch.signals
    per_call = batch.internal_batch_size or MASKS_PER_CALL
    per = max(1, per_call // n_b)
    if antithetic and per > 1:
        per -= per % 2  # keep each pair in one chunk
    moments = _Moments(n_b, (n_f, n_t), x.device)
    for start in range(0, n_masks, per):
        m = draws.masks(start, min(start + per, n_masks), dtype=x.dtype, device=x.device)
        removed = components(d, batch.transform_config, masks=1 - m)  # (B, K, N)
        s = scores(
            batch.model,
            x[:, None, :] - removed,
            batch.target,
            transform_config=batch.transform_config,
            imaging_config=batch.imaging_config,
            task=batch.task,
            per_call=per * n_b,
        )
        moments.add(s, m)
    return Attribution(moments.slope())
