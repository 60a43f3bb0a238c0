from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the platform as a whole: the supervisor, start-up, demo content, health and
    the status page. It composes the domain apps (through their services and selectors) and
    no domain app imports it."""

    name = "synod.operations"
    label = "operations"
