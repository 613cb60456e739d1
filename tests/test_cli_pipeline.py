"""``saliency2signal pipeline init``: the commented template, written safely (issue 18)."""

from __future__ import annotations

from saliency2signal.cli import main
from saliency2signal.pipeline import load_pipeline, pipeline_template


def test_pipeline_init_writes_the_template_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "pipeline.toml"
    assert main(["pipeline", "init", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == pipeline_template()
    p = load_pipeline(out)
    assert p.transform.nv == 64 and p.task == "classification"
    assert "wrote" in capsys.readouterr().out
    # an existing file is kept, with a one-line error and a non-zero status
    out.write_text("mine", encoding="utf-8")
    assert main(["pipeline", "init", "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert "--overwrite" in err and "\n" not in err and "Traceback" not in err
    assert out.read_text(encoding="utf-8") == "mine"
    assert main(["pipeline", "init", "--out", str(out), "--overwrite"]) == 0
    assert out.read_text(encoding="utf-8") == pipeline_template()
    assert [f.name for f in tmp_path.iterdir()] == ["pipeline.toml"]  # no temporary left
