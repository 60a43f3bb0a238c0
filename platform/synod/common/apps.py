from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "synod.common"
    label = "common"
