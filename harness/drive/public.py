"""The harness's own requests answered through the platform's PUBLIC API only: control-free runs against a real
platform (or the stand-in, `racelab serve --no-control`), where there is no `/_sim/` control API.

Owns `PublicControl` (a drop-in control client for `run_specs(control=...)` and `drive_control`: it answers every
operation of `harness.integrations.control` with public routes, or says what cannot be observed from outside, and
never sends a request under `/_sim/`), `RateLimiter` (the token bucket every request racelab sends draws from),
`limited_connector` (makes the runner's sessions draw from it too, so the integration's calls count), `retry_after`
(how long a 429 asks to wait) and `public_spec` (a minimal run spec for an order racelab did not plan, to read its
final state: `racelab proxy judge`).

What each control operation becomes from outside:

- `seed_order`: the order must exist in `ready-for-handling`; it is moved to `handling` (`start-handling`) when the
  run needs it. Otherwise a 409 whose `skipped` says why: the run is reported and skipped, never judged.
- `quiesce`: polls the order and its Changes until no Change is in progress and nothing changed for `quiet_s`,
  bounded by the timeout: `{"idle": bool, "public": true, ...}`.
- `get_order`: `GET /api/oms/pvt/orders/{orderId}`.
- `inspect_order`: `{"versions": [], "changes": [...], "public": true}`, the Changes from `GET
  /api/order-system/orders/{orderId}/changes` (`requests`); the platform keeps no versions one can read.
- `journal`: `{"entries": [], "unavailable": why}`: the journal is the simulator's own record; no request is sent.
- `accounting_order`: 404 `not-observable`: Accounting's invoices and outcomes have no public read; nothing sent.
- `move_status`: to `handling`, `POST .../start-handling`; to any other status, 400 and nothing sent.
- `configure_hook`, `feed_config`: the public routes, as they are.

Rate: every request racelab sends takes a token from one `RateLimiter` (the integration's calls through
`limited_connector`, racelab's own here). A 429 to one of racelab's own requests is retried after the time its
`Retry-After` asks (seconds or an HTTP date; bounded attempts and wait), and so is one of its reads that met a 502,
503, 504 or a dropped connection (a read changes nothing); the integration's calls are recorded as the platform
answered them (the runner never retries them).

    limiter = RateLimiter(5.0)
    async with aiohttp.ClientSession() as session:
        client = PublicControl(session, endpoints, limiter=limiter)
        final, journal = await drive_control(control.final_state(public_spec("o-1"), settle_s=30.0), client)

Credentials: the Orders credentials of `Endpoints.orders_headers` go with every request to `Endpoints.orders`; the
control token and `X-Racelab-Control` are never sent (they mean nothing to the platform).

Imports: stdlib, aiohttp, `harness.drive.transport`, `harness.integrations` (control, flow), `harness.model`,
`harness.errors`.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import time
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any
from urllib.parse import quote

import aiohttp

from harness.drive.transport import ConnectorFactory, ControlClient, Endpoints
from harness.errors import HarnessConnectionError
from harness.integrations.flow import Answer, Control, decode
from harness.model.records import RunSpec

__all__ = [
    "JOURNAL_UNAVAILABLE",
    "NOT_OBSERVABLE",
    "READY",
    "PublicControl",
    "RateLimiter",
    "limited_connector",
    "public_spec",
    "retry_after",
]

READY = "ready-for-handling"
"""The status a control-free run needs its order in."""

JOURNAL_UNAVAILABLE = "the journal is the simulator's own record of what it did; a platform read from outside has none"
NOT_OBSERVABLE = "Accounting's invoices and outcomes have no public read: not observable from outside"

_ORDER = "/api/oms/pvt/orders/{}"
_START_HANDLING = "/api/oms/pvt/orders/{}/start-handling"
_CHANGES = "/api/order-system/orders/{}/changes"


_BLIPS = frozenset({502, 503, 504})
"""Answers to one of racelab's own reads that say "not now" (a gateway or an overloaded service): the read is tried
again, as a 429 is. A write is never sent again on them: it may have been applied."""


def _at(template: str, order_id: str) -> str:
    """A route of one order; the id quoted as one path segment (an id read from elsewhere, say a proxy's record,
    must not be able to climb out of its route)."""
    return template.format(quote(order_id, safe=""))


class RateLimiter:
    """A token bucket: at most `max_rate` requests per second on average, in bursts of at most `burst` (default:
    one second's worth). Waiters are served in the order they asked.

        limiter = RateLimiter(5.0)
        await limiter.acquire()          # returns at once while tokens are left, else when the next one is due
    """

    __slots__ = ("_lock", "_stamp", "_tokens", "burst", "max_rate", "sent")

    def __init__(self, max_rate: float, *, burst: float | None = None) -> None:
        if max_rate <= 0:
            raise ValueError(f"max_rate must be positive, got {max_rate:g}")
        self.max_rate = max_rate
        self.burst = max(1.0, burst if burst is not None else max_rate)
        self.sent = 0
        """Tokens handed out (requests let through)."""
        self._tokens = self.burst
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for a token and take it."""
        async with self._lock:  # held while waiting: first come, first served
            loop = asyncio.get_running_loop()
            self._refill(loop.time())
            if self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self.max_rate)
                self._refill(loop.time())
            self._tokens = max(0.0, self._tokens - 1.0)
            self.sent += 1

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.max_rate)
        self._stamp = now


_PAID: contextvars.ContextVar[bool] = contextvars.ContextVar("racelab_rate_paid", default=False)
"""Set while `PublicControl` sends a request it already took a token for, so the connector does not take another."""


class _LimitedConnector(aiohttp.TCPConnector):
    """A TCP connector whose every request first takes a token (aiohttp asks its connector for a connection once
    per request, pooled or not)."""

    def __init__(self, limiter: RateLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._limiter = limiter

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109 - aiohttp's signature
        if not _PAID.get():
            await self._limiter.acquire()
        return await super().connect(req, traces, timeout)


def limited_connector(limiter: RateLimiter) -> ConnectorFactory:
    """A connector factory for `run_specs(connector=...)`: every request of the runner's sessions (the integration's
    calls, recorded in its history) takes a token from `limiter` before it leaves."""

    def make(connections: int) -> aiohttp.BaseConnector:
        return _LimitedConnector(limiter, limit=connections, limit_per_host=connections)

    return make


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delay-seconds or an HTTP date); None when absent or unreadable.

    retry_after("2")                               # 2.0
    retry_after("Wed, 21 Oct 2026 07:28:00 GMT")   # seconds until then (0 if past)
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def public_spec(
    order_id: str, *, scenario: str = "proxy", integration: str = "proxy", expect: Sequence[str] = ()
) -> RunSpec:
    """A minimal run spec for an order racelab did not plan (no steps, no Accounting order), to read its final state
    from outside:

        final, journal = await drive_control(control.final_state(public_spec("o-1"), settle_s=10.0), client)
    """
    return RunSpec(
        run_id=order_id,
        scenario=scenario,
        integration=integration,
        cell={},
        repetition=0,
        seed=0,
        order_id=order_id,
        order={},
        steps=(),
        expect=tuple(expect),
    )


class PublicControl(ControlClient):
    """The control client of a control-free run: every harness request through the public API (see module doc).

        client = PublicControl(session, endpoints, limiter=RateLimiter(5.0), quiet_s=1.0)
        answer = await client.perform(control.get_order("o-1"))

    Args:
        session: Where its requests go from (its connector needs no limiter: this client takes its own tokens).
        endpoints: `orders` and `orders_headers` (the credentials); the control URL and token are never used.
        limiter: The token bucket shared by every request racelab sends.
        quiet_s: How long nothing may change before an order counts as settled.
        poll_s: How often `quiesce` reads the order and its Changes.
        attempts: How many times one of racelab's own requests is sent while the platform answers 429 (a read:
            also 502, 503, 504 or a dropped connection).
        max_wait_s: The longest wait a `Retry-After` is honoured for (longer: the 429 is the answer).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: Endpoints,
        *,
        limiter: RateLimiter,
        quiet_s: float = 1.0,
        poll_s: float = 0.2,
        attempts: int = 5,
        max_wait_s: float = 60.0,
    ) -> None:
        super().__init__(session, endpoints)
        self._limiter = limiter
        self._quiet_s = quiet_s
        self._poll_s = poll_s
        self._attempts = max(1, attempts)
        self._max_wait_s = max_wait_s
        self._base = endpoints.orders
        self._headers = dict(endpoints.orders_headers)
        self.retried = 0
        """Requests sent again so far (after a 429, or a read after a 502, 503, 504 or a dropped connection)."""

    async def perform(self, control: Control) -> Answer:
        op = control.op
        args = control.args
        if op == "get_order":
            return await self.request("GET", _at(_ORDER, str(args["order_id"])))
        if op == "seed_order":
            return await self._seed(args["body"])
        if op == "quiesce":
            return await self._quiesce(str(args["key"]), float(args["timeout_s"]))
        if op == "inspect_order":
            return await self._inspect(str(args["order_id"]))
        if op == "journal":
            return Answer(200, {"entries": [], "unavailable": JOURNAL_UNAVAILABLE})
        if op == "accounting_order":
            return Answer(404, {"error": {"code": "not-observable", "message": NOT_OBSERVABLE}})
        if op == "move_status":
            return await self._move(str(args["order_id"]), str(args["status"]))
        if control.path.startswith("/_sim"):  # an operation this client does not know: never through a back door
            return Answer(404, {"error": {"code": "not-observable", "message": f"{op}: no public route"}})
        return await self.request(control.method, control.path, json=control.json, timeout_s=control.timeout_s)

    async def request(self, method: str, path: str, *, json: Any = None, timeout_s: float | None = None) -> Answer:
        """One of racelab's own requests to the Orders API: rate-limited, retried on 429 as the platform asks.

        Raises:
            HarnessConnectionError: it could not be made (refused, reset, timed out).
        """
        if path.startswith("/_sim"):
            raise ValueError(f"{path}: a control-free client never sends a request to /_sim/")
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._ep.request_timeout_s)
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire()
            token = _PAID.set(True)
            wait: float | None = None
            try:
                async with self._session.request(
                    method, self._base + path, json=json, headers=self._headers, timeout=timeout
                ) as resp:
                    answer = Answer(resp.status, decode(await resp.text()))
                    wait = retry_after(resp.headers.get("Retry-After")) if resp.status == 429 else None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if method != "GET" or attempt >= self._attempts:
                    raise HarnessConnectionError(f"{method} {self._base}{path}: {reason}") from exc
                answer = Answer(None, None, reason)  # a read changes nothing: it is tried again
            finally:
                _PAID.reset(token)
            again = answer.status == 429 or (method == "GET" and (answer.status is None or answer.status in _BLIPS))
            if not again or attempt >= self._attempts:
                return answer
            # No Retry-After: back off a little more each time (the bucket alone may be what the platform refuses).
            delay = wait if wait is not None else min(self._max_wait_s, 0.5 * 2 ** (attempt - 1))
            if delay > self._max_wait_s:
                return answer
            self.retried += 1
            await asyncio.sleep(delay)

    async def _seed(self, body: Mapping[str, Any]) -> Answer:
        order_id = str(body["orderId"])
        wanted = body.get("status")
        read = await self.request("GET", _at(_ORDER, order_id))
        if read.status != 200 or not isinstance(read.body, Mapping):
            return Answer(404, {"skipped": f"order {order_id} could not be read: GET answered {read.status}"})
        status = read.body.get("status")
        if status != READY:
            return Answer(409, {"skipped": f"order {order_id} is in status {status}, not {READY}"})
        if wanted == READY:
            return Answer(201, {"orderId": order_id, "status": READY})  # the run's start moves it: its hook races
        if wanted != "handling":
            return Answer(
                409, {"skipped": f"the run needs order {order_id} in {wanted}, which no public route reaches"}
            )
        moved = await self.request("POST", _at(_START_HANDLING, order_id))
        if not moved.ok:
            why = f"start-handling answered {moved.status}" if moved.status is not None else moved.error
            return Answer(409, {"skipped": f"order {order_id} could not be moved to handling: {why}"})
        return Answer(201, {"orderId": order_id, "status": "handling"})

    async def _move(self, order_id: str, status: str) -> Answer:
        if status != "handling":
            return Answer(400, {"error": {"code": "not-observable", "message": f"no public route moves to {status}"}})
        return await self.request("POST", _at(_START_HANDLING, order_id))

    async def _inspect(self, order_id: str) -> Answer:
        answer = await self.request("GET", _at(_CHANGES, order_id))
        requests = answer.body.get("requests") if answer.status == 200 and isinstance(answer.body, Mapping) else None
        body: dict[str, Any] = {"versions": [], "changes": list(requests or ()), "public": True}
        if answer.status != 200:
            body["error"] = f"GET {_at(_CHANGES, order_id)} answered {answer.status}"
        return Answer(answer.status, body)

    async def _quiesce(self, key: str, timeout_s: float) -> Answer:
        """Poll the order and its Changes until no Change is in progress and nothing changed for `quiet_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last: Any = None
        since = loop.time()
        polls = 0
        while True:
            polls += 1
            order = await self.request("GET", _at(_ORDER, key))
            if order.status == 404 and polls == 1:  # not an order (an Accounting reference, say): nothing to watch
                return Answer(200, {"idle": False, "public": True, "reason": f"{key} is not an order"})
            changes = await self.request("GET", _at(_CHANGES, key)) if order.status == 200 else order
            state = _signature(order, changes)
            now = loop.time()
            if state != last:
                last, since = state, now
            busy = state is None or state[-1]
            if not busy and now - since >= self._quiet_s:
                return Answer(200, {"idle": True, "public": True, "polls": polls})
            if now >= deadline:
                why = "a Change is still in progress" if busy else "the order kept changing"
                return Answer(200, {"idle": False, "public": True, "polls": polls, "reason": why})
            await asyncio.sleep(min(self._poll_s, max(0.0, deadline - now)))


def _signature(order: Answer, changes: Answer) -> tuple[Any, ...] | None:
    """What must stay the same for the quiet period: the order's status, value and invoices, and each Change's
    state; its last element says whether a Change is in progress. None: the order or its Changes could not be
    read (that is not quiet)."""
    if order.status != 200 or changes.status != 200:
        return None
    if not isinstance(order.body, Mapping) or not isinstance(changes.body, Mapping):
        return None
    packages = (order.body.get("packageAttachment") or {}).get("packages") or ()
    invoices = tuple(sorted((str(p.get("invoiceNumber")), p.get("invoiceValue")) for p in packages))
    requests = changes.body.get("requests") or ()
    states = tuple(sorted((str(r.get("requestId")), str(r.get("status")), bool(r.get("inProgress"))) for r in requests))
    in_progress = any(state[2] for state in states)
    return order.body.get("status"), order.body.get("value"), invoices, states, in_progress
