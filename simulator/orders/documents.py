"""The Orders API's documents as the reference spells them (camelCase, cents), built from domain records.

Owns the order document (`GET /api/oms/pvt/orders/{orderId}` and the PII version's `GET /api/orders/pvt/document/
{orderId}`), the order list (`GET /api/oms/pvt/orders`), an order's seed-time profile (`order_profile`: the
published defaults merged with a scenario's overrides) and the Change documents.

Sources: VTEX's published OpenAPI documents of the Orders API (`vtex-orders-api.openapi.json`, GetOrder and
ListOrders; `vtex-orders-api-pii.openapi.json`, GetOrder2; synced from the public repository vtex/openapi-schemas)
and the help center (repository vtexdocs/help-center-content). Each fact below names its place; `docs/fidelity.md`
lists what is modelled, simplified or left out.

Imports: stdlib and `simulator.orders.model`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from .model import (
    FINAL,
    AppliedChange,
    AppliedItem,
    ChangeItem,
    ChangeRequest,
    ChangeStatus,
    Item,
    Order,
    OrderProfile,
    Package,
)

__all__ = [
    "COMPUTED_PROPERTIES",
    "LIST_ORDER_FIELDS",
    "OVERRIDABLE_PROPERTIES",
    "STATUS_DESCRIPTIONS",
    "ChangeContext",
    "ListQuery",
    "change_document",
    "change_history",
    "change_summary",
    "check_item_overrides",
    "document_overrides_schema",
    "item_overrides_schema",
    "list_orders",
    "order_document",
    "order_document_pii",
    "order_profile",
    "package_document",
]

DEFAULT_ACCOUNT = "racelab"

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

COMPUTED_PROPERTIES = frozenset({
    "orderId", "sequence", "sellerOrderId", "orderGroup", "status", "statusDescription", "value", "creationDate",
    "lastChange", "isCompleted", "allowCancellation", "allowEdition", "workflowIsInError", "authorizedDate",
    "invoicedDate", "cancelReason", "cancellationData", "totals", "items", "itemMetadata", "packageAttachment",
    "changesAttachment", "orderFormId",
})  # fmt: skip
"""Published top-level properties computed from the order's state: a scenario cannot set them."""

OVERRIDABLE_PROPERTIES = frozenset({
    "marketplaceOrderId", "marketplaceServicesEndpoint", "origin", "affiliateId", "salesChannel", "merchantName",
    "followUpEmail", "lastMessage", "hostname", "roundingError", "isCheckedIn", "checkedInPickupPointId", "sellers",
    "clientPreferencesData", "taxData", "subscriptionData", "marketplace", "storePreferencesData", "customData",
    "commercialConditionData", "openTextField", "invoiceData", "callCenterOperatorData", "paymentData",
    "shippingData", "ratesAndBenefitsData", "marketingData", "giftRegistryData", "clientProfileData",
    "marketplaceItems", "authorizationPolicyData",
})  # fmt: skip
"""Published top-level properties (GetOrder's 200 schema) a scenario may set at seed time (`document`)."""

_PICKUP_NONE = MappingProxyType({  # a delivery (not pickup) line, as the Userorderdetails example shows it
    "additionalInfo": None, "address": None, "dockId": None, "friendlyName": None, "isPickupStore": False,
})  # fmt: skip


def _defaults(account: str) -> dict[str, Any]:
    """The seed-time properties of a plain order of `account`: a Brazilian store (as the published examples),
    one seller, one credit-card payment, home delivery. Values the platform sends as null for such an order are
    null where the schema allows it; elsewhere a valid empty value."""
    oms = f"http://oms.vtexinternal.com.br/api/oms?an={account}"
    address: dict[str, Any] = {
        "addressType": "residential", "receiverName": "Ana Souza", "addressId": "a1", "versionId": None,
        "entityId": None, "postalCode": "22250-040", "city": "Rio de Janeiro", "state": "RJ", "country": "BRA",
        "street": "Praia de Botafogo", "number": "300", "neighborhood": "Botafogo", "complement": "",
        "reference": None, "geoCoordinates": [],
    }  # fmt: skip
    return {
        "marketplaceOrderId": "",
        "marketplaceServicesEndpoint": oms,
        "origin": "Marketplace",
        "affiliateId": "",
        "salesChannel": "1",
        "merchantName": None,
        "followUpEmail": "",
        "lastMessage": None,
        "hostname": account,
        "roundingError": 0,
        "isCheckedIn": False,
        "checkedInPickupPointId": None,
        "sellers": [{"id": "1", "name": account, "logo": "",
                     "fulfillmentEndpoint": f"http://fulfillment.vtexcommerce.com.br/api/fulfillment?an={account}"}],
        "clientPreferencesData": {"locale": "pt-BR", "optinNewsLetter": False},
        "taxData": None,
        "subscriptionData": None,
        "marketplace": {"baseURL": oms, "isCertified": None, "name": account},
        "storePreferencesData": {
            "countryCode": "BRA", "currencyCode": "BRL", "currencyLocale": 1046, "currencySymbol": "R$",
            "timeZone": "E. South America Standard Time",
            "currencyFormatInfo": {"CurrencyDecimalDigits": 2, "CurrencyDecimalSeparator": ",",
                                   "CurrencyGroupSeparator": ".", "CurrencyGroupSize": 3,
                                   "StartsWithCurrencySymbol": True},
        },
        "customData": None,
        "commercialConditionData": None,
        "openTextField": None,
        "invoiceData": None,
        "callCenterOperatorData": None,
        "paymentData": {"giftCards": [], "transactions": [{
            "isActive": True, "transactionId": None, "merchantName": account.upper(),
            "payments": [{
                "id": None, "paymentSystem": "2", "paymentSystemName": "Visa", "value": None, "installments": 1,
                "referenceValue": None, "cardHolder": None, "cardNumber": None, "firstDigits": "444433",
                "lastDigits": "1111", "cvv2": None, "expireMonth": None, "expireYear": None, "url": None,
                "giftCardId": None, "giftCardName": None, "giftCardCaption": None, "redemptionCode": None,
                "group": "creditCard", "tid": "", "dueDate": None, "connectorResponses": {},
                "giftCardProvider": None, "giftCardAsDiscount": None, "koinUrl": None, "accountId": None,
                "parentAccountId": None, "bankIssuedInvoiceIdentificationNumber": None,
                "bankIssuedInvoiceIdentificationNumberFormatted": None, "bankIssuedInvoiceBarCodeNumber": None,
                "bankIssuedInvoiceBarCodeType": None, "billingAddress": None, "paymentOrigin": None,
            }],
        }]},
        "shippingData": {
            "id": "shippingData",
            "address": {**address, "contactId": None},
            "logisticsInfo": {"selectedSla": "Normal", "deliveryCompany": "Transportadora", "shippingEstimate": "5bd",
                              "lockTTL": "10d", "transitTime": "3d", "courierId": "1", "warehouseId": "1_1",
                              "dockId": "1"},
            "trackingHints": None,
            "selectedAddresses": [address],
            "contactInformation": [],
        },
        "ratesAndBenefitsData": {"id": "ratesAndBenefitsData", "rateAndBenefitsIdentifiers": []},
        "marketingData": None,
        "giftRegistryData": None,
        "clientProfileData": {
            "id": "clientProfileData", "email": "ana.souza@example.com", "firstName": "Ana", "lastName": "Souza",
            "documentType": "cpf", "document": "11144477735", "phone": "+5521999990000", "corporateName": None,
            "tradeName": None, "corporateDocument": None, "stateInscription": None, "corporatePhone": None,
            "isCorporate": False, "userProfileId": "0f7c5b1e-5d3c-4c89-9a7e-2a6f4c3d2b1a", "userProfileVersion": None,
            "customerClass": None, "customerCode": None,
        },
        "marketplaceItems": [],
        "authorizationPolicyData": [],
    }  # fmt: skip


_DEFAULTS = MappingProxyType(_defaults(DEFAULT_ACCOUNT))


_NULL_DEFAULT_KINDS = {
    "callCenterOperatorData": "an object", "customData": "an object", "giftRegistryData": "an object",
    "invoiceData": "an object", "marketingData": "an object", "openTextField": "an object",
    "subscriptionData": "an object", "taxData": "an object", "checkedInPickupPointId": "a string",
    "commercialConditionData": "a string", "lastMessage": "a string", "merchantName": "a string",
}  # fmt: skip
"""The published type of each top-level property whose default is null (O: GetOrder's 200 schema)."""
_NESTED_NULL_KINDS = {"value": "an integer", "manualPrice": "an integer", "parentItemIndex": "an integer",
                      "shippingPrice": "an integer"}  # fmt: skip
"""Below the top level, a property whose default is null is a string, except these numbers (O: GetOrder's schema:
a payment's `value`, an item's prices and index)."""


_FREE: Any = object()
"""No default to follow (a property the defaults do not have, the elements of an empty array): any value."""


def _merge(base: Any, patch: Any, path: str, *, kind: str | None = "a string", strict: bool = True) -> Any:
    """`patch` deep-merged over `base`, keeping the platform's JSON type (the document's renderers, its published
    schema and the clients that read it rely on it): objects merge key by key; an array replaces the default's, each
    object in it merged over the default's first element; a string, number or boolean replaces one of its kind.
    Where the default is null: `kind` or null (below the top level, where the published type is not known here, a
    string: most such properties are). A property the defaults do not have takes any value. `strict=False` merges
    without judging (a rendering: what was seeded was judged when it was seeded, against the same defaults).

    Raises:
        ValueError: a value of another type than the platform's, named by its path.
    """
    if base is _FREE or (not strict and not (isinstance(base, Mapping) and isinstance(patch, Mapping))):
        return patch
    if base is None:
        if patch is not None and not (kind and _same_kind(kind, patch)):
            raise ValueError(f"document.{path}: {kind or 'null'}, as the platform sends it; got {_json_type(patch)}")
        return patch
    if isinstance(base, Mapping):
        if not isinstance(patch, Mapping):
            raise ValueError(f"document.{path}: an object, as the platform sends it; got {_json_type(patch)}")
        out = dict(base)
        for key, value in patch.items():
            kind = _NESTED_NULL_KINDS.get(key, "a string")
            out[key] = _merge(base.get(key, _FREE), value, f"{path}.{key}", kind=kind, strict=strict)
        return out
    if isinstance(base, list):
        if not isinstance(patch, list):
            raise ValueError(f"document.{path}: an array, as the platform sends it; got {_json_type(patch)}")
        template = base[0] if base else _FREE
        return [_merge(template, item, f"{path}[{n}]", strict=strict) for n, item in enumerate(patch)]
    if not _same_kind(_json_type(base), patch):
        raise ValueError(f"document.{path}: {_json_type(base)}, as the platform sends it; got {_json_type(patch)}")
    return patch


def _same_kind(kind: str, value: Any) -> bool:
    """`value` is of JSON type `kind` (an integral number counts as an integer, as in JSON Schema)."""
    got = _json_type(value)
    if kind == "a number":
        return got in ("a number", "an integer")
    if kind == "an integer":
        return got == "an integer" or (got == "a number" and float(value).is_integer())
    return got == kind


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def order_profile(overrides: Mapping[str, Any] | None = None, *, account: str = DEFAULT_ACCOUNT) -> OrderProfile:
    """An order's seed-time profile: `account`'s defaults, each property a scenario gives deep-merged over them
    (`_merge`: objects merge key by key, arrays and scalars replace, every value keeps the default's JSON type).

        profile = order_profile({"clientProfileData": {"email": "qa@example.com"}}, account="mystore")

    Raises:
        ValueError: a property that is not an overridable published top-level property of the order, or a value of
            another JSON type than the platform's.
    """
    overrides = overrides or {}
    unknown = sorted(set(overrides) - OVERRIDABLE_PROPERTIES)
    if unknown:
        computed = [k for k in unknown if k in COMPUTED_PROPERTIES]
        other = [k for k in unknown if k not in COMPUTED_PROPERTIES]
        parts = []
        if computed:
            parts.append(f"{', '.join(computed)} computed from the order's state")
        if other:
            parts.append(f"{', '.join(other)} not a published top-level property of the order")
        raise ValueError(f"document: {'; '.join(parts)}; settable: {', '.join(sorted(OVERRIDABLE_PROPERTIES))}")
    defaults = _DEFAULTS if account == DEFAULT_ACCOUNT else _defaults(account)
    document = {} if account == DEFAULT_ACCOUNT else dict(defaults)  # the default account's: at render time
    for key, value in overrides.items():
        document[key] = _merge(defaults[key], value, key, kind=_NULL_DEFAULT_KINDS.get(key, "a string"))
    return OrderProfile(document=MappingProxyType(document))


def _static(order: Order) -> Mapping[str, Any]:
    doc = order.profile.document
    return {**_DEFAULTS, **doc} if doc else _DEFAULTS


def _hex(*parts: str) -> str:
    """A stable id for a generated identifier (transaction, payment, orderForm): the same order, the same id."""
    return hashlib.md5("/".join(parts).encode(), usedforsecurity=False).hexdigest().upper()


# -- items ---------------------------------------------------------------------------------------------------


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _item(
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
    return _merge(out, i.extra, "items[]", strict=strict) if i.extra else out


_SCHEMA_TYPES = {"an object": "object", "an array": "array", "a string": "string", "a number": "number",
                 "an integer": "integer", "a boolean": "boolean"}  # fmt: skip


def _override_schema(default: Any, kind: str | None = None) -> dict[str, Any]:
    """The JSON Schema of what `_merge` takes over `default` (with `kind`, for a null default at the top level)."""
    if default is None:
        return {"type": [_SCHEMA_TYPES[kind or "a string"], "null"]}
    if isinstance(default, Mapping):
        return {
            "type": "object",
            "properties": {k: _override_schema(v, _NESTED_NULL_KINDS.get(k)) for k, v in default.items()},
        }
    if isinstance(default, list):
        return {"type": "array", "items": _override_schema(default[0]) if default else {}}
    return {"type": _SCHEMA_TYPES[_json_type(default)]}


def document_overrides_schema() -> dict[str, Any]:
    """The schema of `POST /_sim/orders`' `document`: the overridable properties, each as `_merge` takes it."""
    return {
        "type": "object",
        "properties": {
            k: _override_schema(_DEFAULTS[k], _NULL_DEFAULT_KINDS.get(k)) for k in sorted(OVERRIDABLE_PROPERTIES)
        },
        "additionalProperties": False,
    }


def item_overrides_schema() -> dict[str, Any]:
    """The schema of a seeded item's `document`: an item's published properties, each as `_merge` takes it."""
    sample = Item(id="sku", unique_id="sku-0", name="sku", price=0, quantity=1, list_price=0)
    return _override_schema(_item(sample))


def check_item_overrides(item: Item) -> None:
    """Render `item` once, so that its seed-time `document` overrides are judged as the order's are (`_merge`).

    Raises:
        ValueError: an override of another JSON type than the platform's.
    """
    _item(item, strict=True)


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    return {"Id": item["id"], "Seller": item["seller"], "Name": item["name"], "SkuName": item["name"],
            "ProductId": item["productId"], "RefId": item["refId"], "Ean": item["ean"] or "",
            "ImageUrl": item["imageUrl"], "DetailUrl": item["detailUrl"], "AssemblyOptions": []}  # fmt: skip


def _logistics(order: Order, items: Sequence[dict[str, Any]], shipping: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`shippingData.logisticsInfo`: one entry per item (its `itemIndex`); the shipping total split over the lines,
    the first carrying the remainder, so that the entries add up to the `Shipping` total."""
    sla = shipping.get("logisticsInfo") or {}
    name = sla.get("selectedSla", "Normal")
    company = sla.get("deliveryCompany", "Transportadora")
    estimate = _text(sla.get("shippingEstimate"), "5bd")
    lock, transit = sla.get("lockTTL", "10d"), sla.get("transitTime", "3d")
    address_id = (shipping.get("address") or {}).get("addressId")
    estimate_date = _later(order.created_at, days=int("".join(c for c in estimate if c.isdigit()) or 0))
    n = len(items)
    share, rest = divmod(order.shipping, n) if n else (0, 0)
    out = []
    for index, item in enumerate(items):
        price = share + (rest if index == 0 else 0)
        out.append({
            "itemIndex": index, "itemId": item["id"], "selectedSla": name, "lockTTL": lock, "price": price,
            "listPrice": price, "sellingPrice": price, "deliveryWindow": None, "deliveryCompany": company,
            "shippingEstimate": estimate, "shippingEstimateDate": estimate_date,
            "slas": [{"id": name, "name": name, "shippingEstimate": estimate, "deliveryWindow": None, "price": price,
                      "deliveryChannel": "delivery", "pickupStoreInfo": dict(_PICKUP_NONE), "polygonName": None,
                      "lockTTL": lock, "pickupPointId": "", "transitTime": transit, "pickupDistance": 0.0}],
            "shipsTo": [(shipping.get("address") or {}).get("country", "BRA")],
            "deliveryIds": [{"courierId": sla.get("courierId", "1"), "courierName": company,
                             "dockId": sla.get("dockId", "1"), "quantity": item["quantity"],
                             "warehouseId": sla.get("warehouseId", "1_1"), "accountCarrierName": company,
                             "kitItemDetails": []}],
            "deliveryChannels": [{"id": "delivery", "stockBalance": 0}], "deliveryChannel": "delivery",
            "selectedDeliveryChannel": "delivery", "pickupStoreInfo": dict(_PICKUP_NONE), "addressId": address_id,
            "versionId": None, "entityId": None, "polygonName": None, "pickupPointId": None, "transitTime": transit,
        })  # fmt: skip
    return out


def _later(created: str, *, days: int) -> str:
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
        entry: dict[str, Any] = {"itemIndex": it.item_index, "quantity": it.quantity, "price": it.price,
                                 "unitMultiplier": multipliers[it.item_index]
                                 if 0 <= it.item_index < len(multipliers) else 1.0}  # fmt: skip
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
    static = _static(order)
    account = static["hostname"]
    sellers = static.get("sellers") or ()
    seller = sellers[0]["id"] if sellers and isinstance(sellers[0], Mapping) and "id" in sellers[0] else "1"
    order_id = order.order_id
    valid_until = _later(order.created_at, days=365)  # checkout's price validity; the examples show a date
    items = [_item(i, order_id=order_id, account=account, seller=seller, valid_until=valid_until) for i in order.items]
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
    doc.update({
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
        "contextData": {"loggedIn": False, "hasAccessToOrderFormEnabledByLicenseManager": False, "userAgent": "",
                        "userId": doc["clientProfileData"].get("userProfileId") or ""},
        "salesChannelData": {"countryCode": store.get("countryCode"), "currencyCode": store.get("currencyCode"),
                             "currencyFormatInfo": store.get("currencyFormatInfo"),
                             "currencyLocale": store.get("currencyLocale", 0), "cultureInfo": None,
                             "currencySymbol": store.get("currencySymbol"), "timeZone": store.get("timeZone"),
                             "id": doc["salesChannel"], "name": "Main store", "isActive": True},
        "workflowData": {"instances": []},
        "cancellationRequests": None,
    })  # fmt: skip
    return doc


# -- the order list ------------------------------------------------------------------------------------------

LIST_ORDER_FIELDS = ("creationDate", "orderId", "items", "totalValue", "origin")
"""ListOrders `orderBy` fields (the parameter's description: `OrderField` values accepted)."""


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A ListOrders query, parsed (the HTTP layer turns the query string into one).

    query = ListQuery(statuses=frozenset({"handling"}), order_by=("creationDate", True), page=1, per_page=15)
    """

    statuses: frozenset[str] | None = None
    created: tuple[datetime, datetime] | None = None
    invoiced: tuple[datetime, datetime] | None = None
    authorized: tuple[datetime, datetime] | None = None
    text: str | None = None
    order_by: tuple[str, bool] = ("creationDate", True)
    """(field, descending)."""
    page: int = 1
    per_page: int = 15


def _at(value: Any) -> datetime | None:
    """An order's date as an aware datetime (UTC when it names no zone); None when it is not a date (a seed-time
    override may put anything there)."""
    if not value or not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _within(value: str | None, span: tuple[datetime, datetime] | None) -> bool:
    if span is None:
        return True
    at = _at(value)
    return at is not None and span[0] <= at <= span[1]


def _obj(value: Any) -> Mapping[str, Any]:
    """`value` if it is an object, else an empty one: a seed-time override may put any JSON value in a property
    the order list reads into (the list must answer, not fail)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _client_name(profile: Mapping[str, Any]) -> str:
    first, last = profile.get("firstName"), profile.get("lastName")
    return f"{_text(first, '')} {_text(last, '')}".strip()


def _matches_text(order: Order, static: Mapping[str, Any], text: str) -> bool:
    """`q`: order id, client email, document or name (the parameter's description), case-insensitively."""
    client = _obj(static.get("clientProfileData"))
    needle = text.casefold()
    fields = (order.order_id, client.get("email"), client.get("document"), _client_name(client))
    return any(needle in str(f).casefold() for f in fields if f)


def _list_entry(order: Order, static: Mapping[str, Any]) -> dict[str, Any]:
    """One `list[]` entry (ListOrders 200 schema `List`: every property it requires)."""
    client = _obj(static.get("clientProfileData"))
    payments = [_obj(p) for t in _list(_obj(static.get("paymentData")).get("transactions"))
                for p in _list(_obj(t).get("payments"))]  # fmt: skip
    authorized = None if order.status in ("order-created", "payment-pending") else order.created_at
    estimate = _text(_obj(_obj(static.get("shippingData")).get("logisticsInfo")).get("shippingEstimate"), "5bd")
    return {
        "orderId": order.order_id,
        "creationDate": order.created_at,
        "clientName": _client_name(client),
        "items": None,  # "since October 3rd, 2018, this endpoint does not return the `items` property"
        "totalValue": order.value,
        "paymentNames": ", ".join(str(p.get("paymentSystemName")) for p in payments if p.get("paymentSystemName")),
        "status": order.status,
        "statusDescription": STATUS_DESCRIPTIONS.get(order.status, ""),
        "marketPlaceOrderId": _text(static.get("marketplaceOrderId"), "") or None,
        "sequence": str(order.sequence),
        "salesChannel": _text(static.get("salesChannel"), "1"),
        "affiliateId": _text(static.get("affiliateId"), ""),
        "origin": _text(static.get("origin"), "Marketplace"),
        "workflowInErrorState": False,
        "workflowInRetry": False,
        "lastMessageUnread": None,
        "ShippingEstimatedDate": _later(order.created_at, days=int("".join(c for c in estimate if c.isdigit()) or 0)),
        "ShippingEstimatedDateMax": None,
        "ShippingEstimatedDateMin": None,
        "orderIsComplete": True,
        "listId": None,
        "listType": None,
        "authorizedDate": authorized,
        "callCenterOperatorName": None,
        "totalItems": sum(i.quantity for i in order.items),
        "currencyCode": _text(_obj(static.get("storePreferencesData")).get("currencyCode"), "BRL"),
    }


def _stats(values: Sequence[int]) -> dict[str, Any]:
    """Solr-style field statistics, as the ListOrders example shows them (sample standard deviation)."""
    n = len(values)
    total = sum(values)
    squares = sum(v * v for v in values)
    mean = total / n if n else 0.0
    var = (squares - n * mean * mean) / (n - 1) if n > 1 else 0.0
    return {"Count": n, "Max": max(values, default=0), "Mean": mean, "Min": min(values, default=0), "Missing": 0,
            "StdDev": math.sqrt(max(var, 0.0)), "Sum": total, "SumOfSquares": squares, "Facets": None}  # fmt: skip


def _faceted(rows: Sequence[dict[str, Any]], field: str) -> dict[str, Any]:
    stats = _stats([r[field] for r in rows])
    origins = {"Fulfillment": [], "Marketplace": []} | {r["origin"]: [] for r in rows}
    currencies: dict[str, list[int]] = {"BRL": []} | {r["currencyCode"]: [] for r in rows}
    for r in rows:
        origins[r["origin"]].append(r[field])
        currencies[r["currencyCode"]].append(r[field])
    stats["Facets"] = {"origin": {k: _stats(v) for k, v in origins.items()},
                       "currencyCode": {k: _stats(v) for k, v in currencies.items()}}  # fmt: skip
    return stats


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "creationDate": lambda r: (_at(r["creationDate"]) or _EARLIEST, r["orderId"]),
    "orderId": lambda r: r["orderId"],
    "items": lambda r: (r["totalItems"], r["orderId"]),
    "totalValue": lambda r: (r["totalValue"], r["orderId"]),
    "origin": lambda r: (r["origin"], r["orderId"]),
}


def list_orders(orders: Iterable[Order], query: ListQuery) -> dict[str, Any]:
    """`GET /api/oms/pvt/orders` (ListOrders): the orders matching every filter given, sorted, one page of them,
    with `paging` and `stats` over all that match (ListOrders 200 schema: `list`, `facets`, `paging`, `stats`).

    Filters (the parameters' descriptions): `f_status` (any of the statuses), `f_creationDate` /
    `f_invoicedDate` / `f_authorizedDate` (a closed range), `q` (order id, client email, document or name)."""
    rows = []
    for order in orders:
        if query.statuses is not None and order.status not in query.statuses:
            continue
        static = _static(order)
        authorized = None if order.status in ("order-created", "payment-pending") else order.created_at
        if not (_within(order.created_at, query.created) and _within(order.invoiced_date, query.invoiced)
                and _within(authorized, query.authorized)):  # fmt: skip
            continue
        if query.text and not _matches_text(order, static, query.text):
            continue
        rows.append(_list_entry(order, static))
    field, descending = query.order_by
    rows.sort(key=_SORT_KEYS[field], reverse=descending)
    total = len(rows)
    start = (query.page - 1) * query.per_page
    return {
        "list": rows[start : start + query.per_page],
        "facets": [],
        "paging": {
            "total": total,
            "pages": math.ceil(total / query.per_page),
            "currentPage": query.page,
            "perPage": query.per_page,
        },
        "stats": {"stats": {"totalValue": _faceted(rows, "totalValue"), "totalItems": _faceted(rows, "totalItems")}},
    }


# -- Changes -------------------------------------------------------------------------------------------------


CHANGE_COMPONENT = "MarketplaceComponent"
"""`origin.component` of a Change, as the official GetChangeDetail example shows it."""
_NO_PAYMENT: Mapping[str, Any] = MappingProxyType({"transactions": []})
_NO_LOGISTICS: Mapping[str, Any] = MappingProxyType({"logisticsInfo": []})


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What a Change's document draws on besides the request: the order's lines (for the names, prices and catalog
    fields of replaced items), the catalog (for new SKUs) and the account's Change settings."""

    order: Order | None
    catalog: Mapping[str, Item]
    payment_systems: Sequence[str]

    def line(self, sku: str) -> Item | None:
        if self.order is not None:
            for line in self.order.items:
                if line.id == sku:
                    return line
        return self.catalog.get(sku)


def change_document(request: ChangeRequest, context: ChangeContext) -> dict[str, Any]:
    """A Change as `GET .../changes/{changeRequestId}` (and the create, preview, cancel answers) show it: the request's
    state, plus what the platform adds (official GetChangeDetail): `origin.component`, `settings`, `replace` always
    a list, each side with `paymentData`/`shippingData` and its items enriched from the order or the catalog (the
    `from` side in brief, the `to` side as full order items)."""
    out = request.to_json()
    out["origin"]["component"] = CHANGE_COMPONENT
    out["settings"] = {"customPaymentSystemsAllowed": list(context.payment_systems)}
    # A Change just created has not priced its items yet (official Createchange example: `priceDefinition: null`);
    # the details, history and preview show the price definition (their examples).
    priced = not (request.status is ChangeStatus.PREPARING and request.in_progress)
    out["replace"] = [_replacement(frm, to, context, priced=priced) for frm, to in request.change.replace or ()]
    return out


def _replacement(
    frm: Sequence[ChangeItem], to: Sequence[ChangeItem], context: ChangeContext, *, priced: bool
) -> dict[str, Any]:
    return {
        "from": {
            "paymentData": dict(_NO_PAYMENT),
            "items": [_replaced_from(i, context) for i in frm],
            "shippingData": dict(_NO_LOGISTICS),
        },
        "to": {
            "items": [_replaced_to(i, context, priced=priced) for i in to],
            "paymentData": dict(_NO_PAYMENT),
            "receiptData": None,
            "shippingData": dict(_NO_LOGISTICS),
        },
    }


def _replaced_from(item: ChangeItem, context: ChangeContext) -> dict[str, Any]:
    line = context.line(item.id)
    price = item.price if item.price is not None else (line.price if line else None)
    rendered = _item(line) if line else {}
    return {
        "id": item.id,
        "quantity": item.quantity,
        "price": price,
        "measurementUnit": item.measurement_unit or (line.measurement_unit if line else None),
        "unitMultiplier": _number(item.unit_multiplier or (line.unit_multiplier if line else 1.0)),
        "sellingPrice": price,
        "name": line.name if line else None,
        "detailUrl": rendered.get("detailUrl"),
        "imageUrl": rendered.get("imageUrl"),
    }


_CHANGE_ITEM_EXTRAS = {
    "productRefId": "", "skuName": None, "modalType": None, "manualPriceAppliedBy": None, "productCategoryIds": "/1/",
    "productCategories": {"1": "Category"}, "availability": None, "manufacturerCode": None,
}  # fmt: skip
"""The `to` items' properties the order document's items do not carry (values of the official example)."""


def _replaced_to(item: ChangeItem, context: ChangeContext, *, priced: bool) -> dict[str, Any]:
    line = context.line(item.id)
    price = item.price if item.price is not None else (line.price if line else 0)
    base = line or Item(id=item.id, unique_id="", name=item.id, price=price, quantity=0, list_price=price)
    rendered = _item(base)
    rendered.update(_CHANGE_ITEM_EXTRAS)
    rendered.update(
        quantity=item.quantity,
        price=price,
        sellingPrice=price,
        measurementUnit=item.measurement_unit or base.measurement_unit,
        unitMultiplier=_number(item.unit_multiplier or base.unit_multiplier),
        sellerChain=[rendered.get("seller") or "1"],
        skuName=base.name,
    )
    if item.unique_id:
        rendered["uniqueId"] = item.unique_id
    if not priced:
        rendered["priceDefinition"] = None
    info = dict(rendered.get("additionalInfo") or {})
    info["dimension"] = None  # the Change answer types it as a string (the example: null), unlike the order's object
    rendered["additionalInfo"] = {k: info.get(k) for k in _CHANGE_ADDITIONAL_INFO}
    return rendered


_CHANGE_ADDITIONAL_INFO = (
    "dimension", "brandName", "brandId", "offeringInfo", "offeringType", "offeringTypeId", "categoriesIds",
    "productClusterId", "commercialConditionId",
)  # fmt: skip


def change_history(changes: Iterable[ChangeRequest], context: ChangeContext) -> dict[str, Any]:
    """`GET .../changes`: every request (as `change_document` renders it), and the actions of those applied."""
    requests = list(changes)
    actions = []
    for c in requests:
        if c.status is not ChangeStatus.DONE:
            continue
        for kind, items in (("add", c.change.add), ("remove", c.change.remove)):
            if items:
                actions.append({"requestId": c.request_id, "type": kind, "items": [i.to_json() for i in items]})
        for frm, to in c.change.replace or ():
            actions.append({"requestId": c.request_id, "type": "replace",
                            "from": [i.to_json() for i in frm], "to": [i.to_json() for i in to]})  # fmt: skip
    return {"requests": [change_document(c, context) for c in requests], "actions": actions}


def change_summary(order: Order, changes: Iterable[ChangeRequest]) -> dict[str, Any]:
    """`GET /api/orders/pvt/document/{orderId}/change-summary`: what the applied Changes add up to."""
    done = [c for c in changes if c.status is ChangeStatus.DONE]
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    replaced: list[dict[str, Any]] = []
    for c in done:
        added.extend(i.to_json() for i in c.change.add or ())
        removed.extend(i.to_json() for i in c.change.remove or ())
        for frm, to in c.change.replace or ():
            replaced.append({"from": [i.to_json() for i in frm], "to": [i.to_json() for i in to]})
    totals: dict[str, int] = {}
    for c in done:
        for t in c.totals:
            totals[t["id"]] = totals.get(t["id"], 0) + t["value"]
    return {
        "original": [_item(i) for i in order.original_items],
        "added": added,
        "removed": removed,
        "replaced": replaced,
        "manualDiscountValueAggregated": sum(c.change.manual_discount for c in done),
        "manualIncrementValueAggregated": sum(c.change.manual_increment for c in done),
        "totalChangeValueAggregated": sum(c.total_change_value for c in done),
        "totals": [{"id": k, "value": v} for k, v in totals.items()],
        "lastChange": done[-1].date if done else None,
    }
