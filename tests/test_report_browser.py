"""A report opened in a real browser (issue 20): images load, links resolve, no errors.

Headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) is driven over
the DevTools protocol through a pipe (``--remote-debugging-pipe``: JSON messages ended by
a NUL byte, on file descriptors 3 and 4 of the browser), with the standard library only.
Without Chromium the tests skip, saying so. The index and one signal's page
(``sample_0002.html``) are opened; screenshots of the overview, of the index's table of
signals and of that page are written to ``tests/artifacts/`` (git-ignored) and to
``tmp_path``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from saliency2signal import explain
from saliency2signal.datasets import load_planted
from saliency2signal.io import load_model

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or BASH is None,
    reason="headless Chromium not found (install Debian's `chromium` package; .ci/run does)",
)


class DevTools:
    """A headless Chromium and one page of it, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path, timeout: float = 60.0):
        self.timeout = timeout
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        flags = ["--headless", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run"]
        flags += [f"--user-data-dir={profile}", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        # bash puts the pipe ends on the descriptors 3 and 4 the protocol uses
        script = f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}'
        self.process = subprocess.Popen(
            [BASH, "-c", script, CHROMIUM, *flags],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id, self.events = b"", 0, []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        """Send one command and return its result; events met meanwhile are kept."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """Return the first event ``method`` (already met, or the next ones)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._message(deadline))

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        return result["result"].get("value")

    def screenshot(self, selector: str, path: Path) -> None:
        """Write a PNG of the element ``selector`` (the whole of it, scrolled or not)."""
        box = self.evaluate(
            f"(() => {{const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.left + window.scrollX, r.top + "
            "window.scrollY, r.width, r.height];})()"
        )
        clip = dict(zip(("x", "y", "width", "height"), box, strict=True), scale=1)
        shot = self.call(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
            session=True,
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(json.dumps(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._write)
        os.close(self._read)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A small saved report with figures: four planted spectra, both classes."""
    d = load_planted("test")
    rows = np.r_[np.flatnonzero(d.y == 0)[:2], np.flatnonzero(d.y == 1)[:2]]
    model, meta = load_model(ROOT / "models" / "planted.pt")
    e = explain(
        model, d.x[rows], metadata=meta, labels=d.y[rows], axis=d.axis, n_null=2, peaks=False
    )
    return e.save(tmp_path_factory.mktemp("browser") / "report")


def _open(report: Path, name: str, profile: Path):
    """Return a headless Chromium showing the report's page ``name``, loaded."""
    browser = DevTools(profile)
    try:
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        browser.call("Page.navigate", {"url": (report / name).as_uri()}, session=True)
        browser.wait_for("Page.loadEventFired")
    except BaseException:
        browser.close()
        raise
    return browser


@pytest.fixture(scope="module", params=["index.html", "sample_0002.html"])
def page(request, report, tmp_path_factory):
    """The report's index.html, then one signal's page, loaded in headless Chromium."""
    browser = _open(report, request.param, tmp_path_factory.mktemp("profile"))
    browser.name = request.param
    yield browser
    browser.close()


def test_every_image_loads(page):
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
    )
    # the index: an overview per class; a signal's page: its three figures
    assert len(images) == (2 if page.name == "index.html" else 3)
    assert [src for src, complete, width in images if not (complete and width > 0)] == []


def test_every_relative_link_resolves(page, report):
    links = page.evaluate(
        "Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), "
        "a.href])"
    )
    ids = set(page.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
    anchors = [raw[1:] for raw, _ in links if raw.startswith("#")]
    files = [Path(unquote(urlparse(full).path)) for raw, full in links if not raw.startswith("#")]
    assert files
    assert [a for a in anchors if a not in ids] == []
    assert [f for f in files if not (f.is_file() and report in f.parents)] == []
    assert [raw for raw, _ in links if "://" in raw] == []  # relative: opens offline
    if page.name == "index.html":
        assert anchors and {f.name for f in files} >= {f"sample_{b:04d}.html" for b in range(4)}
    else:
        assert {f.name for f in files} >= {"index.html", "sample_0001.html", "sample_0003.html"}


def test_no_console_errors_and_screenshots(page, tmp_path):
    assert page.errors() == []
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {"index.html": (("overview", "#overview"), ("signals", "#signals"))}
    for name, selector in shots.get(page.name, (("signal", "#sample-2"),)):
        path = tmp_path / f"report_{name}.png"
        page.screenshot(selector, path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
        shutil.copyfile(path, ARTIFACTS / path.name)


# --------------------------------------------------------------- a streamed run's page
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A streamed run over a 3 x 4 ENVI cube of planted spectra: overview and pixel maps."""
    pytest.importorskip("zarr")
    envi = pytest.importorskip("spectral.io.envi")
    from saliency2signal.stream import explain_stream

    d = load_planted("test")
    folder = tmp_path_factory.mktemp("stream")
    cube = d.x[:12].reshape(3, 4, -1).astype(np.float32)
    envi.save_image(
        str(folder / "cube.hdr"),
        cube,
        interleave="bil",
        metadata={"wavelength": [float(v) for v in d.axis], "wavelength units": "cm^-1"},
    )
    model, meta = load_model(ROOT / "models" / "planted.pt")
    explain_stream(
        model,
        folder / "cube.hdr",
        folder / "run",
        metadata=meta,
        chunk_size=5,
        n_null=2,
        peaks=False,
    )
    return folder / "run"


def test_streamed_run_page_loads_with_its_maps(run_folder, tmp_path):
    browser = _open(run_folder, "index.html", tmp_path / "profile")
    try:
        images = browser.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
            "i.naturalWidth])"
        )
        srcs = [src for src, *_ in images]
        assert [src for src, complete, width in images if not (complete and width > 0)] == []
        assert any(s.startswith("overview_") for s in srcs)
        assert {"maps/predicted_class.png", "maps/top_region_centre.png"} <= set(srcs)
        links = browser.evaluate(
            "Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'),"
            " a.href])"
        )
        ids = set(browser.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
        targets = [Path(unquote(urlparse(full).path)) for raw, full in links if raw[:1] != "#"]
        assert [raw[1:] for raw, _ in links if raw[:1] == "#" and raw[1:] not in ids] == []
        assert [t for t in targets if not (t.exists() and run_folder in t.parents)] == []
        assert browser.errors() == []
        ARTIFACTS.mkdir(exist_ok=True)
        path = tmp_path / "stream_run_index.png"
        browser.screenshot("body", path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        shutil.copyfile(path, ARTIFACTS / path.name)
    finally:
        browser.close()
