"""The async transport: how the runner performs a flow's requests over aiohttp, and records them.

Owns `Endpoints` (where the services are, and their credentials), `open_sessions()`, `Recorder` (one run's history,
on the loop's clock, in ms from the run's start), `ApiClient` (performs a flow's `Call`s: sends each to its service
and records it as an operation of the run's history) and `ControlClient` (the one client of the simulator's control
API: performs `Control`s, marked `X-Racelab-Control: 1` so that the simulator never injects a fault into them).

Outcomes follow Jepsen (`harness.integrations.flow.Answer`). The send time of each request is taken when aiohttp has
written its headers (`on_request_headers_sent`), so the recorded skew includes connection-pool queueing, the usual
hidden source of lateness.

Imports: aiohttp, stdlib, `harness.integrations.flow`, `harness.model`, `harness.errors`, `simulator.contract`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from harness.errors import HarnessConnectionError
from harness.integrations.flow import Answer, Call, Control, decode
from harness.model.records import Operation, Outcome
from simulator.contract.headers import CONTROL_HEADER

__all__ = [
    "ApiClient",
    "ConnectorFactory",
    "ControlClient",
    "Endpoints",
    "Recorder",
    "StepMark",
    "open_sessions",
    "tcp_connector",
]


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs and credentials. `control` is where `/_sim/` lives (the simulator; usually the Orders URL).

    Endpoints(orders="http://127.0.0.1:8080", accounting="http://127.0.0.1:8080", control="http://127.0.0.1:8080")
    """

    orders: str
    accounting: str
    control: str
    orders_headers: Mapping[str, str] = field(default_factory=dict)
    accounting_headers: Mapping[str, str] = field(default_factory=dict)
    control_headers: Mapping[str, str] = field(default_factory=dict)
    request_timeout_s: float = 10.0


@dataclass(slots=True)
class StepMark:
    """Which step a flow's requests belong to; the first request of the step consumes `scheduled_ms`."""

    step: int
    scheduled_ms: float | None


class _Sent:
    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None


async def _on_headers_sent(session: Any, ctx: Any, params: Any) -> None:
    box = ctx.trace_request_ctx
    if isinstance(box, _Sent):
        box.at = asyncio.get_running_loop().time()


ConnectorFactory = Callable[[int], aiohttp.BaseConnector]
"""Makes a session's connector, given its connection limit."""


def tcp_connector(connections: int) -> aiohttp.BaseConnector:
    return aiohttp.TCPConnector(limit=connections, limit_per_host=connections)


@asynccontextmanager
async def open_sessions(
    *, connections: int = 1000, connector: ConnectorFactory = tcp_connector
) -> AsyncIterator[tuple[aiohttp.ClientSession, aiohttp.ClientSession]]:
    """Two sessions: one for the traffic under test (its send times are measured), one for the control requests, so
    a long `/_sim/quiesce` never holds a connection the next step needs. Over TCP unless `connector` says otherwise
    (virtual mode's in-process pipes)."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    api = aiohttp.ClientSession(connector=connector(connections), trace_configs=[trace])
    control = aiohttp.ClientSession(connector=connector(connections))
    try:
        yield api, control
    finally:
        await api.close()
        await control.close()


class Recorder:
    """One run's history: every request, in the order it was invoked."""

    __slots__ = ("loop", "ops", "origin")

    def __init__(self, origin: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.origin = origin
        self.ops: list[Operation] = []

    def ms(self, t: float) -> float:
        return (t - self.origin) * 1000.0

    def add(self, **fields: Any) -> Operation:
        op = Operation(index=len(self.ops), **fields)
        self.ops.append(op)
        return op


class ApiClient:
    """Performs one run's `Call`s: each sent to its service with its credentials, and recorded in the history.

    answer = await ApiClient(session, endpoints, recorder, "naive").perform(api.get_order("o-1"))
    """

    __slots__ = ("_bases", "_rec", "_session", "_timeout", "actor")

    def __init__(self, session: aiohttp.ClientSession, endpoints: Endpoints, recorder: Recorder, actor: str) -> None:
        self._session = session
        self._rec = recorder
        self.actor = actor
        self._bases = {
            "orders": (endpoints.orders, endpoints.orders_headers),
            "accounting": (endpoints.accounting, endpoints.accounting_headers),
        }
        self._timeout = aiohttp.ClientTimeout(total=endpoints.request_timeout_s)  # once: this is the firing path

    async def perform(self, call: Call, mark: StepMark | None = None) -> Answer:
        """Send one request and record it. `call.timeout_s` bounds it (default: `Endpoints.request_timeout_s`);
        running out of it after the request was sent is `info`."""
        loop = self._rec.loop
        scheduled = None
        if mark is not None and mark.scheduled_ms is not None:
            scheduled, mark.scheduled_ms = mark.scheduled_ms, None  # only the step's first request is scheduled
        base, credentials = self._bases[call.service]
        headers = {**credentials, **call.headers} if call.headers else credentials
        sent = _Sent()
        t_invoke = loop.time()
        status: int | None = None
        body: Any = None
        error: str | None = None
        try:
            async with self._session.request(
                call.method,
                base + call.path,
                json=call.json,
                headers=headers,
                timeout=self._timeout if call.timeout_s is None else aiohttp.ClientTimeout(total=call.timeout_s),
                trace_request_ctx=sent,
            ) as resp:
                status = resp.status
                text = await resp.text()
            body = decode(text)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        answer = Answer(status, body, error, sent=sent.at is not None)  # never sent: it cannot have applied
        outcome = answer.outcome
        t_complete = loop.time()
        self._rec.add(
            actor=self.actor,
            f=call.f,
            outcome=outcome,
            t_invoke=self._rec.ms(t_invoke),
            t_complete=self._rec.ms(t_complete),
            request=dict(call.record),
            status=status,
            response=call.summarize(body) if call.summarize and outcome is Outcome.OK else body,
            error=error,
            step=mark.step if mark is not None else None,
            scheduled_ms=scheduled,
            sent_ms=self._rec.ms(sent.at) if sent.at is not None else None,
        )
        return answer


class ControlClient:
    """The simulator's control API, for the harness's own requests: performs `Control`s over HTTP.

        answer = await ControlClient(session, endpoints).perform(control.inspect_order("o-1"))

    A request that cannot be made (refused connection, reset, timeout) raises `HarnessConnectionError`, whose text
    is the cause's (`ClientConnectorError: ...`).
    """

    def __init__(self, session: aiohttp.ClientSession, endpoints: Endpoints) -> None:
        self._session = session
        self._ep = endpoints
        # The control token proves the harness may skip faults; it goes to the Orders URL only when that is the
        # control API's own server (a credential must not leak to another host).
        token = endpoints.control_headers if endpoints.orders == endpoints.control else {}
        self._bases = {
            "control": (endpoints.control, {**endpoints.control_headers, CONTROL_HEADER: "1"}),
            "orders": (endpoints.orders, {**endpoints.orders_headers, **token, CONTROL_HEADER: "1"}),
        }

    async def perform(self, control: Control) -> Answer:
        base, headers = self._bases[control.service]
        timeout = aiohttp.ClientTimeout(total=control.timeout_s or self._ep.request_timeout_s)
        try:
            async with self._session.request(
                control.method, base + control.path, json=control.json, headers=headers, timeout=timeout
            ) as resp:
                return Answer(resp.status, decode(await resp.text()))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise HarnessConnectionError(reason) from exc
