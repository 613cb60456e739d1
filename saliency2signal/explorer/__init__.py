"""Draw on the scalogram, see the signal: the region-to-signal explorer.

:class:`RegionExplorer` is the functional core of ``saliency2signal draw`` (:func:`serve`)
and of the same view in a notebook (:func:`show_notebook`): one signal on its
synchrosqueezed plane, regions drawn as shapes (:func:`rasterize` turns them into a
label image), each region's component by the masked inverse, and with a model the class
probabilities with the regions deleted, as ``explain``'s deletion check measures them.
Regions are saved as mask files (:func:`saliency2signal.drawing.save_mask`) that
``explain``, ``map`` and ``explain(regions=...)`` accept.

May import: numpy, torch, the numeric stages; the web app (Bokeh) only lazily, never
at import.
"""

from __future__ import annotations

from ._session import ExplorerState, RegionExplorer
from ._shapes import label_runs, rasterize, shape_cells

__all__ = [
    "AppServer",
    "ExplorerState",
    "RegionExplorer",
    "label_runs",
    "rasterize",
    "serve",
    "shape_cells",
    "show_notebook",
]

_APP_NAMES = ("AppServer", "serve", "show_notebook")


def __getattr__(name: str):
    # the web app needs bokeh: imported on first use, never with the package
    if name in _APP_NAMES:
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
