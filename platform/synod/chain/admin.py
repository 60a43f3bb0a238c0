from django.contrib import admin

from synod.chain.models import (
    ChainEvent,
    IndexedBlock,
    IndexerCursor,
    NonceSequence,
    OutgoingAttempt,
    OutgoingTransaction,
)


class OutgoingAttemptInline(admin.TabularInline):
    """Every signed version of the transaction (the first, and each fee replacement)."""

    model = OutgoingAttempt
    extra = 0
    can_delete = False
    fields = ["tx_hash", "max_fee_per_gas", "max_priority_fee_per_gas", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutgoingTransaction)
class OutgoingTransactionAdmin(admin.ModelAdmin):
    list_display = [
        "idempotency_key",
        "purpose",
        "sender",
        "nonce",
        "status",
        "final_at",
        "tx_hash",
        "block_number",
        "created_at",
    ]
    list_filter = ["chain_id", "status", "sender", ("final_at", admin.EmptyFieldListFilter)]
    search_fields = ["idempotency_key", "purpose", "tx_hash", "to", "attempts__tx_hash"]
    # The outbox is the record of what was signed: editing it would break retries.
    readonly_fields = [f.name for f in OutgoingTransaction._meta.fields]
    inlines = [OutgoingAttemptInline]


@admin.register(NonceSequence)
class NonceSequenceAdmin(admin.ModelAdmin):
    list_display = ["chain_id", "address", "next_nonce", "updated_at"]
    readonly_fields = ["chain_id", "address", "next_nonce", "updated_at"]


@admin.register(ChainEvent)
class ChainEventAdmin(admin.ModelAdmin):
    list_display = [
        "contract_name",
        "event_name",
        "block_number",
        "log_index",
        "tx_hash",
        "indexed_at",
    ]
    list_filter = ["chain_id", "contract_name", "event_name"]
    search_fields = ["tx_hash", "contract_address"]
    readonly_fields = [f.name for f in ChainEvent._meta.fields]


@admin.register(IndexerCursor)
class IndexerCursorAdmin(admin.ModelAdmin):
    list_display = ["chain_id", "last_block", "lease_owner", "lease_expires_at", "updated_at"]
    readonly_fields = ["chain_id", "contracts", "lease_owner", "lease_expires_at", "updated_at"]


@admin.register(IndexedBlock)
class IndexedBlockAdmin(admin.ModelAdmin):
    list_display = ["chain_id", "number", "hash"]
    list_filter = ["chain_id"]
    readonly_fields = ["chain_id", "number", "hash"]
