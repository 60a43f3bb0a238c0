from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from synod.registry import services
from synod.registry.models import Dataset, ModelVersion

from . import builders
from .conftest import stored_files

pytestmark = pytest.mark.django_db
ADDRESS = "0x" + "12" * 20


@pytest.fixture
def client_signed_in(blob_dir) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user(ADDRESS))
    return client


def test_pages_need_a_signed_in_user(blob_dir) -> None:
    response = Client().get(reverse("registry:model-list"))
    assert response.status_code == 302
    assert "next=" in response["Location"]


def test_dataset_upload_through_the_page_with_htmx(client_signed_in: Client) -> None:
    features, labels = builders.tabular_rows()
    page = client_signed_in.get(reverse("registry:dataset-upload"))
    assert b"data-upload-bar" in page.content and b"js/upload.js" in page.content

    response = client_signed_in.post(
        reverse("registry:dataset-upload"),
        {
            "file": SimpleUploadedFile("blobs.csv", builders.csv_bytes(features, labels)),
            "name": "blobs",
            "input_columns": "f0, f1, f2",
            "label_column": "label",
        },
        HTTP_HX_REQUEST="true",
    )

    dataset = Dataset.objects.get()
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("registry:dataset-detail", args=[dataset.sha256])
    detail = client_signed_in.get(response["HX-Redirect"])
    assert dataset.sha256.encode() in detail.content
    assert dataset.uploaded_by.address.lower() == ADDRESS


def test_an_oversized_upload_is_refused_with_a_clear_message(
    client_signed_in: Client, blob_dir
) -> None:
    with override_settings(REGISTRY_MAX_DATASET_BYTES=10):
        response = client_signed_in.post(
            reverse("registry:dataset-upload"),
            {
                "file": SimpleUploadedFile("big.csv", b"f0,f1,f2,label\n" + b"1,2,3,0\n" * 20_000),
                "name": "big",
                "input_columns": "f0,f1,f2",
                "label_column": "label",
            },
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 400
    assert b"larger than the limit" in response.content
    assert Dataset.objects.count() == 0
    assert stored_files(blob_dir) == []


def test_a_non_onnx_model_upload_shows_the_reason(client_signed_in: Client, tabular) -> None:
    response = client_signed_in.post(
        reverse("registry:model-upload"),
        {
            "file": SimpleUploadedFile("model.onnx", b"definitely not onnx"),
            "name": "m",
            "version": "1",
            "task": "classification",
            "price_per_call": "1",
            "dataset_sha256": tabular.sha256,
        },
    )
    assert response.status_code == 400
    assert b"not a readable ONNX model" in response.content
    assert ModelVersion.objects.count() == 0


def test_model_pages_evaluation_progress_and_report(client_signed_in: Client, tabular) -> None:
    response = client_signed_in.post(
        reverse("registry:model-upload"),
        {
            "file": SimpleUploadedFile("linear.onnx", builders.linear_classifier()),
            "name": "linear",
            "version": "1",
            "task": "classification",
            "price_per_call": "2",
            "dataset_sha256": tabular.sha256,
        },
    )
    model = ModelVersion.objects.get()
    assert response.status_code == 302
    detail = client_signed_in.get(reverse("registry:model-detail", args=[model.sha256]))
    assert b"batch" in detail.content and b"features" in detail.content

    evaluation = services.request_evaluation(model_version=model, dataset=tabular, enqueue=False)
    progress_url = reverse("registry:evaluation-progress", args=[evaluation.pk])
    polling = client_signed_in.get(progress_url, HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' in polling.content
    assert "HX-Refresh" not in polling

    services.run_evaluation(evaluation_id=evaluation.pk)
    finished = client_signed_in.get(progress_url, HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in finished.content
    assert finished["HX-Refresh"] == "true"

    report_page = client_signed_in.get(reverse("registry:evaluation-detail", args=[evaluation.pk]))
    assert b"<svg" in report_page.content
    evaluation.refresh_from_db()
    assert evaluation.report_sha256.encode() in report_page.content
    raw = client_signed_in.get(reverse("registry:evaluation-report", args=[evaluation.pk]))
    import hashlib

    assert hashlib.sha256(raw.content).hexdigest() == evaluation.report_sha256

    compare = client_signed_in.get(reverse("registry:model-compare", args=["linear"]))
    assert b"comparison-table" in compare.content
    listing = client_signed_in.get(reverse("registry:model-list"))
    assert b"linear@1" in listing.content
