"""The Orders API's order list (`GET /api/oms/pvt/orders`, ListOrders) as the reference spells it.

Owns `ListQuery` (a parsed ListOrders query: the HTTP layer turns the query string into one) and `list_orders`: the
filters, the sort, the page, and the `paging` and `stats` over every order that matches.

Sources: VTEX's published OpenAPI document of the Orders API (`vtex-orders-api.openapi.json`, ListOrders: its
parameters' descriptions, 200 schema and example). `docs/fidelity.md` lists what is modelled, simplified or left out.

Imports: stdlib, `simulator.orders.model`, `.orders.profile` and `.orders.documents`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .documents import STATUS_DESCRIPTIONS, days_later
from .model import Order
from .profile import static_properties, text_or

__all__ = ["LIST_ORDER_FIELDS", "ListQuery", "list_orders"]

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


def _client_name(profile: Mapping[str, Any]) -> str:
    first, last = profile.get("firstName"), profile.get("lastName")
    return f"{text_or(first, '')} {text_or(last, '')}".strip()


def _matches_text(order: Order, static: Mapping[str, Any], text: str) -> bool:
    """`q`: order id, client email, document or name (the parameter's description), case-insensitively."""
    client = _obj(static.get("clientProfileData"))
    needle = text.casefold()
    fields = (order.order_id, client.get("email"), client.get("document"), _client_name(client))
    return any(needle in str(f).casefold() for f in fields if f)


def _list_entry(order: Order, static: Mapping[str, Any]) -> dict[str, Any]:
    """One `list[]` entry (ListOrders 200 schema `List`: every property it requires)."""
    client = _obj(static.get("clientProfileData"))
    payments = [
        _obj(p)
        for t in _list(_obj(static.get("paymentData")).get("transactions"))
        for p in _list(_obj(t).get("payments"))
    ]
    authorized = None if order.status in ("order-created", "payment-pending") else order.created_at
    estimate = text_or(_obj(_obj(static.get("shippingData")).get("logisticsInfo")).get("shippingEstimate"), "5bd")
    return {
        "orderId": order.order_id,
        "creationDate": order.created_at,
        "clientName": _client_name(client),
        "items": None,  # "since October 3rd, 2018, this endpoint does not return the `items` property"
        "totalValue": order.value,
        "paymentNames": ", ".join(str(p.get("paymentSystemName")) for p in payments if p.get("paymentSystemName")),
        "status": order.status,
        "statusDescription": STATUS_DESCRIPTIONS.get(order.status, ""),
        "marketPlaceOrderId": text_or(static.get("marketplaceOrderId"), "") or None,
        "sequence": str(order.sequence),
        "salesChannel": text_or(static.get("salesChannel"), "1"),
        "affiliateId": text_or(static.get("affiliateId"), ""),
        "origin": text_or(static.get("origin"), "Marketplace"),
        "workflowInErrorState": False,
        "workflowInRetry": False,
        "lastMessageUnread": None,
        "ShippingEstimatedDate": days_later(
            order.created_at, days=int("".join(c for c in estimate if c.isdigit()) or 0)
        ),
        "ShippingEstimatedDateMax": None,
        "ShippingEstimatedDateMin": None,
        "orderIsComplete": True,
        "listId": None,
        "listType": None,
        "authorizedDate": authorized,
        "callCenterOperatorName": None,
        "totalItems": sum(i.quantity for i in order.items),
        "currencyCode": text_or(_obj(static.get("storePreferencesData")).get("currencyCode"), "BRL"),
    }


def _stats(values: Sequence[int]) -> dict[str, Any]:
    """Solr-style field statistics, as the ListOrders example shows them (sample standard deviation)."""
    n = len(values)
    total = sum(values)
    squares = sum(v * v for v in values)
    mean = total / n if n else 0.0
    var = (squares - n * mean * mean) / (n - 1) if n > 1 else 0.0
    return {
        "Count": n,
        "Max": max(values, default=0),
        "Mean": mean,
        "Min": min(values, default=0),
        "Missing": 0,
        "StdDev": math.sqrt(max(var, 0.0)),
        "Sum": total,
        "SumOfSquares": squares,
        "Facets": None,
    }


def _faceted(rows: Sequence[dict[str, Any]], field: str) -> dict[str, Any]:
    stats = _stats([r[field] for r in rows])
    origins = {"Fulfillment": [], "Marketplace": []} | {r["origin"]: [] for r in rows}
    currencies: dict[str, list[int]] = {"BRL": []} | {r["currencyCode"]: [] for r in rows}
    for r in rows:
        origins[r["origin"]].append(r[field])
        currencies[r["currencyCode"]].append(r[field])
    stats["Facets"] = {
        "origin": {k: _stats(v) for k, v in origins.items()},
        "currencyCode": {k: _stats(v) for k, v in currencies.items()},
    }
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
        static = static_properties(order)
        authorized = None if order.status in ("order-created", "payment-pending") else order.created_at
        if not (
            _within(order.created_at, query.created)
            and _within(order.invoiced_date, query.invoiced)
            and _within(authorized, query.authorized)
        ):
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
