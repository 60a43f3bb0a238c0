from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from synod.registry import services
from synod.registry.models import ApprovalStatus, Dataset, ModelVersion

from . import builders

pytestmark = pytest.mark.django_db
TX = "0x" + "ab" * 32


@pytest.fixture
def model(tabular: Dataset) -> ModelVersion:
    return builders.upload_linear_model(tabular)


def listed(path: str) -> list[dict]:
    response = APIClient().get(path)
    assert response.status_code == 200
    return response.json()["results"]


def test_record_approval_change_flips_what_the_api_lists(model: ModelVersion) -> None:
    assert listed("/api/v1/models") == []

    assert services.record_approval_change(
        "model", "0x" + model.sha256.upper(), ApprovalStatus.APPROVED, block_number=10, tx_hash=TX
    )

    [entry] = listed("/api/v1/models")
    assert entry["sha256"] == model.sha256
    assert entry["reference"] == "linear@1"
    assert entry["price_per_call"] == 4
    assert entry["inputs"][0] == {
        "name": "features",
        "type": "tensor",
        "elem_type": "float",
        "shape": ["batch", 3],
    }
    assert entry["approval"] == {"status": "approved", "block_number": 10, "tx_hash": TX}
    assert entry["evaluation"] is None

    services.record_approval_change(
        "model", model.sha256, ApprovalStatus.REVOKED, block_number=12, tx_hash=TX
    )
    assert listed("/api/v1/models") == []


def test_the_api_carries_the_latest_evaluation_metrics(model: ModelVersion) -> None:
    evaluation = services.run_evaluation(
        evaluation_id=services.request_evaluation(model_version=model, dataset=model.dataset).pk
    )
    services.record_approval_change(
        "model", model.sha256, ApprovalStatus.APPROVED, block_number=1, tx_hash=TX
    )
    [entry] = listed("/api/v1/models")
    assert entry["evaluation"]["metrics"]["accuracy"] == evaluation.metrics["accuracy"]
    assert entry["evaluation"]["metrics_sha256"] == evaluation.metrics_sha256
    assert entry["evaluation"]["report_sha256"] == evaluation.report_sha256


def test_replayed_and_stale_events_change_nothing(model: ModelVersion) -> None:
    approve = {"block_number": 20, "tx_hash": TX}
    assert services.record_approval_change("model", model.sha256, "approved", **approve)
    assert not services.record_approval_change("model", model.sha256, "approved", **approve)
    # An older event (a revocation from block 5) arriving late must not undo the approval.
    assert not services.record_approval_change(
        "model", model.sha256, "revoked", block_number=5, tx_hash=TX
    )
    model.refresh_from_db()
    assert model.approval_status == ApprovalStatus.APPROVED
    assert model.approval_block_number == 20


def test_an_approval_seen_before_the_upload_applies_when_the_file_arrives(blob_dir) -> None:
    features, labels = builders.tabular_rows()
    content = builders.csv_bytes(features, labels)
    import hashlib

    sha256 = hashlib.sha256(content).hexdigest()
    services.record_approval_change("dataset", sha256, "approved", block_number=3, tx_hash=TX)
    assert listed("/api/v1/datasets") == []

    services.upload_dataset(
        source=[content],
        filename="blobs.csv",
        name="blobs",
        input_columns=builders.FEATURES,
        label_column="label",
    )

    [entry] = listed("/api/v1/datasets")
    assert entry["sha256"] == sha256
    assert entry["row_count"] == 60
    assert entry["approval"]["status"] == "approved"


def test_bad_approval_input_is_refused(model: ModelVersion) -> None:
    with pytest.raises(services.RegistryError):
        services.record_approval_change("model", model.sha256, "maybe", block_number=1, tx_hash=TX)
    with pytest.raises(services.RegistryError):
        services.record_approval_change("model", "xyz", "approved", block_number=1, tx_hash=TX)
    # A vote is governance's to report, not the chain's: the mirror never holds one.
    with pytest.raises(services.RegistryError, match="Unknown approval status 'pending_vote'"):
        services.record_approval_change(
            "model", model.sha256, "pending_vote", block_number=1, tx_hash=TX
        )


def test_the_schema_describes_the_registry_endpoints() -> None:
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    # Only this app's routes: the schema check must not depend on other apps' progress.
    generator = SchemaGenerator(patterns=[path("api/v1/", include("synod.registry.api_urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert {"/api/v1/models", "/api/v1/datasets"} <= set(schema["paths"])
    components = schema["components"]["schemas"]
    model_schema = next(v for v in components.values() if "evaluation" in v.get("properties", {}))
    assert {"inputs", "outputs", "price_per_call", "approval"} <= set(model_schema["properties"])
    assert {"TensorSpec", "ApprovedModelVersion", "ApprovedDataset"} <= set(components)
