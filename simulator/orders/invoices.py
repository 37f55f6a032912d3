"""Invoice notifications and tracking updates: the invoice's side of failure A.

Owns `InvoicePipeline` (a subclass of `.orders.workflow.OrderWorkflow`): `invoice` (either route: [queue] → READ →
rules → [process] → COMMIT, synchronously or after the answer) and `update_tracking`.

Failure A — over-invoice (write skew), the invoice's side (DESIGN §1, §3.2).
    The invoice READs the order (its `read_lag` ago), checks `invoiceValue <= value - invoiced`, and COMMITs a
    package; a Change that read a snapshot older than that COMMIT (`.orders.changes`) can lower the value under
    what is invoiced. An Output invoice's COMMIT moves the order to `invoice` and schedules the invoiced-check
    (`.orders.workflow`, failure B).

Imports: stdlib, `simulator.engine`, `.errors`, `.orders.model`, `.orders.workflow`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from ..engine import Op, Tx
from ..errors import NotFound, RuleViolation, http_status
from .model import SETTLED, InvoiceInput, Order, Package, check_invoice, resolve_invoice_items
from .workflow import OrderWorkflow

__all__ = ["InvoicePipeline"]

_SENT_FIELDS = tuple(f.name for f in fields(InvoiceInput))
"""What a stored package keeps of the notification as sent (computed once: this is on the request path)."""


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


class _Duplicate(Exception):
    """The invoice number is already stored (judged at COMMIT, like a unique index)."""

    def __init__(self, existing: Package) -> None:
        super().__init__(f"invoice number {existing.invoice_number!r} already exists")
        self.existing = existing


class InvoicePipeline(OrderWorkflow):
    """The invoice routes of the Orders service (`simulator.orders.service.OrdersService`)."""

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
