"""The control API under `/_sim/` (not part of the modelled services): health, config, reset, seeding, status
moves, state inspection, journal, gates, quiesce, metrics.

Loopback clients only, unless `auth.control_token` is set and sent as `X-Racelab-Token` (see `app.py`).

The work of the routes a harness needs is a plain function of the app (`seed`, `settle`, `inspect`, `journal_of`,
`move`, `reset_state`), so a harness in the same process (virtual mode) gets the same answers without a socket.

Imports: aiohttp, pydantic, `simulator.*`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from decimal import Decimal
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..accounting import OrderType, RequestKind, positions_from_cents
from ..accounting import SeedItem as AccountingSeedItem
from ..config import merge_patch
from ..contract.money import money_json
from ..errors import BadRequest, ConfigError, NotFound, RuleViolation
from ..gates import CHECKPOINTS
from ..orders.documents import item_overrides_schema, order_document
from ..orders.model import STATUSES
from ..orders.profile import document_overrides_schema, order_profile
from ..orders.service import SeedItem
from ._state import ACCOUNTING, CORE, ORDERS, STATS
from .accounting_api import ORDER_REFERENCE_PATTERN, Percent
from .routing import Query, Route, parse_body

__all__ = [
    "GATED_OPS",
    "QuiesceBody",
    "SeedOrderBody",
    "StatusBody",
    "control_routes",
    "inspect",
    "journal_of",
    "move",
    "reset_state",
    "seed",
    "settle",
]

GATED_OPS = (
    "invoice",
    "change",
    "change_v1",
    "workflow",
    "tracking",
    "start_handling",
    "cancel",
    "status",
    *(kind.op_name for kind in RequestKind),
)
"""Operations whose checkpoints can be gated (`<op>.<checkpoint>`), e.g. `change.after_read`,
`accounting.invoice.after_read`, `accounting.update_invoice.before_commit`."""

OrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Str = Annotated[str, Field(max_length=500)]


class SeedItemBody(_In):
    """An item of the seeded order; the optional catalog facts default as the order document says (`productId`,
    `refId` and `sellerSku` to `id`, `ean` to null, the first seller, a 500 g weight)."""

    id: Annotated[str, Field(min_length=1, max_length=100)]
    price: Annotated[int, Field(ge=0, le=10**10)]
    """Unit price, cents."""
    quantity: Annotated[int, Field(ge=1, le=100_000)]
    name: Annotated[str, Field(max_length=200)] | None = None
    listPrice: Annotated[int, Field(ge=0, le=10**10)] | None = None
    productId: _Str | None = None
    refId: _Str | None = None
    ean: _Str | None = None
    sellerSku: _Str | None = None
    seller: _Str | None = None
    """A `sellers[].id`; defaults to the order's first seller."""
    imageUrl: _Str | None = None
    detailUrl: _Str | None = None
    weight: Annotated[float, Field(ge=0, le=10**7)] | None = None
    """`additionalInfo.dimension.weight`."""
    tax: Annotated[int, Field(ge=0, le=10**10)] = 0
    """Tax per unit, cents (`items[].tax`; the order's `Tax` total is `tax` of the order)."""
    unitMultiplier: Annotated[float, Field(gt=0, le=10**6)] = 1.0
    measurementUnit: Annotated[str, Field(min_length=1, max_length=20)] = "un"
    document: Annotated[dict[str, Any], WithJsonSchema(item_overrides_schema())] | None = None
    """Published `items[]` properties that replace the rendered ones (objects deep-merged, the rest replaced)."""


class SeedAccountingBody(_In):
    """The matching Accounting order, created in the same call: each item becomes a position (`orderItemReference`
    1..n in item order, `grossUnitPrice` = cents / 100, VAT per unit at `vatPercent`, SALES_ARTICLE), then shipping
    (SHIPPING_COSTS) and discounts (DISCOUNT) when not zero."""

    businessCode: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,10}$")] = "1000"
    customerNumber: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,49}$")]
    orderReference: Annotated[str, Field(pattern=ORDER_REFERENCE_PATTERN)] | None = None
    """Defaults to the Orders `orderId` without its other characters than letters and digits (an order reference
    is 1 to 16 of those): `ORD-1` → `ORD1`, a generated `SIM00000001-01` → `SIM0000000101`."""
    orderType: OrderType = OrderType.DIGITAL_GOODS
    """`PHYSICAL_GOODS` invoices need `carrier` and `trackingCode`; the default takes the harness's invoices."""
    vatPercent: Percent = Field(default=Decimal(19), json_schema_extra={"default": 19})
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"


class SeedOrderBody(_In):
    """`POST /_sim/orders`: an order put straight into a status (no hook fires for the seeding itself)."""

    orderId: OrderId | None = None
    items: Annotated[list[SeedItemBody], Field(min_length=1, max_length=500)]
    shipping: Annotated[int, Field(ge=0, le=10**10)] = 0
    discounts: Annotated[int, Field(ge=-(10**10), le=0)] = 0
    """Negative cents, as in the order's `totals`."""
    tax: Annotated[int, Field(ge=0, le=10**10)] = 0
    status: Annotated[str, Field(json_schema_extra={"enum": list(STATUSES)})] = "handling"
    accounting: SeedAccountingBody | None = None
    document: Annotated[dict[str, Any], WithJsonSchema(document_overrides_schema())] | None = None
    """Published top-level properties of the order document (`GET /api/oms/pvt/orders/{orderId}`) that replace
    its defaults: objects are deep-merged over the default (so `{"clientProfileData": {"email": "…"}}` changes the
    email alone), arrays and other values replace it. Only seed-time properties (`clientProfileData`,
    `shippingData`, `paymentData`, `sellers`, `marketplace`, `storePreferencesData`, …); those computed from the
    order's state (`orderId`, `status`, `value`, `totals`, `items`, `packageAttachment`, `changesAttachment`, …)
    are refused. In `paymentData`, a payment without `value` takes the seeded order value; the last payment follows
    the Changes. In `shippingData`, `logisticsInfo` is one object of SLA defaults (`selectedSla`,
    `deliveryCompany`, `shippingEstimate`, …): the document lists one entry per item."""


class SeedAccountingAnswer(BaseModel):
    orderReference: str
    businessCode: str
    customerNumber: str
    totalGross: float


class SeedOrderAnswer(BaseModel):
    orderId: str
    value: int
    status: str
    accounting: SeedAccountingAnswer | None = None


class StatusBody(_In):
    status: Annotated[str, Field(min_length=1, max_length=40)]
    """A status name, or `next` for the next status on the happy path."""


class QuiesceBody(_In):
    orderId: OrderId | None = None
    timeout_ms: Annotated[float, Field(gt=0, le=600_000)] = 30_000


class QuiesceAnswer(BaseModel):
    idle: bool
    pending: int


GatePoint = Annotated[
    str, Field(max_length=80, json_schema_extra={"enum": [f"{op}.{c}" for op in GATED_OPS for c in CHECKPOINTS]})
]
"""`<op>.<checkpoint>`, e.g. `change.after_read` (checked by `_check_point`, which says what is known)."""
GateOrder = Annotated[str, Field(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.:-]{0,63})$")]
"""An order id, or `*` for every order."""


class GateBody(_In):
    orderId: GateOrder
    point: GatePoint


class GateWaitBody(GateBody):
    count: Annotated[int, Field(ge=1, le=10_000)] = 1
    timeout_ms: Annotated[float, Field(gt=0, le=600_000)] = 10_000


def _both_or_neither(schema: dict[str, Any]) -> None:
    for name in ("orderId", "point"):  # absent, never null
        prop = schema["properties"][name]
        prop.update(next(s for s in prop.pop("anyOf") if s.get("type") != "null"))
        prop.pop("default", None)
    schema["dependentRequired"] = {"orderId": ["point"], "point": ["orderId"]}


class ReleaseBody(_In):
    """Release one gate (`orderId` and `point`), or every gate (neither)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_both_or_neither)
    orderId: GateOrder | None = None
    point: GatePoint | None = None


class Health(BaseModel):
    status: str
    consistency: str
    orders: int
    pending: int
    uptime_s: float


class JournalDoc(BaseModel):
    entries: list[dict[str, Any]]
    last_seq: int


class GatesDoc(BaseModel):
    gates: list[dict[str, Any]]


class AnyObject(BaseModel):
    model_config = ConfigDict(extra="allow")


def _check_point(point: str) -> None:
    op, _, checkpoint = point.rpartition(".")
    if op not in GATED_OPS or checkpoint not in CHECKPOINTS:
        raise BadRequest(
            f"unknown gate point {point!r}: expected <op>.<checkpoint> with op one of {', '.join(GATED_OPS)} "
            f"and checkpoint one of {', '.join(CHECKPOINTS)}"
        )


async def health(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return web.json_response(
        {
            "status": "ok",
            "consistency": core.config.consistency.value,
            "orders": len(request.app[ORDERS].store),
            "pending": core.work.pending(),
            "uptime_s": round(core.ms_since_start(core.now()) / 1000.0, 3),
        }
    )


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[CORE].config.to_json())


async def patch_config(request: web.Request) -> web.Response:
    raw = await request.read()
    if not raw.strip():
        raise BadRequest('a JSON merge patch (an object) is required, e.g. {"consistency": "serializable"}')
    try:
        patch = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    core = request.app[CORE]
    try:
        config = merge_patch(core.config, patch)
    except ConfigError as exc:  # judged against the live configuration (a merge patch): a rule, like a business one
        raise RuleViolation(str(exc), code="SIM-CONFIG-INVALID") from None
    core.reconfigure(config)
    core.journal.record(core.now(), "", "config", "patch", detail={"patch": patch})
    return web.json_response(config.to_json())


async def reset(request: web.Request) -> web.Response:
    reset_state(request.app)
    return web.json_response({"reset": True})


def reset_state(app: web.Application) -> None:
    """Forget every order, Change, journal entry (numbering restarts), gate, RNG stream and request count: the
    state of a server just started with the same configuration."""
    app[ORDERS].reset()
    app[ACCOUNTING].reset()
    app[CORE].reset()
    app[STATS].clear()


async def seed_order(request: web.Request) -> web.Response:
    body = await parse_body(request, SeedOrderBody)
    return web.json_response(await seed(request.app, body), status=201)


def _reference_of(order_id: str) -> str:
    """The Accounting order reference a seeded twin gets by default: the order id's letters and digits.

    Raises:
        RuleViolation: nothing, or more than 16 characters, is left; give `accounting.orderReference`.
    """
    reference = re.sub(r"[^A-Za-z0-9]", "", order_id)
    if not re.fullmatch(ORDER_REFERENCE_PATTERN, reference):
        raise RuleViolation(
            f"accounting.orderReference: the letters and digits of orderId {order_id!r} do not make "
            "an order reference (1 to 16 of them); give accounting.orderReference",
            code="SIM-ORDER-REFERENCE",
        )
    return reference


async def seed(app: web.Application, body: SeedOrderBody) -> dict[str, Any]:
    """`POST /_sim/orders` without HTTP: create the order (and its accounting twin); the answer's JSON (201).

    Raises:
        BadRequest: the body is inconsistent (status, accounting reference, tax with accounting).
    """
    if body.status not in STATUSES:  # the schema's enum; pydantic's strict str does not check it
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}; got {body.status!r}")
    acc = body.accounting
    accounting = app[ACCOUNTING]
    if acc is not None:  # checked before anything is stored: both orders are created, or neither
        if body.tax:
            raise RuleViolation(
                "accounting: seed with tax 0; Accounting prices include VAT (vatPercent)", code="SIM-SEED-INVALID"
            )
        reference = acc.orderReference or (None if body.orderId is None else _reference_of(body.orderId))
        if reference is not None:
            accounting.check_seed(reference)
    orders = app[ORDERS]
    try:
        profile = order_profile(body.document, account=app[CORE].config.orders.account)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    order = await orders.seed_order(
        items=[_seed_item(i) for i in body.items],
        shipping=body.shipping,
        discounts=body.discounts,
        tax=body.tax,
        status=body.status,
        order_id=body.orderId,
        profile=profile,
    )
    answer: dict[str, Any] = {"orderId": order.order_id, "value": order.value, "status": order.status}
    if acc is not None:
        reference = acc.orderReference or _reference_of(order.order_id)
        positions = positions_from_cents(
            [AccountingSeedItem(i.id, i.name or i.id, i.price, i.quantity) for i in body.items],
            shipping_cents=body.shipping,
            discounts_cents=body.discounts,
            vat_percent=acc.vatPercent,
        )
        try:
            mirrored = accounting.seed_order(
                business_code=acc.businessCode,
                customer_number=acc.customerNumber,
                order_reference=reference,
                currency=acc.currency,
                positions=positions,
                order_type=acc.orderType,
            )
        except BadRequest:
            orders.forget(order.order_id)  # a generated orderId that is already an accounting reference
            raise
        answer["accounting"] = {
            "orderReference": reference,
            "businessCode": acc.businessCode,
            "customerNumber": acc.customerNumber,
            "totalGross": money_json(mirrored.total),
        }
    return answer


def _seed_item(i: SeedItemBody) -> SeedItem:
    return SeedItem(
        i.id,
        i.price,
        i.quantity,
        i.name,
        i.listPrice,
        product_id=i.productId,
        ref_id=i.refId,
        ean=i.ean,
        seller_sku=i.sellerSku,
        seller=i.seller,
        image_url=i.imageUrl,
        detail_url=i.detailUrl,
        weight=i.weight,
        tax=i.tax,
        unit_multiplier=i.unitMultiplier,
        measurement_unit=i.measurementUnit,
        extra=i.document,
    )


async def list_orders(request: web.Request) -> web.Response:
    orders = request.app[ORDERS]
    out = []
    for order_id in orders.store.ids()[-1000:]:
        o = orders.store.get(order_id)
        if o is not None:
            out.append(
                {
                    "orderId": o.order_id,
                    "status": o.status,
                    "value": o.value,
                    "invoiced": o.invoiced_value,
                    "version": o.version,
                }
            )
    return web.json_response({"orders": out, "total": len(orders.store)})


async def inspect_order(request: web.Request) -> web.Response:
    return web.json_response(inspect(request.app, request.match_info["orderId"]))


def inspect(app: web.Application, order_id: str) -> dict[str, Any]:
    """`GET /_sim/orders/{orderId}` without HTTP: the latest version as the API renders it, plus every kept
    version and the Changes.

    Raises:
        NotFound: no such order.
    """
    orders = app[ORDERS]
    latest = orders.latest(order_id)
    core = app[CORE]
    history = orders.store.history(order_id)
    changes = list(orders.changes.get(order_id, {}).values())
    return {
        "order": order_document(latest),
        "versions": [
            {
                "version": s.version,
                "t": t,
                "t_ms": round(core.ms_since_start(t), 3),
                "status": s.status,
                "value": s.value,
                "invoiced": s.invoiced_value,
                "packages": len(s.packages),
            }
            for t, s in zip(history.times, history.states, strict=True)
        ],
        "changes": [c.to_json() for c in changes],
        "pending": core.work.pending(order_id),
    }


async def move_status(request: web.Request) -> web.Response:
    body = await parse_body(request, StatusBody)
    return web.json_response(await move(request.app, request.match_info["orderId"], body))


async def move(app: web.Application, order_id: str, body: StatusBody) -> dict[str, Any]:
    """`POST /_sim/orders/{orderId}/status` without HTTP: the order after the move (hooks fire).

    Raises:
        NotFound: no such order.
        BadRequest: a status the order cannot move to.
    """
    order = await app[ORDERS].set_status(order_id, body.status)
    return order_document(order)


async def quiesce(request: web.Request) -> web.Response:
    body = await parse_body(request, QuiesceBody, required=False) or QuiesceBody()
    return web.json_response(await settle(request.app, body))


async def settle(app: web.Application, body: QuiesceBody) -> dict[str, Any]:
    """`POST /_sim/quiesce` without HTTP: wait until no work is pending (for one key, or at all), up to the
    body's timeout; whether it is idle.

    Raises:
        NotFound: the key names no order and has no pending work.
    """
    core = app[CORE]
    known = (app[ORDERS].store, app[ACCOUNTING].store)
    if body.orderId is not None and not any(body.orderId in s for s in known) and not core.work.pending(body.orderId):
        raise NotFound(f"Order Not Found: {body.orderId}", code="OMS007")
    with contextlib.suppress(TimeoutError):  # not idle in time: the answer says so
        await asyncio.wait_for(core.work.wait_idle(body.orderId), body.timeout_ms / 1000.0)
    pending = core.work.pending(body.orderId)
    return {"idle": pending == 0, "pending": pending}


async def journal(request: web.Request) -> web.Response:
    q = request.query
    try:
        since = int(q.get("since", "0"))
        limit = int(q["limit"]) if "limit" in q else None
    except ValueError:
        raise BadRequest("since and limit must be integers") from None
    if since < 0 or (limit is not None and not 1 <= limit <= 1_000_000):
        raise BadRequest("since must be >= 0 and limit between 1 and 1000000")
    return web.json_response(journal_of(request.app, q.get("orderId"), since=since, limit=limit))


def journal_of(
    app: web.Application, order_id: str | None, *, since: int = 0, limit: int | None = None
) -> dict[str, Any]:
    """`GET /_sim/journal` without HTTP: entries (of one order, or all) after sequence number `since`."""
    entries = app[CORE].journal.entries(order_id=order_id, since=since, limit=limit)
    return {"entries": [e.to_json() for e in entries], "last_seq": entries[-1].seq if entries else since}


async def list_gates(request: web.Request) -> web.Response:
    return web.json_response({"gates": request.app[CORE].gates.held()})


async def hold_gate(request: web.Request) -> web.Response:
    body = await parse_body(request, GateBody)
    _check_point(body.point)
    core = request.app[CORE]
    core.gates.hold(body.orderId, body.point)
    core.journal.record(core.now(), body.orderId, "gate", "hold", body.point)
    return web.json_response({"gates": core.gates.held()}, status=201)


async def release_gate(request: web.Request) -> web.Response:
    body = await parse_body(request, ReleaseBody, required=False) or ReleaseBody()
    core = request.app[CORE]
    if body.orderId is None and body.point is None:
        released = core.gates.release_all()
    elif body.orderId is not None and body.point is not None:
        if not core.gates.release(body.orderId, body.point):
            raise NotFound(f"no gate is held at {body.point} for order {body.orderId}", code="GATE-NOT-FOUND")
        released = 1
        core.journal.record(core.now(), body.orderId, "gate", "release", body.point)
    else:
        raise BadRequest("send both orderId and point to release one gate, or neither to release all")
    return web.json_response({"released": released, "gates": core.gates.held()})


async def wait_gate(request: web.Request) -> web.Response:
    body = await parse_body(request, GateWaitBody)
    gates = request.app[CORE].gates
    try:
        await asyncio.wait_for(gates.wait_parked(body.orderId, body.point, count=body.count), body.timeout_ms / 1000.0)
    except LookupError as exc:
        raise NotFound(str(exc), code="GATE-NOT-FOUND") from None
    except TimeoutError:
        return web.json_response({"parked": False, "gates": gates.held()})
    return web.json_response({"parked": True, "gates": gates.held()})


async def inspect_accounting_order(request: web.Request) -> web.Response:
    """What the real API cannot show (it has no GET): the accounting order's positions and their states, invoices
    (nullified ones included), goodwills, returns, refunds, update-invoice outcomes, notifications sent."""
    return web.json_response(request.app[ACCOUNTING].inspect(request.match_info["orderReference"]))


async def accounting_notifications(request: web.Request) -> web.Response:
    """Notifications sent, oldest first, for one order reference (also one that does not exist) or all."""
    reference = request.query.get("orderReference")
    notes = request.app[ACCOUNTING].notifications_of(reference)
    return web.json_response({"notifications": [n.to_json() for n in notes]})


async def metrics(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return web.json_response(
        {
            "orders": len(request.app[ORDERS].store),
            "pending": core.work.pending(),
            "background_errors": core.work.errors,
            "journal_entries": len(core.journal),
            "gates_held": len(core.gates.held()),
            "requests": _copy(request.app[STATS]),
        }
    )


def _copy(stats: dict[str, int]) -> dict[str, int]:
    return dict(stats)


def control_routes() -> list[Route]:
    r = Route
    t = ("control",)
    return [
        r("GET", "/_sim/health", health, "control", "Health", "simHealth", responses={200: Health}, tags=t),
        r(
            "GET",
            "/_sim/config",
            get_config,
            "control",
            "The live configuration",
            "simGetConfig",
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "PATCH",
            "/_sim/config",
            patch_config,
            "control",
            "Change the live configuration (JSON merge patch; validated as a whole)",
            "simPatchConfig",
            body=AnyObject,
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "POST",
            "/_sim/reset",
            reset,
            "control",
            "Forget every order, change, journal entry and gate",
            "simReset",
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "POST",
            "/_sim/orders",
            seed_order,
            "control",
            "Seed an order directly in a given status",
            "simSeedOrder",
            body=SeedOrderBody,
            responses={201: SeedOrderAnswer},
            tags=t,
        ),
        r(
            "GET",
            "/_sim/orders",
            list_orders,
            "control",
            "List the latest 1000 orders",
            "simListOrders",
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "GET",
            "/_sim/orders/{orderId}",
            inspect_order,
            "control",
            "Inspect an order: versions and Changes",
            "simInspectOrder",
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "POST",
            "/_sim/orders/{orderId}/status",
            move_status,
            "control",
            "Move an order to a status (or `next` on the happy path); hooks fire",
            "simMoveStatus",
            body=StatusBody,
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "GET",
            "/_sim/accounting/orders/{orderReference}",
            inspect_accounting_order,
            "control",
            "Inspect an accounting order: positions, invoices, goodwills, refunds, updates, notifications",
            "simInspectAccountingOrder",
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "GET",
            "/_sim/accounting/notifications",
            accounting_notifications,
            "control",
            "Accounting notifications sent (and their deliveries)",
            "simAccountingNotifications",
            responses={200: AnyObject},
            query=[Query("orderReference", {"type": "string"})],
            tags=t,
        ),
        r(
            "POST",
            "/_sim/quiesce",
            quiesce,
            "control",
            "Wait until no work is pending (optionally for one order)",
            "simQuiesce",
            body=QuiesceBody,
            body_required=False,
            responses={200: QuiesceAnswer},
            tags=t,
        ),
        r(
            "GET",
            "/_sim/journal",
            journal,
            "control",
            "Journal entries",
            "simJournal",
            responses={200: JournalDoc},
            query=[
                Query("orderId", {"type": "string"}),
                Query("since", {"type": "integer", "minimum": 0}),
                Query("limit", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
            ],
            tags=t,
        ),
        r("GET", "/_sim/gates", list_gates, "control", "Gates held", "simGates", responses={200: GatesDoc}, tags=t),
        r(
            "POST",
            "/_sim/gates",
            hold_gate,
            "control",
            "Hold a gate",
            "simHoldGate",
            body=GateBody,
            responses={201: GatesDoc},
            tags=t,
        ),
        r(
            "POST",
            "/_sim/gates/release",
            release_gate,
            "control",
            "Release one gate, or all",
            "simReleaseGate",
            body=ReleaseBody,
            body_required=False,
            responses={200: AnyObject},
            tags=t,
        ),
        r(
            "POST",
            "/_sim/gates/wait",
            wait_gate,
            "control",
            "Wait until operations are parked at a gate",
            "simWaitGate",
            body=GateWaitBody,
            responses={200: AnyObject},
            tags=t,
        ),
        r("GET", "/_sim/metrics", metrics, "control", "Counters", "simMetrics", responses={200: AnyObject}, tags=t),
    ]
