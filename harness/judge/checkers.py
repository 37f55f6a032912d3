"""Invariant checkers: pure functions from a run's record to a verdict with an explanation.

Each checker takes a `RunRecord` (final state + history + journal) and returns a `CheckResult`; none raises. A
checker that crashes yields `unknown` (see `check()`), and so does a run whose final state could not be read.
`check_all` runs several and gives the run's verdict by `run_verdict`, the one rule the gates, `runs.jsonl` and the
report use too.

| name | invalid when |
|---|---|
| no-over-invoice | the Output invoices of the final order add up to more than its final total |
| invoiced-when-fully-invoiced | invoices cover the whole total, yet the order did not end `invoiced` (stuck) |
| no-lost-invoice | an invoice the service accepted (200) is missing from the final order |
| finished-means-applied | after a Change was seen `finished: true`, a read of the order did not reflect it |
| change-respects-invoices | a Change was committed leaving the total below what was already invoiced |
| accounting-matches-orders | what Accounting bills for the order differs from the Orders final total |
| update-invoice-rules | Accounting accepted an update invoice that breaks one of its three rules |

Judged from outside (a control-free run against a real platform, `harness.drive.public`): the final order, its
Changes and the run's own history are all there, but not what only the simulator keeps (the order's versions, the
journal, Accounting's state). Such a final state says so (`FinalState.public`), and the invariants that need what is
missing say `unknown` and why:
`change-respects-invoices` (the journal's Change commits and the versions they made), `accounting-matches-orders`
and `update-invoice-rules` (Accounting's state). The others judge the public order and the history as usual.

Imports: stdlib and `harness.model` only (no asyncio, no aiohttp): the load command's processes reuse these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from harness.model.records import NOT_OBSERVABLE, CheckResult, Outcome, RunRecord, Verdict, run_verdict

__all__ = ["CHECKERS", "check", "check_all"]

Checker = Callable[[RunRecord], CheckResult]


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _outside(run: RunRecord) -> bool:
    """Whether the final state was read from outside the simulator, through the public API only."""
    return run.final.public


_OUTSIDE = "Judged from outside the platform (public API only): "


def _not_observable(name: str, why: str) -> CheckResult:
    """`unknown`, and why: what the invariant needs cannot be seen from outside. Marked so (`NOT_OBSERVABLE` in its
    details): the run's verdict is made of the invariants that could be judged (`harness.model.records.run_verdict`)."""
    return CheckResult(name, Verdict.UNKNOWN, _OUTSIDE + why, details={NOT_OBSERVABLE: True})


def _unsettled(name: str, run: RunRecord) -> CheckResult | None:
    if run.error is not None:
        return CheckResult(name, Verdict.UNKNOWN, f"The run did not complete: {run.error}")
    if not run.final.read:
        return CheckResult(name, Verdict.UNKNOWN, "The final order could not be read.")
    if not run.final.settled:
        if _outside(run):
            return CheckResult(
                name,
                Verdict.UNKNOWN,
                "The order did not settle by the deadline: a Change was still in progress, or the order kept changing.",
            )
        return CheckResult(name, Verdict.UNKNOWN, "The simulator still had work pending for the order at the deadline.")
    return None


def _no_accounting(name: str, run: RunRecord, otherwise: str) -> CheckResult:
    if _outside(run) and run.spec.order.get("accounting"):
        return _not_observable(
            name, "Accounting's invoices and outcomes have no public read, so this cannot be checked."
        )
    return CheckResult(name, Verdict.UNKNOWN, otherwise)


def _ok_ops(run: RunRecord, f: str) -> tuple[int, ...]:
    return tuple(o.index for o in run.history if o.f == f and o.outcome is Outcome.OK)


def no_over_invoice(run: RunRecord) -> CheckResult:
    name = "no-over-invoice"
    if (early := _unsettled(name, run)) is not None:
        return early
    final = run.final
    invoiced, value = final.invoiced, final.value
    if invoiced > value:
        return CheckResult(
            name,
            Verdict.INVALID,
            f"Order {final.order_id} is invoiced {_money(invoiced)} but its final total is {_money(value)}: "
            f"over-invoiced by {_money(invoiced - value)}.",
            ops=_ok_ops(run, "invoice"),
            details={"invoiced": invoiced, "value": value},
        )
    return CheckResult(name, Verdict.VALID, f"Invoiced {_money(invoiced)} of a final total of {_money(value)}.")


def invoiced_when_fully_invoiced(run: RunRecord) -> CheckResult:
    name = "invoiced-when-fully-invoiced"
    if (early := _unsettled(name, run)) is not None:
        return early
    final = run.final
    invoiced, value, status = final.invoiced, final.value, final.status
    if invoiced > 0 and invoiced >= value and status not in ("invoiced", "canceled"):
        return CheckResult(
            name,
            Verdict.INVALID,
            f"Order {final.order_id} is stuck in {status} although its invoices ({_money(invoiced)}) cover its "
            f"final total ({_money(value)}).",
            ops=_ok_ops(run, "invoice"),
            details={"invoiced": invoiced, "value": value, "status": status},
        )
    return CheckResult(name, Verdict.VALID, f"Status {status} with {_money(invoiced)} invoiced of {_money(value)}.")


def no_lost_invoice(run: RunRecord) -> CheckResult:
    name = "no-lost-invoice"
    if (early := _unsettled(name, run)) is not None:
        return early
    stored = {invoice.number for invoice in run.final.invoices}
    lost = [
        o
        for o in run.history
        if o.f == "invoice" and o.outcome is Outcome.OK and o.request.get("invoiceNumber") not in stored
    ]
    if lost:
        numbers = ", ".join(str(o.request.get("invoiceNumber")) for o in lost)
        return CheckResult(
            name,
            Verdict.INVALID,
            f"Invoice {numbers} was accepted (200) but is missing from the final order: a later write dropped it.",
            ops=tuple(o.index for o in lost),
        )
    return CheckResult(name, Verdict.VALID, f"All {len(_ok_ops(run, 'invoice'))} accepted invoices are stored.")


def finished_means_applied(run: RunRecord) -> CheckResult:
    """A read of the order that starts after a Change was seen finished must show the Change applied."""
    name = "finished-means-applied"
    if run.error is not None:
        return CheckResult(name, Verdict.UNKNOWN, f"The run did not complete: {run.error}")
    finished: dict[str, float] = {}
    for o in run.history:
        body = o.response if isinstance(o.response, Mapping) else {}
        if o.f == "get_change" and o.outcome is Outcome.OK and body.get("finished") is True:
            request_id = str(body.get("requestId"))
            finished[request_id] = min(finished.get(request_id, o.t_complete), o.t_complete)
    if not finished:
        return CheckResult(name, Verdict.VALID, "No Change was seen finished, so there is nothing to hold it to.")
    for o in run.history:
        body = o.response if isinstance(o.response, Mapping) else {}
        if o.f != "get_order" or o.outcome is not Outcome.OK:
            continue
        applied = set(body.get("changes") or ())
        for request_id, seen_at in finished.items():
            if o.t_invoke > seen_at and request_id not in applied:
                return CheckResult(
                    name,
                    Verdict.INVALID,
                    f"Change {request_id} was reported finished at {seen_at:.0f} ms, but a read of the order at "
                    f"{o.t_invoke:.0f} ms did not reflect it (value {body.get('value')}).",
                    ops=(o.index,),
                )
    return CheckResult(name, Verdict.VALID, "Every read after a Change finished reflected it.")


_CHANGE_OPS = frozenset({"change", "change_v1"})


def change_respects_invoices(run: RunRecord) -> CheckResult:
    """From the journal's Change commits (v2, and v1's `change_v1`) and the order's versions: no Change may leave
    value below invoiced."""
    name = "change-respects-invoices"
    if (early := _unsettled(name, run)) is not None:
        return early
    if _outside(run):
        return _not_observable(
            name,
            "this needs the simulator's journal (which Change committed, as which version) and the order's kept "
            "versions, which no public API serves.",
        )
    versions = {int(v["version"]): v for v in run.final.versions}
    commits = [e for e in run.journal if e.get("op") in _CHANGE_OPS and e.get("phase") == "commit"]
    missing = []
    for e in commits:
        v = versions.get(int(e["version"]))
        if v is None:
            missing.append(e)
            continue
        if int(v["invoiced"]) > int(v["value"]):
            return CheckResult(
                name,
                Verdict.INVALID,
                f"Change {e.get('op_id')} was committed as version {e['version']}, leaving the total at "
                f"{_money(int(v['value']))} below the {_money(int(v['invoiced']))} already invoiced.",
                details={"version": e["version"], "value": v["value"], "invoiced": v["invoiced"]},
            )
    if missing:
        return CheckResult(name, Verdict.UNKNOWN, f"{len(missing)} Change commits refer to versions no longer kept.")
    return CheckResult(name, Verdict.VALID, f"{len(commits)} Change commits, none below the invoiced amount.")


def accounting_matches_orders(run: RunRecord) -> CheckResult:
    """What the customer is billed in Accounting (active invoices, less goodwills and returns) equals the Orders
    final total, for an order that was invoiced in Orders."""
    name = "accounting-matches-orders"
    if (early := _unsettled(name, run)) is not None:
        return early
    accounting = run.final.accounting
    if accounting is None:
        return _no_accounting(name, run, "The run has no Accounting order to compare with.")
    billed = accounting.get("billedGross")
    if billed is None:
        return CheckResult(name, Verdict.UNKNOWN, "The Accounting state does not say what is billed.")
    final = run.final
    if final.invoiced == 0:
        return CheckResult(name, Verdict.VALID, "Nothing was invoiced in Orders yet.")
    expected = Decimal(final.value) / 100
    if Decimal(str(billed)) != expected:
        return CheckResult(
            name,
            Verdict.INVALID,
            f"Accounting bills {Decimal(str(billed)):.2f} for order {final.order_id}, whose final total in Orders "
            f"is {expected:.2f}.",
            details={"billed": str(billed), "orders_total": str(expected)},
        )
    return CheckResult(name, Verdict.VALID, f"Accounting bills {expected:.2f}, the Orders final total.")


def update_invoice_rules(run: RunRecord) -> CheckResult:
    """Every update invoice Accounting accepted kept its three rules (seed: riverty-update-invoice)."""
    name = "update-invoice-rules"
    if (early := _unsettled(name, run)) is not None:
        return early
    accounting = run.final.accounting
    if accounting is None:
        return _no_accounting(name, run, "The run has no Accounting order to check.")
    if "error" in accounting:
        return CheckResult(name, Verdict.UNKNOWN, f"The Accounting state could not be read: {accounting['error']}")
    for update in accounting.get("updates") or ():
        if update.get("result") != "OK":
            continue
        old, new = Decimal(str(update.get("oldGross", 0))), Decimal(str(update.get("newGross", 0)))
        if new > old:
            return CheckResult(
                name,
                Verdict.INVALID,
                f"Update of invoice {update.get('invoiceReference')} raised the gross from {old:.2f} to {new:.2f}; "
                "the gross may only go down.",
            )
        if update.get("customerChanged"):
            return CheckResult(
                name,
                Verdict.INVALID,
                f"Update of invoice {update.get('invoiceReference')} changed the customer identifier, which is "
                "immutable.",
            )
        if update.get("afterGoodwillOrReturn"):
            return CheckResult(
                name,
                Verdict.INVALID,
                f"Update of invoice {update.get('invoiceReference')} was accepted after a goodwill or a return.",
            )
    return CheckResult(name, Verdict.VALID, "Every accepted update invoice kept the three rules.")


CHECKERS: dict[str, Checker] = {
    "no-over-invoice": no_over_invoice,
    "invoiced-when-fully-invoiced": invoiced_when_fully_invoiced,
    "no-lost-invoice": no_lost_invoice,
    "finished-means-applied": finished_means_applied,
    "change-respects-invoices": change_respects_invoices,
    "accounting-matches-orders": accounting_matches_orders,
    "update-invoice-rules": update_invoice_rules,
}


def check(name: str, run: RunRecord) -> CheckResult:
    """Run one checker; a checker that crashes yields `unknown`, never an exception."""
    try:
        return CHECKERS[name](run)
    except Exception as exc:  # a checker bug must not pass as a verdict, nor stop the others
        return CheckResult(name, Verdict.UNKNOWN, f"The checker failed: {type(exc).__name__}: {exc}")


def check_all(run: RunRecord, names: Iterable[str]) -> tuple[tuple[CheckResult, ...], Verdict]:
    """Every named checker on one run, and the run's verdict.

    Args:
        run: The run.
        names: The checkers to run, usually `run.spec.expect`.

    Returns:
        The results in the order of `names`, and `run_verdict` of them: merged invalid > unknown > valid, and
        `unknown` rather than `valid` when the run was cut short or an expected checker left no result.
    """
    results = tuple(check(n, run) for n in names)
    return results, run_verdict(run, results)
