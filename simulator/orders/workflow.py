"""The order's status workflow: status moves as the platform makes them, and the invoiced-check (failure B).

Owns `OrderWorkflow` (a subclass of `.orders.state.OrdersState`): `set_status` (the control API's move),
`start_handling`, `cancel_order` (and its later move to `canceled`), and the workflow's invoiced-check that an
invoice or a Change's end schedules (`_schedule_check`).

Failure B — stuck in `payment-approved` with a valid invoice (DESIGN §1, §3.2), in `snapshot` consistency.
    An invoice's COMMIT moves the order to `invoice` ("Verifying invoice") and schedules the invoiced-check
    (`workflow.after_invoice` later), which carries the invoice it was triggered by. A Change reaching its end
    (applied, or refused by validation) re-triggers the check (`workflow.after_change` later), superseding any
    pending one: the order's check generation advances and the earlier check does nothing (it is woken at once
    and only journals `superseded`, so the order does not stay busy for the rest of its delay).
    The re-triggered check reads the invoice view as it was `workflow.invoice_view_lag` ago; if the invoice is
    younger than that, the check finds less than the order value, concludes "partial invoice" and moves the order
    to `payment-approved`. Nothing re-evaluates it: the order stays there with a valid invoice.

In `serializable` consistency every check holds the order's lock and reads the latest version, so it cannot happen.

Imports: stdlib, `simulator.engine`, `.config`, `.errors`, `.contract`, `.orders.model`, `.orders.state`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..config import WriteTiming
from ..contract.timing import Delay
from ..engine import Op
from ..errors import BadRequest, Conflict, RuleViolation
from .model import HAPPY_PATH, SETTLED, STATUSES, Order, Package
from .state import OrdersState

__all__ = ["OrderWorkflow"]

_CHECK_TIMING = WriteTiming()  # the workflow check locks like a write; its lag is its own (invoice_view_lag)


def _wake(waiting: asyncio.Future[None]) -> None:
    if not waiting.done():
        waiting.set_result(None)


class OrderWorkflow(OrdersState):
    """The status moves and the invoiced-check of the Orders service (`simulator.orders.service.OrdersService`)."""

    # -- status moves --------------------------------------------------------------------------------------
    async def set_status(self, order_id: str, status: str) -> Order:
        """Move an order to `status` (or along the happy path with status `next`), as the platform would."""
        order = self.latest(order_id)
        if status == "next":
            if order.status not in HAPPY_PATH or order.status == HAPPY_PATH[-1]:
                raise BadRequest(f"order {order_id} is {order.status}: no next status on the happy path")
            status = HAPPY_PATH[HAPPY_PATH.index(order.status) + 1]
        if status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)} or 'next'; got {status!r}")
        op = self.core.op("status", order_id, status)
        async with self.core.transaction(self.store, order_id, op, _CHECK_TIMING) as tx:
            await tx.read()
            state = await tx.commit(lambda o: o.with_status(status, self.core.iso()), status=status)
        self._emit(tx.previous, state)
        return state

    async def start_handling(self, order_id: str) -> Order:
        """`ready-for-handling` → `handling`; any other status answers 409 (the official document's StartHandling)."""
        return await self._transition(
            "start_handling",
            order_id,
            "handling",
            allowed=frozenset({"ready-for-handling"}),
            why="ready-for-handling",
            conflict=True,
        )

    async def cancel_order(self, order_id: str, reason: str | None) -> Order:
        """A seller's cancel: the order moves to `cancel` at once and to `canceled` after `workflow.after_cancel`
        (help center, order flow: "Cancellation requested"/`cancel` precedes `canceled`; hooks and the feed see
        both)."""

        def refuse(o: Order) -> str | None:
            if o.status in ("cancel", "canceled"):
                return f"Order {order_id} is already {'being ' if o.status == 'cancel' else ''}canceled"
            if o.status == "invoiced":
                return f"Order {order_id} is invoiced and cannot be canceled"
            if o.invoiced_value > 0:
                return f"Order {order_id} is partially invoiced and cannot be canceled; use a Change"
            return None

        state = await self._transition("cancel", order_id, "cancel", refuse=refuse, reason=reason)
        op = self.core.op("workflow", order_id, "cancel")
        self.core.work.spawn(order_id, self._finish_order_cancel(op), name=f"cancel {order_id}")
        return state

    async def _finish_order_cancel(self, op: Op) -> None:
        await op.delay("after_cancel", self.core.config.orders.workflow.after_cancel)
        order_id = op.key
        if order_id not in self.store:
            return
        async with self.core.transaction(self.store, order_id, op, _CHECK_TIMING) as tx:
            await tx.read()
            if self.latest(order_id).status != "cancel":
                op.record("decide", decision="none", reason=f"order is {self.latest(order_id).status}")
                return
            state = await tx.commit(lambda o: o.with_status("canceled", self.core.iso()), status="canceled")
        self._emit(tx.previous, state)

    async def _transition(
        self,
        name: str,
        order_id: str,
        target: str,
        *,
        allowed: frozenset[str] | None = None,
        why: str = "",
        refuse: Callable[[Order], str | None] | None = None,
        reason: str | None = None,
        conflict: bool = False,
    ) -> Order:
        cfg: WriteTiming = getattr(self.core.config.orders, name)
        op = self.core.op(name, order_id, name)
        self.core.work.enter(order_id)
        try:
            await op.delay("ingress", cfg.ingress)
            self.latest(order_id)
            await op.delay("queue", cfg.queue)
            async with self.core.transaction(self.store, order_id, op, cfg) as tx:
                snapshot = await tx.read()
                problem = refuse(snapshot) if refuse else None
                if allowed is not None and snapshot.status not in allowed:
                    problem = f"Order status should be {why} to perform this action (order is {snapshot.status})"
                if problem:
                    op.record("reject", version=snapshot.version, code="OMS003", message=problem)
                    raise (Conflict if conflict else RuleViolation)(problem, code="OMS003")
                await op.delay("process", cfg.process)
                state = await tx.commit(lambda o: o.with_status(target, self.core.iso()), reason=reason)
            self._emit(tx.previous, state)
            await op.delay("respond", cfg.respond)
            return state
        finally:
            self.core.work.leave(order_id)

    # -- the workflow's invoiced-check (failure B) ---------------------------------------------------------
    def _schedule_check(self, order_id: str, cause: str, by: str, *, carried: Package | None = None) -> None:
        generation = self._check_generation.get(order_id, 0) + 1
        self._check_generation[order_id] = generation
        if (superseded := self._check_waits.pop(order_id, None)) is not None:
            _wake(superseded)  # it can only record "superseded" now: let it, instead of holding the order busy
        op = self.core.op("workflow", order_id, f"check-{generation}")
        op.record("scheduled", cause=cause, by=by)
        self.core.work.spawn(order_id, self._check(op, generation, cause, carried), name=f"check {order_id}")

    async def _check_queue(self, op: Op, generation: int, delay: Delay) -> None:
        """Wait the check's delay, unless a newer check supersedes it first.

        A superseded check does nothing when its time comes, so waking it at once changes no outcome; it only
        stops the order from looking busy (`/_sim/quiesce`) for the rest of a delay that can last seconds.
        """
        ms = op.draw("queue", delay)
        if ms <= 0.0 or self._check_generation.get(op.key) != generation:
            return
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        self._check_waits[op.key] = wake
        timer = loop.call_later(ms / 1000.0, _wake, wake)
        try:
            await wake
        finally:
            timer.cancel()
            if self._check_waits.get(op.key) is wake:
                del self._check_waits[op.key]

    async def _check(self, op: Op, generation: int, cause: str, carried: Package | None) -> None:
        """Is the order fully invoiced? Reads the invoice view `invoice_view_lag` ago (module doc, failure B)."""
        wf = self.core.config.orders.workflow
        order_id = op.key
        await self._check_queue(op, generation, wf.after_invoice if cause == "invoice" else wf.after_change)
        if self._check_generation.get(order_id) != generation or order_id not in self.store:
            op.record("superseded", by=f"check-{self._check_generation.get(order_id)}")
            return
        async with self.core.transaction(self.store, order_id, op, _CHECK_TIMING) as tx:
            await op.checkpoint("before_read")
            history = self.store.history(order_id)
            latest = history.latest()
            lag_ms = 0.0 if tx.serial else op.draw("invoice_view_lag", wf.invoice_view_lag)
            view = history.lagging(self.core.now(), lag_ms)
            seen = sum(p.invoice_value for p in view.packages if p.type == "Output")
            if carried is not None and carried.type == "Output" and view.package(carried.invoice_number) is None:
                seen += carried.invoice_value  # the invoice that triggered the check, even if the view predates it
            op.record(
                "read",
                version=view.version,
                lag_ms=round(lag_ms, 3),
                latest=latest.version,
                invoiced_seen=seen,
                value=latest.value,
                cause=cause,
            )
            await op.checkpoint("after_read")
            if latest.status in SETTLED:
                op.record("decide", decision="none", reason=f"order is {latest.status}")
                return
            if seen > 0 and seen >= latest.value:
                target = "invoiced"
            elif seen > 0 or latest.status == "invoice":
                target = "payment-approved"  # "partial invoice": the order goes back and nothing re-evaluates it
            else:
                op.record("decide", decision="none", reason="nothing invoiced")
                return
            op.record("decide", decision=target, invoiced_seen=seen, value=latest.value)
            if target == latest.status:
                return
            state = await tx.commit(lambda o: o.with_status(target, self.core.iso()), status=target)
        self._emit(tx.previous, state)
