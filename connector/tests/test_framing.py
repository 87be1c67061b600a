"""Framing: bytes in, complete AMI messages out, whatever the network does to the bytes."""

from __future__ import annotations

import json
import random
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ami import accel
from connector.ami.framing import DEFAULT_MAX_MESSAGE, Framer, parse_stream
from connector.ami.message import Message
from connector.ami.trace import incoming, read_trace

TRACES = sorted((Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip").glob("*.jsonl"))
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
HANGUP = b"Event: Hangup\r\nChannel: SIP/305-0000001f\r\nUniqueid: 1795700720.113\r\nCause: 16\r\n\r\n"


@pytest.fixture(autouse=True, params=["compiled", "pure"])
def framer_kind(request):
    """Every test here runs on the compiled framer and on the pure Python one."""
    if request.param == "compiled" and not accel.BUILT:
        pytest.fail("the compiled framer is not loaded: run bin/build-speedups (or select the pure runs: -k pure)")
    was = accel.set_enabled(request.param == "compiled")
    yield request.param
    accel.set_enabled(was)


def feed_all(framer: Framer, *chunks: bytes) -> list[Message]:
    out: list[Message] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def events(messages: list[Message]) -> list[str | None]:
    return [m.event for m in messages if m.banner is None]


def test_it_reads_the_banner_as_its_own_message():
    messages = parse_stream(BANNER + b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
    assert messages[0].banner == "Asterisk Call Manager/9.0.0"
    assert messages[1].response == "Success"
    assert messages[1]["Message"] == "Authentication accepted"


def test_it_waits_for_a_banner_split_across_reads():
    framer = Framer()
    assert framer.feed(b"Asterisk Call Man") == []
    messages = framer.feed(b"ager/9.0.0\r\nEvent: FullyBooted\r\n\r\n")
    assert [m.banner for m in messages] == ["Asterisk Call Manager/9.0.0", None]
    assert messages[1].event == "FullyBooted"


def test_a_stream_without_a_banner_loses_nothing():
    assert events(parse_stream(HANGUP)) == ["Hangup"]
    assert events(Framer(expect_banner=False).feed(HANGUP)) == ["Hangup"]


@pytest.mark.parametrize(
    "wire",
    [
        b"Event: Hangup\r\nCause: 16\r\n\r\n",
        b"Event: Hangup\nCause: 16\n\n",
        b"Event: Hangup\r\nCause: 16\r\n\n",  # asterisk issue 761
        b"Event: Hangup\nCause: 16\n\r\n",
        b"\r\n\r\nEvent: Hangup\r\nCause: 16\r\n\r\n\r\n\r\n",
        b"\n\nEvent: Hangup\r\nCause: 16\n\n\n",
    ],
)
def test_it_accepts_every_kind_of_line_end_and_blank_line(wire):
    framer = Framer(expect_banner=False)
    messages = framer.feed(wire + HANGUP)
    assert [(m.event, m["Cause"]) for m in messages] == [("Hangup", "16"), ("Hangup", "16")]
    assert framer.bad_frames == 0


def test_a_stray_lf_before_the_terminator_stays_out_of_the_value():
    # Asterisk's Park response really ends "Park successful\n\r\n\r\n".
    messages = Framer(expect_banner=False).feed(
        b"Response: Success\r\nActionID: rec-5\r\nMessage: Park successful\n\r\n\r\n" + HANGUP
    )
    assert messages[0]["Message"] == "Park successful"
    assert events(messages) == [None, "Hangup"]


def test_it_keeps_empty_values():
    message = parse_stream(b"Event: Newexten\r\nAppData: \r\nAccountCode:\r\nExten: 305\r\n\r\n", False)[0]
    assert message.headers == {"Event": "Newexten", "AppData": "", "AccountCode": "", "Exten": "305"}


def test_a_value_keeps_its_own_colons_and_spaces():
    message = parse_stream(b"Event: VarSet\r\nValue: a: b  \r\nUniqueid: 1.2\r\n\r\n", False)[0]
    assert message["Value"] == "a: b  "


def test_it_keeps_every_value_of_a_repeated_key_in_order():
    wire = (
        b"Response: Success\r\nActionID: 7\r\nMessage: Command output follows\r\n"
        b"Output: Name/username   Host\r\nOutput: \r\nOutput: 305/305   127.0.0.1\r\n\r\n"
    )
    message = parse_stream(wire, False)[0]
    assert message.getall("Output") == ["Name/username   Host", "", "305/305   127.0.0.1"]
    assert message["Output"] == "Name/username   Host"
    status = parse_stream(b"Event: Status\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n", False)[0]
    assert status.getall("ChanVariable") == ["A=1", "B=2"]


def test_it_reads_the_old_follows_command_body_with_its_blank_lines():
    wire = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9\r\n"
        b"Asterisk 11.25.3 built by root\nVerbosity: 3\n\nlast line\n--END COMMAND--\r\n\r\n" + HANGUP
    )
    for chunks in ([wire], [wire[:80], wire[80:]], [bytes([b]) for b in wire]):
        framer = Framer(expect_banner=False)
        messages = feed_all(framer, *chunks)
        follows = messages[0]
        assert follows.response == "Follows"
        assert follows.action_id == "9"
        assert follows.body == ["Asterisk 11.25.3 built by root", "Verbosity: 3", "", "last line"]
        assert "Verbosity" not in follows.headers
        assert events(messages) == [None, "Hangup"]
        assert framer.bad_frames == 0


def test_an_end_marker_glued_to_the_last_line_is_cut_off():
    wire = b"Response: Follows\r\nPrivilege: Command\r\nNo such command 'x'--END COMMAND--\r\n\r\n"
    assert parse_stream(wire, False)[0].body == ["No such command 'x'"]


def test_a_follows_reply_that_never_ends_does_not_eat_the_next_event():
    messages = parse_stream(b"Response: Follows\r\nPrivilege: Command\r\nsome output\r\n\r\n" + HANGUP, False)
    assert messages[0].body == ["some output"]
    assert events(messages) == [None, "Hangup"]


def test_junk_before_an_event_is_dropped_and_counted():
    framer = Framer(expect_banner=False)
    messages = framer.feed(b"this line has no colon\r\n" + HANGUP + b"nothing here either\r\n\r\n" + HANGUP)
    assert events(messages) == ["Hangup", "Hangup"]
    assert messages[0].body is None
    assert framer.bad_frames == 2


def test_a_70_kb_garbage_block_does_not_eat_the_next_hangup():
    garbage = bytes(range(32, 127)) * 760  # 72 KB, one long line
    framer = Framer(expect_banner=False)
    messages = feed_all(framer, garbage[:30000], garbage[30000:] + b"\r\n" + HANGUP)
    assert events(messages) == ["Hangup"]
    assert framer.bad_frames == 1
    assert framer.pending == 0


def test_a_2_mb_blob_without_terminator_is_capped_and_the_next_hangup_survives():
    framer = Framer(expect_banner=False)
    blob = b"X" * (2 * 1024 * 1024)
    got: list[Message] = []
    for offset in range(0, len(blob), 64 * 1024):
        got += framer.feed(blob[offset : offset + 64 * 1024])
        assert framer.pending <= DEFAULT_MAX_MESSAGE
    got += framer.feed(b"\r\n" + HANGUP[:20])
    got += framer.feed(HANGUP[20:] + HANGUP)
    assert events(got) == ["Hangup", "Hangup"]
    assert framer.bad_frames == 1


def test_an_oversized_message_with_a_terminator_in_one_read_is_dropped():
    framer = Framer(max_message=1024, expect_banner=False)
    huge = b"Event: Huge\r\n" + b"Data: " + b"y" * 5000 + b"\r\n\r\n"
    assert events(framer.feed(huge + HANGUP)) == ["Hangup"]
    assert framer.bad_frames == 1


def test_a_terminator_split_across_reads_while_skipping_is_found():
    framer = Framer(max_message=100, expect_banner=False)
    got = feed_all(framer, b"Event: Big\r\nData: " + b"z" * 300 + b"\r\n\r", b"\n" + HANGUP)
    assert events(got) == ["Hangup"]


@pytest.mark.parametrize("name", ["Иван Петров", "Jürgen Müller 王"])
def test_a_utf8_character_split_across_reads_survives(name):
    wire = f"Event: Newchannel\r\nCallerIDName: {name}\r\n\r\n".encode()
    middle = wire.index(name.encode()) + len(name.encode()) - 2  # inside the last character
    framer = Framer(expect_banner=False)
    assert framer.feed(wire[:middle]) == []
    assert framer.feed(wire[middle:])[0]["CallerIDName"] == name


def test_a_connection_dropped_mid_message_dispatches_nothing():
    framer = Framer()
    got = feed_all(framer, BANNER, b"Event: Newchannel\r\nChannel: SIP/305-0000")
    assert [m.banner for m in got] == ["Asterisk Call Manager/9.0.0"]
    assert framer.pending == len(b"Event: Newchannel\r\nChannel: SIP/305-0000")


def test_invalid_utf8_is_replaced_not_fatal():
    message = parse_stream(b"Event: Newchannel\r\nCallerIDName: \xff\xfeabc\r\n\r\n", False)[0]
    assert message["CallerIDName"] == "\ufffd\ufffdabc"


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_every_recorded_message_frames_to_exactly_what_was_sent(path):
    records = [r for r in read_trace(path) if r.direction == "in"]
    messages = parse_stream(incoming(records))
    assert messages[0].banner == "Asterisk Call Manager/9.0.0"
    assert len(messages) == len(records)
    for record, message in zip(records[1:], messages[1:], strict=True):
        assert message == _naive_parse(record.data)


def _naive_parse(data: bytes) -> Message:
    """An independent reading of one recorded message: split lines, split each at the first ': '."""
    message = Message()
    for line in data.decode("utf-8").replace("\r\n", "\n").strip("\n").split("\n"):
        key, sep, value = line.partition(": ")
        assert sep, line
        message.add(key, value)
    return message


@st.composite
def chunked(draw, data: bytes):
    """``data`` cut into single bytes, into a repeating pattern of small sizes, or at arbitrary points."""
    mode = draw(st.sampled_from(["bytes", "sizes", "cuts"]))
    if mode == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    if mode == "sizes":
        sizes = draw(st.lists(st.integers(1, 300), min_size=1, max_size=20))
        chunks, offset, n = [], 0, 0
        while offset < len(data):
            chunks.append(data[offset : offset + sizes[n % len(sizes)]])
            offset += sizes[n % len(sizes)]
            n += 1
        return chunks
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=60))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_chunking_of_a_trace_parses_like_the_whole_stream(path, data):
    # The recorded caller is ASCII; a multi-byte name makes cuts fall inside UTF-8 sequences too.
    stream = incoming(read_trace(path)).replace(b"Ivan Petrov", "Jürgen Müller 王".encode())
    whole = parse_stream(stream)
    framer = Framer()
    assert feed_all(framer, *data.draw(chunked(stream))) == whole
    assert framer.pending == 0 and framer.bad_frames == 0
    if b"Petrov" in incoming(read_trace(path)):
        assert "Jürgen Müller 王" in [m.get("CallerIDName") for m in whole]


NAMES = st.text(
    alphabet=st.sampled_from("Иван Петров Jürgen Müller 王李 Ωμέγα é ü ß 0123 -_.'\"@"),
    min_size=0,
    max_size=30,
).map(str.strip)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(NAMES, min_size=1, max_size=40), data=st.data())
def test_a_generated_stream_with_non_ascii_names_survives_any_chunking(names, data):
    wire = BANNER + b"".join(
        (
            f"Event: Newchannel\r\nChannel: SIP/trunk-{i:08x}\r\nCallerIDName: {name}\r\n"
            f"ConnectedLineName: {name[::-1]}\r\nUniqueid: 1795700720.{i}\r\n\r\n"
        ).encode()
        for i, name in enumerate(names)
    )
    got = feed_all(Framer(), *data.draw(chunked(wire)))
    assert got == parse_stream(wire)
    assert [m["CallerIDName"] for m in got[1:]] == names
    assert [m["ConnectedLineName"] for m in got[1:]] == [n[::-1] for n in names]


def test_the_traces_are_valid_jsonl():
    # Guards the fixtures themselves: a trace edited by a tool that drops CRLF would mislead every test.
    for path in TRACES:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["msg"].endswith("\n")


LINE_KEYS = st.sampled_from(
    ["Event", "event", "Channel", "CHANNEL", "ActionID", "Key", "Key x", "Key:x", "", "Ключ", "КЛЮЧ", "\u212aey"]
    + ["K?y", "Kéy", "KÉY", "İd", "id"]
)  # U+212A KELVIN SIGN lower-cases to an ASCII k; get() searches non-ASCII text with "?" in place of é
LINE_VALUES = st.text(alphabet=st.sampled_from("ab :\tЖ王\r\n"), max_size=6)  # a lone CR or LF stays in its value
LINES = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}", LINE_KEYS, LINE_VALUES),
    st.builds(lambda k, v: f"{k}:{v}", LINE_KEYS, LINE_VALUES),
    LINE_VALUES,
)


@settings(max_examples=500, deadline=None)
@given(first=st.sampled_from(["Event: Hangup", "Response: Success", "Action: Ping"]), lines=st.lists(LINES, max_size=8))
def test_a_message_read_lazily_answers_exactly_like_a_full_parse(first, lines):
    block = "\r\n".join([first, *lines])
    eager = Message(*_eager(block))
    for key in [
        "Event",
        "Response",
        "ActionID",
        "actionid",
        "Channel",
        "channel",
        "Key",
        "key",
        "Key x",
        "Ключ",
        "ключ",
        "K?y",
        "k?y",
        "Kéy",
        "kÉy",
        "Id",
        "Nope",
    ]:
        assert Message(raw=block).get(key) == eager.get(key), key
    several = Message(raw=block)  # misses and hits on one message share its cached lower-cased text
    keys = ("nope", "key", "KEY", "Channel", "ключ", "K?y", "id", "Event")
    assert [several.get(k) for k in keys] == [eager.get(k) for k in keys]
    lazy = Message(raw=block)
    assert (lazy.event, lazy.response, lazy.action_id) == (eager.event, eager.response, eager.action_id)
    assert lazy == eager
    assert lazy.getall("Key") == eager.getall("Key")


def test_get_on_non_ascii_text_tells_a_replaced_letter_from_a_question_mark():
    block = "Event: Newchannel\r\nKéy: 1\r\nCallerIDName: Иван\r\nK?y: 2\r\nkey: 3\r\nİd: 4"
    assert Message(raw=block).get("K?y") == "2"
    assert Message(raw=block).get("Kéy") == "1"
    assert Message(raw=block).get("KÉY") == "1"  # case-insensitive, non-ASCII letters included
    assert Message(raw=block).get("KEY") == "3"
    assert Message(raw=block).get("Id") is None  # "İd".lower() is "i̇d", not "id"
    message = Message(raw=block)
    assert [message.get(k) for k in ("CallerIDName", "Nope", "key", "Event")] == ["Иван", None, "3", "Newchannel"]
    assert message._raw is not None  # all of that was read from the text
    assert message.get("K?y") == "2"  # "Kéy" looks like "K?y" to the search: the full parse tells them apart


def test_a_kelvin_sign_key_is_found_case_insensitively():
    block = "Event: Hangup\r\n\u212aey: 1\r\nCause: 16"
    assert Message(raw=block).get("key") == "1"
    assert Message(raw=block).get("Cause") == "16"


def test_a_read_with_unusual_text_is_framed_one_message_at_a_time_and_the_same():
    odd = b"Event: UserEvent\r\nData: Response: Follows\r\n\r\n"  # the marker text inside a value
    for wire, expected in (
        (odd + HANGUP, ["UserEvent", "Hangup"]),
        (HANGUP + b"\r\n\r\n" + odd + HANGUP, ["Hangup", "UserEvent", "Hangup"]),  # an extra blank line
    ):
        framer = Framer(expect_banner=False)
        messages = framer.feed(wire)
        assert events(messages) == expected
        assert [m.get("Data") for m in messages if m.event == "UserEvent"] == ["Response: Follows"]
        assert [m["Cause"] for m in messages if m.event == "Hangup"] == ["16"] * (len(expected) - 1)
        assert messages == parse_stream(b"".join(bytes([b]) for b in wire), False)
        assert framer.bad_frames == 0


def _eager(block: str):
    message = Message()
    body = []
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
            if not (sep and key and " " not in key):
                if line:
                    body.append(line)
                continue
        message.add(key, value)
    return message.headers, message.repeated, body or None


def test_framed_messages_come_out_split_by_the_compiled_framer_or_parse_on_first_use(framer_kind):
    message = parse_stream(HANGUP, False)[0]
    if framer_kind == "compiled":
        assert message._raw is None and message._headers["Cause"] == "16"  # split out in C, no text kept
    else:
        assert message._raw is not None  # the framer did not split the headers
    assert message.event == "Hangup" and message.get("Cause") == "16" and message.get("Action") is None
    assert (message._raw is None) == (framer_kind == "compiled")
    assert message.headers["Uniqueid"] == "1795700720.113"
    assert message._raw is None
    assert message.get("cause") == "16" and message.get("CAUSE", "x") == "16" and message.get("Caus", "x") == "x"
    message.add("Cause", "17")
    assert message.getall("Cause") == ["16", "17"]


def test_the_benchmark_stream_parses_without_a_single_mistake():
    from bench.generate import generate
    from bench.parse_bench import collect_ours, misparsed_ours

    stream = generate(3000, concurrent=10)
    assert stream.events == 3000
    assert "Иван Петров".encode() in stream.data or "Ольга".encode() in stream.data
    assert max(len(c) for c in stream.chunks) <= 65536
    assert misparsed_ours(stream, collect_ours(stream.chunks), collect_ours(stream.chunks)) == 0


def test_a_stream_read_from_a_real_socket_frames_like_the_whole_stream():
    stream = b"".join(incoming(read_trace(path)) for path in TRACES[:3]).replace(b"Ivan Petrov", "Иван Петров".encode())
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def send() -> None:
        conn, _ = server.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rng = random.Random(3)
            offset = 0
            while offset < len(stream):
                size = rng.choice([1, 2, 3, 7, 100, 1500, 4096])
                conn.sendall(stream[offset : offset + size])
                offset += size

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    framer = Framer()
    got: list[Message] = []
    with socket.create_connection(server.getsockname(), timeout=5) as client:
        while data := client.recv(65536):
            got += framer.feed(data)
    sender.join(5)
    server.close()
    assert got == parse_stream(stream)
    # One connection has one greeting: the two later ones are junk lines in front of a Response.
    assert sum(m.banner is not None for m in got) == 1
    assert framer.bad_frames == 2
    assert "Иван Петров" in [m.get("CallerIDName") for m in got]
