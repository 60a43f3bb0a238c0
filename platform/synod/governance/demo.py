"""A demo governance round on the local dev chain, so a new platform shows a living
dashboard: an executed dataset approval, a defeated parameter change, an active model
approval with a vote, and an active badge grant. Only on a local anvil chain: it sends
from anvil's published dev keys and warps time with anvil's own RPC methods."""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.governance import actions, wallet_calls
from synod.governance.actions import ProposalPlan, council_contract
from synod.governance.errors import DemoRefused

Progress = Callable[[str], None]
NONEXISTENT = -1

__all__ = ["DemoRefused", "iris_dataset_proposal", "run_demo_round"]


def _holder_keys() -> list[str]:
    return chain_selectors.dev_keys()[1:4]


def _send(key: str, call: wallet_calls.WalletCall) -> None:
    if not chain_services.send_from_key(key, to=call.to, data=call.data):
        raise DemoRefused(f"demo transaction reverted: {call.description}")


def _proposal_view(plan: ProposalPlan) -> wallet_calls.PlannedProposal:
    return wallet_calls.PlannedProposal.of(plan)


# IGovernor.ProposalState, by index.
PENDING, ACTIVE, SUCCEEDED, QUEUED = 0, 1, 4, 5
Vote = tuple[str, int, str]  # (dev key, support, reason)


def _state(plan: ProposalPlan) -> int:
    council = chain_selectors.contract(council_contract(plan.council))
    try:
        return council.functions.state(wallet_calls.proposal_id(plan)).call()
    except Exception:
        return NONEXISTENT  # GovernorNonexistentProposal: not proposed yet


def _open_and_vote(
    plan: ProposalPlan, proposer_key: str, votes: list[Vote], progress: Progress
) -> None:
    """Propose (unless it exists), open the vote, and cast every missing vote. Resumable:
    each step looks at the chain, so an interrupted round carries on where it stopped."""
    council = chain_selectors.contract(council_contract(plan.council))
    if _state(plan) == NONEXISTENT:
        _send(proposer_key, wallet_calls.propose(plan))
        progress(f"proposed: {plan.title}")
    if _state(plan) == PENDING:
        chain_services.mine_blocks(council.functions.votingDelay().call() + 1)
    if _state(plan) != ACTIVE:
        return
    proposal_id = wallet_calls.proposal_id(plan)
    for key, support, reason in votes:
        voter = Account.from_key(key).address
        if not council.functions.hasVoted(proposal_id, voter).call():
            _send(key, wallet_calls.cast_vote(_proposal_view(plan), support=support, reason=reason))


def _close_voting(plans: list[ProposalPlan]) -> None:
    deadlines = [
        chain_selectors.contract(council_contract(p.council))
        .functions.proposalDeadline(wallet_calls.proposal_id(p))
        .call()
        for p in plans
        if _state(p) == ACTIVE
    ]
    if deadlines:
        chain_services.mine_blocks(max(deadlines) - chain_selectors.head_block_number() + 1)


def _queue_and_execute(plan: ProposalPlan, key: str, progress: Progress) -> None:
    if _state(plan) == SUCCEEDED:
        _send(key, wallet_calls.queue(_proposal_view(plan)))
    if _state(plan) == QUEUED:
        timelock = chain_selectors.contract(f"{plan.council.capitalize()}Timelock")
        chain_services.advance_time(timelock.functions.getMinDelay().call() + 1)
        _send(key, wallet_calls.execute(_proposal_view(plan)))
        progress(f"executed: {plan.title}")


def iris_dataset_proposal(dataset_sha256: str) -> ProposalPlan:
    """The demo's dataset approval (its id hashes this exact text, so build it only here)."""
    return actions.approve_dataset(
        sha256=dataset_sha256, uri=f"synod://datasets/{dataset_sha256}", license="CC-BY-4.0",
        title="Approve the Iris flower measurements dataset",
        body="Classic 150-row, 3-class tabular dataset bundled with scikit-learn. "
        "Proposed as the evaluation set for the first tabular classifiers.",
    )  # fmt: skip


def run_demo_round(
    *, dataset_sha256: str, model: dict | None = None, progress: Progress = lambda _: None
) -> None:
    """Idempotent and resumable: every step first asks the chain what is already done."""
    if not chain_selectors.is_local_dev_chain():
        raise DemoRefused("the demo governance round only runs on a local dev chain")
    first, second, third = _holder_keys()
    registry = chain_selectors.contract("ModelRegistry").functions

    # Round 1: a dataset approval that passes and a fee change that fails.
    round_one: list[ProposalPlan] = []
    if not registry.isDatasetApproved(bytes.fromhex(dataset_sha256)).call():
        approve_dataset = iris_dataset_proposal(dataset_sha256)
        _open_and_vote(approve_dataset, first, [
            (first, 1, "Well-known, clean, permissively licensed."), (second, 1, ""),
        ], progress)  # fmt: skip
        round_one.append(approve_dataset)
    fee_change = actions.set_parameter(
        parameter="escrow_fee_bps", value=900,
        title="Raise the protocol fee to 9%",
        body="Fund the treasury faster. (Demo: the council votes this down.)",
    )  # fmt: skip
    _open_and_vote(fee_change, first, [
        (second, 0, "Providers would pay for it; not now."), (third, 0, ""),
    ], progress)  # fmt: skip
    round_one.append(fee_change)
    _close_voting(round_one)
    for plan in round_one:
        _queue_and_execute(plan, first, progress)

    # Round 2: open proposals a visitor can still vote on.
    newcomer = Account.from_key(chain_selectors.dev_keys()[4]).address
    if not chain_selectors.contract("ModelBadge").functions.balanceOf(newcomer).call():
        grant = actions.grant_badge(
            council="model", holder=newcomer, title="Welcome a fourth model expert",
            body="Dev account 4 has reviewed three model submissions; grant the model badge.",
        )  # fmt: skip
        _open_and_vote(grant, first, [], progress)
    if model and not registry.isModelApproved(bytes.fromhex(model["sha256"])).call():
        approve_model = actions.approve_model(**model)
        _open_and_vote(approve_model, first, [
            (first, 1, "Accuracy and latency look good on the approved set."),
        ], progress)  # fmt: skip
    progress("demo governance round in place")
