"""The Accounting API over real HTTP: every route with the reference's and the seed's sample requests, tier-1
validation (400 in the documented shape), every business rule accepted and refused (the EDIErrorSent notification,
captured by a real callback receiver, says why), idempotency, callbacks, credentials, the timing model and gates,
seeding from Orders, inspection and reset.

Notifications are awaited with `POST /_sim/quiesce` (pending work includes their delivery), never with sleeps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import Sim, SimFactory

# -- a real notification receiver ---------------------------------------------------------------------------


class Receiver:
    """A callback endpoint on loopback: records every notification POSTed, answers the statuses it is told."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []  # statuses to answer, in order; 200 once exhausted
        app = web.Application()
        app.router.add_post("/notifications", self._handle)
        self.server = TestServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/notifications"))

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The `parameters` of every notification of type `accounting/<kind>`, in arrival order."""
        return [n["parameters"] for n in self.received if n["type"] == f"accounting/{kind}"]

    def edi(self, internal_id: str) -> dict[str, Any]:
        """The `details` of the one EDIErrorSent answering request `internal_id`."""
        found = [p for p in self.of("EDIErrorSent") if p["internalRequestId"] == internal_id]
        assert len(found) == 1, f"expected one EDIErrorSent for {internal_id}, got {found}"
        return dict(found[0]["details"])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.server.start_server()
    yield r
    await r.server.close()


ALL_TYPES = [
    "accounting/EDIErrorSent",
    "accounting/invoiceCreated",
    "accounting/refundCompleted",
    "accounting/paymentReceived",
]


async def subscribe(sim: Sim, receiver: Receiver, types: list[str] | None = None) -> dict[str, Any]:
    body = {"callbackUrl": receiver.url, "notificationTypes": ALL_TYPES if types is None else types}
    _, answer = await sim.call("POST", "/administration/v1/notification-callbacks", body=body, expect=200)
    return dict(answer)


# -- requests as the references spell them ------------------------------------------------------------------

CUSTOMER = "CUS-1"


def path(ref: str = "ORD1", suffix: str = "", *, customer: str = CUSTOMER, business: str = "1000") -> str:
    """An accounting path; an empty `ref` is the create-order route (`.../orders`)."""
    order = f"/{ref}" if ref else ""
    return f"/accounting/v1/businesses/{business}/customers/{customer}/orders{order}{suffix}"


ADDRESS = {
    "email": "max.mustermann@outlook.com",
    "phone": "+491345789555",
    "title": "DR",
    "street": "Beispielstr.",
    "language": "de",
    "lastName": "Mustermann",
    "birthDate": "1983-09-15",
    "firstName": "Max",
    "postalCode": "48213",
    "salutation": "MRS",
    "countryCode": "DE",
    "nationality": "DE",
    "postalPlace": "Muenster",
    "streetNumber": "13A",
    "customerGroup": "Gold Clients",
    "taxIdentificationNumber": "DE999999999",
}
"""The billToAddress of the reference's create-order example."""

SHIP_TO = ("street", "language", "lastName", "firstName", "postalCode", "countryCode", "postalPlace", "streetNumber")
REFERENCE_ITEM = {
    "vatType": "NORMAL",
    "quantity": 1,
    "productId": "BEF12346512A/1",
    "vatAmount": 19,
    "vatPercent": 19,
    "description": "Blumentopf XL (GRAU)",
    "positionType": "SALES_ARTICLE",
    "grossUnitPrice": 119,
    "orderItemReference": 1,
}
SEED_ITEM = {
    "grossUnitPrice": 11.9,
    "orderItemReference": 1,
    "quantity": 1,
    "vatAmount": 1.9,
    "vatPercent": 19,
    "vatType": "NORMAL",
    "productId": "WKD12346512A/1",
    "description": "Best wishes (Digital card)",
    "positionType": "SALES_ARTICLE",
}
"""The item of the seed's update-invoice sample."""


def order_body(
    reference: str = "ODE12345678901", items: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """The reference's create-order example (a Visa payment)."""
    return {
        "items": items or [REFERENCE_ITEM],
        "currency": "EUR",
        "orderDate": "2015-12-10T00:00:00.0000000",
        "orderType": "PHYSICAL_GOODS",
        "orderChannel": "ECOM",
        "billToAddress": ADDRESS,
        "shipToAddress": {k: ADDRESS[k] for k in SHIP_TO},
        "orderReference": reference,
        "paymentReference": {
            "paymentMethodName": "VISA",
            "paymentDetails": {"cardType": "VI", "authorizedAmount": 119},
        },
        "supplyingCountry": "DE",
        "vatDeclarationCountry": "DE",
        "processAfterDunning": "HAND_OVER_FOR_DEBT_COLLECTION",
        **extra,
    }


def invoice_body(reference: str = "IDE12345678901", items: tuple[int, ...] = (1,)) -> dict[str, Any]:
    """The sample of the create-invoice use case."""
    return {
        "dispatchDate": "2018-11-06",
        "dueDate": "2018-11-05",
        "invoiceDate": "2018-11-04",
        "items": [{"orderItemReference": i} for i in items],
        "invoiceReference": reference,
        "shipmentReference": "S01234567",
    }


SHIPPED = {"carrier": "DHL", "trackingCode": "123456asfd788754sdffs987"}
"""What the create-invoice API reference's example adds (docs.riverty.com/accounting_as_a_service/api_reference/
create_invoice): required on invoices of physical goods."""

SEED_UPDATE = {
    "goodwillReference": "GDE12345678901",
    "invoice": {
        "dispatchDate": "2018-11-06",
        "dueDate": "2018-11-05",
        "invoiceDate": "2018-11-04",
        "invoiceReference": "IDE12345678901",
        "items": [{"orderItemReference": 1}],
        "shipmentReference": "S01234567",
    },
    "order": {
        "billToAddress": ADDRESS,
        "currency": "EUR",
        "orderType": "DIGITAL_GOODS",
        "orderDate": "2015-12-10T00:00:00.0000000",
        "items": [SEED_ITEM],
        "orderReference": "ODE12345678901",
        "paymentReference": {"paymentMethodName": "VISA", "paymentDetails": {}},
        "processAfterDunning": "HAND_OVER_FOR_DEBT_COLLECTION",
        "orderChannel": "ECOM",
        "supplyingCountry": "DE",
        "vatDeclarationCountry": "DE",
    },
}
"""The seed's sample update-invoice request (`...` in its addresses filled with the reference's example)."""

# The rule tests use the DESIGN's order mirrored into Accounting by the seed: positions
# 1 = 2 x 49.90 (sku-1), 2 = 1 x 15.00 (sku-2), 3 = 1 x 10.00 (shipping); 124.80 in all, VAT 19 %.
LINES = {1: (49.9, 2, 7.97), 2: (15, 1, 2.39), 3: (10, 1, 1.6)}


def line(
    ref: int, price: float | None = None, quantity: float | None = None, vat: float | None = None
) -> dict[str, Any]:
    p, q, v = LINES[ref]
    return {
        "orderItemReference": ref,
        "grossUnitPrice": p if price is None else price,
        "quantity": q if quantity is None else quantity,
        "vatAmount": v if vat is None else vat,
        "vatPercent": 19,
        "vatType": "NORMAL",
    }


def update_body(
    *items: dict[str, Any],
    invoice: str = "INV-1",
    positions: tuple[int, ...] = (1, 2, 3),
    goodwill: str = "GW-1",
    ref: str = "ORD1",
) -> dict[str, Any]:
    return {
        "goodwillReference": goodwill,
        "invoice": {**invoice_body(invoice, positions)},
        "order": {
            "orderReference": ref,
            "currency": "EUR",
            "orderChannel": "ECOM",
            "orderDate": "2026-11-21",
            "orderType": "PHYSICAL_GOODS",
            "supplyingCountry": "DE",
            "items": list(items),
        },
    }


async def seeded(sim: Sim, order_id: str = "ORD1") -> dict[str, Any]:
    _, answer = await sim.call(
        "POST",
        "/_sim/orders",
        expect=201,
        body={
            "orderId": order_id,
            "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
            "shipping": 1000,
            "accounting": {"customerNumber": CUSTOMER},
        },
    )
    return dict(answer)


async def write(
    sim: Sim,
    suffix: str,
    body: dict[str, Any],
    *,
    ref: str = "ORD1",
    method: str = "POST",
    customer: str = CUSTOMER,
    headers: dict[str, str] | None = None,
) -> str:
    """Send one accounting write; it must be accepted at once (200); returns its internalRequestId."""
    _, answer = await sim.call(method, path(ref, suffix, customer=customer), body=body, headers=headers, expect=200)
    assert set(answer) == {"internalRequestId"}
    uuid.UUID(answer["internalRequestId"])
    return str(answer["internalRequestId"])


async def outcome(sim: Sim, receiver: Receiver, internal_id: str) -> dict[str, Any]:
    """Wait until the simulator is idle (deliveries included) and return the request's EDIErrorSent details."""
    await sim.quiesce()
    return receiver.edi(internal_id)


def fields_of(details: dict[str, Any]) -> list[str]:
    return [e["fieldName"] for e in details["errorDetails"]]


async def inspect(sim: Sim, ref: str = "ORD1") -> dict[str, Any]:
    _, doc = await sim.call("GET", f"/_sim/accounting/orders/{ref}", expect=200)
    return dict(doc)


def states(doc: dict[str, Any]) -> dict[int, str]:
    return {p["orderItemReference"]: p["state"] for p in doc["positions"]}


async def invoiced_all(sim: Sim, receiver: Receiver, reference: str = "INV-1") -> None:
    details = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(reference, (1, 2, 3))))
    assert details["result"] == "OK", details


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


# -- callbacks and delivery ---------------------------------------------------------------------------------


async def test_callback_registration_answer_and_type_filter(sim: Sim, receiver: Receiver) -> None:
    answer = await subscribe(sim, receiver, ["accounting/refundCompleted"])
    assert answer["callbackUrl"] == receiver.url
    assert answer["notificationTypes"] == ["accounting/refundCompleted"]
    uuid.UUID(answer["id"])
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    await sim.quiesce()
    assert [n["type"] for n in receiver.received] == ["accounting/EDIErrorSent"]  # always on; invoiceCreated not

    again = await subscribe(sim, receiver, ["accounting/invoiceCreated"])  # the same URL: types replaced
    assert again["id"] == answer["id"]
    await write(sim, "/invoices", invoice_body("INV-2", (2,)))
    await sim.quiesce()
    assert [n["type"] for n in receiver.received][1:] == ["accounting/EDIErrorSent", "accounting/invoiceCreated"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"callbackUrl": "ftp://x/", "notificationTypes": []}, "Path:callbackUrl"),
        ({"callbackUrl": "http://x/", "notificationTypes": ["accounting/everything"]}, "Path:notificationTypes[0]"),
    ],
)
async def test_callback_registration_bad_input(sim: Sim, body: dict[str, Any], where: str) -> None:
    status, answer = await sim.call("POST", "/administration/v1/notification-callbacks", body=body)
    assert status == 400
    assert where in answer["description"]


async def test_delivery_is_retried_until_a_2xx(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver, [])  # EDIErrorSent only (always on): one notification to retry
    await sim.patch_config({"accounting": {"notify_backoff_ms": 1}})
    receiver.answers = [500, 503]
    await seeded(sim)
    await write(sim, "/payments", {"authorizedAmount": 1})
    await sim.quiesce()

    edis = [n for n in receiver.received if n["type"] == "accounting/EDIErrorSent"]
    assert len(edis) == 3  # at least once: the same notification until a 2xx
    attempts = [
        e["detail"]["status"]
        for e in await sim.journal("ORD1")
        if e["op"] == "accounting.notify"
        and e["phase"] == "deliver"
        and e["detail"]["type"] == "accounting/EDIErrorSent"
    ]
    assert attempts == [500, 503, 200]


async def test_notifications_are_kept_without_callbacks(sim: Sim) -> None:
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (7,)))
    await sim.quiesce()
    _, notes = await sim.call("GET", "/_sim/accounting/notifications?orderReference=ORD1", expect=200)
    (edi,) = notes["notifications"]
    assert edi["payload"]["parameters"]["details"]["result"] == "ERROR_IN_FILE"
    assert edi["deliveries"] == []


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


# -- the timing model, the journal and gates ----------------------------------------------------------------


@pytest.mark.looptime
async def test_writes_answer_at_once_and_commit_later(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await sim.patch_config({"accounting": {"write": {"queue": 20, "process": 100, "respond": 2}, "notify": 5}})
    await seeded(sim)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    rid = await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    answered = loop.time() - t0
    assert states(await inspect(sim))[1] == "open"  # answered before the worker's COMMIT
    assert receiver.received == []
    await sim.quiesce()

    assert answered == pytest.approx(0.002, abs=1e-3)
    assert states(await inspect(sim))[1] == "invoiced"
    journal = await sim.journal("ORD1")
    entries = {e["phase"]: e for e in journal if e["op"] == "accounting.invoice" and e["op_id"] == rid}
    assert {"arrive", "respond", "read", "commit", "accepted"} <= set(entries)
    assert entries["commit"]["t"] - entries["respond"]["t"] == pytest.approx(0.118, abs=1e-3)  # queue + process
    assert [e["op"] for e in await sim.journal("ORD1") if e["phase"] == "deliver"] == ["accounting.notify"] * 2


@pytest.mark.looptime
@pytest.mark.parametrize("consistency", ["snapshot", "serializable"])
async def test_gates_force_an_invoice_and_a_cancellation_to_interleave(
    make_sim: SimFactory, receiver: Receiver, consistency: str
) -> None:
    """The invoice READs position 2 open; the cancellation of position 2 runs meanwhile. In snapshot consistency
    both are accepted (write skew, like failure A); in serializable consistency the cancellation waits for the
    invoice's lock, then finds the position invoiced and is refused."""
    sim = await make_sim("instant", consistency=consistency)
    await subscribe(sim, receiver)
    await seeded(sim)
    gate = {"orderId": "ORD1", "point": "accounting.invoice.after_read"}
    await sim.call("POST", "/_sim/gates", body=gate, expect=201)
    invoice = await write(sim, "/invoices", invoice_body("INV-1", (2,)))
    _, waited = await sim.call("POST", "/_sim/gates/wait", body=gate, expect=200)
    assert waited["parked"]
    cancel = {
        "cancellationDate": "2018-03-21",
        "cancellationReason": "OUT_OF_STOCK",
        "items": [{"orderItemReference": 2}],
    }
    cancellation = await write(sim, "/cancellations", cancel)
    await wait_journal(sim, "accounting.cancellation", "accepted" if consistency == "snapshot" else "lock_wait")
    await sim.call("POST", "/_sim/gates/release", body=gate, expect=200)
    await sim.quiesce()

    assert receiver.edi(invoice)["result"] == "OK"
    if consistency == "snapshot":
        assert receiver.edi(cancellation)["result"] == "OK"  # both accepted: the anomaly
        doc = await inspect(sim)
        assert states(doc)[2] == "invoiced"
        assert doc["cancellations"][0]["items"] == [{"orderItemReference": 2}]
    else:
        refused = receiver.edi(cancellation)
        assert "is invoiced (invoice INV-1)" in refused["errorDetails"][0]["ErrorDescription"]


async def wait_journal(sim: Sim, op: str, phase: str, order_id: str = "ORD1") -> None:
    """Wait (virtual time) until the journal shows `op`/`phase`."""
    for _ in range(10_000):
        if any(e["op"] == op and e["phase"] == phase for e in await sim.journal(order_id)):
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{op} never reached {phase}")


async def test_unknown_gate_point_names_the_accounting_ops(sim: Sim) -> None:
    status, body = await sim.call(
        "POST", "/_sim/gates", body={"orderId": "ORD1", "point": "accounting.bill.after_read"}
    )
    assert status == 400
    assert "accounting.update_invoice" in body["error"]["message"]


async def test_sync_mode_processes_before_answering(sim: Sim) -> None:
    await sim.patch_config({"accounting": {"write": {"mode": "sync"}}})
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    assert states(await inspect(sim))[1] == "invoiced"  # no quiesce needed


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
