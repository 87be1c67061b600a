"""Login, logout, home page, navigation, admin access and the language switch."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "admin:index",
    "admin:auth_user_changelist",
    "admin:auth_user_add",
    "admin:profiles_licencepool_changelist",
    "admin:system_settings_systemsetting_changelist",
]


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_logs_in_and_goes_home(client, alice):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get("/").status_code == 200


def test_login_refuses_a_wrong_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(client, alice):
    client.force_login(alice)
    assert client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_home_shows_line_licence_and_integration_state(client, alice):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "<code>305</code>" in html
    assert "licensed" in html
    assert "enabled" in html


def test_home_shows_a_disabled_integration_and_a_missing_licence(client, make_operator):
    user = make_operator("erin", "310", seat=False, integration_disabled=True)
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "not licensed" in html
    assert "disabled" in html
    assert 'id="no-licence"' in html


def test_home_says_when_telephony_is_off_for_the_whole_site(client, alice):
    from settings.models import SystemSetting

    SystemSetting.objects.update_or_create(code="SysMsgLib", defaults={"value": "none"})
    client.force_login(alice)
    assert "turned off for the whole site" in client.get("/").content.decode()


def test_navigation_shows_admin_only_to_staff(client, alice, dave):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'href="/profile/"' in html
    assert 'href="/admin/"' not in html
    client.force_login(dave)
    assert 'href="/admin/"' in client.get("/").content.decode()


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_render_for_staff(client, dave, alice, name):
    client.force_login(dave)
    assert client.get(reverse(name)).status_code == 200


def test_user_change_page_renders_the_profile_inline(client, dave, alice):
    client.force_login(dave)
    html = client.get(reverse("admin:auth_user_change", args=[alice.pk])).content.decode()
    assert "Call Centre parameters" in html
    assert 'name="profile-0-line"' in html
    assert 'name="profile-0-has_seat"' in html


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_are_refused_to_non_staff(client, alice, name):
    client.force_login(alice)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_pages_send_the_content_security_policy(client, alice):
    client.force_login(alice)
    response = client.get("/profile/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in response.content.decode()
    assert " style=" not in response.content.decode()
