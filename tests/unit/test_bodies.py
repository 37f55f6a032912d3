"""The request bodies and history summaries both kinds of integration share (`harness.bodies`)."""

from __future__ import annotations

import pytest

from harness.integrations.bodies import change_body, invoice_items, summary_change, summary_order
from harness.model.records import Step


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"remove": [{"id": "sku-2", "quantity": 1}]},
            {
                "reason": "racelab scenario: value-reducing change",
                "remove": {"items": [{"id": "sku-2", "quantity": 1}]},
            },
        ),
        ({"add": {"items": []}, "reason": "gift"}, {"reason": "gift", "add": {"items": []}}),
        (
            {"replace": [{"from": {}, "to": {}}], "manualDiscountValue": 100, "ignored": 1},
            {
                "reason": "racelab scenario: value-reducing change",
                "replace": [{"from": {}, "to": {}}],
                "manualDiscountValue": 100,
            },
        ),
    ],
)
def test_a_change_body_is_built_from_the_step(args: dict[str, object], expected: dict[str, object]) -> None:
    assert change_body(Step(0.0, "change", args)) == expected


def test_invoice_items_are_the_remaining_lines_with_line_totals() -> None:
    order = {"items": [{"price": 4990, "quantity": 2}, {"price": 1500, "quantity": 0}, {"price": 7, "quantity": 3}]}
    assert invoice_items(order) == [
        {"itemIndex": 0, "price": 9980, "quantity": 2},
        {"itemIndex": 2, "price": 21, "quantity": 3},
    ]


def test_summaries_keep_what_judging_needs() -> None:
    order = {
        "value": 10980,
        "status": "invoiced",
        "version": 4,
        "items": [{"id": "sku-1"}],
        "packageAttachment": {
            "packages": [{"type": "Output", "invoiceValue": 12480}, {"type": "Input", "invoiceValue": 5}]
        },
        "changesAttachment": {"changesData": [{"requestId": "r-1", "reason": "x"}]},
    }
    assert summary_order(order) == {
        "value": 10980,
        "status": "invoiced",
        "version": 4,
        "invoiced": 12480,
        "changes": ["r-1"],
    }
    change = {
        "requestId": "r-1",
        "status": "finished",
        "inProgress": False,
        "finished": True,
        "totalChangeValue": -1500,
        "items": [],
    }
    assert summary_change(change) == {
        "requestId": "r-1",
        "status": "finished",
        "inProgress": False,
        "finished": True,
        "totalChangeValue": -1500,
    }
    assert summary_change({"error": {"code": "1"}}) == {"error": {"code": "1"}}
    assert summary_order("not json") == "not json"
