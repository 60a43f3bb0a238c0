"""Transactions the user's own wallet sends: the server builds `to` and `data`, the browser
hands them to the wallet unchanged (eth_sendTransaction)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from eth_utils import keccak

from synod.chain import selectors as chain_selectors
from synod.governance.actions import ProposalPlan, council_contract
from synod.governance.models import Proposal


@dataclass(frozen=True)
class WalletCall:
    to: str
    data: str
    value: str = "0x0"
    description: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PlannedProposal:
    """The fields of a mirrored Proposal that the calls below need, for a proposal the
    indexer has not seen yet (built from its plan)."""

    council: str
    proposal_id: str
    title: str
    targets: list[str]
    values: list[str]
    calldatas: list[str]
    description: str

    @classmethod
    def of(cls, plan: ProposalPlan) -> PlannedProposal:
        return cls(
            council=plan.council,
            proposal_id=str(proposal_id(plan)),
            title=plan.title,
            targets=plan.targets(),
            values=[str(v) for v in plan.values()],
            calldatas=plan.calldatas(),
            description=plan.description,
        )


# A mirrored Proposal, or one not indexed yet.
ProposalLike = Proposal | PlannedProposal


def _call(council: str, function: str, args: list, description: str) -> WalletCall:
    name = council_contract(council)
    return WalletCall(
        to=chain_selectors.deployed(name).address,
        data=chain_selectors.encode_call(name, function, args),
        description=description,
    )


def propose(plan: ProposalPlan) -> WalletCall:
    return _call(
        plan.council,
        "propose",
        [plan.targets(), plan.values(), plan.calldatas(), plan.description],
        f"Propose to the {plan.council} council: {plan.title}",
    )


def proposal_id(plan: ProposalPlan) -> int:
    """The id the council will give this proposal (a hash of its actions and description)."""
    council = chain_selectors.contract(council_contract(plan.council))
    return council.functions.hashProposal(
        plan.targets(), plan.values(), plan.calldatas(), keccak(text=plan.description)
    ).call()


def cast_vote(proposal: ProposalLike, *, support: int, reason: str) -> WalletCall:
    return _call(
        proposal.council,
        "castVoteWithReason",
        [int(proposal.proposal_id), support, reason],
        "Vote on: " + proposal.title,
    )


def _operation_args(proposal: ProposalLike) -> list:
    return [
        proposal.targets,
        [int(v) for v in proposal.values],
        proposal.calldatas,
        keccak(text=proposal.description),
    ]


def queue(proposal: ProposalLike) -> WalletCall:
    return _call(proposal.council, "queue", _operation_args(proposal), "Queue: " + proposal.title)


def execute(proposal: ProposalLike) -> WalletCall:
    return _call(
        proposal.council, "execute", _operation_args(proposal), "Execute: " + proposal.title
    )
