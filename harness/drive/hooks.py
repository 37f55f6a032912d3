"""The harness's own order-hook subscriber, for the built-in hook-driven integrations.

Owns `HookReceiver`: a small aiohttp server on 127.0.0.1 (ephemeral port) that answers the simulator's ping, and
hands each hook to the runner, which dispatches it to the run the order belongs to. It answers 200 at once, as a
subscriber must (the platform waits at most 5 s), and never creates tasks itself: the runner does.

Imports: aiohttp, stdlib.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

__all__ = ["HookReceiver"]

Dispatch = Callable[[Mapping[str, Any]], None]


class HookReceiver:
    """async with HookReceiver(dispatch) as url: ...   # configure the simulator's hook to `url`"""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self._runner: web.AppRunner | None = None
        self.received = 0

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"error": "expected JSON"}, status=400)
        if isinstance(payload, dict) and "OrderId" in payload:
            self.received += 1
            self._dispatch(payload)
        return web.json_response({"ok": True})

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
