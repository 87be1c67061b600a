"""The action builder: the only way a value reaches AMI, and it refuses line breaks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.ami.actions import ActionIdGenerator, UnsafeActionValue, build_action
from connector.ami.framing import Framer


def parse_back(raw: bytes):
    framer = Framer(expect_banner=False)
    messages = framer.feed(raw)
    assert framer.pending == 0 and framer.bad_frames == 0
    return messages


def action_lines(raw: bytes) -> int:
    return sum(line.startswith(b"Action:") for line in raw.split(b"\n"))


def test_it_builds_one_crlf_terminated_action():
    raw = build_action(
        "Originate",
        {"Channel": "SIP/305", "Exten": "79031112233", "Async": True, "Timeout": 30000, "Account": None},
        action_id="tb-1",
        variables={"CALL_ID": "Иван-1"},
    )
    assert (
        raw
        == (
            "Action: Originate\r\nActionID: tb-1\r\nChannel: SIP/305\r\nExten: 79031112233\r\n"
            "Async: true\r\nTimeout: 30000\r\nVariable: CALL_ID=Иван-1\r\n\r\n"
        ).encode()
    )


def test_repeated_variables_parse_back_in_order():
    raw = build_action("Originate", {"Exten": "1"}, variables={"A": "1", "B": ""})
    assert parse_back(raw)[0].getall("Variable") == ["A=1", "B="]


@pytest.mark.parametrize(
    "value",
    [
        "100\r\nAction: Command\r\nCommand: core show version",
        "100\nAction: Originate",
        "100\r\n\r\nAction: Logoff",
        "100\r",
        "\x00",
        "100\x00",
    ],
)
@pytest.mark.parametrize("field", ["Exten", "Channel", "Context", "CallerID"])
def test_it_refuses_line_breaks_and_nul_in_any_value(field, value):
    with pytest.raises(UnsafeActionValue) as caught:
        build_action("Originate", {field: value}, action_id="tb-1")
    assert caught.value.field == field
    assert value not in str(caught.value)


@pytest.mark.parametrize("value", ["%0d%0a", "\u2028", "\x85", "100\u2029Action: Command", "305\t"])
def test_lookalike_line_breaks_stay_inside_the_one_value(value):
    raw = build_action("Originate", {"Exten": value}, action_id="tb-1")
    (message,) = parse_back(raw)
    assert message["Exten"] == value
    assert action_lines(raw) == 1


def test_it_refuses_line_breaks_in_the_action_id_and_variables():
    with pytest.raises(UnsafeActionValue):
        build_action("Ping", action_id="tb-1\r\nAction: Logoff")
    with pytest.raises(UnsafeActionValue):
        build_action("Originate", variables={"X": "1\nAction: Logoff"})


@pytest.mark.parametrize("name", ["Originate\n", "Origi nate", "", "Ping\r\nAction: Logoff", "1Ping"])
def test_it_refuses_a_bad_action_name(name):
    with pytest.raises(UnsafeActionValue):
        build_action(name)


@pytest.mark.parametrize("key", ["Exten\n", "Exten\r\nAction", "Ex ten", "Ex:ten", "Action", "actionid", ""])
def test_it_refuses_a_bad_or_reserved_header_name(key):
    with pytest.raises(UnsafeActionValue) as caught:
        build_action("Originate", {key: "1"})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["A=B", "X\n", "a b"])
def test_it_refuses_a_bad_variable_name(name):
    with pytest.raises(UnsafeActionValue):
        build_action("Originate", variables={name: "1"})


def test_a_lone_surrogate_is_refused_not_a_crash():
    with pytest.raises(UnsafeActionValue):
        build_action("Originate", {"CallerID": "\ud800"})


@settings(max_examples=400, deadline=None)
@given(s=st.text(alphabet=st.characters(blacklist_categories=()), max_size=40))
def test_any_text_is_refused_or_becomes_exactly_one_action_with_that_exten(s):
    try:
        raw = build_action("Originate", {"Exten": s})
    except UnsafeActionValue:
        assert any(c in s for c in "\r\n\x00") or any(0xD800 <= ord(c) <= 0xDFFF for c in s)
        return
    messages = parse_back(raw)
    assert len(messages) == 1
    assert messages[0]["Exten"] == s
    assert messages[0].getall("Action") == ["Originate"]
    assert action_lines(raw) == 1
    assert raw.count(b"\r\n\r\n") == 1 and raw.endswith(b"\r\n\r\n")


@settings(max_examples=200, deadline=None)
@given(s=st.text(alphabet=st.sampled_from("\r\n\x00ab:Action 1"), max_size=20))
def test_text_full_of_line_breaks_never_smuggles_a_second_action(s):
    try:
        raw = build_action("Originate", {"Exten": s, "CallerID": s})
    except UnsafeActionValue:
        assert any(c in s for c in "\r\n\x00")
        return
    assert action_lines(raw) == 1
    assert len(parse_back(raw)) == 1


def test_action_ids_are_unique_within_and_across_generators():
    first, second = ActionIdGenerator(), ActionIdGenerator()
    ids = [first() for _ in range(1000)] + [second() for _ in range(1000)]
    assert len(set(ids)) == 2000
    assert first.prefix != second.prefix
    assert ActionIdGenerator("w1")() == "w1-1"
