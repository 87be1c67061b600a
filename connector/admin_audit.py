"""Admin list of call-control attempts (``AuditEntry``): read-only, for staff with view permission."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from connector.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Who tried which command on which number or call, and what came of it. Nobody edits the record."""

    list_display = ("at", "user", "line", "action", "target", "result", "detail")
    list_filter = (
        "result",
        "action",
        ("line", admin.AllValuesFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
        "at",
    )
    search_fields = ("target", "line", "user__username", "detail")
    date_hierarchy = "at"
    list_select_related = ("user",)
    list_per_page = 100

    def get_readonly_fields(self, request: HttpRequest, obj: AuditEntry | None = None) -> list[str]:
        return [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
