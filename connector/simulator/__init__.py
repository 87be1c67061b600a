"""The bundled PBX simulator: a plain asyncio AMI server that behaves like Asterisk 20.

``Simulator`` is the one entry point: start it, point the connector at its
port, and drive the world (callers, phones) through its methods or a traffic
mode (:mod:`connector.simulator.traffic`). No Django in here.
"""

from __future__ import annotations

from connector.simulator.calls import inbound_call, phone_call
from connector.simulator.pbx import Behaviour, Pbx, SimConfig
from connector.simulator.server import AmiServer
from connector.simulator.wire import Channel

__all__ = ["Behaviour", "SimConfig", "Simulator"]


class Simulator:
    """A simulated PBX listening for AMI clients, with virtual phones and external callers."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.pbx = Pbx(config)
        self.server = AmiServer(self.pbx)

    @property
    def config(self) -> SimConfig:
        """The simulated PBX's configuration."""
        return self.pbx.config

    @property
    def port(self) -> int:
        """The port it listens on (after ``start``)."""
        return self.server.port

    async def start(self, host: str | None = None, port: int | None = None) -> Simulator:
        """Start listening (``port=0`` picks a free port)."""
        await self.server.start(host, port)
        return self

    async def close(self) -> None:
        """Stop listening, drop every client and end every call flow."""
        await self.server.close()

    # --- the world ---------------------------------------------------------------

    def set_phone(self, line: str, mode: str = "answer", answer_after: float = 3.0, self_answer: float = 0.0) -> None:
        """How the virtual phone of ``line`` treats incoming calls (see :class:`Behaviour`)."""
        self.pbx.behaviours[line] = Behaviour(mode, answer_after, self_answer)

    def set_far_end(self, mode: str = "answer", answer_after: float = 3.0, number: str | None = None) -> None:
        """How external numbers (or one ``number``) treat calls placed over the trunk."""
        behaviour = Behaviour(mode, answer_after)
        if number is None:
            self.pbx.world = behaviour
        else:
            self.pbx.numbers[number] = behaviour

    def call_in(self, number: str = "79161234567", name: str = "Ivan Petrov", did: str | None = None) -> Channel:
        """An external caller dials a DID (default: the queue's)."""
        return inbound_call(self.pbx, number, name, did or self.config.queue_did)

    def dial(self, line: str, number: str) -> Channel:
        """The operator of ``line`` dials ``number`` on his phone."""
        return phone_call(self.pbx, line, number)

    def answer_line(self, line: str) -> bool:
        """Pick up the ringing phone of ``line``; False if it is not ringing."""
        return self.pbx.answer_line(line)

    def hangup_line(self, line: str) -> bool:
        """The operator of ``line`` puts the receiver down."""
        return self.pbx.hangup_line(line)

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Hang up one channel (e.g. the external caller's) the way its role requires."""
        if not channel.hung_up:
            self.pbx.hangup(channel, cause)

    def is_ringing(self, line: str) -> bool:
        """Whether the line's virtual phone is ringing."""
        return line in self.pbx.ringing

    def line_busy(self, line: str) -> bool:
        """Whether the line has any channel."""
        return self.pbx.line_busy(line)
