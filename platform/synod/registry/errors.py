"""Errors the registry reports to people: each message says what was wrong and what
happened (nothing stored), so pages, commands and the API can show it as it is.

Every class is an `ApplicationError` (synod.common.errors): it carries its HTTP status and a
stable `code`, and the common handlers answer it. The generic class mixed in (TooLarge,
RateLimited, ...) gives the status, so `except errors.TooLarge` also catches the registry's."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from django.conf import settings

from synod.common import errors


class RegistryError(errors.ApplicationError):
    """Base class: the message is meant for the person who uploaded or asked."""

    code = "registry_refused"


class InvalidSha256(RegistryError, errors.InvalidInput):
    """A value given as a sha256 is not 64 hex digits."""

    code = "invalid_sha256"


class UploadTooLarge(RegistryError, errors.TooLarge):
    code = "upload_too_large"


class DatasetTooLarge(UploadTooLarge):
    """Small on disk, too big once read: too many rows or columns, or too much memory."""

    code = "dataset_too_large"


class InvalidModelFile(RegistryError, errors.InvalidInput):
    code = "invalid_model_file"


class InvalidDatasetFile(RegistryError, errors.InvalidInput):
    code = "invalid_dataset_file"


class IncompatibleModel(RegistryError):
    """The model's inputs do not fit the dataset's declared input columns: both files are
    well formed, the pair is what cannot be processed."""

    status_code = 422
    code = "incompatible_model"


class DuplicateName(RegistryError, errors.Conflict):
    """A different file was already uploaded as this name and version."""

    code = "duplicate_name"


class EvaluationFailed(RegistryError):
    """The model could not be run on the dataset (or gave nothing to score)."""

    status_code = 422
    code = "evaluation_failed"


class UploadRateExceeded(RegistryError, errors.RateLimited):
    """The account started as many uploads in the last hour as it may; `retry_after_s`
    (and the Retry-After header) says when the next one is possible."""

    code = "upload_rate_exceeded"


class UploadQuotaExceeded(RegistryError, errors.TooLarge):
    """Storing the upload would take the account's stored files over its quota."""

    code = "upload_quota_exceeded"


def _server_places() -> list[str]:
    storage_location = settings.STORAGES["default"].get("OPTIONS", {}).get("location")
    places = {
        tempfile.gettempdir(),
        str(settings.DATA_DIR),
        str(settings.MEDIA_ROOT),
        str(settings.REPO_DIR),
        str(Path.home()),
        str(storage_location or ""),
    }
    # Longest first, so a place inside another is replaced whole.
    return sorted((place for place in places if len(place) > 1), key=len, reverse=True)


def without_server_paths(text: str) -> str:
    """`text` (a library's error message) with every path on this server replaced, so a
    message shown to an uploader never reveals where files live here."""
    for place in _server_places():
        text = re.sub(re.escape(place) + r"[^\s'\"]*", "<server path>", text)
    return text
