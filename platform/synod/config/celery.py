import os

from celery import Celery

from synod.config import embedded_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synod.config.settings.local")

app = Celery("synod")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


if app.conf.broker_url == embedded_broker.URL:
    embedded_broker.prepare(app.conf.broker_transport_options, app.conf.result_backend or "")
