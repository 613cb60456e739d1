"""Limits on what a file may ask for: refused before anything of that size is built."""

from __future__ import annotations

import io
import json
import pathlib
import re
import threading
import tracemalloc

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, limits
from saliency2signal.imaging import ImagingConfig
from saliency2signal.io import ModelMetadata, load_model, save_model
from saliency2signal.models import ScalogramCNN


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(4, 8)).eval()
    meta = ModelMetadata(
        transform=SSQConfig(nv=8),
        imaging=ImagingConfig(size=(32, 32)),
        class_names=["a", "b"],
        n_times=256,
    )
    return save_model(net, tmp_path / "m.pt", metadata=meta)


def _crafted(path, out, *, state_dict=None, **changes):
    """A copy of a state-dict model file whose metadata asks for ``changes``."""
    obj = torch.load(path, weights_only=True)
    block = json.loads(obj["metadata"])
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        node = block
        for p in parents:
            node = node[p]
        node[leaf] = value
    obj["metadata"] = json.dumps(block)
    if state_dict is not None:
        obj["state_dict"] = state_dict
    torch.save(obj, out)
    assert out.stat().st_size < 2 * 2**20
    return out


CASES = {
    "n_times 1e8": ({"n_times": 100_000_000}, "max_signal_length"),
    "grid of a long signal": ({"n_times": 500_000, "imaging.size": [32, 32]}, "max_grid_cells"),
    "image 25000 x 25000": ({"imaging.size": [25000, 25000]}, "max_image_pixels"),
    "widths of 9000": ({"architecture_kwargs.widths": [9000, 9000, 9000]}, "max_parameters"),
    "wide first block": (
        {"architecture_kwargs.widths": [4096, 8], "imaging.size": [1024, 1024]},
        "max_activations",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_sizes_are_refused_before_allocation(model_file, tmp_path, case):
    changes, limit = CASES[case]
    evil = _crafted(model_file, tmp_path / "evil.pt", **changes)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"evil\.pt.*more than {limit}=.*limits\.raised"):
            load_model(evil)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # what each file asks for needs 0.3-3 GB; the largest thing built before the check
    # is the scale design of a long signal (a few arrays of its padded length)
    assert peak < 128 * 2**20, peak


def test_a_raised_limit_admits_a_larger_file(model_file, tmp_path):
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(2,)).eval()
    big = _crafted(
        model_file,
        tmp_path / "big.pt",
        state_dict=net.state_dict(),
        **{"imaging.size": [1536, 1536], "architecture_kwargs.widths": [2]},
    )
    with pytest.raises(ValueError, match="max_image_pixels=1048576"):
        load_model(big)
    with limits.raised(max_image_pixels=1536 * 1536) as now:
        assert now.max_image_pixels == 1536 * 1536
        loaded = load_model(big)
    assert loaded.metadata.image_shape == (1536, 1536)
    assert limits.current() == limits.Limits()  # restored


def test_limits_are_per_thread_and_validated():
    seen = []
    with limits.raised(max_parameters=7):
        worker = threading.Thread(target=lambda: seen.append(limits.current()))
        worker.start()
        worker.join()
        assert limits.current().max_parameters == 7
    assert seen == [limits.Limits()]
    with pytest.raises(ValueError, match="unknown limit.*max_pixels"), limits.raised(max_pixels=1):
        pass
    with (
        pytest.raises(ValueError, match="max_image_pixels=0 must be a positive int"),
        limits.raised(max_image_pixels=0),
    ):
        pass


def test_objects_built_in_code_are_not_limited():
    """The limits are about files: a configuration a user builds is theirs."""
    meta = ModelMetadata(
        transform=SSQConfig(nv=8),
        imaging=ImagingConfig(size=(4096, 4096)),
        class_names=["a", "b"],
        n_times=100_000_000,
    )
    assert meta.image_shape == (4096, 4096)


def test_an_exported_program_is_checked_from_its_recorded_shapes(tmp_path):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 2),
    ).eval()
    meta = ModelMetadata(
        transform=SSQConfig(nv=8),
        imaging=ImagingConfig(size=(64, 64)),
        class_names=["a", "b"],
        n_times=256,
    )
    path = save_model(net, tmp_path / "m.pt2", metadata=meta)
    assert load_model(path).format == "export"  # 64 x 64 x 64 values: within the limits
    with (
        limits.raised(max_activations=64 * 64 * 64 - 1),
        pytest.raises(ValueError, match=r"m\.pt2.*largest activation.*max_activations"),
    ):
        load_model(path)
    n_params = sum(p.numel() for p in net.parameters())
    with (
        limits.raised(max_parameters=n_params - 1),
        pytest.raises(ValueError, match=rf"{n_params} parameters.*max_parameters"),
    ):
        load_model(path)


# ------------------------------------------------------------------------------- PNG files
def _png(path, height, width):
    from PIL import Image

    Image.fromarray(np.full((height, width, 3), 200, dtype=np.uint8)).save(path)
    return path


def test_a_huge_png_is_refused_from_its_header(tmp_path):
    from saliency2signal.drawing import ScalogramGeometry, mask_from_png
    from saliency2signal.imaging import heatmap_from_png

    png = _png(tmp_path / "huge.png", 3000, 4000)  # 12 Mpx, a few kB on disk
    assert png.stat().st_size < 2**20
    geometry = ScalogramGeometry(
        n_freqs=300, n_times=400, upscale=(10, 10), width=4000, height=3000
    )
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"huge\.png.*4000 x 3000.*max_png_pixels"):
            mask_from_png(png, geometry=geometry)
        with pytest.raises(ValueError, match=r"huge\.png.*max_png_pixels"):
            heatmap_from_png(png)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # decoded, it would be 12 Mpx x 24 bytes
    with limits.raised(max_png_pixels=12_000_000):
        assert heatmap_from_png(png).shape == (3000, 4000)


def test_a_sidecar_claiming_a_huge_grid_is_refused(tmp_path):
    from saliency2signal.drawing import ScalogramGeometry, mask_from_png

    png = _png(tmp_path / "drawn.png", 20, 20)
    sidecar = ScalogramGeometry(
        n_freqs=20000, n_times=20000, upscale=(1, 1), width=20000, height=20000
    ).to_json()  # 300 bytes
    (tmp_path / "drawn.json").write_text(sidecar)
    with pytest.raises(ValueError, match=r"drawn\.json.*20000 x 20000.*max_grid_cells"):
        mask_from_png(png)
    (tmp_path / "drawn.json").write_text(" " * (2**20 + 1))
    with pytest.raises(ValueError, match=r"drawn\.json.*more than max_metadata_bytes="):
        mask_from_png(png)


def test_the_command_line_raises_a_limit_with_an_option(model_file, tmp_path, capsys):
    from saliency2signal.cli import main

    torch.manual_seed(0)
    big = _crafted(
        model_file,
        tmp_path / "big.pt",
        state_dict=ScalogramCNN(widths=(2,)).eval().state_dict(),
        **{"imaging.size": [1536, 1536], "architecture_kwargs.widths": [2]},
    )
    assert main(["info", str(big)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_image_pixels=1048576" in err
    assert main(["--limit", "max_image_pixels=2_359_296", "info", str(big)]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["imaging"]["size"] == [1536, 1536]
    assert limits.current() == limits.Limits()
    for bad, match in (
        ("max_pixels=5", "unknown limit"),
        ("max_image_pixels", "NAME=INTEGER"),
        ("max_image_pixels=lots", "NAME=INTEGER"),
    ):
        assert main(["--limit", bad, "info", str(big)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, err


def _npz_bomb(path, n_values):
    """An .npz whose array of zeros deflates about 1000 times."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (8, n_values // 8)}
    )
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("x.npy", "w") as f,
    ):
        f.write(header.getvalue())
        for _ in range(n_values // 2**17):
            f.write(bytes(8 * 2**17))
    return path


def test_data_files_that_inflate_or_lie_are_refused(tmp_path, capsys):
    from saliency2signal.cli import main

    model = pathlib.Path(__file__).resolve().parents[1] / "models" / "coffee.pt"
    bomb = _npz_bomb(tmp_path / "bomb.npz", 2**22)  # 32 MiB of zeros, about 32 kB
    assert bomb.stat().st_size < 2**17
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**5, 10**5)}
    )
    liar = tmp_path / "liar.npy"  # declares 80 GB, holds 8 kB
    liar.write_bytes(header.getvalue() + bytes(8000))
    tracemalloc.start()
    try:
        for data, match in (
            (bomb, r"array 'x' would inflate \d+ times.*max_inflation=100"),
            (liar, r"declares 80000000000 bytes but the file holds 8128"),
        ):
            assert main(["explain", str(model), str(data), "--out", str(tmp_path / "out")]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and re.search(match, err), err
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
    assert not (tmp_path / "out").exists()
