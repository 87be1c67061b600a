from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettingsConfig(AppConfig):
    name = "settings"
    label = "system_settings"
    verbose_name = _("System settings")

    def ready(self) -> None:
        # Register the deployment checks.
        from settings import checks  # noqa: F401
