"""ONNX inspection in the core: signatures, and hostile or broken files refused with the
core's InvalidModel, all from bytes."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from synod_core.errors import InvalidModel
from synod_core.onnx_inspect import (
    TensorSpec,
    external_tensor,
    inspect_onnx,
    parse_model,
    type_string,
)

from . import onnx_models


def test_the_signature_of_a_classifier() -> None:
    signature = inspect_onnx(onnx_models.linear_classifier())

    assert signature.inputs == [TensorSpec("features", "tensor", "float", ["batch", 3])]
    assert signature.outputs == [
        TensorSpec("label", "tensor", "int64", ["batch"]),
        TensorSpec("scores", "tensor", "float", ["batch", 3]),
    ]
    assert signature.opset == {"": onnx_models.OPSET}
    assert signature.ir_version == 9
    assert signature.producer == "synod-tests"


def test_initializers_listed_as_inputs_are_not_inputs() -> None:
    # Older exporters list every weight among the graph inputs too.
    model = onnx.load_model_from_string(onnx_models.linear_classifier())
    model.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [3, 3]))
    signature = inspect_onnx(model.SerializeToString())
    assert [spec.name for spec in signature.inputs] == ["features"]


def test_a_tensor_spec_survives_its_dict_form() -> None:
    spec = TensorSpec("x", "tensor", "int64", ["batch", None, 4])
    assert TensorSpec.from_dict(spec.as_dict()) == spec
    assert TensorSpec.from_dict({"name": "s", "type": "seq(tensor(float))"}) == TensorSpec(
        "s", "seq(tensor(float))"
    )


def test_non_tensor_outputs_keep_their_onnx_type() -> None:
    graph = helper.make_graph(
        [helper.make_node("SequenceConstruct", ["x"], ["seq"])],
        "seq",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        outputs=[
            helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None),
        ],
    )
    signature = inspect_onnx(onnx_models.serialize(graph))
    assert signature.outputs == [TensorSpec("seq", "seq(tensor(float))")]


def test_bytes_that_are_not_onnx_are_refused_with_the_outcome_appended() -> None:
    with pytest.raises(InvalidModel, match="not a readable ONNX model") as refused:
        inspect_onnx(b"\xff\x00 certainly not protobuf", outcome="Nothing was stored.")
    assert str(refused.value).endswith(". Nothing was stored.")

    with pytest.raises(InvalidModel) as bare:
        parse_model(b"\xff\x00 certainly not protobuf")
    assert str(bare.value).endswith(".") and not str(bare.value).endswith(" ")


def test_a_file_without_a_graph_is_refused() -> None:
    with pytest.raises(InvalidModel, match="it has no graph"):
        parse_model(b"")


@pytest.mark.parametrize("place", list(onnx_models.HIDDEN_PLACES))
def test_external_data_is_found_wherever_the_graph_hides_it(place: str) -> None:
    with pytest.raises(InvalidModel, match="single self-contained file"):
        inspect_onnx(onnx_models.HIDDEN_PLACES[place]())


def test_external_tensor_names_the_tensor_and_where_it_is() -> None:
    content = onnx_models.HIDDEN_PLACES["loop body in an if branch"]()
    name, where = external_tensor(onnx.load_model_from_string(content))
    assert name == "deep"
    assert "'body' subgraph" in where
    assert external_tensor(onnx.load_model_from_string(onnx_models.linear_classifier())) is None


def test_external_data_is_refused_even_with_the_file_lying_right_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative locations resolve against the model's directory or the working directory;
    # neither is consulted, since the model is only ever handled as bytes.
    (tmp_path / "weights.bin").write_bytes(onnx_models.WEIGHTS.tobytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidModel, match="tensor 'W'"):
        inspect_onnx(onnx_models.classifier_with_external_weights("weights.bin"))


def test_the_checker_rejects_a_graph_reading_an_undefined_value() -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "nowhere"], ["y"])],
        "broken",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    content = onnx_models.serialize(graph, check=False)
    with pytest.raises(InvalidModel, match="The ONNX checker rejected this model"):
        inspect_onnx(content, outcome="Nothing was stored.")


def test_an_operator_the_runtime_lacks_is_refused() -> None:
    with pytest.raises(InvalidModel, match="cannot run this model"):
        inspect_onnx(onnx_models.unsupported_operator_model())


def test_long_library_messages_are_cut_to_their_first_line() -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "nowhere"], ["y"])],
        "broken",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(onnx_models.WEIGHTS, "unused")],
    )
    with pytest.raises(InvalidModel) as refused:
        inspect_onnx(onnx_models.serialize(graph, check=False))
    assert "\n" not in str(refused.value)
    assert len(str(refused.value)) < 700


def test_type_strings_of_nested_types() -> None:
    zipmap = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(1, None))
    )
    assert type_string(zipmap) == "seq(map(int64,tensor(float)))"
    optional = helper.make_optional_type_proto(helper.make_tensor_type_proto(7, [2]))
    assert type_string(optional) == "optional(tensor(int64))"
