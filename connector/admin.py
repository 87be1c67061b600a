"""Admin for the call history (everyone's calls, filters, CSV export) and per-line state."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from connector.models import Call, LineState

CSV_COLUMNS = [
    "started_at",
    "answered_at",
    "ended_at",
    "line",
    "user",
    "direction",
    "state",
    "remote_number",
    "remote_name",
    "queue",
    "duration",
    "end_reason",
    "call_id",
    "linkedid",
    "uniqueid",
]

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PHONE_NUMBER = re.compile(r"^\+?[0-9*#]+$")


def csv_safe(value: object) -> str:
    """The cell text, with a leading ``'`` where a spreadsheet would see a formula.

    A plain phone number such as ``+79161234567`` is left as it is.
    """
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text.startswith(_FORMULA_START) and not _PHONE_NUMBER.match(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object that hands back what is written, for streaming CSV."""

    def write(self, value: str) -> str:
        return value


def csv_rows(calls: Iterable[Call]) -> Iterator[str]:
    """The export's lines: a BOM (so spreadsheets read UTF-8 names), the header, then one line per call."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(CSV_COLUMNS)
    for call in calls:
        values = {name: getattr(call, name) for name in CSV_COLUMNS if name != "user"}
        values["user"] = call.user.get_username() if call.user else ""
        yield writer.writerow([csv_safe(values[name]) for name in CSV_COLUMNS])


def csv_response(calls: QuerySet[Call]) -> StreamingHttpResponse:
    """A streamed ``calls-<date>.csv`` download."""
    rows = csv_rows(calls.select_related("user").order_by("-started_at", "-pk").iterator(chunk_size=1000))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    filename = f"calls-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    """Everyone's calls. Read-only: the history is a record of what Asterisk reported."""

    list_display = (
        "started_at",
        "line",
        "user",
        "direction",
        "remote_number",
        "remote_name",
        "talk_time",
        "end_reason",
        "state",
    )
    list_filter = (
        "direction",
        "end_reason",
        "state",
        ("line", admin.AllValuesFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
        "started_at",
    )
    search_fields = ("remote_number", "remote_name", "line", "linkedid", "uniqueid", "call_id")
    date_hierarchy = "started_at"
    list_select_related = ("user",)
    list_per_page = 50
    actions = ("export_csv",)
    change_list_template = "admin/connector/call/change_list.html"

    @admin.display(description=_("Talk time"), ordering="duration")
    def talk_time(self, call: Call) -> str:
        return call.talk_time or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Call | None = None) -> list[str]:
        return [field.name for field in Call._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        # Not a call record may be lost, not even by a superuser's click.
        return False

    @admin.action(description=_("Export selected calls as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Call]) -> StreamingHttpResponse:
        return csv_response(queryset)

    def get_urls(self):
        export = path("export/", self.admin_site.admin_view(self.export_view), name="connector_call_export")
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """Every call the current list filters and search select, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters as exc:
            raise SuspiciousOperation("Invalid filter for the call export") from exc
        return csv_response(changelist.get_queryset(request))


AGENT_STATE_LABELS = {"ready": _("Ready"), "not_ready": _("Not ready"), "wrap_up": _("Wrap-up")}


@admin.register(LineState)
class LineStateAdmin(admin.ModelAdmin):
    """Each line's event counter and queue agent state (written by the worker)."""

    list_display = ("line", "seq", "agent", "agent_reason", "updated_at")
    search_fields = ("line",)
    ordering = ("line",)

    @admin.display(description=_("Agent state"), ordering="agent_state")
    def agent(self, state: LineState) -> str:
        # The same words as the operator's panel; an unknown code is shown as it is.
        return str(AGENT_STATE_LABELS.get(state.agent_state, state.agent_state))

    def get_readonly_fields(self, request: HttpRequest, obj: LineState | None = None) -> list[str]:
        return [field.name for field in LineState._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LineState | None = None) -> bool:
        return False


# The connector status page and the audit log live in their own modules.
from connector import admin_audit, admin_status  # noqa: E402, F401
