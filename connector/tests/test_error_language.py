"""The server's errors reach the browser in the language of its page; logs and audit keep English."""

import pytest
from django.utils import translation

from connector import texts
from connector.commands import CommandError, parse_command
from connector.socket_access import CLOSE_NO_SEAT
from connector.tests.consumer_helpers import (
    communicator,
    connect_user,
    expect_refusal,
    release_db_connections,
    running_worker,
    session_cookie,
)
from connector.tests.test_control import ALICE_CALL, PbxError, RecordingClient

pytestmark = [pytest.mark.usefixtures("fresh_layer"), pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


def scope(query: str = "", cookie: str = "", accept: str = "") -> dict:
    headers = [(b"accept-language", accept.encode())] if accept else []
    return {
        "query_string": query.encode(),
        "headers": headers,
        "cookies": {"django_language": cookie} if cookie else {},
    }


@pytest.mark.parametrize(
    "given,language",
    [
        (scope("lang=ru"), "ru"),
        (scope("lang=ru", cookie="en", accept="en"), "ru"),  # the page said so: it wins
        (scope("lang=de", cookie="ru"), "ru"),  # a language the site does not have is ignored
        (scope(accept="de-DE,ru;q=0.8,en;q=0.5"), "ru"),
        (scope(accept="ru-RU"), "ru"),
        (scope(accept="de"), "en"),  # settings.LANGUAGE_CODE
        (scope(), "en"),
    ],
)
def test_the_socket_speaks_the_language_of_the_page(given, language):
    assert texts.language_for(given) == language


def test_a_template_is_translated_and_filled_in_and_never_leaves():
    with pytest.raises(CommandError) as refused:
        parse_command({"type": "dtmf", "ref": 1, "call_id": "c1", "digits": "12\r"})
    error = refused.value.as_error()
    assert error["message"] == "U+000D (CR) is not a DTMF digit (0-9, *, #, A-D)."  # English for logs and audit
    sent = texts.localize({"type": "result", "ref": 1, "ok": False, "error": error}, "ru")
    assert sent["error"] == {"code": "invalid_dtmf", "message": "U+000D (CR) — не цифра DTMF (0-9, *, #, A-D)."}
    assert error["template"] and error["params"] == {"char": "U+000D (CR)"}  # the original is left as it was


def test_asterisk_words_and_events_pass_untouched():
    pbx = {"type": "result", "ref": 1, "ok": False, "error": {"code": "pbx_error", "message": "No such channel"}}
    assert texts.localize(pbx, "ru") == pbx
    event = {"type": "call.ended", "seq": 3, "call": {"id": "c1"}}
    assert texts.localize(event, "ru") is event
    empty = {"type": "error", "code": "x", "message": ""}
    assert texts.localize(empty, "ru") == empty  # gettext("") would be the catalogue's header


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english():
    broken = {"type": "error", "code": "x", "message": "A 7", "template": "A %(n)s", "params": {"other": 1}}
    assert texts.localize(broken, "ru") == {"type": "error", "code": "x", "message": "A 7"}


async def test_a_refused_command_is_answered_in_russian(alice):
    ws, _ = await connect_user(alice, "lang=ru")
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from(timeout=5))["message"] == "Сообщение не является корректным JSON."
    await ws.send_json_to({"type": "call", "ref": "c", "number": "123456789012345678901234567890123"})
    reply = await ws.receive_json_from(timeout=5)
    assert reply["error"] == {"code": "invalid_number", "message": "Номер длиннее 32 символов."}
    await ws.disconnect()


async def test_the_workers_refusals_are_answered_in_the_sockets_language(alice):
    client = RecordingClient(fail={"Hangup": PbxError("pbx_error", "No such channel")})
    async with running_worker(client, {("305", "c1"): ALICE_CALL}):
        ws, _ = await connect_user(alice, "lang=ru")
        await ws.send_json_to({"type": "hangup", "ref": 1, "call_id": "c2"})
        reply = await ws.receive_json_from(timeout=5)
        assert reply["error"] == {"code": "forbidden", "message": "Этот звонок не на вашей линии (или уже завершён)."}
        await ws.send_json_to({"type": "hangup", "ref": 2, "call_id": "c1"})
        reply = await ws.receive_json_from(timeout=5)
        assert reply["error"] == {"code": "pbx_error", "message": "No such channel"}  # Asterisk's own words
        english, _ = await connect_user(alice)
        await english.send_json_to({"type": "hangup", "ref": 3, "call_id": "c2"})
        reply = await english.receive_json_from(timeout=5)
        assert reply["error"]["message"] == "That call is not on your line (or has ended)."
    await ws.disconnect()
    await english.disconnect()


async def test_a_refused_socket_is_told_why_in_the_browsers_language(carol):
    _client, session_id = await session_cookie(carol)
    ws = communicator(session_id, extra_headers=[(b"accept-language", b"ru-RU,ru;q=0.9")])
    await ws.connect(timeout=5)
    error = await expect_refusal(ws, CLOSE_NO_SEAT, "no_seat")
    assert error["message"] == "У вас нет лицензии телефонии."
    await release_db_connections()


def test_every_error_text_the_server_writes_is_in_the_russian_catalogue():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    marked = set()
    for path in ("commands.py", "consumers.py", "control.py", "numbers.py", "socket_access.py"):
        source = (root / path).read_text(encoding="utf-8")
        marked |= set(re.findall(r'gettext_noop\(\s*"((?:[^"\\]|\\.)*)"\s*\)', source))
    assert len(marked) >= 45
    with translation.override("ru"):
        untranslated = sorted(text for text in marked if translation.gettext(text) == text)
    assert untranslated == []
