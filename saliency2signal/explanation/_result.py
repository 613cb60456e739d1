"""The result classes of :func:`~saliency2signal.explain`: what it found, as data and JSON.

- :class:`RegionEffect`: one region of one signal (the mask's record, the energy of its
  component, the effect of deleting it, whether that contradicts, the interference flag).
- :class:`Explanation`: read-only arrays for ``B`` signals, per-region records,
  :meth:`~Explanation.to_json` (the JSON Schema at
  ``saliency2signal/schemas/explanation.schema.json``), :meth:`~Explanation.plot` and
  :meth:`~Explanation.save`, both drawn and written by ``_report``.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy, ``_files``, ``_validation``, ``_version``, ``imaging``, ``mask``,
``transform``, ``faithfulness`` and its siblings ``_schema``, ``_summary``,
``_figures`` and ``_report``; never ``_core`` or ``_explain`` (they import this), nor
matplotlib at import time.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from dataclasses import dataclass, field

import numpy as np

from .._files import atomic_dir
from .._imagings import imaging_record
from .._validation import finite_or_none, readonly
from .._version import __version__
from ..imaging import ImagingConfig
from ..mask import Region
from ..transform import SSQConfig
from ._figures import n_workers
from ._report import check_figures, draw, write_report
from ._schema import SCHEMA, SCHEMA_VERSION
from ._summary import summarize

__all__ = ["Explanation", "RegionEffect"]


@dataclass(frozen=True)
class RegionEffect:
    """One region of one signal: where it is, what it holds and what deleting it does.

    Attributes
    ----------
    region : Region
        The mask's record (grid extent, ``x_range``, ``band``, widths, shares).
    component_energy : float
        ``||c||**2 / ||x||**2`` of the region's component ``c``.
    p_before, p_after, drop : float or None
        Probability of the explained class for the signal and for the signal minus
        ``c`` (transform and image recomputed); ``drop = p_before - p_after``. ``None``
        when ``deletion=False``.
    interference : dict or None
        ``flagged``, ``overlap_fraction`` and ``message`` from
        :func:`~saliency2signal.artefacts.flag_regions`, when checked.
    peak : dict or None
        The region read as a band: of the peaks fitted to the signal over the region's
        x-range, the one whose deletion lowers the explained class's probability most
        (``centre``, ``fwhm``, ``height``, ``eta``, ``area`` in axis units,
        ``description``, ``p_after``, ``drop``, ``component_correlation``,
        ``n_fitted``, ``fit_r_squared``); ``None`` when not read or no peak was fitted.
    """

    region: Region
    component_energy: float
    p_before: float | None = None
    p_after: float | None = None
    drop: float | None = None
    interference: dict | None = None
    peak: dict | None = None

    @property
    def label(self) -> int:
        """Label of the region in the label image (1 = largest attribution mass)."""
        return self.region.label

    @property
    def contradicting(self) -> bool | None:
        """Whether deleting the region raises the explained output (``drop < 0``).

        Such a region holds evidence the model reads *against* its decision, although
        the attribution put it on the explained class's side. ``None`` without deletion.
        """
        return None if self.drop is None or not np.isfinite(self.drop) else bool(self.drop < 0)

    @property
    def x_range(self) -> tuple[float, float]:
        """x-range of the region in axis units (samples without an axis)."""
        return self.region.x_range

    def to_dict(self) -> dict:
        """JSON-compatible record (a ``regions`` entry of the report's schema)."""
        r = self.region.to_dict()
        deletion = None
        if self.p_before is not None:
            deletion = {
                "p_before": finite_or_none(self.p_before),
                "p_after": finite_or_none(self.p_after),
                "drop": finite_or_none(self.drop),
            }
        return {
            "label": int(r["label"]),
            "x_range": r["x_range"],
            "duration": r["duration"],
            "cols": r["cols"],
            "rows": r["rows"],
            "band": r["band"],
            "bandwidth_octaves": r["bandwidth"],
            "width_samples": r["width_samples"],
            "width_x": r["width_x"],
            "area": int(r["area"]),
            "attribution_share": r["mass_share"],
            "coefficient_energy_share": r["energy_share"],
            "component_energy": finite_or_none(self.component_energy),
            "deletion": deletion,
            "contradicting": self.contradicting,
            "interference": None if self.interference is None else dict(self.interference),
            "peak": None if self.peak is None else _json_peak(self.peak),
        }


@dataclass(frozen=True, eq=False)
class Explanation:
    """Result of :func:`explain` for ``B`` signals of ``N`` samples (read-only arrays).

    Attributes
    ----------
    signals : numpy.ndarray, shape (B, N)
        The signals as the model saw them (after the length policy).
    components : numpy.ndarray, shape (B, R, N)
        One component per region (``R`` = most regions of any signal; missing regions
        of a signal are zeros).
    regions : tuple of tuple of RegionEffect
        ``regions[b][k]`` is region ``k + 1`` of signal ``b``.
    attribution : numpy.ndarray, shape (B, F, N)
        Attribution on the transform's grid (lowest frequency in row 0).
    labels : numpy.ndarray of int, shape (B, F, N)
        Region labels (0 = background).
    Tx : numpy.ndarray of complex, shape (B, F, N)
        The synchrosqueezed transform of ``signals``.
    lowpass : numpy.ndarray, shape (B, N)
        The low-pass term of :func:`~saliency2signal.decompose` (whether or not the
        image showed it).
    probabilities : numpy.ndarray or None, shape (B, K)
        Class probabilities of the unmodified signals (``None``: heatmaps mapped back
        without a model, see :func:`~saliency2signal.explanation.map_heatmaps`).
    predictions : numpy.ndarray of int or None, shape (B,)
        Arg-max class (``None`` without a model).
    target : numpy.ndarray of int, shape (B,)
        Explained class.
    given_labels : numpy.ndarray of int or None, shape (B,)
        The labels passed to :func:`explain`.
    energy : dict of str to numpy.ndarray
        ``components`` (B, R) and ``uncovered``, ``overlap``, ``lowpass``,
        ``residual``, ``cross`` (B,): fractions of ``||x||**2``.
    unseen_lowpass, unseen_residual : numpy.ndarray, shape (B,)
        Energy fractions of the low-pass term and of the residual.
    convergence_delta : numpy.ndarray or None, shape (B,)
    axis : numpy.ndarray, shape (N,)
        x value of each sample (``arange(N)`` without an axis).
    axis_name, axis_units : str
    class_names : tuple of str
    method, target_mode : str
    transform_config : SSQConfig
    imaging_config : ImagingConfig
    original_n_times : int
    length_policy : str or None
    settings : dict
    verdicts : tuple of Verdict or None
        Per signal, the deletion test of its regions against the matched random null
        (:class:`~saliency2signal.faithfulness.Verdict`); ``None`` when not measured.
    contrasts : numpy.ndarray or None, shape (B, R, N)
        With a reference (``settings['reference']`` not ``'zero'``): what each region
        holds that the signal's reference does not, the masked inverse of
        ``Tx(x) - Tx(r)`` (a difference spectrum under the region); ``None`` without.
    references : numpy.ndarray or None, shape (B, N)
        The reference signal each explanation is relative to (``None`` without).
    foils : numpy.ndarray of int or None, shape (B,)
        With ``reference='class_means'``: the class whose mean training signal is each
        signal's reference (the most probable class other than the explained one).
    task : {'classification', 'regression'}
        For a regression, ``class_names`` name the outputs, ``probabilities`` hold the
        output values, ``predictions`` the explained output, and every ``p_before`` /
        ``p_after`` / drop is an output value or its change (in ``output_units``).
    output_units : tuple of str
        A regression's units, one per output (may be empty).
    """

    signals: np.ndarray
    components: np.ndarray
    regions: tuple
    attribution: np.ndarray
    labels: np.ndarray
    Tx: np.ndarray = field(repr=False)
    lowpass: np.ndarray = field(repr=False)
    probabilities: np.ndarray | None = field(repr=False)
    predictions: np.ndarray | None = field(repr=False)
    target: np.ndarray = field(repr=False)
    given_labels: np.ndarray | None = field(repr=False)
    energy: dict = field(repr=False)
    unseen_lowpass: np.ndarray = field(repr=False)
    unseen_residual: np.ndarray = field(repr=False)
    convergence_delta: np.ndarray | None = field(repr=False)
    axis: np.ndarray = field(repr=False)
    axis_name: str = "sample"
    axis_units: str = "samples"
    class_names: tuple = ()
    method: str = "integrated_gradients"
    target_mode: str = "predicted"
    transform_config: SSQConfig = field(default_factory=SSQConfig, repr=False)
    imaging_config: ImagingConfig = field(default_factory=ImagingConfig, repr=False)
    original_n_times: int = 0
    length_policy: str | None = None
    settings: dict = field(default_factory=dict, repr=False)
    verdicts: tuple | None = field(default=None, repr=False)
    contrasts: np.ndarray | None = field(default=None, repr=False)
    references: np.ndarray | None = field(default=None, repr=False)
    foils: np.ndarray | None = field(default=None, repr=False)
    task: str = "classification"
    output_units: tuple = ()

    # ------------------------------------------------------------------ derived
    @property
    def n_samples(self) -> int:
        """Number of signals ``B``."""
        return int(self.signals.shape[0])

    @property
    def masks(self) -> np.ndarray:
        """Union of each signal's regions, bool ``(B, F, N)``."""
        return self.labels > 0

    @functools.cached_property
    def profile(self) -> np.ndarray:
        """Attribution profile along x: the attribution summed over frequency, ``(B, N)``.

        Signed (evidence for the explained class is positive). It says *where* along the
        signal the evidence lies even when a region's component is hard to read; it is
        an attribution density, not a signal (no inverse is involved).
        """
        return readonly(self.attribution.sum(axis=-2))

    def verdict_summary(self) -> dict | None:
        """How many explanations reached each verdict level (``None`` without verdicts).

        Returns
        -------
        dict
            ``{level: count}`` for every level of
            :data:`~saliency2signal.faithfulness.LEVELS` (spaces written as
            underscores, e.g. ``better_than_chance``), plus ``n`` (signals),
            ``better_than_chance_share`` and ``contradicted`` (count).
        """
        if self.verdicts is None:
            return None
        from ..faithfulness import LEVELS

        counts = {
            level.replace(" ", "_"): sum(v.level == level for v in self.verdicts)
            for level in LEVELS
        }
        n = len(self.verdicts)
        counts["n"] = n
        counts["better_than_chance_share"] = counts["better_than_chance"] / n if n else None
        counts["contradicted"] = sum(v.contradicted for v in self.verdicts)
        return counts

    @property
    def lowpass_in_image(self) -> bool:
        """Whether the image showed the low-pass row (``lowpass_row=True``)."""
        return bool(self.transform_config.lowpass_row)

    @property
    def unseen(self) -> np.ndarray:
        """Energy fraction the image never showed, shape ``(B,)``.

        The residual, plus the low-pass term unless the plane carries it as row 0.
        """
        extra = 0.0 if self.lowpass_in_image else self.unseen_lowpass
        return self.unseen_residual + extra

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """JSON-compatible dictionary following the report's JSON Schema.

        The schema is the file at :data:`~saliency2signal.explanation.SCHEMA_PATH`
        (``saliency2signal/schemas/explanation.schema.json``); validate with
        ``jsonschema.validate(e.to_json(), load_schema())``.

        Returns
        -------
        dict
            Only ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``.
        """
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "package_version": __version__,
            "method": self.method,
            "target_mode": self.target_mode,
            "class_names": list(self.class_names),
            "n_samples": self.n_samples,
            "n_times": int(self.signals.shape[-1]),
            "n_freqs": int(self.labels.shape[-2]),
            "original_n_times": int(self.original_n_times),
            "length_policy": self.length_policy,
            "axis": {
                "name": self.axis_name,
                "units": self.axis_units,
                "values": [float(v) for v in self.axis],
            },
            "task": self.task,
            "output_units": list(self.output_units),
            "transform": self.transform_config.to_dict(),
            "imaging": imaging_record(self.imaging_config),
            "lowpass_in_image": self.lowpass_in_image,
            "settings": json.loads(json.dumps(self.settings)),
            "verdict_summary": self.verdict_summary(),
            "summary": summarize(self),
            "samples": [self._sample_json(b) for b in range(self.n_samples)],
        }

    def _sample_json(self, b: int) -> dict:
        """Return the ``samples`` entry of signal ``b``."""
        names = list(self.class_names)
        energy = {
            k: finite_or_none(v[b].sum() if k == "components" else v[b])
            for k, v in self.energy.items()
        }
        model = self.probabilities is not None
        return {
            "index": b,
            "prediction": int(self.predictions[b]) if model else None,
            "predicted_class": names[int(self.predictions[b])] if model else None,
            "target": int(self.target[b]),
            "target_class": names[int(self.target[b])],
            "label": None if self.given_labels is None else int(self.given_labels[b]),
            "probabilities": {
                n: finite_or_none(p) for n, p in zip(names, self.probabilities[b], strict=True)
            }
            if model
            else None,
            "convergence_delta": None
            if self.convergence_delta is None
            else finite_or_none(self.convergence_delta[b]),
            "energy": energy,
            "unseen": {
                "lowpass": finite_or_none(self.unseen_lowpass[b]),
                "residual": finite_or_none(self.unseen_residual[b]),
                "lowpass_in_image": self.lowpass_in_image,
                "total": finite_or_none(self.unseen[b]),
                "note": _unseen_note(self.lowpass_in_image),
            },
            "regions": [r.to_dict() for r in self.regions[b]],
            "verdict": None
            if self.verdicts is None
            else self.verdicts[b].to_dict(
                names[int(self.target[b])],
                quantity=names[int(self.target[b])] if self.task == "regression" else None,
            ),
            "foil_class": None if self.foils is None else names[int(self.foils[b])],
        }

    # ------------------------------------------------------------------ figures
    def plot(self, index: int = 0, *, kind: str = "overlay", ax=None):
        """Draw one signal's explanation on one Axes.

        Parameters
        ----------
        index : int
            Which signal.
        kind : {'overlay', 'components', 'scalogram', 'attribution', 'profile'}
            ``'overlay'``: the signal with every component overlaid and each region's
            x-range shaded; ``'components'``: the components alone; ``'scalogram'``:
            ``|Tx|`` with the region contours; ``'attribution'``: the positive
            attribution with the region contours; ``'profile'``: :attr:`profile`, the
            signed attribution along x, with the regions' x-ranges shaded. Each region
            has one colour (:func:`~saliency2signal.plot.region_color`); the planes get a
            labelled colorbar beside ``ax`` (taking room from it), the other kinds a
            legend right of it.
        ax : matplotlib.axes.Axes, optional
            Default ``plt.gca()``.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            For an unknown ``kind`` or an ``index`` out of range.
        """
        return draw(self, index, kind=kind, ax=ax)

    # ------------------------------------------------------------------ save
    def with_settings(self, **settings) -> Explanation:
        """Return a copy whose ``settings`` also hold these JSON-compatible entries.

        For what a caller learnt around the run, e.g. the CLI's check of the images
        made here against the researcher's own (``input_check``), so that the report
        shows it.
        """
        try:
            added = json.loads(json.dumps(settings))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"settings {sorted(settings)} are not JSON-serialisable: {exc}"
            ) from None
        return dataclasses.replace(self, settings={**self.settings, **added})

    def save(
        self,
        out_dir,
        *,
        figures: str | bool = "all",
        overwrite: bool = False,
        workers: int | None = None,
    ) -> pathlib.Path:
        """Write a report folder, atomically.

        The folder is built as a hidden temporary sibling of ``out_dir`` and renamed into
        place only when every file is written; on any error the temporary folder is
        removed and nothing appears at ``out_dir``.

        Parameters
        ----------
        out_dir : str or os.PathLike
            Folder to create; its parent must exist.
        figures : {'all', 'overview', 'none'} or bool
            Which PNG figures to draw: ``'all'`` (one per explained class for the
            overview, three per signal on its page), ``'overview'`` (the overview's
            only: the figures people look at across a large study, at a fraction of the
            cost) or ``'none'``. ``True`` and ``False`` mean ``'all'`` and ``'none'``.
        overwrite : bool
            Replace an existing ``out_dir`` (removed only after the new folder is
            complete).
        workers : int, optional
            Processes drawing the signals' figures (``figures='all'``): ``1`` draws
            them here; by default ``min(4, os.cpu_count())`` worker processes (started
            with ``spawn``, never forked from a process running torch's threads) when
            there are 12 signals or more, here otherwise. The files are the same either
            way.

        Returns
        -------
        pathlib.Path
            ``out_dir``.

        Raises
        ------
        ValueError
            If ``out_dir`` exists and ``overwrite`` is false, its parent folder does not
            exist, ``figures`` is an unknown string or ``workers < 1``.
        TypeError
            If ``figures`` is neither a string nor a bool, or ``workers`` not an int.

        Notes
        -----
        Files: ``report.json`` (:meth:`to_json`), ``summary.csv`` (the overview's bands),
        ``components.npz`` (``components`` (B, R, N), ``labels`` and ``masks``
        (B, F, N), ``attribution`` (B, F, N), ``signals`` and ``lowpass`` (B, N),
        ``axis`` (N,), ``probabilities`` (B, K), ``predictions``, ``target`` (B,),
        ``profile`` (B, N), ``freqs`` (F,)), ``index.html`` (the overview and a table of
        the signals), ``sample_XXXX.html`` (one page per signal, linked from the index,
        with links to the previous and next) and, as ``figures`` says,
        ``overview_class_KKK.png`` per explained class and ``sample_XXXX_spectrum.png``,
        ``sample_XXXX_scalogram.png`` and ``sample_XXXX_components.png`` per signal.
        Links are relative and nothing is fetched from the network: the folder opens
        offline wherever it is copied.
        """
        figures = check_figures(figures)
        n_workers(self.n_samples, workers)  # refuse bad values before writing anything
        return atomic_dir(
            out_dir,
            lambda tmp: self._write(tmp, figures=figures, workers=workers),
            overwrite=overwrite,
        )

    def _write(self, folder: pathlib.Path, **kwargs) -> None:
        """Write the report's files into the temporary ``folder`` (see ``_report``)."""
        write_report(self, folder, **kwargs)


def _json_peak(record: dict) -> dict:
    """Return a region's band record with JSON-safe numbers (nested records too)."""
    out = {}
    for k, v in record.items():
        if isinstance(v, dict):
            out[k] = _json_peak(v)
        elif v is None or isinstance(v, (str, bool)):
            out[k] = v
        else:
            out[k] = finite_or_none(v)
    return out


def _unseen_note(lowpass_in_image: bool) -> str:
    if lowpass_in_image:
        return (
            "the image showed the low-pass row (lowpass_row=True): only the residual "
            "was never shown"
        )
    return (
        "the image never showed the low-pass term (mean and slow baseline) nor the "
        "residual; no region can contain them"
    )
