from __future__ import annotations

import pytest
from eth_utils import keccak

from synod.accounts import services
from synod.accounts.models import User
from synod.governance.demo import run_demo_round
from synod.registry import services as registry_services
from synod.registry.models import ApprovalStatus
from tests.governance.conftest import sync
from tests.registry import builders

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil dev account 1


@pytest.fixture
def api_key(db) -> str:
    """The secret of a real API key of a fresh user."""
    user = User.objects.create_user(ADDRESS)
    return services.create_api_key(user=user, name="tests").secret


@pytest.fixture
def blob_store(tmp_path, settings) -> None:
    """Uploaded files of this test go to a folder of its own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }


@pytest.fixture
def published(chain, deployed, blob_store) -> None:
    """What the API serves, made the way the platform makes it: a dataset and a model
    uploaded and evaluated, and a governance round on the real chain (an executed dataset
    approval, a defeated fee change, two open proposals with votes) mirrored by the indexer."""
    dataset = builders.upload_blobs_dataset()
    model = builders.upload_linear_model(dataset)
    evaluation = registry_services.request_evaluation(
        model_version=model, dataset=dataset, enqueue=False
    )
    registry_services.run_evaluation(evaluation_id=evaluation.pk)
    run_demo_round(
        dataset_sha256=dataset.sha256,
        model={
            "sha256": model.sha256, "name": model.name, "version": model.version,
            "task": model.task, "price_per_call": model.price_per_call,
            "dataset_sha256": dataset.sha256, "report_sha256": keccak(text="report").hex(),
        },
    )  # fmt: skip
    sync()
    # The model's approval vote is still open in the demo round: approve it as the indexer
    # will once it executes (in a later block than the vote's).
    registry_services.record_approval_change(
        "model",
        model.sha256,
        ApprovalStatus.APPROVED,
        block_number=chain.w3.eth.block_number + 1,
        tx_hash="0x" + "ab" * 32,
    )
