"""Figures: scalograms with exact axes, and recovered components beside the spectrum.

matplotlib is imported here only, so ``import saliency2signal`` stays free of it. Every
function draws on given Axes (``ax=None`` means ``plt.gca()``), returns what it drew,
and never calls ``plt.show()``.

May import: numpy, matplotlib (inside the functions only), ``_grid``, ``_validation``,
``transform``, ``artefacts`` (lazily, for :func:`interference`); never a module that
the numeric API imports (``import saliency2signal`` must not pull matplotlib).
"""

from __future__ import annotations

import numpy as np

from ._grid import geometric_edges, linear_edges
from ._validation import check_axis, check_instance, to_numpy
from .transform import SSQConfig

__all__ = ["REGION_COLORS", "region_color", "scalogram", "components", "interference"]

#: One colour per region (label 1 first), cycled: Okabe and Ito's colour-blind-safe set
#: without its black and its yellow, visible on white and, with the white halo the
#: contours get, on the dark end of a colormap.
REGION_COLORS = ("#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


def region_color(label: int, colors=REGION_COLORS) -> str:
    """Return the colour of region ``label`` (1 = the first region), cycling ``colors``.

    The same colour marks a region everywhere a report draws it: its contour on the
    planes, its shaded x-range and its component.

    Examples
    --------
    >>> from saliency2signal.plot import region_color
    >>> region_color(1), region_color(7)
    ('#E69F00', '#E69F00')
    """
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"label={label!r} must be an int")
    if label < 1:
        raise ValueError(f"{label=} must be >= 1 (0 is the background)")
    return colors[(int(label) - 1) % len(colors)]


def scalogram(
    coef,
    config: SSQConfig,
    *,
    ax=None,
    axis=None,
    labels=None,
    power: float = 0.5,
    cmap: str = "magma",
    label_colors=None,
):
    """Draw ``|coef|**power`` on exact time and frequency axes.

    Parameters
    ----------
    coef : array_like, shape (n_freqs, n_times)
        Tx or Wx of one signal (complex or real), lowest frequency in row 0.
    config : SSQConfig
        The configuration that produced ``coef`` (row frequencies and edges).
    ax : matplotlib.axes.Axes, optional
    axis : array_like, shape (n_times,), optional
        Physical x-axis (e.g. wavenumbers, possibly descending); samples otherwise.
    labels : array_like of int, shape (n_freqs, n_times), optional
        Region labels (0 = background); each region is outlined.
    power : float
        Display exponent; 0.5 keeps thin synchrosqueezed lines visible. The image holds
        ``|coef|`` itself under a :class:`~matplotlib.colors.PowerNorm` from 0, so a
        colorbar of the returned mesh reads ``|coef|`` in the signal's units. The scale
        spans the wavelet rows; a low-pass row (``config.lowpass_row``) saturates.
    cmap : str
    label_colors : sequence of colours, optional
        Outline colours: label ``k`` gets ``label_colors[(k - 1) % len(label_colors)]``
        (default :data:`REGION_COLORS`, as :func:`region_color`). Outlines have a thin
        white halo, so they show on the dark end of the colormap too.

    Returns
    -------
    matplotlib.collections.QuadMesh
        The image; the frequency axis is logarithmic (the low-pass row, if any, is drawn
        in the band just below the first wavelet row).
    """
    import matplotlib.pyplot as plt
    from matplotlib import patheffects
    from matplotlib.colors import PowerNorm

    c = np.abs(to_numpy(coef, name="coef"))
    if c.ndim != 2:
        raise ValueError(f"coef has shape {c.shape}; expected (n_freqs, n_times)")
    n_freqs, n = c.shape
    if n_freqs != config.n_freqs(n):
        raise ValueError(
            f"coef has {n_freqs} rows but config gives {config.n_freqs(n)} for n_times={n}"
        )
    ax = ax if ax is not None else plt.gca()
    fe = config.freq_edges(n).copy()
    if config.lowpass_row:  # give the frequency-0 row a visible band below the first row
        fe[0] = fe[1] ** 2 / fe[2]
    xs = np.arange(n, dtype=np.float64) if axis is None else check_axis(axis, n)
    # the colour scale spans the wavelet rows: the low-pass row (the mean and baseline)
    # would otherwise set it and leave the plane dark; it saturates instead
    shown = c[1:] if config.lowpass_row and n_freqs > 1 else c
    top = float(shown.max()) if shown.size and float(shown.max()) > 0 else 1.0
    mesh = ax.pcolormesh(
        linear_edges(xs),
        fe,
        c,
        shading="flat",
        cmap=cmap,
        norm=PowerNorm(gamma=power, vmin=0.0, vmax=top),
        rasterized=True,
    )
    ax.set_yscale("log")
    ax.set_ylabel("frequency (cycles per sample)" if config.fs == 1 else "frequency")
    ax.set_xlabel("sample" if axis is None else "x")
    if labels is not None:
        lab = to_numpy(labels, name="labels")
        if lab.shape != c.shape:
            raise ValueError(f"labels have shape {lab.shape}; expected {c.shape}")
        centres = np.sqrt(fe[1:] * fe[:-1])
        colors = tuple(label_colors or REGION_COLORS)
        halo = [patheffects.withStroke(linewidth=2.6, foreground="w")]
        for k in np.unique(lab[lab > 0]):
            ax.contour(
                xs,
                centres,
                (lab == k).astype(float),
                levels=[0.5],
                colors=[region_color(int(k), colors)],
                linewidths=1.3,
            ).set_path_effects(halo)
    return mesh


def components(x, comps, *, x_ranges=None, axis=None, axes=None, names=None, baseline=None):
    """One panel per component: the original spectrum over the region, and the component.

    A spectroscopist reads a component against the spectrum it came from, so each
    panel shows the whole signal (thin), the segment over the region's x-range (bold,
    shaded span) and the recovered component on the same axis.

    Parameters
    ----------
    x : array_like, shape (n_times,)
        The signal.
    comps : array_like, shape (n_components, n_times)
        Recovered components (e.g. from :mod:`saliency2signal.inverse`).
    x_ranges : sequence of (start, stop), optional
        Each region's x-range in axis units (or samples); shaded, and the segment of ``x``
        inside it is drawn bold.
    axis : array_like, shape (n_times,), optional
        Physical x-axis; samples otherwise. Descending axes (wavenumbers) are kept.
    axes : sequence of matplotlib Axes, optional
        One per component; a new figure with stacked panels otherwise.
    names : sequence of str, optional
        Panel titles.
    baseline : array_like, shape (n_times,), optional
        Drawn dashed when given (e.g. the low-pass term).

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    xv = to_numpy(x, name="x").astype(np.float64)
    cs = np.atleast_2d(to_numpy(comps, name="comps").astype(np.float64))
    if xv.ndim != 1 or cs.shape[-1] != xv.shape[0]:
        raise ValueError(f"x of shape {xv.shape} and comps of shape {cs.shape} do not match")
    n = xv.shape[0]
    xs = np.arange(n, dtype=np.float64) if axis is None else check_axis(axis, n)
    if x_ranges is not None and len(x_ranges) != len(cs):
        raise ValueError(f"{len(x_ranges)} x_ranges for {len(cs)} components")
    if axes is None:
        fig, axes = plt.subplots(
            len(cs),
            1,
            figsize=(8, 2.2 * len(cs) + 0.6),
            sharex=True,
            squeeze=False,
            constrained_layout=True,
        )
        axes = list(axes[:, 0])
    elif len(axes) != len(cs):
        raise ValueError(f"{len(axes)} axes for {len(cs)} components")
    for i, (ax, c) in enumerate(zip(axes, cs, strict=True)):
        ax.plot(xs, xv, color="0.65", lw=0.8, label="signal")
        if baseline is not None:
            ax.plot(
                xs,
                to_numpy(baseline, name="baseline"),
                color="0.4",
                lw=0.8,
                ls="--",
                label="low-pass",
            )
        if x_ranges is not None:
            lo, hi = sorted(map(float, x_ranges[i]))
            ax.axvspan(lo, hi, color=region_color(i + 1), alpha=0.15, lw=0)
            inside = (xs >= lo) & (xs <= hi)
            ax.plot(
                np.where(inside, xs, np.nan),
                np.where(inside, xv, np.nan),
                color="k",
                lw=1.6,
                label="signal over the region",
            )
        ax.plot(xs, c, color=region_color(i + 1), lw=1.4, label="component")
        if names is not None:
            ax.set_title(str(names[i]), fontsize=10, loc="left", y=1.0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if axis is not None and xs[0] > xs[-1]:
        for ax in axes:
            ax.set_xlim(xs[0], xs[-1])  # keep descending axes (wavenumbers) as given
    axes[-1].set_xlabel("sample" if axis is None else "x")
    return axes


def interference(
    artefacts,
    *,
    index=(),
    ax=None,
    ridges=None,
    axis=None,
    cmap: str = "viridis",
    color: str = "r",
    min_energy: float | None = None,
) -> dict:
    """Phase transform of one signal with its flagged interference and optional ridges.

    Each CWT cell is coloured by its reassigned frequency ``w`` (the phase transform),
    drawn at the row's centre frequency; cells with too little energy are left blank.
    A stationary component gives rows of constant colour; interference shows as
    colour that oscillates along time with period ``1 / |f2 - f1|``. The synchrosqueezed
    cells flagged by :func:`saliency2signal.artefacts.detect_interference` are outlined.

    Parameters
    ----------
    artefacts : saliency2signal.artefacts.Interference
        Output of ``detect_interference``.
    index : tuple of int
        Batch index of the signal to draw (``()`` for a single signal).
    ax : matplotlib.axes.Axes, optional
    ridges : array_like of int, shape (n_ridges, n_times), optional
        Synchrosqueezed row of each ridge per column (negative: no ridge there), drawn
        as lines at the rows' frequencies.
    axis : array_like, shape (n_times,), optional
        Physical x-axis; samples otherwise.
    cmap : str
    color : str
        Colour of the artefact outline.
    min_energy : float, optional
        Cells below this fraction of the strongest row's mean energy are blank
        (default: the detection's ``min_energy``).

    Returns
    -------
    dict
        ``{"image": QuadMesh, "artefacts": QuadContourSet or None (nothing flagged),
        "ridges": list of Line2D}``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from saliency2signal.artefacts import detect_interference
    >>> from saliency2signal.plot import interference
    >>> t = np.arange(2048)
    >>> art = detect_interference(np.cos(0.2 * np.pi * t) + np.cos(0.22 * np.pi * t))
    >>> out = interference(art)
    >>> out["artefacts"] is not None, out["ridges"]
    (True, [])
    """
    import matplotlib.pyplot as plt

    from .artefacts import Interference
    from .artefacts._records import batch_index

    check_instance(artefacts, Interference, "artefacts")
    b = batch_index(index, artefacts.batch_shape)
    w = artefacts.inst_freq[b]
    e = artefacts.energy[b]
    n_rows, n = w.shape
    skip = int(artefacts.config.lowpass_row)
    thr = artefacts.params["min_energy"] if min_energy is None else float(min_energy)
    xs = np.arange(n, dtype=np.float64) if axis is None else check_axis(axis, n)
    ax = ax if ax is not None else plt.gca()
    cf = artefacts.cwt_freqs[skip:]
    img = np.where(e[skip:] >= thr, w[skip:], np.nan)
    shown = img[np.isfinite(img)]
    lims = (np.quantile(shown, 0.01), np.quantile(shown, 0.99)) if shown.size else (None, None)
    fe = geometric_edges(cf)
    mesh = ax.pcolormesh(
        linear_edges(xs),
        fe,
        np.ma.masked_invalid(img),
        shading="flat",
        cmap=cmap,
        vmin=lims[0],
        vmax=lims[1],
        rasterized=True,
    )
    ax.set_yscale("log")
    ax.set_ylabel("frequency (cycles per sample)" if artefacts.config.fs == 1 else "frequency")
    ax.set_xlabel("sample" if axis is None else "x")
    sf = artefacts.freqs
    contour = None
    m = artefacts.mask[b][skip:]
    if m.any():
        contour = ax.contour(
            xs, sf[skip:], m.astype(float), levels=[0.5], colors=[color], linewidths=1.0
        )
    lines = []
    if ridges is not None:
        rr = np.atleast_2d(to_numpy(ridges, name="ridges"))
        if rr.ndim != 2 or rr.shape[-1] != n or not np.issubdtype(rr.dtype, np.integer):
            raise ValueError(
                f"ridges have shape {rr.shape} and dtype {rr.dtype}; expected integer rows "
                f"of shape (n_ridges, {n})"
            )
        if np.any(rr >= n_rows):
            raise ValueError(f"ridges contain rows >= n_freqs={n_rows}")
        for k, r in enumerate(rr):
            fr = np.where((r >= skip), sf[np.clip(r, 0, n_rows - 1)], np.nan)
            lines += ax.plot(xs, fr, color="w", lw=0.9, ls="--" if k % 2 else "-")
    return {"image": mesh, "artefacts": contour, "ridges": lines}
