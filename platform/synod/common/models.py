from django.db import models


class ServiceHeartbeat(models.Model):
    """The last time a long-running service (beat, a worker) proved it was alive."""

    service = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()
    # What the service says about itself (a worker: host name, pid, pool size, queues).
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.service} @ {self.seen_at:%H:%M:%S}"
