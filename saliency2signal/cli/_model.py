"""The researcher's own model on the command line: its file, its pipeline, its images.

``explain``, ``evaluate`` and ``info`` take a model file of any accepted kind; one without
saliency2signal metadata needs ``--pipeline`` (what the model sees) and, for a state
dict, ``--arch`` (the network's class). ONNX and Keras files need ``--pipeline`` only
(``--black-box`` runs an ONNX file by onnxruntime; ``--outputs`` says what the network
returns when the probe images cannot tell). ``explain`` checks the images made here against
the researcher's own (``--images``) and refuses to explain a model that disagrees with
itself on them.

Internal to :mod:`saliency2signal.cli`. May import: the package, ``._inputs``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ._inputs import CLIError, check_out, load_array

__all__ = [
    "TRUST_HELP",
    "add_image_options",
    "add_model_options",
    "add_package",
    "cmd_package",
    "check_accuracy",
    "check_images",
    "load_run_model",
]

TRUST_HELP = (
    "unpickle a whole pickled model (torch.save(model)): only for a file you made or "
    "trust, since unpickling runs whatever code the file names; without it such files "
    "are refused and state dicts are read weights-only"
)


def add_model_options(p, *, explain: bool = True) -> None:
    """Add ``--pipeline``, ``--arch``, ``--arch-kwargs``, ``--trust``, ``--black-box``, ...."""
    p.add_argument(
        "--pipeline",
        help="pipeline.toml describing what your model saw (transform, imaging steps, "
        "classes, axis): needed for a model file without saliency2signal metadata; "
        "`saliency2signal pipeline init` writes a template",
    )
    p.add_argument(
        "--arch",
        help="your network's class, for a state dict: module.path:Class or "
        "path/to/nets.py:Class (your code, imported because you name it)",
    )
    p.add_argument(
        "--arch-kwargs",
        default="{}",
        help="JSON keyword arguments of the class, e.g. '{\"n_classes\": 3}'",
    )
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)
    p.add_argument(
        "--black-box",
        action="store_true",
        help="run an ONNX file by onnxruntime as a black box instead of converting it to "
        "torch (for graphs onnx2torch cannot convert): no gradients, so perturbation "
        "methods only",
    )
    p.add_argument(
        "--outputs",
        choices=("probabilities", "logits", "values"),
        help="what an ONNX or Keras network returns (default: read off probe images; "
        "rows in [0, 1] summing to 1 are probabilities)",
    )
    if explain:
        p.add_argument(
            "--layer",
            help="the layer of layer methods (layer_gradcam, guided_gradcam, "
            "layer_integrated_gradients, ...), by its name in model.named_modules()",
        )


def add_image_options(p) -> None:
    """``--images`` and ``--allow-mismatch`` (explain)."""
    p.add_argument(
        "--images",
        help="your own images of some or all signals, to check ours against: an .npy/.npz "
        "stack (K, [C,] H, W) of the first K signals, or a folder of PNG/JPEG/TIFF files "
        "(names ending in the signal's index, else in order); uint8 = saved 8-bit images, "
        "float = the model's inputs",
    )
    p.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="explain even when the model's predictions on our images and yours agree "
        "on fewer than 99 %% of the compared signals (recorded in the report)",
    )


def _arch_kwargs(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"--arch-kwargs {text!r} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CLIError(f"--arch-kwargs {text!r} must be a JSON object")
    return value


def load_run_model(args, n_times: int | None, *, device: str = "cpu", rebuild: bool = False):
    """Load ``args.model`` with the pipeline, architecture and trust the options give."""
    from ..io import load_model
    from ..metadata import ModelMetadata
    from ..pipeline import load_pipeline

    metadata = None
    if getattr(args, "pipeline", None):
        pipeline = load_pipeline(args.pipeline)
        if pipeline.n_times is None and n_times is None:
            raise CLIError(f"{args.pipeline}: give the signal length (n_times = ...) in the file")
        metadata = ModelMetadata.from_pipeline(
            pipeline, n_times=pipeline.n_times if pipeline.n_times is not None else n_times
        )
    arch = getattr(args, "arch", None)
    options = dict(
        trust=getattr(args, "trust", False),
        device=device,
        architecture=arch,
        architecture_kwargs=_arch_kwargs(getattr(args, "arch_kwargs", "{}")) if arch else None,
        metadata=metadata,
    )
    if getattr(args, "black_box", False):
        options["black_box"] = True
    if getattr(args, "outputs", None):
        options["outputs"] = args.outputs
    try:
        return load_model(args.model, rebuild=rebuild, **options)
    except FileNotFoundError:
        raise CLIError(f"{args.model}: no such file") from None
    except ImportError as exc:  # an optional extra (onnx, keras) not installed
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        if not (rebuild and arch is None and "no architecture to rebuild" in str(exc)):
            raise
        # a packaged file records the class it was made from: say which to name
        packaged = load_model(args.model, **options).metadata.extra.get("packaged", {})
        if not packaged.get("architecture"):
            raise
        raise CLIError(
            f"{exc}; this file was packaged from --arch {packaged['architecture']}: "
            "name it again for layer methods (a packaged program has no hookable layers)"
        ) from None


def _their_images(path: Path, n_signals: int):
    from ..agreement import read_image_folder

    if path.is_dir():
        return read_image_folder(path, n_signals=n_signals)
    key = "images" if path.suffix.lower() == ".npz" else None
    try:
        images = load_array(path, key)
    except CLIError as exc:
        if key is None or "no array 'images'" not in str(exc):
            raise
        images = load_array(path)  # the first array
    return images, None


def check_images(args, loaded, x: np.ndarray, *, batch_size: int, device: str) -> dict:
    """Compare our images with ``--images``; refuse a mismatch unless allowed.

    Returns the record for the report's settings (``input_check``; empty without
    ``--images``) and says the result on stderr.
    """
    from ..agreement import MIN_AGREEMENT, compare_images

    if not getattr(args, "images", None):
        return {}
    images, indices = _their_images(Path(args.images), len(x))
    check = compare_images(
        loaded.model,
        x,
        images,
        metadata=loaded.metadata,
        indices=indices,
        batch_size=batch_size,
        device=device,
    )
    print(f"image check: {check.summary()}", file=sys.stderr)
    if not check.agrees():
        if not args.allow_mismatch:
            raise CLIError(
                f"refusing to explain: {check.summary()}; at least {MIN_AGREEMENT:.0%} "
                "must agree, or the explanation would be of other images than your "
                "model saw. Check the pipeline file (--pipeline), or pass "
                "--allow-mismatch to explain anyway"
            )
        print("warning: explaining anyway (--allow-mismatch); the report says so", file=sys.stderr)
    return {"images": {**check.to_dict(), "allow_mismatch": bool(args.allow_mismatch)}}


def check_accuracy(predictions, labels) -> dict:
    """Without images: the accuracy on our images (stdout), a warning near chance (stderr)."""
    from ..agreement import accuracy_check

    if labels is None:
        return {}
    acc = accuracy_check(predictions, labels)
    line = (
        f"accuracy with the images made here: {acc['accuracy']:.0%} of {acc['n']} "
        f"signal(s) (commonest class {acc['chance']:.0%})"
    )
    if acc["near_chance"]:
        line = (
            f"warning: {line} is not better than chance (binomial p = {acc['p_value']:.2g}): "
            "are the pipeline and the model what you trained? --images checks ours "
            "against your own images"
        )
    print(line, file=sys.stderr if acc["near_chance"] else sys.stdout)
    return {"accuracy": acc}


def add_package(sub) -> None:
    """Add the ``package`` command's parser."""
    pk = sub.add_parser(
        "package",
        help="write your model and its pipeline into one self-describing file (.s2s), so "
        "that later runs need only `explain model.s2s data.npy`",
    )
    pk.add_argument("model", help="your model file (state dict with --arch, export, ...)")
    pk.add_argument("--out", required=True, help="the file to write, e.g. model.s2s")
    pk.add_argument(
        "--n-times",
        type=int,
        help="the signal length, when the pipeline file does not give n_times",
    )
    pk.add_argument("--overwrite", action="store_true", help="replace an existing file")
    add_model_options(pk, explain=False)
    pk.set_defaults(func=cmd_package)


def cmd_package(args) -> int:
    """Load the model as ``explain`` would and write it as an exported program."""
    from ..io import save_model

    if not getattr(args, "pipeline", None):
        raise CLIError("package needs --pipeline pipeline.toml: what the model sees")
    out = Path(args.out)
    check_out(out, args, folder=False, overwrite=args.overwrite)
    loaded = load_run_model(args, args.n_times)
    extra = dict(loaded.metadata.extra)
    extra["packaged"] = {"from": Path(args.model).name, "format": loaded.format}
    if args.arch:  # for layer methods later: --arch again rebuilds hookable layers
        extra["packaged"]["architecture"] = args.arch
    metadata = loaded.metadata.replace(extra=extra)
    path = save_model(
        loaded.model, out, metadata=metadata, format="export", overwrite=args.overwrite
    )
    print(
        f"wrote {path}: {loaded.format} model and its pipeline as one file (a torch.export "
        f"program, read weights-only); explain it with `saliency2signal explain {path} DATA`"
    )
    return 0
