"""Faults injected at the simulator's HTTP edge, observed from a real client over loopback (`ApiClient`, the client
integrations use): each kind configured through the control API and through a profile, its journal
entry and its count, the per-class scope, the bypass for the harness's own reads, and seeded reproducibility.

Timeouts run on looptime's virtual clock: the client gives up after 1.5 s and the server holds its answer 2.5 s (or
forever) without a test waiting in real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from harness.drive.transport import ApiClient, ControlClient, Endpoints, Recorder, open_sessions
from harness.integrations import Answer
from harness.integrations import api as calls
from harness.integrations import control as control_ops
from harness.model.records import Outcome
from simulator.contract.headers import CONTROL_HEADER
from simulator.web._state import ROUTES
from tests.conftest import VALUE, Sim, SimFactory, conforms

CLIENT_TIMEOUT_S = 1.5
INVOICE_PATH = "/api/orders/pvt/document/ORD-1/invoices"


@dataclass(frozen=True)
class Expected:
    applied: bool
    """Whether the invoice is stored afterwards (the fault came after the handler committed it)."""
    seen: str
    """What the client observes: `503`, `reset` (a connection error) or `timeout`."""


KINDS = {
    "error_before": Expected(applied=False, seen="503"),
    "error_after": Expected(applied=True, seen="503"),
    "reset_before": Expected(applied=False, seen="reset"),
    "reset_after": Expected(applied=True, seen="reset"),
    "timeout": Expected(applied=True, seen="timeout"),
    "hang": Expected(applied=True, seen="timeout"),
}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The harness's own session for traffic under test: it records when a request's headers left."""
    async with open_sessions(connections=10) as (api, _):
        yield api


def client(sim: Sim, session: aiohttp.ClientSession) -> ApiClient:
    url = str(sim.client.make_url("")).rstrip("/")
    endpoints = Endpoints(orders=url, accounting=url, control=url)
    return ApiClient(session, endpoints, Recorder(origin=asyncio.get_running_loop().time()), actor="test")


async def invoice(api: ApiClient, number: str = "NF-1", order_id: str = "ORD-1") -> Answer:
    items = [{"itemIndex": 0, "price": 9980, "quantity": 2}, {"itemIndex": 1, "price": 1500, "quantity": 1}]
    return await api.perform(
        calls.invoice(order_id, number=number, value=VALUE, items=items, timeout_s=CLIENT_TIMEOUT_S)
    )


def numbers(order: dict[str, Any]) -> list[str]:
    return [p["invoiceNumber"] for p in order["packageAttachment"]["packages"]]


async def faulted(sim: Sim, via: str, tmp_path: Path, make_sim: SimFactory, faults: dict[str, Any]) -> Sim:
    """A simulator with `faults` set through the control API (`via="control"`) or a profile file."""
    if via == "profile":
        lines = ["seed: 3", "faults:"] + [f"  {cls}: {_flow(spec)}" for cls, spec in faults.items()]
        path = tmp_path / "with-faults.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return await make_sim(str(path))
    await sim.patch_config({"faults": faults})
    return sim


def _flow(spec: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in spec.items()) + "}"


# -- each kind, through either door --------------------------------------------------------------------------------


@pytest.mark.looptime
@pytest.mark.parametrize("via", ["control", "profile"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_each_fault_kind_as_a_client_sees_it(
    sim: Sim, make_sim: SimFactory, session: aiohttp.ClientSession, tmp_path: Path, via: str, kind: str
) -> None:
    sim = await faulted(sim, via, tmp_path, make_sim, {"invoice": {kind: 1.0, "hold": "2.5s"}})
    await sim.seed()
    api = client(sim, session)

    result = await invoice(api)

    expected = KINDS[kind]
    recorded = api._rec.ops[-1]
    assert recorded.outcome is Outcome.INFO, "a 5xx, a reset and a timeout are unknown outcomes, never `fail`"
    assert result.outcome is Outcome.INFO
    if expected.seen == "503":
        assert result.status == 503
        assert result.body == {
            "error": {
                "code": "INJECTED-FAULT",
                "message": f"Injected fault ({kind}) on POST {INVOICE_PATH}",
                "exception": None,
            }
        }
        conforms(sim.app, "POST", INVOICE_PATH, 503, result.body)  # the documented error shape, per /openapi.json
    elif expected.seen == "reset":
        assert result.status is None
        assert result.error is not None
        assert result.error.startswith(("ClientOSError", "ServerDisconnectedError")), result.error
    else:
        assert result.status is None
        assert result.error == "TimeoutError"
        assert recorded.t_complete - recorded.t_invoke >= CLIENT_TIMEOUT_S * 1000

    order = await sim.order()
    assert numbers(order) == (["NF-1"] if expected.applied else [])

    faults = [e for e in await sim.journal() if e["op"] == "fault"]
    assert [(e["phase"], e["op_id"], e["detail"]["class"]) for e in faults] == [(kind, "NF-1", "invoice")]
    if expected.applied:
        assert faults[0]["detail"]["answered"] == 200  # what the handler answered before the fault replaced it
    _, metrics = await sim.call("GET", "/_sim/metrics", expect=200)
    assert metrics["requests"][f"fault invoice {kind}"] == 1


@pytest.mark.looptime
async def test_a_timeout_answers_after_its_hold_when_the_client_waits(sim: Sim, session: aiohttp.ClientSession) -> None:
    """The answer is held, not lost: a client patient enough gets the handler's own answer, `hold` late."""
    await sim.patch_config({"faults": {"invoice": {"timeout": 1.0, "hold": "2.5s"}}})
    await sim.seed()
    api = client(sim, session)
    items = [{"itemIndex": 0, "price": 9980, "quantity": 2}, {"itemIndex": 1, "price": 1500, "quantity": 1}]
    result = await api.perform(calls.invoice("ORD-1", number="NF-1", value=VALUE, items=items, timeout_s=10.0))
    assert result.ok
    assert set(result.body) == {"date", "orderId", "receipt"}
    op = api._rec.ops[-1]
    assert 2500 <= op.t_complete - op.t_invoke < 10_000
    faults = [e for e in await sim.journal() if e["op"] == "fault"]
    assert faults[0]["detail"]["hold_ms"] == 2500.0


async def test_an_injected_error_uses_the_status_configured(sim: Sim, session: aiohttp.ClientSession) -> None:
    await sim.patch_config({"faults": {"invoice": {"error_after": 1.0, "status": 502}}})
    await sim.seed()
    result = await invoice(client(sim, session))
    assert (result.status, result.outcome) == (502, Outcome.INFO)
    assert result.error_code() == "INJECTED-FAULT"


async def test_accounting_faults_answer_in_accountings_error_shape(sim: Sim, session: aiohttp.ClientSession) -> None:
    await sim.patch_config({"faults": {"accounting": {"error_before": 1.0}}})
    await sim.seed("ORD-1", accounting={"customerNumber": "CUS-1"})
    path = "/accounting/v1/businesses/1000/customers/CUS-1/orders/ORD-1/payments"
    status, body = await sim.call("POST", path, body={"paymentReference": "P-1", "amount": 1.0})
    assert status == 503
    assert body == {
        "type": "Error",
        "title": "Error",
        "code": 503,
        "description": f"Injected fault (error_before) on POST {path}",
    }
    entries = [e for e in await sim.journal("ORD-1") if e["op"] == "fault"]
    assert [(e["phase"], e["detail"]["class"]) for e in entries] == [("error_before", "accounting")]


# -- scope -----------------------------------------------------------------------------------------------------------


async def test_faults_apply_to_their_class_of_routes_only(sim: Sim, session: aiohttp.ClientSession) -> None:
    await sim.patch_config({"faults": {"invoice": {"error_before": 1.0}}})
    await sim.seed()
    api = client(sim, session)
    assert (await api.perform(calls.get_order("ORD-1"))).ok
    assert (await invoice(api)).status == 503
    assert (
        await api.perform(calls.change("ORD-1", {"reason": "r", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}}))
    ).ok
    _, health = await sim.call("GET", "/_sim/health", expect=200)  # the control API is never faulted
    assert health["status"] == "ok"


async def test_every_modelled_route_belongs_to_a_class(sim: Sim, session: aiohttp.ClientSession) -> None:
    """With every class failing before its handler, every Orders and Accounting route answers the injected 503."""
    from simulator.config import FAULT_CLASSES

    await sim.patch_config({"faults": {cls: {"error_before": 1.0} for cls in FAULT_CLASSES}})
    base = str(sim.client.make_url("")).rstrip("/")
    routes = [r for r in sim.app[ROUTES] if r.service != "control"]
    assert len(routes) > 20
    for route in routes:
        path = route.path
        for name in (
            "orderId",
            "orderReference",
            "businessCode",
            "customerNumber",
            "invoiceNumber",
            "changeRequestId",
            "invoiceReference",
        ):
            path = path.replace("{" + name + "}", "X1")
        async with session.request(route.method, base + path, json={}) as resp:
            assert resp.status == 503, f"{route.method} {route.path}: {resp.status}"
            assert resp.headers["X-Racelab-Fault"] == "error_before"


async def test_the_harness_reads_are_never_faulted(sim: Sim, session: aiohttp.ClientSession) -> None:
    """`ControlClient` marks its requests with X-Racelab-Control: a run is never judged on a faulted final state."""
    await sim.patch_config({"faults": {"get_order": {"error_before": 1.0}}})
    await sim.seed()
    url = str(sim.client.make_url("")).rstrip("/")
    control = ControlClient(session, Endpoints(orders=url, accounting=url, control=url))
    answer = await control.perform(control_ops.get_order("ORD-1"))
    status, order = answer.status, answer.body
    assert (status, order["orderId"]) == (200, "ORD-1")
    assert (await client(sim, session).perform(calls.get_order("ORD-1"))).status == 503
    async with session.get(f"{url}/api/oms/pvt/orders/ORD-1", headers={CONTROL_HEADER: "1"}) as resp:
        assert resp.status == 200


async def test_no_faults_by_default(sim: Sim, session: aiohttp.ClientSession) -> None:
    _, config = await sim.call("GET", "/_sim/config", expect=200)
    assert all(v == 0.0 for spec in config["faults"].values() for k, v in spec.items() if k not in ("status", "hold"))
    await sim.seed()
    api = client(sim, session)
    results = [await api.perform(calls.get_order("ORD-1")) for _ in range(20)]
    assert all(r.ok for r in results)
    assert not [e for e in await sim.journal() if e["op"] == "fault"]


async def test_a_patch_that_does_not_validate_changes_nothing(sim: Sim) -> None:
    status, body = await sim.call(
        "PATCH", "/_sim/config", body={"faults": {"invoice": {"error_after": 0.8, "timeout": 0.4}}}
    )
    assert status == 400
    assert "faults.invoice" in body["error"]["message"]
    assert "add up to 1.2" in body["error"]["message"]
    _, config = await sim.call("GET", "/_sim/config", expect=200)
    assert config["faults"]["invoice"]["error_after"] == 0.0
    await sim.patch_config({"faults": {"invoice": {"error_after": 0.5}}})
    _, config = await sim.call("GET", "/_sim/config", expect=200)
    assert config["faults"]["invoice"]["error_after"] == 0.5
    await sim.patch_config({"faults": {"invoice": None}})  # a merge patch's null: back to the default, no fault
    _, config = await sim.call("GET", "/_sim/config", expect=200)
    assert config["faults"]["invoice"]["error_after"] == 0.0


# -- seeded ----------------------------------------------------------------------------------------------------------


async def fault_pattern(sim: Sim, session: aiohttp.ClientSession, *, noise: bool = False) -> list[bool]:
    """Send 40 invoices for ORD-1 (and, with `noise`, others for ORD-2 in between); which of ORD-1's were faulted."""
    await sim.seed("ORD-1")
    await sim.seed("ORD-2")
    api = client(sim, session)
    pattern = []
    for i in range(40):
        result = await invoice(api, number=f"NF-{i}")
        pattern.append(result.status == 503)
        if noise:
            await invoice(api, number=f"NF-{i}", order_id="ORD-2")
    return pattern


@pytest.mark.parametrize("via", ["control", "profile"])
async def test_the_same_seed_faults_the_same_requests(
    sim: Sim, make_sim: SimFactory, session: aiohttp.ClientSession, tmp_path: Path, via: str
) -> None:
    faults = {"invoice": {"error_before": 0.5}}
    if via == "control":
        await sim.patch_config({"seed": 3})
    first = await fault_pattern(await faulted(sim, via, tmp_path, make_sim, faults), session)
    again = await make_sim("instant", seed=3, faults=faults)
    beside = await make_sim("instant", seed=3, faults=faults)
    other = await make_sim("instant", seed=4, faults=faults)

    assert 10 < sum(first) < 30  # about half, so the comparisons below mean something
    assert await fault_pattern(again, session) == first
    assert await fault_pattern(beside, session, noise=True) == first  # other orders' requests draw their own streams
    assert await fault_pattern(other, session) != first


# -- duplicate hook delivery (the fault that lives in `orders.hook.duplicate_rate`) ----------------------------------


class Subscriber:
    """A real HTTP subscriber on loopback that counts the hooks it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self._arrived.set()
        return web.Response(status=200)

    async def wait_for(self, count: int) -> None:
        while len(self.received) < count:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), 10)


@pytest.fixture
async def subscriber() -> AsyncIterator[tuple[Subscriber, str]]:
    s = Subscriber()
    app = web.Application()
    app.router.add_post("/hook", s.handle)
    server = TestServer(app)
    await server.start_server()
    yield s, str(server.make_url("/hook"))
    await server.close()


@pytest.mark.parametrize("via", ["control", "profile"])
async def test_a_duplicated_hook_reaches_the_subscriber_twice(
    sim: Sim, make_sim: SimFactory, tmp_path: Path, subscriber: tuple[Subscriber, str], via: str
) -> None:
    received, url = subscriber
    if via == "profile":
        path = tmp_path / "dup.yaml"
        path.write_text("orders:\n  hook: {duplicate_rate: 1.0}\n", encoding="utf-8")
        sim = await make_sim(str(path))
    else:
        await sim.patch_config({"orders": {"hook": {"duplicate_rate": 1.0}}})
    body = {"filter": {"type": "FromWorkflow", "status": ["handling"]}, "hook": {"url": url, "headers": {}}}
    await sim.call("POST", "/api/orders/hook/config", body=body, expect=200)
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    await sim.quiesce()

    hooks = [h for h in received.received if h.get("State") == "handling"]
    assert len(hooks) == 2
    assert hooks[0] == hooks[1]  # the same event again, as at-least-once delivery allows
    phases = [e["phase"] for e in await sim.journal() if e["op"] == "hook"]
    assert phases.count("deliver") == 1
    assert phases.count("duplicate") == 1
