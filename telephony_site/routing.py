"""Websocket routes (PROTOCOL.md: /ws/telephony/)."""

from django.urls import path

from connector.consumers import TelephonyConsumer

websocket_urlpatterns: list = [
    path("ws/telephony/", TelephonyConsumer.as_asgi()),
]
