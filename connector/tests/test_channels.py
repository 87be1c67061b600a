"""Channel names -> technology, endpoint and the operator's line (reliability plan case 15)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.ami.channels import LineMatcher, number_from_dial_string, parse_channel

LINES = frozenset({"305", "306", "office"})


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("SIP/305-0000001a", "305"),
        ("PJSIP/305-000000b2", "305"),
        ("Local/305@from-queue-00000012;1", "305"),
        ("Local/305@from-queue-00000012;2", "305"),
        ("Local/305@from-queue/n", "305"),
        ("SIP/305", "305"),
        ("PJSIP/305", "305"),
        ("SIP/office-0000000a", "office"),
        ("SIP/305-0000001a<ZOMBIE>", "305"),
        ("SIP/3050-00000001", None),
        ("SIP/30-00000001", None),
        ("PJSIP/trunk-sipgate-0000002f", None),
        ("SIP/trunk-00000029", None),
        ("DAHDI/i1/0305-1", None),
        ("IAX2/305-1234", None),
        ("Local/306@from-internal-0000000b;1", None),
        ("Local/305@from-internal-0000000b;2", None),
        ("", None),
        ("305", None),
        ("SIP/", None),
        ("Телефон/305-0000001a", None),
        ("SIP/Оператор-0000001a", None),
    ],
)
def test_it_maps_channel_names_to_configured_lines(name, line):
    assert LineMatcher(LINES).line_of(name) == line


def test_it_splits_the_suffix_at_the_last_dash():
    parsed = parse_channel("PJSIP/trunk-sipgate-0000002f")
    assert (parsed.tech, parsed.endpoint, parsed.suffix) == ("PJSIP", "trunk-sipgate", "0000002f")


def test_local_halves_share_a_base_and_know_their_sibling():
    one = parse_channel("Local/305@from-queue-00000012;1")
    two = parse_channel("Local/305@from-queue-00000012;2")
    assert one.base == two.base == "Local/305@from-queue-00000012"
    assert one.sibling == two.raw and two.sibling == one.raw
    assert parse_channel("SIP/305-0000001a").sibling is None


def test_queue_extension_format_is_configurable():
    matcher = LineMatcher(LINES, queue_extension_format="Local/{0}@agents/n")
    assert matcher.line_of("Local/306@agents-00000001;1") == "306"
    assert matcher.line_of("Local/306@from-queue-00000001;1") is None
    assert matcher.queue_interface("306") == "Local/306@agents/n"


def test_without_configured_lines_only_phones_that_prove_themselves_are_lines():
    matcher = LineMatcher(None)
    assert matcher.line_of("SIP/305-0000001a") is None
    matcher.learn("SIP/305-0000001a", "305")  # its own caller ID is its endpoint: a phone
    matcher.learn("SIP/trunk-00000029", "79161234567")  # a trunk presents the caller's number
    matcher.learn("SIP/trunk-00000032", None)
    assert matcher.line_of("SIP/305-0000002b") == "305"
    assert matcher.line_of("SIP/trunk-00000029") is None
    assert matcher.line_of("Local/307@from-queue-00000001;1") == "307"  # queue members are operators
    assert matcher.is_line("305") and not matcher.is_line("trunk")


def test_configured_lines_ignore_learning():
    matcher = LineMatcher(frozenset({"305"}))
    matcher.learn("SIP/306-00000001", "306")
    assert matcher.line_of("SIP/306-00000001") is None


def test_pjsip_protocol_still_matches_both_drivers():
    matcher = LineMatcher(LINES, protocol="PJSIP/")
    assert matcher.line_of("PJSIP/305-00000001") == "305"
    assert matcher.line_of("SIP/305-00000001") == "305"


@pytest.mark.parametrize(
    ("dial_string", "number"),
    [
        ("79031112233", "79031112233"),
        ("SIP/trunk/79031112233", "79031112233"),
        ("PJSIP/79031112233@trunk", "79031112233"),
        ("Local/305@from-queue/n", "305"),
        ("306", "306"),
        ("305/sip:305@10.0.0.5:5060", "305"),
        ("trunk/sip:79031112233@sip.example.net", "79031112233"),
        ("", None),
        (None, None),
    ],
)
def test_it_reads_the_number_from_a_dial_string(dial_string, number):
    assert number_from_dial_string(dial_string) == number


@given(st.text(max_size=80))
def test_parsing_never_raises(text):
    parse_channel(text)
    LineMatcher(LINES).line_of(text)
    LineMatcher(None).learn(text, text)
    number_from_dial_string(text)
