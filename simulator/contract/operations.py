"""The operations of the public APIs by name: which request (method and path) is which operation, and which order it
is about.

Owns `OPERATIONS` (method, path template, kebab-case name, the order id's path parameter), `Operation`,
`operation_names()`, `match_operation(method, path)` and `kebab()`. A name is the operationId of the simulator's
`/openapi.json` in kebab case (`getOrder` -> `get-order`, `createChange` -> `create-change`); the operations the
published Orders API lists and the simulator does not serve are here too, under their published operationId in kebab
case, so that a proxy in front of the real platform names every request it sees. `racelab proxy` matches its rules
and records its exchanges with this table; `tests/unit/test_operations.py` keeps it equal to the simulator's route
table.

    op, params = match_operation("POST", "/api/oms/pvt/orders/o-1/invoice")   # invoice-notification, {"orderId": ...}
    op.order_id(params)                                                       # "o-1"

Imports: stdlib only (part of the contract both the simulator and the harness import).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = ["OPERATIONS", "Operation", "kebab", "match_operation", "operation_names"]

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def kebab(operation_id: str) -> str:
    """An operationId in kebab case: `getOrder` -> `get-order`, `GetHookConfiguration` -> `get-hook-configuration`,
    `TestJSONataExpression` -> `test-jsonata-expression`: a hyphen goes only before a capital that follows a
    lower-case letter or a digit, so a run of capitals stays one word."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", operation_id).replace(".", "-").replace("_", "-").lower()


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: `Operation("GET", "/api/oms/pvt/orders/{orderId}", "get-order", "orderId")`."""

    method: str
    path: str
    """The path template, parameters in braces (`{orderId}`), as the published API writes it."""
    name: str
    """The operation's name in kebab case: what a proxy rule's `route` says."""
    order_param: str | None = None
    """The path parameter that holds the order id; None when the operation is about no one order."""
    served: bool = True
    """True when the simulator serves it (the test checks these against its route table); False: published only."""
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = []
        for segment in self.path.strip("/").split("/"):
            m = _PARAM.match(segment)
            parts.append(f"(?P<{m.group(1)}>[^/]+)" if m else re.escape(segment))
        object.__setattr__(self, "_pattern", re.compile("^/" + "/".join(parts) + "/?$"))

    @property
    def params(self) -> tuple[str, ...]:
        """The path parameters, in order."""
        return tuple(m.group(1) for s in self.path.split("/") if (m := _PARAM.match(s)))

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters of `path` (percent-decoded) when it is this operation's path; else None."""
        m = self._pattern.match(path)
        return None if m is None else {k: unquote(v) for k, v in m.groupdict().items()}

    def order_id(self, params: Mapping[str, str]) -> str | None:
        return None if self.order_param is None else params.get(self.order_param)


_O = "/api/oms/pvt/orders/{orderId}"
_W = "/api/checkout/pvt/configuration/window-to-change-seller"
_D = "/api/orders/pvt/document/{orderId}"
_C = "/api/order-system/orders/{changeOrderId}/changes"
_A = "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders"
_AO = _A + "/{orderReference}"

OPERATIONS: tuple[Operation, ...] = (
    # The Orders API (published operationIds in the simulator's spelling)
    Operation("GET", _O, "get-order", "orderId"),
    Operation("GET", _D, "get-order-pii", "orderId"),
    Operation("GET", "/api/oms/pvt/orders", "list-orders"),
    Operation("POST", _O + "/invoice", "invoice-notification", "orderId"),
    Operation("POST", _D + "/invoices", "invoice-document", "orderId"),
    Operation("PATCH", _O + "/invoice/{invoiceNumber}", "update-tracking", "orderId"),
    Operation("PUT", _O + "/invoice/{invoiceNumber}/tracking", "update-tracking-status", "orderId"),
    Operation("POST", _O + "/start-handling", "start-handling", "orderId"),
    Operation("POST", _D + "/actions/start-handling", "start-handling-document", "orderId"),
    Operation("POST", _O + "/cancel", "cancel-order", "orderId"),
    Operation("POST", _D + "/cancel", "cancel-order-document", "orderId"),
    Operation("PATCH", _C, "create-change", "changeOrderId"),
    Operation("GET", _C, "get-changes", "changeOrderId"),
    Operation("POST", _C + "/preview", "preview-change", "changeOrderId"),
    Operation("GET", _C + "/{changeRequestId}", "get-change", "changeOrderId"),
    Operation("POST", _C + "/{changeRequestId}/retry", "retry-change", "changeOrderId"),
    Operation("POST", _C + "/{changeRequestId}/cancel", "cancel-change", "changeOrderId"),
    Operation("GET", "/api/order-system/orders/changes/settings", "get-change-settings"),
    Operation("PUT", "/api/order-system/orders/changes/settings", "update-change-settings"),
    Operation("POST", _O + "/changes", "register-change", "orderId"),
    Operation("GET", _D + "/change-summary", "get-change-summary", "orderId"),
    Operation("GET", "/api/orders/hook/config", "get-hook-configuration"),
    Operation("POST", "/api/orders/hook/config", "hook-configuration"),
    Operation("DELETE", "/api/orders/hook/config", "delete-hook-configuration"),
    Operation("GET", "/api/orders/feed/config", "get-feed-configuration"),
    Operation("POST", "/api/orders/feed/config", "feed-configuration"),
    Operation("DELETE", "/api/orders/feed/config", "feed-configuration-delete"),
    Operation("GET", "/api/orders/feed", "getfeedorderstatus1"),
    Operation("POST", "/api/orders/feed", "commititemfeedorderstatus"),
    Operation("POST", "/api/orders/expressions/jsonata", "test-jsonata-expression"),
    # Published, not served by the simulator
    Operation("POST", _O + "/interactions", "add-log", "orderId", served=False),
    Operation("GET", _O + "/conversation-message", "get-conversation", "orderId", served=False),
    Operation("GET", _O + "/payment-transaction", "get-paymenttransaction", "orderId", served=False),
    Operation(
        "POST", _O + "/payments/{paymentId}/payment-notification", "send-payment-notification", "orderId", served=False
    ),
    Operation(
        "POST",
        _D + "/payment/{paymentId}/notify-payment",
        "send-payment-notification-document",
        "orderId",
        served=False,
    ),
    Operation("POST", "/api/orders/extendsearch/orders", "list-orders-document", served=False),
    Operation("GET", "/api/oms/pvt/feed/orders/status", "getfeedorderstatus", served=False),
    Operation("GET", "/api/oms/user/orders", "userorderslist", served=False),
    Operation("GET", "/api/oms/user/orders/{orderId}", "userorderdetails", "orderId", served=False),
    Operation("GET", _W, "get-window-to-change-seller", served=False),
    Operation(
        "POST",
        "/api/checkout/pvt/configuration/window-to-change-seller",
        "update-window-to-change-seller",
        served=False,
    ),
    # The Accounting API (its order is `orderReference`)
    Operation("POST", _A, "accounting-create-order"),
    Operation("POST", _AO + "/invoices", "accounting-create-invoice", "orderReference"),
    Operation("PUT", _AO + "/invoices/{invoiceReference}", "accounting-update-invoice", "orderReference"),
    Operation("POST", _AO + "/invoices/{invoiceReference}", "accounting-update-invoice-post", "orderReference"),
    Operation("POST", _AO + "/cancellations", "accounting-cancel", "orderReference"),
    Operation("POST", _AO + "/goodwills", "accounting-goodwill", "orderReference"),
    Operation("POST", _AO + "/returns", "accounting-return", "orderReference"),
    Operation("POST", _AO + "/payments", "accounting-add-payment", "orderReference"),
    Operation("POST", "/administration/v1/notification-callbacks", "accounting-register-callback"),
)
"""Every operation, the simulator's first. A path that two templates match (`changes/settings` and
`{changeOrderId}/changes`... never in practice) goes to the one with more literal segments (`match_operation`)."""


def operation_names() -> tuple[str, ...]:
    """Every operation name, sorted (what a rule's `route` may say)."""
    return tuple(sorted({op.name for op in OPERATIONS}))


def _literals(op: Operation) -> int:
    return sum(1 for s in op.path.split("/") if not _PARAM.match(s))


_BY_METHOD: dict[str, list[Operation]] = {}
for _op in sorted(OPERATIONS, key=_literals, reverse=True):
    _BY_METHOD.setdefault(_op.method, []).append(_op)


def match_operation(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation a request is, and its path parameters; None for a path no operation has.

    Args:
        method: the request's method (any case).
        path: the request's path, without the query (percent-encoded as sent).
    """
    for op in _BY_METHOD.get(method.upper(), ()):
        params = op.match(path)
        if params is not None:
            return op, params
    return None
