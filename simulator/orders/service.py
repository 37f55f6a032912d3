"""The Orders (OMS) service: every operation as a pipeline of timed phases, the status workflow.

Owns `OrdersService`, the one face of the Orders domain, and seeding (`seed_order`, `SeedItem`). Each public
coroutine is one API operation; the HTTP layer validates the request body, calls it, and renders what it returns.
The service is put together from one module per responsibility, each a subclass of the one before:

- `.orders.state` (`OrdersState`): the store, the Change records, the caches, lookups, reads, `forget`/`reset`;
- `.orders.workflow` (`OrderWorkflow`): status moves, and the invoiced-check (failure B);
- `.orders.invoices` (`InvoicePipeline`) and `.orders.changes` (`ChangePipeline`): the two sides of failure A.

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

Imports: stdlib, `.errors`, `.orders.model`, `.orders.documents`, `.orders.events` (`HookSender`, re-exported for
the accounting service), `.orders.invoices`, `.orders.changes`. No aiohttp: hook delivery goes through the
`HookSender` the HTTP layer provides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import BadRequest, RuleViolation
from .changes import ChangePipeline
from .documents import check_item_overrides
from .events import HookSender
from .invoices import InvoicePipeline
from .model import EMPTY_PROFILE, FINAL, STATUSES, Item, Order, OrderProfile

__all__ = ["HookSender", "OrdersService", "SeedItem"]  # HookSender: re-exported for the accounting service


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


_SEED_DETAILS = tuple(
    f.name for f in fields(SeedItem) if f.name not in ("id", "price", "quantity", "name", "list_price")
)
"""What a seeded item passes to its order line as it is (the catalog fields: `SeedItem` names them as `Item` does)."""


class OrdersService(InvoicePipeline, ChangePipeline):
    """The mock Orders service over a `Core`.

    orders = OrdersService(core, sender)
    order = await orders.seed_order(items=[SeedItem("sku-1", 4990, 2)], shipping=1000, status="handling")
    package = await orders.invoice(order.order_id, invoice_input)
    """

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
            profile: the document's seed-time parts (`simulator.orders.profile.order_profile`).

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
            raise RuleViolation(
                f"the order total must be positive; items, shipping and discounts give {order.value}",
                code="SIM-ORDER-VALUE",
            )
        self._retain()
        self.store.create(order_id, order, self.core.now())
        self.core.journal.record(
            self.core.now(),
            order_id,
            "seed",
            "commit",
            order_id,
            version=1,
            detail={"status": status, "value": order.value},
        )
        return order

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
