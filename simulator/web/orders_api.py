"""HTTP edge of the Orders (OMS) writes on an order: invoices, tracking, start-handling, cancel; and the Orders
route table (`orders_routes`), which gathers the reads, Changes and events modules' routes too.

Request bodies are validated strictly with pydantic (names as the reference spells them), converted to domain
records, and handed to `OrdersService`.

Imports: aiohttp, pydantic, `simulator.orders`, `simulator.web` (the other Orders modules, `routing`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field, field_validator

from ..errors import BadRequest
from ..orders.model import InvoiceInput, InvoiceItem
from ._orders_common import CancelBody, Cents, Id, In, Qty, Receipt, Text, orders_of, receipt_answer
from .changes_api import change_routes
from .events_api import event_routes
from .order_reads_api import order_read_routes
from .routing import Route, parse_body

__all__ = ["orders_routes"]


# -- request bodies ------------------------------------------------------------------------------------------


class OmsInvoiceItem(In):
    id: Id
    price: Cents
    """Unit price, cents."""
    quantity: Qty
    description: Text | None = None


class OmsInvoiceBody(In):
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


class DocumentInvoiceItem(In):
    itemIndex: Annotated[int, Field(ge=0, le=10_000)]
    price: Cents
    """Total price of the invoiced line, cents."""
    quantity: Qty


class DocumentInvoiceBody(In):
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


class TrackingBody(In):
    trackingNumber: Text | None = None
    trackingUrl: Text | None = None
    courier: Text | None = None
    dispatchedDate: Text | None = None


# -- handlers ------------------------------------------------------------------------------------------------


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
    orders = orders_of(request)
    package = await orders.invoice(order_id, inv)
    return receipt_answer(orders, order_id, package.receipt)


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
    fields = {k: v for k, v in fields.items() if v is not None}
    if not fields:
        raise BadRequest("nothing to update: send trackingNumber, trackingUrl, courier or dispatchedDate")
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    await orders.update_tracking(order_id, request.match_info["invoiceNumber"], fields)
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
        r("POST", "/api/oms/pvt/orders/{orderId}/invoice", post_oms_invoice, "orders",
          "Order invoice notification (OMS form: invoiceValue is a string of cents)", "invoiceNotification",
          body=OmsInvoiceBody, responses={200: Receipt}, faults="invoice"),
        r("POST", "/api/orders/pvt/document/{orderId}/invoices", post_document_invoice, "orders",
          "Invoice notification (document form: invoiceValue in cents, items by itemIndex)", "invoiceDocument",
          body=DocumentInvoiceBody, responses={200: Receipt}, faults="invoice"),
        r("PATCH", "/api/oms/pvt/orders/{orderId}/invoice/{invoiceNumber}", patch_tracking, "orders",
          "Update order's partial invoice (tracking)", "updateTracking", body=TrackingBody,
          responses={200: Receipt}, faults="tracking"),
        r("POST", "/api/oms/pvt/orders/{orderId}/start-handling", post_start_handling, "orders",
          "Start handling (ready-for-handling → handling)", "startHandling", responses={204: None},
          faults="start_handling"),
        r("POST", "/api/oms/pvt/orders/{orderId}/cancel", post_cancel, "orders", "Cancel order", "cancelOrder",
          body=CancelBody, body_required=False, responses={200: Receipt}, faults="cancel"),
        *change_routes(),
        *event_routes(),
    ]  # fmt: skip
