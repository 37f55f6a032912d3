"""The simulator's control API as effects: the one definition of every request the harness makes for itself.

Owns a builder per control operation (seeding an order, settling, reading an order's versions, its journal, an
Accounting order, moving an order's status, the final order as the Orders API serves it, the feed's configuration,
configuring the order hook) and the flows built from them that every driver runs the same way: `seed` (before the
clock starts), `final_state` (after the run), `configure_hook`. A driver performs each `Control` over HTTP with
`X-Racelab-Control: 1` (the simulator never injects a fault into those requests), or answers it in process (virtual
mode, by `op` and `args`).

    status = yield control.move_status(run.order_id, "handling")
    final, journal = yield from control.final_state(spec, settle_s=30.0)

Imports: stdlib, `harness.integrations.flow`, `harness.model`, `harness.errors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from harness.errors import HarnessConnectionError
from harness.integrations.flow import Answer, Control, Flow
from harness.model.records import FinalState, RunSpec

__all__ = [
    "accounting_order",
    "accounting_ref",
    "configure_hook",
    "feed_config",
    "final_state",
    "get_order",
    "inspect_order",
    "journal",
    "move_status",
    "quiesce",
    "seed",
    "seed_body",
    "seed_order",
]


def seed_order(order: Mapping[str, Any]) -> Control:
    """Create an order directly in its status (`POST /_sim/orders`): 201 and its summary."""
    return Control("seed_order", "POST", "/_sim/orders", json=dict(order), args={"body": dict(order)})


def quiesce(key: str, *, timeout_s: float) -> Control:
    """`POST /_sim/quiesce` for `key` (an order id or an Accounting reference): `{"idle": bool, ...}` once the
    simulator has no work pending for it, or the time ran out."""
    return Control(
        "quiesce",
        "POST",
        "/_sim/quiesce",
        json={"orderId": key, "timeout_ms": timeout_s * 1000},
        args={"key": key, "timeout_s": timeout_s},
        timeout_s=timeout_s + 10,
    )


def inspect_order(order_id: str) -> Control:
    """The order's kept versions and Changes (`GET /_sim/orders/{orderId}`)."""
    return Control("inspect_order", "GET", f"/_sim/orders/{order_id}", args={"order_id": order_id})


def journal(order_id: str) -> Control:
    """The order's journal entries (`GET /_sim/journal?orderId=`)."""
    return Control("journal", "GET", f"/_sim/journal?orderId={order_id}", args={"order_id": order_id})


def accounting_order(reference: str) -> Control:
    """The Accounting order's positions, invoices and outcomes (`GET /_sim/accounting/orders/{reference}`)."""
    return Control("accounting_order", "GET", f"/_sim/accounting/orders/{reference}", args={"reference": reference})


def move_status(order_id: str, status: str) -> Control:
    """Move the order to `status`; its hooks fire (`POST /_sim/orders/{orderId}/status`)."""
    return Control(
        "move_status",
        "POST",
        f"/_sim/orders/{order_id}/status",
        json={"status": status},
        args={"order_id": order_id, "status": status},
    )


def get_order(order_id: str) -> Control:
    """The order as the Orders API serves it (the final state a run is judged on), asked as the harness's own
    request (never faulted)."""
    return Control("get_order", "GET", f"/api/oms/pvt/orders/{order_id}", service="orders", args={"order_id": order_id})


def feed_config() -> Control:
    """The Orders feed's configuration (`GET /api/orders/feed/config`; 404 while none is configured), asked with the
    Orders credentials: a feed belongs to the app key that configured it."""
    return Control("feed_config", "GET", "/api/orders/feed/config", service="orders")


def configure_hook(url: str) -> Flow[None]:
    """Point the simulator's order hook (status `handling`) at `url`; the simulator pings it first.

    Raises:
        HarnessConnectionError: the simulator refused it (the subscriber did not answer its ping, say).
    """
    body = {"filter": {"type": "FromWorkflow", "status": ["handling"]}, "hook": {"url": url, "headers": {}}}
    answer = yield Control("configure_hook", "POST", "/api/orders/hook/config", json=body)
    if answer.status != 200:
        raise HarnessConnectionError(f"cannot configure the order hook to {url}: {answer.status} {answer.body}")


def accounting_ref(spec: RunSpec) -> str | None:
    """The run's Accounting order reference (at most 16 characters, as the service allows), if it has one."""
    accounting = spec.order.get("accounting")
    if not accounting:
        return None
    given = accounting.get("orderReference")
    return str(given) if given else "R" + hashlib.sha1(spec.order_id.encode()).hexdigest()[:15]


def seed_body(spec: RunSpec, status: str | None) -> dict[str, Any]:
    """What `POST /_sim/orders` gets for the run: the scenario's order, its id, its Accounting reference, and the
    status the integration needs it seeded in (None: the scenario's)."""
    order = dict(spec.order)
    order.setdefault("orderId", spec.order_id)
    if order.get("accounting"):
        order["accounting"] = {**order["accounting"], "orderReference": accounting_ref(spec)}
    if status is not None:
        order["status"] = status
    return order


def seed(spec: RunSpec, status: str | None) -> Flow[str | None]:
    """Seed the run's order (before the clock starts: seeding is not the race). The error, if it failed."""
    try:
        answer = yield seed_order(seed_body(spec, status))
    except HarnessConnectionError as exc:
        return f"seeding order {spec.order_id} failed: {exc}"
    if answer.status != 201:
        return f"seeding order {spec.order_id} failed: {answer.status} {answer.body}"
    return None


def final_state(spec: RunSpec, *, settle_s: float) -> Flow[tuple[FinalState, tuple[Mapping[str, Any], ...]]]:
    """The run's final state and journal, as it is judged: once the simulator settled, the order as the Orders API
    serves it, its versions and Changes, its journal, and the Accounting order's state (settled too) when the run
    has one. A request that could not be made leaves the state unsettled, with the reason."""
    accounting = None
    try:
        quiet = _idle((yield quiesce(spec.order_id, timeout_s=settle_s)))
        order: Answer = yield get_order(spec.order_id)
        inspected: Answer = yield inspect_order(spec.order_id)
        entries: Answer = yield journal(spec.order_id)
        if (ref := accounting_ref(spec)) is not None:
            yield quiesce(ref, timeout_s=settle_s)
            acc: Answer = yield accounting_order(ref)
            accounting = acc.body if acc.status == 200 else None
    except HarnessConnectionError as exc:
        return FinalState(order={}, settled=False, accounting={"error": str(exc)}), ()
    inspection = inspected.body or {}
    final = FinalState(
        order=order.body if order.status == 200 else {},
        versions=tuple(inspection.get("versions") or ()),
        changes=tuple(inspection.get("changes") or ()),
        accounting=accounting,
        settled=quiet,
        public=bool(inspection.get("public")),  # a control-free client read it from outside
    )
    return final, tuple((entries.body or {}).get("entries") or ())


def _idle(answer: Answer) -> bool:
    return bool(isinstance(answer.body, Mapping) and answer.body.get("idle"))
