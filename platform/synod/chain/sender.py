"""The one way the platform sends transactions from its own keys.

Every send is in one of two worlds (DESIGN.md: "never sent" kept apart from "in flight"):

- never sent: it could not be estimated, built, signed or saved (the estimate reverted with
  a decoded ContractRevert; the node did not answer before signing; the key is missing).
  Nothing is saved and no nonce is used: the caller may refuse it, retry it or drop it.
  Raised as ContractRevert or NotSent.
- in flight: it is signed and saved in the outbox (OutgoingTransaction) and may land on
  chain whatever the caller hears next. PENDING (signed, no node took it yet) -> SENT (a
  node has it) -> MINED, or FAILED (mined and reverted, or its nonce went to another
  transaction); a reorg may send MINED or FAILED back to SENT until it is final
  (`final_at`). A failed broadcast (BroadcastFailed) leaves it PENDING, and
  `resend_unfinished` (beat, every 30 s) sends the same bytes again: same nonce, same hash,
  unless it replaces them (same nonce, higher fees; see below).

No node call is made while a database transaction or lock is held:
1. the node is asked first: chain id, gas estimate with headroom (a revert raises the
   decoded ContractRevert and uses no nonce), fees, and its pending nonce for the key;
2. one short transaction locks the key's NonceSequence row (SELECT ... FOR UPDATE on
   PostgreSQL; SQLite's IMMEDIATE transactions serialize writers), draws the nonce, signs,
   saves the outbox row, and commits, so every process draws from one contiguous sequence;
3. only then is the saved raw transaction broadcast and its receipt awaited.

An idempotency key names each logical send: asking again returns the first send's row.

Lanes, replacements and reorgs. Each key has one nonce sequence, so each purpose that must
never wait for another sends from a key of its own: relayed votes and deployments from the
operator key, settlements from the settlement key (`client.settlement_account`); a
settlement stuck below the going fee holds back only later settlements. A transaction still
unmined CHAIN_SENDER_REPLACE_AFTER_S after its latest version was signed, whose fees are
below the going fee, is replaced by `resend_unfinished`: re-signed with the same nonce,
recipient, data, value and gas, both fees raised to at least the going fee and 12.5 % above
the old ones (nodes want 10 %). Every signed version is kept (OutgoingAttempt) and receipts
are looked up for all of them, since any may be the one mined; the row then records that
one. A mined transaction is not final until CHAIN_SENDER_CONFIRMATIONS blocks are on top
of it: `recheck_mined` (same beat task) looks again at each recent one, and one whose block
a reorg dropped goes back to SENT and is broadcast again (or recorded in its new block).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound

from synod.chain.client import get_web3, operator_account, settlement_account

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
from synod.chain.models import NonceSequence, OutgoingAttempt, OutgoingTransaction

logger = logging.getLogger(__name__)

# ERC721Votes checkpoint writes cost more than a fresh estimate suggests (DESIGN.md).
DEFAULT_GAS_HEADROOM = 1.3
RECEIPT_POLL_S = 0.1
UNFINISHED = (OutgoingTransaction.Status.PENDING, OutgoingTransaction.Status.SENT)
# Statuses of a transaction that is in a block (FAILED may also mean its nonce was taken,
# then without a block); not final until enough blocks are on top.
IN_A_BLOCK = (OutgoingTransaction.Status.MINED, OutgoingTransaction.Status.FAILED)
# A replacement raises each fee by at least 1/8 (12.5 %): nodes refuse one below +10 %.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8

__all__ = [
    "BroadcastFailed",
    "Fees",
    "IdempotencyConflict",
    "NotSent",
    "ReceiptTimeout",
    "RecheckResult",
    "TransactionError",
    "TransactionFailed",
    "await_receipt",
    "broadcast",
    "bumped_fee",
    "current_fees",
    "drive",
    "find_receipt",
    "recheck_mined",
    "replace_if_stuck",
    "replacement_fees",
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


def bumped_fee(fee: int) -> int:
    """`fee` x 1.125 rounded up, in exact integers, and at least one wei more."""
    return max(-(-fee * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR), fee + 1)


def replacement_fees(old: Fees, going: Fees) -> Fees:
    """The fees of a replacement: each at least the going one and bumped from the old one.

    The priority fee never exceeds the max fee: each part of the new tip is at most the
    matching part of the new max fee (the going tip <= the going max fee, and bumping keeps
    the old tip <= the old max fee)."""
    return Fees(
        max(going.max_fee_per_gas, bumped_fee(old.max_fee_per_gas)),
        max(going.max_priority_fee_per_gas, bumped_fee(old.max_priority_fee_per_gas)),
        legacy=old.legacy,
    )


def is_below(fees: Fees, going: Fees) -> bool:
    return (
        fees.max_fee_per_gas < going.max_fee_per_gas
        or fees.max_priority_fee_per_gas < going.max_priority_fee_per_gas
    )


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
            signed = account.sign_transaction(
                _unsigned(
                    chain_id=chain_id, nonce=nonce, to=to, data=data, value=value, gas=gas,
                    fees=fees,
                )
            )  # fmt: skip
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
            _record_attempt(outgoing)
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


def _unsigned(
    *, chain_id: int, nonce: int, to: str, data: str, value: int, gas: int, fees: Fees
) -> dict:
    tx: dict = {"chainId": chain_id, "nonce": nonce, "gas": gas, "value": value, "data": data}
    if to:
        tx["to"] = to
    if fees.legacy:
        tx["gasPrice"] = fees.max_fee_per_gas
    else:
        tx["maxFeePerGas"] = fees.max_fee_per_gas
        tx["maxPriorityFeePerGas"] = fees.max_priority_fee_per_gas
    return tx


def _record_attempt(outgoing: OutgoingTransaction) -> OutgoingAttempt:
    """Keep the row's current signed version among its attempts (inside the caller's
    transaction, with the row)."""
    return OutgoingAttempt.objects.create(
        outgoing=outgoing,
        chain_id=outgoing.chain_id,
        tx_hash=outgoing.tx_hash,
        raw_transaction=outgoing.raw_transaction,
        max_fee_per_gas=outgoing.max_fee_per_gas,
        max_priority_fee_per_gas=outgoing.max_priority_fee_per_gas,
    )


def _fees_of(outgoing: OutgoingTransaction) -> Fees:
    # The sender signs EIP-1559 (type 2) transactions, or legacy ones where the chain has
    # no base fee; the raw bytes say which.
    legacy = not outgoing.raw_transaction.lower().startswith("0x02")
    return Fees(outgoing.max_fee_per_gas, outgoing.max_priority_fee_per_gas, legacy=legacy)


def _attempt_hashes(outgoing: OutgoingTransaction) -> list[str]:
    """Every signed version's hash, newest first (the row's own one included)."""
    hashes = list(
        OutgoingAttempt.objects.filter(outgoing_id=outgoing.pk)
        .order_by("-created_at", "-pk")
        .values_list("tx_hash", flat=True)
    )
    if outgoing.tx_hash not in hashes:
        hashes.insert(0, outgoing.tx_hash)
    return hashes


def drive(
    outgoing: OutgoingTransaction,
    *,
    wait: bool = True,
    timeout: float = 120,
    w3: Web3 | None = None,
) -> OutgoingTransaction:
    """Take an outbox row as far as it can go: broadcast if pending, then await its receipt.
    `outgoing` may be a stale copy: the row as saved now (maybe replaced, or recorded by
    another process) is what is driven."""
    w3 = w3 or get_web3()
    outgoing.refresh_from_db()
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

    Raises BroadcastFailed when no node took it: it stays PENDING (or SENT, for a re-send
    or a replacement of one a node took before), in flight."""
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
        # Ours (this version or an earlier one) may have been accepted, maybe mined, before.
        return any(_node_has(w3, tx_hash) for tx_hash in _attempt_hashes(outgoing))
    return True


def _node_has(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction(tx_hash)
        return True
    except TransactionNotFound:
        return False


def _mark_failed(outgoing: OutgoingTransaction, reason: str) -> OutgoingTransaction:
    # Final at once: no version of ours can be mined with that nonce any more.
    OutgoingTransaction.objects.filter(pk=outgoing.pk, status__in=UNFINISHED).update(
        status=OutgoingTransaction.Status.FAILED, last_error=reason, final_at=timezone.now()
    )
    outgoing.refresh_from_db()
    return outgoing


def _receipt(w3: Web3, tx_hash: str):
    try:
        return w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None


def find_receipt(w3: Web3, outgoing: OutgoingTransaction):
    """The receipt of whichever signed version of `outgoing` was mined, or None."""
    for tx_hash in _attempt_hashes(outgoing):
        receipt = _receipt(w3, tx_hash)
        if receipt is not None:
            return receipt
    return None


def await_receipt(
    outgoing: OutgoingTransaction, *, timeout: float = 120, w3: Web3 | None = None
) -> OutgoingTransaction:
    """Wait until one of the row's signed versions is mined, including replacements signed
    by another process meanwhile, or until another process recorded the outcome."""
    w3 = w3 or get_web3()
    deadline = time.monotonic() + timeout
    while True:
        outgoing.refresh_from_db()
        if not outgoing.in_flight:
            return outgoing
        receipt = find_receipt(w3, outgoing)
        if receipt is not None:
            return record_receipt(outgoing, receipt, w3=w3)
        if time.monotonic() >= deadline:
            raise ReceiptTimeout(outgoing, timeout)
        time.sleep(RECEIPT_POLL_S)


def record_receipt(outgoing: OutgoingTransaction, receipt, *, w3: Web3) -> OutgoingTransaction:
    """Record the receipt of one of the row's versions: the row takes that version's hash,
    raw bytes and fees (the one on chain), and its outcome; not final yet."""
    mined_hash = Web3.to_hex(receipt["transactionHash"])
    version: dict = {}
    attempt = OutgoingAttempt.objects.filter(outgoing_id=outgoing.pk, tx_hash=mined_hash).first()
    if attempt is not None:
        version = {
            "tx_hash": attempt.tx_hash,
            "raw_transaction": attempt.raw_transaction,
            "max_fee_per_gas": attempt.max_fee_per_gas,
            "max_priority_fee_per_gas": attempt.max_priority_fee_per_gas,
        }
    succeeded = receipt["status"] == 1
    revert_name = ""
    if not succeeded:
        revert = _replay_revert(w3, outgoing, receipt["blockNumber"])
        revert_name = str(revert) if revert else ""
    OutgoingTransaction.objects.filter(pk=outgoing.pk, status__in=UNFINISHED).update(
        **version,
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


def _signing_accounts(extra: tuple[LocalAccount, ...] = ()) -> dict[str, LocalAccount]:
    """The platform's keys by address, which may re-sign their own transactions."""
    accounts: dict[str, LocalAccount] = {}
    for load in (operator_account, settlement_account):
        try:
            account = load()
        except RuntimeError:  # that key is not configured here
            continue
        accounts[account.address] = account
    accounts.update((account.address, account) for account in extra)
    return accounts


def _latest_signed_at(outgoing: OutgoingTransaction):
    latest = (
        OutgoingAttempt.objects.filter(outgoing_id=outgoing.pk)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    return latest or outgoing.created_at


def replace_if_stuck(
    outgoing: OutgoingTransaction,
    going: Fees,
    *,
    accounts: dict[str, LocalAccount] | None = None,
) -> OutgoingTransaction:
    """Re-sign `outgoing` at higher fees when it is stuck: unmined
    CHAIN_SENDER_REPLACE_AFTER_S after its latest version was signed, and below the going
    fee `going`. Saves the new version (it is then what a broadcast sends) and returns the
    row as it now stands; broadcasting is the caller's. Makes no node call."""
    if not outgoing.in_flight:
        return outgoing
    old = _fees_of(outgoing)
    if not is_below(old, going):
        return outgoing
    age = (timezone.now() - _latest_signed_at(outgoing)).total_seconds()
    if age < settings.CHAIN_SENDER_REPLACE_AFTER_S:
        return outgoing
    account = (accounts if accounts is not None else _signing_accounts()).get(outgoing.sender)
    if account is None:
        logger.warning(
            "outbox: %s is stuck below the going fee, but no key of %s is configured to replace it",
            outgoing.tx_hash,
            outgoing.sender,
        )
        return outgoing
    fees = replacement_fees(old, going)
    # Built from the row's fields that never change: only the fees (and so the hash) do.
    signed = account.sign_transaction(
        _unsigned(
            chain_id=outgoing.chain_id, nonce=outgoing.nonce, to=outgoing.to,
            data=outgoing.data, value=outgoing.value, gas=outgoing.gas, fees=fees,
        )
    )  # fmt: skip
    replaced = outgoing.tx_hash
    version = {
        "tx_hash": Web3.to_hex(signed.hash),
        "raw_transaction": Web3.to_hex(signed.raw_transaction),
        "max_fee_per_gas": fees.max_fee_per_gas,
        "max_priority_fee_per_gas": fees.max_priority_fee_per_gas,
    }
    with transaction.atomic():
        # Only if unchanged: another process may have recorded a receipt or replaced it
        # meanwhile (one conditional UPDATE, so on every database); then it is left as is.
        if not OutgoingTransaction.objects.filter(
            pk=outgoing.pk, status__in=UNFINISHED, tx_hash=replaced
        ).update(**version):
            outgoing.refresh_from_db()
            return outgoing
        outgoing.refresh_from_db()
        _record_attempt(outgoing)
    logger.info(
        "outbox: %s (nonce %s of %s) replaced by %s at %s/%s wei",
        replaced,
        outgoing.nonce,
        outgoing.sender,
        outgoing.tx_hash,
        fees.max_fee_per_gas,
        fees.max_priority_fee_per_gas,
    )
    return outgoing


def resend_unfinished(
    *,
    chain_id: int | None = None,
    w3: Web3 | None = None,
    accounts: tuple[LocalAccount, ...] = (),
) -> int:
    """Bring every outbox transaction that is not mined yet forward: record a receipt that
    arrived meanwhile (of any of its versions), replace it when it is stuck below the going
    fee, and broadcast it (again). Safe to run at any time, from any number of processes.
    `accounts`: keys beyond the configured ones whose transactions may be replaced."""
    w3 = w3 or get_web3()
    chain_id = chain_id or settings.CHAIN_ID
    going: Fees | None = None
    signers: dict[str, LocalAccount] | None = None
    handled = 0
    for outgoing in OutgoingTransaction.objects.filter(chain_id=chain_id, status__in=UNFINISHED):
        receipt = find_receipt(w3, outgoing)
        try:
            if receipt is not None:
                record_receipt(outgoing, receipt, w3=w3)
            else:
                if going is None:
                    going = current_fees(w3)
                    signers = _signing_accounts(accounts)
                outgoing = replace_if_stuck(outgoing, going, accounts=signers)
                broadcast(outgoing, w3=w3)
        except BroadcastFailed as exc:
            logger.warning("outbox: %s", exc)
            continue
        handled += 1
    return handled


@dataclass(frozen=True)
class RecheckResult:
    final: int = 0  # rows that became final in this pass
    reorged: int = 0  # rows whose block a reorg dropped


def _still_in_its_block(w3: Web3, outgoing: OutgoingTransaction) -> bool:
    """Its block is still the canonical one at its height, and holds its receipt."""
    try:
        block = w3.eth.get_block(outgoing.block_number)
    except BlockNotFound:
        return False
    if Web3.to_hex(block["hash"]) != outgoing.block_hash:
        return False
    receipt = _receipt(w3, outgoing.tx_hash)
    return receipt is not None and Web3.to_hex(receipt["blockHash"]) == outgoing.block_hash


def recheck_mined(*, chain_id: int | None = None, w3: Web3 | None = None) -> RecheckResult:
    """Look again at every transaction in a block that is not final yet. One whose block a
    reorg dropped goes back to SENT: recorded again where the node now has it mined, and
    broadcast again otherwise (a reorg usually returns it to the pool, or drops it); one
    with CHAIN_SENDER_CONFIRMATIONS blocks on top of its block becomes final. Safe to run
    at any time, from any number of processes."""
    w3 = w3 or get_web3()
    chain_id = chain_id or settings.CHAIN_ID
    rows = list(
        OutgoingTransaction.objects.filter(
            chain_id=chain_id,
            status__in=IN_A_BLOCK,
            block_number__isnull=False,
            final_at__isnull=True,
        ).order_by("block_number", "pk")
    )
    if not rows:
        return RecheckResult()
    head = w3.eth.block_number
    final = reorged = 0
    for outgoing in rows:
        unchanged = OutgoingTransaction.objects.filter(
            pk=outgoing.pk,
            status=outgoing.status,
            block_hash=outgoing.block_hash,
            final_at__isnull=True,
        )
        if _still_in_its_block(w3, outgoing):
            if head - outgoing.block_number >= settings.CHAIN_SENDER_CONFIRMATIONS:
                final += unchanged.update(final_at=timezone.now())
            continue
        if not unchanged.update(
            status=OutgoingTransaction.Status.SENT,
            block_number=None,
            block_hash="",
            gas_used=None,
            effective_gas_price=None,
            contract_address="",
            revert_name="",
            mined_at=None,
            reorgs=F("reorgs") + 1,
            last_error=f"its block {outgoing.block_number} ({outgoing.block_hash}) was "
            "dropped by a reorg",
        ):
            continue  # another pass got there first
        reorged += 1
        logger.warning(
            "outbox: block %s of %s was dropped by a reorg; sending it again",
            outgoing.block_number,
            outgoing.tx_hash,
        )
        outgoing.refresh_from_db()
        receipt = find_receipt(w3, outgoing)
        try:
            if receipt is not None:
                record_receipt(outgoing, receipt, w3=w3)
            else:
                broadcast(outgoing, w3=w3)
        except BroadcastFailed as exc:
            logger.warning("outbox: %s", exc)  # still SENT: resend_unfinished tries again
    return RecheckResult(final=final, reorged=reorged)
