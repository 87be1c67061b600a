"""The operator's own call history page (``/calls/``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from connector.models import Call, CallState, Direction, EndReason

CALLS_PER_PAGE = 25


@login_required
def calls(request: HttpRequest) -> HttpResponse:
    """The logged-in user's calls, newest first; ``?missed=1`` shows only missed ones.

    Rows are chosen by owner, never by a line named in the request, so an
    operator cannot see another line's calls.
    """
    rows = Call.objects.filter(user=request.user).order_by("-started_at", "-pk")
    missed_only = request.GET.get("missed") == "1"
    if missed_only:
        rows = rows.filter(direction=Direction.INBOUND, state=CallState.ENDED, answered_at__isnull=True).exclude(
            end_reason=EndReason.ANSWERED_ELSEWHERE
        )
    page = Paginator(rows, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "connector/calls.html", {"page": page, "missed_only": missed_only})
