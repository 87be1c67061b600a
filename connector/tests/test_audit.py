"""An audit row per call-control attempt, refused or executed (reliability plan cases 29 and 35)."""

import pytest
from channels.db import database_sync_to_async

from connector import audit
from connector.consumers import TelephonyConsumer
from connector.tests.consumer_helpers import connect_user, running_worker
from connector.tests.test_control import ALICE_CALL, RecordingClient

pytestmark = [pytest.mark.usefixtures("fresh_layer"), pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


@database_sync_to_async
def audit_rows() -> list[tuple]:
    from connector.models import AuditEntry

    return list(
        AuditEntry.objects.order_by("pk").values_list("user__username", "line", "action", "target", "result", "detail")
    )


async def test_every_attempt_gets_one_row_whoever_refuses_it(alice, bob, settings):
    settings.ORIGINATE_DENIED_PREFIXES = ("0900",)
    client = RecordingClient()
    bobs_call = {("306", "b1"): {**ALICE_CALL, "operator_channel": "SIP/306-00000050"}}
    attempts = [
        ({"type": "call", "number": "100\r\nAction: Command"}, "invalid_number"),  # socket
        ({"type": "call", "number": "09001234"}, "number_denied"),  # socket
        ({"type": "subscribe", "user": bob.pk}, "unknown_command"),  # socket
        ({"type": "hangup", "call_id": "b1"}, "forbidden"),  # worker: bob's call
        ({"type": "hold", "call_id": "made-up"}, "forbidden"),  # worker: no such call
        ({"type": "call", "number": "+4930123"}, None),  # worker: executed
        ({"type": "call", "number": "*97"}, None),
        ({"type": "call", "number": "#31#"}, "rate_limited"),  # worker: over the limit of 2
    ]
    async with running_worker(client, calls=bobs_call, limit=2):
        ws, _ = await connect_user(alice)
        for ref, (command, code) in enumerate(attempts):
            await ws.send_json_to({**command, "ref": ref})
            reply = await ws.receive_json_from(timeout=5)
            assert (reply["ref"], reply["ok"]) == (ref, code is None)
            assert (reply["error"] or {}).get("code") == code
        await ws.disconnect()
    await audit.drain()
    rows = await audit_rows()
    assert [(user, line, action, target, result) for user, line, action, target, result, _ in rows] == [
        ("alice", "305", "call", "100\r\nAction: Command", "invalid_number"),
        ("alice", "305", "call", "09001234", "number_denied"),
        ("alice", "305", "subscribe", "", "unknown_command"),
        ("alice", "305", "hangup", "b1", "forbidden"),
        ("alice", "305", "hold", "made-up", "forbidden"),
        ("alice", "305", "call", "+4930123", "ok"),
        ("alice", "305", "call", "*97", "ok"),
        ("alice", "305", "call", "#31#", "rate_limited"),
    ]
    assert [detail.split(":")[0] for *_, detail in rows] == ["socket"] * 3 + ["worker"] * 5
    # Only the two allowed calls reached AMI.
    assert [frame.split(b"\r\n")[0] for frame in client.sent] == [b"Action: Originate"] * 2


async def test_a_command_the_worker_never_answers_is_audited_as_a_timeout(alice, monkeypatch):
    monkeypatch.setattr(TelephonyConsumer, "command_timeout", 0.2)
    ws, _ = await connect_user(alice)  # no worker reads the command channel
    await ws.send_json_to({"type": "hangup", "ref": "h", "call_id": "c1"})
    reply = await ws.receive_json_from(timeout=5)
    assert reply["error"]["code"] == "pbx_timeout"
    await ws.disconnect()
    await audit.drain()
    assert [row[2:5] for row in await audit_rows()] == [("hangup", "c1", "pbx_timeout")]


async def test_a_database_outage_loses_the_row_but_never_the_command(alice, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("database is down")

    monkeypatch.setattr(audit, "write_entry", broken)
    monkeypatch.setattr(audit, "_failure_logged", 0.0)
    caplog.set_level("INFO", logger="connector")
    async with running_worker(RecordingClient()):
        ws, _ = await connect_user(alice)
        await ws.send_json_to({"type": "call", "ref": 1, "number": "305"})
        assert (await ws.receive_json_from(timeout=5))["ok"] is True
        await ws.disconnect()
    await audit.drain()
    assert await audit_rows() == []
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not write an audit entry (RuntimeError)" in m for m in messages)
    assert any(m.startswith("user=") and "number='305' ok=True" in m for m in messages)


def test_describe_picks_the_number_or_call_id_and_cuts_long_values():
    assert audit.describe({"type": "call", "number": "305"}) == ("call", "305")
    assert audit.describe({"type": "hangup", "call_id": "x" * 200}) == ("hangup", "x" * 80)
    assert audit.describe([1, 2]) == ("", "")
    assert audit.describe({"type": None, "number": None}) == ("None", "")


@pytest.fixture
def entries(alice):
    from connector.models import AuditEntry

    AuditEntry.objects.create(user=alice, line="305", action="call", target="<img src=x onerror=alert(1)>",
                              result="invalid_number", detail="socket: bad")  # fmt: skip
    return AuditEntry.objects.create(user=alice, line="305", action="hangup", target="c1", result="ok", detail="worker")


def test_staff_see_the_audit_log_escaped_and_filtered(admin_client, entries):
    page = admin_client.get("/admin/connector/auditentry/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    filtered = admin_client.get("/admin/connector/auditentry/", {"result": "ok"}).content.decode()
    assert "c1" in filtered and "onerror" not in filtered


def test_the_audit_log_is_read_only(admin_client, entries):
    from connector.models import AuditEntry

    assert admin_client.get("/admin/connector/auditentry/add/").status_code == 403
    url = f"/admin/connector/auditentry/{entries.pk}/change/"
    assert admin_client.get(url).status_code == 200  # viewable
    admin_client.post(url, {"result": "forged"})
    assert admin_client.get(f"/admin/connector/auditentry/{entries.pk}/delete/").status_code == 403
    assert AuditEntry.objects.get(pk=entries.pk).result == "ok"
    assert AuditEntry.objects.count() == 2


def test_operators_cannot_see_the_audit_log(client, alice, entries):
    client.force_login(alice)
    response = client.get("/admin/connector/auditentry/")
    assert response.status_code == 302 and "/login/" in response["Location"]


async def test_users_together_over_the_global_limit_are_refused_and_audited(alice, bob, make_operator):
    erin = await database_sync_to_async(make_operator)("erin", "308")
    client = RecordingClient()
    async with running_worker(client, limit=10, global_limit=2):
        replies = {}
        for user in (alice, bob, erin):
            ws, _ = await connect_user(user)
            await ws.send_json_to({"type": "call", "ref": 1, "number": "79161234567"})
            replies[user.username] = await ws.receive_json_from(timeout=5)
            await ws.disconnect()
    assert [replies[name]["ok"] for name in ("alice", "bob", "erin")] == [True, True, False]
    assert replies["erin"]["error"]["code"] == "rate_limited" and replies["erin"]["error"]["retry_after"] > 0
    assert len(client.sent) == 2
    await audit.drain()
    assert [(row[0], row[4]) for row in await audit_rows()] == [
        ("alice", "ok"),
        ("bob", "ok"),
        ("erin", "rate_limited"),
    ]
