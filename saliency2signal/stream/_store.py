"""The folder a streamed run writes: Zarr arrays, Parquet tables, its key and its progress.

Layout of a run folder ``OUT``::

    OUT/run.json                    the run's key, what it was made from, and its layout
    OUT/arrays.zarr/                components (n, R, N) float32, labels (n, F, N) uint8,
                                    profile (n, N) float32, probabilities (n, K) float32,
                                    contrasts (n, R, N) float32 with a reference,
                                    attribution (n, F, N) float16 when asked for
    OUT/regions/part-CCCCC.parquet  one row per region of chunk C
    OUT/samples/part-CCCCC.parquet  one row per signal of chunk C (failed ones with reason)
    OUT/reductions/part-CCCCC.npz   per-class sums of chunk C (the overview's statistics)

Every array is chunked along the signals exactly as the run is (``layout['chunk']``
signals), so chunk ``C`` of the run writes whole Zarr chunks of its own, whichever
process writes it, and no two writers share a file. Each file appears at once (Zarr's
local store and :func:`~saliency2signal._files.atomic_write` write a temporary sibling and
rename it). A chunk is *done* when its ``samples`` part exists, the last file it writes:
a run killed in the middle of chunk ``C`` leaves no such part, and the next run redoes
``C`` whole, overwriting whatever of it was written.

A run is identified by its **key**, the SHA-256 of a JSON record of everything its
results depend on (the model's bytes, the pipeline, the method, every setting, the input's
identity, the package version). Opening an existing folder with another key is refused,
naming what differs.

Internal: plain names for :mod:`saliency2signal.stream`.
May import: numpy, zarr and pyarrow (inside functions), ``_files``, ``_version``, the
standard library; never a sibling module.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_dir, atomic_write
from .._version import __version__

__all__ = ["RUN_FORMAT", "RunStore", "array_specs", "key_of", "need"]

#: ``run.json``'s ``format``: what a run folder is, and the version of its layout.
RUN_FORMAT = "saliency2signal-run"
_LAYOUT_VERSION = 1
_PART = re.compile(r"part-(\d{5,})\.parquet$")


def need(module: str):
    """Import an optional dependency of large runs, or say which extra provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"streamed runs need {module.split('.')[0]}: pip install 'saliency2signal[large]'"
        ) from None


def key_of(material: dict) -> str:
    """SHA-256 (hex) of a key record, serialised canonically (sorted keys, no spaces)."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of the entries two key records disagree on (first few)."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{name}.")
        elif a != b:
            out.append(f"{prefix}{name}")
    return out


@dataclass(frozen=True, eq=False)
class RunStore:
    """An open run folder (see the module's docstring for its layout).

    Attributes
    ----------
    folder : pathlib.Path
    key : str
    material : dict
        The key's record.
    layout : dict
        ``n_signals``, ``n_times``, ``n_freqs``, ``chunk``, ``n_chunks``,
        ``max_regions``, ``class_names``, ``id_names``, ``image_shape``, ``attribution``
        (bool), ``contrasts`` (bool), the run's ``axis``/``axis_name``/``axis_units``,
        and ``arrays``: each Zarr array's ``shape``, ``dtype`` and ``dims``
        (:func:`array_specs` for an explanation run).
    """

    folder: Path
    key: str
    material: dict
    layout: dict

    # ------------------------------------------------------------------ opening
    @classmethod
    def open_or_create(
        cls, folder, *, material: dict, layout: dict, inputs=(), overwrite: bool = False
    ) -> tuple[RunStore, bool]:
        """Open the run folder of this key, or create it; return ``(store, resumed)``.

        Raises
        ------
        ValueError
            ``folder`` holds another run (its key differs: the message names the
            settings that differ), or something that is not a run folder.
        """
        folder = Path(folder)
        key = key_of(material)
        run_file = folder / "run.json"
        if folder.exists() and not overwrite:
            if not run_file.is_file():
                raise ValueError(
                    f"{str(folder)!r} exists and is not a run folder (no run.json); choose "
                    "another output folder or pass overwrite"
                )
            store = cls.open(folder)
            if store.key != key:
                what = ", ".join(_differences(store.material, material)[:6]) or "the key"
                raise ValueError(
                    f"{str(folder)!r} holds another run (key {store.key[:12]}, this one "
                    f"{key[:12]}: {what} differ); resume it with its own settings, or "
                    "choose another output folder"
                )
            return store, True
        record = {
            "format": RUN_FORMAT,
            "layout_version": _LAYOUT_VERSION,
            "package_version": __version__,
            "key": key,
            "material": material,
            "layout": layout,
        }

        def write(tmp: Path) -> None:
            (tmp / "run.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
            for sub in ("regions", "samples", "reductions"):
                (tmp / sub).mkdir()
            _create_arrays(tmp / "arrays.zarr", layout)

        atomic_dir(folder, write, overwrite=overwrite, inputs=inputs)
        return cls(folder, key, material, layout), False

    @classmethod
    def open(cls, folder) -> RunStore:
        """Open an existing run folder (read its ``run.json``)."""
        folder = Path(folder)
        try:
            record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{str(folder)!r}: not a readable run folder ({exc})") from None
        if record.get("format") != RUN_FORMAT:
            raise ValueError(f"{str(folder)!r}: run.json is not a {RUN_FORMAT} record")
        return cls(folder, record["key"], record["material"], record["layout"])

    # ------------------------------------------------------------------ progress
    def chunk_bounds(self, c: int) -> tuple[int, int]:
        """Signals ``start, stop`` of chunk ``c``."""
        size, n = self.layout["chunk"], self.layout["n_signals"]
        return c * size, min(n, (c + 1) * size)

    def done_chunks(self) -> set[int]:
        """Return the chunks whose results are complete (their ``samples`` part exists)."""
        return {
            int(m.group(1))
            for p in (self.folder / "samples").iterdir()
            if (m := _PART.fullmatch(p.name))
        }

    def pending_chunks(self) -> list[int]:
        """Return the chunks still to run, in order."""
        done = self.done_chunks()
        return [c for c in range(self.layout["n_chunks"]) if c not in done]

    # ------------------------------------------------------------------ writing
    def write_chunk(
        self, c: int, *, arrays: dict, regions, samples, reductions: dict[str, np.ndarray]
    ) -> None:
        """Write chunk ``c``'s results; its ``samples`` part last (the chunk is then done).

        ``arrays`` maps array names of ``arrays.zarr`` to this chunk's rows; ``regions``
        and ``samples`` are :class:`pyarrow.Table` objects; ``reductions`` the chunk's
        per-class sums.
        """
        zarr = need("zarr")
        pq = need("pyarrow.parquet")
        start, stop = self.chunk_bounds(c)
        group = zarr.open_group(str(self.folder / "arrays.zarr"), mode="r+")
        for name, rows in arrays.items():
            if rows.shape[0] != stop - start:
                raise ValueError(f"chunk {c}: {name} has {rows.shape[0]} rows, not {stop - start}")
            group[name][start:stop] = rows
        part = f"part-{c:05d}"

        def parquet(table):
            return lambda tmp: pq.write_table(table, tmp)

        def npz(tmp: str) -> None:
            buf = io.BytesIO()
            np.savez(buf, **reductions)
            Path(tmp).write_bytes(buf.getvalue())

        atomic_write(self.folder / "reductions" / f"{part}.npz", npz)
        atomic_write(self.folder / "regions" / f"{part}.parquet", parquet(regions))
        atomic_write(self.folder / "samples" / f"{part}.parquet", parquet(samples))

    def finish(self, record: dict) -> None:
        """Write ``summary.json`` (the finished run's counts and timings)."""
        text = json.dumps(record, indent=1)
        atomic_write(self.folder / "summary.json", lambda tmp: Path(tmp).write_text(text))

    # ------------------------------------------------------------------ reading
    def arrays(self):
        """Return the Zarr group of the arrays (read-only)."""
        return need("zarr").open_group(str(self.folder / "arrays.zarr"), mode="r")

    def table(self, name: str):
        """Return the ``regions`` or ``samples`` table of the done chunks, in signal order."""
        pa = need("pyarrow")
        pq = need("pyarrow.parquet")
        if name not in ("regions", "samples"):
            raise ValueError(f"table {name!r}: expected 'regions' or 'samples'")
        parts = sorted(
            (p for p in (self.folder / name).iterdir() if _PART.fullmatch(p.name)),
            key=lambda p: p.name,
        )
        done = self.done_chunks()
        parts = [p for p in parts if int(_PART.fullmatch(p.name).group(1)) in done]
        if not parts:
            return None
        return pa.concat_tables([pq.read_table(p) for p in parts])

    def reduction_parts(self):
        """Yield each done chunk's reductions (a dict of arrays), in chunk order."""
        for c in sorted(self.done_chunks()):
            with np.load(self.folder / "reductions" / f"part-{c:05d}.npz") as z:
                yield {k: z[k] for k in z.files}


def array_specs(layout: dict) -> dict[str, dict]:
    """Return the Zarr arrays of an explanation run: name -> ``shape``, ``dtype``, ``dims``."""
    n, n_times, n_freqs = layout["n_signals"], layout["n_times"], layout["n_freqs"]
    r, k = layout["max_regions"], len(layout["class_names"])
    specs = {
        "components": ((n, r, n_times), "float32", ("signal", "region", "time")),
        "labels": ((n, n_freqs, n_times), "uint8", ("signal", "freq", "time")),
        "profile": ((n, n_times), "float32", ("signal", "time")),
        "probabilities": ((n, k), "float32", ("signal", "class")),
    }
    if layout.get("contrasts"):
        specs["contrasts"] = ((n, r, n_times), "float32", ("signal", "region", "time"))
    if layout.get("attribution"):
        specs["attribution"] = ((n, n_freqs, n_times), "float16", ("signal", "freq", "time"))
    return {
        name: {"shape": list(shape), "dtype": dtype, "dims": list(dims)}
        for name, (shape, dtype, dims) in specs.items()
    }


def _create_arrays(path: Path, layout: dict) -> None:
    """Create the run's empty Zarr arrays (``layout['arrays']``), chunked as the run is."""
    zarr = need("zarr")
    group = zarr.open_group(str(path), mode="w")
    for name, spec in layout.get("arrays", {}).items():
        shape = tuple(spec["shape"])
        group.create_array(
            name,
            shape=shape,
            chunks=(layout["chunk"], *shape[1:]),
            dtype=spec["dtype"],
            fill_value=0,
            dimension_names=tuple(spec["dims"]),
        )
    group.attrs["layout"] = json.loads(json.dumps(layout))
