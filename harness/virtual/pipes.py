"""In-process connections: an aiohttp client talking HTTP to an aiohttp server in the same event loop, through a pair
of in-memory transports instead of a kernel socket.

Virtual mode uses it. The bytes are the same HTTP/1.1 bytes, written and parsed by the same client
(`aiohttp.ClientSession`) and server (`aiohttp.web`) code; only the pipe differs. Every delivery is a callback on
the loop (`call_soon`), so what is written is readable on the loop's next cycle, in write order, whatever the
machine's load: nothing depends on when a kernel hands loopback data over, and a virtual clock never moves while
bytes are in flight.

    connector = PipeConnector(runner.server)  # an `aiohttp.web.AppRunner`'s server, set up, no site needed
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get("http://127.0.0.1:8080/_sim/health") as resp: ...

The URL's host and port only name the server in the `Host` header; nothing listens on them.

Imports: stdlib (asyncio), aiohttp.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = ["PipeConnector", "PipeTransport", "pipe_pair"]

_CLIENT_ADDR = ("127.0.0.1", 49152)
"""Every pipe's client end: the same address, so nothing a server records depends on how many pipes came before."""


class PipeTransport(asyncio.Transport):
    """One end of an in-memory connection: what it writes reaches the other end's protocol on the next loop cycle."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.BaseProtocol, extra: dict[str, Any]) -> None:
        super().__init__(extra)
        self._loop = loop
        self._protocol: Any = protocol
        self._peer: PipeTransport | None = None
        self._closing = False
        self._lost = False
        self._paused = False
        self._held: list[bytes] = []
        """Data (and then, maybe, the end of the stream: `_eof_held`) that arrived while reading was paused."""
        self._eof_held = False

    # -- what the protocol calls ---------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        peer = self._peer
        if peer is not None:
            self._loop.call_soon(peer._receive, bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        if self._peer is not None and not self._closing:
            self._loop.call_soon(self._peer._receive_eof)

    def can_write_eof(self) -> bool:
        return True

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Close as a socket closes: what was written still arrives, then the other end reads the end of the
        stream; this end's protocol learns the connection is lost."""
        if self._closing:
            return
        self._closing = True
        if self._peer is not None:
            self._loop.call_soon(self._peer._receive_eof)
        self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        """Drop the connection: the other end sees it reset (ECONNRESET, as from a socket closed with SO_LINGER 0)."""
        if self._lost:
            return
        self._closing = True
        peer = self._peer
        if peer is not None and not peer._lost:
            peer._closing = True
            reset = ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))
            self._loop.call_soon(peer._connection_lost, reset)
        self._loop.call_soon(self._connection_lost, None)

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        held, self._held = self._held, []
        for data in held:
            self._loop.call_soon(self._receive, data)
        if self._eof_held:
            self._eof_held = False
            self._loop.call_soon(self._receive_eof)

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol  # type: ignore[no-any-return]

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    # -- what the other end calls --------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        if self._lost:
            return
        if self._paused or self._held:
            self._held.append(data)
            return
        self._protocol.data_received(data)

    def _receive_eof(self) -> None:
        if self._lost:
            return
        if self._paused or self._held:
            self._eof_held = True
            return
        keep_open = self._protocol.eof_received()
        if not keep_open:
            self.close()

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._held.clear()
        self._protocol.connection_lost(exc)


def pipe_pair(
    loop: asyncio.AbstractEventLoop,
    client: asyncio.BaseProtocol,
    server: asyncio.BaseProtocol,
    *,
    client_addr: tuple[str, int],
    server_addr: tuple[str, int],
) -> tuple[PipeTransport, PipeTransport]:
    """Connect two protocols: the server's `connection_made` first (as after an accept), then the client's."""
    client_end = PipeTransport(loop, client, {"peername": server_addr, "sockname": client_addr, "socket": None})
    server_end = PipeTransport(loop, server, {"peername": client_addr, "sockname": server_addr, "socket": None})
    client_end._peer, server_end._peer = server_end, client_end
    server.connection_made(server_end)
    client.connection_made(client_end)
    return client_end, server_end


class PipeConnector(aiohttp.BaseConnector):
    """An aiohttp connector whose connections are pipes to `server` (a protocol factory, e.g. an
    `aiohttp.web.AppRunner`'s `server`), whatever the URL's host and port. Pooling and limits are aiohttp's own."""

    def __init__(self, server: Callable[[], asyncio.BaseProtocol], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._server = server

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:  # noqa: ASYNC109 - aiohttp's signature
        protocol: ResponseHandler = self._factory()
        port = req.url.port or 80
        pipe_pair(self._loop, protocol, self._server(), client_addr=_CLIENT_ADDR, server_addr=("127.0.0.1", port))
        return protocol
