"""The report's schema: its name, version, file, and the key list generated from it.

The JSON Schema file ``saliency2signal/schemas/explanation.schema.json`` is the one
specification of :meth:`~saliency2signal.explanation.Explanation.to_json` and of a saved
folder's ``report.json``; :func:`schema_outline` renders its keys and descriptions as
text for the package docstring, so the documentation cannot drift from it.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: the standard library; never another module of the package.
"""

from __future__ import annotations

import json
import pathlib
import textwrap

__all__ = ["SCHEMA", "SCHEMA_PATH", "SCHEMA_VERSION", "load_schema", "schema_outline"]

#: Name of the JSON schema written by :meth:`Explanation.to_json`.
SCHEMA = "saliency2signal.explanation"
#: Version of that schema.
SCHEMA_VERSION = 6
#: The JSON Schema (draft 2020-12) of :meth:`Explanation.to_json`, installed with the
#: package.
SCHEMA_PATH = pathlib.Path(__file__).resolve().parents[1] / "schemas" / "explanation.schema.json"


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


def schema_outline(schema: dict, *, width: int = 88) -> str:
    """Render a JSON Schema's keys, types and descriptions as an indented text outline.

    Every key under a ``properties`` appears once, as ````key```` followed by its type;
    the keys of a record (an object, the items of an array of objects, the object branch
    of a ``oneOf``) are indented below it. ``$ref`` to ``$defs`` are followed.

    Examples
    --------
    >>> print(schema_outline({"properties": {"n": {"type": "integer",
    ...                                             "description": "A count."}}}))
    ``n`` : integer
        A count.
    """
    lines: list[str] = []
    _outline(schema.get("properties", {}), schema.get("$defs", {}), lines, "", width)
    return "\n".join(lines)


def _resolve(node: dict, defs: dict) -> dict:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _type_of(node: dict, defs: dict) -> str:
    node = _resolve(node, defs)
    if "const" in node:
        return f"always {json.dumps(node['const'])}"
    if "enum" in node:
        return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type_of(alt, defs) for alt in node["oneOf"])
    kind = node.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and "prefixItems" in node:
        return "[" + ", ".join(_type_of(item, defs) for item in node["prefixItems"]) + "]"
    if kind == "array" and isinstance(node.get("items"), dict):
        return f"array of {_type_of(node['items'], defs)}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"object of {_type_of(node['additionalProperties'], defs)}"
    return kind


def _children(node: dict, defs: dict) -> dict | None:
    node = _resolve(node, defs)
    if "properties" in node:
        return node["properties"]
    if isinstance(node.get("items"), dict):
        return _children(node["items"], defs)
    for alt in node.get("oneOf", ()):
        found = _children(alt, defs)
        if found:
            return found
    return None


def _outline(properties: dict, defs: dict, lines: list[str], indent: str, width: int) -> None:
    for name, node in properties.items():
        lines.append(f"{indent}``{name}`` : {_type_of(node, defs)}")
        if "description" in node:  # the key's own, not its type's ($defs)
            lines.append(
                textwrap.fill(
                    node["description"],
                    width=width,
                    initial_indent=indent + "    ",
                    subsequent_indent=indent + "    ",
                )
            )
        children = _children(node, defs)
        if children:
            _outline(children, defs, lines, indent + "    ", width)
