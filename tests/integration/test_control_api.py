"""The control API under /_sim/: seeding, config, reset, inspection, journal, gates, quiesce, access."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from simulator import SimConfig
from simulator.errors import Forbidden
from simulator.web.app import _check_access
from tests.conftest import VALUE, Sim, SimFactory


async def test_health_and_openapi(sim: Sim) -> None:
    _, health = await sim.call("GET", "/_sim/health", expect=200)
    assert health["status"] == "ok"
    assert health["consistency"] == "snapshot"
    _, spec = await sim.call("GET", "/openapi.json", expect=200)
    assert spec["openapi"].startswith("3.")
    for path in ("/api/oms/pvt/orders/{orderId}", "/api/order-system/orders/{orderId}/changes", "/_sim/orders"):
        assert path in spec["paths"]


async def test_every_served_route_is_in_the_openapi_document(sim: Sim) -> None:
    _, spec = await sim.call("GET", "/openapi.json", expect=200)
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = {
        (r.method, r.resource.canonical)
        for r in sim.app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert served == documented


async def test_seed_order_answers_id_and_value(sim: Sim) -> None:
    _, answer = await sim.call(
        "POST", "/_sim/orders", body={"items": [{"id": "a", "price": 100, "quantity": 3}], "shipping": 50}, expect=201
    )
    assert answer["value"] == 350
    assert answer["status"] == "handling"
    assert (await sim.order(answer["orderId"]))["value"] == 350


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"items": []}, "items"),
        ({"items": [{"id": "a", "price": 1, "quantity": 1}], "status": "shipping"}, "status must be one of"),
        ({"items": [{"id": "a", "price": 1, "quantity": 1}, {"id": "a", "price": 1, "quantity": 1}]}, "unique"),
        ({"items": [{"id": "a", "price": 1, "quantity": 1}], "orderId": "bad id!"}, "orderId"),
        ({"items": [{"id": "a", "price": 1, "quantity": 1}], "colour": "red"}, "colour"),
    ],
)
async def test_seed_order_bad_input(sim: Sim, body: dict[str, Any], problem: str) -> None:
    status, answer = await sim.call("POST", "/_sim/orders", body=body)
    assert status == 400
    assert problem in answer["error"]["message"]
    _, listing = await sim.call("GET", "/_sim/orders", expect=200)
    assert listing["total"] == 0


async def test_seed_order_refuses_an_existing_id(sim: Sim) -> None:
    await sim.seed()
    status, answer = await sim.call(
        "POST", "/_sim/orders", body={"orderId": "ORD-1", "items": [{"id": "a", "price": 1, "quantity": 1}]}
    )
    assert status == 400
    assert "already exists" in answer["error"]["message"]


async def test_config_patch_is_live_and_validated_as_a_whole(sim: Sim) -> None:
    config = await sim.patch_config({"consistency": "serializable", "orders": {"change": {"read_lag": "250ms"}}})
    assert config["consistency"] == "serializable"
    assert config["orders"]["change"]["read_lag"] == {"kind": "fixed", "ms": 250.0}
    assert config["orders"]["change"]["mode"] == "async"  # untouched siblings kept
    _, health = await sim.call("GET", "/_sim/health", expect=200)
    assert health["consistency"] == "serializable"

    status, body = await sim.call(
        "PATCH",
        "/_sim/config",
        body={"orders": {"change": {"read_lag": {"kind": "uniform", "min_ms": 9, "max_ms": 1}}}},
    )
    assert status == 400
    assert "orders.change.read_lag" in body["error"]["message"]
    assert "max_ms" in body["error"]["message"]
    _, unchanged = await sim.call("GET", "/_sim/config", expect=200)
    assert unchanged == config


async def test_reset_forgets_orders_journal_and_gates(sim: Sim) -> None:
    await sim.seed()
    await sim.call("POST", "/_sim/gates", body={"orderId": "ORD-1", "point": "invoice.before_commit"}, expect=201)
    await sim.call("POST", "/_sim/reset", expect=200)
    status, _ = await sim.call("GET", "/api/oms/pvt/orders/ORD-1")
    assert status == 404
    _, gates = await sim.call("GET", "/_sim/gates", expect=200)
    assert gates["gates"] == []
    _, journal = await sim.call("GET", "/_sim/journal", expect=200)
    assert journal["entries"] == []
    await sim.seed()
    _, journal = await sim.call("GET", "/_sim/journal", expect=200)
    assert journal["entries"][0]["seq"] == 1, "after a reset the journal is numbered as on a new server"


async def test_move_status_fires_through_the_workflow(sim: Sim) -> None:
    await sim.seed(status="payment-approved")
    _, order = await sim.call("POST", "/_sim/orders/ORD-1/status", body={"status": "next"}, expect=200)
    assert order["status"] == "window-to-cancel"
    _, order = await sim.call("POST", "/_sim/orders/ORD-1/status", body={"status": "handling"}, expect=200)
    assert order["status"] == "handling"
    status, body = await sim.call("POST", "/_sim/orders/ORD-1/status", body={"status": "lost"})
    assert status == 400
    assert "status must be one of" in body["error"]["message"]


async def test_inspect_order_shows_every_version(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE)
    await sim.quiesce()
    _, inspected = await sim.call("GET", "/_sim/orders/ORD-1", expect=200)
    assert [(v["version"], v["status"], v["invoiced"]) for v in inspected["versions"]] == [
        (1, "handling", 0),
        (2, "invoice", VALUE),
        (3, "invoiced", VALUE),
    ]
    assert inspected["pending"] == 0


async def test_journal_records_each_phase_and_pages_with_since(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE)
    await sim.quiesce()
    entries = await sim.journal()
    phases = [(e["op"], e["phase"]) for e in entries if e["op"] == "invoice"]
    assert phases == [("invoice", "arrive"), ("invoice", "read"), ("invoice", "commit"), ("invoice", "respond")]
    assert all(set(e) == {"seq", "t", "order_id", "op", "phase", "op_id", "version", "detail"} for e in entries)
    assert [e["t"] for e in entries] == sorted(e["t"] for e in entries)
    _, page = await sim.call("GET", f"/_sim/journal?since={entries[2]['seq']}&limit=2", expect=200)
    assert [e["seq"] for e in page["entries"]] == [entries[3]["seq"], entries[4]["seq"]]
    status, _ = await sim.call("GET", "/_sim/journal?since=x")
    assert status == 400


@pytest.mark.looptime
async def test_quiesce_reports_pending_work_when_a_gate_holds_it(sim: Sim) -> None:
    await sim.seed()
    await sim.call("POST", "/_sim/gates", body={"orderId": "ORD-1", "point": "change.before_commit"}, expect=201)
    await sim.change()
    _, answer = await sim.call("POST", "/_sim/quiesce", body={"orderId": "ORD-1", "timeout_ms": 200}, expect=200)
    assert answer == {"idle": False, "pending": 1}
    await sim.call(
        "POST", "/_sim/gates/release", body={"orderId": "ORD-1", "point": "change.before_commit"}, expect=200
    )
    await sim.quiesce("ORD-1")
    assert (await sim.order())["value"] == VALUE - 1500


async def test_gate_errors(sim: Sim) -> None:
    status, body = await sim.call("POST", "/_sim/gates", body={"orderId": "ORD-1", "point": "change.after_lunch"})
    assert status == 400
    assert "checkpoint one of" in body["error"]["message"]
    status, body = await sim.call(
        "POST", "/_sim/gates/release", body={"orderId": "ORD-1", "point": "change.after_read"}
    )
    assert status == 404
    status, body = await sim.call("POST", "/_sim/gates/wait", body={"orderId": "ORD-1", "point": "change.after_read"})
    assert status == 404
    status, body = await sim.call("POST", "/_sim/gates/release", body={"orderId": "ORD-1"})
    assert status == 400


async def test_wildcard_gate_holds_every_order(sim: Sim) -> None:
    await sim.seed("A")
    await sim.seed("B")
    await sim.call("POST", "/_sim/gates", body={"orderId": "*", "point": "change.after_read"}, expect=201)
    await sim.change("A")
    await sim.change("B")
    _, waited = await sim.call(
        "POST", "/_sim/gates/wait", body={"orderId": "*", "point": "change.after_read", "count": 2}, expect=200
    )
    assert waited["parked"]
    _, released = await sim.call("POST", "/_sim/gates/release", expect=200)
    assert released["released"] == 1
    await sim.quiesce()
    assert (await sim.order("A"))["value"] == (await sim.order("B"))["value"] == VALUE - 1500


async def test_metrics_count_answers_per_service(sim: Sim) -> None:
    await sim.seed()
    await sim.order()
    await sim.call("GET", "/api/oms/pvt/orders/nope")
    _, metrics = await sim.call("GET", "/_sim/metrics", expect=200)
    assert metrics["requests"]["orders 200"] == 1
    assert metrics["requests"]["orders 404"] == 1
    assert metrics["background_errors"] == 0


# -- access to the control API -------------------------------------------------------------------------------


def request_from(remote: str, headers: dict[str, str] | None = None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (remote, 40000) if name == "peername" else default
    return make_mocked_request("GET", "/_sim/health", headers=headers or {}, transport=transport)


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.5.5.5", "::1"])
def test_control_api_open_to_loopback_clients(remote: str) -> None:
    _check_access(request_from(remote), "control", SimConfig())


def test_control_api_refuses_other_clients_without_a_token() -> None:
    with pytest.raises(Forbidden, match="loopback"):
        _check_access(request_from("192.0.2.10"), "control", SimConfig())


def test_control_api_accepts_other_clients_with_the_configured_token() -> None:
    config = SimConfig.model_validate({"auth": {"control_token": "s3cret"}})
    _check_access(request_from("192.0.2.10", {"X-Racelab-Token": "s3cret"}), "control", config)
    with pytest.raises(Forbidden):
        _check_access(request_from("192.0.2.10", {"X-Racelab-Token": "guess"}), "control", config)


async def test_a_failing_background_task_is_counted_not_lost(sim: Sim) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    sim.core.work.spawn("ORD-X", boom(), name="boom")
    await asyncio.wait_for(sim.core.work.wait_idle("ORD-X"), 5)
    _, metrics = await sim.call("GET", "/_sim/metrics", expect=200)
    assert metrics["background_errors"] == 1


async def test_serializable_mode_from_profile(make_sim: SimFactory) -> None:
    sim = await make_sim("fixed", consistency="serializable")
    _, config = await sim.call("GET", "/_sim/config", expect=200)
    assert config["consistency"] == "serializable"
    assert config["orders"]["change"]["read_lag"] == {"kind": "fixed", "ms": 600.0}
