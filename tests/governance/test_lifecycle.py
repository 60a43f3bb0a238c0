"""Full proposal life cycles on a real anvil node, through the same server-built calls the
browser hands to the wallet, with votes sent from the wallet and relayed gasless."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from synod.governance import actions, services, wallet_calls
from synod.governance.models import ProposalState, Vote
from tests.governance.conftest import mirrored, sign_ballot, sync, wallet_send

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

DATASET = keccak(text="iris.csv").hex()
MODEL = keccak(text="iris-logreg.onnx").hex()
REPORT = keccak(text="iris-logreg-report.json").hex()


def run_life_cycle(suite, plan: actions.ProposalPlan) -> None:
    proposer, wallet_voter, gasless_voter = suite.holders[0], suite.holders[0], suite.holders[1]
    wallet_send(suite, wallet_calls.propose(plan), proposer)
    sync()
    proposal = mirrored(plan.council)
    assert proposal.kind == plan.kind
    assert proposal.title == plan.title
    assert proposal.state == ProposalState.PENDING
    assert str(wallet_calls.proposal_id(plan)) == proposal.proposal_id

    suite.node.mine(2)  # past the voting delay
    sync()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.ACTIVE

    # (a) the wallet sends castVoteWithReason
    wallet_send(suite, wallet_calls.cast_vote(proposal, support=1, reason="measured"), wallet_voter)
    # (b) gasless: the wallet signs the EIP-712 ballot, the platform relays it
    typed = services.ballot_typed_data(
        proposal=proposal, voter=gasless_voter, support=1, reason="relayed"
    )
    ballot = services.relay_vote(
        proposal=proposal, voter=gasless_voter, support=1, reason="relayed",
        nonce=typed["message"]["nonce"], signature=sign_ballot(typed, 2),
    )  # fmt: skip
    assert ballot.outgoing_tx_hash
    # The relay returns once broadcast; like governance.js, wait for the block before indexing.
    suite.w3.eth.wait_for_transaction_receipt(ballot.outgoing_tx_hash)
    sync()
    proposal.refresh_from_db()
    assert (proposal.for_votes, proposal.against_votes, proposal.abstain_votes) == (2, 0, 0)
    assert proposal.quorum is not None and proposal.for_votes >= proposal.quorum
    votes = {v.voter: v for v in Vote.objects.filter(proposal=proposal)}
    assert votes[suite.holders[0]].reason == "measured" and not votes[suite.holders[0]].relayed
    assert votes[suite.holders[1]].reason == "relayed" and votes[suite.holders[1]].relayed

    suite.mine_past_deadline(suite.council(plan.council), int(proposal.proposal_id))
    sync()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.SUCCEEDED

    wallet_send(suite, wallet_calls.queue(proposal), suite.accounts[7])
    sync()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.QUEUED and proposal.eta is not None

    suite.increase_time(suite.timelock(plan.council).functions.getMinDelay().call() + 1)
    wallet_send(suite, wallet_calls.execute(proposal), suite.accounts[8])
    sync()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.EXECUTED and proposal.executed_tx


def test_data_council_approves_a_dataset(suite):
    plan = actions.approve_dataset(sha256=DATASET, uri="synod://datasets/iris", license="CC0-1.0")
    run_life_cycle(suite, plan)
    assert suite["ModelRegistry"].functions.isDatasetApproved(bytes.fromhex(DATASET)).call()


def test_model_council_approves_a_model_version(suite):
    registry = suite["ModelRegistry"].functions
    suite.as_timelock("data", registry.approveDataset(bytes.fromhex(DATASET), "u", "CC0-1.0"))
    plan = actions.approve_model(
        sha256=MODEL, name="iris", version="2", task="classification", price_per_call=3,
        dataset_sha256=DATASET, report_sha256=REPORT,
    )  # fmt: skip
    run_life_cycle(suite, plan)
    assert registry.isModelApproved(bytes.fromhex(MODEL)).call()
    proposal = mirrored("model")
    assert "approve model iris@2 (classification)" in proposal.actions[0]["summary"]
    assert "price 3 tickets per call" in proposal.actions[0]["summary"]


def test_compute_council_changes_the_ticket_price(suite):
    plan = actions.set_parameter(parameter="ticket_price", value=2 * 10**15)
    run_life_cycle(suite, plan)
    assert suite["PromptTicket"].functions.ticketPrice().call() == 2 * 10**15


def test_a_council_grants_a_badge(suite):
    newcomer = suite.accounts[5]
    plan = actions.grant_badge(council="compute", holder=newcomer)
    run_life_cycle(suite, plan)
    assert suite.badge("compute").functions.balanceOf(newcomer).call() == 1
