"""The requests an integration makes to the services under test, as effects a flow yields.

Owns one builder per call of the Orders API (as the published API spells its routes) and the Accounting API. Each
returns a `Call`; yielding it sends the request and records it in the run's history, under every driver:

    read = yield api.get_order(run.order_id)
    answer = yield api.invoice(run.order_id, number="NF-1", value=12480, items=invoice_items(read.body))

Imports: stdlib, `harness.integrations.flow`, `harness.integrations.bodies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.integrations.bodies import summary_change, summary_order
from harness.integrations.flow import Call

__all__ = ["accounting_write", "cancel_order", "change", "change_v1", "get_change", "get_order", "invoice"]


def get_order(order_id: str, *, timeout_s: float | None = None) -> Call:
    """`GET /api/oms/pvt/orders/{orderId}`."""
    return Call(
        "get_order",
        "GET",
        f"/api/oms/pvt/orders/{order_id}",
        "/api/oms/pvt/orders/[id]",
        summarize=summary_order,
        timeout_s=timeout_s,
    )


def invoice(
    order_id: str,
    *,
    number: str,
    value: int,
    items: list[dict[str, int]],
    issued: str = "2026-11-21",
    request_id: str | None = None,
    timeout_s: float | None = None,
) -> Call:
    """`POST /api/orders/pvt/document/{orderId}/invoices` (an `Output` invoice; `X-Request-ID` when given)."""
    body = {"type": "Output", "issuedDate": issued, "invoiceNumber": number, "invoiceValue": value, "items": items}
    return Call(
        "invoice",
        "POST",
        f"/api/orders/pvt/document/{order_id}/invoices",
        "/api/orders/pvt/document/[id]/invoices",
        json=body,
        headers={"X-Request-ID": request_id} if request_id else {},
        record={"invoiceNumber": number, "invoiceValue": value},
        timeout_s=timeout_s,
    )


def change(order_id: str, body: Mapping[str, Any]) -> Call:
    """Change v2, `PATCH /api/order-system/orders/{orderId}/changes`: 200 `{requestId, ...}`, applied later."""
    return Call(
        "change",
        "PATCH",
        f"/api/order-system/orders/{order_id}/changes",
        "/api/order-system/orders/[id]/changes",
        json=dict(body),
        record=dict(body),
        summarize=summary_change,
    )


def change_v1(order_id: str, body: Mapping[str, Any]) -> Call:
    """Change v1, `POST /api/oms/pvt/orders/{orderId}/changes`: synchronous, 200 `{date, orderId, receipt}`."""
    return Call(
        "change_v1",
        "POST",
        f"/api/oms/pvt/orders/{order_id}/changes",
        "/api/oms/pvt/orders/[id]/changes",
        json=dict(body),
        record=dict(body),
    )


def get_change(order_id: str, request_id: str) -> Call:
    """`GET /api/order-system/orders/{orderId}/changes/{requestId}`: its `status` and `finished`."""
    return Call(
        "get_change",
        "GET",
        f"/api/order-system/orders/{order_id}/changes/{request_id}",
        "/api/order-system/orders/[id]/changes/[requestId]",
        record={"requestId": request_id},
        summarize=summary_change,
    )


def cancel_order(order_id: str, reason: str = "racelab") -> Call:
    """`POST /api/oms/pvt/orders/{orderId}/cancel`."""
    return Call(
        "cancel",
        "POST",
        f"/api/oms/pvt/orders/{order_id}/cancel",
        "/api/oms/pvt/orders/[id]/cancel",
        json={"reason": reason},
    )


def accounting_write(f: str, method: str, path: str, body: Mapping[str, Any], *, request_id: str | None = None) -> Call:
    """A write under `/accounting/v1/...` (`path` starts there): 200 `internalRequestId` now, the verdict later."""
    return Call(
        f,
        method,
        path,
        path,
        service="accounting",
        json=dict(body),
        headers={"X-Request-ID": request_id} if request_id else {},
        record={"path": path},
    )
