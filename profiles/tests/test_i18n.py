"""Russian and English: the browser's language, the vendor's Russian wording, the switch."""

import pytest
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

VENDOR_LABELS = [
    "Отключить интеграцию с Contact Centre",
    "Номер",
    "Контекст исходящего звонка",
    "Включить режим отладки",
]


def test_profile_page_follows_a_russian_browser(client, alice):
    client.force_login(alice)
    html = client.get("/profile/", headers={"accept-language": "ru"}).content.decode()
    assert '<html lang="ru">' in html
    for label in VENDOR_LABELS:
        assert label in html
    assert "Disable Contact Centre integration" not in html


def test_profile_page_is_english_by_default(client, alice):
    client.force_login(alice)
    html = client.get("/profile/", headers={"accept-language": "en"}).content.decode()
    assert "Disable Contact Centre integration" in html
    assert "Номер" not in html


def test_the_taken_line_error_is_translated(client, alice, bob):
    client.force_login(bob)
    response = client.post("/profile/", {"line": "305", "outgoing_context": ""}, headers={"accept-language": "ru"})
    assert "Линия 305 уже занята: alice." in response.content.decode()


def test_system_settings_admin_in_russian(client, dave):
    client.force_login(dave)
    url = reverse("admin:system_settings_systemsetting_changelist")
    html = client.get(url, headers={"accept-language": "ru"}).content.decode()
    for label in ("Системные настройки", "Библиотека обмена сообщениями по умолчанию", "Сервер обмена сообщениями"):
        assert label in html


def test_language_switch_sets_the_cookie_and_the_next_page_follows_it(client, alice):
    client.force_login(alice)
    response = client.post(reverse("set_language"), {"language": "ru", "next": "/profile/"})
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    html = client.get("/profile/", headers={"accept-language": "en"}).content.decode()
    assert "Включить режим отладки" in html
    client.post(reverse("set_language"), {"language": "en", "next": "/profile/"})
    assert "Enable debug mode" in client.get("/profile/").content.decode()


def test_every_page_offers_the_language_switch(client, alice):
    html = client.get(reverse("login")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert '<option value="ru"' in html
    assert '<option value="en"' in html


def test_russian_catalogue_has_no_untranslated_model_labels():
    from profiles.models import Profile

    with translation.override("ru"):
        for name in ("integration_disabled", "line", "outgoing_context", "debug_mode", "has_seat"):
            label = str(Profile._meta.get_field(name).verbose_name)
            assert label and not label.isascii(), name
