"""The approval a page shows: the chain's status from the mirror, or "pending vote" while an
open governance proposal would change a hash the chain has not approved. The mirror never
stores a vote; governance says which hashes have one open (pending_vote_subjects)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from synod.registry import selectors, services
from synod.registry.models import ApprovalStatus, Dataset, ModelVersion

from . import builders

pytestmark = pytest.mark.django_db
TX = "0x" + "ab" * 32

OpenVotes = Callable[..., None]


@pytest.fixture
def open_votes(monkeypatch) -> OpenVotes:
    """Say which hashes governance has an open vote on (none until called), per kind."""
    from synod.governance import selectors as governance_selectors

    votes: dict[str, set[str]] = {}

    def pending_vote_subjects(kind: str) -> set[str]:
        assert kind in ("dataset", "model")
        return set(votes.get(kind, ()))

    # raising=False: the same whether or not governance's selector has landed yet.
    monkeypatch.setattr(
        governance_selectors, "pending_vote_subjects", pending_vote_subjects, raising=False
    )

    def open_(*, dataset: tuple[str, ...] = (), model: tuple[str, ...] = ()) -> None:
        votes["dataset"], votes["model"] = set(dataset), set(model)

    return open_


@pytest.fixture
def model(tabular: Dataset) -> ModelVersion:
    return builders.upload_linear_model(tabular)


def shown(dataset: Dataset) -> str:
    return selectors.dataset_get(dataset.sha256).shown_approval


def test_without_an_open_vote_the_chain_status_shows(tabular: Dataset, open_votes) -> None:
    open_votes()
    assert shown(tabular) == "not_proposed"
    services.record_approval_change(
        "dataset", tabular.sha256, ApprovalStatus.REVOKED, block_number=3, tx_hash=TX
    )
    assert shown(tabular) == "revoked"


@pytest.mark.parametrize("chain_status", [None, ApprovalStatus.REVOKED])
def test_an_open_vote_shows_over_not_proposed_and_revoked(
    tabular: Dataset, open_votes, chain_status
) -> None:
    if chain_status:
        services.record_approval_change(
            "dataset", tabular.sha256, chain_status, block_number=3, tx_hash=TX
        )
    # Governance may give the hash as events carry it: 0x-prefixed, any case.
    open_votes(dataset=("0x" + tabular.sha256.upper(),))
    assert shown(tabular) == "pending_vote"
    tabular.refresh_from_db()
    assert tabular.approval_status == (chain_status or "not_proposed")  # the mirror as it was


def test_an_approved_hash_stays_approved_while_a_vote_is_open(tabular: Dataset, open_votes):
    services.record_approval_change(
        "dataset", tabular.sha256, ApprovalStatus.APPROVED, block_number=3, tx_hash=TX
    )
    open_votes(dataset=(tabular.sha256,))
    assert shown(tabular) == "approved"


def test_a_vote_on_a_model_is_not_a_vote_on_a_dataset(model: ModelVersion, open_votes) -> None:
    open_votes(model=(model.sha256,))
    assert selectors.model_version_get(model.sha256).shown_approval == "pending_vote"
    assert shown(model.dataset) == "not_proposed"
    open_votes(dataset=(model.sha256,))
    assert selectors.model_version_get(model.sha256).shown_approval == "not_proposed"


def test_the_pages_show_the_vote_and_offer_no_second_proposal(
    model: ModelVersion, open_votes
) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("0x" + "12" * 20))
    dataset_page = reverse("registry:dataset-detail", args=[model.dataset.sha256])
    open_votes()
    page = client.get(dataset_page).content.decode()
    assert "Not proposed" in page and 'data-testid="propose-dataset"' in page

    open_votes(dataset=(model.dataset.sha256,), model=(model.sha256,))
    page = client.get(dataset_page).content.decode()
    assert '<span class="pill warn">pending vote</span>' in page
    assert "Pending vote" in page
    assert 'data-testid="propose-dataset"' not in page

    for url in [
        reverse("registry:model-detail", args=[model.sha256]),
        reverse("registry:model-list"),
        reverse("registry:dataset-list"),
    ]:
        assert '<span class="pill warn">pending vote</span>' in client.get(url).content.decode()

    services.run_evaluation(
        evaluation_id=services.request_evaluation(model_version=model, dataset=model.dataset).pk
    )
    compare = client.get(reverse("registry:model-compare", args=[model.name])).content.decode()
    assert 'data-testid="comparison-table"' in compare
    assert '<span class="pill warn">pending vote</span>' in compare


def test_governance_open_proposals_are_what_shows_as_a_vote(tabular: Dataset, settings) -> None:
    """With governance's own selector: an open proposal to approve the dataset, then the
    same proposal defeated."""
    from django.utils import timezone

    from synod.governance.models import Proposal, ProposalState

    proposal = Proposal.objects.create(
        chain_id=settings.CHAIN_ID, council="data", proposal_id="1", proposer="0x" + "12" * 20,
        kind="approve_dataset", title="Approve", description="Approve", targets=[], values=[],
        calldatas=[], vote_start=1, vote_end=2, state=ProposalState.ACTIVE, created_block=1,
        created_tx=TX, created_at=timezone.now(),
        actions=[{"kind": "approve_dataset", "args": {"datasetHash": "0x" + tabular.sha256}}],
    )  # fmt: skip
    assert shown(tabular) == "pending_vote"

    Proposal.objects.filter(pk=proposal.pk).update(state=ProposalState.DEFEATED)
    assert shown(tabular) == "not_proposed"
