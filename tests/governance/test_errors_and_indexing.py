"""Governance under the one error model: each refusal is a class with its status and code,
answered by the middleware (JSON for governance.js); the registry's "pending vote" comes
from governance's open proposals; a click refreshes one proposal and asks a worker to
index, it never indexes in the web request."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from eth_utils import keccak

from synod.accounts.models import User
from synod.chain import services as chain_services
from synod.chain.devnode import free_port
from synod.governance import actions, errors, selectors, services, wallet_calls
from synod.governance.models import Proposal, ProposalState
from tests.governance.conftest import AS_SCRIPT, mirrored, sync, wallet_send

pytestmark = pytest.mark.django_db

DATASET = keccak(text="errors.csv").hex()
OTHER_DATASET = keccak(text="other.csv").hex()
MODEL = keccak(text="errors.onnx").hex()


def _mirror(proposal_id: str, state: str, actions: list[dict], kind: str = "other") -> Proposal:
    return Proposal.objects.create(
        chain_id=31337, council="data", proposal_id=proposal_id, proposer="0x" + "1" * 40,
        kind=kind, title=f"#{proposal_id}", description="", targets=[], values=[],
        calldatas=[], actions=actions, vote_start=1, vote_end=2, state=state, created_block=1,
        created_tx="0x" + "00" * 32, created_at=timezone.now(),
    )  # fmt: skip


def _action(kind: str, **args: str) -> dict:
    return {"contract": "ModelRegistry", "function": "f", "kind": kind, "summary": "", "args": args}


def test_pending_vote_subjects_are_what_open_proposals_would_change(django_assert_num_queries):
    _mirror("1", "active", [_action("approve_dataset", datasetHash=DATASET)], "approve_dataset")
    _mirror("2", "queued", [_action("revoke_model", modelHash="0x" + MODEL.upper())])
    _mirror("3", "defeated", [_action("approve_dataset", datasetHash=OTHER_DATASET)])
    _mirror("4", "pending", [_action("grant_badge", holder="0x" + "2" * 40)], "grant_badge")
    with django_assert_num_queries(1):
        assert selectors.pending_vote_subjects("dataset") == {DATASET}
    assert selectors.pending_vote_subjects("model") == {MODEL}  # mixed kinds count too


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.ProposalInputError("x", field="sha256"), 400, "invalid_proposal"),
        (errors.ProposerWithoutBadge("x"), 403, "proposer_without_badge"),
        (errors.ProposalNotFound("x"), 404, "proposal_not_found"),
        (errors.WrongProposalState("x"), 409, "wrong_proposal_state"),
        (errors.InvalidBallot("x"), 400, "invalid_ballot"),
        (errors.VotingClosed("x"), 409, "voting_closed"),
        (errors.AlreadyVoted("x"), 409, "already_voted"),
        (errors.NoBadge("x"), 403, "no_badge"),
        (errors.StaleBallotNonce("x"), 409, "stale_ballot_nonce"),
        (errors.WrongSigner("x"), 403, "wrong_signer"),
        (errors.CouncilRefusedVote("x"), 409, "council_refused_vote"),
        (errors.RelayInFlight("x"), 409, "relay_in_flight"),
        (errors.RelayBudgetUsed("x", retry_after_s=60), 429, "relay_budget_used"),
        (errors.VoteNotSent("x"), 503, "vote_not_sent"),
    ],
)
def test_every_refusal_is_a_governance_error_with_its_status(error, status, code):
    assert isinstance(error, errors.GovernanceError)
    assert (error.status_code, error.code) == (status, code)
    if isinstance(error, errors.VoteRefused):
        assert error.status == status


def test_a_form_refusal_keeps_the_errors_shape_the_page_reads():
    refused = errors.InvalidForm("please correct", errors={"sha256": ["bad"]})
    assert refused.as_dict() == {
        "detail": "please correct", "code": "invalid", "errors": {"sha256": ["bad"]},
    }  # fmt: skip
    whole = errors.ProposalInputError("the council would refuse it")
    assert whole.as_dict()["errors"] == {"__all__": ["the council would refuse it"]}


def test_the_relay_budget_says_when_it_frees_up():
    refused = errors.RelayBudgetUsed("used", retry_after_s=90)
    assert refused.headers() == {"Retry-After": "90"}


def test_sync_asks_for_indexing_and_answers_at_once(client, monkeypatch):
    requested = []
    monkeypatch.setattr(chain_services, "request_indexing", lambda: requested.append(1) or True)
    client.force_login(User.objects.create(address="0x" + "3" * 40))
    response = client.post(reverse("governance:sync"), **AS_SCRIPT)
    assert response.status_code == 202
    assert "indexing" in response.json()["detail"]
    assert requested == [1]


def test_an_unknown_proposal_is_a_json_404_for_the_script(client):
    client.force_login(User.objects.create(address="0x" + "3" * 40))
    response = client.post(reverse("governance:queue-call", args=["data", "1"]), **AS_SCRIPT)
    assert response.status_code == 404
    assert response.json()["code"] == "proposal_not_found"


@pytest.mark.chain
def test_a_chain_that_does_not_answer_is_a_503_not_a_crash(client, suite, settings):
    proposal = _mirror("5", "active", [])
    client.force_login(User.objects.create(address=suite.holders[0]))
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    url = reverse("governance:vote-call", args=["data", proposal.proposal_id])
    response = client.post(url, {"support": 1}, **AS_SCRIPT)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the chain does not answer right now; try again shortly",
        "code": "chain_unavailable",
    }


@pytest.mark.chain
def test_refusals_over_http_carry_their_code(client, suite):
    client.force_login(User.objects.create(address=suite.accounts[6]))
    response = client.post(
        reverse("governance:new", args=["approve_dataset"]),
        {"sha256": DATASET, "uri": "synod://d", "license": "MIT"},
        **AS_SCRIPT,
    )
    assert (response.status_code, response.json()["code"]) == (403, "proposer_without_badge")


@pytest.mark.chain
def test_a_click_refreshes_only_its_own_proposal(suite):
    for name in ("first.csv", "second.csv"):
        plan = actions.approve_dataset(sha256=keccak(text=name).hex(), uri="u", license="MIT")
        wallet_send(suite, wallet_calls.propose(plan), suite.holders[0])
    sync()
    first, second = Proposal.objects.order_by("created_block", "id")
    assert {first.state, second.state} == {ProposalState.PENDING}
    suite.node.mine(2)  # both are active on chain now
    assert services.refresh_proposal_state(first).state == ProposalState.ACTIVE
    second.refresh_from_db()
    assert second.state == ProposalState.PENDING


@pytest.mark.chain
def test_an_operation_in_the_wrong_state_is_refused_by_class(suite):
    plan = actions.approve_dataset(sha256=DATASET, uri="synod://d", license="MIT")
    wallet_send(suite, wallet_calls.propose(plan), suite.holders[0])
    sync()
    with pytest.raises(errors.WrongProposalState, match="cannot execute: the proposal is"):
        services.operation_call(mirrored("data"), "execute")
