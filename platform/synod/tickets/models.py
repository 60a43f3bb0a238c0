"""The ticket ledger: what each user may spend, every metered call, and settlement batches.

Two kinds of figures live on a TicketAccount, and only one writer each:
- the on-chain mirror (deposit, pending withdrawal, spending allowance), written only by the
  indexer's handlers for TicketEscrow events, so it is exactly what the chain says as of the
  last indexed block;
- the ledger's own (reserved, charged, settled), written only by the metering services
  under the account's row lock.

A call reserves its price before it is dispatched, is charged exactly once when the
provider's valid receipt comes back, or released when it fails. Charged calls are gathered
into a SettlementBatch and count as settled only when the indexer sees the batch's event.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class TicketAccount(models.Model):
    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)  # checksummed
    # Mirror of TicketEscrow, written by the indexer only.
    deposited = models.PositiveBigIntegerField(default=0)
    withdrawal_requested = models.PositiveBigIntegerField(default=0)
    withdrawal_available_at = models.DateTimeField(null=True, blank=True)
    allowance_remaining = models.PositiveBigIntegerField(default=0)
    allowance_valid_until = models.DateTimeField(null=True, blank=True)
    # The ledger, written by the metering services under this row's lock.
    reserved = models.PositiveBigIntegerField(default=0)  # calls in flight
    charged = models.PositiveBigIntegerField(default=0)  # charged, not yet settled on chain
    settled = models.PositiveBigIntegerField(default=0)  # settled on chain, all time
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "address"], name="tickets_account_once"),
        ]

    def __str__(self) -> str:
        return f"{self.address} on {self.chain_id}"


class AllowanceGrant(models.Model):
    """One SpendingAllowanceSet event: the newest grant is the allowance in force, and `used`
    counts what settled batches debited under it (the chain lowers its `remaining` the same
    way). Kept per event so that a reorg can undo one and fall back to the one before."""

    account = models.ForeignKey(TicketAccount, on_delete=models.CASCADE, related_name="grants")
    block_number = models.PositiveBigIntegerField()
    log_index = models.PositiveIntegerField()
    tx_hash = models.CharField(max_length=66)
    max_tickets = models.PositiveBigIntegerField()
    valid_until = models.DateTimeField()
    used = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tx_hash", "log_index"], name="tickets_grant_once"),
        ]
        ordering = ["-block_number", "-log_index"]

    def __str__(self) -> str:
        return f"{self.max_tickets} tickets until {self.valid_until:%Y-%m-%d} ({self.used} used)"


class WithdrawalRequest(models.Model):
    """One WithdrawalRequested event (a newer request replaces an older one on chain)."""

    account = models.ForeignKey(
        TicketAccount, on_delete=models.CASCADE, related_name="withdrawal_requests"
    )
    block_number = models.PositiveBigIntegerField()
    log_index = models.PositiveIntegerField()
    tx_hash = models.CharField(max_length=66)
    amount = models.PositiveBigIntegerField()
    available_at = models.DateTimeField()
    # The WithdrawalCompleted event that ended it (tx hash:log index), and what it paid.
    completed_by = models.CharField(max_length=80, blank=True)
    paid = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tx_hash", "log_index"], name="tickets_withdrawal_once"
            ),
        ]
        ordering = ["-block_number", "-log_index"]

    def __str__(self) -> str:
        return f"withdraw {self.amount} from {self.available_at:%Y-%m-%d %H:%M}"


class SettlementBatch(models.Model):
    """Charged calls gathered into one `TicketEscrow.settle` transaction.

    SEALED: built and saved, not yet handed to the sender. SENT: its transaction is in the
    sender's outbox (it may land whatever happens next). SETTLED: the indexer saw its
    BatchSettled event with this number and root. FAILED: refused or reverted; its calls
    went back to the pool and the number is free again (the chain's counter did not move).
    """

    class Status(models.TextChoices):
        SEALED = "sealed", "sealed, not yet sent"
        SENT = "sent", "sent, waiting for the event"
        SETTLED = "settled", "settled on chain"
        FAILED = "failed", "failed; calls returned to the pool"

    OPEN = (Status.SEALED, Status.SENT)

    chain_id = models.PositiveBigIntegerField()
    number = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SEALED)
    receipts_root = models.CharField(max_length=66)
    # [[address, tickets], ...], sorted by address: exactly the settle call's arguments.
    debits = models.JSONField(default=list)
    credits = models.JSONField(default=list)
    fee = models.PositiveBigIntegerField(default=0)
    treasury = models.CharField(max_length=42, blank=True)  # where the fee is credited
    total_debited = models.PositiveBigIntegerField(default=0)
    call_count = models.PositiveIntegerField(default=0)
    outgoing_key = models.CharField(max_length=200, blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    settled_block = models.PositiveBigIntegerField(null=True, blank=True)
    settled_log_index = models.PositiveIntegerField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "number"],
                condition=~Q(status="failed"),
                name="tickets_batch_number_once",
            ),
            # One batch in flight at a time: batch numbers are consecutive on chain.
            models.UniqueConstraint(
                fields=["chain_id"],
                condition=Q(status__in=["sealed", "sent"]),
                name="tickets_one_open_batch",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch {self.number} ({self.status})"


class MeteredCall(models.Model):
    class Status(models.TextChoices):
        RESERVED = "reserved", "reserved, in flight"
        CHARGED = "charged", "charged"
        RELEASED = "released", "released, not charged"

    call_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(TicketAccount, on_delete=models.PROTECT, related_name="calls")
    # accounts.ApiKey's primary key, when a key made the call: its own cap is enforced here.
    api_key_id = models.PositiveBigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_digest = models.CharField(max_length=64, blank=True)  # sha256 hex of the request
    model_hash = models.CharField(max_length=66)
    price = models.PositiveBigIntegerField()
    provider = models.CharField(max_length=42, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    receipt = models.JSONField(null=True, blank=True)  # SignedReceipt.as_json()
    receipt_digest = models.CharField(max_length=66, blank=True)
    receipt_leaf = models.CharField(max_length=66, blank=True)
    # What the API answered, replayed for a repeated Idempotency-Key instead of charging again.
    outcome = models.JSONField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    release_reason = models.CharField(max_length=300, blank=True)
    batch = models.ForeignKey(
        SettlementBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="calls"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="tickets_idempotency_key_once",
            ),
            # A receipt pays for one call only.
            models.UniqueConstraint(
                fields=["receipt_digest"],
                condition=~Q(receipt_digest=""),
                name="tickets_receipt_once",
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="tickets_call_price_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "batch"]),
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["api_key_id", "status"]),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"call {self.call_id} ({self.status}, {self.price} tickets)"


class EscrowCredit(models.Model):
    """Tickets TicketEscrow credited to one address (a provider, or the treasury's fee) and
    what it claimed: the mirror behind a provider's earnings."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    credited = models.PositiveBigIntegerField(default=0)
    claimed = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "address"], name="tickets_credit_once"),
        ]

    def __str__(self) -> str:
        return f"{self.address}: {self.credited} credited, {self.claimed} claimed"
