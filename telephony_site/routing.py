"""Websocket routes (PROTOCOL.md: /ws/telephony/)."""

websocket_urlpatterns: list = []
