from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorConfig(AppConfig):
    name = "connector"
    verbose_name = _("Telephony connector")
