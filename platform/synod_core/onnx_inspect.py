"""What an ONNX file is, checked before anyone stores or runs it: it parses, is one
self-contained file (no tensor keeps its data in another file), passes the full checker,
and onnxruntime can build a session for it (which proves every operator is supported).
Everything works on the model's bytes, never on a path. The signature it declares is
extracted for pages, the API and the input checks.

Messages end with `outcome` when one is given ("Nothing was stored.", "It was not
evaluated."), which is what happened as a result; the core itself stores nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError

from synod_core.errors import InvalidModel, first_line

FLOAT_TYPES = {"float", "double", "float16", "bfloat16"}
INT_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    type: str  # "tensor", or an ONNX type string such as "seq(map(int64,tensor(float)))"
    elem_type: str = ""  # for tensors: float, int64, string, ...
    # One entry per axis: a fixed size, a symbolic name ("batch") or None (unnamed). An
    # empty list means a scalar or a rank the file does not declare; the two look alike
    # once stored, so checks treat it as "rank unknown".
    shape: list[int | str | None] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "elem_type": self.elem_type,
            "shape": list(self.shape),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(
            name=data["name"],
            type=data["type"],
            elem_type=data.get("elem_type", ""),
            shape=list(data.get("shape", [])),
        )


@dataclass(frozen=True)
class OnnxSignature:
    ir_version: int
    opset: dict[str, int]
    producer: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    metadata: dict[str, str]


def _elem_type_name(elem_type: int) -> str:
    return onnx.TensorProto.DataType.Name(elem_type).lower()


def type_string(type_proto: onnx.TypeProto) -> str:
    """ONNX's own notation for a value's type: tensor(float), seq(map(int64,tensor(float))).
    (onnx.helper.printable_type prints "Unknown type sequence_type" for sequences.)"""
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({_elem_type_name(type_proto.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({_elem_type_name(type_proto.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_string(type_proto.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_string(type_proto.optional_type.elem_type)})"
    if kind == "map_type":
        key = _elem_type_name(type_proto.map_type.key_type)
        return f"map({key},{type_string(type_proto.map_type.value_type)})"
    return "unknown"


def _spec(value: onnx.ValueInfoProto) -> TensorSpec:
    type_proto = value.type
    if type_proto.HasField("tensor_type"):
        tensor = type_proto.tensor_type
        shape: list[int | str | None] = []
        if tensor.HasField("shape"):
            for dim in tensor.shape.dim:
                if dim.HasField("dim_value"):
                    shape.append(int(dim.dim_value))
                elif dim.HasField("dim_param"):
                    shape.append(dim.dim_param)
                else:
                    shape.append(None)
        return TensorSpec(value.name, "tensor", _elem_type_name(tensor.elem_type), shape)
    return TensorSpec(value.name, type_string(type_proto))


def _ending(outcome: str) -> str:
    return f" {outcome}" if outcome else ""


# --- external data ---------------------------------------------------------------------------
# ONNX lets a tensor keep its bytes in another file (data_location EXTERNAL plus a location),
# which onnx and onnxruntime resolve relative to the directory of the model file they were
# given. An uploaded model is one file, so such a tensor can only name some other file on the
# server. Models are therefore parsed and run from bytes, never from a path, and refused when
# any tensor anywhere in them says its data is elsewhere.


def _is_external(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data) > 0


def _attribute_contents(
    attribute: onnx.AttributeProto, owner: str, where: str
) -> Iterator[tuple[onnx.TensorProto | onnx.GraphProto, str]]:
    """Tensors and subgraphs of one attribute of `owner` (a node or function) in `where`."""
    # Every field is looked at whatever the attribute's declared type: a hostile file can
    # fill `t` on an attribute typed FLOAT, and the fields are there to be read all the same.
    here = f"attribute {attribute.name!r} of {owner} in {where}"
    # Named after its node only, so descriptions stay short however deep graphs nest.
    subgraph = f"the {attribute.name!r} subgraph of {owner}"
    if attribute.HasField("t"):
        yield attribute.t, here
    for tensor in attribute.tensors:
        yield tensor, here
    sparse = [attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []
    for sparse_tensor in [*sparse, *attribute.sparse_tensors]:
        yield sparse_tensor.values, here
        yield sparse_tensor.indices, here
    if attribute.HasField("g"):
        yield attribute.g, subgraph
    for graph in attribute.graphs:
        yield graph, subgraph


def _node_contents(
    nodes: Iterable[onnx.NodeProto], where: str
) -> Iterator[tuple[onnx.TensorProto | onnx.GraphProto, str]]:
    for node in nodes:
        owner = f"node {node.name or node.op_type!r}"
        for attribute in node.attribute:
            yield from _attribute_contents(attribute, owner, where)


def _graph_contents(
    graph: onnx.GraphProto, where: str
) -> Iterator[tuple[onnx.TensorProto | onnx.GraphProto, str]]:
    for tensor in graph.initializer:
        yield tensor, f"an initializer of {where}"
    for sparse_tensor in graph.sparse_initializer:
        yield sparse_tensor.values, f"a sparse initializer of {where}"
        yield sparse_tensor.indices, f"a sparse initializer of {where}"
    yield from _node_contents(graph.node, where)


def _model_contents(
    model: onnx.ModelProto,
) -> Iterator[tuple[onnx.TensorProto | onnx.GraphProto, str]]:
    yield model.graph, "the main graph"
    for function in model.functions:
        where = f"function {function.name!r}"
        yield from _node_contents(function.node, where)  # its nodes, as in a graph
        for attribute in function.attribute_proto:  # default values of its attributes
            yield from _attribute_contents(attribute, "its default", where)
    for index, training in enumerate(model.training_info):
        yield training.initialization, f"training initialization {index}"
        yield training.algorithm, f"training algorithm {index}"


def external_tensor(model: onnx.ModelProto) -> tuple[str, str] | None:
    """(tensor name, where it is) for the first tensor keeping its data outside the file,
    looking everywhere a tensor can be: initializers, sparse initializers, tensor attributes,
    the subgraphs of If/Loop/Scan at any depth, model-local functions and training info."""
    # A stack rather than recursion: nesting depth is whatever the upload says it is.
    pending = list(_model_contents(model))
    while pending:
        item, where = pending.pop()
        if isinstance(item, onnx.GraphProto):
            pending.extend(_graph_contents(item, where))
        elif _is_external(item):
            return item.name, where
    return None


def parse_model(model_bytes: bytes, *, outcome: str = "") -> onnx.ModelProto:
    """The model parsed from its bytes; InvalidModel (its message ending with `outcome`)
    when it is not ONNX or when any of its tensors would be read from another file."""
    try:
        model = onnx.load_model_from_string(model_bytes)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InvalidModel(
            "This is not a readable ONNX model (the file does not parse as an ONNX protobuf; "
            f"is it truncated or another format?): {first_line(exc)}.{_ending(outcome)}"
        ) from exc
    found = external_tensor(model)
    if found is not None:
        name, where = found
        raise InvalidModel(
            f"The model keeps tensor {name!r} ({where}) in a separate external data file. "
            "An uploaded model must be a single self-contained file: save it with its "
            "weights inside (onnx.save_model(model, ..., save_as_external_data=False)), "
            f"which works up to 2 GB.{_ending(outcome)}"
        )
    if not model.HasField("graph") or not model.graph.node:
        raise InvalidModel(
            "This is not an ONNX model: it has no graph (a truncated file or another "
            f"format).{_ending(outcome)}"
        )
    return model


def _runtime_check(model_bytes: bytes, outcome: str) -> None:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        # From bytes, so the runtime has no directory to resolve anything against.
        ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise InvalidModel(
            f"onnxruntime {ort.__version__} cannot run this model (unsupported operator or "
            f"invalid graph): {first_line(exc)}.{_ending(outcome)}"
        ) from exc


def signature(model: onnx.ModelProto) -> OnnxSignature:
    """The signature a parsed model declares; initializers listed as graph inputs (older
    exporters do that) are weights, not inputs, and are left out."""
    initializers = {init.name for init in model.graph.initializer}
    return OnnxSignature(
        ir_version=int(model.ir_version),
        opset={entry.domain: int(entry.version) for entry in model.opset_import},
        producer=" ".join(filter(None, [model.producer_name, model.producer_version])),
        inputs=[_spec(value) for value in model.graph.input if value.name not in initializers],
        outputs=[_spec(value) for value in model.graph.output],
        metadata={prop.key: prop.value for prop in model.metadata_props},
    )


def inspect_onnx(model_bytes: bytes, *, outcome: str = "") -> OnnxSignature:
    """Validate an ONNX model, given as its bytes, and return its signature; InvalidModel
    with the reason otherwise. Nothing here opens any file."""
    model = parse_model(model_bytes, outcome=outcome)
    try:
        # From bytes (never a path, which would resolve external data); full_check adds
        # shape inference. Uploads are far below protobuf's 2 GB ceiling.
        onnx.checker.check_model(model_bytes, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise InvalidModel(
            f"The ONNX checker rejected this model: {first_line(exc)}.{_ending(outcome)}"
        ) from exc
    except Exception as exc:  # the checker's C++ side raises plain errors for broken files
        raise InvalidModel(
            f"The ONNX checker could not read this model: {first_line(exc)}.{_ending(outcome)}"
        ) from exc
    _runtime_check(model_bytes, outcome)
    return signature(model)
