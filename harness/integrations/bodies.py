"""Request bodies and history summaries shared by the async integrations and the load profiles' blocking ones.

Owns `invoice_items()`, `change_body()` and `change_v1_body()` (what an integration sends) and `summary_order()` and
`summary_change()` (what a history keeps of an answer). Pure: imports only `harness.model`, so `harness.load`
(imported by locust processes) and `harness.integrations`/`harness.client` (asyncio, aiohttp) send and record
exactly the same things from one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.model.records import Step

__all__ = [
    "CHANGE_ACTIONS",
    "change_body",
    "change_v1_body",
    "change_v1_request_id",
    "invoice_items",
    "summary_change",
    "summary_order",
]

CHANGE_ACTIONS = ("change", "change-v1")
"""The steps that send a Change: `change` (v2, `PATCH /api/order-system/orders/{orderId}/changes`, asynchronous) and
`change-v1` (`POST /api/oms/pvt/orders/{orderId}/changes`, synchronous)."""


def invoice_items(order: Mapping[str, Any]) -> list[dict[str, int]]:
    """The order's remaining lines as document-form invoice items (`price` is the line total)."""
    return [
        {"itemIndex": i, "price": int(item["price"]) * int(item["quantity"]), "quantity": int(item["quantity"])}
        for i, item in enumerate(order.get("items") or [])
        if int(item["quantity"]) > 0
    ]


def change_body(step: Step) -> dict[str, Any]:
    """A Change request from a scenario step: `remove: [{id, quantity}]` → `{"remove": {"items": [...]}}`."""
    args = dict(step.args)
    body: dict[str, Any] = {"reason": str(args.pop("reason", "racelab scenario: value-reducing change"))}
    for key in ("add", "remove"):
        if key in args:
            value = args.pop(key)
            body[key] = {"items": list(value)} if isinstance(value, list) else value
    if "replace" in args:
        body["replace"] = args.pop("replace")
    for key in ("manualDiscountValue", "manualIncrementValue"):
        if key in args:
            body[key] = args.pop(key)
    return body


def change_v1_request_id(order_id: str, step: int) -> str:
    """The `requestId` of a `change-v1` step that names none: one per order and step, the same in every driver (the
    platform applies only the first modification with a given `requestId`, so a resend cannot apply it twice)."""
    return f"{order_id}-v1-{step}"


def change_v1_body(step: Step, order: Mapping[str, Any], *, request_id: str) -> dict[str, Any]:
    """A Change v1 request from a `change-v1` step, as the published API takes it (source: VTEX Orders API OpenAPI,
    `#/paths/~1api~1oms~1pvt~1orders~1{orderId}~1changes/post/requestBody`): `requestId`, `reason`, `discountValue`
    and `incrementValue` (required; cents), `itemsRemoved` and `itemsAdded` (`[{id, price, quantity}]`, `price` the
    unit price in cents). An item the step gives without `price` takes its unit price from the seeded `order`.

        change_v1_body(Step(100, "change-v1", {"itemsRemoved": [{"id": "sku-2", "quantity": 1}]}), order,
                       request_id="o-1-v1-1")
        # {"requestId": "o-1-v1-1", "reason": ..., "discountValue": 0, "incrementValue": 0,
        #  "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}], "itemsAdded": []}
    """
    args = step.args
    prices = {str(item["id"]): int(item["price"]) for item in order.get("items") or []}

    def lines(key: str) -> list[dict[str, Any]]:
        return [
            {
                "id": str(line["id"]),
                "price": int(line["price"]) if "price" in line else prices[str(line["id"])],
                "quantity": int(line["quantity"]),
            }
            for line in args.get(key) or []
        ]

    return {
        "requestId": str(args.get("requestId", request_id)),
        "reason": str(args.get("reason", "racelab scenario: value-reducing change")),
        "discountValue": int(args.get("discountValue", 0)),
        "incrementValue": int(args.get("incrementValue", 0)),
        "itemsRemoved": lines("itemsRemoved"),
        "itemsAdded": lines("itemsAdded"),
    }


def summary_order(body: Any) -> Any:
    """What a history keeps of an order read: enough to judge it, small enough for a million runs."""
    if not isinstance(body, Mapping):
        return body
    packages = (body.get("packageAttachment") or {}).get("packages") or []
    changes = (body.get("changesAttachment") or {}).get("changesData") or []
    return {
        "value": body.get("value"),
        "status": body.get("status"),
        "version": body.get("version"),
        "invoiced": sum(p.get("invoiceValue", 0) for p in packages if p.get("type") == "Output"),
        "changes": [c.get("requestId") for c in changes],
    }


def summary_change(body: Any) -> Any:
    """What a history keeps of a Change answer (its id and state), or the body as is if it is not one."""
    if not isinstance(body, Mapping) or "requestId" not in body:
        return body
    out = {k: body.get(k) for k in ("requestId", "status", "inProgress", "finished", "totalChangeValue")}
    if "cancellationData" in body:
        out["cancellationData"] = body["cancellationData"]
    return out
