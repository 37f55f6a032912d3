"""The bad-input catalogue of `tests/reliability/test_bad_input.py`: for every route, the malformed requests it
must refuse in the documented shape (`Bad` cases), the valid bodies they derive from, and the route table."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from simulator import create_app, load_profile
from simulator.web._state import ROUTES
from simulator.web.routing import Route
from tests.conftest import ITEMS

LIMIT = 4096
"""`limits.max_body_bytes` of the simulator under test (the smallest allowed is 1024)."""
BIG = {"reason": "x" * (LIMIT + 100)}
"""Valid JSON over the size limit."""

ORDER = "ORD1"
"""Also the Accounting order reference of the seeded twin: letters and digits only, as Riverty documents it."""
NF = "NF-1"
CUSTOMER = "CUS-1"
CHANGES = f"/api/order-system/orders/{ORDER}/changes"
ACC = f"/accounting/v1/businesses/1000/customers/{CUSTOMER}"
ACC_ORDER = f"{ACC}/orders/{ORDER}"
CHANGE = "{CHANGE}"
"""Replaced by the request id of the fixture's finished Change."""


@dataclass(frozen=True)
class Bad:
    """One malformed request for one route, and the answer it must get."""

    route: tuple[str, str]
    """The route under test: (method, path template) as in the route table."""
    kind: str
    """`bad-json`, `wrong-type`, `missing-field`, `oversize`, `unknown-order`, `bad-path`, `bad-query`, `rule`,
    `wrong-method`."""
    path: str
    status: int
    method: str | None = None
    """Sent with this method (default: the route's)."""
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    """The expected error code (Orders and control API shape), when it is documented."""

    @property
    def id(self) -> str:
        return f"{self.route[0]} {self.route[1]} {self.kind} {self.status}"


# Valid bodies, to derive malformed ones from.
DOC_INVOICE = {
    "type": "Output",
    "issuedDate": "2026-11-21",
    "invoiceNumber": "NF-9",
    "invoiceValue": 500,
    "items": [{"itemIndex": 0, "price": 500, "quantity": 1}],
}
OMS_INVOICE = {
    "type": "Output",
    "issuanceDate": "2026-11-21",
    "invoiceNumber": "NF-9",
    "invoiceValue": "500",
    "items": [{"id": "sku-1", "price": 500, "quantity": 1}],
}
CHANGE_BODY = {"reason": "r", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}}
HOOK = {"filter": {"type": "FromWorkflow", "status": ["handling"]}, "hook": {"url": "http://127.0.0.1:9/h"}}
ACC_INVOICE = {
    "invoiceReference": "INV-9",
    "invoiceDate": "2026-11-21",
    "dueDate": "2026-12-21",
    "dispatchDate": "2026-11-21",
    "shipmentReference": "S-1",
    "items": [{"orderItemReference": 1}],
}
ACC_LINE = {
    "orderItemReference": 1,
    "grossUnitPrice": 49.9,
    "quantity": 1,
    "vatAmount": 7.97,
    "vatPercent": 19,
    "vatType": "NORMAL",
}
ACC_CREATE = {
    "orderReference": "NEW1",
    "currency": "EUR",
    "orderChannel": "ECOM",
    "orderDate": "2026-11-21",
    "orderType": "PHYSICAL_GOODS",
    "supplyingCountry": "DE",
    "items": [{**ACC_LINE, "positionType": "SALES_ARTICLE"}],
}
ACC_UPDATE = {"invoice": ACC_INVOICE, "order": ACC_CREATE}
SEED = {"orderId": "NEW-1", "items": ITEMS, "shipping": 0, "status": "handling"}
CHANGE_V1 = {
    "requestId": "CH-1",
    "reason": "r",
    "discountValue": 500,
    "incrementValue": 0,
    "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}],
}
FEED_CONFIG = {
    "filter": {"type": "FromWorkflow", "status": ["handling"]},
    "queue": {"visibilityTimeoutInSeconds": 250, "MessageRetentionPeriodInSeconds": 345600},
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k != key}


VALID: dict[tuple[str, str], dict[str, Any]] = {}
"""The valid body each route's body cases start from."""


def body_cases(
    route: tuple[str, str],
    path: str,
    *,
    valid: dict[str, Any],
    wrong: dict[str, Any],
    missing: str | None,
    service: str,
) -> list[Bad]:
    """The body mistakes every route with a body must refuse: bad JSON, a wrong type, an oversize body (413) and,
    when `missing` names a required field, the valid body without it. `valid` must pass the route's model (a test
    checks), so each case differs from an accepted body by one mistake."""
    VALID[route] = valid
    code = "BAD-REQUEST" if service != "accounting" else None
    cases = [
        Bad(route, "bad-json", path, 400, raw=b'{"reason": ', code=code),
        Bad(route, "wrong-type", path, 400, body=wrong, code=code),
        Bad(route, "oversize", path, 413, body=BIG, code="PAYLOAD-TOO-LARGE" if code else None),
    ]
    if missing is not None:
        cases.append(Bad(route, "missing-field", path, 400, body=without(valid, missing), code=code))
    return cases


R = {  # the routes, by a short name
    "get_order": ("GET", "/api/oms/pvt/orders/{orderId}"),
    "oms_invoice": ("POST", "/api/oms/pvt/orders/{orderId}/invoice"),
    "doc_invoice": ("POST", "/api/orders/pvt/document/{orderId}/invoices"),
    "tracking": ("PATCH", "/api/oms/pvt/orders/{orderId}/invoice/{invoiceNumber}"),
    "create_change": ("PATCH", "/api/order-system/orders/{orderId}/changes"),
    "get_changes": ("GET", "/api/order-system/orders/{orderId}/changes"),
    "preview": ("POST", "/api/order-system/orders/{orderId}/changes/preview"),
    "get_change": ("GET", "/api/order-system/orders/{orderId}/changes/{changeRequestId}"),
    "retry": ("POST", "/api/order-system/orders/{orderId}/changes/{changeRequestId}/retry"),
    "cancel_change": ("POST", "/api/order-system/orders/{orderId}/changes/{changeRequestId}/cancel"),
    "summary": ("GET", "/api/orders/pvt/document/{orderId}/change-summary"),
    "start_handling": ("POST", "/api/oms/pvt/orders/{orderId}/start-handling"),
    "cancel_order": ("POST", "/api/oms/pvt/orders/{orderId}/cancel"),
    "get_hook": ("GET", "/api/orders/hook/config"),
    "set_hook": ("POST", "/api/orders/hook/config"),
    "delete_hook": ("DELETE", "/api/orders/hook/config"),
    "get_feed": ("GET", "/api/orders/feed"),
    "get_document": ("GET", "/api/orders/pvt/document/{orderId}"),
    "list_orders_api": ("GET", "/api/oms/pvt/orders"),
    "put_tracking": ("PUT", "/api/oms/pvt/orders/{orderId}/invoice/{invoiceNumber}/tracking"),
    "doc_start_handling": ("POST", "/api/orders/pvt/document/{orderId}/actions/start-handling"),
    "doc_cancel": ("POST", "/api/orders/pvt/document/{orderId}/cancel"),
    "get_change_settings": ("GET", "/api/order-system/orders/changes/settings"),
    "put_change_settings": ("PUT", "/api/order-system/orders/changes/settings"),
    "change_v1": ("POST", "/api/oms/pvt/orders/{orderId}/changes"),
    "get_feed_config": ("GET", "/api/orders/feed/config"),
    "set_feed_config": ("POST", "/api/orders/feed/config"),
    "delete_feed_config": ("DELETE", "/api/orders/feed/config"),
    "jsonata": ("POST", "/api/orders/expressions/jsonata"),
    "commit_feed": ("POST", "/api/orders/feed"),
    "acc_create": ("POST", "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders"),
    "acc_invoice": (
        "POST",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/{orderReference}/invoices",
    ),
    "acc_update_put": (
        "PUT",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/"
        "{orderReference}/invoices/{invoiceReference}",
    ),
    "acc_update_post": (
        "POST",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/"
        "{orderReference}/invoices/{invoiceReference}",
    ),
    "acc_cancel": (
        "POST",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/{orderReference}/cancellations",
    ),
    "acc_goodwill": (
        "POST",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/{orderReference}/goodwills",
    ),
    "acc_return": (
        "POST",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/{orderReference}/returns",
    ),
    "acc_payment": (
        "POST",
        "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders/{orderReference}/payments",
    ),
    "acc_callback": ("POST", "/administration/v1/notification-callbacks"),
    "health": ("GET", "/_sim/health"),
    "get_config": ("GET", "/_sim/config"),
    "patch_config": ("PATCH", "/_sim/config"),
    "reset": ("POST", "/_sim/reset"),
    "seed": ("POST", "/_sim/orders"),
    "list_orders": ("GET", "/_sim/orders"),
    "inspect": ("GET", "/_sim/orders/{orderId}"),
    "status": ("POST", "/_sim/orders/{orderId}/status"),
    "inspect_acc": ("GET", "/_sim/accounting/orders/{orderReference}"),
    "notifications": ("GET", "/_sim/accounting/notifications"),
    "quiesce": ("POST", "/_sim/quiesce"),
    "journal": ("GET", "/_sim/journal"),
    "gates": ("GET", "/_sim/gates"),
    "hold": ("POST", "/_sim/gates"),
    "release": ("POST", "/_sim/gates/release"),
    "wait": ("POST", "/_sim/gates/wait"),
    "metrics": ("GET", "/_sim/metrics"),
    "openapi": ("GET", "/openapi.json"),
}


def explicit_cases() -> list[Bad]:
    r = R
    o, c, a = "orders", "control", "accounting"
    change_path = f"{CHANGES}/{CHANGE}"
    return [
        # -- Orders ------------------------------------------------------------------------------------------
        Bad(r["get_order"], "unknown-order", "/api/oms/pvt/orders/NOPE-1", 404, code="OMS007"),
        *body_cases(
            r["oms_invoice"],
            f"/api/oms/pvt/orders/{ORDER}/invoice",
            valid=OMS_INVOICE,
            wrong=with_(OMS_INVOICE, invoiceValue=True),
            missing="invoiceNumber",
            service=o,
        ),
        Bad(
            r["oms_invoice"],
            "wrong-type",
            f"/api/oms/pvt/orders/{ORDER}/invoice",
            400,
            body=with_(OMS_INVOICE, invoiceValue="0"),
        ),
        Bad(
            r["oms_invoice"],
            "unknown-order",
            "/api/oms/pvt/orders/NOPE-1/invoice",
            404,
            body=OMS_INVOICE,
            code="OMS007",
        ),
        Bad(
            r["oms_invoice"],
            "rule",
            f"/api/oms/pvt/orders/{ORDER}/invoice",
            400,
            body=with_(OMS_INVOICE, invoiceValue="99999999"),
            code="OMS-INVOICE-EXCEEDS",
        ),
        *body_cases(
            r["doc_invoice"],
            f"/api/orders/pvt/document/{ORDER}/invoices",
            valid=DOC_INVOICE,
            wrong=with_(DOC_INVOICE, items={"itemIndex": 0}),
            missing="invoiceNumber",
            service=o,
        ),
        Bad(
            r["doc_invoice"],
            "wrong-type",
            f"/api/orders/pvt/document/{ORDER}/invoices",
            400,
            body=with_(DOC_INVOICE, invoiceValue=True),
        ),
        Bad(r["doc_invoice"], "wrong-type", f"/api/orders/pvt/document/{ORDER}/invoices", 400, body=[DOC_INVOICE]),
        Bad(
            r["doc_invoice"],
            "unknown-order",
            "/api/orders/pvt/document/NOPE-1/invoices",
            404,
            body=DOC_INVOICE,
            code="OMS007",
        ),
        Bad(
            r["doc_invoice"],
            "rule",
            f"/api/orders/pvt/document/{ORDER}/invoices",
            400,
            body=with_(DOC_INVOICE, invoiceNumber=NF),
            code="OMS-INVOICE-DUPLICATE",
        ),
        Bad(
            r["doc_invoice"],
            "rule",
            f"/api/orders/pvt/document/{ORDER}/invoices",
            400,
            body=with_(DOC_INVOICE, items=[{"itemIndex": 7, "price": 500, "quantity": 1}]),
            code="OMS-INVALID-ITEM",
        ),
        *body_cases(
            r["tracking"],
            f"/api/oms/pvt/orders/{ORDER}/invoice/{NF}",
            valid={"trackingNumber": "T"},
            wrong={"trackingNumber": 5},
            missing=None,
            service=o,
        ),
        Bad(
            r["tracking"],
            "unknown-order",
            f"/api/oms/pvt/orders/NOPE-1/invoice/{NF}",
            404,
            body={"trackingNumber": "T"},
            code="OMS007",
        ),
        Bad(
            r["tracking"],
            "unknown-order",
            f"/api/oms/pvt/orders/{ORDER}/invoice/NF-404",
            404,
            body={"trackingNumber": "T"},
            code="OMS-INVOICE-NOT-FOUND",
        ),
        *body_cases(
            r["create_change"],
            CHANGES,
            valid=CHANGE_BODY,
            wrong=with_(CHANGE_BODY, reason=["r"]),
            missing="reason",
            service=o,
        ),
        Bad(
            r["create_change"],
            "wrong-type",
            CHANGES,
            400,
            body=with_(CHANGE_BODY, remove={"items": [{"id": "sku-2", "quantity": "1"}]}),
        ),
        Bad(
            r["create_change"],
            "unknown-order",
            "/api/order-system/orders/NOPE-1/changes",
            404,
            body=CHANGE_BODY,
            code="OMS007",
        ),
        Bad(r["create_change"], "rule", CHANGES, 400, body={"reason": "r"}, code="CHK0124"),
        Bad(r["get_changes"], "unknown-order", "/api/order-system/orders/NOPE-1/changes", 404, code="OMS007"),
        *body_cases(
            r["preview"],
            f"{CHANGES}/preview",
            valid=CHANGE_BODY,
            wrong=with_(CHANGE_BODY, add=[1]),
            missing="reason",
            service=o,
        ),
        Bad(
            r["preview"],
            "unknown-order",
            "/api/order-system/orders/NOPE-1/changes/preview",
            404,
            body=CHANGE_BODY,
            code="OMS007",
        ),
        Bad(r["get_change"], "unknown-order", f"/api/order-system/orders/NOPE-1/changes/{CHANGE}", 404, code="OMS007"),
        Bad(r["get_change"], "unknown-order", f"{CHANGES}/no-such-change", 404, code="CHK0289"),
        Bad(r["retry"], "unknown-order", f"/api/order-system/orders/NOPE-1/changes/{CHANGE}/retry", 404, code="OMS007"),
        Bad(r["retry"], "unknown-order", f"{CHANGES}/no-such-change/retry", 404, code="CHK0289"),
        Bad(r["retry"], "rule", f"{change_path}/retry", 400, code="SalesOrderSystem016"),
        *body_cases(
            r["cancel_change"],
            f"{change_path}/cancel",
            valid={"reason": "r"},
            wrong={"reason": 5},
            missing=None,
            service=o,
        ),
        Bad(
            r["cancel_change"],
            "unknown-order",
            f"/api/order-system/orders/NOPE-1/changes/{CHANGE}/cancel",
            404,
            code="OMS007",
        ),
        Bad(r["cancel_change"], "rule", f"{change_path}/cancel", 400, body={"reason": "r"}, code="CHK0124"),
        Bad(r["summary"], "unknown-order", "/api/orders/pvt/document/NOPE-1/change-summary", 404, code="OMS007"),
        Bad(r["start_handling"], "unknown-order", "/api/oms/pvt/orders/NOPE-1/start-handling", 404, code="OMS007"),
        Bad(r["start_handling"], "rule", f"/api/oms/pvt/orders/{ORDER}/start-handling", 409, code="OMS003"),
        *body_cases(
            r["cancel_order"],
            f"/api/oms/pvt/orders/{ORDER}/cancel",
            valid={"reason": "r"},
            wrong={"reason": {"text": "r"}},
            missing=None,
            service=o,
        ),
        Bad(r["cancel_order"], "unknown-order", "/api/oms/pvt/orders/NOPE-1/cancel", 404, code="OMS007"),
        Bad(r["cancel_order"], "rule", f"/api/oms/pvt/orders/{ORDER}/cancel", 400, body={"reason": "r"}, code="OMS003"),
        Bad(r["get_hook"], "unknown-order", "/api/orders/hook/config", 404, code="OMS-HOOK-NOT-FOUND"),
        *body_cases(
            r["set_hook"],
            "/api/orders/hook/config",
            valid=HOOK,
            wrong=with_(HOOK, filter={"type": "FromWorkflow", "status": "handling"}),
            missing="hook",
            service=o,
        ),
        Bad(
            r["set_hook"],
            "wrong-type",
            "/api/orders/hook/config",
            400,
            body=with_(HOOK, filter={"type": "FromWorkflow", "status": ["no-such-status"]}),
        ),
        Bad(r["set_hook"], "wrong-type", "/api/orders/hook/config", 400, body=with_(HOOK, hook={"url": "ftp://x"})),
        Bad(r["set_hook"], "rule", "/api/orders/hook/config", 400, body=HOOK, code="OMS-HOOK-PING"),
        Bad(r["get_feed"], "bad-query", "/api/orders/feed?maxlot=0", 400),
        Bad(r["get_feed"], "bad-query", "/api/orders/feed?maxlot=11", 400),
        Bad(r["get_feed"], "bad-query", "/api/orders/feed?maxlot=two", 400),
        *body_cases(
            r["commit_feed"],
            "/api/orders/feed",
            valid={"handles": ["h"]},
            wrong={"handles": "h"},
            missing="handles",
            service=o,
        ),
        Bad(r["get_document"], "unknown-order", "/api/orders/pvt/document/NOPE-1", 404, code="OMS007"),
        *body_cases(
            r["put_tracking"],
            f"/api/oms/pvt/orders/{ORDER}/invoice/{NF}/tracking",
            valid={"isDelivered": False, "events": []},
            wrong={"isDelivered": "no", "events": []},
            missing="events",
            service=o,
        ),
        Bad(
            r["put_tracking"],
            "unknown-order",
            f"/api/oms/pvt/orders/NOPE-1/invoice/{NF}/tracking",
            404,
            body={"isDelivered": False, "events": []},
            code="OMS007",
        ),
        Bad(
            r["doc_start_handling"],
            "unknown-order",
            "/api/orders/pvt/document/NOPE-1/actions/start-handling",
            404,
            code="OMS007",
        ),
        *body_cases(
            r["doc_cancel"],
            f"/api/orders/pvt/document/{ORDER}/cancel",
            valid={"reason": "r"},
            wrong={"reason": 5},
            missing=None,
            service=o,
        ),
        Bad(r["doc_cancel"], "unknown-order", "/api/orders/pvt/document/NOPE-1/cancel", 404, code="OMS007"),
        *body_cases(
            r["put_change_settings"],
            "/api/order-system/orders/changes/settings",
            valid={"pipelineConfiguration": {"compensateShippingChanges": True}},
            wrong={"pipelineConfiguration": {"compensateShippingChanges": "yes"}},
            missing=None,
            service=o,
        ),
        *body_cases(
            r["change_v1"],
            f"/api/oms/pvt/orders/{ORDER}/changes",
            valid=CHANGE_V1,
            wrong=with_(CHANGE_V1, discountValue=[1]),
            missing="requestId",
            service=o,
        ),
        Bad(r["change_v1"], "unknown-order", "/api/oms/pvt/orders/NOPE-1/changes", 404, body=CHANGE_V1, code="OMS007"),
        *body_cases(
            r["set_feed_config"],
            "/api/orders/feed/config",
            valid=FEED_CONFIG,
            wrong=with_(FEED_CONFIG, queue={"visibilityTimeoutInSeconds": "250"}),
            missing="queue",
            service=o,
        ),
        *body_cases(
            r["jsonata"],
            "/api/orders/expressions/jsonata",
            valid={"Expression": "a", "Document": "{}"},
            wrong={"Expression": "a", "Document": {}},
            missing="Expression",
            service=o,
        ),
        # -- Accounting ---------------------------------------------------------------------------------------
        *body_cases(
            r["acc_create"],
            f"{ACC}/orders",
            valid=ACC_CREATE,
            wrong=with_(ACC_CREATE, currency=978),
            missing="items",
            service=a,
        ),
        Bad(
            r["acc_create"],
            "wrong-type",
            f"{ACC}/orders",
            400,
            body=with_(ACC_CREATE, items=[with_(ACC_LINE, grossUnitPrice="49.90")]),
        ),
        Bad(r["acc_create"], "bad-path", "/accounting/v1/businesses/10!0/customers/CUS-1/orders", 400, body=ACC_CREATE),
        Bad(r["acc_create"], "bad-path", f"{ACC}/orders", 400, body=ACC_CREATE, headers={"X-Request-ID": "a b"}),
        *body_cases(
            r["acc_invoice"],
            f"{ACC_ORDER}/invoices",
            valid=ACC_INVOICE,
            wrong=with_(ACC_INVOICE, items=[{"orderItemReference": "one"}]),
            missing="dueDate",
            service=a,
        ),
        Bad(
            r["acc_invoice"],
            "wrong-type",
            f"{ACC_ORDER}/invoices",
            400,
            body=with_(ACC_INVOICE, invoiceDate="2026-02-30"),
        ),
        Bad(r["acc_invoice"], "bad-path", f"{ACC}/orders/{'R' * 17}/invoices", 400, body=ACC_INVOICE),
        *body_cases(
            r["acc_update_put"],
            f"{ACC_ORDER}/invoices/INV-1",
            valid=ACC_UPDATE,
            wrong=with_(ACC_UPDATE, order=[ACC_CREATE]),
            missing="order",
            service=a,
        ),
        Bad(r["acc_update_put"], "bad-path", f"{ACC_ORDER}/invoices/{'I' * 31}", 400, body=ACC_UPDATE),
        *body_cases(
            r["acc_update_post"],
            f"{ACC_ORDER}/invoices/INV-1",
            valid=ACC_UPDATE,
            wrong=with_(ACC_UPDATE, goodwillReference=7),
            missing="invoice",
            service=a,
        ),
        Bad(r["acc_update_post"], "bad-path", f"{ACC}/orders/{'R' * 17}/invoices/INV-1", 400, body=ACC_UPDATE),
        *body_cases(
            r["acc_cancel"],
            f"{ACC_ORDER}/cancellations",
            valid={"cancellationDate": "2026-11-21", "cancellationReason": "OUT_OF_STOCK"},
            wrong={"cancellationDate": "2026-11-21", "cancellationReason": "BORED"},
            missing="cancellationReason",
            service=a,
        ),
        Bad(
            r["acc_cancel"],
            "bad-path",
            "/accounting/v1/businesses/1000/customers/-x/orders/ORD-1/cancellations",
            400,
            body={"cancellationDate": "2026-11-21", "cancellationReason": "OUT_OF_STOCK"},
        ),
        *body_cases(
            r["acc_goodwill"],
            f"{ACC_ORDER}/goodwills",
            valid={"goodwillReference": "G-1", "goodwillDate": "2026-11-21", "items": [ACC_LINE]},
            wrong={"goodwillReference": "G-1", "goodwillDate": "2026-11-21", "items": [ACC_LINE] * 0},
            missing="items",
            service=a,
        ),
        Bad(
            r["acc_goodwill"],
            "bad-path",
            f"{ACC}/orders/{'R' * 17}/goodwills",
            400,
            body={"goodwillReference": "G-1", "goodwillDate": "2026-11-21", "items": [ACC_LINE]},
        ),
        *body_cases(
            r["acc_return"],
            f"{ACC_ORDER}/returns",
            valid={
                "returnReference": "RT-1",
                "returnDate": "2026-11-21",
                "returnReason": "CUSTOMER_RETURN",
                "items": [ACC_LINE],
            },
            wrong={
                "returnReference": "RT-1",
                "returnDate": "2026-11-21",
                "returnReason": "CUSTOMER_RETURN",
                "items": [with_(ACC_LINE, quantity=0)],
            },
            missing="returnReason",
            service=a,
        ),
        Bad(
            r["acc_return"],
            "bad-path",
            f"{ACC}/orders/{'R' * 17}/returns",
            400,
            body={
                "returnReference": "RT-1",
                "returnDate": "2026-11-21",
                "returnReason": "CUSTOMER_RETURN",
                "items": [ACC_LINE],
            },
        ),
        *body_cases(
            r["acc_payment"],
            f"{ACC_ORDER}/payments",
            valid={"authorizedAmount": 5.0},
            wrong={"authorizedAmount": "5.00"},
            missing="authorizedAmount",
            service=a,
        ),
        Bad(r["acc_payment"], "wrong-type", f"{ACC_ORDER}/payments", 400, body={"authorizedAmount": -5}),
        Bad(r["acc_payment"], "bad-path", f"{ACC}/orders/{'R' * 17}/payments", 400, body={"authorizedAmount": 5.0}),
        Bad(r["acc_payment"], "bad-path", f"{ACC}/orders/ORD-1/payments", 400, body={"authorizedAmount": 5.0}),
        Bad(r["acc_payment"], "wrong-type", f"{ACC_ORDER}/payments", 400, body={"authorizedAmount": 5.001}),
        Bad(r["acc_create"], "wrong-type", f"{ACC}/orders", 400, body=with_(ACC_CREATE, orderReference="NEW-1")),
        Bad(r["acc_create"], "wrong-type", f"{ACC}/orders", 400, body=with_(ACC_CREATE, orderDate="2026-13-01")),
        *body_cases(
            r["acc_callback"],
            "/administration/v1/notification-callbacks",
            valid={"callbackUrl": "http://127.0.0.1:9/n", "notificationTypes": []},
            wrong={"callbackUrl": "http://127.0.0.1:9/n", "notificationTypes": ["nope"]},
            missing="callbackUrl",
            service=a,
        ),
        Bad(
            r["acc_callback"],
            "wrong-type",
            "/administration/v1/notification-callbacks",
            400,
            body={"callbackUrl": "file:///etc/passwd", "notificationTypes": []},
        ),
        # -- control API ---------------------------------------------------------------------------------------
        # A merge patch is judged against the live configuration, so its refusals carry a rule's code.
        *[
            replace(case, code="SIM-CONFIG-INVALID") if case.kind == "wrong-type" else case
            for case in body_cases(
                r["patch_config"],
                "/_sim/config",
                valid={"consistency": "serializable"},
                wrong={"consistency": 1},
                missing=None,
                service=c,
            )
        ],
        Bad(r["patch_config"], "missing-field", "/_sim/config", 400, raw=b""),
        Bad(r["patch_config"], "wrong-type", "/_sim/config", 400, body=["consistency", "serializable"]),
        Bad(r["patch_config"], "wrong-type", "/_sim/config", 400, body={"limits": {"max_orders": 0}}),
        Bad(r["patch_config"], "wrong-type", "/_sim/config", 400, body={"no_such_setting": 1}),
        Bad(
            r["patch_config"],
            "wrong-type",
            "/_sim/config",
            400,
            body={"orders": {"change": {"read_lag": {"kind": "lognormal", "median_ms": 0, "sigma": 1}}}},
        ),
        *body_cases(
            r["seed"], "/_sim/orders", valid=SEED, wrong=with_(SEED, shipping="1000"), missing="items", service=c
        ),
        Bad(r["seed"], "wrong-type", "/_sim/orders", 400, body=with_(SEED, status="shipped")),
        Bad(r["seed"], "wrong-type", "/_sim/orders", 400, body=with_(SEED, orderId="../etc")),
        Bad(r["seed"], "wrong-type", "/_sim/orders", 400, body=with_(SEED, unknown=1)),
        Bad(r["seed"], "rule", "/_sim/orders", 400, body=with_(SEED, orderId=ORDER), code="OMS-ORDER-EXISTS"),
        Bad(
            r["seed"],
            "rule",
            "/_sim/orders",
            400,
            body=with_(SEED, orderId="NEW-2", accounting={"customerNumber": CUSTOMER, "orderReference": ORDER}),
            code="ACCOUNTING-ORDER-EXISTS",
        ),
        Bad(
            r["seed"], "rule", "/_sim/orders", 400, body=with_(SEED, items=[{"id": "a", "price": 1, "quantity": 1}] * 2)
        ),
        Bad(r["inspect"], "unknown-order", "/_sim/orders/NOPE-1", 404, code="OMS007"),
        *body_cases(
            r["status"],
            f"/_sim/orders/{ORDER}/status",
            valid={"status": "next"},
            wrong={"status": 3},
            missing="status",
            service=c,
        ),
        Bad(r["status"], "wrong-type", f"/_sim/orders/{ORDER}/status", 400, body={"status": "shipped"}),
        Bad(r["status"], "unknown-order", "/_sim/orders/NOPE-1/status", 404, body={"status": "next"}, code="OMS007"),
        Bad(
            r["inspect_acc"], "unknown-order", "/_sim/accounting/orders/NOPE-1", 404, code="ACCOUNTING-ORDER-NOT-FOUND"
        ),
        *body_cases(
            r["quiesce"], "/_sim/quiesce", valid={"orderId": ORDER}, wrong={"timeout_ms": "1s"}, missing=None, service=c
        ),
        Bad(r["quiesce"], "wrong-type", "/_sim/quiesce", 400, body={"timeout_ms": 0}),
        Bad(r["quiesce"], "unknown-order", "/_sim/quiesce", 404, body={"orderId": "NOPE-1"}, code="OMS007"),
        Bad(r["journal"], "bad-query", "/_sim/journal?since=-1", 400),
        Bad(r["journal"], "bad-query", "/_sim/journal?since=x", 400),
        Bad(r["journal"], "bad-query", "/_sim/journal?limit=0", 400),
        *body_cases(
            r["hold"],
            "/_sim/gates",
            valid={"orderId": ORDER, "point": "change.after_read"},
            wrong={"orderId": ORDER, "point": ["change.after_read"]},
            missing="point",
            service=c,
        ),
        Bad(r["hold"], "wrong-type", "/_sim/gates", 400, body={"orderId": ORDER, "point": "change.whenever"}),
        Bad(r["hold"], "wrong-type", "/_sim/gates", 400, body={"orderId": "a b", "point": "change.after_read"}),
        *body_cases(
            r["release"],
            "/_sim/gates/release",
            valid={"orderId": ORDER, "point": "change.after_read"},
            wrong={"orderId": 1, "point": "change.after_read"},
            missing=None,
            service=c,
        ),
        Bad(r["release"], "missing-field", "/_sim/gates/release", 400, body={"orderId": ORDER}),
        Bad(
            r["release"],
            "unknown-order",
            "/_sim/gates/release",
            404,
            body={"orderId": "NOPE-1", "point": "change.after_read"},
            code="GATE-NOT-FOUND",
        ),
        *body_cases(
            r["wait"],
            "/_sim/gates/wait",
            valid={"orderId": ORDER, "point": "change.after_read"},
            wrong={"orderId": ORDER, "point": "change.after_read", "count": 0},
            missing="orderId",
            service=c,
        ),
        Bad(
            r["wait"],
            "unknown-order",
            "/_sim/gates/wait",
            404,
            body={"orderId": "NOPE-1", "point": "change.after_read", "timeout_ms": 50},
            code="GATE-NOT-FOUND",
        ),
    ]


def served(routes: list[Route]) -> dict[str, set[str]]:
    """Methods served per path template."""
    out: dict[str, set[str]] = {}
    for r in routes:
        out.setdefault(r.path, set()).add(r.method)
    return out


CONCRETE = {
    "{orderId}": ORDER,
    "{orderReference}": ORDER,
    "{businessCode}": "1000",
    "{customerNumber}": CUSTOMER,
    "{invoiceNumber}": NF,
    "{invoiceReference}": "INV-1",
    "{changeRequestId}": CHANGE,
}


def wrong_method_cases(routes: list[Route]) -> list[Bad]:
    """For every route, its path with a method the path does not serve: 405, in the service's shape."""
    methods = served(routes)
    cases = []
    for r in routes:
        other = next(m for m in ("DELETE", "PUT", "PATCH", "GET", "POST") if m not in methods[r.path])
        path = r.path
        for template, value in CONCRETE.items():
            path = path.replace(template, value)
        cases.append(Bad((r.method, r.path), "wrong-method", path, 405, method=other, body={"reason": "r"}))
    return cases


@functools.cache
def route_table() -> list[Route]:
    return list(create_app(load_profile("instant"))[ROUTES])


ALL_CASES = explicit_cases() + wrong_method_cases(route_table())


# -- the simulator under test ---------------------------------------------------------------------------------
