"""A demo governance round on the local dev chain, so a new platform shows a living
dashboard: an executed dataset approval, a defeated parameter change, an active model
approval with a vote, and an active badge grant. Only on a local anvil chain: it sends
from anvil's published dev keys and warps time with anvil's own RPC methods."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from eth_account import Account
from web3 import Web3

from synod.chain import bindings
from synod.chain.client import signing_web3
from synod.chain.devnode import ANVIL_DEV_KEYS, LOCAL_CHAIN_IDS
from synod.governance import actions, wallet_calls
from synod.governance.actions import ProposalPlan, council_contract

Progress = Callable[[str], None]
PENDING_NONEXISTENT = -1


class DemoRefused(RuntimeError):
    pass


def _holder_keys() -> list[str]:
    return ANVIL_DEV_KEYS[1:4]


def _rpc(w3: Web3, method: str, params: list) -> None:
    response = w3.provider.make_request(method, params)
    if "error" in response:
        raise DemoRefused(f"{method} failed: {response['error']}")


def _send(key: str, call: wallet_calls.WalletCall) -> None:
    w3 = signing_web3(Account.from_key(key))
    tx = w3.eth.send_transaction({"to": call.to, "data": call.data})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=120)
    if receipt["status"] != 1:
        raise DemoRefused(f"demo transaction reverted: {call.description}")


def _state(plan: ProposalPlan) -> int:
    council = bindings.contract(council_contract(plan.council))
    try:
        return council.functions.state(wallet_calls.proposal_id(plan)).call()
    except Exception:
        return PENDING_NONEXISTENT  # GovernorNonexistentProposal: not proposed yet


def _proposal_view(plan: ProposalPlan) -> wallet_calls.PlannedProposal:
    return wallet_calls.PlannedProposal.of(plan)


def _propose(plan: ProposalPlan, proposer_key: str, progress: Progress) -> bool:
    if _state(plan) != PENDING_NONEXISTENT:
        progress(f"exists: {plan.title}")
        return False
    _send(proposer_key, wallet_calls.propose(plan))
    progress(f"proposed: {plan.title}")
    return True


def _vote(plan: ProposalPlan, key: str, support: int, reason: str) -> None:
    _send(key, wallet_calls.cast_vote(_proposal_view(plan), support=support, reason=reason))


def run_demo_round(
    *, dataset_sha256: str, model: dict | None = None, progress: Progress = lambda _: None
) -> None:
    """Idempotent: proposals that already exist are left as they are."""
    w3 = bindings.contract(council_contract("data")).w3
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS or settings.CHAIN_ID not in LOCAL_CHAIN_IDS:
        raise DemoRefused("the demo governance round only runs on a local dev chain")
    first, second, third = _holder_keys()
    registry = bindings.contract("ModelRegistry").functions
    dataset = bytes.fromhex(dataset_sha256)

    # Round 1: a dataset approval that passes and a fee change that fails.
    approve_dataset = None
    if not registry.isDatasetApproved(dataset).call():
        approve_dataset = actions.approve_dataset(
            sha256=dataset_sha256, uri=f"synod://datasets/{dataset_sha256}", license="CC-BY-4.0",
            title="Approve the Iris flower measurements dataset",
            body="Classic 150-row, 3-class tabular dataset bundled with scikit-learn. "
            "Proposed as the evaluation set for the first tabular classifiers.",
        )  # fmt: skip
    fee_change = actions.set_parameter(
        parameter="escrow_fee_bps", value=900,
        title="Raise the protocol fee to 9%",
        body="Fund the treasury faster. (Demo: the council votes this down.)",
    )  # fmt: skip
    fresh = [p for p in (approve_dataset, fee_change) if p and _propose(p, first, progress)]
    if fresh:
        council_delay = bindings.contract(council_contract("data")).functions.votingDelay().call()
        _rpc(w3, "anvil_mine", [hex(council_delay + 1)])
        if approve_dataset in fresh:
            _vote(approve_dataset, first, 1, "Well-known, clean, permissively licensed.")
            _vote(approve_dataset, second, 1, "")
        if fee_change in fresh:
            _vote(fee_change, second, 0, "Providers would pay for it; not now.")
            _vote(fee_change, third, 0, "")
        period = max(
            bindings.contract(council_contract(c)).functions.votingPeriod().call()
            for c in ("data", "compute")
        )
        _rpc(w3, "anvil_mine", [hex(period + 2)])
        progress("voting closed on round 1")
    if approve_dataset and _state(approve_dataset) == 4:  # Succeeded
        _send(first, wallet_calls.queue(_proposal_view(approve_dataset)))
        delay = bindings.contract("DataTimelock").functions.getMinDelay().call()
        _rpc(w3, "evm_increaseTime", [delay + 1])
        _rpc(w3, "anvil_mine", ["0x1"])
        _send(first, wallet_calls.execute(_proposal_view(approve_dataset)))
        progress("executed: the dataset is approved")

    # Round 2: open proposals a visitor can still vote on.
    grant = actions.grant_badge(
        council="model", holder=Account.from_key(ANVIL_DEV_KEYS[4]).address,
        title="Welcome a fourth model expert",
        body="Dev account 4 has reviewed three model submissions; grant the model badge.",
    ) if not bindings.contract("ModelBadge").functions.balanceOf(
        Account.from_key(ANVIL_DEV_KEYS[4]).address).call() else None  # fmt: skip
    approve_model = None
    if model and not registry.isModelApproved(bytes.fromhex(model["sha256"])).call():
        approve_model = actions.approve_model(**model)
    fresh = [p for p in (approve_model, grant) if p and _propose(p, first, progress)]
    if fresh:
        delay = bindings.contract(council_contract("model")).functions.votingDelay().call()
        _rpc(w3, "anvil_mine", [hex(delay + 1)])
        if approve_model in fresh:
            _vote(approve_model, first, 1, "Accuracy and latency look good on the approved set.")
        progress("round 2 open for votes")
