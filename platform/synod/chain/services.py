"""Writes of the chain app, for other apps to call: send transactions from the platform's
keys, run the event indexer (or ask a worker to), follow indexed events, and the few
actions of a local dev chain."""

from __future__ import annotations

import logging

from django.core.cache import cache
from eth_account.signers.local import LocalAccount

from synod.chain import bindings
from synod.chain.client import settlement_account
from synod.chain.devchain import advance_time, mine_blocks, send_from_key
from synod.chain.events import on_event, on_rewind, register_handler
from synod.chain.indexer import IndexResult, index_chain
from synod.chain.models import OutgoingTransaction
from synod.chain.sender import (
    DEFAULT_GAS_HEADROOM,
    resend_unfinished,
    send_transaction,
)

logger = logging.getLogger(__name__)

__all__ = [
    "IndexResult",
    "advance_time",
    "index_chain",
    "mine_blocks",
    "on_event",
    "on_rewind",
    "register_handler",
    "request_indexing",
    "resend_unfinished",
    "send_contract_call",
    "send_from_key",
    "send_transaction",
    "settlement_account",
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


# Requests within this many seconds of a sent one send nothing: the task already on its
# way indexes every block mined until it runs, so many clicks (or pages) cost one task.
INDEXING_REQUEST_WINDOW_S = 2
_INDEXING_REQUESTED = "synod:chain:indexing-requested"


def request_indexing() -> bool:
    """Ask a worker to index new blocks now rather than at the next beat, for someone who
    just sent a transaction and waits to see it. Never indexes in the caller's process (a
    web request does not wait for the node), and never raises: without a broker the beat
    still indexes within seconds. True when this call sent the task."""
    from synod.chain import tasks  # deferred: tasks imports this module

    if not cache.add(_INDEXING_REQUESTED, True, timeout=INDEXING_REQUEST_WINDOW_S):
        return False
    try:
        tasks.index_chain.delay()
    except Exception as exc:
        cache.delete(_INDEXING_REQUESTED)  # nothing was sent: the next request may try
        logger.warning("indexing not requested (%r); the beat indexes anyway", exc)
        return False
    return True
