"""Soak: memory stays bounded over a long run; finished orders and the journal are retained up to their limits.

A cheap in-suite soak. The simulator runs in-process with small limits (`max_orders` 200, `journal_max_entries`
1,000, `history_horizon_ms` 1) and 1,600 orders go through its services, 400 per window; between
windows, with all work settled and the garbage collected, the test takes the simulator's footprint (the size of
every structure that grows with traffic) and the interpreter's allocated blocks. Bounded means a plateau: after the
first window has filled the limits, the footprint is the same window after window and the allocated blocks stop
growing.

The services are driven directly (no HTTP) to keep 1,600 orders within a couple of seconds;
`benchmarks/soak.py` runs the long version over HTTP against a real `racelab serve` and prints its RSS.

Three tests began as `xfail(strict=True)` and found real unbounded growth, since fixed: the order feed kept events
of forgotten orders, retention never forgot orders that do not finish (failure B leaves them in payment-approved),
and a request for an unknown order left its seeded RNG stream behind.
"""

from __future__ import annotations

import gc
import sys
from decimal import Decimal
from typing import Any

import pytest

from simulator.accounting import InvoiceInput as AccountingInvoice
from simulator.accounting import PaymentInput, RequestKind, UpdateInvoiceInput, positions_from_cents
from simulator.accounting import SeedItem as AccountingSeedItem
from simulator.errors import ApiError
from simulator.orders.events import DEFAULT_APP_KEY, EVERY_STATUS_CHANGE, FeedConfig, QueueConfig
from simulator.orders.model import ChangeInput, ChangeItem, InvoiceInput, InvoiceItem
from simulator.orders.service import SeedItem
from simulator.web._state import ACCOUNTING, CORE, ORDERS
from tests.conftest import SimFactory

MAX_ORDERS = 200
LIMITS = {"max_orders": MAX_ORDERS, "journal_max_entries": 1000, "history_horizon_ms": 1}
WINDOW = 400
WINDOWS = 4
ITEMS = [SeedItem("sku-1", 4990, 2), SeedItem("sku-2", 1500, 1)]
POSITIONS = positions_from_cents(
    [AccountingSeedItem("sku-1", "sku-1", 4990, 2), AccountingSeedItem("sku-2", "sku-2", 1500, 1)],
    shipping_cents=1000,
    discounts_cents=0,
    vat_percent=Decimal(19),
)
REMOVE_SKU2 = ChangeInput(reason="sku-2 out of stock", remove=(ChangeItem("sku-2", 1),))


def invoice(number: str, value: int) -> InvoiceInput:
    return InvoiceInput(
        type="Output",
        invoice_number=number,
        invoice_value=value,
        issuance_date="2026-11-21",
        items=(InvoiceItem(item_index=0, quantity=1, price=value),),
        form="document",
    )


class Soak:
    """The services of one in-process simulator, and the traffic of the soak."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.core = app[CORE]
        self.orders = app[ORDERS]
        self.accounting = app[ACCOUNTING]
        self.n = 0
        # A feed consumer's configuration: every status change, kept for the longest retention the platform allows.
        self.orders.events.configure_feed(FeedConfig(EVERY_STATUS_CHANGE, QueueConfig(0, 1_209_600)))

    def footprint(self) -> dict[str, int]:
        """The size of every structure that grows with traffic."""
        core, orders, accounting = self.core, self.orders, self.accounting
        return {
            "orders": len(orders.store),
            "versions": sum(len(orders.store.history(k).states) for k in orders.store.ids()),
            "changes": sum(len(c) for c in orders.changes.values()),
            "rendered": len(orders.rendered),
            "check generations": len(orders._check_generation),
            "feed": orders.events.footprint()["feed items"],
            "journal": len(core.journal),
            "rng keys": len(core.rng._by_key),
            "locks": len(core._locks),
            "pending": core.work.pending(),
            "accounting orders": len(accounting.store),
            "notifications": sum(len(n) for n in accounting.notifications.values()),
            "update outcomes": sum(len(u) for u in accounting.updates.values()),
            "idempotency keys": len(accounting._requests),
        }

    async def settle(self) -> None:
        await self.core.work.wait_idle()

    def order_id(self) -> str:
        self.n += 1
        return f"SK-{self.n:07d}"

    async def finished_order(self) -> None:
        """One order's life in both services, ending `invoiced` and settled in Accounting."""
        oid = self.order_id()
        await self.orders.seed_order(items=ITEMS, shipping=1000, order_id=oid)
        self.accounting.seed_order(
            business_code="1000", customer_number="C-1", order_reference=oid, currency="EUR", positions=POSITIONS
        )
        await self.orders.get_order(oid)
        if self.n % 2:
            await self.orders.create_change(oid, REMOVE_SKU2)
            await self.core.work.wait_idle(oid)
        value = self.orders.latest(oid).value
        await self.orders.invoice(oid, invoice(f"NF-{self.n}", value))
        await self.submit(RequestKind.INVOICE, oid, AccountingInvoice(f"I-{self.n}", "2026-11-21", (1, 2, 3)))
        await self.submit(RequestKind.PAYMENT, oid, PaymentInput(Decimal("1.00")), request_id=f"pay-{self.n}")
        await self.core.work.wait_idle(oid)

    async def submit(self, kind: RequestKind, reference: str, body: Any, *, request_id: str | None = None) -> None:
        await self.accounting.submit(
            kind,
            business_code="1000",
            customer_number="C-1",
            order_reference=reference,
            body=body,
            request_id=request_id,
        )

    def consume_feed(self) -> None:
        """What a feed consumer does: read the events and commit them."""
        events = self.orders.events
        events.feed_commit(DEFAULT_APP_KEY, [i.handle for i in events.feed_read(DEFAULT_APP_KEY, 10_000)])

    async def windows(self, traffic: Any, *, count: int = WINDOWS, size: int = WINDOW) -> list[dict[str, int]]:
        """Run `traffic` `size` times per window; the footprint (and allocated blocks) after each window."""
        out = []
        for _ in range(count):
            for _ in range(size):
                await traffic()
            await self.settle()
            gc.collect()
            out.append({**self.footprint(), "blocks": sys.getallocatedblocks()})
        return out


@pytest.fixture
async def soak(make_sim: SimFactory) -> Soak:
    sim = await make_sim("instant", limits=LIMITS)
    return Soak(sim.app)


def blocks_per_order(seen: list[dict[str, int]], size: int) -> float:
    """Allocated blocks gained per order from the end of the second window to the end of the last (the first
    window fills the limits)."""
    return (seen[-1]["blocks"] - seen[1]["blocks"]) / ((len(seen) - 2) * size)


def without(footprint: dict[str, int], *keys: str) -> dict[str, int]:
    return {k: v for k, v in footprint.items() if k not in keys}


@pytest.mark.slow
async def test_sixteen_hundred_finished_orders_reach_a_plateau(soak: Soak) -> None:
    async def traffic() -> None:
        await soak.finished_order()
        if soak.n % 50 == 0:
            soak.consume_feed()

    seen = await soak.windows(traffic)

    first, *later = seen
    assert first["orders"] == first["accounting orders"] == MAX_ORDERS  # the first window filled the limits
    for footprint in later:
        # Versions are pruned by age (history_horizon_ms), so their count wobbles with timing; it is bounded below.
        assert without(footprint, "blocks", "versions") == without(first, "blocks", "versions"), "a structure grew"
        assert footprint["versions"] <= 4 * MAX_ORDERS  # at most the 4 commits of an order, per order kept
    assert first["journal"] <= 1000
    assert first["idempotency keys"] <= MAX_ORDERS
    assert first["rng keys"] <= MAX_ORDERS + 1
    # Measured here: about ±30 blocks of 444,000 over 1,000 orders. A leak of one small object per 4 orders fails.
    assert blocks_per_order(seen, WINDOW) < 0.25, [f["blocks"] for f in seen]


async def test_the_plateau_check_sees_a_leak(soak: Soak) -> None:
    """The same measurement sees traffic that keeps two small objects per order (a tuple and the int in it; here
    the test itself keeps them)."""
    kept: list[Any] = []

    async def leaking() -> None:
        await soak.finished_order()
        kept.append((soak.n * 1000,))

    seen = await soak.windows(leaking, count=3, size=300)
    assert blocks_per_order(seen, 300) >= 1.5, [f["blocks"] for f in seen]


async def test_accounting_writes_for_unknown_orders_are_retained_up_to_the_limit(soak: Soak) -> None:
    """Writes for orders Accounting does not have are accepted (200) and refused by notification; what they leave
    (notifications, update-invoice outcomes, idempotency keys) is kept for at most `max_orders` references."""
    update = UpdateInvoiceInput("I-1", "GW-1", AccountingInvoice("I-2", "2026-11-21", (1,)), None)  # type: ignore[arg-type]

    async def unknown() -> None:
        ref = soak.order_id()
        await soak.submit(RequestKind.PAYMENT, ref, PaymentInput(Decimal("1.00")), request_id=f"pay-{ref}")
        await soak.submit(RequestKind.UPDATE_INVOICE, ref, update)

    seen = await soak.windows(unknown, count=3, size=300)

    for footprint in seen:
        assert footprint["accounting orders"] == 0
        assert footprint["notifications"] <= 2 * MAX_ORDERS  # an EDIErrorSent per write
        assert footprint["update outcomes"] <= MAX_ORDERS
        assert footprint["idempotency keys"] <= MAX_ORDERS
    assert soak.accounting.notifications_of(f"SK-{soak.n:07d}"), "the newest references keep their notifications"


async def test_the_feed_holds_only_events_of_kept_orders(soak: Soak) -> None:
    await soak.windows(soak.finished_order, count=2, size=300)
    assert {e.order_id for e in soak.orders.events.queued()} <= set(soak.orders.store.ids())


async def test_orders_that_never_finish_are_retained_up_to_the_limit(soak: Soak) -> None:
    async def stuck() -> None:
        oid = soak.order_id()
        await soak.orders.seed_order(items=ITEMS, shipping=1000, order_id=oid)
        await soak.orders.invoice(oid, invoice("NF-1", 1000))
        await soak.core.work.wait_idle(oid)  # the workflow's invoiced-check ran: the order is idle, not finished

    seen = await soak.windows(stuck, count=2, size=300)
    assert soak.orders.latest(f"SK-{soak.n:07d}").status == "payment-approved"  # partially invoiced, idle
    assert seen[-1]["orders"] <= MAX_ORDERS


async def test_requests_for_unknown_orders_leave_nothing_behind(soak: Soak) -> None:
    async def unknown() -> None:
        oid = f"NOPE-{soak.order_id()}"
        with pytest.raises(ApiError):
            await soak.orders.create_change(oid, REMOVE_SKU2)
        with pytest.raises(ApiError):
            await soak.orders.get_order(oid)
        await soak.submit(RequestKind.PAYMENT, oid, PaymentInput(Decimal("1.00")))

    seen = await soak.windows(unknown, count=2, size=300)
    assert seen[-1]["rng keys"] <= MAX_ORDERS
