from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "synod.common"
    label = "common"

    def ready(self) -> None:
        # Connects the Celery worker signals that publish worker heartbeats.
        from synod.common import worker_heartbeat  # noqa: F401
