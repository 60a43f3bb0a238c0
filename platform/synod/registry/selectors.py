"""Reads from the registry, for pages, the public API and other apps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    Min,
    Prefetch,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from synod.registry.digests import normalize_sha256
from synod.registry.errors import InvalidSha256
from synod.registry.models import (
    Approvable,
    ApprovalKind,
    ApprovalRecord,
    ApprovalStatus,
    Dataset,
    Evaluation,
    EvaluationStatus,
    ModelTask,
    ModelVersion,
    ShownApproval,
    UploadAttempt,
)
from synod.registry.storage import read_blob

# The figures a comparison table and the API lead with, per task: (key, label, higher is
# better).
HEADLINE_METRICS: dict[str, list[tuple[str, str, bool]]] = {
    ModelTask.CLASSIFICATION: [("accuracy", "Accuracy", True), ("macro_f1", "Macro F1", True)],
    ModelTask.REGRESSION: [("mae", "MAE", False), ("rmse", "RMSE", False), ("r2", "R²", True)],
    ModelTask.EMBEDDING: [
        ("roc_auc", "ROC AUC", True),
        ("retrieval_top1_accuracy", "Top-1 retrieval", True),
        ("cosine_gap", "Cosine gap", True),
    ],
}


# The per-account upload rate counts uploads started within this rolling window.
UPLOAD_RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class UploadUsage:
    """What an account has used of its upload rate and storage quota."""

    uploads_in_window: int
    uploads_per_window: int
    # When the oldest upload in the window leaves it; None when the window is empty.
    window_frees_at: datetime | None
    stored_bytes: int
    quota_bytes: int

    @property
    def at_rate_limit(self) -> bool:
        return self.uploads_in_window >= self.uploads_per_window

    @property
    def quota_left_bytes(self) -> int:
        return max(self.quota_bytes - self.stored_bytes, 0)


def stored_bytes_of(user: Any) -> int:
    """Bytes of every file the account uploaded that the registry keeps: datasets, models
    and their tokenizers (a file already stored by someone else is theirs, not counted)."""
    datasets = Dataset.objects.filter(uploaded_by=user).aggregate(total=Sum("size_bytes"))
    models = ModelVersion.objects.filter(uploaded_by=user).aggregate(
        total=Sum(F("size_bytes") + F("tokenizer_size_bytes"))
    )
    return int(datasets["total"] or 0) + int(models["total"] or 0)


def upload_usage(user: Any, *, now: datetime | None = None) -> UploadUsage:
    now = now or timezone.now()
    in_window = UploadAttempt.objects.filter(
        uploaded_by=user, created_at__gt=now - UPLOAD_RATE_WINDOW
    ).aggregate(count=Count("id"), oldest=Min("created_at"))
    oldest = in_window["oldest"]
    return UploadUsage(
        uploads_in_window=in_window["count"],
        uploads_per_window=settings.REGISTRY_UPLOADS_PER_HOUR,
        window_frees_at=oldest + UPLOAD_RATE_WINDOW if oldest else None,
        stored_bytes=stored_bytes_of(user),
        quota_bytes=settings.REGISTRY_UPLOAD_QUOTA_BYTES,
    )


def _lookup_sha256(value: str) -> str | None:
    """`value` as a stored sha256, or None when it cannot be one (nothing has that hash)."""
    try:
        return normalize_sha256(value)
    except InvalidSha256:
        return None


# --- approval, as shown --------------------------------------------------------------------

A = TypeVar("A", bound=Approvable)

# The chain states an open proposal's "pending vote" shows over. An approved hash stays
# "approved" while a vote (to revoke it) is open: it is live until the chain says otherwise,
# and pages showed it so when the mirror itself held votes.
_PENDING_SHOWS_OVER = [ApprovalStatus.NOT_PROPOSED, ApprovalStatus.REVOKED]


def pending_vote_sha256s(kind: str) -> set[str]:
    """The hashes of `kind` ("dataset" or "model") that an open governance proposal would
    approve or revoke: governance's knowledge, not the chain's, so never in the mirror."""
    # Deferred: governance imports the registry (its services and selectors).
    from synod.governance import selectors as governance_selectors

    subjects = governance_selectors.pending_vote_subjects(kind)
    return {sha256 for sha256 in map(_lookup_sha256, subjects) if sha256 is not None}


def with_shown_approval(queryset: QuerySet[A], kind: str) -> QuerySet[A]:
    """`queryset` with `shown_approval` (a ShownApproval value) on every row: the mirrored
    chain status, or "pending vote" while an open proposal would change a hash that is not
    approved. Every page that shows an approval reads it (templates/registry/_approval.html)."""
    pending = pending_vote_sha256s(kind)
    if not pending:
        return queryset.annotate(shown_approval=F("approval_status"))
    return queryset.annotate(
        shown_approval=Case(
            When(
                sha256__in=sorted(pending),
                approval_status__in=_PENDING_SHOWS_OVER,
                then=Value(ShownApproval.PENDING_VOTE.value),
            ),
            default=F("approval_status"),
            output_field=CharField(),
        )
    )


def approval_record_get(kind: str, sha256: str) -> ApprovalRecord | None:
    """What the chain last said of a hash, uploaded here or not."""
    return ApprovalRecord.objects.filter(kind=kind, sha256=sha256).first()


# --- datasets and model versions -----------------------------------------------------------


def _model_versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("dataset")


def dataset_list() -> QuerySet[Dataset]:
    """Every dataset, newest first, with its approval as shown."""
    return with_shown_approval(Dataset.objects.all(), ApprovalKind.DATASET)


def dataset_choices() -> list[tuple[str, str]]:
    """(sha256, label) of every dataset, for a form's dataset field."""
    return [
        (sha256, f"{name} · {sha256[:12]}")
        for sha256, name in Dataset.objects.values_list("sha256", "name")
    ]


def model_version_list() -> QuerySet[ModelVersion]:
    """Every model version, with its dataset and its approval as shown."""
    return with_shown_approval(_model_versions(), ApprovalKind.MODEL)


def model_versions_named(name: str) -> QuerySet[ModelVersion]:
    return model_version_list().filter(name=name)


def model_versions_on_dataset(dataset: Dataset) -> QuerySet[ModelVersion]:
    """The model versions trained or evaluated on `dataset` (linked to it at upload)."""
    return model_version_list().filter(dataset=dataset)


def _with_latest_evaluations(queryset: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    succeeded = Evaluation.objects.filter(status=EvaluationStatus.SUCCEEDED).select_related(
        "dataset"
    )
    return queryset.prefetch_related(
        Prefetch("evaluations", queryset=succeeded, to_attr="succeeded_evaluations")
    )


def approved_model_versions() -> QuerySet[ModelVersion]:
    """What is live now: approved on-chain, not revoked since. (Only the chain's status
    counts here, so no approval as shown: it would be "approved" on every row.)"""
    return _with_latest_evaluations(
        _model_versions().filter(approval_status=ApprovalStatus.APPROVED)
    ).order_by("name", "version", "id")


def approved_datasets() -> QuerySet[Dataset]:
    return Dataset.objects.filter(approval_status=ApprovalStatus.APPROVED).order_by("name", "id")


def approvals_changed_after(block_number: int) -> list[tuple[str, str]]:
    """(kind, sha256) of every approval whose latest recorded change came from a block
    above `block_number`: after a reorg rewound the index to that block, the events that
    set them are gone."""
    return list(
        ApprovalRecord.objects.filter(block_number__gt=block_number)
        .order_by("kind", "sha256")
        .values_list("kind", "sha256")
    )


def dataset_get(sha256: str) -> Dataset | None:
    """The dataset with that hash (with or without 0x, any case), its approval as shown."""
    sha256 = _lookup_sha256(sha256)
    return dataset_list().filter(sha256=sha256).first() if sha256 else None


def model_version_get(sha256: str) -> ModelVersion | None:
    """The model version with that hash, its approval as shown."""
    sha256 = _lookup_sha256(sha256)
    return model_version_list().filter(sha256=sha256).first() if sha256 else None


def model_version_by_reference(reference: str) -> ModelVersion | None:
    """`name@version` or a sha256."""
    if "@" in reference:
        name, _, version = reference.rpartition("@")
        return _model_versions().filter(name=name, version=version).first()
    sha256 = _lookup_sha256(reference)
    return _model_versions().filter(sha256=sha256).first() if sha256 else None


def evaluation_get(evaluation_id: int) -> Evaluation | None:
    return (
        Evaluation.objects.select_related("model_version", "dataset")
        .filter(pk=evaluation_id)
        .first()
    )


def evaluations_for_model(model_version: ModelVersion) -> QuerySet[Evaluation]:
    return model_version.evaluations.select_related("dataset")


def evaluations_on_dataset(dataset: Dataset, *, limit: int = 50) -> QuerySet[Evaluation]:
    """The newest `limit` evaluations run on `dataset`."""
    return dataset.evaluations.select_related("model_version")[:limit]


def latest_evaluation(model_version: ModelVersion) -> Evaluation | None:
    """The newest successful evaluation, on the model's own dataset first. Uses the
    evaluations `approved_model_versions` prefetched when they are there (no query)."""
    prefetched = getattr(model_version, "succeeded_evaluations", None)
    if prefetched is not None:
        on_own_dataset = [e for e in prefetched if e.dataset_id == model_version.dataset_id]
        return (on_own_dataset or prefetched or [None])[0]
    succeeded = model_version.evaluations.filter(status=EvaluationStatus.SUCCEEDED)
    return succeeded.filter(dataset=model_version.dataset_id).first() or succeeded.first()


def evaluation_report_bytes(evaluation: Evaluation) -> bytes | None:
    if not evaluation.report_storage_name:
        return None
    return read_blob(evaluation.report_storage_name)


def evaluation_report(evaluation: Evaluation) -> dict[str, Any] | None:
    data = evaluation_report_bytes(evaluation)
    return json.loads(data) if data is not None else None


@dataclass(frozen=True)
class ComparisonCell:
    value: float | None
    best: bool


@dataclass(frozen=True)
class ComparisonRow:
    model_version: ModelVersion
    evaluation: Evaluation
    cells: list[ComparisonCell]


@dataclass(frozen=True)
class Comparison:
    dataset: Dataset
    task: str
    columns: list[str]
    rows: list[ComparisonRow]


def model_comparisons(name: str) -> list[Comparison]:
    """For each dataset, every version of the model `name` evaluated on it, side by side
    (the newest successful evaluation of each version), with the best figure marked."""
    # The versions as pages show them (approval included), not as the evaluations hold them.
    versions = {version.pk: version for version in model_versions_named(name)}
    evaluations = (
        Evaluation.objects.filter(
            status=EvaluationStatus.SUCCEEDED, model_version_id__in=list(versions)
        )
        .select_related("model_version", "dataset")
        .order_by("dataset_id", "model_version__created_at", "model_version_id", "-created_at")
    )
    grouped: dict[int, dict[int, Evaluation]] = {}
    for evaluation in evaluations:
        grouped.setdefault(evaluation.dataset_id, {}).setdefault(
            evaluation.model_version_id, evaluation
        )
    comparisons = []
    for by_model in grouped.values():
        first = next(iter(by_model.values()))
        task = first.model_version.task
        headline = HEADLINE_METRICS.get(task, [])
        figures = {
            model_id: [(evaluation.metrics or {}).get(key) for key, _, _ in headline]
            for model_id, evaluation in by_model.items()
        }
        best = []
        for index, (_, _, higher_is_better) in enumerate(headline):
            values = [row[index] for row in figures.values() if row[index] is not None]
            best.append((max if higher_is_better else min)(values) if values else None)
        rows = [
            ComparisonRow(
                model_version=versions[model_id],
                evaluation=evaluation,
                cells=[
                    ComparisonCell(value, value is not None and value == best[index])
                    for index, value in enumerate(figures[model_id])
                ],
            )
            for model_id, evaluation in by_model.items()
        ]
        comparisons.append(
            Comparison(
                dataset=first.dataset,
                task=task,
                columns=[label for _, label, _ in headline],
                rows=rows,
            )
        )
    return comparisons


def headline_metrics(evaluation: Evaluation | None) -> dict[str, Any]:
    if evaluation is None or not evaluation.metrics:
        return {}
    keys = [key for key, _, _ in HEADLINE_METRICS.get(evaluation.model_version.task, [])]
    return {key: evaluation.metrics.get(key) for key in keys}


def evaluation_by_report_sha256(report_sha256: str) -> Evaluation | None:
    """The evaluation whose canonical report hashes to `report_sha256` (what a model
    approval proposal pins on-chain as its evidence)."""
    report_sha256 = _lookup_sha256(report_sha256)
    if report_sha256 is None:
        return None
    return (
        Evaluation.objects.select_related("model_version", "dataset")
        .filter(report_sha256=report_sha256)
        .first()
    )
