"""What the platform knows about the chain: its own outgoing transactions, and the mirror of
contract events built by the indexer."""

from __future__ import annotations

from django.db import models


class NonceSequence(models.Model):
    """The next nonce the platform will use for one of its keys on one chain.

    Senders lock this row while they sign, so every process draws from one sequence.
    """

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    next_nonce = models.PositiveBigIntegerField(default=0)
    # Counts every nonce drawn. A sender reads it before asking the node for its pending
    # nonce (outside the lock) and again under the lock: unchanged, and nothing in flight,
    # means the node's answer was not overtaken by a send of ours meanwhile.
    reservations = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "address"], name="chain_nonce_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.address} on {self.chain_id}: next {self.next_nonce}"


class OutgoingTransaction(models.Model):
    """The outbox: a transaction signed by one of the platform's keys, saved before broadcast
    so that a retry sends exactly the same bytes.

    A row exists only for a transaction that is in flight or done: one that was never sent
    (its estimate reverted, it could not be signed) leaves no row. PENDING and SENT may
    still land on chain, whatever the sender's caller was told.

    A row stuck below the going fee is replaced: re-signed with the same nonce, recipient,
    data, value and gas at higher fees. Every signed version is kept (OutgoingAttempt), as
    any of them may be mined; `raw_transaction`, `tx_hash` and the fees are those of the
    latest version while in flight, and of the version that was mined once mined.

    What is final: FAILED without a block (its nonce went to another transaction) at once;
    MINED, and FAILED with a block (mined and reverted), only once `final_at` is set, when
    settings.CHAIN_SENDER_CONFIRMATIONS blocks are on top of its block. Until then a reorg
    that drops its block sends it back to SENT (`reorgs` counts how often) and the sender
    broadcasts it again. `final` says which."""

    class Status(models.TextChoices):
        PENDING = "pending", "signed, not yet accepted by a node"
        SENT = "sent", "accepted by a node, not yet mined"
        MINED = "mined", "mined and succeeded"
        FAILED = "failed", "mined and reverted, or its nonce went to another transaction"

    chain_id = models.PositiveBigIntegerField()
    idempotency_key = models.CharField(max_length=200)
    purpose = models.CharField(max_length=200, blank=True)
    sender = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    to = models.CharField(max_length=42, blank=True)  # empty for a contract creation
    data = models.TextField(blank=True)  # 0x-prefixed calldata
    # uint256 amounts are decimal strings: SQLite would round large numbers to floats.
    value_wei = models.CharField(max_length=78, default="0")
    gas = models.PositiveBigIntegerField()
    max_fee_per_gas = models.PositiveBigIntegerField()
    max_priority_fee_per_gas = models.PositiveBigIntegerField()
    raw_transaction = models.TextField()
    tx_hash = models.CharField(max_length=66)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    broadcast_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    effective_gas_price = models.PositiveBigIntegerField(null=True, blank=True)
    contract_address = models.CharField(max_length=42, blank=True)
    revert_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    mined_at = models.DateTimeField(null=True, blank=True)
    # Set once the outcome can no longer change (see the class docstring).
    final_at = models.DateTimeField(null=True, blank=True)
    # How many times a reorg dropped the block it was mined in.
    reorgs = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "idempotency_key"], name="chain_outbox_idempotency_key"
            ),
            models.UniqueConstraint(
                fields=["chain_id", "sender", "nonce"], name="chain_outbox_one_tx_per_nonce"
            ),
            models.UniqueConstraint(fields=["chain_id", "tx_hash"], name="chain_outbox_tx_hash"),
        ]
        indexes = [models.Index(fields=["chain_id", "sender", "status"])]
        ordering = ["chain_id", "sender", "nonce"]

    def __str__(self) -> str:
        return f"{self.idempotency_key} (nonce {self.nonce}, {self.status})"

    @property
    def value(self) -> int:
        return int(self.value_wei)

    @property
    def in_flight(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.SENT)

    @property
    def final(self) -> bool:
        return self.final_at is not None


class OutgoingAttempt(models.Model):
    """One signed version of an outbox transaction: the first, and each fee replacement.

    All of them share the transaction's nonce, recipient, data, value and gas; only the fees
    (and so the hash) differ. Whichever is mined, the others can no longer be."""

    outgoing = models.ForeignKey(
        OutgoingTransaction, on_delete=models.CASCADE, related_name="attempts"
    )
    chain_id = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66)
    raw_transaction = models.TextField()
    # The gas price for a chain without EIP-1559, in both fields.
    max_fee_per_gas = models.PositiveBigIntegerField()
    max_priority_fee_per_gas = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "tx_hash"], name="chain_attempt_tx_hash"),
        ]
        ordering = ["outgoing", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.tx_hash} ({self.max_fee_per_gas}/{self.max_priority_fee_per_gas} wei)"


class IndexerCursor(models.Model):
    """How far the event indexer got on one chain, and who is indexing it right now."""

    chain_id = models.PositiveBigIntegerField(unique=True)
    # The last block whose events are all in ChainEvent; -1 before the first pass.
    last_block = models.BigIntegerField(default=-1)
    # address -> contract name of every contract indexed so far; a contract that appears
    # in the deployment later is backfilled from its deployment block.
    contracts = models.JSONField(default=dict, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chain {self.chain_id} indexed to block {self.last_block}"


class IndexedBlock(models.Model):
    """Hash of a block the indexer read, kept for the most recent blocks to detect reorgs."""

    chain_id = models.PositiveBigIntegerField()
    number = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=66)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "number"], name="chain_block_per_height"),
        ]
        ordering = ["chain_id", "-number"]

    def __str__(self) -> str:
        return f"{self.chain_id}#{self.number} {self.hash[:10]}"


class ChainEvent(models.Model):
    """One decoded log of a deployed contract, exactly once per (chain, tx, log index)."""

    chain_id = models.PositiveBigIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    # Unix seconds, read with the logs so that handlers never ask the node (they run
    # inside the indexer's transaction); null for events indexed before it was kept.
    block_timestamp = models.PositiveBigIntegerField(null=True, blank=True)
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    contract_name = models.CharField(max_length=100)
    contract_address = models.CharField(max_length=42)
    event_name = models.CharField(max_length=100)
    # JSON-safe arguments: addresses checksummed, bytes as 0x hex, ints beyond 2**53 as strings.
    args = models.JSONField(default=dict)
    indexed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "tx_hash", "log_index"], name="chain_event_once"
            ),
        ]
        indexes = [
            models.Index(fields=["chain_id", "contract_name", "event_name"]),
            models.Index(fields=["chain_id", "block_number", "log_index"]),
        ]
        ordering = ["chain_id", "block_number", "log_index"]

    def __str__(self) -> str:
        return f"{self.contract_name}.{self.event_name} @{self.block_number}:{self.log_index}"
