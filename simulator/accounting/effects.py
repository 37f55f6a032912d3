"""The effects of accepted Accounting requests: each one makes the next version of an order.

Owns `new_order()` (create webshop order), `apply()` (every other write, on the version it is committed against)
and `positions_from_cents()` (an Orders order mirrored as Accounting positions, for seeding). Effects never judge:
`.rules` has accepted the request before `apply()` runs.

- invoice: the positions become `invoiced` on a new invoice (whole positions);
- cancellation: the positions become `cancelled` (no items: every open position, i.e. the whole order);
- goodwill and return: the positions' credited gross (and returned quantity) grow;
- update invoice: the original invoice is nullified by an automatic goodwill (`goodwillReference`), a new invoice is
  issued with the corrected positions (its VAT correction recorded), and any overpayment is refunded;
- refunds: after a cancellation, goodwill, return or update, whatever the customer paid beyond what they now owe is
  refunded to the original payment instrument (`accounting/refundCompleted`); with nothing paid, nothing is refunded
  and the lower amount is simply owed. A payment beyond what is owed is kept as a credit.

    order = apply(order, request, at="2026-11-21T10:00:00.000000Z", refund_id="R1")

Everything here is pure: no clock, no I/O, ids and times are passed in.

Imports: stdlib, `simulator.contract.money` and `.records`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from ..contract.money import from_cents, round2, vat_per_unit
from .records import (
    ZERO,
    AccountingOrder,
    AccountingRequest,
    Cancellation,
    CancellationInput,
    Goodwill,
    GoodwillInput,
    GoodwillReason,
    Invoice,
    InvoiceInput,
    Line,
    OrderInput,
    Payment,
    PaymentInput,
    Position,
    PositionState,
    PositionType,
    Refund,
    Return,
    ReturnInput,
    UpdateInvoiceInput,
    VatType,
)

__all__ = ["SeedItem", "apply", "new_order", "positions_from_cents"]


# -- seeding from Orders -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedItem:
    """An Orders item to mirror: unit price in cents."""

    product_id: str
    name: str
    price_cents: int
    quantity: int


def positions_from_cents(
    items: Iterable[SeedItem], *, shipping_cents: int, discounts_cents: int, vat_percent: Decimal
) -> tuple[Position, ...]:
    """Mirror an Orders order as Accounting positions: `orderItemReference` 1..n in item order (SALES_ARTICLE,
    `grossUnitPrice` = cents / 100, VAT per unit), then shipping (SHIPPING_COSTS) and discounts (DISCOUNT) as one
    position each when not zero. Orders ids are cut to the reference's lengths (productId 30, description 40)."""
    vat_type = VatType.TAXLESS if vat_percent == 0 else VatType.NORMAL

    def position(
        reference: int, cents: int, quantity: int, kind: PositionType, pid: str | None, text: str | None
    ) -> Position:
        gross = from_cents(cents)
        vat = vat_per_unit(gross, vat_percent)
        return Position(reference, gross, Decimal(quantity), vat, vat_percent, vat_type, kind, pid, text)

    out = [
        position(n, i.price_cents, i.quantity, PositionType.SALES_ARTICLE, i.product_id[:30], i.name[:40])
        for n, i in enumerate(items, start=1)
    ]
    if shipping_cents:
        out.append(position(len(out) + 1, shipping_cents, 1, PositionType.SHIPPING_COSTS, None, "Shipping"))
    if discounts_cents:
        out.append(position(len(out) + 1, discounts_cents, 1, PositionType.DISCOUNT, None, "Discounts"))
    return tuple(out)


# -- effects -------------------------------------------------------------------------------------------------


def new_order(request: AccountingRequest, *, at: str) -> AccountingOrder:
    body = request.body
    assert isinstance(body, OrderInput)
    return AccountingOrder(
        order_reference=body.order_reference,
        business_code=request.business_code,
        customer_number=request.customer_number,
        version=1,
        currency=body.currency,
        positions=body.positions,
        created_at=at,
        order_date=body.order_date,
        order_channel=body.order_channel,
        order_type=body.order_type,
        supplying_country=body.supplying_country,
        vat_declaration_country=body.vat_declaration_country,
        payment_method_name=body.payment_method_name,
    )


def apply(order: AccountingOrder, request: AccountingRequest, *, at: str, refund_id: str) -> AccountingOrder:
    """The effect of an accepted request on `order` (the latest version, or the snapshot in `write: document`
    mode). `refund_id` names the refund if the request leaves the customer overpaid."""
    body = request.body
    rid = request.internal_request_id
    if isinstance(body, InvoiceInput):
        return _apply_invoice(order, body, rid, at)
    if isinstance(body, UpdateInvoiceInput):
        updated = _apply_update(order, body, rid, at)
    elif isinstance(body, CancellationInput):
        refs = set(body.references) or {p.reference for p in order.positions if p.state is PositionState.OPEN}
        updated = order.evolve(
            positions=tuple(
                _with(p, state=PositionState.CANCELLED) if p.reference in refs else p for p in order.positions
            ),
            cancellations=(
                *order.cancellations,
                Cancellation(body.cancellation_date, body.reason, tuple(sorted(refs)), rid, at, body.invoice_reference),
            ),
        )
    elif isinstance(body, GoodwillInput):
        updated = _apply_goodwill(order, body, rid, at)
    elif isinstance(body, ReturnInput):
        updated = _apply_return(order, body, rid, at)
    else:
        assert isinstance(body, PaymentInput)
        payment = Payment(body.amount, rid, at, body.provider, body.payment_date)
        return order.evolve(payments=(*order.payments, payment))  # an overpayment is kept as a credit
    return _settle(updated, request, at=at, refund_id=refund_id)


def _with(p: Position, **changes: Any) -> Position:
    values = {f.name: changes.get(f.name, getattr(p, f.name)) for f in fields(Position)}
    return Position(**values)


def _by_reference(lines: Iterable[Line]) -> dict[int, list[Line]]:
    out: dict[int, list[Line]] = {}
    for ln in lines:
        out.setdefault(ln.reference, []).append(ln)
    return out


def _apply_invoice(order: AccountingOrder, body: InvoiceInput, rid: str, at: str) -> AccountingOrder:
    refs = set(body.references)
    lines = tuple(p.line() for p in order.positions if p.reference in refs)
    invoice = Invoice(
        body.invoice_reference,
        body.invoice_date,
        lines,
        rid,
        at,
        due_date=body.due_date,
        dispatch_date=body.dispatch_date,
        shipment_reference=body.shipment_reference,
        carrier=body.carrier,
        tracking_code=body.tracking_code,
    )
    positions = tuple(
        _with(p, state=PositionState.INVOICED, invoice_reference=body.invoice_reference) if p.reference in refs else p
        for p in order.positions
    )
    return order.evolve(positions=positions, invoices=(*order.invoices, invoice))


def _apply_goodwill(order: AccountingOrder, body: GoodwillInput, rid: str, at: str) -> AccountingOrder:
    credit = _by_reference(body.lines)

    def credited(p: Position) -> Position:
        lines = credit.get(p.reference)
        if not lines:
            return p
        return _with(p, goodwill_amount=p.goodwill_amount + sum((ln.gross for ln in lines), ZERO))

    goodwill = Goodwill(
        body.goodwill_reference, body.goodwill_date, body.reason, body.lines, rid, at, body.invoice_reference
    )
    return order.evolve(positions=tuple(credited(p) for p in order.positions), goodwills=(*order.goodwills, goodwill))


def _apply_return(order: AccountingOrder, body: ReturnInput, rid: str, at: str) -> AccountingOrder:
    back = _by_reference(body.lines)

    def returned(p: Position) -> Position:
        lines = back.get(p.reference)
        if not lines:
            return p
        return _with(
            p,
            returned_quantity=p.returned_quantity + sum((ln.quantity for ln in lines), ZERO),
            returned_amount=p.returned_amount + sum((ln.gross for ln in lines), ZERO),
        )

    ret = Return(body.return_reference, body.return_date, body.reason, body.lines, rid, at, body.invoice_reference)
    return order.evolve(positions=tuple(returned(p) for p in order.positions), returns=(*order.returns, ret))


def _apply_update(order: AccountingOrder, body: UpdateInvoiceInput, rid: str, at: str) -> AccountingOrder:
    original = order.invoice(body.invoice_reference)
    assert original is not None, "checked by unique_problems() at COMMIT"
    new_data = {p.reference: p for p in body.order.positions}

    def corrected(p: Position) -> Position:
        n = new_data.get(p.reference)
        if n is None:
            on_original = p.invoice_reference == original.invoice_reference
            return _with(p, invoice_reference=body.invoice.invoice_reference) if on_original else p
        return _with(
            p,
            gross_unit_price=n.gross_unit_price,
            quantity=n.quantity,
            vat_amount=n.vat_amount,
            vat_percent=n.vat_percent,
            vat_type=n.vat_type,
            position_type=n.position_type,
            product_id=n.product_id if n.product_id is not None else p.product_id,
            description=n.description if n.description is not None else p.description,
            invoice_reference=body.invoice.invoice_reference,
        )

    positions = tuple(corrected(p) for p in order.positions)
    refs = set(body.invoice.references)
    lines = tuple(p.line() for p in positions if p.reference in refs)
    inv = body.invoice
    issued = Invoice(
        inv.invoice_reference,
        inv.invoice_date,
        lines,
        rid,
        at,
        due_date=inv.due_date,
        dispatch_date=inv.dispatch_date,
        shipment_reference=inv.shipment_reference,
        carrier=inv.carrier or original.carrier,  # an update may leave out what the original carries
        tracking_code=inv.tracking_code or original.tracking_code,
        replaces=original.invoice_reference,
        vat_correction=sum((ln.vat for ln in lines), ZERO) - original.vat,
    )
    nullify = Goodwill(
        body.goodwill_reference,
        at[:10],
        GoodwillReason.CORRECTION_PRICE,
        original.lines,
        rid,
        at,
        invoice_reference=original.invoice_reference,
        automatic=True,
    )
    invoices = tuple(_nullified(i, body.goodwill_reference) if i is original else i for i in order.invoices)
    return order.evolve(positions=positions, invoices=(*invoices, issued), goodwills=(*order.goodwills, nullify))


def _nullified(invoice: Invoice, goodwill_reference: str) -> Invoice:
    values = {f.name: getattr(invoice, f.name) for f in fields(Invoice)}
    values["nullified_by"] = goodwill_reference
    return Invoice(**values)


def _settle(order: AccountingOrder, request: AccountingRequest, *, at: str, refund_id: str) -> AccountingOrder:
    """Refund whatever was paid beyond what is now owed (the reference: refunds happen when already paid)."""
    excess = order.paid - order.refunded - max(order.due, ZERO)
    if excess <= 0:
        return order
    refund = Refund(round2(excess), request.kind, refund_id, request.internal_request_id, at)
    return order.evolve(refunds=(*order.refunds, refund))
