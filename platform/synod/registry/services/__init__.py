"""Writes to the registry, in three rooms:

- `uploads`: datasets and model versions, within the per-account limits;
- `evaluations`: request, send, requeue, claim and run;
- `approvals`: the approval mirror the chain indexer's event handlers write.

Every write is idempotent: the same bytes give the same record, a repeated request joins the
work already queued, and a replayed chain event changes nothing. Other apps call these names
from here (`from synod.registry import services`), not from the rooms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from synod.registry.digests import normalize_sha256
from synod.registry.errors import RegistryError
from synod.registry.services.approvals import (
    mirrored_approval_fields,
    reconcile_approval_with_chain,
    record_approval_change,
)
from synod.registry.services.evaluations import (
    EVALUATION_REQUEUE_AFTER,
    EVALUATION_STALE_AFTER,
    PROGRESS_WRITE_INTERVAL_S,
    check_model_fits_dataset,
    claim_evaluation,
    request_evaluation,
    requeue_stalled_evaluations,
    run_evaluation,
    send_evaluation,
)
from synod.registry.services.uploads import (
    MAX_TOKENIZER_BYTES,
    Source,
    UploadResult,
    check_request_length,
    max_upload_bytes,
    upload_dataset,
    upload_model,
)

if TYPE_CHECKING:
    from synod.registry.demo.content import DemoContent

__all__ = [
    "EVALUATION_REQUEUE_AFTER",
    "EVALUATION_STALE_AFTER",
    "MAX_TOKENIZER_BYTES",
    "PROGRESS_WRITE_INTERVAL_S",
    "RegistryError",
    "Source",
    "UploadResult",
    "build_demo_content",
    "check_model_fits_dataset",
    "check_request_length",
    "claim_evaluation",
    "max_upload_bytes",
    "mirrored_approval_fields",
    "normalize_sha256",
    "reconcile_approval_with_chain",
    "record_approval_change",
    "request_evaluation",
    "requeue_stalled_evaluations",
    "run_evaluation",
    "send_evaluation",
    "upload_dataset",
    "upload_model",
]


def build_demo_content(
    *, cache_dir: Path, report: Callable[[str], None] = lambda message: None
) -> DemoContent:
    """The demo datasets and models, uploaded and evaluated (idempotent; local platform)."""
    # Deferred: the demo content itself uploads through this package.
    from synod.registry.demo import content

    return content.build_demo_content(cache_dir=cache_dir, report=report)
