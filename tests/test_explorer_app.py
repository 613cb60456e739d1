"""The drawing web app (issue 21) without a browser: the view, the server, the CLI.

The view is driven on a bare ``bokeh.document.Document`` the way the drawing tools
drive it (they send the whole source, the new row's extra columns set to the tool's
``empty_value``); its numbers must be the package's: the 'components' source equals
``inverse.components`` for the drawn label image and the 'probabilities' source equals
``explain(..., regions=...)``'s ``p_after``. The server binds 127.0.0.1 only and frees
its port when stopped; ``saliency2signal draw`` prints one line for bad input and stops
with status 0 on Ctrl-C. Browser tests live elsewhere.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from saliency2signal import explain
from saliency2signal.datasets import load_planted
from saliency2signal.drawing import load_mask
from saliency2signal.explorer import RegionExplorer
from saliency2signal.inverse import components
from saliency2signal.io import load_model

bokeh_document = pytest.importorskip("bokeh.document")
from saliency2signal.explorer import serve  # noqa: E402 - needs bokeh
from saliency2signal.explorer._app import build_view  # noqa: E402
from saliency2signal.explorer._widgets import log_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def planted():
    model, meta = load_model(ROOT / "models" / "planted.pt")
    data = load_planted("test")
    return model, meta, data


@pytest.fixture(scope="module")
def explorers(planted):
    """``explorers(i)``: the explorer of test signal ``i`` (built once each)."""
    model, meta, data = planted
    cache = {}

    def get(i):
        if i not in cache:
            cache[i] = RegionExplorer(data.x[i], model=model, metadata=meta, axis=data.axis)
        return cache[i]

    return get


@pytest.fixture
def view(planted, explorers, tmp_path):
    """A view of the first planted spectrum with a peak, on a bare document."""
    data = planted[2]
    data_path = tmp_path / "spectra.npz"
    np.savez(data_path, x=data.x[:8], axis=data.axis)
    i = int(np.flatnonzero(data.y[:8] == 1)[0])
    doc = bokeh_document.Document()
    return build_view(doc, data.x[:8], explorers, index=i, data_path=data_path)


def _model(view, name):
    return view.doc.get_model_by_name(name)


def _tool_adds(view, source: str, **geometry):
    """Send ``source``'s data with one row more, as a drawing tool does."""
    src = _model(view, source)
    empty = view.p_plane.toolbar.tools[-1].empty_value
    new = {k: list(v) for k, v in src.data.items()}
    for k in new:
        new[k].append(geometry.get(k, empty))
    src.data = new


def _peak_box(view, planted):
    data = planted[2]
    lo, hi = data.windows[view.index]
    f = view.explorer.grid.freqs
    _tool_adds(view, "boxes", left=lo, right=hi, bottom=f[1], top=f[-1])
    return lo, hi


# ----------------------------------------------------------------------- the view
def test_a_drawn_box_gives_the_packages_component_and_probabilities(view, planted):
    model, meta, data = planted
    lo, hi = _peak_box(view, planted)
    ex = view.explorer
    assert view.shapes == [
        {"region": 1, "kind": "box", "op": "add", "x": [lo, hi], "y": list(ex.grid.freqs[[1, -1]])}
    ]
    boxes = _model(view, "boxes").data
    assert boxes["region"] == [1] and boxes["op"] == ["add"] and boxes["color"] == ["#E69F00"]
    labels = ex.labels(view.shapes)
    comp = _model(view, "components").data
    assert comp["region"] == [1]
    want = components(ex.ssq, masks=torch.from_numpy(labels == 1)[None, None])[0, 0]
    np.testing.assert_allclose(comp["ys"][0], want.numpy(), atol=1e-6)
    np.testing.assert_allclose(comp["xs"][0], data.axis)
    np.testing.assert_array_equal(view.state.labels, labels)
    e = explain(
        model,
        data.x[view.index],
        metadata=meta,
        regions=labels,
        axis=data.axis,
        method="saliency",
        n_null=0,
        peaks=False,
    )
    probs = _model(view, "probabilities").data
    assert probs["label"] == ["absent", "peak@1000 (explained)", "region 1"]
    np.testing.assert_allclose(probs["after"][2], e.regions[0][0].p_after, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs["before"][:2], e.probabilities[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs["after"][:2], view.state.p_deleted)
    assert probs["after"][2] < probs["before"][2] - 0.2  # the planted peak mattered
    assert " ms" in _model(view, "status").text


def test_polygon_freehand_cut_and_delete_follow_the_shapes(view):
    ex = view.explorer
    f = ex.grid.freqs
    _tool_adds(view, "boxes", left=500.0, right=900.0, bottom=f[20], top=f[-10])
    view.w_region.active = 1  # region 2
    _tool_adds(view, "polygons", xs=[1200.0, 1400.0, 1300.0], ys=[f[20], f[20], f[-10]])
    view.w_op.active = 1  # cut from region 1
    view.w_region.active = 0
    _tool_adds(view, "freehand", xs=[600.0, 700.0, 700.0, 600.0], ys=[f[10], f[10], f[-1], f[-1]])
    assert [(s["kind"], s["region"], s["op"]) for s in view.shapes] == [
        ("box", 1, "add"),
        ("polygon", 2, "add"),
        ("freehand", 1, "cut"),
    ]
    labels = ex.labels(view.shapes)
    assert not labels[:, (ex.grid.x > 610) & (ex.grid.x < 690)].any()  # cut out
    assert _model(view, "components").data["region"] == [1, 2]
    np.testing.assert_array_equal(view.state.labels, labels)
    # the box deleted in the browser (Backspace): region 1 goes
    boxes = {k: [] for k in _model(view, "boxes").data}
    _model(view, "boxes").data = boxes
    assert _model(view, "components").data["region"] == [2]
    view.clear()
    assert view.shapes == [] and view.state is None
    assert _model(view, "components").data["region"] == []


def test_save_refuses_the_data_and_existing_files_and_load_round_trips(view, planted, tmp_path):
    _peak_box(view, planted)
    status = _model(view, "status")
    path = _model(view, "mask_path")
    assert path.value == str(tmp_path / "spectra_regions.npz")
    path.value = str(tmp_path / "spectra.npz")  # the data file
    view.save()
    assert "data file" in status.text
    path.value = str(tmp_path / "drawn.npz")
    view.save()
    assert "saved 1 region" in status.text
    back = load_mask(tmp_path / "drawn.npz")
    np.testing.assert_array_equal(back.labels, view.state.labels)
    assert back.signal == view.index and list(back.shapes) == view.shapes
    assert back.config == view.explorer.transform_config
    before = (tmp_path / "drawn.json").read_text()
    view.save()
    assert "exists" in status.text and (tmp_path / "drawn.json").read_text() == before
    shapes, labels = list(view.shapes), view.state.labels.copy()
    view.clear()
    view.load()
    assert view.shapes == shapes and "loaded 1 region" in status.text
    np.testing.assert_array_equal(view.state.labels, labels)
    assert len(_model(view, "boxes").data["left"]) == 1


def test_snap_adds_the_explanations_regions_as_cells(planted, explorers):
    data = planted[2]
    ex = explorers(0)
    labels = np.zeros((2, *ex.magnitude.shape), np.uint8)
    labels[0, 30:60, 100:140] = 1
    labels[0, 70:90, 200:260] = 2
    doc = bokeh_document.Document()
    view = build_view(doc, data.x[:2], explorers, explanation=labels)
    view.snap()
    assert [s["kind"] for s in view.shapes] == ["cells", "cells"]
    np.testing.assert_array_equal(view.state.labels, labels[0])
    assert _model(view, "components").data["region"] == [1, 2]


def test_the_signal_selector_rebuilds_the_explorer(planted, explorers):
    data = planted[2]
    doc = bokeh_document.Document()
    view = build_view(doc, data.x[:3], explorers)
    _model(view, "signal_index").value = 2
    assert view.index == 2 and view.explorer is explorers(2)
    np.testing.assert_allclose(_model(view, "signal_data").data["y"], data.x[2], atol=1e-6)


def test_a_descending_axis_stays_descending_and_the_plane_is_flipped_to_match(planted):
    data = planted[2]
    axis = data.axis[::-1].copy()  # e.g. wavenumbers from high to low
    ex = RegionExplorer(data.x[0], axis=axis, transform_config=planted[1].transform)
    doc = bokeh_document.Document()
    view = build_view(doc, data.x[:1], lambda i: ex)
    p = _model(view, "scalogram")
    assert p.x_range.start > p.x_range.end  # drawn from high to low, as given
    plane = _model(view, "plane").data
    assert plane["x"] == [min(ex.grid.x_edges)] and plane["dw"][0] > 0
    image = plane["image"][0]
    assert image.shape[1] == ex.n_times
    # its first column is the smallest x: the signal's last sample
    rows, f_lo, f_hi = log_rows(ex.grid.f_edges, 1)
    db = 20 * np.log10(np.maximum(ex.magnitude / ex.magnitude.max(), 1e-12))
    np.testing.assert_array_equal(image[:, 0], np.clip(db, -60, 0)[rows, -1].astype(np.float32))
    assert plane["y"] == [f_lo] and plane["dh"] == [f_hi - f_lo]


# ----------------------------------------------------------------------- the server
def _listening_addresses(port: int) -> set[str]:
    psutil = pytest.importorskip("psutil")
    return {
        c.laddr.ip
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


def _port_is_free(port: int) -> bool:
    """Nobody listens on ``port`` (a closed connection's TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_serve_answers_on_loopback_only_and_stops(planted):
    model, meta, data = planted
    said = []
    app = serve(data.x[:4], model=model, metadata=meta, axis=data.axis, show_url=said.append)
    try:
        assert said == [app.url] and app.url == f"http://127.0.0.1:{app.port}/"
        with urllib.request.urlopen(app.url, timeout=60) as r:
            page = r.read().decode()
            assert r.status == 200
        assert "bokeh" in page.lower()
        assert _listening_addresses(app.port) == {"127.0.0.1"}
        (session,) = app.snapshot().values()  # the page made a session
        assert session["signal"] == 0 and session["shapes"] == [] and session["state"] is None
    finally:
        app.stop()
    assert not app.running and _port_is_free(app.port)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(app.url, timeout=5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"signal": 9}, ValueError, "signal=9"),
        ({"signal": 1.0}, TypeError, "signal=1.0"),
        ({"port": -1}, ValueError, "port=-1"),
        ({"explanation": np.zeros((1, 4))}, ValueError, "explanation labels"),
    ],
)
def test_serve_refuses_bad_arguments_before_serving(kwargs, error, match):
    x = np.sin(np.arange(256) / 5.0)
    with pytest.raises(error, match=match):
        serve(x[None].repeat(2, 0), show_url=None, **kwargs)


def test_importing_the_package_imports_no_bokeh():
    code = (
        "import sys, saliency2signal, saliency2signal.explorer, saliency2signal.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('bokeh', 'tornado')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ----------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.npz"], "missing.npz: no such file"),
        (["DATA", "--signal", "60"], "--signal 60"),
        (["DATA", "--explanation", "nowhere"], "nowhere: no such folder"),
        (["DATA", "--model", "nothing.pt"], "nothing.pt: no such file"),
    ],
)
def test_draw_bad_input_is_one_line(console_script, tmp_path, args, message):
    data = ROOT / "data" / "planted.npz"
    args = [str(data) if a == "DATA" else a for a in args]
    done = subprocess.run(
        [console_script, "draw", *args, "--key", "X_test"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert message in done.stderr and done.stdout == ""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_draw_serves_until_interrupted(console_script, tmp_path):
    data = ROOT / "data" / "planted.npz"
    cmd = [console_script, "draw", str(data), "--key", "X_test", "--model"]
    cmd += [str(ROOT / "models" / "planted.pt"), "--signal", "2", "--port", "0"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()))
        reader.start()
        reader.join(240)
        assert first and "http://127.0.0.1:" in first[0], first
        url = first[0].split(" at ")[1].split()[0]
        with urllib.request.urlopen(url, timeout=60) as r:
            assert r.status == 200 and b"bokeh" in r.read().lower()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped" in out
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    assert _port_is_free(port)


def test_ridge_mode_snaps_new_boxes_to_the_ridge_inside(view):
    ex = view.explorer
    f = ex.grid.freqs
    view.w_mode.active = 1  # "to ridge"
    _tool_adds(view, "boxes", left=900.0, right=1100.0, bottom=f[1], top=f[-1])
    assert _model(view, "boxes").data["left"] == []  # the drawn box became cells
    (shape,) = view.shapes
    drawn = {"region": 1, "kind": "box", "op": "add", "x": [900.0, 1100.0], "y": [f[1], f[-1]]}
    assert shape == ex.snap_to_ridge(drawn)
    np.testing.assert_array_equal(view.state.labels, ex.labels([shape]))
    assert _model(view, "components").data["region"] == [1]


def test_show_notebook_hands_bokeh_a_loopback_app_that_builds_the_view(planted, monkeypatch):
    import bokeh.io

    from saliency2signal.explorer import show_notebook

    model, meta, data = planted
    calls = {}
    monkeypatch.setattr(bokeh.io, "output_notebook", lambda **kw: calls.setdefault("out", kw))
    monkeypatch.setattr(bokeh.io, "show", lambda app, **kw: calls.update(app=app, show=kw))
    show_notebook(data.x[:4], model=model, metadata=meta, axis=data.axis, signal=2)
    assert calls["show"] == {"notebook_url": "localhost:8888", "address": "127.0.0.1"}
    doc = bokeh_document.Document()
    calls["app"](doc)  # what the notebook's server runs for each view
    assert doc.get_model_by_name("scalogram") is not None
    assert doc.get_model_by_name("signal_index").value == 2


def test_draw_reads_a_pipeline_file_and_an_explain_folder(planted, tmp_path):
    from saliency2signal.cli import main
    from saliency2signal.cli._draw import _explanation, _model
    from saliency2signal.cli._parser import build_parser
    from saliency2signal.pipeline import Log1p, MinMax, Pipeline, Resize

    model, meta, data = planted
    n = data.x.shape[-1]
    pipe = Pipeline.from_ssqueezepy_kwargs(
        wavelet="gmw",
        nv=8,
        steps=[Log1p(), Resize(size=(32, 32)), MinMax()],
        class_names=["a", "b"],
        n_times=n,
    )
    (tmp_path / "pipeline.toml").write_text(pipe.to_toml())
    np.save(tmp_path / "x.npy", data.x[:3])
    args = build_parser().parse_args(
        ["draw", str(tmp_path / "x.npy"), "--pipeline", str(tmp_path / "pipeline.toml")]
    )
    net, metadata = _model(args, n)
    assert net is None and metadata.transform == pipe.transform
    ex = RegionExplorer(data.x[0], metadata=metadata)  # components only, on that grid
    assert ex.magnitude.shape == (pipe.transform.n_freqs(n), n) and ex.p_before is None
    # an explain folder's regions, for "Snap to explanation"
    out = tmp_path / "explained"
    argv = ["explain", str(ROOT / "models" / "planted.pt"), str(tmp_path / "x.npy")]
    argv += ["--out", str(out), "--method", "saliency", "--n-null", "0", "--no-peaks"]
    assert main([*argv, "--figures", "none"]) == 0
    labels = _explanation(str(out))
    with np.load(out / "components.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(labels, z["labels"])
    assert labels.shape == (3, meta.transform.n_freqs(n), n) and labels.any()
