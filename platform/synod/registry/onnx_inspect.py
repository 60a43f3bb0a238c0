"""What an ONNX file is, checked before it is stored: it parses, passes the full checker,
and onnxruntime can build a session for it (which proves every operator is supported).
The signature it declares is extracted for pages, the API and the input checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError

from synod.registry.errors import InvalidModelFile

FLOAT_TYPES = {"float", "double", "float16", "bfloat16"}
INT_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    type: str  # "tensor", or an ONNX type string such as "seq(map(int64,tensor(float)))"
    elem_type: str = ""  # for tensors: float, int64, string, ...
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
    return TensorSpec(value.name, onnx.helper.printable_type(type_proto))


def _runtime_check(path: Path) -> None:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise InvalidModelFile(
            f"onnxruntime {ort.__version__} cannot run this model (unsupported operator or "
            f"invalid graph): {_first_line(exc)}. Nothing was stored."
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:500]


def inspect_onnx(path: Path) -> OnnxSignature:
    """Validate the ONNX file at `path` or raise InvalidModelFile with the reason."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, OSError) as exc:
        raise InvalidModelFile(
            "This is not a readable ONNX model (the file does not parse as an ONNX protobuf; "
            f"is it truncated or another format?): {_first_line(exc)}. Nothing was stored."
        ) from exc
    if not model.HasField("graph") or not model.graph.node:
        raise InvalidModelFile(
            "This is not an ONNX model: it has no graph (a truncated file or another format). "
            "Nothing was stored."
        )
    try:
        # The path form handles models over 2 GB; full_check adds shape inference.
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise InvalidModelFile(
            f"The ONNX checker rejected this model: {_first_line(exc)}. Nothing was stored."
        ) from exc
    except Exception as exc:  # the checker's C++ side raises plain errors for broken files
        raise InvalidModelFile(
            f"The ONNX checker could not read this model: {_first_line(exc)}. Nothing was stored."
        ) from exc
    _runtime_check(path)

    initializers = {init.name for init in model.graph.initializer}
    return OnnxSignature(
        ir_version=int(model.ir_version),
        opset={entry.domain: int(entry.version) for entry in model.opset_import},
        producer=" ".join(filter(None, [model.producer_name, model.producer_version])),
        inputs=[_spec(value) for value in model.graph.input if value.name not in initializers],
        outputs=[_spec(value) for value in model.graph.output],
        metadata={prop.key: prop.value for prop in model.metadata_props},
    )


def providers_for_evaluation() -> list[str]:
    """The fastest execution providers present, CPU always last as the fallback."""
    preferred = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    available = set(ort.get_available_providers())
    return [name for name in preferred if name in available] or ["CPUExecutionProvider"]
