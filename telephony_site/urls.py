from django.conf.urls.i18n import i18n_patterns  # noqa: F401  (language switching uses set_language)
from django.contrib import admin
from django.urls import include, path

from connector.token_views import ws_token

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("telephony/token/", ws_token, name="telephony-token"),
    path("", include("profiles.urls")),
    path("", include("connector.urls")),
]
