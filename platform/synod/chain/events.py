"""Decoded contract events and the registry through which other apps subscribe to them.

An app reacts to chain events in its own `handlers.py` (imported when Django starts):

    from synod.chain.selectors import DecodedEvent
    from synod.chain.services import on_event

    def _forget_dataset(event: DecodedEvent) -> None:
        registry_services.forget_dataset(sha256=event.args["sha256"])

    @on_event("ModelRegistry", "DatasetApproved", undo=_forget_dataset)
    def _approve_dataset(event: DecodedEvent) -> None:
        registry_services.approve_dataset(sha256=event.args["sha256"], ...)

The indexer calls each handler exactly once per event, inside the transaction that stores
the event and moves the cursor: if a handler raises, none of it is kept and the same
events are offered again on the next pass. When a reorg removes an event, its `undo`
handlers run (newest event first) in the transaction that deletes it.

Handlers and undo handlers run inside a database transaction, so they must not call the
chain node (DESIGN.md: no node call while a transaction or lock is held). What they need
from the chain comes with the event (`block_timestamp`, read with the logs); listeners
registered with `on_rewind(fn(chain_id, fork_block))` run after the rewind committed,
outside any transaction, and may read the chain to re-derive their state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodedEvent:
    chain_id: int
    contract: str
    address: str
    event: str
    # By parameter name: ints as int, addresses checksummed, bytes as bytes, structs as
    # dicts; an indexed string/bytes/array/struct is its 32-byte topic hash (bytes).
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    # The block's timestamp (Unix seconds); None only for events stored before it was kept.
    block_timestamp: int | None = None

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.chain_id, self.tx_hash, self.log_index)

    @property
    def block_time(self) -> datetime | None:
        if self.block_timestamp is None:
            return None
        return datetime.fromtimestamp(self.block_timestamp, tz=UTC)


EventHandler = Callable[[DecodedEvent], None]
RewindListener = Callable[[int, int], None]


@dataclass(frozen=True)
class Subscription:
    contract: str
    event: str
    apply: EventHandler
    undo: EventHandler | None = None
    name: str = ""


def _qualified_name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


@dataclass
class HandlerRegistry:
    _subscriptions: dict[tuple[str, str], list[Subscription]] = field(default_factory=dict)
    _rewind_listeners: dict[str, RewindListener] = field(default_factory=dict)

    def register(
        self, contract: str, event: str, apply: EventHandler, *, undo: EventHandler | None = None
    ) -> Subscription:
        """Subscribe `apply` to `contract`.`event`. Registering the same function again
        (a module imported twice) replaces the earlier subscription instead of doubling it."""
        subscription = Subscription(contract, event, apply, undo, _qualified_name(apply))
        subscriptions = self._subscriptions.setdefault((contract, event), [])
        subscriptions[:] = [s for s in subscriptions if s.name != subscription.name]
        subscriptions.append(subscription)
        return subscription

    def unregister(self, subscription: Subscription) -> None:
        key = (subscription.contract, subscription.event)
        remaining = [s for s in self._subscriptions.get(key, []) if s.name != subscription.name]
        self._subscriptions[key] = remaining

    def on(
        self, contract: str, event: str, *, undo: EventHandler | None = None
    ) -> Callable[[EventHandler], EventHandler]:
        def decorator(fn: EventHandler) -> EventHandler:
            self.register(contract, event, fn, undo=undo)
            return fn

        return decorator

    def on_rewind(self, listener: RewindListener) -> RewindListener:
        """`listener(chain_id, fork_block)` runs after a rewind committed, outside any
        transaction."""
        self._rewind_listeners[_qualified_name(listener)] = listener
        return listener

    def subscriptions(self, contract: str, event: str) -> list[Subscription]:
        return list(self._subscriptions.get((contract, event), []))

    def dispatch(self, event: DecodedEvent) -> None:
        for subscription in self.subscriptions(event.contract, event.event):
            subscription.apply(event)

    def undo(self, event: DecodedEvent) -> None:
        for subscription in reversed(self.subscriptions(event.contract, event.event)):
            if subscription.undo is not None:
                subscription.undo(event)

    def rewound(self, chain_id: int, fork_block: int) -> None:
        for listener in self._rewind_listeners.values():
            listener(chain_id, fork_block)


handlers = HandlerRegistry()


def on_event(
    contract: str, event: str, *, undo: EventHandler | None = None
) -> Callable[[EventHandler], EventHandler]:
    """Decorator: call the function for every `contract`.`event` the indexer stores."""
    return handlers.on(contract, event, undo=undo)


def register_handler(
    contract: str, event: str, apply: EventHandler, *, undo: EventHandler | None = None
) -> Subscription:
    return handlers.register(contract, event, apply, undo=undo)


def on_rewind(listener: RewindListener) -> RewindListener:
    """Decorator: call `listener(chain_id, fork_block)` after a reorg rewound the index (once
    the rewind committed, outside any transaction: it may read the chain)."""
    return handlers.on_rewind(listener)
