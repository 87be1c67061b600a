"""Short-lived websocket tokens: issued at /telephony/token/, accepted as ?token= on the socket."""

import base64
import json

import pytest
from channels.db import database_sync_to_async

from connector.tests.consumer_helpers import communicator, expect_refusal, release_db_connections
from connector.tokens import InvalidToken, issue_token, user_for_token

pytestmark = [pytest.mark.usefixtures("fresh_layer"), pytest.mark.timeout(30)]


@pytest.mark.django_db
def test_the_token_endpoint_requires_login(client):
    response = client.get("/telephony/token/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.django_db
def test_the_token_endpoint_issues_a_token_for_the_user(client, alice, settings):
    settings.WS_TOKEN_MAX_AGE = 120
    client.force_login(alice)
    response = client.get("/telephony/token/")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    body = response.json()
    assert body["expires_in"] == 120
    assert user_for_token(body["token"]) == alice


@pytest.mark.django_db
def test_a_password_change_invalidates_tokens(alice):
    token = issue_token(alice)
    alice.set_password("another-pass-456")
    alice.save()
    with pytest.raises(InvalidToken):
        user_for_token(token)


@pytest.mark.django_db
def test_a_tampered_token_is_refused(alice, bob):
    token = issue_token(alice)
    payload, rest = token.split(":", 1)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["u"] = bob.pk  # bob's id under alice's signature
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    forged = f"{forged}:{rest}"
    assert forged != token
    for bad in (forged, token[:-2], "", "x" * 600, "abc"):
        with pytest.raises(InvalidToken):
            user_for_token(bad)


@pytest.mark.django_db(transaction=True)
async def test_a_token_opens_the_socket_without_a_session(alice):
    token = await database_sync_to_async(issue_token)(alice)
    ws = communicator(query=f"token={token}")
    connected, _ = await ws.connect(timeout=5)
    assert connected
    hello = await ws.receive_json_from(timeout=5)
    assert (hello["type"], hello["line"]) == ("hello", "305")
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_expired_token_is_refused_with_4401(alice, settings):
    token = await database_sync_to_async(issue_token)(alice)
    settings.WS_TOKEN_MAX_AGE = -1
    ws = communicator(query=f"token={token}")
    await ws.connect(timeout=5)
    await expect_refusal(ws, 4401, "token_expired")


@pytest.mark.django_db(transaction=True)
async def test_a_bad_token_is_refused_with_4401(alice):
    ws = communicator(query="token=not-a-token")
    await ws.connect(timeout=5)
    await expect_refusal(ws, 4401, "token_invalid")


@pytest.mark.django_db(transaction=True)
async def test_logout_closes_token_sockets(alice):
    from django.test import Client

    token = await database_sync_to_async(issue_token)(alice)
    ws = communicator(query=f"token={token}")
    await ws.connect(timeout=5)
    await ws.receive_json_from(timeout=5)
    client = Client()
    await database_sync_to_async(client.force_login)(alice)
    await database_sync_to_async(client.logout)()
    await expect_refusal(ws, 4401, "logged_out")
    await release_db_connections()
