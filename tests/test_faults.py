"""Fault injection on the outputs: inputs never lost, other runs' outputs never replaced,
nothing left behind by a kill, a failure or a full disk, and the output path checked before
any computation."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal._files import atomic_dir, atomic_write
from saliency2signal.cli import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "coffee.pt"  # n_times 286, two classes
FAST = {
    "explain": ["--method", "saliency", "--no-figures"],
    "evaluate": [
        "--methods",
        "saliency",
        "--randomization",
        "none",
        "--n-null",
        "2",
        "--no-figures",
    ],
    "train": ["--epochs", "1", "--size", "16", "--nv", "8"],
    "transform": ["--nv", "8"],
    "reconstruct": ["--iters", "2"],
}


def _main(capsys, *args):
    """Run the CLI in this process; return the status and stderr."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err


def _snapshot(root):
    """Every path under ``root`` (hidden ones too) with a digest of each file."""
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir() and not p.is_symlink()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "link"
        for p in sorted(Path(root).rglob("*"))
    }


def _tree(path):
    """The digest of a file, or the snapshot of a folder."""
    path = Path(path)
    return _snapshot(path) if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()


def _hidden(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def _one_line_error(err, command):
    """One error line, the last on stderr (after any progress lines), and no traceback."""
    lines = err.splitlines()
    assert (
        err.endswith("\n")
        and [ln for ln in lines if ln.startswith("saliency2signal")] == lines[-1:]
    ), err
    assert lines[-1].startswith(f"saliency2signal {command}: error: "), err
    assert all(ln.startswith("[") for ln in lines[:-1]), err  # train's progress bar only


@pytest.fixture
def files(tmp_path):
    """A signal, labels, an axis, a training set, magnitudes and a config in ``tmp_path``."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((1, 286)))
    np.save(tmp_path / "y.npy", np.array([0]))
    np.save(tmp_path / "axis.npy", np.arange(286.0))
    t = np.arange(128)
    x = np.array(
        [
            np.exp(-0.5 * ((t - c) / 3) ** 2) + 0.05 * rng.standard_normal(128)
            for c in [40] * 6 + [90] * 6
        ]
    )
    np.savez(tmp_path / "d.npz", x=x, y=np.repeat([0, 1], 6))
    cfg = SSQConfig(nv=8)
    (tmp_path / "cfg.json").write_text(cfg.to_json())
    np.save(tmp_path / "mags.npy", ssq_cwt(x[0], cfg).Wx.abs().numpy())
    return tmp_path


@pytest.fixture
def no_compute(monkeypatch):
    """Make every computation the CLI may start fail loudly: checks must come first."""
    import saliency2signal.evaluation
    import saliency2signal.explanation
    import saliency2signal.models
    import saliency2signal.phase
    import saliency2signal.transform

    def computed(*args, **kwargs):
        raise AssertionError("computation started before the output was checked")

    for module, name in [
        (saliency2signal.transform, "ssq_cwt"),
        (saliency2signal.explanation, "explain"),
        (saliency2signal.evaluation, "evaluate"),
        (saliency2signal.models, "train_classifier"),
        (saliency2signal.phase, "retrieve_phase"),
    ]:
        monkeypatch.setattr(module, name, computed)


def _unmount(folder):
    """Unmount ``folder``; fail (after a lazy unmount) if a file there is still open."""
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        pytest.fail(f"{folder} was busy: a file written there is still open")


def _mount_tmpfs(folder, options):
    """Mount a tmpfs at ``folder`` or skip the test where that is not permitted."""
    if getattr(os, "geteuid", lambda: 1)() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs filled to the last block by ``filler``."""
    disk = tmp_path / "full"
    _mount_tmpfs(disk, "size=64k")
    try:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            with pytest.raises(OSError, match="No space left"):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        yield disk
    finally:
        _unmount(disk)


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder that refuses new entries: a read-only tmpfs as root, mode 0o555 otherwise."""
    folder = tmp_path / "ro"
    if getattr(os, "geteuid", lambda: 1)() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    _mount_tmpfs(folder, "ro,size=64k")
    try:
        yield folder
    finally:
        _unmount(folder)


# ------------------------------------------------- 1. inputs are never destroyed
def _inside_out(d, *names):
    (d / "out").mkdir(exist_ok=True)
    for name in names:
        shutil.move(d / name, d / "out" / name)
    return d / "out"


INPUT_CASES = {
    "explain: labels and axis inside --out, --overwrite": lambda d: [
        "explain",
        MODEL,
        d / "x.npy",
        "--labels",
        d / "out" / "y.npy",
        "--axis",
        d / "out" / "axis.npy",
        "--out",
        _inside_out(d, "y.npy", "axis.npy"),
        "--overwrite",
        *FAST["explain"],
    ],
    "evaluate: axis inside --out, --overwrite": lambda d: [
        "evaluate",
        MODEL,
        d / "x.npy",
        "--axis",
        d / "out" / "axis.npy",
        "--out",
        _inside_out(d, "axis.npy"),
        "--overwrite",
        *FAST["evaluate"],
    ],
    "explain: --out is the labels file, --overwrite": lambda d: [
        "explain",
        MODEL,
        d / "x.npy",
        "--labels",
        d / "y.npy",
        "--out",
        d / "y.npy",
        "--overwrite",
        *FAST["explain"],
    ],
    "evaluate: --out is the axis file, --overwrite": lambda d: [
        "evaluate",
        MODEL,
        d / "x.npy",
        "--axis",
        d / "axis.npy",
        "--out",
        d / "axis.npy",
        "--overwrite",
        *FAST["evaluate"],
    ],
    "reconstruct: --out is the config": lambda d: [
        "reconstruct",
        d / "mags.npy",
        "--config",
        d / "cfg.json",
        "--out",
        d / "cfg.json",
        *FAST["reconstruct"],
    ],
    "train: --out is the data": lambda d: [
        "train",
        d / "d.npz",
        "--out",
        d / "d.npz",
        *FAST["train"],
    ],
}


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_inputs_are_never_replaced(files, capsys, case):
    args = INPUT_CASES[case](files)
    before = _snapshot(files)
    status, err = _main(capsys, *args)
    assert status == 2
    _one_line_error(err, args[0])
    assert "refusing to overwrite" in err
    assert _snapshot(files) == before  # nothing touched, no temporary left


# --------------------------------------- 2. another run's output is never replaced
THEIRS = {
    "empty folder": lambda p: p.mkdir(),
    "folder with a file": lambda p: (p.mkdir(), (p / "theirs.txt").write_text("theirs")),
    "file": lambda p: p.write_text("theirs"),
}


@pytest.mark.parametrize("theirs", list(THEIRS))
def test_explain_keeps_a_folder_another_run_made_meanwhile(files, capsys, monkeypatch, theirs):
    from saliency2signal.explanation import Explanation

    out = files / "out"
    original = Explanation._write

    def write_while_another_run_finishes(self, folder, **kwargs):
        original(self, folder, **kwargs)
        THEIRS[theirs](out)

    monkeypatch.setattr(Explanation, "_write", write_while_another_run_finishes)
    status, err = _main(capsys, "explain", MODEL, files / "x.npy", "--out", out, *FAST["explain"])
    assert status == 2
    _one_line_error(err, "explain")
    assert "already exists" in err
    THEIRS[theirs](files / "expected")
    assert _tree(out) == _tree(files / "expected")  # theirs, untouched
    assert _hidden(files) == []


RACE = r"""
import pathlib, sys, time
from saliency2signal._files import atomic_dir
out, go, me = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]

def writer(tmp):
    (tmp / "who.txt").write_text(me)
    (go.parent / f"ready-{me}").write_text("")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)

try:
    atomic_dir(out, writer)
except ValueError as exc:
    print(exc)
    sys.exit(3)
"""


def test_two_concurrent_writers_one_wins_and_nothing_is_replaced(tmp_path):
    out, go = tmp_path / "out", tmp_path / "go"
    procs = {
        me: subprocess.Popen(
            [sys.executable, "-c", RACE, str(out), str(go), me],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in ("a", "b")
    }
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{me}").exists() for me in procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs.values())
        time.sleep(0.01)
    go.touch()  # both have written everything and check nothing again: they race now
    results = {me: (p.wait(timeout=60), *p.communicate()) for me, p in procs.items()}
    assert sorted(r[0] for r in results.values()) == [0, 3], results
    winner = next(me for me, r in results.items() if r[0] == 0)
    loser = next(r for r in results.values() if r[0] == 3)
    assert "already exists" in loser[1]
    assert (out / "who.txt").read_text() == winner
    assert _hidden(tmp_path) == []


def test_overwrite_never_turns_a_file_into_a_folder(files, capsys, no_compute):
    target = files / "notes.txt"
    target.write_text("mine")
    status, err = _main(capsys, "explain", MODEL, files / "x.npy", "--out", target, "--overwrite")
    assert status == 2
    _one_line_error(err, "explain")
    assert "not a folder" in err and target.read_text() == "mine"
    with pytest.raises(ValueError, match="not a folder"):
        atomic_dir(target, lambda tmp: None, overwrite=True)
    assert target.read_text() == "mine" and _hidden(files) == []


# ----------------------------------------------------------- 3. nothing left over
KILLED_SAVE = r"""
import pathlib, sys, time
from saliency2signal import explanation
from saliency2signal.cli import main
ready = pathlib.Path(sys.argv[1])
original = explanation.Explanation._write

def slow_write(self, folder, **kwargs):
    original(self, folder, **kwargs)
    ready.write_text(str(folder))
    time.sleep(120)

explanation.Explanation._write = slow_write
sys.exit(main(sys.argv[2:]))
"""


def _run_until_ready(script, ready, *args):
    """Start ``script`` with ``args``; SIGKILL it once it writes ``ready``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(ready), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.communicate()


def test_a_run_killed_while_saving_leaves_nothing_for_long(files, capsys):
    out = files / "out"
    _run_until_ready(
        KILLED_SAVE,
        files / "ready",
        "explain",
        MODEL,
        files / "x.npy",
        "--out",
        out,
        *FAST["explain"],
    )
    leftovers = _hidden(files)
    assert len(leftovers) == 1 and leftovers[0].startswith(".out.")  # killed mid-save
    assert not out.exists()
    status, err = _main(capsys, "explain", MODEL, files / "x.npy", "--out", out, *FAST["explain"])
    assert status == 0, err
    assert (out / "report.json").is_file() and _hidden(files) == []


KILLED_SWAP = r"""
import pathlib, sys, time
from saliency2signal import _files
ready, out = map(pathlib.Path, sys.argv[1:3])
original = _files._rename_noreplace
calls = []

def hooked(src, dst):
    calls.append(dst)
    if len(calls) == 2:  # the old folder is aside, the new one not yet in place
        ready.write_text("aside")
        time.sleep(120)
    original(src, dst)

_files._rename_noreplace = hooked
_files.atomic_dir(out, lambda tmp: (tmp / "new.txt").write_text("new"), overwrite=True)
"""


def test_a_folder_moved_aside_by_a_killed_overwrite_is_put_back(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("mine")
    _run_until_ready(KILLED_SWAP, tmp_path / "ready", out)
    assert not out.exists()  # killed between the two moves
    with pytest.raises(ValueError, match="already exists"):
        atomic_dir(out, lambda tmp: (tmp / "new.txt").write_text("new"))
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert (out / "old.txt").read_text() == "mine" and _hidden(tmp_path) == []


@pytest.mark.parametrize("error", [OSError, RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_failing_writer_leaves_nothing(tmp_path, error, kind):
    def writer(tmp):
        (Path(tmp) / "part" if kind == "folder" else Path(tmp)).write_text("partial")
        raise error("boom")

    out = tmp_path / "a" / "b" / "out"
    if kind == "folder":
        out.parent.mkdir(parents=True)
    save = atomic_write if kind == "file" else atomic_dir
    with pytest.raises(error, match="boom"):
        save(out, writer, **({"parents": True} if kind == "file" else {}))
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ([] if kind == "file" else ["a", "a/b"])  # made folders removed too


def test_a_failed_transform_removes_the_folders_it_made(files, capsys, monkeypatch):
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", no_space)
    before = _snapshot(files)
    status, err = _main(
        capsys,
        "transform",
        files / "x.npy",
        "--out",
        files / "a" / "b" / "t.npz",
        *FAST["transform"],
    )
    assert status == 1
    _one_line_error(err, "transform")
    assert "No space left on device" in err and "t.npz" in err
    assert _snapshot(files) == before


# ---------------------------------------- 4. the output is checked before computing
def _dangling(d):
    (d / "link").symlink_to(d / "nowhere")
    return d / "link"


def _folder(d):
    (d / "folder").mkdir()
    return d / "folder"


CHECKS = {
    "transform into an existing folder": (
        lambda d: ["transform", d / "x.npy", "--out", _folder(d)],
        "is a folder",
    ),
    "transform inside the input file": (
        lambda d: ["transform", d / "x.npy", "--out", d / "x.npy" / "t.npz"],
        "inside the input",
    ),
    "transform to a dangling symlink": (
        lambda d: ["transform", d / "x.npy", "--out", _dangling(d)],
        "dangling",
    ),
    "explain to a dangling symlink": (
        lambda d: ["explain", MODEL, d / "x.npy", "--out", _dangling(d)],
        "dangling",
    ),
    "explain inside the model file": (
        lambda d: ["explain", d / "m.pt", d / "x.npy", "--out", d / "m.pt" / "out"],
        "inside the input",
    ),
    "evaluate into a missing folder": (
        lambda d: ["evaluate", MODEL, d / "x.npy", "--out", d / "no" / "out"],
        "does not exist",
    ),
    "train into a missing folder": (
        lambda d: ["train", d / "d.npz", "--out", d / "no" / "m.pt"],
        "does not exist",
    ),
    "train over an existing file": (
        lambda d: ["train", d / "d.npz", "--out", d / "y.npy"],
        "already exists",
    ),
    "reconstruct into a folder": (
        lambda d: ["reconstruct", d / "mags.npy", "--config", d / "cfg.json", "--out", _folder(d)],
        "is a folder",
    ),
}


@pytest.mark.parametrize("case", list(CHECKS))
def test_bad_outputs_are_refused_before_computing(files, capsys, no_compute, case):
    shutil.copy(MODEL, files / "m.pt")
    build, message = CHECKS[case]
    args = build(files)
    before = _snapshot(files)
    status, err = _main(capsys, *args)
    assert status == 2
    _one_line_error(err, args[0])
    assert message in err
    assert _snapshot(files) == before


@pytest.mark.parametrize("command", ["transform", "reconstruct", "train", "explain", "evaluate"])
def test_a_read_only_folder_is_refused_before_computing(
    files, capsys, no_compute, readonly_dir, command
):
    args = {
        "transform": [files / "x.npy"],
        "reconstruct": [files / "mags.npy", "--config", files / "cfg.json"],
        "train": [files / "d.npz"],
        "explain": [MODEL, files / "x.npy"],
        "evaluate": [MODEL, files / "x.npy"],
    }[command]
    out = readonly_dir / ("sub/out.npy" if command in ("transform", "reconstruct") else "out")
    status, err = _main(capsys, command, *args, "--out", out)
    assert status != 0
    _one_line_error(err, command)
    assert "cannot write" in err and list(readonly_dir.iterdir()) == []


# ----------------------------------------------------------------- 5. a full disk
@pytest.mark.parametrize("command", ["transform", "reconstruct", "train", "explain", "evaluate"])
def test_a_full_disk_is_one_line_and_leaves_nothing(files, capsys, full_disk, command):
    args = {
        "transform": [files / "x.npy"],
        "reconstruct": [files / "mags.npy", "--config", files / "cfg.json"],
        "train": [files / "d.npz"],
        "explain": [MODEL, files / "x.npy"],
        "evaluate": [MODEL, files / "x.npy"],
    }[command]
    out = full_disk / ("sub/out.npz" if command in ("transform", "reconstruct") else "out")
    inputs = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    status, err = _main(capsys, command, *args, "--out", out, *FAST[command])
    assert status == 1
    _one_line_error(err, command)
    assert "No space left on device" in err
    assert [p.name for p in full_disk.iterdir()] == ["filler"]
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()} == inputs


# ------------------------------------------------------------------ crafted model files
class _Payload:
    """Unpickling this writes ``pwned.txt``: what an attacker's file would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (exec, (f"open({self.target!r}, 'w').write('pwned')",))


def _craft(folder, kind):
    """One of the fault-injection pass's crafted model files (each under 2 MB)."""
    import io
    import json
    import warnings
    import zipfile

    import torch

    if kind in ("n_times", "image", "widths"):
        obj = torch.load(MODEL, weights_only=True)
        block = json.loads(obj["metadata"])
        if kind == "n_times":
            block["n_times"] = 100_000_000
        elif kind == "image":
            block["imaging"]["size"] = [25000, 25000]
        else:
            block["architecture_kwargs"]["widths"] = [9000, 9000, 9000]
        obj["metadata"] = json.dumps(block)
        torch.save(obj, folder / f"{kind}.pt")
        return folder / f"{kind}.pt"
    from saliency2signal.io import load_model, save_model

    loaded = load_model(MODEL)
    good = save_model(loaded.model, folder / "good.pt2", metadata=loaded.metadata, format="export")
    with zipfile.ZipFile(good) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]
    good.unlink()
    path = folder / f"{kind}.pt2"
    buf = io.BytesIO()
    torch.save(_Payload(folder / "pwned.txt"), buf)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name
        for name, data in members:
            info = zipfile.ZipInfo(name)
            if kind == "json_bomb" and name.endswith("saliency2signal.json"):
                info.compress_type = zipfile.ZIP_DEFLATED
                data = b" " * (64 * 2**20)  # 64 MiB of JSON whitespace, about 64 kB
            elif kind == "duplicate" and "sample_inputs/" in name and name.endswith(".pt"):
                z.writestr(zipfile.ZipInfo(name), buf.getvalue())  # the malicious copy first
            z.writestr(info, data)
    return path


@pytest.mark.parametrize("kind", ["n_times", "image", "widths", "json_bomb", "duplicate"])
@pytest.mark.parametrize("command", ["info", "explain"])
def test_crafted_model_files_are_one_line_and_run_nothing(tmp_path, capsys, kind, command):
    evil = _craft(tmp_path, kind)
    assert evil.stat().st_size < 2 * 2**20
    data = tmp_path / "x.npy"
    with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
        np.save(data, z["X_test"][:2])
    before = _snapshot(tmp_path)
    args = [command, evil] + ([data, "--out", tmp_path / "out"] if command == "explain" else [])
    status, err = _main(capsys, *args)
    assert status == 2
    _one_line_error(err, command)
    assert not (tmp_path / "pwned.txt").exists()
    assert _snapshot(tmp_path) == before  # nothing written, nothing lost
