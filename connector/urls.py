"""URLs of the connector app's pages."""

from django.urls import path

from connector import health, views

urlpatterns = [
    path("calls/", views.calls, name="calls"),
    path("health/", health.health, name="health"),
]
