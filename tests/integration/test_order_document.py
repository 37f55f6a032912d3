"""The order document, its PII version and the order list, judged by VTEX's published schemas.

`tests/fidelity/schema.py` holds the project's copy of the published facts (GetOrder, GetOrder2, ListOrders 200
schemas); every answer here must validate against it, and (through `Sim.call`) against `/openapi.json` too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import ITEMS, SHIPPING, VALUE, Sim
from tests.support.published import missing_properties, validate_answer

REMOVE_SKU2 = {"reason": "sku-2 out of stock", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}}


def payments(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for t in order["paymentData"]["transactions"] for p in t["payments"]]


def totals(order: dict[str, Any]) -> dict[str, int]:
    return {t["id"]: t["value"] for t in order["totals"]}


def consistent(order: dict[str, Any]) -> None:
    """What an integration adds up: the totals, the payments and the shipping lines agree with `value`."""
    assert sum(totals(order).values()) == order["value"]
    assert sum(p["value"] for p in payments(order)) == order["value"]
    logistics = order["shippingData"]["logisticsInfo"]
    assert [li["itemIndex"] for li in logistics] == list(range(len(order["items"])))
    assert sum(li["price"] for li in logistics) == totals(order)["Shipping"]


# -- GET /api/oms/pvt/orders/{orderId} -------------------------------------------------------------------------


async def test_a_seeded_order_has_every_published_property_and_validates(sim: Sim) -> None:
    await sim.seed()
    order = await sim.order()
    assert missing_properties("GetOrder", 200, order) == []
    assert validate_answer("GetOrder", 200, order) == []
    assert (order["status"], order["statusDescription"]) == ("handling", "Preparando Entrega")
    assert totals(order) == {"Items": 4990 * 2 + 1500, "Discounts": 0, "Shipping": SHIPPING, "Tax": 0}
    assert order["value"] == VALUE
    consistent(order)
    first = order["items"][0]
    assert (first["id"], first["productId"], first["refId"], first["sellerSku"]) == ("sku-1",) * 4
    assert first["priceDefinition"] == {
        "sellingPrices": [{"value": 4990, "quantity": 2}],
        "calculatedSellingPrice": 4990,
        "total": 9980,
        "reason": None,
    }
    assert first["additionalInfo"]["dimension"]["weight"] > 0
    assert first["seller"] == order["sellers"][0]["id"]
    (payment,) = payments(order)
    assert (payment["value"], payment["paymentSystemName"], payment["group"]) == (VALUE, "Visa", "creditCard")
    assert order["changesAttachment"] is None
    assert order["packageAttachment"] == {"packages": []}


@pytest.mark.parametrize(
    ("status", "description"),
    [("ready-for-handling", "Pronto para o manuseio"), ("invoiced", "Faturado"), ("canceled", "Cancelado")],
)
async def test_status_description_is_the_platforms(sim: Sim, status: str, description: str) -> None:
    await sim.seed(status=status)
    order = await sim.order()
    assert order["statusDescription"] == description
    assert validate_answer("GetOrder", 200, order) == []


async def test_a_scenario_overrides_parts_of_the_document(sim: Sim) -> None:
    items = [
        {
            "id": "sku-1",
            "price": 4990,
            "quantity": 2,
            "name": "Coffee",
            "refId": "REF-1",
            "ean": "7891234567895",
            "productId": "p-1",
            "sellerSku": "S-1",
            "weight": 250,
            "document": {"isGift": True},
        },
        {"id": "sku-2", "price": 1500, "quantity": 1},
    ]
    document = {
        "clientProfileData": {"email": "qa@example.com"},
        "sellers": [{"id": "s9", "name": "Seller Nine", "logo": "", "fulfillmentEndpoint": "http://s9"}],
        "paymentData": {
            "transactions": [
                {
                    "isActive": True,
                    "transactionId": "T1",
                    "merchantName": "M",
                    "payments": [
                        {
                            "id": "P1",
                            "paymentSystemName": "Pix",
                            "group": "instantPayment",
                            "paymentSystem": "125",
                            "value": 5000,
                            "installments": 1,
                        },
                        {
                            "id": "P2",
                            "paymentSystemName": "Visa",
                            "group": "creditCard",
                            "paymentSystem": "2",
                            "installments": 3,
                        },
                    ],
                }
            ]
        },
    }
    await sim.seed(items=items, document=document)
    order = await sim.order()
    assert validate_answer("GetOrder", 200, order) == []
    client = order["clientProfileData"]
    assert (client["email"], client["firstName"]) == ("qa@example.com", "Ana")  # merged, not replaced
    assert order["sellers"] == document["sellers"]
    assert [i["seller"] for i in order["items"]] == ["s9", "s9"]
    first = order["items"][0]
    assert (first["name"], first["refId"], first["ean"], first["productId"], first["sellerSku"], first["isGift"]) == (
        "Coffee",
        "REF-1",
        "7891234567895",
        "p-1",
        "S-1",
        True,
    )
    assert first["additionalInfo"]["dimension"]["weight"] == 250
    assert [(p["id"], p["value"]) for p in payments(order)] == [("P1", 5000), ("P2", VALUE - 5000)]
    consistent(order)


@pytest.mark.parametrize("key", ["value", "items", "totals", "status", "changesAttachment", "notAProperty"])
async def test_computed_or_unknown_properties_cannot_be_seeded(sim: Sim, key: str) -> None:
    body = {"orderId": "ORD-1", "items": ITEMS, "document": {key: 1}}
    status, answer = await sim.call("POST", "/_sim/orders", body=body)
    assert status == 400
    assert key in answer["error"]["message"]
    assert (await sim.call("GET", "/api/oms/pvt/orders/ORD-1"))[0] == 404


async def test_changes_data_shows_the_documented_fields_after_a_change(sim: Sim) -> None:
    await sim.seed()
    _, change = await sim.call("PATCH", "/api/order-system/orders/ORD-1/changes", body=REMOVE_SKU2, expect=202)
    await sim.quiesce("ORD-1")
    order = await sim.order()
    assert validate_answer("GetOrder", 200, order) == []
    (entry,) = order["changesAttachment"]["changesData"]
    assert entry["requestId"] == change["requestId"]
    assert (entry["reason"], entry["discountValue"], entry["incrementValue"]) == ("sku-2 out of stock", 1500, 0)
    assert entry["itemsAdded"] == []
    assert entry["itemsRemoved"] == [
        {"id": "sku-2", "name": "sku-2", "quantity": 1, "price": 1500, "unitMultiplier": None}
    ]
    assert entry["receipt"]["orderId"] == "ORD-1"
    assert entry["receipt"]["date"] == order["lastChange"]
    assert entry["receipt"]["receipt"]
    assert order["value"] == VALUE - 1500
    assert totals(order) == {"Items": 4990 * 2 + 1500, "Discounts": -1500, "Shipping": SHIPPING, "Tax": 0}
    consistent(order)


async def test_an_added_item_is_an_increment_and_a_new_line(sim: Sim) -> None:
    await sim.seed()
    body = {"reason": "customer added one", "add": {"items": [{"id": "sku-3", "quantity": 2, "price": 700}]}}
    await sim.call("PATCH", "/api/order-system/orders/ORD-1/changes", body=body, expect=202)
    await sim.quiesce("ORD-1")
    order = await sim.order()
    assert validate_answer("GetOrder", 200, order) == []
    (entry,) = order["changesAttachment"]["changesData"]
    assert (entry["discountValue"], entry["incrementValue"]) == (0, 1400)
    assert [(i["id"], i["quantity"], i["price"]) for i in entry["itemsAdded"]] == [("sku-3", 2, 700)]
    assert [i["id"] for i in order["items"]] == ["sku-1", "sku-2", "sku-3"]
    assert order["value"] == VALUE + 1400
    consistent(order)


async def test_package_items_point_at_the_invoiced_line(sim: Sim) -> None:
    await sim.seed()
    body = {
        "type": "Output",
        "issuedDate": "2026-11-21",
        "invoiceNumber": "NF-1",
        "invoiceValue": 1500,
        "items": [{"itemIndex": 1, "price": 1500, "quantity": 1}],
    }
    await sim.call("POST", "/api/orders/pvt/document/ORD-1/invoices", body=body, expect=200)
    order = await sim.order()
    assert validate_answer("GetOrder", 200, order) == []
    (package,) = order["packageAttachment"]["packages"]
    assert [(i["itemIndex"], i["quantity"], i["price"]) for i in package["items"]] == [(1, 1, 1500)]
    assert package["embeddedInvoice"] == ""


async def test_each_version_is_rendered_once(sim: Sim) -> None:
    await sim.seed()
    first = await sim.client.get("/api/oms/pvt/orders/ORD-1")
    cached = sim.orders.rendered["ORD-1"]
    again = await sim.client.get("/api/oms/pvt/orders/ORD-1")
    assert await first.read() == await again.read()
    assert sim.orders.rendered["ORD-1"] is cached  # the same (version, bytes): not rendered again
    assert cached[0] is sim.orders.latest("ORD-1")


# -- GET /api/orders/pvt/document/{orderId} (PII data architecture) --------------------------------------------


async def test_the_pii_version_serves_the_same_order_and_validates(sim: Sim) -> None:
    await sim.seed()
    await sim.call("PATCH", "/api/order-system/orders/ORD-1/changes", body=REMOVE_SKU2, expect=202)
    await sim.quiesce("ORD-1")
    await sim.invoice(value=VALUE - 1500)
    _, pii = await sim.call("GET", "/api/orders/pvt/document/ORD-1", expect=200)
    order = await sim.order()
    assert missing_properties("GetOrder2", 200, pii) == []
    assert validate_answer("GetOrder2", 200, pii) == []
    assert (pii["id"], pii["orderId"], pii["state"], pii["status"]) == (
        "ORD-1",
        "ORD-1",
        order["status"],
        order["status"],
    )
    for key in ("value", "totals", "items", "changesAttachment", "clientProfileData", "paymentData"):
        assert pii[key] == order[key], key
    assert [m["id"] for m in pii["itemMetadata"]["items"]] == ["sku-1", "sku-2"]
    assert "statusDescription" not in pii


async def test_the_pii_version_of_an_unknown_order_is_404(sim: Sim) -> None:
    status, body = await sim.call("GET", "/api/orders/pvt/document/nope-01")
    assert (status, body["error"]["code"]) == (404, "OMS007")


# -- GET /api/oms/pvt/orders (ListOrders) ----------------------------------------------------------------------


async def seed_five(sim: Sim) -> None:
    for n, status in enumerate(["handling", "ready-for-handling", "handling", "invoiced", "canceled"], start=1):
        items = [{"id": "sku-1", "price": 1000 * n, "quantity": n}]
        await sim.seed(f"ORD-{n}", items=items, shipping=0, status=status)


async def listing(sim: Sim, query: str = "") -> dict[str, Any]:
    _, answer = await sim.call("GET", f"/api/oms/pvt/orders{query}", expect=200)
    assert validate_answer("ListOrders", 200, answer) == []
    return dict(answer)


async def test_f_status_finds_exactly_the_orders_in_that_status(sim: Sim) -> None:
    await seed_five(sim)
    handling = await listing(sim, "?f_status=handling")
    assert sorted(o["orderId"] for o in handling["list"]) == ["ORD-1", "ORD-3"]
    assert {o["status"] for o in handling["list"]} == {"handling"}
    assert handling["paging"] == {"total": 2, "pages": 1, "currentPage": 1, "perPage": 15}
    several = await listing(sim, "?f_status=invoiced,canceled")
    assert sorted(o["orderId"] for o in several["list"]) == ["ORD-4", "ORD-5"]
    await sim.call("POST", "/_sim/orders/ORD-2/status", body={"status": "handling"}, expect=200)
    assert len((await listing(sim, "?f_status=handling"))["list"]) == 3


async def test_list_entries_say_what_the_order_says(sim: Sim) -> None:
    await seed_five(sim)
    (entry,) = (await listing(sim, "?f_status=invoiced"))["list"]
    order = await sim.order("ORD-4")
    assert entry["totalValue"] == order["value"] == 16000
    assert (entry["status"], entry["statusDescription"]) == ("invoiced", "Faturado")
    assert entry["creationDate"] == order["creationDate"]
    assert entry["clientName"] == "Ana Souza"
    assert entry["totalItems"] == 4
    assert entry["items"] is None


async def test_list_pages_and_sorts(sim: Sim) -> None:
    await seed_five(sim)
    by_value = await listing(sim, "?orderBy=totalValue,asc&per_page=2&page=2")
    assert [o["orderId"] for o in by_value["list"]] == ["ORD-3", "ORD-4"]
    assert by_value["paging"] == {"total": 5, "pages": 3, "currentPage": 2, "perPage": 2}
    assert by_value["stats"]["stats"]["totalValue"]["Sum"] == sum(1000 * n * n for n in range(1, 6))
    desc = await listing(sim, "?orderBy=orderId,desc")
    assert [o["orderId"] for o in desc["list"]] == ["ORD-5", "ORD-4", "ORD-3", "ORD-2", "ORD-1"]
    newest_first = await listing(sim)
    assert [o["orderId"] for o in newest_first["list"]] == ["ORD-5", "ORD-4", "ORD-3", "ORD-2", "ORD-1"]
    assert (await listing(sim, "?page=3&per_page=2"))["list"][0]["orderId"] == "ORD-1"
    assert (await listing(sim, "?page=4&per_page=2"))["list"] == []


async def test_list_filters_by_creation_date_and_text(sim: Sim) -> None:
    await seed_five(sim)
    created = [(await sim.order(f"ORD-{n}"))["creationDate"] for n in (1, 2, 3)]
    assert created == sorted(created)
    assert created[0] < created[1]
    window = quote(f"creationDate:[{created[1]} TO {created[2]}]")
    found = (await listing(sim, f"?f_creationDate={window}"))["list"]
    assert sorted(o["orderId"] for o in found) == ["ORD-2", "ORD-3"]
    until_first = quote(f"creationDate:[* TO {created[0]}]")
    assert [o["orderId"] for o in (await listing(sim, f"?f_creationDate={until_first}"))["list"]] == ["ORD-1"]
    assert len((await listing(sim, "?q=ORD-4"))["list"]) == 1
    assert len((await listing(sim, "?q=ana.souza@example.com"))["list"]) == 5
    assert (await listing(sim, "?q=nobody@example.com"))["list"] == []


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        ("page=31", "page"),
        ("orderBy=value,asc", "orderBy"),
        ("orderBy=creationDate", "orderBy"),
        ("f_creationDate=2024-01-01", "f_creationDate"),
        ("f_creationDate=" + quote("creationDate:[yesterday TO today]"), "f_creationDate"),
    ],
)
async def test_bad_list_queries_are_400(sim: Sim, query: str, problem: str) -> None:
    status, body = await sim.call("GET", f"/api/oms/pvt/orders?{query}")
    assert status == 400
    assert problem in body["error"]["message"]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"shippingData": None}, "document.shippingData: an object"),
        ({"paymentData": {"transactions": [1]}}, "document.paymentData.transactions[0]: an object"),
        ({"shippingData": {"logisticsInfo": "x"}}, "document.shippingData.logisticsInfo: an object"),
        ({"clientProfileData": "just text"}, "document.clientProfileData: an object"),
        ({"storePreferencesData": {"currencyCode": 986}}, "document.storePreferencesData.currencyCode: a string"),
    ],
)
async def test_a_document_value_of_another_type_is_refused_at_seed_time(
    sim: Sim, document: dict[str, Any], says: str
) -> None:
    # The review found each of these stored (201) and then every read of the order answering 500.
    body = {"orderId": "T-1", "items": [{"id": "a", "price": 100, "quantity": 1}], "document": document}
    status, answer = await sim.call("POST", "/_sim/orders", body=body)
    assert status == 400
    assert says in answer["error"]["message"]
    assert (await sim.call("GET", "/api/oms/pvt/orders/T-1"))[0] == 404


async def test_an_item_document_value_of_another_type_is_refused_at_seed_time(sim: Sim) -> None:
    body = {"orderId": "T-2", "items": [{"id": "a", "price": 100, "quantity": 1, "document": {"tax": "x"}}]}
    status, answer = await sim.call("POST", "/_sim/orders", body=body)
    assert status == 400
    assert answer["error"]["message"].startswith("items[0]: document.items[].tax: an integer")


@pytest.mark.parametrize("order_by", ["creationDate", "orderId", "items", "totalValue", "origin"])
async def test_the_list_takes_open_date_ranges_with_every_sort(sim: Sim, order_by: str) -> None:
    # `*` bounds were naive datetimes compared with the orders' aware ones: the stateful fuzz found that 500.
    await seed_five(sim)
    every = quote("authorizedDate:[* TO *]")
    answer = await listing(sim, f"?orderBy={order_by},desc&f_authorizedDate={every}")
    unfiltered = await listing(sim, f"?orderBy={order_by},desc")
    assert [o["orderId"] for o in answer["list"]] == [o["orderId"] for o in unfiltered["list"]]
    assert len(answer["list"]) == 5  # every seeded status is past payment: all authorized
