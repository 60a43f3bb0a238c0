from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "synod.chain"
    label = "chain"
