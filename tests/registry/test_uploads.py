from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings
from onnx import TensorProto

from synod.registry import services
from synod.registry.errors import (
    DuplicateName,
    IncompatibleModel,
    InvalidDatasetFile,
    InvalidModelFile,
    UploadTooLarge,
)
from synod.registry.models import Dataset, DatasetFormat, ModelVersion
from synod.registry.storage import blob_name, read_blob

from . import builders
from .conftest import stored_files

pytestmark = pytest.mark.django_db

FEATURES, LABELS = builders.tabular_rows()
DATASET_FILES = {
    DatasetFormat.CSV: ("data.csv", builders.csv_bytes(FEATURES, LABELS)),
    DatasetFormat.JSONL: ("data.jsonl", builders.jsonl_bytes(FEATURES, LABELS)),
    DatasetFormat.PARQUET: ("data.parquet", builders.parquet_bytes(FEATURES, LABELS)),
}


def upload(content: bytes, filename: str = "data.csv", **overrides):
    arguments = {
        "source": [content],
        "filename": filename,
        "name": "blobs",
        "input_columns": builders.FEATURES,
        "label_column": "label",
        **overrides,
    }
    return services.upload_dataset(**arguments)


def upload_model(content: bytes, dataset: Dataset, **overrides):
    arguments = {
        "source": [content],
        "filename": "model.onnx",
        "name": "linear",
        "version": "1",
        "task": "classification",
        "price_per_call": 3,
        "dataset_sha256": dataset.sha256,
        **overrides,
    }
    return services.upload_model(**arguments)


@pytest.mark.parametrize("fmt", list(DATASET_FILES))
def test_dataset_round_trip(blob_dir: Path, fmt: str) -> None:
    filename, content = DATASET_FILES[fmt]
    # Many small chunks: the hash and the size are computed while streaming.
    chunks = [content[i : i + 100] for i in range(0, len(content), 100)]

    result = upload(b"", filename=filename, source=chunks)

    dataset = result.record
    assert result.created
    assert dataset.format == fmt
    assert dataset.row_count == len(LABELS)
    assert dataset.size_bytes == len(content)
    assert dataset.input_columns == builders.FEATURES
    assert dataset.column_types["f0"] == "double"
    assert dataset.column_types["label"] == "int64"
    assert dataset.storage_name == blob_name(dataset.sha256)
    assert read_blob(dataset.storage_name) == content
    import hashlib

    assert dataset.sha256 == hashlib.sha256(content).hexdigest()


def test_same_bytes_give_the_same_record(blob_dir: Path) -> None:
    content = DATASET_FILES[DatasetFormat.CSV][1]
    first = upload(content)
    second = upload(content, name="another name", filename="copy.csv")

    assert second.record.pk == first.record.pk
    assert not second.created
    assert "already in the registry" in second.message
    assert Dataset.objects.count() == 1
    assert len(stored_files(blob_dir)) == 1


def test_oversized_dataset_is_refused_and_nothing_stored(blob_dir: Path) -> None:
    content = DATASET_FILES[DatasetFormat.CSV][1]
    with (
        override_settings(REGISTRY_MAX_DATASET_BYTES=len(content) - 1),
        pytest.raises(UploadTooLarge, match="larger than the limit"),
    ):
        upload(content)
    assert Dataset.objects.count() == 0
    assert stored_files(blob_dir) == []


@pytest.mark.parametrize("fmt", list(DATASET_FILES))
def test_truncated_dataset_is_rejected(blob_dir: Path, fmt: str) -> None:
    filename, content = DATASET_FILES[fmt]
    # Cut inside a row (or, for Parquet, through the footer).
    cut = content[: int(len(content) * 0.6)]
    if fmt != DatasetFormat.PARQUET:
        cut = cut[: cut.rindex(b",") + 1]
    with pytest.raises(InvalidDatasetFile, match="could not be parsed"):
        upload(cut, filename=filename)
    assert Dataset.objects.count() == 0
    assert stored_files(blob_dir) == []


def test_declared_columns_must_exist(blob_dir: Path) -> None:
    with pytest.raises(InvalidDatasetFile, match="'petal' are not in the file"):
        upload(DATASET_FILES[DatasetFormat.CSV][1], input_columns=["f0", "petal"])
    assert stored_files(blob_dir) == []


def test_onnx_round_trip_extracts_the_signature(tabular: Dataset, blob_dir: Path) -> None:
    content = builders.linear_classifier()

    model = upload_model(content, tabular).record

    assert model.opset == {"": 17}
    assert model.ir_version == 9
    assert model.inputs == [
        {"name": "features", "type": "tensor", "elem_type": "float", "shape": ["batch", 3]}
    ]
    assert model.outputs[0] == {
        "name": "label",
        "type": "tensor",
        "elem_type": "int64",
        "shape": ["batch"],
    }
    assert model.dataset == tabular
    assert read_blob(model.storage_name) == content
    again = upload_model(content, tabular, name="other", version="9")
    assert again.record.pk == model.pk and not again.created


def test_same_name_and_version_with_other_bytes_is_refused(tabular: Dataset) -> None:
    upload_model(builders.linear_classifier(), tabular)
    other = builders.linear_classifier(bias=builders.GOOD_BIAS + 1)
    with pytest.raises(DuplicateName, match="linear@1 already exists"):
        upload_model(other, tabular)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"f0,f1,f2,label\n1,2,3,0\n", "not a readable ONNX model|no graph"),
        (b"\x00" * 10, "not a readable ONNX model|no graph"),
        (builders.linear_classifier()[:-40], "not a readable ONNX model|no graph|checker"),
        (builders.unsupported_operator_model(), "cannot run this model"),
    ],
    ids=["csv-file", "zeros", "truncated", "unsupported-operator"],
)
def test_invalid_models_are_rejected_and_nothing_stored(
    tabular: Dataset, blob_dir: Path, content: bytes, message: str
) -> None:
    before = stored_files(blob_dir)
    with pytest.raises(InvalidModelFile, match=message):
        upload_model(content, tabular)
    assert ModelVersion.objects.count() == 0
    assert stored_files(blob_dir) == before


def test_model_with_a_wrong_input_type_for_the_dataset_is_rejected(
    tabular: Dataset, blob_dir: Path
) -> None:
    before = stored_files(blob_dir)
    # int64 features cannot carry the dataset's double columns without losing information.
    int_model = builders.linear_classifier(elem_type=TensorProto.INT64)
    with pytest.raises(IncompatibleModel, match="takes int64 integers, but dataset column 'f0'"):
        upload_model(int_model, tabular)
    # A model four features wide does not fit three input columns.
    wide = builders.linear_classifier(
        weights=builders.GOOD_WEIGHTS.repeat(2, axis=0)[:4], name="wide"
    )
    with pytest.raises(IncompatibleModel, match="takes 4 float feature"):
        upload_model(wide, tabular)
    assert ModelVersion.objects.count() == 0
    assert stored_files(blob_dir) == before


def test_evaluating_on_a_dataset_the_model_cannot_read_is_refused(tabular: Dataset) -> None:
    model = upload_model(builders.linear_classifier(), tabular).record
    text = upload(
        builders.text_csv_bytes(),
        filename="pairs.csv",
        input_columns=["question", "answer"],
        label_column="label",
    ).record
    with pytest.raises(IncompatibleModel, match="3 float feature"):
        services.request_evaluation(model_version=model, dataset=text)
