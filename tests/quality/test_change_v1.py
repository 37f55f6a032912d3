"""Change v1 (`POST /api/oms/pvt/orders/{orderId}/changes`, synchronous) races an invoice as a v2 Change does: its READ
lags, so a partial cancellation judged on a snapshot taken before the invoice lowers the total below what is
invoiced (failure A) in `snapshot` consistency, and never in `serializable`.

Asserted on the final state of the order, with gates forcing the exact interleaving.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import VALUE, Sim, SimFactory
from tests.support.race import invoiced, wait_journal

V1 = "/api/oms/pvt/orders/ORD-1/changes"
REMOVE_SKU2_V1 = {
    "requestId": "v1-remove-sku-2",
    "reason": "sku-2 out of stock",
    "discountValue": 1500,  # v1: the caller states the value; removing an item does not lower the total by itself
    "incrementValue": 0,
    "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}],
}
GATE = {"orderId": "ORD-1", "point": "change_v1.after_read"}


async def v1(sim: Sim, body: dict[str, Any] = REMOVE_SKU2_V1) -> tuple[int, Any]:
    return await sim.call("POST", V1, body=body)


async def test_failure_a_through_change_v1_in_snapshot_mode(sim: Sim) -> None:
    await sim.seed()
    await sim.call("POST", "/_sim/gates", body=GATE, expect=201)
    change = asyncio.create_task(v1(sim))
    await sim.call("POST", "/_sim/gates/wait", body=GATE, expect=200)  # the v1 Change has READ the order
    await sim.invoice(value=VALUE, expect=200)
    await sim.call("POST", "/_sim/gates/release", body=GATE, expect=200)
    status, answer = await change
    await sim.quiesce("ORD-1")

    assert status == 200
    assert set(answer) == {"date", "orderId", "receipt"}
    order = await sim.order()
    assert order["value"] == VALUE - 1500
    assert invoiced(order) == VALUE > order["value"]  # failure A


@pytest.mark.looptime
async def test_change_v1_cannot_over_invoice_in_serializable_mode(make_sim: SimFactory) -> None:
    sim = await make_sim("instant", consistency="serializable")
    await sim.seed()
    await sim.call("POST", "/_sim/gates", body=GATE, expect=201)
    change = asyncio.create_task(v1(sim))
    await sim.call("POST", "/_sim/gates/wait", body=GATE, expect=200)
    invoice = asyncio.create_task(sim.invoice(value=VALUE, expect=None))
    await wait_journal(sim, "ORD-1", "invoice", "lock_wait")  # blocked by the v1 Change's READ→COMMIT
    await sim.call("POST", "/_sim/gates/release", body=GATE, expect=200)
    assert (await change)[0] == 200
    status, answer = await invoice
    await sim.quiesce("ORD-1")

    assert status == 400
    assert answer["error"]["code"] == "OMS-INVOICE-EXCEEDS"
    order = await sim.order()
    assert order["value"] == VALUE - 1500
    assert invoiced(order) == 0


async def test_change_v1_below_an_earlier_partial_invoice_is_refused(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE - 480, expect=200)  # partial: the order stays changeable
    await sim.quiesce("ORD-1")
    status, answer = await v1(sim)
    assert status == 400
    assert answer["error"]["message"].startswith("The value of the modification exceeds the order's price")
    assert (await sim.order())["value"] == VALUE  # the help center's invoice rule, judged on a fresh READ here
