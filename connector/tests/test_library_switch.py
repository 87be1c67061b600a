"""Switching the messaging library to "none" closes the panels already open (plan: 4406 library_disabled)."""

import pytest
from channels.db import database_sync_to_async

from connector.publisher import group_for_line
from connector.tests.consumer_helpers import connect_user, expect_refusal, group_members

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(30), pytest.mark.usefixtures("fresh_layer")]


@database_sync_to_async
def set_library(value: str) -> None:
    from settings.models import SystemSetting
    from settings.registry import SYS_MSG_LIB

    setting, _ = SystemSetting.objects.get_or_create(code=SYS_MSG_LIB)
    setting.value = value
    setting.save()


async def test_turning_the_library_off_closes_open_sockets(alice, bob):
    from settings.registry import LIB_NONE

    alice_ws, _ = await connect_user(alice)
    bob_ws, _ = await connect_user(bob)
    await set_library(LIB_NONE)
    await expect_refusal(alice_ws, 4406, "library_disabled")
    await expect_refusal(bob_ws, 4406, "library_disabled")
    assert await group_members(group_for_line("305")) == set()


async def test_saving_the_library_unchanged_keeps_sockets_open(alice):
    from settings.registry import LIB_ASTERISK

    ws, _ = await connect_user(alice)
    await set_library(LIB_ASTERISK)
    assert await ws.receive_nothing(timeout=0.5)
    assert await group_members(group_for_line("305"))
    await ws.disconnect()
