"""ONNX model files: converted to torch (onnx2torch), or run as a black box (onnxruntime).

A ``.onnx`` file is a protobuf graph; reading it runs no code of the file's. Before
anything is loaded, the file's size and the sizes its weights declare are checked
against :mod:`saliency2signal.limits` (``max_parameters``, the bytes counted as float32
weights), and so is every tensor whose shape ONNX's shape inference can tell for one
image (``max_activations``). Weights kept in *external data* files are read only from
the model's own folder: a reference to an absolute path, a ``..`` component, or a link
that leaves the folder is refused (copy the data file beside the model).

The graph is converted to a torch module by onnx2torch, so that gradient methods run
through it, and the conversion is accepted only if it agrees with onnxruntime on the
probe images (``|torch - onnxruntime| <= 1e-4 + 1e-3 |onnxruntime|``). Graphs written
for opset 18 or later with operators onnx2torch does not convert (torch's default
exporter writes ``ReduceMean`` with its axes as an input) are first taken down to opset
17 with ONNX's version converter, and a ``Reshape``'s ``allowzero`` flag is dropped
where its target shape is a constant without zeros (where the flag changes nothing);
the parity check judges the result. A graph that still cannot be converted can be run
as a :class:`~saliency2signal.BlackBox` around an onnxruntime session
(``black_box=True``): perturbation methods only.

Internal module of :mod:`saliency2signal.io`. May import: numpy, torch, ``limits``,
``blackbox``, ``metadata``, ``._foreign``; onnx, onnxruntime, onnx2torch when called
(the ``onnx`` extra); never the other ``io`` modules.
"""

from __future__ import annotations

import math
import os
import pathlib

import numpy as np
import torch
from torch import nn

from .. import limits
from ..blackbox import BlackBox
from ..metadata import ModelMetadata
from ._foreign import (
    ForeignNetwork,
    check_file_bytes,
    check_parity,
    input_layout,
    outputs_kind,
    probe_images,
    require,
)

__all__ = ["is_onnx", "read_onnx"]

_LAST_OPSET_WITHOUT_INPUT_AXES = 17
_FLOAT_TYPES = {1: "float32", 10: "float16", 11: "float64"}  # onnx.TensorProto codes
_BLACK_BOX_HINT = (
    "load it as a black box run by onnxruntime instead: black_box=True "
    "(CLI --black-box), which allows the perturbation methods only"
)


def is_onnx(path: pathlib.Path) -> bool:
    """Whether ``path`` looks like an ONNX protobuf (not a zip; ``ir_version`` first)."""
    with open(path, "rb") as f:
        head = f.read(4)
    return head[:1] == b"\x08" or (path.suffix.lower() == ".onnx" and head[:2] != b"PK")


def read_onnx(
    path: pathlib.Path,
    *,
    metadata: ModelMetadata,
    device: torch.device,
    black_box: bool,
    outputs: str | None,
    where: str,
) -> nn.Module:
    """Return the file's network: converted and checked, or a :class:`BlackBox`."""
    what = "ONNX files"
    onnx = require("onnx", "onnx", what)
    ort = require("onnxruntime", "onnx", what)
    converter = None if black_box else require("onnx2torch", "onnx", what)
    check_file_bytes(path.stat().st_size, what=where)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError & co.
        raise _unreadable(where, exc) from None
    check_file_bytes(_external_bytes(proto, path, where), what=f"{where}'s external data")
    _check_declared_sizes(onnx, proto, metadata, where)
    session, name, dims, dtype = _session(ort, path, where)
    layout = input_layout(dims, metadata.input_shape, where=where)
    one_by_one = dims[0] == 1
    fn = _Session(session, name)
    images = probe_images(metadata)
    arr = images.numpy().astype(dtype)
    if layout == "NHWC":
        arr = np.ascontiguousarray(arr.transpose(0, 2, 3, 1))
    theirs = np.concatenate([fn(arr[i : i + 1]) for i in range(len(arr))])
    kind = outputs_kind(theirs, outputs, task=metadata.task, where=where)
    if black_box:
        return BlackBox(
            fn, outputs=kind, layout=layout, dtype=dtype, batch_size=1 if one_by_one else None
        )
    if _uses_external(proto):
        onnx.load_external_data_for_model(proto, str(path.parent))
    net = _convert(onnx, converter, proto, where)
    model = ForeignNetwork(net, layout=layout, outputs=kind, one_by_one=one_by_one)
    model = model.to(dtype=getattr(torch, dtype)).eval()
    with torch.no_grad():
        ours = model.scores(images.to(getattr(torch, dtype))).numpy()
    check_parity(ours, theirs, where=where, against="onnxruntime")
    return model.to(device)


class _Session:
    """``f(images) -> outputs`` of an onnxruntime session (its first output)."""

    __name__ = "onnxruntime"

    def __init__(self, session, input_name: str):
        self.session = session
        self.input_name = input_name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: images})[0])


def _unreadable(where: str, exc: BaseException) -> ValueError:
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else ""
    return ValueError(f"cannot read ONNX model file {where}: {type(exc).__name__}: {first}")


def _tensors(graph):
    """Every tensor a graph holds: initializers, constants, and those of subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node):
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("g"):
            yield from _tensors(attr.g)
        for g in attr.graphs:
            yield from _tensors(g)


def _all_tensors(proto):
    yield from _tensors(proto.graph)
    for function in proto.functions:
        for node in function.node:
            yield from _node_tensors(node)


def _uses_external(proto) -> bool:
    return any(t.data_location == 1 for t in _all_tensors(proto))  # TensorProto.EXTERNAL


def _external_bytes(proto, path: pathlib.Path, where: str) -> int:
    """Check every external-data reference stays in the model's folder; sum their bytes."""
    folder = path.resolve().parent
    files: dict[pathlib.Path, int] = {}
    for tensor in _all_tensors(proto):
        if tensor.data_location != 1:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        pure = pathlib.PurePath(location)
        target = (folder / location).resolve()
        if (
            not location
            or pure.is_absolute()
            or os.path.isabs(location)
            or ".." in pure.parts
            or "\\" in location
            or not target.is_relative_to(folder)
        ):
            raise ValueError(
                f"{where}: tensor {tensor.name!r} keeps its data in {location!r}, outside "
                "the model's folder; refusing to read it (copy the data file beside the "
                "model and name it relative to it)"
            )
        if not target.is_file():
            raise ValueError(
                f"{where}: tensor {tensor.name!r} keeps its data in {location!r}, which is "
                "not a file in the model's folder"
            )
        files[target] = target.stat().st_size
    return sum(files.values())


def _check_declared_sizes(onnx, proto, metadata: ModelMetadata, where: str) -> None:
    """Weights declared by the graph, and every tensor shape inference can size."""
    n_weights = sum(math.prod(t.dims) for t in _all_tensors(proto))
    limits.check("max_parameters", n_weights, what=f"{where}'s weights ({n_weights} values)")
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    _fix_input(fixed, metadata)
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed)
    except Exception:  # noqa: BLE001 - inference is a best effort; onnxruntime judges
        return
    cap = limits.current().max_activations
    for info in inferred.graph.value_info:
        dims = info.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            size = math.prod(d.dim_value for d in dims)
            if size > cap:
                limits.check("max_activations", size, what=f"{where}: the tensor {info.name!r}")


def _fix_input(proto, metadata: ModelMetadata) -> None:
    """Give the graph's free input dims their values for one image (batch 1)."""
    graph_inputs = _graph_inputs(proto)
    if len(graph_inputs) != 1:
        return
    dims = graph_inputs[0].type.tensor_type.shape.dim
    c, h, w = metadata.input_shape
    values = [1, c, h, w]
    if len(dims) == 4 and dims[3].HasField("dim_value") and dims[3].dim_value == c != w:
        values = [1, h, w, c]
    if len(dims) == 4:
        for d, v in zip(dims, values, strict=True):
            if not d.HasField("dim_value"):
                d.dim_value = v


def _graph_inputs(proto) -> list:
    init = {t.name for t in proto.graph.initializer}
    return [i for i in proto.graph.input if i.name not in init]


def _session(ort, path: pathlib.Path, where: str):
    """Open the onnxruntime session (CPU); return it, its input's name, dims, dtype."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no notices on stderr
    try:
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime's own Fail/InvalidGraph/NotImplemented
        raise ValueError(f"onnxruntime cannot load {where}: {_one_line(exc)}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise ValueError(f"{where} takes {len(inputs)} inputs {names}; one image batch expected")
    (first,) = inputs
    dtype = {"tensor(float)": "float32", "tensor(double)": "float64"}.get(first.type)
    if dtype is None:
        raise ValueError(f"{where} takes {first.type} inputs; float32 or float64 images expected")
    dims = tuple(d if isinstance(d, int) and d > 0 else None for d in first.shape)
    return session, first.name, dims, dtype


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def _convert(onnx, converter, proto, where: str) -> nn.Module:
    """onnx2torch's module, after the two rewrites the module docstring describes."""
    _drop_needless_allowzero(onnx, proto)
    try:
        return converter.convert(proto)
    except Exception as exc:  # NotImplementedError for an operator it lacks, and others
        first = exc
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset > _LAST_OPSET_WITHOUT_INPUT_AXES:
        try:
            older = onnx.version_converter.convert_version(proto, _LAST_OPSET_WITHOUT_INPUT_AXES)
            _drop_needless_allowzero(onnx, older)
            return converter.convert(older)
        except Exception:  # noqa: BLE001, S110 - the first failure is the one to report
            pass
    raise ValueError(
        f"{where}: onnx2torch cannot convert it to torch ({_one_line(first)}); {_BLACK_BOX_HINT}"
    ) from None


def _drop_needless_allowzero(onnx, proto) -> None:
    """Clear ``allowzero`` of Reshapes whose shape is a constant without zeros."""
    constants = {t.name: t for t in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            constants[node.output[0]] = node.attribute[0].t
    for node in proto.graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in constants:
            continue
        shape = onnx.numpy_helper.to_array(constants[node.input[1]])
        if (shape == 0).any():
            continue
        for attr in list(node.attribute):
            if attr.name == "allowzero":
                node.attribute.remove(attr)
