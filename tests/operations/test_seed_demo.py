"""The demo a new local platform shows: evaluated models and a governance round."""

import pytest

from synod.governance.models import Proposal, ProposalState
from synod.operations.demo import seed_demo
from synod.registry import selectors as registry_selectors
from synod.registry.models import Dataset, ModelVersion

pytestmark = [pytest.mark.chain, pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def blob_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }


def test_seed_demo_builds_models_and_a_governance_round_once(chain, blob_storage):
    lines: list[str] = []
    assert seed_demo(progress=lines.append)
    iris = Dataset.objects.get(name__startswith="Iris")
    assert iris.approval_status == "approved"  # the demo round executed its approval
    states = dict(Proposal.objects.values_list("kind", "state"))
    assert states["approve_dataset"] == ProposalState.EXECUTED
    assert states["approve_model"] == ProposalState.ACTIVE
    logistic = ModelVersion.objects.get(version="2.0-logistic")
    # Its vote is open: the registry shows "pending vote" (the mirror holds the chain's state).
    assert logistic.approval_status == "not_proposed"
    assert registry_selectors.model_version_get(logistic.sha256).shown_approval == "pending_vote"
    assert ModelVersion.objects.filter(task="embedding").exists()

    count = Proposal.objects.count()
    assert seed_demo(progress=lines.append)
    assert Proposal.objects.count() == count


def test_seed_demo_refuses_a_non_local_chain(settings):
    settings.CHAIN_ID = 1
    assert seed_demo() is False
