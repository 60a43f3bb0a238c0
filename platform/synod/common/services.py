from django.utils import timezone

from synod.common.models import ServiceHeartbeat

WORKER_PREFIX = "worker:"


def record_heartbeat(*, service: str, details: dict | None = None) -> ServiceHeartbeat:
    defaults: dict = {"seen_at": timezone.now()}
    if details is not None:
        defaults["details"] = details
    heartbeat, _ = ServiceHeartbeat.objects.update_or_create(service=service, defaults=defaults)
    return heartbeat


def forget_heartbeat(*, service: str) -> None:
    """A service that stops cleanly leaves at once instead of going stale."""
    ServiceHeartbeat.objects.filter(service=service).delete()
