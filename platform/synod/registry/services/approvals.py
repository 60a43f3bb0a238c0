"""The approval mirror: the approval state the chain (the ModelRegistry contract) records for
each dataset and model version hash, written only by the chain indexer's event handlers
(synod.registry.handlers) and by reconciling with the contract. It holds nothing the chain
does not say: "pending vote" is governance's knowledge, derived when shown
(selectors.with_shown_approval)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from synod.chain import selectors as chain_selectors
from synod.registry import selectors
from synod.registry.digests import normalize_sha256
from synod.registry.errors import RegistryError
from synod.registry.models import (
    ApprovalKind,
    ApprovalRecord,
    ApprovalStatus,
    Dataset,
    ModelVersion,
)

# ModelRegistry.Status, the last field of both its Dataset and ModelVersion records.
_STATUS_ON_CHAIN = [ApprovalStatus.NOT_PROPOSED, ApprovalStatus.APPROVED, ApprovalStatus.REVOKED]


def _check_kind(kind: str) -> None:
    if kind not in ApprovalKind.values:
        raise RegistryError(f"Unknown approval kind {kind!r}; expected {ApprovalKind.values}.")


def _approvable(kind: str) -> type[Dataset] | type[ModelVersion]:
    return Dataset if kind == ApprovalKind.DATASET else ModelVersion


def mirrored_approval_fields(kind: str, sha256: str) -> dict[str, Any]:
    """The approval fields of a row being created for `sha256`: what the chain already said
    of it (the chain may approve a hash before its file is uploaded here), else nothing."""
    record = selectors.approval_record_get(kind, sha256)
    if record is None:
        return {}
    return {
        "approval_status": record.status,
        "approval_block_number": record.block_number,
        "approval_tx_hash": record.tx_hash,
    }


def record_approval_change(
    kind: str, sha256: str, status: str, *, block_number: int, tx_hash: str
) -> bool:
    """Mirror an approval change the chain reported for a dataset or model version hash.

    Returns whether the state changed. Replaying the same event, or an event older than the
    one already applied, changes nothing, so handlers may run any number of times and in any
    order. A hash not uploaded here yet keeps its state in ApprovalRecord until it is."""
    _check_kind(kind)
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
        _approvable(kind).objects.filter(sha256=sha256).update(
            approval_status=status, approval_block_number=block_number, approval_tx_hash=tx_hash
        )
    return True


def reconcile_approval_with_chain(kind: str, sha256: str) -> str:
    """Set an approval to what the ModelRegistry contract records now, whatever block the
    mirror's record came from: after a reorg removed the event that last set it. Returns
    the status it set. Reads the chain node: never call it inside the indexer's rewind
    transaction (see synod.registry.handlers)."""
    _check_kind(kind)
    sha256 = normalize_sha256(sha256)
    registry = chain_selectors.contract("ModelRegistry").functions
    getter = registry.getDataset if kind == ApprovalKind.DATASET else registry.getModelVersion
    status = _STATUS_ON_CHAIN[getter(bytes.fromhex(sha256)).call()[-1]]
    with transaction.atomic():
        # Block 0: this state comes from no event, so any event the indexer reads next wins.
        ApprovalRecord.objects.update_or_create(
            kind=kind, sha256=sha256, defaults={"status": status, "block_number": 0, "tx_hash": ""}
        )
        _approvable(kind).objects.filter(sha256=sha256).update(
            approval_status=status, approval_block_number=None, approval_tx_hash=""
        )
    return status
