"""What the benchmark scripts share: the bundled training recipe and the results file.

Imported by the scripts in this folder (run as ``python benchmarks/bench_*.py``, which
puts this folder on ``sys.path``).
"""

from __future__ import annotations

import importlib.util
import json
import platform
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def load_recipe():
    """Return ``models/train_models.py`` as a module: the bundled models' recipe."""
    spec = importlib.util.spec_from_file_location(
        "train_models", ROOT / "models" / "train_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finish(rows: list, path: str | None, **extra) -> dict:
    """Return the run's results (rows, ``extra``, the versions); write them to ``path``."""
    res = {
        "rows": rows,
        **extra,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    if path:
        Path(path).write_text(json.dumps(res, indent=2) + "\n")
    return res
