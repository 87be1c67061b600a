"""The registry's rules for system settings, SysMsgServerNode above all."""

import pytest
from django.core.exceptions import ValidationError

from settings.models import SystemSetting
from settings.registry import (
    LIB_ASTERISK,
    LIB_NONE,
    SETTINGS,
    SYS_MSG_LIB,
    SYS_MSG_SERVER_NODE,
    clean_server_node,
    ensure_rows,
    get_setting,
    server_node_warnings,
    telephony_library_enabled,
)

ACCEPTED = [
    ("", ""),
    ("ws://pbx.example.org", "ws://pbx.example.org:2013"),
    ("http://pbx.example.org", "http://pbx.example.org:2013"),
    ("wss://pbx.example.org", "wss://pbx.example.org:2014"),
    ("https://pbx.example.org", "https://pbx.example.org:2014"),
    ("wss://pbx.example.org:443", "wss://pbx.example.org:443"),
    ("ws://pbx.example.org:8080/", "ws://pbx.example.org:8080"),
    ("WSS://PBX.Example.ORG:2014", "wss://pbx.example.org:2014"),
    ("  wss://pbx.example.org  ", "wss://pbx.example.org:2014"),
    ("ws://localhost", "ws://localhost:2013"),
    ("ws://10.0.0.5:2013", "ws://10.0.0.5:2013"),
    ("wss://[2001:db8::1]", "wss://[2001:db8::1]:2014"),
    ("ws://[::1]:9000", "ws://[::1]:9000"),
    ("https://call-centre.example.org.", "https://call-centre.example.org.:2014"),
]

REFUSED = [
    "pbx.example.org",
    "pbx.example.org:2014",
    "//pbx.example.org",
    "ftp://pbx.example.org",
    "tcp://pbx.example.org:5038",
    "javascript://pbx.example.org",
    "ws://",
    "wss://:2014",
    "ws://pbx.example.org/path",
    "ws://pbx.example.org/ws/telephony/",
    "ws://pbx.example.org?token=1",
    "ws://pbx.example.org/?a",
    "ws://pbx.example.org#frag",
    "ws://user:pass@pbx.example.org",
    "ws://user@pbx.example.org",
    "ws://pbx.example.org:0",
    "ws://pbx.example.org:65536",
    "ws://pbx.example.org:port",
    "ws://pbx.example.org:-1",
    "ws://pbx_example.org",
    "ws://-pbx.example.org",
    "ws://pbx..example.org",
    "ws://999.1.1.1",
    "ws://[fe80::1%25eth0]",
    "ws://[::1",
    "ws://пример.рф",
    "ws://pbx example.org",
    "ws://pbx.example.org\r\nAction: Command",
    "ws://pbx.example.org\n",
    "ws://pbx.example.org\x00",
    "ws://pbx.example.org\t",
    "ws://pbx.example.org\u2028",
    "ws://pbx.example.org\x85",
]


@pytest.mark.parametrize(("value", "stored"), ACCEPTED)
def test_it_accepts_and_normalises_server_node(value, stored):
    assert SETTINGS[SYS_MSG_SERVER_NODE].clean(value) == stored


@pytest.mark.parametrize("value", REFUSED)
def test_it_refuses_server_node(value):
    with pytest.raises(ValidationError) as info:
        SETTINGS[SYS_MSG_SERVER_NODE].clean(value)
    text = " ".join(info.value.messages)
    assert "wss://host:port" in text or "Control characters" in text


def test_refusal_says_what_is_accepted():
    with pytest.raises(ValidationError) as info:
        clean_server_node("ftp://pbx.example.org")
    message = info.value.messages[0]
    for form in ("ws://host:port", "wss://host:port", "http://host:port", "https://host:port", "2013", "2014"):
        assert form in message


@pytest.mark.parametrize(
    "value",
    [
        "ws://localhost:2013",
        "wss://127.0.0.1:2014",
        "ws://10.0.0.5:2013",
        "wss://[2001:db8::1]:2014",
        "ws://[::1]:2013",
    ],
)
def test_it_warns_for_an_ip_address_or_localhost(value):
    warnings = server_node_warnings(value)
    assert len(warnings) == 1
    assert "domain name" in warnings[0]
    assert "certificate" in warnings[0]


@pytest.mark.parametrize("value", ["", "wss://pbx.example.org:2014", "ws://localhost.example.org:2013"])
def test_it_does_not_warn_for_a_domain_name(value):
    assert server_node_warnings(value) == []


@pytest.mark.parametrize("value", [LIB_ASTERISK, LIB_NONE])
def test_library_accepts_its_choices(value):
    assert SETTINGS[SYS_MSG_LIB].clean(value) == value


@pytest.mark.parametrize("value", ["", "Asterisk", "asterisk\n", "oktell", "none;"])
def test_library_refuses_anything_else(value):
    with pytest.raises(ValidationError):
        SETTINGS[SYS_MSG_LIB].clean(value)


def test_library_label_is_the_choice_name():
    assert SETTINGS[SYS_MSG_LIB].label_for(LIB_ASTERISK) == "Asterisk (AMI) telephony integration library"
    assert SETTINGS[SYS_MSG_LIB].label_for(LIB_NONE) == "none"


@pytest.mark.django_db
def test_migration_created_rows_with_defaults():
    rows = dict(SystemSetting.objects.values_list("code", "value"))
    assert rows[SYS_MSG_LIB] == LIB_ASTERISK
    assert rows[SYS_MSG_SERVER_NODE] == ""


@pytest.mark.django_db
def test_get_setting_falls_back_to_the_default_and_reads_the_row():
    SystemSetting.objects.all().delete()
    assert get_setting(SYS_MSG_LIB) == LIB_ASTERISK
    assert telephony_library_enabled() is True
    SystemSetting.objects.create(code=SYS_MSG_LIB, value=LIB_NONE)
    assert get_setting(SYS_MSG_LIB) == LIB_NONE
    assert telephony_library_enabled() is False


@pytest.mark.django_db
def test_ensure_rows_creates_missing_rows_and_keeps_values():
    SystemSetting.objects.filter(code=SYS_MSG_SERVER_NODE).delete()
    SystemSetting.objects.filter(code=SYS_MSG_LIB).update(value=LIB_NONE)
    ensure_rows()
    rows = dict(SystemSetting.objects.values_list("code", "value"))
    assert set(rows) >= set(SETTINGS)
    assert rows[SYS_MSG_LIB] == LIB_NONE
    assert rows[SYS_MSG_SERVER_NODE] == ""


@pytest.mark.django_db
def test_model_clean_validates_through_the_registry():
    row = SystemSetting(code="SysUnknown", value="x")
    with pytest.raises(ValidationError) as info:
        row.full_clean()
    assert "code" in info.value.message_dict
    row = SystemSetting.objects.get(code=SYS_MSG_SERVER_NODE)
    row.value = "ws://pbx.example.org\r\nAction: Command"
    with pytest.raises(ValidationError) as info:
        row.full_clean()
    assert "value" in info.value.message_dict
    row.value = "wss://pbx.example.org"
    row.full_clean()
    assert row.value == "wss://pbx.example.org:2014"
