"""`harness.pipes`: HTTP between an aiohttp client and an aiohttp server in one loop, through in-memory transports.

What a kernel socket would do must hold: bytes arrive in order and whole, large bodies pass through flow control,
connections are reused, a server that closes or resets a connection is seen closing or resetting it."""

from __future__ import annotations

import asyncio
import errno
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from harness.virtual.pipes import PipeConnector, PipeTransport

BIG = bytes(range(256)) * 40_000  # 10 MB: well past every buffer's high-water mark


def _app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=body, headers={"X-Peer": request.remote or ""})

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(BIG), 65536):  # many writes: some arrive while the client has paused reading
            await response.write(BIG[start : start + 65536])
        await response.write_eof()
        return response

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(100):
            await response.write(b"%d," % i)
        await response.write_eof()
        return response

    async def reset(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(0)
        return web.Response(text="never sent")

    async def close(_: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    app = web.Application(client_max_size=len(BIG) + 1)
    app.router.add_post("/echo", echo)
    app.router.add_get("/big", big)
    app.router.add_get("/streamed", streamed)
    app.router.add_get("/reset", reset)
    app.router.add_get("/close", close)
    return app


@pytest.fixture
async def server() -> AsyncIterator[web.Server]:
    runner = web.AppRunner(_app(), access_log=None, handle_signals=False)
    await runner.setup()
    assert runner.server is not None
    yield runner.server
    await runner.cleanup()


async def test_requests_and_answers_pass_whole_and_in_order(server: web.Server) -> None:
    async with aiohttp.ClientSession(connector=PipeConnector(server)) as session:
        async with session.post("http://127.0.0.1:8080/echo", data=b"hello") as resp:
            assert resp.status == 200
            assert await resp.read() == b"hello"
            assert resp.headers["X-Peer"] == "127.0.0.1"  # the server sees a loopback client
        async with session.get("http://127.0.0.1:8080/streamed") as resp:
            assert await resp.text() == "".join(f"{i}," for i in range(100))


async def test_large_bodies_pass_through_flow_control_both_ways(
    server: web.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = []
    original = PipeTransport._receive

    def receive(self: PipeTransport, data: bytes) -> None:
        if not self.is_reading():
            held.append(len(data))
        original(self, data)

    monkeypatch.setattr(PipeTransport, "_receive", receive)
    async with aiohttp.ClientSession(connector=PipeConnector(server)) as session:
        async with session.post("http://127.0.0.1:8080/echo", data=io.BytesIO(BIG)) as resp:
            assert await resp.read() == BIG
        async with session.get("http://127.0.0.1:8080/big") as resp:
            chunks = []
            async for chunk in resp.content.iter_chunked(1000):
                chunks.append(chunk)
                await asyncio.sleep(0)  # a slow reader: the pipe must hold what it cannot take yet
            assert b"".join(chunks) == BIG
    assert held, "nothing arrived while reading was paused: flow control was not exercised"


async def test_concurrent_requests_each_get_their_own_answer(server: web.Server) -> None:
    async with aiohttp.ClientSession(connector=PipeConnector(server, limit=3)) as session:

        async def one(i: int) -> bytes:
            async with session.post("http://127.0.0.1:8080/echo", data=b"%d" % i) as resp:
                return await resp.read()

        answers = await asyncio.gather(*(one(i) for i in range(50)))
    assert answers == [b"%d" % i for i in range(50)]


async def test_a_kept_alive_connection_is_reused(server: web.Server) -> None:
    async with aiohttp.ClientSession(connector=PipeConnector(server)) as session:
        for _ in range(5):
            async with session.post("http://127.0.0.1:8080/echo", data=b"x") as resp:
                await resp.read()
        assert len(server.connections) == 1


async def test_a_reset_connection_is_an_econnreset_for_the_client(server: web.Server) -> None:
    async with aiohttp.ClientSession(connector=PipeConnector(server)) as session:
        with pytest.raises(aiohttp.ClientOSError) as caught:
            async with session.get("http://127.0.0.1:8080/reset") as resp:
                await resp.read()
        assert caught.value.errno == errno.ECONNRESET
        assert str(caught.value) == "[Errno 104] Connection reset by peer"
        # The session goes on with a new connection.
        async with session.post("http://127.0.0.1:8080/echo", data=b"after") as resp:
            assert await resp.read() == b"after"


async def test_a_server_that_closes_after_answering_is_read_to_the_end(server: web.Server) -> None:
    async with aiohttp.ClientSession(connector=PipeConnector(server)) as session:
        for _ in range(3):
            async with session.get("http://127.0.0.1:8080/close") as resp:
                assert await resp.text() == "bye"


async def test_closing_the_session_leaves_the_server_no_connection(server: web.Server) -> None:
    async with aiohttp.ClientSession(connector=PipeConnector(server)) as session:
        async with session.post("http://127.0.0.1:8080/echo", data=b"x") as resp:
            await resp.read()
        assert len(server.connections) == 1
    for _ in range(5):
        await asyncio.sleep(0)
    assert server.connections == []
