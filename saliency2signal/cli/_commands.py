"""One function per command: read the inputs, call the public API, write the outputs.

No numerics here. Each ``cmd_*`` takes the parsed arguments and returns the exit status;
bad input raises :class:`~saliency2signal.cli._inputs.CLIError` (or the API's own
``ValueError``/``TypeError``), which :func:`~saliency2signal.cli.main` prints as one line.

Internal: plain names. May import: any public module of the package (inside the command
that needs it) and ``._inputs``; never ``._parser``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from ._inputs import (
    CLIError,
    atomic_save_npy,
    atomic_savez,
    check_out,
    companion,
    config_from_args,
    input_paths,
    load_array,
    load_labels,
    load_signals,
    parse_reference,
    parse_target,
    progress_bar,
    read_config,
    read_labels,
    region_inputs,
    task_labels,
)
from ._model import (
    check_accuracy,
    check_images,
    load_run_model,
)

__all__ = [
    "cmd_evaluate",
    "cmd_explain",
    "cmd_info",
    "cmd_map",
    "cmd_reconstruct",
    "cmd_train",
    "cmd_transform",
]


def cmd_transform(args) -> int:
    from ..transform import ssq_cwt

    data = Path(args.data)
    out = Path(args.out) if args.out else data.with_name(data.stem + "_ssq.npz")
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    check_out(out, args, folder=False, overwrite=True, parents=True)
    x = load_signals(data, args.key)
    cfg = config_from_args(args)
    res = ssq_cwt(x, cfg)
    atomic_savez(
        out,
        input_paths(args),
        Tx=res.Tx.numpy(),
        Wx=res.Wx.numpy(),
        freqs=res.freqs,
        scales=res.scales,
        lowpass=res.lowpass.numpy(),
        config=np.array(cfg.to_json()),
    )
    print(
        f"wrote {out}: Tx {tuple(res.Tx.shape)} ({res.Tx.dtype}), rows ascending in "
        f"frequency {res.freqs[0]:.4g}..{res.freqs[-1]:.4g}"
    )
    return 0


def cmd_reconstruct(args) -> int:
    from .. import phase

    data = Path(args.data)
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    out = Path(args.out)
    check_out(out, args, folder=False, overwrite=True, parents=True)
    config = read_config(Path(args.config)) if args.config else None
    opts = dict(method=args.method, n_iter=args.iters, rng=args.seed)
    if data.suffix.lower() == ".png":
        res = phase.reconstruct_from_png(
            data, config=config, n=args.n, dynamic_range=args.dynamic_range, **opts
        )
    else:
        if config is None:
            raise CLIError(f"{data}: magnitudes need --config CONFIG.json (an SSQConfig)")
        mags = load_signals(data)
        if args.n is not None and mags.shape[-1] != args.n:
            raise CLIError(f"{data}: has {mags.shape[-1]} time columns but --n {args.n}")
        res = phase.retrieve_phase(mags, config, **opts)
    atomic_save_npy(out, input_paths(args), res.x.numpy())
    sc = np.atleast_1d(res.sc_db)
    print(
        f"wrote {out}: x {tuple(res.x.shape)}, {res.method} {res.n_iter} iterations, "
        f"SC {sc.max():.1f} dB (worst), {res.time_s:.2f} s"
    )
    return 0


def _train_axis(data: Path, args) -> tuple[np.ndarray | None, str | None, str | None]:
    """Return the x values for ``train``, and the axis name and units they imply.

    ``--axis``, else the ``.npz``'s ``axis`` array (as ``explain`` reads it), else its
    ``wavenumbers`` array (then ``wavenumber``/``cm^-1`` unless given).
    """
    name, units = args.axis_name, args.axis_units
    if args.axis:
        return load_signals(Path(args.axis)), name, units
    values = companion(data, args.key, "axis")
    if values is None and data.suffix.lower() == ".npz":
        with np.load(data, allow_pickle=False) as z:
            has_wavenumbers = "wavenumbers" in z.files
        if has_wavenumbers:
            values = load_signals(data, "wavenumbers")
            name = "wavenumber" if name is None else name
            units = "cm^-1" if units is None else units
    return values, name, units


def cmd_train(args) -> int:
    import dataclasses

    from ..imaging import ImagingConfig
    from ..io import save_model
    from ..models import default_architecture, train_classifier

    data, out = Path(args.data), Path(args.out)
    if not data.is_file():
        raise CLIError(f"{data}: no such file")
    check_out(out, args, folder=False, overwrite=False)
    x, y, names = load_labels(data, args)
    axis, axis_name, axis_units = _train_axis(data, args)
    cfg = dataclasses.replace(config_from_args(args), lowpass_row=args.lowpass_row)
    meanstd = args.normalize == "meanstd"  # measured on the training images
    imaging = ImagingConfig(
        scale=args.scale,
        size=(args.size, args.size),
        antialias=args.antialias,
        normalize="none" if meanstd else args.normalize,
    )
    architecture = default_architecture((args.size, args.size), coord_channels=args.coord_channels)
    if args.widths is not None:
        architecture["widths"] = args.widths
    tty = sys.stderr.isatty()

    def progress(stats) -> None:  # one line per epoch, redrawn in place on a terminal
        bar = "#" * int(20 * stats.epoch / args.epochs)
        val = (
            ""
            if math.isnan(stats.val_loss)
            else f" | val loss {stats.val_loss:.3f} acc {stats.val_accuracy:.3f}"
            f" | best epoch {stats.best_epoch}"
        )
        print(
            f"[{bar:<20}] epoch {stats.epoch}/{args.epochs} train loss {stats.train_loss:.3f} "
            f"acc {stats.train_accuracy:.3f}{val}",
            end="\r" if tty else "\n",
            file=sys.stderr,
            flush=True,
        )

    trained = train_classifier(
        x,
        y,
        transform_config=cfg,
        imaging_config=imaging,
        fit_meanstd=meanstd,
        class_names=names,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        val_fraction=args.val_fraction,
        patience=args.patience or None,
        min_epochs=args.min_epochs,
        restore_best=args.keep == "best",
        progress=progress,
        architecture_kwargs=architecture,
        axis=axis,
        axis_name=axis_name,
        axis_units=axis_units,
    )
    if tty:
        print(file=sys.stderr)
    save_model(trained.model, out, metadata=trained.metadata, format=args.format)
    best, meta = trained.best, trained.metadata
    stop = ", stopped early" if trained.stopped_early else ""
    print(
        f"wrote {out}: {len(names)} classes, weights of epoch {trained.best_epoch} of "
        f"{len(trained.history)}{stop}, train acc {best.train_accuracy:.3f}, "
        f"val acc {best.val_accuracy:.3f}; axis {meta.axis_name} ({meta.axis_units})"
    )
    return 0


def cmd_explain(args) -> int:
    from ..explanation import explain
    from ..saliency import methods as saliency_methods
    from ._stream import cmd_explain_stream, streamed

    stream, loaded, planned_batch = streamed(args)
    if stream and args.regions:
        raise CLIError("--regions explains one run in memory; it is not available streamed")
    if stream:
        return cmd_explain_stream(args, loaded)
    batch_size = args.batch_size or planned_batch or 16
    drawn = read_regions(args.regions)
    inputs = region_inputs(args, "_explained")
    x, labels, axis = inputs.x, inputs.labels, inputs.axis
    # layer methods hook a submodule: rebuild the architecture around the weights
    rebuild = args.method.partition("+")[0] in saliency_methods("layer")
    if loaded is None:
        loaded = load_run_model(args, x.shape[-1], device=args.device, rebuild=rebuild)
    labels = task_labels(args, inputs.data, labels, loaded.metadata.task)
    checked = check_images(args, loaded, x, batch_size=batch_size, device=args.device)
    target = parse_target(args.target)
    ex = explain(
        loaded.model,
        x,
        metadata=loaded.metadata,
        method=args.method,
        target=target,
        labels=labels,
        axis=axis,
        keep_mass=args.keep_mass,
        max_regions=args.max_regions,
        min_share=args.min_share,
        batch_size=batch_size,
        device=args.device,
        progress=progress_bar("explaining"),
        n_null=args.n_null,
        seed=args.seed,
        reference=parse_reference(args.reference),
        peaks=not args.no_peaks,
        attribute_options={"layer": args.layer} if args.layer else None,
        regions=drawn,
    )
    if drawn is not None:
        ex = ex.with_settings(regions=_regions_record(args.regions, drawn))
    if not checked:
        checked = check_accuracy(ex.predictions, labels)
    if checked:
        ex = ex.with_settings(input_check=checked)
    path = ex.save(inputs.out, figures=args.figures, overwrite=args.overwrite)
    n = len(ex.predictions)
    print(
        f"wrote {path}: {n} signal(s), report.json, summary.csv, components.npz, "
        f"index.html, a page per signal{_figures_written(args.figures)}"
    )
    _print_overview(path, ex.axis_units)
    sel = ex.settings.get("method_selection")
    if sel is not None:
        print(f"method auto chose {sel['reason']}")
    ref = ex.settings.get("reference")
    if ref == "class_means":
        print(
            "contrastive: each signal explained against the mean training signal of its "
            "foil class (the most probable other class; --reference zero for none)"
        )
    elif ref != "zero":
        print(f"explained relative to the reference ({ref}); --reference zero for none")
    v = ex.verdict_summary()
    if v is not None:
        print(
            f"faithfulness: {v['better_than_chance']} of {n} explanation(s) better than "
            f"chance, {v['mixed']} mixed, {v['not_better_than_chance']} not better than "
            f"chance ({v['contradicted']} contradicted: deleting the top region raises p)"
        )
    cost = ex.settings.get("cost")
    if cost is not None:
        print(
            f"attribution cost: {cost['attribution_model_calls']} model call(s), "
            f"{cost['attribution_model_images']} image(s), "
            f"{cost['attribution_images_per_signal']:.1f} per signal"
        )
    return 0


def read_regions(path):
    """``--regions MASK``: the drawn regions (a DrawnMask), or ``None``; one-line errors."""
    if not path:
        return None
    from ..drawing import load_mask

    try:
        return load_mask(Path(path))
    except (OSError, ValueError, TypeError) as exc:
        raise CLIError(f"--regions {path}: {exc}") from None


def _regions_record(path, drawn) -> dict:
    """Return what a report records of ``--regions``: the file and its regions."""
    labels = getattr(drawn, "labels", drawn)
    return {"file": str(path), "n_regions": int(np.count_nonzero(np.unique(labels)))}


def _figures_written(figures: str) -> str:
    """Say which figures a report got (``--figures``)."""
    return {"all": ", figures", "overview": ", the overview's figures", "none": ""}[figures]


def _print_overview(path: Path, units: str) -> None:
    """Print the report's overview: misclassified signals, each class's top band."""
    summary = json.loads((Path(path) / "report.json").read_text(encoding="utf-8"))["summary"]
    wrong = summary["misclassified"]
    if wrong:
        print(
            "misclassified: "
            + ", ".join(f"{m['index']} ({m['label']} predicted {m['prediction']})" for m in wrong)
        )
    for c in summary["classes"]:
        if c["bands"] and None not in c["bands"][0]["x_range"]:
            b = c["bands"][0]
            lo, hi = b["x_range"]
            print(
                f"{c['name']}: top band {lo:.4g}-{hi:.4g} {units} in {b['n_signals']} of "
                f"{c['n_signals']} signal(s), {b['evidence'] or 0:.0%} of the attribution each"
            )
    contra = summary["contradicting"]
    if contra and contra["n_contradicting"]:
        print(
            f"contradicting: {contra['n_contradicting']} of {contra['n_regions']} regions "
            f"(deleting them raises {'the output' if summary['task'] == 'regression' else 'p'}"
            "; marked in index.html)"
        )


def cmd_map(args) -> int:
    """``map HEATMAPS DATA``: heatmaps of a finished study back to regions and components."""
    from ..explanation import map_heatmaps

    data, heat_path = Path(args.data), Path(args.heatmaps)
    if not heat_path.exists():
        raise CLIError(f"{heat_path}: no such file or folder")
    if not (args.pipeline or args.model):
        raise CLIError(
            "map needs --pipeline (what the model saw) or --model (a model file that records it)"
        )
    out = Path(args.out) if args.out else data.with_name(data.stem + "_mapped")
    check_out(out, args, folder=True, overwrite=args.overwrite)
    x = load_signals(data, args.key)
    if x.ndim not in (1, 2):
        raise CLIError(f"{data}: expected signals of shape (N,) or (B, N), got {x.shape}")
    x = x.reshape(-1, x.shape[-1])
    labels = read_labels(Path(args.labels), x) if args.labels else None
    axis = load_signals(Path(args.axis)) if args.axis else companion(data, args.key, "axis")
    model, metadata = _map_model(args, x.shape[-1])
    labels = task_labels(args, data, labels, metadata.task)
    heat, indices, source = _read_heatmaps(args, heat_path, x.shape[0])
    if indices is not None:
        x = x[indices]
        labels = None if labels is None else labels[indices]
    coefficients = None
    if args.coefficients:
        coefficients = load_array(Path(args.coefficients), args.coefficients_key)
        if indices is not None and coefficients.ndim == 3:
            coefficients = coefficients[indices]
    target = None if args.target == "predicted" else _map_target(args.target)
    drawn = read_regions(args.regions)
    if drawn is not None and indices is not None and drawn.labels.ndim == 3:
        drawn = drawn.labels[indices]
    ex = map_heatmaps(
        heat,
        x,
        metadata=metadata,
        grid=args.grid,
        order=args.order,
        coefficients=coefficients,
        model=model,
        target=target,
        labels=labels,
        axis=axis,
        keep_mass=args.keep_mass,
        max_regions=args.max_regions,
        min_share=args.min_share,
        n_null=args.n_null,
        seed=args.seed,
        peaks=not args.no_peaks,
        batch_size=args.batch_size,
        device=args.device,
        progress=progress_bar("mapping"),
        source=source,
        regions=drawn,
    )
    if drawn is not None:
        ex = ex.with_settings(regions=_regions_record(args.regions, drawn))
    path = ex.save(out, figures=args.figures, overwrite=args.overwrite)
    print(
        f"wrote {path}: {ex.n_samples} signal(s) mapped from {source['source']} heatmaps "
        f"({ex.settings['heatmaps']['grid']} grid), report.json, components.npz, "
        f"index.html, a page per signal{_figures_written(args.figures)}"
    )
    if model is None and target is None:
        print(
            f"no --model: the heatmaps were taken to explain {ex.class_names[0]!r}, the "
            "first class (--target NAME|INDEX to say which)",
            file=sys.stderr,
        )
    v = ex.verdict_summary()
    if v is not None:
        print(
            f"faithfulness: {v['better_than_chance']} of {ex.n_samples} explanation(s) "
            f"better than chance, {v['mixed']} mixed, {v['not_better_than_chance']} not "
            "better than chance"
        )
    return 0


def _map_target(value: str):
    """``--target`` of ``map``: a class index, else a class name."""
    try:
        return int(value)
    except ValueError:
        return value


def _map_model(args, n_times: int):
    """Return the model (or ``None``) and the metadata of ``map``: --model, else --pipeline."""
    from ..metadata import ModelMetadata
    from ..pipeline import load_pipeline

    if args.model:
        if not Path(args.model).is_file():
            raise CLIError(f"{args.model}: no such file")
        loaded = load_run_model(args, n_times, device=args.device)
        return loaded.model, loaded.metadata
    pipeline = load_pipeline(args.pipeline)
    n = pipeline.n_times if pipeline.n_times is not None else n_times
    return None, ModelMetadata.from_pipeline(pipeline, n_times=n)


def _read_heatmaps(args, path: Path, n_signals: int):
    """Return the heatmaps, the signals they belong to (``None``: all) and their source."""
    from ..heatmaps import read_heatmap_images

    if path.is_dir():
        read = read_heatmap_images(
            path, colormap=args.colormap, scalograms=args.scalograms, n_signals=n_signals
        )
        indices = None if list(read.indices) == list(range(n_signals)) else list(read.indices)
        source = {
            "source": "images",
            "path": str(path),
            "colormap": read.colormap,
            "alphas": None if read.alphas is None else list(read.alphas),
            "indices": indices,
        }
        return read.values, indices, source
    if args.colormap or args.scalograms:
        raise CLIError("--colormap and --scalograms are for a folder of heatmap images")
    heat = load_array(path, args.heatmaps_key)
    if heat.dtype.kind not in "iuf":
        raise CLIError(f"{path}: heatmaps must be real numbers (dtype {heat.dtype})")
    n = heat.shape[0] if heat.ndim >= 3 else 1
    indices = list(range(n)) if heat.ndim >= 3 and n < n_signals else None
    return heat, indices, {"source": "array", "path": str(path), "indices": indices}


def cmd_evaluate(args) -> int:
    from ..blackbox import is_black_box
    from ..evaluation import BLACK_BOX_METHODS, DEFAULT_METHODS, evaluate
    from ..saliency import methods as saliency_methods
    from ._stream import cmd_evaluate_stream, streamed

    stream, loaded, _ = streamed(args, kind="evaluate")
    if stream:
        return cmd_evaluate_stream(args, loaded)
    inputs = region_inputs(args, "_evaluated")
    x, labels, axis, data = inputs.x, inputs.labels, inputs.axis, inputs.data
    target = parse_target(args.target)
    truth = None
    if not args.no_truth:
        comps = companion(data, args.key, "components")
        wins = companion(data, args.key, "windows")
        if comps is not None and wins is not None:
            truth = {"components": comps, "windows": wins}
    given = [m.strip() for m in (args.methods or "").split(",") if m.strip()]
    # layer methods hook a submodule: rebuild the registered architecture around the weights
    rebuild = any(m.partition("+")[0] in saliency_methods("layer") for m in given)
    if loaded is None:
        loaded = load_run_model(args, x.shape[-1], device=args.device, rebuild=rebuild)
    labels = task_labels(args, data, labels, loaded.metadata.task)
    # the defaults depend on the model: a black box has no gradients and no parameters
    black_box = is_black_box(loaded.model)
    methods = given or list(BLACK_BOX_METHODS if black_box else DEFAULT_METHODS)
    randomization = args.randomization or ("none" if black_box else "cascade")
    layered = [m for m in methods if m.partition("+")[0] in saliency_methods("layer")]
    method_options = {m: {"layer": args.layer} for m in layered} if args.layer else None
    bar = progress_bar("evaluating")
    total = 3 * len(methods) if randomization != "none" else 2 * len(methods)
    count = [0]

    def progress(stage: str, done: int, n: int) -> None:
        count[0] += 1
        bar(count[0], total)

    ev = evaluate(
        loaded.model,
        x,
        metadata=loaded.metadata,
        methods=methods,
        target=target,
        labels=labels,
        axis=axis,
        truth=truth,
        n_null=args.n_null,
        randomization=randomization,
        keep_mass=args.keep_mass,
        max_regions=args.max_regions,
        min_share=args.min_share,
        seed=args.seed,
        batch_size=args.batch_size or 16,
        device=args.device,
        progress=progress,
        method_options=method_options,
    )
    path = ev.save(inputs.out, figures=not args.no_figures, overwrite=args.overwrite)
    cols = [
        "method",
        "deletion_auc",
        "null_deletion_auc",
        "top_drop_percentile",
        "share_top_drop_beats_95",
        "insertion_auc",
    ]
    if truth is not None:
        cols += ["energy_in_window", "share_energy_in_window_80"]
    if randomization != "none":
        cols.append("randomized_spearman")
    rows = ev.table()
    print("  ".join(cols))
    for r in rows:
        print(
            "  ".join(
                r["method"] if c == "method" else ("-" if r.get(c) is None else f"{r[c]:.3f}")
                for c in cols
            )
        )
    print(
        f"wrote {path}: {len(ev.target)} signal(s), {len(rows)} method(s), summary.csv, "
        f"samples.csv, evaluation.json, curves.npz"
        f"{'' if args.no_figures else ', figures'}"
        f"{'' if truth is None else '; ground truth from ' + data.name}"
    )
    return 0


def cmd_info(args) -> int:
    from ..io import FORMAT_DESCRIPTIONS

    loaded = load_run_model(args, None)
    print(
        json.dumps(
            {
                "file": str(loaded.path),
                "format": loaded.format,
                "format_description": FORMAT_DESCRIPTIONS[loaded.format],
                "metadata": json.loads(loaded.metadata.to_json()),
            },
            indent=2,
            sort_keys=True,
        )
    )
    return 0


def cmd_pipeline_init(args) -> int:
    from .._files import atomic_write
    from ..pipeline import load_pipeline, pipeline_template

    text = pipeline_template()
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out}: already exists (pass --overwrite to replace it)")

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    path = atomic_write(out, write, overwrite=args.overwrite)
    load_pipeline(path)  # the template is a valid pipeline file
    print(f"wrote {path}: a commented pipeline template; edit it to describe your images")
    return 0
