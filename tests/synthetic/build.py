"""Build the synthetic scenario files in this folder: ``python tests/synthetic/build.py``.

They cover what the recorded Asterisk 20 traces (tests/traces/) do not show,
following the real traces' event order and fields:

* ``pjsip-<scenario>.jsonl``: every recorded scenario as chan_pjsip reports it
  (``PJSIP/305-...`` names; the inbound channel created directly in ``Ring``
  with no Newstate; Cause 127 when the caller gives up; OriginateResponse
  Reason 0 for a busy phone, arriving before the leg's DialEnd/Hangup);
* hand-built scenarios (``SCENARIOS`` of ``scenarios.py``, ``reconnects.py``,
  ``atxfer.py``, ``realworld.py`` and ``queues.py``): a caller abandoning a ring-all queue, a transfer to a
  queue, a Redirect, a parked call timing out back to the operator, phone
  Hold/Unhold, reconnects in the middle of a call, attended transfers refused
  or cancelled or left by the held caller, call pickup, unregistered phones, a queue ringing again, call
  waiting, and an attended transfer to a queue.

The files are committed; this script documents how they were made.
"""

from __future__ import annotations

import re

import atxfer
import queues
import realworld
import reconnects
import scenarios
from builder import load, write

SCENARIOS = {
    **scenarios.SCENARIOS,
    **reconnects.SCENARIOS,
    **atxfer.SCENARIOS,
    **realworld.SCENARIOS,
    **queues.SCENARIOS,
}

# -- chan_pjsip variants of the recordings ---------------------------------------

_SIP = re.compile(r"(?<![A-Za-z])SIP/")


def pjsip_variant(name: str, records: list[dict] | None = None) -> list[dict]:
    records = load(name) if records is None else records
    out: list[dict] = []
    ring_pending: set[str] = set()
    for record in records:
        text = _SIP.sub("PJSIP/", record["msg"])
        uniqueid = re.search(r"\r\nUniqueid: (\S+)\r\n", text)
        if text.startswith("Event: Newchannel\r\n") and "ChannelStateDesc: Down" in text and uniqueid:
            ring_pending.add(uniqueid.group(1))
        elif text.startswith("Event: Newstate\r\n") and uniqueid and uniqueid.group(1) in ring_pending:
            ring_pending.discard(uniqueid.group(1))
            if "ChannelStateDesc: Ring\r\n" in text:
                # chan_pjsip creates an inbound channel directly in Ring: fold the Newstate into it.
                for earlier in reversed(out):
                    if earlier["msg"].startswith("Event: Newchannel\r\n") and uniqueid.group(1) in earlier["msg"]:
                        earlier["msg"] = earlier["msg"].replace("ChannelState: 0\r\n", "ChannelState: 4\r\n")
                        earlier["msg"] = earlier["msg"].replace("ChannelStateDesc: Down", "ChannelStateDesc: Ring")
                        break
                continue
        if name == "inbound-no-answer" and text.startswith("Event: Hangup\r\n"):
            text = re.sub(
                r"Cause: \d+\r\nCause-txt: [^\r]*", "Cause: 127\r\nCause-txt: Interworking, unspecified", text
            )
        if name == "originate-failed" and text.startswith("Event: OriginateResponse\r\n"):
            text = text.replace("Reason: 5\r\n", "Reason: 0\r\n")
            position = next(i for i, r in enumerate(out) if r["msg"].startswith("Event: DialEnd\r\n"))
            # chan_pjsip may answer the Originate before the leg's DialEnd and Hangup arrive
            out.insert(position, {**record, "t": out[position]["t"], "msg": text})
            continue
        out.append({**record, "msg": text})
    return out


RECORDED = [
    "inbound-answered",
    "inbound-no-answer",
    "inbound-busy",
    "outbound-from-phone",
    "originate-click-to-call",
    "originate-failed",
    "internal-call",
    "hold-by-park-and-return",
    "queue-answered",
    "blind-transfer",
    "attended-transfer",
]


def main() -> None:
    for name in RECORDED:
        write(f"pjsip-{name}", pjsip_variant(name))
    for name, build in SCENARIOS.items():
        records = build()
        write(name, records)
        write(f"pjsip-{name}", pjsip_variant(name, records))


if __name__ == "__main__":
    main()
