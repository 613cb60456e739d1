"""The package's namespace: no function shadows a module, heavy imports stay lazy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import saliency2signal


def test_no_public_name_is_both_a_module_and_something_else():
    modules = {m.name for m in pkgutil.iter_modules(saliency2signal.__path__)}
    for name in saliency2signal.__all__:
        value = getattr(saliency2signal, name)
        if name in modules:  # the attribute must be that module, not a function of its name
            assert value is sys.modules[f"saliency2signal.{name}"], name


def test_documented_entry_points():
    from saliency2signal.explanation import load_schema

    assert saliency2signal.explain is saliency2signal.explanation.explain
    assert saliency2signal.evaluate is saliency2signal.evaluation.evaluate
    assert load_schema()["$schema"].startswith("https://json-schema.org/")


def test_import_does_not_import_matplotlib():
    code = "import sys, saliency2signal; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert out.stderr == ""
