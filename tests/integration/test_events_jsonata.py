"""`POST /api/orders/expressions/jsonata` (TestJSONataExpression): an expression tested against a document.

Facts: vtex-orders-api.openapi.json `/paths/~1api~1orders~1expressions~1jsonata/post` (request `{Expression,
Document}`, both strings; answer a boolean), and the expression examples of orders-feed.md (vtexdocs/dev-portal-content
`docs/guides/Orders/orders-feed.md`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Sim
from tests.support.published import request_examples, response_example, success_statuses

PATH = "/api/orders/expressions/jsonata"


async def test_the_documented_example_answers_the_documented_true(sim: Sim) -> None:
    """The example is escaped once more than JSON needs (`status = \\"canceled\\"`), as orders-feed.md says every
    expression must be; the platform answers `true` to it."""
    [example] = request_examples("TestJSONataExpression").values()
    status, answer = await sim.call("POST", PATH, body=example)
    assert status == success_statuses("TestJSONataExpression")[0]
    assert answer is response_example("TestJSONataExpression", 200) is True


ORDER = {
    "status": "invoiced",
    "salesChannel": "2",
    "isAllDelivered": True,
    "items": [{"name": "Refrigerator XL", "price": 150_000}, {"name": "Cable", "price": 900}],
    "changesAttachment": {"changesData": [{"itemsAdded": [], "itemsRemoved": [{"id": "1"}]}]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the examples of orders-feed.md, "expression"
        ("isAllDelivered = true", True),
        ("$count(changesAttachment.changesData.itemsAdded) > 0", False),
        ("$count(changesAttachment.changesData.itemsRemoved) > 0", True),
        ("$count(items[name ~> /.*refrigerator.*/i and price>=1000]) > 0", True),
        ('(status = "ready-for-handling" and salesChannel="2")', False),
        ('status = "invoiced" and salesChannel = "2"', True),
        # JSONata's effective boolean: a value that is not a boolean still decides
        ("items[price > 100000].name", True),
        ("items[price > 10000000].name", False),
        ("$string(1) + 1", False),  # a runtime error matches nothing
    ],
)
async def test_expressions_are_evaluated_against_the_document(sim: Sim, expression: str, expected: bool) -> None:
    body = {"Expression": expression, "Document": json.dumps(ORDER)}
    _, answer = await sim.call("POST", PATH, body=body, expect=200)
    assert answer is expected


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"Expression": "status =", "Document": "{}"}, "invalid JSONata"),
        ({"Expression": "status = 'a'", "Document": "{not json"}, "Document"),
        ({"Expression": "status = 'a'"}, "Document"),
        ({"Expression": "status = 'a'", "Document": {"status": "a"}}, "Document"),
        ({"Expression": "status = 'a'", "Document": "[" * 100_000}, "Document"),  # deeper than the parser goes
    ],
)
async def test_mistakes_are_400(sim: Sim, body: dict[str, Any], says: str) -> None:
    status, answer = await sim.call("POST", PATH, body=body)
    assert status == 400
    assert says in answer["error"]["message"]
