"""The operation table of `simulator.contract.operations` against the simulator's own route table: every route the
simulator serves (but its control API and /openapi.json) is in the table under its operationId in kebab case, with
the same method and path, and the table claims no served operation the simulator does not have."""

from __future__ import annotations

import re

import pytest

from simulator.contract.operations import OPERATIONS, kebab, match_operation, operation_names
from simulator.web.accounting_api import accounting_routes
from simulator.web.orders_api import orders_routes


def _shape(path: str) -> str:
    """A path template with its parameters' names dropped: `/orders/{orderId}` -> `/orders/{}`."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_served_route_is_in_the_table_under_its_kebab_name() -> None:
    routes = {(r.method, _shape(r.path)): kebab(r.operation_id) for r in (*orders_routes(), *accounting_routes())}
    table = {(op.method, _shape(op.path)): op.name for op in OPERATIONS if op.served}
    assert table == routes


def test_names_are_unique_kebab_case_and_order_params_are_path_params() -> None:
    names = [op.name for op in OPERATIONS]
    assert len(names) == len(set(names))
    assert len({(op.method, _shape(op.path)) for op in OPERATIONS}) == len(OPERATIONS)
    for op in OPERATIONS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", op.name), op.name
        assert op.order_param is None or op.order_param in op.params, op
    assert operation_names() == tuple(sorted(names))


@pytest.mark.parametrize(
    ("method", "path", "name", "order"),
    [
        ("GET", "/api/oms/pvt/orders/o-1", "get-order", "o-1"),
        ("get", "/api/oms/pvt/orders/o%2F1", "get-order", "o/1"),
        ("POST", "/api/oms/pvt/orders/o-1/invoice", "invoice-notification", "o-1"),
        ("PATCH", "/api/order-system/orders/o-2/changes", "create-change", "o-2"),
        ("GET", "/api/order-system/orders/o-2/changes/cr-9", "get-change", "o-2"),
        ("GET", "/api/order-system/orders/changes/settings", "get-change-settings", None),
        ("GET", "/api/oms/pvt/orders", "list-orders", None),
        ("POST", "/api/orders/hook/config", "hook-configuration", None),
    ],
)
def test_match_operation_names_the_request_and_its_order(method: str, path: str, name: str, order: str | None) -> None:
    found = match_operation(method, path)
    assert found is not None
    op, params = found
    assert (op.name, op.order_id(params)) == (name, order)


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/api/oms/pvt/orders/o-1"), ("GET", "/_sim/orders/o-1"), ("GET", "/api/oms/pvt/orders/o-1/x/y")],
)
def test_a_request_no_operation_has_is_unnamed(method: str, path: str) -> None:
    assert match_operation(method, path) is None
