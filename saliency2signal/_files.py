"""Atomic file writes shared by the CLI, model files and reports."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_dir", "atomic_write"]


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


def atomic_dir(path, writer, *, overwrite: bool = False) -> Path:
    """Create the folder ``path`` all at once: ``writer(tmp)`` fills a hidden sibling.

    The temporary folder is renamed into place only when ``writer`` returns; on any error
    it is removed and nothing appears at ``path``. With ``overwrite`` an existing folder is
    moved aside first and deleted only after the new one is in place.

    Parameters
    ----------
    path : str or path-like
        Folder to create; its parent must exist.
    writer : callable
        Called with the temporary folder (a :class:`pathlib.Path`).
    overwrite : bool
        Replace an existing ``path``; otherwise raise ``ValueError``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValueError(f"{str(path)!r} already exists; pass overwrite=True to replace it")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: folder {str(parent)!r} does not exist")
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; give a normal folder
        writer(tmp)
        if path.exists():  # overwrite=True: move the old folder aside first
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / "old")
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
