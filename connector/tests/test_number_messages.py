"""A refused number names the character so an operator can find it: visible ones as typed, others by code."""

import pytest

from connector.numbers import InvalidNumber, validate_number


@pytest.mark.parametrize(
    ("number", "named"),
    [
        ("79a61234567", '"a"'),
        ("7916;1234", '";"'),
        ("7916\u04371234", '"\u0437"'),  # a Cyrillic letter
        ("7916\r\n1234", "U+000D (CR)"),
        ("7916 1234", "U+0020 (space)"),
        ("7916\u202e1234", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ],
)
def test_the_refused_character_is_named_readably(number, named):
    with pytest.raises(InvalidNumber) as info:
        validate_number(number)
    assert f"contains {named};" in str(info.value)
