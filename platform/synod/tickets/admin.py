"""Read-only views of the ledger for operators: the figures move only through the services
and the indexer, never by hand."""

from django.contrib import admin

from synod.tickets.models import EscrowCredit, MeteredCall, SettlementBatch, TicketAccount


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TicketAccount)
class TicketAccountAdmin(ReadOnlyAdmin):
    list_display = ["address", "deposited", "reserved", "charged", "settled", "allowance_remaining"]
    search_fields = ["address"]


@admin.register(MeteredCall)
class MeteredCallAdmin(ReadOnlyAdmin):
    list_display = ["call_id", "account", "model_hash", "price", "status", "provider", "batch"]
    list_filter = ["status"]
    search_fields = ["call_id", "account__address", "provider"]
    list_select_related = ["account", "batch"]


@admin.register(SettlementBatch)
class SettlementBatchAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "call_count", "total_debited", "fee", "tx_hash"]
    list_filter = ["status"]


@admin.register(EscrowCredit)
class EscrowCreditAdmin(ReadOnlyAdmin):
    list_display = ["address", "credited", "claimed"]
