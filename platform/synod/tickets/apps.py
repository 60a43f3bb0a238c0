from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "synod.tickets"
    label = "tickets"
