"""HTTP edge of how integrations learn about orders: the order hook, the Feed v3 (configuration, items, commit),
and the JSONata test route.

Each app key has its own hook and feed: the `X-VTEX-API-AppKey` of the request says whose (`DEFAULT_APP_KEY` when
none is sent). Official doc (vtex-orders-api.openapi.json): `/paths/~1api~1orders~1hook~1config`,
`/paths/~1api~1orders~1feed~1config`, `/paths/~1api~1orders~1feed`, `/paths/~1api~1orders~1expressions~1jsonata`.

Imports: aiohttp, pydantic, `simulator.errors`, `simulator.orders.events`, `simulator.web._orders_common`,
`simulator.web.routing`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, RootModel

from ..errors import BadRequest, Conflict, NotFound
from ..orders.events import (
    DEFAULT_APP_KEY,
    EVERY_STATUS_CHANGE,
    RETENTION_MAX_S,
    RETENTION_MIN_S,
    VISIBILITY_MAX_S,
    EventFilter,
    Expression,
    FeedConfig,
    HookConfig,
    OrderEvents,
    QueueConfig,
    parse_document,
)
from ._orders_common import In, app_key_of, orders_of
from .routing import Query, Route, parse_body

__all__ = ["event_routes"]

_ERROR = {"$ref": "#/components/schemas/OrdersError"}

StatusName = Annotated[str, Field(min_length=1, max_length=100)]
"""Any status name: the platform's own examples use names its list does not have (`order-completed`), so it does not
check them against a list; an empty name can never match, so it is refused."""
ExpressionText = Annotated[str, Field(min_length=1, max_length=10_000)]


StatusList = Annotated[list[StatusName], Field(min_length=1, max_length=100)]


class WorkflowFilterIn(In):
    """`{"type": "FromWorkflow", "status": [...]}`. The other type's fields are declared so that mixing the two is
    answered as the Feed v3 guide says (409), rather than silently ignored."""

    type: Literal["FromWorkflow"]
    status: StatusList
    expression: ExpressionText | None = None
    disableSingleFire: bool | None = None


class FeedWorkflowFilterIn(WorkflowFilterIn):
    """A feed's FromWorkflow filter may leave `status` out: every status change (the Feed v3 guide)."""

    status: StatusList | None = None  # type: ignore[assignment]


class OrdersFilterIn(In):
    """`{"type": "FromOrders", "expression": "<JSONata>", "disableSingleFire": false}`."""

    type: Literal["FromOrders"]
    expression: ExpressionText
    disableSingleFire: bool | None = None
    status: StatusList | None = None


HookFilterIn = Annotated[WorkflowFilterIn | OrdersFilterIn, Field(discriminator="type")]
FeedFilterIn = Annotated[FeedWorkflowFilterIn | OrdersFilterIn, Field(discriminator="type")]


class HookTarget(In):
    url: Annotated[str, Field(pattern=r"^https?://[^\s]{1,2000}$")]
    headers: dict[str, Annotated[str, Field(max_length=2000)]] | None = None


class HookConfigBody(In):
    filter: HookFilterIn
    hook: HookTarget


class QueueIn(In):
    visibilityTimeoutInSeconds: Annotated[int, Field(ge=0, le=VISIBILITY_MAX_S)]
    MessageRetentionPeriodInSeconds: Annotated[int, Field(ge=RETENTION_MIN_S, le=RETENTION_MAX_S)] | None = None
    messageRetentionPeriodInSeconds: Annotated[int, Field(ge=RETENTION_MIN_S, le=RETENTION_MAX_S)] | None = None
    """The spelling of the official GET example and of the Feed v3 guide; the POST schema has a capital M. Either;
    neither: `DEFAULT_RETENTION_S` (the value of every published example, four days)."""


class FeedConfigBody(In):
    filter: FeedFilterIn | None = None
    queue: QueueIn


class FeedCommitBody(In):
    handles: Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=1000)]


class JsonataTestBody(In):
    Expression: ExpressionText
    Document: Annotated[str, Field(max_length=1_000_000)]


class HookConfigDoc(BaseModel):
    filter: dict[str, Any]
    hook: dict[str, Any]


class FeedConfigDoc(BaseModel):
    filter: dict[str, Any]
    queue: dict[str, int]
    quantity: int
    approximateAgeOfOldestMessageInSeconds: float


class FeedItemDoc(BaseModel):
    eventId: str
    handle: str
    domain: str
    state: str
    lastState: str
    orderId: str
    lastChange: str
    currentChange: str


class FeedItemsDoc(RootModel[list[FeedItemDoc]]):
    pass


DEFAULT_RETENTION_S = 345_600


def _events(request: web.Request) -> tuple[OrderEvents, str]:
    """The service's events and whose they are: the app key the request authenticated with (or sent, when
    credentials are not checked); `DEFAULT_APP_KEY` for a user token or no key."""
    return orders_of(request).events, app_key_of(request) or DEFAULT_APP_KEY


def _filter(body: WorkflowFilterIn | OrdersFilterIn) -> EventFilter:
    """The domain filter of a `filter` body. The Feed v3 guide: the two types are mutually exclusive, "If you
    combine them, you will get a `409 conflict` status response"."""
    if isinstance(body, WorkflowFilterIn):
        if body.expression is not None or body.disableSingleFire is not None:
            raise Conflict(
                "filter: FromWorkflow takes `status`, not `expression` or `disableSingleFire`",
                code="OMS-FILTER-CONFLICT",
            )
        return EVERY_STATUS_CHANGE if body.status is None else EventFilter.from_workflow(body.status)
    if body.status is not None:
        raise Conflict(
            "filter: FromOrders takes `expression` and `disableSingleFire`, not `status`", code="OMS-FILTER-CONFLICT"
        )
    return EventFilter.from_orders(Expression(body.expression), disable_single_fire=bool(body.disableSingleFire))


# -- hook ------------------------------------------------------------------------------------------------------------


async def get_hook_config(request: web.Request) -> web.Response:
    events, key = _events(request)
    hook = events.hook(key)
    if hook is None:
        raise NotFound("No hook is configured", code="OMS-HOOK-NOT-FOUND")
    return web.json_response(hook.to_json())


async def post_hook_config(request: web.Request) -> web.Response:
    body = await parse_body(request, HookConfigBody)
    events, key = _events(request)
    config = HookConfig(
        filter=_filter(body.filter),
        url=body.hook.url,
        headers=dict(body.hook.headers or {}),
        app_key=key,
    )
    await events.configure_hook(config)
    return web.json_response(config.to_json())


async def delete_hook_config(request: web.Request) -> web.Response:
    events, key = _events(request)
    events.delete_hook(key)
    return web.Response(status=200)


# -- feed ------------------------------------------------------------------------------------------------------------


async def get_feed_config(request: web.Request) -> web.Response:
    events, key = _events(request)
    return web.json_response(events.feed_config(key))


async def post_feed_config(request: web.Request) -> web.Response:
    body = await parse_body(request, FeedConfigBody)
    queue_in = body.queue
    retention = queue_in.MessageRetentionPeriodInSeconds or queue_in.messageRetentionPeriodInSeconds
    events, key = _events(request)
    flt = EVERY_STATUS_CHANGE if body.filter is None else _filter(body.filter)
    queue = QueueConfig(queue_in.visibilityTimeoutInSeconds, retention or DEFAULT_RETENTION_S)
    events.configure_feed(FeedConfig(flt, queue, app_key=key))
    return web.Response(status=200)


async def delete_feed_config(request: web.Request) -> web.Response:
    events, key = _events(request)
    events.delete_feed(key)
    return web.Response(status=200)


async def get_feed(request: web.Request) -> web.Response:
    raw = request.query.get("maxlot")
    if raw is None or not re.fullmatch(r"[0-9]{1,2}", raw) or not 1 <= int(raw) <= 10:
        raise BadRequest(f"maxlot must be an integer from 1 to 10, got {raw!r}")
    events, key = _events(request)
    return web.json_response([item.to_json() for item in events.feed_read(key, int(raw))])


async def post_feed_commit(request: web.Request) -> web.Response:
    body = await parse_body(request, FeedCommitBody)
    events, key = _events(request)
    events.feed_commit(key, body.handles)
    return web.Response(status=200)


async def post_jsonata_test(request: web.Request) -> web.Response:
    body = await parse_body(request, JsonataTestBody)
    document = parse_document(body.Document)
    return web.json_response(Expression(body.Expression).matches(document))


def event_routes() -> list[Route]:
    r = Route
    hook, feed = "hook_config", "feed"
    return [
        r(
            "GET",
            "/api/orders/hook/config",
            get_hook_config,
            "orders",
            "Get hook configuration",
            "GetHookConfiguration",
            responses={200: HookConfigDoc},
            faults=hook,
        ),
        r(
            "POST",
            "/api/orders/hook/config",
            post_hook_config,
            "orders",
            "Create or update hook configuration (the URL is pinged and must answer 200)",
            "HookConfiguration",
            body=HookConfigBody,
            responses={200: HookConfigDoc, 409: _ERROR},
            faults=hook,
        ),
        r(
            "DELETE",
            "/api/orders/hook/config",
            delete_hook_config,
            "orders",
            "Delete hook configuration",
            "DeleteHookConfiguration",
            responses={200: None},
            faults=hook,
        ),
        r(
            "GET",
            "/api/orders/feed/config",
            get_feed_config,
            "orders",
            "Get feed configuration",
            "GetFeedConfiguration",
            responses={200: FeedConfigDoc},
            faults=feed,
        ),
        r(
            "POST",
            "/api/orders/feed/config",
            post_feed_config,
            "orders",
            "Create or update feed configuration",
            "FeedConfiguration",
            body=FeedConfigBody,
            responses={200: None, 409: _ERROR},
            faults=feed,
        ),
        r(
            "DELETE",
            "/api/orders/feed/config",
            delete_feed_config,
            "orders",
            "Delete feed configuration",
            "FeedConfigurationDelete",
            responses={200: None},
            faults=feed,
        ),
        r(
            "GET",
            "/api/orders/feed",
            get_feed,
            "orders",
            "Retrieve feed items (404 when the app key has no feed configured)",
            "Getfeedorderstatus1",
            responses={200: FeedItemsDoc},
            faults=feed,
            query=[
                Query("maxlot", {"type": "integer", "minimum": 1, "maximum": 10}, required=True, description="1 to 10")
            ],
        ),
        r(
            "POST",
            "/api/orders/feed",
            post_feed_commit,
            "orders",
            "Commit feed items",
            "Commititemfeedorderstatus",
            body=FeedCommitBody,
            responses={200: None},
            faults=feed,
        ),
        r(
            "POST",
            "/api/orders/expressions/jsonata",
            post_jsonata_test,
            "orders",
            "Test JSONata expression",
            "TestJSONataExpression",
            body=JsonataTestBody,
            responses={200: {"type": "boolean"}},
            faults=feed,
        ),
    ]
