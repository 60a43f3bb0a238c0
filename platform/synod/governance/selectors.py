"""Reads for governance."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from eth_utils import to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.chain.errors import ArtifactMissing, ChainUnavailable, ContractNotDeployed
from synod.governance.errors import ProposalNotFound
from synod.governance.models import Proposal, ProposalState, RelayedBallot, Vote

# Deployment names of the three ExpertBadge contracts, one per council.
COUNCIL_BADGES = {"data": "DataBadge", "model": "ModelBadge", "compute": "ComputeBadge"}


def badges_of(address: str) -> dict[str, bool | None]:
    """Whether `address` holds each council's badge: True/False, or None where that
    council's badge contract is not deployed (or not compiled) yet.

    Reads the chain directly for now; the chain mirror will replace these reads.
    Raises ChainUnavailable (a ConnectionError) when the chain does not answer.
    """
    holder = to_checksum_address(address)
    result: dict[str, bool | None] = dict.fromkeys(COUNCIL_BADGES)
    for council, name in COUNCIL_BADGES.items():
        try:
            badge = chain_selectors.contract(name)
        except (ContractNotDeployed, ArtifactMissing):
            continue
        try:
            result[council] = badge.functions.balanceOf(holder).call() > 0
        except ChainUnavailable:
            raise
        except Exception as exc:  # any failed read (no code at the address) is an outage
            raise ChainUnavailable(reason=f"badge read failed: {type(exc).__name__}") from exc
    return result


# --- Proposals (the chain mirror) ---------------------------------------------------------


PROPOSALS_PER_PAGE = 20


@dataclass(frozen=True)
class ProposalFilters:
    council: str = ""
    state: str = ""
    kind: str = ""
    proposer: str = ""  # "mine" resolves to an address before it gets here
    search: str = ""


def proposals(filters: ProposalFilters, *, chain_id: int | None = None) -> QuerySet[Proposal]:
    queryset = Proposal.objects.filter(chain_id=chain_id or settings.CHAIN_ID)
    if filters.council:
        queryset = queryset.filter(council=filters.council)
    if filters.state:
        queryset = queryset.filter(state=filters.state)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.proposer:
        queryset = queryset.filter(proposer__iexact=filters.proposer)
    if filters.search:
        term = filters.search.strip()
        queryset = queryset.filter(
            Q(title__icontains=term) | Q(description__icontains=term) | Q(proposal_id=term)
        )
    return queryset


def proposal_page(filters: ProposalFilters, page_number: int | str = 1) -> Page:
    return Paginator(proposals(filters), PROPOSALS_PER_PAGE).get_page(page_number)


def proposal(council: str, proposal_id: str, *, chain_id: int | None = None) -> Proposal | None:
    return Proposal.objects.filter(
        chain_id=chain_id or settings.CHAIN_ID, council=council, proposal_id=proposal_id
    ).first()


def mirrored_proposal(council: str, proposal_id: str) -> Proposal:
    """The proposal as the indexer mirrored it; ProposalNotFound when it has not (yet)."""
    found = proposal(council, proposal_id)
    if found is None:
        raise ProposalNotFound("No such proposal on this chain (it may not be indexed yet).")
    return found


def proposal_by_id(proposal_id: int, *, council: str = "") -> Proposal:
    """The proposal with this on-chain id, in `council` when given. Ids hash only the
    actions, so the same id can exist in two councils: then the council must be named."""
    found = list(
        proposals(ProposalFilters(council=council)).filter(proposal_id=str(proposal_id))[:2]
    )
    if not found:
        raise ProposalNotFound("No proposal with that id on this chain.")
    if len(found) > 1:
        raise ProposalNotFound(
            "That id exists in several councils: add ?council=data|model|compute."
        )
    return found[0]


# States in which a proposal may still pass: what it would change is "pending vote".
OPEN_STATES = (ProposalState.PENDING, ProposalState.ACTIVE, ProposalState.SUCCEEDED,
               ProposalState.QUEUED)  # fmt: skip

# For each kind of registry subject: the proposal actions about it, and the argument that
# holds its sha256.
_SUBJECT_ACTIONS = {
    "dataset": {"approve_dataset": "datasetHash", "revoke_dataset": "datasetHash"},
    "model": {"approve_model": "modelHash", "revoke_model": "modelHash"},
}


def pending_vote_subjects(kind: str, *, chain_id: int | None = None) -> set[str]:
    """The sha256s (lowercase hex, no 0x) of the datasets (`kind` "dataset") or model
    versions ("model") that an open proposal (pending, active, succeeded or queued) would
    approve or revoke. One query: the registry shows these as "Pending vote"."""
    argument_of = _SUBJECT_ACTIONS[kind]
    open_proposals = Proposal.objects.filter(
        chain_id=chain_id or settings.CHAIN_ID, state__in=OPEN_STATES
    ).filter(Q(kind__in=argument_of) | Q(kind="other"))  # "other": a mix of kinds
    subjects = set()
    for actions in open_proposals.values_list("actions", flat=True):
        for action in actions:
            argument = argument_of.get(action.get("kind"))
            if argument and action.get("args", {}).get(argument):
                subjects.add(str(action["args"][argument]).lower().removeprefix("0x"))
    return subjects


def votes_of(proposal: Proposal) -> QuerySet[Vote]:
    return proposal.votes.all()


def vote_by(proposal: Proposal, voter: str) -> Vote | None:
    return proposal.votes.filter(voter__iexact=voter).first()


def relayed_ballot(proposal: Proposal, voter: str) -> RelayedBallot | None:
    """The voter's latest relayed ballot on this proposal (pending, confirmed or failed)."""
    return (
        RelayedBallot.objects.filter(
            chain_id=proposal.chain_id,
            council=proposal.council,
            proposal_id=proposal.proposal_id,
            voter__iexact=voter,
        )
        .order_by("-created_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class Tally:
    for_votes: int
    against_votes: int
    abstain_votes: int
    quorum: int | None

    @property
    def total(self) -> int:
        return self.for_votes + self.against_votes + self.abstain_votes

    def percent(self, votes: int) -> int:
        return round(100 * votes / self.total) if self.total else 0

    @property
    def for_percent(self) -> int:
        return self.percent(self.for_votes)

    @property
    def against_percent(self) -> int:
        return self.percent(self.against_votes)

    @property
    def abstain_percent(self) -> int:
        return self.percent(self.abstain_votes)

    @property
    def against_end(self) -> int:
        return self.for_percent + self.against_percent

    @property
    def quorum_votes(self) -> int:
        # OpenZeppelin's simple counting: For and Abstain count towards quorum.
        return self.for_votes + self.abstain_votes

    @property
    def quorum_percent(self) -> int:
        if not self.quorum:
            return 0
        return min(100, round(100 * self.quorum_votes / self.quorum))


def tally(proposal: Proposal) -> Tally:
    return Tally(
        proposal.for_votes, proposal.against_votes, proposal.abstain_votes, proposal.quorum
    )


@dataclass(frozen=True)
class Timing:
    head: int | None
    blocks_left: int | None  # until voting opens (pending) or closes (active)
    seconds_left: int | None

    @property
    def label(self) -> str:
        if self.seconds_left is None:
            return ""
        minutes, seconds = divmod(self.seconds_left, 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours}h {minutes}m"
        return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def timing(proposal: Proposal, head: int | None) -> Timing:
    if head is None:
        return Timing(None, None, None)
    if proposal.state == ProposalState.PENDING:
        blocks = max(0, proposal.vote_start - head + 1)
    elif proposal.state == ProposalState.ACTIVE:
        blocks = max(0, proposal.vote_end - head + 1)
    else:
        return Timing(head, None, None)
    return Timing(head, blocks, int(blocks * settings.CHAIN_BLOCK_TIME_S))


@dataclass(frozen=True)
class Evidence:
    """What voters decide on, beside the action itself: for a model version, the
    evaluation report the proposal pins by hash, if this platform holds it."""

    report_sha256: str
    evaluation: object | None  # synod.registry Evaluation
    metrics: dict | None
    model_page: str | None


def evidence_for(proposal: Proposal) -> list[Evidence]:
    from django.urls import NoReverseMatch, reverse

    from synod.registry import selectors as registry_selectors

    found = []
    for action in proposal.actions:
        if action.get("kind") != "approve_model":
            continue
        report = action["args"]["evaluationReportHash"].removeprefix("0x")
        evaluation = registry_selectors.evaluation_by_report_sha256(report)
        try:
            page = reverse(
                "registry:model-detail", args=[action["args"]["modelHash"].removeprefix("0x")]
            )
        except NoReverseMatch:
            page = None
        found.append(Evidence(report, evaluation, getattr(evaluation, "metrics", None), page))
    return found
