"""The stand-in platform, `racelab serve --no-control --orders FILE`, as a real child process: no `/_sim/` route, no
racelab header that changes an answer, the orders of FILE held from the start, the public API as the simulator
serves it (a control-free over-invoice through it reproduces against `snapshot` and not against `serializable`).
A bad FILE exits 2 naming the file, the line and the field.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from harness.drive.embedded import open_process_server
from harness.errors import InvalidScenario
from simulator import ConfigError, load_profile, open_server
from simulator.contract.headers import CONTROL_HEADER, CONTROL_TOKEN_HEADER
from tests.support.standin import OVER_INVOICE_ORDER, standin, standin_argv, standin_orders

ROOT = Path(__file__).resolve().parents[2]
VALUE = 4990 * 2 + 1500 + 1000
REDUCED = VALUE - 1500
TOKEN = "standin-control-token"
ORDER = "/api/oms/pvt/orders/{}"


async def _get(session: ClientSession, url: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    async with session.get(url, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None), dict(resp.headers)


async def _wait(check: Callable[[], Awaitable[bool]], *, what: str, timeout_s: float = 15.0) -> None:
    """Wait until `check()` holds: polled, bounded by `timeout_s` (the stand-in exposes no way to be told)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)


async def _status_is(session: ClientSession, url: str, order_id: str, status: str) -> bool:
    code, doc, _ = await _get(session, url + ORDER.format(order_id))
    assert code == 200, doc
    return bool(doc["status"] == status)


def test_the_template_is_the_over_invoice_scenarios_order() -> None:
    scenario = yaml.safe_load((ROOT / "scenarios" / "over-invoice.yaml").read_text(encoding="utf-8"))
    assert {k: v for k, v in OVER_INVOICE_ORDER.items() if k != "status"} == {
        k: v for k, v in scenario["order"].items() if k != "status"
    }
    orders = standin_orders(2, prefix="t")
    assert [o["orderId"] for o in orders] == ["t-0", "t-1"]
    assert all(o["status"] == "ready-for-handling" for o in orders)
    orders[0]["items"][0]["price"] = 1
    assert OVER_INVOICE_ORDER["items"][0]["price"] == 4990  # a deep copy each


# -- no back door -------------------------------------------------------------------------------------------------

CONTROL_CALLS = [
    ("GET", "/_sim/health", None),
    ("GET", "/_sim/config", None),
    ("PATCH", "/_sim/config", {"consistency": "serializable"}),
    ("POST", "/_sim/reset", None),
    ("POST", "/_sim/orders", {"orderId": "planted", "items": [{"id": "x", "price": 1, "quantity": 1}]}),
    ("GET", "/_sim/orders", None),
    ("GET", "/_sim/orders/s-0", None),
    ("POST", "/_sim/orders/s-0/status", {"status": "invoiced"}),
    ("POST", "/_sim/quiesce", {}),
    ("GET", "/_sim/journal?orderId=s-0", None),
    ("POST", "/_sim/gates", {"orderId": "s-0", "point": "change.after_read"}),
    ("GET", "/_sim/metrics", None),
    ("GET", "/_sim/accounting/orders/S0", None),
    ("GET", "/_sim", None),
]
HEADERS = [
    {},
    {CONTROL_TOKEN_HEADER: TOKEN},
    {CONTROL_TOKEN_HEADER: TOKEN, CONTROL_HEADER: "1"},
]


async def test_every_control_route_answers_404_as_an_unknown_path_does() -> None:
    """With or without the control token (configured, and sent) and the control header; nothing they would have
    done happened."""
    async with (
        standin(standin_orders(1, prefix="s"), overrides={"auth": {"control_token": TOKEN}}) as url,
        ClientSession() as session,
    ):
        for method, path, body in CONTROL_CALLS:
            unknown = path.replace("/_sim", "/_nowhere", 1)
            for headers in HEADERS:
                answers = []
                for p in (path, unknown):
                    async with session.request(method, url + p, json=body, headers=headers) as resp:
                        answers.append((resp.status, await resp.read(), resp.headers.get("Allow")))
                assert answers[0][0] == 404, (method, path, headers, answers[0])
                assert answers[0] == answers[1], (method, path, headers)
        code, order, _ = await _get(session, url + ORDER.format("s-0"))
        assert (code, order["status"]) == (200, "ready-for-handling")  # not moved, not reset
        code, _, _ = await _get(session, url + ORDER.format("planted"))
        assert code == 404  # not seeded
        code, doc, _ = await _get(session, url + "/openapi.json")
        assert code == 200
        assert [p for p in doc["paths"] if "_sim" in p] == []
        operations = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
        assert not [o for o in operations if o.startswith("sim")], operations
        # The public routes are all still there: the document lists what the full simulator lists, minus /_sim/.
        async with open_server(load_profile("instant")) as (_, full_url):
            _, full, _ = await _get(session, full_url + "/openapi.json")
        assert set(doc["paths"]) == {p for p in full["paths"] if not p.startswith("/_sim")}


async def test_the_control_header_exempts_no_request_from_faults() -> None:
    """Every GET of an order faulted (error_before): with the control API the harness's `X-Racelab-Control: 1`
    exempts its own reads; without it the header is nothing, and the answer does not say which fault it was."""
    faults = {"faults": {"get_order": {"error_before": 1.0}}}
    orders = standin_orders(1, prefix="f")
    async with standin(orders, profile="instant", overrides=faults) as url, ClientSession() as session:
        for headers in ({}, {CONTROL_HEADER: "1"}, {CONTROL_HEADER: "1", CONTROL_TOKEN_HEADER: TOKEN}):
            code, doc, answer_headers = await _get(session, url + ORDER.format("f-0"), headers=headers)
            assert code == 503, (headers, doc)
            assert "X-Racelab-Fault" not in answer_headers
    # The same request to the simulator with its control API: exempt (so the test above can fail).
    async with (
        open_server(load_profile("instant", overrides=faults), orders=orders) as (_, url),
        ClientSession() as session,
    ):
        code, _, _ = await _get(session, url + ORDER.format("f-0"), headers={CONTROL_HEADER: "1"})
        assert code == 200
        code, _, answer_headers = await _get(session, url + ORDER.format("f-0"))
        assert (code, answer_headers.get("X-Racelab-Fault")) == (503, "error_before")


# -- the orders of the file ---------------------------------------------------------------------------------------


class _Receiver:
    """A hook endpoint on loopback that records what it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[_Receiver]:
    r = _Receiver()
    await r.server.start_server()
    yield r
    await r.server.close()


async def test_the_orders_of_the_file_are_served_and_start_handling_moves_one(receiver: _Receiver) -> None:
    orders = [*standin_orders(2, prefix="h"), {**standin_orders(1, prefix="inv")[0], "status": "invoiced"}]
    async with standin(orders) as url, ClientSession() as session:
        for order_id, status in (("h-0", "ready-for-handling"), ("h-1", "ready-for-handling"), ("inv-0", "invoiced")):
            code, doc, _ = await _get(session, url + ORDER.format(order_id))
            assert code == 200, doc
            assert (doc["orderId"], doc["status"], doc["value"]) == (order_id, status, VALUE)
            assert [(i["id"], i["quantity"], i["price"]) for i in doc["items"]] == [
                ("sku-1", 2, 4990),
                ("sku-2", 1, 1500),
            ]
        hook = {
            "filter": {"type": "FromWorkflow", "status": ["handling"]},
            "hook": {"url": str(receiver.server.make_url("/hook"))},
        }
        async with session.post(url + "/api/orders/hook/config", json=hook) as resp:
            assert resp.status == 200, await resp.text()
        async with session.post(url + ORDER.format("h-0") + "/start-handling") as resp:
            assert resp.status == 204, await resp.text()
        await _wait(lambda: _status_is(session, url, "h-0", "handling"), what="h-0 in handling")

        async def hooked() -> bool:
            return any(e.get("OrderId") == "h-0" and e.get("State") == "handling" for e in receiver.received)

        await _wait(hooked, what="the handling hook of h-0")
        assert await _status_is(session, url, "h-1", "ready-for-handling")  # only the one moved


async def test_orders_without_no_control_are_held_too(tmp_path: Path) -> None:
    orders_file = tmp_path / "orders.jsonl"
    orders_file.write_text("\n".join(json.dumps(o) for o in standin_orders(1, prefix="c")) + "\n\n", encoding="utf-8")
    argv = standin_argv(orders_file, profile="instant", control=True)
    async with (
        open_process_server(argv, ready=b"racelab simulator listening on ", cpus=None) as url,
        ClientSession() as session,
    ):
        code, doc, _ = await _get(session, url + "/_sim/orders/c-0")
        assert code == 200, doc
        code, doc, _ = await _get(session, url + ORDER.format("c-0"))
        assert (code, doc["status"]) == (200, "ready-for-handling")


# -- a bad file ---------------------------------------------------------------------------------------------------

GOOD = json.dumps(standin_orders(1, prefix="g")[0])


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ([GOOD, "{not json"], r"orders.jsonl:2: not valid JSON"),
        ([GOOD, "", '["a list"]'], r"orders.jsonl:3: expected a JSON object"),
        ([json.dumps({**OVER_INVOICE_ORDER, "orderId": "x", "items": []})], r"orders.jsonl:1: items: List should"),
        (
            [json.dumps({**OVER_INVOICE_ORDER, "items": [{"id": "a", "price": -1, "quantity": 1}]})],
            r"orders.jsonl:1: items\.0\.price: Input should be greater than or equal to 0",
        ),
        ([json.dumps({**OVER_INVOICE_ORDER, "orderid": "x"})], r"orders.jsonl:1: orderid: Extra inputs"),
        ([json.dumps({**OVER_INVOICE_ORDER, "status": "shipped"})], r"orders.jsonl:1: status: must be one of"),
        ([GOOD, GOOD], r"orders.jsonl:2: orderId: 'g-0' is given already at .*orders.jsonl:1"),
        (
            [json.dumps({**OVER_INVOICE_ORDER, "items": [{"id": "a", "price": 1, "quantity": 1}] * 2})],
            r"orders.jsonl:1: item ids must be unique",
        ),
    ],
    ids=["not-json", "not-an-object", "no-items", "negative-price", "unknown-field", "status", "duplicate", "items"],
)
async def test_a_bad_orders_file_exits_2_naming_the_file_line_and_field(
    tmp_path: Path, lines: list[str], says: str
) -> None:
    orders_file = tmp_path / "orders.jsonl"
    orders_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        *standin_argv(orders_file, profile="instant"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2, (out, err)
    message = err.decode()
    assert message.startswith(f"racelab: {orders_file}:"), message
    assert re.search(says, message), message
    assert b"listening" not in out


async def test_a_missing_orders_file_exits_2(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *standin_argv(tmp_path / "absent.jsonl", profile="instant"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert f"{tmp_path / 'absent.jsonl'}: cannot read the orders file" in err.decode()


@pytest.mark.parametrize(
    ("second", "says"),
    [
        ({"items": [{"id": "a", "price": 1}]}, r"^orders\[1\]: items\.0\.quantity: Field required"),
        (  # valid alone; refused when seeded (after the app's startup began): the server still stops cleanly
            {"items": [{"id": "a", "price": 100, "quantity": 1}], "tax": 5, "accounting": {"customerNumber": "c1"}},
            r"^orders\[1\]: accounting: seed with tax 0",
        ),
    ],
    ids=["invalid", "refused-when-seeded"],
)
async def test_orders_given_in_process_are_checked_with_their_index(second: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        async with open_server(load_profile("instant"), control=False, orders=[*standin_orders(1, prefix="p"), second]):
            pass


# -- the race through the public API ------------------------------------------------------------------------------


@pytest.mark.parametrize(("consistency", "over_invoiced"), [("snapshot", True), ("serializable", False)])
async def test_an_over_invoice_through_the_public_api(
    consistency: Literal["snapshot", "serializable"], over_invoiced: bool
) -> None:
    """The naive integration by hand (invoice the whole order, then remove sku-2) against the `fixed` profile, whose
    Change reads a snapshot 600 ms old: over-invoiced against `snapshot`, never against `serializable`.

    The order is held in `handling` from the start, as the embedded run seeds it: an order moved there by
    start-handling less than `read_lag` ago is still `ready-for-handling` to the Change's lagged read, which then
    refuses it (CHK0124), as a lagging replica of the platform would."""
    order = {**standin_orders(1, prefix="r")[0], "status": "handling"}
    async with (
        standin([order], consistency=consistency, profile="fixed") as url,
        ClientSession() as session,
    ):
        invoice = {
            "type": "Output",
            "issuedDate": "2026-12-03",
            "invoiceNumber": "NF-r-0",
            "invoiceValue": VALUE,
            "items": [
                {"itemIndex": 0, "price": 9980, "quantity": 2},
                {"itemIndex": 1, "price": 1500, "quantity": 1},
            ],
        }
        async with session.post(url + "/api/orders/pvt/document/r-0/invoices", json=invoice) as resp:
            assert resp.status == 200, await resp.text()
        change = {"reason": "racelab stand-in test", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}}
        async with session.patch(url + "/api/order-system/orders/r-0/changes", json=change) as resp:
            assert resp.status == 202, await resp.text()
            request_id = (await resp.json())["requestId"]

        async def finished() -> bool:
            code, doc, _ = await _get(session, f"{url}/api/order-system/orders/r-0/changes/{request_id}")
            assert code == 200, doc
            return not doc["inProgress"]

        await _wait(finished, what="the Change finished")
        _, order, _ = await _get(session, url + ORDER.format("r-0"))
    invoiced = sum(p["invoiceValue"] for p in order["packageAttachment"]["packages"] if p["type"] == "Output")
    assert invoiced == VALUE
    assert (invoiced > order["value"]) is over_invoiced, order["value"]
    assert order["value"] == (REDUCED if over_invoiced else VALUE)


def test_serve_help_shows_no_control_and_orders() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "serve", "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "--no-control" in done.stdout
    assert "--orders FILE" in done.stdout


async def test_standin_raises_invalid_scenario_naming_the_line() -> None:
    bad = [*standin_orders(1, prefix="b"), {"orderId": "b-1", "items": [{"id": "a", "price": "1", "quantity": 1}]}]
    with pytest.raises(InvalidScenario, match=r"orders\.jsonl:2: items\.0\.price: Input should be a valid integer"):
        async with standin(bad, profile="instant"):
            pass
