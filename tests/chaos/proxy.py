"""A TCP proxy between a client and a local server that can stop forwarding (``blackhole``).

Used between a websocket client and daphne: in ``blackhole`` mode the TCP
connections stay open but nothing passes either way, like a laptop that lost
its network without closing anything.
"""

from __future__ import annotations

import asyncio
import contextlib


class ChaosProxy:
    """Listens on 127.0.0.1 (``.port``) and forwards every connection to ``target_port``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.blackholed = False
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> ChaosProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def blackhole(self) -> None:
        """From now on, bytes in both directions are read and thrown away."""
        self.blackholed = True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        self._writers += [client_writer, server_writer]
        await asyncio.gather(
            self._pipe(client_reader, server_writer),
            self._pipe(server_reader, client_writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if not self.blackholed:
                writer.write(data)
                await writer.drain()
        # Once blackholed, not even the close passes: the peer must find out by itself.
        if not self.blackholed:
            writer.close()
