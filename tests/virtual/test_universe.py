"""A universe is reused run after run (`harness.virtual.Universe`); each run must get exactly what a new universe
would give it, whatever ran before it in the same one.

Every scenario of `scenarios/` is covered (faults with connection resets, hooks, Accounting), so each kind of work a
run can leave behind is met: runs are compared, field for field, with the same runs made each in a new universe.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.drive.runner import RunnerOptions, RunOutcome, StepHandler
from harness.model.codec import run_to_json
from harness.model.records import RunSpec, Verdict
from harness.scenarios import expand, find_scenarios, load_scenario
from harness.virtual.universe import Universe, run_virtual, run_virtual_specs, virtual_config
from tests.support.cli import ROOT


def _specs_by_scenario(per_scenario: int) -> list[tuple[dict[str, Any], list[RunSpec], Mapping[str, StepHandler]]]:
    groups = []
    for path in find_scenarios([ROOT / "scenarios"]):
        scenario = load_scenario(path)
        specs = expand(scenario, seed=1, runs=1)
        # Spread over the sweep and the integrations: the first, the last, and some between.
        step = max(1, len(specs) // per_scenario)
        chosen = [*specs[::step][:per_scenario], specs[-1]]
        groups.append((virtual_config(scenario.profile, scenario.simulator, 1), chosen, scenario.handlers))
    return groups


@pytest.mark.slow
def test_each_run_in_a_reused_universe_is_what_a_new_universe_gives_it() -> None:
    groups = _specs_by_scenario(per_scenario=4)
    assert len(groups) >= 8  # every scenario of the suite
    for config, specs, handlers in groups:
        alone = [_json(run_virtual(s, config, handlers=handlers)) for s in specs]
        with Universe(config, handlers=handlers) as universe:
            forward = [_json(universe.run(s)) for s in specs]
            backward = [_json(universe.run(s)) for s in reversed(specs)][::-1]
            again = [_json(universe.run(s)) for s in specs]
        assert forward == alone, specs[0].scenario
        assert backward == alone, specs[0].scenario
        assert again == alone, specs[0].scenario


def _json(outcome: RunOutcome) -> dict[str, Any]:
    return run_to_json(outcome.record, outcome.results)


def test_a_run_that_leaves_work_behind_makes_the_next_run_start_in_a_new_universe() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "over-invoice.yaml")
    config = virtual_config(scenario.profile, scenario.simulator, 1)
    (spec, *_) = [s for s in expand(scenario, seed=1, runs=1) if s.integration == "naive"]
    # Judged before its order has settled: the Change is still queued when the run ends, its timers pending.
    impatient = RunnerOptions(settle_timeout_s=0.001)
    with Universe(config, options=impatient) as universe:
        first = universe.run(spec)
        assert first.verdict is Verdict.UNKNOWN
        assert universe.worlds == 1
        second = universe.run(spec)
        assert universe.worlds == 2, "a run that left timers behind must not hand them to the next run"
    assert _json(second) == _json(first)
    with Universe(config) as universe:
        for _ in range(3):
            assert universe.run(spec).verdict is not Verdict.UNKNOWN
        assert universe.worlds == 1, "runs that leave nothing behind share one universe"


def test_a_universe_starts_each_run_with_the_clock_at_zero_and_the_journal_numbered_from_one() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "stuck-order.yaml")
    config = virtual_config(scenario.profile, scenario.simulator, 1)
    spec = expand(scenario, seed=1, runs=1)[0]
    with Universe(config) as universe:
        runs = [universe.run(spec) for _ in range(2)]
    for outcome in runs:
        assert outcome.record.origin_s == pytest.approx(0.05)  # the pacer's first slot after the clock's 0
        assert outcome.record.journal[0]["seq"] == 1
        assert outcome.record.journal[0]["t"] == 0.0


def test_a_universe_refuses_a_bad_configuration() -> None:
    with pytest.raises(ValueError, match="consistency"):
        Universe({"consistency": "eventually"})


SCRIPT = """\
from typing import Any

from harness.integrations import Control, api

SCENARIO = {
    "name": "peek-then-cancel",
    "order": {"items": [{"id": "sku-1", "price": 1000, "quantity": 2}]},
    "integrations": ["naive"],
    "steps": [
        {"at": 0, "do": "invoice"},
        {"at": {"from": 50, "to": 450, "step": 200}, "do": "peek_then_cancel"},
    ],
    "runs": 1,
}


def step_peek_then_cancel(run: Any, step: Any) -> Any:
    # A control request the universe does not answer in process goes over HTTP (through its pipes).
    inspected = yield Control("peek", "GET", f"/_sim/orders/{run.order_id}")
    assert inspected.status == 200, inspected.body
    if inspected.body["order"]["status"] != "invoiced":
        yield api.cancel_order(run.order_id, "peeked")
"""


def test_python_scenario_handlers_run_in_a_reused_universe(tmp_path: Path) -> None:
    path = tmp_path / "peek.py"
    path.write_text(SCRIPT)
    scenario = load_scenario(path)
    config = virtual_config(scenario.profile, scenario.simulator, 1)
    specs = expand(scenario, seed=1)
    assert len(specs) == 3
    alone = [_json(run_virtual(s, config, handlers=scenario.handlers)) for s in specs]
    with Universe(config, handlers=scenario.handlers) as universe:
        assert [_json(universe.run(s)) for s in specs] == alone
    assert all(run["error"] is None for run in alone), [run["error"] for run in alone]
    assert {op["f"] for run in alone for op in run["history"]} >= {"invoice", "cancel"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_sweep_leaves_the_collector_as_it_found_it(jobs: int) -> None:
    # The sweep freezes the heap for its workers' sake (`run_virtual_specs`); afterwards, what it froze is collectable
    # again, and the runs came back whole.
    import asyncio
    import gc

    scenario = load_scenario(ROOT / "scenarios" / "over-invoice.yaml")
    specs = expand(scenario, seed=1, runs=1)[:4]
    config = virtual_config(scenario.profile, scenario.simulator, 1)
    assert gc.get_freeze_count() == 0
    outcomes = asyncio.run(run_virtual_specs(specs, config, scenario_path=scenario.path, jobs=jobs))
    assert [o.record.spec.run_id for o in outcomes] == [s.run_id for s in specs]
    assert gc.get_freeze_count() == 0
