"""Writes of the chain app, for other apps to call: send transactions from the platform's
keys, and run the event indexer."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from synod.chain import bindings
from synod.chain.events import on_event, on_rewind, register_handler
from synod.chain.indexer import IndexResult, index_chain
from synod.chain.models import OutgoingTransaction
from synod.chain.sender import (
    DEFAULT_GAS_HEADROOM,
    resend_unfinished,
    send_transaction,
)

__all__ = [
    "IndexResult",
    "index_chain",
    "on_event",
    "on_rewind",
    "register_handler",
    "resend_unfinished",
    "send_contract_call",
    "send_transaction",
]


def send_contract_call(
    *,
    contract: str,
    function: str,
    args: list | tuple = (),
    idempotency_key: str,
    value: int = 0,
    account: LocalAccount | None = None,
    purpose: str = "",
    gas_headroom: float = DEFAULT_GAS_HEADROOM,
    wait: bool = True,
    timeout: float = 120,
) -> OutgoingTransaction:
    """Call `function(*args)` on the deployed `contract` through the transaction sender.

    Same key, same call: the second request returns the first one's transaction.
    """
    return send_transaction(
        idempotency_key=idempotency_key,
        to=bindings.deployed(contract).address,
        data=bindings.encode_call(contract, function, args),
        value=value,
        account=account,
        purpose=purpose or f"{contract}.{function}",
        gas_headroom=gas_headroom,
        wait=wait,
        timeout=timeout,
    )
