"""The websocket handshake check (reliability plan case 32): exact origins, sane headers."""

from __future__ import annotations

import pytest

from telephony_site.origin import HandshakeRefused, Origin, check_handshake, parse_origin

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(autouse=True)
def site(settings):
    settings.ALLOWED_HOSTS = ["bridge.example.org", "localhost", "[::1]"]
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = None
    return settings


def scope(origin: str | bytes | None, host: str = "localhost:2013", query: bytes = b"", **extra) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin if isinstance(origin, bytes) else origin.encode()))
    headers.extend(extra.pop("headers", []))
    return {"type": "websocket", "headers": headers, "query_string": query, **extra}


def test_it_accepts_the_pages_own_origin():
    assert check_handshake(scope("http://localhost:2013")) == Origin("http", "localhost", 2013)


def test_it_accepts_default_ports_written_or_not():
    assert check_handshake(scope("http://localhost", host="localhost")) == Origin("http", "localhost", 80)
    assert check_handshake(scope("http://localhost:80", host="localhost")) == Origin("http", "localhost", 80)


def test_it_accepts_an_ipv6_host():
    assert check_handshake(scope("http://[::1]:2013", host="[::1]:2013")) == Origin("http", "::1", 2013)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://localhost.evil.example:2013",
        "http://localhost:9999",  # right host, wrong port
        "https://localhost:2013",  # right host and port, wrong scheme
        "http://localhost",  # port 80 is another origin
        "null",
        "NULL",
        "",
        "ws://localhost:2013",
        "file://localhost:2013",
        "http://user@localhost:2013",
        "http://localhost:2013/path",
        "http://localhost:2013?q",
        "http://localhost:99999",
        " http://localhost:2013",
        "http://lócalhost:2013",
    ],
)
def test_it_refuses_any_other_origin(origin):
    with pytest.raises(HandshakeRefused):
        check_handshake(scope(origin))


def test_it_refuses_a_missing_origin_with_a_cookie_only():
    with pytest.raises(HandshakeRefused, match="no Origin"):
        check_handshake(scope(None, headers=[(b"cookie", b"sessionid=abc")]))


def test_it_lets_a_token_socket_omit_the_origin():
    assert check_handshake(scope(None, query=b"token=abc.def")) is None


def test_an_empty_token_does_not_excuse_a_missing_origin():
    with pytest.raises(HandshakeRefused):
        check_handshake(scope(None, query=b"token="))


def test_a_token_does_not_excuse_a_foreign_origin():
    with pytest.raises(HandshakeRefused):
        check_handshake(scope("https://evil.example", query=b"token=abc.def"))


@pytest.mark.parametrize("value", [b"\x0b", b"\r\nX-Injected: 1", b"\x00", b"\x7f", b"\x1b[31m"])
@pytest.mark.parametrize("name", [b"origin", b"user-agent", b"cookie"])
def test_it_refuses_control_characters_in_any_header(name, value):
    base = b"http://localhost:2013" if name == b"origin" else b"x"
    headers = [(b"host", b"localhost:2013")]
    if name != b"origin":
        headers.append((b"origin", b"http://localhost:2013"))
    headers.append((name, base + value))
    with pytest.raises(HandshakeRefused, match="control character"):
        check_handshake({"type": "websocket", "headers": headers, "query_string": b""})


def test_a_tab_in_a_header_value_is_fine():
    assert check_handshake(scope("http://localhost:2013", headers=[(b"user-agent", b"a\tb")]))


@pytest.mark.parametrize("host", ["evil.example:2013", "", "localhost:2013:1", "local host"])
def test_it_refuses_a_host_that_allowed_hosts_does_not_name(host):
    with pytest.raises(HandshakeRefused, match="ALLOWED_HOSTS"):
        check_handshake(scope("http://localhost:2013", host=host))


def test_it_refuses_a_second_origin_or_host_header():
    with pytest.raises(HandshakeRefused, match="more than one origin"):
        check_handshake(scope("http://localhost:2013", headers=[(b"origin", b"https://evil.example")]))
    with pytest.raises(HandshakeRefused, match="more than one host"):
        check_handshake(scope("http://localhost:2013", headers=[(b"host", b"bridge.example.org")]))


def test_a_wildcard_allowed_hosts_still_needs_the_exact_origin(site):
    site.ALLOWED_HOSTS = ["*"]
    assert check_handshake(scope("http://anything.example:2013", host="anything.example:2013"))
    with pytest.raises(HandshakeRefused):
        check_handshake(scope("https://evil.example", host="anything.example:2013"))


def test_the_messaging_node_accepts_the_sites_public_origin_from_csrf_trusted_origins(site):
    # nginx: the page on https://bridge.example.org:2014, the socket on ws://bridge.example.org:2013.
    site.CSRF_TRUSTED_ORIGINS = ["https://bridge.example.org:2014"]
    node = {"host": "bridge.example.org:2013"}
    assert check_handshake(scope("https://bridge.example.org:2014", **node)) == Origin(
        "https", "bridge.example.org", 2014
    )
    for other in ("http://bridge.example.org:2014", "https://bridge.example.org", "https://evil.example:2014"):
        with pytest.raises(HandshakeRefused):
            check_handshake(scope(other, **node))


def test_a_wildcard_trusted_origin_matches_subdomains_on_its_port_only(site):
    site.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    assert check_handshake(scope("https://crm.example.org", host="localhost"))
    with pytest.raises(HandshakeRefused):
        check_handshake(scope("https://crm.example.org:8443", host="localhost"))
    with pytest.raises(HandshakeRefused):
        check_handshake(scope("https://crm.example.org.evil.example", host="localhost"))


def test_behind_a_tls_proxy_the_forwarded_scheme_counts_only_when_trusted(site):
    forwarded = [(b"x-forwarded-proto", b"https")]
    with pytest.raises(HandshakeRefused):
        check_handshake(scope("https://bridge.example.org", host="bridge.example.org", headers=forwarded))
    site.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert check_handshake(scope("https://bridge.example.org", host="bridge.example.org", headers=forwarded))
    with pytest.raises(HandshakeRefused):
        check_handshake(scope("http://bridge.example.org", host="bridge.example.org", headers=forwarded))


def test_a_wss_scope_is_https():
    assert check_handshake(scope("https://localhost", host="localhost", scheme="wss"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("HTTPS://Bridge.Example.ORG", Origin("https", "bridge.example.org", 443)),
        ("http://127.0.0.1:8000/", Origin("http", "127.0.0.1", 8000)),
        ("http://[::1]", Origin("http", "::1", 80)),
    ],
)
def test_parse_origin_normalises(text, expected):
    assert parse_origin(text) == expected


async def test_refusals_are_denied_and_logged_once_per_interval(caplog):
    from channels.testing import WebsocketCommunicator

    from telephony_site import origin as module

    reached = []

    async def app(scope, receive, send):
        reached.append(scope)

    clock = [1000.0]
    validator = module.StrictOriginValidator(app, clock=lambda: clock[0])
    caplog.set_level("WARNING", logger="telephony_site.origin")
    for _ in range(3):
        headers = [(b"host", b"localhost:2013"), (b"origin", b"https://evil.example")]
        connected, _ = await WebsocketCommunicator(validator, "/ws/telephony/", headers=headers).connect(timeout=5)
        assert connected is False
    clock[0] += module.LOG_INTERVAL
    await WebsocketCommunicator(validator, "/ws/telephony/", headers=[(b"host", b"localhost:2013")]).connect(timeout=5)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "evil.example" in messages[0]
    assert "no Origin" in messages[1] and "(2 more refused since the last report)" in messages[1]
    assert reached == []
