"""What only a local dev chain (anvil) allows: sending from its published dev keys and
moving its clock. For the demo round and benchmarks; refused on any other chain."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from synod.chain.client import get_web3, signing_web3
from synod.chain.errors import DevChainRefused
from synod.chain.selectors import is_local_dev_chain


def _require_local() -> None:
    if not is_local_dev_chain():
        raise DevChainRefused("this only runs on a local dev chain")


def _rpc(method: str, params: list) -> Any:
    _require_local()
    response = get_web3().provider.make_request(method, params)
    if "error" in response:
        raise DevChainRefused(f"{method} failed: {response['error']}")
    return response.get("result")


def mine_blocks(count: int) -> None:
    """Mine `count` empty blocks at once (anvil_mine)."""
    if count > 0:
        _rpc("anvil_mine", [hex(count)])


def advance_time(seconds: int) -> None:
    """Move the chain's clock `seconds` ahead and mine a block that carries the new time."""
    _rpc("evm_increaseTime", [seconds])
    _rpc("anvil_mine", ["0x1"])


def send_from_key(
    private_key: str, *, to: str, data: str, value: int = 0, timeout: float = 120
) -> bool:
    """Send a transaction signed locally with a dev key and wait for it to be mined; True
    when it succeeded. Not through the outbox: these keys are not the platform's."""
    _require_local()
    w3 = signing_web3(Account.from_key(private_key))
    tx_hash = w3.eth.send_transaction({"to": to, "data": data, "value": value})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    return receipt["status"] == 1
