"""The core's exceptions. Each message is meant for a person (the uploader, the caller, the
provider's operator) and says what was wrong. Callers in the platform catch these and raise
their own error classes with the same message."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path


class CoreError(Exception):
    """Base class of every error raised on purpose by synod_core."""


class InvalidModel(CoreError):
    """The ONNX file is unreadable, unsafe (external data), rejected by the checker or
    not runnable by onnxruntime."""


class InvalidInput(CoreError):
    """Input tensors that do not fit the model's declared inputs (names, dtype, rank, dims),
    or that cannot be stacked into one batch."""


class IncompatibleInputs(CoreError):
    """A model's declared inputs cannot be fed from a dataset's declared columns."""


class RuntimeFailure(CoreError):
    """onnxruntime could not build a session or failed while running one."""


class InvalidJob(CoreError):
    """A job or result message off the wire that breaks the format or its limits."""


class InvalidReceipt(CoreError):
    """A receipt whose fields cannot be what ProviderRegistry hashes (wrong sizes, ranges)."""


def first_line(exc: BaseException, limit: int = 500) -> str:
    """The first line of a library's error message, cut to `limit` characters: native
    libraries put whole graphs or stack traces in theirs."""
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:limit]


def default_private_places() -> list[str]:
    return [tempfile.gettempdir(), str(Path.home()), str(Path.cwd())]


def redact_paths(text: str, places: Iterable[str] | None = None) -> str:
    """`text` with every path under one of `places` (by default the temp directory, the
    home directory and the working directory) replaced by <server path>, so a message sent
    to a stranger never tells where files live on this machine."""
    chosen = default_private_places() if places is None else list(places)
    # Longest first, so a place inside another is replaced whole; "/" alone would eat all.
    for place in sorted((p for p in chosen if len(p) > 1), key=len, reverse=True):
        text = re.sub(re.escape(place) + r"[^\s'\"]*", "<server path>", text)
    return text
