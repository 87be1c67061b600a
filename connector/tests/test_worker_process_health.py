"""A real ami_worker process: it tracks the configured lines, heartbeats, and a killed one goes stale."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from connector.tests.test_worker_process import SECRET, in_db, kill_if_running, start_worker, worker_env
from connector.tests.worker_helpers import scenario_events
from tests.fakeami import FakeAMI

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90)]


async def health() -> tuple[int, dict]:
    from django.test import Client

    response = await in_db(lambda: Client().get("/health/"))
    return response.status_code, json.loads(response.content)


async def wait_health(status: str, timeout: float) -> tuple[int, dict]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        code, body = await health()
        if body["status"] == status or asyncio.get_running_loop().time() > deadline:
            return code, body
        await asyncio.sleep(0.1)


@pytest.mark.django_db(transaction=True)
async def test_the_worker_process_tracks_configured_lines_heartbeats_and_goes_stale_when_killed(settings):
    from django.contrib.auth import get_user_model

    from connector.models import Call
    from profiles.models import Profile

    def alice_on_305() -> None:
        # bob's 306 is nobody's line here: alice's call to it is outbound.
        Profile.objects.create(user=get_user_model().objects.create(username="alice"), line="305", has_seat=True)

    await in_db(alice_on_305)
    settings.ASTERISK = dataclasses.replace(settings.ASTERISK, pingInterval=1.0)  # stale after 3 s
    async with FakeAMI(secret=SECRET) as ami:
        env = worker_env(ami, ASTERISK_PING_INTERVAL="1", ASTERISK_PING_TIMEOUT="1", LOG_LEVEL="INFO")
        quiet = asyncio.subprocess.DEVNULL
        process = await start_worker(env, stdout=quiet, stderr=quiet)
        try:
            await ami.wait_for(lambda: ami.actions_named("QueueStatus"), timeout=30)
            for event in scenario_events("internal-call.jsonl"):
                await ami.push_event(event)
            code, body = await wait_health("ok", 10)
            assert (code, body["ok"]) == (200, True), body
            await asyncio.sleep(4)  # longer than stale_after: only the heartbeat keeps the row fresh
            code, body = await health()
            assert (code, body["status"]) == (200, "ok"), body
            process.kill()  # no clean stop: the row still says "connected"
            await process.wait()
            code, body = await wait_health("stale", 10)
        finally:
            await kill_if_running(process)
    assert (code, body["status"], body["state"]) == (503, "stale", "connected")
    calls = await in_db(lambda: list(Call.objects.values_list("line", "direction")))
    assert calls == [("305", "outbound")]
