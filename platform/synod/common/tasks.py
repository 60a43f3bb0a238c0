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
def seed_demo() -> None:
    import logging

    from synod.common import demo

    demo.seed_demo(progress=logging.getLogger("synod.demo").info)
