"""``/health/``: is the AMI worker alive and connected? For load balancers and monitoring.

Reads the ``ConnectorStatus`` row the active worker keeps (state on every
change, ``updated_at`` refreshed every few seconds). No login is needed, so
the answer holds nothing sensitive: without a staff session the detail is a
fixed sentence per status, never the row's text (which names host and user).

    200 {"ok": true,  "status": "ok", "state": "connected", "detail": ..., "age": 1.2, "stale_after": 30.0}
    503 {"ok": false, "status": "ami_down" | "ami_auth_failed" | "stale" | "no_worker" | "database_unavailable", ...}
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from connector.models import ConnectorStatus

logger = logging.getLogger(__name__)

# A worker heartbeats at least once per Ping interval; three missed means it is gone.
STALE_PINGS = 3

PUBLIC_DETAIL = {
    "ok": "The worker is connected to Asterisk.",
    "ami_down": "The worker is not connected to Asterisk.",
    "ami_auth_failed": "Asterisk refused the worker's login.",
    "stale": "The worker has not reported for too long.",
    "no_worker": "No worker has reported yet.",
    "database_unavailable": "The database cannot be read.",
}


def stale_after() -> float:
    """Seconds without a heartbeat after which the worker counts as gone."""
    return STALE_PINGS * float(settings.ASTERISK.pingInterval)


def connector_health() -> dict:
    """The health report (``ok``, ``status``, ``state``, ``detail``, ``age``, ``stale_after``); detail unfiltered."""
    limit = stale_after()
    report = {"ok": False, "status": "no_worker", "state": "down", "detail": "", "age": None, "stale_after": limit}
    try:
        row = ConnectorStatus.objects.filter(pk=1).first()
    except DatabaseError as exc:
        logger.warning("Health check cannot read the connector status: %s", type(exc).__name__)
        return {**report, "status": "database_unavailable"}
    if row is None:
        return report
    age = max(0.0, (timezone.now() - row.updated_at).total_seconds())
    if age > limit:
        status = "stale"
    elif row.state == "connected":
        status = "ok"
    elif row.detail.startswith("ami_auth_failed"):
        status = "ami_auth_failed"
    else:
        status = "ami_down"
    return {
        **report,
        "ok": status == "ok",
        "status": status,
        "state": row.state,
        "detail": row.detail,
        "age": round(age, 1),
    }


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 while the worker is connected and reporting, 503 otherwise."""
    report = connector_health()
    user = getattr(request, "user", None)
    if not (user is not None and user.is_active and user.is_staff):
        report["detail"] = PUBLIC_DETAIL[report["status"]]
    return JsonResponse(report, status=200 if report["ok"] else 503)
