"""Per-user Call Centre parameters and telephony licences."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

line_validator = RegexValidator(
    r"^[A-Za-z0-9_.\-]{1,40}$",
    _("Use letters, digits and _ . - only (at most 40 characters)."),
    code="invalid_line",
)
context_validator = RegexValidator(
    r"^[A-Za-z0-9_.\-]{1,79}$",
    _("Not an Asterisk context name: use letters, digits and _ . - only."),
    code="invalid_context",
)


class Profile(models.Model):
    """One per user: his Call Centre parameters and whether he holds a seat."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    integration_disabled = models.BooleanField(_("Disable Contact Centre integration"), default=False)
    line = models.CharField(
        _("Line number"),
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        validators=[line_validator],
        help_text=_("305 tracks SIP/305 or PJSIP/305; office tracks SIP/office."),
    )
    outgoing_context = models.CharField(
        _("Outgoing call context"),
        max_length=79,
        blank=True,
        validators=[context_validator],
        help_text=_("Overrides the connector's originate context for this user."),
    )
    debug_mode = models.BooleanField(_("Enable debug mode"), default=False)
    has_seat = models.BooleanField(_("Telephony licence"), default=False)

    class Meta:
        verbose_name = _("Call Centre parameters")
        verbose_name_plural = _("Call Centre parameters")

    def __str__(self) -> str:
        return f"{self.user} ({self.line or '-'})"

    def save(self, *args, **kwargs):
        # Store "no line" as NULL so the unique constraint ignores it.
        self.line = self.line or None
        super().save(*args, **kwargs)

    @classmethod
    def for_user(cls, user) -> Profile:
        """The user's profile, created on first use."""
        profile, _created = cls.objects.get_or_create(user=user)
        return profile

    @property
    def telephony_enabled(self) -> bool:
        """Licensed, not disabled and with a line: the panel and socket are allowed."""
        return self.has_seat and not self.integration_disabled and bool(self.line)


class LicencePool(models.Model):
    """The number of telephony seats the site may grant (a single row)."""

    seats = models.PositiveIntegerField(_("Seats"), default=0)

    class Meta:
        verbose_name = _("Telephony licences")
        verbose_name_plural = _("Telephony licences")

    def __str__(self) -> str:
        return str(_("%(used)s of %(total)s seats used") % {"used": self.used, "total": self.seats})

    @classmethod
    def get(cls) -> LicencePool:
        """The single pool row, created on first use."""
        pool, _created = cls.objects.get_or_create(pk=1)
        return pool

    @property
    def used(self) -> int:
        return Profile.objects.filter(has_seat=True).count()
