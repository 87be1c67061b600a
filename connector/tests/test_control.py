"""CommandHandler: browser commands -> exact AMI actions, and refusals that send nothing."""

import asyncio

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from connector.ami.actions import build_action
from connector.commands import CommandError, parse_command
from connector.config import ConnectorConfig
from connector.control import CommandHandler
from connector.ratelimit import MemoryRateLimiter

pytestmark = pytest.mark.timeout(10)

ALICE_CALL = {
    "operator_channel": "SIP/305-00000048",
    "remote_channel": "SIP/trunk-00000047",
    "parking_slot": None,
}


class RecordingClient:
    """Serialises every action with the real builder and records the bytes, like a socket would."""

    def __init__(self, fail: dict | None = None) -> None:
        self.sent: list[bytes] = []
        self.fail = fail or {}

    async def send_action(self, action, fields):
        self.sent.append(build_action(action, fields, action_id=f"t-{len(self.sent) + 1}"))
        if action in self.fail:
            raise self.fail[action]
        return None

    @property
    def actions(self) -> list[str]:
        return [raw.split(b"\r\n", 1)[0].decode() for raw in self.sent]


class PbxError(Exception):
    """Stands in for connector.client.AmiActionError (code + Asterisk's Message)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Tracker:
    def __init__(self, calls: dict) -> None:
        self.calls = calls

    def call_channels(self, line, call_id):
        return self.calls.get((line, call_id))


def make_handler(calls=None, config=None, limit=10, client=None):
    client = client or RecordingClient()
    tracker = Tracker(calls if calls is not None else {("305", "c1"): dict(ALICE_CALL)})
    handler = CommandHandler(client, tracker, config or ConnectorConfig(), MemoryRateLimiter(limit, 60))
    return handler, client


def msg(command, line="305", user_id=1, context=""):
    return {"type": "connector.command", "reply_to": "x", "user_id": user_id, "line": line,
            "context": context, "request_id": 7, "command": command}  # fmt: skip


async def test_call_sends_the_fixed_originate_shape():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "call", "ref": "r1", "number": "79031112233"}))
    assert result == {"ref": "r1", "request_id": 7, "ok": True, "error": None}
    assert client.sent == [
        b"Action: Originate\r\nActionID: t-1\r\nChannel: SIP/305\r\nContext: from-internal\r\n"
        b'Exten: 79031112233\r\nPriority: 1\r\nCallerID: "79031112233" <79031112233>\r\n'
        b"Timeout: 30000\r\nAsync: true\r\n\r\n"
    ]


async def test_call_uses_the_profile_context_and_pjsip():
    handler, client = make_handler(config=ConnectorConfig(protocol="PJSIP/", asyncOriginate=False))
    await handler.handle(msg({"type": "call", "ref": 1, "number": "*97"}, context="from-sales"))
    assert b"Channel: PJSIP/305\r\n" in client.sent[0]
    assert b"Context: from-sales\r\n" in client.sent[0]
    assert b"Async: false\r\n" in client.sent[0]


@pytest.mark.parametrize(
    "number",
    [
        "100\r\nAction: Command\r\nCommand: core show version",
        "100\nAction: Originate",
        "305&DAHDI/g1/1",
        "${SHELL(id)}",
    ],
)
async def test_call_refuses_injection_and_sends_nothing(number):
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "call", "ref": "r", "number": number}))
    assert result["ok"] is False
    assert result["error"]["code"] == "invalid_number"
    assert client.sent == []


async def test_call_refuses_extra_originate_fields():
    handler, client = make_handler()
    command = {"type": "call", "ref": "r", "number": "305", "channel": "SIP/999", "application": "System",
               "data": "id", "variable": {"A": "1"}, "context": "from-internal-admin"}  # fmt: skip
    result = await handler.handle(msg(command))
    assert result["error"]["code"] == "invalid_command"
    assert client.sent == []


async def test_denied_prefix_is_never_sent(settings):
    settings.ORIGINATE_DENIED_PREFIXES = ("00", "0900")
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "call", "ref": "r", "number": "0049301234"}))
    assert result["error"]["code"] == "number_denied"
    assert client.sent == []


async def test_originates_are_rate_limited_per_user():
    handler, client = make_handler(limit=3)
    results = [await handler.handle(msg({"type": "call", "ref": i, "number": "305"})) for i in range(5)]
    assert [r["ok"] for r in results] == [True, True, True, False, False]
    assert results[3]["error"]["code"] == "rate_limited"
    assert 0 < results[3]["error"]["retry_after"] <= 60
    assert len(client.sent) == 3
    other = await handler.handle(msg({"type": "call", "ref": "b", "number": "305"}, line="306", user_id=2))
    assert other["ok"] is True


async def test_a_failed_originate_returns_asterisks_message():
    client = RecordingClient(fail={"Originate": PbxError("pbx_error", "Extension does not exist.")})
    handler, _ = make_handler(client=client)
    result = await handler.handle(msg({"type": "call", "ref": "r", "number": "305"}))
    assert result["error"] == {"code": "pbx_error", "message": "Extension does not exist."}


async def test_timeouts_and_disconnects_keep_their_code():
    client = RecordingClient(fail={"Hangup": PbxError("pbx_timeout", "no response in 10 s")})
    handler, _ = make_handler(client=client)
    result = await handler.handle(msg({"type": "hangup", "ref": "r", "call_id": "c1"}))
    assert result["error"]["code"] == "pbx_timeout"


async def test_hangup_hangs_up_the_operator_channel():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "hangup", "ref": "r", "call_id": "c1"}))
    assert result["ok"] is True
    assert client.sent == [b"Action: Hangup\r\nActionID: t-1\r\nChannel: SIP/305-00000048\r\n\r\n"]


@pytest.mark.parametrize(
    "command",
    [
        {"type": "hangup", "ref": "r", "call_id": "c1"},
        {"type": "hold", "ref": "r", "call_id": "c1"},
        {"type": "transfer", "ref": "r", "call_id": "c1", "number": "307", "mode": "blind"},
        {"type": "dtmf", "ref": "r", "call_id": "c1", "digits": "1"},
        {"type": "hangup", "ref": "r", "call_id": "SIP/305-00000048"},
    ],
)
async def test_another_lines_call_is_forbidden_and_nothing_is_sent(command, caplog):
    handler, client = make_handler()
    with caplog.at_level("INFO", logger="connector.audit"):
        result = await handler.handle(msg(command, line="306", user_id=2))
    assert result["error"]["code"] == "forbidden"
    assert client.sent == []
    assert any("line='306'" in r.getMessage() and "ok=False" in r.getMessage() for r in caplog.records)


async def test_hold_parks_the_remote_party_with_the_operator_as_timeout_channel():
    handler, client = make_handler()
    assert (await handler.handle(msg({"type": "hold", "ref": "r", "call_id": "c1"})))["ok"]
    assert client.sent == [
        b"Action: Park\r\nActionID: t-1\r\nChannel: SIP/trunk-00000047\r\nTimeoutChannel: SIP/305-00000048\r\n\r\n"
    ]


async def test_resume_originates_the_line_to_the_parking_slot():
    calls = {("305", "c1"): {"operator_channel": None, "remote_channel": "SIP/trunk-1", "parking_slot": "701"}}
    handler, client = make_handler(calls=calls, config=ConnectorConfig(parkingLotContext="parkedcalls"))
    assert (await handler.handle(msg({"type": "resume", "ref": "r", "call_id": "c1"})))["ok"]
    assert client.sent == [
        b"Action: Originate\r\nActionID: t-1\r\nChannel: SIP/305\r\nContext: parkedcalls\r\nExten: 701\r\n"
        b'Priority: 1\r\nCallerID: "Parked 701" <701>\r\nTimeout: 30000\r\nAsync: true\r\n\r\n'
    ]


async def test_resume_of_a_call_that_is_not_parked_is_refused():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "resume", "ref": "r", "call_id": "c1"}))
    assert result["error"]["code"] == "invalid_state"
    assert client.sent == []


async def test_blind_and_attended_transfer():
    handler, client = make_handler()
    await handler.handle(msg({"type": "transfer", "ref": 1, "call_id": "c1", "number": "306", "mode": "blind"}))
    await handler.handle(msg({"type": "transfer", "ref": 2, "call_id": "c1", "number": "306", "mode": "attended"}))
    assert client.sent == [
        b"Action: BlindTransfer\r\nActionID: t-1\r\nChannel: SIP/305-00000048\r\nExten: 306\r\nContext: from-internal\r\n\r\n",
        b"Action: Atxfer\r\nActionID: t-2\r\nChannel: SIP/305-00000048\r\nExten: 306\r\nContext: from-internal\r\n\r\n",
    ]


async def test_transfer_refuses_a_bad_mode_or_number():
    handler, client = make_handler()
    bad_mode = await handler.handle(msg({"type": "transfer", "ref": 1, "call_id": "c1", "number": "306", "mode": "x"}))
    bad_number = await handler.handle(
        msg({"type": "transfer", "ref": 2, "call_id": "c1", "number": "306\r\n", "mode": "blind"})
    )
    assert bad_mode["error"]["code"] == "invalid_command"
    assert bad_number["error"]["code"] == "invalid_number"
    assert client.sent == []


async def test_transfer_complete_and_cancel():
    calls = {("305", "c1"): {**ALICE_CALL, "consultation_channel": "Local/306@from-internal-00000012;1"}}
    handler, client = make_handler(calls=calls)
    await handler.handle(msg({"type": "transfer_cancel", "ref": 1, "call_id": "c1"}))
    await handler.handle(msg({"type": "transfer_complete", "ref": 2, "call_id": "c1"}))
    assert client.actions == ["Action: Hangup", "Action: Hangup"]
    assert b"Channel: Local/306@from-internal-00000012;1\r\n" in client.sent[0]
    assert b"Channel: SIP/305-00000048\r\n" in client.sent[1]


async def test_resume_during_an_attended_transfer_cancels_the_consultation():
    calls = {("305", "c1"): {**ALICE_CALL, "consultation_channel": "Local/306@from-internal-00000012;1"}}
    handler, client = make_handler(calls=calls)
    result = await handler.handle(msg({"type": "resume", "ref": "r", "call_id": "c1"}))
    assert result["ok"] and result["error"] is None
    assert client.sent == [b"Action: Hangup\r\nActionID: t-1\r\nChannel: Local/306@from-internal-00000012;1\r\n\r\n"]


async def test_resume_during_an_attended_transfer_reports_asterisks_refusal():
    calls = {("305", "c1"): {**ALICE_CALL, "consultation_channel": "Local/306@from-internal-00000012;1"}}
    client = RecordingClient(fail={"Hangup": PbxError("pbx_error", "No such channel")})
    handler, client = make_handler(calls=calls, client=client)
    result = await handler.handle(msg({"type": "resume", "ref": "r", "call_id": "c1"}))
    assert result["error"] == {"code": "pbx_error", "message": "No such channel"}
    assert client.actions == ["Action: Hangup"]


async def test_transfer_cancel_without_a_consultation_is_refused():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "transfer_cancel", "ref": 1, "call_id": "c1"}))
    assert result["error"]["code"] == "invalid_state"
    assert client.sent == []


async def test_dtmf_plays_each_digit_to_the_far_end():
    handler, client = make_handler()
    assert (await handler.handle(msg({"type": "dtmf", "ref": 1, "call_id": "c1", "digits": "1#"})))["ok"]
    assert client.sent == [
        b"Action: PlayDTMF\r\nActionID: t-1\r\nChannel: SIP/trunk-00000047\r\nDigit: 1\r\n\r\n",
        b"Action: PlayDTMF\r\nActionID: t-2\r\nChannel: SIP/trunk-00000047\r\nDigit: #\r\n\r\n",
    ]


async def test_dtmf_refuses_non_digits():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "dtmf", "ref": 1, "call_id": "c1", "digits": "1\r\nAction: X"}))
    assert result["error"]["code"] == "invalid_dtmf"
    assert client.sent == []


async def test_agent_state_pauses_and_unpauses_the_queue_interface():
    handler, client = make_handler()
    await handler.handle(msg({"type": "agent_state", "ref": 1, "state": "not_ready", "reason": "break"}))
    await handler.handle(msg({"type": "agent_state", "ref": 2, "state": "ready", "queue": "support"}))
    assert client.sent == [
        b"Action: QueuePause\r\nActionID: t-1\r\nInterface: Local/305@from-queue/n\r\nPaused: true\r\nReason: break\r\n\r\n",
        b"Action: QueuePause\r\nActionID: t-2\r\nInterface: Local/305@from-queue/n\r\nPaused: false\r\nQueue: support\r\n\r\n",
    ]


async def test_agent_state_refuses_a_reason_with_line_breaks():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "agent_state", "ref": 1, "state": "not_ready", "reason": "a\r\nb"}))
    assert result["error"]["code"] == "invalid_reason"
    assert client.sent == []


async def test_wrap_up_pauses_then_returns_to_ready(settings):
    settings.WRAP_UP_SECONDS = 0.2
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "agent_state", "ref": 1, "state": "wrap_up"}))
    assert result["ok"] and result["data"] == {"wrap_up_seconds": 0.2}
    assert b"Paused: true\r\nReason: wrap-up\r\n" in client.sent[0]
    await asyncio.sleep(0.5)
    assert len(client.sent) == 2
    assert b"Paused: false\r\n" in client.sent[1]


async def test_a_new_state_during_wrap_up_cancels_the_automatic_ready(settings):
    settings.WRAP_UP_SECONDS = 0.2
    handler, client = make_handler()
    await handler.handle(msg({"type": "agent_state", "ref": 1, "state": "wrap_up"}))
    await handler.handle(msg({"type": "agent_state", "ref": 2, "state": "not_ready", "reason": "lunch"}))
    await asyncio.sleep(0.5)
    assert [b"Reason: lunch" in raw for raw in client.sent] == [False, True]
    await handler.close()


@pytest.mark.parametrize(
    "command,code",
    [
        ({"type": "reboot", "ref": 1}, "unknown_command"),
        ({"type": "call", "number": "305"}, "invalid_command"),
        ({"type": "hangup", "ref": 1}, "invalid_command"),
        ("call", "invalid_command"),
        ({"type": "snapshot", "ref": 1}, "invalid_command"),
    ],
)
async def test_malformed_commands_get_an_error_and_send_nothing(command, code):
    handler, client = make_handler()
    result = await handler.handle(msg(command))
    assert result["ok"] is False
    assert result["error"]["code"] == code
    assert client.sent == []


async def test_a_message_without_a_line_is_refused():
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "call", "ref": 1, "number": "305"}, line=None))
    assert result["error"]["code"] == "invalid_command"
    assert client.sent == []


async def test_demo_answer_is_unknown_outside_the_demo(settings):
    settings.DEMO_MODE = False
    handler, client = make_handler()
    result = await handler.handle(msg({"type": "demo_answer", "ref": 1, "call_id": "c1"}))
    assert result["error"]["code"] == "unknown_command"
    assert client.sent == []


async def test_demo_answer_asks_the_simulator_to_answer_the_operators_phone(settings):
    settings.DEMO_MODE = True
    handler, client = make_handler()
    assert (await handler.handle(msg({"type": "demo_answer", "ref": 1, "call_id": "c1"})))["ok"]
    assert client.sent == [b"Action: DemoAnswer\r\nActionID: t-1\r\nChannel: SIP/305-00000048\r\n\r\n"]
    forbidden = await handler.handle(msg({"type": "demo_answer", "ref": 2, "call_id": "c1"}, line="306"))
    assert forbidden["error"]["code"] == "forbidden"
    assert len(client.sent) == 1


async def test_an_error_response_returned_instead_of_raised_is_still_an_error():
    from connector.ami.message import Message
    from connector.client import ActionResult

    class ReturningClient(RecordingClient):
        async def send_action(self, action, fields):
            await super().send_action(action, fields)
            return ActionResult(action_id="t-1", response=Message({"Response": "Error", "Message": "No such channel"}))

    handler, _ = make_handler(client=ReturningClient())
    result = await handler.handle(msg({"type": "hangup", "ref": 1, "call_id": "c1"}))
    assert result["error"] == {"code": "pbx_error", "message": "No such channel"}


@pytest.mark.parametrize(
    "command,action",
    [
        ({"type": "call", "ref": 1, "number": "305"}, "Originate"),
        ({"type": "hangup", "ref": 1, "call_id": "c1"}, "Hangup"),
        ({"type": "hold", "ref": 1, "call_id": "c1"}, "Park"),
        ({"type": "transfer", "ref": 1, "call_id": "c1", "number": "306", "mode": "blind"}, "BlindTransfer"),
        ({"type": "transfer", "ref": 1, "call_id": "c1", "number": "306", "mode": "attended"}, "Atxfer"),
        ({"type": "transfer_complete", "ref": 1, "call_id": "c1"}, "Hangup"),
        ({"type": "dtmf", "ref": 1, "call_id": "c1", "digits": "5"}, "PlayDTMF"),
        ({"type": "agent_state", "ref": 1, "state": "not_ready"}, "QueuePause"),
    ],
)
async def test_every_command_returns_asterisks_error(command, action):
    client = RecordingClient(fail={action: PbxError("pbx_error", f"{action} refused by Asterisk")})
    handler, _ = make_handler(client=client)
    result = await handler.handle(msg(command))
    assert result["ok"] is False
    assert result["error"] == {"code": "pbx_error", "message": f"{action} refused by Asterisk"}
    assert client.actions == [f"Action: {action}"]


async def test_hold_without_the_other_party_is_refused():
    calls = {("305", "c1"): {"operator_channel": "SIP/305-00000048", "remote_channel": None, "parking_slot": None}}
    handler, client = make_handler(calls=calls)
    result = await handler.handle(msg({"type": "hold", "ref": 1, "call_id": "c1"}))
    assert result["error"]["code"] == "invalid_state"
    assert client.sent == []


async def test_a_disconnected_pbx_is_reported_as_such():
    client = RecordingClient(fail={"Originate": PbxError("pbx_disconnected", "not connected to Asterisk")})
    handler, _ = make_handler(client=client)
    result = await handler.handle(msg({"type": "call", "ref": 1, "number": "305"}))
    assert result["error"] == {"code": "pbx_disconnected", "message": "There is no connection to Asterisk right now."}


async def test_an_unexpected_failure_still_gives_one_result():
    client = RecordingClient(fail={"Hangup": ZeroDivisionError("boom")})
    handler, _ = make_handler(client=client)
    result = await handler.handle(msg({"type": "hangup", "ref": 1, "call_id": "c1"}))
    assert result["ok"] is False
    assert result["error"] == {"code": "internal_error", "message": "The command could not be executed."}


async def test_a_channel_name_that_would_break_framing_is_refused_by_the_builder():
    calls = {("305", "c1"): {**ALICE_CALL, "operator_channel": "SIP/305-1\r\nAction: Logoff"}}
    handler, client = make_handler(calls=calls)
    result = await handler.handle(msg({"type": "hangup", "ref": 1, "call_id": "c1"}))
    assert result["error"]["code"] == "invalid_command"
    assert client.sent == []


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40), st.lists(st.integers(), max_size=2))
_commands = st.dictionaries(
    st.sampled_from(["type", "ref", "number", "call_id", "mode", "digits", "state", "reason", "queue", "channel"]),
    _values,
    max_size=7,
).map(lambda d: {**d, "type": d.get("type")})


@hypothesis_settings(max_examples=300, deadline=None)
@given(data=_commands, kind=st.sampled_from(["call", "hangup", "transfer", "dtmf", "agent_state", "x", None]))
def test_parse_command_only_lets_through_safe_known_fields(data, kind):
    data = {**data, "type": kind} if kind is not None else data
    try:
        command = parse_command(data)
    except CommandError as exc:
        assert exc.code and exc.message
        return
    assert set(command) <= {"type", "ref", "number", "call_id", "mode", "digits", "state", "reason", "queue"}
    for key, value in command.items():
        if isinstance(value, str):
            build_action("Check", {"Value": value})  # raises on CR/LF/NUL
            assert value.isprintable(), (key, value)
