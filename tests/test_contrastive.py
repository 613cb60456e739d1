"""Contrastive explanations: each spectrum against the mean training spectrum of its foil.

``saliency2signal train`` records each class's mean training signal in the model file;
``explain(reference='auto')`` (the default) then explains every signal relative to the
mean of its *foil* (the most probable other class): Integrated Gradients starts from
the foil mean's ``|Tx|``, each region's ``contrast`` is the masked inverse of
``Tx(x) - Tx(r)``, deleting a region imputes the foil mean's content, and each band says
which of its properties (position, width, height) the decision rests on (issue 17).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
from jsonschema import validate

from saliency2signal import SSQConfig, explain, ssq_cwt
from saliency2signal.datasets import load_planted
from saliency2signal.explanation import load_schema
from saliency2signal.forward import probabilities
from saliency2signal.imaging import ImagingConfig
from saliency2signal.inverse import components
from saliency2signal.io import load_model
from saliency2signal.metadata import class_means, with_class_means
from saliency2signal.models import make_images, train_classifier

MODEL = pathlib.Path(__file__).resolve().parents[1] / "models" / "planted.pt"


@pytest.fixture(scope="module")
def planted():
    model, meta = load_model(MODEL)
    train = load_planted("train")
    test = load_planted("test")
    meta = with_class_means(meta, train.x, train.y)
    idx = np.concatenate([np.flatnonzero(test.y == 1)[:3], np.flatnonzero(test.y == 0)[:2]])
    e = explain(model, test.x[idx], metadata=meta, axis=test.axis, n_null=20, max_regions=2)
    return model, meta, train, test, idx, e


def test_train_records_the_class_means_of_its_training_split():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 128)).astype(np.float32)
    y = np.array([0, 1] * 6)
    x[y == 1, 40:60] += 2.0
    out = train_classifier(
        x,
        y,
        transform_config=SSQConfig(nv=8),
        imaging_config=ImagingConfig(size=(16, 32)),
        class_names=["a", "b"],
        epochs=1,
        min_epochs=1,
        val_fraction=0.25,
    )
    rec = out.metadata.extra["class_means"]
    train = out.train_indices
    for k in range(2):
        rows = train[y[train] == k]
        assert rec["counts"][k] == rows.size
        np.testing.assert_allclose(rec["values"][k], x[rows].mean(0), rtol=1e-6, atol=1e-6)
    means = class_means(out.metadata)
    assert means.shape == (2, 128)
    with pytest.raises(ValueError, match="expected"):
        with_class_means(out.metadata, x[:, :100], y)
    with pytest.raises(ValueError, match="outside"):
        with_class_means(out.metadata, x, y + 1)
    # a block that does not match the metadata is not used
    bad = out.metadata.replace(extra={"class_means": {"values": [[0.0] * 127] * 2}})
    assert class_means(bad) is None
    assert class_means(out.metadata.replace(extra={})) is None


def test_auto_is_contrastive_with_recorded_means_and_absolute_without(planted):
    model, meta, train, test, idx, e = planted
    assert e.settings["reference"] == "class_means"
    plain_model, plain_meta = load_model(MODEL)
    # the bundled file records class means: without them, 'auto' is absolute
    assert class_means(plain_meta) is not None
    plain_meta = plain_meta.replace(
        extra={k: v for k, v in plain_meta.extra.items() if k != "class_means"}
    )
    plain = explain(plain_model, test.x[idx[:1]], metadata=plain_meta, n_null=0, peaks=False)
    assert plain.settings["reference"] == "zero"
    assert plain.contrasts is None and plain.references is None and plain.foils is None
    with pytest.raises(ValueError, match="class_means"):
        explain(plain_model, test.x[idx[:1]], metadata=plain_meta, reference="class_means")
    with pytest.raises(ValueError, match="'medoid'"):
        explain(model, test.x[idx[:1]], metadata=meta, reference="medoid")


def test_the_foil_is_the_other_class_and_its_mean_the_reference(planted):
    model, meta, train, test, idx, e = planted
    means = class_means(meta)
    # binary: the foil is the class not explained
    np.testing.assert_array_equal(e.foils, 1 - e.target)
    np.testing.assert_allclose(e.references, means[e.foils].astype(np.float32), rtol=1e-6)
    report = json.loads(json.dumps(e.to_json(), allow_nan=False))
    validate(report, load_schema())
    assert [s["foil_class"] for s in report["samples"]] == [e.class_names[k] for k in e.foils]


def test_contrasts_are_the_masked_inverse_of_the_difference(planted):
    model, meta, train, test, idx, e = planted
    tcfg = e.transform_config
    x = torch.from_numpy(np.asarray(e.signals, np.float64))
    r = torch.from_numpy(np.asarray(e.references, np.float64))
    diff = ssq_cwt(x, tcfg).Tx - ssq_cwt(r, tcfg).Tx
    want = components(diff, tcfg, masks=torch.from_numpy(np.array(e.labels)), n_regions=2)
    got = np.asarray(e.contrasts)
    np.testing.assert_allclose(
        got, want.numpy()[:, : got.shape[1]], atol=2e-5 * float(x.abs().max())
    )
    # the contrast is not the component: the reference shares most of the signal
    assert not np.allclose(e.contrasts, e.components, atol=1e-3)


def test_deleting_a_region_imputes_the_foil_mean(planted):
    model, meta, train, test, idx, e = planted
    i, k = 0, 0
    x = np.asarray(e.signals[i], np.float32) - np.asarray(e.contrasts[i, k], np.float32)
    p = probabilities(
        model,
        torch.from_numpy(x[None]),
        transform_config=e.transform_config,
        imaging_config=e.imaging_config,
    )
    assert e.regions[i][k].p_after == pytest.approx(float(p[0, e.target[i]]), abs=1e-5)


def test_integrated_gradients_starts_from_the_reference(planted):
    """Completeness: the attribution sums to f(x) - f(reference), not f(x) - f(silence)."""
    model, meta, train, test, idx, e = planted
    images = make_images(
        np.array(e.signals), transform_config=meta.transform, imaging_config=meta.imaging
    )
    refs = make_images(
        np.array(e.references), transform_config=meta.transform, imaging_config=meta.imaging
    )
    with torch.no_grad():
        fx = model(images).gather(1, torch.as_tensor(np.array(e.target))[:, None])[:, 0].numpy()
        fr = model(refs).gather(1, torch.as_tensor(np.array(e.target))[:, None])[:, 0].numpy()
    total = np.asarray(e.attribution).sum((-2, -1))
    # the explained positives against the peak-free mean: a large logit gap, recovered
    np.testing.assert_allclose(total, fx - fr, atol=0.1 * np.abs(fx - fr).max())


def test_the_verdict_and_the_band_change_on_the_planted_peak(planted):
    model, meta, train, test, idx, e = planted
    pos = np.flatnonzero(test.y[idx] == 1)
    for j in pos:
        assert e.verdicts[j].better_than_chance
        peak = e.regions[j][0].peak
        assert abs(peak["centre"] - test.centres[idx[j]]) < 0.5 * 2.355 * test.widths[idx[j]]
        # the negative class's mean has at most a low, smeared bump there: a band it
        # lacks, or the same band much stronger and narrower; undoing that takes the
        # evidence away
        cmp, change = peak["reference"], peak["reference"]["change"]
        if cmp["new_band"]:
            assert change["kind"] == "new band" and change["restored"] is None
        else:
            assert cmp["height_ratio"] > 2 and cmp["fwhm_ratio"] < 1
            assert change["kind"] in ("height", "width")
        assert change["drop"] > 0.3


def test_a_weaker_reference_band_reads_as_a_height_change(planted):
    """Against the same spectrum with its planted peak at half height: 'height'."""
    model, meta, train, test, idx, e = planted
    i = idx[0]
    x = test.x[i : i + 1]
    ref = x - 0.5 * test.components[i : i + 1]
    rel = explain(model, x, metadata=meta, axis=test.axis, n_null=0, max_regions=1, reference=ref)
    peak = rel.regions[0][0].peak
    cmp = peak["reference"]
    assert cmp["new_band"] is False and abs(cmp["shift"]) < 0.2 * peak["fwhm"]
    assert cmp["height_ratio"] == pytest.approx(2.0, rel=0.2)
    change = cmp["change"]
    assert change["kind"] == "height" and change["drop"] > 0
    assert "stronger" in change["description"]
    # band minus restored band: the planted peak's upper half
    from saliency2signal.peaks import Peak

    def curve(p):
        return Peak(p["centre"], p["fwhm"], p["height"], p["eta"]).curve(test.axis)

    diff = curve(peak) - curve(change["restored"])
    assert np.corrcoef(diff, test.components[i])[0, 1] > 0.95


class WidthModel(torch.nn.Module):
    """Logit of 'broad' = k * (log mean |Tx| of low rows - log mean of high rows) + b.

    Blind to a band's position (global pooling) and height (a ratio): only its width,
    through the balance of low and high frequencies, moves the decision.
    """

    def __init__(self, low: slice, high: slice, k: float = 1.0, b: float = 0.0):
        super().__init__()
        self.low, self.high = low, high
        self.head = torch.nn.Linear(1, 2, dtype=torch.float64)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[0.0], [k]]))
            self.head.bias.copy_(torch.tensor([0.0, b]))

    def score(self, img):
        lo = img[:, 0, self.low, :].mean((-2, -1))
        hi = img[:, 0, self.high, :].mean((-2, -1))
        return torch.log(lo + 1e-12) - torch.log(hi + 1e-12)

    def forward(self, img):
        return self.head(self.score(img)[:, None])


def _gauss(n, centre, sigma, area):
    t = np.arange(n, dtype=np.float64)
    return area / (sigma * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((t - centre) / sigma) ** 2)


def test_a_broadened_band_reads_as_a_width_change():
    n = 512
    tcfg = SSQConfig(nv=16, dtype="float64")
    icfg = ImagingConfig(normalize="none")
    freqs = tcfg.freqs(n)
    low = np.flatnonzero((freqs > 0.004) & (freqs < 0.015))
    high = np.flatnonzero((freqs > 0.025) & (freqs < 0.07))
    model = WidthModel(slice(low[0], low[-1] + 1), slice(high[0], high[-1] + 1))
    broad = _gauss(n, 256.0, 11.0, 30.0)[None]
    narrow = _gauss(n, 252.0, 6.0, 30.0)[None]
    with torch.no_grad():
        s_b = float(model.score(ssq_cwt(torch.from_numpy(broad), tcfg).Tx.abs()[:, None]))
        s_n = float(model.score(ssq_cwt(torch.from_numpy(narrow), tcfg).Tx.abs()[:, None]))
    assert s_b > s_n
    k = 4.0 / (s_b - s_n)  # 'broad' at p ~ 0.88 for the broad band, 0.12 for the narrow
    model = WidthModel(model.low, model.high, k=k, b=-k * (s_b + s_n) / 2)
    e = explain(
        model,
        broad,
        transform_config=tcfg,
        imaging_config=icfg,
        reference=narrow,
        n_null=0,
        max_regions=2,
        n_steps=16,
    )
    assert e.predictions[0] == 1 and e.settings["reference"] == "given"
    peak = e.regions[0][0].peak
    assert abs(peak["centre"] - 256.0) < 2.0
    cmp = peak["reference"]
    assert cmp["new_band"] is False and cmp["fwhm_ratio"] == pytest.approx(11 / 6, rel=0.15)
    change = cmp["change"]
    assert change["kind"] == "width", change
    assert change["restored"]["fwhm"] == pytest.approx(cmp["peak"]["fwhm"])
    # the area is kept: restored height x FWHM equals the band's
    assert change["restored"]["height"] * change["restored"]["fwhm"] == pytest.approx(
        peak["height"] * peak["fwhm"]
    )
    assert change["drop"] > 0.3 and "broader" in change["description"]


def test_cli_explains_contrastively_when_the_model_file_records_class_means(
    planted, tmp_path, capsys
):
    from saliency2signal.cli import main
    from saliency2signal.io import save_model

    model, meta, train, test, idx, e = planted
    path = save_model(model, tmp_path / "with_means.pt", metadata=meta)
    data = tmp_path / "x.npy"
    np.save(data, test.x[idx[:2]])
    out = tmp_path / "report"
    args = ["explain", str(path), str(data), "--max-regions", "1", "--no-figures"]
    assert main([*args, "--out", str(out)]) == 0
    assert "contrastive: each signal explained against" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    validate(report, load_schema())
    assert report["settings"]["reference"] == "class_means"
    assert [s["foil_class"] for s in report["samples"]] == [e.class_names[k] for k in e.foils[:2]]
    saved = np.load(out / "components.npz")
    np.testing.assert_allclose(saved["references"], e.references[:2])
    assert saved["contrasts"].shape == (2, 1, test.x.shape[1])
    plain = tmp_path / "plain"
    assert main([*args, "--out", str(plain), "--reference", "zero"]) == 0
    assert "contrastive:" not in capsys.readouterr().out
    assert json.loads((plain / "report.json").read_text())["settings"]["reference"] == "zero"


def test_a_band_buried_in_a_shared_band_is_read_from_the_difference(planted):
    """The planted peak on the flank of a broad band both spectra share: reported alone."""
    from saliency2signal.peaks import Peak

    model, meta, train, test, idx, e = planted
    i = idx[1]
    fwhm = 2.355 * test.widths[i]
    broad = Peak(test.centres[i] + 0.8 * fwhm, 2.5 * fwhm, 1.5 * test.amplitudes[i]).curve(
        test.axis
    )
    x = (test.x[i] + broad)[None]
    ref = (test.x[i] - test.components[i] + broad)[None]
    rel = explain(model, x, metadata=meta, axis=test.axis, n_null=0, max_regions=1, reference=ref)
    peak = rel.regions[0][0].peak
    change = peak["reference"]["change"]
    curve = Peak(peak["centre"], peak["fwhm"], peak["height"], peak["eta"]).curve(test.axis)
    if change["restored"] is not None:
        r = change["restored"]
        curve = curve - Peak(r["centre"], r["fwhm"], r["height"], r["eta"]).curve(test.axis)
    # the reported feature is the planted peak, not the broad band it sits on
    assert np.corrcoef(curve, test.components[i])[0, 1] > 0.95
    assert change["drop"] > 0.3
