"""The Orders API's order document as the reference spells it (camelCase, cents), built from domain records.

Owns the order document (`GET /api/oms/pvt/orders/{orderId}`) and the PII version's (`GET /api/orders/pvt/document/
{orderId}`): its items (`item_document`, and the judging of an item's seed-time overrides), payments, logistics,
totals, applied Changes and packages (`package_document`), and the status names (`STATUS_DESCRIPTIONS`). The order
list is `.order_list`'s, the Change documents `.change_documents`', what a scenario may set at seed time `.profile`'s.

Sources: VTEX's published OpenAPI documents of the Orders API (`vtex-orders-api.openapi.json`, GetOrder;
`vtex-orders-api-pii.openapi.json`, GetOrder2; synced from the public repository vtex/openapi-schemas) and the help
center (repository vtexdocs/help-center-content). Each fact below names its place; `docs/fidelity.md` lists what is
modelled, simplified or left out.

Imports: stdlib, `simulator.orders.model` and `.orders.profile`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from .model import FINAL, AppliedChange, AppliedItem, Item, Order, Package
from .profile import DEFAULT_ACCOUNT, merge, override_schema, static_properties, text_or

__all__ = [
    "STATUS_DESCRIPTIONS",
    "check_item_overrides",
    "days_later",
    "item_document",
    "item_overrides_schema",
    "order_document",
    "order_document_pii",
    "package_document",
]

STATUS_DESCRIPTIONS = {
    # The platform's `statusDescription` is the Admin's Portuguese status name. Four are in the published document's
    # examples (GetOrder `#/paths/~1api~1oms~1pvt~1orders~1{orderId}/get/responses/200/content/application~1json/
    # example`, ListOrders `.../~1api~1oms~1pvt~1orders/get/responses/200/.../example/list`): handling,
    # ready-for-handling, invoiced, canceled. The others are the "Gerenciamento de Pedidos" column of the help
    # center's status table (docs/tutorials/pt/order-status-table-oms.md), except `invoice`, which the current
    # English article (docs/en/tutorials/orders/all-orders/order-flow-and-status.md) names "Verifying invoice".
    "order-created": "Processando",
    "payment-pending": "Pagamento Pendente",
    "payment-approved": "Pagamento Aprovado",
    "window-to-cancel": "Carência para Cancelamento",
    "ready-for-handling": "Pronto para o manuseio",
    "start-handling": "Iniciar Manuseio",
    "handling": "Preparando Entrega",
    "waiting-for-fulfillment": "",  # in no table; the schema: "obsolete and may not return any value"
    "invoice": "Verificando Fatura",
    "invoiced": "Faturado",
    "request-cancel": "Solicitar cancelamento",
    "cancel": "Cancelar",
    "canceled": "Cancelado",
}

_TOTAL_NAMES = {  # as the GetOrder example names them
    "Items": "Total dos Itens",
    "Discounts": "Total dos Descontos",
    "Shipping": "Total do Frete",
    "Tax": "Total da Taxa",
}

# A delivery (not pickup) line, as the Userorderdetails example shows it.
_PICKUP_NONE = MappingProxyType(
    {
        "additionalInfo": None,
        "address": None,
        "dockId": None,
        "friendlyName": None,
        "isPickupStore": False,
    }
)


def _hex(*parts: str) -> str:
    """A stable id for a generated identifier (transaction, payment, orderForm): the same order, the same id."""
    return hashlib.md5("/".join(parts).encode(), usedforsecurity=False).hexdigest().upper()


# -- items ---------------------------------------------------------------------------------------------------


def item_document(
    i: Item,
    *,
    order_id: str = "",
    account: str = DEFAULT_ACCOUNT,
    seller: str = "1",
    valid_until: str | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """One `items[]` entry (GetOrder 200 schema `items`; the example's values where the order has none). Its seed-time
    overrides are judged only when `strict` (at seeding: `check_item_overrides`)."""
    total = i.price * i.quantity
    out: dict[str, Any] = {
        "uniqueId": i.unique_id,
        "id": i.id,
        "productId": i.product_id or i.id,
        "ean": i.ean,
        "lockId": f"00-{order_id}" if order_id else "",
        "itemAttachment": {"content": {}, "name": None},
        "attachments": [],
        "quantity": i.quantity,
        "seller": i.seller or seller,
        "name": i.name,
        "refId": i.ref_id or i.id,
        "price": i.price,
        "listPrice": i.list_price,
        "manualPrice": None,
        "priceTags": [],
        "imageUrl": i.image_url or f"https://{account}.vteximg.com.br/arquivos/ids/{i.id}-55-55/{i.id}.jpg",
        "detailUrl": i.detail_url or f"/{i.product_id or i.id}/p",
        "components": [],
        "bundleItems": [],
        "params": [],
        "offerings": [],
        "attachmentOfferings": [],
        "sellerSku": i.seller_sku or i.id,
        "priceValidUntil": valid_until,  # nullable in the orders schema, a string in the PII one
        "commission": 0,
        "tax": i.tax,
        "preSaleDate": None,
        "additionalInfo": {
            "brandName": "",
            "brandId": "",
            "categoriesIds": "",
            "categories": [],
            "productClusterId": "",
            "commercialConditionId": "1",
            "dimension": {
                "cubicweight": 1.0,
                "height": 10.0,
                "length": 10.0,
                "weight": 500.0 if i.weight is None else i.weight,
                "width": 10.0,
            },
            "offeringInfo": None,
            "offeringType": None,
            "offeringTypeId": None,
        },
        "measurementUnit": i.measurement_unit,
        "unitMultiplier": i.unit_multiplier,
        "sellingPrice": i.price,
        "isGift": False,
        "shippingPrice": None,
        "rewardValue": 0,
        "freightCommission": 0,
        # The platform's name (both documents' examples, and the PII schema); the orders schema spells it
        # `priceDefinitions`, which no example shows.
        "priceDefinition": {
            "sellingPrices": [{"value": i.price, "quantity": i.quantity}],
            "calculatedSellingPrice": i.price,
            "total": total,
            "reason": None,
        },
        "taxCode": None,
        "parentItemIndex": None,
        "parentAssemblyBinding": None,
        "callCenterOperator": None,
        "serialNumbers": None,
        "assemblies": [],
        "costPrice": 0,
    }
    return merge(out, i.extra, "items[]", strict=strict) if i.extra else out


def item_overrides_schema() -> dict[str, Any]:
    """The schema of a seeded item's `document`: an item's published properties, each as `merge` takes it."""
    sample = Item(id="sku", unique_id="sku-0", name="sku", price=0, quantity=1, list_price=0)
    return override_schema(item_document(sample))


def check_item_overrides(item: Item) -> None:
    """Render `item` once, so that its seed-time `document` overrides are judged as the order's are (`merge`).

    Raises:
        ValueError: an override of another JSON type than the platform's.
    """
    item_document(item, strict=True)


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": item["id"],
        "Seller": item["seller"],
        "Name": item["name"],
        "SkuName": item["name"],
        "ProductId": item["productId"],
        "RefId": item["refId"],
        "Ean": item["ean"] or "",
        "ImageUrl": item["imageUrl"],
        "DetailUrl": item["detailUrl"],
        "AssemblyOptions": [],
    }


def _logistics(order: Order, items: Sequence[dict[str, Any]], shipping: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`shippingData.logisticsInfo`: one entry per item (its `itemIndex`); the shipping total split over the lines,
    the first carrying the remainder, so that the entries add up to the `Shipping` total."""
    sla = shipping.get("logisticsInfo") or {}
    name = sla.get("selectedSla", "Normal")
    company = sla.get("deliveryCompany", "Transportadora")
    estimate = text_or(sla.get("shippingEstimate"), "5bd")
    lock, transit = sla.get("lockTTL", "10d"), sla.get("transitTime", "3d")
    address_id = (shipping.get("address") or {}).get("addressId")
    estimate_date = days_later(order.created_at, days=int("".join(c for c in estimate if c.isdigit()) or 0))
    n = len(items)
    share, rest = divmod(order.shipping, n) if n else (0, 0)
    out = []
    for index, item in enumerate(items):
        price = share + (rest if index == 0 else 0)
        out.append(
            {
                "itemIndex": index,
                "itemId": item["id"],
                "selectedSla": name,
                "lockTTL": lock,
                "price": price,
                "listPrice": price,
                "sellingPrice": price,
                "deliveryWindow": None,
                "deliveryCompany": company,
                "shippingEstimate": estimate,
                "shippingEstimateDate": estimate_date,
                "slas": [
                    {
                        "id": name,
                        "name": name,
                        "shippingEstimate": estimate,
                        "deliveryWindow": None,
                        "price": price,
                        "deliveryChannel": "delivery",
                        "pickupStoreInfo": dict(_PICKUP_NONE),
                        "polygonName": None,
                        "lockTTL": lock,
                        "pickupPointId": "",
                        "transitTime": transit,
                        "pickupDistance": 0.0,
                    }
                ],
                "shipsTo": [(shipping.get("address") or {}).get("country", "BRA")],
                "deliveryIds": [
                    {
                        "courierId": sla.get("courierId", "1"),
                        "courierName": company,
                        "dockId": sla.get("dockId", "1"),
                        "quantity": item["quantity"],
                        "warehouseId": sla.get("warehouseId", "1_1"),
                        "accountCarrierName": company,
                        "kitItemDetails": [],
                    }
                ],
                "deliveryChannels": [{"id": "delivery", "stockBalance": 0}],
                "deliveryChannel": "delivery",
                "selectedDeliveryChannel": "delivery",
                "pickupStoreInfo": dict(_PICKUP_NONE),
                "addressId": address_id,
                "versionId": None,
                "entityId": None,
                "polygonName": None,
                "pickupPointId": None,
                "transitTime": transit,
            }
        )
    return out


def days_later(created: str, *, days: int) -> str:
    """`created` plus `days` (for `shippingEstimateDate`, `5bd`, five business days, counts as five days)."""
    try:
        at = datetime.fromisoformat(created)
    except ValueError:
        return created
    return (at + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def _payment_data(order: Order, template: Mapping[str, Any]) -> dict[str, Any]:
    """`paymentData` from the profile's: payments without a `value` take the seeded value not given to the others
    (the first) or 0; the last payment carries the Changes, so that the payments add up to the order's value."""
    transactions = [dict(t) for t in template.get("transactions") or ()]
    payments: list[dict[str, Any]] = []
    for n, t in enumerate(transactions):
        t["payments"] = [dict(p) for p in t.get("payments") or ()]
        if t.get("transactionId") is None:
            t["transactionId"] = _hex(order.order_id, "transaction", str(n))
        payments.extend(t["payments"])
    seeded = order.value - order.change_value
    missing = seeded - sum(p["value"] for p in payments if isinstance(p.get("value"), int))
    for n, p in enumerate(payments):
        if p.get("id") is None:
            p["id"] = _hex(order.order_id, "payment", str(n))
        if p.get("accountId") is None:  # nullable in the orders schema, a string in the PII one
            p["accountId"] = _hex(order.order_id, "account", str(n))
        if not isinstance(p.get("value"), int):
            p["value"], missing = max(0, missing), 0
    if payments:
        payments[-1]["value"] += order.change_value
    for p in payments:
        if p.get("referenceValue") is None:
            p["referenceValue"] = p["value"]
    return {**template, "transactions": transactions}


# -- changes and packages ------------------------------------------------------------------------------------


def _changed_item(i: AppliedItem) -> dict[str, Any]:
    # The schema types `unitMultiplier` here as a nullable string; its example shows null for a plain unit.
    multiplier = None if i.unit_multiplier in (None, 1.0) else format(i.unit_multiplier, "g")
    return {"id": i.id, "name": i.name, "quantity": i.quantity, "price": i.price, "unitMultiplier": multiplier}


def _change_entry(order_id: str, c: AppliedChange) -> dict[str, Any]:
    """One `changesAttachment.changesData[]` entry (GetOrder 200 schema `ChangesAttachmentUpdated`), plus racelab's
    `requestId` (additional properties are allowed)."""
    return {
        "requestId": c.request_id,
        "reason": c.reason,
        "discountValue": c.discount_value,
        "incrementValue": c.increment_value,
        "itemsAdded": [_changed_item(i) for i in c.items_added],
        "itemsRemoved": [_changed_item(i) for i in c.items_removed],
        "receipt": {"date": c.date, "orderId": order_id, "receipt": c.receipt},
    }


def package_document(p: Package, *, multipliers: Sequence[float] = ()) -> dict[str, Any]:
    """One `packageAttachment.packages[]` entry: the invoice as sent, `items[].itemIndex` the line it invoices."""
    items = []
    for it in p.items:
        entry: dict[str, Any] = {
            "itemIndex": it.item_index,
            "quantity": it.quantity,
            "price": it.price,
            "unitMultiplier": multipliers[it.item_index] if 0 <= it.item_index < len(multipliers) else 1.0,
        }
        if it.description is not None:
            entry["description"] = it.description
        items.append(entry)
    return {
        "type": p.type,
        "invoiceNumber": p.invoice_number,
        "invoiceValue": p.invoice_value,
        "issuanceDate": p.issuance_date,
        "invoiceUrl": p.invoice_url,
        "invoiceKey": p.invoice_key,
        "embeddedInvoice": p.embedded_invoice or "",  # a string, not nullable, in the orders schema
        "courier": p.courier,
        "trackingNumber": p.tracking_number,
        "trackingUrl": p.tracking_url,
        "dispatchedDate": p.dispatched_date,
        "courierStatus": p.courier_status,
        "cfop": p.cfop,
        "restitutions": {},
        "volumes": p.volumes or 0,  # an integer, not nullable, in the orders schema
        "EnableInferItems": None,
        "extraValue": p.extra_value,
        "receipt": p.receipt,
        "items": items,
    }


# -- the order document --------------------------------------------------------------------------------------


def _totals(order: Order) -> list[dict[str, Any]]:
    """`totals`: the published four (the schema's enum allows no other id). A Change's increase is counted in
    `Items`, its decrease in `Discounts`, so that the totals add up to `value`."""
    increments = sum(c.increment_value for c in order.applied_changes)
    decrements = sum(c.discount_value for c in order.applied_changes)
    items = order.items_total + increments
    discounts = order.discounts - decrements
    # A Change whose recorded values do not add up to what it did to the value (never, by construction) would
    # break the sum: the discounts take the difference.
    discounts += order.value - (items + discounts + order.shipping + order.tax)
    totals = {"Items": items, "Discounts": discounts, "Shipping": order.shipping, "Tax": order.tax}
    return [{"id": k, "name": _TOTAL_NAMES[k], "value": v} for k, v in totals.items()]


def order_document(order: Order) -> dict[str, Any]:
    """`GET /api/oms/pvt/orders/{orderId}`: every top-level property of the published 200 schema (GetOrder), plus
    racelab's `updatedOrderValue` (= `value`) and `version`.

    Depends on nothing but the (immutable) version, so a rendering can be cached by version. Nested values of the
    order's profile are shared with every rendering: read the document, do not change it."""
    static = static_properties(order)
    account = static["hostname"]
    sellers = static.get("sellers") or ()
    seller = sellers[0]["id"] if sellers and isinstance(sellers[0], Mapping) and "id" in sellers[0] else "1"
    order_id = order.order_id
    valid_until = days_later(order.created_at, days=365)  # checkout's price validity; the examples show a date
    items = [
        item_document(i, order_id=order_id, account=account, seller=seller, valid_until=valid_until)
        for i in order.items
    ]
    shipping = static["shippingData"]
    payment = static["paymentData"]
    partially_invoiced = order.invoiced_value > 0
    applied = order.applied_changes
    group = order_id.rsplit("-", 1)[0]
    multipliers = [i.unit_multiplier for i in order.items]
    return {
        **static,
        "orderId": order_id,
        "sequence": str(order.sequence),
        "sellerOrderId": f"00-{order_id}",
        "orderGroup": group,
        "orderFormId": _hex(order_id, "orderForm").lower(),
        "status": order.status,
        "statusDescription": STATUS_DESCRIPTIONS.get(order.status, ""),
        "workflowIsInError": False,
        "value": order.value,
        "updatedOrderValue": order.value,
        "creationDate": order.created_at,
        "lastChange": order.last_change,
        "isCompleted": True,
        "allowCancellation": order.status not in FINAL and not partially_invoiced,
        "allowEdition": order.status in ("handling", "waiting-for-fulfillment"),
        "authorizedDate": None if order.status in ("order-created", "payment-pending") else order.created_at,
        "invoicedDate": order.invoiced_date,
        "cancelReason": None,
        "cancellationData": None,
        "totals": _totals(order),
        "itemMetadata": {"Items": [_metadata(i) for i in items]},
        "changesAttachment": {"id": "changeAttachment", "changesData": [_change_entry(order_id, c) for c in applied]}
        if applied
        else None,
        "packageAttachment": {"packages": [package_document(p, multipliers=multipliers) for p in order.packages]},
        "paymentData": _payment_data(order, payment),
        "shippingData": {**shipping, "logisticsInfo": _logistics(order, items, shipping)},
        "items": items,
        "version": order.version,
    }


_PII_PACKAGE_STRINGS = ("courier", "invoiceUrl", "invoiceKey", "trackingNumber", "trackingUrl")


def order_document_pii(order: Order) -> dict[str, Any]:
    """`GET /api/orders/pvt/document/{orderId}` (GetOrder2, the PII data architecture): the same order in the PII
    schema's spelling: its extra top-level properties (`id`, `state`, `piiHidden`, `receiptData`, …),
    `itemMetadata.items` in camelCase, package strings never null, no `statusDescription`."""
    doc = order_document(order)
    del doc["statusDescription"]
    items = doc["itemMetadata"]["Items"]
    doc["itemMetadata"] = {"items": [{k[0].lower() + k[1:]: v for k, v in m.items()} for m in items]}
    for m in doc["itemMetadata"]["items"]:
        m["assemblyOptions"] = []
    packages = []
    for p in doc["packageAttachment"]["packages"]:
        p = {**p, "lastChange": order.last_change}
        for key in _PII_PACKAGE_STRINGS:
            if p[key] is None:
                p[key] = ""
        packages.append(p)
    doc["packageAttachment"] = {"packages": packages}
    store = doc["storePreferencesData"]
    doc.update(
        {
            "id": order.order_id,
            "state": order.status,
            "piiHidden": False,
            "documentVersion": "2.1.5",
            "appVersion": "racelab",
            "fingerPrint": _hex(order.order_id, "fingerPrint").lower(),
            "emailTracked": f"{_hex(order.order_id, 'email').lower()}@ct.vtex.com.br",
            "timeZoneCreationDate": order.created_at,
            "timeZoneLastChange": order.last_change,
            "userType": "",
            "creationEnvironment": "STABLE",
            "workflowInstanceId": None,
            "handlingData": None,
            "approvedBy": None,
            "cancelledBy": None,
            "canceledBy": None,
            "callCenterOperator": "",
            "receiptData": {"receiptCollection": []},
            "contextData": {
                "loggedIn": False,
                "hasAccessToOrderFormEnabledByLicenseManager": False,
                "userAgent": "",
                "userId": doc["clientProfileData"].get("userProfileId") or "",
            },
            "salesChannelData": {
                "countryCode": store.get("countryCode"),
                "currencyCode": store.get("currencyCode"),
                "currencyFormatInfo": store.get("currencyFormatInfo"),
                "currencyLocale": store.get("currencyLocale", 0),
                "cultureInfo": None,
                "currencySymbol": store.get("currencySymbol"),
                "timeZone": store.get("timeZone"),
                "id": doc["salesChannel"],
                "name": "Main store",
                "isActive": True,
            },
            "workflowData": {"instances": []},
            "cancellationRequests": None,
        }
    )
    return doc
