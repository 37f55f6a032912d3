"""The Accounting API as its tests and the cross-service race tests speak it: a real notification receiver, and
requests as the references spell them (tests/integration/test_accounting_api.py, tests/quality/test_reconciliation.py).

    await subscribe(sim, receiver)
    details = await outcome(sim, receiver, await write(sim, "/invoices", invoice_body("NF-1", (1, 2, 3))))
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import Sim

__all__ = [
    "ALL_TYPES",
    "CUSTOMER",
    "Receiver",
    "inspect",
    "invoice_body",
    "outcome",
    "path",
    "subscribe",
    "write",
]


class Receiver:
    """A callback endpoint on loopback: records every notification POSTed, answers the statuses it is told."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []  # statuses to answer, in order; 200 once exhausted
        app = web.Application()
        app.router.add_post("/notifications", self._handle)
        self.server = TestServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/notifications"))

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The `parameters` of every notification of type `accounting/<kind>`, in arrival order."""
        return [n["parameters"] for n in self.received if n["type"] == f"accounting/{kind}"]

    def edi(self, internal_id: str) -> dict[str, Any]:
        """The `details` of the one EDIErrorSent answering request `internal_id`."""
        found = [p for p in self.of("EDIErrorSent") if p["internalRequestId"] == internal_id]
        assert len(found) == 1, f"expected one EDIErrorSent for {internal_id}, got {found}"
        return dict(found[0]["details"])


ALL_TYPES = [
    "accounting/EDIErrorSent",
    "accounting/invoiceCreated",
    "accounting/refundCompleted",
    "accounting/paymentReceived",
]


async def subscribe(sim: Sim, receiver: Receiver, types: list[str] | None = None) -> dict[str, Any]:
    body = {"callbackUrl": receiver.url, "notificationTypes": ALL_TYPES if types is None else types}
    _, answer = await sim.call("POST", "/administration/v1/notification-callbacks", body=body, expect=200)
    return dict(answer)


CUSTOMER = "CUS-1"


def path(ref: str = "ORD1", suffix: str = "", *, customer: str = CUSTOMER, business: str = "1000") -> str:
    """An accounting path; an empty `ref` is the create-order route (`.../orders`)."""
    order = f"/{ref}" if ref else ""
    return f"/accounting/v1/businesses/{business}/customers/{customer}/orders{order}{suffix}"


def invoice_body(reference: str = "IDE12345678901", items: tuple[int, ...] = (1,)) -> dict[str, Any]:
    """The sample of the create-invoice use case."""
    return {
        "dispatchDate": "2018-11-06",
        "dueDate": "2018-11-05",
        "invoiceDate": "2018-11-04",
        "items": [{"orderItemReference": i} for i in items],
        "invoiceReference": reference,
        "shipmentReference": "S01234567",
    }


async def write(
    sim: Sim,
    suffix: str,
    body: dict[str, Any],
    *,
    ref: str = "ORD1",
    method: str = "POST",
    customer: str = CUSTOMER,
    headers: dict[str, str] | None = None,
) -> str:
    """Send one accounting write; it must be accepted at once (200); returns its internalRequestId."""
    _, answer = await sim.call(method, path(ref, suffix, customer=customer), body=body, headers=headers, expect=200)
    assert set(answer) == {"internalRequestId"}
    uuid.UUID(answer["internalRequestId"])
    return str(answer["internalRequestId"])


async def outcome(sim: Sim, receiver: Receiver, internal_id: str) -> dict[str, Any]:
    """Wait until the simulator is idle (deliveries included) and return the request's EDIErrorSent details."""
    await sim.quiesce()
    return receiver.edi(internal_id)


async def inspect(sim: Sim, ref: str = "ORD1") -> dict[str, Any]:
    _, doc = await sim.call("GET", f"/_sim/accounting/orders/{ref}", expect=200)
    return dict(doc)
