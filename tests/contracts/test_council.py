"""Council + TimelockController: the full proposal life cycle for each council, quorum,
late-quorum extension, and gasless votes signed in Python."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from synod.chain import typed_data
from tests.support.suite import ACTIVE, DEFEATED, DEV_KEYS, FOR, PENDING, SUCCEEDED

pytestmark = pytest.mark.chain


def test_data_council_approves_a_dataset_through_its_timelock(suite):
    registry = suite["ModelRegistry"]
    dataset = keccak(text="wiki.parquet")
    call = registry.functions.approveDataset(dataset, "s3://wiki", "CC-BY-SA-4.0")
    receipts = suite.pass_proposal("data", [call], "Approve the wiki dataset")
    assert registry.functions.isDatasetApproved(dataset).call()
    assert receipts["execute"]["status"] == 1


def test_model_council_approves_a_model_version(suite):
    registry = suite["ModelRegistry"]
    dataset, model = keccak(text="d"), keccak(text="m")
    suite.as_timelock("data", registry.functions.approveDataset(dataset, "s3://d", "MIT"))
    call = registry.functions.approveModelVersion(
        model, "minilm", "2.0", "text-embedding", 3, dataset, keccak(text="report")
    )
    suite.pass_proposal("model", [call], "Approve minilm 2.0")
    assert registry.functions.isModelApproved(model).call()
    assert registry.functions.getModelVersion(model).call()[3] == 3


def test_compute_council_changes_parameters_and_mints_a_badge(suite):
    escrow, ticket, badge = suite["TicketEscrow"], suite["PromptTicket"], suite.badge("compute")
    newcomer = suite.accounts[7]
    suite.pass_proposal(
        "compute",
        [
            escrow.functions.setFeeBps(500),
            ticket.functions.setTicketPrice(12345),
            badge.functions.mint(newcomer),
        ],
        "Raise the fee, reprice tickets, welcome a new member",
    )
    assert escrow.functions.feeBps().call() == 500
    assert ticket.functions.ticketPrice().call() == 12345
    assert badge.functions.isMember(newcomer).call()


def test_one_member_alone_cannot_pass_a_proposal(suite):
    governor = suite.council("data")
    holder = suite.holders[0]
    call = suite["ModelRegistry"].functions.approveDataset(keccak(text="x"), "u", "l")
    proposal_id = suite.propose("data", [call], "Lonely proposal", holder)
    assert governor.functions.state(proposal_id).call() == PENDING
    snapshot = governor.functions.proposalSnapshot(proposal_id).call()
    suite.node.mine(governor.functions.votingDelay().call() + 1)
    assert governor.functions.quorum(snapshot).call() == 2  # 50% of 3 badges, rounded up
    suite.send(governor.functions.castVote(proposal_id, FOR), holder)
    suite.mine_past_deadline(governor, proposal_id)
    assert governor.functions.state(proposal_id).call() == DEFEATED


def test_only_badge_holders_propose_and_vote_before_start_reverts(suite):
    governor = suite.council("model")
    call = suite["ModelRegistry"].functions.revokeModelVersion(keccak(text="m"))
    args = suite.reverts(
        governor.functions.propose([call.address], [0], [call._encode_transaction_data()], "x"),
        suite.accounts[7],
        "GovernorInsufficientProposerVotes",
    )
    assert args[0] == suite.accounts[7]
    proposal_id = suite.propose("model", [call], "Revoke m", suite.holders[0])
    suite.reverts(
        governor.functions.castVote(proposal_id, FOR),
        suite.holders[1],
        "GovernorUnexpectedProposalState",
    )


def test_late_quorum_extends_the_deadline(suite):
    governor = suite.council("compute")
    call = suite["TicketEscrow"].functions.setFeeBps(100)
    proposal_id = suite.propose("compute", [call], "Late quorum", suite.holders[0])
    deadline = governor.functions.proposalDeadline(proposal_id).call()
    # Vote in the last blocks: quorum (2 votes) is reached one block before the deadline.
    suite.node.mine(deadline - suite.w3.eth.block_number - 2)
    suite.send(governor.functions.castVote(proposal_id, FOR), suite.holders[0])
    receipt = suite.send(governor.functions.castVote(proposal_id, FOR), suite.holders[1])
    (extended,) = governor.events.ProposalExtended().process_receipt(receipt, errors=DISCARD)
    extension = governor.functions.lateQuorumVoteExtension().call()
    assert extended.args.extendedDeadline == receipt["blockNumber"] + extension
    assert governor.functions.proposalDeadline(proposal_id).call() > deadline
    suite.node.mine(deadline - suite.w3.eth.block_number + 1)
    assert governor.functions.state(proposal_id).call() == ACTIVE  # still open: extended
    suite.mine_past_deadline(governor, proposal_id)
    assert governor.functions.state(proposal_id).call() == SUCCEEDED


def ballot(governor, proposal_id: int, support: int, voter: str, nonce: int):
    return typed_data.ballot(
        governor, proposal_id=proposal_id, support=support, voter=voter, nonce=nonce
    )


def test_cast_vote_by_sig_relays_a_ballot_signed_in_python(suite):
    governor = suite.council("data")
    voter = Account.from_key(DEV_KEYS[2])
    call = suite["ModelRegistry"].functions.approveDataset(keccak(text="sig"), "u", "l")
    proposal_id = suite.propose("data", [call], "Gasless vote", suite.holders[0])
    suite.node.mine(governor.functions.votingDelay().call() + 1)
    nonce = governor.functions.nonces(voter.address).call()
    message = ballot(governor, proposal_id, FOR, voter.address, nonce)
    signature = Account.sign_message(encode_typed_data(full_message=message), voter.key)
    relayer = suite.accounts[9]  # pays the gas; the vote is the signer's
    suite.send(
        governor.functions.castVoteBySig(proposal_id, FOR, voter.address, signature.signature),
        relayer,
    )
    assert governor.functions.hasVoted(proposal_id, voter.address).call()
    assert not governor.functions.hasVoted(proposal_id, relayer).call()
    assert governor.functions.proposalVotes(proposal_id).call()[1] == 1
    # The nonce moved on: the same signature cannot be replayed.
    suite.reverts(
        governor.functions.castVoteBySig(proposal_id, FOR, voter.address, signature.signature),
        relayer,
        "GovernorInvalidSignature",
    )
    # A ballot signed by someone else for this voter is refused.
    forged = Account.sign_message(
        encode_typed_data(
            full_message=ballot(
                governor,
                proposal_id,
                FOR,
                suite.holders[0],
                governor.functions.nonces(suite.holders[0]).call(),
            )
        ),
        voter.key,
    )
    suite.reverts(
        governor.functions.castVoteBySig(proposal_id, FOR, suite.holders[0], forged.signature),
        relayer,
        "GovernorInvalidSignature",
    )


def test_timelocks_answer_only_to_their_councils(suite, deployed):
    for council in ("data", "model", "compute"):
        timelock = suite.timelock(council)
        f = timelock.functions
        governor = suite.council(council).address
        assert f.hasRole(f.PROPOSER_ROLE().call(), governor).call()
        assert f.hasRole(f.CANCELLER_ROLE().call(), governor).call()
        assert f.hasRole(f.EXECUTOR_ROLE().call(), "0x" + "00" * 20).call()
        admin = f.DEFAULT_ADMIN_ROLE().call()
        assert not f.hasRole(admin, suite.operator).call()
        assert f.hasRole(admin, timelock.address).call()  # self-administered
        assert not f.hasRole(f.PROPOSER_ROLE().call(), suite.operator).call()
        assert suite.council(council).functions.timelock().call() == timelock.address
        assert f.getMinDelay().call() == 60
    # The timelock refuses to schedule for anyone but its council.
    timelock = suite.timelock("data")
    suite.reverts(
        timelock.functions.schedule(
            timelock.address, 0, b"", b"\0" * 32, Web3.keccak(text="s"), 60
        ),
        suite.holders[0],
        "AccessControlUnauthorizedAccount",
    )
