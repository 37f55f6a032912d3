"""The proxy's record hides credentials in bodies: a value under a credential-like key, wherever it is nested and
however the key is written; the order document (whose `subscriptionData` and `authorizationPolicyData` are objects,
not credentials) is recorded as it came, without the slow walk."""

from __future__ import annotations

import json

import pytest

from harness.proxy.record import REDACTED, Redactor

ORDER = {
    "orderId": "o-1",
    "subscriptionData": {"groupId": "g-1", "items": [{"itemIndex": 0}]},
    "authorizationPolicyData": None,
    "items": [{"id": "sku-1", "price": 4990}],
    "note": "the token of the day is not a credential by its key",
}


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_the_order_document_is_recorded_as_it_came(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Redactor, "json", lambda *_: pytest.fail("the order document went through the walk"))
    assert Redactor().body(body(ORDER), "application/json") == ORDER


@pytest.mark.parametrize(
    "text",
    [
        '{"appToken": "s3cret-value"}',
        '{"a": {"b": [{"X-VTEX-API-AppKey": "s3cret-value"}]}}',
        '{"APIKEY":"s3cret-value"}',
        '{"app\\u0054oken": "s3cret-value"}',  # the key written with an escape
        '{"password": 12345678}',
    ],
)
def test_a_credential_by_its_key_is_hidden_however_it_is_written(text: str) -> None:
    recorded = json.dumps(Redactor().body(text.encode(), "application/json"))
    assert "s3cret-value" not in recorded
    assert "12345678" not in recorded
    assert REDACTED in recorded


def test_a_value_once_hidden_is_hidden_where_it_is_echoed() -> None:
    redactor = Redactor()
    redactor.body(b'{"appToken": "s3cret-value"}', "application/json")
    echoed = redactor.body(body({**ORDER, "note": "s3cret-value"}), "application/json")
    assert echoed["note"] == REDACTED
