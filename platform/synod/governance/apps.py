from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "synod.governance"
    label = "governance"
