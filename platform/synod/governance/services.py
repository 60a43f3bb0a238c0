"""Writes for governance: the proposal mirror (called by the indexer's handlers, inside its
transaction: they never call the chain node), state refreshes from the councils' own views,
and relayed (gasless) votes with their outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_address, to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.chain.errors import ContractRevert, IdempotencyConflict, NotSent
from synod.chain.selectors import DecodedEvent, OutgoingStatus
from synod.governance import selectors, wallet_calls
from synod.governance.actions import (
    BUILDERS,
    council_contract,
    deciding_council,
    describe_action,
    title_of,
)
from synod.governance.demo import run_demo_round as run_demo_round  # for operations' seeding
from synod.governance.errors import (
    AlreadyVoted,
    CouncilRefusedVote,
    InvalidBallot,
    NoBadge,
    ProposerWithoutBadge,
    RelayBudgetUsed,
    RelayInFlight,
    StaleBallotNonce,
    VoteNotSent,
    VotingClosed,
    WrongProposalState,
    WrongSigner,
)
from synod.governance.models import (
    FINAL_STATES,
    Council,
    Proposal,
    ProposalState,
    RelayedBallot,
    Vote,
    VoteSupport,
)

if TYPE_CHECKING:
    from synod.chain.models import OutgoingTransaction

logger = logging.getLogger(__name__)


# The order of OpenZeppelin's IGovernor.ProposalState enum.
STATE_BY_INDEX = [
    ProposalState.PENDING, ProposalState.ACTIVE, ProposalState.CANCELED, ProposalState.DEFEATED,
    ProposalState.SUCCEEDED, ProposalState.QUEUED, ProposalState.EXPIRED, ProposalState.EXECUTED,
]  # fmt: skip
COUNCIL_BY_CONTRACT = {council_contract(c): c for c in Council.values}
# The sender's `purpose` of relayed votes: how a mined VoteCast is known to be relayed.
RELAY_PURPOSE = "relayed vote"


def _council_of(event: DecodedEvent) -> str:
    return COUNCIL_BY_CONTRACT[event.contract]


def _proposal_for(event: DecodedEvent) -> Proposal | None:
    return Proposal.objects.filter(
        chain_id=event.chain_id,
        council=_council_of(event),
        proposal_id=str(event.args["proposalId"]),
    ).first()


# --- Mirror writes (one per council event; each has its undo for reorgs) -------------------


def record_proposal_created(event: DecodedEvent) -> Proposal:
    args = event.args
    targets = [str(t) for t in args["targets"]]
    calldatas = ["0x" + bytes(c).hex() if isinstance(c, bytes | bytearray) else str(c)
                 for c in args["calldatas"]]  # fmt: skip
    actions = [describe_action(t, c) for t, c in zip(targets, calldatas, strict=True)]
    kinds = {a["kind"] for a in actions}
    proposal, _ = Proposal.objects.update_or_create(
        chain_id=event.chain_id,
        council=_council_of(event),
        proposal_id=str(args["proposalId"]),
        defaults={
            "proposer": args["proposer"],
            "kind": kinds.pop() if len(kinds) == 1 else "other",
            "title": title_of(args["description"]),
            "description": args["description"],
            "targets": targets,
            "values": [str(v) for v in args["values"]],
            "calldatas": calldatas,
            "actions": actions,
            "vote_start": int(args["voteStart"]),
            "vote_end": int(args["voteEnd"]),
            "state": ProposalState.PENDING,
            "state_block": event.block_number,
            "created_block": event.block_number,
            "created_tx": event.tx_hash,
            # The indexer reads block timestamps with the logs: a handler never asks the
            # node. Only events stored before timestamps were kept lack one.
            "created_at": event.block_time or timezone.now(),
        },
    )
    return proposal


def forget_proposal_created(event: DecodedEvent) -> None:
    Proposal.objects.filter(
        chain_id=event.chain_id,
        council=_council_of(event),
        proposal_id=str(event.args["proposalId"]),
    ).delete()


_TALLY_FIELD = {
    VoteSupport.AGAINST: "against_votes",
    VoteSupport.FOR: "for_votes",
    VoteSupport.ABSTAIN: "abstain_votes",
}


def record_vote(event: DecodedEvent) -> Vote | None:
    proposal = _proposal_for(event)
    if proposal is None:
        logger.warning("vote for an unknown proposal %s", event.args["proposalId"])
        return None
    support = VoteSupport(int(event.args["support"]))
    vote, created = Vote.objects.get_or_create(
        proposal=proposal,
        voter=event.args["voter"],
        defaults={
            "support": support,
            "weight": int(event.args["weight"]),
            "reason": event.args.get("reason", ""),
            "block_number": event.block_number,
            "tx_hash": event.tx_hash,
            "log_index": event.log_index,
            "relayed": _was_relayed(event),
        },
    )
    if created:
        field = _TALLY_FIELD[support]
        setattr(proposal, field, getattr(proposal, field) + vote.weight)
        proposal.save(update_fields=[field])
    _confirm_relayed_ballot(event)
    return vote


def _relay_transaction(event: DecodedEvent) -> OutgoingTransaction | None:
    outgoing = chain_selectors.outgoing_transaction_by_hash(event.tx_hash, chain_id=event.chain_id)
    return outgoing if outgoing is not None and outgoing.purpose == RELAY_PURPOSE else None


def _was_relayed(event: DecodedEvent) -> bool:
    return _relay_transaction(event) is not None


def _confirm_relayed_ballot(event: DecodedEvent) -> None:
    """The vote is on chain: its ballot is confirmed, whoever recorded the receipt first."""
    outgoing = _relay_transaction(event)
    if outgoing is None:
        return
    RelayedBallot.objects.filter(
        idempotency_key=outgoing.idempotency_key, status=RelayedBallot.Status.PENDING
    ).update(
        status=RelayedBallot.Status.MINED,
        # The event's hash: the version that mined, even when the sender replaced it at a
        # higher fee and has not recorded which version won yet.
        outgoing_tx_hash=event.tx_hash,
        settled_at=timezone.now(),
    )


def forget_vote(event: DecodedEvent) -> None:
    proposal = _proposal_for(event)
    if proposal is None:
        return
    vote = Vote.objects.filter(
        proposal=proposal, voter=event.args["voter"], tx_hash=event.tx_hash
    ).first()
    if vote is None:
        return
    field = _TALLY_FIELD[VoteSupport(vote.support)]
    setattr(proposal, field, max(0, getattr(proposal, field) - vote.weight))
    proposal.save(update_fields=[field])
    vote.delete()


def record_queued(event: DecodedEvent) -> None:
    proposal = _proposal_for(event)
    if proposal is None:
        return
    proposal.state = ProposalState.QUEUED
    proposal.state_block = event.block_number
    proposal.queued_block = event.block_number
    proposal.eta = datetime.fromtimestamp(int(event.args["etaSeconds"]), tz=UTC)
    proposal.save(update_fields=["state", "state_block", "queued_block", "eta"])


def forget_queued(event: DecodedEvent) -> None:
    Proposal.objects.filter(pk=getattr(_proposal_for(event), "pk", None)).update(
        state=ProposalState.SUCCEEDED, queued_block=None, eta=None
    )


def record_executed(event: DecodedEvent) -> None:
    proposal = _proposal_for(event)
    if proposal is None:
        return
    proposal.state = ProposalState.EXECUTED
    proposal.state_block = event.block_number
    proposal.executed_block = event.block_number
    proposal.executed_tx = event.tx_hash
    proposal.save(update_fields=["state", "state_block", "executed_block", "executed_tx"])


def forget_executed(event: DecodedEvent) -> None:
    Proposal.objects.filter(pk=getattr(_proposal_for(event), "pk", None)).update(
        state=ProposalState.QUEUED, executed_block=None, executed_tx=""
    )


def record_canceled(event: DecodedEvent) -> None:
    proposal = _proposal_for(event)
    if proposal is None:
        return
    proposal.state = ProposalState.CANCELED
    proposal.state_block = event.block_number
    proposal.canceled_block = event.block_number
    proposal.save(update_fields=["state", "state_block", "canceled_block"])


def forget_canceled(event: DecodedEvent) -> None:
    Proposal.objects.filter(pk=getattr(_proposal_for(event), "pk", None)).update(
        canceled_block=None, state_block=0
    )


def record_extended(event: DecodedEvent) -> None:
    proposal = _proposal_for(event)
    if proposal is None:
        return
    proposal.vote_end = int(event.args["extendedDeadline"])
    proposal.save(update_fields=["vote_end"])


# --- State and quorum, read from the councils -------------------------------------------


def _refresh(proposal: Proposal, head: int) -> bool:
    """Ask the proposal's council for its state (and its quorum once the snapshot has
    passed) and keep the answer; True when the state changed. The chain decides; the mirror
    only remembers."""
    council = chain_selectors.contract(council_contract(proposal.council))
    state = STATE_BY_INDEX[council.functions.state(int(proposal.proposal_id)).call()]
    updates: dict[str, Any] = {"state_block": head}
    if state != proposal.state:
        updates["state"] = state
    if proposal.quorum is None and proposal.vote_start < head:
        updates["quorum"] = council.functions.quorum(proposal.vote_start).call()
    # One UPDATE, after every node call: no node call while a transaction is open.
    Proposal.objects.filter(pk=proposal.pk).update(**updates)
    return "state" in updates


def refresh_proposal_state(proposal: Proposal) -> Proposal:
    """This one proposal's state and quorum, read from its council now; returns it fresh."""
    _refresh(proposal, chain_selectors.head_block_number())
    proposal.refresh_from_db()
    return proposal


def refresh_proposal_states(*, chain_id: int | None = None) -> int:
    """Refresh every proposal not yet final (the beat's task does, every few seconds).
    Returns how many proposals changed state."""
    chain_id = chain_id or chain_selectors.node_chain_id()
    head = chain_selectors.head_block_number()
    open_proposals = Proposal.objects.filter(chain_id=chain_id).exclude(state__in=FINAL_STATES)
    return sum(_refresh(proposal, head) for proposal in open_proposals)


# --- Proposals and operations the user's wallet sends ------------------------------------


@dataclass(frozen=True)
class PreparedProposal:
    """A proposal checked against the chain, ready for the proposer's wallet to send."""

    call: wallet_calls.WalletCall
    council: str
    title: str
    proposal_id: str  # the id the council will give it (uint256, decimal)


def prepare_proposal(*, kind: str, data: dict[str, Any], proposer: str) -> PreparedProposal:
    """Build the `propose` call for a proposal of `kind` from validated form data.

    Refuses (ProposerWithoutBadge) unless `proposer` holds the deciding council's badge:
    the council would refuse it on chain. Raises ProposalInputError, naming the field, for
    input the chain shows to be wrong (a dataset approved already, a badge already held).
    """
    council = deciding_council(kind, data)
    if not selectors.badges_of(proposer).get(council):
        raise ProposerWithoutBadge(
            f"only holders of the {council or 'council'} badge can propose this"
        )
    plan = BUILDERS[kind](**data)
    return PreparedProposal(
        call=wallet_calls.propose(plan),
        council=plan.council,
        title=plan.title,
        proposal_id=str(wallet_calls.proposal_id(plan)),
    )


# What each operation needs the proposal's state to be, and how its call is built.
_OPERATIONS = {
    "queue": ({ProposalState.SUCCEEDED}, wallet_calls.queue),
    "execute": ({ProposalState.QUEUED}, wallet_calls.execute),
}


def operation_call(proposal: Proposal, operation: str) -> wallet_calls.WalletCall:
    """The wallet call that queues or executes `proposal`, after reading its state from the
    council (the mirror may be a few seconds behind); WrongProposalState when it cannot."""
    allowed, build = _OPERATIONS[operation]
    proposal = refresh_proposal_state(proposal)
    if proposal.state not in allowed:
        raise WrongProposalState(
            f"cannot {operation}: the proposal is {proposal.get_state_display().lower()}"
        )
    return build(proposal)


# --- Gasless votes ------------------------------------------------------------------------


MAX_REASON_CHARS = 2_000


def ballot_typed_data(*, proposal: Proposal, voter: str, support: int, reason: str) -> dict:
    """The EIP-712 ballot the voter's wallet signs (eth_signTypedData_v4) for a relayed vote."""
    return chain_selectors.extended_ballot_typed_data(
        chain_selectors.contract(council_contract(proposal.council)),
        proposal_id=int(proposal.proposal_id),
        support=int(support),
        voter=to_checksum_address(voter),
        reason=reason,
    )


def check_can_vote(*, proposal: Proposal, voter: str) -> None:
    """Refuse, before any transaction, what the council would refuse anyway."""
    council = chain_selectors.contract(council_contract(proposal.council))
    proposal_id = int(proposal.proposal_id)
    state = STATE_BY_INDEX[council.functions.state(proposal_id).call()]
    if state != ProposalState.ACTIVE:
        raise VotingClosed(f"voting is not open: the proposal is {state.label.lower()}")
    if council.functions.hasVoted(proposal_id, voter).call():
        raise AlreadyVoted("this address has already voted on this proposal")
    if council.functions.getVotes(voter, proposal.vote_start).call() == 0:
        raise NoBadge(f"only holders of the {proposal.council} badge when voting opened can vote")


# Relayed votes count towards a voter's budget for this long.
RELAY_BUDGET_WINDOW = timedelta(days=1)

# A ballot whose transaction the sender has not saved this long after it was created was
# never sent (the relay request died before it could be): it is released.
NEVER_SENT_AFTER = timedelta(minutes=10)

# Why the council refused a relayed vote, in plain words, by custom error name.
_REFUSALS = {
    "GovernorAlreadyCastVote": "this address had already voted on this proposal",
    "GovernorUnexpectedProposalState": "voting on this proposal was not open any more",
    "GovernorNonexistentProposal": "the council does not know this proposal",
    "GovernorInvalidSignature": (
        "the council did not accept the ballot's signature: the voter's ballot nonce had "
        "moved on (another signed vote used it); sign a new ballot"
    ),
    "GovernorInvalidVoteType": "the choice must be for, against or abstain",
}


def refusal_in_plain_words(revert: str) -> str:
    """A council revert ("GovernorAlreadyCastVote(voter=0x…)") as a voter can read it."""
    name = revert.split("(", 1)[0]
    return _REFUSALS.get(name) or f"the council refused it ({revert or 'no reason given'})"


def _failure_in_plain_words(outgoing: OutgoingTransaction) -> str:
    if outgoing.revert_name:
        return refusal_in_plain_words(outgoing.revert_name)
    if outgoing.block_number is not None:
        return "the transaction was mined but reverted without a reason"
    return f"the platform's transaction was dropped ({outgoing.last_error or 'no reason given'})"


def relay_vote(
    *, proposal: Proposal, voter: str, support: int, reason: str, nonce: int, signature: str
) -> RelayedBallot:
    """Relay a badge holder's signed ballot through the platform's sender, once per
    proposal and voter, within the voter's relay budget.

    Returns the ballot, PENDING: its transaction is saved in the sender's outbox and on its
    way (when the broadcast failed, the sender's resend task sends it), so it may still
    land; `settle_relayed_ballots` later records the outcome. Raises a VoteRefused
    subclass, with the reason, when nothing was sent; then nothing is kept."""
    if support not in VoteSupport.values:
        raise InvalidBallot("support must be 0 (against), 1 (for) or 2 (abstain)")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidBallot(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if not is_address(voter):
        raise InvalidBallot("voter must be an address")
    voter = to_checksum_address(voter)
    typed = ballot_typed_data(proposal=proposal, voter=voter, support=support, reason=reason)
    if nonce != typed["message"]["nonce"]:
        raise StaleBallotNonce("this ballot was signed for another nonce: sign again")
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    except Exception as exc:
        raise InvalidBallot("the signature is malformed") from exc
    if signer != voter:
        raise WrongSigner(
            "the signature is not the voter's for this proposal, choice, reason and chain"
        )
    check_can_vote(proposal=proposal, voter=voter)
    # An earlier relay of this voter that failed on chain frees the way for this one.
    settle_relayed_ballots(proposal=proposal, voter=voter)
    ballot = _record_ballot(proposal, voter, support, reason, signature)
    try:
        outgoing = chain_services.send_contract_call(
            contract=council_contract(proposal.council),
            function="castVoteWithReasonAndParamsBySig",
            args=[int(proposal.proposal_id), support, voter, reason, b"", signature],
            idempotency_key=ballot.idempotency_key,
            purpose=RELAY_PURPOSE,
            wait=False,
        )
    except ContractRevert as exc:
        ballot.delete()  # never sent: the voter may try again or vote from the wallet
        raise CouncilRefusedVote(
            f"the council refused the vote: {refusal_in_plain_words(str(exc))}"
        ) from exc
    except (NotSent, IdempotencyConflict) as exc:
        ballot.delete()
        reason_text = exc.reason if isinstance(exc, NotSent) else str(exc)
        raise VoteNotSent(
            f"the vote could not be sent ({reason_text}); nothing was recorded, try again"
        ) from exc
    except Exception as exc:
        # Whatever went wrong, the outbox says whether the transaction is in flight: once
        # saved it may land, so the ballot stays and the voter hears "pending".
        outgoing = chain_selectors.outgoing_transaction(
            ballot.idempotency_key, chain_id=ballot.chain_id
        )
        if outgoing is None:
            ballot.delete()
            raise
        logger.warning(
            "relayed vote %s is saved but not broadcast yet (%s); the resend task sends it",
            outgoing.tx_hash,
            exc,
        )
    ballot.outgoing_tx_hash = outgoing.tx_hash
    ballot.save(update_fields=["outgoing_tx_hash"])
    return ballot


def _record_ballot(
    proposal: Proposal, voter: str, support: int, reason: str, signature: str
) -> RelayedBallot:
    now = timezone.now()
    counted = RelayedBallot.objects.filter(
        voter=voter, created_at__gte=now - RELAY_BUDGET_WINDOW
    ).exclude(status=RelayedBallot.Status.FAILED)
    used = counted.count()
    if used >= settings.GOVERNANCE_RELAY_BUDGET_PER_DAY:
        # The budget frees up when the oldest counted ballot leaves the window.
        oldest = counted.order_by("created_at").values_list("created_at", flat=True).first()
        frees_at = (oldest or now) + RELAY_BUDGET_WINDOW
        raise RelayBudgetUsed(
            f"relay budget used: {used} relayed votes in 24 hours; vote from your wallet instead",
            retry_after_s=max(1, int((frees_at - now).total_seconds()) + 1),
        )
    same_vote = RelayedBallot.objects.filter(
        chain_id=proposal.chain_id,
        council=proposal.council,
        proposal_id=proposal.proposal_id,
        voter=voter,
    )
    try:
        with transaction.atomic():
            # One sender key per attempt: a retry after a failed relay is a new transaction.
            attempt = same_vote.count() + 1
            return RelayedBallot.objects.create(
                chain_id=proposal.chain_id, council=proposal.council,
                proposal_id=proposal.proposal_id, voter=voter, support=support,
                reason=reason, signature=signature,
                idempotency_key=f"relay-vote:{proposal.chain_id}:{proposal.council}:"
                f"{proposal.proposal_id}:{voter}:{attempt}",
            )  # fmt: skip
    except IntegrityError as exc:
        raise RelayInFlight(
            "a relayed vote of this address on this proposal is already on its way"
        ) from exc


def settle_relayed_ballots(*, proposal: Proposal | None = None, voter: str | None = None) -> int:
    """Bring pending ballots up to date with their transactions in the sender's outbox
    (whose receipts the sender's resend task records): confirmed when mined; failed, with
    the reason in plain words, when reverted or dropped for good, or when nothing was saved
    for it long after it was made. Only then is a ballot released: it no longer counts
    towards the relay budget and the voter may relay again. Reads only the database.
    Returns how many ballots changed."""
    ballots = RelayedBallot.objects.filter(status=RelayedBallot.Status.PENDING)
    if proposal is not None:
        ballots = ballots.filter(
            chain_id=proposal.chain_id, council=proposal.council, proposal_id=proposal.proposal_id
        )
    if voter is not None:
        ballots = ballots.filter(voter__iexact=voter)
    changed = 0
    for ballot in ballots:
        outgoing = chain_selectors.outgoing_transaction(
            ballot.idempotency_key, chain_id=ballot.chain_id
        )
        updates = _settlement(ballot, outgoing)
        if updates and RelayedBallot.objects.filter(
            pk=ballot.pk, status=RelayedBallot.Status.PENDING
        ).update(**updates):
            changed += 1
    return changed


def _settlement(ballot: RelayedBallot, outgoing: OutgoingTransaction | None) -> dict:
    now = timezone.now()
    Status = OutgoingStatus
    if outgoing is None:
        if ballot.created_at > now - NEVER_SENT_AFTER:
            return {}  # its relay request may still be on its way to the sender
        return {
            "status": RelayedBallot.Status.FAILED,
            "error": "the platform stopped before sending it; nothing was sent",
            "settled_at": now,
        }
    if outgoing.status == Status.MINED:
        return {"status": RelayedBallot.Status.MINED, "outgoing_tx_hash": outgoing.tx_hash,
                "settled_at": now}  # fmt: skip
    if outgoing.status == Status.FAILED:
        return {"status": RelayedBallot.Status.FAILED, "outgoing_tx_hash": outgoing.tx_hash,
                "error": _failure_in_plain_words(outgoing), "settled_at": now}  # fmt: skip
    if ballot.outgoing_tx_hash != outgoing.tx_hash:
        return {"outgoing_tx_hash": outgoing.tx_hash}  # in flight; the hash was not kept yet
    return {}
