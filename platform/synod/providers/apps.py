from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "synod.providers"
    label = "providers"
