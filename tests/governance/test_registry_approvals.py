"""Governance drives the registry: an uploaded dataset is 'pending vote' while its approval
is open, 'approved' once the proposal executes, and only then listed by the public API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from synod.governance import actions, selectors, wallet_calls
from synod.registry import services as registry_services
from synod.registry.models import Dataset
from tests.governance.conftest import sync, wallet_send
from tests.governance.test_lifecycle import run_life_cycle
from tests.registry import builders

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


@pytest.fixture
def uploaded_dataset(tmp_path) -> Iterator[Dataset]:
    with builders.blob_storage_at(tmp_path / "blobs"):
        yield builders.upload_blobs_dataset()


def listed(client) -> set[str]:
    return {row["sha256"] for row in client.get("/api/v1/datasets").json()["results"]}


def test_an_approval_flips_the_registry_state_and_what_the_api_lists(
    client, suite, uploaded_dataset
):
    sha = uploaded_dataset.sha256
    assert uploaded_dataset.approval_status == "not_proposed"
    assert sha not in listed(client)

    plan = actions.approve_dataset(sha256=sha, uri="synod://d", license="CC0-1.0")
    run_life_cycle(suite, plan)
    uploaded_dataset.refresh_from_db()
    assert uploaded_dataset.approval_status == "approved"
    assert sha in listed(client)

    revoke = actions.revoke_dataset(sha256=sha)
    run_life_cycle(suite, revoke)
    uploaded_dataset.refresh_from_db()
    assert uploaded_dataset.approval_status == "revoked"
    assert sha not in listed(client)


def test_pending_vote_while_open_and_released_when_defeated(client, suite, uploaded_dataset):
    """Governance says which hashes have a vote open (the registry shows them as "pending
    vote"); the registry's mirror keeps only what the chain says."""
    sha = uploaded_dataset.sha256
    plan = actions.approve_dataset(sha256=sha, uri="synod://d", license="MIT")
    wallet_send(suite, wallet_calls.propose(plan), suite.holders[0])
    sync()
    assert selectors.pending_vote_subjects("dataset") == {sha}
    assert selectors.pending_vote_subjects("model") == set()
    uploaded_dataset.refresh_from_db()
    assert uploaded_dataset.approval_status == "not_proposed"

    suite.node.mine(2)
    sync()
    council = suite.council("data")
    proposal_id = wallet_calls.proposal_id(plan)
    suite.send(council.functions.castVote(proposal_id, 0), suite.holders[0])
    suite.send(council.functions.castVote(proposal_id, 0), suite.holders[1])
    suite.mine_past_deadline(council, proposal_id)
    sync()
    assert selectors.pending_vote_subjects("dataset") == set()
    uploaded_dataset.refresh_from_db()
    assert uploaded_dataset.approval_status == "not_proposed"
    assert uploaded_dataset.sha256 not in listed(client)


def test_dataset_page_links_to_a_prefilled_approval_proposal(client, suite, uploaded_dataset):
    from synod.accounts.models import User

    client.force_login(User.objects.create(address=suite.holders[0]))
    url = reverse("registry:dataset-detail", args=[uploaded_dataset.sha256])
    page = client.get(url).content.decode()
    assert 'data-testid="propose-dataset"' in page
    link = page.split('data-testid="propose-dataset"')[1].split('href="')[1].split('"')[0]
    form = client.get(link.replace("&amp;", "&")).content.decode()
    assert f'value="{uploaded_dataset.sha256}"' in form
    assert f'value="synod://datasets/{uploaded_dataset.sha256}"' in form


def test_reconcile_takes_the_chain_record_whatever_the_mirror_said(suite, uploaded_dataset):
    from synod.chain.events import DecodedEvent
    from synod.registry import handlers

    sha = uploaded_dataset.sha256
    digest = bytes.fromhex(sha)
    registry = suite["ModelRegistry"].functions
    assert registry_services.reconcile_approval_with_chain("dataset", sha) == "not_proposed"

    suite.as_timelock("data", registry.approveDataset(digest, "synod://d", "MIT"))
    # A mirror that went ahead of the chain (say, an event a reorg then removed) is put back.
    registry_services.record_approval_change("dataset", sha, "revoked", block_number=10**9,
                                             tx_hash="0xgone")  # fmt: skip
    event = DecodedEvent(
        chain_id=31337, contract="ModelRegistry", address=suite["ModelRegistry"].address,
        event="DatasetRevoked",
        args={"datasetHash": digest}, block_number=10**9, block_hash="0x", tx_hash="0xgone",
        log_index=0,
    )  # fmt: skip
    handlers.note_undone_approval_event(event)  # in the rewind's transaction: no node call
    handlers.reconcile_approvals_after_rewind(31337, 10**9 - 1)  # after it committed
    uploaded_dataset.refresh_from_db()
    assert uploaded_dataset.approval_status == "approved"

    suite.as_timelock("data", registry.revokeDataset(digest))
    assert registry_services.reconcile_approval_with_chain("dataset", sha) == "revoked"
    uploaded_dataset.refresh_from_db()
    assert uploaded_dataset.approval_status == "revoked"
