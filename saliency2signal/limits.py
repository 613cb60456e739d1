"""Caps on the sizes a file may ask for, checked before any memory is allocated.

A model file or configuration names sizes — the signal length, the image size, the
architecture's widths — and a crafted file of a few kilobytes can name sizes that need
tens of gigabytes. Every such size is checked against the current :class:`Limits` before
anything of that size is built, and a file that asks for more is refused with a
``ValueError`` naming the limit. The defaults cover real spectra and scalogram CNNs with
room to spare; raise a limit for work you trust with :func:`raised`, which applies to
the calling thread (and its asyncio task) only.

May import: the standard library only (nothing else of the package).

Examples
--------
>>> from saliency2signal import limits
>>> limits.current().max_image_pixels
1048576
>>> with limits.raised(max_image_pixels=4096 * 4096):
...     limits.current().max_image_pixels
16777216
>>> limits.check("max_image_pixels", 2048 * 2048,
...              what="image size 2048 x 2048")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: image size 2048 x 2048 needs 4194304, more than max_image_pixels=1048576; ...
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Limits", "check", "check_inflation", "current", "raised"]

_INFLATE_FLOOR = 2**20


@dataclass(frozen=True)
class Limits:
    """The caps in force (counts, except the one in bytes).

    Attributes
    ----------
    max_signal_length : int
        Samples per signal (``n_times`` of a model file). Default ``2**20``.
    max_grid_cells : int
        Cells ``n_freqs * n_times`` of one signal's transform. Default ``2**24`` (a
        complex64 plane of 128 MiB; a 10 000-point spectrum at ``nv=64`` has 9 M).
    max_image_pixels : int
        Pixels ``height * width`` of one model input image. Default ``2**20``
        (1024 x 1024).
    max_parameters : int
        Parameters of a network built from a file's architecture. Default ``2**25``
        (128 MiB of float32; the bundled CNN has 60 k).
    max_activations : int
        Values in the largest intermediate tensor of a network built from a file's
        architecture, for one image. Default ``2**24`` (64 MiB of float32).
    max_png_pixels : int
        Pixels of a PNG read back (hand-drawn masks, heatmaps, scalograms), checked from
        its header before it is decoded. Default ``2**23`` (about 2900 x 2900; decoded
        as float64 RGB, 192 MiB).
    max_metadata_bytes : int
        Bytes of a JSON block read from a file: a model file's metadata, a scalogram
        geometry record. Default ``2**20``; real ones are a few kB.
    max_inflation : int
        How many times larger than its compressed bytes a member of a zip archive (a
        model file, an ``.npz``) may become, checked before it is decompressed; members
        under 1 MiB are not checked. Default 100 (torch writes model files uncompressed;
        ``numpy.savez_compressed`` shrinks real spectra 1-5 times).
    """

    max_signal_length: int = 2**20
    max_grid_cells: int = 2**24
    max_image_pixels: int = 2**20
    max_parameters: int = 2**25
    max_activations: int = 2**24
    max_png_pixels: int = 2**23
    max_metadata_bytes: int = 2**20
    max_inflation: int = 100

    def __post_init__(self):  # noqa: D105 - validation
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name}={value!r} must be a positive int")


_DEFAULT = Limits()
_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar(
    "saliency2signal_limits", default=None
)


def current() -> Limits:
    """Return the limits in force in this thread or task."""
    return _CURRENT.get() or _DEFAULT


@contextlib.contextmanager
def raised(**changes: int) -> Iterator[Limits]:
    """Run a block with some limits changed (for input you trust).

    Parameters
    ----------
    **changes : int
        New values of :class:`Limits` fields.

    Yields
    ------
    Limits
        The limits in force inside the block.

    Raises
    ------
    ValueError
        An unknown limit name or a value that is not a positive int.
    """
    names = {f.name for f in dataclasses.fields(Limits)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ValueError(f"unknown limit(s) {unknown}; choose from {sorted(names)}")
    new = dataclasses.replace(current(), **changes)
    token = _CURRENT.set(new)
    try:
        yield new
    finally:
        _CURRENT.reset(token)


def check(name: str, value: int, *, what: str) -> None:
    """Raise ``ValueError`` if ``value`` exceeds the limit ``name``.

    Parameters
    ----------
    name : str
        A :class:`Limits` field.
    value : int
        What the input asks for.
    what : str
        What is being asked for, for the message (e.g. ``"n_times=100000000"``).
    """
    cap = getattr(current(), name)
    if value > cap:
        raise ValueError(
            f"{what} needs {value}, more than {name}={cap}; for input you "
            f"trust, raise it with saliency2signal.limits.raised({name}=...) "
            f"or the command-line option --limit {name}=..."
        )


def check_inflation(size: int, compressed: int, *, what: str) -> None:
    """Raise ``ValueError`` if ``compressed`` bytes would inflate to ``size`` bytes.

    Parameters
    ----------
    size, compressed : int
        Declared size of a zip member and its compressed size (from the archive's
        directory: nothing is decompressed).
    what : str
        The member, for the message.

    Examples
    --------
    >>> check_inflation(2**30, 2**20, what="'x.npy' in 'data.npz'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'x.npy' in 'data.npz' would inflate 1024 times..., more than max_inflation=100; ...
    """
    cap = current().max_inflation
    if size > _INFLATE_FLOOR and size > cap * max(compressed, 1):
        raise ValueError(
            f"{what} would inflate {size // max(compressed, 1)} times (from "
            f"{compressed} to {size} bytes), more than max_inflation={cap}; "
            "for input you trust, raise it with "
            "saliency2signal.limits.raised(max_inflation=...) or the "
            "command-line option --limit max_inflation=..."
        )
