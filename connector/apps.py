from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorConfig(AppConfig):
    name = "connector"
    verbose_name = _("Telephony connector")

    def ready(self) -> None:
        # Open sockets follow profile, licence and account changes, and logouts.
        from connector import socket_signals

        socket_signals.connect()
