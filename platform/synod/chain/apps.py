from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ChainConfig(AppConfig):
    name = "synod.chain"
    label = "chain"

    def ready(self) -> None:
        # Each app subscribes to chain events in its own handlers.py (see chain/events.py).
        autodiscover_modules("handlers")
