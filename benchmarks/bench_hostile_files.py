"""Peak memory of every subcommand on crafted files under 2 MB (issue 15).

Run from the repository root (about a minute; writes only into a temporary folder)::

    python benchmarks/bench_hostile_files.py [--json benchmarks/results_hostile_files.json]

Crafts, from the bundled ``models/coffee.pt`` and ``data/coffee.npz``, the files of the
issue's fault-injection pass — a model whose metadata asks for ``n_times=1e8``, a
25000 x 25000 image, 9000-wide layers or a 4096-wide first block on 1024 x 1024 images;
a ``.pt2`` whose JSON block inflates to 1.5 GB; a ``.pt2`` holding a member twice with a
code-running pickle first; an ``.npz`` whose array inflates to 1.6 GB; an ``.npy`` whose
header declares 80 GB; a 96-megapixel PNG; a PNG whose sidecar claims a 20000 x 20000
grid — and runs the subcommands that read each (``info``, ``explain``, ``evaluate``,
``reconstruct``) in fresh processes, measuring each one's peak resident memory
(``ru_maxrss`` of the child). The baselines are ``python -c "import torch"`` and the
same commands on the genuine files: with torch's CUDA build, importing torch alone maps
about 650 MB of libraries, so the table also gives each run's excess over that import.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "coffee.pt"


def _exe() -> str:
    beside = Path(sys.executable).parent / "saliency2signal"
    return str(beside) if beside.is_file() else shutil.which("saliency2signal")


def _run(args: list[str], cwd: Path) -> dict:
    """Run a command; return its status, first stderr line and peak RSS (MB)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        first = err.read().decode(errors="replace").strip().splitlines()
    return {
        "status": proc.returncode,
        "peak_mb": usage.ru_maxrss / 1024,
        "stderr": (first[-1] if first else "")[:160],
    }


def _craft_model(src: Path, out: Path, **changes) -> Path:
    import torch

    obj = torch.load(src, weights_only=True)
    block = json.loads(obj["metadata"])
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        node = block
        for p in parents:
            node = node[p]
        node[leaf] = value
    obj["metadata"] = json.dumps(block)
    torch.save(obj, out)
    return out


class _Payload:
    def __init__(self, target: Path):
        self.target = str(target)

    def __reduce__(self):
        return (exec, (f"open({self.target!r}, 'w').write('pwned')",))


def craft(folder: Path) -> dict[str, tuple[Path, list[str]]]:
    """Write the crafted files; map name -> (path, subcommands that read it)."""
    import torch
    from PIL import Image

    from saliency2signal.drawing import ScalogramGeometry
    from saliency2signal.io import load_model, save_model

    models = ["info", "explain", "evaluate"]
    files = {}
    for name, changes in {
        "n_times=1e8": {"n_times": 100_000_000},
        "image 25000^2": {"imaging.size": [25000, 25000]},
        "widths 9000": {"architecture_kwargs.widths": [9000, 9000, 9000]},
        "4096-wide first block": {
            "architecture_kwargs.widths": [4096, 64],
            "imaging.size": [1024, 1024],
        },
    }.items():
        path = folder / f"model_{len(files)}.pt"
        files[name] = (_craft_model(MODEL, path, **changes), models)
    loaded = load_model(MODEL)
    good = save_model(loaded.model, folder / "good.pt2", metadata=loaded.metadata, format="export")
    with zipfile.ZipFile(good) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]
    bomb = folder / "jsonbomb.pt2"
    with zipfile.ZipFile(bomb, "w") as z:
        for name, data in members:
            if name.endswith("saliency2signal.json"):
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w", force_zip64=True) as f:
                    for _ in range(1500):
                        f.write(b" " * 2**20)
            else:
                z.writestr(zipfile.ZipInfo(name), data)
    files["JSON block inflating to 1.5 GB"] = (bomb, models)
    buf = io.BytesIO()
    torch.save(_Payload(folder / "PWNED"), buf)
    dup = folder / "duplicate.pt2"
    with warnings.catch_warnings(), zipfile.ZipFile(dup, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        for name, data in members:
            if "sample_inputs/" in name and name.endswith(".pt"):
                z.writestr(zipfile.ZipInfo(name), buf.getvalue())
            z.writestr(zipfile.ZipInfo(name), data)
    files["member twice, pickle first"] = (dup, models)
    # data files, read by explain with the genuine model
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (1000, 200_000)}
    )
    npz = folder / "databomb.npz"
    with (
        zipfile.ZipFile(npz, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("x.npy", "w", force_zip64=True) as f,
    ):
        f.write(header.getvalue())
        for _ in range(200):
            f.write(bytes(8 * 10**6))
    files["npz array inflating to 1.6 GB"] = (npz, ["explain-data"])
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**5, 10**5)}
    )
    liar = folder / "liar.npy"
    liar.write_bytes(header.getvalue() + bytes(8000))
    files["npy header declaring 80 GB"] = (liar, ["explain-data"])
    png = folder / "huge.png"
    Image.fromarray(np.full((8000, 12000), 128, dtype=np.uint8)).save(png)
    files["96-megapixel PNG"] = (png, ["reconstruct"])
    drawn = folder / "drawn.png"
    Image.fromarray(np.full((20, 20), 128, dtype=np.uint8)).save(drawn)
    drawn.with_suffix(".json").write_text(
        ScalogramGeometry(
            n_freqs=20000, n_times=20000, upscale=(1, 1), width=20000, height=20000
        ).to_json()
    )
    files["sidecar claiming a 20000^2 grid"] = (drawn, ["reconstruct"])
    return files


def _command(kind: str, path: Path, data: Path, out: Path) -> list[str]:
    exe = _exe()
    if kind == "info":
        return [exe, "info", str(path)]
    if kind in ("explain", "evaluate"):
        return [exe, kind, str(path), str(data), "--out", str(out), "--no-figures"]
    if kind == "explain-data":
        return [exe, "explain", str(MODEL), str(path), "--out", str(out), "--no-figures"]
    return [exe, "reconstruct", str(path), "--out", str(out)]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--craft-into", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.craft_into:  # in a child: this process must not grow (a fork copies its RSS)
        files = craft(Path(args.craft_into))
        manifest = {k: [str(v[0]), v[1]] for k, v in files.items()}
        (Path(args.craft_into) / "manifest.json").write_text(json.dumps(manifest))
        return manifest
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subprocess.run([sys.executable, __file__, "--craft-into", str(folder)], check=True)
        crafted = {
            k: (Path(v[0]), v[1])
            for k, v in json.loads((folder / "manifest.json").read_text()).items()
        }
        with np.load(ROOT / "data" / "coffee.npz", allow_pickle=False) as z:
            np.save(folder / "two.npy", z["X_test"][:2])
        data = folder / "two.npy"
        base = _run([sys.executable, "-c", "import torch"], folder)
        rows.append({"file": "(none)", "bytes": 0, "command": "python -c 'import torch'", **base})
        for kind in ("info", "explain", "evaluate"):
            out = folder / f"genuine_{kind}"
            rows.append(
                {
                    "file": "models/coffee.pt (genuine)",
                    "bytes": MODEL.stat().st_size,
                    "command": kind,
                    **_run(_command(kind, MODEL, data, out), folder),
                }
            )
        for name, (path, kinds) in crafted.items():
            size = path.stat().st_size
            assert size < 2 * 2**20, (name, size)
            for kind in kinds:
                out = folder / f"out_{len(rows)}"
                res = _run(_command(kind, path, data, out), folder)
                rows.append(
                    {"file": name, "bytes": size, "command": kind.replace("-data", ""), **res}
                )
        payload_ran = (folder / "PWNED").exists()
    for r in rows:
        r["excess_mb"] = r["peak_mb"] - base["peak_mb"]
    print("| crafted file | bytes | command | status | peak MB | over `import torch` | stderr |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['file']} | {r['bytes']} | {r['command']} | {r['status']} | "
            f"{r['peak_mb']:.0f} | {r['excess_mb']:+.0f} | {r['stderr'][:90]} |"
        )
    worst = max(rows[4:], key=lambda r: r["peak_mb"])
    print(
        f"worst crafted run: {worst['file']} / {worst['command']}: {worst['peak_mb']:.0f} MB "
        f"({worst['excess_mb']:+.0f} MB over importing torch); any code run: {payload_ran}"
    )
    version = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    res = {
        "rows": rows,
        "payload_ran": payload_ran,
        "python": platform.python_version(),
        "torch": version,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
