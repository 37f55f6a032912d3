"""A small Chrome DevTools Protocol client over an aiohttp websocket: enough to open a page headless and look at it.

Drives Debian's `/usr/bin/chromium` (installed by `make test` when missing; never a browser download, no npm, no
Playwright). Used by the report's browser test and by `benchmarks/report_size.py`.

    async with open_chromium(tmp_path / "profile") as browser:
        page = await browser.new_page(width=1280, height=900)
        load = await page.load(report.as_uri())        # console errors, requests, load time
        boxes = await page.evaluate("[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)")
        (tmp_path / "report.png").write_bytes(await page.screenshot())

Imports: stdlib and aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = Path(os.environ.get("RACELAB_CHROMIUM", "/usr/bin/chromium"))
"""Debian's chromium; `make test` installs the package when this file is missing."""

FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests may run as root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
)


class CdpError(RuntimeError):
    """Chromium answered a command with an error, or did not start."""


def find_chromium() -> Path | None:
    """The chromium binary, if installed."""
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    errors: list[str]
    """Console errors, uncaught exceptions and browser log errors."""
    requests: list[str]
    """Every URL the page asked for (the document itself included)."""
    load_ms: float
    """`performance.timing`: navigation start to the end of the load event."""
    wall_ms: float
    """Measured here: from `Page.navigate` to `Page.loadEventFired`."""


@dataclass
class _Connection:
    ws: aiohttp.ClientWebSocketResponse
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                future = self.pending.pop(data["id"])
                if not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)
                self.changed.set()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(CdpError("the browser closed the connection"))

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        message_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        answer = await asyncio.wait_for(future, timeout=60)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    async def wait_event(self, method: str, session: str, *, after: int, within: float) -> dict[str, Any]:
        """The first event `method` of `session` received at or after index `after` of `events`."""
        deadline = time.monotonic() + within
        while True:
            for event in self.events[after:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CdpError(f"no {method} within {within:.0f} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=remaining)


class Page:
    """One tab, attached with a flat session."""

    def __init__(self, connection: _Connection, session: str) -> None:
        self._cdp = connection
        self._session = session

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self._cdp.send(method, params, self._session)

    async def load(self, url: str, *, within: float = 60) -> PageLoad:
        """Navigate to `url` and wait for its load event; collect errors and requests until then."""
        start = len(self._cdp.events)
        began = time.perf_counter()
        await self.send("Page.navigate", {"url": url})
        await self._cdp.wait_event("Page.loadEventFired", self._session, after=start, within=within)
        wall_ms = (time.perf_counter() - began) * 1000
        timing = "(t => t.loadEventEnd && t.loadEventEnd - t.navigationStart)(performance.timing)"
        deadline = time.monotonic() + within
        load_ms = await self.evaluate(timing)
        while not load_ms and time.monotonic() < deadline:  # loadEventEnd is set once the load handlers returned
            await asyncio.sleep(0.01)
            load_ms = await self.evaluate(timing)
        return PageLoad(
            errors=self.errors(after=start),
            requests=self.requests(after=start),
            load_ms=float(load_ms or 0),
            wall_ms=wall_ms,
        )

    def errors(self, *, after: int = 0) -> list[str]:
        found = []
        for event in self._cdp.events[after:]:
            if event.get("sessionId") != self._session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        return found

    def requests(self, *, after: int = 0) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self._cdp.events[after:]
            if e.get("sessionId") == self._session and e.get("method") == "Network.requestWillBeSent"
        ]

    async def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The value of a JavaScript expression (JSON-serialisable), evaluated in the page; with `await_promise`,
        the value the promise it returns resolves to."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": await_promise}
        result = await self.send("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise CdpError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, *, full_page: bool = True) -> bytes:
        """A PNG of the viewport, or of the whole page."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        return base64.b64decode((await self.send("Page.captureScreenshot", params))["data"])


class Browser:
    def __init__(self, connection: _Connection) -> None:
        self._cdp = connection

    async def new_page(self, *, width: int = 1280, height: int = 900) -> Page:
        """A new tab with the console, the log, the network and the page domains enabled."""
        target = (await self._cdp.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await self._cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        page = Page(self._cdp, session)
        for domain in ("Runtime", "Log", "Network", "Page"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page


async def _devtools_url(profile: Path, process: asyncio.subprocess.Process, *, within: float) -> str:
    """Chromium writes `DevToolsActivePort` (port, then the browser's websocket path) once it listens."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise CdpError(f"chromium exited with {process.returncode} before listening")
        with contextlib.suppress(FileNotFoundError):
            lines = marker.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)
    raise CdpError(f"chromium did not write {marker} within {within:.0f} s")


@contextlib.asynccontextmanager
async def open_chromium(profile: Path, *, binary: Path | None = None, within: float = 60) -> AsyncIterator[Browser]:
    """Start headless chromium with a fresh profile folder; close it (and wait for it) when done.

    Args:
        profile: An empty folder for `--user-data-dir`; chromium's own log goes to `profile/chromium.log`.
        binary: The chromium to run (default: `find_chromium()`).
        within: Seconds to wait for it to listen.

    Raises:
        CdpError: No chromium, or it did not start.
    """
    binary = binary or find_chromium()
    if binary is None:
        raise CdpError(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    with open(profile / "chromium.log", "wb") as log:  # noqa: ASYNC230 (a local file, once)
        process = await asyncio.create_subprocess_exec(
            str(binary),
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        url = await _devtools_url(profile, process, within=within)
        async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
            connection = _Connection(ws)
            reader = asyncio.create_task(connection.read())
            try:
                yield Browser(connection)
                with contextlib.suppress(CdpError, ConnectionError, TimeoutError):
                    await connection.send("Browser.close")
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    finally:
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
