"""Bad input, route by route: every malformed request gets a 4xx in its service's documented shape, and nothing
is stored.

`CASES` is a table of malformed requests (bad JSON, wrong types, missing fields, unknown orders, oversize bodies,
path and query values outside their patterns, business-rule refusals), and `wrong_method_cases()` adds, for every
path, a method it does not serve. Each case is sent to one simulator that holds real state (an order in both
services, a partial invoice, a finished Change), and the test checks

- the status is the one expected (a 4xx),
- the body is the answering service's documented error: `OrdersError` (Orders, the control API and
  `/openapi.json`) or `AccountingError` (Accounting), as `/openapi.json` declares them, with a message that is
  not empty,
- the state is unchanged: orders and their versions, Changes, Accounting orders, callbacks, notifications,
  idempotency keys, hook, feed, configuration, gates, pending work; and the journal gained no COMMIT (it does
  record refused requests: it is the audit trail).

Two guards keep the table whole: every route of the route table has cases, and every route has the kinds of
case its inputs call for (a route with a body gets bad JSON, a wrong type and an oversize body; a route with an
`{orderId}` gets an unknown order...). A new route without bad-input cases fails here.

Accounting's unknown order is not a 4xx on purpose: the service accepts the write (200) and reports the
business error later as an `EDIErrorSent` notification (reference: riverty-aaas-api.md), so its table rows use
path values outside their patterns instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from simulator import create_app, load_profile, open_server
from simulator.web._state import ACCOUNTING, CORE, ORDERS, ROUTES
from simulator.web.routing import Route, openapi_document
from tests.conftest import Sim, SimFactory
from tests.support.bad_input import (
    ACC_ORDER,
    ALL_CASES,
    CHANGE,
    CHANGE_BODY,
    CHANGES,
    CUSTOMER,
    DOC_INVOICE,
    LIMIT,
    NF,
    ORDER,
    VALID,
    Bad,
    R,
    route_table,
)


@dataclass
class Setup:
    sim: Sim
    change_id: str
    spec: dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup() -> AsyncIterator[Setup]:
    """One simulator with real state in both services: ORD-1 (and its Accounting twin) partially invoiced by NF-1,
    and a finished Change that removed sku-2."""
    config = load_profile("instant", overrides={"limits": {"max_body_bytes": LIMIT}})
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(config)))
    await client.start_server()
    sim = Sim(client)
    await sim.seed(ORDER, accounting={"customerNumber": CUSTOMER})
    await sim.invoice(ORDER, 1000, NF)
    _, change = await sim.change(ORDER)
    await sim.quiesce(ORDER)
    spec = openapi_document(sim.app[ROUTES], title="t", version="0")
    try:
        yield Setup(sim, change["requestId"], spec)
    finally:
        await client.close()


def state(app: Any) -> dict[str, Any]:
    """Everything a request could store, compared by value (order versions are immutable records)."""
    core, orders, accounting = app[CORE], app[ORDERS], app[ACCOUNTING]
    return {
        "orders": {k: tuple(orders.store.history(k).states) for k in orders.store.ids()},
        "changes": {k: {rid: c.to_json() for rid, c in v.items()} for k, v in orders.changes.items()},
        "events": orders.events.snapshot(),
        "change_settings": orders.change_settings,
        "changes_v1": orders.changes_v1,
        "accounting": {k: tuple(accounting.store.history(k).states) for k in accounting.store.ids()},
        "callbacks": dict(accounting.callbacks),
        "notifications": {k: len(v) for k, v in accounting.notifications.items()},
        "updates": {k: list(v) for k, v in accounting.updates.items()},
        "idempotency": dict(accounting._requests),
        "config": core.config.to_json(),
        "gates": core.gates.held(),
        "pending": core.work.pending(),
    }


def last_seq(app: Any) -> int:
    entries = app[CORE].journal.entries()
    return entries[-1].seq if entries else 0


def error_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    name = "AccountingError" if path.startswith(("/accounting", "/administration")) else "OrdersError"
    return {**spec["components"]["schemas"][name], "components": spec["components"]}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
async def test_malformed_request_is_refused_in_the_documented_shape_and_stores_nothing(setup: Setup, case: Bad) -> None:
    sim, app = setup.sim, setup.sim.app
    before, since = state(app), last_seq(app)
    path = case.path.replace(CHANGE, setup.change_id)
    raw = case.raw if case.raw is not None else (json.dumps(case.body).encode() if case.body is not None else b"")
    status, body = await sim.call(case.method or case.route[0], path, raw=raw, headers=case.headers)

    assert status == case.status, f"{case.id}: answered {status} {body}"
    assert 400 <= status < 500
    jsonschema.validate(body, error_schema(setup.spec, path))
    if path.startswith(("/accounting", "/administration")):
        assert body["code"] == status
        assert body["description"].strip()
    else:
        assert body["error"]["message"].strip()
        if case.code is not None:
            assert body["error"]["code"] == case.code, body
    await sim.quiesce()
    assert state(app) == before, f"{case.id} changed the simulator's state"
    commits = [e.to_json() for e in app[CORE].journal.entries(since=since) if e.phase in ("commit", "accepted")]
    assert commits == [], f"{case.id} committed something"


# -- the table covers every route ---------------------------------------------------------------------------


def required_kinds(route: Route) -> set[str]:
    """The mistakes a route's inputs call for."""
    kinds = {"wrong-method"}
    if route.body is not None:
        kinds |= {"bad-json", "wrong-type", "oversize"}
        has_required = any(f.is_required() for f in route.body.model_fields.values())
        if route.body_required and (has_required or route.path == "/_sim/config"):
            kinds.add("missing-field")
    if "{orderId}" in route.path or "{changeRequestId}" in route.path:
        kinds.add("unknown-order")
    if route.service == "accounting" and "{" in route.path:
        kinds.add("bad-path")
    if any(q.name in {"maxlot", "since", "limit"} for q in route.query):
        kinds.add("bad-query")
    return kinds


def test_every_route_has_bad_input_cases() -> None:
    routes = route_table()
    covered = {c.route for c in ALL_CASES}
    missing = sorted(f"{r.method} {r.path}" for r in routes if (r.method, r.path) not in covered)
    assert missing == [], "routes without bad-input cases"
    unknown = sorted(f"{m} {p}" for m, p in covered - {(r.method, r.path) for r in routes})
    assert unknown == [], "cases for routes that do not exist"
    assert set(R.values()) == {(r.method, r.path) for r in routes}


@pytest.mark.parametrize("route", route_table(), ids=lambda r: f"{r.method} {r.path}")
def test_every_route_has_the_cases_its_inputs_call_for(route: Route) -> None:
    kinds = {c.kind for c in ALL_CASES if c.route == (route.method, route.path)}
    assert required_kinds(route) <= kinds, f"missing kinds: {sorted(required_kinds(route) - kinds)}"


def test_the_coverage_guard_sees_a_new_route() -> None:
    """A route added without cases is reported (the guard above is not vacuous)."""
    routes = route_table()
    ghost = Route(
        "POST",
        "/api/oms/pvt/orders/{orderId}/ghost",
        routes[0].handler,
        "orders",
        "ghost",
        "ghost",
        body=next(r.body for r in routes if r.body is not None and r.path.endswith("/invoices")),
    )
    assert (ghost.method, ghost.path) not in {c.route for c in ALL_CASES}
    assert required_kinds(ghost) == {
        "wrong-method",
        "bad-json",
        "wrong-type",
        "oversize",
        "missing-field",
        "unknown-order",
    }


async def test_the_state_check_sees_what_valid_requests_store(make_sim: SimFactory) -> None:
    """The same fingerprint changes when a valid request stores something (the check above is not vacuous)."""
    sim = await make_sim("instant")
    await sim.seed(ORDER, accounting={"customerNumber": CUSTOMER})
    valid = [
        ("POST", f"/api/orders/pvt/document/{ORDER}/invoices", DOC_INVOICE),
        ("PATCH", CHANGES, CHANGE_BODY),
        ("POST", f"{ACC_ORDER}/payments", {"authorizedAmount": 5.0}),
        (
            "POST",
            "/administration/v1/notification-callbacks",
            {"callbackUrl": "http://127.0.0.1:9/n", "notificationTypes": []},
        ),
        ("PATCH", "/_sim/config", {"consistency": "serializable"}),
        ("POST", "/_sim/gates", {"orderId": ORDER, "point": "change.after_read"}),
    ]
    for method, path, body in valid:
        before = state(sim.app)
        status, answer = await sim.call(method, path, body=body)
        assert status < 300, answer
        await sim.quiesce()
        assert state(sim.app) != before, f"{method} {path} stored nothing the fingerprint sees"


@pytest.mark.parametrize("route", sorted(VALID), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_valid_body_each_case_starts_from_is_accepted_by_the_route_model(route: tuple[str, str]) -> None:
    model = next(r.body for r in route_table() if (r.method, r.path) == route)
    assert model is not None
    model.model_validate_json(json.dumps(VALID[route]), strict=True)


async def test_a_request_that_is_not_http_is_refused_without_an_error_log(caplog: pytest.LogCaptureFixture) -> None:
    async with open_server(load_profile("instant")) as (_, url):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /_sim/health HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n")
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
        await writer.wait_closed()
    assert status_line.split()[1] == b"400", status_line
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
