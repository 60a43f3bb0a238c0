from celery import shared_task

from synod.common import services


@shared_task(ignore_result=True)
def record_heartbeat(service: str) -> None:
    services.record_heartbeat(service=service)


@shared_task
def ping() -> str:
    """A round trip through the broker and a worker; used by the health checks and tests."""
    return "pong"


@shared_task(ignore_result=True)
def probe(marker: str, hold_s: float = 0.0) -> None:
    """A delivery check: records `probe-started:<marker>`, holds the worker for `hold_s`
    seconds, then records `probe-done:<marker>`. Operators and the tests use it to see that a
    task reaches a worker, and is delivered again when the worker holding it dies."""
    import time

    services.record_heartbeat(service=f"probe-started:{marker}")
    time.sleep(hold_s)
    services.record_heartbeat(service=f"probe-done:{marker}")
