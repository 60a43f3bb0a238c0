"""Each Celery worker publishes a heartbeat row every few seconds from a thread of its own, so
the health checks count live workers by reading one table instead of asking every worker
over the broker on each request (a broadcast round trip took about a second)."""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_ready, worker_shutdown
from django.db import close_old_connections

from synod.common import services

HEARTBEAT_INTERVAL_S = 5.0
logger = logging.getLogger(__name__)
_stop = threading.Event()


def service_name(hostname: str) -> str:
    return f"{services.WORKER_PREFIX}{hostname}"


def _details(consumer) -> dict:
    worker = consumer.controller if consumer is not None else None
    queues = sorted(q.name for q in consumer.task_consumer.queues) if consumer else []
    return {
        "hostname": consumer.hostname if consumer else "",
        "pid": os.getpid(),
        "concurrency": getattr(worker, "concurrency", None),
        "queues": queues,
    }


def _beat_forever(name: str, details: dict) -> None:
    while not _stop.is_set():
        try:
            close_old_connections()
            services.record_heartbeat(service=name, details=details)
        except Exception as exc:  # the database may be briefly away: try again next time
            logger.warning("could not record the worker heartbeat: %r", exc)
        _stop.wait(HEARTBEAT_INTERVAL_S)


@worker_ready.connect
def start_heartbeat(sender=None, **_kwargs) -> None:
    name = service_name(sender.hostname)
    _stop.clear()
    threading.Thread(
        target=_beat_forever, args=(name, _details(sender)), name="heartbeat", daemon=True
    ).start()


@worker_shutdown.connect
def stop_heartbeat(sender=None, **_kwargs) -> None:
    _stop.set()
    if sender is None:
        return
    try:
        close_old_connections()
        services.forget_heartbeat(service=service_name(sender.hostname))
    except Exception as exc:
        logger.warning("could not remove the worker heartbeat: %r", exc)
