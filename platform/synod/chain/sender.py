"""The one way the platform sends transactions from its own keys.

Every send is in one of two worlds (DESIGN.md: "never sent" kept apart from "in flight"):

- never sent: it could not be estimated, built, signed or saved (the estimate reverted with
  a decoded ContractRevert; the node did not answer before signing; the key is missing).
  Nothing is saved and no nonce is used: the caller may refuse it, retry it or drop it.
  Raised as ContractRevert or NotSent.
- in flight: it is signed and saved in the outbox (OutgoingTransaction) and may land on
  chain whatever the caller hears next. PENDING (signed, no node took it yet) -> SENT (a
  node has it) -> MINED, or FAILED (mined and reverted, or its nonce went to another
  transaction). A failed broadcast (BroadcastFailed) leaves it PENDING, and
  `resend_unfinished` (beat, every 30 s) sends the same bytes again: same nonce, same hash.

No node call is made while a database transaction or lock is held:
1. the node is asked first: chain id, gas estimate with headroom (a revert raises the
   decoded ContractRevert and uses no nonce), fees, and its pending nonce for the key;
2. one short transaction locks the key's NonceSequence row (SELECT ... FOR UPDATE on
   PostgreSQL; SQLite's IMMEDIATE transactions serialize writers), draws the nonce, signs,
   saves the outbox row, and commits, so every process draws from one contiguous sequence;
3. only then is the saved raw transaction broadcast and its receipt awaited.

An idempotency key names each logical send: asking again returns the first send's row.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound

from synod.chain.client import get_web3, operator_account

# The sender's errors live with the chain's other errors; importable from here too.
from synod.chain.errors import (
    BroadcastFailed,
    ContractRevert,
    IdempotencyConflict,
    NotSent,
    ReceiptTimeout,
    TransactionError,
    TransactionFailed,
    as_contract_revert,
)
from synod.chain.models import NonceSequence, OutgoingTransaction

logger = logging.getLogger(__name__)

# ERC721Votes checkpoint writes cost more than a fresh estimate suggests (DESIGN.md).
DEFAULT_GAS_HEADROOM = 1.3
RECEIPT_POLL_S = 0.1
UNFINISHED = (OutgoingTransaction.Status.PENDING, OutgoingTransaction.Status.SENT)

__all__ = [
    "BroadcastFailed",
    "IdempotencyConflict",
    "NotSent",
    "ReceiptTimeout",
    "TransactionError",
    "TransactionFailed",
    "broadcast",
    "drive",
    "resend_unfinished",
    "send_transaction",
]


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    legacy: bool = False


def _hex(data: bytes | str | None) -> str:
    if data is None:
        return "0x"
    if isinstance(data, str):
        return "0x" + data.removeprefix("0x").lower()
    return Web3.to_hex(data)


def _checksum(address: str | None) -> str:
    return Web3.to_checksum_address(address) if address else ""


def current_fees(w3: Web3) -> Fees:
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    if base_fee is None:  # a chain without EIP-1559
        price = w3.eth.gas_price
        return Fees(price, price, legacy=True)
    tip = w3.eth.max_priority_fee
    # Twice the base fee survives six full blocks of base-fee growth before the tx stalls.
    return Fees(2 * base_fee + tip, tip)


def estimate_gas(w3: Web3, *, sender: str, to: str, data: str, value: int, headroom: float) -> int:
    call = {"from": sender, "data": data, "value": value}
    if to:
        call["to"] = to
    try:
        estimate = w3.eth.estimate_gas(call)
    except Exception as exc:
        revert = as_contract_revert(exc)
        if revert is not None:
            raise revert from exc
        raise
    return math.ceil(estimate * headroom)


def send_transaction(
    *,
    idempotency_key: str,
    to: str | None,
    data: bytes | str | None = None,
    value: int = 0,
    account: LocalAccount | None = None,
    purpose: str = "",
    gas: int | None = None,
    gas_headroom: float = DEFAULT_GAS_HEADROOM,
    wait: bool = True,
    timeout: float = 120,
    w3: Web3 | None = None,
) -> OutgoingTransaction:
    """Send a transaction once per `idempotency_key` and (with `wait`) return it mined.

    Never sent (nothing saved, no nonce used): ContractRevert when the estimate reverts,
    NotSent when it could not be built, signed or saved, IdempotencyConflict when the key
    names another transaction. In flight (saved; it may still land): BroadcastFailed when
    no node accepted it yet, ReceiptTimeout; and TransactionFailed once it failed for good.
    """
    to_address, data_hex = _checksum(to), _hex(data)
    try:
        w3 = w3 or get_web3()
        account = account or operator_account()
        chain_id = w3.eth.chain_id
        outgoing = _find(chain_id, idempotency_key)
        if outgoing is None:
            gas = gas or estimate_gas(
                w3,
                sender=account.address,
                to=to_address,
                data=data_hex,
                value=value,
                headroom=gas_headroom,
            )
            fees = current_fees(w3)
            reading = _read_nonce(w3, chain_id, account.address)
            outgoing = _sign_and_record(
                account=account,
                chain_id=chain_id,
                idempotency_key=idempotency_key,
                purpose=purpose,
                to=to_address,
                data=data_hex,
                value=value,
                gas=gas,
                fees=fees,
                reading=reading,
            )
    except (ContractRevert, TransactionError):
        raise
    except Exception as exc:
        raise NotSent(idempotency_key, exc) from exc
    _check_same_request(outgoing, account.address, to_address, data_hex, value)
    return drive(outgoing, wait=wait, timeout=timeout, w3=w3)


def _find(chain_id: int, idempotency_key: str) -> OutgoingTransaction | None:
    return OutgoingTransaction.objects.filter(
        chain_id=chain_id, idempotency_key=idempotency_key
    ).first()


def _check_same_request(
    outgoing: OutgoingTransaction, sender: str, to: str, data: str, value: int
) -> None:
    if (outgoing.sender, outgoing.to, outgoing.data, outgoing.value) != (sender, to, data, value):
        raise IdempotencyConflict(
            f"idempotency key {outgoing.idempotency_key!r} already names transaction "
            f"{outgoing.tx_hash} with a different sender, recipient, data or value"
        )


def _in_flight(chain_id: int, address: str) -> QuerySet[OutgoingTransaction]:
    return OutgoingTransaction.objects.filter(
        chain_id=chain_id, sender=address, status__in=UNFINISHED
    )


@dataclass(frozen=True)
class NonceReading:
    """The node's pending nonce for a key, and our sequence as it stood just before the
    node was asked (read before the lock, so the node is never asked while it is held)."""

    node_pending: int
    reservations_before: int
    in_flight_before: bool


def _read_nonce(w3: Web3, chain_id: int, address: str) -> NonceReading:
    # Our side is read before the node's: a send of ours that could make the node's answer
    # stale then shows up, under the lock, as a reservation made or a send in flight.
    sequence = NonceSequence.objects.filter(chain_id=chain_id, address=address).first()
    in_flight = _in_flight(chain_id, address).exists()
    return NonceReading(
        node_pending=w3.eth.get_transaction_count(address, "pending"),
        reservations_before=sequence.reservations if sequence else 0,
        in_flight_before=in_flight,
    )


def _next_nonce(sequence: NonceSequence, reading: NonceReading) -> int:
    quiet = (
        not reading.in_flight_before
        and sequence.reservations == reading.reservations_before
        and not _in_flight(sequence.chain_id, sequence.address).exists()
    )
    # Quiet: nothing of ours was in flight at any moment since before the node was asked,
    # so its count covers every send of ours and is the truth (it also covers keys used
    # outside the sender, and a local chain restarted from genesis). Otherwise our
    # sequence may run ahead of what the node had seen when it answered.
    return reading.node_pending if quiet else max(sequence.next_nonce, reading.node_pending)


def _sign_and_record(
    *,
    account: LocalAccount,
    chain_id: int,
    idempotency_key: str,
    purpose: str,
    to: str,
    data: str,
    value: int,
    gas: int,
    fees: Fees,
    reading: NonceReading,
) -> OutgoingTransaction:
    """Draw the nonce, sign and save, in one short transaction that makes no node call."""
    try:
        with transaction.atomic():
            sequence, _ = NonceSequence.objects.select_for_update().get_or_create(
                chain_id=chain_id, address=account.address
            )
            # Checked again under the lock: a concurrent send with this key may have won.
            existing = _find(chain_id, idempotency_key)
            if existing is not None:
                return existing
            nonce = _next_nonce(sequence, reading)
            tx: dict = {
                "chainId": chain_id,
                "nonce": nonce,
                "gas": gas,
                "value": value,
                "data": data,
            }
            if to:
                tx["to"] = to
            if fees.legacy:
                tx["gasPrice"] = fees.max_fee_per_gas
            else:
                tx["maxFeePerGas"] = fees.max_fee_per_gas
                tx["maxPriorityFeePerGas"] = fees.max_priority_fee_per_gas
            signed = account.sign_transaction(tx)
            outgoing = OutgoingTransaction.objects.create(
                chain_id=chain_id,
                idempotency_key=idempotency_key,
                purpose=purpose,
                sender=account.address,
                nonce=nonce,
                to=to,
                data=data,
                value_wei=str(value),
                gas=gas,
                max_fee_per_gas=fees.max_fee_per_gas,
                max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
                raw_transaction=Web3.to_hex(signed.raw_transaction),
                tx_hash=Web3.to_hex(signed.hash),
            )
            sequence.next_nonce = nonce + 1
            sequence.reservations += 1
            sequence.save(update_fields=["next_nonce", "reservations", "updated_at"])
            return outgoing
    except IntegrityError:
        # Another key's sender (not serialized by our row lock) took this idempotency key.
        existing = _find(chain_id, idempotency_key)
        if existing is None:
            raise
        return existing


def drive(
    outgoing: OutgoingTransaction,
    *,
    wait: bool = True,
    timeout: float = 120,
    w3: Web3 | None = None,
) -> OutgoingTransaction:
    """Take an outbox row as far as it can go: broadcast if pending, then await its receipt."""
    w3 = w3 or get_web3()
    if outgoing.status == OutgoingTransaction.Status.PENDING:
        outgoing = broadcast(outgoing, w3=w3)
    if wait and outgoing.status == OutgoingTransaction.Status.SENT:
        outgoing = await_receipt(outgoing, timeout=timeout, w3=w3)
    if wait and outgoing.status == OutgoingTransaction.Status.FAILED:
        raise TransactionFailed(outgoing)
    return outgoing


def _is_duplicate(message: str) -> bool:
    return any(
        marker in message
        for marker in ("already known", "already imported", "known transaction", "alreadyknown")
    )


def broadcast(outgoing: OutgoingTransaction, *, w3: Web3 | None = None) -> OutgoingTransaction:
    """Send the saved raw transaction; re-sending one a node already has is a success.

    Raises BroadcastFailed when no node took it: it stays PENDING, in flight."""
    w3 = w3 or get_web3()
    try:
        accepted = _send_raw(w3, outgoing)
    except Exception as exc:
        OutgoingTransaction.objects.filter(pk=outgoing.pk).update(
            broadcast_attempts=F("broadcast_attempts") + 1, last_error=str(exc)[:2000]
        )
        raise BroadcastFailed(outgoing, exc) from exc
    if not accepted:
        return _mark_failed(outgoing, "nonce was used by another transaction")
    OutgoingTransaction.objects.filter(
        pk=outgoing.pk, status=OutgoingTransaction.Status.PENDING
    ).update(
        status=OutgoingTransaction.Status.SENT,
        sent_at=timezone.now(),
        broadcast_attempts=F("broadcast_attempts") + 1,
    )
    outgoing.refresh_from_db()
    return outgoing


def _send_raw(w3: Web3, outgoing: OutgoingTransaction) -> bool:
    """True once a node has the transaction, False when its nonce went to another one;
    raises when the node could not be asked or refused it for another reason."""
    try:
        w3.eth.send_raw_transaction(outgoing.raw_transaction)
    except Exception as exc:
        message = str(exc).lower()
        if _is_duplicate(message):
            return True
        if "nonce too low" not in message:
            raise
        # Ours may have been accepted (maybe mined) before this attempt.
        return _node_has(w3, outgoing.tx_hash)
    return True


def _node_has(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction(tx_hash)
        return True
    except TransactionNotFound:
        return False


def _mark_failed(outgoing: OutgoingTransaction, reason: str) -> OutgoingTransaction:
    OutgoingTransaction.objects.filter(pk=outgoing.pk, status__in=UNFINISHED).update(
        status=OutgoingTransaction.Status.FAILED, last_error=reason
    )
    outgoing.refresh_from_db()
    return outgoing


def await_receipt(
    outgoing: OutgoingTransaction, *, timeout: float = 120, w3: Web3 | None = None
) -> OutgoingTransaction:
    w3 = w3 or get_web3()
    try:
        receipt = w3.eth.wait_for_transaction_receipt(
            outgoing.tx_hash, timeout=timeout, poll_latency=RECEIPT_POLL_S
        )
    except TimeExhausted as exc:
        raise ReceiptTimeout(outgoing, timeout) from exc
    return record_receipt(outgoing, receipt, w3=w3)


def record_receipt(outgoing: OutgoingTransaction, receipt, *, w3: Web3) -> OutgoingTransaction:
    succeeded = receipt["status"] == 1
    revert_name = ""
    if not succeeded:
        revert = _replay_revert(w3, outgoing, receipt["blockNumber"])
        revert_name = str(revert) if revert else ""
    OutgoingTransaction.objects.filter(pk=outgoing.pk, status__in=UNFINISHED).update(
        status=OutgoingTransaction.Status.MINED if succeeded else OutgoingTransaction.Status.FAILED,
        block_number=receipt["blockNumber"],
        block_hash=Web3.to_hex(receipt["blockHash"]),
        gas_used=receipt["gasUsed"],
        effective_gas_price=receipt.get("effectiveGasPrice"),
        contract_address=receipt.get("contractAddress") or "",
        revert_name=revert_name[:200],
        mined_at=timezone.now(),
    )
    outgoing.refresh_from_db()
    return outgoing


def _replay_revert(
    w3: Web3, outgoing: OutgoingTransaction, block_number: int
) -> ContractRevert | None:
    """Best effort: the reason a mined transaction reverted, by replaying it as a call on
    the state before its block (exact unless an earlier tx in that block mattered)."""
    call = {"from": outgoing.sender, "data": outgoing.data, "value": outgoing.value}
    if outgoing.to:
        call["to"] = outgoing.to
    call["gas"] = outgoing.gas
    try:
        w3.eth.call(call, block_identifier=max(block_number - 1, 0))
    except Exception as exc:
        return as_contract_revert(exc)
    return None


def resend_unfinished(*, chain_id: int | None = None, w3: Web3 | None = None) -> int:
    """Re-broadcast every outbox transaction that is not mined yet and record receipts that
    arrived meanwhile. Safe to run at any time, from any number of processes."""
    w3 = w3 or get_web3()
    chain_id = chain_id or settings.CHAIN_ID
    handled = 0
    for outgoing in OutgoingTransaction.objects.filter(chain_id=chain_id, status__in=UNFINISHED):
        try:
            receipt = w3.eth.get_transaction_receipt(outgoing.tx_hash)
        except TransactionNotFound:
            receipt = None
        try:
            if receipt is not None:
                record_receipt(outgoing, receipt, w3=w3)
            else:
                broadcast(outgoing, w3=w3)
        except BroadcastFailed as exc:
            logger.warning("outbox: %s", exc)
            continue
        handled += 1
    return handled
