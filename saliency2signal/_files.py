"""Atomic file writes shared by the CLI, model files and reports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, writer, *, overwrite: bool = True, inputs=()) -> Path:
    """Write ``path`` all at once: ``writer(tmp)`` fills a temporary sibling, then rename.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder must exist.
    writer : callable
        Called with the temporary file's path (a ``str``); writes the content there.
    overwrite : bool
        Replace an existing ``path``; otherwise raise ``ValueError`` (also when the file
        appears while writing, where hard links are available).
    inputs : sequence of path-like
        Files that must never be replaced (the command's inputs).

    Returns
    -------
    pathlib.Path
        The written path. On any error nothing is left behind. The file gets the usual
        permissions (``0o666`` less the umask), not the private ones of a temporary file.
    """
    path = Path(path)
    if any(path.resolve() == Path(p).resolve() for p in inputs):
        raise ValueError(f"{path}: refusing to overwrite an input file")
    if path.exists() and not overwrite:
        raise ValueError(f"{str(path)!r} already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not "
                         "exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:  # link fails if the path appeared meanwhile: never clobber
                os.link(tmp, path)
            except FileExistsError:
                raise ValueError(f"{str(path)!r} already exists; pass overwrite=True to "
                                 "replace it") from None
            except OSError:  # file systems without hard links
                if path.exists():
                    raise ValueError(f"{str(path)!r} already exists; pass overwrite=True "
                                     "to replace it") from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
