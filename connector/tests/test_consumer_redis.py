"""The consumer over the real Redis channel layer: group membership as Redis holds it (cases 18, 30)."""

import asyncio
import uuid

import pytest
import redis.asyncio as redis_asyncio
from channels.layers import channel_layers, get_channel_layer

from connector.consumers import TelephonyConsumer
from connector.publisher import group_for_line, group_for_user
from connector.tests.consumer_helpers import connect_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


@pytest.fixture
def redis_layer(settings, redis_url):
    prefix = f"test-asgi-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    }
    channel_layers.backends.clear()
    yield prefix
    channel_layers.backends.clear()


async def members(redis_url, prefix, group):
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        return {m.decode() for m in await client.zrange(f"{prefix}:group:{group}", 0, -1)}
    finally:
        await client.aclose()


async def test_each_socket_is_only_in_its_own_groups(alice, bob, redis_layer, redis_url):
    alice_ws, _ = await connect_user(alice, query="line=306")
    bob_ws, _ = await connect_user(bob)
    line_305 = await members(redis_url, redis_layer, group_for_line("305"))
    line_306 = await members(redis_url, redis_layer, group_for_line("306"))
    alice_groups = await members(redis_url, redis_layer, group_for_user(alice.pk))
    assert len(line_305) == len(line_306) == 1
    assert line_305 == alice_groups
    assert not line_305 & line_306

    layer = get_channel_layer()
    event = {"type": "call.ringing", "line": "306", "seq": 1, "call": {"id": "b1"}}
    await layer.group_send(group_for_line("306"), {"type": "call.event", "event": event})
    assert (await bob_ws.receive_json_from(timeout=5))["call"]["id"] == "b1"
    assert await alice_ws.receive_nothing(timeout=1)

    await alice_ws.disconnect()
    assert await members(redis_url, redis_layer, group_for_line("305")) == set()
    await bob_ws.disconnect()
    await layer.close_pools()


async def test_membership_lost_in_redis_is_restored(alice, redis_layer, redis_url, monkeypatch):
    monkeypatch.setattr(TelephonyConsumer, "rejoin_interval", 0.2)
    ws, _ = await connect_user(alice)
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        # What a Redis restart without persistence does to the groups.
        await client.delete(f"{redis_layer}:group:{group_for_line('305')}")
    finally:
        await client.aclose()
    await asyncio.sleep(0.6)
    layer = get_channel_layer()
    event = {"type": "call.ringing", "line": "305", "seq": 1, "call": {"id": "a1"}}
    await layer.group_send(group_for_line("305"), {"type": "call.event", "event": event})
    assert (await ws.receive_json_from(timeout=5))["call"]["id"] == "a1"
    await ws.disconnect()
    await layer.close_pools()
