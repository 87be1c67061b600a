"""profile_changed: sent on profile saves, is_active changes and logout."""

import pytest
from django.urls import reverse

from profiles.models import Profile
from profiles.signals import profile_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    calls: list[int] = []

    def receiver(sender, user_id, **kwargs):
        calls.append(user_id)

    profile_changed.connect(receiver, weak=False)
    yield calls
    profile_changed.disconnect(receiver)


def test_saving_a_profile_sends_it(alice, sent):
    profile = Profile.objects.get(user=alice)
    profile.debug_mode = True
    profile.save()
    assert sent == [alice.pk]


def test_the_profile_page_sends_it(client, alice, sent):
    client.force_login(alice)
    sent.clear()
    client.post("/profile/", {"line": "305", "outgoing_context": "", "debug_mode": "on"})
    assert sent == [alice.pk]


def test_deactivating_a_user_sends_it_and_other_user_saves_do_not(alice, sent):
    alice.first_name = "Alice"
    alice.save()
    assert sent == []
    alice.is_active = False
    alice.save()
    assert sent == [alice.pk]
    alice.is_active = True
    alice.save(update_fields=["is_active"])
    assert sent == [alice.pk, alice.pk]


def test_logging_in_does_not_send_it_but_logging_out_does(client, alice, sent):
    client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert sent == []
    client.post(reverse("logout"))
    assert sent == [alice.pk]


def test_deleting_a_user_sends_it(alice, sent):
    user_id = alice.pk
    alice.delete()
    assert user_id in sent
