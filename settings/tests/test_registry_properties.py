"""Property tests: whatever an administrator types, a stored server node is a clean URL."""

import re

from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from settings.registry import SETTINGS, SYS_MSG_SERVER_NODE

STORED = re.compile(r"\A(ws|wss|http|https)://([a-z0-9.\-]+|\[[0-9a-f:.]+\]):\d{1,5}\Z")
spec = SETTINGS[SYS_MSG_SERVER_NODE]

schemes = st.sampled_from(["ws://", "wss://", "http://", "https://", "WSS://", "ftp://", "", "//"])
hosts = st.one_of(
    st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9\-]{0,10}(\.[a-zA-Z0-9\-]{1,10}){0,3}\Z"),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.text(max_size=20),
)
ports = st.one_of(
    st.just(""), st.integers(min_value=-5, max_value=70000).map(lambda port: f":{port}"), st.text(max_size=6)
)
tails = st.one_of(st.just(""), st.just("/"), st.text(max_size=10))


@settings(max_examples=400, deadline=None)
@given(schemes, hosts, ports, tails)
def test_a_stored_node_is_always_a_clean_url_and_cleaning_is_idempotent(scheme, host, port, tail):
    try:
        stored = spec.clean(scheme + host + port + tail)
    except ValidationError:
        return
    if stored:
        assert STORED.match(stored), stored
        assert 1 <= int(stored.rsplit(":", 1)[1]) <= 65535
    assert spec.clean(stored) == stored


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_stores_a_control_character(text):
    try:
        stored = spec.clean(text)
    except ValidationError:
        return
    assert stored == "" or STORED.match(stored)
