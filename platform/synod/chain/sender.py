"""The one way the platform sends transactions from its own keys.

- One nonce sequence per (chain, key) across every process: the NonceSequence row is locked
  (SELECT ... FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions serialize writers)
  while a nonce is drawn and the transaction signed.
- The signed transaction is saved in the outbox before it is broadcast, so a retry after a
  crash or a network error re-sends the same bytes: the same nonce, the same hash.
- An idempotency key names each logical send: asking again returns the first send's row.
- Gas is estimated with headroom; a revert at estimate time raises the decoded
  ContractRevert and consumes no nonce.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound

from synod.chain.client import get_web3, operator_account
from synod.chain.errors import ContractRevert, as_contract_revert
from synod.chain.models import NonceSequence, OutgoingTransaction

logger = logging.getLogger(__name__)

# ERC721Votes checkpoint writes cost more than a fresh estimate suggests (DESIGN.md).
DEFAULT_GAS_HEADROOM = 1.3
RECEIPT_POLL_S = 0.1
UNFINISHED = (OutgoingTransaction.Status.PENDING, OutgoingTransaction.Status.SENT)


class TransactionError(Exception):
    """Base class of the sender's own errors."""


class IdempotencyConflict(TransactionError):
    """The idempotency key was already used for a different transaction."""


class BroadcastFailed(TransactionError):
    """No node accepted the transaction; it stays in the outbox and a retry re-sends it."""


class ReceiptTimeout(TransactionError):
    """The transaction was sent but not mined in time; ask again later with the same key."""


class TransactionFailed(TransactionError):
    """The transaction was mined and reverted (`outgoing.revert_name` says why when the
    replay could tell), or its nonce was taken by another transaction."""

    def __init__(self, outgoing: OutgoingTransaction) -> None:
        self.outgoing = outgoing
        reason = outgoing.revert_name or outgoing.last_error or "reverted without a reason"
        super().__init__(f"{outgoing.idempotency_key} ({outgoing.tx_hash}) failed: {reason}")


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

    Raises ContractRevert when the estimate reverts (nothing sent, no nonce used),
    BroadcastFailed when no node accepts it yet, ReceiptTimeout, or TransactionFailed.
    """
    w3 = w3 or get_web3()
    account = account or operator_account()
    chain_id = w3.eth.chain_id
    to_address, data_hex = _checksum(to), _hex(data)

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
        outgoing = _sign_and_record(
            w3,
            account=account,
            chain_id=chain_id,
            idempotency_key=idempotency_key,
            purpose=purpose,
            to=to_address,
            data=data_hex,
            value=value,
            gas=gas,
            fees=current_fees(w3),
        )
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


def _next_nonce(w3: Web3, sequence: NonceSequence) -> int:
    on_chain = w3.eth.get_transaction_count(sequence.address, "pending")
    outstanding = OutgoingTransaction.objects.filter(
        chain_id=sequence.chain_id, sender=sequence.address, status__in=UNFINISHED
    ).exists()
    # With nothing of ours in flight the node's count is the truth (it also covers keys
    # used outside the sender, and a local chain restarted from genesis); with sends in
    # flight our sequence runs ahead of what the node has seen.
    return max(sequence.next_nonce, on_chain) if outstanding else on_chain


def _sign_and_record(
    w3: Web3,
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
) -> OutgoingTransaction:
    try:
        with transaction.atomic():
            sequence, _ = NonceSequence.objects.select_for_update().get_or_create(
                chain_id=chain_id, address=account.address
            )
            # Checked again under the lock: a concurrent send with this key may have won.
            existing = _find(chain_id, idempotency_key)
            if existing is not None:
                return existing
            nonce = _next_nonce(w3, sequence)
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
            sequence.save(update_fields=["next_nonce", "updated_at"])
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
    """Send the saved raw transaction. Re-sending one a node already has is a success."""
    w3 = w3 or get_web3()
    try:
        w3.eth.send_raw_transaction(outgoing.raw_transaction)
    except Exception as exc:
        message = str(exc).lower()
        if _is_duplicate(message):
            pass
        elif "nonce too low" in message and _node_has(w3, outgoing.tx_hash):
            pass  # ours was already accepted (maybe mined) before this attempt
        elif "nonce too low" in message:
            return _mark_failed(outgoing, "nonce was used by another transaction")
        else:
            OutgoingTransaction.objects.filter(pk=outgoing.pk).update(
                broadcast_attempts=F("broadcast_attempts") + 1, last_error=str(exc)[:2000]
            )
            raise BroadcastFailed(f"{outgoing.tx_hash}: {exc}") from exc
    OutgoingTransaction.objects.filter(
        pk=outgoing.pk, status=OutgoingTransaction.Status.PENDING
    ).update(
        status=OutgoingTransaction.Status.SENT,
        sent_at=timezone.now(),
        broadcast_attempts=F("broadcast_attempts") + 1,
    )
    outgoing.refresh_from_db()
    return outgoing


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
        raise ReceiptTimeout(f"{outgoing.tx_hash} not mined within {timeout}s") from exc
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
