"""Site-wide response headers."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Send a Content-Security-Policy: scripts only from this site, no inline script.

    The messaging node (SysMsgServerNode) may be another host, so websocket
    connections are allowed to any ws/wss origin; authentication guards them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = getattr(
                settings,
                "CONTENT_SECURITY_POLICY",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
            )
        return response
