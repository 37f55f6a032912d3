"""Scenario files (`harness.scenarios`): every mistake is reported with its file, line and field; expansion into runs.

Files are written into `tmp_path`; the repository's own `scenarios/` must load too.
"""

from __future__ import annotations

import pickle
import random
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from harness.errors import HarnessConnectionError, HarnessError, InvalidScenario
from harness.integrations.bodies import change_v1_body
from harness.integrations.external import ExternalService
from harness.integrations.registry import load_integration
from harness.model.records import RunSpec
from harness.scenarios import (
    ACTIONS,
    CHECKER_NAMES,
    MAX_RUNS,
    MAX_RUNS_PER_INTEGRATION,
    Distribution,
    Gate,
    Scenario,
    Sweep,
    describe_distribution,
    expand,
    find_scenarios,
    load_scenario,
)
from simulator.contract import Delay

ROOT = Path(__file__).resolve().parents[2]
ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # the control API's pattern

BASE = """\
name: t
summary: s
order:
  items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]
  shipping: 1000
integrations: [naive, workaround]
steps:
  - {at: 0ms, do: invoice}
  - {at: {from: 50ms, to: 1000ms, step: 50ms}, do: change, remove: [{id: sku-2, quantity: 1}]}
runs: 2
expect: [no-over-invoice, no-lost-invoice]
gate:
  naive: {reproduces: true}
"""
"""A valid scenario; line numbers matter to the table below (`order:` is line 3, the sweep step line 9)."""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def invalid(path: Path) -> InvalidScenario:
    with pytest.raises(InvalidScenario) as info:
        load_scenario(path)
    return info.value


# --------------------------------------------------------------------------------------------------------- errors

ERRORS = [
    # (id, text, line, field, what the message says)
    ("sweep-step-zero", edit("step: 50ms", "step: 0ms"), 9, "steps[1].at.step", "must be greater than 0 (got 0ms)"),
    (
        "sweep-too-many-points",
        edit("step: 50ms", "step: 0.01ms"),
        9,
        "steps[1].at.step",
        "makes 95001 points from 50ms to 1000ms; at most 10000",
    ),
    ("sweep-backwards", edit("to: 1000ms", "to: 10ms"), 9, "steps[1].at.to", "must not be below from (50ms)"),
    ("sweep-missing-to", edit("to: 1000ms, ", ""), 9, "steps[1].at.to", "missing: where the sweep ends"),
    ("sweep-unknown-field", edit("step: 50ms", "step: 50ms, by: 2"), 9, "steps[1].at.by", "expected: from, to, step"),
    ("at-not-a-duration", edit("at: 0ms", "at: soon"), 8, "steps[0].at", "expected a duration such as 0, 250ms"),
    ("at-negative", edit("at: 0ms", "at: -5ms"), 8, "steps[0].at", "must not be negative (got -5ms)"),
    ("at-over-an-hour", edit("at: 0ms", "at: 2h"), 8, "steps[0].at", "expected a duration"),
    ("at-bool", edit("at: 0ms", "at: true"), 8, "steps[0].at", "(got true)"),
    ("at-mapping-of-nothing", edit("at: 0ms", "at: {ms: 5}"), 8, "steps[0].at", "a sweep {from, to, step}"),
    (
        "distribution-unknown-kind",
        edit("at: 0ms", "at: {kind: gauss, mean_ms: 5}"),
        8,
        "steps[0].at.kind",
        "unknown distribution kind gauss; expected one of: fixed, uniform, normal",
    ),
    (
        "distribution-unknown-field",
        edit("at: 0ms", "at: {kind: uniform, min_ms: 1, mx_ms: 5}"),
        8,
        "steps[0].at.mx_ms",
        "unknown field mx_ms (did you mean max_ms?); expected: kind, min_ms, max_ms",
    ),
    (
        "distribution-bounds",
        edit("at: 0ms", "at: {kind: uniform, min_ms: 10, max_ms: 5}"),
        8,
        "steps[0].at.max_ms",
        "must not be below min_ms (10ms) (got 5ms)",
    ),
    (
        "distribution-constraint",
        edit("at: 0ms", "at: {kind: pareto, scale_ms: 5, alpha: 0}"),
        8,
        "steps[0].at.alpha",
        "must be greater than 0 (got 0)",
    ),
    (
        "distribution-field-negative",
        edit("at: 0ms", "at: {kind: uniform, min_ms: 1, max_ms: -5ms}"),
        8,
        "steps[0].at.max_ms",
        "must not be negative (got -5ms)",
    ),
    (
        "distribution-field-shown-as-written",
        edit("at: 0ms", "at: {kind: pareto, scale_ms: 0ms, alpha: 1}"),
        8,
        "steps[0].at.scale_ms",
        "must be greater than 0 (got 0ms)",
    ),
    (
        "distribution-shape-as-a-string",
        edit("at: 0ms", "at: {kind: lognormal, median_ms: 5, sigma: '1.5'}"),
        8,
        "steps[0].at.sigma",
        'expected a number (got "1.5")',
    ),
    (
        "distribution-missing",
        edit("at: 0ms", "at: {kind: lognormal, median_ms: 5}"),
        8,
        "steps[0].at.sigma",
        "missing",
    ),
    (
        "unknown-action",
        edit("do: invoice", "do: invoce"),
        8,
        "steps[0].do",
        "unknown action invoce (did you mean invoice?); expected one of: invoice, change, change-v1, cancel, "
        "register-invoice, update-invoice",
    ),
    ("step-missing-do", edit("{at: 0ms, do: invoice}", "{at: 0ms}"), 8, "steps[0].do", "missing: what the step does"),
    ("step-not-a-mapping", edit("{at: 0ms, do: invoice}", "invoice"), 8, "steps[0]", "expected a mapping"),
    (
        "steps-empty",
        edit(
            "  - {at: 0ms, do: invoice}\n  - {at: {from: 50ms, to: 1000ms, step: 50ms}, do: change, remove: "
            "[{id: sku-2, quantity: 1}]}\n",
            "",
        ).replace("steps:", "steps: []"),
        7,
        "steps",
        "must not be empty",
    ),
    ("unknown-top-level-key", edit("runs: 2", "runs: 2\nrun: 3"), 11, "run", "unknown field run (did you mean runs?)"),
    ("runs-wrong-type", edit("runs: 2", "runs: many"), 10, "runs", "expected a whole number (got many)"),
    ("runs-quoted", edit("runs: 2", 'runs: "2"'), 10, "runs", 'expected a whole number (got "2")'),
    ("runs-zero", edit("runs: 2", "runs: 0"), 10, "runs", "must be at least 1 (got 0)"),
    ("runs-too-many", edit("runs: 2", "runs: 100001"), 10, "runs", "must be at most 100000 (got 100001)"),
    (
        "matrix-too-large",
        edit("runs: 2", "runs: 100000"),
        10,
        "runs",
        "20 cells x 100000 runs make 2000000 runs per integration; at most 1000000",
    ),
    (
        "unknown-integration",
        edit("[naive, workaround]", "[naive, workarond]"),
        6,
        "integrations[1]",
        "unknown integration workarond (did you mean workaround?); expected one of: naive, naive-retry, workaround, "
        "robust, hook-naive, hook-dedupe, a class as module:Class, external:<hook URL>, external-feed:<name> or "
        "external-poll:<name>",
    ),
    ("integration-twice", edit("[naive, workaround]", "[naive, naive]"), 6, "integrations[1]", "naive is listed twice"),
    (
        "external-without-url",
        edit("[naive, workaround]", "[naive, 'external:x']"),
        6,
        "integrations[1]",
        "expected external:http://",
    ),
    (
        "external-unknown-source",
        edit("[naive, workaround]", "[naive, 'external-queue:erp']"),
        6,
        "integrations[1]",
        "expected external-feed:<name> or external-poll:<name>",
    ),
    (
        "external-feed-without-name",
        edit("[naive, workaround]", "[naive, 'external-feed:']"),
        6,
        "integrations[1]",
        "expected external-feed:<name> or external-poll:<name>",
    ),
    (
        "change-v1-item-not-in-the-order-without-price",
        edit("do: change, remove: [{id: sku-2, quantity: 1}]", "do: change-v1, itemsAdded: [{id: sku-9, quantity: 1}]"),
        9,
        "steps[1].itemsAdded[0]",
        "item sku-9 is not in the order, so its price cannot come from it; give its unit price in cents",
    ),
    (
        "change-v1-money-in-cents",
        edit("do: change, remove: [{id: sku-2, quantity: 1}]", "do: change-v1, discountValue: 1.5"),
        9,
        "steps[1].discountValue",
        "expected whole cents, 0 or more (got 1.5)",
    ),
    (
        "change-v1-quantity",
        edit(
            "do: change, remove: [{id: sku-2, quantity: 1}]", "do: change-v1, itemsRemoved: [{id: sku-2, quantity: 0}]"
        ),
        9,
        "steps[1].itemsRemoved[0].quantity",
        "expected a whole number from 1 to 100000 (got 0)",
    ),
    (
        "change-v1-item-field",
        edit("do: change, remove: [{id: sku-2, quantity: 1}]", "do: change-v1, itemsRemoved: [{id: sku-2, qty: 1}]"),
        9,
        "steps[1].itemsRemoved[0].qty",
        "unknown field qty; expected: id, quantity, price",
    ),
    (
        "change-v1-takes-v1-names",
        edit("do: change, remove: [{id: sku-2, quantity: 1}]", "do: change-v1, remove: [{id: sku-2, quantity: 1}]"),
        9,
        "steps[1]",
        "`do: change-v1` takes no field remove; expected: discountValue, incrementValue, itemsAdded, itemsRemoved,",
    ),
    (
        "unknown-checker",
        edit("[no-over-invoice, no-lost-invoice]", "[no-over-invoice, no-lost-invoices]"),
        11,
        "expect[1]",
        "unknown checker no-lost-invoices (did you mean no-lost-invoice?); expected one of: "
        + ", ".join(CHECKER_NAMES),
    ),
    (
        "expect-wrong-type",
        edit("[no-over-invoice, no-lost-invoice]", "no-over-invoice"),
        11,
        "expect",
        "expected a list",
    ),
    (
        "gate-unknown-integration",
        edit("  naive: {reproduces: true}", "  naive: {reproduces: true}\n  robust: {violations: 0}"),
        14,
        "gate.robust",
        "no integration robust in this scenario; a gate names one of: naive, workaround",
    ),
    (
        "gate-empty",
        edit("{reproduces: true}", "{}"),
        13,
        "gate.naive",
        "a gate needs reproduces, violations or max_rate",
    ),
    (
        "gate-both",
        edit("{reproduces: true}", "{reproduces: true, violations: 0}"),
        13,
        "gate.naive.reproduces",
        "either expects the bug (reproduces) or bounds it",
    ),
    (
        "gate-reproduces-false",
        edit("reproduces: true", "reproduces: false"),
        13,
        "gate.naive.reproduces",
        "violations: 0",
    ),
    (
        "gate-reproduces-unknown-checker",
        edit("reproduces: true", "reproduces: [no-over-invoic]"),
        13,
        "gate.naive.reproduces[0]",
        "unknown checker no-over-invoic (did you mean no-over-invoice?)",
    ),
    (
        "gate-reproduces-not-expected",
        edit("reproduces: true", "reproduces: [finished-means-applied]"),
        13,
        "gate.naive.reproduces[0]",
        "finished-means-applied is not expected by this scenario, so it never runs; add it to expect",
    ),
    (
        "gate-max-rate",
        edit("reproduces: true", "max_rate: 1.5"),
        13,
        "gate.naive.max_rate",
        "must be at most 1 (got 1.5)",
    ),
    ("gate-unknown-field", edit("reproduces: true", "violation: 0"), 13, "gate.naive.violation", "unknown field"),
    (
        "order-missing",
        edit("order:\n  items", "ordre:\n  items"),
        3,
        "ordre",
        "unknown field ordre (did you mean order?)",
    ),
    (
        "order-id-given",
        edit("  shipping: 1000", "  shipping: 1000\n  orderId: ORD-1"),
        6,
        "order.orderId",
        "every run gets its own order",
    ),
    (
        "order-status",
        edit("  shipping: 1000", "  shipping: 1000\n  status: handeling"),
        6,
        "order.status",
        "unknown order status handeling (did you mean handling?)",
    ),
    (
        "order-item-quantity",
        edit("quantity: 2", "quantity: 0"),
        4,
        "order.items[0].quantity",
        "must be at least 1 (got 0)",
    ),
    (
        "order-item-price-type",
        edit("price: 4990", "price: 49.90"),
        4,
        "order.items[0].price",
        "expected a whole number (got 49.9)",
    ),
    (
        "order-item-twice",
        edit("id: sku-2", "id: sku-1"),
        4,
        "order.items[1].id",
        "item id sku-1 is already used by items[0]",
    ),
    (
        "order-no-items",
        edit("items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]", "items: []"),
        4,
        "order.items",
        "must not be empty",
    ),
    (
        "order-discounts-positive",
        edit("  shipping: 1000", "  shipping: 1000\n  discounts: 100"),
        6,
        "order.discounts",
        "must be at most 0 (got 100)",
    ),
    (
        "simulator-not-a-mapping",
        edit("runs: 2", "runs: 2\nsimulator: fast"),
        11,
        "simulator",
        "expected a mapping (got fast)",
    ),
    ("name-invalid", edit("name: t", "name: ../escape"), 1, "name", "expected letters, digits"),
    ("profile-invalid", edit("summary: s", "summary: s\nprofile: 'a b'"), 3, "profile", "expected a profile name"),
    (
        "profile-file-missing",
        edit("summary: s", "summary: s\nprofile: nowhere/p.yaml"),
        3,
        "profile",
        "no profile file at",
    ),
    ("duplicate-key", edit("runs: 2", "runs: 2\nruns: 3"), 11, "runs", "written twice (first at line 10)"),
    ("yaml-syntax", edit("runs: 2", "runs: [2"), 11, None, "not valid YAML"),
    ("yaml-tab", edit("  shipping: 1000", "\tshipping: 1000"), 5, None, "not valid YAML"),
    ("not-a-mapping", "- name: t\n- runs: 2\n", 1, None, "expected a mapping with name, summary, profile"),
    ("scalar-document", "just words\n", 1, None, "(got str)"),
    (
        "two-documents",
        BASE + "---\n" + BASE,
        14,
        None,
        "not valid YAML: found another document (expected a single document in the stream)",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_an_invalid_scenario_names_file_line_field_and_what_was_expected(
    tmp_path: Path, text: str, line: int, field: str | None, message: str
) -> None:
    path = write(tmp_path, text)
    error = invalid(path)
    assert (error.path, error.line, error.field) == (path, line, field), str(error)
    assert message in error.message
    first = str(error).splitlines()[0]
    assert first == f"{path}:{line}: {field}: {error.message}" if field else f"{path}:{line}: {error.message}"


def test_the_message_reads_like_the_design_says(tmp_path: Path) -> None:
    path = write(tmp_path, edit("step: 50ms", "step: 0ms"), name="scenarios/over-invoice.yaml")
    error = invalid(path)
    assert str(error) == f"{path}:9: steps[1].at.step: must be greater than 0 (got 0ms)"


def test_every_mistake_of_a_file_is_reported_first_line_first(tmp_path: Path) -> None:
    text = edit("runs: 2", "runs: 0").replace("do: invoice", "do: invoce").replace("quantity: 2", "quantity: -1")
    error = invalid(write(tmp_path, text))
    assert [(line, field) for line, field, _ in error.problems] == [
        (4, "order.items[0].quantity"),
        (8, "steps[0].do"),
        (10, "runs"),
    ]
    assert len(str(error).splitlines()) == 3


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.yaml", "no such file"),
        ("scenario.txt", "expected a scenario file ending in .yaml, .yml, .py"),
        ("empty.yaml", "the file is empty"),
        ("latin1.yaml", "not UTF-8 text"),
        ("dir.yaml", "is a directory"),
    ],
)
def test_files_that_cannot_be_read(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "scenario.txt").write_text(BASE)
    (tmp_path / "empty.yaml").write_text("# nothing here\n")
    (tmp_path / "latin1.yaml").write_bytes("summary: caf\xe9\n".encode("latin-1"))
    (tmp_path / "dir.yaml").mkdir()
    error = invalid(tmp_path / name)
    assert (error.path, error.line) == (tmp_path / name, None)
    assert message in str(error)
    assert str(error).startswith(f"{tmp_path / name}: ")


def test_invalid_scenario_is_a_value_error_and_survives_pickling() -> None:
    error = InvalidScenario("bad", path="a.yaml", line=3, field="runs", more=((5, "steps", "worse"),))
    assert isinstance(error, HarnessError)
    assert isinstance(error, ValueError)
    assert not issubclass(HarnessConnectionError, InvalidScenario)
    assert issubclass(HarnessConnectionError, HarnessError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.field, copy.message, copy.more) == ("a.yaml", 3, "runs", "bad", error.more)
    assert str(copy) == "a.yaml:3: runs: bad\na.yaml:5: steps: worse"
    assert str(InvalidScenario("plain message")) == "plain message"


def test_a_scenario_without_a_name_takes_its_file_name(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, edit("name: t\n", ""), name="over-invoice.yaml"))
    assert scenario.name == "over-invoice"
    error = invalid(write(tmp_path, edit("name: t\n", ""), name="bad name.yaml"))
    assert (error.line, error.field, error.more) == (1, "name", ())
    assert error.message == "missing: name the scenario (letters, digits, '-', '_', '.'); the file name cannot serve"


# ------------------------------------------------------------------------------------------------------- loading


def test_a_valid_file_loads_into_plain_records(tmp_path: Path) -> None:
    text = edit("  shipping: 1000", "  shipping: 1000\n  accounting: {customer: {id: C-1}, currency: EUR}").replace(
        "runs: 2", "runs: 2\nsimulator: {consistency: serializable, orders: {change: {queue: 5}}}"
    )
    scenario = load_scenario(write(tmp_path, text))
    assert isinstance(scenario, Scenario)
    assert scenario.name == "t"
    assert scenario.summary == "s"
    assert scenario.profile == "default"
    assert scenario.simulator == {"consistency": "serializable", "orders": {"change": {"queue": 5}}}
    assert scenario.order == {
        "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
        "shipping": 1000,
        "discounts": 0,
        "tax": 0,
        "status": "handling",
        "accounting": {"customer": {"id": "C-1"}, "currency": "EUR"},
    }
    assert scenario.integrations == ("naive", "workaround")
    assert scenario.runs == 2
    assert scenario.expect == ("no-over-invoice", "no-lost-invoice")
    assert dict(scenario.gates) == {"naive": Gate(reproduces=True)}
    first, second = scenario.steps
    assert (first.index, first.do, first.at, dict(first.args), first.line) == (0, "invoice", 0.0, {}, 9)
    assert (second.do, second.at, dict(second.args), second.line) == (
        "change",
        Sweep(50.0, 1000.0, 50.0),
        {"remove": [{"id": "sku-2", "quantity": 1}]},
        10,
    )
    assert dict(scenario.handlers) == {}


def test_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(tmp_path, "order: {items: [{id: a, price: 1, quantity: 1}]}\nsteps: [{at: 0, do: invoice}]\n")
    )
    assert scenario.integrations == ("naive",)
    assert scenario.runs == 1
    assert scenario.expect == CHECKER_NAMES
    assert dict(scenario.gates) == {}
    assert scenario.profile == "default"


@pytest.mark.parametrize(
    ("at", "ms"), [("0", 0.0), ("250", 250.0), ("12.5", 12.5), ("250ms", 250.0), ("1.5s", 1500.0), ("'3 ms'", 3.0)]
)
def test_durations(tmp_path: Path, at: str, ms: float) -> None:
    scenario = load_scenario(write(tmp_path, edit("at: 0ms", f"at: {at}")))
    assert scenario.steps[0].at == ms


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ("{reproduces: true}", Gate(reproduces=True)),
        ("{reproduces: [no-over-invoice]}", Gate(reproduces=("no-over-invoice",))),
        ("{violations: 0}", Gate(violations=0)),
        ("{max_rate: 0.05}", Gate(max_rate=0.05)),
        ("{violations: 3, max_rate: 0}", Gate(violations=3, max_rate=0.0)),
    ],
)
def test_gates(tmp_path: Path, gate: str, expected: Gate) -> None:
    scenario = load_scenario(write(tmp_path, edit("{reproduces: true}", gate)))
    assert scenario.gates["naive"] == expected


def test_a_profile_path_is_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "slow.yaml").write_text("seed: 1\n")
    scenario = load_scenario(write(tmp_path, edit("summary: s", "summary: s\nprofile: profiles/slow.yaml")))
    assert scenario.profile == str((tmp_path / "profiles" / "slow.yaml").resolve())


def test_module_class_and_external_integrations_are_names(tmp_path: Path) -> None:
    names = ["'mypkg.middleware:Erp'", "'external:http://127.0.0.1:9000/hook'", "'external-feed:node-erp'"]
    text = edit("[naive, workaround]", f"[naive, {', '.join(names)}, 'external-poll:erp.v2']")
    assert load_scenario(write(tmp_path, text)).integrations[1:] == (
        "mypkg.middleware:Erp",
        "external:http://127.0.0.1:9000/hook",
        "external-feed:node-erp",
        "external-poll:erp.v2",
    )


@pytest.mark.parametrize(("name", "source"), [("external-feed:node-erp", "feed"), ("external-poll:erp.v2", "poll")])
def test_external_feed_and_poll_integrations_load_as_services_that_need_no_hook(name: str, source: str) -> None:
    integration = load_integration(name)
    assert isinstance(integration, ExternalService)
    assert (integration.name, integration.source, integration.seed_status) == (name, source, "ready-for-handling")
    assert getattr(integration, "url", None) is None  # the runner configures a hook only for `url`
    assert integration.external


def test_a_change_v1_step_loads_with_the_published_field_names(tmp_path: Path) -> None:
    step = (
        "do: change-v1, itemsRemoved: [{id: sku-2, quantity: 1}], itemsAdded: [{id: sku-9, quantity: 2, price: 700}], "
        "discountValue: 100, requestId: r-1"
    )
    scenario = scenario_of(tmp_path, edit("do: change, remove: [{id: sku-2, quantity: 1}]", step))
    (spec, *_) = expand(scenario, seed=1)
    assert spec.steps[1].do == "change-v1"
    assert change_v1_body(spec.steps[1], spec.order, request_id="unused") == {
        "requestId": "r-1",
        "reason": "racelab scenario: value-reducing change",
        "discountValue": 100,
        "incrementValue": 0,
        "itemsRemoved": [{"id": "sku-2", "price": 1500, "quantity": 1}],  # the seeded unit price
        "itemsAdded": [{"id": "sku-9", "price": 700, "quantity": 2}],
    }


def test_the_repository_scenarios_load() -> None:
    paths = find_scenarios([ROOT / "scenarios"])
    assert paths, "no scenario in scenarios/"
    for path in paths:
        scenario = load_scenario(path)
        assert expand(scenario, seed=1, runs=1)


# ---------------------------------------------------------------------------------------------- python scripts

SCRIPT = """\
from collections.abc import Generator
from typing import Any

SCENARIO = {
    "name": "fire-twice",
    "order": {"items": [{"id": "sku-1", "price": 100, "quantity": 1}]},
    "integrations": ["naive", "robust"],
    "steps": [
        {"at": 0, "do": "invoice"},
        {"at": {"kind": "uniform", "min_ms": 10, "max_ms": 20}, "do": "fire_twice", "times": 2},
    ],
    "runs": 3,
}
CALLS: list[Any] = []


def step_fire_twice(run: Any, step: Any) -> Generator[Any, Any, str]:
    CALLS.append((run, step))
    answer = yield ("POST", "/fire")
    return f"fired: {answer}"
"""


def test_a_python_script_defines_a_scenario_and_its_custom_steps(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, SCRIPT, name="fire_twice.py"))
    assert scenario.name == "fire-twice"
    assert list(scenario.handlers) == ["fire_twice"]
    assert [s.do for s in scenario.steps] == ["invoice", "fire_twice"]
    assert scenario.steps[1].args == {"times": 2}
    specs = expand(scenario, seed=1)
    assert len(specs) == 3 * 2
    step = specs[0].steps[1]
    # A custom step is a flow: it yields its requests and receives their answers, whoever drives it.
    flow = scenario.handlers[step.do]("run", step)
    assert next(flow) == ("POST", "/fire")
    with pytest.raises(StopIteration) as done:
        flow.send(204)
    assert done.value.value == "fired: 204"


def test_a_python_script_may_compute_its_scenario(tmp_path: Path) -> None:
    text = """\
    def scenario() -> dict:
        offsets = [{"at": f"{ms}ms", "do": "change", "remove": [{"id": "a", "quantity": 1}]} for ms in (10, 20)]
        return {"name": "computed", "order": {"items": [{"id": "a", "price": 1, "quantity": 3}]}, "steps": offsets}
    """
    scenario = load_scenario(write(tmp_path, text, name="computed.py"))
    assert [s.at for s in scenario.steps] == [10.0, 20.0]


FLOW = "must be a flow: def step_x(run, step) that yields requests (see docs/integrations.md)"

SCRIPT_ERRORS = [
    # (id, script, line, field, message)
    (
        "literal-line",
        'SCENARIO = {\n    "order": {"items": [{"id": "a", "price": 1, "quantity": 1}]},\n'
        '    "steps": [\n        {"at": 0, "do": "invoice"},\n        {"at": -1, "do": "invoice"},\n    ],\n}\n',
        5,
        "steps[1].at",
        "must not be negative (got -1)",
    ),
    (
        "unknown-custom-action",
        'SCENARIO = {\n    "order": {"items": [{"id": "a", "price": 1, "quantity": 1}]},\n'
        '    "steps": [{"at": 0, "do": "fire_thrice"}],\n}\n\n\ndef step_fire_twice(run, step):\n    yield\n',
        3,
        "steps[0].do",
        "unknown action fire_thrice (did you mean fire_twice?); expected one of: invoice, change, change-v1, "
        "cancel, register-invoice, update-invoice, or a handler of this script: fire_twice",
    ),
    (
        "function-line",
        '\n\ndef scenario():\n    return {"order": {"items": []}, "steps": [{"at": 0, "do": "invoice"}]}\n',
        3,
        "order.items",
        "must not be empty",
    ),
    ("not-a-dict", "SCENARIO = [1, 2]\n", 1, None, "expected a mapping with name"),
    ("syntax-error", "SCENARIO = {\n  'a': \n", 1, None, "not valid Python"),
    (
        "import-raises",
        "import os\n\nraise RuntimeError('no network here')\n",
        3,
        None,
        "importing it raised RuntimeError",
    ),
    ("factory-raises", "def scenario():\n    return 1 / 0\n", 2, None, "scenario() raised ZeroDivisionError"),
    ("neither", "X = 1\n", None, None, "defines neither SCENARIO (a dict) nor def scenario() -> dict"),
    ("both", "SCENARIO = {}\n\ndef scenario():\n    return {}\n", None, None, "defines both SCENARIO and scenario()"),
    ("plain-function", "SCENARIO = {}\n\n\ndef step_x(run, step):\n    pass\n", 4, "step_x", FLOW),
    ("coroutine", "SCENARIO = {}\n\n\nasync def step_x(ctx, step):\n    pass\n", 4, "step_x", FLOW),
    ("async-generator", "SCENARIO = {}\n\n\nasync def step_x(run, step):\n    yield 1\n", 4, "step_x", FLOW),
    ("a-class", "SCENARIO = {}\n\n\nclass step_x:\n    pass\n", 4, "step_x", FLOW),
    ("flow-arity", "SCENARIO = {}\n\n\ndef step_x(run):\n    yield\n", 4, "step_x", FLOW),
    (
        "shadows-builtin",
        "SCENARIO = {}\n\n\ndef step_update_invoice(run, step):\n    yield\n",
        4,
        "step_update_invoice",
        "would replace the built-in action update-invoice",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"), [c[1:] for c in SCRIPT_ERRORS], ids=[c[0] for c in SCRIPT_ERRORS]
)
def test_an_invalid_python_script_names_its_line(
    tmp_path: Path, text: str, line: int | None, field: str | None, message: str
) -> None:
    path = write(tmp_path, text, name="script.py")
    error = invalid(path)
    assert (error.path, error.line, error.field) == (path, line, field), str(error)
    assert message in error.message


def test_scripts_are_imported_from_their_path_each_time(tmp_path: Path) -> None:
    path = write(tmp_path, SCRIPT, name="s.py")
    assert load_scenario(path).runs == 3
    path.write_text(SCRIPT.replace('"runs": 3', '"runs": 4'))
    assert load_scenario(path).runs == 4


# ---------------------------------------------------------------------------------------------------- expansion


def scenario_of(tmp_path: Path, text: str) -> Scenario:
    return load_scenario(write(tmp_path, text))


def test_a_sweep_expands_into_cells_repetitions_and_integrations(tmp_path: Path) -> None:
    scenario = scenario_of(tmp_path, BASE)
    specs = expand(scenario, seed=7)
    assert len(specs) == 20 * 2 * 2
    assert all(isinstance(s, RunSpec) for s in specs)
    # For each cell, each repetition, each integration: A/B runs of one schedule are adjacent.
    assert [(s.cell["step1.at_ms"], s.repetition, s.integration) for s in specs[:6]] == [
        (50.0, 0, "naive"),
        (50.0, 0, "workaround"),
        (50.0, 1, "naive"),
        (50.0, 1, "workaround"),
        (100.0, 0, "naive"),
        (100.0, 0, "workaround"),
    ]
    assert sorted({s.cell["step1.at_ms"] for s in specs}) == [50.0 * k for k in range(1, 21)]
    assert [s.run_id for s in specs[:5]] == [
        "0000-0000-naive",
        "0000-0000-workaround",
        "0000-0001-naive",
        "0000-0001-workaround",
        "0001-0000-naive",
    ]
    last = specs[-1]
    assert (last.run_id, last.steps[1].at_ms, last.steps[0].at_ms) == ("0019-0001-workaround", 1000.0, 0.0)
    assert last.steps[1].do == "change"
    assert dict(last.steps[1].args) == {"remove": [{"id": "sku-2", "quantity": 1}]}
    assert last.scenario == "t"
    assert last.expect == ("no-over-invoice", "no-lost-invoice")
    assert last.order == scenario.order


@pytest.mark.parametrize(
    ("sweep", "values"),
    [
        ("{from: 0, to: 100ms, step: 30ms}", [0.0, 30.0, 60.0, 90.0]),
        ("{from: 0, to: 90ms, step: 30ms}", [0.0, 30.0, 60.0, 90.0]),
        ("{from: 0.1s, to: 0.3s, step: 0.1s}", [100.0, 200.0, 300.0]),
        ("{from: 0.1, to: 0.3, step: 0.1}", [0.1, 0.2, 0.3]),
        ("{from: 5ms, to: 5ms, step: 1ms}", [5.0]),
    ],
)
def test_a_sweep_includes_to_when_it_lands_on_a_step(tmp_path: Path, sweep: str, values: list[float]) -> None:
    scenario = scenario_of(tmp_path, edit("{from: 50ms, to: 1000ms, step: 50ms}", sweep))
    assert [s.steps[1].at_ms for s in expand(scenario, seed=1, runs=1, integrations=["naive"])] == values


def test_two_sweeps_make_the_cartesian_product(tmp_path: Path) -> None:
    text = edit("at: 0ms", "at: {from: 0, to: 10, step: 10}").replace("to: 1000ms", "to: 150ms")
    specs = expand(scenario_of(tmp_path, text), seed=1, runs=1, integrations=["naive"])
    assert [dict(s.cell) for s in specs] == [
        {"step0.at_ms": a, "step1.at_ms": b} for a in (0.0, 10.0) for b in (50.0, 100.0, 150.0)
    ]
    assert [(s.steps[0].at_ms, s.steps[1].at_ms) for s in specs] == [
        (a, b) for a in (0.0, 10.0) for b in (50.0, 100.0, 150.0)
    ]
    assert [s.run_id for s in specs][-1] == "0005-0000-naive"


def test_without_a_sweep_there_is_one_cell(tmp_path: Path) -> None:
    specs = expand(scenario_of(tmp_path, edit("{from: 50ms, to: 1000ms, step: 50ms}", "300ms")), seed=1)
    assert [(s.cell, s.steps[1].at_ms) for s in specs] == [({}, 300.0)] * 4


def test_a_distribution_is_drawn_per_repetition_identically_for_every_integration(tmp_path: Path) -> None:
    text = edit("at: 0ms", "at: {kind: uniform, min_ms: 0, max_ms: 40}")
    scenario = scenario_of(tmp_path, text)
    specs = expand(scenario, seed=11, runs=50, integrations=["naive", "workaround", "robust"])
    assert len(specs) == 20 * 50 * 3
    for i in range(0, len(specs), 3):
        trio = specs[i : i + 3]
        assert [s.integration for s in trio] == ["naive", "workaround", "robust"]
        assert trio[0].steps == trio[1].steps == trio[2].steps  # the same schedule
        assert trio[0].seed == trio[1].seed == trio[2].seed  # the same seed
        assert len({(s.cell["step1.at_ms"], s.repetition) for s in trio}) == 1
    drawn = [s.steps[0].at_ms for s in specs[::3]]
    assert all(0.0 <= ms <= 40.0 for ms in drawn)
    assert len(set(drawn)) == len(drawn)  # one draw per repetition and cell
    assert {s.cell["step0.at_ms"] for s in specs} == {"uniform(min_ms=0, max_ms=40)"}
    # The stream is named by (seed, scenario, cell, repetition, step), so anyone can recompute a draw.
    third = specs[3 * (50 * 4 + 7)]  # cell 4, repetition 7
    assert (third.cell["step1.at_ms"], third.repetition) == (250.0, 7)
    assert third.steps[0].at_ms == random.Random("11|t|4|7|0").uniform(0.0, 40.0)


def test_expansion_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    text = edit("at: 0ms", "at: {kind: lognormal, median_ms: 100, sigma: 1, cap_ms: 2000}")
    scenario = scenario_of(tmp_path, text)
    once, again, other = expand(scenario, seed=3), expand(scenario, seed=3), expand(scenario, seed=4)
    assert once == again
    assert [s.steps for s in once] != [s.steps for s in other]
    assert [s.seed for s in once] != [s.seed for s in other]
    assert [s.order_id for s in once] != [s.order_id for s in other]
    # runs are independent of the integrations chosen and of how many repetitions follow
    assert expand(scenario, seed=3, runs=1, integrations=["naive"]) == [
        s for s in once if s.repetition == 0 and s.integration == "naive"
    ]


def test_seeds_differ_between_repetitions_and_cells(tmp_path: Path) -> None:
    specs = expand(scenario_of(tmp_path, BASE), seed=1, integrations=["naive"])
    seeds = [s.seed for s in specs]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= seed < 2**53 for seed in seeds)


def test_order_ids_are_unique_across_scenarios_and_integrations_and_fit_the_control_api(tmp_path: Path) -> None:
    long_name = "a-scenario-with-a-really-rather-long-name-indeed"
    first = scenario_of(tmp_path, BASE)
    second = load_scenario(write(tmp_path, edit("name: t", f"name: {long_name}"), name="other.yaml"))
    integrations = ["naive", "workaround", "some.very.long.module.path:SomeIntegration", "external:http://h:1/x"]
    specs = [
        *expand(first, seed=1, integrations=integrations),
        *expand(second, seed=1, integrations=integrations),
    ]
    ids = [s.order_id for s in specs]
    assert len(set(ids)) == len(ids)
    assert all(ORDER_ID.match(i) for i in ids), max(ids, key=len)
    assert specs[0].order_id.startswith("t-naive-")
    # the longest an id can get: the largest cell and repetition indexes the limits allow
    prefix = specs[-1].order_id.rsplit("-", 2)[0]
    assert ORDER_ID.match(f"{prefix}-{MAX_RUNS_PER_INTEGRATION - 1}-{MAX_RUNS - 1}")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"runs": 0}, "runs", "must be between 1 and 100000 (got 0)"),
        ({"runs": True}, "runs", "must be between 1 and 100000"),
        ({"runs": 60_000}, "runs", "20 cells x 60000 runs make 1200000 runs per integration"),
        ({"integrations": []}, "integrations", "needs at least one integration"),
        ({"integrations": ["naive", "nope"]}, "integrations[1]", "unknown integration nope"),
        ({"integrations": ["robust", "robust"]}, "integrations[1]", "robust is listed twice"),
    ],
)
def test_expand_refuses_bad_overrides(tmp_path: Path, kwargs: dict[str, Any], field: str, message: str) -> None:
    scenario = scenario_of(tmp_path, BASE)
    with pytest.raises(InvalidScenario) as info:
        expand(scenario, seed=1, **kwargs)
    assert (info.value.field, info.value.path) == (field, scenario.path)
    assert message in info.value.message


# -------------------------------------------------------------------------------- distributions, as the simulator


DISTRIBUTIONS: list[dict[str, Any]] = [
    {"kind": "fixed", "ms": 20},
    {"kind": "uniform", "min_ms": 50, "max_ms": 1000},
    {"kind": "normal", "mean_ms": 100, "sd_ms": 40, "min_ms": 50, "max_ms": 150},
    {"kind": "lognormal", "median_ms": "250ms", "sigma": 1.0, "cap_ms": "1s"},
    {"kind": "exponential", "mean_ms": 100, "cap_ms": 300},
    {"kind": "pareto", "scale_ms": 20, "alpha": 1.5, "cap_ms": 5000},
    {"kind": "empirical", "values_ms": [12, "15ms", 40, "0.3s"]},
]


class _Holder(BaseModel):
    delay: Delay


@pytest.mark.parametrize("spec", DISTRIBUTIONS, ids=[d["kind"] for d in DISTRIBUTIONS])
def test_distributions_draw_exactly_what_the_simulator_draws(tmp_path: Path, spec: dict[str, Any]) -> None:
    flow = "{" + ", ".join(f"{k}: {v!r}".replace("'", "") for k, v in spec.items()) + "}"
    at = scenario_of(tmp_path, edit("at: 0ms", f"at: {flow}")).steps[0].at
    assert isinstance(at, Distribution)
    theirs = _Holder(delay=spec).delay
    ours_rng, their_rng = random.Random(5), random.Random(5)
    assert [at.draw_ms(ours_rng) for _ in range(200)] == [theirs.draw_ms(their_rng) for _ in range(200)]


@pytest.mark.parametrize(
    "flow", ["{kind: pareto, scale_ms: 20, alpha: 0.001}", "{kind: exponential, mean_ms: 3000000}"]
)
def test_an_uncapped_tail_is_held_to_an_hour(tmp_path: Path, flow: str) -> None:
    specs = expand(scenario_of(tmp_path, edit("at: 0ms", f"at: {flow}")), seed=1, runs=50, integrations=["naive"])
    drawn = [s.steps[0].at_ms for s in specs]
    assert max(drawn) == 3_600_000.0
    assert all(0.0 <= ms <= 3_600_000.0 for ms in drawn)


def test_a_distribution_describes_itself_for_the_cell(tmp_path: Path) -> None:
    def described(flow: str) -> str:
        at = scenario_of(tmp_path, edit("at: 0ms", f"at: {flow}")).steps[0].at
        assert isinstance(at, Distribution)
        return describe_distribution(at)

    assert described("{kind: normal, mean_ms: 100, sd_ms: 20}") == "normal(mean_ms=100, sd_ms=20, min_ms=0)"
    assert described("{kind: fixed, ms: 1.5s}") == "fixed(ms=1500)"
    assert described("{kind: empirical, values_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}") == (
        "empirical(values_ms=[1, 2, 3, 4, ..., 9, 10] n=10)"
    )


# ---------------------------------------------------------------------------------------------------- discovery


def test_find_scenarios_walks_directories_and_skips_what_is_not_a_scenario(tmp_path: Path) -> None:
    for rel in [
        "b.yaml",
        "a.yml",
        "c.py",
        "notes.md",
        "_draft.yaml",
        "deep/nested/d.yaml",
        "profiles/default.yaml",
        "load/locustfile.py",
        "examples/e.yaml",
        "_private/f.yaml",
        "deep/profiles/g.yaml",
        ".hidden/h.yaml",
        "__pycache__/c.py",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    found = find_scenarios([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.yml", "b.yaml", "c.py", "deep/nested/d.yaml"]
    # a file named explicitly is taken as given; one reached twice is listed once
    explicit = find_scenarios([tmp_path / "examples" / "e.yaml", tmp_path / "b.yaml", tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in explicit] == [
        "examples/e.yaml",
        "b.yaml",
        "a.yml",
        "c.py",
        "deep/nested/d.yaml",
    ]
    with pytest.raises(InvalidScenario, match="no such file or directory"):
        find_scenarios([tmp_path / "missing"])


def test_actions_and_checkers_are_the_designs() -> None:
    assert ACTIONS == ("invoice", "change", "change-v1", "cancel", "register-invoice", "update-invoice")
    assert len(set(CHECKER_NAMES)) == 7


def test_a_misspelt_step_field_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(
        "name: typo\n"
        "order: {items: [{id: a, price: 100, quantity: 1}]}\n"
        "steps:\n"
        "  - {at: 0ms, do: invoice}\n"
        "  - {at: 10ms, do: change, remvoe: [{id: a, quantity: 1}]}\n"
    )
    with pytest.raises(InvalidScenario) as caught:
        load_scenario(path)
    assert caught.value.line == 5
    assert "`do: change` takes no field remvoe (did you mean remove?)" in str(caught.value)


def test_a_scenario_shapes_the_order_document_and_its_items(tmp_path: Path) -> None:
    text = (
        "name: shaped\nprofile: instant\n"
        "order:\n"
        "  items: [{id: sku-1, price: 4990, quantity: 2, refId: REF-1, weight: 1.5, document: {isGift: true}}]\n"
        "  document: {clientProfileData: {email: qa@example.com}}\n"
        "integrations: [naive]\nsteps: [{at: 0ms, do: invoice}]\nexpect: [no-over-invoice]\n"
    )
    order = load_scenario(write(tmp_path, text)).order
    assert order["document"] == {"clientProfileData": {"email": "qa@example.com"}}
    assert order["items"] == [
        {"id": "sku-1", "price": 4990, "quantity": 2, "refId": "REF-1", "weight": 1.5, "document": {"isGift": True}}
    ]


def test_a_change_v1_step_that_changes_nothing_is_refused(tmp_path: Path) -> None:
    text = (
        "name: nothing\nprofile: instant\norder:\n  items: [{id: sku-1, price: 4990, quantity: 2}]\n"
        "integrations: [naive]\nsteps: [{at: 0ms, do: invoice}, {at: 10ms, do: change-v1, reason: r}]\n"
        "expect: [no-over-invoice]\n"
    )
    with pytest.raises(InvalidScenario, match="changes nothing"):
        load_scenario(write(tmp_path, text))
