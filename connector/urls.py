"""URLs of the connector app's pages."""

from django.urls import path

from connector import views

urlpatterns = [
    path("calls/", views.calls, name="calls"),
]
