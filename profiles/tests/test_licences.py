"""Telephony seats: the pool, the model-level check, the user admin inline and the list actions."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from profiles.licences import grant_seats, revoke_seats
from profiles.models import LicencePool, Profile

pytestmark = pytest.mark.django_db

User = get_user_model()
USERS = reverse("admin:auth_user_changelist")


def set_seats(total: int) -> None:
    pool = LicencePool.get()
    pool.seats = total
    pool.save()


def inline_data(user, **fields) -> dict:
    """The user change form as the admin posts it, with the profile inline."""
    profile = Profile.for_user(user)
    data = {
        "username": user.username,
        "password": user.password,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-id": str(profile.pk),
        "profile-0-user": str(user.pk),
        "profile-0-line": profile.line or "",
        "profile-0-outgoing_context": profile.outgoing_context,
    }
    for name in ("integration_disabled", "debug_mode", "has_seat"):
        if getattr(profile, name):
            data[f"profile-0-{name}"] = "on"
    for name, value in fields.items():
        key = f"profile-0-{name}"
        if value is True:
            data[key] = "on"
        elif value is False:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_the_model_refuses_a_seat_beyond_the_total(alice, bob, carol):
    set_seats(2)
    profile = Profile.objects.get(user=carol)
    profile.has_seat = True
    with pytest.raises(ValidationError) as info:
        profile.full_clean()
    assert "2 of 2 seats are in use" in info.value.message_dict["has_seat"][0]
    assert info.value.error_dict["has_seat"][0].code == "no_free_seat"


def test_the_model_allows_a_seat_while_one_is_free_and_keeping_one_always(alice, bob, carol):
    set_seats(3)
    profile = Profile.objects.get(user=carol)
    profile.has_seat = True
    profile.full_clean()
    profile.save()
    # Now full: users who hold a seat can still be edited.
    alice_profile = Profile.objects.get(user=alice)
    alice_profile.debug_mode = True
    alice_profile.full_clean()


def test_the_pool_cannot_drop_below_the_seats_granted(alice, bob):
    pool = LicencePool.get()
    pool.seats = 1
    with pytest.raises(ValidationError) as info:
        pool.full_clean()
    assert "2 seats are granted" in info.value.message_dict["seats"][0]
    pool.seats = 2
    pool.full_clean()


def test_grant_seats_stops_at_the_total_and_reports_who_was_refused(django_user_model, alice):
    set_seats(2)
    erin = django_user_model.objects.create_user("erin")
    frank = django_user_model.objects.create_user("frank")
    granted, refused = grant_seats([alice, erin, frank])
    assert granted == [alice, erin]
    assert refused == [frank]
    assert LicencePool.get().used == 2
    assert Profile.objects.get(user=frank).has_seat is False


def test_revoke_seats_frees_them(alice, bob, carol):
    assert revoke_seats([alice, carol]) == 1
    assert list(Profile.objects.filter(has_seat=True).values_list("user__username", flat=True)) == ["bob"]


def test_licence_pool_admin_shows_used_and_total(client, dave, alice, bob):
    set_seats(5)
    client.force_login(dave)
    html = client.get(reverse("admin:profiles_licencepool_changelist")).content.decode()
    assert "2 of 5 seats used" in html


def test_licence_pool_admin_sets_the_total_and_refuses_below_used(client, dave, alice, bob):
    client.force_login(dave)
    pool = LicencePool.get()
    url = reverse("admin:profiles_licencepool_change", args=[pool.pk])
    assert client.post(url, {"seats": "10"}).status_code == 302
    assert LicencePool.get().seats == 10
    response = client.post(url, {"seats": "1"})
    assert response.status_code == 200
    assert "2 seats are granted" in response.content.decode()
    assert LicencePool.get().seats == 10


def test_inline_grants_a_seat_while_one_is_free(client, dave, carol, alice):
    set_seats(2)
    client.force_login(dave)
    url = reverse("admin:auth_user_change", args=[carol.pk])
    response = client.post(url, inline_data(carol, has_seat=True))
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert Profile.objects.get(user=carol).has_seat is True


def test_inline_refuses_a_seat_beyond_the_total_with_a_clear_message(client, dave, alice, bob, carol):
    set_seats(2)
    client.force_login(dave)
    url = reverse("admin:auth_user_change", args=[carol.pk])
    response = client.post(url, inline_data(carol, has_seat=True))
    assert response.status_code == 200
    assert "No telephony licence is free: 2 of 2 seats are in use." in response.content.decode()
    assert Profile.objects.get(user=carol).has_seat is False


def test_inline_edits_the_parameters_and_refuses_a_taken_line(client, dave, alice, bob):
    client.force_login(dave)
    url = reverse("admin:auth_user_change", args=[bob.pk])
    response = client.post(url, inline_data(bob, line="305"))
    assert response.status_code == 200
    assert "Line 305 is already used by alice." in response.content.decode()
    response = client.post(url, inline_data(bob, line="316", outgoing_context="from-sales", debug_mode=True))
    assert response.status_code == 302
    profile = Profile.objects.get(user=bob)
    assert (profile.line, profile.outgoing_context, profile.debug_mode) == ("316", "from-sales", True)


def test_action_grants_seats_up_to_the_total(client, dave, alice, carol, django_user_model):
    set_seats(2)
    erin = django_user_model.objects.create_user("erin")
    client.force_login(dave)
    response = client.post(USERS, {"action": "grant_seat", "_selected_action": [carol.pk, erin.pk]}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("No telephony licence left for: erin." in text and "2 of 2 seats used" in text for text in texts)
    assert Profile.objects.get(user=carol).has_seat is True
    assert Profile.objects.get(user=erin).has_seat is False


def test_action_revokes_seats(client, dave, alice, bob):
    client.force_login(dave)
    response = client.post(USERS, {"action": "revoke_seat", "_selected_action": [alice.pk]}, follow=True)
    assert any("1 seat revoked." in str(m) for m in response.context["messages"])
    assert Profile.objects.get(user=alice).has_seat is False
    assert Profile.objects.get(user=bob).has_seat is True


def test_user_list_shows_line_and_seat(client, dave, alice, carol):
    client.force_login(dave)
    html = client.get(USERS).content.decode()
    assert "305" in html
    assert "307" in html
    assert "Telephony licence" in html
