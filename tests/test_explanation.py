"""Tests of saliency2signal.explanation: regions, components, deletion and the report folder."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import pathlib
import re

import jsonschema
import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, _runtime
from saliency2signal.explanation import (
    SCHEMA,
    SCHEMA_PATH,
    SCHEMA_VERSION,
    Explanation,
    explain,
    load_schema,
)
from saliency2signal.imaging import ImagingConfig
from saliency2signal.io import ModelMetadata, load_model

# the package re-exports the function `explain`, which hides the module attribute
explain_module = importlib.import_module("saliency2signal.explanation")
# where explain() looks up the transform of each group of batches
explain_shell = importlib.import_module("saliency2signal.explanation._explain")
explain_core = importlib.import_module("saliency2signal.explanation._core")

N = 256
CENTER, SIGMA = 170, 3.0
WINDOW = (CENTER - 3 * SIGMA, CENTER + 3 * SIGMA)  # where the deciding peak lives
H = W = 32
TCFG = SSQConfig(nv=8)
ICFG = ImagingConfig(scale="log1p", normalize="none", size=(H, W))


def make_model(seed=0):
    """Linear read-out of the image: class 1 sums the pixel columns over the window.

    Small random weights elsewhere (fixed seed), so only the planted window decides.
    """
    torch.manual_seed(seed)
    lin = torch.nn.Linear(H * W, 2)
    with torch.no_grad():
        lin.weight.mul_(0.01)
        lin.bias.zero_()
        cols = torch.zeros(H, W)
        c0 = int(WINDOW[0] * W / N)
        c1 = int(math.ceil(WINDOW[1] * W / N))
        cols[:, c0 : c1 + 1] = 1.0
        lin.weight[1] += 3.0 * cols.flatten()
        lin.bias[1] = -3.0
    return torch.nn.Sequential(torch.nn.Flatten(), lin)


def toy_data(n, seed):
    """Noise + a distractor peak anywhere in 30..110; class 1 adds a peak at CENTER."""
    rng = np.random.default_rng(seed)
    t = np.arange(N)
    y = np.arange(n) % 2
    pos = rng.uniform(30, 110, (n, 1))
    x = 0.1 * rng.standard_normal((n, N)) + np.exp(-0.5 * ((t - pos) / SIGMA) ** 2)
    x[y == 1] += np.exp(-0.5 * ((t - CENTER) / SIGMA) ** 2)
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def explained(model):
    x, y = toy_data(4, seed=1)
    return explain(
        model,
        x,
        transform_config=TCFG,
        imaging_config=ICFG,
        labels=y,
        target=1,
        class_names=["absent", "present"],
        max_regions=3,
    )


def overlaps(a, b):
    return min(a[1], b[1]) >= max(a[0], b[0])


def test_shapes(explained):
    e = explained
    f = TCFG.n_freqs(N)
    assert isinstance(e, Explanation)
    assert e.attribution.shape == (4, f, N)
    assert e.labels.shape == (4, f, N)
    assert e.components.shape[0] == 4 and e.components.shape[2] == N
    assert e.components.shape[1] == max(len(r) for r in e.regions) <= 3
    assert e.probabilities.shape == (4, 2)
    np.testing.assert_allclose(e.probabilities.sum(-1), 1.0, rtol=1e-5)
    assert e.target.tolist() == [1, 1, 1, 1]
    assert e.given_labels.tolist() == [0, 1, 0, 1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.method = "x"
    assert not e.components.flags.writeable


def test_finds_planted_peak(explained):
    tops = [explained.regions[b][0] for b in (1, 3)]  # signals with the peak
    assert all(overlaps(r.x_range, WINDOW) for r in tops)
    assert all(r.region.mass_share > 0.2 for r in tops)


def test_deleting_top_region_lowers_target_probability(explained):
    for b in (1, 3):
        top = explained.regions[b][0]
        assert top.p_before == pytest.approx(float(explained.probabilities[b, 1]), abs=1e-6)
        assert top.drop == pytest.approx(top.p_before - top.p_after)
        assert top.drop > 0.02


def test_unseen_share(explained, model):
    e = explained
    assert not e.lowpass_in_image
    np.testing.assert_allclose(e.unseen, e.unseen_lowpass + e.unseen_residual)
    assert np.all((e.unseen > 0) & (e.unseen < 1))
    x, _ = toy_data(2, seed=1)
    cfg = SSQConfig(nv=8, lowpass_row=True)
    e2 = explain(
        model, x, transform_config=cfg, imaging_config=ICFG, max_regions=2, deletion=False
    )
    assert e2.lowpass_in_image
    np.testing.assert_allclose(e2.unseen, e2.unseen_residual)
    js = e2.to_json()["samples"][0]
    assert js["unseen"]["lowpass_in_image"] is True
    assert "showed the low-pass row" in js["unseen"]["note"]
    assert all(r["deletion"] is None for r in js["regions"])


def test_json_schema(explained):
    d = explained.to_json()
    text = json.dumps(d, allow_nan=False)  # every float finite or null
    assert json.loads(text) == d
    assert d["schema"] == SCHEMA and d["schema_version"] == 6
    for key, typ in [
        ("method", str),
        ("target_mode", str),
        ("class_names", list),
        ("n_samples", int),
        ("n_times", int),
        ("n_freqs", int),
        ("axis", dict),
        ("transform", dict),
        ("imaging", dict),
        ("lowpass_in_image", bool),
        ("settings", dict),
        ("summary", dict),
        ("samples", list),
    ]:
        assert isinstance(d[key], typ), key
    assert d["target_mode"] == "fixed" and d["n_samples"] == 4
    assert len(d["axis"]["values"]) == N and d["axis"]["units"] == "samples"
    s = d["samples"][1]
    assert set(s) == {
        "index",
        "prediction",
        "predicted_class",
        "target",
        "target_class",
        "label",
        "probabilities",
        "convergence_delta",
        "energy",
        "unseen",
        "regions",
        "verdict",
        "foil_class",
    }
    assert s["label"] == 1 and s["target_class"] == "present"
    assert set(s["probabilities"]) == {"absent", "present"}
    assert set(s["energy"]) >= {"components", "uncovered", "lowpass", "residual"}
    r = s["regions"][0]
    assert set(r) == {
        "label",
        "x_range",
        "duration",
        "cols",
        "rows",
        "band",
        "bandwidth_octaves",
        "width_samples",
        "width_x",
        "area",
        "attribution_share",
        "coefficient_energy_share",
        "component_energy",
        "deletion",
        "contradicting",
        "interference",
        "peak",
    }
    assert r["contradicting"] is (r["deletion"]["drop"] < 0)
    assert r["label"] == 1 and len(r["x_range"]) == 2 and len(r["band"]) == 2
    assert set(r["deletion"]) == {"p_before", "p_after", "drop"}
    assert all(isinstance(v, float) for v in r["deletion"].values())


def test_batch_equals_one_by_one(model):
    x, _ = toy_data(3, seed=2)
    calls = []
    kw = dict(transform_config=TCFG, imaging_config=ICFG, deletion=False, n_steps=8)
    batched = explain(model, x, batch_size=3, **kw)
    single = explain(model, x, batch_size=1, progress=lambda d, t: calls.append((d, t)), **kw)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    np.testing.assert_allclose(
        batched.attribution,
        single.attribution,
        rtol=1e-4,
        atol=1e-6 * np.abs(batched.attribution).max(),
    )
    np.testing.assert_array_equal(batched.labels, single.labels)


@pytest.mark.parametrize("group_batches", [1, 2])
def test_transform_groups_do_not_change_the_explanation(model, monkeypatch, group_batches):
    # explain transforms as many batches as fit in GROUP_BYTES in one call and hands
    # each batch its slice: the same Tx, attributions, regions and deletion effects as
    # one group for all
    x, _ = toy_data(5, seed=4)
    kw = dict(transform_config=TCFG, imaging_config=ICFG, n_steps=8, batch_size=2, target=1)
    whole = explain(model, x, **kw)
    per_signal = 2 * TCFG.n_freqs(N) * N * 2 * 4  # Tx and Wx, complex64
    monkeypatch.setattr(_runtime, "GROUP_BYTES", group_batches * 2 * per_signal)
    seen = []
    original = explain_shell.ssq_cwt
    # the first group's transform is made by explain, the others by the batch loop
    for module in (explain_shell, explain_core):
        monkeypatch.setattr(
            module, "ssq_cwt", lambda x, cfg: seen.append(x.shape[0]) or original(x, cfg)
        )
    parts = explain(model, x, **kw)
    assert seen == ([2, 2, 1] if group_batches == 1 else [4, 1])
    np.testing.assert_array_equal(parts.Tx, whole.Tx)
    np.testing.assert_array_equal(parts.attribution, whole.attribution)
    np.testing.assert_array_equal(parts.labels, whole.labels)
    assert [[r.p_after for r in rs] for rs in parts.regions] == [
        [r.p_after for r in rs] for rs in whole.regions
    ]


def test_metadata_and_length_policy(model):
    meta = ModelMetadata(
        transform=TCFG,
        imaging=ICFG,
        class_names=["absent", "present"],
        n_times=N,
        length_policy="crop",
        axis_name="wavenumber",
        axis_units="cm^-1",
    )
    x, _ = toy_data(1, seed=3)
    longer = np.concatenate([x, np.zeros((1, 20), np.float32)], axis=-1)
    axis = 4000.0 - 2.0 * np.arange(N + 20)
    e = explain(
        model,
        longer,
        metadata=meta,
        axis=axis,
        target="predicted",
        deletion=False,
        max_regions=1,
        n_steps=8,
    )
    assert e.signals.shape == (1, N) and e.original_n_times == N + 20
    assert e.axis[0] == 4000.0 and e.axis_units == "cm^-1"
    d = e.to_json()
    assert d["length_policy"] == "crop" and d["axis"]["name"] == "wavenumber"
    exact = meta.replace(length_policy="exact")
    with pytest.raises(ValueError, match=r"n_times=256 .* data has 276"):
        explain(model, longer, metadata=exact)
    with pytest.raises(ValueError, match="differs from the model"):
        explain(model, x, metadata=meta, transform_config=SSQConfig(nv=16))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": "label"}, "needs labels"),
        ({"target": "best"}, "must be one of"),
        ({"target": 5}, "target=5 is out of range"),
        ({"labels": [0, 3]}, "labels=3 is out of range"),
        ({"keep_mass": 1.5}, "keep_mass=1.5"),
        ({"max_regions": 0}, "max_regions=0"),
        ({"axis": np.arange(10)}, r"axis has shape \(10,\)"),
    ],
)
def test_bad_values(model, kwargs, match):
    x, _ = toy_data(2, seed=4)
    with pytest.raises(ValueError, match=match):
        explain(model, x, transform_config=TCFG, imaging_config=ICFG, **kwargs)


@pytest.fixture(scope="module")
def small(model):
    x, y = toy_data(2, seed=1)
    return explain(
        model,
        x,
        transform_config=TCFG,
        imaging_config=ICFG,
        labels=y,
        target="label",
        max_regions=2,
        n_steps=8,
        interference=True,
    )


def test_save_writes_every_file(small, tmp_path):
    import matplotlib.image as mpimg

    out = small.save(tmp_path / "report")
    names = sorted(p.name for p in out.iterdir())
    classes = sorted(set(small.target.tolist()))
    expected = ["components.npz", "index.html", "report.json", "summary.csv"]
    expected += [f"sample_{b:04d}.html" for b in range(2)]  # one page per signal
    expected += [f"overview_class_{k:03d}.png" for k in classes] + [
        f"sample_{b:04d}_{k}.png"
        for b in range(2)
        for k in ("components", "scalogram", "spectrum")
    ]
    assert names == sorted(expected)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    for png in out.glob("*.png"):
        assert png.stat().st_size > 5000, png.name
        assert float(mpimg.imread(png).std()) > 0, png.name
    report = json.loads((out / "report.json").read_text())
    assert report == json.loads(json.dumps(small.to_json()))
    jsonschema.validate(report, load_schema(), cls=jsonschema.Draft202012Validator)
    assert report["samples"][0]["regions"][0]["interference"]["flagged"] in (True, False)
    with np.load(out / "components.npz") as z:
        np.testing.assert_array_equal(z["components"], small.components)
        np.testing.assert_array_equal(z["labels"], small.labels)
        np.testing.assert_array_equal(z["masks"], small.labels > 0)
        np.testing.assert_array_equal(z["attribution"], small.attribution)
        np.testing.assert_array_equal(z["profile"], small.profile)
        assert z["axis"].shape == (N,)
    page = (out / "index.html").read_text()
    assert page.count("<section") == 2 and "<table>" in page  # the overview, the signals
    assert page.index('id="overview"') < page.index('id="signals"')
    pages = ["index.html"] + [f"sample_{b:04d}.html" for b in range(2)]
    files = []
    for name in pages:
        text = (out / name).read_text()
        links = re.findall(r'(?:href|src)="([^"]+)"', text)
        files += [link.split("#")[0] for link in links if not link.startswith("#")]
        anchors = [link[1:] for link in links if link.startswith("#")]
        assert all(f'id="{a}"' in text for a in anchors)
        assert "http://" not in text and "https://" not in text  # opens offline
    assert set(pages[1:]) <= set(files)  # each page is linked
    assert {f"sample_{b:04d}_{k}.png" for b in range(2) for k in ("spectrum",)} <= set(files)
    assert all((out / link).is_file() for link in files)
    one = (out / "sample_0001.html").read_text()
    assert one.count("<section") == 1 and 'href="sample_0000.html"' in one


def test_save_is_atomic(small, tmp_path, monkeypatch):
    target = tmp_path / "exists"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists"):
        small.save(target, figures=False)
    assert (target / "keep.txt").read_text() == "mine"

    import saliency2signal.plot as plot

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plot, "scalogram", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        small.save(tmp_path / "new")
    with pytest.raises(RuntimeError, match="disk full"):
        small.save(target, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists"]  # nothing partial
    assert (target / "keep.txt").read_text() == "mine"
    monkeypatch.undo()
    small.save(target, figures=False, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == [
        "components.npz",
        "index.html",
        "report.json",
        "sample_0000.html",
        "sample_0001.html",
        "summary.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists"]


def test_plot_returns_axes(small):
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(2, 2).ravel()
    for ax, kind in zip(axes, ("overlay", "components", "scalogram", "attribution"), strict=True):
        assert small.plot(1, kind=kind, ax=ax) is ax
    assert len(axes[0].lines) == 1 + len(small.regions[1])
    with pytest.raises(ValueError, match="kind='nope'"):
        small.plot(0, kind="nope", ax=axes[0])
    with pytest.raises(ValueError, match="index=7"):
        small.plot(7, ax=axes[0])


def test_profile_is_the_signed_attribution_summed_over_frequency(explained, small):
    from matplotlib.figure import Figure

    p = explained.profile
    assert p.shape == explained.signals.shape and not p.flags.writeable
    np.testing.assert_allclose(p, explained.attribution.sum(axis=-2), rtol=1e-12)
    assert (p > 0).any() and (p < 0).any()  # signed: evidence for and against
    ax = Figure().subplots()
    assert small.plot(1, kind="profile", ax=ax) is ax
    assert len(ax.collections) == 2  # the parts for and against the class
    assert len(ax.patches) == len(small.regions[1])  # each region's x-range shaded


def test_profile_localises_the_planted_peak():
    """Where, even when what is hard: the profile's evidence lies in the planted window."""
    from saliency2signal.datasets import load_planted

    root = pathlib.Path(__file__).resolve().parents[1]
    model, meta = load_model(root / "models" / "planted.pt")
    d = load_planted("test")
    pos = np.flatnonzero(d.y == 1)
    e = explain(model, d.x[pos], metadata=meta, n_steps=16, axis=d.axis)
    ok = e.predictions == 1
    assert ok.sum() >= 25
    evidence = np.clip(e.profile, 0, None)
    inside = (d.axis >= d.windows[pos, :1]) & (d.axis <= d.windows[pos, 1:])
    share = (evidence * inside).sum(axis=1) / evidence.sum(axis=1)
    # the window is 6 % of the axis; every correctly classified peak: most evidence in it
    assert np.all(share[ok] >= 0.5) and np.median(share[ok]) >= 0.75


# ----------------------------------------------------------------------------- schema
def validate(report):
    jsonschema.validate(report, load_schema(), cls=jsonschema.Draft202012Validator)


@pytest.fixture(scope="module")
def no_deletion(model):
    x, _ = toy_data(2, seed=5)
    return explain(
        model,
        x,
        transform_config=SSQConfig(nv=8, lowpass_row=True),
        imaging_config=ICFG,
        max_regions=2,
        n_steps=8,
        deletion=False,
    )


def test_schema_file_is_a_valid_draft_2020_12_schema():
    assert SCHEMA_PATH.is_file()
    assert SCHEMA_PATH.parent.parent == pathlib.Path(explain_module.__file__).parent.parent
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"] == {"const": SCHEMA}
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert load_schema() is not load_schema()  # callers may edit their copy


def _property_names(node):
    """Every key under a ``properties`` in the schema, recursively."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value)


def test_schema_and_docstring_name_the_same_keys():
    doc = explain_module.__doc__
    documented = set(re.findall(r"``([a-z_]+)``", doc))
    names = set(_property_names(load_schema()))
    assert names - documented == set()
    # the docstring's key list is rendered from the schema file: a key dropped from the
    # schema drops out of the outline (nested records included, through $ref)
    from saliency2signal.explanation._schema import schema_outline

    assert schema_outline(load_schema()) in doc
    trimmed = load_schema()
    del trimmed["$defs"]["region"]["properties"]["duration"]
    assert "``duration``" in doc and "``duration``" not in schema_outline(trimmed)
    # and every key the docstring lists under a record is required by the schema
    schema = load_schema()
    sample = schema["$defs"]["sample"]
    region = schema["$defs"]["region"]
    assert set(sample["required"]) == set(sample["properties"])
    assert set(region["required"]) == set(region["properties"])
    assert set(schema["required"]) == set(schema["properties"])


@pytest.mark.parametrize("name", ["explained", "no_deletion", "small"])
def test_real_reports_validate(name, request):
    e = request.getfixturevalue(name)
    report = json.loads(json.dumps(e.to_json(), allow_nan=False))
    validate(report)
    regions = [r for s in report["samples"] for r in s["regions"]]
    assert regions  # the schema saw real region records
    if name == "no_deletion":
        assert all(r["deletion"] is None for r in regions)
        assert report["settings"]["deletion"] is False
    if name == "small":
        assert all(isinstance(r["interference"]["flagged"], bool) for r in regions)
        assert report["settings"]["interference"] is True


def _drop_key(d):
    del d["samples"][0]["unseen"]


def _nan_as_string(d):
    d["samples"][0]["probabilities"]["present"] = "NaN"


def _wrong_type(d):
    d["n_times"] = str(d["n_times"])


def _float_label(d):
    d["samples"][0]["regions"][0]["label"] = 1.5


def _extra_key(d):
    d["samples"][0]["regions"][0]["colour"] = "red"


def _three_element_range(d):
    d["samples"][0]["regions"][0]["x_range"].append(1.0)


def _deletion_without_drop(d):
    del d["samples"][0]["regions"][0]["deletion"]["drop"]


def _unknown_target_mode(d):
    d["target_mode"] = "best"


def _flag_as_text(d):
    d["samples"][0]["regions"][0]["interference"] = {
        "flagged": "yes",
        "overlap_fraction": 0.5,
        "message": "m",
    }


@pytest.mark.parametrize(
    "mutate",
    [
        _drop_key,
        _nan_as_string,
        _wrong_type,
        _float_label,
        _extra_key,
        _three_element_range,
        _deletion_without_drop,
        _unknown_target_mode,
        _flag_as_text,
    ],
)
def test_schema_rejects_broken_reports(explained, mutate):
    report = json.loads(json.dumps(explained.to_json()))
    validate(report)  # the unbroken report passes
    mutate(report)
    with pytest.raises(jsonschema.ValidationError):
        validate(report)


def test_interference_on_coffee():
    """Real spectra through the interference check (once a ZeroDivisionError)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    model, meta = load_model(root / "models" / "coffee.pt")
    with np.load(root / "data" / "coffee.npz") as z:
        x = z["X_test"][:2]
    e = explain(model, x, metadata=meta, interference=True, deletion=False, n_steps=4)
    report = json.loads(json.dumps(e.to_json(), allow_nan=False))
    validate(report)
    regions = [r for s in report["samples"] for r in s["regions"]]
    assert regions
    assert all(isinstance(r["interference"]["flagged"], bool) for r in regions)
    assert all(0 <= r["interference"]["overlap_fraction"] <= 1 for r in regions)


# ---------------------------------------------------------------- explain's hot path
@pytest.mark.parametrize(
    "shape", [(5, 6), (3, 3), (4, 4), (1, 6), (5, 1), (2, 7), (6, 5), (2, 2), (8, 3)]
)
@pytest.mark.parametrize("density", [0.03, 0.2, 0.6])
def test_fast_closing_equals_scikit_image(rng, shape, density):
    from skimage import morphology

    from saliency2signal.mask._morphology import binary_closing as _closing

    m = rng.random((37, 52)) < density
    np.testing.assert_array_equal(
        _closing(m, shape), morphology.closing(m, np.ones(shape, dtype=bool))
    )


def test_attribute_reuses_a_given_transform(model):
    from saliency2signal import ssq_cwt
    from saliency2signal.saliency import attribute

    x, _ = toy_data(3, seed=6)
    xt = torch.as_tensor(x)
    kw = dict(transform_config=TCFG, imaging_config=ICFG, n_steps=8, target=1)
    res = ssq_cwt(xt, TCFG)
    fresh = attribute(model, xt, **kw)
    given = attribute(model, xt, result=res, **kw)
    torch.testing.assert_close(given.attribution, fresh.attribution, rtol=0, atol=0)
    torch.testing.assert_close(given.Tx, fresh.Tx, rtol=0, atol=0)
    with pytest.raises(ValueError, match="differs from transform_config"):
        attribute(model, xt, result=ssq_cwt(xt, SSQConfig(nv=16)), **kw)
    with pytest.raises(ValueError, match="does not belong to x"):
        attribute(model, xt[:2], result=res, **kw)
    with pytest.raises(ValueError, match="dtype"):
        attribute(model, xt, result=ssq_cwt(xt.double(), TCFG), **kw)
    with pytest.raises(TypeError, match="SSQResult"):
        attribute(model, xt, result=res.Tx, **kw)


def test_explain_reads_one_transform(explained, model):
    """Tx, components and deletion effects equal their definitions computed apart."""
    from saliency2signal import ssq_cwt
    from saliency2signal.forward import probabilities
    from saliency2signal.inverse import components

    e = explained
    res = ssq_cwt(torch.tensor(e.signals), TCFG)
    np.testing.assert_array_equal(e.Tx, res.Tx.numpy())
    np.testing.assert_array_equal(e.lowpass, res.lowpass.numpy())
    r = e.components.shape[1]
    np.testing.assert_array_equal(
        e.components, components(res, masks=torch.tensor(e.labels), n_regions=r).numpy()
    )
    b = 1
    minus = torch.tensor(e.signals[b] - e.components[b, : len(e.regions[b])])
    p = probabilities(model, minus, transform_config=TCFG, imaging_config=ICFG, batch_size=1)[
        :, 1
    ].numpy()
    np.testing.assert_allclose([reg.p_after for reg in e.regions[b]], p, rtol=1e-5, atol=1e-6)


# ------------------------------------------- the deletion checks' inference model
def coffee():
    from saliency2signal import ssq_cwt, to_image

    root = pathlib.Path(__file__).resolve().parents[1]
    model, meta = load_model(root / "models" / "coffee.pt")
    with np.load(root / "data" / "coffee.npz") as z:
        x = torch.as_tensor(z["X_test"][:6], dtype=torch.float32)
    images = to_image(ssq_cwt(x, meta.transform).Tx, meta.imaging)
    return model, meta, x, images


def test_deletion_with_the_inference_copy_matches_the_plain_model():
    """p_after from the optimised copy equals the plain model's, region by region.

    Contrastive (the bundled model records class means): a region's deletion puts the
    foil mean's content in its place, ``x - contrast``.
    """
    from saliency2signal.forward import probabilities

    model, meta, x, _ = coffee()
    e = explain(model, x[:3].numpy(), metadata=meta, n_steps=4)
    assert e.settings["reference"] == "class_means"
    for b in range(3):
        k = len(e.regions[b])
        assert k
        minus = x[b] - torch.from_numpy(np.array(e.contrasts[b, :k]))
        p = probabilities(
            model,
            minus,
            transform_config=meta.transform,
            imaging_config=meta.imaging,
            batch_size=4,
        )
        t = int(e.target[b])
        np.testing.assert_allclose(
            [r.p_after for r in e.regions[b]], p[:, t].numpy(), rtol=1e-5, atol=1e-6
        )


# --------------------------------------------------------------------- legacy model files
def test_legacy_torchscript_file_explains_as_release_0_1_0():
    """A TorchScript file written by 0.1.0 loads and gives 0.1.0's explanation.

    The reference was computed by 0.1.0 (torch 2.13.0) from the same file
    (``tests/data/make_legacy_torchscript.py``); its deletion checks then ran a frozen
    TorchScript copy, now the model itself, so probabilities agree to float32 rounding.
    """
    root = pathlib.Path(__file__).resolve().parent / "data"
    loaded = load_model(root / "legacy_torchscript.pt")
    assert loaded.format == "torchscript"
    with np.load(root / "legacy_torchscript_explained.npz") as z:
        ref = {k: z[k] for k in z.files}
    e = explain(loaded.model, ref["signals"], metadata=loaded.metadata, n_steps=16)
    np.testing.assert_array_equal(e.labels, ref["labels"])  # the same regions, cell by cell
    np.testing.assert_array_equal(e.predictions, ref["predictions"])
    np.testing.assert_array_equal(e.target, ref["target"])
    np.testing.assert_array_equal([len(r) for r in e.regions], ref["region_counts"])
    scale = float(np.abs(ref["attribution"]).max())
    # (equal to the last bit on this project's machines, torch 2.13 and 2.14)
    np.testing.assert_allclose(e.attribution, ref["attribution"], rtol=1e-6, atol=1e-7 * scale)
    np.testing.assert_allclose(
        e.components, ref["components"], rtol=1e-6, atol=1e-7 * float(np.abs(ref["signals"]).max())
    )
    np.testing.assert_allclose(e.probabilities, ref["probabilities"], rtol=1e-5, atol=1e-6)
    got = np.array(
        [
            [r.p_before, r.p_after, r.drop, r.component_energy, r.region.mass_share]
            for rs in e.regions
            for r in rs
        ]
    )
    np.testing.assert_allclose(got, ref["region_values"], rtol=1e-4, atol=1e-5)
    assert len(ref["region_values"]) >= 4 and np.abs(ref["region_values"][:, 2]).max() > 0.1


def test_the_per_batch_core_run_by_hand_equals_explain(model):
    """What a streaming runner does: explain_batch per chunk (own transform), then assemble."""
    from saliency2signal._runtime import default_mask_options
    from saliency2signal.explanation._core import (
        AxisInfo,
        ExplainSettings,
        assemble,
        explain_batch,
    )

    x, _ = toy_data(5, seed=9)
    whole = explain(model, x, transform_config=TCFG, imaging_config=ICFG, n_steps=8, target=1)
    xt = torch.as_tensor(x, dtype=torch.float32)
    settings = ExplainSettings(
        n_steps=8, batch_size=2, mask_options=default_mask_options(TCFG, ICFG, N)
    )
    chunks = [
        explain_batch(
            model,
            xt[s : s + 2],
            transform_config=TCFG,
            imaging_config=ICFG,
            settings=settings,
            target=torch.ones(min(2, 5 - s), dtype=torch.int64),
        )
        for s in range(0, 5, 2)
    ]
    parts = assemble(
        chunks,
        signals=xt.numpy(),
        settings=settings,
        axis=AxisInfo(np.arange(N, dtype=np.float64)),
        class_names=whole.class_names,
        target_mode="fixed",
        given_labels=None,
        transform_config=TCFG,
        imaging_config=ICFG,
        original_n_times=N,
        length_policy=None,
    )
    for name in ("attribution", "labels", "components", "probabilities", "target"):
        np.testing.assert_allclose(
            getattr(parts, name), getattr(whole, name), rtol=1e-5, atol=1e-7, err_msg=name
        )
    assert [len(rs) for rs in parts.regions] == [len(rs) for rs in whole.regions]
    np.testing.assert_allclose(
        [r.p_after for rs in parts.regions for r in rs],
        [r.p_after for rs in whole.regions for r in rs],
        rtol=1e-5,
    )
    assert parts.to_json()["samples"][0].keys() == whole.to_json()["samples"][0].keys()
