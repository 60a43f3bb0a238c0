"""Settlement: charged, unsettled calls -> one `TicketEscrow.settle` transaction carrying the
Merkle root of the batch's call receipts -> settled when the indexer sees its event.

Each step leaves a record the next run picks up, so a crash or a failed transaction at any
point neither loses nor double-settles a call (docs/settlement.md):

1. seal: the chain is read first (next batch number, fee, treasury, which providers are
   active), then ONE database transaction creates the batch and claims its calls
   (`batch = NULL -> batch`, checked row for row). At most one batch is open at a time (a
   unique constraint), because batch numbers are consecutive on chain.
2. send: the settle call goes through the chain sender under the idempotency key saved on
   the batch, from the settlement lane's key. A run that crashed after the sender saved its
   outbox row finds that row again; one that crashed before sends it now.
3. follow: a transaction that failed (reverted, or its estimate did) fails the batch, and
   its calls go back to the pool; the chain's counter did not move, so the next batch takes
   the same number. A mined one waits for the indexer: only the BatchSettled event with
   this number and root settles the batch and its calls (services/mirror.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.chain.errors import ChainError, ContractRevert, NotSent, TransactionError
from synod.tickets.models import MeteredCall, SettlementBatch, TicketAccount
from synod.tickets.services.ledger import usable_allowance
from synod_core.merkle import MerkleTree

logger = logging.getLogger(__name__)

# Room left between an allowance's expiry and now for the settle transaction to be mined.
ALLOWANCE_EXPIRY_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class SettlementRun:
    """What one run did: the batch it worked on (None when there was nothing to settle)."""

    batch: SettlementBatch | None
    action: str  # "idle", "sealed and sent", "sent", "waiting", "failed", ...
    waived: int = 0


def open_batch(chain_id: int | None = None) -> SettlementBatch | None:
    return SettlementBatch.objects.filter(
        chain_id=settings.CHAIN_ID if chain_id is None else chain_id,
        status__in=SettlementBatch.OPEN,
    ).first()


def run_settlement() -> SettlementRun:
    """One pass of the scheduled job: move the open batch on, or seal and send a new one."""
    batch = open_batch()
    if batch is not None:
        return advance_batch(batch)
    waived = waive_unbillable()
    batch = seal_batch()
    if batch is None:
        return SettlementRun(None, "idle", waived)
    run = advance_batch(batch)
    return SettlementRun(run.batch, f"sealed; {run.action}", waived)


def advance_batch(batch: SettlementBatch) -> SettlementRun:
    if batch.status == SettlementBatch.Status.SEALED:
        return send_batch(batch)
    if batch.status == SettlementBatch.Status.SENT:
        return follow_batch(batch)
    return SettlementRun(batch, "done")


# --- seal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChainTerms:
    next_batch: int
    fee_bps: int
    treasury: str
    active: dict[str, bool]


def _chain_terms(providers: set[str]) -> _ChainTerms:
    """Everything sealing needs from the node, read before any database lock."""
    escrow = chain_selectors.contract("TicketEscrow")
    registry = chain_selectors.contract("ProviderRegistry")
    return _ChainTerms(
        next_batch=escrow.functions.nextBatch().call(),
        fee_bps=escrow.functions.feeBps().call(),
        treasury=escrow.functions.treasury().call(),
        active={p: bool(registry.functions.isActive(p).call()) for p in sorted(providers)},
    )


def _candidates() -> list[MeteredCall]:
    return list(
        MeteredCall.objects.filter(
            account__chain_id=settings.CHAIN_ID,
            status=MeteredCall.Status.CHARGED,
            batch__isnull=True,
        )
        .select_related("account")
        .order_by("finished_at", "pk")[: settings.TICKETS_SETTLEMENT_MAX_CALLS]
    )


def _billable(calls: list[MeteredCall], active: dict[str, bool]) -> list[MeteredCall]:
    """The calls one settlement can carry: from active providers, and per user no more than
    the deposit and the spending allowance on chain (as last indexed) cover, oldest first."""
    now = timezone.now()
    room: dict[int, int] = {}
    chosen = []
    for call in calls:
        if not active.get(call.provider, False):
            continue
        account = call.account
        if account.pk not in room:
            allowance = usable_allowance(account, now=now, margin=ALLOWANCE_EXPIRY_SLACK)
            room[account.pk] = min(account.deposited, allowance)
        if call.price <= room[account.pk]:
            room[account.pk] -= call.price
            chosen.append(call)
    return chosen


def split_batch(calls: list[MeteredCall], fee_bps: int) -> tuple[list[list], list[list], int]:
    """Debits per user and credits per provider, sorted by address, and the fee.

    The fee is the contract's: total debits x fee_bps / 10,000, rounded down. Each provider
    is credited what its calls cost less its share of the fee, rounded down; the few tickets
    of rounding left over come off the largest credit, so debits = credits + fee exactly."""
    debits: dict[str, int] = defaultdict(int)
    earned: dict[str, int] = defaultdict(int)
    for call in calls:
        debits[call.account.address] += call.price
        earned[call.provider] += call.price
    total = sum(debits.values())
    fee = total * fee_bps // 10_000
    credits = {p: amount - amount * fee_bps // 10_000 for p, amount in earned.items()}
    leftover = sum(credits.values()) - (total - fee)
    if leftover:
        largest = max(credits, key=lambda p: (credits[p], p))
        credits[largest] -= leftover
    return (
        [[a, debits[a]] for a in sorted(debits)],
        [[p, credits[p]] for p in sorted(credits) if credits[p] > 0],
        fee,
    )


def seal_batch() -> SettlementBatch | None:
    """Gather charged, unsettled calls into a new batch; None when none can be settled now."""
    calls = _candidates()
    if not calls:
        return None
    terms = _chain_terms({call.provider for call in calls})
    calls = _billable(calls, terms.active)
    if not calls:
        return None
    debits, credits, fee = split_batch(calls, terms.fee_bps)
    root = MerkleTree([bytes.fromhex(c.receipt_leaf[2:]) for c in calls]).root
    try:
        with transaction.atomic():
            batch = SettlementBatch.objects.create(
                chain_id=settings.CHAIN_ID,
                number=terms.next_batch,
                receipts_root="0x" + root.hex(),
                debits=debits,
                credits=credits,
                fee=fee,
                treasury=terms.treasury,
                total_debited=sum(amount for _, amount in debits),
                call_count=len(calls),
            )
            batch.outgoing_key = f"tickets-settle:{batch.chain_id}:{batch.pk}"
            batch.save(update_fields=["outgoing_key"])
            claimed = MeteredCall.objects.filter(
                pk__in=[c.pk for c in calls], status=MeteredCall.Status.CHARGED, batch__isnull=True
            ).update(batch=batch)
            if claimed != len(calls):
                # Another settler took some of these calls meanwhile: roll back, retry later.
                raise IntegrityError("calls were claimed by another batch")
    except IntegrityError as exc:
        logger.info("settlement: not sealing now (%s)", exc)
        return None
    logger.info("settlement: sealed batch %s with %s calls", batch.number, batch.call_count)
    return batch


# --- send and follow -----------------------------------------------------------------------


def send_batch(batch: SettlementBatch) -> SettlementRun:
    try:
        outgoing = chain_services.send_contract_call(
            contract="TicketEscrow",
            function="settle",
            args=[
                batch.number,
                bytes.fromhex(batch.receipts_root[2:]),
                [tuple(line) for line in batch.debits],
                [tuple(line) for line in batch.credits],
                batch.fee,
            ],
            idempotency_key=batch.outgoing_key,
            account=chain_services.settlement_account(),
            purpose=f"settle batch {batch.number}",
            wait=False,
        )
    except ContractRevert as exc:
        # Never sent: the chain refuses this batch as it stands (a deposit or allowance the
        # mirror had not caught up with). Its calls go back; the next run re-forms a batch.
        fail_batch(batch, f"refused before sending: {exc}")
        return SettlementRun(batch, "failed")
    except NotSent as exc:
        logger.warning("settlement: batch %s not sent now: %s", batch.number, exc)
        return SettlementRun(batch, "not sent")
    except TransactionError as exc:
        # Saved in the outbox but not broadcast yet: the sender's beat broadcasts it.
        logger.warning("settlement: batch %s in flight, not broadcast yet: %s", batch.number, exc)
        outgoing = chain_selectors.outgoing_transaction(batch.outgoing_key)
    except ChainError as exc:
        logger.warning("settlement: batch %s not sent now: %s", batch.number, exc)
        return SettlementRun(batch, "not sent")
    SettlementBatch.objects.filter(pk=batch.pk, status=SettlementBatch.Status.SEALED).update(
        status=SettlementBatch.Status.SENT, tx_hash=outgoing.tx_hash if outgoing else ""
    )
    batch.refresh_from_db()
    return SettlementRun(batch, "sent")


def follow_batch(batch: SettlementBatch) -> SettlementRun:
    outgoing = chain_selectors.outgoing_transaction(batch.outgoing_key)
    if outgoing is None:  # the send never got as far as the outbox: send it again
        SettlementBatch.objects.filter(pk=batch.pk).update(status=SettlementBatch.Status.SEALED)
        batch.refresh_from_db()
        return send_batch(batch)
    status = chain_selectors.OutgoingStatus
    if outgoing.status == status.FAILED:
        fail_batch(batch, outgoing.revert_name or outgoing.last_error or "transaction failed")
        return SettlementRun(batch, "failed")
    if outgoing.tx_hash and outgoing.tx_hash != batch.tx_hash:
        SettlementBatch.objects.filter(pk=batch.pk).update(tx_hash=outgoing.tx_hash)
    if outgoing.status == status.MINED:
        chain_services.request_indexing()
    return SettlementRun(batch, "waiting")


def fail_batch(batch: SettlementBatch, reason: str) -> None:
    """The batch will not settle: its calls return to the pool, its number is free again."""
    with transaction.atomic():
        updated = SettlementBatch.objects.filter(
            pk=batch.pk, status__in=SettlementBatch.OPEN
        ).update(status=SettlementBatch.Status.FAILED, error=reason[:2000])
        if updated:
            MeteredCall.objects.filter(batch=batch).update(batch=None)
    logger.warning("settlement: batch %s failed: %s", batch.number, reason)


# --- waiving -------------------------------------------------------------------------------


def waive_unbillable() -> int:
    """Release, unbilled, charged calls that stayed unsettled past TICKETS_UNBILLABLE_AFTER_S
    (their provider left, or the user's allowance no longer covers them): the user's
    available tickets must not stay held by usage the escrow can never debit."""
    cutoff = timezone.now() - timedelta(seconds=settings.TICKETS_UNBILLABLE_AFTER_S)
    stale = MeteredCall.objects.filter(
        account__chain_id=settings.CHAIN_ID,
        status=MeteredCall.Status.CHARGED,
        batch__isnull=True,
        finished_at__lt=cutoff,
    ).values_list("pk", "account_id", "price")
    waived = 0
    for pk, account_id, price in stale:
        with transaction.atomic():
            TicketAccount.objects.select_for_update().get(pk=account_id)
            updated = MeteredCall.objects.filter(
                pk=pk, status=MeteredCall.Status.CHARGED, batch__isnull=True
            ).update(
                status=MeteredCall.Status.RELEASED,
                release_reason="waived: could not be settled in time",
            )
            if updated:
                TicketAccount.objects.filter(pk=account_id).update(charged=F("charged") - price)
                waived += 1
    return waived
