"""The explorer as a local web app (a Bokeh server on 127.0.0.1) or in a notebook.

:func:`serve` starts a Bokeh server in a background thread, bound to the loopback
interface only, on a free port unless one is given, and returns an :class:`AppServer`
(its ``url``, ``stop()``, and a thread-safe snapshot of each session's shapes and last
:class:`~saliency2signal.explorer.ExplorerState` for tests). :func:`show_notebook`
shows the same view in a Jupyter notebook.

Internal: public through :mod:`saliency2signal.explorer` (lazily: importing the package
never imports bokeh). May import: bokeh, tornado, numpy, torch (the model), ``._app``,
``._session``; never the CLI.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from collections import OrderedDict

import numpy as np

from ._session import RegionExplorer

__all__ = ["AppServer", "serve", "show_notebook"]

_CACHED_EXPLORERS = 8


class _ExplorerCache:
    """``RegionExplorer`` of signal ``i``, the last few kept (they hold the plane)."""

    def __init__(self, signals: np.ndarray, options: dict):
        self.signals = signals
        self.options = options
        self._cache: OrderedDict[int, RegionExplorer] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, i: int) -> RegionExplorer:
        i = int(i)
        if not 0 <= i < self.signals.shape[0]:
            raise ValueError(f"signal index {i} is not in 0..{self.signals.shape[0] - 1}")
        with self._lock:
            if i in self._cache:
                self._cache.move_to_end(i)
                return self._cache[i]
        ex = RegionExplorer(self.signals[i], **self.options)
        with self._lock:
            self._cache[i] = ex
            while len(self._cache) > _CACHED_EXPLORERS:
                self._cache.popitem(last=False)
        return ex


def _prepare(signals, signal, explorer_options):
    sig = np.asarray(signals)
    if sig.ndim == 1:
        sig = sig[None]
    if sig.ndim != 2 or sig.shape[0] == 0 or sig.shape[-1] < 2:
        raise ValueError(
            f"signals have shape {np.shape(signals)}; expected (n_times,) or (B, n_times)"
        )
    if not isinstance(signal, (int, np.integer)) or isinstance(signal, bool):
        raise TypeError(f"signal={signal!r} must be an int")
    if not 0 <= signal < sig.shape[0]:
        raise ValueError(f"{signal=} is not a signal index in 0..{sig.shape[0] - 1}")
    cache = _ExplorerCache(sig, explorer_options)
    cache(signal)  # bad input fails here, before anything is served
    return sig, cache


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppServer:
    """A running explorer app: its address, its sessions' state, and how to stop it.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT/``.
    port : int
        The port it listens on (127.0.0.1 only).
    explorer : callable
        ``explorer(i)`` is the :class:`RegionExplorer` of signal ``i`` the sessions use.
    """

    def __init__(self, port: int, explorers: _ExplorerCache, make_doc):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.explorer = explorers
        self._make_doc = make_doc
        self._lock = threading.Lock()
        self._views: dict[str, object] = {}
        self._snapshots: dict[str, dict] = {}
        self._server = self._loop = None
        self._thread: threading.Thread | None = None

    def _record(self, session_id: str, view) -> None:
        with self._lock:
            self._views[session_id] = view
            self._snapshots[session_id] = {
                "signal": view.index,
                "shapes": [dict(s) for s in view.shapes],
                "state": view.state,
            }

    def _forget(self, session_id: str) -> None:
        with self._lock:
            self._views.pop(session_id, None)
            self._snapshots.pop(session_id, None)

    def snapshot(self) -> dict[str, dict]:
        """Each open session's ``signal``, ``shapes`` and last ``state`` (a copy).

        ``state`` is the last :class:`~saliency2signal.explorer.ExplorerState` (``None``
        while no region is drawn); keyed by the Bokeh session id.
        """
        with self._lock:
            return {k: dict(v, shapes=list(v["shapes"])) for k, v in self._snapshots.items()}

    def _start(self) -> None:
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        ready, box = threading.Event(), {}
        port = self.port

        def run():
            try:
                asyncio.set_event_loop(asyncio.new_event_loop())
                loop = IOLoop.current()
                server = Server(
                    {"/": Application(FunctionHandler(self._make_doc))},
                    io_loop=loop,
                    address="127.0.0.1",
                    port=port,
                    allow_websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"],
                )
                server.start()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box["error"] = exc
                ready.set()
                return
            box.update(server=server, loop=loop)
            ready.set()
            loop.start()  # until stop()
            loop.close(all_fds=False)

        self._thread = threading.Thread(target=run, name="saliency2signal-draw", daemon=True)
        self._thread.start()
        ready.wait(30)
        if "error" in box:
            raise box["error"]
        if "server" not in box:
            raise RuntimeError("the Bokeh server did not start within 30 s")
        self._server, self._loop = box["server"], box["loop"]

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server and free its port (idempotent)."""
        server, loop, self._server = self._server, self._loop, None
        if server is None:
            return

        def _stop():
            server.stop()
            loop.stop()

        loop.add_callback(_stop)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    signals,
    *,
    model=None,
    metadata=None,
    transform_config=None,
    imaging_config=None,
    class_names=None,
    axis=None,
    target="predicted",
    reference="auto",
    plane: str = "ssq",
    explanation=None,
    data_path=None,
    signal: int = 0,
    port: int | None = None,
    show_url=print,
) -> AppServer:
    """Start the explorer as a local web app and return it (it serves in a thread).

    Parameters
    ----------
    signals : array_like, shape (n_times,) or (B, n_times)
        The signals; the app's selector picks one.
    model, metadata, transform_config, imaging_config, class_names, axis, target, reference, plane
        As :class:`RegionExplorer` (one is built per signal shown).
    explanation : array_like of int, shape (B, F, N), optional
        An explanation's label images (``components.npz`` ``labels``): "Snap to
        explanation" adds the current signal's regions.
    data_path : str or os.PathLike, optional
        The data file (default mask path beside it; never overwritten).
    signal : int
        The signal shown first.
    port : int, optional
        The port (default or 0: a free one). The server binds 127.0.0.1 only.
    show_url : callable or None
        Called with the URL once the server listens (default :func:`print`).

    Returns
    -------
    AppServer
        Call :meth:`AppServer.stop` (or use it as a context manager) to stop it.

    Raises
    ------
    ValueError
        Bad signals, signal index or port (the first signal's explorer is built before
        serving, so its errors show here).
    OSError
        The port is in use.
    """
    if port is not None and (
        not isinstance(port, (int, np.integer)) or isinstance(port, bool) or not 0 <= port < 65536
    ):
        raise ValueError(f"port={port!r} must be an int in 0..65535")
    options = dict(
        model=model,
        metadata=metadata,
        transform_config=transform_config,
        imaging_config=imaging_config,
        class_names=class_names,
        axis=axis,
        target=target,
        reference=reference,
        plane=plane,
    )
    sig, explorers = _prepare(signals, signal, options)
    labels = _explanation_labels(explanation)
    port = int(port) if port else _free_port()

    def make_doc(doc):
        from ._app import build_view

        sid = doc.session_context.id if doc.session_context is not None else "document"
        record = functools.partial(app._record, sid)
        build_view(
            doc,
            sig,
            explorers,
            index=int(signal),
            explanation=labels,
            data_path=data_path,
            on_update=record,
        )
        if doc.session_context is not None:
            doc.on_session_destroyed(lambda ctx: app._forget(ctx.id))

    app = AppServer(port, explorers, make_doc)
    app._start()
    if show_url is not None:
        show_url(app.url)
    return app


def _explanation_labels(explanation):
    if explanation is None:
        return None
    lab = np.asarray(explanation)
    if lab.ndim == 2:
        lab = lab[None]
    if lab.ndim != 3 or lab.dtype.kind not in "iu":
        raise ValueError(
            f"explanation labels have shape {lab.shape} and dtype {lab.dtype}; expected "
            "integer label images (B, F, N)"
        )
    return lab


def show_notebook(
    signals,
    *,
    notebook_url: str = "localhost:8888",
    signal: int = 0,
    explanation=None,
    data_path=None,
    **explorer_options,
) -> None:
    """Show the explorer in a Jupyter notebook cell (needs bokeh and a running kernel).

    The view runs as a Bokeh app inside the notebook server, so drawing updates the
    components and probabilities live, as in ``saliency2signal draw``.

    Parameters
    ----------
    signals : array_like, shape (n_times,) or (B, n_times)
    notebook_url : str
        The notebook server's address, as ``bokeh.io.show`` takes it. For a local one
        (``localhost`` or ``127.0.0.1``) the app's server listens on 127.0.0.1 only.
    signal, explanation, data_path
        As :func:`serve`.
    **explorer_options
        ``model``, ``metadata``, ``transform_config``, ``imaging_config``,
        ``class_names``, ``axis``, ``target``, ``reference``: as :class:`RegionExplorer`.

    Examples
    --------
    In a notebook cell::

        from saliency2signal.datasets import load_planted
        from saliency2signal.explorer import show_notebook
        d = load_planted("test")
        show_notebook(d.x, axis=d.axis)
    """
    from bokeh.io import output_notebook, show

    from ._app import build_view

    sig, explorers = _prepare(signals, signal, explorer_options)
    labels = _explanation_labels(explanation)

    def make_doc(doc):
        build_view(doc, sig, explorers, index=int(signal), explanation=labels, data_path=data_path)

    output_notebook(hide_banner=True)
    host = notebook_url.split("://")[-1].rsplit(":", 1)[0] if isinstance(notebook_url, str) else ""
    # a local notebook: its app server listens on the loopback only, as `draw` does
    local = {"address": "127.0.0.1"} if host in ("localhost", "127.0.0.1") else {}
    show(make_doc, notebook_url=notebook_url, **local)
