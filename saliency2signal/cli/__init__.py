"""Command-line interface: parses arguments, calls the public API, writes files.

No numerics live here. Errors print one line to stderr and exit with status 2 (bad input)
or 1 (the system failed: a full disk, no permission; or an internal error). The output path
is checked before any computation; outputs are written atomically (to a temporary sibling
moved into place) and never replace, hold or lie inside anything the command reads.

Layout: ``_parser`` (the commands and their options), ``_commands`` (one function per
command), ``_inputs`` (reading untrusted input files, labels and configurations; safe
outputs); :func:`main` here turns every failure into one line and an exit status.

May import: any public module of the package, ``limits``, ``_files`` and ``_version``;
nothing imports it.
"""

from __future__ import annotations

import os
import sys

from .. import limits
from ._inputs import CLIError, one_line
from ._parser import build_parser

__all__ = ["CLIError", "main"]


def _os_message(exc: OSError) -> str:
    """``FILE: reason`` on one line, without the ``[Errno N]`` prefix."""
    if exc.strerror is None:
        return one_line(exc)
    text = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    return " ".join(str(text).split())


def _silence_stdout() -> None:
    """Point stdout at the null device so that the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced or without a fd
        pass


def _limit_changes(items: list[str]) -> dict[str, int]:
    """``['max_image_pixels=4194304', ...]`` as keyword arguments of ``limits.raised``."""
    changes = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            changes[name.strip()] = int(value)  # int() takes 4_194_304 too
        except ValueError:
            raise CLIError(
                f"--limit {item!r} must be NAME=INTEGER, e.g. max_image_pixels=4194304"
            ) from None
    return changes


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``saliency2signal`` console script."""
    args = build_parser().parse_args(argv)
    try:
        with limits.raised(**_limit_changes(args.limit)):
            status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:  # `... | head`: the reader has all it wanted
        _silence_stdout()
        return 0
    except (ValueError, TypeError) as exc:  # CLIError, and the API's own input errors
        print(f"saliency2signal {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, no permission
        print(f"saliency2signal {args.command}: error: {_os_message(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            f"saliency2signal {args.command}: error: out of memory; process fewer "
            "signals at a time",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # noqa: BLE001 - a user sees one line, never a traceback
        print(
            f"saliency2signal {args.command}: internal error: {type(exc).__name__}: "
            f"{one_line(exc)}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"saliency2signal {args.command}: interrupted", file=sys.stderr)
        return 130
