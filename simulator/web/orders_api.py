"""HTTP edge of the Orders (OMS) writes on an order: invoices, tracking, start-handling, cancel; and the Orders
route table (`orders_routes`), which gathers the reads, Changes and events modules' routes too.

Request bodies are validated strictly with pydantic (names as the reference spells them), converted to domain
records, and handed to `OrdersService`.

Imports: aiohttp, pydantic, `simulator.orders`, `simulator.web` (the other Orders modules, `routing`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from ..orders.model import InvoiceInput, InvoiceItem
from ._orders_common import (
    CancelBody,
    Id,
    In,
    Money,
    PositiveMoney,
    Qty,
    Receipt,
    Text,
    as_int,
    orders_of,
    receipt_answer,
)
from .changes_api import change_routes
from .events_api import event_routes
from .order_reads_api import order_read_routes
from .routing import Route, parse_body

__all__ = ["orders_routes"]


# -- request bodies ------------------------------------------------------------------------------------------


SkuId = Id | Annotated[int, Field(ge=0, le=10**15)]
"""A SKU id: a string as published; some integrations send a number."""
ItemIndex = Annotated[int, Field(ge=0, le=10_000)] | Annotated[str, Field(pattern=r"^(0|[1-9][0-9]{0,3})$")]
"""A 0-based order line index, as a number or (as some integrations send it) a string of digits."""
MaxItems = Field(max_length=1000)


class OmsInvoiceItem(In):
    id: SkuId
    price: Money
    """Unit price, cents."""
    quantity: Qty
    description: Text | None = None


class OmsInvoiceBody(In):
    """`POST /api/oms/pvt/orders/{orderId}/invoice` (`InvoiceNotification`). The published schema types
    `invoiceValue` as a string of cents; integrations send numbers too, and both are taken. `items` may be left out
    or empty for a whole-order invoice: the package then lists every line."""

    type: Literal["Output", "Input"]
    issuanceDate: Annotated[str, Field(min_length=1, max_length=64)]
    invoiceNumber: Id
    invoiceValue: PositiveMoney
    items: Annotated[list[OmsInvoiceItem], MaxItems] | None = None
    invoiceKey: Text | None = None
    invoiceUrl: Text | None = None
    embeddedInvoice: Annotated[str, Field(max_length=100_000)] | None = None
    courier: Text | None = None
    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    dispatchedDate: Text | None = None


class DocumentInvoiceItem(In):
    itemIndex: ItemIndex
    price: Money
    """Total price of the invoiced line, cents."""
    quantity: Qty


class DocumentInvoiceBody(In):
    """`POST /api/orders/pvt/document/{orderId}/invoices` (`InvoiceNotification2`, the form the known issue names):
    `invoiceValue` an integer since 2024-09 (a string of digits before; both taken)."""

    type: Literal["Output", "Input"]
    issuedDate: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}([T ].{0,40})?$")]
    invoiceNumber: Id
    invoiceValue: PositiveMoney
    items: Annotated[list[DocumentInvoiceItem], MaxItems] | None = None
    extraValue: Money | None = None
    invoiceKey: Text | None = None
    invoiceUrl: Text | None = None
    courier: Text | None = None
    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    cfop: Annotated[str, Field(max_length=20)] | None = None
    volumes: Annotated[int, Field(ge=0, le=100_000)] | None = None


class TrackingBody(In):
    """`PATCH .../invoice/{invoiceNumber}` (`Updatepartialinvoice.SendTrackingNumber`): any of the four."""

    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    courier: Text | None = None
    dispatchedDate: Text | None = None


class TrackingEvent(In):
    city: Text
    state: Text
    description: Text
    date: Annotated[str, Field(min_length=1, max_length=64)]


class TrackingStatusBody(In):
    """`PUT .../invoice/{invoiceNumber}/tracking` (`UpdateTrackingStatus`): the carrier's events so far."""

    isDelivered: bool
    deliveredDate: Annotated[str, Field(max_length=64)] | None = None
    events: Annotated[list[TrackingEvent], Field(max_length=1000)]


# -- handlers ------------------------------------------------------------------------------------------------


async def post_oms_invoice(request: web.Request) -> web.Response:
    body = await parse_body(request, OmsInvoiceBody)
    order_id = request.match_info["orderId"]
    inv = InvoiceInput(
        type=body.type,
        invoice_number=body.invoiceNumber,
        invoice_value=as_int(body.invoiceValue),
        issuance_date=body.issuanceDate,
        items=tuple(
            InvoiceItem(
                item_index=-1,
                quantity=i.quantity,
                price=as_int(i.price) * i.quantity,
                sku_id=str(i.id),
                description=i.description,
            )
            for i in body.items or ()
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
    orders = orders_of(request)
    package = await orders.invoice(order_id, inv)
    return receipt_answer(orders, order_id, package.receipt)


async def post_document_invoice(request: web.Request) -> web.Response:
    body = await parse_body(request, DocumentInvoiceBody)
    order_id = request.match_info["orderId"]
    inv = InvoiceInput(
        type=body.type,
        invoice_number=body.invoiceNumber,
        invoice_value=as_int(body.invoiceValue),
        issuance_date=body.issuedDate,
        items=tuple(
            InvoiceItem(item_index=as_int(i.itemIndex), quantity=i.quantity, price=as_int(i.price))
            for i in body.items or ()
        ),
        form="document",
        invoice_url=body.invoiceUrl,
        invoice_key=body.invoiceKey,
        courier=body.courier or "",
        tracking_number=body.trackingNumber or "",
        tracking_url=body.trackingUrl or "",
        cfop=body.cfop,
        volumes=body.volumes,
        extra_value=None if body.extraValue is None else as_int(body.extraValue),
    )
    orders = orders_of(request)
    package = await orders.invoice(order_id, inv)
    return receipt_answer(orders, order_id, package.receipt)


async def patch_tracking(request: web.Request) -> web.Response:
    body = await parse_body(request, TrackingBody)
    fields = {
        "tracking_number": body.trackingNumber,
        "tracking_url": body.trackingUrl,
        "courier": body.courier,
        "dispatched_date": body.dispatchedDate,
    }
    fields = {k: v for k, v in fields.items() if v is not None}  # an empty update changes nothing, answered 200
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    await orders.update_tracking(order_id, request.match_info["invoiceNumber"], fields)
    return receipt_answer(orders, order_id, orders.core.new_id(order_id, "receipt").replace("-", ""))


async def put_tracking_status(request: web.Request) -> web.Response:
    body = await parse_body(request, TrackingStatusBody)
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    status = {
        "status": "delivered" if body.isDelivered else ("in transit" if body.events else None),
        "finished": body.isDelivered,
        "deliveredDate": body.deliveredDate or "",
        "data": [
            {"lastChange": e.date, "city": e.city, "state": e.state, "description": e.description, "createDate": e.date}
            for e in body.events
        ],
    }
    await orders.update_tracking(order_id, request.match_info["invoiceNumber"], {"courier_status": status})
    return receipt_answer(orders, order_id, orders.core.new_id(order_id, "receipt").replace("-", ""))


async def post_start_handling(request: web.Request) -> web.Response:
    await orders_of(request).start_handling(request.match_info["orderId"])
    return web.Response(status=204)


async def post_cancel(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelBody, required=False)
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    await orders.cancel_order(order_id, body.reason if body else None)
    return receipt_answer(orders, order_id, orders.core.new_id(order_id, "receipt").replace("-", ""))


def orders_routes() -> list[Route]:
    """Every Orders route: this module's writes, the reads, the Changes, hooks and feed."""
    r = Route
    return [
        *order_read_routes(),
        r(
            "POST",
            "/api/oms/pvt/orders/{orderId}/invoice",
            post_oms_invoice,
            "orders",
            "Order invoice notification (OMS form: invoiceValue is a string of cents)",
            "invoiceNotification",
            body=OmsInvoiceBody,
            responses={200: Receipt},
            faults="invoice",
        ),
        r(
            "POST",
            "/api/orders/pvt/document/{orderId}/invoices",
            post_document_invoice,
            "orders",
            "Invoice notification (document form: invoiceValue in cents, items by itemIndex)",
            "invoiceDocument",
            body=DocumentInvoiceBody,
            responses={200: Receipt},
            faults="invoice",
        ),
        r(
            "PATCH",
            "/api/oms/pvt/orders/{orderId}/invoice/{invoiceNumber}",
            patch_tracking,
            "orders",
            "Update order's partial invoice (tracking)",
            "updateTracking",
            body=TrackingBody,
            responses={200: Receipt},
            faults="tracking",
        ),
        r(
            "PUT",
            "/api/oms/pvt/orders/{orderId}/invoice/{invoiceNumber}/tracking",
            put_tracking_status,
            "orders",
            "Update order tracking status (the carrier's events; isDelivered)",
            "updateTrackingStatus",
            body=TrackingStatusBody,
            responses={200: Receipt},
            faults="tracking",
        ),
        r(
            "POST",
            "/api/oms/pvt/orders/{orderId}/start-handling",
            post_start_handling,
            "orders",
            "Start handling (ready-for-handling → handling; any other status: 409)",
            "startHandling",
            responses={204: None},
            faults="start_handling",
        ),
        r(
            "POST",
            "/api/orders/pvt/document/{orderId}/actions/start-handling",
            post_start_handling,
            "orders",
            "Start handling, PII version (ready-for-handling → handling)",
            "startHandlingDocument",
            responses={204: None},
            faults="start_handling",
        ),
        r(
            "POST",
            "/api/oms/pvt/orders/{orderId}/cancel",
            post_cancel,
            "orders",
            "Cancel order (the order goes through cancel to canceled)",
            "cancelOrder",
            body=CancelBody,
            body_required=False,
            responses={200: Receipt},
            faults="cancel",
        ),
        r(
            "POST",
            "/api/orders/pvt/document/{orderId}/cancel",
            post_cancel,
            "orders",
            "Cancel order, PII version",
            "cancelOrderDocument",
            body=CancelBody,
            body_required=False,
            responses={200: Receipt},
            faults="cancel",
        ),
        *change_routes(),
        *event_routes(),
    ]
