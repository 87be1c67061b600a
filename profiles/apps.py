from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = _("Call Centre parameters")

    def ready(self) -> None:
        # Connect the receivers that send profile_changed.
        from profiles import signals  # noqa: F401
