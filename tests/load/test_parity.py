"""Driver parity: each integration is written once, as a flow; the async driver (the runner, virtual mode) and the
blocking driver (the load profiles) must perform it the same way. Each case drives one built-in flow with both
drivers against one scripted fake service and compares what each sent.

When this fails, a driver performs an effect differently (`harness/drive/runner.py` `FlowDriver.drive`,
`harness/drive/blocking.py` `_Race.drive`): the flows themselves are shared.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from harness.drive import blocking
from harness.drive.blocking import load_blocking
from harness.drive.runner import FlowDriver
from harness.drive.transport import StepMark
from harness.errors import InvalidScenario
from harness.integrations import BUILTIN, Answer, Call, Control, Run, Workaround, control, step_flow
from harness.load import STRATEGIES
from harness.model.records import RunSpec, Step

VALUE = 12480
ITEMS = [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}]
CHANGE = Step(100.0, "change", {"remove": [{"id": "sku-2", "quantity": 1}], "reason": "out of stock"})
CHANGE_V1 = Step(
    100.0,
    "change-v1",
    {"itemsRemoved": [{"id": "sku-2", "quantity": 1}], "discountValue": 1500, "reason": "out of stock"},
)
"""A partial cancellation in Change v1: the item lists move quantities, the value moves by `incrementValue` -
`discountValue` (the caller computes it)."""
FAST = {"poll_ms": 1.0, "poll_max_ms": 2.0}
"""Identical options for both twins, so polling takes milliseconds."""


class FakeService:
    """Orders, scripted: invoices answer with the statuses given (`503+`: applied, then answered 503; `503`: not
    applied), a Change finishes on the `finish_after`-th poll and then shows on the order. Records every call."""

    def __init__(self, *, invoices: tuple[str, ...] = ("200",), finish_after: int = 1, reads_fail: int = 0) -> None:
        self.invoices: Iterator[str] = iter(invoices)
        self.finish_after = finish_after
        self.reads_fail = reads_fail
        self.polls = 0
        self.calls: list[tuple[Any, ...]] = []
        self.order: dict[str, Any] = {
            "orderId": "o-1",
            "status": "handling",
            "value": VALUE,
            "items": copy.deepcopy(ITEMS),
            "packageAttachment": {"packages": []},
            "changesAttachment": {"changesData": []},
        }

    def get_order(self) -> tuple[int, Any]:
        self.calls.append(("get_order",))
        if self.reads_fail > 0:
            self.reads_fail -= 1
            return 503, {"error": "unavailable"}
        return 200, copy.deepcopy(self.order)

    def invoice(self, number: str, value: int, items: list[dict[str, int]], request_id: str | None) -> tuple[int, Any]:
        self.calls.append(("invoice", number, value, tuple(sorted(i["itemIndex"] for i in items)), request_id))
        answer = next(self.invoices, "200")
        if answer in ("200", "503+"):
            self.order["packageAttachment"]["packages"].append(
                {"type": "Output", "invoiceNumber": number, "invoiceValue": value}
            )
        return (200, {"receipt": "r"}) if answer == "200" else (503, {"error": "unavailable"})

    def change(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        self.calls.append(("change", dict(body)))
        return 202, {"requestId": "c-1", "status": "preparing", "finished": False}

    def change_v1(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        """Synchronous: applied before it answers."""
        self.calls.append(("change_v1", dict(body)))
        self.order["value"] += body["incrementValue"] - body["discountValue"]
        return 200, {"date": "2026-11-21T10:00:00Z", "orderId": "o-1", "receipt": "r-v1"}

    def get_change(self, request_id: str) -> tuple[int, Any]:
        self.calls.append(("get_change", request_id))
        self.polls += 1
        finished = self.polls >= self.finish_after
        if finished and not self.order["changesAttachment"]["changesData"]:
            self.order["value"] = VALUE - 1500
            self.order["items"][1]["quantity"] = 0
            self.order["changesAttachment"]["changesData"].append({"requestId": request_id})
        return 200, {"requestId": request_id, "status": "finished" if finished else "processing", "finished": finished}


def route(service: FakeService, path: str, name: str, json: Any, headers: Mapping[str, str]) -> Answer:
    """The fake's answer to one request, whichever driver sent it."""
    if name == "/api/oms/pvt/orders/[id]":
        return Answer(*service.get_order())
    if name == "/api/orders/pvt/document/[id]/invoices":
        request_id = headers.get("X-Request-ID")
        return Answer(*service.invoice(json["invoiceNumber"], json["invoiceValue"], json["items"], request_id))
    if name == "/api/order-system/orders/[id]/changes":
        return Answer(*service.change(json))
    if name == "/api/oms/pvt/orders/[id]/changes":
        return Answer(*service.change_v1(json))
    if name == "/api/order-system/orders/[id]/changes/[requestId]":
        return Answer(*service.get_change(path.rsplit("/", 1)[1]))
    raise AssertionError(f"unexpected request {path}")


class FakeApi:
    """Stands in for `ApiClient` under the async driver: performs each `Call` on the fake, and records its `f`."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.performed: list[str] = []

    async def perform(self, call: Call, mark: Any = None) -> Answer:
        self.performed.append(call.f)
        return route(self.service, call.path, call.name, call.json, call.headers)


class FakeTransport:
    """`harness.drive.blocking.Transport` on the fake."""

    def __init__(self, service: FakeService) -> None:
        self.service = service

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        control: bool = False,
        timeout_s: float | None = None,
    ) -> Answer:
        return route(self.service, path, name, json, headers or {})


def spec(steps: tuple[Step, ...]) -> RunSpec:
    return RunSpec(
        run_id="r",
        scenario="s",
        integration="x",
        cell={},
        repetition=0,
        seed=1,
        order_id="o-1",
        order={"items": ITEMS},
        steps=steps,
        expect=(),
    )


CASES = [
    pytest.param("naive", {}, {}, (Step(0.0, "invoice"), CHANGE), id="naive"),
    pytest.param("naive", {}, {}, (Step(0.0, "invoice", {"value": 9980}),), id="naive-partial-value"),
    pytest.param(
        "naive-retry",
        {"backoff_s": 0.0},
        {"invoices": ("503+", "503", "200")},
        (Step(0.0, "invoice"),),
        id="naive-retry-double-invoices",
    ),
    pytest.param(
        "naive-retry", {"backoff_s": 0.0}, {"reads_fail": 2}, (Step(0.0, "invoice"),), id="naive-retry-failed-reads"
    ),
    pytest.param("workaround", FAST, {"finish_after": 4}, (Step(0.0, "invoice"), CHANGE), id="workaround"),
    pytest.param("naive", {}, {}, (Step(0.0, "invoice"), CHANGE_V1), id="naive-change-v1"),
    pytest.param("workaround", FAST, {}, (Step(0.0, "invoice"), CHANGE_V1), id="workaround-change-v1-waits-for-answer"),
    pytest.param(
        "robust",
        {**FAST, "backoff_s": 0.0},
        {"finish_after": 2},
        (Step(0.0, "invoice"), CHANGE, CHANGE_V1),
        id="robust-change-and-change-v1",
    ),
    pytest.param(
        "robust", {**FAST, "backoff_s": 0.0}, {"finish_after": 2}, (Step(0.0, "invoice"), CHANGE), id="robust"
    ),
    pytest.param(
        "robust",
        {**FAST, "backoff_s": 0.0},
        {"invoices": ("503", "503+")},
        (Step(0.0, "invoice"),),
        id="robust-resends-only-when-not-landed",
    ),
    pytest.param(
        "robust",
        {**FAST, "backoff_s": 0.0},
        {"invoices": ("503+",)},
        (Step(0.0, "invoice"),),
        id="robust-stops-when-landed",
    ),
]


def in_turn(steps: tuple[Step, ...]) -> list[Step]:
    """The Change first: the invoice then finds it sent (the flows run one after another here)."""
    return sorted(steps, key=lambda s: -s.at_ms)


@pytest.mark.parametrize(("name", "kwargs", "script", "steps"), CASES)
async def test_both_drivers_send_the_same_requests_for_the_same_flow(
    name: str, kwargs: dict[str, Any], script: dict[str, Any], steps: tuple[Step, ...]
) -> None:
    """Each built-in flow, driven by the async driver (runner, virtual mode) and by the blocking one (load profiles),
    against one scripted fake: the same requests, in the same order, each recorded."""
    run = spec(steps)
    async_service, blocking_service = FakeService(**script), FakeService(**script)
    integration = BUILTIN[name](**kwargs)

    api = FakeApi(async_service)
    async_run = Run(spec=run, now=asyncio.get_running_loop().time)
    driver = FlowDriver(async_run, api, None)  # type: ignore[arg-type]
    for step in in_turn(steps):
        index = run.steps.index(step)
        await driver.drive(step_flow(integration, async_run, index, step, {}), StepMark(index, step.at_ms))

    race = blocking._Race(
        run,
        FakeTransport(blocking_service),
        name,
        orders_headers={},
        control_headers={},
        clock=time.monotonic,
        sleep=time.sleep,
    )
    for step in in_turn(steps):
        index = run.steps.index(step)
        race.drive(step_flow(integration, race.run, index, step, {}), blocking._Mark(index, step.at_ms))

    assert blocking_service.calls == async_service.calls
    assert len(blocking_service.calls) >= 2
    assert [op.f for op in race.ops] == api.performed == [c[0] for c in blocking_service.calls]


CONTROL_ROUTES = {
    "seed_order": ("POST", "/_sim/orders", (201, {"orderId": "o-1"})),
    "quiesce": ("POST", "/_sim/quiesce", (200, {"idle": True})),
    "get_order": ("GET", "/api/oms/pvt/orders/o-1", (200, {"orderId": "o-1"})),
    "inspect_order": ("GET", "/_sim/orders/o-1", (200, {"versions": [], "changes": []})),
    "journal": ("GET", "/_sim/journal", (200, {"entries": []})),
}


class FakeControl:
    """Stands in for `ControlClient` under the async driver."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    async def perform(self, effect: Control) -> Answer:
        self.sent.append((effect.method, effect.path, effect.json))
        return Answer(*CONTROL_ROUTES[effect.op][2])


class ControlTransport:
    """The blocking transport of the control requests."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, *, name: str, json: Any = None, **options: Any) -> Answer:
        assert options["control"] is True
        self.sent.append((method, path, json))
        route = next(r for r in CONTROL_ROUTES.values() if r[:2] == (method, path.split("?")[0]))
        return Answer(*route[2])


@pytest.mark.parametrize("flow", ["seed", "final_state"])
async def test_both_drivers_make_the_same_control_requests(flow: str) -> None:
    """The harness's own flows (seeding, the final state) under both drivers: the same control requests, and the
    same final state."""
    run = spec((Step(0.0, "invoice"),))

    def make() -> Any:
        return control.seed(run, None) if flow == "seed" else control.final_state(run, settle_s=1.0)

    fake = FakeControl()
    got_async = await FlowDriver(None, None, fake).drive(make())  # type: ignore[arg-type]
    transport = ControlTransport()
    race = blocking._Race(
        run, transport, "x", orders_headers={}, control_headers={}, clock=time.monotonic, sleep=time.sleep
    )
    got_blocking = race.drive(make())
    assert fake.sent == transport.sent
    assert len(fake.sent) == (1 if flow == "seed" else 4)
    assert got_async == got_blocking


def test_the_load_users_run_the_builtins() -> None:
    for name in STRATEGIES:
        assert type(load_blocking(name)) is BUILTIN[name]
        assert load_blocking(name).name == name


@pytest.mark.parametrize("name", ["hook-naive", "hook-dedupe", "external:http://127.0.0.1:9/hook", "external-feed:x"])
def test_the_blocking_driver_refuses_what_it_cannot_run(name: str) -> None:
    with pytest.raises(InvalidScenario, match="use racelab run"):
        load_blocking(name)


async def test_the_workaround_waits_for_a_change_v1_answer_and_polls_nothing() -> None:
    """Change v1 is synchronous: its 200 means applied, so the workaround only waits for the answer, then reads the
    order and invoices what it is worth now."""
    run = spec((Step(0.0, "invoice"), CHANGE_V1))
    service = FakeService()
    flow_run = Run(spec=run, now=asyncio.get_running_loop().time)
    driver = FlowDriver(flow_run, FakeApi(service), None)  # type: ignore[arg-type]
    integration = Workaround(**FAST)
    await driver.drive(integration.change_v1(flow_run, CHANGE_V1))
    await driver.drive(integration.invoice(flow_run, run.steps[0]))
    assert [c[0] for c in service.calls] == ["change_v1", "get_order", "invoice"]
    assert service.calls[0][1] == {
        "requestId": "o-1-v1-1",
        "reason": "out of stock",
        "discountValue": 1500,
        "incrementValue": 0,
        "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}],
        "itemsAdded": [],
    }
    assert service.calls[2][2] == VALUE - 1500
