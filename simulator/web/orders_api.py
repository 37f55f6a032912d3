"""HTTP edge of the Orders (OMS) service: request models, handlers, and their route table.

Request bodies are validated strictly with pydantic (names as the reference spells them), converted to domain
records, and handed to `OrdersService`. Response models here document the answers in `/openapi.json`; the
handlers render with `simulator.orders.documents` directly (no model round trip on the hot path).

Imports: aiohttp, pydantic, `simulator.orders`, `simulator.web.routing`, `simulator.web._state`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from ..errors import BadRequest, NotFound
from ..orders.documents import change_history, change_summary, order_document
from ..orders.model import STATUSES, ChangeInput, ChangeItem, InvoiceInput, InvoiceItem
from ..orders.service import HookConfig, OrdersService
from ._state import ORDERS
from .routing import Query, Route, parse_body

__all__ = ["orders_routes"]

Cents = Annotated[int, Field(ge=0, le=10**12)]
Text = Annotated[str, Field(max_length=500)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Qty = Annotated[int, Field(ge=1, le=1_000_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- request bodies ------------------------------------------------------------------------------------------


class OmsInvoiceItem(_In):
    id: Id
    price: Cents
    """Unit price, cents."""
    quantity: Qty
    description: Text | None = None


class OmsInvoiceBody(_In):
    """`POST /api/oms/pvt/orders/{orderId}/invoice`."""

    type: Literal["Output", "Input"]
    issuanceDate: Annotated[str, Field(min_length=1, max_length=64)]
    invoiceNumber: Id
    invoiceValue: Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
    """Cents as a string: `"2499"` is 24.99."""
    items: Annotated[list[OmsInvoiceItem], Field(min_length=1, max_length=1000)]
    invoiceKey: Text | None = None
    invoiceUrl: Text | None = None
    embeddedInvoice: Annotated[str, Field(max_length=100_000)] | None = None
    courier: Text | None = None
    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    dispatchedDate: Text | None = None

    @field_validator("invoiceValue")
    @classmethod
    def _positive(cls, v: str) -> str:
        if int(v) <= 0:
            raise ValueError("invoiceValue must be greater than 0 (cents)")
        return v


class DocumentInvoiceItem(_In):
    itemIndex: Annotated[int, Field(ge=0, le=10_000)]
    price: Cents
    """Total price of the invoiced line, cents."""
    quantity: Qty


class DocumentInvoiceBody(_In):
    """`POST /api/orders/pvt/document/{orderId}/invoices` (the form the known issue names)."""

    type: Literal["Output", "Input"]
    issuedDate: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}([T ].{0,40})?$")]
    invoiceNumber: Id
    invoiceValue: Annotated[int, Field(gt=0, le=10**12)] | Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
    """Cents: an integer (a string of digits before 2024-09; both accepted)."""
    items: Annotated[list[DocumentInvoiceItem], Field(min_length=1, max_length=1000)]
    extraValue: Cents | None = None
    invoiceKey: Text | None = None
    invoiceUrl: Text | None = None
    courier: Text | None = None
    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    cfop: Annotated[str, Field(max_length=20)] | None = None
    volumes: Annotated[int, Field(ge=0, le=100_000)] | None = None

    @field_validator("invoiceValue")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if int(v) <= 0:
            raise ValueError("invoiceValue must be greater than 0 (cents)")
        return v


class TrackingBody(_In):
    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    courier: Text | None = None
    dispatchedDate: Text | None = None


class ChangeItemBody(_In):
    id: Id
    quantity: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    uniqueId: Id | None = None
    price: Annotated[int, Field(ge=-(10**12), le=10**12)] | None = None
    measurementUnit: Annotated[str, Field(max_length=20)] | None = None
    unitMultiplier: Annotated[float, Field(gt=0, le=1_000_000)] | None = None

    def to_domain(self) -> ChangeItem:
        return ChangeItem(self.id, self.quantity, self.price, self.uniqueId, self.measurementUnit, self.unitMultiplier)


class ChangeItems(_In):
    items: Annotated[list[ChangeItemBody], Field(max_length=1000)]


class ChangeReplace(_In):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    from_: ChangeItems = Field(alias="from")
    to: ChangeItems


class ChangeBody(_In):
    """`PATCH /api/order-system/orders/{orderId}/changes` (and the preview)."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    add: ChangeItems | None = None
    remove: ChangeItems | None = None
    replace: Annotated[list[ChangeReplace], Field(max_length=100)] | None = None
    manualDiscountValue: Annotated[int, Field(ge=-(10**12), le=10**12)] | None = None
    manualIncrementValue: Annotated[int, Field(ge=-(10**12), le=10**12)] | None = None

    def to_domain(self) -> ChangeInput:
        def items(block: ChangeItems | None) -> tuple[ChangeItem, ...] | None:
            return None if block is None else tuple(i.to_domain() for i in block.items)

        return ChangeInput(
            reason=self.reason,
            add=items(self.add),
            remove=items(self.remove),
            replace=None
            if self.replace is None
            else tuple((items(r.from_) or (), items(r.to) or ()) for r in self.replace),
            manual_discount=self.manualDiscountValue or 0,
            manual_increment=self.manualIncrementValue or 0,
        )


class CancelBody(_In):
    reason: Text | None = None


class HookFilter(_In):
    type: Literal["FromWorkflow"]
    status: Annotated[list[str], Field(min_length=1, max_length=len(STATUSES))]

    @field_validator("status")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(STATUSES))
        if unknown:
            raise ValueError(f"unknown statuses {unknown}; known: {', '.join(STATUSES)}")
        return v


class HookTarget(_In):
    url: Annotated[str, Field(pattern=r"^https?://[^\s]{1,2000}$")]
    headers: dict[str, Annotated[str, Field(max_length=2000)]] | None = None


class HookConfigBody(_In):
    filter: HookFilter
    hook: HookTarget


class FeedCommitBody(_In):
    handles: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=1000)]


# -- response models (documentation; see module docstring) ----------------------------------------------------


class Receipt(BaseModel):
    date: str
    orderId: str
    receipt: str


class Total(BaseModel):
    id: str
    name: str
    value: int


class OrderItemDoc(BaseModel):
    uniqueId: str
    id: str
    productId: str
    name: str
    quantity: int
    price: int
    listPrice: int
    sellingPrice: int
    unitMultiplier: float
    measurementUnit: str


class PackageItemDoc(BaseModel):
    itemIndex: int
    quantity: int
    price: int


class PackageDoc(BaseModel):
    type: str
    invoiceNumber: str
    invoiceValue: int
    issuanceDate: str
    invoiceUrl: str | None
    invoiceKey: str | None
    embeddedInvoice: str | None
    courier: str
    trackingNumber: str
    trackingUrl: str
    dispatchedDate: str | None
    cfop: str | None
    volumes: int | None
    extraValue: int | None
    receipt: str
    items: list[PackageItemDoc]


class PackageAttachment(BaseModel):
    packages: list[PackageDoc]


class OrderDoc(BaseModel):
    orderId: str
    sequence: str
    status: str
    value: int
    updatedOrderValue: int
    totals: list[Total]
    items: list[OrderItemDoc]
    packageAttachment: PackageAttachment
    changesAttachment: dict[str, Any] | None
    creationDate: str
    lastChange: str
    invoicedDate: str | None
    isCompleted: bool
    allowCancellation: bool
    allowEdition: bool
    workflowIsInError: bool
    version: int


class ChangeLog(BaseModel):
    date: str
    message: str
    source: str
    status: str


class ChangeItemsDoc(BaseModel):
    items: list[dict[str, Any]]


class ChangeDoc(BaseModel):
    requestId: str
    workflowId: str
    status: str
    inProgress: bool
    finished: bool
    reason: str
    manualDiscountValue: int
    manualIncrementValue: int
    totalChangeValue: int
    totals: list[dict[str, Any]]
    add: ChangeItemsDoc | None
    remove: ChangeItemsDoc | None
    replace: list[dict[str, Any]] | None
    date: str
    origin: dict[str, str]
    logs: list[ChangeLog]
    cancellationData: dict[str, Any] | None = None


class ChangeHistoryDoc(BaseModel):
    requests: list[ChangeDoc]
    actions: list[dict[str, Any]]


class ChangeSummaryDoc(BaseModel):
    original: list[OrderItemDoc]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    replaced: list[dict[str, Any]]
    manualDiscountValueAggregated: int
    manualIncrementValueAggregated: int
    totalChangeValueAggregated: int
    totals: list[dict[str, Any]]
    lastChange: str | None


class HookConfigDoc(BaseModel):
    filter: dict[str, Any]
    hook: dict[str, Any]


class FeedEventDoc(BaseModel):
    eventId: str
    handle: str
    domain: str
    state: str
    lastState: str
    orderId: str
    lastChange: str
    currentChange: str
    availableDate: str


class FeedEventsDoc(RootModel[list[FeedEventDoc]]):
    pass


# -- handlers ------------------------------------------------------------------------------------------------


def _orders(request: web.Request) -> OrdersService:
    return request.app[ORDERS]


def _receipt(orders: OrdersService, order_id: str, receipt: str) -> web.Response:
    return web.json_response({"date": orders.core.iso(), "orderId": order_id, "receipt": receipt})


async def get_order(request: web.Request) -> web.Response:
    orders = _orders(request)
    order_id = request.match_info["orderId"]
    order = await orders.get_order(order_id, op_id=request.headers.get("X-Request-ID", ""))
    cached = orders.rendered.get(order_id)
    if cached is not None and cached[0] is order:
        body = cached[1]
    else:  # versions are immutable: render each one once (a lagging read may be served an older one)
        body = json.dumps(order_document(order)).encode()
        orders.rendered[order_id] = (order, body)
    return web.Response(body=body, content_type="application/json")


async def post_oms_invoice(request: web.Request) -> web.Response:
    body = await parse_body(request, OmsInvoiceBody)
    order_id = request.match_info["orderId"]
    inv = InvoiceInput(
        type=body.type,
        invoice_number=body.invoiceNumber,
        invoice_value=int(body.invoiceValue),
        issuance_date=body.issuanceDate,
        items=tuple(
            InvoiceItem(
                item_index=-1, quantity=i.quantity, price=i.price * i.quantity, sku_id=i.id, description=i.description
            )
            for i in body.items
        ),
        form="oms",
        invoice_url=body.invoiceUrl,
        invoice_key=body.invoiceKey,
        embedded_invoice=body.embeddedInvoice,
        courier=body.courier or "",
        tracking_number=body.trackingNumber or "",
        tracking_url=body.trackingUrl or "",
        dispatched_date=body.dispatchedDate,
    )
    orders = _orders(request)
    package = await orders.invoice(order_id, inv)
    return _receipt(orders, order_id, package.receipt)


async def post_document_invoice(request: web.Request) -> web.Response:
    body = await parse_body(request, DocumentInvoiceBody)
    order_id = request.match_info["orderId"]
    inv = InvoiceInput(
        type=body.type,
        invoice_number=body.invoiceNumber,
        invoice_value=int(body.invoiceValue),
        issuance_date=body.issuedDate,
        items=tuple(InvoiceItem(item_index=i.itemIndex, quantity=i.quantity, price=i.price) for i in body.items),
        form="document",
        invoice_url=body.invoiceUrl,
        invoice_key=body.invoiceKey,
        courier=body.courier or "",
        tracking_number=body.trackingNumber or "",
        tracking_url=body.trackingUrl or "",
        cfop=body.cfop,
        volumes=body.volumes,
        extra_value=body.extraValue,
    )
    orders = _orders(request)
    package = await orders.invoice(order_id, inv)
    return _receipt(orders, order_id, package.receipt)


async def patch_tracking(request: web.Request) -> web.Response:
    body = await parse_body(request, TrackingBody)
    fields = {
        "tracking_number": body.trackingNumber,
        "tracking_url": body.trackingUrl,
        "courier": body.courier,
        "dispatched_date": body.dispatchedDate,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if not fields:
        raise BadRequest("nothing to update: send trackingNumber, trackingUrl, courier or dispatchedDate")
    orders = _orders(request)
    order_id = request.match_info["orderId"]
    await orders.update_tracking(order_id, request.match_info["invoiceNumber"], fields)
    return _receipt(orders, order_id, orders.core.new_id(order_id, "receipt").replace("-", ""))


async def patch_changes(request: web.Request) -> web.Response:
    body = await parse_body(request, ChangeBody)
    answer = await _orders(request).create_change(request.match_info["orderId"], body.to_domain())
    return web.json_response(answer, status=202)


async def get_changes(request: web.Request) -> web.Response:
    orders = _orders(request)
    order_id = request.match_info["orderId"]
    await orders.read(order_id, "change_history")
    return web.json_response(change_history(orders.changes.get(order_id, {}).values()))


async def get_change(request: web.Request) -> web.Response:
    orders = _orders(request)
    order_id = request.match_info["orderId"]
    await orders.read(order_id, "change_details")
    return web.json_response(orders.change_request(order_id, request.match_info["changeRequestId"]).to_json())


async def post_change_preview(request: web.Request) -> web.Response:
    body = await parse_body(request, ChangeBody)
    return web.json_response(await _orders(request).preview_change(request.match_info["orderId"], body.to_domain()))


async def post_change_retry(request: web.Request) -> web.Response:
    await _orders(request).retry_change(request.match_info["orderId"], request.match_info["changeRequestId"])
    return web.Response(status=204)


async def post_change_cancel(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelBody, required=False)
    reason = (body.reason if body else None) or "Canceled through the API"
    answer = await _orders(request).cancel_change(
        request.match_info["orderId"], request.match_info["changeRequestId"], reason
    )
    return web.json_response(answer)


async def get_change_summary(request: web.Request) -> web.Response:
    orders = _orders(request)
    order_id = request.match_info["orderId"]
    order = await orders.read(order_id, "change_summary")
    return web.json_response(change_summary(order, orders.changes.get(order_id, {}).values()))


async def post_start_handling(request: web.Request) -> web.Response:
    await _orders(request).start_handling(request.match_info["orderId"])
    return web.Response(status=204)


async def post_cancel(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelBody, required=False)
    orders = _orders(request)
    order_id = request.match_info["orderId"]
    await orders.cancel_order(order_id, body.reason if body else None)
    return _receipt(orders, order_id, orders.core.new_id(order_id, "receipt").replace("-", ""))


async def get_hook_config(request: web.Request) -> web.Response:
    hook = _orders(request).hook
    if hook is None:
        raise NotFound("No hook is configured", code="OMS-HOOK-NOT-FOUND")
    return web.json_response(hook.to_json())


async def post_hook_config(request: web.Request) -> web.Response:
    body = await parse_body(request, HookConfigBody)
    config = HookConfig(
        filter_type=body.filter.type,
        statuses=frozenset(body.filter.status),
        url=body.hook.url,
        headers=dict(body.hook.headers or {}),
    )
    await _orders(request).configure_hook(config)
    return web.json_response(config.to_json())


async def delete_hook_config(request: web.Request) -> web.Response:
    _orders(request).hook = None
    return web.Response(status=204)


async def get_feed(request: web.Request) -> web.Response:
    raw = request.query.get("maxlot", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10:
        raise BadRequest(f"maxlot must be an integer from 1 to 10, got {raw!r}")
    events = _orders(request).feed_events(int(raw))
    return web.json_response([e.to_json() for e in events])


async def post_feed_commit(request: web.Request) -> web.Response:
    body = await parse_body(request, FeedCommitBody)
    _orders(request).feed_commit(body.handles)
    return web.Response(status=204)


_AN = (Query("an", {"type": "string"}, description="Account name (accepted and ignored)"),
       Query("accountName", {"type": "string"}, description="Account name (accepted and ignored)"))  # fmt: skip
_CHANGES = "/api/order-system/orders/{orderId}/changes"


def orders_routes() -> list[Route]:
    r = Route
    return [
        r("GET", "/api/oms/pvt/orders/{orderId}", get_order, "orders", "Get order", "getOrder",
          responses={200: OrderDoc}),
        r("POST", "/api/oms/pvt/orders/{orderId}/invoice", post_oms_invoice, "orders",
          "Order invoice notification (OMS form: invoiceValue is a string of cents)", "invoiceNotification",
          body=OmsInvoiceBody, responses={200: Receipt}),
        r("POST", "/api/orders/pvt/document/{orderId}/invoices", post_document_invoice, "orders",
          "Invoice notification (document form: invoiceValue in cents, items by itemIndex)", "invoiceDocument",
          body=DocumentInvoiceBody, responses={200: Receipt}),
        r("PATCH", "/api/oms/pvt/orders/{orderId}/invoice/{invoiceNumber}", patch_tracking, "orders",
          "Update order's partial invoice (tracking)", "updateTracking", body=TrackingBody,
          responses={200: Receipt}),
        r("PATCH", _CHANGES, patch_changes, "orders", "Create a Change (asynchronous)", "createChange",
          body=ChangeBody, responses={202: ChangeDoc}, query=_AN),
        r("GET", _CHANGES, get_changes, "orders", "Change history", "getChanges",
          responses={200: ChangeHistoryDoc}, query=_AN),
        r("POST", _CHANGES + "/preview", post_change_preview, "orders", "Preview a Change (dry run)",
          "previewChange", body=ChangeBody, responses={200: ChangeDoc}, query=_AN),
        r("GET", _CHANGES + "/{changeRequestId}", get_change, "orders",
          "Change details: status, inProgress, finished, logs", "getChange", responses={200: ChangeDoc}, query=_AN),
        r("POST", _CHANGES + "/{changeRequestId}/retry", post_change_retry, "orders", "Retry an unfinished Change",
          "retryChange", responses={204: None}, query=_AN),
        r("POST", _CHANGES + "/{changeRequestId}/cancel", post_change_cancel, "orders",
          "Cancel an unfinished Change", "cancelChange", body=CancelBody, body_required=False,
          responses={200: ChangeDoc}, query=_AN),
        r("GET", "/api/orders/pvt/document/{orderId}/change-summary", get_change_summary, "orders",
          "Change summary", "getChangeSummary", responses={200: ChangeSummaryDoc}),
        r("POST", "/api/oms/pvt/orders/{orderId}/start-handling", post_start_handling, "orders",
          "Start handling (ready-for-handling → handling)", "startHandling", responses={204: None}),
        r("POST", "/api/oms/pvt/orders/{orderId}/cancel", post_cancel, "orders", "Cancel order", "cancelOrder",
          body=CancelBody, body_required=False, responses={200: Receipt}),
        r("GET", "/api/orders/hook/config", get_hook_config, "orders", "Get the order hook configuration",
          "getHookConfig", responses={200: HookConfigDoc}),
        r("POST", "/api/orders/hook/config", post_hook_config, "orders",
          "Configure the order hook (the URL is pinged and must answer 200)", "setHookConfig",
          body=HookConfigBody, responses={200: HookConfigDoc}),
        r("DELETE", "/api/orders/hook/config", delete_hook_config, "orders", "Delete the order hook",
          "deleteHookConfig", responses={204: None}),
        r("GET", "/api/orders/feed", get_feed, "orders", "Retrieve feed items", "getFeed",
          responses={200: FeedEventsDoc},
          query=[Query("maxlot", {"type": "integer", "minimum": 1, "maximum": 10}, description="1 to 10")]),
        r("POST", "/api/orders/feed", post_feed_commit, "orders", "Commit feed items", "commitFeed",
          body=FeedCommitBody, responses={204: None}),
    ]  # fmt: skip
