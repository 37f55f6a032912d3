"""The Orders API's Change documents as the reference spells them (camelCase, cents).

Owns a Change as its routes answer it (`change_document`: create, details, preview, cancel), the Change history and
the change summary, and `ChangeContext` (what a Change's document draws on besides the request).

Sources: VTEX's published OpenAPI document of order modifications (the official GetChangeDetail, Createchange and
change history examples) and the help center. `docs/fidelity.md` lists what is modelled, simplified or left out.

Imports: stdlib, `simulator.orders.model` and `.orders.documents`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .documents import item_document
from .model import ChangeItem, ChangeRequest, ChangeStatus, Item, Order

__all__ = ["CHANGE_COMPONENT", "ChangeContext", "change_document", "change_history", "change_summary"]

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


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _replaced_from(item: ChangeItem, context: ChangeContext) -> dict[str, Any]:
    line = context.line(item.id)
    price = item.price if item.price is not None else (line.price if line else None)
    rendered = item_document(line) if line else {}
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
    "productRefId": "",
    "skuName": None,
    "modalType": None,
    "manualPriceAppliedBy": None,
    "productCategoryIds": "/1/",
    "productCategories": {"1": "Category"},
    "availability": None,
    "manufacturerCode": None,
}
"""The `to` items' properties the order document's items do not carry (values of the official example)."""


def _replaced_to(item: ChangeItem, context: ChangeContext, *, priced: bool) -> dict[str, Any]:
    line = context.line(item.id)
    price = item.price if item.price is not None else (line.price if line else 0)
    base = line or Item(id=item.id, unique_id="", name=item.id, price=price, quantity=0, list_price=price)
    rendered = item_document(base)
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
    "dimension",
    "brandName",
    "brandId",
    "offeringInfo",
    "offeringType",
    "offeringTypeId",
    "categoriesIds",
    "productClusterId",
    "commercialConditionId",
)


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
            actions.append(
                {
                    "requestId": c.request_id,
                    "type": "replace",
                    "from": [i.to_json() for i in frm],
                    "to": [i.to_json() for i in to],
                }
            )
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
        "original": [item_document(i) for i in order.original_items],
        "added": added,
        "removed": removed,
        "replaced": replaced,
        "manualDiscountValueAggregated": sum(c.change.manual_discount for c in done),
        "manualIncrementValueAggregated": sum(c.change.manual_increment for c in done),
        "totalChangeValueAggregated": sum(c.total_change_value for c in done),
        "totals": [{"id": k, "value": v} for k, v in totals.items()],
        "lastChange": done[-1].date if done else None,
    }
