"""The Orders (OMS) service: every operation as a pipeline of timed phases, the status workflow.

Owns `OrdersService`. Each public coroutine is one API operation; the HTTP layer validates the request body, calls
it, and renders what it returns.

How the two failures arise (DESIGN §1, §3.2), in `snapshot` consistency:

Failure A — over-invoice (write skew).
    The invoice READs the order (its `read_lag` ago), checks `invoiceValue <= value - invoiced`, and COMMITs a
    package. The Change's worker READs its own snapshot, which lags by the Change's `read_lag`; if that snapshot
    predates the invoice's COMMIT it sees nothing invoiced, so CHK0034 ("the change exceeds what is invoiced")
    passes, and the Change COMMITs the lower total. Each check was right about the version it read; together
    they leave `invoiced > value`. The larger the offset between the two, the larger the lag needed: the rate
    falls as the offset grows.

Failure B — stuck in `payment-approved` with a valid invoice.
    An invoice's COMMIT moves the order to `invoice` ("Verifying invoice") and schedules the invoiced-check
    (`workflow.after_invoice` later), which carries the invoice it was triggered by. A Change reaching its end
    (applied, or refused by validation) re-triggers the check (`workflow.after_change` later), superseding any
    pending one: the order's check generation advances and the earlier check does nothing (it is woken at once
    and only journals `superseded`, so the order does not stay busy for the rest of its delay).
    The re-triggered check reads the invoice view as it was `workflow.invoice_view_lag` ago; if the invoice is
    younger than that, the check finds less than the order value, concludes "partial invoice" and moves the order
    to `payment-approved`. Nothing re-evaluates it: the order stays there with a valid invoice.

In `serializable` consistency every READ→COMMIT (and every check) holds the order's lock and reads the latest
version, so neither can happen.

Hooks and the feed live in `.orders.events` (`OrderEvents`); every committed version is handed to it by `_emit`.

Imports: stdlib, `simulator.engine`, `.config`, `.errors`, `.timing`, `.orders.model`, `.orders.documents`,
`.orders.events`. No aiohttp: hook
delivery goes through the `HookSender` the HTTP layer provides.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..config import WriteTiming
from ..engine import Core, Op, Tx, VersionedStore
from ..errors import BadRequest, Conflict, NotFound, RuleViolation, http_status
from ..timing import Delay
from .documents import ChangeContext, change_document, check_item_overrides
from .events import HookSender, OrderEvents
from .model import (
    EMPTY_PROFILE,
    FINAL,
    HAPPY_PATH,
    SETTLED,
    STATUSES,
    AppliedChange,
    ChangeInput,
    ChangePlan,
    ChangeRequest,
    ChangeStatus,
    ChangeV1Input,
    InvoiceInput,
    Item,
    Order,
    OrderProfile,
    Package,
    apply_plan,
    check_change_request,
    check_change_v1_request,
    check_invoice,
    plan_change,
    plan_change_v1,
    resolve_invoice_items,
)

__all__ = ["HookSender", "OrdersService", "SeedItem"]  # HookSender: re-exported for the accounting service


def default_change_settings() -> dict[str, dict[str, Any]]:
    """Order modifications settings as a new account has them (the official document's GET example's shape)."""
    return {
        "paymentConfiguration": {"customPaymentSystemsAllowed": []},
        "rolloutConfiguration": {"usingDefaultBehavior": False, "enableApi": True,
                                 "enableAdminOrders": {"enabledWorkspaces": ["*"]},
                                 "enableMyOrders": {"enabledWorkspaces": []}},
        "pipelineConfiguration": {"enableTaxHubRecalculation": False, "compensateShippingChanges": False,
                                  "enablePromotionRecalculation": False, "enableNativeTaxRecalculation": False},
    }  # fmt: skip


_CHECK_TIMING = WriteTiming()  # the workflow check locks like a write; its lag is its own (invoice_view_lag)
_SENT_FIELDS = tuple(f.name for f in fields(InvoiceInput))
"""What a stored package keeps of the notification as sent (computed once: this is on the request path)."""


def _wake(waiting: asyncio.Future[None]) -> None:
    if not waiting.done():
        waiting.set_result(None)


@dataclass(frozen=True, slots=True)
class SeedItem:
    """An item of `seed_order`; the optional catalog facts are `Item`'s (None: the document's default)."""

    id: str
    price: int
    quantity: int
    name: str | None = None
    list_price: int | None = None
    product_id: str | None = None
    ref_id: str | None = None
    ean: str | None = None
    seller_sku: str | None = None
    seller: str | None = None
    image_url: str | None = None
    detail_url: str | None = None
    weight: float | None = None
    tax: int = 0
    unit_multiplier: float = 1.0
    measurement_unit: str = "un"
    extra: Mapping[str, Any] | None = None


async def _renew_receipt(tx: Tx[Order], existing: Package, receipt: str) -> Package:
    """An OMS-form invoice sent again: only its receipt changes (official InvoiceNotification: "a new receipt code is
    generated, and it overrides the previous one"). Committed in `tx`; returns the renewed package."""
    renewed = replace(existing, receipt=receipt)

    def renew(o: Order) -> Order:
        return o.evolve(
            packages=tuple(renewed if p.invoice_number == renewed.invoice_number else p for p in o.packages)
        )

    await tx.commit(renew, repeat=existing.invoice_number)
    return renewed


_SEED_DETAILS = tuple(
    f.name for f in fields(SeedItem) if f.name not in ("id", "price", "quantity", "name", "list_price")
)
"""What a seeded item passes to its order line as it is (the catalog fields: `SeedItem` names them as `Item` does)."""


class _Duplicate(Exception):
    """The invoice number is already stored (judged at COMMIT, like a unique index)."""

    def __init__(self, existing: Package) -> None:
        super().__init__(f"invoice number {existing.invoice_number!r} already exists")
        self.existing = existing


class _Canceled(Exception):
    """The Change was canceled by the user before its COMMIT."""


class OrdersService:
    """The mock Orders service over a `Core`.

    orders = OrdersService(core, sender)
    order = await orders.seed_order(items=[SeedItem("sku-1", 4990, 2)], shipping=1000, status="handling")
    package = await orders.invoice(order.order_id, invoice_input)
    """

    def __init__(self, core: Core, sender: HookSender) -> None:
        self.core = core
        self.sender = sender
        self.store: VersionedStore[Order] = VersionedStore()
        core.stores.append(self.store)
        self.changes: dict[str, dict[str, ChangeRequest]] = {}
        self.events = OrderEvents(core, sender)
        """The order hook and the feed (`simulator.orders.events`)."""
        self._check_generation: dict[str, int] = {}
        self._check_waits: dict[str, asyncio.Future[None]] = {}
        """The pending check's wait per order, so that a newer check can wake it (see `_check_queue`)."""
        self._order_numbers = itertools.count(1)
        self._catalog: tuple[object, dict[str, Item]] = (None, {})
        self.change_settings: dict[str, dict[str, Any]] = default_change_settings()
        """`GET/PUT /api/order-system/orders/changes/settings`: kept and answered; no setting changes behaviour."""
        self.changes_v1: dict[str, dict[str, asyncio.Future[str]]] = {}
        """Order id → Change v1 `requestId` → its receipt, once applied (only the first of a requestId counts)."""
        self.rendered: dict[str, tuple[Order, bytes]] = {}
        """The HTTP layer's cache of the last rendered document per order (by version identity)."""
        self.documents: dict[str, tuple[Order, dict[str, Any]]] = {}
        """In-process readers' cache of the last order document per order (by version identity): never changed."""

    # -- lookups -------------------------------------------------------------------------------------------
    def latest(self, order_id: str) -> Order:
        order = self.store.get(order_id)
        if order is None:
            raise NotFound(f"Order Not Found: {order_id}", code="OMS007")
        return order

    def change_request(self, order_id: str, request_id: str) -> ChangeRequest:
        self.latest(order_id)
        change = self.changes.get(order_id, {}).get(request_id)
        if change is None:
            raise NotFound(f"Change order request {request_id} not found.", code="CHK0289")
        return change

    def change_document(self, request: ChangeRequest) -> dict[str, Any]:
        """A Change as the platform answers it (`simulator.orders.documents.change_document`)."""
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

    # -- seeding and control (not part of the modelled API) ------------------------------------------------
    async def seed_order(
        self,
        *,
        items: list[SeedItem],
        shipping: int = 0,
        discounts: int = 0,
        tax: int = 0,
        status: str = "handling",
        order_id: str | None = None,
        profile: OrderProfile = EMPTY_PROFILE,
    ) -> Order:
        """Create an order straight in `status` (no hook fires).

        Args:
            items: its lines, in order (their index is the invoices' `itemIndex`).
            shipping: `Shipping` total, cents.
            discounts: `Discounts` total, negative cents.
            tax: `Tax` total, cents.
            status: where it starts.
            order_id: its id; None: the next `SIM…-01`.
            profile: the document's seed-time parts (`simulator.orders.documents.order_profile`).

        Raises:
            BadRequest: an unknown status, no items, repeated item ids, an existing id, or a total that is not
                positive.
        """
        if status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        if not items:
            raise BadRequest("an order needs at least one item")
        if len({i.id for i in items}) != len(items):
            raise RuleViolation("item ids must be unique within an order", code="SIM-SEED-INVALID")
        if order_id is None:
            order_id = f"SIM{next(self._order_numbers):08d}-01"
            while order_id in self.store:
                order_id = f"SIM{next(self._order_numbers):08d}-01"
        elif order_id in self.store:
            raise BadRequest(f"order {order_id} already exists", code="OMS-ORDER-EXISTS")
        now = self.core.iso()
        lines = tuple(
            Item(
                id=i.id,
                unique_id=f"{i.id}-{n}",
                name=i.name or i.id,
                price=i.price,
                quantity=i.quantity,
                list_price=i.list_price if i.list_price is not None else i.price,
                **{name: getattr(i, name) for name in _SEED_DETAILS},
            )
            for n, i in enumerate(items)
        )
        for n, line in enumerate(lines):
            if line.extra:
                try:
                    check_item_overrides(line)
                except ValueError as exc:
                    raise BadRequest(f"items[{n}]: {exc}") from None
        order = Order(
            order_id=order_id,
            version=1,
            status=status,
            items=lines,
            original_items=lines,
            shipping=shipping,
            discounts=discounts,
            tax=tax,
            change_value=0,
            packages=(),
            created_at=now,
            last_change=now,
            sequence=len(self.store) + 1,
            profile=profile,
        )
        if order.value <= 0:
            raise RuleViolation(f"the order total must be positive; items, shipping and discounts give {order.value}",
                                code="SIM-ORDER-VALUE")  # fmt: skip
        self._retain()
        self.store.create(order_id, order, self.core.now())
        self.core.journal.record(self.core.now(), order_id, "seed", "commit", order_id, version=1,
                                 detail={"status": status, "value": order.value})  # fmt: skip
        return order

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

    def _retain(self) -> None:
        """Forget the oldest orders beyond `limits.max_orders` (memory stays bounded in a soak): settled orders in a
        final status first, then the oldest idle ones (left in handling, or stuck in payment-approved by failure B)."""
        excess = len(self.store) + 1 - self.core.config.limits.max_orders
        if excess <= 0:
            return
        for final_only in (True, False):
            for order_id in self.store.ids():
                order = self.store.get(order_id)
                if order is None or self.core.work.pending(order_id) or (final_only and order.status not in FINAL):
                    continue
                self.forget(order_id)
                excess -= 1
                if excess <= 0:
                    return

    def forget(self, order_id: str) -> None:
        self.events.forget(order_id)
        self.changes_v1.pop(order_id, None)
        self.store.forget(order_id)
        self.changes.pop(order_id, None)
        self.rendered.pop(order_id, None)
        self.documents.pop(order_id, None)
        self._check_generation.pop(order_id, None)
        self._check_waits.pop(order_id, None)
        self.core.forget(order_id)

    def reset(self) -> None:
        self.store.clear()
        self.changes.clear()
        self.changes_v1.clear()
        self.change_settings = default_change_settings()
        self.events.reset()
        self.rendered.clear()
        self.documents.clear()
        self._check_generation.clear()
        self._check_waits.clear()
        self._order_numbers = itertools.count(1)

    # -- reads ---------------------------------------------------------------------------------------------
    async def get_order(self, order_id: str, *, op_id: str = "") -> Order:
        cfg = self.core.config.orders.get_order
        work = self.core.work
        work.enter(order_id)
        try:
            op = Op(self.core, "get_order", order_id, op_id)
            await op.delay("ingress", cfg.ingress)
            history = self.store.history(order_id) if order_id in self.store else None
            if history is None:
                raise NotFound(f"Order Not Found: {order_id}", code="OMS007")
            lag_ms = op.draw("read_lag", cfg.read_lag)
            state = history.lagging(self.core.now(), lag_ms)
            op.record("read", version=state.version, lag_ms=round(lag_ms, 3), value=state.value, status=state.status)
            await op.delay("respond", cfg.respond)
            return state
        finally:
            work.leave(order_id)

    async def read(self, order_id: str, what: str) -> Order:
        """A read of Change details/history/summary: timed by `orders.reads`, strongly consistent."""
        cfg = self.core.config.orders.reads
        self.core.work.enter(order_id)
        try:
            op = Op(self.core, what, order_id, "")
            await op.delay("ingress", cfg.ingress)
            order = self.latest(order_id)
            await op.delay("respond", cfg.respond)
            return order
        finally:
            self.core.work.leave(order_id)

    # -- invoices ------------------------------------------------------------------------------------------
    async def invoice(self, order_id: str, inv: InvoiceInput) -> Package:
        """An invoice notification (either route). Returns the stored package (its receipt)."""
        cfg = self.core.config.orders.invoice
        op = self.core.op("invoice", order_id, inv.invoice_number)
        self.core.work.enter(order_id)
        try:
            op.record("arrive", form=inv.form, type=inv.type, invoice_value=inv.invoice_value)
            await op.delay("ingress", cfg.ingress)
            await op.checkpoint("received")
            self.latest(order_id)
            if cfg.mode == "sync":
                package = await self._process_invoice(op, inv)
            else:
                package = self._new_package(order_id, inv)
                self.core.work.spawn(order_id, self._process_invoice(op, inv, package), name=f"invoice {order_id}")
            await op.delay("respond", cfg.respond)
            await op.checkpoint("before_respond")
            op.record("respond", status=200, receipt=package.receipt)
            return package
        except Exception as exc:
            op.record("respond", status=http_status(exc), error=str(exc))
            raise
        finally:
            self.core.work.leave(order_id)

    def _new_package(self, order_id: str, inv: InvoiceInput) -> Package:
        sent = {name: getattr(inv, name) for name in _SENT_FIELDS}
        return Package(**sent, receipt=self._receipt(order_id), received_at=self.core.iso())

    def _receipt(self, order_id: str) -> str:
        """A new receipt: 32 hex digits, as the platform answers them (drawn from the order's seeded stream)."""
        return self.core.new_id(order_id, "receipt").replace("-", "")

    async def _process_invoice(self, op: Op, inv: InvoiceInput, package: Package | None = None) -> Package:
        cfg = self.core.config.orders.invoice
        order_id = op.key
        await op.delay("queue", cfg.queue)
        async with self.core.transaction(self.store, order_id, op, cfg) as tx:
            snapshot = await tx.read()
            # Newer docs: a repeat of the OMS form overrides the receipt only. (A unique index: always current.)
            if inv.form == "oms" and (existing := self.latest(order_id).package(inv.invoice_number)) is not None:
                renewed = await _renew_receipt(tx, existing, package.receipt if package else self._receipt(order_id))
                op.record("repeat", receipt=renewed.receipt)
                return renewed
            try:
                check_invoice(snapshot, inv)
            except RuleViolation as exc:
                op.record("reject", version=snapshot.version, code=exc.code, message=exc.message)
                raise
            items = resolve_invoice_items(snapshot, inv)
            await op.delay("process", cfg.process)
            package = package or self._new_package(order_id, inv)
            if items is not package.items:
                package = replace(package, items=items)

            def unique(latest: Order) -> None:
                existing = latest.package(inv.invoice_number)
                if existing is not None:
                    raise _Duplicate(existing)

            def add(o: Order) -> Order:
                status = "invoice" if inv.type == "Output" and o.status not in SETTLED else o.status
                return o.evolve(packages=(*o.packages, package)).with_status(status, package.received_at)

            try:
                state = await tx.commit(add, precheck=unique, invoice_value=inv.invoice_value, type=inv.type)
            except _Duplicate as dup:
                if inv.form == "oms":  # a concurrent repeat: as any repeat, it renews the stored receipt only
                    return await _renew_receipt(tx, dup.existing, package.receipt)
                raise RuleViolation(
                    f"Invoice number {inv.invoice_number!r} was already used for order {order_id}",
                    code="OMS-INVOICE-DUPLICATE",
                ) from None
        self._emit(tx.previous, state)
        if inv.type == "Output":
            self._schedule_check(order_id, "invoice", op.op_id, carried=package)
        return package

    async def update_tracking(self, order_id: str, invoice_number: str, fields: dict[str, Any]) -> Order:
        cfg = self.core.config.orders.tracking
        op = self.core.op("tracking", order_id, invoice_number)
        self.core.work.enter(order_id)
        try:
            await op.delay("ingress", cfg.ingress)
            self.latest(order_id)
            async with self.core.transaction(self.store, order_id, op, cfg) as tx:
                snapshot = await tx.read()
                if snapshot.package(invoice_number) is None:
                    raise NotFound(
                        f"Invoice {invoice_number} not found in order {order_id}", code="OMS-INVOICE-NOT-FOUND"
                    )
                await op.delay("process", cfg.process)

                def track(o: Order) -> Order:
                    packages = tuple(
                        replace(p, **fields) if p.invoice_number == invoice_number else p for p in o.packages
                    )
                    return o.evolve(packages=packages)

                state = await tx.commit(track, fields=sorted(fields))
            self._emit(tx.previous, state)  # a FromOrders filter may match on tracking; no status change, no hook
            await op.delay("respond", cfg.respond)
            return state
        finally:
            self.core.work.leave(order_id)

    # -- changes -------------------------------------------------------------------------------------------
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
                    applied = AppliedChange.of(o, plan, request_id=request.request_id, reason=request.change.reason,
                                               receipt=receipt, date=at)  # fmt: skip
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
            raise RuleViolation(f"Cannot Retry Change. Only an unfinished, stopped change can be retried; "
                                f"{request_id} is {state}", code="SalesOrderSystem016")  # fmt: skip
        request.attempts = 0
        request.log(self.core.iso(), "Retry requested")
        op = self.core.op("change", order_id, request_id)
        op.record("retry")
        self.core.work.spawn(order_id, self._run_change(op, request), name=f"change retry {request_id}")

    # -- other order actions -------------------------------------------------------------------------------
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
            op.record("read", version=view.version, lag_ms=round(lag_ms, 3), latest=latest.version,
                      invoiced_seen=seen, value=latest.value, cause=cause)  # fmt: skip
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

    # -- events: feed and hooks (simulator.orders.events) ---------------------------------------------------
    def _emit(self, before: Order | None, after: Order) -> None:
        self.events.emit(before, after)
