"""Change v1, `POST /api/oms/pvt/orders/{orderId}/changes`: the published request, its answer, the rules of the dev
portal's "Errors in Change v1" table, and `changesAttachment` afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import VALUE, Sim, SimFactory

V1 = "/api/oms/pvt/orders/ORD-1/changes"
BODY = {
    "requestId": "change-request-0123",
    "reason": "Stock shortage",
    "discountValue": 1500,
    "incrementValue": 0,
    "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}],
}


async def test_change_v1_applies_synchronously_and_records_changes_data(sim: Sim) -> None:
    await sim.seed()
    _, answer = await sim.call("POST", V1, body=BODY, expect=200)
    assert answer["orderId"] == "ORD-1"
    order = await sim.order()  # synchronous: applied when answered
    assert order["value"] == VALUE - 1500
    assert [i["quantity"] for i in order["items"]] == [2, 0]
    [data] = order["changesAttachment"]["changesData"]
    assert (data["reason"], data["discountValue"], data["incrementValue"]) == ("Stock shortage", 1500, 0)
    assert [(i["id"], i["quantity"]) for i in data["itemsRemoved"]] == [("sku-2", 1)]
    assert data["receipt"]["receipt"] == answer["receipt"]


async def test_change_v1_value_is_what_the_caller_states(sim: Sim) -> None:
    # Help center: in v1 "the user calculated the change value" (incrementValue - discountValue).
    await sim.seed()
    body = {**BODY, "requestId": "r-2", "discountValue": 0, "incrementValue": 250, "itemsRemoved": []}
    await sim.call("POST", V1, body=body, expect=200)
    assert (await sim.order())["value"] == VALUE + 250


async def test_change_v1_same_request_id_applies_once(sim: Sim) -> None:
    # Official document: "Only the first modification made with each requestId will be effective on a given order."
    await sim.seed()
    _, first = await sim.call("POST", V1, body=BODY, expect=200)
    _, again = await sim.call("POST", V1, body=BODY, expect=200)
    assert again["receipt"] == first["receipt"]
    assert (await sim.order())["value"] == VALUE - 1500


async def test_change_v1_takes_numeric_strings(sim: Sim) -> None:
    await sim.seed()
    body = {**BODY, "discountValue": "1500", "itemsRemoved": [{"id": "sku-2", "price": "1500", "quantity": 1}]}
    await sim.call("POST", V1, body=body, expect=200)
    assert (await sim.order())["value"] == VALUE - 1500


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"discountValue": -1}, 400, "The modification value needs to be greater or equal than zero"),
        ({"discountValue": 0, "itemsRemoved": []}, 400, "Invalid modification for order"),
        ({"reason": " "}, 400, "Field reason not set"),
        ({"itemsRemoved": [{"id": "sku-9", "price": 1, "quantity": 1}]}, 404, "Item 'sku-9'"),
        ({"itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 2}]}, 400, "Invalid quantity to remove"),
        ({"discountValue": VALUE + 1}, 400, "The value of the modification exceeds the order's price"),
    ],
)
async def test_change_v1_errors(sim: Sim, change: dict[str, Any], status: int, message: str) -> None:
    await sim.seed()
    got, body = await sim.call("POST", V1, body={**BODY, **change})
    assert got == status
    assert message in body["error"]["message"]
    assert (await sim.order())["value"] == VALUE


async def test_change_v1_refused_outside_handling(sim: Sim) -> None:
    await sim.seed(status="ready-for-handling")
    status, body = await sim.call("POST", V1, body=BODY)
    assert status == 400
    assert body["error"]["message"].startswith("It is only allowed to register an order modification")


async def test_change_v1_concurrent_repeats_of_a_request_id_apply_once(make_sim: SimFactory) -> None:
    # A resend after a timeout arrives while the first is still in flight: it must wait for it, not apply again.
    sim = await make_sim("instant", orders={"change_v1": {"queue": 20}})
    await sim.seed()
    answers = await asyncio.gather(*(sim.call("POST", V1, body=BODY, expect=200) for _ in range(3)))
    assert len({a["receipt"] for _, a in answers}) == 1
    order = await sim.order()
    assert order["value"] == VALUE - 1500
    assert len(order["changesAttachment"]["changesData"]) == 1


async def test_change_v1_refused_frees_its_request_id(sim: Sim) -> None:
    await sim.seed(status="ready-for-handling")
    assert (await sim.call("POST", V1, body=BODY))[0] == 400
    await sim.call("POST", "/_sim/orders/ORD-1/status", body={"status": "handling"}, expect=200)
    await sim.call("POST", V1, body=BODY, expect=200)  # the same requestId, now applied
    assert (await sim.order())["value"] == VALUE - 1500
