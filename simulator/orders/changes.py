"""Changes: the Change v2 pipeline (its worker, cancel, retry, preview) and the synchronous Change v1.

Owns `ChangePipeline` (a subclass of `.orders.workflow.OrderWorkflow`) and the Change lookups (`change_request`,
`change_document`, `change_context`, the profile's `catalog`).

Failure A — over-invoice (write skew), the Change's side (DESIGN §1, §3.2), in `snapshot` consistency.
    The Change's worker READs its own snapshot, which lags by the Change's `read_lag`; if that snapshot predates
    an invoice's COMMIT (`.orders.invoices`) it sees nothing invoiced, so CHK0034 ("the change exceeds what is
    invoiced") passes, and the Change COMMITs the lower total. Each check was right about the version it read;
    together they leave `invoiced > value`. Change v1 reads with the same lag (`orders.change_v1.read_lag`). A
    Change reaching its end (applied, or refused by validation) re-triggers the invoiced-check (`.orders.workflow`,
    failure B).

Imports: stdlib, `simulator.engine`, `.errors`, `.orders.model`, `.orders.change_documents`, `.orders.workflow`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..engine import Op
from ..errors import NotFound, RuleViolation, http_status
from .change_documents import ChangeContext, change_document
from .model import (
    AppliedChange,
    ChangeInput,
    ChangePlan,
    ChangeRequest,
    ChangeStatus,
    ChangeV1Input,
    Item,
    Order,
    apply_plan,
    check_change_request,
    check_change_v1_request,
    plan_change,
    plan_change_v1,
)
from .workflow import OrderWorkflow

__all__ = ["ChangePipeline"]


class _Canceled(Exception):
    """The Change was canceled by the user before its COMMIT."""


class ChangePipeline(OrderWorkflow):
    """The Change routes of the Orders service (`simulator.orders.service.OrdersService`)."""

    # -- lookups -------------------------------------------------------------------------------------------
    def change_request(self, order_id: str, request_id: str) -> ChangeRequest:
        self.latest(order_id)
        change = self.changes.get(order_id, {}).get(request_id)
        if change is None:
            raise NotFound(f"Change order request {request_id} not found.", code="CHK0289")
        return change

    def change_document(self, request: ChangeRequest) -> dict[str, Any]:
        """A Change as the platform answers it (`simulator.orders.change_documents.change_document`)."""
        return change_document(request, self.change_context(request.order_id))

    def change_context(self, order_id: str) -> ChangeContext:
        payment = self.change_settings["paymentConfiguration"].get("customPaymentSystemsAllowed") or []
        return ChangeContext(self.store.get(order_id), self.catalog(), payment)

    def catalog(self) -> dict[str, Item]:
        """The profile's catalog (`orders.catalog`) as order lines, built once per configuration."""
        config = self.core.config
        if self._catalog[0] is not config:
            entries = config.orders.catalog
            lines = {
                sku: Item(
                    id=sku,
                    unique_id="",
                    name=e.name or sku,
                    price=e.price,
                    quantity=0,
                    list_price=e.price,
                    unit_multiplier=e.unit_multiplier,
                    measurement_unit=e.measurement_unit,
                )
                for sku, e in entries.items()
            }
            self._catalog = (config, lines)
        return self._catalog[1]

    # -- Change v2 -----------------------------------------------------------------------------------------
    async def create_change(self, order_id: str, change: ChangeInput) -> dict[str, Any]:
        """PATCH .../changes: validate synchronously against the latest version (all but CHK0034), answer 202 with
        the change object, and leave the rest to the worker. Returns the change object as answered."""
        cfg = self.core.config.orders.change
        request_id = self.core.new_id(order_id, "change")
        op = self.core.op("change", order_id, request_id)
        self.core.work.enter(order_id)
        try:
            op.record("arrive", reason=change.reason)
            await op.delay("ingress", cfg.ingress)
            await op.checkpoint("received")
            check_change_request(change)  # the request's own mistakes: 400 at once
            latest = self.latest(order_id)
            try:  # the order's rules are the worker's: a Change they refuse is canceled, not answered 400
                plan: ChangePlan | None = plan_change(latest, change, check_invoices=False, catalog=self.catalog())
            except RuleViolation:
                plan = None
            now = self.core.iso()
            request = ChangeRequest(
                request_id=request_id,
                workflow_id=self.core.new_id(order_id, "workflow"),
                order_id=order_id,
                account=self.core.config.orders.account,
                change=change,
                date=now,
                total_change_value=plan.total_change_value if plan else 0,
                totals=plan.totals(change) if plan else [],
            )
            request.log(now, "Change request received")
            self.changes.setdefault(order_id, {})[request_id] = request
            answer = self.change_document(request)
            if cfg.mode == "async":
                self.core.work.spawn(order_id, self._run_change(op, request), name=f"change {request_id}")
            else:
                await self._run_change(op, request)
                answer = self.change_document(request)
            await op.delay("respond", cfg.respond)
            await op.checkpoint("before_respond")
            op.record("respond", status=202)
            return answer
        except Exception as exc:
            op.record("respond", status=http_status(exc), error=str(exc))
            raise
        finally:
            self.core.work.leave(order_id)

    async def _run_change(self, op: Op, request: ChangeRequest) -> None:
        """The Change worker: [queue] → READ → validate → [process] → COMMIT, retried on system failures."""
        orders_cfg = self.core.config.orders
        cfg = orders_cfg.change
        order_id = op.key
        while True:
            request.attempts += 1
            request.in_progress = True
            await op.delay("queue", cfg.queue)
            async with self.core.transaction(self.store, order_id, op, cfg) as tx:
                snapshot = await tx.read()
                if request.status in (ChangeStatus.CANCELING, ChangeStatus.CANCELED):
                    self._finish_cancel(op, request)
                    return
                try:
                    plan = plan_change(snapshot, request.change, check_invoices=True, catalog=self.catalog())
                except RuleViolation as exc:
                    self._refuse_change(op, request, exc, snapshot.version)
                    return
                request.status = ChangeStatus.WAITING_CONFIRMATION
                request.log(self.core.iso(), "Change validated")
                await op.delay("process", cfg.process)
                failure = orders_cfg.change_failure_rate
                if failure and self.core.rng.get(order_id, "change", "failure").random() < failure:
                    request.in_progress = False
                    request.status = ChangeStatus.PREPARING
                    request.log(self.core.iso(), f"System failure on attempt {request.attempts}")
                    op.record("failure", attempt=request.attempts)
                    if request.attempts >= orders_cfg.change_max_attempts:
                        return  # unfinished: waits for POST .../retry
                    continue

                def not_canceled(_: Order) -> None:
                    if request.status in (ChangeStatus.CANCELING, ChangeStatus.CANCELED):
                        raise _Canceled(request.request_id)

                at = self.core.iso()
                receipt = self.core.new_id(order_id, "change_receipt")

                def apply(o: Order, plan: ChangePlan = plan, at: str = at, receipt: str = receipt) -> Order:
                    applied = AppliedChange.of(
                        o, plan, request_id=request.request_id, reason=request.change.reason, receipt=receipt, date=at
                    )
                    return apply_plan(o, plan, applied)

                try:
                    state = await tx.commit(
                        apply,
                        precheck=not_canceled,
                        total_change_value=plan.total_change_value,
                        value=plan.new_value,
                    )
                except _Canceled:
                    self._finish_cancel(op, request)
                    return
            request.status = ChangeStatus.DONE
            request.in_progress = False
            request.finished = True
            request.applied_version = state.version
            request.total_change_value = plan.total_change_value
            request.totals = plan.totals(request.change)
            request.log(at, "Change applied")
            op.record("finished", version=state.version, value=state.value)
            self._emit(tx.previous, state)
            self._schedule_check(order_id, "change", request.request_id)
            return

    def _refuse_change(self, op: Op, request: ChangeRequest, exc: RuleViolation, version: int) -> None:
        """Failed validation cancels the Change without retry; its end still re-triggers the invoiced-check."""
        at = self.core.iso()
        request.status = ChangeStatus.CANCELED
        request.in_progress = False
        request.finished = False
        request.total_change_value = 0  # help center: a Change canceled by a rule shows no value and no totals
        request.totals = []
        request.cancellation = {"requestedByUser": False, "reason": exc.documented, "cancellationDate": at}
        request.log(at, f"{exc.code}: {exc.message}")
        op.record("reject", version=version, code=exc.code, message=exc.message)
        self._schedule_check(op.key, "change", request.request_id)

    def _finish_cancel(self, op: Op, request: ChangeRequest) -> None:
        at = self.core.iso()
        request.status = ChangeStatus.CANCELED
        request.in_progress = False
        request.finished = False
        request.log(at, "Change canceled")
        op.record("canceled")

    async def preview_change(self, order_id: str, change: ChangeInput) -> dict[str, Any]:
        """A dry run against the latest version, every rule included."""
        order = await self.read(order_id, "change_preview")
        plan = plan_change(order, change, check_invoices=True, catalog=self.catalog())
        preview = ChangeRequest(
            request_id="preview",
            workflow_id="preview",
            order_id=order_id,
            account=self.core.config.orders.account,
            change=change,
            date=self.core.iso(),
            status=ChangeStatus.PREPARING,
            in_progress=False,
            total_change_value=plan.total_change_value,
            totals=plan.totals(change),
        )
        out = self.change_document(preview)
        out["preview"] = {"currentValue": order.value, "newValue": plan.new_value}
        return out

    async def cancel_change(self, order_id: str, request_id: str, reason: str) -> dict[str, Any]:
        request = self.change_request(order_id, request_id)
        if request.finished:
            raise RuleViolation(f"Change {request_id} is finished and cannot be canceled", code="CHK0124")
        if request.status in (ChangeStatus.CANCELING, ChangeStatus.CANCELED):
            raise RuleViolation(f"Change {request_id} is already {request.status.value}", code="CHK0124")
        at = self.core.iso()
        request.cancellation = {"requestedByUser": True, "reason": reason, "cancellationDate": at}
        op = self.core.op("change", order_id, request_id)
        if request.in_progress:
            request.status = ChangeStatus.CANCELING  # the worker sees it at READ or COMMIT and stops
            request.log(at, "Cancellation requested")
            op.record("cancel_requested")
        else:
            self._finish_cancel(op, request)
        return self.change_document(request)

    async def retry_change(self, order_id: str, request_id: str) -> None:
        request = self.change_request(order_id, request_id)
        if request.finished or request.in_progress or request.status is ChangeStatus.CANCELED:
            state = "finished" if request.finished else "in progress" if request.in_progress else "canceled"
            raise RuleViolation(
                f"Cannot Retry Change. Only an unfinished, stopped change can be retried; {request_id} is {state}",
                code="SalesOrderSystem016",
            )
        request.attempts = 0
        request.log(self.core.iso(), "Retry requested")
        op = self.core.op("change", order_id, request_id)
        op.record("retry")
        self.core.work.spawn(order_id, self._run_change(op, request), name=f"change retry {request_id}")

    # -- Change v1 -----------------------------------------------------------------------------------------
    async def change_v1(self, order_id: str, change: ChangeV1Input) -> str:
        """Change v1, `POST /api/oms/pvt/orders/{orderId}/changes`: synchronous [queue] → READ → rules → [process] →
        COMMIT. Its READ lags like the v2 worker's (`orders.change_v1.read_lag`), so it races an invoice the same way
        (failure A). Only the first request of a `requestId` is applied; a repeat answers its receipt again.

        Returns:
            The receipt.
        """
        cfg = self.core.config.orders.change_v1
        op = self.core.op("change_v1", order_id, change.request_id)
        self.core.work.enter(order_id)
        try:
            op.record("arrive", reason=change.reason, request_id=change.request_id)
            await op.delay("ingress", cfg.ingress)
            await op.checkpoint("received")
            check_change_v1_request(change)
            self.latest(order_id)
            seen = self.changes_v1.setdefault(order_id, {})
            if (first := seen.get(change.request_id)) is not None:
                receipt = await asyncio.shield(first)  # a repeat, perhaps of one still in flight: its receipt
                op.record("repeat", receipt=receipt)
            else:
                # Reserved before the first await, so that a concurrent repeat (a resend after a timeout) waits for
                # this one instead of applying the Change again; a refused Change frees its requestId.
                applying = asyncio.get_running_loop().create_future()
                seen[change.request_id] = applying
                try:
                    receipt = await self._apply_change_v1(op, change)
                except BaseException as exc:
                    if seen.get(change.request_id) is applying:
                        del seen[change.request_id]
                    if isinstance(exc, Exception):
                        applying.set_exception(exc)
                        applying.exception()  # retrieved: a refusal nobody repeated is not an unretrieved error
                    else:
                        applying.cancel()
                    raise
                applying.set_result(receipt)
            await op.delay("respond", cfg.respond)
            await op.checkpoint("before_respond")
            op.record("respond", status=200, receipt=receipt)
            return receipt
        except Exception as exc:
            op.record("respond", status=http_status(exc), error=str(exc))
            raise
        finally:
            self.core.work.leave(order_id)

    async def _apply_change_v1(self, op: Op, change: ChangeV1Input) -> str:
        cfg = self.core.config.orders.change_v1
        order_id = op.key
        await op.delay("queue", cfg.queue)
        async with self.core.transaction(self.store, order_id, op, cfg) as tx:
            snapshot = await tx.read()
            try:
                plan = plan_change_v1(snapshot, change, check_invoices=True)
            except (RuleViolation, NotFound) as exc:
                op.record("reject", version=snapshot.version, code=exc.code, message=exc.message)
                raise
            await op.delay("process", cfg.process)
            at = self.core.iso()
            receipt = self.core.new_id(order_id, "change_v1")
            applied = AppliedChange.of(
                snapshot,
                plan,
                request_id=change.request_id,
                reason=change.reason,
                receipt=receipt,
                date=at,
                discount_value=change.discount_value,
                increment_value=change.increment_value,
            )

            def apply(o: Order) -> Order:
                return apply_plan(o, plan, applied)

            state = await tx.commit(apply, total_change_value=plan.total_change_value, value=plan.new_value)
        op.record("finished", version=state.version, value=state.value)
        self._emit(tx.previous, state)
        self._schedule_check(order_id, "change", change.request_id)
        return receipt
