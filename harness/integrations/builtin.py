"""The integrations under test: the merchant middleware that invoices orders and sends Changes.

Owns: `RunContext` (what an integration sees of one run), the `Integration` protocol, the built-ins `naive`,
`naive-retry`, `workaround`, `robust`, `hook-naive` and `hook-dedupe`, the external integrations (a process of any
language: `ExternalIntegration`, driven by order hooks; `ExternalService`, which finds its work in the feed or the
order list by itself), and `load_integration()` for a user's `module:Class`.

Under injected faults (docs/faults.md) `naive-retry` retries blindly with a new invoice document and can invoice an
order twice; `robust` treats an unknown outcome as unknown: it reads the order to see whether its invoice (its own
invoice number, the idempotency key) landed before it sends anything again.

An integration reacts to the scenario's steps: the runner calls `invoice(ctx, step)` when the schedule says the
order is to be invoiced, `change(ctx, step)` when a Change is due, and `change_v1(ctx, step)` (when it has one;
`send_change_v1` otherwise) when a Change v1 is due. Integrations never create tasks (the runner is the only place
that does); they may await. Every request goes through `ctx.api` and lands in the run's history.

Imports: stdlib, `harness.bodies`, `harness.client`, `harness.model`, `harness.errors`.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable

from harness.drive.client import ApiResult, ControlApi, RunApi, step_mark
from harness.errors import InvalidScenario
from harness.integrations.bodies import CHANGE_ACTIONS, change_body, change_v1_body, change_v1_request_id, invoice_items
from harness.model.records import Outcome, RunSpec, Step

__all__ = [
    "BUILTIN",
    "EXTERNAL_SOURCES",
    "ExternalIntegration",
    "ExternalService",
    "HookDedupe",
    "HookNaive",
    "Integration",
    "Naive",
    "NaiveRetry",
    "Robust",
    "RunContext",
    "Workaround",
    "accounting_ref",
    "change_body",
    "invoice_items",
    "invoice_order",
    "load_integration",
    "register_invoice",
    "send_change",
    "send_change_v1",
    "update_invoice",
]


T = TypeVar("T")


@dataclass(slots=True)
class RunContext:
    """One run as an integration sees it.

    order = await ctx.api.get_order(ctx.order_id)
    request_id = await ctx.change_sent(step_index)   # what the integration's own Change step sent
    """

    spec: RunSpec
    api: RunApi
    control: ControlApi
    _changes: dict[int, asyncio.Future[str | None]] = field(default_factory=dict)
    hooks_seen: int = 0
    hooks_handled: set[tuple[Any, ...]] = field(default_factory=set)
    hook_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """Hook handlers the runner started for this run; it waits for them before reading the final state."""

    def __post_init__(self) -> None:
        loop = asyncio.get_running_loop()
        for i, step in enumerate(self.spec.steps):
            if step.do in CHANGE_ACTIONS:
                self._changes[i] = loop.create_future()

    @property
    def order_id(self) -> str:
        return self.spec.order_id

    @property
    def planned_changes(self) -> list[int]:
        """Indexes of the steps that send a Change (v2 or v1), in schedule order."""
        return sorted(self._changes, key=lambda i: (self.spec.steps[i].at_ms, i))

    def synchronous(self, step: int) -> bool:
        """Whether the Change of `step` is a Change v1: its 200 answer says it was applied; there is no Change to
        poll for `finished`."""
        return self.spec.steps[step].do == "change-v1"

    def announce_change(self, step: int, request_id: str | None) -> None:
        """Called by the Change step once sent: its `requestId`, or None if it was refused or lost."""
        fut = self._changes.get(step)
        if fut is not None and not fut.done():
            fut.set_result(request_id)

    async def change_sent(self, step: int, *, timeout_s: float) -> str | None:
        """Wait until the Change of `step` was sent; its `requestId` (None: refused, lost, or not in time)."""
        fut = self._changes[step]
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except TimeoutError:
            return None

    def waive_schedule(self) -> None:
        """The integration chooses to wait before its next request: that wait is its cost (time to invoice), not
        the runner's lateness, so the request is not counted as scheduled (no send skew)."""
        mark = step_mark.get()
        if mark is not None:
            mark.scheduled_ms = None

    def invoice_number(self) -> str:
        return f"NF-{self.spec.order_id}"


@runtime_checkable
class Integration(Protocol):
    name: str

    async def invoice(self, ctx: RunContext, step: Step) -> None: ...

    async def change(self, ctx: RunContext, step: Step) -> None: ...


async def send_change(ctx: RunContext, step: Step) -> None:
    """Send the step's Change now, and tell the run its `requestId` (None if it was refused or lost)."""
    result = await ctx.api.change(ctx.order_id, change_body(step))
    request_id = result.body.get("requestId") if result.ok and isinstance(result.body, Mapping) else None
    ctx.announce_change(ctx.spec.steps.index(step), request_id)


async def send_change_v1(ctx: RunContext, step: Step) -> None:
    """Send the step's Change v1 now (synchronous: it answers once applied or refused), and tell the run its
    `requestId` once it answered 200 (None if it was refused or lost)."""
    index = ctx.spec.steps.index(step)
    body = change_v1_body(step, ctx.spec.order, request_id=change_v1_request_id(ctx.order_id, index))
    result = await ctx.api.change_v1(ctx.order_id, body)
    ctx.announce_change(index, body["requestId"] if result.ok else None)


async def invoice_order(
    ctx: RunContext,
    order: Mapping[str, Any],
    *,
    number: str | None = None,
    value: int | None = None,
    request_id: str | None = None,
    timeout_s: float | None = None,
) -> ApiResult:
    """Invoice the order as read: its value (unless `value` says otherwise) and its remaining lines."""
    return await ctx.api.invoice(ctx.order_id, number=number or ctx.invoice_number(),
                                 value=int(order["value"] if value is None else value), items=invoice_items(order),
                                 request_id=request_id, timeout_s=timeout_s)  # fmt: skip


def _step_value(step: Step) -> int | None:
    return int(step.args["value"]) if "value" in step.args else None


class Naive:
    """On the trigger, read the order and invoice its value; send Changes the moment they are due."""

    name = "naive"
    requests_per_step = 1.5
    """For the runner's pacing: an invoice step is a read and a write, a Change step one write."""

    async def invoice(self, ctx: RunContext, step: Step) -> None:
        read = await ctx.api.get_order(ctx.order_id)
        if read.ok:
            await invoice_order(ctx, read.body, value=_step_value(step))

    async def change(self, ctx: RunContext, step: Step) -> None:
        await send_change(ctx, step)


class NaiveRetry(Naive):
    """`naive` with the obvious retry, the one robust integrations are written against: when reading or invoicing
    does not succeed (a 5xx, a reset, a timeout: any outcome but a 2xx or a 4xx), wait a little and do it all again,
    reading the order and invoicing its value with a new invoice document (a new invoice number, as an ERP that
    numbers each document it issues does). It never asks whether the failed attempt landed, so an invoice that was
    applied but answered badly is invoiced a second time: the double invoice of docs/faults.md.

    Args:
        retries: attempts after the first.
        backoff_s: wait before the second attempt; each further wait is one `backoff_s` longer.
        call_timeout_s: bound of each call; an answer that takes longer is an unknown outcome (retried).
    """

    name = "naive-retry"

    def __init__(self, *, retries: int = 3, backoff_s: float = 0.05, call_timeout_s: float = 1.5) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.call_timeout_s = call_timeout_s

    async def invoice(self, ctx: RunContext, step: Step) -> None:
        for attempt in range(1, self.retries + 2):
            read = await ctx.api.get_order(ctx.order_id, timeout_s=self.call_timeout_s)
            if read.ok:
                result = await invoice_order(ctx, read.body, number=f"{ctx.invoice_number()}-{attempt}",
                                             value=_step_value(step), timeout_s=self.call_timeout_s)  # fmt: skip
                if result.outcome is not Outcome.INFO:
                    return  # accepted, or refused (a 4xx): done either way
            elif read.status is not None and read.status < 500:
                return  # the order cannot be read (a 4xx): nothing to invoice
            if attempt <= self.retries:
                await asyncio.sleep(self.backoff_s * attempt)


class Workaround(Naive):
    """The known issue's workaround: before invoicing, wait until every Change the integration sends for the order
    reports `finished: true` (polling with backoff, bounded), then re-read the order and invoice its value.

    Args:
        max_wait_s: how long to wait for the Changes before invoicing anyway.
        poll_ms: first polling interval; multiplied by `backoff` up to `poll_max_ms`.
    """

    name = "workaround"
    requests_per_step = 3.0
    """For the runner's pacing: it also polls the Change until it finishes."""

    def __init__(self, *, max_wait_s: float = 15.0, poll_ms: float = 25.0, poll_max_ms: float = 400.0,
                 backoff: float = 1.5) -> None:  # fmt: skip
        self.max_wait_s = max_wait_s
        self.poll_ms = poll_ms
        self.poll_max_ms = poll_max_ms
        self.backoff = backoff

    async def invoice(self, ctx: RunContext, step: Step) -> None:
        await self.await_changes(ctx, asyncio.get_running_loop().time() + self.max_wait_s)
        read = await ctx.api.get_order(ctx.order_id)
        if read.ok:
            await invoice_order(ctx, read.body, value=_step_value(step))

    async def await_changes(self, ctx: RunContext, deadline: float) -> list[str]:
        """Wait for each Change this integration sends for the order: sent, then finished (or ended unapplied).
        Returns the `requestId`s of the Changes v2 that finished. The wait is the integration's own cost, not the
        runner's lateness.

        A Change v1 is synchronous: its 200 answer comes once it was applied, so waiting for its answer is the whole
        workaround (there is no `finished` to poll; the Changes v2 routes do not know its `requestId`)."""
        loop = asyncio.get_running_loop()
        ctx.waive_schedule()
        finished = []
        for index in ctx.planned_changes:
            request_id = await ctx.change_sent(index, timeout_s=max(0.0, deadline - loop.time()))
            if request_id is None or ctx.synchronous(index):
                continue
            if await self.wait_finished(ctx, request_id, deadline):
                finished.append(request_id)
        return finished

    async def wait_finished(self, ctx: RunContext, request_id: str, deadline: float) -> bool:
        """Poll the Change until `finished` (True) or it ended without applying / time ran out (False)."""

        async def probe() -> bool | None:
            result = await ctx.api.get_change(ctx.order_id, request_id)
            if result.ok and isinstance(result.body, Mapping):
                if result.body.get("finished") is True:
                    return True
                if result.body.get("status") in ("canceled", "canceling"):
                    return False
            return None

        return bool(await self.poll(deadline, probe))

    async def poll(self, deadline: float, probe: Callable[[], Awaitable[T | None]]) -> T | None:
        """Ask `probe` until it answers (anything but None) or the next try would pass `deadline` (None then).
        The interval starts at `poll_ms` and backs off by `backoff` up to `poll_max_ms`."""
        loop = asyncio.get_running_loop()
        interval = self.poll_ms / 1000.0
        while True:
            answer = await probe()
            if answer is not None:
                return answer
            if loop.time() + interval > deadline:
                return None
            await asyncio.sleep(interval)
            interval = min(interval * self.backoff, self.poll_max_ms / 1000.0)


class Robust(Workaround):
    """The workaround, made safe under faults.

    - It re-reads the order until it reflects every finished Change before invoicing.
    - Every call is bounded (`call_timeout_s`): an answer held longer is an unknown outcome, not a wait without end.
    - The invoice number is the order's own (`NF-<orderId>`): its idempotency key.
    - After an unknown outcome (a 5xx, a reset, a timeout) it never sends blindly: it reads the order and, if its
      invoice number is there, the invoice landed and it is done. Only when the order shows no such invoice does
      it send the same invoice again (same number, same `X-Request-ID`). Should that read lag behind the invoice,
      the service refuses the repeated number (`OMS-INVOICE-DUPLICATE`), which also means it landed. When the
      order cannot be read before `max_wait_s`, it stops without sending: an invoice it cannot account for is left
      to a person rather than risked twice.

    Args:
        retries: sends after the first (each preceded by a read that shows the invoice missing).
        call_timeout_s: bound of each invoice and order read.
        backoff_s: wait before a resend; doubled each time.
    """

    name = "robust"

    def __init__(self, *, retries: int = 5, call_timeout_s: float = 1.5, backoff_s: float = 0.05,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.retries = retries
        self.call_timeout_s = call_timeout_s
        self.backoff_s = backoff_s

    async def invoice(self, ctx: RunContext, step: Step) -> None:
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        applied = set(await self.await_changes(ctx, deadline))

        async def reflecting() -> ApiResult | None:
            read = await ctx.api.get_order(ctx.order_id, timeout_s=self.call_timeout_s)
            if read.ok and isinstance(read.body, Mapping):
                changes = (read.body.get("changesAttachment") or {}).get("changesData") or []
                if applied <= {c.get("requestId") for c in changes}:
                    return read
            return None

        read = await self.poll(deadline, reflecting)
        if read is None:
            return  # the order never showed the Change: invoicing now could over-invoice; leave it to a person
        number = ctx.invoice_number()
        for attempt in range(self.retries + 1):
            result = await invoice_order(ctx, read.body, number=number, value=_step_value(step),
                                         request_id=f"{number}-invoice", timeout_s=self.call_timeout_s)  # fmt: skip
            if result.outcome is not Outcome.INFO:
                return  # accepted, or refused (OMS-INVOICE-DUPLICATE on a resend: an earlier attempt landed)
            landed = await self.landed(ctx, number, deadline)
            if landed is not False:
                return  # there (True), or unknowable before the deadline (None): never send blind
            if attempt < self.retries:
                await asyncio.sleep(self.backoff_s * 2**attempt)

    async def landed(self, ctx: RunContext, number: str, deadline: float) -> bool | None:
        """Whether the order holds invoice `number`: read it (polling until a read succeeds). None: no read
        succeeded before `deadline`."""

        async def probe() -> bool | None:
            read = await ctx.api.get_order(ctx.order_id, timeout_s=self.call_timeout_s)
            if not read.ok or not isinstance(read.body, Mapping):
                return None
            packages = (read.body.get("packageAttachment") or {}).get("packages") or []
            return any(p.get("invoiceNumber") == number for p in packages)

        return await self.poll(deadline, probe)


async def _start_handling(ctx: RunContext) -> None:
    """A hook-driven run's t=0: the order moves to `handling`, and the platform fires the hook."""
    await ctx.control.move_status(ctx.order_id, "handling")


class _External:
    """What every external integration shares: racelab plays the platform, the process invoices by itself.

    Each order is seeded in `ready-for-handling` and, at the run's start (t = 0), moved to `handling`; the scenario's
    Change steps are sent by the harness at their offsets from that moment; `invoice` steps are the process's own
    business, so they do nothing here. The run ends once the process has invoiced the order (bounded), and the
    runner then waits for the simulator to be quiet before judging it.
    """

    seed_status = "ready-for-handling"
    external = True
    """Its requests come from outside the harness (virtual mode cannot run it)."""
    name: str

    def __init__(self, *, invoice_timeout_s: float = 15.0) -> None:
        self.invoice_timeout_s = invoice_timeout_s

    async def prepare(self, control: ControlApi) -> None:
        """Before any run: make sure the process can learn about orders. (The runner configures the hook of one
        that has a `url`; one that reads its feed checks here that it configured it.)"""

    async def start(self, ctx: RunContext) -> None:
        await _start_handling(ctx)

    async def invoice(self, ctx: RunContext, step: Step) -> None:
        return None

    async def change(self, ctx: RunContext, step: Step) -> None:
        await send_change(ctx, step)

    async def change_v1(self, ctx: RunContext, step: Step) -> None:
        await send_change_v1(ctx, step)

    async def settle(self, ctx: RunContext) -> None:
        """Wait (bounded) until the process has invoiced the order: its invoice is not in our history.

        Raises:
            TimeoutError: it never did. The run is then cut short and judged `unknown`, so a gate cannot pass on a
                service that is down, or pointed at another simulator, and never invoiced anything.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.invoice_timeout_s
        while loop.time() < deadline:
            status, order = await ctx.control.get_order(ctx.order_id)
            if status == 200 and (order.get("packageAttachment") or {}).get("packages"):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(
            f"{self.name} did not invoice order {ctx.order_id} within {self.invoice_timeout_s:g} s: is it running, and "
            "pointed at this simulator?"
        )


class ExternalIntegration(_External):
    """An integration running as its own process (any language), driven by order-status hooks: `external:<hook URL>`.

    Before the runs, the runner configures the simulator's order hook to `url` (status `handling`; the simulator
    pings it, and a process that does not answer stops the runs). The hook fired at t = 0 tells the process.
    """

    def __init__(self, url: str, *, invoice_timeout_s: float = 15.0) -> None:
        super().__init__(invoice_timeout_s=invoice_timeout_s)
        self.url = url
        self.name = f"external:{url}"


EXTERNAL_SOURCES = ("feed", "poll")
"""How an `ExternalService` finds its work: `external-feed:<name>`, `external-poll:<name>`."""


class ExternalService(_External):
    """An integration running as its own process that finds its work by itself: racelab configures no hook.

    - `external-feed:<name>`: the process configures its own feed (`POST /api/orders/feed/config`) and reads it
      (`GET /api/orders/feed`, committing what it handled). Before the runs, racelab waits (up to `ready_timeout_s`)
      until a feed is configured (`GET /api/orders/feed/config` answers 200): an order moved to `handling` before
      that would never reach the feed.
    - `external-poll:<name>`: the process polls the order list (`GET /api/oms/pvt/orders?f_status=handling`).

    `name` is only a label (the gate's key, the history's actor); the process is started by the user, pointed at the
    simulator. The simulator's feed and order list are shared: the scenario should list no other integration.
    """

    def __init__(
        self, source: str, label: str, *, invoice_timeout_s: float = 15.0, ready_timeout_s: float = 10.0
    ) -> None:
        if source not in EXTERNAL_SOURCES:
            raise InvalidScenario(f"external-{source}: expected one of {', '.join(EXTERNAL_SOURCES)}")
        super().__init__(invoice_timeout_s=invoice_timeout_s)
        self.source = source
        self.label = label
        self.name = f"external-{source}:{label}"
        self.ready_timeout_s = ready_timeout_s

    async def prepare(self, control: ControlApi) -> None:
        if self.source != "feed":
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_s
        while True:
            status, answer = await control.feed_config()
            if status == 200:
                return
            if loop.time() >= deadline:
                raise ConnectionError(
                    f"{self.name}: no feed is configured (GET /api/orders/feed/config: {status} {answer}) after "
                    f"{self.ready_timeout_s:g} s; start your service first, pointed at this simulator, and let it "
                    "configure its feed (POST /api/orders/feed/config)"
                )
            await asyncio.sleep(0.05)


class HookNaive:
    """Driven by the order-status hook, like most real middleware: when a hook says the order reached `handling`,
    read the order and invoice it. Naive about delivery: every hook is treated as a new event and gets a new invoice
    document, so a duplicate delivery (the platform delivers at least once) invoices the order twice."""

    name = "hook-naive"
    seed_status = "ready-for-handling"
    hook_driven = True

    async def start(self, ctx: RunContext) -> None:
        await _start_handling(ctx)

    async def on_hook(self, ctx: RunContext, payload: Mapping[str, Any]) -> None:
        if payload.get("State") != "handling":
            return
        ctx.hooks_seen += 1
        read = await ctx.api.get_order(ctx.order_id)
        if read.ok:
            await invoice_order(ctx, read.body, number=f"{ctx.invoice_number()}-{ctx.hooks_seen}")

    async def invoice(self, ctx: RunContext, step: Step) -> None:
        return None  # the hook triggers invoicing

    async def change(self, ctx: RunContext, step: Step) -> None:
        await send_change(ctx, step)


class HookDedupe(HookNaive):
    """Hook-driven and deduplicating: a hook already handled (same OrderId, State and LastChange) is ignored, and
    the invoice number is the order's own, so even a duplicate that slips through cannot invoice twice."""

    name = "hook-dedupe"

    async def on_hook(self, ctx: RunContext, payload: Mapping[str, Any]) -> None:
        key = (payload.get("OrderId"), payload.get("State"), payload.get("LastChange"))
        if payload.get("State") != "handling" or key in ctx.hooks_handled:
            return
        ctx.hooks_handled.add(key)
        read = await ctx.api.get_order(ctx.order_id)
        if read.ok:
            await invoice_order(ctx, read.body)


# -- Accounting steps: what the merchant's middleware does in the accounting service -------------------------------


def accounting_ref(spec: RunSpec) -> str | None:
    """The run's Accounting order reference (at most 16 characters, as the service allows), if it has one."""
    accounting = spec.order.get("accounting")
    if not accounting:
        return None
    given = accounting.get("orderReference")
    return str(given) if given else "R" + hashlib.sha1(spec.order_id.encode()).hexdigest()[:15]


def _accounting_path(spec: RunSpec) -> str:
    acc = spec.order["accounting"]
    return (f"/accounting/v1/businesses/{acc.get('businessCode', '1000')}/customers/{acc['customerNumber']}"
            f"/orders/{accounting_ref(spec)}")  # fmt: skip


async def _accounting_state(ctx: RunContext) -> Mapping[str, Any]:
    ref = accounting_ref(ctx.spec)
    if ref is None:
        raise ConnectionError(f"order {ctx.order_id} has no Accounting order (its scenario seeds none)")
    status, state = await ctx.control.accounting_order(ref)
    if status != 200:
        raise ConnectionError(f"cannot read Accounting order {ref}: {status} {state}")
    return dict(state)


async def _settle_accounting(ctx: RunContext) -> None:
    ref = accounting_ref(ctx.spec)
    assert ref is not None
    await ctx.control.quiesce(ref, timeout_s=30.0)


def _vat_per_unit(gross: Decimal, percent: Decimal) -> Decimal:
    return (gross - gross / (1 + percent / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def register_invoice(ctx: RunContext, step: Step) -> None:
    """`do: register-invoice`: register in Accounting what was invoiced in Orders: every position still open."""
    if accounting_ref(ctx.spec) is None:
        raise ValueError("`do: register-invoice` needs an `accounting:` block in the scenario's order")
    state = await _accounting_state(ctx)
    refs = [p["orderItemReference"] for p in state["positions"] if p["state"] == "open"]
    if not refs:
        return
    body = {"invoiceReference": f"{ctx.invoice_number()[:24]}-A", "invoiceDate": "2026-11-21",
            "dueDate": "2026-12-21", "dispatchDate": "2026-11-21", "shipmentReference": "S-1",
            "items": [{"orderItemReference": r} for r in refs]}  # fmt: skip
    await ctx.api.accounting_write("accounting.invoice", "POST", f"{_accounting_path(ctx.spec)}/invoices", body,
                                   request_id=f"{ctx.spec.order_id}-register")  # fmt: skip
    await _settle_accounting(ctx)


async def update_invoice(ctx: RunContext, step: Step) -> None:
    """`do: update-invoice`: correct the active Accounting invoice to what the Orders order says now (each sales
    position's quantity from the order's items, in order). With `raise: <cents>`, try to raise the first position's
    unit price instead (the service must refuse it: the gross may only go down)."""
    if accounting_ref(ctx.spec) is None:
        raise ValueError("`do: update-invoice` needs an `accounting:` block in the scenario's order")
    read = await ctx.api.get_order(ctx.order_id)
    state = await _accounting_state(ctx)
    active = [i for i in state["invoices"] if not i["nullified"]]
    if not read.ok or not active:
        return
    invoice = active[-1]
    items = (read.body or {}).get("items") or []
    raise_by = Decimal(int(step.args.get("raise", 0))) / 100
    sales = 0
    lines: list[dict[str, Any]] = []
    for line in invoice["items"]:
        position = next(p for p in state["positions"] if p["orderItemReference"] == line["orderItemReference"])
        quantity = Decimal(str(line["quantity"]))
        if position["positionType"] == "SALES_ARTICLE":
            if sales < len(items):
                quantity = Decimal(int(items[sales]["quantity"]))
            sales += 1
        gross = Decimal(str(line["grossUnitPrice"])) + (raise_by if not lines else 0)
        percent = Decimal(str(line["vatPercent"]))
        lines.append({"orderItemReference": line["orderItemReference"], "grossUnitPrice": float(gross),
                      "quantity": float(quantity), "vatAmount": float(_vat_per_unit(gross, percent)),
                      "vatPercent": float(percent), "vatType": line["vatType"],
                      "positionType": position["positionType"]})  # fmt: skip
    new_gross = sum(Decimal(str(ln["grossUnitPrice"])) * Decimal(str(ln["quantity"])) for ln in lines)
    if not raise_by and new_gross == Decimal(str(invoice["grossAmount"])):
        return  # Accounting already bills what Orders says
    n = len(state["invoices"])
    body = {
        "goodwillReference": f"GW-{accounting_ref(ctx.spec)}-{n}",
        "invoice": {"invoiceReference": f"{invoice['invoiceReference'][:24]}-u{n}", "invoiceDate": "2026-11-22",
                    "dueDate": "2026-12-22", "dispatchDate": "2026-11-21", "shipmentReference": "S-1",
                    "items": [{"orderItemReference": ln["orderItemReference"]} for ln in lines]},
        "order": {"orderReference": accounting_ref(ctx.spec), "currency": state.get("currency", "EUR"),
                  "orderChannel": state.get("orderChannel", "ECOM"), "orderDate": state.get("orderDate", "2026-11-21"),
                  "orderType": state.get("orderType", "PHYSICAL_GOODS"), "supplyingCountry": "DE", "items": lines},
    }  # fmt: skip
    path = f"{_accounting_path(ctx.spec)}/invoices/{invoice['invoiceReference']}"
    await ctx.api.accounting_write("accounting.update_invoice", "PUT", path, body)
    await _settle_accounting(ctx)


BUILTIN: dict[str, type[Any]] = {
    "naive": Naive,
    "naive-retry": NaiveRetry,
    "workaround": Workaround,
    "robust": Robust,
    "hook-naive": HookNaive,
    "hook-dedupe": HookDedupe,
}


def load_integration(name: str) -> Any:
    """A built-in by name, `external:<hook URL>`, `external-feed:<name>`, `external-poll:<name>`, or a user's class as
    `module:Class` (instantiated without arguments).

    Raises:
        InvalidScenario: unknown name, unimportable module, or a class without async `invoice` and `change`.
    """
    if name in BUILTIN:
        return BUILTIN[name]()
    if name.startswith("external:"):
        url = name.removeprefix("external:")
        if not url.startswith(("http://", "https://")):
            raise InvalidScenario(f"integration {name!r}: expected external:http://host:port/path")
        return ExternalIntegration(url)
    kind, sep, label = name.partition(":")
    if sep and kind.startswith("external-"):
        source = kind.removeprefix("external-")
        if source not in EXTERNAL_SOURCES or not label:
            raise InvalidScenario(f"integration {name!r}: expected external-feed:<name> or external-poll:<name>")
        return ExternalService(source, label)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidScenario(
            f"unknown integration {name!r}: use one of {', '.join(BUILTIN)}, external:<hook URL>, "
            "external-feed:<name>, external-poll:<name>, or module:Class"
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidScenario(f"integration {name!r}: cannot import it: {exc}") from None
    instance = cls()
    if not all(asyncio.iscoroutinefunction(getattr(instance, m, None)) for m in ("invoice", "change")):
        raise InvalidScenario(
            f"integration {name!r}: needs `async def invoice(ctx, step)` and `async def change(ctx, step)`"
        )
    if not getattr(instance, "name", None):
        instance.name = name
    return instance
