"""Uploads: datasets and model versions, streamed, hashed, validated and stored, within the
per-account limits (uploads per hour, stored bytes). The same bytes give the same record."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from synod.registry import selectors
from synod.registry.compatibility import plan_feed
from synod.registry.digests import normalize_sha256
from synod.registry.errors import (
    DuplicateName,
    InvalidDatasetFile,
    InvalidModelFile,
    UploadQuotaExceeded,
    UploadRateExceeded,
    UploadTooLarge,
    without_server_paths,
)
from synod.registry.models import (
    ApprovalKind,
    Dataset,
    DatasetFormat,
    ModelTask,
    ModelVersion,
    UploadAttempt,
)
from synod.registry.onnx_inspect import inspect_onnx
from synod.registry.services.approvals import mirrored_approval_fields
from synod.registry.storage import (
    ProgressCallback,
    SpooledBlob,
    format_bytes,
    spooled,
    store_spooled,
)
from synod.registry.tables import PARQUET_MAGIC, guess_format, profile_table, read_table

Source = BinaryIO | Iterable[bytes]

MAX_TOKENIZER_BYTES = 64 * 1024 * 1024
# Multipart framing around the file: a request this much over the limit is refused unread.
MULTIPART_OVERHEAD = 64 * 1024

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


def max_upload_bytes(kind: str) -> int:
    """The largest file an upload of `kind` ("dataset" or "model") may be."""
    if kind == ApprovalKind.DATASET:
        return settings.REGISTRY_MAX_DATASET_BYTES
    return settings.REGISTRY_MAX_MODEL_BYTES


def check_request_length(content_length: int, *, kind: str) -> None:
    """Refuse, before any of it is read, an upload request whose declared length is over
    the file limit by more than the form's framing could take."""
    limit = max_upload_bytes(kind)
    if content_length > limit + MULTIPART_OVERHEAD:
        raise UploadTooLarge(
            f"The file is larger than the limit of {format_bytes(limit)}; nothing was stored."
        )


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
        max_bytes=max_upload_bytes(ApprovalKind.DATASET),
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
                    **mirrored_approval_fields(ApprovalKind.DATASET, blob.sha256),
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
                max_bytes=max_upload_bytes(ApprovalKind.MODEL),
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
                        **mirrored_approval_fields(ApprovalKind.MODEL, blob.sha256),
                    },
                )
        except IntegrityError as exc:
            raise DuplicateName(
                f"{name}@{version} was just registered by another upload; use a new version."
            ) from exc
    return UploadResult(model, created=created)
