"""The ledger's mirror of TicketEscrow, moved only by indexed events (handlers.py).

The indexer calls each function exactly once per event, inside the transaction that stores
the event, and its `undo_*` twin when a reorg removes that event (newest first). So every
function here is a pure database change that its twin reverses exactly; none reads the
chain node. Events that replace a value on chain (a new allowance, a new withdrawal
request) are kept one row each, so undoing the newest falls back to the one before.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db.models import F
from django.utils import timezone
from eth_utils import to_checksum_address

from synod.chain.selectors import DecodedEvent
from synod.tickets.models import (
    AllowanceGrant,
    EscrowCredit,
    SettlementBatch,
    TicketAccount,
    WithdrawalRequest,
)

logger = logging.getLogger(__name__)


def _account(chain_id: int, address: str) -> TicketAccount:
    account, _ = TicketAccount.objects.select_for_update().get_or_create(
        chain_id=chain_id, address=to_checksum_address(address)
    )
    return account


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(min(int(seconds), 253402300799), tz=UTC)


def _event_key(event: DecodedEvent) -> str:
    return f"{event.tx_hash}:{event.log_index}"


def _position(event: DecodedEvent) -> tuple[int, int]:
    return (event.block_number, event.log_index)


# --- deposits ----------------------------------------------------------------------------


def record_deposit(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    account.deposited += int(event.args["amount"])
    account.save(update_fields=["deposited", "updated_at"])


def undo_deposit(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    account.deposited -= int(event.args["amount"])
    account.save(update_fields=["deposited", "updated_at"])


# --- withdrawals ---------------------------------------------------------------------------


def _refresh_withdrawal(account: TicketAccount) -> None:
    latest = account.withdrawal_requests.order_by("-block_number", "-log_index").first()
    if latest is None or latest.completed_by:
        account.withdrawal_requested, account.withdrawal_available_at = 0, None
    else:
        account.withdrawal_requested = latest.amount
        account.withdrawal_available_at = latest.available_at
    account.save(update_fields=["withdrawal_requested", "withdrawal_available_at", "updated_at"])


def record_withdrawal_requested(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    WithdrawalRequest.objects.create(
        account=account,
        block_number=event.block_number,
        log_index=event.log_index,
        tx_hash=event.tx_hash,
        amount=int(event.args["amount"]),
        available_at=_time(event.args["availableAt"]),
    )
    _refresh_withdrawal(account)


def undo_withdrawal_requested(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    WithdrawalRequest.objects.filter(tx_hash=event.tx_hash, log_index=event.log_index).delete()
    _refresh_withdrawal(account)


def record_withdrawal_completed(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    paid = int(event.args["amount"])
    pending = account.withdrawal_requests.filter(completed_by="").order_by(
        "-block_number", "-log_index"
    )
    request = pending.first()
    if request is not None:
        request.completed_by, request.paid = _event_key(event), paid
        request.save(update_fields=["completed_by", "paid"])
    account.deposited -= paid
    account.save(update_fields=["deposited", "updated_at"])
    _refresh_withdrawal(account)


def undo_withdrawal_completed(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    account.withdrawal_requests.filter(completed_by=_event_key(event)).update(
        completed_by="", paid=0
    )
    account.deposited += int(event.args["amount"])
    account.save(update_fields=["deposited", "updated_at"])
    _refresh_withdrawal(account)


# --- spending allowances -------------------------------------------------------------------


def _refresh_allowance(account: TicketAccount) -> None:
    latest = account.grants.order_by("-block_number", "-log_index").first()
    if latest is None:
        account.allowance_remaining, account.allowance_valid_until = 0, None
    else:
        account.allowance_remaining = max(0, latest.max_tickets - latest.used)
        account.allowance_valid_until = latest.valid_until
    account.save(update_fields=["allowance_remaining", "allowance_valid_until", "updated_at"])


def record_allowance_set(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    AllowanceGrant.objects.create(
        account=account,
        block_number=event.block_number,
        log_index=event.log_index,
        tx_hash=event.tx_hash,
        max_tickets=int(event.args["maxTickets"]),
        valid_until=_time(event.args["validUntil"]),
    )
    _refresh_allowance(account)


def undo_allowance_set(event: DecodedEvent) -> None:
    account = _account(event.chain_id, event.args["user"])
    AllowanceGrant.objects.filter(tx_hash=event.tx_hash, log_index=event.log_index).delete()
    _refresh_allowance(account)


def _grant_in_force(account: TicketAccount, position: tuple[int, int]) -> AllowanceGrant | None:
    block, log_index = position
    earlier = account.grants.filter(block_number__lt=block) | account.grants.filter(
        block_number=block, log_index__lt=log_index
    )
    return earlier.order_by("-block_number", "-log_index").first()


# --- settlements and claims ----------------------------------------------------------------


def _our_batch(event: DecodedEvent, *statuses: str) -> SettlementBatch | None:
    root = "0x" + bytes(event.args["receiptsRoot"]).hex()
    batch = SettlementBatch.objects.filter(
        chain_id=event.chain_id, number=int(event.args["batch"]), receipts_root=root
    ).exclude(status=SettlementBatch.Status.FAILED)
    found = batch.filter(status__in=statuses).select_for_update().first()
    if found is None:
        logger.warning(
            "BatchSettled %s with root %s is not a batch this platform has open; ignored",
            event.args["batch"],
            root,
        )
    return found


def record_batch_settled(event: DecodedEvent) -> None:
    """The batch's calls count as settled from now: debit each user's mirror and ledger,
    credit each provider (and the treasury's fee)."""
    batch = _our_batch(event, SettlementBatch.Status.SEALED, SettlementBatch.Status.SENT)
    if batch is None:
        return
    _apply_batch(batch, event, sign=+1)
    batch.status = SettlementBatch.Status.SETTLED
    batch.settled_block, batch.settled_log_index = event.block_number, event.log_index
    batch.settled_at = event.block_time or timezone.now()
    batch.tx_hash = event.tx_hash
    batch.save(
        update_fields=["status", "settled_block", "settled_log_index", "settled_at", "tx_hash"]
    )


def undo_batch_settled(event: DecodedEvent) -> None:
    """A reorg removed the settlement: its calls are unsettled again and the batch waits
    for its transaction (which the sender re-broadcasts) to be mined and indexed anew."""
    batch = _our_batch(event, SettlementBatch.Status.SETTLED)
    if batch is None:
        return
    _apply_batch(batch, event, sign=-1)
    batch.status = SettlementBatch.Status.SENT
    batch.settled_block = batch.settled_log_index = batch.settled_at = None
    batch.save(update_fields=["status", "settled_block", "settled_log_index", "settled_at"])


def _apply_batch(batch: SettlementBatch, event: DecodedEvent, *, sign: int) -> None:
    for address, amount in batch.debits:
        account = _account(event.chain_id, address)
        amount = int(amount) * sign
        account.deposited -= amount
        account.charged -= amount
        account.settled += amount
        account.save(update_fields=["deposited", "charged", "settled", "updated_at"])
        grant = _grant_in_force(account, (event.block_number, event.log_index))
        if grant is not None:
            AllowanceGrant.objects.filter(pk=grant.pk).update(used=F("used") + amount)
        _refresh_allowance(account)
    credits = [(address, int(amount)) for address, amount in batch.credits]
    if batch.fee and batch.treasury:
        credits.append((batch.treasury, batch.fee))
    for address, amount in credits:
        credit, _ = EscrowCredit.objects.get_or_create(
            chain_id=event.chain_id, address=to_checksum_address(address)
        )
        EscrowCredit.objects.filter(pk=credit.pk).update(credited=F("credited") + amount * sign)


def record_claim(event: DecodedEvent) -> None:
    credit, _ = EscrowCredit.objects.get_or_create(
        chain_id=event.chain_id, address=to_checksum_address(event.args["provider"])
    )
    EscrowCredit.objects.filter(pk=credit.pk).update(claimed=F("claimed") + event.args["amount"])


def undo_claim(event: DecodedEvent) -> None:
    EscrowCredit.objects.filter(
        chain_id=event.chain_id, address=to_checksum_address(event.args["provider"])
    ).update(claimed=F("claimed") - event.args["amount"])
