from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "synod.registry"
    label = "registry"
