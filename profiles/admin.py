"""Admin: Call Centre parameters inline on the user, seat actions, and the licence pool."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from profiles.licences import grant_seats, revoke_seats
from profiles.models import LicencePool, Profile

User = get_user_model()


class ProfileInline(admin.StackedInline):
    """The same fields the user sees on his profile page, plus the seat."""

    model = Profile
    fields = ["integration_disabled", "line", "outgoing_context", "debug_mode", "has_seat"]
    can_delete = False
    max_num = 1
    verbose_name = _("Call Centre parameters")
    verbose_name_plural = _("Call Centre parameters")


def _pool_summary() -> str:
    pool = LicencePool.get()
    return str(_("%(used)s of %(total)s seats used.") % {"used": pool.used, "total": pool.seats})


@admin.action(description=_("Grant a telephony licence to the selected users"))
def grant_seat(modeladmin, request, queryset) -> None:
    granted, refused = grant_seats(queryset.order_by("username"))
    if granted:
        modeladmin.message_user(
            request,
            ngettext("%(count)d user holds a seat.", "%(count)d users hold a seat.", len(granted))
            % {"count": len(granted)},
            messages.SUCCESS,
        )
    if refused:
        names = ", ".join(user.get_username() for user in refused)
        modeladmin.message_user(
            request,
            _("No telephony licence left for: %(names)s. %(summary)s") % {"names": names, "summary": _pool_summary()},
            messages.ERROR,
        )


@admin.action(description=_("Revoke the telephony licence of the selected users"))
def revoke_seat(modeladmin, request, queryset) -> None:
    freed = revoke_seats(queryset)
    modeladmin.message_user(
        request,
        ngettext("%(count)d seat revoked.", "%(count)d seats revoked.", freed) % {"count": freed}
        + " "
        + _pool_summary(),
        messages.SUCCESS,
    )


admin.site.unregister(User)


@admin.register(User)
class OperatorUserAdmin(UserAdmin):
    """Django's user admin with the Call Centre parameters and seat actions added."""

    inlines = [ProfileInline]
    actions = [grant_seat, revoke_seat]
    list_display = ["username", "first_name", "last_name", "is_staff", "is_active", "line", "seat"]
    list_filter = [*UserAdmin.list_filter, "profile__has_seat"]
    list_select_related = ["profile"]
    search_fields = [*UserAdmin.search_fields, "profile__line"]

    @admin.display(description=_("Line number"), ordering="profile__line")
    def line(self, user) -> str:
        profile = getattr(user, "profile", None)
        return (profile.line if profile else None) or "-"

    @admin.display(description=_("Telephony licence"), boolean=True)
    def seat(self, user) -> bool:
        profile = getattr(user, "profile", None)
        return bool(profile and profile.has_seat)


@admin.register(LicencePool)
class LicencePoolAdmin(admin.ModelAdmin):
    """One row: the number of seats, with how many are used."""

    list_display = ["__str__", "seats", "used_seats"]
    fields = ["seats", "used_seats"]
    readonly_fields = ["used_seats"]

    @admin.display(description=_("Seats used"))
    def used_seats(self, pool: LicencePool) -> int:
        return pool.used

    def has_add_permission(self, request) -> bool:
        return not LicencePool.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        LicencePool.get()
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # A refused form has already written the typed total into obj: title it with the saved pool.
        if obj is not None and obj.pk:
            saved = LicencePool.objects.get(pk=obj.pk)
            context.update(original=saved, subtitle=str(saved))
        return super().render_change_form(request, context, add, change, form_url, obj)
