from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "synod.accounts"
    label = "accounts"
