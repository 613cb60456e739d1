"""Networks from other frameworks: ONNX files (onnx2torch, onnxruntime) and Keras 3 files.

One small CNN is built here in torch, exported to ONNX with ``torch.onnx.export``, and
rebuilt in Keras 3 with the same weights (kernels transposed to Keras's layout; global
average pooling, so that no flatten order differs). Both files end in a softmax, as
models from other frameworks usually do, and are read back as ``log p``: their
explanations must equal those of the torch network ending in ``LogSoftmax``, to float32
rounding. Then the refusals: a conversion that disagrees with the framework, external
data outside the model's folder, a Lambda layer without trust, a missing extra; the
black box; and the README's commands run as written.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from torch import nn

import saliency2signal
from saliency2signal import BlackBox, limits
from saliency2signal.blackbox import is_black_box
from saliency2signal.cli import main
from saliency2signal.forward import probabilities
from saliency2signal.io import FORMAT_DESCRIPTIONS, READ_FORMATS, ModelMetadata, load_model
from saliency2signal.io._keras import KerasNetwork, import_keras
from saliency2signal.pipeline import Log1p, MinMax, Pipeline, Resize


def _onnx2torch_problem() -> str | None:
    """Why onnx2torch cannot be imported here (``None``: it can)."""
    try:
        import onnx2torch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - a torchvision of another torch: RuntimeError
        return f"{type(exc).__name__}: {exc}"
    return None


# onnx2torch imports torchvision, whose wheels are built for one torch release: the CI
# run on the oldest declared torch (2.13, a CPU build) gets a torchvision for the CUDA
# build, which does not load. Everything here is tested on the newest torch.
if _onnx2torch_problem() is not None:
    pytest.skip(
        f"onnx2torch cannot be imported with this torch ({_onnx2torch_problem()})",
        allow_module_level=True,
    )


N = 256
SIZE = (32, 32)
CLASSES = ["low", "mid", "high"]
PIPELINE = Pipeline.from_ssqueezepy_kwargs(
    wavelet="gmw",
    nv=8,
    steps=[Log1p(), Resize(size=SIZE), MinMax()],
    class_names=CLASSES,
    n_times=N,
)
META = ModelMetadata.from_pipeline(PIPELINE)
#: Keras 3 under numpy 2 warns from its own code on every save, load and predict.
KERAS_NUMPY = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


def _features() -> list[nn.Module]:
    return [
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    ]


@pytest.fixture(scope="module")
def nets():
    """The torch network with a softmax head (exported) and a log-softmax head (reference)."""
    torch.manual_seed(0)
    body = nn.Sequential(*_features())
    with torch.no_grad():
        body[-1].weight.mul_(30.0)  # decisive predictions
    softmax = nn.Sequential(body, nn.Softmax(dim=-1)).eval()
    log_softmax = nn.Sequential(body, nn.LogSoftmax(dim=-1)).eval()
    return {"softmax": softmax, "log_softmax": log_softmax, "body": body.eval()}


def _signals(n_signals: int = 3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, N)
    centres = rng.uniform(0.2, 0.8, (n_signals, 2))
    x = sum(np.exp(-0.5 * ((t - centres[:, [k]]) / 0.03) ** 2) for k in range(2))
    return x + 0.05 * rng.standard_normal((n_signals, N))


def _export(net: nn.Module, path: Path, **kwargs) -> Path:
    """``torch.onnx.export`` with a dynamic batch (torch's default exporter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own deprecation notices
        torch.onnx.export(
            net,
            (torch.zeros(2, *META.input_shape),),
            str(path),
            input_names=["images"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
            **kwargs,
        )
    return path


@pytest.fixture(scope="module")
def onnx_file(nets, tmp_path_factory):
    return _export(nets["softmax"], tmp_path_factory.mktemp("onnx") / "model.onnx")


def _keras_model(body: nn.Sequential, *, lam: bool = False):
    """The same network in Keras 3 (channels last), the torch weights copied in."""
    keras = import_keras()
    conv1, conv2, dense = body[0], body[3], body[7]
    inp = keras.Input((*SIZE, 1))
    h = keras.layers.Lambda(lambda z: z * 1.0)(inp) if lam else inp
    c1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    c2 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    d = keras.layers.Dense(3, activation="softmax")
    h = c2(keras.layers.MaxPooling2D(2)(c1(h)))
    out = d(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)

    def kernel(conv):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return conv.weight.detach().permute(2, 3, 1, 0).numpy()

    c1.set_weights([kernel(conv1), conv1.bias.detach().numpy()])
    c2.set_weights([kernel(conv2), conv2.bias.detach().numpy()])
    d.set_weights([dense.weight.detach().T.numpy(), dense.bias.detach().numpy()])
    return model


@pytest.fixture(scope="module")
def keras_file(nets, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "model.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # see KERAS_NUMPY
        _keras_model(nets["body"]).save(str(path))
    return path


def _explain(model) -> saliency2signal.Explanation:
    return saliency2signal.explain(
        model,
        _signals(),
        metadata=META,
        method="integrated_gradients",
        n_steps=16,
        n_null=0,
        peaks=False,
    )


@pytest.fixture(scope="module")
def reference(nets):
    return _explain(nets["log_softmax"])


def _assert_same_explanation(got, ref) -> None:
    """Attribution maps, regions, components and probabilities to float32 rounding."""
    assert_allclose(got.probabilities, ref.probabilities, atol=1e-6)
    assert_array_equal(got.predictions, ref.predictions)
    scale = np.abs(ref.attribution).max()
    assert_allclose(got.attribution, ref.attribution, rtol=1e-4, atol=1e-5 * scale)
    assert_array_equal(got.labels, ref.labels)
    assert_allclose(got.components, ref.components, atol=1e-6 * np.abs(ref.signals).max())
    assert [len(r) for r in got.regions] == [len(r) for r in ref.regions]
    for mine, theirs in zip(got.regions, ref.regions, strict=True):
        assert [e.x_range for e in mine] == [e.x_range for e in theirs]
        assert_allclose([e.drop for e in mine], [e.drop for e in theirs], atol=1e-5)


# ------------------------------------------------------------------ ONNX


def test_the_formats_are_listed():
    for fmt in ("user_onnx", "user_onnx_black_box", "user_keras"):
        assert fmt in READ_FORMATS and fmt in FORMAT_DESCRIPTIONS


def test_onnx_explanations_equal_torch(onnx_file, reference):
    loaded = load_model(onnx_file, metadata=META)
    assert loaded.format == "user_onnx" and loaded.model.outputs == "probabilities"
    got = _explain(loaded.model)
    assert any(len(r) for r in reference.regions)  # something to compare
    _assert_same_explanation(got, reference)


def test_onnx_logits_stay_logits(nets, tmp_path):
    """A graph without softmax: read as logits, its outputs equal torch's exactly."""
    path = _export(nets["body"], tmp_path / "logits.onnx")
    loaded = load_model(path, metadata=META)
    assert loaded.model.outputs == "logits"
    images = torch.rand(5, *META.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(images), nets["body"](images))
    with pytest.raises(ValueError, match="outputs='probabilities' but .* not probabilities"):
        load_model(path, metadata=META, outputs="probabilities")


def test_onnx_conversion_that_disagrees_is_refused(onnx_file, monkeypatch):
    import onnx2torch

    convert = onnx2torch.convert

    class Off(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x) * 1.01

    monkeypatch.setattr(onnx2torch, "convert", lambda proto: Off(convert(proto)))
    with pytest.raises(ValueError, match="disagrees with onnxruntime on the probe images") as e:
        load_model(onnx_file, metadata=META)
    assert "\n" not in str(e.value)


def _shrink_graph(path: Path) -> Path:
    """A graph with ``Shrink``, which onnxruntime runs and onnx2torch does not convert."""
    h = onnx.helper
    rng = np.random.default_rng(0)
    w = onnx.numpy_helper.from_array(rng.standard_normal((1, 3)).astype(np.float32), "w")
    nodes = [
        h.make_node("Shrink", ["images"], ["s"], lambd=0.1),
        h.make_node("GlobalAveragePool", ["s"], ["g"]),
        h.make_node("Flatten", ["g"], ["f"]),
        h.make_node("MatMul", ["f", "w"], ["z"]),
        h.make_node("Softmax", ["z"], ["p"], axis=1),
    ]
    graph = h.make_graph(
        nodes,
        "shrink",
        [h.make_tensor_value_info("images", onnx.TensorProto.FLOAT, ["batch", 1, *SIZE])],
        [h.make_tensor_value_info("p", onnx.TensorProto.FLOAT, ["batch", 3])],
        [w],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_an_unconvertible_graph_names_the_black_box(tmp_path):
    path = _shrink_graph(tmp_path / "shrink.onnx")
    with pytest.raises(ValueError, match=r"onnx2torch cannot convert.*Shrink.*black_box=True"):
        load_model(path, metadata=META)
    loaded = load_model(path, metadata=META, black_box=True)
    assert loaded.format == "user_onnx_black_box" and is_black_box(loaded.model)


def test_black_box_probabilities_equal_onnxruntime(onnx_file):
    loaded = load_model(onnx_file, metadata=META, black_box=True)
    assert isinstance(loaded.model, BlackBox) and loaded.format == "user_onnx_black_box"
    x = torch.from_numpy(_signals(4))
    got = probabilities(
        loaded.model, x, transform_config=META.transform, imaging_config=META.imaging
    )
    images = PIPELINE.images(x.numpy()).float().numpy()
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    want = session.run(None, {"images": images})[0]
    assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs the model's gradients, but the model is a black"):
        _explain(loaded.model)


def _external(onnx_file: Path, folder: Path, location: str) -> Path:
    """The model with its weights in an external data file named ``location``."""
    proto = onnx.load(str(onnx_file))
    folder.mkdir()
    onnx.save_model(
        proto,
        str(folder / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=64,  # the weights; onnxruntime wants shape constants inline
    )
    if location != "weights.bin":  # move the data and point the graph at it
        target = (folder / location).resolve()
        (folder / "weights.bin").rename(target)
        proto = onnx.load(str(folder / "model.onnx"), load_external_data=False)
        for tensor in proto.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location if not location.startswith("/") else str(target)
        onnx.save(proto, str(folder / "model.onnx"))
    return folder / "model.onnx"


def test_external_data_in_the_models_folder_is_read(onnx_file, tmp_path):
    path = _external(onnx_file, tmp_path / "m", "weights.bin")
    assert load_model(path, metadata=META).format == "user_onnx"


@pytest.mark.parametrize("where", ["parent", "absolute"])
def test_external_data_outside_the_folder_is_refused(onnx_file, tmp_path, where):
    location = "../weights.bin" if where == "parent" else str(tmp_path / "elsewhere.bin")
    path = _external(onnx_file, tmp_path / "m", location)
    with pytest.raises(ValueError, match="outside the model's folder; refusing to read it"):
        load_model(path, metadata=META)
    with pytest.raises(ValueError, match="outside the model's folder"):
        load_model(path, metadata=META, black_box=True)


def test_onnx_size_is_checked_before_loading(onnx_file):
    with (
        limits.raised(max_parameters=100),
        pytest.raises(ValueError, match="more than max_parameters=100"),
    ):
        load_model(onnx_file, metadata=META)


def test_onnx_needs_a_pipeline(onnx_file):
    with pytest.raises(ValueError, match="no saliency2signal metadata"):
        load_model(onnx_file)


def test_a_missing_extra_names_the_pip_command(onnx_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx2torch", None)  # import fails
    with pytest.raises(ImportError, match=re.escape('pip install "saliency2signal[onnx]"')):
        load_model(onnx_file, metadata=META)


# ------------------------------------------------------------------ Keras


@pytest.mark.filterwarnings(KERAS_NUMPY)
def test_keras_explanations_equal_torch(keras_file, reference):
    loaded = load_model(keras_file, metadata=META)
    assert loaded.format == "user_keras" and loaded.model.layout == "NHWC"
    images = torch.rand(2, *META.input_shape, requires_grad=True)
    loaded.model(images)[:, 0].sum().backward()  # a torch graph through the Keras layers
    assert images.grad is not None and images.grad.abs().sum() > 0
    _assert_same_explanation(_explain(loaded.model), reference)


@pytest.mark.filterwarnings(KERAS_NUMPY)
def test_keras_lambda_layer_needs_trust(nets, tmp_path):
    path = tmp_path / "lambda.keras"
    _keras_model(nets["body"], lam=True).save(str(path))
    with pytest.raises(ValueError, match=r"refuses it in safe mode.*trust=True \(CLI --trust\)"):
        load_model(path, metadata=META)
    assert load_model(path, metadata=META, trust=True).format == "user_keras"


@pytest.mark.filterwarnings(KERAS_NUMPY)
def test_keras_model_that_disagrees_is_refused(keras_file, monkeypatch):
    forward = KerasNetwork.forward
    monkeypatch.setattr(KerasNetwork, "forward", lambda self, x: forward(self, x) * 0.9)
    with pytest.raises(ValueError, match="disagrees with Keras's own model.predict"):
        load_model(keras_file, metadata=META)


def test_keras_with_another_backend_is_refused(monkeypatch):
    keras = import_keras()
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="already imported with the 'jax' backend.*KERAS_BACKEND"):
        import_keras()


def test_keras_missing_extra(keras_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(ImportError, match=re.escape('pip install "saliency2signal[keras]"')):
        load_model(keras_file, metadata=META)


# ------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def folder(onnx_file, tmp_path_factory):
    """The README's folder: model.onnx, spectra.npz, pipeline.toml."""
    root = tmp_path_factory.mktemp("cli")
    for made in onnx_file.parent.iterdir():  # model.onnx and its model.onnx.data
        (root / made.name).write_bytes(made.read_bytes())
    (root / "pipeline.toml").write_text(PIPELINE.to_toml())
    np.savez(root / "spectra.npz", x=_signals(3))
    return root


def _readme_commands() -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("### Models from other frameworks") :]
    section = section[: re.search(r"\n##+ ", section[4:]).start() + 4]
    return [
        line
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.strip().splitlines()
    ]


def test_readme_commands_run_as_written(folder, monkeypatch, capsys):
    commands = _readme_commands()
    assert len(commands) == 3
    monkeypatch.chdir(folder)
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "saliency2signal"
        assert main(words[1:]) == 0, (command, capsys.readouterr().err)
    report = json.loads((folder / "explained_onnx" / "report.json").read_text())
    assert report["n_samples"] == 3 and any(s["regions"] for s in report["samples"])
    out = capsys.readouterr().out
    assert '"user_onnx_black_box"' in out


def test_cli_info_and_evaluate_on_onnx(folder, capsys):
    base = [str(folder / "model.onnx"), "--pipeline", str(folder / "pipeline.toml")]
    assert main(["info", *base]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "user_onnx"
    argv = ["evaluate", base[0], str(folder / "spectra.npz"), *base[1:]]
    argv += ["--methods", "saliency", "--n-null", "3", "--randomization", "none"]
    argv += ["--no-figures", "--out", str(folder / "evaluated")]
    assert main(argv) == 0, capsys.readouterr().err
    assert (folder / "evaluated" / "evaluation.json").stat().st_size > 0


def test_cli_errors_are_one_line(folder, monkeypatch, capsys):
    model = str(folder / "model.onnx")
    assert main(["info", model]) != 0  # no pipeline
    err = capsys.readouterr().err
    assert "--pipeline" in err and "Traceback" not in err and err.count("\n") == 1
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["info", model, "--pipeline", str(folder / "pipeline.toml")]) != 0
    err = capsys.readouterr().err
    assert 'pip install "saliency2signal[onnx]"' in err and err.count("\n") == 1


def test_cli_explains_an_onnx_black_box_with_rise(folder, capsys):
    """onnxruntime alone (no gradients): rise through the signal, then the usual checks."""
    base = [str(folder / "model.onnx"), str(folder / "spectra.npz")]
    opts = ["--pipeline", str(folder / "pipeline.toml"), "--black-box", "--no-figures"]
    out = str(folder / "rise")
    assert main(["explain", *base, *opts, "--method", "rise", "--out", out]) == 0
    report = json.loads((folder / "rise" / "report.json").read_text())
    assert report["method"] == "rise"
    assert any(r["deletion"] is not None for s in report["samples"] for r in s["regions"])
    capsys.readouterr()
    assert main(["explain", *base, *opts, "--out", str(folder / "ig")]) == 2
    err = capsys.readouterr().err
    assert "rise" in err and err.count("\n") == 1


def test_cli_evaluates_an_onnx_black_box_with_rise_by_default(folder, capsys):
    argv = ["evaluate", str(folder / "model.onnx"), str(folder / "spectra.npz")]
    argv += ["--pipeline", str(folder / "pipeline.toml"), "--black-box", "--n-null", "3"]
    assert main([*argv, "--no-figures", "--out", str(folder / "bb_eval")]) == 0
    out = capsys.readouterr().out
    assert "rise" in out and "randomized_spearman" not in out
    report = json.loads((folder / "bb_eval" / "evaluation.json").read_text())
    assert report["settings"]["randomization"] == "none"
