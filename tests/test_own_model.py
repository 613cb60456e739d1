"""A researcher's own CNN, trained in plain PyTorch on their own PNG scalograms, explained.

The images are made the way a spectroscopist makes them, with the libraries themselves:
``ssqueezepy.ssq_cwt(x, wavelet="gmw", nv=32)`` -> ``log1p(|Tx|)`` -> scikit-image's
``resize`` (Gaussian anti-aliasing) -> min-max -> matplotlib's viridis -> an 8-bit PNG
written and read back with Pillow -> ImageNet normalisation. The model is saved as a state
dict of a class in the user's own ``nets.py``. A pipeline file describes the recipe; the
CLI must reproduce the PNGs to within 1/255, agree on every prediction, explain, and
refuse a wrong pipeline naming the agreement it measured.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

from saliency2signal.cli import main
from saliency2signal.datasets import load_coffee

ssqueezepy = pytest.importorskip("ssqueezepy")
skimage_transform = pytest.importorskip("skimage.transform")

SIZE = (48, 48)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

NETS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class SmallCNN(nn.Module):
        def __init__(self, n_classes=2, width=8):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            )
            self.head = nn.Linear(2 * width, n_classes)

        def forward(self, x):
            return self.head(self.features(x).mean((2, 3)))
    """
)

PIPELINE = """\
task = "classification"
class_names = ["Arabica", "Robusta"]
n_times = 286

[transform]
wavelet = ["gmw", {{dtype = "float64"}}]
nv = 32

[axis]
start = 0.0
step = 1.0
name = "channel"

[[steps]]
kind = "log1p"

[[steps]]
kind = "resize"
size = [48, 48]
method = "bilinear"
antialias = "skimage"

[[steps]]
kind = "minmax"

[[steps]]
kind = "colormap"
name = "{cmap}"

[[steps]]
kind = "quantize_uint8"

[[steps]]
kind = "channel_mean_std"
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
"""


def _import_nets(folder):
    """``import nets`` from the user's folder (a fresh module, not another test's)."""
    sys.modules.pop("nets", None)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("nets")
    finally:
        sys.path.remove(str(folder))


def _user_png(x: np.ndarray) -> np.ndarray:
    """The user's own code: one signal to an 8-bit RGB image (H, W, 3)."""
    import matplotlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ssqueezepy's own overflow warnings
        tx, *_ = ssqueezepy.ssq_cwt(x.copy(), wavelet=("gmw", {"dtype": "float64"}), nv=32)
    img = np.log1p(np.abs(tx))
    img = skimage_transform.resize(img, SIZE, order=1, anti_aliasing=True)
    img = (img - img.min()) / (img.max() - img.min())
    rgb = matplotlib.colormaps["viridis"](img)[..., :3]
    return (rgb * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The researcher's folder: signals, PNGs, nets.py, a trained state dict."""
    from PIL import Image

    os.environ["SSQ_PARALLEL"] = "0"  # single-threaded, read at each call
    root = tmp_path_factory.mktemp("own_model")
    data = load_coffee("train")
    x, y = data.x.astype(np.float64), np.asarray(data.y)
    pngs = root / "all_pngs"
    pngs.mkdir()
    for i, signal in enumerate(x):
        Image.fromarray(_user_png(signal)).save(pngs / f"spectrum_{i:03d}.png")
    # the user's training: PNG -> /255 -> ImageNet normalisation -> their CNN
    read = np.stack(
        [np.asarray(Image.open(pngs / f"spectrum_{i:03d}.png")) for i in range(len(x))]
    )
    images = torch.from_numpy(read).permute(0, 3, 1, 2).float() / 255.0
    images = (images - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    (root / "nets.py").write_text(NETS)
    nets = _import_nets(root)
    torch.manual_seed(0)
    net = nets.SmallCNN(n_classes=2, width=8)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    labels = torch.from_numpy(y).long()
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = float((net(images).argmax(-1) == labels).float().mean())
    torch.save(net.state_dict(), root / "model.pt")
    torch.save(net, root / "whole_model.pt")  # pickles the class as nets.SmallCNN
    sys.modules.pop("nets", None)
    np.savez(root / "coffee.npz", x=x, y=y)
    # the README's folder: 6 spectra (3 per class) and their PNGs, named by index
    few = np.concatenate([np.flatnonzero(y == c)[:3] for c in (0, 1)])
    np.savez(root / "spectra.npz", x=x[few], y=y[few])
    (root / "pngs").mkdir()
    for j, i in enumerate(few):
        (root / "pngs" / f"spectrum_{j}.png").write_bytes(
            (pngs / f"spectrum_{i:03d}.png").read_bytes()
        )
    for cmap in ("viridis", "magma"):
        (root / f"pipeline_{cmap}.toml").write_text(PIPELINE.format(cmap=cmap))
    (root / "pipeline.toml").write_text(PIPELINE.format(cmap="viridis"))
    return {"root": root, "accuracy": accuracy, "n": len(x)}


def _explain(project, *extra, pipeline="viridis", out="out"):
    root = project["root"]
    argv = [
        "explain",
        str(root / "model.pt"),
        str(root / "coffee.npz"),
        "--pipeline",
        str(root / f"pipeline_{pipeline}.toml"),
        "--arch",
        f"{root / 'nets.py'}:SmallCNN",
        "--arch-kwargs",
        '{"n_classes": 2, "width": 8}',
        "--out",
        str(root / out),
        "--no-figures",
        "--no-peaks",
        "--n-null",
        "0",
        *extra,
    ]
    return main(argv)


def test_the_users_model_learnt_its_images(project):
    assert project["accuracy"] >= 0.9  # else agreement below would say little


def test_pipeline_reproduces_the_pngs_and_every_prediction(project, capsys):
    root = project["root"]
    assert _explain(project, "--images", str(root / "all_pngs"), "--method", "saliency") == 0
    err = capsys.readouterr().err
    assert "image check: predictions agree on 100%" in err
    report = json.loads((root / "out" / "report.json").read_text())
    check = report["settings"]["input_check"]["images"]
    assert check["n_compared"] == project["n"] and check["agreement"] == 1.0
    assert check["max_difference"] <= 1 / 255 + 1e-12
    assert check["predictions_ours"] == check["predictions_theirs"]
    assert report["imaging"]["steps"][0] == {"kind": "flip_rows"}  # ssqueezepy's row order
    assert report["class_names"] == ["Arabica", "Robusta"]
    assert report["axis"]["name"] == "channel"


def test_a_wrong_pipeline_is_refused_naming_the_agreement(project, capsys):
    root = project["root"]
    code = _explain(project, "--images", str(root / "all_pngs"), pipeline="magma", out="wrong")
    err = capsys.readouterr().err
    assert code != 0
    assert "refusing to explain: predictions agree on" in err
    assert "--allow-mismatch" in err and "Traceback" not in err
    assert not (root / "wrong").exists()
    # the override explains anyway and says so in the report
    code = _explain(
        project,
        "--images",
        str(root / "all_pngs"),
        "--allow-mismatch",
        "--method",
        "saliency",
        pipeline="magma",
        out="wrong",
    )
    assert code == 0
    check = json.loads((root / "wrong" / "report.json").read_text())["settings"]["input_check"]
    assert check["images"]["allow_mismatch"] is True and check["images"]["agreement"] < 0.99


def test_without_images_the_accuracy_is_reported(project, capsys):
    assert _explain(project, "--method", "saliency", out="acc") == 0
    out, err = capsys.readouterr()
    assert "accuracy with the images made here:" in out and "warning" not in err
    acc = json.loads((project["root"] / "acc" / "report.json").read_text())["settings"]
    assert acc["input_check"]["accuracy"]["accuracy"] >= 0.9


def test_layer_gradcam_by_layer_name_from_the_cli(project):
    root = project["root"]
    code = _explain(project, "--method", "layer_gradcam", "--layer", "features.6", out="cam")
    assert code == 0
    report = json.loads((root / "cam" / "report.json").read_text())
    assert report["method"] == "layer_gradcam"
    assert any(s["regions"] for s in report["samples"])


def test_info_on_a_state_dict_with_its_pipeline(project, capsys):
    root = project["root"]
    argv = [
        "info",
        str(root / "model.pt"),
        "--pipeline",
        str(root / "pipeline_viridis.toml"),
        "--arch",
        f"{root / 'nets.py'}:SmallCNN",
    ]
    assert main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["format"] == "user_state_dict"
    assert shown["metadata"]["imaging"]["steps"][-1]["kind"] == "channel_mean_std"
    # without the pipeline: one line saying what is missing
    assert main(["info", str(root / "model.pt"), "--arch", f"{root / 'nets.py'}:SmallCNN"]) != 0
    err = capsys.readouterr().err
    assert "--pipeline" in err and "Traceback" not in err


def _readme_commands() -> list[str]:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("## Explain your own model") :]
    section = section[: section.index("\n## ", 5)]
    return [
        line
        for block in re.findall(r"```bash\n(.*?)```", section, re.S)
        for line in block.strip().splitlines()
    ]


def test_readme_commands_run_as_written(project, monkeypatch, capsys):
    """Every command of the README's "Explain your own model", verbatim, in the folder."""
    commands = _readme_commands()
    assert len(commands) == 7
    monkeypatch.chdir(project["root"])
    for command in commands:
        words = shlex.split(command)
        if words[0] == "PYTHONPATH=.":  # the shell's environment prefix
            words = words[1:]
            monkeypatch.syspath_prepend(str(project["root"]))
            sys.modules.pop("nets", None)
        assert words[0] == "saliency2signal"
        assert main(words[1:]) == 0, (command, capsys.readouterr().err)
        if words[1] == "explain":
            out = project["root"] / words[words.index("--out") + 1]
            report = json.loads((out / "report.json").read_text())
            assert report["n_samples"] == 6
            assert (out / "index.html").stat().st_size > 0
    sys.modules.pop("nets", None)
    err = capsys.readouterr().err
    assert "image check: predictions agree on 100%" in err
    assert (project["root"] / "model.s2s").stat().st_size > 0


def _other_formats(project) -> dict:
    """The same network saved as torch.export and TorchScript files, without our metadata."""
    root = project["root"]
    made = root / "formats"
    if not made.exists():
        made.mkdir()
        net = _import_nets(root).SmallCNN(n_classes=2, width=8)
        net.load_state_dict(torch.load(root / "model.pt", weights_only=True))
        net.eval()
        sys.modules.pop("nets", None)
        example = torch.zeros(1, 3, *SIZE)
        program = torch.export.export(net, (example,))
        torch.export.save(program, made / "model.pt2")
        with warnings.catch_warnings():  # TorchScript is deprecated; old files still exist
            # (torch 2.14 says so with a FutureWarning, 2.13 with a DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.trace(net, example), made / "model.ts")
    return {"export": made / "model.pt2", "torchscript": made / "model.ts"}


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("state_dict", "user_state_dict"),
        ("pickle", "user_pickle"),
        ("export", "user_export"),
        ("torchscript", "user_torchscript"),
    ],
)
def test_info_on_each_kind_of_your_file(project, kind, fmt, capsys, monkeypatch):
    root = project["root"]
    pipeline = ["--pipeline", str(root / "pipeline.toml")]
    if kind == "state_dict":
        argv = [str(root / "model.pt"), *pipeline, "--arch", f"{root / 'nets.py'}:SmallCNN"]
    elif kind == "pickle":
        monkeypatch.syspath_prepend(str(root))
        sys.modules.pop("nets", None)
        argv = [str(root / "whole_model.pt"), *pipeline, "--trust"]
    else:
        argv = [str(_other_formats(project)[kind]), *pipeline]
    assert main(["info", *argv]) == 0
    shown = json.loads(capsys.readouterr().out)
    sys.modules.pop("nets", None)
    assert shown["format"] == fmt
    assert shown["metadata"]["class_names"] == ["Arabica", "Robusta"]
    assert shown["format_description"]


def test_a_pickle_is_refused_without_trust(project, capsys):
    root = project["root"]
    argv = ["info", str(root / "whole_model.pt"), "--pipeline", str(root / "pipeline.toml")]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "--trust" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_package_then_explain_needs_nothing_else(project, capsys):
    root = project["root"]
    s2s = root / "packaged.s2s"
    argv = [
        "package",
        str(root / "model.pt"),
        "--pipeline",
        str(root / "pipeline.toml"),
        "--arch",
        f"{root / 'nets.py'}:SmallCNN",
        "--out",
        str(s2s),
    ]
    assert main(argv) == 0
    assert main(["info", str(s2s)]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("{") :])
    assert shown["format"] == "export"
    assert shown["metadata"]["extra"]["packaged"]["format"] == "user_state_dict"
    assert shown["metadata"]["imaging"]["steps"][0] == {"kind": "flip_rows"}
    # the packaged file alone explains as the state dict with its pipeline does
    common = ["--no-figures", "--no-peaks", "--n-null", "0", "--method", "saliency"]
    data = str(root / "spectra.npz")
    assert main(["explain", str(s2s), data, "--out", str(root / "pk"), *common]) == 0
    alone = json.loads((root / "pk" / "report.json").read_text())
    assert _explain(project, *common[4:], out="pk_ref") == 0
    ref = json.loads((root / "pk_ref" / "report.json").read_text())
    # (the reference ran on all 28 spectra; the README's 6 are among them in order)
    by_pred = {s["index"]: s["predicted_class"] for s in ref["samples"]}
    assert [s["predicted_class"] for s in alone["samples"]] == [
        by_pred[i] for i in _readme_indices(project)
    ]
    # layer methods need the class again; the error names the one recorded at packaging
    cam = ["--method", "layer_gradcam", "--layer", "features.6", "--n-null", "0", "--no-peaks"]
    assert main(["explain", str(s2s), data, "--out", str(root / "pk_cam"), *cam]) != 0
    assert f"packaged from --arch {root / 'nets.py'}:SmallCNN" in capsys.readouterr().err
    # refuses to write over an existing file
    assert main(argv) != 0
    assert "already exists" in capsys.readouterr().err


def _readme_indices(project) -> list[int]:
    y = np.load(project["root"] / "coffee.npz")["y"]
    return [int(i) for c in (0, 1) for i in np.flatnonzero(y == c)[:3]]


def test_images_as_an_array_stack_uint8_and_float(project, capsys):
    """--images as .npy: 8-bit images (as saved) and float model inputs."""
    from PIL import Image

    root = project["root"]
    stack = np.stack(
        [np.asarray(Image.open(root / "all_pngs" / f"spectrum_{i:03d}.png")) for i in range(10)]
    )
    np.save(root / "stack_uint8.npy", stack)  # (K, H, W, 3), channels last
    inputs = torch.from_numpy(stack).permute(0, 3, 1, 2).double() / 255.0
    inputs = (inputs - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    np.save(root / "stack_float.npy", inputs.numpy())  # what the model was given
    for name in ("stack_uint8", "stack_float"):
        code = _explain(
            project, "--images", str(root / f"{name}.npy"), "--method", "saliency", out=name
        )
        assert code == 0, capsys.readouterr().err
        check = json.loads((root / name / "report.json").read_text())["settings"]
        images = check["input_check"]["images"]
        assert images["n_compared"] == 10 and images["agreement"] == 1.0
        assert images["kind"] == name.split("_")[1]
        assert images["max_difference"] < 1e-6
    capsys.readouterr()


def test_labels_the_model_cannot_match_raise_a_warning(project, capsys):
    """Without images, accuracy no better than chance on our images is said plainly."""
    root = project["root"]
    y = np.load(root / "coffee.npz")["y"]
    np.save(root / "wrong_labels.npy", 1 - y)
    code = _explain(
        project, "--labels", str(root / "wrong_labels.npy"), "--method", "saliency", out="wl"
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: accuracy with the images made here:" in err
    assert "not better than chance" in err
    page = (root / "wl" / "report.json").read_text()
    assert json.loads(page)["settings"]["input_check"]["accuracy"]["near_chance"] is True


def test_evaluate_your_own_model(project, capsys):
    root = project["root"]
    argv = [
        "evaluate",
        str(root / "model.pt"),
        str(root / "spectra.npz"),
        "--pipeline",
        str(root / "pipeline.toml"),
        "--arch",
        f"{root / 'nets.py'}:SmallCNN",
        "--methods",
        "saliency,layer_gradcam",
        "--layer",
        "features.6",
        "--n-null",
        "5",
        "--randomization",
        "none",
        "--no-figures",
        "--out",
        str(root / "evaluated"),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert (root / "evaluated" / "evaluation.json").stat().st_size > 0
