"""The README's Python examples run as written and say what they claim."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    ns: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)  # noqa: S102
    capsys.readouterr()
    # quickstart: the band around 0.05 gives back the tone, and the parts add up
    n = ns["n"]
    tone = np.cos(2 * np.pi * 0.05 * n)
    inner = slice(256, -256)
    assert np.corrcoef(ns["tone"].numpy()[inner], tone[inner])[0, 1] > 0.99
    whole = ns["tone"] + ns["rest"]
    np.testing.assert_allclose(whole.numpy(), (ns["d"].oscillatory).numpy(), atol=1e-9)
    # regions: two, the tone's band first (more attribution mass)
    regions = ns["am"].regions
    assert len(regions) == 2
    assert regions[0].band[0] < 0.05 < regions[0].band[1]
    assert ns["parts"].shape == (2, len(n))
