"""ONNX models made in code for the core's tests (and the registry's hostile-file tests):
no Django, no download. Each returns the model's bytes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, external_data_helper, helper, numpy_helper

OPSET = 17
WEIGHTS = np.array([[-1.0, 1.0, -0.2], [-1.0, -0.2, 1.0], [0.0, 0.3, -0.3]], np.float32)
BIAS = np.array([2.0, 0.0, 0.0], np.float32)


def serialize(graph: onnx.GraphProto, *, check: bool = True, **fields) -> bytes:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="synod-tests", **fields
    )
    model.ir_version = 9
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def linear_classifier(batch: int | str = "batch") -> bytes:
    """scores = features @ W + b, label = argmax(scores); features [batch, 3] float."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["scores"]),
            helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
        ],
        "linear",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, 3])],
        outputs=[
            helper.make_tensor_value_info("label", TensorProto.INT64, [batch]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, 3]),
        ],
        initializer=[numpy_helper.from_array(WEIGHTS, "W"), numpy_helper.from_array(BIAS, "b")],
    )
    return serialize(graph)


def classify(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What linear_classifier computes, in numpy."""
    scores = features.astype(np.float32) @ WEIGHTS + BIAS
    return scores.argmax(axis=1), scores


def token_model() -> bytes:
    """input_ids and attention_mask, both int64 [batch, sequence] -> their product as float."""
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["input_ids", "attention_mask"], ["masked"]),
            helper.make_node("Cast", ["masked"], ["hidden"], to=TensorProto.FLOAT),
        ],
        "tokens",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["batch", "sequence"]
            ),
        ],
        outputs=[helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "sequence"])],
    )
    return serialize(graph)


def unsupported_operator_model() -> bytes:
    """A valid graph whose operator no runtime here implements (a custom domain)."""
    graph = helper.make_graph(
        [helper.make_node("Frobnicate", ["features"], ["out"], domain="com.example.synod")],
        "unsupported",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3])],
        outputs=[helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.example.synod", 1)],
    )
    model.ir_version = 9
    return model.SerializeToString()


# --- hostile files: tensors whose bytes are said to be in another file ------------------------


def externalize(tensor: onnx.TensorProto, location: str) -> None:
    """Make `tensor` say its bytes live in another file, as onnx's external data format
    writes it: the same dtype and dims, no bytes inside, a location, offset and length."""
    raw = numpy_helper.to_array(tensor).tobytes()
    for field in ("float_data", "int32_data", "int64_data", "double_data"):
        tensor.ClearField(field)
    tensor.raw_data = raw  # set_external_data wants raw bytes to describe
    external_data_helper.set_external_data(tensor, location=location, offset=0, length=len(raw))
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")


def classifier_with_external_weights(location: str) -> bytes:
    """linear_classifier whose weight matrix W is said to live in the file `location`."""
    model = onnx.load_model_from_string(linear_classifier())
    weights = next(init for init in model.graph.initializer if init.name == "W")
    externalize(weights, location)
    return model.SerializeToString()


def _external(name: str) -> onnx.TensorProto:
    tensor = numpy_helper.from_array(WEIGHTS, name)
    externalize(tensor, "weights.bin")
    return tensor


def _graph(nodes=(), initializer=(), sparse_initializer=(), name: str = "g") -> onnx.GraphProto:
    return helper.make_graph(
        list(nodes),
        name,
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 3])],
        initializer=list(initializer),
        sparse_initializer=list(sparse_initializer),
    )


def _model(graph: onnx.GraphProto, **fields) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], **fields)
    return model.SerializeToString()


def _constant_with(tensor: onnx.TensorProto) -> onnx.NodeProto:
    return helper.make_node("Constant", [], ["y"], value=tensor)


def _sparse_with_external_values() -> onnx.SparseTensorProto:
    indices = numpy_helper.from_array(np.array([0], np.int64), "idx")
    return helper.make_sparse_tensor(_external("sparse_values"), indices, [3, 3])


def _loop_in_an_if(deep: onnx.NodeProto) -> onnx.NodeProto:
    body = _graph([deep], name="loop_body")
    loop = helper.make_node("Loop", ["n", "cond"], ["y"], body=body)
    branch = _graph([loop], name="then")
    return helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)


def _hide_in_a_mistyped_attribute() -> bytes:
    """A tensor in the `t` field of an attribute whose declared type is FLOAT: the runtime
    goes by the type, a check must go by what is there."""
    node = helper.make_node("Identity", ["x"], ["y"])
    attribute = helper.make_attribute("hidden", 1.0)
    attribute.t.CopyFrom(_external("mistyped"))
    node.attribute.append(attribute)
    return _model(_graph([node]))


# Every place a tensor can hide in an ONNX file, each holding one with external data.
HIDDEN_PLACES: dict[str, Callable[[], bytes]] = {
    "initializer": lambda: _model(_graph(initializer=[_external("top")])),
    "sparse initializer": lambda: _model(
        _graph(sparse_initializer=[_sparse_with_external_values()])
    ),
    "Constant attribute": lambda: _model(_graph([_constant_with(_external("const"))])),
    "tensors attribute": lambda: _model(
        _graph([helper.make_node("Custom", [], ["y"], weights=[_external("listed")])])
    ),
    "loop body in an if branch": lambda: _model(
        _graph([_loop_in_an_if(_constant_with(_external("deep")))])
    ),
    "model-local function": lambda: _model(
        _graph([helper.make_node("Fn", ["x"], ["y"], domain="local")]),
        functions=[
            helper.make_function(
                "local",
                "Fn",
                ["x"],
                ["y"],
                [_constant_with(_external("in_function"))],
                [helper.make_opsetid("", OPSET)],
            )
        ],
    ),
    "attribute typed as a float": _hide_in_a_mistyped_attribute,
}
