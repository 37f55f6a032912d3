"""Scenario files (`harness.scenarios`) that are right: what a valid file loads into (plain records, defaults,
durations, gates, profiles, integration names), discovery of scenario files, and the repository's own
`scenarios/`, which must load.

Files are written into `tmp_path`, mostly as edits of tests/support/scenario_files.py's BASE.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidScenario
from harness.integrations.bodies import change_v1_body
from harness.integrations.external import ExternalService
from harness.integrations.registry import load_integration
from harness.scenarios import ACTIONS, CHECKER_NAMES, Gate, Scenario, Sweep, expand, find_scenarios, load_scenario
from tests.support.scenario_files import edit, scenario_of, write

ROOT = Path(__file__).resolve().parents[2]

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
