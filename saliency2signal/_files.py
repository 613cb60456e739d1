"""Safe output files and folders shared by the CLI, model files and reports.

Every output is written to a hidden temporary sibling and moved into place in one step, so
that nothing partial is ever visible. Without ``overwrite`` that move is create-exclusive:
an output that another process created meanwhile is never replaced. Temporary siblings are
named ``.NAME.<host>-<pid>.<random>.<kind>``, so that those left by a run that was killed
can be recognised and removed by the next run that writes ``NAME``.

Internal: plain names, not public API. May import: the standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path

__all__ = ["STALE_AGE_S", "atomic_dir", "atomic_write", "check_output", "remove_stale"]

#: A temporary sibling of another host (whose pid cannot be checked) older than this is stale.
STALE_AGE_S = 24 * 3600

_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_TEMP_NAME = re.compile(
    r"\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[^.]+"
    r"\.(?P<kind>tmp|old|probe)"
)
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(name: str) -> str:
    return f".{name}.{_HOST}-{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # no cheap check: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def _is_stale(entry: Path, match: re.Match) -> bool:
    pid = int(match["pid"])
    if match["host"] == _HOST and pid != os.getpid() and not _pid_alive(pid):
        return True
    try:
        return time.time() - entry.lstat().st_mtime > STALE_AGE_S
    except OSError:
        return False


def remove_stale(path) -> list[Path]:
    """Remove the temporary siblings of ``path`` left behind by runs that were killed.

    A sibling is stale when the process that made it (on this host) is gone, or, for one
    made on another host, when it is older than :data:`STALE_AGE_S`. A folder moved aside
    by an overwrite that was killed before the new folder took its place is moved back to
    ``path`` if nothing is there now.

    Parameters
    ----------
    path : str or path-like
        The output whose siblings are checked; its folder need not exist.

    Returns
    -------
    list of pathlib.Path
        The siblings removed (or restored).
    """
    path = Path(path).absolute()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    removed = []
    for ent in entries:
        match = _TEMP_NAME.fullmatch(ent.name)
        if match is None or match["name"] != path.name:
            continue
        entry = Path(ent.path)
        if not _is_stale(entry, match):
            continue
        try:
            if match["kind"] == "old" and os.path.lexists(entry / "old"):
                # a newer output in place: the old one goes
                with contextlib.suppress(FileExistsError):
                    _rename_noreplace(entry / "old", path)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:  # another run is cleaning up too, or no permission: leave it
            continue
        removed.append(entry)
    return removed


def check_output(
    path,
    *,
    inputs=(),
    overwrite: bool = False,
    folder: bool = False,
    parents: bool = False,
    exists_message: str | None = None,
) -> None:
    """Check, before any work, that ``path`` may be written; remove stale temporaries.

    Parameters
    ----------
    path : str or path-like
        The output file or folder.
    inputs : sequence of path-like
        Paths the caller reads: ``path`` must not be one of them, hold one of them or lie
        inside one of them.
    overwrite : bool
        Whether an existing ``path`` may be replaced.
    folder : bool
        ``path`` is a folder (only an existing folder may be replaced) rather than a file
        (an existing folder is never replaced).
    parents : bool
        Missing parent folders will be created; otherwise the parent must exist.
    exists_message : str, optional
        Message when ``path`` exists and ``overwrite`` is false (default: ``'PATH' already
        exists; pass overwrite=True to replace it``).

    Raises
    ------
    ValueError
        ``path`` is, holds or lies inside an input; it is a dangling symbolic link; it
        exists and may not be replaced, or is not of the kind asked for; a parent is not a
        folder or is missing.
    OSError
        The folder that would hold ``path`` does not accept new entries (read-only,
        no permission): found by creating and removing a hidden probe folder there.
    """
    path = Path(path)
    shown = str(path)
    target = path.resolve()
    for inp in inputs:
        src = Path(inp).resolve()
        if target == src:
            raise ValueError(f"{shown}: refusing to overwrite an input file")
        if src.is_relative_to(target):
            raise ValueError(
                f"{shown}: refusing to overwrite a folder that holds the input {str(inp)!r}"
            )
        if target.is_relative_to(src):
            raise ValueError(f"{shown}: cannot write inside the input {str(inp)!r}")
    if os.path.islink(path) and not os.path.exists(path):
        raise ValueError(f"{shown}: a dangling symbolic link; remove it or choose another output")
    absolute = path.absolute()
    remove_stale(absolute)
    if os.path.lexists(path):
        if folder and not path.is_dir():
            raise ValueError(f"{shown}: exists and is not a folder; refusing to replace it")
        if folder and overwrite and path.is_symlink():
            raise ValueError(f"{shown}: a symbolic link; refusing to replace it")
        if not folder and path.is_dir():
            raise ValueError(f"{shown}: is a folder; give a file name")
        if not overwrite:
            raise ValueError(
                exists_message or f"{shown!r} already exists; pass overwrite=True to replace it"
            )
    parent = absolute.parent
    base = parent
    while not os.path.lexists(base):
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"cannot write {shown!r}: {str(base)!r} is not a folder")
    if base != parent and not parents:
        raise ValueError(f"cannot write {shown!r}: folder {str(parent)!r} does not exist")
    name = absolute.relative_to(base).parts[0]
    try:
        os.rmdir(tempfile.mkdtemp(dir=base, prefix=_prefix(name), suffix=".probe"))
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot write {shown!r}: folder {str(base)!r}: {exc.strerror}"
        ) from None


def _renameat2(src, dst, flags: int) -> bool:
    """``renameat2(2)``; ``False`` where the system or the file system lacks it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))  # FileExistsError for EEXIST


def _rename_noreplace(src, dst) -> None:
    """Move ``src`` to ``dst``, raising ``FileExistsError`` if ``dst`` exists: no race.

    ``renameat2(RENAME_NOREPLACE)`` where available; else for a folder ``mkdir(dst)``
    (exclusive) and a rename onto that empty folder, for a file a hard link.
    """
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.isdir(src):
        os.mkdir(dst)  # FileExistsError if taken; a rename replaces only an empty folder
        os.rename(src, dst)
        return
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # no hard links here: reserve the name exclusively, then replace it
        os.close(os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.replace(src, dst)
        return
    os.unlink(src)


def _release(exc: BaseException) -> None:
    """Clear the finished frames of ``exc`` and of the exceptions chained to it.

    Their locals may hold the writer's open files (torch's zip writer does), which would
    keep a deleted temporary file's space in use for as long as the exception lives.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _write_error(path: Path, folder: Path, exc: BaseException) -> OSError | None:
    """Return the one-line ``OSError`` for a failed write, or ``None`` to re-raise ``exc``.

    Writers that wrap write errors in their own exception types (torch's zip writer raises
    ``RuntimeError``) are recognised by a file system left without free blocks.
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        return OSError(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}")
    if isinstance(exc, Exception) and not isinstance(exc, (ValueError, TypeError)):
        try:
            full = os.statvfs(folder).f_bavail == 0
        except (OSError, AttributeError):
            full = False
        if full:
            return OSError(
                errno.ENOSPC, f"cannot write {str(path)!r}: {os.strerror(errno.ENOSPC)}"
            )
    return None


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        os.mkdir(made)
    return missing


def _remove_made(folders: list[Path]) -> None:
    for made in folders:
        try:
            os.rmdir(made)
        except OSError:  # no longer empty: someone else uses it now
            break


def _run_writer(writer, tmp, path: Path, folder: Path) -> None:
    """Call ``writer(tmp)``; a failure of the file system becomes one clear OSError."""
    try:
        writer(tmp)
    except Exception as exc:
        _release(exc)
        err = _write_error(path, folder, exc)
        if err is None:
            raise
        raise err from exc


def atomic_write(
    path, writer, *, overwrite: bool = True, inputs=(), parents: bool = False
) -> Path:
    """Write ``path`` all at once: ``writer(tmp)`` fills a temporary sibling, then rename.

    Parameters
    ----------
    path : str or path-like
        Destination file.
    writer : callable
        Called with the temporary file's path (a ``str``); writes the content there.
    overwrite : bool
        Replace an existing file (never a folder); otherwise raise ``ValueError``, also
        when the file appears while writing (the final move is create-exclusive).
    inputs : sequence of path-like
        Paths that must never be replaced or written into (the command's inputs).
    parents : bool
        Create missing parent folders (removed again if the write fails); otherwise the
        parent must exist.

    Returns
    -------
    pathlib.Path
        The written path. The file gets the usual permissions (``0o666`` less the umask),
        not the private ones of a temporary file.

    Raises
    ------
    ValueError
        See :func:`check_output`; or the file appeared meanwhile and ``overwrite`` is false.
    OSError
        Writing failed (a full disk, no permission): one line naming ``path``. Nothing is
        left behind: no temporary file, no parent folder made here.
    """
    path = Path(path)
    check_output(path, inputs=inputs, overwrite=overwrite, parents=parents)
    folder = path.absolute().parent
    made = _make_parents(folder) if parents else []
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_prefix(path.name), suffix=".tmp")
        os.close(fd)
        _run_writer(writer, tmp, path, folder)
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                _rename_noreplace(tmp, path)
            except FileExistsError:
                raise ValueError(
                    f"{str(path)!r} already exists (made by another process "
                    "meanwhile); pass overwrite=True to replace it"
                ) from None
    except BaseException:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
        _remove_made(made)
        raise
    return path


def atomic_dir(path, writer, *, overwrite: bool = False, inputs=()) -> Path:
    """Create the folder ``path`` all at once: ``writer(tmp)`` fills a hidden sibling.

    The temporary folder is moved into place only when ``writer`` returns; on any error
    it is removed and nothing appears at ``path``. Without ``overwrite`` the move is
    create-exclusive, so a folder that another process made meanwhile is never replaced.
    With ``overwrite`` an existing folder (never a file) is moved aside first and deleted
    only after the new one is in place; if the run is killed in between, the next run
    writing ``path`` moves it back.

    Parameters
    ----------
    path : str or path-like
        Folder to create; its parent must exist.
    writer : callable
        Called with the temporary folder (a :class:`pathlib.Path`).
    overwrite : bool
        Replace an existing folder; otherwise raise ``ValueError``.
    inputs : sequence of path-like
        Paths that must never be replaced or written into.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        See :func:`check_output`; or ``path`` appeared meanwhile and ``overwrite`` is
        false.
    OSError
        Writing failed (a full disk, no permission): one line naming ``path``.
    """
    path = Path(path)
    exists = f"{str(path)!r} already exists; pass overwrite=True to replace it"
    check_output(path, inputs=inputs, overwrite=overwrite, folder=True, exists_message=exists)
    parent = path.absolute().parent
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=_prefix(path.name), suffix=".tmp"))
    aside = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; give a normal folder
        _run_writer(writer, tmp, path, parent)
        try:
            _rename_noreplace(tmp, path)
        except FileExistsError:
            if not overwrite:
                raise ValueError(
                    f"{str(path)!r} already exists (made by another process "
                    "meanwhile); pass overwrite=True to replace it"
                ) from None
            if path.is_symlink() or not path.is_dir():
                raise ValueError(
                    f"{str(path)!r}: exists and is not a folder; refusing to replace it"
                ) from None
            aside = Path(tempfile.mkdtemp(dir=parent, prefix=_prefix(path.name), suffix=".old"))
            os.rename(path, aside / "old")
            _rename_noreplace(tmp, path)
            shutil.rmtree(aside, ignore_errors=True)
            aside = None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None:
            try:  # put the old folder back unless another one took its place
                if os.path.lexists(aside / "old"):
                    _rename_noreplace(aside / "old", path)
                shutil.rmtree(aside, ignore_errors=True)
            except OSError:
                pass
        raise
    return path
