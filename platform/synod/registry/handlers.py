"""The registry's approval states follow the ModelRegistry contract's events."""

from synod.chain.events import DecodedEvent, register_handler
from synod.registry import services
from synod.registry.models import ApprovalKind, ApprovalStatus

_EVENTS = {
    "DatasetApproved": (ApprovalKind.DATASET, "datasetHash", ApprovalStatus.APPROVED),
    "DatasetRevoked": (ApprovalKind.DATASET, "datasetHash", ApprovalStatus.REVOKED),
    "ModelVersionApproved": (ApprovalKind.MODEL, "modelHash", ApprovalStatus.APPROVED),
    "ModelVersionRevoked": (ApprovalKind.MODEL, "modelHash", ApprovalStatus.REVOKED),
}


def _hash(event: DecodedEvent, field: str) -> str:
    return bytes(event.args[field]).hex()


def apply_approval_event(event: DecodedEvent) -> None:
    kind, field, status = _EVENTS[event.event]
    services.record_approval_change(
        kind, _hash(event, field), status, block_number=event.block_number, tx_hash=event.tx_hash
    )


def undo_approval_event(event: DecodedEvent) -> None:
    kind, field, _status = _EVENTS[event.event]
    services.reconcile_approval_with_chain(kind, _hash(event, field))


for _event in _EVENTS:
    register_handler("ModelRegistry", _event, apply_approval_event, undo=undo_approval_event)
