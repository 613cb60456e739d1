"""Tests for loading networks saved without saliency2signal (load_model's ``user_*`` formats)."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
import warnings

import pytest
import torch

from saliency2signal import SSQConfig
from saliency2signal.imaging import ImagingConfig
from saliency2signal.io import (
    FORMAT_DESCRIPTIONS,
    READ_FORMATS,
    ModelMetadata,
    load_model,
    resolve_architecture,
    save_model,
)

META = ModelMetadata(
    transform=SSQConfig(nv=8),
    imaging=ImagingConfig(size=(32, 32)),
    class_names=["a", "b"],
    n_times=256,
)
KWARGS = {"in_channels": 1, "n_classes": 2}

#: A researcher's module: a CNN, a dataclass (needs the module registered while it is
#: imported), another network and something that is not callable.
NETS = """
from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class Widths:
    first: int = 4
    second: int = 8


class SmallCNN(nn.Module):
    def __init__(self, in_channels: int = 1, n_classes: int = 2):
        super().__init__()
        w = Widths()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w.first, 3, padding=1),
            nn.BatchNorm2d(w.first),
            nn.ReLU(),
            nn.Conv2d(w.first, w.second, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(w.second, n_classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class Other(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 2))

    def forward(self, x):
        return self.body(x)


class Zoo:
    small = SmallCNN


NOT_A_NET = 3
"""


@pytest.fixture
def nets(tmp_path):
    """Write the researcher's module under a fresh name; return its file."""
    name = f"s2s_nets_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(NETS)
    yield path
    sys.modules.pop(name, None)


@pytest.fixture
def net(nets, monkeypatch):
    """A trained-looking SmallCNN (non-trivial batch-norm statistics), in eval mode."""
    monkeypatch.syspath_prepend(str(nets.parent))
    module = importlib.import_module(nets.stem)
    torch.manual_seed(0)
    model = module.SmallCNN(**KWARGS)
    with torch.no_grad():
        model(torch.randn(8, 1, 32, 32) * 3 + 1)
    return model.eval()


@pytest.fixture
def image():
    return torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def same_outputs(a, b, image):
    with torch.no_grad():
        torch.testing.assert_close(a(image), b(image), rtol=0, atol=0)


def export_archive(net, path):
    example = torch.zeros(2, 1, 32, 32)
    batch = {0: torch.export.Dim.DYNAMIC}
    torch.export.save(torch.export.export(net, (example,), dynamic_shapes=(batch,)), path)
    return path


def torchscript_archive(net, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(net), path)
    return path


# --------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("form", ["file", "module", "object", "dotted"])
def test_state_dict_with_the_researchers_class(tmp_path, nets, net, image, form):
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    reference = {
        "file": f"{nets}:SmallCNN",
        "module": f"{nets.stem}:SmallCNN",
        "object": type(net),
        "dotted": f"{nets}:Zoo.small",
    }[form]
    loaded = load_model(path, architecture=reference, architecture_kwargs=KWARGS, metadata=META)
    assert loaded.format == "user_state_dict"
    assert loaded.metadata is META
    assert type(loaded.model).__name__ == "SmallCNN" and not loaded.model.training
    same_outputs(loaded.model, net, image)


def test_relative_file_reference(tmp_path, nets, net, image, monkeypatch):
    torch.save(net.state_dict(), tmp_path / "model.pt")
    monkeypatch.chdir(tmp_path)
    loaded = load_model("model.pt", architecture=f"{nets.name}:SmallCNN", metadata=META)
    same_outputs(loaded.model, net, image)
    cls = resolve_architecture(f"{nets.name}:SmallCNN")
    assert cls.__module__.startswith("_saliency2signal_user_")
    assert sys.modules[cls.__module__].Widths().second == 8  # the dataclass works


@pytest.mark.parametrize(
    "wrap",
    [
        lambda net, opt: {"epoch": 3, "model_state_dict": net.state_dict(), "opt": opt},
        lambda net, opt: torch.nn.DataParallel(net).state_dict(),
        lambda net, opt: {"state_dict": torch.nn.DataParallel(net).state_dict(), "epoch": 9},
        lambda net, opt: {"model": net.state_dict(), "model_name": "SmallCNN"},
    ],
    ids=["checkpoint", "data_parallel", "checkpoint_data_parallel", "model_key"],
)
def test_checkpoints_and_wrapper_prefixes(tmp_path, nets, net, image, wrap):
    optimizer = torch.optim.Adam(net.parameters())
    torch.save(wrap(net, optimizer.state_dict()), tmp_path / "ckpt.pt")
    loaded = load_model(tmp_path / "ckpt.pt", architecture=f"{nets}:SmallCNN", metadata=META)
    assert loaded.format == "user_state_dict"
    same_outputs(loaded.model, net, image)


@pytest.mark.parametrize(
    ("reference", "kwargs", "match"),
    [
        (
            "SmallCNN",
            {"n_classes": 3},
            r"'model\.pt': the weights do not fit \S+:SmallCNN\(n_classes=3\): shapes differ: "
            r"head\.weight \(2, 8\) in the file vs \(3, 8\) in the network",
        ),
        (
            "SmallCNN",
            {"colour": "red"},
            r"building the network \S+:SmallCNN\(colour='red'\) failed: TypeError: .*colour",
        ),
        (
            "Other",
            {},
            r"do not fit .*Other\(\): missing from the file: body\.1\.weight, "
            r"body\.1\.bias; not in the network: features\.0\.weight, features\.0\.bias, "
            r"features\.1\.weight \(\+8 more\)",
        ),
    ],
)
def test_weights_that_do_not_fit_are_named(
    tmp_path, nets, net, monkeypatch, reference, kwargs, match
):
    torch.save(net.state_dict(), tmp_path / "model.pt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=match):
        load_model(
            "model.pt",
            architecture=f"{nets}:{reference}",
            architecture_kwargs=kwargs,
            metadata=META,
        )


def test_state_dict_needs_the_class_and_the_metadata(tmp_path, nets, net):
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(ValueError, match=r"model\.pt' is a state dict \(11 tensors\).*--arch\)$"):
        load_model(path, metadata=META)
    with pytest.raises(ValueError, match=r"state dict \(11 tensors\).*--arch.*--pipeline"):
        load_model(path)
    with pytest.raises(
        ValueError, match=r"model\.pt' has no saliency2signal metadata.*--pipeline"
    ):
        load_model(path, architecture=f"{nets}:SmallCNN")


def test_state_dict_of_a_registered_architecture_needs_no_class(tmp_path):
    from saliency2signal.models import ScalogramCNN

    torch.manual_seed(0)
    bundled = ScalogramCNN(in_channels=1, n_classes=2, widths=(4, 8, 8)).eval()
    torch.save(bundled.state_dict(), tmp_path / "model.pt")
    meta = META.replace(
        architecture="ScalogramCNN", architecture_kwargs=bundled.architecture_kwargs
    )
    loaded = load_model(tmp_path / "model.pt", metadata=meta)
    assert loaded.format == "user_state_dict" and isinstance(loaded.model, ScalogramCNN)


def test_the_network_is_checked_against_the_metadata(tmp_path, nets, net):
    torch.save(net.state_dict(), tmp_path / "model.pt")
    meta = META.replace(class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"n_classes=3 .* outputs \(1, 2\)"):
        load_model(tmp_path / "model.pt", architecture=f"{nets}:SmallCNN", metadata=meta)


def test_state_dicts_are_read_weights_only_even_with_trust(tmp_path, nets, net, monkeypatch):
    torch.save(net.state_dict(), tmp_path / "model.pt")
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_model(tmp_path / "model.pt", trust=True, architecture=f"{nets}:SmallCNN", metadata=META)
    assert calls == [True]


class WritesFile:
    """Unpickling this runs ``exec``, which writes a file: what an attacker would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (exec, (f"open({self.target!r}, 'w').write('pwned')",))


def test_a_checkpoint_with_a_payload_is_refused_and_never_runs(tmp_path, nets, net):
    target = tmp_path / "pwned.txt"
    torch.save({"model_state_dict": net.state_dict(), "x": WritesFile(target)}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match=r"refusing to unpickle .*exec.*--trust"):
        load_model(tmp_path / "c.pt", architecture=f"{nets}:SmallCNN", metadata=META)
    assert not target.exists()


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"epoch": 3}, r"not a saliency2signal model file .*nor a state dict.*'epoch'"),
        ([torch.ones(2)], "holding a list: not a network"),
        (
            {"model": {"w": torch.ones(2)}, "net": {"w": torch.ones(2)}},
            r"several networks \(keys \['model', 'net'\]\)",
        ),
    ],
)
def test_other_torch_save_files_are_refused(tmp_path, nets, obj, match):
    torch.save(obj, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt.*" + match):
        load_model(tmp_path / "other.pt", architecture=f"{nets}:SmallCNN", metadata=META)


# --------------------------------------------------------------------------- pickled modules
def test_pickled_module_needs_trust(tmp_path, net, image):
    path = tmp_path / "whole.pt"
    torch.save(net, path)
    with pytest.raises(ValueError, match=r"SmallCNN.*arbitrary code.*trust=True.*--trust"):
        load_model(path, metadata=META)
    with pytest.raises(ValueError, match="has no saliency2signal metadata.*--pipeline"):
        load_model(path, trust=True)
    loaded = load_model(path, trust=True, metadata=META)
    assert loaded.format == "user_pickle"
    same_outputs(loaded.model, net, image)
    torch.save({"epoch": 3, "model": net}, tmp_path / "checkpoint.pt")  # a checkpoint
    loaded = load_model(tmp_path / "checkpoint.pt", trust=True, metadata=META)
    assert loaded.format == "user_pickle"
    same_outputs(loaded.model, net, image)


def test_pickled_module_whose_class_is_not_importable(tmp_path, nets, net, monkeypatch):
    path = tmp_path / "whole.pt"
    torch.save(net, path)
    monkeypatch.delitem(sys.modules, nets.stem)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(nets.parent)])
    with pytest.raises(
        ValueError, match=rf"needs the class {nets.stem}\.SmallCNN importable: .*PYTHONPATH"
    ):
        load_model(path, trust=True, metadata=META)


# --------------------------------------------------------------------------- archives
@pytest.mark.parametrize("kind", ["export", "torchscript"])
def test_archives_without_metadata(tmp_path, nets, net, image, kind):
    make = export_archive if kind == "export" else torchscript_archive
    path = make(net, tmp_path / "model.bin")
    with pytest.raises(ValueError, match=r"model\.bin' has no saliency2signal metadata.*--pipe"):
        load_model(path)
    loaded = load_model(path, metadata=META)
    assert loaded.format == f"user_{kind}" and not loaded.model.training
    same_outputs(loaded.model, net, image)
    with pytest.raises(ValueError, match="names no architecture to rebuild.*--arch"):
        load_model(path, metadata=META, rebuild=True)
    rebuilt = load_model(path, metadata=META, rebuild=True, architecture=f"{nets}:SmallCNN")
    assert rebuilt.format == f"user_{kind}"
    assert type(rebuilt.model).__name__ == "SmallCNN"
    layers = dict(rebuilt.model.named_modules())
    assert isinstance(layers["features.0"], torch.nn.Conv2d)
    assert isinstance(layers["features.3"], torch.nn.Conv2d)
    same_outputs(rebuilt.model, net, image)


def test_our_own_file_and_given_metadata(tmp_path, nets, net, image):
    path = save_model(net, tmp_path / "m.pt2", metadata=META)
    assert load_model(path, metadata=META).format == "export"
    with pytest.raises(ValueError, match=r"its own saliency2signal metadata .*in class_names"):
        load_model(path, metadata=META.replace(class_names=["x", "y"]))
    rebuilt = load_model(path, rebuild=True, architecture=f"{nets}:SmallCNN")
    assert type(rebuilt.model).__name__ == "SmallCNN"
    same_outputs(rebuilt.model, net, image)


def test_formats_are_described():
    user = [f for f in READ_FORMATS if f.startswith("user_")]
    assert user == [
        "user_state_dict",
        "user_pickle",
        "user_export",
        "user_torchscript",
        "user_onnx",
        "user_onnx_black_box",
        "user_keras",
    ]
    assert set(READ_FORMATS) == set(FORMAT_DESCRIPTIONS)


# --------------------------------------------------------------------------- references
def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("reference", "match"),
    [
        ("nets", r"architecture='nets' must be 'package\.module:Class' or 'path/to/file"),
        ("nets:", "must be 'package.module:Class'"),
        ("{tmp}/missing/nets.py:SmallCNN", r"no such file '.*missing/nets\.py'"),
        ("{nets}:Missing", r"\.py has no attribute 'Missing'"),
        ("{nets}:Zoo.large", r"has no attribute 'Zoo\.large'"),
        ("{nets}:NOT_A_NET", "names a int, not a class or function"),
        ("{tmp}/raises.py:Net", r"raises\.py:Net': importing it raised RuntimeError: boom$"),
        ("{tmp}/syntax.py:Net", r"importing it raised SyntaxError: invalid syntax"),
        ("{tmp}/exits.py:Net", r"importing it raised SystemExit: 3"),
        ("no_such_module_s2s:Net", r"no module named 'no_such_module_s2s'.*Python path"),
        ("s2s_imports_missing:Net", r"importing it raised ModuleNotFoundError: .*'not_there_s2s'"),
    ],
)
def test_bad_references(tmp_path, nets, monkeypatch, reference, match):
    write(tmp_path, "raises.py", "raise RuntimeError('boom')\n")
    write(tmp_path, "syntax.py", "def (:\n")
    write(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    write(tmp_path, "s2s_imports_missing.py", "import not_there_s2s\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "s2s_imports_missing", raising=False)
    before = set(sys.modules)
    reference = reference.format(tmp=tmp_path, nets=nets)
    with pytest.raises(ValueError, match=match):
        resolve_architecture(reference)
    # a module that failed to import is not left registered
    left = {m for m in set(sys.modules) - before if m.startswith("_saliency2signal_user_")}
    assert all(nets.stem in m for m in left)


def test_a_bad_reference_fails_before_the_file_is_read(tmp_path):
    write(tmp_path, "raises.py", "raise RuntimeError('boom')\n")
    with pytest.raises(ValueError, match="importing it raised RuntimeError: boom"):
        load_model(__file__, architecture=f"{tmp_path}/raises.py:Net", metadata=META)
    with pytest.raises(TypeError, match="architecture must be a class"):
        resolve_architecture(3)
    with pytest.raises(TypeError, match="architecture_kwargs must be a mapping"):
        load_model(__file__, architecture=dict, architecture_kwargs=[1], metadata=META)
    with pytest.raises(ValueError, match="architecture_kwargs=.* given without architecture"):
        load_model(__file__, architecture_kwargs={"n_classes": 2}, metadata=META)
    with pytest.raises(TypeError, match="metadata must be a ModelMetadata"):
        load_model(__file__, metadata=META.to_dict())


def test_a_file_reference_can_import_its_neighbours(tmp_path):
    write(tmp_path, "s2s_layers_beside.py", "from torch import nn\nWIDTH = 5\n")
    write(
        tmp_path,
        "model_def.py",
        """
        from torch import nn
        from s2s_layers_beside import WIDTH

        def make(n_classes=2):
            return nn.Sequential(nn.Flatten(), nn.Linear(WIDTH, n_classes))
        """,
    )
    try:
        make = resolve_architecture(f"{tmp_path}/model_def.py:make")
        assert make(n_classes=3)[1].out_features == 3
    finally:
        sys.modules.pop("s2s_layers_beside", None)
    assert str(tmp_path) not in sys.path
