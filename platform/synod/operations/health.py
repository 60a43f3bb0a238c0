"""Checks of the parts the platform needs: database, broker and workers, chain.

Cheap enough to answer every poll of the status panel and every `/healthz`: workers and beat
are read from the heartbeats they publish (one query), and the broker and chain answers are
remembered per process for a moment, so a burst of health requests never becomes a burst of
broker round trips or node calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from celery import current_app as celery_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

from synod.chain import selectors as chain_selectors
from synod.common import embedded_broker
from synod.common.models import ServiceHeartbeat
from synod.common.services import WORKER_PREFIX

BEAT_STALE_AFTER = timedelta(seconds=30)
# Workers beat every 5 s (synod.common.worker_heartbeat); three missed beats mean gone.
WORKER_STALE_AFTER = timedelta(seconds=15)
BROKER_ANSWER_TTL_S = 5.0
CHAIN_ANSWER_TTL_S = 1.0


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
        """Healthy means the parts a request depends on answer: database, broker, and the
        chain with the contracts deployed."""
        return self.database.ok and self.broker.ok and self.chain.ok

    def as_dict(self) -> dict:
        return {"healthy": self.healthy, **{name: asdict(c) for name, c in vars(self).items()}}


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check(True, f"{connection.vendor} answered")
    except Exception as exc:
        return Check(False, f"database unreachable: {type(exc).__name__}")


class _Remembered:
    """One check's last answer in this process, reused for `ttl_s` seconds, a failure for at
    most FAILURE_TTL_S (so a part that comes back is seen soon, while a part that hangs is
    still asked at most once a second per process)."""

    FAILURE_TTL_S = 1.0

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._answers: dict[tuple, tuple[float, Check]] = {}

    def get(self, key: tuple, compute: Callable[[], Check]) -> Check:
        with self._lock:
            remembered = self._answers.get(key)
            if remembered:
                ttl_s = self.ttl_s if remembered[1].ok else min(self.ttl_s, self.FAILURE_TTL_S)
                if time.monotonic() - remembered[0] < ttl_s:
                    return remembered[1]
        answer = compute()
        with self._lock:
            self._answers[key] = (time.monotonic(), answer)
        return answer

    def forget(self) -> None:
        with self._lock:
            self._answers.clear()


_broker_answers = _Remembered(BROKER_ANSWER_TTL_S)
_chain_answers = _Remembered(CHAIN_ANSWER_TTL_S)


def forget_remembered_answers() -> None:
    """Drops the remembered broker and chain answers (tests, after changing settings)."""
    _broker_answers.forget()
    _chain_answers.forget()


def _ask_broker() -> Check:
    if embedded_broker.is_embedded(settings.CELERY_BROKER_URL, settings.BROKER_DIR):
        if embedded_broker.answers(settings.BROKER_DIR):
            return Check(True, "embedded Valkey broker answered", {"transport": "redis"})
        return Check(False, "embedded broker unreachable: no answer on its socket")
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        return Check(True, f"{transport} broker reachable", {"transport": str(transport)})
    except Exception as exc:
        return Check(False, f"broker unreachable: {type(exc).__name__}")


def check_broker() -> Check:
    return _broker_answers.get((settings.CELERY_BROKER_URL,), _ask_broker)


def check_workers() -> Check:
    """Workers that published a heartbeat recently (see synod.common.worker_heartbeat)."""
    try:
        since = timezone.now() - WORKER_STALE_AFTER
        beats = list(
            ServiceHeartbeat.objects.filter(
                service__startswith=WORKER_PREFIX, seen_at__gte=since
            ).order_by("service")
        )
    except Exception as exc:
        return Check(False, f"could not read worker heartbeats: {type(exc).__name__}", {"count": 0})
    names = [beat.service.removeprefix(WORKER_PREFIX) for beat in beats]
    detail = f"{len(names)} worker(s) alive" if names else "no worker heartbeat"
    return Check(
        bool(names),
        detail,
        {"count": len(names), "names": names, "pids": [b.details.get("pid") for b in beats]},
    )


def check_beat() -> Check:
    try:
        heartbeat = ServiceHeartbeat.objects.filter(service="beat").first()
    except Exception as exc:
        return Check(False, f"could not read beat heartbeat: {type(exc).__name__}")
    if heartbeat is None:
        return Check(False, "beat has not run yet")
    age = timezone.now() - heartbeat.seen_at
    seconds = round(age.total_seconds())
    return Check(age < BEAT_STALE_AFTER, f"last tick {seconds}s ago", {"age_s": seconds})


def _ask_chain() -> Check:
    status = chain_selectors.chain_status()
    if not status.reachable:
        return Check(False, status.error or "chain unreachable")
    if not status.chain_id_matches:
        detail = f"node reports chain {status.chain_id}, settings expect {status.expected_chain_id}"
    elif not status.deployed:
        detail = (
            f"chain {status.chain_id} at block {status.block_number}; contracts not deployed "
            f"yet ({len(status.contracts)} so far)"
        )
    else:
        detail = f"chain {status.chain_id} at block {status.block_number}"
    return Check(
        status.chain_id_matches and status.deployed,
        detail,
        {
            "chain_id": status.chain_id,
            "block_number": status.block_number,
            "contracts": status.contracts,
            "deployed": status.deployed,
        },
    )


def check_chain() -> Check:
    key = (settings.CHAIN_RPC_URL, settings.CHAIN_ID, str(settings.DEPLOYMENTS_DIR))
    return _chain_answers.get(key, _ask_chain)


def platform_status() -> PlatformStatus:
    return PlatformStatus(
        database=check_database(),
        broker=check_broker(),
        workers=check_workers(),
        beat=check_beat(),
        chain=check_chain(),
    )
