"""Security gaps of the reliability plan that no feature test covered (cases 26, 33, 34, 36).

The coverage map of cases 25-36 is docs/security.md.
"""

import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connector.config import ConnectorConfig
from connector.publisher import group_for_line
from connector.tests.consumer_helpers import connect_user, group_members, release_db_connections
from profiles.tests.test_licences import inline_data

SECRET = "amI-s3cret-7Qx91"  # distinctive, so a hit anywhere is unambiguous

pytestmark = pytest.mark.usefixtures("fresh_layer")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value",
    [
        ("line", "305\r\nAction: Command"),
        ("line", "30\n5"),
        ("line", "305\x00"),
        ("outgoing_context", "ctx\r\nAction: Originate"),
    ],
)
def test_the_admin_profile_inline_refuses_line_breaks(client, dave, alice, field, value):
    from profiles.models import Profile

    client.force_login(dave)
    response = client.post(reverse("admin:auth_user_change", args=[alice.pk]), inline_data(alice, **{field: value}))
    assert response.status_code == 200  # the form comes back with an error
    assert response.context["inline_admin_formsets"][0].formset.errors[0][field]
    profile = Profile.objects.get(user=alice)
    assert (profile.line, profile.outgoing_context) == ("305", "")


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
async def test_deactivating_in_the_admin_closes_the_socket_within_5_s_and_nothing_follows(alice, dave):
    ws, _ = await connect_user(alice)
    admin_browser = Client()
    await database_sync_to_async(admin_browser.force_login)(dave)
    data = await database_sync_to_async(inline_data)(alice)
    del data["is_active"]  # the admin unticks "Active"
    started = time.monotonic()
    response = await database_sync_to_async(admin_browser.post)(
        reverse("admin:auth_user_change", args=[alice.pk]), data
    )
    assert response.status_code == 302
    error = await ws.receive_json_from(timeout=5)
    closed = await ws.receive_output(timeout=5)
    assert time.monotonic() - started < 5
    assert (error["code"], closed["code"]) in (("inactive", 4403), ("logged_out", 4401))
    assert await group_members(group_for_line("305")) == set()
    event = {"type": "call.ringing", "line": "305", "seq": 99, "call": {"id": "late"}}
    await get_channel_layer().group_send(group_for_line("305"), {"type": "call.event", "event": event})
    assert await ws.receive_nothing(timeout=0.5)
    await release_db_connections()  # the admin post ran on an executor thread


@pytest.mark.django_db
def test_the_admin_call_log_escapes_caller_ids(client, dave, alice):
    from connector.models import Call

    call = Call.objects.create(
        call_id="x1",
        line="305",
        user=alice,
        direction="inbound",
        state="ended",
        remote_number="javascript:alert(1)",
        remote_name='"</script><script>alert(1)</script><img src=x onerror=alert(1)>',
        started_at=timezone.now(),
    )
    client.force_login(dave)
    for url in (reverse("admin:connector_call_changelist"), reverse("admin:connector_call_change", args=[call.pk])):
        html = client.get(url).content.decode()
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<img src=x" not in html and "<script>alert(1)" not in html
        assert 'href="javascript:' not in html


def _admin_pages() -> list[str]:
    """The admin index, every registered model's list and add page, and the change page of one row each."""
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        urls.append(reverse("admin:{}_{}_add".format(*info)))
        row = model_admin.get_queryset(None).first() if model is not None else None
        if row is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[row.pk]))
    return urls


@pytest.mark.django_db
def test_the_ami_secret_appears_on_no_page(client, dave, alice, settings):
    from connector.audit import write_entry
    from connector.models import ConnectorStatus

    settings.ASTERISK = ConnectorConfig(url="pbx.example.org", userName="crm", secret=SECRET)
    ConnectorStatus.objects.update_or_create(pk=1, defaults={"state": "ami_auth_failed", "detail": "login refused"})
    write_entry(alice.pk, "305", {"type": "call", "number": "305"}, None, "", "worker")
    client.force_login(dave)
    pages = _admin_pages() + ["/", "/health/"]
    assert len(pages) > 10
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 302, 403, 503), url  # /health/ is 503 while AMI is down
        assert SECRET not in response.content.decode(), url
    status = client.get("/admin/connector/connectorstatus/").content.decode()
    assert "crm" in status and SECRET not in status  # the page shows the account, only "set" for the secret
    operator = Client()
    operator.force_login(alice)
    for url in ("/", "/calls/", "/telephony/token/", "/profile/"):
        assert SECRET not in operator.get(url).content.decode(), url


def test_no_model_field_holds_an_ami_secret():
    names = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if "secret" in field.name.lower()
    ]
    assert names == []


def test_a_debug_error_report_holds_no_secret(rf, settings):
    # What DEBUG pages and error trackers (Sentry-like payloads) receive: settings, frames, request.
    import sys

    from django.views.debug import ExceptionReporter

    settings.ASTERISK = ConnectorConfig(url="pbx.example.org", userName="crm", secret=SECRET)
    request = rf.get("/", HTTP_USER_AGENT="test")
    try:
        raise RuntimeError(f"AMI link to {settings.ASTERISK!r} failed")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "ASTERISK" in html and "pbx.example.org" in html  # the settings really are in the report
    assert SECRET not in html and SECRET not in text


@pytest.mark.timeout(30)
async def test_the_secret_stays_out_of_debug_logs_through_a_cut_message_and_an_action_timeout(caplog):
    # Plan case 36 with faults 4 (message cut by a reset) and 8 (an action never answered).
    import asyncio
    import logging

    from connector.client import AmiActionError, AmiClient
    from connector.tests.test_client import SECRET as AMI_SECRET
    from connector.tests.test_client import options, running
    from tests.fakeami import ClientProbe, FakeAMI

    caplog.set_level(logging.DEBUG)
    recorded, errors = bytearray(), []
    async with FakeAMI(secret=AMI_SECRET) as ami:
        probe = ClientProbe()
        client = AmiClient(options(ami), on_raw=lambda d, data, t: recorded.extend(data), **probe.callbacks())
        async with running(client):
            await client.wait_connected(5)
            await ami.send_raw(b"Event: Newchannel\r\nChannel: SIP/305-0000")
            await asyncio.sleep(0.05)
            ami.rst_now()
            await ami.wait_for(lambda: len(ami.sessions) == 2 and client.logged_in, timeout=10)
            ami.never_answer("Originate")
            with pytest.raises(AmiActionError) as info:
                await client.send_action("Originate", {"Channel": "SIP/305"}, timeout=0.3)
            errors.append(str(info.value))
            assert info.value.code == "pbx_timeout"
        errors.extend(detail for _state, detail in probe.states)
        assert bytes(ami.raw).count(AMI_SECRET.encode()) == 2  # sent at each of the two logins...
    assert AMI_SECRET.encode() not in recorded  # ...but never recorded,
    assert caplog.records and AMI_SECRET not in caplog.text  # logged at DEBUG,
    assert not any(AMI_SECRET in error for error in errors)  # or put in an error or a state
