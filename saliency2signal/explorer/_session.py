"""The drawing app's core: one signal, its plane, and what drawn regions hold.

:class:`RegionExplorer` prepares one signal as :func:`~saliency2signal.explain` does
(the model's length policy and dtype, the transform, the reference, the explained
class, the inference copy of the model for the deletion passes) and answers
:meth:`~RegionExplorer.update`: the label image of a list of shapes, each region's
component (the masked inverse, :func:`~saliency2signal.inverse.components`), and with a
model the class probabilities with all drawn regions deleted and with each deleted
alone, the way ``explain``'s deletion check measures them (so a drawn region's
``p_after`` equals ``explain(..., regions=...)``'s). No web framework is imported here:
the Bokeh app and tests drive this class.

Internal: public through :mod:`saliency2signal.explorer`. May import: numpy, torch,
``saliency2signal`` stages (transform, inverse, forward, mask, explanation's argument
resolution); never bokeh, matplotlib or the CLI.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import torch

from .._runtime import as_model_input, eval_mode, inference_model, resolve_configs
from .._validation import check_choice, check_instance, check_int, readonly
from ..explanation._arguments import (
    class_names_for,
    prepare_signals,
    reference_mode,
    resolve_axis,
    resolve_reference,
    resolve_targets,
    task_of,
)
from ..forward import output_of, probabilities
from ..imaging import ImagingConfig, to_image
from ..inverse import components
from ..mask._regions import Grid
from ..transform import SSQConfig, ssq_cwt
from ._shapes import label_runs, rasterize, shape_cells

__all__ = ["ExplorerState", "RegionExplorer"]


@dataclass(frozen=True, eq=False)
class ExplorerState:
    """What the drawn regions hold, from :meth:`RegionExplorer.update`.

    Attributes
    ----------
    labels : numpy.ndarray of uint8, shape (F, N)
        Region ``k`` is ``labels == k``.
    regions : tuple of int
        The labels present, ascending.
    components : numpy.ndarray, shape (len(regions), N)
        Each region's component (masked inverse of ``Tx``), in ``regions`` order.
    contrasts : numpy.ndarray or None, shape (len(regions), N)
        With a reference: each region's masked inverse of ``Tx(x) - Tx(r)``, what the
        deletion removes.
    p_before : numpy.ndarray or None, shape (K,)
        Class probabilities of the signal (outputs for a regression).
    p_deleted : numpy.ndarray or None, shape (K,)
        With every drawn region deleted at once.
    p_each : numpy.ndarray or None, shape (len(regions),)
        The explained class's probability with each region deleted alone: ``explain``'s
        ``p_after``.
    seconds : float
        Time of the update.
    """

    labels: np.ndarray
    regions: tuple
    components: np.ndarray
    contrasts: np.ndarray | None
    p_before: np.ndarray | None
    p_deleted: np.ndarray | None
    p_each: np.ndarray | None
    seconds: float


class RegionExplorer:
    """One signal on its time-frequency plane, and what regions drawn there hold.

    Parameters
    ----------
    x : array_like, shape (n_times,)
        The signal.
    model : torch.nn.Module, optional
        The image classifier; without it only components are computed.
    metadata : ModelMetadata, optional
        The model file's (transform, imaging, class names, axis, reference means).
    transform_config, imaging_config : optional
        Without ``metadata``: the transform (default ``SSQConfig()`` without a model) and
        the imaging (needed with a model).
    class_names : sequence of str, optional
    axis : array_like, shape (n_times,), optional
        x value of each sample (default: the metadata's trained axis, else samples).
    target : 'predicted' or int or str
        The explained class (default the predicted one).
    reference : {'auto', 'class_means', 'zero', 'mean'} or array_like
        What a deletion puts in a region's place, as in :func:`~saliency2signal.explain`.
    batch_size : int
        Forward batch of the deletion passes (as ``explain``'s ``batch_size``).
    plane : {'ssq', 'cwt'}
        Draw on the synchrosqueezed plane ``Tx`` (default; what the model's images show
        and ``explain`` explains) or on the CWT plane ``Wx`` (rows at
        ``config.cwt_freqs``; components by the CWT's masked inverse). A mask drawn on
        the CWT plane is for the inverse alone: ``explain(regions=...)`` refuses it.

    Examples
    --------
    >>> import numpy as np
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.explorer import RegionExplorer
    >>> t = np.arange(256)
    >>> x = np.sin(2 * np.pi * 0.05 * t) + np.sin(2 * np.pi * 0.2 * t)
    >>> ex = RegionExplorer(x, transform_config=SSQConfig(nv=16))
    >>> box = {"region": 1, "kind": "box", "x": [0, 255], "y": [0.03, 0.08]}
    >>> state = ex.update([box])
    >>> state.regions, state.components.shape
    ((1,), (1, 256))
    >>> slow = np.sin(2 * np.pi * 0.05 * t)
    >>> bool(np.corrcoef(state.components[0, 40:-40], slow[40:-40])[0, 1] > 0.99)
    True
    """

    def __init__(
        self,
        x,
        *,
        model: torch.nn.Module | None = None,
        metadata=None,
        transform_config: SSQConfig | None = None,
        imaging_config: ImagingConfig | None = None,
        class_names=None,
        axis=None,
        target="predicted",
        reference="auto",
        batch_size: int = 16,
        plane: str = "ssq",
    ):
        if model is not None:
            check_instance(model, torch.nn.Module, "model")
        if model is None and metadata is None:
            transform_config = transform_config or SSQConfig()
            imaging_config = imaging_config or ImagingConfig()
        tcfg, icfg, names = resolve_configs(
            metadata, transform_config, imaging_config, class_names
        )
        self.transform_config, self.imaging_config = tcfg, icfg
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.task = task_of(None, metadata)
        if np.ndim(x) != 1:
            raise ValueError(f"x has shape {np.shape(x)}; the explorer takes one signal (N,)")
        dev = torch.device("cpu")
        xt, n_given = prepare_signals(x, model, metadata, tcfg, dev)
        n = int(xt.shape[-1])
        self.x = xt
        info, mask_axis = resolve_axis(axis, metadata, tcfg, n_given, n)
        self.axis_name, self.axis_units = info.name, info.units
        self.plane = check_choice(plane, ("ssq", "cwt"), "plane")
        self.grid = Grid.make(tcfg, n, mask_axis, self.plane)
        with torch.no_grad():
            self.ssq = ssq_cwt(xt, tcfg)
        self.magnitude = readonly(np.abs(self._coef[0].cpu().numpy()).astype(np.float32))
        self.model = model
        self.class_names: tuple[str, ...] = ()
        self.target = None
        self._ref_tx = None
        self._forward = None
        self._cache: dict[bytes, tuple] = {}
        self.p_before = None
        if model is not None:
            probe = as_model_input(to_image(self.ssq.Tx[:1], icfg), model)
            with eval_mode(model), torch.no_grad():
                n_classes = int(model(probe).shape[-1])
            self.class_names = class_names_for(names, n_classes)
            targets = resolve_targets(target, None, self.class_names, n_classes, 1)
            ref, targets, _ = resolve_reference(
                reference_mode(reference, metadata) if isinstance(reference, str) else reference,
                xt,
                metadata,
                n_given,
                model=model,
                targets=targets,
                transform_config=tcfg,
                imaging_config=icfg,
                batch_size=self.batch_size,
            )
            self._forward = inference_model(model, probe)
            self.p_before = self._probabilities(xt)[0]
            per = targets.per_signal
            self.target = int(self._predict(self.p_before) if per is None else per[0])
            if ref is not None:
                with torch.no_grad():
                    ref_result = ssq_cwt(ref, tcfg)
                    self._ref_tx = ref_result.Tx if self.plane == "ssq" else ref_result.Wx

    # ------------------------------------------------------------------ model
    def _predict(self, p: np.ndarray) -> int:
        return int(np.argmax(p)) if self.task == "classification" else 0

    def _probabilities(self, signals: torch.Tensor) -> np.ndarray:
        n = int(signals.shape[0])
        p = probabilities(
            self._forward,
            signals,
            transform_config=self.transform_config,
            imaging_config=self.imaging_config,
            batch_size=self.batch_size,
            forward_batch=n,
            task=self.task,
        )
        return p.detach().cpu().numpy().astype(np.float64)

    # ------------------------------------------------------------------ grid
    @property
    def n_times(self) -> int:
        """Samples of the signal (after the model's length policy)."""
        return int(self.x.shape[-1])

    @property
    def output(self):
        """The model's output function (softmax, sigmoid or identity)."""
        return output_of(self.task)

    def labels(self, shapes) -> np.ndarray:
        """Return the ``uint8`` label image ``(F, N)`` of ``shapes`` (see :func:`rasterize`)."""
        return rasterize(shapes, self.grid.x, self.grid.freqs)

    def region_shapes(self, labels, *, kind: str = "cells") -> list[dict]:
        """``'cells'`` shapes, one per label of ``labels`` ``(F, N)`` (an explanation's)."""
        lab = np.asarray(labels)
        if lab.shape != self.magnitude.shape:
            raise ValueError(f"labels have shape {lab.shape}; the grid is {self.magnitude.shape}")
        return [
            {"region": int(k), "kind": kind, "op": "add", "runs": label_runs(lab == k)}
            for k in np.unique(lab)
            if k > 0
        ]

    def snap_to_ridge(self, shape: dict, *, half_width: int | None = None) -> dict:
        """Replace a drawn shape by the band around the strongest ridge inside it.

        The ridge is tracked (:func:`~saliency2signal.ridges.extract_ridges`, one ridge,
        its default jump penalty) on ``|Tx|`` restricted to the shape's cells, over the
        columns the shape covers; the band keeps ``half_width`` rows on each side of it
        (default: the transform's voices per octave / 8, at least 1), within the shape.

        Returns
        -------
        dict
            A ``'cells'`` shape with the drawn one's ``region`` and ``op``, and the
            drawn outline kept under ``"drawn"``.
        """
        from ..ridges import extract_ridges, ridge_band

        cells = shape_cells(shape, self.grid.x, self.grid.freqs)
        cols = np.flatnonzero(cells.any(0))
        if cols.size == 0:
            raise ValueError("the shape covers no cell of the plane: nothing to snap to")
        if half_width is None:
            half_width = max(1, self.transform_config.nv // 8)
        half_width = check_int(half_width, "half_width", minimum=0)
        plane = np.where(cells, self._coef[0].cpu().numpy(), 0)[:, cols[0] : cols[-1] + 1]
        ridge = extract_ridges(plane, freqs=self.grid.freqs)
        rows = np.full(self.n_times, -1, dtype=np.int64)
        rows[cols[0] : cols[-1] + 1] = ridge.rows[0]
        rows[~cells.any(0)] = -1
        band = ridge_band(rows, half_width, n_freqs=len(self.grid.freqs)) & cells
        out = {k: shape[k] for k in ("region", "op") if k in shape}
        out.update(kind="cells", runs=label_runs(band))
        out["drawn"] = {k: shape[k] for k in ("kind", "x", "y") if k in shape}
        return out

    # ------------------------------------------------------------------ update
    def update(self, shapes=None, *, labels=None, probabilities: bool = True) -> ExplorerState:
        """Components and the model's response for drawn ``shapes`` (or a label image).

        A region whose cells did not change since an earlier update is not computed
        again (its component, contrast and deletion probability are kept, by the
        digest of its cells): an edit of one region costs its own forward pass and
        the one with every region deleted. ``probabilities=False`` computes the
        components only (``p_deleted`` and ``p_each`` are ``None``): the app shows
        them first and the model's response a moment later.
        """
        t0 = time.perf_counter()
        if labels is None:
            labels = self.labels(shapes or ())
        lab = np.asarray(labels)
        if lab.shape != self.magnitude.shape or lab.dtype.kind not in "iu":
            raise ValueError(
                f"labels have shape {lab.shape} and dtype {lab.dtype}; expected integers "
                f"{self.magnitude.shape}"
            )
        present = tuple(int(k) for k in np.unique(lab) if k > 0)
        masks = {k: lab == k for k in present}
        keys = {k: _digest(m) for k, m in masks.items()}
        fresh = self._components([k for k in present if keys[k] not in self._cache], masks)
        for k, (comp, contrast) in fresh.items():
            self._cache[keys[k]] = (comp, contrast, None, None)
        rows = [self._cache[keys[k]] for k in present]
        n = self.n_times
        comps = np.stack([r[0] for r in rows]) if rows else np.zeros((0, n))
        comps = comps.astype(self._np_dtype, copy=False)
        contrasts = None
        if self._ref_tx is not None:
            contrasts = np.stack([r[1] for r in rows]) if rows else comps
        p_deleted = p_each = None
        if self.model is not None and probabilities:
            # one transform call: each region not yet measured deleted alone, then all
            removed = comps if contrasts is None else contrasts
            x0 = self.x[0]
            new = [j for j, r in enumerate(rows) if r[2] is None]
            signals = [x0 - torch.from_numpy(removed[j]) for j in new]
            if len(present) > 1:
                signals.append(x0 - torch.from_numpy(removed.sum(0)))
            p = self._probabilities(torch.stack(signals)) if signals else None
            for i, j in enumerate(new):
                rows[j] = (*rows[j][:2], float(p[i, self.target]), p[i])
                self._cache[keys[present[j]]] = rows[j]
            p_each = np.array([r[2] for r in rows], dtype=np.float64)
            if len(present) == 1:
                p_deleted = rows[0][3]
            elif len(present) > 1:
                p_deleted = p[-1]
        for key in keys.values():  # most recently used last
            self._cache[key] = self._cache.pop(key)
        while len(self._cache) > _CACHE_REGIONS:
            self._cache.pop(next(iter(self._cache)))
        return ExplorerState(
            labels=readonly(lab.astype(np.uint8)),
            regions=present,
            components=readonly(comps),
            contrasts=None if contrasts is None else readonly(contrasts),
            p_before=None if self.p_before is None else readonly(self.p_before),
            p_deleted=None if p_deleted is None else readonly(p_deleted),
            p_each=None if p_each is None else readonly(p_each),
            seconds=time.perf_counter() - t0,
        )

    @property
    def _coef(self) -> torch.Tensor:
        """The drawn plane's coefficients ``(1, F, N)``: ``Tx`` or ``Wx``."""
        return self.ssq.Tx if self.plane == "ssq" else self.ssq.Wx

    @property
    def _np_dtype(self):
        return self.x.cpu().numpy().dtype

    def _components(self, todo, masks) -> dict:
        """``{label: (component, contrast)}`` of the regions ``todo`` (masked inverses)."""
        if not todo:
            return {}
        stack = torch.from_numpy(np.stack([masks[k] for k in todo]))[None]
        with torch.no_grad():
            comps = components(self.ssq, masks=stack, kind=self.plane)[0].to(self.x.dtype)
            contrasts = None
            if self._ref_tx is not None:
                diff = self._coef - self._ref_tx
                contrasts = components(diff, self.transform_config, masks=stack, kind=self.plane)
                contrasts = contrasts[0]
                contrasts = contrasts.to(self.x.dtype)
        return {
            k: (comps[j].numpy(), None if contrasts is None else contrasts[j].numpy())
            for j, k in enumerate(todo)
        }


#: Regions whose results an explorer keeps (about 3 signals' worth each).
_CACHE_REGIONS = 64


def _digest(mask: np.ndarray) -> bytes:
    """Identity of a region's cells."""
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()
