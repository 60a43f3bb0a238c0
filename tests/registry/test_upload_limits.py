"""Per-account upload limits: uploads started per rolling hour, and the total bytes of the
files an account keeps in the registry. Enforced in the services, so pages and any other
entry point share them; the operator's own commands have no account and no limits."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from synod.registry import services
from synod.registry.errors import (
    InvalidDatasetFile,
    UploadQuotaExceeded,
    UploadRateExceeded,
    UploadTooLarge,
)
from synod.registry.models import Dataset, ModelVersion, UploadAttempt

from . import builders
from .conftest import stored_files
from .test_uploads import upload, upload_model

pytestmark = pytest.mark.django_db

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20


def account(address: str):
    return get_user_model().objects.create_user(address)


def dataset_bytes(seed: int) -> bytes:
    """A valid CSV dataset, different bytes for every seed."""
    return builders.csv_bytes(*builders.tabular_rows(seed=seed))


# --- rate ----------------------------------------------------------------------------------


@override_settings(REGISTRY_UPLOADS_PER_HOUR=3)
def test_the_upload_after_the_hourly_limit_is_refused_and_other_accounts_are_not(
    blob_dir: Path,
) -> None:
    alice, bob = account(ALICE), account(BOB)
    for seed in range(3):
        assert upload(dataset_bytes(seed), uploaded_by=alice).created

    with pytest.raises(UploadRateExceeded) as refused:
        upload(dataset_bytes(3), uploaded_by=alice)

    message = str(refused.value)
    assert "started 3 uploads in the last hour; the limit is 3 per hour" in message
    assert "possible in 60 minutes" in message and "UTC" in message
    assert 3540 <= refused.value.retry_after_s <= 3600
    assert Dataset.objects.count() == 3
    assert len(stored_files(blob_dir)) == 3
    assert upload(dataset_bytes(3), uploaded_by=bob).created


@override_settings(REGISTRY_UPLOADS_PER_HOUR=2)
def test_refused_uploads_count_toward_the_rate_too(blob_dir: Path) -> None:
    """Checking a hostile file costs the server as much as storing a good one."""
    alice = account(ALICE)
    with pytest.raises(InvalidDatasetFile):
        upload(b"f0,f1,f2,label\n", uploaded_by=alice)  # no rows
    assert upload(dataset_bytes(0), uploaded_by=alice).created

    with pytest.raises(UploadRateExceeded):
        upload(dataset_bytes(1), uploaded_by=alice)


@override_settings(REGISTRY_UPLOADS_PER_HOUR=1)
def test_uploads_older_than_an_hour_no_longer_count(blob_dir: Path) -> None:
    alice = account(ALICE)
    upload(dataset_bytes(0), uploaded_by=alice)
    UploadAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    with pytest.raises(UploadRateExceeded, match="possible in 50 minutes"):
        upload(dataset_bytes(1), uploaded_by=alice)

    UploadAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=61))

    assert upload(dataset_bytes(1), uploaded_by=alice).created
    assert UploadAttempt.objects.count() == 1  # the expired one was cleared away


@override_settings(REGISTRY_UPLOADS_PER_HOUR=0, REGISTRY_UPLOAD_QUOTA_BYTES=0)
def test_the_operators_commands_have_no_account_and_no_limits(
    blob_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(dataset_bytes(0))
    call_command(
        "upload_dataset", str(data), "--name", "ops", "--inputs", "f0,f1,f2", "--label", "label",
        "--no-progress",
    )  # fmt: skip
    assert Dataset.objects.get().uploaded_by is None


# --- size ----------------------------------------------------------------------------------


@override_settings(REGISTRY_MAX_DATASET_BYTES=1000, REGISTRY_MAX_MODEL_BYTES=5000)
def test_a_request_declared_over_the_file_limit_and_its_framing_is_refused_unread() -> None:
    framing = services.uploads.MULTIPART_OVERHEAD
    services.check_request_length(1000 + framing, kind="dataset")
    with pytest.raises(UploadTooLarge, match="larger than the limit of 1000 bytes") as refused:
        services.check_request_length(1001 + framing, kind="dataset")
    assert refused.value.status_code == 413
    services.check_request_length(5000 + framing, kind="model")
    with pytest.raises(UploadTooLarge):
        services.check_request_length(5001 + framing, kind="model")


# --- quota ---------------------------------------------------------------------------------


def test_an_upload_that_would_pass_the_quota_is_refused_and_other_accounts_are_not(
    blob_dir: Path,
) -> None:
    alice, bob = account(ALICE), account(BOB)
    first, second = dataset_bytes(0), dataset_bytes(1)
    with override_settings(REGISTRY_UPLOAD_QUOTA_BYTES=len(first) + len(second) - 1):
        upload(first, uploaded_by=alice)

        with pytest.raises(UploadQuotaExceeded) as refused:
            upload(second, uploaded_by=alice)

        assert Dataset.objects.count() == 1
        assert len(stored_files(blob_dir)) == 1
        assert upload(second, uploaded_by=bob).created

    message = str(refused.value)
    assert "over its quota of" in message and "used" in message and "left" in message
    assert "Nothing was stored" in message


def test_models_count_toward_the_quota(blob_dir: Path) -> None:
    alice = account(ALICE)
    data, model = dataset_bytes(0), builders.linear_classifier()
    with override_settings(REGISTRY_UPLOAD_QUOTA_BYTES=len(data) + len(model) - 1):
        dataset = upload(data, uploaded_by=alice).record
        with pytest.raises(UploadQuotaExceeded, match="over its quota"):
            upload_model(model, dataset, uploaded_by=alice)
    assert ModelVersion.objects.count() == 0


def test_a_full_quota_is_refused_before_the_file_is_read(blob_dir: Path) -> None:
    alice = account(ALICE)
    data = dataset_bytes(0)
    with override_settings(REGISTRY_UPLOAD_QUOTA_BYTES=len(data)):
        upload(data, uploaded_by=alice)
        full = r"already fill its quota \(.* of .*\), so no further upload"
        with pytest.raises(UploadQuotaExceeded, match=full):
            # Not even a dataset: refused before a byte of it is received.
            upload(b"", source=iter(()), uploaded_by=alice)


@pytest.mark.django_db(transaction=True)
def test_two_uploads_at_once_cannot_both_take_room_for_one(blob_dir: Path) -> None:
    alice = account(ALICE)
    contents = [dataset_bytes(0), dataset_bytes(1)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def run(content: bytes) -> None:
        try:
            barrier.wait()
            outcomes.append(upload(content, uploaded_by=alice).record)
        except Exception as exc:  # the refusal is the expected outcome of one of them
            outcomes.append(exc)
        finally:
            connection.close()

    with override_settings(REGISTRY_UPLOAD_QUOTA_BYTES=max(map(len, contents)) + 100):
        threads = [threading.Thread(target=run, args=(content,)) for content in contents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    stored = [outcome for outcome in outcomes if isinstance(outcome, Dataset)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, UploadQuotaExceeded)]
    assert (len(stored), len(refused)) == (1, 1), outcomes
    assert Dataset.objects.count() == 1
    assert len(stored_files(blob_dir)) == 1


# --- pages ---------------------------------------------------------------------------------


@pytest.fixture
def alice_client(blob_dir: Path) -> Client:
    client = Client()
    client.force_login(account(ALICE))
    return client


def post_dataset(client: Client, content: bytes, name: str = "blobs.csv"):
    return client.post(
        reverse("registry:dataset-upload"),
        {
            "file": SimpleUploadedFile(name, content),
            "name": "blobs",
            "input_columns": "f0, f1, f2",
            "label_column": "label",
        },
        HTTP_HX_REQUEST="true",
    )


@override_settings(REGISTRY_UPLOADS_PER_HOUR=1)
def test_the_upload_page_shows_the_rate_limit_and_when_it_resets(alice_client: Client) -> None:
    page = alice_client.get(reverse("registry:dataset-upload"))
    assert b"0 of 1 uploads in the last hour" in page.content
    assert post_dataset(alice_client, dataset_bytes(0)).status_code == 204

    response = post_dataset(alice_client, dataset_bytes(1))

    assert response.status_code == 400
    assert b"the limit is 1 per hour" in response.content
    assert b"possible in 60 minutes" in response.content
    assert b"1 of 1 uploads in the last hour" in response.content
    assert 3540 <= int(response["Retry-After"]) <= 3600
    assert Dataset.objects.count() == 1


def test_the_upload_page_shows_the_quota_refusal(alice_client: Client) -> None:
    first = dataset_bytes(0)
    with override_settings(REGISTRY_UPLOAD_QUOTA_BYTES=len(first) + 10):
        assert post_dataset(alice_client, first).status_code == 204
        response = post_dataset(alice_client, dataset_bytes(1))
    assert response.status_code == 400
    assert b"over its quota of" in response.content
    assert Dataset.objects.count() == 1


def test_the_upload_page_shows_a_hostile_model_refusal_without_a_server_path(
    alice_client: Client, tabular: Dataset, tmp_path: Path
) -> None:
    response = alice_client.post(
        reverse("registry:model-upload"),
        {
            "file": SimpleUploadedFile(
                "model.onnx", builders.classifier_with_external_weights("weights.bin")
            ),
            "name": "linear",
            "version": "1",
            "task": "classification",
            "price_per_call": 1,
            "dataset_sha256": tabular.sha256,
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "single self-contained file" in text
    assert "synod-upload" not in text and str(tmp_path) not in text
    assert ModelVersion.objects.count() == 0


def test_the_upload_page_shows_a_dataset_over_the_row_limit(alice_client: Client) -> None:
    with override_settings(REGISTRY_MAX_DATASET_ROWS=100):
        response = post_dataset(alice_client, builders.long_csv_bytes(500))
    assert response.status_code == 400
    message = "The CSV file has at least 500 rows; the limit is 100 rows per dataset."
    assert message.encode() in response.content
    assert Dataset.objects.count() == 0
