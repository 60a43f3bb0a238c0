"""Live checks of the parts the platform needs: database, broker and workers, chain."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from synod.chain import selectors as chain_selectors
from synod.common.models import ServiceHeartbeat
from synod.config.celery import app as celery_app

BEAT_STALE_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PlatformStatus:
    database: Check
    broker: Check
    workers: Check
    beat: Check
    chain: Check

    @property
    def healthy(self) -> bool:
        """Healthy means the parts a request depends on answer: database, broker, chain."""
        return self.database.ok and self.broker.ok and self.chain.ok

    def as_dict(self) -> dict:
        return {"healthy": self.healthy, **{name: asdict(c) for name, c in vars(self).items()}}


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check(True, f"{connection.vendor} answered")
    except Exception as exc:
        return Check(False, f"database unreachable: {exc}")


def check_broker() -> Check:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        return Check(True, f"{transport} broker reachable", {"transport": str(transport)})
    except Exception as exc:
        return Check(False, f"broker unreachable: {exc}")


def check_workers(timeout: float = 1.0) -> Check:
    started = time.monotonic()
    try:
        replies = celery_app.control.inspect(timeout=timeout).ping() or {}
    except Exception as exc:
        return Check(False, f"could not ask workers: {exc}", {"count": 0})
    names = sorted(replies)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    detail = f"{len(names)} worker(s) answered" if names else "no worker answered"
    return Check(bool(names), detail, {"count": len(names), "names": names, "ms": elapsed_ms})


def check_beat() -> Check:
    try:
        heartbeat = ServiceHeartbeat.objects.filter(service="beat").first()
    except Exception as exc:
        return Check(False, f"could not read beat heartbeat: {exc}")
    if heartbeat is None:
        return Check(False, "beat has not run yet")
    age = timezone.now() - heartbeat.seen_at
    seconds = round(age.total_seconds())
    return Check(age < BEAT_STALE_AFTER, f"last tick {seconds}s ago", {"age_s": seconds})


def check_chain() -> Check:
    status = chain_selectors.chain_status()
    if not status.reachable:
        return Check(False, status.error or "chain unreachable")
    return Check(
        status.chain_id_matches,
        (
            f"chain {status.chain_id} at block {status.block_number}"
            if status.chain_id_matches
            else f"node reports chain {status.chain_id}, settings expect {status.expected_chain_id}"
        ),
        {
            "chain_id": status.chain_id,
            "block_number": status.block_number,
            "contracts": status.contracts,
        },
    )


def platform_status(*, include_workers: bool = True) -> PlatformStatus:
    return PlatformStatus(
        database=check_database(),
        broker=check_broker(),
        workers=check_workers() if include_workers else Check(False, "not checked"),
        beat=check_beat(),
        chain=check_chain(),
    )
