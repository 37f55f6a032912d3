"""HTTP clients for the services under test, recording every request as an operation of the run's history.

Owns: `Endpoints` (where the services are, and their credentials), `Recorder` (one run's history, on the harness's
monotonic clock, in ms from the run's start), `RunApi` (the calls an integration makes: Orders and Accounting),
`ControlApi` (the simulator's `/_sim/` API, for the runner's own requests), and `open_sessions()`.

Outcomes follow Jepsen: a 2xx is `ok`; a 4xx is `fail` (refused: definitely not applied); a 5xx, a timeout or a
dropped connection after the request was sent is `info` (unknown); a request that never left is `fail`.

The runner's own requests (`ControlApi`) carry `X-Racelab-Control: 1`, so the simulator never injects a fault into
those that reach the modelled APIs (reading the final order, configuring the order hook): a run is never judged on
an injected fault (docs/faults.md).

The send time of each request is taken when aiohttp has written its headers (`on_request_headers_sent`), so the
recorded skew includes connection-pool queueing, the usual hidden source of lateness.

Imports: aiohttp, stdlib, `harness.model`.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from harness.integrations.bodies import summary_change, summary_order
from harness.model.records import Operation, Outcome

__all__ = [
    "CONTROL_HEADER",
    "ApiResult",
    "ConnectorFactory",
    "ControlApi",
    "Endpoints",
    "Recorder",
    "RunApi",
    "StepMark",
    "open_sessions",
    "step_mark",
    "tcp_connector",
]

CONTROL_HEADER = "X-Racelab-Control"
"""Marks the harness's own requests; the simulator never faults them (for clients allowed to use `/_sim/`)."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs and credentials. `control` is where `/_sim/` lives (the simulator; usually the Orders URL)."""

    orders: str
    accounting: str
    control: str
    orders_headers: Mapping[str, str] = field(default_factory=dict)
    accounting_headers: Mapping[str, str] = field(default_factory=dict)
    control_headers: Mapping[str, str] = field(default_factory=dict)
    request_timeout_s: float = 10.0


@dataclass(slots=True)
class StepMark:
    """Which step a request belongs to; the first request of the step consumes `scheduled_ms`."""

    step: int
    scheduled_ms: float | None


step_mark: contextvars.ContextVar[StepMark | None] = contextvars.ContextVar("step_mark", default=None)
"""Set by the runner in each step's task; contextvars are per task, so concurrent steps never mix."""


@dataclass(frozen=True, slots=True)
class ApiResult:
    outcome: Outcome
    status: int | None
    body: Any
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def error_code(self) -> str | None:
        if isinstance(self.body, Mapping):
            err = self.body.get("error")
            if isinstance(err, Mapping):
                return str(err.get("code"))
        return None


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
    """Two sessions: one for the traffic under test (its send times are measured), one for the runner's control
    requests, so a long `/_sim/quiesce` never holds a connection the next step needs. Over TCP unless `connector`
    says otherwise (virtual mode's in-process pipes)."""
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


Summarize = Callable[[Any], Any]


class RunApi:
    """The API calls an integration makes for one run, each recorded in the run's history.

    result = await api.invoice(order_id, number="NF-1", value=12480, items=[...])
    if result.ok: ...
    """

    def __init__(self, session: aiohttp.ClientSession, endpoints: Endpoints, recorder: Recorder, actor: str) -> None:
        self._session = session
        self._ep = endpoints
        self._rec = recorder
        self.actor = actor
        self._timeout = aiohttp.ClientTimeout(total=endpoints.request_timeout_s)  # once: this is the firing path

    async def request(
        self,
        f: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        record: Mapping[str, Any] | None = None,
        summarize: Summarize | None = None,
        timeout_s: float | None = None,
    ) -> ApiResult:
        """Send one request and record it. `timeout_s` bounds this call (default: `Endpoints.request_timeout_s`);
        running out of it after the request was sent is `info`."""
        loop = self._rec.loop
        mark = step_mark.get()
        scheduled = None
        if mark is not None and mark.scheduled_ms is not None:
            scheduled, mark.scheduled_ms = mark.scheduled_ms, None  # only the step's first request is scheduled
        sent = _Sent()
        t_invoke = loop.time()
        status: int | None = None
        body: Any = None
        error: str | None = None
        try:
            async with self._session.request(
                method,
                url,
                json=json,
                headers=headers,
                timeout=self._timeout if timeout_s is None else aiohttp.ClientTimeout(total=timeout_s),
                trace_request_ctx=sent,
            ) as resp:
                status = resp.status
                text = await resp.text()
            body = _decode(text)
            outcome = Outcome.OK if status < 400 else Outcome.FAIL if status < 500 else Outcome.INFO
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            outcome = Outcome.INFO if sent.at is not None else Outcome.FAIL  # never sent: it cannot have applied
        t_complete = loop.time()
        self._rec.add(
            actor=self.actor,
            f=f,
            outcome=outcome,
            t_invoke=self._rec.ms(t_invoke),
            t_complete=self._rec.ms(t_complete),
            request=dict(record or {}),
            status=status,
            response=summarize(body) if summarize and outcome is Outcome.OK else body,
            error=error,
            step=mark.step if mark is not None else None,
            scheduled_ms=scheduled,
            sent_ms=self._rec.ms(sent.at) if sent.at is not None else None,
        )
        return ApiResult(outcome, status, body, error)

    # -- Orders ------------------------------------------------------------------------------------------------
    async def get_order(self, order_id: str, *, timeout_s: float | None = None) -> ApiResult:
        return await self.request("get_order", "GET", f"{self._ep.orders}/api/oms/pvt/orders/{order_id}",
                                  headers=self._ep.orders_headers, summarize=summary_order,
                                  timeout_s=timeout_s)  # fmt: skip

    async def invoice(
        self,
        order_id: str,
        *,
        number: str,
        value: int,
        items: list[dict[str, int]],
        issued: str = "2026-11-21",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ApiResult:
        body = {"type": "Output", "issuedDate": issued, "invoiceNumber": number, "invoiceValue": value, "items": items}
        headers = dict(self._ep.orders_headers)
        if request_id:
            headers["X-Request-ID"] = request_id
        url = f"{self._ep.orders}/api/orders/pvt/document/{order_id}/invoices"
        record = {"invoiceNumber": number, "invoiceValue": value}
        return await self.request("invoice", "POST", url, json=body, headers=headers, record=record,
                                  timeout_s=timeout_s)  # fmt: skip

    async def change(self, order_id: str, body: Mapping[str, Any]) -> ApiResult:
        return await self.request("change", "PATCH", f"{self._ep.orders}/api/order-system/orders/{order_id}/changes",
                                  json=dict(body), headers=self._ep.orders_headers, record=dict(body),
                                  summarize=summary_change)  # fmt: skip

    async def change_v1(self, order_id: str, body: Mapping[str, Any]) -> ApiResult:
        """Change v1, `POST /api/oms/pvt/orders/{orderId}/changes`: synchronous, 200 `{date, orderId, receipt}`."""
        return await self.request("change_v1", "POST", f"{self._ep.orders}/api/oms/pvt/orders/{order_id}/changes",
                                  json=dict(body), headers=self._ep.orders_headers, record=dict(body))  # fmt: skip

    async def get_change(self, order_id: str, request_id: str) -> ApiResult:
        url = f"{self._ep.orders}/api/order-system/orders/{order_id}/changes/{request_id}"
        return await self.request("get_change", "GET", url, headers=self._ep.orders_headers,
                                  record={"requestId": request_id}, summarize=summary_change)  # fmt: skip

    # -- Accounting ----------------------------------------------------------------------------------------------
    async def accounting_write(
        self, f: str, method: str, path: str, body: Mapping[str, Any], *, request_id: str | None = None
    ) -> ApiResult:
        """A write under `/accounting/v1/...` (`path` starts there): 200 `internalRequestId` now, the verdict later."""
        headers = dict(self._ep.accounting_headers)
        if request_id:
            headers["X-Request-ID"] = request_id
        return await self.request(f, method, f"{self._ep.accounting}{path}", json=dict(body), headers=headers,
                                  record={"path": path})  # fmt: skip

    async def cancel_order(self, order_id: str, reason: str = "racelab") -> ApiResult:
        return await self.request("cancel", "POST", f"{self._ep.orders}/api/oms/pvt/orders/{order_id}/cancel",
                                  json={"reason": reason}, headers=self._ep.orders_headers)  # fmt: skip


class ControlApi:
    """The simulator's control API, for the runner (seeding, settling, reading final state)."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: Endpoints) -> None:
        self._session = session
        self._ep = endpoints
        self._headers = {**endpoints.control_headers, CONTROL_HEADER: "1"}
        # The control token proves the harness may skip faults; it goes to the Orders URL only when that is the
        # control API's own server (a credential must not leak to another host).
        token = endpoints.control_headers if endpoints.orders == endpoints.control else {}
        self._orders_headers = {**endpoints.orders_headers, **token, CONTROL_HEADER: "1"}

    async def call(
        self, method: str, path: str, *, json: Any = None, timeout_s: float | None = None
    ) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._ep.request_timeout_s)
        async with self._session.request(method, f"{self._ep.control}{path}", json=json,
                                         headers=self._headers, timeout=timeout) as resp:  # fmt: skip
            return resp.status, _decode(await resp.text())

    async def quiesce(self, key: str, *, timeout_s: float) -> bool:
        """Wait until the simulator has no work pending for `key` (an order id or Accounting reference)."""
        _, answer = await self.settle(key, timeout_s=timeout_s)
        return bool(isinstance(answer, Mapping) and answer.get("idle"))

    async def settle(self, key: str, *, timeout_s: float) -> tuple[int, Any]:
        """`POST /_sim/quiesce` for `key`: its status and answer (`quiesce` says whether it is idle)."""
        return await self.call("POST", "/_sim/quiesce", json={"orderId": key, "timeout_ms": timeout_s * 1000},
                               timeout_s=timeout_s + 10)  # fmt: skip

    async def seed_order(self, order: Mapping[str, Any]) -> tuple[int, Any]:
        """Create an order directly in its status (`POST /_sim/orders`); 201 and its summary."""
        return await self.call("POST", "/_sim/orders", json=dict(order))

    async def inspect_order(self, order_id: str) -> tuple[int, Any]:
        """The order's kept versions and Changes (`GET /_sim/orders/{orderId}`)."""
        return await self.call("GET", f"/_sim/orders/{order_id}")

    async def journal(self, order_id: str) -> tuple[int, Any]:
        """The order's journal entries (`GET /_sim/journal?orderId=`)."""
        return await self.call("GET", f"/_sim/journal?orderId={order_id}")

    async def accounting_order(self, reference: str) -> tuple[int, Any]:
        """The Accounting order's positions, invoices and outcomes (`GET /_sim/accounting/orders/{reference}`)."""
        return await self.call("GET", f"/_sim/accounting/orders/{reference}")

    async def move_status(self, order_id: str, status: str) -> tuple[int, Any]:
        """Move the order to `status`; its hooks fire (`POST /_sim/orders/{orderId}/status`)."""
        return await self.call("POST", f"/_sim/orders/{order_id}/status", json={"status": status})

    async def get_order(self, order_id: str) -> tuple[int, Any]:
        """The order as the Orders API serves it (the final state a run is judged on). Marked as the harness's own
        request, so the simulator never injects a fault into it."""
        return await self._orders_get(f"/api/oms/pvt/orders/{order_id}")

    async def feed_config(self) -> tuple[int, Any]:
        """The Orders feed's configuration (`GET /api/orders/feed/config`; 404 while none is configured), asked with
        the Orders credentials: a feed belongs to the app key that configured it."""
        return await self._orders_get("/api/orders/feed/config")

    async def _orders_get(self, path: str) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=self._ep.request_timeout_s)
        async with self._session.get(f"{self._ep.orders}{path}", headers=self._orders_headers,
                                     timeout=timeout) as resp:  # fmt: skip
            return resp.status, _decode(await resp.text())


def _decode(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"text": text[:500]}
