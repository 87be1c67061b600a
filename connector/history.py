"""The call history writer and the live snapshot read from it.

The publisher hands every numbered event to :class:`HistoryWriter` before it
is sent, so the committed rows are always the state after some prefix of the
event stream. Writes happen in a background thread: the AMI read loop only
appends to an in-memory table. Pending changes are coalesced per call and per
line (each write is a full-state upsert), so a long database outage costs one
entry per live call, and nothing is lost: the writer retries with backoff
until the database answers again.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connector.ami.events import LineEvent
from connector.models import Call, CallState, ConnectorStatus, LineState

logger = logging.getLogger(__name__)

_CALL_UPDATE_FIELDS = [
    "direction",
    "state",
    "remote_number",
    "remote_name",
    "queue",
    "parking_slot",
    "started_at",
    "answered_at",
    "ended_at",
    "duration",
    "end_reason",
    "extra",
    "linkedid",
    "uniqueid",
]


@dataclass(frozen=True)
class _CallRecord:
    line: str
    call: dict
    linkedid: str
    uniqueid: str


@dataclass(frozen=True)
class _LineRecord:
    seq: int
    agent: dict | None  # None: the agent state is unchanged


def _clean_text(value: object, max_length: int | None) -> str | None:
    """PostgreSQL refuses NUL in text; Asterisk's values may also exceed our columns."""
    if value is None:
        return None
    text = str(value).replace("\x00", "")
    return text[:max_length] if max_length else text


def _clean_json(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def _parse_time(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = parse_datetime(str(value))
        if moment is None:
            raise ValueError(f"not an ISO 8601 time: {value!r}")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _max_length(name: str) -> int | None:
    return Call._meta.get_field(name).max_length


def build_call_row(record: _CallRecord, user_id: int | None) -> Call:
    """A ``Call`` instance from a PROTOCOL call object (raises ``ValueError`` on bad times)."""
    call = record.call
    duration = call.get("duration")
    return Call(
        call_id=_clean_text(call["id"], _max_length("call_id")),
        line=_clean_text(record.line, _max_length("line")),
        user_id=user_id,
        direction=_clean_text(call.get("direction") or "", _max_length("direction")),
        state=_clean_text(call.get("state") or "", _max_length("state")),
        remote_number=_clean_text(call.get("remote_number"), _max_length("remote_number")),
        remote_name=_clean_text(call.get("remote_name"), _max_length("remote_name")),
        queue=_clean_text(call.get("queue"), _max_length("queue")),
        parking_slot=_clean_text(call.get("parking_slot"), _max_length("parking_slot")),
        started_at=_parse_time(call.get("started_at")) or timezone.now(),
        answered_at=_parse_time(call.get("answered_at")),
        ended_at=_parse_time(call.get("ended_at")),
        duration=float(duration) if duration is not None else None,
        end_reason=_clean_text(call.get("end_reason"), _max_length("end_reason")),
        extra=_clean_json(call.get("extra") or {}),
        linkedid=_clean_text(record.linkedid, _max_length("linkedid")) or "",
        uniqueid=_clean_text(record.uniqueid, _max_length("uniqueid")) or "",
    )


def _private(event: LineEvent, key: str) -> str:
    """A raw AMI id the tracker passed along (``_linkedid`` in data or in the call)."""
    value = event.data.get(key)
    if value in (None, "") and event.call is not None:
        value = event.call.get(key)
    return "" if value is None else str(value)


class HistoryWriter:
    """Writes call rows, ``LineState`` and ``ConnectorStatus`` off the event loop, in event order."""

    def __init__(self, *, retry_initial: float = 0.5, retry_max: float = 30.0) -> None:
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.written_batches = 0
        self._cond = threading.Condition()
        self._calls: dict[tuple[str, str], _CallRecord] = {}
        self._lines: dict[str, _LineRecord] = {}
        self._connector: tuple[str, str] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._abort = False
        self._in_outage = False
        self._wake = threading.Event()

    # -- producer side (the event loop) ------------------------------------

    def submit(self, event: LineEvent, seq: int) -> None:
        """Queue ``event`` (numbered ``seq``) for writing. Never blocks on the database."""
        with self._cond:
            if event.call is not None and event.call.get("id") is not None:
                key = (event.line, str(event.call["id"]))
                previous = self._calls.get(key)
                self._calls[key] = _CallRecord(
                    line=event.line,
                    call=dict(event.call),
                    linkedid=_private(event, "_linkedid") or (previous.linkedid if previous else ""),
                    uniqueid=_private(event, "_uniqueid") or (previous.uniqueid if previous else ""),
                )
            previous_line = self._lines.get(event.line)
            agent = previous_line.agent if previous_line else None
            if event.type == "agent.state":
                agent = {
                    "state": event.data.get("state") or "ready",
                    "reason": event.data.get("reason") or "",
                    "queues": list(event.data.get("queues") or []),
                }
            self._lines[event.line] = _LineRecord(seq=seq, agent=agent)
            self._cond.notify_all()
        self._ensure_thread()

    def record_connector_state(self, state: str, detail: str = "") -> None:
        """Queue the AMI link state for the ``ConnectorStatus`` row."""
        with self._cond:
            self._connector = (state, detail)
            self._cond.notify_all()
        self._ensure_thread()

    @property
    def pending(self) -> int:
        """Changes queued and not yet committed."""
        with self._cond:
            return len(self._calls) + len(self._lines) + (1 if self._connector else 0)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far is committed. False on timeout."""
        self._ensure_thread()
        with self._cond:
            return self._cond.wait_for(self._is_idle, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Flush (up to ``timeout``) and end the thread; anything left is logged as lost."""
        if not self.flush(timeout):
            logger.error("History writer stopped with %d unwritten change(s)", self.pending)
            self._abort = True
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- reads (sync; used at start-up and by the websocket consumer) -----

    @staticmethod
    def load_line_seqs() -> dict[str, int]:
        """Every line's last written ``seq``, to continue numbering after a restart."""
        return dict(LineState.objects.values_list("line", "seq"))

    # -- the writer thread -------------------------------------------------

    def _is_idle(self) -> bool:
        return not self._calls and not self._lines and self._connector is None

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._abort = False
            self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        delay = self.retry_initial
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or not self._is_idle())
                    if self._abort or (self._stopping and self._is_idle()):
                        return
                    calls, lines, status = dict(self._calls), dict(self._lines), self._connector
                if self._write_safely(calls, lines, status):
                    delay = self.retry_initial
                    with self._cond:
                        self._forget(calls, lines, status)
                        self._cond.notify_all()
                else:
                    self._wake.wait(delay)
                    self._wake.clear()
                    delay = min(delay * 2, self.retry_max)
        finally:
            connection.close()

    def _forget(self, calls: dict, lines: dict, status: tuple | None) -> None:
        """Drop what was committed, unless a newer change replaced it meanwhile."""
        for key, record in calls.items():
            if self._calls.get(key) is record:
                del self._calls[key]
        for line, record in lines.items():
            if self._lines.get(line) is record:
                del self._lines[line]
        if status is not None and self._connector is status:
            self._connector = None

    def _write_safely(self, calls: dict, lines: dict, status: tuple | None) -> bool:
        """One attempt. True when committed (bad records are dropped), False to retry later."""
        try:
            try:
                self._write_batch(list(calls.values()), lines, status)
            except (OperationalError, InterfaceError):
                raise
            except Exception:
                # Not an outage: one bad record must not block the others forever.
                logger.exception("History batch refused; writing its records one by one")
                self._write_one_by_one(list(calls.values()), lines, status)
        except (OperationalError, InterfaceError) as exc:
            if not self._in_outage:
                self._in_outage = True
                logger.error("Database unavailable (%s); call history is kept in memory and retried", exc)
            # A broken connection must be replaced before the next attempt.
            connection.close()
            return False
        if self._in_outage:
            self._in_outage = False
            logger.warning("Database is back; pending call history written")
        self.written_batches += 1
        return True

    def _write_one_by_one(self, calls: list[_CallRecord], lines: dict, status: tuple | None) -> None:
        """Write each call alone, dropping (and logging) only those the database refuses."""
        for record in calls:
            try:
                self._write_batch([record], {}, None)
            except (OperationalError, InterfaceError):
                raise
            except Exception:
                logger.exception("Dropped an unwritable call row (line %s)", record.line)
        try:
            self._write_batch([], lines, status)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("Dropped unwritable line state for %s", ", ".join(sorted(lines)) or "the connector")

    def _write_batch(self, calls: list[_CallRecord], lines: dict[str, _LineRecord], status: tuple | None) -> None:
        """Upsert the rows in one transaction (the only database call of the writer)."""
        from profiles.models import Profile

        owners = dict(Profile.objects.filter(line__in={record.line for record in calls}).values_list("line", "user_id"))
        rows = []
        for record in calls:
            try:
                rows.append(build_call_row(record, owners.get(record.line)))
            except (KeyError, TypeError, ValueError):
                logger.exception("Dropped a malformed call object on line %s", record.line)
        with transaction.atomic():
            # The owner is fixed when the row is created: "who had the line at the time".
            # Raw ids are only overwritten by an event that carries them.
            for group, update_fields in (
                ([r for r in rows if r.linkedid or r.uniqueid], _CALL_UPDATE_FIELDS),
                ([r for r in rows if not (r.linkedid or r.uniqueid)], _CALL_UPDATE_FIELDS[:-2]),
            ):
                if group:
                    Call.objects.bulk_create(
                        group, update_conflicts=True, unique_fields=["line", "call_id"], update_fields=update_fields
                    )
            self._write_lines(lines)
            if status is not None:
                ConnectorStatus.objects.update_or_create(
                    pk=1,
                    defaults={
                        "state": status[0][:20],
                        "detail": (status[1] or "")[:300],
                        "worker": f"{platform.node()}:{os.getpid()}"[:100],
                    },
                )

    @staticmethod
    def _write_lines(lines: dict[str, _LineRecord]) -> None:
        with_agent = [
            LineState(
                line=line,
                seq=record.seq,
                agent_state=_clean_text(record.agent["state"], 10),
                agent_reason=_clean_text(record.agent["reason"], 200),
                agent_queues=_clean_json(record.agent["queues"]),
            )
            for line, record in lines.items()
            if record.agent is not None
        ]
        seq_only = [LineState(line=line, seq=record.seq) for line, record in lines.items() if record.agent is None]
        if with_agent:
            LineState.objects.bulk_create(
                with_agent,
                update_conflicts=True,
                unique_fields=["line"],
                update_fields=["seq", "agent_state", "agent_reason", "agent_queues", "updated_at"],
            )
        if seq_only:
            LineState.objects.bulk_create(
                seq_only, update_conflicts=True, unique_fields=["line"], update_fields=["seq", "updated_at"]
            )


def _agent_view(state: LineState | None) -> dict:
    if state is None:
        return {"state": "ready", "reason": "", "queues": []}
    return {"state": state.agent_state, "reason": state.agent_reason, "queues": list(state.agent_queues or [])}


def live_snapshot(line: str) -> dict:
    """What a (re)connecting browser of ``line`` is sent: its live calls, ``seq`` and agent state.

    ``{"line", "calls": [call...], "seq": int, "agent": {"state", "reason", "queues"}}``, read in
    one transaction (REPEATABLE READ on PostgreSQL) so calls and ``seq`` agree.
    """
    with transaction.atomic():
        # Only the outermost transaction may set its isolation, before its first query.
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        state = LineState.objects.filter(line=line).first()
        calls = [
            row.as_protocol()
            for row in Call.objects.filter(line=line).exclude(state=CallState.ENDED).order_by("started_at", "pk")
        ]
    return {"line": line, "calls": calls, "seq": state.seq if state else 0, "agent": _agent_view(state)}


def open_calls() -> list[dict]:
    """Every call row not yet ended, on all lines (the worker ends those Asterisk no longer has)."""
    return [row.as_protocol() for row in Call.objects.exclude(state=CallState.ENDED).order_by("started_at", "pk")]
