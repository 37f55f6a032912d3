"""An order's seed-time profile: the published properties a scenario may set, their defaults, and the merge.

Owns `order_profile` (the published defaults of a plain order merged with a scenario's `document` overrides, each
value keeping the platform's JSON type), the schema of what that merge takes (`document_overrides_schema`,
`override_schema`), the properties an order document takes from its profile (`static_properties`) and the tolerant
reads of what a seed-time override may have put there (`text_or`).

Sources: VTEX's published OpenAPI document of the Orders API (`vtex-orders-api.openapi.json`, GetOrder's 200 schema
and example). `docs/fidelity.md` lists what is modelled, simplified or left out.

Imports: stdlib and `simulator.orders.model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import Order, OrderProfile

__all__ = [
    "COMPUTED_PROPERTIES",
    "DEFAULT_ACCOUNT",
    "OVERRIDABLE_PROPERTIES",
    "document_overrides_schema",
    "merge",
    "order_profile",
    "override_schema",
    "static_properties",
    "text_or",
]

DEFAULT_ACCOUNT = "racelab"

COMPUTED_PROPERTIES = frozenset(
    {
        "orderId",
        "sequence",
        "sellerOrderId",
        "orderGroup",
        "status",
        "statusDescription",
        "value",
        "creationDate",
        "lastChange",
        "isCompleted",
        "allowCancellation",
        "allowEdition",
        "workflowIsInError",
        "authorizedDate",
        "invoicedDate",
        "cancelReason",
        "cancellationData",
        "totals",
        "items",
        "itemMetadata",
        "packageAttachment",
        "changesAttachment",
        "orderFormId",
    }
)
"""Published top-level properties computed from the order's state: a scenario cannot set them."""

OVERRIDABLE_PROPERTIES = frozenset(
    {
        "marketplaceOrderId",
        "marketplaceServicesEndpoint",
        "origin",
        "affiliateId",
        "salesChannel",
        "merchantName",
        "followUpEmail",
        "lastMessage",
        "hostname",
        "roundingError",
        "isCheckedIn",
        "checkedInPickupPointId",
        "sellers",
        "clientPreferencesData",
        "taxData",
        "subscriptionData",
        "marketplace",
        "storePreferencesData",
        "customData",
        "commercialConditionData",
        "openTextField",
        "invoiceData",
        "callCenterOperatorData",
        "paymentData",
        "shippingData",
        "ratesAndBenefitsData",
        "marketingData",
        "giftRegistryData",
        "clientProfileData",
        "marketplaceItems",
        "authorizationPolicyData",
    }
)
"""Published top-level properties (GetOrder's 200 schema) a scenario may set at seed time (`document`)."""


def _defaults(account: str) -> dict[str, Any]:
    """The seed-time properties of a plain order of `account`: a Brazilian store (as the published examples),
    one seller, one credit-card payment, home delivery. Values the platform sends as null for such an order are
    null where the schema allows it; elsewhere a valid empty value."""
    oms = f"http://oms.vtexinternal.com.br/api/oms?an={account}"
    address: dict[str, Any] = {
        "addressType": "residential",
        "receiverName": "Ana Souza",
        "addressId": "a1",
        "versionId": None,
        "entityId": None,
        "postalCode": "22250-040",
        "city": "Rio de Janeiro",
        "state": "RJ",
        "country": "BRA",
        "street": "Praia de Botafogo",
        "number": "300",
        "neighborhood": "Botafogo",
        "complement": "",
        "reference": None,
        "geoCoordinates": [],
    }
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
        "sellers": [
            {
                "id": "1",
                "name": account,
                "logo": "",
                "fulfillmentEndpoint": f"http://fulfillment.vtexcommerce.com.br/api/fulfillment?an={account}",
            }
        ],
        "clientPreferencesData": {"locale": "pt-BR", "optinNewsLetter": False},
        "taxData": None,
        "subscriptionData": None,
        "marketplace": {"baseURL": oms, "isCertified": None, "name": account},
        "storePreferencesData": {
            "countryCode": "BRA",
            "currencyCode": "BRL",
            "currencyLocale": 1046,
            "currencySymbol": "R$",
            "timeZone": "E. South America Standard Time",
            "currencyFormatInfo": {
                "CurrencyDecimalDigits": 2,
                "CurrencyDecimalSeparator": ",",
                "CurrencyGroupSeparator": ".",
                "CurrencyGroupSize": 3,
                "StartsWithCurrencySymbol": True,
            },
        },
        "customData": None,
        "commercialConditionData": None,
        "openTextField": None,
        "invoiceData": None,
        "callCenterOperatorData": None,
        "paymentData": {
            "giftCards": [],
            "transactions": [
                {
                    "isActive": True,
                    "transactionId": None,
                    "merchantName": account.upper(),
                    "payments": [
                        {
                            "id": None,
                            "paymentSystem": "2",
                            "paymentSystemName": "Visa",
                            "value": None,
                            "installments": 1,
                            "referenceValue": None,
                            "cardHolder": None,
                            "cardNumber": None,
                            "firstDigits": "444433",
                            "lastDigits": "1111",
                            "cvv2": None,
                            "expireMonth": None,
                            "expireYear": None,
                            "url": None,
                            "giftCardId": None,
                            "giftCardName": None,
                            "giftCardCaption": None,
                            "redemptionCode": None,
                            "group": "creditCard",
                            "tid": "",
                            "dueDate": None,
                            "connectorResponses": {},
                            "giftCardProvider": None,
                            "giftCardAsDiscount": None,
                            "koinUrl": None,
                            "accountId": None,
                            "parentAccountId": None,
                            "bankIssuedInvoiceIdentificationNumber": None,
                            "bankIssuedInvoiceIdentificationNumberFormatted": None,
                            "bankIssuedInvoiceBarCodeNumber": None,
                            "bankIssuedInvoiceBarCodeType": None,
                            "billingAddress": None,
                            "paymentOrigin": None,
                        }
                    ],
                }
            ],
        },
        "shippingData": {
            "id": "shippingData",
            "address": {**address, "contactId": None},
            "logisticsInfo": {
                "selectedSla": "Normal",
                "deliveryCompany": "Transportadora",
                "shippingEstimate": "5bd",
                "lockTTL": "10d",
                "transitTime": "3d",
                "courierId": "1",
                "warehouseId": "1_1",
                "dockId": "1",
            },
            "trackingHints": None,
            "selectedAddresses": [address],
            "contactInformation": [],
        },
        "ratesAndBenefitsData": {"id": "ratesAndBenefitsData", "rateAndBenefitsIdentifiers": []},
        "marketingData": None,
        "giftRegistryData": None,
        "clientProfileData": {
            "id": "clientProfileData",
            "email": "ana.souza@example.com",
            "firstName": "Ana",
            "lastName": "Souza",
            "documentType": "cpf",
            "document": "11144477735",
            "phone": "+5521999990000",
            "corporateName": None,
            "tradeName": None,
            "corporateDocument": None,
            "stateInscription": None,
            "corporatePhone": None,
            "isCorporate": False,
            "userProfileId": "0f7c5b1e-5d3c-4c89-9a7e-2a6f4c3d2b1a",
            "userProfileVersion": None,
            "customerClass": None,
            "customerCode": None,
        },
        "marketplaceItems": [],
        "authorizationPolicyData": [],
    }


_DEFAULTS = MappingProxyType(_defaults(DEFAULT_ACCOUNT))


_NULL_DEFAULT_KINDS = {
    "callCenterOperatorData": "an object",
    "customData": "an object",
    "giftRegistryData": "an object",
    "invoiceData": "an object",
    "marketingData": "an object",
    "openTextField": "an object",
    "subscriptionData": "an object",
    "taxData": "an object",
    "checkedInPickupPointId": "a string",
    "commercialConditionData": "a string",
    "lastMessage": "a string",
    "merchantName": "a string",
}
"""The published type of each top-level property whose default is null (O: GetOrder's 200 schema)."""
_NESTED_NULL_KINDS = {
    "value": "an integer",
    "manualPrice": "an integer",
    "parentItemIndex": "an integer",
    "shippingPrice": "an integer",
}
"""Below the top level, a property whose default is null is a string, except these numbers (O: GetOrder's schema:
a payment's `value`, an item's prices and index)."""


_FREE: Any = object()
"""No default to follow (a property the defaults do not have, the elements of an empty array): any value."""


def merge(base: Any, patch: Any, path: str, *, kind: str | None = "a string", strict: bool = True) -> Any:
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
            out[key] = merge(base.get(key, _FREE), value, f"{path}.{key}", kind=kind, strict=strict)
        return out
    if isinstance(base, list):
        if not isinstance(patch, list):
            raise ValueError(f"document.{path}: an array, as the platform sends it; got {_json_type(patch)}")
        template = base[0] if base else _FREE
        return [merge(template, item, f"{path}[{n}]", strict=strict) for n, item in enumerate(patch)]
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
    (`merge`: objects merge key by key, arrays and scalars replace, every value keeps the default's JSON type).

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
        document[key] = merge(defaults[key], value, key, kind=_NULL_DEFAULT_KINDS.get(key, "a string"))
    return OrderProfile(document=MappingProxyType(document))


def static_properties(order: Order) -> Mapping[str, Any]:
    """The properties `order`'s document takes from its profile as they are: the defaults, the seeded overrides
    merged over them. Shared with every rendering: read it, do not change it."""
    doc = order.profile.document
    return {**_DEFAULTS, **doc} if doc else _DEFAULTS


_SCHEMA_TYPES = {
    "an object": "object",
    "an array": "array",
    "a string": "string",
    "a number": "number",
    "an integer": "integer",
    "a boolean": "boolean",
}


def override_schema(default: Any, kind: str | None = None) -> dict[str, Any]:
    """The JSON Schema of what `merge` takes over `default` (with `kind`, for a null default at the top level)."""
    if default is None:
        return {"type": [_SCHEMA_TYPES[kind or "a string"], "null"]}
    if isinstance(default, Mapping):
        return {
            "type": "object",
            "properties": {k: override_schema(v, _NESTED_NULL_KINDS.get(k)) for k, v in default.items()},
        }
    if isinstance(default, list):
        return {"type": "array", "items": override_schema(default[0]) if default else {}}
    return {"type": _SCHEMA_TYPES[_json_type(default)]}


def document_overrides_schema() -> dict[str, Any]:
    """The schema of `POST /_sim/orders`' `document`: the overridable properties, each as `merge` takes it."""
    return {
        "type": "object",
        "properties": {
            k: override_schema(_DEFAULTS[k], _NULL_DEFAULT_KINDS.get(k)) for k in sorted(OVERRIDABLE_PROPERTIES)
        },
        "additionalProperties": False,
    }


def text_or(value: Any, default: str) -> str:
    """`value` if it is a string, else `default`: a seed-time override may put any JSON value in a property that a
    document reads into (the document must answer, not fail)."""
    return value if isinstance(value, str) else default
