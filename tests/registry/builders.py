"""Test data made in code: small datasets in every format and ONNX models built with
onnx.helper (no download, no training)."""

from __future__ import annotations

import io
import json

import numpy as np
import onnx
import pyarrow as pa
import pyarrow.parquet as pa_parquet
from django.test import override_settings
from onnx import TensorProto, helper, numpy_helper

from synod.registry import services as registry_services
from synod.registry.models import Dataset, ModelVersion
from tests.core.onnx_models import (
    BIAS,
    WEIGHTS,
    classifier_with_external_weights,
    externalize,
    serialize,
    unsupported_operator_model,
)

__all__ = ["classifier_with_external_weights", "unsupported_operator_model"]

FEATURES = ["f0", "f1", "f2"]


def tabular_rows(n: int = 60, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated classes in three features, reproducible."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centers = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 4.0, -1.0]])
    features = centers[labels] + rng.normal(scale=0.6, size=(n, 3))
    return features.round(4), labels


def csv_bytes(features: np.ndarray, labels: np.ndarray) -> bytes:
    lines = [",".join([*FEATURES, "label"])]
    lines += [
        ",".join([*(f"{value:.4f}" for value in row), str(int(label))])
        for row, label in zip(features, labels, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(features: np.ndarray, labels: np.ndarray) -> bytes:
    return "".join(
        json.dumps({**dict(zip(FEATURES, map(float, row), strict=True)), "label": int(label)})
        + "\n"
        for row, label in zip(features, labels, strict=True)
    ).encode()


def parquet_bytes(features: np.ndarray, labels: np.ndarray) -> bytes:
    table = pa.table({**{name: features[:, i] for i, name in enumerate(FEATURES)}, "label": labels})
    sink = io.BytesIO()
    pa_parquet.write_table(table, sink)
    return sink.getvalue()


def text_csv_bytes() -> bytes:
    return b"question,answer,label\nhello,world,1\nfoo,bar,0\n"


def _model(graph: onnx.GraphProto, opset: int = 17) -> bytes:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="synod-tests"
    )
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


# Centroid-like weights that separate tabular_rows' classes (the core tests' classifier's).
GOOD_WEIGHTS = WEIGHTS
GOOD_BIAS = BIAS


def linear_classifier(
    weights: np.ndarray = GOOD_WEIGHTS,
    bias: np.ndarray = GOOD_BIAS,
    *,
    elem_type: int = TensorProto.FLOAT,
    name: str = "linear",
) -> bytes:
    """scores = x @ W + b; label = argmax(scores). Input [batch, k] with a symbolic batch."""
    k, classes = weights.shape
    nodes = []
    source = "features"
    if elem_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["features"], ["as_float"], to=TensorProto.FLOAT))
        source = "as_float"
    nodes += [
        helper.make_node("MatMul", [source, "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["scores"]),
        helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        inputs=[helper.make_tensor_value_info("features", elem_type, ["batch", k])],
        outputs=[
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes]),
        ],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    return _model(graph)


def linear_regressor(coefficients: np.ndarray, intercept: float) -> bytes:
    k = len(coefficients)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "w"], ["xw"]),
            helper.make_node("Add", ["xw", "c"], ["value"]),
        ],
        "regressor",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", k])],
        outputs=[helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch", 1])],
        initializer=[
            numpy_helper.from_array(coefficients.astype(np.float32).reshape(k, 1), "w"),
            numpy_helper.from_array(np.array([intercept], np.float32), "c"),
        ],
    )
    return _model(graph)


def weights_file_bytes() -> bytes:
    """What an external data file for GOOD_WEIGHTS holds: its 36 raw bytes."""
    return GOOD_WEIGHTS.astype(np.float32).tobytes()


def classifier_with_external_weights_in_a_branch(location: str) -> bytes:
    """The weight matrix comes out of an If node; its then-branch holds it as an initializer
    kept in the external file `location`, so only a walk into subgraphs finds it."""
    then_weights = numpy_helper.from_array(GOOD_WEIGHTS.astype(np.float32), "W_then")
    externalize(then_weights, location)
    else_weights = numpy_helper.from_array(GOOD_WEIGHTS.astype(np.float32), "W_else")
    branch_output = [helper.make_tensor_value_info("W_branch", TensorProto.FLOAT, [3, 3])]
    then_branch = helper.make_graph(
        [helper.make_node("Identity", ["W_then"], ["W_branch"])],
        "then",
        inputs=[],
        outputs=branch_output,
        initializer=[then_weights],
    )
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["W_else"], ["W_branch"])],
        "else",
        inputs=[],
        outputs=branch_output,
        initializer=[else_weights],
    )
    graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["use_then"],
                value=helper.make_tensor("use_then", TensorProto.BOOL, [], [True]),
            ),
            helper.make_node(
                "If", ["use_then"], ["W"], then_branch=then_branch, else_branch=else_branch
            ),
            helper.make_node("MatMul", ["features", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["scores"]),
            helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
        ],
        "branchy",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3])],
        outputs=[
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3]),
        ],
        initializer=[numpy_helper.from_array(GOOD_BIAS, "b")],
    )
    # Not checked: the checker would look for the external file.
    return serialize(graph, check=False)


def parquet_of_repeated_rows(rows: int, *, row_group_rows: int = 1_000_000) -> bytes:
    """A small Parquet file that declares `rows` rows of one double column, all zero:
    dictionary and RLE encoding make each row group a few KB however many rows it holds.
    Written a row group at a time, so building it never holds the whole column."""
    chunk = pa.table({"f0": pa.array(np.zeros(min(rows, row_group_rows)), pa.float64())})
    sink = io.BytesIO()
    with pa_parquet.ParquetWriter(sink, chunk.schema, compression="zstd") as writer:
        remaining = rows
        while remaining > 0:
            writer.write_table(chunk.slice(0, min(remaining, chunk.num_rows)))
            remaining -= chunk.num_rows
    return sink.getvalue()


def wide_csv_bytes(columns: int, rows: int = 2) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join("1" for _ in range(columns))
    return ("\n".join([header, *([row] * rows)]) + "\n").encode()


def long_csv_bytes(rows: int) -> bytes:
    return b"f0,f1,f2,label\n" + b"1.0,2.0,3.0,0\n" * rows


def long_jsonl_bytes(rows: int) -> bytes:
    return b'{"f0": 1.0, "f1": 2.0, "f2": 3.0, "label": 0}\n' * rows


# --- Stored through the registry's services (need the database) -----------------------------


def blob_storage_at(location) -> override_settings:
    """Django's default storage on disk at `location`: a blob store of the test's own."""
    return override_settings(
        STORAGES={
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(location)},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )


def upload_blobs_dataset() -> Dataset:
    """The three-blob tabular dataset of tabular_rows(), uploaded as CSV."""
    features, labels = tabular_rows()
    return registry_services.upload_dataset(
        source=[csv_bytes(features, labels)],
        filename="blobs.csv",
        name="three blobs",
        input_columns=FEATURES,
        label_column="label",
    ).record


def upload_linear_model(dataset: Dataset, *, price_per_call: int = 4) -> ModelVersion:
    """linear_classifier() as model version linear@1, trained on `dataset`."""
    return registry_services.upload_model(
        source=[linear_classifier()],
        filename="linear.onnx",
        name="linear",
        version="1",
        task="classification",
        price_per_call=price_per_call,
        dataset_sha256=dataset.sha256,
    ).record
