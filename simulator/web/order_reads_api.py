"""HTTP edge of the order reads: the order document (`GET /api/oms/pvt/orders/{orderId}`, and the PII version's
`GET /api/orders/pvt/document/{orderId}`), the order list (`GET /api/oms/pvt/orders`) and their response models.

The handlers render with `simulator.orders.documents` and `.order_list` directly, the order document once per
version (no model round trip on the hot path); the models here document the answers in `/openapi.json` (their nested
objects allow more properties than they name, as the published schema does).

Imports: aiohttp, pydantic, `simulator.errors`, `simulator.orders`, `simulator.web._orders_common`,
`simulator.web.routing`.
"""

from __future__ import annotations

import builtins
import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from ..errors import BadRequest
from ..orders.documents import order_document, order_document_pii
from ..orders.order_list import LIST_ORDER_FIELDS, ListQuery, list_orders
from ._orders_common import orders_of
from .routing import Query, Route

__all__ = ["OrderDoc", "OrderItemDoc", "OrderListDoc", "OrderPiiDoc", "order_read_routes"]


class _Open(BaseModel):
    """A published object: the properties named here are always there; more may be."""

    model_config = ConfigDict(extra="allow")


class Total(_Open):
    id: str
    name: str
    value: int


class PriceDefinition(_Open):
    sellingPrices: list[dict[str, int]]
    calculatedSellingPrice: int
    total: int
    reason: str | None


class OrderItemDoc(_Open):
    uniqueId: str
    id: str
    productId: str
    ean: str | None
    lockId: str
    quantity: int
    seller: str
    name: str
    refId: str
    price: int
    listPrice: int
    sellingPrice: int
    sellerSku: str
    imageUrl: str
    detailUrl: str
    tax: int
    isGift: bool
    additionalInfo: dict[str, Any]
    """`dimension` (`weight`, `height`, `length`, `width`, `cubicweight`), brand and categories."""
    measurementUnit: str
    unitMultiplier: float
    priceDefinition: PriceDefinition


class PackageItemDoc(_Open):
    itemIndex: int
    """The order's line the invoice item is for (resolved from the SKU for the OMS-form invoice)."""
    quantity: int
    price: int
    unitMultiplier: float


class PackageDoc(_Open):
    type: str
    invoiceNumber: str
    invoiceValue: int
    issuanceDate: str
    invoiceUrl: str | None
    invoiceKey: str | None
    embeddedInvoice: str
    courier: str | None
    trackingNumber: str | None
    trackingUrl: str | None
    dispatchedDate: str | None
    cfop: str | None
    volumes: int | None
    extraValue: int | None
    receipt: str
    items: list[PackageItemDoc]


class PackageAttachment(_Open):
    packages: list[PackageDoc]


class ChangedItemDoc(_Open):
    id: str
    name: str
    quantity: int
    price: int
    unitMultiplier: str | None


class ChangeReceiptDoc(_Open):
    date: str
    orderId: str
    receipt: str


class ChangeDataDoc(_Open):
    requestId: str
    """racelab's: the Change's id (v2 `requestId`)."""
    reason: str
    discountValue: int
    incrementValue: int
    itemsAdded: list[ChangedItemDoc]
    itemsRemoved: list[ChangedItemDoc]
    receipt: ChangeReceiptDoc


class ChangesAttachment(_Open):
    id: str
    changesData: list[ChangeDataDoc]


class PaymentDoc(_Open):
    id: str
    paymentSystem: str
    paymentSystemName: str
    value: int
    installments: int
    referenceValue: int
    group: str


class TransactionDoc(_Open):
    isActive: bool
    transactionId: str
    merchantName: str
    payments: list[PaymentDoc]


class PaymentData(_Open):
    giftCards: list[dict[str, Any]] | None
    transactions: list[TransactionDoc]


class LogisticsInfoDoc(_Open):
    itemIndex: int
    selectedSla: str
    price: int
    listPrice: int
    sellingPrice: int
    deliveryCompany: str
    shippingEstimate: str
    shippingEstimateDate: str
    slas: list[dict[str, Any]]


class ShippingData(_Open):
    id: str
    address: dict[str, Any]
    logisticsInfo: list[LogisticsInfoDoc]
    trackingHints: list[dict[str, Any]] | None
    selectedAddresses: list[dict[str, Any]]


class _OrderCommon(_Open):
    """What both order documents share: every top-level property of the published GetOrder 200 schema (GetOrder2
    declares the same, `statusDescription` aside)."""

    orderId: str
    sequence: str
    marketplaceOrderId: str | None
    marketplaceServicesEndpoint: str | None
    sellerOrderId: str
    origin: str
    affiliateId: str | None
    salesChannel: str
    merchantName: str | None
    status: str
    workflowIsInError: bool
    value: int
    creationDate: str
    lastChange: str
    orderGroup: str
    followUpEmail: str
    lastMessage: str | None
    hostname: str
    isCompleted: bool
    roundingError: int
    orderFormId: str
    allowCancellation: bool
    allowEdition: bool
    isCheckedIn: bool
    authorizedDate: str | None
    invoicedDate: str | None
    cancelReason: str | None
    checkedInPickupPointId: str | None
    totals: list[Total]
    """`Items`, `Discounts`, `Shipping`, `Tax`; they add up to `value` (a Change's increase in `Items`, its
    decrease in `Discounts`)."""
    sellers: list[dict[str, Any]]
    clientPreferencesData: dict[str, Any]
    cancellationData: dict[str, Any] | None
    taxData: dict[str, Any] | None
    subscriptionData: dict[str, Any] | None
    itemMetadata: dict[str, Any]
    marketplace: dict[str, Any] | None
    storePreferencesData: dict[str, Any]
    customData: dict[str, Any] | None
    commercialConditionData: str | None
    openTextField: dict[str, Any] | None
    invoiceData: dict[str, Any] | None
    changesAttachment: ChangesAttachment | None
    callCenterOperatorData: dict[str, Any] | None
    packageAttachment: PackageAttachment
    paymentData: PaymentData
    shippingData: ShippingData
    ratesAndBenefitsData: dict[str, Any]
    marketingData: dict[str, Any] | None
    giftRegistryData: dict[str, Any] | None
    clientProfileData: dict[str, Any]
    items: list[OrderItemDoc]
    marketplaceItems: list[Any]
    authorizationPolicyData: list[dict[str, Any]]
    updatedOrderValue: int
    """racelab's: `value` again."""
    version: int
    """racelab's: the version of the order this document renders."""


class OrderDoc(_OrderCommon):
    """`GET /api/oms/pvt/orders/{orderId}` (GetOrder)."""

    statusDescription: str
    """The Admin's (Portuguese) name of the status, e.g. `Preparando Entrega` for `handling`."""


class OrderPiiDoc(_OrderCommon):
    """`GET /api/orders/pvt/document/{orderId}` (GetOrder2, the PII data architecture): the same order, plus the
    PII document's own top-level properties."""

    id: str
    state: str
    piiHidden: bool
    documentVersion: str
    appVersion: str
    fingerPrint: str
    emailTracked: str
    timeZoneCreationDate: str
    timeZoneLastChange: str
    userType: str | None
    creationEnvironment: str | None
    workflowInstanceId: str | None
    handlingData: str | None
    approvedBy: str | None
    cancelledBy: str | None
    canceledBy: str | None
    callCenterOperator: str | None
    receiptData: dict[str, Any]
    contextData: dict[str, Any]
    salesChannelData: dict[str, Any]
    workflowData: dict[str, Any]
    cancellationRequests: list[dict[str, Any]] | None


class OrderListEntry(_Open):
    orderId: str
    creationDate: str
    clientName: str
    items: None
    totalValue: int
    paymentNames: str
    status: str
    statusDescription: str
    marketPlaceOrderId: str | None
    sequence: str
    salesChannel: str
    affiliateId: str
    origin: str
    workflowInErrorState: bool
    workflowInRetry: bool
    lastMessageUnread: str | None
    ShippingEstimatedDate: str | None
    ShippingEstimatedDateMax: str | None
    ShippingEstimatedDateMin: str | None
    orderIsComplete: bool
    listId: str | None
    listType: str | None
    authorizedDate: str | None
    callCenterOperatorName: str | None
    totalItems: int
    currencyCode: str


class Paging(BaseModel):
    total: int
    pages: int
    currentPage: int
    perPage: int


class OrderListDoc(BaseModel):
    """`GET /api/oms/pvt/orders` (ListOrders)."""

    list: builtins.list[OrderListEntry]
    facets: builtins.list[str]
    paging: Paging
    stats: dict[str, Any]
    """`stats.totalValue` and `stats.totalItems` over every order that matches (not only the page): Count, Max,
    Mean, Min, Missing, StdDev, Sum, SumOfSquares, and the same per `origin` and `currencyCode` under `Facets`."""


# -- handlers ------------------------------------------------------------------------------------------------


async def get_order(request: web.Request) -> web.Response:
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    order = await orders.get_order(order_id, op_id=request.headers.get("X-Request-ID", ""))
    cached = orders.rendered.get(order_id)
    if cached is not None and cached[0] is order:
        body = cached[1]
    else:  # versions are immutable: render each one once (a lagging read may be served an older one)
        body = json.dumps(order_document(order)).encode()
        orders.rendered[order_id] = (order, body)
    return web.Response(body=body, content_type="application/json")


async def get_order_pii(request: web.Request) -> web.Response:
    """The PII version's read: timed and lagging as `get_order` (the same read), rendered per request (not the hot
    path)."""
    orders = orders_of(request)
    order = await orders.get_order(request.match_info["orderId"], op_id=request.headers.get("X-Request-ID", ""))
    return web.json_response(order_document_pii(order))


MAX_PAGE = 30
"""ListOrders: "The limit of information retrieval is 30 pages" (the operation's description)."""
MAX_PER_PAGE = 100
"""ListOrders `per_page`: "the default value is 15 and it goes up to 100 orders per page"."""
_DAY = (
    r"((?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"|(?!0000)[0-9]{4}-(0[13-9]|1[0-2])-(29|30)"
    r"|(?!0000)[0-9]{4}-(0[13578]|1[02])-31"
    r"|(?!0000)([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)"
)  # a calendar date, February 29 in leap years only (year 0000 does not exist)
_INSTANT = (
    rf"({_DAY}T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{{1,6}})?)?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])|\*)"
)
"""One bound of a date range: an ISO 8601 instant with its time zone, or `*` (open)."""


def _range_pattern(field: str) -> str:
    return rf"^[ ]*{field}:\[(?P<start>{_INSTANT}) TO (?P<end>{_INSTANT})\][ ]*$"


_RANGE = {f: re.compile(_range_pattern(f)) for f in ("creationDate", "invoicedDate", "authorizedDate")}
_ORDER_BY = re.compile(rf"^(?P<field>{'|'.join(LIST_ORDER_FIELDS)}),(?P<direction>asc|desc)$")


def _range(name: str, field: str, raw: str | None) -> tuple[datetime, datetime] | None:
    """`{field}:[{from} TO {to}]` (ISO 8601 dates; `*` for an open end) as the parameter's description shows."""
    if raw is None:
        return None
    match = _RANGE[field].match(raw)
    if match is None:
        raise BadRequest(
            f"{name}: expected {field}:[<from> TO <to>] with ISO 8601 dates, e.g. "
            f"{field}:[2022-01-01T02:00:00.000Z TO 2022-01-02T01:59:59.999Z]; got {raw!r}"
        )
    bounds = []
    for which, value in (("from", match["start"].strip()), ("to", match["end"].strip())):
        if value == "*":
            bounds.append((datetime.min if which == "from" else datetime.max).replace(tzinfo=UTC))
            continue
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"{name}: {which} date {value!r} is not an ISO 8601 date") from None
        if at.tzinfo is None:
            raise BadRequest(f"{name}: {which} date {value!r} needs a time zone (e.g. Z)")
        bounds.append(at)
    start, end = bounds
    return start, end


def _int(name: str, raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= maximum:  # not isdigit(): "²" is a digit
        raise BadRequest(f"{name}: a whole number from 1 to {maximum}; got {raw!r}")
    return int(raw)


def list_query(query: Any) -> ListQuery:
    """The ListOrders query string (a mapping of parameter → value) as a `ListQuery`.

    Raises:
        BadRequest: a filter, sort or page that is malformed or out of range.
    """
    order_by = query.get("orderBy")
    field, descending = "creationDate", True
    if order_by is not None:
        match = _ORDER_BY.match(order_by)
        if match is None:
            raise BadRequest(
                f"orderBy: <field>,<asc|desc> with field one of {', '.join(LIST_ORDER_FIELDS)}; got {order_by!r}"
            )
        field, descending = match["field"], match["direction"] == "desc"
    status = query.get("f_status")
    statuses = frozenset(s.strip() for s in status.split(",") if s.strip()) if status is not None else None
    text = query.get("q")
    return ListQuery(
        statuses=statuses,
        created=_range("f_creationDate", "creationDate", query.get("f_creationDate")),
        invoiced=_range("f_invoicedDate", "invoicedDate", query.get("f_invoicedDate")),
        authorized=_range("f_authorizedDate", "authorizedDate", query.get("f_authorizedDate")),
        text=text.strip() or None if text is not None else None,
        order_by=(field, descending),
        page=_int("page", query.get("page"), 1, MAX_PAGE),
        per_page=_int("per_page", query.get("per_page"), 15, MAX_PER_PAGE),
    )


async def get_order_list(request: web.Request) -> web.Response:
    """The orders as they are now (no indexing delay: the platform's takes about four minutes, its description
    says), filtered, sorted and paged."""
    query = list_query(request.query)
    orders = orders_of(request)
    latest = (o for o in (orders.store.get(i) for i in orders.store.ids()) if o is not None)
    return web.json_response(list_orders(latest, query))


_DATE_RANGE = (
    "{field}:[<from> TO <to>], ISO 8601 dates (`*`: open end), e.g. {field}:[2022-01-01T02:00:00.000Z TO "
    "2022-01-02T01:59:59.999Z]"
)
_LIST_QUERY = (
    Query(
        "f_status",
        {"type": "string"},
        description="Comma-separated statuses; an order matches if its status is any of them",
    ),
    Query(
        "f_creationDate",
        {"type": "string", "pattern": _RANGE["creationDate"].pattern},
        description=_DATE_RANGE.format(field="creationDate"),
    ),
    Query(
        "f_invoicedDate",
        {"type": "string", "pattern": _RANGE["invoicedDate"].pattern},
        description=_DATE_RANGE.format(field="invoicedDate"),
    ),
    Query(
        "f_authorizedDate",
        {"type": "string", "pattern": _RANGE["authorizedDate"].pattern},
        description=_DATE_RANGE.format(field="authorizedDate"),
    ),
    Query(
        "orderBy",
        {"type": "string", "pattern": _ORDER_BY.pattern},
        description="<field>,<asc|desc>; default creationDate,desc",
    ),
    Query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, description="Page, from 1"),
    Query(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        description="Orders per page (default 15)",
    ),
    Query("q", {"type": "string"}, description="Order id, client email, document or name (case-insensitive)"),
)


def order_read_routes() -> list[Route]:
    r = Route
    return [
        r(
            "GET",
            "/api/oms/pvt/orders/{orderId}",
            get_order,
            "orders",
            "Get order",
            "getOrder",
            responses={200: OrderDoc},
            faults="get_order",
        ),
        r(
            "GET",
            "/api/orders/pvt/document/{orderId}",
            get_order_pii,
            "orders",
            "Get order (PII data architecture)",
            "getOrderPii",
            responses={200: OrderPiiDoc},
            faults="get_order",
        ),
        r(
            "GET",
            "/api/oms/pvt/orders",
            get_order_list,
            "orders",
            "List orders",
            "listOrders",
            responses={200: OrderListDoc},
            query=_LIST_QUERY,
            faults="get_order",
        ),
    ]
