"""The production split for browser tests: the fake AMI in a thread, ``ami_worker`` as a subprocess.

The fake AMI (tests/fakeami.py) is asyncio code; it runs on its own event loop
in a background thread so the synchronous Playwright test can drive it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

from tests.browser.conftest import ROOT, start_process, stop_process
from tests.fakeami import FakeAMI

TRACES = ROOT / "tests" / "traces" / "asterisk-20.20.1-sip"


class FakeAmiThread:
    """A FakeAMI listening on 127.0.0.1 with its event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-ami", daemon=True)
        self.thread.start()
        self.ami: FakeAMI = self.run(self._start())

    async def _start(self) -> FakeAMI:
        return await FakeAMI(username="terrasoft", secret="terrasoft").start()

    def run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def push(self, messages: list[bytes]) -> None:
        """Send recorded AMI messages, in order, to every logged-in connection."""

        async def send_all() -> None:
            for message in messages:
                await self.ami.push_event(message)

        self.run(send_all())

    def actions(self, name: str) -> list:
        return list(self.ami.actions_named(name))

    def wait_action(self, name: str, count: int = 1, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.actions(name)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.02)
        seen = [a.get("Action") for a in list(self.ami.actions)]
        raise AssertionError(f"no {name!r} action reached the fake AMI in {timeout} s (saw {seen})")

    def close(self) -> None:
        try:
            self.run(self.ami.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


def trace_messages(name: str, replace: dict[str, str] | None = None) -> list[bytes]:
    """The received (``in``) messages of a recorded scenario, after the login and resync lists."""
    messages = []
    for line in (TRACES / name).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] == "in":
            messages.append(record["msg"])
    start = next(i for i, text in enumerate(messages) if "Event: StatusComplete" in text) + 1
    scenario = [text for text in messages[start:] if not text.startswith("Response: Goodbye")]
    for old, new in (replace or {}).items():
        scenario = [text.replace(old, new) for text in scenario]
    return [text.encode("utf-8") for text in scenario]


def start_worker(server_env: dict[str, str], ami_port: int, log_name: str = "worker.log"):
    """``manage.py ami_worker`` against the fake AMI, over the browser tests' Redis and database."""
    env = dict(server_env)
    env.update(
        {
            "ASTERISK_URL": "127.0.0.1",
            "ASTERISK_PORT": str(ami_port),
            "ASTERISK_USER_NAME": "terrasoft",
            "ASTERISK_SECRET": "terrasoft",
            "ASTERISK_PROTOCOL": "SIP/",
            "ASTERISK_ORIGINATE_CONTEXT": "from-internal",
        }
    )
    return start_process(
        [sys.executable, "manage.py", "ami_worker"],
        env,
        Path(server_env["BROWSER_TEST_LOGS"]) / log_name,
    )


__all__ = ["FakeAmiThread", "start_worker", "stop_process", "trace_messages"]
