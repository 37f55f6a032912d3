"""Request bodies and history summaries shared by the async integrations and the load profiles' blocking ones.

Owns `invoice_items()` and `change_body()` (what an integration sends) and `summary_order()` and
`summary_change()` (what a history keeps of an answer). Pure: imports only `harness.model`, so `harness.load`
(imported by locust processes) and `harness.integrations`/`harness.client` (asyncio, aiohttp) send and record
exactly the same things from one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Step

__all__ = ["change_body", "invoice_items", "summary_change", "summary_order"]


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
