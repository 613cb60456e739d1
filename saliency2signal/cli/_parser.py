"""The argument parser: one function adds each command, with its help.

Method names in the help come from the attribution registry
(:data:`saliency2signal.saliency.METHODS`). Argument errors are printed as one line.

Internal: plain names. May import: ``saliency2signal.saliency`` (the method names),
``saliency2signal.explanation`` (the ``auto`` candidates), ``._version``,
``._commands``, ``._draw``, ``._inputs``, ``._model``, ``._stream``.
"""

from __future__ import annotations

import argparse

from .._version import __version__
from ._commands import (
    cmd_evaluate,
    cmd_explain,
    cmd_info,
    cmd_map,
    cmd_pipeline_init,
    cmd_reconstruct,
    cmd_train,
    cmd_transform,
)
from ._inputs import one_line
from ._model import add_image_options, add_model_options, add_package
from ._stream import add_stream_options

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is in ``--help``)."""

    def error(self, message: str):
        """Print ``PROG: error: MESSAGE`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="saliency2signal",
        description="Which parts of a 1D signal made a CNN decide: SSQ-CWT saliency "
        "carried back to the signal.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="raise a size limit for input you trust, e.g. "
        "--limit max_image_pixels=4194304 (before the command; repeatable; "
        "names: see saliency2signal.limits.Limits)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (
        _add_transform,
        _add_reconstruct,
        _add_train,
        _add_explain,
        _add_map,
        _add_evaluate,
        _add_info,
        _add_pipeline,
        add_package,
        _add_draw,
    ):
        add(sub)
    return p


def _add_transform_options(p, *, helps: bool) -> None:
    """Add the SSQConfig options shared by ``transform`` and ``train``."""

    def h(text):
        return text if helps else None

    p.add_argument("--wavelet", choices=["gmw", "morlet"], default="gmw")
    p.add_argument("--nv", type=int, default=32, help=h("voices per octave (default 32)"))
    p.add_argument(
        "--scaletype",
        default="log-piecewise",
        help=h("log | log-piecewise | linear [:maximal|:minimal|:naive]"),
    )
    p.add_argument("--fs", type=float, default=1.0, help=h("sampling rate (default 1)"))
    if helps:
        p.add_argument(
            "--padtype",
            default="reflect",
            choices=["reflect", "zero", "symmetric", "replicate", "wrap", "none"],
        )
    else:
        p.add_argument("--padtype", default="reflect")
    p.add_argument("--mu", type=float, default=13.4, help=h("Morlet centre frequency"))
    p.add_argument("--gamma", type=float, default=3.0, help=h("GMW gamma"))
    p.add_argument("--beta", type=float, default=60.0, help=h("GMW beta"))


def _add_transform(sub) -> None:
    t = sub.add_parser("transform", help="synchrosqueezed CWT of the signals in a file")
    t.add_argument("data", help=".npy (N,) or (B, N), .npz (array 'x' or the first), or .csv")
    t.add_argument("--key", help="array to read from an .npz (default: 'x' or the first)")
    t.add_argument("--out", help="output .npz (default: DATA_ssq.npz beside the input)")
    _add_transform_options(t, helps=True)
    t.add_argument("--float64", action="store_true", help="compute in float64")
    t.set_defaults(func=cmd_transform)


def _add_reconstruct(sub) -> None:
    r = sub.add_parser(
        "reconstruct", help="a signal from magnitude-only scalograms (phase retrieval)"
    )
    r.add_argument(
        "data",
        help="|W| as .npy/.npz (F, N) or (B, F, N), or a scalogram .png "
        "from export_scalogram_png (geometry sidecar beside it)",
    )
    r.add_argument(
        "--config",
        help="SSQConfig JSON (or a geometry sidecar); default for a "
        "PNG: the configuration recorded in its geometry",
    )
    r.add_argument("--n", type=int, help="signal length (default: the number of columns)")
    r.add_argument("--out", required=True, help="output .npy of the signal(s)")
    r.add_argument("--method", default="fgla", choices=["fgla", "gla", "lbfgs", "adam", "sgd"])
    r.add_argument("--iters", type=int, default=100, help="iterations (default 100)")
    r.add_argument("--seed", type=int, default=0, help="seed of the random start")
    r.add_argument(
        "--dynamic-range",
        type=float,
        default=60.0,
        help="dB range of a log-scale PNG (default 60)",
    )
    r.set_defaults(func=cmd_reconstruct)


def _widths(text: str) -> list[int]:
    """``--widths 16,32,64``: positive block widths."""
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of widths")
    return widths


def _add_train(sub) -> None:
    tr = sub.add_parser(
        "train",
        help="train the bundled CNN on labelled signals, reproducibly",
        description="Defaults: the recipe of the bundled planted-peak model (Morse beta=5, "
        "nv=16, low-pass row; 64x64 log1p images, antialiased, with a mean/std measured "
        "on the training images; six blocks with coordinate channels), early stopping on a "
        "stratified validation split, the best-validation weights kept. The defaults "
        "before it: --nv 32 --beta 60 --no-lowpass-row --normalize minmax --no-antialias "
        "--widths 16,32,64,64 --no-coord-channels --epochs 20 --batch-size 16 --patience 0 "
        "--keep last --axis-name time --axis-units s.",
    )
    tr.add_argument(
        "data",
        help=".npz with signals and labels (x/y or X_train/y_train; "
        "class_names and axis or wavenumbers if present), or .npy/.csv signals with --labels",
    )
    tr.add_argument("--out", required=True, help="output model file (self-describing)")
    tr.add_argument("--key", help="signals array in an .npz")
    tr.add_argument("--label-key", help="labels array in an .npz")
    tr.add_argument("--labels", help="labels file (.npy/.csv), one integer per signal")
    tr.add_argument("--class-names", help="comma-separated names in label order")
    tr.add_argument(
        "--axis",
        help="x values (.npy/.csv), one per sample, e.g. wavenumbers (default: the .npz's "
        "axis or wavenumbers array); recorded in the model",
    )
    tr.add_argument(
        "--axis-name",
        help="name of the signal axis, e.g. wavenumber (default: wavenumber for an .npz "
        "wavenumbers array, sample without an axis, else x)",
    )
    tr.add_argument(
        "--axis-units",
        help="units of the signal axis, e.g. cm^-1 (default: cm^-1 for an .npz "
        "wavenumbers array, samples without an axis, else 'axis units')",
    )
    tr.add_argument("--size", type=int, default=64, help="image height = width (default 64)")
    tr.add_argument("--scale", default="log1p", choices=["linear", "log1p", "db"])
    tr.add_argument(
        "--normalize",
        default="meanstd",
        choices=["meanstd", "minmax", "standardize", "none"],
        help="meanstd: one mean/std measured on the training images (default); minmax, "
        "standardize: per image",
    )
    tr.add_argument(
        "--antialias",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="low-pass the grid when resizing it (default on)",
    )
    tr.add_argument(
        "--widths",
        type=_widths,
        help="comma-separated block widths (default 16,32,32,64,64,64, fewer blocks "
        "for images under 32 pixels)",
    )
    tr.add_argument(
        "--coord-channels",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="CoordConv row/column channels (default on)",
    )
    tr.add_argument("--epochs", type=int, default=100, help="most epochs (default 100)")
    tr.add_argument(
        "--patience",
        type=int,
        default=10,
        help="stop after this many epochs without a lower validation loss; 0: never (default 10)",
    )
    tr.add_argument(
        "--min-epochs", type=int, default=30, help="never stop before this epoch (default 30)"
    )
    tr.add_argument(
        "--keep",
        default="best",
        choices=["best", "last"],
        help="weights to save: the lowest validation loss (default) or the last epoch's",
    )
    tr.add_argument("--batch-size", type=int, default=8, help="default 8")
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="share of each class held out for validation and early stopping (default 0.2)",
    )
    tr.add_argument(
        "--format",
        default="state_dict",
        choices=["state_dict", "export"],
        help="model file format (default state_dict: weights-only state dict "
        "+ JSON metadata; export: a torch.export .pt2 program)",
    )
    _add_transform_options(tr, helps=False)
    tr.set_defaults(nv=16, beta=5.0)  # the recipe's (saliency2signal.models.DEFAULT_TRANSFORM)
    tr.add_argument(
        "--lowpass-row",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the low-pass (baseline) content as image row 0 (default on)",
    )
    tr.add_argument("--float64", action="store_true", help="transform in float64")
    tr.set_defaults(func=cmd_train)


def _add_regions_file(p, whose: str) -> None:
    p.add_argument(
        "--regions",
        metavar="MASK",
        help=f"your own regions instead of {whose}: a mask file saved by "
        "`saliency2signal draw` (.npz with its .json) or a painted scalogram .png "
        "(export_scalogram_png); one label image for every signal, or one per signal",
    )


def _add_region_options(p, *, out_default: str) -> None:
    """Add the options ``explain`` and ``evaluate`` share: inputs, target, regions, run."""
    p.add_argument(
        "model",
        help="a model file: written by `saliency2signal train`/save_model/package, or "
        "your own (a state dict with --arch, a torch.export or TorchScript file, a "
        "pickled model with --trust, an ONNX or Keras 3 file; with --pipeline)",
    )
    p.add_argument(
        "data",
        help=".npy (N,) or (B, N), .npz (x / X_test / the first array; "
        "axis and labels are read from it when present), or .csv",
    )
    p.add_argument("--out", help=f"new output folder (default: {out_default})")
    p.add_argument("--key", help="signals array in an .npz")
    p.add_argument("--target", default="predicted", help="predicted | label | INDEX")
    p.add_argument("--labels", help="labels file (.npy/.csv), one integer per signal")
    p.add_argument("--axis", help="x-axis values (.npy/.csv), e.g. wavenumbers")
    p.add_argument(
        "--keep-mass",
        type=float,
        default=0.8,
        help="fraction of the positive attribution mass kept (default 0.8)",
    )
    p.add_argument("--max-regions", type=int, default=5)
    p.add_argument(
        "--min-share",
        type=float,
        default=0.02,
        help="drop regions below this share of the attribution mass (default 0.02)",
    )
    add_model_options(p)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument(
        "--batch-size",
        type=int,
        help="signals per attribution batch (default: explain chooses it within --memory, "
        "at most 16; evaluate 16)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")


def _add_figures(p) -> None:
    """``--figures all|overview|none`` and its alias ``--no-figures`` (explain, map)."""
    p.add_argument(
        "--figures",
        choices=("all", "overview", "none"),
        default="all",
        help="PNG figures to draw: all (the overview's and three per signal, drawn in "
        "parallel processes), overview (one per class: fast on large studies) or none; "
        "every signal gets its page either way (default all)",
    )
    p.add_argument(
        "--no-figures",
        dest="figures",
        action="store_const",
        const="none",
        help="the same as --figures none",
    )


def _add_explain(sub) -> None:
    from ..explanation import AUTO_CANDIDATES
    from ..saliency import METHODS

    ex = sub.add_parser("explain", help="which parts of each signal made the model decide")
    _add_region_options(ex, out_default="DATA_explained")
    _add_figures(ex)
    ex.add_argument(
        "--method",
        default="integrated_gradients",
        help=f"attribution method: {' | '.join(METHODS)}; METHOD+smoothgrad "
        "(smoothgrad_sq, vargrad) for a noise tunnel; auto: compare "
        f"{', '.join(AUTO_CANDIDATES)} on 8 signals by their verdicts and explain "
        "with the most faithful",
    )
    ex.add_argument(
        "--n-null",
        type=int,
        default=20,
        help="the verdict on each explanation: matched random regions per region its "
        "deletion must beat (default 20, the fewest for a 95 %% level; 0: no verdict)",
    )
    ex.add_argument("--seed", type=int, default=0, help="seed of the null draws (default 0)")
    ex.add_argument(
        "--reference",
        default="auto",
        help="what each explanation is relative to (attribution baseline, contrasts, "
        "deletions, band changes): auto (default: class_means when the model file "
        "records its training class means, as saliency2signal train writes, else zero), "
        "class_means (each spectrum against the mean of its foil, the most probable "
        "other class), zero (no reference), mean (the mean of the signals) or an array "
        "file (.npy/.csv, one signal or one per signal)",
    )
    add_image_options(ex)
    _add_regions_file(ex, "the attribution's")
    ex.add_argument(
        "--no-peaks",
        action="store_true",
        help="do not read each region as a fitted band (the peak under it whose deletion "
        "the model feels most)",
    )
    add_stream_options(ex)
    ex.set_defaults(func=cmd_explain)


def _add_map(sub) -> None:
    mp = sub.add_parser(
        "map",
        help="map the heatmaps of a saliency study you already ran (Grad-CAM images, "
        "arrays) back to regions and signal components",
    )
    mp.add_argument(
        "heatmaps",
        help="an .npy/.npz stack, one heatmap per signal, on the model's image grid "
        "(K, [C,] H, W) or on the transform's grid (K, n_freqs, n_times); or a folder of "
        "PNG/JPEG/TIFF heatmaps (names ending in the signal's index, else in order)",
    )
    mp.add_argument("data", help="the signals, as for explain")
    mp.add_argument("--out", help="new output folder (default: DATA_mapped)")
    mp.add_argument("--key", help="signals array in an .npz")
    mp.add_argument("--heatmaps-key", help="heatmaps array in an .npz (default: the first)")
    mp.add_argument(
        "--model",
        help="the model (optional): with it, probabilities, deletion checks, verdicts and "
        "band readings; its file may stand in for --pipeline when it records the pipeline",
    )
    mp.add_argument(
        "--grid",
        default="auto",
        choices=["auto", "image", "native"],
        help="where the heatmaps lie (default: told by their shape)",
    )
    mp.add_argument(
        "--order",
        default="ours",
        choices=["ours", "ssqueezepy"],
        help="row order of native-grid heatmaps and of --coefficients: ssqueezepy for "
        "arrays made on ssqueezepy.ssq_cwt's Tx (highest frequency first)",
    )
    mp.add_argument(
        "--coefficients",
        help="your Tx of the signals (.npy/.npz, complex), checked against the transform "
        "recomputed here: another row order or configuration is refused",
    )
    mp.add_argument("--coefficients-key", help="Tx array in an .npz")
    mp.add_argument(
        "--colormap",
        help="the matplotlib colormap of heatmap images (default: grey levels)",
    )
    mp.add_argument(
        "--scalograms",
        help="a folder with the plain scalogram images, when the heatmaps were blended "
        "over them (needs --colormap; the blend weight is estimated per image)",
    )
    mp.add_argument(
        "--target",
        default="predicted",
        help="the class the heatmaps explain: INDEX or NAME (default: the model's "
        "prediction; without a model, the first class)",
    )
    mp.add_argument("--labels", help="labels file (.npy/.csv), one per signal")
    mp.add_argument("--axis", help="x-axis values (.npy/.csv), e.g. wavenumbers")
    _add_regions_file(mp, "the heatmaps'")
    mp.add_argument("--keep-mass", type=float, default=0.8)
    mp.add_argument("--max-regions", type=int, default=5)
    mp.add_argument("--min-share", type=float, default=0.02)
    mp.add_argument("--n-null", type=int, default=20, help="verdict null draws (with --model)")
    mp.add_argument("--seed", type=int, default=0)
    mp.add_argument("--no-peaks", action="store_true", help="no band reading (with --model)")
    add_model_options(mp, explain=False)
    mp.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    mp.add_argument("--batch-size", type=int, default=16)
    _add_figures(mp)
    mp.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    mp.set_defaults(func=cmd_map)


def _add_evaluate(sub) -> None:
    ev = sub.add_parser(
        "evaluate",
        help="are the explanations faithful? round-trip deletion "
        "against matched random regions, ground truth, randomisation",
    )
    _add_region_options(ev, out_default="DATA_evaluated")
    ev.add_argument("--no-figures", action="store_true", help="report and arrays only")
    ev.add_argument(
        "--methods",
        help="comma-separated attribution methods (as for explain; "
        "saliency+smoothgrad for a noise tunnel) and time_gradient (default "
        "integrated_gradients; rise for a model without gradients, --black-box); "
        "from an .npz, ground truth (components_* and windows_*, matched to --key) "
        "is read too",
    )
    ev.add_argument(
        "--n-null",
        type=int,
        default=50,
        help="matched random regions per explanation region (default 50)",
    )
    ev.add_argument(
        "--randomization",
        choices=["cascade", "full", "none"],
        help="model-randomisation sanity check (default cascade; none for a model "
        "without gradients, which has no parameters to randomise)",
    )
    ev.add_argument(
        "--no-truth", action="store_true", help="ignore ground-truth arrays in the .npz"
    )
    ev.add_argument("--seed", type=int, default=0, help="seed of the null draws (default 0)")
    add_stream_options(ev, attribution=False)
    ev.set_defaults(func=cmd_evaluate)


def _add_info(sub) -> None:
    info = sub.add_parser("info", help="show a model file's format and embedded configuration")
    info.add_argument("model")
    add_model_options(info, explain=False)
    info.set_defaults(func=cmd_info)


def _add_pipeline(sub) -> None:
    pl = sub.add_parser(
        "pipeline", help="pipeline files: what your own model saw (transform, imaging steps)"
    )
    actions = pl.add_subparsers(dest="action", required=True)
    init = actions.add_parser(
        "init",
        help="write a commented pipeline.toml template (ssq_cwt(x, wavelet='gmw', nv=64), "
        "log1p, 128x128 resize, min-max, viridis, uint8) to edit",
    )
    init.add_argument(
        "--out", default="pipeline.toml", help="file to write (default pipeline.toml)"
    )
    init.add_argument("--overwrite", action="store_true", help="replace an existing file")
    init.set_defaults(func=cmd_pipeline_init)


def _add_draw(sub) -> None:
    from ._draw import add_draw_options, cmd_draw  # bokeh only loads when draw runs

    dr = sub.add_parser(
        "draw",
        help="draw regions on a signal's scalogram in a local web app and see their "
        "components (and the model's response) as you draw",
    )
    add_draw_options(dr)
    dr.set_defaults(func=cmd_draw)
