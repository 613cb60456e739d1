"""The examples run offline and show what they claim."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_masked_inverse_example(tmp_path):
    out = tmp_path / "fig.png"
    res = _load("masked_inverse").main(["--out", str(out)])
    assert out.stat().st_size > 10_000
    assert res["err_tone"] < 0.08  # measured 0.054 (edges of the record)
    assert res["err_chirp"] < 0.15  # measured 0.108
