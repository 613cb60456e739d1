"""The verdict on every explanation: its deletion test against the matched random null.

A model that reads one frequency band is explained better than chance; a model that
ignores its input is not; a reference equal to the signal deletes nothing; verdicts do
not depend on the batch a signal was in; ``evaluate`` attaches the verdicts of its own
null; the CLI and the report say it in words (issue 17).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
from jsonschema import validate

from saliency2signal import SSQConfig, explain, ssq_cwt
from saliency2signal.cli import main
from saliency2signal.evaluation import evaluate
from saliency2signal.explanation import load_schema
from saliency2signal.faithfulness import LEVELS, CurveSettings, Verdict, measure_curves, verdicts
from saliency2signal.imaging import ImagingConfig

N = 256
TCFG = SSQConfig(nv=8, dtype="float64")
ICFG = ImagingConfig(normalize="none")
F_A, F_B = 0.05, 0.2


class BandModel(torch.nn.Module):
    """Logit of class 1 = scale * mean image value in rows [r0, r1) - offset."""

    def __init__(self, r0: int, r1: int):
        super().__init__()
        self.r0, self.r1 = r0, r1
        self.head = torch.nn.Linear(1, 2, dtype=torch.float64)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[0.0], [1.0]]))
            self.head.bias.zero_()

    def forward(self, img):
        return self.head(img[:, 0, self.r0 : self.r1, :].mean((-2, -1))[:, None])


class Ignore(torch.nn.Module):
    """Depends on its input only to within 1e-9."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(1e-9, dtype=torch.float64))

    def forward(self, img):
        s = self.w * img.mean((-3, -2, -1))
        return torch.stack([torch.zeros_like(s), 1.0 + s], -1)


def _tones(n_signals: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    a = np.stack([np.cos(2 * np.pi * F_A * t + rng.uniform(0, 6)) for _ in range(n_signals)])
    b = np.stack([np.cos(2 * np.pi * F_B * t + rng.uniform(0, 6)) for _ in range(n_signals)])
    return a, b


@pytest.fixture(scope="module")
def band():
    a, b = _tones(4)
    freqs = TCFG.freqs(N)
    rows = np.flatnonzero((freqs > F_A / 1.4) & (freqs < F_A * 1.4))
    model = BandModel(int(rows[0]), int(rows[-1]) + 1)
    with torch.no_grad():  # p(class 1) about 0.9: not saturated
        img = ssq_cwt(torch.from_numpy(a + b), TCFG).Tx.abs()[:, None]
        model.head.weight[1, 0] = 2.2 / float(img[:, 0, model.r0 : model.r1].mean())
    return model, a + b


KW = dict(transform_config=TCFG, imaging_config=ICFG, max_regions=3, n_steps=8)


@pytest.fixture(scope="module")
def band_explained(band):
    model, x = band
    return explain(model, x, n_null=20, seed=4, **KW)


def test_a_model_reading_one_band_is_explained_better_than_chance(band_explained):
    e = band_explained
    assert len(e.verdicts) == 4
    for v in e.verdicts:
        assert v.level == "better than chance" and v.better_than_chance
        assert v.top_beaten >= 0.95 and v.auc_percentile >= 95
        assert v.top_drop > 0.2 and v.top_drop > v.null_top_drop + 0.1
        assert not v.contradicted and v.n_null == 20
        assert v.sentence("class 1").startswith("Better than chance: deleting the top region")
    # the verdict's first deletion step is the region table's deletion of region 1
    for v, regions in zip(e.verdicts, e.regions, strict=True):
        assert v.top_drop == pytest.approx(regions[0].drop, abs=1e-9)
    summary = e.verdict_summary()
    assert summary["better_than_chance"] == 4 and summary["n"] == 4
    assert summary["better_than_chance_share"] == 1.0 and summary["contradicted"] == 0
    report = json.loads(json.dumps(e.to_json(), allow_nan=False))
    validate(report, load_schema())
    s0 = report["samples"][0]["verdict"]
    assert s0["level"] == "better than chance" and "p(class 1)" in s0["message"]
    assert report["settings"]["n_null"] == 20 and report["settings"]["reference"] == "zero"


def test_a_model_ignoring_its_input_is_not_better_than_chance():
    a, b = _tones(3)
    e = explain(Ignore(), a + b, method="saliency", n_null=20, **KW)
    for v in e.verdicts:
        assert v.level == "not better than chance"
        assert abs(v.top_drop) < 1e-8 and v.top_beaten <= 0.25
    assert e.verdict_summary()["better_than_chance"] == 0


def test_verdicts_do_not_depend_on_the_batch(band, band_explained):
    model, x = band
    one = explain(model, x[2:3], n_null=20, seed=4, batch_size=1, **KW)
    # signal 2 alone draws from [seed, 0], not [seed, 2]: a different null
    alone = explain(model, x, n_null=20, seed=4, batch_size=1, **KW)
    for v, w in zip(alone.verdicts, band_explained.verdicts, strict=True):
        assert v.top_beaten == w.top_beaten and v.auc_percentile == w.auc_percentile
        assert v.null_top_drop == pytest.approx(w.null_top_drop, rel=1e-9, abs=1e-12)
    assert one.verdicts[0].top_drop == pytest.approx(alone.verdicts[2].top_drop, rel=1e-9)


def test_no_verdict_without_deletion_or_draws(band):
    model, x = band
    for kwargs in ({"n_null": 0}, {"deletion": False}):
        e = explain(model, x[:1], **kwargs, **KW)
        assert e.verdicts is None and e.verdict_summary() is None
        d = e.to_json()
        assert d["samples"][0]["verdict"] is None and d["verdict_summary"] is None
        validate(json.loads(json.dumps(d)), load_schema())


def test_a_reference_equal_to_the_signal_deletes_nothing(band):
    model, x = band
    e = explain(model, x[:2], n_null=20, reference=x[:2], **KW)
    for v in e.verdicts:
        assert abs(v.top_drop) < 1e-9 and v.level == "not better than chance"
        assert v.reference == "given"
    assert e.settings["reference"] == "given"


def test_mean_reference_is_the_mean_signal(band):
    model, x = band
    by_name = explain(model, x, n_null=20, reference="mean", **KW)
    by_array = explain(model, x, n_null=20, reference=x.mean(0), **KW)
    for v, w in zip(by_name.verdicts, by_array.verdicts, strict=True):
        assert v.top_drop == pytest.approx(w.top_drop, rel=1e-9, abs=1e-12)
        assert v.auc_percentile == w.auc_percentile
    assert by_name.verdicts[0].reference == "mean"


def test_a_zero_reference_is_removal(band_explained):
    e = band_explained
    n_regions = np.array([len(r) for r in e.regions])
    common = dict(rng=np.random.default_rng(0), batch_size=64, device="cpu")
    plain = measure_curves(
        Ignore(), e, np.asarray(e.labels), n_regions, CurveSettings(5), **common
    )
    common["rng"] = np.random.default_rng(0)
    zero = measure_curves(
        Ignore(),
        e,
        np.asarray(e.labels),
        n_regions,
        CurveSettings(5),
        references=np.zeros(N),
        **common,
    )
    np.testing.assert_allclose(zero.deletion, plain.deletion, rtol=1e-12)
    np.testing.assert_allclose(zero.null_deletion, plain.null_deletion, rtol=1e-12)


@pytest.mark.parametrize(
    "reference, match",
    [("median", "reference='median'"), (np.zeros(7), r"reference has shape \(7,\)")],
)
def test_bad_references_are_refused(band, reference, match):
    model, x = band
    with pytest.raises(ValueError, match=match):
        explain(model, x[:1], reference=reference, **KW)


def test_evaluate_attaches_the_verdicts_of_its_own_null(band):
    model, x = band
    ev = evaluate(model, x, n_null=20, randomization="none", seed=1, **KW)
    m = ev.methods["integrated_gradients"]
    s = m.scores
    for b, v in enumerate(m.explanation.verdicts):
        assert v.top_beaten == s["top_drop_beaten"][b]
        assert v.auc_percentile == s["deletion_auc_percentile"][b]
        assert v.n_null == 20 and v.level == "better than chance"


def test_the_rule():
    s = {
        "top_drop": np.array([0.5, 0.5, 0.2, -0.1, np.nan]),
        "null_top_drop": np.zeros(5),
        "top_drop_beaten": np.array([0.95, 0.95, 0.5, 0.0, np.nan]),
        "deletion_auc": np.full(5, 0.3),
        "null_deletion_auc": np.full(5, 0.5),
        "deletion_auc_percentile": np.array([95.0, 94.9, 99.0, 10.0, np.nan]),
    }
    v = verdicts(s, [2, 2, 1, 1, 0], n_null=20)
    assert [x.level for x in v] == [LEVELS[0], "mixed", "mixed", LEVELS[2], "no regions"]
    assert [x.contradicted for x in v] == [False, False, False, True, False]
    assert "raises" in v[3].sentence() and "only 0 %" in v[3].sentence()
    assert v[4].sentence().startswith("No region")
    strict = verdicts(s, [2, 2, 1, 1, 0], n_null=20, level=0.99)
    assert strict[0].level == LEVELS[2] and strict[2].level == "mixed"
    d = v[0].to_dict("peak")
    assert set(d) == set(load_schema()["$defs"]["verdict"]["properties"])
    assert "p(peak)" in d["message"]
    assert Verdict("mixed", 0.1, 0.0, 0.9, 0.3, 0.4, 96.0, False, 20).better_than_chance is False


def test_cli_explain_prints_and_writes_the_verdicts(tmp_path, capsys):
    from saliency2signal.datasets import load_planted

    model = pathlib.Path(__file__).resolve().parents[1] / "models" / "planted.pt"
    x = load_planted("test").x[:3]
    data = tmp_path / "x.npy"
    np.save(data, x)
    ref = tmp_path / "ref.npy"
    np.save(ref, x.mean(0))
    out = tmp_path / "report"
    args = ["explain", str(model), str(data), "--out", str(out), "--max-regions", "2"]
    assert main([*args, "--reference", str(ref)]) == 0
    printed = capsys.readouterr().out
    assert "faithfulness: " in printed and "better than chance" in printed
    report = json.loads((out / "report.json").read_text())
    validate(report, load_schema())
    assert report["settings"]["reference"] == "given"
    assert all(s["verdict"]["reference"] == "given" for s in report["samples"])
    page = (out / "index.html").read_text()
    assert "<b>Faithfulness:</b>" in page and 'class="verdict ' in page
    out2 = tmp_path / "no_verdict"
    assert main([*args[:4], str(out2), "--n-null", "0", "--no-figures"]) == 0
    assert json.loads((out2 / "report.json").read_text())["verdict_summary"] is None
    # a reference file is an input: the output may not overwrite it
    assert main([*args[:4], str(ref), "--reference", str(ref), "--no-figures"]) == 2
    assert np.load(ref).shape == x.shape[1:]


# ------------------------------------------------------------------ method='auto'
def _register(monkeypatch, name, run):
    from saliency2signal.saliency import _registry

    monkeypatch.setitem(_registry.REGISTRY, name, _registry.Method(name, "gradient", run, ()))


def test_auto_chooses_the_method_that_beats_the_null(band, monkeypatch, tmp_path):
    from saliency2signal.saliency import _methods

    def random_cells(batch):
        g = torch.Generator().manual_seed(0)
        m = batch.magnitude
        return _methods.Attribution(values=torch.rand(m.shape, generator=g, dtype=m.dtype))

    def broken(batch):
        raise RuntimeError("this model has no such layer")

    _register(monkeypatch, "random_cells", random_cells)
    _register(monkeypatch, "broken", broken)
    model, x = band
    e = explain(
        model,
        x,
        method="auto",
        auto_options={"candidates": ("random_cells", "broken", "integrated_gradients")},
        **KW,
    )
    sel = e.settings["method_selection"]
    assert sel["chosen"] == "integrated_gradients" == e.method
    assert sel["subset"] == [0, 1, 2, 3]
    c = sel["candidates"]
    assert c["integrated_gradients"]["better_than_chance_share"] == 1.0
    assert c["random_cells"]["better_than_chance_share"] < 0.5
    assert c["broken"]["error"] == "RuntimeError: this model has no such layer"
    assert sel["reason"].startswith("integrated_gradients: 100 % of 4 explanations")
    validate(json.loads(json.dumps(e.to_json())), load_schema())
    page = (e.save(tmp_path / "auto", figures=False) / "index.html").read_text()
    assert "Method chosen by <code>auto</code>" in page and sel["reason"] in page
    # the chosen method's explanation is the one explain gives for it
    direct = explain(model, x, method="integrated_gradients", **KW)
    np.testing.assert_array_equal(e.labels, direct.labels)


def test_auto_on_a_subset_and_its_refusals(band, monkeypatch):
    model, x = band
    e = explain(
        model,
        x,
        method="auto",
        target=np.array([1, 1, 1, 1]),
        auto_options={"candidates": ("saliency", "integrated_gradients"), "n_subset": 2},
        **KW,
    )
    assert e.settings["method_selection"]["subset"] == [0, 3]
    assert e.n_samples == 4 and np.all(e.target == 1)

    def broken(batch):
        raise ValueError("no")

    _register(monkeypatch, "broken", broken)
    with pytest.raises(ValueError, match="every candidate failed"):
        explain(model, x, method="auto", auto_options={"candidates": ("broken",)}, **KW)
    with pytest.raises(ValueError, match="unknown keys"):
        explain(model, x, method="auto", auto_options={"subset": 3}, **KW)
    with pytest.raises(ValueError, match="is for method='auto'"):
        explain(model, x, auto_options={"n_subset": 3}, **KW)
