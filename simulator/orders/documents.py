"""The Orders API's documents as the reference spells them (camelCase, cents), built from domain records.

Imports: stdlib and `simulator.orders.model`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .model import FINAL, ChangeRequest, ChangeStatus, Item, Order, Package

__all__ = ["change_history", "change_summary", "order_document", "package_document"]

_TOTAL_NAMES = {
    "Items": "Items Total",
    "Discounts": "Discounts Total",
    "Shipping": "Shipping Total",
    "Tax": "Tax Total",
    "Change": "Change Total",
}


def _item(i: Item) -> dict[str, Any]:
    return {
        "uniqueId": i.unique_id,
        "id": i.id,
        "productId": i.id,
        "name": i.name,
        "quantity": i.quantity,
        "price": i.price,
        "listPrice": i.list_price,
        "sellingPrice": i.price,
        "unitMultiplier": i.unit_multiplier,
        "measurementUnit": i.measurement_unit,
    }


def package_document(p: Package) -> dict[str, Any]:
    return {
        "type": p.type,
        "invoiceNumber": p.invoice_number,
        "invoiceValue": p.invoice_value,
        "issuanceDate": p.issuance_date,
        "invoiceUrl": p.invoice_url,
        "invoiceKey": p.invoice_key,
        "embeddedInvoice": p.embedded_invoice,
        "courier": p.courier,
        "trackingNumber": p.tracking_number,
        "trackingUrl": p.tracking_url,
        "dispatchedDate": p.dispatched_date,
        "cfop": p.cfop,
        "volumes": p.volumes,
        "extraValue": p.extra_value,
        "receipt": p.receipt,
        "items": [{"itemIndex": it.item_index, "quantity": it.quantity, "price": it.price} for it in p.items],
    }


def order_document(order: Order) -> dict[str, Any]:
    """`GET /api/oms/pvt/orders/{orderId}`: `value` and its alias `updatedOrderValue`, totals with `Change`.

    Depends on nothing but the (immutable) version, so a rendering can be cached by version."""
    totals = {
        "Items": order.items_total,
        "Discounts": order.discounts,
        "Shipping": order.shipping,
        "Tax": order.tax,
        "Change": order.change_value,
    }
    applied = order.applied_changes
    partially_invoiced = order.invoiced_value > 0
    return {
        "orderId": order.order_id,
        "sequence": str(order.sequence),
        "status": order.status,
        "value": order.value,
        "updatedOrderValue": order.value,
        "totals": [{"id": k, "name": _TOTAL_NAMES[k], "value": v} for k, v in totals.items()],
        "items": [_item(i) for i in order.items],
        "packageAttachment": {"packages": [package_document(p) for p in order.packages]},
        "changesAttachment": {"id": "changeAttachment", "changesData": [{"requestId": r} for r in applied]}
        if applied
        else None,
        "creationDate": order.created_at,
        "lastChange": order.last_change,
        "invoicedDate": order.invoiced_date,
        "isCompleted": True,
        "allowCancellation": order.status not in FINAL and not partially_invoiced,
        "allowEdition": order.status in ("handling", "waiting-for-fulfillment"),
        "workflowIsInError": False,
        "version": order.version,
    }


def change_history(changes: Iterable[ChangeRequest]) -> dict[str, Any]:
    """`GET .../changes`: every request, and the actions of those applied."""
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
    return {"requests": [c.to_json() for c in requests], "actions": actions}


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
