"""Admin page "Connector status": the effective connector configuration and the live AMI link state.

Read-only. The secret is shown only as "set" / "not set" (``ConnectorConfig.public_view``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from connector.models import ConnectorStatus

# Labels for the parameters, in the order the vendor's documentation lists them.
PARAMETER_HELP = {
    "url": _("Asterisk host (AMI)"),
    "port": _("AMI port"),
    "userName": _("AMI user"),
    "secret": _("AMI secret"),
    "protocol": _("Phone channel technology"),
    "originateContext": _("Context for outgoing calls"),
    "parkingLotContext": _("Context for parking (hold)"),
    "autoPauseOnCommutationStart": _("Pause the operator in queues when a call is answered"),
    "queueExtensionFormat": _("Queue member interface"),
    "asyncOriginate": _("Asynchronous Originate"),
    "sendRingStartedOnRingingState": _("Ringing on the phone's Ringing state"),
    "traceQueuesState": _("Follow queue member state"),
    "packetInfoConfig": _("Extra AMI fields passed to the browser"),
    "filePath": _("Scenario file replayed instead of Asterisk"),
    "authType": _("Login method"),
    "events": _("AMI event classes"),
    "eventFilter": _("AMI event filters"),
    "pingInterval": _("Keepalive interval, s"),
    "pingTimeout": _("Keepalive deadline, s"),
    "actionTimeout": _("Action timeout, s"),
}


class ConnectorStatusAdmin(admin.ModelAdmin):
    """One page instead of a change list: nothing here can be added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        view = settings.ASTERISK.public_view()
        parameters = [
            {"name": name, "label": PARAMETER_HELP.get(name, ""), "value": value} for name, value in view.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Connector status"),
            "opts": self.model._meta,
            "status": ConnectorStatus.get(),
            "parameters": parameters,
            "source": _("replaying a scenario file") if view.get("filePath") else _("live AMI connection"),
        }
        return TemplateResponse(request, "admin/connector_status.html", context)


admin.site.register(ConnectorStatus, ConnectorStatusAdmin)
