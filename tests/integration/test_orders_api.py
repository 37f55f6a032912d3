"""Every Orders route over real HTTP, with the reference's example payloads, rules and error shapes.

Every answer is also checked against the schema `/openapi.json` declares for it (see `Sim.call`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import ITEMS, VALUE, Sim, SimFactory

CHANGES = "/api/order-system/orders/ORD-1/changes"
REMOVE_SKU2 = {"reason": "The client wants to remove a product.", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}}

# The reference's example for POST /api/oms/pvt/orders/{orderId}/invoice.
OMS_EXAMPLE = {
    "type": "Output",
    "issuanceDate": "2024-01-31T18:25:43-05:00",
    "invoiceNumber": "DFG-v7731485plzv-01",
    "invoiceValue": "2499",
    "invoiceKey": None,
    "invoiceUrl": "https://example.com/invoices/24382.pdf",
    "courier": "",
    "trackingNumber": "",
    "trackingUrl": "",
    "dispatchedDate": None,
    "items": [{"id": "123", "price": 2499, "description": "335", "quantity": 1}],
}


def error_code(body: Any) -> str:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "exception"}, body
    assert body["error"]["message"], body
    return str(body["error"]["code"])


async def version(sim: Sim, order_id: str = "ORD-1") -> int:
    return int((await sim.order(order_id))["version"])


# -- get order -------------------------------------------------------------------------------------------------


async def test_get_order_document(sim: Sim) -> None:
    await sim.seed()
    order = await sim.order()
    assert order["orderId"] == "ORD-1"
    assert order["status"] == "handling"
    assert order["value"] == order["updatedOrderValue"] == VALUE == 12480
    totals = {t["id"]: t["value"] for t in order["totals"]}
    assert totals == {"Items": 11480, "Discounts": 0, "Shipping": 1000, "Tax": 0}
    assert [(i["id"], i["quantity"], i["price"]) for i in order["items"]] == [("sku-1", 2, 4990), ("sku-2", 1, 1500)]
    assert order["packageAttachment"] == {"packages": []}


async def test_get_unknown_order_is_404_in_the_documented_shape(sim: Sim) -> None:
    status, body = await sim.call("GET", "/api/oms/pvt/orders/nope-01")
    assert status == 404
    assert error_code(body) == "OMS007"
    assert body["error"]["message"] == "Order Not Found: nope-01"


# -- invoices: the OMS form ------------------------------------------------------------------------------------


async def test_oms_invoice_with_the_reference_example(sim: Sim) -> None:
    await sim.seed("123543123", items=[{"id": "123", "price": 2499, "quantity": 1}], shipping=0)
    status, answer = await sim.call("POST", "/api/oms/pvt/orders/123543123/invoice", body=OMS_EXAMPLE)
    assert status == 200
    assert answer["orderId"] == "123543123"
    assert len(answer["receipt"]) == 32

    order = await sim.order("123543123")
    (package,) = order["packageAttachment"]["packages"]
    assert package["invoiceValue"] == 2499  # a string of cents in, an integer out
    assert package["invoiceNumber"] == "DFG-v7731485plzv-01"
    assert package["receipt"] == answer["receipt"]
    await sim.quiesce("123543123")
    _, inspected = await sim.call("GET", "/_sim/orders/123543123", expect=200)
    # "Verifying invoice", then the workflow's check finds the invoice equal to the total.
    assert [v["status"] for v in inspected["versions"]] == ["handling", "invoice", "invoiced"]


async def test_oms_invoice_repeat_overrides_the_receipt_only(sim: Sim) -> None:
    # The official document (InvoiceNotification): "Every time this endpoint is called using the same
    # invoiceNumber, a new receipt code is generated, and it overrides the previous one ... only the receipt code".
    await sim.seed("123543123", items=[{"id": "123", "price": 2499, "quantity": 1}], shipping=0)
    path = "/api/oms/pvt/orders/123543123/invoice"
    _, first = await sim.call("POST", path, body=OMS_EXAMPLE, expect=200)
    _, again = await sim.call("POST", path, body={**OMS_EXAMPLE, "invoiceValue": "1"}, expect=200)
    assert again["receipt"] != first["receipt"]
    packages = (await sim.order("123543123"))["packageAttachment"]["packages"]
    assert [(p["receipt"], p["invoiceValue"]) for p in packages] == [(again["receipt"], 2499)]


async def test_oms_invoice_takes_numbers_and_infers_items(sim: Sim) -> None:
    # Real integrations send invoiceValue and prices as numbers, and some leave the items out (the platform infers
    # them: packages carry EnableInferItems); the stored package points at the order's real itemIndex.
    await sim.seed("ORD-N", items=[{"id": "a", "price": 1000, "quantity": 2}, {"id": "b", "price": 500, "quantity": 1}])
    sent = {
        **OMS_EXAMPLE,
        "invoiceNumber": "N-1",
        "invoiceValue": 1000,
        "items": [{"id": "b", "price": 500, "quantity": 1}],
    }
    await sim.call("POST", "/api/oms/pvt/orders/ORD-N/invoice", body=sent, expect=200)
    whole = {**OMS_EXAMPLE, "invoiceNumber": "N-2", "invoiceValue": "1000"}
    del whole["items"]
    await sim.call("POST", "/api/oms/pvt/orders/ORD-N/invoice", body=whole, expect=200)
    packages = (await sim.order("ORD-N"))["packageAttachment"]["packages"]
    assert [[(i["itemIndex"], i["quantity"], i["price"]) for i in p["items"]] for p in packages] == [
        [(1, 1, 500)],
        [(0, 2, 2000), (1, 1, 500)],
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"invoiceValue": "0"}, "invoiceValue"),
        ({"invoiceValue": 0}, "invoiceValue"),
        ({"invoiceValue": "24.99"}, "invoiceValue"),
        ({"type": "Sale"}, "type"),
        ({"items": [{"id": "123", "price": 24.5, "quantity": 1}]}, "price"),
        ({"issuanceDate": None}, "issuanceDate"),
    ],
)
async def test_oms_invoice_bad_input_is_400_and_stores_nothing(sim: Sim, change: dict[str, Any], problem: str) -> None:
    await sim.seed("123543123", items=[{"id": "123", "price": 2499, "quantity": 1}], shipping=0)
    before = await version(sim, "123543123")
    status, body = await sim.call("POST", "/api/oms/pvt/orders/123543123/invoice", body={**OMS_EXAMPLE, **change})
    assert status == 400
    assert error_code(body) == "BAD-REQUEST"
    assert problem in body["error"]["message"]
    assert await version(sim, "123543123") == before


async def test_oms_invoice_missing_field_names_it(sim: Sim) -> None:
    await sim.seed()
    body = {k: v for k, v in OMS_EXAMPLE.items() if k != "invoiceNumber"}
    status, answer = await sim.call("POST", "/api/oms/pvt/orders/ORD-1/invoice", body=body)
    assert status == 400
    assert "invoiceNumber: Field required" in answer["error"]["message"]


async def test_oms_invoice_unknown_sku_is_refused(sim: Sim) -> None:
    await sim.seed()
    status, body = await sim.call("POST", "/api/oms/pvt/orders/ORD-1/invoice", body=OMS_EXAMPLE)
    assert status == 400
    assert error_code(body) == "OMS-INVALID-ITEM"


# -- invoices: the document form -------------------------------------------------------------------------------


async def test_document_invoice_accepts_integer_and_legacy_string_values(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=6000, number="NF-1")
    body = {
        "type": "Output",
        "issuedDate": "2026-11-21",
        "invoiceNumber": "NF-2",
        "invoiceValue": "6480",
        "items": [{"itemIndex": 1, "price": 1500, "quantity": 1}],
    }
    await sim.call("POST", "/api/orders/pvt/document/ORD-1/invoices", body=body, expect=200)
    order = await sim.order()
    assert [p["invoiceValue"] for p in order["packageAttachment"]["packages"]] == [6000, 6480]


async def test_document_invoice_number_cannot_be_reused(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=100, number="NF-1")
    status, body = await sim.invoice(value=100, number="NF-1", expect=None)
    assert status == 400
    assert error_code(body) == "OMS-INVOICE-DUPLICATE"
    assert len((await sim.order())["packageAttachment"]["packages"]) == 1


async def test_invoice_above_the_value_not_yet_invoiced_is_refused(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE - 100, number="NF-1")
    status, body = await sim.invoice(value=101, number="NF-2", expect=None)
    assert status == 400
    assert error_code(body) == "OMS-INVOICE-EXCEEDS"
    assert "100" in body["error"]["message"]


@pytest.mark.parametrize("status", ["payment-pending", "payment-approved", "canceled", "invoiced"])
async def test_invoice_refused_in_a_status_that_does_not_accept_it(sim: Sim, status: str) -> None:
    await sim.seed(status=status)
    code, body = await sim.invoice(expect=None)
    assert code == 400
    assert error_code(body) == "OMS003"


async def test_invoice_item_index_out_of_range(sim: Sim) -> None:
    await sim.seed()
    body = {
        "type": "Output",
        "issuedDate": "2026-11-21",
        "invoiceNumber": "NF-1",
        "invoiceValue": 100,
        "items": [{"itemIndex": 7, "price": 100, "quantity": 1}],
    }
    status, answer = await sim.call("POST", "/api/orders/pvt/document/ORD-1/invoices", body=body)
    assert status == 400
    assert error_code(answer) == "OMS-INVALID-ITEM"


async def test_partial_invoice_goes_back_to_payment_approved_and_the_rest_completes_it(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=6000, number="NF-1")
    await sim.quiesce("ORD-1")
    assert (await sim.order())["status"] == "payment-approved"  # "its status may go back to payment-approved"
    await sim.invoice(value=VALUE - 6000, number="NF-2")
    await sim.quiesce("ORD-1")
    order = await sim.order()
    assert order["status"] == "invoiced"
    assert order["invoicedDate"] is not None


async def test_input_invoice_needs_an_output_invoice_and_does_not_count_as_invoiced(sim: Sim) -> None:
    await sim.seed()
    code, _body = await sim.invoice(value=100, number="RET-0", type="Input", expect=None)
    assert code == 400
    await sim.invoice(value=VALUE, number="NF-1")
    await sim.quiesce("ORD-1")
    await sim.invoice(value=1500, number="RET-1", type="Input")  # a return on an invoiced order
    order = await sim.order()
    assert order["status"] == "invoiced"
    assert [p["type"] for p in order["packageAttachment"]["packages"]] == ["Output", "Input"]


async def test_invoice_unknown_order_is_404(sim: Sim) -> None:
    status, body = await sim.invoice("nope-01", expect=None)
    assert status == 404
    assert error_code(body) == "OMS007"


# -- tracking --------------------------------------------------------------------------------------------------


async def test_tracking_update(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE, number="NF-1")
    body = {
        "trackingNumber": "TRK-1",
        "trackingUrl": "https://t.example/1",
        "courier": "Correios",
        "dispatchedDate": "2026-11-22",
    }
    status, answer = await sim.call("PATCH", "/api/oms/pvt/orders/ORD-1/invoice/NF-1", body=body)
    assert status == 200
    assert answer["orderId"] == "ORD-1"
    (package,) = (await sim.order())["packageAttachment"]["packages"]
    assert (package["trackingNumber"], package["courier"], package["dispatchedDate"]) == (
        "TRK-1",
        "Correios",
        "2026-11-22",
    )


async def test_tracking_unknown_invoice_is_404_and_an_empty_update_changes_nothing(sim: Sim) -> None:
    await sim.seed()
    status, body = await sim.call("PATCH", "/api/oms/pvt/orders/ORD-1/invoice/NF-9", body={"courier": "X"})
    assert status == 404
    assert error_code(body) == "OMS-INVOICE-NOT-FOUND"
    await sim.invoice(value=VALUE, number="NF-1")
    before = (await sim.order())["packageAttachment"]
    await sim.call("PATCH", "/api/oms/pvt/orders/ORD-1/invoice/NF-1", body={}, expect=200)
    assert (await sim.order())["packageAttachment"] == before


# -- changes ---------------------------------------------------------------------------------------------------


async def test_change_is_accepted_202_then_applied_and_finished(sim: Sim) -> None:
    await sim.seed()
    status, change = await sim.call("PATCH", CHANGES + "?an=store", body=REMOVE_SKU2)
    assert status == 202
    assert (change["status"], change["inProgress"], change["finished"]) == ("preparing", True, False)
    assert change["totalChangeValue"] == -1500
    assert change["origin"]["orderId"] == "ORD-1"
    await sim.quiesce("ORD-1")

    _, details = await sim.call("GET", f"{CHANGES}/{change['requestId']}", expect=200)
    assert (details["status"], details["inProgress"], details["finished"]) == ("done", False, True)
    assert details["logs"][0]["message"] == "Change applied"  # newest first, as the platform lists them
    order = await sim.order()
    assert order["value"] == VALUE - 1500
    assert {t["id"]: t["value"] for t in order["totals"]}["Discounts"] == -1500  # the published ids only
    assert [i["quantity"] for i in order["items"]] == [2, 0]
    assert [c["requestId"] for c in order["changesAttachment"]["changesData"]] == [change["requestId"]]


async def test_change_add_replace_and_manual_values(sim: Sim) -> None:
    await sim.seed()
    body = {
        "reason": "swap and adjust",
        "add": {"items": [{"id": "sku-3", "quantity": 1, "price": 700}]},
        "replace": [
            {"from": {"items": [{"id": "sku-1", "quantity": 1}]}, "to": {"items": [{"id": "sku-2", "quantity": 1}]}}
        ],
        "manualDiscountValue": 200,
        "manualIncrementValue": 50,
    }
    _, change = await sim.call("PATCH", CHANGES, body=body, expect=202)
    assert change["totalChangeValue"] == 700 - 4990 + 1500 - 200 + 50
    await sim.quiesce("ORD-1")
    order = await sim.order()
    assert order["value"] == VALUE + change["totalChangeValue"]
    assert {i["id"]: i["quantity"] for i in order["items"]} == {"sku-1": 1, "sku-2": 2, "sku-3": 1}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": "r", "remove": {"items": [{"id": "sku-2", "quantity": 0}]}}, "CHK0023"),
        ({"reason": "r", "manualDiscountValue": -5}, "CHK0098"),
        ({"reason": "r"}, "CHK0124"),
    ],
)
async def test_change_request_mistakes_are_refused_synchronously(sim: Sim, body: dict[str, Any], code: str) -> None:
    await sim.seed()
    status, answer = await sim.call("PATCH", CHANGES, body=body)
    assert status == 400
    assert error_code(answer) == code
    _, history = await sim.call("GET", CHANGES, expect=200)
    assert history["requests"] == []  # nothing stored


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"reason": "r", "remove": {"items": [{"id": "sku-9", "quantity": 1}]}}, "Invalid id for item."),
        ({"reason": "r", "add": {"items": [{"id": "sku-9", "quantity": 1}]}}, "Invalid id for item."),  # no price
        ({"reason": "r", "remove": {"items": [{"id": "sku-2", "quantity": 2}]}}, "Invalid quantity for item."),
        ({"reason": "r", "manualDiscountValue": VALUE}, "Invalid change for order."),
    ],
)
async def test_change_order_rules_cancel_the_change_asynchronously(sim: Sim, body: dict[str, Any], reason: str) -> None:
    # Help center, "Adapting your integration for Order modifications": a request that breaks the validation rules
    # is canceled automatically, without retries, and the reason is in cancellationData (texts: dev portal).
    await sim.seed()
    _, change = await sim.call("PATCH", CHANGES, body=body, expect=202)
    assert (change["totalChangeValue"], change["totals"]) == (0, [])
    await sim.quiesce("ORD-1")
    _, details = await sim.call("GET", f"{CHANGES}/{change['requestId']}", expect=200)
    assert (details["status"], details["finished"], details["inProgress"]) == ("canceled", False, False)
    assert details["cancellationData"]["requestedByUser"] is False
    assert details["cancellationData"]["reason"].startswith(reason)
    assert (await sim.order())["value"] == VALUE


async def test_change_adds_a_catalog_item_with_only_id_and_quantity(make_sim: SimFactory) -> None:
    # Help center: only id and quantity are required; "the other attributes are obtained from the request or the
    # Catalog system" (here: the profile's orders.catalog).
    sim = await make_sim(orders={"catalog": {"sku-9": {"price": 350, "name": "Socks"}}})
    await sim.seed()
    body = {"reason": "add socks", "add": {"items": [{"id": "sku-9", "quantity": 2}]}}
    _, change = await sim.call("PATCH", CHANGES, body=body, expect=202)
    assert change["totalChangeValue"] == 700
    await sim.quiesce("ORD-1")
    order = await sim.order()
    assert order["value"] == VALUE + 700
    assert {i["id"]: (i["name"], i["price"], i["quantity"]) for i in order["items"]}["sku-9"] == ("Socks", 350, 2)


async def test_change_missing_reason_is_400(sim: Sim) -> None:
    await sim.seed()
    status, answer = await sim.call("PATCH", CHANGES, body={"remove": REMOVE_SKU2["remove"]})
    assert status == 400
    assert "reason" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("status", "reason"), [("invoiced", "Invalid change for order."), ("canceled", "Cannot Change Cancelled Order.")]
)
async def test_change_canceled_in_a_final_status(sim: Sim, status: str, reason: str) -> None:
    await sim.seed(status=status)
    _, change = await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)
    await sim.quiesce("ORD-1")
    _, details = await sim.call("GET", f"{CHANGES}/{change['requestId']}", expect=200)
    assert details["status"] == "canceled"
    assert details["cancellationData"]["reason"].startswith(reason)


async def test_change_below_the_invoiced_amount_is_canceled_by_the_worker_with_chk0034(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE - 480, number="NF-1")  # partial: the order stays changeable
    await sim.quiesce("ORD-1")
    _, change = await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)  # passes the synchronous checks
    await sim.quiesce("ORD-1")
    _, details = await sim.call("GET", f"{CHANGES}/{change['requestId']}", expect=200)
    assert (details["status"], details["finished"], details["inProgress"]) == ("canceled", False, False)
    assert details["cancellationData"]["requestedByUser"] is False
    # Exactly the help center's example: the documented text alone, and no value or totals.
    assert details["cancellationData"]["reason"] == "The value of the change exceed the order's price"
    assert (details["totalChangeValue"], details["totals"]) == (0, [])
    assert details["logs"][0]["message"].startswith("CHK0034")
    order = await sim.order()
    assert order["value"] == VALUE
    assert order["status"] == "payment-approved"


async def test_change_history_lists_requests_and_actions(sim: Sim) -> None:
    await sim.seed()
    _, change = await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)
    await sim.quiesce("ORD-1")
    _, history = await sim.call("GET", CHANGES, expect=200)
    assert [r["requestId"] for r in history["requests"]] == [change["requestId"]]
    assert history["actions"] == [
        {"requestId": change["requestId"], "type": "remove", "items": [{"id": "sku-2", "quantity": 1}]}
    ]


async def test_change_details_unknown_change_is_404(sim: Sim) -> None:
    await sim.seed()
    status, body = await sim.call("GET", f"{CHANGES}/nope")
    assert status == 404
    assert error_code(body) == "CHK0289"  # dev portal: "Change order request {0} not found."


async def test_change_preview_is_a_dry_run_with_every_rule(sim: Sim) -> None:
    await sim.seed()
    _, preview = await sim.call("POST", CHANGES + "/preview", body=REMOVE_SKU2, expect=200)
    assert preview["totalChangeValue"] == -1500
    assert preview["preview"] == {"currentValue": VALUE, "newValue": VALUE - 1500}
    assert (await sim.order())["value"] == VALUE  # nothing applied
    await sim.invoice(value=VALUE - 480, number="NF-1")
    status, body = await sim.call("POST", CHANGES + "/preview", body=REMOVE_SKU2)
    assert status == 400
    assert error_code(body) == "CHK0034"


async def test_cancel_an_unfinished_change(sim: Sim) -> None:
    await sim.seed()
    await sim.call("POST", "/_sim/gates", body={"orderId": "ORD-1", "point": "change.after_read"}, expect=201)
    _, change = await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)
    await sim.call("POST", "/_sim/gates/wait", body={"orderId": "ORD-1", "point": "change.after_read"}, expect=200)
    _, canceled = await sim.call("POST", f"{CHANGES}/{change['requestId']}/cancel", body={"reason": "oops"}, expect=200)
    assert canceled["status"] == "canceling"
    await sim.call("POST", "/_sim/gates/release", body={}, expect=200)
    await sim.quiesce("ORD-1")
    _, details = await sim.call("GET", f"{CHANGES}/{change['requestId']}", expect=200)
    assert (details["status"], details["finished"]) == ("canceled", False)
    assert details["cancellationData"] == {**details["cancellationData"], "requestedByUser": True, "reason": "oops"}
    assert (await sim.order())["value"] == VALUE  # never applied


async def test_cancel_a_finished_change_is_refused(sim: Sim) -> None:
    await sim.seed()
    _, change = await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)
    await sim.quiesce("ORD-1")
    status, body = await sim.call("POST", f"{CHANGES}/{change['requestId']}/cancel")
    assert status == 400
    assert error_code(body) == "CHK0124"


async def test_retry_an_unfinished_change_after_system_failures(sim: Sim) -> None:
    await sim.seed()
    await sim.patch_config({"orders": {"change_failure_rate": 1.0, "change_max_attempts": 2}})
    _, change = await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)
    await sim.quiesce("ORD-1")
    path = f"{CHANGES}/{change['requestId']}"
    _, details = await sim.call("GET", path, expect=200)
    assert (details["finished"], details["inProgress"]) == (False, False)
    assert sum("System failure" in log["message"] for log in details["logs"]) == 2

    await sim.patch_config({"orders": {"change_failure_rate": 0.0}})
    await sim.call("POST", path + "/retry", expect=204)
    await sim.quiesce("ORD-1")
    _, details = await sim.call("GET", path, expect=200)
    assert (details["status"], details["finished"]) == ("done", True)
    assert (await sim.order())["value"] == VALUE - 1500
    status, body = await sim.call("POST", path + "/retry")
    assert status == 400
    assert error_code(body) == "SalesOrderSystem016"  # dev portal: "Cannot Retry Change." (done or canceled)


async def test_change_summary(sim: Sim) -> None:
    await sim.seed()
    await sim.call("PATCH", CHANGES, body=REMOVE_SKU2, expect=202)
    await sim.call("PATCH", CHANGES, body={"reason": "goodwill", "manualDiscountValue": 300}, expect=202)
    await sim.quiesce("ORD-1")
    _, summary = await sim.call("GET", "/api/orders/pvt/document/ORD-1/change-summary", expect=200)
    assert [i["id"] for i in summary["original"]] == ["sku-1", "sku-2"]
    assert summary["removed"] == [{"id": "sku-2", "quantity": 1}]
    assert summary["manualDiscountValueAggregated"] == 300
    assert summary["totalChangeValueAggregated"] == -1800
    assert summary["lastChange"] is not None


# -- other order actions ---------------------------------------------------------------------------------------


async def test_start_handling_only_from_ready_for_handling(sim: Sim) -> None:
    await sim.seed(status="ready-for-handling")
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling", expect=204)
    assert (await sim.order())["status"] == "handling"
    status, body = await sim.call("POST", "/api/oms/pvt/orders/ORD-1/start-handling")
    assert status == 409  # the official document's StartHandling answers 409 with OMS003
    assert error_code(body) == "OMS003"
    assert "ready-for-handling" in body["error"]["message"]


async def test_start_handling_and_cancel_pii_routes(sim: Sim) -> None:
    await sim.seed("P", status="ready-for-handling")
    await sim.call("POST", "/api/orders/pvt/document/P/actions/start-handling", expect=204)
    await sim.call("POST", "/api/orders/pvt/document/P/cancel", body={"reason": "customer"}, expect=200)
    await sim.quiesce("P")
    assert (await sim.order("P"))["status"] == "canceled"


async def test_cancel_order_and_its_refusals(sim: Sim) -> None:
    await sim.seed("A")
    _, answer = await sim.call("POST", "/api/oms/pvt/orders/A/cancel", body={"reason": "customer"}, expect=200)
    assert answer["orderId"] == "A"
    await sim.quiesce("A")
    _, inspected = await sim.call("GET", "/_sim/orders/A", expect=200)
    # A seller's cancel goes through `cancel` ("Cancellation requested") before `canceled`: hooks see both.
    assert [v["status"] for v in inspected["versions"]] == ["handling", "cancel", "canceled"]
    status, body = await sim.call("POST", "/api/oms/pvt/orders/A/cancel")
    assert status == 400
    assert "already canceled" in body["error"]["message"]

    await sim.seed("B")
    await sim.invoice("B", value=1000, number="NF-B")
    status, body = await sim.call("POST", "/api/oms/pvt/orders/B/cancel")
    assert status == 400
    assert "partially invoiced" in body["error"]["message"]

    await sim.seed("C", status="invoiced")
    status, body = await sim.call("POST", "/api/oms/pvt/orders/C/cancel")
    assert status == 400
    assert "invoiced" in body["error"]["message"]


# -- the edge: error shapes, limits, auth ---------------------------------------------------------------------


async def test_malformed_json_is_400(sim: Sim) -> None:
    await sim.seed()
    status, body = await sim.call("PATCH", CHANGES, raw=b'{"reason": ')
    assert status == 400
    assert "JSON" in body["error"]["message"]


async def test_unknown_route_and_wrong_method_answer_in_the_error_shape(sim: Sim) -> None:
    status, body = await sim.call("GET", "/api/oms/pvt/nothing-here")
    assert status == 404
    assert error_code(body) == "HTTP-404"
    status, body = await sim.call("DELETE", "/api/oms/pvt/orders/ORD-1")
    assert status == 405
    assert error_code(body) == "HTTP-405"


async def test_oversize_body_is_413_and_nothing_is_stored(make_sim: SimFactory) -> None:
    sim = await make_sim("instant", limits={"max_body_bytes": 4096})
    await sim.seed()
    body = {
        **REMOVE_SKU2,
        "reason": "x" * 500,
        "add": {"items": [{"id": f"s{i}", "quantity": 1, "price": 1} for i in range(200)]},
    }
    status, answer = await sim.call("PATCH", CHANGES, body=body)
    assert status == 413
    assert error_code(answer) == "PAYLOAD-TOO-LARGE"
    _, history = await sim.call("GET", CHANGES, expect=200)
    assert history["requests"] == []


async def test_credentials_are_checked_when_configured(make_sim: SimFactory) -> None:
    sim = await make_sim(
        "instant", auth={"orders_app_key": "key", "orders_app_token": "secret", "orders_user_token": "user-token"}
    )
    await sim.seed()
    status, body = await sim.call("GET", "/api/oms/pvt/orders/ORD-1")
    assert status == 401
    assert error_code(body) == "UNAUTHORIZED"
    wrong = {"X-VTEX-API-AppKey": "key", "X-VTEX-API-AppToken": "nope"}
    status, body = await sim.call("GET", "/api/oms/pvt/orders/ORD-1", headers=wrong)
    assert status == 403
    right = {"X-VTEX-API-AppKey": "key", "X-VTEX-API-AppToken": "secret"}
    await sim.call("GET", "/api/oms/pvt/orders/ORD-1", headers=right, expect=200)
    cookie = {"Cookie": "VtexIdclientAutCookie=user-token"}  # a user token (VTEX ID), not the app token
    await sim.call("GET", "/api/oms/pvt/orders/ORD-1", headers=cookie, expect=200)


async def test_seeded_items_keep_their_order(sim: Sim) -> None:
    await sim.seed(items=[*ITEMS, {"id": "sku-0", "price": 1, "quantity": 1}])
    assert [i["id"] for i in (await sim.order())["items"]] == ["sku-1", "sku-2", "sku-0"]


async def test_tracking_status_is_shown_as_the_packages_courier_status(sim: Sim) -> None:
    await sim.seed()
    await sim.invoice(value=VALUE, number="NF-1")
    events = [{"city": "Rio de Janeiro", "state": "RJ", "description": "Coletado", "date": "2015-06-23"}]
    body = {"isDelivered": True, "deliveredDate": "2015-06-24 10:00", "events": events}
    await sim.call("PUT", "/api/oms/pvt/orders/ORD-1/invoice/NF-1/tracking", body=body, expect=200)
    [package] = (await sim.order())["packageAttachment"]["packages"]
    status = package["courierStatus"]
    assert (status["finished"], status["deliveredDate"]) == (True, "2015-06-24 10:00")
    assert [(e["city"], e["state"]) for e in status["data"]] == [("Rio de Janeiro", "RJ")]


async def test_an_invoice_read_before_a_cancel_does_not_take_the_order_out_of_it(make_sim: SimFactory) -> None:
    # The invoice READs the order in handling; the seller's cancel commits `cancel` before the invoice commits, and
    # reaches `canceled` 200 ms later. The order must end canceled (it went cancel -> invoice -> invoiced instead).
    sim = await make_sim("instant", orders={"workflow": {"after_cancel": 200}})
    await sim.seed()
    gate = {"orderId": "ORD-1", "point": "invoice.after_read"}
    await sim.call("POST", "/_sim/gates", body=gate, expect=201)
    invoice = asyncio.create_task(sim.invoice(value=VALUE, expect=None))
    await sim.call("POST", "/_sim/gates/wait", body=gate, expect=200)
    await sim.call("POST", "/api/oms/pvt/orders/ORD-1/cancel", body={"reason": "customer"}, expect=200)
    await sim.call("POST", "/_sim/gates/release", body=gate, expect=200)
    await invoice
    await sim.quiesce("ORD-1")
    _, inspected = await sim.call("GET", "/_sim/orders/ORD-1", expect=200)
    statuses = [v["status"] for v in inspected["versions"]]
    assert statuses[-1] == "canceled"
    assert "invoiced" not in statuses


@pytest.mark.parametrize("query", ["page=²", "per_page=" + "9" * 5000])
async def test_list_numbers_that_are_not_ascii_digits_are_400(sim: Sim, query: str) -> None:
    assert (await sim.call("GET", f"/api/oms/pvt/orders?{query}"))[0] == 400
