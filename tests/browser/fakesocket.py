"""A scripted stand-in for the telephony websocket, inside the browser (Playwright routing).

The page's real panel script connects to ``/ws/telephony/``; Playwright answers
instead of the server, so the panel can be driven message by message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_call(call_id: str, state: str, **fields) -> dict:
    """A PROTOCOL.md call object on line 305, with sensible defaults."""
    now = datetime.now(UTC)
    call = {
        "id": call_id,
        "line": "305",
        "direction": "inbound",
        "state": state,
        "remote_number": "79161234567",
        "remote_name": "Ivan Petrov",
        "queue": None,
        "parking_slot": None,
        "started_at": iso(now - timedelta(seconds=5)),
        "answered_at": iso(now) if state in ("active", "held") else None,
        "ended_at": None,
        "duration": None,
        "end_reason": None,
        "extra": {},
    }
    call.update(fields)
    return call


class FakeSocket:
    """Routes the page's telephony websockets to this object."""

    def __init__(self, page) -> None:
        self.page = page
        self.routes: list = []
        self.sent: list[dict] = []
        self.urls: list[str] = []
        page.route_web_socket(lambda url: "/ws/telephony/" in url, self._accept)

    def _accept(self, route) -> None:
        self.routes.append(route)
        self.urls.append(route.url)
        route.on_message(lambda message: self.sent.append(json.loads(message)))

    def wait_until(self, predicate: Callable[[], object], timeout: float = 8.0, what: str = "condition") -> object:
        """Let the browser run until predicate() is true (Playwright delivers events while waiting)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            self.page.wait_for_timeout(25)
        raise AssertionError(f"timed out waiting for {what}; sent so far: {self.sent}")

    def wait_connected(self, count: int = 1) -> None:
        self.wait_until(lambda: len(self.routes) >= count, what=f"websocket connection #{count}")

    def push(self, message: dict) -> None:
        """Send a server message to the newest connection."""
        self.routes[-1].send(json.dumps(message))

    def hello(self, calls: list[dict] | None = None, seq: int = 0, **fields) -> None:
        message = {
            "type": "hello",
            "line": "305",
            "debug": False,
            "seq": seq,
            "calls": calls or [],
            "agent": {"state": "ready", "reason": None, "queues": ["support"]},
            "connector": {"state": "connected"},
        }
        message.update(fields)
        self.push(message)

    def commands(self, type_: str) -> list[dict]:
        return [message for message in self.sent if message.get("type") == type_]

    def wait_command(self, type_: str, count: int = 1) -> dict:
        self.wait_until(lambda: len(self.commands(type_)) >= count, what=f"{count} {type_!r} command(s)")
        return self.commands(type_)[count - 1]

    def result(self, command: dict, ok: bool = True, code: str = "", message: str = "") -> None:
        reply = {"type": "result", "ref": command["ref"], "ok": ok}
        if not ok:
            reply["error"] = {"code": code, "message": message}
        self.push(reply)
