"""Call history rows and the per-line state the panel's snapshot is built from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")
    INTERNAL = "internal", _("Internal")


class CallState(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    DIALING = "dialing", _("Dialing")
    ACTIVE = "active", _("Active")
    HELD = "held", _("Held")
    ENDED = "ended", _("Ended")


class EndReason(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    ANSWERED_ELSEWHERE = "answered_elsewhere", _("Answered elsewhere")
    TRANSFERRED = "transferred", _("Transferred")


class Call(models.Model):
    """One call on one operator's line (PROTOCOL.md's call object), written as it progresses."""

    call_id = models.CharField(_("Call id"), max_length=64)
    line = models.CharField(_("Line"), max_length=40, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("User")
    )
    direction = models.CharField(_("Direction"), max_length=10, choices=Direction.choices)
    state = models.CharField(_("State"), max_length=10, choices=CallState.choices)
    remote_number = models.CharField(_("Number"), max_length=80, null=True, blank=True)
    remote_name = models.CharField(_("Name"), max_length=200, null=True, blank=True)
    queue = models.CharField(_("Queue"), max_length=80, null=True, blank=True)
    parking_slot = models.CharField(_("Parking slot"), max_length=20, null=True, blank=True)
    started_at = models.DateTimeField(_("Started"), db_index=True)
    answered_at = models.DateTimeField(_("Answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("Ended"), null=True, blank=True)
    duration = models.FloatField(_("Duration, s"), null=True, blank=True)
    end_reason = models.CharField(_("Result"), max_length=20, choices=EndReason.choices, null=True, blank=True)
    extra = models.JSONField(_("Extra"), default=dict, blank=True)
    linkedid = models.CharField(_("Linkedid"), max_length=64, blank=True)
    uniqueid = models.CharField(_("Uniqueid"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("call history")
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["line", "call_id"], name="unique_call_per_line")]
        indexes = [
            # The operator's own history page, newest first.
            models.Index(fields=["user", "-started_at"], name="call_user_started"),
            # Support looks calls up by Asterisk's Linkedid.
            models.Index(fields=["linkedid"], name="call_linkedid"),
        ]

    def __str__(self) -> str:
        return f"{self.line} {self.direction} {self.remote_number or ''} ({self.state})"

    @property
    def is_missed(self) -> bool:
        """An inbound call that ended unanswered on this line (taken by a colleague does not count)."""
        return (
            self.direction == Direction.INBOUND
            and self.state == CallState.ENDED
            and self.answered_at is None
            and self.end_reason != EndReason.ANSWERED_ELSEWHERE
        )

    @property
    def talk_time(self) -> str:
        """The talk duration as ``m:ss`` (``h:mm:ss`` past an hour); "" if never answered."""
        if self.duration is None:
            return ""
        minutes, seconds = divmod(round(self.duration), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    def as_protocol(self) -> dict:
        """The call object exactly as PROTOCOL.md names its fields."""

        def iso(value):
            return value.isoformat().replace("+00:00", "Z") if value else None

        return {
            "id": self.call_id,
            "line": self.line,
            "direction": self.direction,
            "state": self.state,
            "remote_number": self.remote_number,
            "remote_name": self.remote_name,
            "queue": self.queue,
            "parking_slot": self.parking_slot,
            "started_at": iso(self.started_at),
            "answered_at": iso(self.answered_at),
            "ended_at": iso(self.ended_at),
            "duration": self.duration,
            "end_reason": self.end_reason,
            "extra": self.extra or {},
        }


class LineState(models.Model):
    """Per-line counters and agent state, written in step with the call rows."""

    line = models.CharField(_("Line"), max_length=40, unique=True)
    seq = models.BigIntegerField(_("Event counter"), default=0)
    agent_state = models.CharField(_("Agent state"), max_length=10, default="ready")
    agent_reason = models.CharField(_("Reason"), max_length=200, blank=True)
    agent_queues = models.JSONField(_("Queues"), default=list, blank=True)
    updated_at = models.DateTimeField(_("Updated"), auto_now=True)

    class Meta:
        verbose_name = _("line state")
        verbose_name_plural = _("line states")

    def __str__(self) -> str:
        return f"{self.line}: seq {self.seq}, {self.agent_state}"


class ConnectorStatus(models.Model):
    """The AMI link state as the active worker last reported it (a single row)."""

    state = models.CharField(max_length=20, default="down")
    detail = models.CharField(max_length=300, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("connector status")
        verbose_name_plural = _("connector status")

    def __str__(self) -> str:
        return self.state

    @classmethod
    def get(cls) -> ConnectorStatus:
        status, _created = cls.objects.get_or_create(pk=1)
        return status


class AuditEntry(models.Model):
    """One call-control attempt from a browser, executed or refused (connector.audit)."""

    OK = "ok"

    at = models.DateTimeField(_("At"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("User")
    )
    line = models.CharField(_("Line"), max_length=40, blank=True)
    action = models.CharField(_("Command"), max_length=40, blank=True)
    target = models.CharField(_("Number or call id"), max_length=80, blank=True)
    result = models.CharField(_("Result"), max_length=40, help_text=_('"ok" or the error code the user got'))
    detail = models.CharField(_("Detail"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "-at"], name="audit_user_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.line} {self.action} {self.target} {self.result}"
