"""What the Orders API's HTTP modules share: the strict request-model base, field types, the receipt answer, and
the application key a request came with (`app_key_of`, set by the edge middleware in `app.py`).

Imports: aiohttp, pydantic, `simulator.orders.service`, `simulator.web._state`.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..orders.service import OrdersService
from ._state import ORDERS

__all__ = [
    "APP_KEY",
    "CancelBody",
    "Cents",
    "Id",
    "In",
    "Money",
    "PositiveMoney",
    "Qty",
    "Receipt",
    "Text",
    "app_key_of",
    "as_int",
    "orders_of",
    "receipt_answer",
]

APP_KEY = web.RequestKey("vtex_app_key", str)
"""The application key (`X-VTEX-API-AppKey`) of an Orders request; set by the edge middleware (`app.py`)."""

Cents = Annotated[int, Field(ge=0, le=10**12)]
Text = Annotated[str, Field(max_length=500)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Qty = Annotated[int, Field(ge=1, le=1_000_000)]
Money = Annotated[int, Field(ge=0, le=10**12)] | Annotated[str, Field(pattern=r"^(0|[1-9][0-9]{0,11})$")]
"""Cents, as a number or a string of digits: the published schemas type some amounts as strings (the OMS invoice's
`invoiceValue`), real integrations send numbers, and the platform takes both."""
PositiveMoney = Annotated[int, Field(gt=0, le=10**12)] | Annotated[str, Field(pattern=r"^[1-9][0-9]{0,11}$")]
"""`Money` above zero (an invoice's value)."""


def as_int(value: int | str) -> int:
    """A `Money` (or any number-or-digits field) as an integer."""
    return value if isinstance(value, int) else int(value)


class In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CancelBody(In):
    reason: Text | None = None


class Receipt(BaseModel):
    date: str
    orderId: str
    receipt: str


def app_key_of(request: web.Request) -> str | None:
    """The application key the request came with: with credentials configured, the key it authenticated with (None
    when it authenticated with a user token); without, the `X-VTEX-API-AppKey` it sent, unchecked (None if none).
    What a hook configured by this request shows as `Origin.Key`."""
    return request.get(APP_KEY)


def orders_of(request: web.Request) -> OrdersService:
    return request.app[ORDERS]


def receipt_answer(orders: OrdersService, order_id: str, receipt: str) -> web.Response:
    return web.json_response({"date": orders.core.iso(), "orderId": order_id, "receipt": receipt})
