"""Feed v3: configuration per app key, the queue's visibility timeout, commit and retention, the filters.

Facts: vtex-orders-api.openapi.json `/paths/~1api~1orders~1feed~1config`, `/paths/~1api~1orders~1feed`, and the
Developer Portal guide "Feed v3" (vtexdocs/dev-portal-content `docs/guides/Orders/orders-feed.md`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import VALUE, Sim
from tests.support.published import request_examples, success_statuses, validate_answer

A = {"X-VTEX-API-AppKey": "vtexappkey-a"}
B = {"X-VTEX-API-AppKey": "vtexappkey-b"}


def feed_body(filter_: dict[str, Any] | None = None, *, visibility: int = 240, retention: int = 345_600) -> Any:
    body: dict[str, Any] = {
        "queue": {"visibilityTimeoutInSeconds": visibility, "MessageRetentionPeriodInSeconds": retention}
    }
    if filter_ is not None:
        body["filter"] = filter_
    return body


async def configure(sim: Sim, body: Any, headers: dict[str, str] | None = None) -> None:
    await sim.call("POST", "/api/orders/feed/config", body=body, headers=headers, expect=200)


async def through_handling_and_invoice(sim: Sim, order_id: str = "ORD-1") -> None:
    await sim.seed(order_id, status="ready-for-handling")
    await sim.call("POST", f"/api/oms/pvt/orders/{order_id}/start-handling", expect=204)
    await sim.invoice(order_id, value=VALUE, number=f"NF-{order_id}")
    await sim.quiesce()


async def read(sim: Sim, maxlot: int = 10, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    _, items = await sim.call("GET", f"/api/orders/feed?maxlot={maxlot}", headers=headers, expect=200)
    assert validate_answer("Getfeedorderstatus1", 200, items) == []
    return list(items)


async def test_without_a_configuration_the_feed_answers_404(sim: Sim) -> None:
    """The official doc (`/paths/~1api~1orders~1feed/get/description`): "This API will return `404 Not Found` if
    there is no Feed Configuration available for the given X-VTEX-API-AppKey"."""
    await through_handling_and_invoice(sim)
    for method, path, body in [
        ("GET", "/api/orders/feed?maxlot=1", None),
        ("POST", "/api/orders/feed", {"handles": ["h"]}),
        ("GET", "/api/orders/feed/config", None),
        ("DELETE", "/api/orders/feed/config", None),
    ]:
        status, answer = await sim.call(method, path, body=body)
        assert (status, answer["error"]["code"]) == (404, "OMS-FEED-NOT-FOUND"), (method, path)


@pytest.mark.parametrize("name", list(request_examples("FeedConfiguration")))
async def test_the_documented_feed_config_example_is_accepted_and_read_back(sim: Sim, name: str) -> None:
    example = request_examples("FeedConfiguration")[name]
    await sim.call("POST", "/api/orders/feed/config", body=example, expect=success_statuses("FeedConfiguration")[0])
    _, config = await sim.call("GET", "/api/orders/feed/config", expect=200)
    assert validate_answer("GetFeedConfiguration", 200, config) == []
    assert config == {
        "filter": example["filter"],
        "queue": {"visibilityTimeoutInSeconds": 250, "messageRetentionPeriodInSeconds": 345_600},
        "quantity": 0,
        "approximateAgeOfOldestMessageInSeconds": 0.0,
    }
    await sim.call("DELETE", "/api/orders/feed/config", expect=success_statuses("FeedConfigurationDelete")[0])
    status, _ = await sim.call("GET", "/api/orders/feed/config")
    assert status == 404


async def test_the_guide_spelling_of_the_retention_is_accepted(sim: Sim) -> None:
    """orders-feed.md's `queue` example spells `messageRetentionPeriodInSeconds` with a small m."""
    body = {"queue": {"visibilityTimeoutInSeconds": 240, "messageRetentionPeriodInSeconds": 345_600}}
    await configure(sim, body)
    _, config = await sim.call("GET", "/api/orders/feed/config", expect=200)
    assert config["queue"]["messageRetentionPeriodInSeconds"] == 345_600


async def test_feed_config_retention_defaults_to_four_days(sim: Sim) -> None:
    # Every published example sends 345600 s; a configuration that leaves it out gets that, not a 400.
    await sim.call("POST", "/api/orders/feed/config", body={"queue": {"visibilityTimeoutInSeconds": 240}}, expect=200)
    _, config = await sim.call("GET", "/api/orders/feed/config", expect=200)
    assert config["queue"] == {"visibilityTimeoutInSeconds": 240, "messageRetentionPeriodInSeconds": 345_600}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (feed_body({"type": "FromOrders", "expression": "value > 1", "status": ["handling"]}), 409, "FromOrders"),
        (feed_body({"type": "FromWorkflow", "status": ["handling"], "expression": "value > 1"}), 409, "FromWorkflow"),
        (feed_body({"type": "FromOrders", "expression": "value >"}), 400, "invalid JSONata"),
        (feed_body({"type": "FromWorkflow", "status": [""]}), 400, "filter.FromWorkflow.status.0"),
        (feed_body(retention=1_209_601), 400, "MessageRetentionPeriodInSeconds"),
        (feed_body(visibility=-1), 400, "visibilityTimeoutInSeconds"),
        ({"filter": {"type": "FromWorkflow", "status": ["handling"]}}, 400, "queue"),
    ],
)
async def test_feed_config_mistakes_are_refused(sim: Sim, body: Any, status: int, says: str) -> None:
    answer_status, answer = await sim.call("POST", "/api/orders/feed/config", body=body)
    assert answer_status == status
    assert says in answer["error"]["message"]
    get_status, _ = await sim.call("GET", "/api/orders/feed/config")
    assert get_status == 404


async def test_without_a_filter_every_status_change_is_queued_and_a_commit_removes_it(sim: Sim) -> None:
    """orders-feed.md: "If the `filter` is not configured, the `FromWorkflow` type is used, and all status changes
    will appear in the feed"."""
    await configure(sim, feed_body(visibility=0))
    await through_handling_and_invoice(sim)
    items = await read(sim)
    assert [(e["orderId"], e["lastState"], e["state"], e["domain"]) for e in items] == [
        ("ORD-1", "ready-for-handling", "handling", "Fulfillment"),
        ("ORD-1", "handling", "invoice", "Fulfillment"),
        ("ORD-1", "invoice", "invoiced", "Fulfillment"),
    ]
    status, _ = await sim.call("POST", "/api/orders/feed", body={"handles": [items[0]["handle"], "unknown"]})
    assert status == success_statuses("Commititemfeedorderstatus")[0]
    rest = await read(sim)
    assert [e["eventId"] for e in rest] == [e["eventId"] for e in items[1:]]


async def test_only_events_matching_the_filter_are_queued(sim: Sim) -> None:
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["invoiced"]}))
    await through_handling_and_invoice(sim)
    assert [(e["lastState"], e["state"]) for e in await read(sim)] == [("invoice", "invoiced")]


async def test_a_from_orders_feed_gets_each_matching_order_once_by_default(sim: Sim) -> None:
    await configure(
        sim, feed_body({"type": "FromOrders", "expression": 'orderId = "ORD-2"', "disableSingleFire": False})
    )
    await through_handling_and_invoice(sim, "ORD-1")
    await through_handling_and_invoice(sim, "ORD-2")
    assert [(e["orderId"], e["state"]) for e in await read(sim)] == [("ORD-2", "handling")]


async def test_a_from_orders_feed_with_disable_single_fire_gets_every_matching_change(sim: Sim) -> None:
    await configure(
        sim, feed_body({"type": "FromOrders", "expression": 'orderId = "ORD-2"', "disableSingleFire": True})
    )
    await through_handling_and_invoice(sim, "ORD-1")
    await through_handling_and_invoice(sim, "ORD-2")
    items = await read(sim)
    assert [(e["orderId"], e["state"]) for e in items] == [
        ("ORD-2", "handling"),
        ("ORD-2", "invoice"),
        ("ORD-2", "invoiced"),
    ]


async def test_each_app_key_has_its_own_feed(sim: Sim) -> None:
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["handling"]}), A)
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["invoiced"]}), B)
    await through_handling_and_invoice(sim)
    assert [e["state"] for e in await read(sim, headers=A)] == ["handling"]
    assert [e["state"] for e in await read(sim, headers=B)] == ["invoiced"]
    status, _ = await sim.call("GET", "/api/orders/feed?maxlot=1")  # no app key: the default key has no feed
    assert status == 404


@pytest.mark.looptime
async def test_an_item_read_and_not_committed_is_visible_again_after_the_visibility_timeout(sim: Sim) -> None:
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["handling"]}, visibility=30))
    await through_handling_and_invoice(sim)
    [first] = await read(sim)
    assert await read(sim) == []  # invisible while the reader works on it
    await asyncio.sleep(29)
    assert await read(sim) == []
    await asyncio.sleep(2)
    [again] = await read(sim)
    assert again["eventId"] == first["eventId"]
    assert again["handle"] != first["handle"]  # each read has its own handle
    await sim.call("POST", "/api/orders/feed", body={"handles": [first["handle"]]}, expect=200)
    await asyncio.sleep(31)
    [still] = await read(sim)  # a superseded handle did not delete it
    assert still["eventId"] == first["eventId"]
    await sim.call("POST", "/api/orders/feed", body={"handles": [still["handle"]]}, expect=200)
    await asyncio.sleep(31)
    assert await read(sim) == []


@pytest.mark.looptime
async def test_items_older_than_the_retention_period_are_dropped(sim: Sim) -> None:
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["handling"]}, visibility=0, retention=60))
    await through_handling_and_invoice(sim, "ORD-1")
    await asyncio.sleep(40)
    await through_handling_and_invoice(sim, "ORD-2")
    _, config = await sim.call("GET", "/api/orders/feed/config", expect=200)
    assert (config["quantity"], config["approximateAgeOfOldestMessageInSeconds"]) == (2, pytest.approx(40, abs=1))
    await asyncio.sleep(21)
    assert [e["orderId"] for e in await read(sim)] == ["ORD-2"]


@pytest.mark.looptime
async def test_a_feed_that_receives_nothing_for_its_retention_period_loses_its_configuration(sim: Sim) -> None:
    """orders-feed.md: "If the feed doesn't receive any new events in its queue during the time set in
    `messageRetentionPeriodInSeconds`, your configuration will be removed"."""
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["handling"]}, retention=60))
    await asyncio.sleep(59)
    await sim.call("GET", "/api/orders/feed/config", expect=200)
    await asyncio.sleep(2)
    status, _ = await sim.call("GET", "/api/orders/feed/config")
    assert status == 404


async def test_a_reconfigured_feed_keeps_its_queue(sim: Sim) -> None:
    """orders-feed.md: "If the feed is reconfigured, events from the former queue will remain in the feed"."""
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["handling"]}, visibility=0))
    await through_handling_and_invoice(sim, "ORD-1")
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["invoiced"]}, visibility=0))
    await through_handling_and_invoice(sim, "ORD-2")
    assert [(e["orderId"], e["state"]) for e in await read(sim)] == [("ORD-1", "handling"), ("ORD-2", "invoiced")]


@pytest.mark.parametrize("query", ["", "?maxlot=0", "?maxlot=11", "?maxlot=x"])
async def test_feed_maxlot_is_required_from_1_to_10(sim: Sim, query: str) -> None:
    await configure(sim, feed_body())
    status, body = await sim.call("GET", f"/api/orders/feed{query}")
    assert status == 400
    assert "maxlot" in body["error"]["message"]


async def test_forgotten_orders_leave_the_feed(sim: Sim) -> None:
    await configure(sim, feed_body(visibility=0))
    await through_handling_and_invoice(sim, "ORD-1")
    await through_handling_and_invoice(sim, "ORD-2")
    sim.orders.forget("ORD-1")
    assert {e["orderId"] for e in await read(sim)} == {"ORD-2"}


async def test_queued_lists_a_feed_without_reading_it(sim: Sim) -> None:
    await configure(sim, feed_body({"type": "FromWorkflow", "status": ["handling"]}))
    await through_handling_and_invoice(sim)
    [item] = await read(sim)
    assert [e.event_id for e in sim.orders.events.queued()] == [item["eventId"]]  # read, invisible, still queued
    assert sim.orders.events.queued("vtexappkey-nobody") == []
