"""README command 1, end to end: ``manage.py demo`` as a real process.

The site must answer, an operator's websocket must see a call ring and answer
it with the demo's "answer on phone", and SIGTERM must stop the whole thing with no process left behind.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import websockets

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "demo-pass-for-tests-1"

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTERISK_", "DJANGO_", "REDIS_URL", "DEMO_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", DEMO_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port), "--calls-per-minute", "60", "--patience", "4"],
        cwd=ROOT,
        env=env,
        stdout=open(tmp_path / "demo.out", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, to prove nothing is left behind
    )
    try:
        yield process, port, tmp_path / "demo.out"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_for_site(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                return response.status
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"the demo did not answer within {timeout} s:\n{log.read_text()}")


def log_in(port: int, username: str) -> str:
    """Log in through the real login form (with its CSRF token); returns the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    page = opener.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}).encode()
    opener.open(urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"}), timeout=10)
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    assert session, "login did not give a session"
    return session


async def ring_and_answer(port: int, session: str, timeout: float) -> list[dict]:
    """Wait on the operator's socket for a ``call.ringing``, answer it with ``demo_answer``, collect until answered."""
    url = f"ws://127.0.0.1:{port}/ws/telephony/"
    headers = {"Cookie": f"sessionid={session}", "Origin": f"http://127.0.0.1:{port}"}
    seen: list[dict] = []
    async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello" and hello["line"] == "305"
        deadline = time.monotonic() + timeout
        while not any(m.get("type") == "call.answered" for m in seen):
            message = json.loads(await asyncio.wait_for(ws.recv(), max(deadline - time.monotonic(), 0.1)))
            seen.append(message)
            if message.get("type") == "call.ringing" and not any(m.get("type") == "result" for m in seen):
                await ws.send(json.dumps({"type": "demo_answer", "ref": "answer-1", "call_id": message["call"]["id"]}))
    return seen


def test_the_demo_serves_rings_an_operator_and_stops_cleanly(demo):
    process, port, log = demo

    assert wait_for_site(port, process, log) == 200
    output = log.read_text()
    assert f"http://127.0.0.1:{port}/" in output and f"alice / {PASSWORD}" in output

    session = log_in(port, "alice")
    seen = asyncio.run(ring_and_answer(port, session, timeout=30))
    ringing = next(m for m in seen if m.get("type") == "call.ringing")
    result = next(m for m in seen if m.get("type") == "result")
    answered = next(m for m in seen if m.get("type") == "call.answered")
    assert ringing["call"]["line"] == "305" and ringing["call"]["direction"] == "inbound"
    assert result["ref"] == "answer-1" and result["ok"] is True
    assert answered["call"]["id"] == ringing["call"]["id"]

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # the process group is empty: nothing left behind
    assert "Demo stopped." in log.read_text()
