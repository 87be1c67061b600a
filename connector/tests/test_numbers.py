"""The one number validator (reliability plan cases 26, 27 and 35's prefix policy)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.ami.actions import UnsafeActionValue, build_action
from connector.numbers import (
    InvalidNumber,
    check_denied_prefixes,
    validate_dtmf,
    validate_number,
    validate_reason,
)


@pytest.mark.parametrize("number", ["+4930123", "*97", "#31#", "305", "79031112233", "1", "9" * 32])
def test_it_accepts_plain_numbers(number):
    assert validate_number(number, denied=()) == number


@pytest.mark.parametrize(
    "number",
    [
        "100\r\nAction: Command\r\nCommand: core show version",
        "100\nAction: Originate",
        "100\r\n\r\nAction: Logoff",
        "\x00",
        "100\x00",
        "%0d%0a",
        "100\u2028",
        "100\x85",
    ],
)
def test_it_rejects_crlf_and_control_characters(number):
    with pytest.raises(InvalidNumber) as info:
        validate_number(number, denied=())
    assert info.value.code == "invalid_number"


@pytest.mark.parametrize(
    "number",
    [
        "305&DAHDI/g1/004930123",
        "305,,30",
        "305|x",
        "${SHELL(id)}",
        "_X.",
        "9" * 33,
        "305 1",
        " 305",
        "305\t",
        "",
        "+",
        "3+05",
        "++305",
        "٣٠٥",  # Arabic-Indic digits are digits to Python, not to Asterisk
        "３０５",
    ],
)
def test_it_rejects_dialplan_characters_and_bad_lengths(number):
    with pytest.raises(InvalidNumber):
        validate_number(number, denied=())


@pytest.mark.parametrize("value", [None, 305, ["305"], {"n": "305"}])
def test_it_rejects_non_strings(value):
    with pytest.raises(InvalidNumber):
        validate_number(value, denied=())


def test_the_message_names_the_character():
    with pytest.raises(InvalidNumber) as info:
        validate_number("100\r\n", denied=())
    assert "U+000D (CR)" in str(info.value)
    with pytest.raises(InvalidNumber) as info:
        validate_number("9" * 33, denied=())
    assert "32" in info.value.message


def test_denied_prefixes_are_refused_with_their_own_code():
    with pytest.raises(InvalidNumber) as info:
        validate_number("004930123", denied=("00", "0900"))
    assert info.value.code == "number_denied"
    assert "00" in info.value.message
    with pytest.raises(InvalidNumber):
        validate_number("09001234", denied=("00", "0900"))
    assert validate_number("+4930123", denied=("00", "0900")) == "+4930123"


def test_denied_prefixes_come_from_settings(settings):
    settings.ORIGINATE_DENIED_PREFIXES = ("8800",)
    with pytest.raises(InvalidNumber) as info:
        validate_number("88001234567")
    assert info.value.code == "number_denied"
    assert validate_number("89161234567") == "89161234567"


def test_the_deny_list_itself_is_validated():
    assert check_denied_prefixes(["00", " 0900 ", ""]) == ("00", "0900")
    with pytest.raises(ValueError, match="ORIGINATE_DENIED_PREFIXES"):
        check_denied_prefixes(["00", "x"])


@given(st.text(max_size=40))
def test_whatever_passes_is_safe_for_ami(text):
    try:
        number = validate_number(text, denied=())
    except InvalidNumber:
        return
    assert set(number) <= set("+0123456789*#")
    raw = build_action("Originate", {"Exten": number})
    assert raw.count(b"\r\n\r\n") == 1
    assert raw.count(b"Action:") == 1


@given(st.text(max_size=60))
def test_build_action_never_yields_a_second_action(text):
    try:
        raw = build_action("Originate", {"Exten": text})
    except UnsafeActionValue:
        return
    assert raw.count(b"\r\n\r\n") == 1
    assert raw.endswith(b"\r\n\r\n")
    assert raw.count(b"\r\n") == 3


@pytest.mark.parametrize("digits,expected", [("123", "123"), ("*#", "*#"), ("abcd", "ABCD"), ("0", "0")])
def test_it_accepts_dtmf(digits, expected):
    assert validate_dtmf(digits) == expected


@pytest.mark.parametrize("digits", ["", "12E", "1 2", "1\r\n", "1" * 33, None, 5, "١"])
def test_it_rejects_bad_dtmf(digits):
    with pytest.raises(InvalidNumber) as info:
        validate_dtmf(digits)
    assert info.value.code == "invalid_dtmf"


@pytest.mark.parametrize("reason,expected", [("break", "break"), ("Обед", "Обед"), (None, ""), (" lunch ", "lunch")])
def test_it_accepts_reasons(reason, expected):
    assert validate_reason(reason) == expected


@pytest.mark.parametrize("reason", ["a\r\nAction: Logoff", "a\x00", "a\u2028b", "a\x85", "a\tb", "x" * 81, 5])
def test_it_rejects_bad_reasons(reason):
    with pytest.raises(InvalidNumber) as info:
        validate_reason(reason)
    assert info.value.code == "invalid_reason"
