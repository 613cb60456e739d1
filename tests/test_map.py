"""Heatmaps of a finished saliency study mapped back to regions and components.

The researcher of the original question has Grad-CAM heatmaps of their CWT images and
wants the matching parts of the signal. These tests make such heatmaps from a known
array (grey, colour-mapped, blended over the scalogram) and check that every path gives
the regions and components of the array path; that mapping an attribution through
``map_heatmaps`` with the model is ``explain`` itself; and that coefficients in
ssqueezepy's row order are refused when the signals can tell.
"""

from __future__ import annotations

import json
import pathlib

import jsonschema
import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from saliency2signal import explain, load_model, ssq_cwt, to_ssqueezepy
from saliency2signal.cli import main
from saliency2signal.datasets import load_coffee
from saliency2signal.explanation import load_schema, map_heatmaps
from saliency2signal.heatmaps import read_heatmap_images, unblend
from saliency2signal.metadata import ModelMetadata
from saliency2signal.pipeline import load_pipeline
from saliency2signal.transform import verify_coefficients

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZE = (32, 48)
PIPELINE = """\
task = "classification"
class_names = ["Arabica", "Robusta"]
n_times = 286

[transform]
wavelet = ["gmw", {dtype = "float64"}]
nv = 16

[[steps]]
kind = "log1p"

[[steps]]
kind = "resize"
size = [32, 48]
method = "bilinear"

[[steps]]
kind = "minmax"
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Coffee signals, a pipeline file and a known 8-bit heatmap per signal (two blobs)."""
    root = tmp_path_factory.mktemp("study")
    (root / "pipeline.toml").write_text(PIPELINE)
    x = load_coffee("test").x[:6].astype(np.float64)
    np.save(root / "x.npy", x)
    rows, cols = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    heat = []
    for b in range(x.shape[0]):
        c = 10 + 4 * b
        h = np.exp(-(((rows - 8) / 3) ** 2 + ((cols - c) / 4) ** 2))
        h += 0.6 * np.exp(-(((rows - 22) / 2) ** 2 + ((cols - 36 + b) / 3) ** 2))
        heat.append(np.round(255 * h / h.max()) / 255)  # what an 8-bit image can hold
    heat = np.stack(heat)
    np.save(root / "heat.npy", heat)
    return root, x, heat


def _metadata(root: pathlib.Path) -> ModelMetadata:
    return ModelMetadata.from_pipeline(load_pipeline(root / "pipeline.toml"), n_times=286)


def _png_folder(folder: pathlib.Path, images) -> pathlib.Path:
    folder.mkdir()
    for b, im in enumerate(images):
        Image.fromarray(im).save(folder / f"gradcam_{b:03d}.png")
    return folder


def _report(folder: pathlib.Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def _same_regions(a: pathlib.Path, b: pathlib.Path) -> None:
    with np.load(a / "components.npz") as za, np.load(b / "components.npz") as zb:
        np.testing.assert_array_equal(za["labels"], zb["labels"])
        np.testing.assert_allclose(za["components"], zb["components"], rtol=0, atol=1e-12)


def test_colour_mapped_png_folder_maps_like_the_array(study, tmp_path, capsys):
    root, x, heat = study
    jet = matplotlib.colormaps["jet"].resampled(256)
    pngs = _png_folder(
        tmp_path / "pngs", [(255 * jet(h)[..., :3]).round().astype(np.uint8) for h in heat]
    )
    common = ["--pipeline", str(root / "pipeline.toml"), "--no-figures"]
    assert (
        main(
            [
                "map",
                str(root / "heat.npy"),
                str(root / "x.npy"),
                "--out",
                str(tmp_path / "a"),
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "map",
                str(pngs),
                str(root / "x.npy"),
                "--colormap",
                "jet",
                "--out",
                str(tmp_path / "b"),
                *common,
            ]
        )
        == 0
    )
    _same_regions(tmp_path / "a", tmp_path / "b")
    report = _report(tmp_path / "b")
    assert report["method"] == "given heatmaps"
    assert report["settings"]["heatmaps"]["source"] == "images"
    assert report["settings"]["heatmaps"]["grid"] == "image"
    assert all(len(s["regions"]) >= 1 for s in report["samples"])
    # read as grey levels (no colormap), the same pictures are other numbers: other regions
    assert (
        main(["map", str(pngs), str(root / "x.npy"), "--out", str(tmp_path / "c"), *common]) == 0
    )
    with (
        np.load(tmp_path / "a" / "components.npz") as za,
        np.load(tmp_path / "c" / "components.npz") as zc,
    ):
        assert not np.array_equal(za["labels"], zc["labels"])
    assert "first class" in capsys.readouterr().err


def test_grey_png_folder_in_any_order_maps_its_own_signals(study, tmp_path):
    root, x, heat = study
    grey = (255 * heat).round().astype(np.uint8)
    folder = tmp_path / "grey"
    folder.mkdir()
    for b in (4, 1):  # two of the six signals
        Image.fromarray(grey[b]).save(folder / f"cam_{b}.png")
    md = _metadata(root)
    read = read_heatmap_images(folder, n_signals=6)
    assert read.indices == (1, 4)
    e = map_heatmaps(read.values, x[list(read.indices)], metadata=md)
    ref = map_heatmaps(heat[[1, 4]], x[[1, 4]], metadata=md)
    np.testing.assert_array_equal(e.labels, ref.labels)
    np.testing.assert_allclose(e.components, ref.components, atol=1e-12)


def test_heatmaps_blended_over_the_scalogram_are_separated(study, tmp_path):
    root, x, heat = study
    md = _metadata(root)
    # the plain scalogram image as the researcher saved it (viridis), and Grad-CAM's
    # overlay: 0.5 * jet(heat) + 0.5 * scalogram, rounded to 8 bits
    images = md.imaging(ssq_cwt(x, md.transform).Tx.abs()).numpy()[:, 0]
    plain = matplotlib.colormaps["viridis"](images)[..., :3]
    jet = matplotlib.colormaps["jet"].resampled(256)(heat)[..., :3]
    blended = (255 * (0.5 * jet + 0.5 * plain)).round().astype(np.uint8)
    values, alpha = unblend(blended[0] / 255, (255 * plain[0]).round() / 255, colormap="jet")
    assert abs(alpha - 0.5) <= 0.02
    assert np.abs(values - heat[0]).max() <= 0.05
    pngs = _png_folder(tmp_path / "overlay", blended)
    scal = _png_folder(tmp_path / "plain", (255 * plain).round().astype(np.uint8))
    read = read_heatmap_images(pngs, colormap="jet", scalograms=scal)
    assert all(abs(a - 0.5) <= 0.02 for a in read.alphas)
    e = map_heatmaps(read.values, x, metadata=md)
    ref = map_heatmaps(heat, x, metadata=md)
    for b in range(x.shape[0]):  # 8-bit blends: the regions agree, not to the cell
        inter = np.logical_and(e.labels[b] > 0, ref.labels[b] > 0).sum()
        union = np.logical_or(e.labels[b] > 0, ref.labels[b] > 0).sum()
        assert inter / union >= 0.9
        c, r = e.components[b].sum(0), ref.components[b].sum(0)
        assert np.corrcoef(c, r)[0, 1] >= 0.98
    with pytest.raises(ValueError, match="colormap"):
        read_heatmap_images(pngs, scalograms=scal)


def test_ssqueezepy_ordered_coefficients_are_refused_unless_said(study, tmp_path, capsys):
    ssqueezepy = pytest.importorskip("ssqueezepy")
    root, x, heat = study
    tx = np.stack(
        [ssqueezepy.ssq_cwt(s, wavelet=("gmw", {"dtype": "float64"}), nv=16)[0] for s in x]
    )
    np.save(root / "tx_ssq.npy", tx)
    # native-grid heatmaps made on that Tx (ssqueezepy's order): |Tx| times a band
    native = np.abs(tx) * (np.arange(tx.shape[1]) < 40)[:, None]
    np.save(root / "native_ssq.npy", native)
    args = [
        "map",
        str(root / "native_ssq.npy"),
        str(root / "x.npy"),
        "--pipeline",
        str(root / "pipeline.toml"),
        "--coefficients",
        str(root / "tx_ssq.npy"),
        "--no-figures",
    ]
    assert main([*args, "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "ssqueezepy's order" in err and "order='ssqueezepy'" in err and len(err.splitlines()) == 1
    )
    assert not (tmp_path / "refused").exists()
    assert main([*args, "--order", "ssqueezepy", "--out", str(tmp_path / "ok")]) == 0
    report = _report(tmp_path / "ok")
    check = report["settings"]["heatmaps"]["coefficients_check"]
    assert check["relative_difference"] < 1e-10
    # the band of the 40 highest-frequency rows of ssqueezepy is our top 40 rows
    with np.load(tmp_path / "ok" / "components.npz") as z:
        rows = np.nonzero((z["labels"] > 0).any(axis=(0, 2)))[0]
    assert rows.min() >= tx.shape[1] - 40


def test_float32_ssqueezepy_coefficients_pass_and_other_configs_do_not():
    ssqueezepy = pytest.importorskip("ssqueezepy")
    x = load_coffee("test").x[:3].astype(np.float64)
    md = ModelMetadata.from_pipeline(load_pipeline_text(PIPELINE), n_times=286)
    tx32 = np.stack([ssqueezepy.ssq_cwt(s.astype(np.float32), wavelet="gmw", nv=16)[0] for s in x])
    assert verify_coefficients(tx32, x, md.transform, order="ssqueezepy") < 0.2
    with pytest.raises(ValueError, match="order='ssqueezepy'"):
        verify_coefficients(tx32, x, md.transform)
    tx_b = np.stack(
        [
            ssqueezepy.ssq_cwt(s, wavelet=("gmw", {"beta": 20.0, "dtype": "float64"}), nv=16)[0]
            for s in x
        ]
    )
    if tx_b.shape == tx32.shape:
        with pytest.raises(ValueError, match="differ"):
            verify_coefficients(tx_b, x, md.transform, order="ssqueezepy")
    else:
        with pytest.raises(ValueError, match="shape"):
            verify_coefficients(tx_b, x, md.transform, order="ssqueezepy")
    with pytest.raises(ValueError, match="real"):
        verify_coefficients(np.abs(tx32), x, md.transform, order="ssqueezepy")
    with pytest.raises(ValueError, match="shape"):
        verify_coefficients(tx32[:, :-3], x, md.transform, order="ssqueezepy")


def load_pipeline_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "p.toml"
        path.write_text(text)
        return load_pipeline(path)


def test_native_heatmaps_in_either_order_give_the_same_regions(study):
    root, x, heat = study
    md = _metadata(root)
    tx = ssq_cwt(x, md.transform).Tx
    native = (tx.abs() * (torch.arange(tx.shape[-2]) > tx.shape[-2] // 2)[:, None]).numpy()
    a = map_heatmaps(native, x, metadata=md)
    b = map_heatmaps(to_ssqueezepy(native), x, metadata=md, order="ssqueezepy")
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.settings["heatmaps"]["grid"] == "native"
    # the same array without order= is another map: the low half of the plane
    c = map_heatmaps(to_ssqueezepy(native), x, metadata=md)
    assert not np.array_equal(a.labels, c.labels)


def test_with_the_model_mapping_an_attribution_is_explain():
    loaded = load_model(ROOT / "models" / "planted.pt")
    from saliency2signal.datasets import load_planted

    x = load_planted("test").x[:3]
    e = explain(loaded.model, x, metadata=loaded.metadata, reference="zero", n_null=20)
    m = map_heatmaps(
        e.attribution, x, metadata=loaded.metadata, model=loaded.model, target=e.target
    )
    np.testing.assert_array_equal(m.labels, e.labels)
    np.testing.assert_array_equal(m.components, e.components)
    np.testing.assert_allclose(m.probabilities, e.probabilities, rtol=1e-6)
    for rm, re_ in zip(m.regions, e.regions, strict=True):
        assert [r.drop for r in rm] == pytest.approx([r.drop for r in re_], abs=1e-6)
        assert [r.peak is None for r in rm] == [r.peak is None for r in re_]
    assert [v.level for v in m.verdicts] == [v.level for v in e.verdicts]
    jsonschema.validate(m.to_json(), load_schema())


def test_without_a_model_the_report_has_no_probabilities(study, tmp_path):
    root, x, heat = study
    e = map_heatmaps(heat[:2], x[:2], metadata=_metadata(root), target="Robusta")
    assert e.probabilities is None and e.predictions is None and e.verdicts is None
    d = e.to_json()
    jsonschema.validate(d, load_schema())
    assert d["samples"][0]["probabilities"] is None
    assert d["samples"][0]["target_class"] == "Robusta"
    assert all(r["deletion"] is None for s in d["samples"] for r in s["regions"])
    folder = e.save(tmp_path / "r", figures=True)
    page = (folder / "index.html").read_text()
    assert "no model was given" in page and (folder / "sample_0000_spectrum.png").is_file()


def test_bad_heatmaps_are_refused_with_the_shapes(study, capsys, tmp_path):
    root, x, heat = study
    md = _metadata(root)
    with pytest.raises(ValueError, match=r"\(32, 48\).*\(81, 286\)|\(32, 48\).*n_freqs"):
        map_heatmaps(np.zeros((6, 30, 30)), x, metadata=md)
    with pytest.raises(ValueError, match="one heatmap per signal"):
        map_heatmaps(heat[:4], x, metadata=md)
    with pytest.raises(ValueError, match="order"):
        map_heatmaps(heat, x, metadata=md, order="ssqueezepy")
    with pytest.raises(ValueError, match="NaN"):
        map_heatmaps(np.full_like(heat, np.nan), x, metadata=md)
    with pytest.raises(ValueError, match="must be .zero., .mean. or an array"):
        map_heatmaps(heat, x, metadata=md, reference="class_means")
    assert (
        main(["map", str(root / "heat.npy"), str(root / "x.npy"), "--out", str(tmp_path / "z")])
        == 2
    )
    assert "--pipeline" in capsys.readouterr().err


def test_a_grid_both_shapes_share_must_be_named(study):
    root, x, heat = study
    md = _metadata(root)
    n_freqs = md.transform.n_freqs(286)
    text = PIPELINE.replace("size = [32, 48]", f"size = [{n_freqs}, 286]")
    md2 = ModelMetadata.from_pipeline(load_pipeline_text(text), n_times=286)
    same = np.zeros((6, n_freqs, 286))
    same[:, 10:20, 100:150] = 1
    with pytest.raises(ValueError, match="grid='image' or grid='native'"):
        map_heatmaps(same, x, metadata=md2)
    a = map_heatmaps(same, x, metadata=md2, grid="native")
    assert a.settings["heatmaps"]["grid"] == "native"


def test_order_is_explicit_where_ssqueezepy_arrays_enter():
    from saliency2signal import SSQConfig, attribution_mask, components, issq_cwt

    x = load_coffee("test").x[:2].astype(np.float64)
    cfg = SSQConfig(nv=16)
    tx = ssq_cwt(x, cfg).Tx
    theirs = to_ssqueezepy(tx).numpy()
    heat = np.zeros(tx.shape)
    heat[:, 40:60, 50:200] = 1.0
    mask = attribution_mask(heat, cfg, value=1.0, coefficients=tx)
    m2 = attribution_mask(heat, cfg, value=1.0, coefficients=theirs, order="ssqueezepy")
    assert [r.energy for r in mask.regions[0]] == pytest.approx([r.energy for r in m2.regions[0]])
    mask_theirs = attribution_mask(heat, cfg, value=1.0, coefficients=theirs)  # the trap
    assert [r.energy for r in mask.regions[0]] != pytest.approx(
        [r.energy for r in mask_theirs.regions[0]]
    )
    ours = components(tx, cfg, masks=mask.labels)
    np.testing.assert_allclose(
        components(theirs, cfg, masks=mask.labels, order="ssqueezepy"), ours, atol=1e-12
    )
    assert not np.allclose(components(theirs, cfg, masks=mask.labels), ours, atol=1e-3)
    np.testing.assert_allclose(
        issq_cwt(theirs, cfg, mask=mask.labels > 0, order="ssqueezepy"),
        issq_cwt(tx, cfg, mask=mask.labels > 0),
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="order"):
        components(ssq_cwt(x, cfg), masks=mask.labels, order="ssqueezepy")
    with pytest.raises(ValueError, match="order"):
        issq_cwt(tx, cfg, order="flipped")


def test_attribution_mask_drops_specks_by_default_as_explain_does():
    from saliency2signal import SSQConfig, attribution_mask

    cfg = SSQConfig(nv=8)
    a = np.zeros((cfg.n_freqs(128), 128))
    a[20:24, 10:40] = 1.0  # 120 cells
    a[5, 100] = 1.0  # a speck: 1 / 121 of the mass
    assert len(attribution_mask(a, cfg, value=1.0).regions) == 1
    assert len(attribution_mask(a, cfg, value=1.0, min_share=0).regions) == 2


def test_cli_map_with_the_model_reports_what_explain_reports(tmp_path):
    from saliency2signal.datasets import load_planted

    planted = load_planted("test")
    np.save(tmp_path / "x.npy", planted.x[:3])
    model = str(ROOT / "models" / "planted.pt")
    run = ["--no-figures", "--n-null", "20"]
    assert (
        main(
            [
                "explain",
                model,
                str(tmp_path / "x.npy"),
                "--reference",
                "zero",
                "--out",
                str(tmp_path / "e"),
                *run,
            ]
        )
        == 0
    )
    with np.load(tmp_path / "e" / "components.npz") as z:
        np.save(tmp_path / "attr.npy", z["attribution"])
    assert (
        main(
            [
                "map",
                str(tmp_path / "attr.npy"),
                str(tmp_path / "x.npy"),
                "--model",
                model,
                "--out",
                str(tmp_path / "m"),
                *run,
            ]
        )
        == 0
    )
    _same_regions(tmp_path / "e", tmp_path / "m")
    e, m = _report(tmp_path / "e"), _report(tmp_path / "m")
    assert m["settings"]["heatmaps"] == {
        **m["settings"]["heatmaps"],
        "grid": "native",
        "model": True,
    }
    for se, sm in zip(e["samples"], m["samples"], strict=True):
        assert sm["predicted_class"] == se["predicted_class"]
        assert sm["verdict"]["level"] == se["verdict"]["level"]
        drops_e = [r["deletion"]["drop"] for r in se["regions"]]
        assert [r["deletion"]["drop"] for r in sm["regions"]] == pytest.approx(drops_e, abs=1e-6)


def test_the_models_own_gradcam_pngs_map_to_explains_gradcam(tmp_path):
    """The original question: Grad-CAM pictures of the CWT images, back to the signal."""
    from captum.attr import LayerAttribution, LayerGradCam

    from saliency2signal import to_image

    loaded = load_model(ROOT / "models" / "coffee.pt", rebuild=True)
    md, net = loaded.metadata, loaded.model
    x = load_coffee("test").x[:4]
    e = explain(
        net,
        x,
        metadata=md,
        method="layer_gradcam",
        reference="zero",
        deletion=False,
        attribute_options={"layer": "features.2", "captum_kwargs": {"relu_attributions": True}},
    )
    # the researcher's own Grad-CAM run: Captum on the images, upsampled, 0-1, jet PNGs
    images = to_image(ssq_cwt(torch.tensor(x, dtype=torch.float32), md.transform).Tx, md.imaging)
    layer = dict(net.named_modules())["features.2"]
    cam = LayerGradCam(net, layer).attribute(
        images, target=torch.as_tensor(np.array(e.target)), relu_attributions=True
    )
    cam = LayerAttribution.interpolate(cam, images.shape[-2:], "bilinear").detach().numpy()[:, 0]
    cam = cam / cam.max(axis=(1, 2), keepdims=True)
    jet = matplotlib.colormaps["jet"]
    pngs = _png_folder(
        tmp_path / "cams", [(255 * jet(c)[..., :3]).round().astype(np.uint8) for c in cam]
    )
    read = read_heatmap_images(pngs, colormap="jet")
    m = map_heatmaps(read.values, x, metadata=md, target=e.target)
    for b in range(len(x)):
        a, c = e.labels[b] > 0, m.labels[b] > 0
        assert (a & c).sum() / (a | c).sum() >= 0.9
        assert np.corrcoef(e.components[b].sum(0), m.components[b].sum(0))[0, 1] >= 0.97
