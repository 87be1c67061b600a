"""Per-user Call Centre parameters and telephony licences."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, router, transaction
from django.utils.translation import gettext_lazy as _

# \Z, not $: "$" would accept a trailing newline ("305\n") and let it reach AMI.
line_validator = RegexValidator(
    r"^[A-Za-z0-9_.\-]{1,40}\Z",
    _("Use letters, digits and _ . - only (at most 40 characters)."),
    code="invalid_line",
)
context_validator = RegexValidator(
    r"^[A-Za-z0-9_.\-]{1,79}\Z",
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

    def clean(self) -> None:
        """Model-level rules shared by the profile page, the admin and any other path."""
        super().clean()
        self.check_seat()

    def validate_unique(self, exclude=None) -> None:
        """One line per user; the error names who holds the line."""
        exclude = set(exclude or ())
        if "line" not in exclude and self.line:
            holder = Profile.objects.filter(line=self.line).exclude(pk=self.pk).select_related("user").first()
            if holder is not None:
                message = _("Line %(line)s is already used by %(holder)s.") % {
                    "line": self.line,
                    "holder": holder.holder_name,
                }
                raise ValidationError({"line": ValidationError(message, code="line_taken")})
            exclude.add("line")
        super().validate_unique(exclude=exclude)

    def check_seat(self) -> None:
        """Refuse a newly granted seat when every seat of the licence pool is in use."""
        if not self.has_seat:
            return
        if self.pk and Profile.objects.filter(pk=self.pk, has_seat=True).exists():
            return  # already holds it: keeping a seat never needs a free one
        pool = LicencePool.locked()
        used = Profile.objects.filter(has_seat=True).exclude(pk=self.pk).count()
        if used >= pool.seats:
            message = _(
                "No telephony licence is free: %(used)s of %(total)s seats are in use. "
                "Raise the number of seats or revoke a seat first."
            ) % {"used": used, "total": pool.seats}
            raise ValidationError({"has_seat": ValidationError(message, code="no_free_seat")})

    @property
    def holder_name(self) -> str:
        """The username, with the full name when there is one: "alice (Alice Smith)"."""
        full_name = self.user.get_full_name()
        return f"{self.user.get_username()} ({full_name})" if full_name else self.user.get_username()

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

    def clean(self) -> None:
        """The number of seats may not drop below the seats already granted."""
        super().clean()
        if self.pk:
            LicencePool.locked(self.pk)  # no seat is granted meanwhile
        used = self.used
        if self.seats is not None and self.seats < used:
            message = _("%(used)s seats are granted; revoke seats before lowering the total to %(total)s.") % {
                "used": used,
                "total": self.seats,
            }
            raise ValidationError({"seats": ValidationError(message, code="seats_below_used")})

    @classmethod
    def get(cls) -> LicencePool:
        """The single pool row, created on first use."""
        pool, _created = cls.objects.get_or_create(pk=1)
        return pool

    @classmethod
    def locked(cls, pk: int | None = None) -> LicencePool:
        """The pool row, locked until the transaction ends, if there is one (the admin's forms run in one).

        Checking for a free seat and granting it then cannot interleave with another admin doing
        the same: the second waits for the first to commit, and counts its seat.
        """
        pool = cls.get() if pk is None else cls.objects.get(pk=pk)
        if transaction.get_connection(router.db_for_write(cls)).in_atomic_block:
            pool = cls.objects.select_for_update().get(pk=pool.pk)
        return pool

    @property
    def used(self) -> int:
        """How many users hold a seat now."""
        return Profile.objects.filter(has_seat=True).count()
