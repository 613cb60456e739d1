"""Regression models: a planted peak's height predicted, explained, and found.

Synthetic spectra (384 points): a Gaussian band at a fixed position whose height is the
target, two or three decoy bands of the same heights and widths elsewhere, a curved
baseline and noise. A plain-PyTorch CNN regresses the height from scalogram images made
by ordered steps; the explanation's top region must read as that band on at least 90 % of
the test spectra.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from saliency2signal import SSQConfig
from saliency2signal.explanation import explain
from saliency2signal.forward import probabilities
from saliency2signal.imaging import ImagingConfig
from saliency2signal.metadata import ModelMetadata
from saliency2signal.peaks import Peak
from saliency2signal.pipeline import ImagingSteps, Log1p, MeanStd, Resize
from saliency2signal.saliency import attribute
from saliency2signal.transform import ssq_cwt

N, CENTRE, SIGMA = 384, 240.0, 5.0
STEPS = [Log1p(gain=4.0), Resize(size=(48, 48), antialias="skimage")]

NET = textwrap.dedent(
    """
    from torch import nn


    class HeightNet(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            )
            self.head = nn.Linear(width * 12 * 12, 1)

        def forward(self, x):
            return self.head(self.features(x).flatten(1))
    """
)


def planted_heights(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Spectra whose target is the height of the band at ``CENTRE`` (and the heights)."""
    t = np.arange(N, dtype=np.float64)
    heights = rng.uniform(0.2, 1.0, n)
    x = np.zeros((n, N))
    for i in range(n):
        x[i] += heights[i] * np.exp(-0.5 * ((t - CENTRE - rng.uniform(-2, 2)) / SIGMA) ** 2)
        for _ in range(rng.integers(2, 4)):  # decoys: the same kind of band elsewhere
            c = rng.uniform(20, N - 20)
            while abs(c - CENTRE) < 40:
                c = rng.uniform(20, N - 20)
            x[i] += rng.uniform(0.2, 1.0) * np.exp(-0.5 * ((t - c) / rng.uniform(3, 10)) ** 2)
        u = t / N
        x[i] += rng.uniform(-0.2, 0.2) * u + rng.uniform(-0.2, 0.2) * u**2
        x[i] += 0.01 * rng.standard_normal(N)
    return x, heights


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A height regressor trained in plain PyTorch on images made by ordered steps."""
    root = tmp_path_factory.mktemp("regression")
    (root / "nets.py").write_text(NET)
    namespace: dict = {}
    exec(compile(NET, str(root / "nets.py"), "exec"), namespace)  # noqa: S102
    rng = np.random.default_rng(0)
    x_train, h_train = planted_heights(1200, rng)
    x_test, h_test = planted_heights(30, rng)
    tcfg = SSQConfig(nv=16)
    with torch.no_grad():
        images = ImagingSteps(STEPS)(ssq_cwt(torch.from_numpy(x_train), tcfg).Tx.abs())
    mean, std = float(images.mean()), float(images.std())
    images = ((images - mean) / std).float()
    torch.manual_seed(0)
    net = namespace["HeightNet"]()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    y = torch.from_numpy(h_train).float()[:, None]
    order = torch.Generator().manual_seed(0)
    for _ in range(30):
        perm = torch.randperm(len(images), generator=order)
        for s in range(0, len(images), 32):
            idx = perm[s : s + 32]
            opt.zero_grad()
            nn.functional.mse_loss(net(images[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    meta = ModelMetadata(
        transform=tcfg,
        imaging=ImagingSteps([*STEPS, MeanStd(mean=mean, std=std)]),
        class_names=["height"],
        n_times=N,
        task="regression",
        output_units=["a.u."],
    )
    torch.save(net.state_dict(), root / "height.pt")
    np.savez(root / "spectra.npz", x=x_test[:6], y=h_test[:6])  # y: heights, not classes
    return {"net": net, "meta": meta, "x": x_test, "h": h_test, "root": root}


def test_metadata_of_a_regression(trained):
    meta = trained["meta"]
    assert meta.n_classes == 1 and meta.to_dict()["task"] == "regression"
    assert ModelMetadata.from_json(meta.to_json()) == meta
    with pytest.raises(ValueError, match="at least two distinct names for task='classification'"):
        meta.replace(task="classification")
    with pytest.raises(ValueError, match="output_units=.*needs task='regression'"):
        meta.replace(output_units=("a.u.", "mg"))


def test_outputs_are_values_not_probabilities(trained, rng):
    net, meta = trained["net"], trained["meta"]
    x = torch.from_numpy(trained["x"][:4]).float()
    values = probabilities(
        net, x, transform_config=meta.transform, imaging_config=meta.imaging, task="regression"
    )
    with torch.no_grad():
        direct = net(meta.imaging(ssq_cwt(x, meta.transform).Tx.abs()).float())
    torch.testing.assert_close(values, direct, rtol=1e-6, atol=1e-6)
    assert np.corrcoef(values[:, 0].numpy(), trained["h"][:4])[0, 1] > 0.9
    res = attribute(
        net,
        x.double(),
        transform_config=meta.transform,
        imaging_config=meta.imaging,
        task="regression",
        n_steps=64,
    )
    # Integrated Gradients' completeness: the attributions add up to output - output(0)
    torch.testing.assert_close(res.probabilities, res.logits)
    with torch.no_grad():
        zero = net(meta.imaging(torch.zeros(1, *res.Tx.shape[-2:])).float())[0, 0]
    total = res.attribution.sum((-2, -1))
    torch.testing.assert_close(
        total, res.logits[:, 0].double() - float(zero), rtol=0.02, atol=0.02
    )


def test_the_top_region_is_the_planted_band(trained):
    """The regressed band is the top region's band on >= 90 % of the test spectra."""
    net, meta, x, h = trained["net"], trained["meta"], trained["x"], trained["h"]
    with torch.no_grad():
        pred = probabilities(
            net,
            torch.from_numpy(x).float(),
            transform_config=meta.transform,
            imaging_config=meta.imaging,
            task="regression",
        )[:, 0].numpy()
    assert np.corrcoef(pred, h)[0, 1] > 0.95  # a model worth explaining
    ex = explain(net, x, metadata=meta)
    assert ex.task == "regression" and ex.settings["reference"] == "zero"
    t = np.arange(N, dtype=np.float64)
    window = np.abs(t - CENTRE) <= 3 * SIGMA
    shares, centres = [], []
    for b in range(len(x)):
        peak = ex.regions[b][0].peak if ex.regions[b] else None
        if peak is None:
            shares.append(0.0)
            continue
        curve = Peak(peak["centre"], peak["fwhm"], peak["height"], peak["eta"]).curve(t)
        shares.append(float((curve[window] ** 2).sum() / (curve**2).sum()))
        centres.append(peak["centre"])
    shares = np.array(shares)
    assert np.mean(shares >= 0.8) >= 0.9, np.round(shares, 2)
    # the band read is the planted one: its centre and height
    assert np.median(np.abs(np.array(centres) - CENTRE)) < 3
    # deleting the top region lowers the output: a drop in the output's units
    drops = np.array([r[0].drop for r in ex.regions if r])
    assert np.median(drops) > 0
    v = ex.verdict_summary()
    assert v["better_than_chance"] >= 0.8 * len(x)
    report = ex.to_json()
    assert report["task"] == "regression" and report["output_units"] == ["a.u."]
    assert "lowers height by" in report["samples"][0]["verdict"]["message"]


def test_regression_from_the_cli(trained, capsys):
    from saliency2signal.cli import main

    root = trained["root"]
    (root / "pipeline.toml").write_text(
        trained_pipeline(trained["meta"].imaging.steps[-1], trained["meta"].transform.nv)
    )
    argv = [
        "explain",
        str(root / "height.pt"),
        str(root / "spectra.npz"),
        "--pipeline",
        str(root / "pipeline.toml"),
        "--arch",
        f"{root / 'nets.py'}:HeightNet",
        "--out",
        str(root / "out"),
        "--n-null",
        "0",
        "--no-peaks",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    report = json.loads((root / "out" / "report.json").read_text())
    assert report["task"] == "regression" and report["class_names"] == ["height"]
    assert report["samples"][0]["regions"]
    # each signal's page speaks of the output, in its units
    page = (root / "out" / "sample_0000.html").read_text()
    assert "Output <b>height</b> = " in page and " a.u." in page
    assert "output before" in page
    assert "sample_0000.html" in (root / "out" / "index.html").read_text()
    # class labels mean nothing to a regression
    labels = root / "labels.npy"
    np.save(labels, np.zeros(6, dtype=np.int64))
    assert main([*argv[:-5], "--out", str(root / "out2"), "--labels", str(labels)]) != 0
    assert "a regression model has none" in capsys.readouterr().err


def trained_pipeline(meanstd: MeanStd, nv: int) -> str:
    """The pipeline file of the height regressor (row order: this package's)."""
    return textwrap.dedent(
        f"""\
        task = "regression"
        output_names = ["height"]
        output_units = ["a.u."]
        n_times = {N}

        [transform]
        wavelet = "gmw"
        nv = {nv}
        row_order = "low_first"

        [[steps]]
        kind = "log1p"
        gain = 4.0

        [[steps]]
        kind = "resize"
        size = [48, 48]
        antialias = "skimage"

        [[steps]]
        kind = "mean_std"
        mean = {meanstd.mean!r}
        std = {meanstd.std!r}
        """
    )


def test_a_classifier_config_still_explains_probabilities(rng):
    """The task defaults to classification: probabilities sum to one."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 3))
    x = rng.standard_normal((2, 256))
    ex = explain(
        net,
        x,
        transform_config=SSQConfig(nv=8),
        imaging_config=ImagingConfig(size=(16, 16)),
        n_null=0,
        peaks=False,
    )
    assert ex.task == "classification"
    np.testing.assert_allclose(ex.probabilities.sum(-1), 1.0, rtol=1e-6)


def test_a_multi_output_regression_explains_the_output_asked_for(rng):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 2))
    meta = ModelMetadata(
        transform=SSQConfig(nv=8),
        imaging=ImagingSteps([Log1p(), Resize(size=(16, 16))]),
        class_names=["height", "width"],
        n_times=256,
        task="regression",
    )
    x = rng.standard_normal((3, 256))
    first = explain(net, x, metadata=meta, n_null=0, peaks=False)
    second = explain(net, x, metadata=meta, target=1, n_null=0, peaks=False)
    assert (first.target == 0).all() and (second.target == 1).all()
    np.testing.assert_array_equal(second.predictions, [1, 1, 1])
    np.testing.assert_allclose(first.probabilities, second.probabilities)
    assert not np.allclose(first.attribution, second.attribution)
    # the deletion effect is the change of the explained output
    r = second.regions[0][0]
    assert r.p_before == pytest.approx(second.probabilities[0, 1])
    with pytest.raises(ValueError, match="regression model has none"):
        explain(net, x, metadata=meta, labels=[0, 1, 0])
