"""The panel's template pieces: the |tel filter and the configuration it passes to the script."""

import json
import re

import pytest
from django.template import Context, Template
from django.test import Client

from connector.templatetags.telephony import tel, tel_href


def render(source: str, **context) -> str:
    return Template("{% load telephony %}" + source).render(Context(context))


def test_tel_renders_a_click_to_call_link():
    assert render("{{ n|tel }}", n="+7 916 123-45-67") == '<a class="tel" href="tel:+79161234567">+7 916 123-45-67</a>'


def test_tel_keeps_only_diallable_characters_in_the_href():
    assert tel_href("*97") == "tel:*97"
    assert tel_href("#31#") == "tel:%2331%23"
    assert tel_href("javascript:alert(1)") == "tel:1"
    assert tel_href("305&DAHDI/g1") == "tel:3051"
    assert tel_href("abc") == ""


def test_tel_escapes_the_visible_text():
    html = render("{{ n|tel }}", n='<img src=x onerror=alert(1)>"1')
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;1" in html
    assert 'href="tel:11"' in html


def test_tel_without_digits_is_plain_escaped_text():
    assert str(tel("<b>anonymous</b>")) == "&lt;b&gt;anonymous&lt;/b&gt;"
    assert render("{{ n|tel }}", n=None) == ""


def test_tel_can_show_another_label():
    assert render('{{ n|tel:"Ivan" }}', n="79161234567") == '<a class="tel" href="tel:79161234567">Ivan</a>'


@pytest.mark.django_db
def test_the_panel_is_on_the_page_with_its_configuration(alice):
    from settings.models import SystemSetting

    SystemSetting.objects.update_or_create(code="SysMsgServerNode", defaults={"value": "wss://pbx.example.com:2014"})
    client = Client()
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'id="telephony-panel"' in html
    assert "js/panel.js" in html and "css/panel.css" in html
    config = json.loads(
        re.search(r'<script id="telephony-config" type="application/json">(.*?)</script>', html).group(1)
    )
    assert config["node"] == "wss://pbx.example.com:2014"
    assert config["ws_path"] == "/ws/telephony/"
    assert config["token_url"] == "/telephony/token/"
    assert config["line"] == "305"
    assert config["labels"]["hangup"] == "Hang up"


@pytest.mark.django_db
def test_the_panel_labels_follow_the_language(alice):
    client = Client()
    client.force_login(alice)
    html = client.get("/", headers={"accept-language": "ru"}).content.decode()
    config = json.loads(
        re.search(r'<script id="telephony-config" type="application/json">(.*?)</script>', html).group(1)
    )
    assert config["labels"]["hangup"] != "Hang up"


@pytest.mark.django_db
def test_no_panel_without_a_licence(carol):
    client = Client()
    client.force_login(carol)
    html = client.get("/").content.decode()
    assert 'id="telephony-panel"' not in html
    assert "js/panel.js" not in html
