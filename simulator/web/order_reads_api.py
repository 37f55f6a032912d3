"""HTTP edge of the order reads: `GET /api/oms/pvt/orders/{orderId}` and the order document's response models.

The handler renders with `simulator.orders.documents` directly, once per version (no model round trip on the hot
path); the models here document the answer in `/openapi.json`.

Imports: aiohttp, pydantic, `simulator.orders`, `simulator.web._orders_common`, `simulator.web.routing`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ..orders.documents import order_document
from ._orders_common import orders_of
from .routing import Route

__all__ = ["OrderDoc", "OrderItemDoc", "order_read_routes"]


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


def order_read_routes() -> list[Route]:
    r = Route
    return [
        r("GET", "/api/oms/pvt/orders/{orderId}", get_order, "orders", "Get order", "getOrder",
          responses={200: OrderDoc}, faults="get_order"),
    ]  # fmt: skip
