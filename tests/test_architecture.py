"""The package's shape: layers, imports, docstrings and formatting (issue 16).

These read the source (``ast``) rather than import it, so a rule broken anywhere in the
tree fails here with the module and line that broke it.
"""

from __future__ import annotations

import ast
import importlib.util
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "saliency2signal"


def _tool():
    spec = importlib.util.spec_from_file_location(
        "architecture", ROOT / "tools" / "architecture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ARCH = _tool()


def _module_imports(path: pathlib.Path, *, top_level_only: bool) -> set[str]:
    """Dotted package modules that ``path`` imports (``saliency2signal.x.y``)."""
    module = ARCH._dotted(path)
    names = {ARCH._dotted(p) for p in ARCH._modules()} | ARCH._compiled()
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            source = ARCH._resolve(module, path.name == "__init__.py", node)
            if not source.startswith("saliency2signal"):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                found.add(full if full in names else source)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("saliency2signal")}
    found.discard(module)
    return found


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    return {
        ARCH._dotted(p): _module_imports(p, top_level_only=top_level_only) for p in ARCH._modules()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_tool_finds_a_private_import_and_a_cycle(tmp_path):
    # the checks below can fail: a crafted package with one of each
    pkg = tmp_path / "saliency2signal"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import _hidden, shown\n")
    (pkg / "b.py").write_text("from . import a\n_hidden = shown = 1\n")
    (pkg / "c.py").write_text("from . import b\nx = b._hidden\n")
    found = ARCH.private_imports(pkg)
    assert [(m, name) for m, _, name in found] == [
        ("saliency2signal.a", "saliency2signal.b:_hidden"),
        ("saliency2signal.c", "saliency2signal.b:_hidden"),
    ]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_private_name_crosses_a_module():
    """A ``_name`` is used only in its module; shared helpers live in ``_internal`` ones."""
    assert ARCH.private_imports() == []


def test_no_import_cycle():
    assert _cycle(_graph(top_level_only=True)) is None


def test_io_and_models_do_not_import_each_other():
    graph = _graph(top_level_only=False)  # function-level imports count here
    assert "saliency2signal.io" not in graph["saliency2signal.models"]
    assert "saliency2signal.io" not in graph["saliency2signal.metadata"]
    assert "saliency2signal.models" not in graph["saliency2signal.metadata"]


def test_shared_layers_import_no_stage_that_uses_them():
    stages = {
        "saliency2signal.saliency",
        "saliency2signal.explanation",
        "saliency2signal.evaluation",
        "saliency2signal.cli",
        "saliency2signal.io",
    }
    graph = _graph(top_level_only=False)
    for layer in (
        "saliency2signal._runtime",
        "saliency2signal._validation",
        "saliency2signal.forward",
        "saliency2signal.metadata",
    ):
        used = {m for m in graph[layer] if any(m == s or m.startswith(s + ".") for s in stages)}
        assert not used, (layer, used)


def test_every_module_says_what_it_is_for_and_what_it_may_import():
    missing = []
    for path in ARCH._modules():
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if "May import" not in doc:
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_the_version_is_written_once():
    from importlib.metadata import version

    import saliency2signal

    assert saliency2signal.__version__ == version("saliency2signal")
    assert re.search(r"^version\s*=\s*\"", (ROOT / "pyproject.toml").read_text(), re.M) is None


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(pathlib.Path(sys.executable).parent))
    if exe is None:
        pytest.fail("ruff is a dev dependency: pip install -e '.[dev]'")
    return [exe]


@pytest.mark.parametrize("command", [["format", "--check"], ["check"]])
def test_ruff(command):
    out = subprocess.run(
        [
            *_ruff(),
            *command,
            ".",  # every file of the checkout (pyproject.toml says what is excluded)
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
