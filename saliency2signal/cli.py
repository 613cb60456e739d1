"""Command-line interface: parses arguments, calls the public API, writes files.

No numerics live here. Errors print one line to stderr and exit with status 2; outputs
are written atomically (to a temporary file renamed into place) and never overwrite an
input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["main"]


class CLIError(ValueError):
    """A user-facing error: printed as one line, exit status 2."""


def _load_signals(path: Path, key: str | None = None) -> np.ndarray:
    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                if not keys:
                    raise CLIError(f"{path}: the .npz archive holds no arrays")
                if key is None:
                    key = "x" if "x" in keys else keys[0]
                elif key not in keys:
                    raise CLIError(f"{path}: no array {key!r} (has {', '.join(keys)})")
                x = z[key]
        elif suffix in (".csv", ".txt"):
            x = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=1)
        else:
            raise CLIError(f"{path}: unsupported format {suffix!r} (use .npy, .npz or .csv)")
    except CLIError:
        raise
    except ValueError as exc:  # includes numpy's refusal to unpickle object arrays
        raise CLIError(f"{path}: cannot read signals ({exc})") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc})") from None
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    return x


def _atomic_savez(path: Path, inputs: list[Path], **arrays) -> None:
    path = path.resolve()
    if any(path == p.resolve() for p in inputs):
        raise CLIError(f"{path}: refusing to overwrite an input file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _config_from_args(args):
    from .transform import SSQConfig

    return SSQConfig(
        wavelet=args.wavelet, nv=args.nv, scaletype=args.scaletype, fs=args.fs,
        padtype=None if args.padtype == "none" else args.padtype,
        mu=args.mu, gamma=args.gamma, beta=args.beta,
        dtype="float64" if args.float64 else "float32",
    )


def _cmd_transform(args) -> int:
    from .transform import ssq_cwt

    data = Path(args.data)
    x = _load_signals(data, args.key)
    cfg = _config_from_args(args)
    res = ssq_cwt(x, cfg)
    out = Path(args.out) if args.out else data.with_name(data.stem + "_ssq.npz")
    _atomic_savez(
        out, [data],
        Tx=res.Tx.numpy(), Wx=res.Wx.numpy(), freqs=res.freqs, scales=res.scales,
        lowpass=res.lowpass.numpy(), config=np.array(cfg.to_json()),
    )
    print(f"wrote {out}: Tx {tuple(res.Tx.shape)} ({res.Tx.dtype}), rows ascending in "
          f"frequency {res.freqs[0]:.4g}..{res.freqs[-1]:.4g}")
    return 0


def _atomic_save_npy(path: Path, inputs: list[Path], array: np.ndarray) -> None:
    path = path.resolve()
    if any(path == p.resolve() for p in inputs):
        raise CLIError(f"{path}: refusing to overwrite an input file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_config(path: Path):
    from .transform import SSQConfig

    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    try:
        text = path.read_text()
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path}: not JSON ({exc})") from None
    if isinstance(d, dict) and "config" in d and "n_freqs" in d:  # a geometry sidecar
        d = d["config"]
        if d is None:
            raise CLIError(f"{path}: the geometry records no transform configuration")
    if not isinstance(d, dict):
        raise CLIError(f"{path}: expected an SSQConfig JSON object")
    return SSQConfig.from_dict(d)


def _cmd_reconstruct(args) -> int:
    from . import phase

    data = Path(args.data)
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    config = _read_config(Path(args.config)) if args.config else None
    opts = dict(method=args.method, n_iter=args.iters, rng=args.seed)
    inputs = [data] + ([Path(args.config)] if args.config else [])
    if data.suffix.lower() == ".png":
        res = phase.reconstruct_from_png(data, config=config, n=args.n,
                                         dynamic_range=args.dynamic_range, **opts)
    else:
        if config is None:
            raise CLIError(f"{data}: magnitudes need --config CONFIG.json (an SSQConfig)")
        mags = _load_signals(data)
        if args.n is not None and mags.shape[-1] != args.n:
            raise CLIError(f"{data}: has {mags.shape[-1]} time columns but --n {args.n}")
        res = phase.retrieve_phase(mags, config, **opts)
    out = Path(args.out)
    _atomic_save_npy(out, inputs, res.x.numpy())
    sc = np.atleast_1d(res.sc_db)
    print(f"wrote {out}: x {tuple(res.x.shape)}, {res.method} {res.n_iter} iterations, "
          f"SC {sc.max():.1f} dB (worst), {res.time_s:.2f} s")
    return 0


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="saliency2signal",
        description="Which parts of a 1D signal made a CNN decide: SSQ-CWT saliency "
        "carried back to the signal.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("transform", help="synchrosqueezed CWT of the signals in a file")
    t.add_argument("data", help=".npy (N,) or (B, N), .npz (array 'x' or the first), or .csv")
    t.add_argument("--key", help="array to read from an .npz (default: 'x' or the first)")
    t.add_argument("--out", help="output .npz (default: DATA_ssq.npz beside the input)")
    t.add_argument("--wavelet", choices=["gmw", "morlet"], default="gmw")
    t.add_argument("--nv", type=int, default=32, help="voices per octave (default 32)")
    t.add_argument("--scaletype", default="log-piecewise",
                   help="log | log-piecewise | linear [:maximal|:minimal|:naive]")
    t.add_argument("--fs", type=float, default=1.0, help="sampling rate (default 1)")
    t.add_argument("--padtype", default="reflect",
                   choices=["reflect", "zero", "symmetric", "replicate", "wrap", "none"])
    t.add_argument("--mu", type=float, default=13.4, help="Morlet centre frequency")
    t.add_argument("--gamma", type=float, default=3.0, help="GMW gamma")
    t.add_argument("--beta", type=float, default=60.0, help="GMW beta")
    t.add_argument("--float64", action="store_true", help="compute in float64")
    t.set_defaults(func=_cmd_transform)

    r = sub.add_parser("reconstruct",
                       help="a signal from magnitude-only scalograms (phase retrieval)")
    r.add_argument("data", help="|W| as .npy/.npz (F, N) or (B, F, N), or a scalogram .png "
                   "from export_scalogram_png (geometry sidecar beside it)")
    r.add_argument("--config", help="SSQConfig JSON (or a geometry sidecar); default for a "
                   "PNG: the configuration recorded in its geometry")
    r.add_argument("--n", type=int, help="signal length (default: the number of columns)")
    r.add_argument("--out", required=True, help="output .npy of the signal(s)")
    r.add_argument("--method", default="fgla", choices=["fgla", "gla", "lbfgs", "adam", "sgd"])
    r.add_argument("--iters", type=int, default=100, help="iterations (default 100)")
    r.add_argument("--seed", type=int, default=0, help="seed of the random start")
    r.add_argument("--dynamic-range", type=float, default=60.0,
                   help="dB range of a log-scale PNG (default 60)")
    r.set_defaults(func=_cmd_reconstruct)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``saliency2signal`` console script."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError) as exc:  # CLIError, and the API's own input errors
        print(f"saliency2signal {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"saliency2signal {args.command}: error: out of memory; process fewer "
              "signals at a time", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"saliency2signal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
