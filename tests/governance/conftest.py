from __future__ import annotations

from eth_account import Account
from web3 import Web3

from synod.chain.devnode import ANVIL_DEV_KEYS
from synod.chain.services import index_chain
from synod.governance import services
from synod.governance.models import Proposal
from synod.governance.wallet_calls import WalletCall
from tests.chain.conftest import node_guard, rpc_proxy  # noqa: F401 (shared fixtures)
from tests.support.suite import Suite

# The header governance.js sends with every request: refusals then come back as JSON.
AS_SCRIPT = {"HTTP_ACCEPT": "application/json"}


def wallet_send(suite: Suite, call: WalletCall, sender: str) -> dict:
    """What governance.js does: hand the server-built call to the wallet unchanged."""
    tx = suite.w3.eth.send_transaction(
        {"from": sender, "to": call.to, "data": call.data, "value": int(call.value, 16)}
    )
    receipt = suite.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, receipt
    return receipt


def sync() -> None:
    index_chain()
    services.refresh_proposal_states()
    services.settle_relayed_ballots()


def mirrored(council: str) -> Proposal:
    return Proposal.objects.filter(council=council).latest("created_block")


def sign_ballot(typed: dict, account_index: int) -> str:
    signed = Account.sign_typed_data(ANVIL_DEV_KEYS[account_index], full_message=typed)
    return "0x" + bytes(signed.signature).hex().removeprefix("0x")


def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)
