"""Connector configuration: environment variables, the vendor's appsettings.json, validation, secret hygiene."""

from __future__ import annotations

import json
import logging

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from connector.client import ClientOptions
from connector.config import ConnectorConfig, env_name, load_connector_config

SECRET = "Pa55-not-for-your-eyes"


def load(variables: dict[str, str]) -> ConnectorConfig:
    env = environ.Env()
    env.ENVIRON = dict(variables)
    return load_connector_config(env)


def write_appsettings(tmp_path, section: dict, key: str = "asterisk") -> str:
    path = tmp_path / "appsettings.json"
    path.write_text(json.dumps({"Logging": {"LogLevel": {"Default": "Information"}}, key: section}), "utf-8")
    return str(path)


def test_defaults_are_the_vendors():
    config = load({})
    assert (config.url, config.port) == ("127.0.0.1", 5038)
    assert config.protocol == "SIP/"
    assert config.originateContext == "from-internal"
    assert config.parking_lot_context == "from-internal"
    assert config.queueExtensionFormat == "Local/{0}@from-queue/n"
    assert config.asyncOriginate is True
    assert config.sendRingStartedOnRingingState is True
    assert config.traceQueuesState is False
    assert config.autoPauseOnCommutationStart is False
    assert config.filePath == ""
    assert (config.pingInterval, config.pingTimeout, config.actionTimeout) == (10.0, 5.0, 10.0)


def test_env_names_are_asterisk_plus_upper_snake_case():
    assert env_name("userName") == "ASTERISK_USER_NAME"
    assert env_name("originateContext") == "ASTERISK_ORIGINATE_CONTEXT"
    assert env_name("sendRingStartedOnRingingState") == "ASTERISK_SEND_RING_STARTED_ON_RINGING_STATE"
    assert env_name("filePath") == "ASTERISK_FILE_PATH"


def test_it_reads_every_parameter_from_the_environment(tmp_path):
    scenario = tmp_path / "scenario.jsonl"
    scenario.write_text("{}\n")
    config = load(
        {
            "ASTERISK_URL": "pbx.example.org",
            "ASTERISK_PORT": "5039",
            "ASTERISK_USER_NAME": "crm",
            "ASTERISK_SECRET": SECRET,
            "ASTERISK_PROTOCOL": "PJSIP/",
            "ASTERISK_ORIGINATE_CONTEXT": "from-crm",
            "ASTERISK_PARKING_LOT_CONTEXT": "parkedcalls",
            "ASTERISK_AUTO_PAUSE_ON_COMMUTATION_START": "true",
            "ASTERISK_QUEUE_EXTENSION_FORMAT": "PJSIP/{0}",
            "ASTERISK_ASYNC_ORIGINATE": "False",
            "ASTERISK_SEND_RING_STARTED_ON_RINGING_STATE": "0",
            "ASTERISK_TRACE_QUEUES_STATE": "yes",
            "ASTERISK_PACKET_INFO_CONFIG": "CallerIDName, DIALSTATUS",
            "ASTERISK_FILE_PATH": str(scenario),
            "ASTERISK_AUTH_TYPE": "md5",
            "ASTERISK_EVENTS": "call,agent,system",
            "ASTERISK_EVENT_FILTER": "!Event: RTCP*; !Event: VarSet",
            "ASTERISK_PING_INTERVAL": "3",
            "ASTERISK_PING_TIMEOUT": "1.5",
            "ASTERISK_ACTION_TIMEOUT": "20",
        }
    )
    assert (config.url, config.port, config.userName, config.secret) == ("pbx.example.org", 5039, "crm", SECRET)
    assert config.protocol == "PJSIP/"
    assert config.parking_lot_context == "parkedcalls"
    assert config.autoPauseOnCommutationStart is True
    assert config.queue_interface("305") == "PJSIP/305"
    assert (config.asyncOriginate, config.sendRingStartedOnRingingState, config.traceQueuesState) == (
        False,
        False,
        True,
    )
    assert config.packetInfoConfig == ("CallerIDName", "DIALSTATUS")
    assert config.filePath == str(scenario)
    assert config.eventFilter == ("!Event: RTCP*", "!Event: VarSet")
    options = ClientOptions.from_config(config)
    assert (options.host, options.port, options.username, options.secret) == ("pbx.example.org", 5039, "crm", SECRET)
    assert (options.auth_type, options.events, options.event_filters) == (
        "md5",
        "call,agent,system",
        config.eventFilter,
    )
    assert (options.ping_interval, options.ping_timeout, options.action_timeout) == (3.0, 1.5, 20.0)


def test_it_reads_the_vendors_appsettings_json_with_string_booleans(tmp_path):
    path = write_appsettings(
        tmp_path,
        {
            "url": "10.0.0.5",
            "port": "5038",
            "userName": "terrasoft",
            "secret": SECRET,
            "protocol": "SIP/",
            "originateContext": "from-internal",
            "autoPauseOnCommutationStart": "true",
            "asyncOriginate": "false",
            "traceQueuesState": True,
            "packetInfoConfig": ["CallerIDName"],
            "filePath": "",
        },
    )
    config = load({"ASTERISK_CONFIG_FILE": path})
    assert (config.url, config.port, config.userName, config.secret) == ("10.0.0.5", 5038, "terrasoft", SECRET)
    assert config.autoPauseOnCommutationStart is True
    assert config.asyncOriginate is False
    assert config.traceQueuesState is True
    assert config.packetInfoConfig == ("CallerIDName",)


def test_environment_variables_override_the_file(tmp_path):
    path = write_appsettings(tmp_path, {"url": "10.0.0.5", "port": 5038, "asyncOriginate": "true"}, key="Asterisk")
    config = load({"ASTERISK_CONFIG_FILE": path, "ASTERISK_PORT": "6038", "ASTERISK_ASYNC_ORIGINATE": "false"})
    assert (config.url, config.port, config.asyncOriginate) == ("10.0.0.5", 6038, False)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"ASTERISK_PORT": "five"}, "ASTERISK_PORT"),
        ({"ASTERISK_PORT": "70000"}, "ASTERISK_PORT"),
        ({"ASTERISK_PROTOCOL": "IAX2/"}, "ASTERISK_PROTOCOL"),
        ({"ASTERISK_ASYNC_ORIGINATE": "maybe"}, "ASTERISK_ASYNC_ORIGINATE"),
        ({"ASTERISK_ORIGINATE_CONTEXT": "from internal"}, "ASTERISK_ORIGINATE_CONTEXT"),
        ({"ASTERISK_QUEUE_EXTENSION_FORMAT": "Local/305@from-queue/n"}, "ASTERISK_QUEUE_EXTENSION_FORMAT"),
        ({"ASTERISK_URL": "pbx example"}, "ASTERISK_URL"),
        ({"ASTERISK_FILE_PATH": "/nonexistent/scenario.jsonl"}, "ASTERISK_FILE_PATH"),
        ({"ASTERISK_PACKET_INFO_CONFIG": "Caller ID"}, "ASTERISK_PACKET_INFO_CONFIG"),
        ({"ASTERISK_AUTH_TYPE": "sha1"}, "ASTERISK_AUTH_TYPE"),
        ({"ASTERISK_PING_INTERVAL": "soon"}, "ASTERISK_PING_INTERVAL"),
        ({"ASTERISK_ACTION_TIMEOUT": "0"}, "ASTERISK_ACTION_TIMEOUT"),
        ({"ASTERISK_EVENTS": "call\r\nAction: Command"}, "ASTERISK_EVENTS"),
        ({"ASTERISK_CONFIG_FILE": "/nonexistent/appsettings.json"}, "ASTERISK_CONFIG_FILE"),
    ],
)
def test_invalid_values_fail_naming_the_parameter(variables, named):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load(variables)
    assert str(excinfo.value).startswith(named)


def test_an_invalid_value_in_the_file_names_the_file_and_key(tmp_path):
    path = write_appsettings(tmp_path, {"port": "abc"})
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load({"ASTERISK_CONFIG_FILE": path})
    assert "asterisk.port" in str(excinfo.value) and path in str(excinfo.value)


def test_a_file_without_an_asterisk_object_is_refused(tmp_path):
    path = tmp_path / "appsettings.json"
    path.write_text('{"Logging": {}}')
    with pytest.raises(ImproperlyConfigured, match='no "asterisk" object'):
        load({"ASTERISK_CONFIG_FILE": str(path)})


def test_a_secret_with_a_line_break_is_refused_without_echoing_it():
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load({"ASTERISK_SECRET": SECRET + "\r\nAction: Command"})
    assert str(excinfo.value).startswith("ASTERISK_SECRET")
    assert SECRET not in str(excinfo.value)


def test_the_secret_never_shows_in_repr_public_view_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    config = load({"ASTERISK_SECRET": SECRET, "ASTERISK_USER_NAME": "crm"})
    options = ClientOptions.from_config(config)
    logging.getLogger("connector").debug("config %r options %r view %s", config, options, config.public_view())
    assert SECRET not in repr(config) and SECRET not in repr(options) and SECRET not in str(config)
    assert config.public_view()["secret"] == "set"
    assert load({}).public_view()["secret"] == "not set"
    assert SECRET not in json.dumps(config.public_view())
    assert SECRET not in caplog.text


def test_a_live_connection_needs_user_and_secret(tmp_path):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load({}).check_live()
    assert "ASTERISK_USER_NAME" in str(excinfo.value) and "ASTERISK_SECRET" in str(excinfo.value)
    load({"ASTERISK_USER_NAME": "crm", "ASTERISK_SECRET": SECRET}).check_live()
    scenario = tmp_path / "s.jsonl"
    scenario.write_text("{}\n")
    load({"ASTERISK_FILE_PATH": str(scenario)}).check_live()  # a replay needs no credentials


STATUS_URL = "/admin/connector/connectorstatus/"


@pytest.fixture
def live_config(settings):
    settings.ASTERISK = ConnectorConfig(url="pbx.example.org", userName="crm", secret=SECRET, protocol="PJSIP/")
    return settings.ASTERISK


@pytest.mark.django_db
def test_the_status_page_shows_configuration_and_link_state_to_staff(client, dave, live_config):
    from connector.models import ConnectorStatus

    ConnectorStatus.objects.update_or_create(pk=1, defaults={"state": "reconnecting", "detail": "no answer to Ping"})
    client.force_login(dave)
    response = client.get(STATUS_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "reconnecting" in html and "no answer to Ping" in html
    assert "pbx.example.org" in html and "PJSIP/" in html and "from-internal" in html
    assert "<code>secret</code></td><td>set</td>" in html
    assert SECRET not in html
    index = client.get("/admin/").content.decode()
    assert STATUS_URL in index  # linked from the admin index


@pytest.mark.django_db
def test_the_status_page_is_refused_to_non_staff(client, alice, live_config, django_user_model):
    client.force_login(alice)
    response = client.get(STATUS_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    clerk = django_user_model.objects.create_user("clerk", password="clerk-pass-123", is_staff=True)
    client.force_login(clerk)
    assert client.get(STATUS_URL).status_code == 403


@pytest.mark.django_db
def test_the_status_row_never_holds_the_secret(live_config):
    from connector.models import ConnectorStatus

    fields = [f.name for f in ConnectorStatus._meta.get_fields()]
    assert not any("secret" in name.lower() for name in fields)
    status = ConnectorStatus.get()
    assert SECRET not in repr(status.__dict__)
