"""Scenario files (`harness.scenarios`) that are wrong: every mistake is reported with its file, line and field
and says what was expected; files that cannot be read; `InvalidScenario` itself.

Files are edits of tests/support/scenario_files.py's BASE, written into `tmp_path`; the tables cite its lines.
Python scripts' mistakes are in test_scenario_scripts.py.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from harness.errors import HarnessConnectionError, HarnessError, InvalidScenario
from harness.scenarios import CHECKER_NAMES, load_scenario
from tests.support.scenario_files import BASE, edit, invalid, write

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


def test_a_change_v1_step_that_changes_nothing_is_refused(tmp_path: Path) -> None:
    text = (
        "name: nothing\nprofile: instant\norder:\n  items: [{id: sku-1, price: 4990, quantity: 2}]\n"
        "integrations: [naive]\nsteps: [{at: 0ms, do: invoice}, {at: 10ms, do: change-v1, reason: r}]\n"
        "expect: [no-over-invoice]\n"
    )
    with pytest.raises(InvalidScenario, match="changes nothing"):
        load_scenario(write(tmp_path, text))
