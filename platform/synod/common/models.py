from django.db import models


class ServiceHeartbeat(models.Model):
    """The last time a long-running service (beat, a worker) proved it was alive."""

    service = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.service} @ {self.seen_at:%H:%M:%S}"
