"""A run judged from outside the platform (a control-free run, `racelab proxy judge`): the invariants that need what
only the simulator keeps say `unknown` and why, and the run's verdict is made of the ones that could be judged."""

from __future__ import annotations

from dataclasses import replace

from harness.judge.checkers import check_all
from harness.model.records import NOT_OBSERVABLE, FinalState, RunRecord, RunSpec, Step, Verdict, run_verdict

FULL, CHANGED = 12480, 10980
PAIR = ("no-over-invoice", "change-respects-invoices")


def order(value: int, invoiced: int, status: str = "invoiced") -> dict[str, object]:
    invoices = [{"type": "Output", "invoiceNumber": "NF-1", "invoiceValue": invoiced, "items": []}] if invoiced else []
    return {"orderId": "ORD-1", "status": status, "value": value, "packageAttachment": {"packages": invoices}}


def outside(final_order: dict[str, object], *, expect: tuple[str, ...] = PAIR) -> RunRecord:
    spec = RunSpec(
        run_id="0000-0000-naive",
        scenario="over-invoice",
        integration="naive",
        cell={},
        repetition=0,
        seed=1,
        order_id="ORD-1",
        order={},
        steps=(Step(0.0, "invoice"),),
        expect=expect,
    )
    return RunRecord(spec=spec, history=(), final=FinalState(order=final_order, public=True), journal=())


def test_what_cannot_be_seen_says_unknown_and_why_but_decides_nothing() -> None:
    record = outside(order(FULL, FULL))
    results, verdict = check_all(record, PAIR)
    by_name = {r.checker: r for r in results}
    hidden = by_name["change-respects-invoices"]
    assert hidden.verdict is Verdict.UNKNOWN
    assert hidden.details.get(NOT_OBSERVABLE)
    assert "journal" in hidden.explanation
    assert by_name["no-over-invoice"].verdict is Verdict.VALID
    assert verdict is Verdict.VALID


def test_a_broken_invariant_seen_from_outside_makes_the_run_invalid() -> None:
    record = outside(order(CHANGED, FULL))  # invoiced 124.80 of an order now worth 109.80
    _, verdict = check_all(record, PAIR)
    assert verdict is Verdict.INVALID


def test_nothing_observable_is_unknown() -> None:
    record = outside(order(FULL, FULL), expect=("change-respects-invoices",))
    results, verdict = check_all(record, ("change-respects-invoices",))
    assert [r.verdict for r in results] == [Verdict.UNKNOWN]
    assert verdict is Verdict.UNKNOWN


def test_inside_the_simulator_an_unknown_still_makes_the_run_unknown() -> None:
    record = outside(order(FULL, FULL))
    inside = replace(record, final=replace(record.final, public=False))
    results, _ = check_all(inside, ("no-over-invoice",))
    marked = replace(results[0], verdict=Verdict.UNKNOWN, details={NOT_OBSERVABLE: True})
    assert run_verdict(inside, [marked]) is Verdict.UNKNOWN  # the mark means something only for a run seen from outside
