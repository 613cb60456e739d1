"""Tests of saliency2signal._runtime: the inference copy of a model for forward passes."""

from __future__ import annotations

import pathlib

import torch
from test_explanation import coffee

from saliency2signal import _runtime
from saliency2signal._runtime import inference_model
from saliency2signal.io import load_model


def test_inference_model_computes_the_same_function():
    model, _, _, images = coffee()
    model.train()  # left as it was: training mode, parameters
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = inference_model(model, images[:1])
    assert fast is not model
    assert model.training and all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # batch norm folded into the convolutions, weights in channels-last order
    kinds = {type(m).__name__ for m in fast.modules()}
    assert "Conv2d" in kinds and "BatchNorm2d" not in kinds
    conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(fast(images), model(images), rtol=1e-4, atol=1e-5)


def test_inference_model_falls_back_to_the_model(monkeypatch):
    plain, _, _, images = coffee()
    legacy = load_model(pathlib.Path(__file__).resolve().parent / "data" / "legacy_torchscript.pt")
    probe = torch.zeros(1, *legacy.metadata.input_shape)
    assert inference_model(legacy.model, probe) is legacy.model  # TorchScript: as it is

    def untraceable(*args, **kwargs):
        raise RuntimeError(
            "symbolically traced variables cannot be used as inputs to control flow"
        )

    monkeypatch.setattr(_runtime, "_fx_fuse", lambda: untraceable)
    fast = inference_model(plain, images[:1])  # batch norm kept, channels-last still
    assert fast is not plain
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())

    def broken(_):
        raise RuntimeError("cannot copy")

    monkeypatch.setattr(_runtime, "_fold_batch_norm", broken)
    assert inference_model(plain, images[:1]) is plain

    class Off(torch.nn.Module):  # builds, but computes something else
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x) + 1e-2

    monkeypatch.setattr(_runtime, "_fold_batch_norm", Off)
    assert inference_model(plain, images[:1]) is plain
