"""The proxy's rules file (validated as scenarios are: file, line, field), its matching and seeded draws, and the
record's redaction and reader (`harness.proxy.rules`, `harness.proxy.record`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.proxy import parse_listen
from harness.errors import InvalidScenario, UsageError
from harness.proxy.record import REDACTED, Redactor, read_exchanges
from harness.proxy.rules import Delay, Fault, HoldUntil, Timing, load_rules, parse_rules
from simulator.contract import Uniform

GOOD = """\
rules:
  - match: {route: get-order}
    delay: 300ms
  - match: {route: [invoice-notification, invoice-document], method: post, order: "oi-*"}
    hold_until: {route: create-change, phase: answered, offset: 100ms, timeout: 5s}
  - match: {route: create-change}
    fault: {when: after, kind: 503}
  - delay: {kind: uniform, min_ms: 10, max_ms: 20}
  - match: {route: get-change}
    hold_until: {route: create-change, phase: arrived, offset: {from: 0ms, to: 100ms, step: 50ms}}
"""


def test_a_valid_file_becomes_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    rules = load_rules(path)
    assert rules.path == path
    first, second, third, fourth, fifth = rules.rules
    assert first.action == Delay(300.0)
    assert first.routes == frozenset({"get-order"})
    assert first.line == 2
    assert second.action == HoldUntil("create-change", "answered", 100.0, 5000.0)
    assert (second.method, second.order) == ("POST", "oi-*")
    assert third.action == Fault("after", "503")
    assert fourth.routes is None
    assert isinstance(fourth.action, Delay)
    assert isinstance(fourth.action.offset, Uniform)
    assert isinstance(fifth.action, HoldUntil)
    assert fifth.action.offset == (0.0, 50.0, 100.0)
    assert fifth.action.timeout_ms == 10_000.0


def test_the_first_matching_rule_applies() -> None:
    rules = parse_rules(GOOD)
    assert rules.first("get-order", "GET", "o-1") is rules.rules[0]
    assert rules.first("invoice-notification", "POST", "oi-7") is rules.rules[1]
    assert rules.first("invoice-notification", "POST", "xx-7") is rules.rules[3]  # order glob misses: catch-all
    assert rules.first("invoice-notification", "POST", None) is rules.rules[3]
    assert rules.first(None, "GET", None) is rules.rules[3]
    assert parse_rules("rules: []").first("get-order", "GET", "o") is None


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        (
            "rules:\n  - match: {route: get-order}\n    dealy: 300ms\n",
            "<rules>:3: rules[0].dealy:",
            "did you mean delay",
        ),
        ("rules:\n  - match: {route: get-ordr}\n    delay: 1s\n", "<rules>:2: rules[0].match.route:", "get-order"),
        ("rules:\n  - match: {route: get-order}\n    delay: fast\n", "<rules>:3: rules[0].delay:", "fast"),
        ("rules:\n  - delay: -5ms\n", "<rules>:2: rules[0].delay:", "negative"),
        (
            "rules:\n  - delay: 1s\n  - hold_until: {route: create-change, phase: sent}\n",
            "<rules>:3: rules[1].hold_until.phase:",
            "answered",
        ),
        (
            "rules:\n  - hold_until: {route: create-change, phase: answered, timeout: soon}\n",
            "<rules>:2: rules[0].hold_until.timeout:",
            "soon",
        ),
        ("rules:\n  - fault: {when: before, kind: 504}\n", "<rules>:2: rules[0].fault.kind:", "504"),
        ("rules:\n  - delay: 1s\n    fault: {when: before, kind: reset}\n", "<rules>:2: rules[0]:", "exactly one"),
        ("rules:\n  - match: {route: get-order}\n", "<rules>:2: rules[0]:", "has none"),
        ("rules:\n  - match: {method: FETCH}\n    delay: 1s\n", "<rules>:2: rules[0].match.method:", "FETCH"),
        ("rulez: []\n", "<rules>:1: rulez:", "expected: rules"),
        ("rules: [\n", "<rules>:", "not valid YAML"),
        ("- 1\n", "<rules>:1:", "rules: [...]"),
    ],
)
def test_a_mistake_names_the_file_the_line_and_the_field(text: str, where: str, says: str) -> None:
    with pytest.raises(InvalidScenario) as caught:
        parse_rules(text)
    message = str(caught.value)
    assert isinstance(caught.value, UsageError)
    assert message.startswith(where), message
    assert says in message, message


def test_a_missing_rules_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_rules(tmp_path / "none.yaml")


def test_draws_are_seeded_per_rule_and_a_sweep_steps_per_order() -> None:
    dist = Uniform(kind="uniform", min_ms=0, max_ms=1000)
    a, b, c = Timing(seed=7, index=0), Timing(seed=7, index=0), Timing(seed=8, index=0)
    draws_a = [a.draw_ms(dist, order_id=None) for _ in range(5)]
    assert draws_a == [b.draw_ms(dist, order_id=None) for _ in range(5)]
    assert draws_a != [c.draw_ms(dist, order_id=None) for _ in range(5)]
    sweep = Timing(seed=1, index=0)
    points = (0.0, 50.0, 100.0)
    got = [sweep.draw_ms(points, order_id=o) for o in ("o-0", "o-1", "o-0", "o-2", "o-3")]
    assert got == [0.0, 50.0, 0.0, 100.0, 0.0]  # the same order keeps its point; the fourth order wraps round
    assert sweep.draw_ms(300.0, order_id="o-9") == 300.0


def test_redaction_hides_credentials_and_secrets_everywhere() -> None:
    r = Redactor(["my-secret-value"])
    headers = [
        ("X-VTEX-API-AppKey", "key-abcdef"),
        ("X-VTEX-API-AppToken", "tok-abcdef"),
        ("Authorization", "Bearer bearer-123456"),
        ("Cookie", "VtexIdclientAutCookie=cookie-987654; other=1"),
        ("X-Note", "carries my-secret-value inside"),
        ("Accept", "application/json"),
    ]
    r.learn(headers)
    shown = r.headers(headers)
    assert shown["X-VTEX-API-AppKey"] == shown["X-VTEX-API-AppToken"] == shown["Authorization"] == REDACTED
    assert shown["Cookie"] == REDACTED
    assert shown["X-Note"] == f"carries {REDACTED} inside"
    assert shown["Accept"] == "application/json"
    body = {
        "echo": "tok-abcdef and bearer-123456 and cookie-987654",
        "appToken": "x",
        "hook": {"url": "http://h", "headers": {"key": "hook-credential"}},
        "n": 3,
    }
    raw = json.dumps(body).encode()
    recorded = r.body(raw, "application/json")
    text = json.dumps(recorded)
    for secret in ("tok-abcdef", "bearer-123456", "cookie-987654", "hook-credential"):
        assert secret not in text
    assert recorded["appToken"] == REDACTED
    assert recorded["n"] == 3
    assert r.query("a=1&token=zz&q=my-secret-value") == f"a=1&token={REDACTED}&q={REDACTED}"
    assert r.body(b"plain my-secret-value", "text/plain") == f"plain {REDACTED}"
    assert r.body(b"\xff\xfe", None) == "<2 bytes, binary>"
    assert r.body(b"", None) is None
    with pytest.raises(UsageError, match="at least 4"):
        Redactor(["abc"])


def test_the_reader_ignores_a_torn_last_line_and_refuses_damage(tmp_path: Path) -> None:
    path = tmp_path / "exchanges.jsonl"
    header = {"proxy": {"version": 1, "upstream": "http://u", "listen": "http://l", "started_wall": 1.0}}
    whole = json.dumps(header) + "\n" + json.dumps({"id": 1}) + "\n"
    path.write_text(whole + '{"id": 2, "ord', encoding="utf-8")
    got_header, exchanges = read_exchanges(tmp_path)
    assert got_header["upstream"] == "http://u"
    assert [e["id"] for e in exchanges] == [1]
    path.write_text(whole + json.dumps({"id": 2}), encoding="utf-8")  # whole, only its newline missing
    assert [e["id"] for e in read_exchanges(path)[1]] == [1, 2]
    path.write_text(json.dumps(header) + "\nnot json\n" + json.dumps({"id": 2}) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match=":2: not a JSON line"):
        read_exchanges(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:8081", ("127.0.0.1", 8081)), ("[::1]:0", ("::1", 0)), ("localhost:9000", ("localhost", 9000))],
)
def test_listen_is_host_and_port(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["8081", "127.0.0.1", "127.0.0.1:99999", "::1:80", "host:port"])
def test_a_bad_listen_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match="--listen"):
        parse_listen(value)
