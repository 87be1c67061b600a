"""Admin pages in the reader's language: connector status (the state's code stays in data-state), line states."""

from __future__ import annotations

import pytest
from django.utils import translation

from connector.config import ConnectorConfig
from connector.models import ConnectorStatus

STATUS_URL = "/admin/connector/connectorstatus/"


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    # LocaleMiddleware leaves the last request's language active in this thread: do not leak Russian.
    yield
    translation.deactivate()


@pytest.fixture
def status_page(client, dave, settings):
    settings.ASTERISK = ConnectorConfig(url="pbx.example.org", userName="crm", secret="s3cr3t-value", protocol="SIP/")
    ConnectorStatus.objects.update_or_create(pk=1, defaults={"state": "connected", "worker": "node-1:42"})
    client.force_login(dave)
    return lambda language: client.get(STATUS_URL, headers={"accept-language": language}).content.decode()


@pytest.mark.django_db
def test_the_status_page_in_russian_names_the_state_and_the_secret_in_russian(status_page):
    html = status_page("ru")
    assert 'data-state="connected">Подключено</strong>' in html
    assert "<code>secret</code></td><td>задан</td>" in html
    assert "Состояние коннектора" in html and "Активный обработчик" in html
    assert "s3cr3t-value" not in html


@pytest.mark.django_db
def test_the_status_page_in_english_keeps_its_words(status_page):
    html = status_page("en")
    assert 'data-state="connected">Connected</strong>' in html
    assert "<code>secret</code></td><td>set</td>" in html
    assert "Active worker" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "english"),
    [("reconnecting", "Reconnecting"), ("down", "Down"), ("ami_auth_failed", "AMI login refused"), ("odd", "odd")],
)
def test_every_link_state_has_words(status_page, state, english):
    ConnectorStatus.objects.filter(pk=1).update(state=state)
    assert f'data-state="{state}">{english}</strong>' in status_page("en")


@pytest.mark.django_db
def test_line_states_name_the_agent_state_in_words(client, dave):
    from connector.models import LineState

    LineState.objects.create(line="305", seq=3, agent_state="not_ready", agent_reason="lunch")
    LineState.objects.create(line="306", seq=1, agent_state="paused")
    client.force_login(dave)
    url = "/admin/connector/linestate/"
    english = client.get(url, headers={"accept-language": "en"}).content.decode()
    assert "Not ready" in english and ">paused<" in english
    assert "Не готов" in client.get(url, headers={"accept-language": "ru"}).content.decode()


@pytest.mark.django_db
def test_switches_read_yes_or_no(status_page):
    english = status_page("en")
    assert "<code>asyncOriginate</code></td><td>yes</td>" in english
    assert "<code>traceQueuesState</code></td><td>no</td>" in english
    assert "<code>asyncOriginate</code></td><td>да</td>" in status_page("ru")
