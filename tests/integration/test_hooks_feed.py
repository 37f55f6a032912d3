"""Order hook configuration and at-least-once delivery to a real subscriber; the feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import VALUE, Sim


class Subscriber:
    """A real HTTP subscriber on loopback that records what it receives and answers the statuses it is told."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.answers: list[int] = []  # statuses to answer, in order; 200 once exhausted
        self._arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.headers.append(dict(request.headers))
        self._arrived.set()
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))

    async def wait_for(self, count: int) -> None:
        while len(self.received) < count:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), 10)


@pytest.fixture
async def subscriber() -> AsyncIterator[Subscriber]:
    s = Subscriber()
    await s.server.start_server()
    yield s
    await s.server.close()


def hook_body(url: str, statuses: list[str]) -> dict[str, Any]:
    return {"filter": {"type": "FromWorkflow", "status": statuses}, "hook": {"url": url, "headers": {"key": "value"}}}


async def test_hook_config_pings_the_url_then_is_readable_and_deletable(sim: Sim, subscriber: Subscriber) -> None:
    _, config = await sim.call(
        "POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), expect=200
    )
    assert subscriber.received == [{"hookConfig": "ping"}]
    assert config["hook"]["url"] == subscriber.url
    _, read = await sim.call("GET", "/api/orders/hook/config", expect=200)
    assert read == config
    await sim.call("DELETE", "/api/orders/hook/config", expect=204)
    status, _ = await sim.call("GET", "/api/orders/hook/config")
    assert status == 404


async def test_hook_config_refused_when_the_ping_fails(sim: Sim, subscriber: Subscriber) -> None:
    subscriber.answers = [500]
    status, body = await sim.call("POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]))
    assert status == 400
    assert body["error"]["code"] == "OMS-HOOK-PING"
    status, _ = await sim.call("GET", "/api/orders/hook/config")
    assert status == 404  # nothing stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {"type": "FromOrders", "status": ["handling"]}, "hook": {"url": "http://x/"}}, "filter.type"),
        (
            {"filter": {"type": "FromWorkflow", "status": ["shipping"]}, "hook": {"url": "http://x/"}},
            "unknown statuses",
        ),
        ({"filter": {"type": "FromWorkflow", "status": ["handling"]}, "hook": {"url": "ftp://x/"}}, "hook.url"),
    ],
)
async def test_hook_config_bad_input(sim: Sim, body: dict[str, Any], field: str) -> None:
    status, answer = await sim.call("POST", "/api/orders/hook/config", body=body)
    assert status == 400
    assert field in answer["error"]["message"]


async def test_status_changes_are_delivered_with_the_documented_payload(sim: Sim, subscriber: Subscriber) -> None:
    await sim.call(
        "POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling", "invoiced"]), expect=200
    )
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.invoice(value=VALUE)  # → invoice (not subscribed) → invoiced
    await sim.quiesce()
    await subscriber.wait_for(3)

    _ping, handling, invoiced = subscriber.received
    assert handling["OrderId"] == "ORD-1"
    assert (handling["Domain"], handling["State"], handling["LastState"]) == (
        "Fulfillment",
        "handling",
        "ready-for-handling",
    )
    assert set(handling) == {"Domain", "OrderId", "State", "LastState", "LastChange", "CurrentChange", "Origin"}
    assert (invoiced["State"], invoiced["LastState"]) == ("invoiced", "invoice")
    assert subscriber.headers[1]["key"] == "value"


async def test_delivery_is_retried_until_the_subscriber_answers_200(sim: Sim, subscriber: Subscriber) -> None:
    await sim.call("POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), expect=200)
    await sim.patch_config({"orders": {"hook": {"retry_backoff_ms": 1}}})
    subscriber.answers = [500, 503]
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.quiesce()

    deliveries = [r for r in subscriber.received if r.get("State") == "handling"]
    assert len(deliveries) == 3  # at least once: the same event until a 200
    attempts = [e for e in await sim.journal() if e["op"] == "hook" and e["phase"] == "deliver"]
    assert [e["detail"]["status"] for e in attempts] == [500, 503, 200]


async def test_delivery_gives_up_after_max_attempts_and_says_so(sim: Sim, subscriber: Subscriber) -> None:
    await sim.call("POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), expect=200)
    await sim.patch_config({"orders": {"hook": {"retry_backoff_ms": 0, "max_attempts": 2}}})
    subscriber.answers = [500, 500, 500]
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.quiesce()
    phases = [e["phase"] for e in await sim.journal() if e["op"] == "hook"]
    assert phases == ["deliver", "deliver", "gave_up"]


async def test_feed_retrieve_and_commit(sim: Sim) -> None:
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.invoice(value=VALUE)
    await sim.quiesce()

    _, events = await sim.call("GET", "/api/orders/feed?maxlot=10", expect=200)
    assert [(e["lastState"], e["state"]) for e in events] == [
        ("ready-for-handling", "handling"),
        ("handling", "invoice"),
        ("invoice", "invoiced"),
    ]
    _, again = await sim.call("GET", "/api/orders/feed?maxlot=2", expect=200)
    assert again == events[:2]  # events stay queued until committed
    await sim.call("POST", "/api/orders/feed", body={"handles": [events[0]["handle"], "unknown"]}, expect=204)
    _, rest = await sim.call("GET", "/api/orders/feed?maxlot=10", expect=200)
    assert rest == events[1:]


@pytest.mark.parametrize("maxlot", ["0", "11", "x"])
async def test_feed_maxlot_out_of_range_is_400(sim: Sim, maxlot: str) -> None:
    status, body = await sim.call("GET", f"/api/orders/feed?maxlot={maxlot}")
    assert status == 400
    assert "maxlot" in body["error"]["message"]
