"""The Accounting domain's pure records and rules: money arithmetic, the conversion from Orders' cents, every
business rule (accepted and refused) and every effect, on hand-built orders. No I/O, no clock."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.accounting.documents import order_document, update_summary
from simulator.accounting.effects import SeedItem, apply, new_order, positions_from_cents
from simulator.accounting.records import (
    AccountingOrder,
    AccountingRequest,
    CancellationInput,
    CancellationReason,
    GoodwillInput,
    GoodwillReason,
    InvoiceInput,
    Line,
    OrderChannel,
    OrderInput,
    OrderType,
    PaymentInput,
    Position,
    PositionState,
    PositionType,
    RequestBody,
    RequestKind,
    ReturnInput,
    ReturnReason,
    UpdateInvoiceInput,
    VatType,
)
from simulator.accounting.rules import problems, unique_problems
from simulator.contract.money import from_cents, round2, vat_per_unit

D = Decimal
AT = "2026-11-21T10:00:00.000000Z"

# -- money ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [("0.005", "0.01"), ("0.004", "0.00"), ("-0.005", "-0.01"), ("1.234", "1.23"), ("2.675", "2.68")],
)
def test_round2_rounds_halves_away_from_zero(value: str, rounded: str) -> None:
    assert round2(D(value)) == D(rounded)


@pytest.mark.parametrize(
    ("gross", "percent", "vat"),
    [
        ("11.9", "19", "1.90"),  # the seed's update-invoice sample
        ("119", "19", "19.00"),  # the create-order example
        ("119.12", "19", "19.02"),  # the update-invoice API example
        ("20.00", "21", "3.47"),  # the goodwill guide's example
        ("49.90", "19", "7.97"),
        ("15.00", "19", "2.39"),
        ("10.00", "0", "0.00"),
        ("-1.00", "7", "-0.07"),
    ],
)
def test_vat_per_unit_fits_the_reference_examples(gross: str, percent: str, vat: str) -> None:
    assert vat_per_unit(D(gross), D(percent)) == D(vat)


@given(cents=st.integers(min_value=-(10**9), max_value=10**9), percent=st.integers(min_value=0, max_value=100))
def test_vat_per_unit_is_the_vat_share_of_the_gross(cents: int, percent: int) -> None:
    gross = from_cents(cents)
    assert vat_per_unit(gross, D(percent)) == round2(gross * percent / (100 + percent))


@given(cents=st.integers(min_value=-(10**15), max_value=10**15))
def test_from_cents_is_exact(cents: int) -> None:
    units = from_cents(cents)
    assert units * 100 == cents
    assert units.as_tuple().exponent == -2


def test_positions_from_cents_mirror_items_then_shipping_then_discounts() -> None:
    items = [SeedItem("sku-1", "Shirt", 4990, 2), SeedItem("x" * 40, "y" * 50, 1500, 1)]
    got = positions_from_cents(items, shipping_cents=1000, discounts_cents=-500, vat_percent=D(19))
    assert [(p.reference, p.gross_unit_price, p.quantity, p.vat_amount, p.position_type) for p in got] == [
        (1, D("49.90"), D(2), D("7.97"), PositionType.SALES_ARTICLE),
        (2, D("15.00"), D(1), D("2.39"), PositionType.SALES_ARTICLE),
        (3, D("10.00"), D(1), D("1.60"), PositionType.SHIPPING_COSTS),
        (4, D("-5.00"), D(1), D("-0.80"), PositionType.DISCOUNT),
    ]
    assert (len(got[1].product_id or ""), len(got[1].description or "")) == (30, 40)  # the reference's lengths
    assert sum(p.gross for p in got) == from_cents(4990 * 2 + 1500 + 1000 - 500)
    untaxed = positions_from_cents(items, shipping_cents=0, discounts_cents=0, vat_percent=D(0))
    assert {p.vat_type for p in untaxed} == {VatType.TAXLESS}


# -- hand-built orders ---------------------------------------------------------------------------------------


def pos(ref: int, price: str, qty: int = 1, **extra: object) -> Position:
    gross = D(price)
    return Position(ref, gross, D(qty), vat_per_unit(gross, D(19)), D(19), VatType.NORMAL, **extra)  # type: ignore[arg-type]


def order(*positions: Position, **extra: object) -> AccountingOrder:
    values: dict[str, object] = {
        "order_reference": "ORD-1",
        "business_code": "1000",
        "customer_number": "CUS-1",
        "version": 1,
        "currency": "EUR",
        "positions": positions or (pos(1, "49.90", 2), pos(2, "15.00"), pos(3, "10.00")),
        "created_at": AT,
    }
    values.update(extra)
    return AccountingOrder(**values)  # type: ignore[arg-type]


def req(
    body: RequestBody, *, kind: RequestKind | None = None, customer: str = "CUS-1", rid: str = "r-1"
) -> AccountingRequest:
    kinds: dict[type, RequestKind] = {
        InvoiceInput: RequestKind.INVOICE,
        UpdateInvoiceInput: RequestKind.UPDATE_INVOICE,
        CancellationInput: RequestKind.CANCELLATION,
        GoodwillInput: RequestKind.GOODWILL,
        ReturnInput: RequestKind.RETURN,
        PaymentInput: RequestKind.PAYMENT,
        OrderInput: RequestKind.ORDER,
    }
    return AccountingRequest(kind or kinds[type(body)], "1000", customer, "ORD-1", rid, rid, body)


def invoice(ref: str = "INV-1", *items: int) -> InvoiceInput:
    """An invoice of the given positions (default all three), shipped: `order()` is of physical goods."""
    return InvoiceInput(ref, "2026-11-21", items or (1, 2, 3), carrier="DHL", tracking_code="TRK-1")


def run(o: AccountingOrder, body: RequestBody, **kw: object) -> AccountingOrder:
    """Check then apply, as the worker does; fails the test if refused."""
    request = req(body, **kw)  # type: ignore[arg-type]
    assert problems(o, request) == []
    assert unique_problems(o, request) == []
    return apply(o, request, at=AT, refund_id="refund-1")


def why(o: AccountingOrder | None, body: RequestBody, **kw: object) -> list[tuple[str, str]]:
    return [(p.field_name, p.provided_value) for p in problems(o, req(body, **kw))]  # type: ignore[arg-type]


def line(ref: int, price: str, qty: str = "1") -> Line:
    gross = D(price)
    return Line(ref, gross, D(qty), vat_per_unit(gross, D(19)), D(19), VatType.NORMAL)


def update(
    *positions: Position,
    invoice_ref: str = "INV-1",
    goodwill: str = "GW-1",
    refs: tuple[int, ...] = (1, 2, 3),
    **order_fields: object,
) -> UpdateInvoiceInput:
    fields: dict[str, object] = {
        "order_reference": "ORD-1",
        "currency": "EUR",
        "order_date": "2026-11-21",
        "order_channel": OrderChannel.ECOM,
        "order_type": OrderType.PHYSICAL_GOODS,
        "positions": positions,
    }
    fields.update(order_fields)
    block = OrderInput(**fields)  # type: ignore[arg-type]
    return UpdateInvoiceInput(invoice_ref, goodwill, InvoiceInput(invoice_ref, "2026-11-22", refs), block)


CANCEL_2 = CancellationInput("2026-11-21", CancellationReason.OUT_OF_STOCK, (2,))


# -- create order --------------------------------------------------------------------------------------------


def test_create_order_rules() -> None:
    body = OrderInput(
        "ORD-1",
        "EUR",
        "2026-11-21",
        OrderChannel.ECOM,
        OrderType.PHYSICAL_GOODS,
        (pos(1, "11.9"), pos(2, "5.00")),
        bill_to_language="de",
    )
    created = new_order(req(body), at=AT)
    assert problems(None, req(body)) == []
    assert (created.version, created.total, created.cancelled) == (1, D("16.90"), False)

    assert why(created, body) == [("ORDERREFERENCE", "ORD-1")]  # exists
    duplicate = OrderInput(
        "ORD-2",
        "EUR",
        "2026-11-21",
        OrderChannel.ECOM,
        OrderType.PHYSICAL_GOODS,
        (pos(1, "1.00"), pos(1, "2.00")),
        bill_to_language="PL",
    )
    assert why(None, duplicate) == [("BILLTOLANGUAGECODE", "PL"), ("ORDERITEMREFERENCE", "1")]
    wrong_vat = OrderInput(
        "ORD-3",
        "EUR",
        "2026-11-21",
        OrderChannel.ECOM,
        OrderType.PHYSICAL_GOODS,
        (
            Position(1, D("11.9"), D(1), D("1.7"), D(19), VatType.NORMAL),
            Position(2, D("-1"), D(1), D("-0.16"), D(19), VatType.NORMAL),
        ),
    )
    assert why(None, wrong_vat) == [("VATAMOUNT", "1.7"), ("GROSSUNITPRICE", "-1")]  # a negative non-discount


# -- the rules of each write ---------------------------------------------------------------------------------


def test_invoice_rules() -> None:
    o = order()
    assert why(None, invoice()) == [("ORDERREFERENCE", "ORD-1")]
    assert why(o, invoice(), customer="CUS-2") == [("CUSTOMERNUMBER", "CUS-2")]
    assert why(order(business_code="1004"), invoice()) == [("ORDERREFERENCE", "ORD-1")]  # another business
    assert why(o, invoice("INV-1", 1, 1, 9)) == [("ORDERITEMREFERENCE", "1"), ("ORDERITEMREFERENCE", "9")]

    first = run(o, invoice("INV-1", 1))
    assert [p.state for p in first.positions] == [PositionState.INVOICED, PositionState.OPEN, PositionState.OPEN]
    assert (first.invoices[0].gross, first.invoices[0].vat) == (D("99.80"), D("15.94"))
    assert why(first, invoice("INV-2", 1, 2)) == [("ORDERITEMREFERENCE", "1")]  # already invoiced
    assert why(first, invoice("INV-1", 2)) == [("INVOICEREFERENCE", "INV-1")]  # the reference is taken

    cancelled = run(first, CANCEL_2)
    assert why(cancelled, invoice("INV-2", 2)) == [("ORDERITEMREFERENCE", "2")]
    assert run(cancelled, invoice("INV-2", 3)).invoiced_gross == D("109.80")


def test_invoices_of_physical_goods_need_carrier_and_tracking_code() -> None:
    """docs.riverty.com/accounting_as_a_service/api_reference/create_invoice: carrier and trackingCode are "Only
    required for physical goods and if order is shipped"."""
    bare = InvoiceInput("INV-1", "2026-11-21", (1, 2, 3))
    assert why(order(), bare) == [("CARRIER", ""), ("TRACKINGCODE", "")]
    assert why(order(), InvoiceInput("INV-1", "2026-11-21", (1, 2, 3), carrier="DHL")) == [("TRACKINGCODE", "")]
    assert why(order(), InvoiceInput("INV-1", "2026-11-21", (1, 2, 3), tracking_code="T")) == [("CARRIER", "")]
    assert why(order(order_type=OrderType.DIGITAL_GOODS), bare) == []
    assert why(order(order_type=OrderType.BANK_VERIFICATION), bare) == []


def test_an_update_carries_the_shipping_data_of_the_invoice_it_replaces_over() -> None:
    o = invoiced_all()  # INV-1 shipped with DHL / TRK-1
    assert why(o, update(*LOWERED)) == []  # the update's invoice block names no carrier
    updated = run(o, update(*LOWERED))
    assert (updated.invoices[-1].carrier, updated.invoices[-1].tracking_code) == ("DHL", "TRK-1")
    digital = run(order(order_type=OrderType.DIGITAL_GOODS), InvoiceInput("INV-1", "2026-11-21", (1, 2, 3)))
    physical = AccountingOrder(
        **{**{f: getattr(digital, f) for f in digital.__dataclass_fields__}, "order_type": OrderType.PHYSICAL_GOODS}
    )
    assert why(physical, update(*LOWERED)) == [("CARRIER", ""), ("TRACKINGCODE", "")]  # nothing to carry over


def test_invoice_of_a_cancelled_order_is_refused() -> None:
    whole = run(order(), CancellationInput("2026-11-21", CancellationReason.CUSTOMER_CANCELLATION, ()))
    assert whole.cancelled
    assert why(whole, invoice())[0] == ("ORDERREFERENCE", "ORD-1")
    assert why(whole, CANCEL_2) == [("ORDERREFERENCE", "ORD-1")]  # already cancelled


def test_cancellation_rules() -> None:
    invoiced = run(order(), invoice("INV-1", 1))
    assert why(invoiced, CancellationInput("2026-11-21", CancellationReason.OUT_OF_STOCK, (1,))) == [
        ("ORDERITEMREFERENCE", "1")
    ]
    cancelled = run(invoiced, CANCEL_2)
    assert cancelled.positions[1].state is PositionState.CANCELLED
    assert cancelled.total == D("109.80")
    assert why(cancelled, CANCEL_2) == [("ORDERITEMREFERENCE", "2")]  # already cancelled
    rest = run(cancelled, CancellationInput("2026-11-21", CancellationReason.OUT_OF_STOCK, ()))  # every open one
    assert [p.state for p in rest.positions] == [
        PositionState.INVOICED,
        PositionState.CANCELLED,
        PositionState.CANCELLED,
    ]
    assert why(rest, CancellationInput("2026-11-21", CancellationReason.OUT_OF_STOCK, ()))[0][0] == "ORDERREFERENCE"


def test_goodwill_rules() -> None:
    o = run(order(), invoice("INV-1", 1))
    goodwill = GoodwillInput("G-1", "2026-11-21", GoodwillReason.CUSTOMER_COMPLAINT, (line(1, "5.00"),))
    assert why(o, GoodwillInput("G-1", "2026-11-21", None, (line(2, "5.00"),))) == [("ORDERITEMREFERENCE", "2")]
    assert why(o, GoodwillInput("G-1", "2026-11-21", None, (line(1, "99.90"),))) == [("GROSSUNITPRICE", "99.90")]
    credited = run(o, goodwill)
    assert (credited.positions[0].goodwill_amount, credited.billed_gross) == (D("5.00"), D("94.80"))
    assert why(credited, goodwill) == [("GOODWILLREFERENCE", "G-1")]


def test_return_rules() -> None:
    o = run(order(), invoice("INV-1", 1))
    assert why(o, ReturnInput("R-1", "2026-11-21", ReturnReason.CUSTOMER_RETURN, (line(2, "15.00"),))) == [
        ("ORDERITEMREFERENCE", "2")
    ]
    one = run(o, ReturnInput("R-1", "2026-11-21", ReturnReason.CUSTOMER_RETURN, (line(1, "49.90"),)))
    assert (one.positions[0].returned_quantity, one.positions[0].returned_amount) == (D(1), D("49.90"))
    second = ReturnInput("R-2", "2026-11-21", ReturnReason.CARRIER_RETURN, (line(1, "49.90", "2"),))
    assert why(one, second) == [("QUANTITY", "2")]
    assert why(one, ReturnInput("R-1", "2026-11-21", ReturnReason.CARRIER_RETURN, (line(1, "49.90"),))) == [
        ("RETURNREFERENCE", "R-1")
    ]


def test_payment_is_kept_as_a_credit_and_never_refunded_at_once() -> None:
    paid = run(order(), PaymentInput(D("200.00"), "ACME"))
    assert (paid.paid, paid.refunds) == (D("200.00"), ())
    cancelled = run(order(positions=paid.positions, payments=paid.payments), CANCEL_2)
    (refund,) = cancelled.refunds  # after a reduction, everything paid beyond what is owed
    assert (refund.amount, refund.cause, refund.transaction_id) == (D("90.20"), RequestKind.CANCELLATION, "refund-1")


# -- update invoice: the three rules and the effect ----------------------------------------------------------

LOWERED = (pos(2, "15.00", 0),)
"""Position 2 removed: the gross goes from 124.80 to 109.80."""


def invoiced_all() -> AccountingOrder:
    return run(order(), invoice("INV-1"))


def test_update_rule_1_customer_identifier() -> None:
    o = invoiced_all()
    assert why(o, update(*LOWERED), customer="CUS-2") == [("CUSTOMERNUMBER", "CUS-2")]
    assert why(o, update(*LOWERED)) == []


def test_update_rule_2_no_return_or_goodwill_and_nothing_open() -> None:
    o = invoiced_all()
    after_goodwill = run(o, GoodwillInput("G-1", "2026-11-21", None, (line(3, "1.00"),)))
    assert why(after_goodwill, update(*LOWERED)) == [("ORDERITEMREFERENCE", "3")]
    after_return = run(o, ReturnInput("R-1", "2026-11-21", ReturnReason.CUSTOMER_RETURN, (line(1, "49.90"),)))
    assert why(after_return, update(*LOWERED)) == [("ORDERITEMREFERENCE", "1")]
    partly = run(order(), invoice("INV-1", 1, 2))
    assert why(partly, update(*LOWERED, refs=(1, 2))) == [("ORDERITEMREFERENCE", "3")]  # position 3 open
    settled = run(partly, CancellationInput("d", CancellationReason.OUT_OF_STOCK, (3,)))
    assert why(settled, update(*LOWERED, refs=(1, 2))) == []


def test_update_rule_3_gross_down_not_up() -> None:
    o = invoiced_all()
    assert why(o, update(pos(1, "49.91", 2))) == [("GROSSUNITPRICE", "49.91")]
    assert why(o, update(pos(2, "7.50", 3))) == [("GROSSUNITPRICE", "7.50")]  # 22.50 > 15.00 though cheaper per unit
    assert why(o, update(pos(1, "49.90", 2))) == []  # the same gross is not an increase
    assert why(o, update(pos(1, "30.00", 1), pos(2, "15.00", 0))) == []


def test_update_invoice_other_refusals() -> None:
    o = invoiced_all()
    assert why(o, update(*LOWERED, invoice_ref="INV-9")) == [("INVOICEREFERENCE", "INV-9")]
    assert why(o, update(*LOWERED, refs=(1, 2))) == [("ORDERITEMREFERENCE", "1,2")]  # not the invoice's positions
    assert why(o, update(*LOWERED, currency="USD")) == [("CURRENCY", "USD")]
    assert why(o, update(*LOWERED, order_reference="ORD-2")) == [("ORDERREFERENCE", "ORD-2")]
    two = run(order(), invoice("INV-1", 1))
    two = run(two, invoice("INV-2", 2, 3))
    assert why(two, update(pos(2, "15.00", 0), refs=(1,))) == [("ORDERITEMREFERENCE", "2")]  # on another invoice


def test_update_invoice_effect() -> None:
    o = run(invoiced_all(), PaymentInput(D("124.80")))
    body = update(pos(2, "15.00", 0), pos(3, "10.00", 1, description="Express"), goodwill="GW-1")
    updated = run(o, body, rid="r-2")

    original, issued = updated.invoices
    assert (original.active, original.nullified_by, original.gross) == (False, "GW-1", D("124.80"))
    assert (issued.active, issued.replaces, issued.gross, issued.request_id) == (True, "INV-1", D("109.80"), "r-2")
    assert issued.vat_correction == issued.vat - original.vat == D("-2.39")
    (auto,) = updated.goodwills
    assert (auto.automatic, auto.gross, auto.invoice_reference) == (True, D("124.80"), "INV-1")
    assert not any(p.reduced for p in updated.positions)  # the automatic goodwill is not a position's goodwill
    assert updated.positions[2].description == "Express"
    assert (updated.invoiced_gross, updated.billed_gross, updated.due) == (D("109.80"), D("109.80"), D("109.80"))
    (refund,) = updated.refunds
    assert (refund.amount, refund.cause) == (D("15.00"), RequestKind.UPDATE_INVOICE)
    # The same update again: the re-issued INV-1 is active, so only the goodwill reference is taken (at COMMIT).
    assert [p.field_name for p in unique_problems(updated, req(body))] == ["GOODWILLREFERENCE"]

    summary = update_summary(o, updated, req(body, rid="r-2"), "OK")
    got = (summary["oldGross"], summary["newGross"], summary["customerChanged"], summary["afterGoodwillOrReturn"])
    assert got == (124.8, 109.8, False, False)


def test_update_without_payment_refunds_nothing() -> None:
    updated = run(invoiced_all(), update(*LOWERED))
    assert (updated.refunds, updated.due) == ((), D("109.80"))


def test_documents_render_money_as_json_numbers() -> None:
    doc = order_document(run(invoiced_all(), update(*LOWERED)))
    assert (doc["invoicedGross"], doc["billedGross"], doc["totalGross"]) == (109.8, 109.8, 109.8)
    assert [i["nullified"] for i in doc["invoices"]] == [True, False]
    assert doc["positions"][1]["state"] == "invoiced"
