"""Faithfulness evaluation: tiny models whose answer is known, invariants, files, CLI."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, ssq_cwt
from saliency2signal.evaluation import (
    Evaluation,
    evaluate,
    matched_regions,
    randomizable_blocks,
)
from saliency2signal.faithfulness import midrank
from saliency2signal.forward import probabilities
from saliency2signal.imaging import ImagingConfig

N = 256
TCFG = SSQConfig(nv=8, dtype="float64")
ICFG = ImagingConfig(normalize="none")  # native grid: image pixel == grid cell
F_A, F_B = 0.05, 0.2  # tone A in the model's band, tone B outside it


class BandModel(torch.nn.Module):
    """Logit of class 1 = scale * mean image value in rows [r0, r1) - offset."""

    def __init__(self, r0: int, r1: int, scale: float, offset: float):
        super().__init__()
        self.r0, self.r1 = r0, r1
        self.head = torch.nn.Linear(1, 2, dtype=torch.float64)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[0.0], [scale]]))
            self.head.bias.copy_(torch.tensor([0.0, -offset]))

    def forward(self, img):
        return self.head(img[:, 0, self.r0 : self.r1, :].mean((-2, -1))[:, None])


def _band_rows(f0: float) -> tuple[int, int]:
    freqs = TCFG.freqs(N)
    rows = np.flatnonzero((freqs > f0 / 1.4) & (freqs < f0 * 1.4))
    return int(rows[0]), int(rows[-1]) + 1


def _tones(rng, n_signals=3):
    t = np.arange(N)
    a = np.stack([np.cos(2 * np.pi * F_A * t + rng.uniform(0, 6)) for _ in range(n_signals)])
    b = np.stack([np.cos(2 * np.pi * F_B * t + rng.uniform(0, 6)) for _ in range(n_signals)])
    return a, b


@pytest.fixture(scope="module")
def band_case():
    rng = np.random.default_rng(3)
    a, b = _tones(rng)
    r0, r1 = _band_rows(F_A)
    model = BandModel(r0, r1, scale=1.0, offset=0.0)
    # set the scale so that p(class 1) is about 0.9 on these signals (not saturated)
    with torch.no_grad():
        img = ssq_cwt(torch.from_numpy(a + b), TCFG).Tx.abs()[:, None]
        level = float(img[:, 0, r0:r1].mean())
        model.head.weight[1, 0] = 2.2 / level
    truth = {"components": a, "windows": np.tile([0.0, N - 1.0], (3, 1))}
    ev = evaluate(
        model,
        a + b,
        transform_config=TCFG,
        imaging_config=ICFG,
        truth=truth,
        n_null=20,
        max_regions=3,
        randomization="cascade",
        n_steps=16,
        seed=1,
    )
    return ev, model, a, b


def test_band_model_evidence_is_recovered_in_its_band(band_case):
    ev, model, a, b = band_case
    m = ev.methods["integrated_gradients"]
    s = m.scores
    # the attribution lies in the model's band only, and on tone A's cells
    r0, r1 = model.r0, model.r1
    attr = m.explanation.attribution
    assert np.abs(attr[:, :r0]).sum() == 0 and np.abs(attr[:, r1:]).sum() == 0
    assert np.all(s["relevance_mass"] > 0.6)  # |attribution| share; truth = 90 % of energy
    # the recovered signal is tone A, not tone B
    union = m.explanation.components.sum(1)
    for u, ta, tb in zip(union, a, b, strict=True):
        assert np.corrcoef(u, ta)[0, 1] > 0.9
        assert abs(np.corrcoef(u, tb)[0, 1]) < 0.1
    assert np.all(s["correlation"] > 0.9)
    # deleting it hurts far more than deleting equally energetic random regions
    assert np.all(s["top_drop"] > 0.2)
    assert np.all(s["top_drop_beaten"] >= 0.9)
    assert np.all(s["top_drop_percentile"] >= 90)
    # a full-width strip can only move in frequency: few placements, loosely matched,
    # and the match quality is reported
    assert np.all(np.isfinite(m.energy_match[:, 0]))


def test_band_model_curves_are_the_real_pipeline(band_case):
    ev, model, a, b = band_case
    m = ev.methods["integrated_gradients"]
    e = m.explanation
    x = torch.from_numpy(a + b)
    fwd = dict(transform_config=TCFG, imaging_config=ICFG, batch_size=8)
    p0 = probabilities(model, x, **fwd)[:, 1].numpy()
    np.testing.assert_allclose(m.deletion[:, 0], p0, rtol=1e-10)
    np.testing.assert_allclose(m.null_deletion[:, :, 0], np.repeat(p0[:, None], 20, 1))
    # one step by hand: remove the top region's component and re-run the model
    p1 = probabilities(model, x - torch.from_numpy(np.array(e.components[:, 0])), **fwd)
    np.testing.assert_allclose(m.deletion[:, 1], p1[:, 1].numpy(), rtol=1e-8, atol=1e-12)
    # insertion starts from the zero signal; with everything inserted = only regions kept
    pz = probabilities(model, torch.zeros_like(x), **fwd)[:, 1].numpy()
    np.testing.assert_allclose(m.insertion[:, 0], pz)
    # removing all regions, in either order, leaves the same signal
    for bb in range(3):
        r = int(m.n_regions[bb])
        assert m.deletion[bb, r] == pytest.approx(m.deletion_lerf[bb, r], abs=1e-12)
        assert np.all(np.isnan(m.deletion[bb, r + 1 :]))


def test_band_model_randomization_restores_parameters(band_case):
    ev, model, a, b = band_case
    r = ev.methods["integrated_gradients"].randomization
    assert r["steps"] == ["head"]
    assert r["spearman"].shape == (1, 3)
    assert model.head.weight[0, 0].item() == 0.0  # restored after the check
    assert model.head.bias[1].item() == pytest.approx(0.0)


def test_model_ignoring_the_input_is_no_better_than_the_null(rng):
    # the output depends on the input only to within 1e-9: deleting the explanation's
    # regions changes nothing more than deleting random regions does
    class Ignore(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(1e-9, dtype=torch.float64))

        def forward(self, img):
            s = self.w * img.mean((-3, -2, -1))
            return torch.stack([torch.zeros_like(s), 1.0 + s], -1)

    a, b = _tones(rng, 4)
    ev = evaluate(
        Ignore(),
        a + b,
        transform_config=TCFG,
        imaging_config=ICFG,
        n_null=20,
        max_regions=2,
        randomization="none",
        n_steps=8,
        methods=("saliency",),
    )
    s = ev.methods["saliency"].scores
    assert np.all(np.abs(s["top_drop"]) < 1e-8)
    row = ev.table()[0]
    assert row["share_top_drop_beats_95"] <= 0.25
    assert abs(row["deletion_auc"] - row["null_deletion_auc"]) < 1e-8


def test_time_gradient_baseline_gives_time_windows(band_case):
    ev0, model, a, b = band_case
    ev = evaluate(
        model,
        a + b,
        transform_config=TCFG,
        imaging_config=ICFG,
        n_null=5,
        max_regions=2,
        randomization="none",
        methods=("time_gradient",),
    )
    m = ev.methods["time_gradient"]
    lab = m.explanation.labels
    # a region is a set of columns over all rows
    for bb in range(3):
        for k in range(1, int(m.n_regions[bb]) + 1):
            cols = np.flatnonzero((lab[bb] == k).any(0))
            assert np.all(lab[bb][:, cols] == k)


def test_matched_regions_area_energy_overlap_and_seed():
    rng = np.random.default_rng(0)
    energy = rng.uniform(size=(40, 100))
    region = np.zeros((40, 100), bool)
    region[10:14, 20:35] = True
    region[14, 20:25] = True
    masks, lr = matched_regions(region, energy, n=50, rng=np.random.default_rng(5), tolerance=0.1)
    assert masks.shape == (50, 40, 100)
    assert np.all(masks.sum((1, 2)) == region.sum())
    e0 = energy[region].sum()
    e = np.array([energy[m].sum() for m in masks])
    np.testing.assert_allclose(np.abs(np.log(e / e0)), lr, atol=1e-9)
    assert np.all(lr <= np.log(1.1) + 1e-12)
    assert np.all((masks & region).sum((1, 2)) <= 0.5 * region.sum())
    again, _ = matched_regions(region, energy, n=50, rng=np.random.default_rng(5), tolerance=0.1)
    assert np.array_equal(masks, again)
    # an impossible energy match falls back to the closest placements
    energy2 = np.ones((40, 100))
    energy2[region] = 100.0
    _, lr2 = matched_regions(region, energy2, n=10, rng=np.random.default_rng(0))
    assert np.all(lr2 > np.log(1.25))
    with pytest.raises(ValueError, match="empty"):
        matched_regions(np.zeros((4, 4), bool), np.ones((4, 4)), n=2, rng=rng)


def test_midrank():
    null = np.array([0.0, 1.0, 2.0, 3.0])
    assert midrank(2.0, null, higher_is_better=True) == 62.5
    assert midrank(2.0, null, higher_is_better=False) == 37.5
    assert midrank(9.0, null, higher_is_better=True) == 100.0
    assert np.isnan(midrank(np.nan, null, higher_is_better=True))


def test_randomizable_blocks_of_the_cnn():
    from saliency2signal.io import load_model
    from saliency2signal.models import ScalogramCNN

    net = ScalogramCNN(widths=(4, 8, 8))
    assert randomizable_blocks(net) == ["features.0", "features.1", "features.2", "classifier"]
    # a legacy TorchScript file (release 0.1.0) has the same blocks as its architecture
    legacy = load_model(pathlib.Path(__file__).resolve().parent / "data" / "legacy_torchscript.pt")
    rebuilt = ScalogramCNN(**legacy.metadata.architecture_kwargs)
    assert randomizable_blocks(legacy.model) == randomizable_blocks(rebuilt)
    assert randomizable_blocks(legacy.model) == ["features.0", "features.1", "classifier"]


def test_cascade_on_a_cnn_changes_the_model_and_restores_it(rng):
    from saliency2signal.models import ScalogramCNN

    torch.manual_seed(0)
    net = ScalogramCNN(widths=(4, 8), n_classes=2).double().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a, b = _tones(rng, 2)
    ev = evaluate(
        net,
        a + b,
        transform_config=TCFG,
        imaging_config=ImagingConfig(normalize="minmax", size=(16, 32)),
        n_null=3,
        max_regions=2,
        n_steps=8,
        methods=("saliency",),
    )
    r = ev.methods["saliency"].randomization
    assert r["steps"] == [
        "classifier",
        "classifier, features.1",
        "classifier, features.1, features.0",
    ]
    assert r["spearman"].shape == r["ssim"].shape == r["spearman_tf"].shape == (3, 2)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_truth_metrics_by_hand(band_case):
    ev, model, a, b = band_case
    m = ev.methods["integrated_gradients"]
    union = m.explanation.components.sum(1)
    # a window covering the first half: energy share computed directly
    truth = {"components": union, "windows": np.tile([0.0, N / 2 - 0.5], (3, 1))}
    ev2 = evaluate(
        model,
        a + b,
        transform_config=TCFG,
        imaging_config=ICFG,
        truth=truth,
        n_null=2,
        max_regions=3,
        randomization="none",
        n_steps=16,
        seed=1,
    )
    s = ev2.methods["integrated_gradients"].scores
    np.testing.assert_allclose(s["correlation"], 1.0, atol=1e-12)
    half = (union[:, : N // 2] ** 2).sum(1) / (union**2).sum(1)
    np.testing.assert_allclose(s["energy_in_window"], half, rtol=1e-12)
    assert np.all(s["truth_valid"] == 1)


def test_truth_windows_are_read_on_the_truths_own_axis(band_case):
    """Windows in axis units are matched on the truth's axis when none is given."""
    ev, model, a, b = band_case
    union = ev.methods["integrated_gradients"].explanation.components.sum(1)
    wn = 1000.0 + 2.0 * np.arange(N)  # say, wavenumbers
    truth = {"components": union, "windows": np.tile([wn[0], wn[N // 2 - 1]], (3, 1)), "axis": wn}
    kw = dict(
        transform_config=TCFG,
        imaging_config=ICFG,
        n_null=2,
        max_regions=3,
        randomization="none",
        n_steps=16,
        seed=1,
    )
    s = evaluate(model, a + b, truth=truth, **kw).methods["integrated_gradients"].scores
    half = (union[:, : N // 2] ** 2).sum(1) / (union**2).sum(1)
    np.testing.assert_allclose(s["energy_in_window"], half, rtol=1e-12)
    same = evaluate(model, a + b, truth=truth, axis=wn, **kw)
    np.testing.assert_array_equal(
        same.methods["integrated_gradients"].scores["energy_in_window"], s["energy_in_window"]
    )


def test_bad_arguments(band_case):
    ev, model, a, b = band_case
    kw = dict(transform_config=TCFG, imaging_config=ICFG, randomization="none", n_null=2)
    x = a + b
    with pytest.raises(ValueError, match="method='nope'"):
        evaluate(model, x, methods=("nope",), **kw)
    with pytest.raises(ValueError, match="repeats"):
        evaluate(model, x, methods=("saliency", "saliency"), **kw)
    with pytest.raises(ValueError, match="n_null=0"):
        evaluate(model, x, **{**kw, "n_null": 0})
    with pytest.raises(ValueError, match="randomization='some'"):
        evaluate(model, x, **{**kw, "randomization": "some"})
    with pytest.raises(ValueError, match="energy_tolerance"):
        evaluate(model, x, energy_tolerance=-1.0, **kw)
    with pytest.raises(ValueError, match="truth components have shape"):
        evaluate(model, x, truth={"components": a[:2], "windows": np.zeros((3, 2))}, **kw)
    with pytest.raises(TypeError, match="truth must have"):
        evaluate(model, x, truth={"components": a}, **kw)
    with pytest.raises(
        ValueError,
        match=r"truth window \(500.0, 600.0\) of signal 0 lies "
        r"outside the x axis \[0, 255\]",
    ):
        evaluate(
            model, x, truth={"components": a, "windows": np.tile([500.0, 600.0], (3, 1))}, **kw
        )
    with pytest.raises(ValueError, match="differs from the ground truth's axis"):
        evaluate(
            model,
            x,
            axis=np.arange(N) * 2.0,
            truth={"components": a, "windows": np.zeros((3, 2)), "axis": np.arange(N)},
            **kw,
        )
    with pytest.raises(ValueError, match="method_options names"):
        evaluate(model, x, method_options={"occlusion": {}}, **kw)
    with pytest.raises(ValueError, match="NaN"):
        evaluate(model, np.full((2, N), np.nan), **kw)


def test_tables_json_and_saved_folder(band_case, tmp_path):
    ev, model, a, b = band_case
    assert isinstance(ev, Evaluation)
    rows = ev.table()
    assert [r["method"] for r in rows] == ["integrated_gradients"]
    assert {
        "deletion_auc",
        "null_deletion_auc",
        "share_top_drop_beats_95",
        "energy_in_window",
        "randomized_spearman",
    } <= set(rows[0])
    js = ev.to_json()
    text = json.dumps(js, allow_nan=False)  # every float finite or null
    assert json.loads(text)["summary"][0]["n_samples"] == 3
    assert len(js["samples"]) == 3
    out = ev.save(tmp_path / "ev")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "curves.npz",
        "curves_integrated_gradients.png",
        "evaluation.json",
        "metrics.png",
        "randomization.png",
        "samples.csv",
        "summary.csv",
    ]
    from PIL import Image

    for png in out.glob("*.png"):
        im = np.asarray(Image.open(png).convert("L"), dtype=float)
        assert im.shape[0] > 200 and im.std() > 5  # real, not blank
    with np.load(out / "curves.npz") as z:
        np.testing.assert_array_equal(
            z["integrated_gradients__deletion"], ev.methods["integrated_gradients"].deletion
        )
    header = (out / "samples.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["method", "index", "target"]
    with pytest.raises(ValueError, match="already exists"):
        ev.save(out)
    ev.save(out, overwrite=True, figures=False)
    assert not (out / "metrics.png").exists()
    assert not list(tmp_path.glob(".ev.*"))  # no temporary folders left behind


# --------------------------------------------------------------------------- CLI
def _run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "saliency2signal.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_evaluate_planted_subset_reads_truth(tmp_path):
    root = pathlib.Path(__file__).resolve().parents[1]
    with np.load(root / "data" / "planted.npz") as z:
        idx = np.concatenate(
            [np.flatnonzero(z["y_test"] == 1)[:2], np.flatnonzero(z["y_test"] == 0)[:1]]
        )
        keep = {k: z[k][idx] for k in z.files if k.endswith("_test")}
        keep["axis"] = z["axis"]
    data = tmp_path / "small.npz"
    np.savez(data, **keep)
    before = data.read_bytes()
    res = _run(
        "evaluate",
        str(root / "models" / "planted.pt"),
        str(data),
        "--key",
        "X_test",
        "--n-null",
        "4",
        "--randomization",
        "full",
        "--max-regions",
        "2",
        "--methods",
        "integrated_gradients,time_gradient",
        "--no-figures",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "ground truth from small.npz" in res.stdout
    out = tmp_path / "small_evaluated"
    rows = json.loads((out / "evaluation.json").read_text())["summary"]
    assert [r["method"] for r in rows] == ["integrated_gradients", "time_gradient"]
    assert rows[0]["n_truth"] == 2 and rows[0]["energy_in_window"] is not None
    assert rows[0]["randomized_spearman"] is not None
    assert (out / "summary.csv").read_text().startswith("method,")
    assert data.read_bytes() == before
    # the folder exists now: refused, one line, no traceback
    again = _run(
        "evaluate", str(root / "models" / "planted.pt"), str(data), "--key", "X_test", cwd=tmp_path
    )
    assert again.returncode == 2
    assert "output folder exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--methods", "nope"], "method='nope'"),
        (["--n-null", "0"], "n_null=0"),
        (["--min-share", "-0.5"], "min_share=-0.5"),
        (["--key", "missing"], "no array 'missing'"),
    ],
)
def test_cli_evaluate_bad_input(tmp_path, args, message):
    root = pathlib.Path(__file__).resolve().parents[1]
    res = _run(
        "evaluate",
        str(root / "models" / "coffee.pt"),
        str(root / "data" / "coffee.npz"),
        "--out",
        str(tmp_path / "o"),
        *args,
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_method_specs_noise_tunnel_layer_and_blocks(rng):
    from saliency2signal.evaluation import block_partition
    from saliency2signal.models import ScalogramCNN

    torch.manual_seed(1)
    net = ScalogramCNN(widths=(4, 8), n_classes=2).double().eval()
    a, b = _tones(rng, 2)
    icfg = ImagingConfig(normalize="minmax", size=(16, 32))
    ev = evaluate(
        net,
        a + b,
        transform_config=TCFG,
        imaging_config=icfg,
        n_null=2,
        max_regions=2,
        randomization="none",
        methods=("saliency+smoothgrad", "layer_gradcam", "feature_ablation"),
        method_options={"saliency+smoothgrad": {"nt_samples": 3}},
    )
    assert list(ev.methods) == ["saliency+smoothgrad", "layer_gradcam", "feature_ablation"]
    assert ev.methods["saliency+smoothgrad"].explanation.method == "saliency+smoothgrad"
    # region-level scores: constant on each block of the default partition
    attr = ev.methods["feature_ablation"].explanation.attribution[0]
    blocks = block_partition(*attr.shape)
    for lab in np.unique(blocks)[:10]:
        vals = attr[blocks == lab]
        assert np.ptp(vals) == 0
    with pytest.raises(ValueError, match="noise tunnel"):
        evaluate(
            net,
            a + b,
            transform_config=TCFG,
            imaging_config=icfg,
            methods=("occlusion+smoothgrad",),
        )
    with pytest.raises(ValueError, match="needs a layer"):
        evaluate(
            torch.nn.Sequential(net),
            a + b,
            transform_config=TCFG,
            imaging_config=icfg,
            methods=("layer_gradcam",),
            randomization="none",
        )


# ------------------------------------------------------------ planted data, bundled model
def _planted_evaluation(idx=None, *, n_null=50):
    from saliency2signal.datasets import load_planted
    from saliency2signal.io import load_model

    root = pathlib.Path(__file__).resolve().parents[1]
    model, meta = load_model(root / "models" / "planted.pt", rebuild=True)
    d = load_planted("test")
    x, y = d.x, d.y
    truth = {"components": d.components, "windows": d.windows, "axis": d.axis}
    if idx is not None:
        x, y = x[idx], y[idx]
        truth = {"components": d.components[idx], "windows": d.windows[idx], "axis": d.axis}
    ev = evaluate(
        model,
        x,
        metadata=meta,
        truth=truth,
        labels=y,
        n_null=n_null,
        randomization="full",
        insertion=False,
        seed=0,
    )
    return ev.methods["integrated_gradients"], ev, y


def _assert_planted_criteria(m, ev, y, *, energy_share, beats_share):
    s = m.scores
    correct = ev.target == y
    planted = s["truth_valid"] > 0
    ok = planted & correct
    # (a) >= 0.8 of the recovered energy inside the planted window (centre +- 3 widths)
    assert np.mean(s["energy_in_window"][ok] >= 0.8) >= energy_share
    # (b) deleting the top region beats >= 95 % of its matched random regions
    assert np.mean(s["top_drop_beaten"][planted] >= 0.95) >= beats_share
    # (c) fully randomising the model: rank correlation of the 1D explanations < 0.3
    assert np.nanmean(m.randomization["spearman"][-1]) < 0.3


def test_planted_criteria_on_a_subset_of_the_bundled_data():
    """Issue criteria on 4 planted and 2 peak-free test spectra (the full set is slow)."""
    from saliency2signal.datasets import load_planted

    y = load_planted("test").y
    idx = np.concatenate([np.flatnonzero(y == 1)[:4], np.flatnonzero(y == 0)[:2]])
    m, ev, yy = _planted_evaluation(idx, n_null=20)
    assert np.all(ev.target == yy)
    _assert_planted_criteria(m, ev, yy, energy_share=1.0, beats_share=1.0)
    # on the peak-free class deleting any region leaves p(absent) where it was
    absent = yy == 0
    assert np.all(np.abs(m.scores["top_drop"][absent]) < 0.01)


@pytest.mark.slow
def test_planted_criteria_on_the_bundled_test_set():
    """The numbers the README quotes: all 60 test spectra, 50 null draws."""
    m, ev, y = _planted_evaluation()
    _assert_planted_criteria(m, ev, y, energy_share=0.9, beats_share=0.8)
