"""The registry's approval states follow the ModelRegistry contract's events.

When a reorg removes approval events, the mirror is set back to what the contract records,
which takes a read from the chain node. Undo handlers run inside the indexer's rewind
transaction, where no node call may be made (DESIGN.md), so the undo handler only notes
which approvals the removed events touched, and `reconcile_approvals_after_rewind`, a
rewind listener that runs after that transaction committed, reads the contract for them.
"""

import threading

from django.conf import settings

from synod.chain.selectors import DecodedEvent
from synod.chain.services import on_rewind, register_handler
from synod.registry import selectors, services
from synod.registry.models import ApprovalKind, ApprovalStatus

_EVENTS = {
    "DatasetApproved": (ApprovalKind.DATASET, "datasetHash", ApprovalStatus.APPROVED),
    "DatasetRevoked": (ApprovalKind.DATASET, "datasetHash", ApprovalStatus.REVOKED),
    "ModelVersionApproved": (ApprovalKind.MODEL, "modelHash", ApprovalStatus.APPROVED),
    "ModelVersionRevoked": (ApprovalKind.MODEL, "modelHash", ApprovalStatus.REVOKED),
}


class _UndoneApprovals:
    """(kind, sha256) of approvals whose events a rewind removed, per chain, from the undo
    handler (inside the rewind's transaction) to the rewind listener (after it committed).

    Both run in the indexer pass that holds the chain's lease, but other passes of this
    process (other chains, web requests) share the set, hence the lock. An entry left by a
    rewind that rolled back is reconciled by the next rewind: one chain read too many."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_chain: dict[int, set[tuple[str, str]]] = {}

    def note(self, chain_id: int, kind: str, sha256: str) -> None:
        with self._lock:
            self._by_chain.setdefault(chain_id, set()).add((kind, sha256))

    def noted(self, chain_id: int) -> set[tuple[str, str]]:
        with self._lock:
            return set(self._by_chain.get(chain_id, ()))

    def done(self, chain_id: int, kind: str, sha256: str) -> None:
        with self._lock:
            self._by_chain.get(chain_id, set()).discard((kind, sha256))


_undone = _UndoneApprovals()


def _hash(event: DecodedEvent, field: str) -> str:
    return bytes(event.args[field]).hex()


def apply_approval_event(event: DecodedEvent) -> None:
    kind, field, status = _EVENTS[event.event]
    services.record_approval_change(
        kind, _hash(event, field), status, block_number=event.block_number, tx_hash=event.tx_hash
    )


def note_undone_approval_event(event: DecodedEvent) -> None:
    """Undo handler: remember the approval for the rewind listener. No node call here: it
    runs inside the rewind's transaction."""
    kind, field, _status = _EVENTS[event.event]
    _undone.note(event.chain_id, kind, _hash(event, field))


@on_rewind
def reconcile_approvals_after_rewind(chain_id: int, fork_block: int) -> None:
    """Set every approval that events above `fork_block` touched to what the ModelRegistry
    contract records now. Runs after the rewind committed, outside any transaction.

    The approvals come from the undo handler and from the records last changed above the
    fork. The second source alone misses a record a proposal's end reconciled after the
    removed event (its block number is then 0); the first alone is lost if the process
    stops between the commit and this listener. Events the indexer then reads again from
    the fork on apply over the reconciled state, which has no block number."""
    if chain_id != settings.CHAIN_ID:
        return  # the registry mirrors the platform's own chain only
    touched = _undone.noted(chain_id) | set(selectors.approvals_changed_after(fork_block))
    for kind, sha256 in sorted(touched):
        services.reconcile_approval_with_chain(kind, sha256)
        # Only once reconciled: if the node fails half-way, the rest waits for the next rewind.
        _undone.done(chain_id, kind, sha256)


for _event in _EVENTS:
    register_handler("ModelRegistry", _event, apply_approval_event, undo=note_undone_approval_event)
