"""``/health/``: the worker's link state and heartbeat, for monitoring (reliability cases 1 and 7)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta

import pytest
from channels.layers import InMemoryChannelLayer
from django.utils import timezone

from connector.ami.tracker import CallTracker, TrackerConfig
from connector.config import ConnectorConfig
from connector.history import HistoryWriter
from connector.models import ConnectorStatus
from connector.publisher import Publisher
from connector.tests.worker_helpers import running
from connector.worker import Worker, WorkerParts
from connector.worker_upkeep import Upkeep, touch_connector_status
from tests.fakeami import FakeAMI

pytestmark = pytest.mark.timeout(30)

SECRET = "health-secret-5b7c"


def set_status(state: str, detail: str = "", age: float = 0.0) -> None:
    ConnectorStatus.objects.update_or_create(pk=1, defaults={"state": state, "detail": detail})
    ConnectorStatus.objects.filter(pk=1).update(updated_at=timezone.now() - timedelta(seconds=age))


@pytest.fixture
def ping_interval(settings):
    def set_interval(seconds: float) -> None:
        settings.ASTERISK = dataclasses.replace(settings.ASTERISK, pingInterval=seconds)

    set_interval(10.0)
    return set_interval


@pytest.mark.django_db
def test_it_answers_200_while_the_worker_is_connected(client, ping_interval):
    set_status("connected", "10.0.0.5:5038", age=2)
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True and body["status"] == "ok" and body["state"] == "connected"
    assert 1.5 <= body["age"] < 10 and body["stale_after"] == 30.0
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_it_needs_no_login_and_shows_anonymous_callers_no_host_or_user(client, ping_interval):
    set_status("down", "ami_auth_failed: login refused for user 'terrasoft' at 10.0.0.5:5038")
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "ami_auth_failed" and body["state"] == "down"
    assert "terrasoft" not in response.content.decode() and "10.0.0.5" not in response.content.decode()
    assert body["detail"] == "Asterisk refused the worker's login."


@pytest.mark.django_db
def test_staff_see_the_status_rows_detail(client, dave, ping_interval):
    set_status("reconnecting", "no answer to Ping within 5 s")
    client.force_login(dave)
    body = client.get("/health/").json()
    assert body["status"] == "ami_down" and body["detail"] == "no answer to Ping within 5 s"


@pytest.mark.django_db
def test_a_connected_row_without_heartbeat_for_three_ping_intervals_is_stale(client, ping_interval):
    ping_interval(2.0)
    set_status("connected", "x", age=5.5)
    assert client.get("/health/").status_code == 200
    set_status("connected", "x", age=6.5)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "stale" and response.json()["ok"] is False


@pytest.mark.django_db
def test_before_any_worker_reported_it_is_503_no_worker(client, ping_interval):
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["status"] == "no_worker"


@pytest.mark.django_db
def test_it_refuses_post(client, ping_interval):
    assert client.post("/health/").status_code == 405


async def health() -> tuple[int, dict]:
    """GET /health/ from a thread of its own, as a monitoring probe would, closing its connection after."""
    from django.db import connection
    from django.test import Client

    def get():
        try:
            response = Client().get("/health/")
            return response.status_code, response.json()
        finally:
            connection.close()

    return await asyncio.to_thread(get)


async def wait_health(status: str, timeout: float = 8.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        code, body = await health()
        if body["status"] == status:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"health stayed {body} instead of {status}")
        await asyncio.sleep(0.05)


def live_worker(ami: FakeAMI, history: HistoryWriter, interval: float, **client_options) -> Worker:
    config = ConnectorConfig(
        url="127.0.0.1", port=ami.port, userName="terrasoft", secret=SECRET, pingInterval=interval, pingTimeout=0.3
    )
    tracker = CallTracker(TrackerConfig.from_connector(config))
    options = {"backoff_base": 0.05, "backoff_cap": 0.2, "fully_booted_wait": 0.3, **client_options}
    parts = WorkerParts(
        config=config,
        tracker=tracker,
        publisher=Publisher(InMemoryChannelLayer(), history),
        history=history,
        upkeep=Upkeep(tracker, heartbeat=touch_connector_status, interval=interval / 2),
        client_options=options,
    )
    return Worker(parts)


@pytest.mark.django_db(transaction=True)
async def test_the_heartbeat_keeps_a_connected_worker_healthy_and_a_half_open_link_shows_ami_down(ping_interval):
    ping_interval(0.4)  # stale after 1.2 s without a heartbeat
    history = HistoryWriter(retry_initial=0.05)
    async with FakeAMI(secret=SECRET) as ami:
        worker = live_worker(ami, history, 0.4)
        async with running(worker):
            body = await wait_health("ok")
            await asyncio.sleep(2.0)  # well past stale_after: only the heartbeat keeps it fresh
            code, body = await health()
            assert (code, body["status"]) == (200, "ok"), body
            assert body["age"] < 1.2
            assert worker.parts.upkeep.beats >= 3
            ami.stall()  # half-open: TCP stays up, nothing is answered (case 7)
            body = await wait_health("ami_down")
            assert body["state"] == "reconnecting"
            ami.unstall()
            await wait_health("ok")
        body = await wait_health("ami_down")  # a stopped worker says so
    assert body["state"] == "down"


@pytest.mark.django_db(transaction=True)
async def test_a_refused_login_shows_ami_auth_failed(ping_interval):
    history = HistoryWriter(retry_initial=0.05)
    async with FakeAMI(secret="not-the-one") as ami:
        worker = live_worker(ami, history, 5.0)
        async with running(worker):
            body = await wait_health("ami_auth_failed")
            code, _ = await health()
    assert code == 503
    assert SECRET not in json.dumps(body)
