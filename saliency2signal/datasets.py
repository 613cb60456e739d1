"""Spectra with a known answer, and readers for the spectra that ship with the repository.

:func:`make_planted_spectra` draws synthetic spectra whose class is decided by one
Gaussian peak of known position and width (the *planted* peak), hidden among decoy peaks
that both classes share, on sloped and curved baselines, with noise. Every sample comes
with its ground truth — the peak's centre, width, amplitude, the window
``centre ± 3 widths`` and the planted component itself — so an explanation can be
scored against the truth (does the saliency fall in the window; does the recovered
component correlate with the planted one).

:func:`load_coffee` and :func:`load_planted` read the two data sets committed in the
repository's ``data/`` folder (``coffee.npz``, written by ``data/make_coffee.py``, and
``planted.npz``, written by ``data/make_planted.py``). The files are part of the source
repository, not of the installed package: the readers find ``data/`` next to the
package directory, which is where it is in a source checkout or an editable install
(``pip install -e .``); elsewhere pass ``path=``.

:func:`load_brewed_coffee` reads a second real data set that ships inside another
installed package: the ATR-FTIR spectra of brewed coffee from three origins in
``chemotools`` (its CSV files, read with :mod:`importlib.resources`; chemotools' own
code is not run, and nothing of scikit-learn is imported).

May import: numpy, ``._validation``, the standard library (``importlib.resources``), the
data files of the optional package ``chemotools``; never another stage (the data sets
are plain arrays).
"""

from __future__ import annotations

import importlib.resources
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validation import check_choice, check_int, check_real, check_rng, check_strings

__all__ = [
    "DATA_DIR",
    "LabelledSpectra",
    "PlantedSpectra",
    "load_brewed_coffee",
    "load_coffee",
    "load_planted",
    "make_planted_spectra",
]

#: The repository's ``data/`` folder (next to the package directory).
DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "data"

#: Ground-truth arrays of :class:`PlantedSpectra`, as stored per split in ``planted.npz``.
_TRUTH = ("centres", "widths", "amplitudes", "windows", "components", "decoy_centres")
_SPLITS = ("train", "test")

#: Where chemotools keeps its data files, and the extra that installs it.
_CHEMOTOOLS_DATA = "chemotools.datasets.data"
_CHEMOTOOLS_HINT = "pip install chemotools (or pip install 'saliency2signal[data]')"


@dataclass(frozen=True, eq=False)
class LabelledSpectra:
    """Spectra, their class labels and the axis they are sampled on.

    Attributes
    ----------
    x : numpy.ndarray, shape (n_samples, n_points)
        The spectra.
    y : numpy.ndarray of int64, shape (n_samples,)
        Class index of each spectrum.
    class_names : tuple of str
        Name of each class index.
    axis : numpy.ndarray, shape (n_points,)
        Position of each point (wavenumber, or the point index when unknown).
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    axis: np.ndarray

    @property
    def n_samples(self) -> int:
        """Number of spectra."""
        return int(self.x.shape[0])

    @property
    def n_points(self) -> int:
        """Points per spectrum."""
        return int(self.x.shape[1])


@dataclass(frozen=True, eq=False)
class PlantedSpectra(LabelledSpectra):
    """Output of :func:`make_planted_spectra`: spectra with their planted ground truth.

    Attributes
    ----------
    x, y, class_names, axis
        As :class:`LabelledSpectra`; ``axis`` is a wavenumber axis in cm^-1.
    centres : numpy.ndarray, shape (n_samples,)
        Centre of the planted peak (axis units). For a class without the peak it is
        where the peak would have been (the evidence of absence is there).
    widths : numpy.ndarray, shape (n_samples,)
        Standard deviation (sigma) of the planted Gaussian peak (axis units).
    amplitudes : numpy.ndarray, shape (n_samples,)
        Height of the planted peak; 0 where the sample's class has no peak.
    windows : numpy.ndarray, shape (n_samples, 2)
        ``centres ± 3 * widths``: where the planted peak (more than 99.7 % of its
        area) lives.
    components : numpy.ndarray, shape (n_samples, n_points)
        The planted peak itself, ``x`` minus everything else (zeros without a peak).
    decoy_centres : numpy.ndarray, shape (n_samples, n_decoys)
        Centres of the decoy peaks (drawn the same way for every class, never within
        the planted windows).
    """

    centres: np.ndarray
    widths: np.ndarray
    amplitudes: np.ndarray
    windows: np.ndarray
    components: np.ndarray
    decoy_centres: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """Whether each sample carries a planted peak, shape ``(n_samples,)``."""
        return self.amplitudes > 0

    def window_mask(self) -> np.ndarray:
        """Boolean ``(n_samples, n_points)``: the axis points inside each sample's window."""
        lo, hi = self.windows[:, :1], self.windows[:, 1:]
        return (self.axis >= lo) & (self.axis <= hi)


def _range(value, name: str, *, positive: bool = True) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be a pair of numbers (lo, hi)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi) or (positive and lo <= 0):
        raise ValueError(
            f"{name}={value!r} must be finite with {'0 < ' if positive else ''}lo <= hi"
        )
    return lo, hi


def _gauss(axis: np.ndarray, centre, width) -> np.ndarray:
    return np.exp(-0.5 * ((axis - centre) / width) ** 2)


def make_planted_spectra(
    n_samples: int,
    *,
    n_points: int = 400,
    axis_range: tuple[float, float] = (400.0, 1800.0),
    class_centres: Sequence[float | None] = (None, 1000.0),
    class_names: Sequence[str] | None = None,
    centre_jitter: float = 10.0,
    width_range: tuple[float, float] = (12.0, 18.0),
    amplitude_range: tuple[float, float] = (0.5, 1.0),
    n_decoys: int = 4,
    decoy_width_range: tuple[float, float] = (8.0, 30.0),
    decoy_amplitude_range: tuple[float, float] = (0.5, 1.2),
    baseline_scale: float = 1.0,
    noise: float = 0.03,
    rng=None,
) -> PlantedSpectra:
    """Draw synthetic spectra whose class is decided by one planted peak.

    Each spectrum is ``baseline + decoys + planted + noise`` on a wavenumber axis:

    * ``planted``: a Gaussian peak ``a exp(-(v - c)^2 / (2 s^2))`` whose nominal centre
      depends on the class (``class_centres``; ``None`` means the class has no peak),
      jittered by ``U(-centre_jitter, centre_jitter)``, with ``s`` from
      ``width_range`` and ``a`` from ``amplitude_range``;
    * ``decoys``: ``n_decoys`` Gaussian peaks drawn the same way for every class (so
      they carry no class information), comparable in height to the planted peak,
      centred at least ``3 * (s + s_decoy)`` plus the jitter away from every planted
      centre;
    * ``baseline``: ``b0 + b1 t + b2 t^2`` on ``t`` in [-1, 1] (sloped and curved),
      coefficients ``U(-1, 1) * baseline_scale``;
    * ``noise``: white Gaussian, standard deviation ``noise``.

    Classes are balanced (``n_samples % n_classes`` classes get one more) and shuffled.

    Parameters
    ----------
    n_samples : int
        Number of spectra (>= 1).
    n_points : int
        Points per spectrum (>= 16).
    axis_range : (float, float)
        First and last wavenumber (cm^-1) of the evenly spaced axis.
    class_centres : sequence of float or None
        Nominal planted centre of each class (at least two classes, distinct values,
        inside ``axis_range``); ``None`` for a class without the peak. The default is
        *presence*: class 0 has no peak, class 1 a peak at 1000 cm^-1. Two numbers
        give *position* classes.
    class_names : sequence of str, optional
        Default: ``'absent'`` for a ``None`` centre, ``'peak@<centre>'`` otherwise.
    centre_jitter : float
        Half-width of the uniform jitter of the planted centre (>= 0).
    width_range, amplitude_range : (float, float)
        Uniform ranges of the planted peak's sigma (axis units) and height.
    n_decoys : int
        Decoy peaks per spectrum (>= 0).
    decoy_width_range, decoy_amplitude_range : (float, float)
        Uniform ranges of the decoys' sigma and height.
    baseline_scale : float
        Size of the baseline coefficients (>= 0).
    noise : float
        Noise standard deviation (>= 0).
    rng : int, numpy.random.Generator or None
        Seed or generator; the same seed gives the same spectra.

    Returns
    -------
    PlantedSpectra
        ``x``, ``y``, ``class_names``, ``axis`` and the ground truth: ``centres``,
        ``widths``, ``amplitudes``, ``windows`` (``centres ± 3 widths``),
        ``components`` (the planted peak, ``(n_samples, n_points)``) and
        ``decoy_centres``.

    Raises
    ------
    ValueError
        Counts, ranges or centres out of range; no room on the axis for the decoys.
    TypeError
        ``rng`` of another type; ranges that are not pairs of numbers.

    Examples
    --------
    >>> import numpy as np
    >>> d = make_planted_spectra(6, n_points=200, rng=0)
    >>> d.x.shape, d.class_names, np.bincount(d.y).tolist()
    ((6, 200), ('absent', 'peak@1000'), [3, 3])
    >>> bool(np.all(d.present == (d.y == 1)))
    True
    >>> inside = d.window_mask()
    >>> bool(np.all(np.abs(d.components[~inside]) < 0.02))   # the peak sits in its window
    True
    >>> pos = make_planted_spectra(4, class_centres=(800.0, 1300.0), rng=1)
    >>> pos.class_names, bool(np.all(pos.present))
    (('peak@800', 'peak@1300'), True)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_points = check_int(n_points, "n_points", minimum=16)
    n_decoys = check_int(n_decoys, "n_decoys", minimum=0)
    v0, v1 = _range(axis_range, "axis_range", positive=False)
    if v0 >= v1:
        raise ValueError(f"{axis_range=} must be increasing")
    width_range = _range(width_range, "width_range")
    amplitude_range = _range(amplitude_range, "amplitude_range")
    decoy_width_range = _range(decoy_width_range, "decoy_width_range")
    decoy_amplitude_range = _range(decoy_amplitude_range, "decoy_amplitude_range")
    centre_jitter = check_real(centre_jitter, "centre_jitter", low=0)
    baseline_scale = check_real(baseline_scale, "baseline_scale", low=0)
    noise = check_real(noise, "noise", low=0)
    classes = _classes(
        class_centres,
        class_names,
        bounds=(v0, v1),
        axis_range=axis_range,
        width_hi=width_range[1],
        centre_jitter=centre_jitter,
    )
    gen = check_rng(rng)

    # the draws, in the order that made the bundled data and models
    axis = np.linspace(v0, v1, n_points)
    y = gen.permutation(np.arange(n_samples) % len(classes.centres)).astype(np.int64)
    planted = _planted(
        gen,
        axis,
        y,
        classes,
        centre_jitter=centre_jitter,
        width_range=width_range,
        amplitude_range=amplitude_range,
    )
    margin = 3 * (width_range[1] + decoy_width_range[1]) + centre_jitter
    decoy_centres, decoys = _decoys(
        gen,
        axis,
        classes.peaks,
        n_samples=n_samples,
        n_decoys=n_decoys,
        margin=margin,
        width_range=decoy_width_range,
        amplitude_range=decoy_amplitude_range,
        bounds=(v0, v1),
        axis_range=axis_range,
    )
    t = np.linspace(-1.0, 1.0, n_points)
    coef = gen.uniform(-1.0, 1.0, (n_samples, 3)) * baseline_scale
    baseline = coef[:, :1] + coef[:, 1:2] * t + coef[:, 2:] * t**2
    x = baseline + decoys + planted.components + noise * gen.standard_normal((n_samples, n_points))
    return PlantedSpectra(
        x=x,
        y=y,
        class_names=classes.names,
        axis=axis,
        centres=planted.centres,
        widths=planted.widths,
        amplitudes=planted.amplitudes,
        windows=planted.windows,
        components=planted.components,
        decoy_centres=decoy_centres,
    )


class _Classes(NamedTuple):
    """Checked classes of :func:`make_planted_spectra`."""

    centres: list[float | None]  # nominal planted centre per class, None = no peak
    peaks: list[float]  # the centres that are not None, in class order
    names: tuple[str, ...]


def _classes(
    class_centres, class_names, *, bounds, axis_range, width_hi: float, centre_jitter: float
) -> _Classes:
    """Check the class centres (their windows inside the axis) and name the classes."""
    if isinstance(class_centres, str) or not isinstance(class_centres, Sequence):
        raise TypeError(f"class_centres={class_centres!r} must be a sequence")
    centres = [None if c is None else float(c) for c in class_centres]
    if len(centres) < 2:
        raise ValueError(f"{class_centres=} must name at least two classes")
    if len(set(centres)) != len(centres):
        raise ValueError(f"{class_centres=} must be distinct")
    peaks = [c for c in centres if c is not None]
    if not peaks:
        raise ValueError(f"{class_centres=} must give at least one class a peak")
    v0, v1 = bounds
    for c in peaks:
        if not v0 + 3 * width_hi + centre_jitter <= c <= v1 - 3 * width_hi - centre_jitter:
            raise ValueError(
                f"class centre {c} with its window (3 * {width_hi} + "
                f"{centre_jitter}) must lie inside {axis_range=}"
            )
    if class_names is None:
        return _Classes(
            centres, peaks, tuple("absent" if c is None else f"peak@{c:g}" for c in centres)
        )
    names = check_strings(class_names, "class_names")
    if len(names) != len(centres) or len(set(names)) != len(names):
        raise ValueError(
            f"{class_names=} must be {len(centres)} distinct names, one per class centre"
        )
    return _Classes(centres, peaks, names)


class _Planted(NamedTuple):
    """The planted peak of each sample and its ground truth."""

    centres: np.ndarray
    widths: np.ndarray
    amplitudes: np.ndarray
    windows: np.ndarray
    components: np.ndarray


def _planted(
    gen, axis, y, classes: _Classes, *, centre_jitter, width_range, amplitude_range
) -> _Planted:
    """Draw the planted peak of each sample (amplitude 0 for a class without one)."""
    n_samples = y.size
    has_peak = np.array([classes.centres[k] is not None for k in y])
    nominal = np.array(
        [classes.peaks[0] if c is None else c for c in (classes.centres[k] for k in y)]
    )
    centres = nominal + gen.uniform(-centre_jitter, centre_jitter, n_samples)
    widths = gen.uniform(*width_range, n_samples)
    amplitudes = np.where(has_peak, gen.uniform(*amplitude_range, n_samples), 0.0)
    windows = np.stack([centres - 3 * widths, centres + 3 * widths], axis=1)
    components = amplitudes[:, None] * _gauss(axis, centres[:, None], widths[:, None])
    return _Planted(centres, widths, amplitudes, windows, components)


def _decoys(
    gen,
    axis,
    peaks,
    *,
    n_samples,
    n_decoys,
    margin,
    width_range,
    amplitude_range,
    bounds,
    axis_range,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the decoy peaks: anywhere on the axis but clear of every planted window.

    Returns the sorted decoy centres ``(n_samples, n_decoys)`` and their sum per
    sample ``(n_samples, n_points)``.
    """
    grid = np.linspace(*bounds, 4 * axis.size)
    allowed = np.all(np.abs(grid[:, None] - np.array(peaks)[None, :]) > margin, axis=1)
    if n_decoys and not allowed.any():
        raise ValueError(
            f"no room for decoys on {axis_range=} with margin {margin:g} around "
            f"the class centres {peaks}"
        )
    centres = np.sort(gen.choice(grid[allowed], size=(n_samples, n_decoys)), axis=1)
    widths = gen.uniform(*width_range, (n_samples, n_decoys))
    amps = gen.uniform(*amplitude_range, (n_samples, n_decoys))
    decoys = np.einsum("bd,bdn->bn", amps, _gauss(axis, centres[..., None], widths[..., None]))
    return centres, decoys


def _split(split: str) -> str:
    return check_choice(split, _SPLITS, "split")


def _open(name: str, path) -> dict[str, np.ndarray]:
    file = DATA_DIR / name if path is None else pathlib.Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"{str(file)!r} not found: the data sets ship in the source repository's data/ "
            f"folder (use a checkout or an editable install, or pass path=)"
        )
    with np.load(file, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def load_coffee(split: str = "train", *, path=None) -> LabelledSpectra:
    """Read the UCR *Coffee* FTIR spectra committed as ``data/coffee.npz``.

    28 training and 28 test spectra of 286 points, z-normalised per spectrum,
    classes ``('Arabica', 'Robusta')``. The archive documents no wavenumber axis, so
    ``axis`` is the point index. Source and licence: ``data/make_coffee.py``.

    Parameters
    ----------
    split : {'train', 'test'}
        Which split.
    path : str or os.PathLike, optional
        The ``.npz`` file (default: ``data/coffee.npz`` of the repository).

    Returns
    -------
    LabelledSpectra

    Raises
    ------
    ValueError
        Unknown split.
    FileNotFoundError
        No data file (the data ships with the repository, not with a built wheel).

    Examples
    --------
    >>> d = load_coffee("test")
    >>> d.x.shape, d.class_names
    ((28, 286), ('Arabica', 'Robusta'))
    """
    split = _split(split)
    arrays = _open("coffee.npz", path)
    return LabelledSpectra(
        x=arrays[f"X_{split}"],
        y=arrays[f"y_{split}"].astype(np.int64),
        class_names=tuple(str(c) for c in arrays["class_names"]),
        axis=arrays["axis"],
    )


def load_planted(split: str = "train", *, path=None) -> PlantedSpectra:
    """Read the synthetic planted-peak spectra committed as ``data/planted.npz``.

    120 training and 60 test spectra of 400 points on a 400–1800 cm^-1 axis, classes
    ``('absent', 'peak@1000')``, with their ground truth (see
    :class:`PlantedSpectra`); written by ``data/make_planted.py`` with
    :func:`make_planted_spectra` and a fixed seed. Arrays are stored as float32.

    Parameters
    ----------
    split : {'train', 'test'}
        Which split.
    path : str or os.PathLike, optional
        The ``.npz`` file (default: ``data/planted.npz`` of the repository).

    Returns
    -------
    PlantedSpectra

    Raises
    ------
    ValueError
        Unknown split.
    FileNotFoundError
        No data file.

    Examples
    --------
    >>> d = load_planted("test")
    >>> d.x.shape, d.class_names, d.components.shape
    ((60, 400), ('absent', 'peak@1000'), (60, 400))
    """
    split = _split(split)
    arrays = _open("planted.npz", path)
    return PlantedSpectra(
        x=arrays[f"X_{split}"],
        y=arrays[f"y_{split}"].astype(np.int64),
        class_names=tuple(str(c) for c in arrays["class_names"]),
        axis=arrays["axis"],
        **{k: arrays[f"{k}_{split}"] for k in _TRUTH},
    )


def _chemotools_csv(name: str):
    """Open data file ``name`` of chemotools as text, without running chemotools' code."""
    try:
        files = importlib.resources.files(_CHEMOTOOLS_DATA)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"load_brewed_coffee reads the spectra that the chemotools package ships, and "
            f"chemotools is not installed: {_CHEMOTOOLS_HINT}",
            name="chemotools",
        ) from err
    return files.joinpath(name).open("r", encoding="utf-8")


def _brewed_coffee_arrays() -> tuple[np.ndarray, list[str]]:
    """All 60 spectra and their origin names, in the order of chemotools' files."""
    with _chemotools_csv("coffee_spectra.csv") as fh:
        header = fh.readline().strip().split(",")
        x = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    with _chemotools_csv("coffee_labels.csv") as fh:
        column = fh.readline().strip()
        labels = [line.strip() for line in fh if line.strip()]
    if column != "labels" or x.shape != (len(labels), len(header)):
        raise ValueError(
            f"chemotools' coffee files are not as expected: {x.shape} spectra for "
            f"{len(header)} columns and {len(labels)} labels under {column!r}"
        )
    return x, labels


def _stratified_test(y: np.ndarray, n_classes: int, test_fraction: float, rng) -> np.ndarray:
    """Return the boolean mask of the test samples of a stratified split.

    ``test_fraction`` of each class (rounded), at least one sample of each class on
    each side.
    """
    gen = check_rng(rng)
    test = np.zeros(y.size, dtype=bool)
    for k in range(n_classes):
        members = np.flatnonzero(y == k)
        n_test = min(max(round(test_fraction * members.size), 1), members.size - 1)
        test[gen.permutation(members)[:n_test]] = True
    return test


def load_brewed_coffee(
    split: str = "train", *, test_fraction: float = 0.3, rng=0
) -> LabelledSpectra:
    """Read the ATR-FTIR spectra of brewed coffee that the ``chemotools`` package ships.

    60 spectra of 1841 points, 20 from each of three origins, classes
    ``('Brasil', 'Ethiopia', 'Vietnam')`` (the files' spelling, sorted). The values are
    as stored (absorbances, roughly 0 to 1.1), not normalised. Neither the files nor
    chemotools' own loader (``chemotools.datasets.load_coffee``, whose columns are the
    indices 0..1840) give the wavenumbers, so ``axis`` is the point index.

    The data set has no split of its own: ``'train'`` and ``'test'`` are a stratified
    split drawn here (``test_fraction`` of each origin, rounded, at least one spectrum
    of each origin on each side), the same for the same ``test_fraction`` and ``rng``;
    ``'all'`` is the 60 spectra. Spectra keep the files' order within a split.

    Needs ``chemotools`` installed (``pip install chemotools``, or the ``data`` extra:
    ``pip install 'saliency2signal[data]'``); only its data files are read.

    Parameters
    ----------
    split : {'train', 'test', 'all'}
        Which part.
    test_fraction : float
        Share of each origin put in the test split, in (0, 1). Ignored for ``'all'``.
    rng : int or numpy.random.Generator
        Seed (or generator) of the split. Default 0; a generator advances, so pass a seed
        for the train and the test split to match.

    Returns
    -------
    LabelledSpectra
        ``x`` float64 ``(n_samples, 1841)``, ``y`` int64, ``class_names``, ``axis`` the
        point index (float64).

    Raises
    ------
    ModuleNotFoundError
        chemotools is not installed (the message says how to install it).
    ValueError
        Unknown split; ``test_fraction`` outside (0, 1); ``rng`` a negative int.
    TypeError
        ``test_fraction`` not a number; ``rng`` neither a seed nor a generator.

    Notes
    -----
    Source: the ``chemotools`` package (P. Cabaneros López, MIT licence), data set
    ``coffee`` — coffee spectra of three origins measured off-line by ATR-FTIR.

    Examples
    --------
    >>> d = load_brewed_coffee("test")
    >>> d.x.shape, d.class_names
    ((18, 1841), ('Brasil', 'Ethiopia', 'Vietnam'))
    """
    split = check_choice(split, (*_SPLITS, "all"), "split")
    test_fraction = check_real(
        test_fraction, "test_fraction", low=0, high=1, low_open=True, high_open=True
    )
    if rng is None:
        raise TypeError("rng=None would draw a different split each call: pass a seed")
    x, labels = _brewed_coffee_arrays()
    class_names = tuple(sorted(set(labels)))
    y = np.array([class_names.index(label) for label in labels], dtype=np.int64)
    if split == "all":
        keep = np.ones(y.size, dtype=bool)
    else:
        test = _stratified_test(y, len(class_names), test_fraction, rng)
        keep = test if split == "test" else ~test
    return LabelledSpectra(
        x=x[keep],
        y=y[keep],
        class_names=class_names,
        axis=np.arange(x.shape[1], dtype=np.float64),
    )
