"""HTTP edge of order Changes: v2 (`/api/order-system/orders/{orderId}/changes...`, asynchronous), its settings,
v1 (`POST /api/oms/pvt/orders/{orderId}/changes`, synchronous) and the change summary.

Imports: aiohttp, pydantic, `simulator.errors`, `simulator.orders`, `simulator.web._orders_common`,
`simulator.web.order_reads_api`, `simulator.web.routing`.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadRequest
from ..orders.change_documents import change_history, change_summary
from ..orders.model import ChangeInput, ChangeItem, ChangeV1Input
from ._orders_common import CancelBody, Id, In, Money, Qty, Receipt, as_int, orders_of, receipt_answer
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


class ChangeV1Item(In):
    id: Id
    price: Money
    """Unit price, cents."""
    quantity: Qty

    def to_domain(self) -> ChangeItem:
        return ChangeItem(self.id, self.quantity, as_int(self.price))


class ChangeV1Body(In):
    """`POST /api/oms/pvt/orders/{orderId}/changes` (`RegisterChange`, Change v1): the caller computes the value
    (`incrementValue` - `discountValue`, cents); the item lists move quantities."""

    requestId: Id
    reason: Annotated[str, Field(max_length=500)]
    discountValue: Annotated[int, Field(ge=-(10**12), le=10**12)] | Annotated[str, Field(pattern=r"^-?[0-9]{1,12}$")]
    incrementValue: Annotated[int, Field(ge=-(10**12), le=10**12)] | Annotated[str, Field(pattern=r"^-?[0-9]{1,12}$")]
    itemsRemoved: Annotated[list[ChangeV1Item], Field(max_length=1000)] | None = None
    itemsAdded: Annotated[list[ChangeV1Item], Field(max_length=1000)] | None = None

    def to_domain(self) -> ChangeV1Input:
        return ChangeV1Input(
            request_id=self.requestId,
            reason=self.reason,
            discount_value=int(self.discountValue),
            increment_value=int(self.incrementValue),
            items_added=tuple(i.to_domain() for i in self.itemsAdded or ()),
            items_removed=tuple(i.to_domain() for i in self.itemsRemoved or ()),
        )


Names = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=100)]


class Workspaces(In):
    enabledWorkspaces: Names | None = None


class PaymentSettings(In):
    customPaymentSystemsAllowed: Names | None = None


class RolloutSettings(In):
    usingDefaultBehavior: bool | None = None
    enableApi: bool | None = None
    enableAdminOrders: Workspaces | None = None
    enableMyOrders: Workspaces | None = None


class PipelineSettings(In):
    enableTaxHubRecalculation: bool | None = None
    compensateShippingChanges: bool | None = None
    enablePromotionRecalculation: bool | None = None
    enableNativeTaxRecalculation: bool | None = None


class ChangeSettingsBody(In):
    """`PUT /api/order-system/orders/changes/settings`: the sections and fields sent replace the stored ones."""

    paymentConfiguration: PaymentSettings | None = None
    rolloutConfiguration: RolloutSettings | None = None
    pipelineConfiguration: PipelineSettings | None = None


class ChangeSettingsDoc(BaseModel):
    paymentConfiguration: dict[str, Any]
    rolloutConfiguration: dict[str, Any]
    pipelineConfiguration: dict[str, Any]


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
    history = change_history(orders.changes.get(order_id, {}).values(), orders.change_context(order_id))
    return web.json_response(history)


async def get_change(request: web.Request) -> web.Response:
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    await orders.read(order_id, "change_details")
    change = orders.change_request(order_id, request.match_info["changeRequestId"])
    return web.json_response(orders.change_document(change))


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


async def post_change_v1(request: web.Request) -> web.Response:
    body = await parse_body(request, ChangeV1Body)
    if not body.reason.strip():
        raise BadRequest("Field reason not set", code="OMS-CHANGE-REASON")
    orders = orders_of(request)
    order_id = request.match_info["orderId"]
    receipt = await orders.change_v1(order_id, body.to_domain())
    return receipt_answer(orders, order_id, receipt)


async def get_change_settings(request: web.Request) -> web.Response:
    return web.json_response(orders_of(request).change_settings)


async def put_change_settings(request: web.Request) -> web.Response:
    body = await parse_body(request, ChangeSettingsBody)
    orders = orders_of(request)
    sent = body.model_dump(exclude_none=True)
    orders.change_settings = {
        section: {**fields, **sent.get(section, {})} for section, fields in orders.change_settings.items()
    }
    return web.json_response(orders.change_settings)


_AN = (
    Query("an", {"type": "string"}, description="Account name (accepted and ignored)"),
    Query("accountName", {"type": "string"}, description="Account name (accepted and ignored)"),
)
_CHANGES = "/api/order-system/orders/{orderId}/changes"


def change_routes() -> list[Route]:
    r = Route
    return [
        r(
            "PATCH",
            _CHANGES,
            patch_changes,
            "orders",
            "Create a Change (asynchronous)",
            "createChange",
            body=ChangeBody,
            responses={202: ChangeDoc},
            query=_AN,
            faults="change",
        ),
        r(
            "GET",
            _CHANGES,
            get_changes,
            "orders",
            "Change history",
            "getChanges",
            responses={200: ChangeHistoryDoc},
            query=_AN,
            faults="reads",
        ),
        r(
            "POST",
            _CHANGES + "/preview",
            post_change_preview,
            "orders",
            "Preview a Change (dry run)",
            "previewChange",
            body=ChangeBody,
            responses={200: ChangeDoc},
            query=_AN,
            faults="reads",
        ),
        r(
            "GET",
            _CHANGES + "/{changeRequestId}",
            get_change,
            "orders",
            "Change details: status, inProgress, finished, logs",
            "getChange",
            responses={200: ChangeDoc},
            query=_AN,
            faults="reads",
        ),
        r(
            "POST",
            _CHANGES + "/{changeRequestId}/retry",
            post_change_retry,
            "orders",
            "Retry an unfinished Change",
            "retryChange",
            responses={204: None},
            query=_AN,
            faults="change",
        ),
        r(
            "POST",
            _CHANGES + "/{changeRequestId}/cancel",
            post_change_cancel,
            "orders",
            "Cancel an unfinished Change",
            "cancelChange",
            body=CancelBody,
            body_required=False,
            responses={200: ChangeDoc},
            query=_AN,
            faults="change",
        ),
        r(
            "GET",
            "/api/order-system/orders/changes/settings",
            get_change_settings,
            "orders",
            "Order modifications settings",
            "getChangeSettings",
            responses={200: ChangeSettingsDoc},
            query=_AN,
            faults="reads",
        ),
        r(
            "PUT",
            "/api/order-system/orders/changes/settings",
            put_change_settings,
            "orders",
            "Update order modifications settings",
            "updateChangeSettings",
            body=ChangeSettingsBody,
            responses={200: ChangeSettingsDoc},
            query=_AN,
            faults="change",
        ),
        r(
            "POST",
            "/api/oms/pvt/orders/{orderId}/changes",
            post_change_v1,
            "orders",
            "Register a Change v1 (synchronous; the caller computes the value)",
            "registerChange",
            body=ChangeV1Body,
            responses={200: Receipt},
            faults="change",
        ),
        r(
            "GET",
            "/api/orders/pvt/document/{orderId}/change-summary",
            get_change_summary,
            "orders",
            "Change summary",
            "getChangeSummary",
            responses={200: ChangeSummaryDoc},
            faults="reads",
        ),
    ]
