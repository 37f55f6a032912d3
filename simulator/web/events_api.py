"""HTTP edge of how integrations learn about orders: the order hook configuration and the feed.

Imports: aiohttp, pydantic, `simulator.orders`, `simulator.web._orders_common`, `simulator.web.routing`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, RootModel, field_validator

from ..errors import BadRequest, NotFound
from ..orders.model import STATUSES
from ..orders.service import HookConfig
from ._orders_common import In, orders_of
from .routing import Query, Route, parse_body

__all__ = ["event_routes"]


class HookFilter(In):
    type: Literal["FromWorkflow"]
    status: Annotated[list[str], Field(min_length=1, max_length=len(STATUSES))]

    @field_validator("status")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(STATUSES))
        if unknown:
            raise ValueError(f"unknown statuses {unknown}; known: {', '.join(STATUSES)}")
        return v


class HookTarget(In):
    url: Annotated[str, Field(pattern=r"^https?://[^\s]{1,2000}$")]
    headers: dict[str, Annotated[str, Field(max_length=2000)]] | None = None


class HookConfigBody(In):
    filter: HookFilter
    hook: HookTarget


class FeedCommitBody(In):
    handles: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=1000)]


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


async def get_hook_config(request: web.Request) -> web.Response:
    hook = orders_of(request).hook
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
    await orders_of(request).configure_hook(config)
    return web.json_response(config.to_json())


async def delete_hook_config(request: web.Request) -> web.Response:
    orders_of(request).hook = None
    return web.Response(status=204)


async def get_feed(request: web.Request) -> web.Response:
    raw = request.query.get("maxlot", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10:
        raise BadRequest(f"maxlot must be an integer from 1 to 10, got {raw!r}")
    events = orders_of(request).feed_events(int(raw))
    return web.json_response([e.to_json() for e in events])


async def post_feed_commit(request: web.Request) -> web.Response:
    body = await parse_body(request, FeedCommitBody)
    orders_of(request).feed_commit(body.handles)
    return web.Response(status=204)


def event_routes() -> list[Route]:
    r = Route
    return [
        r("GET", "/api/orders/hook/config", get_hook_config, "orders", "Get the order hook configuration",
          "getHookConfig", responses={200: HookConfigDoc}, faults="hook_config"),
        r("POST", "/api/orders/hook/config", post_hook_config, "orders",
          "Configure the order hook (the URL is pinged and must answer 200)", "setHookConfig",
          body=HookConfigBody, responses={200: HookConfigDoc}, faults="hook_config"),
        r("DELETE", "/api/orders/hook/config", delete_hook_config, "orders", "Delete the order hook",
          "deleteHookConfig", responses={204: None}, faults="hook_config"),
        r("GET", "/api/orders/feed", get_feed, "orders", "Retrieve feed items", "getFeed",
          responses={200: FeedEventsDoc}, faults="feed",
          query=[Query("maxlot", {"type": "integer", "minimum": 1, "maximum": 10}, description="1 to 10")]),
        r("POST", "/api/orders/feed", post_feed_commit, "orders", "Commit feed items", "commitFeed",
          body=FeedCommitBody, responses={204: None}, faults="feed"),
    ]  # fmt: skip
