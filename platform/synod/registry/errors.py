"""Errors the registry reports to people: each message says what was wrong and what
happened (nothing stored), so pages, commands and the API can show it as it is."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from django.conf import settings


class RegistryError(Exception):
    """Base class: the message is meant for the person who uploaded or asked."""


class UploadTooLarge(RegistryError):
    pass


class InvalidModelFile(RegistryError):
    pass


class InvalidDatasetFile(RegistryError):
    pass


class IncompatibleModel(RegistryError):
    """The model's inputs do not fit the dataset's declared input columns."""


class DuplicateName(RegistryError):
    """A different file was already uploaded as this name and version."""


class EvaluationFailed(RegistryError):
    pass


class DatasetTooLarge(UploadTooLarge):
    """Small on disk, too big once read: too many rows or columns, or too much memory."""


class UploadRateExceeded(RegistryError):
    """The account started as many uploads in the last hour as it may."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UploadQuotaExceeded(RegistryError):
    """Storing the upload would take the account's stored files over its quota."""


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
