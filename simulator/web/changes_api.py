"""HTTP edge of order Changes v2 (`/api/order-system/orders/{orderId}/changes...`) and the change summary.

Imports: aiohttp, pydantic, `simulator.orders`, `simulator.web._orders_common`, `simulator.web.order_reads_api`,
`simulator.web.routing`.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..orders.documents import change_history, change_summary
from ..orders.model import ChangeInput, ChangeItem
from ._orders_common import CancelBody, Id, In, orders_of
from .order_reads_api import OrderItemDoc
from .routing import Query, Route, parse_body

__all__ = ["change_routes"]


class ChangeItemBody(In):
    id: Id
    quantity: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    uniqueId: Id | None = None
    price: Annotated[int, Field(ge=-(10**12), le=10**12)] | None = None
    measurementUnit: Annotated[str, Field(max_length=20)] | None = None
    unitMultiplier: Annotated[float, Field(gt=0, le=1_000_000)] | None = None

    def to_domain(self) -> ChangeItem:
        return ChangeItem(self.id, self.quantity, self.price, self.uniqueId, self.measurementUnit, self.unitMultiplier)


class ChangeItems(In):
    items: Annotated[list[ChangeItemBody], Field(max_length=1000)]


class ChangeReplace(In):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    from_: ChangeItems = Field(alias="from")
    to: ChangeItems


class ChangeBody(In):
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


async def patch_changes(request: web.Request) -> web.Response:
    body = await parse_body(request, ChangeBody)
    answer = await orders_of(request).create_change(request.match_info["orderId"], body.to_domain())
    return web.json_response(answer, status=202)


async def get_changes(request: web.Request) -> web.Response:
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    await orders.read(order_id, "change_history")
    return web.json_response(change_history(orders.changes.get(order_id, {}).values()))


async def get_change(request: web.Request) -> web.Response:
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    await orders.read(order_id, "change_details")
    return web.json_response(orders.change_request(order_id, request.match_info["changeRequestId"]).to_json())


async def post_change_preview(request: web.Request) -> web.Response:
    body = await parse_body(request, ChangeBody)
    return web.json_response(await orders_of(request).preview_change(request.match_info["orderId"], body.to_domain()))


async def post_change_retry(request: web.Request) -> web.Response:
    await orders_of(request).retry_change(request.match_info["orderId"], request.match_info["changeRequestId"])
    return web.Response(status=204)


async def post_change_cancel(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelBody, required=False)
    reason = (body.reason if body else None) or "Canceled through the API"
    answer = await orders_of(request).cancel_change(
        request.match_info["orderId"], request.match_info["changeRequestId"], reason
    )
    return web.json_response(answer)


async def get_change_summary(request: web.Request) -> web.Response:
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    order = await orders.read(order_id, "change_summary")
    return web.json_response(change_summary(order, orders.changes.get(order_id, {}).values()))


_AN = (Query("an", {"type": "string"}, description="Account name (accepted and ignored)"),
       Query("accountName", {"type": "string"}, description="Account name (accepted and ignored)"))  # fmt: skip
_CHANGES = "/api/order-system/orders/{orderId}/changes"


def change_routes() -> list[Route]:
    r = Route
    return [
        r("PATCH", _CHANGES, patch_changes, "orders", "Create a Change (asynchronous)", "createChange",
          body=ChangeBody, responses={202: ChangeDoc}, query=_AN, faults="change"),
        r("GET", _CHANGES, get_changes, "orders", "Change history", "getChanges",
          responses={200: ChangeHistoryDoc}, query=_AN, faults="reads"),
        r("POST", _CHANGES + "/preview", post_change_preview, "orders", "Preview a Change (dry run)",
          "previewChange", body=ChangeBody, responses={200: ChangeDoc}, query=_AN, faults="reads"),
        r("GET", _CHANGES + "/{changeRequestId}", get_change, "orders",
          "Change details: status, inProgress, finished, logs", "getChange", responses={200: ChangeDoc}, query=_AN,
          faults="reads"),
        r("POST", _CHANGES + "/{changeRequestId}/retry", post_change_retry, "orders", "Retry an unfinished Change",
          "retryChange", responses={204: None}, query=_AN, faults="change"),
        r("POST", _CHANGES + "/{changeRequestId}/cancel", post_change_cancel, "orders",
          "Cancel an unfinished Change", "cancelChange", body=CancelBody, body_required=False,
          responses={200: ChangeDoc}, query=_AN, faults="change"),
        r("GET", "/api/orders/pvt/document/{orderId}/change-summary", get_change_summary, "orders",
          "Change summary", "getChangeSummary", responses={200: ChangeSummaryDoc}, faults="reads"),
    ]  # fmt: skip
