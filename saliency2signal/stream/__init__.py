"""Large runs: signals streamed from disk in chunks, results into a resumable store.

:func:`explain_stream` explains every signal of a file too large for memory (a stack of
spectra, or a hyperspectral cube whose pixels are the signals) chunk by chunk, in this
process or on a Dask distributed cluster, and writes each chunk's results once, atomically,
into a run folder: Zarr arrays (components, region labels, attribution profiles, optional
attribution maps in float16) and Parquet tables (one row per region, one per signal).
Memory is bounded by the chunk, whose size comes from a budget (:func:`plan_memory`).
A run is keyed by a hash of everything its results depend on: the same call on the same
folder continues from the chunks not yet done, another run there is refused.

- ``_sources``: :func:`open_source`, chunked readers of ``.npy`` (memory-mapped),
  ``.npz``, Zarr, HDF5 and ENVI files (:class:`SignalSource`, :class:`Rows`).
- ``_budget``: :func:`plan_memory`, :func:`parse_memory`, :class:`MemoryPlan`: signals per
  chunk and the batch size from a memory budget.
- ``_store``: :class:`RunStore`, the run folder: key, layout, chunk writes, tables.
- ``_tables``: one chunk's explanation as the store's arrays, rows and per-class sums.
- ``_runner``: :func:`explain_stream`, the loop over chunks, here or on a cluster.
- ``_evaluate``, ``_evaluation_report``: :func:`evaluate_stream`, ``evaluate`` by chunks
  (one row per signal and method), its summary by streaming over the parts.
- ``_overview``: :func:`summarize_store`, :func:`write_store_report`: the report's
  overview (accuracy, per class the mean spectrum, attribution profile and bands) from the
  store by streaming reductions.
- ``_maps``: :func:`write_maps`, :func:`pixel_maps`: for a cube, per pixel the predicted
  class and the x-range of its top region, as arrays and images beside the store.

Reading a finished run: ``RunStore.open(folder).table('regions')`` (a
:class:`pyarrow.Table`; ``pandas.read_parquet(folder / 'regions')`` reads the same parts)
and ``RunStore.open(folder).arrays()`` (a Zarr group).

Needs the ``large`` extra: ``pip install 'saliency2signal[large]'`` (zarr, pyarrow, dask
distributed, spectral, h5py, psutil).

May import: its private modules.
"""

from ._budget import MemoryPlan, parse_memory, plan_memory
from ._evaluate import evaluate_stream
from ._maps import MAP_NAMES, map_figures, pixel_maps, write_maps
from ._overview import store_report, summarize_store, write_store_report
from ._runner import DEFAULT_MEMORY, RunSummary, explain_stream
from ._sources import SOURCE_FORMATS, Rows, SignalSource, open_source
from ._store import RunStore
from ._tables import REGION_COLUMNS, SAMPLE_COLUMNS

__all__ = [
    "DEFAULT_MEMORY",
    "MAP_NAMES",
    "REGION_COLUMNS",
    "SAMPLE_COLUMNS",
    "SOURCE_FORMATS",
    "MemoryPlan",
    "Rows",
    "RunStore",
    "RunSummary",
    "SignalSource",
    "evaluate_stream",
    "explain_stream",
    "map_figures",
    "open_source",
    "parse_memory",
    "pixel_maps",
    "plan_memory",
    "store_report",
    "summarize_store",
    "write_maps",
    "write_store_report",
]
