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
    # drawing: the explorer's probability with the drawn peak deleted is explain's p_after
    state, drawn = ns["state"], ns["drawn"]
    np.testing.assert_allclose(state.p_each[0], drawn.regions[0][0].p_after, rtol=1e-5)
    assert state.p_each[0] < 0.1 < 0.9 < state.p_before[ns["ex"].target]


def test_readme_quickstart_command_runs_verbatim(tmp_path, console_script):
    """The first shell command of the Quickstart, as written, on the bundled files."""
    import shlex
    import subprocess

    text = README.read_text()
    quick = text[text.index("## Quickstart") :]
    command = re.search(r"```bash\n(.*?)\n", quick).group(1)
    assert command.startswith("saliency2signal explain models/")
    root = README.parent
    for name in ("models", "data"):  # run beside the repo's files, write into tmp_path
        (tmp_path / name).symlink_to(root / name)
    exe = console_script
    args = shlex.split(command)
    done = subprocess.run(
        [exe, *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    # nothing on stderr but the progress bar (no warning of any dependency)
    lines = done.stderr.replace("\r", "\n").splitlines()
    assert lines and all(re.fullmatch(r"explaining \[[# ]{20}\] \d+/28", ln) for ln in lines), (
        done.stderr
    )
    out = tmp_path / args[args.index("--out") + 1]
    for name in ("report.json", "components.npz", "index.html"):
        assert (out / name).stat().st_size > 0
    pngs = sorted(out.glob("sample_*.png"))
    assert len(pngs) == 3 * 28
    assert len(sorted(out.glob("overview_*.png"))) == 2  # one per explained class
    import json

    import jsonschema

    from saliency2signal.explanation import load_schema

    report = json.loads((out / "report.json").read_text())
    assert len(report["samples"]) == 28
    jsonschema.validate(report, load_schema(), cls=jsonschema.Draft202012Validator)
