"""The Accounting tier-2 business rules: what a request breaks, judged against a version of its order.

Owns `problems()` (every rule a request breaks, judged against the READ snapshot; empty: accepted) and
`unique_problems()` (the unique references, judged against the latest version at COMMIT, like a unique index).
Each problem is an `ErrorDetail`, reported by the service in an `accounting/EDIErrorSent` notification.

Rules (reference/riverty-aaas-api.md, seeds/riverty-update-invoice.md):
- the order must exist in the request's business and belong to the request's customer;
- invoice: whole positions; each one known, not cancelled, not yet invoiced; the order not cancelled; `carrier`
  and `trackingCode` given when the order is of `PHYSICAL_GOODS` (create invoice: "Only required for physical goods
  and if order is shipped", docs.riverty.com/accounting_as_a_service/api_reference/create_invoice); an update
  re-issuing an invoice may leave them out when the invoice it replaces has them (they are carried over);
- cancellation: only positions not invoiced (no items: every open position, i.e. the whole order);
- goodwill and return: only invoiced positions; a return at most the quantity not yet returned, a goodwill at most
  the gross not yet returned or credited;
- update invoice: (1) the customer identifier cannot change; (2) no position of the order was returned or received
  a goodwill, and every position is invoiced or cancelled; (3) per position, the gross may go down, never up;
- every position or credit line: `vatAmount` is the VAT of one unit (`vat_per_unit()`, within a cent), `TAXLESS`
  means 0%, and only discount-like position types may have a negative gross unit price.

    problems(order, request) == []   # accepted

Everything here is pure: no clock, no I/O.

Imports: stdlib, `simulator.contract.money` and `.records`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from ..contract.money import CENT, vat_per_unit
from .records import (
    AccountingOrder,
    AccountingRequest,
    CancellationInput,
    ErrorDetail,
    GoodwillInput,
    InvoiceInput,
    Line,
    OrderInput,
    OrderType,
    PaymentInput,
    Position,
    PositionState,
    PositionType,
    RequestKind,
    ReturnInput,
    UpdateInvoiceInput,
    VatType,
)

__all__ = ["NEGATIVE_POSITION_TYPES", "VAT_TOLERANCE", "problems", "unique_problems"]

VAT_TOLERANCE = CENT
"""A per-unit `vatAmount` may differ from `vat_per_unit()` by one cent (rounding done elsewhere), no more."""

NEGATIVE_POSITION_TYPES = frozenset(
    {
        PositionType.DISCOUNT,
        PositionType.DISCOUNT_FOR_SUBSCRIPTION_ORDER,
        PositionType.GIFT_CARD_VOUCHER_PAYMENT,
        PositionType.CREDIT_NOTE,
    }
)
"""Position types whose gross unit price may be negative (a discount lowers the order total)."""


def _dec(x: Decimal) -> str:
    """A Decimal as the `providedValue` of an error detail (no exponent, no trailing zeros beyond cents)."""
    return format(x.normalize(), "f") if x == x.to_integral_value() else format(x, "f")


def _err(field_name: str, value: object, description: str) -> ErrorDetail:
    shown = _dec(value) if isinstance(value, Decimal) else str(value)
    return ErrorDetail(field_name, shown, description)


def problems(order: AccountingOrder | None, request: AccountingRequest) -> list[ErrorDetail]:
    """Every business rule `request` breaks, judged against `order` (None: no such order; a possibly stale
    snapshot in `snapshot` consistency). Empty: the request is accepted."""
    body = request.body
    if request.kind is RequestKind.ORDER:
        assert isinstance(body, OrderInput)
        return _order_problems(order, request, body)
    if order is None or order.business_code != request.business_code:
        return [
            _err(
                "ORDERREFERENCE",
                request.order_reference,
                f"Order {request.order_reference} does not exist in business {request.business_code}: create "
                "it (and wait for its EDIErrorSent OK) before sending requests for it",
            )
        ]
    if order.customer_number != request.customer_number:
        if request.kind is RequestKind.UPDATE_INVOICE:
            message = (
                f"The customer identifier cannot be changed with update invoice: order "
                f"{order.order_reference} belongs to customer {order.customer_number}"
            )
        else:
            message = f"Order {order.order_reference} belongs to customer {order.customer_number}, not this one"
        return [_err("CUSTOMERNUMBER", request.customer_number, message)]
    if isinstance(body, InvoiceInput):
        return _invoice_problems(order, body)
    if isinstance(body, UpdateInvoiceInput):
        return _update_problems(order, body)
    if isinstance(body, CancellationInput):
        return _cancellation_problems(order, body)
    if isinstance(body, GoodwillInput):
        return _goodwill_problems(order, body)
    if isinstance(body, ReturnInput):
        return _return_problems(order, body)
    assert isinstance(body, PaymentInput)
    if order.cancelled:
        return [_err("ORDERREFERENCE", order.order_reference, f"Order {order.order_reference} is cancelled")]
    return []


def unique_problems(latest: AccountingOrder, request: AccountingRequest) -> list[ErrorDetail]:
    """The unique references, judged against the latest version at COMMIT (like a unique index, never stale)."""
    body = request.body
    if isinstance(body, InvoiceInput) and latest.invoice(body.invoice_reference) is not None:
        return [_duplicate_invoice(latest, body.invoice_reference)]
    if isinstance(body, UpdateInvoiceInput):
        out = []
        if latest.invoice(body.invoice_reference) is None:
            out.append(
                _err(
                    "INVOICEREFERENCE",
                    body.invoice_reference,
                    f"Invoice {body.invoice_reference} of order {latest.order_reference} was nullified "
                    "meanwhile by another update",
                )
            )
        if _goodwill_taken(latest, body.goodwill_reference):
            out.append(_duplicate_goodwill(latest, body.goodwill_reference))
        return out
    if isinstance(body, GoodwillInput) and _goodwill_taken(latest, body.goodwill_reference):
        return [_duplicate_goodwill(latest, body.goodwill_reference)]
    if isinstance(body, ReturnInput) and any(r.return_reference == body.return_reference for r in latest.returns):
        return [
            _err(
                "RETURNREFERENCE",
                body.return_reference,
                f"Return reference {body.return_reference} was already used for order {latest.order_reference}",
            )
        ]
    return []


def _duplicate_invoice(order: AccountingOrder, reference: str) -> ErrorDetail:
    return _err(
        "INVOICEREFERENCE",
        reference,
        f"Invoice reference {reference} is already used by an active invoice of order {order.order_reference}",
    )


def _goodwill_taken(order: AccountingOrder, reference: str) -> bool:
    return any(g.goodwill_reference == reference for g in order.goodwills)


def _duplicate_goodwill(order: AccountingOrder, reference: str) -> ErrorDetail:
    return _err(
        "GOODWILLREFERENCE",
        reference,
        f"Goodwill reference {reference} was already used for order {order.order_reference}",
    )


def _item_problems(positions: Iterable[Position]) -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    seen: set[int] = set()
    for p in positions:
        if p.reference in seen:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    p.reference,
                    f"orderItemReference {p.reference} appears more than once; every position needs its own reference",
                )
            )
        seen.add(p.reference)
        out.extend(_line_problems(p.line()))
        if p.gross_unit_price < 0 and p.position_type not in NEGATIVE_POSITION_TYPES:
            allowed = ", ".join(sorted(t.value for t in NEGATIVE_POSITION_TYPES))
            out.append(
                _err(
                    "GROSSUNITPRICE",
                    p.gross_unit_price,
                    f"Position {p.reference}: a negative grossUnitPrice is only allowed for positionType "
                    f"{allowed}, not {p.position_type.value}",
                )
            )
    return out


def _line_problems(line: Line) -> list[ErrorDetail]:
    out = []
    expected = vat_per_unit(line.gross_unit_price, line.vat_percent)
    if abs(line.vat_amount - expected) > VAT_TOLERANCE:
        out.append(
            _err(
                "VATAMOUNT",
                line.vat_amount,
                f"Position {line.reference}: vatAmount is the VAT of one unit, round2(gross - gross / "
                f"(1 + vatPercent / 100)) = {expected} for grossUnitPrice {_dec(line.gross_unit_price)} at "
                f"{_dec(line.vat_percent)}%",
            )
        )
    if line.vat_type is VatType.TAXLESS and line.vat_percent != 0:
        out.append(
            _err("VATPERCENT", line.vat_percent, f"Position {line.reference}: vatType TAXLESS needs vatPercent 0")
        )
    return out


def _order_problems(
    existing: AccountingOrder | None, request: AccountingRequest, body: OrderInput
) -> list[ErrorDetail]:
    out = []
    if existing is not None:
        out.append(
            _err(
                "ORDERREFERENCE",
                body.order_reference,
                f"Order {body.order_reference} already exists (business {existing.business_code}); an "
                "order reference can be created once",
            )
        )
    for name, language in (
        ("BILLTOLANGUAGECODE", body.bill_to_language),
        ("SHIPTOLANGUAGECODE", body.ship_to_language),
    ):
        if language is not None and not (language.isalpha() and language.islower()):
            out.append(_err(name, language, f"The content of field {name} may only consist of lower case letters."))
    out.extend(_item_problems(body.positions))
    return out


def _shipping_problems(order: AccountingOrder, carrier: str | None, tracking_code: str | None) -> list[ErrorDetail]:
    """`carrier` and `trackingCode` are required on invoices of physical goods (they ship)."""
    if order.order_type is not OrderType.PHYSICAL_GOODS:
        return []
    return [
        _err(
            name,
            "",
            f"{field} is required for an invoice of order {order.order_reference}, of PHYSICAL_GOODS "
            "(needed for chargeback handling)",
        )
        for name, field, value in (("CARRIER", "carrier", carrier), ("TRACKINGCODE", "trackingCode", tracking_code))
        if not value
    ]


def _invoice_problems(order: AccountingOrder, body: InvoiceInput) -> list[ErrorDetail]:
    out = _shipping_problems(order, body.carrier, body.tracking_code)
    if order.cancelled:
        out.append(
            _err(
                "ORDERREFERENCE",
                order.order_reference,
                f"Order {order.order_reference} is cancelled and cannot be invoiced",
            )
        )
    if order.invoice(body.invoice_reference) is not None:
        out.append(_duplicate_invoice(order, body.invoice_reference))
    out.extend(_references_problems(order, body.references, "invoiced"))
    for ref in body.references:
        p = order.position(ref)
        if p is None:
            continue
        if p.state is PositionState.CANCELLED:
            out.append(
                _err("ORDERITEMREFERENCE", ref, f"Position {ref} is cancelled; a cancelled position cannot be invoiced")
            )
        elif p.state is PositionState.INVOICED:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    ref,
                    f"Position {ref} is already invoiced (invoice {p.invoice_reference}); only whole "
                    "positions not yet invoiced can be invoiced",
                )
            )
    return out


def _references_problems(order: AccountingOrder, references: Iterable[int], what: str) -> list[ErrorDetail]:
    out = []
    seen: set[int] = set()
    known = ", ".join(str(p.reference) for p in order.positions)
    for ref in references:
        if ref in seen:
            out.append(_err("ORDERITEMREFERENCE", ref, f"Position {ref} is listed more than once"))
        seen.add(ref)
        if order.position(ref) is None:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    ref,
                    f"Position {ref} is not in order {order.order_reference} (positions: {known}) and cannot be {what}",
                )
            )
    return out


def _cancellation_problems(order: AccountingOrder, body: CancellationInput) -> list[ErrorDetail]:
    if order.cancelled:
        return [_err("ORDERREFERENCE", order.order_reference, f"Order {order.order_reference} is already cancelled")]
    if not body.references:
        if not any(p.state is PositionState.OPEN for p in order.positions):
            return [
                _err(
                    "ORDERREFERENCE",
                    order.order_reference,
                    f"Order {order.order_reference} has no position left to cancel: every one is invoiced or cancelled",
                )
            ]
        return []
    out = _references_problems(order, body.references, "cancelled")
    for ref in body.references:
        p = order.position(ref)
        if p is None:
            continue
        if p.state is PositionState.INVOICED:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    ref,
                    f"Position {ref} is invoiced (invoice {p.invoice_reference}); only positions not yet "
                    "invoiced can be cancelled — use a return or a goodwill",
                )
            )
        elif p.state is PositionState.CANCELLED:
            out.append(_err("ORDERITEMREFERENCE", ref, f"Position {ref} is already cancelled"))
    return out


def _credit_lines_problems(order: AccountingOrder, lines: Iterable[Line], what: str) -> list[ErrorDetail]:
    """Goodwill and return lines: invoiced positions only, amounts consistent."""
    lines = tuple(lines)
    out = _references_problems(order, (ln.reference for ln in lines), f"given a {what}")
    for ln in lines:
        p = order.position(ln.reference)
        if p is None:
            continue
        if p.state is not PositionState.INVOICED:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    ln.reference,
                    f"Position {ln.reference} is {p.state.value}, not invoiced; a {what} needs an invoiced position",
                )
            )
        out.extend(_line_problems(ln))
    return out


def _goodwill_problems(order: AccountingOrder, body: GoodwillInput) -> list[ErrorDetail]:
    out = []
    if _goodwill_taken(order, body.goodwill_reference):
        out.append(_duplicate_goodwill(order, body.goodwill_reference))
    out.extend(_credit_lines_problems(order, body.lines, "goodwill"))
    for ln in body.lines:
        p = order.position(ln.reference)
        if p is None or p.state is not PositionState.INVOICED:
            continue
        left = p.gross - p.returned_amount - p.goodwill_amount
        if ln.gross <= 0:
            out.append(
                _err(
                    "GROSSUNITPRICE",
                    ln.gross_unit_price,
                    f"Position {ln.reference}: a goodwill credits a positive amount",
                )
            )
        elif ln.gross > left:
            out.append(
                _err(
                    "GROSSUNITPRICE",
                    ln.gross_unit_price,
                    f"Position {ln.reference}: a goodwill of {ln.gross} exceeds the {left} of the position "
                    "not yet returned or credited",
                )
            )
    return out


def _return_problems(order: AccountingOrder, body: ReturnInput) -> list[ErrorDetail]:
    out = []
    if any(r.return_reference == body.return_reference for r in order.returns):
        out.append(
            _err(
                "RETURNREFERENCE",
                body.return_reference,
                f"Return reference {body.return_reference} was already used for order {order.order_reference}",
            )
        )
    out.extend(_credit_lines_problems(order, body.lines, "return"))
    for ln in body.lines:
        p = order.position(ln.reference)
        if p is None or p.state is not PositionState.INVOICED:
            continue
        left = p.quantity - p.returned_quantity
        if ln.quantity > left:
            out.append(
                _err(
                    "QUANTITY",
                    ln.quantity,
                    f"Position {ln.reference}: {_dec(ln.quantity)} returned exceeds the {_dec(left)} "
                    "invoiced and not yet returned",
                )
            )
        elif ln.gross > p.gross - p.returned_amount - p.goodwill_amount:
            out.append(
                _err(
                    "GROSSUNITPRICE",
                    ln.gross_unit_price,
                    f"Position {ln.reference}: the return's gross {ln.gross} exceeds what is left of the position",
                )
            )
    return out


def _update_problems(order: AccountingOrder, body: UpdateInvoiceInput) -> list[ErrorDetail]:
    """Update invoice (seed: riverty-update-invoice). Rule 1 (customer) is judged in `problems()`."""
    out: list[ErrorDetail] = []
    original = order.invoice(body.invoice_reference)
    if original is None:
        nullified = any(i.invoice_reference == body.invoice_reference for i in order.invoices)
        why = "was nullified by an earlier update" if nullified else "does not exist"
        return [
            _err(
                "INVOICEREFERENCE",
                body.invoice_reference,
                f"Invoice {body.invoice_reference} of order {order.order_reference} {why}",
            )
        ]
    if body.order.order_reference != order.order_reference:
        out.append(
            _err(
                "ORDERREFERENCE",
                body.order.order_reference,
                f"order.orderReference must be {order.order_reference}, the order being updated",
            )
        )
    if body.order.currency != order.currency:
        out.append(
            _err(
                "CURRENCY",
                body.order.currency,
                f"The currency of order {order.order_reference} is {order.currency}; an update cannot change it",
            )
        )
    # Rule 2: nothing returned or credited, every position delivered (invoiced) or cancelled.
    for p in order.positions:
        if p.reduced:
            what = "was returned" if p.returned_quantity > 0 else "received a goodwill"
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    p.reference,
                    f"Position {p.reference} {what}: an invoice can only be updated while no position of the "
                    "order has been returned or received a goodwill",
                )
            )
        elif p.state is PositionState.OPEN:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    p.reference,
                    f"Position {p.reference} is neither invoiced nor cancelled: an invoice can only be "
                    "updated once every position is delivered (invoiced) or cancelled",
                )
            )
    if _goodwill_taken(order, body.goodwill_reference):
        out.append(_duplicate_goodwill(order, body.goodwill_reference))
    out.extend(
        _shipping_problems(
            order, body.invoice.carrier or original.carrier, body.invoice.tracking_code or original.tracking_code
        )
    )
    new_ref = body.invoice.invoice_reference
    if new_ref != original.invoice_reference and order.invoice(new_ref) is not None:
        out.append(_duplicate_invoice(order, new_ref))
    on_invoice = [ln.reference for ln in original.lines]
    if sorted(body.invoice.references) != sorted(on_invoice):
        listed = ", ".join(str(r) for r in on_invoice)
        out.append(
            _err(
                "ORDERITEMREFERENCE",
                ",".join(str(r) for r in body.invoice.references),
                f"invoice.items must list the positions of invoice {original.invoice_reference} ({listed}): "
                "an update re-issues the same positions",
            )
        )
    out.extend(_item_problems(body.order.positions))
    # Rule 3: per position, the gross may go down, never up.
    old_lines = {ln.reference: ln for ln in original.lines}
    for p in body.order.positions:
        old = old_lines.get(p.reference)
        if old is None:
            out.append(
                _err(
                    "ORDERITEMREFERENCE",
                    p.reference,
                    f"Position {p.reference} is not on invoice {original.invoice_reference}; an update can "
                    "only change the positions of the invoice it updates",
                )
            )
        elif p.gross > old.gross:
            out.append(
                _err(
                    "GROSSUNITPRICE",
                    p.gross_unit_price,
                    f"Position {p.reference}: the gross may be reduced but not increased; it was "
                    f"{_dec(old.gross_unit_price)} x {_dec(old.quantity)} = {old.gross}, the update gives "
                    f"{_dec(p.gross_unit_price)} x {_dec(p.quantity)} = {p.gross}",
                )
            )
    return out
