"""The thin command line: one line on stderr and status 2 on bad input; atomic outputs."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.cli import main


@pytest.fixture
def signals(tmp_path, rng):
    x = rng.standard_normal((2, 300)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path, x


def test_transform_writes_coefficients(signals, tmp_path, capsys):
    path, x = signals
    out = tmp_path / "o" / "coef.npz"
    assert main(["transform", str(path), "--out", str(out), "--nv", "16"]) == 0
    with np.load(out, allow_pickle=False) as d:
        cfg = SSQConfig.from_json(str(d["config"]))
        assert cfg == SSQConfig(nv=16, dtype="float32")
        ref = ssq_cwt(x, cfg)
        np.testing.assert_allclose(d["Tx"], ref.Tx.numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(d["freqs"], ref.freqs)
    assert "wrote" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["coef.npz"]  # no temporary left


@pytest.mark.parametrize(
    "content, message",
    [
        (np.array([1.0, np.nan] * 20), "NaN"),
        (np.zeros((2, 5)), "n_times=5"),
        (np.array([{"a": 1}], dtype=object), "allow_pickle"),
        (np.ones((3, 64), dtype=np.complex64), "complex"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.npy"
    np.save(path, content, allow_pickle=True)
    assert main(["transform", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_never_overwrites_the_input(signals, capsys):
    path, x = signals
    assert main(["transform", str(path), "--out", str(path)]) == 2
    np.testing.assert_array_equal(np.load(path), x)
    assert "refusing to overwrite" in capsys.readouterr().err


def test_missing_file_and_bad_config(tmp_path, signals, capsys):
    assert main(["transform", str(tmp_path / "nope.npy")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["transform", str(signals[0]), "--nv", "0"]) == 2
    assert "nv=0" in capsys.readouterr().err


def test_csv_input(tmp_path, rng):
    x = rng.standard_normal(200)
    path = tmp_path / "x.csv"
    np.savetxt(path, x[None], delimiter=",")
    assert main(["transform", str(path), "--float64"]) == 0
    with np.load(tmp_path / "x_ssq.npz") as d:
        assert d["Tx"].shape == (SSQConfig().n_freqs(200), 200)  # one row -> one signal
        assert json.loads(str(d["config"]))["dtype"] == "float64"


def _peaks(rng, n_per_class=12, n=128):
    t = np.arange(n)
    x, y = [], []
    for label, centre in enumerate((40, 90)):
        for _ in range(n_per_class):
            x.append(np.exp(-0.5 * ((t - centre) / 3) ** 2) + 0.05 * rng.standard_normal(n))
            y.append(label)
    return np.array(x), np.array(y)


def test_train_then_info(tmp_path, rng, capsys):
    x, y = _peaks(rng)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y, class_names=np.array(["left", "right"]))
    model = tmp_path / "m.pt"
    assert (
        main(
            ["train", str(data), "--out", str(model), "--epochs", "2", "--size", "16", "--nv", "8"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "epoch 2/2" in captured.err and "wrote" in captured.out
    assert main(["info", str(model)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "state_dict" and "weights-only" in info["format_description"]
    meta = info["metadata"]
    assert meta["class_names"] == ["left", "right"]
    assert SSQConfig.from_dict(meta["transform"]).nv == 8


def test_train_writes_an_export_program_on_request(tmp_path, rng, capsys):
    x, y = _peaks(rng)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y)
    model = tmp_path / "m.pt2"
    assert (
        main(
            [
                "train",
                str(data),
                "--out",
                str(model),
                "--epochs",
                "1",
                "--size",
                "16",
                "--nv",
                "8",
                "--format",
                "export",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "export" and info["file"] == str(model)
    assert info["metadata"]["architecture"] == "ScalogramCNN"


def test_train_needs_labels_and_info_refuses_junk(tmp_path, rng, capsys):
    x, _ = _peaks(rng)
    data = tmp_path / "x.npy"
    np.save(data, x)
    assert main(["train", str(data), "--out", str(tmp_path / "m.pt")]) == 2
    assert "no labels" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    assert main(["info", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_explain_end_to_end_and_refusals(tmp_path, rng, capsys):
    x, y = _peaks(rng, n_per_class=10)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y, class_names=np.array(["left", "right"]))
    model = tmp_path / "m.pt"
    assert (
        main(
            ["train", str(data), "--out", str(model), "--epochs", "2", "--size", "16", "--nv", "8"]
        )
        == 0
    )
    out = tmp_path / "report"
    assert (
        main(
            [
                "explain",
                str(model),
                str(data),
                "--out",
                str(out),
                "--max-regions",
                "2",
                "--no-figures",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert len(report["samples"]) == len(x)
    with np.load(out / "components.npz", allow_pickle=False) as z:
        assert z["components"].shape[0] == len(x)
    capsys.readouterr()
    # an existing folder is refused, and nothing is touched
    before = sorted(p.name for p in out.iterdir())
    assert main(["explain", str(model), str(data), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    # wrong length for the model: one line, no folder
    short = tmp_path / "short.npy"
    np.save(short, x[:, :100])
    bad_out = tmp_path / "bad"
    assert main(["explain", str(model), str(short), "--out", str(bad_out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and not bad_out.exists()
    # 3-D data, and a model file that is not a model
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((2, 2, 128)))
    assert main(["explain", str(model), str(cube), "--out", str(bad_out)]) == 2
    assert "shape" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nope")
    assert main(["explain", str(junk), str(data), "--out", str(bad_out)]) == 2
    assert not bad_out.exists()
    capsys.readouterr()
    # a region share outside [0, 1)
    assert (
        main(["explain", str(model), str(data), "--out", str(bad_out), "--min-share", "1.5"]) == 2
    )
    err = capsys.readouterr().err
    assert "min_share=1.5" in err and err.count("\n") == 1 and not bad_out.exists()
    # the share is recorded, and regions below it are gone
    kept = tmp_path / "kept"
    assert (
        main(
            [
                "explain",
                str(model),
                str(data),
                "--out",
                str(kept),
                "--min-share",
                "0.3",
                "--no-figures",
            ]
        )
        == 0
    )
    rep = json.loads((kept / "report.json").read_text())
    assert rep["settings"]["min_share"] == 0.3
    shares = [r["attribution_share"] for smp in rep["samples"] for r in smp["regions"]]
    assert shares and all(v >= 0.3 for v in shares)


def test_outputs_get_normal_permissions(signals, tmp_path):
    import os
    import stat

    path, _ = signals
    out = tmp_path / "o.npz"
    assert main(["transform", str(path), "--out", str(out), "--nv", "8"]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_info_refuses_a_crafted_archive_in_one_line(tmp_path, capsys):
    """A member twice (malicious copy first): one line, status 2, the payload never runs."""
    import pickle
    import warnings
    import zipfile

    target = tmp_path / "pwned.txt"

    class WritesFile:
        def __reduce__(self):
            return (exec, (f"open({str(target)!r}, 'w').write('pwned')",))

    model = Path(__file__).resolve().parents[1] / "models" / "coffee.pt"
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(model) as zin, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(evil, "w") as zout:
            for info in zin.infolist():
                if info.filename.endswith("/data.pkl"):
                    zout.writestr(info.filename, pickle.dumps(WritesFile(), protocol=2))
                zout.writestr(info, zin.read(info))
    assert main(["info", str(evil)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "twice" in err and "Traceback" not in err
    assert not target.exists()


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def coffee_two(tmp_path):
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        x = z["X_test"][:2]
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path, x


@pytest.mark.parametrize("command", ["explain", "evaluate"])
@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([0.7, 1.4]), r"labels must be integers, but label 0 is 0\.7"),
        (np.array([0.0, np.nan]), "label 1 is nan"),
        (np.array([True, False]), "labels must be integers, got boolean"),
    ],
)
def test_labels_are_never_truncated(tmp_path, capsys, coffee_two, command, labels, match):
    data, _ = coffee_two
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "out"
    assert (
        main(
            [
                command,
                str(ROOT / "models" / "coffee.pt"),
                str(data),
                "--labels",
                str(tmp_path / "y.npy"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(match, err), err
    assert not out.exists()


def test_integral_float_labels_are_accepted(tmp_path, capsys, coffee_two):
    data, _ = coffee_two
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0]))
    out = tmp_path / "out"
    assert (
        main(
            [
                "explain",
                str(ROOT / "models" / "coffee.pt"),
                str(data),
                "--labels",
                str(tmp_path / "y.npy"),
                "--target",
                "label",
                "--out",
                str(out),
                "--no-figures",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert [s["target"] for s in report["samples"]] == [0, 1]


@pytest.mark.parametrize(
    ("convert", "kind"),
    [
        (lambda x: x > x.mean(), "boolean"),
        (lambda x: x.astype(np.complex64), "complex"),
    ],
)
def test_non_real_signals_are_refused(tmp_path, capsys, coffee_two, convert, kind):
    _, x = coffee_two
    np.save(tmp_path / "odd.npy", convert(x))
    out = tmp_path / "out"
    assert (
        main(
            [
                "explain",
                str(ROOT / "models" / "coffee.pt"),
                str(tmp_path / "odd.npy"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"holds {kind} values" in err, err
    assert not out.exists()
    np.savez(tmp_path / "t.npz", x=convert(x), y=np.array([0, 1]))
    assert main(["train", str(tmp_path / "t.npz"), "--out", str(tmp_path / "m.pt")]) == 2
    assert f"holds {kind} values" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_every_damaged_byte_is_a_clear_error_or_a_good_read(tmp_path, suffix):
    """Flip the bits of every 5th byte of a small data file: never an unexpected error."""
    from saliency2signal.cli._inputs import CLIError
    from saliency2signal.cli._inputs import load_signals as _load_signals

    x = np.random.default_rng(0).standard_normal((4, 64))
    good = tmp_path / f"good{suffix}"
    if suffix == ".npz":
        np.savez_compressed(good, x=x)
    else:
        np.save(good, x)
    raw = good.read_bytes()
    outcomes = set()
    for pos in range(0, len(raw), 5):
        bad = bytearray(raw)
        bad[pos] ^= 0x55
        path = tmp_path / f"bad{suffix}"
        path.write_bytes(bytes(bad))
        try:
            got = _load_signals(path)
        except CLIError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            outcomes.add("refused")
        else:
            assert got.dtype.kind == "f"
            outcomes.add("read")
    assert "refused" in outcomes
