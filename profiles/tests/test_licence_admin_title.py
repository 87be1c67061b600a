"""A refused change of the seat total keeps the saved pool in the page's title and breadcrumbs."""

import pytest
from django.urls import reverse

from profiles.models import LicencePool

pytestmark = pytest.mark.django_db


def test_a_refused_total_is_not_shown_as_the_pools_state(client, dave, alice, bob):
    pool = LicencePool.get()
    pool.seats = 10
    pool.save()
    client.force_login(dave)
    response = client.post(reverse("admin:profiles_licencepool_change", args=[pool.pk]), {"seats": "1"})
    html = response.content.decode()
    assert response.status_code == 200 and "2 seats are granted" in html
    assert "2 of 10 seats used" in html
    assert "2 of 1 seats used" not in html
    assert 'value="1"' in html  # the typed value stays in the field to correct it
