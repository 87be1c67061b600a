"""The "System settings" admin list and change form."""

import pytest
from django.urls import reverse

from settings.models import SystemSetting
from settings.registry import LIB_NONE, SETTINGS, SYS_MSG_LIB, SYS_MSG_SERVER_NODE

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:system_settings_systemsetting_changelist")


def change_url(code: str) -> str:
    row = SystemSetting.objects.get(code=code)
    return reverse("admin:system_settings_systemsetting_change", args=[row.pk])


def test_changelist_shows_code_name_value_label_and_description(client, dave):
    client.force_login(dave)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    for spec in SETTINGS.values():
        assert spec.code in html
        assert str(spec.name) in html
        assert str(spec.description) in html
    assert "Asterisk (AMI) telephony integration library" in html


def test_changelist_creates_rows_missing_for_registry_entries(client, dave):
    SystemSetting.objects.all().delete()
    client.force_login(dave)
    assert client.get(CHANGELIST).status_code == 200
    assert set(SystemSetting.objects.values_list("code", flat=True)) == set(SETTINGS)


def test_codes_cannot_be_added_or_deleted_by_hand(client, dave):
    client.force_login(dave)
    add = client.post(reverse("admin:system_settings_systemsetting_add"), {"code": "SysNew", "value": "x"})
    assert add.status_code == 403
    row = SystemSetting.objects.get(code=SYS_MSG_LIB)
    delete = client.post(reverse("admin:system_settings_systemsetting_delete", args=[row.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert not SystemSetting.objects.filter(code="SysNew").exists()
    assert SystemSetting.objects.filter(code=SYS_MSG_LIB).exists()


def test_library_is_edited_with_a_choice_widget(client, dave):
    client.force_login(dave)
    html = client.get(change_url(SYS_MSG_LIB)).content.decode()
    assert '<select name="value"' in html
    assert '<option value="none"' in html
    response = client.post(change_url(SYS_MSG_LIB), {"value": LIB_NONE})
    assert response.status_code == 302
    assert SystemSetting.objects.get(code=SYS_MSG_LIB).value == LIB_NONE


def test_library_refuses_an_unknown_choice(client, dave):
    client.force_login(dave)
    response = client.post(change_url(SYS_MSG_LIB), {"value": "oktell"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert SystemSetting.objects.get(code=SYS_MSG_LIB).value == "asterisk"


def test_server_node_is_normalised_on_save_without_warning_for_a_domain(client, dave):
    client.force_login(dave)
    response = client.post(change_url(SYS_MSG_SERVER_NODE), {"value": "wss://pbx.example.org"}, follow=True)
    assert SystemSetting.objects.get(code=SYS_MSG_SERVER_NODE).value == "wss://pbx.example.org:2014"
    levels = [m.level_tag for m in response.context["messages"]]
    assert "warning" not in levels


@pytest.mark.parametrize("value", ["ws://10.0.0.5", "wss://localhost:2014"])
def test_server_node_warns_for_an_ip_address_or_localhost(client, dave, value):
    client.force_login(dave)
    response = client.post(change_url(SYS_MSG_SERVER_NODE), {"value": value}, follow=True)
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert "domain name" in warnings[0]
    assert SystemSetting.objects.get(code=SYS_MSG_SERVER_NODE).value.startswith(value.split(":")[0])


@pytest.mark.parametrize(
    "value", ["ftp://pbx.example.org", "ws://pbx.example.org/x", "ws://pbx.example.org\r\nAction: Command"]
)
def test_server_node_form_refuses_and_says_what_is_accepted(client, dave, value):
    client.force_login(dave)
    response = client.post(change_url(SYS_MSG_SERVER_NODE), {"value": value})
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html
    assert "wss://host:port" in html or "Control characters" in html
    assert SystemSetting.objects.get(code=SYS_MSG_SERVER_NODE).value == ""


def test_system_settings_are_refused_to_non_staff(client, alice):
    client.force_login(alice)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    response = client.post(change_url(SYS_MSG_LIB), {"value": LIB_NONE})
    assert response.status_code == 302
    assert SystemSetting.objects.get(code=SYS_MSG_LIB).value == "asterisk"


def test_system_settings_are_refused_to_anonymous(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
