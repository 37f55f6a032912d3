"""The Accounting API's sample requests and the DESIGN's order mirrored into it, with the readings its rule tests make
(tests/integration/test_accounting_*.py). The receiver, paths and writes themselves are in tests/support/accounting.py.

    await seeded(sim)                                 # ORD1: positions 1, 2, 3 as LINES lists them
    await invoiced_all(sim, receiver)                 # INV-1 over all three
    body = update_body(line(2, quantity=0))           # update INV-1: position 2 dropped

Imports: tests.conftest and tests.support.accounting.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Sim
from tests.support.accounting import CUSTOMER, Receiver, invoice_body, outcome, write

__all__ = [
    "ADDRESS",
    "LINES",
    "REFERENCE_ITEM",
    "SEED_ITEM",
    "SEED_UPDATE",
    "SHIPPED",
    "SHIP_TO",
    "fields_of",
    "invoiced_all",
    "line",
    "order_body",
    "seeded",
    "states",
    "update_body",
]

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
    """Position `ref` of the seeded order as an item of a request, with any of its numbers changed."""
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
    """An update-invoice request re-issuing `invoice` over `positions` with the order's new `items`."""
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
    """Seed the DESIGN's order in Orders, mirrored into Accounting for CUSTOMER; returns the seed's answer."""
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


def fields_of(details: dict[str, Any]) -> list[str]:
    """The field names an EDIErrorSent's details complain about, in order."""
    return [e["fieldName"] for e in details["errorDetails"]]


def states(doc: dict[str, Any]) -> dict[int, str]:
    """Each position's state in an inspected accounting order."""
    return {p["orderItemReference"]: p["state"] for p in doc["positions"]}


async def invoiced_all(sim: Sim, receiver: Receiver, reference: str = "INV-1") -> None:
    """Invoice all three positions of the seeded order; the invoice must be accepted."""
    details = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body(reference, (1, 2, 3))))
    assert details["result"] == "OK", details
