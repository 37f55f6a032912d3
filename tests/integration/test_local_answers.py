"""`simulator.web.local.LocalAnswers`: virtual mode's harness asks the simulator in process, and must get what the
HTTP routes answer, status and JSON alike, errors included."""

from __future__ import annotations

import re
from collections.abc import Coroutine
from typing import Any

from simulator.web.local import LocalAnswers
from tests.conftest import VALUE, Sim, SimFactory

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")

ACCOUNTING_ORDER = {
    "orderId": "ACC-1",
    "items": [{"id": "sku-1", "price": 1000, "quantity": 2}, {"id": "sku-2", "price": 500, "quantity": 1}],
    "accounting": {"customerNumber": "C-1"},
}


async def test_every_answer_is_what_the_route_answers(sim: Sim) -> None:
    local = LocalAnswers(sim.app)
    await sim.seed()
    await sim.invoice(value=VALUE - 1)  # a version more, and a rejection in the journal
    await sim.change()
    await sim.quiesce()
    settle_known, settle_unknown = {"orderId": "ORD-1", "timeout_ms": 1000}, {"orderId": "NOPE", "timeout_ms": 1000}
    cases: list[tuple[str, Coroutine[Any, Any, tuple[int, Any]], tuple[str, str, Any]]] = [
        # name, the answer in process, the same request over HTTP
        ("inspect", local.inspect_order("ORD-1"), ("GET", "/_sim/orders/ORD-1", None)),
        ("journal", local.journal("ORD-1"), ("GET", "/_sim/journal?orderId=ORD-1", None)),
        ("order", local.get_order("ORD-1"), ("GET", "/api/oms/pvt/orders/ORD-1", None)),
        ("quiesce", local.quiesce("ORD-1", timeout_s=1), ("POST", "/_sim/quiesce", settle_known)),
        ("unknown order", local.inspect_order("NOPE"), ("GET", "/_sim/orders/NOPE", None)),
        ("unknown order, Orders API", local.get_order("NOPE"), ("GET", "/api/oms/pvt/orders/NOPE", None)),
        ("quiesce unknown", local.quiesce("NOPE", timeout_s=1), ("POST", "/_sim/quiesce", settle_unknown)),
        ("bad seed", local.seed_order({"items": []}), ("POST", "/_sim/orders", {"items": []})),
        (
            "bad status",
            local.move_status("ORD-1", "nowhere"),
            ("POST", "/_sim/orders/ORD-1/status", {"status": "nowhere"}),
        ),
        ("unknown accounting", local.accounting_order("NOPE"), ("GET", "/_sim/accounting/orders/NOPE", None)),
    ]
    answers = {}
    for name, in_process, (method, path, body) in cases:
        answers[name] = await in_process
        assert answers[name] == await sim.call(method, path, body=body), name
        assert _json_types_only(answers[name][1]), name  # what parsing the wire would give, no tuple or object
    assert answers["inspect"][0] == 200
    assert answers["unknown order"][0] == 404
    assert answers["bad seed"][0] == 400


def _json_types_only(value: Any) -> bool:
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) is list:
        return all(map(_json_types_only, value))
    if type(value) is dict:
        return all(type(k) is str and _json_types_only(v) for k, v in value.items())
    return False


def _undated(value: Any) -> Any:
    """`value` with every date replaced by `<date>`: two simulators started at different moments date alike
    events differently."""
    if isinstance(value, dict):
        return {k: _undated(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_undated(v) for v in value]
    if isinstance(value, str) and DATE.match(value):
        return "<date>"
    return value


async def test_writes_answer_as_the_routes_do(make_sim: SimFactory) -> None:
    # Two simulators in the same state; one is asked in process, the other over HTTP, and they must stay alike.
    over_http, in_process = await make_sim("instant"), await make_sim("instant")
    local = LocalAnswers(in_process.app)
    seeded = (
        await local.seed_order(ACCOUNTING_ORDER),
        await over_http.call("POST", "/_sim/orders", body=ACCOUNTING_ORDER),
    )
    assert seeded[0] == seeded[1]
    assert seeded[0][0] == 201
    assert _json_types_only(seeded[0][1])
    moved = (
        await local.move_status("ACC-1", "next"),
        await over_http.call("POST", "/_sim/orders/ACC-1/status", body={"status": "next"}),
    )
    assert _undated(moved[0]) == _undated(moved[1])
    assert moved[0][0] == 200
    # The twin's order reference is the order id's letters and digits (an order reference is 1 to 16 of them).
    accounting = (await local.accounting_order("ACC1"), await over_http.call("GET", "/_sim/accounting/orders/ACC1"))
    assert _undated(accounting[0]) == _undated(accounting[1])
    assert accounting[0][0] == 200
    assert _json_types_only(accounting[0][1])
    assert _json_types_only(moved[0][1])
    twice = (
        await local.seed_order(ACCOUNTING_ORDER),
        await over_http.call("POST", "/_sim/orders", body=ACCOUNTING_ORDER),
    )
    assert twice[0] == twice[1]
    assert twice[0][0] >= 400
