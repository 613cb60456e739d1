"""The check of our images against the researcher's: reading, comparing, deciding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from saliency2signal import SSQConfig
from saliency2signal.agreement import (
    MIN_AGREEMENT,
    accuracy_check,
    compare_images,
    read_image_folder,
)
from saliency2signal.metadata import ModelMetadata
from saliency2signal.pipeline import ImagingSteps, Log1p, MinMax, QuantizeUint8, Resize
from saliency2signal.transform import ssq_cwt

STEPS = ImagingSteps([Log1p(), Resize(size=(16, 16)), MinMax(), QuantizeUint8()])


def _meta(task: str = "classification", names=("a", "b")) -> ModelMetadata:
    return ModelMetadata(
        transform=SSQConfig(nv=8), imaging=STEPS, class_names=names, n_times=256, task=task
    )


def _their_images(x: np.ndarray, meta: ModelMetadata) -> np.ndarray:
    with torch.no_grad():
        img = meta.imaging(ssq_cwt(torch.from_numpy(x), meta.transform).Tx.abs())
    return (img * 255).round().to(torch.uint8).numpy()


@pytest.fixture
def signals(rng):
    return rng.standard_normal((6, 256))


def test_identical_images_agree_and_a_changed_one_is_measured(signals):
    meta = _meta()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
    theirs = _their_images(signals, meta)
    check = compare_images(net, signals, theirs, metadata=meta)
    assert check.agrees() and check.max_difference == 0 and check.share_close == 1.0
    assert check.predictions_ours == check.predictions_theirs
    # one image inverted: pixels differ, and the check says by how much
    bad = theirs.copy()
    bad[2] = 255 - bad[2]
    worse = compare_images(net, signals, bad, metadata=meta)
    assert worse.max_difference == pytest.approx(1.0)
    assert 0.0 < worse.share_close < 1.0
    assert worse.n_compared == 6 and worse.kind == "uint8"
    assert "predictions agree on" in worse.summary()


def test_indices_pick_the_signals_compared(signals):
    meta = _meta()
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
    theirs = _their_images(signals[[4, 1]], meta)
    check = compare_images(net, signals, theirs, metadata=meta, indices=[4, 1])
    assert check.indices == (4, 1) and check.max_difference == 0
    with pytest.raises(ValueError, match="out of range"):
        compare_images(net, signals, theirs, metadata=meta, indices=[4, 9])
    with pytest.raises(ValueError, match="one distinct signal per image"):
        compare_images(net, signals, theirs, metadata=meta, indices=[4, 4])


def test_images_that_do_not_fit_are_refused(signals):
    meta = _meta()
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
    with pytest.raises(ValueError, match="the pipeline makes 1 x 16 x 16 images"):
        compare_images(net, signals, np.zeros((2, 20, 20), np.uint8), metadata=meta)
    with pytest.raises(ValueError, match="7 images for 6 signals"):
        compare_images(net, signals, np.zeros((7, 16, 16), np.uint8), metadata=meta)
    no_quantize = meta.replace(imaging=ImagingSteps(STEPS.steps[:-1]))
    with pytest.raises(ValueError, match="no quantize_uint8 step"):
        compare_images(net, signals, np.zeros((2, 16, 16), np.uint8), metadata=no_quantize)


def test_a_regressions_outputs_agree_within_a_tolerance(signals):
    meta = _meta("regression", names=("height", "width"))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
    theirs = _their_images(signals, meta)
    same = compare_images(net, signals, theirs, metadata=meta)
    assert same.agreement == 1.0 and same.output_difference == 0.0
    assert len(same.predictions_ours[0]) == 2  # both outputs, as values
    shifted = np.clip(theirs.astype(np.int64) + 40, 0, 255).astype(np.uint8)
    moved = compare_images(net, signals, shifted, metadata=meta)
    assert moved.output_difference > 0 and moved.agreement < MIN_AGREEMENT
    assert "largest output difference" in moved.summary()


def test_read_a_folder_by_index_or_by_order(tmp_path):
    a = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    for i in (3, 0, 11):  # names end in the signal index; listed out of order
        Image.fromarray(a + i).save(tmp_path / f"spec_{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    images, indices = read_image_folder(tmp_path, n_signals=12)
    assert indices == [0, 3, 11]
    assert images.shape == (3, 4, 4, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[1], a + 3)
    with pytest.raises(ValueError, match="indices up to 11\\) for 5 signals"):
        read_image_folder(tmp_path, n_signals=5)
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("b", "a"):
        Image.fromarray(a).save(plain / f"{name}.jpg", quality=95)
    images, indices = read_image_folder(plain)
    assert indices == [0, 1] and images.shape == (2, 4, 4, 3)


def test_read_float_tiffs_and_refuse_mixed_folders(tmp_path):
    values = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)
    for i in range(2):
        Image.fromarray(values * (i + 1), mode="F").save(tmp_path / f"{i}.tif")
    images, indices = read_image_folder(tmp_path)
    assert images.dtype == np.float32 and indices == [0, 1]
    np.testing.assert_array_equal(images[1], values * 2)
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "2.png")
    with pytest.raises(ValueError, match="the images must be alike"):
        read_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no"):
        read_image_folder(tmp_path / "empty")


def test_accuracy_against_chance():
    good = accuracy_check([0, 1] * 10, [0, 1] * 10)
    assert good["accuracy"] == 1.0 and good["chance"] == 0.5 and not good["near_chance"]
    lazy = accuracy_check([1] * 20, [1] * 14 + [0] * 6)  # the commonest class, always
    assert lazy["accuracy"] == 0.7 and lazy["chance"] == 0.7 and lazy["near_chance"]
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        accuracy_check([0, 1, 1], [0, 1])
