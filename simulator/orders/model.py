"""Orders domain records and the pure rules over them (money in integer cents).

Owns: `Order` (one immutable version of an order), `Item`, `Package` (an invoice), `ChangeRequest` (a Change v2
and its lifecycle), `plan_change()` (the Change rules with their CHK codes) and `invoice_problem()` (the invoice
rules). Everything here is pure: no clock, no I/O.

Imports: stdlib and `simulator.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from ..errors import RuleViolation

__all__ = [
    "CHANGEABLE",
    "FINAL",
    "HAPPY_PATH",
    "STATUSES",
    "ChangeInput",
    "ChangeItem",
    "ChangePlan",
    "ChangeRequest",
    "ChangeStatus",
    "InvoiceInput",
    "InvoiceItem",
    "Item",
    "Order",
    "Package",
    "plan_change",
]

STATUSES = (
    "order-created",
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
    "start-handling",
    "handling",
    "waiting-for-fulfillment",
    "invoice",
    "invoiced",
    "request-cancel",
    "cancel",
    "canceled",
)
HAPPY_PATH = (
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
    "handling",
    "invoice",
    "invoiced",
)
FINAL = frozenset({"invoiced", "canceled"})
CHANGEABLE = frozenset({"handling", "waiting-for-fulfillment", "invoice", "payment-approved"})
"""Statuses in which a Change is accepted (payment-approved only for a partially invoiced order)."""
INVOICEABLE = frozenset(
    {"ready-for-handling", "start-handling", "handling", "waiting-for-fulfillment", "invoice", "payment-approved"}
)
"""Statuses that accept an Output invoice (payment-approved only for a partially invoiced order)."""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    unique_id: str
    name: str
    price: int
    """Unit selling price, cents."""
    quantity: int
    list_price: int
    unit_multiplier: float = 1.0
    measurement_unit: str = "un"

    @property
    def total(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class InvoiceItem:
    item_index: int
    quantity: int
    price: int
    """Total price of the invoiced line, cents (both forms are normalised to this)."""
    sku_id: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceInput:
    """An invoice notification from either route, normalised."""

    type: str
    invoice_number: str
    invoice_value: int
    issuance_date: str
    items: tuple[InvoiceItem, ...]
    form: str
    """Which route sent it: `oms` (`/api/oms/pvt/orders/{id}/invoice`) or `document` (`.../invoices`)."""
    invoice_url: str | None = None
    invoice_key: str | None = None
    embedded_invoice: str | None = None
    courier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    dispatched_date: str | None = None
    cfop: str | None = None
    volumes: int | None = None
    extra_value: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Package(InvoiceInput):
    """One invoice notification as stored in `packageAttachment.packages`: what was sent, plus what the platform
    added (the receipt it answered, when it arrived)."""

    receipt: str
    received_at: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    """One committed version of an order. Never mutated: every COMMIT makes a new version."""

    order_id: str
    version: int
    status: str
    items: tuple[Item, ...]
    original_items: tuple[Item, ...]
    shipping: int
    discounts: int
    tax: int
    change_value: int
    """Sum of the `totalChangeValue` of every applied Change (negative for reductions)."""
    packages: tuple[Package, ...]
    created_at: str
    last_change: str
    invoiced_date: str | None = None
    applied_changes: tuple[str, ...] = ()
    sequence: int = 0

    @property
    def items_total(self) -> int:
        """The `Items` total: the original items (changes are accounted in `Change`)."""
        return sum(i.total for i in self.original_items)

    @property
    def value(self) -> int:
        return self.items_total + self.discounts + self.shipping + self.tax + self.change_value

    @property
    def invoiced_value(self) -> int:
        """Sum of Output invoices."""
        return sum(p.invoice_value for p in self.packages if p.type == "Output")

    @property
    def returned_value(self) -> int:
        return sum(p.invoice_value for p in self.packages if p.type == "Input")

    def evolve(self, **changes: Any) -> Order:
        """A copy with `changes` applied: `dataclasses.replace` without its per-call introspection (hot path)."""
        new = object.__new__(Order)
        for name in _ORDER_FIELDS:
            object.__setattr__(new, name, changes[name] if name in changes else getattr(self, name))
        return new

    def package(self, invoice_number: str) -> Package | None:
        return next((p for p in self.packages if p.invoice_number == invoice_number), None)

    def with_status(self, status: str, at: str) -> Order:
        if status == self.status:
            return self
        return self.evolve(
            status=status, last_change=at, invoiced_date=at if status == "invoiced" else self.invoiced_date
        )


_ORDER_FIELDS = tuple(f.name for f in fields(Order))


# -- invoices ------------------------------------------------------------------------------------------------


def check_invoice(order: Order, inv: InvoiceInput) -> None:
    """The invoice rules, judged against one version of the order (a possibly stale snapshot).

    Raises:
        RuleViolation: status does not accept invoices, an item does not match the order, or an Output invoice
            exceeds the value not yet invoiced.
    """
    if inv.type == "Output":
        partial = order.invoiced_value > 0
        if order.status not in INVOICEABLE or (order.status == "payment-approved" and not partial):
            raise RuleViolation(
                f"Order status should be handling to perform this action (order {order.order_id} is {order.status})",
                code="OMS003",
            )
    elif order.invoiced_value == 0:
        raise RuleViolation(
            f"An Input (return) invoice needs an Output invoice first; order {order.order_id} has none",
            code="OMS003",
        )
    for it in inv.items:
        _match_invoice_item(order, it)
    if inv.type == "Output":
        remaining = order.value - order.invoiced_value
        if inv.invoice_value > remaining:
            raise RuleViolation(
                f"Invoice value {inv.invoice_value} exceeds the value not yet invoiced ({remaining} of order "
                f"value {order.value})",
                code="OMS-INVOICE-EXCEEDS",
            )
    elif inv.invoice_value > order.invoiced_value - order.returned_value:
        raise RuleViolation(
            f"Input invoice value {inv.invoice_value} exceeds what was invoiced and not yet returned "
            f"({order.invoiced_value - order.returned_value})",
            code="OMS-INVOICE-EXCEEDS",
        )


def _match_invoice_item(order: Order, it: InvoiceItem) -> None:
    if it.sku_id is not None:
        line = next((i for i in order.items if i.id == it.sku_id), None)
        if line is None:
            raise RuleViolation(f"Item {it.sku_id!r} is not in order {order.order_id}", code="OMS-INVALID-ITEM")
        if it.quantity > line.quantity:
            raise RuleViolation(
                f"Item {it.sku_id!r}: quantity {it.quantity} exceeds the {line.quantity} in the order",
                code="OMS-INVALID-ITEM",
            )
        return
    if not 0 <= it.item_index < len(order.items):
        raise RuleViolation(
            f"itemIndex {it.item_index} is out of range: order {order.order_id} has {len(order.items)} items",
            code="OMS-INVALID-ITEM",
        )
    if it.quantity > order.items[it.item_index].quantity:
        raise RuleViolation(
            f"itemIndex {it.item_index}: quantity {it.quantity} exceeds the {order.items[it.item_index].quantity} "
            "in the order",
            code="OMS-INVALID-ITEM",
        )


# -- changes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeItem:
    id: str
    quantity: int
    price: int | None = None
    unique_id: str | None = None
    measurement_unit: str | None = None
    unit_multiplier: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "quantity": self.quantity}
        if self.price is not None:
            out["price"] = self.price
        if self.unique_id is not None:
            out["uniqueId"] = self.unique_id
        if self.measurement_unit is not None:
            out["measurementUnit"] = self.measurement_unit
        if self.unit_multiplier is not None:
            out["unitMultiplier"] = self.unit_multiplier
        return out


@dataclass(frozen=True, slots=True)
class ChangeInput:
    reason: str
    add: tuple[ChangeItem, ...] | None = None
    remove: tuple[ChangeItem, ...] | None = None
    replace: tuple[tuple[tuple[ChangeItem, ...], tuple[ChangeItem, ...]], ...] | None = None
    manual_discount: int = 0
    manual_increment: int = 0


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """What a Change does, computed from one version of an order: per-item quantity deltas and new lines."""

    deltas: tuple[tuple[str, int], ...]
    new_lines: tuple[Item, ...]
    items_delta: int
    total_change_value: int
    new_value: int

    def totals(self, change: ChangeInput) -> list[dict[str, Any]]:
        out = [{"id": "Items", "name": "Items Total", "value": self.items_delta}]
        if change.manual_discount:
            out.append({"id": "Discounts", "name": "Manual Discount", "value": -change.manual_discount})
        if change.manual_increment:
            out.append({"id": "Increment", "name": "Manual Increment", "value": change.manual_increment})
        return out


def plan_change(order: Order, change: ChangeInput, *, check_status: bool = True, check_invoices: bool) -> ChangePlan:
    """Apply the Change rules to one version of an order and compute the result.

    Args:
        order: the version the Change is judged against (the latest for the synchronous checks and previews, a
            possibly stale snapshot in the worker).
        change: the request.
        check_status: refuse unless the order's status accepts Changes.
        check_invoices: refuse a result below what is already invoiced (CHK0034). The synchronous checks skip
            this: it is exactly the rule the race defeats.

    Raises:
        RuleViolation: with the documented CHK code.
    """
    if not (change.add or change.remove or change.replace or change.manual_discount or change.manual_increment):
        raise RuleViolation(
            "Invalid change for order: it adds, removes and replaces nothing and sets no manual value", code="CHK0124"
        )
    if change.manual_discount < 0 or change.manual_increment < 0:
        raise RuleViolation("The change value must be greater than or equal to zero", code="CHK0098")
    if check_status:
        partial = order.invoiced_value > 0
        if order.status not in CHANGEABLE or (order.status == "payment-approved" and not partial):
            raise RuleViolation(
                f"Order status should be handling or waiting-for-fulfillment to change it (order {order.order_id} "
                f"is {order.status})",
                code="OMS003",
            )
    quantity = {i.id: i.quantity for i in order.items}
    price = {i.id: i.price for i in order.items}
    deltas: dict[str, int] = {}
    new_lines: dict[str, Item] = {}
    removed: list[ChangeItem] = list(change.remove or ())
    added: list[ChangeItem] = list(change.add or ())
    for frm, to in change.replace or ():
        removed.extend(frm)
        added.extend(to)
    for r in removed:
        if r.id not in quantity:
            raise RuleViolation(f"Invalid item id {r.id!r}: it is not in order {order.order_id}", code="CHK0022")
        if not 1 <= r.quantity <= quantity[r.id]:
            raise RuleViolation(
                f"Invalid quantity {r.quantity} for item {r.id!r}: between 1 and {quantity[r.id]} can be removed",
                code="CHK0023",
            )
        quantity[r.id] -= r.quantity
        deltas[r.id] = deltas.get(r.id, 0) - r.quantity
    for a in added:
        if a.quantity < 1:
            raise RuleViolation(f"Invalid quantity {a.quantity} for item {a.id!r}: at least 1", code="CHK0023")
        if a.id in new_lines:  # the same new item added twice in one Change: one line, both quantities
            quantity[a.id] += a.quantity
            new_lines[a.id] = replace(new_lines[a.id], quantity=quantity[a.id])
            continue
        if a.id in quantity:
            quantity[a.id] += a.quantity
            deltas[a.id] = deltas.get(a.id, 0) + a.quantity
            continue
        if a.price is None or a.price < 0:
            raise RuleViolation(f"Invalid item id {a.id!r}: a new item needs a price (cents, >= 0)", code="CHK0022")
        quantity[a.id] = a.quantity
        price[a.id] = a.price
        new_lines[a.id] = Item(
            id=a.id,
            unique_id=a.unique_id or f"{a.id}-added",
            name=a.id,
            price=a.price,
            quantity=a.quantity,
            list_price=a.price,
            unit_multiplier=a.unit_multiplier or 1.0,
            measurement_unit=a.measurement_unit or "un",
        )
    items_delta = sum(price[i] * d for i, d in deltas.items()) + sum(n.total for n in new_lines.values())
    total = items_delta - change.manual_discount + change.manual_increment
    if change.manual_discount and change.manual_discount >= order.value:
        raise RuleViolation(
            f"A manual discount ({change.manual_discount}) must be lower than the order total ({order.value})",
            code="CHK0124",
        )
    new_value = order.value + total
    if new_value <= 0:
        raise RuleViolation(
            f"Invalid change for order: the order total would be {new_value}; cancel the order instead",
            code="CHK0124",
        )
    if check_invoices and order.invoiced_value > new_value:
        raise RuleViolation(
            f"The value of the change exceed the order's price: {order.invoiced_value} is already invoiced and the "
            f"order total would be {new_value}",
            code="CHK0034",
        )
    return ChangePlan(
        deltas=tuple(deltas.items()),
        new_lines=tuple(new_lines.values()),
        items_delta=items_delta,
        total_change_value=total,
        new_value=new_value,
    )


def apply_plan(order: Order, plan: ChangePlan, request_id: str, at: str) -> Order:
    """Apply a plan's deltas to `order` (which may be a newer version than the one the plan was computed from)."""
    deltas = dict(plan.deltas)
    items = [replace(i, quantity=max(0, i.quantity + deltas[i.id])) if i.id in deltas else i for i in order.items]
    present = {i.id for i in items}
    items.extend(n for n in plan.new_lines if n.id not in present)
    return order.evolve(
        items=tuple(items),
        change_value=order.change_value + plan.total_change_value,
        applied_changes=(*order.applied_changes, request_id),
        last_change=at,
    )


class ChangeStatus(StrEnum):
    PREPARING = "preparing"
    WAITING_ACKNOWLEDGEMENT = "waiting-acknowledgement"
    WAITING_CONFIRMATION = "waiting-confirmation"
    DONE = "done"
    CANCELING = "canceling"
    CANCELED = "canceled"


@dataclass(slots=True)
class ChangeRequest:
    """A Change v2 and its lifecycle. Mutable on purpose: the worker advances it in place, and readers of
    `GET .../changes/{id}` see it at once (change details are strongly consistent, unlike the order's reads)."""

    request_id: str
    workflow_id: str
    order_id: str
    account: str
    change: ChangeInput
    date: str
    status: ChangeStatus = ChangeStatus.PREPARING
    in_progress: bool = True
    finished: bool = False
    total_change_value: int = 0
    totals: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    cancellation: dict[str, Any] | None = None
    attempts: int = 0
    applied_version: int | None = None

    def log(self, at: str, message: str) -> None:
        self.logs.append({"date": at, "message": message, "source": "Workflow Engine", "status": self.status.value})

    def to_json(self) -> dict[str, Any]:
        c = self.change
        out: dict[str, Any] = {
            "requestId": self.request_id,
            "workflowId": self.workflow_id,
            "status": self.status.value,
            "inProgress": self.in_progress,
            "finished": self.finished,
            "reason": c.reason,
            "manualDiscountValue": c.manual_discount,
            "manualIncrementValue": c.manual_increment,
            "totalChangeValue": self.total_change_value,
            "totals": self.totals,
            "add": _items_json(c.add),
            "remove": _items_json(c.remove),
            "replace": None
            if c.replace is None
            else [
                {"from": {"items": [i.to_json() for i in f]}, "to": {"items": [i.to_json() for i in t]}}
                for f, t in c.replace
            ],
            "date": self.date,
            "origin": {"account": self.account, "orderId": self.order_id},
            "logs": self.logs,
        }
        if self.cancellation is not None:
            out["cancellationData"] = self.cancellation
        return out


def _items_json(items: Iterable[ChangeItem] | None) -> dict[str, Any] | None:
    return None if items is None else {"items": [i.to_json() for i in items]}
