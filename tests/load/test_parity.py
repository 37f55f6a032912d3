"""The load users' integrations are the harness's, rewritten for blocking calls: on the same service they must send
the same requests in the same order. Each case runs the async integration of `harness.integrations` and its blocking
twin of `harness.load` against one scripted fake service and compares what each sent.

When this fails after a change to `harness/integrations.py`, make the same change to the twin in `harness/load.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from harness.integrations import bodies
from harness.integrations import builtin as integrations
from harness import load as sync
from harness.drive.client import ApiResult
from harness.integrations.builtin import RunContext
from harness.model.records import Outcome, RunSpec, Step

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


def _result(status: int, body: Any) -> ApiResult:
    return ApiResult(Outcome.OK if status < 400 else Outcome.FAIL if status < 500 else Outcome.INFO, status, body)


class AsyncApi:
    """What `RunContext.api` offers the async integrations, on the fake."""

    def __init__(self, service: FakeService) -> None:
        self.service = service

    async def get_order(self, order_id: str, *, timeout_s: float | None = None) -> ApiResult:
        return _result(*self.service.get_order())

    async def invoice(
        self,
        order_id: str,
        *,
        number: str,
        value: int,
        items: list[dict[str, int]],
        issued: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ApiResult:
        return _result(*self.service.invoice(number, value, items, request_id))

    async def change(self, order_id: str, body: Mapping[str, Any]) -> ApiResult:
        return _result(*self.service.change(body))

    async def change_v1(self, order_id: str, body: Mapping[str, Any]) -> ApiResult:
        return _result(*self.service.change_v1(body))

    async def get_change(self, order_id: str, request_id: str) -> ApiResult:
        return _result(*self.service.get_change(request_id))


class SyncTransport:
    """`harness.load.Transport` on the fake."""

    def __init__(self, service: FakeService) -> None:
        self.service = service

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str,
        json: Any = None,
        headers: Any = None,
        control: bool = False,
        timeout_s: float | None = None,
    ) -> sync.Answer:
        if name == "/api/oms/pvt/orders/[id]":
            return sync.Answer(*self.service.get_order())
        if name == "/api/orders/pvt/document/[id]/invoices":
            return sync.Answer(
                *self.service.invoice(
                    json["invoiceNumber"], json["invoiceValue"], json["items"], (headers or {}).get("X-Request-ID")
                )
            )
        if name == "/api/order-system/orders/[id]/changes":
            return sync.Answer(*self.service.change(json))
        if name == "/api/oms/pvt/orders/[id]/changes":
            return sync.Answer(*self.service.change_v1(json))
        if name == "/api/order-system/orders/[id]/changes/[requestId]":
            return sync.Answer(*self.service.get_change(path.rsplit("/", 1)[1]))
        raise AssertionError(f"unexpected request {method} {path}")


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


@pytest.mark.parametrize(("name", "kwargs", "script", "steps"), CASES)
async def test_the_blocking_twin_sends_what_the_harness_integration_sends(
    name: str, kwargs: dict[str, Any], script: dict[str, Any], steps: tuple[Step, ...]
) -> None:
    run = spec(steps)
    async_service, sync_service = FakeService(**script), FakeService(**script)

    ctx = RunContext(spec=run, api=AsyncApi(async_service), control=None)  # type: ignore[arg-type]
    harness_integration = integrations.BUILTIN[name](**kwargs)
    for step in sorted(steps, key=lambda s: -s.at_ms):  # the Change first: the invoice then finds it sent
        if step.do == "change":
            await harness_integration.change(ctx, step)
        elif step.do == "change-v1":
            await integrations.send_change_v1(ctx, step)  # what the runner does for every built-in
        else:
            await harness_integration.invoice(ctx, step)

    race = sync.Race(run, SyncTransport(sync_service))
    twin = sync.STRATEGIES[name](**kwargs)
    for step in sorted(steps, key=lambda s: -s.at_ms):
        api = race.api(name, step=run.steps.index(step))
        if step.do == "change":
            twin.change(race, api, step)
        elif step.do == "change-v1":
            sync.send_change_v1(race, api, step)
        else:
            twin.invoice(race, api, step)

    assert sync_service.calls == async_service.calls
    assert len(sync_service.calls) >= 2
    assert [op.f for op in race.ops] == [c[0] for c in sync_service.calls]  # and the history records each one


def test_every_integration_a_load_user_runs_is_a_harness_builtin_with_the_same_defaults() -> None:
    for name, twin in sync.STRATEGIES.items():
        original = integrations.BUILTIN[name]()
        copy_ = twin()
        assert copy_.name == original.name == name
        shared = {k for k in vars(original) if not k.startswith("_")}
        assert {k: getattr(copy_, k) for k in shared} == {k: getattr(original, k) for k in shared}, name


def test_both_sides_build_bodies_and_summaries_from_one_definition() -> None:
    # One module (harness.bodies, tested in tests/unit/test_bodies.py) serves both; a copy would drift.
    for name in ("change_body", "invoice_items", "summary_order", "summary_change"):
        assert getattr(sync, name) is getattr(bodies, name), name
    assert integrations.change_body is bodies.change_body
    assert integrations.invoice_items is bodies.invoice_items


async def test_the_workaround_waits_for_a_change_v1_answer_and_polls_nothing() -> None:
    """Change v1 is synchronous: its 200 means applied, so the workaround only waits for the answer, then reads the
    order and invoices what it is worth now (both twins)."""
    run = spec((Step(0.0, "invoice"), CHANGE_V1))
    service = FakeService()
    ctx = RunContext(spec=run, api=AsyncApi(service), control=None)  # type: ignore[arg-type]
    await integrations.send_change_v1(ctx, CHANGE_V1)
    await integrations.Workaround(**FAST).invoice(ctx, run.steps[0])
    assert [c[0] for c in service.calls] == ["change_v1", "get_order", "invoice"]
    body = service.calls[0][1]
    assert body == {"requestId": "o-1-v1-1", "reason": "out of stock", "discountValue": 1500, "incrementValue": 0,
                    "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}], "itemsAdded": []}  # fmt: skip
    assert service.calls[2][2] == VALUE - 1500


def test_change_v1_bodies_come_from_one_definition() -> None:
    assert sync.change_v1_body is bodies.change_v1_body
