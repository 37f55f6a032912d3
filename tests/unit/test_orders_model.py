"""The Orders domain's pure rules (`simulator.orders.model`): Change plans and their CHK codes, applying a plan,
the invoice rules, and the order's derived values. Money is integer cents throughout.

The example order is the DESIGN's: 2 x 49.90 (sku-1) + 1 x 15.00 (sku-2) + 10.00 shipping = 124.80.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import simulator.orders.model as orders_model
from simulator.errors import BadRequest, RuleViolation
from simulator.orders.model import (
    AppliedChange,
    ChangeInput,
    ChangeItem,
    InvoiceInput,
    InvoiceItem,
    Item,
    Order,
    Package,
    check_invoice,
    plan_change,
)

VALUE = 4990 * 2 + 1500 + 1000


def item(sku: str, price: int, quantity: int) -> Item:
    return Item(id=sku, unique_id=f"{sku}-u", name=sku, price=price, quantity=quantity, list_price=price)


ITEMS = (item("sku-1", 4990, 2), item("sku-2", 1500, 1))


def package(value: int, *, type: str = "Output", number: str = "NF-1") -> Package:
    return Package(
        type=type,
        invoice_number=number,
        invoice_value=value,
        issuance_date="2026-11-21",
        items=(),
        receipt="r",
        form="document",
    )


def make_order(*, status: str = "handling", invoiced: int = 0, returned: int = 0, **changes: Any) -> Order:
    packages = ((package(invoiced),) if invoiced else ()) + (
        (package(returned, type="Input", number="NF-R"),) if returned else ()
    )
    order = Order(
        order_id="ORD-1",
        version=1,
        status=status,
        items=ITEMS,
        original_items=ITEMS,
        shipping=1000,
        discounts=0,
        tax=0,
        change_value=0,
        packages=packages,
        created_at="t0",
        last_change="t0",
    )
    return order.evolve(**changes) if changes else order


def remove(sku: str, quantity: int = 1) -> ChangeInput:
    return ChangeInput(reason="r", remove=(ChangeItem(sku, quantity),))


def add(sku: str, quantity: int = 1, price: int | None = None) -> ChangeInput:
    return ChangeInput(reason="r", add=(ChangeItem(sku, quantity, price=price),))


def refused(order: Order, change: ChangeInput, *, check_invoices: bool = False, **kwargs: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as info:
        plan_change(order, change, check_invoices=check_invoices, **kwargs)
    return info.value


def invoice(value: int, *, type: str = "Output", items: tuple[InvoiceItem, ...] = ()) -> InvoiceInput:
    return InvoiceInput(
        type=type, invoice_number="NF-2", invoice_value=value, issuance_date="2026-11-21", items=items, form="document"
    )


def invoice_refused(order: Order, inv: InvoiceInput) -> RuleViolation:
    with pytest.raises(RuleViolation) as info:
        check_invoice(order, inv)
    return info.value


# -- Order -----------------------------------------------------------------------------------------------


def test_order_value_sums_items_shipping_discounts_tax_and_changes() -> None:
    assert make_order().value == VALUE == 12480
    assert make_order(discounts=-480, tax=100, change_value=-1500).value == VALUE - 480 + 100 - 1500


def test_order_value_counts_the_original_items_not_the_changed_ones() -> None:
    changed = make_order(items=(item("sku-1", 4990, 2),), change_value=-1500)
    assert changed.value == VALUE - 1500


def test_invoiced_value_sums_output_invoices_only() -> None:
    order = make_order(invoiced=5000, returned=1200)
    assert order.invoiced_value == 5000
    assert order.returned_value == 1200


def test_with_status_sets_last_change_and_keeps_the_version() -> None:
    order = make_order()
    moved = order.with_status("invoice", "t1")
    assert (moved.status, moved.last_change, moved.invoiced_date, moved.version) == ("invoice", "t1", None, 1)
    assert order.status == "handling"  # a new version, not a mutation


def test_with_status_invoiced_sets_invoiced_date() -> None:
    assert make_order().with_status("invoiced", "t2").invoiced_date == "t2"


def test_with_status_keeps_an_earlier_invoiced_date() -> None:
    assert make_order(invoiced_date="t2").with_status("canceled", "t3").invoiced_date == "t2"


def test_with_the_same_status_is_the_same_version() -> None:
    order = make_order()
    assert order.with_status("handling", "t9") is order


def test_evolve_copies_every_other_field() -> None:
    order = make_order(invoiced=100)
    assert order.evolve(version=2) == replace(order, version=2)


# -- plan_change: rules ----------------------------------------------------------------------------------


def test_empty_change_is_chk0124() -> None:
    assert refused(make_order(), ChangeInput(reason="nothing")).code == "CHK0124"


@pytest.mark.parametrize("manual", [{"manual_discount": -1}, {"manual_increment": -1}])
def test_negative_manual_value_is_chk0098(manual: dict[str, int]) -> None:
    assert refused(make_order(), ChangeInput(reason="r", **manual)).code == "CHK0098"


def test_removing_an_unknown_item_is_chk0022() -> None:
    err = refused(make_order(), remove("sku-9"))
    assert err.code == "CHK0022"
    assert "'sku-9'" in err.message


def test_adding_a_new_item_without_price_is_chk0022() -> None:
    assert refused(make_order(), add("sku-9")).code == "CHK0022"


def test_adding_a_new_item_with_negative_price_is_chk0022() -> None:
    assert refused(make_order(), add("sku-9", price=-1)).code == "CHK0022"


@pytest.mark.parametrize(
    "change",
    [
        remove("sku-1", 0),
        remove("sku-1", 3),  # only 2 in the order
        add("sku-1", 0),
        add("sku-9", 0, price=100),
        ChangeInput(
            reason="r",
            remove=(ChangeItem("sku-1", 2),),
            replace=(((ChangeItem("sku-1", 1),), (ChangeItem("sku-2", 1),)),),
        ),  # 3 of 2 removed in all
    ],
)
def test_quantity_out_of_range_is_chk0023(change: ChangeInput) -> None:
    assert refused(make_order(), change).code == "CHK0023"


def test_manual_discount_at_or_above_the_order_total_is_chk0124() -> None:
    assert refused(make_order(), ChangeInput(reason="r", manual_discount=VALUE)).code == "CHK0124"
    assert plan_change(make_order(), ChangeInput(reason="r", manual_discount=VALUE - 1), check_invoices=False)


def test_change_leaving_a_total_of_zero_or_less_is_chk0124() -> None:
    order = make_order(shipping=0)
    everything = ChangeInput(reason="r", remove=(ChangeItem("sku-1", 2), ChangeItem("sku-2", 1)))
    err = refused(order, everything)
    assert err.code == "CHK0124"
    assert "would be 0" in err.message


def test_change_below_the_invoiced_value_is_chk0034_when_invoices_are_checked() -> None:
    order = make_order(invoiced=VALUE)
    err = refused(order, remove("sku-2"), check_invoices=True)
    assert err.code == "CHK0034"
    assert f"{VALUE} is already invoiced" in err.message


def test_change_below_the_invoiced_value_passes_when_invoices_are_not_checked() -> None:
    # The synchronous checks skip CHK0034: exactly the rule the race defeats.
    plan = plan_change(make_order(invoiced=VALUE), remove("sku-2"), check_invoices=False)
    assert plan.new_value == VALUE - 1500


def test_change_down_to_exactly_the_invoiced_value_is_allowed() -> None:
    plan = plan_change(make_order(invoiced=VALUE - 1500), remove("sku-2"), check_invoices=True)
    assert plan.new_value == VALUE - 1500


@pytest.mark.parametrize("status", ["handling", "waiting-for-fulfillment", "invoice"])
def test_change_is_accepted_in_changeable_statuses(status: str) -> None:
    assert plan_change(make_order(status=status), remove("sku-2"), check_invoices=False).new_value == VALUE - 1500


@pytest.mark.parametrize("status", ["order-created", "payment-pending", "ready-for-handling", "invoiced"])
def test_change_in_other_statuses_is_chk0124(status: str) -> None:
    # Dev portal, errors in Change v2: CHK0124 "Invalid change for order." names the allowed order states.
    err = refused(make_order(status=status), remove("sku-2"))
    assert err.code == "CHK0124"
    assert err.message.startswith("Invalid change for order.")
    assert status in err.message


def test_change_of_a_canceled_order_is_sales_order_system_008() -> None:
    err = refused(make_order(status="canceled"), remove("sku-2"))
    assert (err.code, err.message) == ("SalesOrderSystem008", "Cannot Change Cancelled Order.")


def test_chk0034_keeps_the_documented_text_apart() -> None:
    err = refused(make_order(invoiced=VALUE), remove("sku-2"), check_invoices=True)
    assert err.code == "CHK0034"
    assert err.documented == "The value of the change exceed the order's price"
    assert err.message.startswith(err.documented + ":")


def test_change_when_payment_approved_needs_a_partial_invoice() -> None:
    assert refused(make_order(status="payment-approved"), remove("sku-2")).code == "CHK0124"
    partial = make_order(status="payment-approved", invoiced=5000)
    assert plan_change(partial, remove("sku-2"), check_invoices=False).new_value == VALUE - 1500


def test_status_check_can_be_skipped() -> None:
    plan = plan_change(make_order(status="invoiced"), remove("sku-2"), check_status=False, check_invoices=False)
    assert plan.new_value == VALUE - 1500


# -- plan_change: arithmetic -----------------------------------------------------------------------------


def test_remove_plan_in_cents() -> None:
    plan = plan_change(make_order(), remove("sku-1"), check_invoices=False)
    assert plan.deltas == (("sku-1", -1),)
    assert plan.new_lines == ()
    assert (plan.items_delta, plan.total_change_value, plan.new_value) == (-4990, -4990, VALUE - 4990)


def test_adding_more_of_an_existing_item_uses_its_price() -> None:
    plan = plan_change(make_order(), add("sku-2", 2, price=1), check_invoices=False)
    assert plan.deltas == (("sku-2", 2),)
    assert plan.new_lines == ()
    assert plan.items_delta == 3000


def test_adding_a_new_item_makes_a_new_line() -> None:
    plan = plan_change(make_order(), add("sku-3", 4, price=250), check_invoices=False)
    assert plan.deltas == ()
    assert plan.new_lines == (
        Item(id="sku-3", unique_id="sku-3-added", name="sku-3", price=250, quantity=4, list_price=250),
    )
    assert (plan.items_delta, plan.new_value) == (1000, VALUE + 1000)


def test_replace_removes_then_adds() -> None:
    change = ChangeInput(reason="r", replace=(((ChangeItem("sku-2", 1),), (ChangeItem("sku-3", 1, price=1200),)),))
    plan = plan_change(make_order(), change, check_invoices=False)
    assert plan.deltas == (("sku-2", -1),)
    assert [n.id for n in plan.new_lines] == ["sku-3"]
    assert (plan.items_delta, plan.new_value) == (-300, VALUE - 300)


def test_manual_values_add_to_the_items_delta() -> None:
    change = ChangeInput(reason="r", remove=(ChangeItem("sku-2", 1),), manual_discount=500, manual_increment=200)
    plan = plan_change(make_order(), change, check_invoices=False)
    assert plan.items_delta == -1500
    assert plan.total_change_value == -1500 - 500 + 200
    assert plan.new_value == VALUE - 1800
    assert plan.totals(change) == [
        {"id": "Items", "name": "Items Total", "value": -1500},
        {"id": "Discounts", "name": "Manual Discount", "value": -500},
        {"id": "Increment", "name": "Manual Increment", "value": 200},
    ]


def test_totals_omit_manual_values_that_are_zero() -> None:
    change = remove("sku-2")
    assert plan_change(make_order(), change, check_invoices=False).totals(change) == [
        {"id": "Items", "name": "Items Total", "value": -1500}
    ]


def test_plan_is_judged_against_the_version_it_is_given() -> None:
    changed = make_order(items=(item("sku-1", 4990, 2), item("sku-2", 1500, 0)), change_value=-1500)
    assert refused(changed, remove("sku-2")).code == "CHK0023"  # already removed in this version
    assert plan_change(changed, remove("sku-1"), check_invoices=False).new_value == VALUE - 1500 - 4990


# -- apply_plan ------------------------------------------------------------------------------------------


def apply_plan(order: Order, plan: Any, request_id: str, at: str) -> Order:
    """`apply_plan` with the record of a Change v2 made from the plan (as the Change worker makes it)."""
    record = AppliedChange.of(order, plan, request_id=request_id, reason="r", receipt=f"{request_id}-receipt", date=at)
    return orders_model.apply_plan(order, plan, record)


def request_ids(order: Order) -> tuple[str, ...]:
    return tuple(c.request_id for c in order.applied_changes)


def test_apply_plan_updates_items_value_and_history() -> None:
    order = make_order()
    change = ChangeInput(reason="r", remove=(ChangeItem("sku-1", 1),), add=(ChangeItem("sku-3", 2, price=100),))
    plan = plan_change(order, change, check_invoices=False)
    new = apply_plan(order, plan, "req-1", "t1")
    assert [(i.id, i.quantity) for i in new.items] == [("sku-1", 1), ("sku-2", 1), ("sku-3", 2)]
    assert new.value == plan.new_value == VALUE - 4990 + 200
    assert (new.change_value, request_ids(new), new.last_change) == (plan.total_change_value, ("req-1",), "t1")
    (record,) = new.applied_changes
    assert (record.discount_value, record.increment_value) == (4990 - 200, 0)
    assert [(i.id, i.name, i.quantity, i.price) for i in record.items_removed] == [("sku-1", "sku-1", 1, 4990)]
    assert [(i.id, i.quantity, i.price) for i in record.items_added] == [("sku-3", 2, 100)]
    assert new.original_items == ITEMS
    assert new.version == order.version  # the transaction sets the version


def test_apply_plan_to_a_newer_version_merges_deltas_into_its_quantities() -> None:
    """Write skew: the plan was computed from v1; a concurrent Change already removed one sku-1 in v2."""
    v1 = make_order()
    v2 = apply_plan(v1, plan_change(v1, remove("sku-1"), check_invoices=False), "req-1", "t1")
    plan = plan_change(v1, remove("sku-1"), check_invoices=False)  # judged on the stale v1: allowed
    v3 = apply_plan(v2, plan, "req-2", "t2")
    assert [(i.id, i.quantity) for i in v3.items] == [("sku-1", 0), ("sku-2", 1)]
    assert request_ids(v3) == ("req-1", "req-2")
    assert v3.value == VALUE - 2 * 4990


def test_apply_plan_never_takes_a_quantity_below_zero() -> None:
    v1 = make_order()
    v2 = apply_plan(v1, plan_change(v1, remove("sku-2"), check_invoices=False), "req-1", "t1")
    v3 = apply_plan(v2, plan_change(v1, remove("sku-2"), check_invoices=False), "req-2", "t2")
    assert dict((i.id, i.quantity) for i in v3.items)["sku-2"] == 0
    assert v3.value == VALUE - 3000  # both Changes are still charged: the anomaly the race produces


def test_apply_plan_keeps_items_added_concurrently_to_the_newer_version() -> None:
    v1 = make_order()
    v2 = apply_plan(v1, plan_change(v1, add("sku-3", 1, price=100), check_invoices=False), "req-1", "t1")
    v3 = apply_plan(v2, plan_change(v1, remove("sku-2"), check_invoices=False), "req-2", "t2")
    assert [(i.id, i.quantity) for i in v3.items] == [("sku-1", 2), ("sku-2", 0), ("sku-3", 1)]


def test_apply_plan_with_the_same_new_item_added_twice_sums_its_quantity() -> None:
    order = make_order()
    change = ChangeInput(reason="r", add=(ChangeItem("sku-3", 1, price=100), ChangeItem("sku-3", 2, price=100)))
    plan = plan_change(order, change, check_invoices=False)
    assert plan.items_delta == 300
    new = apply_plan(order, plan, "req-1", "t1")
    assert dict((i.id, i.quantity) for i in new.items)["sku-3"] == 3


# -- check_invoice ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["ready-for-handling", "start-handling", "handling", "waiting-for-fulfillment", "invoice"]
)
def test_output_invoice_is_accepted_in_invoiceable_statuses(status: str) -> None:
    check_invoice(make_order(status=status), invoice(VALUE))


@pytest.mark.parametrize("status", ["order-created", "payment-pending", "window-to-cancel", "invoiced", "canceled"])
def test_output_invoice_in_other_statuses_is_oms003(status: str) -> None:
    err = invoice_refused(make_order(status=status), invoice(100))
    assert err.code == "OMS003"
    assert status in err.message


def test_output_invoice_when_payment_approved_needs_a_partial_invoice() -> None:
    assert invoice_refused(make_order(status="payment-approved"), invoice(100)).code == "OMS003"
    check_invoice(make_order(status="payment-approved", invoiced=5000), invoice(100))


def test_output_invoice_up_to_the_value_not_yet_invoiced_is_accepted() -> None:
    check_invoice(make_order(invoiced=5000), invoice(VALUE - 5000))


def test_output_invoice_over_the_value_not_yet_invoiced_is_refused() -> None:
    err = invoice_refused(make_order(invoiced=5000), invoice(VALUE - 5000 + 1))
    assert err.code == "OMS-INVOICE-EXCEEDS"
    assert f"({VALUE - 5000} of order value {VALUE})" in err.message


def test_output_invoice_is_judged_on_the_changed_value() -> None:
    reduced = make_order(change_value=-1500)
    assert invoice_refused(reduced, invoice(VALUE)).code == "OMS-INVOICE-EXCEEDS"
    check_invoice(reduced, invoice(VALUE - 1500))


def test_invoice_item_by_sku_id_must_be_in_the_order() -> None:
    check_invoice(
        make_order(), invoice(100, items=(InvoiceItem(item_index=-1, quantity=1, price=100, sku_id="sku-2"),))
    )
    bad = invoice(100, items=(InvoiceItem(item_index=0, quantity=1, price=100, sku_id="sku-9"),))
    err = invoice_refused(make_order(), bad)
    assert err.code == "OMS-INVALID-ITEM"
    assert "'sku-9'" in err.message


@pytest.mark.parametrize("index", [-1, 2])
def test_invoice_item_index_must_be_in_range(index: int) -> None:
    err = invoice_refused(make_order(), invoice(100, items=(InvoiceItem(item_index=index, quantity=1, price=100),)))
    assert err.code == "OMS-INVALID-ITEM"
    assert f"itemIndex {index} is out of range" in err.message


def test_invoice_item_quantity_must_not_exceed_the_order_line() -> None:
    check_invoice(make_order(), invoice(9980, items=(InvoiceItem(item_index=0, quantity=2, price=9980),)))
    err = invoice_refused(make_order(), invoice(100, items=(InvoiceItem(item_index=0, quantity=3, price=100),)))
    assert err.code == "OMS-INVALID-ITEM"


def test_input_invoice_needs_an_output_invoice_first() -> None:
    assert invoice_refused(make_order(), invoice(100, type="Input")).code == "OMS003"


def test_input_invoice_is_accepted_after_invoicing_in_any_status() -> None:
    check_invoice(make_order(status="invoiced", invoiced=VALUE), invoice(VALUE, type="Input"))


def test_input_invoice_cannot_return_more_than_was_invoiced_and_not_returned() -> None:
    order = make_order(invoiced=5000, returned=3000)
    check_invoice(order, invoice(2000, type="Input"))
    err = invoice_refused(order, invoice(2001, type="Input"))
    assert err.code == "OMS-INVOICE-EXCEEDS"
    assert "(2000)" in err.message


def test_rule_violations_are_bad_requests() -> None:
    err = invoice_refused(make_order(status="canceled"), invoice(100))
    assert isinstance(err, BadRequest)
    assert str(err) == err.message
