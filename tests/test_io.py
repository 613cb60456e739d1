"""Tests for saliency2signal.io: self-describing model files and compatibility checks."""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, limits
from saliency2signal.imaging import ImagingConfig
from saliency2signal.io import (
    FORMAT_DESCRIPTIONS,
    FORMATS,
    METADATA_FILENAME,
    READ_FORMATS,
    LoadedModel,
    ModelMetadata,
    check_compatible,
    fit_length,
    load_model,
    save_model,
)
from saliency2signal.models import ScalogramCNN

#: A model file as release 0.1.0 wrote it by default (TorchScript), made by
#: tests/data/make_legacy_torchscript.py.
LEGACY = pathlib.Path(__file__).resolve().parent / "data" / "legacy_torchscript.pt"
TRANSFORM = SSQConfig(nv=8, wavelet="morlet", mu=6.0, maprange="peak")
IMAGING = ImagingConfig(scale="log1p", gain=2.0, size=(32, 48), flip_rows=True, channels=2)


def make_metadata(**changes):
    kw = dict(
        transform=TRANSFORM,
        imaging=IMAGING,
        class_names=["noise", "chirp", "burst"],
        n_times=286,
        axis_name="wavenumber",
        axis_units="cm^-1",
    )
    kw.update(changes)
    return ModelMetadata(**kw)


@pytest.fixture
def net():
    torch.manual_seed(0)
    model = ScalogramCNN(in_channels=2, n_classes=3, widths=(4, 8, 8))
    # non-trivial batch-norm statistics, so that eval vs train mode matters
    with torch.no_grad():
        model(torch.randn(8, 2, 32, 48) * 3 + 1)
    return model.eval()


@pytest.fixture
def image(rng):
    return torch.as_tensor(rng.standard_normal((3, 2, 32, 48)), dtype=torch.float32)


class WritesFile:
    """Unpickling this runs ``exec``, which writes a file: what an attacker would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (exec, (f"open({self.target!r}, 'w').write('pwned')",))


class Custom:
    """A harmless class that is still not allowed by ``weights_only=True``."""


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_identical_outputs_and_configs(tmp_path, net, image, fmt):
    meta = make_metadata(extra={"note": "unit test"})
    path = save_model(net, tmp_path / "model.bin", metadata=meta, format=fmt)
    loaded = load_model(path)
    assert isinstance(loaded, LoadedModel)
    assert loaded.format == fmt
    assert not loaded.model.training
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(image), net(image), rtol=0, atol=0)
    m = loaded.metadata
    assert m == meta.replace(
        architecture="ScalogramCNN", architecture_kwargs=net.architecture_kwargs
    )
    assert SSQConfig.from_json(m.transform.to_json()) == TRANSFORM
    assert ImagingConfig.from_json(m.imaging.to_json()) == IMAGING
    assert m.class_names == ("noise", "chirp", "burst")
    assert (m.axis_name, m.axis_units, m.length_policy) == ("wavenumber", "cm^-1", "exact")
    assert m.package_version == "0.1.0"
    assert m.input_shape == (2, 32, 48)
    assert path.stat().st_size < 2 * 1024**2


@pytest.mark.parametrize("fmt", FORMATS)
def test_rebuild_gives_hookable_module_with_same_outputs(tmp_path, net, image, fmt):
    path = save_model(net, tmp_path / "model.bin", metadata=make_metadata(), format=fmt)
    model, meta = load_model(path, rebuild=True)
    assert isinstance(model, ScalogramCNN)
    assert meta.architecture == "ScalogramCNN"
    assert model.get_submodule(model.cam_layer) is model.features[2]
    with torch.no_grad():
        torch.testing.assert_close(model(image), net(image), rtol=0, atol=0)


def test_exported_model_tolerates_mode_switches_and_any_batch(tmp_path, net, image):
    path = save_model(net, tmp_path / "model.pt2", metadata=make_metadata(), format="export")
    model, _ = load_model(path)
    model.train()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(image[:1]), net(image[:1]), rtol=0, atol=0)


def test_save_keeps_model_mode_and_saves_eval_mode(tmp_path, net, image):
    net.train()
    path = save_model(net, tmp_path / "m.pt", metadata=make_metadata())
    assert net.training
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(load_model(path).model(image), net(image))


def test_default_format_is_the_state_dict_for_registered_architectures(tmp_path, net, image):
    loaded = load_model(save_model(net, tmp_path / "m.pt", metadata=make_metadata()))
    assert loaded.format == "state_dict" and isinstance(loaded.model, ScalogramCNN)
    other = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    ).eval()
    loaded = load_model(save_model(other, tmp_path / "o.pt2", metadata=make_metadata()))
    assert loaded.format == "export"
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(image), other(image), rtol=0, atol=0)
    assert set(FORMATS) < set(READ_FORMATS) == set(FORMAT_DESCRIPTIONS)


def test_torchscript_is_read_only(tmp_path, net):
    with pytest.raises(ValueError, match="format='torchscript' is read-only"):
        save_model(net, tmp_path / "m.pt", metadata=make_metadata(), format="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_legacy_torchscript_file_loads_quietly_and_resaves(tmp_path):
    filters = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not one warning, of any kind
        loaded = load_model(LEGACY)
    assert warnings.filters == filters  # the deprecation was silenced at the call only
    assert loaded.format == "torchscript"
    assert isinstance(loaded.model, torch.jit.ScriptModule)
    meta = loaded.metadata
    assert meta.architecture == "ScalogramCNN" and meta.class_names == ("absent", "peak@1000")
    # the metadata block is plain JSON in the archive
    with zipfile.ZipFile(LEGACY) as zf:
        name = next(n for n in zf.namelist() if n.endswith(f"extra/{METADATA_FILENAME}"))
        block = json.loads(zf.read(name))
    assert block["format"] == "saliency2signal.model" and block["n_times"] == meta.n_times
    # re-saving moves it to the state-dict format, same function
    resaved = load_model(save_model(loaded.model, tmp_path / "m.pt", metadata=meta))
    assert resaved.format == "state_dict" and resaved.metadata == meta
    image = torch.randn(3, *meta.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(resaved.model(image), loaded.model(image), rtol=0, atol=0)
    with pytest.raises(ValueError, match="TorchScript is read-only"):
        save_model(loaded.model, tmp_path / "m.pt2", metadata=meta, format="export")
    assert loaded.model.training is False


def test_state_dict_file_loads_with_weights_only(tmp_path, net):
    path = save_model(net, tmp_path / "m.pt", metadata=make_metadata(), format="state_dict")
    obj = torch.load(path, weights_only=True)
    assert obj["format"] == "saliency2signal.state_dict"
    assert ModelMetadata.from_json(obj["metadata"]).n_times == 286
    assert set(obj["state_dict"]) == set(net.state_dict())


# --------------------------------------------------------------------------- writing
def test_never_overwrites_existing_file(tmp_path, net):
    path = tmp_path / "data.npy"
    path.write_bytes(b"precious input")
    with pytest.raises(ValueError, match="already exists"):
        save_model(net, path, metadata=make_metadata())
    assert path.read_bytes() == b"precious input"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy"]


def test_overwrite_replaces_atomically(tmp_path, net):
    path = save_model(net, tmp_path / "m.pt", metadata=make_metadata())
    save_model(net, path, metadata=make_metadata(class_names=["x", "y", "z"]), overwrite=True)
    assert load_model(path).metadata.class_names == ("x", "y", "z")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_failed_save_leaves_nothing(tmp_path, net):
    with pytest.raises(ValueError, match=r"n_classes=2 .* outputs \(1, 3\)"):
        save_model(net, tmp_path / "m.pt", metadata=make_metadata(class_names=["a", "b"]))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"imaging": ImagingConfig(size=(32, 48), channels=3)}, "fails on input"),
        ({"class_names": ["a", "b"]}, "n_classes=2"),
    ],
)
def test_save_checks_network_against_metadata(tmp_path, net, change, match):
    with pytest.raises(ValueError, match=match):
        save_model(net, tmp_path / "m.pt", metadata=make_metadata(**change))


def test_save_rejects_bad_format_and_missing_folder(tmp_path, net):
    with pytest.raises(ValueError, match="format='onnx'"):
        save_model(net, tmp_path / "m.onnx", metadata=make_metadata(), format="onnx")
    with pytest.raises(ValueError, match="does not exist"):
        save_model(net, tmp_path / "missing" / "m.pt", metadata=make_metadata())


def test_state_dict_needs_registered_architecture(tmp_path):
    other = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    )
    with pytest.raises(ValueError, match="format='export'"):
        save_model(other, tmp_path / "m.pt", metadata=make_metadata(), format="state_dict")
    path = save_model(other, tmp_path / "m.pt2", metadata=make_metadata())
    loaded = load_model(path)
    assert loaded.metadata.architecture is None and loaded.format == "export"
    with pytest.raises(ValueError, match="no architecture"):
        load_model(path, rebuild=True)


# --------------------------------------------------------------------------- security
def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    torch.save(WritesFile(target), path)
    assert not target.exists()
    with pytest.raises(ValueError, match=r"refusing to unpickle .*exec.*trust=True"):
        load_model(path)
    assert not target.exists()


def test_malicious_legacy_pickle_is_refused(tmp_path):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(WritesFile(target), protocol=2))
    with pytest.raises(ValueError, match=r"\bevil\.pkl\b"):
        load_model(path)
    assert not target.exists()


def _tamper(src, dst, select, payload):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = payload if select(info.filename) else zin.read(info.filename)
            zout.writestr(info, data)


def test_tampered_torchscript_archive_does_not_run_python(tmp_path):
    target = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pt"
    _tamper(
        LEGACY,
        evil,
        lambda name: name.endswith("/data.pkl"),
        pickle.dumps(WritesFile(target), protocol=2),
    )
    with pytest.raises(ValueError, match="evil.pt"):
        load_model(evil)
    assert not target.exists()


def _export_with_malicious_sample_inputs(tmp_path, net, target):
    good = save_model(net, tmp_path / "m.pt2", metadata=make_metadata(), format="export")
    buf = io.BytesIO()
    torch.save(WritesFile(target), buf)
    evil = tmp_path / "evil.pt2"
    _tamper(
        good, evil, lambda name: "sample_inputs/" in name and name.endswith(".pt"), buf.getvalue()
    )
    return evil


def test_tampered_export_sample_inputs_are_refused(tmp_path, net):
    target = tmp_path / "pwned.txt"
    evil = _export_with_malicious_sample_inputs(tmp_path, net, target)
    with pytest.raises(ValueError, match=r"refusing to unpickle .*sample_inputs"):
        load_model(evil)
    assert not target.exists()


def test_tampered_export_pickled_weight_is_refused(tmp_path, net):
    good = save_model(net, tmp_path / "m.pt2", metadata=make_metadata(), format="export")
    with zipfile.ZipFile(good) as zf:
        name = next(n for n in zf.namelist() if n.endswith("model_weights_config.json"))
        config = json.loads(zf.read(name))
    first = next(iter(config["config"]))
    config["config"][first]["use_pickle"] = True
    evil = tmp_path / "evil.pt2"
    _tamper(good, evil, lambda n: n == name, json.dumps(config).encode())
    with pytest.raises(ValueError, match=f"pickled tensor '{first}'"):
        load_model(evil)


def test_pickled_module_container_needs_trust(tmp_path, net, image):
    meta = make_metadata(architecture="ScalogramCNN", architecture_kwargs=net.architecture_kwargs)
    path = tmp_path / "pickled.pt"
    torch.save(
        {
            "format": "saliency2signal.state_dict",
            "format_version": 1,
            "metadata": meta.to_json(),
            "module": net,
        },
        path,
    )
    with pytest.raises(ValueError, match="ScalogramCNN.*pass trust=True only"):
        load_model(path)
    loaded = load_model(path, trust=True)
    assert loaded.format == "pickle"
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(image), net(image), rtol=0, atol=0)


def test_extra_python_object_needs_trust(tmp_path, net):
    path = save_model(net, tmp_path / "m.pt", metadata=make_metadata(), format="state_dict")
    obj = torch.load(path, weights_only=True)
    obj["note"] = Custom()
    torch.save(obj, tmp_path / "custom.pt")
    with pytest.raises(ValueError, match="Custom"):
        load_model(tmp_path / "custom.pt")
    assert load_model(tmp_path / "custom.pt", trust=True).format == "state_dict"


# --------------------------------------------------------------------------- unreadable
def test_missing_corrupt_and_foreign_files(tmp_path, net):
    with pytest.raises(ValueError, match="nope.pt.*no such file"):
        load_model(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ValueError, match="junk.pt"):
        load_model(junk)
    good = save_model(net, tmp_path / "m.pt", metadata=make_metadata())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.pt"):
        load_model(truncated)
    plain = tmp_path / "plain.pt"
    torch.save({"w": torch.ones(2)}, plain)
    with pytest.raises(ValueError, match="plain.pt.*not a saliency2signal model"):
        load_model(plain)
    bare = tmp_path / "bare.pt"  # a TorchScript archive without the metadata block
    with zipfile.ZipFile(LEGACY) as zin, zipfile.ZipFile(bare, "w") as zout:
        for info in zin.infolist():
            if not info.filename.endswith(f"extra/{METADATA_FILENAME}"):
                zout.writestr(info, zin.read(info.filename))
    with pytest.raises(ValueError, match=f"bare.pt.*no {METADATA_FILENAME}"):
        load_model(bare)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="other.zip.*not a TorchScript"):
        load_model(other_zip)


def test_newer_metadata_version_is_refused():
    block = json.loads(make_metadata().to_json())
    block["format_version"] = 99
    with pytest.raises(ValueError, match="format_version=99"):
        ModelMetadata.from_json(json.dumps(block))
    block["format_version"] = 1
    block["colour"] = "red"
    with pytest.raises(ValueError, match="colour"):
        ModelMetadata.from_json(json.dumps(block))


# --------------------------------------------------------------------------- metadata checks
@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"class_names": ["a", "a"]}, ValueError, "distinct"),
        ({"class_names": "ab"}, TypeError, "class_names"),
        ({"n_times": 8}, ValueError, "n_times=8"),
        ({"n_times": 286.0}, TypeError, "n_times=286.0"),
        ({"length_policy": "stretch"}, ValueError, "stretch"),
        ({"transform": {}}, TypeError, "SSQConfig"),
        ({"extra": {"a": object()}}, ValueError, "JSON"),
    ],
)
def test_metadata_validation(change, error, match):
    with pytest.raises(error, match=match):
        make_metadata(**change)


def test_metadata_derived_shapes_without_resize():
    meta = make_metadata(imaging=ImagingConfig(colormap="gray"))
    assert meta.input_shape == (3, TRANSFORM.n_freqs(286), 286)
    assert meta.n_classes == 3


# --------------------------------------------------------------------------- compatibility
def test_check_compatible_accepts_matching_data():
    meta = make_metadata()
    check_compatible(meta, np.zeros((4, 286)), target=[0, 2], class_names=meta.class_names)
    check_compatible(meta, torch.zeros(5, 2, 32, 48), images=True)


@pytest.mark.parametrize(
    ("policy", "n", "match"),
    [
        ("exact", 300, r"model expects n_times=286 \(crop/pad: exact\) but data has 300"),
        ("exact", 200, r"n_times=286 \(crop/pad: exact\) but data has 200"),
        ("crop", 200, r"n_times=286 \(crop/pad: crop\) but data has 200"),
        ("pad", 300, r"n_times=286 \(crop/pad: pad\) but data has 300"),
    ],
)
def test_check_compatible_length_mismatch(policy, n, match):
    with pytest.raises(ValueError, match=match):
        check_compatible(make_metadata(length_policy=policy), np.zeros((2, n)))


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (torch.zeros(1, 3, 32, 48), {"images": True}, "2 image channel.*data has 3"),
        (torch.zeros(1, 2, 64, 64), {"images": True}, r"\(32, 48\) but data has \(64, 64\)"),
        (torch.zeros(2, 48), {"images": True}, "images have shape"),
        (np.zeros((2, 286)), {"target": 3}, r"n_classes=3 .* class 3"),
        (np.zeros((2, 286)), {"class_names": ["a", "b"]}, r"model classes .*'burst'.*'b'"),
    ],
)
def test_check_compatible_mismatch(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_compatible(make_metadata(), x, **kwargs)


@pytest.mark.parametrize(("policy", "n"), [("crop", 300), ("pad", 250), ("exact", 286)])
def test_fit_length(rng, policy, n):
    x = torch.as_tensor(rng.standard_normal((2, n)))
    out = fit_length(x, make_metadata(length_policy=policy))
    assert out.shape == (2, 286)
    m = min(n, 286)
    torch.testing.assert_close(out[:, :m], x[:, :m])
    assert bool((out[:, m:] == 0).all())


# --------------------------------------------------------------------------- crafted archives
def _rewrite(src, dst, members):
    """Write ``members`` (name, bytes, compression) to a new zip, duplicates allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name: we want one
        with zipfile.ZipFile(dst, "w") as zout:
            for name, data, compression in members:
                zout.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return dst


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i), i.compress_type) for i in zf.infolist()]


def test_duplicate_member_with_malicious_first_copy_never_runs(tmp_path, net):
    """The malicious copy first, the genuine one last: refused before any reader runs."""
    target = tmp_path / "pwned.txt"
    good = save_model(net, tmp_path / "m.pt2", metadata=make_metadata(), format="export")
    buf = io.BytesIO()
    torch.save(WritesFile(target), buf)
    members = []
    for name, data, comp in _members(good):
        if "sample_inputs/" in name and name.endswith(".pt"):
            members.append((name, buf.getvalue(), comp))
        members.append((name, data, comp))
    evil = _rewrite(good, tmp_path / "evil.pt2", members)
    with pytest.raises(ValueError, match=r"evil\.pt2.*twice"):
        load_model(evil)
    with pytest.raises(ValueError, match="twice"):
        load_model(evil, trust=True)  # a corrupt archive is refused with trust too
    assert not target.exists()


def test_export_load_is_weights_only_even_past_the_archive_checks(tmp_path, net, monkeypatch):
    """Second line of defence: torch's own loads inside torch.export.load stay weights-only."""
    from saliency2signal.io import _load as s2s_io_load

    target = tmp_path / "pwned.txt"
    evil = _export_with_malicious_sample_inputs(tmp_path, net, target)
    monkeypatch.setattr(s2s_io_load, "check_export_archive", lambda path: None)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # even against this
    with pytest.raises(ValueError, match="evil.pt2"):
        load_model(evil)
    assert not target.exists()
    assert os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"  # restored
    assert "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/path.txt", "a\\b.txt"])
def test_suspicious_member_names_are_refused(tmp_path, net, name):
    good = save_model(net, tmp_path / "m.pt", metadata=make_metadata())
    evil = _rewrite(
        good, tmp_path / "evil.pt", [*_members(good), (name, b"x", zipfile.ZIP_STORED)]
    )
    with pytest.raises(ValueError, match="suspicious name"):
        load_model(evil)


MAX_METADATA_BYTES = limits.Limits().max_metadata_bytes


def test_inflating_members_are_refused_before_decompression(tmp_path, net):
    import tracemalloc

    good = save_model(net, tmp_path / "m.pt2", metadata=make_metadata(), format="export")
    bomb = b" " * (32 * 2**20)  # 32 MiB of JSON whitespace deflates to about 32 kB
    members = [
        (
            n,
            bomb if n.endswith(METADATA_FILENAME) else d,
            zipfile.ZIP_DEFLATED if n.endswith(METADATA_FILENAME) else c,
        )
        for n, d, c in _members(good)
    ]
    evil = _rewrite(good, tmp_path / "bomb.pt2", members)
    del bomb, members
    assert evil.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="would inflate"):
            load_model(evil)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # nothing was decompressed
    # a stored (not compressed) block above the metadata limit is refused too
    big = b'{"pad": "' + b"x" * MAX_METADATA_BYTES + b'"}'
    members = [(n, big if n.endswith(METADATA_FILENAME) else d, c) for n, d, c in _members(good)]
    with pytest.raises(ValueError, match="max_metadata_bytes=1048576"):
        load_model(_rewrite(good, tmp_path / "big.pt2", members))


def test_oversized_metadata_in_a_state_dict_file_is_refused(tmp_path, net):
    path = save_model(net, tmp_path / "m.pt", metadata=make_metadata(), format="state_dict")
    obj = torch.load(path, weights_only=True)
    obj["metadata"] = obj["metadata"] + " " * MAX_METADATA_BYTES
    torch.save(obj, tmp_path / "big.pt")
    with pytest.raises(ValueError, match="max_metadata_bytes=1048576"):
        load_model(tmp_path / "big.pt")


def test_a_failed_write_raises_oserror_and_leaves_nothing(tmp_path, net, monkeypatch):
    """A full disk is an OSError from Python's write (torch's C++ writer would abort)."""
    import errno

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    for fmt, name in (("state_dict", "m.pt"), ("export", "m.pt2")):
        with pytest.raises(OSError, match="No space left"):
            save_model(net, tmp_path / name, metadata=make_metadata(), format=fmt)
    assert list(tmp_path.iterdir()) == []


def test_module_pickled_under_the_old_module_paths_still_loads():
    """A trust=True file pickled when the models lived in ``saliency2signal/models.py``."""
    import importlib.util

    data = pathlib.Path(__file__).resolve().parent / "data"
    spec = importlib.util.spec_from_file_location(
        "make_legacy_pickle", data / "make_legacy_pickle.py"
    )
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    with pytest.raises(ValueError, match="pass trust=True only"):
        load_model(data / "legacy_pickle.pt")
    loaded = load_model(data / "legacy_pickle.pt", trust=True)
    assert loaded.format == "pickle"
    assert type(loaded.model).__name__ == "ScalogramCNN"
    with torch.no_grad():
        logits = loaded.model(maker.probe_images()).numpy()
    np.testing.assert_array_equal(logits, np.load(data / "legacy_pickle_logits.npy"))
