"""A relayed vote is never reported wrongly: "never sent" is a refusal with the reason and
keeps nothing; once the signed transaction is in the sender's outbox the voter hears
"pending", and the page later shows the outcome (counted, or the reason it failed and a way
to vote again). Real anvil, real HTTP, real Celery tasks run in-process; the only fault
injected is the network's, by an RPC proxy between the platform and its node."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from eth_utils import keccak

from synod.accounts.models import User
from synod.chain import tasks as chain_tasks
from synod.chain.client import operator_account
from synod.chain.models import NonceSequence, OutgoingTransaction
from synod.governance import actions, services, wallet_calls
from synod.governance import tasks as governance_tasks
from synod.governance.models import Proposal, RelayedBallot, Vote
from tests.governance.conftest import AS_SCRIPT, mirrored, sign_ballot, sync, wallet_send

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

Outbox = OutgoingTransaction.Status
Ballot = RelayedBallot.Status
VOTER_KEY = 2  # anvil dev key 2: the second genesis holder of every council badge


def _propose(suite, name: str) -> Proposal:
    plan = actions.approve_dataset(sha256=keccak(text=name).hex(), uri="synod://d", license="MIT")
    wallet_send(suite, wallet_calls.propose(plan), suite.holders[0])
    suite.node.mine(2)  # past the voting delay
    sync()
    return mirrored("data")


@pytest.fixture
def proposal(suite) -> Proposal:
    return _propose(suite, "relay-outcomes.csv")


@pytest.fixture
def voter(client, suite) -> str:
    address = suite.accounts[VOTER_KEY]
    user, _ = User.objects.get_or_create(address=address)
    client.force_login(user)
    return address


@pytest.fixture
def through_proxy(settings, rpc_proxy):
    """The platform reaches its node through the proxy, as through any network."""
    settings.CHAIN_RPC_URL = rpc_proxy.url
    return rpc_proxy


def _relay_over_http(client, proposal: Proposal, voter: str, *, support: int = 1):
    typed = services.ballot_typed_data(proposal=proposal, voter=voter, support=support, reason="")
    url = reverse("governance:relay", args=[proposal.council, proposal.proposal_id])
    return client.post(
        url,
        {"support": support, "reason": "", "nonce": typed["message"]["nonce"],
         "signature": sign_ballot(typed, VOTER_KEY)},
        **AS_SCRIPT,
    )  # fmt: skip


def _live_page(client, proposal: Proposal) -> str:
    url = reverse("governance:live", args=[proposal.council, proposal.proposal_id])
    return client.get(url).content.decode()


def _beat() -> None:
    """What beat runs: resend the outbox, index the chain, settle ballots and states."""
    chain_tasks.resend_unfinished_transactions.apply().get()
    chain_tasks.index_chain.apply().get()
    governance_tasks.refresh_proposal_states.apply().get()


# --- (1) the broadcast fails after signing: pending, then counted -------------------------


@pytest.mark.parametrize(
    "failure",
    ["drop", "lose_reply"],
    ids=["connection-dropped-before-the-node", "reply-lost-after-the-node"],
)
def test_a_relay_whose_broadcast_fails_is_pending_then_counted(
    client, suite, proposal, voter, through_proxy, node_guard, failure
):
    through_proxy.broadcast = failure
    response = _relay_over_http(client, proposal, voter)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and "pending" in body["detail"]
    assert through_proxy.refused >= 1
    ballot = RelayedBallot.objects.get()
    outgoing = OutgoingTransaction.objects.get()
    assert ballot.status == Ballot.PENDING
    assert ballot.outgoing_tx_hash == outgoing.tx_hash == body["txHash"]
    assert outgoing.status == Outbox.PENDING and outgoing.broadcast_attempts >= 1
    node_has_it = suite.w3.eth.get_transaction_count(operator_account().address) > outgoing.nonce
    assert node_has_it == (failure == "lose_reply")  # either way, the voter hears "pending"
    page = _live_page(client, proposal)
    assert 'data-status="pending"' in page and "is pending" in page
    assert "You voted" not in page

    through_proxy.broadcast = "forward"  # the network is back
    _beat()  # the resend task sends it (or finds it mined), the indexer sees VoteCast
    _beat()  # the next sweep records the receipt

    outgoing.refresh_from_db()
    ballot.refresh_from_db()
    assert outgoing.status == Outbox.MINED
    assert ballot.status == Ballot.MINED
    vote = Vote.objects.get(voter=voter)
    assert vote.relayed and vote.tx_hash == outgoing.tx_hash
    proposal.refresh_from_db()
    assert proposal.for_votes == 1
    page = _live_page(client, proposal)
    assert "You voted <strong>For</strong> (relayed)" in page
    assert 'data-testid="relay-status"' not in page
    assert suite.council("data").functions.hasVoted(int(proposal.proposal_id), voter).call()
    node_guard.assert_clean()


# --- (2) never sent: refused with the reason, nothing kept --------------------------------


def test_a_relay_refused_at_the_estimate_is_refused_with_the_reason(
    client, suite, proposal, voter, through_proxy, node_guard
):
    # The voter's own wallet vote lands between the platform's checks and its estimate.
    def wallet_vote_first() -> None:
        wallet_send(suite, wallet_calls.cast_vote(proposal, support=0, reason=""), voter)

    through_proxy.before["eth_estimateGas"] = wallet_vote_first
    response = _relay_over_http(client, proposal, voter)

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "the council refused the vote: this address had already voted on this proposal"
    )
    assert not RelayedBallot.objects.exists()
    assert not OutgoingTransaction.objects.exists()
    assert not NonceSequence.objects.exists()
    node_guard.assert_clean()


def test_a_relay_the_node_never_received_is_refused_and_can_be_retried(
    client, suite, proposal, voter, through_proxy, node_guard
):
    through_proxy.drop_methods = {"eth_estimateGas"}  # the node goes away before signing
    response = _relay_over_http(client, proposal, voter)

    assert response.status_code == 503
    assert response.json()["detail"] == (
        "the vote could not be sent (the chain node could not be reached); "
        "nothing was recorded, try again"
    )
    assert not RelayedBallot.objects.exists()
    assert not OutgoingTransaction.objects.exists()

    through_proxy.drop_methods = set()
    retried = _relay_over_http(client, proposal, voter)
    assert retried.status_code == 202, retried.content
    assert RelayedBallot.objects.get().status == Ballot.PENDING
    node_guard.assert_clean()


# --- (3) reverted on chain: the reason in plain words, then the voter can retry ------------


def test_a_reverted_relay_shows_the_reason_and_the_voter_can_retry(
    client, suite, proposal, voter, through_proxy, node_guard, settings
):
    settings.GOVERNANCE_RELAY_BUDGET_PER_DAY = 1  # the retry needs the failed one released
    other = _propose(suite, "relay-outcomes-other.csv")
    through_proxy.broadcast = "drop"
    assert _relay_over_http(client, proposal, voter).status_code == 202

    # Meanwhile a ballot the voter signed for another proposal, with the same ballot nonce,
    # is submitted by someone else: the relayed one's signature is spent before it lands.
    council = suite.council("data")
    typed = services.ballot_typed_data(proposal=other, voter=voter, support=0, reason="")
    other_ballot = (int(other.proposal_id), 0, voter, "", b"", sign_ballot(typed, VOTER_KEY))
    tx = council.functions.castVoteWithReasonAndParamsBySig(*other_ballot).transact(
        {"from": suite.accounts[7]}
    )
    assert suite.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1

    through_proxy.broadcast = "forward"
    _beat()
    _beat()

    outgoing = OutgoingTransaction.objects.get()
    assert outgoing.status == Outbox.FAILED
    assert outgoing.revert_name.startswith("GovernorInvalidSignature(")
    assert suite.w3.eth.get_transaction_receipt(outgoing.tx_hash)["status"] == 0
    ballot = RelayedBallot.objects.get()
    assert ballot.status == Ballot.FAILED
    assert "did not accept the ballot's signature" in ballot.error
    assert not Vote.objects.filter(proposal=proposal).exists()
    page = _live_page(client, proposal)
    assert 'data-status="failed"' in page
    assert "Your relayed vote did not count: the council did not accept" in page
    assert "You can vote again." in page

    retried = _relay_over_http(client, proposal, voter)
    assert retried.status_code == 202, retried.content
    _beat()
    _beat()
    assert RelayedBallot.objects.filter(status=Ballot.MINED).count() == 1
    assert Vote.objects.get(proposal=proposal, voter=voter).relayed
    assert "You voted <strong>For</strong> (relayed)" in _live_page(client, proposal)
    node_guard.assert_clean()


def test_a_relay_that_is_still_pending_cannot_be_sent_twice(
    client, suite, proposal, voter, through_proxy
):
    through_proxy.broadcast = "drop"
    assert _relay_over_http(client, proposal, voter).status_code == 202
    again = _relay_over_http(client, proposal, voter)
    assert again.status_code == 409
    assert "already on its way" in again.json()["detail"]
    assert OutgoingTransaction.objects.count() == 1
    detail = reverse("governance:detail", args=[proposal.council, proposal.proposal_id])
    assert 'data-testid="relay-open"' in client.get(detail).content.decode()


def test_a_ballot_the_sender_never_saved_is_released_after_a_while(suite, proposal, voter):
    """The relay request died between recording the ballot and the sender saving it."""
    ballot = RelayedBallot.objects.create(
        chain_id=proposal.chain_id, council=proposal.council, proposal_id=proposal.proposal_id,
        voter=voter, support=1, signature="0x", idempotency_key="relay-vote:never-saved",
    )  # fmt: skip
    assert services.settle_relayed_ballots() == 0  # it may still be on its way
    RelayedBallot.objects.filter(pk=ballot.pk).update(
        created_at=timezone.now() - services.NEVER_SENT_AFTER - timedelta(seconds=1)
    )
    assert services.settle_relayed_ballots() == 1
    ballot.refresh_from_db()
    assert ballot.status == Ballot.FAILED and "nothing was sent" in ballot.error


# --- (4) governance's handlers and relay make no node call inside a transaction -------------


def test_governance_indexing_relaying_and_rewinding_make_no_node_call_in_a_transaction(
    client, suite, voter, node_guard
):
    snapshot = suite.node.snapshot()
    proposal = _propose(suite, "relay-guarded.csv")  # ProposalCreated: needs its block time
    block = suite.w3.eth.get_block(proposal.created_block)
    assert proposal.created_at.timestamp() == block["timestamp"]
    assert _relay_over_http(client, proposal, voter).status_code == 202
    _beat()
    _beat()
    assert Vote.objects.get(voter=voter).relayed

    suite.node.revert(snapshot)  # a reorg takes the proposal and the vote away
    suite.node.mine(3)
    sync()
    assert not Proposal.objects.filter(pk=proposal.pk).exists()
    assert not Vote.objects.exists()
    node_guard.assert_clean()
