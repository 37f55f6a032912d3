"""End to end across both services: the over-invoice of failure A reaches Accounting, and update invoice reconciles.

The order exists in Orders and, mirrored by the seed, in Accounting. Failure A is forced with gates exactly as in
`test_failures.py`: the Change READs, the full invoice is accepted, the Change COMMITs a lower total. The integration
then registers in Accounting what it invoiced in Orders (every position, more than the final total). An update
invoice that raises the gross is refused (EDIErrorSent ERROR_IN_FILE); one that lowers it to the Orders final total,
built from the final order itself, is accepted and leaves the two systems agreeing: the active invoices in Accounting
sum to the Orders value / 100. Asserted on final state, never on logs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests.conftest import VALUE, Sim
from tests.support.accounting import Receiver, inspect, invoice_body, outcome, subscribe, write
from tests.support.race import REDUCED, invoiced

VAT = Decimal(19)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.server.start_server()
    yield r
    await r.server.close()


def units(cents: int) -> Decimal:
    return Decimal(cents) / 100


def vat_of(gross: Decimal) -> Decimal:
    return (gross - gross / (1 + VAT / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def position(ref: int, gross: Decimal, quantity: int) -> dict[str, Any]:
    return {
        "orderItemReference": ref,
        "grossUnitPrice": float(gross),
        "quantity": quantity,
        "vatAmount": float(vat_of(gross)),
        "vatPercent": 19,
        "vatType": "NORMAL",
    }


def update_from(order: dict[str, Any], *, goodwill: str, bump: Decimal = Decimal(0)) -> dict[str, Any]:
    """An update invoice re-issuing every position at what the Orders order says now (items in order, then
    shipping), optionally with the first unit price raised by `bump`."""
    items = [
        position(n, units(i["price"]) + (bump if n == 1 else 0), i["quantity"])
        for n, i in enumerate(order["items"], start=1)
    ]
    shipping = next(t["value"] for t in order["totals"] if t["id"] == "Shipping")
    items.append(position(len(items) + 1, units(shipping), 1))
    return {
        "goodwillReference": goodwill,
        "invoice": invoice_body("NF-1", tuple(range(1, len(items) + 1))),
        "order": {
            "orderReference": order["orderId"].replace("-", ""),
            "currency": "EUR",
            "orderChannel": "ECOM",
            "orderDate": "2026-11-21",
            "orderType": "PHYSICAL_GOODS",
            "supplyingCountry": "DE",
            "items": items,
        },
    }


def active_gross(accounting: dict[str, Any]) -> Decimal:
    return sum((Decimal(str(i["grossAmount"])) for i in accounting["invoices"] if not i["nullified"]), Decimal(0))


async def over_invoice_with_gates(sim: Sim) -> dict[str, Any]:
    """Failure A (test_failures.py): the Change READs, the full invoice is accepted, then the Change COMMITs."""
    gate = {"orderId": "ORD-1", "point": "change.after_read"}
    await sim.call("POST", "/_sim/gates", body=gate, expect=201)
    await sim.change()
    _, waited = await sim.call("POST", "/_sim/gates/wait", body=gate, expect=200)
    assert waited["parked"]
    await sim.invoice(value=VALUE, expect=200)
    await sim.call("POST", "/_sim/gates/release", body=gate, expect=200)
    await sim.quiesce("ORD-1")
    return await sim.order()


async def test_update_invoice_reconciles_an_over_invoice_from_failure_a(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await sim.seed(accounting={"customerNumber": "CUS-1"})
    order = await over_invoice_with_gates(sim)
    assert order["value"] == REDUCED
    assert invoiced(order) == VALUE > order["value"]  # failure A in Orders

    # The integration registers in Accounting what it invoiced in Orders: every position.
    registered = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("NF-1", (1, 2, 3))))
    assert registered["result"] == "OK"
    accounting = await inspect(sim)
    assert active_gross(accounting) == units(VALUE) > units(order["value"])  # the over-invoice reached Accounting

    # Raising the gross is refused, and changes nothing.
    raised = update_from(order, goodwill="GW-UP", bump=Decimal("0.10"))
    refused = await outcome(sim, receiver, await write(sim, "/invoices/NF-1", raised, method="PUT"))
    assert refused["result"] == "ERROR_IN_FILE"
    assert [e["fieldName"] for e in refused["errorDetails"]] == ["GROSSUNITPRICE"]
    assert "may be reduced but not increased" in refused["errorDetails"][0]["ErrorDescription"]
    assert active_gross(await inspect(sim)) == units(VALUE)

    # Lowering it to the Orders final total is accepted: the systems agree.
    lowered = update_from(order, goodwill="GW-FIX")
    accepted = await outcome(sim, receiver, await write(sim, "/invoices/NF-1", lowered, method="PUT"))
    assert accepted["result"] == "OK"
    accounting = await inspect(sim)
    assert active_gross(accounting) == units(order["value"])
    assert Decimal(str(accounting["billedGross"])) == units(order["value"])  # what accounting-matches-orders reads
    nullified = [i for i in accounting["invoices"] if i["nullified"]]
    assert [(i["grossAmount"], i["nullifiedBy"]) for i in nullified] == [(float(units(VALUE)), "GW-FIX")]

    # Once reconciled, raising it back to what Orders once invoiced is refused.
    back = update_from(order, goodwill="GW-BACK")
    back["order"]["items"][1]["quantity"] = 1
    again = await outcome(sim, receiver, await write(sim, "/invoices/NF-1", back, method="PUT"))
    assert again["result"] == "ERROR_IN_FILE"
    assert active_gross(await inspect(sim)) == units(order["value"])
    assert [u["result"] for u in accounting["updates"]] == ["ERROR_IN_FILE", "OK"]
