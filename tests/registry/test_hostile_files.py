"""Hostile files: ONNX models that point at other files on the server, and small datasets
that expand into huge tables. Each is refused with a message meant for the uploader,
nothing is stored, and no message names a path on the server."""

from __future__ import annotations

import io
import json
import os
import resource
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pa_parquet
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from synod.registry import services
from synod.registry.errors import DatasetTooLarge, InvalidModelFile
from synod.registry.models import Dataset, EvaluationStatus, ModelVersion
from synod.registry.onnx_inspect import inspect_onnx
from synod.registry.storage import store_bytes
from tests.core.onnx_models import HIDDEN_PLACES

from . import builders
from .conftest import stored_files
from .test_uploads import upload, upload_model

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def assert_names_no_server_path(message: str, *places: Path | str) -> None:
    for place in [tempfile.gettempdir(), settings.DATA_DIR, settings.REPO_DIR, *places]:
        assert str(place) not in message
    assert "synod-upload" not in message and "synod-blob" not in message
    assert "/" not in message, message


def location_from_the_spool_directory(target: Path) -> str:
    """How a model spooled into the temp directory would name `target`: relative, no '..',
    exactly what onnx and onnxruntime resolve next to a model file."""
    location = os.path.relpath(target, tempfile.gettempdir())
    assert not location.startswith(".."), "pytest's tmp_path is expected under the temp dir"
    return location


# --- ONNX external data --------------------------------------------------------------------


def test_a_model_reading_another_file_on_the_server_is_refused(
    tabular: Dataset, blob_dir: Path, tmp_path: Path
) -> None:
    # A file any upload spooled next to it could name: the model would read its bytes as W.
    secret = tmp_path / "secret.bin"
    secret.write_bytes(builders.weights_file_bytes())
    content = builders.classifier_with_external_weights(location_from_the_spool_directory(secret))
    before = stored_files(blob_dir)

    with pytest.raises(InvalidModelFile) as refused:
        upload_model(content, tabular)

    message = str(refused.value)
    assert "single self-contained file" in message and "'W'" in message
    assert "Nothing was stored" in message
    assert_names_no_server_path(message, tmp_path, secret)
    assert ModelVersion.objects.count() == 0
    assert stored_files(blob_dir) == before


def test_a_model_pointing_at_a_missing_file_is_refused_without_naming_a_path(
    tabular: Dataset, blob_dir: Path, tmp_path: Path
) -> None:
    content = builders.classifier_with_external_weights(
        location_from_the_spool_directory(tmp_path / "nowhere.bin")
    )

    with pytest.raises(InvalidModelFile) as refused:
        upload_model(content, tabular)

    message = str(refused.value)
    assert "single self-contained file" in message
    assert_names_no_server_path(message, tmp_path)
    assert ModelVersion.objects.count() == 0


def test_external_data_inside_an_if_branch_is_refused(
    tabular: Dataset, blob_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(builders.weights_file_bytes())
    content = builders.classifier_with_external_weights_in_a_branch(
        location_from_the_spool_directory(secret)
    )

    with pytest.raises(InvalidModelFile, match="single self-contained file") as refused:
        upload_model(content, tabular)

    assert "'W_then'" in str(refused.value)
    assert_names_no_server_path(str(refused.value), tmp_path)
    assert ModelVersion.objects.count() == 0


# The hostile models live with the core's tests (tests/core/onnx_models.py), which check the
# core's own error; here the registry's adapter must turn each into InvalidModelFile.


@pytest.mark.parametrize("place", list(HIDDEN_PLACES))
def test_external_data_is_found_wherever_the_graph_hides_it(place: str) -> None:
    with pytest.raises(InvalidModelFile, match="single self-contained file"):
        inspect_onnx(HIDDEN_PLACES[place]())


def test_a_self_contained_model_still_passes(tabular: Dataset, blob_dir: Path) -> None:
    assert upload_model(builders.linear_classifier(), tabular).created


def test_the_upload_command_refuses_external_data_without_a_server_path(
    tabular: Dataset, blob_dir: Path, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(builders.classifier_with_external_weights("weights.bin"))
    (tmp_path / "weights.bin").write_bytes(builders.weights_file_bytes())

    with pytest.raises(CommandError, match="single self-contained file") as refused:
        call_command(
            "upload_model", str(model_file), "--name", "linear", "--model-version", "1",
            "--task", "classification", "--price", "1", "--dataset", tabular.sha256,
            "--no-progress",
        )  # fmt: skip

    assert_names_no_server_path(str(refused.value), tmp_path)
    assert ModelVersion.objects.count() == 0


def test_an_evaluation_never_reads_external_data_of_a_model_stored_earlier(
    tabular: Dataset, blob_dir: Path
) -> None:
    """A model stored before uploads were checked: the evaluation worker loads it from bytes
    and refuses it, even with the file it names lying right next to the stored blob."""
    content = builders.classifier_with_external_weights("weights.bin")
    sha256, storage_name = store_bytes(content)
    (blob_dir / storage_name).with_name("weights.bin").write_bytes(builders.weights_file_bytes())
    model = ModelVersion.objects.create(
        sha256=sha256, name="old", version="1", task="classification", price_per_call=1,
        dataset=tabular, size_bytes=len(content), storage_name=storage_name, ir_version=9,
        opset={"": 17}, inputs=[{"name": "features", "type": "tensor", "elem_type": "float",
        "shape": ["batch", 3]}], outputs=[{"name": "label", "type": "tensor",
        "elem_type": "int64", "shape": ["batch"]}],
    )  # fmt: skip

    evaluation = services.request_evaluation(model_version=model, dataset=tabular, enqueue=False)
    evaluation = services.run_evaluation(evaluation_id=evaluation.pk)

    assert evaluation.status == EvaluationStatus.FAILED
    assert "single self-contained file" in evaluation.error
    assert_names_no_server_path(evaluation.error, blob_dir)


# --- datasets that expand ------------------------------------------------------------------


def test_a_small_parquet_declaring_fifty_million_rows_is_refused_from_its_metadata(
    blob_dir: Path,
) -> None:
    content = builders.parquet_of_repeated_rows(50_000_000)
    assert len(content) < 1 * MiB  # the whole attack fits in a small upload
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    previous_pool = pa.default_memory_pool()
    peak_rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    pa.set_memory_pool(pool)
    try:
        with pytest.raises(DatasetTooLarge) as refused:
            upload(content, filename="zeros.parquet", input_columns=["f0"], label_column="")
    finally:
        pa.set_memory_pool(previous_pool)

    message = str(refused.value)
    assert "declares 50,000,000 rows; the limit is 1,000,000 rows" in message
    # Refused from the footer: Arrow decoded no data at all, and the process did not grow
    # (reading it grew the web process by about 900 MB).
    assert pool.max_memory() < 1 * MiB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_rss_before < 64 * MiB
    assert Dataset.objects.count() == 0
    assert stored_files(blob_dir) == []


def test_a_parquet_whose_columns_would_decode_past_the_memory_limit_is_refused(
    blob_dir: Path,
) -> None:
    content = builders.parquet_of_repeated_rows(300_000)  # 300,000 doubles: 2.3 MiB decoded
    with (
        override_settings(REGISTRY_MAX_DATASET_DECODED_BYTES=1 * MiB),
        pytest.raises(
            DatasetTooLarge, match=r"300,000 rows .* about 2\.3 MiB in memory .* limit is 1\.0 MiB"
        ),
    ):
        upload(content, filename="zeros.parquet", input_columns=["f0"], label_column="")
    assert stored_files(blob_dir) == []


def test_a_parquet_that_hides_its_size_in_a_dictionary_is_stopped_while_reading(
    blob_dir: Path,
) -> None:
    """One 20 KB string repeated: the footer declares a few KB, the decoded column holds a
    copy per row. The reader stops at the limit instead of trusting the footer."""
    sink = io.BytesIO()
    table = pa.table({"text": pa.array(["x" * 20_000] * 2_000)})
    pa_parquet.write_table(table, sink, compression="zstd")
    with (
        override_settings(REGISTRY_MAX_DATASET_DECODED_BYTES=4 * MiB),
        pytest.raises(DatasetTooLarge, match=r"more than the limit of 4\.0 MiB"),
    ):
        upload(sink.getvalue(), filename="strings.parquet", input_columns=["text"], label_column="")
    assert stored_files(blob_dir) == []


def test_a_csv_with_too_many_columns_is_refused(blob_dir: Path) -> None:
    with pytest.raises(DatasetTooLarge, match="has 1,001 columns; the limit is 1,000") as refused:
        upload(builders.wide_csv_bytes(1_001), input_columns=["c0"], label_column="")
    assert_names_no_server_path(str(refused.value))
    assert stored_files(blob_dir) == []


def test_jsonl_and_parquet_with_too_many_columns_are_refused(blob_dir: Path) -> None:
    wide = {f"c{i}": 1 for i in range(1_001)}
    jsonl = (json.dumps(wide) + "\n").encode()
    with pytest.raises(DatasetTooLarge, match="has at least 1,001 columns; the limit is 1,000"):
        upload(jsonl, filename="wide.jsonl", input_columns=["c0"], label_column="")
    sink = io.BytesIO()
    pa_parquet.write_table(pa.table({name: [1] for name in wide}), sink)
    with pytest.raises(DatasetTooLarge, match="has 1,001 columns; the limit is 1,000"):
        upload(sink.getvalue(), filename="wide.parquet", input_columns=["c0"], label_column="")
    assert stored_files(blob_dir) == []


def test_a_csv_with_too_many_rows_is_refused(blob_dir: Path) -> None:
    with (
        override_settings(REGISTRY_MAX_DATASET_ROWS=1_000),
        pytest.raises(DatasetTooLarge, match=r"at least 5,000 rows; the limit is 1,000 rows"),
    ):
        upload(builders.long_csv_bytes(5_000))
    assert stored_files(blob_dir) == []


def test_a_csv_that_decodes_past_the_memory_limit_is_refused(blob_dir: Path) -> None:
    with (
        override_settings(REGISTRY_MAX_DATASET_DECODED_BYTES=64 * 1024),
        pytest.raises(DatasetTooLarge, match=r"more than the limit of 64\.0 KiB"),
    ):
        upload(builders.long_csv_bytes(5_000))
    assert stored_files(blob_dir) == []


def test_a_jsonl_file_with_too_many_rows_is_refused(blob_dir: Path) -> None:
    with (
        override_settings(REGISTRY_MAX_DATASET_ROWS=1_000),
        pytest.raises(DatasetTooLarge, match=r"at least 5,000 rows; the limit is 1,000 rows"),
    ):
        upload(builders.long_jsonl_bytes(5_000), filename="data.jsonl")
    assert stored_files(blob_dir) == []


def test_a_dataset_at_the_limits_is_accepted(blob_dir: Path) -> None:
    with override_settings(REGISTRY_MAX_DATASET_ROWS=5_000, REGISTRY_MAX_DATASET_COLUMNS=4):
        for filename, content in [
            ("data.csv", builders.long_csv_bytes(5_000)),
            ("data.jsonl", builders.long_jsonl_bytes(5_000)),
        ]:
            assert upload(content, filename=filename).record.row_count == 5_000


def test_the_dataset_command_reports_a_parse_error_without_a_server_path(
    blob_dir: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "data.parquet"
    truncated.write_bytes(builders.parquet_bytes(*builders.tabular_rows())[:300])

    with pytest.raises(CommandError, match="could not be parsed") as refused:
        call_command(
            "upload_dataset", str(truncated), "--name", "cut", "--inputs", "f0,f1,f2",
            "--label", "label", "--no-progress",
        )  # fmt: skip

    message = str(refused.value)
    for place in [tempfile.gettempdir(), str(tmp_path), "synod-upload"]:
        assert place not in message
