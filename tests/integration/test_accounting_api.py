"""The Accounting API's routes over real HTTP: every route with the reference's and the seed's sample requests,
tier-1 validation (400 in the documented shape, nothing stored), exact decimals, credentials, seeding from Orders,
inspection and reset. Its business rules are in test_accounting_rules.py; callbacks, delivery, the timing model and
gates in test_accounting_delivery.py.

Notifications (captured by the `receiver` fixture, tests/integration/conftest.py) are awaited with
`POST /_sim/quiesce` (pending work includes their delivery), never with sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Sim, SimFactory
from tests.support.accounting import CUSTOMER, Receiver, inspect, invoice_body, outcome, path, subscribe, write
from tests.support.accounting_samples import (
    ADDRESS,
    REFERENCE_ITEM,
    SEED_ITEM,
    SEED_UPDATE,
    SHIPPED,
    fields_of,
    order_body,
    seeded,
    states,
)

# -- routes, samples and the documented shapes --------------------------------------------------------------


async def test_every_accounting_route_is_in_the_openapi_document(sim: Sim) -> None:
    _, spec = await sim.call("GET", "/openapi.json", expect=200)
    base = "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}"
    expected = {
        ("post", base + "/orders"),
        ("post", base + "/orders/{orderReference}/invoices"),
        ("put", base + "/orders/{orderReference}/invoices/{invoiceReference}"),
        ("post", base + "/orders/{orderReference}/invoices/{invoiceReference}"),
        ("post", base + "/orders/{orderReference}/cancellations"),
        ("post", base + "/orders/{orderReference}/goodwills"),
        ("post", base + "/orders/{orderReference}/returns"),
        ("post", base + "/orders/{orderReference}/payments"),
        ("post", "/administration/v1/notification-callbacks"),
        ("get", "/_sim/accounting/orders/{orderReference}"),
        ("get", "/_sim/accounting/notifications"),
    }
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert expected <= documented
    invoice = spec["paths"][base + "/orders/{orderReference}/invoices"]["post"]
    assert invoice["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("AcceptedAnswer")
    assert invoice["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("AccountingError")


async def test_create_order_reference_example_is_accepted_and_confirmed(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    rid = await write(sim, "", order_body(), ref="", customer="TFI2021072801")
    details = await outcome(sim, receiver, rid)

    assert details == {"orderNo": "ODE12345678901", "result": "OK", "errorDetails": []}
    (edi,) = receiver.of("EDIErrorSent")
    assert edi["requestType"] == "GET_ORDER"
    assert edi["transactionId"] == rid.replace("-", "")  # no X-Request-ID: the internal id stands in
    doc = await inspect(sim, "ODE12345678901")
    assert (doc["customerNumber"], doc["businessCode"], doc["currency"]) == ("TFI2021072801", "1000", "EUR")
    (position,) = doc["positions"]
    assert (position["grossUnitPrice"], position["vatAmount"], position["state"]) == (119.0, 19.0, "open")


async def test_create_order_language_error_is_the_reference_example(sim: Sim, receiver: Receiver) -> None:
    """The reference's EDIErrorSent example: an upper-case bill-to language is a business (tier-2) error."""
    await subscribe(sim, receiver)
    body = order_body("ORDPL8100235158", billToAddress={**ADDRESS, "language": "PL"})
    details = await outcome(sim, receiver, await write(sim, "", body, ref=""))

    assert details["orderNo"] == "ORDPL8100235158"
    assert details["result"] == "ERROR_IN_FILE"
    text = "The content of field BILLTOLANGUAGECODE may only consist of lower case letters."
    assert details["errorDetails"] == [
        {"fieldName": "BILLTOLANGUAGECODE", "providedValue": "PL", "ErrorDescription": text}
    ]
    status, _ = await sim.call("GET", "/_sim/accounting/orders/ORDPL8100235158")
    assert status == 404  # nothing stored


async def test_invoice_use_case_sample_creates_the_invoice(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await write(sim, "", order_body(), ref="")
    rid = await write(sim, "/invoices", {**invoice_body(), **SHIPPED}, ref="ODE12345678901")
    details = await outcome(sim, receiver, rid)

    assert details["result"] == "OK"
    (created,) = receiver.of("invoiceCreated")
    assert created["invoiceReference"] == "IDE12345678901"
    assert (created["grossAmount"], created["vatAmount"], created["currency"]) == (119.0, 19.0, "EUR")
    doc = await inspect(sim, "ODE12345678901")
    assert states(doc) == {1: "invoiced"}
    assert doc["invoicedGross"] == doc["billedGross"] == 119.0


async def test_invoice_of_physical_goods_needs_carrier_and_tracking_code(sim: Sim, receiver: Receiver) -> None:
    """Carrier and tracking code are "Only required for physical goods and if order is shipped" (create-invoice
    reference): a tier-2 rule, since only the order knows its type; a digital order's invoice needs neither."""
    await subscribe(sim, receiver)
    await write(sim, "", order_body(), ref="")  # PHYSICAL_GOODS
    refused = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(), ref="ODE12345678901"))
    assert refused["result"] == "ERROR_IN_FILE"
    assert [d["fieldName"] for d in refused["errorDetails"]] == ["CARRIER", "TRACKINGCODE"]
    assert states(await inspect(sim, "ODE12345678901")) == {1: "open"}
    no_tracking = {**invoice_body(), "carrier": "DHL"}
    refused = await outcome(sim, receiver, await write(sim, "/invoices", no_tracking, ref="ODE12345678901"))
    assert [d["fieldName"] for d in refused["errorDetails"]] == ["TRACKINGCODE"]

    await write(sim, "", order_body("ODE2", orderType="DIGITAL_GOODS"), ref="")
    digital = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(), ref="ODE2"))
    assert digital["result"] == "OK"


async def test_order_reference_is_alphanumeric_as_documented(sim: Sim) -> None:
    """Create Order: `orderReference` "Max length: 16 ... (alphanumeric characters, only)"; the path's
    `{orderReference}` names such an order."""
    for bad in ("ORD-1", "ORD_1", "ORD.1", "ORD:1", "ORDÉ1"):
        status, answer = await sim.call("POST", path("", ""), body=order_body(bad))
        assert (status, answer["type"]) == (400, "RequestBody"), bad
        assert "Path:orderReference" in answer["description"]
        status, answer = await sim.call("POST", path(bad, "/payments"), body={"authorizedAmount": 1})
        assert status == 400, bad
        assert "Path:orderReference" in answer["description"]
    await sim.call("POST", path("", ""), body=order_body("Ord1234567890123"), expect=200)  # 16, mixed case


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_update_invoice_seed_sample(sim: Sim, receiver: Receiver, method: str) -> None:
    """The seed's sample request (its POST form, and the documented PUT): the invoice is re-issued."""
    await subscribe(sim, receiver)
    customer = "TFI2021072801"
    order = order_body(items=[SEED_ITEM], orderType="DIGITAL_GOODS")
    assert (await outcome(sim, receiver, await write(sim, "", order, ref="", customer=customer)))["result"] == "OK"
    invoice = await write(sim, "/invoices", invoice_body(), ref="ODE12345678901", customer=customer)
    assert (await outcome(sim, receiver, invoice))["result"] == "OK"

    rid = await write(
        sim, "/invoices/IDE12345678901", SEED_UPDATE, ref="ODE12345678901", customer=customer, method=method
    )
    details = await outcome(sim, receiver, rid)

    assert details == {"orderNo": "ODE12345678901", "result": "OK", "errorDetails": []}
    doc = await inspect(sim, "ODE12345678901")
    original, issued = doc["invoices"]
    nullified = (original["invoiceReference"], original["nullified"], original["nullifiedBy"])
    assert nullified == ("IDE12345678901", True, "GDE12345678901")
    replacing = (issued["invoiceReference"], issued["nullified"], issued["replaces"])
    assert replacing == ("IDE12345678901", False, "IDE12345678901")
    assert issued["grossAmount"] == 11.9
    (goodwill,) = doc["goodwills"]
    automatic = (goodwill["goodwillReference"], goodwill["automatic"], goodwill["grossAmount"])
    assert automatic == ("GDE12345678901", True, 11.9)
    assert [u["result"] for u in doc["updates"]] == ["OK"]
    assert receiver.of("refundCompleted") == []  # same gross, nothing paid: nothing to refund


# -- tier-1 validation: 400 at once, in the documented shape, nothing stored ---------------------------------


@pytest.mark.parametrize(
    ("suffix", "body", "where"),
    [
        ("", order_body(orderChannel="WEB"), "Path:orderChannel"),
        ("", order_body("ODE123456789012345"), "Path:orderReference"),
        ("", {k: v for k, v in order_body().items() if k != "currency"}, "Path:currency"),
        ("", order_body(items=[{**REFERENCE_ITEM, "grossUnitPrice": "119"}]), "Path:items[0].grossUnitPrice"),
        ("", order_body(items=[{**REFERENCE_ITEM, "grossUnitPrice": 11.999}]), "Path:items[0].grossUnitPrice"),
        ("", order_body(items=[{**REFERENCE_ITEM, "vatPercent": 101}]), "Path:items[0].vatPercent"),
        ("", order_body(items=[{**REFERENCE_ITEM, "description": "x" * 41}]), "Path:items[0].description"),
        ("", order_body(items=[{**REFERENCE_ITEM, "positionType": "GIFT"}]), "Path:items[0].positionType"),
        ("", order_body(orderDate="10.12.2015"), "Path:orderDate"),
        ("", order_body(billToAddress={**ADDRESS, "email": "not-an-email"}), "Path:billToAddress.email"),
        ("/ORD1/invoices", {**invoice_body(), "invoiceReference": "I" * 31}, "Path:invoiceReference"),
        (
            "/ORD1/invoices",
            {**invoice_body(), "items": [{"orderItemReference": True}]},
            "Path:items[0].orderItemReference",
        ),
        (
            "/ORD1/cancellations",
            {"cancellationDate": "2018-03-21", "cancellationReason": "BORED"},
            "Path:cancellationReason",
        ),
        (
            "/ORD1/returns",
            {"returnReference": "R-1", "returnDate": "2018-03-21", "returnReason": "CUSTOMER_RETURN", "items": []},
            "Path:items",
        ),
        ("/ORD1/payments", {"authorizedAmount": 0}, "Path:authorizedAmount"),
    ],
)
async def test_tier1_validation_answers_400_in_the_documented_shape(
    sim: Sim, suffix: str, body: dict[str, Any], where: str
) -> None:
    url = f"/accounting/v1/businesses/1000/customers/{CUSTOMER}/orders{suffix}"
    status, answer = await sim.call("POST", url, body=body)
    assert status == 400
    assert answer["type"] == "RequestBody"
    assert answer["title"] == "IncorrectMessage"
    assert answer["code"] == 400
    assert answer["description"].startswith("Body of the request does not conform")
    assert where + " Message: " in answer["description"]
    _, notes = await sim.call("GET", "/_sim/accounting/notifications", expect=200)
    assert notes["notifications"] == []
    assert [e for e in await sim.journal("ORD1") if e["op"].startswith("accounting.")] == []


@pytest.mark.parametrize(
    ("url", "raw", "where"),
    [
        (path("ORD1", "/invoices"), b'{"invoiceReference": ', "Path:(body) Message: Invalid JSON"),
        (path("ORD1", "/invoices"), b"", "Path:(body) Message: a JSON object is required"),
        (path("ORD1", "/invoices"), b"[1]", "Path:(body) Message: Input should be an object"),
        (path("ORD1", "/invoices", business="10 00"), b"{}", "Path:businessCode"),
        (path("ORD123456789012345", "/invoices"), b"{}", "Path:orderReference"),
    ],
)
async def test_malformed_requests_answer_400_in_the_documented_shape(
    sim: Sim, url: str, raw: bytes, where: str
) -> None:
    status, answer = await sim.call("POST", url, raw=raw)
    assert status == 400
    assert answer["title"] == "IncorrectMessage"
    assert where in answer["description"]


async def test_json_numbers_become_exact_decimals(sim: Sim, receiver: Receiver) -> None:
    """11.9 is 11.90, not 11.9000000000000003552...; an integer is exact; VAT per unit is checked to the cent."""
    await subscribe(sim, receiver)
    items = [SEED_ITEM, {**SEED_ITEM, "orderItemReference": 2, "grossUnitPrice": 0.1, "vatAmount": 0.02, "quantity": 3}]
    assert (await outcome(sim, receiver, await write(sim, "", order_body("EXACT", items), ref="")))["result"] == "OK"
    doc = await inspect(sim, "EXACT")
    assert doc["totalGross"] == 12.2  # 11.90 + 3 x 0.10, with no float residue

    wrong_vat = [{**SEED_ITEM, "vatAmount": 1.5}]
    details = await outcome(sim, receiver, await write(sim, "", order_body("VAT", wrong_vat), ref=""))
    assert fields_of(details) == ["VATAMOUNT"]
    assert "= 1.90 for grossUnitPrice 11.9 at 19%" in details["errorDetails"][0]["ErrorDescription"]


# -- credentials --------------------------------------------------------------------------------------------


async def test_subscription_key_is_checked_when_configured(make_sim: SimFactory) -> None:
    sim = await make_sim("instant", auth={"accounting_subscription_key": "secret"})
    body = {"authorizedAmount": 1}
    status, answer = await sim.call("POST", path("ORD1", "/payments"), body=body)
    assert (status, answer["title"]) == (401, "Unauthorized")
    status, _ = await sim.call("POST", path("ORD1", "/payments"), body=body, headers={"X-Subscription-Key": "no"})
    assert status == 401
    await write(sim, "/payments", body, headers={"X-Subscription-Key": "secret"})

    await sim.patch_config({"auth": {"faithful_errors": True}})
    status, answer = await sim.call("POST", path("ORD1", "/payments"), body=body)
    assert (status, answer["code"]) == (500, 500)  # the real service's documented oddity


# -- seeding from Orders, inspection, reset -----------------------------------------------------------------


async def test_seed_mirrors_the_orders_order(sim: Sim) -> None:
    answer = await seeded(sim)
    assert answer["accounting"] == {
        "orderReference": "ORD1",
        "businessCode": "1000",
        "customerNumber": CUSTOMER,
        "totalGross": 124.8,
    }
    assert answer["value"] / 100 == answer["accounting"]["totalGross"]
    doc = await inspect(sim)
    got = [
        (p["orderItemReference"], p["grossUnitPrice"], p["quantity"], p["vatAmount"], p["positionType"], p["productId"])
        for p in doc["positions"]
    ]
    assert got == [
        (1, 49.9, 2.0, 7.97, "SALES_ARTICLE", "sku-1"),
        (2, 15.0, 1.0, 2.39, "SALES_ARTICLE", "sku-2"),
        (3, 10.0, 1.0, 1.6, "SHIPPING_COSTS", None),
    ]


async def test_seed_with_an_explicit_reference_and_the_refusals(sim: Sim) -> None:
    body = {
        "orderId": "ORD1",
        "items": [{"id": "a", "price": 999, "quantity": 1}],
        "discounts": -100,
        "accounting": {"customerNumber": "C-9", "orderReference": "ACC1", "vatPercent": 7, "businessCode": "1004"},
    }
    _, answer = await sim.call("POST", "/_sim/orders", body=body, expect=201)
    assert answer["accounting"]["orderReference"] == "ACC1"
    doc = await inspect(sim, "ACC1")
    assert [(p["positionType"], p["grossUnitPrice"], p["vatAmount"]) for p in doc["positions"]] == [
        ("SALES_ARTICLE", 9.99, 0.65),
        ("DISCOUNT", -1.0, -0.07),
    ]
    assert doc["totalGross"] == answer["value"] / 100

    taken = {**body, "orderId": "ORD2"}
    status, refused = await sim.call("POST", "/_sim/orders", body=taken)
    assert status == 400
    assert "already exists" in refused["error"]["message"]
    long_id = {**body, "orderId": "ORD-THAT-IS-MUCH-TOO-LONG", "accounting": {"customerNumber": "C-9"}}
    status, refused = await sim.call("POST", "/_sim/orders", body=long_id)
    assert status == 400
    assert "accounting.orderReference" in refused["error"]["message"]
    _, listing = await sim.call("GET", "/_sim/orders", expect=200)
    assert listing["total"] == 1  # neither refusal stored an Orders order


async def test_inspecting_an_unknown_accounting_order_is_404(sim: Sim) -> None:
    status, body = await sim.call("GET", "/_sim/accounting/orders/NOPE")
    assert status == 404
    assert "No accounting order NOPE" in body["error"]["message"]


async def test_reset_clears_accounting_state(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await write(sim, "/payments", {"authorizedAmount": 1}, headers={"X-Request-ID": "R-1"})
    await sim.quiesce()
    await sim.call("POST", "/_sim/reset", expect=200)

    status, _ = await sim.call("GET", "/_sim/accounting/orders/ORD-1")
    assert status == 404
    _, notes = await sim.call("GET", "/_sim/accounting/notifications", expect=200)
    assert notes["notifications"] == []
    received = len(receiver.received)
    await seeded(sim)
    await write(sim, "/payments", {"authorizedAmount": 1}, headers={"X-Request-ID": "R-1"})  # not a repeat now
    await sim.quiesce()
    assert (await inspect(sim))["paid"] == 1.0
    assert len(receiver.received) == received  # the callback was forgotten too
