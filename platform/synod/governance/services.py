"""Writes for governance: the proposal mirror (called by the indexer's handlers, inside its
transaction: they never call the chain node), state refreshes from the councils' own views,
and relayed (gasless) votes with their outcome."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from synod.chain import bindings, typed_data
from synod.chain import selectors as chain_selectors
from synod.chain.client import get_web3
from synod.chain.errors import ContractRevert
from synod.chain.events import DecodedEvent
from synod.chain.models import OutgoingTransaction
from synod.chain.sender import IdempotencyConflict, NotSent
from synod.chain.services import send_contract_call
from synod.governance.actions import council_contract, describe_action, title_of
from synod.governance.models import (
    FINAL_STATES,
    Council,
    Proposal,
    ProposalState,
    RelayedBallot,
    Vote,
    VoteSupport,
)
from synod.registry import services as registry_services

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


def chain_time() -> datetime:
    """The latest block's timestamp: what the timelock compares an ETA with."""
    block = get_web3().eth.get_block("latest")
    return datetime.fromtimestamp(block["timestamp"], tz=UTC)


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
    _mark_pending_votes(proposal, event.block_number, event.tx_hash)
    return proposal


# Proposal kinds whose subject the registry shows as "pending vote" while they are open.
_PENDING_SUBJECTS = {"approve_dataset": ("dataset", "datasetHash"),
                     "approve_model": ("model", "modelHash")}  # fmt: skip


def _subjects(proposal: Proposal) -> list[tuple[str, str]]:
    return [
        (_PENDING_SUBJECTS[a["kind"]][0], a["args"][_PENDING_SUBJECTS[a["kind"]][1]])
        for a in proposal.actions
        if a.get("kind") in _PENDING_SUBJECTS
    ]


def _mark_pending_votes(proposal: Proposal, block_number: int, tx_hash: str) -> None:
    for kind, digest in _subjects(proposal):
        registry_services.record_approval_change(
            kind, digest, "pending_vote", block_number=block_number, tx_hash=tx_hash
        )


def _release_pending_votes(proposal: Proposal) -> None:
    """A proposal that ended without passing leaves its subject as the chain has it."""
    for kind, digest in _subjects(proposal):
        registry_services.reconcile_approval_with_chain(kind, digest)


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
        outgoing_tx_hash=outgoing.tx_hash,
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


def refresh_proposal_states(*, chain_id: int | None = None) -> int:
    """Ask each council for the state of every proposal not yet final, and for quorums
    whose snapshot has passed. The chain decides; the mirror only remembers. Returns how
    many proposals changed."""
    w3 = get_web3()
    chain_id = chain_id or w3.eth.chain_id
    head = w3.eth.block_number
    changed = 0
    open_proposals = Proposal.objects.filter(chain_id=chain_id).exclude(state__in=FINAL_STATES)
    for proposal in open_proposals:
        council = bindings.contract(council_contract(proposal.council), w3=w3)
        proposal_id = int(proposal.proposal_id)
        state = STATE_BY_INDEX[council.functions.state(proposal_id).call()]
        updates = {"state_block": head}
        if state != proposal.state:
            updates["state"] = state
            changed += 1
            if state in (ProposalState.DEFEATED, ProposalState.CANCELED, ProposalState.EXPIRED):
                _release_pending_votes(proposal)
        if proposal.quorum is None and proposal.vote_start < head:
            updates["quorum"] = council.functions.quorum(proposal.vote_start).call()
        with transaction.atomic():
            Proposal.objects.filter(pk=proposal.pk).update(**updates)
    return changed


# --- Gasless votes ------------------------------------------------------------------------


class VoteRefused(Exception):
    """A vote or relay the platform will not send; the message says why, for a person."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


MAX_REASON_CHARS = 2_000


def ballot_typed_data(*, proposal: Proposal, voter: str, support: int, reason: str) -> dict:
    """The EIP-712 ballot the voter's wallet signs (eth_signTypedData_v4) for a relayed vote."""
    return typed_data.extended_ballot(
        bindings.contract(council_contract(proposal.council)),
        proposal_id=int(proposal.proposal_id),
        support=int(support),
        voter=Web3.to_checksum_address(voter),
        reason=reason,
    )


def check_can_vote(*, proposal: Proposal, voter: str) -> None:
    """Refuse, before any transaction, what the council would refuse anyway."""
    council = bindings.contract(council_contract(proposal.council))
    proposal_id = int(proposal.proposal_id)
    state = STATE_BY_INDEX[council.functions.state(proposal_id).call()]
    if state != ProposalState.ACTIVE:
        raise VoteRefused(f"voting is not open: the proposal is {state.label.lower()}", status=409)
    if council.functions.hasVoted(proposal_id, voter).call():
        raise VoteRefused("this address has already voted on this proposal", status=409)
    if council.functions.getVotes(voter, proposal.vote_start).call() == 0:
        raise VoteRefused(
            f"only holders of the {proposal.council} badge when voting opened can vote",
            status=403,
        )


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
    land; `settle_relayed_ballots` later records the outcome. Raises VoteRefused, with
    the reason, when nothing was sent; then nothing is kept."""
    if support not in VoteSupport.values:
        raise VoteRefused("support must be 0 (against), 1 (for) or 2 (abstain)")
    if len(reason) > MAX_REASON_CHARS:
        raise VoteRefused(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if not Web3.is_address(voter):
        raise VoteRefused("voter must be an address")
    voter = Web3.to_checksum_address(voter)
    typed = ballot_typed_data(proposal=proposal, voter=voter, support=support, reason=reason)
    if nonce != typed["message"]["nonce"]:
        raise VoteRefused("this ballot was signed for another nonce: sign again", status=409)
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    except Exception as exc:
        raise VoteRefused("the signature is malformed") from exc
    if signer != voter:
        raise VoteRefused(
            "the signature is not the voter's for this proposal, choice, reason and chain",
            status=403,
        )
    check_can_vote(proposal=proposal, voter=voter)
    # An earlier relay of this voter that failed on chain frees the way for this one.
    settle_relayed_ballots(proposal=proposal, voter=voter)
    ballot = _record_ballot(proposal, voter, support, reason, signature)
    try:
        outgoing = send_contract_call(
            contract=council_contract(proposal.council),
            function="castVoteWithReasonAndParamsBySig",
            args=[int(proposal.proposal_id), support, voter, reason, b"", signature],
            idempotency_key=ballot.idempotency_key,
            purpose=RELAY_PURPOSE,
            wait=False,
        )
    except ContractRevert as exc:
        ballot.delete()  # never sent: the voter may try again or vote from the wallet
        raise VoteRefused(
            f"the council refused the vote: {refusal_in_plain_words(str(exc))}", status=409
        ) from exc
    except (NotSent, IdempotencyConflict) as exc:
        ballot.delete()
        reason_text = exc.reason if isinstance(exc, NotSent) else str(exc)
        raise VoteRefused(
            f"the vote could not be sent ({reason_text}); nothing was recorded, try again",
            status=503,
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
    since = timezone.now() - timedelta(days=1)
    used = (
        RelayedBallot.objects.filter(voter=voter, created_at__gte=since)
        .exclude(status=RelayedBallot.Status.FAILED)
        .count()
    )
    if used >= settings.GOVERNANCE_RELAY_BUDGET_PER_DAY:
        raise VoteRefused(
            f"relay budget used: {used} relayed votes in 24 hours; vote from your wallet instead",
            status=429,
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
        raise VoteRefused(
            "a relayed vote of this address on this proposal is already on its way", status=409
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
    Status = OutgoingTransaction.Status
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
