"""The Accounting API's business rules over real HTTP, each accepted and refused (the EDIErrorSent notification,
captured by a real callback receiver, says why): invoices, cancellations, goodwills, returns, payments and refunds,
the three rules of update invoice, and idempotency by X-Request-ID.

Notifications are awaited with `POST /_sim/quiesce` (pending work includes their delivery), never with sleeps.
"""

from __future__ import annotations

from tests.conftest import Sim
from tests.support.accounting import Receiver, inspect, invoice_body, outcome, subscribe, write
from tests.support.accounting_samples import fields_of, invoiced_all, line, seeded, states, update_body

# -- the business rules, each accepted and refused ----------------------------------------------------------


async def test_invoice_needs_an_existing_order_of_the_customer(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    unknown = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(), ref="NOPE"))
    assert unknown["result"] == "ERROR_IN_FILE"
    assert fields_of(unknown) == ["ORDERREFERENCE"]
    assert "does not exist" in unknown["errorDetails"][0]["ErrorDescription"]

    await seeded(sim)
    other = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(), customer="CUS-2"))
    assert fields_of(other) == ["CUSTOMERNUMBER"]
    accepted = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body()))
    assert accepted["result"] == "OK"


async def test_invoice_only_positions_not_yet_invoiced(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    first = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("INV-1", (1,))))
    assert first["result"] == "OK"

    again = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("INV-2", (1, 2))))
    assert again["result"] == "ERROR_IN_FILE"
    (problem,) = again["errorDetails"]
    assert (problem["fieldName"], problem["providedValue"]) == ("ORDERITEMREFERENCE", "1")
    assert "already invoiced (invoice INV-1)" in problem["ErrorDescription"]
    unknown = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("INV-3", (9,))))
    assert "not in order ORD1" in unknown["errorDetails"][0]["ErrorDescription"]
    assert states(await inspect(sim)) == {1: "invoiced", 2: "open", 3: "open"}  # the refused ones changed nothing


async def test_invoice_refuses_cancelled_positions_and_cancelled_orders(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    cancel = {
        "cancellationDate": "2018-03-21",
        "cancellationReason": "OUT_OF_STOCK",
        "items": [{"orderItemReference": 2}],
    }
    assert (await outcome(sim, receiver, await write(sim, "/cancellations", cancel)))["result"] == "OK"
    refused = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("INV-1", (2,))))
    assert "is cancelled; a cancelled position cannot be invoiced" in refused["errorDetails"][0]["ErrorDescription"]
    accepted = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("INV-1", (1, 3))))
    assert accepted["result"] == "OK"

    await seeded(sim, "ORD2")
    whole = {"cancellationDate": "2018-03-21", "cancellationReason": "CUSTOMER_CANCELLATION"}  # no items: all
    assert (await outcome(sim, receiver, await write(sim, "/cancellations", whole, ref="ORD2")))["result"] == "OK"
    assert (await inspect(sim, "ORD2"))["cancelled"] is True
    order_cancelled = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(), ref="ORD2"))
    assert "is cancelled and cannot be invoiced" in order_cancelled["errorDetails"][0]["ErrorDescription"]


async def test_cancellation_only_before_invoicing(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    cancel = {
        "cancellationDate": "2018-03-21T00:00:00.0000000+00:00",
        "cancellationReason": "OUT_OF_STOCK",
        "invoiceReference": "INV-1",
        "items": [{"orderItemReference": 1}],
    }  # the use case's sample form
    refused = await outcome(sim, receiver, await write(sim, "/cancellations", cancel))
    assert refused["result"] == "ERROR_IN_FILE"
    assert "only positions not yet invoiced can be cancelled" in refused["errorDetails"][0]["ErrorDescription"]

    cancel["items"] = [{"orderItemReference": 2}]
    assert (await outcome(sim, receiver, await write(sim, "/cancellations", cancel)))["result"] == "OK"
    assert states(await inspect(sim)) == {1: "invoiced", 2: "cancelled", 3: "open"}


async def test_goodwill_only_on_invoiced_positions(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    goodwill = {
        "goodwillDate": "2024-09-13",
        "goodwillReason": "CUSTOMER_COMPLAINT",
        "invoiceReference": "INV-1",
        "goodwillReference": "01J7NPK9R5Y0KV1GHA34JZ7YP2",
        "items": [line(2, price=5, quantity=1, vat=0.8)],
    }
    refused = await outcome(sim, receiver, await write(sim, "/goodwills", goodwill))
    assert (
        "is open, not invoiced; a goodwill needs an invoiced position" in refused["errorDetails"][0]["ErrorDescription"]
    )

    goodwill["items"] = [line(1, price=5, quantity=1, vat=0.8)]
    assert (await outcome(sim, receiver, await write(sim, "/goodwills", goodwill)))["result"] == "OK"
    doc = await inspect(sim)
    assert doc["positions"][0]["goodwill"] is True
    assert doc["billedGross"] == 99.8 - 5


async def test_return_only_invoiced_quantities(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    ret = {"returnReference": "R-1", "returnDate": "2024-09-13", "returnReason": "CUSTOMER_RETURN", "items": [line(2)]}
    refused = await outcome(sim, receiver, await write(sim, "/returns", ret))
    assert "a return needs an invoiced position" in refused["errorDetails"][0]["ErrorDescription"]

    ret["items"] = [line(1, quantity=1)]  # partial quantity
    assert (await outcome(sim, receiver, await write(sim, "/returns", ret)))["result"] == "OK"
    too_many = await outcome(
        sim, receiver, await write(sim, "/returns", {**ret, "returnReference": "R-2", "items": [line(1, quantity=2)]})
    )
    assert fields_of(too_many) == ["QUANTITY"]
    doc = await inspect(sim)
    assert (doc["positions"][0]["returned"], doc["positions"][0]["returnedQuantity"]) == (True, 1.0)


async def test_payment_is_booked_and_notified(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    rid = await write(sim, "/payments", {"authorizedAmount": 5.00, "paymentProvider": "ACME Payment Services"})
    assert (await outcome(sim, receiver, rid))["result"] == "OK"
    (payment,) = receiver.of("paymentReceived")
    assert (payment["amount"], payment["orderReference"]) == (5.0, "ORD1")
    assert (await inspect(sim))["paid"] == 5.0


async def test_cancelling_a_paid_position_refunds_it(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await write(sim, "/payments", {"authorizedAmount": 124.8})
    cancel = {
        "cancellationDate": "2018-03-21",
        "cancellationReason": "OUT_OF_STOCK",
        "items": [{"orderItemReference": 2}],
    }
    await outcome(sim, receiver, await write(sim, "/cancellations", cancel))
    (refund,) = receiver.of("refundCompleted")
    assert refund["refundedToOriginalPaymentInstrument"] == -15.0
    example = {
        "businessCode",
        "currency",
        "customerNumber",
        "orderReference",
        "refundedToOriginalPaymentInstrument",
        "transactionId",
    }
    assert set(refund) == example  # the reference's refundCompleted example


async def test_update_rule_1_customer_identifier_is_immutable(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await invoiced_all(sim, receiver)
    body = update_body(line(2, quantity=0))
    refused = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", body, method="PUT", customer="CUS-2"))
    assert fields_of(refused) == ["CUSTOMERNUMBER"]
    assert "customer identifier cannot be changed" in refused["errorDetails"][0]["ErrorDescription"]

    accepted = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", body, method="PUT"))
    assert accepted["result"] == "OK"
    outcomes = [(u["result"], u["customerChanged"]) for u in (await inspect(sim))["updates"]]
    assert outcomes == [("ERROR_IN_FILE", True), ("OK", False)]


async def test_update_rule_2_not_after_a_goodwill(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await invoiced_all(sim, receiver)
    goodwill = {
        "goodwillDate": "2024-09-13",
        "goodwillReason": "CORRECTION_PRICE",
        "goodwillReference": "G-1",
        "items": [line(3, price=5, vat=0.8)],
    }
    await write(sim, "/goodwills", goodwill)
    refused = await outcome(
        sim, receiver, await write(sim, "/invoices/INV-1", update_body(line(2, quantity=0)), method="PUT")
    )
    assert refused["result"] == "ERROR_IN_FILE"
    (problem,) = refused["errorDetails"]
    assert (problem["fieldName"], problem["providedValue"]) == ("ORDERITEMREFERENCE", "3")
    assert "received a goodwill" in problem["ErrorDescription"]
    assert (await inspect(sim))["updates"][0]["afterGoodwillOrReturn"] is True


async def test_update_rule_2_not_after_a_return(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await invoiced_all(sim, receiver)
    await write(
        sim,
        "/returns",
        {"returnReference": "R-1", "returnDate": "2024-09-13", "returnReason": "CARRIER_RETURN", "items": [line(2)]},
    )
    refused = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", update_body(line(2, quantity=0))))
    assert "Position 2 was returned" in refused["errorDetails"][0]["ErrorDescription"]


async def test_update_rule_2_every_position_invoiced_or_cancelled(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1, 2)))
    body = update_body(line(2, quantity=0), positions=(1, 2))
    refused = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", body))
    (problem,) = refused["errorDetails"]
    assert problem["providedValue"] == "3"
    assert "neither invoiced nor cancelled" in problem["ErrorDescription"]

    cancel = {
        "cancellationDate": "2018-03-21",
        "cancellationReason": "OUT_OF_STOCK",
        "items": [{"orderItemReference": 3}],
    }
    await write(sim, "/cancellations", cancel)
    accepted = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", {**body, "goodwillReference": "GW-2"}))
    assert accepted["result"] == "OK"


async def test_update_rule_3_gross_may_go_down_never_up(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await invoiced_all(sim, receiver)
    await write(sim, "/payments", {"authorizedAmount": 124.8})  # prepaid at checkout

    up = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", update_body(line(1, price=50, vat=7.98))))
    assert up["result"] == "ERROR_IN_FILE"
    (problem,) = up["errorDetails"]
    assert (problem["fieldName"], problem["providedValue"]) == ("GROSSUNITPRICE", "50")
    assert problem["ErrorDescription"] == (
        "Position 1: the gross may be reduced but not increased; it was 49.90 x 2 = "
        "99.80, the update gives 50 x 2 = 100.00"
    )
    assert (await inspect(sim))["invoicedGross"] == 124.8  # unchanged

    lowered = update_body(line(2, quantity=0), invoice="INV-1", goodwill="GW-2")
    down = await outcome(sim, receiver, await write(sim, "/invoices/INV-1", lowered))
    assert down["result"] == "OK"
    doc = await inspect(sim)
    original, issued = doc["invoices"]
    assert (original["nullified"], original["grossAmount"]) == (True, 124.8)
    assert (issued["nullified"], issued["grossAmount"], issued["replaces"]) == (False, 109.8, "INV-1")
    assert issued["vatCorrection"] == -2.39  # the tax booking's correction
    (auto,) = [g for g in doc["goodwills"] if g["automatic"]]
    assert (auto["goodwillReference"], auto["grossAmount"]) == ("GW-2", 124.8)
    assert doc["invoicedGross"] == doc["billedGross"] == 109.8
    assert [p["returned"] or p["goodwill"] for p in doc["positions"]] == [False, False, False]  # not a goodwill
    (refund,) = receiver.of("refundCompleted")
    assert refund["refundedToOriginalPaymentInstrument"] == -15.0
    assert [(u["result"], u["oldGross"], u["newGross"]) for u in doc["updates"]] == [
        ("ERROR_IN_FILE", 124.8, None),
        ("OK", 124.8, 109.8),
    ]
    created = [c["invoiceReference"] for c in receiver.of("invoiceCreated")]
    assert created == ["INV-1", "INV-1"]


async def test_update_of_a_nullified_invoice_is_refused(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    await invoiced_all(sim, receiver)
    await write(sim, "/invoices/INV-1", update_body(line(2, quantity=0), invoice="INV-2"))  # re-issued as INV-2
    again = await outcome(
        sim, receiver, await write(sim, "/invoices/INV-1", update_body(line(2, quantity=0), goodwill="GW-2"))
    )
    assert "was nullified by an earlier update" in again["errorDetails"][0]["ErrorDescription"]


# -- idempotency --------------------------------------------------------------------------------------------


async def test_a_repeated_x_request_id_is_not_applied_twice(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await seeded(sim)
    headers = {"X-Request-ID": "ID239487ASF3AF2434fasdf366d"}
    first = await write(sim, "/payments", {"authorizedAmount": 5}, headers=headers)
    second = await write(sim, "/payments", {"authorizedAmount": 5}, headers=headers)
    await sim.quiesce()

    assert second == first
    doc = await inspect(sim)
    assert doc["paid"] == 5.0  # booked once
    (edi,) = receiver.of("EDIErrorSent")
    assert edi["transactionId"] == "ID239487ASF3AF2434fasdf366d"
    phases = [e["phase"] for e in await sim.journal("ORD1") if e["op"] == "accounting.payment"]
    assert phases.count("repeat") == 1
    assert phases.count("commit") == 1

    third = await write(sim, "/payments", {"authorizedAmount": 5})  # no X-Request-ID: a new request
    await sim.quiesce()
    assert third != first
    assert (await inspect(sim))["paid"] == 10.0
