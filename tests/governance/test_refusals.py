"""Every refusal happens before a transaction is sent, with a clear message, and leaves
nothing half-recorded."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from eth_utils import keccak

from synod.accounts.models import User
from synod.chain.models import OutgoingTransaction
from synod.governance import actions, services, wallet_calls
from synod.governance.errors import ProposalInputError, VoteRefused
from synod.governance.models import RelayedBallot
from tests.governance.conftest import AS_SCRIPT, mirrored, sign_ballot, sync, wallet_send

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

DATASET = keccak(text="refusals.csv").hex()


@pytest.fixture
def open_proposal(suite):
    plan = actions.approve_dataset(sha256=DATASET, uri="synod://d", license="MIT")
    wallet_send(suite, wallet_calls.propose(plan), suite.holders[0])
    suite.node.mine(2)
    sync()
    return mirrored("data")


def _relay(proposal, voter_index, suite, **overrides):
    voter = suite.accounts[voter_index]
    typed = services.ballot_typed_data(proposal=proposal, voter=voter, support=1, reason="")
    kwargs = {
        "proposal": proposal, "voter": voter, "support": 1, "reason": "",
        "nonce": typed["message"]["nonce"], "signature": sign_ballot(typed, voter_index),
    }  # fmt: skip
    kwargs.update(overrides)
    return services.relay_vote(**kwargs)


@pytest.mark.parametrize(
    ("builder", "kwargs", "field", "message"),
    [
        (actions.approve_dataset, {"sha256": "abc", "uri": "u", "license": "l"}, "sha256",
         "64 hex"),
        (actions.approve_dataset, {"sha256": DATASET, "uri": "", "license": "l"}, "uri", "where"),
        (actions.approve_model, {"sha256": DATASET, "name": "m", "version": "1", "task": "t",
                                 "price_per_call": 1, "dataset_sha256": DATASET,
                                 "report_sha256": DATASET}, "dataset_sha256", "not approved"),
        (actions.approve_model, {"sha256": DATASET, "name": "m", "version": "1", "task": "t",
                                 "price_per_call": 0, "dataset_sha256": DATASET,
                                 "report_sha256": DATASET}, "price_per_call", "from 1"),
        (actions.revoke_dataset, {"sha256": DATASET}, "sha256", "not approved now"),
        (actions.grant_badge, {"council": "data", "holder": "0x123"}, "holder", "address"),
        (actions.grant_badge, {"council": "cooks", "holder": "0x" + "1" * 40}, "council", "one of"),
        (actions.set_parameter, {"parameter": "escrow_fee_bps", "value": 5_000}, "value",
         "between"),
        (actions.set_parameter, {"parameter": "quorum_percent", "value": 101, "council": "data"},
         "value", "between"),
        (actions.set_parameter, {"parameter": "gravity", "value": 1}, "parameter", "one of"),
    ],
)  # fmt: skip
def test_proposal_input_is_refused_with_the_field_and_reason(
    suite, builder, kwargs, field, message
):
    with pytest.raises(ProposalInputError) as refused:
        builder(**kwargs)
    assert refused.value.field == field
    assert message in str(refused.value)


def test_a_badge_already_held_cannot_be_granted(suite):
    with pytest.raises(ProposalInputError, match="already holds"):
        actions.grant_badge(council="data", holder=suite.holders[0])


def test_a_parameter_set_to_its_current_value_is_refused(suite):
    price = suite["PromptTicket"].functions.ticketPrice().call()
    with pytest.raises(ProposalInputError, match="already"):
        actions.set_parameter(parameter="ticket_price", value=price)


def test_voting_before_the_window_opens_is_refused(suite):
    plan = actions.approve_dataset(sha256=DATASET, uri="synod://d", license="MIT")
    wallet_send(suite, wallet_calls.propose(plan), suite.holders[0])
    sync()
    proposal = mirrored("data")
    with pytest.raises(VoteRefused, match="voting is not open: the proposal is pending"):
        services.check_can_vote(proposal=proposal, voter=suite.holders[0])


def test_voting_after_the_window_closed_is_refused(suite, open_proposal):
    suite.mine_past_deadline(suite.council("data"), int(open_proposal.proposal_id))
    with pytest.raises(VoteRefused, match="voting is not open: the proposal is defeated"):
        _relay(open_proposal, 1, suite)
    assert not RelayedBallot.objects.exists()


def test_voting_twice_is_refused(suite, open_proposal):
    wallet_send(
        suite, wallet_calls.cast_vote(open_proposal, support=1, reason=""), suite.holders[0]
    )
    with pytest.raises(VoteRefused, match="already voted") as refused:
        _relay(open_proposal, 1, suite)
    assert refused.value.status == 409


def test_relaying_for_someone_without_a_badge_is_refused(suite, open_proposal):
    with pytest.raises(VoteRefused, match="only holders of the data badge") as refused:
        _relay(open_proposal, 6, suite)
    assert refused.value.status == 403
    assert not OutgoingTransaction.objects.exists()


def test_a_signature_of_another_address_is_refused(suite, open_proposal):
    voter = suite.holders[0]
    typed = services.ballot_typed_data(proposal=open_proposal, voter=voter, support=1, reason="")
    with pytest.raises(VoteRefused, match="not the voter's"):
        services.relay_vote(
            proposal=open_proposal, voter=voter, support=1, reason="",
            nonce=typed["message"]["nonce"], signature=sign_ballot(typed, 2),
        )  # fmt: skip


def test_a_signature_for_another_choice_is_refused(suite, open_proposal):
    voter = suite.holders[0]
    typed = services.ballot_typed_data(proposal=open_proposal, voter=voter, support=0, reason="")
    with pytest.raises(VoteRefused, match="not the voter's"):
        services.relay_vote(
            proposal=open_proposal, voter=voter, support=1, reason="",
            nonce=typed["message"]["nonce"], signature=sign_ballot(typed, 1),
        )  # fmt: skip


def test_a_signature_of_another_proposal_or_chain_is_refused(suite, open_proposal):
    voter = suite.holders[0]
    typed = services.ballot_typed_data(proposal=open_proposal, voter=voter, support=1, reason="")
    other_chain = json.loads(json.dumps(typed))
    other_chain["domain"]["chainId"] = 1
    other_proposal = json.loads(json.dumps(typed))
    other_proposal["message"]["proposalId"] = 12345
    for forged in (other_chain, other_proposal):
        with pytest.raises(VoteRefused, match="not the voter's"):
            services.relay_vote(
                proposal=open_proposal, voter=voter, support=1, reason="",
                nonce=typed["message"]["nonce"], signature=sign_ballot(forged, 1),
            )  # fmt: skip
    assert not RelayedBallot.objects.exists()


def test_a_malformed_signature_is_refused(suite, open_proposal):
    with pytest.raises(VoteRefused, match="malformed"):
        _relay(open_proposal, 1, suite, signature="0x" + "00" * 65)


def test_a_replayed_ballot_is_refused(suite, open_proposal):
    voter = suite.holders[0]
    typed = services.ballot_typed_data(proposal=open_proposal, voter=voter, support=1, reason="")
    signature = sign_ballot(typed, 1)
    nonce = typed["message"]["nonce"]
    services.relay_vote(proposal=open_proposal, voter=voter, support=1, reason="", nonce=nonce,
                        signature=signature)  # fmt: skip
    with pytest.raises(VoteRefused) as refused:
        services.relay_vote(proposal=open_proposal, voter=voter, support=1, reason="",
                            nonce=nonce, signature=signature)  # fmt: skip
    assert refused.value.status == 409
    assert RelayedBallot.objects.count() == 1
    assert OutgoingTransaction.objects.count() == 1


def test_the_relay_budget_is_enforced(suite, open_proposal, settings):
    settings.GOVERNANCE_RELAY_BUDGET_PER_DAY = 0
    with pytest.raises(VoteRefused, match="relay budget") as refused:
        _relay(open_proposal, 1, suite)
    assert refused.value.status == 429


# --- Through HTTP, as the browser does ----------------------------------------------------


def _sign_in(client, address: str) -> User:
    user, _ = User.objects.get_or_create(address=address)
    client.force_login(user)
    return user


def test_proposing_without_the_badge_is_refused_over_http(client, suite):
    _sign_in(client, suite.accounts[6])
    response = client.post(
        reverse("governance:new", args=["approve_dataset"]),
        {"sha256": DATASET, "uri": "synod://d", "license": "MIT"},
        **AS_SCRIPT,
    )
    assert response.status_code == 403
    assert "only holders of the data badge" in response.json()["detail"]


def test_a_badge_holder_gets_the_propose_call_and_its_id(client, suite):
    _sign_in(client, suite.holders[0])
    response = client.post(
        reverse("governance:new", args=["approve_dataset"]),
        {"sha256": DATASET, "uri": "synod://d", "license": "MIT", "title": "Iris"},
        **AS_SCRIPT,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["council"] == "data"
    assert body["call"]["to"] == suite.council("data").address
    assert body["proposalId"].isdigit()


def test_form_errors_name_the_field(client, suite):
    _sign_in(client, suite.holders[0])
    response = client.post(
        reverse("governance:new", args=["approve_dataset"]),
        {"sha256": "nothex", "uri": "synod://d", "license": "MIT"},
        **AS_SCRIPT,
    )
    assert response.status_code == 400
    assert "sha256" in response.json()["errors"]


def test_queue_before_success_is_refused_over_http(client, suite, open_proposal):
    _sign_in(client, suite.holders[0])
    url = reverse("governance:queue-call", args=["data", open_proposal.proposal_id])
    response = client.post(url, **AS_SCRIPT)
    assert response.status_code == 409
    assert "cannot queue: the proposal is active" in response.json()["detail"]


def test_relay_with_a_malformed_signature_is_a_400(client, suite, open_proposal):
    _sign_in(client, suite.holders[0])
    url = reverse("governance:relay", args=["data", open_proposal.proposal_id])
    response = client.post(
        url, {"support": 1, "reason": "", "nonce": 0, "signature": "0x12"}, **AS_SCRIPT
    )
    assert response.status_code == 400
    assert "signature" in response.json()["errors"]


def test_unknown_proposal_is_a_404(client, suite):
    _sign_in(client, suite.holders[0])
    assert client.get(reverse("governance:detail", args=["data", "123"])).status_code == 404


def test_vote_call_and_ballot_for_a_holder_over_http(client, suite, open_proposal):
    _sign_in(client, suite.holders[0])
    args = ["data", open_proposal.proposal_id]
    call = client.post(
        reverse("governance:vote-call", args=args), {"support": 1, "reason": "ok"}, **AS_SCRIPT
    )
    assert call.status_code == 200
    assert call.json()["call"]["to"] == suite.council("data").address
    ballot = client.post(
        reverse("governance:ballot", args=args), {"support": 2, "reason": ""}, **AS_SCRIPT
    )
    assert ballot.status_code == 200
    typed = ballot.json()["typedData"]
    assert typed["primaryType"] == "ExtendedBallot"
    assert typed["message"]["support"] == 2
    assert typed["message"]["proposalId"] == open_proposal.proposal_id  # a string for JS


def test_vote_call_refuses_a_non_holder_and_bad_input_over_http(client, suite, open_proposal):
    args = ["data", open_proposal.proposal_id]
    _sign_in(client, suite.accounts[6])
    refused = client.post(reverse("governance:vote-call", args=args), {"support": 1}, **AS_SCRIPT)
    assert refused.status_code == 403
    assert "only holders" in refused.json()["detail"]
    _sign_in(client, suite.holders[0])
    bad = client.post(reverse("governance:ballot", args=args), {"support": 7}, **AS_SCRIPT)
    assert bad.status_code == 400
    assert "support" in bad.json()["errors"]
