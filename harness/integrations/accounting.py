"""The accounting steps: what the merchant's middleware does in the Accounting service, as flows.

Owns `register_invoice` (`do: register-invoice`: register in Accounting what was invoiced in Orders) and
`update_invoice` (`do: update-invoice`: correct the active Accounting invoice to what the Orders order says now).
Both are the harness's own steps: every integration runs them the same way.

Imports: stdlib, `harness.integrations` (flow, api, control), `harness.model`, `harness.errors`, `simulator.contract`
(the VAT formula the service judges by).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from harness.errors import HarnessConnectionError, InvalidScenario
from harness.integrations import api
from harness.integrations.control import accounting_order, accounting_ref, quiesce
from harness.integrations.flow import Answer, Flow, Run
from harness.model.records import RunSpec, Step
from simulator.contract.money import vat_per_unit

__all__ = ["register_invoice", "update_invoice"]


def _accounting_path(spec: RunSpec) -> str:
    acc = spec.order["accounting"]
    business = acc.get("businessCode", "1000")
    return f"/accounting/v1/businesses/{business}/customers/{acc['customerNumber']}/orders/{accounting_ref(spec)}"


def _accounting_state(run: Run) -> Flow[Mapping[str, Any]]:
    ref = accounting_ref(run.spec)
    if ref is None:
        raise HarnessConnectionError(f"order {run.order_id} has no Accounting order (its scenario seeds none)")
    answer: Answer = yield accounting_order(ref)
    if answer.status != 200:
        raise HarnessConnectionError(f"cannot read Accounting order {ref}: {answer.status} {answer.body}")
    return dict(answer.body)


def _settle_accounting(run: Run) -> Flow[None]:
    ref = accounting_ref(run.spec)
    assert ref is not None
    yield quiesce(ref, timeout_s=30.0)


def register_invoice(run: Run, step: Step) -> Flow[None]:
    """`do: register-invoice`: register in Accounting what was invoiced in Orders: every position still open."""
    if accounting_ref(run.spec) is None:
        raise InvalidScenario("`do: register-invoice` needs an `accounting:` block in the scenario's order")
    state = yield from _accounting_state(run)
    refs = [p["orderItemReference"] for p in state["positions"] if p["state"] == "open"]
    if not refs:
        return
    body = {
        "invoiceReference": f"{run.invoice_number()[:24]}-A",
        "invoiceDate": "2026-11-21",
        "dueDate": "2026-12-21",
        "dispatchDate": "2026-11-21",
        "shipmentReference": "S-1",
        "items": [{"orderItemReference": r} for r in refs],
    }
    path = f"{_accounting_path(run.spec)}/invoices"
    yield api.accounting_write("accounting.invoice", "POST", path, body, request_id=f"{run.spec.order_id}-register")
    yield from _settle_accounting(run)


def update_invoice(run: Run, step: Step) -> Flow[None]:
    """`do: update-invoice`: correct the active Accounting invoice to what the Orders order says now (each sales
    position's quantity from the order's items, in order). With `raise: <cents>`, try to raise the first position's
    unit price instead (the service must refuse it: the gross may only go down)."""
    if accounting_ref(run.spec) is None:
        raise InvalidScenario("`do: update-invoice` needs an `accounting:` block in the scenario's order")
    read: Answer = yield api.get_order(run.order_id)
    state = yield from _accounting_state(run)
    active = [i for i in state["invoices"] if not i["nullified"]]
    if not read.ok or not active:
        return
    invoice = active[-1]
    lines = _corrected_lines(invoice, state, (read.body or {}).get("items") or [], step)
    new_gross = sum(Decimal(str(ln["grossUnitPrice"])) * Decimal(str(ln["quantity"])) for ln in lines)
    if not _raise_by(step) and new_gross == Decimal(str(invoice["grossAmount"])):
        return  # Accounting already bills what Orders says
    n = len(state["invoices"])
    ref = accounting_ref(run.spec)
    body = {
        "goodwillReference": f"GW-{ref}-{n}",
        "invoice": {
            "invoiceReference": f"{invoice['invoiceReference'][:24]}-u{n}",
            "invoiceDate": "2026-11-22",
            "dueDate": "2026-12-22",
            "dispatchDate": "2026-11-21",
            "shipmentReference": "S-1",
            "items": [{"orderItemReference": ln["orderItemReference"]} for ln in lines],
        },
        "order": {
            "orderReference": ref,
            "currency": state.get("currency", "EUR"),
            "orderChannel": state.get("orderChannel", "ECOM"),
            "orderDate": state.get("orderDate", "2026-11-21"),
            "orderType": state.get("orderType", "PHYSICAL_GOODS"),
            "supplyingCountry": "DE",
            "items": lines,
        },
    }
    path = f"{_accounting_path(run.spec)}/invoices/{invoice['invoiceReference']}"
    yield api.accounting_write("accounting.update_invoice", "PUT", path, body)
    yield from _settle_accounting(run)


def _corrected_lines(
    invoice: Mapping[str, Any], state: Mapping[str, Any], items: list[Any], step: Step
) -> list[dict[str, Any]]:
    """The invoice's lines with each sales position's quantity taken from the order's items, in order (and the first
    line's unit price raised by `raise` cents, when the step asks for it)."""
    raise_by = _raise_by(step)
    sales = 0
    lines: list[dict[str, Any]] = []
    for line in invoice["items"]:
        position = next(p for p in state["positions"] if p["orderItemReference"] == line["orderItemReference"])
        quantity = Decimal(str(line["quantity"]))
        if position["positionType"] == "SALES_ARTICLE":
            if sales < len(items):
                quantity = Decimal(int(items[sales]["quantity"]))
            sales += 1
        gross = Decimal(str(line["grossUnitPrice"])) + (raise_by if not lines else 0)
        percent = Decimal(str(line["vatPercent"]))
        lines.append(
            {
                "orderItemReference": line["orderItemReference"],
                "grossUnitPrice": float(gross),
                "quantity": float(quantity),
                "vatAmount": float(vat_per_unit(gross, percent)),
                "vatPercent": float(percent),
                "vatType": line["vatType"],
                "positionType": position["positionType"],
            }
        )
    return lines


def _raise_by(step: Step) -> Decimal:
    """The `raise:` of an `update-invoice` step, in currency units (0: none)."""
    return Decimal(int(step.args.get("raise", 0))) / 100
