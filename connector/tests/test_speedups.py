"""The compiled framer (connector/ami/_speedups.c) gives exactly the messages of the pure Python one."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ami import accel, build
from connector.ami.framing import Framer
from connector.ami.message import Message
from connector.ami.trace import incoming, read_trace

ROOT = Path(__file__).resolve().parents[2]
TRACES = sorted((ROOT / "tests" / "traces" / "asterisk-20.20.1-sip").glob("*.jsonl"))
BANNER = b"Asterisk Call Manager/9.0.0\r\n"


@pytest.fixture(autouse=True)
def restore_switch():
    was = accel.set_enabled(True)
    yield
    accel.set_enabled(was)


def test_the_compiled_module_is_built_from_the_current_source_and_loaded():
    assert accel.BUILT, "connector/ami/_speedups.c is not built: run bin/build-speedups"
    library = build.target()
    assert library.exists()
    assert library.stat().st_mtime >= build.SOURCE.stat().st_mtime, "stale build: run bin/build-speedups"
    assert issubclass(Message, accel.MessageBase) and accel.MessageBase.__module__ == "connector.ami._speedups"


def test_a_failed_build_says_so_and_leaves_the_built_module_alone():
    before = build.target().read_bytes()
    failed = subprocess.run(
        [sys.executable, str(build.HERE / "build.py"), "--force"],
        env={**os.environ, "CC": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1 and "build.py:" in failed.stderr
    assert build.target().read_bytes() == before


def frame_all(stream: bytes, cuts: list[int], compiled: bool, limit: int, banner: bool):
    """What a framer makes of ``stream`` read in pieces ending at ``cuts``, in a comparable form."""
    accel.set_enabled(compiled)
    framer = Framer(max_message=limit, expect_banner=banner)
    messages: list[Message] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        messages += framer.feed(stream[start:cut])
        start = cut
    shape = [(m.banner, list(m.headers.items()), m.repeated or [], m.body or []) for m in messages]
    return shape, framer.bad_frames, framer.pending


KEYS = st.sampled_from(
    [*"Event Channel channel CHANNEL Uniqueid CallerIDName Output Kéy \u212aey".split(), "", "A B", "x:y"]
)
VALUES = st.lists(st.sampled_from([*"ab :\r\t?ИвнПтоü王", "--END COMMAND--"]), max_size=10).map("".join)
LINES = st.one_of(
    st.builds("{}: {}".format, KEYS, VALUES),
    st.sampled_from(["Key:value", "junk line", "Key:", "", "--END COMMAND--", "ChanVariable: a=b"]),
)
FIRST = st.sampled_from(
    ["Event: Hangup", "Event: Hangup", "Response: Success", "Action: Ping", "Response: Follows", "junk", "Event:X", ""]
)
SEPARATORS = st.sampled_from(["\r\n"] * 6 + ["\n"])
ENDS = st.sampled_from(["\r\n\r\n"] * 6 + ["\r\n\r\n\r\n", "\n\n", "\r\n\n", "\n\r\n"])
MESSAGES = st.tuples(FIRST, st.lists(LINES, max_size=6), SEPARATORS, ENDS).map(
    lambda m: (m[0] + "".join(m[2] + line for line in m[1]) + m[3]).encode()
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(MESSAGES, max_size=12),
    banner=st.booleans(),
    limit=st.sampled_from([24, 80, 256 * 1024]),
    junk=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([b"\xff", b"\xe2\x82", b"\xd0", b"\r", b"\n"]))),
    data=st.data(),
)
def test_any_stream_in_any_reads_frames_the_same_compiled_or_pure(messages, banner, limit, junk, data):
    stream = bytearray(b"".join(messages))
    for at, piece in junk:
        stream[at % (len(stream) + 1) : at % (len(stream) + 1)] = piece  # invalid UTF-8, stray CR or LF
    stream = (BANNER if banner else b"") + bytes(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    assert frame_all(stream, cuts, True, limit, banner) == frame_all(stream, cuts, False, limit, banner)


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_every_trace_frames_the_same_compiled_or_pure(path):
    stream = incoming(read_trace(path)).replace(b"Ivan Petrov", "Иван Петров".encode())
    cuts = list(range(4096, len(stream), 4096))
    compiled = frame_all(stream, cuts, True, 256 * 1024, stream.startswith(b"Asterisk"))
    assert compiled == frame_all(stream, cuts, False, 256 * 1024, stream.startswith(b"Asterisk"))
    assert len(compiled[0]) >= 2 and compiled[1] == 0  # the banner and at least one message


def test_only_plain_crlf_messages_are_split_in_c_and_the_rest_is_left_to_python():
    plain = b"Event: Newchannel\r\nChannel: SIP/305-0001\r\nCallerIDName: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\r\nAppData: \r\n\r\n"
    (message,) = accel.frame(plain, len(plain), 1024, Message)
    assert message._raw is None
    assert list(message.headers.items()) == [
        ("Event", "Newchannel"),
        ("Channel", "SIP/305-0001"),
        ("CallerIDName", "Иван"),
        ("AppData", ""),
    ]
    repeated = b"Response: Success\r\nOutput: a\r\nOutput: b\r\n\r\n"
    (message,) = accel.frame(repeated, len(repeated), 1024, Message)
    assert message._raw == "Response: Success\r\nOutput: a\r\nOutput: b"  # the full parse in Python handles it
    assert message.getall("Output") == ["a", "b"]
    for careful in (
        b"Event: A\nX: 1\n\n",  # bare LF
        b"Event: A\r\n\r\n\r\n",  # a blank-line run
        b"junk\r\nEvent: A\r\n\r\n",
        b"Response: Follows\r\nPrivilege: Command\r\n\r\n",
        b"Event: A\r\n",  # no blank line at the end
    ):
        assert accel.frame(careful, len(careful), 1024, Message) is None, careful
    assert accel.frame(plain, len(plain), 20, Message) is None  # larger than the limit: Python drops and counts it
    assert accel.frame(plain + b"Event: B", len(plain), 1024, Message)[0].event == "Newchannel"  # only data[:end]


def test_frame_refuses_wrong_arguments_with_a_clear_error():
    with pytest.raises(TypeError, match="cls must be a subclass of MessageBase"):
        accel.frame(b"Event: A\r\n\r\n", 12, 1024, dict)
    with pytest.raises(ValueError, match="end is outside the data"):
        accel.frame(b"Event: A\r\n\r\n", 13, 1024, Message)
    with pytest.raises(TypeError, match="takes 4 arguments"):
        accel.frame(b"")
    with pytest.raises(TypeError, match="takes 3 arguments"):
        accel.fold_get({}, "a")


def pure_fold(headers: dict[str, str], key: str, default):
    folded: dict[str, str] = {}
    for name, value in headers.items():
        folded.setdefault(name.lower(), value)
    return folded.get(key.lower(), default)


@settings(max_examples=500, deadline=None)
@given(
    headers=st.dictionaries(st.text(alphabet="aAbBkK@`[{zZ\u212aé_", max_size=4), st.text(max_size=3), max_size=6),
    key=st.text(alphabet="aAbBkK@`[{zZ\u212aé_", max_size=4),
)
def test_the_compiled_case_insensitive_lookup_answers_like_str_lower(headers, key):
    answer = accel.fold_get(headers, key, "default")
    if answer is NotImplemented:  # only where Unicode case rules apply
        assert not key.isascii() or not all(name.isascii() for name in headers)
    else:
        assert answer == pure_fold(headers, key, "default")


def test_get_falls_back_to_the_pure_lookup_for_unicode_keys():
    (message,) = accel.frame(b"Event: A\r\n\xe2\x84\xaaey: 1\r\n\r\n", 22, 1024, Message)  # a Kelvin sign
    assert message.get("key") == "1" and message.get("KEY") == "1" and message.get("Kéy") is None


def test_the_compiled_get_answers_like_the_python_one_on_every_kind_of_message():
    block = "Event: Hangup\r\nChannel: SIP/305-0001\r\nCallerIDName: Иван\r\nCause: 16"
    (split,) = accel.frame(block.encode() + b"\r\n\r\n", len(block.encode()) + 4, 1024, Message)
    made = Message({"Event": "Hangup", "Channel": "SIP/305-0001", "CallerIDName": "Иван", "Cause": "16"})
    for message in (split, made, Message(raw=block)):
        assert message.get("Channel") == "SIP/305-0001" and message.get("channel") == "SIP/305-0001"
        assert message.get("CallerIDName") == "Иван" and message["CAUSE"] == "16" and "cause" in message
        assert message.get("Nope") is None and message.get("Nope", "x") == "x" and message.get("Nope", default=1) == 1
        assert message._text_get("channel") == message.get("channel")
    with pytest.raises(TypeError, match=r"get\(key, default=None\)"):
        split.get()
    with pytest.raises(TypeError, match=r"get\(key, default=None\)"):
        split.get("a", fallback=1)
    with pytest.raises(TypeError, match="unhashable"):
        split.get(["Channel"])
    with pytest.raises(KeyError):
        split["Nope"]


def test_switched_off_the_compiled_get_hands_every_read_to_python(monkeypatch):
    wire = b"Event: A\r\nKey: 1\r\n\r\n"
    (message,) = accel.frame(wire, len(wire), 1024, Message)
    seen = []
    monkeypatch.setattr(Message, "_text_get", lambda self, key, default=None: seen.append(key) or "python")
    assert message.get("Key") == "1" and seen == []
    accel.set_enabled(False)
    assert message.get("Key") == "python" and message["key"] == "python" and seen == ["Key", "key"]


def test_framing_the_same_stream_again_and_again_keeps_no_memory():
    stream = b"".join(incoming(read_trace(path)) for path in TRACES[:4])
    stream = stream.replace(b"Ivan Petrov", "Иван Петров".encode())

    def frame_it() -> None:
        framer = Framer()
        for start in range(0, len(stream), 8192):
            for message in framer.feed(stream[start : start + 8192]):
                message.get("Channel")
                message.get("nosuch")

    frame_it()  # warm up: the key table fills once
    gc.collect()
    tracemalloc.start()
    try:
        frame_it()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(30):
            frame_it()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after framing {len(stream)} bytes 30 times"


def test_the_pure_python_framer_passes_the_framing_tests_without_the_compiled_module():
    env = {**os.environ, "AMI_PURE_PYTHON": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "from connector.ami import accel; print(accel.BUILT, accel.frame)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["False", "None"]
    framing_tests = ["-p", "no:cacheprovider", "-k", "pure", "connector/tests/test_framing.py"]
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *framing_tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
