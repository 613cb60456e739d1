"""``saliency2signal draw``: the region explorer as a local web app.

Reads the signals (and an axis stored beside them), the model (``--model``, weights-only
unless ``--trust``) or the pipeline (``--pipeline``), and an explanation folder's label
images (``--explanation``), then serves :func:`saliency2signal.explorer.serve` on
127.0.0.1 until Ctrl-C. Bokeh is imported only when the command runs.

Internal: plain names. May import: the package's public modules (inside the command),
``._inputs``, ``._model``; never ``._parser``.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from ._inputs import CLIError, companion, load_signals
from ._model import add_model_options, load_run_model

__all__ = ["add_draw_options", "cmd_draw"]


def add_draw_options(p) -> None:
    """Add the options of ``draw`` (the parser adds the command)."""
    p.add_argument("data", help="the signals (.npy/.npz/.csv), one per row")
    p.add_argument("--key", help="signals array in an .npz")
    p.add_argument(
        "--axis",
        help="x-axis values (.npy/.csv), e.g. wavenumbers (default: an 'axis' array beside "
        "the signals in an .npz, else the model's)",
    )
    p.add_argument(
        "--model",
        help="the model: with it, the class probabilities with the drawn regions deleted",
    )
    add_model_options(p, explain=False)
    p.add_argument(
        "--explanation",
        help="a folder written by explain or map: its regions, offered by 'Snap to explanation'",
    )
    p.add_argument(
        "--plane",
        choices=["ssq", "cwt"],
        default="ssq",
        help="draw on the synchrosqueezed plane (default: what the model sees and explain "
        "explains) or on the CWT plane (components by the CWT's inverse)",
    )
    p.add_argument("--signal", type=int, default=0, help="the signal shown first (default 0)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    p.add_argument(
        "--open",
        dest="open_browser",
        action="store_true",
        help="open the page in the default web browser",
    )
    p.add_argument(
        "--no-browser",
        dest="open_browser",
        action="store_false",
        help="do not open a browser (the default): just print the URL",
    )


def _model(args, n_times: int):
    """Return the model (or ``None``) and its metadata: --model, else --pipeline, else none."""
    from ..metadata import ModelMetadata
    from ..pipeline import load_pipeline

    if args.model:
        if not Path(args.model).is_file():
            raise CLIError(f"{args.model}: no such file")
        loaded = load_run_model(args, n_times)
        return loaded.model, loaded.metadata
    if args.pipeline:
        pipeline = load_pipeline(args.pipeline)
        n = pipeline.n_times if pipeline.n_times is not None else n_times
        return None, ModelMetadata.from_pipeline(pipeline, n_times=n)
    return None, None


def _explanation(folder: str) -> np.ndarray:
    path = Path(folder) / "components.npz"
    if not Path(folder).is_dir():
        raise CLIError(f"{folder}: no such folder (an explain or map output folder)")
    if not path.is_file():
        raise CLIError(f"{folder}: holds no components.npz (not an explain or map folder)")
    with np.load(path, allow_pickle=False) as z:
        if "labels" not in z.files:
            raise CLIError(f"{path}: holds no 'labels' array")
        labels = z["labels"]
    if labels.ndim != 3 or labels.dtype.kind not in "iu":
        raise CLIError(
            f"{path}: 'labels' has shape {labels.shape} and dtype {labels.dtype}; expected "
            "integer label images (B, n_freqs, n_times)"
        )
    return labels


def cmd_draw(args) -> int:
    """``draw DATA``: serve the explorer on 127.0.0.1 until Ctrl-C."""
    data = Path(args.data)
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    try:
        from ..explorer import serve
    except ImportError as exc:
        raise CLIError(
            f"draw needs bokeh ({exc}); install it with: pip install 'saliency2signal[app]'"
        ) from None
    x = load_signals(data, args.key)
    if x.ndim not in (1, 2):
        raise CLIError(f"{data}: expected signals of shape (N,) or (B, N), got {x.shape}")
    x = x.reshape(-1, x.shape[-1])
    if not 0 <= args.signal < x.shape[0]:
        raise CLIError(f"--signal {args.signal}: {data} holds signals 0..{x.shape[0] - 1}")
    if not 0 <= args.port < 65536:
        raise CLIError(f"--port {args.port} must lie in 0..65535")
    axis = load_signals(Path(args.axis)) if args.axis else companion(data, args.key, "axis")
    model, metadata = _model(args, x.shape[-1])
    explanation = _explanation(args.explanation) if args.explanation else None
    if explanation is not None and explanation.shape[0] != x.shape[0]:
        print(
            f"saliency2signal draw: note: the explanation has {explanation.shape[0]} "
            f"signal(s), {data} holds {x.shape[0]}; snapping uses the same indices",
            file=sys.stderr,
        )
    try:
        app = serve(
            x,
            model=model,
            metadata=metadata,
            axis=axis,
            explanation=explanation,
            data_path=data,
            signal=args.signal,
            plane=args.plane,
            port=args.port or None,
            show_url=None,
        )
    except OSError as exc:
        raise CLIError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    print(f"saliency2signal draw: serving {data} at {app.url} (Ctrl-C to stop)", flush=True)
    if args.open_browser:
        import webbrowser

        webbrowser.open(app.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
    print("saliency2signal draw: stopped", flush=True)
    return 0
