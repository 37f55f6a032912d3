"""The runner (`harness.runner.run_specs`) against a real simulator, in both modes, and against services that fail.

Embedded: the simulator as `racelab serve` in a child process (`harness.embedded.open_embedded`). External: an
in-process simulator on a loopback port, reached only through its URLs. Under the `fixed` profile the race unfolds the
same way every time (invoice at 0 ms, Change at 100 ms): the naive integration over-invoices, the workaround and the
robust integration do not. Each mode runs its three cases concurrently in one `run_specs` call (~2.1 s: the workflow's
invoiced-check comes 2,000 ms after the invoice, and the runner waits for it), and the tests read those outcomes.

Services that fail are a port nobody listens on (every request `fail`: never sent) and a small aiohttp fake that
accepts a request and never answers it (`info`: it may have applied).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from harness.drive.embedded import open_embedded
from harness.drive.runner import RunnerOptions, RunOutcome, run_specs
from harness.drive.transport import Endpoints
from harness.model.records import Operation, Outcome, RunSpec, Step, Verdict
from simulator import load_profile, open_server

ORDER = {
    "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
    "shipping": 1000,
    "status": "handling",
}
FULL, CHANGED = 12480, 10980
CHANGE_AT = 100.0
EXPECT = (
    "no-over-invoice",
    "invoiced-when-fully-invoiced",
    "no-lost-invoice",
    "finished-means-applied",
    "change-respects-invoices",
)
FINAL_STATE_CHECKERS = tuple(n for n in EXPECT if n != "finished-means-applied")
OPTIONS = RunnerOptions(lead_ms=2.0, settle_timeout_s=15.0)
INTEGRATIONS = ("naive", "workaround", "robust")


def spec(
    integration: str,
    order_id: str,
    *,
    steps: Sequence[Step] | None = None,
    order: dict[str, Any] | None = None,
    expect: Sequence[str] = EXPECT,
) -> RunSpec:
    if steps is None:
        steps = (Step(0.0, "invoice"), Step(CHANGE_AT, "change", {"remove": [{"id": "sku-2", "quantity": 1}]}))
    return RunSpec(
        run_id=order_id,
        scenario="runner-test",
        integration=integration,
        cell={"step1.at_ms": CHANGE_AT},
        repetition=0,
        seed=1,
        order_id=order_id,
        order=ORDER if order is None else order,
        steps=tuple(steps),
        expect=tuple(expect),
    )


def race(prefix: str) -> list[RunSpec]:
    """One run per integration, each on its own order, the same schedule."""
    return [spec(name, f"{prefix}-{name}") for name in INTEGRATIONS]


def verdicts(outcome: RunOutcome) -> dict[str, Verdict]:
    return {r.checker: r.verdict for r in outcome.results}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedded() -> dict[str, RunOutcome]:
    async with open_embedded("fixed") as url:
        outcomes = await run_specs(race("emb"), Endpoints(orders=url, accounting=url, control=url), options=OPTIONS)
    return {o.record.spec.integration: o for o in outcomes}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def external() -> dict[str, RunOutcome]:
    async with open_server(load_profile("fixed"), host="127.0.0.1") as (_, url):
        outcomes = await run_specs(race("ext"), Endpoints(orders=url, accounting=url, control=url), options=OPTIONS)
    return {o.record.spec.integration: o for o in outcomes}


@pytest.fixture(params=["embedded", "external"])
def mode(request: pytest.FixtureRequest) -> dict[str, RunOutcome]:
    outcomes: dict[str, RunOutcome] = request.getfixturevalue(request.param)
    return outcomes


# -- the race, judged --------------------------------------------------------------------------------------------------


def test_results_come_back_in_the_order_of_the_specs(embedded: dict[str, RunOutcome]) -> None:
    assert list(embedded) == list(INTEGRATIONS)
    assert [o.record.spec.order_id for o in embedded.values()] == [f"emb-{n}" for n in INTEGRATIONS]


def test_naive_over_invoices(mode: dict[str, RunOutcome]) -> None:
    naive = mode["naive"]
    assert naive.record.error is None
    assert naive.record.final.settled
    assert naive.verdict is Verdict.INVALID
    over = next(r for r in naive.results if r.checker == "no-over-invoice")
    assert over.verdict is Verdict.INVALID
    assert over.details == {"invoiced": FULL, "value": CHANGED}
    assert "invoiced 124.80 but its final total is 109.80" in over.explanation
    assert verdicts(naive)["change-respects-invoices"] is Verdict.INVALID
    assert verdicts(naive)["no-lost-invoice"] is Verdict.VALID
    # Its history is the naive flow: read, invoice the full value, and the Change on its own schedule.
    assert [(o.f, o.outcome) for o in naive.record.history] == [
        ("get_order", Outcome.OK),
        ("invoice", Outcome.OK),
        ("change", Outcome.OK),
    ]
    assert naive.record.history[1].request["invoiceValue"] == FULL


@pytest.mark.parametrize("integration", ["workaround", "robust"])
def test_waiting_for_the_change_to_finish_prevents_the_over_invoice(
    mode: dict[str, RunOutcome], integration: str
) -> None:
    outcome = mode[integration]
    assert outcome.record.error is None
    assert outcome.verdict is Verdict.VALID, [r.explanation for r in outcome.results]
    assert set(verdicts(outcome)) == set(EXPECT)
    order = outcome.record.final.order
    assert (order["value"], order["status"]) == (CHANGED, "invoiced")
    assert [p["invoiceValue"] for p in order["packageAttachment"]["packages"]] == [CHANGED]


@pytest.mark.parametrize("integration", ["workaround", "robust"])
def test_the_workaround_polls_the_change_and_invoices_after_it_finished(
    mode: dict[str, RunOutcome], integration: str
) -> None:
    history = mode[integration].record.history
    fs = [o.f for o in history]
    assert fs[0] == "change"
    invoice = history[fs.index("invoice")]
    polls = [o for o in history if o.f == "get_change"]
    finished = [o for o in polls if o.response["finished"] is True]
    assert len(polls) >= 2, "the Change cannot have finished at its first poll under the fixed profile"
    assert [o.response["finished"] for o in polls] == [False] * (len(polls) - 1) + [True]  # stops once finished
    assert all(o.request["requestId"] == history[0].response["requestId"] for o in polls)
    assert invoice.t_invoke >= finished[0].t_complete
    reread = history[fs.index("invoice") - 1]
    assert reread.f == "get_order"
    assert reread.t_invoke >= finished[0].t_complete
    assert reread.response["changes"] == [history[0].response["requestId"]]
    assert invoice.request["invoiceValue"] == reread.response["value"] == CHANGED


# -- the history ---------------------------------------------------------------------------------------------------


def all_ops(outcomes: dict[str, RunOutcome]) -> Iterator[tuple[str, Operation]]:
    for name, outcome in outcomes.items():
        for o in outcome.record.history:
            yield name, o


def test_every_operation_has_one_terminal_outcome_and_monotonic_times(mode: dict[str, RunOutcome]) -> None:
    for outcome in mode.values():
        history = outcome.record.history
        assert [o.index for o in history] == list(range(len(history)))
        for o in history:
            assert o.outcome in (Outcome.OK, Outcome.FAIL, Outcome.INFO)
            assert o.t_complete >= o.t_invoke >= 0.0
            assert o.actor == outcome.record.spec.integration
            assert (o.status is not None and 200 <= o.status < 300) == (o.outcome is Outcome.OK)


def test_each_request_the_simulator_received_is_one_operation(mode: dict[str, RunOutcome]) -> None:
    for outcome in mode.values():
        record = outcome.record
        arrived = sorted(e["op_id"] for e in record.journal if e["phase"] == "arrive")
        sent = sorted(
            str(o.request["invoiceNumber"] if o.f == "invoice" else o.response["requestId"])
            for o in record.history
            if o.f in ("invoice", "change")
        )
        assert arrived == sent


def test_send_skew_is_recorded_for_each_steps_first_request(mode: dict[str, RunOutcome]) -> None:
    for name, outcome in mode.items():
        scheduled = [o for o in outcome.record.history if o.scheduled_ms is not None]
        by_step = {o.step: o for o in scheduled}
        assert len(by_step) == len(scheduled), "only a step's first request is scheduled"
        # The workaround's wait before invoicing is its cost, not lateness: its invoice step is not scheduled.
        expected_steps = {0, 1} if name == "naive" else {1}
        assert set(by_step) == expected_steps
        for o in scheduled:
            assert o.step is not None
            assert o.scheduled_ms == outcome.record.spec.steps[o.step].at_ms
            assert o.sent_ms is not None
            assert o.t_invoke <= o.sent_ms <= o.t_complete
            assert o.skew_ms == o.sent_ms - o.scheduled_ms
            assert 0.0 <= o.skew_ms < 100.0
    # Every request that reached the socket says when.
    assert all(o.sent_ms is not None for _, o in all_ops(mode))


# -- services that fail ------------------------------------------------------------------------------------------------


@contextmanager
def dead_port() -> Iterator[str]:
    """A loopback URL whose port is held, bound but not listening: every connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


class FakeOrders:
    """Just enough of the simulator for the runner (seed, quiesce, inspect, journal, GET order), where the routes
    named in `hang` accept the request and never answer it."""

    def __init__(self, hang: set[str]) -> None:
        self.hang = hang
        self.never = asyncio.Event()
        self.hung = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/_sim/orders", self.seed)
        app.router.add_post("/_sim/quiesce", self.json({"idle": True, "pending": 0}))
        app.router.add_get("/_sim/orders/{orderId}", self.json({"versions": [], "changes": []}))
        app.router.add_get("/_sim/journal", self.json({"entries": []}))
        app.router.add_get("/api/oms/pvt/orders/{orderId}", self.get_order)
        app.router.add_post("/api/orders/pvt/document/{orderId}/invoices", self.invoice)
        app.router.add_get("/_sim/accounting/orders/{orderReference}", self.accounting)
        return app

    def json(self, body: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(body)

        return handler

    async def seed(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"orderId": body["orderId"], "value": FULL, "status": "handling"}, status=201)

    async def wait_forever(self) -> None:
        self.hung += 1
        await self.never.wait()

    async def get_order(self, request: web.Request) -> web.Response:
        if "get_order" in self.hang:
            await self.wait_forever()
        doc = {
            "orderId": request.match_info["orderId"],
            "value": FULL,
            "status": "handling",
            "items": ORDER["items"],
            "packageAttachment": {"packages": []},
            "changesAttachment": {"changesData": []},
        }
        return web.json_response(doc)

    async def invoice(self, request: web.Request) -> web.Response:
        if "invoice" in self.hang:
            await self.wait_forever()
        return web.json_response({"orderId": request.match_info["orderId"], "receipt": "r"})

    async def accounting(self, request: web.Request) -> web.Response:
        if "accounting" in self.hang:
            await self.wait_forever()
        return web.json_response({"orderReference": request.match_info["orderReference"], "updates": []})

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            self.never.set()  # let the parked handlers end, so the server stops at once
            await runner.cleanup()


async def test_a_request_to_a_dead_port_is_recorded_as_fail_never_sent() -> None:
    async with open_server(load_profile("instant")) as (_, sim):
        with dead_port() as dead:
            endpoints = Endpoints(orders=dead, accounting=dead, control=sim)
            steps = (Step(0.0, "invoice"), Step(0.0, "change", {"remove": [{"id": "sku-2", "quantity": 1}]}))
            [outcome] = await run_specs([spec("naive", "dead-1", steps=steps)], endpoints, options=OPTIONS)
        async with aiohttp.ClientSession() as session, session.get(f"{sim}/_sim/journal?orderId=dead-1") as resp:
            journal = (await resp.json())["entries"]
    history = outcome.record.history
    assert sorted(o.f for o in history) == ["change", "get_order"]
    for o in history:
        assert o.outcome is Outcome.FAIL
        assert o.sent_ms is None
        assert o.status is None
        assert o.error is not None
        assert "Cannot connect" in o.error
    # The simulator (reached through the control URL) saw nothing but the seeding.
    assert {e["op"] for e in journal} == {"seed"}
    # Nor could the final order be read through the Orders URL: nothing can be judged.
    assert outcome.record.final.order == {}
    assert outcome.verdict is Verdict.UNKNOWN
    assert all(verdicts(outcome)[n] is Verdict.UNKNOWN for n in FINAL_STATE_CHECKERS)


async def test_a_request_that_times_out_after_sending_is_recorded_as_info_never_fail() -> None:
    fake = FakeOrders(hang={"invoice"})
    async with fake.serve() as url:
        endpoints = Endpoints(orders=url, accounting=url, control=url, request_timeout_s=0.3)
        run = spec("naive", "hang-1", steps=(Step(0.0, "invoice"),), expect=("no-lost-invoice",))
        [outcome] = await run_specs([run], endpoints, options=OPTIONS)
    assert fake.hung == 1
    read, invoice = outcome.record.history
    assert (read.f, read.outcome) == ("get_order", Outcome.OK)
    assert invoice.f == "invoice"
    assert invoice.outcome is Outcome.INFO
    assert invoice.status is None
    assert invoice.sent_ms is not None
    assert invoice.error is not None
    assert "Timeout" in invoice.error
    assert invoice.t_complete - invoice.t_invoke >= 300.0 * 0.99
    # Unknown is not lost: only an accepted invoice missing from the order is.
    assert outcome.verdict is Verdict.VALID


async def test_reading_the_final_state_is_bounded_by_the_request_timeout() -> None:
    fake = FakeOrders(hang={"get_order"})
    async with open_server(load_profile("instant")) as (_, sim), fake.serve() as orders:
        endpoints = Endpoints(orders=orders, accounting=orders, control=sim, request_timeout_s=0.3)
        run = spec("naive", "hang-2", steps=(Step(0.0, "invoice"),))
        async with asyncio.timeout(3.0):  # ten times what the request timeout allows for the run's few requests
            [outcome] = await run_specs([run], endpoints, options=OPTIONS)
    [read] = outcome.record.history
    assert read.outcome is Outcome.INFO
    assert outcome.verdict is Verdict.UNKNOWN


async def test_a_timeout_reading_the_accounting_state_leaves_the_run_unknown() -> None:
    fake = FakeOrders(hang={"accounting"})
    async with fake.serve() as url:
        endpoints = Endpoints(orders=url, accounting=url, control=url, request_timeout_s=0.3)
        order = {**ORDER, "accounting": {"customerNumber": "C-1"}}
        run = spec("naive", "acc-1", steps=(), order=order, expect=("update-invoice-rules",))
        [outcome] = await run_specs([run], endpoints, options=OPTIONS)
    assert fake.hung == 1
    assert outcome.verdict is Verdict.UNKNOWN


async def test_a_run_whose_order_cannot_be_seeded_has_an_error_and_is_unknown() -> None:
    bad = spec("naive", "seed-bad", order={**ORDER, "status": "teleported"})
    good = spec("naive", "seed-good", steps=(Step(0.0, "invoice"),))
    async with open_server(load_profile("instant")) as (_, sim):
        endpoints = Endpoints(orders=sim, accounting=sim, control=sim)
        failed, fine = await run_specs([bad, good], endpoints, options=OPTIONS)
    assert failed.record.error is not None
    assert "seeding order seed-bad failed: 400" in failed.record.error
    assert "teleported" in failed.record.error
    assert failed.record.history == ()  # the run stopped before its first step
    assert failed.verdict is Verdict.UNKNOWN
    for name in FINAL_STATE_CHECKERS:
        assert verdicts(failed)[name] is Verdict.UNKNOWN, name
    # The other run of the same call is not affected.
    assert fine.record.error is None
    assert fine.verdict is Verdict.VALID
    assert fine.record.final.order["status"] == "invoiced"


async def test_a_run_that_raises_fails_the_sweep_even_when_nothing_awaited_it_yet() -> None:
    """One run at a time: the failing run has ended (and left the set in flight) before the next one is created; its
    exception (here: writing its result failed, as on a full disk) must still end the sweep, not leave the run
    missing from the results with nothing said."""
    written: list[str] = []

    def write(outcome: RunOutcome) -> None:
        if not written:
            written.append("failed")
            raise OSError(28, "No space left on device")
        written.append(outcome.record.spec.run_id)

    runs = [spec("naive", f"run-{i}", steps=(Step(0.0, "invoice"),)) for i in range(3)]
    async with open_server(load_profile("instant")) as (_, sim):
        endpoints = Endpoints(orders=sim, accounting=sim, control=sim)
        with pytest.raises(OSError, match="No space left on device"):
            await run_specs(
                runs,
                endpoints,
                options=RunnerOptions(concurrency=1, lead_ms=0.0, freeze_gc=False),
                on_progress=write,
                keep=False,
            )
    assert "run-2" not in written  # the sweep stopped at the failure instead of running on without that run
