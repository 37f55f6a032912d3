"""Order hook configuration (per app key, both filter types) and at-least-once delivery to a real subscriber.

The feed is in test_events_feed.py, the JSONata test route in test_events_jsonata.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from simulator.orders.events import DEFAULT_APP_KEY
from tests.conftest import VALUE, Sim
from tests.support.published import request_examples, success_statuses


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
    assert config == hook_body(subscriber.url, ["handling"])
    _, read = await sim.call("GET", "/api/orders/hook/config", expect=200)
    assert read == config
    await sim.call("DELETE", "/api/orders/hook/config", expect=200)  # the platform documents 200
    status, _ = await sim.call("GET", "/api/orders/hook/config")
    assert status == 404
    status, _ = await sim.call("DELETE", "/api/orders/hook/config")
    assert status == 404


async def test_hook_config_refused_when_the_ping_fails(sim: Sim, subscriber: Subscriber) -> None:
    subscriber.answers = [500]
    status, body = await sim.call("POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]))
    assert status == 400
    assert body["error"]["code"] == "OMS-HOOK-PING"
    status, _ = await sim.call("GET", "/api/orders/hook/config")
    assert status == 404  # nothing stored


SCHEMA_EXAMPLE = {
    "filter": {
        "type": "FromWorkflow",
        "status": ["order-completed", "handling", "ready-for-handling", "waiting-ffmt-authorization", "cancel"],
    },
    "hook": {"url": "https://endpoint.example/path", "headers": {"key": "value"}},
}
"""vtex-orders-api.openapi.json `/paths/~1api~1orders~1hook~1config/post/requestBody/content/application~1json/
schema/example` (the media type's own `example`, FromOrders, is in tests/fidelity/published.json)."""


@pytest.mark.parametrize("name", ["schema-example", *request_examples("HookConfiguration")])
async def test_every_documented_hook_config_example_is_accepted(sim: Sim, subscriber: Subscriber, name: str) -> None:
    body = SCHEMA_EXAMPLE if name == "schema-example" else request_examples("HookConfiguration")[name]
    body = {**body, "hook": {**body["hook"], "url": subscriber.url}}  # the example URL would not answer the ping
    _, config = await sim.call(
        "POST", "/api/orders/hook/config", body=body, expect=success_statuses("HookConfiguration")[0]
    )
    assert config == body
    _, read = await sim.call("GET", "/api/orders/hook/config", expect=200)
    assert read == body


@pytest.mark.parametrize(
    ("filter_", "status", "says"),
    [
        ({"type": "FromOrders", "expression": "value > 1", "status": ["handling"]}, 409, "FromOrders takes"),
        ({"type": "FromWorkflow", "status": ["handling"], "expression": "value > 1"}, 409, "FromWorkflow takes"),
        ({"type": "FromWorkflow", "status": ["handling"], "disableSingleFire": True}, 409, "FromWorkflow takes"),
        ({"type": "FromWorkflow"}, 400, "filter.FromWorkflow.status: Field required"),
        ({"type": "FromWorkflow", "status": []}, 400, "filter.FromWorkflow.status: List should have at least 1 item"),
        ({"type": "FromWorkflow", "status": [""]}, 400, "filter.FromWorkflow.status.0"),
        ({"type": "FromOrders", "disableSingleFire": False}, 400, "filter.FromOrders.expression: Field required"),
        ({"type": "FromOrders", "expression": "value >", "disableSingleFire": False}, 400, "invalid JSONata"),
        ({"type": "FromOrders", "expression": "$count(", "disableSingleFire": False}, 400, "invalid JSONata"),
        ({"type": "FromEverything", "status": ["handling"]}, 400, "filter: Input tag 'FromEverything'"),
    ],
)
async def test_hook_filter_mistakes_are_refused_before_the_ping(
    sim: Sim, subscriber: Subscriber, filter_: dict[str, Any], status: int, says: str
) -> None:
    body = {"filter": filter_, "hook": {"url": subscriber.url, "headers": {}}}
    answer_status, answer = await sim.call("POST", "/api/orders/hook/config", body=body)
    assert answer_status == status
    assert says in answer["error"]["message"]
    assert subscriber.received == []  # refused before the URL was pinged
    get_status, _ = await sim.call("GET", "/api/orders/hook/config")
    assert get_status == 404


async def test_hook_url_must_be_http(sim: Sim) -> None:
    body = {"filter": {"type": "FromWorkflow", "status": ["handling"]}, "hook": {"url": "ftp://x/"}}
    status, answer = await sim.call("POST", "/api/orders/hook/config", body=body)
    assert status == 400
    assert "hook.url" in answer["error"]["message"]


async def test_any_status_name_is_accepted_as_the_platform_examples_show(sim: Sim, subscriber: Subscriber) -> None:
    body = hook_body(subscriber.url, ["order-completed", "on-order-completed", "some-future-status"])
    await sim.call("POST", "/api/orders/hook/config", body=body, expect=200)


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


async def test_origin_key_is_the_app_key_that_configured_the_hook(sim: Sim, subscriber: Subscriber) -> None:
    key = {"X-VTEX-API-AppKey": "vtexappkey-acme-ABCDEF"}
    await sim.call(
        "POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), headers=key, expect=200
    )
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.quiesce()
    await subscriber.wait_for(2)
    assert subscriber.received[1]["Origin"] == {
        "Account": sim.core.config.orders.account,
        "Key": "vtexappkey-acme-ABCDEF",
    }


async def test_without_an_app_key_the_origin_key_is_the_default(sim: Sim, subscriber: Subscriber) -> None:
    await sim.call("POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), expect=200)
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.quiesce()
    await subscriber.wait_for(2)
    assert subscriber.received[1]["Origin"]["Key"] == DEFAULT_APP_KEY


async def test_each_app_key_has_its_own_hook(sim: Sim, subscriber: Subscriber) -> None:
    a, b = {"X-VTEX-API-AppKey": "vtexappkey-a"}, {"X-VTEX-API-AppKey": "vtexappkey-b"}
    await sim.call(
        "POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), headers=a, expect=200
    )
    status, _ = await sim.call("GET", "/api/orders/hook/config", headers=b)
    assert status == 404
    await sim.call(
        "POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["invoiced"]), headers=b, expect=200
    )
    _, read = await sim.call("GET", "/api/orders/hook/config", headers=a, expect=200)
    assert read["filter"]["status"] == ["handling"]
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.invoice(value=VALUE)
    await sim.quiesce()
    await subscriber.wait_for(4)
    sent = [(r["Origin"]["Key"], r["State"]) for r in subscriber.received if "State" in r]
    assert sorted(sent) == [("vtexappkey-a", "handling"), ("vtexappkey-b", "invoiced")]
    await sim.call("DELETE", "/api/orders/hook/config", headers=a, expect=200)
    await sim.call("GET", "/api/orders/hook/config", headers=b, expect=200)


def orders_body(url: str, expression: str, *, disable_single_fire: bool) -> dict[str, Any]:
    return {
        "filter": {"type": "FromOrders", "expression": expression, "disableSingleFire": disable_single_fire},
        "hook": {"url": url, "headers": {}},
    }


async def two_orders_through_handling_and_invoice(sim: Sim) -> None:
    for order_id in ("ORD-1", "ORD-2"):
        await sim.seed(order_id, status="ready-for-handling")
        await sim.call("POST", f"/api/oms/pvt/orders/{order_id}/start-handling", expect=204)
        await sim.invoice(order_id, value=VALUE, number=f"NF-{order_id}")
        await sim.quiesce()


async def test_from_orders_fires_only_for_matching_orders_and_once_by_default(sim: Sim, subscriber: Subscriber) -> None:
    body = orders_body(subscriber.url, 'orderId = "ORD-2"', disable_single_fire=False)
    await sim.call("POST", "/api/orders/hook/config", body=body, expect=200)
    await two_orders_through_handling_and_invoice(sim)
    await subscriber.wait_for(2)
    await sim.quiesce()
    sent = [(r["OrderId"], r["LastState"], r["State"]) for r in subscriber.received[1:]]
    assert sent == [("ORD-2", "ready-for-handling", "handling")]  # single fire: the first match only


async def test_from_orders_with_disable_single_fire_fires_on_every_matching_change(
    sim: Sim, subscriber: Subscriber
) -> None:
    body = orders_body(subscriber.url, 'orderId = "ORD-2"', disable_single_fire=True)
    await sim.call("POST", "/api/orders/hook/config", body=body, expect=200)
    await two_orders_through_handling_and_invoice(sim)
    await subscriber.wait_for(4)
    sent = sorted((r["OrderId"], r["State"]) for r in subscriber.received[1:])  # concurrent deliveries: any order
    assert sent == [("ORD-2", "handling"), ("ORD-2", "invoice"), ("ORD-2", "invoiced")]


async def test_from_orders_reads_the_order_document(sim: Sim, subscriber: Subscriber) -> None:
    """An expression over the document's money and items, not only its status."""
    body = orders_body(
        subscriber.url, 'status = "invoiced" and $count(items[price >= 4990]) > 0', disable_single_fire=False
    )
    await sim.call("POST", "/api/orders/hook/config", body=body, expect=200)
    await sim.seed("ORD-1", status="ready-for-handling", items=[{"id": "cheap", "price": 100, "quantity": 2}])
    await sim.seed("ORD-2", status="ready-for-handling")
    for order_id, value in (("ORD-1", 2 * 100 + 1000), ("ORD-2", VALUE)):
        await sim.call("POST", f"/api/oms/pvt/orders/{order_id}/start-handling", expect=204)
        await sim.invoice(order_id, value=value, number=f"NF-{order_id}")
    await sim.quiesce()
    await subscriber.wait_for(2)
    await sim.quiesce()
    assert [(r["OrderId"], r["State"]) for r in subscriber.received[1:]] == [("ORD-2", "invoiced")]


@pytest.mark.looptime
async def test_a_hook_without_notifications_for_three_days_is_removed(sim: Sim, subscriber: Subscriber) -> None:
    await sim.call("POST", "/api/orders/hook/config", body=hook_body(subscriber.url, ["handling"]), expect=200)
    await asyncio.sleep(2 * 86_400)
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)  # a notification: kept
    await sim.quiesce()
    await asyncio.sleep(2 * 86_400)
    await sim.call("GET", "/api/orders/hook/config", expect=200)
    await asyncio.sleep(86_400 + 1)
    status, _ = await sim.call("GET", "/api/orders/hook/config")
    assert status == 404
