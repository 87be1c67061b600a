"""ActionID matching: plain replies, event lists with live events in between, failures."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connector.ami.correlate import Correlator, Verdict
from connector.ami.framing import parse_stream
from connector.ami.message import Message
from connector.ami.trace import read_trace

TRACES = sorted((Path(__file__).resolve().parents[2] / "tests" / "traces" / "asterisk-20.20.1-sip").glob("*.jsonl"))
LISTS = {"CoreShowChannels", "QueueStatus", "Status"}


def msg(**headers: str) -> Message:
    return Message({key.replace("_", ""): value for key, value in headers.items()})


def response(action_id: str | None, result: str = "Success", **extra: str) -> Message:
    headers = {"Response": result}
    if action_id is not None:
        headers["ActionID"] = action_id
    headers.update(extra)
    return Message(headers)


def test_a_plain_response_completes_its_action():
    correlator = Correlator()
    correlator.register("a-1")
    outcome = correlator.consume(response("a-1", Message="Pong"))
    assert outcome.verdict is Verdict.COMPLETED
    assert outcome.reply.ok and outcome.reply.message == "Pong"
    assert outcome.reply.events == []
    assert len(correlator) == 0


def test_an_error_response_completes_with_asterisks_message():
    correlator = Correlator()
    correlator.register("a-1", is_list=True)
    outcome = correlator.consume(response("a-1", "Error", Message="Permission denied"))
    assert outcome.verdict is Verdict.COMPLETED
    assert not outcome.reply.ok
    assert outcome.reply.message == "Permission denied"


def _replay(path: Path) -> tuple[dict[str, list], list[Message]]:
    """Register every action sent in a trace, consume every message received; verdicts per ActionID."""
    correlator = Correlator()
    verdicts: dict[str, list] = {}
    dispatched: list[Message] = []
    for record in read_trace(path):
        if record.direction == "out":
            action = parse_stream(record.data, expect_banner=False)[0]
            final = "OriginateResponse" if action.get("Action") == "Originate" else None
            correlator.register(action.action_id, is_list=action["Action"] in LISTS, final_event=final)
            verdicts[action.action_id] = []
            continue
        for message in parse_stream(record.data):
            if message.banner is not None:
                continue
            outcome = correlator.consume(message)
            if outcome.verdict is Verdict.EVENT:
                dispatched.append(message)
            else:
                verdicts[outcome.action_id].append(outcome)
    assert len(correlator) == 0, correlator.pending_ids
    return verdicts, dispatched


@pytest.mark.parametrize("path", [p for p in TRACES if p.stem != "login-failure"], ids=lambda p: p.stem)
def test_every_action_in_a_recorded_trace_completes_exactly_once(path):
    verdicts, dispatched = _replay(path)
    for outcomes in verdicts.values():
        assert [o.verdict for o in outcomes][-1] is Verdict.COMPLETED
        assert [o.verdict for o in outcomes].count(Verdict.COMPLETED) == 1
    # rec-2..rec-4 are CoreShowChannels, QueueStatus and Status at login: idle PBX, one queue with two members.
    replies = {aid: outcomes[-1].reply for aid, outcomes in verdicts.items()}
    assert replies["rec-2"].complete_event.event == "CoreShowChannelsComplete"
    assert replies["rec-2"].events == []
    assert replies["rec-3"].complete_event.event == "QueueStatusComplete"
    assert [e.event for e in replies["rec-3"].events] == ["QueueParams", "QueueMember", "QueueMember"]
    assert replies["rec-4"].complete_event.event == "StatusComplete"
    assert not any(r.items_mismatch for r in replies.values())
    assert all(m.event for m in dispatched)
    assert dispatched[0].event == "FullyBooted"


def test_an_originate_waits_for_its_originate_response():
    verdicts, dispatched = _replay(next(p for p in TRACES if p.stem == "originate-failed"))
    originate = next(o for o in verdicts.values() if o[0].message.get("Message") == "Originate successfully queued")
    assert [o.verdict for o in originate] == [Verdict.WAITING, Verdict.COMPLETED]
    reply = originate[-1].reply
    assert reply.response["Message"] == "Originate successfully queued"
    assert [(e.event, e["Response"], e["Reason"]) for e in reply.events] == [("OriginateResponse", "Failure", "5")]
    assert "OriginateResponse" not in [m.event for m in dispatched]


def test_without_final_event_an_originate_response_is_an_ordinary_event():
    correlator = Correlator()
    correlator.register("o-1")
    assert correlator.consume(response("o-1", Message="Originate successfully queued")).verdict is Verdict.COMPLETED
    late = correlator.consume(msg(Event="OriginateResponse", ActionID="o-1", Response="Success", Reason="4"))
    assert late.verdict is Verdict.EVENT


def test_a_failed_originate_does_not_wait_for_an_event():
    correlator = Correlator()
    correlator.register("o-1", final_event="OriginateResponse")
    outcome = correlator.consume(response("o-1", "Error", Message="Extension does not exist."))
    assert outcome.verdict is Verdict.COMPLETED and not outcome.reply.ok


def _big_list(correlator: Correlator, items: int, announced: int, seed: int = 1) -> tuple[list, list[Message]]:
    correlator.register("csc-1", is_list=True)
    rng = random.Random(seed)
    wire: list[Message] = [response("csc-1", EventList="start", Message="Channels will follow")]
    live: list[Message] = []
    for n in range(items):
        wire.append(msg(Event="CoreShowChannel", ActionID="csc-1", Channel=f"SIP/305-{n:08x}", Uniqueid=f"1.{n}"))
        if rng.random() < 0.3:
            event = msg(Event="Newchannel", Channel=f"SIP/trunk-{n:08x}", Uniqueid=f"2.{n}")
            live.append(event)
            wire.append(event)
    wire.append(msg(Event="CoreShowChannelsComplete", ActionID="csc-1", EventList="Complete", ListItems=str(announced)))
    return [correlator.consume(m) for m in wire], live


def test_a_2000_item_list_collects_every_item_and_still_dispatches_live_events():
    correlator = Correlator()
    outcomes, live = _big_list(correlator, 2000, 2000)
    assert outcomes[0].verdict is Verdict.WAITING
    assert [o.message for o in outcomes if o.verdict is Verdict.EVENT] == live
    assert len(live) > 400
    assert sum(o.verdict is Verdict.LIST_ITEM for o in outcomes) == 2000
    done = outcomes[-1]
    assert done.verdict is Verdict.COMPLETED
    assert [e["Uniqueid"] for e in done.reply.events] == [f"1.{n}" for n in range(2000)]
    assert done.reply.expected_items == 2000 and not done.reply.items_mismatch
    assert len(correlator) == 0


def test_a_list_items_mismatch_is_reported():
    outcomes, _ = _big_list(Correlator(), 1999, 2000)
    reply = outcomes[-1].reply
    assert reply.items_mismatch
    assert (reply.expected_items, len(reply.events)) == (2000, 1999)


def test_a_list_whose_complete_never_arrives_expires():
    correlator = Correlator()
    correlator.register("csc-1", is_list=True, deadline=10.0)
    correlator.register("ping-1", deadline=30.0)
    correlator.consume(response("csc-1", EventList="start"))
    correlator.consume(msg(Event="CoreShowChannel", ActionID="csc-1", Channel="SIP/305-00000001"))
    assert correlator.next_deadline() == 10.0
    assert correlator.expire(9.9) == []
    kept = correlator.reply_for("csc-1")
    assert correlator.expire(10.0) == ["csc-1"]
    assert kept.error == "timeout" and not kept.ok and len(kept.events) == 1
    assert correlator.pending_ids == ["ping-1"]
    late = correlator.consume(msg(Event="CoreShowChannelsComplete", ActionID="csc-1", EventList="Complete"))
    assert late.verdict is Verdict.EVENT


def test_200_interleaved_responses_in_random_order_each_reach_their_own_action():
    correlator = Correlator()
    ids = [f"tb1-{n}" for n in range(200)]
    for action_id in ids:
        correlator.register(action_id)
    rng = random.Random(7)
    wire = [response(aid, Message=f"for {aid}") for aid in ids]
    rng.shuffle(wire)
    for n in range(100):
        wire.insert(rng.randrange(len(wire)), msg(Event="Newstate", Channel=f"SIP/306-{n:08x}"))
    wire.insert(rng.randrange(len(wire)), response("somebody-else-9", Message="stray"))
    wire.insert(rng.randrange(len(wire)), response(None, Message="no id"))
    seen: dict[str, str] = {}
    counts = {verdict: 0 for verdict in Verdict}
    for message in wire:
        outcome = correlator.consume(message)
        counts[outcome.verdict] += 1
        if outcome.verdict is Verdict.COMPLETED:
            assert outcome.action_id not in seen
            seen[outcome.action_id] = outcome.reply.message
    assert seen == {aid: f"for {aid}" for aid in ids}
    assert counts[Verdict.EVENT] == 100
    assert counts[Verdict.UNMATCHED] == 2
    assert len(correlator) == 0


def test_an_unknown_or_missing_action_id_response_is_unmatched():
    correlator = Correlator()
    correlator.register("a-1")
    unknown = correlator.consume(response("zzz"))
    assert (unknown.verdict, unknown.action_id) == (Verdict.UNMATCHED, "zzz")
    assert correlator.consume(response(None)).verdict is Verdict.UNMATCHED
    assert correlator.pending_ids == ["a-1"]


def test_a_second_response_for_the_same_list_is_unmatched():
    correlator = Correlator()
    correlator.register("qs-1", is_list=True)
    assert correlator.consume(response("qs-1", EventList="start")).verdict is Verdict.WAITING
    assert correlator.consume(response("qs-1")).verdict is Verdict.UNMATCHED
    assert "qs-1" in correlator


def test_fail_all_returns_every_pending_id_and_forgets_them():
    correlator = Correlator()
    for action_id in ("a-1", "a-2", "a-3"):
        correlator.register(action_id)
    kept = correlator.reply_for("a-2")
    assert correlator.fail_all("pbx_disconnected") == ["a-1", "a-2", "a-3"]
    assert kept.error == "pbx_disconnected" and kept.message == "pbx_disconnected"
    assert len(correlator) == 0
    assert correlator.consume(response("a-1")).verdict is Verdict.UNMATCHED
    assert correlator.fail_all("again") == []


def test_an_action_id_cannot_be_registered_twice_or_empty():
    correlator = Correlator()
    correlator.register("a-1")
    with pytest.raises(ValueError):
        correlator.register("a-1")
    with pytest.raises(ValueError):
        correlator.register("")
    assert correlator.cancel("a-1") and not correlator.cancel("a-1")
