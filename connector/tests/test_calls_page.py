"""The /calls/ history page and the call history admin with its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from connector.admin import csv_safe
from connector.models import Call, LineState

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def make_call(user, line: str, call_id: str, minutes: int = 0, **fields) -> Call:
    values = {
        "direction": "inbound",
        "state": "ended",
        "remote_number": "79161234567",
        "remote_name": "Ivan Petrov",
        "started_at": START + timedelta(minutes=minutes),
        "answered_at": START + timedelta(minutes=minutes, seconds=3),
        "ended_at": START + timedelta(minutes=minutes, seconds=68),
        "duration": 65.0,
        "end_reason": "completed",
    }
    values.update(fields)
    return Call.objects.create(user=user, line=line, call_id=call_id, **values)


def missed(**fields) -> dict:
    return {"answered_at": None, "duration": None, "end_reason": "cancelled", **fields}


def test_it_requires_login(client):
    response = client.get(reverse("calls"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_alice_sees_her_calls_and_not_bobs(client, alice, bob):
    make_call(alice, "305", "a1", remote_number="79030000001", remote_name="Alice's caller")
    make_call(bob, "306", "b1", remote_number="79030000002", remote_name="Bob's caller")
    client.force_login(alice)
    html = client.get(reverse("calls"), {"line": "306", "user": bob.pk}).content.decode()
    assert "79030000001" in html and "Alice&#x27;s caller" in html
    assert "79030000002" not in html and "Bob" not in html
    assert "1:05" in html  # talk time


def test_numbers_are_tel_links_and_names_are_escaped(client, alice):
    make_call(alice, "305", "a1", remote_number="+79161234567", remote_name="<img src=x onerror=alert(1)>")
    make_call(alice, "305", "a2", minutes=1, remote_number="javascript:alert(1)")
    client.force_login(alice)
    html = client.get(reverse("calls")).content.decode()
    assert '<a class="tel" href="tel:+79161234567">+79161234567</a>' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert 'href="javascript' not in html


def test_missed_calls_stand_out(client, alice):
    make_call(alice, "305", "answered", minutes=0)
    make_call(alice, "305", "missed", minutes=1, **missed())
    make_call(alice, "305", "elsewhere", minutes=2, **missed(end_reason="answered_elsewhere"))
    client.force_login(alice)
    response = client.get(reverse("calls"))
    html = response.content.decode()
    assert html.count('class="call missed"') == 1
    assert 'class="call missed" data-call-id="missed"' in html
    assert "Missed (Cancelled)" in html
    assert "Answered elsewhere" in html

    only_missed = client.get(reverse("calls"), {"missed": "1"})
    assert [c.call_id for c in only_missed.context["page"].object_list] == ["missed"]


def test_history_is_paginated_newest_first(client, alice):
    for n in range(30):
        make_call(alice, "305", f"c{n}", minutes=n)
    client.force_login(alice)
    first = client.get(reverse("calls"))
    assert [c.call_id for c in first.context["page"].object_list][:2] == ["c29", "c28"]
    assert len(first.context["page"].object_list) == 25
    second = client.get(reverse("calls"), {"page": 2})
    assert [c.call_id for c in second.context["page"].object_list] == [f"c{n}" for n in range(4, -1, -1)]
    assert 'rel="prev"' in second.content.decode()


def test_nav_links_to_the_calls_page(client, alice):
    client.force_login(alice)
    assert f'href="{reverse("calls")}"' in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("\tcmd", "'\tcmd"),
        ("+79161234567", "+79161234567"),
        ("Ivan Petrov", "Ivan Petrov"),
        (None, ""),
        (3.5, "3.5"),
    ],
)
def test_csv_cells_are_neutralised(value, expected):
    assert csv_safe(value) == expected


def parse_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_admin_exports_csv_with_formula_injection_neutralised(client, dave, alice, bob):
    make_call(alice, "305", "a1", remote_name='=HYPERLINK("http://evil.example","click")')
    make_call(bob, "306", "b1", remote_number="+79031112233", remote_name="Пётр", direction="outbound")
    client.force_login(dave)
    rows = parse_csv(client.get(reverse("admin:connector_call_export")))
    by_id = {row["call_id"]: row for row in rows}
    assert by_id["a1"]["remote_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert by_id["a1"]["user"] == "alice" and by_id["a1"]["duration"] == "65.0"
    assert by_id["b1"]["remote_number"] == "+79031112233" and by_id["b1"]["remote_name"] == "Пётр"

    filtered = parse_csv(client.get(reverse("admin:connector_call_export"), {"direction__exact": "outbound"}))
    assert [row["call_id"] for row in filtered] == ["b1"]


def test_admin_export_action_exports_the_selection(client, dave, alice):
    calls = [make_call(alice, "305", f"c{n}", minutes=n) for n in range(3)]
    client.force_login(dave)
    response = client.post(
        reverse("admin:connector_call_changelist"),
        {"action": "export_csv", "_selected_action": [calls[0].pk, calls[2].pk]},
    )
    assert response["Content-Type"].startswith("text/csv")
    assert sorted(row["call_id"] for row in parse_csv(response)) == ["c0", "c2"]


def test_csv_export_is_for_staff_only(client, alice, django_user_model):
    make_call(alice, "305", "a1")
    client.force_login(alice)
    response = client.get(reverse("admin:connector_call_export"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    staff_without_permission = django_user_model.objects.create_user("erin", password="erin-pass-123", is_staff=True)
    client.force_login(staff_without_permission)
    assert client.get(reverse("admin:connector_call_export")).status_code == 403


def test_admin_call_list_renders_with_filters_and_search(client, dave, alice):
    make_call(alice, "305", "a1", remote_name="<script>alert(1)</script>")
    make_call(alice, "305", "a2", minutes=1, remote_name="Ivan Petrov", **missed())
    client.force_login(dave)
    url = reverse("admin:connector_call_changelist")
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert reverse("admin:connector_call_export") in html
    for filter_link in ("?direction__exact=inbound", "?end_reason__exact=cancelled", "?line=305", "started_at__gte="):
        assert filter_link in html
    assert f"?user__id__exact={alice.pk}" in html
    searched = client.get(url, {"q": "Ivan"})
    assert [c.call_id for c in searched.context["cl"].result_list] == ["a2"]
    filtered = client.get(url, {"end_reason__exact": "cancelled"})
    assert [c.call_id for c in filtered.context["cl"].result_list] == ["a2"]
    assert (
        client.get(reverse("admin:connector_call_change", args=[Call.objects.get(call_id="a1").pk])).status_code == 200
    )


def test_admin_line_state_list_renders(client, dave):
    LineState.objects.create(line="305", seq=12, agent_state="not_ready", agent_reason="lunch")
    client.force_login(dave)
    html = client.get(reverse("admin:connector_linestate_changelist")).content.decode()
    assert "305" in html and "lunch" in html


def test_admin_cannot_delete_call_history(client, dave, alice):
    call = make_call(alice, "305", "a1")
    client.force_login(dave)
    changelist = client.get(reverse("admin:connector_call_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    response = client.post(reverse("admin:connector_call_delete", args=[call.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Call.objects.filter(pk=call.pk).exists()
