"""The "System settings" list in the admin, like the vendor's: code, name, value, description."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from settings.forms import SystemSettingForm
from settings.models import SystemSetting
from settings.registry import ensure_rows

admin.site.site_header = _("Call centre administration")
admin.site.site_title = _("Call centre administration")


@admin.register(SystemSetting)
class SystemSettingAdmin(admin.ModelAdmin):
    """Rows exist for every registered code; values are validated by the registry."""

    form = SystemSettingForm
    list_display = ["code", "setting_name", "setting_value", "setting_description"]
    list_display_links = ["code", "setting_name"]
    readonly_fields = ["code", "setting_name", "setting_description"]
    fields = ["code", "setting_name", "value", "setting_description"]
    search_fields = ["code"]

    @admin.display(description=pgettext_lazy("system setting", "Name"))
    def setting_name(self, obj: SystemSetting) -> str:
        return obj.name

    @admin.display(description=_("Value"))
    def setting_value(self, obj: SystemSetting) -> str:
        return obj.value_label

    @admin.display(description=_("Description"))
    def setting_description(self, obj: SystemSetting) -> str:
        return obj.description

    def has_add_permission(self, request) -> bool:
        # A setting exists because the registry knows it; nobody types in a new code.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        ensure_rows()
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        for warning in getattr(form, "warnings", []):
            self.message_user(request, warning, level=messages.WARNING)
