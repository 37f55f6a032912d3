"""Orders domain records and the pure rules over them (money in integer cents).

Owns: `Order` (one immutable version of an order), `Item`, `Package` (an invoice), `ChangeRequest` (a Change v2
and its lifecycle), `plan_change()` (the Change rules with their CHK codes) and `invoice_problem()` (the invoice
rules). Everything here is pure: no clock, no I/O.

Imports: stdlib, `simulator.contract` and `simulator.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ..contract.statuses import ORDER_STATUSES
from ..errors import NotFound, RuleViolation

__all__ = [
    "CHANGEABLE",
    "EMPTY_PROFILE",
    "FINAL",
    "HAPPY_PATH",
    "STATUSES",
    "AppliedChange",
    "AppliedItem",
    "ChangeInput",
    "ChangeItem",
    "ChangePlan",
    "ChangeRequest",
    "ChangeStatus",
    "ChangeV1Input",
    "InvoiceInput",
    "InvoiceItem",
    "Item",
    "Order",
    "OrderProfile",
    "Package",
    "check_change_request",
    "check_change_v1_request",
    "plan_change",
    "plan_change_v1",
    "resolve_invoice_items",
]

STATUSES = ORDER_STATUSES
"""Every status of an order, in workflow order: the contract's (`simulator.contract.statuses`)."""
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
SETTLED = FINAL | {"cancel"}
"""Statuses the workflow never moves an order out of by an invoice or its check: the final ones, and `cancel` (a
seller's cancel on its way to `canceled`)."""
CHANGEABLE = frozenset({"handling", "waiting-for-fulfillment", "invoice", "payment-approved"})
"""Statuses in which a Change is accepted (payment-approved only for a partially invoiced order)."""
INVOICEABLE = frozenset(
    {"ready-for-handling", "start-handling", "handling", "waiting-for-fulfillment", "invoice", "payment-approved"}
)
"""Statuses that accept an Output invoice (payment-approved only for a partially invoiced order)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One line of an order. The catalog facts after `measurement_unit` are optional: the order document fills what
    is not given from the SKU id (`productId`, `refId`, `sellerSku`) or with neutral defaults."""

    id: str
    unique_id: str
    name: str
    price: int
    """Unit selling price, cents."""
    quantity: int
    list_price: int
    unit_multiplier: float = 1.0
    measurement_unit: str = "un"
    product_id: str | None = None
    ref_id: str | None = None
    ean: str | None = None
    seller_sku: str | None = None
    seller: str | None = None
    """The seller's id (`sellers[].id`); None: the order's first seller."""
    image_url: str | None = None
    detail_url: str | None = None
    weight: float | None = None
    """`additionalInfo.dimension.weight` (the platform's unit, grams); None: the document's default."""
    tax: int = 0
    """Tax per unit, cents (`items[].tax`)."""
    extra: Mapping[str, Any] | None = None
    """Published item properties given at seed time that replace the rendered ones (objects deep-merged)."""

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
    courier_status: dict[str, Any] | None = None
    """The carrier's tracking events (`PUT .../tracking`), rendered as the package's `courierStatus`; never
    mutated: an update stores a new dict."""


@dataclass(frozen=True, slots=True)
class OrderProfile:
    """What an order is seeded with and no operation changes: the published top-level properties that are not
    computed from the order's state (`clientProfileData`, `shippingData` but its `logisticsInfo`, the payment's
    transaction, `sellers`, `marketplace`, `storePreferencesData`, …), already merged from defaults and a scenario's
    overrides. One immutable value shared by every version of the order (`Order.evolve` copies the reference).

    profile = OrderProfile(document=MappingProxyType({"sellers": [{"id": "1", "name": "Store"}]}))
    order = Order(..., profile=profile)

    Its nested objects are shared by every rendering: read them, never change them.
    """

    document: Mapping[str, Any]
    """Published top-level property → its value, for the properties a scenario set (the document's defaults
    supply the others)."""


EMPTY_PROFILE = OrderProfile(document=MappingProxyType({}))
"""A profile that sets nothing: the document's defaults throughout."""


@dataclass(frozen=True, slots=True)
class AppliedItem:
    """An item in `changesData[].itemsAdded` / `itemsRemoved`: name and unit price as the order's line had them."""

    id: str
    name: str
    quantity: int
    price: int
    """Unit price, cents."""
    unit_multiplier: float | None = None


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One entry of `changesAttachment.changesData`: a Change (v1 or v2) as the order records it once applied.

    applied = AppliedChange.of(order, plan, request_id="r-1", reason="out of stock", receipt="…", date=at)
    new = apply_plan(order, plan, applied)
    """

    request_id: str
    """racelab's extra (`requestId`): the Change's id, which the harness matches Changes by."""
    reason: str
    discount_value: int
    """By how much the Change lowered the order's value, cents (0 when it raised it)."""
    increment_value: int
    """By how much the Change raised the order's value, cents (0 when it lowered it)."""
    items_added: tuple[AppliedItem, ...]
    items_removed: tuple[AppliedItem, ...]
    receipt: str
    date: str

    @classmethod
    def of(
        cls,
        order: Order,
        plan: ChangePlan,
        *,
        request_id: str,
        reason: str,
        receipt: str,
        date: str,
        discount_value: int | None = None,
        increment_value: int | None = None,
    ) -> AppliedChange:
        """The record of `plan` applied to `order`: items from the plan's deltas and new lines, names and unit prices
        from the order's lines; the values from the plan's total unless given (a Change v1 states its own).

        Args:
            order: the version the plan is applied to.
            plan: what the Change does.
            request_id: the Change's id (v2 `requestId`; v1: the id racelab gives it).
            reason: the request's `reason`.
            receipt: the receipt the platform records for the Change.
            date: when it was applied.
            discount_value: v1's `discountValue` as sent; None: the reduction the plan computes.
            increment_value: v1's `incrementValue` as sent; None: the increase the plan computes.
        """
        lines = {i.id: i for i in order.items}
        added: list[AppliedItem] = []
        removed: list[AppliedItem] = []
        for sku, delta in plan.deltas:
            line = lines.get(sku)
            name, price, multiplier = (line.name, line.price, line.unit_multiplier) if line else (sku, 0, None)
            entry = AppliedItem(sku, name, abs(delta), price, multiplier)
            if delta > 0:
                added.append(entry)
            elif delta < 0:
                removed.append(entry)
        added.extend(AppliedItem(n.id, n.name, n.quantity, n.price, n.unit_multiplier) for n in plan.new_lines)
        total = plan.total_change_value
        return cls(
            request_id=request_id,
            reason=reason,
            discount_value=max(0, -total) if discount_value is None else discount_value,
            increment_value=max(0, total) if increment_value is None else increment_value,
            items_added=tuple(added),
            items_removed=tuple(removed),
            receipt=receipt,
            date=date,
        )


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
    applied_changes: tuple[AppliedChange, ...] = ()
    """Every Change applied, oldest first (`changesAttachment.changesData`)."""
    sequence: int = 0
    profile: OrderProfile = EMPTY_PROFILE
    """The seed-time parts of the document (client, address, payment, seller…), the same object in every version."""

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


def resolve_invoice_items(order: Order, inv: InvoiceInput) -> tuple[InvoiceItem, ...]:
    """The package's items as the platform keeps them: each pointing at its order line's `itemIndex` (the OMS form
    names lines by SKU id), and every line when the notification sends no items (a whole-order invoice).

    Returns `inv.items` itself when there is nothing to resolve (the common document-form case: no copy)."""
    if not inv.items:
        return tuple(
            InvoiceItem(item_index=n, quantity=line.quantity, price=line.total, sku_id=line.id)
            for n, line in enumerate(order.items)
            if line.quantity > 0
        )
    if all(it.sku_id is None or it.item_index >= 0 for it in inv.items):
        return inv.items
    index = {line.id: n for n, line in enumerate(order.items)}
    return tuple(
        replace(it, item_index=index[it.sku_id]) if it.sku_id is not None and it.item_index < 0 else it
        for it in inv.items
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


# Documented texts (dev portal, "Order modifications" ERP guide, errors in Change v2 / v1; help center, "Adapting your
# integration for Order modifications"): what a client sees in an error's `message` or a Change's
# `cancellationData.reason`. The simulator appends what exactly was wrong after the documented text, except where
# the help center shows the text alone (CHK0034's cancellation reason).
INVALID_ITEM = "Invalid id for item."
INVALID_QUANTITY = "Invalid quantity for item."
EXCEEDS_PRICE = "The value of the change exceed the order's price"
NEGATIVE_VALUE = "The change value needs to be greater or equal than zero."
INVALID_CHANGE = "Invalid change for order."
CANCELED_ORDER = "Cannot Change Cancelled Order."


def check_change_request(change: ChangeInput) -> None:
    """The rules a Change v2 request breaks whatever the order (answered at once with 400).

    Raises:
        RuleViolation: nothing to change (CHK0124), a negative manual value (CHK0098), a quantity below 1 (CHK0023).
    """
    if not (change.add or change.remove or change.replace or change.manual_discount or change.manual_increment):
        raise RuleViolation(
            f"{INVALID_CHANGE} It adds, removes and replaces nothing and sets no manual value", code="CHK0124"
        )
    if change.manual_discount < 0 or change.manual_increment < 0:
        raise RuleViolation(NEGATIVE_VALUE, code="CHK0098")
    for frm, to in change.replace or ():
        if not frm and not to:
            raise RuleViolation(f"{INVALID_CHANGE} A replace needs items in from or to", code="CHK0124")
    for item in _all_items(change):
        if item.quantity < 1:
            raise RuleViolation(f"{INVALID_QUANTITY} Item {item.id!r}: {item.quantity}, at least 1", code="CHK0023")


def _all_items(change: ChangeInput) -> Iterable[ChangeItem]:
    yield from change.add or ()
    yield from change.remove or ()
    for frm, to in change.replace or ():
        yield from frm
        yield from to


def plan_change(
    order: Order,
    change: ChangeInput,
    *,
    check_status: bool = True,
    check_invoices: bool,
    catalog: Mapping[str, Item] | None = None,
) -> ChangePlan:
    """Apply the Change rules to one version of an order and compute the result.

    Args:
        order: the version the Change is judged against (the latest for previews, a possibly stale snapshot in the
            worker).
        change: the request.
        check_status: refuse unless the order's status accepts Changes.
        check_invoices: refuse a result below what is already invoiced (CHK0034): exactly the rule the race
            defeats when the snapshot predates an invoice.
        catalog: SKU id → a line to copy for an added item the request gives no price for and the order does not
            hold (the help center: "the other attributes are obtained from the request or the Catalog system").

    Raises:
        RuleViolation: with the documented code and text.
    """
    check_change_request(change)
    if check_status:
        if order.status == "canceled":
            raise RuleViolation(CANCELED_ORDER, code="SalesOrderSystem008")
        partial = order.invoiced_value > 0
        if order.status not in CHANGEABLE or (order.status == "payment-approved" and not partial):
            raise RuleViolation(
                f"{INVALID_CHANGE} Allowed order states: handling, waiting-for-fulfillment and ready-for-invoicing "
                f"(order {order.order_id} is {order.status})",
                code="CHK0124",
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
            raise RuleViolation(f"{INVALID_ITEM} Item {r.id!r} is not in order {order.order_id}", code="CHK0022")
        if not 1 <= r.quantity <= quantity[r.id]:
            raise RuleViolation(
                f"{INVALID_QUANTITY} Item {r.id!r}: {r.quantity}; between 1 and {quantity[r.id]} can be removed",
                code="CHK0023",
            )
        quantity[r.id] -= r.quantity
        deltas[r.id] = deltas.get(r.id, 0) - r.quantity
    for a in added:
        if a.id in new_lines:  # the same new item added twice in one Change: one line, both quantities
            quantity[a.id] += a.quantity
            new_lines[a.id] = replace(new_lines[a.id], quantity=quantity[a.id])
            continue
        if a.id in quantity:
            quantity[a.id] += a.quantity
            deltas[a.id] = deltas.get(a.id, 0) + a.quantity
            continue
        known = catalog.get(a.id) if catalog else None
        unit_price = a.price if a.price is not None else (known.price if known else None)
        if unit_price is None or unit_price < 0:
            raise RuleViolation(
                f"{INVALID_ITEM} Item {a.id!r} is neither in order {order.order_id} nor in the catalog, and the "
                "request gives no price",
                code="CHK0022",
            )
        quantity[a.id] = a.quantity
        price[a.id] = unit_price
        base = known or Item(id=a.id, unique_id="", name=a.id, price=unit_price, quantity=0, list_price=unit_price)
        new_lines[a.id] = replace(
            base,
            unique_id=a.unique_id or f"{a.id}-added",
            price=unit_price,
            quantity=a.quantity,
            unit_multiplier=a.unit_multiplier or base.unit_multiplier,
            measurement_unit=a.measurement_unit or base.measurement_unit,
        )
    items_delta = sum(price[i] * d for i, d in deltas.items()) + sum(n.total for n in new_lines.values())
    total = items_delta - change.manual_discount + change.manual_increment
    if change.manual_discount and change.manual_discount >= order.value:
        raise RuleViolation(
            f"{INVALID_CHANGE} A manual discount ({change.manual_discount}) must be lower than the order total "
            f"({order.value})",
            code="CHK0124",
        )
    new_value = order.value + total
    if new_value <= 0:
        raise RuleViolation(
            f"{INVALID_CHANGE} The order total would be {new_value}; cancel the order instead", code="CHK0124"
        )
    if check_invoices and order.invoiced_value > new_value:
        raise RuleViolation(
            f"{EXCEEDS_PRICE}: {order.invoiced_value} is already invoiced and the order total would be {new_value}",
            code="CHK0034",
            documented=EXCEEDS_PRICE,
        )
    return ChangePlan(
        deltas=tuple(deltas.items()),
        new_lines=tuple(new_lines.values()),
        items_delta=items_delta,
        total_change_value=total,
        new_value=new_value,
    )


# -- Change v1 (`POST /api/oms/pvt/orders/{orderId}/changes`, synchronous, deprecated but still called) -----------
V1_STATUS = (
    "It is only allowed to register an order modification when the order is in handling: status = handling, "
    "waiting for fulfillment or ready for invoicing"
)
V1_EXCEEDS = "The value of the modification exceeds the order's price"
V1_NEGATIVE = "The modification value needs to be greater or equal than zero"
V1_INVALID = "Invalid modification for order"
V1_MAX_CHANGES = 50
"""Dev portal: "Max allowed modifications for order exceeded" beyond 50 registered modifications."""


@dataclass(frozen=True, slots=True)
class ChangeV1Input:
    """A Change v1: the caller computes the value (`incrementValue` - `discountValue`); the item lists only move
    quantities (help center, "Adapting your integration": "the user calculated the change value")."""

    request_id: str
    reason: str
    discount_value: int
    increment_value: int
    items_added: tuple[ChangeItem, ...] = ()
    items_removed: tuple[ChangeItem, ...] = ()


def check_change_v1_request(change: ChangeV1Input) -> None:
    """The request errors of the dev portal's "Errors in Change v1" table (answered at once with 400)."""
    if change.discount_value < 0 or change.increment_value < 0:
        raise RuleViolation(V1_NEGATIVE, code="OMS-CHANGE-NEGATIVE")
    if change.discount_value == change.increment_value and not change.items_added and not change.items_removed:
        raise RuleViolation(
            f"{V1_INVALID}: incrementValue equals discountValue and no item is added or removed", code="OMS-CHANGE"
        )


def plan_change_v1(order: Order, change: ChangeV1Input, *, check_invoices: bool) -> ChangePlan:
    """The Change v1 rules on one version of an order (the dev portal's restriction errors, and the help center's
    invoice rule: a modified total below what is already invoiced is refused).

    Raises:
        RuleViolation: a status that refuses modifications, an item that is not in the order, a quantity that
            would go below 0, a discount above the order's price, or a total below what is invoiced.
        NotFound: a removed item that is not in the order (the dev portal lists these as `404 Not Found`).
    """
    if order.status not in CHANGEABLE or (order.status == "payment-approved" and order.invoiced_value == 0):
        raise RuleViolation(f"{V1_STATUS} (order {order.order_id} is {order.status})", code="OMS003")
    if len(order.applied_changes) >= V1_MAX_CHANGES:
        raise RuleViolation(f"Max allowed modifications for order exceeded: {V1_MAX_CHANGES}", code="OMS-CHANGE-MAX")
    quantity = {i.id: i.quantity for i in order.items}
    deltas: dict[str, int] = {}
    new_lines: list[Item] = []
    for r in change.items_removed:
        if r.id not in quantity:
            raise NotFound(f"Item {r.id!r} is not in order {order.order_id}", code="OMS-ITEM-NOT-FOUND")
        if r.quantity > quantity[r.id]:
            raise RuleViolation(f"Invalid quantity to remove from item {r.id}", code="OMS-CHANGE-QUANTITY")
        quantity[r.id] -= r.quantity
        deltas[r.id] = deltas.get(r.id, 0) - r.quantity
    for a in change.items_added:
        if a.id in quantity:
            quantity[a.id] += a.quantity
            deltas[a.id] = deltas.get(a.id, 0) + a.quantity
            continue
        unit = a.price or 0
        quantity[a.id] = a.quantity
        new_lines.append(
            Item(id=a.id, unique_id=f"{a.id}-added", name=a.id, price=unit, quantity=a.quantity, list_price=unit)
        )
    total = change.increment_value - change.discount_value
    if change.discount_value > order.value:
        raise RuleViolation(
            f"{V1_EXCEEDS}: discountValue {change.discount_value} > {order.value}", code="OMS-CHANGE-EXCEEDS"
        )
    new_value = order.value + total
    if check_invoices and order.invoiced_value > new_value:
        raise RuleViolation(
            f"{V1_EXCEEDS}: {order.invoiced_value} is already invoiced and the order total would be {new_value}",
            code="OMS-CHANGE-EXCEEDS",
            documented=V1_EXCEEDS,
        )
    return ChangePlan(
        deltas=tuple(deltas.items()),
        new_lines=tuple(new_lines),
        items_delta=0,
        total_change_value=total,
        new_value=new_value,
    )


def apply_plan(order: Order, plan: ChangePlan, applied: AppliedChange) -> Order:
    """Apply a plan's deltas to `order` (which may be a newer version than the one the plan was computed from), and
    record the Change as `applied` (its `date` is the version's `lastChange`)."""
    deltas = dict(plan.deltas)
    items = [replace(i, quantity=max(0, i.quantity + deltas[i.id])) if i.id in deltas else i for i in order.items]
    present = {i.id for i in items}
    items.extend(n for n in plan.new_lines if n.id not in present)
    return order.evolve(
        items=tuple(items),
        change_value=order.change_value + plan.total_change_value,
        applied_changes=(*order.applied_changes, applied),
        last_change=applied.date,
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
        """Newest first, as the platform lists them (help center, "Adapting your integration": logs example)."""
        self.logs.insert(0, {"date": at, "message": message, "source": "Workflow Engine", "status": self.status.value})

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
