"""What every Orders operation shares: the versioned store of orders, the Change records, the caches, the lookups,
the reads, and the hand-off of every committed version to the hooks and the feed.

Owns `OrdersState`, the base of `simulator.orders.service.OrdersService`: it holds all of the service's state (so
that `forget` and `reset` clear it in one place); `.orders.workflow`, `.orders.invoices` and `.orders.changes` add
the operations, each as a subclass.

Imports: stdlib, `simulator.engine`, `.errors`, `.orders.model`, `.orders.events`. No aiohttp: hook delivery goes
through the `HookSender` the HTTP layer provides.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from ..engine import Core, Op, VersionedStore
from ..errors import NotFound
from .events import HookSender, OrderEvents
from .model import ChangeRequest, Item, Order

__all__ = ["OrdersState", "default_change_settings"]


def default_change_settings() -> dict[str, dict[str, Any]]:
    """Order modifications settings as a new account has them (the official document's GET example's shape)."""
    return {
        "paymentConfiguration": {"customPaymentSystemsAllowed": []},
        "rolloutConfiguration": {
            "usingDefaultBehavior": False,
            "enableApi": True,
            "enableAdminOrders": {"enabledWorkspaces": ["*"]},
            "enableMyOrders": {"enabledWorkspaces": []},
        },
        "pipelineConfiguration": {
            "enableTaxHubRecalculation": False,
            "compensateShippingChanges": False,
            "enablePromotionRecalculation": False,
            "enableNativeTaxRecalculation": False,
        },
    }


class OrdersState:
    """The Orders service's state and lookups over a `Core`; the operations are its subclasses'."""

    def __init__(self, core: Core, sender: HookSender) -> None:
        self.core = core
        self.sender = sender
        self.store: VersionedStore[Order] = VersionedStore()
        core.stores.append(self.store)
        self.changes: dict[str, dict[str, ChangeRequest]] = {}
        self.events = OrderEvents(core, sender)
        """The order hook and the feed (`simulator.orders.events`)."""
        self._check_generation: dict[str, int] = {}
        """The latest invoiced-check's generation per order (`simulator.orders.workflow`)."""
        self._check_waits: dict[str, asyncio.Future[None]] = {}
        """The pending check's wait per order, so that a newer check can wake it (see `simulator.orders.workflow`)."""
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

    # -- memory: one order forgotten, or everything --------------------------------------------------------
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

    # -- events: feed and hooks (simulator.orders.events) ---------------------------------------------------
    def _emit(self, before: Order | None, after: Order) -> None:
        self.events.emit(before, after)
