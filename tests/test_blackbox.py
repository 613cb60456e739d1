"""Models with no gradients: BlackBox, method='rise', region_shapley, the refusals (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, explain, ssq_cwt
from saliency2signal._runtime import inference_model
from saliency2signal.blackbox import BlackBox
from saliency2signal.forward import probabilities
from saliency2signal.imaging import ImagingConfig
from saliency2signal.saliency import attribute, methods, region_shapley, time_gradient

N = 256
CFG = SSQConfig(nv=8)
ICFG = ImagingConfig(normalize="none")  # the image is |Tx| on the grid itself
BAND = CFG.freqs(N) > 0.1  # rows the analytic model reads


def _tones(rng, n_signals: int = 1) -> torch.Tensor:
    """A low tone (0.03) and a high tone (0.2, inside BAND) plus a little noise."""
    t = np.arange(N)
    x = np.cos(2 * np.pi * 0.03 * t) + 0.8 * np.cos(2 * np.pi * 0.2 * t)
    return torch.as_tensor(x + 0.05 * rng.standard_normal((n_signals, N)), dtype=torch.float32)


def _band_model(level: float) -> BlackBox:
    """P(class 1) rises with the mean magnitude in BAND: an analytic model, no gradients."""
    rows = torch.as_tensor(BAND)

    def predict_proba(images: np.ndarray) -> np.ndarray:
        e = images[:, 0][:, rows.numpy()].mean(axis=(1, 2))
        p1 = 1 / (1 + np.exp(-(e - level) / (0.2 * level)))
        return np.stack([1 - p1, p1], axis=1)

    return BlackBox(predict_proba)


@pytest.fixture
def band(rng):
    x = _tones(rng, 3)
    img = ssq_cwt(x, CFG).Tx.abs()
    level = 0.5 * float(img[:, torch.as_tensor(BAND)].mean())  # p1 high but not saturated
    return x, _band_model(level)


def _torch_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 2),
    )


def _as_black_box(net: torch.nn.Module) -> BlackBox:
    def predict_proba(images):
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(images)), -1).numpy()

    return BlackBox(predict_proba)


# ------------------------------------------------------------------ BlackBox
def test_black_box_gives_the_torch_models_probabilities(rng):
    net = _torch_net().eval()
    x = _tones(rng, 4)
    kw = {"transform_config": CFG, "imaging_config": ICFG}
    want = probabilities(net, x, **kw)
    got = probabilities(_as_black_box(net), x, **kw)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_inference_model_returns_a_black_box_unprobed():
    box = _band_model(1.0)
    assert inference_model(box, torch.zeros(2, 1, 8, 8)) is box
    assert box.n_calls == 0


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "layer_gradcam"])
def test_gradient_methods_are_refused_naming_those_that_work(band, method):
    x, box = band
    with pytest.raises(ValueError, match=r"black box.*'occlusion'.*'rise'"):
        attribute(box, x, transform_config=CFG, imaging_config=ICFG, method=method, layer="x")
    with pytest.raises(ValueError, match="time_gradient needs the model's gradients"):
        time_gradient(box, x, transform_config=CFG, imaging_config=ICFG)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("occlusion", {"sliding_window_shapes": (2, 64), "internal_batch_size": 64}),
        ("feature_ablation", {"feature_mask": "halves"}),
        ("shapley_value_sampling", {"feature_mask": "halves", "n_samples": 2}),
    ],
)
def test_captum_perturbation_methods_run_on_a_black_box(band, method, options):
    x, box = band
    if options.get("feature_mask") == "halves":
        labels = np.zeros((CFG.n_freqs(N), N), dtype=np.int64)
        labels[BAND] = 1
        options = {**options, "feature_mask": labels}
    res = attribute(box, x, transform_config=CFG, imaging_config=ICFG, method=method, **options)
    assert res.attribution.shape == res.Tx.shape
    assert res.model_calls == box.n_calls and res.model_images == box.n_images > 0


# ------------------------------------------------------------------ rise
def _rise(model, x, **kw):
    kw.setdefault("n_masks", 64)
    return attribute(model, x, transform_config=CFG, imaging_config=ICFG, method="rise", **kw)


def test_rise_puts_its_mass_in_the_band_the_model_reads(band):
    x, box = band
    res = _rise(box, x)
    pos = res.attribution.clamp_min(0)
    share = pos[:, torch.as_tensor(BAND)].sum((-2, -1)) / pos.sum((-2, -1))
    low = pos[:, torch.as_tensor(CFG.freqs(N) < 0.05)].sum((-2, -1)) / pos.sum((-2, -1))
    # smooth masks of one octave blur the band's edge a little
    assert bool((share > 0.9).all()) and bool((low < 0.01).all()), (share, low)
    # the cost: one pass at |Tx|, then 64 masked signals each; 128 // 3 = 42 masks (an
    # even number: complementary pairs stay together) of the 3 signals per model call
    assert res.model_images == box.n_images == 3 + 3 * 64
    assert res.model_calls == box.n_calls == 1 + 2


def test_rise_is_seeded(band):
    x, box = band
    a, b, c = (_rise(box, x, rng=s).attribution for s in (5, 5, 6))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_rise_of_a_batch_equals_rise_one_by_one(band):
    x, box = band
    together = _rise(box, x, internal_batch_size=48).attribution  # 16 masks per call
    alone = torch.stack([_rise(box, x[i]).attribution for i in range(3)])
    scale = float(together.abs().max())
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5 * scale)


def test_rise_with_the_signal_as_its_own_reference_finds_nothing(band):
    """Removing content and imputing the same content changes nothing: zero everywhere."""
    x, box = band
    tx = ssq_cwt(x, CFG).Tx
    res = _rise(box, x, reference_coefficients=tx)
    assert float(res.attribution.abs().max()) == 0.0


def test_rise_imputes_the_reference(band):
    """Against a reference holding the high tone, the band holds no contrast: mass moves out."""
    x, box = band
    t = np.arange(N)
    ref = torch.as_tensor(0.8 * np.cos(2 * np.pi * 0.2 * t), dtype=torch.float32)
    tx_ref = ssq_cwt(ref, CFG).Tx
    plain = _rise(box, x).attribution.clamp_min(0)
    contrastive = _rise(box, x, reference_coefficients=tx_ref).attribution.clamp_min(0)
    assert float(contrastive.sum()) < 0.2 * float(plain.sum())


def test_rise_options_are_checked(band):
    x, box = band
    with pytest.raises(ValueError, match="keep_probability"):
        _rise(box, x, keep_probability=1.0)
    with pytest.raises(ValueError, match="n_masks"):
        _rise(box, x, n_masks=1)
    with pytest.raises(TypeError, match="reference_coefficients"):
        _rise(box, x, reference_coefficients=torch.zeros(3, CFG.n_freqs(N), N))


def test_rise_is_a_perturbation_method():
    assert "rise" in methods("perturbation")


# ------------------------------------------------------------------ region Shapley
def _halves() -> np.ndarray:
    labels = np.ones((CFG.n_freqs(N), N), dtype=np.int64)
    labels[:, N // 2 :] = 2
    return labels


def _energy_model() -> BlackBox:
    """A regression whose output is the summed magnitude of the image (no gradients)."""
    return BlackBox(lambda images: images.sum(axis=(1, 2, 3)), outputs="values")


def test_region_shapley_is_efficient_and_symmetric():
    t = np.arange(N)
    bump = lambda c: np.exp(-0.5 * ((t - c) / 3.0) ** 2) * np.cos(0.8 * (t - c))  # noqa: E731
    x = torch.as_tensor(bump(N // 4) + bump(3 * N // 4), dtype=torch.float32)
    res = region_shapley(
        _energy_model(), x, _halves(), transform_config=CFG, imaging_config=ICFG, task="regression"
    )
    assert res.values.shape == (2,) and res.model_images == 4
    torch.testing.assert_close(res.values.sum(), res.score - res.score_without)
    # two identical bumps, one per half: the two halves are worth the same
    torch.testing.assert_close(res.values[0], res.values[1], rtol=1e-2, atol=0)
    assert float(res.values[0]) > 0.4 * float(res.score)


def test_region_shapley_efficiency_on_a_classifier(band, rng):
    x, box = band
    labels = rng.integers(0, 5, size=(CFG.n_freqs(N), N))  # 4 scattered regions
    res = region_shapley(box, x, labels, transform_config=CFG, imaging_config=ICFG)
    assert res.values.shape == (3, 4) and res.model_images == 3 * 16
    torch.testing.assert_close(res.values.sum(-1), res.score - res.score_without)


def test_region_shapley_with_the_signal_as_reference_is_zero(band):
    x, box = band
    res = region_shapley(box, x, _halves(), transform_config=CFG, imaging_config=ICFG, reference=x)
    torch.testing.assert_close(res.values, torch.zeros_like(res.values), rtol=0, atol=1e-6)


def test_region_shapley_refuses_too_many_regions(band):
    x, box = band
    labels = np.arange(CFG.n_freqs(N) * N).reshape(CFG.n_freqs(N), N) % 10
    with pytest.raises(ValueError, match=r"1 <= R <= 8"):
        region_shapley(box, x, labels, transform_config=CFG, imaging_config=ICFG)


# ------------------------------------------------------------------ end to end
def _planted(n: int):
    from saliency2signal.datasets import load_planted
    from saliency2signal.io import load_model

    net, meta = load_model("models/planted.pt", rebuild=True)
    d = load_planted("test")
    idx = np.flatnonzero(d.present)[:n]
    return net.eval(), meta, d, idx


def _energy_in_window(e, d, idx) -> np.ndarray:
    out = []
    for j, b in enumerate(idx):
        c = e.components[j].sum(0)
        lo, hi = np.sort(d.windows[b])
        inside = (d.axis >= lo) & (d.axis <= hi)
        out.append(float((c[inside] ** 2).sum() / (c**2).sum()))
    return np.array(out)


@pytest.mark.parametrize("n", [2, pytest.param(30, marks=pytest.mark.slow)])
def test_explain_a_black_box_planted_model_with_rise(n):
    net, meta, d, idx = _planted(n)
    box = _as_black_box(net)
    e = explain(box, d.x[idx], metadata=meta, method="rise", n_null=0, peaks=False)
    assert np.array_equal(e.predictions, d.y[idx])
    share = _energy_in_window(e, d, idx)
    assert np.mean(share >= 0.8) >= 0.9, share
    assert box.n_images / n < 200  # 128 masks, the first pass and the deletion checks


def test_explain_auto_on_a_black_box_compares_methods_with_no_gradients(band):
    x, box = band
    e = explain(
        box,
        x,
        transform_config=CFG,
        imaging_config=ICFG,
        method="auto",
        n_null=20,
        peaks=False,
        attribute_options={"n_masks": 16},
        auto_options={"n_subset": 2},
    )
    assert e.settings["method_selection"]["chosen"] == "rise"
    assert list(e.settings["method_selection"]["candidates"]) == ["rise"]
    with pytest.raises(ValueError, match="black box"):
        explain(
            box,
            x,
            transform_config=CFG,
            imaging_config=ICFG,
            method="auto",
            auto_options={"candidates": ["integrated_gradients"]},
        )


def test_a_scikit_learn_model_through_black_box(rng):
    from sklearn.linear_model import LogisticRegression

    t = np.arange(N)
    freqs = np.where(np.arange(40) % 2 == 0, 0.03, 0.2)
    x = np.cos(2 * np.pi * freqs[:, None] * t) + 0.1 * rng.standard_normal((40, N))
    x = torch.as_tensor(x, dtype=torch.float32)
    icfg = ImagingConfig(normalize="none", size=(16, 16))
    from saliency2signal.imaging import to_image

    feats = to_image(ssq_cwt(x, CFG).Tx, icfg).reshape(40, -1).numpy()
    clf = LogisticRegression(max_iter=500).fit(feats, freqs > 0.1)
    box = BlackBox(lambda im: clf.predict_proba(im.reshape(len(im), -1)))
    res = attribute(
        box, x[:2], transform_config=CFG, imaging_config=icfg, method="rise", n_masks=32
    )
    assert res.target.tolist() == clf.predict(feats[:2]).astype(int).tolist()
    assert res.attribution.shape == (2, CFG.n_freqs(N), N)
    assert box.n_images == 2 + 2 * 32


def test_evaluate_a_black_box_compares_rise_without_randomisation():
    from saliency2signal import evaluate

    net, meta, d, idx = _planted(2)
    box = _as_black_box(net)
    ev = evaluate(box, d.x[idx], metadata=meta, n_null=3, insertion=False)
    assert list(ev.methods) == ["rise"]
    assert ev.to_json()["settings"]["randomization"] == "none"
    with pytest.raises(ValueError, match="black box has none"):
        evaluate(box, d.x[idx], metadata=meta, n_null=3, randomization="cascade")
    with pytest.raises(ValueError, match="black box"):
        evaluate(box, d.x[idx], metadata=meta, n_null=3, methods="integrated_gradients")


def test_the_attribution_cost_is_recorded_and_printed(tmp_path, capsys):
    from saliency2signal.cli import main

    net, meta, d, idx = _planted(2)
    box = _as_black_box(net)
    e = explain(box, d.x[idx], metadata=meta, method="rise", n_null=0, peaks=False, deletion=False)
    cost = e.settings["cost"]
    # rise's 64 masked signals each plus one pass for the outputs; the rest of what the
    # black box was asked is explain's probe image and the foils' probabilities
    assert cost["attribution_model_images"] == 2 * 64 + 2
    assert cost["attribution_model_images"] <= box.n_images
    assert 1 <= cost["attribution_model_calls"] <= box.n_calls
    assert cost["attribution_images_per_signal"] == 65
    np.save(tmp_path / "x.npy", d.x[idx])
    argv = ["explain", "models/planted.pt", str(tmp_path / "x.npy"), "--no-figures"]
    assert main([*argv, "--n-null", "0", "--out", str(tmp_path / "r")]) == 0
    assert "attribution cost:" in capsys.readouterr().out
