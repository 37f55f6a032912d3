"""Stress: 10,000 concurrent mixed operations in `serializable` consistency, judged by the harness's checkers.

The simulator runs in-process (`instant` profile, every delay zero, `serializable`). 250 orders, each mirrored in
Accounting, get 40 operations each from four concurrent lanes: invoices (full, partial, duplicate numbers),
Changes (removals, an added item, a manual discount), cancellations of Changes, order cancellations, reads
(order, Change details, Change history) and Accounting writes (invoices, cancellations, payments, goodwills,
returns, update invoice lowering and raising the gross). All 1,000 lanes start at once; a lane's next operation
may use what an earlier one returned (a Change's `requestId`).

Afterwards each order becomes one `RunRecord` (its history, its final state, its journal) and the same pure
checkers `racelab run` uses judge it. The test asserts

- zero invariant violations and no `unknown` verdict (every order settled);
- nothing logged at WARNING or above, no exception reached the event loop, `background_errors == 0`;
- the simulator answered exactly as many Orders and Accounting requests as the lanes sent.

`accounting-matches-orders` is left out: it judges an integration (did it register in Accounting what it
invoiced in Orders), and the random writes here are not one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.drive.transport import ApiClient, ControlClient, Endpoints, Recorder, open_sessions
from harness.integrations import Answer, Call, api, control
from harness.judge.checkers import check_all
from harness.model.records import FinalState, Outcome, RunRecord, RunSpec, Verdict
from tests.conftest import Sim, SimFactory
from tests.reliability.conftest import Trap

ORDERS = 250
LANES = 4
OPS_PER_LANE = 10
TOTAL = ORDERS * LANES * OPS_PER_LANE
CHECKERS = (
    "no-over-invoice",
    "invoiced-when-fully-invoiced",
    "no-lost-invoice",
    "finished-means-applied",
    "change-respects-invoices",
    "update-invoice-rules",
)
ITEMS = [
    {"id": "sku-1", "price": 4990, "quantity": 2},
    {"id": "sku-2", "price": 1500, "quantity": 1},
    {"id": "sku-3", "price": 700, "quantity": 3},
]
SHIPPING = 1000
VALUE = 4990 * 2 + 1500 + 700 * 3 + SHIPPING  # 14,580
CUSTOMER = "CUS-1"


@dataclass
class OrderRun:
    """One order under stress: its API client (recording its history) and what its lanes learned."""

    order_id: str
    api: ApiClient
    recorder: Recorder
    change_ids: list[str] = field(default_factory=list)

    @property
    def accounting(self) -> str:
        return f"/accounting/v1/businesses/1000/customers/{CUSTOMER}/orders/{self.order_id}"


Op = Callable[[OrderRun, random.Random, dict[str, Any]], Awaitable[Answer]]


async def get_order(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    return await run.api.perform(api.get_order(run.order_id))


async def invoice(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    value = rng.choice([VALUE, VALUE - 1500, 5000, 2000, 700])
    return await run.api.perform(
        api.invoice(
            run.order_id,
            number=f"NF-{rng.randrange(6)}",
            value=value,
            items=[{"itemIndex": 0, "price": value, "quantity": 1}],
        )
    )


CHANGES: list[dict[str, Any]] = [
    {"reason": "sku-2 out of stock", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}},
    {"reason": "one sku-3 less", "remove": {"items": [{"id": "sku-3", "quantity": 1}]}},
    {"reason": "gift wrap", "add": {"items": [{"id": "wrap", "quantity": 1, "price": 300}]}},
    {"reason": "goodwill", "manualDiscountValue": 500},
]


async def change(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    result = await run.api.perform(api.change(run.order_id, rng.choice(CHANGES)))
    if result.ok and isinstance(result.body, dict):
        run.change_ids.append(str(result.body["requestId"]))
    return result


async def get_change(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    if not run.change_ids:
        return await get_order(run, rng, ctx)
    return await run.api.perform(api.get_change(run.order_id, rng.choice(run.change_ids)))


async def cancel_change(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    if not run.change_ids:
        return await get_order(run, rng, ctx)
    request_id = rng.choice(run.change_ids)
    path = f"/api/order-system/orders/{run.order_id}/changes/{request_id}/cancel"
    call = Call("cancel_change", "POST", path, path, json={"reason": "stress"}, record={"requestId": request_id})
    return await run.api.perform(call)


async def change_history(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    path = f"/api/order-system/orders/{run.order_id}/changes"
    return await run.api.perform(Call("change_history", "GET", path, path))


async def cancel_order(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    return await run.api.perform(api.cancel_order(run.order_id, "stress"))


async def acc_invoice(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    refs = sorted(rng.sample([1, 2, 3, 4], rng.randint(1, 4)))
    body = {
        "invoiceReference": f"I-{rng.randrange(4)}",
        "invoiceDate": "2026-11-21",
        "dueDate": "2026-12-21",
        "dispatchDate": "2026-11-21",
        "shipmentReference": "S-1",
        "items": [{"orderItemReference": r} for r in refs],
    }
    return await run.api.perform(api.accounting_write("accounting.invoice", "POST", f"{run.accounting}/invoices", body))


async def acc_cancel(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    body = {
        "cancellationDate": "2026-11-21",
        "cancellationReason": "OUT_OF_STOCK",
        "items": [{"orderItemReference": rng.randint(1, 4)}],
    }
    return await run.api.perform(
        api.accounting_write("accounting.cancellation", "POST", f"{run.accounting}/cancellations", body)
    )


async def acc_payment(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    body = {"authorizedAmount": rng.choice([10.0, 50.0, 145.8])}
    request_id = f"{run.order_id}-pay-{rng.randrange(3)}"
    path = f"{run.accounting}/payments"
    return await run.api.perform(api.accounting_write("accounting.payment", "POST", path, body, request_id=request_id))


async def acc_credit(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    position = rng.choice(ctx["positions"])
    line = {k: position[k] for k in ("orderItemReference", "grossUnitPrice", "vatAmount", "vatPercent", "vatType")}
    line["quantity"] = 1
    n = rng.randrange(3)
    if rng.random() < 0.5:
        body = {"goodwillReference": f"G-{n}", "goodwillDate": "2026-11-22", "items": [line]}
        return await run.api.perform(
            api.accounting_write("accounting.goodwill", "POST", f"{run.accounting}/goodwills", body)
        )
    body = {"returnReference": f"R-{n}", "returnDate": "2026-11-22", "returnReason": "CUSTOMER_RETURN", "items": [line]}
    return await run.api.perform(api.accounting_write("accounting.return", "POST", f"{run.accounting}/returns", body))


async def acc_update(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> Answer:
    """Update invoice I-n: drop sku-2 (the gross goes down), or raise sku-1's price (must be refused)."""
    lines = []
    raise_price = rng.random() < 0.3
    for p in ctx["positions"]:
        line = {
            k: p[k]
            for k in (
                "orderItemReference",
                "grossUnitPrice",
                "quantity",
                "vatAmount",
                "vatPercent",
                "vatType",
                "positionType",
            )
        }
        if p["orderItemReference"] == 2 and not raise_price:
            line["quantity"] = 0
        if p["orderItemReference"] == 1 and raise_price:
            line["grossUnitPrice"], line["vatAmount"] = 59.9, 9.56
        lines.append(line)
    n = rng.randrange(4)
    body = {
        "invoice": {
            "invoiceReference": f"U-{n}-{rng.randrange(1000)}",
            "invoiceDate": "2026-11-22",
            "dueDate": "2026-12-22",
            "dispatchDate": "2026-11-21",
            "shipmentReference": "S-1",
            "items": [{"orderItemReference": ln["orderItemReference"]} for ln in lines],
        },
        "order": {
            "orderReference": run.order_id,
            "currency": "EUR",
            "orderChannel": "ECOM",
            "orderDate": "2026-11-21",
            "orderType": "PHYSICAL_GOODS",
            "supplyingCountry": "DE",
            "items": lines,
        },
    }
    return await run.api.perform(
        api.accounting_write("accounting.update_invoice", "PUT", f"{run.accounting}/invoices/I-{n}", body)
    )


MIX: list[tuple[Op, int]] = [
    (get_order, 16),
    (invoice, 18),
    (change, 14),
    (get_change, 10),
    (cancel_change, 4),
    (change_history, 4),
    (cancel_order, 2),
    (acc_invoice, 12),
    (acc_cancel, 5),
    (acc_payment, 6),
    (acc_credit, 5),
    (acc_update, 4),
]


async def lane(run: OrderRun, rng: random.Random, ctx: dict[str, Any]) -> None:
    ops, weights = zip(*MIX, strict=True)
    for op in rng.choices(ops, weights, k=OPS_PER_LANE):
        await op(run, rng, ctx)


def seed_body(order_id: str) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "items": ITEMS,
        "shipping": SHIPPING,
        "status": "handling",
        "accounting": {"customerNumber": CUSTOMER},
    }


def answered(metrics: dict[str, Any]) -> int:
    """Orders and Accounting answers the simulator counted (control API excluded)."""
    return sum(n for key, n in metrics["requests"].items() if key.startswith(("orders ", "accounting ")))


async def final_record(run: OrderRun, client: ControlClient) -> RunRecord:
    """The order's final state as the runner reads it (`control.final_state`), from the HTTP APIs."""
    quiet = (await client.perform(control.quiesce(run.order_id, timeout_s=30))).body["idle"]
    read = await client.perform(control.get_order(run.order_id))
    status, order = read.status, read.body
    inspected = (await client.perform(control.inspect_order(run.order_id))).body
    journal = (await client.perform(control.journal(run.order_id))).body
    acc = await client.perform(control.accounting_order(run.order_id))
    code, accounting = acc.status, acc.body
    spec = RunSpec(
        run_id=run.order_id,
        scenario="stress",
        integration="stress",
        cell={},
        repetition=0,
        seed=1,
        order_id=run.order_id,
        order=seed_body(run.order_id),
        steps=(),
        expect=CHECKERS,
    )
    final = FinalState(
        order=order if status == 200 else {},
        versions=tuple(inspected["versions"]),
        changes=tuple(inspected["changes"]),
        accounting=accounting if code == 200 else None,
        settled=quiet,
    )
    return RunRecord(spec=spec, history=tuple(run.recorder.ops), final=final, journal=tuple(journal["entries"]))


@dataclass
class Stressed:
    records: list[RunRecord]
    sent: int
    answered: int
    """Orders and Accounting requests the simulator answered meanwhile."""
    background_errors: int

    def problems(self) -> list[tuple[str, str, str]]:
        """(order, checker, explanation) of every verdict that is not `valid`."""
        out = []
        for r in self.records:
            results, _ = check_all(r, CHECKERS)
            out += [(r.spec.order_id, c.checker, c.explanation) for c in results if c.verdict is not Verdict.VALID]
        return out


async def stress(sim: Sim, *, orders: int, seed: int = 20261121) -> Stressed:
    """Seed `orders` orders, run LANES lanes of OPS_PER_LANE operations on each, all at once; read final states."""
    url = str(sim.client.make_url("")).rstrip("/")
    endpoints = Endpoints(orders=url, accounting=url, control=url, request_timeout_s=60)
    order_ids = [f"ST{i:04d}" for i in range(orders)]  # also Accounting order references: letters and digits
    for order_id in order_ids:
        await sim.call("POST", "/_sim/orders", body=seed_body(order_id), expect=201)
    _, inspected = await sim.call("GET", f"/_sim/accounting/orders/{order_ids[0]}", expect=200)
    ctx = {"url": url, "positions": inspected["positions"]}
    _, metrics = await sim.call("GET", "/_sim/metrics", expect=200)
    before = answered(metrics)

    async with open_sessions(connections=200) as (api_session, control_session):
        runs = []
        for order_id in order_ids:
            recorder = Recorder(origin=asyncio.get_running_loop().time())
            runs.append(OrderRun(order_id, ApiClient(api_session, endpoints, recorder, "stress"), recorder))
        master = random.Random(seed)
        await asyncio.gather(
            *(lane(run, random.Random(master.getrandbits(64)), ctx) for run in runs for _ in range(LANES))
        )
        _, metrics = await sim.call("GET", "/_sim/metrics", expect=200)
        control_client = ControlClient(control_session, endpoints)
        records = list(await asyncio.gather(*(final_record(run, control_client) for run in runs)))
    sent = sum(len(run.recorder.ops) for run in runs)
    return Stressed(records, sent, answered(metrics) - before, metrics["background_errors"])


@pytest.mark.slow
async def test_ten_thousand_concurrent_operations_in_serializable_mode_break_no_invariant(
    make_sim: SimFactory, trap: Trap
) -> None:
    sim = await make_sim("instant", consistency="serializable")
    done = await stress(sim, orders=ORDERS)

    assert done.sent == TOTAL == 10_000
    assert done.answered == done.sent, "requests lost or counted twice"
    history = [o for r in done.records for o in r.history]
    assert [o for o in history if o.outcome is Outcome.INFO] == [], "an unknown outcome: a 5xx or a timeout"
    assert len({o.f for o in history}) == 13, "every kind of operation of the mix was sent"
    ok_kinds = {o.f for o in history if o.outcome is Outcome.OK}
    assert {
        "invoice",
        "change",
        "get_change",
        "cancel",
        "accounting.invoice",
        "accounting.update_invoice",
        "accounting.goodwill",
        "accounting.return",
        "accounting.payment",
    } <= ok_kinds
    assert any(r.final.order["status"] == "invoiced" for r in done.records), "the mix invoiced nothing"
    problems = done.problems()
    assert problems == [], f"{len(problems)} violations or unknowns, e.g. {problems[:5]}"
    assert done.background_errors == 0
    assert trap.problems() == []


@pytest.mark.looptime
async def test_the_same_stress_in_snapshot_mode_is_caught_breaking_invariants(make_sim: SimFactory) -> None:
    """The checkers can fail on this workload: with the `fixed` profile's lags (virtual time) and `snapshot`
    consistency, the same mix over-invoices and leaves orders stuck."""
    sim = await make_sim("fixed")
    done = await stress(sim, orders=25)

    assert done.answered == done.sent == 25 * LANES * OPS_PER_LANE
    broken = {checker for _, checker, _ in done.problems()}
    assert {"no-over-invoice", "change-respects-invoices", "invoiced-when-fully-invoiced"} <= broken, broken
