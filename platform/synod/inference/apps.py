from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "synod.inference"
    label = "inference"
