"""Two administrators at the same moment: the last free seat goes to one of them, never to both.

Each admin's save runs in its own transaction on its own connection (as two
requests would); the first holds its transaction open after validating, so
without the pool lock the second would count the seats before the first commits.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from profiles.models import LicencePool, Profile

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)"),
    pytest.mark.timeout(30),
]


def set_seats(total: int) -> None:
    pool = LicencePool.get()
    pool.seats = total
    pool.save()


def race(first, second) -> dict:
    """Run ``first`` in a transaction kept open for a while after it is done, and ``second`` meanwhile."""
    outcome: dict = {}
    first_done = threading.Event()

    def run(name, work, hold: bool) -> None:
        try:
            with transaction.atomic():
                work()
                if hold:
                    first_done.set()
                    time.sleep(1.0)  # the second admin's check runs now, before this commit
            outcome[name] = "saved"
        except ValidationError as exc:
            outcome[name] = exc.message_dict
        finally:
            first_done.set()
            connection.close()

    threads = [threading.Thread(target=run, args=("first", first, True))]
    threads.append(threading.Thread(target=lambda: (first_done.wait(10), run("second", second, False))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return outcome


def grant(user) -> Callable[[], None]:
    def work() -> None:
        profile = Profile.objects.get(user=user)
        profile.has_seat = True
        profile.full_clean()
        profile.save()

    return work


def test_two_admins_granting_the_last_seat_at_once_give_it_to_one(make_operator):
    set_seats(2)
    make_operator("alice", "305")
    bob, carol = make_operator("bob", "306", seat=False), make_operator("carol", "307", seat=False)
    outcome = race(grant(bob), grant(carol))
    assert outcome["first"] == "saved"
    assert "No telephony licence is free: 2 of 2 seats" in outcome["second"]["has_seat"][0]
    assert Profile.objects.filter(has_seat=True).count() == 2


def test_lowering_the_seats_while_a_seat_is_granted_cannot_leave_more_seats_than_the_total(make_operator):
    set_seats(2)
    make_operator("alice", "305")
    bob = make_operator("bob", "306", seat=False)

    def lower() -> None:
        pool = LicencePool.get()
        pool.seats = 1
        pool.full_clean()
        pool.save()

    outcome = race(grant(bob), lower)
    assert outcome["first"] == "saved"
    assert "2 seats are granted" in outcome["second"]["seats"][0]
    assert LicencePool.get().seats == 2 and Profile.objects.filter(has_seat=True).count() == 2
