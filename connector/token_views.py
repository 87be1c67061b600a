"""``/telephony/token/``: a short-lived websocket token for the logged-in user."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from connector.tokens import issue_token, max_age


@never_cache
@require_http_methods(["GET", "POST"])
def ws_token(request):
    """Issue a token for a messaging node on another host or port (PROTOCOL.md, "The socket").

    Answers 401 JSON rather than a login redirect: the panel's script calls it.
    """
    if not request.user.is_authenticated:
        return JsonResponse({"error": {"code": "unauthenticated", "message": "Log in first."}}, status=401)
    return JsonResponse({"token": issue_token(request.user), "expires_in": max_age()})
