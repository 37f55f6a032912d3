"""Histories are complete under load: every operation has exactly one terminal outcome; nothing lost, nothing
duplicated.

The real runner (`harness.runner.run_specs`) drives 300 concurrent runs (100 each of `naive`, `workaround` and
`robust`: an invoice at 0 ms, a Change at 5 ms) against an in-process simulator on a loopback port, as in
external mode. Then, for every run:

- its history's indexes are 0..n-1 (none missing, none twice), every operation has one outcome that agrees with
  its status (2xx `ok`, 4xx `fail`, 5xx or no answer `info`) and completes after it was invoked;
- the simulator journaled as many invoices and Changes for the order as the history holds (the server saw each
  request once, and the client recorded each one once);
- and over all runs, the simulator answered exactly as many Orders requests as the histories hold, plus the
  runner's own final read of each order when that read goes through the Orders API (measured, not assumed: the
  test makes one such read itself first).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiohttp
import pytest

from harness.drive.runner import RunnerOptions, RunOutcome, run_specs
from harness.drive.transport import ControlClient, Endpoints
from harness.integrations import control
from harness.model.records import Operation, Outcome, RunSpec, Step, Verdict
from simulator import load_profile, open_server
from simulator.web._state import CORE, STATS
from tests.reliability.conftest import Trap

RUNS_PER_INTEGRATION = 100
INTEGRATIONS = ("naive", "workaround", "robust")
ORDER = {
    "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
    "shipping": 1000,
    "status": "handling",
}
EXPECT = ("no-over-invoice", "invoiced-when-fully-invoiced", "no-lost-invoice", "finished-means-applied")


def specs() -> list[RunSpec]:
    steps = (Step(0.0, "invoice"), Step(5.0, "change", {"remove": [{"id": "sku-2", "quantity": 1}]}))
    return [
        RunSpec(
            run_id=f"{name}-{i}",
            scenario="histories",
            integration=name,
            cell={"step1.at_ms": 5.0},
            repetition=i,
            seed=1,
            order_id=f"H-{name[:3]}-{i:04d}",
            order=ORDER,
            steps=steps,
            expect=EXPECT,
        )
        for name in INTEGRATIONS
        for i in range(RUNS_PER_INTEGRATION)
    ]


def expected_outcome(op: Operation) -> Outcome:
    if op.status is None:
        return Outcome.INFO if op.sent_ms is not None else Outcome.FAIL
    return Outcome.OK if op.status < 400 else Outcome.FAIL if op.status < 500 else Outcome.INFO


def answered_orders(metrics: dict[str, Any]) -> int:
    return sum(n for key, n in metrics["requests"].items() if key.startswith("orders "))


@pytest.mark.slow
async def test_every_operation_of_300_concurrent_runs_has_one_outcome_and_the_server_saw_it_once(trap: Trap) -> None:
    config = load_profile("instant", overrides={"consistency": "serializable"})
    async with open_server(config) as (app, url):
        endpoints = Endpoints(orders=url, accounting=url, control=url)
        before = answered_orders({"requests": dict(app[STATS])})
        async with aiohttp.ClientSession() as session:
            await ControlClient(session, endpoints).perform(control.get_order("H-probe"))
        per_final_read = answered_orders({"requests": dict(app[STATS])}) - before
        assert per_final_read in (0, 1)
        outcomes: list[RunOutcome] = await run_specs(specs(), endpoints, options=RunnerOptions(settle_timeout_s=30))
        answered = answered_orders({"requests": dict(app[STATS])}) - before - per_final_read
        journals = {o.record.spec.order_id: app[CORE].journal.for_order(o.record.spec.order_id) for o in outcomes}
        background_errors = app[CORE].work.errors

    assert len(outcomes) == len(INTEGRATIONS) * RUNS_PER_INTEGRATION
    for outcome in outcomes:
        record = outcome.record
        history = record.history
        assert record.error is None, record.error
        assert record.final.settled
        assert [op.index for op in history] == list(range(len(history))), record.spec.run_id
        for op in history:
            assert op.outcome is expected_outcome(op), op
            assert op.t_complete >= op.t_invoke, op
        calls = Counter(op.f for op in history)
        journaled = Counter(e.op for e in journals[record.spec.order_id] if e.phase == "arrive")
        assert calls["invoice"] == journaled["invoice"] >= 1, (record.spec.run_id, calls, journaled)
        assert calls["change"] == journaled["change"] == 1, (record.spec.run_id, calls, journaled)
        assert outcome.verdict is Verdict.VALID, [r.explanation for r in outcome.results]

    sent = sum(len(o.record.history) for o in outcomes)
    assert answered == sent + per_final_read * len(outcomes), "a request the histories lack, or the reverse"
    by_integration = Counter(o.record.spec.integration for o in outcomes if o.record.ops("get_change"))
    assert by_integration["workaround"] == by_integration["robust"] == RUNS_PER_INTEGRATION  # they polled
    assert background_errors == 0
    assert trap.problems() == []
