import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synod.config.settings.local")

app = Celery("synod")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _prepare_embedded_broker() -> None:
    """The filesystem broker and result backend need their folders before first use."""
    folders = [
        app.conf.broker_transport_options.get(key)
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")
    ]
    backend = app.conf.result_backend or ""
    if backend.startswith("file://"):
        folders.append(backend.removeprefix("file://"))
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)


if app.conf.broker_url == "filesystem://":
    _prepare_embedded_broker()
