"""The built-in integrations: the merchant middleware that invoices orders and sends Changes, as flows.

Owns `naive`, `naive-retry`, `workaround`, `robust` (driven by the scenario's steps) and `hook-naive`, `hook-dedupe`
(driven by the order hook, as most real middleware is). Each is written once; the async runner, virtual mode and the
blocking driver of the load profiles all drive these same flows.

Under injected faults (docs/faults.md) `naive-retry` retries blindly with a new invoice document and can invoice an
order twice; `robust` treats an unknown outcome as unknown: it reads the order to see whether its invoice (its own
invoice number, the idempotency key) landed before it sends anything again.

Imports: stdlib, `harness.integrations` (flow, contract, api, bodies), `harness.model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from harness.integrations import api
from harness.integrations.bodies import invoice_items
from harness.integrations.contract import Integration
from harness.integrations.control import move_status
from harness.integrations.flow import Answer, AwaitChange, Flow, Run, Sleep, Waive
from harness.model.records import Outcome, Step

__all__ = [
    "HookDedupe",
    "HookNaive",
    "Naive",
    "NaiveRetry",
    "Robust",
    "Workaround",
    "invoice_order",
    "start_handling",
]

T = TypeVar("T")


def invoice_order(
    run: Run,
    order: Mapping[str, Any],
    *,
    number: str | None = None,
    value: int | None = None,
    request_id: str | None = None,
    timeout_s: float | None = None,
) -> Flow[Answer]:
    """Invoice the order as read: its value (unless `value` says otherwise) and its remaining lines."""
    answer: Answer = yield api.invoice(
        run.order_id,
        number=number or run.invoice_number(),
        value=int(order["value"] if value is None else value),
        items=invoice_items(order),
        request_id=request_id,
        timeout_s=timeout_s,
    )
    return answer


def start_handling(run: Run) -> Flow[None]:
    """A hook-driven run's t = 0: the order moves to `handling`, and the platform fires the hook."""
    yield move_status(run.order_id, "handling")


def _step_value(step: Step) -> int | None:
    return int(step.args["value"]) if "value" in step.args else None


class Naive(Integration):
    """On the trigger, read the order and invoice its value; send Changes the moment they are due."""

    name = "naive"
    requests_per_step = 1.5
    """For the runner's pacing: an invoice step is a read and a write, a Change step one write."""

    def invoice(self, run: Run, step: Step) -> Flow[None]:
        read: Answer = yield api.get_order(run.order_id)
        if read.ok:
            yield from invoice_order(run, read.body, value=_step_value(step))


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

    def invoice(self, run: Run, step: Step) -> Flow[None]:
        for attempt in range(1, self.retries + 2):
            read: Answer = yield api.get_order(run.order_id, timeout_s=self.call_timeout_s)
            if read.ok:
                result = yield from invoice_order(
                    run,
                    read.body,
                    number=f"{run.invoice_number()}-{attempt}",
                    value=_step_value(step),
                    timeout_s=self.call_timeout_s,
                )
                if result.outcome is not Outcome.INFO:
                    return  # accepted, or refused (a 4xx): done either way
            elif read.status is not None and read.status < 500:
                return  # the order cannot be read (a 4xx): nothing to invoice
            if attempt <= self.retries:
                yield Sleep(self.backoff_s * attempt)


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

    def __init__(
        self, *, max_wait_s: float = 15.0, poll_ms: float = 25.0, poll_max_ms: float = 400.0, backoff: float = 1.5
    ) -> None:
        self.max_wait_s = max_wait_s
        self.poll_ms = poll_ms
        self.poll_max_ms = poll_max_ms
        self.backoff = backoff

    def invoice(self, run: Run, step: Step) -> Flow[None]:
        yield from self.await_changes(run, run.now() + self.max_wait_s)
        read: Answer = yield api.get_order(run.order_id)
        if read.ok:
            yield from invoice_order(run, read.body, value=_step_value(step))

    def await_changes(self, run: Run, deadline: float) -> Flow[list[str]]:
        """Wait for each Change this integration sends for the order: sent, then finished (or ended unapplied).
        Returns the `requestId`s of the Changes v2 that finished. The wait is the integration's own cost, not the
        driver's lateness.

        A Change v1 is synchronous: its 200 answer comes once it was applied, so waiting for its answer is the whole
        workaround (there is no `finished` to poll; the Changes v2 routes do not know its `requestId`)."""
        yield Waive()
        finished = []
        for index in run.planned_changes:
            request_id = yield AwaitChange(index, max(0.0, deadline - run.now()))
            if request_id is None or run.synchronous(index):
                continue
            if (yield from self.wait_finished(run, request_id, deadline)):
                finished.append(request_id)
        return finished

    def wait_finished(self, run: Run, request_id: str, deadline: float) -> Flow[bool]:
        """Poll the Change until `finished` (True) or it ended without applying / time ran out (False)."""

        def probe() -> Flow[bool | None]:
            result: Answer = yield api.get_change(run.order_id, request_id)
            if result.ok and isinstance(result.body, Mapping):
                if result.body.get("finished") is True:
                    return True
                if result.body.get("status") in ("canceled", "canceling"):
                    return False
            return None

        return bool((yield from self.poll(run, deadline, probe)))

    def poll(self, run: Run, deadline: float, probe: Callable[[], Flow[T | None]]) -> Flow[T | None]:
        """Ask `probe` until it answers (anything but None) or the next try would pass `deadline` (None then).
        The interval starts at `poll_ms` and backs off by `backoff` up to `poll_max_ms`."""
        interval = self.poll_ms / 1000.0
        while True:
            answer = yield from probe()
            if answer is not None:
                return answer
            if run.now() + interval > deadline:
                return None
            yield Sleep(interval)
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

    def __init__(
        self, *, retries: int = 5, call_timeout_s: float = 1.5, backoff_s: float = 0.05, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.retries = retries
        self.call_timeout_s = call_timeout_s
        self.backoff_s = backoff_s

    def invoice(self, run: Run, step: Step) -> Flow[None]:
        deadline = run.now() + self.max_wait_s
        applied = set((yield from self.await_changes(run, deadline)))

        def reflecting() -> Flow[Answer | None]:
            read: Answer = yield api.get_order(run.order_id, timeout_s=self.call_timeout_s)
            if read.ok and isinstance(read.body, Mapping):
                changes = (read.body.get("changesAttachment") or {}).get("changesData") or []
                if applied <= {c.get("requestId") for c in changes}:
                    return read
            return None

        read = yield from self.poll(run, deadline, reflecting)
        if read is None:
            return  # the order never showed the Change: invoicing now could over-invoice; leave it to a person
        number = run.invoice_number()
        for attempt in range(self.retries + 1):
            result = yield from invoice_order(
                run,
                read.body,
                number=number,
                value=_step_value(step),
                request_id=f"{number}-invoice",
                timeout_s=self.call_timeout_s,
            )
            if result.outcome is not Outcome.INFO:
                return  # accepted, or refused (OMS-INVOICE-DUPLICATE on a resend: an earlier attempt landed)
            landed = yield from self.landed(run, number, deadline)
            if landed is not False:
                return  # there (True), or unknowable before the deadline (None): never send blind
            if attempt < self.retries:
                yield Sleep(self.backoff_s * 2**attempt)

    def landed(self, run: Run, number: str, deadline: float) -> Flow[bool | None]:
        """Whether the order holds invoice `number`: read it (polling until a read succeeds). None: no read
        succeeded before `deadline`."""

        def probe() -> Flow[bool | None]:
            read: Answer = yield api.get_order(run.order_id, timeout_s=self.call_timeout_s)
            if not read.ok or not isinstance(read.body, Mapping):
                return None
            packages = (read.body.get("packageAttachment") or {}).get("packages") or []
            return any(p.get("invoiceNumber") == number for p in packages)

        return (yield from self.poll(run, deadline, probe))


class HookNaive(Integration):
    """Driven by the order-status hook, like most real middleware: when a hook says the order reached `handling`,
    read the order and invoice it. Naive about delivery: every hook is treated as a new event and gets a new invoice
    document, so a duplicate delivery (the platform delivers at least once) invoices the order twice."""

    name = "hook-naive"
    seed_status = "ready-for-handling"
    hook_driven = True

    def start(self, run: Run) -> Flow[None]:
        return start_handling(run)

    def on_hook(self, run: Run, payload: Mapping[str, Any]) -> Flow[None]:
        if payload.get("State") != "handling":
            return
        run.hooks_seen += 1
        read: Answer = yield api.get_order(run.order_id)
        if read.ok:
            yield from invoice_order(run, read.body, number=f"{run.invoice_number()}-{run.hooks_seen}")


class HookDedupe(HookNaive):
    """Hook-driven and deduplicating: a hook already handled (same OrderId, State and LastChange) is ignored, and
    the invoice number is the order's own, so even a duplicate that slips through cannot invoice twice."""

    name = "hook-dedupe"

    def on_hook(self, run: Run, payload: Mapping[str, Any]) -> Flow[None]:
        key = (payload.get("OrderId"), payload.get("State"), payload.get("LastChange"))
        if payload.get("State") != "handling" or key in run.hooks_handled:
            return
        run.hooks_handled.add(key)
        read: Answer = yield api.get_order(run.order_id)
        if read.ok:
            yield from invoice_order(run, read.body)
