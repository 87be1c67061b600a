"""ami_replay on the recorded Asterisk 20 traces and the synthetic scenarios.

Each scenario's exact expected event list is in tests/expected/<scenario>.jsonl
(checked by hand against the trace and PROTOCOL.md); the chan_pjsip variants
of the recordings must give exactly the chan_sip result.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connector.ami.replay import base_time, replay_records
from connector.ami.trace import parse_trace, read_trace
from connector.ami.tracker import TrackerConfig

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "tests" / "traces" / "asterisk-20.20.1-sip"
SYNTHETIC = ROOT / "tests" / "synthetic"
EXPECTED = ROOT / "tests" / "expected"

RECORDED = sorted(p.stem for p in TRACES.glob("*.jsonl"))
HAND_BUILT = [
    "attended-transfer-refused",
    "attended-transfer-cancelled",
    "attended-transfer-cancelled-ringing",
    "attended-transfer-caller-left",
    "attended-transfer-caller-left-ringing",
    "queue-attended-transfer-cancelled",
    "attended-transfer-to-queue",
    "call-pickup",
    "internal-call-pickup",
    "call-waiting",
    "inbound-unregistered",
    "originate-unregistered",
    "queue-ring-again",
    "queue-call-pickup",
    "two-devices",
    "queue-blind-transfer",
    "phone-attended-transfer",
    "queue-abandon",
    "transfer-to-queue",
    "redirect",
    "park-timeout",
    "phone-hold",
    "reconnect-mid-call",
    "reconnect-outage",
]

pytestmark = pytest.mark.timeout(60)


def replay(path: Path, *args: str) -> list[dict]:
    out = io.StringIO()
    call_command("ami_replay", str(path), *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def expected(name: str) -> list[dict]:
    text = (EXPECTED / f"{name}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def summary(events: list[dict]) -> list[tuple]:
    """(line, type, state, reason) per event: readable assertions on top of the exact lists."""
    return [
        (e["line"], e["type"], (e.get("call") or {}).get("state"), (e.get("call") or {}).get("end_reason"))
        for e in events
    ]


def test_every_recorded_trace_has_an_expected_list():
    assert len(RECORDED) == 12
    for name in RECORDED:
        assert (EXPECTED / f"{name}.jsonl").is_file(), name


@pytest.mark.parametrize("name", RECORDED)
def test_it_replays_each_recorded_trace_exactly(name):
    assert replay(TRACES / f"{name}.jsonl") == expected(name)


@pytest.mark.parametrize("name", HAND_BUILT)
def test_it_replays_each_synthetic_scenario_exactly(name):
    assert replay(SYNTHETIC / f"{name}.jsonl") == expected(name)


@pytest.mark.parametrize("name", [n for n in RECORDED if n != "login-failure"] + HAND_BUILT)
def test_chan_pjsip_naming_gives_the_same_calls(name):
    assert replay(SYNTHETIC / f"pjsip-{name}.jsonl", "--protocol", "PJSIP/") == expected(name)


@pytest.mark.parametrize("name", RECORDED + HAND_BUILT)
def test_random_chunks_give_identical_output(name):
    path = TRACES / f"{name}.jsonl" if name in RECORDED else SYNTHETIC / f"{name}.jsonl"
    records = read_trace(path)
    whole = replay_records(records)
    for seed in range(3):
        rng = random.Random(f"{name}-{seed}")

        def split(data: bytes, rng=rng) -> list[bytes]:
            cuts = (
                sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 6)))) if len(data) > 1 else []
            )
            return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]

        assert replay_records(records, split=split) == whole
    one_byte = replay_records(records, split=lambda data: [data[i : i + 1] for i in range(len(data))])
    assert one_byte == whole


def test_inbound_answered_is_ringing_answered_completed_with_the_recorded_duration():
    events = replay(TRACES / "inbound-answered.jsonl")
    assert summary(events) == [
        ("305", "call.ringing", "ringing", None),
        ("305", "call.answered", "active", None),
        ("305", "call.ended", "ended", "completed"),
    ]
    assert [e["seq"] for e in events] == [1, 2, 3]
    call = events[-1]["call"]
    assert call["direction"] == "inbound"
    assert (call["remote_number"], call["remote_name"]) == ("79161234567", "Ivan Petrov")
    assert 2.9 < call["duration"] < 3.1
    assert len({e["call"]["id"] for e in events}) == 1


def test_times_come_from_the_recording():
    records = read_trace(TRACES / "inbound-answered.jsonl")
    assert base_time(records) == 1795700624.0
    events = replay(TRACES / "inbound-answered.jsonl")
    assert events[0]["call"]["started_at"].startswith("2026-11-26T")
    assert events[0]["call"]["started_at"].endswith("Z")


def test_click_to_call_is_outbound_dialing_to_the_requested_number():
    events = replay(TRACES / "originate-click-to-call.jsonl")
    assert events[0]["type"] == "call.dialing"
    assert events[0]["call"]["direction"] == "outbound"
    assert events[0]["call"]["remote_number"] == "79031112233"
    assert all(e["call"]["direction"] != "inbound" for e in events)


def test_a_failed_originate_ends_failed_with_asterisks_reason():
    events = replay(TRACES / "originate-failed.jsonl")
    assert summary(events)[-1] == ("305", "call.ended", "ended", "failed")
    assert "BUSY" in events[-1]["asterisk_reason"]


def test_internal_call_is_internal_on_both_lines():
    events = replay(TRACES / "internal-call.jsonl")
    by_line = {e["line"]: e for e in events if e["type"] == "call.ended"}
    assert set(by_line) == {"305", "306"}
    assert {e["call"]["direction"] for e in events} == {"internal"}
    assert by_line["305"]["call"]["remote_number"] == "306"
    assert by_line["306"]["call"]["remote_number"] == "305"
    assert [e["type"] for e in events if e["line"] == "305"][0] == "call.dialing"
    assert [e["type"] for e in events if e["line"] == "306"][0] == "call.ringing"


def test_queue_ring_all_answered_by_one_member():
    events = replay(TRACES / "queue-answered.jsonl")
    line_305 = [e for e in events if e["line"] == "305"]
    line_306 = [e for e in events if e["line"] == "306"]
    assert [e["type"] for e in line_306] == ["call.ringing", "call.ended"]
    assert line_306[-1]["call"]["end_reason"] == "answered_elsewhere"
    assert [e["type"] for e in line_305] == [
        "call.ringing",
        "call.answered",
        "agent.state",
        "agent.state",
        "call.ended",
    ]
    assert line_305[0]["call"]["queue"] == "support"
    assert (line_305[2]["state"], line_305[2]["reason"], line_305[2]["queues"]) == ("not_ready", "break", ["support"])
    assert (line_305[3]["state"], line_305[3]["reason"]) == ("ready", None)


def test_park_and_pickup_keep_the_same_call():
    events = replay(TRACES / "hold-by-park-and-return.jsonl")
    assert [e["type"] for e in events] == ["call.ringing", "call.answered", "call.held", "call.resumed", "call.ended"]
    assert events[2]["call"]["parking_slot"] == "701"
    assert events[3]["call"]["parking_slot"] is None
    assert len({e["call"]["id"] for e in events}) == 1
    assert events[-1]["call"]["end_reason"] == "completed"
    assert events[-1]["call"]["remote_number"] == "79161234567"


@pytest.mark.parametrize("name", ["blind-transfer", "attended-transfer"])
def test_transfers_end_the_transferer_and_give_the_target_the_caller(name):
    events = replay(TRACES / f"{name}.jsonl")
    line_305 = [e["type"] for e in events if e["line"] == "305"]
    assert line_305[-2:] == ["call.transferred", "call.ended"]
    assert [e for e in events if e["line"] == "305"][-1]["call"]["end_reason"] == "transferred"
    target = [e for e in events if e["line"] == "306"]
    final = target[-1]["call"]
    assert (final["remote_number"], final["remote_name"], final["direction"]) == (
        "79161234567",
        "Ivan Petrov",
        "inbound",
    )
    assert final["end_reason"] == "completed"


def test_line_option_keeps_only_those_lines():
    events = replay(TRACES / "queue-answered.jsonl", "--line", "306")
    assert events and {e["line"] for e in events} == {"306"}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    both = replay(TRACES / "internal-call.jsonl", "--line", "305", "--line", "306")
    assert both == expected("internal-call")


def test_a_line_that_is_not_an_operator_makes_the_other_party_external():
    events = replay(TRACES / "internal-call.jsonl", "--line", "305")
    assert {e["line"] for e in events} == {"305"}
    assert {e["call"]["direction"] for e in events} == {"outbound"}


def test_ring_on_dial_rings_at_dialbegin():
    events = replay(TRACES / "inbound-answered.jsonl", "--ring-on-dial")
    on_state = expected("inbound-answered")
    assert [e["type"] for e in events] == [e["type"] for e in on_state]
    assert events[0]["call"]["started_at"] == on_state[0]["call"]["started_at"]


def test_auto_pause_puts_the_line_not_ready_in_call():
    records = read_trace(TRACES / "queue-answered.jsonl")
    actions = []
    events = replay_records(records, TrackerConfig(auto_pause_on_commutation_start=True), actions)
    answered = next(i for i, e in enumerate(events) if e["type"] == "call.answered")
    after = events[answered + 1]
    assert (after["line"], after["type"], after["state"], after["reason"]) == (
        "305",
        "agent.state",
        "not_ready",
        "in call",
    )
    assert len(actions) == 1
    assert actions[0].action == "QueuePause"
    assert actions[0].fields == {"Interface": "Local/305@from-queue/n", "Paused": True, "Reason": "in call"}


def test_a_raw_dump_replays_like_the_trace_without_timing():
    records = read_trace(TRACES / "inbound-answered.jsonl")
    raw = b"".join(r.data for r in records if r.direction == "in")
    events = replay_records(parse_trace(raw))
    assert [e["type"] for e in events] == ["call.ringing", "call.answered", "call.ended"]
    assert events[-1]["call"]["duration"] == 0.0


def test_an_invalid_file_exits_2_naming_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0.1, "dir": "in", "msg": "Asterisk Call Manager/9.0.0\\r\\n"}\nnot json\n', encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("ami_replay", str(bad), stdout=io.StringIO())
    assert caught.value.returncode == 2
    assert "line 2" in str(caught.value)


def test_a_missing_file_exits_2(tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("ami_replay", str(tmp_path / "nope.jsonl"), stdout=io.StringIO())
    assert caught.value.returncode == 2


def test_login_failure_has_no_events():
    assert replay(TRACES / "login-failure.jsonl") == []


def test_ami_replay_honours_the_connector_settings(settings):
    settings.ASTERISK = dataclasses.replace(settings.ASTERISK, autoPauseOnCommutationStart=True)
    events = replay(TRACES / "inbound-answered.jsonl")
    assert [e["type"] for e in events] == ["call.ringing", "call.answered", "agent.state", "call.ended"]
    assert (events[2]["state"], events[2]["reason"]) == ("not_ready", "in call")
    settings.ASTERISK = dataclasses.replace(
        settings.ASTERISK, autoPauseOnCommutationStart=False, queueExtensionFormat="Local/{0}@agents/n"
    )
    queue = replay(TRACES / "queue-answered.jsonl")
    assert all(e["type"] != "agent.state" for e in queue)  # members are no longer recognised as lines
    assert (
        replay(TRACES / "queue-answered.jsonl", "--queue-extension-format", "Local/{0}@from-queue/n")[0]["call"][
            "queue"
        ]
        == "support"
    )


NEXT = {
    None: {"call.ringing": "open", "call.dialing": "open"},
    "open": {"call.updated": "open", "call.answered": "active", "call.transferred": "gone", "call.ended": "end"},
    "active": {"call.updated": "active", "call.held": "held", "call.transferred": "gone", "call.ended": "end"},
    "held": {"call.updated": "held", "call.resumed": "active", "call.transferred": "gone", "call.ended": "end"},
    "gone": {"call.ended": "end"},
    "end": {},
}
STATE_OF = {"call.ringing": "ringing", "call.dialing": "dialing", "call.answered": "active", "call.held": "held"}


def check_protocol(events: list[dict]) -> None:
    """PROTOCOL.md's rules: the call state machine, one end, no repeats, per-line seq."""
    seqs: dict[str, int] = {}
    where: dict[tuple[str, str], str | None] = {}
    last: dict[tuple[str, str], dict] = {}
    for event in events:
        line = event["line"]
        assert event["seq"] == seqs.get(line, 0) + 1
        seqs[line] = event["seq"]
        if event["type"] == "agent.state":
            assert event["state"] in ("ready", "not_ready", "wrap_up")
            continue
        call = event["call"]
        assert call["line"] == line
        key = (line, call["id"])
        state = where.get(key)
        assert event["type"] in NEXT[state], (key, state, event["type"])
        where[key] = NEXT[state][event["type"]]
        assert last.get(key) != {k: v for k, v in event.items() if k != "seq"}, "the same event twice"
        last[key] = {k: v for k, v in event.items() if k != "seq"}
        if event["type"] in STATE_OF:
            assert call["state"] == STATE_OF[event["type"]]
        if event["type"] == "call.held":
            assert call["parking_slot"] is None or call["parking_slot"].isdigit()
        if event["type"] == "call.ended":
            assert call["state"] == "ended" and call["ended_at"] and call["end_reason"]
            if call["answered_at"]:
                assert call["duration"] is not None and call["duration"] >= 0
            else:
                assert call["duration"] is None and call["end_reason"] != "completed"
    assert all(state == "end" for state in where.values()), where


@pytest.mark.parametrize("flags", [(), ("--ring-on-dial",), ("--auto-pause",), ("--line", "305")])
@pytest.mark.parametrize("name", RECORDED + HAND_BUILT)
def test_every_replay_keeps_the_protocol(name, flags):
    path = TRACES / f"{name}.jsonl" if name in RECORDED else SYNTHETIC / f"{name}.jsonl"
    check_protocol(replay(path, *flags))
