"""One call from a trained model and signals to an explanation a researcher can read.

:func:`explain` runs the whole pipeline for a batch of signals — transform, saliency on
the native ``(freq, time)`` grid (:func:`~saliency2signal.saliency.attribute`),
threshold and label regions (:func:`~saliency2signal.mask.attribution_mask`), one
signal component per region by the masked one-integral inverse
(:func:`~saliency2signal.inverse.components`), the energy book-keeping of
:func:`~saliency2signal.inverse.decompose_regions` — and then *tests* each region: the
region's component is subtracted from the signal, the transform and the image are
recomputed, and the model's probability of the explained class is read again
(``p_before``, ``p_after``, ``drop = p_before - p_after``). The result is a frozen
:class:`Explanation` with arrays, per-region records, :meth:`Explanation.to_json`,
:meth:`Explanation.save` (a report folder written atomically) and
:meth:`Explanation.plot`.

JSON schema (``Explanation.to_json()``, also ``report.json`` in a saved folder)
------------------------------------------------------------------------------
The same schema as a machine-readable JSON Schema (draft 2020-12) ships with the package:
:data:`SCHEMA_PATH` (``saliency2signal/schemas/explanation.schema.json``), loaded by
:func:`load_schema`; validate a report with, e.g.,
``jsonschema.validate(report, load_schema())``.

Top level (a ``dict``):

``schema`` : str
    ``'saliency2signal.explanation'``.
``schema_version`` : int
    ``1``.
``package_version`` : str
    Version of saliency2signal that made the explanation.
``method`` : str
    Attribution method (e.g. ``'integrated_gradients'``).
``target_mode`` : str
    ``'predicted'``, ``'label'`` or ``'fixed'`` (an integer class).
``class_names`` : list of str
    Model classes in logit order.
``n_samples``, ``n_times``, ``n_freqs`` : int
    Number of signals, signal length *as the model saw it* (after the length policy) and
    rows of the transform plane.
``original_n_times`` : int
    Length of the signals as given.
``length_policy`` : str or null
    ``'exact'``, ``'crop'`` or ``'pad'`` from the model file; null without metadata.
``axis`` : dict
    ``name`` (str), ``units`` (str; ``'samples'`` without an axis), ``values`` (list of
    ``n_times`` floats, the x value of each sample).
``transform``, ``imaging`` : dict
    ``SSQConfig.to_dict()`` and ``ImagingConfig.to_dict()``.
``lowpass_in_image`` : bool
    Whether the image showed the low-pass row (``transform.lowpass_row``).
``settings`` : dict
    ``keep_mass`` (float), ``max_regions`` (int), ``min_share`` (float), ``deletion``
    (bool), ``interference`` (bool), ``n_steps`` (int, integration steps of Integrated
    Gradients),
    ``mask_options`` (dict, JSON-compatible).
``samples`` : list of dict, one per signal:

    ``index`` : int
    ``prediction``, ``predicted_class`` : int, str
        Arg-max class.
    ``target``, ``target_class`` : int, str
        Class explained.
    ``label`` : int or null
        Given label (``labels=``), else null.
    ``probabilities`` : dict str -> float
        Softmax probability of every class on the unmodified signal.
    ``convergence_delta`` : float or null
        Captum's completeness error (Integrated Gradients, DeepLift).
    ``energy`` : dict str -> float
        Fractions of ``||x||**2`` (see
        :meth:`~saliency2signal.inverse.RegionDecomposition.energy_fractions`):
        ``components`` (sum over regions), ``uncovered``, ``overlap``, ``lowpass``,
        ``residual``, ``cross``. ``lowpass`` is 0 when the plane carries it as row 0.
    ``unseen`` : dict
        What the image never showed: ``lowpass`` (float, energy fraction of the low-pass
        term), ``residual`` (float), ``lowpass_in_image`` (bool), ``total`` (float:
        ``residual``, plus ``lowpass`` when it was not in the image) and ``note`` (str).
    ``regions`` : list of dict, by decreasing attribution mass:

        ``label`` (int, 1-based, as in the label image), ``x_range`` ([float, float],
        axis units, ascending), ``duration`` (float, axis units), ``cols`` and ``rows``
        ([int, int], inclusive grid indices), ``band`` ([float, float], frequency in
        units of ``fs``; lower edge 0 for the low-pass row), ``bandwidth_octaves``
        (float or null when the band reaches 0), ``width_samples`` and ``width_x``
        ([float, float or null]: the peak widths the band matches, narrowest first, in
        samples and axis units), ``area`` (int, cells), ``attribution_share`` (float:
        share of the positive attribution mass), ``coefficient_energy_share`` (float:
        share of ``sum |Tx|**2``), ``component_energy`` (float: ``||c||**2 /
        ||x||**2``), ``deletion`` (dict ``p_before``, ``p_after``, ``drop`` — floats,
        probabilities of the target class — or null with ``deletion=False``) and
        ``interference`` (dict ``flagged`` bool, ``overlap_fraction`` float, ``message``
        str, or null when not checked).

Every float is finite or null; the dict round-trips through :func:`json.dumps`. No other
keys appear in any of these dicts (except inside ``transform``, ``imaging`` and
``mask_options``, which follow their own classes).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ._files import atomic_dir
from ._runtime import default_mask_options, eval_mode, group_size, inference_model, resolve_configs
from ._validation import as_tensor
from .forward import probabilities as signal_probabilities
from .imaging import ImagingConfig, to_image
from .inverse import decompose_regions
from .mask import Region, _check_share, attribution_mask
from .metadata import ModelMetadata, check_compatible, fit_length
from .saliency import attribute
from .transform import MIN_LENGTH, SSQConfig, decompose, ssq_cwt

__all__ = ["SCHEMA", "SCHEMA_PATH", "SCHEMA_VERSION", "Explanation", "RegionEffect", "explain",
           "load_schema"]

#: Name of the JSON schema written by :meth:`Explanation.to_json`.
SCHEMA = "saliency2signal.explanation"
#: Version of that schema.
SCHEMA_VERSION = 1
#: The JSON Schema (draft 2020-12) of :meth:`Explanation.to_json`, installed with the
#: package.
SCHEMA_PATH = pathlib.Path(__file__).resolve().parent / "schemas" / "explanation.schema.json"


def load_schema() -> dict:
    """Load the JSON Schema (draft 2020-12) of :meth:`Explanation.to_json` and ``report.json``.

    Returns
    -------
    dict
        The parsed contents of :data:`SCHEMA_PATH`, a new dict on every call.

    Examples
    --------
    >>> schema = load_schema()
    >>> schema["properties"]["schema"]["const"] == SCHEMA
    True
    """
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


_TARGET_MODES = ("predicted", "label")


def _f(v) -> float | None:
    """Finite float or ``None``."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


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
    """

    region: Region
    component_energy: float
    p_before: float | None = None
    p_after: float | None = None
    drop: float | None = None
    interference: dict | None = None

    @property
    def label(self) -> int:
        """Label of the region in the label image (1 = largest attribution mass)."""
        return self.region.label

    @property
    def x_range(self) -> tuple[float, float]:
        """x-range of the region in axis units (samples without an axis)."""
        return self.region.x_range

    def to_dict(self) -> dict:
        """JSON-compatible record (the ``regions`` entries of the module's schema)."""
        r = self.region.to_dict()
        deletion = None
        if self.p_before is not None:
            deletion = {"p_before": _f(self.p_before), "p_after": _f(self.p_after),
                        "drop": _f(self.drop)}
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
            "component_energy": _f(self.component_energy),
            "deletion": deletion,
            "interference": None if self.interference is None else dict(self.interference),
        }


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


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
    probabilities : numpy.ndarray, shape (B, K)
        Class probabilities of the unmodified signals.
    predictions, target : numpy.ndarray of int, shape (B,)
        Arg-max class and explained class.
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
    """

    signals: np.ndarray
    components: np.ndarray
    regions: tuple
    attribution: np.ndarray
    labels: np.ndarray
    Tx: np.ndarray = field(repr=False)
    lowpass: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    predictions: np.ndarray = field(repr=False)
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

    # ------------------------------------------------------------------ derived
    @property
    def n_samples(self) -> int:
        """Number of signals ``B``."""
        return int(self.signals.shape[0])

    @property
    def masks(self) -> np.ndarray:
        """Union of each signal's regions, bool ``(B, F, N)``."""
        return self.labels > 0

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

    def _unseen_note(self) -> str:
        if self.lowpass_in_image:
            return ("the image showed the low-pass row (lowpass_row=True): only the residual "
                    "was never shown")
        return ("the image never showed the low-pass term (mean and slow baseline) nor the "
                "residual; no region can contain them")

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """JSON-compatible dictionary following the schema in the module docstring.

        Returns
        -------
        dict
            Only ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``.
        """
        names = list(self.class_names)
        samples = []
        for b in range(self.n_samples):
            en = {k: _f(v[b].sum()) if k == "components" else _f(v[b])
                  for k, v in self.energy.items()}
            samples.append({
                "index": b,
                "prediction": int(self.predictions[b]),
                "predicted_class": names[int(self.predictions[b])],
                "target": int(self.target[b]),
                "target_class": names[int(self.target[b])],
                "label": None if self.given_labels is None else int(self.given_labels[b]),
                "probabilities": {n: _f(p) for n, p in zip(names, self.probabilities[b],
                                                            strict=True)},
                "convergence_delta": None if self.convergence_delta is None
                else _f(self.convergence_delta[b]),
                "energy": en,
                "unseen": {
                    "lowpass": _f(self.unseen_lowpass[b]),
                    "residual": _f(self.unseen_residual[b]),
                    "lowpass_in_image": self.lowpass_in_image,
                    "total": _f(self.unseen[b]),
                    "note": self._unseen_note(),
                },
                "regions": [r.to_dict() for r in self.regions[b]],
            })
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "package_version": _package_version(),
            "method": self.method,
            "target_mode": self.target_mode,
            "class_names": names,
            "n_samples": self.n_samples,
            "n_times": int(self.signals.shape[-1]),
            "n_freqs": int(self.labels.shape[-2]),
            "original_n_times": int(self.original_n_times),
            "length_policy": self.length_policy,
            "axis": {"name": self.axis_name, "units": self.axis_units,
                     "values": [float(v) for v in self.axis]},
            "transform": self.transform_config.to_dict(),
            "imaging": self.imaging_config.to_dict(),
            "lowpass_in_image": self.lowpass_in_image,
            "settings": json.loads(json.dumps(self.settings)),
            "samples": samples,
        }

    # ------------------------------------------------------------------ figures
    def _check_index(self, index) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index={index!r} must be an int")
        if not -self.n_samples <= index < self.n_samples:
            raise ValueError(f"index={index} is out of range for {self.n_samples} signals")
        return int(index) % self.n_samples

    def _xlabel(self) -> str:
        return f"{self.axis_name} ({self.axis_units})"

    def plot(self, index: int = 0, *, kind: str = "overlay", ax=None):
        """Draw one signal's explanation on one Axes.

        Parameters
        ----------
        index : int
            Which signal.
        kind : {'overlay', 'components', 'scalogram', 'attribution'}
            ``'overlay'``: the signal with every component overlaid and each region's
            x-range shaded; ``'components'``: the components alone; ``'scalogram'``:
            ``|Tx|`` with the region contours; ``'attribution'``: the positive
            attribution with the region contours.
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
        kinds = ("overlay", "components", "scalogram", "attribution")
        if kind not in kinds:
            raise ValueError(f"kind={kind!r} must be one of {kinds}")
        b = self._check_index(index)
        if ax is None:
            import matplotlib.pyplot as plt

            ax = plt.gca()
        regs = self.regions[b]
        xs = self.axis
        if kind in ("scalogram", "attribution"):
            from . import plot as _plot

            if kind == "scalogram":
                _plot.scalogram(self.Tx[b], self.transform_config, ax=ax, axis=xs,
                                labels=self.labels[b])
            else:
                _plot.scalogram(np.clip(self.attribution[b], 0, None), self.transform_config,
                                ax=ax, axis=xs, labels=self.labels[b], power=1.0,
                                cmap="viridis")
            ax.set_xlabel(self._xlabel())
            return ax
        if kind == "overlay":
            ax.plot(xs, self.signals[b], color="0.5", lw=0.9, label="signal")
        for k, r in enumerate(regs):
            color = f"C{(k % 9) + 1}"
            if kind == "overlay":
                lo, hi = sorted(r.x_range)
                ax.axvspan(lo, hi, color=color, alpha=0.12, lw=0)
            ax.plot(xs, self.components[b, k], color=color, lw=1.2,
                    label=f"region {r.label}")
        if kind == "components" and not regs:
            ax.text(0.5, 0.5, "no regions", transform=ax.transAxes, ha="center")
        ax.set_xlabel(self._xlabel())
        if xs[0] > xs[-1]:
            ax.set_xlim(xs[0], xs[-1])
        ax.legend(loc="upper right", fontsize=8, frameon=False)
        return ax

    def _figures(self, b: int, folder: pathlib.Path) -> dict[str, str]:
        """Write the three PNG figures of signal ``b``; return kind -> file name."""
        from matplotlib.figure import Figure

        from . import plot as _plot

        regs = self.regions[b]
        out = {}
        stem = f"sample_{b:04d}"
        # 1. the spectrum with each component overlaid and its x-range shaded
        n_panels = max(len(regs), 1)
        fig = Figure(figsize=(8, 2.2 * n_panels + 0.8))
        _fixed_layout(fig, n_panels, left=0.65, top=0.6, gap=0.4)
        axes = list(fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0])
        if regs:
            names = [_region_title(r, self) for r in regs]
            _plot.components(self.signals[b], self.components[b, : len(regs)],
                             x_ranges=[r.x_range for r in regs], axis=self.axis, axes=axes,
                             names=names,
                             baseline=None if self.lowpass_in_image else self.lowpass[b])
        else:
            axes[0].plot(self.axis, self.signals[b], color="0.5", lw=0.9)
            axes[0].set_title("no region above the threshold", fontsize=10, loc="left", y=1.0)
        axes[-1].set_xlabel(self._xlabel())
        fig.suptitle(_prediction_line(self, b), fontsize=10, y=1 - 0.1 / fig.get_figheight(),
                     va="top")
        out["spectrum"] = f"{stem}_spectrum.png"
        fig.savefig(folder / out["spectrum"], dpi=100)
        # 2. the scalogram and the attribution, with the region contours
        fig = Figure(figsize=(8, 6.5))
        _fixed_layout(fig, 2, left=0.9, top=0.3, gap=0.4)
        ax1, ax2 = fig.subplots(2, 1, sharex=True)
        self.plot(b, kind="scalogram", ax=ax1)
        ax1.set_title("|Tx| with region contours", fontsize=10, loc="left", y=1.0)
        ax1.set_xlabel("")  # shared with the panel below
        self.plot(b, kind="attribution", ax=ax2)
        ax2.set_title(f"attribution ({self.method}, positive part)", fontsize=10, loc="left",
                      y=1.0)
        out["scalogram"] = f"{stem}_scalogram.png"
        fig.savefig(folder / out["scalogram"], dpi=100)
        # 3. the components alone
        fig = Figure(figsize=(8, 3))
        _fixed_layout(fig, 1, left=0.65, top=0.15)
        self.plot(b, kind="components", ax=fig.subplots())
        out["components"] = f"{stem}_components.png"
        fig.savefig(folder / out["components"], dpi=100)
        return out

    # ------------------------------------------------------------------ save
    def save(self, out_dir, *, figures: bool = True, overwrite: bool = False) -> pathlib.Path:
        """Write a report folder, atomically.

        The folder is built as a hidden temporary sibling of ``out_dir`` and renamed into
        place only when every file is written; on any error the temporary folder is
        removed and nothing appears at ``out_dir``.

        Parameters
        ----------
        out_dir : str or os.PathLike
            Folder to create; its parent must exist.
        figures : bool
            Write the PNG figures (three per signal) and link them from ``index.html``.
        overwrite : bool
            Replace an existing ``out_dir`` (removed only after the new folder is
            complete).

        Returns
        -------
        pathlib.Path
            ``out_dir``.

        Raises
        ------
        ValueError
            If ``out_dir`` exists and ``overwrite`` is false, or its parent folder does
            not exist.

        Notes
        -----
        Files: ``report.json`` (:meth:`to_json`), ``components.npz`` (``components``
        (B, R, N), ``labels`` and ``masks`` (B, F, N), ``attribution`` (B, F, N),
        ``signals`` and ``lowpass`` (B, N), ``axis`` (N,), ``probabilities`` (B, K),
        ``predictions``, ``target`` (B,), ``freqs`` (F,)), ``index.html`` and, with
        ``figures``, ``sample_XXXX_spectrum.png``, ``sample_XXXX_scalogram.png`` and
        ``sample_XXXX_components.png`` per signal.
        """
        return atomic_dir(out_dir, lambda tmp: self._write(tmp, figures=figures),
                          overwrite=overwrite)

    def _write(self, folder: pathlib.Path, *, figures: bool) -> None:
        report = self.to_json()
        (folder / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        with open(folder / "components.npz", "wb") as fh:
            np.savez_compressed(
                fh, components=self.components, labels=self.labels, masks=self.masks,
                attribution=self.attribution, signals=self.signals, lowpass=self.lowpass,
                axis=self.axis, probabilities=self.probabilities,
                predictions=self.predictions, target=self.target,
                freqs=self.transform_config.freqs(self.signals.shape[-1]),
            )
        pngs = [self._figures(b, folder) if figures else {} for b in range(self.n_samples)]
        (folder / "index.html").write_text(_html(report, pngs), encoding="utf-8")


def _fixed_layout(fig, n_rows: int, *, left: float, top: float, bottom: float = 0.55,
                  right: float = 0.15, gap: float = 0.0) -> None:
    """Margins and gaps of a column of ``n_rows`` axes, in inches (no layout engine).

    Constrained layout measures every tick label and title by drawing the figure once
    more before saving, which was half the cost of a report's figures; these figures
    have a fixed structure (titles above the panels, y tick labels of a few characters),
    so margins in inches do the same job.
    """
    w, h = fig.get_size_inches()
    axes_h = (h - top - bottom - gap * (n_rows - 1)) / n_rows
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h,
                        top=1 - top / h, hspace=gap / axes_h)


def _package_version() -> str:
    from . import __version__

    return __version__


def _prediction_line(e: Explanation, b: int) -> str:
    names = e.class_names
    p, t = int(e.predictions[b]), int(e.target[b])
    return (f"signal {b}: predicted {names[p]} (p = {e.probabilities[b, p]:.3f}); "
            f"explaining {names[t]} (p = {e.probabilities[b, t]:.3f})")


def _region_title(r: RegionEffect, e: Explanation) -> str:
    lo, hi = r.x_range
    text = (f"region {r.label}: {e.axis_name} {lo:.4g}-{hi:.4g} {e.axis_units}, "
            f"{100 * r.region.mass_share:.0f} % of attribution")
    if r.drop is not None:
        text += f", deleting it: p {r.p_before:.3f} -> {r.p_after:.3f}"
    return text


def _fmt(v, spec: str = ".4g") -> str:
    return "&ndash;" if v is None else format(v, spec)


def _html(report: dict, pngs: list[dict]) -> str:
    """Build the report's ``index.html``: one section per signal, relative links only."""
    esc = html.escape
    units = esc(report["axis"]["units"])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>saliency2signal explanation</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;"
        "text-align:right}img{max-width:100%}</style></head><body>",
        "<h1>saliency2signal explanation</h1>",
        f"<p>Method: {esc(report['method'])}; classes: "
        f"{esc(', '.join(report['class_names']))}; {report['n_samples']} signal(s) of "
        f"{report['n_times']} samples; data: <a href=\"report.json\">report.json</a>, "
        "<a href=\"components.npz\">components.npz</a>.</p>",
    ]
    for s, figs in zip(report["samples"], pngs, strict=True):
        b = s["index"]
        p_pred = s["probabilities"][s["predicted_class"]]
        p_tgt = s["probabilities"][s["target_class"]]
        parts.append(f'<section id="sample-{b}"><h2>Signal {b}</h2>')
        label = "" if s["label"] is None else f"; label {esc(report['class_names'][s['label']])}"
        parts.append(
            f"<p>Predicted <b>{esc(s['predicted_class'])}</b> (p = {_fmt(p_pred, '.3f')}); "
            f"explained class <b>{esc(s['target_class'])}</b> (p = {_fmt(p_tgt, '.3f')})"
            f"{label}. Energy never shown to the model: "
            f"{_fmt(100 * s['unseen']['total'], '.1f')} % ({esc(s['unseen']['note'])}).</p>"
        )
        if s["regions"]:
            parts.append(
                f"<table><tr><th>region</th><th>x-range ({units})</th>"
                "<th>band (cycles/sample)</th><th>peak width (samples)</th>"
                "<th>attribution share</th><th>component energy</th>"
                "<th>p before</th><th>p after deletion</th><th>drop</th>"
                "<th>interference</th></tr>"
            )
            for r in s["regions"]:
                d = r["deletion"] or {}
                w = r["width_samples"]
                inter = r["interference"]
                flag = "&ndash;" if inter is None else ("yes" if inter["flagged"] else "no")
                parts.append(
                    f"<tr><td>{r['label']}</td>"
                    f"<td>{_fmt(r['x_range'][0])} &ndash; {_fmt(r['x_range'][1])}</td>"
                    f"<td>{_fmt(r['band'][0])} &ndash; {_fmt(r['band'][1])}</td>"
                    f"<td>{_fmt(w[0], '.3g')} &ndash; {_fmt(w[1], '.3g')}</td>"
                    f"<td>{_fmt(r['attribution_share'], '.2f')}</td>"
                    f"<td>{_fmt(r['component_energy'], '.3f')}</td>"
                    f"<td>{_fmt(d.get('p_before'), '.3f')}</td>"
                    f"<td>{_fmt(d.get('p_after'), '.3f')}</td>"
                    f"<td>{_fmt(d.get('drop'), '.3f')}</td><td>{flag}</td></tr>"
                )
            parts.append("</table>")
        else:
            parts.append("<p>No region above the attribution threshold.</p>")
        for kind in ("spectrum", "scalogram", "components"):
            if kind in figs:
                name = esc(figs[kind])
                parts.append(f'<p><a href="{name}"><img src="{name}" alt="{kind} of signal '
                             f'{b}"></a></p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# =========================================================================== explain
def _class_index(v, class_names, n_classes: int, name: str) -> np.ndarray:
    """Labels or targets as class indices (ints or class names)."""
    arr = np.asarray(v)
    if arr.dtype.kind in "US":
        lookup = {n: i for i, n in enumerate(class_names)}
        bad = [s for s in arr.ravel().tolist() if s not in lookup]
        if bad:
            raise ValueError(f"{name} holds {bad[0]!r}, not one of the classes "
                             f"{tuple(class_names)}")
        return np.vectorize(lookup.__getitem__, otypes=[np.int64])(arr)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected class indices or names")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad_v = int(arr.min() if arr.min() < 0 else arr.max())
        raise ValueError(f"{name}={bad_v} is out of range for a model with {n_classes} "
                         "classes")
    return arr


def _fit_axis(axis, n_given: int, n: int) -> np.ndarray | None:
    if axis is None:
        return None
    a = np.asarray(as_tensor(axis, name="axis").detach().cpu().numpy(), dtype=np.float64)
    if a.ndim != 1 or a.shape[0] != n_given:
        raise ValueError(f"axis has shape {a.shape}; expected ({n_given},) like the signals")
    if not np.all(np.isfinite(a)):
        raise ValueError("axis contains NaN or inf")
    if n <= n_given:
        return a[:n]
    step = (a[-1] - a[0]) / (n_given - 1)
    return np.concatenate([a, a[-1] + step * np.arange(1, n - n_given + 1)])


def explain(
    model: torch.nn.Module,
    x,
    *,
    metadata: ModelMetadata | None = None,
    transform_config: SSQConfig | None = None,
    imaging_config: ImagingConfig | None = None,
    class_names: Sequence[str] | None = None,
    method: str = "integrated_gradients",
    target="predicted",
    labels=None,
    axis=None,
    keep_mass: float = 0.8,
    max_regions: int = 5,
    min_share: float = 0.02,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    deletion: bool = True,
    interference: bool = False,
    n_steps: int = 32,
    mask_options: Mapping | None = None,
    attribute_options: Mapping | None = None,
) -> Explanation:
    """Explain a model's decisions on signals as regions, components and deletion effects.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier of ``(B, C, H, W)`` images returning ``(B, K)`` logits, on
        ``device``. Eval mode during the call; each submodule's mode is restored.
    x : array_like, shape (n_times,) or (B, n_times)
        Real signals.
    metadata : ModelMetadata, optional
        From :func:`~saliency2signal.io.load_model`: supplies the transform, imaging,
        class names, axis name and units and the length policy (signals are cropped or
        padded by :func:`~saliency2signal.io.fit_length`). Otherwise pass
        ``transform_config`` and ``imaging_config`` (and optionally ``class_names``).
    transform_config : SSQConfig, optional
    imaging_config : ImagingConfig, optional
    class_names : sequence of str, optional
        Default: the metadata's, else ``'class 0'``, ``'class 1'``, ...
    method : str
        Attribution method, see :data:`saliency2signal.saliency.METHODS`.
    target : {'predicted', 'label'} or int or array_like of int
        Class to explain: each signal's predicted class, its given label (needs
        ``labels``), or fixed class indices (one, or one per signal).
    labels : array_like of int or str, shape (B,), optional
        True classes (indices or class names), reported and used by ``target='label'``.
    axis : array_like, shape (n_times,), optional
        x value of each sample as given (cropped or extended with the signals); default
        ``arange(n) / fs`` in the metadata's units, else samples.
    keep_mass : float
        Fraction of the positive attribution mass the mask keeps (``0 < keep_mass <= 1``).
    max_regions : int
        Most regions per signal (largest attribution mass first).
    min_share : float
        Regions holding less than this share of the positive attribution mass are
        dropped (``0 <= min_share < 1``, default 0.02). A mass threshold also keeps
        specks of a few cells; inverted, such a speck can carry far more of the signal
        than its attribution says (on the low-pass row it is a whole baseline). See
        :func:`~saliency2signal.mask.attribution_mask`.
    batch_size : int
        Signals per attribution call (and per transform of the deletion test, whose
        forward pass takes all regions of those signals at once).
    device : str or torch.device
        Where to compute.
    progress : callable, optional
        ``progress(done, total)`` after each batch, ``total = B``.
    deletion : bool
        Measure the effect of deleting each region's component (one forward pass per
        region).
    interference : bool
        Flag regions that coincide with synchrosqueezing interference
        (:func:`~saliency2signal.artefacts.detect_interference`).
    n_steps : int
        Integration steps for ``'integrated_gradients'``.
    mask_options : mapping, optional
        Extra arguments of :func:`~saliency2signal.mask.attribution_mask` (``closing``,
        ``min_duration``, ``sign``, ...). Default: a closing over one image pixel's
        footprint on the grid when the imaging resizes.
    attribute_options : mapping, optional
        Extra arguments of :func:`~saliency2signal.saliency.attribute` (``baselines``,
        ``layer``, ...).

    Returns
    -------
    Explanation

    Raises
    ------
    ValueError
        Signals whose length does not fit the model (naming both), configs that differ
        from the metadata, unknown ``target`` modes, labels out of range or missing for
        ``target='label'``, ``keep_mass`` outside ``(0, 1]``, a bad ``axis``.
    TypeError
        Wrong types for the model, configs, labels or counts.

    Notes
    -----
    Signals are cast to the dtype of the model's parameters (float32 for
    :class:`~saliency2signal.models.ScalogramCNN`) unless the transform fixes a dtype.
    The deletion test subtracts the *linear* masked inverse of the region, which is not
    exactly a signal whose transform lacks those cells (see
    :func:`~saliency2signal.inverse.consistent_inverse`); it asks "does the model still
    decide the same without this part of the signal?", measured on the real pipeline.
    On the CPU these forward passes use an inference-optimised copy of the model (batch
    norm folded into the convolutions, channels-last memory order; the same function to
    float32 rounding, checked on a probe image, else the model itself).
    The low-pass term (mean, slow baseline) is never in the image unless
    ``lowpass_row=True``; its energy fraction is reported as ``unseen``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from saliency2signal import SSQConfig
    >>> from saliency2signal.imaging import ImagingConfig
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 2))
    >>> t = np.arange(128)
    >>> x = np.exp(-0.5 * ((t - 64) / 3.0) ** 2).astype(np.float32)
    >>> e = explain(model, x, transform_config=SSQConfig(nv=8),
    ...             imaging_config=ImagingConfig(normalize="none", size=(16, 16)),
    ...             max_regions=2, n_steps=8)
    >>> e.components.shape[0], e.attribution.shape
    (1, (1, 49, 128))
    >>> sorted(e.to_json()["samples"][0])[:4]
    ['convergence_delta', 'energy', 'index', 'label']
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    tcfg, icfg, names = resolve_configs(metadata, transform_config, imaging_config,
                                         class_names)
    if isinstance(keep_mass, bool) or not isinstance(keep_mass, (int, float)):
        raise TypeError(f"keep_mass={keep_mass!r} must be a number")
    if not 0 < keep_mass <= 1:
        raise ValueError(f"{keep_mass=} must be in (0, 1]")
    min_share = _check_share(min_share)
    for name, value in (("max_regions", max_regions), ("batch_size", batch_size),
                        ("n_steps", n_steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}={value!r} must be an int")
        if value < 1:
            raise ValueError(f"{name}={value} must be >= 1")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress={progress!r} must be callable(done, total)")
    dev = torch.device(device)

    # ---- signals: shape, length policy, dtype
    xt = as_tensor(x, name="x")
    if xt.is_complex() or not (xt.dtype.is_floating_point or xt.dtype in (
            torch.int32, torch.int64)):
        raise TypeError(f"x has dtype {xt.dtype}; expected real signals")
    if xt.ndim not in (1, 2):
        raise ValueError(f"x has shape {tuple(xt.shape)}; expected (n_times,) or "
                         "(n_signals, n_times)")
    xt = xt.reshape(-1, xt.shape[-1])
    n_given = int(xt.shape[-1])
    if metadata is not None:
        check_compatible(metadata, xt)
        xt = fit_length(xt, metadata)
    n = int(xt.shape[-1])
    if n < MIN_LENGTH:
        raise ValueError(f"x has n_times={n}; the transform needs at least {MIN_LENGTH}")
    param = next(iter(model.parameters()), None)
    if tcfg.dtype is None:
        dtype = param.dtype if param is not None else torch.float32
    else:
        dtype = {"float32": torch.float32, "float64": torch.float64}[tcfg.dtype]
    xt = xt.detach().to(device=dev, dtype=dtype)
    if not bool(torch.isfinite(xt).all()):
        raise ValueError("x contains NaN or inf")
    n_b = int(xt.shape[0])

    # ---- axis
    ax_vals = _fit_axis(axis, n_given, n)
    if metadata is not None:
        axis_name, axis_units = metadata.axis_name, metadata.axis_units
        if ax_vals is None:
            ax_vals = tcfg.times(n)
    elif ax_vals is not None:
        axis_name, axis_units = "x", "axis units"
    else:
        axis_name, axis_units = "sample", "samples"
    mask_axis = ax_vals
    if ax_vals is None:
        ax_vals = np.arange(n, dtype=np.float64)

    # The transforms of as many batches as fit in GROUP_BYTES (Tx and Wx) run in one
    # call, ahead of those batches' torch work: one call's fixed costs, and no torch
    # OpenMP threads left spinning by a forward pass just before. The first group's is
    # made here and also serves the probe image.
    group = group_size(batch_size, 2 * tcfg.n_freqs(n) * n * 2 * xt.element_size())
    with torch.no_grad():
        ssq_group = ssq_cwt(xt[:group], tcfg)
        probe_image = to_image(ssq_group.Tx[:1], icfg)

    # ---- labels and targets
    with eval_mode(model), torch.no_grad():
        probe = model(probe_image)
    n_classes = int(probe.shape[-1])
    if names is None:
        names = tuple(f"class {i}" for i in range(n_classes))
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names but the model outputs "
                         f"{n_classes} classes")
    given = None
    if labels is not None:
        given = _class_index(labels, names, n_classes, "labels").reshape(-1)
        if given.shape[0] != n_b:
            raise ValueError(f"labels has {given.shape[0]} entries for {n_b} signals")
    if isinstance(target, str):
        if target not in _TARGET_MODES:
            raise ValueError(f"target={target!r} must be one of {_TARGET_MODES} or class "
                             "indices")
        mode = target
        if mode == "label" and given is None:
            raise ValueError("target='label' needs labels=")
        tgt_all = given if mode == "label" else None
    else:
        if isinstance(target, (bool, float)):
            raise TypeError(f"target={target!r} must be an int, class indices or a mode")
        mode = "fixed"
        tgt_all = np.broadcast_to(_class_index(target, names, n_classes, "target"),
                                  (n_b,)).copy() if np.ndim(target) == 0 else \
            _class_index(target, names, n_classes, "target").reshape(-1)
        if tgt_all.shape[0] != n_b:
            raise ValueError(f"target has {tgt_all.shape[0]} entries for {n_b} signals")

    mopts = dict(default_mask_options(tcfg, icfg, n) if mask_options is None
                 else mask_options)
    aopts = dict(attribute_options or {})
    if method == "integrated_gradients":
        aopts.setdefault("n_steps", n_steps)

    # ---- per batch: attribution, regions, components, energies, deletion
    attrs, labs, comps, txs, lows, probs, tgts, deltas, regions = ([] for _ in range(9))
    energy: dict[str, list] = {}
    unseen_lp, unseen_res = [], []
    r_max = 0
    forward_model = None  # the deletion checks' model (inference_model)
    for s in range(0, n_b, batch_size):
        xb = xt[s:s + batch_size]
        tb = None if tgt_all is None else torch.as_tensor(tgt_all[s:s + batch_size])
        if s and s % group == 0:
            with torch.no_grad():
                ssq_group = ssq_cwt(xt[s:s + group], tcfg)
        # the batch's slice of the group's transform: the attribution, the regions'
        # energies, the components and the energy book-keeping all read it
        a = s % group
        b = a + xb.shape[0]
        ssq = dataclasses.replace(ssq_group, Tx=ssq_group.Tx[a:b], Wx=ssq_group.Wx[a:b],
                                  lowpass=ssq_group.lowpass[a:b])
        res = attribute(model, xb, transform_config=tcfg, imaging_config=icfg,
                        method=method, target=tb, device=dev, result=ssq, **aopts)
        am = attribution_mask(res.attribution, tcfg, value=float(keep_mass),
                              max_regions=int(max_regions), axis=mask_axis,
                              min_share=float(min_share),
                              coefficients=ssq.Tx, **mopts)
        lab_t = torch.from_numpy(np.array(am.labels, dtype=np.int64)).to(dev)
        book = decompose_regions(xb, tcfg, masks=lab_t, result=ssq,
                                 n_regions=int(max_regions))
        fr = book.energy_fractions()
        dec = decompose(xb, tcfg, result=ssq).energy_fractions()
        cb = book.components  # == inverse.components(ssq, masks=lab_t), computed once
        p_before = res.probabilities.gather(1, res.target.reshape(-1, 1))[:, 0]
        effects_p: list[list[float | None]] = [[None] * len(r) for r in am.regions]
        if deletion:
            pairs = [(i, k) for i, rs in enumerate(am.regions) for k in range(len(rs))]
            if pairs:
                if forward_model is None:  # built once per call
                    forward_model = inference_model(model, probe_image)
                xi = torch.stack([xb[i] - cb[i, k].to(xb.dtype) for i, k in pairs])
                pa = signal_probabilities(forward_model, xi, transform_config=tcfg,
                                   imaging_config=icfg, batch_size=batch_size,
                                   forward_batch=len(pairs))
                for j, (i, k) in enumerate(pairs):
                    effects_p[i][k] = float(pa[j, int(res.target[i])])
        flags: list[dict] = []
        if interference:
            from .artefacts import detect_interference, flag_regions

            art = detect_interference(xb, tcfg)
            flags = flag_regions(am.labels, art)
        flag_of = {(f["index"][0], f["label"]): f for f in flags}
        for i, rs in enumerate(am.regions):
            recs = []
            for k, reg in enumerate(rs):
                pa_ik = effects_p[i][k]
                pb = float(p_before[i])
                fl = flag_of.get((i, reg.label))
                recs.append(RegionEffect(
                    region=reg,
                    component_energy=float(fr["components"][i, k]),
                    p_before=pb if pa_ik is not None else None,
                    p_after=pa_ik,
                    drop=None if pa_ik is None else pb - pa_ik,
                    interference=None if fl is None else {
                        "flagged": fl["flagged"],
                        "overlap_fraction": fl["overlap_fraction"],
                        "message": fl["message"]},
                ))
            regions.append(tuple(recs))
            r_max = max(r_max, len(rs))
        attrs.append(res.attribution.cpu().numpy())
        labs.append(np.asarray(am.labels))
        comps.append(cb.detach().cpu().numpy())
        txs.append(ssq.Tx.cpu().numpy())
        lows.append(ssq.lowpass.cpu().numpy())
        probs.append(res.probabilities.cpu().numpy())
        tgts.append(res.target.cpu().numpy())
        if res.convergence_delta is not None:
            deltas.append(res.convergence_delta.cpu().numpy())
        for key, v in fr.items():
            energy.setdefault(key, []).append(v.detach().cpu().numpy())
        unseen_lp.append(dec["lowpass"].cpu().numpy())
        unseen_res.append(dec["residual"].cpu().numpy())
        if progress is not None:
            progress(min(s + batch_size, n_b), n_b)

    probabilities = np.concatenate(probs)
    en = {k: _readonly(np.concatenate(v)) for k, v in energy.items()}
    en["components"] = _readonly(en["components"][:, :r_max])
    settings = {"keep_mass": float(keep_mass), "max_regions": int(max_regions),
                "min_share": float(min_share), "deletion": bool(deletion),
                "interference": bool(interference), "n_steps": int(n_steps),
                "mask_options": json.loads(json.dumps(mopts, default=str))}
    return Explanation(
        signals=_readonly(xt.cpu().numpy()),
        components=_readonly(np.concatenate(comps)[:, :r_max]),
        regions=tuple(regions),
        attribution=_readonly(np.concatenate(attrs)),
        labels=_readonly(np.concatenate(labs)),
        Tx=_readonly(np.concatenate(txs)),
        lowpass=_readonly(np.concatenate(lows)),
        probabilities=_readonly(probabilities),
        predictions=_readonly(probabilities.argmax(-1)),
        target=_readonly(np.concatenate(tgts).astype(np.int64)),
        given_labels=None if given is None else _readonly(given),
        energy=en,
        unseen_lowpass=_readonly(np.concatenate(unseen_lp)),
        unseen_residual=_readonly(np.concatenate(unseen_res)),
        convergence_delta=_readonly(np.concatenate(deltas)) if deltas else None,
        axis=_readonly(np.asarray(ax_vals, dtype=np.float64)),
        axis_name=axis_name,
        axis_units=axis_units,
        class_names=tuple(names),
        method=method,
        target_mode=mode,
        transform_config=tcfg,
        imaging_config=icfg,
        original_n_times=n_given,
        length_policy=None if metadata is None else metadata.length_policy,
        settings=settings,
    )

