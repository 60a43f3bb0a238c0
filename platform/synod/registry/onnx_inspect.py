"""The registry's side of ONNX inspection, which lives in synod_core.onnx_inspect: the same
checks, with the core's InvalidModel turned into the registry's InvalidModelFile, its
message ending in what happened ("Nothing was stored.") and naming no path on this server."""

from __future__ import annotations

from synod.registry.errors import InvalidModelFile, without_server_paths
from synod_core import onnx_inspect as core
from synod_core.errors import InvalidModel
from synod_core.onnx_inspect import OnnxSignature, TensorSpec

__all__ = ["OnnxSignature", "TensorSpec", "inspect_onnx"]

NOTHING_STORED = "Nothing was stored."


def inspect_onnx(model_bytes: bytes) -> OnnxSignature:
    """Validate an uploaded ONNX model, given as its bytes, or raise InvalidModelFile with
    the reason. Nothing here opens any file."""
    try:
        return core.inspect_onnx(model_bytes, outcome=NOTHING_STORED)
    except InvalidModel as exc:
        raise InvalidModelFile(without_server_paths(str(exc))) from exc
