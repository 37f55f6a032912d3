"""Every documented request example of the published Orders API, sent unchanged to the simulator (issue 15).

This is the issue's acceptance test, route by route. For each operation racelab serves and each request example the
published document gives it (`published.json`, see `schema.py`), a case seeds an order the example fits (its items,
quantities and prices, so that the example's values are consistent), makes through the API whatever state the
operation needs (an invoice to track, a Change to read, a configured feed…), sends the example unchanged, and checks
that the answer has the documented success status and validates against the published answer schema. An operation
without a documented request body gets one case, `no-body`; ListOrders gets one more per query example that matters.
A case is named `<operationId>-<example>`, so a failure names the route and the example.

Setup goes through the control API (`/_sim/orders`, `/_sim/config`, `/_sim/quiesce`) and the Orders routes; a failed
setup step says so (`setup: …`), which means the route the setup used is the one at fault.

Imports: pytest, aiohttp's test client (through the `sim` fixture of tests/conftest.py), `tests.fidelity.schema`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import Sim
from tests.support.published import (
    missing_properties,
    operation,
    operation_ids,
    parameter_example,
    request_examples,
    response_example,
    success_statuses,
    validate_answer,
)

NO_BODY = "no-body"

# Order ids as the document's own path-parameter examples spell them.
OMS_ORDER = "1172452900788-01"  # GetOrder, StartHandling, CancelOrder, RegisterChange, InvoiceNotification, …
CHANGE_ORDER = "v12772213qst-02"  # the Changes v2 operations' `changeOrderId`
PII_ORDER = "v71021948str-01"  # the PII document's `orderId`
TRACKED_INVOICE = "000030711"  # the tracking operations' `invoiceNumber`

# A hook/feed configuration used only as setup for the GET and DELETE cases, so that those cases fail for their own
# route and not for the FromOrders example (whose own cases are HookConfiguration-example / FeedConfiguration-example).
WORKFLOW_FILTER = {"type": "FromWorkflow", "status": ["handling", "invoiced"]}
HOOK_SETUP = {"filter": WORKFLOW_FILTER, "hook": {"url": "https://endpoint.example/path"}}
FEED_SETUP = {
    "filter": WORKFLOW_FILTER,
    "queue": {"visibilityTimeoutInSeconds": 250, "MessageRetentionPeriodInSeconds": 345600},
}

# The Changes v2 examples replace item "1" by item "2", giving only `id`, `quantity`, `measurementUnit` and
# `unitMultiplier` for "2": "the other attributes are obtained from the request or the Catalog system" (help center,
# docs/en/tutorials/orders/all-orders/adapting-your-integration-for-order-modifications.md).
CATALOG = {"2": {"price": 833, "measurement_unit": "kg", "unit_multiplier": 3.0}}


@dataclass
class Answer:
    """What the operation under test answered, plus problems a scenario found in what followed it."""

    method: str
    path: str
    status: int
    body: Any
    text: str
    after: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def describe(self) -> str:
        return f"{self.method} {self.path} answered {self.status}: {self.text[:600]}"


@dataclass
class Api:
    """Raw HTTP to the simulator: the published document, not the simulator's own /openapi.json, judges answers."""

    sim: Sim

    async def send(self, method: str, path: str, body: Any = None, *, query: dict[str, Any] | None = None) -> Answer:
        url = f"{path}?{urlencode(query)}" if query else path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        resp = await self.sim.client.request(method, url, data=data, headers=headers)
        text = await resp.text()
        try:
            decoded = json.loads(text) if text else None
        except ValueError:
            decoded = text
        return Answer(method, url, resp.status, decoded, text)

    async def setup(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int | tuple[int, ...] = 200,
        query: dict[str, Any] | None = None,
    ) -> Any:
        """A step that makes the state an operation needs; it must succeed for the case to mean anything."""
        answer = await self.send(method, path, body, query=query)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert answer.status in wanted, f"setup: {answer.describe()} (wanted {wanted})"
        return answer.body

    async def seed(
        self, order_id: str, items: list[tuple[str, int, int]], *, shipping: int = 0, status: str = "handling"
    ) -> None:
        """An order with `(id, unit price in cents, quantity)` lines, put straight into `status`."""
        lines = [{"id": sku, "price": price, "quantity": quantity} for sku, price, quantity in items]
        body = {"orderId": order_id, "items": lines, "shipping": shipping, "status": status}
        await self.setup("POST", "/_sim/orders", body, expect=201)

    async def configure(self, patch: dict[str, Any]) -> None:
        await self.setup("PATCH", "/_sim/config", patch)

    async def quiesce(self, order_id: str) -> None:
        answer = await self.setup("POST", "/_sim/quiesce", {"orderId": order_id})
        assert answer["idle"], f"setup: order {order_id} never settled: {answer}"

    async def order(self, order_id: str) -> dict[str, Any]:
        return dict(await self.setup("GET", f"/api/oms/pvt/orders/{order_id}"))


Scenario = Callable[[Api, str, Any], Awaitable[Answer]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(operation_id: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[operation_id] = fn
        return fn

    return register


def path_of(operation_id: str, **values: str) -> str:
    """The published path with its parameters filled in."""
    path = str(operation(operation_id)["path"])
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"{operation_id}: unfilled parameter in {path}"
    return path


def query_examples(operation_id: str, *names: str) -> dict[str, Any]:
    """The documented examples of some query parameters (`an=storeName` and the like)."""
    return {name: parameter_example(operation_id, name) for name in names}


async def send_example(
    api: Api, operation_id: str, body: Any, *, query: dict[str, Any] | None = None, **path_values: str
) -> Answer:
    return await api.send(operation(operation_id)["method"], path_of(operation_id, **path_values), body, query=query)


# -- the order itself --------------------------------------------------------------------------------------------


@scenario("GetOrder")
async def get_order(api: Api, example: str, body: Any) -> Answer:
    await api.seed(OMS_ORDER, [("18", 990, 1)], shipping=300)
    answer = await send_example(api, "GetOrder", body, orderId=OMS_ORDER)
    if answer.ok and answer.body.get("orderId") != OMS_ORDER:
        answer.after.append(f"the document is of order {answer.body.get('orderId')!r}, not {OMS_ORDER!r}")
    return answer


@scenario("GetOrder2")
async def get_order_pii(api: Api, example: str, body: Any) -> Answer:
    await api.seed(PII_ORDER, [("5658771", 9950, 2)])
    query = query_examples("GetOrder2", "reason")
    answer = await send_example(api, "GetOrder2", body, query=query, orderId=PII_ORDER)
    if answer.ok and answer.body.get("orderId") != PII_ORDER:
        answer.after.append(f"the document is of order {answer.body.get('orderId')!r}, not {PII_ORDER!r}")
    return answer


LIST_CASES = ("f_status", "page+per_page")


@scenario("ListOrders")
async def list_orders(api: Api, example: str, body: Any) -> Answer:
    await api.seed("list-ready-01", [("1", 2499, 1)], status="ready-for-handling")
    await api.seed("list-handling-01", [("1", 2499, 1)], status="handling")
    if example == NO_BODY:
        answer = await send_example(api, "ListOrders", body)
        if answer.ok:
            listed = {entry.get("orderId") for entry in answer.body.get("list", [])}
            if not {"list-ready-01", "list-handling-01"} <= listed:
                answer.after.append(f"the unfiltered list misses seeded orders: it has {sorted(listed)}")
        return answer
    if example == "f_status":
        query = query_examples("ListOrders", "f_status")  # ready-for-handling
        answer = await send_example(api, "ListOrders", body, query=query)
        if answer.ok:
            listed = [entry.get("orderId") for entry in answer.body.get("list", [])]
            if listed != ["list-ready-01"]:
                answer.after.append(f"f_status={query['f_status']} lists {listed}, wanted ['list-ready-01']")
        return answer
    query = query_examples("ListOrders", "page", "per_page")  # 10, 15: past the end of two orders
    answer = await send_example(api, "ListOrders", body, query=query)
    if answer.ok:
        paging = answer.body.get("paging", {})
        if (paging.get("currentPage"), paging.get("perPage"), paging.get("total")) != (10, 15, 2):
            answer.after.append(f"paging {paging}: wanted currentPage 10, perPage 15, total 2")
        if answer.body.get("list"):
            answer.after.append("page 10 of two orders should be empty")
    return answer


# -- workflow: start handling, cancel ------------------------------------------------------------------------------


@scenario("StartHandling")
async def start_handling(api: Api, example: str, body: Any) -> Answer:
    await api.seed(OMS_ORDER, [("1", 2499, 1)], status="ready-for-handling")
    answer = await send_example(api, "StartHandling", body, orderId=OMS_ORDER)
    if answer.ok and (status := (await api.order(OMS_ORDER))["status"]) != "handling":
        answer.after.append(f"after start-handling the order is {status!r}, not 'handling'")
    return answer


@scenario("StartHandling2")
async def start_handling_pii(api: Api, example: str, body: Any) -> Answer:
    await api.seed(PII_ORDER, [("1", 2499, 1)], status="ready-for-handling")
    answer = await send_example(api, "StartHandling2", body, orderId=PII_ORDER)
    if answer.ok and (status := (await api.order(PII_ORDER))["status"]) != "handling":
        answer.after.append(f"after start-handling the order is {status!r}, not 'handling'")
    return answer


async def cancel(api: Api, operation_id: str, order_id: str, body: Any) -> Answer:
    await api.seed(order_id, [("1", 2499, 1)], status="ready-for-handling")
    answer = await send_example(api, operation_id, body, orderId=order_id)
    if answer.ok:
        await api.quiesce(order_id)
        if (status := (await api.order(order_id))["status"]) not in ("cancel", "canceled"):
            answer.after.append(f"after the cancel the order is {status!r}")
    return answer


@scenario("CancelOrder")
async def cancel_order(api: Api, example: str, body: Any) -> Answer:
    return await cancel(api, "CancelOrder", OMS_ORDER, body)


@scenario("CancelOrder2")
async def cancel_order_pii(api: Api, example: str, body: Any) -> Answer:
    return await cancel(api, "CancelOrder2", PII_ORDER, body)


# -- invoices and tracking ---------------------------------------------------------------------------------------


def packages(order: dict[str, Any]) -> list[dict[str, Any]]:
    return list((order.get("packageAttachment") or {}).get("packages") or [])


@scenario("InvoiceNotification")
async def invoice_oms(api: Api, example: str, body: Any) -> Answer:
    # The example invoices item "123" x2 at a unit price of 2499 (the OMS form's `price` is the unit price: "the VTEX
    # system will multiply the price over the quantity") with invoiceValue "2499": a partial invoice of an order of
    # 2 x 24.99, which the platform accepts.
    await api.seed(OMS_ORDER, [("123", 2499, 2)])
    answer = await send_example(api, "InvoiceNotification", body, orderId=OMS_ORDER)
    if answer.ok:
        numbers = [p.get("invoiceNumber") for p in packages(await api.order(OMS_ORDER))]
        if body["invoiceNumber"] not in numbers:
            answer.after.append(f"no package {body['invoiceNumber']!r} on the order: {numbers}")
    return answer


@scenario("InvoiceNotification2")
async def invoice_pii(api: Api, example: str, body: Any) -> Answer:
    # The PII form's `price` is the line total: 3 x 8.33 = 24.99 = invoiceValue, the whole order.
    await api.seed(PII_ORDER, [("1", 833, 3)])
    answer = await send_example(api, "InvoiceNotification2", body, orderId=PII_ORDER)
    if answer.ok:
        numbers = [p.get("invoiceNumber") for p in packages(await api.order(PII_ORDER))]
        if body["invoiceNumber"] not in numbers:
            answer.after.append(f"no package {body['invoiceNumber']!r} on the order: {numbers}")
    return answer


TRACKED_INVOICE_BODY = {
    "type": "Output",
    "issuanceDate": "2024-01-31T18:25:43-05:00",
    "invoiceNumber": TRACKED_INVOICE,
    "invoiceValue": "2499",
    "items": [{"id": "123", "price": 2499, "quantity": 1}],
}
"""An OMS-form invoice of the whole order, numbered as the tracking examples' `invoiceNumber`."""


@scenario("Updatepartialinvoice.SendTrackingNumber")
async def tracking_patch(api: Api, example: str, body: Any) -> Answer:
    await api.seed(OMS_ORDER, [("123", 2499, 1)])
    await api.setup("POST", path_of("InvoiceNotification", orderId=OMS_ORDER), TRACKED_INVOICE_BODY)
    answer = await send_example(
        api, "Updatepartialinvoice.SendTrackingNumber", body, orderId=OMS_ORDER, invoiceNumber=TRACKED_INVOICE
    )
    if answer.ok:
        tracked = [p.get("trackingNumber") for p in packages(await api.order(OMS_ORDER))]
        if tracked != [body["trackingNumber"]]:
            answer.after.append(f"the package's trackingNumber is {tracked}, not [{body['trackingNumber']!r}]")
    return answer


@scenario("UpdateTrackingStatus")
async def tracking_put(api: Api, example: str, body: Any) -> Answer:
    await api.seed(OMS_ORDER, [("123", 2499, 1)])
    await api.setup("POST", path_of("InvoiceNotification", orderId=OMS_ORDER), TRACKED_INVOICE_BODY)
    return await send_example(api, "UpdateTrackingStatus", body, orderId=OMS_ORDER, invoiceNumber=TRACKED_INVOICE)


# -- Change v1 -----------------------------------------------------------------------------------------------------


@scenario("RegisterChange")
async def change_v1(api: Api, example: str, body: Any) -> Answer:
    # The example removes one "0" at 24.99 and adds it back, with a discount and an increment of 1.00 each.
    await api.seed(OMS_ORDER, [("0", 2499, 1), ("1", 1000, 1)])
    return await send_example(api, "RegisterChange", body, orderId=OMS_ORDER)


# -- Changes v2 ------------------------------------------------------------------------------------------------------


REMOVE_ONE = {"reason": "The client wants to remove a product.", "remove": {"items": [{"id": "9", "quantity": 1}]}}


async def finished_change(api: Api) -> str:
    """A Change made through the API and settled; returns its requestId."""
    await api.seed(CHANGE_ORDER, [("1", 2499, 1), ("9", 1000, 1)])
    created = await api.setup("PATCH", path_of("Createchange", changeOrderId=CHANGE_ORDER), REMOVE_ONE, expect=202)
    await api.quiesce(CHANGE_ORDER)
    return str(created["requestId"])


async def stopped_change(api: Api, body: Any) -> str:
    """A Change stopped on a system error (every attempt fails, one attempt allowed); returns its requestId."""
    await api.configure({"orders": {"catalog": CATALOG, "change_failure_rate": 1.0, "change_max_attempts": 1}})
    await api.seed(CHANGE_ORDER, [("1", 2499, 1), ("9", 1000, 1)])
    created = await api.setup("PATCH", path_of("Createchange", changeOrderId=CHANGE_ORDER), body, expect=202)
    await api.quiesce(CHANGE_ORDER)
    await api.configure({"orders": {"change_failure_rate": 0.0}})
    return str(created["requestId"])


@scenario("Createchange")
async def create_change(api: Api, example: str, body: Any) -> Answer:
    await api.configure({"orders": {"catalog": CATALOG}})
    await api.seed(CHANGE_ORDER, [("1", 2499, 1), ("9", 1000, 1)])
    query = query_examples("Createchange", "accountName")
    return await send_example(api, "Createchange", body, query=query, changeOrderId=CHANGE_ORDER)


@scenario("PreviewChange")
async def preview_change(api: Api, example: str, body: Any) -> Answer:
    # The preview example replaces two "12345" at 24.99 (not "1" as the other examples do).
    await api.configure({"orders": {"catalog": CATALOG}})
    await api.seed(CHANGE_ORDER, [("12345", 2499, 2), ("9", 1000, 1)])
    query = query_examples("PreviewChange", "an")
    return await send_example(api, "PreviewChange", body, query=query, changeOrderId=CHANGE_ORDER)


@scenario("GetChangeHistory")
async def change_history(api: Api, example: str, body: Any) -> Answer:
    request_id = await finished_change(api)
    query = query_examples("GetChangeHistory", "an")
    answer = await send_example(api, "GetChangeHistory", body, query=query, changeOrderId=CHANGE_ORDER)
    if answer.ok and request_id not in [r.get("requestId") for r in answer.body.get("requests", [])]:
        answer.after.append(f"the history does not list the Change {request_id}")
    return answer


@scenario("GetChangeDetail")
async def change_detail(api: Api, example: str, body: Any) -> Answer:
    request_id = await finished_change(api)
    query = query_examples("GetChangeDetail", "an")
    answer = await send_example(
        api, "GetChangeDetail", body, query=query, changeOrderId=CHANGE_ORDER, changeRequestId=request_id
    )
    if answer.ok and answer.body.get("requestId") != request_id:
        answer.after.append(f"the details are of {answer.body.get('requestId')!r}, not {request_id!r}")
    return answer


@scenario("GetChangeSummary")
async def change_summary(api: Api, example: str, body: Any) -> Answer:
    await finished_change(api)
    return await send_example(api, "GetChangeSummary", body, orderId=CHANGE_ORDER)


@scenario("RetryChange")
async def retry_change(api: Api, example: str, body: Any) -> Answer:
    request_id = await stopped_change(api, body)
    query = query_examples("RetryChange", "an")
    answer = await send_example(
        api, "RetryChange", body, query=query, changeOrderId=CHANGE_ORDER, changeRequestId=request_id
    )
    if answer.ok:
        await api.quiesce(CHANGE_ORDER)
        detail = await api.setup(
            "GET", path_of("GetChangeDetail", changeOrderId=CHANGE_ORDER, changeRequestId=request_id)
        )
        if detail.get("inProgress") or detail.get("finished") is False:
            answer.after.append(f"after the retry the Change is not finished: {detail.get('status')!r}")
    return answer


@scenario("CancelChangeStoppedonError")
async def cancel_change(api: Api, example: str, body: Any) -> Answer:
    retried = request_examples("RetryChange")["example"]  # the documented body of a Change that stops on error
    request_id = await stopped_change(api, retried)
    query = query_examples("CancelChangeStoppedonError", "an")
    return await send_example(
        api, "CancelChangeStoppedonError", body, query=query, changeOrderId=CHANGE_ORDER, changeRequestId=request_id
    )


@scenario("GetChangeSettings")
async def get_change_settings(api: Api, example: str, body: Any) -> Answer:
    return await send_example(api, "GetChangeSettings", body, query=query_examples("GetChangeSettings", "an"))


@scenario("UpdateChangeSettings")
async def put_change_settings(api: Api, example: str, body: Any) -> Answer:
    query = query_examples("UpdateChangeSettings", "an")
    answer = await send_example(api, "UpdateChangeSettings", body, query=query)
    if answer.ok:
        stored = await api.setup("GET", path_of("GetChangeSettings"), query=query)
        if stored.get("paymentConfiguration") != body["paymentConfiguration"]:
            answer.after.append(f"GET settings after the PUT: {stored.get('paymentConfiguration')}")
    return answer


# -- hooks, feed, JSONata ----------------------------------------------------------------------------------------


async def without_ping(api: Api) -> None:
    # The examples' hook URL (https://endpoint.example/path) does not exist; the platform pings the URL it is given,
    # so the simulator's ping is switched off rather than the example changed.
    await api.configure({"orders": {"hook": {"ping_on_config": False}}})


@scenario("HookConfiguration")
async def hook_configuration(api: Api, example: str, body: Any) -> Answer:
    """The published 200 schema and example of HookConfiguration are the hook *notification* (Domain, OrderId,
    State, ..., Origin) that the configured URL receives, not an answer to the configuration call. So the example is
    sent unchanged and must be answered 200; then the same filter is configured towards a receiver of this test, an
    order is made to match it, and the notification delivered is what the published schema judges."""
    await without_ping(api)
    answer = await send_example(api, "HookConfiguration", body)
    if not answer.ok:
        return answer
    received: list[Any] = []
    arrived = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        arrived.set()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    async with TestServer(app) as receiver:
        hook = {"filter": body["filter"], "hook": {"url": str(receiver.make_url("/hook")), "headers": {"key": "v"}}}
        await api.setup("POST", path_of("HookConfiguration"), hook)
        await api.seed(OMS_ORDER, [("1", 2499, 1)], status="ready-for-handling")
        await api.setup("POST", f"/api/oms/pvt/orders/{OMS_ORDER}/start-handling", expect=204)
        await api.quiesce(OMS_ORDER)
        await asyncio.wait_for(arrived.wait(), timeout=10)
    return Answer(answer.method, answer.path, answer.status, received[0], json.dumps(received[0]), answer.after)


@scenario("GetHookConfiguration")
async def get_hook_configuration(api: Api, example: str, body: Any) -> Answer:
    await without_ping(api)
    await api.setup("POST", path_of("HookConfiguration"), HOOK_SETUP)
    return await send_example(api, "GetHookConfiguration", body)


@scenario("DeleteHookConfiguration")
async def delete_hook_configuration(api: Api, example: str, body: Any) -> Answer:
    await without_ping(api)
    await api.setup("POST", path_of("HookConfiguration"), HOOK_SETUP)
    return await send_example(api, "DeleteHookConfiguration", body)


@scenario("FeedConfiguration")
async def feed_configuration(api: Api, example: str, body: Any) -> Answer:
    answer = await send_example(api, "FeedConfiguration", body)
    if answer.ok:
        stored = await api.setup("GET", path_of("GetFeedConfiguration"))
        if stored.get("filter") != body["filter"]:
            answer.after.append(f"GET feed/config after the POST has filter {stored.get('filter')}")
    return answer


@scenario("GetFeedConfiguration")
async def get_feed_configuration(api: Api, example: str, body: Any) -> Answer:
    await api.setup("POST", path_of("FeedConfiguration"), FEED_SETUP)
    return await send_example(api, "GetFeedConfiguration", body)


@scenario("FeedConfigurationDelete")
async def delete_feed_configuration(api: Api, example: str, body: Any) -> Answer:
    await api.setup("POST", path_of("FeedConfiguration"), FEED_SETUP)
    return await send_example(api, "FeedConfigurationDelete", body)


@scenario("Getfeedorderstatus1")
async def read_feed(api: Api, example: str, body: Any) -> Answer:
    # The `maxlot` example is a Postman placeholder ("{{maxLot}}"); 10 is the documented maximum.
    await api.setup("POST", path_of("FeedConfiguration"), FEED_SETUP)
    await api.seed(OMS_ORDER, [("1", 2499, 1)], status="ready-for-handling")
    await api.setup("POST", path_of("StartHandling", orderId=OMS_ORDER), expect=204)
    await api.quiesce(OMS_ORDER)
    answer = await send_example(api, "Getfeedorderstatus1", body, query={"maxlot": 10})
    if answer.ok and OMS_ORDER not in [item.get("orderId") for item in answer.body or []]:
        answer.after.append(f"the feed has no item for {OMS_ORDER} after it moved to handling")
    return answer


@scenario("Commititemfeedorderstatus")
async def commit_feed(api: Api, example: str, body: Any) -> Answer:
    await api.setup("POST", path_of("FeedConfiguration"), FEED_SETUP)
    return await send_example(api, "Commititemfeedorderstatus", body)


@scenario("TestJSONataExpression")
async def jsonata(api: Api, example: str, body: Any) -> Answer:
    answer = await send_example(api, "TestJSONataExpression", body)
    documented = response_example("TestJSONataExpression", 200)
    if answer.ok and answer.body != documented:
        answer.after.append(f"answered {answer.body!r}; the document's answer to this example is {documented!r}")
    return answer


# -- the cases ---------------------------------------------------------------------------------------------------

EXTRA_CASES = {"ListOrders": LIST_CASES}


def cases() -> list[tuple[str, str]]:
    out = []
    for op in operation_ids():
        names = list(request_examples(op)) or [NO_BODY]
        out += [(op, name) for name in (*names, *EXTRA_CASES.get(op, ()))]
    return out


CASES = cases()
SHOWN = 12
"""Schema problems shown in a failure (a bare order document breaks dozens of rules)."""


def test_every_published_operation_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(operation_ids())


@pytest.mark.parametrize(("operation_id", "example"), CASES, ids=[f"{op}-{name}" for op, name in CASES])
async def test_published_example_is_accepted(sim: Sim, operation_id: str, example: str) -> None:
    body = request_examples(operation_id).get(example)
    answer = await SCENARIOS[operation_id](Api(sim), example, body)

    documented = success_statuses(operation_id)
    assert answer.status in documented, f"{operation_id} ({example}): {answer.describe()}; documented {documented}"
    problems = validate_answer(operation_id, answer.status, answer.body)
    if problems:
        shown = "\n".join(problems[:SHOWN])
        more = f"\n… and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        pytest.fail(f"{operation_id} ({example}): {len(problems)} breaks of the published schema:\n{shown}{more}")
    if answer.after:
        pytest.fail(f"{operation_id} ({example}): " + "; ".join(answer.after))


# -- the documented error codes the issue names ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["handling", "invoiced", "canceled"])
async def test_start_handling_in_the_wrong_status_is_409(sim: Sim, status: str) -> None:
    """StartHandling documents 409 (example: OMS003 "Order status should be ready-for-handling …")."""
    api = Api(sim)
    await api.seed(OMS_ORDER, [("1", 2499, 1)], status=status)
    before = (await api.order(OMS_ORDER))["status"]
    answer = await send_example(api, "StartHandling", None, orderId=OMS_ORDER)
    assert answer.status == 409, answer.describe()
    assert validate_answer("StartHandling", 409, answer.body) == []
    assert (await api.order(OMS_ORDER))["status"] == before


# -- the order document: every published top-level property ---------------------------------------------------------


@pytest.mark.parametrize(("operation_id", "order_id"), [("GetOrder", OMS_ORDER), ("GetOrder2", PII_ORDER)])
async def test_order_document_has_every_published_property(sim: Sim, operation_id: str, order_id: str) -> None:
    """The published schemas mark none of the document's properties required; integrations read them all anyway."""
    api = Api(sim)
    await api.seed(order_id, [("1", 2499, 1)])
    answer = await send_example(api, operation_id, None, orderId=order_id)
    assert answer.status == 200, answer.describe()
    missing = missing_properties(operation_id, 200, answer.body)
    assert not missing, f"{operation_id} lacks {len(missing)} published top-level properties: {', '.join(missing)}"
