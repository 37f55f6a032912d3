"""The invariant checkers (`harness.judge.checkers`) on hand-built runs, as Jepsen tests its checkers: for each one a
history that holds and one that violates, the cases it cannot judge, and the one verdict of a run (`run_verdict`).
Also the typed view of the final state (`FinalState.status`, `.value`, `.invoices`) the checkers read.

The orders are shaped like the simulator's `GET /api/oms/pvt/orders/{orderId}` (only the fields the checkers read);
money in the Orders API is integer cents, in Accounting a JSON number of euros (`money_json`: 109.8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from harness.judge import checkers
from harness.judge.checkers import CHECKERS, check, check_all
from harness.model.records import (
    CheckResult,
    FinalState,
    Invoice,
    Operation,
    Outcome,
    RunRecord,
    RunSpec,
    Step,
    Verdict,
)

OK, FAIL, INFO = Outcome.OK, Outcome.FAIL, Outcome.INFO
VALID, INVALID, UNKNOWN = Verdict.VALID, Verdict.INVALID, Verdict.UNKNOWN

FULL = 12480
"""2 x 49.90 + 15.00 + 10.00 shipping: the order before the Change."""
CHANGED = 10980
"""After the Change removed sku-2 (15.00)."""

FINAL_STATE_CHECKERS = (
    "no-over-invoice",
    "invoiced-when-fully-invoiced",
    "no-lost-invoice",
    "change-respects-invoices",
    "accounting-matches-orders",
)
"""The checkers that judge the final state, and so cannot judge a run whose final state is missing or unsettled."""


def order(
    *,
    value: int = CHANGED,
    status: str = "invoiced",
    invoices: Iterable[tuple[str, int]] = (("NF-1", CHANGED),),
    returns: Iterable[tuple[str, int]] = (),
    changes: Iterable[str] = ("r1",),
    order_id: str = "ORD-1",
) -> dict[str, Any]:
    packages = [{"type": "Output", "invoiceNumber": n, "invoiceValue": v} for n, v in invoices]
    packages += [{"type": "Input", "invoiceNumber": n, "invoiceValue": v} for n, v in returns]
    return {
        "orderId": order_id,
        "value": value,
        "status": status,
        "packageAttachment": {"packages": packages},
        "changesAttachment": {"changesData": [{"requestId": r} for r in changes]},
    }


def op(
    index: int,
    f: str,
    *,
    outcome: Outcome = OK,
    at: tuple[float, float] = (0.0, 1.0),
    request: Mapping[str, Any] | None = None,
    response: Any = None,
) -> Operation:
    return Operation(
        index=index,
        actor="naive",
        f=f,
        outcome=outcome,
        t_invoke=at[0],
        t_complete=at[1],
        request=request or {},
        response=response,
    )


def invoice_op(index: int, number: str, value: int, *, outcome: Outcome = OK) -> Operation:
    return op(index, "invoice", outcome=outcome, request={"invoiceNumber": number, "invoiceValue": value})


def get_change(index: int, *, finished: bool, done_at: float, request_id: str = "r1") -> Operation:
    body = {"requestId": request_id, "status": "done" if finished else "preparing", "finished": finished}
    return op(index, "get_change", at=(done_at - 1.0, done_at), request={"requestId": request_id}, response=body)


def get_order(index: int, *, at: float, changes: Sequence[str], value: int = FULL) -> Operation:
    summary = {"value": value, "status": "handling", "version": 2, "invoiced": 0, "changes": list(changes)}
    return op(index, "get_order", at=(at, at + 1.0), response=summary)


def run(
    final_order: Mapping[str, Any] | None = None,
    *,
    history: Sequence[Operation] = (),
    versions: Sequence[Mapping[str, Any]] = (),
    journal: Sequence[Mapping[str, Any]] = (),
    accounting: Mapping[str, Any] | None = None,
    settled: bool = True,
    error: str | None = None,
) -> RunRecord:
    spec = RunSpec(
        run_id="0000-0000-naive",
        scenario="over-invoice",
        integration="naive",
        cell={"step1.at_ms": 100.0},
        repetition=0,
        seed=1,
        order_id="ORD-1",
        order={},
        steps=(Step(0.0, "invoice"), Step(100.0, "change", {"remove": [{"id": "sku-2", "quantity": 1}]})),
        expect=tuple(CHECKERS),
    )
    final = FinalState(
        order=order() if final_order is None else final_order,
        versions=tuple(versions),
        accounting=accounting,
        settled=settled,
    )
    return RunRecord(spec=spec, history=tuple(history), final=final, journal=tuple(journal), error=error)


def judge(name: str, record: RunRecord) -> CheckResult:
    result = check(name, record)
    assert result.checker == name
    words = result.explanation.split()
    assert len(words) >= 4, f"not a sentence: {result.explanation!r}"
    assert not words[0][0].islower(), f"not a sentence: {result.explanation!r}"
    return result


def test_every_design_checker_is_registered() -> None:
    assert set(CHECKERS) == {
        "no-over-invoice",
        "invoiced-when-fully-invoiced",
        "no-lost-invoice",
        "finished-means-applied",
        "change-respects-invoices",
        "accounting-matches-orders",
        "update-invoice-rules",
    }


# -- no-over-invoice ---------------------------------------------------------------------------------------------------


def test_no_over_invoice_holds_when_the_invoice_is_the_final_total() -> None:
    result = judge("no-over-invoice", run(order(invoices=[("NF-1", CHANGED)])))
    assert result.verdict is VALID
    assert "109.80" in result.explanation


def test_no_over_invoice_holds_for_a_partial_invoice() -> None:
    result = judge("no-over-invoice", run(order(value=FULL, status="payment-approved", invoices=[("NF-1", 5000)])))
    assert result.verdict is VALID


def test_no_over_invoice_is_violated_by_the_invoice_the_change_undercut() -> None:
    history = [op(0, "get_order"), invoice_op(1, "NF-1", FULL), invoice_op(2, "NF-2", 100, outcome=FAIL)]
    result = judge("no-over-invoice", run(order(invoices=[("NF-1", FULL)]), history=history))
    assert result.verdict is INVALID
    assert result.explanation == (
        "Order ORD-1 is invoiced 124.80 but its final total is 109.80: over-invoiced by 15.00."
    )
    assert result.ops == (1,)  # the accepted invoice, not the refused one
    assert result.details == {"invoiced": FULL, "value": CHANGED}


def test_no_over_invoice_adds_up_every_output_invoice() -> None:
    result = judge("no-over-invoice", run(order(invoices=[("NF-1", 10000), ("NF-2", 1000)], value=10980)))
    assert result.verdict is INVALID
    assert "110.00" in result.explanation


def test_no_over_invoice_does_not_count_a_return_as_invoiced() -> None:
    final = order(invoices=[("NF-1", CHANGED)], returns=[("RET-1", 1500)])
    assert judge("no-over-invoice", run(final)).verdict is VALID


# -- invoiced-when-fully-invoiced --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "value", "invoiced"),
    [
        ("invoiced", CHANGED, CHANGED),
        ("canceled", FULL, FULL),
        ("payment-approved", FULL, 5000),  # a partial invoice: payment-approved is right
        ("handling", FULL, 0),  # nothing invoiced yet
    ],
)
def test_invoiced_when_fully_invoiced_holds(status: str, value: int, invoiced: int) -> None:
    invoices = [("NF-1", invoiced)] if invoiced else []
    result = judge("invoiced-when-fully-invoiced", run(order(status=status, value=value, invoices=invoices)))
    assert result.verdict is VALID
    assert status in result.explanation


def test_invoiced_when_fully_invoiced_is_violated_by_a_stuck_over_invoiced_order() -> None:
    final = order(status="payment-approved", value=CHANGED, invoices=[("NF-1", FULL)])
    result = judge("invoiced-when-fully-invoiced", run(final, history=[invoice_op(0, "NF-1", FULL)]))
    assert result.verdict is INVALID
    assert result.explanation == (
        "Order ORD-1 is stuck in payment-approved although its invoices (124.80) cover its final total (109.80)."
    )
    assert result.ops == (0,)
    assert result.details == {"invoiced": FULL, "value": CHANGED, "status": "payment-approved"}


def test_invoiced_when_fully_invoiced_is_violated_by_an_exact_invoice_left_stuck() -> None:
    # Failure B on its own: a valid invoice of exactly the total, and the order still not invoiced.
    final = order(status="payment-approved", value=FULL, invoices=[("NF-1", FULL)], changes=())
    result = judge("invoiced-when-fully-invoiced", run(final))
    assert result.verdict is INVALID
    assert "124.80" in result.explanation


# -- no-lost-invoice ---------------------------------------------------------------------------------------------------


def test_no_lost_invoice_holds_when_every_accepted_invoice_is_stored() -> None:
    history = [op(0, "get_order"), invoice_op(1, "NF-1", CHANGED)]
    result = judge("no-lost-invoice", run(order(invoices=[("NF-1", CHANGED)]), history=history))
    assert result.verdict is VALID
    assert result.explanation == "All 1 accepted invoices are stored."


def test_no_lost_invoice_is_violated_by_an_accepted_invoice_missing_from_the_order() -> None:
    history = [invoice_op(0, "NF-1", 5000), invoice_op(1, "NF-2", 5980)]
    result = judge("no-lost-invoice", run(order(invoices=[("NF-1", 5000)]), history=history))
    assert result.verdict is INVALID
    assert "NF-2" in result.explanation
    assert "NF-1" not in result.explanation
    assert result.ops == (1,)


@pytest.mark.parametrize("outcome", [FAIL, INFO])
def test_no_lost_invoice_holds_for_an_invoice_that_was_refused_or_may_not_have_landed(outcome: Outcome) -> None:
    history = [invoice_op(0, "NF-1", CHANGED, outcome=outcome)]
    assert judge("no-lost-invoice", run(order(invoices=[]), history=history)).verdict is VALID


# -- finished-means-applied --------------------------------------------------------------------------------------------


def test_finished_means_applied_is_violated_by_a_read_after_finished_that_misses_the_change() -> None:
    history = [get_change(0, finished=True, done_at=100.0), get_order(1, at=150.0, changes=[])]
    result = judge("finished-means-applied", run(history=history))
    assert result.verdict is INVALID
    assert result.explanation == (
        "Change r1 was reported finished at 100 ms, but a read of the order at 150 ms did not reflect it (value 12480)."
    )
    assert result.ops == (1,)


def test_finished_means_applied_holds_when_the_read_after_finished_shows_the_change() -> None:
    history = [get_change(0, finished=True, done_at=100.0), get_order(1, at=150.0, changes=["r1"], value=CHANGED)]
    assert judge("finished-means-applied", run(history=history)).verdict is VALID


def test_finished_means_applied_ignores_a_read_invoked_before_finished_was_seen() -> None:
    history = [get_order(0, at=90.0, changes=[]), get_change(1, finished=True, done_at=100.0)]
    assert judge("finished-means-applied", run(history=history)).verdict is VALID


def test_finished_means_applied_holds_the_change_to_its_first_finished_answer() -> None:
    history = [
        get_change(0, finished=True, done_at=100.0),
        get_order(1, at=150.0, changes=[]),
        get_change(2, finished=True, done_at=300.0),
    ]
    assert judge("finished-means-applied", run(history=history)).verdict is INVALID


def test_finished_means_applied_needs_finished_true() -> None:
    history = [get_change(0, finished=False, done_at=100.0), get_order(1, at=150.0, changes=[])]
    result = judge("finished-means-applied", run(history=history))
    assert result.verdict is VALID
    assert "nothing to hold it to" in result.explanation


@pytest.mark.parametrize("outcome", [FAIL, INFO])
def test_finished_means_applied_ignores_reads_that_did_not_answer(outcome: Outcome) -> None:
    read = op(1, "get_order", outcome=outcome, at=(150.0, 151.0), response={"error": {"code": "X"}})
    history = [get_change(0, finished=True, done_at=100.0), read]
    assert judge("finished-means-applied", run(history=history)).verdict is VALID


# -- change-respects-invoices ------------------------------------------------------------------------------------------


def version(n: int, *, value: int, invoiced: int) -> dict[str, Any]:
    return {"version": n, "t_ms": 10.0 * n, "status": "invoice", "value": value, "invoiced": invoiced}


def commit(op_name: str, n: int, op_id: str) -> dict[str, Any]:
    return {"seq": n, "t": 0.0, "order_id": "ORD-1", "op": op_name, "phase": "commit", "op_id": op_id, "version": n}


def test_change_respects_invoices_is_violated_by_a_change_committed_below_the_invoiced_amount() -> None:
    versions = [
        version(1, value=FULL, invoiced=0),
        version(2, value=FULL, invoiced=FULL),
        version(3, value=CHANGED, invoiced=FULL),
    ]
    journal = [
        {"seq": 1, "op": "change", "phase": "read", "op_id": "r1", "version": 1},  # the stale read it judged on
        commit("invoice", 2, "NF-1"),
        commit("change", 3, "r1"),
    ]
    result = judge("change-respects-invoices", run(versions=versions, journal=journal))
    assert result.verdict is INVALID
    assert result.explanation == (
        "Change r1 was committed as version 3, leaving the total at 109.80 below the 124.80 already invoiced."
    )
    assert result.details == {"version": 3, "value": CHANGED, "invoiced": FULL}


def test_change_respects_invoices_judges_change_v1_commits_too() -> None:
    versions = [
        version(1, value=FULL, invoiced=0),
        version(2, value=FULL, invoiced=FULL),
        version(3, value=CHANGED, invoiced=FULL),
    ]
    journal = [commit("invoice", 2, "NF-1"), commit("change_v1", 3, "v1-r1")]
    result = judge("change-respects-invoices", run(versions=versions, journal=journal))
    assert result.verdict is INVALID
    assert result.details == {"version": 3, "value": CHANGED, "invoiced": FULL}


def test_change_respects_invoices_holds_when_the_change_commits_before_the_invoice() -> None:
    versions = [
        version(1, value=FULL, invoiced=0),
        version(2, value=CHANGED, invoiced=0),
        version(3, value=CHANGED, invoiced=CHANGED),
    ]
    journal = [commit("change", 2, "r1"), commit("invoice", 3, "NF-1")]
    result = judge("change-respects-invoices", run(versions=versions, journal=journal))
    assert result.verdict is VALID
    assert result.explanation == "1 Change commits, none below the invoiced amount."


def test_change_respects_invoices_leaves_an_over_invoicing_invoice_to_other_checkers() -> None:
    versions = [version(1, value=CHANGED, invoiced=0), version(2, value=CHANGED, invoiced=FULL)]
    journal = [commit("invoice", 2, "NF-1")]
    assert judge("change-respects-invoices", run(versions=versions, journal=journal)).verdict is VALID


def test_change_respects_invoices_is_unknown_when_the_committed_version_is_no_longer_kept() -> None:
    versions = [version(5, value=CHANGED, invoiced=CHANGED)]
    result = judge("change-respects-invoices", run(versions=versions, journal=[commit("change", 3, "r1")]))
    assert result.verdict is UNKNOWN
    assert "no longer kept" in result.explanation


# -- accounting-matches-orders -----------------------------------------------------------------------------------------


def test_accounting_matches_orders_holds_when_accounting_bills_the_final_total() -> None:
    result = judge("accounting-matches-orders", run(accounting={"billedGross": 109.8}))
    assert result.verdict is VALID
    assert result.explanation == "Accounting bills 109.80, the Orders final total."


def test_accounting_matches_orders_is_violated_when_accounting_bills_the_pre_change_total() -> None:
    result = judge("accounting-matches-orders", run(accounting={"billedGross": 124.8}))
    assert result.verdict is INVALID
    assert result.explanation == "Accounting bills 124.80 for order ORD-1, whose final total in Orders is 109.80."
    assert result.details == {"billed": "124.8", "orders_total": "109.8"}


def test_accounting_matches_orders_holds_before_anything_is_invoiced() -> None:
    final = order(value=FULL, status="handling", invoices=[], changes=())
    assert judge("accounting-matches-orders", run(final, accounting={"billedGross": 0})).verdict is VALID


@pytest.mark.parametrize("accounting", [None, {"totalGross": 109.8}], ids=["no-accounting", "no-billedGross"])
def test_accounting_matches_orders_is_unknown_without_what_accounting_bills(accounting: Any) -> None:
    assert judge("accounting-matches-orders", run(accounting=accounting)).verdict is UNKNOWN


# -- update-invoice-rules ----------------------------------------------------------------------------------------------


def update(**fields: Any) -> dict[str, Any]:
    base = {
        "internalRequestId": "u1",
        "invoiceReference": "INV-1",
        "newInvoiceReference": "INV-2",
        "result": "OK",
        "oldGross": 124.8,
        "newGross": 109.8,
        "customerChanged": False,
        "afterGoodwillOrReturn": False,
    }
    return {**base, **fields}


def test_update_invoice_rules_holds_for_an_update_that_lowers_the_gross() -> None:
    result = judge("update-invoice-rules", run(accounting={"updates": [update()]}))
    assert result.verdict is VALID


def test_update_invoice_rules_holds_without_updates() -> None:
    assert judge("update-invoice-rules", run(accounting={"billedGross": 109.8})).verdict is VALID


def test_update_invoice_rules_ignores_refused_updates() -> None:
    refused = update(result="ERROR_IN_FILE", newGross=None, customerChanged=True, afterGoodwillOrReturn=True)
    assert judge("update-invoice-rules", run(accounting={"updates": [refused]})).verdict is VALID


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        ({"oldGross": 109.8, "newGross": 124.8}, ["INV-1", "raised the gross", "109.8", "124.8", "only go down"]),
        ({"customerChanged": True}, ["INV-1", "customer identifier", "immutable"]),
        ({"afterGoodwillOrReturn": True}, ["INV-1", "after a goodwill or a return"]),
    ],
    ids=["gross-raised", "customer-changed", "after-goodwill"],
)
def test_update_invoice_rules_is_violated_by_an_accepted_update_that_breaks_a_rule(
    broken: dict[str, Any], words: list[str]
) -> None:
    updates = [update(internalRequestId="u0", invoiceReference="INV-0"), update(**broken)]
    result = judge("update-invoice-rules", run(accounting={"updates": updates}))
    assert result.verdict is INVALID
    for word in words:
        assert word in result.explanation


def test_update_invoice_rules_names_the_amounts_as_money() -> None:
    updates = [update(oldGross=109.8, newGross=124.8)]
    result = judge("update-invoice-rules", run(accounting={"updates": updates}))
    assert "from 109.80 to 124.80" in result.explanation


def test_update_invoice_rules_is_unknown_without_accounting() -> None:
    assert judge("update-invoice-rules", run(accounting=None)).verdict is UNKNOWN


# -- what a checker cannot judge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FINAL_STATE_CHECKERS)
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"error": "ConnectionError: seeding order ORD-1 failed: 400"}, "did not complete: ConnectionError"),
        ({"final_order": {}}, "could not be read"),
        ({"settled": False}, "still had work pending"),
    ],
    ids=["run-error", "no-final-order", "unsettled"],
)
def test_a_run_that_did_not_finish_cleanly_is_unknown(name: str, kwargs: dict[str, Any], words: str) -> None:
    # An over-invoiced, stuck, changed order with a lost invoice: every checker would find it invalid if it looked.
    final = order(status="payment-approved", invoices=[("NF-1", FULL)])
    record = run(
        **{"final_order": final, **kwargs},
        history=[invoice_op(0, "NF-1", FULL), invoice_op(1, "NF-2", 1)],
        versions=[version(2, value=CHANGED, invoiced=FULL)],
        journal=[commit("change", 2, "r1")],
        accounting={"billedGross": 124.8},
    )
    result = judge(name, record)
    assert result.verdict is UNKNOWN
    assert words in result.explanation


def test_update_invoice_rules_is_unknown_when_the_final_state_could_not_be_read() -> None:
    # Exactly what `runner._final_state` builds when a request for the final state raises.
    record = run({}, settled=False, accounting={"error": "Cannot connect to host 127.0.0.1:9 ssl:default"})
    assert judge("update-invoice-rules", record).verdict is UNKNOWN


def test_finished_means_applied_is_unknown_for_a_run_cut_short() -> None:
    record = run({}, settled=False, error="ConnectionError: seeding order ORD-1 failed: 400")
    assert judge("finished-means-applied", record).verdict is UNKNOWN


# -- check() and check_all() -------------------------------------------------------------------------------------------


def test_a_checker_that_crashes_yields_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(record: RunRecord) -> CheckResult:
        raise KeyError("value")

    monkeypatch.setitem(checkers.CHECKERS, "no-over-invoice", broken)
    result = check("no-over-invoice", run())
    assert result.checker == "no-over-invoice"
    assert result.verdict is UNKNOWN
    assert result.explanation == "The checker failed: KeyError: 'value'"


def test_a_malformed_final_state_yields_unknown_not_an_exception() -> None:
    result = check("no-over-invoice", run({"orderId": "ORD-1", "status": "invoiced"}))  # no `value`
    assert result.verdict is UNKNOWN
    assert "KeyError" in result.explanation


def test_check_all_keeps_judging_after_a_checker_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(record: RunRecord) -> CheckResult:
        raise RuntimeError("boom")

    monkeypatch.setitem(checkers.CHECKERS, "no-lost-invoice", broken)
    record = run(order(invoices=[("NF-1", FULL)]))
    results, verdict = check_all(record, ["no-lost-invoice", "no-over-invoice"])
    assert [(r.checker, r.verdict) for r in results] == [("no-lost-invoice", UNKNOWN), ("no-over-invoice", INVALID)]
    assert verdict is INVALID


def _fixed(verdict: Verdict, name: str = "fixed") -> Any:
    def checker(record: RunRecord) -> CheckResult:
        return CheckResult(name, verdict, f"Always {verdict.value}.")

    return checker


@pytest.mark.parametrize(
    ("verdicts", "merged"),
    [
        ([], VALID),
        ([VALID, VALID], VALID),
        ([VALID, UNKNOWN], UNKNOWN),
        ([UNKNOWN, VALID], UNKNOWN),
        ([VALID, INVALID], INVALID),
        ([UNKNOWN, INVALID, VALID], INVALID),
        ([INVALID, UNKNOWN], INVALID),
    ],
)
def test_check_all_merges_invalid_over_unknown_over_valid(
    monkeypatch: pytest.MonkeyPatch, verdicts: list[Verdict], merged: Verdict
) -> None:
    names = [f"fixed-{i}" for i in range(len(verdicts))]
    for name, verdict in zip(names, verdicts, strict=True):
        monkeypatch.setitem(checkers.CHECKERS, name, _fixed(verdict, name))
    record = run()
    results, verdict = check_all(replace(record, spec=replace(record.spec, expect=tuple(names))), names)
    assert [r.verdict for r in results] == verdicts
    assert verdict is merged


def test_check_all_gives_the_runs_verdict_never_more_valid_than_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same rule as the gates and runs.jsonl (`run_verdict`): a run cut short, or one whose expected checkers
    # left no result, is unknown even when every result it has is valid.
    monkeypatch.setitem(checkers.CHECKERS, "fixed", _fixed(VALID))
    record = run()
    expecting_fixed = replace(record, spec=replace(record.spec, expect=("fixed",)))
    assert check_all(expecting_fixed, ["fixed"])[1] is VALID
    assert check_all(replace(expecting_fixed, error="TimeoutError: the run took too long"), ["fixed"])[1] is UNKNOWN
    assert check_all(record, ["fixed"])[1] is UNKNOWN  # it expects every checker; only one judged it


def test_check_all_on_an_over_invoiced_stuck_run() -> None:
    final = order(status="payment-approved", invoices=[("NF-1", FULL)])
    record = run(final, history=[invoice_op(0, "NF-1", FULL)], accounting={"billedGross": 124.8})
    results, verdict = check_all(record, CHECKERS)
    by_name = {r.checker: r.verdict for r in results}
    assert by_name == {
        "no-over-invoice": INVALID,
        "invoiced-when-fully-invoiced": INVALID,
        "no-lost-invoice": VALID,
        "finished-means-applied": VALID,
        "change-respects-invoices": VALID,
        "accounting-matches-orders": INVALID,
        "update-invoice-rules": VALID,
    }
    assert verdict is INVALID


# -- the final state's typed view --------------------------------------------------------------------------------------


def test_the_final_state_reads_status_value_and_invoices_from_the_wire_document() -> None:
    final = FinalState(order=order(value=FULL, status="invoiced", invoices=[("NF-1", FULL)], returns=[("RT-1", 1500)]))
    assert (final.read, final.order_id, final.status, final.value) == (True, "ORD-1", "invoiced", FULL)
    assert final.invoices == (Invoice("NF-1", FULL, "Output"), Invoice("RT-1", 1500, "Input"))
    assert final.invoiced == FULL  # returns (`Input`) are not invoiced
    assert final.order["packageAttachment"]["packages"][1]["type"] == "Input"  # the wire document is kept as it was


def test_the_final_state_of_an_order_without_invoices_or_that_could_not_be_read() -> None:
    assert FinalState(order={"orderId": "ORD-1", "value": 100, "status": "handling"}).invoices == ()
    assert FinalState(order={"orderId": "ORD-1", "packageAttachment": None}).invoiced == 0
    unread = FinalState(order={})
    assert not unread.read
    with pytest.raises(KeyError):
        _ = unread.value
