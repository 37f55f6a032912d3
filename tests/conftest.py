"""Shared fixtures: an in-process simulator (real HTTP over loopback) and helpers to drive it.

Tests marked `@pytest.mark.looptime` run the server and the client on a virtual clock: `asyncio.sleep(0.1)` in a
test advances time exactly and instantly, so fixed-delay races replay identically without real sleeping.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimConfig, create_app, load_profile
from simulator.web._state import CORE, ORDERS, ROUTES
from simulator.web.routing import openapi_document

ITEMS = [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}]
"""The DESIGN's example order: 2 x 49.90 + 15.00 + 10.00 shipping = 124.80."""
SHIPPING = 1000
VALUE = 4990 * 2 + 1500 + SHIPPING


@dataclass
class Sim:
    """A running simulator and a client bound to it."""

    client: TestClient[Any, Any]

    @property
    def app(self) -> Any:
        return self.client.server.app  # type: ignore[union-attr]

    @property
    def core(self) -> Any:
        return self.app[CORE]

    @property
    def orders(self) -> Any:
        return self.app[ORDERS]

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        expect: int | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; returns (status, decoded JSON or None), checked against /openapi.json."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        resp = await self.client.request(method, path, data=data, headers=hdrs)
        payload = await _decode(resp)
        conforms(self.app, method, path, resp.status, payload)
        if expect is not None:
            assert resp.status == expect, f"{method} {path}: {resp.status} {payload}"
        return resp.status, payload

    async def seed(
        self,
        order_id: str = "ORD-1",
        *,
        items: list[dict[str, Any]] | None = None,
        shipping: int = SHIPPING,
        status: str = "handling",
        **extra: Any,
    ) -> str:
        body = {"orderId": order_id, "items": items or ITEMS, "shipping": shipping, "status": status, **extra}
        _, answer = await self.call("POST", "/_sim/orders", body=body, expect=201)
        return str(answer["orderId"])

    async def order(self, order_id: str = "ORD-1") -> dict[str, Any]:
        _, doc = await self.call("GET", f"/api/oms/pvt/orders/{order_id}", expect=200)
        return dict(doc)

    async def invoice(
        self,
        order_id: str = "ORD-1",
        value: int = VALUE,
        number: str = "NF-1",
        *,
        expect: int | None = 200,
        type: str = "Output",
    ) -> tuple[int, Any]:
        body = {
            "type": type,
            "issuedDate": "2026-11-21",
            "invoiceNumber": number,
            "invoiceValue": value,
            "items": [{"itemIndex": 0, "price": 9980, "quantity": 2}],
        }
        return await self.call("POST", f"/api/orders/pvt/document/{order_id}/invoices", body=body, expect=expect)

    async def change(
        self, order_id: str = "ORD-1", *, sku: str = "sku-2", quantity: int = 1, expect: int | None = 202
    ) -> tuple[int, Any]:
        body = {
            "reason": "The client wants to remove a product.",
            "remove": {"items": [{"id": sku, "quantity": quantity}]},
        }
        return await self.call("PATCH", f"/api/order-system/orders/{order_id}/changes", body=body, expect=expect)

    async def quiesce(self, order_id: str | None = None) -> None:
        body = {"orderId": order_id} if order_id else {}
        _, answer = await self.call("POST", "/_sim/quiesce", body=body, expect=200)
        assert answer["idle"], answer

    async def patch_config(self, patch: dict[str, Any]) -> dict[str, Any]:
        _, config = await self.call("PATCH", "/_sim/config", body=patch, expect=200)
        return dict(config)

    async def journal(self, order_id: str = "ORD-1") -> list[dict[str, Any]]:
        _, doc = await self.call("GET", f"/_sim/journal?orderId={order_id}", expect=200)
        return list(doc["entries"])


async def _decode(resp: ClientResponse) -> Any:
    text = await resp.text()
    if not text:
        return None
    assert resp.content_type == "application/json", f"{resp.status} {resp.content_type}: {text[:200]}"
    return json.loads(text)


_SPECS: dict[int, dict[str, Any]] = {}


def _spec(app: Any) -> dict[str, Any]:
    """The app's OpenAPI document (every app serves the same routes, so one per route table)."""
    key = len(app[ROUTES])
    if key not in _SPECS:
        _SPECS[key] = openapi_document(app[ROUTES], title="t", version="0")
    return _SPECS[key]


def conforms(app: Any, method: str, path: str, status: int, payload: Any) -> None:
    """Assert that an answer matches the response schema /openapi.json declares for it."""
    spec = _spec(app)
    route = _match(spec, method, path.split("?")[0])
    if route is None:
        return  # unknown route: the 404/405 shape is checked by the tests that send them
    responses = route["responses"]
    declared = responses.get(str(status))
    assert declared is not None, f"{method} {path} answered {status}, which /openapi.json does not declare"
    schema = declared.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        assert payload is None, f"{method} {path} {status} should have no body, got {payload!r}"
        return
    root = {**schema, "components": spec["components"]}  # OpenAPI 3.1 schemas are JSON Schema as they stand
    jsonschema.validate(payload, root)


def _match(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    parts = path.strip("/").split("/")
    for template, ops in spec["paths"].items():
        tparts = template.strip("/").split("/")
        same = len(tparts) == len(parts) and all(
            t.startswith("{") or t == p for t, p in zip(tparts, parts, strict=True)
        )
        if same and method.lower() in ops:
            return dict(ops[method.lower()])
    return None


SimFactory = Callable[..., Awaitable[Sim]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """`sim = await make_sim("fixed", consistency="serializable")`: a fresh simulator for this test."""
    clients: list[TestClient[Any, Any]] = []

    async def start(profile: str | SimConfig = "instant", **overrides: Any) -> Sim:
        config = profile if isinstance(profile, SimConfig) else load_profile(profile, overrides=overrides)
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(config)))
        await client.start_server()
        clients.append(client)
        return Sim(client)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def sim(make_sim: SimFactory) -> Sim:
    """A simulator with every delay zero (`instant` profile), snapshot consistency."""
    return await make_sim("instant")
