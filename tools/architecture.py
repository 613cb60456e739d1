"""Report the package's shape: module tree, longest functions, private imports.

Run from the repository root::

    python tools/architecture.py            # everything
    python tools/architecture.py --private  # only cross-module private names

Counts come from the syntax tree (``ast``), so they are the same on every
machine. A *cross-module private import* is a name starting with one
underscore (not a dunder) that one package module takes from another, either
``from .x import _name`` or ``x._name`` after ``from . import x``; importing a
whole internal module (``from . import _kernels``) is not one.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "saliency2signal"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _modules(root: Path = PACKAGE) -> list[Path]:
    return sorted(root.rglob("*.py"))


def _compiled(root: Path = PACKAGE) -> set[str]:
    """Dotted names of compiled extension modules (``_squeeze.c`` -> ``_squeeze``)."""
    return {_dotted(p.with_suffix(".py"), root) for p in root.rglob("*.c")}


def _dotted(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    """Return ``(module, line, "source:name")`` for each cross-module private name."""
    names = {_dotted(p, root) for p in _modules(root)} | _compiled(root)
    found = []
    for path in _modules(root):
        module = _dotted(path, root)
        tree = ast.parse(path.read_text(), str(path))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(module, path.name == "__init__.py", node)
                if not source.startswith(root.name):
                    continue
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    if full in names:  # a whole module
                        aliases[alias.asname or alias.name] = full
                    elif _is_private(alias.name) and source != module:
                        found.append((module, node.lineno, f"{source}:{alias.name}"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _is_private(node.attr)
                and f"{aliases[node.value.id]}.{node.attr}" not in names
            ):
                found.append((module, node.lineno, f"{aliases[node.value.id]}:{node.attr}"))
    return sorted(set(found))


def _code_lines(node: ast.AST, lines: list[str]) -> int:
    """Lines of a function that are not blank, comments or its docstring."""
    body = node.body
    skip = set()
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    count = 0
    for number in range(node.lineno, node.end_lineno + 1):
        text = lines[number - 1].strip()
        if number not in skip and text and not text.startswith("#"):
            count += 1
    return count


def longest_functions(root: Path = PACKAGE, most: int = 10) -> list[tuple[int, int, str]]:
    """Return ``(code lines, total lines, "module:function")``, longest first."""
    found = []
    for path in _modules(root):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                total = node.end_lineno - node.lineno + 1
                name = f"{_dotted(path, root)}:{node.name}"
                found.append((_code_lines(node, lines), total, name))
    return sorted(found, reverse=True)[:most]


def tree(root: Path = PACKAGE) -> list[tuple[str, int]]:
    """Return ``(relative path, line count)`` of every module."""
    return [
        (str(p.relative_to(root.parent)), len(p.read_text().splitlines())) for p in _modules(root)
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the report; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--private", action="store_true", help="only private imports")
    args = parser.parse_args(argv)
    found = private_imports()
    if not args.private:
        print("# modules (lines)")
        rows = tree()
        for name, count in rows:
            print(f"{count:6d}  {name}")
        print(f"{sum(c for _, c in rows):6d}  total, {len(rows)} files")
        print("\n# ten longest functions (code lines / total lines)")
        for code, total, name in longest_functions():
            print(f"{code:4d} / {total:4d}  {name}")
    print(f"\n# cross-module private imports: {len(found)}")
    for module, line, name in found:
        print(f"  {module}:{line}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
