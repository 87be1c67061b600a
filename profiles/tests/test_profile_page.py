"""The operator's own profile page: Call Centre parameters."""

import pytest
from django.urls import reverse

from profiles.models import Profile

pytestmark = pytest.mark.django_db

PROFILE = "/profile/"


def params(**overrides) -> dict:
    data = {"line": "", "outgoing_context": "", "integration_disabled": "", "debug_mode": ""}
    data.update(overrides)
    return {key: value for key, value in data.items() if value != "" or key in ("line", "outgoing_context")}


def test_it_requires_login(client):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    response = client.post(PROFILE, params(line="999"))
    assert response.status_code == 302
    assert not Profile.objects.filter(line="999").exists()


def test_it_shows_the_own_parameters(client, alice):
    client.force_login(alice)
    response = client.get(PROFILE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Call Centre parameters" in html
    assert 'value="305"' in html
    for label in ("Disable Contact Centre integration", "Line number", "Outgoing call context", "Enable debug mode"):
        assert label in html


def test_it_saves_the_own_parameters(client, alice):
    client.force_login(alice)
    response = client.post(
        PROFILE,
        params(line="office", outgoing_context="from-internal-custom", debug_mode="on", integration_disabled="on"),
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=alice)
    assert profile.line == "office"
    assert profile.outgoing_context == "from-internal-custom"
    assert profile.debug_mode is True
    assert profile.integration_disabled is True
    assert profile.has_seat is True  # the page cannot change the seat


def test_an_empty_line_is_stored_as_null_so_many_users_may_have_none(client, alice, bob):
    for user in (alice, bob):
        client.force_login(user)
        assert client.post(PROFILE, params(line="")).status_code == 302
    assert Profile.objects.filter(user__in=[alice, bob], line__isnull=True).count() == 2


def test_it_cannot_grant_itself_a_seat(client, carol):
    client.force_login(carol)
    client.post(PROFILE, params(line="307", has_seat="on"))
    assert Profile.objects.get(user=carol).has_seat is False


def test_an_operator_edits_only_his_own_profile(client, alice, bob):
    client.force_login(bob)
    html = client.get(PROFILE).content.decode()
    assert 'value="306"' in html
    assert 'value="305"' not in html
    # Extra fields naming another user or profile are ignored.
    bob_profile = Profile.objects.get(user=bob)
    alice_profile = Profile.objects.get(user=alice)
    client.post(PROFILE, {**params(line="316"), "user": alice.pk, "id": alice_profile.pk, "pk": alice_profile.pk})
    alice_profile.refresh_from_db()
    bob_profile.refresh_from_db()
    assert alice_profile.line == "305"
    assert bob_profile.line == "316"


@pytest.mark.parametrize("path", [f"/profile/{1}/", "/profile/alice/", "/profiles/1/"])
def test_there_is_no_url_for_another_users_profile(client, alice, bob, path):
    client.force_login(bob)
    assert client.get(path).status_code == 404


def test_a_taken_line_is_refused_with_the_holders_name(client, alice, bob):
    alice.first_name, alice.last_name = "Alice", "Smith"
    alice.save()
    client.force_login(bob)
    response = client.post(PROFILE, params(line="305"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Line 305 is already used by alice (Alice Smith)." in html
    assert Profile.objects.get(user=bob).line == "306"


def test_the_taken_line_error_names_the_username_without_a_full_name(client, alice, bob):
    client.force_login(bob)
    html = client.post(PROFILE, params(line="305")).content.decode()
    assert "Line 305 is already used by alice." in html


def test_keeping_the_own_line_is_not_a_conflict(client, alice):
    client.force_login(alice)
    assert client.post(PROFILE, params(line="305", debug_mode="on")).status_code == 302
    assert Profile.objects.get(user=alice).debug_mode is True


@pytest.mark.parametrize("line", ["305", "office", "agent_7", "sales.1", "a-b", "A1"])
def test_it_accepts_line_names(client, alice, line):
    client.force_login(alice)
    assert client.post(PROFILE, params(line=line)).status_code == 302
    assert Profile.objects.get(user=alice).line == line


@pytest.mark.parametrize(
    "line",
    [
        "30 5",
        "305&DAHDI/g1/1",
        "305,,30",
        "305|x",
        "${SHELL(id)}",
        "30\r\n5",
        "30\n5",
        "30\x005",
        "305;1",
        "SIP/305",
        "x" * 41,
        "номер",
    ],
)
def test_it_refuses_line_characters(client, alice, line):
    client.force_login(alice)
    response = client.post(PROFILE, params(line=line))
    assert response.status_code == 200
    assert "line" in response.context["form"].errors
    assert Profile.objects.get(user=alice).line == "305"


@pytest.mark.parametrize("context", ["from-internal", "from-internal-custom", "ctx_1.2"])
def test_it_accepts_context_names(client, alice, context):
    client.force_login(alice)
    assert client.post(PROFILE, params(line="305", outgoing_context=context)).status_code == 302
    assert Profile.objects.get(user=alice).outgoing_context == context


@pytest.mark.parametrize(
    "context",
    ["from internal", "from-internal,s,1", "ctx\r\nAction: Command", "ctx\x00", "c" * 80, "[globals]", "ctx/x"],
)
def test_it_refuses_context_names(client, alice, context):
    client.force_login(alice)
    response = client.post(PROFILE, params(line="305", outgoing_context=context))
    assert response.status_code == 200
    assert "outgoing_context" in response.context["form"].errors
    assert Profile.objects.get(user=alice).outgoing_context == ""


def test_model_validation_refuses_a_trailing_newline(alice):
    from django.core.exceptions import ValidationError

    profile = Profile.objects.get(user=alice)
    profile.line = "305\n"
    with pytest.raises(ValidationError):
        profile.full_clean()
    profile.line = "305"
    profile.outgoing_context = "from-internal\n"
    with pytest.raises(ValidationError):
        profile.full_clean()


def test_a_user_without_a_seat_is_told_telephony_is_not_licensed(client, carol):
    client.force_login(carol)
    html = client.get(PROFILE).content.decode()
    assert 'id="no-licence"' in html
    assert "Telephony is not licensed for you" in html
    assert '<form method="post" action="/profile/"' in html  # he can still edit his parameters


def test_a_licensed_user_sees_no_licence_notice(client, alice):
    client.force_login(alice)
    assert 'id="no-licence"' not in client.get(PROFILE).content.decode()


def test_model_validation_names_the_holder_with_a_code(alice, bob):
    from django.core.exceptions import ValidationError

    profile = Profile.objects.get(user=bob)
    profile.line = "305"
    with pytest.raises(ValidationError) as info:
        profile.full_clean()
    error = info.value.error_dict["line"][0]
    assert error.code == "line_taken"
    assert "alice" in error.message
