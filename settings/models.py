"""System settings: a code, a name, a value and a description, like the vendor's list."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SystemSetting(models.Model):
    """One setting row. Codes and their rules live in ``settings.registry``, so a new
    setting needs a registry entry, not a migration."""

    code = models.CharField(_("Code"), max_length=100, unique=True)
    value = models.TextField(_("Value"), blank=True)

    class Meta:
        verbose_name = _("system setting")
        verbose_name_plural = _("System settings")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code
