"""WSGI entry point (the admin and pages only; websockets need ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telephony_site.settings")
application = get_wsgi_application()
