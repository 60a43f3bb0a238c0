"""Datasets, model versions and their evaluations. Every file is a content-addressed blob:
the sha256 of its bytes is its identity here and on-chain (ModelRegistry)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

sha256_validator = RegexValidator(r"^[0-9a-f]{64}$", "A sha256 is 64 lowercase hex digits.")


class ApprovalStatus(models.TextChoices):
    """What the ModelRegistry contract records for a hash: the only states the mirror
    stores."""

    NOT_PROPOSED = "not_proposed", "Not proposed"
    APPROVED = "approved", "Approved"
    REVOKED = "revoked", "Revoked"


class ShownApproval(models.TextChoices):
    """What pages show: the chain's status, or "pending vote" while an open proposal is
    about a hash the chain has not approved. Never stored: `selectors.with_shown_approval`
    derives it from the mirror and governance's open proposals."""

    NOT_PROPOSED = ApprovalStatus.NOT_PROPOSED.value, ApprovalStatus.NOT_PROPOSED.label
    PENDING_VOTE = "pending_vote", "Pending vote"
    APPROVED = ApprovalStatus.APPROVED.value, ApprovalStatus.APPROVED.label
    REVOKED = ApprovalStatus.REVOKED.value, ApprovalStatus.REVOKED.label


class ApprovalKind(models.TextChoices):
    DATASET = "dataset", "Dataset"
    MODEL = "model", "Model version"


class ModelTask(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"
    EMBEDDING = "embedding", "Text embedding"


class DatasetFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"
    PARQUET = "parquet", "Parquet"


class Approvable(models.Model):
    """The approval state mirrored from the chain. Written only by the approval services
    (`record_approval_change`, which the chain indexer's handlers call, and
    `reconcile_approval_with_chain`)."""

    approval_status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.NOT_PROPOSED
    )
    approval_block_number = models.PositiveBigIntegerField(null=True, blank=True)
    approval_tx_hash = models.CharField(max_length=66, blank=True)

    class Meta:
        abstract = True

    @property
    def is_live(self) -> bool:
        return self.approval_status == ApprovalStatus.APPROVED

    @property
    def shown_approval_label(self) -> str:
        """The label of `shown_approval`, which `selectors.with_shown_approval` annotates:
        without it this fails rather than show the mirror's status in its place."""
        return ShownApproval(self.shown_approval).label


class Dataset(Approvable):
    sha256 = models.CharField(max_length=64, unique=True, validators=[sha256_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    format = models.CharField(max_length=10, choices=DatasetFormat.choices)
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField()
    storage_name = models.CharField(max_length=300)
    input_columns = models.JSONField()
    label_column = models.CharField(max_length=200, blank=True)
    # {column: arrow type name} for every column in the file, not only the declared ones.
    column_types = models.JSONField()
    row_count = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=DatasetFormat.values), name="dataset_format_known"
            ),
            models.CheckConstraint(
                condition=Q(approval_status__in=ApprovalStatus.values),
                name="dataset_approval_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class ModelVersion(Approvable):
    sha256 = models.CharField(max_length=64, unique=True, validators=[sha256_validator])
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=50)
    task = models.CharField(max_length=20, choices=ModelTask.choices)
    description = models.TextField(blank=True)
    price_per_call = models.PositiveBigIntegerField(help_text="Intended price per call, tickets.")
    # The dataset it was trained or evaluated on: linked, so its columns were checked to fit.
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="model_versions")
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField()
    storage_name = models.CharField(max_length=300)
    ir_version = models.PositiveIntegerField()
    opset = models.JSONField(help_text="{domain: version}; '' is the default ONNX domain.")
    producer = models.CharField(max_length=200, blank=True)
    inputs = models.JSONField(help_text="[{name, type, elem_type, shape}]")
    outputs = models.JSONField(help_text="[{name, type, elem_type, shape}]")
    # Text models need their tokenizer (tokenizer.json), itself a blob in the same store.
    tokenizer_sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_validator])
    # Counted with size_bytes against the uploader's storage quota.
    tokenizer_size_bytes = models.PositiveBigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_name_version_unique"),
            models.CheckConstraint(condition=Q(task__in=ModelTask.values), name="model_task_known"),
            models.CheckConstraint(
                condition=Q(approval_status__in=ApprovalStatus.values),
                name="model_approval_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.version}"


class ApprovalRecord(models.Model):
    """The latest approval change the chain reported for a hash. Kept apart from the rows
    because the chain may approve a hash before (or without) its file being uploaded here:
    an upload that arrives later takes its state from this record."""

    kind = models.CharField(max_length=10, choices=ApprovalKind.choices)
    sha256 = models.CharField(max_length=64, validators=[sha256_validator])
    status = models.CharField(max_length=20, choices=ApprovalStatus.choices)
    block_number = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "sha256"], name="approval_record_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]}: {self.status} @ {self.block_number}"


class UploadAttempt(models.Model):
    """An upload a signed-in account started, stored or refused: the hourly upload rate
    counts these (validating a hostile file costs the server as much as storing a good
    one). Rows older than the rate's window are deleted as new ones are recorded."""

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ApprovalKind.choices)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["uploaded_by", "created_at"], name="upload_attempt_user_time")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ApprovalKind.values), name="upload_attempt_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} upload by {self.uploaded_by_id} at {self.created_at:%Y-%m-%d %H:%M}"


class EvaluationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_EVALUATION_STATUSES = [EvaluationStatus.QUEUED, EvaluationStatus.RUNNING]


class Evaluation(models.Model):
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="evaluations"
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="evaluations")
    status = models.CharField(
        max_length=10, choices=EvaluationStatus.choices, default=EvaluationStatus.QUEUED
    )
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    execution_provider = models.CharField(max_length=100, blank=True)
    metrics = models.JSONField(null=True, blank=True)
    metrics_sha256 = models.CharField(max_length=64, blank=True)
    timings = models.JSONField(null=True, blank=True)
    report_sha256 = models.CharField(max_length=64, blank=True)
    report_storage_name = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one evaluation of a pair in flight: a second request joins the first.
            models.UniqueConstraint(
                fields=["model_version", "dataset"],
                condition=Q(status__in=ACTIVE_EVALUATION_STATUSES),
                name="one_active_evaluation_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(rows_done__lte=models.F("rows_total")),
                name="evaluation_progress_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"evaluation {self.pk}: {self.model_version} on {self.dataset.name}"

    @property
    def progress_percent(self) -> int:
        if not self.rows_total:
            return 0
        return int(100 * self.rows_done / self.rows_total)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_EVALUATION_STATUSES
