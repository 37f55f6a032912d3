"""Hand-built runs for the report's tests: the shape `racelab run` records, with round numbers.

`failure_a()` is the over-invoice race as the simulator journals it (times are the simulator's seconds; the run's
origin is 100.0 s, so an entry at 100.2 s is 200 ms into the run):

    0 ms  get_order sent      3 ms  answered 200         READ v1
    5 ms  invoice sent       37 ms  answered 200         READ v1 at 12 ms, COMMIT v2 at 35 ms, status → invoice
   50 ms  change sent        58 ms  answered 202         READ v1 at 90 ms (a lagging replica), COMMIT v3 at 200 ms
  240 ms  workflow check-2 COMMIT v4, status → payment-approved
 1950 ms  workflow check-1 superseded (late: outside the timeline's focus window)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.judge.checkers import CHECKERS
from harness.model.records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Step, Verdict

ORIGIN = 100.0
OVER, STUCK = "no-over-invoice", "invoiced-when-fully-invoiced"
CHANGE, LOST = "change-respects-invoices", "no-lost-invoice"
EXPECT = (OVER, STUCK, CHANGE)

Judged = tuple[RunRecord, tuple[CheckResult, ...]]


def at(ms: float) -> float:
    """A time on the simulator's clock, `ms` into the run."""
    return ORIGIN + ms / 1000


def entry(
    seq: int, ms: float, op: str, phase: str, op_id: str = "", version: int | None = None, **detail: Any
) -> dict[str, Any]:
    return {
        "seq": seq,
        "t": at(ms),
        "order_id": "o-1",
        "op": op,
        "phase": phase,
        "op_id": op_id,
        "version": version,
        "detail": detail,
    }


def version(n: int, ms: float, *, value: int, invoiced: int, status: str, packages: int = 0) -> dict[str, Any]:
    return {"version": n, "t": at(ms), "status": status, "value": value, "invoiced": invoiced, "packages": packages}


FAILURE_A_VERSIONS = (
    version(1, -60, value=12480, invoiced=0, status="handling"),
    version(2, 35, value=12480, invoiced=12480, status="invoice", packages=1),
    version(3, 200, value=10980, invoiced=12480, status="invoice", packages=1),
    version(4, 240, value=10980, invoiced=12480, status="payment-approved", packages=1),
)

FAILURE_A_JOURNAL = (
    entry(1, -60, "seed", "commit", "o-1", 1),
    entry(2, 2, "get_order", "read", "", 1),
    entry(3, 6, "invoice", "arrive", "NF-1"),
    entry(4, 12, "invoice", "read", "NF-1", 1, lag_ms=26.6),
    entry(5, 35, "invoice", "commit", "NF-1", 2, invoice_value=12480),
    entry(6, 35, "status", "change", "invoice", 2, **{"from": "handling", "to": "invoice"}),
    entry(7, 35, "workflow", "scheduled", "check-1", cause="invoice"),
    entry(8, 36, "invoice", "respond", "NF-1", status=200),
    entry(9, 51, "change", "arrive", "req-1"),
    entry(10, 57, "change", "respond", "req-1", status=202),
    entry(11, 90, "change", "read", "req-1", 1, lag_ms=418.5),
    entry(12, 200, "change", "commit", "req-1", 3, value=10980),
    entry(13, 220, "workflow", "scheduled", "check-2", cause="change"),
    entry(14, 240, "workflow", "commit", "check-2", 4, status="payment-approved"),
    entry(15, 240, "status", "change", "payment-approved", 4, **{"from": "invoice", "to": "payment-approved"}),
    entry(16, 1950, "workflow", "superseded", "check-1", by="check-2"),
)


def final_order(*, value: int = 10980, invoiced: int = 12480, status: str = "payment-approved") -> dict[str, Any]:
    packages = [{"type": "Output", "invoiceNumber": "NF-1", "invoiceValue": invoiced}] if invoiced else []
    return {"orderId": "o-1", "value": value, "status": status, "packageAttachment": {"packages": packages}}


def spec(
    run_id: str = "0000-0000-naive",
    *,
    scenario: str = "over-invoice",
    integration: str = "naive",
    cell: Mapping[str, Any] | None = None,
    repetition: int = 0,
    steps: Sequence[Step] = (Step(0.0, "invoice"), Step(50.0, "change")),
    expect: Sequence[str] = EXPECT,
) -> RunSpec:
    return RunSpec(
        run_id=run_id,
        scenario=scenario,
        integration=integration,
        cell={"step1.at_ms": 50.0} if cell is None else cell,
        repetition=repetition,
        seed=7,
        order_id="o-1",
        order={},
        steps=tuple(steps),
        expect=tuple(expect),
    )


def history(integration: str = "naive", *, invoiced_ms: float = 37.0) -> tuple[Operation, ...]:
    """get_order at 0 ms, the invoice sent at 5.2 ms and answered at `invoiced_ms`, the Change at 50 ms."""
    get_order = Operation(
        0, integration, "get_order", Outcome.OK, 0.0, 3.0, status=200, step=0, scheduled_ms=0.0, sent_ms=0.5
    )
    invoice = Operation(
        1,
        integration,
        "invoice",
        Outcome.OK,
        5.0,
        invoiced_ms,
        status=200,
        step=0,
        request={"invoiceNumber": "NF-1", "invoiceValue": 12480},
        sent_ms=5.2,
    )
    change = Operation(
        2,
        integration,
        "change",
        Outcome.OK,
        50.0,
        58.0,
        status=202,
        step=1,
        scheduled_ms=50.0,
        sent_ms=50.3,
        response={"requestId": "req-1"},
    )
    return (get_order, invoice, change)


def failure_a(**overrides: Any) -> RunRecord:
    """Failure A (and B on top): see the module docstring."""
    return RunRecord(
        spec=overrides.pop("spec", spec()),
        history=overrides.pop("history", history()),
        final=FinalState(order=final_order(), versions=FAILURE_A_VERSIONS),
        journal=FAILURE_A_JOURNAL,
        origin_s=ORIGIN,
        **overrides,
    )


def clean(run_spec: RunSpec, *, invoiced_ms: float = 37.0) -> RunRecord:
    """A run that broke nothing: invoiced 124.80, value 124.80, status invoiced."""
    return RunRecord(
        spec=run_spec,
        history=history(run_spec.integration, invoiced_ms=invoiced_ms),
        final=FinalState(order=final_order(value=12480, status="invoiced"), versions=FAILURE_A_VERSIONS[:2]),
        origin_s=ORIGIN,
    )


def judge(record: RunRecord) -> Judged:
    """The run with its expected checkers' results, as the runner judges it."""
    return record, tuple(CHECKERS[name](record) for name in record.spec.expect)


def result(checker: str, verdict: Verdict = Verdict.INVALID, *, ops: Sequence[int] = (), **details: Any) -> CheckResult:
    return CheckResult(checker, verdict, f"{checker} says so", ops=tuple(ops), details=details)


def sweep(scenario: str = "over-invoice") -> list[Judged]:
    """Two cells, two repetitions each, naive and workaround; naive fails in the first cell only."""
    runs = []
    for cell_index, ms in enumerate((50.0, 600.0)):
        for rep in range(2):
            for integration in ("naive", "workaround"):
                run_spec = spec(
                    f"{cell_index:04d}-{rep:04d}-{integration}",
                    scenario=scenario,
                    integration=integration,
                    cell={"step1.at_ms": ms},
                    repetition=rep,
                )
                fails = integration == "naive" and ms == 50.0
                runs.append(judge(failure_a(spec=run_spec) if fails else clean(run_spec)))
    return runs
