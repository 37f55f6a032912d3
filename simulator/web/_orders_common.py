"""What the Orders API's HTTP modules share: the strict request-model base, field types, the receipt answer.

Imports: aiohttp, pydantic, `simulator.orders.service`, `simulator.web._state`.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..orders.service import OrdersService
from ._state import ORDERS

__all__ = ["CancelBody", "Cents", "Id", "In", "Qty", "Receipt", "Text", "orders_of", "receipt_answer"]

Cents = Annotated[int, Field(ge=0, le=10**12)]
Text = Annotated[str, Field(max_length=500)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Qty = Annotated[int, Field(ge=1, le=1_000_000)]


class In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CancelBody(In):
    reason: Text | None = None


class Receipt(BaseModel):
    date: str
    orderId: str
    receipt: str


def orders_of(request: web.Request) -> OrdersService:
    return request.app[ORDERS]


def receipt_answer(orders: OrdersService, order_id: str, receipt: str) -> web.Response:
    return web.json_response({"date": orders.core.iso(), "orderId": order_id, "receipt": receipt})
