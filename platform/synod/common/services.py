from django.utils import timezone

from synod.common.models import ServiceHeartbeat


def record_heartbeat(*, service: str) -> ServiceHeartbeat:
    heartbeat, _ = ServiceHeartbeat.objects.update_or_create(
        service=service, defaults={"seen_at": timezone.now()}
    )
    return heartbeat
