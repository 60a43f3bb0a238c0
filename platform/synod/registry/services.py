"""Writes to the registry: uploads, evaluations and the approval state mirrored from the
chain. Every write is idempotent: the same bytes give the same record, a repeated request
joins the work already queued, and a replayed chain event changes nothing."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from synod.chain import bindings
from synod.registry import selectors
from synod.registry.compatibility import plan_feed
from synod.registry.errors import (
    DuplicateName,
    InvalidDatasetFile,
    InvalidModelFile,
    RegistryError,
    UploadQuotaExceeded,
    UploadRateExceeded,
    without_server_paths,
)
from synod.registry.evaluation import EvaluationJob, evaluate
from synod.registry.models import (
    ACTIVE_EVALUATION_STATUSES,
    ApprovalKind,
    ApprovalRecord,
    ApprovalStatus,
    Dataset,
    DatasetFormat,
    Evaluation,
    EvaluationStatus,
    ModelTask,
    ModelVersion,
    UploadAttempt,
)
from synod.registry.onnx_inspect import TensorSpec, inspect_onnx
from synod.registry.storage import (
    ProgressCallback,
    SpooledBlob,
    blob_name,
    format_bytes,
    local_copy,
    spooled,
    store_bytes,
    store_spooled,
)
from synod.registry.tables import PARQUET_MAGIC, guess_format, profile_table, read_table

logger = logging.getLogger(__name__)

Source = BinaryIO | Iterable[bytes]

MAX_TOKENIZER_BYTES = 64 * 1024 * 1024
# A running evaluation whose worker died is taken over after this long.
EVALUATION_STALE_AFTER = timedelta(hours=1)
# A queued evaluation no worker has taken after this long is sent again (its message may never
# have reached the broker, e.g. during a broker restart). A second delivery is harmless: the
# first to claim the row runs it.
EVALUATION_REQUEUE_AFTER = timedelta(minutes=10)
PROGRESS_WRITE_INTERVAL_S = 0.25


T = TypeVar("T", Dataset, ModelVersion)


@dataclass(frozen=True)
class UploadResult(Generic[T]):
    record: T
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return f"Stored {self.record} (sha256 {self.record.sha256})."
        return (
            f"These exact bytes are already in the registry as {self.record} "
            f"(sha256 {self.record.sha256}); nothing new was stored."
        )


def normalize_sha256(value: str) -> str:
    value = value.strip().lower().removeprefix("0x")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise RegistryError(f"{value!r} is not a sha256 (64 hex digits).")
    return value


def _approval_fields(kind: str, sha256: str) -> dict[str, Any]:
    record = ApprovalRecord.objects.filter(kind=kind, sha256=sha256).first()
    if record is None:
        return {}
    return {
        "approval_status": record.status,
        "approval_block_number": record.block_number,
        "approval_tx_hash": record.tx_hash,
    }


# --- per-account upload limits -------------------------------------------------------------


def _lock_uploader(user: Any) -> None:
    """Make this account's uploads take turns until the transaction ends: a row lock on the
    user on PostgreSQL; SQLite already runs each write transaction alone (the settings open
    every transaction with BEGIN IMMEDIATE)."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _start_upload(uploaded_by: Any, kind: str) -> None:
    """Count an upload against the account's hourly rate before any of it is read, or refuse
    it; refuse it too when the account's stored files already fill its quota. Uploads with
    no account (the operator's commands, demo content) have no limits."""
    if uploaded_by is None:
        return
    with transaction.atomic():
        _lock_uploader(uploaded_by)
        now = timezone.now()
        UploadAttempt.objects.filter(
            uploaded_by=uploaded_by, created_at__lte=now - selectors.UPLOAD_RATE_WINDOW
        ).delete()
        usage = selectors.upload_usage(uploaded_by, now=now)
        if usage.at_rate_limit and usage.window_frees_at is not None:
            wait_s = max(1, math.ceil((usage.window_frees_at - now).total_seconds()))
            raise UploadRateExceeded(
                f"This account has started {usage.uploads_in_window} uploads in the last hour; "
                f"the limit is {usage.uploads_per_window} per hour. The next upload is "
                f"possible in {_minutes(wait_s)} (at {usage.window_frees_at:%H:%M} UTC). "
                "Nothing was stored.",
                retry_after_s=wait_s,
            )
        if usage.stored_bytes >= usage.quota_bytes:
            raise UploadQuotaExceeded(
                f"This account's stored files already fill its quota "
                f"({format_bytes(usage.stored_bytes)} of {format_bytes(usage.quota_bytes)}), "
                "so no further upload can be stored. Nothing was stored."
            )
        UploadAttempt.objects.create(uploaded_by=uploaded_by, kind=kind, created_at=now)


def _ensure_quota_fits(uploaded_by: Any, *, adding: int) -> None:
    """In the caller's transaction, just before it stores: refuse when `adding` more bytes
    would take the account past its quota. The account stays locked until the caller's
    transaction ends, so two uploads at once are counted one after the other and cannot
    both take the room that only one of them fits in."""
    if uploaded_by is None:
        return
    _lock_uploader(uploaded_by)
    used = selectors.stored_bytes_of(uploaded_by)
    quota = settings.REGISTRY_UPLOAD_QUOTA_BYTES
    if used + adding > quota:
        raise UploadQuotaExceeded(
            f"Storing this upload ({format_bytes(adding)}) would take this account's stored "
            f"files to {format_bytes(used + adding)}, over its quota of {format_bytes(quota)} "
            f"({format_bytes(used)} used, {format_bytes(max(quota - used, 0))} left). "
            "Nothing was stored."
        )


# --- datasets ------------------------------------------------------------------------------


def upload_dataset(
    *,
    source: Source,
    filename: str,
    name: str,
    input_columns: list[str],
    label_column: str = "",
    description: str = "",
    fmt: str | None = None,
    uploaded_by: Any = None,
    on_progress: ProgressCallback | None = None,
) -> UploadResult[Dataset]:
    """Stream, hash, parse and store a dataset; the same bytes return the existing record."""
    input_columns = [column.strip() for column in input_columns if column.strip()]
    label_column = label_column.strip()
    if not input_columns:
        raise InvalidDatasetFile("Declare at least one input column.")
    fmt = fmt or guess_format(filename)
    if fmt is None:
        raise InvalidDatasetFile(
            f"Cannot tell the format of {filename!r}: use .csv, .jsonl or .parquet."
        )
    _start_upload(uploaded_by, ApprovalKind.DATASET)
    with spooled(
        source,
        max_bytes=settings.REGISTRY_MAX_DATASET_BYTES,
        what="dataset",
        on_progress=on_progress,
    ) as blob:
        existing = Dataset.objects.filter(sha256=blob.sha256).first()
        if existing is not None:
            return UploadResult(existing, created=False)
        with blob.path.open("rb") as head:
            if head.read(4) == PARQUET_MAGIC:
                fmt = DatasetFormat.PARQUET
        profile = profile_table(
            read_table(blob.path, fmt), input_columns=input_columns, label_column=label_column
        )
        with transaction.atomic():
            _ensure_quota_fits(uploaded_by, adding=blob.size)
            storage_name = store_spooled(blob)
            dataset, created = Dataset.objects.get_or_create(
                sha256=blob.sha256,
                defaults={
                    "name": name.strip() or filename,
                    "description": description,
                    "format": fmt,
                    "original_filename": filename[:255],
                    "size_bytes": blob.size,
                    "storage_name": storage_name,
                    "input_columns": input_columns,
                    "label_column": label_column,
                    "column_types": profile.column_types,
                    "row_count": profile.row_count,
                    "uploaded_by": uploaded_by,
                    **_approval_fields(ApprovalKind.DATASET, blob.sha256),
                },
            )
    return UploadResult(dataset, created=created)


# --- model versions ------------------------------------------------------------------------


@contextmanager
def _spooled_tokenizer(source: Source) -> Iterator[SpooledBlob]:
    """The tokenizer received and checked to load, not yet stored."""
    from tokenizers import Tokenizer

    with spooled(source, max_bytes=MAX_TOKENIZER_BYTES, what="tokenizer") as blob:
        try:
            Tokenizer.from_buffer(blob.path.read_bytes())
        except Exception as exc:
            raise InvalidModelFile(
                "The tokenizer is not a readable tokenizer.json: "
                f"{without_server_paths(str(exc))}. Nothing was stored."
            ) from exc
        yield blob


def upload_model(
    *,
    source: Source,
    filename: str,
    name: str,
    version: str,
    task: str,
    price_per_call: int,
    dataset_sha256: str,
    description: str = "",
    tokenizer_source: Source | None = None,
    uploaded_by: Any = None,
    on_progress: ProgressCallback | None = None,
) -> UploadResult[ModelVersion]:
    """Stream, hash and validate an ONNX model version and link it to its dataset; nothing
    is stored unless the model is valid, runnable and fits the dataset's columns."""
    name, version = name.strip(), version.strip()
    if task not in ModelTask.values:
        raise InvalidModelFile(f"Unknown task {task!r}; choose one of {ModelTask.values}.")
    if price_per_call < 0:
        raise InvalidModelFile("The price per call cannot be negative.")
    dataset = Dataset.objects.filter(sha256=normalize_sha256(dataset_sha256)).first()
    if dataset is None:
        raise InvalidModelFile(
            f"No dataset with sha256 {dataset_sha256} is in the registry: upload it first."
        )
    _start_upload(uploaded_by, ApprovalKind.MODEL)
    with ExitStack() as stack:
        blob = stack.enter_context(
            spooled(
                source,
                max_bytes=settings.REGISTRY_MAX_MODEL_BYTES,
                what="model",
                on_progress=on_progress,
            )
        )
        existing = ModelVersion.objects.filter(sha256=blob.sha256).first()
        if existing is not None:
            return UploadResult(existing, created=False)
        taken = ModelVersion.objects.filter(name=name, version=version).first()
        if taken is not None:
            raise DuplicateName(
                f"{name}@{version} already exists with different bytes (sha256 "
                f"{taken.sha256}); give this file a new version."
            )
        signature = inspect_onnx(blob.path.read_bytes())
        tokenizer = (
            stack.enter_context(_spooled_tokenizer(tokenizer_source)) if tokenizer_source else None
        )
        plan_feed(
            task=task,
            inputs=signature.inputs,
            input_columns=dataset.input_columns,
            label_column=dataset.label_column,
            column_types=dataset.column_types,
            has_tokenizer=tokenizer is not None,
        )
        tokenizer_size = tokenizer.size if tokenizer else 0
        try:
            with transaction.atomic():
                _ensure_quota_fits(uploaded_by, adding=blob.size + tokenizer_size)
                storage_name = store_spooled(blob)
                if tokenizer is not None:
                    store_spooled(tokenizer)
                model, created = ModelVersion.objects.get_or_create(
                    sha256=blob.sha256,
                    defaults={
                        "name": name,
                        "version": version,
                        "task": task,
                        "description": description,
                        "price_per_call": price_per_call,
                        "dataset": dataset,
                        "original_filename": filename[:255],
                        "size_bytes": blob.size,
                        "storage_name": storage_name,
                        "ir_version": signature.ir_version,
                        "opset": signature.opset,
                        "producer": signature.producer[:200],
                        "inputs": [spec.as_dict() for spec in signature.inputs],
                        "outputs": [spec.as_dict() for spec in signature.outputs],
                        "tokenizer_sha256": tokenizer.sha256 if tokenizer else "",
                        "tokenizer_size_bytes": tokenizer_size,
                        "uploaded_by": uploaded_by,
                        **_approval_fields(ApprovalKind.MODEL, blob.sha256),
                    },
                )
        except IntegrityError as exc:
            raise DuplicateName(
                f"{name}@{version} was just registered by another upload; use a new version."
            ) from exc
    return UploadResult(model, created=created)


# --- evaluations ---------------------------------------------------------------------------


def check_model_fits_dataset(*, model_version: ModelVersion, dataset: Dataset) -> None:
    """Raises IncompatibleModel with the reason when the model cannot read the dataset."""
    plan_feed(
        task=model_version.task,
        inputs=[TensorSpec.from_dict(spec) for spec in model_version.inputs],
        input_columns=dataset.input_columns,
        label_column=dataset.label_column,
        column_types=dataset.column_types,
        has_tokenizer=bool(model_version.tokenizer_sha256),
    )


def request_evaluation(
    *,
    model_version: ModelVersion,
    dataset: Dataset,
    requested_by: Any = None,
    rerun: bool = False,
    enqueue: bool = True,
) -> Evaluation:
    """Queue an evaluation of the pair, or return the one already finished or in flight.
    With enqueue=False the caller runs it itself (run_evaluation), as commands do."""
    check_model_fits_dataset(model_version=model_version, dataset=dataset)
    pair = Q(model_version=model_version, dataset=dataset)
    if not rerun:
        done = Evaluation.objects.filter(pair, status=EvaluationStatus.SUCCEEDED).first()
        if done is not None:
            return done
    active = Evaluation.objects.filter(pair, status__in=ACTIVE_EVALUATION_STATUSES).first()
    if active is not None:
        return active
    try:
        with transaction.atomic():
            evaluation = Evaluation.objects.create(
                model_version=model_version,
                dataset=dataset,
                rows_total=dataset.row_count,
                requested_by=requested_by,
            )
    except IntegrityError:
        # Another request queued the same pair between our check and insert.
        return Evaluation.objects.get(pair, status__in=ACTIVE_EVALUATION_STATUSES)

    if enqueue:
        transaction.on_commit(lambda: _send_evaluation(evaluation.pk))
    return evaluation


def _send_evaluation(evaluation_id: int) -> bool:
    """Queues the evaluation task. A broker that does not answer is no error for the person
    who asked: the row stays queued and requeue_stalled_evaluations sends it later."""
    from synod.registry import tasks  # deferred: tasks imports this module

    try:
        tasks.run_evaluation.delay(evaluation_id)
    except Exception as exc:
        logger.warning("evaluation %s not queued (%r); it will be sent again", evaluation_id, exc)
        return False
    return True


def requeue_stalled_evaluations() -> int:
    """Sends again the evaluations queued longer than EVALUATION_REQUEUE_AFTER and those
    whose run went stale (its worker died); returns how many were sent."""
    now = timezone.now()
    stalled = Evaluation.objects.filter(
        Q(status=EvaluationStatus.QUEUED, created_at__lt=now - EVALUATION_REQUEUE_AFTER)
        | Q(status=EvaluationStatus.RUNNING, started_at__lt=now - EVALUATION_STALE_AFTER)
    ).values_list("pk", flat=True)
    return sum(_send_evaluation(evaluation_id) for evaluation_id in stalled)


def _claim(evaluation_id: int) -> bool:
    stale_before = timezone.now() - EVALUATION_STALE_AFTER
    claimable = Q(status=EvaluationStatus.QUEUED) | Q(
        status=EvaluationStatus.RUNNING, started_at__lt=stale_before
    )
    claimed = Evaluation.objects.filter(claimable, pk=evaluation_id).update(
        status=EvaluationStatus.RUNNING, started_at=timezone.now(), rows_done=0, error=""
    )
    return claimed == 1


def _progress_writer(evaluation_id: int):
    last_write = 0.0

    def write(done: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if done < total and now - last_write < PROGRESS_WRITE_INTERVAL_S:
            return
        last_write = now
        Evaluation.objects.filter(pk=evaluation_id).update(rows_done=done, rows_total=total)

    return write


def run_evaluation(*, evaluation_id: int) -> Evaluation:
    """Run a queued evaluation. A second delivery of the same task finds it claimed and
    returns it untouched."""
    if not _claim(evaluation_id):
        return Evaluation.objects.get(pk=evaluation_id)
    evaluation = Evaluation.objects.select_related("model_version", "dataset").get(pk=evaluation_id)
    model, dataset = evaluation.model_version, evaluation.dataset
    try:
        with ExitStack() as stack:
            model_path = stack.enter_context(local_copy(model.storage_name))
            dataset_path = stack.enter_context(local_copy(dataset.storage_name))
            tokenizer_path = (
                stack.enter_context(local_copy(blob_name(model.tokenizer_sha256)))
                if model.tokenizer_sha256
                else None
            )
            outcome = evaluate(
                EvaluationJob(
                    model_path=model_path,
                    model_sha256=model.sha256,
                    model_name=model.name,
                    model_version=model.version,
                    task=model.task,
                    inputs=[TensorSpec.from_dict(spec) for spec in model.inputs],
                    outputs=[TensorSpec.from_dict(spec) for spec in model.outputs],
                    tokenizer_path=tokenizer_path,
                    dataset_path=dataset_path,
                    dataset_sha256=dataset.sha256,
                    dataset_name=dataset.name,
                    dataset_format=dataset.format,
                    input_columns=dataset.input_columns,
                    label_column=dataset.label_column,
                    column_types=dataset.column_types,
                    batch_size=settings.REGISTRY_EVAL_BATCH_SIZE,
                    threads=settings.REGISTRY_EVAL_THREADS,
                ),
                on_progress=_progress_writer(evaluation_id),
            )
    except Exception as exc:
        message = str(exc) if isinstance(exc, RegistryError) else f"Internal error: {exc!r}"
        message = without_server_paths(message)
        Evaluation.objects.filter(pk=evaluation_id).update(
            status=EvaluationStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        if not isinstance(exc, RegistryError):
            logger.exception("evaluation %s failed", evaluation_id)
        return Evaluation.objects.get(pk=evaluation_id)

    report_sha256, report_name = store_bytes(outcome.report_bytes)
    Evaluation.objects.filter(pk=evaluation_id).update(
        status=EvaluationStatus.SUCCEEDED,
        rows_done=dataset.row_count,
        rows_total=dataset.row_count,
        execution_provider=outcome.execution_provider,
        metrics=outcome.metrics,
        metrics_sha256=outcome.metrics_sha256,
        timings=outcome.timings,
        report_sha256=report_sha256,
        report_storage_name=report_name,
        finished_at=timezone.now(),
    )
    return Evaluation.objects.get(pk=evaluation_id)


# --- approvals (called by the chain indexer's event handlers) ------------------------------


def record_approval_change(
    kind: str, sha256: str, status: str, *, block_number: int, tx_hash: str
) -> bool:
    """Mirror an approval change the chain reported for a dataset or model version hash.

    Returns whether the state changed. Replaying the same event, or an event older than the
    one already applied, changes nothing, so handlers may run any number of times and in any
    order. A hash not uploaded here yet keeps its state in ApprovalRecord until it is."""
    if kind not in ApprovalKind.values:
        raise RegistryError(f"Unknown approval kind {kind!r}; expected {ApprovalKind.values}.")
    if status not in ApprovalStatus.values:
        raise RegistryError(
            f"Unknown approval status {status!r}; expected {ApprovalStatus.values}."
        )
    sha256 = normalize_sha256(sha256)
    with transaction.atomic():
        record, created = ApprovalRecord.objects.select_for_update().get_or_create(
            kind=kind,
            sha256=sha256,
            defaults={"status": status, "block_number": block_number, "tx_hash": tx_hash},
        )
        if not created:
            unchanged = (record.status, record.block_number, record.tx_hash) == (
                status,
                block_number,
                tx_hash,
            )
            if unchanged or block_number < record.block_number:
                return False
            record.status, record.block_number, record.tx_hash = status, block_number, tx_hash
            record.save(update_fields=["status", "block_number", "tx_hash", "updated_at"])
        target = Dataset if kind == ApprovalKind.DATASET else ModelVersion
        target.objects.filter(sha256=sha256).update(
            approval_status=status, approval_block_number=block_number, approval_tx_hash=tx_hash
        )
    return True


# ModelRegistry.Status, the last field of both its Dataset and ModelVersion records.
_STATUS_ON_CHAIN = [ApprovalStatus.NOT_PROPOSED, ApprovalStatus.APPROVED, ApprovalStatus.REVOKED]


def reconcile_approval_with_chain(kind: str, sha256: str) -> str:
    """Set an approval to what the ModelRegistry contract records now, whatever block the
    mirror's record came from: after a reorg removed the event that last set it, or when a
    proposal ended without passing. Returns the status it set."""
    if kind not in ApprovalKind.values:
        raise RegistryError(f"Unknown approval kind {kind!r}; expected {ApprovalKind.values}.")
    sha256 = normalize_sha256(sha256)
    registry = bindings.contract("ModelRegistry").functions
    getter = registry.getDataset if kind == ApprovalKind.DATASET else registry.getModelVersion
    status = _STATUS_ON_CHAIN[getter(bytes.fromhex(sha256)).call()[-1]]
    with transaction.atomic():
        ApprovalRecord.objects.update_or_create(
            kind=kind, sha256=sha256, defaults={"status": status, "block_number": 0, "tx_hash": ""}
        )
        target = Dataset if kind == ApprovalKind.DATASET else ModelVersion
        target.objects.filter(sha256=sha256).update(
            approval_status=status, approval_block_number=None, approval_tx_hash=""
        )
    return status
