from django.contrib import admin

from synod.registry.models import (
    ApprovalRecord,
    Dataset,
    Evaluation,
    ModelVersion,
    UploadAttempt,
)

# Approval state comes from the chain (through the indexer): read-only here.
APPROVAL_FIELDS = ("approval_status", "approval_block_number", "approval_tx_hash")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "format", "row_count", "approval_status", "sha256", "created_at")
    list_filter = ("format", "approval_status")
    search_fields = ("name", "sha256")
    readonly_fields = ("sha256", "size_bytes", "storage_name", "column_types", *APPROVAL_FIELDS)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "task", "price_per_call", "approval_status", "sha256")
    list_filter = ("task", "approval_status")
    search_fields = ("name", "version", "sha256")
    readonly_fields = (
        "sha256",
        "size_bytes",
        "storage_name",
        "ir_version",
        "opset",
        "inputs",
        "outputs",
        "tokenizer_sha256",
        "tokenizer_size_bytes",
        *APPROVAL_FIELDS,
    )


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("id", "model_version", "dataset", "status", "rows_done", "rows_total")
    list_filter = ("status",)
    readonly_fields = ("metrics", "metrics_sha256", "timings", "report_sha256")


@admin.register(ApprovalRecord)
class ApprovalRecordAdmin(admin.ModelAdmin):
    list_display = ("kind", "sha256", "status", "block_number", "tx_hash", "updated_at")
    list_filter = ("kind", "status")

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UploadAttempt)
class UploadAttemptAdmin(admin.ModelAdmin):
    """What the hourly upload rate counts; deleting an account's rows lifts its limit now."""

    list_display = ("uploaded_by", "kind", "created_at")
    list_filter = ("kind",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
