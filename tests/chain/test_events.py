"""The handler registry other apps subscribe through, and the indexer's beat schedule."""

from __future__ import annotations

from django.conf import settings

from synod.chain import events
from synod.chain.events import DecodedEvent, HandlerRegistry


def _event(contract: str = "ModelRegistry", name: str = "DatasetApproved") -> DecodedEvent:
    return DecodedEvent(
        chain_id=31337,
        contract=contract,
        address="0x" + "11" * 20,
        event=name,
        args={"sha256": b"\x01" * 32},
        block_number=5,
        block_hash="0x" + "22" * 32,
        tx_hash="0x" + "33" * 32,
        log_index=0,
    )


def test_handlers_get_only_their_events_in_registration_order():
    registry = HandlerRegistry()
    calls: list[str] = []

    @registry.on("ModelRegistry", "DatasetApproved")
    def first(event: DecodedEvent) -> None:
        calls.append(f"first:{event.event}")

    def second(event: DecodedEvent) -> None:
        calls.append(f"second:{event.event}")

    registry.register("ModelRegistry", "DatasetApproved", second)
    registry.register("ModelRegistry", "DatasetRevoked", lambda e: calls.append("revoked"))

    registry.dispatch(_event())
    registry.dispatch(_event(contract="Council", name="DatasetApproved"))
    assert calls == ["first:DatasetApproved", "second:DatasetApproved"]


def test_registering_a_handler_twice_still_calls_it_once():
    registry = HandlerRegistry()
    calls: list[DecodedEvent] = []

    def approve(event: DecodedEvent) -> None:
        calls.append(event)

    registry.register("ModelRegistry", "DatasetApproved", approve)
    subscription = registry.register("ModelRegistry", "DatasetApproved", approve)
    registry.dispatch(_event())
    assert len(calls) == 1

    registry.unregister(subscription)
    registry.dispatch(_event())
    assert len(calls) == 1


def test_undo_runs_in_reverse_and_rewind_listeners_hear_the_fork():
    registry = HandlerRegistry()
    calls: list[str] = []

    def undo_a(event):
        calls.append("undo-a")

    def undo_b(event):
        calls.append("undo-b")

    def apply_a(event):
        calls.append("a")

    def apply_b(event):
        calls.append("b")

    registry.register("ModelRegistry", "DatasetApproved", apply_a, undo=undo_a)
    registry.register("ModelRegistry", "DatasetApproved", apply_b, undo=undo_b)

    @registry.on_rewind
    def rewound(chain_id: int, fork_block: int) -> None:
        calls.append(f"rewound:{chain_id}:{fork_block}")

    registry.undo(_event())
    registry.rewound(31337, 4)
    assert calls == ["undo-b", "undo-a", "rewound:31337:4"]


def test_the_module_level_decorator_registers_in_the_default_registry():
    def on_approved(event: DecodedEvent) -> None:
        pass

    subscription = events.register_handler("ModelRegistry", "DatasetApproved", on_approved)
    try:
        names = [s.name for s in events.handlers.subscriptions("ModelRegistry", "DatasetApproved")]
        assert subscription.name in names
    finally:
        events.handlers.unregister(subscription)
    assert subscription.name not in [
        s.name for s in events.handlers.subscriptions("ModelRegistry", "DatasetApproved")
    ]


def test_beat_runs_the_indexer_every_few_seconds():
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "synod.chain.tasks.index_chain"
    )
    assert 2 <= entry["schedule"] <= 5
