"""Answers for a caller in the same process: what the control API (and the Orders API's order read) would answer
over HTTP, status and JSON alike, without a socket.

Virtual mode's harness uses it for its own requests (seeding, settling, reading the final state), so a run costs
only the requests of the integration under test. Each method runs what the route runs (`control_api.seed`,
`settle`, `inspect`, `journal_of`, `move`; `OrdersService.get_order` and `order_document`;
`AccountingService.inspect`), validates a body as the route would, and turns an `ApiError` into the route's error
status and body. Those functions build their answers from JSON types only (dict, list, str, int, float, bool,
None), so the caller holds what it would have parsed from the wire without a trip through JSON
(`tests/integration/test_local_answers.py` compares both, types included). An answer may share parts the
simulator never changes once written (a journal entry's `detail`): read it, do not change it. Not counted in
`/_sim/metrics`' request counts (they count HTTP requests).

    local = LocalAnswers(app)
    status, answer = await local.seed_order({"items": [{"id": "sku-1", "price": 1000, "quantity": 1}]})

Imports: stdlib, aiohttp (types), `simulator.*`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..orders.documents import order_document
from . import control_api
from ._state import ACCOUNTING, ORDERS
from .app import error_answer
from .routing import validate_json

__all__ = ["LocalAnswers"]

Answer = tuple[int, Any]


class LocalAnswers:
    """The simulator's HTTP answers for the requests a harness makes, computed in process."""

    __slots__ = ("_app",)

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def seed_order(self, body: Mapping[str, Any]) -> Answer:
        """`POST /_sim/orders`."""
        app, raw = self._app, json.dumps(body)
        return await _answer(lambda: control_api.seed(app, validate_json(control_api.SeedOrderBody, raw)), status=201)

    async def quiesce(self, key: str, *, timeout_s: float) -> Answer:
        """`POST /_sim/quiesce` for one order id or Accounting reference."""
        app, body = self._app, json.dumps({"orderId": key, "timeout_ms": timeout_s * 1000})
        return await _answer(lambda: control_api.settle(app, validate_json(control_api.QuiesceBody, body)))

    async def inspect_order(self, order_id: str) -> Answer:
        """`GET /_sim/orders/{orderId}`."""
        return await _answer(lambda: control_api.inspect(self._app, order_id))

    async def journal(self, order_id: str) -> Answer:
        """`GET /_sim/journal?orderId=...`."""
        return await _answer(lambda: control_api.journal_of(self._app, order_id))

    async def accounting_order(self, reference: str) -> Answer:
        """`GET /_sim/accounting/orders/{orderReference}`."""
        return await _answer(lambda: self._app[ACCOUNTING].inspect(reference))

    async def move_status(self, order_id: str, status: str) -> Answer:
        """`POST /_sim/orders/{orderId}/status`."""
        app, body = self._app, json.dumps({"status": status})
        return await _answer(lambda: control_api.move(app, order_id, validate_json(control_api.StatusBody, body)))

    async def get_order(self, order_id: str) -> Answer:
        """`GET /api/oms/pvt/orders/{orderId}` as the harness sends it (no fault), its delays and lag included."""
        orders = self._app[ORDERS]
        try:
            order = await orders.get_order(order_id)
        except ApiError as exc:
            return error_answer(exc, "orders")
        cached = orders.documents.get(order_id)
        if cached is not None and cached[0] is order:
            return 200, cached[1]
        document = order_document(order)  # versions are immutable: render each once (callers only read it)
        orders.documents[order_id] = (order, document)
        return 200, document


async def _answer(work: Callable[[], Any], *, status: int = 200) -> Answer:
    """Run a route's function (plain or async) as its handler would: its answer, or its error as HTTP shows it."""
    try:
        answer = work()
        if inspect.isawaitable(answer):
            answer = await answer
    except ApiError as exc:
        return error_answer(exc, "control")
    return status, answer
