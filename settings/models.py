"""System settings: a code, a name, a value and a description, like the vendor's list."""

from __future__ import annotations

from django.core.exceptions import ValidationError
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

    def clean(self) -> None:
        """Validate the value with the registry's rules; unknown codes are refused."""
        spec = self.spec
        if spec is None:
            raise ValidationError({"code": _("Unknown setting code: %(code)s.") % {"code": self.code}})
        try:
            self.value = spec.clean(self.value)
        except ValidationError as exc:
            raise ValidationError({"value": exc.messages}) from exc

    @property
    def spec(self):
        """The registry entry for this code, or None for a code the site does not know."""
        from settings.registry import SETTINGS

        return SETTINGS.get(self.code)

    @property
    def name(self) -> str:
        return str(self.spec.name) if self.spec else self.code

    @property
    def description(self) -> str:
        return str(self.spec.description) if self.spec else ""

    @property
    def value_label(self) -> str:
        """The value as a person reads it: the choice label for a choice setting."""
        return self.spec.label_for(self.value) if self.spec else self.value
