"""The Accounting service (Riverty "Accounting as a Service") over the shared `Core`.

Owns `AccountingService`: the accounting orders (a `VersionedStore`, keyed by order reference), the notification
callbacks, the notifications sent, X-Request-ID idempotency, and the pipelines of the seven writes.

Every write answers `200 {"internalRequestId"}` at once and is processed under the commit-point timing model
(DESIGN §3.2, `config.accounting.write`, `async` by default; `sync` runs the worker before answering, the answer
is the same):

    arrive → [ingress] → received → (X-Request-ID already seen: answer its internalRequestId) → [respond] → 200
    worker: [queue] → READ (as of `read_lag` ago in snapshot consistency) → tier-2 rules → [process] → COMMIT
            → notifications: `accounting/EDIErrorSent` (always; `OK` or `ERROR_IN_FILE` with `errorDetails`),
              `invoiceCreated`, `refundCompleted`, `paymentReceived` where they apply
    delivery: [notify] → POST to every registered callback that wants the type (EDIErrorSent: every callback),
              retried with exponential backoff up to `notify_max_attempts`

Retention (memory stays bounded in a soak): beyond `limits.max_orders` accounting orders, the oldest settled ones
(no open position, no pending work) are forgotten with every trace of them: notifications, update-invoice outcomes
and the X-Request-IDs that named them. Writes for references that have no accounting order leave the same traces;
the newest `limits.max_orders` such references keep theirs.

Journal ops are `accounting.<kind>` (`accounting.invoice`, `accounting.update_invoice`...) and `accounting.notify`;
their checkpoints (`accounting.invoice.after_read`...) can be gated like the Orders ones. The key of the journal,
the gates, the locks and the pending work is the order reference, so an Accounting order seeded beside an Orders
order with the same id shares its timeline (and, in `serializable` consistency, its lock).

As in Orders, the rules are judged against the READ snapshot and only unique references (invoice, goodwill and
return references) are judged at COMMIT against the latest version, like a unique index: in `snapshot`
consistency, an invoice and a cancellation of the same position can both be accepted (write skew).

Imports: stdlib, `simulator.engine`, `simulator.errors`, the accounting domain (`.records`, `.rules`, `.effects`,
`.documents`), and the `HookSender` protocol of `simulator.orders.service` (the HTTP layer provides the one sender
both services use). No aiohttp.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from ..engine import Core, Op, VersionedStore
from ..errors import BadRequest, NotFound
from ..orders.service import HookSender
from .documents import (
    edi_error_sent,
    error_details,
    invoice_created,
    order_document,
    payment_received,
    refund_completed,
    update_summary,
)
from .effects import apply, new_order
from .records import (
    AccountingOrder,
    AccountingRequest,
    ErrorDetail,
    NotificationType,
    OrderType,
    Position,
    PositionState,
    RequestBody,
    RequestKind,
)
from .rules import problems, unique_problems

__all__ = ["AccountingService", "Callback", "Notification"]

_IDEMPOTENCY_MAX = 100_000
"""A backstop: X-Request-IDs are forgotten with their order (retention), and the oldest beyond this many."""
_SERVICE_KEY = "accounting"
"""Journal and RNG key of what belongs to no order (callback registrations)."""


@dataclass(frozen=True, slots=True)
class Callback:
    """A registered notification callback (`POST /administration/v1/notification-callbacks`).

    cb = Callback("id-1", "http://127.0.0.1:9000/n", frozenset({NotificationType.REFUND_COMPLETED}), None)
    cb.wants(NotificationType.EDI_ERROR_SENT)   # True: the qualitative response is always on
    """

    callback_id: str
    url: str
    types: frozenset[NotificationType]
    description: str | None

    def wants(self, kind: NotificationType) -> bool:
        return kind is NotificationType.EDI_ERROR_SENT or kind in self.types

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.callback_id,
            "callbackUrl": self.url,
            "description": self.description,
            "notificationTypes": sorted(t.value for t in self.types),
        }


@dataclass(slots=True)
class Notification:
    """A notification and its deliveries. Mutable on purpose: delivery attempts are appended as they happen, and
    the inspection endpoint shows them at once (the notification itself never changes)."""

    seq: int
    kind: NotificationType
    payload: dict[str, Any]
    order_reference: str
    created_at: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.kind.value,
            "payload": self.payload,
            "orderReference": self.order_reference,
            "createdAt": self.created_at,
            "deliveries": list(self.deliveries),
            "delivered": sorted({d["callbackUrl"] for d in self.deliveries if d["delivered"]}),
        }


class _Refused(Exception):
    """A unique reference was taken meanwhile (judged at COMMIT)."""

    def __init__(self, found: list[ErrorDetail]) -> None:
        super().__init__("; ".join(p.description for p in found))
        self.found = found


class AccountingService:
    """The mock Accounting service over a `Core`.

    accounting = AccountingService(core, sender)
    request_id = await accounting.submit(RequestKind.INVOICE, business_code="1000", customer_number="CUS-1",
                                         order_reference="ORD-1", body=invoice_input, request_id=None)
    """

    def __init__(self, core: Core, sender: HookSender) -> None:
        self.core = core
        self.sender = sender
        self.store: VersionedStore[AccountingOrder] = VersionedStore()
        core.stores.append(self.store)
        self.callbacks: dict[str, Callback] = {}
        """By callback URL: registering a URL again replaces its notification types."""
        self.notifications: dict[str, list[Notification]] = {}
        """By order reference (also for requests about an order that does not exist)."""
        self.updates: dict[str, list[dict[str, Any]]] = {}
        """Update-invoice outcomes by order reference, accepted and refused (see `documents.update_summary`)."""
        self._requests: dict[tuple[str, str], tuple[str, str]] = {}
        """(businessCode, X-Request-ID) → (internalRequestId, order reference)."""
        self._request_keys: dict[str, list[tuple[str, str]]] = {}
        """The X-Request-IDs remembered per order reference, forgotten with it."""
        self._orphans: dict[str, None] = {}
        """References that left traces (notifications, update outcomes, X-Request-IDs) but have no accounting order,
        least recently used first: at most `limits.max_orders` are kept, like settled orders."""
        self._seq = itertools.count(1)

    # -- lookups and control (not part of the modelled API) ------------------------------------------------
    def latest(self, order_reference: str) -> AccountingOrder:
        order = self.store.get(order_reference)
        if order is None:
            raise NotFound(f"No accounting order {order_reference}", code="ACCOUNTING-ORDER-NOT-FOUND")
        return order

    def inspect(self, order_reference: str) -> dict[str, Any]:
        """The latest version with its positions, invoices (nullified ones included), goodwills, returns,
        refunds; the update-invoice outcomes and the notifications sent; pending work."""
        order = self.latest(order_reference)
        return {
            **order_document(order),
            "updates": list(self.updates.get(order_reference, ())),
            "notifications": [n.to_json() for n in self.notifications.get(order_reference, ())],
            "pending": self.core.work.pending(order_reference),
        }

    def notifications_of(self, order_reference: str | None = None) -> list[Notification]:
        if order_reference is not None:
            return list(self.notifications.get(order_reference, ()))
        return sorted((n for ns in self.notifications.values() for n in ns), key=lambda n: n.seq)

    def check_seed(self, order_reference: str) -> None:
        """Raise unless `seed_order` would succeed (lets the control API check before seeding Orders)."""
        if order_reference in self.store:
            raise BadRequest(f"accounting order {order_reference} already exists", code="ACCOUNTING-ORDER-EXISTS")

    def seed_order(
        self,
        *,
        business_code: str,
        customer_number: str,
        order_reference: str,
        currency: str,
        positions: tuple[Position, ...],
        order_type: OrderType = OrderType.DIGITAL_GOODS,
    ) -> AccountingOrder:
        """Create an accounting order directly (as if created and confirmed), e.g. mirroring an Orders order.

        `order_type` defaults to `DIGITAL_GOODS`, whose invoices need no `carrier` / `trackingCode`: a mirror seeded
        without saying otherwise takes the invoices the harness's strategies send (they carry neither)."""
        self.check_seed(order_reference)
        now = self.core.iso()
        order = AccountingOrder(
            order_reference=order_reference,
            business_code=business_code,
            customer_number=customer_number,
            version=1,
            currency=currency,
            positions=positions,
            created_at=now,
            order_date=now[:10],
            order_type=order_type,
        )
        self._retain()
        self.store.create(order_reference, order, self.core.now())
        self._orphans.pop(order_reference, None)  # its traces now live and go with the order
        self.core.journal.record(
            self.core.now(),
            order_reference,
            "accounting.seed",
            "commit",
            order_reference,
            version=1,
            detail={"total": str(order.total)},
        )
        return order

    def reset(self) -> None:
        self.store.clear()
        self.callbacks.clear()
        self.notifications.clear()
        self.updates.clear()
        self._requests.clear()
        self._request_keys.clear()
        self._orphans.clear()
        self._seq = itertools.count(1)

    def _retain(self) -> None:
        """Forget the oldest settled orders (nothing open, nothing pending) beyond `limits.max_orders`."""
        excess = len(self.store) + 1 - self.core.config.limits.max_orders
        for reference in self.store.ids():
            if excess <= 0:
                return
            order = self.store.get(reference)
            settled = order is not None and all(p.state is not PositionState.OPEN for p in order.positions)
            if settled and not self.core.work.pending(reference):
                self._forget(reference)
                excess -= 1

    def _forget(self, reference: str) -> None:
        """Drop an order reference and every trace of it: notifications, update outcomes, X-Request-IDs."""
        self.store.forget(reference)
        self.notifications.pop(reference, None)
        self.updates.pop(reference, None)
        self._orphans.pop(reference, None)
        for key in self._request_keys.pop(reference, ()):
            remembered = self._requests.get(key)
            if remembered is not None and remembered[1] == reference:  # not reused since for another order
                del self._requests[key]

    def _traced(self, reference: str) -> None:
        """`reference` just left a trace; if no accounting order holds it, keep it among the newest orphans."""
        if reference in self.store:
            return
        self._orphans.pop(reference, None)
        self._orphans[reference] = None
        excess = len(self._orphans) - self.core.config.limits.max_orders
        for oldest in list(itertools.islice(self._orphans, max(excess, 0))):
            self._forget(oldest)

    # -- notification callbacks ----------------------------------------------------------------------------
    def register_callback(
        self, url: str, kinds: frozenset[NotificationType], description: str | None = None
    ) -> Callback:
        existing = self.callbacks.get(url)
        callback_id = existing.callback_id if existing else self.core.new_id(_SERVICE_KEY, "callback")
        callback = Callback(callback_id, url, kinds, description)
        self.callbacks[url] = callback
        self.core.journal.record(
            self.core.now(),
            _SERVICE_KEY,
            "accounting.callbacks",
            "register",
            callback_id,
            detail={"url": url, "types": sorted(kinds)},
        )
        return callback

    # -- writes --------------------------------------------------------------------------------------------
    async def submit(
        self,
        kind: RequestKind,
        *,
        business_code: str,
        customer_number: str,
        order_reference: str,
        body: RequestBody,
        request_id: str | None = None,
    ) -> str:
        """Accept one (tier-1 valid) write: returns its `internalRequestId` (the first one's, for a repeated
        X-Request-ID, which is then not applied again). Business results come as notifications."""
        cfg = self.core.config.accounting.write
        key = order_reference
        internal_id = self.core.new_id(key, "request")
        op = self.core.op(kind.op_name, key, internal_id)
        work = self.core.work
        work.enter(key)
        try:
            op.record("arrive", requestType=kind.request_type, x_request_id=request_id)
            await op.delay("ingress", cfg.ingress)
            await op.checkpoint("received")
            remembered = self._requests.get((business_code, request_id)) if request_id is not None else None
            seen = remembered[0] if remembered is not None else None
            if seen is not None:
                op.record("repeat", x_request_id=request_id, internalRequestId=seen)  # ignored, as documented
                answer = seen
            else:
                answer = internal_id
                if request_id is not None:
                    self._remember(business_code, request_id, internal_id, key)
                request = AccountingRequest(
                    kind,
                    business_code,
                    customer_number,
                    order_reference,
                    internal_id,
                    request_id or internal_id.replace("-", ""),
                    body,
                )
                if cfg.mode == "sync":
                    await self._process(op, request)
                else:
                    work.spawn(key, self._process(op, request), name=f"{kind.op_name} {key}")
            await op.delay("respond", cfg.respond)
            await op.checkpoint("before_respond")
            op.record("respond", status=200, internalRequestId=answer)
            return answer
        finally:
            work.leave(key)

    def _remember(self, business_code: str, request_id: str, internal_id: str, reference: str) -> None:
        key = (business_code, request_id)
        self._requests[key] = (internal_id, reference)
        self._request_keys.setdefault(reference, []).append(key)
        self._traced(reference)
        if len(self._requests) > _IDEMPOTENCY_MAX:
            del self._requests[next(iter(self._requests))]

    async def _process(self, op: Op, request: AccountingRequest) -> None:
        """The worker: [queue] → READ → rules → [process] → COMMIT → notifications."""
        cfg = self.core.config.accounting.write
        key = op.key
        await op.delay("queue", cfg.queue)
        if request.kind is RequestKind.ORDER:
            await self._create(op, request)
            return
        if key not in self.store:
            await op.checkpoint("before_read")
            op.record("read", found=False)
            await op.checkpoint("after_read")
            self._refuse(op, request, problems(None, request), None)
            return
        async with self.core.transaction(self.store, key, op, cfg) as tx:
            snapshot = await tx.read()
            found = problems(snapshot, request)
            if found:
                self._refuse(op, request, found, snapshot)
                return
            await op.delay("process", cfg.process)
            at = self.core.iso()
            refund_id = self.core.new_id(key, "refund").replace("-", "")

            def unique(latest: AccountingOrder) -> None:
                taken = unique_problems(latest, request)
                if taken:
                    raise _Refused(taken)

            try:
                state = await tx.commit(
                    lambda o: apply(o, request, at=at, refund_id=refund_id),
                    precheck=unique,
                    internalRequestId=request.internal_request_id,
                )
            except _Refused as exc:
                self._refuse(op, request, exc.found, tx.previous or snapshot, recorded=True)
                return
        self._accepted(op, request, tx.previous, state)

    async def _create(self, op: Op, request: AccountingRequest) -> None:
        """Create webshop order: there is no version to READ, so the checkpoints are passed by hand; in
        `serializable` consistency the transaction block still holds the reference's lock."""
        cfg = self.core.config.accounting.write
        key = op.key
        async with self.core.transaction(self.store, key, op, cfg):
            await op.checkpoint("before_read")
            existing = self.store.get(key)
            op.record("read", found=existing is not None, version=existing.version if existing else None)
            await op.checkpoint("after_read")
            found = problems(existing, request)
            if found:
                self._refuse(op, request, found, existing)
                return
            await op.delay("process", cfg.process)
            await op.checkpoint("before_commit")
            latest = self.store.get(key)
            if latest is not None:  # created meanwhile: the reference is a unique index
                self._refuse(op, request, problems(latest, request), latest)
                return
            self._retain()
            state = new_order(request, at=self.core.iso())
            self.store.create(key, state, self.core.now())
            self._orphans.pop(key, None)  # its traces now live and go with the order
            op.record("commit", version=state.version, internalRequestId=request.internal_request_id)
            await op.checkpoint("after_commit")
        self._accepted(op, request, None, state)

    def _refuse(
        self,
        op: Op,
        request: AccountingRequest,
        found: list[ErrorDetail],
        seen: AccountingOrder | None,
        *,
        recorded: bool = False,
    ) -> None:
        if not recorded:  # Tx.commit journals its own abort
            op.record("reject", version=seen.version if seen else None, errors=error_details(found))
        if request.kind is RequestKind.UPDATE_INVOICE:
            self.updates.setdefault(op.key, []).append(update_summary(seen, None, request, "ERROR_IN_FILE"))
            self._traced(op.key)
        self._edi(request, found)

    def _accepted(
        self, op: Op, request: AccountingRequest, before: AccountingOrder | None, after: AccountingOrder
    ) -> None:
        op.record("accepted", version=after.version)
        self._edi(request, [])
        rid = request.internal_request_id
        if request.kind in (RequestKind.INVOICE, RequestKind.UPDATE_INVOICE):
            issued = next(i for i in after.invoices if i.request_id == rid)
            self._notify(request, NotificationType.INVOICE_CREATED, invoice_created(request, after, issued))
        if request.kind is RequestKind.UPDATE_INVOICE:
            self.updates.setdefault(op.key, []).append(update_summary(before, after, request, "OK"))
        if request.kind is RequestKind.PAYMENT:
            payment = next(p for p in after.payments if p.request_id == rid)
            self._notify(request, NotificationType.PAYMENT_RECEIVED, payment_received(request, after, payment))
        for refund in (r for r in after.refunds if r.request_id == rid):
            self._notify(request, NotificationType.REFUND_COMPLETED, refund_completed(request, after, refund))

    # -- notifications -------------------------------------------------------------------------------------
    def _edi(self, request: AccountingRequest, found: list[ErrorDetail]) -> None:
        """The qualitative response every request gets."""
        self._notify(request, NotificationType.EDI_ERROR_SENT, edi_error_sent(request, found))

    def _notify(self, request: AccountingRequest, kind: NotificationType, parameters: dict[str, Any]) -> None:
        key = request.order_reference
        notification = Notification(
            next(self._seq), kind, {"type": kind.value, "parameters": parameters}, key, self.core.iso()
        )
        self.notifications.setdefault(key, []).append(notification)
        self._traced(key)
        op = self.core.op("accounting.notify", key, f"{kind.value.rpartition('/')[2]}-{notification.seq}")
        targets = [c for c in self.callbacks.values() if c.wants(kind)]
        op.record("emit", type=kind.value, callbacks=len(targets), internalRequestId=request.internal_request_id)
        for callback in targets:
            self.core.work.spawn(key, self._deliver(op, callback, notification), name=f"notify {key}")

    async def _deliver(self, op: Op, callback: Callback, notification: Notification) -> None:
        """At-least-once delivery: retried with exponential backoff until a 2xx or `notify_max_attempts`."""
        cfg = self.core.config.accounting
        await op.delay("notify", cfg.notify)
        for attempt in range(1, cfg.notify_max_attempts + 1):
            status: int | None = None
            error = None
            try:
                status = await self.sender.post_json(
                    callback.url, {}, notification.payload, cfg.notify_timeout_ms / 1000.0
                )
            except Exception as exc:  # a callback that is down must not stop the simulator
                error = f"{type(exc).__name__}: {exc}"
            delivered = status is not None and 200 <= status < 300
            notification.deliveries.append(
                {
                    "callbackUrl": callback.url,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "delivered": delivered,
                    "at": self.core.iso(),
                }
            )
            op.record(
                "deliver", attempt=attempt, status=status, error=error, url=callback.url, type=notification.kind.value
            )
            if delivered:
                return
            if attempt < cfg.notify_max_attempts:
                await asyncio.sleep(cfg.notify_backoff_ms * 2 ** (attempt - 1) / 1000.0)
        op.record("gave_up", attempts=cfg.notify_max_attempts, url=callback.url)
