"""The pipeline file's TOML writer: Python values as TOML text, written by hand.

``tomllib`` reads TOML but does not write it, and a pipeline file holds only strings,
booleans, integers, floats, arrays and inline tables, so :func:`toml_value` writes those
(TOML has no null: a caller leaves a ``None`` key out). Bare keys stay bare, other keys
are quoted; strings are escaped as TOML's basic strings; an array longer than eight
items wraps eight a line; ``inf``/``nan`` keep TOML's spelling.

Internal to :mod:`saliency2signal.pipeline`: :meth:`Pipeline.to_toml` (``._file``)
writes the file's lines with it.
May import: the standard library only (``math``, ``re``); nothing of the package.
"""

from __future__ import annotations

import math
import re

__all__ = ["toml_value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_value(value) -> str:
    """Write a TOML value: string, bool, int, float, list or inline table (not ``None``).

    Raises
    ------
    TypeError
        ``value`` (or an item of it) has no TOML form, ``None`` included.

    Examples
    --------
    >>> print(toml_value({"size": [128, 128], "a key": "viridis", "clip": False}))
    {size = [128, 128], "a key" = "viridis", clip = false}
    """
    if isinstance(value, str):
        return '"' + "".join(_escape(c) for c in value) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            repr(value)
            if math.isfinite(value)
            else {"inf": "inf", "-inf": "-inf"}.get(repr(value), "nan")
        )
    if isinstance(value, (list, tuple)):
        items = [toml_value(v) for v in value]
        if len(items) <= 8:
            return "[" + ", ".join(items) + "]"
        rows = [", ".join(items[i : i + 8]) for i in range(0, len(items), 8)]
        return "[\n    " + ",\n    ".join(rows) + ",\n]"
    if isinstance(value, dict):
        pairs = (f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"{value!r} ({type(value).__name__}) has no TOML form")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_value(key)


def _escape(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    return f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c
